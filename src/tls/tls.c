/* tls.c: GnuTLS server sessions: credentials, non-blocking handshake, client certificate
 * verification and identity binding, SNI, the socket transport (with the psk_identity peek and
 * parking for psk_prefetch), record I/O and the RFC 5705 exporter. */
#include "tls/tls.h"
#include "tls/x509_ident.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "base/log.h"
#include "base/secret.h"
#include "tls/psk_peek.h"

#define TLS_MAX_NAMES 32

/* Default priorities. TS-0003 10.2.1: TCP payloads are secured with TLS v1.2; TLS 1.3 is offered
 * too because every current client prefers it and it removes the CBC and RSA key transport legacy;
 * a TLS 1.2 client is never refused for lack of 1.3. Key exchange is ephemeral ECDHE only (forward
 * secrecy). AEAD suites come first (AES-GCM, ChaCha20-Poly1305 for cores without AES instructions,
 * AES-CCM for constrained peers), in server order. AES-128-CBC with SHA-256 stays last because
 * TS-0003 10.2.3 (with 10.2.1: IN servers support all listed suites) makes
 * TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 mandatory; SHA-1 MACs, SSL3 and
 * TLS 1.0/1.1 are off. With the PSK SAEF enabled, TLS_PSK_KX joins the key exchanges. */
const char TLS_DEFAULT_PRIORITIES[] =
    "SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:"
    "-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:+AES-256-CCM:+AES-128-CCM:"
    "+AES-128-CBC:-SHA1:+SHA256:+SHA384:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE";

/* TS-0003 10.2.2 (SPEC-MAP F2a): a TLS server of a PSK SAEF implements
 * TLS_PSK_WITH_AES_128_CBC_SHA256 (PSK + AES-128-CBC + SHA256, all in the list above); ECDHE-PSK
 * is listed first so that clients offering it get forward secrecy (RFC 4279 section 7). In
 * TLS 1.3 the same keywords enable external PSKs with (ECDHE-PSK) or without (PSK) key share. */
static const char TLS_PSK_KX[] = "+ECDHE-PSK:+PSK:";
/* Key-share groups of the default, fastest first: X25519 and P-256 (the curve of the F2b suites
 * and F8 certificates) before P-384/P-521, which SECURE256 would otherwise put first and which
 * cost an ECDHE(-PSK) handshake several times as much CPU. */
static const char TLS_GROUPS[] =
    ":-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-SECP521R1";
/* RFC 7250: raw public keys are accepted from clients only (preferred when a client offers one:
 * it has no other credential for us); the server keeps its X.509 chain. */
static const char TLS_RPK_ADD[] = ":+CTYPE-SRV-X509:+CTYPE-CLI-RAWPK:+CTYPE-CLI-X509";

struct tls_ctx {
    gnutls_certificate_credentials_t x509;
    gnutls_psk_server_credentials_t psk;
    gnutls_priority_t prio;
    gnutls_certificate_request_t req_mode;
    unsigned kinds;
    bool have_ca; /* X.509 client certificates are verified against trust anchors */
    struct tls_cred_hooks hooks;
    char *names[TLS_MAX_NAMES]; /* SNI host names answered for */
    int n_names;
    void *(*park_cookie)(void *park_ctx);
    void (*park_notify)(void *cookie);
    void *park_ctx;
};

/* The wake token of one psk_prefetch call: a reference for the session (dropped when it resumes
 * or is freed) and one for the waker (dropped by tls_wake), so that a late wake is harmless. */
struct tls_park {
    atomic_int refs;
    atomic_bool woken;
    void *cookie;
    void (*notify)(void *cookie);
};

struct tls_session {
    struct tls_ctx *ctx;
    gnutls_session_t ses;
    int fd;
    /* psk_prefetch: the client's bytes are read into rx and peeked at before GnuTLS gets them
     * (rx_off of them so far); while parked none is handed over. */
    bool peeking;
    bool prefetch_failed;
    uint8_t *rx;
    size_t rx_len, rx_off;
    struct tls_park *park;
    bool handshake_done;
    bool bye_sent;
    size_t again_len; /* length passed to the record_send that returned E_AGAIN */
    /* Binding found by the PSK callback or the raw-key check during the handshake. */
    bool bind_valid;
    enum tls_cred_kind bind_kind;
    struct m2m_secctx bind;
    char psk_name[M2M_ID_MAX]; /* the psk_identity bind belongs to */
};

