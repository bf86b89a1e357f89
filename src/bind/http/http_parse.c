/* http_parse.c: bounded, incremental HTTP/1.1 framing of requests and responses (RFC 7230 3/4),
 * chunked body walking for the client, and header lookup. No allocation, no peer strlen. */
#include <string.h>

#include "bind/http/http.h"
#include "bind/http/http_client.h"

/* Longest chunk-size line (size, extensions) we accept in a chunked response. */
#define HTTP_CHUNK_LINE_MAX 256

void http_limits_default(struct http_limits *l)
{
    l->max_header_bytes = 16384;
    l->max_headers = 64;
    l->max_uri = 4096;
    l->max_body = 1u << 20;
}

/* RFC 7230 3.2.6: tchar. */
static bool is_tchar(uint8_t c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 7230 3.2: field-vchar (VCHAR / obs-text), SP and HTAB may appear in a field value. */
static bool is_field_byte(uint8_t c)
{
    return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f);
}

/* RFC 3986 3.3/3.4: characters of an origin-form request-target (pchar, '/', '?', '%'). */
static bool is_target_byte(uint8_t c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("-._~!$&'()*+,;=:@/?%", c) != NULL;
}

static bool ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

const struct http_header *http_find_header(const struct http_msg *m, const char *name)
{
    for (size_t i = 0; i < m->n_headers; i++)
        if (ieq(m->headers[i].name, m->headers[i].name_len, name))
            return &m->headers[i];
    return NULL;
}

static size_t count_header(const struct http_msg *m, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_headers; i++)
        if (ieq(m->headers[i].name, m->headers[i].name_len, name))
            n++;
    return n;
}

enum line_rc { LINE_OK, LINE_PARTIAL, LINE_BAD };

/* Finds the CRLF ending the line that starts at pos. RFC 7230 3.5: we accept CRLF only; a bare
 * LF or a CR not followed by LF is malformed (no lenient line endings: they enable smuggling). */
static enum line_rc next_line(const uint8_t *in, size_t len, size_t pos, size_t *eol)
{
    for (size_t i = pos; i < len; i++) {
        if (in[i] == '\n')
            return LINE_BAD;
        if (in[i] == '\r') {
            if (i + 1 == len)
                return LINE_PARTIAL;
            if (in[i + 1] != '\n')
                return LINE_BAD;
            *eol = i;
            return LINE_OK;
        }
    }
    return LINE_PARTIAL;
}

/* Checks an incomplete first line as far as it goes: method bytes, then the target length
 * (414 early, before the line ends) and bytes. Returns 0 when still plausible. */
static int check_partial_request_line(const uint8_t *in, size_t len, const struct http_limits *lim)
{
    size_t i = 0;
    while (i < len && is_tchar(in[i]))
        i++;
    if (i == len)
        return 0;
    if (in[i] != ' ' || i == 0)
        return 400;
    size_t t = ++i;
    while (i < len && in[i] != ' ') {
        if (!is_target_byte(in[i]))
            return 400;
        if (i - t + 1 > lim->max_uri)
            return 414;
        i++;
    }
    for (; i < len; i++)
        if (in[i] < 0x21 && in[i] != ' ')
            return 400;
    return 0;
}

/* Checks an incomplete header line: obs-fold, name bytes, value bytes. */
static int check_partial_header_line(const uint8_t *in, size_t len)
{
    if (len == 0)
        return 0;
    if (in[0] == ' ' || in[0] == '\t')
        return 400; /* RFC 7230 3.2.4: obs-fold is rejected */
    size_t i = 0;
    while (i < len && is_tchar(in[i]))
        i++;
    if (i == len)
        return 0;
    if (in[i] != ':')
        return 400;
    for (i++; i < len; i++)
        if (!is_field_byte(in[i]))
            return 400;
    return 0;
}

/* RFC 7230 2.6: HTTP-version = "HTTP/" DIGIT "." DIGIT. Only 1.0 and 1.1 are served (505). */
static int parse_version(const uint8_t *v, size_t n, int *minor)
{
    if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
        v[7] < '0' || v[7] > '9')
        return 400;
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
        return 505;
    *minor = v[7] - '0';
    return 0;
}

