/* credstore.c: the SAEF credential database (SQLite file, mode 0600) and its in-memory index for
 * handshakes: PSKs by KpsaID, raw public keys by RFC 6920 identifier, Node-ID/device bindings by
 * URN; revocation and the generation counter that ends live sessions. */
#include "keys/credstore.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hmap.h"
#include "base/log.h"
#include "base/secret.h"
#include "tls/tls.h"

/* One credential of the index. The key lives in an m2m_secret (wiped on free). */
struct cred_entry {
    enum cred_kind kind;
    bool revoked;
    struct m2m_secret *key; /* PSK only, NULL once revoked */
    struct cred_binding b;  /* b.cred_id is the Credential-ID */
};

/* The index is rebuilt as a whole when the database changed (credentials change rarely; a
 * lookup is one hash probe). `mu` guards everything below it, including the SQLite handle. */
struct credstore {
    pthread_mutex_t mu;
    sqlite3 *db;
    sqlite3_stmt *st_dv; /* PRAGMA data_version: changes when another connection commits */
    int64_t data_version;
    uint64_t generation;
    struct hmap *by_name; /* PSK identity / ni id / URN -> entry */
    struct hmap *by_id;   /* Credential-ID -> entry */
    struct cred_entry **ents;
    size_t n_ents;
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS cred("
    " id TEXT PRIMARY KEY, kind INTEGER NOT NULL, name TEXT NOT NULL UNIQUE,"
    " secret BLOB, pub BLOB, revoked INTEGER NOT NULL DEFAULT 0,"
    " created INTEGER NOT NULL, revoked_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS cred_bind("
    " id TEXT NOT NULL REFERENCES cred(id), pos INTEGER NOT NULL, entity TEXT NOT NULL,"
    " PRIMARY KEY(id, pos));";

/* ---- validation ---- */

static bool fqdn_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '-';
}

bool credstore_kpsaid_valid(const char *id, size_t len)
{
    size_t at = len;
    if (id == NULL || len == 0 || len >= M2M_ID_MAX - 4)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = id[i];
        if (ch == '@' && at == len) {
            at = i;
            continue;
        }
        if (!fqdn_char(ch) && !(at == len && ch == '_'))
            return false;
    }
    /* TS-0003 10.5: relative part and issuer FQDN are both non-empty. */
    return at > 0 && at + 1 < len;
}

bool credstore_bind_valid(const char *id)
{
    size_t n = id ? strnlen(id, M2M_ID_MAX) : 0;
    if (n == 0 || n >= M2M_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)id[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '*')
            return false;
    }
    return true;
}

/* ---- index ---- */

static void entry_free(struct cred_entry *e)
{
    if (e == NULL)
        return;
    m2m_secret_free(e->key);
    m2m_wipe(e, sizeof *e);
    free(e);
}

struct index {
    struct hmap *by_name, *by_id;
    struct cred_entry **ents;
    size_t n, cap;
};

static void index_clear(struct index *x)
{
    hmap_free(x->by_name);
    hmap_free(x->by_id);
    for (size_t i = 0; i < x->n; i++)
        entry_free(x->ents[i]);
    free(x->ents);
    memset(x, 0, sizeof *x);
}

static m2m_rc index_add(struct index *x, struct cred_entry *e, const char *name)
{
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 16;
        struct cred_entry **n = realloc(x->ents, cap * sizeof *n);
        if (n == NULL)
            return M2M_ERR_NOMEM;
        x->ents = n;
        x->cap = cap;
    }
    x->ents[x->n++] = e;
    RETURN_IF_ERR(hmap_put(x->by_name, name, e));
    return hmap_put(x->by_id, e->b.cred_id, e);
}

/* One row of `cred` into a new entry. */
static m2m_rc row_entry(sqlite3_stmt *st, struct index *x)
{
    m2m_rc rc = M2M_OK;
    struct cred_entry *e = calloc(1, sizeof *e);
    ENSURE_NONNULL(e);
    const char *id = (const char *)sqlite3_column_text(st, 0);
    const char *name = (const char *)sqlite3_column_text(st, 2);
    ENSURE(id != NULL && name != NULL, M2M_ERR_MALFORMED);
    snprintf(e->b.cred_id, sizeof e->b.cred_id, "%s", id);
    e->kind = (enum cred_kind)sqlite3_column_int(st, 1);
    e->revoked = sqlite3_column_int(st, 4) != 0;
    const void *k = sqlite3_column_blob(st, 3);
    int kl = sqlite3_column_bytes(st, 3);
    if (e->kind == CRED_PSK && !e->revoked && k != NULL && kl > 0 && kl <= CRED_PSK_MAX)
        TRY(m2m_secret_new(k, (size_t)kl, &e->key));
    TRY(index_add(x, e, name));
    e = NULL;
out:
    entry_free(e);
    return rc;
}

