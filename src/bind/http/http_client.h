/* http_client.h: a small blocking HTTP/1.1 client for notifications (TS-0009 over plain TCP),
 * its bounded URL parser, and the chunked-body walker shared with http_parse.c. Called from
 * notification threads, never from an event loop. */
#ifndef M2M_BIND_HTTP_CLIENT_H
#define M2M_BIND_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/rc.h"
#include "bind/http/http.h"
#include "model/prim.h"

/* Longest URL http_client_post accepts (bytes, excluding the NUL). */
#define HTTP_URL_MAX 2048

/* Parses exactly url[0..len) as "http://host[:port][/path[?query]]" or "https://...".
 * host: an IPv4 literal, a bracketed IPv6 literal (written to `host` without brackets) or a DNS
 * name (letters, digits, '-', '.', '_'); no userinfo, no percent-encoding, no fragment.
 * port: 1..65535, default 80 (http) / 443 (https). path: the path and query, "/" when empty.
 * *tls is true for https. Returns M2M_ERR_MALFORMED on any syntax error (including NUL bytes),
 * M2M_ERR_LIMIT when host or path (with its NUL) does not fit hostlen / pathlen. */
M2M_WARN_UNUSED m2m_rc http_url_parse(const char *url, size_t len, char *host, size_t hostlen,
                                      int *port, char *path, size_t pathlen, bool *tls);

/* POSTs a oneM2M NOTIFY (http_write_notify) with `body` to url and waits for the response.
 * Blocking: name resolution (getaddrinfo, not bounded by the timeout), then connect, write and
 * read each bounded by poll() against one overall deadline of timeout_ms. One request per
 * connection ("Connection: close"). Interim 1xx responses are skipped.
 * On M2M_OK, *http_status is the final status code and *rsc the X-M2M-RSC of the response
 * (RSC_NONE when absent or not a number). origin and rqi may be NULL (header omitted).
 * Returns M2M_ERR_CONFIG for https URLs (TLS notifications are not implemented yet),
 * M2M_ERR_MALFORMED for a bad URL or response, M2M_ERR_LIMIT for an oversized URL or response,
 * M2M_ERR_NOT_FOUND when the name does not resolve, M2M_ERR_IO on connect/read/write failure or
 * timeout, M2M_ERR_CLOSED when the peer closed before a complete response, M2M_ERR_NOMEM. */
M2M_WARN_UNUSED m2m_rc http_client_post(const char *url, const char *origin, const char *rqi,
                                        const char *body, size_t body_len, int timeout_ms,
                                        int *http_status, m2m_rsc *rsc);

/* Walks a chunked message body (RFC 7230 4.1) at in[0..len): chunks, optional extensions,
 * last-chunk, trailer section. DONE: *consumed is the encoded length through the final CRLF and,
 * when out != NULL, the decoded data was appended to out. NEED_MORE: incomplete so far.
 * ERROR: *err_status 400 (malformed) or 413 (decoded data over max_decoded, encoded length over
 * max_encoded, or out over its limit). http_parse_response leaves a chunked body encoded in
 * msg->body (Transfer-Encoding: chunked is then in msg->headers); decode it with this. */
enum http_parse_result http_chunked_decode(const uint8_t *in, size_t len, size_t max_decoded,
                                           size_t max_encoded, struct m2m_buf *out,
                                           size_t *consumed, int *err_status);

#endif
