/* client_est.c: the EST client of the device library (RFC 7030; TS-0003 8.3.6.2, SPEC-MAP G7):
 * /cacerts, /csrattrs, a fresh P-256 key, a PKCS#10 with the SAN URI and the RFC 9266
 * tls-exporter channel binding as challengePassword, /simpleenroll or /simplereenroll over the
 * client's own TLS session, checks of the issued certificate, and atomic 0600 file writes; and
 * /serverkeygen (RFC 7030 4.4) with the bounded parser of its multipart/mixed answer. */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/pkcs7.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/secret.h"
#include "client/client_internal.h"
#include "m2msec/mef.h"
#include "mef/est.h"

#define EST_DEFAULT_BASE "/.well-known/est"
#define EST_CB_LABEL_C "EXPORTER-Channel-Binding" /* RFC 9266 2 */
#define EST_CB_BYTES 32
#define EST_DER_MAX (64 * 1024)

/* ---- base64 (RFC 4648 4): the strict, fuzzed decoder of src/mef/est_b64.c ---- */

int cl_b64_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t n = 0;
    /* an empty (or all-whitespace) answer carries nothing: refused */
    if (est_b64_decode(in, len, out, cap, &n) != M2M_OK || n == 0)
        return M2MSEC_ERR_PROTOCOL;
    *out_len = n;
    return M2MSEC_OK;
}

int cl_b64_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    struct m2m_buf b = M2M_BUF_INIT;
    int rc = M2MSEC_ERR_USAGE;
    if (cap >= (len + 2) / 3 * 4 + 1 && est_b64_encode(in, len, &b) == M2M_OK && b.len < cap) {
        memcpy(out, b.data ? (const char *)b.data : "", b.len);
        out[b.len] = 0;
        rc = M2MSEC_OK;
    }
    m2m_buf_wipe(&b);
    m2m_buf_free(&b);
    return rc;
}

/* ---- PKCS#7 certs-only (RFC 7030 4.1.3, 4.2.3) ---- */

int cl_est_pkcs7_certs(const uint8_t *der, size_t len, gnutls_datum_t *pem, gnutls_datum_t *first)
{
    gnutls_pkcs7_t p7 = NULL;
    gnutls_datum_t in = {(unsigned char *)der, (unsigned)len};
    int rc = M2MSEC_ERR_PROTOCOL, n;
    pem->data = NULL;
    pem->size = 0;
    if (first) {
        first->data = NULL;
        first->size = 0;
    }
    if (len == 0 || len > EST_DER_MAX || gnutls_pkcs7_init(&p7) < 0)
        return M2MSEC_ERR_PROTOCOL;
    if (gnutls_pkcs7_import(p7, &in, GNUTLS_X509_FMT_DER) < 0 ||
        (n = gnutls_pkcs7_get_crt_count(p7)) <= 0 || n > 16)
        goto out;
    for (int i = 0; i < n; i++) {
        gnutls_datum_t d = {NULL, 0}, p = {NULL, 0};
        gnutls_x509_crt_t crt = NULL;
        int ok = gnutls_pkcs7_get_crt_raw2(p7, (unsigned)i, &d) >= 0 &&
                 gnutls_x509_crt_init(&crt) >= 0 &&
                 gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) >= 0 &&
                 gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &p) >= 0;
        unsigned char *grown = ok ? gnutls_realloc(pem->data, pem->size + p.size) : NULL;
        if (grown) {
            memcpy(grown + pem->size, p.data, p.size);
            pem->data = grown;
            pem->size += p.size;
        }
        if (grown && i == 0 && first)
            *first = d;
        else
            gnutls_free(d.data);
        gnutls_free(p.data);
        gnutls_x509_crt_deinit(crt);
        if (!grown)
            goto out;
    }
    rc = M2MSEC_OK;
out:
    gnutls_pkcs7_deinit(p7);
    if (rc != M2MSEC_OK) {
        gnutls_free(pem->data);
        pem->data = NULL;
        pem->size = 0;
        if (first) {
            gnutls_free(first->data);
            first->data = NULL;
        }
    }
    return rc;
}

/* ---- /serverkeygen answers (RFC 7030 4.4.2): multipart/mixed, parsed bounded ---- */

#define EST_BOUNDARY_MAX 70 /* RFC 2046 5.1.1 */

