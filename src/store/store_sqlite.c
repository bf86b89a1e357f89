/* store_sqlite.c: the SQLite storage backend: schema, migrations, prepared statements, durable
 * transactions. */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

/* Durability and checkpointing.
 * - journal_mode=WAL with synchronous=FULL: COMMIT appends the transaction to the -wal file and
 *   fsyncs it before returning, so a change is durable (survives kill -9 and power loss) once
 *   store_commit() returns M2M_OK.
 * - Checkpointing is SQLite's automatic one (wal_autocheckpoint, default 1000 pages ~ 4 MiB): the
 *   committing connection copies the WAL back into the database once the WAL exceeds that size.
 *   It runs on the writer thread at commit time (never on an event-loop thread, which holds no
 *   write handle) and is PASSIVE, so it never blocks readers; readers that hold old snapshots only
 *   delay the WAL reset. We keep the default because it bounds WAL growth and recovery time
 *   without extra threads; a dedicated checkpointer can replace it if commit latency spikes show
 *   up in benchmarks. */

/* One prepared statement per operation, kept for the life of the handle. */
enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_PUT,
    ST_DEL,
    ST_LOAD_ALL,
    ST_META_GET,
    ST_META_SET,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    /* An upsert on ri only, not INSERT OR REPLACE: OR REPLACE would also silently delete a
     * sibling that holds the same (pi, rn) instead of failing the UNIQUE constraint. */
    [ST_PUT] = "INSERT INTO resources(ri, pi, rn, ty, ct, et, creator, json) "
               "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(ri) DO UPDATE SET "
               "pi = excluded.pi, rn = excluded.rn, ty = excluded.ty, ct = excluded.ct, "
               "et = excluded.et, creator = excluded.creator, json = excluded.json",
    [ST_DEL] = "DELETE FROM resources WHERE ri = ?1",
    [ST_LOAD_ALL] = "SELECT ri, pi, rn, ty, ct, et, creator, json FROM resources",
    [ST_META_GET] = "SELECT v FROM meta WHERE k = ?1",
    [ST_META_SET] = ("INSERT INTO meta(k, v) VALUES(?1, ?2) "
                     "ON CONFLICT(k) DO UPDATE SET v = excluded.v"),
};

struct store_sqlite {
    struct store base; /* first: a struct store * is a struct store_sqlite * */
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
};

/* Schema migrations: step i takes the schema from version i to version i + 1. All pending steps
 * and the new "schema_version" are applied in one transaction. Append steps; never edit one
 * that has shipped. M2M_ARRAY_LEN(migrations) must equal STORE_SCHEMA_VERSION. */