static m2m_rc load_bindings(sqlite3 *db, struct index *x)
{
    m2m_rc rc = M2M_OK;
    sqlite3_stmt *st = NULL;
    ENSURE(sqlite3_prepare_v2(db, "SELECT id, pos, entity FROM cred_bind", -1, &st, NULL) ==
               SQLITE_OK,
           M2M_ERR_IO);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        struct cred_entry *e = id ? hmap_get(x->by_id, id) : NULL;
        int pos = sqlite3_column_int(st, 1);
        const char *ent = (const char *)sqlite3_column_text(st, 2);
        if (e == NULL || ent == NULL || pos < 0 || pos >= CRED_MAX_BIND)
            continue;
        char *dst = pos == 0 ? e->b.identity : e->b.bound[pos - 1];
        snprintf(dst, M2M_ID_MAX, "%s", ent);
        if (pos > 0 && pos > e->b.n_bound)
            e->b.n_bound = pos;
    }
    ENSURE(r == SQLITE_DONE, M2M_ERR_IO);
out:
    sqlite3_finalize(st);
    return rc;
}

/* Rebuilds the index from the database; on failure the old index stays. Caller holds mu. */
static m2m_rc reload_locked(struct credstore *cs)
{
    m2m_rc rc = M2M_OK;
    struct index x = {0};
    sqlite3_stmt *st = NULL;
    TRY(hmap_new(64, &x.by_name));
    TRY(hmap_new(64, &x.by_id));
    ENSURE(sqlite3_prepare_v2(cs->db, "SELECT id, kind, name, secret, revoked FROM cred", -1, &st,
                              NULL) == SQLITE_OK,
           M2M_ERR_IO);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        TRY(row_entry(st, &x));
    ENSURE(r == SQLITE_DONE, M2M_ERR_IO);
    TRY(load_bindings(cs->db, &x));
    struct index old = {cs->by_name, cs->by_id, cs->ents, cs->n_ents, cs->n_ents};
    cs->by_name = x.by_name;
    cs->by_id = x.by_id;
    cs->ents = x.ents;
    cs->n_ents = x.n;
    memset(&x, 0, sizeof x);
    index_clear(&old);
    cs->generation++;
out:
    sqlite3_finalize(st);
    index_clear(&x);
    if (rc != M2M_OK)
        log_error("credstore: cannot load credentials: %s", sqlite3_errmsg(cs->db));
    return rc;
}

/* The cheap change check before each use: PRAGMA data_version changes only when another
 * connection (e.g. `m2msec cred revoke`) committed. Caller holds mu. */
static void refresh_locked(struct credstore *cs)
{
    if (sqlite3_reset(cs->st_dv) != SQLITE_OK || sqlite3_step(cs->st_dv) != SQLITE_ROW)
        return;
    int64_t dv = sqlite3_column_int64(cs->st_dv, 0);
    sqlite3_reset(cs->st_dv);
    if (dv != cs->data_version && reload_locked(cs) == M2M_OK)
        cs->data_version = dv;
}

/* ---- open / close ---- */

/* Creates the file with mode 0600 (or narrows an existing one) before SQLite opens it. */
static m2m_rc prepare_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        log_error("credstore: cannot open %s: %s", path, strerror(errno));
        return M2M_ERR_IO;
    }
    struct stat st;
    m2m_rc rc = M2M_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = M2M_ERR_IO;
    else if ((st.st_mode & 077) != 0 && fchmod(fd, 0600) != 0)
        rc = M2M_ERR_IO;
    close(fd);
    return rc;
}

