/* http.h: the HTTP/1.1 binding of TS-0009. Framing (bounded, incremental request and response
 * parsing), mapping of an HTTP request to a oneM2M request primitive, and serialization of a
 * response primitive. Pure functions: no sockets, no CSE knowledge. */
#ifndef M2M_BIND_HTTP_H
#define M2M_BIND_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/rc.h"
#include "model/prim.h"

/* Limits enforced by the parser; every one is configurable. */
struct http_limits {
    size_t max_header_bytes; /* request line + all header lines, default 16384 */
    size_t max_headers;      /* number of header fields, default 64 */
    size_t max_uri;          /* request-target length, default 4096 */
    size_t max_body;         /* Content-Length bound, default 1 MiB */
};
void http_limits_default(struct http_limits *l);

#define HTTP_MAX_HEADERS_HARD 256

/* A header field: pointers into the parsed buffer (not NUL-terminated). */
struct http_header {
    const char *name;
    size_t name_len;
    const char *value; /* leading/trailing whitespace trimmed */
    size_t value_len;
};

/* A parsed message. All pointers point into the caller's input buffer and are valid only while
 * that buffer is unchanged. */
struct http_msg {
    const char *method;
    size_t method_len;
    const char *target; /* request-target, raw (still percent-encoded) */
    size_t target_len;
    int status;        /* responses only */
    int version_minor; /* 0 or 1 (HTTP/1.x) */
    struct http_header headers[HTTP_MAX_HEADERS_HARD];
    size_t n_headers;
    const uint8_t *body;
    size_t body_len;
    bool keep_alive; /* after applying HTTP/1.0 and Connection rules */
};

/* Outcome of a parse attempt. */
enum http_parse_result {
    HTTP_PARSE_DONE = 0,  /* a complete message is in *msg; *consumed bytes belong to it */
    HTTP_PARSE_NEED_MORE, /* the input holds an incomplete but so far valid message */
    HTTP_PARSE_ERROR,     /* malformed or over a limit: answer *err_status and close */
};

/* Parses one request from in[0..len). Rejects (HTTP_PARSE_ERROR, with *err_status):
 * bare LF line endings, NUL or control bytes in the head, obs-fold, duplicate or invalid
 * Content-Length, any Transfer-Encoding (400 or 501), header section over max_header_bytes (431),
 * more than max_headers fields (431), request-target over max_uri (414), body over max_body (413),
 * versions other than HTTP/1.0 and HTTP/1.1 (505), a missing Host on HTTP/1.1 (400).
 * A request with a body but no Content-Length is 411. Never reads past in[len-1]. */
enum http_parse_result http_parse_request(const uint8_t *in, size_t len,
                                          const struct http_limits *lim, struct http_msg *msg,
                                          size_t *consumed, int *err_status);

/* Parses one response (for the notification client); same bounds. A response without
 * Content-Length is complete only when the caller signals EOF with at_eof. */
enum http_parse_result http_parse_response(const uint8_t *in, size_t len, bool at_eof,
                                           const struct http_limits *lim, struct http_msg *msg,
                                           size_t *consumed, int *err_status);

/* Case-insensitive header lookup; NULL when absent. */
const struct http_header *http_find_header(const struct http_msg *m, const char *name);

/* Maps a parsed request to a oneM2M request primitive (TS-0009 clause 6): method and Content-Type
 * ";ty=" to operation, request-target path to To ("/~/" SP-relative, "/_/" absolute), X-M2M-*
 * headers, query parameters (rcn, rt, drt, fu, ty, lbl, lim, ofst, lvl, crb, cra, ms, us, sts, stb,
 * exb, exa, fo, and others listed in the implementation), percent-decoding. The body is copied.
 * On failure returns M2M_ERR_MALFORMED with *rsc (4000, 4015, 5001...) and a message in errmsg. */
M2M_WARN_UNUSED m2m_rc http_to_request(const struct http_msg *m, struct m2m_request *req,
                                       m2m_rsc *rsc, char *errmsg, size_t errlen);

/* Serializes a response primitive: status line from the RSC table, X-M2M-RSC, X-M2M-RI, X-M2M-RVI,
 * Content-Type (application/json, with ";ty=N" when content_ty), Content-Location, Content-Length,
 * Connection: close when !keep_alive. Appends to out. */
M2M_WARN_UNUSED m2m_rc http_write_response(const struct m2m_response *resp, bool keep_alive,
                                           struct m2m_buf *out);

/* Writes a bare HTTP error (framing failures before a primitive exists): status line, an m2m:dbg
 * JSON body, X-M2M-RSC derived from the status (400->4000, 413/414/431->4000, 501->5001,
 * 505->4000), Connection: close. */
M2M_WARN_UNUSED m2m_rc http_write_error(int http_status, const char *msg, struct m2m_buf *out);

/* Serializes a oneM2M NOTIFY request to an HTTP target path (used by the notification client):
 * POST path HTTP/1.1, Host, X-M2M-Origin, X-M2M-RI, X-M2M-RVI, Content-Type application/json,
 * Content-Length. */
M2M_WARN_UNUSED m2m_rc http_write_notify(const char *host, const char *path, const char *origin,
                                         const char *rqi, const char *body, size_t body_len,
                                         struct m2m_buf *out);

#endif
