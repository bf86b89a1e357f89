/* http_map.c: maps a parsed HTTP request to a oneM2M request primitive (TS-0009 clause 6):
 * method, request-target path and query, X-M2M-* headers, Content-Type and body. */
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "bind/http/http.h"
#include "model/primparam.h"

/* Error reporting for one mapping run. */
struct mapctx {
    struct m2m_request *req;
    m2m_rsc *rsc;
    char *errmsg;
    size_t errlen;
    struct primparam_seen seen; /* query parameters: duplicate detection */
};

static m2m_rc bad(struct mapctx *c, m2m_rsc rsc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static m2m_rc bad(struct mapctx *c, m2m_rsc rsc, const char *fmt, ...)
{
    *c->rsc = rsc;
    if (c->errmsg != NULL && c->errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->errmsg, c->errlen, fmt, ap);
        va_end(ap);
    }
    return M2M_ERR_MALFORMED;
}

static bool ieq(const char *a, size_t alen, const char *b)
{
    if (alen != strlen(b))
        return false;
    return strncasecmp(a, b, alen) == 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* RFC 3986 2.1: percent-decodes s[0..n) into a new NUL-terminated string. Malformed escapes,
 * %00 and any decoded control byte are refused (M2M_ERR_MALFORMED): the result becomes an
 * identifier or label and must stay printable. */
static m2m_rc pct_decode(const char *s, size_t n, char **out)
{
    char *d = malloc(n + 1);
    size_t k = 0;
    if (d == NULL)
        return M2M_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '%') {
            int hi = n - i >= 3 ? hexval(s[i + 1]) : -1;
            int lo = n - i >= 3 ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                goto bad;
            ch = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (ch < 0x20 || ch == 0x7f)
            goto bad;
        d[k++] = (char)ch;
    }
    d[k] = 0;
    *out = d;
    return M2M_OK;
bad:
    free(d);
    return M2M_ERR_MALFORMED;
}

/* RFC 7230 3.2.6: tchar. */
static bool is_tchar(char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* TS-0009 6.2.1 Table 6.2.1-1: GET Retrieve, PUT Update, DELETE Delete, POST Create or Notify
 * (decided by ";ty=" later). [INTERP] Registered HTTP methods without a oneM2M meaning (HEAD,
 * OPTIONS, PATCH, TRACE, CONNECT) get 5001 NOT_IMPLEMENTED (RFC 7231 4.1: 501 for a method the
 * server does not implement); any other method token is a bad request (4000). Methods are
 * case-sensitive (RFC 7230 3.1.1). */
static m2m_rc map_method(struct mapctx *c, const struct http_msg *m)
{
    static const struct {
        const char *name;
        enum m2m_op op;
    } map[] = {{"GET", M2M_OP_RETRIEVE},
               {"PUT", M2M_OP_UPDATE},
               {"DELETE", M2M_OP_DELETE},
               {"POST", M2M_OP_NOTIFY}};
    static const char *const unsupported[] = {"HEAD", "OPTIONS", "PATCH", "TRACE", "CONNECT"};
    for (size_t i = 0; i < M2M_ARRAY_LEN(map); i++)
        if (m->method_len == strlen(map[i].name) &&
            memcmp(m->method, map[i].name, m->method_len) == 0) {
            c->req->op = map[i].op;
            return M2M_OK;
        }
    for (size_t i = 0; i < M2M_ARRAY_LEN(unsupported); i++)
        if (m->method_len == strlen(unsupported[i]) &&
            memcmp(m->method, unsupported[i], m->method_len) == 0)
            return bad(c, RSC_NOT_IMPLEMENTED, "method %s not supported", unsupported[i]);
    return bad(c, RSC_BAD_REQUEST, "unknown method");
}

/* [INTERP] The resource-ID part of To is a '/'-separated list of names: an empty segment, "."
 * or ".." never names a resource and would let two spellings reach one target, so they are
 * refused. */
static bool segments_ok(const char *p, size_t n)
{
    size_t s = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '/')
            continue;
        size_t l = i - s;
        if (l == 0 || (l == 1 && p[s] == '.') || (l == 2 && p[s] == '.' && p[s + 1] == '.'))
            return false;
        s = i + 1;
    }
    return true;
}

/* TS-0009 6.2.2.1: reverse of the To -> path mapping. "/~/x" is SP-relative (To "/x"), "/_/x"
 * absolute (To "//x"), "/x" CSE-relative (To "x"). The path is percent-decoded; an encoded '/'
 * (%2F) is refused because it would change the structure of the identifier. One trailing '/'
 * is dropped (Table 6.2.2.1-1 writes structured paths with one). */
