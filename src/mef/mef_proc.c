/* mef_proc.c: the MEF Client Registration (TS-0003 8.3.5.2.3-8.3.5.2.6), MEF Client Command
 * (8.3.9) and Key Registration (8.3.5.2.7-8.3.5.2.10) procedures of docs/MEF.md. */
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/secret.h"
#include "crypto/kdf.h"
#include "mef/mef_internal.h"

static void add_ts(cJSON *o, const char *name, int64_t t)
{
    char ts[MEF_TS_LEN + 1];
    mef_ts_format(t, ts);
    cJSON_AddStringToObject(o, name, ts);
}

static void add_list(cJSON *o, const char *name, const struct mef_strlist *l)
{
    cJSON *a = cJSON_AddArrayToObject(o, name);
    for (size_t i = 0; a != NULL && i < l->n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(l->v[i]));
}

/* {"<root>":{}} with *o the inner object; NULL on allocation failure. */
static cJSON *new_root(const char *root, cJSON **o)
{
    cJSON *r = cJSON_CreateObject();
    *o = cJSON_AddObjectToObject(r, root);
    if (*o == NULL) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

static void set_location(struct mef_call *c, const char *rn)
{
    if (asprintf(&c->resp->content_location, "/mef/%s", rn) < 0)
        c->resp->content_location = NULL;
}

/* ---- MEF Client Registration ---- */

static cJSON *mcr_json(const struct mef_mcr *r)
{
    cJSON *o, *root = new_root("sec:mcr", &o);
    if (root == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "ri", r->id);
    cJSON_AddStringToObject(o, "rn", r->id);
    cJSON_AddStringToObject(o, "pi", "mef");
    cJSON_AddNumberToObject(o, "ty", MEF_TY_MCR);
    cJSON_AddStringToObject(o, "fqdn", r->fqdn);
    cJSON_AddStringToObject(o, "adminFQDN", r->admin);
    add_ts(o, "et", r->et);
    if (r->lbl.n > 0)
        add_list(o, "lbl", &r->lbl);
    cJSON_AddStringToObject(o, "mefClientID", r->client);
    add_ts(o, "ct", r->ct);
    return root;
}

void mef_mcr_create(struct mef_call *c)
{
    struct mef_mcr_req rq;
    struct mef_mcr r;
    uint8_t rnd[8];
    memset(&r, 0, sizeof r);
    if (mef_mcr_parse(c->req->pc, c->req->pc_len, MEF_PARSE_CREATE, &rq) != M2M_OK)
        return mef_fail(c, RSC_BAD_REQUEST, "malformed sec:mcr");
    if (strcmp(rq.fqdn, c->m->cfg.fqdn) != 0) {
        mef_mcr_req_clear(&rq);
        return mef_fail(c, RSC_BAD_REQUEST, "fqdn is not this MEF");
    }
    if (!mef_admin_ok(&c->m->cfg, rq.admin)) {
        mef_mcr_req_clear(&rq);
        return mef_fail(c, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "adminFQDN not served here");
    }
    /* TS-0003 8.3.5.2.3: the MEF may override the proposed expirationTime */
    if (!mef_clamp_et(c->now, rq.has_et, rq.et_s, c->m->cfg.registration_max_s, &r.et)) {
        mef_mcr_req_clear(&rq);
        return mef_fail(c, RSC_BAD_REQUEST, "et is in the past");
    }
    if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof rnd) < 0) {
        mef_mcr_req_clear(&rq);
        return mef_fail(c, RSC_INTERNAL_SERVER_ERROR, "no randomness");
    }
    memcpy(r.id, "mcr", 3);
    mef_hex(rnd, sizeof rnd, r.id + 3);
    snprintf(r.client, sizeof r.client, "%s", c->client);
    memcpy(r.fqdn, rq.fqdn, sizeof r.fqdn);
    memcpy(r.admin, rq.admin, sizeof r.admin);
    r.ct = c->now;
    r.lbl = rq.lbl; /* moved */
    m2m_rc rc = mef_store_mcr_add(c->m->st, &r);
    if (rc == M2M_ERR_LIMIT) /* docs/MEF.md "Limits" */
        mef_fail(c, RSC_NOT_ACCEPTABLE,
                 "limit reached: mef.max_registrations_per_client live registrations");
    else if (rc != M2M_OK)
        mef_fail(c, mef_rsc_of(rc),
                 rc == M2M_ERR_EXISTS ? "already registered for this adminFQDN" : "store failure");
    else {
        set_location(c, r.id);
        mef_reply(c, RSC_CREATED, MEF_TY_MCR, mcr_json(&r));
        log_info("mef: client %s registered as %s", r.client, r.id);
    }
    mef_strlist_clear(&r.lbl);
}

