/* pipeline.c: the fixed order in which every request is processed (TS-0004 7.2.2.2, SPEC-MAP B7):
 * primitive validity and identity checks (B3/B4) -> registration special cases (B5/B6) -> target
 * exists (4004) -> access decision (A12) -> handler -> store -> notify. Handlers never decide
 * access; they are called only after authz_check() permitted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cse/credadmin.h"
#include "cse/cse_internal.h"
#include "enc/json.h"

bool cse_is_mutating(const struct m2m_request *req)
{
    if (req->op == M2M_OP_CREATE || req->op == M2M_OP_UPDATE || req->op == M2M_OP_DELETE)
        return true;
    return false;
}

bool res_expired(const struct res *r, int64_t now_us)
{
    for (; r != NULL; r = r->parent)
        if (r->et_us > 0 && r->et_us <= now_us)
            return true;
    return false;
}

/* Resolves a CSE-relative remainder: "cse-in/a/b", "-/a/b", "<ri>", "<ri>/a/b". */
static struct res *resolve_rel(struct cse *c, const char *p, size_t len)
{
    const char *slash = memchr(p, '/', len);
    size_t first = slash ? (size_t)(slash - p) : len;
    char buf[2048];
    if (len >= sizeof buf)
        return NULL;
    if ((first == 1 && p[0] == '-') ||
        (first == strlen(c->cfg.cse_name) && memcmp(p, c->cfg.cse_name, first) == 0)) {
        int n = snprintf(buf, sizeof buf, "%s%.*s", c->cfg.cse_name, (int)(len - first), p + first);
        if (n < 0 || (size_t)n >= sizeof buf)
            return NULL;
        return tree_by_path(&c->tree, buf, (size_t)n);
    }
    memcpy(buf, p, first);
    buf[first] = 0;
    struct res *r = tree_by_ri(&c->tree, buf);
    if (r == NULL || first == len)
        return r;
    int n = snprintf(buf, sizeof buf, "%s%.*s", r->path, (int)(len - first), p + first);
    if (n < 0 || (size_t)n >= sizeof buf)
        return NULL;
    return tree_by_path(&c->tree, buf, (size_t)n);
}

/* Strips the SP-relative or absolute prefix of an ID that addresses this CSE; returns the
 * CSE-relative remainder ("" for the CSE itself), or NULL when the ID names another CSE/SP. */
static const char *strip_prefix(struct cse *c, const char *id, bool *other)
{
    *other = false;
    const char *p = id;
    if (p[0] == '/' && p[1] == '/') {
        size_t sl = strlen(c->sp_abs);
        if (strncmp(p, c->sp_abs, sl) != 0 || (p[sl] != '/' && p[sl] != 0)) {
            *other = true;
            return NULL;
        }
        p += sl;
    }
    if (p[0] == '/') {
        size_t cl = strlen(c->cfg.cse_id);
        if (strncmp(p, c->cfg.cse_id, cl) != 0 || (p[cl] != '/' && p[cl] != 0)) {
            *other = true;
            return NULL;
        }
        p += cl;
        if (*p == '/')
            p++;
        return p;
    }
    return p;
}

struct res *cse_resolve_id(struct cse *c, const char *id)
{
    bool other;
    const char *rel = strip_prefix(c, id, &other);
    if (rel == NULL)
        return NULL;
    if (*rel == 0)
        return c->tree.root;
    return resolve_rel(c, rel, strlen(rel));
}

/* <CSEBase>/_cred[/<ref>], the credential administration resource (credadmin.h): the CSEBase by
 * its resourceName, "-" or its resource ID, then the segment "_cred"; *ref gets what follows. */
static bool cred_target(struct cse *c, const char *to, const char **ref)
{
    bool other;
    const char *rel = to ? strip_prefix(c, to, &other) : NULL;
    const char *slash = rel ? strchr(rel, '/') : NULL;
    if (slash == NULL || strncmp(slash + 1, "_cred", 5) != 0 || (slash[6] != 0 && slash[6] != '/'))
        return false;
    size_t first = (size_t)(slash - rel);
    if (!(first == 1 && rel[0] == '-') &&
        !(first == strlen(c->cfg.cse_name) && memcmp(rel, c->cfg.cse_name, first) == 0) &&
        !(first == strlen(c->base_ri) && memcmp(rel, c->base_ri, first) == 0))
        return false;
    *ref = slash[6] == '/' ? slash + 7 : "";
    return true;
}

