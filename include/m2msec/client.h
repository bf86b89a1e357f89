/* m2msec/client.h: the public contract of the m2msec device client library: an AE-side oneM2M
 * client over HTTP(S) (TS-0009) and CoAP(S) (TS-0008), authenticated with a pre-shared key, an
 * X.509 certificate or a raw public key (TS-0003 8.2.2 SAEF, 10.2 cipher suites).
 *
 * Conventions (as in sqlite3.h):
 * - Handles are opaque; every *_free() accepts NULL.
 * - Every function returns an int result code (enum m2msec_result); results go out through
 *   pointer parameters, which are set only on M2MSEC_OK unless stated otherwise.
 * - Operations return M2MSEC_OK whenever the CSE answered, whatever the oneM2M Response Status
 *   Code: check resp->rsc. Transport failures return an error code, and
 *   m2msec_client_errmsg() describes the last one in one line.
 * - A client handle is not thread-safe: use one per thread.
 * - Key material passed in the configuration is copied; the library wipes its copies on free and
 *   never logs them. The caller owns (and should wipe) its own copy. */
#ifndef M2MSEC_CLIENT_H
#define M2MSEC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum m2msec_result {
    M2MSEC_OK = 0,
    M2MSEC_ERR_USAGE,       /* invalid argument or configuration (URL, header characters...) */
    M2MSEC_ERR_NOMEM,       /* allocation failed */
    M2MSEC_ERR_FILE,        /* a certificate/key/CA file could not be read or parsed */
    M2MSEC_ERR_CONNECT,     /* name resolution or connection failed */
    M2MSEC_ERR_TLS,         /* (D)TLS handshake or record failure, peer verification failed */
    M2MSEC_ERR_TIMEOUT,     /* no (complete) answer within the timeout */
    M2MSEC_ERR_CLOSED,      /* the CSE closed the connection before a complete answer */
    M2MSEC_ERR_PROTOCOL,    /* the answer is malformed or over the size limit */
    M2MSEC_ERR_RSC,         /* the CSE refused (m2msec_register_ae): see the response */
    M2MSEC_ERR_UNSUPPORTED, /* a feature this build or this transport does not offer */
};

/* Short English name of a result code ("TLS failure"); never NULL. */
const char *m2msec_result_str(int rc);

enum m2msec_cred {
    M2MSEC_CRED_NONE = 0, /* no client credential (plain, or TLS authenticating the server only) */
    M2MSEC_CRED_CERT,     /* X.509 certificate + private key (TS-0003 8.1.2 certificate SAEF) */
    M2MSEC_CRED_PSK,      /* pre-shared key: identity (KpsaID) + key bytes (TS-0003 8.2.2.1) */
    M2MSEC_CRED_RPK,      /* raw public key (RFC 7250): private key file, public key derived */
};

/* Configuration; initialise with m2msec_client_cfg_init(), then set the fields needed. The
 * strings and key bytes need only live until m2msec_client_new() returns. */
struct m2msec_client_cfg {
    const char *url;        /* "http://host[:port]", "https://...", "coap://...", "coaps://..."
                               (default ports 80, 443, 5683, 5684); a path part is ignored */
    const char *originator; /* X-M2M-Origin / oneM2M-FR of requests; NULL = header omitted */
    enum m2msec_cred cred;
    const char *ca_file;      /* PEM trust anchors to verify the server certificate against;
                                 NULL = the system trust store (TLS only) */
    const char *cert_file;    /* CERT: PEM certificate chain */
    const char *key_file;     /* CERT and RPK: PEM private key */
    const char *psk_identity; /* PSK: psk_identity (e.g. a KpsaID "rel@issuer-fqdn") */
    const uint8_t *psk_key;   /* PSK: key bytes (1..64) */
    size_t psk_key_len;
    const char *server_pin;  /* optional "ni:///sha-256;..." of the server's public key (RFC
                                6920); when set the server key must match it, and a server
                                raw public key is accepted only through it */
    const char *server_name; /* name checked against the server certificate and sent as SNI;
                                NULL = the URL host */
    const char *rvi;         /* release version indicator, NULL = "3" */
    int connect_timeout_ms;  /* default 10000 */
    int timeout_ms;          /* per request, from sending to the complete answer; def. 30000 */
    size_t max_response;     /* bytes; default 4 MiB */
};

/* Fills cfg with the defaults (zero / NULL and the timeouts above). */
void m2msec_client_cfg_init(struct m2msec_client_cfg *cfg);

struct m2msec_client;

