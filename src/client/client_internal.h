/* client_internal.h: the layout shared by the files of the device client library: the binding-
 * independent request a transport carries, the transport interface (one file per binding:
 * client_http.c, client_coap.c) and the TLS credential helper used by HTTPS (client_tls.c).
 * Internal functions return the public enum m2msec_result, because the callers (the CLI's exit
 * codes) need the distinctions m2m_rc does not make (connect vs. TLS vs. timeout). Also: the
 * side operations of the transports ((D)TLS exporter; raw HTTP for EST on HTTPS only) and the
 * pure parsers and decisions of the MEF client (client_mef.c, client_est.c), exposed here for
 * the unit tests. */
#ifndef M2M_CLIENT_INTERNAL_H
#define M2M_CLIENT_INTERNAL_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "m2msec/client.h"
#include "m2msec/mef.h"
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
struct cl_side_op;
struct cl_transport_ops {
    const char *name;
    int (*exchange)(void *t, const struct cl_request *rq, struct m2msec_response *resp, char *err,
                    size_t errlen);
    void (*free)(void *t);
    /* Operations that are not oneM2M requests (exporter, EST); NULL = not offered. */
    int (*side)(void *t, struct cl_side_op *op, const char *path, struct m2msec_response *resp,
                char *err, size_t errlen);
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

/* RFC 5705 exporter on an established session (no context value). A TLS 1.2 session without the
 * extended master secret is refused (RFC 7627 and RFC 9266 3: its exporter values are not
 * unique to the connection). Results: OK, USAGE (len 0 or > 255), TLS. */
int cl_tls_export(gnutls_session_t s, const char *label, uint8_t *out, size_t len, char *err,
                  size_t errlen);

/* ---- side operations of the transports ----
 * Requests that are not oneM2M primitives (the RFC 5705 exporter of the session, EST's plain
 * HTTP requests) go to the transport's `side` operation; cl_side_run() in client.c calls it and
 * reports UNSUPPORTED for a transport without one. HTTPS offers all three kinds; CoAPS offers
 * EXPORT (on the DTLS session) and GEN, and answers RAW with UNSUPPORTED (EST is HTTPS only). */
enum cl_side_kind {
    CL_SIDE_EXPORT, /* connect if needed, RFC 5705 exporter into out[0..out_len) */
    CL_SIDE_RAW,    /* an HTTP request without oneM2M headers (EST): method, path, body */
    CL_SIDE_GEN,    /* *gen of the connection that carried the last exchange */
};
struct cl_side_op {
    enum cl_side_kind kind;
    const char *label; /* EXPORT */
    uint8_t *out;
    size_t out_len;
    const char *method; /* RAW: "GET" or "POST" */
    const char *ctype;  /* RAW: Content-Type of the body, NULL = no body */
    const char *body;
    size_t body_len;
    char resp_ctype[128]; /* RAW: the response's Content-Type ("" when absent) */
    unsigned long gen;    /* EXPORT: connection used; GEN: connection of the last exchange */
    bool done;            /* set by the transport that performed the operation */
};
/* Runs op on c's transport. RAW: *resp (caller frees) gets status and body. Results: those of
 * the operation, UNSUPPORTED for a transport without side operations. */
int cl_side_run(struct m2msec_client *c, const char *path, struct cl_side_op *op,
                struct m2msec_response **resp);
/* Writes the one-line error of c (what m2msec_client_errmsg returns) and returns code. */
int cl_errf(struct m2msec_client *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The exporter of m2msec_client_export, also telling which connection (*gen) it ran on. */
int cl_export_gen(struct m2msec_client *c, const char *label, uint8_t *out, size_t len,
                  unsigned long *gen);
/* The connection that carried c's last exchange (0 when unknown): equal to the *gen of an export
 * when the request after it rode the same TLS session. */
unsigned long cl_last_gen(struct m2msec_client *c);

/* ---- MEF client (client_mef.c): parsers and decisions, pure ---- */

/* sec:cmdClassID (TS-0003 12.3.2.5) and sec:cmdStatusCode (12.3.2.4) values we use. */
enum { CL_MEF_NO_MORE_COMMANDS = 0, CL_MEF_CERT_PROV = 1, CL_MEF_DEV_CFG = 2, CL_MEF_MO_NODE = 3 };
enum {
    CL_MEF_ST_OK = 20,
    CL_MEF_ST_REPEATED_CMD_ID = 40,
    CL_MEF_ST_CLASS_NOT_SUPPORTED = 41,
    CL_MEF_ST_BAD_ARGUMENTS = 42,
    CL_MEF_ST_UNACCEPTABLE_ARGUMENTS = 43,
    CL_MEF_ST_CERT_PROV_SERVER_ERROR = 100,
    CL_MEF_ST_CERT_PROV_CLIENT_ERROR = 101,
};

/* A MEF Client Command as received (sec:mcc). */
struct cl_mef_cmd {
    char id[64];         /* cmdID (decimal digits) */
    int status;          /* cmdStatusCode: 10 ISSUED, 11 REISSUED */
    int class_id;        /* cmdClassID; -1 when the cmdDescription is unusable */
    bool args_ok;        /* cmdArgs parse for the class (and targetID, when present) */
    char target_id[256]; /* optional targetID */
    char retry[32];      /* NO_MORE_COMMANDS: retryDuration */
    int protocol;        /* CERT_PROV: certProvProtocolID (1 EST, 2 SCEP) */
    char uri[512];
    int subject_type; /* 1 Node-ID, 2 CSE-ID, 3 AE-ID */
    char subject_id[256];
};
enum cl_mef_act { CL_MEF_REPORT, CL_MEF_RUN_EST, CL_MEF_STOP };
struct cl_mef_decision {
    enum cl_mef_act act; /* REPORT: send status; RUN_EST: run EST then report; STOP: loop ends */
    int status;
};

/* Parses sec:mcc. M2MSEC_ERR_PROTOCOL when it cannot be reported at all (no sec:mcc object or
 * no decimal cmdID); a bad description or arguments are left to cl_mef_decide. */
int cl_mef_parse_cmd(const uint8_t *in, size_t len, struct cl_mef_cmd *out);
/* TS-0003 8.3.9.2 step 5 and 8.3.9.6/8.3.9.7 (SPEC-MAP G10): 40 for the cmdID last reported
 * (last_id, NULL/"" = none), 41 for classes other than NO_MORE_COMMANDS and CERT_PROV, 42 for
 * arguments that do not parse, 43 for CERT_PROV with a protocol other than EST, a URI that is
 * not https on env->mef_fqdn, a subject type outside env->subject_types or a certSubjectID not
 * of that type; RUN_EST otherwise; STOP for NO_MORE_COMMANDS. No I/O. */
void cl_mef_decide(const struct cl_mef_cmd *cmd, const struct m2msec_mef_cmd_env *env,
                   const char *last_id, struct cl_mef_decision *d);
/* The cmdStatusCode for an EST result code: 20, 100 (server side) or 101 (client side). */
int cl_mef_est_status(int rc);
/* The path of uri when it is https://<fqdn>[:port]/path (host compared ignoring case). */
const char *cl_mef_uri_path(const char *uri, const char *fqdn);
/* True when id is of the identifier kind of certSubjectType type (1 Node, 2 CSE, 3 AE). */
bool cl_mef_subject_kind_ok(int type, const char *id);
/* sec:enr into out (keid as the MEF wrote it, enrolee, expiry, targets; ke untouched = 0). */
int cl_mef_parse_enr(const uint8_t *in, size_t len, struct m2msec_enrolment *out);
/* OK when the MEF's keID names rel (either hex case) at fqdn. */
int cl_mef_keid_check(const char *theirs, const uint8_t rel[16], const char *fqdn);
/* The ri of sec:mcr (letters, digits, '_', '-') into reg_id[cap]. */
int cl_mef_parse_mcr(const uint8_t *in, size_t len, char *reg_id, size_t cap);
/* A successful sec:fcr: key (*key_len in: capacity; out: 32), enrolee ("" when absent),
 * lifetime. PROTOCOL for status false or anything malformed (the key buffer is wiped). */
int cl_mef_parse_fcr(const uint8_t *in, size_t len, uint8_t *key, size_t *key_len, char *enrolee,
                     size_t enrolee_cap, int64_t *lifetime_s);

/* ---- EST client (client_est.c) ---- */

/* RFC 4648 base64 with padding; CR, LF, space and tab skipped on input. OK, PROTOCOL (bad
 * alphabet, padding or length), or PROTOCOL when the output exceeds cap. */
int cl_b64_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);
/* Base64 of in into out[cap] (NUL-terminated); USAGE when cap is too small. */
int cl_b64_encode(const uint8_t *in, size_t len, char *out, size_t cap);
/* m2msec_est_enroll with the EST base path (e.g. "/.well-known/est") of the CERT_PROV URI. */
int cl_est_enroll(struct m2msec_client *c, const char *base_path, const char *san_uri,
                  bool reenroll, const char *key_out, const char *cert_out, const char *ca_out,
                  int *http_status);
/* PEM of every certificate of a DER PKCS#7 certs-only into *pem (gnutls_free); *first (may be
 * NULL) gets the DER of the first (gnutls_free). PROTOCOL when it holds none or does not parse. */
int cl_est_pkcs7_certs(const uint8_t *der, size_t len, gnutls_datum_t *pem, gnutls_datum_t *first);
/* The multipart/mixed answer of /serverkeygen (RFC 7030 4.4.2; peer data, bounded): boundary
 * from ctype, exactly one unencrypted PKCS#8 P-256 key (*key) and one certs-only PKCS#7 (*cert_pem
 * and *first as cl_est_pkcs7_certs). PROTOCOL otherwise, nothing left allocated. */
int cl_est_keygen_parse(const char *ctype, const uint8_t *body, size_t len,
                        gnutls_x509_privkey_t *key, gnutls_datum_t *cert_pem,
                        gnutls_datum_t *first);

#endif
