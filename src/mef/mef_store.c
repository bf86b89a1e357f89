/* mef_store.c: the MEF database on SQLite (schema, transactions, secure deletion of keys). */
#include "mef/mef_store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/secret.h"
#include "base/timeutil.h"

struct mef_store {
    pthread_mutex_t mu;
    sqlite3 *db;
    struct mef_store_limits lim;
    int64_t last_purge; /* Unix seconds of the last automatic purge */
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS kpm(kpmid TEXT PRIMARY KEY, key BLOB NOT NULL,"
    " identity TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0, ct INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS target(id TEXT PRIMARY KEY, fqdn TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS allow(enrolee TEXT NOT NULL, target TEXT NOT NULL,"
    " suid INTEGER NOT NULL, PRIMARY KEY(enrolee, target, suid));"
    "CREATE TABLE IF NOT EXISTS enr(relid TEXT PRIMARY KEY, ke BLOB NOT NULL,"
    " enrolee TEXT NOT NULL, ct INTEGER NOT NULL, et INTEGER NOT NULL,"
    " deleted INTEGER NOT NULL DEFAULT 0, cred TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE IF NOT EXISTS mcr(id TEXT PRIMARY KEY, client TEXT NOT NULL,"
    " fqdn TEXT NOT NULL, admin TEXT NOT NULL, ct INTEGER NOT NULL, et INTEGER NOT NULL,"
    " lbl TEXT NOT NULL, UNIQUE(client, admin));"
    "CREATE TABLE IF NOT EXISTS mkr(relid TEXT PRIMARY KEY, source TEXT NOT NULL,"
    " admin TEXT NOT NULL, suid INTEGER NOT NULL, targets TEXT NOT NULL, lbl TEXT NOT NULL,"
    " ct INTEGER NOT NULL, et INTEGER NOT NULL, key BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS cmd(id INTEGER PRIMARY KEY AUTOINCREMENT, client TEXT NOT NULL,"
    " class INTEGER NOT NULL, args TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'queued',"
    " status INTEGER NOT NULL DEFAULT 0, ct INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS cert(serial TEXT PRIMARY KEY, san TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL, client TEXT NOT NULL, ct INTEGER NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS cmd_client ON cmd(client, state);"
    "CREATE INDEX IF NOT EXISTS cert_fp ON cert(fingerprint);";

/* Columns added after the first release: a store created earlier gets them on open (the
 * "duplicate column" error of a current store is expected and ignored). */
static const char *const MIGRATIONS[] = {
    "ALTER TABLE enr ADD COLUMN cred TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE cert ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0",
};

static int64_t now_s(void)
{
    return m2m_now_us() / 1000000;
}

/* ---- statements ---- */

/* Prepares sql and binds the arguments described by fmt: 't' text (const char *), 'i' int64,
 * 'b' blob (const uint8_t *, size_t). */
static m2m_rc prep(struct mef_store *st, sqlite3_stmt **s, const char *sql, const char *fmt, ...)
{
    va_list ap;
    int r = sqlite3_prepare_v2(st->db, sql, -1, s, NULL);
    if (r != SQLITE_OK) {
        log_error("mef store: prepare: %s", sqlite3_errmsg(st->db));
        return M2M_ERR_IO;
    }
    va_start(ap, fmt);
    for (int i = 0; fmt[i] && r == SQLITE_OK; i++) {
        if (fmt[i] == 't') {
            r = sqlite3_bind_text(*s, i + 1, va_arg(ap, const char *), -1, SQLITE_STATIC);
        } else if (fmt[i] == 'i') {
            r = sqlite3_bind_int64(*s, i + 1, va_arg(ap, int64_t));
        } else {
            const uint8_t *p = va_arg(ap, const uint8_t *);
            size_t n = va_arg(ap, size_t);
            r = sqlite3_bind_blob(*s, i + 1, p, (int)n, SQLITE_STATIC);
        }
    }
    va_end(ap);
    if (r != SQLITE_OK) {
        sqlite3_finalize(*s);
        *s = NULL;
        return M2M_ERR_IO;
    }
    return M2M_OK;
}

/* Runs a write statement to completion; maps constraint violations to M2M_ERR_EXISTS. */
static m2m_rc step_done(struct mef_store *st, sqlite3_stmt *s)
{
    int r = sqlite3_step(s);
    sqlite3_finalize(s);
    if (r == SQLITE_DONE)
        return M2M_OK;
    if ((r & 0xff) == SQLITE_CONSTRAINT)
        return M2M_ERR_EXISTS;
    log_error("mef store: %s", sqlite3_errmsg(st->db));
    return M2M_ERR_IO;
}

/* A write statement that must touch a row (NOT_FOUND otherwise). */
static m2m_rc step_changed(struct mef_store *st, sqlite3_stmt *s)
{
    RETURN_IF_ERR(step_done(st, s));
    return sqlite3_changes(st->db) > 0 ? M2M_OK : M2M_ERR_NOT_FOUND;
}

static void col_text(sqlite3_stmt *s, int i, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

static m2m_rc exec(struct mef_store *st, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        log_error("mef store: %s", err ? err : "exec failed");
        sqlite3_free(err);
        return M2M_ERR_IO;
    }
    return M2M_OK;
}

/* ---- open / close ---- */

/* Creates the file with mode 0600 before SQLite opens it, so the keys are never world-readable. */
static m2m_rc create_private(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return M2M_ERR_IO;
    int r = fchmod(fd, 0600);
    close(fd);
    return r == 0 ? M2M_OK : M2M_ERR_IO;
}

m2m_rc mef_store_open(const char *path, struct mef_store **out)
{
    m2m_rc rc = M2M_OK;
    struct mef_store *st = calloc(1, sizeof *st);
    *out = NULL;
    ENSURE_NONNULL(st);
    pthread_mutex_init(&st->mu, NULL);
    TRY(create_private(path));
    ENSURE(sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) ==
               SQLITE_OK,
           M2M_ERR_IO);
    sqlite3_busy_timeout(st->db, 5000);
    /* every acknowledged write is on disk first; freed pages holding keys are overwritten */
    TRY(exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;"
                 "PRAGMA foreign_keys=ON;"));
    for (size_t i = 0; i < M2M_ARRAY_LEN(MIGRATIONS); i++)
        (void)sqlite3_exec(st->db, MIGRATIONS[i], NULL, NULL, NULL);
    TRY(exec(st, SCHEMA));
    mef_store_limits_default(&st->lim);
    *out = st;
    st = NULL;
out:
    mef_store_close(st);
    return rc;
}

