/* acp_decide_test.c: the pure decision of TS-0003 7.1.5 (SPEC-MAP A5, A7-A10): authentication
 * flag truth table, operation bits, permit-overrides, contexts at their edges, object details. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <math.h>

#include "acp/acp.h"
#include "enc/json.h"

static const struct acp_host HOST = {"//sp.example", "/id-in"};
#define ORIG "//sp.example/id-in/Cae1"

static struct acp_ruleset *compile(const char *acrs)
{
    cJSON *j = NULL;
    struct acp_ruleset *rs = NULL;
    char err[256];
    if (json_parse((const uint8_t *)acrs, strlen(acrs), 32, &j) != M2M_OK)
        fail_msg("json: %s", acrs);
    if (acp_ruleset_compile(j, &HOST, &rs, err, sizeof(err)) != M2M_OK)
        fail_msg("compile %s: %s", acrs, err);
    cJSON_Delete(j);
    return rs;
}

/* Monday 2024-06-03 12:00:00 UTC, authenticated AE, RETRIEVE, from 10.1.2.3. */
static struct acp_request base(void)
{
    struct acp_request r = {.originator = ORIG,
                            .originator_len = strlen(ORIG),
                            .orig_kind = ACP_ORIG_AE,
                            .op = ACP_OP_RETRIEVE,
                            .target_ty = 3,
                            .time = {0, 0, 12, 3, 6, 1, 2024},
                            .has_ip = true,
                            .ip_family = 4,
                            .ip = {10, 1, 2, 3},
                            .country = "DE"};
    return r;
}

static bool permits(const char *acrs, const struct acp_request *req)
{
    struct acp_ruleset *rs = compile(acrs);
    struct acp_policy p = {"acp1", rs};
    struct acp_decision d = {true, 7, 7};
    acp_decide(req, &p, 1, &d);
    acp_ruleset_free(rs);
    if (!d.permit)
        assert_true(d.policy_index == -1 && d.rule_index == -1);
    return d.permit;
}

#define CHECK(acrs, req, want)                                                                     \
    do {                                                                                           \
        if (permits(acrs, req) != (want))                                                          \
            fail_msg("%s:%d: %s: want %s", __FILE__, __LINE__, acrs, (want) ? "permit" : "deny");  \
    } while (0)

/* TS-0003 Table 7.1.5-1, every row, plus acaf absent. */
static void test_authn_truth_table(void **state)
{
    static const struct {
        const char *acaf;
        bool authn, want;
    } rows[] = {
        {"true", true, true},   {"true", false, false}, {"false", true, true},
        {"false", false, true}, {NULL, true, true},     {NULL, false, true},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char acrs[128];
        if (rows[i].acaf)
            snprintf(acrs, sizeof(acrs), "{\"acr\":[{\"acor\":[\"all\"],\"acop\":63,\"acaf\":%s}]}",
                     rows[i].acaf);
        else
            snprintf(acrs, sizeof(acrs), "{\"acr\":[{\"acor\":[\"all\"],\"acop\":63}]}");
        struct acp_request r = base();
        r.authenticated = rows[i].authn;
        CHECK(acrs, &r, rows[i].want);
    }
}

/* SPEC-MAP A7: each operation needs its own bit, DISCOVERY included; invalid op values deny. */
static void test_operation_bits(void **state)
{
    static const uint32_t ops[] = {ACP_OP_CREATE, ACP_OP_RETRIEVE, ACP_OP_UPDATE,
                                   ACP_OP_DELETE, ACP_OP_NOTIFY,   ACP_OP_DISCOVERY};
    for (size_t a = 0; a < 6; a++) {
        char acrs[96];
        snprintf(acrs, sizeof(acrs), "{\"acr\":[{\"acor\":[\"all\"],\"acop\":%u}]}", ops[a]);
        for (size_t o = 0; o < 6; o++) {
            struct acp_request r = base();
            r.op = ops[o];
            r.create_ty = 4;
            CHECK(acrs, &r, a == o);
        }
        char inv[96];
        snprintf(inv, sizeof(inv), "{\"acr\":[{\"acor\":[\"all\"],\"acop\":%u}]}", 63u & ~ops[a]);
        for (size_t o = 0; o < 6; o++) {
            struct acp_request r = base();
            r.op = ops[o];
            r.create_ty = 4;
            CHECK(inv, &r, a != o);
        }
    }
    static const uint32_t bad_ops[] = {0, 3, 63, 64, 0x80000000u};
    for (size_t i = 0; i < sizeof(bad_ops) / sizeof(bad_ops[0]); i++) {
        struct acp_request r = base();
        r.op = bad_ops[i];
        CHECK("{\"acr\":[{\"acor\":[\"all\"],\"acop\":63}]}", &r, false);
    }
}