m2m_rsc cse_resolve(struct rq *q, const char *to, struct target *t, char *why, size_t whylen)
{
    struct cse *c = q->cse;
    memset(t, 0, sizeof *t);
    bool other;
    if (to == NULL || *to == 0) {
        snprintf(why, whylen, "missing target");
        return RSC_BAD_REQUEST;
    }
    const char *rel = strip_prefix(c, to, &other);
    if (rel == NULL) {
        /* No forwarding to other CSEs in this release (transit role not implemented). */
        snprintf(why, whylen, "target is not hosted on this CSE");
        return RSC_TARGET_NOT_REACHABLE;
    }
    size_t len = strlen(rel);
    while (len > 0 && rel[len - 1] == '/')
        len--;
    if (len == 0) {
        t->r = c->tree.root;
        return RSC_OK;
    }
    /* the admin request <target>/_explain/<operation>/<originator> ("_" never starts a
     * resourceName, so it cannot shadow a resource) */
    const char *ex = NULL;
    for (size_t i = 0; i + 10 <= len; i++)
        if ((i == 0 || rel[i - 1] == '/') && memcmp(rel + i, "_explain/", 9) == 0) {
            ex = rel + i;
            break;
        }
    if (ex != NULL) {
        size_t plen = (size_t)(ex - rel);
        t->r = plen == 0 ? c->tree.root : resolve_rel(c, rel, plen - 1);
        t->virt = VIRT_EXPLAIN;
        snprintf(t->rest, sizeof t->rest, "%.*s", (int)(len - plen - 9), ex + 9);
        if (t->r == NULL || res_expired(t->r, q->now_us)) {
            snprintf(why, whylen, "resource does not exist");
            t->r = NULL;
            return RSC_NOT_FOUND;
        }
        return RSC_OK;
    }
    t->r = resolve_rel(c, rel, len);
    if (t->r == NULL) {
        /* virtual resources: <container>/la, <container>/ol, <group>/fopt[/...] */
        const char *last = NULL;
        for (size_t i = len; i > 0; i--)
            if (rel[i - 1] == '/') {
                last = rel + i;
                break;
            }
        if (last != NULL) {
            size_t plen = (size_t)(last - rel) - 1;
            size_t llen = len - (size_t)(last - rel);
            if (llen == 2 && (memcmp(last, "la", 2) == 0 || memcmp(last, "ol", 2) == 0)) {
                struct res *p = resolve_rel(c, rel, plen);
                if (p && p->ty == TY_CNT) {
                    t->r = p;
                    t->virt = last[0] == 'l' ? VIRT_LA : VIRT_OL;
                }
            }
        }
        if (t->r == NULL) {
            /* fopt: find the segment "fopt" whose prefix resolves to a group */
            for (size_t i = 0; i + 4 <= len; i++) {
                if (rel[i] == '/' && memcmp(rel + i + 1, "fopt", 4) == 0 &&
                    (i + 5 == len || rel[i + 5] == '/')) {
                    struct res *g = resolve_rel(c, rel, i);
                    if (g && g->ty == TY_GRP) {
                        t->r = g;
                        t->virt = VIRT_FOPT;
                        snprintf(t->rest, sizeof t->rest, "%.*s", (int)(len - i - 5), rel + i + 5);
                        break;
                    }
                }
            }
        }
    }
    if (t->r == NULL || res_expired(t->r, q->now_us)) {
        snprintf(why, whylen, "resource does not exist");
        t->r = NULL;
        return RSC_NOT_FOUND;
    }
    return RSC_OK;
}

static bool is_ae_create(const struct m2m_request *r)
{
    return r->op == M2M_OP_CREATE && r->ty == TY_AE;
}

/* Normalises From into the absolute form the ACP engine matches against (SPEC-MAP A6). */
static struct res *registree_cse(struct cse *c, const char *abs);

/* The kind of an absolute originator ID (SPEC-MAP A6): "//sp/x" (one segment) is a CSE unless it
 * is an S-stem AE-ID that is not a registered remoteCSE; "//sp/csi/x" is an AE; anything else
 * matches neither kind. */
