/* register.c: AE registration (TS-0001 10.2.2.2, TS-0004 7.4.5.2.1, SPEC-MAP B5) and CSE
 * registration (TS-0004 7.4.4.2.1, SPEC-MAP B6). Both replace the ACP check (A13). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "cse/cse_internal.h"
#include "enc/json.h"

/* '*' matches any run of characters (registration rules are flat strings, no '/' segments). */
static bool wild_match(const char *pat, const char *s)
{
    if (*pat == 0)
        return *s == 0;
    if (*pat == '*') {
        for (const char *p = s;; p++) {
            if (wild_match(pat + 1, p))
                return true;
            if (*p == 0)
                return false;
        }
    }
    return *s != 0 && *pat == *s && wild_match(pat + 1, s + 1);
}

static bool list_matches(const cJSON *list, const char *value)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        if (cJSON_IsString(e) && wild_match(e->valuestring, value))
            return true;
    }
    return false;
}

/* B5 step 2: some <serviceSubscribedAppRule> must admit (credential, App-ID, AE-ID stem).
 * [INTERP] the rules considered are the asar resources under the CSEBase; an absent apci
 * admits only registrations without a security association, "*" admits any. */
static m2m_rsc check_app_rules(struct rq *q, const char *api, const char *stem)
{
    struct cse *c = q->cse;
    const char *cred = q->req->sec.cred_id;
    bool any_rule = false;
    for (struct res *r = c->tree.root->first_child; r; r = r->next_sibling) {
        if (r->ty != TY_ASAR || res_expired(r, q->now_us))
            continue;
        any_rule = true;
        const cJSON *apci = cJSON_GetObjectItemCaseSensitive(r->attrs, "apci");
        bool cred_ok = apci == NULL ? cred[0] == 0 : list_matches(apci, cred[0] ? cred : "");
        if (!cred_ok)
            continue;
        if (!list_matches(cJSON_GetObjectItemCaseSensitive(r->attrs, "aai"), api))
            continue;
        if (!list_matches(cJSON_GetObjectItemCaseSensitive(r->attrs, "aae"), stem))
            continue;
        return RSC_OK;
    }
    return any_rule ? RSC_APP_RULE_VALIDATION_FAILED : RSC_SERVICE_SUBSCRIPTION_NOT_ESTABLISHED;
}

static bool stem_chars_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.' || *p == '_' || *p == '~'))
            return false;
    return true;
}

static void random_stem(char prefix, char *out, size_t outlen)
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint8_t rnd[12];
    if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
        memset(rnd, 7, sizeof rnd);
    size_t n = 0;
    out[n++] = prefix;
    for (size_t i = 0; i < sizeof rnd && n + 1 < outlen; i++)
        out[n++] = al[rnd[i] % (sizeof al - 1)];
    out[n] = 0;
}

