/* keyfile_test.c: the hex pre-shared key parser and key file reader (src/keys/keyfile.c): both
 * rules, every refusal (length, odd digits, non-hex, inner space, NUL, bad rule), wipe on
 * failure, no read past the input, file size limit and unreadable files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys/keyfile.h"

static char g_dir[64];

static int setup(void **state)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/m2m_keyfile_XXXXXX");
    return mkdtemp(g_dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Parses exactly len bytes from a heap copy of that size (ASan sees any read past the end). */
static m2m_rc parse(const char *text, size_t len, const struct keyfile_rule *rule, uint8_t *key,
                    size_t *keylen)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    memset(key, 0xaa, KEYFILE_KEY_MAX);
    m2m_rc rc = keyfile_parse(len ? copy : NULL, len, rule, key, KEYFILE_KEY_MAX, keylen);
    free(copy);
    return rc;
}

static void assert_wiped(const uint8_t *key)
{
    for (size_t i = 0; i < KEYFILE_KEY_MAX; i++)
        assert_int_equal(key[i], 0);
}

static void test_cred_rule(void **state)
{
    static const char k16[] = "00112233445566778899aAbBcCdDeEfF";
    uint8_t key[KEYFILE_KEY_MAX];
    size_t n = 99;
    char buf[160];
    assert_int_equal(parse(k16, 32, &KEYFILE_RULE_CRED, key, &n), M2M_OK);
    assert_int_equal(n, 16);
    assert_int_equal(key[0], 0x00);
    assert_int_equal(key[10], 0xaa);
    assert_int_equal(key[15], 0xff);
    memset(buf, 'f', 128);
    assert_int_equal(parse(buf, 128, &KEYFILE_RULE_CRED, key, &n), M2M_OK);
    assert_int_equal(n, 64);
    /* the refusals: 15 and 65 bytes, odd, empty, white space anywhere, non-hex, NUL */
    const struct {
        const char *text;
        size_t len;
    } bad[] = {
        {k16, 30},
        {buf, 130},
        {k16, 31},
        {"", 0},
        {" 00112233445566778899aabbccddeeff", 33},
        {"00112233445566778899aabbccddeeff\n", 33},
        {"0011223344556677 8899aabbccddeef", 32},
        {"00112233445566778899aabbccddeefg", 32},
        {"0x112233445566778899aabbccddeeff", 32},
        {"00112233445566778899aabbccdd\0eff", 32},
    };
    memset(buf, 'f', 130);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = 99;
        assert_int_equal(parse(bad[i].text, bad[i].len, &KEYFILE_RULE_CRED, key, &n),
                         M2M_ERR_MALFORMED);
        assert_int_equal(n, 0);
        assert_wiped(key);
    }
}

static void test_client_rule(void **state)
{
    uint8_t key[KEYFILE_KEY_MAX];
    size_t n = 0;
    char buf[200];
    assert_int_equal(parse("ab", 2, &KEYFILE_RULE_CLIENT, key, &n), M2M_OK);
    assert_int_equal(n, 1);
    assert_int_equal(key[0], 0xab);
    assert_int_equal(parse(" \t\v\f\r\n0A0b\r\n\n", 13, &KEYFILE_RULE_CLIENT, key, &n), M2M_OK);
    assert_int_equal(n, 2);
    assert_int_equal(key[0], 0x0a);
    assert_int_equal(key[1], 0x0b);
    memset(buf, '1', 128);
    memcpy(buf + 128, "\n", 1);
    assert_int_equal(parse(buf, 129, &KEYFILE_RULE_CLIENT, key, &n), M2M_OK);
    assert_int_equal(n, 64);
    const struct {
        const char *text;
        size_t len;
    } bad[] = {
        {"", 0},
        {" \n\t", 3},
        {"0a 0b", 5},
        {"a", 1},
        {"0a0", 3},
        {"0g", 2},
        {"ab\0", 3},
        {"ab\0cd", 5},
        {"\0ab", 3},
        {"ab\xa0", 3},
        {"\xc2\xa0"
         "ab",
         4},
        {"+0ab", 4},
        {"ab\x1c", 3},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = 99;
        assert_int_equal(parse(bad[i].text, bad[i].len, &KEYFILE_RULE_CLIENT, key, &n),
                         M2M_ERR_MALFORMED);
        assert_int_equal(n, 0);
        assert_wiped(key);
    }
    memset(buf, '1', 130);
    assert_int_equal(parse(buf, 130, &KEYFILE_RULE_CLIENT, key, &n), M2M_ERR_MALFORMED);
}

