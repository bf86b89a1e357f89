/* tls_psk_bench.c: full TLS-PSK handshakes per second (no resumption) against the CSE's HTTPS
 * listener and against a minimal GnuTLS PSK server built in (the library's own limit on this
 * machine), with the same client, suite and key. Loopback only; bounded in time.
 *   tls_psk_bench --cse PORT --identity ID --key HEX [--seconds N] [--clients N] [--suite S]
 *   tls_psk_bench --bare [--seconds N] [--clients N] [--suite S]
 * S: psk (TLS 1.2 TLS_PSK_WITH_AES_128_CBC_SHA256, the TS-0003 10.2.2 suite), ecdhe-psk (TLS 1.2
 * ECDHE-PSK AES-128-CBC-SHA256) or tls13 (TLS 1.3 psk_dhe_ke, AES-128-GCM). Prints one line:
 *   RESULT target=cse|bare suite=S clients=N seconds=T handshakes=H failures=F rate=R/s */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 64

static const char *g_identity = "bench@m2msec.example.com";
static gnutls_datum_t g_key;
static const char *g_prio;
static int g_port;
static double g_seconds = 5;
static atomic_long g_ok, g_fail;
static atomic_bool g_stop;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_lo(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
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

/* One full handshake on a fresh connection, then close_notify. */
static int one_handshake(gnutls_psk_client_credentials_t cred)
{
    gnutls_session_t s;
    int fd = connect_lo(g_port), r = -1;
    if (fd < 0)
        return -1;
    if (gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NO_TICKETS) < 0) {
        close(fd);
        return -1;
    }
    if (gnutls_priority_set_direct(s, g_prio, NULL) >= 0 &&
        gnutls_credentials_set(s, GNUTLS_CRD_PSK, cred) >= 0) {
        gnutls_server_name_set(s, GNUTLS_NAME_DNS, "localhost", 9);
        gnutls_transport_set_int(s, fd);
        gnutls_handshake_set_timeout(s, 10000);
        do
            r = gnutls_handshake(s);
        while (r < 0 && !gnutls_error_is_fatal(r));
        if (r >= 0)
            gnutls_bye(s, GNUTLS_SHUT_WR);
    }
    gnutls_deinit(s);
    close(fd);
    return r < 0 ? -1 : 0;
}

static void *client_main(void *arg)
{
    gnutls_psk_client_credentials_t cred;
    if (gnutls_psk_allocate_client_credentials(&cred) < 0)
        return NULL;
    gnutls_psk_set_client_credentials(cred, g_identity, &g_key, GNUTLS_PSK_KEY_RAW);
    while (!atomic_load(&g_stop)) {
        if (one_handshake(cred) == 0)
            atomic_fetch_add(&g_ok, 1);
        else
            atomic_fetch_add(&g_fail, 1);
    }
    gnutls_psk_free_client_credentials(cred);
    return NULL;
}

/* ---- the bare server: one blocking thread per connection slot, no HTTP, no lookups ---- */

static int bare_psk_cb(gnutls_session_t s, const char *user, gnutls_datum_t *key)
{
    if (strcmp(user, g_identity) != 0)
        return -1;
    key->data = gnutls_malloc(g_key.size);
    if (key->data == NULL)
        return -1;
    memcpy(key->data, g_key.data, g_key.size);
    key->size = g_key.size;
    return 0;
}

static int g_lfd;
static gnutls_psk_server_credentials_t g_scred;
static gnutls_priority_t g_sprio;

static void *bare_main(void *arg)
{
    while (!atomic_load(&g_stop)) {
        int fd = accept(g_lfd, NULL, NULL);
        if (fd < 0)
            continue;
        gnutls_session_t s;
        if (gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NO_TICKETS) == 0) {
            gnutls_priority_set(s, g_sprio);
            gnutls_credentials_set(s, GNUTLS_CRD_PSK, g_scred);
            gnutls_transport_set_int(s, fd);
            gnutls_handshake_set_timeout(s, 2000);
            int r;
            do
                r = gnutls_handshake(s);
            while (r < 0 && !gnutls_error_is_fatal(r));
            if (r >= 0)
                gnutls_bye(s, GNUTLS_SHUT_WR);
            gnutls_deinit(s);
        }
        close(fd);
    }
    return NULL;
}

