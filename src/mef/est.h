/* est.h: the EST registration authority of the MEF (RFC 7030; TS-0003 8.3.6.2, 10.1.4; SPEC-MAP
 * G7): builds the /cacerts and /csrattrs answers, checks a PKCS#10 request against the identity
 * the MEF associates with the client and the TLS channel binding, and issues the certificate
 * from the MEF CA. No sockets, no clock (the caller passes now), no database: the MEF server
 * (src/mef/mef_server.c) feeds it what the TLS session and the store say. Wire format: bodies
 * are base64 (RFC 4648, line breaks allowed on input, none on output) of DER, as RFC 7030 4.1.3,
 * 4.2.1, 4.2.3 and 4.5.2 specify (Content-Transfer-Encoding: base64). */
#ifndef M2M_MEF_EST_H
#define M2M_MEF_EST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/rc.h"

#define EST_BODY_MAX (16 * 1024) /* bytes of base64 accepted for a PKCS#10 request */
#define EST_CB_LEN 32            /* RFC 9266 tls-exporter channel binding length */
#define EST_CB_LABEL "EXPORTER-Channel-Binding"
#define EST_ID_MAX 256

/* The MEF CA: certificate and private key (ECDSA P-256), loaded once, immutable, shared by
 * every thread. */
struct est_ca;

/* Loads the CA from PEM files. M2M_ERR_CONFIG when unreadable or not a P-256 CA. */
M2M_WARN_UNUSED m2m_rc est_ca_load(const char *cert_file, const char *key_file,
                                   struct est_ca **out);
/* NULL is a no-op; wipes the key. */
void est_ca_free(struct est_ca *ca);

/* GET /cacerts (RFC 7030 4.1.3): appends to out the base64 of a degenerate PKCS#7 SignedData
 * (certs-only) holding the CA certificate. */
M2M_WARN_UNUSED m2m_rc est_cacerts(const struct est_ca *ca, struct m2m_buf *out);

/* GET /csrattrs (RFC 7030 4.5.2, TS-0003 8.3.6.2.2 step 2, 10.1.4): appends the base64 of a
 * CsrAttrs SEQUENCE with: the challengePassword OID (1.2.840.113549.1.9.7), the attribute
 * ecPublicKey (1.2.840.10045.2.1) with secp256r1 (1.2.840.10045.3.1.7), ecdsa-with-SHA256
 * (1.2.840.10045.4.3.2), and an extensionRequest (1.2.840.113549.1.9.14) attribute holding a
 * subjectAltName extension with san_uri as its single URI: the identity the CSR must name. */
M2M_WARN_UNUSED m2m_rc est_csrattrs(const char *san_uri, struct m2m_buf *out);

/* An enrolment request as the MEF server hands it over. */
struct est_enroll_req {
    const uint8_t *body; /* request body as received: base64 PKCS#10 (peer data) */
    size_t body_len;
    const char *const *allowed_ids; /* SAN URIs the client may request (8.3.6.2.2 step 3.c:
                                       the identity associated with the MEF Client) */
    int n_allowed;
    const uint8_t *cb; /* tls-exporter channel binding of the carrying session */
    size_t cb_len;     /* EST_CB_LEN */
    /* /simplereenroll (RFC 7030 4.2.2): the DER of the certificate the client authenticated
     * with, which this CA must have issued; the CSR must carry its subject and SAN. NULL for
     * /simpleenroll. */
    const uint8_t *current_cert;
    size_t current_cert_len;
    int days;      /* validity of the new certificate, > 0 */
    int64_t now_s; /* Unix seconds: notBefore */
};

/* The outcome of est_enroll for the HTTP answer. */
struct est_result {
    int http_status;      /* 200 on success; 400, 403 or 500 otherwise */
    char error[128];      /* one line for the HTTP body and the log ("" on success) */
    char san[EST_ID_MAX]; /* the identity certified */
    char serial_hex[41];  /* serial of the new certificate, lower-case hex */
    char fingerprint[65]; /* SHA-256 of the new certificate DER, lower-case hex */
};

/* POST /simpleenroll and /simplereenroll (RFC 7030 4.2): decodes and checks the PKCS#10 request
 * (base64 and DER bounded; signature verifies; key ECDSA P-256; exactly one SAN URI, equal to
 * one of allowed_ids, no wildcard; challengePassword present and equal to base64(cb) compared in
 * constant time; for re-enrolment the same subject/SAN as current_cert and current_cert issued by
 * this CA), then issues a certificate (P-256/SHA-256, random 16-byte serial, basicConstraints
 * CA:false, keyUsage digitalSignature, EKU clientAuth+serverAuth, SAN URI, subject CN = SAN) and
 * appends the base64 of a certs-only PKCS#7 holding it to out. res is always filled:
 *  M2M_OK (200); M2M_ERR_MALFORMED (400: base64/DER/signature/key type/SAN form);
 *  M2M_ERR_DENIED (403: identity or challengePassword mismatch, foreign current certificate);
 *  M2M_ERR_INTERNAL (500). Nothing is appended to out on failure. */
