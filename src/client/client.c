/* client.c: the public client API (include/m2msec/client.h): configuration checks, the client
 * handle, oneM2M request building (targets, originator, request identifiers, AE registration and
 * subscription bodies) over the transport chosen by the URL scheme. */
#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/secret.h"
#include "bind/http/http_client.h"
#include "client/client_internal.h"

#define CL_ORIGIN_MAX 256
#define CL_RQI_PREFIX 24

struct m2msec_client {
    const struct cl_transport_ops *ops;
    void *transport;
    char *origin; /* NULL = omitted */
    char rvi[4];
    char rqi_prefix[CL_RQI_PREFIX];
    unsigned long rqi_next;
    char errmsg[CL_ERR_MAX];
};

int cl_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *m2msec_result_str(int rc)
{
    static const char *const names[] = {
        [M2MSEC_OK] = "ok",
        [M2MSEC_ERR_USAGE] = "invalid argument",
        [M2MSEC_ERR_NOMEM] = "out of memory",
        [M2MSEC_ERR_FILE] = "credential file error",
        [M2MSEC_ERR_CONNECT] = "connection failed",
        [M2MSEC_ERR_TLS] = "TLS failure",
        [M2MSEC_ERR_TIMEOUT] = "timeout",
        [M2MSEC_ERR_CLOSED] = "connection closed",
        [M2MSEC_ERR_PROTOCOL] = "protocol error",
        [M2MSEC_ERR_RSC] = "refused by the CSE",
        [M2MSEC_ERR_UNSUPPORTED] = "unsupported",
    };
    if (rc < 0 || (size_t)rc >= M2M_ARRAY_LEN(names) || names[rc] == NULL)
        return "unknown result";
    return names[rc];
}

void m2msec_client_cfg_init(struct m2msec_client_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->connect_timeout_ms = 10000;
    cfg->timeout_ms = 30000;
    cfg->max_response = 4u << 20;
}

int cl_url_parse(const char *url, struct cl_url *out, char *err, size_t errlen)
{
    static const struct {
        const char *prefix;
        enum cl_scheme scheme;
        int port;
    } schemes[] = {{"http://", CL_HTTP, 80},
                   {"https://", CL_HTTPS, 443},
                   {"coap://", CL_COAP, 5683},
                   {"coaps://", CL_COAPS, 5684}};
    char buf[HTTP_URL_MAX + 16], path[HTTP_URL_MAX];
    size_t n = url ? strnlen(url, HTTP_URL_MAX + 1) : 0;
    bool tls = false;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; url && i < M2M_ARRAY_LEN(schemes); i++) {
        size_t pl = strlen(schemes[i].prefix);
        if (n <= HTTP_URL_MAX && strncasecmp(url, schemes[i].prefix, pl) == 0) {
            /* Reuse the bounded http URL parser for the authority: same syntax. */
            int len = snprintf(buf, sizeof buf, "http://%s", url + pl);
            out->scheme = schemes[i].scheme;
            out->port = -1;
            if (http_url_parse(buf, (size_t)len, out->host, sizeof out->host, &out->port, path,
                               sizeof path, &tls) != M2M_OK)
                break;
            const char *auth_end = strchr(url + pl, '/');
            size_t al = auth_end ? (size_t)(auth_end - (url + pl)) : strlen(url + pl);
            const char *colon = memrchr(url + pl, ':', al), *brk = memrchr(url + pl, ']', al);
            if (colon == NULL || (brk != NULL && colon < brk))
                out->port = schemes[i].port; /* no explicit port */
            unsigned char tmp[16];
            out->host_is_ip =
                inet_pton(AF_INET, out->host, tmp) == 1 || inet_pton(AF_INET6, out->host, tmp) == 1;
            return M2MSEC_OK;
        }
    }
    return cl_fail(err, errlen, M2MSEC_ERR_USAGE,
                   "invalid URL '%.80s' (want http://, https://, coap:// or coaps://host[:port])",
                   url ? url : "(null)");
}

/* Header-safe text: printable ASCII, no space unless allowed. */
static bool safe_text(const char *s, size_t max, bool space_ok)
{
    size_t i = 0;
    for (; s[i] && i <= max; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x21 || ch > 0x7e) {
            if (!(space_ok && ch == ' '))
                return false;
        }
    }
    return i > 0 && i <= max;
}

