/* server.c: the transport's threads: configuration defaults, listening sockets (one per loop and
 * listener, SO_REUSEPORT), the epoll loops, the completion queue fed by srv_respond, and
 * shutdown. Connection handling itself lives in conn.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "net/net_internal.h"

#define SRV_EV_WAKE ((uint64_t)SRV_MAX_LISTENERS) /* epoll tag of the eventfd */
#define SRV_MAX_THREADS 256

/* The loop running on this thread, if any: lets srv_respond skip the eventfd when the handler
 * answers inline. */
static _Thread_local struct srv_loop *tl_loop;

struct srv_loop *loop_current(void)
{
    return tl_loop;
}

void srv_cfg_default(struct srv_cfg *c)
{
    memset(c, 0, sizeof *c);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = n > 0 ? (int)(n < SRV_MAX_THREADS ? n : SRV_MAX_THREADS) : 1;
    c->max_connections = 1024;
    c->idle_timeout_ms = 60000;
    c->read_timeout_ms = 10000;
    c->handshake_timeout_ms = 10000;
    c->max_pipeline = 32;
    c->max_buffered_bytes = (size_t)256 << 20;
    http_limits_default(&c->http);
}

static m2m_rc cfg_check(const struct srv_cfg *c)
{
    if (c->n_listeners < 1 || c->n_listeners > SRV_MAX_LISTENERS)
        return M2M_ERR_CONFIG;
    if (c->threads < 0 || c->threads > SRV_MAX_THREADS || c->max_connections < 1 ||
        c->max_connections_per_ip < 0 || c->idle_timeout_ms < 1 || c->read_timeout_ms < 1 ||
        c->handshake_timeout_ms < 1 || c->max_pipeline < 1 || c->http.max_header_bytes == 0)
        return M2M_ERR_CONFIG;
    for (int i = 0; i < c->n_listeners; i++)
        if (c->listeners[i].port < 0 || c->listeners[i].port > 65535 ||
            memchr(c->listeners[i].addr, '\0', sizeof c->listeners[i].addr) == NULL)
            return M2M_ERR_CONFIG;
    return M2M_OK;
}

/* A non-blocking listening socket on addr:port with SO_REUSEPORT; *port receives the bound
 * port. */
static m2m_rc listen_socket(const char *addr, int *port, int *out)
{
    m2m_rc rc = M2M_OK;
    struct sockaddr_storage ss;
    socklen_t sl;
    int one = 1, fd = -1;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)*port);
        sl = sizeof *a4;
    } else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)*port);
        sl = sizeof *a6;
    } else {
        log_error("net: not a numeric address: %s", addr);
        BAIL(M2M_ERR_CONFIG);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ENSURE(fd >= 0, M2M_ERR_IO);
    ENSURE(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0, M2M_ERR_IO);
    ENSURE(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0, M2M_ERR_IO);
    if (ss.ss_family == AF_INET6)
        ENSURE(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) == 0, M2M_ERR_IO);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 1024) != 0) {
        log_error("net: cannot listen on %s port %d: %s", addr, *port, strerror(errno));
        BAIL(M2M_ERR_IO);
    }
    ENSURE(getsockname(fd, (struct sockaddr *)&ss, &sl) == 0, M2M_ERR_IO);
    *port = ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port);
    *out = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

static m2m_rc loop_init(struct srv *s, struct srv_loop *l, int idx)
{
    for (int i = 0; i < SRV_MAX_LISTENERS; i++)
        l->lfd[i] = -1;
    l->evfd = l->epfd = -1;
    if (pthread_mutex_init(&l->mu, NULL) != 0)
        return M2M_ERR_INTERNAL;
    l->srv = s; /* from here on srv_destroy destroys the mutex */
    l->idx = idx;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        return M2M_ERR_IO;
    l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->evfd < 0)
        return M2M_ERR_IO;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = SRV_EV_WAKE};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) != 0)
        return M2M_ERR_IO;
    for (int i = 0; i < s->cfg.n_listeners; i++) {
        int port = s->ports[i];
        RETURN_IF_ERR(listen_socket(s->cfg.listeners[i].addr, &port, &l->lfd[i]));
        s->ports[i] = port; /* port 0: the first bind chooses, the others follow */
        struct epoll_event lev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->lfd[i], &lev) != 0)
            return M2M_ERR_IO;
    }
    return M2M_OK;
}