static bool ci_prefix(const uint8_t *p, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n >= l && strncasecmp((const char *)p, lit, l) == 0;
}

/* RFC 2046 5.1.1: the boundary parameter of a multipart/mixed Content-Type (quoted or not;
 * 1-70 characters of bchars, not ending in a space) into bnd[EST_BOUNDARY_MAX + 1]. */
static int boundary_of(const char *ctype, char *bnd)
{
    static const char bchars[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "'()+_,-./:=? ";
    size_t n = 0, cl = ctype ? strnlen(ctype, 256) : 0;
    const char *p = ctype, *end = ctype + cl;
    if (!ci_prefix((const uint8_t *)p, cl, "multipart/mixed"))
        return M2MSEC_ERR_PROTOCOL;
    p += 15;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p == end || *p != ';')
            return M2MSEC_ERR_PROTOCOL; /* no boundary parameter */
        for (p++; p < end && (*p == ' ' || *p == '\t'); p++)
            ;
        if (ci_prefix((const uint8_t *)p, (size_t)(end - p), "boundary="))
            break;
        while (p < end && *p != ';') /* another parameter (no quoted ';' in ours) */
            p++;
    }
    p += 9;
    bool quoted = p < end && *p == '"';
    p += quoted;
    while (p < end && *p != '"' && *p != ';' && n < EST_BOUNDARY_MAX && *p != '\0' &&
           strchr(bchars, *p) != NULL)
        bnd[n++] = *p++;
    bnd[n] = '\0';
    if (quoted && (p == end || *p++ != '"'))
        return M2MSEC_ERR_PROTOCOL;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (n == 0 || bnd[n - 1] == ' ' || (p < end && *p != ';'))
        return M2MSEC_ERR_PROTOCOL;
    return M2MSEC_OK;
}

/* The next delimiter line "--bnd" at or after *pos that starts a line (at 0 or after CRLF).
 * On OK, *pos is past the delimiter and *closing tells whether it is the close delimiter. */
static int next_delim(const uint8_t *in, size_t len, const char *bnd, size_t *pos, size_t *at,
                      bool *closing)
{
    size_t bl = strlen(bnd);
    for (size_t i = *pos; i + 2 + bl <= len; i++) {
        if (!(i == 0 || (i >= 2 && in[i - 2] == '\r' && in[i - 1] == '\n')))
            continue;
        if (in[i] != '-' || in[i + 1] != '-' || memcmp(in + i + 2, bnd, bl) != 0)
            continue;
        size_t j = i + 2 + bl;
        *closing = j + 2 <= len && in[j] == '-' && in[j + 1] == '-';
        j += *closing ? 2 : 0;
        while (j < len && (in[j] == ' ' || in[j] == '\t')) /* transport padding */
            j++;
        if (!*closing && !(j + 2 <= len && in[j] == '\r' && in[j + 1] == '\n'))
            return M2MSEC_ERR_PROTOCOL;
        *at = i;
        *pos = *closing ? j : j + 2;
        return M2MSEC_OK;
    }
    return M2MSEC_ERR_PROTOCOL;
}

enum { PART_KEY = 1, PART_CERT = 2 };

/* One body part: headers (Content-Type required, Content-Transfer-Encoding base64 required),
 * CRLF CRLF, content. *kind gets PART_KEY or PART_CERT; *c and *cl the content. */
static int part_parse(const uint8_t *p, size_t n, int *kind, const uint8_t **c, size_t *cl)
{
    const uint8_t *hend = memmem(p, n, "\r\n\r\n", 4);
    bool b64 = false;
    *kind = 0;
    if (hend == NULL)
        return M2MSEC_ERR_PROTOCOL;
    for (const uint8_t *l = p; l < hend + 2;) {
        const uint8_t *e = memmem(l, (size_t)(hend + 2 - l), "\r\n", 2);
        size_t ll = (size_t)(e - l);
        if (ci_prefix(l, ll, "Content-Type:")) {
            size_t v = 13;
            while (v < ll && (l[v] == ' ' || l[v] == '\t'))
                v++;
            if (*kind != 0)
                return M2MSEC_ERR_PROTOCOL; /* a second Content-Type */
            if (ll - v == 17 && ci_prefix(l + v, ll - v, "application/pkcs8"))
                *kind = PART_KEY;
            else if (ci_prefix(l + v, ll - v, "application/pkcs7-mime") &&
                     memmem(l + v, ll - v, "certs-only", 10) != NULL)
                *kind = PART_CERT;
            else
                return M2MSEC_ERR_PROTOCOL; /* e.g. an encrypted key (server-generated-key) */
        } else if (ci_prefix(l, ll, "Content-Transfer-Encoding:")) {
            size_t v = 26;
            while (v < ll && (l[v] == ' ' || l[v] == '\t'))
                v++;
            b64 = ll - v == 6 && ci_prefix(l + v, 6, "base64");
        }
        l = e + 2;
    }
    *c = hend + 4;
    *cl = n - (size_t)(hend + 4 - p);
    return *kind != 0 && b64 ? M2MSEC_OK : M2MSEC_ERR_PROTOCOL;
}

