/* x509_ident.h: the identity a DER X.509 client certificate binds to (SAN URI, dNSName or CN),
 * its Credential-ID and the RFC 6920 name of its public key, as one pure function over peer
 * bytes (no session, no clock, no trust decision). */
#ifndef M2M_TLS_X509_IDENT_H
#define M2M_TLS_X509_IDENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"
#include "model/prim.h"
#include "tls/tls.h"

/* Where the identity was found. */
enum x509_ident_source {
    X509_IDENT_SAN_URI = 1, /* first subjectAltName uniformResourceIdentifier */
    X509_IDENT_SAN_DNS,     /* first subjectAltName dNSName (no URI present) */
    X509_IDENT_CN,          /* subject commonName (no URI and no dNSName present) */
};

#define X509_IDENT_MAX_SAN 64 /* subjectAltName entries scanned; more is M2M_ERR_LIMIT */

struct x509_ident {
    enum x509_ident_source source;
    char identity[M2M_ID_MAX];   /* NUL-terminated printable ASCII, no space, no '*' */
    char cred_id[M2M_ID_MAX];    /* "cert:" + lowercase hex SHA-256 of the whole DER certificate */
    char spki_ni[TLS_NI_ID_MAX]; /* tls_rpk_ni_id of the SubjectPublicKeyInfo, as encoded */
};

/* Extracts the identity of the DER certificate der[0..len) exactly as tls_peer_secctx binds a
 * verified client certificate (TS-0003 8.1.2.5 / 10.1, SPEC-MAP F4/F8):
 *  - the first SAN URI, else the first SAN dNSName, else the subject CN;
 *  - every SAN of a text type (URI, dNSName, rfc822Name) must be 1.. bytes of printable ASCII
 *    without space or '*' (no wildcards, no control characters, no embedded NUL), also the ones
 *    not chosen; so must the CN when it is used.
 * It does NOT verify the chain, validity or key usage: the caller binds the identity only to a
 * certificate GnuTLS has verified. der is peer data: any bytes, len bounded by the caller.
 * Returns M2M_OK and fills *out; on failure *out is zeroed and the code says why:
 *  M2M_ERR_MALFORMED  not a DER certificate GnuTLS accepts, no SAN/CN identity, an unreadable
 *                     SAN or CN, a CN that is not a valid name or does not fit;
 *  M2M_ERR_DENIED     a text SAN breaks the name rules (wildcard, control character, space);
 *  M2M_ERR_LIMIT      a SAN longer than M2M_ID_MAX - 2 bytes or more than X509_IDENT_MAX_SAN
 *                     SANs;
 *  M2M_ERR_NOMEM      GnuTLS could not allocate.
 * der == NULL or len == 0 is M2M_ERR_MALFORMED. */
M2M_WARN_UNUSED m2m_rc x509_ident_from_der(const uint8_t *der, size_t len, struct x509_ident *out);

/* The SubjectPublicKeyInfo of a DER certificate as it is encoded in it: *spki points into der,
 * *spki_len bytes (the complete TLV). A bounded DER walk that trusts no length; it checks the
 * structure only as far as it walks (Certificate, TBSCertificate, optional [0] version, serial,
 * signature, issuer, validity, subject, then a SEQUENCE). M2M_ERR_MALFORMED otherwise. */
M2M_WARN_UNUSED m2m_rc x509_ident_spki(const uint8_t *der, size_t len, const uint8_t **spki,
                                       size_t *spki_len);

/* Human-readable name of a source ("san-uri", "san-dns", "cn"); "?" for anything else. */
const char *x509_ident_source_name(enum x509_ident_source s);

#endif
