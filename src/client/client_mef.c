/* client_mef.c: the MEF client side of the device library (include/m2msec/mef.h, docs/MEF.md):
 * enrolment key generation over the session exporter, the usage-constrained key, MEF Client
 * Registration, the MEF Client Command loop of TS-0003 8.3.9 with its client-side checks (a pure
 * decision function), fetchCredentials for Enrolment Targets, and the sec:* answer parsers. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/secret.h"
#include "base/timeutil.h"
#include "client/client_internal.h"
#include "crypto/kdf.h"
#include "enc/json.h"
#include "m2msec/mef.h"

#define MEF_JSON_DEPTH 16
#define MEF_DEFAULT_MAX_CMDS 16

int m2msec_client_export(struct m2msec_client *c, const char *label, uint8_t *out, size_t len)
{
    struct cl_side_op op = {.kind = CL_SIDE_EXPORT, .label = label, .out = out, .out_len = len};
    if (c == NULL || label == NULL || out == NULL || len == 0 || len > 255)
        return cl_errf(c, M2MSEC_ERR_USAGE, "exporter: no label or a length outside 1..255");
    return cl_side_run(c, "/", &op, NULL);
}

int cl_export_gen(struct m2msec_client *c, const char *label, uint8_t *out, size_t len,
                  unsigned long *gen)
{
    struct cl_side_op op = {.kind = CL_SIDE_EXPORT, .label = label, .out = out, .out_len = len};
    int rc = cl_side_run(c, "/", &op, NULL);
    *gen = op.gen;
    return rc;
}

unsigned long cl_last_gen(struct m2msec_client *c)
{
    struct cl_side_op op = {.kind = CL_SIDE_GEN};
    return cl_side_run(c, "/", &op, NULL) == M2MSEC_OK ? op.gen : 0;
}

void m2msec_enrolment_wipe(struct m2msec_enrolment *e)
{
    if (e != NULL)
        m2m_wipe(e, sizeof *e);
}

/* ---- helpers over the parsed JSON ---- */

/* Copies a JSON string member of 1..cap-1 printable ASCII bytes without space. */
static bool get_id(const cJSON *o, const char *name, char *out, size_t cap)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(j))
        return false;
    size_t n = strlen(j->valuestring); /* json_parse refused embedded NULs */
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)j->valuestring[i] < 0x21 || (unsigned char)j->valuestring[i] > 0x7e)
            return false;
    memcpy(out, j->valuestring, n + 1);
    return true;
}

/* The object under root member `name` of a parsed body. */
static int parse_root(const uint8_t *in, size_t len, const char *name, cJSON **tree,
                      const cJSON **obj)
{
    *tree = NULL;
    if (in == NULL || json_parse(in, len, MEF_JSON_DEPTH, tree) != M2M_OK)
        return M2MSEC_ERR_PROTOCOL;
    *obj = cJSON_GetObjectItemCaseSensitive(*tree, name);
    if (!cJSON_IsObject(*obj)) {
        cJSON_Delete(*tree);
        *tree = NULL;
        return M2MSEC_ERR_PROTOCOL;
    }
    return M2MSEC_OK;
}

/* A oneM2M basic-format timestamp member into Unix seconds. */
static bool get_time(const cJSON *o, const char *name, int64_t *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);
    int64_t us = 0;
    if (!cJSON_IsString(j) || !m2m_ts_parse(j->valuestring, strlen(j->valuestring), &us))
        return false;
    *out = us / 1000000;
    return true;
}

/* ---- sec:enr (docs/MEF.md "Enrolment key generation") ---- */

