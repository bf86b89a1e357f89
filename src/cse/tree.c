/* tree.c: the in-memory resource index: nodes, parent/child links, lookup by ri and by path. */
#include "cse/tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "model/restype.h"

m2m_rc tree_init(struct tree *t)
{
    memset(t, 0, sizeof *t);
    m2m_rc rc = hmap_new(1024, &t->by_ri);
    if (rc != M2M_OK)
        return rc;
    rc = hmap_new(1024, &t->by_path);
    if (rc != M2M_OK) {
        hmap_free(t->by_ri);
        t->by_ri = NULL;
    }
    return rc;
}

void res_free(struct res *r)
{
    if (r == NULL)
        return;
    free(r->ri);
    free(r->rn);
    free(r->path);
    free(r->creator);
    cJSON_Delete(r->attrs);
    acp_ruleset_free(r->pv);
    acp_ruleset_free(r->pvs);
    free(r);
}

static void free_subtree(struct res *r)
{
    struct res *c = r->first_child;
    while (c != NULL) {
        struct res *n = c->next_sibling;
        free_subtree(c);
        c = n;
    }
    res_free(r);
}

void tree_destroy(struct tree *t)
{
    if (t->root)
        free_subtree(t->root);
    hmap_free(t->by_ri);
    hmap_free(t->by_path);
    memset(t, 0, sizeof *t);
}

static char *dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
}

m2m_rc res_new(const char *ri, const char *rn, int ty, cJSON *attrs, const char *creator,
               struct res **out)
{
    struct res *r = calloc(1, sizeof *r);
    if (r == NULL) {
        cJSON_Delete(attrs);
        return M2M_ERR_NOMEM;
    }
    r->ri = dupstr(ri);
    r->rn = dupstr(rn);
    r->creator = dupstr(creator);
    r->ty = ty;
    r->attrs = attrs ? attrs : cJSON_CreateObject();
    if (r->ri == NULL || r->rn == NULL || r->attrs == NULL || (creator && r->creator == NULL)) {
        res_free(r);
        return M2M_ERR_NOMEM;
    }
    *out = r;
    return M2M_OK;
}

m2m_rc tree_link(struct tree *t, struct res *parent, struct res *r)
{
    size_t n = strlen(r->rn) + (parent ? strlen(parent->path) + 1 : 0) + 1;
    r->path = malloc(n);
    if (r->path == NULL)
        return M2M_ERR_NOMEM;
    if (parent)
        snprintf(r->path, n, "%s/%s", parent->path, r->rn);
    else
        snprintf(r->path, n, "%s", r->rn);
    m2m_rc rc = hmap_put(t->by_ri, r->ri, r);
    if (rc != M2M_OK)
        return rc;
    rc = hmap_put(t->by_path, r->path, r);
    if (rc != M2M_OK) {
        hmap_del(t->by_ri, r->ri);
        return rc;
    }
    r->parent = parent;
    r->seq = ++t->seq;
    if (parent == NULL) {
        t->root = r;
        return M2M_OK;
    }
    r->prev_sibling = parent->last_child;
    if (parent->last_child)
        parent->last_child->next_sibling = r;
    else
        parent->first_child = r;
    parent->last_child = r;
    parent->n_children++;
    if (r->ty == TY_SUB)
        parent->n_subs++;
    return M2M_OK;
}

static void unlink_one(struct tree *t, struct res *r)
{
    hmap_del(t->by_ri, r->ri);
    hmap_del(t->by_path, r->path);
}

static void remove_rec(struct tree *t, struct res *r, void (*cb)(void *, struct res *), void *ctx)
{
    struct res *c = r->first_child;
    while (c != NULL) {
        struct res *n = c->next_sibling;
        remove_rec(t, c, cb, ctx);
        c = n;
    }
    if (cb)
        cb(ctx, r);
    unlink_one(t, r);
    res_free(r);
}

void tree_remove(struct tree *t, struct res *r, void (*cb)(void *ctx, struct res *r), void *ctx)
{
    struct res *p = r->parent;
    if (p != NULL) {
        if (r->prev_sibling)
            r->prev_sibling->next_sibling = r->next_sibling;
        else
            p->first_child = r->next_sibling;
        if (r->next_sibling)
            r->next_sibling->prev_sibling = r->prev_sibling;
        else
            p->last_child = r->prev_sibling;
        p->n_children--;
        if (r->ty == TY_SUB)
            p->n_subs--;
    } else {
        t->root = NULL;
    }
    remove_rec(t, r, cb, ctx);
}

struct res *tree_by_ri(const struct tree *t, const char *ri)
{
    return hmap_get(t->by_ri, ri);
}

struct res *tree_by_path(const struct tree *t, const char *path, size_t len)
{
    return hmap_getn(t->by_path, path, len);
}

struct res *tree_child(const struct tree *t, const struct res *parent, const char *rn)
{
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s/%s", parent->path, rn);
    if (n < 0 || (size_t)n >= sizeof buf)
        return NULL;
    return tree_by_path(t, buf, (size_t)n);
}

m2m_rc json_set_item(cJSON *o, const char *k, cJSON *v)
{
    if (v == NULL)
        return M2M_ERR_NOMEM;
    if (cJSON_GetObjectItemCaseSensitive(o, k))
        cJSON_ReplaceItemInObjectCaseSensitive(o, k, v);
    else
        cJSON_AddItemToObject(o, k, v);
    return M2M_OK;
}

static m2m_rc set_str(cJSON *o, const char *k, const char *v)
{
    return json_set_item(o, k, cJSON_CreateString(v));
}

static m2m_rc set_num(cJSON *o, const char *k, double v)
{
    return json_set_item(o, k, cJSON_CreateNumber(v));
}

m2m_rc res_sync_attrs(struct res *r)
{
    char ts[24];
    RETURN_IF_ERR(set_str(r->attrs, "ri", r->ri));
    RETURN_IF_ERR(set_str(r->attrs, "rn", r->rn));
    RETURN_IF_ERR(set_num(r->attrs, "ty", r->ty));
    RETURN_IF_ERR(set_str(r->attrs, "pi", r->parent ? r->parent->ri : ""));
    m2m_ts_format(r->ct_us, ts);
    ts[15] = 0; /* seconds precision on the wire, as other CSEs do */
    RETURN_IF_ERR(set_str(r->attrs, "ct", ts));
    m2m_ts_format(r->lt_us, ts);
    ts[15] = 0;
    RETURN_IF_ERR(set_str(r->attrs, "lt", ts));
    if (r->et_us > 0) {
        m2m_ts_format(r->et_us, ts);
        ts[15] = 0;
        RETURN_IF_ERR(set_str(r->attrs, "et", ts));
    }
    return M2M_OK;
}

const char *res_attr_str(const struct res *r, const char *sn)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(r->attrs, sn);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}
