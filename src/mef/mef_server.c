/* mef_server.c: the MEF process's listeners, HTTPS and CoAPS (TS-0003 8.3.5.2.2 MEF Handshake =
 * the (D)TLS handshake), its credential hooks (Kpm by KpmID), the binding-independent request
 * dispatcher and the procedures on MEFBase: retrieve, enrolment (8.3.2.1, 10.3.1, 10.3.4) and
 * fetchCredentials (G5, 10.3.7). */
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/secret.h"
#include "base/timeutil.h"
#include "bind/coap/coap_server.h"
#include "crypto/kdf.h"
#include "mef/mef_internal.h"

/* ---- answer helpers ---- */

void mef_reply(struct mef_call *c, m2m_rsc rsc, int ty, cJSON *root)
{
    c->resp->rsc = rsc;
    c->resp->content_ty = root != NULL ? ty : 0;
    if (root != NULL) {
        c->resp->body = json_print(root);
        c->resp->body_len = c->resp->body ? strlen(c->resp->body) : 0;
        if (c->resp->body == NULL)
            m2m_response_error(c->resp, RSC_INTERNAL_SERVER_ERROR, "out of memory");
        cJSON_Delete(root);
    }
}

static void json_wipe_strings(cJSON *j)
{
    for (; j != NULL; j = j->next) {
        if (j->valuestring != NULL)
            m2m_wipe(j->valuestring, strlen(j->valuestring));
        json_wipe_strings(j->child);
    }
}

#define MEF_SECRET_BODY_MAX 8192 /* a sec:fcr or sec:mkr answer with its key is far smaller */

void mef_reply_secret(struct mef_call *c, m2m_rsc rsc, int ty, cJSON *root)
{
    char *buf = malloc(MEF_SECRET_BODY_MAX);
    c->resp->sensitive = true;
    if (buf != NULL && !cJSON_PrintPreallocated(root, buf, MEF_SECRET_BODY_MAX, 0)) {
        m2m_wipe(buf, MEF_SECRET_BODY_MAX);
        free(buf);
        buf = NULL;
    }
    json_wipe_strings(root);
    cJSON_Delete(root);
    if (buf == NULL)
        return m2m_response_error(c->resp, RSC_INTERNAL_SERVER_ERROR, "out of memory");
    c->resp->rsc = rsc;
    c->resp->content_ty = ty;
    c->resp->body = buf;
    c->resp->body_len = strlen(buf);
}

void mef_fail(struct mef_call *c, m2m_rsc rsc, const char *msg)
{
    m2m_response_error(c->resp, rsc, "%s", msg);
}

m2m_rsc mef_rsc_of(m2m_rc rc)
{
    switch (rc) {
    case M2M_ERR_NOT_FOUND: return RSC_NOT_FOUND;
    case M2M_ERR_EXISTS: return RSC_CONFLICT;
    case M2M_ERR_MALFORMED:
    case M2M_ERR_LIMIT: return RSC_BAD_REQUEST;
    case M2M_ERR_DENIED: return RSC_ORIGINATOR_HAS_NO_PRIVILEGE;
    default: return RSC_INTERNAL_SERVER_ERROR;
    }
}

void mef_hex(const uint8_t *in, size_t n, char *out)
{
    static const char H[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = H[in[i] >> 4];
        out[2 * i + 1] = H[in[i] & 15];
    }
    out[2 * n] = 0;
}

bool mef_clamp_et(int64_t now, bool has, int64_t asked, int64_t max_s, int64_t *et)
{
    if (has && asked <= now)
        return false;
    *et = (!has || asked > now + max_s) ? now + max_s : asked;
    return true;
}

m2m_rc mef_export(struct mef_call *c, const char *label, uint8_t *out, size_t len)
{
    if (c->req->exporter.fn == NULL)
        return M2M_ERR_TLS;
    return c->req->exporter.fn(c->req->exporter.ctx, label, strlen(label), out, len);
}

bool mef_cert_revoked(struct mef_server *m, const struct m2m_secctx *sec)
{
    return sec->kind == M2M_SEC_TLS_CERT && strncmp(sec->cred_id, "cert:", 5) == 0 &&
           mef_store_cert_revoked(m->st, sec->cred_id + 5);
}

