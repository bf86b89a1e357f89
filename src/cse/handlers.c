/* handlers.c: CREATE, RETRIEVE, UPDATE and DELETE of resources (TS-0004 7.3.3-7.3.5 and the
 * type-specific clauses of 7.4). Called by the pipeline with the target resolved; every handler
 * asks authz before it reads or changes anything. Changes run on the writer thread only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "cse/cse_internal.h"
#include "enc/json.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static void deny(struct rq *q)
{
    m2m_response_error(q->resp, RSC_ORIGINATOR_HAS_NO_PRIVILEGE,
                       "access denied: the originator has no privilege");
}

m2m_rc res_set_rsp_body(struct rq *q, cJSON *body)
{
    free(q->resp->body);
    q->resp->body = NULL;
    q->resp->body_len = 0;
    if (body == NULL)
        return M2M_OK;
    q->resp->body = json_print(body);
    cJSON_Delete(body);
    if (q->resp->body == NULL)
        return M2M_ERR_NOMEM;
    q->resp->body_len = strlen(q->resp->body);
    return M2M_OK;
}

cJSON *res_wrap(const struct res *r)
{
    char key[32];
    snprintf(key, sizeof key, "m2m:%s", restype_short_name(r->ty));
    cJSON *o = cJSON_CreateObject();
    cJSON *a = cJSON_Duplicate(r->attrs, true);
    if (o == NULL || a == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(a);
        return NULL;
    }
    cJSON_AddItemToObject(o, key, a);
    return o;
}

char *res_new_ri(struct cse *c, int ty)
{
    char buf[64];
    for (int tries = 0; tries < 16; tries++) {
        uint64_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
            rnd = atomic_fetch_add(&c->ri_counter, 1) * 2654435761u;
        snprintf(buf, sizeof buf, "%s%010" PRIu64, restype_short_name(ty),
                 (uint64_t)(rnd % 10000000000ULL));
        if (tree_by_ri(&c->tree, buf) == NULL)
            return strdup(buf);
    }
    return NULL;
}

/* A store failure stops the process (fail-stop, docs/DECISIONS.md). */
static _Noreturn void fatal_store(const char *what)
{
    log_error("store failure (%s): stopping so that the store stays the truth", what);
    abort();
}

m2m_rc res_persist(struct rq *q, struct res *r)
{
    if (res_sync_attrs(r) != M2M_OK)
        fatal_store("sync");
    char *json = json_print(r->attrs);
    if (json == NULL)
        fatal_store("print");
    struct store_rec rec = {r->ri,       r->parent ? r->parent->ri : "",
                            r->rn,       r->ty,
                            r->ct_us,    r->et_us,
                            r->creator,  json,
                            strlen(json)};
    m2m_rc rc = store_put(q->cse->store, &rec);
    free(json);
    if (rc != M2M_OK)
        fatal_store("put");
    return M2M_OK;
}

static void set_num(cJSON *o, const char *k, double v)
{
    (void)json_set_item(o, k, cJSON_CreateNumber(v));
}

/* Parses the request content: exactly one member "m2m:<sn>" of the expected type. */
static m2m_rsc parse_content(struct rq *q, int ty, cJSON **root, cJSON **attrs, char *why,
                             size_t whylen)
{
    const struct m2m_request *req = q->req;
    *root = *attrs = NULL;
    if (req->pc == NULL || req->pc_len == 0) {
        snprintf(why, whylen, "missing content");
        return RSC_BAD_REQUEST;
    }
    m2m_rc rc = json_parse(req->pc, req->pc_len, q->cse->cfg.max_json_depth, root);
    if (rc != M2M_OK) {
        snprintf(why, whylen,
                 rc == M2M_ERR_LIMIT ? "content nested too deeply" : "content is not valid JSON");
        return RSC_BAD_REQUEST;
    }
    const char *sn = restype_short_name(ty);
    char key[32];
    snprintf(key, sizeof key, "m2m:%s", sn ? sn : "?");
    cJSON *a = cJSON_GetObjectItemCaseSensitive(*root, key);
    if (!cJSON_IsObject(*root) || cJSON_GetArraySize(*root) != 1 || !cJSON_IsObject(a)) {
        snprintf(why, whylen, "content must be one object named %s", key);
        cJSON_Delete(*root);
        *root = NULL;
        return RSC_BAD_REQUEST;
    }
    *attrs = a;
    return RSC_OK;
}

