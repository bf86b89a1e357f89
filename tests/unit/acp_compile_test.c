/* acp_compile_test.c: validation of m2m:setOfAcrs (SPEC-MAP A2, A8, A10): every malformed input
 * is rejected with a message naming the member; bounds give M2M_ERR_LIMIT; lenient interop
 * forms (TR-0051 examples) compile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acp/acp.h"
#include "enc/json.h"

static const struct acp_host HOST = {"//sp.example", "/id-in"};

static m2m_rc compile_rc(const char *acrs, char *err, size_t errlen, size_t *count)
{
    cJSON *j = NULL;
    struct acp_ruleset *rs = NULL;
    if (json_parse((const uint8_t *)acrs, strlen(acrs), 64, &j) != M2M_OK)
        fail_msg("test JSON does not parse: %s", acrs);
    m2m_rc rc = acp_ruleset_compile(j, &HOST, &rs, err, errlen);
    if (rc == M2M_OK && count)
        *count = acp_ruleset_count(rs);
    if (rc != M2M_OK)
        assert_null(rs);
    acp_ruleset_free(rs);
    cJSON_Delete(j);
    return rc;
}

#define R(x) "{\"acr\":[{\"acor\":[\"all\"],\"acop\":63," x "}]}"
#define CTX(x) R("\"acco\":[{" x "}]")
#define TW(x) CTX("\"actw\":[\"" x "\"]")
#define IP4(x) CTX("\"acip\":{\"ipv4\":[\"" x "\"]}")
#define IP6(x) CTX("\"acip\":{\"ipv6\":[\"" x "\"]}")

struct bad {
    const char *json;
    const char *msg; /* substring the error message must hold */
};