static int check_cfg(const struct m2msec_client_cfg *cfg, const struct cl_url *u, char *err,
                     size_t errlen)
{
    bool tls = u->scheme == CL_HTTPS || u->scheme == CL_COAPS;
    if (cfg->originator && !safe_text(cfg->originator, CL_ORIGIN_MAX, false))
        return cl_fail(err, errlen, M2MSEC_ERR_USAGE, "invalid originator");
    if (cfg->rvi && (!safe_text(cfg->rvi, 2, false)))
        return cl_fail(err, errlen, M2MSEC_ERR_USAGE, "invalid release version indicator");
    if (cfg->cred != M2MSEC_CRED_NONE && !tls)
        return cl_fail(err, errlen, M2MSEC_ERR_USAGE,
                       "client credentials need https:// or coaps://");
    switch (cfg->cred) {
    case M2MSEC_CRED_NONE: break;
    case M2MSEC_CRED_CERT:
        if (!cfg->cert_file || !cfg->key_file)
            return cl_fail(err, errlen, M2MSEC_ERR_USAGE, "a certificate needs its key file");
        break;
    case M2MSEC_CRED_RPK:
        if (!cfg->key_file)
            return cl_fail(err, errlen, M2MSEC_ERR_USAGE, "a raw public key needs a key file");
        break;
    case M2MSEC_CRED_PSK:
        /* TS-0003 10.5: a KpsaID is text; RFC 4279 5.1: identity up to 2^16-1 bytes. */
        if (!cfg->psk_identity || !safe_text(cfg->psk_identity, 1024, false))
            return cl_fail(err, errlen, M2MSEC_ERR_USAGE, "invalid PSK identity");
        if (!cfg->psk_key || cfg->psk_key_len == 0 || cfg->psk_key_len > 64)
            return cl_fail(err, errlen, M2MSEC_ERR_USAGE, "a PSK must be 1 to 64 bytes");
        break;
    default: return cl_fail(err, errlen, M2MSEC_ERR_USAGE, "unknown credential kind");
    }
    if (cfg->server_pin && strncmp(cfg->server_pin, "ni:///sha-256;", 14) != 0)
        return cl_fail(err, errlen, M2MSEC_ERR_USAGE, "a server pin is ni:///sha-256;...");
    if (cfg->connect_timeout_ms <= 0 || cfg->timeout_ms <= 0 || cfg->max_response < 1024)
        return cl_fail(err, errlen, M2MSEC_ERR_USAGE, "invalid timeout or response limit");
    return M2MSEC_OK;
}

int m2msec_client_new(const struct m2msec_client_cfg *cfg, struct m2msec_client **out, char *errmsg,
                      size_t errlen)
{
    struct cl_settings s = {.cfg = cfg};
    struct m2msec_client *c = NULL;
    uint8_t rnd[6];
    int rc = M2MSEC_OK;
    if (out)
        *out = NULL;
    if (cfg == NULL || out == NULL)
        return cl_fail(errmsg, errlen, M2MSEC_ERR_USAGE, "no configuration");
    TRY(cl_url_parse(cfg->url, &s.url, errmsg, errlen));
    TRY(check_cfg(cfg, &s.url, errmsg, errlen));
    s.connect_timeout_ms = cfg->connect_timeout_ms;
    s.timeout_ms = cfg->timeout_ms;
    s.max_response = cfg->max_response;
    if ((c = calloc(1, sizeof *c)) == NULL)
        BAIL(cl_fail(errmsg, errlen, M2MSEC_ERR_NOMEM, "out of memory"));
    snprintf(c->rvi, sizeof c->rvi, "%s", cfg->rvi ? cfg->rvi : "3");
    if (cfg->originator && (c->origin = strdup(cfg->originator)) == NULL)
        BAIL(cl_fail(errmsg, errlen, M2MSEC_ERR_NOMEM, "out of memory"));
    if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof rnd) < 0)
        BAIL(cl_fail(errmsg, errlen, M2MSEC_ERR_NOMEM, "no random numbers"));
    snprintf(c->rqi_prefix, sizeof c->rqi_prefix, "m2msec-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5]);
    if (s.url.scheme == CL_HTTP || s.url.scheme == CL_HTTPS)
        TRY(cl_http_new(&s, &c->ops, &c->transport, errmsg, errlen));
    else
        TRY(cl_coap_new(&s, &c->ops, &c->transport, errmsg, errlen));
    *out = c;
    return M2MSEC_OK;
out:
    m2msec_client_free(c);
    return rc;
}

void m2msec_client_free(struct m2msec_client *c)
{
    if (c == NULL)
        return;
    if (c->ops)
        c->ops->free(c->transport);
    free(c->origin);
    free(c);
}

const char *m2msec_client_errmsg(const struct m2msec_client *c)
{
    return c ? c->errmsg : "no client";
}

int m2msec_client_set_originator(struct m2msec_client *c, const char *originator)
{
    char *d = NULL;
    if (c == NULL || (originator && !safe_text(originator, CL_ORIGIN_MAX, false)))
        return M2MSEC_ERR_USAGE;
    if (originator && (d = strdup(originator)) == NULL)
        return M2MSEC_ERR_NOMEM;
    free(c->origin);
    c->origin = d;
    return M2MSEC_OK;
}

const char *m2msec_client_originator(const struct m2msec_client *c)
{
    return c ? c->origin : NULL;
}

void m2msec_response_free(struct m2msec_response *r)
{
    if (r == NULL)
        return;
    free(r->body);
    free(r->location);
    free(r->rqi);
    free(r);
}

/* A target is sent as given with a leading '/'; the characters that would change the request's
 * framing or meaning (controls, space, '?', '#') are refused. */
static bool target_ok(const char *t)
{
    return t && safe_text(t, HTTP_URL_MAX - 2, false) && !strpbrk(t, "?#");
}

