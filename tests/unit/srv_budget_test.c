/* srv_budget_test.c: srv_cfg.max_buffered_bytes, the memory for request input over all
 * connections: bodies being received count against it; a connection that needs more than its
 * free allowance while the total is at the budget gets 503 (X-M2M-RSC 5000) and is closed; the
 * memory comes back when a connection finishes; other connections keep being served; 0 means
 * unlimited. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "net/net_internal.h"
#include "srv_testutil.h"

#define BODY (400 * 1024)

static void prim_fn(void *ctx, struct srv_exchange *x, struct m2m_request *req)
{
    struct m2m_response r;
    m2m_response_init(&r);
    r.rsc = RSC_OK;
    srv_respond(x, &r);
}

static struct srv *start(size_t budget)
{
    struct srv_cfg c;
    struct srv *s = NULL;
    srv_cfg_default(&c);
    c.n_listeners = 1;
    snprintf(c.listeners[0].addr, sizeof c.listeners[0].addr, "127.0.0.1");
    c.threads = 2;
    c.max_buffered_bytes = budget;
    assert_int_equal(srv_start(&c, prim_fn, NULL, &s), M2M_OK);
    return s;
}

/* Sends the head of a POST with a BODY-byte body and `part` bytes of it. */
static void send_partial(struct tcl *c, size_t part)
{
    char head[256];
    snprintf(head, sizeof head,
             "POST /~/cse-in HTTP/1.1\r\nHost: h\r\nX-M2M-Origin: C1\r\nX-M2M-RI: 1\r\n"
             "X-M2M-RVI: 3\r\nContent-Type: application/json;ty=3\r\nContent-Length: %d\r\n\r\n",
             BODY);
    tcl_send(c, head);
    char *chunk = malloc(part + 1);
    assert_non_null(chunk);
    memset(chunk, 'x', part);
    chunk[part] = '\0';
    tcl_send(c, chunk);
    free(chunk);
}

static void send_rest(struct tcl *c, size_t part)
{
    char *chunk = malloc(BODY - part + 1);
    assert_non_null(chunk);
    memset(chunk, 'x', BODY - part);
    chunk[BODY - part] = '\0';
    tcl_send(c, chunk);
    free(chunk);
}

static void wait_buffered_at_least(struct srv *s, uint64_t n)
{
    for (int i = 0; i < 300 && tstats(s).buffered_bytes < n; i++)
        usleep(10000);
    assert_true(tstats(s).buffered_bytes >= n);
}

static void test_budget_refuses_and_recovers(void **state)
{
    struct srv *s = start(600 * 1024);
    int port = srv_bound_port(s, 0);
    struct tcl a, b, c;
    struct tresp r;
    /* a holds 300 KiB of a body: within the budget */
    assert_int_equal(tcl_open(&a, "", "127.0.0.1", port), 0);
    send_partial(&a, 300 * 1024);
    wait_buffered_at_least(s, 300 * 1024);
    /* b needs another 300 KiB and more: over 600 KiB -> 503 and closed */
    assert_int_equal(tcl_open(&b, "", "127.0.0.1", port), 0);
    send_partial(&b, 300 * 1024);
    assert_true(tcl_recv(&b, &r) > 0);
    assert_int_equal(r.status, 503);
    assert_true(r.close);
    assert_true(tcl_closed_within(&b, 2000));
    assert_true(tstats(s).buffer_refusals >= 1);
    /* a small request is always served (its free allowance) */
    assert_int_equal(tcl_open(&c, "", "127.0.0.1", port), 0);
    tcl_send(&c, "GET /~/cse-in HTTP/1.1\r\nHost: h\r\nX-M2M-Origin: C1\r\nX-M2M-RI: 2\r\n"
                 "X-M2M-RVI: 3\r\n\r\n");
    assert_true(tcl_recv(&c, &r) > 0);
    assert_int_equal(r.status, 200);
    /* a completes; its memory comes back */
    send_rest(&a, 300 * 1024);
    assert_true(tcl_recv(&a, &r) > 0);
    assert_int_equal(r.status, 200);
    tcl_close(&a);
    tcl_close(&b);
    for (int i = 0; i < 300 && tstats(s).buffered_bytes > 256 * 1024; i++)
        usleep(10000);
    assert_true(tstats(s).buffered_bytes <= 256 * 1024);
    /* now the large upload fits */
    struct tcl d;
    assert_int_equal(tcl_open(&d, "", "127.0.0.1", port), 0);
    send_partial(&d, 200 * 1024);
    send_rest(&d, 200 * 1024);
    assert_true(tcl_recv(&d, &r) > 0);
    assert_int_equal(r.status, 200);
    tcl_close(&c);
    tcl_close(&d);
    srv_stop(s);
}

static void test_zero_is_unlimited(void **state)
{
    struct srv *s = start(0);
    int port = srv_bound_port(s, 0);
    struct tcl a, b;
    struct tresp r;
    assert_int_equal(tcl_open(&a, "", "127.0.0.1", port), 0);
    assert_int_equal(tcl_open(&b, "", "127.0.0.1", port), 0);
    send_partial(&a, 350 * 1024);
    send_partial(&b, 350 * 1024);
    send_rest(&a, 350 * 1024);
    send_rest(&b, 350 * 1024);
    assert_true(tcl_recv(&a, &r) > 0);
    assert_int_equal(r.status, 200);
    assert_true(tcl_recv(&b, &r) > 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(tstats(s).buffer_refusals, 0);
    tcl_close(&a);
    tcl_close(&b);
    srv_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_refuses_and_recovers),
        cmocka_unit_test(test_zero_is_unlimited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
