/* mefcache.c: the Enrolment Target's cache of MEF-provisioned keys (TS-0003 8.3.2.1, SPEC-MAP
 * G5): fixed slot table under one mutex, a ring of queued fetches, worker threads that call the
 * application's fetch function and revalidate cached keys, and the composed TLS credential hooks.
 * See mefcache.h. */
#include "keys/mefcache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/secret.h"
#include "crypto/kdf.h"
#include "keys/credstore.h"
#include "tls/tls.h"

enum ent_state { E_FREE = 0, E_PENDING, E_POSITIVE, E_NEGATIVE };

struct waiter {
    void (*wake)(void *arg);
    void *arg;
};

struct ent {
    enum ent_state st;
    bool running; /* pending: taken by a worker */
    char keid[KDF_KEY_ID_BUF];
    uint8_t key[MEFCACHE_KEY_MAX];
    size_t key_len;
    char enrolee[M2M_ID_MAX];
    int64_t exp_s;
    int64_t next_s;     /* positive: revalidate from this time on */
    uint64_t seq;       /* positive: which occupant of the slot (a revalidation checks it) */
    bool reval_running; /* positive: a worker is confirming it with the MEF */
    struct waiter *w;   /* pending: MEFCACHE_MAX_WAITERS slots */
    int n_w;
};

struct worker {
    struct mefcache *mc;
    int idx;
};

struct mefcache {
    struct mefcache_cfg cfg;
    char fqdn[KDF_FQDN_MAX + 1];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ent *ents;
    size_t cap;       /* max_entries + queue_max: a pending fetch always finds a slot */
    size_t n_done;    /* positive + negative */
    size_t n_pending; /* queued + running */
    size_t *queue;    /* ring of slot indices waiting for a worker */
    size_t q_head, q_len;
    char (*drops)[KDF_KEY_ID_BUF]; /* ring of KeIDs for on_drop, cap slots */
    size_t d_head, d_len;
    struct worker workers[MEFCACHE_MAX_WORKERS];
    pthread_t th[MEFCACHE_MAX_WORKERS];
    int n_th;
    bool stopping;
    int n_reval;      /* revalidations running */
    int reval_max;    /* at most this many at once: workers - 1, at least 1 */
    uint64_t seq_ctr; /* positive entries made so far */
    uint64_t gen;
    int64_t last_sweep_s;
    struct mefcache_stats st;
    struct tls_cred_hooks inner;
};

void mefcache_cfg_default(struct mefcache_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->max_entries = 1024;
    c->negative_ttl_s = 30;
    c->workers = 2;
    c->queue_max = 64;
    c->revalidate_s = 300;
}

static int64_t now_s(struct mefcache *mc)
{
    if (mc->cfg.now_s)
        return mc->cfg.now_s(mc->cfg.now_ctx);
    return (int64_t)time(NULL);
}

/* A psk_identity that is a KeID (TS-0003 10.3.4) issued by our MEF, in canonical form (upper-case
 * hex). M2M_ERR_NOT_FOUND for anything else: another issuer, a KpsaID, garbage. */
static m2m_rc canon_keid(struct mefcache *mc, const char *id, size_t len, char out[KDF_KEY_ID_BUF])
{
    uint8_t rel[KDF_EXPORT_ID_LEN];
    const uint8_t *fq;
    size_t fq_len;
    if (id == NULL || kdf_keid_parse((const uint8_t *)id, len, rel, &fq, &fq_len) != M2M_OK)
        return M2M_ERR_NOT_FOUND;
    if (fq_len != strlen(mc->fqdn) || memcmp(fq, mc->fqdn, fq_len) != 0)
        return M2M_ERR_NOT_FOUND;
    if (kdf_keid_format(rel, mc->fqdn, fq_len, out, KDF_KEY_ID_BUF, NULL) != M2M_OK)
        return M2M_ERR_NOT_FOUND;
    return M2M_OK;
}

static struct ent *find(struct mefcache *mc, const char *keid)
{
    for (size_t i = 0; i < mc->cap; i++)
        if (mc->ents[i].st != E_FREE && strcmp(mc->ents[i].keid, keid) == 0)
            return &mc->ents[i];
    return NULL;
}