/* request-line = method SP request-target SP HTTP-version (RFC 7230 3.1.1), origin-form only
 * (TS-0009 6.2.2.1: requests reach us directly, not as a proxy). */
static int parse_request_line(const uint8_t *in, size_t e, const struct http_limits *lim,
                              struct http_msg *msg)
{
    size_t i = 0;
    while (i < e && is_tchar(in[i]))
        i++;
    if (i == 0 || i == e || in[i] != ' ')
        return 400;
    msg->method = (const char *)in;
    msg->method_len = i;
    size_t t = ++i;
    while (i < e && in[i] != ' ')
        i++;
    size_t tlen = i - t;
    if (tlen > lim->max_uri)
        return 414;
    if (tlen == 0 || i == e || in[t] != '/')
        return 400;
    for (size_t k = t; k < i; k++)
        if (!is_target_byte(in[k]))
            return 400;
    msg->target = (const char *)in + t;
    msg->target_len = tlen;
    return parse_version(in + i + 1, e - i - 1, &msg->version_minor);
}

/* status-line = HTTP-version SP status-code SP reason-phrase (RFC 7230 3.1.2). A missing
 * " reason" is tolerated (some servers omit it). */
static int parse_status_line(const uint8_t *in, size_t e, struct http_msg *msg)
{
    if (e < 12 || in[8] != ' ')
        return 400;
    int rc = parse_version(in, 8, &msg->version_minor);
    if (rc != 0)
        return rc;
    int st = 0;
    for (size_t i = 9; i < 12; i++) {
        if (in[i] < '0' || in[i] > '9')
            return 400;
        st = st * 10 + (in[i] - '0');
    }
    if (st < 100 || st > 599)
        return 400;
    if (e > 12 && in[12] != ' ')
        return 400;
    for (size_t i = 13; i < e; i++)
        if (!is_field_byte(in[i]))
            return 400;
    msg->status = st;
    return 0;
}

/* field-name ":" OWS field-value OWS (RFC 7230 3.2). No whitespace before ':' (3.2.4). */
static int parse_header_line(const uint8_t *in, size_t n, struct http_header *h)
{
    size_t i = 0;
    while (i < n && is_tchar(in[i]))
        i++;
    if (i == 0 || i == n || in[i] != ':')
        return 400;
    size_t v = i + 1, ve = n;
    for (size_t k = v; k < n; k++)
        if (!is_field_byte(in[k]))
            return 400;
    while (v < ve && (in[v] == ' ' || in[v] == '\t'))
        v++;
    while (ve > v && (in[ve - 1] == ' ' || in[ve - 1] == '\t'))
        ve--;
    h->name = (const char *)in;
    h->name_len = i;
    h->value = (const char *)in + v;
    h->value_len = ve - v;
    return 0;
}

/* Parses the start line and header section. Returns DONE with *head_len (through the blank
 * line), NEED_MORE, or ERROR with *st. The head may not exceed max_header_bytes (431). */
static enum http_parse_result parse_head(const uint8_t *in, size_t len, bool request,
                                         const struct http_limits *lim, struct http_msg *msg,
                                         size_t *head_len, int *st)
{
    size_t max_h =
        lim->max_headers < HTTP_MAX_HEADERS_HARD ? lim->max_headers : HTTP_MAX_HEADERS_HARD;
    size_t eol = 0;
    enum line_rc lr = next_line(in, len, 0, &eol);
    if (lr == LINE_BAD)
        return *st = 400, HTTP_PARSE_ERROR;
    if (lr == LINE_PARTIAL) {
        size_t plen = (len > 0 && in[len - 1] == '\r') ? len - 1 : len; /* CR awaiting its LF */
        int e = request ? check_partial_request_line(in, plen, lim) : 0;
        if (e == 0 && len >= lim->max_header_bytes)
            e = 431;
        return e ? (*st = e, HTTP_PARSE_ERROR) : HTTP_PARSE_NEED_MORE;
    }
    int e = request ? parse_request_line(in, eol, lim, msg) : parse_status_line(in, eol, msg);
    if (e != 0)
        return *st = e, HTTP_PARSE_ERROR;
    size_t pos = eol + 2;
    for (;;) {
        if (pos > lim->max_header_bytes)
            return *st = 431, HTTP_PARSE_ERROR;
        lr = next_line(in, len, pos, &eol);
        if (lr == LINE_BAD)
            return *st = 400, HTTP_PARSE_ERROR;
        if (lr == LINE_PARTIAL) {
            size_t plen = in[len - 1] == '\r' ? len - 1 - pos : len - pos;
            e = check_partial_header_line(in + pos, plen);
            if (e == 0 && len >= lim->max_header_bytes)
                e = 431;
            return e ? (*st = e, HTTP_PARSE_ERROR) : HTTP_PARSE_NEED_MORE;
        }
        if (eol == pos)
            break;
        if (msg->n_headers >= max_h)
            return *st = 431, HTTP_PARSE_ERROR;
        if (in[pos] == ' ' || in[pos] == '\t')
            return *st = 400, HTTP_PARSE_ERROR; /* RFC 7230 3.2.4: obs-fold */
        e = parse_header_line(in + pos, eol - pos, &msg->headers[msg->n_headers]);
        if (e != 0)
            return *st = e, HTTP_PARSE_ERROR;
        msg->n_headers++;
        pos = eol + 2;
    }
    *head_len = eol + 2;
    if (*head_len > lim->max_header_bytes)
        return *st = 431, HTTP_PARSE_ERROR;
    return HTTP_PARSE_DONE;
}

