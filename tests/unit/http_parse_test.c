/* http_parse_test.c: request/response framing: limits at their edges, smuggling shapes,
 * pipelining, incremental feeding, chunked responses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bind/http/http.h"
#include "bind/http/http_client.h"

static struct http_limits L;
static struct http_msg M;

static int setup(void **state)
{
    http_limits_default(&L);
    return 0;
}

static enum http_parse_result preq_n(const char *s, size_t n, size_t *used, int *st)
{
    return http_parse_request((const uint8_t *)s, n, &L, &M, used, st);
}

static enum http_parse_result preq(const char *s, size_t *used, int *st)
{
    return preq_n(s, strlen(s), used, st);
}

static void expect_status_n(const char *s, size_t n, int want)
{
    size_t used = 99;
    int st = 0;
    enum http_parse_result r = preq_n(s, n, &used, &st);
    if (r != HTTP_PARSE_ERROR || st != want)
        fail_msg("want %d, got r=%d st=%d for [%.*s]", want, r, st, (int)(n > 80 ? 80 : n), s);
}

static void expect_status(const char *s, int want)
{
    expect_status_n(s, strlen(s), want);
}

static void expect_done(const char *s)
{
    size_t used = 0;
    int st = 0;
    enum http_parse_result r = preq(s, &used, &st);
    if (r != HTTP_PARSE_DONE)
        fail_msg("want DONE, got r=%d st=%d for [%s]", r, st, s);
    assert_int_equal(used, strlen(s));
}

static bool hdr_is(const char *name, const char *value)
{
    const struct http_header *h = http_find_header(&M, name);
    return h != NULL && h->value_len == strlen(value) && memcmp(h->value, value, h->value_len) == 0;
}

static void test_simple_get(void **state)
{
    expect_done("GET /cse-in/ae1?rcn=1 HTTP/1.1\r\nHost: example\r\nX-M2M-Origin:  Cae1 \t\r\n"
                "X-Empty:\r\n\r\n");
    assert_int_equal(M.method_len, 3);
    assert_memory_equal(M.method, "GET", 3);
    assert_int_equal(M.target_len, strlen("/cse-in/ae1?rcn=1"));
    assert_memory_equal(M.target, "/cse-in/ae1?rcn=1", M.target_len);
    assert_int_equal(M.version_minor, 1);
    assert_int_equal(M.n_headers, 3);
    assert_true(hdr_is("x-m2m-origin", "Cae1")); /* case-insensitive, OWS trimmed */
    assert_true(hdr_is("HOST", "example"));
    assert_true(hdr_is("x-empty", ""));
    assert_null(http_find_header(&M, "Content-Type"));
    assert_null(M.body);
    assert_int_equal(M.body_len, 0);
    assert_true(M.keep_alive);
}

