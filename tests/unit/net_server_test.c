/* net_server_test.c: the plain-HTTP transport against real sockets: single, keep-alive and
 * pipelined requests (answered out of order from another thread), framing errors, timeouts, the
 * connection limit, large responses, and late answers on closed connections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "enc/json.h"
#include "net/server.h"

/* ---- test handlers ---- */

enum th_mode { TH_ECHO, TH_LATE };

struct th {
    enum th_mode mode;
    int batch;    /* LATE: answer once this many are waiting */
    int delay_ms; /* LATE: before answering */
    bool reverse; /* LATE: answer the batch last-first */
    size_t big;   /* ECHO: body size when To ends in "big" */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct srv_exchange *pend[64];
    struct m2m_request *preq[64];
    int npend, answered, seen;
    struct m2m_secctx sec; /* of the last request */
    int64_t t_recv_us;
    bool quit;
    pthread_t worker;
};

static void answer(struct srv_exchange *x, const struct m2m_request *req, size_t big)
{
    struct m2m_response r;
    m2m_response_init(&r);
    r.rsc = RSC_OK;
    r.rqi = req->rqi ? strdup(req->rqi) : NULL;
    if (big > 0 && req->to && strstr(req->to, "big")) {
        r.body = malloc(big + 1);
        assert_non_null(r.body);
        memset(r.body, 'b', big);
        r.body[big] = 0;
        r.body_len = big;
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "to", req->to ? req->to : "");
        r.body = json_print(o);
        r.body_len = strlen(r.body);
        cJSON_Delete(o);
    }
    srv_respond(x, &r);
}

static void handler(void *ctx, struct srv_exchange *x, struct m2m_request *req)
{
    struct th *t = ctx;
    pthread_mutex_lock(&t->mu);
    t->seen++;
    t->sec = req->sec;
    t->t_recv_us = req->t_recv_us;
    pthread_mutex_unlock(&t->mu);
    if (t->mode == TH_ECHO) {
        answer(x, req, t->big);
        return;
    }
    pthread_mutex_lock(&t->mu);
    assert_true(t->npend < 64);
    t->pend[t->npend] = x;
    t->preq[t->npend] = req;
    t->npend++;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void *worker_main(void *arg)
{
    struct th *t = arg;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        while (t->npend < t->batch && !t->quit)
            pthread_cond_wait(&t->cv, &t->mu);
        if (t->npend == 0 && t->quit)
            break;
        int n = t->npend;
        struct srv_exchange *xs[64];
        struct m2m_request *rs[64];
        memcpy(xs, t->pend, sizeof xs);
        memcpy(rs, t->preq, sizeof rs);
        t->npend = 0;
        pthread_mutex_unlock(&t->mu);
        usleep((useconds_t)t->delay_ms * 1000);
        for (int i = 0; i < n; i++) {
            int k = t->reverse ? n - 1 - i : i;
            answer(xs[k], rs[k], 0);
        }
        pthread_mutex_lock(&t->mu);
        t->answered += n;
        pthread_cond_broadcast(&t->cv);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

static void th_init(struct th *t, enum th_mode mode, int batch, int delay_ms, bool reverse)
{
    memset(t, 0, sizeof *t);
    t->mode = mode;
    t->batch = batch;
    t->delay_ms = delay_ms;
    t->reverse = reverse;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (mode == TH_LATE)
        assert_int_equal(pthread_create(&t->worker, NULL, worker_main, t), 0);
}

static void th_done(struct th *t)
{
    if (t->mode == TH_LATE) {
        pthread_mutex_lock(&t->mu);
        t->quit = true;
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->worker, NULL);
    }
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
}

static int th_answered(struct th *t)
{
    pthread_mutex_lock(&t->mu);
    int n = t->answered;
    pthread_mutex_unlock(&t->mu);
    return n;
}

/* ---- server and client helpers ---- */

static struct srv *start(struct srv_cfg *c, struct th *t)
{
    struct srv *s = NULL;
    c->n_listeners = 1;
    snprintf(c->listeners[0].addr, sizeof c->listeners[0].addr, "127.0.0.1");
    c->listeners[0].port = 0;
    c->threads = 2;
    assert_int_equal(srv_start(c, handler, t, &s), M2M_OK);
    assert_true(srv_bound_port(s, 0) > 0);
    return s;
}

struct cl {
    int fd;
    uint8_t buf[1 << 16];
    size_t len;
    uint8_t *big; /* for large bodies */
    size_t big_len;
};

static void cl_open(struct cl *c, int port)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static void cl_close(struct cl *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->big);
}

