/* tls.c: GnuTLS server sessions: credentials, non-blocking handshake, client certificate
 * verification and identity binding, record I/O and the RFC 5705 exporter. */
#include "tls/tls.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

/* Default priorities. TS-0003 10.2.1: TCP payloads are secured with TLS v1.2; TLS 1.3 is offered
 * too because every current client prefers it and it removes the CBC and RSA key transport legacy;
 * a TLS 1.2 client is never refused for lack of 1.3. Key exchange is ephemeral ECDHE only (forward
 * secrecy). AEAD suites come first (AES-GCM, ChaCha20-Poly1305 for cores without AES instructions,
 * AES-CCM for constrained peers), in server order. AES-128-CBC with SHA-256 stays last because
 * TS-0003 10.2.3 (with 10.2.1: IN servers support all listed suites) makes
 * TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 mandatory; SHA-1 MACs, SSL3 and
 * TLS 1.0/1.1 are off. The PSK SAEF (next issue) will add +ECDHE-PSK:+PSK. */
const char TLS_DEFAULT_PRIORITIES[] =
    "SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:"
    "-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:+AES-256-CCM:+AES-128-CCM:"
    "+AES-128-CBC:-SHA1:+SHA256:+SHA384:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE";

struct tls_ctx {
    gnutls_certificate_credentials_t x509;
    gnutls_priority_t prio;
    gnutls_certificate_request_t req_mode;
    unsigned kinds;
    tls_psk_lookup_fn psk_lookup; /* reserved for the PSK SAEF */
    void *psk_ctx;
};

struct tls_session {
    struct tls_ctx *ctx;
    gnutls_session_t ses;
    enum tls_cred_kind used; /* credential kind negotiated (X509 for now) */
    bool handshake_done;
    bool bye_sent;
    size_t again_len; /* length passed to the record_send that returned E_AGAIN */
};

static bool nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* Runs inside the handshake when the client has sent its certificate (or chose not to).
 * TS-0003 8.1.2.5: a certificate that fails path validation aborts the handshake; there is no
 * fallback to an unauthenticated session. */
static int verify_client_cb(gnutls_session_t ses)
{
    struct tls_session *s = gnutls_session_get_ptr(ses);
    unsigned n = 0, status = 0;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(ses, &n);
    if (peers == NULL || n == 0)
        return s->ctx->req_mode == GNUTLS_CERT_REQUIRE ? -1 : 0;
    if (gnutls_certificate_type_get(ses) != GNUTLS_CRT_X509)
        return -1;
    gnutls_typed_vdata_st purpose = {.type = GNUTLS_DT_KEY_PURPOSE_OID,
                                     .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT};
    int r = gnutls_certificate_verify_peers(ses, &purpose, 1, &status);
    if (r < 0 || status != 0) {
        gnutls_datum_t txt = {NULL, 0};
        if (r >= 0 &&
            gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &txt, 0) >= 0) {
            log_info("tls: client certificate rejected: %s", (const char *)txt.data);
            gnutls_free(txt.data);
        } else {
            log_info("tls: client certificate rejected: %s", gnutls_strerror(r));
        }
        return -1;
    }
    return 0;
}

static m2m_rc ctx_load_x509(struct tls_ctx *c, const struct tls_ctx_cfg *cfg)
{
    int r;
    if (gnutls_certificate_allocate_credentials(&c->x509) < 0)
        return M2M_ERR_NOMEM;
    if (!nonempty(cfg->cert_file) || !nonempty(cfg->key_file))
        return M2M_ERR_CONFIG;
    r = gnutls_certificate_set_x509_key_file(c->x509, cfg->cert_file, cfg->key_file,
                                             GNUTLS_X509_FMT_PEM);
    if (r < 0) {
        log_error("tls: cannot load %s / %s: %s", cfg->cert_file, cfg->key_file,
                  gnutls_strerror(r));
        return M2M_ERR_CONFIG;
    }
    c->req_mode = GNUTLS_CERT_IGNORE;
    if (nonempty(cfg->ca_file)) {
        r = gnutls_certificate_set_x509_trust_file(c->x509, cfg->ca_file, GNUTLS_X509_FMT_PEM);
        if (r <= 0) {
            log_error("tls: no trust anchors in %s: %s", cfg->ca_file,
                      r < 0 ? gnutls_strerror(r) : "empty");
            return M2M_ERR_CONFIG;
        }
        c->req_mode = cfg->require_client_cert ? GNUTLS_CERT_REQUIRE : GNUTLS_CERT_REQUEST;
        gnutls_certificate_set_verify_function(c->x509, verify_client_cb);
    } else if (cfg->require_client_cert) {
        log_error("tls: require_client_cert needs a ca_file");
        return M2M_ERR_CONFIG;
    }
    if (nonempty(cfg->crl_file)) {
        r = gnutls_certificate_set_x509_crl_file(c->x509, cfg->crl_file, GNUTLS_X509_FMT_PEM);
        if (r < 0) {
            log_error("tls: cannot load CRL %s: %s", cfg->crl_file, gnutls_strerror(r));
            return M2M_ERR_CONFIG;
        }
    }
    return M2M_OK;
}

