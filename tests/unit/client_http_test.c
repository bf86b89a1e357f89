/* client_http_test.c: the device client library (src/client/) over plain HTTP against a scripted
 * local test server thread: request serialization, response framing, keep-alive and reconnect,
 * every failure class (refused, closed, timeout, malformed, oversized, foreign rqi), AE
 * registration and subscription bodies, argument checks, and the RFC 6920 raw-key identifier. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

/* tests/CMakeLists.txt links unit tests against m2mcore only, not m2msec_client: the module
 * under test is compiled into this executable. */
#include "../../src/client/client.c"
#include "../../src/client/client_coap.c"
#include "../../src/client/client_http.c"
#include "../../src/client/client_ops.c"
#include "../../src/client/client_tls.c"

/* ---- scripted server ------------------------------------------------------------------------ */

enum act { REPLY, REPLY_THEN_CLOSE, CLOSE_NO_REPLY, HANG, GREET_THEN_CLOSE };
struct step {
    enum act act;
    const char *resp; /* "%RQI%" is replaced by the request's X-M2M-RI */
};
struct tsrv {
    int lfd, port;
    pthread_t th;
    const struct step *steps;
    size_t n_steps, done;
    int accepts;
    char reqs[8][8192]; /* raw requests received */
    volatile int stop;
};

/* Reads one request (head + Content-Length body) into out; 0 on EOF. */
static size_t read_req(int fd, char *out, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char *end = n ? strstr(out, "\r\n\r\n") : NULL;
        if (end) {
            const char *cl = strcasestr(out, "Content-Length:");
            size_t need = (size_t)(end + 4 - out) + (cl && cl < end ? strtoul(cl + 15, 0, 10) : 0);
            if (n >= need)
                return n;
        }
        ssize_t r = recv(fd, out + n, cap - 1 - n, 0);
        if (r <= 0)
            return 0;
        n += (size_t)r;
        out[n] = 0;
    }
}

static void send_resp(int fd, const char *tmpl, const char *req)
{
    char rqi[128] = "", out[8192];
    const char *h = strstr(req, "X-M2M-RI: ");
    if (h)
        sscanf(h + 10, "%127[^\r]", rqi);
    const char *mark = strstr(tmpl, "%RQI%");
    if (mark)
        snprintf(out, sizeof out, "%.*s%s%s", (int)(mark - tmpl), tmpl, rqi, mark + 5);
    else
        snprintf(out, sizeof out, "%s", tmpl);
    assert_true(send(fd, out, strlen(out), MSG_NOSIGNAL) == (ssize_t)strlen(out));
}

static void *tsrv_main(void *arg)
{
    struct tsrv *s = arg;
    while (s->done < s->n_steps) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            break;
        s->accepts++;
        if (s->steps[s->done].act == GREET_THEN_CLOSE) { /* answers before reading anything */
            send_resp(fd, s->steps[s->done++].resp, "");
            usleep(50000);
            close(fd);
            continue;
        }
        while (s->done < s->n_steps) {
            char *req = s->reqs[s->done < 8 ? s->done : 7];
            if (read_req(fd, req, sizeof s->reqs[0]) == 0)
                break;
            const struct step *st = &s->steps[s->done++];
            if (st->act == HANG) {
                while (!s->stop)
                    usleep(10000);
                break;
            }
            if (st->act != CLOSE_NO_REPLY)
                send_resp(fd, st->resp, req);
            if (st->act != REPLY)
                break;
        }
        close(fd);
    }
    return NULL;
}

static void tsrv_start(struct tsrv *s, const struct step *steps, size_t n)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    memset(s, 0, sizeof *s);
    s->steps = steps;
    s->n_steps = n;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->lfd >= 0);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->lfd, 8), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->th, NULL, tsrv_main, s), 0);
}

static void tsrv_stop(struct tsrv *s)
{
    s->stop = 1;
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(s->th, NULL);
    close(s->lfd);
}

