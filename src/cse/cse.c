/* cse.c: CSE lifecycle (open, bootstrap, load), the request entry point, and the writer thread
 * that applies every change in batches and acknowledges them only after the commit (group
 * commit: an acknowledged write survives kill -9). */
#include "cse/cse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "cse/audit.h"
#include "cse/cse_internal.h"
#include "cse/location.h"
#include "cse/ratelimit.h"
#include "enc/json.h"

struct job {
    struct job *next;
    struct cse *cse;
    struct m2m_reply reply;
    struct m2m_request *req;
    bool verified;
    char preset_ri[96];
    int64_t t0_ms;
};

static const char *op_name(enum m2m_op op)
{
    static const char *n[] = {"NONE", "CREATE", "RETRIEVE", "UPDATE", "DELETE", "NOTIFY"};
    return (unsigned)op < 6 ? n[op] : "?";
}

static void log_request(const struct m2m_request *req, const struct m2m_response *resp,
                        int64_t t0_ms)
{
    log_info("%s %s from=%s rsc=%d %lldms", op_name(req->op), req->to ? req->to : "-",
             req->fr ? req->fr : "-", (int)resp->rsc, (long long)(m2m_mono_ms() - t0_ms));
}

static void fill_echo(const struct m2m_request *req, struct m2m_response *resp)
{
    if (req->rqi && resp->rqi == NULL)
        resp->rqi = strdup(req->rqi);
    if (req->rvi && resp->rvi == NULL)
        resp->rvi = strdup(req->rvi);
}

void job_finish(struct job *j, struct m2m_response *resp)
{
    fill_echo(j->req, resp);
    log_request(j->req, resp, j->t0_ms);
    j->reply.fn(j->reply.ctx, resp);
    m2m_response_clear(resp);
    free(j);
}

void job_set_verified(struct job *j, const char *ri)
{
    j->verified = true;
    snprintf(j->preset_ri, sizeof j->preset_ri, "%s", ri);
}

void cse_job_submit(struct cse *c, struct job *j)
{
    pthread_mutex_lock(&c->wq_mu);
    j->next = NULL;
    if (c->wq_tail)
        c->wq_tail->next = j;
    else
        c->wq_head = j;
    c->wq_tail = j;
    pthread_cond_signal(&c->wq_cv);
    pthread_mutex_unlock(&c->wq_mu);
}

int64_t cse_next_ct(struct cse *c, int64_t now_us)
{
    if (now_us <= c->last_ct_us)
        now_us = c->last_ct_us + 1;
    c->last_ct_us = now_us;
    return now_us;
}

static void utc_fields(int64_t now_us, struct acp_time *t)
{
    time_t s = (time_t)(now_us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    *t = (struct acp_time){tm.tm_sec,     tm.tm_min,  tm.tm_hour,       tm.tm_mday,
                           tm.tm_mon + 1, tm.tm_wday, tm.tm_year + 1900};
}

static void rq_init(struct rq *q, struct cse *c, struct m2m_request *req, struct m2m_response *resp)
{
    memset(q, 0, sizeof *q);
    q->cse = c;
    q->req = req;
    q->resp = resp;
    q->now_us = req->t_recv_us ? req->t_recv_us : m2m_now_us();
    utc_fields(q->now_us, &q->t);
}

/* ---- expiry ---------------------------------------------------------------------------- */

/* Deletes every expired resource (and its subtree). Runs on the writer with the tree locked: one
 * pass collects the expired resources' IDs, then each one still present (a subtree deletion may
 * have taken it already) is deleted from its highest expired ancestor down. */
static size_t expire_sweep(struct cse *c, struct rq *q)
{
    enum { SWEEP_MAX = 4096 }; /* per second; the rest waits for the next sweep */
    char **ids = NULL;
    size_t n = 0, cap = 0, deleted = 0;
    size_t pos = 0;
    void *v;
    while (n < SWEEP_MAX && hmap_next(c->tree.by_ri, &pos, NULL, &v)) {
        struct res *r = v;
        if (r->et_us <= 0 || r->et_us > q->now_us || r == c->tree.root)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **ni = realloc(ids, nc * sizeof *ni);
            if (ni == NULL)
                break;
            ids = ni;
            cap = nc;
        }
        if ((ids[n] = strdup(r->ri)) == NULL)
            break;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        struct res *victim = tree_by_ri(&c->tree, ids[i]);
        free(ids[i]);
        if (victim == NULL)
            continue; /* went with an expired ancestor */
        while (victim->parent && victim->parent != c->tree.root && victim->parent->et_us > 0 &&
               victim->parent->et_us <= q->now_us)
            victim = victim->parent;
        log_info("expired %s (%s)", victim->ri, victim->path);
        (void)res_delete_subtree(q, victim); /* store failures stop the process there */
        deleted++;
    }
    free(ids);
    return deleted;
}