/* The private key part: base64 of an unencrypted PKCS#8 holding a P-256 key (F8). */
static int key_part(const uint8_t *c, size_t cl, gnutls_x509_privkey_t *key)
{
    uint8_t der[1024];
    size_t n = 0;
    unsigned bits = 0;
    int rc = M2MSEC_ERR_PROTOCOL;
    gnutls_datum_t d = {der, 0};
    if (*key != NULL || cl > 4 * sizeof der / 3 + 256 ||
        cl_b64_decode(c, cl, der, sizeof der, &n) != M2MSEC_OK)
        goto out;
    d.size = (unsigned)n;
    if (gnutls_x509_privkey_init(key) < 0) {
        rc = M2MSEC_ERR_NOMEM;
        goto out;
    }
    if (gnutls_x509_privkey_import_pkcs8(*key, &d, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN) <
            0 ||
        gnutls_x509_privkey_get_pk_algorithm2(*key, &bits) != GNUTLS_PK_ECDSA ||
        bits != 256) /* GnuTLS has one 256-bit ECDSA curve: P-256 */
        goto out;
    rc = M2MSEC_OK;
out:
    m2m_wipe(der, sizeof der);
    return rc;
}

/* The certificate part: base64 of a certs-only PKCS#7 holding exactly one certificate. */
static int cert_part(const uint8_t *c, size_t cl, gnutls_datum_t *pem, gnutls_datum_t *first)
{
    size_t n = 0;
    int rc = M2MSEC_ERR_PROTOCOL;
    uint8_t *der = NULL;
    if (pem->data != NULL || cl > 4 * (size_t)EST_DER_MAX / 3 + 4096 ||
        (der = malloc(EST_DER_MAX)) == NULL || cl_b64_decode(c, cl, der, EST_DER_MAX, &n) != 0)
        goto out;
    rc = cl_est_pkcs7_certs(der, n, pem, first);
    /* exactly one certificate: the PEM holds one BEGIN line */
    if (rc == M2MSEC_OK && memmem(pem->data + 1, pem->size - 1, "-----BEGIN", 10) != NULL) {
        gnutls_free(pem->data);
        gnutls_free(first->data);
        *pem = (gnutls_datum_t){NULL, 0};
        *first = (gnutls_datum_t){NULL, 0};
        rc = M2MSEC_ERR_PROTOCOL;
    }
out:
    free(der);
    return rc;
}

/* RFC 7030 4.4.2: the answer of /serverkeygen, a multipart/mixed body (boundary from ctype) of
 * exactly two parts, one application/pkcs8 key and one application/pkcs7-mime certs-only with a
 * single certificate, both base64. On OK: *key (deinit), *cert_pem and *first (gnutls_free).
 * PROTOCOL for anything else, with nothing left allocated. Peer input: bounded by len. */