static void test_permit_overrides(void **state)
{
    struct acp_request r = base();
    struct acp_ruleset *p0 = compile("{\"acr\":[{\"acor\":[\"Cother\"],\"acop\":63},"
                                     "{\"acor\":[\"all\"],\"acop\":1}]}");
    struct acp_ruleset *p1 = compile("{\"acr\":[{\"acor\":[\"all\"],\"acop\":4},"
                                     "{\"acor\":[\"Cae1\"],\"acop\":2},"
                                     "{\"acor\":[\"all\"],\"acop\":63}]}");
    struct acp_ruleset *empty = compile("{\"acr\":[]}");
    struct acp_policy ps[] = {{"a0", p0}, {"anull", NULL}, {"aempty", empty}, {"a1", p1}};
    struct acp_decision d;
    acp_decide(&r, ps, 4, &d);
    assert_true(d.permit);
    assert_int_equal(d.policy_index, 3);
    assert_int_equal(d.rule_index, 1); /* first permitting rule */
    acp_decide(&r, ps, 3, &d);         /* without a1 nothing grants */
    assert_false(d.permit);
    assert_int_equal(d.policy_index, -1);
    assert_int_equal(d.rule_index, -1);
    r.op = ACP_OP_CREATE;
    r.create_ty = 4;
    acp_decide(&r, ps, 4, &d); /* a0 rule 1 grants CREATE to all */
    assert_true(d.permit);
    assert_int_equal(d.policy_index, 0);
    assert_int_equal(d.rule_index, 1);
    /* empty pv, NULL policies, n = 0, NULL request: deny */
    acp_decide(&r, &ps[2], 1, &d);
    assert_false(d.permit);
    acp_decide(&r, NULL, 3, &d);
    assert_false(d.permit);
    acp_decide(&r, ps, 0, &d);
    assert_false(d.permit);
    acp_decide(NULL, ps, 4, &d);
    assert_false(d.permit);
    acp_decide(&r, ps, 4, NULL); /* must not crash */
    acp_ruleset_free(p0);
    acp_ruleset_free(p1);
    acp_ruleset_free(empty);
    struct acp_ruleset *none = NULL;
    char err[64];
    assert_int_equal(acp_ruleset_compile(NULL, &HOST, &none, err, sizeof(err)), M2M_OK);
    struct acp_policy pn = {"n", none};
    acp_decide(&r, &pn, 1, &d);
    assert_false(d.permit);
    acp_ruleset_free(none);
}

static void set_time(struct acp_request *r, int h, int m, int s)
{
    r->time.hour = h;
    r->time.min = m;
    r->time.sec = s;
}

static char *ctx_rule(char *buf, size_t n, const char *ctx)
{
    snprintf(buf, n, "{\"acr\":[{\"acor\":[\"all\"],\"acop\":63,\"acco\":[%s]}]}", ctx);
    return buf;
}

/* TS-0004 7.4.9.1 windows, at the first and last second, 6 and 7 fields, TV2 examples. */
static void test_time_windows(void **state)
{
    static const struct {
        const char *actw;
        int wday, mday, mon, year, h, m, s;
        bool want;
    } rows[] = {
        {"* * 8-17 * * 1-5 *", 1, 3, 6, 2024, 8, 0, 0, true},
        {"* * 8-17 * * 1-5 *", 1, 3, 6, 2024, 7, 59, 59, false},
        {"* * 8-17 * * 1-5 *", 1, 3, 6, 2024, 17, 59, 59, true},
        {"* * 8-17 * * 1-5 *", 1, 3, 6, 2024, 18, 0, 0, false},
        {"* * 8-17 * * 1-5 *", 6, 8, 6, 2024, 12, 0, 0, false}, /* Saturday */
        {"* * 8-17 * * 1-5 *", 0, 9, 6, 2024, 12, 0, 0, false}, /* Sunday = 0 */
        {"* * 8-17 * * 1-5", 1, 3, 6, 2024, 8, 0, 0, true},     /* 6 fields: year '*' */
        {"* * 8-17 * * 1-5", 1, 3, 6, 2024, 18, 0, 0, false},
        {"* * * * * *", 1, 3, 6, 2024, 0, 0, 0, true},           /* TR-0051 example */
        {"* 0-5 2,6,10 * * * *", 1, 3, 6, 2024, 2, 5, 59, true}, /* TV2 */
        {"* 0-5 2,6,10 * * * *", 1, 3, 6, 2024, 2, 6, 0, false},
        {"* 0-5 2,6,10 * * * *", 1, 3, 6, 2024, 6, 0, 0, true},
        {"* 0-5 2,6,10 * * * *", 1, 3, 6, 2024, 3, 0, 0, false},
        {"* * 8-20 * * * *", 1, 3, 6, 2024, 20, 59, 59, true},
        {"* * 8-20 * * * *", 1, 3, 6, 2024, 21, 0, 0, false},
        {"* * 0-23/2 * * * *", 1, 3, 6, 2024, 22, 0, 0, true},
        {"* * 0-23/2 * * * *", 1, 3, 6, 2024, 23, 0, 0, false},
        {"* * 0-23/2 * * * *", 1, 3, 6, 2024, 0, 0, 0, true},
        {"* * */2 * * * *", 1, 3, 6, 2024, 1, 0, 0, false},
        {"*/15 * * * * * *", 1, 3, 6, 2024, 0, 0, 45, true},
        {"*/15 * * * * * *", 1, 3, 6, 2024, 0, 0, 46, false},
        {"0 0 0 1 1 * *", 1, 1, 1, 2024, 0, 0, 0, true},
        {"0 0 0 1 1 * *", 1, 1, 1, 2024, 0, 0, 1, false},
        {"59 59 23 31 12 * *", 2, 31, 12, 2024, 23, 59, 59, true},
        {"* * * * * * 2025", 1, 3, 6, 2024, 12, 0, 0, false},
        {"* * * * * * 2024", 1, 3, 6, 2024, 12, 0, 0, true},
        {"* * * * * * 2024-2030/2", 1, 3, 6, 2026, 12, 0, 0, true},
        {"* * * * * * 2024-2030/2", 1, 3, 6, 2025, 12, 0, 0, false},
        {"* * * * * * 2000,9999", 1, 3, 6, 9999, 12, 0, 0, true},
        {"* * * 1 * 1 *", 1, 3, 6, 2024, 12, 0, 0, false}, /* AND of mday and wday */
        {"* * * 3 * 1 *", 1, 3, 6, 2024, 12, 0, 0, true},
        {"* * * * 1-5,7-12 * *", 1, 3, 6, 2024, 12, 0, 0, false},
        {"* * * * 1-5,6 * *", 1, 3, 6, 2024, 12, 0, 0, true},
        {"  *  *  *  *  *  *  *  ", 1, 3, 6, 2024, 12, 0, 0, true},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char ctx[128], acrs[256];
        snprintf(ctx, sizeof(ctx), "{\"actw\":[\"%s\"]}", rows[i].actw);
        struct acp_request r = base();
        r.time = (struct acp_time){rows[i].s,   rows[i].m,    rows[i].h,   rows[i].mday,
                                   rows[i].mon, rows[i].wday, rows[i].year};
        if (permits(ctx_rule(acrs, sizeof(acrs), ctx), &r) != rows[i].want)
            fail_msg("row %zu: \"%s\" want %d", i, rows[i].actw, rows[i].want);
    }
    /* several entries in one actw: OR */
    char acrs[256];
    struct acp_request r = base();
    set_time(&r, 19, 0, 0);
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"actw\":[\"* * 8-17 * * * *\",\"* * 19 * * * *\"]}"), &r,
          true);
    set_time(&r, 18, 0, 0);
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"actw\":[\"* * 8-17 * * * *\",\"* * 19 * * * *\"]}"), &r,
          false);
    /* out-of-range request times never match (leap second, bad values) */
    r.time.sec = 60;
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"actw\":[\"* * * * * * *\"]}"), &r, false);
    r.time.sec = -1;
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"actw\":[\"* * * * * * *\"]}"), &r, false);
    r = base();
    r.time.year = 1999;
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"actw\":[\"* * * * * * *\"]}"), &r, false);
    /* an empty actw list constrains nothing ([INTERP]) */
    r = base();
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"actw\":[]}"), &r, true);
}