/* Releases a completed slot; the key is wiped. */
static void ent_clear(struct mefcache *mc, struct ent *e)
{
    if (e->st == E_POSITIVE || e->st == E_NEGATIVE)
        mc->n_done--;
    m2m_wipe(e->key, sizeof e->key);
    memset(e, 0, sizeof *e);
}

/* A positive entry's key leaves the cache: queue the KeID for on_drop (run by a worker, never
 * here: this runs on handshake paths). Lock held. */
static void queue_drop(struct mefcache *mc, const struct ent *e)
{
    if (mc->cfg.on_drop == NULL || e->st != E_POSITIVE)
        return;
    if (mc->d_len == mc->cap) {
        mc->st.drops_lost++;
        log_warn("mef: drop queue full; %s stays in the registration rules", e->keid);
        return;
    }
    size_t tail = (mc->d_head + mc->d_len) % mc->cap;
    snprintf(mc->drops[tail], sizeof mc->drops[tail], "%s", e->keid);
    mc->d_len++;
    pthread_cond_signal(&mc->cv);
}

/* Drops expired entries: a positive one ends its live sessions (generation), TS-0003 8.3.2.1:
 * the key is usable only for the lifetime the MEF gave. Lock held. */
static void sweep(struct mefcache *mc, int64_t now)
{
    if (now == mc->last_sweep_s)
        return;
    mc->last_sweep_s = now;
    for (size_t i = 0; i < mc->cap; i++) {
        struct ent *e = &mc->ents[i];
        if ((e->st != E_POSITIVE && e->st != E_NEGATIVE) || e->exp_s > now)
            continue;
        if (e->st == E_POSITIVE) {
            mc->gen++;
            mc->st.expirations++;
            log_info("mef: key %s expired", e->keid);
            queue_drop(mc, e);
        }
        ent_clear(mc, e);
    }
}

/* The completed entry to give up for a new one: a negative entry first (the one expiring first),
 * then, only when `for_positive`, the positive entry expiring first. NULL: keep what we have. */
static struct ent *victim(struct mefcache *mc, bool for_positive)
{
    struct ent *neg = NULL, *pos = NULL;
    for (size_t i = 0; i < mc->cap; i++) {
        struct ent *e = &mc->ents[i];
        if (e->st == E_NEGATIVE && (neg == NULL || e->exp_s < neg->exp_s))
            neg = e;
        else if (e->st == E_POSITIVE && (pos == NULL || e->exp_s < pos->exp_s))
            pos = e;
    }
    if (neg != NULL)
        return neg;
    return for_positive ? pos : NULL;
}

/* Makes room for one more completed entry; false when a negative result should not be kept. */
static bool make_room(struct mefcache *mc, bool for_positive)
{
    if (mc->n_done < mc->cfg.max_entries)
        return true;
    struct ent *v = victim(mc, for_positive);
    if (v == NULL)
        return false;
    if (v->st == E_POSITIVE) {
        mc->gen++; /* its live sessions end: the cache can no longer vouch for the key */
        queue_drop(mc, v);
    }
    mc->st.evictions++;
    ent_clear(mc, v);
    return true;
}

static bool result_ok(const uint8_t *key, size_t klen, const char *enrolee, int64_t life)
{
    (void)key;
    /* F6: the association must be bound to an identity; an answer without one is unusable. */
    return klen >= 1 && klen <= MEFCACHE_KEY_MAX && life > 0 && enrolee[0] != 0 &&
           memchr(enrolee, 0, M2M_ID_MAX) != NULL && credstore_bind_valid(enrolee);
}

/* A fetch finished: the pending slot becomes positive, negative or free. Lock held. Moves the
 * waiters into *w / *n_w for the caller to wake after unlocking. */