int cl_est_keygen_parse(const char *ctype, const uint8_t *body, size_t len,
                        gnutls_x509_privkey_t *key, gnutls_datum_t *cert_pem, gnutls_datum_t *first)
{
    char bnd[EST_BOUNDARY_MAX + 1];
    size_t pos = 0, at = 0, start = 0;
    bool closing = false;
    int rc = M2MSEC_OK, n_parts = 0;
    *key = NULL;
    *cert_pem = *first = (gnutls_datum_t){NULL, 0};
    TRY(boundary_of(ctype, bnd));
    TRY(next_delim(body, len, bnd, &pos, &at, &closing)); /* a preamble may precede it */
    while (!closing) {
        int kind = 0;
        const uint8_t *c = NULL;
        size_t cl = 0;
        start = pos;
        TRY(next_delim(body, len, bnd, &pos, &at, &closing));
        /* the CRLF before a delimiter belongs to the delimiter (RFC 2046 5.1.1) */
        if (++n_parts > 2 || at < start + 2)
            BAIL(M2MSEC_ERR_PROTOCOL);
        TRY(part_parse(body + start, at - 2 - start, &kind, &c, &cl));
        TRY(kind == PART_KEY ? key_part(c, cl, key) : cert_part(c, cl, cert_pem, first));
    }
    if (*key == NULL || cert_pem->data == NULL)
        rc = M2MSEC_ERR_PROTOCOL;
out:
    if (rc != M2MSEC_OK) {
        gnutls_x509_privkey_deinit(*key);
        *key = NULL;
        gnutls_free(cert_pem->data);
        gnutls_free(first->data);
        *cert_pem = *first = (gnutls_datum_t){NULL, 0};
    }
    return rc;
}

/* ---- files ---- */

/* Writes data to path atomically (temporary file in the same directory, fsync, rename) with
 * the given mode; the temporary file is created with that mode, never wider. */
static int write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= (int)sizeof tmp)
        return M2MSEC_ERR_FILE;
    mode_t old = umask(0077);
    int fd = mkstemp(tmp);
    umask(old);
    if (fd < 0)
        return M2MSEC_ERR_FILE;
    const uint8_t *p = data;
    size_t left = len;
    bool ok = fchmod(fd, mode) == 0;
    while (ok && left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        p += ok ? w : 0;
        left -= ok ? (size_t)w : 0;
    }
    ok = ok && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return M2MSEC_ERR_FILE;
    }
    return M2MSEC_OK;
}

int m2msec_key_file_write(const char *path, const uint8_t *key, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char buf[2 * 64 + 2];
    if (path == NULL || key == NULL || len == 0 || len > 64)
        return M2MSEC_ERR_USAGE;
    for (size_t i = 0; i < len; i++) {
        buf[2 * i] = hex[key[i] >> 4];
        buf[2 * i + 1] = hex[key[i] & 15];
    }
    buf[2 * len] = '\n';
    int rc = write_atomic(path, buf, 2 * len + 1, 0600);
    m2m_wipe(buf, sizeof buf);
    return rc;
}

/* ---- the exchanges ---- */

/* GET or POST base/op; an answer other than 200 is M2MSEC_ERR_RSC with *http. The body is
 * base64 (RFC 7030 4.1.3 etc.) and decoded into *der (malloc'd). */
static int est_call(struct m2msec_client *c, const char *base, const char *op, const char *ctype,
                    const char *body, const char *want_ctype, int *http, uint8_t **der,
                    size_t *der_len, unsigned long *gen)
{
    struct cl_side_op sop = {.kind = CL_SIDE_RAW, .method = ctype ? "POST" : "GET", .ctype = ctype};
    struct m2msec_response *r = NULL;
    char path[600];
    int rc = M2MSEC_OK;
    *der = NULL;
    sop.body = body;
    sop.body_len = body ? strlen(body) : 0;
    if (snprintf(path, sizeof path, "%s/%s", base, op) >= (int)sizeof path)
        return cl_errf(c, M2MSEC_ERR_USAGE, "EST path too long");
    TRY(cl_side_run(c, path, &sop, &r));
    if (gen)
        *gen = sop.gen;
    *http = r->status;
    if (r->status != 200)
        BAIL(cl_errf(c, M2MSEC_ERR_RSC, "EST %s refused: HTTP %d", op, r->status));
    if (sop.resp_ctype[0] && strncasecmp(sop.resp_ctype, want_ctype, strlen(want_ctype)) != 0)
        BAIL(cl_errf(c, M2MSEC_ERR_PROTOCOL, "EST %s answered with a %.60s body", op,
                     sop.resp_ctype));
    if (r->body_len > 4 * (size_t)EST_DER_MAX / 3 + 4096 || (*der = malloc(EST_DER_MAX)) == NULL)
        BAIL(cl_errf(c, M2MSEC_ERR_PROTOCOL, "EST %s answer too large", op));
    if (cl_b64_decode((const uint8_t *)r->body, r->body_len, *der, EST_DER_MAX, der_len) !=
        M2MSEC_OK)
        BAIL(cl_errf(c, M2MSEC_ERR_PROTOCOL, "EST %s answer is not base64", op));
out:
    if (rc != M2MSEC_OK) {
        free(*der);
        *der = NULL;
    }
    m2msec_response_free(r);
    return rc;
}

