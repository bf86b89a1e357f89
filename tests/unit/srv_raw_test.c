/* srv_raw_test.c: raw routes of the transport over real sockets: the request as the raw handler
 * sees it (percent-decoded path, query, Content-Type, body, security context), the response
 * layout, pipelining order with primitives, late answers from another thread, Connection:
 * close, refused response headers, and the exporter on a plain raw exchange. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>

#include "srv_testutil.h"

struct rawctx {
    pthread_mutex_t mu;
    int raw_seen, prim_seen;
    char method[16], path[128], query[128], ctype[64], body[256];
    size_t body_len;
    bool trusted;
    m2m_rc export_rc;
    int late_ms; /* > 0: answer from another thread after this delay */
    bool bad_header;
};

struct late {
    struct srv_exchange *x;
    int ms;
};

static void *late_main(void *arg)
{
    struct late *l = arg;
    usleep((useconds_t)l->ms * 1000);
    srv_respond_raw(l->x, 202, "text/plain", NULL, (const uint8_t *)"late", 4);
    free(l);
    return NULL;
}

static void raw_fn(void *ctx, struct srv_exchange *x, const struct srv_raw_request *r)
{
    struct rawctx *t = ctx;
    uint8_t ex[16];
    pthread_mutex_lock(&t->mu);
    t->raw_seen++;
    snprintf(t->method, sizeof t->method, "%s", r->method);
    snprintf(t->path, sizeof t->path, "%s", r->path);
    snprintf(t->query, sizeof t->query, "%s", r->query);
    snprintf(t->ctype, sizeof t->ctype, "%s", r->content_type);
    t->body_len = r->body_len < sizeof t->body ? r->body_len : sizeof t->body;
    if (t->body_len > 0)
        memcpy(t->body, r->body, t->body_len);
    t->trusted = r->sec.trusted_listener;
    t->export_rc = srv_tls_export(x, "EXPORTER-x", 10, NULL, 0, ex, sizeof ex);
    int late_ms = t->late_ms;
    bool bad = t->bad_header;
    pthread_mutex_unlock(&t->mu);
    if (bad) {
        srv_respond_raw(x, 200, "text/plain\r\nX-Injected: 1", NULL, NULL, 0);
        return;
    }
    if (late_ms > 0) {
        struct late *l = malloc(sizeof *l);
        pthread_t th;
        l->x = x;
        l->ms = late_ms;
        assert_int_equal(pthread_create(&th, NULL, late_main, l), 0);
        pthread_detach(th);
        return;
    }
    srv_respond_raw(x, 200, "application/pkcs7-mime; smime-type=certs-only",
                    "Content-Transfer-Encoding: base64\r\n", (const uint8_t *)"MIIB", 4);
}

static void prim_fn(void *ctx, struct srv_exchange *x, struct m2m_request *req)
{
    struct rawctx *t = ctx;
    pthread_mutex_lock(&t->mu);
    t->prim_seen++;
    pthread_mutex_unlock(&t->mu);
    struct m2m_response r;
    m2m_response_init(&r);
    r.rsc = RSC_OK;
    srv_respond(x, &r);
}

static struct srv *start(struct rawctx *t)
{
    struct srv_cfg c;
    struct srv *s = NULL;
    srv_cfg_default(&c);
    c.n_listeners = 1;
    snprintf(c.listeners[0].addr, sizeof c.listeners[0].addr, "127.0.0.1");
    c.listeners[0].trusted = true;
    c.threads = 1;
    snprintf(c.raw_prefix, sizeof c.raw_prefix, "/.well-known/est/");
    c.raw_fn = raw_fn;
    c.raw_ctx = t;
    assert_int_equal(srv_start(&c, prim_fn, t, &s), M2M_OK);
    return s;
}

static void ctx_init(struct rawctx *t)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
}

