/* acp_origin_test.c: accessControlOriginators normalisation and matching (SPEC-MAP A6, TV2,
 * TS-0003 Table 7.1.3-2), through acp_id_absolute, acp_originator_matches and acp_decide. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "acp/acp.h"
#include "enc/json.h"

static const struct acp_host HOST = {"//sp.example", "/id-in"};

struct mrow {
    const char *entry;
    const char *orig;
    enum acp_orig_kind kind;
    bool expect;
};

#define AE ACP_ORIG_AE
#define CSE ACP_ORIG_CSE

static const struct mrow rows[] = {
    /* keyword all, lone '*' ([INTERP] A6) */
    {"all", "//sp.example/id-in/Cae1", AE, true},
    {"all", "//other.org/x", CSE, true},
    {"*", "//sp.example/id-in/Cae1", AE, true},
    {"*", "//sp.example/id-mn", CSE, true},
    {"ALL", "//sp.example/id-in/Cae1", AE, false},
    /* CSE-ID absolute (Table 7.1.3-2) */
    {"//m2msp.org/myCSEID", "//m2msp.org/myCSEID", CSE, true},
    {"//m2msp.org/myCSEID", "//m2msp.org/myCSEID2", CSE, false},
    {"//m2msp.org/myCSEID", "//m2msp.org/myCSEID/C1", AE, false}, /* not AEs under the CSE */
    {"//*/myCSEID", "//other.org/myCSEID", CSE, true},
    {"//*/myCSEID", "//other.org/myCSEIDx", CSE, false},
    {"//*/myCSEID", "//a/b/myCSEID", AE, false},
    {"//*/myCSE*", "//a.b/myCSE42", CSE, true},
    {"//*/myCSE*", "//a.b/yourCSE", CSE, false},
    {"//*/myCSE*", "//a.b/myCSE42/C1", AE, false},
    /* CSE-ID SP-relative: the hosting SP */
    {"/myCSEID", "//sp.example/myCSEID", CSE, true},
    {"/myCSEID", "//other.org/myCSEID", CSE, false},
    {"/myCSE*", "//sp.example/myCSE7", CSE, true},
    {"/myCSE*", "//sp.example/myCSE", CSE, true},
    {"/myCSE*", "//sp.example/myCSE7/Cae", AE, false},
    /* AE-ID absolute */
    {"//m2msp.org/S988", "//m2msp.org/S988", AE, true},
    {"//m2msp.org/S988", "//m2msp.org/S9889", AE, false},
    {"//*/myCSEID/C9886", "//x.org/myCSEID/C9886", AE, true},
    {"//*/myCSEID/C9886", "//x.org/myCSEID/C9886", CSE, false},
    {"//*/myCSE*/C9886", "//sp.a/myCSE42/C9886", AE, true},
    {"//*/myCSE*/C9886", "//sp.a/myCSE42/sub/C9886", AE, false}, /* TV2 */
    /* AE-ID SP-relative */
    {"/myCSEID/C9886", "//sp.example/myCSEID/C9886", AE, true},
    {"/myCSEID/C98*", "//sp.example/myCSEID/C98x", AE, true}, /* TV2: From C98x at /myCSEID */
    {"/myCSEID/C98*", "//sp.example/myCSEID/C97x", AE, false},
    {"/myCSEID/C98*", "//sp.example/myCSEID/C98x/y", AE, false},
    {"/myCSE*/C98*", "//sp.example/myCSE1/C981", AE, true},
    {"/myCSE*/C98*", "//sp.example/yourCSE/C981", AE, false},
    {"/SmyAE*", "//sp.example/SmyAE1", AE, true},
    {"/SmyAE*", "//sp.example/myCSE1/SmyAE1", AE, false}, /* TV2 */
    /* bare stems ([INTERP] A6, TR-0051 examples) */
    {"Cae1", "//sp.example/id-in/Cae1", AE, true},
    {"Cae1", "//sp.example/id-mn/Cae1", AE, false},
    {"Cae*", "//sp.example/id-in/Cae42", AE, true},
    {"Sae1", "//sp.example/Sae1", AE, true},
    {"Sae1", "//sp.example/id-in/Sae1", AE, false},
    /* '*' never crosses '/' */
    {"//sp.example/*", "//sp.example/id-in/Cae1", AE, false},
    {"//sp.example/id-in/*", "//sp.example/id-in/Cae1", AE, true},
    {"//*", "//sp.example/id-in/Cae1", AE, true}, /* domain with a wildcard label */
    {"/*", "//sp.example/id-in", CSE, true},
    {"/*", "//sp.example/id-in/Cae1", AE, false},
    {"/*/*", "//sp.example/id-in/Cae1", AE, true},
    {"/*/*", "//sp.example/id-in", CSE, false},
    /* case-sensitive */
    {"//sp.example/id-in/CAE1", "//sp.example/id-in/Cae1", AE, false},
    {"Cae1", "//SP.example/id-in/Cae1", AE, false},
    /* a '*' in the originator is literal */
    {"//sp.example/id-in/Cae1", "//sp.example/id-in/C*", AE, false},
    {"/myCSE*", "*", CSE, false},
    {"Cae1", "*", AE, false},
    {"/id-in/C*", "//sp.example/id-in/C*", AE, true},
    /* domain entries */
    {"//sp.example", "//sp.example/id-in/Cae1", AE, true},
    {"//sp.example", "//sp.example/id-in", CSE, true},
    {"//sp.example", "//sp.example/Sae1", AE, true},
    {"//sp.example", "//sub.sp.example/id-x", CSE, true},
    {"//sp.example", "//xsp.example/id-x", CSE, false},
    {"//sp.example", "//sp.example.evil/id-x", CSE, false},
    {"//sp.example", "//other.org/id-in", CSE, false},
    {"//a.sp.example", "//sp.example/id-in", CSE, false},
    {"//*.sp.example", "//a.sp.example/id-x", CSE, true},
    {"//*.sp.example", "//b.a.sp.example/id-x", CSE, true},
    {"//*.sp.example", "//sp.example/id-x", CSE, false},
    {"//sp.*", "//sp.example/id-x", CSE, true},
    {"//sp.*", "//sq.example/id-x", CSE, false},
    /* originators not in absolute form never match IDs or domains */
    {"Cae1", "Cae1", AE, false},
    {"/id-in", "/id-in", CSE, false},
    {"//sp.example", "sp.example", CSE, false},
    /* kind OTHER matches no CSE-ID / AE-ID entry, and no domain entry either: TS-0003 7.1.3 puts
     * "all AE-IDs and CSE-IDs" in a domain, not other IDs (differential fuzzer finding) */
    {"/id-in", "//sp.example/id-in", ACP_ORIG_OTHER, false},
    {"//sp.example", "//sp.example", ACP_ORIG_OTHER, false},
    {"//sp.example", "//sp.example/id-in/a/b", ACP_ORIG_OTHER, false},
    {"//*", "//sp.example/id-in/a/b", ACP_ORIG_OTHER, false},
    {"//sp.example", "//sp.example/id-in/a/b", AE, true},
    /* TS-0001 7.2: an AE-ID-Stem has no '/': "Sae1/x" and "C/" are <group> IDs, not patterns */
    {"Sae1/x", "//sp.example/Sae1/x", AE, false},
    {"C/", "//sp.example/id-in/C/", AE, false},
    {"all", "//sp.example/id-in", ACP_ORIG_OTHER, true},
    /* role and group entries never match here (no role or group lists) */
    {"r1@roles.example", "//sp.example/id-in/Cae1", AE, false},
    {"grp1", "//sp.example/id-in/Cae1", AE, false},
    /* malformed entries never match */
    {"", "//sp.example/id-in/Cae1", AE, false},
    {"C ae1", "//sp.example/id-in/C ae1", AE, false},
    {"//sp..example", "//sp..example/x", CSE, false},
};

