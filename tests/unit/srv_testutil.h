/* srv_testutil.h: small blocking HTTP client helpers shared by the srv_* transport tests. */
#ifndef M2M_TEST_SRV_TESTUTIL_H
#define M2M_TEST_SRV_TESTUTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bind/http/http.h"
#include "net/server.h"

struct tcl {
    int fd;
    uint8_t buf[1 << 16];
    size_t len;
};

struct tresp {
    int status;
    char ctype[128], extra[128];
    char body[4096];
    size_t body_len;
    bool close;
};

/* Connects from src ("" = any) to dst:port; -1 when connect fails. */
static inline int tcl_open(struct tcl *c, const char *src, const char *dst, int port)
{
    memset(c, 0, sizeof *c);
    struct sockaddr_storage ss, sa;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    memset(&sa, 0, sizeof sa);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, dst, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        sl = sizeof *a4;
    } else {
        inet_pton(AF_INET6, dst, &a6->sin6_addr);
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        sl = sizeof *a6;
    }
    c->fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (src[0] != '\0') {
        struct sockaddr_in *b4 = (struct sockaddr_in *)&sa;
        b4->sin_family = AF_INET;
        inet_pton(AF_INET, src, &b4->sin_addr);
        if (bind(c->fd, (struct sockaddr *)&sa, sizeof *b4) != 0)
            return -1;
    }
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return connect(c->fd, (struct sockaddr *)&ss, sl);
}

static inline void tcl_close(struct tcl *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static inline void tcl_send(struct tcl *c, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static inline void tcl_hdr(const struct http_msg *m, const char *name, char *out, size_t n)
{
    const struct http_header *h = http_find_header(m, name);
    out[0] = 0;
    if (h)
        snprintf(out, n, "%.*s", (int)h->value_len, h->value);
}

/* One response; its status, or -1 on EOF, reset or timeout. */
static inline int tcl_recv(struct tcl *c, struct tresp *r)
{
    struct http_limits lim;
    http_limits_default(&lim);
    memset(r, 0, sizeof *r);
    for (;;) {
        struct http_msg m;
        size_t used = 0;
        int err = 0;
        if (c->len > 0 &&
            http_parse_response(c->buf, c->len, false, &lim, &m, &used, &err) == HTTP_PARSE_DONE) {
            r->status = m.status;
            tcl_hdr(&m, "Content-Type", r->ctype, sizeof r->ctype);
            tcl_hdr(&m, "Content-Transfer-Encoding", r->extra, sizeof r->extra);
            r->body_len = m.body_len < sizeof r->body - 1 ? m.body_len : sizeof r->body - 1;
            if (r->body_len > 0)
                memcpy(r->body, m.body, r->body_len);
            r->close = !m.keep_alive;
            memmove(c->buf, c->buf + used, c->len - used);
            c->len -= used;
            return r->status;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (n <= 0)
            return -1;
        c->len += (size_t)n;
    }
}

/* True when the server closed the connection (EOF or reset) within ms. */
static inline bool tcl_closed_within(struct tcl *c, int ms)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0)
        return false;
    char b[256];
    ssize_t n = recv(c->fd, b, sizeof b, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

static inline struct srv_stats tstats(struct srv *s)
{
    struct srv_stats st;
    srv_get_stats(s, &st);
    return st;
}

#endif
