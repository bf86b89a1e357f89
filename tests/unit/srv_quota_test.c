/* srv_quota_test.c: the per-peer connection quota: the connection over it is closed at accept
 * and counted, a freed slot can be taken again, other peers are not affected, IPv6 peers count
 * per /64 and IPv4-mapped addresses as IPv4 (peerq directly), 0 = unlimited. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "net/net_internal.h"
#include "srv_testutil.h"

static void prim_fn(void *ctx, struct srv_exchange *x, struct m2m_request *req)
{
    struct m2m_response r;
    m2m_response_init(&r);
    r.rsc = RSC_OK;
    srv_respond(x, &r);
}

static struct srv *start(int per_ip, int threads)
{
    struct srv_cfg c;
    struct srv *s = NULL;
    srv_cfg_default(&c);
    c.n_listeners = 1;
    snprintf(c.listeners[0].addr, sizeof c.listeners[0].addr, "0.0.0.0");
    c.threads = threads;
    c.max_connections_per_ip = per_ip;
    assert_int_equal(srv_start(&c, prim_fn, NULL, &s), M2M_OK);
    return s;
}

static int get(struct tcl *c)
{
    struct tresp r;
    tcl_send(c, "GET /~/cse-in/x HTTP/1.1\r\nHost: h\r\nX-M2M-Origin: C1\r\nX-M2M-RI: 1\r\n"
                "X-M2M-RVI: 3\r\n\r\n");
    return tcl_recv(c, &r);
}

static void wait_open(struct srv *s, int n)
{
    for (int i = 0; i < 200 && tstats(s).open_connections != n; i++)
        usleep(10000);
    assert_int_equal(tstats(s).open_connections, n);
}

static void test_quota_per_address(void **state)
{
    struct tcl c[5];
    struct srv *s = start(2, 2); /* two loops: the count is shared */
    int port = srv_bound_port(s, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tcl_open(&c[i], "127.0.0.1", "127.0.0.1", port), 0);
    int closed = 0, gone = -1;
    for (int i = 0; i < 3; i++)
        if (tcl_closed_within(&c[i], 300)) {
            closed++;
            gone = i; /* with two loops, which one comes third is up to the scheduler */
        }
    assert_int_equal(closed, 1);
    for (int i = 0; i < 3; i++)
        if (i != gone)
            assert_int_equal(get(&c[i]), 200);
    assert_int_equal(tstats(s).rejected_limit, 1);
    assert_int_equal(tstats(s).accepted, 2);
    /* another peer address has its own quota */
    assert_int_equal(tcl_open(&c[3], "127.0.0.2", "127.0.0.1", port), 0);
    assert_int_equal(get(&c[3]), 200);
    /* a closed connection gives its slot back */
    tcl_close(&c[gone]);
    tcl_close(&c[gone == 0 ? 1 : 0]);
    wait_open(s, 2);
    assert_int_equal(tcl_open(&c[4], "127.0.0.1", "127.0.0.1", port), 0);
    assert_int_equal(get(&c[4]), 200);
    assert_int_equal(tstats(s).rejected_limit, 1);
    for (int i = 0; i < 5; i++)
        tcl_close(&c[i]);
    srv_stop(s);
}

static void test_unlimited(void **state)
{
    struct tcl c[6];
    struct srv *s = start(0, 1);
    for (int i = 0; i < 6; i++)
        assert_int_equal(tcl_open(&c[i], "", "127.0.0.1", srv_bound_port(s, 0)), 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(get(&c[i]), 200);
    assert_int_equal(tstats(s).rejected_limit, 0);
    for (int i = 0; i < 6; i++)
        tcl_close(&c[i]);
    srv_stop(s);
    struct srv_cfg cfg;
    srv_cfg_default(&cfg);
    cfg.n_listeners = 1;
    snprintf(cfg.listeners[0].addr, sizeof cfg.listeners[0].addr, "127.0.0.1");
    cfg.max_connections_per_ip = -1;
    assert_int_equal(srv_start(&cfg, prim_fn, NULL, &s), M2M_ERR_CONFIG);
}

static void addr6(struct sockaddr_storage *ss, const char *a)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, a, &s6->sin6_addr), 1);
}

static void addr4(struct sockaddr_storage *ss, const char *a)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, a, &s4->sin_addr), 1);
}

static void test_peer_units(void **state)
{
    struct peerq *q = NULL;
    struct sockaddr_storage ss;
    char k1[PEERQ_KEY_MAX], k2[PEERQ_KEY_MAX], k3[PEERQ_KEY_MAX], k4[PEERQ_KEY_MAX];
    assert_int_equal(peerq_new(1, &q), M2M_OK);
    /* one /64: the second address of it is over the quota of 1 */
    addr6(&ss, "2001:db8:1:2::1");
    assert_true(peerq_acquire(q, &ss, k1));
    addr6(&ss, "2001:db8:1:2:ffff::9");
    assert_false(peerq_acquire(q, &ss, k2));
    assert_string_equal(k2, "");
    addr6(&ss, "2001:db8:1:3::1"); /* the next /64 is another peer */
    assert_true(peerq_acquire(q, &ss, k3));
    /* an IPv4-mapped address is its IPv4 address */
    addr4(&ss, "192.0.2.7");
    assert_true(peerq_acquire(q, &ss, k4));
    addr6(&ss, "::ffff:192.0.2.7");
    assert_false(peerq_acquire(q, &ss, k2));
    assert_string_equal(k4, "4:c0000207");
    peerq_release(q, k4);
    assert_true(peerq_acquire(q, &ss, k2));
    assert_string_equal(k2, "4:c0000207");
    peerq_release(q, k1);
    addr6(&ss, "2001:db8:1:2:ffff::9");
    assert_true(peerq_acquire(q, &ss, k1));
    peerq_release(q, k1);
    peerq_release(q, k2);
    peerq_release(q, k3);
    peerq_release(q, "");
    peerq_release(NULL, k3);
    peerq_free(q);
    peerq_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quota_per_address),
        cmocka_unit_test(test_unlimited),
        cmocka_unit_test(test_peer_units),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
