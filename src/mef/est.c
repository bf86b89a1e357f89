/* est.c: the EST registration authority of the MEF (RFC 7030; TS-0003 8.3.6.2, 10.1.4): the MEF
 * CA, /cacerts, the PKCS#10 checks of /simpleenroll and /simplereenroll, certificate issuing, and
 * server-side key generation (/serverkeygen). */
#include "mef/est.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs7.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/secret.h"
#include "tls/pki.h"

#define EST_DER_MAX (EST_BODY_MAX / 4 * 3) /* the largest DER a maximal body can carry */
#define EST_CHALLENGE_MAX 128              /* bytes of challengePassword looked at */
#define EST_DAYS_MAX 36500
#define EST_TIME_MAX INT64_C(253402214400) /* 9999-12-31: now_s + days cannot overflow */
#define OID_EXTENSION_REQUEST "1.2.840.113549.1.9.14"
#define OID_CHALLENGE_PASSWORD "1.2.840.113549.1.9.7"
#define OID_SUBJECT_ALT_NAME "2.5.29.17"

struct est_ca {
    gnutls_datum_t cert_der; /* the CA certificate; parsed again by each call (no shared state) */
    gnutls_datum_t p7_der;   /* the /cacerts PKCS#7, built once */
    gnutls_privkey_t key;    /* signing is thread-safe in GnuTLS (as for shared credentials) */
    uint8_t ski[64];
    size_t ski_len;
};

/* ---- helpers shared by the CA, the CSR and the certificate checks ---- */

/* M2M_OK when pub is an ECDSA key on P-256 (TS-0003 10.1.1.1, SPEC-MAP F8). */
static m2m_rc pubkey_is_p256(gnutls_pubkey_t pub)
{
    gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
    gnutls_datum_t x = {NULL, 0}, y = {NULL, 0};
    if (gnutls_pubkey_get_pk_algorithm(pub, NULL) != GNUTLS_PK_ECDSA)
        return M2M_ERR_MALFORMED;
    int r = gnutls_pubkey_export_ecc_raw2(pub, &curve, &x, &y, 0);
    gnutls_free(x.data);
    gnutls_free(y.data);
    return r >= 0 && curve == GNUTLS_ECC_CURVE_SECP256R1 ? M2M_OK : M2M_ERR_MALFORMED;
}

/* A certs-only (degenerate) PKCS#7 SignedData holding one certificate (RFC 7030 4.1.3, 4.2.3). */
static m2m_rc pkcs7_certs_only(const gnutls_datum_t *cert_der, gnutls_datum_t *out)
{
    m2m_rc rc = M2M_OK;
    gnutls_pkcs7_t p7 = NULL;
    ENSURE(gnutls_pkcs7_init(&p7) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_pkcs7_set_crt_raw(p7, cert_der) >= 0, M2M_ERR_INTERNAL);
    ENSURE(gnutls_pkcs7_export2(p7, GNUTLS_X509_FMT_DER, out) >= 0, M2M_ERR_INTERNAL);
out:
    if (p7)
        gnutls_pkcs7_deinit(p7);
    return rc;
}

static void hex_lower(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- the CA ---- */

void est_ca_free(struct est_ca *ca)
{
    if (ca == NULL)
        return;
    if (ca->key)
        gnutls_privkey_deinit(ca->key); /* wipes the key parameters */
    gnutls_free(ca->cert_der.data);
    gnutls_free(ca->p7_der.data);
    m2m_wipe(ca, sizeof *ca);
    free(ca);
}

/* The CA certificate is a CA, holds a P-256 key, and matches the private key. */
static m2m_rc ca_check(gnutls_x509_crt_t crt, gnutls_x509_privkey_t xkey)
{
    m2m_rc rc = M2M_OK;
    gnutls_pubkey_t pub = NULL;
    unsigned ca_flag = 0;
    uint8_t id1[64], id2[64];
    size_t n1 = sizeof id1, n2 = sizeof id2;
    ENSURE(gnutls_x509_crt_get_basic_constraints(crt, NULL, &ca_flag, NULL) >= 0 && ca_flag,
           M2M_ERR_CONFIG);
    ENSURE(gnutls_pubkey_init(&pub) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_pubkey_import_x509(pub, crt, 0) >= 0, M2M_ERR_CONFIG);
    ENSURE(pubkey_is_p256(pub) == M2M_OK, M2M_ERR_CONFIG);
    ENSURE(gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, id1, &n1) >= 0, M2M_ERR_CONFIG);
    ENSURE(gnutls_x509_privkey_get_key_id(xkey, GNUTLS_KEYID_USE_SHA256, id2, &n2) >= 0,
           M2M_ERR_CONFIG);
    ENSURE(n1 == n2 && memcmp(id1, id2, n1) == 0, M2M_ERR_CONFIG);
out:
    if (pub)
        gnutls_pubkey_deinit(pub);
    return rc;
}