static void complete(struct mefcache *mc, struct ent *e, bool ok, const uint8_t *key, size_t klen,
                     const char *enrolee, int64_t life, struct waiter **w, int *n_w)
{
    int64_t now = now_s(mc);
    *w = e->w;
    *n_w = e->n_w;
    e->w = NULL;
    e->n_w = 0;
    e->running = false;
    mc->n_pending--;
    e->st = E_FREE; /* not counted while we make room */
    if (ok && make_room(mc, true)) {
        mc->st.fetch_ok++;
        e->st = E_POSITIVE;
        memcpy(e->key, key, klen);
        e->key_len = klen;
        snprintf(e->enrolee, sizeof e->enrolee, "%s", enrolee);
        e->exp_s = now + life;
        e->next_s = mc->cfg.revalidate_s > 0 ? now + mc->cfg.revalidate_s : INT64_MAX;
        e->seq = ++mc->seq_ctr;
        mc->n_done++;
        log_info("mef: fetched key %s for %s, lifetime %llds", e->keid, e->enrolee,
                 (long long)life);
        return;
    }
    mc->st.fetch_failed++;
    log_warn("mef: no key for %s (negative for %ds)", e->keid, mc->cfg.negative_ttl_s);
    if (!make_room(mc, false)) {
        memset(e, 0, sizeof *e);
        return;
    }
    e->st = E_NEGATIVE;
    e->exp_s = now + mc->cfg.negative_ttl_s;
    mc->n_done++;
}

static void wake_all(struct waiter *w, int n)
{
    for (int i = 0; i < n; i++)
        w[i].wake(w[i].arg);
    free(w);
}

/* One fetch on worker wk: the lock is dropped around the network call. Lock held. */
static void run_one(struct mefcache *mc, int wk, struct ent *e)
{
    char keid[KDF_KEY_ID_BUF];
    uint8_t key[MEFCACHE_KEY_MAX];
    size_t klen = sizeof key;
    char enrolee[M2M_ID_MAX] = "";
    int64_t life = 0;
    snprintf(keid, sizeof keid, "%s", e->keid);
    e->running = true;
    pthread_mutex_unlock(&mc->mu);
    m2m_rc rc = mc->cfg.fetch.fn(mc->cfg.fetch.ctx, wk, keid, false, key, &klen, enrolee, &life);
    enrolee[M2M_ID_MAX - 1] = 0;
    bool ok = rc == M2M_OK && result_ok(key, klen, enrolee, life);
    struct waiter *w;
    int n_w;
    pthread_mutex_lock(&mc->mu);
    complete(mc, e, ok, key, klen, enrolee, life, &w, &n_w);
    pthread_mutex_unlock(&mc->mu);
    m2m_wipe(key, sizeof key);
    wake_all(w, n_w);
    pthread_mutex_lock(&mc->mu);
}

/* ---- revalidation: a cached key is confirmed with the MEF again every revalidate_s ---- */

/* TS-0003 8.3.2.1 lets the Target use the key only while the enrolment stands; the MEF is the
 * authority on that, so a key not confirmed for revalidate_s is asked about again. */
static bool reval_due(const struct mefcache *mc, const struct ent *e, int64_t now)
{
    return mc->cfg.revalidate_s > 0 && e->st == E_POSITIVE && !e->reval_running &&
           e->next_s <= now && e->exp_s > now;
}

/* The positive entry most overdue for revalidation; NULL when none is due or reval_max
 * revalidations already run. Counts a scan. Lock held. */
static struct ent *due_reval(struct mefcache *mc, int64_t now)
{
    mc->st.scans++;
    if (mc->cfg.revalidate_s == 0 || mc->n_reval >= mc->reval_max)
        return NULL;
    struct ent *best = NULL;
    for (size_t i = 0; i < mc->cap; i++) {
        struct ent *e = &mc->ents[i];
        if (reval_due(mc, e, now) && (best == NULL || e->next_s < best->next_s))
            best = e;
    }
    return best;
}

/* The MEF refused (refused) or answered another key or enrolee: the key the live sessions were
 * made with is no longer vouched for, so they end (generation; TS-0003 8.2: an association lasts
 * only while its credential is valid). A refused KeID is cached negatively (the next handshake
 * fails without asking again); a changed one is freed (the next handshake fetches the new key).
 * Lock held. */
