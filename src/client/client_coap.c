/* client_coap.c: the CoAP/CoAPS transport of the client library (TS-0008) over libcoap3 with its
 * GnuTLS DTLS backend: one session kept between requests (PSK, certificate or raw public key),
 * the oneM2M options, blockwise transfer done by libcoap, the response mapped back, and the RFC
 * 5705 exporter of the DTLS session (the side operation the MEF enrolment needs). */
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coap3/coap.h>

#include "base/secret.h"
#include "base/timeutil.h"
#include "bind/coap/coap_map.h"
#include "client/client_internal.h"

struct cl_coap {
    struct cl_url url;
    coap_context_t *ctx;
    coap_session_t *ses;
    coap_address_t dst;
    enum m2msec_cred cred;
    uint8_t psk[64];
    size_t psk_len;
    char *psk_identity, *ca_file, *cert_file, *key_file;
    int timeout_ms;
    size_t max_response;
    unsigned long gen;      /* incremented by every session opened */
    unsigned long last_gen; /* session that carried the last successful exchange */
    /* the exchange in progress */
    bool done, failed;
    char why[160];
    struct m2msec_response *resp;
};

static pthread_once_t coap_once = PTHREAD_ONCE_INIT;
static void coap_init_once(void)
{
    coap_startup();
    coap_set_log_level(LOG_EMERG);
    coap_dtls_set_log_level(LOG_EMERG); /* never key material in logs */
}

/* Location-Path options joined with '/' (TS-0008 6.2.4: the created resource's address). */
static char *location_of(const coap_pdu_t *pdu)
{
    coap_opt_iterator_t it;
    coap_opt_filter_t f;
    coap_option_filter_clear(&f);
    coap_option_filter_set(&f, COAP_OPTION_LOCATION_PATH);
    coap_option_iterator_init(pdu, &it, &f);
    char buf[1024];
    size_t n = 0;
    coap_opt_t *o;
    while ((o = coap_option_next(&it)) != NULL) {
        size_t l = coap_opt_length(o);
        if (n + l + 2 > sizeof buf)
            return NULL;
        buf[n++] = '/';
        memcpy(buf + n, coap_opt_value(o), l);
        n += l;
    }
    if (n == 0)
        return NULL;
    buf[n] = 0;
    return strdup(buf);
}

static char *opt_string(const coap_pdu_t *pdu, uint16_t num)
{
    coap_opt_iterator_t it;
    coap_opt_t *o = coap_check_option(pdu, num, &it);
    if (o == NULL)
        return NULL;
    size_t l = coap_opt_length(o);
    char *s = malloc(l + 1);
    if (s) {
        memcpy(s, coap_opt_value(o), l);
        s[l] = 0;
    }
    return s;
}

static coap_response_t on_response(coap_session_t *ses, const coap_pdu_t *sent,
                                   const coap_pdu_t *rcv, const coap_mid_t mid)
{
    struct cl_coap *k = coap_session_get_app_data(ses);
    size_t len = 0, off = 0, total = 0;
    const uint8_t *data = NULL;
    if (k == NULL || k->done || k->resp == NULL)
        return COAP_RESPONSE_OK;
    coap_pdu_code_t code = coap_pdu_get_code(rcv);
    struct m2msec_response *r = k->resp;
    r->status = (int)(code >> 5) * 100 + (int)(code & 31);
    coap_opt_iterator_t it;
    coap_opt_t *o = coap_check_option(rcv, COAP_M2M_RSC, &it);
    r->rsc = o && coap_opt_length(o) <= 2
                 ? (int)coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o))
                 : 0;
    if (coap_get_data_large(rcv, &len, &data, &off, &total) && (off != 0 || total != len)) {
        snprintf(k->why, sizeof k->why, "incomplete blockwise response");
        k->failed = true;
    } else if (len > k->max_response) {
        snprintf(k->why, sizeof k->why, "oversized response (%zu bytes)", len);
        k->failed = true;
    } else if ((r->body = malloc(len + 1)) == NULL) {
        k->failed = true;
    } else {
        if (len)
            memcpy(r->body, data, len);
        r->body[len] = 0;
        r->body_len = len;
        r->rqi = opt_string(rcv, COAP_M2M_RQI);
        r->location = location_of(rcv);
    }
    k->done = true;
    return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *ses, const coap_pdu_t *sent, const coap_nack_reason_t reason,
                    const coap_mid_t mid)
{
    struct cl_coap *k = coap_session_get_app_data(ses);
    if (k == NULL || k->done)
        return;
    snprintf(k->why, sizeof k->why, "%s",
             reason == COAP_NACK_TLS_FAILED         ? "DTLS handshake failed"
             : reason == COAP_NACK_TOO_MANY_RETRIES ? "no answer (too many retransmissions)"
             : reason == COAP_NACK_RST              ? "the server reset the exchange"
                                                    : "the request was not delivered");
    k->failed = true;
}

