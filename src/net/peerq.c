/* peerq.c: the per-peer connection quota (srv_cfg.max_connections_per_ip): open connections per
 * IPv4 address or IPv6 /64, shared by every loop under one mutex. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"
#include "net/net_internal.h"

struct peerq {
    pthread_mutex_t mu;
    struct hmap *m; /* key -> count, stored in the pointer */
    int limit;
};

m2m_rc peerq_new(int limit, struct peerq **out)
{
    m2m_rc rc = M2M_OK;
    struct peerq *q = calloc(1, sizeof *q);
    ENSURE_NONNULL(q);
    ENSURE(pthread_mutex_init(&q->mu, NULL) == 0, M2M_ERR_INTERNAL);
    q->limit = limit;
    rc = hmap_new(64, &q->m);
    if (rc != M2M_OK) {
        pthread_mutex_destroy(&q->mu);
        goto out;
    }
    *out = q;
    q = NULL;
out:
    free(q);
    return rc;
}

void peerq_free(struct peerq *q)
{
    if (q == NULL)
        return;
    hmap_free(q->m);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

static void hex(char *out, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* The quota's unit for a peer: an IPv4 address (also when IPv4-mapped in IPv6), or the /64 of an
 * IPv6 address, which one subscriber usually holds whole ([INTERP] docs/DECISIONS.md). */
static void peer_key(const struct sockaddr_storage *ss, char key[PEERQ_KEY_MAX])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        memcpy(key, "4:", 2);
        hex(key + 2, (const uint8_t *)&a->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        const uint8_t *b = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
        if (memcmp(b, mapped, sizeof mapped) == 0) {
            memcpy(key, "4:", 2);
            hex(key + 2, b + 12, 4);
        } else {
            memcpy(key, "6:", 2);
            hex(key + 2, b, 8);
        }
    } else {
        snprintf(key, PEERQ_KEY_MAX, "?:%d", ss->ss_family);
    }
}

bool peerq_acquire(struct peerq *q, const struct sockaddr_storage *ss, char key[PEERQ_KEY_MAX])
{
    bool ok = false;
    peer_key(ss, key);
    pthread_mutex_lock(&q->mu);
    intptr_t n = (intptr_t)hmap_get(q->m, key);
    if (n < q->limit && hmap_put(q->m, key, (void *)(n + 1)) == M2M_OK)
        ok = true;
    pthread_mutex_unlock(&q->mu);
    if (!ok)
        key[0] = '\0';
    return ok;
}

void peerq_release(struct peerq *q, const char *key)
{
    if (q == NULL || key[0] == '\0')
        return;
    pthread_mutex_lock(&q->mu);
    intptr_t n = (intptr_t)hmap_get(q->m, key);
    if (n <= 1)
        (void)hmap_del(q->m, key);
    else if (hmap_put(q->m, key, (void *)(n - 1)) != M2M_OK)
        (void)hmap_del(q->m, key); /* replacing an existing key does not allocate */
    pthread_mutex_unlock(&q->mu);
}
