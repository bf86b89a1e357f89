/* fuzz_http_map.c: fuzzes the HTTP -> primitive mapping. Input: method "\n" target "\n" header
 * lines ("name: value", '\n'-separated) "\n\n" body. Mapped twice: from a message built directly
 * (bytes the parser would refuse reach the mapper) and from the same text framed by the parser. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bind/http/http.h"

static struct http_msg msg;

static void map_once(const struct http_msg *m)
{
    struct m2m_request req;
    m2m_rsc rsc = RSC_NONE;
    char err[96];
    m2m_request_init(&req);
    m2m_rc rc = http_to_request(m, &req, &rsc, err, sizeof err);
    if (rc == M2M_OK && (req.to == NULL || req.op == M2M_OP_NONE))
        abort();
    if (rc == M2M_ERR_MALFORMED && rsc == RSC_NONE)
        abort();
    m2m_request_clear(&req);
}

/* Splits data into the direct message; returns the body offset. */
static size_t build_direct(const char *d, size_t n)
{
    size_t p = 0, line = 0;
    memset(&msg, 0, sizeof msg);
    while (p < n) {
        const char *nl = memchr(d + p, '\n', n - p);
        size_t e = nl ? (size_t)(nl - d) : n;
        if (line == 0) {
            msg.method = d + p;
            msg.method_len = e - p;
        } else if (line == 1) {
            msg.target = d + p;
            msg.target_len = e - p;
        } else if (e == p) {
            p = e + 1;
            break;
        } else if (msg.n_headers < HTTP_MAX_HEADERS_HARD) {
            const char *c = memchr(d + p, ':', e - p);
            struct http_header *h = &msg.headers[msg.n_headers++];
            h->name = d + p;
            h->name_len = c ? (size_t)(c - (d + p)) : e - p;
            h->value = c ? c + 1 : d + e;
            h->value_len = c ? (size_t)(d + e - (c + 1)) : 0;
            while (h->value_len && h->value[0] == ' ')
                h->value++, h->value_len--;
        }
        line++;
        p = nl ? e + 1 : n;
    }
    if (p > n)
        p = n;
    msg.body = (const uint8_t *)d + p;
    msg.body_len = n - p;
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    const char *d = (const char *)data;
    size_t body = build_direct(d, size);
    map_once(&msg);
    /* the same pieces as wire text */
    struct m2m_buf raw = M2M_BUF_INIT;
    struct http_limits lim;
    size_t used = 0;
    int st = 0;
    http_limits_default(&lim);
    size_t nh = msg.n_headers;
    struct http_header hs[16];
    if (nh > 16)
        nh = 16;
    memcpy(hs, msg.headers, nh * sizeof hs[0]);
    if (m2m_buf_appendf(&raw, "%.*s %.*s HTTP/1.1\r\nHost: h\r\n", (int)msg.method_len,
                        msg.method ? msg.method : "", (int)msg.target_len,
                        msg.target ? msg.target : "") != M2M_OK)
        abort();
    for (size_t i = 0; i < nh; i++)
        if (m2m_buf_appendf(&raw, "%.*s: %.*s\r\n", (int)hs[i].name_len, hs[i].name,
                            (int)hs[i].value_len, hs[i].value) != M2M_OK)
            abort();
    if (m2m_buf_appendf(&raw, "Content-Length: %zu\r\n\r\n", size - body) != M2M_OK ||
        m2m_buf_append(&raw, data + body, size - body) != M2M_OK)
        abort();
    if (http_parse_request(raw.data, raw.len, &lim, &msg, &used, &st) == HTTP_PARSE_DONE)
        map_once(&msg);
    m2m_buf_free(&raw);
    return 0;
}
