/* credadmin.c: the credential administration resource <CSEBase>/_cred: admin check and audit,
 * the CREATE body parser, path-safe references, and the list/read/provision/revoke operations
 * on the credential database (credstore). */
#include "cse/credadmin.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/secret.h"
#include "base/timeutil.h"
#include "cse/audit.h"
#include "cse/cse_internal.h"
#include "enc/json.h"

/* ---- base64 ----------------------------------------------------------------------------- */

static int b64_val(unsigned char ch, bool url)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == (url ? '-' : '+'))
        return 62;
    if (ch == (url ? '_' : '/'))
        return 63;
    return -1;
}

/* Decodes len characters of base64 (url: the RFC 4648 section 5 alphabet). Padding is optional
 * but, when present, must complete the last quantum; the unused trailing bits must be zero so
 * that one byte string has one encoding. */
static m2m_rc b64_decode(const char *in, size_t len, bool url, uint8_t *out, size_t cap,
                         size_t *outlen)
{
    size_t pad = 0, n = 0;
    while (pad < 2 && len > 0 && in[len - 1] == '=')
        len--, pad++;
    if (pad > 0 && (len + pad) % 4 != 0)
        return M2M_ERR_MALFORMED;
    if (len % 4 == 1)
        return M2M_ERR_MALFORMED;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_val((unsigned char)in[i], url);
        if (v < 0)
            return M2M_ERR_MALFORMED;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap)
                return M2M_ERR_LIMIT;
            out[n++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return M2M_ERR_MALFORMED; /* non-zero trailing bits */
    *outlen = n;
    return M2M_OK;
}

m2m_rc credadmin_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
    return b64_decode(in, len, false, out, cap, outlen);
}

/* ---- references --------------------------------------------------------------------------- */

m2m_rc credadmin_ref_encode(const char *cred_id, char *out, size_t outlen)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = strlen(cred_id);
    if (strchr(cred_id, '/') == NULL) {
        if (n + 1 > outlen)
            return M2M_ERR_LIMIT;
        memcpy(out, cred_id, n + 1);
        return M2M_OK;
    }
    if (1 + (n + 2) / 3 * 4 + 1 > outlen)
        return M2M_ERR_LIMIT;
    size_t o = 0;
    out[o++] = '@';
    const uint8_t *p = (const uint8_t *)cred_id;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = abc[(v >> 18) & 63];
        out[o++] = abc[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = abc[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = abc[v & 63];
    }
    out[o] = 0;
    return M2M_OK;
}

m2m_rc credadmin_ref_decode(const char *ref, char *out, size_t outlen)
{
    size_t n = strnlen(ref, outlen * 2);
    if (n == 0 || outlen == 0)
        return M2M_ERR_MALFORMED;
    if (ref[0] != '@') {
        if (n + 1 > outlen)
            return M2M_ERR_LIMIT;
        memcpy(out, ref, n + 1);
    } else {
        size_t m = 0;
        RETURN_IF_ERR(b64_decode(ref + 1, n - 1, true, (uint8_t *)out, outlen - 1, &m));
        out[m] = 0;
        if (m == 0 || strlen(out) != m)
            return M2M_ERR_MALFORMED; /* empty or an embedded NUL */
    }
    for (const char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return M2M_ERR_MALFORMED;
    return M2M_OK;
}

/* ---- the CREATE body -------------------------------------------------------------------- */

void credadmin_new_clear(struct credadmin_new *n)
{
    if (n != NULL)
        m2m_wipe(n, sizeof *n);
}

static m2m_rc why_bad(char *why, size_t whylen, const char *msg)
{
    snprintf(why, whylen, "%s", msg);
    return M2M_ERR_MALFORMED;
}

/* Copies a string member into dst (bounded, no NUL inside: json_parse refuses those). */
static m2m_rc str_member(const cJSON *o, const char *name, char *dst, size_t cap)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(s) || s->valuestring == NULL || s->valuestring[0] == 0)
        return M2M_ERR_MALFORMED;
    size_t n = strlen(s->valuestring);
    if (n >= cap)
        return M2M_ERR_LIMIT;
    memcpy(dst, s->valuestring, n + 1);
    return M2M_OK;
}