bool mef_admin_ok(const struct mef_config *cfg, const char *admin)
{
    if (cfg->n_admin_fqdns == 0)
        return true;
    for (int i = 0; i < cfg->n_admin_fqdns; i++)
        if (strcmp(cfg->admin_fqdns[i], admin) == 0)
            return true;
    return false;
}

static void add_ts(cJSON *o, const char *name, int64_t t)
{
    char ts[MEF_TS_LEN + 1];
    mef_ts_format(t, ts);
    cJSON_AddStringToObject(o, name, ts);
}

/* ---- MEFBase ---- */

static void mefb_retrieve(struct mef_call *c)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *o = cJSON_AddObjectToObject(root, "sec:mefb");
    if (o == NULL) {
        cJSON_Delete(root);
        return mef_fail(c, RSC_INTERNAL_SERVER_ERROR, "out of memory");
    }
    cJSON_AddStringToObject(o, "ri", "mef");
    cJSON_AddStringToObject(o, "rn", "mef");
    cJSON_AddNumberToObject(o, "ty", MEF_TY_BASE);
    cJSON_AddStringToObject(o, "fqdn", c->m->cfg.fqdn);
    cJSON_AddStringToObject(o, "estBaseURI", c->m->est_uri);
    mef_reply(c, RSC_OK, MEF_TY_BASE, root);
}

/* ---- enrolment (TS-0003 8.3.2.1, 10.3.1, 10.3.4, 10.7) ---- */

static cJSON *enr_json(struct mef_call *c, const struct mef_enr *e)
{
    char keid[KDF_KEY_ID_BUF];
    struct mef_target_rule rules[16];
    size_t n = 0;
    cJSON *root = cJSON_CreateObject();
    cJSON *o = cJSON_AddObjectToObject(root, "sec:enr");
    if (o == NULL || mef_store_rules_for(c->m->st, e->enrolee, rules, 16, &n) != M2M_OK) {
        cJSON_Delete(root);
        return NULL;
    }
    snprintf(keid, sizeof keid, "%s@%s", e->relid, c->m->cfg.fqdn);
    cJSON_AddStringToObject(o, "ri", e->relid);
    cJSON_AddStringToObject(o, "rn", e->relid);
    cJSON_AddStringToObject(o, "pi", "mef");
    cJSON_AddNumberToObject(o, "ty", MEF_TY_ENR);
    cJSON_AddStringToObject(o, "keID", keid);
    cJSON_AddStringToObject(o, "enroleeID", e->enrolee);
    add_ts(o, "ct", e->ct);
    add_ts(o, "et", e->et);
    cJSON *t = cJSON_AddArrayToObject(o, "targets");
    for (size_t i = 0; t != NULL && i < n; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "targetID", rules[i].target);
        cJSON_AddStringToObject(r, "fqdn", rules[i].fqdn);
        cJSON_AddNumberToObject(r, "SUID", rules[i].suid);
        cJSON_AddItemToArray(t, r);
    }
    return root;
}