/* Looks the registration up for its owner: 4004 unknown or expired, 4103 another client. */
static bool mcr_owned(struct mef_call *c, const char *id, struct mef_mcr *r)
{
    m2m_rc rc = mef_store_mcr_get(c->m->st, id, r);
    if (rc == M2M_OK && r->et <= c->now)
        rc = M2M_ERR_NOT_FOUND;
    if (rc != M2M_OK) {
        mef_strlist_clear(&r->lbl);
        mef_fail(c, mef_rsc_of(rc), "no such registration");
        return false;
    }
    if (strcmp(r->client, c->client) != 0) {
        mef_strlist_clear(&r->lbl);
        mef_fail(c, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "not the registering client");
        return false;
    }
    return true;
}

static void mcr_update(struct mef_call *c, const char *id)
{
    struct mef_mcr_req rq;
    int64_t et = 0;
    if (mef_mcr_parse(c->req->pc, c->req->pc_len, MEF_PARSE_UPDATE, &rq) != M2M_OK)
        return mef_fail(c, RSC_BAD_REQUEST, "malformed sec:mcr update");
    if (rq.has_et && !mef_clamp_et(c->now, true, rq.et_s, c->m->cfg.registration_max_s, &et)) {
        mef_mcr_req_clear(&rq);
        return mef_fail(c, RSC_BAD_REQUEST, "et is in the past");
    }
    m2m_rc rc =
        mef_store_mcr_update(c->m->st, id, rq.has_et ? &et : NULL, rq.has_lbl ? &rq.lbl : NULL);
    cJSON *o, *root = rc == M2M_OK ? new_root("sec:mcr", &o) : NULL;
    if (root != NULL) {
        /* TS-0003 8.3.5.2.5: the answer echoes the changed values only */
        if (rq.has_et)
            add_ts(o, "et", et);
        if (rq.has_lbl)
            add_list(o, "lbl", &rq.lbl);
        mef_reply(c, RSC_UPDATED, MEF_TY_MCR, root);
    } else {
        mef_fail(c, mef_rsc_of(rc == M2M_OK ? M2M_ERR_NOMEM : rc), "update failed");
    }
    mef_mcr_req_clear(&rq);
}

void mef_mcr_op(struct mef_call *c, const char *id)
{
    struct mef_mcr r;
    if (!mcr_owned(c, id, &r))
        return;
    switch (c->req->op) {
    case M2M_OP_RETRIEVE: mef_reply(c, RSC_OK, MEF_TY_MCR, mcr_json(&r)); break;
    case M2M_OP_UPDATE: mcr_update(c, id); break;
    case M2M_OP_DELETE: {
        m2m_rc rc = mef_store_mcr_delete(c->m->st, id);
        if (rc == M2M_OK)
            mef_reply(c, RSC_DELETED, 0, NULL);
        else
            mef_fail(c, mef_rsc_of(rc), "delete failed");
        break;
    }
    default: mef_fail(c, RSC_OPERATION_NOT_ALLOWED, "operation not allowed on <mefClientReg>");
    }
    mef_strlist_clear(&r.lbl);
}

/* ---- MEF Client Commands (8.3.9) ---- */