static m2m_rc b64_member(const cJSON *o, const char *name, uint8_t *dst, size_t cap, size_t *len)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(s) || s->valuestring == NULL || s->valuestring[0] == 0)
        return M2M_ERR_MALFORMED;
    return b64_decode(s->valuestring, strlen(s->valuestring), false, dst, cap, len);
}

static m2m_rc parse_bind(const cJSON *o, struct credadmin_new *out)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "bind"), *e;
    if (!cJSON_IsArray(b) || cJSON_GetArraySize(b) < 1)
        return M2M_ERR_MALFORMED;
    if (cJSON_GetArraySize(b) > CRED_MAX_BIND)
        return M2M_ERR_LIMIT;
    cJSON_ArrayForEach(e, b)
    {
        if (!cJSON_IsString(e) || e->valuestring == NULL ||
            strlen(e->valuestring) >= sizeof out->bind[0])
            return M2M_ERR_MALFORMED;
        snprintf(out->bind[out->n_bind++], sizeof out->bind[0], "%s", e->valuestring);
    }
    return M2M_OK;
}

/* The members each kind takes; any other member is refused, so a typo never passes silently. */
static bool members_ok(const cJSON *o, const char *const *allowed)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, o)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = m->string && strcmp(m->string, *a) == 0;
        if (!ok)
            return false;
    }
    return true;
}

static m2m_rc parse_kind(const cJSON *o, struct credadmin_new *out, char *why, size_t whylen)
{
    static const char *const psk[] = {"kind", "identity", "key", "bind", NULL};
    static const char *const rpk[] = {"kind", "spki", "bind", NULL};
    static const char *const node[] = {"kind", "urn", "bind", NULL};
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "kind");
    const char *kind = cJSON_IsString(k) ? k->valuestring : "";
    if (strcmp(kind, "psk") == 0) {
        out->kind = CRED_PSK;
        if (!members_ok(o, psk))
            return why_bad(why, whylen, "psk takes kind, identity, key and bind only");
        if (str_member(o, "identity", out->name, sizeof out->name) != M2M_OK)
            return why_bad(why, whylen, "identity must be a KpsaID string");
        if (b64_member(o, "key", out->key, sizeof out->key, &out->key_len) != M2M_OK)
            return why_bad(why, whylen, "key must be base64 of at most 64 bytes");
    } else if (strcmp(kind, "rpk") == 0) {
        out->kind = CRED_RPK;
        if (!members_ok(o, rpk))
            return why_bad(why, whylen, "rpk takes kind, spki and bind only");
        if (b64_member(o, "spki", out->spki, sizeof out->spki, &out->spki_len) != M2M_OK)
            return why_bad(why, whylen, "spki must be base64 of a DER SubjectPublicKeyInfo");
    } else if (strcmp(kind, "node") == 0 || strcmp(kind, "device") == 0) {
        out->kind = kind[0] == 'n' ? CRED_NODE : CRED_DEVICE;
        if (!members_ok(o, node))
            return why_bad(why, whylen, "node/device take kind, urn and bind only");
        if (str_member(o, "urn", out->name, sizeof out->name) != M2M_OK)
            return why_bad(why, whylen, "urn must be a string");
    } else {
        return why_bad(why, whylen, "kind must be psk, rpk, node or device");
    }
    if (parse_bind(o, out) != M2M_OK)
        return why_bad(why, whylen, "bind must be an array of 1 to 9 identity strings");
    return M2M_OK;
}

/* Overwrites the key strings of the parsed tree before it is freed. */
static void wipe_tree_secrets(cJSON *o)
{
    cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "key");
    if (cJSON_IsString(s) && s->valuestring)
        m2m_wipe(s->valuestring, strlen(s->valuestring));
}

