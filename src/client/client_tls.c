/* client_tls.c: GnuTLS client credentials and handshakes for the HTTPS transport: X.509 client
 * certificates, TLS-PSK, raw public keys (RFC 7250), server verification against trust anchors
 * with a host name check, the optional RFC 6920 pin of the server's public key, and the RFC 5705
 * exporter of an established session. */
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/secret.h"
#include "base/timeutil.h"
#include "client/client_internal.h"

/* TS-0003 10.2 / SPEC-MAP F2: TLS 1.2 is what the spec names; TLS 1.3 is offered as well.
 * TS-0003 10.2.3: TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 must be offerable (+AES-128-CBC,
 * +SHA256 keep it in the list after the AEAD suites). */
static const char PRIO_CERT[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:+AES-128-CBC:+SHA256";
/* TS-0003 10.2.2: TLS_PSK_WITH_AES_128_CBC_SHA256 must be offerable; ECDHE-PSK comes first for
 * forward secrecy (RFC 4279 7.1 weighed as 10.2.2 asks). No certificate key exchange. */
static const char PRIO_PSK[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-PSK:"
                               "+PSK:+AES-128-CBC:+SHA256";
/* RFC 7250: the client presents only a raw public key; the server may present a certificate
 * (verified against the CA) or a raw key (accepted only through the configured pin). */
static const char PRIO_RPK[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:+AES-128-CBC:+SHA256:"
                               "-CTYPE-CLI-ALL:+CTYPE-CLI-RAWPK:-CTYPE-SRV-ALL:+CTYPE-SRV-X509:"
                               "+CTYPE-SRV-RAWPK";

struct cl_tls {
    enum m2msec_cred cred;
    gnutls_certificate_credentials_t x509;
    gnutls_psk_client_credentials_t psk;
    gnutls_priority_t prio;
    char server_name[CL_HOST_MAX]; /* checked against the certificate; SNI when a DNS name */
    bool sni;
    char pin[128]; /* "" = none */
};

/* Per-handshake state reachable from the verify callback. */
struct hs_state {
    const struct cl_tls *t;
    char why[240];
};

int cl_remaining(int64_t deadline_ms)
{
    int64_t left = deadline_ms - m2m_mono_ms();
    return left > 0 ? (int)(left > 1000000 ? 1000000 : left) : 0;
}

static void b64url(const uint8_t *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = a[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = a[v & 63];
    }
    out[o] = 0;
}

/* RFC 6920 3: "ni:///sha-256;" + base64url (no padding) of SHA-256 over the DER SPKI. */
int cl_ni_of_spki(const uint8_t *der, size_t len, char *out, size_t outlen)
{
    uint8_t h[32];
    if (outlen < 14 + 44 || gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, h) < 0)
        return M2MSEC_ERR_USAGE;
    memcpy(out, "ni:///sha-256;", 14);
    b64url(h, sizeof h, out + 14);
    return M2MSEC_OK;
}

/* The DER SPKI of a PEM private key file and the file's bytes (for rawpk_key_mem). */
static int load_key_spki(const char *file, gnutls_datum_t *keypem, gnutls_datum_t *spki_pem,
                         gnutls_datum_t *spki_der, char *err, size_t errlen)
{
    gnutls_privkey_t pk = NULL;
    gnutls_pubkey_t pub = NULL;
    int rc = M2MSEC_OK;
    if (gnutls_load_file(file, keypem) < 0)
        return cl_fail(err, errlen, M2MSEC_ERR_FILE, "cannot read key file %s", file);
    if (gnutls_privkey_init(&pk) < 0 || gnutls_pubkey_init(&pub) < 0)
        BAIL(cl_fail(err, errlen, M2MSEC_ERR_NOMEM, "out of memory"));
    if (gnutls_privkey_import_x509_raw(pk, keypem, GNUTLS_X509_FMT_PEM, NULL, 0) < 0 ||
        gnutls_pubkey_import_privkey(pub, pk, 0, 0) < 0)
        BAIL(cl_fail(err, errlen, M2MSEC_ERR_FILE, "%s holds no usable PEM private key", file));
    if ((spki_pem && gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, spki_pem) < 0) ||
        (spki_der && gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, spki_der) < 0))
        BAIL(cl_fail(err, errlen, M2MSEC_ERR_FILE, "cannot export the public key of %s", file));
out:
    gnutls_pubkey_deinit(pub);
    gnutls_privkey_deinit(pk);
    if (rc != M2MSEC_OK && keypem->data) {
        m2m_wipe(keypem->data, keypem->size);
        gnutls_free(keypem->data);
        keypem->data = NULL;
    }
    return rc;
}

