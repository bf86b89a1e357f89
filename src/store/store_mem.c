/* store_mem.c: the in-memory storage backend for unit tests: copied records in an array, meta
 * key/values, and an undo log that makes rollback exact. */
#include "store/store.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* One record with its strings in the same allocation. */
struct mem_rec {
    struct store_rec r;
    char data[];
};

struct mem_meta {
    char *key;
    char *val;
};

/* The state before one change made inside a transaction. `rec` (or `val`) NULL means the record
 * (or key) did not exist. Replayed newest first on rollback; freed on commit. */
struct mem_undo {
    bool is_meta;
    char *key; /* ri or meta key */
    struct mem_rec *rec;
    char *val;
};

struct store_mem {
    struct store base; /* first: a struct store * is a struct store_mem * */
    struct mem_rec **recs;
    size_t nrecs, caprecs;
    struct mem_meta *meta;
    size_t nmeta, capmeta;
    struct mem_undo *undo;
    size_t nundo, capundo;
    bool in_txn;
};

/* Grows *arr (of elements of size elem) so that one more element fits. */
static m2m_rc grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return M2M_OK;
    size_t ncap = *cap ? *cap * 2 : 16;
    if (ncap > SIZE_MAX / elem)
        return M2M_ERR_NOMEM;
    void *p = realloc(*arr, ncap * elem);
    if (p == NULL)
        return M2M_ERR_NOMEM;
    *arr = p;
    *cap = ncap;
    return M2M_OK;
}

/* Copies src into dst's arena at *off and returns the copy. */
static const char *arena_put(struct mem_rec *m, size_t *off, const char *src, size_t n)
{
    char *d = m->data + *off;
    memcpy(d, src, n);
    d[n] = '\0';
    *off += n + 1;
    return d;
}

static struct mem_rec *rec_copy(const struct store_rec *r)
{
    size_t lri = strlen(r->ri), lpi = strlen(r->pi), lrn = strlen(r->rn);
    size_t lcr = r->creator ? strlen(r->creator) : 0;
    size_t total = lri + lpi + lrn + lcr + r->json_len + 5;
    if (r->json_len > SIZE_MAX / 2 || total > SIZE_MAX - sizeof(struct mem_rec))
        return NULL;
    struct mem_rec *m = malloc(sizeof *m + total);
    if (m == NULL)
        return NULL;
    size_t off = 0;
    m->r = *r;
    m->r.ri = arena_put(m, &off, r->ri, lri);
    m->r.pi = arena_put(m, &off, r->pi, lpi);
    m->r.rn = arena_put(m, &off, r->rn, lrn);
    m->r.creator = r->creator ? arena_put(m, &off, r->creator, lcr) : NULL;
    m->r.json = arena_put(m, &off, r->json, r->json_len);
    return m;
}

static size_t rec_find(const struct store_mem *s, const char *ri)
{
    for (size_t i = 0; i < s->nrecs; i++)
        if (strcmp(s->recs[i]->r.ri, ri) == 0)
            return i;
    return SIZE_MAX;
}

static size_t meta_find(const struct store_mem *s, const char *key)
{
    for (size_t i = 0; i < s->nmeta; i++)
        if (strcmp(s->meta[i].key, key) == 0)
            return i;
    return SIZE_MAX;
}

/* Removes recs[i] (order is not kept; load_all guarantees none) and returns it. */
static struct mem_rec *rec_take(struct store_mem *s, size_t i)
{
    struct mem_rec *m = s->recs[i];
    s->recs[i] = s->recs[--s->nrecs];
    return m;
}

/* Records the prior state of `key` before a change, when a transaction is open. Takes ownership
 * of `old_rec` / `old_val` only on success. */