static void set_ip(struct acp_request *r, const char *s)
{
    memset(r->ip, 0, sizeof(r->ip));
    r->has_ip = true;
    r->ip_family = strchr(s, ':') ? 6 : 4;
    assert_int_equal(inet_pton(r->ip_family == 6 ? AF_INET6 : AF_INET, s, r->ip), 1);
}

/* SPEC-MAP A8 acip: CIDR edges /0 /32 /128, address without prefix, family mismatch. */
static void test_ip(void **state)
{
    static const struct {
        const char *acip, *ip;
        bool want;
    } rows[] = {
        {"{\"ipv4\":[\"10.0.0.0/8\"]}", "10.0.0.0", true},
        {"{\"ipv4\":[\"10.0.0.0/8\"]}", "10.255.255.255", true},
        {"{\"ipv4\":[\"10.0.0.0/8\"]}", "11.0.0.0", false},
        {"{\"ipv4\":[\"10.0.0.0/8\"]}", "9.255.255.255", false},
        {"{\"ipv4\":[\"10.125.0.0/16\"]}", "10.125.9.9", true}, /* TV2 */
        {"{\"ipv4\":[\"10.125.0.0/16\"]}", "10.126.0.0", false},
        {"{\"ipv4\":[\"122.77.12.1\"]}", "122.77.12.1", true}, /* no prefix = /32 */
        {"{\"ipv4\":[\"122.77.12.1\"]}", "122.77.12.2", false},
        {"{\"ipv4\":[\"122.77.12.1/32\"]}", "122.77.12.1", true},
        {"{\"ipv4\":[\"122.77.12.1/32\"]}", "122.77.12.0", false},
        {"{\"ipv4\":[\"127.0.0.1/0\"]}", "203.0.113.9", true}, /* TR-0051: /0 = any */
        {"{\"ipv4\":[\"127.0.0.1/0\"]}", "::1", false},        /* family mismatch */
        {"{\"ipv4\":[\"10.0.0.1/31\"]}", "10.0.0.0", true},
        {"{\"ipv4\":[\"10.0.0.1/31\"]}", "10.0.0.2", false},
        {"{\"ipv4\":[\"1.2.3.4\",\"10.0.0.0/8\"]}", "10.9.9.9", true},
        {"{\"ipv6\":[\"::/0\"]}", "2001:db8::1", true},
        {"{\"ipv6\":[\"::/0\"]}", "10.1.2.3", false},
        {"{\"ipv6\":[\"Fadf:ddd0::/32\"]}", "fadf:ddd0:1::9", true}, /* TV2 */
        {"{\"ipv6\":[\"Fadf:ddd0::/32\"]}", "fadf:ddd1::", false},
        {"{\"ipv6\":[\"abcd:ffff:abb0:aaaa::/64\"]}", "abcd:ffff:abb0:aaaa:1:2:3:4", true},
        {"{\"ipv6\":[\"abcd:ffff:abb0:aaaa::/64\"]}", "abcd:ffff:abb0:aaab::", false},
        {"{\"ipv6\":[\"2001:db8::1\"]}", "2001:db8::1", true}, /* no prefix = /128 */
        {"{\"ipv6\":[\"2001:db8::1\"]}", "2001:db8::2", false},
        {"{\"ipv6\":[\"2001:db8::1/128\"]}", "2001:db8::1", true},
        {"{\"ipv6\":[\"2001:db8::/127\"]}", "2001:db8::1", true},
        {"{\"ipv6\":[\"2001:db8::/127\"]}", "2001:db8::2", false},
        {"{\"ipv6\":[\"2001:db8::/65\"]}", "2001:db8::7fff:0:0:0", true},
        {"{\"ipv6\":[\"2001:db8::/65\"]}", "2001:db8::8000:0:0:0", false},
        {"{\"ipv4\":[\"10.0.0.0/8\"],\"ipv6\":[\"fd00::/8\"]}", "fd12::1", true},
        {"{\"ipv4\":[\"10.0.0.0/8\"],\"ipv6\":[\"fd00::/8\"]}", "10.2.2.2", true},
        {"{\"ipv4\":[\"10.0.0.0/8\"],\"ipv6\":[\"fd00::/8\"]}", "fe80::1", false},
        {"{}", "1.1.1.1", true}, /* [INTERP] empty acip: no constraint */
        {"{\"ipv4\":[]}", "1.1.1.1", true},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char ctx[160], acrs[256];
        snprintf(ctx, sizeof(ctx), "{\"acip\":%s}", rows[i].acip);
        struct acp_request r = base();
        set_ip(&r, rows[i].ip);
        if (permits(ctx_rule(acrs, sizeof(acrs), ctx), &r) != rows[i].want)
            fail_msg("row %zu: %s vs %s want %d", i, rows[i].acip, rows[i].ip, rows[i].want);
    }
    char acrs[256];
    struct acp_request r = base();
    r.has_ip = false; /* no source address: indeterminate, deny */
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"acip\":{\"ipv4\":[\"0.0.0.0/0\"]}}"), &r, false);
    r = base();
    r.ip_family = 5;
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"acip\":{\"ipv4\":[\"0.0.0.0/0\"]}}"), &r, false);
}