void mef_store_close(struct mef_store *st)
{
    if (st == NULL)
        return;
    sqlite3_close_v2(st->db);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

uint64_t mef_store_generation(struct mef_store *st)
{
    sqlite3_stmt *s = NULL;
    uint64_t g = 0;
    pthread_mutex_lock(&st->mu);
    if (prep(st, &s, "PRAGMA data_version", "") == M2M_OK && sqlite3_step(s) == SQLITE_ROW)
        g = (uint64_t)sqlite3_column_int64(s, 0) + (uint64_t)sqlite3_total_changes(st->db);
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->mu);
    return g;
}

#define LOCKED(call)                                                                               \
    do {                                                                                           \
        pthread_mutex_lock(&st->mu);                                                               \
        m2m_rc lr_ = (call);                                                                       \
        pthread_mutex_unlock(&st->mu);                                                             \
        return lr_;                                                                                \
    } while (0)

/* ---- caps and purge ---- */

void mef_store_limits_default(struct mef_store_limits *l)
{
    l->enrolments = MEF_LIMIT_ENROLMENTS;
    l->registrations = MEF_LIMIT_REGISTRATIONS;
    l->keys = MEF_LIMIT_KEYS;
    l->certs_per_day = MEF_LIMIT_CERTS_PER_DAY;
}

void mef_store_set_limits(struct mef_store *st, const struct mef_store_limits *l)
{
    pthread_mutex_lock(&st->mu);
    st->lim = *l;
    pthread_mutex_unlock(&st->mu);
}

/* M2M_ERR_LIMIT when `sql` (one text and one integer parameter) counts cap rows or more. */
static m2m_rc cap_check(struct mef_store *st, int cap, const char *sql, const char *who, int64_t t)
{
    sqlite3_stmt *s = NULL;
    m2m_rc rc = M2M_OK;
    if (cap <= 0)
        return M2M_OK;
    RETURN_IF_ERR(prep(st, &s, sql, "ti", who, t));
    if (sqlite3_step(s) != SQLITE_ROW)
        rc = M2M_ERR_IO;
    else if (sqlite3_column_int64(s, 0) >= cap)
        rc = M2M_ERR_LIMIT;
    sqlite3_finalize(s);
    return rc;
}

/* Runs one purge statement (parameters: now, batch) and adds the rows it touched. */
static m2m_rc purge_one(struct mef_store *st, const char *sql, int64_t now, int batch, int *n)
{
    sqlite3_stmt *s = NULL;
    RETURN_IF_ERR(prep(st, &s, sql, "ii", now, (int64_t)batch));
    RETURN_IF_ERR(step_done(st, s));
    *n += sqlite3_changes(st->db);
    return M2M_OK;
}

static m2m_rc purge_l(struct mef_store *st, int64_t now, int batch, int *removed)
{
    m2m_rc rc = M2M_OK;
    int n = 0, dummy = 0;
    TRY(exec(st, "BEGIN IMMEDIATE"));
    /* keys are overwritten before their rows go (secure_delete clears the freed pages too) */
    TRY(purge_one(st,
                  "UPDATE enr SET ke=zeroblob(32), deleted=1 WHERE rowid IN (SELECT rowid FROM"
                  " enr WHERE et<=?1 AND deleted=0 LIMIT ?2)",
                  now, batch, &dummy));
    TRY(purge_one(st,
                  "DELETE FROM enr WHERE rowid IN (SELECT rowid FROM enr WHERE et<=?1 LIMIT ?2)",
                  now, batch, &n));
    TRY(purge_one(st,
                  "DELETE FROM mcr WHERE rowid IN (SELECT rowid FROM mcr WHERE et<=?1 LIMIT ?2)",
                  now, batch, &n));
    TRY(purge_one(st,
                  "UPDATE mkr SET key=zeroblob(length(key)) WHERE rowid IN (SELECT rowid FROM"
                  " mkr WHERE et<=?1 LIMIT ?2)",
                  now, batch, &dummy));
    TRY(purge_one(st,
                  "DELETE FROM mkr WHERE rowid IN (SELECT rowid FROM mkr WHERE et<=?1 LIMIT ?2)",
                  now, batch, &n));
    TRY(purge_one(st,
                  "DELETE FROM cmd WHERE id IN (SELECT id FROM cmd WHERE state IN"
                  " ('reported','discarded') AND ct<=?1-86400 LIMIT ?2)",
                  now, batch, &n));
    TRY(exec(st, "COMMIT"));
    st->last_purge = now;
    if (removed != NULL)
        *removed = n;
    return M2M_OK;
out:
    (void)exec(st, "ROLLBACK");
    return rc;
}

m2m_rc mef_store_purge(struct mef_store *st, int64_t now, int batch, int *removed)
{
    if (batch <= 0)
        return M2M_ERR_MALFORMED;
    LOCKED(purge_l(st, now, batch, removed));
}

#define MEF_PURGE_EVERY_S 60
#define MEF_PURGE_BATCH 256