static m2m_rsc check_et(struct rq *q, const cJSON *attrs, int64_t *et, char *why, size_t whylen)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(attrs, "et");
    if (e == NULL || cJSON_IsNull(e))
        return RSC_OK;
    if (!cJSON_IsString(e) || !m2m_ts_parse(e->valuestring, strlen(e->valuestring), et)) {
        snprintf(why, whylen, "invalid expirationTime");
        return RSC_BAD_REQUEST;
    }
    if (*et <= q->now_us) {
        snprintf(why, whylen, "expirationTime is in the past");
        return RSC_BAD_REQUEST;
    }
    return RSC_OK;
}

/* acpi entries must name accessControlPolicies hosted here ([INTERP], docs/DECISIONS.md). */
static m2m_rsc check_acpi(struct rq *q, const cJSON *acpi, char *why, size_t whylen)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, acpi)
    {
        const char *id = cJSON_GetStringValue(e);
        bool other = false;
        if (id && id[0] == '/') {
            char buf[M2M_ID_MAX + 160];
            size_t cl = strlen(q->cse->cse_abs);
            if (acp_id_absolute(id, strlen(id), &q->cse->host, buf, sizeof buf) == M2M_OK &&
                (strncmp(buf, q->cse->cse_abs, cl) != 0 || (buf[cl] != '/' && buf[cl] != 0)))
                other = true;
        }
        if (other) {
            snprintf(why, whylen,
                     "acpi entry %.128s names an accessControlPolicy on another CSE; remote "
                     "policies are not supported",
                     id);
            return RSC_BAD_REQUEST;
        }
        struct res *a = id ? cse_resolve_id(q->cse, id) : NULL;
        if (a == NULL || a->ty != TY_ACP || res_expired(a, q->now_us)) {
            snprintf(why, whylen, "acpi entry %s is not an accessControlPolicy of this CSE",
                     cJSON_IsString(e) ? e->valuestring : "?");
            return RSC_BAD_REQUEST;
        }
    }
    return RSC_OK;
}

static m2m_rsc compile_acp(struct rq *q, const cJSON *attrs, struct acp_ruleset **pv,
                           struct acp_ruleset **pvs, char *why, size_t whylen)
{
    char err[200];
    *pv = *pvs = NULL;
    if (acp_ruleset_compile(cJSON_GetObjectItemCaseSensitive(attrs, "pv"), &q->cse->host, pv, err,
                            sizeof err) != M2M_OK) {
        snprintf(why, whylen, "pv: %s", err);
        return RSC_BAD_REQUEST;
    }
    if (acp_ruleset_compile(cJSON_GetObjectItemCaseSensitive(attrs, "pvs"), &q->cse->host, pvs, err,
                            sizeof err) != M2M_OK) {
        snprintf(why, whylen, "pvs: %s", err);
        acp_ruleset_free(*pv);
        *pv = NULL;
        return RSC_BAD_REQUEST;
    }
    /* TS-0004 7.4.2.2.1/7.4.2.2.3: selfPrivileges must hold at least one rule. */
    if (acp_ruleset_count(*pvs) == 0) {
        snprintf(why, whylen, "selfPrivileges must contain at least one rule");
        acp_ruleset_free(*pv);
        acp_ruleset_free(*pvs);
        *pv = *pvs = NULL;
        return RSC_BAD_REQUEST;
    }
    /* [INTERP] SPEC-MAP A1: adri and apri together, or with rules in pv, are refused. */
    bool adri = cJSON_GetObjectItemCaseSensitive(attrs, "adri") != NULL;
    bool apri = cJSON_GetObjectItemCaseSensitive(attrs, "apri") != NULL;
    if ((adri && apri) || ((adri || apri) && acp_ruleset_count(*pv) > 0)) {
        snprintf(why, whylen, "adri/apri conflict with each other or with pv");
        acp_ruleset_free(*pv);
        acp_ruleset_free(*pvs);
        *pv = *pvs = NULL;
        return RSC_BAD_REQUEST;
    }
    return RSC_OK;
}

static uint64_t content_size(const cJSON *con)
{
    if (cJSON_IsString(con))
        return strlen(con->valuestring);
    char *s = json_print(con);
    uint64_t n = s ? strlen(s) : 0;
    free(s);
    return n;
}

static struct res *first_cin(struct res *cnt)
{
    for (struct res *c = cnt->first_child; c; c = c->next_sibling)
        if (c->ty == TY_CIN)
            return c;
    return NULL;
}

static struct res *last_cin(struct res *cnt)
{
    for (struct res *c = cnt->last_child; c; c = c->prev_sibling)
        if (c->ty == TY_CIN)
            return c;
    return NULL;
}