/* ---- the writer thread ------------------------------------------------------------------ */

static void run_job_locked(struct cse *c, struct job *j, struct m2m_response *resp,
                           struct note **notes, bool *parked)
{
    struct rq q;
    rq_init(&q, c, j->req, resp);
    q.in_writer = true;
    q.verified = j->verified;
    q.preset_ri = j->verified ? j->preset_ri : NULL;
    q.job = j;
    cse_pipeline(&q);
    if (q.parked) /* waits for subscription verification; answered later */
        *parked = true;
    else if (resp->rsc == RSC_NONE)
        m2m_response_error(resp, RSC_INTERNAL_SERVER_ERROR, "no result");
    if (q.notes) {
        struct note *tail = q.notes;
        while (tail->next)
            tail = tail->next;
        tail->next = *notes;
        *notes = q.notes;
    }
}

static void *writer_main(void *arg)
{
    struct cse *c = arg;
    int64_t last_sweep = 0;
    size_t cap = (size_t)c->cfg.writer_batch;
    struct job **batch = calloc(cap, sizeof *batch);
    struct m2m_response *resps = calloc(cap, sizeof *resps);
    bool *parked = calloc(cap, sizeof *parked);
    if (batch == NULL || resps == NULL || parked == NULL) {
        log_error("writer: out of memory");
        abort();
    }
    for (;;) {
        pthread_mutex_lock(&c->wq_mu);
        while (c->wq_head == NULL && !c->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            if (pthread_cond_timedwait(&c->wq_cv, &c->wq_mu, &ts) == ETIMEDOUT)
                break;
        }
        if (c->stopping && c->wq_head == NULL) {
            pthread_mutex_unlock(&c->wq_mu);
            break;
        }
        size_t n = 0;
        while (c->wq_head && n < cap) {
            batch[n++] = c->wq_head;
            c->wq_head = c->wq_head->next;
        }
        if (c->wq_head == NULL)
            c->wq_tail = NULL;
        pthread_mutex_unlock(&c->wq_mu);

        bool sweep = m2m_mono_ms() - last_sweep >= 1000;
        if (n == 0 && !sweep)
            continue;
        struct note *notes = NULL;
        pthread_rwlock_wrlock(&c->lock);
        if (store_begin(c->store) != M2M_OK) {
            log_error("writer: cannot begin a transaction; stopping");
            abort();
        }
        for (size_t i = 0; i < n; i++) {
            m2m_response_init(&resps[i]);
            parked[i] = false;
            run_job_locked(c, batch[i], &resps[i], &notes, &parked[i]);
        }
        if (sweep) {
            struct m2m_request dummy;
            m2m_request_init(&dummy);
            struct m2m_response dresp;
            m2m_response_init(&dresp);
            struct rq q;
            rq_init(&q, c, &dummy, &dresp);
            q.in_writer = true;
            expire_sweep(c, &q);
            if (q.notes) {
                struct note *tail = q.notes;
                while (tail->next)
                    tail = tail->next;
                tail->next = notes;
                notes = q.notes;
            }
            m2m_response_clear(&dresp);
            last_sweep = m2m_mono_ms();
        }
        pthread_rwlock_unlock(&c->lock);
        /* The changes are acknowledged only once this returns: durability before 2001/2004/2002. */
        if (store_commit(c->store) != M2M_OK) {
            log_error("writer: commit failed; stopping so that no unacknowledged state is served");
            abort();
        }
        for (size_t i = 0; i < n; i++) {
            if (!parked[i])
                job_finish(batch[i], &resps[i]);
            else
                m2m_response_clear(&resps[i]);
        }
        notify_deliver(c, notes);
    }
    free(batch);
    free(resps);
    free(parked);
    return NULL;
}

