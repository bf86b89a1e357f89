/* base_time_test.c: oneM2M timestamps (TS-0004 6.3.3): parsing every valid and malformed form,
 * calendar rules, format -> parse round trips, and the clocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/timeutil.h"

#define S 1000000LL

/* Parses a copy of exactly strlen(s) bytes (no NUL after it) so ASan sees any overread. */
static bool parse(const char *s, int64_t *t)
{
    size_t n = strlen(s);
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, s, n);
    *t = -7;
    bool ok = m2m_ts_parse(copy, n, t);
    free(copy);
    return ok;
}

static int64_t must_parse(const char *s)
{
    int64_t t;
    print_message("valid: %s\n", s);
    assert_true(parse(s, &t));
    return t;
}

static void test_known_values(void **state)
{
    assert_int_equal(must_parse("20000101T000000"), 946684800 * S);
    assert_int_equal(must_parse("19700101T000000"), 0);
    assert_int_equal(must_parse("19700101T000001"), S);
    assert_int_equal(must_parse("20380119T031408"), 2147483648LL * S); /* past 32-bit time_t */
    assert_int_equal(must_parse("99991231T235959"), 253402300799LL * S);
    assert_int_equal(must_parse("20240229T120000"), 1709208000LL * S);
}

static void test_fraction_and_z(void **state)
{
    int64_t base = 946684800 * S;
    assert_int_equal(must_parse("20000101T000000,123456"), base + 123456);
    assert_int_equal(must_parse("20000101T000000,1"), base + 100000);
    assert_int_equal(must_parse("20000101T000000,000001"), base + 1);
    assert_int_equal(must_parse("20000101T000000,000000"), base);
    assert_int_equal(must_parse("20000101T000000,999999"), base + 999999);
    assert_int_equal(must_parse("20000101T000000,05"), base + 50000);
    assert_int_equal(must_parse("20000101T000000Z"), base);
    assert_int_equal(must_parse("20000101T000000,5Z"), base + 500000);
    assert_int_equal(must_parse("20000101T000000,123456Z"), base + 123456);
    /* ISO 8601 also allows the full stop as decimal sign; accepted */
    assert_int_equal(must_parse("20000101T000000.25"), base + 250000);
}

static void test_length_is_honoured(void **state)
{
    int64_t t = 0;
    assert_true(m2m_ts_parse("20000101T000000XYZ", 15, &t));
    assert_int_equal(t, 946684800 * S);
    assert_true(m2m_ts_parse("20000101T000000,12345678", 22, &t));
    assert_int_equal(t, 946684800 * S + 123456);
    assert_false(m2m_ts_parse("20000101T000000", 14, &t));
    assert_false(m2m_ts_parse("20000101T000000,1", 16, &t)); /* a comma and no digit */
    assert_false(m2m_ts_parse("", 0, &t));
}

static void test_calendar(void **state)
{
    int64_t t;
    must_parse("20000229T000000"); /* divisible by 400: leap */
    must_parse("20240229T235959");
    must_parse("19720229T000000");
    must_parse("20231231T235959");
    must_parse("20230131T000000");
    must_parse("20230430T000000");
    static const char *const bad[] = {
        "21000229T000000", /* divisible by 100, not 400 */
        "20230229T000000", "20240230T000000", "20230431T000000", "20230631T000000",
        "20230931T000000", "20231131T000000", "20230132T000000", "20230100T000000",
        "20230001T000000", "20231301T000000", "20239901T000000", "19691231T235959",
        "00000101T000000", "20230101T240000", "20230101T006000", "20230101T000061",
        "20230101T990000",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        print_message("invalid date: %s\n", bad[i]);
        assert_false(parse(bad[i], &t));
    }
    /* [INTERP] second 60 (a leap second) is accepted and lands on the next minute */
    assert_int_equal(must_parse("20161231T235960"), must_parse("20170101T000000"));
}