static struct m2msec_client *client_for(const struct tsrv *s, const char *origin, int timeout_ms)
{
    char url[64], err[CL_ERR_MAX] = "";
    struct m2msec_client_cfg cfg;
    struct m2msec_client *c = NULL;
    m2msec_client_cfg_init(&cfg);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s->port);
    cfg.url = url;
    cfg.originator = origin;
    if (timeout_ms)
        cfg.timeout_ms = timeout_ms;
    cfg.max_response = 2048;
    assert_int_equal(m2msec_client_new(&cfg, &c, err, sizeof err), M2MSEC_OK);
    assert_string_equal(err, "");
    return c;
}

#define OK_200                                                                                     \
    "HTTP/1.1 200 OK\r\nX-M2M-RSC: 2000\r\nX-M2M-RI: %RQI%\r\nContent-Length: 2\r\n\r\n{}"

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_retrieve_request_and_response(void **st)
{
    static const struct step steps[] = {
        {REPLY, "HTTP/1.1 200 OK\r\nX-M2M-RSC: 2000\r\nX-M2M-RI: %RQI%\r\nContent-Location: "
                "/cse-in/ae1\r\nContent-Type: application/json\r\nContent-Length: 18\r\n\r\n"
                "{\"m2m:ae\":{\"a\":1}}"}};
    struct tsrv s;
    struct m2msec_response *r = NULL;
    tsrv_start(&s, steps, 1);
    struct m2msec_client *c = client_for(&s, "Cae1", 0);
    assert_int_equal(m2msec_retrieve(c, "cse-in/ae1", "rcn=4", &r), M2MSEC_OK);
    assert_int_equal(r->rsc, 2000);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 18);
    assert_string_equal(r->body, "{\"m2m:ae\":{\"a\":1}}");
    assert_string_equal(r->location, "/cse-in/ae1");
    assert_non_null(r->rqi);
    assert_string_equal(m2msec_client_errmsg(c), "");
    m2msec_response_free(r);
    m2msec_client_free(c);
    tsrv_stop(&s);
    const char *q = s.reqs[0];
    assert_non_null(strstr(q, "GET /cse-in/ae1?rcn=4 HTTP/1.1\r\n"));
    assert_non_null(strstr(q, "\r\nX-M2M-Origin: Cae1\r\n"));
    assert_non_null(strstr(q, "\r\nX-M2M-RVI: 3\r\n"));
    assert_non_null(strstr(q, "\r\nX-M2M-RI: m2msec-"));
    assert_non_null(strstr(q, "\r\nHost: 127.0.0.1:"));
    assert_null(strstr(q, "Content-Length")); /* a GET has no body */
}

static void test_create_update_delete_keepalive(void **st)
{
    static const struct step steps[] = {{REPLY, OK_200}, {REPLY, OK_200}, {REPLY, OK_200}};
    struct tsrv s;
    struct m2msec_response *r = NULL;
    tsrv_start(&s, steps, 3);
    struct m2msec_client *c = client_for(&s, NULL, 0);
    assert_int_equal(m2msec_create(c, "/cse-in/ae1", 3, "{\"m2m:cnt\":{}}", &r), M2MSEC_OK);
    m2msec_response_free(r);
    assert_int_equal(m2msec_update(c, "/cse-in/ae1/c", "{\"m2m:cnt\":{\"lbl\":[]}}", &r),
                     M2MSEC_OK);
    m2msec_response_free(r);
    assert_int_equal(m2msec_delete(c, "/cse-in/ae1/c", &r), M2MSEC_OK);
    m2msec_response_free(r);
    m2msec_client_free(c);
    tsrv_stop(&s);
    assert_int_equal(s.accepts, 1); /* one kept-alive connection */
    assert_non_null(strstr(s.reqs[0], "POST /cse-in/ae1 HTTP/1.1\r\n"));
    assert_non_null(strstr(s.reqs[0], "Content-Type: application/json;ty=3\r\n"));
    assert_non_null(strstr(s.reqs[0], "Content-Length: 14\r\n\r\n{\"m2m:cnt\":{}}"));
    assert_null(strstr(s.reqs[0], "X-M2M-Origin")); /* no originator configured */
    assert_non_null(strstr(s.reqs[1], "PUT /cse-in/ae1/c HTTP/1.1\r\n"));
    assert_non_null(strstr(s.reqs[1], "Content-Type: application/json\r\n"));
    assert_non_null(strstr(s.reqs[2], "DELETE /cse-in/ae1/c HTTP/1.1\r\n"));
    /* each request has its own identifier */
    char a[64], b[64];
    sscanf(strstr(s.reqs[0], "X-M2M-RI: ") + 10, "%63[^\r]", a);
    sscanf(strstr(s.reqs[1], "X-M2M-RI: ") + 10, "%63[^\r]", b);
    assert_string_not_equal(a, b);
}