/* ---- request entry ------------------------------------------------------------------------ */

static struct job *job_new(struct cse *c, struct m2m_reply reply, struct m2m_request *req)
{
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return NULL;
    j->cse = c;
    j->reply = reply;
    j->req = req;
    j->t0_ms = m2m_mono_ms();
    return j;
}

static void process_read(struct cse *c, struct m2m_request *req, struct m2m_response *resp)
{
    struct rq q;
    rq_init(&q, c, req, resp);
    pthread_rwlock_rdlock(&c->lock);
    cse_pipeline(&q);
    pthread_rwlock_unlock(&c->lock);
    if (resp->rsc == RSC_NONE)
        m2m_response_error(resp, RSC_INTERNAL_SERVER_ERROR, "no result");
    fill_echo(req, resp);
}

/* limits.rate_per_originator: checked before any work, keyed by the From as sent (requests
 * without From, i.e. registrations, by the peer address). */
static bool rate_ok(struct cse *c, const struct m2m_request *req)
{
    if (c->rate == NULL)
        return true;
    char key[M2M_ID_MAX + 8];
    if (req->fr && req->fr[0])
        snprintf(key, sizeof key, "fr:%.255s", req->fr);
    else if (req->sec.peer.ss_family == AF_INET)
        snprintf(key, sizeof key, "ip4:%08x",
                 ((const struct sockaddr_in *)&req->sec.peer)->sin_addr.s_addr);
    else if (req->sec.peer.ss_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)&req->sec.peer)->sin6_addr.s6_addr;
        snprintf(key, sizeof key, "ip6:%02x%02x%02x%02x%02x%02x%02x%02x", a[0], a[1], a[2], a[3],
                 a[4], a[5], a[6], a[7]); /* per /64 */
    } else
        snprintf(key, sizeof key, "peer");
    return ratelimit_allow(c->rate, key, m2m_mono_ms());
}

void cse_submit(void *ctx, struct m2m_request *req, struct m2m_reply reply)
{
    struct cse *c = ctx;
    if (!rate_ok(c, req)) {
        struct m2m_response resp;
        m2m_response_init(&resp);
        m2m_response_error(&resp, RSC_NOT_ACCEPTABLE,
                           "request rate limit exceeded for this originator; retry later");
        fill_echo(req, &resp);
        log_warn("rate limit: refused %s from %s", req->to ? req->to : "-",
                 req->fr ? req->fr : "-");
        reply.fn(reply.ctx, &resp);
        m2m_response_clear(&resp);
        return;
    }
    if (cse_is_mutating(req)) {
        struct job *j = job_new(c, reply, req);
        if (j != NULL) {
            cse_job_submit(c, j);
            return;
        }
        struct m2m_response resp;
        m2m_response_init(&resp);
        m2m_response_error(&resp, RSC_INTERNAL_SERVER_ERROR, "out of memory");
        fill_echo(req, &resp);
        reply.fn(reply.ctx, &resp);
        m2m_response_clear(&resp);
        return;
    }
    int64_t t0 = m2m_mono_ms();
    struct m2m_response resp;
    m2m_response_init(&resp);
    process_read(c, req, &resp);
    log_request(req, &resp, t0);
    reply.fn(reply.ctx, &resp);
    m2m_response_clear(&resp);
}

static void srv_reply(void *x, struct m2m_response *resp)
{
    srv_respond(x, resp);
}

