/* tls_server_test.c: HTTPS on the transport with the development PKI: anonymous and certificate
 * clients and their security context, foreign CAs and required certificates refused, protocol
 * versions and the TS-0003 mandatory suite, handshake timeout and garbage, and the RFC 5705
 * exporter of a tls_session. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
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
#include "tls/pki.h"
#include "tls/tls.h"

static char g_dir[128], g_ca[512], g_cert[512], g_key[512];
static char g_ccert[512], g_ckey[512];   /* client cert, SAN URI */
static char g_cncert[512], g_cnkey[512]; /* client cert, CN only */
static char g_fcert[512], g_fkey[512];   /* client cert from another CA */
static char g_crl[512];                  /* "" or a CRL for the next server started */

#define AE_URI "//m2msec.example.com/id-mn"

static int setup(void **state)
{
    char other[256];
    snprintf(g_dir, sizeof g_dir, "/tmp/m2m_tls_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    char pki[256];
    snprintf(pki, sizeof pki, "%s/pki", g_dir);
    assert_int_equal(pki_ensure_dev(pki, "cse.test", g_ca, g_cert, g_key, sizeof g_ca), M2M_OK);
    snprintf(g_ccert, sizeof g_ccert, "%s/ae.pem", g_dir);
    snprintf(g_ckey, sizeof g_ckey, "%s/ae.key", g_dir);
    assert_int_equal(pki_issue(pki, AE_URI, "id-mn", 10, g_ccert, g_ckey), M2M_OK);
    snprintf(g_cncert, sizeof g_cncert, "%s/cn.pem", g_dir);
    snprintf(g_cnkey, sizeof g_cnkey, "%s/cn.key", g_dir);
    assert_int_equal(pki_issue(pki, NULL, "CAE-legacy", 10, g_cncert, g_cnkey), M2M_OK);
    /* A second development CA: same subject DN as ours, different key. */
    char oca[512], ocert[512], okey[512];
    snprintf(other, sizeof other, "%s/other", g_dir);
    assert_int_equal(pki_ensure_dev(other, NULL, oca, ocert, okey, sizeof oca), M2M_OK);
    snprintf(g_fcert, sizeof g_fcert, "%s/foreign.pem", g_dir);
    snprintf(g_fkey, sizeof g_fkey, "%s/foreign.key", g_dir);
    assert_int_equal(pki_issue(other, AE_URI, "id-mn", 10, g_fcert, g_fkey), M2M_OK);
    return 0;
}

static int teardown(void **state)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- handler: echoes To and records the security context ---- */

struct th {
    pthread_mutex_t mu;
    int seen;
    struct m2m_secctx sec;
};

static void handler(void *ctx, struct srv_exchange *x, struct m2m_request *req)
{
    struct th *t = ctx;
    pthread_mutex_lock(&t->mu);
    t->seen++;
    t->sec = req->sec;
    pthread_mutex_unlock(&t->mu);
    struct m2m_response r;
    m2m_response_init(&r);
    r.rsc = RSC_OK;
    r.rqi = req->rqi ? strdup(req->rqi) : NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "to", req->to);
    r.body = json_print(o);
    r.body_len = strlen(r.body);
    cJSON_Delete(o);
    srv_respond(x, &r);
}

static struct srv *start(struct th *t, bool ca, bool require, int hs_timeout_ms)
{
    struct srv_cfg c;
    struct srv *s = NULL;
    srv_cfg_default(&c);
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    c.n_listeners = 1;
    snprintf(c.listeners[0].addr, sizeof c.listeners[0].addr, "127.0.0.1");
    c.listeners[0].tls = true;
    c.threads = 2;
    if (hs_timeout_ms)
        c.handshake_timeout_ms = hs_timeout_ms;
    snprintf(c.tls.cert_file, sizeof c.tls.cert_file, "%s", g_cert);
    snprintf(c.tls.key_file, sizeof c.tls.key_file, "%s", g_key);
    if (ca)
        snprintf(c.tls.ca_file, sizeof c.tls.ca_file, "%s", g_ca);
    c.tls.require_client_cert = require;
    snprintf(c.tls.crl_file, sizeof c.tls.crl_file, "%s", g_crl);
    assert_int_equal(srv_start(&c, handler, t, &s), M2M_OK);
    return s;
}

