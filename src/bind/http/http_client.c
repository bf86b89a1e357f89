/* http_client.c: the blocking notification client (one POST per connection, poll() deadlines)
 * and the bounded http(s) URL parser. */
#include "bind/http/http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/timeutil.h"

static bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Copies s[0..n) with a NUL into dst[cap]; M2M_ERR_LIMIT when it does not fit. */
static m2m_rc copy_out(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return M2M_ERR_LIMIT;
    memcpy(dst, s, n);
    dst[n] = 0;
    return M2M_OK;
}

/* authority = host [":" port] with host a reg-name/IPv4 or "[" IPv6 "]" (RFC 3986 3.2). */
static m2m_rc parse_authority(const char *a, size_t n, char *host, size_t hostlen, int *port)
{
    size_t i = 0;
    char tmp[64];
    struct in6_addr v6;
    if (n > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (close == NULL)
            return M2M_ERR_MALFORMED;
        size_t hl = (size_t)(close - a) - 1;
        if (hl == 0 || hl >= sizeof tmp)
            return M2M_ERR_MALFORMED;
        memcpy(tmp, a + 1, hl);
        tmp[hl] = 0;
        if (inet_pton(AF_INET6, tmp, &v6) != 1)
            return M2M_ERR_MALFORMED;
        RETURN_IF_ERR(copy_out(host, hostlen, tmp, hl));
        i = hl + 2;
    } else {
        while (i < n && (is_alnum(a[i]) || a[i] == '-' || a[i] == '.' || a[i] == '_'))
            i++;
        if (i == 0)
            return M2M_ERR_MALFORMED;
        RETURN_IF_ERR(copy_out(host, hostlen, a, i));
    }
    if (i == n)
        return M2M_OK;
    if (a[i] != ':' || i + 1 == n || n - i - 1 > 5)
        return M2M_ERR_MALFORMED;
    int p = 0;
    for (i++; i < n; i++) {
        if (a[i] < '0' || a[i] > '9')
            return M2M_ERR_MALFORMED;
        p = p * 10 + (a[i] - '0');
    }
    if (p < 1 || p > 65535)
        return M2M_ERR_MALFORMED;
    *port = p;
    return M2M_OK;
}

m2m_rc http_url_parse(const char *url, size_t len, char *host, size_t hostlen, int *port,
                      char *path, size_t pathlen, bool *tls)
{
    size_t i = 0;
    if (len >= 7 && strncasecmp(url, "http://", 7) == 0) {
        *tls = false;
        *port = 80;
        i = 7;
    } else if (len >= 8 && strncasecmp(url, "https://", 8) == 0) {
        *tls = true;
        *port = 443;
        i = 8;
    } else {
        return M2M_ERR_MALFORMED;
    }
    size_t a = i;
    while (i < len && url[i] != '/' && url[i] != '?' && url[i] != '#')
        i++;
    RETURN_IF_ERR(parse_authority(url + a, i - a, host, hostlen, port));
    for (size_t k = i; k < len; k++)
        if ((unsigned char)url[k] <= 0x20 || (unsigned char)url[k] >= 0x7f || url[k] == '#')
            return M2M_ERR_MALFORMED;
    if (i == len)
        return copy_out(path, pathlen, "/", 1);
    if (url[i] == '?') { /* "http://h?q": the path is empty, RFC 3986 6.2.3 makes it "/" */
        if (len - i + 1 >= pathlen)
            return M2M_ERR_LIMIT;
        path[0] = '/';
        return copy_out(path + 1, pathlen - 1, url + i, len - i);
    }
    return copy_out(path, pathlen, url + i, len - i);
}

/* Milliseconds left before deadline (monotonic), at least 0. */
static int remaining(int64_t deadline)
{
    int64_t left = deadline - m2m_mono_ms();
    return left > 0 ? (int)(left > 1000000 ? 1000000 : left) : 0;
}

/* Waits for ev on fd until the deadline: M2M_OK, or M2M_ERR_IO on timeout or error. */
static m2m_rc wait_fd(int fd, short ev, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = ev};
        int ms = remaining(deadline);
        if (ms == 0)
            return M2M_ERR_IO;
        int r = poll(&p, 1, ms);
        if (r > 0)
            return M2M_OK;
        if (r == 0 || errno != EINTR)
            return M2M_ERR_IO;
    }
}

/* Non-blocking connect to one address within the deadline. */
static m2m_rc connect_one(const struct addrinfo *ai, int64_t deadline, int *out)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return M2M_ERR_IO;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        int err = 0;
        socklen_t el = sizeof err;
        if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) != M2M_OK ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
            close(fd);
            return M2M_ERR_IO;
        }
    }
    *out = fd;
    return M2M_OK;
}