/* RFC 7030 4.5.2: the CSR attributes are a DER SEQUENCE (informational here: the MEF checks the
 * identity; the client requests what the CERT_PROV command or the caller names). */
static int get_csrattrs(struct m2msec_client *c, const char *base, int *http)
{
    uint8_t *der = NULL;
    size_t n = 0;
    int rc =
        est_call(c, base, "csrattrs", NULL, NULL, "application/csrattrs", http, &der, &n, NULL);
    if (rc == M2MSEC_OK && (n < 2 || der[0] != 0x30))
        rc = cl_errf(c, M2MSEC_ERR_PROTOCOL, "EST csrattrs is not a DER SEQUENCE");
    if (rc == M2MSEC_ERR_RSC && (*http == 204 || *http == 404))
        rc = M2MSEC_OK; /* RFC 7030 4.5.2: no attributes to offer */
    free(der);
    return rc;
}

/* The PKCS#10 of key for san_uri with challengePassword cp, base64 into *b64 (malloc'd). */
static int make_csr(gnutls_x509_privkey_t key, const char *san_uri, const char *cp, char **b64)
{
    gnutls_x509_crq_t crq = NULL;
    gnutls_datum_t der = {NULL, 0};
    int rc = M2MSEC_ERR_FILE;
    *b64 = NULL;
    if (gnutls_x509_crq_init(&crq) < 0)
        return M2MSEC_ERR_NOMEM;
    /* TS-0003 10.1.4 / G7: the identity travels as the single SAN URI; CN repeats it. */
    if (gnutls_x509_crq_set_version(crq, 1) < 0 ||
        gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, san_uri,
                                      strlen(san_uri)) < 0 ||
        gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_URI, san_uri, strlen(san_uri),
                                             GNUTLS_FSAN_SET) < 0 ||
        gnutls_x509_crq_set_challenge_password(crq, cp) < 0 ||
        gnutls_x509_crq_set_key(crq, key) < 0 ||
        gnutls_x509_crq_sign2(crq, key, GNUTLS_DIG_SHA256, 0) < 0 ||
        gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der) < 0)
        goto out;
    size_t cap = (der.size + 2) / 3 * 4 + 1;
    if ((*b64 = malloc(cap)) == NULL || cl_b64_encode(der.data, der.size, *b64, cap) != M2MSEC_OK)
        goto out;
    rc = M2MSEC_OK;
out:
    if (rc != M2MSEC_OK) {
        free(*b64);
        *b64 = NULL;
    }
    gnutls_free(der.data);
    gnutls_x509_crq_deinit(crq);
    return rc;
}

/* The issued certificate must certify our key and name exactly san_uri. */
static int check_cert(gnutls_x509_privkey_t key, const gnutls_datum_t *der, const char *san_uri)
{
    gnutls_x509_crt_t crt = NULL;
    unsigned char kid1[64], kid2[64];
    size_t n1 = sizeof kid1, n2 = sizeof kid2;
    char san[512];
    size_t sl = sizeof san;
    unsigned critical = 0;
    int rc = M2MSEC_ERR_PROTOCOL;
    if (gnutls_x509_crt_init(&crt) < 0)
        return M2MSEC_ERR_NOMEM;
    if (gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) < 0 ||
        gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, kid1, &n1) < 0 ||
        gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, kid2, &n2) < 0 || n1 != n2 ||
        memcmp(kid1, kid2, n1) != 0)
        goto out;
    if (gnutls_x509_crt_get_subject_alt_name(crt, 0, san, &sl, &critical) != GNUTLS_SAN_URI ||
        sl != strlen(san_uri) || memcmp(san, san_uri, sl) != 0)
        goto out;
    sl = sizeof san;
    if (gnutls_x509_crt_get_subject_alt_name(crt, 1, san, &sl, &critical) !=
        GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) /* exactly one SAN */
        goto out;
    rc = M2MSEC_OK;
out:
    gnutls_x509_crt_deinit(crt);
    return rc;
}

