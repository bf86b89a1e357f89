/* mef_bench.c: MEF throughput on loopback (docs/MEF.md): enrolments per second (a full TLS-PSK
 * MEF Handshake with the bootstrap key, the RFC 5705 exporter, CREATE <enrolment> ty=905, the
 * 2001 answer checked against the local KeID, close) and fetchCredentials per second (one
 * keep-alive TLS-PSK session per client thread, authenticated as an Enrolment Target, repeated
 * RETRIEVE /fetchCredentials/<KeID>/<SUID>). Plain GnuTLS on the client side, so that the figure
 * is the MEF's and not our client library's.
 *   mef_bench --port P --kpmid ID --key HEX --origin O --mode enrol|fetch [--keid K --suid N]
 *             [--seconds N] [--clients N]
 * Prints: RESULT mode=M clients=N seconds=T ok=K failures=F rate=R/s */
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 32
#define PRIO "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+PSK:+ECDHE-PSK"

static const char *g_kpmid, *g_origin, *g_keid, *g_mode = "enrol";
static gnutls_datum_t g_key;
static int g_port, g_suid = 22, g_clients = 2;
static double g_seconds = 5;
static atomic_long g_ok, g_fail;
static atomic_bool g_stop;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_lo(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int open_session(gnutls_psk_client_credentials_t cred, gnutls_session_t *out, int *fdp)
{
    gnutls_session_t s;
    int fd = connect_lo(), r;
    if (fd < 0)
        return -1;
    if (gnutls_init(&s, GNUTLS_CLIENT) < 0) {
        close(fd);
        return -1;
    }
    gnutls_priority_set_direct(s, PRIO, NULL);
    gnutls_credentials_set(s, GNUTLS_CRD_PSK, cred);
    gnutls_transport_set_int(s, fd);
    do {
        r = gnutls_handshake(s);
    } while (r < 0 && !gnutls_error_is_fatal(r));
    if (r < 0) {
        gnutls_deinit(s);
        close(fd);
        return -1;
    }
    *out = s;
    *fdp = fd;
    return 0;
}

static void close_session(gnutls_session_t s, int fd)
{
    gnutls_bye(s, GNUTLS_SHUT_WR);
    gnutls_deinit(s);
    close(fd);
}

/* Sends req and reads one response head + Content-Length body into buf; returns the HTTP
 * status or -1. */
static int exchange(gnutls_session_t s, const char *req, char *buf, size_t cap)
{
    size_t len = strlen(req), got = 0;
    while (len > 0) {
        ssize_t n = gnutls_record_send(s, req, len);
        if (n < 0)
            return -1;
        req += n;
        len -= (size_t)n;
    }
    for (;;) {
        ssize_t n = gnutls_record_recv(s, buf + got, cap - 1 - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        const char *cl = strcasestr(buf, "\r\nContent-Length:");
        if (end != NULL && cl != NULL && cl < end) {
            size_t body = (size_t)strtoul(cl + 17, NULL, 10);
            if ((size_t)(end + 4 - buf) + body <= got)
                return atoi(buf + 9);
        }
        if (got + 1 >= cap)
            return -1;
    }
}

static int one_enrolment(gnutls_psk_client_credentials_t cred)
{
    gnutls_session_t s;
    int fd, st;
    unsigned char ex[48];
    char req[512], resp[4096], hex[33];
    if (open_session(cred, &s, &fd) != 0)
        return -1;
    if (gnutls_prf_rfc5705(s, 25, "EXPORTER-oneM2M-Bootstrap", 0, NULL, sizeof ex, (char *)ex) <
        0) {
        close_session(s, fd);
        return -1;
    }
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02X", ex[i]);
    static const char body[] = "{\"sec:enr\":{}}";
    snprintf(req, sizeof req,
             "POST /mef HTTP/1.1\r\nHost: mef\r\nX-M2M-Origin: %s\r\nX-M2M-RI: b\r\n"
             "X-M2M-RVI: 3\r\nContent-Type: application/json;ty=905\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             g_origin, sizeof body - 1, body);
    st = exchange(s, req, resp, sizeof resp);
    close_session(s, fd);
    return st == 201 && strstr(resp, hex) != NULL ? 0 : -1;
}

static void *client_main(void *arg)
{
    gnutls_psk_client_credentials_t cred;
    gnutls_session_t s = NULL;
    int fd = -1;
    char req[768], resp[4096];
    (void)arg;
    gnutls_psk_allocate_client_credentials(&cred);
    gnutls_psk_set_client_credentials(cred, g_kpmid, &g_key, GNUTLS_PSK_KEY_RAW);
    snprintf(req, sizeof req,
             "GET /fetchCredentials/%s/%d HTTP/1.1\r\nHost: mef\r\nX-M2M-Origin: %s\r\n"
             "X-M2M-RI: f\r\nX-M2M-RVI: 3\r\n\r\n",
             g_keid != NULL ? g_keid : "", g_suid, g_origin);
    while (!atomic_load(&g_stop)) {
        int ok;
        if (strcmp(g_mode, "enrol") == 0) {
            ok = one_enrolment(cred) == 0;
        } else {
            if (s == NULL && open_session(cred, &s, &fd) != 0) {
                atomic_fetch_add(&g_fail, 1);
                continue;
            }
            ok = exchange(s, req, resp, sizeof resp) == 200 && strstr(resp, "\"status\":true");
            if (!ok) {
                close_session(s, fd);
                s = NULL;
            }
        }
        atomic_fetch_add(ok ? &g_ok : &g_fail, 1);
    }
    if (s != NULL)
        close_session(s, fd);
    gnutls_psk_free_client_credentials(cred);
    return NULL;
}

static int parse_key(const char *hex)
{
    size_t n = strlen(hex);
    if (n % 2 != 0 || n < 32 || n > 128)
        return -1;
    g_key.size = (unsigned)(n / 2);
    g_key.data = malloc(g_key.size);
    for (size_t i = 0; i < g_key.size; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        g_key.data[i] = (unsigned char)v;
    }
    return 0;
}

int main(int argc, char **argv)
{
    pthread_t th[MAX_CLIENTS];
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--port") == 0)
            g_port = atoi(v);
        else if (strcmp(k, "--kpmid") == 0)
            g_kpmid = v;
        else if (strcmp(k, "--key") == 0 && parse_key(v) != 0)
            return 2;
        else if (strcmp(k, "--origin") == 0)
            g_origin = v;
        else if (strcmp(k, "--mode") == 0)
            g_mode = v;
        else if (strcmp(k, "--keid") == 0)
            g_keid = v;
        else if (strcmp(k, "--suid") == 0)
            g_suid = atoi(v);
        else if (strcmp(k, "--seconds") == 0)
            g_seconds = atof(v);
        else if (strcmp(k, "--clients") == 0)
            g_clients = atoi(v);
    }
    if (g_port <= 0 || g_kpmid == NULL || g_key.data == NULL || g_origin == NULL || g_clients < 1 ||
        g_clients > MAX_CLIENTS || (strcmp(g_mode, "fetch") == 0 && g_keid == NULL)) {
        fprintf(stderr, "usage: mef_bench --port P --kpmid ID --key HEX --origin O "
                        "--mode enrol|fetch [--keid K --suid N] [--seconds N] [--clients N]\n");
        return 2;
    }
    gnutls_global_init();
    double t0 = now_s();
    for (int i = 0; i < g_clients; i++)
        pthread_create(&th[i], NULL, client_main, NULL);
    while (now_s() - t0 < g_seconds)
        usleep(50000);
    atomic_store(&g_stop, true);
    for (int i = 0; i < g_clients; i++)
        pthread_join(th[i], NULL);
    double dt = now_s() - t0;
    printf("RESULT mode=%s clients=%d seconds=%.1f ok=%ld failures=%ld rate=%.0f/s\n", g_mode,
           g_clients, dt, atomic_load(&g_ok), atomic_load(&g_fail),
           (double)atomic_load(&g_ok) / dt);
    return atomic_load(&g_ok) > 0 ? 0 : 1;
}