static void test_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "2",
        "20000101",
        "20000101T",
        "20000101T00000",  /* one digit short */
        "20000101 000000", /* no T */
        "20000101t000000", /* lower-case t */
        "2000010T1000000", /* T misplaced */
        "2000-01-01T00:00:00",
        "20000101T00:00:00",
        "2000-0101T000000",
        "x0000101T000000",
        "2x000101T000000",
        "200x0101T000000",
        "2000x101T000000",
        "20000x01T000000",
        "200001x1T000000",
        "2000010xT000000",
        "20000101Tx00000",
        "20000101T0x0000",
        "20000101T00x000",
        "20000101T000x00",
        "20000101T0000x0",
        "20000101T00000x",
        "+0000101T000000",
        "-2000101T000000",
        " 20000101T000000",
        "20000101T000000 ",
        "20000101T000000,",
        "20000101T000000.",
        "20000101T000000,Z",
        "20000101T000000,1234567", /* TS-0004 6.3.3: at most six digits */
        "20000101T000000,12345678901234567890",
        "20000101T000000,12a",
        "20000101T000000,-1",
        "20000101T000000,+1",
        "20000101T000000,1,2",
        "20000101T000000ZZ",
        "20000101T000000Z1",
        "20000101T000000z",
        "20000101T000000+0100",
        "20000101T000000+01:00",
        "20000101T000000,1+01",
        "20000101T000000Z,1",
        "20000101T0000000",
        "200001010T000000",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t;
        print_message("malformed: '%s'\n", bad[i]);
        assert_false(parse(bad[i], &t));
    }
    /* NUL inside the given length */
    int64_t t;
    assert_false(m2m_ts_parse("20000101T000000\0", 16, &t));
    assert_false(m2m_ts_parse("2000\0101T000000", 15, &t));
}

/* Every day from 1970 to 2100 agrees with timegm, at a time of day that varies. */
static void test_against_timegm(void **state)
{
    for (int64_t day = 0; day < 47482; day++) {
        time_t sec = (time_t)(day * 86400 + (day * 7919) % 86400);
        struct tm tm;
        assert_non_null(gmtime_r(&sec, &tm));
        char s[32];
        snprintf(s, sizeof s, "%04d%02d%02dT%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        int64_t t;
        assert_true(parse(s, &t));
        assert_int_equal(t, (int64_t)sec * S);
    }
}

static void test_format(void **state)
{
    char out[24];
    m2m_ts_format(946684800 * S + 123456, out);
    assert_string_equal(out, "20000101T000000,123456");
    m2m_ts_format(0, out);
    assert_string_equal(out, "19700101T000000,000000");
    m2m_ts_format(253402300799LL * S + 999999, out);
    assert_string_equal(out, "99991231T235959,999999");
    m2m_ts_format(-1, out); /* before the epoch: formats, but does not parse back */
    assert_string_equal(out, "19691231T235959,999999");
    int64_t t;
    assert_false(m2m_ts_parse(out, strlen(out), &t));
}

static void test_round_trip(void **state)
{
    uint64_t x = 88172645463325252ULL;      /* xorshift64 */
    const int64_t max = 253402300800LL * S; /* 10000-01-01 */
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t t = (int64_t)(x % (uint64_t)max);
        if (i < 3)
            t = i == 0 ? 0 : i == 1 ? max - 1 : 951782400LL * S; /* 2000-02-29 */
        char out[24];
        m2m_ts_format(t, out);
        assert_int_equal(strlen(out), 22);
        int64_t back;
        assert_true(m2m_ts_parse(out, strlen(out), &back));
        assert_int_equal(back, t);
    }
}

static void test_clocks(void **state)
{
    int64_t now = m2m_now_us();
    assert_true(now > 1700000000LL * S); /* after 2023 */
    assert_true(now < 4102444800LL * S); /* before 2100 */
    char out[24];
    m2m_ts_format(now, out);
    int64_t back;
    assert_true(m2m_ts_parse(out, strlen(out), &back));
    assert_int_equal(back, now);
    int64_t a = m2m_mono_ms(), b = m2m_mono_ms();
    assert_true(a >= 0);
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_fraction_and_z),
        cmocka_unit_test(test_length_is_honoured),
        cmocka_unit_test(test_calendar),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_against_timegm),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
