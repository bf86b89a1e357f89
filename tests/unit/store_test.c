/* store_test.c: the storage contract run against both backends (memory, SQLite), plus SQLite
 * schema versioning, reopen, and a kill -9 durability test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "store/store.h"

/* ---- fixtures ---------------------------------------------------------------------------- */

struct fix {
    bool sqlite;
    char dir[64];
    char path[128];
    struct store *s;
};

static m2m_rc fix_open(struct fix *f)
{
    if (f->sqlite)
        return store_sqlite_open(f->path, &f->s);
    return store_mem_open(&f->s);
}

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    f->sqlite = *state != NULL && strcmp(*state, "sqlite") == 0;
    snprintf(f->dir, sizeof f->dir, "/tmp/store_test.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/db.sqlite", f->dir);
    if (fix_open(f) != M2M_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;
    char p[160];
    store_close(f->s);
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < M2M_ARRAY_LEN(suffix); i++) {
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* ---- a snapshot of everything load_all returns, for comparisons -------------------------- */

#define SNAP_MAX 64

struct snap_rec {
    char ri[64], pi[64], rn[64], creator[64], json[256];
    bool has_creator;
    int ty;
    int64_t ct, et;
    size_t json_len;
};

struct snap {
    size_t n;
    struct snap_rec r[SNAP_MAX];
};

static m2m_rc snap_cb(void *ctx, const struct store_rec *r)
{
    struct snap *sn = ctx;
    if (sn->n >= SNAP_MAX || r->json_len >= sizeof sn->r[0].json)
        return M2M_ERR_LIMIT;
    struct snap_rec *d = &sn->r[sn->n++];
    snprintf(d->ri, sizeof d->ri, "%s", r->ri);
    snprintf(d->pi, sizeof d->pi, "%s", r->pi);
    snprintf(d->rn, sizeof d->rn, "%s", r->rn);
    d->has_creator = r->creator != NULL;
    snprintf(d->creator, sizeof d->creator, "%s", r->creator ? r->creator : "");
    memcpy(d->json, r->json, r->json_len);
    d->json[r->json_len] = '\0';
    d->json_len = r->json_len;
    d->ty = r->ty;
    d->ct = r->ct_us;
    d->et = r->et_us;
    return M2M_OK;
}

static struct snap *snap_take(struct store *s)
{
    struct snap *sn = calloc(1, sizeof *sn);
    assert_non_null(sn);
    assert_int_equal(store_load_all(s, snap_cb, sn), M2M_OK);
    return sn;
}

static const struct snap_rec *snap_find(const struct snap *sn, const char *ri)
{
    for (size_t i = 0; i < sn->n; i++)
        if (strcmp(sn->r[i].ri, ri) == 0)
            return &sn->r[i];
    return NULL;
}

static struct store_rec rec(const char *ri, const char *pi, const char *rn, const char *json)
{
    return (struct store_rec){.ri = ri,
                              .pi = pi,
                              .rn = rn,
                              .ty = 3,
                              .ct_us = 1700000000000001,
                              .et_us = 0,
                              .creator = "CAE1",
                              .json = json,
                              .json_len = strlen(json)};
}

static void put_ok(struct store *s, const char *ri, const char *pi, const char *rn,
                   const char *json)
{
    struct store_rec r = rec(ri, pi, rn, json);
    assert_int_equal(store_put(s, &r), M2M_OK);
}

/* ---- the shared contract ----------------------------------------------------------------- */

static void test_put_load(void **state)
{
    struct fix *f = *state;
    struct store_rec cb = {.ri = "cse1",
                           .pi = "",
                           .rn = "cb",
                           .ty = 5,
                           .ct_us = -5,
                           .et_us = INT64_MAX,
                           .creator = NULL,
                           .json = "{\"a\":1}XX",
                           .json_len = 7};
    assert_int_equal(store_put(f->s, &cb), M2M_OK);
    put_ok(f->s, "ae1", "cse1", "app", "{\"api\":\"Nx\"}");
    struct snap *sn = snap_take(f->s);
    assert_int_equal(sn->n, 2);
    const struct snap_rec *r = snap_find(sn, "cse1");
    assert_non_null(r);
    assert_string_equal(r->pi, "");
    assert_string_equal(r->rn, "cb");
    assert_int_equal(r->ty, 5);
    assert_true(r->ct == -5 && r->et == INT64_MAX);
    assert_false(r->has_creator);
    assert_int_equal(r->json_len, 7); /* json_len, not strlen, bounds the stored JSON */
    assert_string_equal(r->json, "{\"a\":1}");
    r = snap_find(sn, "ae1");
    assert_non_null(r);
    assert_true(r->has_creator);
    assert_string_equal(r->creator, "CAE1");
    assert_int_equal(r->ct, 1700000000000001);
    assert_string_equal(r->json, "{\"api\":\"Nx\"}");
    free(sn);
}

static void test_replace(void **state)
{
    struct fix *f = *state;
    put_ok(f->s, "x", "p", "old", "{\"v\":1}");
    struct store_rec r = rec("x", "p", "new", "{\"v\":2}");
    r.creator = NULL;
    r.et_us = 42;
    assert_int_equal(store_put(f->s, &r), M2M_OK);
    put_ok(f->s, "x", "p", "new", "{\"v\":3}"); /* same (pi, rn) on the same ri is no conflict */
    struct snap *sn = snap_take(f->s);
    assert_int_equal(sn->n, 1);
    assert_string_equal(sn->r[0].rn, "new");
    assert_string_equal(sn->r[0].json, "{\"v\":3}");
    assert_true(sn->r[0].has_creator);
    free(sn);
}

static void test_delete(void **state)
{
    struct fix *f = *state;
    put_ok(f->s, "a", "p", "a", "{}");
    put_ok(f->s, "b", "p", "b", "{}");
    assert_int_equal(store_del(f->s, "a"), M2M_OK);
    assert_int_equal(store_del(f->s, "a"), M2M_ERR_NOT_FOUND);
    assert_int_equal(store_del(f->s, "zz"), M2M_ERR_NOT_FOUND);
    struct snap *sn = snap_take(f->s);
    assert_int_equal(sn->n, 1);
    assert_string_equal(sn->r[0].ri, "b");
    free(sn);
    put_ok(f->s, "c", "p", "a", "{}"); /* the deleted record's name is free again */
}

static void test_meta(void **state)
{
    struct fix *f = *state;
    char v[8];
    assert_int_equal(store_meta_get(f->s, "nope", v, sizeof v), M2M_ERR_NOT_FOUND);
    assert_int_equal(store_meta_set(f->s, "k", "one"), M2M_OK);
    assert_int_equal(store_meta_get(f->s, "k", v, sizeof v), M2M_OK);
    assert_string_equal(v, "one");
    assert_int_equal(store_meta_set(f->s, "k", "1234567"), M2M_OK);
    assert_int_equal(store_meta_get(f->s, "k", v, sizeof v), M2M_OK);
    assert_string_equal(v, "1234567");
    assert_int_equal(store_meta_set(f->s, "k", "12345678"), M2M_OK);
    assert_int_equal(store_meta_get(f->s, "k", v, sizeof v), M2M_ERR_LIMIT);
    assert_int_equal(store_meta_set(f->s, "e", ""), M2M_OK);
    assert_int_equal(store_meta_get(f->s, "e", v, sizeof v), M2M_OK);
    assert_string_equal(v, "");
}

static void test_commit(void **state)
{
    struct fix *f = *state;
    assert_int_equal(store_begin(f->s), M2M_OK);
    put_ok(f->s, "a", "p", "a", "{}");
    assert_int_equal(store_meta_set(f->s, "m", "v"), M2M_OK);
    assert_int_equal(store_commit(f->s), M2M_OK);
    assert_int_equal(store_rollback(f->s), M2M_OK); /* nothing open: a no-op */
    struct snap *sn = snap_take(f->s);
    assert_int_equal(sn->n, 1);
    free(sn);
    char v[4];
    assert_int_equal(store_meta_get(f->s, "m", v, sizeof v), M2M_OK);
}

static void test_txn_misuse(void **state)
{
    struct fix *f = *state;
    assert_int_equal(store_commit(f->s), M2M_ERR_INTERNAL);
    assert_int_equal(store_begin(f->s), M2M_OK);
    assert_int_equal(store_begin(f->s), M2M_ERR_INTERNAL);
    assert_int_equal(store_rollback(f->s), M2M_OK);
    assert_int_equal(store_rollback(f->s), M2M_OK);
    struct store_rec r = rec("a", "p", "a", "{}");
    r.rn = NULL;
    assert_int_equal(store_put(f->s, &r), M2M_ERR_INTERNAL);
    r = rec("a", "p", "a", "{}");
    r.json = NULL;
    assert_int_equal(store_put(f->s, &r), M2M_ERR_INTERNAL);
    assert_int_equal(store_put(f->s, NULL), M2M_ERR_INTERNAL);
    assert_int_equal(store_del(f->s, NULL), M2M_ERR_INTERNAL);
}

static void test_rollback_undoes(void **state)
{
    struct fix *f = *state;
    char v[16];
    put_ok(f->s, "keep", "p", "keep", "{\"v\":1}");
    put_ok(f->s, "gone", "p", "gone", "{\"v\":2}");
    assert_int_equal(store_meta_set(f->s, "m", "before"), M2M_OK);
    assert_int_equal(store_begin(f->s), M2M_OK);
    put_ok(f->s, "new", "p", "new", "{}");
    put_ok(f->s, "keep", "p", "renamed", "{\"v\":9}");
    put_ok(f->s, "keep", "p", "renamed2", "{\"v\":10}");
    assert_int_equal(store_del(f->s, "gone"), M2M_OK);
    put_ok(f->s, "gone2", "p", "gone", "{}"); /* reuses the deleted name */
    assert_int_equal(store_del(f->s, "new"), M2M_OK);
    assert_int_equal(store_meta_set(f->s, "m", "after"), M2M_OK);
    assert_int_equal(store_meta_set(f->s, "m2", "x"), M2M_OK);
    assert_int_equal(store_rollback(f->s), M2M_OK);
    struct snap *sn = snap_take(f->s);
    assert_int_equal(sn->n, 2);
    assert_non_null(snap_find(sn, "gone"));
    const struct snap_rec *r = snap_find(sn, "keep");
    assert_non_null(r);
    assert_string_equal(r->rn, "keep");
    assert_string_equal(r->json, "{\"v\":1}");
    free(sn);
    assert_int_equal(store_meta_get(f->s, "m", v, sizeof v), M2M_OK);
    assert_string_equal(v, "before");
    assert_int_equal(store_meta_get(f->s, "m2", v, sizeof v), M2M_ERR_NOT_FOUND);
}

static void test_unique_pi_rn(void **state)
{
    struct fix *f = *state;
    put_ok(f->s, "a", "p", "n", "{\"who\":\"a\"}");
    struct store_rec r = rec("b", "p", "n", "{}");
    assert_int_equal(store_put(f->s, &r), M2M_ERR_EXISTS);
    put_ok(f->s, "b", "q", "n", "{}"); /* same name under another parent */
    r = rec("b", "p", "n", "{}");      /* moving b next to a under the same name */
    assert_int_equal(store_put(f->s, &r), M2M_ERR_EXISTS);
    /* A failed put fails only itself, not the open transaction. */
    assert_int_equal(store_begin(f->s), M2M_OK);
    put_ok(f->s, "c", "p", "c", "{}");
    r = rec("d", "p", "c", "{}");
    assert_int_equal(store_put(f->s, &r), M2M_ERR_EXISTS);
    assert_int_equal(store_commit(f->s), M2M_OK);
    struct snap *sn = snap_take(f->s);
    assert_int_equal(sn->n, 3); /* a, b, c: the conflicting puts replaced nothing */
    assert_string_equal(snap_find(sn, "a")->json, "{\"who\":\"a\"}");
    assert_string_equal(snap_find(sn, "b")->pi, "q");
    assert_null(snap_find(sn, "d"));
    free(sn);
}

static int cb_calls;
static m2m_rc fail_cb(void *ctx, const struct store_rec *r)
{
    cb_calls++;
    return M2M_ERR_DENIED;
}

static void test_load_all_cb_error(void **state)
{
    struct fix *f = *state;
    put_ok(f->s, "a", "p", "a", "{}");
    put_ok(f->s, "b", "p", "b", "{}");
    cb_calls = 0;
    assert_int_equal(store_load_all(f->s, fail_cb, NULL), M2M_ERR_DENIED);
    assert_int_equal(cb_calls, 1);
    struct snap *sn = snap_take(f->s); /* iteration restarts cleanly */
    assert_int_equal(sn->n, 2);
    free(sn);
}

static void test_empty_and_close_null(void **state)
{
    struct fix *f = *state;
    struct snap *sn = snap_take(f->s);
    assert_int_equal(sn->n, 0);
    free(sn);
    store_close(NULL);
}

/* ---- SQLite only ------------------------------------------------------------------------- */

/* Runs one statement on a raw connection and returns the first column of the first row. */
static void raw_sql(const char *path, const char *sql, char *out, size_t outlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    int src = sqlite3_step(st);
    assert_true(src == SQLITE_ROW || src == SQLITE_DONE);
    if (out != NULL) {
        assert_int_equal(src, SQLITE_ROW);
        snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void test_sq_schema_version(void **state)
{
    struct fix *f = *state;
    char v[16], want[16];
    snprintf(want, sizeof want, "%d", STORE_SCHEMA_VERSION);
    assert_int_equal(store_meta_get(f->s, "schema_version", v, sizeof v), M2M_OK);
    assert_string_equal(v, want);
    raw_sql(f->path, "PRAGMA journal_mode", v, sizeof v);
    assert_string_equal(v, "wal");
    raw_sql(f->path, "SELECT count(*) FROM sqlite_master WHERE name = 'resources_et'", v, sizeof v);
    assert_string_equal(v, "1");
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_sq_newer_refused(void **state)
{
    struct fix *f = *state;
    struct store *s2 = (struct store *)1;
    store_close(f->s);
    f->s = NULL;
    raw_sql(f->path, "UPDATE meta SET v = '999' WHERE k = 'schema_version'", NULL, 0);
    assert_int_equal(store_sqlite_open(f->path, &s2), M2M_ERR_CONFIG);
    assert_null(s2);
    raw_sql(f->path, "UPDATE meta SET v = '1x' WHERE k = 'schema_version'", NULL, 0);
    assert_int_equal(store_sqlite_open(f->path, &s2), M2M_ERR_CONFIG);
    raw_sql(f->path, "UPDATE meta SET v = '-1' WHERE k = 'schema_version'", NULL, 0);
    assert_int_equal(store_sqlite_open(f->path, &s2), M2M_ERR_CONFIG);
    raw_sql(f->path, "UPDATE meta SET v = '1' WHERE k = 'schema_version'", NULL, 0);
    assert_int_equal(store_sqlite_open(f->path, &f->s), M2M_OK);
}

static void test_sq_reopen_keeps_data(void **state)
{
    struct fix *f = *state;
    char v[16];
    assert_int_equal(store_begin(f->s), M2M_OK);
    put_ok(f->s, "a", "p", "a", "{\"x\":1}");
    assert_int_equal(store_meta_set(f->s, "m", "kept"), M2M_OK);
    assert_int_equal(store_commit(f->s), M2M_OK);
    assert_int_equal(store_begin(f->s), M2M_OK);
    put_ok(f->s, "b", "p", "b", "{}"); /* open at close: rolled back */
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(store_sqlite_open(f->path, &f->s), M2M_OK);
    struct snap *sn = snap_take(f->s);
    assert_int_equal(sn->n, 1);
    assert_string_equal(sn->r[0].json, "{\"x\":1}");
    free(sn);
    assert_int_equal(store_meta_get(f->s, "m", v, sizeof v), M2M_OK);
    assert_string_equal(v, "kept");
}

static void test_sq_open_errors(void **state)
{
    struct fix *f = *state;
    struct store *s2 = NULL;
    char p[160];
    assert_int_equal(store_sqlite_open("/nonexistent-dir/x/db", &s2), M2M_ERR_IO);
    assert_null(s2);
    snprintf(p, sizeof p, "%s/garbage", f->dir);
    FILE *g = fopen(p, "wb");
    assert_non_null(g);
    for (int i = 0; i < 200; i++)
        fputs("this is not a database file ", g);
    fclose(g);
    assert_int_equal(store_sqlite_open(p, &s2), M2M_ERR_IO);
    assert_null(s2);
    unlink(p);
    assert_int_equal(store_sqlite_open(":memory:", &s2), M2M_OK);
    put_ok(s2, "a", "", "a", "{}");
    store_close(s2);
}

/* ---- durability: kill -9 at a random moment loses no acknowledged commit ------------------ */

enum { DUR_N = 3000, DUR_ROUNDS = 3 };

static void dur_child(const char *path, int round, int wfd)
{
    struct store *s = NULL;
    char ri[32], rn[32];
    if (store_sqlite_open(path, &s) != M2M_OK)
        _exit(2);
    for (uint32_t i = 0; i < DUR_N; i++) {
        snprintf(ri, sizeof ri, "r%d-%u", round, i);
        snprintf(rn, sizeof rn, "n%d-%u", round, i);
        struct store_rec r = rec(ri, "p", rn, "{\"con\":\"0123456789abcdef\"}");
        if (store_begin(s) != M2M_OK || store_put(s, &r) != M2M_OK || store_commit(s) != M2M_OK)
            _exit(3);
        uint32_t acked = i + 1;
        if (write(wfd, &acked, sizeof acked) != sizeof acked)
            _exit(4);
    }
    store_close(s);
    _exit(0);
}

struct dur_count {
    int round;
    bool seen[DUR_N + 1];
    uint32_t n;
};

static m2m_rc dur_cb(void *ctx, const struct store_rec *r)
{
    struct dur_count *c = ctx;
    int round;
    unsigned i;
    if (sscanf(r->ri, "r%d-%u", &round, &i) != 2 || round != c->round)
        return M2M_OK;
    if (i >= DUR_N || c->seen[i])
        return M2M_ERR_INTERNAL;
    c->seen[i] = true;
    c->n++;
    return M2M_OK;
}

/* Parent: lets the child run until a random number of acknowledgements, waits a random few
 * hundred microseconds more (so the kill lands inside a transaction or an fsync), kills it, and
 * returns the last acknowledged count (including acks already in the pipe). */
static uint32_t dur_run_and_kill(pid_t pid, int rfd, uint32_t target)
{
    uint32_t acked = 0, v;
    while (acked < target && read(rfd, &v, sizeof v) == sizeof v)
        acked = v;
    usleep((useconds_t)(rand() % 2000));
    kill(pid, SIGKILL);
    while (read(rfd, &v, sizeof v) == sizeof v)
        acked = v;
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0));
    return acked;
}

static void test_sq_durability_kill9(void **state)
{
    struct fix *f = *state;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    store_close(f->s); /* the child must be the only writer */
    f->s = NULL;
    for (int round = 0; round < DUR_ROUNDS; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            dur_child(f->path, round, p[1]);
        }
        close(p[1]);
        uint32_t acked = dur_run_and_kill(pid, p[0], 1 + (uint32_t)(rand() % 300));
        close(p[0]);
        assert_true(acked > 0);
        struct dur_count *c = calloc(1, sizeof *c);
        assert_non_null(c);
        c->round = round;
        assert_int_equal(store_sqlite_open(f->path, &f->s), M2M_OK);
        assert_int_equal(store_load_all(f->s, dur_cb, c), M2M_OK);
        store_close(f->s);
        f->s = NULL;
        /* Every acknowledged commit is there; at most the one in flight is there beyond it. */
        print_message("seed %u round %d: acked %u, found %u\n", seed, round, acked, c->n);
        assert_true(c->n == acked || c->n == acked + 1);
        for (uint32_t i = 0; i < c->n; i++)
            assert_true(c->seen[i]);
        free(c);
        char ok[32];
        raw_sql(f->path, "PRAGMA integrity_check", ok, sizeof ok);
        assert_string_equal(ok, "ok");
    }
    assert_int_equal(store_sqlite_open(f->path, &f->s), M2M_OK);
}

#define ON(backend, fn)                                                                            \
    {                                                                                              \
        backend "/" #fn, fn, setup, teardown, backend                                              \
    }
#define BOTH(fn) ON("mem", fn), ON("sqlite", fn)
#define SQLITE_ONLY(fn) ON("sqlite", fn)

int main(void)
{
    m2m_log_set_level(M2M_LOG_OFF); /* error paths are exercised on purpose */
    const struct CMUnitTest tests[] = {
        BOTH(test_put_load),
        BOTH(test_replace),
        BOTH(test_delete),
        BOTH(test_meta),
        BOTH(test_commit),
        BOTH(test_txn_misuse),
        BOTH(test_rollback_undoes),
        BOTH(test_unique_pi_rn),
        BOTH(test_load_all_cb_error),
        BOTH(test_empty_and_close_null),
        SQLITE_ONLY(test_sq_schema_version),
        SQLITE_ONLY(test_sq_newer_refused),
        SQLITE_ONLY(test_sq_reopen_keeps_data),
        SQLITE_ONLY(test_sq_open_errors),
        SQLITE_ONLY(test_sq_durability_kill9),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
