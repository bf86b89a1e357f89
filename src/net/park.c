/* park.c: parked TLS handshakes (psk_prefetch, TS-0003 8.3.2.1): the per-handshake token that a
 * wake from any thread turns into a resumption on the owning loop, and the hub that makes a wake
 * after the connection or the whole server is gone harmless. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "net/net_internal.h"

/* Outlives the server while tokens are out: srv_stop marks it dead under its mutex, after which
 * a wake touches no loop. */
struct srv_hub {
    pthread_mutex_t mu;
    int refs; /* the server's and one per live token; under mu */
    bool dead;
    struct srv *srv;
};

/* One parked handshake. References: the connection's (dropped on resumption or close, on the
 * loop thread) and the waker's (dropped by park_notify, any thread). */
struct srv_park {
    struct srv_hub *hub;
    int loop_idx;
    struct srv_conn *conn; /* loop thread only; NULL once released by the connection */
    atomic_bool woken;
    atomic_int refs;
};

m2m_rc park_hub_new(struct srv *s, struct srv_hub **out)
{
    struct srv_hub *h = calloc(1, sizeof *h);
    if (h == NULL)
        return M2M_ERR_NOMEM;
    if (pthread_mutex_init(&h->mu, NULL) != 0) {
        free(h);
        return M2M_ERR_INTERNAL;
    }
    h->refs = 1;
    h->srv = s;
    *out = h;
    return M2M_OK;
}

static void hub_unref(struct srv_hub *h)
{
    pthread_mutex_lock(&h->mu);
    bool last = --h->refs == 0;
    pthread_mutex_unlock(&h->mu);
    if (last) {
        pthread_mutex_destroy(&h->mu);
        free(h);
    }
}

void park_hub_kill(struct srv_hub *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->mu);
    h->dead = true;
    h->srv = NULL;
    pthread_mutex_unlock(&h->mu);
    hub_unref(h);
}

static void park_unref(struct srv_park *p)
{
    if (atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    hub_unref(p->hub);
    free(p);
}

/* tls_ctx_cfg.park_cookie: runs inside tls_handshake on a loop thread, for the connection the
 * loop is handshaking (loop->hs_conn). NULL (no notification; the handshake then waits for its
 * timeout) only when there is no such connection or memory is short. */
void *park_cookie(void *srv)
{
    struct srv *s = srv;
    struct srv_loop *l = loop_current();
    if (l == NULL || l->srv != s || l->hs_conn == NULL)
        return NULL;
    struct srv_park *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    struct srv_conn *c = l->hs_conn;
    conn_park_drop(c); /* one prefetch per handshake; never two tokens */
    p->hub = s->hub;
    p->loop_idx = l->idx;
    p->conn = c;
    atomic_init(&p->woken, false);
    atomic_init(&p->refs, 2);
    pthread_mutex_lock(&s->hub->mu);
    s->hub->refs++;
    pthread_mutex_unlock(&s->hub->mu);
    c->park = p;
    l->n_parked++;
    return p;
}

/* tls_ctx_cfg.park_notify: any thread, once per token. Wakes the owning loop, which resumes the
 * handshake (loop_resume_parked). */
void park_notify(void *token)
{
    struct srv_park *p = token;
    atomic_store(&p->woken, true);
    pthread_mutex_lock(&p->hub->mu);
    if (!p->hub->dead) {
        struct srv_loop *l = &p->hub->srv->loops[p->loop_idx];
        uint64_t one = 1;
        if (write(l->evfd, &one, sizeof one) < 0 && errno != EAGAIN)
            log_error("net: wake-up failed: %s", strerror(errno));
    }
    pthread_mutex_unlock(&p->hub->mu);
    park_unref(p);
}

bool conn_parked(const struct srv_conn *c)
{
    return c->park != NULL && !atomic_load(&c->park->woken);
}

void conn_park_drop(struct srv_conn *c)
{
    if (c->park == NULL)
        return;
    c->park->conn = NULL;
    park_unref(c->park);
    c->park = NULL;
    c->loop->n_parked--;
}

/* After a wake-up: every woken handshake of this loop is serviced again. */
void loop_resume_parked(struct srv_loop *l)
{
    if (l->n_parked == 0)
        return;
    for (struct srv_conn *c = l->conns; c != NULL; c = c->next) {
        if (c->park == NULL || !atomic_load(&c->park->woken))
            continue;
        conn_park_drop(c);
        loop_mark_dirty(l, c);
    }
}