static const char *const migrations[] = {
    /* 0 -> 1: the initial schema. The UNIQUE(pi, rn) index also serves lookups by pi alone (its
     * leftmost column), so no separate index on pi is kept. */
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE resources(ri TEXT PRIMARY KEY, pi TEXT NOT NULL, rn TEXT NOT NULL,"
    " ty INTEGER NOT NULL, ct INTEGER NOT NULL, et INTEGER NOT NULL, creator TEXT,"
    " json TEXT NOT NULL);"
    "CREATE UNIQUE INDEX resources_pi_rn ON resources(pi, rn);"
    "CREATE INDEX resources_et ON resources(et);",
};

_Static_assert(M2M_ARRAY_LEN(migrations) == STORE_SCHEMA_VERSION,
               "one migration step per schema version");

/* Maps a SQLite result code to an m2m_rc and logs it. Never logs resource JSON: SQLite's messages
 * name tables and columns, not bound values. */
static m2m_rc sq_fail(struct store_sqlite *s, const char *what, int src)
{
    int primary = src & 0xff;
    log_error("store(sqlite): %s: %s (%d)", what, sqlite3_errmsg(s->db),
              sqlite3_extended_errcode(s->db));
    if (primary == SQLITE_CONSTRAINT)
        return M2M_ERR_EXISTS;
    if (primary == SQLITE_NOMEM)
        return M2M_ERR_NOMEM;
    return M2M_ERR_IO;
}

/* Runs a statement that returns no rows, then resets it and clears its bindings. */
static m2m_rc sq_exec_stmt(struct store_sqlite *s, enum stmt_id id, const char *what)
{
    sqlite3_stmt *st = s->st[id];
    int src = sqlite3_step(st);
    m2m_rc rc = M2M_OK;
    if (src != SQLITE_DONE && src != SQLITE_ROW)
        rc = sq_fail(s, what, src);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* Runs SQL text (schema and pragmas only; never with data). */
static m2m_rc sq_exec(struct store_sqlite *s, const char *sql, const char *what)
{
    int src = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return src == SQLITE_OK ? M2M_OK : sq_fail(s, what, src);
}

static bool in_txn(struct store_sqlite *s)
{
    return sqlite3_get_autocommit(s->db) == 0;
}

static m2m_rc sq_begin(struct store *base)
{
    struct store_sqlite *s = (struct store_sqlite *)base;
    if (in_txn(s)) {
        log_error("store(sqlite): begin inside a transaction");
        return M2M_ERR_INTERNAL;
    }
    return sq_exec_stmt(s, ST_BEGIN, "begin");
}

/* COMMIT; on failure the transaction is rolled back so the handle is usable again and nothing of
 * it is applied (the caller must not acknowledge the change). */
static m2m_rc sq_commit(struct store *base)
{
    struct store_sqlite *s = (struct store_sqlite *)base;
    if (!in_txn(s)) {
        log_error("store(sqlite): commit without a transaction");
        return M2M_ERR_INTERNAL;
    }
    m2m_rc rc = sq_exec_stmt(s, ST_COMMIT, "commit");
    if (rc != M2M_OK && in_txn(s)) {
        m2m_rc rb = sq_exec_stmt(s, ST_ROLLBACK, "rollback after failed commit");
        (void)rb;
    }
    if (rc == M2M_ERR_EXISTS)
        rc = M2M_ERR_IO;
    return rc;
}

/* Rolling back with no transaction open is a no-op, so cleanup paths may call it freely. */
static m2m_rc sq_rollback(struct store *base)
{
    struct store_sqlite *s = (struct store_sqlite *)base;
    if (!in_txn(s))
        return M2M_OK;
    return sq_exec_stmt(s, ST_ROLLBACK, "rollback");
}

static m2m_rc sq_put(struct store *base, const struct store_rec *r)
{
    struct store_sqlite *s = (struct store_sqlite *)base;
    if (r == NULL || r->ri == NULL || r->pi == NULL || r->rn == NULL || r->json == NULL ||
        r->json_len > INT32_MAX)
        return M2M_ERR_INTERNAL;
    sqlite3_stmt *st = s->st[ST_PUT];
    int src = SQLITE_OK;
    if ((src = sqlite3_bind_text(st, 1, r->ri, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (src = sqlite3_bind_text(st, 2, r->pi, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (src = sqlite3_bind_text(st, 3, r->rn, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (src = sqlite3_bind_int(st, 4, r->ty)) != SQLITE_OK ||
        (src = sqlite3_bind_int64(st, 5, r->ct_us)) != SQLITE_OK ||
        (src = sqlite3_bind_int64(st, 6, r->et_us)) != SQLITE_OK ||
        (src = r->creator ? sqlite3_bind_text(st, 7, r->creator, -1, SQLITE_STATIC)
                          : sqlite3_bind_null(st, 7)) != SQLITE_OK ||
        (src = sqlite3_bind_text(st, 8, r->json, (int)r->json_len, SQLITE_STATIC)) != SQLITE_OK) {
        sqlite3_clear_bindings(st);
        return sq_fail(s, "put: bind", src);
    }
    return sq_exec_stmt(s, ST_PUT, "put");
}

static m2m_rc sq_del(struct store *base, const char *ri)
{
    struct store_sqlite *s = (struct store_sqlite *)base;
    if (ri == NULL)
        return M2M_ERR_INTERNAL;
    int src = sqlite3_bind_text(s->st[ST_DEL], 1, ri, -1, SQLITE_STATIC);
    if (src != SQLITE_OK)
        return sq_fail(s, "del: bind", src);
    RETURN_IF_ERR(sq_exec_stmt(s, ST_DEL, "del"));
    return sqlite3_changes(s->db) > 0 ? M2M_OK : M2M_ERR_NOT_FOUND;
}

/* Fills r from the current row of the load_all statement; the pointers live until the next step. */
static m2m_rc sq_row(sqlite3_stmt *st, struct store_rec *r)
{
    r->ri = (const char *)sqlite3_column_text(st, 0);
    r->pi = (const char *)sqlite3_column_text(st, 1);
    r->rn = (const char *)sqlite3_column_text(st, 2);
    r->ty = sqlite3_column_int(st, 3);
    r->ct_us = sqlite3_column_int64(st, 4);
    r->et_us = sqlite3_column_int64(st, 5);
    r->creator = (const char *)sqlite3_column_text(st, 6);
    r->json = (const char *)sqlite3_column_text(st, 7);
    r->json_len = (size_t)sqlite3_column_bytes(st, 7);
    if (r->ri == NULL || r->pi == NULL || r->rn == NULL || r->json == NULL)
        return M2M_ERR_NOMEM; /* NOT NULL columns: only an allocation failure yields NULL */
    return M2M_OK;
}

static m2m_rc sq_load_all(struct store *base, m2m_rc (*cb)(void *ctx, const struct store_rec *r),
                          void *ctx)
{
    struct store_sqlite *s = (struct store_sqlite *)base;
    sqlite3_stmt *st = s->st[ST_LOAD_ALL];
    m2m_rc rc = M2M_OK;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_rec r;
        TRY(sq_row(st, &r));
        TRY(cb(ctx, &r));
    }
    if (src != SQLITE_DONE)
        rc = sq_fail(s, "load_all", src);
out:
    sqlite3_reset(st);
    return rc;
}

/* NOT_FOUND when the key is absent, LIMIT when the value and its NUL do not fit in vallen. */
static m2m_rc sq_meta_get(struct store *base, const char *key, char *val, size_t vallen)
{
    struct store_sqlite *s = (struct store_sqlite *)base;
    sqlite3_stmt *st = s->st[ST_META_GET];
    m2m_rc rc = M2M_OK;
    if (key == NULL || val == NULL || vallen == 0)
        return M2M_ERR_INTERNAL;
    int src = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (src != SQLITE_OK)
        return sq_fail(s, "meta_get: bind", src);
    src = sqlite3_step(st);
    if (src == SQLITE_DONE)
        BAIL(M2M_ERR_NOT_FOUND);
    if (src != SQLITE_ROW)
        BAIL(sq_fail(s, "meta_get", src));
    const unsigned char *v = sqlite3_column_text(st, 0);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    ENSURE(v != NULL, M2M_ERR_NOMEM);
    ENSURE(n < vallen, M2M_ERR_LIMIT);
    memcpy(val, v, n);
    val[n] = '\0';
out:
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static m2m_rc sq_meta_set(struct store *base, const char *key, const char *val)
{
    struct store_sqlite *s = (struct store_sqlite *)base;
    if (key == NULL || val == NULL)
        return M2M_ERR_INTERNAL;
    sqlite3_stmt *st = s->st[ST_META_SET];
    int src = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (src == SQLITE_OK)
        src = sqlite3_bind_text(st, 2, val, -1, SQLITE_STATIC);
    if (src != SQLITE_OK) {
        sqlite3_clear_bindings(st);
        return sq_fail(s, "meta_set: bind", src);
    }
    return sq_exec_stmt(s, ST_META_SET, "meta_set");
}

/* Finalizes every statement and closes the connection; an open transaction is rolled back. */
static void sq_close(struct store *base)
{
    struct store_sqlite *s = (struct store_sqlite *)base;
    if (s == NULL)
        return;
    for (size_t i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK)
        log_error("store(sqlite): close: %s", sqlite3_errmsg(s->db));
    free(s);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .begin = sq_begin,
    .put = sq_put,
    .del = sq_del,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .load_all = sq_load_all,
    .meta_get = sq_meta_get,
    .meta_set = sq_meta_set,
    .close = sq_close,
};

/* Reads meta "schema_version" with ad-hoc SQL (the statements are prepared after migration).
 * A database without a meta table is version 0. M2M_ERR_CONFIG when the value is not a number. */
static m2m_rc sq_schema_version(struct store_sqlite *s, long *out)
{
    sqlite3_stmt *st = NULL;
    m2m_rc rc = M2M_OK;
    *out = 0;
    int src = sqlite3_prepare_v2(
        s->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'", -1, &st,
        NULL);
    if (src != SQLITE_OK)
        BAIL(sq_fail(s, "schema: probe", src));
    if ((src = sqlite3_step(st)) != SQLITE_ROW)
        BAIL(sq_fail(s, "schema: probe", src));
    if (sqlite3_column_int(st, 0) == 0)
        goto out;
    sqlite3_finalize(st);
    st = NULL;
    src = sqlite3_prepare_v2(s->db, "SELECT v FROM meta WHERE k = 'schema_version'", -1, &st, NULL);
    if (src != SQLITE_OK)
        BAIL(sq_fail(s, "schema: read version", src));
    src = sqlite3_step(st);
    if (src == SQLITE_DONE)
        goto out;
    if (src != SQLITE_ROW)
        BAIL(sq_fail(s, "schema: read version", src));
    const char *v = (const char *)sqlite3_column_text(st, 0);
    char *end = NULL;
    errno = 0;
    long n = v ? strtol(v, &end, 10) : -1;
    if (v == NULL || end == v || *end != '\0' || errno != 0 || n < 0) {
        log_error("store(sqlite): schema_version is not a number");
        BAIL(M2M_ERR_CONFIG);
    }
    *out = n;
out:
    sqlite3_finalize(st);
    return rc;
}

/* Applies migrations[from .. STORE_SCHEMA_VERSION) inside the caller's transaction. */
static m2m_rc sq_apply_steps(struct store_sqlite *s, long from)
{
    char sql[128];
    for (long v = from; v < STORE_SCHEMA_VERSION; v++) {
        log_info("store(sqlite): migrating schema %ld -> %ld", v, v + 1);
        RETURN_IF_ERR(sq_exec(s, migrations[v], "schema: migrate"));
    }
    snprintf(sql, sizeof sql,
             "INSERT INTO meta(k, v) VALUES('schema_version', '%d') "
             "ON CONFLICT(k) DO UPDATE SET v = excluded.v",
             STORE_SCHEMA_VERSION);
    return sq_exec(s, sql, "schema: set version");
}

/* Brings the schema to STORE_SCHEMA_VERSION. The version is re-read under the write lock so two
 * processes opening a new database do not both migrate. A newer database is refused. */
static m2m_rc sq_migrate(struct store_sqlite *s)
{
    m2m_rc rc = M2M_OK;
    long v = 0;
    TRY(sq_exec(s, "BEGIN IMMEDIATE", "schema: begin"));
    TRY(sq_schema_version(s, &v));
    if (v > STORE_SCHEMA_VERSION) {
        log_error("store(sqlite): database schema %ld is newer than this program's (%d)", v,
                  STORE_SCHEMA_VERSION);
        BAIL(M2M_ERR_CONFIG);
    }
    if (v < STORE_SCHEMA_VERSION)
        TRY(sq_apply_steps(s, v));
    TRY(sq_exec(s, "COMMIT", "schema: commit"));
out:
    if (rc != M2M_OK && in_txn(s))
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Sets the connection pragmas and checks that WAL mode took effect (it cannot on some file
 * systems; silently running without it would change the durability contract). */
static m2m_rc sq_configure(struct store_sqlite *s, bool in_memory)
{
    sqlite3_stmt *st = NULL;
    m2m_rc rc = M2M_OK;
    int src = sqlite3_busy_timeout(s->db, 5000);
    if (src != SQLITE_OK)
        BAIL(sq_fail(s, "busy_timeout", src));
    src = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (src != SQLITE_OK || (src = sqlite3_step(st)) != SQLITE_ROW)
        BAIL(sq_fail(s, "journal_mode", src));
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    if (!in_memory && (mode == NULL || strcmp(mode, "wal") != 0)) {
        log_error("store(sqlite): cannot enable WAL mode (got %s)", mode ? mode : "?");
        BAIL(M2M_ERR_IO);
    }
    TRY(sq_exec(s, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;", "pragmas"));
out:
    sqlite3_finalize(st);
    return rc;
}

/* The database file is created owner-only before SQLite opens it; SQLite gives the -wal and -shm
 * files the same mode. An existing file keeps its mode. */
static m2m_rc sq_precreate(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return M2M_OK;
    }
    if (errno == EEXIST)
        return M2M_OK;
    log_error("store(sqlite): cannot create database file: %s", strerror(errno));
    return M2M_ERR_IO;
}

static m2m_rc sq_prepare_all(struct store_sqlite *s)
{
    for (size_t i = 0; i < ST_COUNT; i++) {
        int src =
            sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (src != SQLITE_OK)
            return sq_fail(s, "prepare", src);
    }
    return M2M_OK;
}

m2m_rc store_sqlite_open(const char *path, struct store **out)
{
    struct store_sqlite *s = NULL;
    m2m_rc rc = M2M_OK;
    ENSURE(path != NULL && out != NULL, M2M_ERR_INTERNAL);
    *out = NULL;
    bool in_memory = strcmp(path, ":memory:") == 0;
    s = calloc(1, sizeof *s);
    ENSURE_NONNULL(s);
    s->base.ops = &sqlite_ops;
    if (!in_memory)
        TRY(sq_precreate(path));
    /* NOMUTEX: a handle is used by one thread at a time (store.h). */
    int src = sqlite3_open_v2(
        path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        if (s->db == NULL)
            BAIL(M2M_ERR_NOMEM);
        BAIL(sq_fail(s, "open", src));
    }
    sqlite3_extended_result_codes(s->db, 1);
    TRY(sq_configure(s, in_memory));
    TRY(sq_migrate(s));
    TRY(sq_prepare_all(s));
    *out = &s->base;
    s = NULL;
out:
    sq_close((struct store *)s);
    return rc;
}
