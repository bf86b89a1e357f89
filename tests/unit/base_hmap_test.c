/* base_hmap_test.c: the string-keyed hash map: put/get/del/replace, growth, tombstones, iteration,
 * length-bounded lookups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"

#define V(i) ((void *)(uintptr_t)(i))

static struct hmap *mk(size_t initial)
{
    struct hmap *m = NULL;
    assert_int_equal(hmap_new(initial, &m), M2M_OK);
    assert_non_null(m);
    assert_int_equal(hmap_count(m), 0);
    return m;
}

static void key_of(int i, char out[16])
{
    snprintf(out, 16, "key-%d", i);
}

/* Iterates m and checks that it holds exactly keys key-0..key-(n-1) for which live[i], each once,
 * with value i + 1. */
static void check_contents(const struct hmap *m, const bool *live, int n)
{
    int *seen = calloc((size_t)n, sizeof *seen);
    assert_non_null(seen);
    size_t pos = 0, visits = 0;
    const char *k;
    void *v;
    while (hmap_next(m, &pos, &k, &v)) {
        int i;
        assert_int_equal(sscanf(k, "key-%d", &i), 1);
        assert_true(i >= 0 && i < n);
        assert_true(live[i]);
        assert_ptr_equal(v, V(i + 1));
        seen[i]++;
        visits++;
    }
    assert_int_equal(visits, hmap_count(m));
    for (int i = 0; i < n; i++)
        assert_int_equal(seen[i], live[i] ? 1 : 0);
    free(seen);
}

static void test_put_get_del_replace(void **state)
{
    struct hmap *m = mk(0);
    assert_null(hmap_get(m, "a"));
    assert_null(hmap_del(m, "a"));
    assert_int_equal(hmap_put(m, "a", V(1)), M2M_OK);
    assert_int_equal(hmap_put(m, "b", V(2)), M2M_OK);
    assert_int_equal(hmap_put(m, "", V(3)), M2M_OK); /* the empty key is a key */
    assert_int_equal(hmap_count(m), 3);
    assert_ptr_equal(hmap_get(m, "a"), V(1));
    assert_ptr_equal(hmap_get(m, "b"), V(2));
    assert_ptr_equal(hmap_get(m, ""), V(3));
    assert_null(hmap_get(m, "c"));
    assert_null(hmap_get(m, "A"));
    assert_null(hmap_get(m, "a "));
    /* replace keeps the count */
    assert_int_equal(hmap_put(m, "a", V(10)), M2M_OK);
    assert_int_equal(hmap_count(m), 3);
    assert_ptr_equal(hmap_get(m, "a"), V(10));
    /* del returns the value it had */
    assert_ptr_equal(hmap_del(m, "a"), V(10));
    assert_int_equal(hmap_count(m), 2);
    assert_null(hmap_get(m, "a"));
    assert_null(hmap_del(m, "a"));
    assert_int_equal(hmap_count(m), 2);
    /* a NULL value is storable, though get cannot tell it from absence */
    assert_int_equal(hmap_put(m, "n", NULL), M2M_OK);
    assert_int_equal(hmap_count(m), 3);
    hmap_free(m);
    hmap_free(NULL);
}

static void test_keys_are_copied(void **state)
{
    struct hmap *m = mk(4);
    char k[8] = "abc";
    assert_int_equal(hmap_put(m, k, V(1)), M2M_OK);
    k[0] = 'x';
    assert_ptr_equal(hmap_get(m, "abc"), V(1));
    assert_null(hmap_get(m, k));
    size_t pos = 0;
    const char *key;
    assert_true(hmap_next(m, &pos, &key, NULL));
    assert_string_equal(key, "abc");
    assert_ptr_not_equal(key, k);
    hmap_free(m);
}

static void test_many_keys_growth(void **state)
{
    enum { N = 20000 };
    struct hmap *m = mk(0);
    bool *live = calloc(N, sizeof *live);
    assert_non_null(live);
    char k[16];
    for (int i = 0; i < N; i++) {
        key_of(i, k);
        assert_int_equal(hmap_put(m, k, V(i + 1)), M2M_OK);
        live[i] = true;
        assert_int_equal(hmap_count(m), (size_t)i + 1);
    }
    for (int i = 0; i < N; i++) {
        key_of(i, k);
        assert_ptr_equal(hmap_get(m, k), V(i + 1));
    }
    check_contents(m, live, N);
    /* delete every third key, then every remaining key once more with the same value */
    for (int i = 0; i < N; i += 3) {
        key_of(i, k);
        assert_ptr_equal(hmap_del(m, k), V(i + 1));
        live[i] = false;
    }
    for (int i = 0; i < N; i++) {
        key_of(i, k);
        if (live[i])
            assert_int_equal(hmap_put(m, k, V(i + 1)), M2M_OK);
        else
            assert_null(hmap_get(m, k));
    }
    assert_int_equal(hmap_count(m), N - (N + 2) / 3);
    check_contents(m, live, N);
    free(live);
    hmap_free(m);
}

/* In a small table, probe chains cross tombstones: a key behind a deleted one must still be found
 * and replaced in place, never inserted a second time into the freed slot. */
