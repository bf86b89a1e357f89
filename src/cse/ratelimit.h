/* ratelimit.h: per-originator request-rate limiting (token buckets) in bounded memory. */
#ifndef M2M_CSE_RATELIMIT_H
#define M2M_CSE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"

/* [INTERP] oneM2M defines no request-rate limit; this serves the issue "configurable limits on
 * per-originator request rate; exceeding one gives a clear oneM2M error and a log line, never
 * unbounded growth". The limiter only decides; the caller answers the request and logs.
 *
 * Each key (an originator ID) owns a token bucket of capacity `burst` that refills at
 * `rate_per_s` tokens per second; a request takes one token or is refused. A bucket seen for the
 * first time starts full. The clock is passed in (monotonic ms); time that goes backwards
 * refills nothing, so a bucket never gains tokens from a clock step.
 *
 * Memory: a fixed table of max_keys buckets, allocated by ratelimit_new, plus each key's bytes.
 * Keys longer than RATELIMIT_KEY_MAX bytes are replaced by a 128-bit keyed hash of the whole
 * key (SipHash with a per-limiter random key), so memory per key is bounded and two distinct
 * long keys share a bucket only by a 2^-128 accident an outsider cannot steer. The hash table
 * uses a keyed hash too, so chosen keys cannot make chains long.
 *
 * Eviction policy when the table is full and a new key arrives: the least recently seen buckets
 * (up to RATELIMIT_EVICT_SCAN of them from the old end) are examined and the first that is full
 * again (idle long enough to have refilled) is evicted: forgetting a full bucket loses nothing,
 * since a new bucket starts full anyway. If none is full, no live bucket is evicted: the new key
 * gets no bucket of its own and is charged to one shared "overflow" bucket (same rate and
 * burst). So an attacker rotating originator strings can neither grow the table nor reset or
 * take over a real client's bucket; while the flood lasts, new keys share the overflow bucket.
 * The first time in a minute the overflow bucket is used, a warning is logged. Keys that can
 * be chosen freely by unauthenticated peers should be limited by peer address as well: per-key
 * limits cannot bound the total rate of a peer that invents keys. */

#define RATELIMIT_KEY_MAX 256         /* longer keys are hashed */
#define RATELIMIT_MAX_KEYS (1u << 20) /* largest max_keys accepted */
#define RATELIMIT_EVICT_SCAN 8        /* LRU entries examined for an idle bucket */

struct ratelimit_cfg {
    double rate_per_s; /* tokens per second; 0 = unlimited (every request allowed) */
    double burst;      /* bucket capacity, >= 1 (requests allowed at once after idling) */
    size_t max_keys;   /* buckets kept, 1 .. RATELIMIT_MAX_KEYS */
};

struct ratelimit_stats {
    size_t keys;         /* buckets in use */
    uint64_t allowed;    /* requests allowed */
    uint64_t refused;    /* requests refused */
    uint64_t evicted;    /* idle buckets evicted to make room */
    uint64_t overflowed; /* requests charged to the shared overflow bucket */
};

struct ratelimit;

/* Creates a limiter. rate_per_s and burst must be finite; rate_per_s in [0, 1e9], and unless it
 * is 0, burst in [1, 1e9] and max_keys in [1, RATELIMIT_MAX_KEYS]. Returns M2M_ERR_CONFIG when
 * cfg is NULL or out of range, M2M_ERR_NOMEM, M2M_ERR_IO when no random key can be had. On
 * success *out owns the limiter; free with ratelimit_free. */
M2M_WARN_UNUSED m2m_rc ratelimit_new(const struct ratelimit_cfg *cfg, struct ratelimit **out);

/* Takes one token from key's bucket at time now_ms (monotonic milliseconds); true when the
 * request may proceed. Thread-safe. key NULL is the same key as "" (no originator). rl NULL or
 * rate 0 allows everything. Reads the whole key only when it is longer than
 * RATELIMIT_KEY_MAX. */
bool ratelimit_allow(struct ratelimit *rl, const char *key, int64_t now_ms);

/* Counters since creation. rl NULL gives zeros. */
void ratelimit_stats(struct ratelimit *rl, struct ratelimit_stats *out);

/* NULL is a no-op. */
void ratelimit_free(struct ratelimit *rl);

#endif