m2m_rc tls_ctx_new(const struct tls_ctx_cfg *cfg, struct tls_ctx **out)
{
    m2m_rc rc = M2M_OK;
    const char *err = NULL;
    *out = NULL;
    struct tls_ctx *c = calloc(1, sizeof *c);
    ENSURE_NONNULL(c);
    c->kinds = cfg->kinds ? cfg->kinds : TLS_CRED_X509;
    ENSURE(c->kinds == TLS_CRED_X509, M2M_ERR_CONFIG); /* PSK and RPK: not yet */
    c->psk_lookup = cfg->psk_lookup;
    c->psk_ctx = cfg->psk_ctx;
    TRY(ctx_load_x509(c, cfg));
    const char *prio = nonempty(cfg->priorities) ? cfg->priorities : TLS_DEFAULT_PRIORITIES;
    if (gnutls_priority_init(&c->prio, prio, &err) < 0) {
        log_error("tls: bad priority string near '%s'", err ? err : "?");
        c->prio = NULL;
        BAIL(M2M_ERR_CONFIG);
    }
    *out = c;
    c = NULL;
out:
    tls_ctx_free(c);
    return rc;
}

void tls_ctx_free(struct tls_ctx *c)
{
    if (c == NULL)
        return;
    if (c->prio)
        gnutls_priority_deinit(c->prio);
    if (c->x509)
        gnutls_certificate_free_credentials(c->x509);
    free(c);
}

m2m_rc tls_session_new(struct tls_ctx *ctx, int fd, struct tls_session **out)
{
    m2m_rc rc = M2M_OK;
    *out = NULL;
    struct tls_session *s = calloc(1, sizeof *s);
    ENSURE_NONNULL(s);
    s->ctx = ctx;
    if (gnutls_init(&s->ses, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) < 0) {
        s->ses = NULL;
        BAIL(M2M_ERR_NOMEM);
    }
    gnutls_session_set_ptr(s->ses, s);
    ENSURE(gnutls_priority_set(s->ses, ctx->prio) >= 0, M2M_ERR_TLS);
    ENSURE(gnutls_credentials_set(s->ses, GNUTLS_CRD_CERTIFICATE, ctx->x509) >= 0, M2M_ERR_TLS);
    gnutls_certificate_server_set_request(s->ses, ctx->req_mode);
    gnutls_transport_set_int(s->ses, fd);
    /* The loop enforces its own handshake timeout. */
    gnutls_handshake_set_timeout(s->ses, 0);
    s->used = TLS_CRED_X509;
    *out = s;
    s = NULL;
out:
    tls_session_free(s);
    return rc;
}

void tls_session_free(struct tls_session *s)
{
    if (s == NULL)
        return;
    if (s->ses)
        gnutls_deinit(s->ses);
    free(s);
}

m2m_rc tls_handshake(struct tls_session *s)
{
    if (s->handshake_done)
        return M2M_OK;
    int r = gnutls_handshake(s->ses);
    if (r == GNUTLS_E_SUCCESS) {
        s->handshake_done = true;
        return M2M_OK;
    }
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal(r))
        return M2M_ERR_AGAIN;
    if (r == GNUTLS_E_PREMATURE_TERMINATION || r == GNUTLS_E_PULL_ERROR)
        return M2M_ERR_CLOSED;
    log_info("tls: handshake failed: %s", gnutls_strerror(r));
    return M2M_ERR_TLS;
}

bool tls_wants_write(const struct tls_session *s)
{
    return gnutls_record_get_direction(s->ses) == 1;
}

m2m_rc tls_read(struct tls_session *s, uint8_t *buf, size_t cap, size_t *n)
{
    *n = 0;
    for (int tries = 0; tries < 8; tries++) {
        ssize_t r = gnutls_record_recv(s->ses, buf, cap);
        if (r > 0) {
            *n = (size_t)r;
            return M2M_OK;
        }
        if (r == 0 || r == GNUTLS_E_PREMATURE_TERMINATION)
            return M2M_ERR_CLOSED;
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
            return M2M_ERR_AGAIN;
        if (gnutls_error_is_fatal((int)r)) {
            log_debug("tls: read failed: %s", gnutls_strerror((int)r));
            return M2M_ERR_TLS;
        }
        /* Non-fatal (a warning alert, a refused renegotiation): keep reading. */
    }
    return M2M_ERR_AGAIN;
}

m2m_rc tls_write(struct tls_session *s, const uint8_t *buf, size_t len, size_t *n)
{
    *n = 0;
    size_t want = s->again_len ? s->again_len : len;
    if (want > len)
        return M2M_ERR_INTERNAL; /* the caller dropped data GnuTLS already encrypted */
    ssize_t r = gnutls_record_send(s->ses, buf, want);
    if (r >= 0) {
        s->again_len = 0;
        *n = (size_t)r;
        return M2M_OK;
    }
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
        s->again_len = want;
        return M2M_ERR_AGAIN;
    }
    log_debug("tls: write failed: %s", gnutls_strerror((int)r));
    return M2M_ERR_TLS;
}