static int on_event(coap_session_t *ses, const coap_event_t ev)
{
    struct cl_coap *k = coap_session_get_app_data(ses);
    if (k == NULL || k->done)
        return 0;
    if (ev == COAP_EVENT_DTLS_ERROR || ev == COAP_EVENT_DTLS_CLOSED ||
        ev == COAP_EVENT_SESSION_FAILED) {
        snprintf(k->why, sizeof k->why, "%s",
                 ev == COAP_EVENT_DTLS_ERROR    ? "DTLS handshake failed"
                 : ev == COAP_EVENT_DTLS_CLOSED ? "the server closed the DTLS session"
                                                : "the session failed");
        k->failed = true;
    }
    return 0;
}

static coap_session_t *open_session(struct cl_coap *k)
{
    k->gen++;
    if (k->url.scheme == CL_COAP)
        return coap_new_client_session(k->ctx, NULL, &k->dst, COAP_PROTO_UDP);
    if (k->cred == M2MSEC_CRED_PSK) {
        coap_dtls_cpsk_t s = {.version = COAP_DTLS_CPSK_SETUP_VERSION};
        s.client_sni = k->url.host_is_ip ? NULL : k->url.host;
        s.psk_info.identity.s = (const uint8_t *)k->psk_identity;
        s.psk_info.identity.length = strlen(k->psk_identity);
        s.psk_info.key.s = k->psk;
        s.psk_info.key.length = k->psk_len;
        return coap_new_client_session_psk2(k->ctx, NULL, &k->dst, COAP_PROTO_DTLS, &s);
    }
    /* TS-0003 8.1.2.5: the server certificate chain is validated against the trust anchors. */
    coap_dtls_pki_t p = {.version = COAP_DTLS_PKI_SETUP_VERSION};
    p.verify_peer_cert = 1;
    p.check_common_ca = k->ca_file != NULL;
    p.cert_chain_validation = 1;
    p.cert_chain_verify_depth = 4;
    p.is_rpk_not_cert = k->cred == M2MSEC_CRED_RPK;
    p.client_sni = k->url.host_is_ip ? NULL : k->url.host;
    p.pki_key.key_type = COAP_PKI_KEY_PEM;
    p.pki_key.key.pem.ca_file = k->ca_file;
    p.pki_key.key.pem.public_cert = k->cred == M2MSEC_CRED_RPK ? k->key_file : k->cert_file;
    p.pki_key.key.pem.private_key = k->key_file;
    return coap_new_client_session_pki(k->ctx, NULL, &k->dst, COAP_PROTO_DTLS, &p);
}

static coap_pdu_code_t code_of(enum m2m_op op)
{
    switch (op) {
    case M2M_OP_CREATE: return COAP_REQUEST_CODE_POST;
    case M2M_OP_RETRIEVE: return COAP_REQUEST_CODE_GET;
    case M2M_OP_UPDATE: return COAP_REQUEST_CODE_PUT;
    case M2M_OP_DELETE: return COAP_REQUEST_CODE_DELETE;
    default: return COAP_REQUEST_CODE_POST;
    }
}

/* Adds each sep-separated part of s[0..) as option num (empty parts skipped). */
static bool add_parts(coap_optlist_t **l, uint16_t num, const char *s, char sep)
{
    while (*s) {
        const char *e = strchr(s, sep);
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n > 255)
            return false;
        if (n > 0 && !coap_insert_optlist(l, coap_new_optlist(num, n, (const uint8_t *)s)))
            return false;
        s += n + (e != NULL);
    }
    return true;
}