/* SPEC-MAP A8 aclr: haversine on R = 6371008.8 m; one degree of latitude is 111195.08 m. */
static void test_location(void **state)
{
    char acrs[256];
    const char *circ = "{\"aclr\":{\"accr\":[48.1,11.5,500]}}";
    struct acp_request r = base();
    r.has_location = true;
    r.lat = 48.1;
    r.lon = 11.5;
    CHECK(ctx_rule(acrs, sizeof(acrs), circ), &r, true);
    r.lat = 48.1 + 499.0 / 111195.08; /* 499 m north */
    CHECK(ctx_rule(acrs, sizeof(acrs), circ), &r, true);
    r.lat = 48.1 + 501.0 / 111195.08; /* 501 m north */
    CHECK(ctx_rule(acrs, sizeof(acrs), circ), &r, false);
    r.lat = 48.1 - 499.0 / 111195.08;
    CHECK(ctx_rule(acrs, sizeof(acrs), circ), &r, true);
    r.lat = 48.1;
    r.lon = 11.5 + 501.0 / (111195.08 * 0.667833); /* ~501 m east (cos 48.1 deg) */
    CHECK(ctx_rule(acrs, sizeof(acrs), circ), &r, false);
    r.lon = 11.5 + 495.0 / (111195.08 * 0.667833);
    CHECK(ctx_rule(acrs, sizeof(acrs), circ), &r, true);
    r.lon = 11.5;
    r.has_location = false; /* rq_loc unavailable: deny */
    CHECK(ctx_rule(acrs, sizeof(acrs), circ), &r, false);
    r.has_location = true;
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"aclr\":{\"accr\":[48.1,11.5,0]}}"), &r, true);
    r.lat = 0.0 / 0.0; /* NaN */
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"aclr\":{\"accr\":[0,0,1e9]}}"), &r, false);
    /* antimeridian: 179.999 to -179.999 is about 222 m */
    r.lat = 0;
    r.lon = -179.999;
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"aclr\":{\"accr\":[0,179.999,230]}}"), &r, true);
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"aclr\":{\"accr\":[0,179.999,220]}}"), &r, false);

    const char *cc = "{\"aclr\":{\"accc\":[\"FR\",\"DE\"]}}";
    r = base();
    CHECK(ctx_rule(acrs, sizeof(acrs), cc), &r, true);
    strcpy(r.country, "US");
    CHECK(ctx_rule(acrs, sizeof(acrs), cc), &r, false);
    strcpy(r.country, "");
    CHECK(ctx_rule(acrs, sizeof(acrs), cc), &r, false);
    strcpy(r.country, "de");
    CHECK(ctx_rule(acrs, sizeof(acrs), cc), &r, true);
    strcpy(r.country, "D");
    CHECK(ctx_rule(acrs, sizeof(acrs), cc), &r, false);
}

