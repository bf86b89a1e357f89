/* client_http.c: the HTTP/HTTPS transport of the client library (TS-0009): one kept-alive
 * connection, request serialization, response framing with the project's bounded parser
 * (http_parse_response), one reconnect when the CSE closed an idle connection, and the side
 * operations of client_internal.h (TLS exporter, raw HTTP requests for EST). */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/secret.h"
#include "base/timeutil.h"
#include "bind/http/http.h"
#include "bind/http/http_client.h"
#include "client/client_internal.h"

struct cl_http {
    struct cl_url url;
    struct cl_tls *tls; /* NULL for http:// */
    int fd;             /* -1 = not connected */
    gnutls_session_t ses;
    int connect_timeout_ms, timeout_ms;
    size_t max_response;
    struct m2m_buf in;      /* received, not yet consumed */
    unsigned long gen;      /* incremented by every connection opened */
    unsigned long last_gen; /* connection that carried the last successful exchange */
};

static void conn_close(struct cl_http *h)
{
    if (h->ses) {
        gnutls_bye(h->ses, GNUTLS_SHUT_WR); /* non-blocking: best effort */
        gnutls_deinit(h->ses);
        h->ses = NULL;
    }
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
    m2m_buf_wipe(&h->in);
    m2m_buf_reset(&h->in);
}

static int wait_fd(int fd, short ev, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = ev};
    for (;;) {
        int ms = cl_remaining(deadline);
        if (ms == 0)
            return M2MSEC_ERR_TIMEOUT;
        int r = poll(&p, 1, ms);
        if (r > 0)
            return M2MSEC_OK;
        if (r < 0 && errno != EINTR)
            return M2MSEC_ERR_CONNECT;
    }
}

static int connect_one(const struct addrinfo *ai, int64_t deadline, int *out)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return M2MSEC_ERR_CONNECT;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        int e = errno, so = 0;
        socklen_t sl = sizeof so;
        int rc = e == EINPROGRESS ? wait_fd(fd, POLLOUT, deadline) : M2MSEC_ERR_CONNECT;
        if (rc == M2MSEC_OK && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) != 0 || so != 0)) {
            errno = so;
            rc = M2MSEC_ERR_CONNECT;
        } else if (rc == M2MSEC_ERR_CONNECT && e != EINPROGRESS) {
            errno = e;
        }
        if (rc != M2MSEC_OK) {
            e = errno;
            close(fd);
            errno = e;
            return rc;
        }
    }
    *out = fd;
    return M2MSEC_OK;
}

static int conn_open(struct cl_http *h, char *err, size_t errlen)
{
    int64_t deadline = m2m_mono_ms() + h->connect_timeout_ms;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char svc[8];
    snprintf(svc, sizeof svc, "%d", h->url.port);
    int g = getaddrinfo(h->url.host, svc, &hints, &res);
    if (g != 0)
        return cl_fail(err, errlen, M2MSEC_ERR_CONNECT, "cannot resolve %s: %s", h->url.host,
                       gai_strerror(g));
    int rc = M2MSEC_ERR_CONNECT;
    errno = 0;
    for (const struct addrinfo *ai = res; ai && rc != M2MSEC_OK && rc != M2MSEC_ERR_TIMEOUT;
         ai = ai->ai_next)
        rc = connect_one(ai, deadline, &h->fd);
    int e = errno;
    freeaddrinfo(res);
    if (rc == M2MSEC_ERR_TIMEOUT)
        return cl_fail(err, errlen, rc, "connecting to %s:%d timed out", h->url.host, h->url.port);
    if (rc != M2MSEC_OK)
        return cl_fail(err, errlen, rc, "cannot connect to %s:%d: %s", h->url.host, h->url.port,
                       e ? strerror(e) : "no address");
    h->gen++;
    if (h->tls != NULL) {
        rc = cl_tls_handshake(h->tls, h->fd, deadline, &h->ses, err, errlen);
        if (rc != M2MSEC_OK)
            conn_close(h);
    }
    return rc;
}

