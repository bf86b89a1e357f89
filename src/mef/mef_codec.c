/* mef_codec.c: bounded parsers and builders of the Mmef JSON bodies (docs/MEF.md), timestamps
 * and base64. */
#include "mef/mef_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/secret.h"
#include "base/timeutil.h"
#include "crypto/kdf.h"
#include "mef/est.h"

/* ---- small validators ---- */

bool mef_id_valid(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > MEF_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

bool mef_fqdn_valid(const char *s, size_t len)
{
    return s != NULL && len <= MEF_FQDN_MAX && kdf_fqdn_valid((const uint8_t *)s, len);
}

/* Length of a cJSON string value (NUL-free after json_parse), bounded by cap. */
static size_t jlen(const cJSON *j, size_t cap)
{
    return strnlen(j->valuestring, cap + 1);
}

/* Copies a string member that passes ok() into out[cap]. */
static m2m_rc get_str(const cJSON *j, bool (*ok)(const char *, size_t), char *out, size_t cap)
{
    if (!cJSON_IsString(j) || j->valuestring == NULL)
        return M2M_ERR_MALFORMED;
    size_t n = jlen(j, cap - 1);
    if (n >= cap || !ok(j->valuestring, n))
        return M2M_ERR_MALFORMED;
    memcpy(out, j->valuestring, n + 1);
    return M2M_OK;
}

static m2m_rc get_ts(const cJSON *j, int64_t *t_s)
{
    if (!cJSON_IsString(j) || j->valuestring == NULL)
        return M2M_ERR_MALFORMED;
    return mef_ts_parse(j->valuestring, jlen(j, 64), t_s);
}

/* A JSON array of 0..max identifiers (labels, targetIDs). */
static m2m_rc get_list(const cJSON *j, size_t max, size_t min, struct mef_strlist *out)
{
    m2m_rc rc = M2M_OK;
    ENSURE(cJSON_IsArray(j), M2M_ERR_MALFORMED);
    size_t n = (size_t)cJSON_GetArraySize(j);
    ENSURE(n >= min, M2M_ERR_MALFORMED);
    ENSURE(n <= max, M2M_ERR_MALFORMED);
    mef_strlist_clear(out);
    if (n == 0)
        return M2M_OK;
    out->v = calloc(n, sizeof *out->v);
    ENSURE_NONNULL(out->v);
    const cJSON *e;
    cJSON_ArrayForEach(e, j)
    {
        ENSURE(cJSON_IsString(e) && e->valuestring != NULL, M2M_ERR_MALFORMED);
        size_t l = jlen(e, MEF_ID_MAX);
        ENSURE(mef_id_valid(e->valuestring, l), M2M_ERR_MALFORMED);
        out->v[out->n] = strndup(e->valuestring, l);
        ENSURE_NONNULL(out->v[out->n]);
        out->n++;
    }
out:
    if (rc != M2M_OK)
        mef_strlist_clear(out);
    return rc;
}

void mef_strlist_clear(struct mef_strlist *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; l->v != NULL && i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

bool mef_strlist_has(const struct mef_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

m2m_rc mef_strlist_from_json(const char *json, size_t len, size_t max, struct mef_strlist *out)
{
    cJSON *j = NULL;
    m2m_rc rc = json_parse((const uint8_t *)json, len, 2, &j);
    if (rc == M2M_OK)
        rc = get_list(j, max, 0, out);
    cJSON_Delete(j);
    return rc == M2M_ERR_LIMIT ? M2M_ERR_MALFORMED : rc;
}

m2m_rc mef_strlist_to_json(const struct mef_strlist *l, char **out)
{
    m2m_rc rc = M2M_OK;
    cJSON *a = cJSON_CreateArray();
    ENSURE_NONNULL(a);
    for (size_t i = 0; i < l->n; i++)
        ENSURE(cJSON_AddItemToArray(a, cJSON_CreateString(l->v[i])), M2M_ERR_NOMEM);
    *out = json_print(a);
    ENSURE_NONNULL(*out);
out:
    cJSON_Delete(a);
    return rc;
}

/* ---- the root object ---- */

/* Parses {"<root>":{...}} with nothing else at the top; *obj points into *tree. */
static m2m_rc parse_root(const uint8_t *in, size_t len, const char *root, cJSON **tree,
                         const cJSON **obj)
{
    m2m_rc rc = M2M_OK;
    *tree = NULL;
    ENSURE(in != NULL && len > 0 && len <= MEF_BODY_MAX, M2M_ERR_MALFORMED);
    rc = json_parse(in, len, MEF_JSON_DEPTH, tree);
    ENSURE(rc == M2M_OK, M2M_ERR_MALFORMED);
    ENSURE(cJSON_IsObject(*tree), M2M_ERR_MALFORMED);
    const cJSON *c = (*tree)->child;
    ENSURE(c != NULL && c->next == NULL && c->string != NULL && strcmp(c->string, root) == 0,
           M2M_ERR_MALFORMED);
    ENSURE(cJSON_IsObject(c), M2M_ERR_MALFORMED);
    *obj = c;
out:
    if (rc != M2M_OK) {
        cJSON_Delete(*tree);
        *tree = NULL;
    }
    return rc;
}

/* Index of name in names[] or -1: an unknown member is malformed (docs/MEF.md "Transport"). */
static int member_index(const cJSON *m, const char *const *names, int n)
{
    for (int i = 0; m->string != NULL && i < n; i++)
        if (strcmp(m->string, names[i]) == 0)
            return i;
    return -1;
}

/* ---- sec:enr ---- */

m2m_rc mef_enr_parse(const uint8_t *in, size_t len, struct mef_enr_req *out)
{
    m2m_rc rc = M2M_OK;
    cJSON *t = NULL;
    const cJSON *o, *m;
    memset(out, 0, sizeof *out);
    TRY(parse_root(in, len, "sec:enr", &t, &o));
    cJSON_ArrayForEach(m, o)
    {
        ENSURE(m->string != NULL && strcmp(m->string, "et") == 0, M2M_ERR_MALFORMED);
        TRY(get_ts(m, &out->et_s));
    }
out:
    cJSON_Delete(t);
    return rc;
}

/* ---- sec:mcr ---- */

void mef_mcr_req_clear(struct mef_mcr_req *r)
{
    if (r != NULL)
        mef_strlist_clear(&r->lbl);
}

static m2m_rc mcr_member(const cJSON *m, enum mef_mode mode, struct mef_mcr_req *r)
{
    static const char *const names[] = {"et", "lbl", "fqdn", "adminFQDN"};
    int i = member_index(m, names, mode == MEF_PARSE_CREATE ? 4 : 2);
    switch (i) {
    case 0: r->has_et = true; return get_ts(m, &r->et_s);
    case 1: r->has_lbl = true; return get_list(m, MEF_LBL_MAX, 0, &r->lbl);
    case 2: r->has_fqdn = true; return get_str(m, mef_fqdn_valid, r->fqdn, sizeof r->fqdn);
    case 3: r->has_admin = true; return get_str(m, mef_fqdn_valid, r->admin, sizeof r->admin);
    default: return M2M_ERR_MALFORMED;
    }
}

m2m_rc mef_mcr_parse(const uint8_t *in, size_t len, enum mef_mode mode, struct mef_mcr_req *out)
{
    m2m_rc rc = M2M_OK;
    cJSON *t = NULL;
    const cJSON *o, *m;
    memset(out, 0, sizeof *out);
    TRY(parse_root(in, len, "sec:mcr", &t, &o));
    cJSON_ArrayForEach(m, o) TRY(mcr_member(m, mode, out));
    /* TS-0003 8.3.5.2.3: MEF-FQDN and adminFQDN are mandatory; 8.3.5.2.5: an update carries at
     * least one of expirationTime and labels. */
    if (mode == MEF_PARSE_CREATE)
        ENSURE(out->has_fqdn && out->has_admin, M2M_ERR_MALFORMED);
    else
        ENSURE(out->has_et || out->has_lbl, M2M_ERR_MALFORMED);
out:
    cJSON_Delete(t);
    if (rc != M2M_OK)
        mef_mcr_req_clear(out);
    return rc;
}

/* ---- sec:mkr ---- */

void mef_mkr_req_clear(struct mef_mkr_req *r)
{
    if (r == NULL)
        return;
    mef_strlist_clear(&r->lbl);
    mef_strlist_clear(&r->targets);
    m2m_wipe(r->key, sizeof r->key);
    r->key_len = 0;
}

bool mef_mkr_targets_ok(unsigned suid, size_t n)
{
    unsigned use = suid % 10;
    /* TS-0003 8.3.5.2.7: exactly one target for SAEF and ESPrim keys, one or more for ESData */
    if (use == 2 || use == 3)
        return n == 1;
    return n >= 1 && n <= MEF_TARGETS_MAX;
}

static m2m_rc mkr_key(const cJSON *m, struct mef_mkr_req *r)
{
    if (!cJSON_IsString(m) || m->valuestring == NULL)
        return M2M_ERR_MALFORMED;
    size_t n = jlen(m, 4 * MEF_KEY_MAX);
    RETURN_IF_ERR(mef_b64_decode(m->valuestring, n, r->key, sizeof r->key, &r->key_len));
    if (r->key_len < MEF_KEY_MIN)
        return M2M_ERR_MALFORMED;
    r->has_key = true;
    return M2M_OK;
}

static m2m_rc mkr_member(const cJSON *m, enum mef_mode mode, struct mef_mkr_req *r)
{
    static const char *const names[] = {"et",        "lbl",  "targetIDs", "fqdn",
                                        "adminFQDN", "SUID", "keyValue"};
    int i = member_index(m, names, mode == MEF_PARSE_CREATE ? 7 : 3);
    switch (i) {
    case 0: r->has_et = true; return get_ts(m, &r->et_s);
    case 1: r->has_lbl = true; return get_list(m, MEF_LBL_MAX, 0, &r->lbl);
    case 2: r->has_targets = true; return get_list(m, MEF_TARGETS_MAX, 1, &r->targets);
    case 3: r->has_fqdn = true; return get_str(m, mef_fqdn_valid, r->fqdn, sizeof r->fqdn);
    case 4: r->has_admin = true; return get_str(m, mef_fqdn_valid, r->admin, sizeof r->admin);
    case 5:
        if (!json_is_int_in(m, 0, 999) || !kdf_suid_valid((unsigned)m->valuedouble))
            return M2M_ERR_MALFORMED;
        r->suid = (unsigned)m->valuedouble;
        r->has_suid = true;
        return M2M_OK;
    case 6: return mkr_key(m, r);
    default: return M2M_ERR_MALFORMED;
    }
}

m2m_rc mef_mkr_parse(const uint8_t *in, size_t len, enum mef_mode mode, struct mef_mkr_req *out)
{
    m2m_rc rc = M2M_OK;
    cJSON *t = NULL;
    const cJSON *o, *m;
    memset(out, 0, sizeof *out);
    TRY(parse_root(in, len, "sec:mkr", &t, &o));
    cJSON_ArrayForEach(m, o) TRY(mkr_member(m, mode, out));
    if (mode == MEF_PARSE_CREATE) {
        /* TS-0003 8.3.5.2.7: MEF-FQDN, adminFQDN, SUID mandatory; targetIDs per SUID */
        ENSURE(out->has_fqdn && out->has_admin && out->has_suid && out->has_targets,
               M2M_ERR_MALFORMED);
        ENSURE(mef_mkr_targets_ok(out->suid, out->targets.n), M2M_ERR_MALFORMED);
    } else {
        ENSURE(out->has_et || out->has_lbl || out->has_targets, M2M_ERR_MALFORMED);
    }
out:
    cJSON_Delete(t);
    if (rc != M2M_OK)
        mef_mkr_req_clear(out);
    return rc;
}

/* ---- sec:mcc ---- */

static bool digits_ok(const char *s, size_t n)
{
    if (n == 0 || n > MEF_CMDID_MAX || (s[0] == '0' && n > 1))
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

m2m_rc mef_mcc_parse(const uint8_t *in, size_t len, struct mef_mcc_req *out)
{
    m2m_rc rc = M2M_OK;
    cJSON *t = NULL;
    const cJSON *o, *m;
    bool has_id = false, has_st = false;
    memset(out, 0, sizeof *out);
    TRY(parse_root(in, len, "sec:mcc", &t, &o));
    cJSON_ArrayForEach(m, o)
    {
        if (m->string != NULL && strcmp(m->string, "cmdID") == 0) {
            TRY(get_str(m, digits_ok, out->cmd_id, sizeof out->cmd_id));
            has_id = true;
        } else if (m->string != NULL && strcmp(m->string, "cmdStatusCode") == 0) {
            /* TS-0003 12.3.2.4: sec:cmdStatusCode values are small positive integers */
            ENSURE(json_is_int_in(m, 1, 65535), M2M_ERR_MALFORMED);
            out->status = (int)m->valuedouble;
            has_st = true;
        } else {
            BAIL(M2M_ERR_MALFORMED);
        }
    }
    /* TS-0003 8.3.9.3: the update carries cmdID and cmdStatusCode */
    ENSURE(has_id && has_st, M2M_ERR_MALFORMED);
out:
    cJSON_Delete(t);
    return rc;
}

/* ---- sec:fcr and sec:mefb (answers, parsed by clients) ---- */

static m2m_rc fcr_member(const cJSON *m, struct mef_fcr *r, unsigned *seen)
{
    static const char *const names[] = {"status",   "credential", "enroleeID",
                                        "lifetime", "et",         "errorString"};
    int i = member_index(m, names, 6);
    if (i < 0)
        return M2M_ERR_MALFORMED;
    *seen |= 1u << i;
    switch (i) {
    case 0:
        if (!cJSON_IsBool(m))
            return M2M_ERR_MALFORMED;
        r->status = cJSON_IsTrue(m);
        return M2M_OK;
    case 1:
        if (!cJSON_IsString(m) || m->valuestring == NULL)
            return M2M_ERR_MALFORMED;
        return mef_b64_decode(m->valuestring, jlen(m, 4 * MEF_KEY_MAX), r->key, sizeof r->key,
                              &r->key_len);
    case 2: return get_str(m, mef_id_valid, r->enrolee, sizeof r->enrolee);
    case 3:
        if (!json_is_int_in(m, 0, INT32_MAX))
            return M2M_ERR_MALFORMED;
        r->lifetime_s = (int64_t)m->valuedouble;
        return M2M_OK;
    case 4: return get_ts(m, &r->et_s);
    default:
        if (!cJSON_IsString(m) || m->valuestring == NULL || jlen(m, MEF_ID_MAX) > MEF_ID_MAX)
            return M2M_ERR_MALFORMED;
        memcpy(r->error, m->valuestring, jlen(m, MEF_ID_MAX) + 1);
        return M2M_OK;
    }
}

m2m_rc mef_fcr_parse(const uint8_t *in, size_t len, struct mef_fcr *out)
{
    m2m_rc rc = M2M_OK;
    cJSON *t = NULL;
    const cJSON *o, *m;
    unsigned seen = 0;
    memset(out, 0, sizeof *out);
    TRY(parse_root(in, len, "sec:fcr", &t, &o));
    cJSON_ArrayForEach(m, o) TRY(fcr_member(m, out, &seen));
    ENSURE(seen & 1u, M2M_ERR_MALFORMED);
    /* G5 step 5: success carries Credential, EnroleeID and Lifetime; failure ErrorString */
    if (out->status)
        ENSURE((seen & 0x0e) == 0x0e && out->key_len == KDF_KEY_LEN, M2M_ERR_MALFORMED);
    else
        ENSURE(seen == 0x21, M2M_ERR_MALFORMED);
out:
    cJSON_Delete(t);
    if (rc != M2M_OK)
        m2m_wipe(out, sizeof *out);
    return rc;
}

static bool any_id(const char *s, size_t n)
{
    return mef_id_valid(s, n);
}

m2m_rc mef_mefb_parse(const uint8_t *in, size_t len, struct mef_mefb *out)
{
    m2m_rc rc = M2M_OK;
    cJSON *t = NULL;
    const cJSON *o, *m;
    static const char *const names[] = {"ri", "rn", "ty", "fqdn", "estBaseURI"};
    char tmp[MEF_ID_MAX + 1];
    memset(out, 0, sizeof *out);
    TRY(parse_root(in, len, "sec:mefb", &t, &o));
    cJSON_ArrayForEach(m, o)
    {
        int i = member_index(m, names, 5);
        ENSURE(i >= 0, M2M_ERR_MALFORMED);
        if (i == 2)
            ENSURE(json_is_int_in(m, 901, 901), M2M_ERR_MALFORMED);
        else if (i == 3)
            TRY(get_str(m, mef_fqdn_valid, out->fqdn, sizeof out->fqdn));
        else if (i == 4)
            TRY(get_str(m, any_id, out->est_uri, sizeof out->est_uri));
        else
            TRY(get_str(m, any_id, tmp, sizeof tmp));
    }
    ENSURE(out->fqdn[0] != 0, M2M_ERR_MALFORMED);
out:
    cJSON_Delete(t);
    return rc;
}

/* ---- cmdDescription (TS-0003 12.4.4-12.4.10) ---- */

static bool opt_str_ok(const char *s)
{
    return s != NULL && mef_id_valid(s, strnlen(s, MEF_ID_MAX + 1));
}

/* The cmdArgs member of one class; NULL when an argument is missing or out of range. */
static cJSON *cmd_args(const struct mef_cmd_args *a)
{
    cJSON *args = cJSON_CreateObject(), *x = cJSON_CreateObject();
    const char *name = NULL;
    bool ok = args != NULL && x != NULL;
    switch (a->cls) {
    case MEF_CMD_NO_MORE:
        name = "noMoreCmdArgs";
        ok = ok && opt_str_ok(a->retry) && cJSON_AddStringToObject(x, "retryDuration", a->retry);
        break;
    case MEF_CMD_CERT_PROV:
        name = "certProvCmdArgs";
        ok = ok && opt_str_ok(a->est_uri) && opt_str_ok(a->subject_id) && a->subject_type >= 1 &&
             a->subject_type <= 3 && cJSON_AddNumberToObject(x, "certProvProtocolID", 1) &&
             cJSON_AddStringToObject(x, "URI", a->est_uri) &&
             cJSON_AddNumberToObject(x, "certSubjectType", a->subject_type) &&
             cJSON_AddStringToObject(x, "certSubjectID", a->subject_id);
        break;
    case MEF_CMD_DEV_CFG:
        name = "devCfgCmdArgs";
        ok = ok && opt_str_ok(a->dev_cfg_uri) &&
             cJSON_AddStringToObject(x, "deviceConfigURI", a->dev_cfg_uri);
        break;
    case MEF_CMD_MO_NODE:
        name = "MONodeCmdArgs";
        ok = ok && opt_str_ok(a->object_path) && a->object_type >= 1 && a->object_type <= 3 &&
             cJSON_AddStringToObject(x, "objectPath", a->object_path) &&
             cJSON_AddNumberToObject(x, "objectTypeID", a->object_type);
        if (ok && a->suid != 0) {
            cJSON *s = cJSON_AddObjectToObject(x, "objectTypeSpecificArgs");
            ok = s != NULL && kdf_suid_valid(a->suid) &&
                 cJSON_AddNumberToObject(s, "SUID", a->suid) != NULL;
        }
        break;
    default: ok = false;
    }
    if (ok && cJSON_AddItemToObject(args, name, x))
        return args;
    cJSON_Delete(x);
    cJSON_Delete(args);
    return NULL;
}

m2m_rc mef_cmd_desc_build(const struct mef_cmd_args *a, char **out)
{
    m2m_rc rc = M2M_OK;
    cJSON *d = cJSON_CreateObject(), *args = NULL;
    *out = NULL;
    ENSURE_NONNULL(d);
    ENSURE(cJSON_AddNumberToObject(d, "cmdClassID", a->cls), M2M_ERR_NOMEM);
    if (a->target_id != NULL) {
        ENSURE(opt_str_ok(a->target_id), M2M_ERR_MALFORMED);
        ENSURE(cJSON_AddStringToObject(d, "targetID", a->target_id), M2M_ERR_NOMEM);
    }
    args = cmd_args(a);
    ENSURE(args != NULL, M2M_ERR_MALFORMED);
    cJSON_AddItemToObject(d, "cmdArgs", args);
    *out = json_print(d);
    ENSURE_NONNULL(*out);
out:
    cJSON_Delete(d);
    return rc;
}

void mef_cmd_desc_subject(const char *desc_json, size_t len, char *out, size_t cap)
{
    cJSON *d = NULL;
    out[0] = 0;
    if (json_parse((const uint8_t *)desc_json, len, MEF_JSON_DEPTH, &d) != M2M_OK)
        return;
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(d, "cmdClassID");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(d, "cmdArgs");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(a, "certProvCmdArgs");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(c, "certSubjectID");
    if (json_is_int_in(cls, MEF_CMD_CERT_PROV, MEF_CMD_CERT_PROV) && cJSON_IsString(s) &&
        s->valuestring != NULL && strnlen(s->valuestring, cap) < cap)
        snprintf(out, cap, "%s", s->valuestring);
    cJSON_Delete(d);
}

/* ---- timestamps ---- */

void mef_ts_format(int64_t t_s, char out[MEF_TS_LEN + 1])
{
    char full[24];
    m2m_ts_format(t_s * 1000000, full);
    memcpy(out, full, MEF_TS_LEN);
    out[MEF_TS_LEN] = 0;
}

m2m_rc mef_ts_parse(const char *s, size_t len, int64_t *t_s)
{
    int64_t us = 0;
    if (s == NULL || len < MEF_TS_LEN || len > 32 || !m2m_ts_parse(s, len, &us) || us < 0)
        return M2M_ERR_MALFORMED;
    *t_s = us / 1000000;
    return M2M_OK;
}

/* ---- base64 (RFC 4648 section 4): the strict, fuzzed codec of src/mef/est_b64.c ---- */

m2m_rc mef_b64_encode(const uint8_t *in, size_t len, char **out)
{
    struct m2m_buf b = M2M_BUF_INIT;
    /* one allocation of the exact size: the callers encode keys, no realloc leaves copies */
    if (m2m_buf_reserve(&b, (len + 2) / 3 * 4) != M2M_OK || est_b64_encode(in, len, &b) != M2M_OK) {
        m2m_buf_wipe(&b);
        m2m_buf_free(&b);
        return M2M_ERR_NOMEM;
    }
    size_t n;
    *out = m2m_buf_steal(&b, &n);
    return *out != NULL ? M2M_OK : M2M_ERR_NOMEM;
}

/* JSON members carry base64 on one line: unlike an EST body, no whitespace at all. */
m2m_rc mef_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    *out_len = 0;
    if (in == NULL || len == 0 || memchr(in, ' ', len) || memchr(in, '\r', len) ||
        memchr(in, '\n', len))
        return M2M_ERR_MALFORMED;
    m2m_rc rc = est_b64_decode((const uint8_t *)in, len, out, cap, out_len);
    if (rc != M2M_OK) {
        m2m_wipe(out, cap);
        *out_len = 0;
        return M2M_ERR_MALFORMED;
    }
    return M2M_OK;
}