static void cl_send(struct cl *c, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        s += w;
        n -= (size_t)w;
    }
}

static void cl_sends(struct cl *c, const char *s)
{
    cl_send(c, s, strlen(s));
}

struct resp {
    int status;
    char rsc[16];
    char rqi[64];
    char body[512];
    size_t body_len;
    bool close;
};

static void hdr_copy(const struct http_msg *m, const char *name, char *out, size_t n)
{
    const struct http_header *h = http_find_header(m, name);
    out[0] = 0;
    if (h)
        snprintf(out, n, "%.*s", (int)h->value_len, h->value);
}

/* Reads one response; returns the status, or -1 on EOF/timeout/reset before a full one. */
static int cl_recv(struct cl *c, struct resp *r)
{
    struct http_limits lim;
    http_limits_default(&lim);
    lim.max_body = 64u << 20;
    memset(r, 0, sizeof *r);
    for (;;) {
        struct http_msg m;
        size_t used = 0;
        int err = 0;
        uint8_t *data = c->big ? c->big : c->buf;
        if (c->len > 0) {
            enum http_parse_result pr =
                http_parse_response(data, c->len, false, &lim, &m, &used, &err);
            assert_int_not_equal(pr, HTTP_PARSE_ERROR);
            if (pr == HTTP_PARSE_DONE) {
                r->status = m.status;
                hdr_copy(&m, "X-M2M-RSC", r->rsc, sizeof r->rsc);
                hdr_copy(&m, "X-M2M-RI", r->rqi, sizeof r->rqi);
                r->body_len = m.body_len;
                snprintf(r->body, sizeof r->body, "%.*s",
                         (int)(m.body_len < 500 ? m.body_len : 500), (const char *)m.body);
                r->close = !m.keep_alive;
                memmove(data, data + used, c->len - used);
                c->len -= used;
                return r->status;
            }
        }
        size_t cap = c->big ? c->big_len : sizeof c->buf;
        if (c->len == cap) {
            /* switch to a large buffer */
            size_t ncap = cap * 4;
            uint8_t *nb = malloc(ncap);
            assert_non_null(nb);
            memcpy(nb, data, c->len);
            free(c->big);
            c->big = nb;
            c->big_len = ncap;
            continue;
        }
        ssize_t n = recv(c->fd, data + c->len, cap - c->len, 0);
        if (n <= 0)
            return -1;
        c->len += (size_t)n;
    }
}