/* On a write: the purge at most every MEF_PURGE_EVERY_S; its failure does not fail the write. */
static void purge_maybe_l(struct mef_store *st, int64_t now)
{
    if (now >= st->last_purge && now - st->last_purge < MEF_PURGE_EVERY_S)
        return;
    st->last_purge = now; /* a failing purge is not retried on every write */
    if (purge_l(st, now, MEF_PURGE_BATCH, NULL) != M2M_OK)
        log_warn("mef store: purge failed");
}

/* ---- Kpm ---- */

static m2m_rc kpm_add_l(struct mef_store *st, const char *kpmid, const uint8_t *key, size_t len,
                        const char *identity)
{
    sqlite3_stmt *s = NULL;
    RETURN_IF_ERR(prep(st, &s, "INSERT INTO kpm(kpmid,key,identity,ct) VALUES(?,?,?,?)", "tbti",
                       kpmid, key, len, identity, now_s()));
    return step_done(st, s);
}

m2m_rc mef_store_kpm_add(struct mef_store *st, const char *kpmid, const uint8_t *key, size_t len,
                         const char *identity)
{
    if (len < MEF_KEY_MIN || len > MEF_KEY_MAX)
        return M2M_ERR_MALFORMED;
    LOCKED(kpm_add_l(st, kpmid, key, len, identity));
}

static m2m_rc kpm_get_l(struct mef_store *st, const char *kpmid, size_t idlen, uint8_t *key,
                        size_t *keylen, char *identity, size_t idcap)
{
    m2m_rc rc = M2M_OK;
    sqlite3_stmt *s = NULL;
    TRY(prep(st, &s, "SELECT key, identity FROM kpm WHERE kpmid=? AND revoked=0", ""));
    ENSURE(sqlite3_bind_text(s, 1, kpmid, (int)idlen, SQLITE_STATIC) == SQLITE_OK, M2M_ERR_IO);
    ENSURE(sqlite3_step(s) == SQLITE_ROW, M2M_ERR_NOT_FOUND);
    size_t n = (size_t)sqlite3_column_bytes(s, 0);
    const void *k = sqlite3_column_blob(s, 0);
    ENSURE(k != NULL && n <= *keylen, M2M_ERR_LIMIT);
    memcpy(key, k, n);
    *keylen = n;
    col_text(s, 1, identity, idcap);
out:
    sqlite3_finalize(s);
    return rc;
}

m2m_rc mef_store_kpm_get(struct mef_store *st, const char *kpmid, size_t idlen, uint8_t *key,
                         size_t *keylen, char *identity, size_t idcap)
{
    if (kpmid == NULL || idlen == 0 || idlen > MEF_ID_MAX || memchr(kpmid, 0, idlen) != NULL)
        return M2M_ERR_NOT_FOUND;
    LOCKED(kpm_get_l(st, kpmid, idlen, key, keylen, identity, idcap));
}

bool mef_store_kpm_revoked(struct mef_store *st, const char *kpmid)
{
    sqlite3_stmt *s = NULL;
    bool r = false;
    pthread_mutex_lock(&st->mu);
    if (prep(st, &s, "SELECT revoked FROM kpm WHERE kpmid=?", "t", kpmid) == M2M_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        r = sqlite3_column_int(s, 0) != 0;
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->mu);
    return r;
}

static m2m_rc kpm_revoke_l(struct mef_store *st, const char *kpmid)
{
    m2m_rc rc = M2M_OK;
    sqlite3_stmt *s = NULL;
    char cred[MEF_ID_MAX + 4];
    snprintf(cred, sizeof cred, "10-%s", kpmid);
    TRY(exec(st, "BEGIN IMMEDIATE"));
    TRY(prep(st, &s, "UPDATE kpm SET revoked=1, key=zeroblob(length(key)) WHERE kpmid=?", "t",
             kpmid));
    TRY(step_changed(st, s));
    /* what the Kpm obtained ends with it: the enrolments made over its sessions; rows from
     * before the cred column fall back to the Kpm's identity */
    TRY(prep(st, &s,
             "UPDATE enr SET ke=zeroblob(32), deleted=1 WHERE deleted=0 AND (cred=?1 OR"
             " (cred='' AND enrolee=(SELECT identity FROM kpm WHERE kpmid=?2)))",
             "tt", cred, kpmid));
    TRY(step_done(st, s));
    TRY(exec(st, "COMMIT"));
    return M2M_OK;
out:
    (void)exec(st, "ROLLBACK");
    return rc;
}

m2m_rc mef_store_kpm_revoke(struct mef_store *st, const char *kpmid)
{
    LOCKED(kpm_revoke_l(st, kpmid));
}

/* ---- targets and rules ---- */

static m2m_rc target_add_l(struct mef_store *st, const char *id, const char *fqdn)
{
    sqlite3_stmt *s = NULL;
    RETURN_IF_ERR(
        prep(st, &s, "INSERT OR REPLACE INTO target(id,fqdn) VALUES(?,?)", "tt", id, fqdn));
    return step_done(st, s);
}

m2m_rc mef_store_target_add(struct mef_store *st, const char *id, const char *fqdn)
{
    LOCKED(target_add_l(st, id, fqdn));
}

static m2m_rc target_get_l(struct mef_store *st, const char *id, char *fqdn, size_t cap)
{
    m2m_rc rc = M2M_OK;
    sqlite3_stmt *s = NULL;
    TRY(prep(st, &s, "SELECT fqdn FROM target WHERE id=?", "t", id));
    ENSURE(sqlite3_step(s) == SQLITE_ROW, M2M_ERR_NOT_FOUND);
    col_text(s, 0, fqdn, cap);
out:
    sqlite3_finalize(s);
    return rc;
}

m2m_rc mef_store_target_get(struct mef_store *st, const char *id, char *fqdn, size_t cap)
{
    LOCKED(target_get_l(st, id, fqdn, cap));
}