/* TS-0008 6.2: Uri-Path / Uri-Query, Content-Format, and the oneM2M options of the request. */
static bool build_options(const struct cl_request *rq, coap_optlist_t **l)
{
    uint8_t b[4];
    bool ok = add_parts(l, COAP_OPTION_URI_PATH, rq->path, '/') &&
              (!rq->query || add_parts(l, COAP_OPTION_URI_QUERY, rq->query, '&')) &&
              coap_insert_optlist(
                  l, coap_new_optlist(COAP_OPTION_ACCEPT,
                                      coap_encode_var_safe(b, sizeof b, COAP_CF_JSON), b)) &&
              coap_insert_optlist(
                  l, coap_new_optlist(COAP_M2M_RQI, strlen(rq->rqi), (const uint8_t *)rq->rqi));
    /* libcoap 4.3.1 knows at most two oneM2M options (docs/DECISIONS.md, CoAP binding): the
     * server registers oneM2M-FR and oneM2M-RQI, so the release version is not sent (absent is
     * release 3 and later) and the resource type of a CREATE travels as the "ty" Uri-Query. */
    if (ok && rq->origin)
        ok = coap_insert_optlist(
            l, coap_new_optlist(COAP_M2M_FR, strlen(rq->origin), (const uint8_t *)rq->origin));
    if (ok && rq->body)
        ok = coap_insert_optlist(
            l, coap_new_optlist(COAP_OPTION_CONTENT_FORMAT,
                                coap_encode_var_safe(b, sizeof b, COAP_CF_JSON), b));
    if (ok && rq->op == M2M_OP_CREATE) {
        char t[16];
        int n = snprintf(t, sizeof t, "ty=%d", rq->ty);
        ok = n > 0 && (size_t)n < sizeof t &&
             coap_insert_optlist(
                 l, coap_new_optlist(COAP_OPTION_URI_QUERY, (size_t)n, (const uint8_t *)t));
    }
    return ok;
}

static int send_request(struct cl_coap *k, const struct cl_request *rq, char *err, size_t errlen)
{
    coap_optlist_t *opts = NULL;
    uint8_t tok[8];
    size_t tl = 0;
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, code_of(rq->op), coap_new_message_id(k->ses),
                                    coap_session_max_pdu_size(k->ses));
    int rc = M2MSEC_OK;
    if (pdu == NULL)
        return cl_fail(err, errlen, M2MSEC_ERR_NOMEM, "out of memory");
    coap_session_new_token(k->ses, &tl, tok);
    if (!coap_add_token(pdu, tl, tok) || !build_options(rq, &opts) ||
        !coap_add_optlist_pdu(pdu, &opts)) {
        coap_delete_pdu(pdu);
        BAIL(cl_fail(err, errlen, M2MSEC_ERR_USAGE, "the request does not fit CoAP options"));
    }
    /* libcoap copies nothing here: the body must live until the exchange ends (it does). */
    if (rq->body && rq->body_len > 0 &&
        !coap_add_data_large_request(k->ses, pdu, rq->body_len, (const uint8_t *)rq->body, NULL,
                                     NULL)) {
        coap_delete_pdu(pdu);
        BAIL(cl_fail(err, errlen, M2MSEC_ERR_NOMEM, "cannot attach the body"));
    }
    if (coap_send(k->ses, pdu) == COAP_INVALID_MID)
        BAIL(cl_fail(err, errlen, M2MSEC_ERR_CONNECT, "cannot send to %s:%d", k->url.host,
                     k->url.port));
out:
    coap_delete_optlist(opts);
    return rc;
}

/* The kept session, or a new one when there is none or the server ended it. */
static int cc_session_ready(struct cl_coap *k, char *err, size_t errlen)
{
    bool dtls = k->url.scheme == CL_COAPS;
    if (k->ses && coap_session_get_state(k->ses) == COAP_SESSION_STATE_NONE) {
        coap_session_release(k->ses); /* the server ended it: start again */
        k->ses = NULL;
    }
    if (k->ses == NULL && (k->ses = open_session(k)) == NULL)
        return cl_fail(err, errlen, dtls ? M2MSEC_ERR_TLS : M2MSEC_ERR_CONNECT,
                       "cannot start a %s session with %s:%d", dtls ? "DTLS" : "CoAP", k->url.host,
                       k->url.port);
    coap_session_set_app_data(k->ses, k);
    k->done = k->failed = false;
    k->why[0] = 0;
    return M2MSEC_OK;
}

/* Forgets a session in an unknown state (after a failure): it is not reused. */
static void cc_session_drop(struct cl_coap *k)
{
    if (k->ses == NULL)
        return;
    coap_session_set_app_data(k->ses, NULL);
    coap_session_release(k->ses);
    k->ses = NULL;
}