static void withdraw(struct mefcache *mc, struct ent *e, bool refused, int64_t now)
{
    mc->gen++;
    queue_drop(mc, e);
    if (!refused) {
        log_warn("mef: key %s changed at the MEF; dropped, its sessions end", e->keid);
        mc->st.reval_changed++;
        ent_clear(mc, e);
        return;
    }
    log_warn("mef: key %s withdrawn by the MEF; wiped, its sessions end", e->keid);
    mc->st.reval_refused++;
    m2m_wipe(e->key, sizeof e->key);
    e->key_len = 0;
    memset(e->enrolee, 0, sizeof e->enrolee);
    e->st = E_NEGATIVE; /* still counted in n_done */
    e->reval_running = false;
    e->exp_s = now + mc->cfg.negative_ttl_s;
}

/* Applies a revalidation's answer to e, still the entry it was started for. Lock held. */
static void reval_done(struct mefcache *mc, struct ent *e, m2m_rc rc, bool usable,
                       const uint8_t *key, size_t klen, const char *enrolee, int64_t life)
{
    int64_t now = now_s(mc);
    e->reval_running = false;
    if (rc == M2M_ERR_DENIED) {
        withdraw(mc, e, true, now);
        return;
    }
    if (rc != M2M_OK || !usable) { /* availability: keep the key until its lifetime */
        int retry = mc->cfg.revalidate_s < mc->cfg.negative_ttl_s ? mc->cfg.revalidate_s
                                                                  : mc->cfg.negative_ttl_s;
        e->next_s = now + retry;
        mc->st.reval_failed++;
        log_warn("mef: cannot revalidate key %s (%s); kept until its lifetime, retry in %ds",
                 e->keid, rc == M2M_OK ? "unusable answer" : m2m_rc_str(rc), retry);
        return;
    }
    if (klen != e->key_len || !m2m_ct_eq(key, e->key, klen) || strcmp(enrolee, e->enrolee) != 0) {
        withdraw(mc, e, false, now);
        return;
    }
    mc->st.reval_ok++;
    e->exp_s = now + life;
    e->next_s = now + mc->cfg.revalidate_s;
}

/* One revalidation of e on worker wk: the lock is dropped around the network call, and handshakes
 * keep using the cached key meanwhile. Lock held. */
static void run_reval(struct mefcache *mc, int wk, struct ent *e)
{
    char keid[KDF_KEY_ID_BUF];
    uint8_t key[MEFCACHE_KEY_MAX];
    size_t klen = sizeof key;
    char enrolee[M2M_ID_MAX] = "";
    int64_t life = 0;
    uint64_t seq = e->seq;
    snprintf(keid, sizeof keid, "%s", e->keid);
    e->reval_running = true;
    mc->n_reval++;
    mc->st.revalidations++;
    pthread_mutex_unlock(&mc->mu);
    m2m_rc rc = mc->cfg.fetch.fn(mc->cfg.fetch.ctx, wk, keid, true, key, &klen, enrolee, &life);
    enrolee[M2M_ID_MAX - 1] = 0;
    bool usable = rc == M2M_OK && result_ok(key, klen, enrolee, life);
    pthread_mutex_lock(&mc->mu);
    mc->n_reval--;
    /* meanwhile the entry may have expired or been evicted and its slot reused */
    if (e->st == E_POSITIVE && e->seq == seq && e->reval_running)
        reval_done(mc, e, rc, usable, key, klen, enrolee, life);
    m2m_wipe(key, sizeof key);
}

/* Runs the oldest queued on_drop; the lock is dropped around the call. Lock held. */
static void run_drop(struct mefcache *mc)
{
    char keid[KDF_KEY_ID_BUF];
    snprintf(keid, sizeof keid, "%s", mc->drops[mc->d_head]);
    mc->d_head = (mc->d_head + 1) % mc->cap;
    mc->d_len--;
    mc->st.drops++;
    pthread_mutex_unlock(&mc->mu);
    mc->cfg.on_drop(mc->cfg.drop_ctx, keid);
    pthread_mutex_lock(&mc->mu);
}

/* A worker: queued first fetches first (a handshake waits for each), then due revalidations, else
 * sleep up to a second (the revalidation and expiry timer) or until signalled. */