/* Fills ca from the parsed certificate and key; takes xkey over (also on failure). */
static m2m_rc ca_fill(struct est_ca *ca, gnutls_x509_crt_t crt, gnutls_x509_privkey_t xkey)
{
    m2m_rc rc = M2M_OK;
    unsigned crit = 0;
    ca->ski_len = sizeof ca->ski;
    if (gnutls_x509_crt_get_subject_key_id(crt, ca->ski, &ca->ski_len, &crit) < 0)
        ca->ski_len = 0; /* optional: then no authorityKeyIdentifier either */
    ENSURE(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &ca->cert_der) >= 0, M2M_ERR_INTERNAL);
    TRY(pkcs7_certs_only(&ca->cert_der, &ca->p7_der));
    ENSURE(gnutls_privkey_init(&ca->key) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_privkey_import_x509(ca->key, xkey, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE) >= 0,
           M2M_ERR_CONFIG);
    xkey = NULL;
out:
    if (xkey)
        gnutls_x509_privkey_deinit(xkey);
    return rc;
}

m2m_rc est_ca_load(const char *cert_file, const char *key_file, struct est_ca **out)
{
    m2m_rc rc = M2M_OK;
    gnutls_datum_t c = {NULL, 0}, k = {NULL, 0};
    gnutls_x509_crt_t crt = NULL;
    gnutls_x509_privkey_t xkey = NULL;
    struct est_ca *ca = calloc(1, sizeof *ca);
    ENSURE_NONNULL(ca);
    ENSURE(gnutls_load_file(cert_file, &c) >= 0, M2M_ERR_CONFIG);
    ENSURE(gnutls_load_file(key_file, &k) >= 0, M2M_ERR_CONFIG);
    ENSURE(gnutls_x509_crt_init(&crt) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_x509_privkey_init(&xkey) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_x509_crt_import(crt, &c, GNUTLS_X509_FMT_PEM) >= 0, M2M_ERR_CONFIG);
    ENSURE(gnutls_x509_privkey_import(xkey, &k, GNUTLS_X509_FMT_PEM) >= 0, M2M_ERR_CONFIG);
    TRY(ca_check(crt, xkey));
    gnutls_x509_privkey_t taken = xkey;
    xkey = NULL;
    TRY(ca_fill(ca, crt, taken));
    *out = ca;
    ca = NULL;
out:
    if (rc != M2M_OK)
        log_error("est: cannot load the MEF CA %s / %s: %s", cert_file, key_file, m2m_rc_str(rc));
    gnutls_free(c.data);
    if (k.data) {
        m2m_wipe(k.data, k.size);
        gnutls_free(k.data);
    }
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (xkey)
        gnutls_x509_privkey_deinit(xkey);
    est_ca_free(ca);
    return rc;
}

m2m_rc est_cacerts(const struct est_ca *ca, struct m2m_buf *out)
{
    return est_b64_encode(ca->p7_der.data, ca->p7_der.size, out);
}

/* ---- subjectAltName ---- */

/* Reads SAN entry seq of a request or a certificate (the GnuTLS getters differ in one argument). */
typedef int (*san_getter)(void *obj, unsigned seq, void *buf, size_t *size, unsigned *type);

static int crq_san(void *obj, unsigned seq, void *buf, size_t *size, unsigned *type)
{
    return gnutls_x509_crq_get_subject_alt_name(obj, seq, buf, size, type, NULL);
}

static int crt_san(void *obj, unsigned seq, void *buf, size_t *size, unsigned *type)
{
    return gnutls_x509_crt_get_subject_alt_name2(obj, seq, buf, size, type, NULL);
}

/* TS-0003 10.1.4: the SAN holds exactly one name, a URI (the AE-ID, CSE-ID or Node-ID), which
 * goes to san as a string. M2M_ERR_MALFORMED for none, more than one, another name type, a NUL
 * inside, or a URI that does not fit cap. */