/* RFC 7230 3.3.2: Content-Length = 1*DIGIT; at most one field (even equal duplicates are
 * refused: a proxy in front may have chosen the other). Returns 0, 400, or 413 over max. */
static int content_length(const struct http_msg *m, size_t max, bool *present, size_t *cl)
{
    *present = false;
    size_t n = count_header(m, "Content-Length");
    if (n == 0)
        return 0;
    if (n > 1)
        return 400;
    const struct http_header *h = http_find_header(m, "Content-Length");
    if (h->value_len == 0)
        return 400;
    size_t v = 0;
    bool over = false;
    for (size_t i = 0; i < h->value_len; i++) {
        uint8_t c = (uint8_t)h->value[i];
        if (c < '0' || c > '9')
            return 400;
        if (v > (SIZE_MAX - 9) / 10)
            over = true;
        else
            v = v * 10 + (size_t)(c - '0');
    }
    if (over || v > max)
        return 413;
    *present = true;
    *cl = v;
    return 0;
}

/* True when any Connection field lists token (case-insensitive; RFC 7230 6.1). */
static bool connection_has(const struct http_msg *m, const char *token)
{
    for (size_t i = 0; i < m->n_headers; i++) {
        const struct http_header *h = &m->headers[i];
        if (!ieq(h->name, h->name_len, "Connection"))
            continue;
        size_t p = 0;
        while (p < h->value_len) {
            size_t q = p;
            while (q < h->value_len && h->value[q] != ',')
                q++;
            size_t a = p, b = q;
            while (a < b && (h->value[a] == ' ' || h->value[a] == '\t'))
                a++;
            while (b > a && (h->value[b - 1] == ' ' || h->value[b - 1] == '\t'))
                b--;
            if (ieq(h->value + a, b - a, token))
                return true;
            p = q + 1;
        }
    }
    return false;
}

/* RFC 7230 6.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive". */
static bool keep_alive(const struct http_msg *m)
{
    if (connection_has(m, "close"))
        return false;
    return m->version_minor == 1 || connection_has(m, "keep-alive");
}

static bool method_is(const struct http_msg *m, const char *name)
{
    size_t n = strlen(name);
    return m->method_len == n && memcmp(m->method, name, n) == 0;
}

/* Semantic checks on a request head: Host, Content-Length, Transfer-Encoding. */
static int check_request_head(const struct http_msg *m, const struct http_limits *lim, bool *has_cl,
                              size_t *cl)
{
    /* RFC 7230 5.4: exactly one Host in HTTP/1.1, never more than one. */
    size_t hosts = count_header(m, "Host");
    if (hosts > 1 || (m->version_minor == 1 && hosts == 0))
        return 400;
    int e = content_length(m, lim->max_body, has_cl, cl);
    if (count_header(m, "Transfer-Encoding") > 0) {
        /* RFC 7230 3.3.3: CL together with TE is a smuggling attempt (400). We never accept a
         * chunked (or otherwise transfer-coded) request body: 501. */
        if (*has_cl || e != 0 || count_header(m, "Content-Length") > 0)
            return 400;
        return 501;
    }
    if (e != 0)
        return e;
    /* RFC 7230 3.3.2 / RFC 7231 6.5.10: POST and PUT carry a payload, so they must say how
     * long it is; without Content-Length the body is ambiguous: 411. */
    if (!*has_cl && (method_is(m, "POST") || method_is(m, "PUT")))
        return 411;
    return 0;
}

