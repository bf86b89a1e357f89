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

/* Credential kinds a context can offer (a bit set). Only X509 is implemented; PSK (TS-0003
 * 8.2.2.1 / 10.2.2) and raw public keys (RFC 7250, TS-0003 10.2.3) come with the SAEF issue. */
enum tls_cred_kind {
    TLS_CRED_X509 = 1u << 0,
    TLS_CRED_PSK = 1u << 1, /* reserved: resolved through tls_psk_lookup_fn */
    TLS_CRED_RPK = 1u << 2, /* reserved */
};

struct m2m_secret;
/* Reserved hook for the PSK SAEF: resolves a psk_identity (TS-0003 10.5 KpsaID or a MAF key
 * identifier) to the key and the identity it binds. Not called yet. */
typedef m2m_rc (*tls_psk_lookup_fn)(void *ctx, const uint8_t *identity, size_t identity_len,
                                    struct m2m_secret **key, char *bound_id, size_t bound_len);

struct tls_ctx_cfg {
    const char *cert_file; /* PEM server certificate chain (required for X509) */
    const char *key_file;  /* PEM private key */
    const char *ca_file;   /* PEM trust anchors for client certificates; NULL/"" = none requested */
    const char *crl_file;  /* optional PEM CRL; NULL/"" = none */
    bool require_client_cert;
    const char *priorities;       /* NULL/"" = TLS_DEFAULT_PRIORITIES */
    unsigned kinds;               /* enum tls_cred_kind bits; 0 = TLS_CRED_X509 */
    tls_psk_lookup_fn psk_lookup; /* reserved */
    void *psk_ctx;
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

/* After the handshake: M2M_SEC_TLS or M2M_SEC_TLS_CERT with the verified identity (first SAN
 * URI, else first SAN dNSName, else CN) and cred_id "cert:" + lowercase SHA-256 hex of the DER
 * certificate. Fills kind, identity and cred_id of sec; leaves the rest alone. */
M2M_WARN_UNUSED m2m_rc tls_peer_secctx(struct tls_session *s, struct m2m_secctx *sec);

/* RFC 5705 keying material exporter (no context value). M2M_ERR_TLS before the handshake. */
M2M_WARN_UNUSED m2m_rc tls_export(struct tls_session *s, const char *label, size_t label_len,
                                  uint8_t *out, size_t len);

/* Negotiated protocol version name ("TLS1.3"...), for logs and tests. */
const char *tls_version_name(struct tls_session *s);

#endif