static int io_write(struct cl_http *h, const uint8_t *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t w;
        if (h->ses) {
            w = gnutls_record_send(h->ses, p, n);
            if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED) {
                RETURN_IF_ERR(wait_fd(h->fd, POLLOUT, deadline));
                continue;
            }
            if (w < 0)
                return M2MSEC_ERR_CLOSED;
        } else {
            w = send(h->fd, p, n, MSG_NOSIGNAL);
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                RETURN_IF_ERR(wait_fd(h->fd, POLLOUT, deadline));
                continue;
            }
            if (w <= 0)
                return M2MSEC_ERR_CLOSED;
        }
        p += w;
        n -= (size_t)w;
    }
    return M2MSEC_OK;
}

/* Reads what is available into h->in: OK (>= 1 byte), CLOSED (EOF), TIMEOUT, TLS, PROTOCOL. */
static int io_read(struct cl_http *h, int64_t deadline)
{
    uint8_t buf[16384];
    for (;;) {
        ssize_t r;
        if (h->ses) {
            r = gnutls_record_recv(h->ses, buf, sizeof buf);
            if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
                RETURN_IF_ERR(wait_fd(h->fd, POLLIN, deadline));
                continue;
            }
            if (r == 0 || r == GNUTLS_E_PREMATURE_TERMINATION)
                return M2MSEC_ERR_CLOSED;
            if (r < 0)
                return M2MSEC_ERR_TLS;
        } else {
            r = recv(h->fd, buf, sizeof buf, 0);
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                RETURN_IF_ERR(wait_fd(h->fd, POLLIN, deadline));
                continue;
            }
            if (r <= 0)
                return M2MSEC_ERR_CLOSED;
        }
        m2m_rc ar = m2m_buf_append(&h->in, buf, (size_t)r);
        m2m_wipe(buf, (size_t)r); /* answers may carry keys (fetchCredentials, serverkeygen) */
        return ar == M2M_OK ? M2MSEC_OK : M2MSEC_ERR_PROTOCOL;
    }
}

static const char *method_of(enum m2m_op op)
{
    switch (op) {
    case M2M_OP_CREATE: return "POST";
    case M2M_OP_RETRIEVE: return "GET";
    case M2M_OP_UPDATE: return "PUT";
    case M2M_OP_DELETE: return "DELETE";
    case M2M_OP_NOTIFY: return "POST";
    default: return NULL;
    }
}