size_t tls_pending(struct tls_session *s)
{
    return gnutls_record_check_pending(s->ses);
}

void tls_bye(struct tls_session *s)
{
    if (s == NULL || s->bye_sent || !s->handshake_done)
        return;
    s->bye_sent = true;
    (void)gnutls_bye(s->ses, GNUTLS_SHUT_WR);
}

/* Copies a name of size bytes out of GnuTLS into out, refusing embedded NULs (a SAN of
 * "a\0b" must not bind as "a"). */
static bool name_ok(const char *buf, size_t size)
{
    return size > 0 && memchr(buf, '\0', size) == NULL;
}

/* TS-0003 8.1.2.5 / 10.1: the identity of a certificate is in its subjectAltName: a URI for an
 * AE-ID, a dNSName for a CSE-ID or FQDN. The CN is a last resort for legacy certificates. */
static m2m_rc cert_identity(gnutls_x509_crt_t crt, char *out, size_t outlen)
{
    char buf[M2M_ID_MAX];
    int want[2] = {GNUTLS_SAN_URI, GNUTLS_SAN_DNSNAME};
    for (int w = 0; w < 2; w++) {
        for (unsigned seq = 0; seq < 64; seq++) {
            size_t size = sizeof buf - 1;
            unsigned critical = 0;
            int t = gnutls_x509_crt_get_subject_alt_name(crt, seq, buf, &size, &critical);
            if (t == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
                break;
            if (t == GNUTLS_E_SHORT_MEMORY_BUFFER)
                return M2M_ERR_LIMIT; /* longer than any identity we can carry: be strict */
            if (t < 0 || t != want[w])
                continue;
            if (!name_ok(buf, size))
                return M2M_ERR_MALFORMED;
            snprintf(out, outlen, "%.*s", (int)size, buf);
            return M2M_OK;
        }
    }
    size_t size = sizeof buf - 1;
    int r = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &size);
    if (r < 0 || !name_ok(buf, size))
        return M2M_ERR_MALFORMED;
    snprintf(out, outlen, "%.*s", (int)size, buf);
    return M2M_OK;
}

static m2m_rc cert_fingerprint_id(const gnutls_datum_t *der, char *out, size_t outlen)
{
    uint8_t md[32];
    size_t mdlen = sizeof md;
    if (gnutls_fingerprint(GNUTLS_DIG_SHA256, der, md, &mdlen) < 0 || mdlen != sizeof md)
        return M2M_ERR_TLS;
    if (outlen < 5 + 2 * sizeof md + 1)
        return M2M_ERR_LIMIT;
    memcpy(out, "cert:", 5);
    for (size_t i = 0; i < mdlen; i++)
        snprintf(out + 5 + 2 * i, 3, "%02x", md[i]);
    return M2M_OK;
}

m2m_rc tls_peer_secctx(struct tls_session *s, struct m2m_secctx *sec)
{
    m2m_rc rc = M2M_OK;
    gnutls_x509_crt_t crt = NULL;
    unsigned n = 0, status = 0;
    sec->kind = M2M_SEC_TLS;
    sec->identity[0] = sec->cred_id[0] = '\0';
    ENSURE(s->handshake_done, M2M_ERR_TLS);
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(s->ses, &n);
    if (peers == NULL || n == 0)
        return M2M_OK; /* anonymous client */
    /* Defence in depth: the verify callback already accepted this chain; check again so that a
     * missing callback can never turn into an unverified identity. */
    gnutls_typed_vdata_st purpose = {.type = GNUTLS_DT_KEY_PURPOSE_OID,
                                     .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT};
    ENSURE(gnutls_certificate_verify_peers(s->ses, &purpose, 1, &status) >= 0 && status == 0,
           M2M_ERR_DENIED);
    ENSURE(gnutls_x509_crt_init(&crt) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) >= 0, M2M_ERR_MALFORMED);
    TRY(cert_identity(crt, sec->identity, sizeof sec->identity));
    TRY(cert_fingerprint_id(&peers[0], sec->cred_id, sizeof sec->cred_id));
    sec->kind = M2M_SEC_TLS_CERT;
out:
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (rc != M2M_OK) {
        sec->identity[0] = sec->cred_id[0] = '\0';
        sec->kind = M2M_SEC_TLS;
    }
    return rc;
}

m2m_rc tls_export(struct tls_session *s, const char *label, size_t label_len, uint8_t *out,
                  size_t len)
{
    if (s == NULL || !s->handshake_done)
        return M2M_ERR_TLS;
    int r = gnutls_prf_rfc5705(s->ses, label_len, label, 0, NULL, len, (char *)out);
    return r < 0 ? M2M_ERR_TLS : M2M_OK;
}

const char *tls_version_name(struct tls_session *s)
{
    const char *v = gnutls_protocol_get_name(gnutls_protocol_get_version(s->ses));
    return v ? v : "?";
}