static m2m_rc allow_l(struct mef_store *st, const char *enrolee, const char *target, unsigned suid)
{
    char f[MEF_FQDN_MAX + 1];
    sqlite3_stmt *s = NULL;
    RETURN_IF_ERR(target_get_l(st, target, f, sizeof f));
    RETURN_IF_ERR(prep(st, &s, "INSERT INTO allow(enrolee,target,suid) VALUES(?,?,?)", "tti",
                       enrolee, target, (int64_t)suid));
    return step_done(st, s);
}

m2m_rc mef_store_allow(struct mef_store *st, const char *enrolee, const char *target, unsigned suid)
{
    LOCKED(allow_l(st, enrolee, target, suid));
}

bool mef_store_allowed(struct mef_store *st, const char *enrolee, const char *target, unsigned suid)
{
    sqlite3_stmt *s = NULL;
    bool r = false;
    pthread_mutex_lock(&st->mu);
    if (prep(st, &s, "SELECT 1 FROM allow WHERE enrolee=? AND target=? AND suid=?", "tti", enrolee,
             target, (int64_t)suid) == M2M_OK)
        r = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->mu);
    return r;
}

static m2m_rc rules_l(struct mef_store *st, const char *enrolee, struct mef_target_rule *out,
                      size_t max, size_t *n)
{
    sqlite3_stmt *s = NULL;
    *n = 0;
    RETURN_IF_ERR(prep(st, &s,
                       "SELECT a.target, t.fqdn, a.suid FROM allow a JOIN target t ON"
                       " t.id = a.target WHERE a.enrolee=? ORDER BY a.rowid",
                       "t", enrolee));
    while (*n < max && sqlite3_step(s) == SQLITE_ROW) {
        col_text(s, 0, out[*n].target, sizeof out[*n].target);
        col_text(s, 1, out[*n].fqdn, sizeof out[*n].fqdn);
        out[*n].suid = (unsigned)sqlite3_column_int(s, 2);
        (*n)++;
    }
    sqlite3_finalize(s);
    return M2M_OK;
}

m2m_rc mef_store_rules_for(struct mef_store *st, const char *enrolee, struct mef_target_rule *out,
                           size_t max, size_t *n)
{
    LOCKED(rules_l(st, enrolee, out, max, n));
}

/* ---- enrolments ---- */

static m2m_rc enr_add_l(struct mef_store *st, const struct mef_enr *e)
{
    sqlite3_stmt *s = NULL;
    purge_maybe_l(st, e->ct);
    RETURN_IF_ERR(cap_check(st, st->lim.enrolments,
                            "SELECT count(*) FROM enr WHERE enrolee=? AND deleted=0 AND et>?",
                            e->enrolee, e->ct));
    RETURN_IF_ERR(prep(st, &s, "INSERT INTO enr(relid,ke,enrolee,ct,et,cred) VALUES(?,?,?,?,?,?)",
                       "tbtiit", e->relid, e->ke, sizeof e->ke, e->enrolee, e->ct, e->et, e->cred));
    return step_done(st, s);
}

m2m_rc mef_store_enr_add(struct mef_store *st, const struct mef_enr *e)
{
    LOCKED(enr_add_l(st, e));
}

static m2m_rc enr_get_l(struct mef_store *st, const char *relid, struct mef_enr *o)
{
    m2m_rc rc = M2M_OK;
    sqlite3_stmt *s = NULL;
    memset(o, 0, sizeof *o);
    TRY(prep(st, &s, "SELECT ke, enrolee, ct, et, deleted, cred FROM enr WHERE relid=?", "t",
             relid));
    ENSURE(sqlite3_step(s) == SQLITE_ROW, M2M_ERR_NOT_FOUND);
    snprintf(o->relid, sizeof o->relid, "%s", relid);
    o->deleted = sqlite3_column_int(s, 4) != 0;
    const void *k = sqlite3_column_blob(s, 0);
    if (!o->deleted && k != NULL && sqlite3_column_bytes(s, 0) == (int)sizeof o->ke)
        memcpy(o->ke, k, sizeof o->ke);
    col_text(s, 1, o->enrolee, sizeof o->enrolee);
    o->ct = sqlite3_column_int64(s, 2);
    o->et = sqlite3_column_int64(s, 3);
    col_text(s, 5, o->cred, sizeof o->cred);
out:
    sqlite3_finalize(s);
    return rc;
}

m2m_rc mef_store_enr_get(struct mef_store *st, const char *relid, struct mef_enr *out)
{
    LOCKED(enr_get_l(st, relid, out));
}

static m2m_rc enr_delete_l(struct mef_store *st, const char *relid)
{
    sqlite3_stmt *s = NULL;
    RETURN_IF_ERR(prep(st, &s,
                       "UPDATE enr SET ke=zeroblob(32), deleted=1 WHERE relid=? AND deleted=0", "t",
                       relid));
    return step_changed(st, s);
}

m2m_rc mef_store_enr_delete(struct mef_store *st, const char *relid)
{
    LOCKED(enr_delete_l(st, relid));
}

/* ---- client registrations ---- */

static m2m_rc mcr_add_l(struct mef_store *st, const struct mef_mcr *r)
{
    m2m_rc rc = M2M_OK;
    char *lbl = NULL;
    sqlite3_stmt *s = NULL;
    purge_maybe_l(st, r->ct);
    TRY(cap_check(st, st->lim.registrations, "SELECT count(*) FROM mcr WHERE client=? AND et>?",
                  r->client, r->ct));
    TRY(mef_strlist_to_json(&r->lbl, &lbl));
    TRY(prep(st, &s, "INSERT INTO mcr(id,client,fqdn,admin,ct,et,lbl) VALUES(?,?,?,?,?,?,?)",
             "ttttiit", r->id, r->client, r->fqdn, r->admin, r->ct, r->et, lbl));
    rc = step_done(st, s);
out:
    free(lbl);
    return rc;
}

