/* psk_prefetch_test.c: asynchronous PSK identity resolution in the transport: a handshake whose
 * identity is fetched elsewhere parks (TLS 1.2 ClientKeyExchange and TLS 1.3 ClientHello), other
 * clients on the same loop keep being served, the wake from another thread resumes it; a wake
 * that never comes ends in the handshake timeout and a wake after the server is gone is
 * harmless; a failed resolution fails the handshake; raw routes export keying material. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "base/timeutil.h"
#include "srv_testutil.h"
#include "tls/pki.h"

static char g_dir[128], g_ca[512], g_cert[512], g_key[512];
static const uint8_t KEY[16] = {7, 7, 7, 7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/* The credential database: "local@x" is there; "remote@mef" arrives 1 s after a prefetch;
 * "never@mef" never does; "fail@mef" cannot be resolved. */
struct db {
    pthread_mutex_t mu;
    bool remote_there;
    int prefetches;
    char last_id[64];
    void (*held_wake)(void *);
    void *held_arg;
};
static struct db g_db;

static m2m_rc lookup(void *ctx, const char *id, size_t n, uint8_t *key, size_t *keylen,
                     struct m2m_secctx *b)
{
    struct db *d = ctx;
    pthread_mutex_lock(&d->mu);
    bool ok = (n == 7 && memcmp(id, "local@x", 7) == 0) ||
              (n == 10 && memcmp(id, "remote@mef", 10) == 0 && d->remote_there);
    pthread_mutex_unlock(&d->mu);
    if (!ok)
        return M2M_ERR_NOT_FOUND;
    memcpy(key, KEY, sizeof KEY);
    *keylen = sizeof KEY;
    snprintf(b->identity, sizeof b->identity, "C%.*s", (int)n, id);
    snprintf(b->cred_id, sizeof b->cred_id, "12-%.*s", (int)n, id);
    return M2M_OK;
}

struct waker {
    void (*wake)(void *);
    void *arg;
};

static void *fetch_main(void *p)
{
    struct waker *w = p;
    usleep(1000 * 1000);
    pthread_mutex_lock(&g_db.mu);
    g_db.remote_there = true;
    pthread_mutex_unlock(&g_db.mu);
    w->wake(w->arg);
    free(w);
    return NULL;
}

static m2m_rc prefetch(void *ctx, const char *id, size_t n, void (*wake)(void *), void *arg)
{
    struct db *d = ctx;
    pthread_mutex_lock(&d->mu);
    d->prefetches++;
    snprintf(d->last_id, sizeof d->last_id, "%.*s", (int)n, id);
    bool there = d->remote_there;
    pthread_mutex_unlock(&d->mu);
    if (n == 8 && memcmp(id, "fail@mef", 8) == 0)
        return M2M_ERR_IO;
    if (n == 9 && memcmp(id, "never@mef", 9) == 0) {
        pthread_mutex_lock(&d->mu);
        d->held_wake = wake;
        d->held_arg = arg;
        pthread_mutex_unlock(&d->mu);
        return M2M_ERR_AGAIN;
    }
    if (n != 10 || memcmp(id, "remote@mef", 10) != 0 || there)
        return M2M_OK;
    struct waker *w = malloc(sizeof *w);
    pthread_t th;
    w->wake = wake;
    w->arg = arg;
    assert_int_equal(pthread_create(&th, NULL, fetch_main, w), 0);
    pthread_detach(th);
    return M2M_ERR_AGAIN;
}

static void prim_fn(void *ctx, struct srv_exchange *x, struct m2m_request *req)
{
    struct m2m_response r;
    m2m_response_init(&r);
    r.rsc = RSC_OK;
    srv_respond(x, &r);
}

static void raw_fn(void *ctx, struct srv_exchange *x, const struct srv_raw_request *r)
{
    uint8_t ex[16];
    char hex[33];
    if (srv_tls_export(x, "EXPORTER-est", 12, NULL, 0, ex, sizeof ex) != M2M_OK) {
        srv_respond_raw(x, 500, NULL, NULL, NULL, 0);
        return;
    }
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", ex[i]);
    srv_respond_raw(x, 200, "text/plain", NULL, (const uint8_t *)hex, 32);
}

