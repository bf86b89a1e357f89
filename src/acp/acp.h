/* acp.h: the access-control decision engine of TS-0003 7.1 (SPEC-MAP A2-A11).
 *
 * Two halves:
 *  - compilation: an m2m:setOfAcrs JSON value ("pv" or "pvs" of an <accessControlPolicy>) is
 *    validated and compiled once into an acp_ruleset (normalised originators, parsed cron fields,
 *    parsed CIDRs). Used both to validate CREATE/UPDATE of an ACP (4000 on failure) and to build
 *    the cached policy that decisions read.
 *  - decision: acp_decide() is a pure function: no I/O, no clock read, no allocation, no locks.
 *    The pipeline passes the time, the source address, the authenticated flag and the policy set.
 */
#ifndef M2M_ACP_H
#define M2M_ACP_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"

/* accessControlOperations bits (TS-0004 6.3.4.2.29, SPEC-MAP A7). */
enum acp_op_bit {
    ACP_OP_CREATE = 1,
    ACP_OP_RETRIEVE = 2,
    ACP_OP_UPDATE = 4,
    ACP_OP_DELETE = 8,
    ACP_OP_NOTIFY = 16,
    ACP_OP_DISCOVERY = 32,
    ACP_OP_ALL = 63,
};

/* Identity of the hosting CSE: needed to normalise SP-relative and CSE-relative IDs (A6). */
struct acp_host {
    const char *sp_id; /* absolute M2M-SP-ID, e.g. "//m2msec.example.com" */
    const char *csi;   /* SP-relative CSE-ID of this CSE, e.g. "/id-in" */
};

struct acp_ruleset; /* opaque, compiled, immutable after compilation */

/* Compiles an m2m:setOfAcrs value ({"acr":[...]}) under host. Validation failures (unknown
 * member, wrong type, acop outside 1..63, malformed actw/acip/aclr, acod without chty, spty
 * missing for ty 13/28, both accr and accc) give M2M_ERR_MALFORMED and a message in err.
 * A NULL or JSON-null `acrs` compiles to an empty ruleset. `acco` given as one object is accepted
 * as a one-element list ([INTERP] SPEC-MAP A2); 6-field actw entries are taken as year "*".
 * Originator entries: a bare ID with a '/' ("Sx/y") is a <group> ID, not an AE-ID pattern; ipv6
 * entries inside ::ffff:0:0/96 name IPv4 addresses and match IPv4 sources ([INTERP] A8). */
M2M_WARN_UNUSED m2m_rc acp_ruleset_compile(const cJSON *acrs, const struct acp_host *host,
                                           struct acp_ruleset **out, char *err, size_t errlen);
void acp_ruleset_free(struct acp_ruleset *rs);
size_t acp_ruleset_count(const struct acp_ruleset *rs);

/* A policy as the decision sees it: the compiled pv or pvs of one <accessControlPolicy>. */
struct acp_policy {
    const char *ri; /* resourceID of the ACP, for the decision's explanation */
    const struct acp_ruleset *rules;
};

/* Broken-down UTC time of the request (the pipeline converts rq_time; the engine reads no clock).
 */
struct acp_time {
    int sec, min, hour, mday, mon /* 1-12 */, wday /* 0 = Sunday */, year;
};

/* Kind of originator after normalisation by the pipeline. */
enum acp_orig_kind { ACP_ORIG_AE = 1, ACP_ORIG_CSE = 2, ACP_ORIG_OTHER = 3 };

/* The request descriptor: every input of TS-0003 7.1.2 Table 7.1.2-1. */
struct acp_request {
    const char *originator; /* absolute form, e.g. "//sp/id-in/Cae1", "//sp/Sae1", "//sp/id-mn" */
    size_t originator_len;  /* explicit length: an embedded NUL never matches */
    enum acp_orig_kind orig_kind;
    const char *const *role_ids; /* validated role IDs (roles issue), may be NULL */
    size_t n_role_ids;
    const char *const *groups; /* IDs of <group>s the pipeline found the originator to be a member
                                  of, as they appear in acor entries (issue 3), may be NULL */
    size_t n_groups;
    uint32_t op;                 /* exactly one acp_op_bit */
    int create_ty;               /* resource type being created (op == CREATE), else 0 */
    int target_ty;               /* type of the addressed resource (the parent on CREATE) */
    const char *target_spty_cnd; /* containerDefinition of the target (ty 28), NULL if none */
    int target_spty_mgd;         /* mgmtDefinition of the target (ty 13), 0 if none */
    const char *create_spty_cnd; /* cnd in the CREATE content, NULL if none */
    int create_spty_mgd;         /* mgd in the CREATE content, 0 if none */
    bool authenticated;          /* rq_authn (TS-0003 7.1.2) */
    struct acp_time time;        /* rq_time, UTC */
    bool has_ip;
    int ip_family; /* 4 or 6; an IPv4-mapped IPv6 address is matched as IPv4 */
    uint8_t ip[16];
    bool has_location; /* rq_loc available */
    double lat, lon;
    char country[3]; /* ISO 3166-1 alpha-2 or "" */
};

/* Why a rule did not grant (bitmask); 0 means the rule granted. */
enum acp_rule_fail {
    ACP_FAIL_ORIGINATOR = 1,
    ACP_FAIL_OPERATION = 2,
    ACP_FAIL_CONTEXT_TIME = 4,
    ACP_FAIL_CONTEXT_IP = 8,
    ACP_FAIL_CONTEXT_LOCATION = 16,
    ACP_FAIL_AUTHN = 32,
    ACP_FAIL_OBJECT_DETAILS = 64,
};

struct acp_decision {
    bool permit;
    int policy_index; /* index into the policy array of the deciding (first permitting) policy, -1
                       */
    int rule_index;   /* index of the permitting rule within that policy, -1 */
};

/* TS-0003 7.1.5 permit-overrides: PERMIT iff some rule of some policy has res_authn, res_origs,
 * res_ops, res_ctxts and res_objd all TRUE. Any indeterminate input makes the rule FALSE.
 * Pure: no I/O, clock, allocation or lock. NULL policies or rules contribute nothing. */
void acp_decide(const struct acp_request *req, const struct acp_policy *policies, size_t n,
                struct acp_decision *out);

/* For explanations: evaluates one rule and returns the acp_rule_fail bitmask (0 = grants). */
unsigned acp_rule_explain(const struct acp_request *req, const struct acp_ruleset *rs, size_t idx);

/* A6 originator matching, exposed for tests and for pipeline checks: does the acor entry (already
 * normalised by compile, or raw with host given) match the absolute originator? */
bool acp_originator_matches(const char *entry, const struct acp_host *host, const char *originator,
                            size_t originator_len, enum acp_orig_kind kind);

/* Normalises an ID to absolute form per SPEC-MAP A6 step 1: "Cx"/"Sx" stem (registered with the
 * CSE `host`) -> "//sp/csi/Cx" or "//sp/Sx"; "/csi" or "/csi/x" -> "//sp/csi..."; "//..." kept.
 * Returns M2M_ERR_MALFORMED for empty input, whitespace, or NUL; M2M_ERR_LIMIT if outlen too small.
 */
M2M_WARN_UNUSED m2m_rc acp_id_absolute(const char *id, size_t id_len, const struct acp_host *host,
                                       char *out, size_t outlen);

#endif
