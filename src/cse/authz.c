/* authz.c: builds the applicable policy set of a request (TS-0003 7.1, SPEC-MAP A3) and asks the
 * pure decision engine (src/acp). The system ACP (SYSTEM_ACP_RI) is added to every set so that the
 * admin's rights are policy data, visible and restrictable, never a bypass. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "cse/audit.h"
#include "cse/cse_internal.h"
#include "cse/location.h"

#define MAX_POLICIES 40

uint32_t authz_op_bit(const struct m2m_request *req)
{
    switch (req->op) {
    case M2M_OP_CREATE: return ACP_OP_CREATE;
    case M2M_OP_RETRIEVE:
        /* SPEC-MAP A7: fu=1 (discovery) selects the DISCOVERY bit. */
        return (req->has_fc && (req->fc.fu == 1 || req->fc.fu == 3)) ? ACP_OP_DISCOVERY
                                                                     : ACP_OP_RETRIEVE;
    case M2M_OP_UPDATE: return ACP_OP_UPDATE;
    case M2M_OP_DELETE: return ACP_OP_DELETE;
    case M2M_OP_NOTIFY: return ACP_OP_NOTIFY;
    default: return 0;
    }
}

static void fill_ip(const struct m2m_secctx *s, struct acp_request *a)
{
    if (s->peer_len == 0)
        return;
    if (s->peer.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&s->peer;
        a->has_ip = true;
        a->ip_family = 4;
        memcpy(a->ip, &in->sin_addr, 4);
    } else if (s->peer.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&s->peer;
        a->has_ip = true;
        /* [INTERP] SPEC-MAP A8: IPv4-mapped IPv6 sources are matched as IPv4. */
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            a->ip_family = 4;
            memcpy(a->ip, in6->sin6_addr.s6_addr + 12, 4);
        } else {
            a->ip_family = 6;
            memcpy(a->ip, in6->sin6_addr.s6_addr, 16);
        }
    }
}

static void fill_request(struct rq *q, uint32_t op_bit, int create_ty, struct res *target,
                         const cJSON *create_attrs, struct acp_request *a)
{
    memset(a, 0, sizeof *a);
    a->originator = q->orig_abs;
    a->originator_len = strlen(q->orig_abs);
    a->orig_kind = q->orig_kind;
    a->op = op_bit;
    a->create_ty = op_bit == ACP_OP_CREATE ? create_ty : 0;
    a->target_ty = target->ty;
    a->authenticated = q->authn;
    a->time = q->t;
    fill_ip(&q->req->sec, a);
    /* rq_loc (TS-0003 7.1.2, Annex F): from the operator's location table, never from the
     * device; unknown -> rules with a region do not match. */
    a->has_location = location_lookup(q->cse->locations, q->orig_abs, &a->lat, &a->lon, a->country);
    if (create_attrs) {
        const cJSON *cnd = cJSON_GetObjectItemCaseSensitive(create_attrs, "cnd");
        a->create_spty_cnd = cJSON_IsString(cnd) ? cnd->valuestring : NULL;
    }
}

/* The resource whose acpi governs `r` (A3 step 3a: types without acpi use their parent's). */
static struct res *acpi_holder(struct res *r)
{
    while (r != NULL && !restype_has_acpi(r->ty) && r->ty != TY_ACP)
        r = r->parent;
    return r;
}

/* The applicable policy set of one decision (TS-0003 7.1, SPEC-MAP A3), with the ACP resources
 * behind it (for group resolution and explanations). */
struct pset {
    struct acp_policy p[MAX_POLICIES];
    const struct res *acp[MAX_POLICIES];
    size_t n;
    const struct res *owner_of; /* the default policy applies: its creator is granted */
};

/* Appends the pv (or pvs) of each ACP listed in `ids`. Unresolvable references contribute no
 * rules ([INTERP] SPEC-MAP A3 step 4). Returns the number of listed entries. */
