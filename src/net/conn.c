/* conn.c: one connection on its loop: accept, TLS handshake, reading into a bounded buffer,
 * HTTP framing with pipelining, the in-order exchange FIFO, the write path with backpressure,
 * timeouts and the lingering close. Runs on the owning loop thread only. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "net/net_internal.h"

static const struct srv_cfg *cfg_of(const struct srv_conn *c)
{
    return &c->loop->srv->cfg;
}

/* ---- exchanges ---- */

static struct srv_exchange *exchange_new(struct srv_conn *c)
{
    struct srv_exchange *x = calloc(1, sizeof *x);
    if (x == NULL)
        return NULL;
    x->loop = c->loop;
    x->conn = c;
    x->refs = 1; /* the FIFO's */
    m2m_request_init(&x->req);
    if (c->xq_tail)
        c->xq_tail->next = x;
    else
        c->xq_head = x;
    c->xq_tail = x;
    c->n_pending++;
    return x;
}

void exchange_unref(struct srv_exchange *x)
{
    if (x == NULL || --x->refs > 0)
        return;
    m2m_request_clear(&x->req);
    if (x->sensitive)
        m2m_buf_wipe(&x->wire);
    m2m_buf_free(&x->wire);
    raw_hold_free(x->raw);
    free(x);
}

/* ---- lifecycle ---- */

static void conn_set_interest(struct srv_conn *c);

/* A connection is idle from accept until its first request byte arrives; the TLS handshake, also
 * one parked on a psk_prefetch, counts as idle. Only idle connections are evicted at
 * max_connections, and idleness never comes back. */
static void conn_idle_begin(struct srv_conn *c)
{
    c->idle = true;
    atomic_fetch_add(&c->loop->idle_credit, 1);
}

/* `claimed`: an eviction claim already took the connection off the loop's credit. */
static void conn_idle_end(struct srv_conn *c, bool claimed)
{
    if (!c->idle)
        return;
    c->idle = false;
    if (!claimed)
        atomic_fetch_sub(&c->loop->idle_credit, 1);
}

static int64_t now_ms(void)
{
    return m2m_mono_ms();
}

static m2m_rc conn_new(struct srv_loop *l, int fd, int li, const struct sockaddr_storage *peer,
                       socklen_t peer_len, const char *peer_key)
{
    m2m_rc rc = M2M_OK;
    struct srv *s = l->srv;
    int one = 1;
    struct srv_conn *c = calloc(1, sizeof *c);
    ENSURE_NONNULL(c);
    c->loop = l;
    c->fd = fd;
    c->listener = li;
    c->in_cap = s->cfg.http.max_header_bytes + s->cfg.http.max_body + 2;
    c->t_open_ms = c->t_activity_ms = now_ms();
    c->seq = ++l->conn_seq;
    snprintf(c->peer_key, sizeof c->peer_key, "%s", peer_key);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->sec.kind = M2M_SEC_NONE;
    memcpy(&c->sec.peer, peer, sizeof c->sec.peer);
    c->sec.peer_len = peer_len;
    c->sec.trusted_listener = s->cfg.listeners[li].trusted;
    c->state = CONN_OPEN;
    if (s->cfg.listeners[li].tls) {
        TRY(tls_session_new(s->tls, fd, &c->tls));
        c->state = CONN_HANDSHAKE;
    }
    c->ev_mask = EPOLLIN;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    ENSURE(epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == 0, M2M_ERR_IO);
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    l->conns = c;
    conn_idle_begin(c);
    c = NULL;
out:
    if (c != NULL) {
        tls_session_free(c->tls);
        free(c);
    }
    return rc;
}

/* The oldest idle connection of l, or NULL. */
static struct srv_conn *conn_idle_victim(struct srv_loop *l)
{
    struct srv_conn *victim = NULL;
    for (struct srv_conn *c = l->conns; c != NULL; c = c->next)
        if (c->idle && (victim == NULL || c->seq < victim->seq))
            victim = c;
    return victim;
}