static bool nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* TS-0003 8.1.2.5 (raw public key flavour): the key must be one the credential database lists;
 * it is named by its RFC 6920 identifier. The handshake's CertificateVerify proves possession. */
static int verify_rawpk(struct tls_session *s, const gnutls_datum_t *spki)
{
    char ni[TLS_NI_ID_MAX];
    struct m2m_secctx b;
    memset(&b, 0, sizeof b);
    if (s->ctx->hooks.rpk_lookup == NULL || tls_rpk_ni_id(spki->data, spki->size, ni, sizeof ni))
        return -1;
    if (s->ctx->hooks.rpk_lookup(s->ctx->hooks.ctx, ni, &b) != M2M_OK) {
        log_info("tls: raw public key %s is not provisioned or revoked", ni);
        return -1;
    }
    b.kind = M2M_SEC_TLS_RPK;
    s->bind = b;
    s->bind_kind = TLS_CRED_RPK;
    s->bind_valid = true;
    return 0;
}

/* The name rules of an X.509 client certificate (F4/F8): exactly one usable identity and no
 * wildcard anywhere in the subjectAltName (src/tls/x509_ident.c, fuzzed on its own). */
static int verify_names(const gnutls_datum_t *der)
{
    struct x509_ident id;
    if (x509_ident_from_der(der->data, der->size, &id) == M2M_OK)
        return 0;
    log_info("tls: client certificate names no acceptable identity (wildcard or malformed)");
    return -1;
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
    gnutls_certificate_type_t ct = gnutls_certificate_type_get2(ses, GNUTLS_CTYPE_PEERS);
    if (ct == GNUTLS_CRT_RAWPK)
        return verify_rawpk(s, &peers[0]);
    if (ct != GNUTLS_CRT_X509 || !s->ctx->have_ca)
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
    return verify_names(&peers[0]);
}

/* TS-0003 8.2.2.1: the psk_identity is the KpsaID; the key and the identity binding come from
 * the credential database. Unknown or revoked identities get a random key from GnuTLS (return
 * 1), so that they fail exactly like a wrong key and the peer learns nothing about which
 * identities exist. Runs on the loop thread inside gnutls_handshake. */
static int psk_server_cb(gnutls_session_t ses, const gnutls_datum_t *username, gnutls_datum_t *key)
{
    struct tls_session *s = gnutls_session_get_ptr(ses);
    uint8_t k[TLS_PSK_KEY_MAX];
    size_t kl = sizeof k;
    struct m2m_secctx b;
    memset(&b, 0, sizeof b);
    s->bind_valid = false;
    if (username->size == 0 || username->size >= sizeof s->psk_name ||
        memchr(username->data, '\0', username->size) != NULL)
        return 1;
    if (s->ctx->hooks.psk_lookup(s->ctx->hooks.ctx, (const char *)username->data, username->size, k,
                                 &kl, &b) != M2M_OK ||
        kl == 0 || kl > sizeof k) {
        log_info("tls: unknown or revoked PSK identity (%u bytes)", username->size);
        m2m_wipe(k, sizeof k);
        return 1;
    }
    key->data = gnutls_malloc(kl);
    if (key->data == NULL) {
        m2m_wipe(k, sizeof k);
        return -1;
    }
    memcpy(key->data, k, kl);
    key->size = (unsigned)kl;
    m2m_wipe(k, sizeof k);
    b.kind = M2M_SEC_TLS_PSK;
    s->bind = b;
    s->bind_kind = TLS_CRED_PSK;
    s->bind_valid = true;
    memcpy(s->psk_name, username->data, username->size);
    s->psk_name[username->size] = '\0';
    return 0;
}

/* ---- psk_prefetch: the wake token ---- */

static void park_unref(struct tls_park *p)
{
    if (p != NULL && atomic_fetch_sub(&p->refs, 1) == 1)
        free(p);
}

/* The wake handed to psk_prefetch: any thread, exactly once. */
static void tls_wake(void *arg)
{
    struct tls_park *p = arg;
    void *cookie = p->cookie;
    void (*notify)(void *) = p->notify;
    atomic_store(&p->woken, true);
    if (notify != NULL && cookie != NULL)
        notify(cookie);
    park_unref(p);
}