static size_t add_listed(struct rq *q, const cJSON *ids, bool self, struct pset *ps)
{
    size_t listed = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, ids)
    {
        if (!cJSON_IsString(e))
            continue;
        listed++;
        struct res *acp = cse_resolve_id(q->cse, e->valuestring);
        if (acp == NULL || acp->ty != TY_ACP || res_expired(acp, q->now_us) ||
            ps->n >= MAX_POLICIES - 1)
            continue;
        ps->acp[ps->n] = acp;
        ps->p[ps->n++] = (struct acp_policy){acp->ri, self ? acp->pvs : acp->pv};
    }
    return listed;
}

static void add_system(struct rq *q, bool self, struct pset *ps)
{
    struct res *sys = tree_by_ri(&q->cse->tree, SYSTEM_ACP_RI);
    if (sys != NULL && sys->ty == TY_ACP && ps->n < MAX_POLICIES) {
        ps->acp[ps->n] = sys;
        ps->p[ps->n++] = (struct acp_policy){sys->ri, self ? sys->pvs : sys->pv};
    }
}

static void pset_build(struct rq *q, struct res *target, enum authz_mode mode, struct pset *ps)
{
    memset(ps, 0, sizeof *ps);
    if (mode == AUTHZ_ACPI_UPDATE) {
        /* A3 step 2: an UPDATE of acpi is judged by the pvs of the ACPs currently linked, or by
         * the default policy when none is linked. */
        const cJSON *acpi = cJSON_GetObjectItemCaseSensitive(target->attrs, "acpi");
        if (add_listed(q, acpi, true, ps) == 0)
            ps->owner_of = target;
        add_system(q, true, ps);
        return;
    }
    if (mode == AUTHZ_FOPT) {
        /* A13: fan-out is judged by the group's macp (fallback: the group's own policies). */
        const cJSON *macp = cJSON_GetObjectItemCaseSensitive(target->attrs, "macp");
        if (cJSON_IsArray(macp) && cJSON_GetArraySize(macp) > 0) {
            add_listed(q, macp, false, ps);
            add_system(q, false, ps);
            return;
        }
    }
    if (target->ty == TY_ACP) {
        /* A3 step 1: R/U/D (and discovery) of an ACP are judged by its own pvs. */
        ps->acp[ps->n] = target;
        ps->p[ps->n++] = (struct acp_policy){target->ri, target->pvs};
        add_system(q, true, ps);
        return;
    }
    struct res *h = acpi_holder(target);
    const cJSON *acpi = h ? cJSON_GetObjectItemCaseSensitive(h->attrs, "acpi") : NULL;
    if (add_listed(q, acpi, false, ps) == 0 && h != NULL)
        ps->owner_of = h; /* A3 step 3c: default policy */
    add_system(q, false, ps);
}

/* ---- groups in acor (SPEC-MAP A6) ------------------------------------------------------------ */

#define GROUP_DEPTH 3
#define MAX_GROUPS 32

static bool is_member(struct rq *q, const struct res *grp, int depth)
{
    const cJSON *mid = cJSON_GetObjectItemCaseSensitive(grp->attrs, "mid");
    const cJSON *m;
    cJSON_ArrayForEach(m, mid)
    {
        if (!cJSON_IsString(m))
            continue;
        char id[512];
        snprintf(id, sizeof id, "%s", m->valuestring);
        size_t l = strlen(id);
        if (l > 5 && strcmp(id + l - 5, "/fopt") == 0)
            id[l - 5] = 0;
        struct res *r = cse_resolve_id(q->cse, id);
        if (r == NULL || res_expired(r, q->now_us))
            continue;
        char abs[M2M_ID_MAX + 160];
        const char *who = r->ty == TY_AE ? r->ri : r->ty == TY_CSR ? res_attr_str(r, "csi") : NULL;
        if (who != NULL &&
            acp_id_absolute(who, strlen(who), &q->cse->host, abs, sizeof abs) == M2M_OK &&
            strcmp(abs, q->orig_abs) == 0)
            return true;
        /* nested groups, bounded */
        if (r->ty == TY_GRP && depth + 1 < GROUP_DEPTH && r != grp && is_member(q, r, depth + 1))
            return true;
    }
    return false;
}