void loop_mark_dirty(struct srv_loop *l, struct srv_conn *c)
{
    if (c->in_dirty || c->state == CONN_CLOSED)
        return;
    c->in_dirty = true;
    c->dirty_next = l->dirty;
    l->dirty = c;
}

/* Takes back every answered exchange: marks it done, drops the handler's reference and queues
 * its connection for servicing. Returns how many were taken. */
static int loop_drain(struct srv_loop *l)
{
    pthread_mutex_lock(&l->mu);
    struct srv_exchange *x = l->q_head;
    l->q_head = l->q_tail = NULL;
    pthread_mutex_unlock(&l->mu);
    int n = 0;
    while (x != NULL) {
        struct srv_exchange *next = x->qnext;
        struct srv_conn *c = x->conn;
        x->done = true;
        if (x->counted)
            atomic_fetch_sub(&l->srv->outstanding, 1);
        exchange_unref(x);
        if (c != NULL)
            loop_mark_dirty(l, c);
        x = next;
        n++;
    }
    return n;
}

/* Services answered exchanges and dirty connections. Each pass takes the current dirty list as
 * a batch, so a connection that makes itself dirty again (a long pipeline of reads answered at
 * once) waits for the next pass behind the others; after SETTLE_PASSES the loop goes back to
 * epoll so that new connections and other sockets are served too (fairness). */
#define SETTLE_PASSES 32

static bool loop_has_work(struct srv_loop *l)
{
    if (l->dirty != NULL)
        return true;
    pthread_mutex_lock(&l->mu);
    bool q = l->q_head != NULL;
    pthread_mutex_unlock(&l->mu);
    return q;
}

static void loop_settle(struct srv_loop *l)
{
    for (int pass = 0; pass < SETTLE_PASSES; pass++) {
        int n = loop_drain(l);
        if (n == 0 && l->dirty == NULL)
            return;
        struct srv_conn *batch = l->dirty;
        l->dirty = NULL;
        while (batch != NULL) {
            struct srv_conn *c = batch;
            batch = c->dirty_next;
            c->in_dirty = false;
            if (c->state != CONN_CLOSED)
                conn_service(c);
        }
    }
}

void loop_pause_listener(struct srv_loop *l, int li)
{
    if (l->lpaused[li] || l->lfd[li] < 0)
        return;
    log_warn("net: accept on listener %d paused: %s", li, strerror(errno));
    struct epoll_event ev = {.events = 0, .data.u64 = (uint64_t)li};
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, l->lfd[li], &ev) == 0)
        l->lpaused[li] = true;
}

static void loop_resume_listeners(struct srv_loop *l)
{
    for (int i = 0; i < SRV_MAX_LISTENERS; i++) {
        if (!l->lpaused[i] || l->lfd[i] < 0)
            continue;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
        if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, l->lfd[i], &ev) == 0)
            l->lpaused[i] = false;
    }
}

/* Revocation reaches live sessions (TS-0003 8.2: an association lasts only while its credential
 * is valid): when the credential generation moved, every open connection whose Credential-ID is
 * now revoked is closed, in-flight requests included (their answers are dropped). */
static void loop_check_revoked(struct srv_loop *l)
{
    const struct tls_cred_hooks *h = &l->srv->cfg.tls.creds;
    if (h->generation == NULL || h->is_revoked == NULL)
        return;
    uint64_t g = h->generation(h->ctx);
    if (g == l->cred_gen)
        return;
    l->cred_gen = g;
    for (struct srv_conn *c = l->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (c->state == CONN_CLOSED || !conn_cred_revoked(c))
            continue;
        log_info("net: closing a connection of revoked credential %s", c->sec.cred_id);
        atomic_fetch_add(&l->srv->revoked_closed, 1);
        if (c->tls && c->state == CONN_OPEN)
            tls_bye(c->tls);
        conn_close(c);
    }
}

static void loop_tick(struct srv_loop *l)
{
    int64_t now = m2m_mono_ms();
    if (now - l->last_tick_ms < SRV_TICK_MS)
        return;
    l->last_tick_ms = now;
    loop_resume_listeners(l);
    loop_check_revoked(l);
    for (struct srv_conn *c = l->conns, *next; c != NULL; c = next) {
        next = c->next;
        conn_tick(c, now);
    }
}

