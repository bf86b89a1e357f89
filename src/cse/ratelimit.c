/* ratelimit.c: token buckets per key in a fixed table with a keyed hash index, an LRU list for
 * finding idle buckets, and one shared overflow bucket. */
#include "cse/ratelimit.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/log.h"

#define NIL UINT32_MAX
#define FOLD_LEN 16           /* bytes of the keyed hash that replaces a long key */
#define OVERFLOW_LOG_MS 60000 /* at most one overflow warning per minute */
#define RATE_MAX 1e9

struct bucket {
    uint8_t *key; /* owned; NULL when the slot is free */
    size_t klen;
    bool folded; /* key is the FOLD_LEN-byte hash of a longer key */
    uint64_t hash;
    double tokens;
    int64_t last_ms;     /* when tokens was last brought up to date */
    uint32_t prev, next; /* LRU list (head = most recent); next also links free slots */
    uint32_t hnext;      /* hash chain */
};

struct ratelimit {
    pthread_mutex_t mu;
    bool unlimited;
    double rate_ms, burst; /* tokens per millisecond, capacity */
    size_t max_keys, count;
    struct bucket *b; /* max_keys slots */
    uint32_t *heads;  /* hash chains, mask + 1 of them */
    size_t mask;
    uint32_t lru_head, lru_tail, free_head;
    struct bucket overflow; /* shared by new keys that found no slot */
    uint64_t k0, k1;        /* SipHash key */
    struct ratelimit_stats st;
    int64_t overflow_logged_ms;
    bool overflow_logged;
};

/* A key as looked up: either the caller's bytes or its folded hash. */
struct rkey {
    const uint8_t *p;
    size_t len;
    bool folded;
    uint64_t hash;
    uint8_t fold[FOLD_LEN];
};

/* ---- SipHash-2-4 (Aumasson and Bernstein), written from the paper ---------------------- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sipround(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = ROTL(v[1], 13) ^ v[0];
    v[0] = ROTL(v[0], 32);
    v[2] += v[3];
    v[3] = ROTL(v[3], 16) ^ v[2];
    v[0] += v[3];
    v[3] = ROTL(v[3], 21) ^ v[0];
    v[2] += v[1];
    v[1] = ROTL(v[1], 17) ^ v[2];
    v[2] = ROTL(v[2], 32);
}

static uint64_t siphash(uint64_t k0, uint64_t k1, const uint8_t *m, size_t n)
{
    uint64_t v[4] = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
                     k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = 0;
        for (int j = 7; j >= 0; j--)
            w = (w << 8) | m[i + (size_t)j];
        v[3] ^= w;
        sipround(v);
        sipround(v);
        v[0] ^= w;
    }
    uint64_t last = (uint64_t)n << 56;
    for (size_t j = 0; i + j < n; j++)
        last |= (uint64_t)m[i + j] << (8 * j);
    v[3] ^= last;
    sipround(v);
    sipround(v);
    v[0] ^= last;
    v[2] ^= 0xff;
    for (int r = 0; r < 4; r++)
        sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* Prepares key for lookup: keys up to RATELIMIT_KEY_MAX bytes are used as they are, longer ones
 * are folded into two SipHash values under independent keys (128 bits). */
static void rkey_make(const struct ratelimit *rl, const char *key, struct rkey *k)
{
    if (key == NULL)
        key = "";
    size_t n = strnlen(key, RATELIMIT_KEY_MAX + 1);
    k->p = (const uint8_t *)key;
    k->len = n;
    k->folded = n > RATELIMIT_KEY_MAX;
    if (k->folded) {
        n = strlen(key);
        uint64_t a = siphash(rl->k0, rl->k1, (const uint8_t *)key, n);
        uint64_t b = siphash(rl->k1 ^ 0x5a5a5a5a5a5a5a5aULL, rl->k0, (const uint8_t *)key, n);
        memcpy(k->fold, &a, 8);
        memcpy(k->fold + 8, &b, 8);
        k->p = k->fold;
        k->len = FOLD_LEN;
        k->hash = a;
        return;
    }
    k->hash = siphash(rl->k0, rl->k1, k->p, n);
}

/* ---- buckets ------------------------------------------------------------------------------ */

