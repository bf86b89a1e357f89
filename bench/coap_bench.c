/* coap_bench.c: CoAP(S) request throughput against the CSE: one libcoap client session (PSK when
 * an identity is given) sends confirmable GETs back to back for a fixed time and reports
 * requests per second. Standalone: links only libcoap.
 *   coap_bench HOST PORT PATH ORIGIN SECONDS [PSK-IDENTITY PSK-KEY] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <coap3/coap.h>

static int got, bad;

static coap_response_t on_response(coap_session_t *s, const coap_pdu_t *sent,
                                   const coap_pdu_t *rcvd, const coap_mid_t mid)
{
    if (COAP_RESPONSE_CLASS(coap_pdu_get_code(rcvd)) == 2)
        got++;
    else
        bad++;
    return COAP_RESPONSE_OK;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int send_get(coap_session_t *s, const char *path, const char *origin)
{
    coap_pdu_t *p = coap_new_pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, s);
    uint8_t tok[8];
    size_t tl = 0;
    if (p == NULL)
        return -1;
    coap_session_new_token(s, &tl, tok);
    coap_add_token(p, tl, tok);
    for (const char *a = path; *a;) {
        while (*a == '/')
            a++;
        const char *e = strchr(a, '/');
        size_t n = e ? (size_t)(e - a) : strlen(a);
        if (n)
            coap_add_option(p, COAP_OPTION_URI_PATH, n, (const uint8_t *)a);
        a += n;
    }
    coap_add_option(p, 279, strlen(origin), (const uint8_t *)origin); /* oneM2M-FR */
    coap_add_option(p, 283, 2, (const uint8_t *)"bq");                /* oneM2M-RQI */
    return coap_send(s, p) == COAP_INVALID_MID ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 8) {
        fprintf(stderr, "usage: coap_bench HOST PORT PATH ORIGIN SECONDS [IDENTITY KEY]\n");
        return 2;
    }
    coap_startup();
    coap_set_log_level(LOG_ERR);
    coap_context_t *ctx = coap_new_context(NULL);
    coap_address_t dst;
    coap_address_init(&dst);
    dst.addr.sin.sin_family = AF_INET;
    dst.addr.sin.sin_port = htons((uint16_t)atoi(argv[2]));
    inet_pton(AF_INET, argv[1], &dst.addr.sin.sin_addr);
    dst.size = sizeof dst.addr.sin;
    /* the CSE answers with oneM2M-RSC and oneM2M-RQI: critical options a client must know */
    coap_register_option(ctx, 307);
    coap_register_option(ctx, 283);
    coap_context_set_block_mode(ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
    coap_register_response_handler(ctx, on_response);
    coap_session_t *s;
    if (argc == 8) {
        coap_dtls_cpsk_t c;
        memset(&c, 0, sizeof c);
        c.version = COAP_DTLS_CPSK_SETUP_VERSION;
        c.psk_info.identity.s = (const uint8_t *)argv[6];
        c.psk_info.identity.length = strlen(argv[6]);
        c.psk_info.key.s = (const uint8_t *)argv[7];
        c.psk_info.key.length = strlen(argv[7]);
        s = coap_new_client_session_psk2(ctx, NULL, &dst, COAP_PROTO_DTLS, &c);
    } else {
        s = coap_new_client_session(ctx, NULL, &dst, COAP_PROTO_UDP);
    }
    if (s == NULL) {
        fprintf(stderr, "coap_bench: no session\n");
        return 1;
    }
    double secs = atof(argv[5]), t0 = now_s(), end = t0 + secs;
    int sent = 0;
    while (now_s() < end) {
        if (sent - got - bad < 1) { /* one request in flight (CoAP NSTART = 1) */
            if (send_get(s, argv[3], argv[4]) != 0)
                break;
            sent++;
        }
        coap_io_process(ctx, 100);
    }
    double dt = now_s() - t0;
    printf("coap_bench: %s %d requests in %.2f s: %.0f requests/s (%d errors)\n",
           argc == 8 ? "coaps-psk" : "coap", got, dt, got / dt, bad);
    coap_session_release(s);
    coap_free_context(ctx);
    coap_cleanup();
    return got > 0 && bad == 0 ? 0 : 1;
}
