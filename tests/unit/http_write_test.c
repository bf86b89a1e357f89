/* http_write_test.c: response, error and NOTIFY serialization, byte for byte, header injection
 * refusal, and round trips through the parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bind/http/http.h"

static void assert_buf(const struct m2m_buf *b, const char *want)
{
    if (b->len != strlen(want) || memcmp(b->data, want, b->len) != 0)
        fail_msg("got:\n%.*s\nwant:\n%s", (int)b->len, (const char *)b->data, want);
}

static void test_response_full(void **state)
{
    struct m2m_response r;
    struct m2m_buf out = M2M_BUF_INIT;
    m2m_response_init(&r);
    r.rsc = RSC_CREATED;
    r.rqi = strdup("r1");
    r.rvi = strdup("3");
    r.body = strdup("{\"a\":1}");
    r.body_len = 7;
    r.content_ty = 2;
    r.content_location = strdup("cse-in/ae1");
    assert_int_equal(http_write_response(&r, true, &out), M2M_OK);
    assert_buf(&out, "HTTP/1.1 201 Created\r\nServer: m2msec\r\nX-M2M-RSC: 2001\r\n"
                     "X-M2M-RI: r1\r\nX-M2M-RVI: 3\r\nContent-Type: application/json;ty=2\r\n"
                     "Content-Location: cse-in/ae1\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
    /* appends after what is already there; parses back */
    struct m2m_buf two = M2M_BUF_INIT;
    assert_int_equal(m2m_buf_append_str(&two, "PREFIX"), M2M_OK);
    assert_int_equal(http_write_response(&r, true, &two), M2M_OK);
    assert_int_equal(two.len, 6 + out.len);
    assert_memory_equal(two.data + 6, out.data, out.len);
    struct http_limits l;
    static struct http_msg m;
    size_t used = 0;
    int st = 0;
    http_limits_default(&l);
    assert_int_equal(http_parse_response(out.data, out.len, false, &l, &m, &used, &st),
                     HTTP_PARSE_DONE);
    assert_int_equal(used, out.len);
    assert_int_equal(m.status, 201);
    assert_true(m.keep_alive);
    /* a hard output limit is honoured */
    struct m2m_buf small = {NULL, 0, 0, 40};
    assert_int_equal(http_write_response(&r, true, &small), M2M_ERR_LIMIT);
    m2m_buf_free(&small);
    m2m_buf_free(&two);
    m2m_buf_free(&out);
    m2m_response_clear(&r);
}

