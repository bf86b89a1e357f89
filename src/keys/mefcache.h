/* mefcache.h: the Enrolment Target's cache of remotely provisioned keys (TS-0003 8.3.2.1 "Use of
 * Remotely Provisioned Credential", SPEC-MAP G5): KeID -> usage-constrained key, enrolee ID and
 * lifetime, fetched from the MEF by a small pool of worker threads so that no TLS handshake ever
 * waits on the network in a loop thread. It also composes the transport's credential hooks: the
 * credential database first, then this cache.
 *
 * States of one KeID: pending (a fetch is queued or running; the handshakes asking for it are
 * parked and all woken when it completes), positive (key until its lifetime ends), negative (the
 * fetch failed; remembered for negative_ttl_s so that a client cycling a bad KeID cannot make us
 * hammer the MEF), expired (key wiped; kept so that live sessions of it are ended).
 *
 * Revalidation (docs/DECISIONS.md "Enrolment Target: revalidation"): a positive key last confirmed
 * by the MEF revalidate_s ago or more is fetched again in the background by an idle worker (each
 * worker looks once a second, and a handshake that uses a due key wakes one); handshakes keep
 * using the cached key meanwhile. The MEF answers the same key and enrolee: lifetime and
 * confirmation time are renewed. It answers another key or enrolee: the entry is dropped (key
 * wiped, generation bumped, so live sessions of the old key end) and the next handshake fetches
 * the new one. It refuses (fetch returns M2M_ERR_DENIED): the key is wiped, the generation
 * bumped, and the KeID cached negatively. Anything else (MEF unreachable, timeout, unusable
 * answer): the key is kept until its lifetime, a warning logged, and revalidation retried after
 * min(revalidate_s, negative_ttl_s). Revalidations never take every worker: at most workers - 1
 * (at least 1) run at once, and a queued first fetch always goes first.
 *
 * Bounds: max_entries completed entries (an expired or negative entry is evicted first, then the
 * positive one that expires first; a negative result never evicts a positive entry), queue_max
 * fetches pending at once (beyond it prefetch fails at once: it never blocks), workers fetches
 * running at once, MEFCACHE_MAX_WAITERS parked handshakes per KeID, max_entries + queue_max
 * queued on_drop events. Keys are wiped on expiry,
 * eviction and free, and never logged. Thread-safe. */
#ifndef M2M_KEYS_MEFCACHE_H
#define M2M_KEYS_MEFCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"
#include "model/prim.h"

#define MEFCACHE_KEY_MAX 64     /* bytes of key accepted from the MEF */
#define MEFCACHE_MAX_WAITERS 64 /* parked handshakes per pending KeID */
#define MEFCACHE_MAX_WORKERS 4  /* fetch threads */
#define MEFCACHE_MAX_ENTRIES 65536
#define MEFCACHE_MAX_QUEUE 4096

/* The network fetch (docs/MEF.md fetchCredentials), supplied by the application (src/app/et_glue.c)
 * so that this module stays free of the client library. Called on fetch worker `worker`
 * (0..workers-1; one call at a time per worker, so a per-worker connection needs no lock) with the
 * canonical KeID (upper-case hex, NUL-terminated). revalidate: false for the first fetch of a KeID
 * (a handshake waits for it), true when a cached key is being confirmed again. It may block,
 * bounded by its own timeout. On M2M_OK it has written key[0..*key_len) (1..MEFCACHE_KEY_MAX;
 * *key_len in: MEFCACHE_KEY_MAX), enrolee (NUL-terminated, the enrolee ID the association is
 * bound to) and *lifetime_s (> 0). M2M_ERR_DENIED: the MEF definitively refused (the enrolment
 * is unknown, expired or deleted, or this target is not allowed for it): a cached key is
 * withdrawn. Any other code: no answer to rely on (MEF unreachable, timeout, unusable answer): a
 * cached key is kept. A failed first fetch is cached negatively whatever the code. The cache
 * wipes key in every case. */
struct mefcache_fetch {
    m2m_rc (*fn)(void *ctx, int worker, const char *keid, bool revalidate, uint8_t *key,
                 size_t *key_len, char enrolee[M2M_ID_MAX], int64_t *lifetime_s);
    void *ctx;
};

struct mefcache_cfg {
    const char *mef_fqdn; /* only KeIDs "<hex>@mef_fqdn" are fetched (lower case, required) */
    size_t max_entries;   /* completed entries kept, 1..MEFCACHE_MAX_ENTRIES, default 1024 */
    int negative_ttl_s;   /* failed fetches remembered, 1..86400, default 30 */
    int workers;          /* fetch threads, 1..MEFCACHE_MAX_WORKERS, default 2 */
    int queue_max;        /* pending fetches, 1..MEFCACHE_MAX_QUEUE, default 64 */
    int revalidate_s;     /* confirm a cached key again after this long, 0 = never, 0..86400,
                             default 300 */
    struct mefcache_fetch fetch; /* fn required */
    /* Called once for each KeID whose cached key leaves the cache: its lifetime ended, it was
     * evicted, or the MEF refused or changed it on revalidation (not at shutdown or free). The
     * event is queued (lock held only to copy the canonical KeID) and the call made by a worker
     * thread with no lock held, after queued first fetches, so that no handshake ever waits for
     * it; it may block (that worker fetches nothing meanwhile). The KeID may be live again by
     * the time it runs (fetched anew): check with mefcache_holds. At most max_entries +
     * queue_max events wait; beyond that an event is dropped and counted (drops_lost). NULL =
     * no calls. */
    void (*on_drop)(void *ctx, const char *keid);
    void *drop_ctx;
    /* The clock, Unix seconds; NULL = the wall clock (tests pass their own). */
    int64_t (*now_s)(void *ctx);
    void *now_ctx;
};
/* Fills the defaults above (mef_fqdn and fetch NULL). */
void mefcache_cfg_default(struct mefcache_cfg *c);

