/* store.h: the storage interface. One record per resource: indexed columns plus the resource's
 * JSON representation. Backends: SQLite (store_sqlite.c, the server's store) and memory
 * (store_mem.c, for unit tests). A store handle is used by one thread at a time; the CSE's writer
 * thread owns the write handle. A change is durable when store_commit() returns M2M_OK. */
#ifndef M2M_STORE_H
#define M2M_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"

/* One resource as stored. Strings are NUL-terminated; pi is "" for the CSEBase. */
struct store_rec {
    const char *ri;
    const char *pi;
    const char *rn;
    int ty;
    int64_t ct_us;       /* creationTime */
    int64_t et_us;       /* expirationTime, 0 = never */
    const char *creator; /* originator of the successful CREATE (A3 default policy) */
    const char *json;    /* the resource's attributes as a JSON object (short names) */
    size_t json_len;
};

struct store;

struct store_ops {
    const char *name;
    m2m_rc (*begin)(struct store *s);
    m2m_rc (*put)(struct store *s, const struct store_rec *r); /* insert or replace by ri */
    m2m_rc (*del)(struct store *s, const char *ri);
    m2m_rc (*commit)(struct store *s);
    m2m_rc (*rollback)(struct store *s);
    /* Calls cb for every stored record, parents before children is NOT guaranteed; stops and
     * returns the callback's error if it fails. */
    m2m_rc (*load_all)(struct store *s, m2m_rc (*cb)(void *ctx, const struct store_rec *r),
                       void *ctx);
    m2m_rc (*meta_get)(struct store *s, const char *key, char *val, size_t vallen);
    m2m_rc (*meta_set)(struct store *s, const char *key, const char *val);
    void (*close)(struct store *s);
};

struct store {
    const struct store_ops *ops;
};

/* Opens (creating if needed) a SQLite database in WAL mode with synchronous=FULL, applies schema
 * migrations (meta key "schema_version"), and returns a handle. `path` ":memory:" is allowed. */
M2M_WARN_UNUSED m2m_rc store_sqlite_open(const char *path, struct store **out);
/* An in-memory store for unit tests (durability not applicable). */
M2M_WARN_UNUSED m2m_rc store_mem_open(struct store **out);

static inline m2m_rc store_begin(struct store *s)
{
    return s->ops->begin(s);
}
static inline m2m_rc store_put(struct store *s, const struct store_rec *r)
{
    return s->ops->put(s, r);
}
static inline m2m_rc store_del(struct store *s, const char *ri)
{
    return s->ops->del(s, ri);
}
static inline m2m_rc store_commit(struct store *s)
{
    return s->ops->commit(s);
}
static inline m2m_rc store_rollback(struct store *s)
{
    return s->ops->rollback(s);
}
static inline m2m_rc store_load_all(struct store *s,
                                    m2m_rc (*cb)(void *ctx, const struct store_rec *r), void *ctx)
{
    return s->ops->load_all(s, cb, ctx);
}
static inline m2m_rc store_meta_get(struct store *s, const char *k, char *v, size_t n)
{
    return s->ops->meta_get(s, k, v, n);
}
static inline m2m_rc store_meta_set(struct store *s, const char *k, const char *v)
{
    return s->ops->meta_set(s, k, v);
}
/* NULL is a no-op. */
static inline void store_close(struct store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

#define STORE_SCHEMA_VERSION 1

#endif
