/* tls.h: TLS server sessions over GnuTLS for the event loops: shared credentials (tls_ctx), one
 * non-blocking session per connection (tls_session), client-certificate identity binding and the
 * RFC 5705 exporter. The loop owns the socket; this module never blocks and never polls. */
#ifndef M2M_TLS_TLS_H
#define M2M_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"
#include "model/prim.h"

/* Credential kinds a context can offer (a bit set). X509 is always on; PSK (TS-0003 8.2.2.1 /
 * 10.2.2) and raw public keys (RFC 7250, TS-0003 8.1.2.5 / 10.1.2) are enabled by the hooks below
 * (a non-NULL psk_lookup / rpk_lookup). */
enum tls_cred_kind {
    TLS_CRED_X509 = 1u << 0,
    TLS_CRED_PSK = 1u << 1,
    TLS_CRED_RPK = 1u << 2,
};

/* The credential database behind PSK and raw-public-key handshakes and live-session revocation,
 * as a small vtable so that this layer never includes src/keys (credstore_tls_hooks fills it).
 * Every function may be called concurrently from any loop thread during a handshake, so it must
 * be fast and must not block on the network.
 *  psk_lookup: resolves a psk_identity (exactly idlen bytes, peer data) to its key
 *    (key[0..*keylen), *keylen in: capacity) and fills the identity binding of `bind` (kind,
 *    identity, bound[], n_bound, cred_id). M2M_ERR_NOT_FOUND for unknown or revoked identities.
 *  rpk_lookup: the same for a raw public key by its RFC 6920 identifier (tls_rpk_ni_id).
 *  node_lookup: for a verified X.509 certificate whose SAN identity is a URN (Node-ID or device
 *    certificate, TS-0003 8.1.2.5): the AE-IDs the credential database lists for it. NOT_FOUND:
 *    the certificate binds to its SAN alone. NULL: never consulted.
 *  generation: a counter that changes whenever a credential changed or was revoked.
 *  is_revoked: true when the Credential-ID names a revoked credential.
 *  psk_prefetch (optional, NULL = never called): remotely provisioned keys (TS-0003 8.3.2.1,
 *    SPEC-MAP G5) are not in the database until fetched from the MEF, and a handshake callback
 *    must not wait on the network. The transport reads the psk_identity from the client's
 *    plaintext flight (TLS 1.2 ClientKeyExchange, TLS 1.3 ClientHello pre_shared_key) before
 *    GnuTLS asks psk_lookup, and calls psk_prefetch on the loop thread. M2M_OK: psk_lookup can
 *    answer now (known, unknown for good, or not fetchable); go on. M2M_ERR_AGAIN: a resolution
 *    was started; the transport parks this handshake (reads nothing more from it; the handshake
 *    timeout keeps running) until wake(wake_arg) is called, exactly once, from any thread (also
 *    before psk_prefetch returned), then resumes it and psk_lookup answers from the result.
 *    wake_arg stays valid until wake was called, even when the connection is gone meanwhile.
 *    Any other code fails the handshake. */
struct tls_cred_hooks {
    void *ctx;
    m2m_rc (*psk_lookup)(void *ctx, const char *identity, size_t idlen, uint8_t *key,
                         size_t *keylen, struct m2m_secctx *bind);
    m2m_rc (*psk_prefetch)(void *ctx, const char *identity, size_t idlen,
                           void (*wake)(void *wake_arg), void *wake_arg);
    m2m_rc (*rpk_lookup)(void *ctx, const char *ni_id, struct m2m_secctx *bind);
    m2m_rc (*node_lookup)(void *ctx, const char *san_id, struct m2m_secctx *bind);
    uint64_t (*generation)(void *ctx);
    bool (*is_revoked)(void *ctx, const char *cred_id);
};

#define TLS_PSK_KEY_MAX 64 /* bytes of PSK the handshake accepts */
#define TLS_NI_ID_MAX 80   /* "ni:///sha-256;" + 43 base64url characters + NUL fits */

/* RFC 6920 section 2 "ni" name of a SubjectPublicKeyInfo (DER) with sha-256 (TS-0003 10.1.2,
 * SPEC-MAP F8): "ni:///sha-256;<base64url without padding of SHA-256(spki)>". M2M_ERR_LIMIT when
 * outlen < TLS_NI_ID_MAX. */
M2M_WARN_UNUSED m2m_rc tls_rpk_ni_id(const uint8_t *spki, size_t len, char *out, size_t outlen);

struct tls_ctx_cfg {
    const char *cert_file; /* PEM server certificate chain (required for X509) */
    const char *key_file;  /* PEM private key */
    const char *ca_file;   /* PEM trust anchors for client certificates; NULL/"" = none requested */
    const char *crl_file;  /* optional PEM CRL; NULL/"" = none */
    bool require_client_cert;
    const char *priorities; /* NULL/"" = TLS_DEFAULT_PRIORITIES */
    unsigned kinds;         /* enum tls_cred_kind bits; 0 = X509 plus whatever the hooks enable */
    struct tls_cred_hooks hooks; /* all NULL: certificates only */
    /* TS-0003 10.2.1 SNI: comma-separated host names (case-insensitive); a ClientHello whose
     * SNI HostName is not among them fails with unrecognized_name; no SNI is accepted.
     * NULL/"" = the dNSName SANs of cert_file plus "localhost". */
    const char *server_names;
    /* The transport's side of hooks.psk_prefetch. When a handshake is about to call
     * psk_prefetch, park_cookie(park_ctx) runs on the thread of tls_handshake and returns the
     * transport's cookie for that handshake; park_notify(cookie) is then called exactly once,
     * from any thread: when the hook's wake comes, or at once when the hook did not park. While
     * a session is parked tls_handshake answers M2M_ERR_AGAIN without touching the socket and
     * tls_wants_write is false; the next call after the wake resumes it. NULL park_cookie: no
     * notification (the caller polls tls_handshake). */
    void *(*park_cookie)(void *park_ctx);
    void (*park_notify)(void *cookie);
    void *park_ctx;
};

