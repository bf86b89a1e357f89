/* acp_origin.c: accessControlOriginators entries: ID normalisation, classification and matching
 * (TS-0003 7.1.3 Table 7.1.3-2, SPEC-MAP A6). */
#include <string.h>

#include "acp/acp_internal.h"
#include "base/log.h"

static bool bad_char(unsigned char c)
{
    return c <= 0x20 || c == 0x7f;
}

static bool text_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (bad_char((unsigned char)s[i]))
            return false;
    return true;
}

bool acp_host_valid(const struct acp_host *host)
{
    if (host == NULL || host->sp_id == NULL || host->csi == NULL)
        return false;
    size_t sl = strnlen(host->sp_id, ACP_MAX_HOST_PART + 1);
    size_t cl = strnlen(host->csi, ACP_MAX_HOST_PART + 1);
    if (sl < 3 || sl > ACP_MAX_HOST_PART || cl < 2 || cl > ACP_MAX_HOST_PART)
        return false;
    if (memcmp(host->sp_id, "//", 2) != 0 || memchr(host->sp_id + 2, '/', sl - 2) != NULL)
        return false;
    if (host->csi[0] != '/' || memchr(host->csi + 1, '/', cl - 1) != NULL)
        return false;
    return text_ok(host->sp_id, sl) && text_ok(host->csi, cl);
}

static m2m_rc join(char *out, size_t outlen, const char *a, const char *b, const char *c,
                   size_t clen)
{
    size_t al = strlen(a), bl = strlen(b);
    if (al + bl + clen + 1 > outlen)
        return M2M_ERR_LIMIT;
    memcpy(out, a, al);
    memcpy(out + al, b, bl);
    memcpy(out + al + bl, c, clen);
    out[al + bl + clen] = '\0';
    return M2M_OK;
}

/* SPEC-MAP A6 step 1/2 (TS-0001 7.2): absolute IDs stay; SP-relative IDs get the SP-ID in front;
 * an S-stem is SP-relative; any other bare ID (a C-stem or a CSE-relative resource ID) lives
 * under this CSE. */
m2m_rc acp_id_absolute(const char *id, size_t id_len, const struct acp_host *host, char *out,
                       size_t outlen)
{
    if (out != NULL && outlen > 0)
        out[0] = '\0';
    if (id == NULL || id_len == 0 || memchr(id, '\0', id_len) != NULL || !text_ok(id, id_len))
        return M2M_ERR_MALFORMED;
    if (out == NULL)
        return M2M_ERR_LIMIT;
    if (id_len >= 2 && id[0] == '/' && id[1] == '/')
        return join(out, outlen, "", "", id, id_len);
    if (!acp_host_valid(host))
        return M2M_ERR_CONFIG;
    if (id[0] == '/')
        return join(out, outlen, host->sp_id, "", id, id_len);
    if (id[0] == 'S')
        return join(out, outlen, host->sp_id, "/", id, id_len);
    m2m_rc rc = join(out, outlen, host->sp_id, host->csi, "/", 1);
    if (rc != M2M_OK)
        return rc;
    size_t l = strlen(out);
    return join(out + l, outlen - l, "", "", id, id_len);
}

/* "//fqdn": labels non-empty, '*' only as a whole label ([INTERP] A6). */
static bool domain_ok(const char *d, size_t len, bool *wild)
{
    size_t start = 0;
    *wild = false;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && d[i] != '.')
            continue;
        size_t ll = i - start;
        if (ll == 0)
            return false;
        if (memchr(d + start, '*', ll) != NULL) {
            if (ll != 1)
                return false;
            *wild = true;
        }
        start = i + 1;
    }
    return true;
}

/* Splits an absolute "//sp/seg..." ID into parts (SP-ID, segments); returns the number of
 * segments after the SP-ID, 0 if any part is empty. Parts beyond ACP_ID_PARTS are counted only. */
static unsigned id_split(const char *s, size_t len, struct acp_id_part *part)
{
    unsigned n = 0;
    size_t start = 2;
    for (size_t i = 2; i <= len; i++) {
        if (i < len && s[i] != '/')
            continue;
        if (i == start)
            return 0;
        if (n < ACP_ID_PARTS) {
            part[n].off = (uint16_t)start;
            part[n].len = (uint16_t)(i - start);
            const char *st = memchr(s + start, '*', i - start);
            size_t pl = i - start;
            part[n].mode = st == NULL                 ? ACP_PART_LIT
                           : pl == 1                  ? ACP_PART_ANY
                           : st == s + start + pl - 1 ? ACP_PART_PFX
                                                      : ACP_PART_GLOB;
            part[n].lit = (uint16_t)(part[n].mode == ACP_PART_PFX ? pl - 1 : pl);
            part[n].w = acp_word(s + start, part[n].lit);
            part[n].mask = part[n].lit >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * part[n].lit)) - 1;
        }
        n++;
        start = i + 1;
    }
    return n - 1;
}