m2m_rc credadmin_parse(const uint8_t *in, size_t len, int max_depth, struct credadmin_new *out,
                       char *why, size_t whylen)
{
    m2m_rc rc = M2M_OK;
    cJSON *root = NULL, *o = NULL;
    memset(out, 0, sizeof *out);
    why[0] = 0;
    if (in == NULL || len == 0)
        return why_bad(why, whylen, "missing content");
    if (len > CREDADMIN_BODY_MAX) {
        snprintf(why, whylen, "content too large");
        return M2M_ERR_LIMIT;
    }
    rc = json_parse(in, len, max_depth, &root);
    if (rc != M2M_OK)
        return why_bad(why, whylen, "content is not valid JSON");
    o = cJSON_GetObjectItemCaseSensitive(root, "sec:cred");
    ENSURE(cJSON_IsObject(root) && cJSON_GetArraySize(root) == 1 && cJSON_IsObject(o),
           why_bad(why, whylen, "content must be one object named sec:cred"));
    TRY(parse_kind(o, out, why, whylen));
out:
    if (o != NULL && cJSON_IsObject(o))
        wipe_tree_secrets(o);
    cJSON_Delete(root);
    if (rc != M2M_OK)
        credadmin_new_clear(out);
    return rc;
}

/* ---- representation --------------------------------------------------------------------- */

static const char *kind_name(enum cred_kind k)
{
    switch (k) {
    case CRED_PSK: return "psk";
    case CRED_RPK: return "rpk";
    case CRED_NODE: return "node";
    case CRED_DEVICE: return "device";
    }
    return "unknown";
}

static void add_time(cJSON *o, const char *name, int64_t s)
{
    char ts[24];
    m2m_ts_format(s * 1000000, ts);
    char *comma = strchr(ts, ',');
    if (comma)
        *comma = 0; /* whole seconds are stored */
    cJSON_AddStringToObject(o, name, ts);
}

/* The representation of one credential: identifiers, bindings and key length, never key bytes. */
static cJSON *cred_json(const struct cred_info *ci)
{
    char ref[2 * M2M_ID_MAX];
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "credID", ci->cred_id);
    if (credadmin_ref_encode(ci->cred_id, ref, sizeof ref) == M2M_OK)
        cJSON_AddStringToObject(o, "ref", ref);
    cJSON_AddStringToObject(o, "kind", kind_name(ci->kind));
    cJSON_AddStringToObject(o, "name", ci->name);
    cJSON *b = cJSON_AddArrayToObject(o, "bind");
    if (b && ci->b.identity[0])
        cJSON_AddItemToArray(b, cJSON_CreateString(ci->b.identity));
    for (int i = 0; b && i < ci->b.n_bound && i < M2M_SEC_MAX_BOUND; i++)
        cJSON_AddItemToArray(b, cJSON_CreateString(ci->b.bound[i]));
    cJSON_AddNumberToObject(o, "keyLen", (double)ci->key_len);
    cJSON_AddBoolToObject(o, "revoked", ci->revoked);
    add_time(o, "created", ci->created_s);
    if (ci->revoked)
        add_time(o, "revokedAt", ci->revoked_s);
    return o;
}

/* ---- the credential database ------------------------------------------------------------- */

static m2m_rc open_store(struct cse *c, struct credstore **out)
{
    char path[sizeof c->cfg.cred_path + sizeof c->cfg.data_dir + 32];
    if (c->cfg.cred_path[0])
        snprintf(path, sizeof path, "%s", c->cfg.cred_path);
    else
        snprintf(path, sizeof path, "%s/credentials.db", c->cfg.data_dir);
    return credstore_open(path, out);
}

struct find_ctx {
    const char *want; /* Credential-ID or name */
    bool by_name;     /* this pass compares names, else Credential-IDs */
    struct cred_info ci;
    int found;   /* matches in this pass */
    cJSON *list; /* when listing */
};

static void find_cb(void *ctx, const struct cred_info *ci)
{
    struct find_ctx *f = ctx;
    if (f->list != NULL) {
        cJSON *o = cred_json(ci);
        if (o)
            cJSON_AddItemToArray(f->list, o);
        return;
    }
    if (strcmp(f->by_name ? ci->name : ci->cred_id, f->want) != 0)
        return;
    if (f->found++ == 0)
        f->ci = *ci;
}

