/* coap_server.c: the libcoap thread serving CoAP and CoAPS (TS-0008 over UDP and DTLS 1.2):
 * context and endpoint set-up, PSK and certificate credentials, ending the sessions of revoked
 * credentials, bounded Block1 reassembly, the request handler, and the hand-back of answers
 * from other threads as separate responses. */
#include "bind/coap/coap_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <unistd.h>

#include <coap3/coap.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "base/log.h"
#include "base/secret.h"
#include "base/timeutil.h"
#include "bind/coap/coap_block1.h"
#include "bind/coap/coap_map.h"
#include "net/net_internal.h" /* peerq_*: the per-peer quota shared with HTTP */
#include "tls/x509_ident.h"

/* The state of one session, kept as the libcoap session's app data until
 * COAP_EVENT_SERVER_SESSION_DEL: for DTLS the security association (from the handshake
 * callback), for any session its Block1 bodies in progress. */
struct coap_sess_info {
    struct coap_server *srv;
    coap_session_t *ses;                /* not referenced: this lives no longer than it */
    struct coap_sess_info *prev, *next; /* every live one, so none outlives the server */
    enum m2m_sec_kind kind;             /* M2M_SEC_NONE until a handshake filled sec */
    struct m2m_secctx sec;              /* identity, bound[], cred_id of the association */
    uint8_t key[TLS_PSK_KEY_MAX];       /* PSK handed to libcoap during the handshake; wiped */
    coap_bin_const_t keybin;            /* once it completes (drop_key), or with the info */
    struct cb1_peer uploads;
    bool counted;             /* holds a session slot (quota_admit) */
    char qkey[PEERQ_KEY_MAX]; /* its per-peer slot ("" = none) */
};

/* One request handed to the handler. Created and freed on the libcoap thread; reply_cb (any
 * thread) only fills resp and moves the state on under the server lock. */
enum xstate { X_SUBMIT, X_ANSWERED, X_DEFERRED };

struct coap_xchg {
    struct coap_server *srv;
    coap_session_t *session; /* referenced while the exchange lives */
    uint8_t token[8];
    size_t token_len;
    struct m2m_request req;
    struct m2m_response resp;
    struct coap_req_meta meta;
    enum xstate state;
    bool orphan; /* no async could be registered: the answer is dropped */
    bool ready;  /* the answer is attached to the async and triggered */
    struct coap_xchg *next_ready;
    struct coap_xchg *prev, *next; /* live list (libcoap thread) */
};

struct coap_server {
    struct coap_server_cfg cfg;
    m2m_handler_fn fn;
    void *hctx;
    coap_context_t *ctx;
    int port, sport;
    int evfd;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight;                         /* submitted, not yet answered (mu) */
    struct coap_xchg *ready, *ready_tail; /* answered after submit returned (mu) */
    struct coap_xchg *live;               /* every exchange (libcoap thread) */
    struct coap_sess_info *infos;         /* every session's state (libcoap thread) */
    struct tls_cred_hooks hooks;          /* cfg.hooks, or derived from the legacy fields */
    uint64_t generation;                  /* hooks.generation() at the last revocation sweep */
    int64_t next_revoke_check_ms;
    struct cb1_budget budget;  /* Block1 bytes held (libcoap thread) */
    struct peerq *peerq;       /* per-peer session counts, NULL = unlimited */
    int n_sessions;            /* sessions holding a slot (libcoap thread) */
    atomic_ullong refused;     /* sessions refused by a limit */
    int64_t quota_warn_ms;     /* last quota warning (libcoap thread) */
    unsigned long quota_quiet; /* refusals not logged since */
};

static pthread_once_t coap_once = PTHREAD_ONCE_INIT;

static void coap_log_to_m2m(coap_log_t level, const char *message)
{
    size_t n = strlen(message);
    while (n > 0 && message[n - 1] == '\n')
        n--;
    m2m_log(level <= LOG_ERR ? M2M_LOG_WARN : M2M_LOG_DEBUG, "coap: %.*s", (int)n, message);
}

static void coap_init_once(void)
{
    coap_startup();
    coap_set_log_handler(coap_log_to_m2m);
    coap_set_log_level(m2m_log_get_level() <= M2M_LOG_DEBUG ? LOG_INFO : LOG_ERR);
    coap_dtls_set_log_level(LOG_ERR);
}

void coap_server_cfg_default(struct coap_server_cfg *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->addr, sizeof c->addr, "127.0.0.1");
    c->port = 5683;
    snprintf(c->saddr, sizeof c->saddr, "127.0.0.1");
    c->sport = 5684;
    c->max_body = 1024 * 1024;
    c->block1_budget = 16u << 20;
    c->max_idle_sessions = 1024;
    c->session_timeout_s = 300;
    c->max_handshakes = 256;
    c->max_sessions = 1024;
    c->response_options = true;
}

static struct coap_server *server_of(coap_session_t *ses)
{
    return coap_get_app_data(coap_session_get_context(ses));
}

/* ---- exchanges ------------------------------------------------------------------------ */

static struct coap_xchg *xchg_new(struct coap_server *s, coap_session_t *ses, const coap_pdu_t *rq)
{
    struct coap_xchg *x = calloc(1, sizeof *x);
    if (x == NULL)
        return NULL;
    coap_bin_const_t tok = coap_pdu_get_token(rq);
    x->srv = s;
    x->token_len = tok.length <= sizeof x->token ? tok.length : sizeof x->token;
    memcpy(x->token, tok.s, x->token_len);
    x->session = coap_session_reference(ses);
    m2m_request_init(&x->req);
    m2m_response_init(&x->resp);
    x->next = s->live;
    if (s->live)
        s->live->prev = x;
    s->live = x;
    return x;
}

static void xchg_free(struct coap_xchg *x)
{
    if (x == NULL)
        return;
    struct coap_server *s = x->srv;
    if (x->prev)
        x->prev->next = x->next;
    else
        s->live = x->next;
    if (x->next)
        x->next->prev = x->prev;
    m2m_request_clear(&x->req);
    m2m_response_clear(&x->resp);
    coap_session_release(x->session);
    free(x);
}