m2m_rc mef_store_mcr_add(struct mef_store *st, const struct mef_mcr *r)
{
    LOCKED(mcr_add_l(st, r));
}

static m2m_rc mcr_get_l(struct mef_store *st, const char *id, struct mef_mcr *o)
{
    m2m_rc rc = M2M_OK;
    sqlite3_stmt *s = NULL;
    memset(o, 0, sizeof *o);
    TRY(prep(st, &s, "SELECT client,fqdn,admin,ct,et,lbl FROM mcr WHERE id=?", "t", id));
    ENSURE(sqlite3_step(s) == SQLITE_ROW, M2M_ERR_NOT_FOUND);
    snprintf(o->id, sizeof o->id, "%s", id);
    col_text(s, 0, o->client, sizeof o->client);
    col_text(s, 1, o->fqdn, sizeof o->fqdn);
    col_text(s, 2, o->admin, sizeof o->admin);
    o->ct = sqlite3_column_int64(s, 3);
    o->et = sqlite3_column_int64(s, 4);
    const char *l = (const char *)sqlite3_column_text(s, 5);
    TRY(mef_strlist_from_json(l ? l : "[]", l ? (size_t)sqlite3_column_bytes(s, 5) : 2, MEF_LBL_MAX,
                              &o->lbl));
out:
    sqlite3_finalize(s);
    return rc;
}

m2m_rc mef_store_mcr_get(struct mef_store *st, const char *id, struct mef_mcr *out)
{
    LOCKED(mcr_get_l(st, id, out));
}

/* Sets one column of one row; NOT_FOUND when the row does not exist. */
static m2m_rc set_col(struct mef_store *st, const char *sql, const char *fmt, const void *v,
                      const char *key)
{
    sqlite3_stmt *s = NULL;
    if (fmt[0] == 'i')
        RETURN_IF_ERR(prep(st, &s, sql, "it", *(const int64_t *)v, key));
    else
        RETURN_IF_ERR(prep(st, &s, sql, "tt", (const char *)v, key));
    return step_changed(st, s);
}

static m2m_rc set_list(struct mef_store *st, const char *sql, const struct mef_strlist *l,
                       const char *key)
{
    char *j = NULL;
    RETURN_IF_ERR(mef_strlist_to_json(l, &j));
    m2m_rc rc = set_col(st, sql, "t", j, key);
    free(j);
    return rc;
}

static m2m_rc mcr_update_l(struct mef_store *st, const char *id, const int64_t *et,
                           const struct mef_strlist *lbl)
{
    m2m_rc rc = M2M_OK;
    TRY(exec(st, "BEGIN IMMEDIATE"));
    if (et != NULL)
        TRY(set_col(st, "UPDATE mcr SET et=? WHERE id=?", "i", et, id));
    if (lbl != NULL)
        TRY(set_list(st, "UPDATE mcr SET lbl=? WHERE id=?", lbl, id));
    TRY(exec(st, "COMMIT"));
    return M2M_OK;
out:
    (void)exec(st, "ROLLBACK");
    return rc;
}

m2m_rc mef_store_mcr_update(struct mef_store *st, const char *id, const int64_t *et,
                            const struct mef_strlist *lbl)
{
    LOCKED(mcr_update_l(st, id, et, lbl));
}

static m2m_rc mcr_delete_l(struct mef_store *st, const char *id)
{
    m2m_rc rc = M2M_OK;
    sqlite3_stmt *s = NULL;
    TRY(exec(st, "BEGIN IMMEDIATE"));
    /* docs/MEF.md: de-registration discards the client's queued commands */
    TRY(prep(st, &s,
             "UPDATE cmd SET state='discarded' WHERE state IN ('queued','issued','reissued')"
             " AND client=(SELECT client FROM mcr WHERE id=?)",
             "t", id));
    TRY(step_done(st, s));
    TRY(prep(st, &s, "DELETE FROM mcr WHERE id=?", "t", id));
    TRY(step_changed(st, s));
    TRY(exec(st, "COMMIT"));
    return M2M_OK;
out:
    (void)exec(st, "ROLLBACK");
    return rc;
}

m2m_rc mef_store_mcr_delete(struct mef_store *st, const char *id)
{
    LOCKED(mcr_delete_l(st, id));
}

/* ---- key registrations ---- */

void mef_mkr_clear(struct mef_mkr *k)
{
    if (k == NULL)
        return;
    mef_strlist_clear(&k->targets);
    mef_strlist_clear(&k->lbl);
    m2m_wipe(k->key, sizeof k->key);
    k->key_len = 0;
}

static m2m_rc mkr_add_l(struct mef_store *st, const struct mef_mkr *k)
{
    m2m_rc rc = M2M_OK;
    char *tg = NULL, *lbl = NULL;
    sqlite3_stmt *s = NULL;
    purge_maybe_l(st, k->ct);
    TRY(cap_check(st, st->lim.keys, "SELECT count(*) FROM mkr WHERE source=? AND et>?", k->source,
                  k->ct));
    TRY(mef_strlist_to_json(&k->targets, &tg));
    TRY(mef_strlist_to_json(&k->lbl, &lbl));
    TRY(prep(st, &s,
             "INSERT INTO mkr(relid,source,admin,suid,targets,lbl,ct,et,key)"
             " VALUES(?,?,?,?,?,?,?,?,?)",
             "tttittiib", k->relid, k->source, k->admin, (int64_t)k->suid, tg, lbl, k->ct, k->et,
             k->key, k->key_len));
    rc = step_done(st, s);
out:
    free(tg);
    free(lbl);
    return rc;
}