/* Asks the credential database to make the peeked identity resolvable. M2M_ERR_AGAIN parks the
 * session; any code but M2M_OK and M2M_ERR_AGAIN fails the handshake (tls.h). */
static void prefetch(struct tls_session *s, const struct psk_peek_result *r)
{
    const struct tls_cred_hooks *h = &s->ctx->hooks;
    if (r->id_len == 0 || memchr(r->id, '\0', r->id_len) != NULL)
        return; /* psk_server_cb refuses these without a lookup */
    struct tls_park *p = calloc(1, sizeof *p);
    if (p == NULL)
        return; /* psk_lookup answers from what the database has */
    atomic_init(&p->refs, 2);
    atomic_init(&p->woken, false);
    p->notify = s->ctx->park_notify;
    p->cookie = s->ctx->park_cookie ? s->ctx->park_cookie(s->ctx->park_ctx) : NULL;
    m2m_rc rc = h->psk_prefetch(h->ctx, (const char *)r->id, r->id_len, tls_wake, p);
    if (rc == M2M_ERR_AGAIN) {
        s->park = p; /* the session's reference */
        return;
    }
    if (rc != M2M_OK) {
        log_info("tls: PSK identity resolution failed: %s", m2m_rc_str(rc));
        s->prefetch_failed = true;
    }
    tls_wake(p); /* no wake will come: release the cookie and the waker's reference */
    park_unref(p);
}

/* ---- the socket transport ---- */

/* The key exchange of the ServerHello this session sent, for the ClientKeyExchange peek. */
static enum psk_peek_kx kx_of(struct tls_session *s)
{
    switch (gnutls_kx_get(s->ses)) {
    case GNUTLS_KX_UNKNOWN: return PSK_PEEK_KX_UNKNOWN;
    case GNUTLS_KX_PSK:
    case GNUTLS_KX_DHE_PSK:
    case GNUTLS_KX_ECDHE_PSK:
    case GNUTLS_KX_RSA_PSK: return PSK_PEEK_KX_PSK;
    default: return PSK_PEEK_KX_OTHER;
    }
}

/* While peeking: reads what the socket has into rx and looks for the psk_identity there before
 * GnuTLS sees any of it. Returns 1 when rx holds bytes to hand over (or peeking ended), 0 on
 * EOF, -1 with errno (EAGAIN also while parked). */
static int peek_fill(struct tls_session *s)
{
    if (s->park != NULL) {
        errno = EAGAIN;
        return -1;
    }
    if (s->rx_off < s->rx_len)
        return 1; /* peeked already, not yet handed over */
    if (s->rx == NULL && (s->rx = malloc(PSK_PEEK_MAX)) == NULL) {
        s->peeking = false;
        return 1;
    }
    ssize_t r = recv(s->fd, s->rx + s->rx_len, PSK_PEEK_MAX - s->rx_len, 0);
    if (r <= 0)
        return r == 0 ? 0 : -1;
    s->rx_len += (size_t)r;
    struct psk_peek_result res;
    m2m_rc rc = psk_peek(s->rx, s->rx_len, kx_of(s), &res);
    if (rc == M2M_ERR_AGAIN && s->rx_len < PSK_PEEK_MAX)
        return 1;
    s->peeking = false; /* answered, or nothing to find within PSK_PEEK_MAX bytes */
    if (rc == M2M_OK)
        prefetch(s, &res);
    if (s->park != NULL || s->prefetch_failed) {
        errno = s->park != NULL ? EAGAIN : ECONNRESET; /* failed: GnuTLS gets no further */
        return -1;
    }
    return 1;
}

static ssize_t sess_pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
    struct tls_session *s = ptr;
    if (s->peeking && !s->handshake_done) {
        int r = peek_fill(s);
        if (r <= 0) {
            gnutls_transport_set_errno(s->ses, r < 0 ? errno : 0);
            return r;
        }
    }
    if (s->rx_off < s->rx_len) {
        size_t n = s->rx_len - s->rx_off < len ? s->rx_len - s->rx_off : len;
        memcpy(data, s->rx + s->rx_off, n);
        s->rx_off += n;
        if (s->rx_off == s->rx_len && !s->peeking) {
            free(s->rx);
            s->rx = NULL;
            s->rx_len = s->rx_off = 0;
        }
        return (ssize_t)n;
    }
    ssize_t r = recv(s->fd, data, len, 0);
    if (r < 0)
        gnutls_transport_set_errno(s->ses, errno);
    return r;
}