bool conn_evict_idle(struct srv_loop *l, bool claimed)
{
    struct srv_conn *victim = conn_idle_victim(l);
    if (victim == NULL)
        return false;
    conn_idle_end(victim, claimed);
    conn_close(victim); /* gives its slot back */
    return true;
}

/* At max_connections an idle connection makes room, so that a flood of idle connections cannot
 * lock out real clients, whose connections are protected from their first request byte on. The
 * limit is a total over the loops, and the kernel spreads connections over the loops by address
 * hash: the accepting loop closes its own oldest idle connection, else claims one of another
 * loop, which closes it when it wakes; until then the total is over the limit by the claims in
 * flight, and a claim that finds its loop without an idle connection (one turned active) moves
 * to another loop or lapses. Either way the total stays within max_connections +
 * SRV_EVICT_SLACK. False: refuse the newcomer. */
static bool conn_admit(struct srv_loop *l)
{
    struct srv *s = l->srv;
    int open = atomic_fetch_add(&s->open, 1);
    if (open < s->cfg.max_connections)
        return true;
    atomic_fetch_add(&s->rejected_limit, 1);
    if (conn_evict_idle(l, false))
        return true;
    if (open - s->cfg.max_connections < SRV_EVICT_SLACK && loop_claim_idle(s, l->idx))
        return true;
    atomic_fetch_sub(&s->open, 1);
    return false;
}

/* Per-peer quota refusals are logged at most once a second, with the count of those not
 * logged, so that a flood cannot flood the log too. */
static void quota_warn(struct srv *s, const struct sockaddr_storage *ss)
{
    long long now = (long long)m2m_mono_ms(), last = atomic_load(&s->quota_warn_ms);
    if (now - last < 1000 || !atomic_compare_exchange_strong(&s->quota_warn_ms, &last, now)) {
        atomic_fetch_add(&s->quota_quiet, 1);
        return;
    }
    char a[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, a, sizeof a);
    else if (ss->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, a, sizeof a);
    log_warn("net: connection from %s refused: per-peer limit of %d reached (%lu more refused "
             "since the last warning)",
             a, s->cfg.max_connections_per_ip, (unsigned long)atomic_exchange(&s->quota_quiet, 0));
}

/* Accepts every pending connection on lfd. Over the per-peer quota or max_connections a
 * connection is closed at once (it never gets a buffer or a TLS session). */
void conn_accept(struct srv_loop *l, int lfd, int li)
{
    struct srv *s = l->srv;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        char key[PEERQ_KEY_MAX] = "";
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                loop_pause_listener(l, li); /* a level-triggered listener would spin */
            else if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warn("net: accept: %s", strerror(errno));
            return;
        }
        if (s->peerq != NULL && !peerq_acquire(s->peerq, &ss, key)) {
            atomic_fetch_add(&s->rejected_limit, 1);
            quota_warn(s, &ss);
            close(fd);
            continue;
        }
        if (!conn_admit(l)) {
            peerq_release(s->peerq, key);
            close(fd);
            continue;
        }
        if (conn_new(l, fd, li, &ss, sl, key) != M2M_OK) {
            atomic_fetch_sub(&s->open, 1);
            peerq_release(s->peerq, key);
            close(fd);
            continue;
        }
        atomic_fetch_add(&s->accepted, 1);
        atomic_fetch_add(&l->n_accepted, 1);
    }
}

/* Closes now: the socket goes, the exchanges are detached (an unanswered one lives on until its
 * srv_respond is processed), the memory is freed at the end of the loop iteration. */