/* Collects the acor entries of the set that name <group>s the originator belongs to. Entries
 * that look like IDs of other kinds are resolved too: a group may have any resource ID. A group
 * that cannot be resolved never matches (A6: the rule fails, deny). */
static size_t find_groups(struct rq *q, const struct pset *ps, bool self, const char **out)
{
    size_t n = 0;
    for (size_t i = 0; i < ps->n && n < MAX_GROUPS; i++) {
        const struct res *acp = ps->acp[i];
        bool use_pvs = self || acp == NULL || ps->p[i].rules == acp->pvs;
        const cJSON *set = cJSON_GetObjectItemCaseSensitive(acp->attrs, use_pvs ? "pvs" : "pv");
        const cJSON *rule;
        cJSON_ArrayForEach(rule, cJSON_GetObjectItemCaseSensitive(set, "acr"))
        {
            const cJSON *e;
            cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(rule, "acor"))
            {
                const char *s = cJSON_GetStringValue(e);
                if (s == NULL || strcmp(s, "all") == 0 || strchr(s, '*') || strchr(s, '@') ||
                    n >= MAX_GROUPS)
                    continue;
                struct res *g = cse_resolve_id(q->cse, s);
                if (g != NULL && g->ty == TY_GRP && !res_expired(g, q->now_us) &&
                    is_member(q, g, 0))
                    out[n++] = s;
            }
        }
    }
    return n;
}

/* ---- audit and explanations -------------------------------------------------------------------
 */

static const char *op_name(uint32_t bit)
{
    switch (bit) {
    case ACP_OP_CREATE: return "CREATE";
    case ACP_OP_RETRIEVE: return "RETRIEVE";
    case ACP_OP_UPDATE: return "UPDATE";
    case ACP_OP_DELETE: return "DELETE";
    case ACP_OP_NOTIFY: return "NOTIFY";
    case ACP_OP_DISCOVERY: return "DISCOVERY";
    }
    return "?";
}

static void peer_text(const struct m2m_secctx *s, char *out, size_t n)
{
    out[0] = 0;
    if (s->peer.ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&s->peer)->sin_addr, out, (socklen_t)n);
    else if (s->peer.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&s->peer)->sin6_addr, out, (socklen_t)n);
}

/* Comma-joined names of the components in an acp_rule_fail mask. */
static void fail_text(unsigned m, char *out, size_t n)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{ACP_FAIL_ORIGINATOR, "originator"},       {ACP_FAIL_OPERATION, "operation"},
                 {ACP_FAIL_CONTEXT_TIME, "time"},           {ACP_FAIL_CONTEXT_IP, "ip"},
                 {ACP_FAIL_CONTEXT_LOCATION, "location"},   {ACP_FAIL_AUTHN, "authentication"},
                 {ACP_FAIL_OBJECT_DETAILS, "objectDetails"}};
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < M2M_ARRAY_LEN(names); i++)
        if (m & names[i].bit) {
            int w = snprintf(out + len, n - len, "%s%s", len ? "," : "", names[i].name);
            if (w < 0 || (size_t)w >= n - len)
                break;
            len += (size_t)w;
        }
}