static bool query_ok(const char *q)
{
    return safe_text(q, HTTP_URL_MAX, false) && !strchr(q, '#');
}

/* Sends one request and records the outcome in c->errmsg. */
static int run(struct m2msec_client *c, struct cl_request *rq, struct m2msec_response **out)
{
    char path[HTTP_URL_MAX], rqi[CL_RQI_PREFIX + 24];
    struct m2msec_response *resp = NULL;
    int rc = M2MSEC_OK;
    if (out)
        *out = NULL;
    if (c == NULL || out == NULL)
        return M2MSEC_ERR_USAGE;
    c->errmsg[0] = 0;
    if (!target_ok(rq->path))
        return cl_fail(c->errmsg, sizeof c->errmsg, M2MSEC_ERR_USAGE, "invalid target");
    if (rq->query && rq->query[0] == 0)
        rq->query = NULL;
    if (rq->query && !query_ok(rq->query))
        return cl_fail(c->errmsg, sizeof c->errmsg, M2MSEC_ERR_USAGE, "invalid query");
    snprintf(path, sizeof path, "%s%s", rq->path[0] == '/' ? "" : "/", rq->path);
    snprintf(rqi, sizeof rqi, "%s-%lu", c->rqi_prefix, ++c->rqi_next);
    rq->path = path;
    rq->rqi = rqi;
    rq->rvi = c->rvi;
    rq->origin = c->origin;
    if ((resp = calloc(1, sizeof *resp)) == NULL)
        return cl_fail(c->errmsg, sizeof c->errmsg, M2MSEC_ERR_NOMEM, "out of memory");
    TRY(c->ops->exchange(c->transport, rq, resp, c->errmsg, sizeof c->errmsg));
    /* TS-0004 6.4.2: the response carries the Request Identifier of its request. */
    if (resp->rqi && strcmp(resp->rqi, rqi) != 0)
        BAIL(cl_fail(c->errmsg, sizeof c->errmsg, M2MSEC_ERR_PROTOCOL,
                     "the response carries another request identifier"));
    *out = resp;
    return M2MSEC_OK;
out:
    m2msec_response_free(resp);
    return rc;
}

static struct cl_request body_req(enum m2m_op op, const char *path, const char *json)
{
    struct cl_request rq = {.op = op, .path = path, .body = json};
    rq.body_len = json ? strlen(json) : 0;
    return rq;
}

int m2msec_create(struct m2msec_client *c, const char *parent, int ty, const char *json,
                  struct m2msec_response **resp)
{
    struct cl_request rq = body_req(M2M_OP_CREATE, parent, json);
    rq.ty = ty;
    if (ty <= 0 || ty > 65535 || json == NULL)
        return c ? cl_fail(c->errmsg, sizeof c->errmsg, M2MSEC_ERR_USAGE,
                           "create needs a resource type and a body")
                 : M2MSEC_ERR_USAGE;
    return run(c, &rq, resp);
}

int cl_errf(struct m2msec_client *c, int code, const char *fmt, ...)
{
    if (c != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
        va_end(ap);
    }
    return code;
}

int cl_side_run(struct m2msec_client *c, const char *path, struct cl_side_op *op,
                struct m2msec_response **resp)
{
    struct m2msec_response *r = NULL;
    if (resp != NULL)
        *resp = NULL;
    if (c == NULL || op == NULL || path == NULL)
        return M2MSEC_ERR_USAGE;
    c->errmsg[0] = 0;
    if (c->ops->side == NULL)
        return cl_errf(c, M2MSEC_ERR_UNSUPPORTED, "this operation needs an https:// client");
    if (!target_ok(path))
        return cl_errf(c, M2MSEC_ERR_USAGE, "invalid target");
    if ((r = calloc(1, sizeof *r)) == NULL)
        return cl_errf(c, M2MSEC_ERR_NOMEM, "out of memory");
    op->done = false;
    op->resp_ctype[0] = 0;
    int rc = c->ops->side(c->transport, op, path, r, c->errmsg, sizeof c->errmsg);
    if (rc == M2MSEC_OK && resp != NULL) {
        *resp = r;
        r = NULL;
    }
    m2msec_response_free(r);
    return rc;
}

int m2msec_retrieve(struct m2msec_client *c, const char *target, const char *query,
                    struct m2msec_response **resp)
{
    struct cl_request rq = {.op = M2M_OP_RETRIEVE, .path = target, .query = query};
    return run(c, &rq, resp);
}

int m2msec_update(struct m2msec_client *c, const char *target, const char *json,
                  struct m2msec_response **resp)
{
    struct cl_request rq = body_req(M2M_OP_UPDATE, target, json);
    if (json == NULL)
        return c ? cl_fail(c->errmsg, sizeof c->errmsg, M2MSEC_ERR_USAGE, "update needs a body")
                 : M2MSEC_ERR_USAGE;
    return run(c, &rq, resp);
}

int m2msec_delete(struct m2msec_client *c, const char *target, struct m2msec_response **resp)
{
    struct cl_request rq = {.op = M2M_OP_DELETE, .path = target};
    return run(c, &rq, resp);
}
