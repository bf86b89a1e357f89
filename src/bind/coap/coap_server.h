/* coap_server.h: the CoAP (UDP) and CoAPS (DTLS 1.2) listeners of TS-0008 on one libcoap thread.
 * Each request is mapped with coap_map and handed to an m2m_handler_fn (the CSE pipeline, the
 * same as HTTP); answers that arrive later or from another thread go back to the libcoap thread
 * and leave as separate responses (empty ACK first, RFC 7252 5.2.2). DTLS authenticates clients
 * by PSK (looked up per handshake, TS-0003 10.2.2) or by certificate (the development PKI); a
 * session whose credential is revoked is ended (close_notify, state dropped). Block1 uploads are
 * reassembled here (coap_block1.h) so that the body limit holds while the blocks arrive. */
#ifndef M2M_BIND_COAP_SERVER_H
#define M2M_BIND_COAP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"
#include "keys/credstore.h"
#include "model/prim.h"
#include "tls/tls.h"

struct coap_server_cfg {
    char addr[64];         /* CoAP over UDP: numeric address */
    int port;              /* -1 = off, 0 = ephemeral */
    char saddr[64];        /* CoAPS (DTLS 1.2) */
    int sport;             /* -1 = off, 0 = ephemeral */
    bool trusted;          /* copied to m2m_secctx.trusted_listener for UDP requests */
    bool strusted;         /* ... for DTLS requests */
    size_t max_body;       /* request body bound, enforced per Block1 block, default 1 MiB */
    size_t block1_budget;  /* bytes of Block1 bodies in progress, all peers; default 16 MiB */
    int max_idle_sessions; /* libcoap idle sessions kept, default 1024 */
    int session_timeout_s; /* idle session lifetime, default 300 */
    int max_handshakes;    /* DTLS sessions in handshake at once, default 256 */
    /* Admitted sessions (limits.max_connections / max_connections_per_ip, as over HTTP): a DTLS
     * session is admitted in its PSK or certificate callback, a plain CoAP one at its first
     * request, and holds its slot until libcoap drops it (idle timeout, close, error). Over a
     * limit a DTLS handshake fails and a plain CoAP request is answered 5.03. */
    int max_sessions;        /* total, default 1024; 0 = unlimited */
    int max_sessions_per_ip; /* per IPv4 address or IPv6 /64, 0 = unlimited (default) */
    bool response_options;   /* oneM2M-RSC/RQI/RVI in responses (TS-0008 6.2.4), default true */
    /* DTLS certificates (PEM files); cert_file "" = no certificate suites */
    char cert_file[512], key_file[512], ca_file[512];
    /* The credential database (src/tls/tls.h, credstore_tls_hooks fills it): psk_lookup enables
     * the PSK suites; psk_prefetch (optional) starts fetching a remotely provisioned key, and
     * since libcoap cannot park a handshake, one that has to wait fails and the client's retry
     * finds the key; generation and is_revoked end live DTLS sessions of revoked credentials
     * (checked at most every COAP_REVOKE_CHECK_MS) and refuse their requests meanwhile. */
    struct tls_cred_hooks hooks;
};
#define COAP_REVOKE_CHECK_MS 250
#define COAP_QUOTA_RETRY_S 10 /* Max-Age of the 5.03 answering a plain CoAP session over a limit   \
                               */
void coap_server_cfg_default(struct coap_server_cfg *c);

struct coap_server;

/* Binds the enabled listeners and starts the libcoap thread. fn(hctx, req, reply) is called on
 * that thread for each well-formed request; reply.fn may be called from any thread, before or
 * after fn returns. For a DTLS request req->exporter is set during the call (RFC 5705 on the
 * association, refused without the extended master secret) and cleared when fn returns.
 * M2M_ERR_CONFIG when nothing is enabled, DTLS is unavailable or credentials do not load;
 * M2M_ERR_IO when binding fails. */
M2M_WARN_UNUSED m2m_rc coap_server_start(const struct coap_server_cfg *cfg, m2m_handler_fn fn,
                                         void *hctx, struct coap_server **out);
/* The port bound for UDP (secure = false) or DTLS (secure = true); -1 when off. */
int coap_server_port(const struct coap_server *s, bool secure);
/* Sessions refused so far by max_sessions or max_sessions_per_ip (any thread). */
uint64_t coap_server_refused(const struct coap_server *s);
/* Stops the thread, waits until every request handed to fn has been answered, frees. The
 * handler must still be able to answer (stop the CoAP server before the CSE). NULL is a no-op. */
void coap_server_stop(struct coap_server *s);

#endif