static bool parse_target(const cJSON *t, struct m2msec_enrolment *out)
{
    int i = out->n_targets;
    const cJSON *suid = cJSON_GetObjectItemCaseSensitive(t, "SUID");
    if (!cJSON_IsObject(t) || !get_id(t, "targetID", out->targets[i].target_id, 256) ||
        !get_id(t, "fqdn", out->targets[i].fqdn, 254) || !json_is_int_in(suid, 1, 999) ||
        !kdf_fqdn_valid((const uint8_t *)out->targets[i].fqdn, strlen(out->targets[i].fqdn)) ||
        !kdf_suid_valid((unsigned)suid->valuedouble))
        return false;
    out->targets[i].suid = (int)suid->valuedouble;
    out->n_targets++;
    return true;
}

int cl_mef_parse_enr(const uint8_t *in, size_t len, struct m2msec_enrolment *out)
{
    cJSON *tree = NULL;
    const cJSON *enr = NULL, *t;
    memset(out, 0, sizeof *out);
    int rc = parse_root(in, len, "sec:enr", &tree, &enr);
    if (rc != M2MSEC_OK)
        return rc;
    rc = M2MSEC_ERR_PROTOCOL;
    if (!get_id(enr, "keID", out->keid, sizeof out->keid) ||
        !get_id(enr, "enroleeID", out->enrolee_id, sizeof out->enrolee_id) ||
        !get_time(enr, "et", &out->expires_s))
        goto out;
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(enr, "targets");
    if (targets != NULL && !cJSON_IsArray(targets))
        goto out;
    /* [INTERP] more targets than the structure holds: the first M2MSEC_MEF_MAX_TARGETS. */
    cJSON_ArrayForEach(t, targets)
    {
        if (out->n_targets == M2MSEC_MEF_MAX_TARGETS)
            break;
        if (!parse_target(t, out))
            goto out;
    }
    rc = M2MSEC_OK;
out:
    cJSON_Delete(tree);
    if (rc != M2MSEC_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

/* TS-0003 10.3.4: the MEF's keID must name our RelativeKeID (hex of either case) and the MEF. */
int cl_mef_keid_check(const char *theirs, const uint8_t rel[KDF_EXPORT_ID_LEN], const char *fqdn)
{
    uint8_t their_rel[KDF_EXPORT_ID_LEN];
    const uint8_t *f = NULL;
    size_t fl = 0;
    if (kdf_keid_parse((const uint8_t *)theirs, strlen(theirs), their_rel, &f, &fl) != M2M_OK ||
        fl != strlen(fqdn) || strncasecmp((const char *)f, fqdn, fl) != 0 ||
        !m2m_ct_eq(their_rel, rel, KDF_EXPORT_ID_LEN))
        return M2MSEC_ERR_PROTOCOL;
    return M2MSEC_OK;
}

/* One line for a refusal: the RSC and the MEF's m2m:dbg or errorString when it sent one. */
static int refused(struct m2msec_client *c, const char *what, const struct m2msec_response *r,
                   int *rsc)
{
    cJSON *tree = NULL;
    const char *dbg = "";
    if (rsc)
        *rsc = r->rsc;
    if (json_parse((const uint8_t *)r->body, r->body_len, MEF_JSON_DEPTH, &tree) == M2M_OK) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(tree, "m2m:dbg");
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(tree, "sec:fcr");
        if (!cJSON_IsString(d))
            d = cJSON_GetObjectItemCaseSensitive(f, "errorString");
        if (cJSON_IsString(d))
            dbg = d->valuestring;
    }
    cl_errf(c, M2MSEC_ERR_RSC, "%s refused by the MEF: RSC %d (HTTP %d)%s%.160s", what, r->rsc,
            r->status, dbg[0] ? ": " : "", dbg);
    for (char *p = (char *)m2msec_client_errmsg(c); c && *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            *p = '?'; /* peer text: one line, no terminal controls */
    cJSON_Delete(tree);
    return M2MSEC_ERR_RSC;
}

/* TS-0003 8.3.2.1, 10.3.1, 10.3.4 (G3): exporter, CREATE <enrolment>, keID comparison. */
int m2msec_mef_enrol(struct m2msec_client *c, const char *mef_fqdn, struct m2msec_enrolment *out,
                     int *rsc)
{
    uint8_t ex[KDF_EXPORT_LEN], rel[KDF_EXPORT_ID_LEN], ke[KDF_KEY_LEN];
    char mine[KDF_KEY_ID_BUF];
    struct m2msec_response *r = NULL;
    unsigned long gen = 0;
    int rc = M2MSEC_OK;
    if (rsc)
        *rsc = 0;
    if (c == NULL || out == NULL || mef_fqdn == NULL)
        return cl_errf(c, M2MSEC_ERR_USAGE, "enrolment needs a client and the MEF FQDN");
    memset(out, 0, sizeof *out);
    if (kdf_fqdn_valid((const uint8_t *)mef_fqdn, strlen(mef_fqdn)) == false)
        return cl_errf(c, M2MSEC_ERR_USAGE, "invalid MEF FQDN (lower-case DNS name)");
    TRY(cl_export_gen(c, KDF_EXPORTER_BOOTSTRAP, ex, sizeof ex, &gen));
    if (kdf_export_split(ex, sizeof ex, rel, ke) != M2M_OK ||
        kdf_keid_format(rel, mef_fqdn, strlen(mef_fqdn), mine, sizeof mine, NULL) != M2M_OK)
        BAIL(cl_errf(c, M2MSEC_ERR_USAGE, "cannot form the KeID"));
    TRY(m2msec_create(c, "/mef", 905, "{\"sec:enr\":{}}", &r));
    /* The MEF ran its exporter on the session that carried the CREATE: it must be ours. */
    if (cl_last_gen(c) != gen)
        BAIL(cl_errf(c, M2MSEC_ERR_PROTOCOL, "the connection was re-established during enrolment"));
    if (r->rsc != 2001)
        BAIL(refused(c, "enrolment", r, rsc));
    if (cl_mef_parse_enr((const uint8_t *)r->body, r->body_len, out) != M2MSEC_OK)
        BAIL(cl_errf(c, M2MSEC_ERR_PROTOCOL, "malformed sec:enr answer"));
    if (cl_mef_keid_check(out->keid, rel, mef_fqdn) != M2MSEC_OK)
        BAIL(cl_errf(c, M2MSEC_ERR_PROTOCOL, "the MEF's keID does not match our exporter"));
    snprintf(out->keid, sizeof out->keid, "%s", mine);
    memcpy(out->ke, ke, sizeof ke);
out:
    m2m_wipe(ex, sizeof ex);
    m2m_wipe(ke, sizeof ke);
    m2msec_response_free(r);
    if (rc != M2MSEC_OK)
        m2msec_enrolment_wipe(out);
    return rc;
}

int m2msec_mef_derive_key(const struct m2msec_enrolment *e, int suid, const char *target_fqdn,
                          uint8_t key[M2MSEC_KEY_LEN])
{
    if (e == NULL || target_fqdn == NULL || key == NULL || suid <= 0)
        return M2MSEC_ERR_USAGE;
    /* TS-0003 10.3.7: HMAC-SHA-256(Ke, label || SUID || Enrolment-Target-FQDN). */
    if (kdf_usage_key(e->ke, sizeof e->ke, (unsigned)suid, (const uint8_t *)target_fqdn,
                      strlen(target_fqdn), key) != M2M_OK)
        return M2MSEC_ERR_USAGE;
    return M2MSEC_OK;
}

/* ---- MEF Client Registration (8.3.5.2.3, 8.3.5.2.6) ---- */

/* The MEFClientRegID of a sec:mcr answer: also a path segment, so letters, digits, '_' '-'. */
int cl_mef_parse_mcr(const uint8_t *in, size_t len, char *reg_id, size_t cap)
{
    cJSON *tree = NULL;
    const cJSON *mcr = NULL;
    int rc = parse_root(in, len, "sec:mcr", &tree, &mcr);
    if (rc != M2MSEC_OK)
        return rc;
    if (!get_id(mcr, "ri", reg_id, cap) ||
        strspn(reg_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
                       "nopqrstuvwxyz0123456789_-") != strlen(reg_id))
        rc = M2MSEC_ERR_PROTOCOL;
    cJSON_Delete(tree);
    return rc;
}

static cJSON *mcr_body(const char *fqdn, const char *admin, const char *et,
                       const char *const *labels, size_t n)
{
    cJSON *j = cJSON_CreateObject(), *m = cJSON_AddObjectToObject(j, "sec:mcr");
    bool ok = m && cJSON_AddStringToObject(m, "fqdn", fqdn) &&
              cJSON_AddStringToObject(m, "adminFQDN", admin) &&
              (et == NULL || cJSON_AddStringToObject(m, "et", et));
    if (ok && n > 0) {
        cJSON *l = cJSON_AddArrayToObject(m, "lbl");
        for (size_t i = 0; ok && i < n; i++)
            ok = l && labels[i] && cJSON_AddItemToArray(l, cJSON_CreateString(labels[i]));
    }
    if (!ok) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

int m2msec_mef_register(struct m2msec_client *c, const char *mef_fqdn, const char *admin_fqdn,
                        const char *et, const char *const *labels, size_t n_labels, char **reg_id,
                        int *rsc)
{
    struct m2msec_response *r = NULL;
    char id[256], *body = NULL;
    int rc = M2MSEC_OK;
    if (rsc)
        *rsc = 0;
    if (reg_id)
        *reg_id = NULL;
    if (c == NULL || mef_fqdn == NULL || admin_fqdn == NULL || reg_id == NULL || n_labels > 256 ||
        (n_labels > 0 && labels == NULL))
        return cl_errf(c, M2MSEC_ERR_USAGE, "registration needs the MEF FQDN and adminFQDN");
    cJSON *j = mcr_body(mef_fqdn, admin_fqdn, et, labels, n_labels);
    body = j ? json_print(j) : NULL;
    cJSON_Delete(j);
    if (body == NULL)
        return cl_errf(c, M2MSEC_ERR_NOMEM, "out of memory (or a NULL label)");
    TRY(m2msec_create(c, "/mef", 902, body, &r));
    if (r->rsc != 2001)
        BAIL(refused(c, "registration", r, rsc));
    if (cl_mef_parse_mcr((const uint8_t *)r->body, r->body_len, id, sizeof id) != M2MSEC_OK)
        BAIL(cl_errf(c, M2MSEC_ERR_PROTOCOL, "malformed sec:mcr answer"));
    if ((*reg_id = strdup(id)) == NULL)
        BAIL(cl_errf(c, M2MSEC_ERR_NOMEM, "out of memory"));
out:
    free(body);
    m2msec_response_free(r);
    return rc;
}

/* A MEFClientRegID we put into a path: the form cl_mef_parse_mcr accepts. */
static bool reg_id_ok(const char *id)
{
    size_t n = id ? strnlen(id, 256) : 0;
    return n > 0 && n < 256 &&
           strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

int m2msec_mef_deregister(struct m2msec_client *c, const char *reg_id, int *rsc)
{
    struct m2msec_response *r = NULL;
    char path[300];
    if (rsc)
        *rsc = 0;
    if (c == NULL || !reg_id_ok(reg_id))
        return cl_errf(c, M2MSEC_ERR_USAGE, "invalid MEFClientRegID");
    snprintf(path, sizeof path, "/mef/%s", reg_id);
    int rc = m2msec_delete(c, path, &r);
    if (rc == M2MSEC_OK && r->rsc != 2002)
        rc = refused(c, "de-registration", r, rsc);
    m2msec_response_free(r);
    return rc;
}

/* ---- MEF Client Commands (TS-0003 8.3.9, 12.4.4-12.4.10) ---- */

/* cmdArgs of NO_MORE_COMMANDS (12.4.5) and CERT_PROV (12.4.6). */
static bool parse_args(const cJSON *args, struct cl_mef_cmd *out)
{
    if (out->class_id == CL_MEF_NO_MORE_COMMANDS) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(args, "noMoreCmdArgs");
        return cJSON_IsObject(a) && get_id(a, "retryDuration", out->retry, sizeof out->retry);
    }
    if (out->class_id == CL_MEF_CERT_PROV) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(args, "certProvCmdArgs");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(a, "certProvProtocolID");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(a, "certSubjectType");
        if (!cJSON_IsObject(a) || !json_is_int_in(p, 0, 255) || !json_is_int_in(t, 0, 255) ||
            !get_id(a, "URI", out->uri, sizeof out->uri) ||
            !get_id(a, "certSubjectID", out->subject_id, sizeof out->subject_id))
            return false;
        out->protocol = (int)p->valuedouble;
        out->subject_type = (int)t->valuedouble;
        return true;
    }
    return true; /* other classes are refused before their arguments matter */
}

/* The fields of sec:mcc. PROTOCOL only when the command cannot even be reported (no sec:mcc, no
 * cmdID); an unusable cmdDescription leaves class_id -1 or args_ok false for the decision. */
int cl_mef_parse_cmd(const uint8_t *in, size_t len, struct cl_mef_cmd *out)
{
    cJSON *tree = NULL;
    const cJSON *mcc = NULL;
    memset(out, 0, sizeof *out);
    out->class_id = -1;
    int rc = parse_root(in, len, "sec:mcc", &tree, &mcc);
    if (rc != M2MSEC_OK)
        return rc;
    if (!get_id(mcc, "cmdID", out->id, sizeof out->id) ||
        strspn(out->id, "0123456789") != strlen(out->id)) {
        cJSON_Delete(tree);
        memset(out, 0, sizeof *out);
        return M2MSEC_ERR_PROTOCOL;
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(mcc, "cmdStatusCode");
    out->status = json_is_int_in(st, 0, 999) ? (int)st->valuedouble : 0;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(mcc, "cmdDescription");
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(d, "cmdClassID");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(d, "cmdArgs");
    const cJSON *tid = cJSON_GetObjectItemCaseSensitive(d, "targetID");
    if (cJSON_IsObject(d) && json_is_int_in(cls, 0, 255)) {
        out->class_id = (int)cls->valuedouble;
        /* G10 [INTERP]: targetID optional; present, it must be an identifier. */
        out->args_ok =
            cJSON_IsObject(args) &&
            (tid == NULL || get_id(d, "targetID", out->target_id, sizeof out->target_id)) &&
            parse_args(args, out);
    }
    cJSON_Delete(tree);
    return M2MSEC_OK;
}

/* [INTERP] TS-0003 8.3.9.7 (with the CSE/AE swap of its text corrected, SPEC-MAP G10): the
 * certSubjectID must be of the kind certSubjectType names. CSE-ID: "/csi" or "//sp/csi"; AE-ID:
 * "C..."/"S...", or such a stem after a CSE-ID, or an S stem after "/" or "//sp" (TS-0001 7.2,
 * TS-0004 6.2.3: an S-AE-ID has no CSE-ID part); Node-ID: "urn:..." or a dotted OID. */
bool cl_mef_subject_kind_ok(int type, const char *id)
{
    size_t n = strlen(id);
    const char *last = strrchr(id, '/');
    if (n == 0 || strchr(id, '*'))
        return false;
    switch (type) {
    case 1:
        return (strncmp(id, "urn:", 4) == 0 && n > 4) ||
               (strspn(id, "0123456789.") == n && id[0] != '.' && id[n - 1] != '.');
    case 2:
        if (id[0] != '/' || id[n - 1] == '/')
            return false;
        return strncmp(id, "//", 2) == 0 ? strchr(id + 2, '/') == last && last > id + 2
                                         : last == id;
    case 3:
        if (last == NULL)
            return id[0] == 'C' || id[0] == 'S';
        if (last[1] != 'C' && last[1] != 'S')
            return false;
        if (last[1] == 'S' && (last == id || (strncmp(id, "//", 2) == 0 && last > id + 2 &&
                                              strchr(id + 2, '/') == last)))
            return true; /* "/S..." (SP-relative) or "//sp/S..." (absolute) */
        char cse[256];
        size_t cl = (size_t)(last - id);
        if (cl >= sizeof cse)
            return false;
        memcpy(cse, id, cl);
        cse[cl] = 0;
        return cl_mef_subject_kind_ok(2, cse);
    default: return false;
    }
}

/* The path of an https URI whose host (without port) equals fqdn ignoring case; NULL if not. */
const char *cl_mef_uri_path(const char *uri, const char *fqdn)
{
    static const char scheme[] = "https://";
    if (uri == NULL || fqdn == NULL || strncasecmp(uri, scheme, sizeof scheme - 1) != 0)
        return NULL;
    const char *host = uri + sizeof scheme - 1;
    size_t hl = strcspn(host, ":/");
    if (hl != strlen(fqdn) || strncasecmp(host, fqdn, hl) != 0)
        return NULL;
    const char *p = host + hl;
    if (*p == ':') {
        size_t dl = strspn(p + 1, "0123456789");
        if (dl == 0 || dl > 5)
            return NULL;
        p += 1 + dl;
    }
    if (*p != '/' || strpbrk(p, "?#") != NULL)
        return NULL;
    return p;
}

/* TS-0003 8.3.9.2 step 5 and 8.3.9.6/8.3.9.7: what the client does with a command. Pure. */
void cl_mef_decide(const struct cl_mef_cmd *cmd, const struct m2msec_mef_cmd_env *env,
                   const char *last_id, struct cl_mef_decision *d)
{
    d->act = CL_MEF_REPORT;
    d->status = CL_MEF_ST_OK;
    /* 8.3.9.2 step 5: the cmdID last reported again is REPEATED_CMD_ID. */
    if (last_id != NULL && last_id[0] && strcmp(cmd->id, last_id) == 0) {
        d->status = CL_MEF_ST_REPEATED_CMD_ID;
        return;
    }
    if (cmd->class_id == -1) { /* no usable cmdDescription ([INTERP]: its arguments) */
        d->status = CL_MEF_ST_BAD_ARGUMENTS;
        return;
    }
    if (cmd->class_id != CL_MEF_NO_MORE_COMMANDS && cmd->class_id != CL_MEF_CERT_PROV) {
        d->status = CL_MEF_ST_CLASS_NOT_SUPPORTED; /* DEV_CFG, MO_NODE, unknown */
        return;
    }
    if (!cmd->args_ok) {
        d->status = CL_MEF_ST_BAD_ARGUMENTS;
        return;
    }
    if (cmd->class_id == CL_MEF_NO_MORE_COMMANDS) {
        d->act = CL_MEF_STOP; /* 8.3.9.6: set the retry timer, report nothing */
        return;
    }
    /* 8.3.9.7: EST only (SCEP is not implemented), the MEF's own host, an allowed subject. */
    unsigned types = env->subject_types;
    bool type_ok = cmd->subject_type >= 1 && cmd->subject_type <= 3 &&
                   (types == 0 || (types & (1u << cmd->subject_type)) != 0);
    if (cmd->protocol != 1 || cl_mef_uri_path(cmd->uri, env->mef_fqdn) == NULL || !type_ok ||
        !cl_mef_subject_kind_ok(cmd->subject_type, cmd->subject_id)) {
        d->status = CL_MEF_ST_UNACCEPTABLE_ARGUMENTS;
        return;
    }
    d->act = CL_MEF_RUN_EST;
}

/* 8.3.9.7: an EST failure on the MEF's side (it refused or answered nonsense, or the transport
 * failed) is CERT_PROV_SERVER_ERROR; a local one (key, CSR, files) CERT_PROV_CLIENT_ERROR. */
int cl_mef_est_status(int rc)
{
    switch (rc) {
    case M2MSEC_OK: return CL_MEF_ST_OK;
    case M2MSEC_ERR_RSC:
    case M2MSEC_ERR_PROTOCOL:
    case M2MSEC_ERR_CONNECT:
    case M2MSEC_ERR_TLS:
    case M2MSEC_ERR_TIMEOUT:
    case M2MSEC_ERR_CLOSED: return CL_MEF_ST_CERT_PROV_SERVER_ERROR;
    default: return CL_MEF_ST_CERT_PROV_CLIENT_ERROR;
    }
}

/* Reads a command answer (GET 2000 or PUT 2004) into cmd. */
static int read_cmd(struct m2msec_client *c, struct m2msec_response *r, int want,
                    struct cl_mef_cmd *cmd)
{
    if (r->rsc != want)
        return refused(c, want == 2000 ? "command retrieve" : "command update", r, NULL);
    if (cl_mef_parse_cmd((const uint8_t *)r->body, r->body_len, cmd) != M2MSEC_OK)
        return cl_errf(c, M2MSEC_ERR_PROTOCOL, "malformed sec:mcc answer");
    return M2MSEC_OK;
}

/* Executes a CERT_PROV command with EST over the client's session. */
static int run_cert_prov(struct m2msec_client *c, const struct cl_mef_cmd *cmd,
                         const struct m2msec_mef_cmd_env *env, struct m2msec_mef_cmd_report *rep)
{
    int http = 0;
    if (env->cert_out == NULL || env->key_out == NULL)
        return CL_MEF_ST_CERT_PROV_CLIENT_ERROR;
    int rc = cl_est_enroll(c, cl_mef_uri_path(cmd->uri, env->mef_fqdn), cmd->subject_id, false,
                           env->key_out, env->cert_out, env->ca_out, &http);
    if (rc == M2MSEC_OK)
        snprintf(rep->cert_subject, sizeof rep->cert_subject, "%s", cmd->subject_id);
    return cl_mef_est_status(rc);
}

int m2msec_mef_process_commands(struct m2msec_client *c, const char *reg_id,
                                const struct m2msec_mef_cmd_env *env,
                                struct m2msec_mef_cmd_report *report)
{
    struct m2msec_response *r = NULL;
    struct cl_mef_cmd cmd;
    char path[300], body[160], last[sizeof cmd.id] = "";
    int rc = M2MSEC_OK;
    if (c == NULL || !reg_id_ok(reg_id) || env == NULL || env->mef_fqdn == NULL || report == NULL)
        return cl_errf(c, M2MSEC_ERR_USAGE, "command processing needs a MEFClientRegID and env");
    memset(report, 0, sizeof *report);
    int max = env->max_commands > 0 ? env->max_commands : MEF_DEFAULT_MAX_CMDS;
    snprintf(path, sizeof path, "/mef/%s/cmd", reg_id);
    /* 8.3.9.2: Command Retrieve after the registration, then Update with each status. */
    TRY(m2msec_retrieve(c, path, NULL, &r));
    TRY(read_cmd(c, r, 2000, &cmd));
    while (report->n_processed < max) {
        struct cl_mef_decision d;
        cl_mef_decide(&cmd, env, last, &d);
        if (d.act == CL_MEF_STOP) {
            snprintf(report->retry_duration, sizeof report->retry_duration, "%s", cmd.retry);
            break;
        }
        if (d.act == CL_MEF_RUN_EST)
            d.status = run_cert_prov(c, &cmd, env, report);
        /* 8.3.9.3: Command Update with the status; the answer is the next command. */
        snprintf(body, sizeof body, "{\"sec:mcc\":{\"cmdID\":\"%s\",\"cmdStatusCode\":%d}}", cmd.id,
                 d.status);
        snprintf(last, sizeof last, "%s", cmd.id);
        report->n_processed++;
        report->last_status = d.status;
        m2msec_response_free(r);
        r = NULL;
        TRY(m2msec_update(c, path, body, &r));
        TRY(read_cmd(c, r, 2004, &cmd));
    }
out:
    m2msec_response_free(r);
    return rc;
}

/* ---- fetchCredentials (G5, docs/MEF.md) ---- */

int cl_mef_parse_fcr(const uint8_t *in, size_t len, uint8_t *key, size_t *key_len, char *enrolee,
                     size_t enrolee_cap, int64_t *lifetime_s)
{
    cJSON *tree = NULL;
    const cJSON *f = NULL;
    size_t got = 0;
    int rc = parse_root(in, len, "sec:fcr", &tree, &f);
    if (rc != M2MSEC_OK)
        return rc;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(f, "status");
    const cJSON *cred = cJSON_GetObjectItemCaseSensitive(f, "credential");
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(f, "lifetime");
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(f, "enroleeID");
    rc = M2MSEC_ERR_PROTOCOL;
    if (!cJSON_IsTrue(st) || !cJSON_IsString(cred) || !json_is_int_in(lt, 0, INT32_MAX) ||
        (en != NULL && !cJSON_IsString(en)))
        goto out;
    if (cl_b64_decode((const uint8_t *)cred->valuestring, strlen(cred->valuestring), key, *key_len,
                      &got) != M2MSEC_OK ||
        got != M2MSEC_KEY_LEN)
        goto out;
    if (en != NULL && !get_id(f, "enroleeID", enrolee, enrolee_cap))
        goto out;
    if (en == NULL && enrolee_cap > 0)
        enrolee[0] = 0;
    *key_len = got;
    *lifetime_s = (int64_t)lt->valuedouble;
    rc = M2MSEC_OK;
out:
    if (rc != M2MSEC_OK)
        m2m_wipe(key, *key_len);
    m2m_wipe(cred && cJSON_IsString(cred) ? cred->valuestring : NULL,
             cred && cJSON_IsString(cred) ? strlen(cred->valuestring) : 0);
    cJSON_Delete(tree);
    return rc;
}

int m2msec_mef_fetch_credentials(struct m2msec_client *c, const char *keid, int suid, uint8_t *key,
                                 size_t *key_len, char *enrolee, size_t enrolee_cap,
                                 int64_t *lifetime_s, int *rsc)
{
    struct m2msec_response *r = NULL;
    uint8_t rel[KDF_EXPORT_ID_LEN];
    const uint8_t *f = NULL;
    size_t fl = 0;
    char path[KDF_KEY_ID_BUF + 40];
    if (rsc)
        *rsc = 0;
    if (c == NULL || keid == NULL || key == NULL || key_len == NULL || *key_len < M2MSEC_KEY_LEN ||
        enrolee == NULL || enrolee_cap == 0 || lifetime_s == NULL || suid <= 0 ||
        !kdf_suid_valid((unsigned)suid) ||
        kdf_keid_parse((const uint8_t *)keid, strnlen(keid, KDF_KEY_ID_BUF), rel, &f, &fl) !=
            M2M_OK)
        return cl_errf(c, M2MSEC_ERR_USAGE, "fetchCredentials needs a KeID, a SUID and buffers");
    snprintf(path, sizeof path, "/fetchCredentials/%s/%d", keid, suid);
    int rc = m2msec_retrieve(c, path, NULL, &r);
    if (rc == M2MSEC_OK && r->rsc != 2000)
        rc = refused(c, "fetchCredentials", r, rsc);
    else if (rc == M2MSEC_OK &&
             cl_mef_parse_fcr((const uint8_t *)r->body, r->body_len, key, key_len, enrolee,
                              enrolee_cap, lifetime_s) != M2MSEC_OK)
        rc = cl_errf(c, M2MSEC_ERR_PROTOCOL, "malformed sec:fcr answer");
    if (r)
        m2m_wipe(r->body, r->body_len);
    m2msec_response_free(r);
    return rc;
}