void cse_handle(void *ctx, struct srv_exchange *x, struct m2m_request *req)
{
    cse_submit(ctx, req, (struct m2m_reply){srv_reply, x});
}

/* ---- bootstrap and load ------------------------------------------------------------------ */

static m2m_rc add_boot_res(struct cse *c, struct res *parent, const char *ri, const char *rn,
                           int ty, const char *json)
{
    cJSON *attrs = cJSON_Parse(json);
    if (attrs == NULL)
        return M2M_ERR_INTERNAL;
    struct res *r;
    m2m_rc rc = res_new(ri, rn, ty, attrs, c->admin_abs, &r);
    if (rc != M2M_OK)
        return rc;
    r->ct_us = r->lt_us = cse_next_ct(c, m2m_now_us());
    if (ty == TY_ACP) {
        char err[256];
        rc = acp_ruleset_compile(cJSON_GetObjectItemCaseSensitive(attrs, "pv"), &c->host, &r->pv,
                                 err, sizeof err);
        if (rc == M2M_OK)
            rc = acp_ruleset_compile(cJSON_GetObjectItemCaseSensitive(attrs, "pvs"), &c->host,
                                     &r->pvs, err, sizeof err);
        if (rc != M2M_OK) {
            log_error("bootstrap ACP: %s", err);
            res_free(r);
            return rc;
        }
    }
    rc = tree_link(&c->tree, parent, r);
    if (rc != M2M_OK) {
        res_free(r);
        return rc;
    }
    struct rq q;
    struct m2m_request req;
    struct m2m_response resp;
    m2m_request_init(&req);
    m2m_response_init(&resp);
    rq_init(&q, c, &req, &resp);
    return res_persist(&q, r);
}

static m2m_rc bootstrap(struct cse *c)
{
    char json[2048];
    m2m_rc rc;
    log_info("first start: creating CSEBase %s (%s), system ACP and registration rule",
             c->cfg.cse_name, c->cfg.cse_id);
    TRY(store_begin(c->store));
    snprintf(json, sizeof json,
             "{\"csi\":\"%s\",\"cst\":%d,\"srt\":[1,2,3,4,5,9,16,19,23],\"srv\":[\"3\",\"4\","
             "\"5\"],\"poa\":[],\"acpi\":[]}",
             c->cfg.cse_id, c->cfg.cse_type);
    TRY(add_boot_res(c, NULL, c->base_ri, c->cfg.cse_name, TY_CSEBASE, json));
    /* The system ACP: added to every policy set by authz.c, restrictable by the operator
     * through its own pvs (docs/SECURITY.md). */
    snprintf(json, sizeof json,
             "{\"pv\":{\"acr\":[{\"acor\":[\"%s\"],\"acop\":63}]},"
             "\"pvs\":{\"acr\":[{\"acor\":[\"%s\"],\"acop\":63}]},\"lbl\":[\"m2msec:system\"]}",
             c->cfg.admin, c->cfg.admin);
    TRY(add_boot_res(c, c->tree.root, SYSTEM_ACP_RI, SYSTEM_ACP_RI, TY_ACP, json));
    /* B5: the default serviceSubscribedAppRule admits C* and S* originators, any App-ID. */
    snprintf(json, sizeof json,
             "{\"apci\":[\"*\"],\"aai\":[\"*\"],\"aae\":[\"C*\",\"S*\"],"
             "\"lbl\":[\"m2msec:default-registration\"]}");
    TRY(add_boot_res(c, c->tree.root, DEFAULT_ASAR_RI, DEFAULT_ASAR_RI, TY_ASAR, json));
    TRY(store_meta_set(c->store, "cse_id", c->cfg.cse_id));
    TRY(store_meta_set(c->store, "cse_name", c->cfg.cse_name));
    TRY(store_commit(c->store));
out:
    if (rc != M2M_OK)
        (void)store_rollback(c->store);
    return rc;
}

struct loaded {
    struct res *r;
    char *pi;
};

struct load_ctx {
    struct cse *c;
    struct loaded *v;
    size_t n, cap;
};