int m2msec_rpk_id(const char *key_file, char **out)
{
    gnutls_datum_t key = {NULL, 0}, der = {NULL, 0};
    char ni[80], err[CL_ERR_MAX];
    if (key_file == NULL || out == NULL)
        return M2MSEC_ERR_USAGE;
    int rc = load_key_spki(key_file, &key, NULL, &der, err, sizeof err);
    if (rc == M2MSEC_OK) {
        m2m_wipe(key.data, key.size);
        rc = cl_ni_of_spki(der.data, der.size, ni, sizeof ni);
    }
    if (rc == M2MSEC_OK && (*out = strdup(ni)) == NULL)
        rc = M2MSEC_ERR_NOMEM;
    gnutls_free(key.data);
    gnutls_free(der.data);
    return rc;
}

/* Compares the server's SPKI (DER) with the pin; fills why on mismatch. */
static bool pin_matches(struct hs_state *st, const uint8_t *der, size_t len)
{
    char ni[80];
    if (cl_ni_of_spki(der, len, ni, sizeof ni) != M2MSEC_OK || strcmp(ni, st->t->pin) != 0) {
        snprintf(st->why, sizeof st->why, "server public key %s does not match the pin", ni);
        return false;
    }
    return true;
}

/* X.509 server: path validation against the trust anchors and the host name (TS-0003 8.1.2.5:
 * failure aborts the handshake); with a pin, also the pinned key. */
static int verify_x509(gnutls_session_t s, struct hs_state *st, const gnutls_datum_t *leaf)
{
    unsigned status = 0;
    const char *name = st->t->server_name;
    if (gnutls_certificate_verify_peers3(s, name, &status) < 0 || status != 0) {
        gnutls_datum_t txt = {NULL, 0};
        gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &txt, 0);
        while (txt.data && txt.size > 0 &&
               (txt.data[txt.size - 1] == ' ' || !txt.data[txt.size - 1]))
            txt.data[--txt.size] = 0;
        snprintf(st->why, sizeof st->why, "server certificate rejected for '%.60s': %.120s", name,
                 txt.data ? (const char *)txt.data : "verification error");
        gnutls_free(txt.data);
        return -1;
    }
    if (st->t->pin[0] == 0)
        return 0;
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t der = {NULL, 0};
    int ok = gnutls_pubkey_init(&pub) >= 0 &&
             gnutls_pubkey_import_x509_raw(pub, leaf, GNUTLS_X509_FMT_DER, 0) >= 0 &&
             gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der) >= 0 &&
             pin_matches(st, der.data, der.size);
    gnutls_free(der.data);
    gnutls_pubkey_deinit(pub);
    return ok ? 0 : -1;
}

static int verify_cb(gnutls_session_t s)
{
    struct hs_state *st = gnutls_session_get_ptr(s);
    unsigned n = 0;
    if (st == NULL) /* a handshake after the first one: refused */
        return -1;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
    if (certs == NULL || n == 0) {
        snprintf(st->why, sizeof st->why, "the server presented no certificate or key");
        return -1;
    }
    gnutls_certificate_type_t ty = gnutls_certificate_type_get2(s, GNUTLS_CTYPE_PEERS);
    if (ty == GNUTLS_CRT_X509)
        return verify_x509(s, st, &certs[0]);
    if (ty == GNUTLS_CRT_RAWPK) {
        /* RFC 7250 3: the raw key is the DER SubjectPublicKeyInfo itself. */
        if (st->t->pin[0] == 0) {
            snprintf(st->why, sizeof st->why,
                     "the server presented a raw public key and no server pin is configured");
            return -1;
        }
        return pin_matches(st, certs[0].data, certs[0].size) ? 0 : -1;
    }
    snprintf(st->why, sizeof st->why, "unsupported server certificate type");
    return -1;
}

