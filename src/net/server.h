/* server.h: the network transport. Event-loop threads own sockets and GnuTLS sessions, frame
 * HTTP/1.1 with the http binding, and hand each request primitive to one handler. The handler
 * answers exactly once with srv_respond(), from any thread, at any later time; responses on a
 * connection are sent in request order (pipelining). */
#ifndef M2M_NET_SERVER_H
#define M2M_NET_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/rc.h"
#include "bind/http/http.h"
#include "model/prim.h"
#include "tls/tls.h"

#define SRV_MAX_LISTENERS 8

struct srv_listener_cfg {
    char addr[64]; /* numeric IPv4/IPv6 address */
    int port;      /* 0 = ephemeral; the bound port is reported by srv_bound_port */
    bool tls;      /* HTTPS */
    bool trusted;  /* copied to m2m_secctx.trusted_listener */
};

struct srv_tls_cfg {
    char cert_file[512];      /* PEM server certificate chain */
    char key_file[512];       /* PEM private key */
    char ca_file[512];        /* PEM trust anchors for client certificates ("" = do not request) */
    char crl_file[512];       /* optional PEM CRL */
    bool require_client_cert; /* false: request but do not require */
    char priorities[256];     /* GnuTLS priority string; "" = the default of tls.c */
    /* TS-0003 10.2.1 SNI: comma-separated host names this server answers for; a ClientHello
     * whose SNI HostName is not among them fails with unrecognized_name. "" = the dNSName SANs
     * of cert_file plus "localhost". A ClientHello without SNI is accepted. */
    char server_names[512];
    /* Credential database for the PSK and raw-public-key SAEFs and for ending live sessions of
     * revoked credentials (checked every SRV tick, 250 ms); all NULL = certificates only. */
    struct tls_cred_hooks creds;
};

struct srv_exchange;

/* A request on a raw route: an HTTP request handed over unmapped (the MEF's EST interface, RFC
 * 7030, is plain HTTP, not a oneM2M primitive). Pointers are valid until srv_respond_raw. */
struct srv_raw_request {
    const char *method;       /* NUL-terminated */
    const char *path;         /* percent-decoded path without the query, NUL-terminated */
    const char *query;        /* raw query without '?', "" when none */
    const char *content_type; /* "" when absent */
    const uint8_t *body;
    size_t body_len;
    struct m2m_secctx sec; /* the connection's security context, as for primitives */
};
typedef void (*srv_raw_fn)(void *ctx, struct srv_exchange *x, const struct srv_raw_request *r);

struct srv_cfg {
    struct srv_listener_cfg listeners[SRV_MAX_LISTENERS];
    int n_listeners;
    int threads;                /* event-loop threads, default = number of cores */
    int max_connections_per_ip; /* per peer address (IPv6 per /64), 0 = unlimited (default) */
    int max_connections;        /* total, default 1024; at it, the oldest idle connection (no
                                   request byte yet, TLS handshakes included) of the accepting
                                   loop, or else of the loop with the most idle ones, is closed to
                                   make room, else the newcomer is closed; while evictions are
                                   pending the total may exceed it by SRV_EVICT_SLACK (32) at most */
    int idle_timeout_ms;        /* keep-alive idle, default 60000 */
    int read_timeout_ms;        /* a started request must complete within this, default 10000 */
    int handshake_timeout_ms;   /* TLS handshake, default 10000 */
    int max_pipeline;           /* parsed-but-unanswered requests per connection, default 32 */
    /* Memory for buffered request input (heads and bodies being received) over all connections,
     * default 256 MiB, 0 = unlimited. Each connection may always hold SRV_INPUT_FREE bytes; a
     * connection that needs more while the total is at the budget is answered 503 (X-M2M-RSC
     * 5000) and closed, with a log line. */
    size_t max_buffered_bytes;
    bool concurrent_pipeline; /* false (default): a connection's next request goes to the handler
                                 only after the previous one was answered, so pipelined requests
                                 are processed in order (a GET sees the POST before it); true:
                                 up to max_pipeline are with the handler at once */
    struct http_limits http;
    struct srv_tls_cfg tls;
    /* Raw routes: requests whose path starts with raw_prefix (e.g. "/.well-known/est/") go to
     * raw_fn instead of the primitive handler; "" or raw_fn NULL = none. */
    char raw_prefix[64];
    srv_raw_fn raw_fn;
    void *raw_ctx;
};
void srv_cfg_default(struct srv_cfg *c);

struct srv;
struct srv_exchange;

/* Called on an event-loop thread for each well-formed request. `req` is owned by the exchange
 * and stays valid until srv_respond() returns. */
typedef void (*srv_handler_fn)(void *ctx, struct srv_exchange *x, struct m2m_request *req);

/* Binds every listener and starts the threads. */
M2M_WARN_UNUSED m2m_rc srv_start(const struct srv_cfg *cfg, srv_handler_fn fn, void *ctx,
                                 struct srv **out);
/* The port actually bound by listener i (for port 0). */
int srv_bound_port(const struct srv *s, int i);
/* Sends the response for x (moves the response's owned fields) and releases x. Thread-safe;
 * must be called exactly once per exchange, even if the connection is gone. */
void srv_respond(struct srv_exchange *x, struct m2m_response *resp);
/* Marks x's answer as carrying key material (a fetched key, a server-generated private key): the
 * transport wipes every buffer that held it before freeing or reusing it. Call before
 * srv_respond / srv_respond_raw; a response with m2m_response.sensitive set needs no call. */
void srv_mark_sensitive(struct srv_exchange *x);
/* Answers a raw-route exchange: status line for http_status, Content-Type (NULL = none),
 * extra_headers (NULL or CRLF-terminated lines, e.g. "Content-Transfer-Encoding: base64\r\n"),
 * Content-Length and body. Same threading and once-only rule as srv_respond. */
void srv_respond_raw(struct srv_exchange *x, int http_status, const char *content_type,
                     const char *extra_headers, const uint8_t *body, size_t len);
/* RFC 5705 exporter of the TLS session that carried x's request (label, optional context;
 * context NULL = no context value). Safe only on the thread of x's event loop, i.e. inside the
 * handler call for x or later on that loop: a GnuTLS session is never touched from two threads.
 * A handler that hands the request to another thread exports first and carries the bytes along.
 * M2M_ERR_INTERNAL on another thread, M2M_ERR_CLOSED when the connection is gone, M2M_ERR_TLS
 * on a plain connection, M2M_ERR_DENIED on a TLS 1.2 session without the extended master secret
 * (RFC 7627: its exporter values are not bound to the connection). */
M2M_WARN_UNUSED m2m_rc srv_tls_export(struct srv_exchange *x, const char *label, size_t label_len,
                                      const uint8_t *context, size_t context_len, uint8_t *out,
                                      size_t len);
/* Stops accepting, closes every connection, joins the threads, frees. NULL is a no-op. */
void srv_stop(struct srv *s);

/* Counters for logs and tests. */
struct srv_stats {
    uint64_t accepted, rejected_limit, requests, responses, tls_handshake_failures, parse_errors,
        timeouts, revoked_closed, buffer_refusals;
    uint64_t buffered_bytes; /* request input held right now (capacity of the buffers) */
    int open_connections;
};
void srv_get_stats(const struct srv *s, struct srv_stats *out);

#endif