static struct srv *start(int hs_timeout_ms)
{
    struct srv_cfg c;
    struct srv *s = NULL;
    srv_cfg_default(&c);
    c.n_listeners = 1;
    snprintf(c.listeners[0].addr, sizeof c.listeners[0].addr, "127.0.0.1");
    c.listeners[0].tls = true;
    c.threads = 1; /* one loop: the parked handshake shares it with the other client */
    c.handshake_timeout_ms = hs_timeout_ms;
    snprintf(c.tls.cert_file, sizeof c.tls.cert_file, "%s", g_cert);
    snprintf(c.tls.key_file, sizeof c.tls.key_file, "%s", g_key);
    c.tls.creds.ctx = &g_db;
    c.tls.creds.psk_lookup = lookup;
    c.tls.creds.psk_prefetch = prefetch;
    snprintf(c.raw_prefix, sizeof c.raw_prefix, "/.well-known/est/");
    c.raw_fn = raw_fn;
    assert_int_equal(srv_start(&c, prim_fn, NULL, &s), M2M_OK);
    return s;
}

struct pcl {
    int port;
    const char *id, *prio;
    int rc, status, requests;
    int64_t t_done_ms;
    char exp_hex[33], srv_hex[33];
};

static const char P12[] = "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-PSK:+PSK";
static const char P13[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:+PSK";

static int tls_get(gnutls_session_t s, const char *path, char *body, size_t cap)
{
    char req[256], buf[4096];
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: h\r\nX-M2M-Origin: C1\r\nX-M2M-RI: 1\r\n"
             "X-M2M-RVI: 3\r\n\r\n",
             path);
    if (gnutls_record_send(s, req, strlen(req)) < 0)
        return -1;
    size_t len = 0;
    struct http_limits lim;
    http_limits_default(&lim);
    for (;;) {
        struct http_msg m;
        size_t used;
        int err;
        if (len > 0 && http_parse_response((uint8_t *)buf, len, false, &lim, &m, &used, &err) ==
                           HTTP_PARSE_DONE) {
            if (body != NULL)
                snprintf(body, cap, "%.*s", (int)m.body_len, (const char *)m.body);
            return m.status;
        }
        ssize_t n = gnutls_record_recv(s, buf + len, sizeof buf - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
    }
}

static void *client_main(void *arg)
{
    struct pcl *p = arg;
    struct tcl t;
    gnutls_session_t s;
    gnutls_psk_client_credentials_t cred;
    gnutls_datum_t k = {(unsigned char *)KEY, sizeof KEY};
    p->rc = tcl_open(&t, "", "127.0.0.1", p->port);
    if (p->rc != 0)
        return NULL;
    gnutls_psk_allocate_client_credentials(&cred);
    gnutls_psk_set_client_credentials(cred, p->id, &k, GNUTLS_PSK_KEY_RAW);
    gnutls_init(&s, GNUTLS_CLIENT);
    gnutls_priority_set_direct(s, p->prio, NULL);
    gnutls_credentials_set(s, GNUTLS_CRD_PSK, cred);
    gnutls_transport_set_int(s, t.fd);
    gnutls_handshake_set_timeout(s, 6000);
    do
        p->rc = gnutls_handshake(s);
    while (p->rc < 0 && !gnutls_error_is_fatal(p->rc));
    if (p->rc >= 0) {
        for (int i = 0; i < p->requests; i++)
            p->status = tls_get(s, "/~/cse-in/x", NULL, 0);
        uint8_t ex[16];
        gnutls_prf_rfc5705(s, 12, "EXPORTER-est", 0, NULL, sizeof ex, (char *)ex);
        for (int i = 0; i < 16; i++)
            snprintf(p->exp_hex + 2 * i, 3, "%02x", ex[i]);
        if (tls_get(s, "/.well-known/est/x", p->srv_hex, sizeof p->srv_hex) != 200)
            p->status = -2;
    }
    p->t_done_ms = m2m_mono_ms();
    gnutls_deinit(s);
    gnutls_psk_free_client_credentials(cred);
    tcl_close(&t);
    return NULL;
}

static void db_reset(void)
{
    pthread_mutex_lock(&g_db.mu);
    g_db.remote_there = false;
    g_db.prefetches = 0;
    g_db.held_wake = NULL;
    pthread_mutex_unlock(&g_db.mu);
}

/* A parked handshake of `prio` while another client works on the same loop. */
static void parked_while_others_served(const char *prio)
{
    db_reset();
    struct srv *s = start(5000);
    int port = srv_bound_port(s, 0);
    struct pcl slow = {.port = port, .id = "remote@mef", .prio = prio, .requests = 1};
    struct pcl fast = {.port = port, .id = "local@x", .prio = prio, .requests = 20};
    pthread_t ts, tf;
    int64_t t0 = m2m_mono_ms();
    assert_int_equal(pthread_create(&ts, NULL, client_main, &slow), 0);
    usleep(200 * 1000); /* the slow one is parked by now */
    assert_int_equal(pthread_create(&tf, NULL, client_main, &fast), 0);
    pthread_join(tf, NULL);
    pthread_join(ts, NULL);
    assert_true(fast.rc >= 0);
    assert_int_equal(fast.status, 200);
    assert_true(slow.rc >= 0);
    assert_int_equal(slow.status, 200);
    assert_true(fast.t_done_ms - t0 < 900);          /* served while the other was parked */
    assert_true(slow.t_done_ms - t0 >= 1000);        /* resumed by the wake, not before */
    assert_string_equal(slow.exp_hex, slow.srv_hex); /* srv_tls_export on a raw exchange */
    assert_string_equal(fast.exp_hex, fast.srv_hex);
    assert_int_equal(g_db.prefetches, 2); /* once per handshake */
    assert_int_equal(tstats(s).tls_handshake_failures, 0);
    srv_stop(s);
}

static void test_parked_tls12(void **state)
{
    parked_while_others_served(P12);
}

static void test_parked_tls13(void **state)
{
    parked_while_others_served(P13);
}

static void test_never_woken_times_out(void **state)
{
    db_reset();
    struct srv *s = start(600);
    struct pcl never = {.port = srv_bound_port(s, 0), .id = "never@mef", .prio = P13};
    pthread_t th;
    int64_t t0 = m2m_mono_ms();
    assert_int_equal(pthread_create(&th, NULL, client_main, &never), 0);
    pthread_join(th, NULL);
    assert_true(never.rc < 0);
    assert_true(never.t_done_ms - t0 >= 500);
    assert_true(never.t_done_ms - t0 < 3000);
    assert_int_equal(tstats(s).timeouts, 1);
    /* the client may see the close before the loop has counted it */
    for (int i = 0; i < 200 && tstats(s).open_connections != 0; i++)
        usleep(10000);
    assert_int_equal(tstats(s).open_connections, 0);
    srv_stop(s);
    /* the wake arrives after the connection and the server are gone: only frees */
    pthread_mutex_lock(&g_db.mu);
    assert_non_null(g_db.held_wake);
    g_db.held_wake(g_db.held_arg);
    pthread_mutex_unlock(&g_db.mu);
}

static void test_wake_after_close_and_failure(void **state)
{
    db_reset();
    struct srv *s = start(5000);
    int port = srv_bound_port(s, 0);
    /* a handshake parked while others fail and succeed; its wake comes last */
    pthread_t th;
    struct pcl never = {.port = port, .id = "never@mef", .prio = P12};
    assert_int_equal(pthread_create(&th, NULL, client_main, &never), 0);
    for (int i = 0; i < 300 && g_db.held_wake == NULL; i++)
        usleep(10000);
    pthread_mutex_lock(&g_db.mu);
    void (*w)(void *) = g_db.held_wake;
    void *a = g_db.held_arg;
    pthread_mutex_unlock(&g_db.mu);
    assert_non_null(w);
    /* a resolution error fails that handshake at once */
    struct pcl fail = {.port = port, .id = "fail@mef", .prio = P13};
    pthread_t tf;
    assert_int_equal(pthread_create(&tf, NULL, client_main, &fail), 0);
    pthread_join(tf, NULL);
    assert_true(fail.rc < 0);
    assert_int_equal(tstats(s).tls_handshake_failures, 1);
    w(a); /* resumes "never": its lookup still fails, so its handshake fails */
    pthread_join(th, NULL);
    assert_true(never.rc < 0);
    struct pcl ok = {.port = port, .id = "local@x", .prio = P13, .requests = 1};
    assert_int_equal(pthread_create(&tf, NULL, client_main, &ok), 0);
    pthread_join(tf, NULL);
    assert_int_equal(ok.status, 200);
    srv_stop(s);
}

static int setup(void **state)
{
    pthread_mutex_init(&g_db.mu, NULL);
    snprintf(g_dir, sizeof g_dir, "/tmp/m2m_prefetch_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    assert_int_equal(pki_ensure_dev(g_dir, NULL, g_ca, g_cert, g_key, sizeof g_ca), M2M_OK);
    return 0;
}

static int teardown(void **state)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parked_tls12),
        cmocka_unit_test(test_parked_tls13),
        cmocka_unit_test(test_never_woken_times_out),
        cmocka_unit_test(test_wake_after_close_and_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