static int coap_exchange(void *t, const struct cl_request *rq, struct m2msec_response *resp,
                         char *err, size_t errlen)
{
    struct cl_coap *k = t;
    bool dtls = k->url.scheme == CL_COAPS;
    int rc = cc_session_ready(k, err, errlen);
    if (rc != M2MSEC_OK)
        return rc;
    unsigned long gen = k->gen;
    k->resp = resp;
    rc = send_request(k, rq, err, errlen);
    int64_t deadline = m2m_mono_ms() + k->timeout_ms;
    while (rc == M2MSEC_OK && !k->done && !k->failed) {
        int ms = cl_remaining(deadline);
        if (ms == 0)
            rc = cl_fail(err, errlen, M2MSEC_ERR_TIMEOUT, "timed out waiting for the response");
        else if (coap_io_process(k->ctx, (unsigned)(ms < 200 ? ms : 200)) < 0)
            rc = cl_fail(err, errlen, M2MSEC_ERR_CONNECT, "CoAP I/O error");
    }
    if (rc == M2MSEC_OK && k->failed) {
        bool tls = dtls && strstr(k->why, "DTLS") != NULL;
        rc = cl_fail(err, errlen, tls ? M2MSEC_ERR_TLS : M2MSEC_ERR_PROTOCOL, "%s",
                     k->why[0] ? k->why : "out of memory");
    }
    k->resp = NULL;
    if (rc == M2MSEC_OK)
        k->last_gen = gen;
    else
        cc_session_drop(k);
    return rc;
}

/* ---- side operations: the exporter of the DTLS session ---- */

/* Runs libcoap until the DTLS handshake of the kept session completed (deadline: the request
 * timeout). TLS when it failed, TIMEOUT when it did not end in time. */
static int cc_handshake_wait(struct cl_coap *k, char *err, size_t errlen)
{
    int64_t deadline = m2m_mono_ms() + k->timeout_ms;
    while (!k->failed && coap_session_get_state(k->ses) != COAP_SESSION_STATE_ESTABLISHED) {
        int ms = cl_remaining(deadline);
        if (ms == 0)
            return cl_fail(err, errlen, M2MSEC_ERR_TIMEOUT, "DTLS handshake with %s:%d timed out",
                           k->url.host, k->url.port);
        if (coap_io_process(k->ctx, (unsigned)(ms < 200 ? ms : 200)) < 0)
            return cl_fail(err, errlen, M2MSEC_ERR_CONNECT, "CoAP I/O error");
        if (coap_session_get_state(k->ses) == COAP_SESSION_STATE_NONE && !k->failed)
            return cl_fail(err, errlen, M2MSEC_ERR_TLS, "DTLS handshake failed");
    }
    if (k->failed)
        return cl_fail(err, errlen, M2MSEC_ERR_TLS, "%s", k->why[0] ? k->why : "DTLS failed");
    return M2MSEC_OK;
}

/* CL_SIDE_EXPORT on coaps://: handshake if needed, then RFC 5705 on the GnuTLS session that the
 * next request rides (op->gen tells which; cl_tls_export refuses a session without the extended
 * master secret). */
static int cc_side_export(struct cl_coap *k, struct cl_side_op *op, char *err, size_t errlen)
{
    coap_tls_library_t lib = COAP_TLS_LIBRARY_NOTLS;
    if (k->url.scheme != CL_COAPS)
        return cl_fail(err, errlen, M2MSEC_ERR_USAGE, "a plain coap:// transport has no exporter");
    int rc = cc_session_ready(k, err, errlen);
    if (rc == M2MSEC_OK)
        rc = cc_handshake_wait(k, err, errlen);
    if (rc != M2MSEC_OK) {
        cc_session_drop(k);
        return rc;
    }
    op->gen = k->gen;
    gnutls_session_t g = coap_session_get_tls(k->ses, &lib);
    if (g == NULL || lib != COAP_TLS_LIBRARY_GNUTLS)
        return cl_fail(err, errlen, M2MSEC_ERR_TLS, "libcoap's DTLS is not GnuTLS: no exporter");
    return cl_tls_export(g, op->label, op->out, op->out_len, err, errlen);
}

static int cc_side(void *t, struct cl_side_op *op, const char *path, struct m2msec_response *resp,
                   char *err, size_t errlen)
{
    struct cl_coap *k = t;
    op->done = true;
    switch (op->kind) {
    case CL_SIDE_EXPORT: return cc_side_export(k, op, err, errlen);
    case CL_SIDE_GEN:
        op->gen = k->last_gen;
        resp->body = calloc(1, 1);
        return resp->body ? M2MSEC_OK : cl_fail(err, errlen, M2MSEC_ERR_NOMEM, "out of memory");
    case CL_SIDE_RAW: /* RFC 7030 defines EST over HTTPS only; the MEF serves it there */
        return cl_fail(err, errlen, M2MSEC_ERR_UNSUPPORTED, "EST needs the MEF's https:// URL");
    }
    return cl_fail(err, errlen, M2MSEC_ERR_USAGE, "unknown side operation");
}

