/* tls_psk_test.c: the PSK SAEF of a tls_session over a socketpair: binding from the lookup hook
 * (TLS 1.2 mandatory suite, ECDHE-PSK, TLS 1.3), wrong key and unknown identity fail in the
 * handshake, the exporter matches the client's and EMS is negotiated, config errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls/pki.h"
#include "tls/tls.h"

static char g_dir[128], g_ca[512], g_cert[512], g_key[512];
static const uint8_t KEY[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static m2m_rc fake_psk(void *ctx, const char *id, size_t idlen, uint8_t *key, size_t *keylen,
                       struct m2m_secctx *b)
{
    if (idlen != 13 || memcmp(id, "ae1@sp.test.x", 13) != 0 || *keylen < sizeof KEY)
        return M2M_ERR_NOT_FOUND;
    memcpy(key, KEY, sizeof KEY);
    *keylen = sizeof KEY;
    snprintf(b->identity, sizeof b->identity, "Cae1");
    snprintf(b->bound[0], sizeof b->bound[0], "Cae2");
    b->n_bound = 1;
    snprintf(b->cred_id, sizeof b->cred_id, "12-ae1@sp.test.x");
    return M2M_OK;
}

static int setup(void **state)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/m2m_tlspsk_XXXXXX");
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

struct client {
    int fd;
    const char *prio, *identity;
    const uint8_t *key;
    int rc;
    uint8_t exp[32];
};

static void *client_main(void *arg)
{
    struct client *c = arg;
    gnutls_session_t s;
    gnutls_psk_client_credentials_t cred;
    gnutls_datum_t k = {(unsigned char *)c->key, 16};
    gnutls_psk_allocate_client_credentials(&cred);
    gnutls_psk_set_client_credentials(cred, c->identity, &k, GNUTLS_PSK_KEY_RAW);
    gnutls_init(&s, GNUTLS_CLIENT);
    gnutls_priority_set_direct(s, c->prio, NULL);
    gnutls_credentials_set(s, GNUTLS_CRD_PSK, cred);
    gnutls_transport_set_int(s, c->fd);
    gnutls_handshake_set_timeout(s, 5000);
    do
        c->rc = gnutls_handshake(s);
    while (c->rc < 0 && !gnutls_error_is_fatal(c->rc));
    if (c->rc >= 0)
        gnutls_prf_rfc5705(s, 9, "EXPORTER1", 0, NULL, sizeof c->exp, (char *)c->exp);
    shutdown(c->fd, SHUT_WR);
    gnutls_deinit(s);
    gnutls_psk_free_client_credentials(cred);
    return NULL;
}

static struct tls_ctx *new_ctx(void)
{
    struct tls_ctx_cfg cfg = {.cert_file = g_cert, .key_file = g_key, .ca_file = g_ca};
    cfg.hooks.psk_lookup = fake_psk;
    struct tls_ctx *ctx = NULL;
    assert_int_equal(tls_ctx_new(&cfg, &ctx), M2M_OK);
    return ctx;
}

/* Runs one handshake; returns the server's result and fills sec/exporter on success. */
static m2m_rc run(const char *prio, const char *identity, const uint8_t *key,
                  struct m2m_secctx *sec, struct client *c)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    struct tls_ctx *ctx = new_ctx();
    struct tls_session *s = NULL;
    assert_int_equal(tls_session_new(ctx, sv[0], &s), M2M_OK);
    *c = (struct client){.fd = sv[1], .prio = prio, .identity = identity, .key = key};
    pthread_t th;
    pthread_create(&th, NULL, client_main, c);
    m2m_rc rc;
    for (int i = 0; i < 500; i++) {
        rc = tls_handshake(s);
        if (rc != M2M_ERR_AGAIN)
            break;
        struct pollfd p = {sv[0], tls_wants_write(s) ? POLLOUT : POLLIN, 0};
        poll(&p, 1, 20);
    }
    if (rc == M2M_OK) {
        rc = tls_peer_secctx(s, sec);
        uint8_t mine[32];
        assert_int_equal(tls_export(s, "EXPORTER1", 9, mine, sizeof mine), M2M_OK);
        pthread_join(th, NULL);
        assert_memory_equal(mine, c->exp, sizeof mine);
        assert_true(tls_session_ems(s));
        assert_int_equal(tls_session_cred_kind(s), TLS_CRED_PSK);
    } else {
        tls_session_free(s);
        s = NULL;
        shutdown(sv[0], SHUT_RDWR); /* the client sees EOF at once instead of its timeout */
        pthread_join(th, NULL);
    }
    tls_session_free(s);
    tls_ctx_free(ctx);
    close(sv[0]);
    close(sv[1]);
    return rc;
}