static bool attr_u64(const struct res *r, const char *sn, uint64_t *v)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(r->attrs, sn);
    if (!cJSON_IsNumber(j))
        return false;
    *v = (uint64_t)j->valuedouble;
    return true;
}

static void cnt_sync_counters(struct res *cnt)
{
    set_num(cnt->attrs, "cni", (double)cnt->cni);
    set_num(cnt->attrs, "cbs", (double)cnt->cbs);
    set_num(cnt->attrs, "st", (double)cnt->st);
}

/* TS-0004 7.4.6: when mni or mbs would be exceeded the oldest instances are removed. */
void cin_enforce_limits(struct rq *q, struct res *cnt)
{
    uint64_t mni, mbs;
    bool has_mni = attr_u64(cnt, "mni", &mni), has_mbs = attr_u64(cnt, "mbs", &mbs);
    struct res *old;
    while ((old = first_cin(cnt)) != NULL &&
           ((has_mni && cnt->cni > mni) || (has_mbs && cnt->cbs > mbs)))
        (void)res_delete_subtree(q, old);
}

/* ---- deletion ---------------------------------------------------------------------------- */

static void on_removed(void *ctx, struct res *r)
{
    struct rq *q = ctx;
    m2m_rc rc = store_del(q->cse->store, r->ri);
    if (rc != M2M_OK && rc != M2M_ERR_NOT_FOUND)
        fatal_store("del");
    if (r->ty == TY_ACP) /* directly, with a subtree, or by expiry */
        audit_change(q, "acp-delete", r);
    if (r->ty == TY_SUB) {
        /* TS-0004 7.4.8.2.4: tell the subscriber that the subscription is gone. */
        const char *su = res_attr_str(r, "su");
        if (su != NULL) {
            cJSON *body = cJSON_CreateObject();
            cJSON *sgn = cJSON_AddObjectToObject(body, "m2m:sgn");
            cJSON_AddTrueToObject(sgn, "sud");
            char sur[320];
            snprintf(sur, sizeof sur, "%s/%s", q->cse->cfg.cse_id, r->ri);
            cJSON_AddStringToObject(sgn, "sur", sur);
            struct note *n = calloc(1, sizeof *n);
            char *b = json_print(body);
            cJSON_Delete(body);
            if (n && b && (n->urls = calloc(1, sizeof *n->urls)) && (n->urls[0] = strdup(su))) {
                n->n_urls = 1;
                n->body = b;
                n->next = q->notes;
                q->notes = n;
            } else {
                if (n)
                    free(n->urls);
                free(n);
                free(b);
            }
        }
    }
}

m2m_rc res_delete_subtree(struct rq *q, struct res *r)
{
    struct res *parent = r->parent;
    /* notifications before the subtree (and the subscriptions in it) disappear */
    notify_event(q, r, 2, r);
    if (parent)
        notify_event(q, parent, 4, r);
    if (r->ty == TY_CIN && parent && parent->ty == TY_CNT) {
        parent->cni--;
        parent->cbs -= r->cs;
    }
    tree_remove(&q->cse->tree, r, on_removed, q);
    if (parent && parent->ty == TY_CNT) {
        cnt_sync_counters(parent);
        res_persist(q, parent);
    }
    return M2M_OK;
}

/* ---- CREATE -------------------------------------------------------------------------------- */

/* An expired resource is gone for every purpose: if it still occupies a name or an identifier
 * (the sweep runs once a second), remove it now, in this transaction. */
struct res *cse_reap_expired(struct rq *q, struct res *r)
{
    if (r == NULL || !res_expired(r, q->now_us))
        return r;
    if (q->in_writer) {
        /* delete the highest expired ancestor: its subtree goes with it */
        struct res *top = r;
        while (top->parent && top->parent->parent && res_expired(top->parent, q->now_us))
            top = top->parent;
        (void)res_delete_subtree(q, top);
    }
    return NULL;
}

static m2m_rsc pick_name(struct rq *q, struct res *parent, cJSON *attrs, const char *ri, char *rn,
                         size_t rnlen, char *why, size_t whylen)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(attrs, "rn");
    if (cJSON_IsString(j)) {
        snprintf(rn, rnlen, "%s", j->valuestring);
        if (cse_reap_expired(q, tree_child(&q->cse->tree, parent, rn)) != NULL) {
            snprintf(why, whylen, "a resource named %s already exists here", rn);
            return RSC_CONFLICT;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(attrs, "rn");
    } else {
        snprintf(rn, rnlen, "%s", ri);
        if (cse_reap_expired(q, tree_child(&q->cse->tree, parent, rn)) != NULL) {
            snprintf(why, whylen, "name conflict");
            return RSC_CONFLICT;
        }
    }
    return RSC_OK;
}