static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    struct mefcache *mc = wk->mc;
    pthread_mutex_lock(&mc->mu);
    while (!mc->stopping) {
        if (mc->q_len > 0) {
            size_t idx = mc->queue[mc->q_head];
            mc->q_head = (mc->q_head + 1) % (size_t)mc->cfg.queue_max;
            mc->q_len--;
            run_one(mc, wk->idx, &mc->ents[idx]);
            continue;
        }
        if (mc->d_len > 0) {
            run_drop(mc);
            continue;
        }
        struct ent *r = due_reval(mc, now_s(mc));
        if (r != NULL) {
            run_reval(mc, wk->idx, r);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&mc->cv, &mc->mu, &ts);
        sweep(mc, now_s(mc));
    }
    pthread_mutex_unlock(&mc->mu);
    return NULL;
}

static m2m_rc check_cfg(const struct mefcache_cfg *c)
{
    if (c->mef_fqdn == NULL || !kdf_fqdn_valid((const uint8_t *)c->mef_fqdn, strlen(c->mef_fqdn)))
        return M2M_ERR_CONFIG;
    if (c->max_entries < 1 || c->max_entries > MEFCACHE_MAX_ENTRIES)
        return M2M_ERR_CONFIG;
    if (c->negative_ttl_s < 1 || c->negative_ttl_s > 86400)
        return M2M_ERR_CONFIG;
    if (c->workers < 1 || c->workers > MEFCACHE_MAX_WORKERS)
        return M2M_ERR_CONFIG;
    if (c->queue_max < 1 || c->queue_max > MEFCACHE_MAX_QUEUE || c->fetch.fn == NULL)
        return M2M_ERR_CONFIG;
    if (c->revalidate_s < 0 || c->revalidate_s > 86400)
        return M2M_ERR_CONFIG;
    return M2M_OK;
}

m2m_rc mefcache_new(const struct mefcache_cfg *cfg, struct mefcache **out)
{
    m2m_rc rc;
    *out = NULL;
    RETURN_IF_ERR(check_cfg(cfg));
    struct mefcache *mc = calloc(1, sizeof *mc);
    ENSURE_NONNULL(mc);
    mc->cfg = *cfg;
    snprintf(mc->fqdn, sizeof mc->fqdn, "%s", cfg->mef_fqdn);
    mc->cfg.mef_fqdn = mc->fqdn;
    mc->last_sweep_s = -1;
    mc->reval_max = cfg->workers > 1 ? cfg->workers - 1 : 1;
    pthread_mutex_init(&mc->mu, NULL);
    pthread_cond_init(&mc->cv, NULL);
    mc->cap = cfg->max_entries + (size_t)cfg->queue_max;
    mc->ents = calloc(mc->cap, sizeof *mc->ents);
    mc->queue = calloc((size_t)cfg->queue_max, sizeof *mc->queue);
    mc->drops = cfg->on_drop ? calloc(mc->cap, sizeof *mc->drops) : NULL;
    ENSURE(mc->ents != NULL && mc->queue != NULL && (cfg->on_drop == NULL || mc->drops != NULL),
           M2M_ERR_NOMEM);
    for (int i = 0; i < cfg->workers; i++) {
        mc->workers[i] = (struct worker){mc, i};
        ENSURE(pthread_create(&mc->th[i], NULL, worker_main, &mc->workers[i]) == 0,
               M2M_ERR_INTERNAL);
        mc->n_th++;
    }
    *out = mc;
    return M2M_OK;
out:
    mefcache_free(mc);
    return rc;
}