/* The answer channel (struct m2m_reply): any thread, exactly once per exchange. */
static void reply_cb(void *ctx, struct m2m_response *resp)
{
    struct coap_xchg *x = ctx;
    struct coap_server *s = x->srv;
    bool wake = false;
    x->resp = *resp; /* takes over the owned fields; the caller may clear its copy */
    m2m_response_init(resp);
    pthread_mutex_lock(&s->mu);
    s->inflight--;
    if (x->state == X_SUBMIT) {
        x->state = X_ANSWERED; /* the handler answers it piggybacked when submit returns */
    } else {
        x->next_ready = NULL;
        if (s->ready_tail)
            s->ready_tail->next_ready = x;
        else
            s->ready = x;
        s->ready_tail = x;
        wake = true;
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (wake) {
        uint64_t one = 1;
        if (write(s->evfd, &one, sizeof one) < 0 && errno != EAGAIN)
            log_warn("coap: eventfd write: %s", strerror(errno));
    }
}

/* ---- responses ------------------------------------------------------------------------ */

static void release_body(coap_session_t *ses, void *p)
{
    free(p);
}

/* For a body carrying key material (m2m_response.sensitive); NUL-terminated JSON. */
static void release_secret_body(coap_session_t *ses, void *p)
{
    m2m_wipe(p, strlen(p));
    free(p);
}

/* Writes resp into the CoAP response pdu: code, oneM2M options and (blockwise, Block2 when
 * larger than a block) the payload, whose ownership moves to libcoap. */
static void write_response(coap_resource_t *res, coap_session_t *ses, const coap_pdu_t *rq,
                           const coap_string_t *query, coap_pdu_t *pdu, struct m2m_response *r,
                           const struct coap_req_meta *meta)
{
    bool opts = server_of(ses)->cfg.response_options;
    if (coap_map_response(r, meta->op, opts, pdu) != M2M_OK) {
        coap_pdu_set_code(pdu, COAP_RESPONSE_CODE(500));
        return;
    }
    if (!coap_map_response_has_body(r, meta->op))
        return;
    char *body = r->body;
    size_t len = r->body_len;
    r->body = NULL;
    r->body_len = 0;
    /* TS-0008 6.4: Max-Age 0, so that no CoAP cache answers for the CSE */
    if (!coap_add_data_large_response(res, ses, rq, pdu, query, meta->resp_cf, 0, 0, len,
                                      (const uint8_t *)body,
                                      r->sensitive ? release_secret_body : release_body, body))
        coap_pdu_set_code(pdu, COAP_RESPONSE_CODE(500)); /* libcoap released the body */
}

/* The RQI option of a request the mapping refused, so that the error still echoes it. */
static void echo_rqi(const coap_pdu_t *rq, struct m2m_response *r)
{
    coap_opt_iterator_t it;
    coap_opt_t *o = coap_check_option(rq, COAP_M2M_RQI, &it);
    if (o != NULL && coap_opt_length(o) > 0 && coap_opt_length(o) <= 255)
        r->rqi = strndup((const char *)coap_opt_value(o), coap_opt_length(o));
}

/* ---- security context ----------------------------------------------------------------- */

/* The request's m2m_secctx comes from the session, never from an option: the peer address, and
 * for DTLS the identity bound to the PSK or certificate of the association. */
static void fill_sec(const struct coap_server *s, coap_session_t *ses, struct m2m_secctx *sec)
{
    memset(sec, 0, sizeof *sec);
    const coap_address_t *a = coap_session_get_addr_remote(ses);
    if (a != NULL && a->size <= sizeof sec->peer) {
        memcpy(&sec->peer, &a->addr, a->size);
        sec->peer_len = a->size;
    }
    if (coap_session_get_proto(ses) != COAP_PROTO_DTLS) {
        sec->kind = M2M_SEC_NONE;
        sec->trusted_listener = s->cfg.trusted;
        return;
    }
    sec->trusted_listener = s->cfg.strusted;
    const struct coap_sess_info *in = coap_session_get_app_data(ses);
    if (in == NULL || in->kind == M2M_SEC_NONE) {
        sec->kind = M2M_SEC_TLS;
        return;
    }
    sec->kind = in->kind;
    snprintf(sec->identity, sizeof sec->identity, "%s", in->sec.identity);
    snprintf(sec->cred_id, sizeof sec->cred_id, "%s", in->sec.cred_id);
    sec->n_bound = in->sec.n_bound < 0                   ? 0
                   : in->sec.n_bound > M2M_SEC_MAX_BOUND ? M2M_SEC_MAX_BOUND
                                                         : in->sec.n_bound;
    for (int i = 0; i < sec->n_bound; i++)
        snprintf(sec->bound[i], sizeof sec->bound[i], "%s", in->sec.bound[i]);
}

/* ---- session quota ---------------------------------------------------------------------- */

/* A refusal is counted always and logged at most once a second, with the number kept quiet. */
static void quota_warn(struct coap_server *s, coap_session_t *ses, const char *which, int limit)
{
    atomic_fetch_add(&s->refused, 1);
    int64_t now = m2m_mono_ms();
    if (s->quota_warn_ms != 0 && now - s->quota_warn_ms < 1000) {
        s->quota_quiet++;
        return;
    }
    s->quota_warn_ms = now;
    char a[INET6_ADDRSTRLEN + 8] = "?";
    const coap_address_t *ra = coap_session_get_addr_remote(ses);
    if (ra != NULL && ra->addr.sa.sa_family == AF_INET)
        inet_ntop(AF_INET, &ra->addr.sin.sin_addr, a, sizeof a);
    else if (ra != NULL && ra->addr.sa.sa_family == AF_INET6)
        inet_ntop(AF_INET6, &ra->addr.sin6.sin6_addr, a, sizeof a);
    log_warn("coap: session from %s refused: %s limit of %d reached (%lu more refused since the "
             "last warning)",
             a, which, limit, s->quota_quiet);
    s->quota_quiet = 0;
}

/* Takes a session slot for `in` (the state about to be attached to ses): one of max_sessions and
 * one of the peer's max_sessions_per_ip. A session that already holds one (a renegotiation)
 * keeps it: sess_info_set moves it over. False when a limit is reached (counted, logged). */
static bool quota_admit(struct coap_server *s, coap_session_t *ses, struct coap_sess_info *in)
{
    const struct coap_sess_info *old = coap_session_get_app_data(ses);
    if (in->counted || (old != NULL && old != in && old->counted))
        return true;
    if (s->cfg.max_sessions > 0 && s->n_sessions >= s->cfg.max_sessions) {
        quota_warn(s, ses, "total session", s->cfg.max_sessions);
        return false;
    }
    if (s->peerq != NULL) {
        struct sockaddr_storage ss;
        const coap_address_t *ra = coap_session_get_addr_remote(ses);
        memset(&ss, 0, sizeof ss);
        if (ra != NULL && ra->size <= sizeof ss)
            memcpy(&ss, &ra->addr, ra->size);
        if (!peerq_acquire(s->peerq, &ss, in->qkey)) {
            quota_warn(s, ses, "per-peer session", s->cfg.max_sessions_per_ip);
            return false;
        }
    }
    in->counted = true;
    s->n_sessions++;
    return true;
}

static void quota_release(struct coap_sess_info *in)
{
    if (!in->counted)
        return;
    in->srv->n_sessions--;
    peerq_release(in->srv->peerq, in->qkey);
    in->counted = false;
    in->qkey[0] = '\0';
}

static struct coap_sess_info *sess_info_new(struct coap_server *s, coap_session_t *ses)
{
    struct coap_sess_info *in = calloc(1, sizeof *in);
    if (in == NULL)
        return NULL;
    in->srv = s;
    in->ses = ses;
    in->next = s->infos;
    if (s->infos)
        s->infos->prev = in;
    s->infos = in;
    return in;
}

static void sess_info_free(struct coap_sess_info *in)
{
    if (in == NULL)
        return;
    if (in->prev)
        in->prev->next = in->next;
    else
        in->srv->infos = in->next;
    if (in->next)
        in->next->prev = in->prev;
    cb1_peer_clear(&in->uploads, &in->srv->budget);
    quota_release(in);
    m2m_wipe(in, sizeof *in);
    free(in);
}

/* The PSK copy is needed only while GnuTLS runs the handshake (libcoap copies it out of keybin
 * inside its PSK callback): wiped once the handshake completed (COAP_EVENT_DTLS_CONNECTED) and,
 * should that event not come, at the session's first request at the latest. */
static void sess_info_drop_key(struct coap_sess_info *in)
{
    if (in == NULL || in->keybin.s == NULL)
        return;
    m2m_wipe(in->key, sizeof in->key);
    in->keybin.s = NULL;
    in->keybin.length = 0;
}

/* A new association replaces the session's state (a renegotiation starts from nothing). */
static void sess_info_set(coap_session_t *ses, struct coap_sess_info *in)
{
    struct coap_sess_info *old = coap_session_get_app_data(ses);
    if (old != NULL && old->counted && !in->counted) { /* the session keeps its slot */
        memcpy(in->qkey, old->qkey, sizeof in->qkey);
        in->counted = true;
        old->counted = false;
    }
    sess_info_free(old);
    coap_session_set_app_data(ses, in);
}

/* The session's state, created on first use (plain UDP sessions get one for Block1). */
static struct coap_sess_info *sess_info_of(struct coap_server *s, coap_session_t *ses)
{
    struct coap_sess_info *in = coap_session_get_app_data(ses);
    if (in == NULL && (in = sess_info_new(s, ses)) != NULL)
        coap_session_set_app_data(ses, in);
    return in;
}

/* The wake of psk_prefetch (tls.h). libcoap 4.3.1 cannot suspend a handshake in its PSK
 * callback, so a handshake whose key is being fetched has already failed when the fetch ends;
 * nothing waits for the wake, and wake_arg (NULL) points to nothing. */
static void prefetch_wake(void *wake_arg)
{
    (void)wake_arg;
}

/* TS-0003 8.3.2.1 (SPEC-MAP G5): a KeID not yet in the database is fetched from the MEF by
 * psk_prefetch. [INTERP] The DTLS handshake that asked fails at once (no handshake callback may
 * wait on the network); the client's next handshake (RFC 6347 retransmission or a new attempt)
 * finds the key. False when this handshake must fail. */
static bool psk_prefetch(struct coap_server *s, const coap_bin_const_t *identity)
{
    if (s->hooks.psk_prefetch == NULL)
        return true;
    m2m_rc rc = s->hooks.psk_prefetch(s->hooks.ctx, (const char *)identity->s, identity->length,
                                      prefetch_wake, NULL);
    if (rc == M2M_ERR_AGAIN)
        log_info("coaps: PSK identity being fetched; this handshake fails, a retry will find it");
    else if (rc != M2M_OK)
        log_info("coaps: PSK identity refused by prefetch (%s)", m2m_rc_str(rc));
    return rc == M2M_OK;
}

/* TS-0003 8.2.2 / 10.2.2 (Provisioned Symmetric Key SAEF): the client's PSK identity (the KpsaID)
 * selects the key and the identity the association is bound to. Unknown or revoked identities
 * fail the handshake (NULL). Runs on the libcoap thread during the handshake. */
static const coap_bin_const_t *psk_id_cb(coap_bin_const_t *identity, coap_session_t *ses, void *arg)
{
    struct coap_server *s = arg;
    size_t keylen = sizeof((struct coap_sess_info *)0)->key;
    if (identity == NULL || identity->length == 0 || identity->length >= M2M_ID_MAX ||
        memchr(identity->s, 0, identity->length) != NULL || !psk_prefetch(s, identity))
        return NULL;
    struct coap_sess_info *in = sess_info_new(s, ses);
    if (in == NULL)
        return NULL;
    if (!quota_admit(s, ses, in)) { /* before any lookup: the handshake fails */
        sess_info_free(in);
        return NULL;
    }
    m2m_rc rc = s->hooks.psk_lookup(s->hooks.ctx, (const char *)identity->s, identity->length,
                                    in->key, &keylen, &in->sec);
    if (rc != M2M_OK || keylen == 0 || keylen > sizeof in->key) {
        log_info("coaps: PSK identity refused (%s)", m2m_rc_str(rc));
        sess_info_free(in);
        return NULL;
    }
    in->sec.identity[sizeof in->sec.identity - 1] = 0;
    in->sec.cred_id[sizeof in->sec.cred_id - 1] = 0;
    in->kind = M2M_SEC_TLS_PSK;
    in->keybin.s = in->key;
    in->keybin.length = keylen;
    sess_info_set(ses, in);
    return &in->keybin;
}

/* TS-0003 8.1.2.5 (SPEC-MAP F4): the client certificate must be valid for TLS client
 * authentication. libcoap verified the chain without a key purpose, so it is verified again here
 * on the GnuTLS session with the clientAuth purpose, exactly as the HTTPS listener does
 * (src/tls/tls.c verify_client_cb): a leaf whose extendedKeyUsage lacks id-kp-clientAuth (a
 * serverAuth-only certificate) fails. The leaf's DER comes from the session, so that its
 * Credential-ID is the fingerprint of the bytes the peer sent. */
static m2m_rc cert_leaf(coap_session_t *ses, gnutls_datum_t *leaf)
{
    coap_tls_library_t lib = COAP_TLS_LIBRARY_NOTLS;
    gnutls_session_t g = coap_session_get_tls(ses, &lib);
    unsigned n = 0, status = 0;
    if (g == NULL || lib != COAP_TLS_LIBRARY_GNUTLS ||
        gnutls_certificate_type_get2(g, GNUTLS_CTYPE_PEERS) != GNUTLS_CRT_X509)
        return M2M_ERR_TLS;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(g, &n);
    if (peers == NULL || n == 0)
        return M2M_ERR_DENIED;
    gnutls_typed_vdata_st purpose = {.type = GNUTLS_DT_KEY_PURPOSE_OID,
                                     .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT};
    if (gnutls_certificate_verify_peers(g, &purpose, 1, &status) < 0 || status != 0)
        return M2M_ERR_DENIED;
    *leaf = peers[0];
    return M2M_OK;
}

/* The binding of a verified client certificate, the same as over HTTPS (tls.c x509_secctx):
 * the identity and Credential-ID ("cert:<sha256>") of x509_ident_from_der (its name rules:
 * first SAN URI, else dNSName, else CN; no wildcard, control character or space in any text
 * SAN, SPEC-MAP F8), and for a URN identity the AE-IDs node_lookup lists (F6); a URN whose
 * credential is revoked fails. */
static m2m_rc cert_bind(struct coap_server *s, coap_session_t *ses, struct m2m_secctx *sec)
{
    m2m_rc rc = M2M_OK;
    gnutls_datum_t leaf = {NULL, 0};
    struct x509_ident id;
    struct m2m_secctx b;
    memset(&b, 0, sizeof b);
    TRY(cert_leaf(ses, &leaf));
    TRY(x509_ident_from_der(leaf.data, leaf.size, &id));
    memcpy(sec->identity, id.identity, sizeof sec->identity);
    memcpy(sec->cred_id, id.cred_id, sizeof sec->cred_id);
    sec->n_bound = 0;
    if (strncmp(sec->identity, "urn:", 4) != 0 || s->hooks.node_lookup == NULL)
        goto out;
    rc = s->hooks.node_lookup(s->hooks.ctx, sec->identity, &b);
    if (rc == M2M_ERR_NOT_FOUND) {
        rc = M2M_OK; /* the certificate binds to its SAN alone */
    } else if (rc != M2M_OK) {
        BAIL(M2M_ERR_DENIED); /* revoked */
    } else {
        memcpy(sec->identity, b.identity, sizeof sec->identity);
        memcpy(sec->cred_id, b.cred_id, sizeof sec->cred_id);
        sec->n_bound = b.n_bound < 0                   ? 0
                       : b.n_bound > M2M_SEC_MAX_BOUND ? M2M_SEC_MAX_BOUND
                                                       : b.n_bound;
        memcpy(sec->bound, b.bound, sizeof sec->bound);
    }
out:
    sec->identity[sizeof sec->identity - 1] = sec->cred_id[sizeof sec->cred_id - 1] = 0;
    return rc;
}

/* Certificate SAEF: libcoap/GnuTLS validated the chain against the configured CA; the leaf
 * (depth 0) gives the identity through cert_bind. A chain that did not validate, a leaf not
 * meant for client authentication or without an acceptable identity is refused. Runs on the
 * libcoap thread inside the handshake. */
static int cert_cb(const char *cn, const uint8_t *der, size_t len, coap_session_t *ses,
                   unsigned depth, int validated, void *arg)
{
    if (!validated)
        return 0;
    if (depth != 0)
        return 1;
    struct coap_sess_info *in = sess_info_new(arg, ses);
    if (in == NULL)
        return 0;
    if (!quota_admit(arg, ses, in)) {
        sess_info_free(in);
        return 0;
    }
    m2m_rc rc = cert_bind(arg, ses, &in->sec);
    if (rc != M2M_OK) {
        log_info("coaps: client certificate refused (%s): not for clientAuth, no acceptable "
                 "identity, or revoked",
                 m2m_rc_str(rc));
        sess_info_free(in);
        return 0;
    }
    in->kind = M2M_SEC_TLS_CERT;
    sess_info_set(ses, in);
    return 1;
}

/* The PSK copy goes when the handshake completed. The association ends with the session, and
 * also when its handshake failed or the peer closed
 * (libcoap 4.3.1 does not always report the deletion of a session that never got established). */
static int event_cb(coap_session_t *ses, const coap_event_t ev)
{
    if (ev == COAP_EVENT_DTLS_CONNECTED)
        sess_info_drop_key(coap_session_get_app_data(ses));
    if (ev == COAP_EVENT_SERVER_SESSION_DEL || ev == COAP_EVENT_DTLS_ERROR ||
        ev == COAP_EVENT_DTLS_CLOSED) {
        sess_info_free(coap_session_get_app_data(ses));
        coap_session_set_app_data(ses, NULL);
    }
    return 0;
}

/* ---- the request handler (libcoap thread) --------------------------------------------- */

/* The second call for a deferred request: libcoap replays the request when its async was
 * triggered; the answer waits in the exchange. libcoap removes the async on return. */
static void deliver_deferred(coap_resource_t *res, coap_session_t *ses, const coap_pdu_t *rq,
                             const coap_string_t *query, coap_pdu_t *pdu, coap_async_t *a)
{
    struct coap_xchg *x = coap_async_get_app_data(a);
    if (x == NULL || !x->ready) {
        coap_pdu_set_code(pdu, COAP_RESPONSE_CODE(503));
        return;
    }
    coap_async_set_app_data(a, NULL);
    write_response(res, ses, rq, query, pdu, &x->resp, &x->meta);
    xchg_free(x);
}

/* Maps the request with its whole body (data[0..len)); on refusal answers at once. Returns
 * false when answered. */
static bool prepare(struct coap_server *s, struct coap_xchg *x, coap_resource_t *res,
                    coap_session_t *ses, const coap_pdu_t *rq, const coap_string_t *query,
                    coap_pdu_t *pdu, const uint8_t *data, size_t len)
{
    char err[256];
    m2m_rsc rsc = RSC_NONE;
    x->req.t_recv_us = m2m_now_us();
    if (coap_session_get_proto(ses) == COAP_PROTO_DTLS)
        sess_info_drop_key(coap_session_get_app_data(ses)); /* the handshake is over */
    fill_sec(s, ses, &x->req.sec);
    /* a credential revoked after the handshake no longer speaks for anyone (TS-0003 8.2); the
     * session itself ends at the next revocation sweep */
    if (x->req.sec.cred_id[0] && s->hooks.is_revoked &&
        s->hooks.is_revoked(s->hooks.ctx, x->req.sec.cred_id)) {
        m2m_response_error(&x->resp, RSC_SECURITY_ASSOCIATION_REQUIRED, "credential revoked");
    } else if (coap_map_request(rq, data, len, s->cfg.max_body, &x->req, &x->meta, &rsc, err,
                                sizeof err) != M2M_OK) {
        m2m_response_error(&x->resp, rsc ? rsc : RSC_INTERNAL_SERVER_ERROR, "%s", err);
    } else {
        return true;
    }
    echo_rqi(rq, &x->resp);
    write_response(res, ses, rq, query, pdu, &x->resp, &x->meta);
    return false;
}

/* ---- Block1 (RFC 7959 2.5) ---------------------------------------------------------- */

/* The identity of a blockwise request (RFC 7959 2.4): method and every option but Block1,
 * Size1, Block2 and Size2, as (number, length, value) triples. False when over CB1_KEY_MAX. */
static bool block1_key(const coap_pdu_t *rq, uint8_t *key, size_t *len)
{
    coap_opt_iterator_t it;
    coap_opt_t *o;
    size_t n = 0;
    key[n++] = (uint8_t)coap_pdu_get_code(rq);
    coap_option_iterator_init(rq, &it, COAP_OPT_ALL);
    while ((o = coap_option_next(&it)) != NULL) {
        uint16_t num = it.number;
        size_t ol = coap_opt_length(o);
        if (num == COAP_OPTION_BLOCK1 || num == COAP_OPTION_SIZE1 || num == COAP_OPTION_BLOCK2 ||
            num == COAP_OPTION_SIZE2)
            continue;
        if (ol > CB1_KEY_MAX || n + 4 + ol > CB1_KEY_MAX)
            return false;
        key[n++] = (uint8_t)(num >> 8);
        key[n++] = (uint8_t)num;
        key[n++] = (uint8_t)(ol >> 8);
        key[n++] = (uint8_t)ol;
        memcpy(key + n, coap_opt_value(o), ol);
        n += ol;
    }
    *len = n;
    return true;
}

/* Answers a refused block: 4.13 carries Size1 = the limit (RFC 7959 2.9.3). */
static void block1_refuse(struct coap_server *s, coap_pdu_t *pdu, enum cb1_result r)
{
    static const struct {
        enum cb1_result r;
        int code;
        const char *text;
    } map[] = {{CB1_TOO_LARGE, 413, "request body too large"},
               {CB1_INCOMPLETE, 408, "block out of sequence or without its start"},
               {CB1_BAD, 400, "malformed Block1 option or block size"},
               {CB1_BUSY, 503, "too many uploads in progress"},
               {CB1_NOMEM, 500, "out of memory"}};
    for (size_t i = 0; i < M2M_ARRAY_LEN(map); i++) {
        if (map[i].r != r)
            continue;
        coap_pdu_set_code(pdu, COAP_RESPONSE_CODE(map[i].code));
        if (r == CB1_TOO_LARGE) {
            uint8_t buf[8];
            coap_add_option(pdu, COAP_OPTION_SIZE1,
                            coap_encode_var_safe8(buf, sizeof buf, s->cfg.max_body), buf);
        }
        coap_add_data(pdu, strlen(map[i].text), (const uint8_t *)map[i].text);
        return;
    }
}

/* A request carrying Block1: collects the block (coap_block1.c). Returns true with the whole
 * body in *body (the caller wipes and frees it) after the last block; false when the block was
 * answered here (2.31 Continue, or the refusal). */
static bool block1_take(struct coap_server *s, coap_session_t *ses, const coap_pdu_t *rq,
                        const coap_block_b_t *blk, coap_pdu_t *pdu, uint8_t **body,
                        size_t *body_len)
{
    uint8_t key[CB1_KEY_MAX];
    size_t len = 0, off = 0, total = 0, klen = 0;
    const uint8_t *data = NULL;
    coap_opt_iterator_t it;
    coap_opt_t *size1 = coap_check_option(rq, COAP_OPTION_SIZE1, &it);
    struct coap_sess_info *in = sess_info_of(s, ses);
    if (!coap_get_data_large(rq, &len, &data, &off, &total))
        len = 0, data = NULL;
    struct cb1_block b = {.key = key,
                          .num = blk->num,
                          .more = blk->m != 0,
                          .szx = blk->szx,
                          .data = data,
                          .len = len,
                          .has_size1 = size1 != NULL};
    if (size1 != NULL)
        b.size1 = coap_decode_var_bytes8(coap_opt_value(size1), coap_opt_length(size1));
    enum cb1_result r = CB1_NOMEM;
    if (in != NULL && block1_key(rq, key, &klen)) {
        b.key_len = klen;
        r = cb1_feed(&in->uploads, &s->budget, s->cfg.max_body, &b, m2m_mono_ms(), body, body_len);
    } else if (in != NULL) {
        r = CB1_BAD;
    }
    if (r == CB1_DONE)
        return true;
    if (r == CB1_MORE)
        coap_pdu_set_code(pdu, COAP_RESPONSE_CODE(231)); /* libcoap added the Block1 echo */
    else
        block1_refuse(s, pdu, r);
    return false;
}

/* The request's whole body: the payload, or the Block1 reassembly. Returns false when the
 * request was answered here (a block that is not the last, or a refusal). */
static bool request_body(struct coap_server *s, coap_session_t *ses, const coap_pdu_t *rq,
                         coap_pdu_t *pdu, uint8_t **owned, const uint8_t **data, size_t *len)
{
    size_t off = 0, total = 0;
    coap_block_b_t blk;
    *owned = NULL;
    if (coap_get_block_b(ses, rq, COAP_OPTION_BLOCK1, &blk)) {
        if (!block1_take(s, ses, rq, &blk, pdu, owned, len))
            return false;
        *data = *owned;
        return true;
    }
    if (!coap_get_data_large(rq, len, data, &off, &total) || off != 0)
        *len = 0, *data = NULL;
    return true;
}

/* The exporter hook of a DTLS request (m2m_request.exporter): RFC 5705 on the GnuTLS session
 * of the association, no context value. Runs on the libcoap thread, inside the handler call.
 * RFC 7627 / RFC 9266 3: without the extended master secret the exported value is not unique to
 * the association (a man in the middle can synchronise two of them), so it is refused. */
static m2m_rc dtls_export(void *ctx, const char *label, size_t label_len, uint8_t *out, size_t len)
{
    coap_tls_library_t lib = COAP_TLS_LIBRARY_NOTLS;
    gnutls_session_t g = coap_session_get_tls(ctx, &lib);
    if (g == NULL || lib != COAP_TLS_LIBRARY_GNUTLS || label == NULL || len == 0)
        return M2M_ERR_TLS;
    if (coap_session_get_state(ctx) != COAP_SESSION_STATE_ESTABLISHED ||
        !gnutls_session_ext_master_secret_status(g))
        return M2M_ERR_TLS;
    if (gnutls_prf_rfc5705(g, label_len, label, 0, NULL, len, (char *)out) < 0) {
        m2m_wipe(out, len);
        return M2M_ERR_TLS;
    }
    return M2M_OK;
}

/* A plain CoAP session takes its slot at its first request (a DTLS one took it in its handshake).
 * Over a limit the request is answered 5.03 with Max-Age (RFC 7252 5.9.3.4: when to retry); the
 * session's next request tries again. False when answered. */
static bool session_admitted(struct coap_server *s, coap_session_t *ses, coap_pdu_t *pdu)
{
    if (coap_session_get_proto(ses) != COAP_PROTO_UDP)
        return true;
    struct coap_sess_info *in = sess_info_of(s, ses);
    if (in != NULL && quota_admit(s, ses, in))
        return true;
    uint8_t buf[4];
    coap_pdu_set_code(pdu, COAP_RESPONSE_CODE(in != NULL ? 503 : 500));
    if (in != NULL)
        coap_add_option(pdu, COAP_OPTION_MAXAGE,
                        coap_encode_var_safe(buf, sizeof buf, COAP_QUOTA_RETRY_S), buf);
    return false;
}

static void on_request(coap_resource_t *res, coap_session_t *ses, const coap_pdu_t *rq,
                       const coap_string_t *query, coap_pdu_t *pdu)
{
    struct coap_server *s = server_of(ses);
    coap_async_t *a = coap_find_async(ses, coap_pdu_get_token(rq));
    if (a != NULL) {
        deliver_deferred(res, ses, rq, query, pdu, a);
        return;
    }
    if (!session_admitted(s, ses, pdu))
        return;
    uint8_t *owned = NULL;
    const uint8_t *data = NULL;
    size_t len = 0;
    if (!request_body(s, ses, rq, pdu, &owned, &data, &len))
        return;
    struct coap_xchg *x = xchg_new(s, ses, rq);
    bool go = x != NULL && prepare(s, x, res, ses, rq, query, pdu, data, len);
    if (owned != NULL) {
        m2m_wipe(owned, len); /* the request holds its copy; a body may carry a key */
        free(owned);
    }
    if (x == NULL)
        coap_pdu_set_code(pdu, COAP_RESPONSE_CODE(500));
    if (!go) {
        xchg_free(x);
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->inflight++;
    x->state = X_SUBMIT;
    pthread_mutex_unlock(&s->mu);
    if (coap_session_get_proto(ses) == COAP_PROTO_DTLS) {
        x->req.exporter.fn = dtls_export;
        x->req.exporter.ctx = ses;
    }
    s->fn(s->hctx, &x->req, (struct m2m_reply){reply_cb, x});
    /* the session may be gone by the time a deferred answer comes: no export after the call */
    x->req.exporter.fn = NULL;
    x->req.exporter.ctx = NULL;
    pthread_mutex_lock(&s->mu);
    if (x->state == X_ANSWERED) {
        pthread_mutex_unlock(&s->mu);
        write_response(res, ses, rq, query, pdu, &x->resp, &x->meta); /* piggybacked */
        xchg_free(x);
        return;
    }
    /* RFC 7252 5.2.2: not answered yet (a write waiting for its commit): no response code now,
     * so libcoap sends an empty ACK; the answer follows as a separate response. */
    a = coap_register_async(ses, rq, 0);
    x->orphan = a == NULL;
    x->state = X_DEFERRED;
    pthread_mutex_unlock(&s->mu);
    if (a == NULL)
        log_warn("coap: cannot defer a response (token in use?); the answer will be dropped");
}

/* Answers that arrived after submit returned: attach each to its async and trigger it. */
static void drain_ready(struct coap_server *s)
{
    uint64_t v;
    if (read(s->evfd, &v, sizeof v) < 0 && errno != EAGAIN)
        log_warn("coap: eventfd read: %s", strerror(errno));
    pthread_mutex_lock(&s->mu);
    struct coap_xchg *x = s->ready;
    s->ready = s->ready_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    while (x != NULL) {
        struct coap_xchg *next = x->next_ready;
        coap_bin_const_t tok = {x->token_len, x->token};
        coap_async_t *a = x->orphan ? NULL : coap_find_async(x->session, tok);
        if (a == NULL) {
            xchg_free(x); /* the session went away or nothing waits for it */
        } else {
            x->ready = true;
            coap_async_set_app_data(a, x);
            coap_async_trigger(a);
        }
        x = next;
    }
}

/* ---- revocation of live sessions --------------------------------------------------------- */

/* Ends a DTLS session: its state goes, libcoap sends close_notify and forgets the DTLS
 * association (coap_session_disconnected), and the session leaves the endpoint (a server
 * session is freed only by libcoap's idle sweep, so it is turned into a client-type one, which
 * coap_session_release frees with its last reference; exchanges still holding one keep it
 * until they end). Later records from that peer find no session and are dropped; its next
 * ClientHello starts a new handshake, which the revoked credential cannot complete. */
static void end_session(coap_session_t *ses)
{
    sess_info_free(coap_session_get_app_data(ses));
    coap_session_set_app_data(ses, NULL);
    coap_session_disconnected(ses, COAP_NACK_TLS_FAILED);
    if (coap_session_set_type_client(ses))
        coap_session_release(ses);
}

/* TS-0003 8.2 (SPEC-MAP F4): when the credential database changed (another process or an admin
 * request revoked something), every live DTLS session whose credential is now revoked ends.
 * Runs on the libcoap thread between io passes, at most every COAP_REVOKE_CHECK_MS. */
static void revoke_sweep(struct coap_server *s)
{
    int64_t now = m2m_mono_ms();
    if (s->hooks.generation == NULL || s->hooks.is_revoked == NULL || now < s->next_revoke_check_ms)
        return;
    s->next_revoke_check_ms = now + COAP_REVOKE_CHECK_MS;
    uint64_t g = s->hooks.generation(s->hooks.ctx);
    if (g == s->generation)
        return;
    s->generation = g;
    struct coap_sess_info *in = s->infos, *next;
    for (; in != NULL; in = next) {
        next = in->next;
        if (in->kind == M2M_SEC_NONE || in->sec.cred_id[0] == 0 ||
            !s->hooks.is_revoked(s->hooks.ctx, in->sec.cred_id))
            continue;
        log_info("coaps: credential %s revoked: ending its session", in->sec.cred_id);
        end_session(in->ses);
    }
}

static void *loop(void *arg)
{
    struct coap_server *s = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    while (!atomic_load(&s->stop)) {
        fd_set rf;
        FD_ZERO(&rf);
        FD_SET(s->evfd, &rf);
        int r = coap_io_process_with_fds(s->ctx, 1000, s->evfd + 1, &rf, NULL, NULL);
        if (r < 0) {
            log_warn("coap: io processing failed");
            continue;
        }
        if (FD_ISSET(s->evfd, &rf))
            drain_ready(s);
        revoke_sweep(s);
    }
    return NULL;
}

/* ---- set-up ----------------------------------------------------------------------------- */

/* The port libcoap bound (port 0 = ephemeral): coap_endpoint_str() prints the bound address as
 * "ADDR:PORT ..." (4.3.1 has no getter). */
static int endpoint_port(const coap_endpoint_t *ep)
{
    const char *str = coap_endpoint_str(ep);
    const char *sp = str ? strchr(str, ' ') : NULL;
    size_t n = sp ? (size_t)(sp - str) : (str ? strlen(str) : 0);
    int port = 0;
    size_t i = n;
    while (i > 0 && str[i - 1] >= '0' && str[i - 1] <= '9')
        i--;
    if (i == 0 || i == n || str[i - 1] != ':')
        return -1;
    for (; i < n && port < 70000; i++)
        port = port * 10 + (str[i] - '0');
    return port <= 65535 ? port : -1;
}

static m2m_rc add_endpoint(struct coap_server *s, const char *addr, int port, coap_proto_t proto,
                           int *bound)
{
    coap_address_t a;
    coap_address_init(&a);
    struct sockaddr_in *v4 = &a.addr.sin;
    struct sockaddr_in6 *v6 = &a.addr.sin6;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        a.size = sizeof *v4;
    } else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        a.size = sizeof *v6;
    } else {
        log_error("coap: listen address '%s' is not numeric", addr);
        return M2M_ERR_CONFIG;
    }
    coap_endpoint_t *ep = coap_new_endpoint(s->ctx, &a, proto);
    if (ep == NULL) {
        log_error("coap: cannot bind %s %s:%d", proto == COAP_PROTO_DTLS ? "coaps" : "coap", addr,
                  port);
        return M2M_ERR_IO;
    }
    *bound = endpoint_port(ep);
    return *bound < 0 ? M2M_ERR_IO : M2M_OK;
}