m2m_rc credstore_open(const char *path, struct credstore **out)
{
    m2m_rc rc = M2M_OK;
    *out = NULL;
    struct credstore *cs = calloc(1, sizeof *cs);
    ENSURE_NONNULL(cs);
    ENSURE(pthread_mutex_init(&cs->mu, NULL) == 0, M2M_ERR_INTERNAL);
    cs->data_version = -1;
    TRY(prepare_file(path));
    ENSURE(sqlite3_open_v2(path, &cs->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) ==
               SQLITE_OK,
           M2M_ERR_IO);
    sqlite3_busy_timeout(cs->db, 5000);
    /* Revoked keys are overwritten on disk, not just unlinked from the b-tree. */
    ENSURE(sqlite3_exec(cs->db, "PRAGMA secure_delete=ON; PRAGMA foreign_keys=ON;", NULL, NULL,
                        NULL) == SQLITE_OK,
           M2M_ERR_IO);
    ENSURE(sqlite3_exec(cs->db, SCHEMA, NULL, NULL, NULL) == SQLITE_OK, M2M_ERR_IO);
    ENSURE(sqlite3_prepare_v2(cs->db, "PRAGMA data_version", -1, &cs->st_dv, NULL) == SQLITE_OK,
           M2M_ERR_IO);
    pthread_mutex_lock(&cs->mu);
    refresh_locked(cs);
    bool loaded = cs->by_name != NULL;
    pthread_mutex_unlock(&cs->mu);
    ENSURE(loaded, M2M_ERR_IO);
    *out = cs;
    cs = NULL;
out:
    if (rc != M2M_OK && cs != NULL && cs->db != NULL)
        log_error("credstore: %s: %s", path, sqlite3_errmsg(cs->db));
    credstore_close(cs);
    return rc;
}

void credstore_close(struct credstore *cs)
{
    if (cs == NULL)
        return;
    struct index x = {cs->by_name, cs->by_id, cs->ents, cs->n_ents, cs->n_ents};
    index_clear(&x);
    sqlite3_finalize(cs->st_dv);
    sqlite3_close(cs->db);
    pthread_mutex_destroy(&cs->mu);
    free(cs);
}

/* ---- lookups ---- */

static bool usable(const struct cred_entry *e, enum cred_kind kind)
{
    return e != NULL && e->kind == kind && !e->revoked;
}

m2m_rc credstore_psk_lookup(struct credstore *cs, const char *identity, size_t idlen, uint8_t *key,
                            size_t *keylen, struct cred_binding *b)
{
    m2m_rc rc = M2M_OK;
    if (identity == NULL || idlen == 0 || idlen >= M2M_ID_MAX ||
        memchr(identity, '\0', idlen) != NULL)
        return M2M_ERR_NOT_FOUND;
    pthread_mutex_lock(&cs->mu);
    refresh_locked(cs);
    const struct cred_entry *e = hmap_getn(cs->by_name, identity, idlen);
    ENSURE(usable(e, CRED_PSK) && e->key != NULL, M2M_ERR_NOT_FOUND);
    ENSURE(*keylen >= e->key->len, M2M_ERR_LIMIT);
    memcpy(key, e->key->data, e->key->len);
    *keylen = e->key->len;
    *b = e->b;
out:
    pthread_mutex_unlock(&cs->mu);
    return rc;
}

static m2m_rc lookup_kind(struct credstore *cs, const char *name, enum cred_kind kind,
                          struct cred_binding *b)
{
    m2m_rc rc = M2M_OK;
    if (name == NULL)
        return M2M_ERR_NOT_FOUND;
    pthread_mutex_lock(&cs->mu);
    refresh_locked(cs);
    const struct cred_entry *e = hmap_get(cs->by_name, name);
    ENSURE(e != NULL && e->kind == kind, M2M_ERR_NOT_FOUND);
    ENSURE(!e->revoked, M2M_ERR_DENIED);
    *b = e->b;
out:
    pthread_mutex_unlock(&cs->mu);
    return rc;
}

m2m_rc credstore_rpk_lookup(struct credstore *cs, const char *ni_id, struct cred_binding *b)
{
    m2m_rc rc = lookup_kind(cs, ni_id, CRED_RPK, b);
    return rc == M2M_ERR_DENIED ? M2M_ERR_NOT_FOUND : rc;
}

m2m_rc credstore_node_lookup(struct credstore *cs, const char *urn, struct cred_binding *b)
{
    m2m_rc rc = lookup_kind(cs, urn, CRED_NODE, b);
    return rc == M2M_ERR_NOT_FOUND ? lookup_kind(cs, urn, CRED_DEVICE, b) : rc;
}

bool credstore_is_revoked(struct credstore *cs, const char *cred_id)
{
    if (cs == NULL || cred_id == NULL || cred_id[0] == '\0')
        return false;
    pthread_mutex_lock(&cs->mu);
    const struct cred_entry *e = hmap_get(cs->by_id, cred_id);
    bool r = e != NULL && e->revoked;
    pthread_mutex_unlock(&cs->mu);
    return r;
}

