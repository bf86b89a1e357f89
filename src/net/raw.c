/* raw.c: raw routes (srv_cfg.raw_prefix): HTTP requests handed to raw_fn unmapped, with their
 * connection's security context, and answered by srv_respond_raw in the same FIFO as primitives
 * (the MEF's EST interface, RFC 7030). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "net/net_internal.h"

/* The request's own copy: the input buffer is reused once the request is dispatched. */
struct srv_raw_hold {
    struct srv_raw_request r;
    char *method, *path, *query, *ctype;
    uint8_t *body;
};

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* RFC 3986 2.1: the percent-decoded path of an origin-form target; NULL when it is not one, an
 * escape is malformed or decodes to NUL (http_to_request then answers 400). */
static char *decode_path(const char *t, size_t n)
{
    size_t plen = 0;
    while (plen < n && t[plen] != '?' && t[plen] != '#')
        plen++;
    if (plen == 0 || t[0] != '/')
        return NULL;
    char *out = malloc(plen + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < plen; i++) {
        if (t[i] != '%') {
            *o++ = t[i];
            continue;
        }
        int hi = i + 2 < plen ? hexval(t[i + 1]) : -1, lo = hi >= 0 ? hexval(t[i + 2]) : -1;
        if (lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        *o++ = (char)(hi << 4 | lo);
        i += 2;
    }
    *o = '\0';
    return out;
}

void raw_hold_free(struct srv_raw_hold *h)
{
    if (h == NULL)
        return;
    free(h->method);
    free(h->path);
    free(h->query);
    free(h->ctype);
    free(h->body);
    free(h);
}

const struct srv_raw_request *raw_request(const struct srv_raw_hold *h)
{
    return &h->r;
}

/* The copy of m for the handler; NULL when memory is short. Takes path. */
static struct srv_raw_hold *hold_new(const struct http_msg *m, char *path)
{
    struct srv_raw_hold *h = calloc(1, sizeof *h);
    const struct http_header *ct = http_find_header(m, "Content-Type");
    const char *q = memchr(m->target, '?', m->target_len);
    size_t qn = 0;
    if (q != NULL) {
        q++;
        qn = m->target_len - (size_t)(q - m->target);
        const char *frag = memchr(q, '#', qn);
        if (frag != NULL)
            qn = (size_t)(frag - q);
    }
    if (h == NULL) {
        free(path);
        return NULL;
    }
    h->path = path;
    h->method = strndup(m->method, m->method_len);
    h->query = strndup(q ? q : "", qn);
    h->ctype = ct ? strndup(ct->value, ct->value_len) : strdup("");
    h->body = malloc(m->body_len ? m->body_len : 1);
    if (h->method == NULL || h->query == NULL || h->ctype == NULL || h->body == NULL) {
        raw_hold_free(h);
        return NULL;
    }
    if (m->body_len > 0)
        memcpy(h->body, m->body, m->body_len);
    h->r = (struct srv_raw_request){.method = h->method,
                                    .path = h->path,
                                    .query = h->query,
                                    .content_type = h->ctype,
                                    .body = h->body,
                                    .body_len = m->body_len};
    return h;
}

bool raw_route(struct srv_conn *c, struct srv_exchange *x, const struct http_msg *m)
{
    const struct srv_cfg *cfg = &c->loop->srv->cfg;
    size_t plen = strnlen(cfg->raw_prefix, sizeof cfg->raw_prefix);
    if (cfg->raw_fn == NULL || plen == 0)
        return false;
    char *path = decode_path(m->target, m->target_len);
    if (path == NULL || strncmp(path, cfg->raw_prefix, plen) != 0) {
        free(path);
        return false;
    }
    x->raw = hold_new(m, path);
    if (x->raw == NULL) {
        x->failed = x->done = true; /* closes the connection in its turn */
        return true;
    }
    x->raw->r.sec = c->sec;
    return true;
}

static bool header_value_ok(const char *v)
{
    return strpbrk(v, "\r\n") == NULL;
}

/* extra_headers: complete "Name: value\r\n" lines only. */
static bool extra_ok(const char *e)
{
    size_t n = strlen(e);
    if (n == 0)
        return true;
    if (n < 2 || e[n - 2] != '\r' || e[n - 1] != '\n')
        return false;
    for (size_t i = 0; i < n; i++)
        if ((e[i] == '\n' && (i == 0 || e[i - 1] != '\r')) || (e[i] == '\r' && e[i + 1] != '\n'))
            return false;
    return strstr(e, "\r\n\r\n") == NULL && e[0] != '\r';
}

static m2m_rc write_raw(struct m2m_buf *w, int status, const char *ctype, const char *extra,
                        const uint8_t *body, size_t len, bool keep_alive)
{
    if (status < 100 || status > 599 || (ctype && !header_value_ok(ctype)) ||
        (extra && !extra_ok(extra)) || (body == NULL && len > 0))
        return M2M_ERR_INTERNAL;
    RETURN_IF_ERR(m2m_buf_appendf(w, "HTTP/1.1 %d %s\r\n", status, m2m_http_reason(status)));
    if (ctype != NULL)
        RETURN_IF_ERR(m2m_buf_appendf(w, "Content-Type: %s\r\n", ctype));
    if (extra != NULL)
        RETURN_IF_ERR(m2m_buf_append_str(w, extra));
    RETURN_IF_ERR(m2m_buf_appendf(w, "Content-Length: %zu\r\n%s\r\n", len,
                                  keep_alive ? "" : "Connection: close\r\n"));
    return len > 0 ? m2m_buf_append(w, body, len) : M2M_OK;
}

void srv_respond_raw(struct srv_exchange *x, int http_status, const char *content_type,
                     const char *extra_headers, const uint8_t *body, size_t len)
{
    if (x == NULL)
        return;
    if (x->sensitive)
        m2m_buf_wipe(&x->wire);
    m2m_buf_reset(&x->wire);
    /* a sensitive answer gets one allocation: no realloc leaves a copy of the body behind */
    if ((x->sensitive && m2m_buf_reserve(&x->wire, len + 1024) != M2M_OK) ||
        write_raw(&x->wire, http_status, content_type, extra_headers, body, len, x->keep_alive) !=
            M2M_OK) {
        log_error("net: raw response %d could not be written", http_status);
        x->failed = true;
    }
    raw_hold_free(x->raw);
    x->raw = NULL;
    exchange_post(x);
}