static m2m_rc map_path(struct mapctx *c, const char *raw, size_t n)
{
    m2m_rc rc = M2M_OK;
    char *d = NULL;
    for (size_t i = 0; i + 2 < n; i++)
        if (raw[i] == '%' && raw[i + 1] == '2' && (raw[i + 2] | 0x20) == 'f')
            return bad(c, RSC_BAD_REQUEST, "encoded '/' in request path");
    rc = pct_decode(raw, n, &d);
    if (rc == M2M_ERR_MALFORMED)
        return bad(c, RSC_BAD_REQUEST, "malformed percent-encoding in request path");
    if (rc != M2M_OK)
        return rc;
    const char *prefix = "", *rest = d + 1;
    if (strncmp(d, "/~/", 3) == 0) {
        prefix = "/";
        rest = d + 3;
    } else if (strncmp(d, "/_/", 3) == 0) {
        prefix = "//";
        rest = d + 3;
    } else if (strcmp(d, "/~") == 0 || strcmp(d, "/_") == 0) {
        rest = "";
    }
    size_t rl = strlen(rest);
    if (rl > 0 && rest[rl - 1] == '/')
        rl--;
    if (!segments_ok(rest, rl)) {
        rc = bad(c, RSC_BAD_REQUEST, "invalid resource identifier in request path");
        goto out;
    }
    size_t pl = strlen(prefix);
    c->req->to = malloc(pl + rl + 1);
    ENSURE_NONNULL(c->req->to);
    memcpy(c->req->to, prefix, pl);
    memcpy(c->req->to + pl, rest, rl);
    c->req->to[pl + rl] = 0;
out:
    free(d);
    return rc;
}

/* A ty or lbl value (TS-0009 6.2.2.2: "ty=2+3+4"): split at '+' before percent-decoding, so
 * that "%2B" stays a '+' inside one label; each decoded item is added as it is. */
static m2m_rc list_param(struct mapctx *c, const char *key, const char *v, size_t n)
{
    size_t s = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && v[i] != '+')
            continue;
        char *d = NULL;
        m2m_rc rc = pct_decode(v + s, i - s, &d);
        if (rc == M2M_ERR_NOMEM)
            return rc;
        if (rc == M2M_ERR_MALFORMED || d[0] == 0) {
            free(d);
            return bad(c, RSC_BAD_REQUEST, "invalid value in query parameter '%s'", key);
        }
        rc = primparam_rc(c->rsc, primparam_add_item(c->req, key, strlen(key), d, strlen(d),
                                                     c->errmsg, c->errlen));
        free(d);
        RETURN_IF_ERR(rc);
        s = i + 1;
    }
    return M2M_OK;
}

/* One "name=value" pair of the query string: both are percent-decoded here, the parameter
 * itself is primparam's. A value that does not decode is passed on as empty, which every
 * single-valued parameter refuses after the name and duplicate checks. */
static m2m_rc map_param(struct mapctx *c, const char *s, size_t n)
{
    const char *eq = memchr(s, '=', n);
    char *key = NULL, *val = NULL;
    if (eq == NULL)
        return bad(c, RSC_BAD_REQUEST, "query parameter without '='");
    m2m_rc rc = pct_decode(s, (size_t)(eq - s), &key);
    if (rc == M2M_ERR_MALFORMED)
        return bad(c, RSC_BAD_REQUEST, "malformed percent-encoding in query");
    if (rc != M2M_OK)
        return rc;
    const char *v = eq + 1;
    size_t vn = n - (size_t)(v - s), kn = strlen(key);
    if (primparam_is_list(key, kn)) {
        rc = list_param(c, key, v, vn);
        goto out;
    }
    rc = pct_decode(v, vn, &val);
    if (rc == M2M_ERR_NOMEM)
        goto out;
    m2m_rsc r = primparam_apply(c->req, key, kn, val ? val : "", val ? strlen(val) : 0, false, NULL,
                                &c->seen, c->errmsg, c->errlen);
    rc = primparam_rc(c->rsc, r);
out:
    free(key);
    free(val);
    return rc;
}

/* Pairs are '&'-separated (TS-0009 6.2.2.2); empty pairs ("a=1&&b=2", a trailing '&') are
 * skipped. */
static m2m_rc map_query(struct mapctx *c, const char *q, size_t n)
{
    size_t s = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && q[i] != '&')
            continue;
        if (i > s)
            RETURN_IF_ERR(map_param(c, q + s, i - s));
        s = i + 1;
    }
    return M2M_OK;
}

#define RQ(f) offsetof(struct m2m_request, f)

