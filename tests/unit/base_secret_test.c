/* base_secret_test.c: secrets (copy, compare, wipe-on-free lifecycle) and constant-time equality.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/secret.h"

static void test_ct_eq(void **state)
{
    uint8_t a[64], b[64];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = b[i] = (uint8_t)(i * 37 + 1);
    assert_true(m2m_ct_eq(a, b, sizeof a));
    assert_true(m2m_ct_eq(a, b, 0));
    assert_true(m2m_ct_eq(NULL, NULL, 0));
    /* every single-bit difference at every position is seen */
    for (size_t i = 0; i < sizeof a; i++)
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            assert_false(m2m_ct_eq(a, b, sizeof a));
            assert_false(m2m_ct_eq(b, a, sizeof a));
            assert_true(m2m_ct_eq(a, b, i)); /* the prefix before it still matches */
            b[i] ^= (uint8_t)(1u << bit);
        }
    assert_true(m2m_ct_eq(a, b, sizeof a));
    assert_false(m2m_ct_eq("\x00", "\xff", 1));
}

static void test_secret_lifecycle(void **state)
{
    uint8_t key[16];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(0xA0 + i);
    struct m2m_secret *s = NULL;
    assert_int_equal(m2m_secret_new(key, sizeof key, &s), M2M_OK);
    assert_non_null(s);
    assert_int_equal(s->len, sizeof key);
    assert_ptr_not_equal(s->data, key); /* a copy */
    assert_memory_equal(s->data, key, sizeof key);
    assert_true(m2m_secret_eq(s, key, sizeof key));
    key[0] ^= 1; /* the caller's buffer no longer matters */
    assert_false(m2m_secret_eq(s, key, sizeof key));
    key[0] ^= 1;
    assert_true(m2m_secret_eq(s, key, sizeof key));
    key[15] ^= 0x80;
    assert_false(m2m_secret_eq(s, key, sizeof key));
    key[15] ^= 0x80;
    /* a different length never matches, prefix or not */
    assert_false(m2m_secret_eq(s, key, sizeof key - 1));
    assert_false(m2m_secret_eq(s, key, 0));
    uint8_t longer[17];
    memcpy(longer, key, 16);
    longer[16] = 0;
    assert_false(m2m_secret_eq(s, longer, sizeof longer));
    assert_false(m2m_secret_eq(s, NULL, sizeof key));
    assert_false(m2m_secret_eq(NULL, key, sizeof key));
    m2m_secret_free(s);
    m2m_secret_free(NULL);
}

static void test_secret_empty(void **state)
{
    struct m2m_secret *s = NULL;
    assert_int_equal(m2m_secret_new(NULL, 0, &s), M2M_OK);
    assert_non_null(s);
    assert_int_equal(s->len, 0);
    assert_non_null(s->data);
    assert_true(m2m_secret_eq(s, (const uint8_t *)"", 0));
    assert_false(m2m_secret_eq(s, (const uint8_t *)"x", 1));
    m2m_secret_free(s);
}

static void test_wipe(void **state)
{
    uint8_t buf[32];
    memset(buf, 0x5A, sizeof buf);
    m2m_wipe(buf + 8, 16);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], i >= 8 && i < 24 ? 0 : 0x5A);
    m2m_wipe(buf, 0);
    assert_int_equal(buf[0], 0x5A);
    m2m_wipe(NULL, 16);
    m2m_wipe(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ct_eq),
        cmocka_unit_test(test_secret_lifecycle),
        cmocka_unit_test(test_secret_empty),
        cmocka_unit_test(test_wipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