/* One enrolment attempt on the current session: exporter, CSR, POST, result in *cert_pem. */
static int enroll_once(struct m2msec_client *c, const char *base, const char *san_uri,
                       bool reenroll, gnutls_x509_privkey_t key, int *http,
                       gnutls_datum_t *cert_pem, bool *session_changed)
{
    uint8_t cb[EST_CB_BYTES], *der = NULL;
    char cp[64], *csr = NULL;
    gnutls_datum_t first = {NULL, 0};
    unsigned long gen = 0, used = 0;
    size_t n = 0;
    int rc = M2MSEC_OK;
    *session_changed = false;
    /* RFC 7030 3.5 with RFC 9266 ([INTERP], docs/MEF.md): challengePassword = base64 of the
     * tls-exporter channel binding of the session carrying the request. */
    TRY(cl_export_gen(c, EST_CB_LABEL_C, cb, sizeof cb, &gen));
    if (cl_b64_encode(cb, sizeof cb, cp, sizeof cp) != M2MSEC_OK)
        BAIL(cl_errf(c, M2MSEC_ERR_USAGE, "challengePassword too long"));
    if ((rc = make_csr(key, san_uri, cp, &csr)) != M2MSEC_OK)
        BAIL(cl_errf(c, rc, "cannot build the certificate request for %.100s", san_uri));
    TRY(est_call(c, base, reenroll ? "simplereenroll" : "simpleenroll", "application/pkcs10", csr,
                 "application/pkcs7-mime", http, &der, &n, &used));
    if (used != gen) {
        *session_changed = true;
        BAIL(cl_errf(c, M2MSEC_ERR_PROTOCOL, "the connection changed during EST enrolment"));
    }
    if (cl_est_pkcs7_certs(der, n, cert_pem, &first) != M2MSEC_OK)
        BAIL(cl_errf(c, M2MSEC_ERR_PROTOCOL, "EST answer holds no certificate"));
    if (check_cert(key, &first, san_uri) != M2MSEC_OK) {
        gnutls_free(cert_pem->data);
        cert_pem->data = NULL;
        BAIL(cl_errf(c, M2MSEC_ERR_PROTOCOL,
                     "the issued certificate does not match our key and %.100s", san_uri));
    }
out:
    m2m_wipe(cb, sizeof cb);
    m2m_wipe(cp, sizeof cp);
    gnutls_free(first.data);
    free(der);
    free(csr);
    return rc;
}

/* /cacerts into *ca_pem (RFC 7030 4.1: the explicit trust anchor database). */
static int get_cacerts(struct m2msec_client *c, const char *base, int *http, gnutls_datum_t *pem)
{
    uint8_t *der = NULL;
    size_t n = 0;
    int rc =
        est_call(c, base, "cacerts", NULL, NULL, "application/pkcs7-mime", http, &der, &n, NULL);
    if (rc == M2MSEC_OK && cl_est_pkcs7_certs(der, n, pem, NULL) != M2MSEC_OK)
        rc = cl_errf(c, M2MSEC_ERR_PROTOCOL, "EST cacerts holds no certificate");
    free(der);
    return rc;
}

/* Key (0600) first, then certificate and trust anchors (0644), each atomically. */
static int write_outputs(struct m2msec_client *c, gnutls_x509_privkey_t key, const char *key_out,
                         const gnutls_datum_t *cert, const char *cert_out, const gnutls_datum_t *ca,
                         const char *ca_out)
{
    gnutls_datum_t kp = {NULL, 0};
    int rc = M2MSEC_OK;
    if (gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &kp) < 0)
        return cl_errf(c, M2MSEC_ERR_FILE, "cannot export the new key");
    if (write_atomic(key_out, kp.data, kp.size, 0600) != M2MSEC_OK)
        BAIL(cl_errf(c, M2MSEC_ERR_FILE, "cannot write %.200s", key_out));
    if (write_atomic(cert_out, cert->data, cert->size, 0644) != M2MSEC_OK)
        BAIL(cl_errf(c, M2MSEC_ERR_FILE, "cannot write %.200s", cert_out));
    if (ca_out && write_atomic(ca_out, ca->data, ca->size, 0644) != M2MSEC_OK)
        BAIL(cl_errf(c, M2MSEC_ERR_FILE, "cannot write %.200s", ca_out));