struct mefcache;
struct tls_cred_hooks;

/* Starts the workers. M2M_ERR_CONFIG for a bound out of range, a missing fetch function or an
 * invalid mef_fqdn; M2M_ERR_NOMEM; M2M_ERR_INTERNAL when a thread cannot start. */
M2M_WARN_UNUSED m2m_rc mefcache_new(const struct mefcache_cfg *cfg, struct mefcache **out);
/* Stops the workers (waiting for running fetches), fails every pending fetch and wakes its
 * handshakes. Afterwards prefetch answers M2M_OK at once and only cached keys resolve. Call it
 * before stopping the transport; idempotent; NULL is a no-op. */
void mefcache_shutdown(struct mefcache *mc);
/* Shuts down if needed, wipes every key, frees. NULL is a no-op. The transport that uses the
 * hooks must be stopped first. */
void mefcache_free(struct mefcache *mc);

/* Fills out with hooks that consult inner (the credential database's hooks, credstore_tls_hooks;
 * may be NULL or all-NULL) first and this cache second:
 *  psk_lookup: inner, then a positive unexpired entry: key, identity = enrolee ID, cred_id
 *    "12-<KeID>" (docs/MEF.md [INTERP]), kind M2M_SEC_TLS_PSK;
 *  psk_prefetch: mefcache_prefetch, after checking that inner does not know the identity;
 *  rpk_lookup, node_lookup: inner's;
 *  generation: inner's + this cache's (both only grow, so the sum changes when either does);
 *  is_revoked: inner's, or for a Credential-ID "12-<KeID of our MEF>" that inner does not hold:
 *    true unless this cache holds an unexpired key for it.
 * inner is copied. mc must outlive every use of the hooks. */
void mefcache_tls_hooks(struct mefcache *mc, const struct tls_cred_hooks *inner,
                        struct tls_cred_hooks *out);

/* The psk_prefetch contract of src/tls/tls.h, for this cache alone. M2M_OK: answer now (not a
 * KeID of our MEF, cached positively or negatively, or shut down). M2M_ERR_AGAIN: a fetch is
 * pending (started now or earlier: concurrent prefetches of one KeID share one fetch) and
 * wake(wake_arg) will be called exactly once, from a worker thread, when it completes.
 * M2M_ERR_LIMIT: queue_max fetches are pending or MEFCACHE_MAX_WAITERS handshakes wait for this
 * KeID (fail the handshake). M2M_ERR_NOMEM. wake is never called unless M2M_ERR_AGAIN. */
M2M_WARN_UNUSED m2m_rc mefcache_prefetch(struct mefcache *mc, const char *identity, size_t idlen,
                                         void (*wake)(void *wake_arg), void *wake_arg);
/* The cache alone: a positive unexpired entry for identity (exactly idlen bytes, peer data).
 * key[0..*keylen) (*keylen in: capacity) and bind (identity, cred_id, kind; n_bound 0).
 * M2M_ERR_NOT_FOUND when not a KeID of our MEF, unknown, pending, negative or expired;
 * M2M_ERR_LIMIT when the capacity is too small. */
M2M_WARN_UNUSED m2m_rc mefcache_psk_lookup(struct mefcache *mc, const char *identity, size_t idlen,
                                           uint8_t *key, size_t *keylen, struct m2m_secctx *bind);
/* The cache alone: true when cred_id is "12-<KeID of our MEF>" and no unexpired key is cached. */
bool mefcache_is_revoked(struct mefcache *mc, const char *cred_id);
/* True when keid (canonical form) is being fetched or has an unexpired cached key. */
bool mefcache_holds(struct mefcache *mc, const char *keid);
/* Grows whenever a cached key expires, is evicted, or is withdrawn or changed by the MEF on
 * revalidation (also sweeps expired entries). */
uint64_t mefcache_generation(struct mefcache *mc);

struct mefcache_stats {
    uint64_t hits, negative_hits, fetches, fetch_ok, fetch_failed, coalesced, queue_full, evictions,
        expirations;
    /* on_drop calls made, and drop events lost because the queue was full */
    uint64_t drops, drops_lost;
    /* revalidations started, and their outcomes: confirmed, changed (dropped), refused (wiped),
     * failed (kept); scans: worker passes that looked for due revalidations */
    uint64_t revalidations, reval_ok, reval_changed, reval_refused, reval_failed, scans;
    size_t entries, pending;
};
void mefcache_get_stats(struct mefcache *mc, struct mefcache_stats *out);

/* For tests: the storage of the key slot holding keid (canonical form), or NULL. The slot array
 * lives until mefcache_free, so a test can check that eviction or expiry wiped it. */
const uint8_t *mefcache_debug_key_slot(struct mefcache *mc, const char *keid);

#endif