static m2m_rc undo_push(struct store_mem *s, bool is_meta, const char *key, struct mem_rec *old_rec,
                        char *old_val)
{
    if (!s->in_txn)
        return M2M_OK;
    RETURN_IF_ERR(grow((void **)&s->undo, &s->capundo, s->nundo, sizeof *s->undo));
    char *k = strdup(key);
    if (k == NULL)
        return M2M_ERR_NOMEM;
    s->undo[s->nundo++] = (struct mem_undo){is_meta, k, old_rec, old_val};
    return M2M_OK;
}

static void undo_free(struct mem_undo *u)
{
    free(u->key);
    free(u->rec);
    free(u->val);
}

static m2m_rc mem_begin(struct store *base)
{
    struct store_mem *s = (struct store_mem *)base;
    if (s->in_txn)
        return M2M_ERR_INTERNAL;
    s->in_txn = true;
    return M2M_OK;
}

static m2m_rc mem_commit(struct store *base)
{
    struct store_mem *s = (struct store_mem *)base;
    if (!s->in_txn)
        return M2M_ERR_INTERNAL;
    for (size_t i = 0; i < s->nundo; i++)
        undo_free(&s->undo[i]);
    s->nundo = 0;
    s->in_txn = false;
    return M2M_OK;
}

/* Restores one undo entry. Cannot fail: restoring never needs more room than the change took
 * (a re-inserted record or key replaces the slot its removal freed). */
static void undo_apply(struct store_mem *s, struct mem_undo *u)
{
    if (u->is_meta) {
        size_t i = meta_find(s, u->key);
        if (i == SIZE_MAX) /* impossible: keys are never removed */
            return;
        if (u->val != NULL) {
            free(s->meta[i].val);
            s->meta[i].val = u->val;
            u->val = NULL;
        } else {
            free(s->meta[i].key);
            free(s->meta[i].val);
            s->meta[i] = s->meta[--s->nmeta];
        }
        return;
    }
    size_t i = rec_find(s, u->key);
    if (i != SIZE_MAX)
        free(rec_take(s, i));
    if (u->rec != NULL)
        s->recs[s->nrecs++] = u->rec;
    u->rec = NULL;
}

static m2m_rc mem_rollback(struct store *base)
{
    struct store_mem *s = (struct store_mem *)base;
    if (!s->in_txn)
        return M2M_OK;
    while (s->nundo > 0) {
        struct mem_undo *u = &s->undo[--s->nundo];
        undo_apply(s, u);
        undo_free(u);
    }
    s->in_txn = false;
    return M2M_OK;
}

/* Same constraints as the SQLite schema: ri is the key, (pi, rn) is unique. */
static m2m_rc mem_put(struct store *base, const struct store_rec *r)
{
    struct store_mem *s = (struct store_mem *)base;
    if (r == NULL || r->ri == NULL || r->pi == NULL || r->rn == NULL || r->json == NULL)
        return M2M_ERR_INTERNAL;
    for (size_t i = 0; i < s->nrecs; i++)
        if (strcmp(s->recs[i]->r.pi, r->pi) == 0 && strcmp(s->recs[i]->r.rn, r->rn) == 0 &&
            strcmp(s->recs[i]->r.ri, r->ri) != 0)
            return M2M_ERR_EXISTS;
    size_t i = rec_find(s, r->ri);
    if (i == SIZE_MAX)
        RETURN_IF_ERR(grow((void **)&s->recs, &s->caprecs, s->nrecs, sizeof *s->recs));
    struct mem_rec *m = rec_copy(r);
    if (m == NULL)
        return M2M_ERR_NOMEM;
    m2m_rc rc = undo_push(s, false, r->ri, i == SIZE_MAX ? NULL : s->recs[i], NULL);
    if (rc != M2M_OK) {
        free(m);
        return rc;
    }
    if (i == SIZE_MAX) {
        s->recs[s->nrecs++] = m;
    } else {
        if (!s->in_txn)
            free(s->recs[i]);
        s->recs[i] = m;
    }
    return M2M_OK;
}