void conn_close(struct srv_conn *c)
{
    struct srv_loop *l = c->loop;
    if (c->state == CONN_CLOSED)
        return;
    c->state = CONN_CLOSED;
    conn_idle_end(c, false);
    conn_park_drop(c);
    peerq_release(l->srv->peerq, c->peer_key);
    c->peer_key[0] = '\0';
    (void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    tls_session_free(c->tls);
    c->tls = NULL;
    close(c->fd);
    c->fd = -1;
    for (struct srv_exchange *x = c->xq_head, *next; x != NULL; x = next) {
        next = x->next;
        x->conn = NULL;
        exchange_unref(x);
    }
    c->xq_head = c->xq_tail = NULL;
    c->n_pending = 0;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = NULL;
    c->next = l->zombie;
    l->zombie = c;
    atomic_fetch_sub(&l->srv->open, 1);
}

static void conn_in_account(struct srv_conn *c);

void conn_free(struct srv_conn *c)
{
    if (c == NULL)
        return;
    m2m_buf_free(&c->in);
    if (c->loop != NULL)
        conn_in_account(c);
    if (c->out_sensitive)
        m2m_buf_wipe(&c->out);
    m2m_buf_free(&c->out);
    free(c);
}

/* After the last response of a closing connection: send FIN (and close_notify), then read and
 * discard until the peer closes, so unread request bytes do not turn into an RST that destroys
 * the response in flight. */
static void conn_begin_linger(struct srv_conn *c)
{
    if (c->tls)
        tls_bye(c->tls);
    if (shutdown(c->fd, SHUT_WR) != 0) {
        conn_close(c);
        return;
    }
    c->state = CONN_LINGER;
    c->t_linger_ms = now_ms();
    conn_set_interest(c);
}

static void conn_linger(struct srv_conn *c)
{
    uint8_t sink[4096];
    for (int i = 0; i < 64; i++) {
        ssize_t n = recv(c->fd, sink, sizeof sink, 0);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        break; /* EOF or error */
    }
    conn_close(c);
}

/* ---- writing ---- */

static bool out_pending(const struct srv_conn *c)
{
    return c->out.len > c->out_off;
}

/* Moves answered exchanges from the head of the FIFO to the output buffer, in request order. */
static m2m_rc conn_collect(struct srv_conn *c)
{
    m2m_rc rc = M2M_OK;
    while (c->xq_head != NULL && c->xq_head->done) {
        struct srv_exchange *x = c->xq_head;
        ENSURE(!x->failed, M2M_ERR_NOMEM);
        if (x->sensitive)
            c->out_sensitive = true; /* before an append can move the older bytes */
        if (c->out_sensitive && out_pending(c) && c->out.len + x->wire.len + 1 > c->out.cap) {
            /* grow by copy so that the old storage is wiped, never left to realloc */
            struct m2m_buf big = M2M_BUF_INIT;
            TRY(m2m_buf_append(&big, c->out.data, c->out.len));
            m2m_buf_wipe(&c->out);
            m2m_buf_free(&c->out);
            c->out = big;
        }
        if (!out_pending(c)) {
            struct m2m_buf t = c->out; /* empty: take the response's storage instead of copying */
            c->out = x->wire;
            x->wire = t;
            c->out_off = 0;
        } else {
            TRY(m2m_buf_append(&c->out, x->wire.data, x->wire.len));
        }
        if (!x->keep_alive) {
            c->close_after_out = true;
            c->stop_parsing = true;
        }
        c->xq_head = x->next;
        if (c->xq_head == NULL)
            c->xq_tail = NULL;
        c->n_pending--;
        x->conn = NULL;
        exchange_unref(x);
        c->t_activity_ms = now_ms();
    }
out:
    return rc;
}

static m2m_rc conn_flush(struct srv_conn *c)
{
    c->want_write = false;
    while (out_pending(c)) {
        const uint8_t *p = c->out.data + c->out_off;
        size_t len = c->out.len - c->out_off, n = 0;
        if (c->tls) {
            m2m_rc rc = tls_write(c->tls, p, len, &n);
            if (rc == M2M_ERR_AGAIN) {
                c->want_write = true;
                return M2M_OK;
            }
            if (rc != M2M_OK)
                return rc;
        } else {
            ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                c->want_write = true;
                return M2M_OK;
            }
            if (w < 0)
                return M2M_ERR_IO;
            n = (size_t)w;
        }
        c->out_off += n;
        c->t_activity_ms = now_ms();
    }
    if (c->out_sensitive) {
        m2m_buf_wipe(&c->out);
        c->out_sensitive = false;
    }
    c->out.len = c->out_off = 0;
    if (c->out.cap > 4 * SRV_READ_CHUNK)
        m2m_buf_free(&c->out); /* do not keep a big response's storage for an idle client */
    return M2M_OK;
}