void mefcache_shutdown(struct mefcache *mc)
{
    if (mc == NULL)
        return;
    pthread_mutex_lock(&mc->mu);
    mc->stopping = true;
    pthread_cond_broadcast(&mc->cv);
    pthread_mutex_unlock(&mc->mu);
    for (int i = 0; i < mc->n_th; i++)
        pthread_join(mc->th[i], NULL);
    mc->n_th = 0;
    /* the workers are gone: fail what is still queued, waking each handshake exactly once */
    for (;;) {
        struct waiter *w = NULL;
        int n_w = 0;
        pthread_mutex_lock(&mc->mu);
        for (size_t i = 0; mc->ents != NULL && i < mc->cap && w == NULL; i++)
            if (mc->ents[i].st == E_PENDING) {
                struct ent *e = &mc->ents[i];
                w = e->w;
                n_w = e->n_w;
                mc->n_pending--;
                memset(e, 0, sizeof *e);
            }
        mc->q_len = 0;
        pthread_mutex_unlock(&mc->mu);
        if (w == NULL)
            break;
        wake_all(w, n_w);
    }
}

void mefcache_free(struct mefcache *mc)
{
    if (mc == NULL)
        return;
    mefcache_shutdown(mc);
    if (mc->ents != NULL) {
        m2m_wipe(mc->ents, mc->cap * sizeof *mc->ents);
        free(mc->ents);
    }
    free(mc->queue);
    free(mc->drops);
    pthread_mutex_destroy(&mc->mu);
    pthread_cond_destroy(&mc->cv);
    free(mc);
}

/* A new pending fetch for keid with its first waiter. Lock held. */
static m2m_rc start_fetch(struct mefcache *mc, const char *keid, void (*wake)(void *), void *arg)
{
    if (mc->n_pending >= (size_t)mc->cfg.queue_max) {
        mc->st.queue_full++;
        log_warn("mef: fetch queue full; refusing %s", keid);
        return M2M_ERR_LIMIT;
    }
    struct ent *e = NULL;
    for (size_t i = 0; i < mc->cap && e == NULL; i++)
        if (mc->ents[i].st == E_FREE)
            e = &mc->ents[i];
    if (e == NULL) /* cannot happen: cap = max_entries + queue_max */
        return M2M_ERR_INTERNAL;
    struct waiter *w = calloc(MEFCACHE_MAX_WAITERS, sizeof *w);
    if (w == NULL)
        return M2M_ERR_NOMEM;
    memset(e, 0, sizeof *e);
    e->st = E_PENDING;
    snprintf(e->keid, sizeof e->keid, "%s", keid);
    e->w = w;
    e->w[e->n_w++] = (struct waiter){wake, arg};
    mc->n_pending++;
    size_t tail = (mc->q_head + mc->q_len) % (size_t)mc->cfg.queue_max;
    mc->queue[tail] = (size_t)(e - mc->ents);
    mc->q_len++;
    mc->st.fetches++;
    pthread_cond_signal(&mc->cv);
    return M2M_ERR_AGAIN;
}

m2m_rc mefcache_prefetch(struct mefcache *mc, const char *identity, size_t idlen,
                         void (*wake)(void *wake_arg), void *wake_arg)
{
    char keid[KDF_KEY_ID_BUF];
    if (canon_keid(mc, identity, idlen, keid) != M2M_OK || wake == NULL)
        return M2M_OK; /* not ours to fetch: psk_lookup answers from the database alone */
    m2m_rc rc = M2M_OK;
    pthread_mutex_lock(&mc->mu);
    if (mc->stopping)
        goto out;
    int64_t now = now_s(mc);
    sweep(mc, now);
    struct ent *e = find(mc, keid);
    if (e == NULL) {
        rc = start_fetch(mc, keid, wake, wake_arg);
    } else if (e->st == E_PENDING) {
        ENSURE(e->n_w < MEFCACHE_MAX_WAITERS, M2M_ERR_LIMIT);
        e->w[e->n_w++] = (struct waiter){wake, wake_arg};
        mc->st.coalesced++;
        rc = M2M_ERR_AGAIN;
    } else if (e->st == E_POSITIVE && e->exp_s > now) {
        mc->st.hits++;
        if (reval_due(mc, e, now)) /* used while due: wake a worker now, never wait for it */
            pthread_cond_signal(&mc->cv);
    } else if (e->st == E_NEGATIVE && e->exp_s > now) {
        mc->st.negative_hits++;
    }
out:
    pthread_mutex_unlock(&mc->mu);
    return rc;
}