/* The current command of the client, or a new NO_MORE_COMMANDS when none is pending. */
static void mcc_answer(struct mef_call *c, m2m_rsc rsc)
{
    int64_t id = 0;
    int status = MEF_CMD_ISSUED;
    char *desc = NULL, sid[24];
    cJSON *d = NULL, *o, *root = NULL;
    m2m_rc rc = mef_store_cmd_current(c->m->st, c->client, &id, &status, &desc);
    if (rc == M2M_ERR_NOT_FOUND) {
        struct mef_cmd_args a = {.cls = MEF_CMD_NO_MORE, .retry = c->m->cfg.retry_duration};
        rc = mef_cmd_desc_build(&a, &desc);
        if (rc == M2M_OK)
            rc = mef_store_cmd_add(c->m->st, c->client, MEF_CMD_NO_MORE, desc, &id);
    }
    if (rc == M2M_OK &&
        json_parse((const uint8_t *)desc, strlen(desc), MEF_JSON_DEPTH, &d) == M2M_OK)
        root = new_root("sec:mcc", &o);
    if (root == NULL) {
        cJSON_Delete(d);
        free(desc);
        return mef_fail(c, RSC_INTERNAL_SERVER_ERROR, "store failure");
    }
    snprintf(sid, sizeof sid, "%lld", (long long)id);
    cJSON_AddStringToObject(o, "cmdID", sid);
    cJSON_AddNumberToObject(o, "cmdStatusCode", status);
    cJSON_AddItemToObject(o, "cmdDescription", d);
    free(desc);
    mef_reply(c, rsc, MEF_TY_MCC, root);
}

void mef_mcc_op(struct mef_call *c, const char *regid)
{
    struct mef_mcr r;
    struct mef_mcc_req rq;
    if (!mcr_owned(c, regid, &r))
        return;
    mef_strlist_clear(&r.lbl);
    if (c->req->op == M2M_OP_RETRIEVE)
        return mcc_answer(c, RSC_OK);
    if (c->req->op != M2M_OP_UPDATE)
        return mef_fail(c, RSC_OPERATION_NOT_ALLOWED, "operation not allowed on <mefClientCmd>");
    /* TS-0003 8.3.9.3: an update that does not parse is BAD_REQUEST */
    if (mef_mcc_parse(c->req->pc, c->req->pc_len, &rq) != M2M_OK)
        return mef_fail(c, RSC_BAD_REQUEST, "malformed sec:mcc");
    char *end = NULL;
    long long id = strtoll(rq.cmd_id, &end, 10);
    /* an unknown cmdID: the status is discarded and the next command returned */
    if (end != NULL && *end == 0 &&
        mef_store_cmd_report(c->m->st, c->client, id, rq.status) == M2M_OK)
        log_info("mef: command %lld of %s reported %d", id, c->client, rq.status);
    mcc_answer(c, RSC_UPDATED);
}

/* ---- Key Registration (8.3.5.2.7-8.3.5.2.10) ---- */

static cJSON *mkr_json(struct mef_call *c, const struct mef_mkr *k, bool with_key)
{
    char kid[KDF_KEY_ID_BUF], *b64 = NULL;
    cJSON *o, *root = new_root("sec:mkr", &o);
    if (root == NULL)
        return NULL;
    snprintf(kid, sizeof kid, "%s@%s", k->relid, c->m->cfg.fqdn);
    cJSON_AddStringToObject(o, "ri", k->relid);
    cJSON_AddStringToObject(o, "rn", k->relid);
    cJSON_AddStringToObject(o, "pi", "mef");
    cJSON_AddNumberToObject(o, "ty", MEF_TY_MKR);
    cJSON_AddStringToObject(o, "keyID", kid);
    cJSON_AddStringToObject(o, "sourceID", k->source);
    cJSON_AddNumberToObject(o, "SUID", k->suid);
    cJSON_AddStringToObject(o, "adminFQDN", k->admin);
    add_list(o, "targetIDs", &k->targets);
    add_ts(o, "et", k->et);
    if (k->lbl.n > 0)
        add_list(o, "lbl", &k->lbl);
    if (with_key && mef_b64_encode(k->key, k->key_len, &b64) == M2M_OK) {
        cJSON_AddStringToObject(o, "keyValue", b64);
        m2m_wipe(b64, strlen(b64));
        free(b64);
    }
    return root;
}