/* GnuTLS asks this only when a timeout is set, which this module never does: never blocks. */
static int sess_pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms)
{
    struct tls_session *s = ptr;
    if (s->park != NULL)
        return 0;
    if (s->rx_off < s->rx_len)
        return 1;
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    return poll(&p, 1, 0);
}

static ssize_t sess_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
    struct tls_session *s = ptr;
    struct msghdr m = {.msg_iov = (struct iovec *)(uintptr_t)iov, .msg_iovlen = (size_t)iovcnt};
    ssize_t r = sendmsg(s->fd, &m, MSG_NOSIGNAL);
    if (r < 0)
        gnutls_transport_set_errno(s->ses, errno);
    return r;
}

/* ---- SNI ---- */

static bool sni_known(const struct tls_ctx *c, const char *name, size_t n)
{
    for (int i = 0; i < c->n_names; i++)
        if (strlen(c->names[i]) == n && strncasecmp(c->names[i], name, n) == 0)
            return true;
    return false;
}

static bool name_ok(const char *buf, size_t size);

/* RFC 6066 3 forbids IP literals in HostName, yet common clients (wrk, some OpenSSL-based tools)
 * send the address they connect to. It names no authority, so it is treated as no SNI
 * ([INTERP] docs/DECISIONS.md "SNI"). */
static bool sni_is_ip_literal(const char *name, size_t n)
{
    char buf[INET6_ADDRSTRLEN];
    unsigned char addr[sizeof(struct in6_addr)];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, name, n);
    buf[n] = '\0';
    return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

/* TS-0003 10.2.1: the SNI HostName names the authority the client wants; a server that is not
 * that authority refuses with unrecognized_name (RFC 6066 3). A ClientHello without SNI is
 * accepted ([INTERP] in docs/DECISIONS.md: clients addressing an IP literal cannot send one). */
static int sni_check_cb(gnutls_session_t ses)
{
    struct tls_session *s = gnutls_session_get_ptr(ses);
    char name[256];
    size_t n = sizeof name;
    unsigned type = 0;
    int r = gnutls_server_name_get(ses, name, &n, &type, 0);
    if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
        return 0;
    if (r == 0 && type == GNUTLS_NAME_DNS && n < sizeof name && sni_known(s->ctx, name, n))
        return 0;
    if (r == 0 && type == GNUTLS_NAME_DNS && n < sizeof name && sni_is_ip_literal(name, n))
        return 0;
    if (r == 0 && n < sizeof name && name_ok(name, n))
        log_info("tls: SNI '%.*s' is not a name of this server", (int)n, name);
    else
        log_info("tls: unusable SNI refused");
    return GNUTLS_E_UNRECOGNIZED_NAME;
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
        c->have_ca = true;
    } else if (cfg->require_client_cert) {
        log_error("tls: require_client_cert needs a ca_file");
        return M2M_ERR_CONFIG;
    }
    if (c->have_ca || (c->kinds & TLS_CRED_RPK)) {
        c->req_mode = cfg->require_client_cert ? GNUTLS_CERT_REQUIRE : GNUTLS_CERT_REQUEST;
        gnutls_certificate_set_verify_function(c->x509, verify_client_cb);
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

static m2m_rc ctx_add_name(struct tls_ctx *c, const char *name, size_t n)
{
    if (n == 0 || sni_known(c, name, n))
        return M2M_OK;
    if (c->n_names >= TLS_MAX_NAMES) {
        log_error("tls: more than %d server names", TLS_MAX_NAMES);
        return M2M_ERR_CONFIG;
    }
    c->names[c->n_names] = strndup(name, n);
    if (c->names[c->n_names] == NULL)
        return M2M_ERR_NOMEM;
    c->n_names++;
    return M2M_OK;
}

/* The default SNI names: every dNSName SAN of the server certificate, plus "localhost". */
static m2m_rc ctx_cert_names(struct tls_ctx *c)
{
    gnutls_datum_t der = {NULL, 0};
    gnutls_x509_crt_t crt = NULL;
    m2m_rc rc = M2M_OK;
    if (gnutls_certificate_get_crt_raw(c->x509, 0, 0, &der) >= 0 &&
        gnutls_x509_crt_init(&crt) >= 0 &&
        gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER) >= 0) {
        for (unsigned seq = 0; seq < 64 && rc == M2M_OK; seq++) {
            char buf[256];
            size_t size = sizeof buf - 1;
            int t = gnutls_x509_crt_get_subject_alt_name(crt, seq, buf, &size, NULL);
            if (t == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
                break;
            if (t == GNUTLS_SAN_DNSNAME && name_ok(buf, size))
                rc = ctx_add_name(c, buf, size);
        }
    }
    if (crt != NULL)
        gnutls_x509_crt_deinit(crt);
    return rc != M2M_OK ? rc : ctx_add_name(c, "localhost", 9);
}

/* TS-0003 10.2.1 SNI: the configured comma-separated list, else the certificate's names. */
static m2m_rc ctx_server_names(struct tls_ctx *c, const char *list)
{
    if (!nonempty(list))
        return ctx_cert_names(c);
    for (const char *p = list; *p != '\0';) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn(p, ",");
        size_t k = n;
        while (k > 0 && p[k - 1] == ' ')
            k--;
        if (k > 0 && !name_ok(p, k)) {
            log_error("tls: bad server name '%.*s'", (int)k, p);
            return M2M_ERR_CONFIG;
        }
        RETURN_IF_ERR(ctx_add_name(c, p, k));
        p += n;
    }
    if (c->n_names == 0) {
        log_error("tls: server_names lists no name");
        return M2M_ERR_CONFIG;
    }
    return M2M_OK;
}