/* DTLS credentials: PSK (identity looked up per handshake) and the certificate of the dev PKI.
 * libcoap 4.3.1's GnuTLS priority string includes PSK with AES-128-CCM-8, so the mandatory
 * TLS_PSK_WITH_AES_128_CCM_8 of TS-0003 10.2.2 is offered next to the ECDHE-PSK suites. */
static m2m_rc setup_dtls(struct coap_server *s)
{
    const struct coap_server_cfg *c = &s->cfg;
    if (!coap_dtls_is_supported()) {
        log_error("coaps: libcoap was built without DTLS");
        return M2M_ERR_CONFIG;
    }
    if (s->hooks.psk_lookup == NULL && c->cert_file[0] == 0) {
        log_error("coaps: neither a PSK store nor a certificate is configured");
        return M2M_ERR_CONFIG;
    }
    if (s->hooks.psk_lookup != NULL) {
        coap_dtls_spsk_t sp;
        memset(&sp, 0, sizeof sp);
        sp.version = COAP_DTLS_SPSK_SETUP_VERSION;
        sp.validate_id_call_back = psk_id_cb;
        sp.id_call_back_arg = s;
        if (!coap_context_set_psk2(s->ctx, &sp))
            return M2M_ERR_CONFIG;
    }
    if (c->cert_file[0] != 0) {
        coap_dtls_pki_t pk;
        memset(&pk, 0, sizeof pk);
        pk.version = COAP_DTLS_PKI_SETUP_VERSION;
        pk.verify_peer_cert = 1;
        pk.check_common_ca = c->ca_file[0] != 0;
        pk.cert_chain_validation = 1;
        pk.cert_chain_verify_depth = 3;
        pk.validate_cn_call_back = cert_cb;
        pk.cn_call_back_arg = s;
        pk.pki_key.key_type = COAP_PKI_KEY_PEM;
        pk.pki_key.key.pem.public_cert = c->cert_file;
        pk.pki_key.key.pem.private_key = c->key_file;
        pk.pki_key.key.pem.ca_file = c->ca_file[0] ? c->ca_file : NULL;
        if (!coap_context_set_pki(s->ctx, &pk)) {
            log_error("coaps: cannot load %s / %s", c->cert_file, c->key_file);
            return M2M_ERR_CONFIG;
        }
    }
    return M2M_OK;
}

