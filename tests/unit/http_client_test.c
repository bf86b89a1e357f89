/* http_client_test.c: URL parsing, and the notification client against a one-shot in-test HTTP
 * server thread on the loopback (normal, chunked, 1xx, EOF-delimited, silent, broken peers). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/timeutil.h"
#include "bind/http/http_client.h"

/* ---- URL parser ---- */

static m2m_rc url(const char *u, char *host, int *port, char *path, bool *tls)
{
    return http_url_parse(u, strlen(u), host, 64, port, path, 64, tls);
}

static void test_url_good(void **state)
{
    char host[64], path[64];
    int port = 0;
    bool tls = true;
    assert_int_equal(url("http://127.0.0.1:8080/notify", host, &port, path, &tls), M2M_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_string_equal(path, "/notify");
    assert_false(tls);
    assert_int_equal(url("http://example.com", host, &port, path, &tls), M2M_OK);
    assert_string_equal(host, "example.com");
    assert_int_equal(port, 80);
    assert_string_equal(path, "/");
    assert_int_equal(url("HTTPS://my-host.example_1.org/x/y?a=1&b=2", host, &port, path, &tls),
                     M2M_OK);
    assert_true(tls);
    assert_int_equal(port, 443);
    assert_string_equal(host, "my-host.example_1.org");
    assert_string_equal(path, "/x/y?a=1&b=2");
    assert_int_equal(url("http://[::1]:9000/a", host, &port, path, &tls), M2M_OK);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 9000);
    assert_int_equal(url("http://[2001:db8::1]", host, &port, path, &tls), M2M_OK);
    assert_string_equal(host, "2001:db8::1");
    assert_int_equal(port, 80);
    assert_int_equal(url("http://h?q=1", host, &port, path, &tls), M2M_OK);
    assert_string_equal(path, "/?q=1");
    assert_int_equal(url("http://h:65535/", host, &port, path, &tls), M2M_OK);
    assert_int_equal(port, 65535);
    assert_int_equal(url("http://h:00001/", host, &port, path, &tls), M2M_OK);
    assert_int_equal(port, 1);
    /* only len bytes are read */
    assert_int_equal(http_url_parse("http://h/abcdef", 10, host, 64, &port, path, 64, &tls),
                     M2M_OK);
    assert_string_equal(path, "/a");
}

static void test_url_bad(void **state)
{
    static const char *const bad[] = {
        "ftp://h/",
        "http://",
        "http:/h",
        "http//h",
        "http://:80/",
        "http://h:/",
        "http://h:0/",
        "http://h:65536",
        "http://h:123456",
        "http://h:8a/",
        "http://u@h/",
        "http://u:p@h/",
        "http://h/a b",
        "http://h/#frag",
        "http://h#f",
        "http://[::1/",
        "http://[zz]/",
        "http://[]/",
        "http://[::1]x/",
        "http://h%20/",
        "http://h/\x01",
        "http://h/\x7f",
        "http://h/\xc3\xa9",
        "http://h h/",
        "",
        "http://[fe80::1%25eth0]/",
    };
    char host[64], path[64];
    int port = 0;
    bool tls = false;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (url(bad[i], host, &port, path, &tls) != M2M_ERR_MALFORMED)
            fail_msg("accepted %s", bad[i]);
    static const char nul[] = "http://h/a\0b";
    assert_int_equal(http_url_parse(nul, sizeof nul - 1, host, 64, &port, path, 64, &tls),
                     M2M_ERR_MALFORMED);
    static const char nulh[] = "http://h\0x/";
    assert_int_equal(http_url_parse(nulh, sizeof nulh - 1, host, 64, &port, path, 64, &tls),
                     M2M_ERR_MALFORMED);
}

static void test_url_limits(void **state)
{
    char host[8], path[8];
    int port = 0;
    bool tls = false;
    const char *u = "http://1234567/1234567";
    assert_int_equal(http_url_parse(u, strlen(u), host, 8, &port, path, 8, &tls), M2M_ERR_LIMIT);
    u = "http://1234567/123456";
    assert_int_equal(http_url_parse(u, strlen(u), host, 8, &port, path, 8, &tls), M2M_OK);
    assert_string_equal(host, "1234567");
    assert_string_equal(path, "/123456");
    u = "http://12345678/";
    assert_int_equal(http_url_parse(u, strlen(u), host, 8, &port, path, 8, &tls), M2M_ERR_LIMIT);
    u = "http://h?123456";
    assert_int_equal(http_url_parse(u, strlen(u), host, 8, &port, path, 8, &tls), M2M_ERR_LIMIT);
    u = "http://h?12345";
    assert_int_equal(http_url_parse(u, strlen(u), host, 8, &port, path, 8, &tls), M2M_OK);
    assert_string_equal(path, "/?12345");
}

