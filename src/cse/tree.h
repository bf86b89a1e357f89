/* tree.h: the in-memory resource tree. The store is the truth; this is its index, rebuilt at
 * start from the store and changed only by the writer thread under the tree's write lock.
 * Every resource has an entry by resourceID (ri) and by structured path ("cse-in/ae1/cnt1"). */
#ifndef M2M_CSE_TREE_H
#define M2M_CSE_TREE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "acp/acp.h"
#include "base/hmap.h"
#include "base/rc.h"

struct res {
    char *ri;
    char *rn;
    char *path; /* structured CSE-relative path, e.g. "cse-in/ae1/cnt1" */
    int ty;
    int64_t ct_us, lt_us, et_us; /* et 0 = never */
    char *creator;               /* originator of the CREATE, absolute form (A3 default policy) */
    cJSON *attrs; /* the wire representation (short names), includes ri/pi/rn/ty/ct/lt/et */
    struct res *parent;
    struct res *first_child, *last_child; /* in creation order */
    struct res *prev_sibling, *next_sibling;
    size_t n_children;
    size_t n_subs; /* direct <subscription> children: notification work is skipped at 0 */
    /* type-specific state */
    struct acp_ruleset *pv, *pvs; /* ty 1: compiled policies */
    uint64_t cni, cbs;            /* ty 3: current instances and bytes */
    uint64_t cs;                  /* ty 4: content size */
    uint64_t st;                  /* stateTag */
    uint64_t seq;                 /* creation sequence, orders children of equal ct */
};

struct tree {
    struct hmap *by_ri;
    struct hmap *by_path;
    struct res *root;
    uint64_t seq;
};

M2M_WARN_UNUSED m2m_rc tree_init(struct tree *t);
/* Frees every resource. */
void tree_destroy(struct tree *t);

/* Creates a resource node (not yet linked). Takes ownership of attrs. Copies the strings. */
M2M_WARN_UNUSED m2m_rc res_new(const char *ri, const char *rn, int ty, cJSON *attrs,
                               const char *creator, struct res **out);
void res_free(struct res *r);

/* Links r under parent (NULL for the root), computing its path and indexing it. */
M2M_WARN_UNUSED m2m_rc tree_link(struct tree *t, struct res *parent, struct res *r);
/* Unlinks r and its whole subtree from the indexes and frees them. `cb` (may be NULL) is called
 * for every resource before it is freed, children before parents. */
void tree_remove(struct tree *t, struct res *r, void (*cb)(void *ctx, struct res *r), void *ctx);

struct res *tree_by_ri(const struct tree *t, const char *ri);
struct res *tree_by_path(const struct tree *t, const char *path, size_t len);
/* Child of parent named rn, or NULL. */
struct res *tree_child(const struct tree *t, const struct res *parent, const char *rn);

/* Syncs the common attributes (ri, pi, rn, ty, ct, lt, et) into r->attrs from the fields. */
M2M_WARN_UNUSED m2m_rc res_sync_attrs(struct res *r);
/* Sets member k of object o to v (taking v), replacing an existing member; M2M_ERR_NOMEM when v
 * is NULL. */
m2m_rc json_set_item(cJSON *o, const char *k, cJSON *v);
/* The attribute as a string, NULL when absent or not a string. */
const char *res_attr_str(const struct res *r, const char *sn);

#endif