static void audit_deny(struct rq *q, const struct acp_request *a, const struct pset *ps,
                       const char *what)
{
    if (q->cse->audit == NULL)
        return;
    /* the reason: every component that failed in some rule (details: the explain request) */
    unsigned all = 0;
    for (size_t i = 0; i < ps->n; i++)
        for (size_t k = 0; ps->p[i].rules && k < acp_ruleset_count(ps->p[i].rules); k++)
            all |= acp_rule_explain(a, ps->p[i].rules, k);
    char reason[160], peer[64];
    fail_text(all, reason, sizeof reason);
    if (ps->n == 0 || all == 0)
        snprintf(reason, sizeof reason, "%s", ps->owner_of ? "not-creator" : "no-rules");
    peer_text(&q->req->sec, peer, sizeof peer);
    struct audit_event e = {q->now_us, "decision",     q->orig_abs,
                            q->authn,  op_name(a->op), what,
                            "deny",    NULL,           -1,
                            reason,    peer,           RSC_ORIGINATOR_HAS_NO_PRIVILEGE};
    audit_write(q->cse->audit, &e);
}

void audit_change(struct rq *q, const char *event, const struct res *r)
{
    if (q->cse->audit == NULL)
        return;
    char peer[64];
    peer_text(&q->req->sec, peer, sizeof peer);
    const char *op = q->req->op == M2M_OP_CREATE   ? "CREATE"
                     : q->req->op == M2M_OP_UPDATE ? "UPDATE"
                                                   : "DELETE";
    struct audit_event e = {q->now_us, event, q->orig_abs, q->authn,
                            op,        r->ri, NULL,        r->ty == TY_ACP ? r->ri : NULL,
                            -1,        NULL,  peer,        q->resp->rsc};
    audit_write(q->cse->audit, &e);
}

/* ---- decisions ---------------------------------------------------------------------------------
 */

static bool is_creator(struct rq *q, const struct res *r)
{
    return r->creator != NULL && strcmp(r->creator, q->orig_abs) == 0;
}

static bool decide(struct rq *q, struct acp_request *a, const struct pset *ps, const char *what)
{
    /* A3 step 3c: the default policy grants everything to the creator and nothing to others. */
    if (ps->owner_of != NULL && is_creator(q, ps->owner_of)) {
        log_debug("permit %s: default policy (creator)", what);
        return true;
    }
    struct acp_decision d;
    acp_decide(a, ps->p, ps->n, &d);
    if (!d.permit) {
        /* Group entries need the tree; resolved only when the cheap decision denied. */
        const char *groups[MAX_GROUPS];
        size_t ng = find_groups(q, ps, false, groups);
        if (ng > 0) {
            a->groups = groups;
            a->n_groups = ng;
            acp_decide(a, ps->p, ps->n, &d);
            a->groups = NULL;
            a->n_groups = 0;
        }
    }
    if (d.permit)
        log_debug("permit %s for %s: %s rule %d", what, q->orig_abs, ps->p[d.policy_index].ri,
                  d.rule_index);
    else if (a->op == ACP_OP_DISCOVERY)
        log_debug("discovery omits %s for %s", what, q->orig_abs); /* A13: silent */
    else {
        log_info("deny %s op=%u for %s (%zu policies)", what, a->op, q->orig_abs, ps->n);
        audit_deny(q, a, ps, what);
    }
    return d.permit;
}

bool authz_check(struct rq *q, struct res *target, uint32_t op_bit, int create_ty,
                 const cJSON *create_attrs)
{
    if (q->orig_abs[0] == 0)
        return false; /* no originator: deny */
    struct pset ps;
    struct acp_request a;
    fill_request(q, op_bit, create_ty, target, create_attrs, &a);
    pset_build(q, target, AUTHZ_NORMAL, &ps);
    return decide(q, &a, &ps, target->ri);
}

bool authz_check_acpi_update(struct rq *q, struct res *target)
{
    struct pset ps;
    struct acp_request a;
    fill_request(q, ACP_OP_UPDATE, 0, target, NULL, &a);
    pset_build(q, target, AUTHZ_ACPI_UPDATE, &ps);
    return decide(q, &a, &ps, target->ri);
}

bool authz_check_fopt(struct rq *q, struct res *grp, uint32_t op_bit)
{
    struct pset ps;
    struct acp_request a;
    fill_request(q, op_bit, q->req->ty, grp, NULL, &a);
    pset_build(q, grp, AUTHZ_FOPT, &ps);
    return decide(q, &a, &ps, grp->ri);
}