static m2m_rc classify_id(struct acp_orig *o, const char *raw, size_t raw_len,
                          const struct acp_host *host, char *buf, size_t buflen, struct acp_err *e)
{
    m2m_rc rc = acp_id_absolute(raw, raw_len, host, buf, buflen);
    if (rc == M2M_ERR_CONFIG)
        acp_errf(e, "relative originator needs the hosting CSE identity");
    else if (rc != M2M_OK)
        acp_errf(e, "originator too long after normalisation");
    if (rc != M2M_OK)
        return rc;
    size_t len = strlen(buf);
    unsigned nseg = id_split(buf, len, o->part);
    if (nseg == 0) {
        acp_errf(e, "empty segment in originator ID");
        return M2M_ERR_MALFORMED;
    }
    o->s = buf;
    o->len = (uint16_t)len;
    if (nseg >= ACP_ID_PARTS) { /* not a CSE-ID or AE-ID: a structured resource ID (<group>) */
        o->type = ACP_OE_GROUP;
        return M2M_OK;
    }
    o->type = ACP_OE_ID;
    o->nseg = (uint8_t)nseg;
    o->wild = memchr(buf, '*', len) != NULL;
    o->hash = acp_hash(buf, len);
    return M2M_OK;
}

m2m_rc acp_orig_compile(const char *raw, size_t raw_len, const struct acp_host *host,
                        struct acp_orig *o, char *buf, size_t buflen, struct acp_err *e)
{
    memset(o, 0, sizeof(*o));
    if (raw_len > ACP_MAX_ENTRY || buflen < 2 * (raw_len + 1) || buflen < ACP_ID_BUF) {
        acp_errf(e, "originator longer than %d characters", ACP_MAX_ENTRY);
        return M2M_ERR_LIMIT;
    }
    if (raw_len == 0 || memchr(raw, '\0', raw_len) != NULL || !text_ok(raw, raw_len)) {
        acp_errf(e, "empty originator or one with whitespace or control characters");
        return M2M_ERR_MALFORMED;
    }
    /* raw copy at the end of buf, the normalised form at its start */
    char *rawc = buf + buflen - raw_len - 1;
    memcpy(rawc, raw, raw_len);
    rawc[raw_len] = '\0';
    o->raw = rawc;
    o->raw_len = (uint16_t)raw_len;
    o->s = rawc;
    o->len = (uint16_t)raw_len;
    /* TS-0003 7.1.3: the keyword "all" admits every originator; a lone "*" too ([INTERP] A6) */
    if ((raw_len == 3 && memcmp(raw, "all", 3) == 0) || (raw_len == 1 && raw[0] == '*')) {
        if (raw[0] == '*')
            log_debug("acp: acor entry \"*\" taken as \"all\"");
        o->type = ACP_OE_ALL;
        return M2M_OK;
    }
    if (memchr(raw, '@', raw_len) != NULL && memchr(raw, '/', raw_len) == NULL) {
        o->type = ACP_OE_ROLE; /* m2m:roleID: no wildcard (TS-0003 7.1.3) */
        return M2M_OK;
    }
    if (raw_len >= 2 && raw[0] == '/' && raw[1] == '/' &&
        memchr(raw + 2, '/', raw_len - 2) == NULL) {
        bool wild;
        if (!domain_ok(raw + 2, raw_len - 2, &wild)) {
            acp_errf(e, "malformed SP domain originator (empty label or partial '*')");
            return M2M_ERR_MALFORMED;
        }
        o->type = ACP_OE_DOMAIN;
        o->wild = wild;
        o->s = rawc + 2;
        o->len = (uint16_t)(raw_len - 2);
        return M2M_OK;
    }
    /* TS-0001 7.2: an AE-ID-Stem holds no '/', so a bare "C.."/"S.." with one is a CSE-relative
     * resource ID (a <group>), not an AE-ID pattern (found by the differential fuzzer) */
    bool stem = (raw[0] == 'C' || raw[0] == 'S') && memchr(raw, '/', raw_len) == NULL;
    if (raw[0] == '/' || stem)
        return classify_id(o, raw, raw_len, host, buf, buflen - raw_len - 1, e);
    o->type = ACP_OE_GROUP;
    return M2M_OK;
}