static const struct bad bad_rows[] = {
    /* set and rule shape */
    {"[]", "setOfAcrs"},
    {"5", "setOfAcrs"},
    {"{\"acr\":{}}", "acr must be an array"},
    {"{\"acr\":[],\"x\":1}", "unknown member \"x\""},
    {"{\"accessControlRules\":[]}", "unknown member"},
    {"{\"acr\":[1]}", "acr[0]: rule must be an object"},
    {"{\"acr\":[{\"acor\":[\"all\"],\"acop\":1,\"foo\":1}]}", "acr[0]: unknown member \"foo\""},
    {"{\"acr\":[{\"acop\":1}]}", "acor and acop are mandatory"},
    {"{\"acr\":[{\"acor\":[\"all\"]}]}", "acor and acop are mandatory"},
    /* acop */
    {"{\"acr\":[{\"acor\":[\"all\"],\"acop\":0}]}", "acop"},
    {"{\"acr\":[{\"acor\":[\"all\"],\"acop\":64}]}", "acop"},
    {"{\"acr\":[{\"acor\":[\"all\"],\"acop\":-1}]}", "acop"},
    {"{\"acr\":[{\"acor\":[\"all\"],\"acop\":1.5}]}", "acop"},
    {"{\"acr\":[{\"acor\":[\"all\"],\"acop\":\"63\"}]}", "acop"},
    {"{\"acr\":[{\"acor\":[\"all\"],\"acop\":true}]}", "acop"},
    {"{\"acr\":[{\"acor\":[\"all\"],\"acop\":null}]}", "acop"},
    /* acaf */
    {R("\"acaf\":\"true\""), "acaf must be a boolean"},
    {R("\"acaf\":1"), "acaf must be a boolean"},
    {R("\"acaf\":null"), "acaf"},
    /* acor */
    {"{\"acr\":[{\"acor\":\"all\",\"acop\":1}]}", "acor must be an array"},
    {"{\"acr\":[{\"acor\":[5],\"acop\":1}]}", "acr[0].acor[0]: originator must be a string"},
    {"{\"acr\":[{\"acor\":[\"all\",\"\"],\"acop\":1}]}", "acr[0].acor[1]"},
    {"{\"acr\":[{\"acor\":[\"C ae1\"],\"acop\":1}]}", "whitespace"},
    {"{\"acr\":[{\"acor\":[\"Cae1\\n\"],\"acop\":1}]}", "whitespace"},
    {"{\"acr\":[{\"acor\":[\"//\"],\"acop\":1}]}", "domain"},
    {"{\"acr\":[{\"acor\":[\"//a..b\"],\"acop\":1}]}", "domain"},
    {"{\"acr\":[{\"acor\":[\"//a.b.\"],\"acop\":1}]}", "domain"},
    {"{\"acr\":[{\"acor\":[\"//a*.b\"],\"acop\":1}]}", "domain"},
    {"{\"acr\":[{\"acor\":[\"/id-in//Cx\"],\"acop\":1}]}", "empty segment"},
    {"{\"acr\":[{\"acor\":[\"/\"],\"acop\":1}]}", "empty segment"},
    {"{\"acr\":[{\"acor\":[\"/id-in/\"],\"acop\":1}]}", "empty segment"},
    {"{\"acr\":[{\"acor\":[\"///x\"],\"acop\":1}]}", "empty segment"},
    /* acco / contexts */
    {R("\"acco\":5"), "acco must be an array"},
    {R("\"acco\":[5]"), "acr[0].acco[0]: context must be an object"},
    {CTX("\"acwt\":[]"), "acr[0].acco[0]: unknown member \"acwt\""},
    {CTX("\"actw\":\"* * * * * * *\""), "actw must be an array"},
    {CTX("\"actw\":[5]"), "acr[0].acco[0].actw[0]: schedule entry must be a string"},
    {TW("* * * * *"), "7 fields"},
    {TW("* * * * * * * *"), "7 fields"},
    {TW(""), "must not be empty"},
    {TW("60 * * * * * *"), "second"},
    {TW("* 60 * * * * *"), "minute"},
    {TW("* * 24 * * * *"), "hour"},
    {TW("* * * 0 * * *"), "day of month"},
    {TW("* * * 32 * * *"), "day of month"},
    {TW("* * * * 0 * *"), "month"},
    {TW("* * * * 13 * *"), "month"},
    {TW("* * * * * 7 *"), "day of week"},
    {TW("* * * * * * 1999"), "year"},
    {TW("* * * * * * 10000"), "year"},
    {TW("* * 5-1 * * * *"), "hour"},
    {TW("* * */0 * * * *"), "hour"},
    {TW("* * 1/2 * * * *"), "hour"},
    {TW("* * a * * * *"), "hour"},
    {TW("* * 1,,2 * * * *"), "hour"},
    {TW("* * 1, * * * *"), "hour"},
    {TW("* * -1 * * * *"), "hour"},
    {TW("* * 1- * * * *"), "hour"},
    {TW("* * ** * * * *"), "hour"},
    {TW("* * 0000000001 * * * *"), "hour"}, /* more than 9 digits: refused, not overflowed */
    {TW("* * 1-2-3 * * * *"), "hour"},
    {TW("* * 1/2/3 * * * *"), "hour"},
    {TW("*\\t* * * * * *"), "second field \"*?*\""},
    {CTX("\"acip\":5"), "acip must be an object"},
    {CTX("\"acip\":{\"ipv5\":[]}"), "unknown member \"ipv5\""},
    {CTX("\"acip\":{\"ipv4\":\"10.0.0.0/8\"}"), "ipv4 must be an array"},
    {IP4("10.0.0.0/33"), "acr[0].acco[0].acip.ipv4[0]: malformed ipv4"},
    {IP4("10.0.0/8"), "ipv4"},
    {IP4("10.0.0.256"), "ipv4"},
    {IP4("10.0.0.0/"), "ipv4"},
    {IP4("10.0.0.0/8x"), "ipv4"},
    {IP4("10.0.0.0/-8"), "ipv4"},
    {IP4("10.0.0.0/08"), "ipv4"},
    {IP4("/8"), "ipv4"},
    {IP4("::1"), "ipv4"},
    {IP4(" 10.0.0.1"), "ipv4"},
    {IP6("::/129"), "ipv6"},
    {IP6("gggg::"), "ipv6"},
    {IP6("10.0.0.1"), "ipv6"},
    {IP6("1:2:3:4:5:6:7:8:9"), "ipv6"},
    {IP6("::1/1000"), "ipv6"},
    {IP6("0000:0000:0000:0000:0000:0000:0000:0000:0000/1"), "ipv6"},
    {CTX("\"aclr\":5"), "aclr must be an object"},
    {CTX("\"aclr\":{}"), "exactly one of accr and accc"},
    {CTX("\"aclr\":{\"accr\":[1,2,3],\"accc\":[\"DE\"]}"), "exactly one of accr and accc"},
    {CTX("\"aclr\":{\"accx\":[1,2,3]}"), "unknown member"},
    {CTX("\"aclr\":{\"accr\":[1,2]}"), "accr"},
    {CTX("\"aclr\":{\"accr\":[1,2,3,4]}"), "accr"},
    {CTX("\"aclr\":{\"accr\":[91,2,3]}"), "accr"},
    {CTX("\"aclr\":{\"accr\":[-90.5,2,3]}"), "accr"},
    {CTX("\"aclr\":{\"accr\":[1,-181,3]}"), "accr"},
    {CTX("\"aclr\":{\"accr\":[1,2,-1]}"), "accr"},
    {CTX("\"aclr\":{\"accr\":[1,\"2\",3]}"), "accr"},
    {CTX("\"aclr\":{\"accr\":{}}"), "accr"},
    {CTX("\"aclr\":{\"accc\":[]}"), "accc"},
    {CTX("\"aclr\":{\"accc\":\"DE\"}"), "accc"},
    {CTX("\"aclr\":{\"accc\":[\"DEU\"]}"), "accc[0]"},
    {CTX("\"aclr\":{\"accc\":[\"D1\"]}"), "accc[0]"},
    {CTX("\"aclr\":{\"accc\":[7]}"), "country code"},
    /* acod */
    {R("\"acod\":{}"), "acod must be an array"},
    {R("\"acod\":[5]"), "acr[0].acod[0]"},
    {R("\"acod\":[{\"ty\":3}]"), "chty is mandatory"},
    {R("\"acod\":[{\"chty\":[4],\"x\":1}]"), "unknown member \"x\""},
    {R("\"acod\":[{\"ty\":13,\"chty\":[4]}]"), "spty is required when ty is 13"},
    {R("\"acod\":[{\"ty\":28,\"chty\":[4]}]"), "spty is required when ty is 28"},
    {R("\"acod\":[{\"ty\":13,\"spty\":{\"cnd\":\"x\"},\"chty\":[4]}]"), "spty kind"},
    {R("\"acod\":[{\"ty\":28,\"spty\":{\"mgd\":1001},\"chty\":[4]}]"), "spty kind"},
    {R("\"acod\":[{\"spty\":{\"cnd\":\"x\",\"mgd\":1},\"chty\":[4]}]"), "exactly one of cnd"},
    {R("\"acod\":[{\"spty\":{},\"chty\":[4]}]"), "exactly one of cnd"},
    {R("\"acod\":[{\"spty\":\"x\",\"chty\":[4]}]"), "spty must be an object"},
    {R("\"acod\":[{\"spty\":{\"mgd\":0},\"chty\":[4]}]"), "spty.mgd"},
    {R("\"acod\":[{\"spty\":{\"cnd\":\"\"},\"chty\":[4]}]"), "spty.cnd"},
    {R("\"acod\":[{\"chty\":4}]"), "chty must be an array"},
    {R("\"acod\":[{\"chty\":[0]}]"), "acr[0].acod[0]"},
    {R("\"acod\":[{\"chty\":[\"4\"]}]"), "acr[0].acod[0]"},
    {R("\"acod\":[{\"ty\":\"3\",\"chty\":[4]}]"), "acr[0].acod[0]"},
    {R("\"acod\":[{\"ty\":0,\"chty\":[4]}]"), "acr[0].acod[0]"},
    /* the index points at the failing rule */
    {"{\"acr\":[{\"acor\":[\"all\"],\"acop\":1},{\"acor\":[\"all\"],\"acop\":99}]}", "acr[1]"},
};

