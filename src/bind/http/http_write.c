/* http_write.c: serialization of HTTP responses from response primitives, of bare framing
 * errors, and of NOTIFY requests (TS-0009 clause 6 in the other direction). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bind/http/http.h"
#include "enc/json.h"

/* A header value we may emit: no control bytes at all (CR/LF would split the header and let a
 * peer-influenced value inject headers or a second response), no DEL. */
static bool value_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* Appends "Name: value\r\n", or nothing when value is NULL, empty, or unsafe (dropped). */
static m2m_rc opt_header(struct m2m_buf *out, const char *name, const char *value)
{
    if (value == NULL || value[0] == 0 || !value_ok(value))
        return M2M_OK;
    return m2m_buf_appendf(out, "%s: %s\r\n", name, value);
}

/* TS-0009 6.3/6.4: status from Table 6.3.2-1, the original RSC in X-M2M-RSC (6.4.17), the echoed
 * X-M2M-RI (6.4.8) and X-M2M-RVI (6.4.22), Content-Type with ";ty=" (6.4.3), Content-Location
 * (6.4.4), Content-Length always (6.4.5). [INTERP] The brief asks for a reason phrase although
 * TS-0009 6.3.3 says to omit it; RFC 7230 3.1.2 permits both and clients ignore it.
 * Content-Type is written only with a body. An unset rsc (0) is answered as 5000. */
m2m_rc http_write_response(const struct m2m_response *resp, bool keep_alive, struct m2m_buf *out)
{
    m2m_rc rc = M2M_OK;
    m2m_rsc rsc = resp->rsc != RSC_NONE ? resp->rsc : RSC_INTERNAL_SERVER_ERROR;
    int st = m2m_rsc_http_status(rsc);
    size_t body_len = resp->body != NULL ? resp->body_len : 0;
    TRY(m2m_buf_appendf(out, "HTTP/1.1 %d %s\r\nServer: m2msec\r\nX-M2M-RSC: %d\r\n", st,
                        m2m_http_reason(st), (int)rsc));
    TRY(opt_header(out, "X-M2M-RI", resp->rqi));
    TRY(opt_header(out, "X-M2M-RVI", resp->rvi));
    if (body_len > 0) {
        if (resp->content_ty > 0)
            TRY(m2m_buf_appendf(out, "Content-Type: application/json;ty=%d\r\n", resp->content_ty));
        else
            TRY(m2m_buf_append_str(out, "Content-Type: application/json\r\n"));
    }
    TRY(opt_header(out, "Content-Location", resp->content_location));
    TRY(m2m_buf_appendf(out, "Content-Length: %zu\r\n", body_len));
    if (!keep_alive)
        TRY(m2m_buf_append_str(out, "Connection: close\r\n"));
    TRY(m2m_buf_append_str(out, "\r\n"));
    if (body_len > 0)
        TRY(m2m_buf_append(out, resp->body, body_len));
out:
    return rc;
}

/* The RSC a framing failure is reported with (http.h). */
static m2m_rsc error_rsc(int st)
{
    switch (st) {
    case 415: return RSC_UNSUPPORTED_MEDIA_TYPE;
    case 501: return RSC_NOT_IMPLEMENTED;
    case 504: return RSC_REQUEST_TIMEOUT;
    case 500:
    case 503: return RSC_INTERNAL_SERVER_ERROR;
    default: return RSC_BAD_REQUEST; /* 400, 411, 413, 414, 431, 505 ... */
    }
}

m2m_rc http_write_error(int http_status, const char *msg, struct m2m_buf *out)
{
    m2m_rc rc = M2M_OK;
    char *body = NULL;
    if (http_status < 100 || http_status > 599)
        http_status = 500;
    const char *reason = m2m_http_reason(http_status);
    cJSON *o = cJSON_CreateObject();
    ENSURE_NONNULL(o);
    ENSURE_NONNULL(cJSON_AddStringToObject(o, "m2m:dbg", msg ? msg : reason));
    body = json_print(o);
    ENSURE_NONNULL(body);
    size_t n = strlen(body);
    TRY(m2m_buf_appendf(out,
                        "HTTP/1.1 %d %s\r\nServer: m2msec\r\nX-M2M-RSC: %d\r\n"
                        "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                        "Connection: close\r\n\r\n",
                        http_status, reason, (int)error_rsc(http_status), n));
    TRY(m2m_buf_append(out, body, n));
out:
    free(body);
    cJSON_Delete(o);
    return rc;
}

/* A request-target or Host we may put on the request line: printable, no space. */
static bool token_ok(const char *s)
{
    if (s == NULL || s[0] == 0)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return false;
    return true;
}

/* TS-0009 6.2.1 (Notify is POST without ";ty="), 6.4.1 Host, 6.4.7/6.4.8/6.4.22 X-M2M-*,
 * 6.4.3 Content-Type, 6.4.5 Content-Length. The notification client sends one request per
 * connection, so "Connection: close" is added. X-M2M-RVI is "3" (the lowest release we accept).
 * origin and rqi may be NULL (omitted). Unsafe values are refused (M2M_ERR_MALFORMED). */
m2m_rc http_write_notify(const char *host, const char *path, const char *origin, const char *rqi,
                         const char *body, size_t body_len, struct m2m_buf *out)
{
    m2m_rc rc = M2M_OK;
    ENSURE(token_ok(host) && token_ok(path) && path[0] == '/', M2M_ERR_MALFORMED);
    ENSURE(origin == NULL || value_ok(origin), M2M_ERR_MALFORMED);
    ENSURE(rqi == NULL || value_ok(rqi), M2M_ERR_MALFORMED);
    ENSURE(body != NULL || body_len == 0, M2M_ERR_INTERNAL);
    TRY(m2m_buf_appendf(out, "POST %s HTTP/1.1\r\nHost: %s\r\n", path, host));
    TRY(opt_header(out, "X-M2M-Origin", origin));
    TRY(opt_header(out, "X-M2M-RI", rqi));
    TRY(m2m_buf_appendf(out,
                        "X-M2M-RVI: 3\r\nContent-Type: application/json\r\n"
                        "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                        body_len));
    if (body_len > 0)
        TRY(m2m_buf_append(out, body, body_len));
out:
    return rc;
}