uint64_t credstore_generation(struct credstore *cs)
{
    pthread_mutex_lock(&cs->mu);
    refresh_locked(cs);
    uint64_t g = cs->generation;
    pthread_mutex_unlock(&cs->mu);
    return g;
}

/* ---- administration ---- */

struct new_cred {
    enum cred_kind kind;
    const char *id, *name;
    const uint8_t *secret, *pub;
    size_t secret_len, pub_len;
};

static m2m_rc bind_rows(sqlite3 *db, const char *id, const char *const *bind, int n)
{
    m2m_rc rc = M2M_OK;
    sqlite3_stmt *st = NULL;
    ENSURE(sqlite3_prepare_v2(db, "INSERT INTO cred_bind(id, pos, entity) VALUES(?1, ?2, ?3)", -1,
                              &st, NULL) == SQLITE_OK,
           M2M_ERR_IO);
    for (int i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, i);
        sqlite3_bind_text(st, 3, bind[i], -1, SQLITE_STATIC);
        ENSURE(sqlite3_step(st) == SQLITE_DONE, M2M_ERR_IO);
    }
out:
    sqlite3_finalize(st);
    return rc;
}

/* Inserts a credential and its bindings in one transaction. Caller holds mu. */
static m2m_rc insert_locked(struct credstore *cs, const struct new_cred *c, const char *const *bind,
                            int n)
{
    m2m_rc rc = M2M_OK;
    sqlite3_stmt *st = NULL;
    bool in_tx = false;
    ENSURE(sqlite3_exec(cs->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK, M2M_ERR_IO);
    in_tx = true;
    ENSURE(sqlite3_prepare_v2(cs->db,
                              "INSERT INTO cred(id, kind, name, secret, pub, created) "
                              "VALUES(?1, ?2, ?3, ?4, ?5, strftime('%s','now'))",
                              -1, &st, NULL) == SQLITE_OK,
           M2M_ERR_IO);
    sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, (int)c->kind);
    sqlite3_bind_text(st, 3, c->name, -1, SQLITE_STATIC);
    if (c->secret)
        sqlite3_bind_blob(st, 4, c->secret, (int)c->secret_len, SQLITE_STATIC);
    if (c->pub)
        sqlite3_bind_blob(st, 5, c->pub, (int)c->pub_len, SQLITE_STATIC);
    int r = sqlite3_step(st);
    ENSURE(r != SQLITE_CONSTRAINT, M2M_ERR_EXISTS);
    ENSURE(r == SQLITE_DONE, M2M_ERR_IO);
    TRY(bind_rows(cs->db, c->id, bind, n));
    ENSURE(sqlite3_exec(cs->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK, M2M_ERR_IO);
    in_tx = false;
    TRY(reload_locked(cs));
out:
    sqlite3_finalize(st);
    if (in_tx)
        (void)sqlite3_exec(cs->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static m2m_rc add_cred(struct credstore *cs, const struct new_cred *c, const char *const *bind,
                       int n, char *cred_id, size_t cred_id_len)
{
    if (n < 1 || n > CRED_MAX_BIND || bind == NULL)
        return M2M_ERR_MALFORMED;
    for (int i = 0; i < n; i++)
        if (!credstore_bind_valid(bind[i]))
            return M2M_ERR_MALFORMED;
    if (cred_id != NULL && snprintf(cred_id, cred_id_len, "%s", c->id) >= (int)cred_id_len)
        return M2M_ERR_LIMIT;
    pthread_mutex_lock(&cs->mu);
    refresh_locked(cs);
    m2m_rc rc = insert_locked(cs, c, bind, n);
    pthread_mutex_unlock(&cs->mu);
    if (rc == M2M_ERR_IO)
        log_error("credstore: cannot add %s: %s", c->id, sqlite3_errmsg(cs->db));
    return rc;
}

m2m_rc credstore_add_psk(struct credstore *cs, const char *identity, const uint8_t *key,
                         size_t keylen, const char *const *bind, int n_bind, char *cred_id,
                         size_t cred_id_len)
{
    char id[M2M_ID_MAX];
    if (identity == NULL || !credstore_kpsaid_valid(identity, strlen(identity)) ||
        keylen < CRED_PSK_MIN || keylen > CRED_PSK_MAX || key == NULL)
        return M2M_ERR_MALFORMED;
    /* TS-0003 8.2.2.1 / 10.4: the Credential-ID of a KpsaID has type 12 (SAEF symmetric key). */
    snprintf(id, sizeof id, "%d-%s", CRED_TYPE_SAEF_PSK, identity);
    struct new_cred c = {
        .kind = CRED_PSK, .id = id, .name = identity, .secret = key, .secret_len = keylen};
    return add_cred(cs, &c, bind, n_bind, cred_id, cred_id_len);
}

/* F8: raw public keys are ECDSA P-256. Re-exports the key so that the stored DER (and hence
 * its identifier) is the canonical encoding. */
static m2m_rc spki_check(const uint8_t *spki, size_t len, gnutls_datum_t *der)
{
    m2m_rc rc = M2M_OK;
    gnutls_pubkey_t pk = NULL;
    gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
    gnutls_datum_t in = {(unsigned char *)spki, (unsigned)len}, x = {0}, y = {0};
    ENSURE(spki != NULL && len > 0 && len < 4096, M2M_ERR_MALFORMED);
    ENSURE(gnutls_pubkey_init(&pk) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_pubkey_import(pk, &in, GNUTLS_X509_FMT_DER) >= 0, M2M_ERR_MALFORMED);
    ENSURE(gnutls_pubkey_get_pk_algorithm(pk, NULL) == GNUTLS_PK_ECDSA, M2M_ERR_MALFORMED);
    ENSURE(gnutls_pubkey_export_ecc_raw(pk, &curve, &x, &y) >= 0 &&
               curve == GNUTLS_ECC_CURVE_SECP256R1,
           M2M_ERR_MALFORMED);
    ENSURE(gnutls_pubkey_export2(pk, GNUTLS_X509_FMT_DER, der) >= 0, M2M_ERR_MALFORMED);
out:
    gnutls_free(x.data);
    gnutls_free(y.data);
    gnutls_pubkey_deinit(pk);
    return rc;
}

m2m_rc credstore_add_rpk(struct credstore *cs, const uint8_t *spki, size_t len,
                         const char *const *bind, int n_bind, char *cred_id, size_t cred_id_len)
{
    m2m_rc rc = M2M_OK;
    gnutls_datum_t der = {NULL, 0};
    char ni[TLS_NI_ID_MAX], id[M2M_ID_MAX];
    TRY(spki_check(spki, len, &der));
    TRY(tls_rpk_ni_id(der.data, der.size, ni, sizeof ni));
    /* TS-0003 8.2.2.2 / 10.4: raw public key used in TLS, type 30, value = its identifier. */
    snprintf(id, sizeof id, "%d-%s", CRED_TYPE_RPK, ni);
    struct new_cred c = {
        .kind = CRED_RPK, .id = id, .name = ni, .pub = der.data, .pub_len = der.size};
    rc = add_cred(cs, &c, bind, n_bind, cred_id, cred_id_len);
out:
    gnutls_free(der.data);
    return rc;
}

m2m_rc credstore_add_node(struct credstore *cs, enum cred_kind kind, const char *urn,
                          const char *const *bind, int n_bind, char *cred_id, size_t cred_id_len)
{
    char id[M2M_ID_MAX];
    if ((kind != CRED_NODE && kind != CRED_DEVICE) || urn == NULL || strncmp(urn, "urn:", 4) != 0 ||
        !credstore_bind_valid(urn) || strlen(urn) >= M2M_ID_MAX - 4)
        return M2M_ERR_MALFORMED;
    snprintf(id, sizeof id, "%d-%s",
             kind == CRED_NODE ? CRED_TYPE_NODE_CERT : CRED_TYPE_DEVICE_CERT, urn);
    struct new_cred c = {.kind = kind, .id = id, .name = urn};
    return add_cred(cs, &c, bind, n_bind, cred_id, cred_id_len);
}

m2m_rc credstore_revoke(struct credstore *cs, const char *id)
{
    m2m_rc rc = M2M_OK;
    sqlite3_stmt *st = NULL;
    char cred_id[M2M_ID_MAX];
    if (id == NULL || id[0] == '\0')
        return M2M_ERR_NOT_FOUND;
    pthread_mutex_lock(&cs->mu);
    /* A Credential-ID first, then a name: a name that spells another credential's Credential-ID
     * (KpsaID "12-x@fqdn" next to "12-x@fqdn" of "x@fqdn") never takes both down. */
    refresh_locked(cs);
    const struct cred_entry *e = hmap_get(cs->by_id, id);
    if (e == NULL)
        e = hmap_get(cs->by_name, id);
    ENSURE(e != NULL, M2M_ERR_NOT_FOUND);
    snprintf(cred_id, sizeof cred_id, "%s", e->b.cred_id);
    if (e->revoked)
        goto out; /* already revoked */
    ENSURE(sqlite3_prepare_v2(cs->db,
                              "UPDATE cred SET revoked = 1, secret = NULL, "
                              "revoked_at = strftime('%s','now') WHERE id = ?1 AND revoked = 0",
                              -1, &st, NULL) == SQLITE_OK,
           M2M_ERR_IO);
    sqlite3_bind_text(st, 1, cred_id, -1, SQLITE_STATIC);
    ENSURE(sqlite3_step(st) == SQLITE_DONE, M2M_ERR_IO);
    TRY(reload_locked(cs));
    log_info("credstore: revoked %s", cred_id);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&cs->mu);
    return rc;
}

static void info_from_row(sqlite3_stmt *st, struct cred_info *ci)
{
    memset(ci, 0, sizeof *ci);
    const char *id = (const char *)sqlite3_column_text(st, 0);
    const char *name = (const char *)sqlite3_column_text(st, 2);
    snprintf(ci->cred_id, sizeof ci->cred_id, "%s", id ? id : "");
    snprintf(ci->b.cred_id, sizeof ci->b.cred_id, "%s", id ? id : "");
    ci->kind = (enum cred_kind)sqlite3_column_int(st, 1);
    snprintf(ci->name, sizeof ci->name, "%s", name ? name : "");
    ci->key_len = (size_t)sqlite3_column_int(st, 3);
    ci->revoked = sqlite3_column_int(st, 4) != 0;
    ci->created_s = sqlite3_column_int64(st, 5);
    ci->revoked_s = sqlite3_column_int64(st, 6);
}

m2m_rc credstore_list(struct credstore *cs, void (*fn)(void *ctx, const struct cred_info *ci),
                      void *ctx)
{
    m2m_rc rc = M2M_OK;
    sqlite3_stmt *st = NULL;
    struct cred_info ci;
    pthread_mutex_lock(&cs->mu);
    refresh_locked(cs);
    ENSURE(sqlite3_prepare_v2(cs->db,
                              "SELECT id, kind, name, length(secret), revoked, created, "
                              "revoked_at FROM cred ORDER BY id",
                              -1, &st, NULL) == SQLITE_OK,
           M2M_ERR_IO);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        info_from_row(st, &ci);
        const struct cred_entry *e = hmap_get(cs->by_id, ci.cred_id);
        if (e != NULL)
            ci.b = e->b;
        fn(ctx, &ci);
    }
    ENSURE(r == SQLITE_DONE, M2M_ERR_IO);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&cs->mu);
    return rc;
}

