/* location_test.c: the operator location table for aclr (src/cse/location.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cse/location.h"

static const struct acp_host host = {"//sp.example", "/id-in"};

static m2m_rc parse(const char *s, struct location_table **t)
{
    char err[256];
    return location_parse((const uint8_t *)s, strlen(s), &host, t, err, sizeof err);
}

static void test_valid(void **state)
{
    struct location_table *t;
    assert_int_equal(parse("# c\nCae1 48.137 11.575 DE\n\n  /id-mn -33.9 151.2\r\n"
                           "//other.sp/id-x/Cq 0 0 FR",
                           &t),
                     M2M_OK);
    double lat, lon;
    char cc[3];
    assert_true(location_lookup(t, "//sp.example/id-in/Cae1", &lat, &lon, cc));
    assert_true(lat > 48.1 && lat < 48.2 && lon > 11.5 && lon < 11.6);
    assert_string_equal(cc, "DE");
    assert_true(location_lookup(t, "//sp.example/id-mn", &lat, &lon, cc));
    assert_string_equal(cc, "");
    assert_true(location_lookup(t, "//other.sp/id-x/Cq", &lat, &lon, cc));
    assert_false(location_lookup(t, "//sp.example/id-in/Cae2", &lat, &lon, cc));
    assert_false(location_lookup(t, "Cae1", &lat, &lon, cc)); /* lookups are absolute */
    location_free(t);
    assert_false(location_lookup(NULL, "x", &lat, &lon, cc));
    location_free(NULL);
}

static void test_malformed(void **state)
{
    static const char *bad[] = {
        "Cae1 91 0\n",         /* latitude range */
        "Cae1 -90.5 0\n",      /* latitude range */
        "Cae1 0 180.01\n",     /* longitude range */
        "Cae1 1\n",            /* missing longitude */
        "Cae1 1 2 de\n",       /* lower-case country */
        "Cae1 1 2 DEU\n",      /* three letters */
        "Cae1 1 2 DE extra\n", /* trailing field */
        "Cae1 nan 2\n",        /* not finite */
        "Cae1 1e400 2\n",      /* overflow */
        "Cae1 1x 2\n",         /* junk */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct location_table *t = NULL;
        assert_int_equal(parse(bad[i], &t), M2M_ERR_MALFORMED);
        assert_null(t);
    }
    char nul[] = "Cae1 1 2\0 DE\n";
    struct location_table *t = NULL;
    char err[128];
    assert_int_not_equal(
        location_parse((const uint8_t *)nul, sizeof nul - 1, &host, &t, err, sizeof err), M2M_OK);
    char longline[700];
    memset(longline, 'C', sizeof longline - 1);
    longline[sizeof longline - 1] = 0;
    assert_int_equal(parse(longline, &t), M2M_ERR_LIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_valid),
                                       cmocka_unit_test(test_malformed)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