/* True when the server closed: recv returns 0 or a reset within ms. */
static bool cl_closed_within(struct cl *c, int ms)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0)
        return false;
    char b[256];
    ssize_t n = recv(c->fd, b, sizeof b, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

#define REQ_FMT                                                                                    \
    "GET /~/cse-in/%s HTTP/1.1\r\nHost: t\r\nX-M2M-Origin: CAdmin\r\nX-M2M-RI: %s\r\n"             \
    "X-M2M-RVI: 3\r\n\r\n"

static void cl_get(struct cl *c, const char *res, const char *rqi)
{
    char b[512];
    snprintf(b, sizeof b, REQ_FMT, res, rqi);
    cl_sends(c, b);
}

static void wait_stat(struct srv *s, int open_conns, int ms)
{
    struct srv_stats st;
    for (int i = 0; i < ms / 10; i++) {
        srv_get_stats(s, &st);
        if (st.open_connections == open_conns)
            return;
        usleep(10000);
    }
    srv_get_stats(s, &st);
    assert_int_equal(st.open_connections, open_conns);
}

/* ---- tests ---- */

static void test_one_request(void **state)
{
    struct srv_cfg cfg;
    struct th t;
    struct cl c;
    struct resp r;
    srv_cfg_default(&cfg);
    th_init(&t, TH_ECHO, 0, 0, false);
    cfg.listeners[0].trusted = true;
    struct srv *s = start(&cfg, &t);
    cl_open(&c, srv_bound_port(s, 0));
    cl_get(&c, "x", "r1");
    assert_int_equal(cl_recv(&c, &r), 200);
    assert_int_equal(t.sec.kind, M2M_SEC_NONE);
    assert_true(t.sec.trusted_listener);
    assert_string_equal(t.sec.identity, "");
    assert_int_equal(t.sec.peer.ss_family, AF_INET);
    assert_int_equal(((struct sockaddr_in *)&t.sec.peer)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    assert_true(t.t_recv_us > 1700000000000000LL);
    assert_string_equal(r.rsc, "2000");
    assert_string_equal(r.rqi, "r1");
    assert_string_equal(r.body, "{\"to\":\"/cse-in/x\"}");
    assert_false(r.close);
    cl_close(&c);
    struct srv_stats st;
    wait_stat(s, 0, 2000);
    srv_get_stats(s, &st);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.requests, 1);
    assert_int_equal(st.responses, 1);
    srv_stop(s);
    th_done(&t);
}

static void test_keep_alive_three(void **state)
{
    struct srv_cfg cfg;
    struct th t;
    struct cl c;
    struct resp r;
    srv_cfg_default(&cfg);
    th_init(&t, TH_ECHO, 0, 0, false);
    struct srv *s = start(&cfg, &t);
    cl_open(&c, srv_bound_port(s, 0));
    for (int i = 0; i < 3; i++) {
        char rqi[16], res[16];
        snprintf(rqi, sizeof rqi, "k%d", i);
        snprintf(res, sizeof res, "c%d", i);
        cl_get(&c, res, rqi);
        assert_int_equal(cl_recv(&c, &r), 200);
        assert_string_equal(r.rqi, rqi);
    }
    /* HTTP/1.0 without keep-alive: answered with Connection: close, then closed. */
    cl_sends(&c, "GET /~/cse-in/z HTTP/1.0\r\nX-M2M-Origin: C\r\nX-M2M-RI: last\r\n"
                 "X-M2M-RVI: 3\r\n\r\n");
    assert_int_equal(cl_recv(&c, &r), 200);
    assert_true(r.close);
    assert_true(cl_closed_within(&c, 2000));
    struct srv_stats st;
    srv_get_stats(s, &st);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.requests, 4);
    cl_close(&c);
    srv_stop(s);
    th_done(&t);
}

static void test_pipelined_reverse(void **state)
{
    struct srv_cfg cfg;
    struct th t;
    struct cl c;
    struct resp r;
    srv_cfg_default(&cfg);
    cfg.concurrent_pipeline = true;    /* handler answers out of order on purpose */
    th_init(&t, TH_LATE, 3, 50, true); /* answers 3, last first */
    struct srv *s = start(&cfg, &t);
    cl_open(&c, srv_bound_port(s, 0));
    char b[2048];
    int n = 0;
    for (int i = 0; i < 3; i++) {
        char rqi[16], res[16];
        snprintf(rqi, sizeof rqi, "p%d", i);
        snprintf(res, sizeof res, "x%d", i);
        n += snprintf(b + n, sizeof b - (size_t)n, REQ_FMT, res, rqi);
    }
    cl_send(&c, b, (size_t)n); /* one write */
    for (int i = 0; i < 3; i++) {
        char rqi[16], body[64];
        snprintf(rqi, sizeof rqi, "p%d", i);
        snprintf(body, sizeof body, "{\"to\":\"/cse-in/x%d\"}", i);
        assert_int_equal(cl_recv(&c, &r), 200);
        assert_string_equal(r.rqi, rqi);
        assert_string_equal(r.body, body);
    }
    for (int i = 0; i < 100 && th_answered(&t) < 3; i++)
        usleep(10000); /* the worker counts after srv_respond returned */
    assert_int_equal(th_answered(&t), 3);
    cl_close(&c);
    srv_stop(s);
    th_done(&t);
}