static void test_match_table(void **state)
{
    int bad = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct mrow *r = &rows[i];
        bool got = acp_originator_matches(r->entry, &HOST, r->orig, strlen(r->orig), r->kind);
        if (got != r->expect) {
            print_error("row %zu: entry \"%s\" originator \"%s\" kind %d: got %d want %d\n", i,
                        r->entry, r->orig, (int)r->kind, got, r->expect);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_embedded_nul(void **state)
{
    static const char o[] = "//sp.example/id-in/Cae1\0junk";
    assert_true(acp_originator_matches("Cae1", &HOST, o, strlen(o), AE));
    assert_false(acp_originator_matches("Cae1", &HOST, o, sizeof(o) - 1, AE));
    assert_false(acp_originator_matches("all", &HOST, o, sizeof(o) - 1, AE));
    assert_false(acp_originator_matches("//sp.example", &HOST, o, sizeof(o) - 1, AE));
    /* a length shorter than the string compares only that prefix */
    assert_false(acp_originator_matches("Cae1", &HOST, o, 20, AE));
    assert_false(acp_originator_matches("all", &HOST, NULL, 0, AE));
    assert_false(acp_originator_matches("all", &HOST, o, 0, AE));
    assert_false(acp_originator_matches(NULL, &HOST, o, strlen(o), AE));
}

static void test_relative_without_host(void **state)
{
    assert_false(acp_originator_matches("Cae1", NULL, "//sp.example/id-in/Cae1", 23, AE));
    assert_true(
        acp_originator_matches("//sp.example/id-in/Cae1", NULL, "//sp.example/id-in/Cae1", 23, AE));
    assert_true(acp_originator_matches("all", NULL, "//sp.example/id-in/Cae1", 23, AE));
}

static void test_id_absolute(void **state)
{
    char out[128];
    static const struct {
        const char *in, *want;
    } ok[] = {
        {"Cx", "//sp.example/id-in/Cx"},  {"Sx", "//sp.example/Sx"},
        {"/csi", "//sp.example/csi"},     {"/csi/Cx", "//sp.example/csi/Cx"},
        {"//a.org/b/Cc", "//a.org/b/Cc"}, {"cnt1", "//sp.example/id-in/cnt1"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(acp_id_absolute(ok[i].in, strlen(ok[i].in), &HOST, out, sizeof(out)),
                         M2M_OK);
        assert_string_equal(out, ok[i].want);
    }
    assert_int_equal(acp_id_absolute("", 0, &HOST, out, sizeof(out)), M2M_ERR_MALFORMED);
    assert_int_equal(acp_id_absolute(NULL, 3, &HOST, out, sizeof(out)), M2M_ERR_MALFORMED);
    assert_int_equal(acp_id_absolute("C x", 3, &HOST, out, sizeof(out)), M2M_ERR_MALFORMED);
    assert_int_equal(acp_id_absolute("C\tx", 3, &HOST, out, sizeof(out)), M2M_ERR_MALFORMED);
    assert_int_equal(acp_id_absolute("C\0x", 3, &HOST, out, sizeof(out)), M2M_ERR_MALFORMED);
    assert_int_equal(acp_id_absolute("Cx", 2, &HOST, out, 21), M2M_ERR_LIMIT);
    assert_int_equal(acp_id_absolute("Cx", 2, &HOST, out, 22), M2M_OK);
    assert_int_equal(acp_id_absolute("//a/b", 5, &HOST, out, 5), M2M_ERR_LIMIT);
    assert_int_equal(acp_id_absolute("Cx", 2, NULL, out, sizeof(out)), M2M_ERR_CONFIG);
    struct acp_host bad = {"sp.example", "/id-in"};
    assert_int_equal(acp_id_absolute("Cx", 2, &bad, out, sizeof(out)), M2M_ERR_CONFIG);
    /* only the given length is read */
    assert_int_equal(acp_id_absolute("CxJUNK", 2, &HOST, out, sizeof(out)), M2M_OK);
    assert_string_equal(out, "//sp.example/id-in/Cx");
}

/* Role IDs and groups go through the request lists, so test them through acp_decide. */
static bool decide(const char *acrs, const struct acp_request *req)
{
    cJSON *j = NULL;
    struct acp_ruleset *rs = NULL;
    char err[200];
    assert_int_equal(json_parse((const uint8_t *)acrs, strlen(acrs), 32, &j), M2M_OK);
    if (acp_ruleset_compile(j, &HOST, &rs, err, sizeof(err)) != M2M_OK)
        fail_msg("compile %s: %s", acrs, err);
    struct acp_policy p = {"acp1", rs};
    struct acp_decision d;
    acp_decide(req, &p, 1, &d);
    acp_ruleset_free(rs);
    cJSON_Delete(j);
    return d.permit;
}

static struct acp_request req_for(const char *orig)
{
    struct acp_request r = {.originator = orig,
                            .originator_len = strlen(orig),
                            .orig_kind = ACP_ORIG_AE,
                            .op = ACP_OP_RETRIEVE,
                            .time = {0, 0, 12, 3, 6, 1, 2024}};
    return r;
}

static void test_roles(void **state)
{
    const char *roles[] = {"r2@roles.example", "r1@roles.example"};
    const char *acrs = "{\"acr\":[{\"acor\":[\"r1@roles.example\"],\"acop\":2}]}";
    struct acp_request r = req_for("//sp.example/id-in/Cae1");
    assert_false(decide(acrs, &r));
    r.role_ids = roles;
    r.n_role_ids = 1;
    assert_false(decide(acrs, &r));
    r.n_role_ids = 2;
    assert_true(decide(acrs, &r));
    /* roles are exact strings: no wildcard, no prefix match, case-sensitive */
    assert_false(decide("{\"acr\":[{\"acor\":[\"r*@roles.example\"],\"acop\":2}]}", &r));
    assert_false(decide("{\"acr\":[{\"acor\":[\"r1@roles.exampl\"],\"acop\":2}]}", &r));
    assert_false(decide("{\"acr\":[{\"acor\":[\"R1@roles.example\"],\"acop\":2}]}", &r));
    /* a role entry is not matched against the originator */
    struct acp_request r2 = req_for("r1@roles.example");
    assert_false(decide(acrs, &r2));
}

static void test_groups(void **state)
{
    const char *groups[] = {"grp1", "/id-in/grp7"};
    struct acp_request r = req_for("//sp.example/id-in/Cae1");
    const char *a1 = "{\"acr\":[{\"acor\":[\"grp1\"],\"acop\":2}]}";
    const char *a2 = "{\"acr\":[{\"acor\":[\"/id-in/grp7\"],\"acop\":2}]}";
    const char *a3 = "{\"acr\":[{\"acor\":[\"grp9\",\"/id-in/grp1\"],\"acop\":2}]}";
    assert_false(decide(a1, &r));
    assert_false(decide(a2, &r));
    r.groups = groups;
    r.n_groups = 2;
    assert_true(decide(a1, &r));
    assert_true(decide(a2, &r));  /* a structured group ID looks like an AE-ID: still a group */
    assert_false(decide(a3, &r)); /* exact string compare, no normalisation */
    assert_false(decide("{\"acr\":[{\"acor\":[\"grp*\"],\"acop\":2}]}", &r));
    /* bare IDs with a '/' are group names, matched as written */
    const char *g2[] = {"Sae1/x", "C/"};
    struct acp_request rs = req_for("//sp.example/Sae1/x");
    assert_false(decide("{\"acr\":[{\"acor\":[\"Sae1/x\",\"C/\"],\"acop\":2}]}", &rs));
    rs.groups = g2;
    rs.n_groups = 1;
    assert_true(decide("{\"acr\":[{\"acor\":[\"Sae1/x\"],\"acop\":2}]}", &rs));
    rs.groups = g2 + 1;
    assert_true(decide("{\"acr\":[{\"acor\":[\"C/\"],\"acop\":2}]}", &rs));
    assert_false(decide("{\"acr\":[{\"acor\":[\"Sae1/x\"],\"acop\":2}]}", &rs));
    /* an embedded-NUL originator denies even with groups */
    static const char o[] = "//sp.example/id-in/Cae1\0x";
    r.originator = o;
    r.originator_len = sizeof(o) - 1;
    assert_false(decide(a1, &r));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_table),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_relative_without_host),
        cmocka_unit_test(test_id_absolute),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