/* res_ctxts: OR over contexts, AND inside one; acco [] and acco {} constrain nothing. */
static void test_context_combination(void **state)
{
    char acrs[512];
    struct acp_request r = base(); /* 12:00, 10.1.2.3, DE */
    CHECK(ctx_rule(acrs, sizeof(acrs),
                   "{\"actw\":[\"* * 12 * * * *\"],"
                   "\"acip\":{\"ipv4\":[\"10.0.0.0/8\"]}}"),
          &r, true);
    CHECK(ctx_rule(acrs, sizeof(acrs),
                   "{\"actw\":[\"* * 12 * * * *\"],"
                   "\"acip\":{\"ipv4\":[\"11.0.0.0/8\"]}}"),
          &r, false);
    CHECK(ctx_rule(acrs, sizeof(acrs),
                   "{\"actw\":[\"* * 13 * * * *\"],"
                   "\"acip\":{\"ipv4\":[\"10.0.0.0/8\"]}}"),
          &r, false);
    CHECK(ctx_rule(acrs, sizeof(acrs),
                   "{\"actw\":[\"* * 13 * * * *\"]},"
                   "{\"acip\":{\"ipv4\":[\"10.0.0.0/8\"]}}"),
          &r, true);
    CHECK(ctx_rule(acrs, sizeof(acrs),
                   "{\"actw\":[\"* * 13 * * * *\"]},"
                   "{\"aclr\":{\"accc\":[\"FR\"]}}"),
          &r, false);
    CHECK(ctx_rule(acrs, sizeof(acrs), "{}"), &r, true);
    CHECK("{\"acr\":[{\"acor\":[\"all\"],\"acop\":2,\"acco\":[]}]}", &r, true);
    CHECK("{\"acr\":[{\"acor\":[\"all\"],\"acop\":2,"
          "\"acco\":{\"actw\":[\"* * 13 * * *\"]}}]}",
          &r, false);
    CHECK("{\"acr\":[{\"acor\":[\"all\"],\"acop\":2,"
          "\"acco\":{\"actw\":[\"* * 12 * * *\"]}}]}",
          &r, true);
}

static struct acp_request create_req(int target_ty, int create_ty)
{
    struct acp_request r = base();
    r.op = ACP_OP_CREATE;
    r.target_ty = target_ty;
    r.create_ty = create_ty;
    return r;
}

#define OBJD(x) "{\"acr\":[{\"acor\":[\"all\"],\"acop\":63,\"acod\":" x "}]}"

/* SPEC-MAP A10 (TS-0003 7.1.3 / 7.1.5): Create only; chty decides; ty and spty filter. */
static void test_object_details(void **state)
{
    struct acp_request r = create_req(3, 4);
    CHECK(OBJD("[{\"ty\":3,\"chty\":[4,23]}]"), &r, true);
    r = create_req(3, 23);
    CHECK(OBJD("[{\"ty\":3,\"chty\":[4,23]}]"), &r, true);
    r = create_req(3, 3);
    CHECK(OBJD("[{\"ty\":3,\"chty\":[4,23]}]"), &r, false);
    r = create_req(2, 4);
    CHECK(OBJD("[{\"ty\":3,\"chty\":[4,23]}]"), &r, false);
    CHECK(OBJD("[{\"chty\":[4]}]"), &r, true);
    CHECK(OBJD("[{\"ty\":3,\"chty\":[4]},{\"ty\":2,\"chty\":[4]}]"), &r, true);
    CHECK(OBJD("[{\"chty\":[]}]"), &r, false);
    CHECK(OBJD("[]"), &r, true);
    /* not a Create: acod does not apply */
    r = base();
    CHECK(OBJD("[{\"ty\":3,\"chty\":[1]}]"), &r, true);
    r.op = ACP_OP_DELETE;
    CHECK(OBJD("[{\"ty\":99,\"chty\":[1]}]"), &r, true);
    /* spty with ty: compared with the targeted resource ([INTERP] A10) */
    r = create_req(28, 28);
    r.target_spty_cnd = "org.onem2m.home.door";
    const char *fc = OBJD("[{\"ty\":28,\"spty\":{\"cnd\":\"org.onem2m.home.door\"},"
                          "\"chty\":[28,23]}]");
    CHECK(fc, &r, true);
    r.target_spty_cnd = "org.onem2m.home.window";
    CHECK(fc, &r, false);
    r.target_spty_cnd = NULL;
    r.create_spty_cnd = "org.onem2m.home.door"; /* the content does not count when ty given */
    CHECK(fc, &r, false);
    r = create_req(13, 23);
    r.target_spty_mgd = 1001;
    const char *mo = OBJD("[{\"ty\":13,\"spty\":{\"mgd\":1001},\"chty\":[23]}]");
    CHECK(mo, &r, true);
    r.target_spty_mgd = 1002;
    CHECK(mo, &r, false);
    r.target_spty_mgd = 0;
    CHECK(mo, &r, false);
    /* spty without ty: compared with the Create content */
    const char *cm = OBJD("[{\"spty\":{\"mgd\":1001},\"chty\":[13]}]");
    r = create_req(14, 13);
    r.create_spty_mgd = 1001;
    CHECK(cm, &r, true);
    r.create_spty_mgd = 1003;
    CHECK(cm, &r, false);
    r.create_spty_mgd = 0;
    r.target_spty_mgd = 1001;
    CHECK(cm, &r, false);
    const char *cc = OBJD("[{\"spty\":{\"cnd\":\"org.x\"},\"chty\":[28]}]");
    r = create_req(3, 28);
    r.create_spty_cnd = "org.x";
    CHECK(cc, &r, true);
    r.create_spty_cnd = "org.xy";
    CHECK(cc, &r, false);
    r.create_spty_cnd = NULL;
    CHECK(cc, &r, false);
}