static void test_psk_binding_per_suite(void **state)
{
    const char *prios[] = {
        "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+PSK:-CIPHER-ALL:+AES-128-CBC:-MAC-ALL:+SHA256",
        "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-PSK",
        "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK",
        "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+PSK",
    };
    for (size_t i = 0; i < sizeof prios / sizeof prios[0]; i++) {
        struct m2m_secctx sec;
        struct client c;
        memset(&sec, 0, sizeof sec);
        assert_int_equal(run(prios[i], "ae1@sp.test.x", KEY, &sec, &c), M2M_OK);
        assert_int_equal(sec.kind, M2M_SEC_TLS_PSK);
        assert_string_equal(sec.identity, "Cae1");
        assert_int_equal(sec.n_bound, 1);
        assert_string_equal(sec.bound[0], "Cae2");
        assert_string_equal(sec.cred_id, "12-ae1@sp.test.x");
    }
}

static void test_wrong_key_unknown_identity_weak_suite(void **state)
{
    uint8_t wrong[16];
    memcpy(wrong, KEY, 16);
    wrong[15] ^= 1;
    struct m2m_secctx sec;
    struct client c;
    const char *p12 = "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+PSK";
    const char *p13 = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+PSK";
    assert_int_not_equal(run(p12, "ae1@sp.test.x", wrong, &sec, &c), M2M_OK);
    assert_int_not_equal(run(p13, "ae1@sp.test.x", wrong, &sec, &c), M2M_OK);
    assert_int_not_equal(run(p12, "ae9@sp.test.x", KEY, &sec, &c), M2M_OK);
    assert_int_not_equal(run(p13, "ae1@sp.test.", KEY, &sec, &c), M2M_OK);
    /* SHA-1 MAC only: not offered by the server */
    assert_int_not_equal(run("NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+PSK:-MAC-ALL:+SHA1",
                             "ae1@sp.test.x", KEY, &sec, &c),
                         M2M_OK);
}

static void test_config_and_ni(void **state)
{
    struct tls_ctx *ctx = NULL;
    struct tls_ctx_cfg cfg = {
        .cert_file = g_cert, .key_file = g_key, .kinds = TLS_CRED_X509 | TLS_CRED_PSK};
    assert_int_equal(tls_ctx_new(&cfg, &ctx), M2M_ERR_CONFIG); /* PSK without a lookup */
    assert_null(ctx);
    char ni[TLS_NI_ID_MAX];
    assert_int_equal(tls_rpk_ni_id((const uint8_t *)"abc", 3, ni, 10), M2M_ERR_LIMIT);
    assert_int_equal(tls_rpk_ni_id(NULL, 0, ni, sizeof ni), M2M_ERR_MALFORMED);
    /* RFC 6920 / FIPS 180-2: SHA-256("abc") = ba7816bf... -> base64url */
    assert_int_equal(tls_rpk_ni_id((const uint8_t *)"abc", 3, ni, sizeof ni), M2M_OK);
    assert_string_equal(ni, "ni:///sha-256;ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psk_binding_per_suite),
        cmocka_unit_test(test_wrong_key_unknown_identity_weak_suite),
        cmocka_unit_test(test_config_and_ni),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