static void loop_wake(struct srv_loop *l)
{
    uint64_t one = 1;
    if (write(l->evfd, &one, sizeof one) < 0 && errno != EAGAIN)
        log_error("net: wake-up failed: %s", strerror(errno));
}

/* The CAS keeps two loops from claiming the same idle connection; on contention it retries a few
 * times, then refuses rather than spin. The eventfd lives until every loop thread has joined. */
bool loop_claim_idle(struct srv *s, int except)
{
    for (int tries = 0; tries < 8; tries++) {
        struct srv_loop *best = NULL;
        int best_n = 0;
        for (int i = 0; i < s->nloops; i++) {
            int n = atomic_load(&s->loops[i].idle_credit);
            if (i != except && n > best_n) {
                best = &s->loops[i];
                best_n = n;
            }
        }
        if (best == NULL)
            return false;
        if (atomic_compare_exchange_strong(&best->idle_credit, &best_n, best_n - 1)) {
            atomic_fetch_add(&best->evict_req, 1);
            loop_wake(best);
            return true;
        }
    }
    return false;
}

/* Serves the eviction claims other loops posted on l, each by closing l's oldest idle connection.
 * A claim that finds none (the connection it counted sent a request or went away meanwhile)
 * gives the credit back and passes to another loop, or lapses: the total then stays over
 * max_connections, within SRV_EVICT_SLACK, until connections close. */
static void loop_serve_evictions(struct srv_loop *l)
{
    for (int n = atomic_exchange(&l->evict_req, 0); n > 0; n--) {
        if (conn_evict_idle(l, true))
            continue;
        atomic_fetch_add(&l->idle_credit, 1);
        (void)loop_claim_idle(l->srv, l->idx);
    }
}

static void loop_free_zombies(struct srv_loop *l)
{
    while (l->zombie != NULL) {
        struct srv_conn *c = l->zombie;
        l->zombie = c->next;
        conn_free(c);
    }
}

/* On stop: no new connections, every open one closed. */
static void loop_shutdown(struct srv_loop *l)
{
    if (!l->listeners_closed) {
        for (int i = 0; i < SRV_MAX_LISTENERS; i++) {
            if (l->lfd[i] >= 0)
                close(l->lfd[i]);
            l->lfd[i] = -1;
        }
        l->listeners_closed = true;
    }
    while (l->conns != NULL)
        conn_close(l->conns);
}

static void loop_dispatch(struct srv_loop *l, const struct epoll_event *ev)
{
    uint64_t tag = ev->data.u64;
    if (tag == SRV_EV_WAKE) {
        uint64_t v;
        while (read(l->evfd, &v, sizeof v) > 0) {
        }
    } else if (tag < SRV_MAX_LISTENERS) {
        if (l->lfd[tag] >= 0)
            conn_accept(l, l->lfd[tag], (int)tag);
    } else {
        struct srv_conn *c = (struct srv_conn *)(uintptr_t)tag;
        if (c->state != CONN_CLOSED)
            conn_on_event(c, ev->events);
    }
}

/* The event loop. Runs until stop was requested and every exchange handed to the handler has
 * come back, so a late srv_respond never touches freed memory. */
static void *loop_main(void *arg)
{
    struct srv_loop *l = arg;
    struct srv *s = l->srv;
    struct epoll_event evs[64];
    tl_loop = l;
    l->last_tick_ms = m2m_mono_ms();
    if (s->cfg.tls.creds.generation)
        l->cred_gen = s->cfg.tls.creds.generation(s->cfg.tls.creds.ctx);
    for (;;) {
        if (atomic_load(&s->stopping)) {
            loop_shutdown(l);
            loop_settle(l);
            loop_free_zombies(l);
            if (atomic_load(&s->outstanding) == 0)
                break;
        }
        /* work left over from a bounded settle: poll without sleeping */
        int n =
            epoll_wait(l->epfd, evs, (int)M2M_ARRAY_LEN(evs), loop_has_work(l) ? 0 : SRV_TICK_MS);
        if (n < 0 && errno != EINTR) {
            log_error("net: epoll_wait: %s", strerror(errno));
            n = 0;
        }
        for (int i = 0; i < n; i++)
            loop_dispatch(l, &evs[i]);
        loop_serve_evictions(l);
        loop_resume_parked(l);
        loop_settle(l);
        loop_tick(l);
        loop_settle(l);
        loop_free_zombies(l);
    }
    tl_loop = NULL;
    return NULL;
}