/* TS-0009 6.2-6.4: method, request-target, Host and the X-M2M-* headers. */
static m2m_rc write_request(const struct cl_http *h, const struct cl_request *rq, struct m2m_buf *b)
{
    m2m_rc rc = M2M_OK;
    const char *lb = strchr(h->url.host, ':') ? "[" : "", *rb = *lb ? "]" : "";
    TRY(m2m_buf_appendf(b, "%s %s%s%s HTTP/1.1\r\nHost: %s%s%s:%d\r\n", method_of(rq->op), rq->path,
                        rq->query ? "?" : "", rq->query ? rq->query : "", lb, h->url.host, rb,
                        h->url.port));
    if (rq->origin)
        TRY(m2m_buf_appendf(b, "X-M2M-Origin: %s\r\n", rq->origin));
    TRY(m2m_buf_appendf(b, "X-M2M-RI: %s\r\nX-M2M-RVI: %s\r\nAccept: application/json\r\n", rq->rqi,
                        rq->rvi));
    if (rq->op == M2M_OP_CREATE)
        TRY(m2m_buf_appendf(b, "Content-Type: application/json;ty=%d\r\n", rq->ty));
    else if (rq->body)
        TRY(m2m_buf_append_str(b, "Content-Type: application/json\r\n"));
    if (rq->body || rq->op == M2M_OP_CREATE || rq->op == M2M_OP_UPDATE)
        TRY(m2m_buf_appendf(b, "Content-Length: %zu\r\n", rq->body ? rq->body_len : 0));
    TRY(m2m_buf_append_str(b, "\r\n"));
    if (rq->body)
        TRY(m2m_buf_append(b, rq->body, rq->body_len));
out:
    return rc;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* X-M2M-RSC (TS-0009 6.4.17): 1..4 digits; 0 when absent or not a number. */
static int header_int(const struct http_msg *m, const char *name)
{
    const struct http_header *hd = http_find_header(m, name);
    int v = 0;
    if (hd == NULL || hd->value_len == 0 || hd->value_len > 4)
        return 0;
    for (size_t i = 0; i < hd->value_len; i++) {
        if (hd->value[i] < '0' || hd->value[i] > '9')
            return 0;
        v = v * 10 + (hd->value[i] - '0');
    }
    return v;
}

/* Copies a header value (NULL when absent). */
static int header_dup(const struct http_msg *m, const char *name, char **out)
{
    const struct http_header *hd = http_find_header(m, name);
    *out = NULL;
    if (hd == NULL)
        return M2MSEC_OK;
    return (*out = dup_n(hd->value, hd->value_len)) ? M2MSEC_OK : M2MSEC_ERR_NOMEM;
}

/* Fills resp from a complete response message; decodes a chunked body. */
static int fill_response(const struct http_msg *m, size_t max, struct m2msec_response *resp,
                         char *err, size_t errlen)
{
    struct m2m_buf body = M2M_BUF_INIT;
    const struct http_header *te = http_find_header(m, "Transfer-Encoding");
    int rc = M2MSEC_OK;
    resp->status = m->status;
    resp->rsc = header_int(m, "X-M2M-RSC");
    if (te != NULL) {
        size_t used = 0;
        int st = 0;
        body.limit = max;
        if (http_chunked_decode(m->body, m->body_len, max, max, &body, &used, &st) !=
            HTTP_PARSE_DONE)
            BAIL(cl_fail(err, errlen, M2MSEC_ERR_PROTOCOL, "malformed chunked response body"));
    } else if (m2m_buf_append(&body, m->body, m->body_len) != M2M_OK) {
        BAIL(cl_fail(err, errlen, M2MSEC_ERR_NOMEM, "out of memory"));
    }
    if (m2m_buf_reserve(&body, 1) != M2M_OK)
        BAIL(cl_fail(err, errlen, M2MSEC_ERR_NOMEM, "out of memory"));
    resp->body = m2m_buf_steal(&body, &resp->body_len);
    if (resp->body == NULL || header_dup(m, "Content-Location", &resp->location) ||
        header_dup(m, "X-M2M-RI", &resp->rqi))
        BAIL(cl_fail(err, errlen, M2MSEC_ERR_NOMEM, "out of memory"));
out:
    m2m_buf_free(&body);
    return rc;
}

/* The Content-Type of m into ctype[128] ("" when absent or too long). */
static void copy_ctype(const struct http_msg *m, char *ctype)
{
    const struct http_header *hd = http_find_header(m, "Content-Type");
    ctype[0] = 0;
    if (hd != NULL && hd->value_len < 128) {
        memcpy(ctype, hd->value, hd->value_len);
        ctype[hd->value_len] = 0;
    }
}

/* Reads one final response (1xx skipped). *got_any tells whether any byte arrived. */
static int read_response(struct cl_http *h, struct m2msec_response *resp, int64_t deadline,
                         bool *got_any, char *ctype, char *err, size_t errlen)
{
    struct http_limits lim;
    http_limits_default(&lim);
    lim.max_body = h->max_response;
    lim.max_header_bytes = 65536;
    struct http_msg *m = malloc(sizeof *m);
    bool eof = false;
    int rc = M2MSEC_OK;
    if (m == NULL)
        return cl_fail(err, errlen, M2MSEC_ERR_NOMEM, "out of memory");
    *got_any = h->in.len > 0;
    for (;;) {
        size_t used = 0;
        int st = 0;
        const uint8_t *in = h->in.data ? h->in.data : (const uint8_t *)"";
        enum http_parse_result pr = http_parse_response(in, h->in.len, false, &lim, m, &used, &st);
        /* A body delimited by the end of the connection is complete only at EOF. */
        if (pr == HTTP_PARSE_NEED_MORE && eof && h->in.len > 0)
            pr = http_parse_response(in, h->in.len, true, &lim, m, &used, &st);
        if (pr != HTTP_PARSE_DONE && eof)
            BAIL(cl_fail(err, errlen, M2MSEC_ERR_CLOSED,
                         "the server closed the connection before a complete response"));
        if (pr == HTTP_PARSE_ERROR)
            BAIL(cl_fail(err, errlen, M2MSEC_ERR_PROTOCOL,
                         "malformed or oversized HTTP response (%d)", st));
        if (pr == HTTP_PARSE_DONE && m->status >= 100 && m->status < 200) {
            m2m_buf_consume(&h->in, used);
            continue;
        }
        if (pr == HTTP_PARSE_DONE) {
            rc = fill_response(m, h->max_response, resp, err, errlen);
            if (ctype != NULL)
                copy_ctype(m, ctype);
            m2m_buf_consume(&h->in, used);
            if (h->in.len == 0)
                m2m_buf_wipe(&h->in); /* the answer may have carried key material */
            if (rc != M2MSEC_OK || !m->keep_alive || eof || h->in.len > 0)
                conn_close(h); /* leftover bytes would belong to no request */
            goto out;
        }
        rc = io_read(h, deadline);
        if (rc == M2MSEC_ERR_CLOSED) {
            eof = true;
            rc = M2MSEC_OK;
            continue;
        }
        if (rc != M2MSEC_OK)
            BAIL(cl_fail(err, errlen, rc, "%s while waiting for the response",
                         rc == M2MSEC_ERR_TIMEOUT ? "timed out" : "TLS record error"));
        *got_any = true;
    }
out:
    free(m);
    return rc;
}

/* Sends the serialized request req and reads the answer, reconnecting once when a kept-alive
 * connection turns out closed. */
static int send_and_read(struct cl_http *h, const struct m2m_buf *req, struct m2msec_response *resp,
                         char *ctype, char *err, size_t errlen)
{
    int rc = M2MSEC_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool reused = h->fd >= 0, got_any = false;
        if (!reused && (rc = conn_open(h, err, errlen)) != M2MSEC_OK)
            break;
        unsigned long gen = h->gen;
        int64_t deadline = m2m_mono_ms() + h->timeout_ms;
        rc = io_write(h, req->data, req->len, deadline);
        if (rc == M2MSEC_OK)
            rc = read_response(h, resp, deadline, &got_any, ctype, err, errlen);
        else
            cl_fail(err, errlen, rc, "%s while sending the request",
                    rc == M2MSEC_ERR_TIMEOUT ? "timed out" : "connection lost");
        if (rc == M2MSEC_OK) {
            h->last_gen = gen;
            break;
        }
        conn_close(h);
        /* A kept-alive connection the server closed meanwhile: retry once on a new one. */
        if (!(reused && !got_any && rc == M2MSEC_ERR_CLOSED))
            break;
    }
    return rc;
}