static void test_bad_rule(void **state)
{
    uint8_t key[KEYFILE_KEY_MAX];
    size_t n = 99;
    const struct keyfile_rule zero = {0, 16, false}, inverted = {17, 16, false},
                              huge = {1, 65, false};
    const uint8_t in[] = "abab";
    assert_int_equal(keyfile_parse(in, 4, &zero, key, sizeof key, &n), M2M_ERR_INTERNAL);
    assert_int_equal(keyfile_parse(in, 4, &inverted, key, sizeof key, &n), M2M_ERR_INTERNAL);
    assert_int_equal(keyfile_parse(in, 4, &huge, key, sizeof key, &n), M2M_ERR_INTERNAL);
    assert_int_equal(keyfile_parse(in, 4, NULL, key, sizeof key, &n), M2M_ERR_INTERNAL);
    assert_int_equal(keyfile_parse(in, 4, &KEYFILE_RULE_CLIENT, key, 63, &n), M2M_ERR_INTERNAL);
    assert_int_equal(keyfile_parse(in, 4, &KEYFILE_RULE_CLIENT, NULL, 64, &n), M2M_ERR_INTERNAL);
    assert_int_equal(keyfile_parse(NULL, 4, &KEYFILE_RULE_CLIENT, key, 64, &n), M2M_ERR_MALFORMED);
    assert_int_equal(n, 0);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_read(void **state)
{
    char path[128], big[KEYFILE_FILE_MAX + 2];
    uint8_t key[KEYFILE_KEY_MAX];
    size_t n = 0;
    snprintf(path, sizeof path, "%s/psk", g_dir);
    write_file(path, "00112233445566778899aabbccddeeff\n", 33);
    assert_int_equal(keyfile_read(path, &KEYFILE_RULE_CLIENT, key, sizeof key, &n), M2M_OK);
    assert_int_equal(n, 16);
    assert_int_equal(key[15], 0xff);
    /* the cred rule refuses the trailing newline, and wipes */
    assert_int_equal(keyfile_read(path, &KEYFILE_RULE_CRED, key, sizeof key, &n),
                     M2M_ERR_MALFORMED);
    assert_int_equal(n, 0);
    assert_wiped(key);
    /* KEYFILE_FILE_MAX bytes are read; one more is too long */
    memset(big, ' ', sizeof big);
    memcpy(big, "abcd", 4);
    write_file(path, big, KEYFILE_FILE_MAX);
    assert_int_equal(keyfile_read(path, &KEYFILE_RULE_CLIENT, key, sizeof key, &n), M2M_OK);
    assert_int_equal(n, 2);
    write_file(path, big, KEYFILE_FILE_MAX + 1);
    assert_int_equal(keyfile_read(path, &KEYFILE_RULE_CLIENT, key, sizeof key, &n), M2M_ERR_LIMIT);
    assert_wiped(key);
    write_file(path, "", 0);
    assert_int_equal(keyfile_read(path, &KEYFILE_RULE_CLIENT, key, sizeof key, &n),
                     M2M_ERR_MALFORMED);
    write_file(path, "abcd\0ef\n", 8); /* the old reader stopped at the NUL: now refused */
    assert_int_equal(keyfile_read(path, &KEYFILE_RULE_CLIENT, key, sizeof key, &n),
                     M2M_ERR_MALFORMED);
    snprintf(path, sizeof path, "%s/missing", g_dir);
    assert_int_equal(keyfile_read(path, &KEYFILE_RULE_CLIENT, key, sizeof key, &n), M2M_ERR_IO);
    assert_int_equal(keyfile_read(g_dir, &KEYFILE_RULE_CLIENT, key, sizeof key, &n), M2M_ERR_IO);
    assert_int_equal(keyfile_read(NULL, &KEYFILE_RULE_CLIENT, key, sizeof key, &n), M2M_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cred_rule),
        cmocka_unit_test(test_client_rule),
        cmocka_unit_test(test_bad_rule),
        cmocka_unit_test(test_read),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