/* Splits an absolute originator "//sp/seg..." into its first parts and counts the segments;
 * false when a part is empty or the text holds a NUL. */
static bool rq_split(struct acp_rq *rq, const char *s, size_t len)
{
    size_t start = 2;
    unsigned n = 0;
    if (memchr(s, '\0', len) != NULL)
        return false;
    for (;;) { /* memchr: a few wide compares per part instead of a loop per character */
        const char *sl = memchr(s + start, '/', len - start);
        size_t end = sl != NULL ? (size_t)(sl - s) : len;
        if (end == start)
            return false;
        if (n < ACP_ID_PARTS)
            rq->part[n] = (struct acp_id_part){.w = acp_word_at(s, len, start, end - start),
                                               .off = (uint16_t)start,
                                               .len = (uint16_t)(end - start)};
        n++;
        if (sl == NULL)
            break;
        start = end + 1;
    }
    rq->hash = acp_hash(s, len);
    rq->orig_nseg = (uint16_t)(n - 1);
    rq->sp_end = 2u + rq->part[0].len;
    return true;
}

/* Per-decision view of the originator: validity, hash, SP-ID span and parts. */
void acp_rq_init(struct acp_rq *rq, const struct acp_request *req)
{
    /* every field a matcher reads before checking a flag is set here (no memset: this runs
     * once per decision and the struct is large) */
    rq->req = req;
    rq->orig_ok = rq->orig_abs = rq->ip4 = rq->ip6 = rq->geo_ready = rq->geo_ok = false;
    rq->orig_nseg = 0;
    rq->sp_end = 0;
    rq->hash = 0;
    rq->op = rq->kinds = 0;
    rq->country = 0;
    /* a valid operation is exactly one acp_op_bit (SPEC-MAP A7) */
    if (req->op != 0 && req->op <= ACP_OP_DISCOVERY && (req->op & (req->op - 1)) == 0)
        rq->op = (uint8_t)req->op;
    const char *s = req->originator;
    size_t len = req->originator_len;
    if (s == NULL || len == 0 || len > 4096)
        return;
    if (len >= 3 && s[0] == '/' && s[1] == '/' && rq_split(rq, s, len)) {
        rq->orig_ok = rq->orig_abs = true;
        if (req->orig_kind == ACP_ORIG_AE || req->orig_kind == ACP_ORIG_CSE)
            rq->kinds = 1u << ACP_OE_DOMAIN | 1u << ACP_OE_ID;
        if (req->role_ids != NULL && req->n_role_ids > 0)
            rq->kinds |= 1u << ACP_OE_ROLE;
        return;
    }
    memset(rq->part, 0, sizeof(rq->part));
    rq->orig_ok = memchr(s, '\0', len) == NULL;
    if (rq->orig_ok && req->role_ids != NULL && req->n_role_ids > 0)
        rq->kinds = 1u << ACP_OE_ROLE;
}

/* Glob over one path segment: '*' in the pattern matches any run (no '/' can occur here); a
 * '*' in the subject is an ordinary character. */
static bool glob_seg(const char *p, size_t pl, const char *s, size_t sl)
{
    size_t i = 0, j = 0, star = SIZE_MAX, mark = 0;
    while (j < sl) {
        if (i < pl && p[i] == '*') {
            star = i++;
            mark = j;
        } else if (i < pl && p[i] == s[j]) {
            i++;
            j++;
        } else if (star != SIZE_MAX) {
            i = star + 1;
            j = ++mark;
        } else {
            return false;
        }
    }
    while (i < pl && p[i] == '*')
        i++;
    return i == pl;
}

/* SPEC-MAP A6 [INTERP]: "//sp.com" matches originators in SP "sp.com" and in SP-IDs ending in
 * ".sp.com"; a '*' label matches one label. Compared label by label from the right. */
static bool domain_match(const struct acp_orig *o, const struct acp_rq *rq)
{
    const char *d = o->s, *sp = rq->req->originator + 2;
    size_t dl = o->len, sl = rq->sp_end - 2;
    if (!o->wild) {
        if (sl == dl)
            return memcmp(sp, d, dl) == 0;
        return sl > dl && sp[sl - dl - 1] == '.' && memcmp(sp + sl - dl, d, dl) == 0;
    }
    while (dl > 0) {
        const char *dd = memrchr(d, '.', dl), *ss = sl ? memrchr(sp, '.', sl) : NULL;
        size_t dls = dd ? (size_t)(dd - d) + 1 : 0, sls = ss ? (size_t)(ss - sp) + 1 : 0;
        size_t dlab = dl - dls, slab = sl - sls;
        if (slab == 0)
            return false;
        if (!(dlab == 1 && d[dls] == '*') && (dlab != slab || memcmp(d + dls, sp + sls, dlab)))
            return false;
        if (dls == 0)
            return true; /* equal, or the SP-ID has further labels on the left */
        if (sls == 0)
            return false;
        dl = dls - 1;
        sl = sls - 1;
    }
    return false;
}