static void test_reconnect_after_close(void **st)
{
    /* first: the server says Connection: close; second: it closes the idle kept-alive connection
     * silently after answering; both times the next request goes out on a new connection */
    static const struct step steps[] = {
        {REPLY_THEN_CLOSE, "HTTP/1.1 200 OK\r\nConnection: close\r\nX-M2M-RSC: 2000\r\n"
                           "Content-Length: 0\r\n\r\n"},
        {REPLY_THEN_CLOSE, OK_200},
        {REPLY, OK_200}};
    struct tsrv s;
    struct m2msec_response *r = NULL;
    tsrv_start(&s, steps, 3);
    struct m2msec_client *c = client_for(&s, "Cx", 0);
    for (int i = 0; i < 3; i++) {
        int rc = m2msec_retrieve(c, "/cse-in", NULL, &r);
        if (rc != M2MSEC_OK)
            fail_msg("request %d: rc %d: %s", i, rc, m2msec_client_errmsg(c));
        assert_int_equal(r->rsc, 2000);
        m2msec_response_free(r);
        usleep(20000); /* let the server's close arrive */
    }
    m2msec_client_free(c);
    tsrv_stop(&s);
    assert_int_equal(s.accepts, 3);
}

static void expect_fail(const struct step *steps, size_t n, int timeout_ms, int want,
                        const char *msg_part, int want_accepts)
{
    struct tsrv s;
    struct m2msec_response *r = (void *)1;
    tsrv_start(&s, steps, n);
    struct m2msec_client *c = client_for(&s, "Cx", timeout_ms);
    assert_int_equal(m2msec_retrieve(c, "/cse-in", NULL, &r), want);
    assert_null(r);
    if (strstr(m2msec_client_errmsg(c), msg_part) == NULL)
        fail_msg("errmsg '%s' lacks '%s'", m2msec_client_errmsg(c), msg_part);
    m2msec_client_free(c);
    tsrv_stop(&s);
    if (want_accepts)
        assert_int_equal(s.accepts, want_accepts);
}

static void test_closed_without_reply(void **st)
{
    static const struct step steps[] = {{CLOSE_NO_REPLY, NULL}};
    expect_fail(steps, 1, 0, M2MSEC_ERR_CLOSED, "closed", 1); /* fresh connection: no retry */
}

