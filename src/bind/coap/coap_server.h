/* coap_server.h: the CoAP (UDP) and CoAPS (DTLS 1.2) listeners of TS-0008 on one libcoap thread.
 * Each request is mapped with coap_map and handed to an m2m_handler_fn (the CSE pipeline, the
 * same as HTTP); answers that arrive later or from another thread go back to the libcoap thread
 * and leave as separate responses (empty ACK first, RFC 7252 5.2.2). DTLS authenticates clients
 * by PSK (looked up per handshake, TS-0003 10.2.2) or by certificate (the development PKI). */
#ifndef M2M_BIND_COAP_SERVER_H
#define M2M_BIND_COAP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"
#include "keys/credstore.h"
#include "model/prim.h"

/* Resolves a PSK identity for a DTLS handshake: the contract of credstore_psk_lookup (ctx is the
 * credential store). M2M_OK fills key[0..*keylen) and *b; anything else fails the handshake. */
typedef m2m_rc (*coap_psk_lookup_fn)(void *ctx, const char *identity, size_t idlen, uint8_t *key,
                                     size_t *keylen, struct cred_binding *b);
/* True when a Credential-ID was revoked after the association was made (credstore_is_revoked). */
typedef bool (*coap_revoked_fn)(void *ctx, const char *cred_id);

struct coap_server_cfg {
    char addr[64];         /* CoAP over UDP: numeric address */
    int port;              /* -1 = off, 0 = ephemeral */
    char saddr[64];        /* CoAPS (DTLS 1.2) */
    int sport;             /* -1 = off, 0 = ephemeral */
    bool trusted;          /* copied to m2m_secctx.trusted_listener for UDP requests */
    bool strusted;         /* ... for DTLS requests */
    size_t max_body;       /* request body bound after Block1 reassembly, default 1 MiB */
    int max_idle_sessions; /* libcoap idle sessions kept, default 1024 */
    int session_timeout_s; /* idle session lifetime, default 300 */
    int max_handshakes;    /* DTLS sessions in handshake at once, default 256 */
    bool response_options; /* oneM2M-RSC/RQI/RVI in responses (TS-0008 6.2.4), default true */
    /* DTLS certificates (PEM files); cert_file "" = no certificate suites */
    char cert_file[512], key_file[512], ca_file[512];
    coap_psk_lookup_fn psk_lookup; /* NULL = no PSK suites */
    coap_revoked_fn is_revoked;    /* may be NULL */
    void *psk_ctx;
};
void coap_server_cfg_default(struct coap_server_cfg *c);

struct coap_server;

/* Binds the enabled listeners and starts the libcoap thread. fn(hctx, req, reply) is called on
 * that thread for each well-formed request; reply.fn may be called from any thread, before or
 * after fn returns. M2M_ERR_CONFIG when nothing is enabled, DTLS is unavailable or credentials do
 * not load; M2M_ERR_IO when binding fails. */
M2M_WARN_UNUSED m2m_rc coap_server_start(const struct coap_server_cfg *cfg, m2m_handler_fn fn,
                                         void *hctx, struct coap_server **out);
/* The port bound for UDP (secure = false) or DTLS (secure = true); -1 when off. */
int coap_server_port(const struct coap_server *s, bool secure);
/* Stops the thread, waits until every request handed to fn has been answered, frees. The
 * handler must still be able to answer (stop the CoAP server before the CSE). NULL is a no-op. */
void coap_server_stop(struct coap_server *s);

#endif