/* One pass over the database: the credentials whose Credential-ID (or name) is want; the first
 * in *out when out != NULL. The count, or -1 when the database cannot be read. */
static int find_pass(struct credstore *cs, const char *want, bool by_name, struct cred_info *out)
{
    struct find_ctx f = {.want = want, .by_name = by_name};
    if (credstore_list(cs, find_cb, &f) != M2M_OK)
        return -1;
    if (f.found > 0 && out != NULL)
        *out = f.ci;
    return f.found;
}

/* A _cred reference names a credential by its Credential-ID or by its name (PSK identity, ni
 * identifier, URN). A name can spell another credential's Credential-ID (the KpsaID
 * "12-dev@sp.example" is the name of "12-12-dev@sp.example" and the Credential-ID of
 * "dev@sp.example"), so the Credential-IDs are searched first, then the names (both unique in
 * the database): the reference a CREATE answered (Content-Location) always finds its own
 * credential. [INTERP] two passes rather than refusing such a reference. */
static m2m_rc find_cred(struct credstore *cs, const char *want, struct cred_info *out)
{
    int n = find_pass(cs, want, false, out);
    if (n == 0)
        n = find_pass(cs, want, true, out);
    if (n < 0)
        return M2M_ERR_IO;
    return n > 0 ? M2M_OK : M2M_ERR_NOT_FOUND;
}

/* ---- requests ------------------------------------------------------------------------------ */

static const char *op_text(enum m2m_op op)
{
    static const char *n[] = {"NONE", "CREATE", "RETRIEVE", "UPDATE", "DELETE", "NOTIFY"};
    return (unsigned)op < M2M_ARRAY_LEN(n) ? n[op] : "?";
}

static void peer_text(const struct m2m_secctx *s, char *out, size_t n)
{
    out[0] = 0;
    if (s->peer.ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&s->peer)->sin_addr, out, (socklen_t)n);
    else if (s->peer.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&s->peer)->sin6_addr, out, (socklen_t)n);
}

/* One audit line: identifiers only (the Credential-ID or the _cred target), never a key. */
static void audit_cred(struct rq *q, const char *event, const char *target, const char *decision,
                       const char *reason, m2m_rsc rsc)
{
    char peer[64];
    peer_text(&q->req->sec, peer, sizeof peer);
    struct audit_event e = {q->now_us,
                            event,
                            q->orig_abs[0] ? q->orig_abs : NULL,
                            q->authn,
                            op_text(q->req->op),
                            target,
                            decision,
                            NULL,
                            -1,
                            reason,
                            peer[0] ? peer : NULL,
                            rsc};
    audit_write(q->cse->audit, &e);
}

/* Only the configured admin originator, and only when the pipeline found it authenticated by
 * its association (or the listener is configured trusted). */
static bool admin_ok(const struct rq *q, const char **reason)
{
    if (q->req->fr == NULL || strcmp(q->orig_abs, q->cse->admin_abs) != 0) {
        *reason = "not-admin";
        return false;
    }
    if (!q->authn) {
        *reason = "not-authenticated";
        return false;
    }
    return true;
}

static m2m_rsc store_rsc(m2m_rc rc)
{
    switch (rc) {
    case M2M_OK: return RSC_OK;
    case M2M_ERR_NOT_FOUND: return RSC_NOT_FOUND;
    case M2M_ERR_EXISTS: return RSC_CONFLICT;
    case M2M_ERR_MALFORMED:
    case M2M_ERR_LIMIT: return RSC_BAD_REQUEST;
    default: return RSC_INTERNAL_SERVER_ERROR;
    }
}

/* Answers with {"sec:cred": <cred>} (or the list) and the given code. */
static void answer(struct rq *q, m2m_rsc rsc, const char *name, cJSON *item)
{
    cJSON *root = cJSON_CreateObject();
    if (root == NULL || item == NULL) {
        cJSON_Delete(root);
        cJSON_Delete(item);
        m2m_response_error(q->resp, RSC_INTERNAL_SERVER_ERROR, "out of memory");
        return;
    }
    cJSON_AddItemToObject(root, name, item);
    if (res_set_rsp_body(q, root) != M2M_OK) {
        m2m_response_error(q->resp, RSC_INTERNAL_SERVER_ERROR, "out of memory");
        return;
    }
    q->resp->rsc = rsc;
}