static void enr_create(struct mef_call *c)
{
    struct mef_enr_req rq;
    struct mef_enr e;
    uint8_t ex[KDF_EXPORT_LEN], rel[KDF_EXPORT_ID_LEN];
    memset(&e, 0, sizeof e);
    if (mef_enr_parse(c->req->pc, c->req->pc_len, &rq) != M2M_OK)
        return mef_fail(c, RSC_BAD_REQUEST, "malformed sec:enr");
    /* TS-0003 10.3.1: both ends run the exporter with EXPORTER-oneM2M-Bootstrap, 48 bytes;
     * RelativeKeID is the 16 most significant bytes, Ke the 32 least significant. */
    m2m_rc rc = mef_export(c, KDF_EXPORTER_BOOTSTRAP, ex, sizeof ex);
    if (rc == M2M_OK)
        rc = kdf_export_split(ex, sizeof ex, rel, e.ke);
    m2m_wipe(ex, sizeof ex);
    /* M2M_ERR_TLS / M2M_ERR_DENIED: the session cannot export (a (D)TLS 1.2 association
     * without the extended master secret, RFC 7627): the client's choice, so a refusal rather
     * than 5000 */
    if (rc == M2M_ERR_TLS || rc == M2M_ERR_DENIED)
        return mef_fail(c, RSC_ORIGINATOR_HAS_NO_PRIVILEGE,
                        "no exporter on this session (extended master secret required)");
    if (rc != M2M_OK)
        return mef_fail(c, RSC_INTERNAL_SERVER_ERROR, "exporter failed");
    mef_hex(rel, sizeof rel, e.relid);
    snprintf(e.enrolee, sizeof e.enrolee, "%s", c->client);
    /* recorded so that revoking the Kpm ends what its sessions obtained */
    snprintf(e.cred, sizeof e.cred, "%s", c->req->sec.cred_id);
    e.ct = c->now;
    /* TS-0003 10.7: the Enrolment Expiry is the MEF's; a requested et may only shorten it */
    if (!mef_clamp_et(c->now, rq.et_s != 0, rq.et_s, c->m->cfg.enrolment_expiry_s, &e.et)) {
        m2m_wipe(e.ke, sizeof e.ke);
        return mef_fail(c, RSC_BAD_REQUEST, "et is in the past");
    }
    rc = mef_store_enr_add(c->m->st, &e);
    m2m_wipe(e.ke, sizeof e.ke);
    if (rc == M2M_ERR_LIMIT) /* docs/MEF.md "Limits" */
        return mef_fail(c, RSC_NOT_ACCEPTABLE,
                        "limit reached: mef.max_enrolments_per_client live enrolments");
    if (rc != M2M_OK)
        return mef_fail(c, mef_rsc_of(rc),
                        rc == M2M_ERR_EXISTS ? "this session already enrolled" : "store failure");
    log_info("mef: enrolment %s for %s until %lld", e.relid, e.enrolee, (long long)e.et);
    cJSON *j = enr_json(c, &e);
    if (j == NULL)
        return mef_fail(c, RSC_INTERNAL_SERVER_ERROR, "store failure");
    if (asprintf(&c->resp->content_location, "/mef/%s", e.relid) < 0)
        c->resp->content_location = NULL;
    mef_reply(c, RSC_CREATED, MEF_TY_ENR, j);
}

/* Operations on an existing <enrolment>; only its enrolee may see or end it. */
static void enr_op(struct mef_call *c, struct mef_enr *e)
{
    if (e->deleted || e->et <= c->now)
        return mef_fail(c, RSC_NOT_FOUND, "enrolment ended");
    if (strcmp(e->enrolee, c->client) != 0)
        return mef_fail(c, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "not the enrolee");
    if (c->req->op == M2M_OP_RETRIEVE) {
        cJSON *j = enr_json(c, e);
        return j ? mef_reply(c, RSC_OK, MEF_TY_ENR, j)
                 : mef_fail(c, RSC_INTERNAL_SERVER_ERROR, "store failure");
    }
    if (c->req->op != M2M_OP_DELETE)
        return mef_fail(c, RSC_OPERATION_NOT_ALLOWED, "operation not allowed on <enrolment>");
    m2m_rc rc = mef_store_enr_delete(c->m->st, e->relid);
    if (rc != M2M_OK)
        return mef_fail(c, mef_rsc_of(rc), "cannot delete");
    log_info("mef: enrolment %s deleted by its enrolee", e->relid);
    mef_reply(c, RSC_DELETED, 0, NULL);
}

/* ---- fetchCredentials (G5, TS-0003 8.3.2.1 "Use of Remotely Provisioned Credential") ---- */

static void fcr_fail(struct mef_call *c, m2m_rsc rsc, const char *why)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *o = cJSON_AddObjectToObject(root, "sec:fcr");
    cJSON_AddBoolToObject(o, "status", false);
    cJSON_AddStringToObject(o, "errorString", why);
    mef_reply(c, rsc, 0, root);
}