static void test_truncated_reply(void **st)
{
    static const struct step steps[] = {
        {REPLY_THEN_CLOSE, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}"}};
    expect_fail(steps, 1, 0, M2MSEC_ERR_CLOSED, "before a complete response", 1);
}

static void test_malformed_reply(void **st)
{
    static const struct step a[] = {{REPLY_THEN_CLOSE, "HTTP/1.1 2x0 OK\r\n\r\n"}};
    expect_fail(a, 1, 0, M2MSEC_ERR_PROTOCOL, "malformed", 1);
    static const struct step b[] = {{REPLY_THEN_CLOSE, "HTTP/1.1 200 OK\nContent-Length: 0\n\n"}};
    expect_fail(b, 1, 0, M2MSEC_ERR_PROTOCOL, "malformed", 1);
    static const struct step c[] = {
        {REPLY_THEN_CLOSE, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}"}};
    expect_fail(c, 1, 0, M2MSEC_ERR_PROTOCOL, "malformed", 1);
    static const struct step d[] = {
        {REPLY_THEN_CLOSE, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}};
    expect_fail(d, 1, 0, M2MSEC_ERR_PROTOCOL, "", 1);
}

static void test_oversized_reply(void **st)
{
    static const struct step steps[] = {
        {REPLY_THEN_CLOSE, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n{}"}};
    expect_fail(steps, 1, 0, M2MSEC_ERR_PROTOCOL, "oversized", 1);
}

static void test_foreign_request_identifier(void **st)
{
    static const struct step steps[] = {
        {REPLY,
         "HTTP/1.1 200 OK\r\nX-M2M-RSC: 2000\r\nX-M2M-RI: other\r\nContent-Length: 0\r\n\r\n"}};
    expect_fail(steps, 1, 0, M2MSEC_ERR_PROTOCOL, "request identifier", 1);
}

static void test_timeout(void **st)
{
    static const struct step steps[] = {{HANG, NULL}};
    expect_fail(steps, 1, 300, M2MSEC_ERR_TIMEOUT, "timed out", 1);
}

static void test_interim_and_chunked(void **st)
{
    static const struct step steps[] = {
        {REPLY, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nX-M2M-RSC: 2001\r\n"
                "Transfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n"}};
    struct tsrv s;
    struct m2msec_response *r = NULL;
    tsrv_start(&s, steps, 1);
    struct m2msec_client *c = client_for(&s, "Cx", 0);
    assert_int_equal(m2msec_retrieve(c, "/x", NULL, &r), M2MSEC_OK);
    assert_int_equal(r->status, 201);
    assert_int_equal(r->rsc, 2001);
    assert_string_equal(r->body, "{\"a\":1}");
    assert_null(r->location);
    m2msec_response_free(r);
    m2msec_client_free(c);
    tsrv_stop(&s);
}

static void test_missing_rsc_and_empty_body(void **st)
{
    static const struct step steps[] = {
        {REPLY, "HTTP/1.1 404 Not Found\r\nX-M2M-RSC: 40x4\r\nContent-Length: 0\r\n\r\n"}};
    struct tsrv s;
    struct m2msec_response *r = NULL;
    tsrv_start(&s, steps, 1);
    struct m2msec_client *c = client_for(&s, "Cx", 0);
    assert_int_equal(m2msec_retrieve(c, "/x", "", &r), M2MSEC_OK);
    assert_int_equal(r->rsc, 0);
    assert_int_equal(r->status, 404);
    assert_string_equal(r->body, "");
    m2msec_response_free(r);
    m2msec_client_free(c);
    tsrv_stop(&s);
    assert_non_null(strstr(s.reqs[0], "GET /x HTTP/1.1\r\n")); /* empty query: no '?' */
}

#define AE_2001                                                                                    \
    "HTTP/1.1 201 Created\r\nX-M2M-RSC: 2001\r\nContent-Length: 39\r\n\r\n"                        \
    "{\"m2m:ae\":{\"aei\":\"CAssigned\",\"rn\":\"a\"}}"

static void test_register_ae(void **st)
{
    static const struct step steps[] = {{REPLY, AE_2001}, {REPLY, OK_200}};
    struct tsrv s;
    struct m2msec_response *r = NULL;
    char *aei = NULL;
    tsrv_start(&s, steps, 2);
    struct m2msec_client *c = client_for(&s, "Cold", 0);
    assert_int_equal(m2msec_register_ae(c, NULL, "Nmyapp", "a", "C", &aei, &r), M2MSEC_OK);
    assert_string_equal(aei, "CAssigned");
    assert_int_equal(r->rsc, 2001);
    assert_string_equal(m2msec_client_originator(c), "CAssigned");
    m2msec_response_free(r);
    free(aei);
    assert_int_equal(m2msec_retrieve(c, "/cse-in/a", NULL, &r), M2MSEC_OK);
    m2msec_response_free(r);
    m2msec_client_free(c);
    tsrv_stop(&s);
    assert_non_null(strstr(s.reqs[0], "POST /cse-in HTTP/1.1\r\n"));
    assert_non_null(strstr(s.reqs[0], "Content-Type: application/json;ty=2\r\n"));
    assert_non_null(strstr(s.reqs[0], "\r\nX-M2M-Origin: C\r\n"));
    assert_non_null(strstr(s.reqs[0], "\"api\":\"Nmyapp\""));
    assert_non_null(strstr(s.reqs[0], "\"rn\":\"a\""));
    assert_non_null(strstr(s.reqs[0], "\"srv\":[\"3\"]"));
    assert_non_null(strstr(s.reqs[1], "\r\nX-M2M-Origin: CAssigned\r\n"));
}

static void test_register_ae_refused(void **st)
{
    static const struct step steps[] = {
        {REPLY, "HTTP/1.1 403 Forbidden\r\nX-M2M-RSC: 4117\r\nContent-Length: 14\r\n\r\n"
                "{\"m2m:dbg\":\"\"}"},
        /* 2001 but no aei: refused as well */
        {REPLY, "HTTP/1.1 201 Created\r\nX-M2M-RSC: 2001\r\nContent-Length: 11\r\n\r\n"
                "{\"m2m:ae\":{"},
        {REPLY, OK_200}};
    struct tsrv s;
    struct m2msec_response *r = NULL;
    char *aei = (char *)"x";
    tsrv_start(&s, steps, 3);
    struct m2msec_client *c = client_for(&s, "Cold", 0);
    assert_int_equal(m2msec_register_ae(c, "/cse-in", "Napp", NULL, "Cnew", &aei, &r),
                     M2MSEC_ERR_RSC);
    assert_null(aei);
    assert_int_equal(r->rsc, 4117);
    m2msec_response_free(r);
    assert_string_equal(m2msec_client_originator(c), "Cold"); /* restored */
    assert_int_equal(m2msec_register_ae(c, NULL, "Napp", NULL, NULL, &aei, NULL), M2MSEC_ERR_RSC);
    assert_int_equal(m2msec_retrieve(c, "/cse-in", NULL, &r), M2MSEC_OK);
    m2msec_response_free(r);
    m2msec_client_free(c);
    tsrv_stop(&s);
    assert_non_null(strstr(s.reqs[0], "\r\nX-M2M-Origin: Cnew\r\n"));
    assert_null(strstr(s.reqs[0], "\"rn\""));
    assert_non_null(strstr(s.reqs[1], "\r\nX-M2M-Origin: Cold\r\n"));
}

static void test_subscribe_body(void **st)
{
    static const struct step steps[] = {{REPLY, OK_200}, {REPLY, OK_200}};
    struct tsrv s;
    struct m2msec_response *r = NULL;
    const int net[] = {1, 3};
    tsrv_start(&s, steps, 2);
    struct m2msec_client *c = client_for(&s, "Cx", 0);
    assert_int_equal(m2msec_subscribe(c, "/cse-in/a/c", "s1", "http://h:1/n", net, 2, &r),
                     M2MSEC_OK);
    m2msec_response_free(r);
    assert_int_equal(m2msec_subscribe(c, "/cse-in/a/c", NULL, "http://h:1/n", NULL, 0, &r),
                     M2MSEC_OK);
    m2msec_response_free(r);
    assert_int_equal(m2msec_subscribe(c, "/cse-in/a/c", NULL, NULL, NULL, 0, &r), M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_subscribe(c, "/cse-in/a/c", NULL, "u", NULL, 2, &r), M2MSEC_ERR_USAGE);
    m2msec_client_free(c);
    tsrv_stop(&s);
    assert_non_null(strstr(s.reqs[0], "Content-Type: application/json;ty=23\r\n"));
    assert_non_null(strstr(s.reqs[0], "\"nu\":[\"http://h:1/n\"]"));
    assert_non_null(strstr(s.reqs[0], "\"enc\":{\"net\":[1,3]}"));
    assert_non_null(strstr(s.reqs[0], "\"rn\":\"s1\""));
    assert_null(strstr(s.reqs[1], "\"enc\""));
    assert_null(strstr(s.reqs[1], "\"rn\""));
}

static void test_connection_refused(void **st)
{
    struct tsrv s;
    static const struct step none[] = {{REPLY, OK_200}};
    tsrv_start(&s, none, 1);
    tsrv_stop(&s); /* the port is now closed */
    struct m2msec_client *c = client_for(&s, "Cx", 0);
    struct m2msec_response *r = NULL;
    assert_int_equal(m2msec_retrieve(c, "/cse-in", NULL, &r), M2MSEC_ERR_CONNECT);
    assert_null(r);
    assert_non_null(strstr(m2msec_client_errmsg(c), "cannot connect"));
    m2msec_client_free(c);
}

static int new_with(const char *url, void (*tweak)(struct m2msec_client_cfg *), char *err)
{
    struct m2msec_client_cfg cfg;
    struct m2msec_client *c = (void *)1;
    m2msec_client_cfg_init(&cfg);
    cfg.url = url;
    if (tweak)
        tweak(&cfg);
    int rc = m2msec_client_new(&cfg, &c, err, CL_ERR_MAX);
    if (rc != M2MSEC_OK)
        assert_null(c);
    m2msec_client_free(c);
    return rc;
}

static const uint8_t KEY[65] = {1};
static void bad_origin(struct m2msec_client_cfg *c)
{
    c->originator = "C\r\nX: y";
}
static void psk_on_http(struct m2msec_client_cfg *c)
{
    c->cred = M2MSEC_CRED_PSK;
    c->psk_identity = "a@b";
    c->psk_key = KEY;
    c->psk_key_len = 16;
}
static void psk_too_long(struct m2msec_client_cfg *c)
{
    psk_on_http(c);
    c->psk_key_len = 65;
}
static void psk_empty(struct m2msec_client_cfg *c)
{
    psk_on_http(c);
    c->psk_key_len = 0;
}
static void psk_bad_identity(struct m2msec_client_cfg *c)
{
    psk_on_http(c);
    c->psk_identity = "a b";
}
static void cert_without_key(struct m2msec_client_cfg *c)
{
    c->cred = M2MSEC_CRED_CERT;
    c->cert_file = "/nonexistent";
}
static void cert_missing(struct m2msec_client_cfg *c)
{
    cert_without_key(c);
    c->key_file = "/nonexistent";
}
static void ca_missing(struct m2msec_client_cfg *c)
{
    c->ca_file = "/nonexistent";
}
static void rpk_missing(struct m2msec_client_cfg *c)
{
    c->cred = M2MSEC_CRED_RPK;
    c->key_file = "/nonexistent";
}
static void bad_pin(struct m2msec_client_cfg *c)
{
    c->server_pin = "sha256:abc";
}
static void bad_timeout(struct m2msec_client_cfg *c)
{
    c->timeout_ms = 0;
}
static void bad_rvi(struct m2msec_client_cfg *c)
{
    c->rvi = "123";
}
static void bad_kind(struct m2msec_client_cfg *c)
{
    c->cred = (enum m2msec_cred)42;
}

static void test_config_checks(void **st)
{
    char err[CL_ERR_MAX];
    static const char *bad_urls[] = {NULL,         "",           "127.0.0.1:80",   "ftp://h",
                                     "http://",    "http://h:0", "http://h:65536", "http://h:x",
                                     "http://u@h", "http://h h", "coap://[::1"};
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad_urls); i++)
        assert_int_equal(new_with(bad_urls[i], NULL, err), M2MSEC_ERR_USAGE);
    assert_int_equal(new_with("http://h", bad_origin, err), M2MSEC_ERR_USAGE);
    assert_int_equal(new_with("http://h", psk_on_http, err), M2MSEC_ERR_USAGE);
    assert_non_null(strstr(err, "https://"));
    assert_int_equal(new_with("https://h", psk_too_long, err), M2MSEC_ERR_USAGE);
    assert_int_equal(new_with("https://h", psk_empty, err), M2MSEC_ERR_USAGE);
    assert_int_equal(new_with("https://h", psk_bad_identity, err), M2MSEC_ERR_USAGE);
    assert_int_equal(new_with("https://h", cert_without_key, err), M2MSEC_ERR_USAGE);
    assert_int_equal(new_with("https://h", cert_missing, err), M2MSEC_ERR_FILE);
    assert_int_equal(new_with("https://h", ca_missing, err), M2MSEC_ERR_FILE);
    assert_non_null(strstr(err, "/nonexistent"));
    assert_int_equal(new_with("https://h", rpk_missing, err), M2MSEC_ERR_FILE);
    assert_int_equal(new_with("https://h", bad_pin, err), M2MSEC_ERR_USAGE);
    assert_int_equal(new_with("http://h", bad_timeout, err), M2MSEC_ERR_USAGE);
    assert_int_equal(new_with("http://h", bad_rvi, err), M2MSEC_ERR_USAGE);
    assert_int_equal(new_with("https://h", bad_kind, err), M2MSEC_ERR_USAGE);
    assert_int_equal(new_with("https://h", psk_on_http, err), M2MSEC_OK);
    assert_int_equal(new_with("http://[::1]:8080/ignored", NULL, err), M2MSEC_OK);
    assert_int_equal(m2msec_client_new(NULL, NULL, err, sizeof err), M2MSEC_ERR_USAGE);
}

static void test_url_parse(void **st)
{
    struct cl_url u;
    char err[CL_ERR_MAX];
    assert_int_equal(cl_url_parse("http://example.com", &u, err, sizeof err), M2MSEC_OK);
    assert_int_equal(u.port, 80);
    assert_false(u.host_is_ip);
    assert_int_equal(cl_url_parse("HTTPS://127.0.0.1", &u, err, sizeof err), M2MSEC_OK);
    assert_int_equal(u.port, 443);
    assert_int_equal(u.scheme, CL_HTTPS);
    assert_true(u.host_is_ip);
    assert_int_equal(cl_url_parse("coap://h", &u, err, sizeof err), M2MSEC_OK);
    assert_int_equal(u.port, 5683);
    assert_int_equal(cl_url_parse("coaps://[::1]", &u, err, sizeof err), M2MSEC_OK);
    assert_int_equal(u.port, 5684);
    assert_string_equal(u.host, "::1");
    assert_true(u.host_is_ip);
    assert_int_equal(cl_url_parse("coaps://[::1]:7/p", &u, err, sizeof err), M2MSEC_OK);
    assert_int_equal(u.port, 7);
    assert_int_equal(cl_url_parse("http://h:8080/a:b", &u, err, sizeof err), M2MSEC_OK);
    assert_int_equal(u.port, 8080);
    assert_int_equal(cl_url_parse("http://h/a:9", &u, err, sizeof err), M2MSEC_OK);
    assert_int_equal(u.port, 80);
    char big[HTTP_URL_MAX + 10];
    memset(big, 'a', sizeof big);
    memcpy(big, "http://", 7);
    big[sizeof big - 1] = 0;
    assert_int_equal(cl_url_parse(big, &u, err, sizeof err), M2MSEC_ERR_USAGE);
}

static void test_argument_checks(void **st)
{
    static const struct step steps[] = {{REPLY, OK_200}};
    struct tsrv s;
    struct m2msec_response *r = (void *)1;
    tsrv_start(&s, steps, 1);
    struct m2msec_client *c = client_for(&s, "Cx", 0);
    static const char *bad_targets[] = {NULL, "", "/a b", "/a\r\nX: 1", "/a?b", "/a#b", "/\x7f"};
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad_targets); i++) {
        assert_int_equal(m2msec_retrieve(c, bad_targets[i], NULL, &r), M2MSEC_ERR_USAGE);
        assert_null(r);
    }
    assert_int_equal(m2msec_retrieve(c, "/a", "x=1 2", &r), M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_retrieve(c, "/a", "x=1#f", &r), M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_retrieve(c, "/a", NULL, NULL), M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_create(c, "/a", 0, "{}", &r), M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_create(c, "/a", 3, NULL, &r), M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_create(NULL, "/a", 3, "{}", &r), M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_update(c, "/a", NULL, &r), M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_update(NULL, "/a", NULL, &r), M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_delete(NULL, "/a", &r), M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_client_set_originator(c, "C x"), M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_client_set_originator(NULL, "Cx"), M2MSEC_ERR_USAGE);
    assert_string_equal(m2msec_client_originator(c), "Cx");
    assert_int_equal(m2msec_client_set_originator(c, NULL), M2MSEC_OK);
    assert_null(m2msec_client_originator(c));
    char *aei = NULL;
    assert_int_equal(m2msec_register_ae(c, NULL, NULL, "a", NULL, &aei, NULL), M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_register_ae(c, NULL, "N", "a", "C\n", &aei, NULL), M2MSEC_ERR_USAGE);
    assert_null(m2msec_client_originator(c)); /* unchanged after the refused stem */
    m2msec_client_free(c);
    tsrv_stop(&s);
    assert_int_equal(s.accepts, 0); /* nothing went out */
}

