/* x509_ident.c: the identity, Credential-ID and public-key ni name of a DER X.509 certificate
 * (SPEC-MAP F4/F8), the rules of tls.c's client-certificate binding as a pure function. */
#include "tls/x509_ident.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

const char *x509_ident_source_name(enum x509_ident_source s)
{
    switch (s) {
    case X509_IDENT_SAN_URI: return "san-uri";
    case X509_IDENT_SAN_DNS: return "san-dns";
    case X509_IDENT_CN: return "cn";
    }
    return "?";
}

/* One DER TLV header at in[*pos..end): single-byte tag, definite length in at most 4 length
 * bytes (X.690 8.1.3; DER forbids the indefinite form). On success *pos is the first content
 * byte and *clen the content length, which fits before end. */
static m2m_rc der_header(const uint8_t *in, size_t end, size_t *pos, uint8_t *tag, size_t *clen)
{
    size_t p = *pos;
    if (end - p < 2 || (in[p] & 0x1f) == 0x1f)
        return M2M_ERR_MALFORMED;
    *tag = in[p++];
    size_t n = in[p++];
    if (n & 0x80) {
        size_t nb = n & 0x7f;
        if (nb == 0 || nb > 4 || end - p < nb)
            return M2M_ERR_MALFORMED;
        n = 0;
        for (size_t i = 0; i < nb; i++)
            n = n << 8 | in[p++];
    }
    if (n > end - p)
        return M2M_ERR_MALFORMED;
    *pos = p;
    *clen = n;
    return M2M_OK;
}

/* Steps over the whole TLV at *pos; *tag receives its tag. */
static m2m_rc der_skip(const uint8_t *in, size_t end, size_t *pos, uint8_t *tag)
{
    size_t clen = 0;
    m2m_rc rc = der_header(in, end, pos, tag, &clen);
    if (rc == M2M_OK)
        *pos += clen;
    return rc;
}

/* RFC 5280 4.1: Certificate ::= SEQUENCE { tbsCertificate, ... }; TBSCertificate ::= SEQUENCE {
 * version [0] EXPLICIT OPTIONAL, serialNumber INTEGER, signature AlgorithmIdentifier, issuer Name,
 * validity Validity, subject Name, subjectPublicKeyInfo SEQUENCE, ... }. */
m2m_rc x509_ident_spki(const uint8_t *der, size_t len, const uint8_t **spki, size_t *spki_len)
{
    static const uint8_t want[] = {0x02, 0x30, 0x30, 0x30, 0x30};
    size_t pos = 0, clen = 0, end = len;
    uint8_t tag = 0;
    if (der == NULL || len == 0)
        return M2M_ERR_MALFORMED;
    if (der_header(der, end, &pos, &tag, &clen) != M2M_OK || tag != 0x30)
        return M2M_ERR_MALFORMED;
    end = pos + clen;
    if (der_header(der, end, &pos, &tag, &clen) != M2M_OK || tag != 0x30)
        return M2M_ERR_MALFORMED;
    end = pos + clen;
    if (pos < end && der[pos] == 0xa0 && der_skip(der, end, &pos, &tag) != M2M_OK)
        return M2M_ERR_MALFORMED;
    for (size_t i = 0; i < sizeof want; i++)
        if (pos >= end || der_skip(der, end, &pos, &tag) != M2M_OK || tag != want[i])
            return M2M_ERR_MALFORMED;
    size_t start = pos;
    if (pos >= end || der_skip(der, end, &pos, &tag) != M2M_OK || tag != 0x30)
        return M2M_ERR_MALFORMED;
    *spki = der + start;
    *spki_len = pos - start;
    return M2M_OK;
}

/* tls.c name_ok: a name out of GnuTLS must be printable ASCII: no embedded NUL (a SAN of "a\0b"
 * must not bind as "a"), no control characters, no spaces. TS-0003 8.1.2.5 / SPEC-MAP F8: no
 * wildcards in CSE-ID, AE-ID, Node-ID or FQDN certificates, so a '*' anywhere refuses the name. */
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

/* tls.c san_pick: scans every SAN: all text ones must pass name_ok (a wildcard in any entry
 * refuses the certificate, exact matching only); the first entry of type want goes to out
 * (M2M_ERR_NOT_FOUND when there is none). */