/* ---- in-test server ---- */

enum srv_mode {
    SRV_REPLY,   /* read the request, send resp, close */
    SRV_TRICKLE, /* the same, one byte per send */
    SRV_CLOSE,   /* read the request, close without answering */
    SRV_SILENT,  /* read the request, answer nothing until the client leaves */
};

struct tsrv {
    int lfd, port;
    enum srv_mode mode;
    const char *resp;
    char got[8192];
    size_t got_len;
    pthread_t th;
};

/* Reads one whole request (head + Content-Length body) into s->got. */
static void srv_read_request(struct tsrv *s, int fd)
{
    struct http_limits l;
    static struct http_msg m;
    http_limits_default(&l);
    for (;;) {
        size_t used = 0;
        int st = 0;
        if (http_parse_request((const uint8_t *)s->got, s->got_len, &l, &m, &used, &st) !=
            HTTP_PARSE_NEED_MORE)
            return;
        ssize_t n = recv(fd, s->got + s->got_len, sizeof s->got - s->got_len, 0);
        if (n <= 0)
            return;
        s->got_len += (size_t)n;
    }
}

static void *srv_main(void *arg)
{
    struct tsrv *s = arg;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    srv_read_request(s, fd);
    if (s->mode == SRV_REPLY) {
        (void)!send(fd, s->resp, strlen(s->resp), MSG_NOSIGNAL);
    } else if (s->mode == SRV_TRICKLE) {
        for (size_t i = 0; s->resp[i]; i++) {
            (void)!send(fd, s->resp + i, 1, MSG_NOSIGNAL);
            usleep(200);
        }
    } else if (s->mode == SRV_SILENT) {
        char b[64];
        while (recv(fd, b, sizeof b, 0) > 0)
            ;
    }
    close(fd);
    return NULL;
}

static void srv_start(struct tsrv *s, enum srv_mode mode, const char *resp)
{
    memset(s, 0, sizeof *s);
    s->mode = mode;
    s->resp = resp;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->lfd, 4), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(struct tsrv *s)
{
    pthread_join(s->th, NULL);
    close(s->lfd);
}

/* Runs one POST against a fresh server in the given mode. */
static m2m_rc post(struct tsrv *s, enum srv_mode mode, const char *resp, int timeout_ms,
                   int *status, m2m_rsc *rsc)
{
    char u[128];
    srv_start(s, mode, resp);
    snprintf(u, sizeof u, "http://127.0.0.1:%d/ae1/notify", s->port);
    m2m_rc rc = http_client_post(u, "/id-in", "rqi-7", "{\"m2m:sgn\":{\"vrq\":true}}", 24,
                                 timeout_ms, status, rsc);
    srv_stop(s);
    return rc;
}

static struct tsrv S;

static void test_client_ok(void **state)
{
    int status = 0;
    m2m_rsc rsc = RSC_NONE;
    assert_int_equal(post(&S, SRV_REPLY,
                          "HTTP/1.1 200 OK\r\nX-M2M-RSC: 2000\r\nContent-Length: 2\r\n\r\n{}", 2000,
                          &status, &rsc),
                     M2M_OK);
    assert_int_equal(status, 200);
    assert_int_equal(rsc, RSC_OK);
    char want[512];
    snprintf(want, sizeof want,
             "POST /ae1/notify HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-M2M-Origin: /id-in\r\n"
             "X-M2M-RI: rqi-7\r\nX-M2M-RVI: 3\r\nContent-Type: application/json\r\n"
             "Content-Length: 24\r\nConnection: close\r\n\r\n{\"m2m:sgn\":{\"vrq\":true}}",
             S.port);
    assert_int_equal(S.got_len, strlen(want));
    assert_memory_equal(S.got, want, S.got_len);
}

/* A name resolved through getaddrinfo ("localhost" may give ::1 first: the client then falls
 * back to 127.0.0.1, where the server listens). */