static void fill_bind(const struct ent *e, struct m2m_secctx *bind)
{
    if (bind == NULL)
        return;
    bind->kind = M2M_SEC_TLS_PSK;
    snprintf(bind->identity, sizeof bind->identity, "%s", e->enrolee);
    /* docs/MEF.md [INTERP]: Credential-ID type 12 (symmetric key for the SAEF) of the KeID */
    snprintf(bind->cred_id, sizeof bind->cred_id, "%d-%.250s", CRED_TYPE_SAEF_PSK, e->keid);
    memset(bind->bound, 0, sizeof bind->bound);
    bind->n_bound = 0;
}

m2m_rc mefcache_psk_lookup(struct mefcache *mc, const char *identity, size_t idlen, uint8_t *key,
                           size_t *keylen, struct m2m_secctx *bind)
{
    char keid[KDF_KEY_ID_BUF];
    RETURN_IF_ERR(canon_keid(mc, identity, idlen, keid));
    m2m_rc rc = M2M_OK;
    pthread_mutex_lock(&mc->mu);
    int64_t now = now_s(mc);
    sweep(mc, now);
    struct ent *e = find(mc, keid);
    ENSURE(e != NULL && e->st == E_POSITIVE && e->exp_s > now, M2M_ERR_NOT_FOUND);
    ENSURE(*keylen >= e->key_len, M2M_ERR_LIMIT);
    memcpy(key, e->key, e->key_len);
    *keylen = e->key_len;
    fill_bind(e, bind);
out:
    pthread_mutex_unlock(&mc->mu);
    return rc;
}

/* The KeID of a Credential-ID "12-<KeID of our MEF>", canonical; false for anything else. */
static bool cred_keid(struct mefcache *mc, const char *cred_id, char keid[KDF_KEY_ID_BUF])
{
    if (cred_id == NULL || strncmp(cred_id, "12-", 3) != 0)
        return false;
    const char *id = cred_id + 3;
    size_t len = strnlen(id, M2M_ID_MAX);
    return canon_keid(mc, id, len, keid) == M2M_OK;
}

bool mefcache_is_revoked(struct mefcache *mc, const char *cred_id)
{
    char keid[KDF_KEY_ID_BUF];
    if (!cred_keid(mc, cred_id, keid))
        return false;
    pthread_mutex_lock(&mc->mu);
    int64_t now = now_s(mc);
    sweep(mc, now);
    struct ent *e = find(mc, keid);
    bool valid = e != NULL && e->st == E_POSITIVE && e->exp_s > now;
    pthread_mutex_unlock(&mc->mu);
    return !valid;
}

bool mefcache_holds(struct mefcache *mc, const char *keid)
{
    if (keid == NULL)
        return false;
    pthread_mutex_lock(&mc->mu);
    int64_t now = now_s(mc);
    sweep(mc, now);
    struct ent *e = find(mc, keid);
    bool live = e != NULL && (e->st == E_PENDING || (e->st == E_POSITIVE && e->exp_s > now));
    pthread_mutex_unlock(&mc->mu);
    return live;
}

uint64_t mefcache_generation(struct mefcache *mc)
{
    pthread_mutex_lock(&mc->mu);
    sweep(mc, now_s(mc));
    uint64_t g = mc->gen;
    pthread_mutex_unlock(&mc->mu);
    return g;
}

void mefcache_get_stats(struct mefcache *mc, struct mefcache_stats *out)
{
    pthread_mutex_lock(&mc->mu);
    *out = mc->st;
    out->entries = mc->n_done;
    out->pending = mc->n_pending;
    pthread_mutex_unlock(&mc->mu);
}

const uint8_t *mefcache_debug_key_slot(struct mefcache *mc, const char *keid)
{
    pthread_mutex_lock(&mc->mu);
    struct ent *e = find(mc, keid);
    pthread_mutex_unlock(&mc->mu);
    return e ? e->key : NULL;
}

/* ---- the composed hooks: the credential database first, then the cache ---- */