/* An HTTP request without oneM2M headers (RFC 7030 EST): method, target, optional body. */
static m2m_rc write_raw(const struct cl_http *h, const struct cl_side_op *op, const char *path,
                        struct m2m_buf *b)
{
    m2m_rc rc = M2M_OK;
    const char *lb = strchr(h->url.host, ':') ? "[" : "", *rb = *lb ? "]" : "";
    TRY(m2m_buf_appendf(b, "%s %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nAccept: */*\r\n", op->method, path,
                        lb, h->url.host, rb, h->url.port));
    if (op->ctype != NULL) {
        /* RFC 7030 4.2.1: the PKCS#10 travels base64 with this transfer encoding. */
        TRY(m2m_buf_appendf(b,
                            "Content-Type: %s\r\nContent-Transfer-Encoding: base64\r\n"
                            "Content-Length: %zu\r\n",
                            op->ctype, op->body_len));
    }
    TRY(m2m_buf_append_str(b, "\r\n"));
    if (op->ctype != NULL)
        TRY(m2m_buf_append(b, op->body, op->body_len));
out:
    return rc;
}

/* True when the idle connection cannot carry the next exchange: the peer closed it or sent
 * bytes that belong to no request. TLS 1.3 post-handshake messages (NewSessionTicket) are
 * consumed by the non-blocking read and do not count. */