static m2m_rc mem_del(struct store *base, const char *ri)
{
    struct store_mem *s = (struct store_mem *)base;
    if (ri == NULL)
        return M2M_ERR_INTERNAL;
    size_t i = rec_find(s, ri);
    if (i == SIZE_MAX)
        return M2M_ERR_NOT_FOUND;
    RETURN_IF_ERR(undo_push(s, false, ri, s->recs[i], NULL));
    struct mem_rec *m = rec_take(s, i);
    if (!s->in_txn)
        free(m);
    return M2M_OK;
}

/* The callback must not modify the store; iteration is bounds-checked on every step anyway. */
static m2m_rc mem_load_all(struct store *base, m2m_rc (*cb)(void *ctx, const struct store_rec *r),
                           void *ctx)
{
    struct store_mem *s = (struct store_mem *)base;
    for (size_t i = 0; i < s->nrecs; i++)
        RETURN_IF_ERR(cb(ctx, &s->recs[i]->r));
    return M2M_OK;
}

static m2m_rc mem_meta_get(struct store *base, const char *key, char *val, size_t vallen)
{
    struct store_mem *s = (struct store_mem *)base;
    if (key == NULL || val == NULL || vallen == 0)
        return M2M_ERR_INTERNAL;
    size_t i = meta_find(s, key);
    if (i == SIZE_MAX)
        return M2M_ERR_NOT_FOUND;
    size_t n = strlen(s->meta[i].val);
    if (n >= vallen)
        return M2M_ERR_LIMIT;
    memcpy(val, s->meta[i].val, n + 1);
    return M2M_OK;
}

static m2m_rc mem_meta_set(struct store *base, const char *key, const char *val)
{
    struct store_mem *s = (struct store_mem *)base;
    m2m_rc rc = M2M_OK;
    char *k = NULL, *v = NULL;
    if (key == NULL || val == NULL)
        return M2M_ERR_INTERNAL;
    size_t i = meta_find(s, key);
    if (i == SIZE_MAX) {
        TRY(grow((void **)&s->meta, &s->capmeta, s->nmeta, sizeof *s->meta));
        ENSURE_NONNULL(k = strdup(key));
    }
    ENSURE_NONNULL(v = strdup(val));
    TRY(undo_push(s, true, key, NULL, i == SIZE_MAX ? NULL : s->meta[i].val));
    if (i == SIZE_MAX) {
        s->meta[s->nmeta++] = (struct mem_meta){k, v};
    } else {
        if (!s->in_txn)
            free(s->meta[i].val);
        s->meta[i].val = v;
    }
    return M2M_OK;
out:
    free(k);
    free(v);
    return rc;
}

/* An open transaction is rolled back, as SQLite does on close. */
static void mem_close(struct store *base)
{
    struct store_mem *s = (struct store_mem *)base;
    if (s == NULL)
        return;
    (void)mem_rollback(base);
    for (size_t i = 0; i < s->nrecs; i++)
        free(s->recs[i]);
    for (size_t i = 0; i < s->nmeta; i++) {
        free(s->meta[i].key);
        free(s->meta[i].val);
    }
    free(s->recs);
    free(s->meta);
    free(s->undo);
    free(s);
}

static const struct store_ops mem_ops = {
    .name = "mem",
    .begin = mem_begin,
    .put = mem_put,
    .del = mem_del,
    .commit = mem_commit,
    .rollback = mem_rollback,
    .load_all = mem_load_all,
    .meta_get = mem_meta_get,
    .meta_set = mem_meta_set,
    .close = mem_close,
};

m2m_rc store_mem_open(struct store **out)
{
    if (out == NULL)
        return M2M_ERR_INTERNAL;
    struct store_mem *s = calloc(1, sizeof *s);
    *out = NULL;
    if (s == NULL)
        return M2M_ERR_NOMEM;
    s->base.ops = &mem_ops;
    *out = &s->base;
    return M2M_OK;
}