static void respond_created(struct rq *q, struct res *r)
{
    struct m2m_response *resp = q->resp;
    resp->rsc = RSC_CREATED;
    resp->content_location = strdup(q->req->drt == 2 ? r->ri : r->path);
    int rcn = q->req->rcn < 0 ? RCN_ATTRIBUTES : q->req->rcn;
    if (rcn == RCN_NOTHING)
        return;
    cJSON *body;
    if (rcn == RCN_HIERARCHICAL_ADDRESS) {
        body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "m2m:uri", r->path);
    } else if (rcn == RCN_HIERARCHICAL_ADDRESS_ATTRIBUTES) {
        body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "m2m:uri", r->path);
        char key[32];
        snprintf(key, sizeof key, "m2m:%s", restype_short_name(r->ty));
        cJSON_AddItemToObject(body, key, cJSON_Duplicate(r->attrs, true));
    } else {
        body = res_wrap(r);
    }
    resp->content_ty = r->ty;
    (void)res_set_rsp_body(q, body);
}

/* Builds, links and persists a new resource; `attrs` ownership moves to the resource. */
static struct res *insert_new(struct rq *q, struct res *parent, const char *ri, const char *rn,
                              int ty, cJSON *attrs, int64_t et)
{
    struct res *r;
    if (res_new(ri, rn, ty, attrs, q->orig_abs, &r) != M2M_OK)
        return NULL;
    r->ct_us = r->lt_us = cse_next_ct(q->cse, q->now_us);
    r->et_us = et;
    if (tree_link(&q->cse->tree, parent, r) != M2M_OK) {
        res_free(r);
        return NULL;
    }
    return r;
}