/* ---- the explain request -----------------------------------------------------------------------
 */

static uint32_t parse_op(const char *s, size_t n, int *create_ty, bool *acpi)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } ops[] = {{"create", ACP_OP_CREATE},     {"retrieve", ACP_OP_RETRIEVE},
               {"update", ACP_OP_UPDATE},     {"delete", ACP_OP_DELETE},
               {"notify", ACP_OP_NOTIFY},     {"discovery", ACP_OP_DISCOVERY},
               {"update-acpi", ACP_OP_UPDATE}};
    *create_ty = 0;
    *acpi = false;
    const char *colon = memchr(s, ':', n);
    size_t base = colon ? (size_t)(colon - s) : n;
    for (size_t i = 0; i < M2M_ARRAY_LEN(ops); i++) {
        if (strlen(ops[i].name) != base || memcmp(s, ops[i].name, base) != 0)
            continue;
        if (colon != NULL) { /* "create:<ty>" */
            if (ops[i].bit != ACP_OP_CREATE)
                return 0;
            long ty = 0;
            for (const char *p = colon + 1; p < s + n; p++) {
                if (*p < '0' || *p > '9' || ty > 100000)
                    return 0;
                ty = ty * 10 + (*p - '0');
            }
            *create_ty = (int)ty;
        }
        *acpi = i == M2M_ARRAY_LEN(ops) - 1;
        return ops[i].bit;
    }
    return 0;
}

static cJSON *explain_json(struct rq *q2, struct res *target, struct acp_request *a,
                           const struct pset *ps, const char *opname)
{
    const char *groups[MAX_GROUPS];
    size_t ng = find_groups(q2, ps, false, groups);
    a->groups = groups;
    a->n_groups = ng;
    struct acp_decision d;
    acp_decide(a, ps->p, ps->n, &d);
    bool by_default = ps->owner_of != NULL && is_creator(q2, ps->owner_of);
    cJSON *root = cJSON_CreateObject();
    cJSON *o = cJSON_AddObjectToObject(root, "m2msec:explain");
    cJSON_AddStringToObject(o, "target", target->path);
    cJSON_AddStringToObject(o, "originator", q2->orig_abs);
    cJSON_AddStringToObject(o, "operation", opname);
    cJSON *as = cJSON_AddObjectToObject(o, "assumed");
    cJSON_AddFalseToObject(as, "authenticated");
    cJSON_AddNullToObject(as, "ip");
    cJSON_AddStringToObject(as, "time", "now");
    cJSON_AddStringToObject(o, "decision", (d.permit || by_default) ? "permit" : "deny");
    cJSON *dp = cJSON_AddObjectToObject(o, "defaultPolicy");
    cJSON_AddBoolToObject(dp, "applies", ps->owner_of != NULL);
    if (ps->owner_of) {
        cJSON_AddStringToObject(dp, "creator", ps->owner_of->creator ? ps->owner_of->creator : "");
        cJSON_AddBoolToObject(dp, "grants", by_default);
    }
    if (d.permit) {
        cJSON *by = cJSON_AddObjectToObject(o, "decidedBy");
        cJSON_AddStringToObject(by, "acp", ps->p[d.policy_index].ri);
        cJSON_AddNumberToObject(by, "rule", d.rule_index);
    }
    cJSON *gl = cJSON_AddArrayToObject(o, "groups");
    for (size_t i = 0; i < ng; i++)
        cJSON_AddItemToArray(gl, cJSON_CreateString(groups[i]));
    cJSON *pl = cJSON_AddArrayToObject(o, "policies");
    for (size_t i = 0; i < ps->n; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "acp", ps->p[i].ri);
        bool self = ps->acp[i] && ps->p[i].rules == ps->acp[i]->pvs;
        cJSON_AddStringToObject(p, "set", self ? "pvs" : "pv");
        cJSON_AddBoolToObject(p, "system", strcmp(ps->p[i].ri, SYSTEM_ACP_RI) == 0);
        cJSON *rl = cJSON_AddArrayToObject(p, "rules");
        size_t nr = ps->p[i].rules ? acp_ruleset_count(ps->p[i].rules) : 0;
        for (size_t k = 0; k < nr; k++) {
            unsigned m = acp_rule_explain(a, ps->p[i].rules, k);
            cJSON *r = cJSON_CreateObject();
            cJSON_AddNumberToObject(r, "rule", (double)k);
            cJSON_AddBoolToObject(r, "grants", m == 0);
            char txt[160];
            fail_text(m, txt, sizeof txt);
            cJSON *fl = cJSON_AddArrayToObject(r, "failed");
            char *save = NULL;
            for (char *t = strtok_r(txt, ",", &save); t; t = strtok_r(NULL, ",", &save))
                cJSON_AddItemToArray(fl, cJSON_CreateString(t));
            cJSON_AddItemToArray(rl, r);
        }
        cJSON_AddItemToArray(pl, p);
    }
    a->groups = NULL;
    a->n_groups = 0;
    return root;
}