/* A request that frames but does not map is answered by the transport, in its place. */
static void test_mapping_error_in_order(void **state)
{
    struct srv_cfg cfg;
    struct th t;
    struct cl c;
    struct resp r;
    srv_cfg_default(&cfg);
    cfg.concurrent_pipeline = true; /* handler answers out of order on purpose */
    th_init(&t, TH_LATE, 2, 50, true);
    struct srv *s = start(&cfg, &t);
    cl_open(&c, srv_bound_port(s, 0));
    char b[2048];
    int n = snprintf(b, sizeof b, REQ_FMT, "a", "m1");
    n += snprintf(b + n, sizeof b - (size_t)n, REQ_FMT, "b?nosuchparam=1", "m2");
    n += snprintf(b + n, sizeof b - (size_t)n, REQ_FMT, "c", "m3");
    cl_send(&c, b, (size_t)n);
    assert_int_equal(cl_recv(&c, &r), 200);
    assert_string_equal(r.rqi, "m1");
    assert_int_equal(cl_recv(&c, &r), 400);
    assert_string_equal(r.rsc, "4000");
    assert_string_equal(r.rqi, "m2");
    assert_non_null(strstr(r.body, "m2m:dbg"));
    assert_int_equal(cl_recv(&c, &r), 200);
    assert_string_equal(r.rqi, "m3");
    /* the connection is still usable */
    cl_get(&c, "d", "m4");
    cl_get(&c, "e", "m5");
    assert_int_equal(cl_recv(&c, &r), 200);
    assert_string_equal(r.rqi, "m4");
    assert_int_equal(cl_recv(&c, &r), 200);
    cl_close(&c);
    srv_stop(s);
    th_done(&t);
}

static void test_malformed_400(void **state)
{
    struct srv_cfg cfg;
    struct th t;
    struct cl c;
    struct resp r;
    srv_cfg_default(&cfg);
    th_init(&t, TH_ECHO, 0, 0, false);
    struct srv *s = start(&cfg, &t);
    cl_open(&c, srv_bound_port(s, 0));
    cl_get(&c, "ok", "g1"); /* a good one first: its answer precedes the error */
    cl_sends(&c, "GET /~/x HTTP/1.1\nHost: t\n\n");
    assert_int_equal(cl_recv(&c, &r), 200);
    assert_int_equal(cl_recv(&c, &r), 400);
    assert_true(r.close);
    assert_true(cl_closed_within(&c, 3000));
    struct srv_stats st;
    srv_get_stats(s, &st);
    assert_int_equal(st.parse_errors, 1);
    assert_int_equal(st.requests, 1);
    cl_close(&c);
    srv_stop(s);
    th_done(&t);
}

