/* credadmin.h: the credential administration resource <CSEBase>/_cred (SPEC-MAP F3-F8 admin
 * requests): list, read, provision and revoke SAEF credentials through oneM2M requests instead of
 * the `m2msec cred` CLI, for the admin originator over an association that authenticates it.
 *
 * Requests (To relative to the CSEBase; the admin resource is virtual, "_" never starts a
 * resourceName so it shadows nothing):
 *   RETRIEVE _cred        -> 2000 {"m2m:credl":[<cred>...]} in Credential-ID order
 *   RETRIEVE _cred/<ref>  -> 2000 {"sec:cred":<cred>}; 4004 when no such credential
 *   CREATE   _cred, ty=CREDADMIN_TY, body {"sec:cred":{"kind":"psk","identity":KpsaID,
 *            "key":"<base64>","bind":[ID...]}} | {"kind":"rpk","spki":"<base64 DER>","bind":[..]}
 *            | {"kind":"node"|"device","urn":"urn:...","bind":[..]}
 *            -> 2001 {"sec:cred":<cred>} (Content-Location _cred/<ref>); 4105 when the name was
 *            ever provisioned; 4000 for a malformed body
 *   DELETE   _cred/<ref>  -> 2002: revokes (the key is erased, the row stays; live sessions
 *            using it end at the transports' next generation check); 4004 when unknown;
 *            4105 when the database offers no way to revoke it without also revoking another
 *            credential whose name is its Credential-ID and whose Credential-ID is its name
 *   anything else         -> 4005
 * <cred> = {"credID","ref","kind","name","bind":[..],"keyLen","revoked","created"
 * [,"revokedAt"]}: never key bytes. <ref> is the Credential-ID or the name (PSK identity, ni
 * identifier, URN) when it holds no '/', else "@" + base64url(Credential-ID) (the "ref" member
 * of <cred>), because To cannot carry a '/' inside one path segment. A <ref> is looked up among
 * the Credential-IDs first and only then among the names, so a name that spells another
 * credential's Credential-ID never shadows it.
 *
 * Access: only the configured admin originator (cse.admin), and only when the pipeline counted
 * it authenticated (q->authn: a TLS/DTLS association whose certificate or PSK is bound to the
 * admin identity, or a listener configured trusted). Anything else is answered 4103 before the
 * credential database is touched, and audited. Successful changes are audited with the
 * Credential-ID only. Keys from the request body are wiped after use and never logged. */
#ifndef M2M_CSE_CREDADMIN_H
#define M2M_CSE_CREDADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"
#include "keys/credstore.h"

#define CREDADMIN_TY 906        /* private resource type of a CREATE on _cred */
#define CREDADMIN_SPKI_MAX 1024 /* bytes of DER SubjectPublicKeyInfo accepted */
#define CREDADMIN_BODY_MAX 8192 /* bytes of request body accepted */

/* A CREATE body after parsing. Secrets (key) are wiped by credadmin_new_clear. */
struct credadmin_new {
    enum cred_kind kind;
    char name[M2M_ID_MAX]; /* PSK identity or URN; "" for rpk */
    uint8_t key[CRED_PSK_MAX];
    size_t key_len;
    uint8_t spki[CREDADMIN_SPKI_MAX];
    size_t spki_len;
    char bind[CRED_MAX_BIND][M2M_ID_MAX];
    int n_bind;
};

/* Parses the JSON body of a CREATE on _cred (exactly len bytes of peer data; nesting bounded by
 * max_depth). Checks the shape only: one member "sec:cred" holding an object with a known
 * "kind", the members that kind needs (strings; key/spki valid base64), and 1..CRED_MAX_BIND
 * bind strings, and no other member. The credential store validates the values themselves.
 * M2M_ERR_MALFORMED (why says which part) or M2M_ERR_LIMIT for oversized parts; *out is always
 * left cleared or filled, so credadmin_new_clear(out) is always safe. Wipes the copy of the key
 * inside the parsed tree before freeing it. */
M2M_WARN_UNUSED m2m_rc credadmin_parse(const uint8_t *in, size_t len, int max_depth,
                                       struct credadmin_new *out, char *why, size_t whylen);
/* Wipes the key material. NULL is a no-op. */
void credadmin_new_clear(struct credadmin_new *n);

/* Standard base64 (RFC 4648 section 4, '=' padding optional, no whitespace) of exactly len bytes
 * into out[0..cap). M2M_ERR_MALFORMED for an invalid character, bad padding or non-zero trailing
 * bits; M2M_ERR_LIMIT when the result does not fit. */
M2M_WARN_UNUSED m2m_rc credadmin_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap,
                                            size_t *outlen);

/* The path-safe reference of a Credential-ID (see above) into out (NUL-terminated).
 * M2M_ERR_LIMIT when it does not fit. */
M2M_WARN_UNUSED m2m_rc credadmin_ref_encode(const char *cred_id, char *out, size_t outlen);
/* The reverse: "@<base64url>" decodes to the Credential-ID, anything else is taken as it is (a
 * Credential-ID or a name). M2M_ERR_MALFORMED for a bad encoding, an empty reference or one
 * holding a NUL or control character; M2M_ERR_LIMIT when it does not fit. */
M2M_WARN_UNUSED m2m_rc credadmin_ref_decode(const char *ref, char *out, size_t outlen);

struct rq;
/* Serves one request addressed to <CSEBase>/_cred (ref "") or <CSEBase>/_cred/<ref>; called by
 * the pipeline after the identity checks, with the tree locked as for any request (CREATE and
 * DELETE run on the writer thread). Opens the credential database named by the configuration
 * (credentials.path, else DATA_DIR/credentials.db) for the request; its changes are committed
 * before the answer. Always fills q->resp. */
void credadmin_handle(struct rq *q, const char *ref);

#endif
