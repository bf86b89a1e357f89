/* credstore.h: the credentials this CSE accepts on its (D)TLS associations and the identities
 * each is bound to (TS-0003 8.2 SAEF, 10.4 Credential-IDs, SPEC-MAP F3/F4/F6/F8): pre-shared keys
 * by PSK identity (KpsaID "relative@issuer-fqdn"), raw public keys by their RFC 6920 "ni" hash of
 * the SubjectPublicKeyInfo. Keys are stored in a file readable only by the service user; they
 * leave this module only into the caller's buffer for the handshake, and are never logged.
 * Thread-safe: TLS/DTLS handshakes on any thread look credentials up concurrently. */
#ifndef M2M_KEYS_CREDSTORE_H
#define M2M_KEYS_CREDSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"
#include "model/prim.h"

#define CRED_PSK_MAX 64 /* bytes of key material */

/* The identity an association made with a credential is bound to (F6): identity is the first
 * (an absolute CSE-ID or AE-ID), bound[] further AE-IDs it may speak for; cred_id is the
 * Credential-ID string carried into m2m_secctx.cred_id. */
struct cred_binding {
    char identity[M2M_ID_MAX];
    char bound[M2M_SEC_MAX_BOUND][M2M_ID_MAX];
    int n_bound;
    char cred_id[M2M_ID_MAX];
};

struct credstore;

/* Opens (creating with mode 0600) the credential database at path. */
M2M_WARN_UNUSED m2m_rc credstore_open(const char *path, struct credstore **out);
/* NULL is a no-op. */
void credstore_close(struct credstore *cs);

/* Looks a PSK up by identity (exactly idlen bytes, no NUL inside). On success copies the key into
 * key[0..*keylen) (*keylen in: capacity, out: length) and fills *b. M2M_ERR_NOT_FOUND when unknown
 * or revoked (the caller fails the handshake). */
M2M_WARN_UNUSED m2m_rc credstore_psk_lookup(struct credstore *cs, const char *identity,
                                            size_t idlen, uint8_t *key, size_t *keylen,
                                            struct cred_binding *b);
/* Looks a raw public key up by its "ni:///sha-256;..." identifier. */
M2M_WARN_UNUSED m2m_rc credstore_rpk_lookup(struct credstore *cs, const char *ni_id,
                                            struct cred_binding *b);
/* True when the Credential-ID names a revoked credential (live sessions using it are ended). */
bool credstore_is_revoked(struct credstore *cs, const char *cred_id);
/* Increments whenever a credential is revoked or changed (also by another process, e.g. the CLI);
 * the transport compares it to end live sessions of revoked credentials. */
uint64_t credstore_generation(struct credstore *cs);

/* ---- administration (extension of the lead's contract above) ----
 * Credential-IDs (TS-0003 10.4, SPEC-MAP N1/N2) are "<sec:credIDTypeID>-<value>":
 *   12-<KpsaID>                 provisioned symmetric key for the SAEF (CRED_TYPE_SAEF_PSK);
 *   30-ni:///sha-256;<b64url>   raw public key used in TLS (CRED_TYPE_RPK);
 *   34-<Node-ID URN>            Node-ID certificate: the AE-IDs it may speak for;
 *   31-<hardware id URN>        device certificate: the same.
 * A credential is never deleted: revoking it clears its key (SQLite secure_delete) and keeps the
 * row so that its identity cannot be provisioned again by mistake. */
#define CRED_TYPE_SAEF_PSK 12
#define CRED_TYPE_DEVICE_CERT 31
#define CRED_TYPE_RPK 30
#define CRED_TYPE_NODE_CERT 34
#define CRED_PSK_MIN 16 /* bytes: 128-bit keys at least */
#define CRED_MAX_BIND (1 + M2M_SEC_MAX_BOUND)

enum cred_kind { CRED_PSK = 1, CRED_RPK = 2, CRED_NODE = 3, CRED_DEVICE = 4 };

/* One credential as `cred list` shows it: never the key, only its length. */
struct cred_info {
    char cred_id[M2M_ID_MAX];
    enum cred_kind kind;
    char name[M2M_ID_MAX]; /* PSK identity, ni identifier or URN */
    size_t key_len;        /* PSK length, 0 for the others and once revoked */
    bool revoked;
    int64_t created_s, revoked_s; /* Unix seconds; revoked_s 0 while active */
    struct cred_binding b;
};

/* TS-0003 10.5 (SPEC-MAP F3): a KpsaID is "<relative>@<issuer FQDN>", the relative part made of
 * letters, digits, '.', '_' and '-', the FQDN of letters, digits, '.' and '-'. */
bool credstore_kpsaid_valid(const char *id, size_t len);
/* An identity a credential may be bound to: an AE-ID stem ("Cae1"), an SP-relative ("/id-in/..")
 * or absolute ("//sp/...") AE-ID or CSE-ID; printable ASCII without spaces or '*'. */
bool credstore_bind_valid(const char *id);

/* Adds a PSK (CRED_PSK_MIN..CRED_PSK_MAX bytes) for identity bound to bind[0..n_bind) (1..
 * CRED_MAX_BIND; bind[0] becomes the identity). cred_id (may be NULL) receives its
 * Credential-ID. M2M_ERR_MALFORMED for a bad identity, key length or binding, M2M_ERR_EXISTS when
 * the identity was ever provisioned, M2M_ERR_IO on database errors. */
M2M_WARN_UNUSED m2m_rc credstore_add_psk(struct credstore *cs, const char *identity,
                                         const uint8_t *key, size_t keylen, const char *const *bind,
                                         int n_bind, char *cred_id, size_t cred_id_len);
/* Adds a raw public key given as a DER SubjectPublicKeyInfo (ECDSA P-256, F8). */
M2M_WARN_UNUSED m2m_rc credstore_add_rpk(struct credstore *cs, const uint8_t *spki, size_t len,
                                         const char *const *bind, int n_bind, char *cred_id,
                                         size_t cred_id_len);
/* Records the AE-IDs a Node-ID (kind CRED_NODE) or device (CRED_DEVICE) certificate with SAN URI
 * urn (starting "urn:") may speak for. The certificate itself is verified by path validation. */
M2M_WARN_UNUSED m2m_rc credstore_add_node(struct credstore *cs, enum cred_kind kind,
                                          const char *urn, const char *const *bind, int n_bind,
                                          char *cred_id, size_t cred_id_len);
/* The binding recorded for a Node-ID/device certificate's URN; M2M_ERR_NOT_FOUND when none,
 * M2M_ERR_DENIED when revoked. */
M2M_WARN_UNUSED m2m_rc credstore_node_lookup(struct credstore *cs, const char *urn,
                                             struct cred_binding *b);
/* Revokes by Credential-ID or, when no credential has that Credential-ID, by name (PSK
 * identity, ni identifier, URN): exactly one credential. M2M_ERR_NOT_FOUND when
 * no such credential; revoking a revoked one is M2M_OK. Takes effect for new handshakes at once
 * and for live sessions at the transport's next generation check. */
M2M_WARN_UNUSED m2m_rc credstore_revoke(struct credstore *cs, const char *id);
/* Calls fn for every credential in Credential-ID order. */
M2M_WARN_UNUSED m2m_rc credstore_list(struct credstore *cs,
                                      void (*fn)(void *ctx, const struct cred_info *ci), void *ctx);

struct tls_cred_hooks;
/* Fills the transport's credential hooks (src/tls/tls.h) with this store. */
void credstore_tls_hooks(struct credstore *cs, struct tls_cred_hooks *out);

#endif