static m2m_rc single_san_uri(san_getter get, void *obj, char *san, size_t cap)
{
    char buf[EST_ID_MAX + 1];
    size_t size = sizeof buf;
    unsigned type = 0;
    if (get(obj, 0, buf, &size, &type) < 0 || type != GNUTLS_SAN_URI)
        return M2M_ERR_MALFORMED;
    if (size == 0 || size >= cap || size >= EST_ID_MAX || memchr(buf, 0, size) != NULL)
        return M2M_ERR_MALFORMED;
    char other[8];
    size_t osize = sizeof other;
    int r = get(obj, 1, other, &osize, &type);
    if (r != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
        return M2M_ERR_MALFORMED; /* a second name, of whatever type or size */
    memcpy(san, buf, size);
    san[size] = '\0';
    return M2M_OK;
}

/* The SAN forms of 10.1.1.5, 10.1.1.7, 10.1.1.8 (as src/tls/pki.h checks them); no '*' (F8). */
static m2m_rc san_form_ok(const char *uri)
{
    static const enum pki_flavour forms[] = {PKI_FLAVOUR_CSE, PKI_FLAVOUR_AE, PKI_FLAVOUR_NODE};
    for (size_t i = 0; i < M2M_ARRAY_LEN(forms); i++)
        if (pki_flavour_check(forms[i], uri) == M2M_OK)
            return M2M_OK;
    return M2M_ERR_MALFORMED;
}

/* ---- the PKCS#10 checks ---- */

/* At most one extensionRequest and one challengePassword attribute, and at most one SAN
 * extension: GnuTLS reads the first of each, so a second one must not pass unseen. */
static m2m_rc csr_no_duplicates(gnutls_x509_crq_t crq)
{
    int n_ext_req = 0, n_chal = 0, n_san = 0;
    for (unsigned i = 0;; i++) {
        char oid[128];
        size_t sz = sizeof oid;
        int r = gnutls_x509_crq_get_attribute_info(crq, i, oid, &sz);
        if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            break;
        if (r < 0)
            return M2M_ERR_MALFORMED;
        n_ext_req += strcmp(oid, OID_EXTENSION_REQUEST) == 0;
        n_chal += strcmp(oid, OID_CHALLENGE_PASSWORD) == 0;
    }
    for (unsigned i = 0;; i++) {
        char oid[128];
        size_t sz = sizeof oid;
        unsigned crit = 0;
        int r = gnutls_x509_crq_get_extension_info(crq, i, oid, &sz, &crit);
        if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            break;
        if (r < 0)
            return M2M_ERR_MALFORMED;
        n_san += strcmp(oid, OID_SUBJECT_ALT_NAME) == 0;
    }
    return n_ext_req <= 1 && n_chal <= 1 && n_san <= 1 ? M2M_OK : M2M_ERR_MALFORMED;
}

/* Parses der and checks the form and the proof of possession: DER, signature algorithm
 * ecdsa-with-SHA256 (the one /csrattrs asks for), P-256 key, self-signature. */
static m2m_rc csr_parse(const uint8_t *der, size_t len, gnutls_x509_crq_t *out)
{
    m2m_rc rc = M2M_OK;
    gnutls_x509_crq_t crq = NULL;
    gnutls_pubkey_t pub = NULL;
    ENSURE(der != NULL && len > 0 && len <= EST_DER_MAX, M2M_ERR_MALFORMED);
    gnutls_datum_t d = {(unsigned char *)der, (unsigned)len};
    ENSURE(gnutls_x509_crq_init(&crq) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_DER) >= 0, M2M_ERR_MALFORMED);
    TRY(csr_no_duplicates(crq));
    ENSURE(gnutls_x509_crq_get_signature_algorithm(crq) == GNUTLS_SIGN_ECDSA_SHA256,
           M2M_ERR_MALFORMED);
    ENSURE(gnutls_pubkey_init(&pub) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_pubkey_import_x509_crq(pub, crq, 0) >= 0, M2M_ERR_MALFORMED);
    TRY(pubkey_is_p256(pub));
    /* RFC 2986 4.2 / RFC 7030 4.2.1: the request is signed with the key it carries. */
    ENSURE(gnutls_x509_crq_verify(crq, 0) >= 0, M2M_ERR_MALFORMED);
    *out = crq;
    crq = NULL;
out:
    if (pub)
        gnutls_pubkey_deinit(pub);
    if (crq)
        gnutls_x509_crq_deinit(crq);
    return rc;
}

/* The challengePassword (RFC 2985 5.4.1) as a string; M2M_ERR_DENIED when absent, longer than
 * chcap - 1 or holding a NUL: it cannot be the expected value then. The attribute is read as DER
 * and its DirectoryString decoded here: gnutls_x509_crq_get_challenge_password (GnuTLS 3.7)
 * returns the value with RFC 4514-style escaping ("+" becomes "\+"), which would refuse about
 * half of all base64 channel bindings. */