static void test_explain(void **state)
{
    struct acp_ruleset *rs =
        compile("{\"acr\":[{\"acor\":[\"Cother\"],\"acop\":1,\"acaf\":true,"
                "\"acco\":[{\"actw\":[\"* * 3 * * * *\"],\"acip\":{\"ipv4\":[\"1.0.0.0/8\"]},"
                "\"aclr\":{\"accc\":[\"FR\"]}}],\"acod\":[{\"chty\":[2]}]},"
                "{\"acor\":[\"Cae1\"],\"acop\":2},"
                "{\"acor\":[\"all\"],\"acop\":2,\"acco\":[{\"actw\":[\"* * 3 * * * *\"]},"
                "{\"acip\":{\"ipv4\":[\"1.0.0.0/8\"]}}]}]}");
    struct acp_request r = base();
    assert_int_equal(acp_rule_explain(&r, rs, 0),
                     ACP_FAIL_ORIGINATOR | ACP_FAIL_OPERATION | ACP_FAIL_AUTHN |
                         ACP_FAIL_CONTEXT_TIME | ACP_FAIL_CONTEXT_IP | ACP_FAIL_CONTEXT_LOCATION);
    r.op = ACP_OP_CREATE;
    r.create_ty = 4;
    assert_true(acp_rule_explain(&r, rs, 0) & ACP_FAIL_OBJECT_DETAILS);
    assert_false(acp_rule_explain(&r, rs, 0) & ACP_FAIL_OPERATION);
    r = base();
    assert_int_equal(acp_rule_explain(&r, rs, 1), 0);
    assert_int_equal(acp_rule_explain(&r, rs, 2), ACP_FAIL_CONTEXT_TIME | ACP_FAIL_CONTEXT_IP);
    assert_int_equal(acp_rule_explain(&r, rs, 3), 0x7f);
    assert_int_equal(acp_rule_explain(&r, NULL, 0), 0x7f);
    assert_int_equal(acp_rule_explain(NULL, rs, 0), 0x7f);
    assert_int_equal(acp_ruleset_count(rs), 3);
    acp_ruleset_free(rs);
}

/* The decision reads only its inputs: the same request twice gives the same answer, and the
 * SPEC-MAP A1 example grants what it says. */
static void test_spec_map_example(void **state)
{
    const char *pv = "{\"acr\":[{\"acor\":[\"CAE1\",\"//sp.example/CSE1/C*\"],\"acop\":35,"
                     "\"acco\":[{\"actw\":[\"* * 8-17 * * 1-5 *\"],"
                     "\"acip\":{\"ipv4\":[\"10.0.0.0/8\"],\"ipv6\":[\"fd00::/8\"]},"
                     "\"aclr\":{\"accr\":[48.1,11.5,500.0]}}],\"acaf\":true,"
                     "\"acod\":[{\"ty\":3,\"chty\":[4,23]}]}]}";
    struct acp_request r = create_req(3, 4);
    r.originator = "//sp.example/CSE1/Cabc";
    r.originator_len = strlen(r.originator);
    r.authenticated = true;
    r.has_location = true;
    r.lat = 48.1;
    r.lon = 11.5;
    CHECK(pv, &r, true);
    CHECK(pv, &r, true);
    r.op = ACP_OP_DISCOVERY;
    CHECK(pv, &r, true);
    r.op = ACP_OP_UPDATE;
    CHECK(pv, &r, false);
    r.op = ACP_OP_CREATE;
    r.authenticated = false;
    CHECK(pv, &r, false);
    r.authenticated = true;
    r.originator = "//sp.example/id-in/CAE1";
    r.originator_len = strlen(r.originator);
    CHECK(pv, &r, true);
    r.originator = "//sp.example/id-in/CAE2";
    CHECK(pv, &r, false);
}

/* Window edges: the first and the last second inside, the seconds just outside; the first and
 * last instant of the year range. */