enum acp_orig_kind cse_orig_kind(struct cse *c, const char *abs)
{
    const char *s1 = strchr(abs + 2, '/');
    if (abs[0] != '/' || abs[1] != '/' || s1 == NULL)
        return ACP_ORIG_OTHER;
    const char *s2 = strchr(s1 + 1, '/');
    if (s2 != NULL)
        return strchr(s2 + 1, '/') ? ACP_ORIG_OTHER : ACP_ORIG_AE;
    if (s1[1] != 'S')
        return ACP_ORIG_CSE;
    return registree_cse(c, abs) != NULL ? ACP_ORIG_CSE : ACP_ORIG_AE;
}

static m2m_rsc normalise_originator(struct rq *q, char *why, size_t whylen)
{
    struct cse *c = q->cse;
    const char *fr = q->req->fr;
    if (acp_id_absolute(fr, strlen(fr), &c->host, q->orig_abs, sizeof q->orig_abs) != M2M_OK) {
        snprintf(why, whylen, "invalid originator");
        return RSC_BAD_REQUEST;
    }
    q->orig_kind = cse_orig_kind(c, q->orig_abs);
    return RSC_OK;
}

static bool ae_registered(struct cse *c, const char *stem)
{
    struct res *r = tree_by_ri(&c->tree, stem);
    return r != NULL && r->ty == TY_AE;
}

static bool has_sa(const struct m2m_secctx *s)
{
    return s->kind == M2M_SEC_TLS_CERT || s->kind == M2M_SEC_TLS_PSK || s->kind == M2M_SEC_TLS_RPK;
}

static bool id_equals(struct cse *c, const char *id, const char *orig_abs)
{
    char abs[M2M_ID_MAX + 160];
    return acp_id_absolute(id, strlen(id), &c->host, abs, sizeof abs) == M2M_OK &&
           strcmp(abs, orig_abs) == 0;
}

/* True when the association's identity, or one of the further identities bound to it, is the
 * (absolute) originator. */
bool sa_binds(struct cse *c, const struct m2m_secctx *sec, const char *orig_abs)
{
    if (sec->identity[0] && id_equals(c, sec->identity, orig_abs))
        return true;
    for (int i = 0; i < sec->n_bound && i < M2M_SEC_MAX_BOUND; i++)
        if (sec->bound[i][0] && id_equals(c, sec->bound[i], orig_abs))
            return true;
    return false;
}

/* The registered <remoteCSE> whose CSE-ID (absolute) is abs, or NULL. */
static struct res *registree_cse(struct cse *c, const char *abs)
{
    for (struct res *r = c->tree.root->first_child; r; r = r->next_sibling) {
        const char *csi = r->ty == TY_CSR ? res_attr_str(r, "csi") : NULL;
        char a[M2M_ID_MAX + 160];
        if (csi && acp_id_absolute(csi, strlen(csi), &c->host, a, sizeof a) == M2M_OK &&
            strcmp(a, abs) == 0)
            return r;
    }
    return NULL;
}

/* The association's identity is a CSE-ID ("//sp/csi" after normalisation, one segment). */
static bool sa_peer_is_cse(struct cse *c, const struct m2m_secctx *sec)
{
    char a[M2M_ID_MAX + 160];
    if (sec->identity[0] != '/' ||
        acp_id_absolute(sec->identity, strlen(sec->identity), &c->host, a, sizeof a) != M2M_OK)
        return false;
    const char *seg = strchr(a + 2, '/');
    return seg != NULL && strchr(seg + 1, '/') == NULL && seg[1] != 'S';
}

/* TS-0004 7.3.2.1 Recv-1.0 case 2 (SPEC-MAP B3 rule 2): a request received inside an SA with a
 * CSE whose From is not that CSE. A CSE may relay the requests of the entities registered to
 * it, but not speak with a bare AE-ID stem, not as another CSE registered here, and not for the
 * AEs of another registree CSE. [INTERP] Nor for the AEs registered to this CSE itself. A
 * relayed originator counts as unauthenticated (TS-0003 7.1.2: only ESPrim authenticates it). */