static m2m_rc csr_challenge(gnutls_x509_crq_t crq, char *ch, size_t chcap)
{
    uint8_t der[EST_CHALLENGE_MAX + 8];
    size_t size = sizeof der, vlen, off = 2;
    m2m_rc rc = M2M_ERR_DENIED;
    if (gnutls_x509_crq_get_attribute_by_oid(crq, "1.2.840.113549.1.9.7", 0, der, &size) < 0 ||
        size < 2 || size > sizeof der)
        goto out;
    /* PrintableString (0x13), UTF8String (0x0c), IA5String (0x16) or TeletexString (0x14) */
    if (der[0] != 0x13 && der[0] != 0x0c && der[0] != 0x16 && der[0] != 0x14)
        goto out;
    if (der[1] < 0x80) {
        vlen = der[1];
    } else if (der[1] == 0x81 && size >= 3 && der[2] >= 0x80) {
        vlen = der[2];
        off = 3;
    } else {
        goto out;
    }
    if (off + vlen != size || vlen >= chcap || memchr(der + off, 0, vlen) != NULL)
        goto out;
    memcpy(ch, der + off, vlen);
    ch[vlen] = '\0';
    rc = M2M_OK;
out:
    m2m_wipe(der, sizeof der);
    return rc;
}

/* Everything est_csr_check_der checks; the parsed request goes to *out for issuing. */
static m2m_rc csr_check(const uint8_t *der, size_t len, gnutls_x509_crq_t *out, char *san,
                        size_t cap, char *ch, size_t chcap, const char **why)
{
    m2m_rc rc = M2M_OK;
    gnutls_x509_crq_t crq = NULL;
    *why = "malformed or tampered certification request";
    TRY(csr_parse(der, len, &crq));
    *why = "subjectAltName must be a single AE-ID, CSE-ID or Node-ID URI";
    TRY(single_san_uri(crq_san, crq, san, cap));
    TRY(san_form_ok(san));
    *why = "challengePassword missing";
    TRY(csr_challenge(crq, ch, chcap));
    *why = "";
    *out = crq;
    crq = NULL;
out:
    if (crq)
        gnutls_x509_crq_deinit(crq);
    return rc;
}

m2m_rc est_csr_check_der(const uint8_t *der, size_t len, char *san, size_t cap, char *challenge,
                         size_t chcap)
{
    gnutls_x509_crq_t crq = NULL;
    const char *why = "";
    if (san == NULL || cap == 0 || challenge == NULL || chcap == 0)
        return M2M_ERR_INTERNAL;
    m2m_rc rc = csr_check(der, len, &crq, san, cap, challenge, chcap, &why);
    if (crq)
        gnutls_x509_crq_deinit(crq);
    return rc;
}

/* ---- authorization ---- */

/* [INTERP] RFC 7030 3.5 with RFC 9266 (docs/MEF.md): the challengePassword is the base64 of the
 * tls-exporter channel binding of the carrying TLS session, which ties the request to the
 * authenticated session. Compared in constant time. */
static m2m_rc challenge_ok(const struct est_enroll_req *req, const char *ch)
{
    m2m_rc rc = M2M_OK;
    struct m2m_buf want = M2M_BUF_INIT;
    ENSURE(req->cb != NULL && req->cb_len == EST_CB_LEN, M2M_ERR_DENIED);
    TRY(est_b64_encode(req->cb, req->cb_len, &want));
    size_t n = strnlen(ch, EST_CHALLENGE_MAX + 1);
    ENSURE(n == want.len && m2m_ct_eq(ch, want.data, n), M2M_ERR_DENIED);
out:
    if (want.data)
        m2m_wipe(want.data, want.cap);
    m2m_buf_free(&want);
    return rc;
}

/* TS-0003 8.3.6.2.2 step 3.c: the identity requested is one the MEF associates with the client. */
static m2m_rc identity_allowed(const struct est_enroll_req *req, const char *san)
{
    for (int i = 0; i < req->n_allowed && req->allowed_ids != NULL; i++)
        if (req->allowed_ids[i] != NULL && strcmp(req->allowed_ids[i], san) == 0)
            return M2M_OK;
    return M2M_ERR_DENIED;
}

static bool has_client_auth(gnutls_x509_crt_t crt)
{
    for (unsigned i = 0;; i++) {
        char oid[128];
        size_t sz = sizeof oid;
        if (gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &sz, NULL) < 0)
            return false;
        if (strcmp(oid, GNUTLS_KP_TLS_WWW_CLIENT) == 0)
            return true;
    }
}

