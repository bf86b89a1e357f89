/* mefcache_test.c: the Enrolment Target's key cache (TS-0003 8.3.2.1, SPEC-MAP G5) with a test
 * double of the network fetch: hit, miss -> AGAIN then wake, coalescing, negative cache, expiry,
 * queue full, waiter bound, eviction wipes, bad MEF answers, shutdown, composed hooks, config,
 * revalidation (confirmed, changed key or enrolee, refused, unreachable, timing, limits), and the
 * on_drop report (expiry, eviction, revalidation; from a worker, never blocking a handshake). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keys/mefcache.h"
#include "tls/tls.h"

#define FQDN "mef.m2msec.test"
#define K1 "000102030405060708090A0B0C0D0E0F@" FQDN
#define K1_LOWER "000102030405060708090a0b0c0d0e0f@" FQDN
#define K2 "101112131415161718191A1B1C1D1E1F@" FQDN
#define K3 "202122232425262728292A2B2C2D2E2F@" FQDN
#define K4 "303132333435363738393A3B3C3D3E3F@" FQDN

/* ---- the fetch double and the clock ---- */

struct fake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool gate_closed;       /* every fetch waits at the gate */
    bool reval_gate_closed; /* revalidations wait at the gate */
    int calls, in_fetch, reval_calls;
    m2m_rc result;
    int64_t life;
    size_t key_len;
    uint8_t salt; /* changes the key the MEF answers */
    char enrolee[M2M_ID_MAX];
    char last_keid[300];
};

static struct fake F;
static _Atomic int64_t NOW = 1000000;

static int64_t fake_now(void *ctx)
{
    return NOW;
}

static void fake_key_salted(const char *keid, uint8_t salt, uint8_t *key, size_t n)
{
    for (size_t i = 0; i < n; i++)
        key[i] = (uint8_t)(keid[i % 32] ^ 0x5a ^ i ^ salt);
}

static void fake_key(const char *keid, uint8_t *key, size_t n)
{
    fake_key_salted(keid, 0, key, n);
}