/* Resolves host (numeric or by name) and connects to the first address that answers. */
static m2m_rc connect_host(const char *host, int port, int64_t deadline, int *fd)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char svc[8];
    snprintf(svc, sizeof svc, "%d", port);
    if (getaddrinfo(host, svc, &hints, &res) != 0)
        return M2M_ERR_NOT_FOUND;
    m2m_rc rc = M2M_ERR_IO;
    for (const struct addrinfo *ai = res; ai != NULL && rc != M2M_OK; ai = ai->ai_next)
        rc = connect_one(ai, deadline, fd);
    freeaddrinfo(res);
    return rc;
}

static m2m_rc send_all(int fd, const uint8_t *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            RETURN_IF_ERR(wait_fd(fd, POLLOUT, deadline));
        } else {
            return M2M_ERR_IO;
        }
    }
    return M2M_OK;
}

/* X-M2M-RSC (TS-0009 6.4.17): 1..9999 digits, else RSC_NONE. */
static m2m_rsc header_rsc(const struct http_msg *m)
{
    const struct http_header *h = http_find_header(m, "X-M2M-RSC");
    int v = 0;
    if (h == NULL || h->value_len == 0 || h->value_len > 4)
        return RSC_NONE;
    for (size_t i = 0; i < h->value_len; i++) {
        if (h->value[i] < '0' || h->value[i] > '9')
            return RSC_NONE;
        v = v * 10 + (h->value[i] - '0');
    }
    return (m2m_rsc)v;
}

/* Reads until one final (non-1xx) response parses; fills status and rsc. */
static m2m_rc read_response(int fd, int64_t deadline, int *status, m2m_rsc *rsc)
{
    m2m_rc rc = M2M_OK;
    struct http_limits lim;
    http_limits_default(&lim);
    struct m2m_buf in = {NULL, 0, 0, lim.max_header_bytes * 2 + lim.max_body * 2};
    struct http_msg *msg = malloc(sizeof *msg);
    bool eof = false;
    ENSURE_NONNULL(msg);
    for (;;) {
        size_t used = 0;
        int st = 0;
        enum http_parse_result r = http_parse_response(in.data ? in.data : (const uint8_t *)"",
                                                       in.len, eof, &lim, msg, &used, &st);
        if (r == HTTP_PARSE_DONE && msg->status >= 200)
            break;
        if (r == HTTP_PARSE_DONE) { /* interim 1xx: skip it */
            m2m_buf_consume(&in, used);
            continue;
        }
        if (r == HTTP_PARSE_ERROR && eof &&
            http_parse_response(in.data ? in.data : (const uint8_t *)"", in.len, false, &lim, msg,
                                &used, &st) == HTTP_PARSE_NEED_MORE)
            BAIL(M2M_ERR_CLOSED); /* truncated, not malformed */
        if (r == HTTP_PARSE_ERROR)
            BAIL((st == 413 || st == 431) ? M2M_ERR_LIMIT : M2M_ERR_MALFORMED);
        TRY(wait_fd(fd, POLLIN, deadline));
        TRY(m2m_buf_reserve(&in, 4096));
        ssize_t n = recv(fd, in.data + in.len, 4096, 0);
        if (n == 0)
            eof = true;
        else if (n > 0)
            in.len += (size_t)n;
        else if (errno != EINTR && errno != EAGAIN)
            BAIL(M2M_ERR_IO);
    }
    *status = msg->status;
    *rsc = header_rsc(msg);
out:
    free(msg);
    m2m_buf_free(&in);
    return rc;
}

/* The Host header value: IPv6 literals in brackets, the port when not the default. */
static void host_header(const char *host, int port, char *out, size_t n)
{
    bool v6 = strchr(host, ':') != NULL;
    if (port == 80)
        snprintf(out, n, v6 ? "[%s]" : "%s", host);
    else
        snprintf(out, n, v6 ? "[%s]:%d" : "%s:%d", host, port);
}

m2m_rc http_client_post(const char *url, const char *origin, const char *rqi, const char *body,
                        size_t body_len, int timeout_ms, int *http_status, m2m_rsc *rsc)
{
    m2m_rc rc = M2M_OK;
    char host[256], hosthdr[300], path[HTTP_URL_MAX + 2];
    int port = 0, fd = -1;
    bool tls = false;
    struct m2m_buf req = M2M_BUF_INIT;
    int64_t deadline = m2m_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    *http_status = 0;
    *rsc = RSC_NONE;
    size_t len = strnlen(url, HTTP_URL_MAX + 1);
    ENSURE(len <= HTTP_URL_MAX, M2M_ERR_LIMIT);
    TRY(http_url_parse(url, len, host, sizeof host, &port, path, sizeof path, &tls));
    ENSURE(!tls, M2M_ERR_CONFIG); /* https notification targets: not implemented yet */
    host_header(host, port, hosthdr, sizeof hosthdr);
    TRY(http_write_notify(hosthdr, path, origin, rqi, body, body_len, &req));
    TRY(connect_host(host, port, deadline, &fd));
    TRY(send_all(fd, req.data, req.len, deadline));
    TRY(read_response(fd, deadline, http_status, rsc));
out:
    if (fd >= 0)
        close(fd);
    m2m_buf_free(&req);
    return rc;
}