m2m_rc mef_store_mkr_add(struct mef_store *st, const struct mef_mkr *k)
{
    LOCKED(mkr_add_l(st, k));
}

static m2m_rc col_list(sqlite3_stmt *s, int i, size_t max, struct mef_strlist *l)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    return mef_strlist_from_json(t ? t : "[]", t ? (size_t)sqlite3_column_bytes(s, i) : 2, max, l);
}

static m2m_rc mkr_get_l(struct mef_store *st, const char *relid, struct mef_mkr *o)
{
    m2m_rc rc = M2M_OK;
    sqlite3_stmt *s = NULL;
    memset(o, 0, sizeof *o);
    TRY(prep(st, &s, "SELECT source,admin,suid,targets,lbl,ct,et,key FROM mkr WHERE relid=?", "t",
             relid));
    ENSURE(sqlite3_step(s) == SQLITE_ROW, M2M_ERR_NOT_FOUND);
    snprintf(o->relid, sizeof o->relid, "%s", relid);
    col_text(s, 0, o->source, sizeof o->source);
    col_text(s, 1, o->admin, sizeof o->admin);
    o->suid = (unsigned)sqlite3_column_int(s, 2);
    TRY(col_list(s, 3, MEF_TARGETS_MAX, &o->targets));
    TRY(col_list(s, 4, MEF_LBL_MAX, &o->lbl));
    o->ct = sqlite3_column_int64(s, 5);
    o->et = sqlite3_column_int64(s, 6);
    size_t n = (size_t)sqlite3_column_bytes(s, 7);
    const void *k = sqlite3_column_blob(s, 7);
    ENSURE(k != NULL && n <= sizeof o->key, M2M_ERR_IO);
    memcpy(o->key, k, n);
    o->key_len = n;
out:
    sqlite3_finalize(s);
    if (rc != M2M_OK)
        mef_mkr_clear(o);
    return rc;
}

m2m_rc mef_store_mkr_get(struct mef_store *st, const char *relid, struct mef_mkr *out)
{
    LOCKED(mkr_get_l(st, relid, out));
}

static m2m_rc mkr_update_l(struct mef_store *st, const char *relid, const int64_t *et,
                           const struct mef_strlist *lbl, const struct mef_strlist *targets)
{
    m2m_rc rc = M2M_OK;
    TRY(exec(st, "BEGIN IMMEDIATE"));
    if (et != NULL)
        TRY(set_col(st, "UPDATE mkr SET et=? WHERE relid=?", "i", et, relid));
    if (lbl != NULL)
        TRY(set_list(st, "UPDATE mkr SET lbl=? WHERE relid=?", lbl, relid));
    if (targets != NULL)
        TRY(set_list(st, "UPDATE mkr SET targets=? WHERE relid=?", targets, relid));
    TRY(exec(st, "COMMIT"));
    return M2M_OK;
out:
    (void)exec(st, "ROLLBACK");
    return rc;
}

m2m_rc mef_store_mkr_update(struct mef_store *st, const char *relid, const int64_t *et,
                            const struct mef_strlist *lbl, const struct mef_strlist *targets)
{
    LOCKED(mkr_update_l(st, relid, et, lbl, targets));
}

static m2m_rc mkr_delete_l(struct mef_store *st, const char *relid)
{
    m2m_rc rc = M2M_OK;
    sqlite3_stmt *s = NULL;
    TRY(exec(st, "BEGIN IMMEDIATE"));
    /* overwrite the key before the row goes (secure_delete clears the freed page) */
    TRY(prep(st, &s, "UPDATE mkr SET key=zeroblob(length(key)) WHERE relid=?", "t", relid));
    TRY(step_changed(st, s));
    TRY(prep(st, &s, "DELETE FROM mkr WHERE relid=?", "t", relid));
    TRY(step_changed(st, s));
    TRY(exec(st, "COMMIT"));
    return M2M_OK;
out:
    (void)exec(st, "ROLLBACK");
    return rc;
}

m2m_rc mef_store_mkr_delete(struct mef_store *st, const char *relid)
{
    LOCKED(mkr_delete_l(st, relid));
}

/* ---- commands ---- */

/* The client's one NO_MORE_COMMANDS row, refreshed; NOT_FOUND when it has none yet. */
static m2m_rc cmd_nomore_reuse_l(struct mef_store *st, const char *client, const char *desc,
                                 int64_t *id)
{
    m2m_rc rc = M2M_OK;
    sqlite3_stmt *s = NULL;
    TRY(prep(st, &s, "SELECT id FROM cmd WHERE client=? AND class=? ORDER BY id LIMIT 1", "ti",
             client, (int64_t)MEF_CMD_NO_MORE));
    ENSURE(sqlite3_step(s) == SQLITE_ROW, M2M_ERR_NOT_FOUND);
    int64_t found = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    s = NULL;
    TRY(prep(st, &s, "UPDATE cmd SET args=?, state='nomore', status=0, ct=? WHERE id=?", "tii",
             desc, now_s(), found));
    TRY(step_done(st, s));
    s = NULL;
    if (id != NULL)
        *id = found;
out:
    sqlite3_finalize(s);
    return rc;
}

static m2m_rc cmd_add_l(struct mef_store *st, const char *client, int cls, const char *desc,
                        int64_t *id)
{
    sqlite3_stmt *s = NULL;
    /* a NO_MORE_COMMANDS answer never blocks the queue, and one row per client serves them
     * all: polling an empty queue does not grow the store (docs/MEF.md "Limits") */
    if (cls == MEF_CMD_NO_MORE) {
        m2m_rc rc = cmd_nomore_reuse_l(st, client, desc, id);
        if (rc != M2M_ERR_NOT_FOUND)
            return rc;
    } else {
        purge_maybe_l(st, now_s());
    }
    RETURN_IF_ERR(prep(st, &s, "INSERT INTO cmd(client,class,args,state,ct) VALUES(?,?,?,?,?)",
                       "titti", client, (int64_t)cls, desc,
                       cls == MEF_CMD_NO_MORE ? "nomore" : "queued", now_s()));
    RETURN_IF_ERR(step_done(st, s));
    if (id != NULL)
        *id = sqlite3_last_insert_rowid(st->db);
    return M2M_OK;
}

