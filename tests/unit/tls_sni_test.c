/* tls_sni_test.c: TS-0003 10.2.1 SNI on the TLS listener: the default names (certificate
 * dNSNames plus "localhost", case-insensitive), a configured list, a wrong name refused with
 * unrecognized_name, no SNI accepted, and a list without names refused at start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <gnutls/gnutls.h>
#include <stdlib.h>

#include "srv_testutil.h"
#include "tls/pki.h"

static char g_dir[128], g_ca[512], g_cert[512], g_key[512];

static void prim_fn(void *ctx, struct srv_exchange *x, struct m2m_request *req)
{
    struct m2m_response r;
    m2m_response_init(&r);
    r.rsc = RSC_OK;
    srv_respond(x, &r);
}

static m2m_rc start(const char *names, struct srv **out)
{
    struct srv_cfg c;
    srv_cfg_default(&c);
    c.n_listeners = 1;
    snprintf(c.listeners[0].addr, sizeof c.listeners[0].addr, "127.0.0.1");
    c.listeners[0].tls = true;
    c.threads = 1;
    snprintf(c.tls.cert_file, sizeof c.tls.cert_file, "%s", g_cert);
    snprintf(c.tls.key_file, sizeof c.tls.key_file, "%s", g_key);
    snprintf(c.tls.server_names, sizeof c.tls.server_names, "%s", names);
    return srv_start(&c, prim_fn, NULL, out);
}

/* A handshake with SNI `name` (NULL: none). Returns 0 on success, else the alert the client
 * received (or -1 for another failure). */
static int hello(struct srv *s, const char *name, const char *vers)
{
    struct tcl t;
    gnutls_session_t ses;
    gnutls_certificate_credentials_t cred;
    char prio[128];
    assert_int_equal(tcl_open(&t, "", "127.0.0.1", srv_bound_port(s, 0)), 0);
    gnutls_certificate_allocate_credentials(&cred);
    gnutls_certificate_set_x509_trust_file(cred, g_ca, GNUTLS_X509_FMT_PEM);
    gnutls_init(&ses, GNUTLS_CLIENT);
    snprintf(prio, sizeof prio, "NORMAL:-VERS-ALL:+%s", vers);
    gnutls_priority_set_direct(ses, prio, NULL);
    gnutls_credentials_set(ses, GNUTLS_CRD_CERTIFICATE, cred);
    if (name != NULL)
        gnutls_server_name_set(ses, GNUTLS_NAME_DNS, name, strlen(name));
    gnutls_transport_set_int(ses, t.fd);
    gnutls_handshake_set_timeout(ses, 5000);
    int r;
    do
        r = gnutls_handshake(ses);
    while (r < 0 && !gnutls_error_is_fatal(r));
    int out = r >= 0 ? 0 : r == GNUTLS_E_FATAL_ALERT_RECEIVED ? (int)gnutls_alert_get(ses) : -1;
    gnutls_deinit(ses);
    gnutls_certificate_free_credentials(cred);
    tcl_close(&t);
    return out;
}

static void test_default_names(void **state)
{
    struct srv *s = NULL;
    assert_int_equal(start("", &s), M2M_OK);
    const char *vers[] = {"VERS-TLS1.2", "VERS-TLS1.3"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(hello(s, NULL, vers[i]), 0);
        assert_int_equal(hello(s, "localhost", vers[i]), 0);
        assert_int_equal(hello(s, "LocalHost", vers[i]), 0);
        assert_int_equal(hello(s, "cse.example.com", vers[i]), 0); /* the certificate's SAN */
        assert_int_equal(hello(s, "evil.example", vers[i]), GNUTLS_A_UNRECOGNIZED_NAME);
        assert_int_equal(hello(s, "localhost.evil", vers[i]), GNUTLS_A_UNRECOGNIZED_NAME);
        assert_int_equal(hello(s, "localhos", vers[i]), GNUTLS_A_UNRECOGNIZED_NAME);
        /* IP literals (sent by wrk and other OpenSSL tools) name no authority: as no SNI */
        assert_int_equal(hello(s, "127.0.0.1", vers[i]), 0);
        /* (GnuTLS itself refuses an SNI holding ':' with illegal_parameter before our check) */
        assert_int_equal(hello(s, "127.0.0.1.evil", vers[i]), GNUTLS_A_UNRECOGNIZED_NAME);
    }
    assert_int_equal(tstats(s).tls_handshake_failures, 8);
    srv_stop(s);
}

static void test_configured_names(void **state)
{
    struct srv *s = NULL;
    assert_int_equal(start(" a.example ,B.example", &s), M2M_OK);
    assert_int_equal(hello(s, "a.example", "VERS-TLS1.3"), 0);
    assert_int_equal(hello(s, "b.EXAMPLE", "VERS-TLS1.2"), 0);
    assert_int_equal(hello(s, "localhost", "VERS-TLS1.3"), GNUTLS_A_UNRECOGNIZED_NAME);
    assert_int_equal(hello(s, "cse.example.com", "VERS-TLS1.2"), GNUTLS_A_UNRECOGNIZED_NAME);
    assert_int_equal(hello(s, NULL, "VERS-TLS1.3"), 0);
    srv_stop(s);
    s = NULL;
    assert_int_equal(start(" , ,", &s), M2M_ERR_CONFIG);
    assert_null(s);
    assert_int_equal(start("a.example,bad name", &s), M2M_ERR_CONFIG);
    assert_int_equal(start("*.example", &s), M2M_ERR_CONFIG);
}

static int setup(void **state)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/m2m_sni_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    assert_int_equal(pki_ensure_dev(g_dir, "cse.example.com", g_ca, g_cert, g_key, sizeof g_ca),
                     M2M_OK);
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
        cmocka_unit_test(test_default_names),
        cmocka_unit_test(test_configured_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