static m2m_rc fake_fetch(void *ctx, int worker, const char *keid, bool revalidate, uint8_t *key,
                         size_t *key_len, char enrolee[M2M_ID_MAX], int64_t *lifetime_s)
{
    struct fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->calls++;
    f->reval_calls += revalidate;
    f->in_fetch++;
    snprintf(f->last_keid, sizeof f->last_keid, "%s", keid);
    pthread_cond_broadcast(&f->cv);
    while (f->gate_closed || (revalidate && f->reval_gate_closed))
        pthread_cond_wait(&f->cv, &f->mu);
    f->in_fetch--;
    m2m_rc rc = f->result;
    if (rc == M2M_OK) {
        assert_true(*key_len >= f->key_len);
        fake_key_salted(keid, f->salt, key, f->key_len);
        *key_len = f->key_len;
        snprintf(enrolee, M2M_ID_MAX, "%s", f->enrolee);
        *lifetime_s = f->life;
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static void gate(bool closed)
{
    pthread_mutex_lock(&F.mu);
    F.gate_closed = closed;
    pthread_cond_broadcast(&F.cv);
    pthread_mutex_unlock(&F.mu);
}

static void reval_gate(bool closed)
{
    pthread_mutex_lock(&F.mu);
    F.reval_gate_closed = closed;
    pthread_cond_broadcast(&F.cv);
    pthread_mutex_unlock(&F.mu);
}

/* Waits until n fetches are inside the double (blocked at the gate). */
static void wait_in_fetch(int n)
{
    pthread_mutex_lock(&F.mu);
    while (F.in_fetch < n)
        pthread_cond_wait(&F.cv, &F.mu);
    pthread_mutex_unlock(&F.mu);
}

static int calls(void)
{
    pthread_mutex_lock(&F.mu);
    int c = F.calls;
    pthread_mutex_unlock(&F.mu);
    return c;
}

/* ---- wake counting ---- */

struct wakes {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
};
static struct wakes W = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
static _Atomic int per_arg[128];

static void on_wake(void *arg)
{
    int i = (int)(intptr_t)arg;
    per_arg[i]++;
    pthread_mutex_lock(&W.mu);
    W.n++;
    pthread_cond_broadcast(&W.cv);
    pthread_mutex_unlock(&W.mu);
}

static void wait_wakes(int n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    pthread_mutex_lock(&W.mu);
    while (W.n < n)
        if (pthread_cond_timedwait(&W.cv, &W.mu, &ts) != 0)
            break;
    int got = W.n;
    pthread_mutex_unlock(&W.mu);
    assert_int_equal(got, n);
}

static int setup(void **state)
{
    pthread_mutex_init(&F.mu, NULL);
    pthread_cond_init(&F.cv, NULL);
    F.gate_closed = F.reval_gate_closed = false;
    F.calls = F.in_fetch = F.reval_calls = 0;
    F.salt = 0;
    F.result = M2M_OK;
    F.life = 3600;
    F.key_len = 32;
    snprintf(F.enrolee, sizeof F.enrolee, "Cdev1");
    NOW = 1000000;
    W.n = 0;
    for (size_t i = 0; i < 128; i++)
        per_arg[i] = 0;
    return 0;
}

static struct mefcache *mk_r(size_t max_entries, int workers, int queue_max, int revalidate_s)
{
    struct mefcache_cfg c;
    mefcache_cfg_default(&c);
    assert_int_equal(c.revalidate_s, 300);
    c.mef_fqdn = FQDN;
    c.max_entries = max_entries;
    c.workers = workers;
    c.queue_max = queue_max;
    c.revalidate_s = revalidate_s;
    c.negative_ttl_s = 30;
    c.fetch = (struct mefcache_fetch){fake_fetch, &F};
    c.now_s = fake_now;
    struct mefcache *mc = NULL;
    assert_int_equal(mefcache_new(&c, &mc), M2M_OK);
    return mc;
}

static struct mefcache *mk(size_t max_entries, int workers, int queue_max)
{
    return mk_r(max_entries, workers, queue_max, 300);
}

static m2m_rc lookup(struct mefcache *mc, const char *id, uint8_t *key, size_t *kl,
                     struct m2m_secctx *b)
{
    memset(b, 0, sizeof *b);
    *kl = TLS_PSK_KEY_MAX;
    return mefcache_psk_lookup(mc, id, strlen(id), key, kl, b);
}

/* Prefetch, wait for the wake, answer from the cache. */
static void fetch_now(struct mefcache *mc, const char *id, int wakes_before)
{
    assert_int_equal(mefcache_prefetch(mc, id, strlen(id), on_wake, (void *)0), M2M_ERR_AGAIN);
    wait_wakes(wakes_before + 1);
}

static struct mefcache_stats stats(struct mefcache *mc)
{
    struct mefcache_stats s;
    mefcache_get_stats(mc, &s);
    return s;
}

/* ---- tests ---- */

static void test_not_ours(void **state)
{
    struct mefcache *mc = mk(8, 1, 4);
    const char *ids[] = {"Cae1@in.example.com", "000102030405060708090A0B0C0D0E0F@other.test",
                         "0001@" FQDN, "000102030405060708090A0B0C0D0E0G@" FQDN, ""};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        assert_int_equal(mefcache_prefetch(mc, ids[i], strlen(ids[i]), on_wake, NULL), M2M_OK);
        uint8_t k[64];
        size_t kl;
        struct m2m_secctx b;
        assert_int_equal(lookup(mc, ids[i], k, &kl, &b), M2M_ERR_NOT_FOUND);
    }
    /* an embedded NUL: exactly idlen bytes are peer data */
    assert_int_equal(mefcache_prefetch(mc, K1 "\0x", sizeof K1 + 1, on_wake, NULL), M2M_OK);
    assert_int_equal(calls(), 0);
    assert_int_equal(W.n, 0);
    assert_false(mefcache_is_revoked(mc, "12-Cae1@in.example.com"));
    mefcache_free(mc);
}

static void test_miss_wake_hit(void **state)
{
    struct mefcache *mc = mk(8, 2, 4);
    uint8_t k[64], want[32];
    size_t kl;
    struct m2m_secctx b;
    assert_int_equal(lookup(mc, K1, k, &kl, &b), M2M_ERR_NOT_FOUND);
    fetch_now(mc, K1_LOWER, 0); /* either case of hex: one canonical KeID */
    assert_string_equal(F.last_keid, K1);
    assert_int_equal(lookup(mc, K1, k, &kl, &b), M2M_OK);
    fake_key(K1, want, 32);
    assert_int_equal(kl, 32);
    assert_memory_equal(k, want, 32);
    assert_int_equal(b.kind, M2M_SEC_TLS_PSK);
    assert_string_equal(b.identity, "Cdev1");
    assert_string_equal(b.cred_id, "12-" K1);
    assert_int_equal(b.n_bound, 0);
    assert_int_equal(lookup(mc, K1_LOWER, k, &kl, &b), M2M_OK);
    /* a hit answers at once, without a fetch and without a wake */
    assert_int_equal(mefcache_prefetch(mc, K1, strlen(K1), on_wake, NULL), M2M_OK);
    assert_int_equal(calls(), 1);
    assert_int_equal(W.n, 1);
    assert_false(mefcache_is_revoked(mc, "12-" K1));
    assert_true(mefcache_is_revoked(mc, "12-" K2)); /* ours, not held */
    struct mefcache_stats s = stats(mc);
    assert_int_equal(s.hits, 1);
    assert_int_equal(s.fetch_ok, 1);
    assert_int_equal(s.entries, 1);
    /* too small a buffer */
    kl = 16;
    assert_int_equal(mefcache_psk_lookup(mc, K1, strlen(K1), k, &kl, &b), M2M_ERR_LIMIT);
    mefcache_free(mc);
}

static void test_coalescing(void **state)
{
    struct mefcache *mc = mk(8, 2, 4);
    gate(true);
    for (int i = 1; i <= 5; i++) {
        const char *id = i % 2 ? K1 : K1_LOWER;
        assert_int_equal(mefcache_prefetch(mc, id, strlen(id), on_wake, (void *)(intptr_t)i),
                         M2M_ERR_AGAIN);
    }
    wait_in_fetch(1);
    assert_int_equal(stats(mc).coalesced, 4);
    assert_int_equal(W.n, 0);
    gate(false);
    wait_wakes(5);
    for (int i = 1; i <= 5; i++)
        assert_int_equal(per_arg[i], 1); /* each exactly once */
    assert_int_equal(calls(), 1);
    mefcache_free(mc);
}

static void test_negative_cache(void **state)
{
    struct mefcache *mc = mk(8, 1, 4);
    uint8_t k[64];
    size_t kl;
    struct m2m_secctx b;
    F.result = M2M_ERR_NOT_FOUND;
    fetch_now(mc, K2, 0);
    assert_int_equal(lookup(mc, K2, k, &kl, &b), M2M_ERR_NOT_FOUND);
    /* within the TTL: answered at once, the MEF is not asked again */
    for (int i = 0; i < 10; i++)
        assert_int_equal(mefcache_prefetch(mc, K2, strlen(K2), on_wake, NULL), M2M_OK);
    assert_int_equal(calls(), 1);
    assert_int_equal(stats(mc).negative_hits, 10);
    assert_true(mefcache_is_revoked(mc, "12-" K2));
    /* after it: fetched again, and this time the MEF answers */
    NOW += 31;
    F.result = M2M_OK;
    fetch_now(mc, K2, 1);
    assert_int_equal(calls(), 2);
    assert_int_equal(lookup(mc, K2, k, &kl, &b), M2M_OK);
    mefcache_free(mc);
}

static void test_transport_failure_is_negative(void **state)
{
    struct mefcache *mc = mk(8, 1, 4);
    F.result = M2M_ERR_IO;
    fetch_now(mc, K3, 0);
    assert_int_equal(mefcache_prefetch(mc, K3, strlen(K3), on_wake, NULL), M2M_OK);
    assert_int_equal(stats(mc).fetch_failed, 1);
    mefcache_free(mc);
}

static void test_bad_answers_are_negative(void **state)
{
    struct mefcache *mc = mk(8, 1, 8);
    uint8_t k[64];
    size_t kl;
    struct m2m_secctx b;
    F.enrolee[0] = 0; /* no identity to bind (F6) */
    fetch_now(mc, K1, 0);
    assert_int_equal(lookup(mc, K1, k, &kl, &b), M2M_ERR_NOT_FOUND);
    snprintf(F.enrolee, sizeof F.enrolee, "C dev"); /* not a valid identity */
    fetch_now(mc, K2, 1);
    assert_int_equal(lookup(mc, K2, k, &kl, &b), M2M_ERR_NOT_FOUND);
    snprintf(F.enrolee, sizeof F.enrolee, "Cdev1");
    F.life = 0; /* no lifetime */
    fetch_now(mc, K3, 2);
    assert_int_equal(lookup(mc, K3, k, &kl, &b), M2M_ERR_NOT_FOUND);
    F.life = 60;
    F.key_len = 0; /* no key */
    fetch_now(mc, K4, 3);
    assert_int_equal(lookup(mc, K4, k, &kl, &b), M2M_ERR_NOT_FOUND);
    assert_int_equal(stats(mc).fetch_failed, 4);
    assert_int_equal(stats(mc).fetch_ok, 0);
    mefcache_free(mc);
}

static void test_expiry(void **state)
{
    struct mefcache *mc = mk(8, 1, 4);
    uint8_t k[64];
    size_t kl;
    struct m2m_secctx b;
    F.life = 10;
    fetch_now(mc, K1, 0);
    uint64_t g0 = mefcache_generation(mc);
    const uint8_t *slot = mefcache_debug_key_slot(mc, K1);
    assert_non_null(slot);
    NOW += 9;
    assert_int_equal(lookup(mc, K1, k, &kl, &b), M2M_OK);
    assert_int_equal(mefcache_generation(mc), g0);
    NOW += 1; /* lifetime over: gone, live sessions end */
    assert_int_not_equal(mefcache_generation(mc), g0);
    assert_true(mefcache_is_revoked(mc, "12-" K1));
    assert_int_equal(lookup(mc, K1, k, &kl, &b), M2M_ERR_NOT_FOUND);
    static const uint8_t zero[MEFCACHE_KEY_MAX];
    assert_memory_equal(slot, zero, sizeof zero);
    assert_int_equal(stats(mc).expirations, 1);
    assert_int_equal(stats(mc).entries, 0);
    /* a new handshake fetches again */
    fetch_now(mc, K1, 1);
    assert_int_equal(calls(), 2);
    mefcache_free(mc);
}

static void test_queue_full(void **state)
{
    struct mefcache *mc = mk(8, 1, 2);
    gate(true);
    assert_int_equal(mefcache_prefetch(mc, K1, strlen(K1), on_wake, (void *)1), M2M_ERR_AGAIN);
    wait_in_fetch(1);
    assert_int_equal(mefcache_prefetch(mc, K2, strlen(K2), on_wake, (void *)2), M2M_ERR_AGAIN);
    /* two pending (one running, one queued): a third KeID fails at once, without blocking */
    assert_int_equal(mefcache_prefetch(mc, K3, strlen(K3), on_wake, (void *)3), M2M_ERR_LIMIT);
    /* but a handshake for a pending KeID still joins it */
    assert_int_equal(mefcache_prefetch(mc, K2, strlen(K2), on_wake, (void *)4), M2M_ERR_AGAIN);
    assert_int_equal(stats(mc).queue_full, 1);
    assert_int_equal(stats(mc).pending, 2);
    gate(false);
    wait_wakes(3);
    assert_int_equal(per_arg[3], 0);
    assert_int_equal(calls(), 2);
    /* room again */
    fetch_now(mc, K3, 3);
    mefcache_free(mc);
}

static void test_waiter_bound(void **state)
{
    struct mefcache *mc = mk(8, 1, 2);
    gate(true);
    for (int i = 0; i < MEFCACHE_MAX_WAITERS; i++)
        assert_int_equal(mefcache_prefetch(mc, K1, strlen(K1), on_wake, (void *)0), M2M_ERR_AGAIN);
    assert_int_equal(mefcache_prefetch(mc, K1, strlen(K1), on_wake, (void *)1), M2M_ERR_LIMIT);
    gate(false);
    wait_wakes(MEFCACHE_MAX_WAITERS);
    assert_int_equal(per_arg[1], 0);
    mefcache_free(mc);
}

static void test_eviction_wipes(void **state)
{
    struct mefcache *mc = mk(2, 1, 2);
    uint8_t k[64];
    size_t kl;
    struct m2m_secctx b;
    static const uint8_t zero[MEFCACHE_KEY_MAX];
    F.life = 100;
    fetch_now(mc, K1, 0); /* expires first */
    F.life = 500;
    fetch_now(mc, K2, 1);
    const uint8_t *s1 = mefcache_debug_key_slot(mc, K1);
    assert_non_null(s1);
    assert_memory_not_equal(s1, zero, 32);
    uint64_t g0 = mefcache_generation(mc);
    /* a failed fetch never pushes a live key out */
    F.result = M2M_ERR_NOT_FOUND;
    fetch_now(mc, K4, 2);
    assert_int_equal(lookup(mc, K1, k, &kl, &b), M2M_OK);
    assert_int_equal(lookup(mc, K2, k, &kl, &b), M2M_OK);
    assert_int_equal(stats(mc).evictions, 0);
    /* a new key does: the one that expires first goes, wiped, and its sessions end */
    F.result = M2M_OK;
    fetch_now(mc, K3, 3);
    assert_int_equal(lookup(mc, K1, k, &kl, &b), M2M_ERR_NOT_FOUND);
    assert_int_equal(lookup(mc, K2, k, &kl, &b), M2M_OK);
    assert_int_equal(lookup(mc, K3, k, &kl, &b), M2M_OK);
    assert_memory_equal(s1, zero, sizeof zero);
    assert_int_not_equal(mefcache_generation(mc), g0);
    assert_true(mefcache_is_revoked(mc, "12-" K1));
    assert_int_equal(stats(mc).evictions, 1);
    assert_int_equal(stats(mc).entries, 2);
    mefcache_free(mc);
}

static void test_negative_evicted_first(void **state)
{
    struct mefcache *mc = mk(2, 1, 2);
    uint8_t k[64];
    size_t kl;
    struct m2m_secctx b;
    F.result = M2M_ERR_NOT_FOUND;
    fetch_now(mc, K1, 0);
    F.result = M2M_OK;
    F.life = 10; /* expires before the negative entry would */
    fetch_now(mc, K2, 1);
    F.life = 100;
    fetch_now(mc, K3, 2);
    assert_int_equal(lookup(mc, K2, k, &kl, &b), M2M_OK);
    assert_int_equal(lookup(mc, K3, k, &kl, &b), M2M_OK);
    /* K1's negative entry went: a prefetch asks the MEF again */
    fetch_now(mc, K1, 3);
    mefcache_free(mc);
}

static void *release_later(void *arg)
{
    usleep(100 * 1000);
    gate(false);
    return NULL;
}

static void test_shutdown_wakes(void **state)
{
    struct mefcache *mc = mk(8, 1, 4);
    gate(true);
    assert_int_equal(mefcache_prefetch(mc, K1, strlen(K1), on_wake, (void *)1), M2M_ERR_AGAIN);
    wait_in_fetch(1);
    F.result = M2M_ERR_IO;
    assert_int_equal(mefcache_prefetch(mc, K2, strlen(K2), on_wake, (void *)2), M2M_ERR_AGAIN);
    assert_int_equal(mefcache_prefetch(mc, K2, strlen(K2), on_wake, (void *)3), M2M_ERR_AGAIN);
    pthread_t t;
    pthread_create(&t, NULL, release_later, NULL);
    mefcache_shutdown(mc);
    pthread_join(t, NULL);
    assert_int_equal(W.n, 3);
    assert_int_equal(per_arg[1], 1);
    assert_int_equal(per_arg[2], 1);
    assert_int_equal(per_arg[3], 1);
    assert_int_equal(calls(), 1); /* K2 was never fetched */
    /* after shutdown: answered at once, never parked */
    assert_int_equal(mefcache_prefetch(mc, K3, strlen(K3), on_wake, (void *)4), M2M_OK);
    mefcache_shutdown(mc);
    mefcache_free(mc);
    mefcache_free(NULL);
    mefcache_shutdown(NULL);
}

/* ---- revalidation ---- */

static int reval_calls(void)
{
    pthread_mutex_lock(&F.mu);
    int c = F.reval_calls;
    pthread_mutex_unlock(&F.mu);
    return c;
}

static int in_fetch(void)
{
    pthread_mutex_lock(&F.mu);
    int n = F.in_fetch;
    pthread_mutex_unlock(&F.mu);
    return n;
}

/* Polls the statistics until cond holds (the workers run on their own clock: up to ~1 s). */
#define WAIT_STATS(mc, s, cond)                                                                    \
    do {                                                                                           \
        for (int i_ = 0;; i_++) {                                                                  \
            (s) = stats(mc);                                                                       \
            if (cond)                                                                              \
                break;                                                                             \
            assert_true(i_ < 500);                                                                 \
            usleep(10 * 1000);                                                                     \
        }                                                                                          \
    } while (0)

/* Waits for a worker pass that started after the clock was set: it has seen NOW. */
static struct mefcache_stats after_a_scan(struct mefcache *mc)
{
    struct mefcache_stats s0 = stats(mc), s;
    WAIT_STATS(mc, s, s.scans > s0.scans);
    return s;
}

static void assert_key(struct mefcache *mc, const char *id, uint8_t salt)
{
    uint8_t k[64], want[32];
    size_t kl;
    struct m2m_secctx b;
    assert_int_equal(lookup(mc, id, k, &kl, &b), M2M_OK);
    fake_key_salted(id, salt, want, 32);
    assert_int_equal(kl, 32);
    assert_memory_equal(k, want, 32);
}

static void assert_gone(struct mefcache *mc, const char *id)
{
    uint8_t k[64];
    size_t kl;
    struct m2m_secctx b;
    char cred[300];
    snprintf(cred, sizeof cred, "12-%s", id);
    assert_int_equal(lookup(mc, id, k, &kl, &b), M2M_ERR_NOT_FOUND);
    assert_true(mefcache_is_revoked(mc, cred));
}

/* Timing on the injected clock: nothing before revalidate_s, a revalidation at it, the lifetime
 * renewed by the answer, the next one revalidate_s after the confirmation. */
static void test_reval_confirmed_and_timing(void **state)
{
    struct mefcache *mc = mk_r(8, 2, 4, 10);
    int64_t t0 = NOW;
    F.life = 15;
    fetch_now(mc, K1, 0);
    uint64_t g0 = mefcache_generation(mc);
    NOW = t0 + 9;
    struct mefcache_stats s = after_a_scan(mc);
    assert_int_equal(s.revalidations, 0);
    assert_int_equal(calls(), 1);
    NOW = t0 + 10;
    WAIT_STATS(mc, s, s.reval_ok == 1);
    assert_int_equal(reval_calls(), 1);
    assert_string_equal(F.last_keid, K1);
    /* the lifetime runs from the confirmation now (t0 + 25), not from the first fetch (t0 + 15) */
    NOW = t0 + 16;
    assert_key(mc, K1, 0);
    assert_false(mefcache_is_revoked(mc, "12-" K1));
    assert_int_equal(mefcache_generation(mc), g0);
    NOW = t0 + 19; /* next one due at t0 + 20 */
    s = after_a_scan(mc);
    assert_int_equal(s.revalidations, 1);
    NOW = t0 + 20;
    WAIT_STATS(mc, s, s.reval_ok == 2);
    assert_int_equal(s.reval_failed + s.reval_refused + s.reval_changed, 0);
    assert_int_equal(s.fetches, 1); /* revalidations are not first fetches */
    assert_int_equal(mefcache_generation(mc), g0);
    mefcache_free(mc);
}

/* A handshake using a due key is answered from the cache at once while the revalidation runs. */
static void test_reval_on_use_never_blocks(void **state)
{
    struct mefcache *mc = mk_r(8, 2, 4, 10);
    fetch_now(mc, K1, 0);
    reval_gate(true);
    NOW += 10;
    assert_int_equal(mefcache_prefetch(mc, K1, strlen(K1), on_wake, (void *)1), M2M_OK);
    wait_in_fetch(1); /* the revalidation is inside the MEF fetch, blocked */
    assert_int_equal(mefcache_prefetch(mc, K1, strlen(K1), on_wake, (void *)1), M2M_OK);
    assert_key(mc, K1, 0);
    assert_false(mefcache_is_revoked(mc, "12-" K1));
    assert_int_equal(W.n, 1); /* only fetch_now's wake: no handshake was parked */
    struct mefcache_stats s = stats(mc);
    assert_int_equal(s.revalidations, 1); /* one at a time per key */
    reval_gate(false);
    WAIT_STATS(mc, s, s.reval_ok == 1);
    mefcache_free(mc);
}

/* The MEF answers another key: the old one is wiped, live sessions end, the next handshake
 * fetches the new key. */
static void test_reval_changed_key(void **state)
{
    static const uint8_t zero[MEFCACHE_KEY_MAX];
    struct mefcache *mc = mk_r(8, 2, 4, 10);
    fetch_now(mc, K1, 0);
    const uint8_t *slot = mefcache_debug_key_slot(mc, K1);
    uint64_t g0 = mefcache_generation(mc);
    F.salt = 0x80;
    NOW += 10;
    struct mefcache_stats s;
    WAIT_STATS(mc, s, s.reval_changed == 1);
    assert_int_not_equal(mefcache_generation(mc), g0);
    assert_gone(mc, K1);
    assert_memory_equal(slot, zero, sizeof zero);
    assert_int_equal(s.entries, 0);
    fetch_now(mc, K1, 1);
    assert_key(mc, K1, 0x80);
    assert_false(mefcache_is_revoked(mc, "12-" K1));
    mefcache_free(mc);
}

/* Same key, another enrolee ID: the binding of the live sessions is stale, the same outcome. */
static void test_reval_changed_enrolee(void **state)
{
    struct mefcache *mc = mk_r(8, 2, 4, 10);
    fetch_now(mc, K1, 0);
    uint64_t g0 = mefcache_generation(mc);
    snprintf(F.enrolee, sizeof F.enrolee, "Cdev2");
    NOW += 10;
    struct mefcache_stats s;
    WAIT_STATS(mc, s, s.reval_changed == 1);
    assert_int_not_equal(mefcache_generation(mc), g0);
    assert_gone(mc, K1);
    mefcache_free(mc);
}

/* A definitive refusal (the enrolment was revoked): wiped, generation bumped, cached negatively. */
static void test_reval_refused(void **state)
{
    static const uint8_t zero[MEFCACHE_KEY_MAX];
    struct mefcache *mc = mk_r(8, 2, 4, 10);
    fetch_now(mc, K1, 0);
    fetch_now(mc, K2, 1);
    const uint8_t *slot = mefcache_debug_key_slot(mc, K1);
    uint64_t g0 = mefcache_generation(mc);
    F.result = M2M_ERR_DENIED;
    NOW += 10; /* both due: both refused */
    struct mefcache_stats s;
    WAIT_STATS(mc, s, s.reval_refused == 2);
    assert_int_not_equal(mefcache_generation(mc), g0);
    assert_gone(mc, K1);
    assert_gone(mc, K2);
    assert_memory_equal(slot, zero, sizeof zero);
    /* the next handshake fails at once, without asking the MEF again ... */
    int c0 = calls();
    assert_int_equal(mefcache_prefetch(mc, K1, strlen(K1), on_wake, (void *)3), M2M_OK);
    assert_int_equal(calls(), c0);
    assert_int_equal(stats(mc).negative_hits, 1);
    /* ... until the negative TTL is over */
    NOW += 30;
    F.result = M2M_OK;
    fetch_now(mc, K1, 2);
    assert_key(mc, K1, 0);
    mefcache_free(mc);
}

/* MEF unreachable (or an unusable answer): the key keeps working until its lifetime; retried
 * after min(revalidate_s, negative_ttl_s). */
static void test_reval_unreachable_keeps(void **state)
{
    struct mefcache *mc = mk_r(8, 2, 4, 10);
    int64_t t0 = NOW;
    F.life = 35;
    fetch_now(mc, K1, 0);
    uint64_t g0 = mefcache_generation(mc);
    F.result = M2M_ERR_IO;
    NOW = t0 + 10;
    struct mefcache_stats s;
    WAIT_STATS(mc, s, s.reval_failed == 1);
    assert_key(mc, K1, 0);
    assert_false(mefcache_is_revoked(mc, "12-" K1));
    assert_int_equal(mefcache_generation(mc), g0);
    NOW = t0 + 19;
    s = after_a_scan(mc);
    assert_int_equal(s.revalidations, 1);
    /* an answer without an enrolee ID is no answer either */
    F.result = M2M_OK;
    F.enrolee[0] = 0;
    NOW = t0 + 20;
    WAIT_STATS(mc, s, s.reval_failed == 2);
    assert_key(mc, K1, 0);
    assert_int_equal(mefcache_generation(mc), g0);
    /* a timeout too, until the lifetime ends: then expired as ever */
    F.result = M2M_ERR_IO;
    NOW = t0 + 30;
    WAIT_STATS(mc, s, s.reval_failed == 3);
    assert_key(mc, K1, 0);
    NOW = t0 + 35;
    assert_gone(mc, K1);
    assert_int_not_equal(mefcache_generation(mc), g0);
    assert_int_equal(stats(mc).expirations, 1);
    mefcache_free(mc);
}

/* revalidate_s = 0: a key is never asked about again within its lifetime. */
static void test_reval_off(void **state)
{
    struct mefcache *mc = mk_r(8, 2, 4, 0);
    F.life = 86400;
    fetch_now(mc, K1, 0);
    NOW += 86399;
    assert_int_equal(mefcache_prefetch(mc, K1, strlen(K1), on_wake, NULL), M2M_OK);
    struct mefcache_stats s = after_a_scan(mc);
    assert_int_equal(s.revalidations, 0);
    assert_int_equal(calls(), 1);
    assert_key(mc, K1, 0);
    mefcache_free(mc);
}

/* An entry that expires while its revalidation is in flight is not brought back by the answer. */
static void test_reval_entry_gone_meanwhile(void **state)
{
    struct mefcache *mc = mk_r(8, 2, 4, 10);
    F.life = 12;
    fetch_now(mc, K1, 0);
    reval_gate(true);
    NOW += 10;
    wait_in_fetch(1);
    NOW += 2; /* lifetime over */
    assert_gone(mc, K1);
    reval_gate(false);
    struct mefcache_stats s;
    WAIT_STATS(mc, s, s.revalidations == 1 && in_fetch() == 0);
    s = after_a_scan(mc);
    assert_int_equal(s.reval_ok + s.reval_changed + s.reval_refused + s.reval_failed, 0);
    assert_gone(mc, K1);
    assert_int_equal(s.entries, 0);
    mefcache_free(mc);
}

/* Revalidations leave a worker free: a first fetch (a handshake waits for it) still runs while
 * revalidations hang, and at most workers - 1 of them run at once. */
static void test_reval_leaves_a_worker(void **state)
{
    struct mefcache *mc = mk_r(8, 3, 4, 10);
    fetch_now(mc, K1, 0);
    fetch_now(mc, K2, 1);
    fetch_now(mc, K3, 2);
    reval_gate(true);
    NOW += 10;
    wait_in_fetch(2);
    struct mefcache_stats s = after_a_scan(mc);
    assert_int_equal(s.revalidations, 2); /* 3 workers: 2 revalidations at most */
    fetch_now(mc, K4, 3);                 /* the third worker serves the handshake */
    assert_key(mc, K4, 0);
    reval_gate(false);
    WAIT_STATS(mc, s, s.reval_ok == 3);
    mefcache_free(mc);
}

/* ---- composition with the credential database's hooks ---- */

struct inner {
    int psk_calls;
    uint64_t gen;
    bool revoke_all_keids;
};

static m2m_rc in_psk(void *ctx, const char *id, size_t idlen, uint8_t *key, size_t *keylen,
                     struct m2m_secctx *b)
{
    struct inner *in = ctx;
    in->psk_calls++;
    if (idlen == strlen(K4) && memcmp(id, K4, idlen) == 0) {
        memset(key, 0x44, 32);
        *keylen = 32;
        snprintf(b->identity, sizeof b->identity, "Cprov");
        snprintf(b->cred_id, sizeof b->cred_id, "12-%s", K4);
        return M2M_OK;
    }
    return M2M_ERR_NOT_FOUND;
}

static uint64_t in_gen(void *ctx)
{
    return ((struct inner *)ctx)->gen;
}

static bool in_revoked(void *ctx, const char *cred_id)
{
    struct inner *in = ctx;
    return strcmp(cred_id, "12-revoked") == 0 ||
           (in->revoke_all_keids && strcmp(cred_id, "12-" K3) == 0);
}

/* ---- on_drop: a key leaving the cache is reported once, from a worker, never inline ---- */

struct drops {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    char keid[8][300];
    bool on_test_thread; /* a call made on the thread that drove the cache */
    bool gate_closed;    /* calls wait here (a slow rule update) */
    pthread_t test_thread;
};
static struct drops D = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static void on_drop(void *ctx, const char *keid)
{
    struct drops *d = ctx;
    pthread_mutex_lock(&d->mu);
    if (pthread_equal(pthread_self(), d->test_thread))
        d->on_test_thread = true;
    if (d->n < 8)
        snprintf(d->keid[d->n], sizeof d->keid[d->n], "%s", keid);
    d->n++;
    pthread_cond_broadcast(&d->cv);
    while (d->gate_closed)
        pthread_cond_wait(&d->cv, &d->mu);
    pthread_mutex_unlock(&d->mu);
}

static void drop_gate(bool closed)
{
    pthread_mutex_lock(&D.mu);
    D.gate_closed = closed;
    pthread_cond_broadcast(&D.cv);
    pthread_mutex_unlock(&D.mu);
}

/* Waits until n calls were made (5 s at most); the count seen. */
static int wait_drops(int n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    pthread_mutex_lock(&D.mu);
    while (D.n < n)
        if (pthread_cond_timedwait(&D.cv, &D.mu, &ts) != 0)
            break;
    int got = D.n;
    pthread_mutex_unlock(&D.mu);
    return got;
}

static struct mefcache *mk_d(size_t max_entries, int workers, int revalidate_s)
{
    struct mefcache_cfg c;
    mefcache_cfg_default(&c);
    c.mef_fqdn = FQDN;
    c.max_entries = max_entries;
    c.workers = workers;
    c.queue_max = 4;
    c.revalidate_s = revalidate_s;
    c.fetch = (struct mefcache_fetch){fake_fetch, &F};
    c.now_s = fake_now;
    c.on_drop = on_drop;
    c.drop_ctx = &D;
    D.n = 0;
    D.on_test_thread = false;
    D.gate_closed = false;
    D.test_thread = pthread_self();
    memset(D.keid, 0, sizeof D.keid);
    struct mefcache *mc = NULL;
    assert_int_equal(mefcache_new(&c, &mc), M2M_OK);
    return mc;
}

/* Lifetime end: reported once with the canonical KeID, on a worker; a failed fetch is not. */
static void test_drop_on_expiry(void **state)
{
    struct mefcache *mc = mk_d(8, 1, 0);
    F.life = 10;
    fetch_now(mc, K1_LOWER, 0);
    F.result = M2M_ERR_NOT_FOUND;
    fetch_now(mc, K2, 1); /* negative: never had a key, nothing to report */
    assert_true(mefcache_holds(mc, K1));
    assert_false(mefcache_holds(mc, K2));
    NOW += 9;
    (void)mefcache_generation(mc);
    usleep(50 * 1000);
    assert_int_equal(wait_drops(0), 0);
    NOW += 31;                     /* K1 expired, K2's negative entry too */
    (void)mefcache_generation(mc); /* the sweep runs here, on the test thread */
    assert_int_equal(wait_drops(1), 1);
    usleep(50 * 1000);
    assert_int_equal(wait_drops(1), 1); /* exactly once */
    assert_string_equal(D.keid[0], K1);
    assert_false(D.on_test_thread);
    assert_false(mefcache_holds(mc, K1));
    struct mefcache_stats s = stats(mc);
    assert_int_equal(s.drops, 1);
    assert_int_equal(s.drops_lost, 0);
    mefcache_free(mc);
}

/* A slow callback never holds up a handshake: the sweep that queued it and later lookups and
 * fetches answer while it waits. */
static void test_drop_never_blocks(void **state)
{
    struct mefcache *mc = mk_d(8, 2, 0);
    uint8_t k[64];
    size_t kl;
    struct m2m_secctx b;
    F.life = 10;
    fetch_now(mc, K1, 0);
    F.life = 3600;
    fetch_now(mc, K2, 1);
    drop_gate(true);
    NOW += 10;
    assert_int_equal(lookup(mc, K1, k, &kl, &b), M2M_ERR_NOT_FOUND); /* sweeps, queues */
    assert_int_equal(wait_drops(1), 1);                              /* a worker is stuck in it */
    assert_int_equal(lookup(mc, K2, k, &kl, &b), M2M_OK);
    fetch_now(mc, K3, 2); /* the other worker fetches */
    assert_int_equal(lookup(mc, K3, k, &kl, &b), M2M_OK);
    drop_gate(false);
    assert_false(D.on_test_thread);
    mefcache_free(mc);
}

/* Eviction reports the evicted KeID. */
static void test_drop_on_eviction(void **state)
{
    struct mefcache *mc = mk_d(2, 1, 0);
    F.life = 100;
    fetch_now(mc, K1, 0); /* expires first: the victim */
    F.life = 500;
    fetch_now(mc, K2, 1);
    fetch_now(mc, K3, 2);
    assert_int_equal(wait_drops(1), 1);
    assert_string_equal(D.keid[0], K1);
    assert_true(mefcache_holds(mc, K2));
    assert_true(mefcache_holds(mc, K3));
    mefcache_free(mc);
    assert_int_equal(wait_drops(1), 1); /* free is not a drop */
}

/* Revalidation: refused and changed keys are reported; a confirmed one is not; a KeID fetched
 * anew is live again (mefcache_holds), which the callback checks before acting. */
static void test_drop_on_revalidation(void **state)
{
    struct mefcache *mc = mk_d(8, 2, 10);
    fetch_now(mc, K1, 0);
    fetch_now(mc, K2, 1);
    NOW += 10; /* both confirmed */
    struct mefcache_stats s;
    WAIT_STATS(mc, s, s.reval_ok == 2);
    usleep(50 * 1000);
    assert_int_equal(wait_drops(0), 0);
    F.salt = 0x80; /* K1 and K2 change at the MEF */
    NOW += 10;
    WAIT_STATS(mc, s, s.reval_changed == 2);
    assert_int_equal(wait_drops(2), 2);
    assert_true((strcmp(D.keid[0], K1) == 0 && strcmp(D.keid[1], K2) == 0) ||
                (strcmp(D.keid[0], K2) == 0 && strcmp(D.keid[1], K1) == 0));
    fetch_now(mc, K1, 2);
    assert_true(mefcache_holds(mc, K1));
    F.result = M2M_ERR_DENIED;
    NOW += 10; /* K1 withdrawn */
    WAIT_STATS(mc, s, s.reval_refused == 1);
    assert_int_equal(wait_drops(3), 3);
    assert_string_equal(D.keid[2], K1);
    assert_false(mefcache_holds(mc, K1));
    assert_int_equal(stats(mc).drops, 3);
    assert_false(D.on_test_thread);
    mefcache_free(mc);
}

static void test_composed_hooks(void **state)
{
    struct mefcache *mc = mk(8, 1, 4);
    struct inner in = {0, 7, false};
    struct tls_cred_hooks inner = {
        .ctx = &in, .psk_lookup = in_psk, .generation = in_gen, .is_revoked = in_revoked};
    struct tls_cred_hooks h;
    mefcache_tls_hooks(mc, &inner, &h);
    assert_non_null(h.psk_prefetch);
    assert_null(h.rpk_lookup); /* inner has none: raw public keys stay off */
    assert_null(h.node_lookup);
    uint8_t k[64];
    size_t kl = sizeof k;
    struct m2m_secctx b;
    memset(&b, 0, sizeof b);
    /* provisioned in the database: no fetch, the database's binding */
    assert_int_equal(h.psk_prefetch(h.ctx, K4, strlen(K4), on_wake, NULL), M2M_OK);
    assert_int_equal(h.psk_lookup(h.ctx, K4, strlen(K4), k, &kl, &b), M2M_OK);
    assert_string_equal(b.identity, "Cprov");
    assert_false(h.is_revoked(h.ctx, "12-" K4));
    /* unknown to the database: fetched, then answered from the cache */
    assert_int_equal(h.psk_prefetch(h.ctx, K1, strlen(K1), on_wake, NULL), M2M_ERR_AGAIN);
    wait_wakes(1);
    kl = sizeof k;
    assert_int_equal(h.psk_lookup(h.ctx, K1, strlen(K1), k, &kl, &b), M2M_OK);
    assert_string_equal(b.identity, "Cdev1");
    assert_false(h.is_revoked(h.ctx, "12-" K1));
    assert_true(h.is_revoked(h.ctx, "12-revoked"));
    assert_false(h.is_revoked(h.ctx, "12-Cother@in.example.com"));
    /* a KeID the administrator revoked in the database is never fetched */
    in.revoke_all_keids = true;
    assert_int_equal(h.psk_prefetch(h.ctx, K3, strlen(K3), on_wake, NULL), M2M_OK);
    kl = sizeof k;
    assert_int_equal(h.psk_lookup(h.ctx, K3, strlen(K3), k, &kl, &b), M2M_ERR_NOT_FOUND);
    assert_int_equal(calls(), 1);
    /* generation: either side's change shows */
    uint64_t g = h.generation(h.ctx);
    in.gen++;
    assert_int_equal(h.generation(h.ctx), g + 1);
    F.life = 1;
    mefcache_free(mc);
}

static void test_no_inner(void **state)
{
    struct mefcache *mc = mk(8, 1, 4);
    struct tls_cred_hooks h;
    mefcache_tls_hooks(mc, NULL, &h);
    assert_int_equal(h.psk_prefetch(h.ctx, K1, strlen(K1), on_wake, NULL), M2M_ERR_AGAIN);
    wait_wakes(1);
    uint8_t k[64];
    size_t kl = sizeof k;
    struct m2m_secctx b;
    memset(&b, 0, sizeof b);
    assert_int_equal(h.psk_lookup(h.ctx, K1, strlen(K1), k, &kl, &b), M2M_OK);
    assert_int_equal(h.psk_lookup(h.ctx, "x@y.z", 5, k, &kl, &b), M2M_ERR_NOT_FOUND);
    assert_false(h.is_revoked(h.ctx, "cert:abcd"));
    mefcache_free(mc);
}

static void test_config(void **state)
{
    struct mefcache_cfg c;
    struct mefcache *mc = (struct mefcache *)1;
    mefcache_cfg_default(&c);
    c.fetch = (struct mefcache_fetch){fake_fetch, &F};
    assert_int_equal(mefcache_new(&c, &mc), M2M_ERR_CONFIG); /* no FQDN */
    assert_null(mc);
    c.mef_fqdn = "MEF.Upper.test";
    assert_int_equal(mefcache_new(&c, &mc), M2M_ERR_CONFIG);
    c.mef_fqdn = FQDN;
    c.workers = 0;
    assert_int_equal(mefcache_new(&c, &mc), M2M_ERR_CONFIG);
    c.workers = MEFCACHE_MAX_WORKERS + 1;
    assert_int_equal(mefcache_new(&c, &mc), M2M_ERR_CONFIG);
    c.workers = 1;
    c.queue_max = 0;
    assert_int_equal(mefcache_new(&c, &mc), M2M_ERR_CONFIG);
    c.queue_max = 4;
    c.max_entries = 0;
    assert_int_equal(mefcache_new(&c, &mc), M2M_ERR_CONFIG);
    c.max_entries = 4;
    c.negative_ttl_s = 0;
    assert_int_equal(mefcache_new(&c, &mc), M2M_ERR_CONFIG);
    c.negative_ttl_s = 5;
    c.revalidate_s = -1;
    assert_int_equal(mefcache_new(&c, &mc), M2M_ERR_CONFIG);
    c.revalidate_s = 86401;
    assert_int_equal(mefcache_new(&c, &mc), M2M_ERR_CONFIG);
    c.revalidate_s = 0; /* never: allowed */
    c.fetch.fn = NULL;
    assert_int_equal(mefcache_new(&c, &mc), M2M_ERR_CONFIG);
    c.fetch.fn = fake_fetch;
    assert_int_equal(mefcache_new(&c, &mc), M2M_OK);
    mefcache_free(mc);
}

/* Many threads prefetching a handful of KeIDs while the clock moves: every AGAIN is woken once. */
struct hammer {
    struct mefcache *mc;
    int id;
    int agains;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    const char *ids[] = {K1, K2, K3, K4};
    for (int i = 0; i < 200; i++) {
        const char *id = ids[(i + h->id) % 4];
        m2m_rc rc = mefcache_prefetch(h->mc, id, strlen(id), on_wake, (void *)0);
        if (rc == M2M_ERR_AGAIN)
            h->agains++;
        else
            assert_true(rc == M2M_OK || rc == M2M_ERR_LIMIT);
        if (i % 50 == 0)
            NOW += 2;
        (void)mefcache_generation(h->mc);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    struct mefcache *mc = mk(3, 2, 8);
    F.life = 3;
    struct hammer hs[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        hs[i] = (struct hammer){mc, i, 0};
        pthread_create(&th[i], NULL, hammer_main, &hs[i]);
    }
    int total = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        total += hs[i].agains;
    }
    wait_wakes(total);
    mefcache_free(mc);
    assert_int_equal(W.n, total);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_not_ours, setup),
        cmocka_unit_test_setup(test_miss_wake_hit, setup),
        cmocka_unit_test_setup(test_coalescing, setup),
        cmocka_unit_test_setup(test_negative_cache, setup),
        cmocka_unit_test_setup(test_transport_failure_is_negative, setup),
        cmocka_unit_test_setup(test_bad_answers_are_negative, setup),
        cmocka_unit_test_setup(test_expiry, setup),
        cmocka_unit_test_setup(test_queue_full, setup),
        cmocka_unit_test_setup(test_waiter_bound, setup),
        cmocka_unit_test_setup(test_eviction_wipes, setup),
        cmocka_unit_test_setup(test_negative_evicted_first, setup),
        cmocka_unit_test_setup(test_shutdown_wakes, setup),
        cmocka_unit_test_setup(test_composed_hooks, setup),
        cmocka_unit_test_setup(test_no_inner, setup),
        cmocka_unit_test_setup(test_config, setup),
        cmocka_unit_test_setup(test_concurrent, setup),
        cmocka_unit_test_setup(test_reval_confirmed_and_timing, setup),
        cmocka_unit_test_setup(test_reval_on_use_never_blocks, setup),
        cmocka_unit_test_setup(test_reval_changed_key, setup),
        cmocka_unit_test_setup(test_reval_changed_enrolee, setup),
        cmocka_unit_test_setup(test_reval_refused, setup),
        cmocka_unit_test_setup(test_reval_unreachable_keeps, setup),
        cmocka_unit_test_setup(test_reval_off, setup),
        cmocka_unit_test_setup(test_reval_entry_gone_meanwhile, setup),
        cmocka_unit_test_setup(test_reval_leaves_a_worker, setup),
        cmocka_unit_test_setup(test_drop_on_expiry, setup),
        cmocka_unit_test_setup(test_drop_never_blocks, setup),
        cmocka_unit_test_setup(test_drop_on_eviction, setup),
        cmocka_unit_test_setup(test_drop_on_revalidation, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