void h_create(struct rq *q, struct target *t)
{
    char why[300] = "";
    m2m_rsc rsc;
    struct m2m_request *req = q->req;
    struct res *parent = t->r;
    cJSON *root = NULL, *attrs = NULL;
    char *ri = NULL;
    struct acp_ruleset *pv = NULL, *pvs = NULL;
    char **urls = NULL;
    size_t n_urls = 0;
    if (t->virt != VIRT_NONE) {
        m2m_response_error(q->resp, RSC_OPERATION_NOT_ALLOWED, "cannot create under %s",
                           t->virt == VIRT_LA ? "la" : "ol");
        return;
    }
    if (req->ty >= 10000 && req->ty < 20000) {
        /* Announced resources need remote ACP retrieval, which this release does not have
         * (docs/DECISIONS.md). */
        m2m_response_error(q->resp, RSC_NOT_IMPLEMENTED,
                           "announced resources (type %d) are not supported by this CSE", req->ty);
        return;
    }
    if (!restype_supported(req->ty)) {
        m2m_response_error(q->resp, RSC_BAD_REQUEST, "resource type %d is not supported", req->ty);
        return;
    }
    if ((rsc = parse_content(q, req->ty, &root, &attrs, why, sizeof why)) != RSC_OK)
        goto fail;
    if (!restype_child_allowed(parent->ty, req->ty)) {
        rsc = RSC_INVALID_CHILD_RESOURCE_TYPE;
        snprintf(why, sizeof why, "type %d cannot be a child of type %d", req->ty, parent->ty);
        goto fail;
    }
    if (restype_validate(req->ty, M2M_OP_CREATE, attrs, &rsc, why, sizeof why) != M2M_OK)
        goto fail;
    /* A13: registrations replace the ACP check with their own checks (B5, B6). */
    if (req->ty == TY_AE || req->ty == TY_CSR) {
        cJSON_DetachItemViaPointer(root, attrs);
        cJSON_Delete(root);
        if (req->ty == TY_AE)
            reg_create_ae(q, parent, attrs);
        else
            reg_create_csr(q, parent, attrs);
        return;
    }
    /* A13 [INTERP]: creating a subscription needs RETRIEVE on the subscribed-to resource. */
    uint32_t op = req->ty == TY_SUB ? ACP_OP_RETRIEVE : ACP_OP_CREATE;
    if (!authz_check(q, parent, op, req->ty, attrs)) {
        cJSON_Delete(root);
        deny(q);
        return;
    }
    int64_t et = 0;
    if ((rsc = check_et(q, attrs, &et, why, sizeof why)) != RSC_OK)
        goto fail;
    if (et == 0)
        et = q->now_us + q->cse->cfg.default_et_s * 1000000LL;
    if ((rsc = check_acpi(q, cJSON_GetObjectItemCaseSensitive(attrs, "acpi"), why, sizeof why)) !=
        RSC_OK)
        goto fail;
    if (req->ty == TY_ACP && (rsc = compile_acp(q, attrs, &pv, &pvs, why, sizeof why)) != RSC_OK)
        goto fail;
    if (req->ty == TY_GRP && (rsc = grp_validate_members(q, attrs, why, sizeof why)) != RSC_OK)
        goto fail;
    uint64_t cs = 0;
    if (req->ty == TY_CIN) {
        cs = content_size(cJSON_GetObjectItemCaseSensitive(attrs, "con"));
        uint64_t mbs;
        if (attr_u64(parent, "mbs", &mbs) && cs > mbs) {
            rsc = RSC_NOT_ACCEPTABLE;
            snprintf(why, sizeof why, "content size %" PRIu64 " exceeds the container's mbs", cs);
            goto fail;
        }
        uint64_t mia;
        if (attr_u64(parent, "mia", &mia) && mia > 0) {
            int64_t lim = q->now_us + (int64_t)mia * 1000000LL;
            if (lim < et)
                et = lim; /* maxInstanceAge expressed as the instance's expiry */
        }
    }
    if (req->ty == TY_SUB) {
        if (parent->n_subs >= (size_t)q->cse->cfg.max_subscriptions_per_resource) {
            rsc = RSC_NOT_ACCEPTABLE;
            snprintf(why, sizeof why, "too many subscriptions on this resource");
            goto fail;
        }
        const cJSON *nu = cJSON_GetObjectItemCaseSensitive(attrs, "nu");
        if ((rsc = notify_collect_urls(q, nu, &urls, &n_urls)) != RSC_OK) {
            snprintf(why, sizeof why, "notificationURI cannot be reached from this CSE");
            goto fail;
        }
        /* SPEC-MAP A13, TS-0004 7.5.1.2.3: a notification target hosted here must grant the
         * subscriber NOTIFY. */
        const cJSON *e;
        cJSON_ArrayForEach(e, nu)
        {
            const char *u = cJSON_GetStringValue(e);
            struct res *tgt = (u == NULL || strstr(u, "://")) ? NULL : cse_resolve_id(q->cse, u);
            if (tgt != NULL && !authz_check(q, tgt, ACP_OP_NOTIFY, 0, NULL)) {
                rsc = RSC_SUBSCRIPTION_CREATOR_HAS_NO_PRIVILEGE;
                snprintf(why, sizeof why, "no NOTIFY privilege on the notification target %.128s",
                         u);
                goto fail;
            }
        }
    }
    ri = q->preset_ri ? strdup(q->preset_ri) : res_new_ri(q->cse, req->ty);
    if (ri == NULL) {
        rsc = RSC_INTERNAL_SERVER_ERROR;
        snprintf(why, sizeof why, "cannot allocate an identifier");
        goto fail;
    }
    char rn[256];
    if ((rsc = pick_name(q, parent, attrs, ri, rn, sizeof rn, why, sizeof why)) != RSC_OK)
        goto fail;
    if (req->ty == TY_SUB && !q->verified) {
        /* TS-0004 7.4.8.2.1: verify each notification target before the subscription exists.
         * The job parks (no response yet) and comes back with verified set. */
        cJSON *body = cJSON_CreateObject();
        cJSON *sgn = cJSON_AddObjectToObject(body, "m2m:sgn");
        cJSON_AddTrueToObject(sgn, "vrq");
        char sur[320];
        snprintf(sur, sizeof sur, "%s/%s", q->cse->cfg.cse_id, ri);
        cJSON_AddStringToObject(sgn, "sur", sur);
        cJSON_AddStringToObject(sgn, "cr", req->fr);
        char *b = json_print(body);
        cJSON_Delete(body);
        cJSON_Delete(root);
        q->resp->rsc = RSC_NONE;
        q->parked = true;
        notify_verify_async(q->cse, q->job, urls, n_urls, b);
        free(ri);
        return;
    }
    for (size_t i = 0; i < n_urls; i++)
        free(urls[i]);
    free(urls);
    urls = NULL;
    if (!q->in_writer) {
        rsc = RSC_INTERNAL_SERVER_ERROR;
        snprintf(why, sizeof why, "internal: create outside the writer");
        goto fail;
    }
    const cJSON *cr = cJSON_GetObjectItemCaseSensitive(attrs, "cr");
    if (cr != NULL) /* "cr": null asks the CSE to record the creator (TS-0004 9.6.1.3) */
        cJSON_ReplaceItemInObjectCaseSensitive(attrs, "cr", cJSON_CreateString(req->fr));
    cJSON_DetachItemViaPointer(root, attrs);
    cJSON_Delete(root);
    root = NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(attrs, "et");
    struct res *r = insert_new(q, parent, ri, rn, req->ty, attrs, et);
    attrs = NULL;
    if (r == NULL) {
        rsc = RSC_INTERNAL_SERVER_ERROR;
        snprintf(why, sizeof why, "out of memory");
        goto fail;
    }
    r->pv = pv;
    r->pvs = pvs;
    pv = pvs = NULL;
    if (r->ty == TY_CNT) {
        cnt_sync_counters(r);
    } else if (r->ty == TY_CIN) {
        r->cs = cs;
        parent->cni++;
        parent->cbs += cs;
        parent->st++;
        parent->lt_us = r->ct_us;
        set_num(r->attrs, "cs", (double)cs);
        set_num(r->attrs, "st", (double)parent->st);
        cnt_sync_counters(parent);
        res_persist(q, parent);
    }
    res_persist(q, r);
    if (r->ty == TY_CIN)
        cin_enforce_limits(q, parent);
    if (r->ty != TY_SUB) /* a new subscription is not told about its own creation */
        notify_event(q, parent, 3, r);
    respond_created(q, r);
    if (r->ty == TY_ACP)
        audit_change(q, "acp-create", r);
    free(ri);
    return;
fail:
    for (size_t i = 0; i < n_urls; i++)
        free(urls[i]);
    free(urls);
    acp_ruleset_free(pv);
    acp_ruleset_free(pvs);
    cJSON_Delete(root);
    cJSON_Delete(attrs == NULL || root != NULL ? NULL : attrs);
    free(ri);
    m2m_response_error(q->resp, rsc, "%s", why);
}

