/* acp_decide.c: the pure access decision: TS-0003 7.1.5 permit-overrides over compiled rules
 * (SPEC-MAP A5, A7-A10). No I/O, clock, allocation or lock. */
#include <string.h>

#include "acp/acp_internal.h"

#define ACP_FAIL_ALL 0x7fu

/* Everything the rules need from the request, derived once per decision. */
static void rq_prepare(struct acp_rq *rq, const struct acp_request *req)
{
    const char *c = req->country;
    acp_rq_init(rq, req);
    acp_rq_ip(rq);
    rq->country = acp_country_code(c, c[0] == '\0' ? 0 : c[1] == '\0' ? 1 : c[2] == '\0' ? 2 : 3);
}

/* TS-0003 7.1.5: res_time, res_ip and res_loc of one context; each TRUE when its element is
 * absent. Unavailable request data (no address, no location) makes the test FALSE. */
static unsigned ctx_fail(const struct acp_ctx *x, struct acp_rq *rq, bool all)
{
    unsigned f = 0;
    size_t i;
    if (x->n_cron > 0) {
        for (i = 0; i < x->n_cron && !acp_cron_match(&x->cron[i], &rq->req->time); i++)
            ;
        if (i == x->n_cron && (f |= ACP_FAIL_CONTEXT_TIME) && !all)
            return f;
    }
    if (x->has_ip) {
        bool ok = false;
        for (i = 0; rq->ip4 && !ok && i < x->n_v4; i++)
            ok = acp_cidr4_match(&x->v4[i], rq->v4);
        for (i = 0; rq->ip6 && !ok && i < x->n_v6; i++)
            ok = acp_cidr6_match(&x->v6[i], rq->v6);
        if (!ok && (f |= ACP_FAIL_CONTEXT_IP) && !all)
            return f;
    }
    if (x->loc == ACP_LOC_CIRC && !acp_circ_match(&x->circ, rq))
        f |= ACP_FAIL_CONTEXT_LOCATION;
    if (x->loc == ACP_LOC_COUNTRY) {
        /* an empty country ("") never matches */
        for (i = 0; rq->country != 0 && i < x->n_cc && x->cc[i] != rq->country; i++)
            ;
        if (rq->country == 0 || i == x->n_cc)
            f |= ACP_FAIL_CONTEXT_LOCATION;
    }
    return f;
}

/* res_ctxts: OR over the contexts; absent or empty acco is TRUE ([INTERP] A5). When no context
 * grants, the failure bits of all contexts are reported. */
static unsigned ctxts_fail(const struct acp_rule *r, struct acp_rq *rq, bool all)
{
    unsigned u = 0;
    for (size_t k = 0; k < r->n_ctx; k++) {
        unsigned f = ctx_fail(&r->ctx[k], rq, all);
        if (f == 0)
            return 0;
        u |= f;
    }
    return u;
}

/* TS-0003 7.1.5 res_objdetails with the [INTERP] of SPEC-MAP A10: spty is compared with the
 * targeted resource when ty is given, else with the Content of the CREATE. */
static bool objd_elem(const struct acp_objd *d, const struct acp_request *req)
{
    if (d->ty != 0 && d->ty != req->target_ty)
        return false;
    if (d->spty == ACP_SPTY_CND) {
        const char *cnd = d->ty ? req->target_spty_cnd : req->create_spty_cnd;
        if (cnd == NULL || strcmp(cnd, d->cnd) != 0)
            return false;
    } else if (d->spty == ACP_SPTY_MGD) {
        int mgd = d->ty ? req->target_spty_mgd : req->create_spty_mgd;
        if (mgd == 0 || mgd != d->mgd)
            return false;
    }
    for (size_t j = 0; j < d->n_chty; j++)
        if (d->chty[j] == req->create_ty)
            return true;
    return false;
}