enum http_parse_result http_parse_request(const uint8_t *in, size_t len,
                                          const struct http_limits *lim, struct http_msg *msg,
                                          size_t *consumed, int *err_status)
{
    size_t head = 0, cl = 0;
    bool has_cl = false;
    memset(msg, 0, sizeof *msg);
    *consumed = 0;
    *err_status = 0;
    enum http_parse_result r = parse_head(in, len, true, lim, msg, &head, err_status);
    if (r != HTTP_PARSE_DONE)
        return r;
    int e = check_request_head(msg, lim, &has_cl, &cl);
    if (e != 0)
        return *err_status = e, HTTP_PARSE_ERROR;
    if (len - head < cl)
        return HTTP_PARSE_NEED_MORE;
    msg->body = cl ? in + head : NULL;
    msg->body_len = cl;
    msg->keep_alive = keep_alive(msg);
    *consumed = head + cl;
    return HTTP_PARSE_DONE;
}

/* Parses a chunk-size line "1*HEXDIG [ chunk-ext ]" (RFC 7230 4.1). */
static int chunk_size(const uint8_t *in, size_t n, size_t max, size_t *size)
{
    size_t i = 0, v = 0;
    while (i < n && i < 16 &&
           ((in[i] >= '0' && in[i] <= '9') || ((in[i] | 0x20) >= 'a' && (in[i] | 0x20) <= 'f'))) {
        uint8_t c = (uint8_t)(in[i] | 0x20);
        v = v * 16 + (size_t)(c <= '9' ? c - '0' : c - 'a' + 10);
        i++;
    }
    if (i == 0)
        return 400;
    if (i < n && in[i] != ';' && in[i] != ' ' && in[i] != '\t')
        return (i == 16) ? 413 : 400;
    for (; i < n; i++)
        if (!is_field_byte(in[i]))
            return 400;
    if (v > max)
        return 413;
    *size = v;
    return 0;
}

/* Skips the trailer section (header-like lines, then a blank line) starting at *pos. */
static enum http_parse_result skip_trailers(const uint8_t *in, size_t len, size_t *pos, size_t max,
                                            int *st)
{
    size_t start = *pos, eol = 0;
    for (;;) {
        enum line_rc lr = next_line(in, len, *pos, &eol);
        if (lr == LINE_BAD)
            return *st = 400, HTTP_PARSE_ERROR;
        if (lr == LINE_PARTIAL)
            return len - start > max ? (*st = 431, HTTP_PARSE_ERROR) : HTTP_PARSE_NEED_MORE;
        if (eol == *pos) {
            *pos = eol + 2;
            return HTTP_PARSE_DONE;
        }
        struct http_header h;
        if (parse_header_line(in + *pos, eol - *pos, &h) != 0)
            return *st = 400, HTTP_PARSE_ERROR;
        *pos = eol + 2;
        if (*pos - start > max)
            return *st = 431, HTTP_PARSE_ERROR;
    }
}