static m2m_rc setup_context(struct coap_server *s)
{
    m2m_rc rc = M2M_OK;
    ENSURE((s->ctx = coap_new_context(NULL)) != NULL, M2M_ERR_NOMEM);
    coap_set_app_data(s->ctx, s);
    /* libcoap tracks the blocks and answers Block2; Block1 bodies are collected by
     * block1_take, which checks the body limit per block (without COAP_BLOCK_SINGLE_BODY) */
    coap_context_set_block_mode(s->ctx, COAP_BLOCK_USE_LIBCOAP);
    /* libcoap frees the oldest idle session when a new one would pass max_idle_sessions; kept
     * within max_sessions, an idle plain CoAP session makes room instead of holding its slot
     * until session_timeout_s */
    int idle = s->cfg.max_idle_sessions;
    if (s->cfg.max_sessions > 0 && (idle <= 0 || s->cfg.max_sessions < idle))
        idle = s->cfg.max_sessions;
    coap_context_set_max_idle_sessions(s->ctx, (unsigned)idle);
    coap_context_set_session_timeout(s->ctx, (unsigned)s->cfg.session_timeout_s);
    coap_context_set_max_handshake_sessions(s->ctx, (unsigned)s->cfg.max_handshakes);
    coap_register_event_handler(s->ctx, event_cb);
    /* the oneM2M options are critical: unregistered, libcoap would answer 4.02 itself */
    for (size_t i = 0; i < coap_m2m_n_options; i++)
        coap_register_option(s->ctx, coap_m2m_options[i]);
    /* one resource for every path: the CSE, not libcoap, resolves To */
    coap_resource_t *r = coap_resource_unknown_init2(on_request, 0);
    ENSURE_NONNULL(r);
    static const coap_request_t methods[] = {
        COAP_REQUEST_GET,   COAP_REQUEST_POST,  COAP_REQUEST_PUT,   COAP_REQUEST_DELETE,
        COAP_REQUEST_FETCH, COAP_REQUEST_PATCH, COAP_REQUEST_IPATCH};
    for (size_t i = 0; i < M2M_ARRAY_LEN(methods); i++)
        coap_register_request_handler(r, methods[i], on_request);
    coap_add_resource(s->ctx, r);
    if (s->cfg.sport >= 0)
        TRY(setup_dtls(s));
    if (s->cfg.port >= 0)
        TRY(add_endpoint(s, s->cfg.addr, s->cfg.port, COAP_PROTO_UDP, &s->port));
    if (s->cfg.sport >= 0)
        TRY(add_endpoint(s, s->cfg.saddr, s->cfg.sport, COAP_PROTO_DTLS, &s->sport));
out:
    return rc;
}