static m2m_rc load_cb(void *ctx, const struct store_rec *rec)
{
    struct load_ctx *l = ctx;
    cJSON *attrs = NULL;
    if (json_parse((const uint8_t *)rec->json, rec->json_len, 512, &attrs) != M2M_OK) {
        log_error("store: resource %s has unreadable JSON", rec->ri);
        return M2M_ERR_MALFORMED;
    }
    struct res *r;
    RETURN_IF_ERR(res_new(rec->ri, rec->rn, rec->ty, attrs, rec->creator, &r));
    r->ct_us = rec->ct_us;
    r->et_us = rec->et_us;
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(attrs, "lt");
    int64_t ltv;
    r->lt_us = (cJSON_IsString(lt) && m2m_ts_parse(lt->valuestring, strlen(lt->valuestring), &ltv))
                   ? ltv
                   : rec->ct_us;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(attrs, "st");
    if (cJSON_IsNumber(st))
        r->st = (uint64_t)st->valuedouble;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 1024;
        struct loaded *nv = realloc(l->v, nc * sizeof *nv);
        if (nv == NULL) {
            res_free(r);
            return M2M_ERR_NOMEM;
        }
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n].r = r;
    l->v[l->n].pi = strdup(rec->pi);
    if (l->v[l->n].pi == NULL) {
        res_free(r);
        return M2M_ERR_NOMEM;
    }
    l->n++;
    if (rec->ct_us > l->c->last_ct_us)
        l->c->last_ct_us = rec->ct_us;
    return M2M_OK;
}

static int by_ct(const void *a, const void *b)
{
    const struct loaded *x = a, *y = b;
    if (x->r->ct_us != y->r->ct_us)
        return x->r->ct_us < y->r->ct_us ? -1 : 1;
    return strcmp(x->r->ri, y->r->ri);
}

/* Rebuilds the tree: records sorted by creation time so that every parent (created before its
 * children) is linked first and siblings keep their creation order. */
static m2m_rc load(struct cse *c)
{
    struct load_ctx l = {c, NULL, 0, 0};
    m2m_rc rc = store_load_all(c->store, load_cb, &l);
    if (rc == M2M_OK && l.n > 0)
        qsort(l.v, l.n, sizeof *l.v, by_ct);
    for (size_t i = 0; i < l.n; i++) {
        struct res *r = l.v[i].r;
        if (rc != M2M_OK) {
            res_free(r);
            free(l.v[i].pi);
            continue;
        }
        struct res *parent = l.v[i].pi[0] ? tree_by_ri(&c->tree, l.v[i].pi) : NULL;
        if ((parent == NULL) != (r->ty == TY_CSEBASE)) {
            log_error("store: resource %s has no parent %s", r->ri, l.v[i].pi);
            res_free(r);
            free(l.v[i].pi);
            rc = M2M_ERR_MALFORMED;
            continue;
        }
        if (r->ty == TY_ACP) {
            char err[256];
            if (acp_ruleset_compile(cJSON_GetObjectItemCaseSensitive(r->attrs, "pv"), &c->host,
                                    &r->pv, err, sizeof err) != M2M_OK ||
                acp_ruleset_compile(cJSON_GetObjectItemCaseSensitive(r->attrs, "pvs"), &c->host,
                                    &r->pvs, err, sizeof err) != M2M_OK)
                /* deny on doubt: an ACP that no longer compiles grants nothing */
                log_error("store: ACP %s does not compile (%s); it grants nothing", r->ri, err);
        }
        rc = tree_link(&c->tree, parent, r);
        if (rc != M2M_OK)
            res_free(r);
        else if (r->ty == TY_CIN && parent) {
            parent->cni++;
            parent->cbs += r->cs =
                (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r->attrs, "cs"));
        }
        free(l.v[i].pi);
    }
    free(l.v);
    return rc;
}

