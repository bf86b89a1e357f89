/* base_buf_test.c: the bounded growable buffer: limit at the edge, growth, consume, steal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

static void test_append_basics(void **state)
{
    struct m2m_buf b = M2M_BUF_INIT;
    assert_int_equal(m2m_buf_append(&b, "abc", 3), M2M_OK);
    assert_int_equal(m2m_buf_append_str(&b, "de"), M2M_OK);
    assert_int_equal(m2m_buf_append(&b, NULL, 0), M2M_OK);
    assert_int_equal(m2m_buf_append_str(&b, ""), M2M_OK);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "abcde", 6); /* kept NUL-terminated */
    assert_true(b.cap >= 6);
    /* binary data, NUL bytes included */
    assert_int_equal(m2m_buf_append(&b, "\0\xff", 2), M2M_OK);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data + 5, "\0\xff\0", 3);
    m2m_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(m2m_buf_append_str(&b, "x"), M2M_OK);
    assert_string_equal((char *)b.data, "x");
    m2m_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    m2m_buf_free(&b); /* twice is fine */
    struct m2m_buf empty = M2M_BUF_INIT;
    m2m_buf_free(&empty);
}

static void test_growth(void **state)
{
    struct m2m_buf b = M2M_BUF_INIT;
    char chunk[100];
    for (int i = 0; i < 1000; i++) {
        memset(chunk, 'a' + i % 26, sizeof chunk);
        assert_int_equal(m2m_buf_append(&b, chunk, sizeof chunk), M2M_OK);
        assert_true(b.cap > b.len);
    }
    assert_int_equal(b.len, 100000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(b.data[i * 100 + 99], 'a' + i % 26);
    assert_int_equal(b.data[b.len], 0);
    m2m_buf_free(&b);
}

static void test_limit_edge(void **state)
{
    struct m2m_buf b = M2M_BUF_INIT;
    b.limit = 10;
    assert_int_equal(m2m_buf_append(&b, "0123456789", 10), M2M_OK); /* exactly the limit */
    assert_int_equal(m2m_buf_append(&b, "x", 1), M2M_ERR_LIMIT);
    assert_int_equal(m2m_buf_append(&b, "", 0), M2M_OK);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "0123456789", 11);
    assert_int_equal(m2m_buf_reserve(&b, 0), M2M_OK);
    assert_int_equal(m2m_buf_reserve(&b, 1), M2M_ERR_LIMIT);
    m2m_buf_consume(&b, 1);
    assert_int_equal(m2m_buf_append(&b, "x", 1), M2M_OK);
    assert_int_equal(m2m_buf_append(&b, "y", 1), M2M_ERR_LIMIT);
    assert_memory_equal(b.data, "123456789x", 10);
    m2m_buf_free(&b);
    assert_int_equal(b.limit, 10); /* free keeps the limit for reuse */

    /* one over the limit in a single append fails without side effects */
    assert_int_equal(m2m_buf_append(&b, "01234567890", 11), M2M_ERR_LIMIT);
    assert_int_equal(b.len, 0);
    assert_int_equal(m2m_buf_reserve(&b, 11), M2M_ERR_LIMIT);
    assert_int_equal(m2m_buf_reserve(&b, 10), M2M_OK);
    m2m_buf_free(&b);
}

static void test_limit_overflow(void **state)
{
    struct m2m_buf b = M2M_BUF_INIT;
    /* no limit: still bounded at SIZE_MAX / 2, and len + more cannot wrap */
    assert_int_equal(m2m_buf_reserve(&b, SIZE_MAX), M2M_ERR_LIMIT);
    assert_int_equal(m2m_buf_reserve(&b, SIZE_MAX / 2 + 1), M2M_ERR_LIMIT);
    assert_int_equal(m2m_buf_append_str(&b, "abc"), M2M_OK);
    assert_int_equal(m2m_buf_reserve(&b, SIZE_MAX / 2 - 2), M2M_ERR_LIMIT);
    assert_int_equal(m2m_buf_reserve(&b, SIZE_MAX - 1), M2M_ERR_LIMIT);
    b.limit = 5;
    assert_int_equal(m2m_buf_reserve(&b, SIZE_MAX), M2M_ERR_LIMIT);
    assert_int_equal(m2m_buf_reserve(&b, SIZE_MAX - 2), M2M_ERR_LIMIT);
    assert_int_equal(b.len, 3);
    m2m_buf_free(&b);
}

