/* discovery.c: filter criteria (TS-0004 7.3.3.17) and discovery (fu=1). Resources the
 * originator may not DISCOVER are silently left out (SPEC-MAP A13). */
#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"
#include "cse/cse_internal.h"

static bool has_label(const struct res *r, const char *l)
{
    const cJSON *lbl = cJSON_GetObjectItemCaseSensitive(r->attrs, "lbl");
    const cJSON *e;
    cJSON_ArrayForEach(e, lbl)
    {
        if (cJSON_IsString(e) && strcmp(e->valuestring, l) == 0)
            return true;
    }
    return false;
}

/* Matching per condition; conditions are ANDed (fo=1, default) or ORed (fo=2). Within one
 * multi-valued condition (ty, lbl) values are ORed. */
bool disc_matches(const struct m2m_filter *f, const struct res *r)
{
    bool or_mode = f->fo == 2;
    int n_cond = 0, n_true = 0;
#define COND(x)                                                                                    \
    do {                                                                                           \
        n_cond++;                                                                                  \
        n_true += (x) ? 1 : 0;                                                                     \
    } while (0)
    if (f->n_ty) {
        bool m = false;
        for (size_t i = 0; i < f->n_ty; i++)
            m |= f->ty[i] == r->ty;
        COND(m);
    }
    if (f->n_lbl) {
        bool m = false;
        for (size_t i = 0; i < f->n_lbl; i++)
            m |= has_label(r, f->lbl[i]);
        COND(m);
    }
    if (f->crb)
        COND(r->ct_us < f->crb);
    if (f->cra)
        COND(r->ct_us > f->cra);
    if (f->ms)
        COND(r->lt_us > f->ms);
    if (f->us)
        COND(r->lt_us < f->us);
    if (f->exb)
        COND(r->et_us > 0 && r->et_us < f->exb);
    if (f->exa)
        COND(r->et_us == 0 || r->et_us > f->exa);
    if (f->stb >= 0)
        COND(r->ty == TY_CNT && r->st >= (uint64_t)f->stb);
    if (f->sts >= 0)
        COND(r->ty == TY_CNT && r->st < (uint64_t)f->sts);
#undef COND
    if (n_cond == 0)
        return true;
    return or_mode ? n_true > 0 : n_true == n_cond;
}

struct disc {
    struct rq *q;
    cJSON *list;
    long skip;  /* ofst - 1 */
    long limit; /* -1 none */
    long found;
    size_t max;
};

static void walk(struct disc *d, struct res *r, int level)
{
    const struct m2m_filter *f = &d->q->req->fc;
    for (struct res *c = r->first_child; c; c = c->next_sibling) {
        if (d->limit >= 0 && (long)cJSON_GetArraySize(d->list) >= d->limit)
            return;
        if ((size_t)cJSON_GetArraySize(d->list) >= d->max)
            return;
        if (res_expired(c, d->q->now_us))
            continue;
        if (disc_matches(f, c) && authz_check(d->q, c, ACP_OP_DISCOVERY, 0, NULL)) {
            if (d->found++ >= d->skip)
                cJSON_AddItemToArray(d->list,
                                     cJSON_CreateString(d->q->req->drt == 2 ? c->ri : c->path));
        }
        if (f->lvl < 0 || level < f->lvl)
            walk(d, c, level + 1);
    }
}

void disc_discover(struct rq *q, struct res *target)
{
    const struct m2m_filter *f = &q->req->fc;
    int rcn = q->req->rcn < 0 ? RCN_DISCOVERY_RESULT_REFERENCES : q->req->rcn;
    if (rcn != RCN_DISCOVERY_RESULT_REFERENCES && rcn != RCN_CHILD_RESOURCE_REFERENCES) {
        m2m_response_error(q->resp, RSC_BAD_REQUEST, "resultContent %d not valid for discovery",
                           rcn);
        return;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(body, "m2m:uril");
    struct disc d = {q,      list, f->ofst > 0 ? f->ofst - 1 : 0,
                     f->lim, 0,    q->cse->cfg.max_children_list};
    /* TS-0004 7.3.3.17: the search covers the target's descendants. */
    walk(&d, target, 1);
    q->resp->rsc = RSC_OK;
    (void)res_set_rsp_body(q, body);
}