static struct srv_stats stats(struct srv *s)
{
    struct srv_stats st;
    srv_get_stats(s, &st);
    return st;
}

/* ---- a GnuTLS client ---- */

struct tcl {
    int fd;
    gnutls_session_t ses;
    gnutls_certificate_credentials_t cred;
};

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Returns the handshake result (0 = success). The server certificate is verified for
 * "localhost" against the development CA. */
static int tcl_open(struct tcl *c, int port, const char *cert, const char *key, const char *prio)
{
    memset(c, 0, sizeof *c);
    c->fd = tcp_connect(port);
    assert_int_equal(gnutls_certificate_allocate_credentials(&c->cred), 0);
    assert_true(gnutls_certificate_set_x509_trust_file(c->cred, g_ca, GNUTLS_X509_FMT_PEM) > 0);
    if (cert)
        assert_int_equal(
            gnutls_certificate_set_x509_key_file(c->cred, cert, key, GNUTLS_X509_FMT_PEM), 0);
    assert_int_equal(gnutls_init(&c->ses, GNUTLS_CLIENT), 0);
    if (prio)
        assert_int_equal(gnutls_priority_set_direct(c->ses, prio, NULL), 0);
    else
        assert_int_equal(gnutls_set_default_priority(c->ses), 0);
    assert_int_equal(gnutls_credentials_set(c->ses, GNUTLS_CRD_CERTIFICATE, c->cred), 0);
    gnutls_server_name_set(c->ses, GNUTLS_NAME_DNS, "localhost", 9);
    gnutls_session_set_verify_cert(c->ses, "localhost", 0);
    gnutls_transport_set_int(c->ses, c->fd);
    gnutls_handshake_set_timeout(c->ses, 5000);
    gnutls_record_set_timeout(c->ses, 5000);
    int r;
    do {
        r = gnutls_handshake(c->ses);
    } while (r < 0 && !gnutls_error_is_fatal(r));
    return r;
}

static void tcl_close(struct tcl *c)
{
    gnutls_deinit(c->ses);
    gnutls_certificate_free_credentials(c->cred);
    close(c->fd);
}

/* Sends a GET and returns the HTTP status of the answer, -1 when the session fails. */
static int tcl_get(struct tcl *c, const char *rqi, char *body, size_t bodylen)
{
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /~/cse-in/t HTTP/1.1\r\nHost: localhost\r\nX-M2M-Origin: C\r\n"
                     "X-M2M-RI: %s\r\nX-M2M-RVI: 3\r\n\r\n",
                     rqi);
    if (gnutls_record_send(c->ses, req, (size_t)n) != n)
        return -1;
    uint8_t buf[8192];
    size_t len = 0;
    struct http_limits lim;
    http_limits_default(&lim);
    for (;;) {
        ssize_t r = gnutls_record_recv(c->ses, buf + len, sizeof buf - len);
        if (r <= 0)
            return -1;
        len += (size_t)r;
        struct http_msg m;
        size_t used;
        int err;
        enum http_parse_result pr = http_parse_response(buf, len, false, &lim, &m, &used, &err);
        if (pr == HTTP_PARSE_ERROR)
            return -1;
        if (pr == HTTP_PARSE_DONE) {
            if (body)
                snprintf(body, bodylen, "%.*s", (int)m.body_len, (const char *)m.body);
            return m.status;
        }
    }
}

static void fingerprint_id(const char *pem, char *out, size_t n)
{
    gnutls_datum_t d, der;
    gnutls_x509_crt_t c;
    uint8_t md[32];
    size_t mdlen = sizeof md;
    assert_int_equal(gnutls_load_file(pem, &d), 0);
    assert_int_equal(gnutls_x509_crt_init(&c), 0);
    assert_int_equal(gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_PEM), 0);
    assert_int_equal(gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_DER, &der), 0);
    assert_int_equal(gnutls_fingerprint(GNUTLS_DIG_SHA256, &der, md, &mdlen), 0);
    size_t o = (size_t)snprintf(out, n, "cert:");
    for (size_t i = 0; i < mdlen; i++)
        o += (size_t)snprintf(out + o, n - o, "%02x", md[i]);
    gnutls_free(d.data);
    gnutls_free(der.data);
    gnutls_x509_crt_deinit(c);
}