out:
    m2m_wipe(kp.data, kp.size);
    gnutls_free(kp.data);
    return rc;
}

int cl_est_enroll(struct m2msec_client *c, const char *base_path, const char *san_uri,
                  bool reenroll, const char *key_out, const char *cert_out, const char *ca_out,
                  int *http_status)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_datum_t ca = {NULL, 0}, cert = {NULL, 0};
    int http = 0, rc = M2MSEC_OK;
    bool changed = false;
    const char *base = base_path ? base_path : EST_DEFAULT_BASE;
    if (http_status)
        *http_status = 0;
    if (c == NULL || san_uri == NULL || key_out == NULL || cert_out == NULL || base[0] != '/' ||
        strnlen(san_uri, 256) == 0 || strnlen(san_uri, 256) > 255 || strchr(san_uri, '*'))
        return cl_errf(c, M2MSEC_ERR_USAGE, "EST needs a SAN URI (no wildcard) and output files");
    size_t bl = strlen(base);
    char trimmed[512];
    if (bl >= sizeof trimmed)
        return cl_errf(c, M2MSEC_ERR_USAGE, "EST base path too long");
    memcpy(trimmed, base, bl + 1);
    while (bl > 1 && trimmed[bl - 1] == '/')
        trimmed[--bl] = 0;
    TRY(get_cacerts(c, trimmed, &http, &ca));
    TRY(get_csrattrs(c, trimmed, &http));
    /* F8: ECDSA P-256. */
    if (gnutls_x509_privkey_init(&key) < 0 ||
        gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0)
        BAIL(cl_errf(c, M2MSEC_ERR_NOMEM, "cannot generate a P-256 key"));
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = enroll_once(c, trimmed, san_uri, reenroll, key, &http, &cert, &changed);
        if (!(rc == M2MSEC_ERR_PROTOCOL && changed))
            break; /* a reconnect between exporter and request: once more on the new session */
    }
    if (rc != M2MSEC_OK)
        goto out;
    TRY(write_outputs(c, key, key_out, &cert, cert_out, &ca, ca_out));
out:
    if (http_status)
        *http_status = http;
    gnutls_free(ca.data);
    gnutls_free(cert.data);
    gnutls_x509_privkey_deinit(key);
    return rc;
}

int m2msec_est_enroll(struct m2msec_client *c, const char *san_uri, bool reenroll,
                      const char *key_out, const char *cert_out, const char *ca_out,
                      int *http_status)
{
    return cl_est_enroll(c, EST_DEFAULT_BASE, san_uri, reenroll, key_out, cert_out, ca_out,
                         http_status);
}

/* ---- server-side key generation (RFC 7030 4.4) ---- */

/* POSTs csr to base/serverkeygen and parses the answer into *key, *cert_pem and *first. The
 * response body holds the private key in base64: it is wiped before it is freed. */
static int keygen_post(struct m2msec_client *c, const char *base, const char *csr, int *http,
                       gnutls_x509_privkey_t *key, gnutls_datum_t *cert_pem, gnutls_datum_t *first,
                       unsigned long *gen)
{
    struct cl_side_op sop = {.kind = CL_SIDE_RAW, .method = "POST", .ctype = "application/pkcs10"};
    struct m2msec_response *r = NULL;
    char path[600];
    int rc = M2MSEC_OK;
    sop.body = csr;
    sop.body_len = strlen(csr);
    if (snprintf(path, sizeof path, "%s/serverkeygen", base) >= (int)sizeof path)
        return cl_errf(c, M2MSEC_ERR_USAGE, "EST path too long");
    TRY(cl_side_run(c, path, &sop, &r));
    *gen = sop.gen;
    *http = r->status;
    if (r->status != 200)
        BAIL(cl_errf(c, M2MSEC_ERR_RSC, "EST serverkeygen refused: HTTP %d", r->status));
    if (cl_est_keygen_parse(sop.resp_ctype, (const uint8_t *)r->body, r->body_len, key, cert_pem,
                            first) != M2MSEC_OK)
        BAIL(cl_errf(c, M2MSEC_ERR_PROTOCOL,
                     "EST serverkeygen answer is not one key and one certificate"));
out:
    if (r != NULL)
        m2m_wipe(r->body, r->body_len);
    m2msec_response_free(r);
    return rc;
}