/* SPEC-MAP A6: CSE-ID / AE-ID pattern against the absolute originator. Two-segment entries are
 * AE-IDs; one-segment entries are CSE-IDs or SP-assigned AE-IDs. TS-0003 7.1.3: the scope of a
 * '*' ends at the next '/', so the pattern is matched part by part. */
bool acp_orig_id_match(const struct acp_orig *o, const struct acp_rq *rq)
{
    enum acp_orig_kind k = rq->req->orig_kind;
    if (o->nseg != rq->orig_nseg || (k != ACP_ORIG_AE && k != ACP_ORIG_CSE) ||
        (o->nseg == 2 && k != ACP_ORIG_AE))
        return false;
    const char *s = rq->req->originator;
    if (!o->wild)
        return o->hash == rq->hash && o->len == rq->req->originator_len && acp_eq(s, o->s, o->len);
    for (unsigned i = o->nseg + 1u; i-- > 0;) { /* the last part differs most often */
        const struct acp_id_part *p = &o->part[i], *q = &rq->part[i];
        const char *pt = o->s + p->off, *st = s + q->off;
        size_t pl = p->lit;
        switch (p->mode) {
        case ACP_PART_LIT:
            if (p->len != q->len || p->w != q->w || (pl > 8 && !acp_eq(pt + 8, st + 8, pl - 8)))
                return false;
            break;
        case ACP_PART_ANY: break; /* parts of an absolute originator are never empty */
        case ACP_PART_PFX:
            if (q->len < pl || (q->w & p->mask) != p->w ||
                (pl > 8 && !acp_eq(pt + 8, st + 8, pl - 8)))
                return false;
            break;
        default:
            if (!glob_seg(pt, p->len, st, q->len))
                return false;
        }
    }
    return true;
}

static bool in_list(const char *e, size_t elen, const char *const *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        if (list[i] != NULL && strncmp(list[i], e, elen + 1) == 0)
            return true;
    return false;
}

bool acp_orig_in_groups(const struct acp_orig *o, const struct acp_rq *rq)
{
    return in_list(o->raw, o->raw_len, rq->req->groups, rq->req->n_groups);
}

bool acp_orig_match(const struct acp_orig *o, const struct acp_rq *rq)
{
    const struct acp_request *req = rq->req;
    if (!rq->orig_ok)
        return false; /* indeterminate originator: no entry matches (fail closed) */
    switch (o->type) {
    case ACP_OE_ALL: return true;
    case ACP_OE_ROLE: return in_list(o->s, o->len, req->role_ids, req->n_role_ids);
    case ACP_OE_DOMAIN:
        /* TS-0003 7.1.3: an SP domain covers "all AE-IDs and CSE-IDs" in it, no other IDs */
        if (rq->orig_abs && (req->orig_kind == ACP_ORIG_AE || req->orig_kind == ACP_ORIG_CSE) &&
            domain_match(o, rq))
            return true;
        break;
    case ACP_OE_ID:
        if (rq->orig_abs && acp_orig_id_match(o, rq))
            return true;
        break;
    default: break;
    }
    /* [INTERP] A6: any entry may name a <group> the pipeline found the originator in */
    return in_list(o->raw, o->raw_len, req->groups, req->n_groups);
}

bool acp_originator_matches(const char *entry, const struct acp_host *host, const char *originator,
                            size_t originator_len, enum acp_orig_kind kind)
{
    if (entry == NULL)
        return false;
    char buf[ACP_ID_BUF];
    struct acp_orig o;
    struct acp_err e = {.buf = NULL};
    if (acp_orig_compile(entry, strnlen(entry, ACP_MAX_ENTRY + 1), host, &o, buf, sizeof(buf),
                         &e) != M2M_OK)
        return false;
    struct acp_request req = {
        .originator = originator, .originator_len = originator_len, .orig_kind = kind};
    struct acp_rq rq;
    acp_rq_init(&rq, &req);
    return acp_orig_match(&o, &rq);
}