void authz_explain(struct rq *q, struct res *target, const char *spec)
{
    /* Admin-only: the requester must be granted RETRIEVE by the system ACP's selfPrivileges,
     * i.e. be allowed to read the policy that defines administration. */
    struct res *sys = tree_by_ri(&q->cse->tree, SYSTEM_ACP_RI);
    if (sys == NULL || !authz_check(q, sys, ACP_OP_RETRIEVE, 0, NULL)) {
        m2m_response_error(q->resp, RSC_ORIGINATOR_HAS_NO_PRIVILEGE,
                           "explanations are for the administrator");
        return;
    }
    const char *slash = strchr(spec, '/');
    int create_ty;
    bool acpi;
    uint32_t op = slash ? parse_op(spec, (size_t)(slash - spec), &create_ty, &acpi) : 0;
    if (op == 0 || slash[1] == 0) {
        m2m_response_error(q->resp, RSC_BAD_REQUEST,
                           "use <target>/_explain/<create[:ty]|retrieve|update|update-acpi|delete|"
                           "notify|discovery>/<originator>");
        return;
    }
    /* the originator: "~/x" for SP-relative "/x", "_/x" for absolute "//x" (as in HTTP paths) */
    char orig[M2M_ID_MAX];
    const char *o = slash + 1;
    int n = o[0] == '~' && o[1] == '/'   ? snprintf(orig, sizeof orig, "/%s", o + 2)
            : o[0] == '_' && o[1] == '/' ? snprintf(orig, sizeof orig, "//%s", o + 2)
                                         : snprintf(orig, sizeof orig, "%s", o);
    struct m2m_request r2 = *q->req; /* shallow: nothing of it is freed here */
    memset(&r2.sec, 0, sizeof r2.sec);
    struct rq q2 = *q;
    q2.req = &r2;
    q2.authn = false;
    if (n < 0 || (size_t)n >= sizeof orig ||
        acp_id_absolute(orig, strlen(orig), &q->cse->host, q2.orig_abs, sizeof q2.orig_abs) !=
            M2M_OK) {
        m2m_response_error(q->resp, RSC_BAD_REQUEST, "invalid originator");
        return;
    }
    q2.orig_kind = cse_orig_kind(q->cse, q2.orig_abs);
    struct pset ps;
    struct acp_request a;
    fill_request(&q2, op, create_ty, target, NULL, &a);
    pset_build(&q2, target, acpi ? AUTHZ_ACPI_UPDATE : AUTHZ_NORMAL, &ps);
    char opname[32];
    snprintf(opname, sizeof opname, "%.*s", (int)(slash - spec), spec);
    q->resp->rsc = RSC_OK;
    (void)res_set_rsp_body(q, explain_json(&q2, target, &a, &ps, opname));
}