static void coap_transport_free(void *t)
{
    struct cl_coap *k = t;
    if (k == NULL)
        return;
    if (k->ses)
        coap_session_release(k->ses);
    if (k->ctx)
        coap_free_context(k->ctx);
    m2m_wipe(k->psk, sizeof k->psk);
    free(k->psk_identity);
    free(k->ca_file);
    free(k->cert_file);
    free(k->key_file);
    free(k);
}

static const struct cl_transport_ops coap_ops = {"coap", coap_exchange, coap_transport_free,
                                                 cc_side};

static bool dup_opt(const char *s, char **out)
{
    *out = s ? strdup(s) : NULL;
    return s == NULL || *out != NULL;
}

static int resolve(struct cl_coap *k, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char svc[8];
    snprintf(svc, sizeof svc, "%d", k->url.port);
    int g = getaddrinfo(k->url.host, svc, &hints, &res);
    if (g != 0)
        return cl_fail(err, errlen, M2MSEC_ERR_CONNECT, "cannot resolve %s: %s", k->url.host,
                       gai_strerror(g));
    coap_address_init(&k->dst);
    k->dst.size = res->ai_addrlen;
    memcpy(&k->dst.addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return M2MSEC_OK;
}

int cl_coap_new(const struct cl_settings *s, const struct cl_transport_ops **ops, void **out,
                char *err, size_t errlen)
{
    const struct m2msec_client_cfg *cfg = s->cfg;
    struct cl_coap *k = calloc(1, sizeof *k);
    int rc = M2MSEC_OK;
    if (k == NULL)
        return cl_fail(err, errlen, M2MSEC_ERR_NOMEM, "out of memory");
    pthread_once(&coap_once, coap_init_once);
    k->url = s->url;
    k->cred = cfg->cred;
    k->timeout_ms = s->timeout_ms;
    k->max_response = s->max_response;
    if (s->url.scheme == CL_COAPS && !coap_dtls_is_supported())
        BAIL(cl_fail(err, errlen, M2MSEC_ERR_UNSUPPORTED, "this libcoap has no DTLS"));
    if (s->url.scheme == CL_COAPS && cfg->cred == M2MSEC_CRED_NONE)
        BAIL(cl_fail(err, errlen, M2MSEC_ERR_UNSUPPORTED,
                     "coaps:// needs a client credential (PSK, certificate or raw public key)"));
    if (cfg->server_pin || cfg->server_name)
        BAIL(cl_fail(err, errlen, M2MSEC_ERR_UNSUPPORTED,
                     "server pin and server name are implemented for https:// only"));
    if (cfg->cred == M2MSEC_CRED_PSK) {
        memcpy(k->psk, cfg->psk_key, cfg->psk_key_len);
        k->psk_len = cfg->psk_key_len;
    }
    if (!dup_opt(cfg->psk_identity, &k->psk_identity) || !dup_opt(cfg->ca_file, &k->ca_file) ||
        !dup_opt(cfg->cert_file, &k->cert_file) || !dup_opt(cfg->key_file, &k->key_file))
        BAIL(cl_fail(err, errlen, M2MSEC_ERR_NOMEM, "out of memory"));
    TRY(resolve(k, err, errlen));
    if ((k->ctx = coap_new_context(NULL)) == NULL)
        BAIL(cl_fail(err, errlen, M2MSEC_ERR_NOMEM, "cannot create the CoAP context"));
    /* TS-0008 6.2.2.4: the oneM2M options are critical; unknown ones would be refused. libcoap
     * 4.3.1 keeps at most COAP_OPT_FILTER_LONG (2) registered options above 255: the two the
     * server puts in responses (oneM2M-RSC, oneM2M-RQI) are the ones registered. */
    for (size_t i = 0; i < coap_m2m_n_response_options; i++)
        coap_register_option(k->ctx, coap_m2m_response_options[i]);
    /* TS-0008 6.8 blockwise transfer: libcoap splits requests and reassembles responses. */
    coap_context_set_block_mode(k->ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
    coap_register_response_handler(k->ctx, on_response);
    coap_register_nack_handler(k->ctx, on_nack);
    coap_register_event_handler(k->ctx, on_event);
    *ops = &coap_ops;
    *out = k;
    return M2MSEC_OK;
out:
    coap_transport_free(k);
    return rc;
}
