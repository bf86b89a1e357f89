/* fuzz_acp_rules.c: libFuzzer target for the m2m:setOfAcrs compiler and the decision over what it
 * accepts (src/acp). Input: JSON text. */
#include <stdint.h>
#include <string.h>

#include "acp/acp.h"
#include "enc/json.h"

static const struct acp_host host = {"//sp.example", "/id-in"};

static void decide_all(const struct acp_ruleset *rs)
{
    static const char *const roles[] = {"r1@roles.example"};
    static const char *const groups[] = {"grp1", "/id-in/grp2"};
    static const char nul_orig[] = "//sp.example/id-in/Cae1\0x";
    struct acp_request reqs[4] = {
        {.originator = "//sp.example/id-in/Cae1",
         .orig_kind = ACP_ORIG_AE,
         .op = ACP_OP_CREATE,
         .create_ty = 4,
         .target_ty = 3,
         .authenticated = true,
         .time = {0, 0, 12, 3, 6, 1, 2024},
         .has_ip = true,
         .ip_family = 4,
         .ip = {10, 1, 2, 3},
         .has_location = true,
         .lat = 48.1,
         .lon = 11.5,
         .country = "DE"},
        {.originator = "//other.org/myCSE1",
         .orig_kind = ACP_ORIG_CSE,
         .op = ACP_OP_DISCOVERY,
         .role_ids = roles,
         .n_role_ids = 1,
         .groups = groups,
         .n_groups = 2,
         .time = {59, 59, 23, 31, 12, 0, 2099},
         .has_ip = true,
         .ip_family = 6,
         .ip = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
        {.originator = nul_orig,
         .originator_len = sizeof(nul_orig) - 1,
         .orig_kind = ACP_ORIG_AE,
         .op = ACP_OP_UPDATE},
        {.originator = "//sp.example/id-in/C*",
         .orig_kind = ACP_ORIG_AE,
         .op = ACP_OP_CREATE,
         .create_ty = 28,
         .target_ty = 28,
         .target_spty_cnd = "org.x",
         .create_spty_mgd = 1001,
         .time = {-1, 99, 24, 0, 13, 7, 1999},
         .has_location = true,
         .lat = 1e300,
         .lon = -1e300},
    };
    struct acp_policy pol[2] = {{"a", rs}, {"b", NULL}};
    for (size_t i = 0; i < 4; i++) {
        if (reqs[i].originator_len == 0)
            reqs[i].originator_len = strlen(reqs[i].originator);
        struct acp_decision d;
        acp_decide(&reqs[i], pol, 2, &d);
        if (d.permit && (d.policy_index != 0 || d.rule_index < 0))
            __builtin_trap();
        if (d.permit && acp_rule_explain(&reqs[i], rs, (size_t)d.rule_index) != 0)
            __builtin_trap(); /* decision and explanation must agree */
        size_t n = acp_ruleset_count(rs);
        for (size_t k = 0; k < n && k < 64; k++)
            if (acp_rule_explain(&reqs[i], rs, k) == 0 && (!d.permit || (size_t)d.rule_index > k))
                __builtin_trap(); /* a granting rule before the reported one */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *j = NULL;
    if (json_parse(data, size, 32, &j) != M2M_OK)
        return 0;
    struct acp_ruleset *rs = NULL;
    char err[256];
    if (acp_ruleset_compile(j, &host, &rs, err, sizeof(err)) == M2M_OK)
        decide_all(rs);
    else if (rs != NULL)
        __builtin_trap();
    acp_ruleset_free(rs);
    /* every string in the input is also tried as a single acor entry */
    for (const cJSON *c = j; c != NULL; c = c->child ? c->child : c->next)
        if (cJSON_IsString(c) && c->valuestring != NULL)
            (void)acp_originator_matches(c->valuestring, &host, "//sp.example/id-in/Cae1", 23,
                                         ACP_ORIG_AE);
    cJSON_Delete(j);
    return 0;
}