/* One /serverkeygen attempt on the current session: the CSR is signed with csr_key (RFC 7030
 * 4.4.1: any key the client holds) and carries the channel binding; the key generated by the
 * MEF goes to *key, its certificate (checked: certifies *key, names san_uri) to *cert_pem. */
static int keygen_once(struct m2msec_client *c, const char *base, const char *san_uri,
                       gnutls_x509_privkey_t csr_key, int *http, gnutls_x509_privkey_t *key,
                       gnutls_datum_t *cert_pem, bool *session_changed)
{
    uint8_t cb[EST_CB_BYTES];
    char cp[64], *csr = NULL;
    gnutls_datum_t first = {NULL, 0};
    unsigned long gen = 0, used = 0;
    int rc = M2MSEC_OK;
    *session_changed = false;
    TRY(cl_export_gen(c, EST_CB_LABEL_C, cb, sizeof cb, &gen));
    if (cl_b64_encode(cb, sizeof cb, cp, sizeof cp) != M2MSEC_OK)
        BAIL(cl_errf(c, M2MSEC_ERR_USAGE, "challengePassword too long"));
    if ((rc = make_csr(csr_key, san_uri, cp, &csr)) != M2MSEC_OK)
        BAIL(cl_errf(c, rc, "cannot build the certificate request for %.100s", san_uri));
    TRY(keygen_post(c, base, csr, http, key, cert_pem, &first, &used));
    if (used != gen) {
        *session_changed = true;
        BAIL(cl_errf(c, M2MSEC_ERR_PROTOCOL, "the connection changed during EST enrolment"));
    }
    if (check_cert(*key, &first, san_uri) != M2MSEC_OK)
        BAIL(cl_errf(c, M2MSEC_ERR_PROTOCOL,
                     "the issued certificate does not match the key sent and %.100s", san_uri));
out:
    if (rc != M2MSEC_OK) {
        gnutls_x509_privkey_deinit(*key);
        *key = NULL;
        gnutls_free(cert_pem->data);
        *cert_pem = (gnutls_datum_t){NULL, 0};
    }
    m2m_wipe(cb, sizeof cb);
    m2m_wipe(cp, sizeof cp);
    gnutls_free(first.data);
    free(csr);
    return rc;
}

int m2msec_est_serverkeygen(struct m2msec_client *c, const char *san_uri, const char *key_out,
                            const char *cert_out, const char *ca_out, int *http_status)
{
    gnutls_x509_privkey_t csr_key = NULL, key = NULL;
    gnutls_datum_t ca = {NULL, 0}, cert = {NULL, 0};
    int http = 0, rc = M2MSEC_OK;
    bool changed = false;
    const char *base = EST_DEFAULT_BASE;
    if (http_status)
        *http_status = 0;
    if (c == NULL || san_uri == NULL || key_out == NULL || cert_out == NULL ||
        strnlen(san_uri, 256) == 0 || strnlen(san_uri, 256) > 255 || strchr(san_uri, '*'))
        return cl_errf(c, M2MSEC_ERR_USAGE, "EST needs a SAN URI (no wildcard) and output files");
    TRY(get_cacerts(c, base, &http, &ca));
    TRY(get_csrattrs(c, base, &http));
    /* [INTERP] the CSR only carries identity and channel binding: a throwaway P-256 key signs it */
    if (gnutls_x509_privkey_init(&csr_key) < 0 ||
        gnutls_x509_privkey_generate(csr_key, GNUTLS_PK_ECDSA,
                                     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0)
        BAIL(cl_errf(c, M2MSEC_ERR_NOMEM, "cannot generate a P-256 key"));
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = keygen_once(c, base, san_uri, csr_key, &http, &key, &cert, &changed);
        if (!(rc == M2MSEC_ERR_PROTOCOL && changed))
            break; /* a reconnect between exporter and request: once more on the new session */
    }
    if (rc != M2MSEC_OK)
        goto out;
    TRY(write_outputs(c, key, key_out, &cert, cert_out, &ca, ca_out));
out:
    if (http_status)
        *http_status = http;
    gnutls_free(ca.data);
    gnutls_free(cert.data);
    gnutls_x509_privkey_deinit(csr_key);
    gnutls_x509_privkey_deinit(key);
    return rc;
}