/* ---- tests ---- */

static void test_anonymous_client(void **state)
{
    struct th t;
    struct tcl c;
    char body[256];
    struct srv *s = start(&t, true, false, 0);
    assert_int_equal(tcl_open(&c, srv_bound_port(s, 0), NULL, NULL, NULL), 0);
    assert_int_equal(gnutls_protocol_get_version(c.ses), GNUTLS_TLS1_3);
    assert_int_equal(tcl_get(&c, "a1", body, sizeof body), 200);
    assert_string_equal(body, "{\"to\":\"/cse-in/t\"}");
    assert_int_equal(tcl_get(&c, "a2", body, sizeof body), 200); /* keep-alive over TLS */
    assert_int_equal(t.sec.kind, M2M_SEC_TLS);
    assert_string_equal(t.sec.identity, "");
    assert_string_equal(t.sec.cred_id, "");
    assert_int_equal(t.sec.peer.ss_family, AF_INET);
    assert_false(t.sec.trusted_listener);
    tcl_close(&c);
    srv_stop(s);
}

static void test_client_certificate_identity(void **state)
{
    struct th t;
    struct tcl c;
    char fp[128];
    struct srv *s = start(&t, true, true, 0);
    assert_int_equal(tcl_open(&c, srv_bound_port(s, 0), g_ccert, g_ckey, NULL), 0);
    assert_int_equal(tcl_get(&c, "c1", NULL, 0), 200);
    assert_int_equal(t.sec.kind, M2M_SEC_TLS_CERT);
    assert_string_equal(t.sec.identity, AE_URI);
    fingerprint_id(g_ccert, fp, sizeof fp);
    assert_string_equal(t.sec.cred_id, fp);
    assert_int_equal(strlen(t.sec.cred_id), 5 + 64);
    tcl_close(&c);

    /* No SAN: the CN is the identity. */
    assert_int_equal(tcl_open(&c, srv_bound_port(s, 0), g_cncert, g_cnkey, NULL), 0);
    assert_int_equal(tcl_get(&c, "c2", NULL, 0), 200);
    assert_int_equal(t.sec.kind, M2M_SEC_TLS_CERT);
    assert_string_equal(t.sec.identity, "CAE-legacy");
    tcl_close(&c);
    srv_stop(s);
}

/* TS-0003 8.1.2.5: a certificate that does not validate aborts the handshake; the client is not
 * served as anonymous. Tried with TLS 1.3 and TLS 1.2. */
static void test_foreign_ca_refused(void **state)
{
    const char *prios[] = {NULL, "NORMAL:-VERS-ALL:+VERS-TLS1.2"};
    for (size_t i = 0; i < 2; i++) {
        struct th t;
        struct tcl c;
        struct srv *s = start(&t, true, false, 0);
        int hs = tcl_open(&c, srv_bound_port(s, 0), g_fcert, g_fkey, prios[i]);
        if (hs == 0) /* TLS 1.3: the client finishes first and learns it from the alert */
            assert_int_equal(tcl_get(&c, "f", NULL, 0), -1);
        tcl_close(&c);
        assert_int_equal(t.seen, 0);
        for (int k = 0; k < 100 && stats(s).tls_handshake_failures == 0; k++)
            usleep(10000);
        assert_int_equal(stats(s).tls_handshake_failures, 1);
        srv_stop(s);
    }
}

static void test_required_certificate_missing(void **state)
{
    struct th t;
    struct tcl c;
    struct srv *s = start(&t, true, true, 0);
    int hs = tcl_open(&c, srv_bound_port(s, 0), NULL, NULL, NULL);
    if (hs == 0)
        assert_int_equal(tcl_get(&c, "r", NULL, 0), -1);
    tcl_close(&c);
    assert_int_equal(t.seen, 0);
    srv_stop(s);
}

