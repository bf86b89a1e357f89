/* ratelimit_test.c: token buckets (burst, refusal, refill, clock steps), the bound on keys, the
 * eviction policy against key rotation, long keys, configuration errors and concurrent use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cse/ratelimit.h"

static struct ratelimit *mk(double rate, double burst, size_t max_keys)
{
    struct ratelimit_cfg c = {rate, burst, max_keys};
    struct ratelimit *rl = NULL;
    assert_int_equal(ratelimit_new(&c, &rl), M2M_OK);
    assert_non_null(rl);
    return rl;
}

static struct ratelimit_stats stats(struct ratelimit *rl)
{
    struct ratelimit_stats s;
    ratelimit_stats(rl, &s);
    return s;
}

/* How many of n requests for key at now are allowed. */
static int allowed(struct ratelimit *rl, const char *key, int64_t now, int n)
{
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += ratelimit_allow(rl, key, now);
    return ok;
}

static void test_config(void **state)
{
    static const struct ratelimit_cfg bad[] = {
        {-1, 5, 10},
        {NAN, 5, 10},
        {INFINITY, 5, 10},
        {2e9, 5, 10},
        {1, 0.5, 10},
        {1, 0, 10},
        {1, NAN, 10},
        {1, INFINITY, 10},
        {1, 2e9, 10},
        {1, 5, 0},
        {1, 5, RATELIMIT_MAX_KEYS + 1},
    };
    struct ratelimit *rl = NULL;
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++)
        assert_int_equal(ratelimit_new(&bad[i], &rl), M2M_ERR_CONFIG);
    assert_int_equal(ratelimit_new(NULL, &rl), M2M_ERR_CONFIG);
    assert_null(rl);
    /* Edges that are accepted. */
    ratelimit_free(mk(1e9, 1, 1));
    ratelimit_free(mk(0.001, 1e9, RATELIMIT_MAX_KEYS));
    ratelimit_free(NULL);
    assert_true(ratelimit_allow(NULL, "x", 0));
    struct ratelimit_stats s = stats(NULL);
    assert_int_equal(s.allowed + s.refused + s.keys, 0);
}

/* rate 0 is unlimited, whatever the other fields say, and keeps no state. */
static void test_unlimited(void **state)
{
    struct ratelimit *rl = mk(0, 0, 0);
    for (int i = 0; i < 5000; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        assert_true(ratelimit_allow(rl, k, 0));
    }
    assert_int_equal(stats(rl).keys, 0);
    ratelimit_free(rl);
}

static void test_burst_then_refusal(void **state)
{
    struct ratelimit *rl = mk(1, 5, 16);
    assert_int_equal(allowed(rl, "CAE1", 1000, 5), 5);
    assert_false(ratelimit_allow(rl, "CAE1", 1000));
    assert_false(ratelimit_allow(rl, "CAE1", 1999));
    assert_true(ratelimit_allow(rl, "CAE2", 1000)); /* another key has its own bucket */
    struct ratelimit_stats s = stats(rl);
    assert_int_equal(s.allowed, 6);
    assert_int_equal(s.refused, 2);
    assert_int_equal(s.keys, 2);
    assert_int_equal(s.overflowed, 0);
    ratelimit_free(rl);
}

static void test_refill(void **state)
{
    struct ratelimit *rl = mk(10, 2, 16); /* one token per 100 ms */
    assert_int_equal(allowed(rl, "a", 0, 3), 2);
    assert_false(ratelimit_allow(rl, "a", 50));
    assert_true(ratelimit_allow(rl, "a", 100)); /* 50 ms + 50 ms = one token */
    assert_false(ratelimit_allow(rl, "a", 100));
    assert_int_equal(allowed(rl, "a", 250, 3), 1);
    assert_int_equal(allowed(rl, "a", 3600 * 1000, 5), 2); /* capped at burst */
    assert_int_equal(allowed(rl, "a", INT64_MAX, 5), 2);   /* no overflow at the extreme */
    ratelimit_free(rl);
}

/* A clock that steps back refills nothing, and the bucket resumes from its latest time. */
static void test_clock_backwards(void **state)
{
    struct ratelimit *rl = mk(1, 2, 16);
    assert_int_equal(allowed(rl, "a", 10000, 2), 2);
    assert_false(ratelimit_allow(rl, "a", 0));
    assert_false(ratelimit_allow(rl, "a", -1000000));
    assert_false(ratelimit_allow(rl, "a", 10999));
    assert_true(ratelimit_allow(rl, "a", 11000));
    assert_int_equal(allowed(rl, "b", INT64_MIN, 3), 2);
    ratelimit_free(rl);
}

