/* mef_internal.h: what the files of the MEF server share: the server object, one request in
 * flight (struct mef_call) and the answer helpers. Not a public contract. */
#ifndef M2M_MEF_INTERNAL_H
#define M2M_MEF_INTERNAL_H

#include "mef/est.h"
#include "mef/mef.h"
#include "mef/mef_store.h"
#include "net/server.h"

/* Resource types of docs/MEF.md ([INTERP] private values: TS-0032 is not available). */
enum { MEF_TY_BASE = 901, MEF_TY_MCR = 902, MEF_TY_MCC = 903, MEF_TY_MKR = 904, MEF_TY_ENR = 905 };

struct coap_server;

struct mef_server {
    struct mef_config cfg;
    struct mef_store *st;
    struct est_ca *ca;
    struct srv *srv;          /* HTTPS (TS-0009) and EST */
    struct coap_server *coap; /* CoAPS (TS-0008), NULL when mef.coaps_listen is off */
    int port, coaps_port;     /* bound ports; coaps_port -1 when off */
    char est_uri[320];        /* estBaseURI */
};

/* One Mmef request being answered, on the thread of the binding that received it (the HTTPS
 * loop or the libcoap thread). The procedures do not depend on the binding: the session's
 * exporter is req->exporter (mef_export), the answer goes to resp. */
struct mef_call {
    struct mef_server *m;
    const struct m2m_request *req;
    struct m2m_response *resp;
    const char *client; /* the authenticated identity (== From) */
    int64_t now;        /* Unix seconds */
};

/* RFC 5705 exporter (no context value) of the (D)TLS session that carried c's request, through
 * the binding's req->exporter. M2M_ERR_TLS when the binding offers none. */
M2M_WARN_UNUSED m2m_rc mef_export(struct mef_call *c, const char *label, uint8_t *out, size_t len);

/* Sets resp to rsc with root as its body (consumed; NULL = no body) and content_ty ty. */
void mef_reply(struct mef_call *c, m2m_rsc rsc, int ty, cJSON *root);
/* The same for a body that carries key material: printed into one preallocated buffer (no
 * realloc leaves copies), the tree's strings wiped before it is freed, the response marked
 * sensitive so that the transport wipes its copies too. */
void mef_reply_secret(struct mef_call *c, m2m_rsc rsc, int ty, cJSON *root);
/* An error answer with an m2m:dbg text (never key material). */
void mef_fail(struct mef_call *c, m2m_rsc rsc, const char *msg);
/* 5000 for store failures, 4004 NOT_FOUND, 4105 EXISTS, 4000 MALFORMED, 4103 DENIED. */
m2m_rsc mef_rsc_of(m2m_rc rc);
/* Upper-case hex of n bytes into out (2n + 1). */
void mef_hex(const uint8_t *in, size_t n, char *out);
/* The expiration time a client asked for, bounded by max_s from now ("the MEF may override
 * proposed values", TS-0003 8.3.5.2.3). false when the request is already in the past. */
bool mef_clamp_et(int64_t now, bool has, int64_t asked, int64_t max_s, int64_t *et);
/* True when the session authenticated with a certificate this MEF issued and an administrator
 * revoked (`m2msec mef revoke <serial|fingerprint>`): every listener refuses it, 4103 / 403. */
bool mef_cert_revoked(struct mef_server *m, const struct m2m_secctx *sec);
/* True when admin is acceptable under mef.admin_fqdns. */
bool mef_admin_ok(const struct mef_config *cfg, const char *admin);

/* Procedures (mef_proc.c): CREATE under MEFBase and the operations on one resource. */
void mef_mcr_create(struct mef_call *c);
void mef_mcr_op(struct mef_call *c, const char *id);
void mef_mcc_op(struct mef_call *c, const char *regid);
void mef_mkr_create(struct mef_call *c);
void mef_mkr_op(struct mef_call *c, const char *relid);

/* The EST raw route (mef_est.c). */
void mef_est_route(void *ctx, struct srv_exchange *x, const struct srv_raw_request *r);

#endif