static void do_list(struct rq *q, struct credstore *cs)
{
    struct find_ctx f = {.list = cJSON_CreateArray()};
    m2m_rc rc = f.list ? credstore_list(cs, find_cb, &f) : M2M_ERR_NOMEM;
    if (rc != M2M_OK) {
        cJSON_Delete(f.list);
        m2m_response_error(q->resp, RSC_INTERNAL_SERVER_ERROR, "cannot read the credentials");
        return;
    }
    answer(q, RSC_OK, "m2m:credl", f.list);
}

static void do_get(struct rq *q, struct credstore *cs, const char *id)
{
    struct cred_info ci;
    m2m_rc rc = find_cred(cs, id, &ci);
    if (rc != M2M_OK) {
        m2m_response_error(q->resp, store_rsc(rc), "%s",
                           rc == M2M_ERR_NOT_FOUND ? "no such credential"
                                                   : "cannot read the credentials");
        return;
    }
    answer(q, RSC_OK, "sec:cred", cred_json(&ci));
    q->resp->content_ty = CREDADMIN_TY;
}

static m2m_rc add_new(struct credstore *cs, const struct credadmin_new *n, char *cred_id,
                      size_t idlen)
{
    const char *bind[CRED_MAX_BIND];
    for (int i = 0; i < n->n_bind; i++)
        bind[i] = n->bind[i];
    switch (n->kind) {
    case CRED_PSK:
        return credstore_add_psk(cs, n->name, n->key, n->key_len, bind, n->n_bind, cred_id, idlen);
    case CRED_RPK:
        return credstore_add_rpk(cs, n->spki, n->spki_len, bind, n->n_bind, cred_id, idlen);
    case CRED_NODE:
    case CRED_DEVICE:
        return credstore_add_node(cs, n->kind, n->name, bind, n->n_bind, cred_id, idlen);
    }
    return M2M_ERR_MALFORMED;
}

static void set_location(struct rq *q, const char *cred_id)
{
    char ref[2 * M2M_ID_MAX], loc[3 * M2M_ID_MAX];
    if (credadmin_ref_encode(cred_id, ref, sizeof ref) != M2M_OK)
        return;
    snprintf(loc, sizeof loc, "%s/_cred/%s", q->cse->cfg.cse_name, ref);
    free(q->resp->content_location);
    q->resp->content_location = strdup(loc);
}

static void do_create(struct rq *q, struct credstore *cs)
{
    struct credadmin_new n;
    char why[160], cred_id[M2M_ID_MAX] = "";
    struct cred_info ci;
    if (q->req->ty != CREDADMIN_TY) {
        m2m_response_error(q->resp, RSC_INVALID_CHILD_RESOURCE_TYPE,
                           "_cred takes resource type %d only", CREDADMIN_TY);
        return;
    }
    m2m_rc rc = credadmin_parse(q->req->pc, q->req->pc_len, q->cse->cfg.max_json_depth, &n, why,
                                sizeof why);
    if (rc == M2M_OK)
        rc = add_new(cs, &n, cred_id, sizeof cred_id);
    else
        snprintf(cred_id, sizeof cred_id, "-");
    credadmin_new_clear(&n);
    if (rc != M2M_OK) {
        m2m_response_error(q->resp, store_rsc(rc), "%s",
                           why[0]                 ? why
                           : rc == M2M_ERR_EXISTS ? "this credential was already provisioned"
                           : rc == M2M_ERR_MALFORMED
                               ? "invalid identity, key, key length or binding"
                               : "cannot store the credential");
        return;
    }
    log_info("credadmin: %s provisioned %s", q->orig_abs, cred_id);
    audit_cred(q, "cred-create", cred_id, NULL, NULL, RSC_CREATED);
    if (find_cred(cs, cred_id, &ci) != M2M_OK) {
        q->resp->rsc = RSC_CREATED; /* stored; the representation could not be read back */
        return;
    }
    answer(q, RSC_CREATED, "sec:cred", cred_json(&ci));
    q->resp->content_ty = CREDADMIN_TY;
    set_location(q, cred_id);
}