M2M_WARN_UNUSED m2m_rc est_enroll(const struct est_ca *ca, const struct est_enroll_req *req,
                                  struct m2m_buf *out, struct est_result *res);

/* POST /serverkeygen (RFC 7030 4.4; TS-0003 8.3.6.2.1): the request is checked exactly as by
 * est_enroll for /simpleenroll (req->current_cert must be NULL: M2M_ERR_INTERNAL otherwise); the
 * CSR's key only proves that the request is well formed (RFC 7030 4.4.1: any key the client
 * holds). Then a fresh P-256 key pair is generated, the certificate of est_enroll's profile is
 * issued for its public key with the CSR's SAN, and out receives the whole multipart/mixed body
 * of RFC 7030 4.4.2: a part "application/pkcs8" (base64 of the unencrypted PKCS#8 DER private
 * key) then a part "application/pkcs7-mime; smime-type=certs-only" (base64 certs-only PKCS#7),
 * each with "Content-Transfer-Encoding: base64", CRLF line ends. ctype (cap >= EST_CTYPE_MAX)
 * receives the Content-Type of the answer, "multipart/mixed; boundary=<random>". out is reserved
 * once at its final size (no reallocation leaves a copy of the key behind); the caller must
 * m2m_wipe(out->data, out->cap) before m2m_buf_free. Every other copy of the key is wiped here.
 * Results and res as est_enroll; nothing is appended to out on failure. */
#define EST_CTYPE_MAX 96
M2M_WARN_UNUSED m2m_rc est_serverkeygen(const struct est_ca *ca, const struct est_enroll_req *req,
                                        struct m2m_buf *out, char *ctype, size_t ctype_cap,
                                        struct est_result *res);

/* The checks of est_enroll up to (not including) issuing, on a DER PKCS#10: used by the fuzz
 * target and by the client library's self-check. san/cap receive the SAN URI, challenge/chcap
 * the challengePassword (both NUL-terminated). M2M_ERR_MALFORMED: DER (trailing bytes included),
 * a duplicated challengePassword/extensionRequest attribute or SAN extension, signature algorithm
 * other than ecdsa-with-SHA256, key not P-256, bad self-signature, SAN not exactly one URI of an
 * AE-ID/CSE-ID/Node-ID form or not fitting cap; M2M_ERR_DENIED: challengePassword absent or not
 * fitting chcap; M2M_ERR_INTERNAL: NULL or empty output buffers. */
M2M_WARN_UNUSED m2m_rc est_csr_check_der(const uint8_t *der, size_t len, char *san, size_t cap,
                                         char *challenge, size_t chcap);

/* Base64 of RFC 4648 section 4 (standard alphabet, '=' padding required) for the EST bodies.
 * est_b64_decode decodes peer data: CR, LF and space are skipped anywhere (RFC 7030 4.1.3 allows
 * line breaks); any other byte outside the alphabet, padding before the end, a missing or excess
 * '=', or non-zero bits in the last group's padding are M2M_ERR_MALFORMED. Writes at most cap
 * bytes to out (M2M_ERR_LIMIT when more would be needed; nothing is read past in + len) and sets
 * *out_len. est_b64_encode appends the encoding of in to out on one line (no CR/LF), nothing on
 * failure (M2M_ERR_LIMIT / M2M_ERR_NOMEM from the buffer). */
M2M_WARN_UNUSED m2m_rc est_b64_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                                      size_t *out_len);
M2M_WARN_UNUSED m2m_rc est_b64_encode(const uint8_t *in, size_t len, struct m2m_buf *out);

/* The CsrAttrs DER that est_csrattrs encodes (before base64), written to out (cap bytes; the
 * value needs at most EST_ID_MAX + 96 bytes). san_uri must be an AE-ID, CSE-ID or Node-ID URI
 * form (pki_flavour_check), without '*': M2M_ERR_MALFORMED otherwise; M2M_ERR_LIMIT when cap is
 * too small. */
M2M_WARN_UNUSED m2m_rc est_csrattrs_der(const char *san_uri, uint8_t *out, size_t cap,
                                        size_t *out_len);

#endif
