/* coap_block1.c: Block1 bodies in progress per peer, checked against the body limit and a
 * server-wide byte budget as each block arrives (RFC 7959 2.5, 2.9.2, 2.9.3). */
#include "bind/coap/coap_block1.h"

#include <stdlib.h>
#include <string.h>

struct cb1_upload {
    uint8_t key[CB1_KEY_MAX];
    size_t key_len;
    uint8_t *buf;
    size_t len, cap;           /* bytes stored (= offset of the next block), bytes allocated */
    size_t last_off, last_len; /* the last stored block, to recognise its retransmission */
    int64_t last_ms;
};

static void upload_drop(struct cb1_peer *p, int i, struct cb1_budget *bg)
{
    struct cb1_upload *u = p->u[i];
    if (u == NULL)
        return;
    bg->used -= u->cap <= bg->used ? u->cap : bg->used;
    free(u->buf);
    free(u);
    p->u[i] = NULL;
}

void cb1_peer_clear(struct cb1_peer *p, struct cb1_budget *bg)
{
    if (p == NULL)
        return;
    for (int i = 0; i < CB1_PER_PEER; i++)
        upload_drop(p, i, bg);
}

int cb1_peer_count(const struct cb1_peer *p)
{
    int n = 0;
    for (int i = 0; i < CB1_PER_PEER; i++)
        n += p->u[i] != NULL;
    return n;
}

static int find(const struct cb1_peer *p, const struct cb1_block *b)
{
    if (b->key_len > 0 && b->key == NULL)
        return -1; /* malformed (block_ok): names no body, and memcmp must not see NULL */
    for (int i = 0; i < CB1_PER_PEER; i++)
        if (p->u[i] && p->u[i]->key_len == b->key_len &&
            (b->key_len == 0 || memcmp(p->u[i]->key, b->key, b->key_len) == 0))
            return i;
    return -1;
}

/* A free slot for a new body; when all are taken the least recently used is dropped. */
static int free_slot(struct cb1_peer *p, struct cb1_budget *bg)
{
    int oldest = 0;
    for (int i = 0; i < CB1_PER_PEER; i++) {
        if (p->u[i] == NULL)
            return i;
        if (p->u[i]->last_ms < p->u[oldest]->last_ms)
            oldest = i;
    }
    upload_drop(p, oldest, bg);
    return oldest;
}

/* Appends the block's bytes, growing the buffer by doubling up to max_body within the budget. */
static enum cb1_result append(struct cb1_upload *u, struct cb1_budget *bg, size_t max_body,
                              const struct cb1_block *b)
{
    size_t need = u->len + b->len;
    if (need > u->cap) {
        size_t cap = u->cap ? u->cap * 2 : (size_t)4 << (b->szx + 4);
        if (cap < need)
            cap = need;
        if (cap > max_body)
            cap = max_body;
        if (bg->used + (cap - u->cap) > bg->cap)
            return CB1_BUSY;
        uint8_t *nb = realloc(u->buf, cap ? cap : 1);
        if (nb == NULL)
            return CB1_NOMEM;
        bg->used += cap - u->cap;
        u->buf = nb;
        u->cap = cap;
    }
    if (b->len > 0)
        memcpy(u->buf + u->len, b->data, b->len);
    u->last_off = u->len;
    u->last_len = b->len;
    u->len = need;
    return CB1_MORE;
}

/* RFC 7959 2.2/2.3: SZX 0..6 gives 16..1024-byte blocks; every block but the last is full. */
static bool block_ok(const struct cb1_block *b)
{
    if (b->szx > 6 || b->key_len > CB1_KEY_MAX || (b->key_len > 0 && b->key == NULL) ||
        b->num >= (1u << 20) || (b->len > 0 && b->data == NULL))
        return false;
    size_t size = (size_t)1 << (b->szx + 4);
    return b->more ? b->len == size : b->len <= size;
}

static void expire(struct cb1_peer *p, struct cb1_budget *bg, int64_t now_ms)
{
    for (int i = 0; i < CB1_PER_PEER; i++)
        if (p->u[i] && now_ms - p->u[i]->last_ms > CB1_IDLE_MS)
            upload_drop(p, i, bg);
}

/* Places a block 0 (a new body, or the restart of one). */
static enum cb1_result start(struct cb1_peer *p, struct cb1_budget *bg, const struct cb1_block *b,
                             int64_t now_ms, int *slot)
{
    if (*slot >= 0)
        upload_drop(p, *slot, bg);
    *slot = free_slot(p, bg);
    struct cb1_upload *u = calloc(1, sizeof *u);
    if (u == NULL)
        return CB1_NOMEM;
    if (b->key_len > 0) /* an empty key may be NULL */
        memcpy(u->key, b->key, b->key_len);
    u->key_len = b->key_len;
    u->last_ms = now_ms;
    p->u[*slot] = u;
    return CB1_MORE;
}

enum cb1_result cb1_feed(struct cb1_peer *p, struct cb1_budget *bg, size_t max_body,
                         const struct cb1_block *b, int64_t now_ms, uint8_t **body,
                         size_t *body_len)
{
    enum cb1_result r;
    *body = NULL;
    *body_len = 0;
    expire(p, bg, now_ms);
    int i = find(p, b);
    if (!block_ok(b)) {
        r = CB1_BAD;
        goto drop;
    }
    uint64_t off = (uint64_t)b->num << (b->szx + 4);
    /* RFC 7959 2.9.3: refuse as soon as the body is known to exceed the limit */
    if ((b->has_size1 && b->size1 > max_body) || off + b->len > max_body) {
        r = CB1_TOO_LARGE;
        goto drop;
    }
    if (b->num == 0) {
        if ((r = start(p, bg, b, now_ms, &i)) != CB1_MORE)
            goto drop;
    } else if (i < 0) {
        return CB1_INCOMPLETE; /* RFC 7959 2.9.2: no start seen */
    } else if (off == p->u[i]->last_off && b->len == p->u[i]->last_len && off < p->u[i]->len) {
        p->u[i]->last_ms = now_ms;
        return CB1_MORE; /* the last block again: acknowledge, store nothing */
    } else if (off != p->u[i]->len) {
        r = CB1_INCOMPLETE;
        goto drop;
    }
    struct cb1_upload *u = p->u[i];
    if ((r = append(u, bg, max_body, b)) != CB1_MORE)
        goto drop;
    u->last_ms = now_ms;
    if (b->more)
        return CB1_MORE;
    bg->used -= u->cap <= bg->used ? u->cap : bg->used;
    *body = u->buf;
    *body_len = u->len;
    free(u);
    p->u[i] = NULL;
    return CB1_DONE;
drop:
    if (i >= 0)
        upload_drop(p, i, bg);
    return r;
}