void reg_create_ae(struct rq *q, struct res *parent, cJSON *attrs)
{
    struct cse *c = q->cse;
    const char *fr = q->req->fr;
    char stem[96];
    char why[256] = "";
    m2m_rsc rsc = RSC_OK;
    const char *api = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(attrs, "api"));
    /* TS-0001 10.2.2.2 From cases: absent or "C" -> CSE-assigned C-stem, "S" -> SP-assigned
     * S-stem, otherwise the stem the AE asks for. */
    const char *want = (fr == NULL || fr[0] == 0) ? "C" : fr;
    if (want[0] == '/') {
        rsc = RSC_BAD_REQUEST;
        snprintf(why, sizeof why, "an AE registers with its AE-ID stem, C or S");
        goto fail;
    }
    if (want[0] != 'C' && want[0] != 'S' && !stem_chars_ok(want)) {
        rsc = RSC_BAD_REQUEST;
        snprintf(why, sizeof why, "invalid AE-ID stem");
        goto fail;
    }
    const struct m2m_secctx *sec = &q->req->sec;
    if ((strcmp(want, "C") == 0 || strcmp(want, "S") == 0) && sec->identity[0]) {
        /* B5: over an SA the AE-ID is the one bound to the SA (its last path segment). */
        const char *last = strrchr(sec->identity, '/');
        last = last ? last + 1 : sec->identity;
        if ((last[0] != 'C' && last[0] != 'S') || !stem_chars_ok(last)) {
            rsc = RSC_ORIGINATOR_NOT_AUTHENTICATED;
            snprintf(why, sizeof why, "the security association is not bound to an AE-ID");
            goto fail;
        }
        want = last;
    }
    if ((rsc = check_app_rules(q, api ? api : "", want)) != RSC_OK) {
        snprintf(why, sizeof why, "registration of %.64s with App-ID %.64s is not permitted", want,
                 api ? api : "?");
        goto fail;
    }
    if (strcmp(want, "C") == 0 || strcmp(want, "S") == 0) {
        do
            random_stem(want[0], stem, sizeof stem);
        while (tree_by_ri(&c->tree, stem) != NULL);
    } else {
        if (!stem_chars_ok(want) || (want[0] != 'C' && want[0] != 'S')) {
            rsc = RSC_BAD_REQUEST;
            snprintf(why, sizeof why, "invalid AE-ID stem");
            goto fail;
        }
        snprintf(stem, sizeof stem, "%.64s", want); /* stem_chars_ok bounds it to 64 */
        if (strcmp(stem, c->cfg.admin) == 0 ||
            cse_reap_expired(q, tree_by_ri(&c->tree, stem)) != NULL) {
            rsc = RSC_ORIGINATOR_HAS_ALREADY_REGISTERED;
            snprintf(why, sizeof why, "AE-ID %s is already registered", stem);
            goto fail;
        }
    }
    /* B4: over an SA bound to AE-IDs, the registered AE-ID must be one of them. */
    if (q->req->sec.identity[0]) {
        char abs[sizeof q->orig_abs];
        if (acp_id_absolute(stem, strlen(stem), &c->host, abs, sizeof abs) != M2M_OK ||
            !sa_binds(c, &q->req->sec, abs)) {
            rsc = RSC_ORIGINATOR_NOT_AUTHENTICATED;
            snprintf(why, sizeof why, "AE-ID does not match the authenticated identity");
            goto fail;
        }
    }
    const cJSON *rnj = cJSON_GetObjectItemCaseSensitive(attrs, "rn");
    const char *rn = cJSON_IsString(rnj) ? rnj->valuestring : stem;
    if (cse_reap_expired(q, tree_child(&c->tree, parent, rn)) != NULL) {
        rsc = RSC_CONFLICT;
        snprintf(why, sizeof why, "a resource named %s already exists", rn);
        goto fail;
    }
    int64_t et = q->now_us + c->cfg.default_et_s * 1000000LL;
    const cJSON *etj = cJSON_GetObjectItemCaseSensitive(attrs, "et");
    if (cJSON_IsString(etj)) {
        if (!m2m_ts_parse(etj->valuestring, strlen(etj->valuestring), &et) || et <= q->now_us) {
            rsc = RSC_BAD_REQUEST;
            snprintf(why, sizeof why, "invalid or past expirationTime");
            goto fail;
        }
    }
    const cJSON *acpi = cJSON_GetObjectItemCaseSensitive(attrs, "acpi");
    const cJSON *e;
    cJSON_ArrayForEach(e, acpi)
    {
        struct res *a = cJSON_IsString(e) ? cse_resolve_id(c, e->valuestring) : NULL;
        if (a == NULL || a->ty != TY_ACP) {
            rsc = RSC_BAD_REQUEST;
            snprintf(why, sizeof why, "acpi entry is not an accessControlPolicy of this CSE");
            goto fail;
        }
    }
    char rnbuf[256];
    snprintf(rnbuf, sizeof rnbuf, "%s", rn);
    cJSON_DeleteItemFromObjectCaseSensitive(attrs, "rn");
    cJSON_DeleteItemFromObjectCaseSensitive(attrs, "et");
    cJSON_AddStringToObject(attrs, "aei", stem);
    /* The registered AE owns itself: the default policy's creator is its absolute AE-ID. */
    char owner[sizeof q->orig_abs];
    if (acp_id_absolute(stem, strlen(stem), &c->host, owner, sizeof owner) != M2M_OK) {
        rsc = RSC_BAD_REQUEST;
        snprintf(why, sizeof why, "invalid AE-ID");
        goto fail;
    }
    struct res *r;
    if (res_new(stem, rnbuf, TY_AE, attrs, owner, &r) != M2M_OK) {
        m2m_response_error(q->resp, RSC_INTERNAL_SERVER_ERROR, "out of memory");
        return;
    }
    attrs = NULL;
    r->ct_us = r->lt_us = cse_next_ct(c, q->now_us);
    r->et_us = et;
    if (tree_link(&c->tree, parent, r) != M2M_OK) {
        res_free(r);
        m2m_response_error(q->resp, RSC_INTERNAL_SERVER_ERROR, "out of memory");
        return;
    }
    res_persist(q, r);
    log_info("registered AE %s (api %s) as %s", stem, api ? api : "?", r->path);
    notify_event(q, parent, 3, r);
    q->resp->rsc = RSC_CREATED;
    q->resp->content_location = strdup(q->req->drt == 2 ? r->ri : r->path);
    q->resp->content_ty = TY_AE;
    if (q->req->rcn != RCN_NOTHING)
        (void)res_set_rsp_body(q, res_wrap(r));
    return;