/* ---- reading and framing ---- */

static bool conn_can_read(const struct srv_conn *c)
{
    return c->state == CONN_OPEN && !c->read_eof && !c->stop_parsing &&
           c->out.len - c->out_off < SRV_BACKPRESSURE_BYTES &&
           c->n_pending < cfg_of(c)->max_pipeline && c->in.len < c->in_cap;
}

/* Keeps srv.buffered equal to the sum of the input buffers' capacities. */
static void conn_in_account(struct srv_conn *c)
{
    struct srv *s = c->loop->srv;
    if (c->in.cap > c->in_counted)
        atomic_fetch_add(&s->buffered, c->in.cap - c->in_counted);
    else if (c->in.cap < c->in_counted)
        atomic_fetch_sub(&s->buffered, c->in_counted - c->in.cap);
    c->in_counted = c->in.cap;
}

/* srv_cfg.max_buffered_bytes: may this connection's input buffer grow to hold `need` bytes?
 * Always up to SRV_INPUT_FREE; beyond, only while the total stays within the budget (the growth
 * is estimated as the doubling m2m_buf_reserve does). Refusals are logged at most once a
 * second. */
static bool conn_in_budget_ok(struct srv_conn *c, size_t need)
{
    struct srv *s = c->loop->srv;
    size_t budget = s->cfg.max_buffered_bytes;
    if (budget == 0 || need <= c->in.cap || need <= SRV_INPUT_FREE)
        return true;
    size_t grow = (c->in.cap * 2 > need ? c->in.cap * 2 : need) - c->in.cap;
    if (atomic_load(&s->buffered) + grow <= budget)
        return true;
    atomic_fetch_add(&s->buffer_refusals, 1);
    long long now = (long long)m2m_mono_ms(), last = atomic_load(&s->buf_warn_ms);
    if (now - last >= 1000 && atomic_compare_exchange_strong(&s->buf_warn_ms, &last, now))
        log_warn("net: request input memory at limits.max_buffered_bytes (%zu bytes): a "
                 "connection needing more is answered 503 and closed",
                 budget);
    return false;
}

static void conn_http_error(struct srv_conn *c, int status);