static void srv_destroy(struct srv *s)
{
    if (s == NULL)
        return;
    atomic_store(&s->stopping, true);
    for (int i = 0; i < s->nloops; i++) {
        struct srv_loop *l = &s->loops[i];
        uint64_t one = 1;
        if (l->started && write(l->evfd, &one, sizeof one) < 0)
            log_warn("net: wake-up failed: %s", strerror(errno));
    }
    for (int i = 0; i < s->nloops; i++) {
        struct srv_loop *l = &s->loops[i];
        if (l->started)
            pthread_join(l->th, NULL);
        else
            loop_shutdown(l);
        loop_free_zombies(l);
    }
    park_hub_kill(s->hub); /* late psk_prefetch wakes touch no loop from here on */
    s->hub = NULL;
    for (int i = 0; i < s->nloops; i++) {
        struct srv_loop *l = &s->loops[i];
        for (int j = 0; j < SRV_MAX_LISTENERS; j++)
            if (l->lfd[j] >= 0)
                close(l->lfd[j]);
        if (l->evfd >= 0)
            close(l->evfd);
        if (l->epfd >= 0)
            close(l->epfd);
        if (l->srv != NULL)
            pthread_mutex_destroy(&l->mu);
    }
    free(s->loops);
    tls_ctx_free(s->tls);
    peerq_free(s->peerq);
    free(s);
}

static m2m_rc srv_tls_init(struct srv *s)
{
    bool any = false;
    for (int i = 0; i < s->cfg.n_listeners; i++)
        any |= s->cfg.listeners[i].tls;
    if (!any)
        return M2M_OK;
    struct srv_tls_cfg *t = &s->cfg.tls;
    struct tls_ctx_cfg tc = {
        .cert_file = t->cert_file,
        .key_file = t->key_file,
        .ca_file = t->ca_file,
        .crl_file = t->crl_file,
        .require_client_cert = t->require_client_cert,
        .priorities = t->priorities,
        .kinds = 0, /* X.509, plus PSK and raw public keys when the hooks are there */
        .hooks = t->creds,
        .server_names = t->server_names,
        .park_cookie = park_cookie,
        .park_notify = park_notify,
        .park_ctx = s,
    };
    if (memchr(t->server_names, '\0', sizeof t->server_names) == NULL)
        return M2M_ERR_CONFIG;
    return tls_ctx_new(&tc, &s->tls);
}

m2m_rc srv_start(const struct srv_cfg *cfg, srv_handler_fn fn, void *ctx, struct srv **out)
{
    m2m_rc rc = M2M_OK;
    *out = NULL;
    struct srv *s = calloc(1, sizeof *s);
    ENSURE_NONNULL(s);
    s->cfg = *cfg;
    s->fn = fn;
    s->ctx = ctx;
    ENSURE(fn != NULL, M2M_ERR_CONFIG);
    TRY(cfg_check(&s->cfg));
    if (s->cfg.threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->cfg.threads = n > 0 ? (int)(n < SRV_MAX_THREADS ? n : SRV_MAX_THREADS) : 1;
    }
    for (int i = 0; i < s->cfg.n_listeners; i++)
        s->ports[i] = s->cfg.listeners[i].port;
    TRY(park_hub_new(s, &s->hub));
    if (s->cfg.max_connections_per_ip > 0)
        TRY(peerq_new(s->cfg.max_connections_per_ip, &s->peerq));
    TRY(srv_tls_init(s));
    s->loops = calloc((size_t)s->cfg.threads, sizeof *s->loops);
    ENSURE_NONNULL(s->loops);
    for (int i = 0; i < s->cfg.threads; i++) {
        s->nloops = i + 1;
        TRY(loop_init(s, &s->loops[i], i));
    }
    for (int i = 0; i < s->nloops; i++) {
        ENSURE(pthread_create(&s->loops[i].th, NULL, loop_main, &s->loops[i]) == 0,
               M2M_ERR_INTERNAL);
        s->loops[i].started = true;
    }
    *out = s;
    s = NULL;
out:
    srv_destroy(s);
    return rc;
}

int srv_bound_port(const struct srv *s, int i)
{
    if (s == NULL || i < 0 || i >= s->cfg.n_listeners)
        return -1;
    return s->ports[i];
}