/* Without ca_file no certificate is requested: a client with one is still anonymous. */
static void test_no_ca_no_request(void **state)
{
    struct th t;
    struct tcl c;
    struct srv *s = start(&t, false, false, 0);
    assert_int_equal(tcl_open(&c, srv_bound_port(s, 0), g_ccert, g_ckey, NULL), 0);
    assert_int_equal(tcl_get(&c, "n", NULL, 0), 200);
    assert_int_equal(t.sec.kind, M2M_SEC_TLS);
    assert_string_equal(t.sec.identity, "");
    tcl_close(&c);
    srv_stop(s);
}

/* TS-0003 10.2: TLS 1.2 with the mandatory TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 works;
 * TLS 1.1 does not. */
static void test_versions_and_suites(void **state)
{
    struct th t;
    struct tcl c;
    struct srv *s = start(&t, true, false, 0);
    assert_int_equal(tcl_open(&c, srv_bound_port(s, 0), NULL, NULL,
                              "NONE:+VERS-TLS1.2:+ECDHE-ECDSA:+AES-128-CBC:+SHA256:+SIGN-ALL:"
                              "+COMP-NULL:+GROUP-ALL:+CTYPE-X509"),
                     0);
    assert_int_equal(gnutls_protocol_get_version(c.ses), GNUTLS_TLS1_2);
    assert_int_equal(gnutls_cipher_get(c.ses), GNUTLS_CIPHER_AES_128_CBC);
    assert_int_equal(gnutls_mac_get(c.ses), GNUTLS_MAC_SHA256);
    assert_int_equal(tcl_get(&c, "v12", NULL, 0), 200);
    tcl_close(&c);
    /* TLS 1.2 default: an AEAD suite is chosen (server precedence). */
    assert_int_equal(
        tcl_open(&c, srv_bound_port(s, 0), NULL, NULL, "NORMAL:-VERS-ALL:+VERS-TLS1.2"), 0);
    assert_int_equal(gnutls_cipher_get(c.ses), GNUTLS_CIPHER_AES_256_GCM);
    tcl_close(&c);
    assert_true(tcl_open(&c, srv_bound_port(s, 0), NULL, NULL, "NORMAL:-VERS-ALL:+VERS-TLS1.1") <
                0);
    tcl_close(&c);
    srv_stop(s);
}

static void test_handshake_timeout_and_garbage(void **state)
{
    struct th t;
    struct srv *s = start(&t, true, false, 300);
    int fd = tcp_connect(srv_bound_port(s, 0));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 100), 0); /* still open */
    assert_int_equal(poll(&p, 1, 2000), 1);
    char b[64];
    assert_true(recv(fd, b, sizeof b, 0) <= 0);
    close(fd);
    assert_int_equal(stats(s).timeouts, 1);

    fd = tcp_connect(srv_bound_port(s, 0));
    const char *plain = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(send(fd, plain, strlen(plain), MSG_NOSIGNAL), (ssize_t)strlen(plain));
    p.fd = fd;
    assert_int_equal(poll(&p, 1, 2000), 1); /* an alert or the close */
    while (recv(fd, b, sizeof b, 0) > 0) {
    }
    close(fd);
    for (int k = 0; k < 100 && stats(s).tls_handshake_failures == 0; k++)
        usleep(10000);
    assert_int_equal(stats(s).tls_handshake_failures, 1);
    assert_int_equal(t.seen, 0);
    srv_stop(s);
}

static gnutls_x509_crt_t load_crt(const char *path)
{
    gnutls_datum_t d;
    gnutls_x509_crt_t c;
    assert_int_equal(gnutls_load_file(path, &d), 0);
    assert_int_equal(gnutls_x509_crt_init(&c), 0);
    assert_int_equal(gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_PEM), 0);
    gnutls_free(d.data);
    return c;
}