/* ---- the transport's hooks ---- */

static void binding_to_sec(const struct cred_binding *b, struct m2m_secctx *sec)
{
    memcpy(sec->identity, b->identity, sizeof sec->identity);
    memcpy(sec->cred_id, b->cred_id, sizeof sec->cred_id);
    memcpy(sec->bound, b->bound, sizeof sec->bound);
    sec->n_bound = b->n_bound;
}

static m2m_rc hook_psk(void *ctx, const char *identity, size_t idlen, uint8_t *key, size_t *keylen,
                       struct m2m_secctx *sec)
{
    struct cred_binding b;
    RETURN_IF_ERR(credstore_psk_lookup(ctx, identity, idlen, key, keylen, &b));
    binding_to_sec(&b, sec);
    return M2M_OK;
}

static m2m_rc hook_rpk(void *ctx, const char *ni, struct m2m_secctx *sec)
{
    struct cred_binding b;
    RETURN_IF_ERR(credstore_rpk_lookup(ctx, ni, &b));
    binding_to_sec(&b, sec);
    return M2M_OK;
}

static m2m_rc hook_node(void *ctx, const char *urn, struct m2m_secctx *sec)
{
    struct cred_binding b;
    RETURN_IF_ERR(credstore_node_lookup(ctx, urn, &b));
    binding_to_sec(&b, sec);
    return M2M_OK;
}

static uint64_t hook_generation(void *ctx)
{
    return credstore_generation(ctx);
}

static bool hook_revoked(void *ctx, const char *cred_id)
{
    return credstore_is_revoked(ctx, cred_id);
}

void credstore_tls_hooks(struct credstore *cs, struct tls_cred_hooks *out)
{
    memset(out, 0, sizeof *out);
    if (cs == NULL)
        return;
    out->ctx = cs;
    out->psk_lookup = hook_psk;
    out->rpk_lookup = hook_rpk;
    out->node_lookup = hook_node;
    out->generation = hook_generation;
    out->is_revoked = hook_revoked;
}