/* The default priority string, see tls.c for the reasoning. */
extern const char TLS_DEFAULT_PRIORITIES[];

struct tls_ctx;
struct tls_session;

/* Loads the credentials. M2M_ERR_CONFIG for unreadable files or a bad priority string (the
 * failing part is logged). The context is immutable and shared by every loop thread. */
M2M_WARN_UNUSED m2m_rc tls_ctx_new(const struct tls_ctx_cfg *cfg, struct tls_ctx **out);
/* NULL is a no-op. Every session created from it must be freed first. */
void tls_ctx_free(struct tls_ctx *ctx);

/* A server session on a connected non-blocking socket fd (not owned). */
M2M_WARN_UNUSED m2m_rc tls_session_new(struct tls_ctx *ctx, int fd, struct tls_session **out);
/* NULL is a no-op. Does not close fd. */
void tls_session_free(struct tls_session *s);

/* Drives the handshake. M2M_OK when complete, M2M_ERR_AGAIN when it waits for the socket
 * (tls_wants_write says which direction), M2M_ERR_TLS on failure, including a client certificate
 * that does not verify (TS-0003 8.1.2.5: failure aborts the handshake), M2M_ERR_CLOSED on EOF. */
M2M_WARN_UNUSED m2m_rc tls_handshake(struct tls_session *s);
/* After M2M_ERR_AGAIN: true when the session waits for the socket to become writable. */
bool tls_wants_write(const struct tls_session *s);

/* Reads application data. *n > 0 with M2M_OK; M2M_ERR_AGAIN, M2M_ERR_CLOSED (close_notify or EOF),
 * M2M_ERR_TLS. */
M2M_WARN_UNUSED m2m_rc tls_read(struct tls_session *s, uint8_t *buf, size_t cap, size_t *n);
/* Writes up to len bytes; *n says how many were consumed. After M2M_ERR_AGAIN the caller must
 * retry with the same data at the same position (it may have grown at the end). */
M2M_WARN_UNUSED m2m_rc tls_write(struct tls_session *s, const uint8_t *buf, size_t len, size_t *n);
/* Decrypted bytes buffered inside the session (read them before waiting on the socket). */
size_t tls_pending(struct tls_session *s);
/* Sends close_notify without waiting for the peer's; best effort, never blocks. */
void tls_bye(struct tls_session *s);

/* After the handshake, the security context of the association (TS-0003 8.2.1, SPEC-MAP F6):
 *  - PSK (TLS 1.2 PSK/ECDHE-PSK or TLS 1.3 external PSK): M2M_SEC_TLS_PSK with the identity,
 *    bound[] and cred_id ("12-<KpsaID>") that psk_lookup returned for the psk_identity;
 *  - raw public key: M2M_SEC_TLS_RPK with rpk_lookup's binding (cred_id "30-ni:///sha-256;...");
 *  - X.509: M2M_SEC_TLS_CERT with the verified identity (first SAN URI, else first SAN dNSName,
 *    else CN; any SAN holding '*' is refused, F8) and cred_id "cert:" + lowercase SHA-256 hex of
 *    the DER certificate, or the node_lookup binding for a URN identity;
 *  - no client credential: M2M_SEC_TLS with empty identity.
 * Fills kind, identity, bound[], n_bound and cred_id; leaves the rest alone. M2M_ERR_DENIED when
 * the credential no longer resolves (revoked meanwhile). */
M2M_WARN_UNUSED m2m_rc tls_peer_secctx(struct tls_session *s, struct m2m_secctx *sec);

/* The credential kind the handshake used (TLS_CRED_X509 also when the client sent none). */
enum tls_cred_kind tls_session_cred_kind(const struct tls_session *s);

/* RFC 5705 keying material exporter (no context value). M2M_ERR_TLS before the handshake.
 * Not thread-safe: call it on the thread that owns the session (see srv_tls_export). The output
 * depends on the extended master secret (RFC 7627) in TLS 1.2 and uses the exporter master
 * secret in TLS 1.3 (RFC 8446 7.5); docs/DECISIONS.md. */
M2M_WARN_UNUSED m2m_rc tls_export(struct tls_session *s, const char *label, size_t label_len,
                                  uint8_t *out, size_t len);
/* The same with a context value (RFC 5705 section 4; in TLS 1.3 an empty context differs from
 * none). */
M2M_WARN_UNUSED m2m_rc tls_export_ctx(struct tls_session *s, const char *label, size_t label_len,
                                      const uint8_t *context, size_t context_len, uint8_t *out,
                                      size_t len);
/* True when TLS 1.2 negotiated the extended master secret (always true for TLS 1.3). */
bool tls_session_ems(struct tls_session *s);

/* Negotiated protocol version name ("TLS1.3"...), for logs and tests. */
const char *tls_version_name(struct tls_session *s);

#endif