static void test_oversized_header_431(void **state)
{
    struct srv_cfg cfg;
    struct th t;
    struct cl c;
    struct resp r;
    srv_cfg_default(&cfg);
    th_init(&t, TH_ECHO, 0, 0, false);
    struct srv *s = start(&cfg, &t);
    cl_open(&c, srv_bound_port(s, 0));
    size_t big = cfg.http.max_header_bytes + 4096;
    char *h = malloc(big + 256);
    assert_non_null(h);
    int n = snprintf(h, 256, "GET /~/x HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(h + n, 'a', big);
    memcpy(h + n + big, "\r\n\r\n", 4);
    cl_send(&c, h, (size_t)n + big + 4);
    free(h);
    assert_int_equal(cl_recv(&c, &r), 431);
    assert_true(cl_closed_within(&c, 3000));
    assert_int_equal(t.seen, 0);
    cl_close(&c);
    srv_stop(s);
    th_done(&t);
}

static void test_idle_timeout(void **state)
{
    struct srv_cfg cfg;
    struct th t;
    struct cl c;
    struct resp r;
    srv_cfg_default(&cfg);
    cfg.idle_timeout_ms = 300;
    th_init(&t, TH_ECHO, 0, 0, false);
    struct srv *s = start(&cfg, &t);
    cl_open(&c, srv_bound_port(s, 0));
    cl_get(&c, "x", "i1");
    assert_int_equal(cl_recv(&c, &r), 200);
    assert_false(cl_closed_within(&c, 150)); /* not yet */
    assert_true(cl_closed_within(&c, 2000));
    struct srv_stats st;
    srv_get_stats(s, &st);
    assert_int_equal(st.timeouts, 1);
    cl_close(&c);
    srv_stop(s);
    th_done(&t);
}

static void test_read_timeout_slowloris(void **state)
{
    struct srv_cfg cfg;
    struct th t;
    struct cl c;
    struct resp r;
    srv_cfg_default(&cfg);
    cfg.read_timeout_ms = 400;
    th_init(&t, TH_ECHO, 0, 0, false);
    struct srv *s = start(&cfg, &t);
    cl_open(&c, srv_bound_port(s, 0));
    /* one byte every 100 ms keeps the connection active but never completes the request */
    const char *part = "GET /~/cse-in/x HTTP/1.1\r\nHost: t\r\n";
    for (int i = 0; i < 8 && part[i]; i++) {
        cl_send(&c, part + i, 1);
        usleep(100000);
    }
    assert_int_equal(cl_recv(&c, &r), 408);
    assert_true(r.close);
    assert_true(cl_closed_within(&c, 3000));
    struct srv_stats st;
    srv_get_stats(s, &st);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(t.seen, 0);
    cl_close(&c);
    srv_stop(s);
    th_done(&t);
}

static void test_connection_limit(void **state)
{
    struct srv_cfg cfg;
    struct th t;
    struct cl *c = calloc(6, sizeof *c);
    struct resp r;
    assert_non_null(c);
    srv_cfg_default(&cfg);
    cfg.max_connections = 4;
    cfg.threads = 1; /* one loop: which client comes fifth is deterministic */
    th_init(&t, TH_ECHO, 0, 0, false);
    struct srv *s = start(&cfg, &t);
    /* four clients that have sent a request are protected ... */
    for (int i = 0; i < 4; i++) {
        cl_open(&c[i], srv_bound_port(s, 0));
        cl_get(&c[i], "x", "l");
        assert_int_equal(cl_recv(&c[i], &r), 200);
    }
    /* ... so two more are refused at once */
    for (int i = 4; i < 6; i++)
        cl_open(&c[i], srv_bound_port(s, 0));
    int closed = 0;
    for (int i = 0; i < 6; i++)
        closed += cl_closed_within(&c[i], 500);
    assert_int_equal(closed, 2);
    struct srv_stats st;
    srv_get_stats(s, &st);
    assert_int_equal(st.rejected_limit, 2);
    assert_int_equal(st.accepted, 4);
    assert_int_equal(st.open_connections, 4);
    for (int i = 0; i < 4; i++) {
        cl_get(&c[i], "x", "again");
        assert_int_equal(cl_recv(&c[i], &r), 200);
    }
    for (int i = 0; i < 6; i++)
        cl_close(&c[i]);
    wait_stat(s, 0, 2000);
    /* Eviction of idle connections at the limit, also across loops, is covered by
     * srv_evict_test and the integration test test_hostile_slow.test_connection_flood_leaves_room.
     */
    srv_stop(s);
    th_done(&t);
    free(c);
}

/* The client resets the connection while the handler still holds the exchange; the late
 * srv_respond must only free (ASan checks the rest). */
static void test_client_gone_before_late_answer(void **state)
{
    struct srv_cfg cfg;
    struct th t;
    struct cl c;
    srv_cfg_default(&cfg);
    cfg.concurrent_pipeline = true; /* handler answers out of order on purpose */
    th_init(&t, TH_LATE, 1, 300, false);
    struct srv *s = start(&cfg, &t);
    for (int i = 0; i < 3; i++) {
        cl_open(&c, srv_bound_port(s, 0));
        cl_get(&c, "x", "gone");
        cl_get(&c, "y", "gone2"); /* a second, pipelined one, also unanswered */
        usleep(50000);
        if (i == 0) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* RST */
            setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        } else if (i == 1) {
            shutdown(c.fd, SHUT_WR); /* half close: the answers still go out */
            struct resp r;
            assert_int_equal(cl_recv(&c, &r), 200);
            assert_int_equal(cl_recv(&c, &r), 200);
        }
        cl_close(&c);
        if (i == 0)
            wait_stat(s, 0, 200); /* closed before the answers come */
    }
    for (int i = 0; i < 100 && th_answered(&t) < 6; i++)
        usleep(20000);
    assert_int_equal(th_answered(&t), 6);
    wait_stat(s, 0, 2000);
    srv_stop(s);
    th_done(&t);
}