/* The credential kinds of a configuration: X.509 always, PSK and RPK when their hook exists. */
static m2m_rc ctx_kinds(const struct tls_ctx_cfg *cfg, unsigned *out)
{
    unsigned k = cfg->kinds ? cfg->kinds : TLS_CRED_X509;
    if (cfg->kinds == 0 && cfg->hooks.psk_lookup)
        k |= TLS_CRED_PSK;
    if (cfg->kinds == 0 && cfg->hooks.rpk_lookup)
        k |= TLS_CRED_RPK;
    if (!(k & TLS_CRED_X509) || ((k & TLS_CRED_PSK) && !cfg->hooks.psk_lookup) ||
        ((k & TLS_CRED_RPK) && !cfg->hooks.rpk_lookup)) {
        log_error("tls: a credential kind is enabled without its lookup (or X.509 is off)");
        return M2M_ERR_CONFIG;
    }
    *out = k;
    return M2M_OK;
}

/* The priority string: the configured one as given (it must then name the PSK and RPK keywords
 * itself), else the default extended with the keywords of the enabled kinds. */
static m2m_rc ctx_priorities(struct tls_ctx *c, const struct tls_ctx_cfg *cfg)
{
    char buf[1024];
    const char *err = NULL;
    const char *prio = cfg->priorities;
    if (!nonempty(prio)) {
        /* The PSK key exchanges go first in the KX list: a TLS 1.2 client that offers PSK
         * suites next to certificate suites (openssl s_client -psk does) means its PSK, and
         * the server chooses before it learns the psk_identity. */
        const char *kx = strstr(TLS_DEFAULT_PRIORITIES, "-KX-ALL:");
        if (kx == NULL)
            return M2M_ERR_INTERNAL;
        size_t head = (size_t)(kx - TLS_DEFAULT_PRIORITIES) + strlen("-KX-ALL:");
        int n = snprintf(buf, sizeof buf, "%.*s%s%s%s%s", (int)head, TLS_DEFAULT_PRIORITIES,
                         (c->kinds & TLS_CRED_PSK) ? TLS_PSK_KX : "", TLS_DEFAULT_PRIORITIES + head,
                         TLS_GROUPS, (c->kinds & TLS_CRED_RPK) ? TLS_RPK_ADD : "");
        if (n < 0 || (size_t)n >= sizeof buf)
            return M2M_ERR_LIMIT;
        prio = buf;
    }
    if (gnutls_priority_init(&c->prio, prio, &err) < 0) {
        log_error("tls: bad priority string near '%s'", err ? err : "?");
        c->prio = NULL;
        return M2M_ERR_CONFIG;
    }
    return M2M_OK;
}

