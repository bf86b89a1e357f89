/* authz.c: builds the applicable policy set of a request (TS-0003 7.1, SPEC-MAP A3) and asks the
 * pure decision engine (src/acp). The system ACP (SYSTEM_ACP_RI) is added to every set so that the
 * admin's rights are policy data, visible and restrictable, never a bypass. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "cse/cse_internal.h"

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

/* Appends the pv (or pvs) of each ACP listed in `ids`. Unresolvable references contribute no
 * rules ([INTERP] SPEC-MAP A3 step 4). Returns the number of listed entries. */
static size_t add_listed(struct rq *q, const cJSON *ids, bool self, struct acp_policy *set,
                         size_t *n)
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
            *n >= MAX_POLICIES - 1)
            continue;
        set[(*n)++] = (struct acp_policy){acp->ri, self ? acp->pvs : acp->pv};
    }
    return listed;
}

static void add_system(struct rq *q, bool self, struct acp_policy *set, size_t *n)
{
    struct res *sys = tree_by_ri(&q->cse->tree, SYSTEM_ACP_RI);
    if (sys != NULL && sys->ty == TY_ACP)
        set[(*n)++] = (struct acp_policy){sys->ri, self ? sys->pvs : sys->pv};
}

static bool decide(struct rq *q, const struct acp_request *a, const struct acp_policy *set,
                   size_t n, bool default_policy_owner, const char *what)
{
    /* A3 step 3c: the default policy grants everything to the creator and nothing to others. */
    if (default_policy_owner) {
        log_debug("permit %s: default policy (creator)", what);
        return true;
    }
    struct acp_decision d;
    acp_decide(a, set, n, &d);
    if (d.permit)
        log_debug("permit %s for %s: %s rule %d", what, q->orig_abs, set[d.policy_index].ri,
                  d.rule_index);
    else if (a->op == ACP_OP_DISCOVERY)
        log_debug("discovery omits %s for %s", what, q->orig_abs); /* A13: silent */
    else
        log_info("deny %s op=%u for %s (%zu policies)", what, a->op, q->orig_abs, n);
    return d.permit;
}

static bool is_creator(struct rq *q, const struct res *r)
{
    return r->creator != NULL && strcmp(r->creator, q->orig_abs) == 0;
}

bool authz_check(struct rq *q, struct res *target, uint32_t op_bit, int create_ty,
                 const cJSON *create_attrs)
{
    if (q->orig_abs[0] == 0)
        return false; /* no originator: deny */
    struct acp_policy set[MAX_POLICIES];
    size_t n = 0;
    struct acp_request a;
    fill_request(q, op_bit, create_ty, target, create_attrs, &a);
    bool owner = false;
    if (target->ty == TY_ACP) {
        /* A3 step 1: R/U/D (and discovery) of an ACP are judged by its own pvs. */
        set[n++] = (struct acp_policy){target->ri, target->pvs};
        add_system(q, true, set, &n);
    } else {
        struct res *h = acpi_holder(target);
        const cJSON *acpi = h ? cJSON_GetObjectItemCaseSensitive(h->attrs, "acpi") : NULL;
        size_t listed = add_listed(q, acpi, false, set, &n);
        if (listed == 0 && h != NULL)
            owner = is_creator(q, h);
        add_system(q, false, set, &n);
    }
    return decide(q, &a, set, n, owner, target->ri);
}

/* A3 step 2: an UPDATE of acpi is judged by the pvs of the ACPs currently linked (or by the
 * default policy when none is linked). */
bool authz_check_acpi_update(struct rq *q, struct res *target)
{
    struct acp_policy set[MAX_POLICIES];
    size_t n = 0;
    struct acp_request a;
    fill_request(q, ACP_OP_UPDATE, 0, target, NULL, &a);
    const cJSON *acpi = cJSON_GetObjectItemCaseSensitive(target->attrs, "acpi");
    size_t listed = add_listed(q, acpi, true, set, &n);
    bool owner = listed == 0 && is_creator(q, target);
    add_system(q, true, set, &n);
    return decide(q, &a, set, n, owner, target->ri);
}

/* A13: group fan-out is judged by the group's macp (fallback: the group's own policies). */
bool authz_check_fopt(struct rq *q, struct res *grp, uint32_t op_bit)
{
    const cJSON *macp = cJSON_GetObjectItemCaseSensitive(grp->attrs, "macp");
    if (!cJSON_IsArray(macp) || cJSON_GetArraySize(macp) == 0)
        return authz_check(q, grp, op_bit, q->req->ty, NULL);
    struct acp_policy set[MAX_POLICIES];
    size_t n = 0;
    struct acp_request a;
    fill_request(q, op_bit, q->req->ty, grp, NULL, &a);
    add_listed(q, macp, false, set, &n);
    add_system(q, false, set, &n);
    return decide(q, &a, set, n, false, grp->ri);
}