/* The key and RelativeKeyID: supplied keyValue with a random ID, or both from the exporter
 * (EXPORTER-oneM2M-Connection, [INTERP] docs/MEF.md). */
static m2m_rc mkr_key(struct mef_call *c, struct mef_mkr_req *rq, struct mef_mkr *k)
{
    uint8_t ex[KDF_EXPORT_LEN], rel[KDF_EXPORT_ID_LEN] = {0};
    m2m_rc rc = M2M_OK;
    if (rq->has_key) {
        memcpy(k->key, rq->key, rq->key_len);
        k->key_len = rq->key_len;
        if (gnutls_rnd(GNUTLS_RND_NONCE, rel, sizeof rel) < 0)
            return M2M_ERR_INTERNAL;
    } else {
        rc = mef_export(c, KDF_EXPORTER_CONNECTION, ex, sizeof ex);
        if (rc == M2M_OK)
            rc = kdf_export_split(ex, sizeof ex, rel, k->key);
        k->key_len = KDF_KEY_LEN;
        m2m_wipe(ex, sizeof ex);
    }
    if (rc == M2M_OK)
        mef_hex(rel, sizeof rel, k->relid);
    /* M2M_ERR_TLS / M2M_ERR_DENIED (no exporter: TLS 1.2 without the extended master secret)
     * pass through so that the caller refuses as enr_create does */
    return rc == M2M_OK || rc == M2M_ERR_TLS || rc == M2M_ERR_DENIED ? rc : M2M_ERR_INTERNAL;
}

static void mkr_create2(struct mef_call *c, struct mef_mkr_req *rq, struct mef_mkr *k)
{
    if (strcmp(rq->fqdn, c->m->cfg.fqdn) != 0)
        return mef_fail(c, RSC_BAD_REQUEST, "fqdn is not this MEF");
    if (!mef_admin_ok(&c->m->cfg, rq->admin))
        return mef_fail(c, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "adminFQDN not served here");
    if (!mef_clamp_et(c->now, rq->has_et, rq->et_s, c->m->cfg.registration_max_s, &k->et))
        return mef_fail(c, RSC_BAD_REQUEST, "et is in the past");
    m2m_rc krc = mkr_key(c, rq, k);
    /* the client's choice of session, not a server fault: 4103 like the enrolment (MEF.md) */
    if (krc == M2M_ERR_TLS || krc == M2M_ERR_DENIED)
        return mef_fail(c, RSC_ORIGINATOR_HAS_NO_PRIVILEGE,
                        "no exporter on this session (extended master secret required)");
    if (krc != M2M_OK)
        return mef_fail(c, RSC_INTERNAL_SERVER_ERROR, "key generation failed");
    snprintf(k->source, sizeof k->source, "%s", c->client);
    memcpy(k->admin, rq->admin, sizeof k->admin);
    k->suid = rq->suid;
    k->ct = c->now;
    k->targets = rq->targets; /* moved */
    k->lbl = rq->lbl;
    memset(&rq->targets, 0, sizeof rq->targets);
    memset(&rq->lbl, 0, sizeof rq->lbl);
    m2m_rc rc = mef_store_mkr_add(c->m->st, k);
    if (rc == M2M_ERR_LIMIT) /* docs/MEF.md "Limits" */
        return mef_fail(c, RSC_NOT_ACCEPTABLE,
                        "limit reached: mef.max_keys_per_client live key registrations");
    if (rc != M2M_OK)
        return mef_fail(c, mef_rsc_of(rc),
                        rc == M2M_ERR_EXISTS ? "key already registered on this session"
                                             : "store failure");
    set_location(c, k->relid);
    mef_reply(c, RSC_CREATED, MEF_TY_MKR, mkr_json(c, k, false));
    log_info("mef: key %s registered by %s for SUID %u", k->relid, k->source, k->suid);
}