static void test_response_minimal(void **state)
{
    struct m2m_response r;
    struct m2m_buf out = M2M_BUF_INIT;
    m2m_response_init(&r);
    r.rsc = RSC_DELETED;
    assert_int_equal(http_write_response(&r, false, &out), M2M_OK);
    assert_buf(&out, "HTTP/1.1 200 OK\r\nServer: m2msec\r\nX-M2M-RSC: 2002\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n");
    m2m_buf_reset(&out);
    r.rsc = RSC_ORIGINATOR_HAS_NO_PRIVILEGE;
    r.body = strdup("{}");
    r.body_len = 2;
    assert_int_equal(http_write_response(&r, true, &out), M2M_OK);
    assert_buf(&out, "HTTP/1.1 403 Forbidden\r\nServer: m2msec\r\nX-M2M-RSC: 4103\r\n"
                     "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    m2m_buf_reset(&out);
    r.rsc = RSC_NONE; /* never set: answered as 5000 */
    r.body_len = 0;
    assert_int_equal(http_write_response(&r, true, &out), M2M_OK);
    assert_buf(&out, "HTTP/1.1 500 Internal Server Error\r\nServer: m2msec\r\nX-M2M-RSC: 5000\r\n"
                     "Content-Length: 0\r\n\r\n");
    m2m_buf_reset(&out);
    r.rsc = RSC_RELEASE_VERSION_NOT_SUPPORTED;
    assert_int_equal(http_write_response(&r, true, &out), M2M_OK);
    assert_buf(&out, "HTTP/1.1 501 Not Implemented\r\nServer: m2msec\r\nX-M2M-RSC: 4001\r\n"
                     "Content-Length: 0\r\n\r\n");
    m2m_buf_free(&out);
    m2m_response_clear(&r);
}

static void test_response_injection(void **state)
{
    struct m2m_response r;
    struct m2m_buf out = M2M_BUF_INIT;
    m2m_response_init(&r);
    r.rsc = RSC_OK;
    r.rqi = strdup("a\r\nSet-Cookie: x=1");
    r.rvi = strdup("3\x7f");
    r.content_location = strdup("x\ny");
    assert_int_equal(http_write_response(&r, true, &out), M2M_OK);
    assert_buf(&out, "HTTP/1.1 200 OK\r\nServer: m2msec\r\nX-M2M-RSC: 2000\r\n"
                     "Content-Length: 0\r\n\r\n");
    free(r.rqi);
    r.rqi = strdup("");
    m2m_buf_reset(&out);
    assert_int_equal(http_write_response(&r, true, &out), M2M_OK);
    assert_null(strstr((const char *)out.data, "X-M2M-RI"));
    m2m_buf_free(&out);
    m2m_response_clear(&r);
}

static void test_error(void **state)
{
    struct m2m_buf out = M2M_BUF_INIT;
    assert_int_equal(http_write_error(400, "bad \"x\"\n", &out), M2M_OK);
    assert_buf(&out, "HTTP/1.1 400 Bad Request\r\nServer: m2msec\r\nX-M2M-RSC: 4000\r\n"
                     "Content-Type: application/json\r\nContent-Length: 25\r\n"
                     "Connection: close\r\n\r\n{\"m2m:dbg\":\"bad \\\"x\\\"\\n\"}");
    static const struct {
        int st;
        const char *line;
        int rsc;
    } cases[] = {
        {413, "HTTP/1.1 413 Payload Too Large\r\n", 4000},
        {414, "HTTP/1.1 414 URI Too Long\r\n", 4000},
        {431, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 4000},
        {411, "HTTP/1.1 411 Length Required\r\n", 4000},
        {501, "HTTP/1.1 501 Not Implemented\r\n", 5001},
        {505, "HTTP/1.1 505 HTTP Version Not Supported\r\n", 4000},
        {42, "HTTP/1.1 500 Internal Server Error\r\n", 5000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[64];
        m2m_buf_reset(&out);
        assert_int_equal(http_write_error(cases[i].st, NULL, &out), M2M_OK);
        assert_true(out.len > strlen(cases[i].line));
        assert_memory_equal(out.data, cases[i].line, strlen(cases[i].line));
        snprintf(want, sizeof want, "X-M2M-RSC: %d\r\n", cases[i].rsc);
        assert_non_null(strstr((const char *)out.data, want));
        assert_non_null(strstr((const char *)out.data, "Connection: close\r\n"));
    }
    m2m_buf_free(&out);
}

static void test_notify(void **state)
{
    struct m2m_buf out = M2M_BUF_INIT;
    assert_int_equal(http_write_notify("127.0.0.1:8080", "/notify?x=1", "/id-in", "n-1",
                                       "{\"m2m:sgn\":{}}", 14, &out),
                     M2M_OK);
    assert_buf(&out, "POST /notify?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
                     "X-M2M-Origin: /id-in\r\nX-M2M-RI: n-1\r\nX-M2M-RVI: 3\r\n"
                     "Content-Type: application/json\r\nContent-Length: 14\r\n"
                     "Connection: close\r\n\r\n{\"m2m:sgn\":{}}");
    /* round trip: our own server side maps it to a NOTIFY */
    m2m_buf_reset(&out);
    assert_int_equal(
        http_write_notify("h", "/notify", "/id-in", "n-1", "{\"m2m:sgn\":{}}", 14, &out), M2M_OK);
    struct http_limits l;
    static struct http_msg m;
    size_t used = 0;
    int st = 0;
    http_limits_default(&l);
    assert_int_equal(http_parse_request(out.data, out.len, &l, &m, &used, &st), HTTP_PARSE_DONE);
    struct m2m_request r;
    m2m_rsc rsc;
    m2m_request_init(&r);
    assert_int_equal(http_to_request(&m, &r, &rsc, NULL, 0), M2M_OK);
    assert_int_equal(r.op, M2M_OP_NOTIFY);
    assert_string_equal(r.to, "notify");
    assert_string_equal(r.fr, "/id-in");
    assert_string_equal(r.rqi, "n-1");
    assert_int_equal(r.pc_len, 14);
    m2m_request_clear(&r);
    m2m_buf_reset(&out);
    assert_int_equal(http_write_notify("h", "/", NULL, NULL, NULL, 0, &out), M2M_OK);
    assert_buf(&out, "POST / HTTP/1.1\r\nHost: h\r\nX-M2M-RVI: 3\r\n"
                     "Content-Type: application/json\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n");
    m2m_buf_reset(&out);
    assert_int_equal(http_write_notify("h", "/", "a\r\nb", NULL, "", 0, &out), M2M_ERR_MALFORMED);
    assert_int_equal(http_write_notify("h", "/", NULL, "a\nb", "", 0, &out), M2M_ERR_MALFORMED);
    assert_int_equal(http_write_notify("h", "/a b", NULL, NULL, "", 0, &out), M2M_ERR_MALFORMED);
    assert_int_equal(http_write_notify("h", "a", NULL, NULL, "", 0, &out), M2M_ERR_MALFORMED);
    assert_int_equal(http_write_notify("h\r\n", "/", NULL, NULL, "", 0, &out), M2M_ERR_MALFORMED);
    assert_int_equal(http_write_notify("", "/", NULL, NULL, "", 0, &out), M2M_ERR_MALFORMED);
    assert_int_equal(http_write_notify(NULL, "/", NULL, NULL, "", 0, &out), M2M_ERR_MALFORMED);
    assert_int_equal(out.len, 0);
    m2m_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_response_full),
        cmocka_unit_test(test_response_minimal),
        cmocka_unit_test(test_response_injection),
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_notify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