/* Writes a CRL signed by the development CA that revokes `revoked`. */
static void write_crl(const char *revoked, const char *out)
{
    char path[600];
    gnutls_datum_t d;
    gnutls_x509_privkey_t key;
    gnutls_x509_crl_t crl;
    gnutls_x509_crt_t ca = load_crt(g_ca), leaf = load_crt(revoked);
    snprintf(path, sizeof path, "%s/pki/ca.key", g_dir);
    assert_int_equal(gnutls_load_file(path, &d), 0);
    assert_int_equal(gnutls_x509_privkey_init(&key), 0);
    assert_int_equal(gnutls_x509_privkey_import(key, &d, GNUTLS_X509_FMT_PEM), 0);
    gnutls_free(d.data);
    assert_int_equal(gnutls_x509_crl_init(&crl), 0);
    assert_int_equal(gnutls_x509_crl_set_version(crl, 2), 0);
    assert_int_equal(gnutls_x509_crl_set_this_update(crl, time(NULL) - 60), 0);
    assert_int_equal(gnutls_x509_crl_set_next_update(crl, time(NULL) + 86400), 0);
    assert_int_equal(gnutls_x509_crl_set_crt(crl, leaf, time(NULL) - 60), 0);
    assert_int_equal(gnutls_x509_crl_sign2(crl, ca, key, GNUTLS_DIG_SHA256, 0), 0);
    assert_int_equal(gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_PEM, &d), 0);
    FILE *f = fopen(out, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(d.data, 1, d.size, f), d.size);
    fclose(f);
    gnutls_free(d.data);
    gnutls_x509_crl_deinit(crl);
    gnutls_x509_privkey_deinit(key);
    gnutls_x509_crt_deinit(ca);
    gnutls_x509_crt_deinit(leaf);
}

/* A revoked client certificate fails the handshake; another one from the same CA passes. */
static void test_revoked_certificate(void **state)
{
    struct th t;
    struct tcl c;
    snprintf(g_crl, sizeof g_crl, "%s/ca.crl", g_dir);
    write_crl(g_ccert, g_crl);
    struct srv *s = start(&t, true, false, 0);
    g_crl[0] = '\0';
    int hs = tcl_open(&c, srv_bound_port(s, 0), g_ccert, g_ckey, NULL);
    if (hs == 0)
        assert_int_equal(tcl_get(&c, "rv", NULL, 0), -1);
    tcl_close(&c);
    assert_int_equal(t.seen, 0);
    assert_int_equal(tcl_open(&c, srv_bound_port(s, 0), g_cncert, g_cnkey, NULL), 0);
    assert_int_equal(tcl_get(&c, "ok", NULL, 0), 200);
    assert_int_equal(t.sec.kind, M2M_SEC_TLS_CERT);
    assert_string_equal(t.sec.identity, "CAE-legacy");
    tcl_close(&c);
    srv_stop(s);
}

/* ---- tls_session directly: the RFC 5705 exporter on both ends agrees ---- */

struct peer_args {
    int fd;
    uint8_t ekm[32];
    int rc;
};

static void *client_main(void *arg)
{
    struct peer_args *a = arg;
    gnutls_certificate_credentials_t cred;
    gnutls_session_t ses;
    gnutls_certificate_allocate_credentials(&cred);
    gnutls_certificate_set_x509_trust_file(cred, g_ca, GNUTLS_X509_FMT_PEM);
    gnutls_init(&ses, GNUTLS_CLIENT);
    gnutls_set_default_priority(ses);
    gnutls_credentials_set(ses, GNUTLS_CRD_CERTIFICATE, cred);
    gnutls_session_set_verify_cert(ses, "localhost", 0);
    gnutls_transport_set_int(ses, a->fd);
    gnutls_handshake_set_timeout(ses, 5000);
    int r;
    do {
        r = gnutls_handshake(ses);
    } while (r < 0 && !gnutls_error_is_fatal(r));
    a->rc = r;
    if (r == 0)
        a->rc =
            gnutls_prf_rfc5705(ses, 16, "EXPORTER-m2m-tst", 0, NULL, sizeof a->ekm, (char *)a->ekm);
    gnutls_deinit(ses);
    gnutls_certificate_free_credentials(cred);
    return NULL;
}