/* Serializes on the caller's thread (pure work, off the loop), then posts the exchange to its
 * loop. */
void srv_mark_sensitive(struct srv_exchange *x)
{
    if (x != NULL)
        x->sensitive = true;
}

void srv_respond(struct srv_exchange *x, struct m2m_response *resp)
{
    struct m2m_response fallback;
    if (x == NULL) {
        m2m_response_clear(resp);
        return;
    }
    if (resp == NULL) {
        m2m_response_init(&fallback);
        m2m_response_error(&fallback, RSC_INTERNAL_SERVER_ERROR, "no response");
        resp = &fallback;
    }
    if (resp->sensitive)
        x->sensitive = true;
    if (x->sensitive)
        m2m_buf_wipe(&x->wire);
    m2m_buf_reset(&x->wire);
    /* one allocation for a sensitive answer: no realloc leaves a copy of the body behind */
    if (x->sensitive && resp->body != NULL &&
        m2m_buf_reserve(&x->wire, resp->body_len + 1024) != M2M_OK)
        x->failed = true;
    else if (http_write_response(resp, x->keep_alive, &x->wire) != M2M_OK)
        x->failed = true;
    m2m_response_clear(resp);
    m2m_request_clear(&x->req);
    exchange_post(x);
}

/* The eventfd is written under the mutex so that once the loop has taken the exchange, this
 * thread no longer touches anything the loop may free. */
void exchange_post(struct srv_exchange *x)
{
    struct srv_loop *l = x->loop;
    atomic_fetch_add(&l->srv->responses, 1);
    pthread_mutex_lock(&l->mu);
    x->qnext = NULL;
    if (l->q_tail)
        l->q_tail->qnext = x;
    else
        l->q_head = x;
    l->q_tail = x;
    if (tl_loop != l) {
        uint64_t one = 1;
        if (write(l->evfd, &one, sizeof one) < 0 && errno != EAGAIN)
            log_error("net: wake-up failed: %s", strerror(errno));
    }
    pthread_mutex_unlock(&l->mu);
}

m2m_rc srv_tls_export(struct srv_exchange *x, const char *label, size_t label_len,
                      const uint8_t *context, size_t context_len, uint8_t *out, size_t len)
{
    if (x == NULL || tl_loop == NULL || tl_loop != x->loop)
        return M2M_ERR_INTERNAL; /* never touch a session from a thread that does not own it */
    if (x->conn == NULL || x->conn->state == CONN_CLOSED)
        return M2M_ERR_CLOSED;
    if (x->conn->tls == NULL)
        return M2M_ERR_TLS;
    /* RFC 7627 / RFC 9266 3: without the extended master secret a TLS 1.2 exporter value is not
     * bound to this connection (triple handshake); keys are never derived from one. */
    if (!tls_session_ems(x->conn->tls))
        return M2M_ERR_DENIED;
    return tls_export_ctx(x->conn->tls, label, label_len, context, context_len, out, len);
}

void srv_stop(struct srv *s)
{
    srv_destroy(s);
}

void srv_get_stats(const struct srv *s, struct srv_stats *o)
{
    memset(o, 0, sizeof *o);
    if (s == NULL)
        return;
    o->accepted = atomic_load(&s->accepted);
    o->rejected_limit = atomic_load(&s->rejected_limit);
    o->requests = atomic_load(&s->requests);
    o->responses = atomic_load(&s->responses);
    o->tls_handshake_failures = atomic_load(&s->tls_handshake_failures);
    o->parse_errors = atomic_load(&s->parse_errors);
    o->timeouts = atomic_load(&s->timeouts);
    o->revoked_closed = atomic_load(&s->revoked_closed);
    o->buffer_refusals = atomic_load(&s->buffer_refusals);
    o->buffered_bytes = atomic_load(&s->buffered);
    o->open_connections = atomic_load(&s->open);
}

int srv_test_nloops(const struct srv *s)
{
    return s->nloops;
}

uint64_t srv_test_loop_accepted(const struct srv *s, int i)
{
    return i >= 0 && i < s->nloops ? atomic_load(&s->loops[i].n_accepted) : 0;
}

int srv_test_loop_idle_credit(const struct srv *s, int i)
{
    return i >= 0 && i < s->nloops ? atomic_load(&s->loops[i].idle_credit) : 0;
}