/* The current certificate of a re-enrolment was issued by this CA, is valid at now and is a TLS
 * client certificate (8.3.6.2.3 step 3: the EKU is validated). The library clock is not used. */
static m2m_rc current_from_ca(const struct est_ca *ca, const struct est_enroll_req *req,
                              gnutls_x509_crt_t cur, const char **why)
{
    m2m_rc rc = M2M_OK;
    gnutls_x509_crt_t issuer = NULL;
    unsigned status = 0;
    const unsigned flags =
        GNUTLS_VERIFY_DISABLE_TIME_CHECKS | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS;
    *why = "client certificate not issued by this MEF";
    ENSURE(req->current_cert_len > 0 && req->current_cert_len <= EST_DER_MAX, M2M_ERR_DENIED);
    gnutls_datum_t d = {(unsigned char *)req->current_cert, (unsigned)req->current_cert_len};
    ENSURE(gnutls_x509_crt_import(cur, &d, GNUTLS_X509_FMT_DER) >= 0, M2M_ERR_DENIED);
    ENSURE(gnutls_x509_crt_init(&issuer) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_x509_crt_import(issuer, &ca->cert_der, GNUTLS_X509_FMT_DER) >= 0,
           M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_verify(cur, &issuer, 1, flags, &status) >= 0 && status == 0,
           M2M_ERR_DENIED);
    *why = "client certificate outside its validity period";
    time_t nb = gnutls_x509_crt_get_activation_time(cur);
    time_t na = gnutls_x509_crt_get_expiration_time(cur);
    ENSURE(nb != (time_t)-1 && na != (time_t)-1 && nb <= req->now_s && req->now_s < na,
           M2M_ERR_DENIED);
    *why = "client certificate lacks the clientAuth extended key usage";
    ENSURE(has_client_auth(cur), M2M_ERR_DENIED);
out:
    if (issuer)
        gnutls_x509_crt_deinit(issuer);
    return rc;
}

/* RFC 7030 4.2.2: the subject and subjectAltName of a re-enrolment request are those of the
 * certificate being renewed. */
static m2m_rc reenroll_check(const struct est_ca *ca, const struct est_enroll_req *req,
                             gnutls_x509_crq_t crq, const char *san, const char **why)
{
    m2m_rc rc = M2M_OK;
    gnutls_x509_crt_t cur = NULL;
    gnutls_datum_t dn_cur = {NULL, 0}, dn_req = {NULL, 0};
    char cur_san[EST_ID_MAX];
    ENSURE(gnutls_x509_crt_init(&cur) >= 0, M2M_ERR_NOMEM);
    TRY(current_from_ca(ca, req, cur, why));
    *why = "subject and subjectAltName must be those of the current certificate";
    ENSURE(single_san_uri(crt_san, cur, cur_san, sizeof cur_san) == M2M_OK &&
               strcmp(cur_san, san) == 0,
           M2M_ERR_DENIED);
    ENSURE(gnutls_x509_crt_get_dn3(cur, &dn_cur, 0) >= 0, M2M_ERR_DENIED);
    ENSURE(gnutls_x509_crq_get_dn3(crq, &dn_req, 0) >= 0, M2M_ERR_DENIED);
    ENSURE(dn_cur.size == dn_req.size && memcmp(dn_cur.data, dn_req.data, dn_cur.size) == 0,
           M2M_ERR_DENIED);
out:
    gnutls_free(dn_cur.data);
    gnutls_free(dn_req.data);
    if (cur)
        gnutls_x509_crt_deinit(cur);
    return rc;
}

/* The 403 checks, in order: channel binding, identity, and for re-enrolment the certificate. */
static m2m_rc authorize(const struct est_ca *ca, const struct est_enroll_req *req,
                        gnutls_x509_crq_t crq, const char *san, const char *ch, const char **why)
{
    *why = "challengePassword does not match the TLS channel binding";
    RETURN_IF_ERR(challenge_ok(req, ch));
    *why = "identity not allowed for this client";
    RETURN_IF_ERR(identity_allowed(req, san));
    if (req->current_cert != NULL)
        RETURN_IF_ERR(reenroll_check(ca, req, crq, san, why));
    *why = "";
    return M2M_OK;
}

/* ---- issuing ---- */

/* The fields of the new certificate: the profile of est.h (TS-0003 10.1.1.5, 10.1.1.7, 10.1.1.8
 * name the identity in the SAN; F8: P-256, SHA-256). */