/* ---- RETRIEVE ------------------------------------------------------------------------------- */

static bool child_visible(struct rq *q, struct res *c)
{
    if (res_expired(c, q->now_us))
        return false;
    return authz_check(q, c, ACP_OP_RETRIEVE, 0, NULL);
}

static void add_children(struct rq *q, struct res *r, cJSON *into, bool refs)
{
    size_t n = 0;
    cJSON *rrf = refs ? cJSON_AddArrayToObject(into, "ch") : NULL;
    for (struct res *c = r->first_child; c && n < q->cse->cfg.max_children_list;
         c = c->next_sibling) {
        if (q->req->has_fc && !disc_matches(&q->req->fc, c))
            continue;
        if (!child_visible(q, c))
            continue;
        n++;
        if (refs) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "nm", c->rn);
            cJSON_AddNumberToObject(e, "typ", c->ty);
            cJSON_AddStringToObject(e, "val", c->path);
            cJSON_AddItemToArray(rrf, e);
            continue;
        }
        char key[32];
        snprintf(key, sizeof key, "m2m:%s", restype_short_name(c->ty));
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(into, key);
        if (arr == NULL)
            arr = cJSON_AddArrayToObject(into, key);
        cJSON_AddItemToArray(arr, cJSON_Duplicate(c->attrs, true));
    }
}