m2m_rc cse_open(const struct cse_config *cfg, struct cse **out)
{
    m2m_rc rc;
    struct cse *c = calloc(1, sizeof *c);
    if (c == NULL)
        return M2M_ERR_NOMEM;
    c->cfg = *cfg;
    snprintf(c->sp_abs, sizeof c->sp_abs, "//%s", cfg->sp_id);
    snprintf(c->cse_abs, sizeof c->cse_abs, "%s%s", c->sp_abs, cfg->cse_id);
    snprintf(c->admin_abs, sizeof c->admin_abs, "%s/%s", c->cse_abs, cfg->admin);
    snprintf(c->base_ri, sizeof c->base_ri, "%s", cfg->cse_id + 1);
    c->host.sp_id = c->sp_abs;
    c->host.csi = c->cfg.cse_id;
    pthread_rwlock_init(&c->lock, NULL);
    pthread_mutex_init(&c->wq_mu, NULL);
    pthread_cond_init(&c->wq_cv, NULL);
    TRY(tree_init(&c->tree));
    if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
        log_error("cannot create data directory %s: %s", cfg->data_dir, strerror(errno));
        BAIL(M2M_ERR_IO);
    }
    char path[700];
    snprintf(path, sizeof path, "%s/m2msec.db", cfg->data_dir);
    TRY(store_sqlite_open(path, &c->store));
    TRY(load(c));
    if (c->tree.root == NULL) {
        TRY(bootstrap(c));
    } else if (strcmp(c->tree.root->rn, cfg->cse_name) != 0 ||
               strcmp(c->tree.root->ri, c->base_ri) != 0) {
        log_error("the database holds CSE %s (%s), not the configured %s (%s)", c->tree.root->ri,
                  c->tree.root->rn, c->base_ri, cfg->cse_name);
        BAIL(M2M_ERR_CONFIG);
    }
    log_info("store %s: %zu resources", path, hmap_count(c->tree.by_ri));
    if (strcmp(cfg->audit_path, "off") != 0) {
        char ap[700];
        if (cfg->audit_path[0])
            snprintf(ap, sizeof ap, "%s", cfg->audit_path);
        else
            snprintf(ap, sizeof ap, "%s/audit.log", cfg->data_dir);
        if (audit_open(ap, cfg->audit_max_bytes, cfg->audit_keep, &c->audit) != M2M_OK) {
            log_error("cannot open the audit log %s", ap);
            BAIL(M2M_ERR_IO);
        }
    }
    if (cfg->location_file[0]) {
        char err[300];
        if (location_load(cfg->location_file, &c->host, &c->locations, err, sizeof err) != M2M_OK) {
            log_error("location table: %s", err);
            BAIL(M2M_ERR_CONFIG);
        }
    }
    if (cfg->rate_per_originator > 0) {
        struct ratelimit_cfg rl = {
            cfg->rate_per_originator,
            cfg->rate_burst > 0 ? cfg->rate_burst : 2 * cfg->rate_per_originator, 100000};
        TRY(ratelimit_new(&rl, &c->rate));
    }
    TRY(notifier_start(c, &c->notifier));
    if (pthread_create(&c->writer, NULL, writer_main, c) != 0)
        BAIL(M2M_ERR_INTERNAL);
    c->writer_started = true;
    *out = c;
    return M2M_OK;
out:
    cse_close(c);
    return rc;
}

void cse_close(struct cse *c)
{
    if (c == NULL)
        return;
    if (c->writer_started) {
        pthread_mutex_lock(&c->wq_mu);
        c->stopping = true;
        pthread_cond_broadcast(&c->wq_cv);
        pthread_mutex_unlock(&c->wq_mu);
        pthread_join(c->writer, NULL);
    }
    notifier_stop(c->notifier);
    store_close(c->store);
    audit_close(c->audit);
    location_free(c->locations);
    ratelimit_free(c->rate);
    tree_destroy(&c->tree);
    pthread_rwlock_destroy(&c->lock);
    pthread_mutex_destroy(&c->wq_mu);
    pthread_cond_destroy(&c->wq_cv);
    free(c);
}