static m2m_rc cert_fill(gnutls_x509_crt_t crt, gnutls_pubkey_t pub, const char *san,
                        const struct est_enroll_req *req, const struct est_ca *ca,
                        struct est_result *res)
{
    m2m_rc rc = M2M_OK;
    uint8_t serial[16], kid[64];
    size_t kid_len = sizeof kid;
    unsigned san_len = (unsigned)strnlen(san, EST_ID_MAX);
    ENSURE(gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial) >= 0, M2M_ERR_INTERNAL);
    serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x40); /* RFC 5280 4.1.2.2: positive, 16 octets */
    hex_lower(serial, sizeof serial, res->serial_hex);
    time_t nb = (time_t)req->now_s;
    time_t na = nb + (time_t)req->days * 86400;
    ENSURE(gnutls_x509_crt_set_version(crt, 3) >= 0, M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_serial(crt, serial, sizeof serial) >= 0, M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_activation_time(crt, nb) >= 0, M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_expiration_time(crt, na) >= 0, M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_pubkey(crt, pub) >= 0, M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, san, san_len) >= 0,
           M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_basic_constraints(crt, 0, -1) >= 0, M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) >= 0, M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0) >= 0,
           M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) >= 0,
           M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_URI, san, san_len,
                                                GNUTLS_FSAN_SET) >= 0,
           M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, kid, &kid_len) >= 0,
           M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_subject_key_id(crt, kid, kid_len) >= 0, M2M_ERR_INTERNAL);
    if (ca->ski_len > 0)
        ENSURE(gnutls_x509_crt_set_authority_key_id(crt, ca->ski, ca->ski_len) >= 0,
               M2M_ERR_INTERNAL);
out:
    return rc;
}

/* Issues the certificate for pub (the checked request's key, or the one /serverkeygen made);
 * its DER goes to *der (gnutls_free). */
static m2m_rc issue(const struct est_ca *ca, gnutls_pubkey_t pub, const char *san,
                    const struct est_enroll_req *req, gnutls_datum_t *der, struct est_result *res)
{
    m2m_rc rc = M2M_OK;
    gnutls_x509_crt_t crt = NULL, issuer = NULL;
    uint8_t fp[32];
    ENSURE(gnutls_x509_crt_init(&crt) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_x509_crt_init(&issuer) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_x509_crt_import(issuer, &ca->cert_der, GNUTLS_X509_FMT_DER) >= 0,
           M2M_ERR_INTERNAL);
    TRY(cert_fill(crt, pub, san, req, ca, res));
    ENSURE(gnutls_x509_crt_privkey_sign(crt, issuer, ca->key, GNUTLS_DIG_SHA256, 0) >= 0,
           M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, der) >= 0, M2M_ERR_INTERNAL);
    ENSURE(gnutls_hash_fast(GNUTLS_DIG_SHA256, der->data, der->size, fp) >= 0, M2M_ERR_INTERNAL);
    hex_lower(fp, sizeof fp, res->fingerprint);
out:
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (issuer)
        gnutls_x509_crt_deinit(issuer);
    return rc;
}

/* ---- the enrolment driver ---- */

/* RFC 7030 4.2.1: the body is the base64 of the DER PKCS#10, bounded by EST_BODY_MAX. *der is
 * malloc'd. */
static m2m_rc body_decode(const struct est_enroll_req *req, uint8_t **der, size_t *len,
                          const char **why)
{
    m2m_rc rc = M2M_OK;
    *why = "request body empty or over the size limit";
    ENSURE(req->body != NULL && req->body_len > 0 && req->body_len <= EST_BODY_MAX,
           M2M_ERR_MALFORMED);
    *der = malloc(EST_DER_MAX);
    ENSURE_NONNULL(*der);
    *why = "request body is not base64";
    rc = est_b64_decode(req->body, req->body_len, *der, EST_DER_MAX, len);
    ENSURE(rc == M2M_OK && *len > 0, M2M_ERR_MALFORMED);
out:
    return rc;
}

/* Fills the result of est_enroll and reduces rc to the codes of the contract. */
static m2m_rc finish(m2m_rc rc, const char *why, const char *san, struct est_result *res)
{
    switch (rc) {
    case M2M_OK: res->http_status = 200; break;
    case M2M_ERR_MALFORMED: res->http_status = 400; break;
    case M2M_ERR_DENIED: res->http_status = 403; break;
    default:
        res->http_status = 500;
        why = "internal error";
        rc = M2M_ERR_INTERNAL;
    }
    if (rc == M2M_OK) {
        snprintf(res->san, sizeof res->san, "%s", san);
        res->error[0] = '\0';
        log_info("est: issued certificate %s for %s", res->serial_hex, res->san);
    } else {
        snprintf(res->error, sizeof res->error, "%s", why);
        res->serial_hex[0] = res->fingerprint[0] = '\0';
        log_warn("est: enrolment refused (%d): %s", res->http_status, res->error);
    }
    return rc;
}