m2m_rc coap_server_start(const struct coap_server_cfg *cfg, m2m_handler_fn fn, void *hctx,
                         struct coap_server **out)
{
    m2m_rc rc = M2M_OK;
    struct coap_server *s = NULL;
    *out = NULL;
    ENSURE(cfg->port >= 0 || cfg->sport >= 0, M2M_ERR_CONFIG);
    pthread_once(&coap_once, coap_init_once);
    ENSURE_NONNULL(s = calloc(1, sizeof *s));
    s->cfg = *cfg;
    s->hooks = cfg->hooks;
    if (s->hooks.generation != NULL)
        s->generation = s->hooks.generation(s->hooks.ctx);
    s->budget.cap = cfg->block1_budget ? cfg->block1_budget : 16u << 20;
    s->fn = fn;
    s->hctx = hctx;
    s->port = s->sport = -1;
    s->evfd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    ENSURE((s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) >= 0, M2M_ERR_IO);
    if (cfg->max_sessions_per_ip > 0)
        TRY(peerq_new(cfg->max_sessions_per_ip, &s->peerq));
    TRY(setup_context(s));
    ENSURE(pthread_create(&s->thread, NULL, loop, s) == 0, M2M_ERR_IO);
    s->thread_started = true;
    *out = s;
    return M2M_OK;
out:
    coap_server_stop(s);
    return rc;
}

int coap_server_port(const struct coap_server *s, bool secure)
{
    if (s == NULL)
        return -1;
    return secure ? s->sport : s->port;
}

uint64_t coap_server_refused(const struct coap_server *s)
{
    return s == NULL ? 0 : atomic_load(&s->refused);
}

void coap_server_stop(struct coap_server *s)
{
    if (s == NULL)
        return;
    if (s->thread_started) {
        uint64_t one = 1;
        atomic_store(&s->stop, true);
        if (write(s->evfd, &one, sizeof one) < 0)
            log_warn("coap: eventfd write: %s", strerror(errno));
        pthread_join(s->thread, NULL);
    }
    /* every request handed to the handler must have been answered before its memory goes */
    pthread_mutex_lock(&s->mu);
    while (s->inflight > 0)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    while (s->live != NULL)
        xchg_free(s->live);
    if (s->ctx)
        coap_free_context(s->ctx);
    while (s->infos != NULL)
        sess_info_free(s->infos);
    peerq_free(s->peerq);
    if (s->evfd >= 0)
        close(s->evfd);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