static void test_malformed(void **state)
{
    int bad = 0;
    for (size_t i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
        char err[256] = "x";
        m2m_rc rc = compile_rc(bad_rows[i].json, err, sizeof(err), NULL);
        if (rc != M2M_ERR_MALFORMED || strstr(err, bad_rows[i].msg) == NULL) {
            print_error("row %zu: %s -> rc %d err \"%s\" (want \"%s\")\n", i, bad_rows[i].json,
                        (int)rc, err, bad_rows[i].msg);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static const char *const good_rows[] = {
    "{}",
    "{\"acr\":[]}",
    "null",
    R("\"acco\":[]"),
    R("\"acco\":{}"),
    R("\"acod\":[]"),
    R("\"acaf\":false"),
    TW("* * * * * *"),
    TW("0-59/5 0,30 0-23/2 1-31 1-12 0-6 2000-9999/4"),
    /* TS-0004 7.4.9.1 sets no digit count: leading zeros and steps wider than the range are
     * numbers too (differential fuzzer finding; the engine read at most 4 digits) */
    TW("00001 000000059 * * * * *"),
    TW("*/99999 * * * * * 2000-2030/100000"),
    TW("*,5 * * * * * *"),
    IP4("127.0.0.1/0"),
    IP6("::/0"),
    IP6("Fadf:ddd0::/32"),
    IP6("::ffff:10.0.0.1"),
    IP6("::ffff:10.0.0.0/104"),
    IP6("::ffff:0:0/96"),
    CTX("\"acip\":{}"),
    CTX("\"aclr\":{\"accr\":[-90,-180,0]}"),
    CTX("\"aclr\":{\"accr\":[90,180,1e7]}"),
    CTX("\"aclr\":{\"accc\":[\"de\",\"ZZ\"]}"),
    R("\"acod\":[{\"chty\":[]}]"),
    R("\"acod\":[{\"ty\":13,\"spty\":{\"mgd\":1001},\"chty\":[23]}]"),
    "{\"acr\":[{\"acor\":[\"*\",\"all\",\"Cae1\",\"Sae1\",\"/id-mn\",\"/id-mn/C*\",\"//x.org\","
    "\"//*.x.org\",\"//*/c/C*\",\"r1@roles.example\",\"grp1\",\"/id-in/a/b\",\"ae@\",\"C/\","
    "\"Sae1/x\",\"Cx//y\"],"
    "\"acop\":1}]}",
    "{\"acr\":[{\"acor\":[],\"acop\":1}]}",
    /* TR-0051 6.2.2: acco as a bare object, 6-field actw, /0 prefix, lone '*' */
    ("{\"acr\":[{\"acor\":[\"*\"],\"acop\":63,\"acco\":{\"acip\":{\"ipv4\":[\"127.0.0.1/0\"]},"
     "\"actw\":[\"* * * * * *\"]}}]}"),
};

static void test_good(void **state)
{
    for (size_t i = 0; i < sizeof(good_rows) / sizeof(good_rows[0]); i++) {
        char err[256] = "";
        size_t n = 99;
        if (compile_rc(good_rows[i], err, sizeof(err), &n) != M2M_OK)
            fail_msg("row %zu: %s: %s", i, good_rows[i], err);
        assert_true(n <= 1);
    }
}

static void test_null_and_args(void **state)
{
    struct acp_ruleset *rs = (struct acp_ruleset *)1;
    char err[128];
    assert_int_equal(acp_ruleset_compile(NULL, &HOST, &rs, err, sizeof(err)), M2M_OK);
    assert_non_null(rs);
    assert_int_equal(acp_ruleset_count(rs), 0);
    acp_ruleset_free(rs);
    acp_ruleset_free(NULL);
    assert_int_equal(acp_ruleset_count(NULL), 0);
    assert_int_equal(acp_ruleset_compile(NULL, &HOST, NULL, err, sizeof(err)), M2M_ERR_INTERNAL);
    static const struct acp_host bad_hosts[] = {
        {NULL, "/id-in"},     {"//sp", NULL},    {"sp.example", "/id-in"},
        {"//sp/x", "/id-in"}, {"//sp", "id-in"}, {"//sp", "/id/in"},
        {"//", "/id-in"},     {"//sp", "/"},     {"//s p", "/id-in"},
    };
    for (size_t i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++) {
        rs = (struct acp_ruleset *)1;
        assert_int_equal(acp_ruleset_compile(NULL, &bad_hosts[i], &rs, err, sizeof(err)),
                         M2M_ERR_CONFIG);
        assert_null(rs);
    }
    assert_int_equal(acp_ruleset_compile(NULL, NULL, &rs, err, sizeof(err)), M2M_ERR_CONFIG);
    /* no error buffer, or a tiny one: no crash, message truncated */
    assert_int_equal(compile_rc("{\"acr\":[5]}", NULL, 0, NULL), M2M_ERR_MALFORMED);
    char tiny[4] = "zzz";
    assert_int_equal(compile_rc("{\"acr\":[5]}", tiny, sizeof(tiny), NULL), M2M_ERR_MALFORMED);
    assert_int_equal(strlen(tiny), 3);
}

/* Builds {"acr":[...]} with n copies of rule. */
static char *repeat_rules(size_t n, const char *rule)
{
    size_t rl = strlen(rule), cap = 16 + n * (rl + 1);
    char *s = malloc(cap), *p = s;
    p += sprintf(p, "{\"acr\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%s", i ? "," : "", rule);
    strcpy(p, "]}");
    return s;
}

/* Builds a JSON array body of n copies of item, wrapped by pre/post. */
static char *repeat_in(const char *pre, size_t n, const char *item, const char *post)
{
    size_t cap = strlen(pre) + strlen(post) + n * (strlen(item) + 1) + 1;
    char *s = malloc(cap), *p = s;
    p += sprintf(p, "%s", pre);
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%s", i ? "," : "", item);
    strcpy(p, post);
    return s;
}

static void expect_limit(char *json, size_t n_ok_count, bool ok, const char *msg)
{
    char err[256] = "";
    size_t n = 0;
    m2m_rc rc = compile_rc(json, err, sizeof(err), &n);
    if (ok) {
        if (rc != M2M_OK)
            fail_msg("expected OK: %s", err);
        assert_int_equal(n, n_ok_count);
    } else {
        if (rc != M2M_ERR_LIMIT || strstr(err, msg) == NULL)
            fail_msg("expected LIMIT with \"%s\", got %d \"%s\"", msg, (int)rc, err);
    }
    free(json);
}

static void test_limits(void **state)
{
    const char *rule = "{\"acor\":[\"all\"],\"acop\":1}";
    expect_limit(repeat_rules(1024, rule), 1024, true, NULL);
    expect_limit(repeat_rules(1025, rule), 0, false, "acr has more than 1024");
    const char *pre = "{\"acr\":[{\"acop\":1,\"acor\":[", *post = "]}]}";
    expect_limit(repeat_in(pre, 256, "\"Cae1\"", post), 1, true, NULL);
    expect_limit(repeat_in(pre, 257, "\"Cae1\"", post), 0, false, "acor has more than 256");
    pre = "{\"acr\":[{\"acor\":[\"all\"],\"acop\":1,\"acco\":[";
    expect_limit(repeat_in(pre, 64, "{}", post), 1, true, NULL);
    expect_limit(repeat_in(pre, 65, "{}", post), 0, false, "acco has more than 64");
    pre = "{\"acr\":[{\"acor\":[\"all\"],\"acop\":1,\"acco\":[{\"actw\":[";
    post = "]}]}]}";
    expect_limit(repeat_in(pre, 64, "\"* * * * * *\"", post), 1, true, NULL);
    expect_limit(repeat_in(pre, 65, "\"* * * * * *\"", post), 0, false, "actw has more than 64");
    pre = "{\"acr\":[{\"acor\":[\"all\"],\"acop\":1,\"acco\":[{\"acip\":{\"ipv4\":[";
    post = "]}}]}]}";
    expect_limit(repeat_in(pre, 256, "\"10.0.0.0/8\"", post), 1, true, NULL);
    expect_limit(repeat_in(pre, 257, "\"10.0.0.0/8\"", post), 0, false, "ipv4 has more than");
    /* 256 addresses in total over both lists */
    char *v4 = repeat_in("", 200, "\"10.0.0.0/8\"", "");
    char *v6 = repeat_in("", 57, "\"::/0\"", "");
    char *both = malloc(strlen(v4) + strlen(v6) + 128);
    sprintf(both,
            "{\"acr\":[{\"acor\":[\"all\"],\"acop\":1,\"acco\":[{\"acip\":{\"ipv4\":[%s],"
            "\"ipv6\":[%s]}}]}]}",
            v4, v6);
    expect_limit(both, 0, false, "more than 256 addresses");
    free(v4);
    free(v6);
    /* entry length 255 */
    char *e = malloc(600);
    memset(e, 'a', 300);
    e[0] = 'C';
    char *json = malloc(700);
    sprintf(json, "{\"acr\":[{\"acor\":[\"%.*s\"],\"acop\":1}]}", 255, e);
    expect_limit(json, 1, true, NULL);
    json = malloc(700);
    sprintf(json, "{\"acr\":[{\"acor\":[\"%.*s\"],\"acop\":1}]}", 256, e);
    expect_limit(json, 0, false, "longer than 255");
    json = malloc(700);
    sprintf(json, TW("* * * * * * %.*s"), 250,
            "2000,2001,2002,2003,2004,2005,2006,2007,2008,"
            "2009,2010,2011,2012,2013,2014,2015,2016,2017,"
            "2018,2019,2020,2021,2022,2023,2024,2025,2026,"
            "2027,2028,2029,2030,2031,2032,2033,2034,2035,"
            "2036,2037,2038,2039,2040,2041,2042,2043,2044,"
            "2045,2046,2047,2048,2049,2050");
    char err[256];
    assert_int_equal(compile_rc(json, err, sizeof(err), NULL), M2M_ERR_LIMIT);
    free(json);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_null_and_args),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