/* credstore_revoke(key) revokes every active credential whose Credential-ID OR name is key.
 * The key that touches ci alone: its Credential-ID when no other credential is named so, else
 * its name when no other credential has that Credential-ID (names and Credential-IDs are each
 * unique). M2M_ERR_EXISTS when both collide: nothing is revoked rather than a bystander. */
static m2m_rc revoke_key(struct credstore *cs, const struct cred_info *ci, const char **key)
{
    int n = find_pass(cs, ci->cred_id, true, NULL), m = 0;
    if (n == 0) {
        *key = ci->cred_id;
        return M2M_OK;
    }
    if (n < 0 || (m = find_pass(cs, ci->name, false, NULL)) < 0)
        return M2M_ERR_IO;
    if (m != 0)
        return M2M_ERR_EXISTS;
    *key = ci->name;
    return M2M_OK;
}

static void do_revoke(struct rq *q, struct credstore *cs, const char *id)
{
    struct cred_info ci;
    const char *key = NULL;
    m2m_rc rc = find_cred(cs, id, &ci);
    if (rc == M2M_OK)
        rc = revoke_key(cs, &ci, &key);
    if (rc == M2M_OK)
        rc = credstore_revoke(cs, key);
    if (rc != M2M_OK) {
        m2m_response_error(q->resp, store_rsc(rc), "%s",
                           rc == M2M_ERR_NOT_FOUND ? "no such credential"
                           : rc == M2M_ERR_EXISTS  ? "the credential cannot be revoked alone"
                                                   : "cannot revoke the credential");
        return;
    }
    log_info("credadmin: %s revoked %s", q->orig_abs, ci.cred_id);
    audit_cred(q, "cred-revoke", ci.cred_id, NULL, NULL, RSC_DELETED);
    q->resp->rsc = RSC_DELETED;
}

static void dispatch(struct rq *q, struct credstore *cs, const char *id)
{
    enum m2m_op op = q->req->op;
    if (op == M2M_OP_RETRIEVE && id == NULL)
        do_list(q, cs);
    else if (op == M2M_OP_RETRIEVE)
        do_get(q, cs, id);
    else if (op == M2M_OP_CREATE && id == NULL)
        do_create(q, cs);
    else if (op == M2M_OP_DELETE && id != NULL)
        do_revoke(q, cs, id);
    else
        m2m_response_error(q->resp, RSC_OPERATION_NOT_ALLOWED,
                           "_cred takes RETRIEVE and CREATE, _cred/<id> RETRIEVE and DELETE");
}

void credadmin_handle(struct rq *q, const char *ref)
{
    const char *reason = NULL;
    char target[M2M_ID_MAX + 16], id[M2M_ID_MAX];
    struct credstore *cs = NULL;
    snprintf(target, sizeof target, "_cred%s%.*s", ref[0] ? "/" : "", M2M_ID_MAX, ref);
    if (!admin_ok(q, &reason)) {
        m2m_response_error(q->resp, RSC_ORIGINATOR_HAS_NO_PRIVILEGE,
                           "credential administration is for the authenticated administrator");
        audit_cred(q, "decision", target, "deny", reason, RSC_ORIGINATOR_HAS_NO_PRIVILEGE);
        goto out;
    }
    if (ref[0] && credadmin_ref_decode(ref, id, sizeof id) != M2M_OK) {
        m2m_response_error(q->resp, RSC_BAD_REQUEST, "invalid credential reference");
        goto out;
    }
    if (open_store(q->cse, &cs) != M2M_OK) {
        m2m_response_error(q->resp, RSC_INTERNAL_SERVER_ERROR,
                           "cannot open the credential database");
        goto out;
    }
    dispatch(q, cs, ref[0] ? id : NULL);
out:
    credstore_close(cs);
    /* the body of a CREATE may hold a key: nothing reads it after this request */
    if (q->req->pc != NULL)
        m2m_wipe(q->req->pc, q->req->pc_len);
}