static m2m_rsc check_relayed(struct rq *q, char *why, size_t whylen)
{
    struct cse *c = q->cse;
    const char *fr = q->req->fr;
    char peer[M2M_ID_MAX + 160];
    if (acp_id_absolute(q->req->sec.identity, strlen(q->req->sec.identity), &c->host, peer,
                        sizeof peer) != M2M_OK)
        goto refuse;
    if (fr[0] != '/')
        goto refuse; /* a CSE never speaks with a bare AE-ID stem */
    if (q->orig_kind == ACP_ORIG_CSE && registree_cse(c, q->orig_abs) != NULL)
        goto refuse; /* another CSE registered here */
    if (q->orig_kind == ACP_ORIG_AE) {
        /* the CSE part of an AE-ID "//sp/csi/Cx"; S-stem AE-IDs "//sp/Sx" have none */
        char cse_part[M2M_ID_MAX + 160];
        snprintf(cse_part, sizeof cse_part, "%s", q->orig_abs);
        char *last = strrchr(cse_part, '/');
        bool c_stem = last && last[1] == 'C' && last > cse_part + 2 &&
                      strchr(strchr(cse_part + 2, '/') + 1, '/') != NULL;
        if (last)
            *last = 0;
        if (c_stem && strcmp(cse_part, peer) != 0 &&
            (registree_cse(c, cse_part) != NULL || strcmp(cse_part, c->cse_abs) == 0))
            goto refuse;
        if (!c_stem && ae_registered(c, last ? last + 1 : ""))
            goto refuse; /* an S-AE registered here */
    }
    q->authn = false;
    return RSC_OK;
refuse:
    snprintf(why, whylen, "the CSE of this association may not speak for this originator");
    return RSC_ORIGINATOR_NOT_AUTHENTICATED;
}

/* TS-0004 7.3.2.1 (Recv-1.0) and TS-0003 7.2.1, SPEC-MAP B3/B4: the identity checks that tie
 * From to the security association. Returns RSC_OK to continue. */
static m2m_rsc check_identity(struct rq *q, char *why, size_t whylen)
{
    struct cse *c = q->cse;
    const struct m2m_request *req = q->req;
    const struct m2m_secctx *sec = &req->sec;
    const char *fr = req->fr;
    bool fr_is_cse_id = fr[0] == '/';
    if (has_sa(sec) && sec->identity[0]) {
        /* B5: a registration asking for an assigned AE-ID ("C"/"S") over an SA gets the AE-ID
         * bound to the SA; register.c checks it. */
        if (is_ae_create(req) && (strcmp(fr, "C") == 0 || strcmp(fr, "S") == 0)) {
            q->authn = true;
            return RSC_OK;
        }
        /* B4, TS-0003 7.2.1: inside an SA the From must be an identity bound to it ... */
        if (sa_binds(c, sec, q->orig_abs)) {
            q->authn = true;
            return RSC_OK;
        }
        /* ... except that a CSE peer relays requests of others (B3 rule 2); registrations are
         * never relayed (B4: the registrar compares From with the SA). */
        bool registration = req->op == M2M_OP_CREATE && (req->ty == TY_AE || req->ty == TY_CSR);
        if (!registration && sa_peer_is_cse(c, sec))
            return check_relayed(q, why, whylen);
        snprintf(why, whylen, "originator does not match the authenticated identity");
        return RSC_ORIGINATOR_NOT_AUTHENTICATED;
    }
    /* B3 rule 4: a CSE-ID originator outside any SA. */
    if (fr_is_cse_id && q->orig_kind == ACP_ORIG_CSE) {
        snprintf(why, whylen, "a CSE originator requires a security association");
        return RSC_SECURITY_ASSOCIATION_REQUIRED;
    }
    /* B3 rule 3: outside any SA an AE-ID must belong to an AE registered here. The configured
     * admin originator is provisioned (docs/DECISIONS.md) and counts as registered. */
    if (!fr_is_cse_id && !is_ae_create(req) && strcmp(fr, c->cfg.admin) != 0 &&
        !ae_registered(c, fr)) {
        snprintf(why, whylen, "originator %s is not registered", fr);
        return RSC_ORIGINATOR_NOT_AUTHENTICATED;
    }
    if (fr_is_cse_id && q->orig_kind == ACP_ORIG_AE && !is_ae_create(req)) {
        /* P 7.3.2.1: an AE registered here sends its stem; other forms arrive via CSEs. */
        snprintf(why, whylen, "an AE originator must use its AE-ID stem");
        return RSC_BAD_REQUEST;
    }
    q->authn = sec->trusted_listener;
    return RSC_OK;
}