static bool conn_stale(struct cl_http *h)
{
    uint8_t b[1];
    if (h->in.len > 0)
        return true;
    if (h->ses == NULL) {
        ssize_t r = recv(h->fd, b, sizeof b, MSG_PEEK | MSG_DONTWAIT);
        return !(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    }
    ssize_t r = gnutls_record_recv(h->ses, b, sizeof b);
    return !(r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
}

static int side_export(struct cl_http *h, struct cl_side_op *op, char *err, size_t errlen)
{
    int rc = M2MSEC_OK;
    if (h->tls == NULL)
        return cl_fail(err, errlen, M2MSEC_ERR_USAGE, "a plain http:// transport has no exporter");
    if (h->fd >= 0 && conn_stale(h))
        conn_close(h);
    if (h->fd < 0 && (rc = conn_open(h, err, errlen)) != M2MSEC_OK)
        return rc;
    op->gen = h->gen;
    return cl_tls_export(h->ses, op->label, op->out, op->out_len, err, errlen);
}

/* Performs the armed side operation instead of the oneM2M request rq. */
static int http_side(void *t, struct cl_side_op *op, const char *path, struct m2msec_response *resp,
                     char *err, size_t errlen)
{
    struct cl_http *h = t;
    struct m2m_buf req = M2M_BUF_INIT;
    int rc = M2MSEC_OK;
    op->done = true;
    switch (op->kind) {
    case CL_SIDE_EXPORT: return side_export(h, op, err, errlen);
    case CL_SIDE_GEN:
        op->gen = h->last_gen;
        resp->body = calloc(1, 1);
        return resp->body ? M2MSEC_OK : cl_fail(err, errlen, M2MSEC_ERR_NOMEM, "out of memory");
    case CL_SIDE_RAW:
        if (h->tls == NULL) /* RFC 7030 3.2: EST runs over TLS only */
            return cl_fail(err, errlen, M2MSEC_ERR_USAGE, "EST needs an https:// client");
        if (write_raw(h, op, path, &req) != M2M_OK)
            return cl_fail(err, errlen, M2MSEC_ERR_NOMEM, "out of memory");
        rc = send_and_read(h, &req, resp, op->resp_ctype, err, errlen);
        op->gen = h->last_gen;
        m2m_buf_free(&req);
        return rc;
    }
    return cl_fail(err, errlen, M2MSEC_ERR_USAGE, "unknown side operation");
}

static int http_exchange(void *t, const struct cl_request *rq, struct m2msec_response *resp,
                         char *err, size_t errlen)
{
    struct cl_http *h = t;
    struct m2m_buf req = M2M_BUF_INIT;
    if (write_request(h, rq, &req) != M2M_OK)
        return cl_fail(err, errlen, M2MSEC_ERR_NOMEM, "out of memory");
    int rc = send_and_read(h, &req, resp, NULL, err, errlen);
    m2m_buf_free(&req);
    return rc;
}

static void http_free(void *t)
{
    struct cl_http *h = t;
    if (h == NULL)
        return;
    conn_close(h);
    m2m_buf_free(&h->in);
    cl_tls_free(h->tls);
    free(h);
}

static const struct cl_transport_ops http_ops = {"http", http_exchange, http_free, http_side};

int cl_http_new(const struct cl_settings *s, const struct cl_transport_ops **ops, void **out,
                char *err, size_t errlen)
{
    struct cl_http *h = calloc(1, sizeof *h);
    if (h == NULL)
        return cl_fail(err, errlen, M2MSEC_ERR_NOMEM, "out of memory");
    h->url = s->url;
    h->fd = -1;
    h->connect_timeout_ms = s->connect_timeout_ms;
    h->timeout_ms = s->timeout_ms;
    h->max_response = s->max_response;
    h->in.limit = s->max_response + 65536 + 64;
    if (s->url.scheme == CL_HTTPS) {
        int rc = cl_tls_new(s->cfg, &s->url, &h->tls, err, errlen);
        if (rc != M2MSEC_OK) {
            http_free(h);
            return rc;
        }
    }
    *ops = &http_ops;
    *out = h;
    return M2MSEC_OK;
}