static void test_window_edges(void **state)
{
    static const struct {
        const char *actw;
        int h, m, s;
        bool want;
    } rows[] = {
        {"0 0 8 * * * *", 8, 0, 0, true},         {"0 0 8 * * * *", 7, 59, 59, false},
        {"0 0 8 * * * *", 8, 0, 1, false},        {"* * 8-17 * * * *", 8, 0, 0, true},
        {"* * 8-17 * * * *", 7, 59, 59, false},   {"* * 8-17 * * * *", 17, 59, 59, true},
        {"* * 8-17 * * * *", 18, 0, 0, false},    {"0-29 * * * * * *", 12, 0, 29, true},
        {"0-29 * * * * * *", 12, 0, 30, false},   {"*/20 * * * * * *", 12, 0, 40, true},
        {"*/20 * * * * * *", 12, 0, 59, false},   {"59 59 23 * * * *", 23, 59, 59, true},
        {"0 0 0 * * * *", 0, 0, 0, true},         {"0 0 0 * * * *", 23, 59, 59, false},
        {"1-59/58 * * * * * *", 12, 0, 59, true}, {"1-59/58 * * * * * *", 12, 0, 58, false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char acrs[256], ctx[96];
        struct acp_request r = base();
        set_time(&r, rows[i].h, rows[i].m, rows[i].s);
        snprintf(ctx, sizeof(ctx), "{\"actw\":[\"%s\"]}", rows[i].actw);
        if (permits(ctx_rule(acrs, sizeof(acrs), ctx), &r) != rows[i].want)
            fail_msg("row %zu: \"%s\" at %d:%d:%d want %d", i, rows[i].actw, rows[i].h, rows[i].m,
                     rows[i].s, rows[i].want);
    }
    char acrs[256];
    struct acp_request r = base();
    r.time = (struct acp_time){59, 59, 23, 31, 12, 5, 9999}; /* the last second of the range */
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"actw\":[\"* * * * * * *\"]}"), &r, true);
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"actw\":[\"59 59 23 31 12 * 9999\"]}"), &r, true);
    r.time = (struct acp_time){0, 0, 0, 1, 1, 6, 2000}; /* the first */
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"actw\":[\"0 0 0 1 1 6 2000\"]}"), &r, true);
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"actw\":[\"* * * * * * 2001-9999\"]}"), &r, false);
    /* long digit strings and steps beyond the range (TS-0004 7.4.9.1 sets no digit count) */
    r = base(); /* 12:00:00 */
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"actw\":[\"000000000 * 0012 * * * *\"]}"), &r, true);
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"actw\":[\"*/99999 * * * * * *\"]}"), &r, true);
    r.time.sec = 1;
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"actw\":[\"*/99999 * * * * * *\"]}"), &r, false);
}

/* [INTERP] SPEC-MAP A8: IPv4-mapped IPv6 sources are their IPv4 address, and so are ipv6 entries
 * inside ::ffff:0:0/96; other ipv6 entries (even "::/0") are family-matched. */
static void test_ip_mapped(void **state)
{
    static const struct {
        const char *acip;
        uint8_t fam, b[16];
        bool want;
    } rows[] = {
        {"{\"ipv6\":[\"::ffff:10.0.0.0/104\"]}", 4, {10, 1, 2, 3}, true},
        {"{\"ipv6\":[\"::ffff:10.0.0.0/104\"]}", 4, {11, 1, 2, 3}, false},
        {"{\"ipv6\":[\"::ffff:10.1.2.3\"]}", 4, {10, 1, 2, 3}, true},
        {"{\"ipv6\":[\"::ffff:10.1.2.3\"]}", 4, {10, 1, 2, 4}, false},
        {"{\"ipv6\":[\"::ffff:10.0.0.1/127\"]}", 4, {10, 0, 0, 0}, true},
        {"{\"ipv6\":[\"::ffff:10.0.0.1/127\"]}", 4, {10, 0, 0, 2}, false},
        {"{\"ipv6\":[\"::ffff:0:0/96\"]}", 4, {203, 0, 113, 9}, true},
        {"{\"ipv6\":[\"::ffff:0:0/95\"]}", 4, {203, 0, 113, 9}, false},
        {"{\"ipv6\":[\"::/0\"]}", 4, {203, 0, 113, 9}, false},
        {"{\"ipv6\":[\"::ffff:0:0/96\"]}", 6, {0x20, 1, 0x0d, 0xb8, [15] = 1}, false},
        /* a mapped source the pipeline did not reduce is reduced by the engine */
        {"{\"ipv4\":[\"10.0.0.0/8\"]}", 6, {[10] = 0xff, 0xff, 10, 1, 2, 3}, true},
        {"{\"ipv6\":[\"::ffff:10.0.0.0/104\"]}", 6, {[10] = 0xff, 0xff, 10, 1, 2, 3}, true},
        {"{\"ipv6\":[\"::/0\"]}", 6, {[10] = 0xff, 0xff, 10, 1, 2, 3}, false},
        {"{\"ipv6\":[\"::/0\"]}", 6, {[10] = 0xff, 0xfe, 10, 1, 2, 3}, true}, /* not mapped */
        {"{\"ipv4\":[\"10.0.0.0/8\"],\"ipv6\":[\"::ffff:11.0.0.0/104\",\"fd00::/8\"]}",
         4,
         {11, 0, 0, 1},
         true},
        {"{\"ipv4\":[\"10.0.0.0/8\"],\"ipv6\":[\"::ffff:11.0.0.0/104\",\"fd00::/8\"]}",
         6,
         {0xfd, [15] = 1},
         true},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char acrs[256], ctx[160];
        struct acp_request r = base();
        r.ip_family = rows[i].fam;
        memcpy(r.ip, rows[i].b, 16);
        snprintf(ctx, sizeof(ctx), "{\"acip\":%s}", rows[i].acip);
        if (permits(ctx_rule(acrs, sizeof(acrs), ctx), &r) != rows[i].want)
            fail_msg("row %zu: %s want %d", i, rows[i].acip, rows[i].want);
    }
}

