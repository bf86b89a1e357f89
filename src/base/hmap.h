/* hmap.h: a string-keyed hash map (open addressing, linear probing, tombstones). Keys are copied;
 * values are borrowed pointers. Not thread-safe: callers lock. */
#ifndef M2M_BASE_HMAP_H
#define M2M_BASE_HMAP_H

#include <stddef.h>

#include "base/rc.h"

struct hmap;

M2M_WARN_UNUSED m2m_rc hmap_new(size_t initial, struct hmap **out);
/* NULL is a no-op. Values are not freed. */
void hmap_free(struct hmap *m);
/* Inserts or replaces. */
M2M_WARN_UNUSED m2m_rc hmap_put(struct hmap *m, const char *key, void *val);
void *hmap_get(const struct hmap *m, const char *key);
void *hmap_getn(const struct hmap *m, const char *key, size_t len);
/* Removes key; returns the value it had or NULL. */
void *hmap_del(struct hmap *m, const char *key);
size_t hmap_count(const struct hmap *m);
/* Iteration: start with *pos = 0; returns false at the end. */
int hmap_next(const struct hmap *m, size_t *pos, const char **key, void **val);

#endif