static void test_null_key(void **state)
{
    struct ratelimit *rl = mk(1, 2, 16);
    assert_true(ratelimit_allow(rl, NULL, 0));
    assert_true(ratelimit_allow(rl, "", 0));
    assert_false(ratelimit_allow(rl, NULL, 0)); /* NULL and "" are one key */
    assert_int_equal(stats(rl).keys, 1);
    ratelimit_free(rl);
}

/* Rotating keys never grows the table; keys without room share the overflow bucket. */
static void test_many_keys_bounded(void **state)
{
    struct ratelimit *rl = mk(1, 5, 100);
    int ok = 0;
    for (int i = 0; i < 20000; i++) {
        char k[32];
        snprintf(k, sizeof k, "//attacker/C%d", i);
        ok += ratelimit_allow(rl, k, 0);
        assert_true(stats(rl).keys <= 100);
    }
    struct ratelimit_stats s = stats(rl);
    assert_int_equal(s.keys, 100);
    assert_int_equal(s.overflowed, 20000 - 100);
    assert_int_equal(ok, 100 + 5); /* 100 own buckets, then the overflow bucket's burst */
    assert_int_equal(s.evicted, 0);
    ratelimit_free(rl);
}

/* A real client's drained bucket survives a flood of new keys: it is not evicted (which would
 * hand it a fresh, full bucket) and its remaining budget is its own. */
static void test_flood_keeps_real_clients(void **state)
{
    struct ratelimit *rl = mk(1, 3, 8);
    assert_int_equal(allowed(rl, "good", 0, 3), 3);
    assert_int_equal(allowed(rl, "other", 0, 1), 1);
    for (int t = 0; t < 3000; t += 10)
        for (int i = 0; i < 50; i++) {
            char k[32];
            snprintf(k, sizeof k, "rot%d-%d", t, i);
            (void)ratelimit_allow(rl, k, t);
        }
    /* "good" was never full again during the flood, so it kept its drained bucket: at 999 ms it
     * holds 0.999 tokens. Had the flood evicted it, a fresh full bucket would allow this. */
    struct ratelimit_stats s = stats(rl);
    assert_true(s.keys <= 8);
    assert_true(s.overflowed > 0);
    assert_true(s.evicted > 0); /* idle rotating keys (and "other") did make room */
    assert_false(ratelimit_allow(rl, "good", 999));
    ratelimit_free(rl);
}

/* An idle (full again) bucket is evicted to make room; a busy one is not. */
static void test_evict_idle(void **state)
{
    struct ratelimit *rl = mk(1, 2, 2);
    assert_true(ratelimit_allow(rl, "a", 0));
    assert_true(ratelimit_allow(rl, "b", 0));
    assert_true(ratelimit_allow(rl, "c", 0)); /* no room: overflow bucket */
    struct ratelimit_stats s = stats(rl);
    assert_int_equal(s.overflowed, 1);
    assert_int_equal(s.evicted, 0);
    assert_true(ratelimit_allow(rl, "b", 500));  /* b: 0.5 tokens left, seen last */
    assert_true(ratelimit_allow(rl, "c", 1000)); /* a is full again: evicted for c */
    s = stats(rl);
    assert_int_equal(s.evicted, 1);
    assert_int_equal(s.keys, 2);
    assert_int_equal(s.overflowed, 1);
    assert_true(ratelimit_allow(rl, "c", 1000)); /* c has its own full bucket */
    assert_false(ratelimit_allow(rl, "c", 1000));
    /* b kept its state: 0.5 + 0.5 = 1 token. */
    assert_true(ratelimit_allow(rl, "b", 1000));
    assert_false(ratelimit_allow(rl, "b", 1000));
    ratelimit_free(rl);
}

/* The least recently seen full bucket goes first; only RATELIMIT_EVICT_SCAN are examined. */
static void test_evict_order_and_scan_bound(void **state)
{
    struct ratelimit *rl = mk(1, 2, 3);
    assert_true(ratelimit_allow(rl, "a", 0));
    assert_true(ratelimit_allow(rl, "b", 0));
    assert_true(ratelimit_allow(rl, "c", 0));
    assert_true(ratelimit_allow(rl, "a", 500));  /* a: 0.5 left, most recent */
    assert_true(ratelimit_allow(rl, "d", 1000)); /* evicts b (tail, full) */
    assert_true(ratelimit_allow(rl, "e", 1000)); /* evicts c */
    assert_true(ratelimit_allow(rl, "f", 1000)); /* a, d, e all busy: overflow */
    struct ratelimit_stats s = stats(rl);
    assert_int_equal(s.evicted, 2);
    assert_int_equal(s.overflowed, 1);
    assert_true(ratelimit_allow(rl, "a", 1000)); /* a kept its 1 token */
    assert_false(ratelimit_allow(rl, "a", 1000));
    ratelimit_free(rl);

    enum { N = RATELIMIT_EVICT_SCAN + 2 };
    rl = mk(1, 2, N);
    char k[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(k[i], sizeof k[i], "k%d", i);
        bool full_later = i == RATELIMIT_EVICT_SCAN; /* just beyond the scan */
        assert_int_equal(allowed(rl, k[i], 0, full_later ? 1 : 2), full_later ? 1 : 2);
    }
    assert_true(ratelimit_allow(rl, "new", 1000));
    assert_int_equal(stats(rl).evicted, 0);
    assert_int_equal(stats(rl).overflowed, 1);
    ratelimit_free(rl);
}