/* The circle's edge: a distance equal to the radius is inside, one ulp less radius is outside. */
static void test_radius_edge(void **state)
{
    const double rad = 3.14159265358979323846 / 180.0;
    const double clat = 48.1, clon = 11.5, lat = 48.1031, lon = 11.5042;
    double a = sin((lat * rad - clat * rad) / 2), b = sin((lon * rad - clon * rad) / 2);
    double h = a * a + cos(clat * rad) * cos(lat * rad) * b * b;
    double d = 2 * 6371008.8 * asin(sqrt(h));
    char ctx[128], acrs[256];
    struct acp_request r = base();
    r.has_location = true;
    r.lat = lat;
    r.lon = lon;
    snprintf(ctx, sizeof(ctx), "{\"aclr\":{\"accr\":[%.17g,%.17g,%.17g]}}", clat, clon, d);
    CHECK(ctx_rule(acrs, sizeof(acrs), ctx), &r, true);
    snprintf(ctx, sizeof(ctx), "{\"aclr\":{\"accr\":[%.17g,%.17g,%.17g]}}", clat, clon,
             nextafter(d, 0));
    CHECK(ctx_rule(acrs, sizeof(acrs), ctx), &r, false);
    /* radius 0: only the centre itself */
    r.lat = clat;
    r.lon = clon;
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"aclr\":{\"accr\":[48.1,11.5,0]}}"), &r, true);
    r.lon = nextafter(clon, 12);
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"aclr\":{\"accr\":[48.1,11.5,0]}}"), &r, false);
    /* at the pole every longitude is the same point (to within rounding: cos 90 deg is 6e-17) */
    r.lat = 90;
    r.lon = 0;
    CHECK(ctx_rule(acrs, sizeof(acrs), "{\"aclr\":{\"accr\":[90,180,0.001]}}"), &r, true);
}

/* A3 step 3c: the default access policy (only the creator, when acpi is unset) is the pipeline's
 * job (cse/authz.c); the engine knows no creator, so no policy and empty policies deny everyone,
 * including the resource's creator. */
static void test_default_policy_not_in_engine(void **state)
{
    struct acp_request r = base();
    struct acp_decision d = {true, 1, 1};
    acp_decide(&r, NULL, 0, &d);
    assert_false(d.permit);
    struct acp_policy none[1] = {{"acp", NULL}};
    d.permit = true;
    acp_decide(&r, none, 1, &d);
    assert_false(d.permit);
    CHECK("{\"acr\":[]}", &r, false);
    CHECK("{}", &r, false);
    r.op = ACP_OP_CREATE; /* not even a Create by the owner of the parent */
    r.create_ty = 4;
    CHECK("{\"acr\":[]}", &r, false);
}

/* Object details at their edges: a Create without a type, the largest type, the first matching
 * element of several. */
static void test_object_details_edges(void **state)
{
    struct acp_request r = create_req(3, 0); /* no Resource Type parameter */
    CHECK(OBJD("[{\"chty\":[4]}]"), &r, false);
    CHECK(OBJD("[]"), &r, true);
    r = create_req(65535, 65535);
    CHECK(OBJD("[{\"ty\":65535,\"chty\":[65535]}]"), &r, true);
    CHECK(OBJD("[{\"ty\":65534,\"chty\":[65535]}]"), &r, false);
    r = create_req(2, 3);
    CHECK(OBJD("[{\"ty\":3,\"chty\":[3]},{\"ty\":2,\"chty\":[4]},{\"chty\":[3]}]"), &r, true);
    CHECK(OBJD("[{\"ty\":3,\"chty\":[3]},{\"ty\":2,\"chty\":[4]}]"), &r, false);
    /* Discovery, Notify, Delete of the same rule: acod does not apply */
    r.op = ACP_OP_DISCOVERY;
    CHECK(OBJD("[{\"ty\":3,\"chty\":[3]}]"), &r, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_edges),
        cmocka_unit_test(test_ip_mapped),
        cmocka_unit_test(test_radius_edge),
        cmocka_unit_test(test_default_policy_not_in_engine),
        cmocka_unit_test(test_object_details_edges),
        cmocka_unit_test(test_authn_truth_table),
        cmocka_unit_test(test_operation_bits),
        cmocka_unit_test(test_permit_overrides),
        cmocka_unit_test(test_time_windows),
        cmocka_unit_test(test_ip),
        cmocka_unit_test(test_location),
        cmocka_unit_test(test_context_combination),
        cmocka_unit_test(test_object_details),
        cmocka_unit_test(test_explain),
        cmocka_unit_test(test_spec_map_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