enum http_parse_result http_chunked_decode(const uint8_t *in, size_t len, size_t max_decoded,
                                           size_t max_encoded, struct m2m_buf *out,
                                           size_t *consumed, int *err_status)
{
    size_t pos = 0, total = 0, eol = 0;
    *consumed = 0;
    *err_status = 0;
    for (;;) {
        if (pos > max_encoded)
            return *err_status = 413, HTTP_PARSE_ERROR;
        enum line_rc lr = next_line(in, len, pos, &eol);
        if (lr == LINE_BAD)
            return *err_status = 400, HTTP_PARSE_ERROR;
        if (lr == LINE_PARTIAL)
            return len - pos > HTTP_CHUNK_LINE_MAX ? (*err_status = 400, HTTP_PARSE_ERROR)
                                                   : HTTP_PARSE_NEED_MORE;
        size_t sz = 0;
        if (eol - pos > HTTP_CHUNK_LINE_MAX)
            return *err_status = 400, HTTP_PARSE_ERROR;
        int e = chunk_size(in + pos, eol - pos, max_decoded - total, &sz);
        if (e != 0)
            return *err_status = e, HTTP_PARSE_ERROR;
        pos = eol + 2;
        if (sz == 0)
            break;
        if (len - pos < sz + 2)
            return HTTP_PARSE_NEED_MORE;
        if (in[pos + sz] != '\r' || in[pos + sz + 1] != '\n')
            return *err_status = 400, HTTP_PARSE_ERROR;
        if (out != NULL && m2m_buf_append(out, in + pos, sz) != M2M_OK)
            return *err_status = 413, HTTP_PARSE_ERROR;
        total += sz;
        pos += sz + 2;
    }
    enum http_parse_result r = skip_trailers(in, len, &pos, HTTP_CHUNK_LINE_MAX * 16, err_status);
    if (r == HTTP_PARSE_DONE)
        *consumed = pos;
    return r;
}

/* RFC 7230 3.3.3 for responses: no body for 1xx/204/304; chunked; Content-Length; else the body
 * runs to EOF. Sets body fields and *consumed on DONE. */
static enum http_parse_result response_body(const uint8_t *in, size_t len, size_t head, bool at_eof,
                                            const struct http_limits *lim, struct http_msg *msg,
                                            size_t *consumed, int *st)
{
    size_t cl = 0, used = 0;
    bool has_cl = false;
    int e = content_length(msg, lim->max_body, &has_cl, &cl);
    size_t te = count_header(msg, "Transfer-Encoding");
    if (msg->status < 200 || msg->status == 204 || msg->status == 304) {
        *consumed = head;
        return HTTP_PARSE_DONE;
    }
    if (te > 0) {
        const struct http_header *h = http_find_header(msg, "Transfer-Encoding");
        if (has_cl || count_header(msg, "Content-Length") > 0)
            return *st = 400, HTTP_PARSE_ERROR;
        if (te > 1 || !ieq(h->value, h->value_len, "chunked"))
            return *st = 501, HTTP_PARSE_ERROR;
        enum http_parse_result r =
            http_chunked_decode(in + head, len - head, lim->max_body,
                                lim->max_body + lim->max_header_bytes, NULL, &used, st);
        if (r == HTTP_PARSE_NEED_MORE && at_eof)
            return *st = 400, HTTP_PARSE_ERROR;
        if (r != HTTP_PARSE_DONE)
            return r;
        msg->keep_alive = keep_alive(msg);
        cl = used; /* the raw chunked encoding: decode with http_chunked_decode */
    } else if (e != 0) {
        return *st = e, HTTP_PARSE_ERROR;
    } else if (has_cl) {
        if (len - head < cl)
            return at_eof ? (*st = 400, HTTP_PARSE_ERROR) : HTTP_PARSE_NEED_MORE;
        msg->keep_alive = keep_alive(msg);
    } else {
        if (len - head > lim->max_body)
            return *st = 413, HTTP_PARSE_ERROR;
        if (!at_eof)
            return HTTP_PARSE_NEED_MORE;
        cl = len - head;
        msg->keep_alive = false;
    }
    msg->body = cl ? in + head : NULL;
    msg->body_len = cl;
    *consumed = head + cl;
    return HTTP_PARSE_DONE;
}

enum http_parse_result http_parse_response(const uint8_t *in, size_t len, bool at_eof,
                                           const struct http_limits *lim, struct http_msg *msg,
                                           size_t *consumed, int *err_status)
{
    size_t head = 0;
    memset(msg, 0, sizeof *msg);
    *consumed = 0;
    *err_status = 0;
    enum http_parse_result r = parse_head(in, len, false, lim, msg, &head, err_status);
    if (r == HTTP_PARSE_NEED_MORE && at_eof)
        return *err_status = 400, HTTP_PARSE_ERROR;
    if (r != HTTP_PARSE_DONE)
        return r;
    if (count_header(msg, "Content-Length") > 1)
        return *err_status = 400, HTTP_PARSE_ERROR;
    return response_body(in, len, head, at_eof, lim, msg, consumed, err_status);
}