void h_retrieve(struct rq *q, struct target *t)
{
    struct m2m_request *req = q->req;
    struct res *r = t->r;
    if (t->virt == VIRT_LA || t->virt == VIRT_OL) {
        /* la/ol have no policies of their own: the container's apply (A3 step 3a). */
        if (!authz_check(q, r, ACP_OP_RETRIEVE, 0, NULL)) {
            deny(q);
            return;
        }
        struct res *c = t->virt == VIRT_LA ? last_cin(r) : first_cin(r);
        while (c && res_expired(c, q->now_us))
            c = t->virt == VIRT_LA ? c->prev_sibling : c->next_sibling;
        if (c == NULL || c->ty != TY_CIN) {
            m2m_response_error(q->resp, RSC_NOT_FOUND, "the container has no instance");
            return;
        }
        q->resp->rsc = RSC_OK;
        q->resp->content_ty = TY_CIN;
        (void)res_set_rsp_body(q, res_wrap(c));
        return;
    }
    if (req->has_fc && req->fc.fu == 1) {
        disc_discover(q, r);
        return;
    }
    if (!authz_check(q, r, ACP_OP_RETRIEVE, 0, NULL)) {
        deny(q);
        return;
    }
    int rcn = req->rcn < 0 ? RCN_ATTRIBUTES : req->rcn;
    cJSON *body = NULL;
    char key[32];
    snprintf(key, sizeof key, "m2m:%s", restype_short_name(r->ty));
    switch (rcn) {
    case RCN_ATTRIBUTES: body = res_wrap(r); break;
    case RCN_ATTRIBUTES_CHILD_RESOURCES:
        body = res_wrap(r);
        add_children(q, r, cJSON_GetObjectItemCaseSensitive(body, key), false);
        break;
    case RCN_ATTRIBUTES_CHILD_RESOURCE_REFERENCES:
        body = res_wrap(r);
        add_children(q, r, cJSON_GetObjectItemCaseSensitive(body, key), true);
        break;
    case RCN_CHILD_RESOURCE_REFERENCES: {
        body = cJSON_CreateObject();
        cJSON *rrl = cJSON_AddObjectToObject(body, "m2m:rrl");
        add_children(q, r, rrl, true);
        cJSON *ch = cJSON_DetachItemFromObject(rrl, "ch");
        cJSON_AddItemToObject(rrl, "rrf", ch);
        break;
    }
    case RCN_CHILD_RESOURCES: {
        body = cJSON_CreateObject();
        cJSON *inner = cJSON_AddObjectToObject(body, key);
        add_children(q, r, inner, false);
        break;
    }
    default:
        m2m_response_error(q->resp, RSC_BAD_REQUEST, "resultContent %d not valid for retrieve",
                           rcn);
        return;
    }
    q->resp->rsc = RSC_OK;
    q->resp->content_ty = r->ty;
    if (res_set_rsp_body(q, body) != M2M_OK)
        m2m_response_error(q->resp, RSC_INTERNAL_SERVER_ERROR, "out of memory");
}

/* ---- UPDATE --------------------------------------------------------------------------------- */