m2m_rc est_enroll(const struct est_ca *ca, const struct est_enroll_req *req, struct m2m_buf *out,
                  struct est_result *res)
{
    m2m_rc rc = M2M_OK;
    const char *why = "internal error";
    gnutls_x509_crq_t crq = NULL;
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t crt = {NULL, 0}, p7 = {NULL, 0};
    uint8_t *der = NULL;
    size_t der_len = 0;
    char san[EST_ID_MAX] = "", ch[EST_CHALLENGE_MAX + 1] = "";
    memset(res, 0, sizeof *res);
    ENSURE(ca != NULL && req != NULL, M2M_ERR_INTERNAL);
    ENSURE(req->days > 0 && req->days <= EST_DAYS_MAX, M2M_ERR_INTERNAL);
    ENSURE(req->now_s >= 0 && req->now_s <= EST_TIME_MAX, M2M_ERR_INTERNAL);
    TRY(body_decode(req, &der, &der_len, &why));
    TRY(csr_check(der, der_len, &crq, san, sizeof san, ch, sizeof ch, &why));
    TRY(authorize(ca, req, crq, san, ch, &why));
    ENSURE(gnutls_pubkey_init(&pub) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_pubkey_import_x509_crq(pub, crq, 0) >= 0, M2M_ERR_INTERNAL);
    TRY(issue(ca, pub, san, req, &crt, res));
    TRY(pkcs7_certs_only(&crt, &p7));
    TRY(est_b64_encode(p7.data, p7.size, out));
out: /* est_b64_encode, the only writer of out, appends nothing when it fails */
    m2m_wipe(ch, sizeof ch);
    free(der);
    gnutls_free(crt.data);
    gnutls_free(p7.data);
    if (pub)
        gnutls_pubkey_deinit(pub);
    if (crq)
        gnutls_x509_crq_deinit(crq);
    return finish(rc, why, san, res);
}

/* ---- server-side key generation (RFC 7030 4.4) ---- */

#define EST_PART_HDR(ct) "Content-Type: " ct "\r\nContent-Transfer-Encoding: base64\r\n\r\n"
#define EST_KEY_PART EST_PART_HDR("application/pkcs8")
#define EST_CERT_PART EST_PART_HDR("application/pkcs7-mime; smime-type=certs-only")

/* A fresh P-256 key pair (F8): the private key as unencrypted PKCS#8 DER in *p8 (the caller
 * wipes and gnutls_frees it, also on failure) and the public key in *pub (caller deinits). The
 * GnuTLS key objects wipe their parameters when deinitialised. */
static m2m_rc keygen(gnutls_datum_t *p8, gnutls_pubkey_t *pub)
{
    m2m_rc rc = M2M_OK;
    gnutls_x509_privkey_t xk = NULL;
    gnutls_privkey_t pk = NULL;
    const unsigned bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1);
    ENSURE(gnutls_x509_privkey_init(&xk) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_x509_privkey_generate(xk, GNUTLS_PK_ECDSA, bits, 0) >= 0, M2M_ERR_INTERNAL);
    /* RFC 7030 4.4.2: without DecryptKeyIdentifier or AsymmetricDecryptKeyIdentifier in the
     * request the key is returned unencrypted, protected by the TLS session only. */
    ENSURE(gnutls_x509_privkey_export2_pkcs8(xk, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN,
                                             p8) >= 0,
           M2M_ERR_INTERNAL);
    ENSURE(gnutls_privkey_init(&pk) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_privkey_import_x509(pk, xk, 0) >= 0, M2M_ERR_INTERNAL);
    ENSURE(gnutls_pubkey_init(pub) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_pubkey_import_privkey(*pub, pk, 0, 0) >= 0, M2M_ERR_INTERNAL);
out:
    if (pk)
        gnutls_privkey_deinit(pk);
    if (xk)
        gnutls_x509_privkey_deinit(xk);
    return rc;
}

/* RFC 7030 4.4.2: the multipart/mixed body, private key part first. out is reserved once at its
 * final size so that no reallocation leaves a copy of the key in freed memory. base64 has no
 * '-', so no line of a part can look like a boundary (RFC 2046 5.1.1). */