/* Every request moves its key to the recent end: keys in use leave the eviction window, so
 * the idle bucket behind them becomes the one examined and evicted. */
static void test_lru_touch(void **state)
{
    enum { N = RATELIMIT_EVICT_SCAN + 1 };
    struct ratelimit *rl = mk(1, 2, N);
    char k[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(k[i], sizeof k[i], "k%d", i);
        assert_int_equal(allowed(rl, k[i], 0, i < N - 1 ? 2 : 1), i < N - 1 ? 2 : 1);
    }
    for (int i = 0; i < N - 1; i++) /* the busy ones come back; k8 stays idle (full) */
        assert_true(ratelimit_allow(rl, k[i], 1000));
    assert_true(ratelimit_allow(rl, "new", 1000));
    assert_int_equal(stats(rl).evicted, 1);
    assert_int_equal(stats(rl).overflowed, 0);
    for (int i = 0; i < N - 1; i++) /* none of the busy ones was reset */
        assert_false(ratelimit_allow(rl, k[i], 1000));
    ratelimit_free(rl);
}

/* Keys longer than RATELIMIT_KEY_MAX are hashed: distinct long keys stay distinct, the same
 * long key maps to the same bucket, and a long key never meets a short one. */
static void test_long_keys(void **state)
{
    struct ratelimit *rl = mk(1, 1, 16);
    char a[RATELIMIT_KEY_MAX + 50], b[RATELIMIT_KEY_MAX + 50];
    memset(a, 'x', sizeof a - 1);
    a[sizeof a - 1] = '\0';
    memcpy(b, a, sizeof b);
    b[sizeof b - 2] = 'y'; /* differs only in the last byte */
    assert_true(ratelimit_allow(rl, a, 0));
    assert_false(ratelimit_allow(rl, a, 0));
    assert_true(ratelimit_allow(rl, b, 0));
    a[RATELIMIT_KEY_MAX] = '\0'; /* exactly the bound: kept verbatim */
    assert_true(ratelimit_allow(rl, a, 0));
    a[RATELIMIT_KEY_MAX] = 'x';
    a[RATELIMIT_KEY_MAX + 1] = '\0'; /* one more: hashed */
    assert_true(ratelimit_allow(rl, a, 0));
    assert_false(ratelimit_allow(rl, a, 0));
    assert_int_equal(stats(rl).keys, 4);

    size_t big = 1 << 20;
    char *huge = malloc(big + 1);
    assert_non_null(huge);
    memset(huge, 'z', big);
    huge[big] = '\0';
    assert_true(ratelimit_allow(rl, huge, 0));
    assert_false(ratelimit_allow(rl, huge, 0));
    free(huge);
    ratelimit_free(rl);
}

/* ---- concurrency -------------------------------------------------------------------------- */

enum { THREADS = 4, CALLS = 20000 };

struct worker {
    struct ratelimit *rl;
    int id, ok_shared;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < CALLS; i++) {
        w->ok_shared += ratelimit_allow(w->rl, "shared", 0);
        char k[32];
        snprintf(k, sizeof k, "t%d-%d", w->id, i % 500);
        (void)ratelimit_allow(w->rl, k, i / 100); /* churn with eviction */
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    struct ratelimit *rl = mk(1, 1000, 64);
    pthread_t th[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){rl, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok_shared;
    }
    assert_int_equal(ok, 1000); /* exactly the burst, no token handed out twice */
    struct ratelimit_stats s = stats(rl);
    assert_int_equal(s.allowed + s.refused, (uint64_t)THREADS * CALLS * 2);
    assert_true(s.keys <= 64);
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_unlimited),
        cmocka_unit_test(test_burst_then_refusal),
        cmocka_unit_test(test_refill),
        cmocka_unit_test(test_clock_backwards),
        cmocka_unit_test(test_null_key),
        cmocka_unit_test(test_many_keys_bounded),
        cmocka_unit_test(test_flood_keeps_real_clients),
        cmocka_unit_test(test_evict_idle),
        cmocka_unit_test(test_evict_order_and_scan_bound),
        cmocka_unit_test(test_lru_touch),
        cmocka_unit_test(test_long_keys),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