void h_update(struct rq *q, struct target *t)
{
    char why[300] = "";
    m2m_rsc rsc;
    struct res *r = t->r;
    cJSON *root = NULL, *attrs = NULL;
    struct acp_ruleset *pv = NULL, *pvs = NULL;
    cJSON *merged = NULL;
    if (t->virt != VIRT_NONE || r->ty == TY_CSEBASE) {
        m2m_response_error(q->resp, RSC_OPERATION_NOT_ALLOWED, "this resource cannot be updated");
        return;
    }
    if ((rsc = parse_content(q, r->ty, &root, &attrs, why, sizeof why)) != RSC_OK)
        goto fail;
    const cJSON *acpi = cJSON_GetObjectItemCaseSensitive(attrs, "acpi");
    if (acpi != NULL) {
        /* TS-0001 9.6.1.3.2, SPEC-MAP A3 step 2: acpi must be the only attribute, and the change
         * is judged by the selfPrivileges of the currently linked ACPs. */
        if (cJSON_GetArraySize(attrs) != 1) {
            rsc = RSC_BAD_REQUEST;
            snprintf(why, sizeof why, "acpi must be the only attribute of its update");
            goto fail;
        }
        if (!restype_has_acpi(r->ty)) {
            rsc = RSC_BAD_REQUEST;
            snprintf(why, sizeof why, "this resource type has no acpi");
            goto fail;
        }
        if (!authz_check_acpi_update(q, r)) {
            cJSON_Delete(root);
            deny(q);
            return;
        }
    } else if (!authz_check(q, r, ACP_OP_UPDATE, 0, NULL)) {
        cJSON_Delete(root);
        deny(q);
        return;
    }
    if (restype_validate(r->ty, M2M_OP_UPDATE, attrs, &rsc, why, sizeof why) != M2M_OK)
        goto fail;
    if (acpi && !cJSON_IsNull(acpi) && (rsc = check_acpi(q, acpi, why, sizeof why)) != RSC_OK)
        goto fail;
    int64_t et = 0;
    if ((rsc = check_et(q, attrs, &et, why, sizeof why)) != RSC_OK)
        goto fail;
    merged = cJSON_Duplicate(r->attrs, true);
    if (merged == NULL) {
        rsc = RSC_INTERNAL_SERVER_ERROR;
        goto fail;
    }
    for (cJSON *a = attrs->child; a; a = a->next) {
        if (cJSON_IsNull(a))
            cJSON_DeleteItemFromObjectCaseSensitive(merged, a->string);
        else if (cJSON_GetObjectItemCaseSensitive(merged, a->string))
            cJSON_ReplaceItemInObjectCaseSensitive(merged, a->string, cJSON_Duplicate(a, true));
        else
            cJSON_AddItemToObject(merged, a->string, cJSON_Duplicate(a, true));
    }
    if (r->ty == TY_ACP && (rsc = compile_acp(q, merged, &pv, &pvs, why, sizeof why)) != RSC_OK)
        goto fail;
    if (r->ty == TY_GRP &&
        (cJSON_GetObjectItemCaseSensitive(attrs, "mid") ||
         cJSON_GetObjectItemCaseSensitive(attrs, "mnm")) &&
        (rsc = grp_validate_members(q, merged, why, sizeof why)) != RSC_OK)
        goto fail;
    if (!q->in_writer) {
        rsc = RSC_INTERNAL_SERVER_ERROR;
        goto fail;
    }
    /* apply */
    cJSON_DeleteItemFromObjectCaseSensitive(merged, "et");
    cJSON_Delete(r->attrs);
    r->attrs = merged;
    merged = NULL;
    if (et > 0)
        r->et_us = et;
    r->lt_us = cse_next_ct(q->cse, q->now_us);
    if (r->ty == TY_ACP) {
        acp_ruleset_free(r->pv);
        acp_ruleset_free(r->pvs);
        r->pv = pv;
        r->pvs = pvs;
        pv = pvs = NULL;
    }
    if (r->ty == TY_CNT) {
        r->st++;
        cnt_sync_counters(r);
    }
    res_persist(q, r);
    if (r->ty == TY_CNT)
        cin_enforce_limits(q, r);
    notify_event(q, r, 1, r);
    q->resp->rsc = RSC_UPDATED;
    if (r->ty == TY_ACP)
        audit_change(q, "acp-update", r);
    if (acpi != NULL)
        audit_change(q, "acpi-update", r);
    int rcn = q->req->rcn < 0 ? RCN_ATTRIBUTES : q->req->rcn;
    if (rcn == RCN_MODIFIED_ATTRIBUTES) {
        cJSON *b = cJSON_CreateObject();
        char key[32];
        snprintf(key, sizeof key, "m2m:%s", restype_short_name(r->ty));
        cJSON_DetachItemViaPointer(root, attrs);
        cJSON_AddItemToObject(b, key, attrs);
        (void)res_set_rsp_body(q, b);
    } else if (rcn != RCN_NOTHING) {
        q->resp->content_ty = r->ty;
        (void)res_set_rsp_body(q, res_wrap(r));
    }
    cJSON_Delete(root);
    return;
fail:
    acp_ruleset_free(pv);
    acp_ruleset_free(pvs);
    cJSON_Delete(merged);
    cJSON_Delete(root);
    m2m_response_error(q->resp, rsc ? rsc : RSC_BAD_REQUEST, "%s", why[0] ? why : "bad request");
}

/* ---- DELETE --------------------------------------------------------------------------------- */

void h_delete(struct rq *q, struct target *t)
{
    struct res *r = t->r;
    if (t->virt == VIRT_LA || t->virt == VIRT_OL) {
        if (!authz_check(q, r, ACP_OP_DELETE, 0, NULL)) {
            deny(q);
            return;
        }
        struct res *c = t->virt == VIRT_LA ? last_cin(r) : first_cin(r);
        if (c == NULL) {
            m2m_response_error(q->resp, RSC_NOT_FOUND, "the container has no instance");
            return;
        }
        r = c;
    } else {
        if (r->ty == TY_CSEBASE) {
            m2m_response_error(q->resp, RSC_OPERATION_NOT_ALLOWED, "the CSEBase cannot be deleted");
            return;
        }
        if (!authz_check(q, r, ACP_OP_DELETE, 0, NULL)) {
            deny(q);
            return;
        }
    }
    if (!q->in_writer) {
        m2m_response_error(q->resp, RSC_INTERNAL_SERVER_ERROR, "internal");
        return;
    }
    int rcn = q->req->rcn < 0 ? RCN_NOTHING : q->req->rcn;
    cJSON *body = rcn == RCN_ATTRIBUTES ? res_wrap(r) : NULL;
    if (r->ty == TY_ACP || (r->ty == TY_AE))
        log_info("delete %s (%s) by %s", r->ri, r->path, q->orig_abs);
    q->resp->rsc = RSC_DELETED;
    (void)res_delete_subtree(q, r);
    (void)res_set_rsp_body(q, body);
}