/* srv_stop waits for late answers of closed connections. */
static void test_stop_with_unanswered(void **state)
{
    struct srv_cfg cfg;
    struct th t;
    struct cl c;
    srv_cfg_default(&cfg);
    th_init(&t, TH_LATE, 1, 300, false);
    struct srv *s = start(&cfg, &t);
    cl_open(&c, srv_bound_port(s, 0));
    cl_get(&c, "x", "st");
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&t.mu);
        int seen = t.seen;
        pthread_mutex_unlock(&t.mu);
        if (seen)
            break;
        usleep(5000);
    }
    srv_stop(s); /* returns only after the answer came back (else ASan sees a use after free) */
    cl_close(&c);
    th_done(&t);
    assert_int_equal(t.answered, 1);
    srv_stop(NULL);
}

static void test_large_response_backpressure(void **state)
{
    struct srv_cfg cfg;
    struct th t;
    struct cl c;
    struct resp r;
    srv_cfg_default(&cfg);
    th_init(&t, TH_ECHO, 0, 0, false);
    t.big = 3u << 20;
    struct srv *s = start(&cfg, &t);
    cl_open(&c, srv_bound_port(s, 0));
    cl_get(&c, "big", "b1");
    cl_get(&c, "big", "b2");
    cl_get(&c, "small", "b3");
    usleep(200000); /* let the socket fill up */
    assert_int_equal(cl_recv(&c, &r), 200);
    assert_int_equal(r.body_len, 3u << 20);
    assert_string_equal(r.rqi, "b1");
    assert_int_equal(cl_recv(&c, &r), 200);
    assert_string_equal(r.rqi, "b2");
    assert_int_equal(cl_recv(&c, &r), 200);
    assert_string_equal(r.rqi, "b3");
    cl_close(&c);
    srv_stop(s);
    th_done(&t);
}

static void test_bad_config(void **state)
{
    struct srv_cfg cfg;
    struct srv *s = (struct srv *)1;
    struct th t;
    th_init(&t, TH_ECHO, 0, 0, false);
    srv_cfg_default(&cfg);
    assert_int_equal(srv_start(&cfg, handler, &t, &s), M2M_ERR_CONFIG); /* no listener */
    assert_null(s);
    cfg.n_listeners = 1;
    snprintf(cfg.listeners[0].addr, sizeof cfg.listeners[0].addr, "localhost");
    assert_int_equal(srv_start(&cfg, handler, &t, &s), M2M_ERR_CONFIG); /* not numeric */
    snprintf(cfg.listeners[0].addr, sizeof cfg.listeners[0].addr, "127.0.0.1");
    cfg.listeners[0].tls = true; /* TLS without certificate files */
    assert_int_equal(srv_start(&cfg, handler, &t, &s), M2M_ERR_CONFIG);
    cfg.listeners[0].tls = false;
    cfg.max_pipeline = 0;
    assert_int_equal(srv_start(&cfg, handler, &t, &s), M2M_ERR_CONFIG);
    cfg.max_pipeline = 1;
    assert_int_equal(srv_start(&cfg, NULL, &t, &s), M2M_ERR_CONFIG);
    /* IPv6 loopback works when available */
    snprintf(cfg.listeners[0].addr, sizeof cfg.listeners[0].addr, "::1");
    if (srv_start(&cfg, handler, &t, &s) == M2M_OK) {
        assert_true(srv_bound_port(s, 0) > 0);
        assert_int_equal(srv_bound_port(s, 1), -1);
        srv_stop(s);
    }
    th_done(&t);
}

int main(void)
{
    m2m_log_set_level(M2M_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_request),
        cmocka_unit_test(test_keep_alive_three),
        cmocka_unit_test(test_pipelined_reverse),
        cmocka_unit_test(test_mapping_error_in_order),
        cmocka_unit_test(test_malformed_400),
        cmocka_unit_test(test_oversized_header_431),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_read_timeout_slowloris),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_client_gone_before_late_answer),
        cmocka_unit_test(test_stop_with_unanswered),
        cmocka_unit_test(test_large_response_backpressure),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
