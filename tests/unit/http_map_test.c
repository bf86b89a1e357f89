/* http_map_test.c: HTTP request -> oneM2M request primitive (TS-0009 clause 6): operations,
 * To forms, X-M2M-* headers, Content-Type, query parameters and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/timeutil.h"
#include "bind/http/http.h"

static struct http_msg M;
static struct m2m_request R;
static m2m_rsc RSC;
static char E[256];

static int setup(void **state)
{
    m2m_request_init(&R);
    return 0;
}

static int teardown(void **state)
{
    m2m_request_clear(&R);
    return 0;
}

static m2m_rc map_raw(const char *raw)
{
    struct http_limits l;
    size_t used = 0;
    int st = 0;
    http_limits_default(&l);
    if (http_parse_request((const uint8_t *)raw, strlen(raw), &l, &M, &used, &st) !=
        HTTP_PARSE_DONE)
        fail_msg("does not parse (%d): %s", st, raw);
    m2m_request_clear(&R);
    E[0] = 0;
    return http_to_request(&M, &R, &RSC, E, sizeof E);
}

static char raw[8192];

/* "<method> <target> HTTP/1.1" + Host + extra header lines + optional body. */
static m2m_rc map_req(const char *method, const char *target, const char *hdrs, const char *body)
{
    snprintf(raw, sizeof raw, "%s %s HTTP/1.1\r\nHost: h\r\n%s", method, target, hdrs);
    if (body != NULL)
        snprintf(raw + strlen(raw), sizeof raw - strlen(raw), "Content-Length: %zu\r\n\r\n%s",
                 strlen(body), body);
    else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
        strcat(raw, "Content-Length: 0\r\n\r\n");
    else
        strcat(raw, "\r\n");
    return map_raw(raw);
}

static m2m_rc get(const char *target)
{
    return map_req("GET", target, "", NULL);
}