static void test_null_safety_and_names(void **st)
{
    m2msec_client_free(NULL);
    m2msec_response_free(NULL);
    cl_tls_free(NULL);
    assert_string_equal(m2msec_client_errmsg(NULL), "no client");
    assert_null(m2msec_client_originator(NULL));
    for (int i = M2MSEC_OK; i <= M2MSEC_ERR_UNSUPPORTED; i++)
        assert_string_not_equal(m2msec_result_str(i), "unknown result");
    assert_string_equal(m2msec_result_str(-1), "unknown result");
    assert_string_equal(m2msec_result_str(99), "unknown result");
}

static const char TEST_KEY[] = "-----BEGIN PRIVATE KEY-----\n"
                               "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgWSlxNRDKMLlRKzZX\n"
                               "pKEd5iLDz9X0a49JomsMKPW0ZrKhRANCAAQxRmk5F+cTkFCv1KuQJ0AWwCHUjRt3\n"
                               "TcibaIKmEbUAouEemOWf805l1W5KQJRiIPnHZ54rNMbqXT5f5CjhEEY1\n"
                               "-----END PRIVATE KEY-----\n";

static void test_rpk_id(void **st)
{
    char path[] = "/tmp/client_http_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_true(write(fd, TEST_KEY, sizeof TEST_KEY - 1) == (ssize_t)(sizeof TEST_KEY - 1));
    close(fd);
    char *ni = NULL;
    assert_int_equal(m2msec_rpk_id(path, &ni), M2MSEC_OK);
    /* computed independently: openssl pkey -pubout -outform DER | sha256 | base64url */
    assert_string_equal(ni, "ni:///sha-256;w4QelDmaUSloITKkWzUr9Uj2nOJ0q9ccR5Fu2hfn6K8");
    free(ni);
    /* a file that is not a key */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(write(fd, "not a key\n", 10) == 10);
    close(fd);
    assert_int_equal(m2msec_rpk_id(path, &ni), M2MSEC_ERR_FILE);
    assert_int_equal(m2msec_rpk_id("/nonexistent", &ni), M2MSEC_ERR_FILE);
    assert_int_equal(m2msec_rpk_id(NULL, &ni), M2MSEC_ERR_USAGE);
    unlink(path);
}