void mef_mkr_create(struct mef_call *c)
{
    struct mef_mkr_req rq;
    struct mef_mkr k;
    memset(&k, 0, sizeof k);
    if (mef_mkr_parse(c->req->pc, c->req->pc_len, MEF_PARSE_CREATE, &rq) != M2M_OK)
        return mef_fail(c, RSC_BAD_REQUEST, "malformed sec:mkr");
    mkr_create2(c, &rq, &k);
    mef_mkr_req_clear(&rq);
    mef_mkr_clear(&k);
}

static void mkr_update(struct mef_call *c, struct mef_mkr *k)
{
    struct mef_mkr_req rq;
    int64_t et = 0;
    if (mef_mkr_parse(c->req->pc, c->req->pc_len, MEF_PARSE_UPDATE, &rq) != M2M_OK)
        return mef_fail(c, RSC_BAD_REQUEST, "malformed sec:mkr update");
    m2m_rc rc = M2M_ERR_MALFORMED;
    if ((!rq.has_targets || mef_mkr_targets_ok(k->suid, rq.targets.n)) &&
        (!rq.has_et || mef_clamp_et(c->now, true, rq.et_s, c->m->cfg.registration_max_s, &et)))
        rc = mef_store_mkr_update(c->m->st, k->relid, rq.has_et ? &et : NULL,
                                  rq.has_lbl ? &rq.lbl : NULL, rq.has_targets ? &rq.targets : NULL);
    cJSON *o, *root = rc == M2M_OK ? new_root("sec:mkr", &o) : NULL;
    if (root != NULL) {
        /* TS-0003 8.3.5.2.9: only the changed parameters are returned */
        if (rq.has_et)
            add_ts(o, "et", et);
        if (rq.has_lbl)
            add_list(o, "lbl", &rq.lbl);
        if (rq.has_targets)
            add_list(o, "targetIDs", &rq.targets);
        mef_reply(c, RSC_UPDATED, MEF_TY_MKR, root);
    } else {
        mef_fail(c, mef_rsc_of(rc == M2M_OK ? M2M_ERR_NOMEM : rc), "update refused");
    }
    mef_mkr_req_clear(&rq);
}

static void mkr_op2(struct mef_call *c, struct mef_mkr *k)
{
    bool source = strcmp(k->source, c->client) == 0;
    /* TS-0003 8.3.5.2.8: retrieval only by an authenticated requester listed in targetIDs */
    bool target = mef_strlist_has(&k->targets, c->client);
    if (c->req->op == M2M_OP_RETRIEVE) {
        if (!source && !target)
            return mef_fail(c, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "not a target of this key");
        cJSON *j = mkr_json(c, k, target);
        if (j == NULL)
            return mef_fail(c, RSC_INTERNAL_SERVER_ERROR, "out of memory");
        return target ? mef_reply_secret(c, RSC_OK, MEF_TY_MKR, j)
                      : mef_reply(c, RSC_OK, MEF_TY_MKR, j);
    }
    if (c->req->op != M2M_OP_UPDATE && c->req->op != M2M_OP_DELETE)
        return mef_fail(c, RSC_OPERATION_NOT_ALLOWED, "operation not allowed on <mefKeyReg>");
    if (!source)
        return mef_fail(c, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "not the source of this key");
    if (c->req->op == M2M_OP_UPDATE)
        return mkr_update(c, k);
    m2m_rc rc = mef_store_mkr_delete(c->m->st, k->relid);
    if (rc != M2M_OK)
        return mef_fail(c, mef_rsc_of(rc), "delete failed");
    mef_reply(c, RSC_DELETED, 0, NULL);
}

void mef_mkr_op(struct mef_call *c, const char *relid)
{
    struct mef_mkr k;
    m2m_rc rc = mef_store_mkr_get(c->m->st, relid, &k);
    if (rc == M2M_OK && k.et <= c->now)
        rc = M2M_ERR_NOT_FOUND;
    if (rc != M2M_OK)
        mef_fail(c, mef_rsc_of(rc), "no such resource");
    else
        mkr_op2(c, &k);
    mef_mkr_clear(&k);
}
