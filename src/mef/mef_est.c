/* mef_est.c: the EST routes of the MEF listener (RFC 7030 over the Mmef TLS session; TS-0003
 * 8.3.6.2, SPEC-MAP G7): the TLS session is the client authentication, the identity the CSR may
 * name comes from the store (CERT_PROV commands) and the session, the checks and the issuing
 * are src/mef/est.c's; /serverkeygen answers with a key generated here (RFC 7030 4.4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/secret.h"
#include "base/timeutil.h"
#include "mef/mef_internal.h"

#define EST_B64 "Content-Transfer-Encoding: base64\r\n"

static void est_text(struct srv_exchange *x, int status, const char *msg)
{
    srv_respond_raw(x, status, "text/plain", NULL, (const uint8_t *)msg, strlen(msg));
}

static void est_buf(struct srv_exchange *x, const char *ctype, struct m2m_buf *b)
{
    srv_respond_raw(x, 200, ctype, EST_B64, b->data, b->len);
}

/* 8.3.6.2.2 step 3.c: the identity the CSR names (its SAN URI, read here only to choose; est.c
 * checks the CSR fully) is allowed when it is the client's own or the certSubjectID of a
 * CERT_PROV command issued to it and not yet reported. Into id: that SAN when allowed, else the
 * client's identity (est_enroll then refuses a CSR naming anything else). */
static void allowed_id(struct mef_server *m, const char *client, const struct srv_raw_request *r,
                       char *id)
{
    char san[MEF_ID_MAX + 1], ch[EST_ID_MAX];
    size_t n = 0;
    uint8_t *der = malloc(r->body_len + 1);
    snprintf(id, MEF_ID_MAX + 1, "%s", client);
    if (der != NULL && est_b64_decode(r->body, r->body_len, der, r->body_len + 1, &n) == M2M_OK &&
        est_csr_check_der(der, n, san, sizeof san, ch, sizeof ch) == M2M_OK &&
        (strcmp(san, client) == 0 || mef_store_cert_subject_ok(m->st, client, san) == M2M_OK))
        snprintf(id, MEF_ID_MAX + 1, "%s", san);
    m2m_wipe(ch, sizeof ch);
    free(der);
}

/* For /simplereenroll the client must hold a certificate this MEF issued: its fingerprint is
 * in the cert table, and the SAN it names is the only identity the new CSR may carry. The
 * transport gives the handler the certificate's SHA-256 (cred_id "cert:<hex>"), not its DER,
 * so the check "issued by this CA, same SAN" runs against our issuance records. */
static bool reenroll_san(struct mef_server *m, const struct m2m_secctx *sec, char *san)
{
    if (sec->kind != M2M_SEC_TLS_CERT || strncmp(sec->cred_id, "cert:", 5) != 0)
        return false;
    return mef_store_cert_san(m->st, sec->cred_id + 5, san, MEF_ID_MAX + 1) == M2M_OK;
}

enum est_op { EST_OP_ENROLL, EST_OP_REENROLL, EST_OP_KEYGEN };

/* Answers a successful enrolment: the certs-only PKCS#7, or for /serverkeygen the multipart
 * body with the new private key (RFC 7030 4.4.2), which is wiped once the transport has taken
 * its copy; the key is never logged nor stored. */
static void est_send(struct srv_exchange *x, enum est_op op, const char *ctype, struct m2m_buf *out)
{
    if (op != EST_OP_KEYGEN)
        return srv_respond_raw(x, 200, "application/pkcs7-mime; smime-type=certs-only", EST_B64,
                               out->data, out->len);
    srv_mark_sensitive(x); /* the transport wipes its copies of the key too */
    srv_respond_raw(x, 200, ctype, NULL, out->data, out->len);
    m2m_wipe(out->data, out->cap);
}