/* Parses "<KeID>/<SUID>" (peer data): the KeID must be of this MEF. */
static m2m_rc fcr_path(struct mef_call *c, const char *p, char *relid, unsigned *suid)
{
    size_t n = strnlen(p, 512);
    const char *slash = memrchr(p, '/', n);
    const uint8_t *fq;
    size_t fql;
    uint8_t rel[KDF_EXPORT_ID_LEN];
    if (slash == NULL || n >= 512)
        return M2M_ERR_MALFORMED;
    RETURN_IF_ERR(kdf_keid_parse((const uint8_t *)p, (size_t)(slash - p), rel, &fq, &fql));
    if (fql != strlen(c->m->cfg.fqdn) || memcmp(fq, c->m->cfg.fqdn, fql) != 0)
        return M2M_ERR_MALFORMED; /* a KeID of another MEF */
    const char *d = slash + 1;
    size_t dl = n - (size_t)(d - p);
    if (dl == 0 || dl > 3 || (d[0] == '0'))
        return M2M_ERR_MALFORMED;
    *suid = 0;
    for (size_t i = 0; i < dl; i++) {
        if (d[i] < '0' || d[i] > '9')
            return M2M_ERR_MALFORMED;
        *suid = *suid * 10 + (unsigned)(d[i] - '0');
    }
    if (!kdf_suid_valid(*suid))
        return M2M_ERR_MALFORMED;
    mef_hex(rel, sizeof rel, relid);
    return M2M_OK;
}

static void fcr_success(struct mef_call *c, const struct mef_enr *e, const uint8_t *key)
{
    char *b64 = NULL;
    if (mef_b64_encode(key, KDF_KEY_LEN, &b64) != M2M_OK)
        return fcr_fail(c, RSC_INTERNAL_SERVER_ERROR, "out of memory");
    cJSON *root = cJSON_CreateObject();
    cJSON *o = cJSON_AddObjectToObject(root, "sec:fcr");
    cJSON_AddBoolToObject(o, "status", true);
    cJSON_AddStringToObject(o, "credential", b64);
    cJSON_AddStringToObject(o, "enroleeID", e->enrolee);
    /* the derived key never outlives Ke (G3, TS-0003 10.7) */
    cJSON_AddNumberToObject(o, "lifetime", (double)(e->et - c->now));
    add_ts(o, "et", e->et);
    m2m_wipe(b64, strlen(b64));
    free(b64);
    mef_reply_secret(c, RSC_OK, 0, root); /* the body holds the key: wiped wherever copied */
}

static void fetch_credentials(struct mef_call *c, const char *rest)
{
    char relid[MEF_RELID_LEN + 1], tfqdn[MEF_FQDN_MAX + 1];
    unsigned suid = 0;
    struct mef_enr e;
    uint8_t key[KDF_KEY_LEN];
    if (c->req->op != M2M_OP_RETRIEVE)
        return fcr_fail(c, RSC_OPERATION_NOT_ALLOWED, "fetchCredentials is a RETRIEVE");
    if (fcr_path(c, rest, relid, &suid) != M2M_OK)
        return fcr_fail(c, RSC_BAD_REQUEST, "malformed KeID or SUID");
    m2m_rc rc = mef_store_enr_get(c->m->st, relid, &e);
    if (rc != M2M_OK || e.deleted || e.et <= c->now) {
        m2m_wipe(&e, sizeof e);
        return fcr_fail(c, rc == M2M_OK || rc == M2M_ERR_NOT_FOUND ? RSC_NOT_FOUND : mef_rsc_of(rc),
                        "unknown or ended enrolment");
    }
    /* G5 step 4: the requester must be a registered target allowed for this enrolee and SUID */
    if (mef_store_target_get(c->m->st, c->client, tfqdn, sizeof tfqdn) != M2M_OK ||
        !mef_store_allowed(c->m->st, e.enrolee, c->client, suid)) {
        m2m_wipe(&e, sizeof e);
        log_info("mef: fetchCredentials for %s by %s SUID %u refused", relid, c->client, suid);
        return fcr_fail(c, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "not allowed");
    }
    /* TS-0003 10.3.7: HMAC-SHA-256(Ke, label || SUID || Enrolment-Target-FQDN) */
    rc = kdf_usage_key(e.ke, sizeof e.ke, suid, (const uint8_t *)tfqdn, strlen(tfqdn), key);
    m2m_wipe(e.ke, sizeof e.ke);
    if (rc != M2M_OK)
        fcr_fail(c, RSC_INTERNAL_SERVER_ERROR, "derivation failed");
    else
        fcr_success(c, &e, key);
    m2m_wipe(key, sizeof key);
    log_info("mef: fetchCredentials %s SUID %u by %s: %d", relid, suid, c->client, c->resp->rsc);
}

/* ---- dispatch ---- */