static m2m_rsc check_primitive(struct rq *q, char *why, size_t whylen)
{
    const struct m2m_request *req = q->req;
    if (req->op < M2M_OP_CREATE || req->op > M2M_OP_NOTIFY) {
        snprintf(why, whylen, "unknown operation");
        return RSC_BAD_REQUEST;
    }
    /* TS-0004 7.3.2.1: From is mandatory except for AE registration. */
    if (req->fr == NULL || req->fr[0] == 0) {
        if (!is_ae_create(req)) {
            snprintf(why, whylen, "missing originator (X-M2M-Origin)");
            return RSC_BAD_REQUEST;
        }
    }
    if (req->rqi == NULL || req->rqi[0] == 0) {
        snprintf(why, whylen, "missing request identifier (X-M2M-RI)");
        return RSC_BAD_REQUEST;
    }
    if (req->rvi != NULL && strcmp(req->rvi, "3") != 0 && strcmp(req->rvi, "4") != 0 &&
        strcmp(req->rvi, "5") != 0) {
        snprintf(why, whylen, "release version %s not supported", req->rvi);
        return RSC_RELEASE_VERSION_NOT_SUPPORTED;
    }
    if (req->op == M2M_OP_CREATE && req->ty <= 0) {
        snprintf(why, whylen, "missing resource type on create");
        return RSC_BAD_REQUEST;
    }
    if (req->op == M2M_OP_CREATE && req->has_fc) {
        snprintf(why, whylen, "filter criteria are not allowed on create");
        return RSC_BAD_REQUEST;
    }
    if (req->rqet > 0 && req->rqet <= q->now_us) {
        snprintf(why, whylen, "request expiration timestamp has passed");
        return RSC_REQUEST_TIMEOUT;
    }
    /* TS-0004 6.3.4.2.6 responseType: 1 nonBlockingRequestSynch, 2 nonBlockingRequestAsynch,
     * 3 blockingRequest, 4 flexBlocking (the receiver may answer blocking). */
    if (req->rt == 1 || req->rt == 2 || req->rt == 5) {
        snprintf(why, whylen, "non-blocking requests are not supported");
        return RSC_NOT_IMPLEMENTED;
    }
    return RSC_OK;
}

void cse_pipeline(struct rq *q)
{
    char why[256] = "";
    struct m2m_request *req = q->req;
    struct target t;
    m2m_rsc rsc = check_primitive(q, why, sizeof why);
    if (rsc == RSC_OK && req->fr && req->fr[0]) {
        rsc = normalise_originator(q, why, sizeof why);
        if (rsc == RSC_OK)
            rsc = check_identity(q, why, sizeof why);
    }
    const char *cred_ref;
    if (rsc == RSC_OK && cred_target(q->cse, req->to, &cred_ref)) {
        credadmin_handle(q, cred_ref); /* admin-only, decides and audits itself */
        return;
    }
    if (rsc == RSC_OK)
        rsc = cse_resolve(q, req->to, &t, why, sizeof why); /* Recv-6.2: 4004 before 4103 */
    if (rsc != RSC_OK) {
        m2m_response_error(q->resp, rsc, "%s", why);
        return;
    }
    if (t.virt == VIRT_FOPT) {
        grp_fanout(q, &t);
        return;
    }
    if (t.virt == VIRT_EXPLAIN) {
        if (req->op != M2M_OP_RETRIEVE) {
            m2m_response_error(q->resp, RSC_OPERATION_NOT_ALLOWED, "_explain is read-only");
            return;
        }
        authz_explain(q, t.r, t.rest);
        return;
    }
    switch (req->op) {
    case M2M_OP_CREATE: h_create(q, &t); break;
    case M2M_OP_RETRIEVE: h_retrieve(q, &t); break;
    case M2M_OP_UPDATE: h_update(q, &t); break;
    case M2M_OP_DELETE: h_delete(q, &t); break;
    default:
        /* NOTIFY to resources hosted here (CSEBase/AE as notification targets) is not a
         * feature of this release. */
        m2m_response_error(q->resp, RSC_OPERATION_NOT_ALLOWED,
                           "notify is not accepted by this CSE");
        break;
    }
}
