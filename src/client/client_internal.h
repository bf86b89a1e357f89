/* client_internal.h: the layout shared by the files of the device client library: the binding-
 * independent request a transport carries, the transport interface (one file per binding:
 * client_http.c, client_coap.c) and the TLS credential helper used by HTTPS (client_tls.c).
 * Internal functions return the public enum m2msec_result, because the callers (the CLI's exit
 * codes) need the distinctions m2m_rc does not make (connect vs. TLS vs. timeout). */
#ifndef M2M_CLIENT_INTERNAL_H
#define M2M_CLIENT_INTERNAL_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "m2msec/client.h"
#include "model/prim.h"

#define CL_HOST_MAX 256
#define CL_ERR_MAX 320

/* Writes a one-line error into err[errlen] (printf format) and returns code. */
int cl_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A parsed client URL. */
enum cl_scheme { CL_HTTP, CL_HTTPS, CL_COAP, CL_COAPS };
struct cl_url {
    enum cl_scheme scheme;
    char host[CL_HOST_MAX]; /* without IPv6 brackets */
    int port;
    bool host_is_ip;
};
/* Parses "scheme://host[:port][/...]"; the path part is ignored. M2MSEC_ERR_USAGE when bad. */
int cl_url_parse(const char *url, struct cl_url *out, char *err, size_t errlen);

/* One oneM2M request as a transport sends it. All strings are validated by client.c: no control
 * characters, path starts with '/'. */
struct cl_request {
    enum m2m_op op;
    const char *path;
    const char *query; /* NULL = none */
    int ty;            /* CREATE only */
    const char *body;  /* NULL = none */
    size_t body_len;
    const char *origin; /* NULL = omitted */
    const char *rqi;
    const char *rvi;
};

/* A transport (binding). exchange() sends rq and fills resp (whose strings it allocates; on
 * failure the caller frees what was set). It keeps its connection between calls and reconnects
 * when the peer has closed it. */
struct cl_transport_ops {
    const char *name;
    int (*exchange)(void *t, const struct cl_request *rq, struct m2msec_response *resp, char *err,
                    size_t errlen);
    void (*free)(void *t);
};

/* Transport settings derived from the public configuration. */
struct cl_settings {
    struct cl_url url;
    const struct m2msec_client_cfg *cfg; /* valid during *_new only */
    int connect_timeout_ms;
    int timeout_ms;
    size_t max_response;
};

int cl_http_new(const struct cl_settings *s, const struct cl_transport_ops **ops, void **out,
                char *err, size_t errlen);
int cl_coap_new(const struct cl_settings *s, const struct cl_transport_ops **ops, void **out,
                char *err, size_t errlen);

/* TLS client credentials for HTTPS (GnuTLS): X.509 / PSK / raw public key, trust anchors,
 * optional server key pin, and the priority string. */
struct cl_tls;
int cl_tls_new(const struct m2msec_client_cfg *cfg, const struct cl_url *url, struct cl_tls **out,
               char *err, size_t errlen);
void cl_tls_free(struct cl_tls *t);
/* Starts a client session on the connected non-blocking socket fd and runs the handshake until
 * deadline_ms (monotonic). On failure the session is freed and err says why (M2MSEC_ERR_TLS,
 * M2MSEC_ERR_TIMEOUT, M2MSEC_ERR_CLOSED). */
int cl_tls_handshake(struct cl_tls *t, int fd, int64_t deadline_ms, gnutls_session_t *out,
                     char *err, size_t errlen);

/* RFC 6920 "ni:///sha-256;..." of a DER SubjectPublicKeyInfo into out[outlen] (>= 60). */
int cl_ni_of_spki(const uint8_t *der, size_t len, char *out, size_t outlen);

/* Milliseconds left until deadline (monotonic), clamped at 0. */
int cl_remaining(int64_t deadline_ms);

#endif