static m2m_rc multipart(const gnutls_datum_t *p8, const gnutls_datum_t *p7, const char *bnd,
                        struct m2m_buf *out)
{
    m2m_rc rc = M2M_OK;
    size_t bl = strlen(bnd);
    size_t need = (p8->size + 2) / 3 * 4 + (p7->size + 2) / 3 * 4 + 3 * (bl + 8) +
                  sizeof EST_KEY_PART + sizeof EST_CERT_PART;
    TRY(m2m_buf_reserve(out, need));
    TRY(m2m_buf_appendf(out, "--%s\r\n" EST_KEY_PART, bnd));
    TRY(est_b64_encode(p8->data, p8->size, out));
    TRY(m2m_buf_appendf(out, "\r\n--%s\r\n" EST_CERT_PART, bnd));
    TRY(est_b64_encode(p7->data, p7->size, out));
    TRY(m2m_buf_appendf(out, "\r\n--%s--\r\n", bnd));
out:
    return rc;
}

/* A random boundary (RFC 2046 5.1.1: at most 70 characters) and the answer's Content-Type. */
static m2m_rc boundary(char *bnd, size_t bcap, char *ctype, size_t ccap)
{
    uint8_t r[16];
    if (bcap < 2 * sizeof r + 8 || ccap < EST_CTYPE_MAX ||
        gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof r) < 0)
        return M2M_ERR_INTERNAL;
    memcpy(bnd, "est-", 4);
    hex_lower(r, sizeof r, bnd + 4);
    snprintf(ctype, ccap, "multipart/mixed; boundary=%s", bnd);
    return M2M_OK;
}

/* Key generation, issuing and the answer of est_serverkeygen, after the checks. */
static m2m_rc keygen_answer(const struct est_ca *ca, const char *san,
                            const struct est_enroll_req *req, struct m2m_buf *out, char *ctype,
                            size_t ctype_cap, struct est_result *res)
{
    m2m_rc rc = M2M_OK;
    gnutls_datum_t p8 = {NULL, 0}, crt = {NULL, 0}, p7 = {NULL, 0};
    gnutls_pubkey_t pub = NULL;
    char bnd[48];
    TRY(keygen(&p8, &pub));
    TRY(issue(ca, pub, san, req, &crt, res));
    TRY(pkcs7_certs_only(&crt, &p7));
    TRY(boundary(bnd, sizeof bnd, ctype, ctype_cap));
    TRY(multipart(&p8, &p7, bnd, out));
out:
    if (p8.data) {
        m2m_wipe(p8.data, p8.size);
        gnutls_free(p8.data);
    }
    if (rc != M2M_OK && out->data) { /* nothing appended on failure, and no key left behind */
        m2m_wipe(out->data, out->cap);
        out->len = 0;
    }
    if (pub)
        gnutls_pubkey_deinit(pub);
    gnutls_free(crt.data);
    gnutls_free(p7.data);
    return rc;
}

m2m_rc est_serverkeygen(const struct est_ca *ca, const struct est_enroll_req *req,
                        struct m2m_buf *out, char *ctype, size_t ctype_cap, struct est_result *res)
{
    m2m_rc rc = M2M_OK;
    const char *why = "internal error";
    gnutls_x509_crq_t crq = NULL;
    uint8_t *der = NULL;
    size_t der_len = 0;
    char san[EST_ID_MAX] = "", ch[EST_CHALLENGE_MAX + 1] = "";
    memset(res, 0, sizeof *res);
    ENSURE(ca != NULL && req != NULL && out != NULL && out->len == 0, M2M_ERR_INTERNAL);
    ENSURE(ctype != NULL && ctype_cap >= EST_CTYPE_MAX && req->current_cert == NULL,
           M2M_ERR_INTERNAL);
    ENSURE(req->days > 0 && req->days <= EST_DAYS_MAX, M2M_ERR_INTERNAL);
    ENSURE(req->now_s >= 0 && req->now_s <= EST_TIME_MAX, M2M_ERR_INTERNAL);
    /* RFC 7030 4.4.1: the request is checked as for /simpleenroll (4.2.1); the SAN it names
     * goes into the certificate of the key generated here. */
    TRY(body_decode(req, &der, &der_len, &why));
    TRY(csr_check(der, der_len, &crq, san, sizeof san, ch, sizeof ch, &why));
    TRY(authorize(ca, req, crq, san, ch, &why));
    TRY(keygen_answer(ca, san, req, out, ctype, ctype_cap, res));
out:
    m2m_wipe(ch, sizeof ch);
    free(der);
    if (crq)
        gnutls_x509_crq_deinit(crq);
    return finish(rc, why, san, res);
}
