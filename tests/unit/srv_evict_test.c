/* srv_evict_test.c: eviction at max_connections across event loops: a newcomer accepted by a
 * loop that holds no idle connection takes the slot of another loop's oldest idle one; a
 * connection that sent a request, or started one, is never evicted, and with no idle connection
 * on any loop the newcomer is refused. Connections are opened one at a time so that the per-loop
 * accept counter that moved tells which loop holds each one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "base/log.h"
#include "net/net_internal.h"
#include "srv_testutil.h"
#include "tls/pki.h"

#define MAXC 4    /* max_connections of every test */
#define LOOP_A 0  /* the loop whose newcomers must find idle connections elsewhere */
#define NLOOPS 8  /* at most, in these tests */
#define TRIES 400 /* connections opened before giving up on landing on a given loop */

static void prim_fn(void *ctx, struct srv_exchange *x, struct m2m_request *req)
{
    struct m2m_response r;
    m2m_response_init(&r);
    r.rsc = RSC_OK;
    srv_respond(x, &r);
}

static char g_dir[128], g_ca[512], g_cert[512], g_key[512];

static int setup(void **state)
{
    char pki[256];
    snprintf(g_dir, sizeof g_dir, "/tmp/m2m_evict_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(pki, sizeof pki, "%s/pki", g_dir);
    assert_int_equal(pki_ensure_dev(pki, "cse.test", g_ca, g_cert, g_key, sizeof g_ca), M2M_OK);
    return 0;
}

static int teardown(void **state)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* tls: HTTPS listener; its clients here never send a ClientHello, so they stay in the
 * handshake, which counts as idle. */
static struct srv *start_max(int threads, bool tls, int max)
{
    struct srv_cfg c;
    struct srv *s = NULL;
    srv_cfg_default(&c);
    c.n_listeners = 1;
    snprintf(c.listeners[0].addr, sizeof c.listeners[0].addr, "127.0.0.1");
    c.threads = threads;
    c.max_connections = max;
    c.listeners[0].tls = tls;
    snprintf(c.tls.cert_file, sizeof c.tls.cert_file, "%s", g_cert);
    snprintf(c.tls.key_file, sizeof c.tls.key_file, "%s", g_key);
    assert_int_equal(srv_start(&c, prim_fn, NULL, &s), M2M_OK);
    assert_int_equal(srv_test_nloops(s), threads);
    return s;
}

static struct srv *start(int threads, bool tls)
{
    return start_max(threads, tls, MAXC);
}

#define REQ                                                                                        \
    "GET /~/cse-in/x HTTP/1.1\r\nHost: h\r\nX-M2M-Origin: C1\r\nX-M2M-RI: 1\r\nX-M2M-RVI: 3\r\n"

static int get(struct tcl *c)
{
    struct tresp r;
    tcl_send(c, REQ "\r\n");
    return tcl_recv(c, &r);
}

static void wait_open(struct srv *s, int n)
{
    for (int i = 0; i < 300 && tstats(s).open_connections != n; i++)
        usleep(10000);
    assert_int_equal(tstats(s).open_connections, n);
}

static void snap(struct srv *s, uint64_t before[NLOOPS])
{
    for (int i = 0; i < srv_test_nloops(s); i++)
        before[i] = srv_test_loop_accepted(s, i);
}

/* The loop that admitted the one connection opened since `before`; -1 when none did within 2 s
 * (the connection was refused). */
static int loop_of_new(struct srv *s, const uint64_t before[NLOOPS])
{
    for (int t = 0; t < 200; t++) {
        for (int i = 0; i < srv_test_nloops(s); i++)
            if (srv_test_loop_accepted(s, i) != before[i])
                return i;
        usleep(10000);
    }
    return -1;
}

/* An idle connection (never sends a byte) and what the test knows about it. */
struct held {
    struct tcl c;
    int loop;
    int order; /* opening order: the server evicts a loop's oldest idle connection first */
    bool live;
};

/* Opens connections until one lands on a loop other than LOOP_A and keeps it in h; the ones that
 * land on LOOP_A are closed again. `open` connections are open before and after those. */
static void open_idle_elsewhere(struct srv *s, int port, struct held *h, int *order, int open)
{
    for (int t = 0; t < TRIES; t++) {
        uint64_t before[NLOOPS];
        snap(s, before);
        assert_int_equal(tcl_open(&h->c, "", "127.0.0.1", port), 0);
        int loop = loop_of_new(s, before);
        assert_true(loop >= 0); /* below the limit: never refused */
        if (loop != LOOP_A) {
            h->loop = loop;
            h->order = (*order)++;
            h->live = true;
            return;
        }
        tcl_close(&h->c);
        wait_open(s, open);
    }
    fail_msg("no connection landed outside loop %d in %d tries", LOOP_A, TRIES);
}

/* Index of the one held connection the server closed (within 2 s); fails unless exactly one. */
static int the_evicted(struct held *h)
{
    int gone = -1, n = 0;
    for (int t = 0; t < 200 && gone < 0; t++) {
        for (int i = 0; i < MAXC; i++)
            if (h[i].live && tcl_closed_within(&h[i].c, 0)) {
                gone = i;
                h[i].live = false;
            }
        if (gone < 0)
            usleep(10000);
    }
    assert_true(gone >= 0);
    for (int i = 0; i < MAXC; i++)
        n += h[i].live && tcl_closed_within(&h[i].c, 50);
    assert_int_equal(n, 0);
    return gone;
}

/* Each loop's idle credit equals the idle connections the test holds on it (claims all served). */
static void check_credit(struct srv *s, const struct held *h)
{
    for (int l = 0; l < srv_test_nloops(s); l++) {
        int n = 0;
        for (int i = 0; i < MAXC; i++)
            n += h[i].live && h[i].loop == l;
        assert_int_equal(srv_test_loop_idle_credit(s, l), n);
    }
}

/* Fills max_connections with idle connections on loops other than LOOP_A, then connects clients
 * until one lands on LOOP_A: every one must be admitted (plain: served; TLS: held in its
 * handshake), and each must have taken the slot of the oldest idle connection of some loop.
 * Before the fix, a newcomer on LOOP_A was refused because only the accepting loop was searched
 * for a victim. */
static void run_cross_loop(int threads, bool tls)
{
    struct srv *s = start(threads, tls);
    int port = srv_bound_port(s, 0), order = 0;
    struct held *h = calloc(MAXC, sizeof *h);
    struct tcl *n = calloc(1, sizeof *n);
    assert_non_null(h);
    assert_non_null(n);
    for (int i = 0; i < MAXC; i++)
        open_idle_elsewhere(s, port, &h[i], &order, i);
    wait_open(s, MAXC);
    bool hit_a = false;
    for (int t = 0; t < TRIES && !hit_a; t++) {
        uint64_t before[NLOOPS];
        snap(s, before);
        assert_int_equal(tcl_open(n, "", "127.0.0.1", port), 0);
        if (!tls)
            assert_int_equal(get(n), 200); /* served, whichever loop accepted it */
        int loop = loop_of_new(s, before);
        assert_true(loop >= 0);
        wait_open(s, MAXC); /* an eviction in flight may exceed the limit only briefly */
        int gone = the_evicted(h);
        assert_int_not_equal(h[gone].loop, LOOP_A);
        for (int i = 0; i < MAXC; i++) /* the oldest of its loop */
            if (h[i].live && h[i].loop == h[gone].loop)
                assert_true(h[i].order > h[gone].order);
        tcl_close(&h[gone].c);
        hit_a = loop == LOOP_A;
        if (hit_a && tls)
            assert_false(tcl_closed_within(n, 200)); /* admitted, not closed */
        else if (hit_a)
            assert_int_equal(get(n), 200); /* and stays served */
        tcl_close(n);
        wait_open(s, MAXC - 1);
        open_idle_elsewhere(s, port, &h[gone], &order, MAXC - 1);
    }
    assert_true(hit_a);
    check_credit(s, h);
    for (int i = 0; i < MAXC; i++) {
        tcl_close(&h[i].c);
        h[i].live = false;
    }
    wait_open(s, 0);
    check_credit(s, h);
    srv_stop(s);
    free(h);
    free(n);
}

static void test_cross_loop_two(void **state)
{
    run_cross_loop(2, false);
}

static void test_cross_loop_four(void **state)
{
    run_cross_loop(4, false);
}

static void test_cross_loop_tls_handshakes(void **state)
{
    run_cross_loop(2, true);
}

/* Posts an eviction claim on loop i by hand, as loop_claim_idle does, whether or not the loop has
 * an idle connection: stages the race in which the claimed connection turned active. */
static void stale_claim(struct srv *s, int i)
{
    struct srv_loop *l = &s->loops[i];
    uint64_t one = 1;
    atomic_fetch_sub(&l->idle_credit, 1);
    atomic_fetch_add(&l->evict_req, 1);
    assert_int_equal(write(l->evfd, &one, sizeof one), (ssize_t)sizeof one);
}

static void wait_credit(struct srv *s, int loop, int n)
{
    for (int i = 0; i < 200 && srv_test_loop_idle_credit(s, loop) != n; i++)
        usleep(10000);
    assert_int_equal(srv_test_loop_idle_credit(s, loop), n);
}

/* A claim that finds its loop without an idle connection gives the credit back and passes to a
 * loop that has one, which closes its idle connection; with none anywhere the claim lapses and
 * nothing is closed. */
static void test_stale_claim_passes_on(void **state)
{
    struct srv *s = start(2, false);
    int port = srv_bound_port(s, 0), order = 0;
    struct held *h = calloc(1, sizeof *h);
    struct tcl *c = calloc(1, sizeof *c);
    assert_non_null(h);
    assert_non_null(c);
    open_idle_elsewhere(s, port, h, &order, 0); /* on loop 1, none on loop 0 */
    wait_open(s, 1);
    wait_credit(s, 1, 1);
    assert_int_equal(srv_test_loop_idle_credit(s, LOOP_A), 0);
    stale_claim(s, LOOP_A);
    assert_true(tcl_closed_within(&h->c, 2000)); /* passed on to loop 1 */
    wait_open(s, 0);
    wait_credit(s, LOOP_A, 0);
    wait_credit(s, 1, 0);
    tcl_close(&h->c);
    /* only a served connection: both claims lapse */
    assert_int_equal(tcl_open(c, "", "127.0.0.1", port), 0);
    assert_int_equal(get(c), 200);
    stale_claim(s, 0);
    stale_claim(s, 1);
    wait_credit(s, 0, 0);
    wait_credit(s, 1, 0);
    assert_int_equal(tstats(s).open_connections, 1);
    assert_int_equal(get(c), 200);
    tcl_close(c);
    wait_open(s, 0);
    srv_stop(s);
    free(h);
    free(c);
}

/* Claims that lapse leave the total over max_connections; it never exceeds it by more than
 * SRV_EVICT_SLACK. Loop 1 is given idle credit without idle connections, so every claim on it
 * lapses: newcomers on loop 0 are admitted over the limit until the slack is used up, then
 * refused like those on loop 1. */
static void test_overshoot_bounded(void **state)
{
    struct srv *s = start_max(2, false, 1);
    int port = srv_bound_port(s, 0), admitted = 0, refused = 0;
    struct tcl *c = calloc(SRV_EVICT_SLACK + 2, sizeof *c); /* the last one: scratch */
    struct tcl *x = &c[SRV_EVICT_SLACK + 1];
    assert_non_null(c);
    assert_int_equal(tcl_open(&c[0], "", "127.0.0.1", port), 0);
    assert_int_equal(get(&c[0]), 200);
    atomic_fetch_add(&s->loops[1].idle_credit, 1000);
    for (int t = 0; t < TRIES && admitted < SRV_EVICT_SLACK; t++) {
        struct tcl *n = &c[admitted + 1];
        assert_int_equal(tcl_open(n, "", "127.0.0.1", port), 0);
        if (get(n) == 200)
            admitted++; /* on loop 0: over the limit */
        else
            tcl_close(n); /* on loop 1: no idle connection of its own, none elsewhere */
    }
    assert_int_equal(admitted, SRV_EVICT_SLACK);
    wait_open(s, 1 + SRV_EVICT_SLACK);
    for (int t = 0; t < 24; t++) { /* on either loop: refused */
        assert_int_equal(tcl_open(x, "", "127.0.0.1", port), 0);
        refused += get(x) == -1;
        tcl_close(x);
    }
    assert_int_equal(refused, 24);
    assert_int_equal(tstats(s).open_connections, 1 + SRV_EVICT_SLACK);
    assert_int_equal(get(&c[0]), 200);
    atomic_fetch_sub(&s->loops[1].idle_credit, 1000);
    for (int k = 0; k <= SRV_EVICT_SLACK; k++)
        tcl_close(&c[k]);
    wait_open(s, 0);
    srv_stop(s);
    free(c);
}

/* No idle connection on any loop: two clients that were served and two that started a request
 * (a partial header) are all protected, so every newcomer is refused at once, whichever loop
 * accepts it; the protected ones still work. */
static void test_refused_when_none_idle(void **state)
{
    struct srv *s = start(4, false);
    int port = srv_bound_port(s, 0);
    struct tcl *c = calloc(MAXC + 8, sizeof *c);
    struct tresp r;
    assert_non_null(c);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tcl_open(&c[i], "", "127.0.0.1", port), 0);
        assert_int_equal(get(&c[i]), 200);
    }
    for (int i = 2; i < MAXC; i++) {
        assert_int_equal(tcl_open(&c[i], "", "127.0.0.1", port), 0);
        tcl_send(&c[i], "GET /~/cse-in/x HTTP/1.1\r\n");
    }
    wait_open(s, MAXC);
    usleep(50000); /* the partial requests are read */
    for (int i = MAXC; i < MAXC + 8; i++) {
        assert_int_equal(tcl_open(&c[i], "", "127.0.0.1", port), 0);
        assert_true(tcl_closed_within(&c[i], 2000));
    }
    assert_int_equal(tstats(s).rejected_limit, 8);
    assert_int_equal(tstats(s).accepted, MAXC);
    assert_int_equal(tstats(s).open_connections, MAXC);
    for (int i = 0; i < 2; i++)
        assert_int_equal(get(&c[i]), 200);
    for (int i = 2; i < MAXC; i++) {
        tcl_send(&c[i], "Host: h\r\nX-M2M-Origin: C1\r\nX-M2M-RI: 2\r\nX-M2M-RVI: 3\r\n\r\n");
        assert_int_equal(tcl_recv(&c[i], &r), 200);
    }
    for (int i = 0; i < MAXC + 8; i++)
        tcl_close(&c[i]);
    wait_open(s, 0);
    srv_stop(s);
    free(c);
}

int main(void)
{
    m2m_log_set_level(M2M_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cross_loop_two),
        cmocka_unit_test(test_cross_loop_four),
        cmocka_unit_test(test_cross_loop_tls_handshakes),
        cmocka_unit_test(test_stale_claim_passes_on),
        cmocka_unit_test(test_overshoot_bounded),
        cmocka_unit_test(test_refused_when_none_idle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