static int load_x509(struct cl_tls *t, const struct m2msec_client_cfg *cfg, char *err,
                     size_t errlen)
{
    if (gnutls_certificate_allocate_credentials(&t->x509) < 0)
        return cl_fail(err, errlen, M2MSEC_ERR_NOMEM, "out of memory");
    if (cfg->ca_file != NULL) {
        if (gnutls_certificate_set_x509_trust_file(t->x509, cfg->ca_file, GNUTLS_X509_FMT_PEM) <= 0)
            return cl_fail(err, errlen, M2MSEC_ERR_FILE, "no CA certificate loaded from %s",
                           cfg->ca_file);
    } else if (gnutls_certificate_set_x509_system_trust(t->x509) < 0) {
        return cl_fail(err, errlen, M2MSEC_ERR_FILE, "cannot load the system trust store");
    }
    if (cfg->cred == M2MSEC_CRED_CERT &&
        gnutls_certificate_set_x509_key_file(t->x509, cfg->cert_file, cfg->key_file,
                                             GNUTLS_X509_FMT_PEM) < 0)
        return cl_fail(err, errlen, M2MSEC_ERR_FILE,
                       "cannot load the certificate %s with the key %s", cfg->cert_file,
                       cfg->key_file);
    if (cfg->cred == M2MSEC_CRED_RPK) {
        gnutls_datum_t key = {NULL, 0}, spki = {NULL, 0};
        int rc = load_key_spki(cfg->key_file, &key, &spki, NULL, err, errlen);
        if (rc != M2MSEC_OK)
            return rc;
        int g = gnutls_certificate_set_rawpk_key_mem(t->x509, &spki, &key, GNUTLS_X509_FMT_PEM,
                                                     NULL, 0, NULL, 0, 0);
        m2m_wipe(key.data, key.size);
        gnutls_free(key.data);
        gnutls_free(spki.data);
        if (g < 0)
            return cl_fail(err, errlen, M2MSEC_ERR_FILE, "cannot use %s as a raw public key: %s",
                           cfg->key_file, gnutls_strerror(g));
    }
    gnutls_certificate_set_verify_function(t->x509, verify_cb);
    return M2MSEC_OK;
}

static int load_psk(struct cl_tls *t, const struct m2msec_client_cfg *cfg, char *err, size_t errlen)
{
    gnutls_datum_t key = {(unsigned char *)cfg->psk_key, (unsigned)cfg->psk_key_len};
    if (gnutls_psk_allocate_client_credentials(&t->psk) < 0)
        return cl_fail(err, errlen, M2MSEC_ERR_NOMEM, "out of memory");
    /* GnuTLS copies the key and wipes its copy when the credentials are freed. */
    if (gnutls_psk_set_client_credentials(t->psk, cfg->psk_identity, &key, GNUTLS_PSK_KEY_RAW) < 0)
        return cl_fail(err, errlen, M2MSEC_ERR_USAGE, "the PSK identity or key is not usable");
    return M2MSEC_OK;
}

int cl_tls_new(const struct m2msec_client_cfg *cfg, const struct cl_url *url, struct cl_tls **out,
               char *err, size_t errlen)
{
    struct cl_tls *t = calloc(1, sizeof *t);
    int rc = M2MSEC_OK;
    if (t == NULL)
        return cl_fail(err, errlen, M2MSEC_ERR_NOMEM, "out of memory");
    t->cred = cfg->cred;
    const char *name = cfg->server_name ? cfg->server_name : url->host;
    if (strlen(name) >= sizeof t->server_name ||
        (cfg->server_pin && strlen(cfg->server_pin) >= sizeof t->pin))
        BAIL(cl_fail(err, errlen, M2MSEC_ERR_USAGE, "server name or pin too long"));
    snprintf(t->server_name, sizeof t->server_name, "%s", name);
    snprintf(t->pin, sizeof t->pin, "%s", cfg->server_pin ? cfg->server_pin : "");
    /* RFC 6066 3: SNI carries DNS names only, never IP literals (TS-0003 10.2: SNI mandatory). */
    t->sni = !(cfg->server_name == NULL && url->host_is_ip);
    if (cfg->cred == M2MSEC_CRED_PSK)
        TRY(load_psk(t, cfg, err, errlen));
    else
        TRY(load_x509(t, cfg, err, errlen));
    const char *prio = cfg->cred == M2MSEC_CRED_PSK   ? PRIO_PSK
                       : cfg->cred == M2MSEC_CRED_RPK ? PRIO_RPK
                                                      : PRIO_CERT;
    if (gnutls_priority_init(&t->prio, prio, NULL) < 0)
        BAIL(cl_fail(err, errlen, M2MSEC_ERR_UNSUPPORTED, "this GnuTLS rejects the priorities"));
    *out = t;
    return M2MSEC_OK;
out:
    cl_tls_free(t);
    return rc;
}

void cl_tls_free(struct cl_tls *t)
{
    if (t == NULL)
        return;
    if (t->x509)
        gnutls_certificate_free_credentials(t->x509);
    if (t->psk)
        gnutls_psk_free_client_credentials(t->psk);
    if (t->prio)
        gnutls_priority_deinit(t->prio);
    free(t);
}

static ssize_t push_fn(gnutls_transport_ptr_t p, const void *d, size_t n)
{
    return send((int)(intptr_t)p, d, n, MSG_NOSIGNAL);
}

static ssize_t pull_fn(gnutls_transport_ptr_t p, void *d, size_t n)
{
    return recv((int)(intptr_t)p, d, n, 0);
}