static int bare_start(int threads, pthread_t *th)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof a;
    int one = 1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setsockopt(g_lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (g_lfd < 0 || bind(g_lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(g_lfd, 1024) ||
        getsockname(g_lfd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    g_port = ntohs(a.sin_port);
    /* The same key exchanges the CSE offers; the client's priority picks the suite. */
    if (gnutls_psk_allocate_server_credentials(&g_scred) < 0 ||
        gnutls_priority_init(&g_sprio,
                             "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:+AES-128-CBC:+SHA256:"
                             "-KX-ALL:+ECDHE-PSK:+PSK:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"
                             "%SERVER_PRECEDENCE",
                             NULL) < 0)
        return -1;
    gnutls_psk_set_server_credentials_function(g_scred, bare_psk_cb);
    for (int i = 0; i < threads; i++)
        if (pthread_create(&th[i], NULL, bare_main, NULL) != 0)
            return -1;
    return 0;
}

static const char *suite_prio(const char *s)
{
    if (strcmp(s, "psk") == 0)
        return "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+PSK:-CIPHER-ALL:+AES-128-CBC:-MAC-ALL:"
               "+SHA256";
    if (strcmp(s, "ecdhe-psk") == 0)
        return "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-PSK:-CIPHER-ALL:+AES-128-CBC:"
               "-MAC-ALL:+SHA256";
    if (strcmp(s, "tls13") == 0)
        return "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:-CIPHER-ALL:+AES-128-GCM";
    return NULL;
}

static int parse_key(const char *hex)
{
    size_t n = strlen(hex);
    if (n == 0 || n % 2 || n > 128)
        return -1;
    g_key.data = malloc(n / 2);
    g_key.size = (unsigned)(n / 2);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        g_key.data[i] = (unsigned char)v;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int clients = 4, bare = 0;
    const char *suite = "psk", *key = "000102030405060708090a0b0c0d0e0f";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--bare") == 0)
            bare = 1;
        else if (v && strcmp(a, "--cse") == 0 && ++i)
            g_port = atoi(v);
        else if (v && strcmp(a, "--identity") == 0 && ++i)
            g_identity = v;
        else if (v && strcmp(a, "--key") == 0 && ++i)
            key = v;
        else if (v && strcmp(a, "--seconds") == 0 && ++i)
            g_seconds = atof(v);
        else if (v && strcmp(a, "--clients") == 0 && ++i)
            clients = atoi(v);
        else if (v && strcmp(a, "--suite") == 0 && ++i)
            suite = v;
        else {
            fprintf(stderr, "usage: see the comment at the top of bench/tls_psk_bench.c\n");
            return 2;
        }
    }
    g_prio = suite_prio(suite);
    if (g_prio == NULL || parse_key(key) || clients < 1 || clients > MAX_CLIENTS ||
        g_seconds <= 0 || g_seconds > 600 || (!bare && g_port <= 0)) {
        fprintf(stderr, "tls_psk_bench: bad arguments\n");
        return 2;
    }
    gnutls_global_init();
    pthread_t srv[2 * MAX_CLIENTS], cli[MAX_CLIENTS];
    int nsrv = 2 * clients; /* blocking server threads: more than concurrent clients */
    if (bare && bare_start(nsrv, srv) != 0) {
        fprintf(stderr, "tls_psk_bench: cannot start the bare server\n");
        return 1;
    }
    double t0 = now_s();
    for (int i = 0; i < clients; i++)
        pthread_create(&cli[i], NULL, client_main, NULL);
    while (now_s() - t0 < g_seconds)
        usleep(50000);
    atomic_store(&g_stop, 1);
    for (int i = 0; i < clients; i++)
        pthread_join(cli[i], NULL);
    double dt = now_s() - t0;
    if (bare) {
        shutdown(g_lfd, SHUT_RDWR); /* wakes the accepting threads */
        for (int i = 0; i < nsrv; i++)
            pthread_join(srv[i], NULL);
        close(g_lfd);
    }
    long ok = atomic_load(&g_ok), fail = atomic_load(&g_fail);
    printf("RESULT target=%s suite=%s clients=%d seconds=%.1f handshakes=%ld failures=%ld "
           "rate=%.0f/s\n",
           bare ? "bare" : "cse", suite, clients, dt, ok, fail, ok / dt);
    free(g_key.data);
    return ok > 0 && fail * 100 <= ok ? 0 : 1;
}