static void test_tombstones(void **state)
{
    enum { N = 12 }; /* 12 keys in the initial 16 slots: chains are certain */
    for (int round = 0; round < 50; round++) {
        struct hmap *m = mk(0);
        bool live[N];
        char k[16];
        for (int i = 0; i < N; i++) {
            key_of(i + round * N, k);
            assert_int_equal(hmap_put(m, k, V(i + 1)), M2M_OK);
            live[i] = true;
        }
        for (int i = round % 2; i < N; i += 2) {
            key_of(i + round * N, k);
            assert_ptr_equal(hmap_del(m, k), V(i + 1));
            live[i] = false;
        }
        for (int i = 0; i < N; i++) {
            key_of(i + round * N, k);
            if (live[i])
                assert_int_equal(hmap_put(m, k, V(i + 1)), M2M_OK); /* replace */
        }
        assert_int_equal(hmap_count(m), N / 2);
        for (int i = 0; i < N; i++) {
            key_of(i + round * N, k);
            assert_ptr_equal(hmap_get(m, k), live[i] ? V(i + 1) : NULL);
            if (!live[i]) /* reinsert into the tombstones */
                assert_int_equal(hmap_put(m, k, V(i + 1)), M2M_OK);
        }
        assert_int_equal(hmap_count(m), N);
        for (int i = 0; i < N; i++) {
            key_of(i + round * N, k);
            assert_ptr_equal(hmap_get(m, k), V(i + 1));
        }
        hmap_free(m);
    }
}

/* Endless put/del churn on a small map terminates and stays correct: tombstones are reused or
 * swept by a same-size rehash. */
static void test_tombstone_churn(void **state)
{
    struct hmap *m = mk(0);
    char k[16];
    assert_int_equal(hmap_put(m, "stay", V(7)), M2M_OK);
    for (int i = 0; i < 100000; i++) {
        key_of(i, k);
        assert_int_equal(hmap_put(m, k, V(i + 1)), M2M_OK);
        if (i > 0) {
            key_of(i - 1, k);
            assert_ptr_equal(hmap_del(m, k), V(i));
        }
    }
    assert_int_equal(hmap_count(m), 2);
    assert_ptr_equal(hmap_get(m, "stay"), V(7));
    key_of(99999, k);
    assert_ptr_equal(hmap_get(m, k), V(100000));
    key_of(99998, k);
    assert_null(hmap_get(m, k));
    hmap_free(m);
}

static void test_iteration_empty_and_deleted(void **state)
{
    struct hmap *m = mk(100);
    size_t pos = 0;
    const char *k = "unset";
    void *v = V(99);
    assert_false(hmap_next(m, &pos, &k, &v));
    assert_false(hmap_next(m, &pos, &k, &v)); /* stays at the end */
    assert_int_equal(hmap_put(m, "x", V(1)), M2M_OK);
    assert_ptr_equal(hmap_del(m, "x"), V(1));
    pos = 0;
    assert_false(hmap_next(m, &pos, &k, &v));
    hmap_free(m);
}

static void test_getn_unterminated(void **state)
{
    struct hmap *m = mk(0);
    assert_int_equal(hmap_put(m, "abc", V(1)), M2M_OK);
    assert_int_equal(hmap_put(m, "ab", V(2)), M2M_OK);
    /* exactly-sized heap copies without a NUL: ASan flags any read past len */
    char *abc = malloc(3), *abcd = malloc(4);
    assert_non_null(abc);
    assert_non_null(abcd);
    memcpy(abc, "abc", 3);
    memcpy(abcd, "abcd", 4);
    assert_ptr_equal(hmap_getn(m, abc, 3), V(1));
    assert_ptr_equal(hmap_getn(m, abc, 2), V(2));
    assert_null(hmap_getn(m, abc, 1));
    assert_null(hmap_getn(m, abc, 0));
    assert_null(hmap_getn(m, abcd, 4));
    assert_ptr_equal(hmap_getn(m, abcd, 3), V(1));
    /* a NUL inside the length is part of the key and never matches the stored one */
    assert_null(hmap_getn(m, "ab\0", 3));
    assert_int_equal(hmap_put(m, "", V(3)), M2M_OK);
    assert_ptr_equal(hmap_getn(m, abc, 0), V(3));
    free(abc);
    free(abcd);
    hmap_free(m);
}

static void test_new_sizes(void **state)
{
    struct hmap *m = mk(1000);
    char k[16];
    for (int i = 0; i < 1000; i++) {
        key_of(i, k);
        assert_int_equal(hmap_put(m, k, V(i + 1)), M2M_OK);
    }
    assert_int_equal(hmap_count(m), 1000);
    hmap_free(m);
    /* an absurd initial size fails instead of looping or wrapping */
    m = V(1);
    assert_int_equal(hmap_new(SIZE_MAX, &m), M2M_ERR_NOMEM);
    assert_int_equal(hmap_new(SIZE_MAX / 2, &m), M2M_ERR_NOMEM);
    assert_int_equal(hmap_new(SIZE_MAX / 2 - 1, &m), M2M_ERR_NOMEM);
    assert_ptr_equal(m, V(1)); /* untouched on failure */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_del_replace),
        cmocka_unit_test(test_keys_are_copied),
        cmocka_unit_test(test_many_keys_growth),
        cmocka_unit_test(test_tombstones),
        cmocka_unit_test(test_tombstone_churn),
        cmocka_unit_test(test_iteration_empty_and_deleted),
        cmocka_unit_test(test_getn_unterminated),
        cmocka_unit_test(test_new_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