static m2m_rc san_pick(gnutls_x509_crt_t crt, int want, char *out, size_t outlen)
{
    char buf[M2M_ID_MAX];
    bool found = false;
    for (unsigned seq = 0; seq < X509_IDENT_MAX_SAN; seq++) {
        size_t size = sizeof buf - 1;
        unsigned critical = 0;
        int t = gnutls_x509_crt_get_subject_alt_name(crt, seq, buf, &size, &critical);
        if (t == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            return found ? M2M_OK : M2M_ERR_NOT_FOUND;
        if (t == GNUTLS_E_SHORT_MEMORY_BUFFER)
            return M2M_ERR_LIMIT; /* longer than any identity we can carry: be strict */
        if (t < 0)
            return M2M_ERR_MALFORMED;
        bool text = t == GNUTLS_SAN_URI || t == GNUTLS_SAN_DNSNAME || t == GNUTLS_SAN_RFC822NAME;
        if (text && !name_ok(buf, size))
            return M2M_ERR_DENIED;
        if (t == want && !found) {
            snprintf(out, outlen, "%.*s", (int)size, buf);
            found = true;
        }
    }
    return M2M_ERR_LIMIT;
}

/* TS-0003 8.1.2.5 / 10.1: the identity of a certificate is in its subjectAltName: a URI for an
 * AE-ID, CSE-ID or Node-ID, a dNSName for a CSE's domain name or an FQDN. The CN is a last resort
 * for legacy certificates without either. */
static m2m_rc cert_identity(gnutls_x509_crt_t crt, struct x509_ident *out)
{
    char buf[M2M_ID_MAX];
    out->source = X509_IDENT_SAN_URI;
    m2m_rc rc = san_pick(crt, GNUTLS_SAN_URI, out->identity, sizeof out->identity);
    if (rc != M2M_ERR_NOT_FOUND)
        return rc;
    out->source = X509_IDENT_SAN_DNS;
    rc = san_pick(crt, GNUTLS_SAN_DNSNAME, out->identity, sizeof out->identity);
    if (rc != M2M_ERR_NOT_FOUND)
        return rc;
    out->source = X509_IDENT_CN;
    size_t size = sizeof buf - 1;
    int r = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &size);
    /* GnuTLS returns the CN RFC 4514-escaped ("a\\,b"); a value it cannot render as a string (an
     * embedded NUL, a non-string type) comes back as "#" + hex DER, which name_ok would pass:
     * refused, as the NUL rule demands (a literal leading '#' is escaped as "\\#"). */
    if (r < 0 || !name_ok(buf, size) || buf[0] == '#')
        return M2M_ERR_MALFORMED;
    snprintf(out->identity, sizeof out->identity, "%.*s", (int)size, buf);
    return M2M_OK;
}

/* tls_peer_secctx's Credential-ID of a certificate: "cert:" + lowercase hex SHA-256 of the DER. */
static m2m_rc cert_cred_id(const uint8_t *der, size_t len, char *out, size_t outlen)
{
    uint8_t md[32];
    if (outlen < 5 + 2 * sizeof md + 1)
        return M2M_ERR_LIMIT;
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, md) < 0)
        return M2M_ERR_INTERNAL;
    memcpy(out, "cert:", 5);
    for (size_t i = 0; i < sizeof md; i++)
        snprintf(out + 5 + 2 * i, 3, "%02x", md[i]);
    return M2M_OK;
}

m2m_rc x509_ident_from_der(const uint8_t *der, size_t len, struct x509_ident *out)
{
    m2m_rc rc = M2M_OK;
    gnutls_x509_crt_t crt = NULL;
    const uint8_t *spki = NULL;
    size_t spki_len = 0;
    gnutls_datum_t d = {(unsigned char *)der, (unsigned)len};
    memset(out, 0, sizeof *out);
    ENSURE(der != NULL && len > 0 && len <= UINT32_MAX, M2M_ERR_MALFORMED);
    ENSURE(gnutls_x509_crt_init(&crt) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) >= 0, M2M_ERR_MALFORMED);
    TRY(cert_identity(crt, out));
    TRY(x509_ident_spki(der, len, &spki, &spki_len));
    TRY(tls_rpk_ni_id(spki, spki_len, out->spki_ni, sizeof out->spki_ni));
    TRY(cert_cred_id(der, len, out->cred_id, sizeof out->cred_id));
out:
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (rc != M2M_OK)
        memset(out, 0, sizeof *out);
    return rc;
}
