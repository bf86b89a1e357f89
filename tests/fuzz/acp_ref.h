/* acp_ref.h: a slow, literal reference model of the TS-0003 7.1.5 access decision, used only by the
 * differential fuzzer (tests/fuzz/fuzz_acp_diff.c) against the engine in src/acp. It shares no
 * code with src/acp: only the public request, host and result types of acp/acp.h. */
#ifndef M2M_ACP_REF_H
#define M2M_ACP_REF_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "acp/acp.h"

/* Is `acrs` (an m2m:setOfAcrs value, or NULL / JSON null for "no rules") a valid privileges value
 * under host? On false, a short reason is written to why (may be NULL). The reference judges the
 * same input classes as invalid that SPEC-MAP A2/A6/A8/A10 say must be refused with 4000. */
bool acp_ref_valid(const cJSON *acrs, const struct acp_host *host, char *why, size_t whylen);

/* Number of rules of a valid set. */
size_t acp_ref_count(const cJSON *acrs);

/* res_acr(k) of TS-0003 7.1.5 for rule k of a valid set, as an acp_rule_fail bitmask with every
 * component evaluated: 0 means the rule grants. Out-of-range k gives all bits. */
unsigned acp_ref_rule(const cJSON *acrs, size_t k, const struct acp_host *host,
                      const struct acp_request *req);

/* res_acrs over the n policies (each a valid setOfAcrs or NULL) in order: permit-overrides. The
 * first granting policy and rule are reported, -1 when none grants. */
void acp_ref_decide(const cJSON *const *acrs, size_t n, const struct acp_host *host,
                    const struct acp_request *req, struct acp_decision *out);

#endif