/* Reads until the socket is drained or the input bound is reached. */
static m2m_rc conn_fill(struct srv_conn *c, bool *progress)
{
    while (c->in.len < c->in_cap) {
        size_t room = c->in_cap - c->in.len, n = 0;
        if (room > SRV_READ_CHUNK)
            room = SRV_READ_CHUNK;
        if (!conn_in_budget_ok(c, c->in.len + room)) {
            conn_http_error(c, 503);
            *progress = true;
            return M2M_OK;
        }
        m2m_rc grown = m2m_buf_reserve(&c->in, room);
        conn_in_account(c);
        RETURN_IF_ERR(grown);
        uint8_t *dst = c->in.data + c->in.len;
        if (c->tls) {
            m2m_rc rc = tls_read(c->tls, dst, room, &n);
            if (rc == M2M_ERR_AGAIN)
                return M2M_OK;
            if (rc == M2M_ERR_CLOSED)
                n = 0;
            else if (rc != M2M_OK)
                return rc;
        } else {
            ssize_t r = recv(c->fd, dst, room, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return M2M_OK;
            if (r < 0)
                return M2M_ERR_IO;
            n = (size_t)r;
        }
        *progress = true;
        if (n == 0) {
            c->read_eof = true;
            return M2M_OK;
        }
        c->in.len += n;
        conn_idle_end(c, false); /* protected from eviction from now on */
        c->t_activity_ms = now_ms();
    }
    return M2M_OK;
}

/* Queues a bare HTTP error (framing failure or timeout) after the pending responses and stops
 * reading; the connection closes once it is written. */
static void conn_http_error(struct srv_conn *c, int status)
{
    c->stop_parsing = true;
    struct srv_exchange *x = exchange_new(c);
    if (x == NULL) {
        c->close_after_out = true;
        return;
    }
    x->keep_alive = false;
    x->done = true;
    if (http_write_error(status, m2m_http_reason(status), &x->wire) != M2M_OK)
        x->failed = true;
}

static char *header_dup(const struct http_msg *m, const char *name)
{
    const struct http_header *h = http_find_header(m, name);
    return h ? strndup(h->value, h->value_len) : NULL;
}

/* The request did not map to a primitive: answer it here, in its place in the FIFO. */
static void conn_answer_mapping_error(struct srv_exchange *x, const struct http_msg *m, m2m_rsc rsc,
                                      const char *msg)
{
    struct m2m_response r;
    m2m_response_init(&r);
    m2m_response_error(&r, rsc != RSC_NONE ? rsc : RSC_BAD_REQUEST, "%s",
                       msg[0] ? msg : "bad request");
    r.rqi = header_dup(m, "X-M2M-RI");
    r.rvi = header_dup(m, "X-M2M-RVI");
    if (r.body == NULL || http_write_response(&r, x->keep_alive, &x->wire) != M2M_OK)
        x->failed = true;
    m2m_response_clear(&r);
    m2m_request_clear(&x->req);
    x->done = true;
}

/* Gives x to the primitive handler (req) or the raw-route handler (req NULL). */
static void conn_hand_over(struct srv_conn *c, struct srv_exchange *x, struct m2m_request *req)
{
    struct srv *s = c->loop->srv;
    x->refs++; /* the handler's, dropped when its answer comes back to this loop */
    x->counted = true;
    atomic_fetch_add(&s->outstanding, 1);
    if (req != NULL)
        s->fn(s->ctx, x, req);
    else
        s->cfg.raw_fn(s->cfg.raw_ctx, x, raw_request(x->raw));
}

/* One complete request: map it (or route it raw) and hand it to the handler. */
static void conn_dispatch(struct srv_conn *c, const struct http_msg *m)
{
    struct srv *s = c->loop->srv;
    struct srv_exchange *x = exchange_new(c);
    if (x == NULL) {
        c->stop_parsing = c->close_after_out = true;
        return;
    }
    atomic_fetch_add(&s->requests, 1);
    x->keep_alive = m->keep_alive;
    if (!m->keep_alive)
        c->stop_parsing = true;
    if (raw_route(c, x, m)) {
        if (x->raw != NULL)
            conn_hand_over(c, x, NULL);
        return;
    }
    m2m_rsc rsc = RSC_NONE;
    char err[256] = "";
    m2m_rc rc = http_to_request(m, &x->req, &rsc, err, sizeof err);
    if (rc != M2M_OK) {
        if (rc != M2M_ERR_MALFORMED)
            rsc = RSC_INTERNAL_SERVER_ERROR;
        conn_answer_mapping_error(x, m, rsc, err);
        atomic_fetch_add(&s->responses, 1);
        return;
    }
    x->req.t_recv_us = m2m_now_us();
    x->req.sec = c->sec;
    conn_hand_over(c, x, &x->req);
}

/* True while a request of this connection is with the handler. Requests on one connection are
 * processed strictly in order (RFC 9112 9.3.2): a pipelined GET after a POST must see what the
 * POST did, and the POST is answered only after its commit. */
static bool conn_handler_busy(const struct srv_conn *c)
{
    if (cfg_of(c)->concurrent_pipeline)
        return false;
    for (const struct srv_exchange *x = c->xq_head; x != NULL; x = x->next)
        if (x->counted && !x->done)
            return true;
    return false;
}

/* Parses as many buffered requests as the pipeline allows. Returns true on progress. */
static bool conn_parse(struct srv_conn *c)
{
    const struct srv_cfg *cfg = cfg_of(c);
    size_t off = 0;
    bool progress = false;
    while (!c->stop_parsing && !conn_handler_busy(c) && c->n_pending < cfg->max_pipeline &&
           off < c->in.len && c->out.len - c->out_off < SRV_BACKPRESSURE_BYTES) {
        struct http_msg msg;
        size_t used = 0;
        int status = 400;
        enum http_parse_result r =
            http_parse_request(c->in.data + off, c->in.len - off, &cfg->http, &msg, &used, &status);
        if (r == HTTP_PARSE_NEED_MORE) {
            if (off == 0 && c->in.len >= c->in_cap) { /* cannot happen if the parser is bounded */
                atomic_fetch_add(&c->loop->srv->parse_errors, 1);
                conn_http_error(c, 413);
                progress = true;
            }
            break;
        }
        progress = true;
        if (r != HTTP_PARSE_DONE || used == 0 || used > c->in.len - off) {
            atomic_fetch_add(&c->loop->srv->parse_errors, 1);
            conn_http_error(c, r == HTTP_PARSE_ERROR && status >= 400 ? status : 400);
            break;
        }
        conn_dispatch(c, &msg);
        off += used;
        c->t_req_start_ms = 0;
    }
    if (off > 0)
        m2m_buf_consume(&c->in, off);
    if (c->in.len > 0 && c->t_req_start_ms == 0)
        c->t_req_start_ms = now_ms(); /* the first bytes of the next request are here */
    if (c->in.len == 0 && c->in.cap > 4 * SRV_READ_CHUNK) {
        m2m_buf_free(&c->in);
        conn_in_account(c);
    }
    return progress;
}

/* ---- driving ---- */

static void conn_set_interest(struct srv_conn *c)
{
    uint32_t m = 0;
    if (c->state == CONN_CLOSED)
        return;
    if (c->state == CONN_HANDSHAKE && conn_parked(c))
        m = 0; /* psk_prefetch: the wake resumes it (park.c); the timeout keeps running */
    else if (c->state == CONN_HANDSHAKE)
        m = c->want_write ? EPOLLOUT : EPOLLIN;
    else if (c->state == CONN_LINGER)
        m = EPOLLIN;
    else {
        if (conn_can_read(c))
            m |= EPOLLIN;
        if (out_pending(c) && c->want_write)
            m |= EPOLLOUT;
    }
    if (m == c->ev_mask)
        return;
    struct epoll_event ev = {.events = m, .data.ptr = c};
    if (epoll_ctl(c->loop->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        conn_close(c);
        return;
    }
    c->ev_mask = m;
}

/* True when the connection's association used a credential that is revoked now. */
bool conn_cred_revoked(const struct srv_conn *c)
{
    const struct tls_cred_hooks *h = &cfg_of(c)->tls.creds;
    return h->is_revoked != NULL && c->sec.cred_id[0] != '\0' &&
           h->is_revoked(h->ctx, c->sec.cred_id);
}

/* Advances the TLS handshake; true once the connection is open for HTTP. */
static bool conn_handshake(struct srv_conn *c)
{
    struct srv *s = c->loop->srv;
    c->loop->hs_conn = c; /* for park_cookie, should the handshake park */
    m2m_rc rc = tls_handshake(c->tls);
    c->loop->hs_conn = NULL;
    if (rc == M2M_ERR_AGAIN) {
        c->want_write = tls_wants_write(c->tls);
        conn_set_interest(c);
        return false;
    }
    if (rc == M2M_OK)
        rc = tls_peer_secctx(c->tls, &c->sec);
    if (rc == M2M_OK && conn_cred_revoked(c))
        rc = M2M_ERR_DENIED; /* revoked between the credential lookup and now */
    if (rc != M2M_OK) {
        atomic_fetch_add(&s->tls_handshake_failures, 1);
        conn_close(c);
        return false;
    }
    log_debug("net: TLS %s up, identity '%s'", tls_version_name(c->tls), c->sec.identity);
    c->state = CONN_OPEN;
    c->want_write = false;
    c->t_activity_ms = now_ms();
    return true;
}

/* Does everything the connection can do now: queue answered responses, write, read, parse. */
void conn_service(struct srv_conn *c)
{
    if (c->state == CONN_HANDSHAKE && !conn_handshake(c))
        return;
    if (c->state == CONN_LINGER) {
        conn_linger(c);
        return;
    }
    for (int round = 0; round < 16 && c->state == CONN_OPEN; round++) {
        bool progress = false;
        if (conn_collect(c) != M2M_OK || conn_flush(c) != M2M_OK) {
            conn_close(c);
            return;
        }
        if (c->n_pending == 0 && !out_pending(c)) {
            if (c->close_after_out) {
                conn_begin_linger(c);
                return;
            }
            if (c->read_eof) {
                conn_close(c);
                return;
            }
        }
        if (conn_can_read(c) && conn_fill(c, &progress) != M2M_OK) {
            conn_close(c);
            return;
        }
        if (conn_parse(c))
            progress = true;
        if (c->read_eof && c->in.len > 0 && !c->stop_parsing && c->n_pending == 0) {
            conn_close(c); /* the peer left in the middle of a request */
            return;
        }
        if (!progress)
            break;
    }
    /* Records GnuTLS already decrypted never wake epoll: come back for them. */
    if (c->state == CONN_OPEN && c->tls && conn_can_read(c) && tls_pending(c->tls) > 0)
        loop_mark_dirty(c->loop, c);
    conn_set_interest(c);
}

void conn_on_event(struct srv_conn *c, uint32_t events)
{
    if (events & (EPOLLERR | EPOLLHUP)) {
        conn_close(c);
        return;
    }
    conn_service(c);
}

/* Timeouts, checked every SRV_TICK_MS: handshake, stalled writes, slow requests (slowloris),
 * idle keep-alive connections. */
void conn_tick(struct srv_conn *c, int64_t now)
{
    const struct srv_cfg *cfg = cfg_of(c);
    struct srv *s = c->loop->srv;
    if (c->state == CONN_HANDSHAKE) {
        if (now - c->t_open_ms > cfg->handshake_timeout_ms) {
            atomic_fetch_add(&s->timeouts, 1);
            conn_close(c);
        }
        return;
    }
    if (c->state == CONN_LINGER) {
        if (now - c->t_linger_ms > SRV_LINGER_MS)
            conn_close(c);
        return;
    }
    if (c->state != CONN_OPEN)
        return;
    if (out_pending(c)) {
        if (now - c->t_activity_ms > cfg->idle_timeout_ms) {
            atomic_fetch_add(&s->timeouts, 1);
            conn_close(c); /* the peer does not read */
        }
        return;
    }
    if (c->n_pending > 0)
        return; /* the handler has the floor */
    if (c->in.len > 0 && c->t_req_start_ms != 0 && !c->stop_parsing &&
        now - c->t_req_start_ms > cfg->read_timeout_ms) {
        atomic_fetch_add(&s->timeouts, 1);
        conn_http_error(c, 408);
        conn_service(c);
        return;
    }
    if (c->in.len == 0 && now - c->t_activity_ms > cfg->idle_timeout_ms) {
        atomic_fetch_add(&s->timeouts, 1);
        conn_close(c);
    }
}