m2m_rc tls_ctx_new(const struct tls_ctx_cfg *cfg, struct tls_ctx **out)
{
    m2m_rc rc = M2M_OK;
    *out = NULL;
    struct tls_ctx *c = calloc(1, sizeof *c);
    ENSURE_NONNULL(c);
    TRY(ctx_kinds(cfg, &c->kinds));
    c->hooks = cfg->hooks;
    TRY(ctx_load_x509(c, cfg));
    TRY(ctx_server_names(c, cfg->server_names));
    c->park_cookie = cfg->park_cookie;
    c->park_notify = cfg->park_notify;
    c->park_ctx = cfg->park_ctx;
    if (c->kinds & TLS_CRED_PSK) {
        if (gnutls_psk_allocate_server_credentials(&c->psk) < 0) {
            c->psk = NULL;
            BAIL(M2M_ERR_NOMEM);
        }
        gnutls_psk_set_server_credentials_function2(c->psk, psk_server_cb);
    }
    TRY(ctx_priorities(c, cfg));
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
    if (c->psk)
        gnutls_psk_free_server_credentials(c->psk);
    for (int i = 0; i < c->n_names; i++)
        free(c->names[i]);
    free(c);
}

m2m_rc tls_session_new(struct tls_ctx *ctx, int fd, struct tls_session **out)
{
    m2m_rc rc = M2M_OK;
    *out = NULL;
    struct tls_session *s = calloc(1, sizeof *s);
    ENSURE_NONNULL(s);
    s->ctx = ctx;
    unsigned flags = GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL;
    if (ctx->kinds & TLS_CRED_RPK)
        flags |= GNUTLS_ENABLE_RAWPK;
    if (gnutls_init(&s->ses, flags) < 0) {
        s->ses = NULL;
        BAIL(M2M_ERR_NOMEM);
    }
    gnutls_session_set_ptr(s->ses, s);
    ENSURE(gnutls_priority_set(s->ses, ctx->prio) >= 0, M2M_ERR_TLS);
    ENSURE(gnutls_credentials_set(s->ses, GNUTLS_CRD_CERTIFICATE, ctx->x509) >= 0, M2M_ERR_TLS);
    if (ctx->psk)
        ENSURE(gnutls_credentials_set(s->ses, GNUTLS_CRD_PSK, ctx->psk) >= 0, M2M_ERR_TLS);
    gnutls_certificate_server_set_request(s->ses, ctx->req_mode);
    gnutls_handshake_set_post_client_hello_function(s->ses, sni_check_cb);
    s->fd = fd;
    s->peeking = ctx->psk != NULL && ctx->hooks.psk_prefetch != NULL;
    gnutls_transport_set_ptr(s->ses, s);
    gnutls_transport_set_pull_function(s->ses, sess_pull);
    gnutls_transport_set_pull_timeout_function(s->ses, sess_pull_timeout);
    gnutls_transport_set_vec_push_function(s->ses, sess_push);
    /* The loop enforces its own handshake timeout. */
    gnutls_handshake_set_timeout(s->ses, 0);
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
    park_unref(s->park);
    free(s->rx);
    m2m_wipe(s, sizeof *s);
    free(s);
}

/* One gnutls_handshake step, mapped to m2m_rc. A failure sends the fitting alert (best effort:
 * unrecognized_name for SNI, handshake_failure, ...). */
static m2m_rc handshake_step(struct tls_session *s)
{
    int r = gnutls_handshake(s->ses);
    if (s->prefetch_failed) {
        (void)gnutls_alert_send(s->ses, GNUTLS_AL_FATAL, GNUTLS_A_INTERNAL_ERROR);
        return M2M_ERR_TLS;
    }
    if (r == GNUTLS_E_SUCCESS) {
        s->handshake_done = true;
        s->peeking = false;
        return M2M_OK;
    }
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal(r))
        return M2M_ERR_AGAIN;
    if (r == GNUTLS_E_PREMATURE_TERMINATION || r == GNUTLS_E_PULL_ERROR)
        return M2M_ERR_CLOSED;
    log_info("tls: handshake failed: %s", gnutls_strerror(r));
    (void)gnutls_alert_send_appropriate(s->ses, r);
    return M2M_ERR_TLS;
}

/* A parked session stays put until its wake; a wake that came while psk_prefetch was still
 * running (or before this call) resumes at once. */