static void test_appendf(void **state)
{
    struct m2m_buf b = M2M_BUF_INIT;
    assert_int_equal(m2m_buf_appendf(&b, "%s=%d;", "a", 1), M2M_OK);
    assert_int_equal(m2m_buf_appendf(&b, "%s", ""), M2M_OK);
    assert_string_equal((char *)b.data, "a=1;");
    /* growth across the initial capacity and several doublings */
    char big[3000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(m2m_buf_appendf(&b, "[%s]", big), M2M_OK);
    assert_int_equal(b.len, 4 + 2 + 2999);
    assert_int_equal(b.data[4], '[');
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(b.data[b.len], 0);
    for (int i = 0; i < 500; i++)
        assert_int_equal(m2m_buf_appendf(&b, "%05d", i), M2M_OK);
    assert_int_equal(b.len, 3005 + 2500);
    assert_memory_equal(b.data + b.len - 5, "00499", 5);
    m2m_buf_free(&b);
}

static void test_appendf_limit(void **state)
{
    struct m2m_buf b = M2M_BUF_INIT;
    b.limit = 8;
    assert_int_equal(m2m_buf_appendf(&b, "%d", 1234), M2M_OK);
    assert_int_equal(m2m_buf_appendf(&b, "%d", 12345), M2M_ERR_LIMIT);
    assert_int_equal(b.len, 4);
    assert_string_equal((char *)b.data, "1234");
    assert_int_equal(m2m_buf_appendf(&b, "%s", "5678"), M2M_OK); /* exactly the limit */
    assert_string_equal((char *)b.data, "12345678");
    assert_int_equal(m2m_buf_appendf(&b, "%c", 'x'), M2M_ERR_LIMIT);
    assert_int_equal(m2m_buf_appendf(&b, "%s", ""), M2M_OK);
    assert_int_equal(b.len, 8);
    m2m_buf_free(&b);
}

static void test_consume(void **state)
{
    struct m2m_buf b = M2M_BUF_INIT;
    assert_int_equal(m2m_buf_append_str(&b, "hello world"), M2M_OK);
    m2m_buf_consume(&b, 0);
    assert_int_equal(b.len, 11);
    m2m_buf_consume(&b, 6);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "world", 5);
    assert_int_equal(m2m_buf_append_str(&b, "!"), M2M_OK);
    assert_string_equal((char *)b.data, "world!");
    m2m_buf_consume(&b, 6); /* all of it */
    assert_int_equal(b.len, 0);
    assert_int_equal(m2m_buf_append_str(&b, "ab"), M2M_OK);
    m2m_buf_consume(&b, 1000); /* past the end is all */
    assert_int_equal(b.len, 0);
    m2m_buf_free(&b);
    m2m_buf_consume(&b, 3); /* on an empty, unallocated buffer */
    assert_int_equal(b.len, 0);
}

/* m2m_buf_wipe zeroes the whole capacity, also bytes consumed earlier (secrets must not stay
 * in a buffer that is reused or freed). */
static void test_wipe(void **state)
{
    struct m2m_buf b = M2M_BUF_INIT;
    assert_int_equal(m2m_buf_append(&b, "secret-key-material", 19), M2M_OK);
    m2m_buf_consume(&b, 7);
    m2m_buf_wipe(&b);
    for (size_t i = 0; i < b.cap; i++)
        assert_int_equal(b.data[i], 0);
    assert_int_equal(b.len, 12); /* the length is the caller's business */
    m2m_buf_free(&b);
    m2m_buf_wipe(&b); /* an empty buffer: no-op */
}

static void test_steal(void **state)
{
    struct m2m_buf b = M2M_BUF_INIT;
    assert_int_equal(m2m_buf_append(&b, "abc", 3), M2M_OK);
    size_t n = 99;
    char *s = m2m_buf_steal(&b, &n);
    assert_non_null(s);
    assert_int_equal(n, 3);
    assert_string_equal(s, "abc");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    free(s);
    /* the buffer is reusable after */
    assert_int_equal(m2m_buf_append_str(&b, "de"), M2M_OK);
    s = m2m_buf_steal(&b, NULL);
    assert_string_equal(s, "de");
    free(s);
    /* stealing an empty buffer yields "" */
    s = m2m_buf_steal(&b, &n);
    assert_non_null(s);
    assert_int_equal(n, 0);
    assert_string_equal(s, "");
    free(s);
    /* after consume the string ends at the new length */
    assert_int_equal(m2m_buf_append_str(&b, "xyz123"), M2M_OK);
    m2m_buf_consume(&b, 3);
    s = m2m_buf_steal(&b, &n);
    assert_int_equal(n, 3);
    assert_string_equal(s, "123");
    free(s);
}

static void test_steal_at_limit(void **state)
{
    struct m2m_buf b = M2M_BUF_INIT;
    b.limit = 4;
    assert_int_equal(m2m_buf_append(&b, "wxyz", 4), M2M_OK);
    size_t n;
    char *s = m2m_buf_steal(&b, &n);
    assert_non_null(s);
    assert_int_equal(n, 4);
    assert_string_equal(s, "wxyz");
    free(s);
    assert_int_equal(b.limit, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_basics),  cmocka_unit_test(test_wipe),
        cmocka_unit_test(test_growth),         cmocka_unit_test(test_limit_edge),
        cmocka_unit_test(test_limit_overflow), cmocka_unit_test(test_appendf),
        cmocka_unit_test(test_appendf_limit),  cmocka_unit_test(test_consume),
        cmocka_unit_test(test_steal),          cmocka_unit_test(test_steal_at_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