static void base_op(struct mef_call *c)
{
    if (c->req->op == M2M_OP_RETRIEVE)
        return mefb_retrieve(c);
    if (c->req->op != M2M_OP_CREATE)
        return mef_fail(c, RSC_OPERATION_NOT_ALLOWED, "operation not allowed on <MEFBase>");
    switch (c->req->ty) {
    case MEF_TY_ENR: return enr_create(c);
    case MEF_TY_MCR: return mef_mcr_create(c);
    case MEF_TY_MKR: return mef_mkr_create(c);
    default: return mef_fail(c, RSC_BAD_REQUEST, "unsupported resource type");
    }
}

static bool is_hex32(const char *s, size_t n)
{
    if (n != MEF_RELID_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return true;
}

/* A resource below MEFBase: "<rn>" or "<rn>/cmd" (structured or unstructured, same rn). */
static void resource_op(struct mef_call *c, const char *rest)
{
    size_t n = strnlen(rest, MEF_ID_MAX + 1);
    const char *slash = memchr(rest, '/', n);
    char id[MEF_ID_MAX + 1];
    if (n > MEF_ID_MAX)
        return mef_fail(c, RSC_NOT_FOUND, "no such resource");
    size_t idl = slash ? (size_t)(slash - rest) : n;
    snprintf(id, sizeof id, "%.*s", (int)idl, rest);
    if (slash != NULL) {
        if (strcmp(slash, "/cmd") == 0 && strncmp(id, "mcr", 3) == 0)
            return mef_mcc_op(c, id);
        return mef_fail(c, RSC_NOT_FOUND, "no such resource");
    }
    if (strncmp(id, "mcr", 3) == 0 && idl == MEF_REGID_LEN)
        return mef_mcr_op(c, id);
    if (!is_hex32(id, idl))
        return mef_fail(c, RSC_NOT_FOUND, "no such resource");
    struct mef_enr e;
    m2m_rc rc = mef_store_enr_get(c->m->st, id, &e);
    if (rc == M2M_OK)
        enr_op(c, &e);
    else if (rc == M2M_ERR_NOT_FOUND)
        mef_mkr_op(c, id);
    else
        mef_fail(c, RSC_INTERNAL_SERVER_ERROR, "store failure");
    m2m_wipe(&e, sizeof e);
}

static void route(struct mef_call *c)
{
    const char *to = c->req->to ? c->req->to : "";
    if (strcmp(to, "mef") == 0)
        return base_op(c);
    if (strncmp(to, "fetchCredentials/", 17) == 0)
        return fetch_credentials(c, to + 17);
    if (strncmp(to, "mef/", 4) == 0)
        to += 4;
    resource_op(c, to);
}

/* The Mmef request handler, the same for every binding, on the binding's thread (the exporter
 * of req works only there): checks the client credential and From, routes, answers through
 * reply before returning. */
static void mef_serve(struct mef_server *m, struct m2m_request *req, struct m2m_reply reply)
{
    struct m2m_response resp;
    struct mef_call c = {m, req, &resp, req->sec.identity, m2m_now_us() / 1000000};
    m2m_response_init(&resp);
    resp.rqi = req->rqi ? strdup(req->rqi) : NULL;
    resp.rvi = req->rvi ? strdup(req->rvi) : NULL;
    if ((req->sec.kind != M2M_SEC_TLS_PSK && req->sec.kind != M2M_SEC_TLS_CERT) ||
        req->sec.identity[0] == 0)
        mef_fail(&c, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "no client credential");
    else if (mef_cert_revoked(m, &req->sec))
        mef_fail(&c, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "certificate revoked");
    else if (req->fr == NULL || strcmp(req->fr, req->sec.identity) != 0)
        mef_fail(&c, RSC_ORIGINATOR_NOT_AUTHENTICATED, "From is not the authenticated client");
    else if (req->pc_len > c.m->cfg.max_body)
        mef_fail(&c, RSC_BAD_REQUEST, "body too large");
    else
        route(&c);
    reply.fn(reply.ctx, &resp);
    m2m_response_clear(&resp); /* what reply.fn did not take over */
}

/* ---- the bindings ---- */

static m2m_rc http_export(void *ctx, const char *label, size_t label_len, uint8_t *out, size_t len)
{
    return srv_tls_export(ctx, label, label_len, NULL, 0, out, len);
}

static void http_reply(void *ctx, struct m2m_response *resp)
{
    srv_respond(ctx, resp);
}

/* HTTPS (TS-0009): on the loop thread of the connection; x and req live until srv_respond. */
static void mef_handle_http(void *ctx, struct srv_exchange *x, struct m2m_request *req)
{
    req->exporter.fn = http_export;
    req->exporter.ctx = x;
    mef_serve(ctx, req, (struct m2m_reply){http_reply, x});
}

/* CoAPS (TS-0008): on the libcoap thread, which set req->exporter for the DTLS association. */
static void mef_handle_coap(void *ctx, struct m2m_request *req, struct m2m_reply reply)
{
    mef_serve(ctx, req, reply);
}

/* ---- credential hooks: Kpm by KpmID (TS-0003 8.3.2.1, Credential-ID type 10) ---- */

static m2m_rc hook_psk(void *ctx, const char *id, size_t idlen, uint8_t *key, size_t *keylen,
                       struct m2m_secctx *b)
{
    struct mef_server *m = ctx;
    RETURN_IF_ERR(
        mef_store_kpm_get(m->st, id, idlen, key, keylen, b->identity, sizeof b->identity));
    snprintf(b->cred_id, sizeof b->cred_id, "10-%.*s", (int)idlen, id);
    b->n_bound = 0;
    return M2M_OK;
}

static uint64_t hook_generation(void *ctx)
{
    return mef_store_generation(((struct mef_server *)ctx)->st);
}

static bool hook_revoked(void *ctx, const char *cred_id)
{
    struct mef_server *m = ctx;
    if (strncmp(cred_id, "cert:", 5) == 0) /* a certificate this MEF issued and revoked */
        return mef_store_cert_revoked(m->st, cred_id + 5);
    return strncmp(cred_id, "10-", 3) == 0 && mef_store_kpm_revoked(m->st, cred_id + 3);
}

/* ---- start / stop ---- */

/* The trust anchors for client certificates: the MEF CA always, plus mef.client_ca
 * (docs/MEF.md "Transport"), concatenated into DIR/client-trust.pem. */
static m2m_rc write_trust(const struct mef_config *cfg, char *out, size_t cap)
{
    m2m_rc rc = M2M_OK;
    const char *src[2] = {NULL, cfg->client_ca[0] ? cfg->client_ca : NULL};
    char ca[600];
    FILE *o = NULL;
    snprintf(ca, sizeof ca, "%s/ca.pem", cfg->data_dir);
    src[0] = ca;
    ENSURE(snprintf(out, cap, "%s/client-trust.pem", cfg->data_dir) < (int)cap, M2M_ERR_LIMIT);
    o = fopen(out, "w");
    ENSURE(o != NULL, M2M_ERR_IO);
    for (int i = 0; i < 2; i++) {
        if (src[i] == NULL)
            continue;
        FILE *f = fopen(src[i], "r");
        ENSURE(f != NULL, M2M_ERR_CONFIG);
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            fwrite(buf, 1, n, o);
        fclose(f);
        fputc('\n', o);
    }
    ENSURE(fflush(o) == 0, M2M_ERR_IO);
out:
    if (o != NULL)
        fclose(o);
    return rc;
}

static m2m_rc srv_setup(struct mef_server *m, struct srv_cfg *sc)
{
    const struct mef_config *cfg = &m->cfg;
    srv_cfg_default(sc);
    sc->n_listeners = 1;
    snprintf(sc->listeners[0].addr, sizeof sc->listeners[0].addr, "%s", cfg->listen_addr);
    sc->listeners[0].port = cfg->listen_port;
    sc->listeners[0].tls = true;
    sc->threads = cfg->threads;
    sc->max_connections = cfg->max_connections;
    sc->http.max_body = cfg->max_body;
    snprintf(sc->tls.cert_file, sizeof sc->tls.cert_file, "%s/server.pem", cfg->data_dir);
    snprintf(sc->tls.key_file, sizeof sc->tls.key_file, "%s/server.key", cfg->data_dir);
    RETURN_IF_ERR(write_trust(cfg, sc->tls.ca_file, sizeof sc->tls.ca_file));
    sc->tls.require_client_cert = false; /* PSK clients have none; 4103 answers them */
    snprintf(sc->tls.server_names, sizeof sc->tls.server_names, "%s,localhost", cfg->fqdn);
    sc->tls.creds.ctx = m;
    sc->tls.creds.psk_lookup = hook_psk;
    sc->tls.creds.generation = hook_generation;
    sc->tls.creds.is_revoked = hook_revoked;
    snprintf(sc->raw_prefix, sizeof sc->raw_prefix, "/.well-known/est/");
    sc->raw_fn = mef_est_route;
    sc->raw_ctx = m;
    return M2M_OK;
}

/* The CoAPS listener (TS-0008 over DTLS 1.2): the same Kpm hooks and certificates as HTTPS,
 * no plain CoAP endpoint (a request without an authenticated client is refused anyway, so none
 * is offered). libcoap's GnuTLS priorities include the mandatory TLS_PSK_WITH_AES_128_CCM_8 of
 * TS-0003 10.2.2. */
static m2m_rc coaps_start(struct mef_server *m, const char *trust_file)
{
    const struct mef_config *cfg = &m->cfg;
    struct coap_server_cfg cc;
    m->coaps_port = -1;
    if (cfg->coaps_port < 0)
        return M2M_OK;
    coap_server_cfg_default(&cc);
    cc.port = -1;
    snprintf(cc.saddr, sizeof cc.saddr, "%s", cfg->coaps_addr);
    cc.sport = cfg->coaps_port;
    cc.max_body = cfg->max_body;
    cc.max_idle_sessions = cfg->max_connections;
    cc.max_handshakes = cfg->max_connections < 256 ? cfg->max_connections : 256;
    snprintf(cc.cert_file, sizeof cc.cert_file, "%s/server.pem", cfg->data_dir);
    snprintf(cc.key_file, sizeof cc.key_file, "%s/server.key", cfg->data_dir);
    snprintf(cc.ca_file, sizeof cc.ca_file, "%s", trust_file);
    cc.hooks.ctx = m;
    cc.hooks.psk_lookup = hook_psk;
    cc.hooks.generation = hook_generation;
    cc.hooks.is_revoked = hook_revoked;
    RETURN_IF_ERR(coap_server_start(&cc, mef_handle_coap, m, &m->coap));
    m->coaps_port = coap_server_port(m->coap, true);
    return M2M_OK;
}

m2m_rc mef_server_start(const struct mef_config *cfg, struct mef_server **out)
{
    m2m_rc rc = M2M_OK;
    char path[600], key[600];
    struct srv_cfg *sc = calloc(1, sizeof *sc);
    struct mef_server *m = calloc(1, sizeof *m);
    *out = NULL;
    ENSURE(m != NULL && sc != NULL, M2M_ERR_NOMEM);
    m->cfg = *cfg;
    snprintf(path, sizeof path, "%s/mef.db", cfg->data_dir);
    ENSURE(access(path, F_OK) == 0, M2M_ERR_CONFIG); /* `m2msec mef init` first */
    TRY(mef_store_open(path, &m->st));
    mef_store_set_limits(m->st, &cfg->limits);
    snprintf(path, sizeof path, "%s/ca.pem", cfg->data_dir);
    snprintf(key, sizeof key, "%s/ca.key", cfg->data_dir);
    TRY(est_ca_load(path, key, &m->ca));
    TRY(srv_setup(m, sc));
    TRY(srv_start(sc, mef_handle_http, m, &m->srv));
    m->port = srv_bound_port(m->srv, 0);
    snprintf(m->est_uri, sizeof m->est_uri, "https://%s:%d/.well-known/est", cfg->fqdn, m->port);
    TRY(coaps_start(m, sc->tls.ca_file));
    *out = m;
    m = NULL;
out:
    free(sc);
    mef_server_stop(m);
    return rc;
}

int mef_server_port(const struct mef_server *m)
{
    return m->port;
}

int mef_server_coaps_port(const struct mef_server *m)
{
    return m->coaps_port;
}

void mef_server_stop(struct mef_server *m)
{
    if (m == NULL)
        return;
    coap_server_stop(m->coap); /* waits for its requests in flight, which use the store */
    srv_stop(m->srv);
    est_ca_free(m->ca);
    mef_store_close(m->st);
    free(m);
}