/* Creates a client: checks the configuration and loads the credential files. No connection is
 * made until the first request; it is then kept open (HTTP keep-alive, one CoAP/DTLS session)
 * and re-established when the CSE has closed it. On failure *out is NULL and, when errmsg is not
 * NULL, errmsg[0..errlen) receives a one-line reason. Results: OK, USAGE, NOMEM, FILE,
 * UNSUPPORTED. */
int m2msec_client_new(const struct m2msec_client_cfg *cfg, struct m2msec_client **out, char *errmsg,
                      size_t errlen);
/* Closes the connection, wipes keys, frees. NULL is a no-op. */
void m2msec_client_free(struct m2msec_client *c);

/* One line describing the last failure of an operation on c ("" after a success). Valid until
 * the next call on c. Never NULL (also for c == NULL). */
const char *m2msec_client_errmsg(const struct m2msec_client *c);

/* Replaces the originator used for the following requests (copied; NULL = omit the header). */
int m2msec_client_set_originator(struct m2msec_client *c, const char *originator);
/* The originator in use, or NULL. Owned by c. */
const char *m2msec_client_originator(const struct m2msec_client *c);

/* A oneM2M response primitive. Allocated by the library; free with m2msec_response_free(). */
struct m2msec_response {
    int rsc;         /* Response Status Code (X-M2M-RSC / oneM2M-RSC), 0 when absent */
    int status;      /* HTTP status (e.g. 201) or CoAP code as class*100+detail (e.g. 201) */
    char *body;      /* NUL-terminated body (JSON), "" when empty; never NULL */
    size_t body_len; /* bytes before the NUL */
    char *location;  /* Content-Location / Location-Path, or NULL */
    char *rqi;       /* request identifier echoed by the CSE, or NULL */
};
/* NULL is a no-op. */
void m2msec_response_free(struct m2msec_response *r);

/* Targets are paths as on the wire: "/cse-in/ae1" (structured), "/<ri>" (unstructured),
 * "/~/id-in/..." (SP-relative), "/_/sp-fqdn/id-in/..." (absolute); a missing leading '/' is
 * added. Control characters, spaces, '#' and '?' are refused (pass queries separately).
 * Each operation returns OK (*resp set), USAGE, NOMEM, CONNECT, TLS, TIMEOUT, CLOSED, PROTOCOL. */

/* CREATE (POST, Content-Type application/json;ty=ty) of the JSON body under parent. */
int m2msec_create(struct m2msec_client *c, const char *parent, int ty, const char *json,
                  struct m2msec_response **resp);
/* RETRIEVE target; query (e.g. "rcn=4" or "fu=1&ty=3") is optional (NULL or ""). */
int m2msec_retrieve(struct m2msec_client *c, const char *target, const char *query,
                    struct m2msec_response **resp);
/* UPDATE (PUT) target with the JSON body. */
int m2msec_update(struct m2msec_client *c, const char *target, const char *json,
                  struct m2msec_response **resp);
/* DELETE target. */
int m2msec_delete(struct m2msec_client *c, const char *target, struct m2msec_response **resp);

/* Registers an AE under the CSEBase at cse_path (NULL = "/cse-in"):
 * {"m2m:ae":{"rn":name,"api":app_id,"rr":false,"srv":["3"]}} (name NULL: rn omitted) with the
 * originator
 * requested_stem (e.g. "C", "Cmyae", "S"; NULL = the configured originator). On 2001 *aei
 * (malloc'd, caller frees) receives the AE-ID the CSE assigned, which also becomes the client's
 * originator. Returns M2MSEC_ERR_RSC when the CSE answered anything else (or no aei). In both
 * cases *resp, when resp is not NULL, receives the response (caller frees). */
int m2msec_register_ae(struct m2msec_client *c, const char *cse_path, const char *app_id,
                       const char *name, const char *requested_stem, char **aei,
                       struct m2msec_response **resp);

/* Creates a subscription (ty 23) under target with nu = [notification_url], rn = name (NULL:
 * the CSE names it) and the notification event types net[0..n_net) (NULL/0: the CSE default,
 * update of the resource). */
int m2msec_subscribe(struct m2msec_client *c, const char *target, const char *name,
                     const char *notification_url, const int *net, size_t n_net,
                     struct m2msec_response **resp);

/* The RFC 6920 identifier "ni:///sha-256;<base64url>" of the public key of the PEM private key
 * in key_file: what a CSE administrator registers for a raw-public-key client. *out is malloc'd
 * (caller frees). Results: OK, USAGE, NOMEM, FILE. */
int m2msec_rpk_id(const char *key_file, char **out);

#ifdef __cplusplus
}
#endif

#endif