/* X-M2M-* request headers (TS-0009 6.4.7-6.4.23). Unknown headers are ignored (6.4.0). */
enum hkind { H_STR, H_RVI, H_TIME };

static const struct hdef {
    const char *name;
    enum hkind kind;
    size_t off;
} header_defs[] = {
    {"X-M2M-Origin", H_STR, RQ(fr)}, /* 6.4.7 */
    {"X-M2M-RI", H_STR, RQ(rqi)},    /* 6.4.8 */
    {"X-M2M-RTU", H_STR, RQ(rtu)},   /* 6.4.11, '&'-joined, kept as is */
    {"X-M2M-RST", H_TIME, RQ(rset)}, /* 6.4.13 */
    {"X-M2M-RET", H_TIME, RQ(rqet)}, /* 6.4.14 */
    {"X-M2M-OET", H_TIME, RQ(oet)},  /* 6.4.15 */
    {"X-M2M-RVI", H_RVI, RQ(rvi)},   /* 6.4.22 */
    {"X-M2M-VSI", H_STR, RQ(vsi)},   /* 6.4.23 */
};

static m2m_rc map_header(struct mapctx *c, const struct hdef *d, const struct http_header *h)
{
    char *base = (char *)c->req;
    if (d->kind == H_TIME) {
        if (!primparam_abs_rel(c->req, h->value, h->value_len, (int64_t *)(base + d->off)))
            return bad(c, RSC_BAD_REQUEST, "invalid timestamp in %s", d->name);
        return M2M_OK;
    }
    if (d->kind == H_RVI) {
        /* Release 3 and later only ("3", "4", "5"); else 4001. Absent: the CSE decides. */
        if (!ieq(h->value, h->value_len, "3") && !ieq(h->value, h->value_len, "4") &&
            !ieq(h->value, h->value_len, "5"))
            return bad(c, RSC_RELEASE_VERSION_NOT_SUPPORTED, "release version not supported");
    }
    if (memchr(h->value, '\t', h->value_len) != NULL)
        return bad(c, RSC_BAD_REQUEST, "invalid character in %s", d->name);
    if (h->value_len == 0)
        return M2M_OK; /* [INTERP] an empty value is the same as an absent header */
    char *s = strndup(h->value, h->value_len);
    if (s == NULL)
        return M2M_ERR_NOMEM;
    *(char **)(base + d->off) = s;
    return M2M_OK;
}

/* Every known header at most once: two X-M2M-Origin fields would let the binding and a later
 * reader disagree on who is asking. */
static m2m_rc map_headers(struct mapctx *c, const struct http_msg *m)
{
    for (size_t k = 0; k < M2M_ARRAY_LEN(header_defs); k++) {
        const struct http_header *found = NULL;
        for (size_t i = 0; i < m->n_headers; i++) {
            const struct http_header *h = &m->headers[i];
            if (!ieq(h->name, h->name_len, header_defs[k].name))
                continue;
            if (found != NULL)
                return bad(c, RSC_BAD_REQUEST, "duplicate header %s", header_defs[k].name);
            found = h;
        }
        if (found != NULL)
            RETURN_IF_ERR(map_header(c, &header_defs[k], found));
    }
    return M2M_OK;
}

struct ctype {
    bool json;
    int ty;
};

static size_t skip_ows(const char *v, size_t n, size_t i)
{
    while (i < n && (v[i] == ' ' || v[i] == '\t'))
        i++;
    return i;
}

/* parameter value: token or quoted-string (RFC 7231 3.1.1.1). Returns the end, 0 if bad. */
static size_t param_value_end(const char *v, size_t n, size_t i)
{
    if (i < n && v[i] == '"') {
        for (i++; i < n; i++) {
            if (v[i] == '\\')
                i++;
            else if (v[i] == '"')
                return i + 1;
        }
        return 0;
    }
    size_t s = i;
    while (i < n && is_tchar(v[i]))
        i++;
    return i > s ? i : 0;
}

/* Content-Type: type "/" subtype *( OWS ";" OWS name "=" value ) (RFC 7231 3.1.1.1), names
 * case-insensitive; whitespace around ';' and '=' tolerated. TS-0009 6.4.3: ";ty=N" carries the
 * resource type of a Create (an integer 1..65535 here, else 4000). */