/* res_objd: Create only ([INTERP] A5); absent or empty acod is TRUE. */
static bool objd_ok(const struct acp_rule *r, const struct acp_request *req)
{
    if (req->op != ACP_OP_CREATE || r->n_objd == 0)
        return true;
    for (size_t m = 0; m < r->n_objd; m++)
        if (objd_elem(&r->objd[m], req))
            return true;
    return false;
}

/* res_origs: some acor entry matches. A literal ID entry whose hash differs from the
 * originator's cannot match as an ID, only as a <group> name, so without groups it is skipped
 * with one compare. */
static bool origs_ok(const struct acp_rule *r, const struct acp_rq *rq)
{
    if (!rq->orig_ok)
        return false;
    if (r->any_all)
        return true;
    bool groups = rq->req->groups != NULL && rq->req->n_groups > 0;
    if (!groups && (r->kinds & rq->kinds) == 0)
        return false; /* no entry of a kind this originator could match */
    bool ids = rq->kinds & (1u << ACP_OE_ID);
    for (size_t i = 0; i < r->n_orig; i++) {
        const struct acp_orig *o = &r->orig[i];
        if (o->type != ACP_OE_ID) {
            if (acp_orig_match(o, rq))
                return true;
            continue;
        }
        /* CSE-ID / AE-ID entries inline: segment count, then the hash of a literal entry */
        if (ids && o->nseg == rq->orig_nseg && (o->wild || o->hash == rq->hash) &&
            acp_orig_id_match(o, rq))
            return true;
        if (groups && acp_orig_in_groups(o, rq))
            return true;
    }
    return false;
}

/* TS-0003 7.1.5: res_acr(k) = res_authn AND res_origs AND res_ops AND res_ctxts AND res_objd,
 * cheapest tests first. */
unsigned acp_rule_eval(const struct acp_rule *r, struct acp_rq *rq, bool all)
{
    const struct acp_request *req = rq->req;
    unsigned f = 0;
    /* TS-0003 7.1.5 res_ops, SPEC-MAP A7: the operation's bit in acop (rq->op is 0 when the
     * request does not name exactly one operation) */
    if (!(rq->op & r->acop) && (f |= ACP_FAIL_OPERATION) && !all)
        return f;
    /* TS-0003 Table 7.1.5-1: a rule with acaf TRUE needs rq_authn TRUE */
    if (r->acaf && !req->authenticated && (f |= ACP_FAIL_AUTHN) && !all)
        return f;
    if (!origs_ok(r, rq) && (f |= ACP_FAIL_ORIGINATOR) && !all)
        return f;
    if (r->n_objd > 0 && !objd_ok(r, req) && (f |= ACP_FAIL_OBJECT_DETAILS) && !all)
        return f;
    return r->n_ctx > 0 ? f | ctxts_fail(r, rq, all) : f;
}

/* TS-0003 7.1.5: permit-overrides across the rules of every policy; DENY when none grants. */
void acp_decide(const struct acp_request *req, const struct acp_policy *policies, size_t n,
                struct acp_decision *out)
{
    if (out == NULL)
        return;
    out->permit = false;
    out->policy_index = -1;
    out->rule_index = -1;
    if (req == NULL || policies == NULL)
        return;
    struct acp_rq rq;
    rq_prepare(&rq, req);
    for (size_t p = 0; p < n && p < (size_t)INT32_MAX; p++) {
        const struct acp_ruleset *rs = policies[p].rules;
        for (size_t k = 0; rs != NULL && k < rs->n; k++)
            if (acp_rule_eval(&rs->rules[k], &rq, false) == 0) {
                out->permit = true;
                out->policy_index = (int)p;
                out->rule_index = (int)k;
                return;
            }
    }
}

unsigned acp_rule_explain(const struct acp_request *req, const struct acp_ruleset *rs, size_t idx)
{
    if (req == NULL || rs == NULL || idx >= rs->n)
        return ACP_FAIL_ALL;
    struct acp_rq rq;
    rq_prepare(&rq, req);
    return acp_rule_eval(&rs->rules[idx], &rq, true);
}