m2m_rc tls_handshake(struct tls_session *s)
{
    if (s->handshake_done)
        return M2M_OK;
    for (int round = 0; round < 2; round++) {
        if (s->park != NULL) {
            if (!atomic_load(&s->park->woken))
                return M2M_ERR_AGAIN;
            park_unref(s->park);
            s->park = NULL;
        }
        m2m_rc rc = handshake_step(s);
        if (rc != M2M_ERR_AGAIN || s->park == NULL || !atomic_load(&s->park->woken))
            return rc;
    }
    return M2M_ERR_AGAIN;
}

bool tls_wants_write(const struct tls_session *s)
{
    return s->park == NULL && gnutls_record_get_direction(s->ses) == 1;
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
    return gnutls_record_check_pending(s->ses) + (s->rx_len - s->rx_off);
}

void tls_bye(struct tls_session *s)
{
    if (s == NULL || s->bye_sent || !s->handshake_done)
        return;
    s->bye_sent = true;
    (void)gnutls_bye(s->ses, GNUTLS_SHUT_WR);
}

/* A name out of GnuTLS must be printable ASCII: no embedded NUL (a SAN of "a\0b" must not bind
 * as "a"), no control characters, no spaces. F8: no wildcards in CSE-ID, AE-ID, Node-ID or FQDN
 * certificates, so a '*' anywhere refuses the name. */
static bool name_ok(const char *buf, size_t size)
{
    if (size == 0)
        return false;
    for (size_t i = 0; i < size; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '*')
            return false;
    }
    return true;
}

static void sec_copy_binding(struct m2m_secctx *sec, const struct m2m_secctx *b)
{
    sec->kind = b->kind;
    memcpy(sec->identity, b->identity, sizeof sec->identity);
    memcpy(sec->cred_id, b->cred_id, sizeof sec->cred_id);
    sec->n_bound = b->n_bound < 0                   ? 0
                   : b->n_bound > M2M_SEC_MAX_BOUND ? M2M_SEC_MAX_BOUND
                                                    : b->n_bound;
    memcpy(sec->bound, b->bound, sizeof sec->bound);
    sec->identity[M2M_ID_MAX - 1] = sec->cred_id[M2M_ID_MAX - 1] = '\0';
}

/* The PSK association: the username GnuTLS authenticated must be the one the callback bound. */
static m2m_rc psk_secctx(struct tls_session *s, struct m2m_secctx *sec)
{
    gnutls_datum_t u = {NULL, 0};
    if (gnutls_psk_server_get_username2(s->ses, &u) < 0 || !s->bind_valid ||
        s->bind_kind != TLS_CRED_PSK || u.size != strlen(s->psk_name) ||
        memcmp(u.data, s->psk_name, u.size) != 0)
        return M2M_ERR_DENIED;
    sec_copy_binding(sec, &s->bind);
    return M2M_OK;
}

/* X.509: the verified identity, or for a URN (Node-ID or device certificate) the AE-IDs the
 * credential database binds to it (F4/F6). */
static m2m_rc x509_secctx(struct tls_session *s, const gnutls_datum_t *der, struct m2m_secctx *sec)
{
    m2m_rc rc = M2M_OK;
    struct x509_ident id;
    unsigned status = 0;
    /* Defence in depth: the verify callback already accepted this chain; check again so that a
     * missing callback can never turn into an unverified identity. */
    gnutls_typed_vdata_st purpose = {.type = GNUTLS_DT_KEY_PURPOSE_OID,
                                     .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT};
    ENSURE(s->ctx->have_ca, M2M_ERR_DENIED);
    ENSURE(gnutls_certificate_verify_peers(s->ses, &purpose, 1, &status) >= 0 && status == 0,
           M2M_ERR_DENIED);
    TRY(x509_ident_from_der(der->data, der->size, &id));
    memcpy(sec->identity, id.identity, sizeof sec->identity);
    memcpy(sec->cred_id, id.cred_id, sizeof sec->cred_id);
    sec->kind = M2M_SEC_TLS_CERT;
    sec->n_bound = 0;
    if (strncmp(sec->identity, "urn:", 4) == 0 && s->ctx->hooks.node_lookup != NULL) {
        struct m2m_secctx b;
        memset(&b, 0, sizeof b);
        m2m_rc r = s->ctx->hooks.node_lookup(s->ctx->hooks.ctx, sec->identity, &b);
        if (r == M2M_OK) {
            b.kind = M2M_SEC_TLS_CERT;
            sec_copy_binding(sec, &b);
        } else if (r != M2M_ERR_NOT_FOUND) {
            BAIL(M2M_ERR_DENIED); /* revoked */
        }
    }
out:
    return rc;
}