static void test_post_body(void **state)
{
    const char *s = "POST /cse-in HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloEXTRA";
    size_t used = 0;
    int st = 0;
    assert_int_equal(preq(s, &used, &st), HTTP_PARSE_DONE);
    assert_int_equal(M.body_len, 5);
    assert_memory_equal(M.body, "hello", 5);
    assert_int_equal(used, strlen(s) - 5);
    expect_done("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    assert_null(M.body);
    expect_done("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n1234567");
    assert_int_equal(M.body_len, 7);
}

static void test_line_endings(void **state)
{
    expect_status("GET / HTTP/1.1\nHost: h\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: h\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: h\r\n\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\rHost: h\r\n\r\n", 400);
    expect_status("\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400); /* leading empty line */
    /* partial inputs are rejected as soon as a bare LF shows */
    expect_status("GET / HTTP/1.1\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: h\n", 400);
}

static void test_ctl_bytes(void **state)
{
    static const char nul_target[] = "GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n";
    static const char nul_value[] = "GET / HTTP/1.1\r\nHost: h\0x\r\n\r\n";
    static const char nul_name[] = "GET / HTTP/1.1\r\nHo\0st: h\r\n\r\n";
    static const char nul_method[] = "G\0T / HTTP/1.1\r\nHost: h\r\n\r\n";
    expect_status_n(nul_target, sizeof nul_target - 1, 400);
    expect_status_n(nul_value, sizeof nul_value - 1, 400);
    expect_status_n(nul_name, sizeof nul_name - 1, 400);
    expect_status_n(nul_method, sizeof nul_method - 1, 400);
    expect_status_n(nul_value, 24, 400); /* partial: still caught */
    expect_status("GET / HTTP/1.1\r\nHost: h\x01\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: h\x7f\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: h\x1b[0m\r\n\r\n", 400);
    expect_done("GET / HTTP/1.1\r\nHost: h\r\nX: a\tb \xc3\xa9\r\n\r\n"); /* HTAB, obs-text */
    assert_true(hdr_is("x", "a\tb \xc3\xa9"));
}

static void test_header_syntax(void **state)
{
    expect_status("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: h\r\n: empty\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: h\r\nX(y): z\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  folded\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tfolded\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: h\r\n ", 400); /* obs-fold seen while partial */
    expect_status("GET / HTTP/1.1\r\nHo st", 400);
}

static void test_request_line(void **state)
{
    expect_status("GET http://h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400); /* absolute-form */
    expect_status("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    expect_status("GET x HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    expect_status("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    expect_status("GET /a\"b HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    expect_status("GET /a{b} HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    expect_status("GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    expect_status("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400);
    expect_status("GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    expect_status(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    expect_status("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    expect_status("GET /\r\nHost: h\r\n\r\n", 400); /* HTTP/0.9 shape */
    expect_status("GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505);
    expect_status("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505);
    expect_status("GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505);
    expect_status("GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400);
    expect_status("GET / http/1.1\r\nHost: h\r\n\r\n", 400);
    expect_status("GET / HTTP/1.x\r\nHost: h\r\n\r\n", 400);
    expect_done("DELETE /~/id-in/cse-in/x?a=b&c=%20:@!$'()*+,;= HTTP/1.1\r\nHost: h\r\n\r\n");
}

static void test_content_length(void **state)
{
    expect_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
                  400);
    expect_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\ncontent-length: 2\r\n\r\nxy",
                  400);
    expect_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\nx", 400);
    expect_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\nx", 400);
    expect_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\nx", 400);
    expect_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\nx", 400);
    expect_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\nx", 400);
    expect_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400);
    expect_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 184467440737095516160\r\n\r\n",
                  413);
    expect_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n",
                  413);
    expect_status("POST / HTTP/1.1\r\nHost: h\r\n\r\n", 411);
    expect_status("PUT / HTTP/1.1\r\nHost: h\r\n\r\n", 411);
}

static void test_transfer_encoding(void **state)
{
    expect_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501);
    expect_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 501);
    expect_status("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 501);
    expect_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: "
                  "chunked\r\n\r\n0\r\n\r\n",
                  400);
    expect_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: "
                  "x\r\n\r\n0\r\n\r\n",
                  400);
}

static void test_host(void **state)
{
    expect_status("GET / HTTP/1.1\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
    expect_status("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400);
    expect_done("GET / HTTP/1.0\r\n\r\n");
    assert_int_equal(M.version_minor, 0);
}

static void test_keep_alive(void **state)
{
    expect_done("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_true(M.keep_alive);
    expect_done("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert_false(M.keep_alive);
    expect_done("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive , CLOSE\r\n\r\n");
    assert_false(M.keep_alive);
    expect_done("GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n");
    assert_true(M.keep_alive);
    expect_done("GET / HTTP/1.0\r\n\r\n");
    assert_false(M.keep_alive);
    expect_done("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    assert_true(M.keep_alive);
    expect_done("GET / HTTP/1.0\r\nConnection: x\r\nConnection: keep-alive\r\n\r\n");
    assert_true(M.keep_alive);
}

/* Builds "GET <target> HTTP/1.1\r\nHost: h\r\n\r\n" with a target of exactly n bytes. */
static char *req_with_target(size_t n)
{
    char *s = malloc(n + 64);
    assert_non_null(s);
    memcpy(s, "GET /", 5);
    memset(s + 5, 'a', n - 1);
    strcpy(s + 4 + n, " HTTP/1.1\r\nHost: h\r\n\r\n");
    return s;
}

static void test_uri_limit(void **state)
{
    char *s = req_with_target(L.max_uri);
    expect_done(s);
    assert_int_equal(M.target_len, L.max_uri);
    free(s);
    s = req_with_target(L.max_uri + 1);
    expect_status(s, 414);
    expect_status_n(s, L.max_uri + 5, 414); /* incomplete line: 414 as soon as it is over */
    size_t used = 0;
    int st = 0;
    assert_int_equal(preq_n(s, L.max_uri + 4, &used, &st), HTTP_PARSE_NEED_MORE);
    free(s);
}

/* A request whose head is exactly n bytes (n >= 40). */
static char *req_with_head(size_t n)
{
    const char *pre = "GET / HTTP/1.1\r\nHost: h\r\nX: ";
    char *s = malloc(n + 1);
    assert_non_null(s);
    size_t p = strlen(pre);
    memcpy(s, pre, p);
    memset(s + p, 'v', n - p - 4);
    memcpy(s + n - 4, "\r\n\r\n", 5);
    return s;
}

static void test_header_bytes_limit(void **state)
{
    L.max_header_bytes = 100;
    char *s = req_with_head(100);
    expect_done(s);
    free(s);
    s = req_with_head(101);
    expect_status(s, 431);
    expect_status_n(s, 100, 431); /* incomplete head already at the limit */
    size_t used = 0;
    int st = 0;
    assert_int_equal(preq_n(s, 99, &used, &st), HTTP_PARSE_NEED_MORE);
    free(s);
    expect_status_n(
        "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        100, 431);
}

static void add_headers(char *s, size_t n)
{
    strcpy(s, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (size_t i = 1; i < n; i++)
        sprintf(s + strlen(s), "X-%zu: v\r\n", i);
    strcat(s, "\r\n");
}

static void test_header_count_limit(void **state)
{
    char *s = malloc(40000);
    assert_non_null(s);
    add_headers(s, L.max_headers);
    expect_done(s);
    assert_int_equal(M.n_headers, L.max_headers);
    add_headers(s, L.max_headers + 1);
    expect_status(s, 431);
    L.max_header_bytes = 1 << 20;
    L.max_headers = 100000; /* clamped to HTTP_MAX_HEADERS_HARD */
    add_headers(s, HTTP_MAX_HEADERS_HARD);
    expect_done(s);
    add_headers(s, HTTP_MAX_HEADERS_HARD + 1);
    expect_status(s, 431);
    add_headers(s, 2000); /* huge header count */
    expect_status(s, 431);
    free(s);
}

static void test_body_limit(void **state)
{
    L.max_body = 10;
    char s[128];
    size_t used = 0;
    int st = 0;
    snprintf(s, sizeof s, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789");
    expect_done(s);
    assert_int_equal(M.body_len, 10);
    snprintf(s, sizeof s, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n");
    expect_status(s, 413); /* refused before the body arrives */
    snprintf(s, sizeof s, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n012");
    assert_int_equal(preq(s, &used, &st), HTTP_PARSE_NEED_MORE);
}

static void test_pipelining(void **state)
{
    const char *a = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
    const char *b = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
    char s[256];
    snprintf(s, sizeof s, "%s%s", a, b);
    size_t used = 0;
    int st = 0;
    assert_int_equal(preq(s, &used, &st), HTTP_PARSE_DONE);
    assert_int_equal(used, strlen(a));
    assert_memory_equal(M.target, "/a", 2);
    assert_memory_equal(M.body, "abc", 3);
    size_t used2 = 0;
    assert_int_equal(preq(s + used, &used2, &st), HTTP_PARSE_DONE);
    assert_int_equal(used2, strlen(b));
    assert_memory_equal(M.target, "/b", 2);
    /* a half second request after a whole first one */
    assert_int_equal(preq_n(s, strlen(a) + 10, &used, &st), HTTP_PARSE_DONE);
    assert_int_equal(used, strlen(a));
    assert_int_equal(preq_n(s + used, 10, &used2, &st), HTTP_PARSE_NEED_MORE);
}

static void test_incremental(void **state)
{
    const char *s = "POST /cse-in?ty=2 HTTP/1.1\r\nHost: h\r\nContent-Type: application/json;ty=2"
                    "\r\nContent-Length: 20\r\n\r\n{\"m2m:ae\":{\"rn\":1}}!";
    size_t n = strlen(s), used = 0;
    int st = 0;
    for (size_t i = 0; i < n; i++) {
        enum http_parse_result r = preq_n(s, i, &used, &st);
        if (r != HTTP_PARSE_NEED_MORE)
            fail_msg("prefix %zu: r=%d st=%d", i, r, st);
        assert_int_equal(used, 0);
    }
    assert_int_equal(preq_n(s, n, &used, &st), HTTP_PARSE_DONE);
    assert_int_equal(used, n);
    assert_int_equal(M.body_len, 20);
}

/* ---- responses ---- */

static enum http_parse_result presp(const char *s, size_t n, bool eof, size_t *used, int *st)
{
    return http_parse_response((const uint8_t *)s, n, eof, &L, &M, used, st);
}

static void test_response_cl(void **state)
{
    const char *s = "HTTP/1.1 201 Created\r\nX-M2M-RSC: 2001\r\nContent-Length: 2\r\n\r\nokNEXT";
    size_t used = 0;
    int st = 0;
    assert_int_equal(presp(s, strlen(s), false, &used, &st), HTTP_PARSE_DONE);
    assert_int_equal(M.status, 201);
    assert_int_equal(used, strlen(s) - 4);
    assert_memory_equal(M.body, "ok", 2);
    assert_true(hdr_is("x-m2m-rsc", "2001"));
    for (size_t i = 0; i < strlen(s) - 4; i++)
        assert_int_equal(presp(s, i, false, &used, &st), HTTP_PARSE_NEED_MORE);
    assert_int_equal(presp(s, 20, true, &used, &st), HTTP_PARSE_ERROR); /* truncated head */
    assert_int_equal(presp(s, strlen(s) - 5, true, &used, &st), HTTP_PARSE_ERROR);
    s = "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"; /* no reason phrase */
    assert_int_equal(presp(s, strlen(s), false, &used, &st), HTTP_PARSE_DONE);
    assert_int_equal(M.status, 200);
}

static void test_response_eof_body(void **state)
{
    const char *s = "HTTP/1.0 200 OK\r\n\r\nuntil close";
    size_t used = 0;
    int st = 0;
    assert_int_equal(presp(s, strlen(s), false, &used, &st), HTTP_PARSE_NEED_MORE);
    assert_int_equal(presp(s, strlen(s), true, &used, &st), HTTP_PARSE_DONE);
    assert_int_equal(M.body_len, strlen("until close"));
    assert_false(M.keep_alive);
    assert_int_equal(used, strlen(s));
    L.max_body = 4;
    assert_int_equal(presp(s, strlen(s), false, &used, &st), HTTP_PARSE_ERROR);
    assert_int_equal(st, 413);
}

static void test_response_no_body_status(void **state)
{
    const char *s = "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n";
    size_t used = 0;
    int st = 0;
    assert_int_equal(presp(s, strlen(s), false, &used, &st), HTTP_PARSE_DONE);
    assert_int_equal(used, strlen(s));
    assert_int_equal(M.body_len, 0);
    s = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n";
    assert_int_equal(presp(s, strlen(s), false, &used, &st), HTTP_PARSE_DONE);
    assert_int_equal(M.status, 100);
    assert_int_equal(used, 25);
}

static void test_response_bad(void **state)
{
    static const char *const bad[] = {
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 099 X\r\n\r\n",
        "HTTP/1.1 600 X\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "HTTP/1.1 200 O\x01K\r\n\r\n",
        "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX : y\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nbad trailer\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",               /* truncated at EOF */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", /* truncated at EOF */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t used = 0;
        int st = 0;
        if (presp(bad[i], strlen(bad[i]), true, &used, &st) != HTTP_PARSE_ERROR)
            fail_msg("accepted bad response %zu", i);
        assert_true(st >= 400);
    }
}

static void test_response_chunked(void **state)
{
    const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
                    "5;ext=1\r\nhello\r\nA\r\n, chunked!\r\n0\r\nX-T: v\r\n\r\nNEXT";
    size_t n = strlen(s) - 4, used = 0;
    int st = 0;
    for (size_t i = 0; i < n; i++)
        if (presp(s, i, false, &used, &st) != HTTP_PARSE_NEED_MORE)
            fail_msg("prefix %zu st %d", i, st);
    assert_int_equal(presp(s, strlen(s), false, &used, &st), HTTP_PARSE_DONE);
    assert_int_equal(used, n);
    struct m2m_buf out = M2M_BUF_INIT;
    size_t enc = 0;
    assert_int_equal(http_chunked_decode(M.body, M.body_len, 100, 1000, &out, &enc, &st),
                     HTTP_PARSE_DONE);
    assert_int_equal(enc, M.body_len);
    assert_int_equal(out.len, 15);
    assert_memory_equal(out.data, "hello, chunked!", 15);
    m2m_buf_free(&out);
    /* decoded size bound */
    const uint8_t *b = M.body;
    size_t bl = M.body_len;
    assert_int_equal(http_chunked_decode(b, bl, 14, 1000, NULL, &enc, &st), HTTP_PARSE_ERROR);
    assert_int_equal(st, 413);
    assert_int_equal(http_chunked_decode(b, bl, 15, 1000, NULL, &enc, &st), HTTP_PARSE_DONE);
    assert_int_equal(http_chunked_decode(b, bl, 15, 10, NULL, &enc, &st), HTTP_PARSE_ERROR);
    /* over max_body through the response parser */
    L.max_body = 8;
    assert_int_equal(presp(s, strlen(s), false, &used, &st), HTTP_PARSE_ERROR);
    assert_int_equal(st, 413);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_simple_get, setup),
        cmocka_unit_test_setup(test_post_body, setup),
        cmocka_unit_test_setup(test_line_endings, setup),
        cmocka_unit_test_setup(test_ctl_bytes, setup),
        cmocka_unit_test_setup(test_header_syntax, setup),
        cmocka_unit_test_setup(test_request_line, setup),
        cmocka_unit_test_setup(test_content_length, setup),
        cmocka_unit_test_setup(test_transfer_encoding, setup),
        cmocka_unit_test_setup(test_host, setup),
        cmocka_unit_test_setup(test_keep_alive, setup),
        cmocka_unit_test_setup(test_uri_limit, setup),
        cmocka_unit_test_setup(test_header_bytes_limit, setup),
        cmocka_unit_test_setup(test_header_count_limit, setup),
        cmocka_unit_test_setup(test_body_limit, setup),
        cmocka_unit_test_setup(test_pipelining, setup),
        cmocka_unit_test_setup(test_incremental, setup),
        cmocka_unit_test_setup(test_response_cl, setup),
        cmocka_unit_test_setup(test_response_eof_body, setup),
        cmocka_unit_test_setup(test_response_no_body_status, setup),
        cmocka_unit_test_setup(test_response_bad, setup),
        cmocka_unit_test_setup(test_response_chunked, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