#define EXPECT_RSC(call, want)                                                                     \
    do {                                                                                           \
        m2m_rc rc_ = (call);                                                                       \
        if (rc_ != M2M_ERR_MALFORMED || RSC != (want))                                             \
            fail_msg("%s: rc %d rsc %d, want %d", #call, rc_, RSC, want);                          \
        assert_true(E[0] != 0);                                                                    \
        assert_null(R.to);                                                                         \
    } while (0)

static void test_operations(void **state)
{
    assert_int_equal(get("/cse-in"), M2M_OK);
    assert_int_equal(R.op, M2M_OP_RETRIEVE);
    assert_int_equal(map_req("DELETE", "/cse-in/x", "", NULL), M2M_OK);
    assert_int_equal(R.op, M2M_OP_DELETE);
    assert_int_equal(map_req("PUT", "/cse-in/x", "Content-Type: application/json\r\n", "{}"),
                     M2M_OK);
    assert_int_equal(R.op, M2M_OP_UPDATE);
    assert_int_equal(R.ty, 0);
    assert_int_equal(map_req("POST", "/cse-in", "Content-Type: application/json;ty=2\r\n", "{}"),
                     M2M_OK);
    assert_int_equal(R.op, M2M_OP_CREATE);
    assert_int_equal(R.ty, 2);
    assert_int_equal(map_req("POST", "/cse-in/ae", "Content-Type: application/json\r\n", "{}"),
                     M2M_OK);
    assert_int_equal(R.op, M2M_OP_NOTIFY);
    assert_int_equal(R.ty, 0);
    EXPECT_RSC(map_req("PATCH", "/x", "", NULL), RSC_NOT_IMPLEMENTED);
    EXPECT_RSC(map_req("HEAD", "/x", "", NULL), RSC_NOT_IMPLEMENTED);
    EXPECT_RSC(map_req("OPTIONS", "/x", "", NULL), RSC_NOT_IMPLEMENTED);
    EXPECT_RSC(map_req("FOO", "/x", "", NULL), RSC_BAD_REQUEST);
    EXPECT_RSC(map_req("get", "/x", "", NULL), RSC_BAD_REQUEST);
}

static void expect_to(const char *target, const char *to)
{
    if (get(target) != M2M_OK)
        fail_msg("%s: %s", target, E);
    assert_string_equal(R.to, to);
}

static void test_paths(void **state)
{
    /* TS-0009 Table 6.2.2.1-1 */
    expect_to("/CSEBase/ae12/cont27/contInst696/", "CSEBase/ae12/cont27/contInst696");
    expect_to("/cin00856", "cin00856");
    expect_to("/~/CSE178/CSEBase/ae12/cont27/contInst696",
              "/CSE178/CSEBase/ae12/cont27/contInst696");
    expect_to("/~/CSE178/cin00856", "/CSE178/cin00856");
    expect_to("/_/mym2msp.org/CSE178/CSEBase/ae12", "//mym2msp.org/CSE178/CSEBase/ae12");
    expect_to("/_/mym2msp.org/CSE178/cin00856", "//mym2msp.org/CSE178/cin00856");
    expect_to("/cse-in/a%20b", "cse-in/a b");
    expect_to("/%7E/id-in", "/id-in");
    expect_to("/~x", "~x");
    expect_to("/cse-in/ae1?rcn=1", "cse-in/ae1");
    expect_to("/a.b/..c", "a.b/..c");
    static const char *const bad[] = {"/",     "/~",     "/~/",       "/_",      "/_/",    "//x",
                                      "/~//x", "/_//x",  "/a//b",     "/a/../b", "/a/./b", "/..",
                                      "/a/.",  "/a%2Fb", "/a%2fb",    "/a%00",   "/a%zz",  "/a%2",
                                      "/a%",   "/a%0a",  "/a%0D%0AX", "/a%7f",   "/a//"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m2m_rc rc = get(bad[i]);
        if (rc != M2M_ERR_MALFORMED || RSC != RSC_BAD_REQUEST)
            fail_msg("accepted path %s", bad[i]);
    }
}

static void test_headers(void **state)
{
    assert_int_equal(map_req("GET", "/cse-in",
                             "x-m2m-origin: CAdmin\r\nX-M2M-RI: req-1\r\nX-M2M-RVI: 3\r\n"
                             "X-M2M-RTU: http://a/x&http://b/y\r\nX-M2M-VSI: v1\r\n"
                             "X-Unknown: ignored\r\n",
                             NULL),
                     M2M_OK);
    assert_string_equal(R.fr, "CAdmin");
    assert_string_equal(R.rqi, "req-1");
    assert_string_equal(R.rvi, "3");
    assert_string_equal(R.rtu, "http://a/x&http://b/y");
    assert_string_equal(R.vsi, "v1");
    assert_int_equal(get("/cse-in"), M2M_OK);
    assert_null(R.fr);
    assert_null(R.rqi);
    assert_null(R.rvi);
    assert_int_equal(map_req("GET", "/x", "X-M2M-Origin:\r\nX-M2M-RVI: 5\r\n", NULL), M2M_OK);
    assert_null(R.fr);
    assert_string_equal(R.rvi, "5");
    assert_int_equal(map_req("GET", "/x", "X-M2M-RVI: 4\r\n", NULL), M2M_OK);
    EXPECT_RSC(map_req("GET", "/x", "X-M2M-Origin: a\r\nX-M2M-Origin: a\r\n", NULL),
               RSC_BAD_REQUEST);
    EXPECT_RSC(map_req("GET", "/x", "X-M2M-RI: a\r\nx-m2m-ri: b\r\n", NULL), RSC_BAD_REQUEST);
    EXPECT_RSC(map_req("GET", "/x", "X-M2M-Origin: a\tb\r\n", NULL), RSC_BAD_REQUEST);
    EXPECT_RSC(map_req("GET", "/x", "X-M2M-RVI: 2a\r\n", NULL), RSC_RELEASE_VERSION_NOT_SUPPORTED);
    EXPECT_RSC(map_req("GET", "/x", "X-M2M-RVI: 6\r\n", NULL), RSC_RELEASE_VERSION_NOT_SUPPORTED);
    EXPECT_RSC(map_req("GET", "/x", "X-M2M-RVI:\r\n", NULL), RSC_RELEASE_VERSION_NOT_SUPPORTED);
    EXPECT_RSC(map_req("GET", "/x", "X-M2M-RVI: 33\r\n", NULL), RSC_RELEASE_VERSION_NOT_SUPPORTED);
}

static void test_timestamps(void **state)
{
    int64_t t = 0;
    assert_true(m2m_ts_parse("20250102T030405", 15, &t));
    assert_int_equal(map_req("GET", "/x",
                             "X-M2M-RET: 20250102T030405\r\nX-M2M-RST: 20250102T030405,5\r\n",
                             NULL),
                     M2M_OK);
    assert_int_equal(R.rqet, t);
    assert_int_equal(R.rset, t + 500000);
    /* relative milliseconds from the reception time the caller set */
    snprintf(raw, sizeof raw, "GET /x HTTP/1.1\r\nHost: h\r\nX-M2M-OET: 2500\r\n\r\n");
    struct http_limits l;
    size_t used;
    int st;
    http_limits_default(&l);
    assert_int_equal(http_parse_request((const uint8_t *)raw, strlen(raw), &l, &M, &used, &st),
                     HTTP_PARSE_DONE);
    m2m_request_clear(&R);
    R.t_recv_us = 1000000;
    R.sec.kind = M2M_SEC_TLS_CERT;
    assert_int_equal(http_to_request(&M, &R, &RSC, E, sizeof E), M2M_OK);
    assert_int_equal(R.oet, 1000000 + 2500000);
    assert_int_equal(R.t_recv_us, 1000000); /* kept */
    assert_int_equal(R.sec.kind, M2M_SEC_TLS_CERT);
    /* without a reception time: relative to now */
    int64_t before = m2m_now_us();
    assert_int_equal(map_req("GET", "/x", "X-M2M-RET: 1000\r\n", NULL), M2M_OK);
    assert_true(R.rqet >= before + 1000000 && R.rqet <= m2m_now_us() + 1000000);
    EXPECT_RSC(map_req("GET", "/x", "X-M2M-RET: tomorrow\r\n", NULL), RSC_BAD_REQUEST);
    EXPECT_RSC(map_req("GET", "/x", "X-M2M-RST: -5\r\n", NULL), RSC_BAD_REQUEST);
    EXPECT_RSC(map_req("GET", "/x", "X-M2M-OET: 20251301T000000\r\n", NULL), RSC_BAD_REQUEST);
    EXPECT_RSC(map_req("GET", "/x", "X-M2M-OET: 99999999999999999\r\n", NULL), RSC_BAD_REQUEST);
}

static void test_content_type(void **state)
{
    static const char *const good_ty[] = {
        "Content-Type: application/vnd.onem2m-res+json; ty=3\r\n",
        "Content-Type: Application/JSON ; TY = 3 ; charset=utf-8\r\n",
        "Content-Type: application/json;charset=\"utf-8;x\";ty=3\r\n",
        "Content-Type: application/json;ty=3;\r\n",
        "content-type:application/json;ty=00003\r\n",
    };
    for (size_t i = 0; i < sizeof good_ty / sizeof good_ty[0]; i++) {
        if (map_req("POST", "/cse-in/ae", good_ty[i], "{\"m2m:cnt\":{}}") != M2M_OK)
            fail_msg("%s: %s", good_ty[i], E);
        assert_int_equal(R.op, M2M_OP_CREATE);
        assert_int_equal(R.ty, 3);
        assert_int_equal(R.content_format, 1);
        assert_int_equal(R.pc_len, 14);
        assert_memory_equal(R.pc, "{\"m2m:cnt\":{}}", 14);
    }
    assert_int_equal(map_req("POST", "/x", "Content-Type: application/json;ty=65535\r\n", "{}"),
                     M2M_OK);
    assert_int_equal(R.ty, 65535);
    /* no body: the media type does not matter, nothing is copied */
    assert_int_equal(map_req("GET", "/x", "Content-Type: text/plain\r\n", NULL), M2M_OK);
    assert_null(R.pc);
    assert_int_equal(R.content_format, 0);
    EXPECT_RSC(map_req("POST", "/x", "Content-Type: text/plain\r\n", "{}"),
               RSC_UNSUPPORTED_MEDIA_TYPE);
    EXPECT_RSC(map_req("POST", "/x", "Content-Type: application/xml;ty=2\r\n", "<a/>"),
               RSC_UNSUPPORTED_MEDIA_TYPE);
    EXPECT_RSC(map_req("POST", "/x", "Content-Type: application/cbor\r\n", "x"),
               RSC_UNSUPPORTED_MEDIA_TYPE);
    EXPECT_RSC(map_req("PUT", "/x", "", "{}"), RSC_UNSUPPORTED_MEDIA_TYPE);
    static const char *const bad[] = {
        "Content-Type: application/json;ty=0\r\n",
        "Content-Type: application/json;ty=65536\r\n",
        "Content-Type: application/json;ty=abc\r\n",
        "Content-Type: application/json;ty=-2\r\n",
        "Content-Type: application/json;ty=\"2\"\r\n",
        "Content-Type: application/json;ty=2;ty=2\r\n",
        "Content-Type: application/json;ty=\r\n",
        "Content-Type: application/json;ty\r\n",
        "Content-Type: application\r\n",
        "Content-Type: /json\r\n",
        "Content-Type: application/\r\n",
        "Content-Type: application/json x\r\n",
        "Content-Type: application/json;charset=\"open\r\n",
        "Content-Type: application/json\r\nContent-Type: application/json\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m2m_rc rc = map_req("POST", "/x", bad[i], "{}");
        if (rc != M2M_ERR_MALFORMED || RSC != RSC_BAD_REQUEST)
            fail_msg("accepted %s", bad[i]);
        assert_null(R.pc);
    }
}

static void test_query_values(void **state)
{
    assert_int_equal(get("/x?rcn=11&rt=3&drt=2&rp=PT1H&da=true"), M2M_OK);
    assert_int_equal(R.rcn, 11);
    assert_int_equal(R.rt, 3);
    assert_int_equal(R.drt, 2);
    assert_false(R.has_fc);
    assert_int_equal(get("/x"), M2M_OK);
    assert_int_equal(R.rcn, -1);
    assert_int_equal(R.rt, 0);
    assert_false(R.has_fc);
    assert_int_equal(get("/x?rcn=%30"), M2M_OK); /* percent-decoded */
    assert_int_equal(R.rcn, 0);
    assert_int_equal(get("/x?fu=1&ty=3&lbl=a+b"), M2M_OK);
    assert_true(R.has_fc);
    assert_int_equal(R.fc.fu, 1);
    assert_int_equal(R.fc.n_ty, 1);
    assert_int_equal(R.fc.ty[0], 3);
    assert_int_equal(R.fc.n_lbl, 2);
    assert_string_equal(R.fc.lbl[0], "a");
    assert_string_equal(R.fc.lbl[1], "b");
    assert_int_equal(get("/x?ty=2+3&ty=4&lbl=k%3Av&lbl=a%2Bb&lbl=%20"), M2M_OK);
    assert_int_equal(R.fc.n_ty, 3);
    assert_int_equal(R.fc.ty[2], 4);
    assert_int_equal(R.fc.n_lbl, 3);
    assert_string_equal(R.fc.lbl[0], "k:v");
    assert_string_equal(R.fc.lbl[1], "a+b");
    assert_string_equal(R.fc.lbl[2], " ");
    assert_int_equal(get("/x?lim=0&ofst=1&lvl=1&fo=2&sts=1&stb=0"), M2M_OK);
    assert_true(R.has_fc);
    assert_int_equal(R.fc.lim, 0);
    assert_int_equal(R.fc.ofst, 1);
    assert_int_equal(R.fc.lvl, 1);
    assert_int_equal(R.fc.fo, 2);
    assert_int_equal(R.fc.sts, 1);
    assert_int_equal(R.fc.stb, 0);
    assert_int_equal(get("/x?lim=2147483647&fu=3"), M2M_OK);
    assert_int_equal(R.fc.lim, 2147483647);
    int64_t t = 0;
    assert_true(m2m_ts_parse("20240229T235959", 15, &t));
    assert_int_equal(get("/x?crb=20240229T235959&cra=20240229T235959&ms=20240229T235959&"
                         "us=20240229T235959&exb=20240229T235959&exa=20240229T235959Z"),
                     M2M_OK);
    assert_true(R.has_fc);
    assert_int_equal(R.fc.crb, t);
    assert_int_equal(R.fc.cra, t);
    assert_int_equal(R.fc.ms, t);
    assert_int_equal(R.fc.us, t);
    assert_int_equal(R.fc.exb, t);
    assert_int_equal(R.fc.exa, t);
    assert_int_equal(get("/x?&&rcn=1&"), M2M_OK);
    assert_int_equal(R.rcn, 1);
    assert_int_equal(get("/x?"), M2M_OK);
    assert_int_equal(get("/x?da=0&rcn=4"), M2M_OK);
}

static void test_query_refusals(void **state)
{
    static const char *const bad[] = {
        "/x?rcn=12",
        "/x?rcn=-1",
        "/x?rcn=",
        "/x?rcn=1+",
        "/x?rcn=1&rcn=1",
        "/x?rcn",
        "/x?rt=0",
        "/x?rt=6",
        "/x?drt=0",
        "/x?drt=3",
        "/x?fu=0",
        "/x?fu=4",
        "/x?fo=0",
        "/x?fo=3",
        "/x?lim=-1",
        "/x?lim=2147483648",
        "/x?ofst=0",
        "/x?lvl=0",
        "/x?sts=0",
        "/x?stb=-1",
        "/x?crb=yesterday",
        "/x?exa=2024",
        "/x?ms=20230229T000000",
        "/x?ty=0",
        "/x?ty=65536",
        "/x?ty=a",
        "/x?ty=",
        "/x?ty=2++3",
        "/x?ty=2+",
        "/x?lbl=",
        "/x?lbl=a++b",
        "/x?lbl=%00",
        "/x?lbl=%zz",
        "/x?lbl=%0a",
        "/x?da=yes",
        "/x?rp=",
        "/x?fu=1&fu=1",
        "/x?lim=1&lim=2",
        "/x?foo=1",
        "/x?atrl=ri+lbl",
        "/x?cr=Sam",
        "/x?RCN=1",
        "/x?%72cn=1x",
        "/x?tqi=true",
        "/x?r%00=1",
        "/x?=1",
        "/x?rcn=99999999999999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m2m_rc rc = get(bad[i]);
        if (rc != M2M_ERR_MALFORMED || RSC != RSC_BAD_REQUEST)
            fail_msg("accepted %s (rc %d rsc %d)", bad[i], rc, RSC);
        assert_null(R.to);
        assert_int_equal(R.fc.n_lbl, 0);
    }
    get("/x?foo=1");
    assert_non_null(strstr(E, "'foo'"));
    get("/x?rcn=1&rcn=2");
    assert_non_null(strstr(E, "duplicate"));
}

static void test_query_bounds(void **state)
{
    char t[512] = "/x?ty=1";
    for (int i = 2; i <= M2M_FC_MAX_TY; i++)
        sprintf(t + strlen(t), "+%d", i);
    assert_int_equal(get(t), M2M_OK);
    assert_int_equal(R.fc.n_ty, M2M_FC_MAX_TY);
    strcat(t, "&ty=99");
    EXPECT_RSC(get(t), RSC_BAD_REQUEST);
    strcpy(t, "/x?lbl=l0");
    for (int i = 1; i < M2M_FC_MAX_LBL; i++)
        sprintf(t + strlen(t), "%sl%d", i % 2 ? "+" : "&lbl=", i);
    assert_int_equal(get(t), M2M_OK);
    assert_int_equal(R.fc.n_lbl, M2M_FC_MAX_LBL);
    assert_string_equal(R.fc.lbl[M2M_FC_MAX_LBL - 1], "l15");
    strcat(t, "+over");
    EXPECT_RSC(get(t), RSC_BAD_REQUEST); /* and no label leaks (ASan) */
}

static void test_failure_keeps_req(void **state)
{
    struct m2m_request r;
    m2m_request_init(&r);
    r.sec.kind = M2M_SEC_TLS_PSK;
    r.t_recv_us = 42;
    assert_int_equal(map_req("GET", "/x?lbl=a&lbl=b&rcn=99", "X-M2M-Origin: C1\r\n", NULL),
                     M2M_ERR_MALFORMED);
    assert_int_equal(http_to_request(&M, &r, &RSC, NULL, 0), M2M_ERR_MALFORMED);
    assert_int_equal(RSC, RSC_BAD_REQUEST);
    assert_null(r.to);
    assert_null(r.fr);
    assert_int_equal(r.fc.n_lbl, 0);
    assert_int_equal(r.sec.kind, M2M_SEC_TLS_PSK);
    assert_int_equal(r.t_recv_us, 42);
    char small[8];
    assert_int_equal(http_to_request(&M, &r, &RSC, small, sizeof small), M2M_ERR_MALFORMED);
    assert_int_equal(strlen(small), 7);
    /* a message built without the parser: not origin-form */
    struct http_msg *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->method = "GET";
    m->method_len = 3;
    assert_int_equal(http_to_request(m, &r, &RSC, E, sizeof E), M2M_ERR_MALFORMED);
    m->target = "x";
    m->target_len = 1;
    assert_int_equal(http_to_request(m, &r, &RSC, E, sizeof E), M2M_ERR_MALFORMED);
    m->target = "/x";
    m->target_len = 2;
    assert_int_equal(http_to_request(m, &r, &RSC, E, sizeof E), M2M_OK);
    assert_string_equal(r.to, "x");
    assert_int_equal(r.sec.kind, M2M_SEC_TLS_PSK);
    m2m_request_clear(&r);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_operations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_keeps_req, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
