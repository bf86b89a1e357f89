/* hmap.c: open-addressing hash map with FNV-1a hashing. */
#include "base/hmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TOMBSTONE ((char *)1)

struct slot {
    char *key; /* NULL empty, TOMBSTONE deleted */
    size_t klen;
    uint64_t hash;
    void *val;
};

struct hmap {
    struct slot *slots;
    size_t cap; /* power of two */
    size_t count, used;
};

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

m2m_rc hmap_new(size_t initial, struct hmap **out)
{
    if (initial > SIZE_MAX / 8) /* the doubling below would wrap and never end */
        return M2M_ERR_NOMEM;
    struct hmap *m = calloc(1, sizeof *m);
    if (m == NULL)
        return M2M_ERR_NOMEM;
    size_t cap = 16;
    while (cap < initial * 2)
        cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    if (m->slots == NULL) {
        free(m);
        return M2M_ERR_NOMEM;
    }
    m->cap = cap;
    *out = m;
    return M2M_OK;
}

void hmap_free(struct hmap *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key != NULL && m->slots[i].key != TOMBSTONE)
            free(m->slots[i].key);
    free(m->slots);
    free(m);
}

static struct slot *find(const struct hmap *m, const char *key, size_t n, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask, probes = 0; probes < m->cap; i = (i + 1) & mask, probes++) {
        struct slot *s = &m->slots[i];
        if (s->key == NULL)
            return NULL;
        if (s->key != TOMBSTONE && s->hash == h && s->klen == n && memcmp(s->key, key, n) == 0)
            return s;
    }
    return NULL;
}

static m2m_rc grow(struct hmap *m)
{
    size_t ncap = m->count * 4 > m->cap ? m->cap * 2 : m->cap;
    struct slot *ns = calloc(ncap, sizeof *ns);
    if (ns == NULL)
        return M2M_ERR_NOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        struct slot *s = &m->slots[i];
        if (s->key == NULL || s->key == TOMBSTONE)
            continue;
        size_t j = (size_t)s->hash & (ncap - 1);
        while (ns[j].key != NULL)
            j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    m->used = m->count;
    return M2M_OK;
}

m2m_rc hmap_put(struct hmap *m, const char *key, void *val)
{
    size_t n = strlen(key);
    uint64_t h = fnv1a(key, n);
    struct slot *s = find(m, key, n, h);
    if (s != NULL) {
        s->val = val;
        return M2M_OK;
    }
    if ((m->used + 1) * 4 > m->cap * 3) {
        m2m_rc rc = grow(m);
        if (rc != M2M_OK)
            return rc;
    }
    char *k = malloc(n + 1);
    if (k == NULL)
        return M2M_ERR_NOMEM;
    memcpy(k, key, n + 1);
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    while (m->slots[i].key != NULL && m->slots[i].key != TOMBSTONE)
        i = (i + 1) & mask;
    if (m->slots[i].key == NULL)
        m->used++;
    m->slots[i] = (struct slot){k, n, h, val};
    m->count++;
    return M2M_OK;
}

void *hmap_getn(const struct hmap *m, const char *key, size_t n)
{
    struct slot *s = find(m, key, n, fnv1a(key, n));
    return s ? s->val : NULL;
}

void *hmap_get(const struct hmap *m, const char *key)
{
    return hmap_getn(m, key, strlen(key));
}

void *hmap_del(struct hmap *m, const char *key)
{
    size_t n = strlen(key);
    struct slot *s = find(m, key, n, fnv1a(key, n));
    if (s == NULL)
        return NULL;
    void *v = s->val;
    free(s->key);
    s->key = TOMBSTONE;
    s->val = NULL;
    m->count--;
    return v;
}

size_t hmap_count(const struct hmap *m)
{
    return m->count;
}

int hmap_next(const struct hmap *m, size_t *pos, const char **key, void **val)
{
    while (*pos < m->cap) {
        struct slot *s = &m->slots[(*pos)++];
        if (s->key != NULL && s->key != TOMBSTONE) {
            if (key)
                *key = s->key;
            if (val)
                *val = s->val;
            return 1;
        }
    }
    return 0;
}