m2m_rc mef_store_cmd_add(struct mef_store *st, const char *client, int cls, const char *desc,
                         int64_t *cmd_id)
{
    LOCKED(cmd_add_l(st, client, cls, desc, cmd_id));
}

static m2m_rc cmd_current_l(struct mef_store *st, const char *client, int64_t *id, int *status,
                            char **desc)
{
    m2m_rc rc = M2M_OK;
    sqlite3_stmt *s = NULL;
    char state[16];
    *desc = NULL;
    TRY(exec(st, "BEGIN IMMEDIATE"));
    TRY(prep(st, &s,
             "SELECT id, state, args FROM cmd WHERE client=? AND state IN"
             " ('queued','issued','reissued') ORDER BY id LIMIT 1",
             "t", client));
    ENSURE(sqlite3_step(s) == SQLITE_ROW, M2M_ERR_NOT_FOUND);
    *id = sqlite3_column_int64(s, 0);
    col_text(s, 1, state, sizeof state);
    *desc = strdup((const char *)sqlite3_column_text(s, 2));
    ENSURE_NONNULL(*desc);
    sqlite3_finalize(s);
    s = NULL;
    /* TS-0003 8.3.9.2: ISSUED the first time, REISSUED while no status was reported */
    *status = strcmp(state, "queued") == 0 ? MEF_CMD_ISSUED : MEF_CMD_REISSUED;
    TRY(prep(st, &s, "UPDATE cmd SET state=? WHERE id=?", "ti",
             *status == MEF_CMD_ISSUED ? "issued" : "reissued", *id));
    TRY(step_done(st, s));
    s = NULL;
    TRY(exec(st, "COMMIT"));
out:
    sqlite3_finalize(s);
    if (rc != M2M_OK) {
        (void)exec(st, "ROLLBACK");
        free(*desc);
        *desc = NULL;
    }
    return rc;
}

m2m_rc mef_store_cmd_current(struct mef_store *st, const char *client, int64_t *cmd_id, int *status,
                             char **desc)
{
    LOCKED(cmd_current_l(st, client, cmd_id, status, desc));
}

static m2m_rc cmd_report_l(struct mef_store *st, const char *client, int64_t id, int status)
{
    sqlite3_stmt *s = NULL;
    RETURN_IF_ERR(prep(st, &s,
                       "UPDATE cmd SET state='reported', status=? WHERE id=? AND client=? AND"
                       " state IN ('issued','reissued','nomore')",
                       "iit", (int64_t)status, id, client));
    return step_changed(st, s);
}

m2m_rc mef_store_cmd_report(struct mef_store *st, const char *client, int64_t cmd_id, int status)
{
    LOCKED(cmd_report_l(st, client, cmd_id, status));
}

/* Walks the client's issued, not yet reported CERT_PROV commands, newest first: with want !=
 * NULL stops at the one naming want; else copies the first subject into out. */
static m2m_rc subject_find_l(struct mef_store *st, const char *client, const char *want, char *out,
                             size_t cap)
{
    sqlite3_stmt *s = NULL;
    char sub[MEF_ID_MAX + 1];
    m2m_rc rc = M2M_ERR_NOT_FOUND;
    RETURN_IF_ERR(prep(st, &s,
                       "SELECT args FROM cmd WHERE client=? AND class=? AND state IN"
                       " ('issued','reissued') ORDER BY id DESC",
                       "ti", client, (int64_t)MEF_CMD_CERT_PROV));
    while (rc == M2M_ERR_NOT_FOUND && sqlite3_step(s) == SQLITE_ROW) {
        const char *a = (const char *)sqlite3_column_text(s, 0);
        if (a == NULL)
            continue;
        sub[0] = 0;
        mef_cmd_desc_subject(a, (size_t)sqlite3_column_bytes(s, 0), sub, sizeof sub);
        if (sub[0] == 0 || (want != NULL && strcmp(sub, want) != 0))
            continue;
        if (out != NULL)
            snprintf(out, cap, "%s", sub);
        rc = M2M_OK;
    }
    sqlite3_finalize(s);
    return rc;
}

m2m_rc mef_store_cert_subject_ok(struct mef_store *st, const char *client, const char *san)
{
    LOCKED(subject_find_l(st, client, san, NULL, 0));
}

m2m_rc mef_store_cert_subject_latest(struct mef_store *st, const char *client, char *san,
                                     size_t cap)
{
    LOCKED(subject_find_l(st, client, NULL, san, cap));
}

/* ---- certificates ---- */

static m2m_rc cert_add_l(struct mef_store *st, const char *serial, const char *san, const char *fp,
                         const char *client)
{
    sqlite3_stmt *s = NULL;
    RETURN_IF_ERR(prep(st, &s,
                       "INSERT INTO cert(serial,san,fingerprint,client,ct) VALUES(?,?,?,?,?)",
                       "tttti", serial, san, fp, client, now_s()));
    return step_done(st, s);
}

m2m_rc mef_store_cert_add(struct mef_store *st, const char *serial, const char *san,
                          const char *fingerprint, const char *client)
{
    LOCKED(cert_add_l(st, serial, san, fingerprint, client));
}

static m2m_rc cert_san_l(struct mef_store *st, const char *fp, char *san, size_t cap)
{
    m2m_rc rc = M2M_OK;
    sqlite3_stmt *s = NULL;
    TRY(prep(st, &s, "SELECT san FROM cert WHERE fingerprint=? AND revoked=0", "t", fp));
    ENSURE(sqlite3_step(s) == SQLITE_ROW, M2M_ERR_NOT_FOUND);
    col_text(s, 0, san, cap);
out:
    sqlite3_finalize(s);
    return rc;
}