/* True when the database holds identity (a provisioned key wins over a fetched one). */
static bool inner_knows(struct mefcache *mc, const char *identity, size_t idlen)
{
    if (mc->inner.psk_lookup == NULL)
        return false;
    uint8_t k[TLS_PSK_KEY_MAX];
    size_t kl = sizeof k;
    struct m2m_secctx tmp;
    memset(&tmp, 0, sizeof tmp);
    m2m_rc rc = mc->inner.psk_lookup(mc->inner.ctx, identity, idlen, k, &kl, &tmp);
    m2m_wipe(k, sizeof k);
    return rc == M2M_OK;
}

/* True when the administrator revoked this KeID in the database: never fetch it again. */
static bool inner_revoked_keid(struct mefcache *mc, const char *identity, size_t idlen)
{
    char keid[KDF_KEY_ID_BUF], cred[M2M_ID_MAX];
    if (mc->inner.is_revoked == NULL || canon_keid(mc, identity, idlen, keid) != M2M_OK)
        return false;
    snprintf(cred, sizeof cred, "%d-%.250s", CRED_TYPE_SAEF_PSK, keid); /* KDF_KEY_ID_MAX */
    return mc->inner.is_revoked(mc->inner.ctx, cred);
}

static m2m_rc hk_psk_lookup(void *ctx, const char *identity, size_t idlen, uint8_t *key,
                            size_t *keylen, struct m2m_secctx *bind)
{
    struct mefcache *mc = ctx;
    if (mc->inner.psk_lookup != NULL) {
        m2m_rc rc = mc->inner.psk_lookup(mc->inner.ctx, identity, idlen, key, keylen, bind);
        if (rc != M2M_ERR_NOT_FOUND)
            return rc;
    }
    if (inner_revoked_keid(mc, identity, idlen))
        return M2M_ERR_NOT_FOUND;
    return mefcache_psk_lookup(mc, identity, idlen, key, keylen, bind);
}

static m2m_rc hk_prefetch(void *ctx, const char *identity, size_t idlen, void (*wake)(void *),
                          void *wake_arg)
{
    struct mefcache *mc = ctx;
    if (inner_knows(mc, identity, idlen) || inner_revoked_keid(mc, identity, idlen))
        return M2M_OK;
    return mefcache_prefetch(mc, identity, idlen, wake, wake_arg);
}

static m2m_rc hk_rpk(void *ctx, const char *ni_id, struct m2m_secctx *bind)
{
    struct mefcache *mc = ctx;
    return mc->inner.rpk_lookup(mc->inner.ctx, ni_id, bind);
}

static m2m_rc hk_node(void *ctx, const char *san_id, struct m2m_secctx *bind)
{
    struct mefcache *mc = ctx;
    return mc->inner.node_lookup(mc->inner.ctx, san_id, bind);
}

static uint64_t hk_generation(void *ctx)
{
    struct mefcache *mc = ctx;
    uint64_t g = mc->inner.generation ? mc->inner.generation(mc->inner.ctx) : 0;
    return g + mefcache_generation(mc);
}

static bool hk_revoked(void *ctx, const char *cred_id)
{
    struct mefcache *mc = ctx;
    if (mc->inner.is_revoked != NULL && mc->inner.is_revoked(mc->inner.ctx, cred_id))
        return true;
    char keid[KDF_KEY_ID_BUF];
    if (!cred_keid(mc, cred_id, keid))
        return false;
    const char *id = cred_id + 3;
    if (inner_knows(mc, id, strnlen(id, M2M_ID_MAX)))
        return false;
    return mefcache_is_revoked(mc, cred_id);
}

void mefcache_tls_hooks(struct mefcache *mc, const struct tls_cred_hooks *inner,
                        struct tls_cred_hooks *out)
{
    struct tls_cred_hooks in;
    if (inner != NULL)
        in = *inner;
    else
        memset(&in, 0, sizeof in);
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&mc->mu);
    mc->inner = in;
    pthread_mutex_unlock(&mc->mu);
    out->ctx = mc;
    out->psk_lookup = hk_psk_lookup;
    out->psk_prefetch = hk_prefetch;
    out->rpk_lookup = in.rpk_lookup ? hk_rpk : NULL;
    out->node_lookup = in.node_lookup ? hk_node : NULL;
    out->generation = hk_generation;
    out->is_revoked = hk_revoked;
}