m2m_rc tls_peer_secctx(struct tls_session *s, struct m2m_secctx *sec)
{
    m2m_rc rc = M2M_OK;
    unsigned n = 0;
    sec->kind = M2M_SEC_TLS;
    sec->identity[0] = sec->cred_id[0] = '\0';
    sec->n_bound = 0;
    ENSURE(s->handshake_done, M2M_ERR_TLS);
    if (gnutls_auth_get_type(s->ses) == GNUTLS_CRD_PSK) {
        TRY(psk_secctx(s, sec));
        return M2M_OK;
    }
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(s->ses, &n);
    if (peers == NULL || n == 0)
        return M2M_OK; /* anonymous client */
    if (gnutls_certificate_type_get2(s->ses, GNUTLS_CTYPE_PEERS) == GNUTLS_CRT_RAWPK) {
        ENSURE(s->bind_valid && s->bind_kind == TLS_CRED_RPK, M2M_ERR_DENIED);
        sec_copy_binding(sec, &s->bind);
        return M2M_OK;
    }
    TRY(x509_secctx(s, &peers[0], sec));
out:
    if (rc != M2M_OK) {
        sec->identity[0] = sec->cred_id[0] = '\0';
        sec->n_bound = 0;
        sec->kind = M2M_SEC_TLS;
    }
    return rc;
}

enum tls_cred_kind tls_session_cred_kind(const struct tls_session *s)
{
    if (s->handshake_done && gnutls_auth_get_type(s->ses) == GNUTLS_CRD_PSK)
        return TLS_CRED_PSK;
    if (s->handshake_done && s->bind_valid && s->bind_kind == TLS_CRED_RPK)
        return TLS_CRED_RPK;
    return TLS_CRED_X509;
}

m2m_rc tls_export_ctx(struct tls_session *s, const char *label, size_t label_len,
                      const uint8_t *context, size_t context_len, uint8_t *out, size_t len)
{
    if (s == NULL || !s->handshake_done || (context == NULL && context_len != 0))
        return M2M_ERR_TLS;
    int r = gnutls_prf_rfc5705(s->ses, label_len, label, context_len, (const char *)context, len,
                               (char *)out);
    return r < 0 ? M2M_ERR_TLS : M2M_OK;
}

m2m_rc tls_export(struct tls_session *s, const char *label, size_t label_len, uint8_t *out,
                  size_t len)
{
    return tls_export_ctx(s, label, label_len, NULL, 0, out, len);
}

bool tls_session_ems(struct tls_session *s)
{
    if (s == NULL || !s->handshake_done)
        return false;
    if (gnutls_protocol_get_version(s->ses) == GNUTLS_TLS1_3)
        return true;
    return gnutls_session_ext_master_secret_status(s->ses) != 0;
}

/* RFC 4648 section 5 base64url without padding. */
static size_t b64url(const uint8_t *in, size_t len, char *out)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = al[v >> 18 & 63];
        out[o++] = al[v >> 12 & 63];
        out[o++] = al[v >> 6 & 63];
        out[o++] = al[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = al[v >> 18 & 63];
        out[o++] = al[v >> 12 & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = al[v >> 18 & 63];
        out[o++] = al[v >> 12 & 63];
        out[o++] = al[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

m2m_rc tls_rpk_ni_id(const uint8_t *spki, size_t len, char *out, size_t outlen)
{
    static const char pfx[] = "ni:///sha-256;";
    uint8_t md[32];
    if (outlen < TLS_NI_ID_MAX)
        return M2M_ERR_LIMIT;
    if (spki == NULL || len == 0)
        return M2M_ERR_MALFORMED;
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, spki, len, md) < 0)
        return M2M_ERR_INTERNAL;
    memcpy(out, pfx, sizeof pfx - 1);
    b64url(md, sizeof md, out + sizeof pfx - 1);
    return M2M_OK;
}

const char *tls_version_name(struct tls_session *s)
{
    const char *v = gnutls_protocol_get_name(gnutls_protocol_get_version(s->ses));
    return v ? v : "?";
}