static m2m_rc parse_ctype(struct mapctx *c, const char *v, size_t n, struct ctype *ct)
{
    size_t i = 0;
    bool have_ty = false;
    while (i < n && is_tchar(v[i]))
        i++;
    if (i == 0 || i == n || v[i] != '/')
        return bad(c, RSC_BAD_REQUEST, "malformed Content-Type");
    size_t sub = ++i;
    while (i < n && is_tchar(v[i]))
        i++;
    if (i == sub)
        return bad(c, RSC_BAD_REQUEST, "malformed Content-Type");
    ct->json = ieq(v, i, "application/json") || ieq(v, i, "application/vnd.onem2m-res+json");
    for (;;) {
        i = skip_ows(v, n, i);
        if (i == n)
            return M2M_OK;
        if (v[i] != ';')
            return bad(c, RSC_BAD_REQUEST, "malformed Content-Type");
        i = skip_ows(v, n, i + 1);
        if (i == n)
            return M2M_OK; /* a trailing ';' */
        size_t ns = i;
        while (i < n && is_tchar(v[i]))
            i++;
        size_t ne = i;
        i = skip_ows(v, n, i);
        if (ne == ns || i == n || v[i] != '=')
            return bad(c, RSC_BAD_REQUEST, "malformed Content-Type parameter");
        size_t vs = skip_ows(v, n, i + 1), ve = param_value_end(v, n, vs);
        if (ve == 0)
            return bad(c, RSC_BAD_REQUEST, "malformed Content-Type parameter");
        if (ieq(v + ns, ne - ns, "ty")) {
            int64_t ty = 0;
            if (have_ty || !primparam_uint(v + vs, ve - vs, 1, 65535, &ty))
                return bad(c, RSC_BAD_REQUEST, "invalid ty in Content-Type");
            have_ty = true;
            ct->ty = (int)ty;
        }
        i = ve;
    }
}

/* TS-0009 6.2.1/6.4.3/6.5: POST with ";ty=" is Create, without is Notify; a body must be JSON
 * (application/json or application/vnd.onem2m-res+json), else 4015. The body is copied. */
static m2m_rc map_content(struct mapctx *c, const struct http_msg *m)
{
    struct ctype ct = {false, 0};
    const struct http_header *h = NULL;
    for (size_t i = 0; i < m->n_headers; i++) {
        if (!ieq(m->headers[i].name, m->headers[i].name_len, "Content-Type"))
            continue;
        if (h != NULL)
            return bad(c, RSC_BAD_REQUEST, "duplicate header Content-Type");
        h = &m->headers[i];
    }
    if (h != NULL)
        RETURN_IF_ERR(parse_ctype(c, h->value, h->value_len, &ct));
    if (c->req->op == M2M_OP_NOTIFY && ct.ty != 0) {
        c->req->op = M2M_OP_CREATE;
        c->req->ty = ct.ty;
    }
    if (m->body_len == 0)
        return M2M_OK;
    if (!ct.json)
        return bad(c, RSC_UNSUPPORTED_MEDIA_TYPE, "unsupported or missing Content-Type");
    c->req->pc = malloc(m->body_len);
    if (c->req->pc == NULL)
        return M2M_ERR_NOMEM;
    memcpy(c->req->pc, m->body, m->body_len);
    c->req->pc_len = m->body_len;
    c->req->content_format = 1;
    return M2M_OK;
}

/* Maps into a fresh primitive and moves it to *req only on success, so *req is untouched on
 * failure. req->sec and req->t_recv_us (set by the caller, possibly before this call) are
 * kept; every other field of *req is overwritten without being freed. */
m2m_rc http_to_request(const struct http_msg *m, struct m2m_request *req, m2m_rsc *rsc,
                       char *errmsg, size_t errlen)
{
    m2m_rc rc = M2M_OK;
    struct m2m_request r;
    m2m_request_init(&r);
    r.sec = req->sec;
    r.t_recv_us = req->t_recv_us;
    struct mapctx c = {&r, rsc, errmsg, errlen, {0}};
    *rsc = RSC_NONE;
    if (errmsg != NULL && errlen > 0)
        errmsg[0] = 0;
    const char *q = m->target_len ? memchr(m->target, '?', m->target_len) : NULL;
    size_t plen = q ? (size_t)(q - m->target) : m->target_len;
    TRY(map_method(&c, m));
    if (m->target == NULL || m->target_len == 0 || m->target[0] != '/')
        BAIL(bad(&c, RSC_BAD_REQUEST, "request-target is not origin-form"));
    TRY(map_path(&c, m->target, plen));
    TRY(map_headers(&c, m));
    TRY(map_content(&c, m));
    if (q != NULL)
        TRY(map_query(&c, q + 1, m->target_len - plen - 1));
    *req = r;
    return M2M_OK;
out:
    if (rc == M2M_ERR_NOMEM)
        (void)bad(&c, RSC_INTERNAL_SERVER_ERROR, "out of memory");
    m2m_request_clear(&r);
    return rc;
}