static void est_enroll_route(struct mef_server *m, struct srv_exchange *x,
                             const struct srv_raw_request *r, enum est_op op)
{
    bool re = op == EST_OP_REENROLL;
    char ctype[EST_CTYPE_MAX] = "";
    char id[MEF_ID_MAX + 1];
    const char *idp[1] = {id};
    uint8_t cb[EST_CB_LEN];
    struct m2m_buf out = M2M_BUF_INIT;
    struct est_result res;
    int64_t now = m2m_now_us() / 1000000;
    if (re && !reenroll_san(m, &r->sec, id))
        return est_text(x, 403, "re-enrolment needs a certificate this MEF issued\n");
    if (!re)
        allowed_id(m, r->sec.identity, r, id);
    /* docs/MEF.md "Limits": mef.max_certs_per_day per client identity */
    m2m_rc qrc = mef_store_cert_quota(m->st, r->sec.identity, now);
    if (qrc == M2M_ERR_LIMIT)
        return est_text(x, 403, "limit reached: mef.max_certs_per_day certificates issued\n");
    if (qrc != M2M_OK)
        return est_text(x, 500, "store failure\n");
    /* RFC 9266 tls-exporter channel binding, carried in challengePassword ([INTERP] MEF.md) */
    m2m_rc cbrc = srv_tls_export(x, EST_CB_LABEL, strlen(EST_CB_LABEL), NULL, 0, cb, sizeof cb);
    if (cbrc == M2M_ERR_DENIED) /* TLS 1.2 without the extended master secret (RFC 9266 3) */
        return est_text(x, 403, "channel binding needs the extended master secret\n");
    if (cbrc != M2M_OK)
        return est_text(x, 500, "channel binding unavailable\n");
    struct est_enroll_req q = {.body = r->body,
                               .body_len = r->body_len,
                               .allowed_ids = idp,
                               .n_allowed = 1,
                               .cb = cb,
                               .cb_len = sizeof cb,
                               .days = m->cfg.cert_days,
                               .now_s = now};
    m2m_rc rc = op == EST_OP_KEYGEN ? est_serverkeygen(m->ca, &q, &out, ctype, sizeof ctype, &res)
                                    : est_enroll(m->ca, &q, &out, &res);
    m2m_wipe(cb, sizeof cb);
    if (rc == M2M_OK && mef_store_cert_add(m->st, res.serial_hex, res.san, res.fingerprint,
                                           r->sec.identity) != M2M_OK)
        rc = M2M_ERR_IO;
    if (rc == M2M_OK) {
        log_info("mef: EST issued %s to %s (serial %s%s)", res.san, r->sec.identity, res.serial_hex,
                 op == EST_OP_KEYGEN ? ", server-generated key" : "");
        est_send(x, op, ctype, &out);
    } else {
        log_info("mef: EST refused for %s: %s", r->sec.identity, res.error);
        est_text(x, rc == M2M_ERR_IO ? 500 : (res.http_status ? res.http_status : 500),
                 res.error[0] ? res.error : "enrolment failed");
    }
    if (out.data) /* a failed store write leaves a generated key here */
        m2m_wipe(out.data, out.cap);
    m2m_buf_free(&out);
}

void mef_est_route(void *ctx, struct srv_exchange *x, const struct srv_raw_request *r)
{
    struct mef_server *m = ctx;
    const char *op = r->path + strlen("/.well-known/est/");
    struct m2m_buf out = M2M_BUF_INIT;
    bool get = strcmp(r->method, "GET") == 0, post = strcmp(r->method, "POST") == 0;
    /* 8.3.6.2.1 note 3: the TLS session authenticates the client; never HTTP authentication */
    if (r->sec.kind != M2M_SEC_TLS_PSK && r->sec.kind != M2M_SEC_TLS_CERT)
        return est_text(x, 403, "client authentication required\n");
    if (mef_cert_revoked(m, &r->sec))
        return est_text(x, 403, "certificate revoked\n");
    if (get && strcmp(op, "cacerts") == 0) {
        if (est_cacerts(m->ca, &out) == M2M_OK)
            est_buf(x, "application/pkcs7-mime", &out);
        else
            est_text(x, 500, "cacerts failed\n");
    } else if (get && strcmp(op, "csrattrs") == 0) {
        char id[MEF_ID_MAX + 1];
        /* the identity the client must request: the latest CERT_PROV subject, else itself */
        if (mef_store_cert_subject_latest(m->st, r->sec.identity, id, sizeof id) != M2M_OK)
            snprintf(id, sizeof id, "%s", r->sec.identity);
        m2m_rc rc = est_csrattrs(id, &out);
        if (rc == M2M_OK)
            est_buf(x, "application/csrattrs", &out);
        else if (rc == M2M_ERR_MALFORMED) /* not a CSE-ID, AE-ID or URN: nothing to certify */
            est_text(x, 403, "no certifiable identity for this client\n");
        else
            est_text(x, 500, "csrattrs failed\n");
    } else if (post && strcmp(op, "simpleenroll") == 0) {
        est_enroll_route(m, x, r, EST_OP_ENROLL);
    } else if (post && strcmp(op, "simplereenroll") == 0) {
        est_enroll_route(m, x, r, EST_OP_REENROLL);
    } else if (post && strcmp(op, "serverkeygen") == 0) {
        /* TS-0003 8.3.6.2.1: the MEF supports server-side key generation (RFC 7030 4.4) */
        est_enroll_route(m, x, r, EST_OP_KEYGEN);
    } else {
        est_text(x, 404, "unknown EST operation\n");
    }
    m2m_buf_free(&out);
}