static void test_https_against_plain_server(void **st)
{
    /* a TLS client meeting a plain HTTP server fails the handshake with a TLS error */
    static const struct step steps[] = {{GREET_THEN_CLOSE, "HTTP/1.1 400 Bad Request\r\n\r\n"}};
    struct tsrv s;
    char url[64], err[CL_ERR_MAX];
    struct m2msec_client_cfg cfg;
    struct m2msec_client *c = NULL;
    struct m2msec_response *r = NULL;
    tsrv_start(&s, steps, 1);
    m2msec_client_cfg_init(&cfg);
    snprintf(url, sizeof url, "https://127.0.0.1:%d", s.port);
    cfg.url = url;
    cfg.connect_timeout_ms = 3000;
    assert_int_equal(m2msec_client_new(&cfg, &c, err, sizeof err), M2MSEC_OK);
    int rc = m2msec_retrieve(c, "/", NULL, &r);
    if (rc != M2MSEC_ERR_TLS && rc != M2MSEC_ERR_CLOSED)
        fail_msg("rc %d: %s", rc, m2msec_client_errmsg(c));
    assert_true(rc == M2MSEC_ERR_TLS || rc == M2MSEC_ERR_CLOSED);
    assert_null(r);
    assert_non_null(strstr(m2msec_client_errmsg(c), "TLS"));
    m2msec_client_free(c);
    tsrv_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retrieve_request_and_response),
        cmocka_unit_test(test_create_update_delete_keepalive),
        cmocka_unit_test(test_reconnect_after_close),
        cmocka_unit_test(test_closed_without_reply),
        cmocka_unit_test(test_truncated_reply),
        cmocka_unit_test(test_malformed_reply),
        cmocka_unit_test(test_oversized_reply),
        cmocka_unit_test(test_foreign_request_identifier),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_interim_and_chunked),
        cmocka_unit_test(test_missing_rsc_and_empty_body),
        cmocka_unit_test(test_register_ae),
        cmocka_unit_test(test_register_ae_refused),
        cmocka_unit_test(test_subscribe_body),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_config_checks),
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_argument_checks),
        cmocka_unit_test(test_null_safety_and_names),
        cmocka_unit_test(test_rpk_id),
        cmocka_unit_test(test_https_against_plain_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