static void test_client_name(void **state)
{
    int status = 0;
    m2m_rsc rsc = RSC_NONE;
    char u[128];
    srv_start(&S, SRV_REPLY, "HTTP/1.1 200 OK\r\nX-M2M-RSC: 2000\r\nContent-Length: 0\r\n\r\n");
    snprintf(u, sizeof u, "http://localhost:%d", S.port);
    m2m_rc rc = http_client_post(u, NULL, NULL, NULL, 0, 2000, &status, &rsc);
    srv_stop(&S);
    assert_int_equal(rc, M2M_OK);
    assert_int_equal(status, 200);
    assert_int_equal(rsc, RSC_OK);
    char want[256];
    snprintf(want, sizeof want,
             "POST / HTTP/1.1\r\nHost: localhost:%d\r\nX-M2M-RVI: 3\r\n"
             "Content-Type: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
             S.port);
    assert_int_equal(S.got_len, strlen(want));
    assert_memory_equal(S.got, want, S.got_len);
}

static void test_client_variants(void **state)
{
    int status = 0;
    m2m_rsc rsc = RSC_NONE;
    assert_int_equal(post(&S, SRV_REPLY,
                          "HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n"
                          "X-M2M-RSC: 4103\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
                          2000, &status, &rsc),
                     M2M_OK);
    assert_int_equal(status, 403);
    assert_int_equal(rsc, RSC_ORIGINATOR_HAS_NO_PRIVILEGE);
    assert_int_equal(post(&S, SRV_TRICKLE,
                          "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
                          "X-M2M-RSC: 2001\r\nContent-Length: 0\r\n\r\n",
                          2000, &status, &rsc),
                     M2M_OK);
    assert_int_equal(status, 201);
    assert_int_equal(rsc, RSC_CREATED);
    assert_int_equal(post(&S, SRV_REPLY, "HTTP/1.0 204 No Content\r\n\r\n", 2000, &status, &rsc),
                     M2M_OK);
    assert_int_equal(status, 204);
    assert_int_equal(rsc, RSC_NONE); /* no X-M2M-RSC */
    assert_int_equal(post(&S, SRV_REPLY, "HTTP/1.0 200 OK\r\nX-M2M-RSC: 20x0\r\n\r\nto eof", 2000,
                          &status, &rsc),
                     M2M_OK);
    assert_int_equal(status, 200);
    assert_int_equal(rsc, RSC_NONE); /* not a number */
}

static void test_client_failures(void **state)
{
    int status = 0;
    m2m_rsc rsc = RSC_NONE;
    assert_int_equal(post(&S, SRV_CLOSE, NULL, 2000, &status, &rsc), M2M_ERR_CLOSED);
    assert_int_equal(
        post(&S, SRV_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", 2000, &status, &rsc),
        M2M_ERR_CLOSED);
    assert_int_equal(post(&S, SRV_REPLY, "SMTP ready\r\n\r\n", 2000, &status, &rsc),
                     M2M_ERR_MALFORMED);
    assert_int_equal(post(&S, SRV_REPLY,
                          "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
                          2000, &status, &rsc),
                     M2M_ERR_MALFORMED);
    assert_int_equal(post(&S, SRV_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n",
                          2000, &status, &rsc),
                     M2M_ERR_LIMIT);
    int64_t t0 = m2m_mono_ms();
    assert_int_equal(post(&S, SRV_SILENT, NULL, 300, &status, &rsc), M2M_ERR_IO);
    int64_t dt = m2m_mono_ms() - t0;
    assert_true(dt >= 250 && dt < 2000);
    assert_int_equal(status, 0);
}

static void test_client_config(void **state)
{
    int status = 0;
    m2m_rsc rsc = RSC_NONE;
    assert_int_equal(
        http_client_post("https://127.0.0.1:1/x", NULL, NULL, "", 0, 100, &status, &rsc),
        M2M_ERR_CONFIG);
    assert_int_equal(http_client_post("mqtt://h/x", NULL, NULL, "", 0, 100, &status, &rsc),
                     M2M_ERR_MALFORMED);
    char *big = malloc(HTTP_URL_MAX + 100);
    assert_non_null(big);
    strcpy(big, "http://h/");
    memset(big + 9, 'a', HTTP_URL_MAX);
    big[HTTP_URL_MAX + 9] = 0;
    assert_int_equal(http_client_post(big, NULL, NULL, "", 0, 100, &status, &rsc), M2M_ERR_LIMIT);
    free(big);
    /* nobody listens on a port we just released */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    assert_int_equal(http_client_post(u, NULL, NULL, "", 0, 1000, &status, &rsc), M2M_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_good),        cmocka_unit_test(test_url_bad),
        cmocka_unit_test(test_url_limits),      cmocka_unit_test(test_client_ok),
        cmocka_unit_test(test_client_variants), cmocka_unit_test(test_client_failures),
        cmocka_unit_test(test_client_config),   cmocka_unit_test(test_client_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