static void test_exporter(void **state)
{
    int sv[2];
    struct tls_ctx *ctx = NULL;
    struct tls_session *ses = NULL;
    struct tls_ctx_cfg cfg = {.cert_file = g_cert, .key_file = g_key};
    assert_int_equal(tls_ctx_new(&cfg, &ctx), M2M_OK);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(tls_session_new(ctx, sv[0], &ses), M2M_OK);
    uint8_t ekm[32];
    assert_int_equal(tls_export(ses, "EXPORTER-m2m-tst", 16, ekm, sizeof ekm), M2M_ERR_TLS);
    struct peer_args a = {.fd = sv[1]};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, client_main, &a), 0);
    m2m_rc rc;
    for (int i = 0; i < 500; i++) {
        rc = tls_handshake(ses);
        if (rc != M2M_ERR_AGAIN)
            break;
        struct pollfd p = {.fd = sv[0], .events = tls_wants_write(ses) ? POLLOUT : POLLIN};
        poll(&p, 1, 100);
    }
    assert_int_equal(rc, M2M_OK);
    pthread_join(th, NULL);
    assert_int_equal(a.rc, 0);
    assert_int_equal(tls_export(ses, "EXPORTER-m2m-tst", 16, ekm, sizeof ekm), M2M_OK);
    assert_memory_equal(ekm, a.ekm, sizeof ekm);
    uint8_t other[32];
    assert_int_equal(tls_export(ses, "EXPORTER-m2m-xxx", 16, other, sizeof other), M2M_OK);
    assert_memory_not_equal(ekm, other, sizeof ekm);
    struct m2m_secctx sec;
    assert_int_equal(tls_peer_secctx(ses, &sec), M2M_OK);
    assert_int_equal(sec.kind, M2M_SEC_TLS);
    tls_session_free(ses);
    tls_session_free(NULL);
    tls_ctx_free(ctx);
    tls_ctx_free(NULL);
    close(sv[0]);
    close(sv[1]);
}

static void test_ctx_config_errors(void **state)
{
    struct tls_ctx *ctx = (struct tls_ctx *)1;
    struct tls_ctx_cfg cfg = {.cert_file = g_cert, .key_file = "/nonexistent.key"};
    assert_int_equal(tls_ctx_new(&cfg, &ctx), M2M_ERR_CONFIG);
    assert_null(ctx);
    cfg.key_file = g_key;
    cfg.priorities = "NOT-A-PRIORITY";
    assert_int_equal(tls_ctx_new(&cfg, &ctx), M2M_ERR_CONFIG);
    cfg.priorities = NULL;
    cfg.require_client_cert = true; /* without trust anchors */
    assert_int_equal(tls_ctx_new(&cfg, &ctx), M2M_ERR_CONFIG);
    cfg.require_client_cert = false;
    cfg.ca_file = "/nonexistent-ca.pem";
    assert_int_equal(tls_ctx_new(&cfg, &ctx), M2M_ERR_CONFIG);
    cfg.ca_file = g_ca;
    cfg.crl_file = g_cert; /* not a CRL */
    assert_int_equal(tls_ctx_new(&cfg, &ctx), M2M_ERR_CONFIG);
    cfg.crl_file = NULL;
    cfg.kinds = TLS_CRED_PSK; /* not yet */
    assert_int_equal(tls_ctx_new(&cfg, &ctx), M2M_ERR_CONFIG);
    cfg.kinds = 0;
    assert_int_equal(tls_ctx_new(&cfg, &ctx), M2M_OK);
    tls_ctx_free(ctx);
}

int main(void)
{
    m2m_log_set_level(M2M_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anonymous_client),
        cmocka_unit_test(test_client_certificate_identity),
        cmocka_unit_test(test_foreign_ca_refused),
        cmocka_unit_test(test_required_certificate_missing),
        cmocka_unit_test(test_revoked_certificate),
        cmocka_unit_test(test_no_ca_no_request),
        cmocka_unit_test(test_versions_and_suites),
        cmocka_unit_test(test_handshake_timeout_and_garbage),
        cmocka_unit_test(test_exporter),
        cmocka_unit_test(test_ctx_config_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