/* Waits for the direction the session asks for; M2MSEC_ERR_TIMEOUT past the deadline. */
static int wait_session(gnutls_session_t s, int fd, int64_t deadline_ms)
{
    struct pollfd p = {.fd = fd, .events = gnutls_record_get_direction(s) ? POLLOUT : POLLIN};
    for (;;) {
        int ms = cl_remaining(deadline_ms);
        if (ms == 0)
            return M2MSEC_ERR_TIMEOUT;
        int r = poll(&p, 1, ms);
        if (r > 0)
            return M2MSEC_OK;
        if (r < 0 && errno != EINTR)
            return M2MSEC_ERR_TLS;
    }
}

static int session_setup(struct cl_tls *t, int fd, struct hs_state *st, gnutls_session_t *s)
{
    unsigned flags = GNUTLS_CLIENT | GNUTLS_NONBLOCK;
    if (t->cred == M2MSEC_CRED_RPK || t->pin[0])
        flags |= GNUTLS_ENABLE_RAWPK;
    if (gnutls_init(s, flags) < 0)
        return M2MSEC_ERR_NOMEM;
    if (gnutls_priority_set(*s, t->prio) < 0 ||
        (t->psk ? gnutls_credentials_set(*s, GNUTLS_CRD_PSK, t->psk)
                : gnutls_credentials_set(*s, GNUTLS_CRD_CERTIFICATE, t->x509)) < 0 ||
        (t->sni &&
         gnutls_server_name_set(*s, GNUTLS_NAME_DNS, t->server_name, strlen(t->server_name)) < 0))
        return M2MSEC_ERR_TLS;
    gnutls_session_set_ptr(*s, st);
    gnutls_transport_set_ptr(*s, (gnutls_transport_ptr_t)(intptr_t)fd);
    gnutls_transport_set_push_function(*s, push_fn);
    gnutls_transport_set_pull_function(*s, pull_fn);
    return M2MSEC_OK;
}

int cl_tls_handshake(struct cl_tls *t, int fd, int64_t deadline_ms, gnutls_session_t *out,
                     char *err, size_t errlen)
{
    struct hs_state st = {.t = t};
    gnutls_session_t s = NULL;
    int rc = session_setup(t, fd, &st, &s);
    if (rc != M2MSEC_OK) {
        gnutls_deinit(s);
        return cl_fail(err, errlen, rc, "cannot set up the TLS session");
    }
    int g;
    while ((g = gnutls_handshake(s)) < 0 && !gnutls_error_is_fatal(g)) {
        if ((rc = wait_session(s, fd, deadline_ms)) != M2MSEC_OK) {
            gnutls_deinit(s);
            return cl_fail(err, errlen, rc, "TLS handshake timed out");
        }
    }
    if (g < 0) {
        if (st.why[0])
            cl_fail(err, errlen, M2MSEC_ERR_TLS, "TLS handshake failed: %s", st.why);
        else if (g == GNUTLS_E_FATAL_ALERT_RECEIVED)
            cl_fail(err, errlen, M2MSEC_ERR_TLS, "TLS handshake failed: the server sent alert '%s'",
                    gnutls_alert_get_name(gnutls_alert_get(s)));
        else
            cl_fail(err, errlen, M2MSEC_ERR_TLS, "TLS handshake failed: %s", gnutls_strerror(g));
        gnutls_deinit(s);
        return M2MSEC_ERR_TLS;
    }
    gnutls_session_set_ptr(s, NULL);
    *out = s;
    return M2MSEC_OK;
}

int cl_tls_export(gnutls_session_t s, const char *label, uint8_t *out, size_t len, char *err,
                  size_t errlen)
{
    if (s == NULL || label == NULL || out == NULL || len == 0 || len > 255)
        return cl_fail(err, errlen, M2MSEC_ERR_USAGE, "exporter: no session or a bad length");
    /* RFC 7627 / RFC 9266 3: in TLS 1.2 the exporter is bound to the connection only with the
     * extended master secret; TLS 1.3 always has it (RFC 8446 7.5). */
    if (gnutls_protocol_get_version(s) != GNUTLS_TLS1_3 &&
        !gnutls_session_ext_master_secret_status(s))
        return cl_fail(err, errlen, M2MSEC_ERR_TLS,
                       "the TLS 1.2 session has no extended master secret: no exporter");
    int g = gnutls_prf_rfc5705(s, strlen(label), label, 0, NULL, len, (char *)out);
    if (g < 0) {
        m2m_wipe(out, len);
        return cl_fail(err, errlen, M2MSEC_ERR_TLS, "exporter failed: %s", gnutls_strerror(g));
    }
    return M2MSEC_OK;
}