static void test_raw_request_and_response(void **state)
{
    struct rawctx t;
    struct tcl c;
    struct tresp r;
    ctx_init(&t);
    struct srv *s = start(&t);
    assert_int_equal(tcl_open(&c, "", "127.0.0.1", srv_bound_port(s, 0)), 0);
    tcl_send(&c, "POST /.well-known/%65st/simpleenroll?a=%41&b HTTP/1.1\r\nHost: h\r\n"
                 "Content-Type: application/pkcs10\r\nContent-Length: 5\r\n\r\nCSR!!");
    assert_int_equal(tcl_recv(&c, &r), 200);
    assert_string_equal(r.ctype, "application/pkcs7-mime; smime-type=certs-only");
    assert_string_equal(r.extra, "base64");
    assert_int_equal(r.body_len, 4);
    assert_memory_equal(r.body, "MIIB", 4);
    assert_false(r.close);
    assert_string_equal(t.method, "POST");
    assert_string_equal(t.path, "/.well-known/est/simpleenroll");
    assert_string_equal(t.query, "a=%41&b");
    assert_string_equal(t.ctype, "application/pkcs10");
    assert_int_equal(t.body_len, 5);
    assert_memory_equal(t.body, "CSR!!", 5);
    assert_true(t.trusted);
    assert_int_equal(t.export_rc, M2M_ERR_TLS); /* a plain connection has no exporter */
    /* a GET without body or query, on the same connection */
    tcl_send(&c, "GET /.well-known/est/cacerts HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(tcl_recv(&c, &r), 200);
    assert_string_equal(t.query, "");
    assert_string_equal(t.ctype, "");
    assert_int_equal(t.body_len, 0);
    /* not under the prefix: primitives; a malformed escape never reaches the raw route */
    tcl_send(&c, "GET /~/cse-in/x HTTP/1.1\r\nHost: h\r\nX-M2M-Origin: C1\r\nX-M2M-RI: 1\r\n"
                 "X-M2M-RVI: 3\r\n\r\n");
    assert_int_equal(tcl_recv(&c, &r), 200);
    tcl_send(&c, "GET /.well-known/est%zz/x HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(tcl_recv(&c, &r), 400);
    tcl_send(&c, "GET /.well-known/est%00/x HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(tcl_recv(&c, &r), 400);
    tcl_send(&c, "GET /.well-known/esT/x HTTP/1.1\r\nHost: h\r\n\r\n"); /* case matters */
    assert_int_equal(tcl_recv(&c, &r), 200);
    assert_int_equal(t.raw_seen, 2);
    assert_int_equal(t.prim_seen, 2);
    tcl_close(&c);
    srv_stop(s);
    pthread_mutex_destroy(&t.mu);
}

static void test_raw_pipelined_order_and_close(void **state)
{
    struct rawctx t;
    struct tcl c;
    struct tresp r;
    ctx_init(&t);
    t.late_ms = 300;
    struct srv *s = start(&t);
    assert_int_equal(tcl_open(&c, "", "127.0.0.1", srv_bound_port(s, 0)), 0);
    /* raw (answered late, elsewhere), primitive, raw with Connection: close, in one write */
    tcl_send(&c, "GET /.well-known/est/a HTTP/1.1\r\nHost: h\r\n\r\n"
                 "GET /~/cse-in/x HTTP/1.1\r\nHost: h\r\nX-M2M-Origin: C1\r\nX-M2M-RI: 1\r\n"
                 "X-M2M-RVI: 3\r\n\r\n"
                 "GET /.well-known/est/b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert_int_equal(tcl_recv(&c, &r), 202);
    assert_memory_equal(r.body, "late", 4);
    assert_int_equal(tcl_recv(&c, &r), 200);
    assert_int_equal(tcl_recv(&c, &r), 202);
    assert_true(r.close);
    assert_true(tcl_closed_within(&c, 2000));
    assert_string_equal(t.path, "/.well-known/est/b");
    tcl_close(&c);
    srv_stop(s);
    pthread_mutex_destroy(&t.mu);
}

static void test_raw_bad_header_closes(void **state)
{
    struct rawctx t;
    struct tcl c;
    ctx_init(&t);
    t.bad_header = true;
    struct srv *s = start(&t);
    assert_int_equal(tcl_open(&c, "", "127.0.0.1", srv_bound_port(s, 0)), 0);
    tcl_send(&c, "GET /.well-known/est/a HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_true(tcl_closed_within(&c, 2000)); /* no header injection reaches the wire */
    tcl_close(&c);
    /* a raw answer after the client left is only freed */
    t.bad_header = false;
    t.late_ms = 200;
    assert_int_equal(tcl_open(&c, "", "127.0.0.1", srv_bound_port(s, 0)), 0);
    tcl_send(&c, "GET /.well-known/est/a HTTP/1.1\r\nHost: h\r\n\r\n");
    for (int i = 0; i < 100 && t.raw_seen < 2; i++)
        usleep(10000);
    tcl_close(&c);
    for (int i = 0; i < 300 && tstats(s).open_connections != 0; i++)
        usleep(10000);
    assert_int_equal(tstats(s).open_connections, 0);
    srv_stop(s);
    pthread_mutex_destroy(&t.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_request_and_response),
        cmocka_unit_test(test_raw_pipelined_order_and_close),
        cmocka_unit_test(test_raw_bad_header_closes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