fail:
    cJSON_Delete(attrs);
    log_info("AE registration refused (%d): %s", (int)rsc, why);
    m2m_response_error(q->resp, rsc, "%s", why);
}

void reg_create_csr(struct rq *q, struct res *parent, cJSON *attrs)
{
    struct cse *c = q->cse;
    char why[256] = "";
    m2m_rsc rsc;
    const char *fr = q->req->fr;
    if (fr == NULL || fr[0] != '/' || q->orig_kind != ACP_ORIG_CSE) {
        /* TS-0004 7.4.4.2.1: an AE cannot register as a CSE. */
        rsc = RSC_OPERATION_NOT_ALLOWED;
        snprintf(why, sizeof why, "only a CSE can create a remoteCSE");
        goto fail;
    }
    if (!q->authn || q->req->sec.identity[0] == 0) {
        rsc = RSC_SECURITY_ASSOCIATION_REQUIRED;
        snprintf(why, sizeof why, "CSE registration requires an authenticated association");
        goto fail;
    }
    const char *csi = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(attrs, "csi"));
    if (csi == NULL || strcmp(csi, fr) != 0) {
        rsc = RSC_BAD_REQUEST;
        snprintf(why, sizeof why, "csi must equal the originator's CSE-ID");
        goto fail;
    }
    if (strcmp(csi, c->cfg.cse_id) == 0) {
        rsc = RSC_BAD_REQUEST;
        snprintf(why, sizeof why, "a CSE cannot register to itself");
        goto fail;
    }
    for (struct res *r = parent->first_child; r; r = r->next_sibling)
        if (r->ty == TY_CSR && !res_expired(r, q->now_us) &&
            strcmp(res_attr_str(r, "csi") ? res_attr_str(r, "csi") : "", csi) == 0) {
            rsc = RSC_ORIGINATOR_HAS_ALREADY_REGISTERED;
            snprintf(why, sizeof why, "CSE %s is already registered", csi);
            goto fail;
        }
    const char *ri = csi + 1;
    const cJSON *rnj = cJSON_GetObjectItemCaseSensitive(attrs, "rn");
    const char *rn = cJSON_IsString(rnj) ? rnj->valuestring : ri;
    if (cse_reap_expired(q, tree_by_ri(&c->tree, ri)) != NULL ||
        cse_reap_expired(q, tree_child(&c->tree, parent, rn)) != NULL) {
        rsc = RSC_CONFLICT;
        snprintf(why, sizeof why, "name or identifier conflict");
        goto fail;
    }
    char rnbuf[256];
    snprintf(rnbuf, sizeof rnbuf, "%s", rn);
    cJSON_DeleteItemFromObjectCaseSensitive(attrs, "rn");
    cJSON_DeleteItemFromObjectCaseSensitive(attrs, "et");
    struct res *r;
    if (res_new(ri, rnbuf, TY_CSR, attrs, q->orig_abs, &r) != M2M_OK) {
        m2m_response_error(q->resp, RSC_INTERNAL_SERVER_ERROR, "out of memory");
        return;
    }
    attrs = NULL;
    r->ct_us = r->lt_us = cse_next_ct(c, q->now_us);
    r->et_us = q->now_us + c->cfg.default_et_s * 1000000LL;
    if (tree_link(&c->tree, parent, r) != M2M_OK) {
        res_free(r);
        m2m_response_error(q->resp, RSC_INTERNAL_SERVER_ERROR, "out of memory");
        return;
    }
    res_persist(q, r);
    log_info("registered remote CSE %s", csi);
    q->resp->rsc = RSC_CREATED;
    q->resp->content_location = strdup(q->req->drt == 2 ? r->ri : r->path);
    q->resp->content_ty = TY_CSR;
    if (q->req->rcn != RCN_NOTHING)
        (void)res_set_rsp_body(q, res_wrap(r));
    return;
fail:
    cJSON_Delete(attrs);
    m2m_response_error(q->resp, rsc, "%s", why);
}
