/* est_attrs.c: the EST /csrattrs answer (RFC 7030 4.5.2) and the small bounded DER writer that
 * encodes it. */
#include <string.h>

#include "mef/est.h"
#include "tls/pki.h"

/* A DER writer that fills a fixed buffer from the end towards the start, so that every length
 * is known when its header is written: contents first, then length and tag. */
struct der_w {
    uint8_t *buf;
    size_t pos; /* first used byte; the encoding is buf[pos .. cap) */
    size_t cap;
    bool full; /* a write did not fit; everything after is ignored */
};

static void der_put(struct der_w *w, const void *p, size_t n)
{
    if (w->full || n > w->pos) {
        w->full = true;
        return;
    }
    w->pos -= n;
    memcpy(w->buf + w->pos, p, n);
}

/* The size of what was written since mark (a previous w->cap - w->pos). */
static size_t der_since(const struct der_w *w, size_t mark)
{
    return (w->cap - w->pos) - mark;
}

static size_t der_mark(const struct der_w *w)
{
    return w->cap - w->pos;
}

/* X.690 8.1.2, 8.1.3: one-byte tag, definite length in the shortest form. */
static void der_header(struct der_w *w, uint8_t tag, size_t len)
{
    uint8_t out[4] = {tag, 0, 0, 0};
    size_t n = 1;
    if (len < 0x80) {
        out[n++] = (uint8_t)len;
    } else if (len <= 0xff) {
        out[n++] = 0x81;
        out[n++] = (uint8_t)len;
    } else if (len <= 0xffff) {
        out[n++] = 0x82;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        w->full = true; /* nothing here is that large */
        return;
    }
    der_put(w, out, n);
}

/* Wraps everything written since mark in a TLV with this tag. */
static void der_wrap(struct der_w *w, uint8_t tag, size_t mark)
{
    der_header(w, tag, der_since(w, mark));
}

#define DER_SEQUENCE 0x30
#define DER_SET 0x31
#define DER_OCTET_STRING 0x04
#define DER_SAN_URI 0x86 /* GeneralName uniformResourceIdentifier [6] IMPLICIT IA5String */

/* Complete OBJECT IDENTIFIER TLVs (tag 06, length, X.690 8.19 contents). */
static const uint8_t oid_challenge_password[] = {
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x07}; /* 1.2.840.113549.1.9.7 */
static const uint8_t oid_ec_public_key[] = {0x06, 0x07, 0x2a, 0x86, 0x48,
                                            0xce, 0x3d, 0x02, 0x01}; /* 1.2.840.10045.2.1 */
static const uint8_t oid_secp256r1[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                        0xce, 0x3d, 0x03, 0x01, 0x07}; /* 1.2.840.10045.3.1.7 */
static const uint8_t oid_ecdsa_sha256[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                           0xce, 0x3d, 0x04, 0x03, 0x02}; /* 1.2.840.10045.4.3.2 */
static const uint8_t oid_extension_request[] = {
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e}; /* 1.2.840.113549.1.9.14 */
static const uint8_t oid_subject_alt_name[] = {0x06, 0x03, 0x55, 0x1d, 0x11}; /* 2.5.29.17 */

/* Attribute { extensionRequest, SET { Extensions { Extension { subjectAltName,
 * OCTET STRING { GeneralNames { uri } } } } } } (RFC 2985 5.4.2, RFC 5280 4.2.1.6). */
static void write_extension_request(struct der_w *w, const char *uri, size_t uri_len)
{
    size_t attr = der_mark(w);
    size_t set = der_mark(w);
    size_t exts = der_mark(w);
    size_t ext = der_mark(w);
    size_t octets = der_mark(w);
    size_t names = der_mark(w);
    der_put(w, uri, uri_len);
    der_wrap(w, DER_SAN_URI, names);
    der_wrap(w, DER_SEQUENCE, names);      /* GeneralNames */
    der_wrap(w, DER_OCTET_STRING, octets); /* extnValue */
    der_put(w, oid_subject_alt_name, sizeof oid_subject_alt_name);
    der_wrap(w, DER_SEQUENCE, ext);  /* Extension (critical absent: FALSE) */
    der_wrap(w, DER_SEQUENCE, exts); /* Extensions */
    der_wrap(w, DER_SET, set);       /* values */
    der_put(w, oid_extension_request, sizeof oid_extension_request);
    der_wrap(w, DER_SEQUENCE, attr);
}

/* Attribute { ecPublicKey, SET { secp256r1 } }: RFC 7030 4.5.2 names the curve this way. */
static void write_ec_key_attr(struct der_w *w)
{
    size_t attr = der_mark(w);
    size_t set = der_mark(w);
    der_put(w, oid_secp256r1, sizeof oid_secp256r1);
    der_wrap(w, DER_SET, set);
    der_put(w, oid_ec_public_key, sizeof oid_ec_public_key);
    der_wrap(w, DER_SEQUENCE, attr);
}

/* The SAN forms of TS-0003 10.1.4: the AE-ID, CSE-ID or Node-ID, never a wildcard. */
static m2m_rc check_san_form(const char *uri)
{
    static const enum pki_flavour forms[] = {PKI_FLAVOUR_CSE, PKI_FLAVOUR_AE, PKI_FLAVOUR_NODE};
    for (size_t i = 0; i < M2M_ARRAY_LEN(forms); i++)
        if (pki_flavour_check(forms[i], uri) == M2M_OK)
            return M2M_OK;
    return M2M_ERR_MALFORMED;
}

m2m_rc est_csrattrs_der(const char *san_uri, uint8_t *out, size_t cap, size_t *out_len)
{
    m2m_rc rc = M2M_OK;
    ENSURE(san_uri != NULL, M2M_ERR_MALFORMED);
    size_t uri_len = strnlen(san_uri, EST_ID_MAX);
    ENSURE(uri_len > 0 && uri_len < EST_ID_MAX, M2M_ERR_MALFORMED);
    TRY(check_san_form(san_uri));
    struct der_w w = {out, cap, cap, false};
    /* TS-0003 8.3.6.2.2 step 2 and 10.1.4: the challengePassword, the key and signature
     * algorithms, and the identity attribute the MEF associates with the client. Written in
     * reverse order. */
    write_extension_request(&w, san_uri, uri_len);
    der_put(&w, oid_ecdsa_sha256, sizeof oid_ecdsa_sha256);
    write_ec_key_attr(&w);
    der_put(&w, oid_challenge_password, sizeof oid_challenge_password);
    der_wrap(&w, DER_SEQUENCE, 0); /* CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID */
    ENSURE(!w.full, M2M_ERR_LIMIT);
    memmove(out, out + w.pos, cap - w.pos);
    *out_len = cap - w.pos;
out:
    return rc;
}

m2m_rc est_csrattrs(const char *san_uri, struct m2m_buf *out)
{
    uint8_t der[EST_ID_MAX + 96];
    size_t n = 0;
    RETURN_IF_ERR(est_csrattrs_der(san_uri, der, sizeof der, &n));
    return est_b64_encode(der, n, out);
}