m2m_rc mef_store_cert_san(struct mef_store *st, const char *fingerprint, char *san, size_t cap)
{
    LOCKED(cert_san_l(st, fingerprint, san, cap));
}

m2m_rc mef_store_cert_quota(struct mef_store *st, const char *client, int64_t now)
{
    pthread_mutex_lock(&st->mu);
    m2m_rc rc = cap_check(st, st->lim.certs_per_day,
                          "SELECT count(*) FROM cert WHERE client=? AND ct>?", client, now - 86400);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bool mef_store_cert_revoked(struct mef_store *st, const char *fingerprint)
{
    sqlite3_stmt *s = NULL;
    bool r = false;
    pthread_mutex_lock(&st->mu);
    if (prep(st, &s, "SELECT 1 FROM cert WHERE fingerprint=? AND revoked=1 LIMIT 1", "t",
             fingerprint) == M2M_OK)
        r = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->mu);
    return r;
}

/* Revokes the certificate with serial or fingerprint hex (lower case, no separators). */
static m2m_rc cert_revoke_l(struct mef_store *st, const char *hex)
{
    sqlite3_stmt *s = NULL;
    RETURN_IF_ERR(prep(st, &s,
                       "UPDATE cert SET revoked=1 WHERE revoked=0 AND (lower(serial)=?1 OR"
                       " fingerprint=?1)",
                       "t", hex));
    return step_changed(st, s);
}

/* A serial or fingerprint as typed ("AB:CD..", "abcd..") to lower-case hex; false when it is
 * not hex. */
static bool cert_hex(const char *what, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = what; *p; p++) {
        char ch = *p;
        if (ch == ':')
            continue;
        if (ch >= 'A' && ch <= 'F')
            ch = (char)(ch - 'A' + 'a');
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')) || n + 1 >= cap)
            return false;
        out[n++] = ch;
    }
    out[n] = 0;
    return n > 0;
}

/* ---- administration ---- */

static const char *const LIST_SQL[] = {
    [MEF_LIST_KPM] = "SELECT kpmid, identity, CASE revoked WHEN 0 THEN 'active' ELSE 'revoked'"
                     " END, length(key) || ' bytes' FROM kpm ORDER BY kpmid",
    [MEF_LIST_TARGETS] = "SELECT t.id, t.fqdn, ifnull(group_concat(a.enrolee || ':' || a.suid,"
                         " ','), '-') FROM target t LEFT JOIN allow a ON a.target = t.id"
                         " GROUP BY t.id ORDER BY t.id",
    [MEF_LIST_ENROLMENTS] = "SELECT relid, enrolee, et, CASE deleted WHEN 0 THEN 'active' ELSE"
                            " 'deleted' END FROM enr ORDER BY ct",
    [MEF_LIST_REGISTRATIONS] = "SELECT id, client, admin, et FROM mcr ORDER BY ct",
    [MEF_LIST_KEYS] = "SELECT relid, source, suid, targets FROM mkr ORDER BY ct",
    [MEF_LIST_COMMANDS] = "SELECT id, client, class, state, status FROM cmd ORDER BY id",
    [MEF_LIST_CERTS] = "SELECT serial, san, fingerprint, client, CASE revoked WHEN 0 THEN"
                       " 'active' ELSE 'revoked' END FROM cert ORDER BY ct",
};

static m2m_rc list_l(struct mef_store *st, enum mef_list_what what, FILE *f)
{
    sqlite3_stmt *s = NULL;
    if ((size_t)what >= M2M_ARRAY_LEN(LIST_SQL))
        return M2M_ERR_INTERNAL;
    RETURN_IF_ERR(prep(st, &s, LIST_SQL[what], ""));
    while (sqlite3_step(s) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(s); i++) {
            const unsigned char *t = sqlite3_column_text(s, i);
            fprintf(f, "%s%s", i ? "\t" : "", t ? (const char *)t : "");
        }
        fputc('\n', f);
    }
    sqlite3_finalize(s);
    return M2M_OK;
}

m2m_rc mef_store_list(struct mef_store *st, enum mef_list_what what, FILE *f)
{
    LOCKED(list_l(st, what, f));
}

m2m_rc mef_store_revoke(struct mef_store *st, const char *what)
{
    char rel[MEF_RELID_LEN + 1];
    size_t n = strnlen(what, MEF_ID_MAX + 1);
    if (n > MEF_ID_MAX)
        return M2M_ERR_MALFORMED;
    if (mef_store_kpm_revoke(st, what) == M2M_OK)
        return M2M_OK;
    /* a KeID "<relid>@<fqdn>" names the enrolment by its relative part */
    snprintf(rel, sizeof rel, "%.*s", MEF_RELID_LEN, what);
    for (size_t i = 0; i < MEF_RELID_LEN && rel[i] != 0; i++)
        if (rel[i] >= 'a' && rel[i] <= 'f')
            rel[i] = (char)(rel[i] - 'a' + 'A');
    if ((n == MEF_RELID_LEN || (n > MEF_RELID_LEN && what[MEF_RELID_LEN] == '@')) &&
        mef_store_enr_delete(st, rel) == M2M_OK)
        return M2M_OK;
    if (mef_store_mcr_delete(st, what) == M2M_OK)
        return M2M_OK;
    if (mef_store_mkr_delete(st, what) == M2M_OK)
        return M2M_OK;
    char hex[MEF_ID_MAX + 1];
    if (!cert_hex(what, hex, sizeof hex))
        return M2M_ERR_NOT_FOUND;
    LOCKED(cert_revoke_l(st, hex));
}