/* Tokens in b at now, refilled and capped at burst. A clock that went back refills nothing. */
static double level(const struct ratelimit *rl, const struct bucket *b, int64_t now)
{
    double t = b->tokens;
    if (now > b->last_ms)
        t += (double)((uint64_t)now - (uint64_t)b->last_ms) * rl->rate_ms;
    return t < rl->burst ? t : rl->burst;
}

static bool take(const struct ratelimit *rl, struct bucket *b, int64_t now)
{
    b->tokens = level(rl, b, now);
    if (now > b->last_ms)
        b->last_ms = now;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

static void lru_unlink(struct ratelimit *rl, uint32_t i)
{
    struct bucket *b = &rl->b[i];
    if (b->prev != NIL)
        rl->b[b->prev].next = b->next;
    else
        rl->lru_head = b->next;
    if (b->next != NIL)
        rl->b[b->next].prev = b->prev;
    else
        rl->lru_tail = b->prev;
    b->prev = b->next = NIL;
}

static void lru_push(struct ratelimit *rl, uint32_t i)
{
    struct bucket *b = &rl->b[i];
    b->prev = NIL;
    b->next = rl->lru_head;
    if (rl->lru_head != NIL)
        rl->b[rl->lru_head].prev = i;
    rl->lru_head = i;
    if (rl->lru_tail == NIL)
        rl->lru_tail = i;
}

static uint32_t find(const struct ratelimit *rl, const struct rkey *k)
{
    for (uint32_t i = rl->heads[k->hash & rl->mask]; i != NIL; i = rl->b[i].hnext) {
        const struct bucket *b = &rl->b[i];
        if (b->hash == k->hash && b->folded == k->folded && b->klen == k->len &&
            memcmp(b->key, k->p, k->len) == 0)
            return i;
    }
    return NIL;
}

/* Removes slot i from its chain and the LRU list and puts it on the free list. */
static void evict(struct ratelimit *rl, uint32_t i)
{
    struct bucket *b = &rl->b[i];
    uint32_t *link = &rl->heads[b->hash & rl->mask];
    while (*link != i)
        link = &rl->b[*link].hnext;
    *link = b->hnext;
    lru_unlink(rl, i);
    free(b->key);
    b->key = NULL;
    b->next = rl->free_head;
    rl->free_head = i;
    rl->count--;
}

/* A free slot: from the free list, else by evicting a full (idle) bucket among the least
 * recently seen. NIL when every examined bucket still holds state worth keeping. */
static uint32_t free_slot(struct ratelimit *rl, int64_t now)
{
    if (rl->free_head == NIL) {
        uint32_t victim = NIL, i = rl->lru_tail;
        for (int n = 0; i != NIL && n < RATELIMIT_EVICT_SCAN; n++, i = rl->b[i].prev) {
            if (level(rl, &rl->b[i], now) >= rl->burst) {
                victim = i;
                break;
            }
        }
        if (victim == NIL)
            return NIL;
        evict(rl, victim);
        rl->st.evicted++;
    }
    uint32_t i = rl->free_head;
    rl->free_head = rl->b[i].next;
    return i;
}

/* Gives k a new, full bucket; NIL when there is no room (or no memory for the key). */
static uint32_t insert(struct ratelimit *rl, const struct rkey *k, int64_t now)
{
    uint32_t i = free_slot(rl, now);
    if (i == NIL)
        return NIL;
    struct bucket *b = &rl->b[i];
    b->key = malloc(k->len ? k->len : 1);
    if (b->key == NULL) {
        b->next = rl->free_head;
        rl->free_head = i;
        return NIL;
    }
    memcpy(b->key, k->p, k->len);
    b->klen = k->len;
    b->folded = k->folded;
    b->hash = k->hash;
    b->tokens = rl->burst;
    b->last_ms = now;
    b->hnext = rl->heads[k->hash & rl->mask];
    rl->heads[k->hash & rl->mask] = i;
    lru_push(rl, i);
    rl->count++;
    return i;
}

static void log_overflow(struct ratelimit *rl, int64_t now)
{
    if (rl->overflow_logged && now >= rl->overflow_logged_ms &&
        (uint64_t)now - (uint64_t)rl->overflow_logged_ms < OVERFLOW_LOG_MS)
        return;
    log_warn("ratelimit: all %zu buckets busy; new originators share the overflow bucket "
             "(%" PRIu64 " requests so far)",
             rl->count, rl->st.overflowed);
    rl->overflow_logged = true;
    rl->overflow_logged_ms = now;
}

bool ratelimit_allow(struct ratelimit *rl, const char *key, int64_t now_ms)
{
    if (rl == NULL || rl->unlimited)
        return true;
    struct rkey k;
    rkey_make(rl, key, &k);
    pthread_mutex_lock(&rl->mu);
    bool ok;
    uint32_t i = find(rl, &k);
    if (i == NIL)
        i = insert(rl, &k, now_ms);
    if (i != NIL) {
        lru_unlink(rl, i);
        lru_push(rl, i);
        ok = take(rl, &rl->b[i], now_ms);
    } else {
        rl->st.overflowed++;
        log_overflow(rl, now_ms);
        ok = take(rl, &rl->overflow, now_ms);
    }
    if (ok)
        rl->st.allowed++;
    else
        rl->st.refused++;
    pthread_mutex_unlock(&rl->mu);
    return ok;
}

void ratelimit_stats(struct ratelimit *rl, struct ratelimit_stats *out)
{
    memset(out, 0, sizeof *out);
    if (rl == NULL)
        return;
    pthread_mutex_lock(&rl->mu);
    *out = rl->st;
    out->keys = rl->count;
    pthread_mutex_unlock(&rl->mu);
}

/* ---- lifetime ----------------------------------------------------------------------------- */

static bool cfg_ok(const struct ratelimit_cfg *c)
{
    if (c == NULL || !isfinite(c->rate_per_s) || c->rate_per_s < 0 || c->rate_per_s > RATE_MAX)
        return false;
    if (c->rate_per_s == 0)
        return true;
    return isfinite(c->burst) && c->burst >= 1 && c->burst <= RATE_MAX && c->max_keys >= 1 &&
           c->max_keys <= RATELIMIT_MAX_KEYS;
}

/* Allocates the table: max_keys slots on the free list, a power-of-two number of chains. */
static m2m_rc alloc_table(struct ratelimit *rl, size_t max_keys)
{
    size_t nheads = 16;
    while (nheads < max_keys)
        nheads *= 2;
    rl->b = calloc(max_keys, sizeof *rl->b);
    rl->heads = malloc(nheads * sizeof *rl->heads);
    if (rl->b == NULL || rl->heads == NULL)
        return M2M_ERR_NOMEM;
    rl->mask = nheads - 1;
    for (size_t i = 0; i < nheads; i++)
        rl->heads[i] = NIL;
    for (size_t i = 0; i < max_keys; i++) {
        rl->b[i].prev = NIL;
        rl->b[i].next = i + 1 < max_keys ? (uint32_t)(i + 1) : NIL;
    }
    rl->free_head = 0;
    rl->lru_head = rl->lru_tail = NIL;
    rl->max_keys = max_keys;
    return M2M_OK;
}

m2m_rc ratelimit_new(const struct ratelimit_cfg *cfg, struct ratelimit **out)
{
    m2m_rc rc = M2M_OK;
    struct ratelimit *rl = NULL;
    ENSURE(cfg_ok(cfg), M2M_ERR_CONFIG);
    rl = calloc(1, sizeof *rl);
    ENSURE_NONNULL(rl);
    rl->unlimited = cfg->rate_per_s == 0;
    if (!rl->unlimited) {
        rl->rate_ms = cfg->rate_per_s / 1000.0;
        rl->burst = cfg->burst;
        rl->overflow.tokens = cfg->burst;
        rl->overflow.last_ms = INT64_MIN;
        uint64_t seed[2];
        ENSURE(getrandom(seed, sizeof seed, 0) == (ssize_t)sizeof seed, M2M_ERR_IO);
        rl->k0 = seed[0];
        rl->k1 = seed[1];
        TRY(alloc_table(rl, cfg->max_keys));
    }
    ENSURE(pthread_mutex_init(&rl->mu, NULL) == 0, M2M_ERR_NOMEM);
    *out = rl;
    rl = NULL;
out:
    if (rl != NULL) {
        free(rl->b);
        free(rl->heads);
        free(rl);
    }
    return rc;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (size_t i = 0; i < rl->max_keys; i++)
        free(rl->b[i].key);
    free(rl->b);
    free(rl->heads);
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}
