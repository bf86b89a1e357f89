/* acp_compile.c: validation and compilation of m2m:setOfAcrs into an acp_ruleset (TS-0004
 * 6.3.5.26-28, TS-0003 7.1.3, SPEC-MAP A2), and the arena that owns a compiled set. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acp/acp_internal.h"
#include "enc/json.h"

/* ---- arena ---- */

struct acp_chunk {
    struct acp_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

void *acp_arena_alloc(struct acp_arena *a, size_t size)
{
    const size_t al = sizeof(max_align_t);
    size = (size + al - 1) / al * al;
    if (size == 0)
        size = al;
    struct acp_chunk *c = a->head;
    if (c == NULL || c->cap - c->used < size) {
        size_t cap = size > 8192 ? size : 8192;
        a->over_cap = size > ACP_MAX_COMPILED || a->total + cap > ACP_MAX_COMPILED;
        if (a->over_cap)
            return NULL;
        c = malloc(sizeof(*c) + cap);
        if (c == NULL)
            return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
        a->total += cap;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

void acp_arena_release(struct acp_arena *a)
{
    struct acp_chunk *c = a->head;
    while (c != NULL) {
        struct acp_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
    a->total = 0;
}

void acp_errf(struct acp_err *e, const char *fmt, ...)
{
    if (e == NULL || e->buf == NULL || e->len == 0)
        return;
    int n = snprintf(e->buf, e->len, "%s%s", e->where, e->where[0] ? ": " : "");
    if (n < 0 || (size_t)n >= e->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->buf + n, e->len - (size_t)n, fmt, ap);
    va_end(ap);
    /* messages quote peer text: keep them to one printable line */
    for (char *p = e->buf; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

/* ---- compiler state and JSON helpers ---- */

struct cc {
    const struct acp_host *host;
    struct acp_arena *arena;
    struct acp_err e;
};

static void where(struct cc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void where(struct cc *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->e.where, sizeof(c->e.where), fmt, ap);
    va_end(ap);
}

static m2m_rc cc_alloc(struct cc *c, size_t n, size_t size, void *out)
{
    void *p = NULL;
    if (n > 0) {
        p = acp_arena_alloc(c->arena, n * size);
        if (p == NULL && c->arena->over_cap) {
            acp_errf(&c->e, "compiled policy would exceed %u bytes", ACP_MAX_COMPILED);
            return M2M_ERR_LIMIT;
        }
        if (p == NULL)
            return M2M_ERR_NOMEM;
    }
    memcpy(out, &p, sizeof(p));
    return M2M_OK;
}

/* Rejects any member of obj not named in `names` (NULL-terminated). */
static m2m_rc only_members(struct cc *c, const cJSON *obj, const char *const *names)
{
    for (const cJSON *m = obj->child; m != NULL; m = m->next) {
        size_t k = 0;
        while (names[k] != NULL && (m->string == NULL || strcmp(m->string, names[k]) != 0))
            k++;
        if (names[k] == NULL) {
            acp_errf(&c->e, "unknown member \"%.32s\"", m->string ? m->string : "");
            return M2M_ERR_MALFORMED;
        }
    }
    return M2M_OK;
}

/* An array of at most max elements (M2M_ERR_LIMIT beyond); name is for the message. */
static m2m_rc array_of(struct cc *c, const cJSON *j, const char *name, size_t max, size_t *n)
{
    if (!cJSON_IsArray(j)) {
        acp_errf(&c->e, "%s must be an array", name);
        return M2M_ERR_MALFORMED;
    }
    size_t k = 0;
    for (const cJSON *i = j->child; i != NULL; i = i->next)
        if (++k > max) {
            acp_errf(&c->e, "%s has more than %zu elements", name, max);
            return M2M_ERR_LIMIT;
        }
    *n = k;
    return M2M_OK;
}

/* A JSON string of 1..ACP_MAX_ENTRY characters. */
static m2m_rc string_of(struct cc *c, const cJSON *j, const char *name, size_t *len)
{
    if (!cJSON_IsString(j) || j->valuestring == NULL) {
        acp_errf(&c->e, "%s must be a string", name);
        return M2M_ERR_MALFORMED;
    }
    *len = strnlen(j->valuestring, ACP_MAX_ENTRY + 1);
    if (*len > ACP_MAX_ENTRY) {
        acp_errf(&c->e, "%s longer than %d characters", name, ACP_MAX_ENTRY);
        return M2M_ERR_LIMIT;
    }
    if (*len == 0) {
        acp_errf(&c->e, "%s must not be empty", name);
        return M2M_ERR_MALFORMED;
    }
    return M2M_OK;
}

static char *cc_strdup(struct cc *c, const char *s, size_t len, m2m_rc *rc)
{
    char *p = NULL;
    *rc = cc_alloc(c, len + 1, 1, &p);
    if (p != NULL)
        memcpy(p, s, len);
    return p;
}

/* ---- accessControlOriginators ---- */

static m2m_rc compile_acor(struct cc *c, const cJSON *j, size_t ri, struct acp_rule *r)
{
    m2m_rc rc;
    size_t n, k = 0;
    struct acp_orig *o = NULL;
    char buf[ACP_ID_BUF];
    where(c, "acr[%zu].acor", ri);
    TRY(array_of(c, j, "acor", ACP_MAX_ACOR, &n));
    TRY(cc_alloc(c, n, sizeof(*o), &o));
    for (const cJSON *i = j->child; i != NULL; i = i->next, k++) {
        size_t len;
        where(c, "acr[%zu].acor[%zu]", ri, k);
        TRY(string_of(c, i, "originator", &len));
        TRY(acp_orig_compile(i->valuestring, len, c->host, &o[k], buf, sizeof(buf), &c->e));
        r->any_all |= o[k].type == ACP_OE_ALL;
        r->kinds |= (uint8_t)(1u << o[k].type);
        const char *raw0 = o[k].raw, *s0 = o[k].s;
        char *raw = cc_strdup(c, raw0, o[k].raw_len, &rc);
        TRY(rc);
        o[k].raw = raw;
        if (s0 >= raw0 && s0 <= raw0 + o[k].raw_len) {
            o[k].s = raw + (s0 - raw0);
        } else {
            o[k].s = cc_strdup(c, s0, o[k].len, &rc);
            TRY(rc);
        }
    }
    r->orig = o;
    r->n_orig = (uint16_t)n;
out:
    return rc;
}

/* ---- accessControlContexts ---- */

static m2m_rc compile_actw(struct cc *c, const cJSON *j, const char *base, struct acp_ctx *x)
{
    m2m_rc rc;
    size_t n, k = 0, len;
    struct acp_cron *cr = NULL;
    where(c, "%s.actw", base);
    TRY(array_of(c, j, "actw", ACP_MAX_CRON, &n));
    TRY(cc_alloc(c, n, sizeof(*cr), &cr));
    for (const cJSON *i = j->child; i != NULL; i = i->next, k++) {
        where(c, "%s.actw[%zu]", base, k);
        TRY(string_of(c, i, "schedule entry", &len));
        TRY(acp_cron_parse(i->valuestring, len, &cr[k], c->arena, &c->e));
    }
    x->cron = cr;
    x->n_cron = (uint16_t)n;
out:
    return rc;
}

static m2m_rc compile_ips(struct cc *c, const cJSON *j, const char *base, int fam, void *out,
                          size_t *nout)
{
    m2m_rc rc;
    size_t n, k = 0, len;
    const char *name = fam == 4 ? "ipv4" : "ipv6";
    struct acp_cidr4 *v4 = NULL;
    struct acp_cidr6 *v6 = NULL;
    *nout = 0;
    where(c, "%s.acip.%s", base, name);
    TRY(array_of(c, j, name, ACP_MAX_CIDR, &n));
    TRY(fam == 4 ? cc_alloc(c, n, sizeof(*v4), &v4) : cc_alloc(c, n, sizeof(*v6), &v6));
    for (const cJSON *i = j->child; i != NULL; i = i->next, k++) {
        where(c, "%s.acip.%s[%zu]", base, name, k);
        TRY(string_of(c, i, "address", &len));
        rc = fam == 4 ? acp_cidr4_parse(i->valuestring, len, &v4[k])
                      : acp_cidr6_parse(i->valuestring, len, &v6[k]);
        if (rc != M2M_OK)
            acp_errf(&c->e, "malformed %s address or prefix \"%s\"", name, i->valuestring);
        TRY(rc);
    }
    memcpy(out, fam == 4 ? (void *)&v4 : (void *)&v6, sizeof(void *));
    *nout = n;
out:
    return rc;
}

/* [INTERP] SPEC-MAP A8 normalises IPv4-mapped IPv6 sources to IPv4; an ipv6 entry inside
 * ::ffff:0:0/96 names IPv4 addresses the same way and joins the ipv4 list (family-matched
 * otherwise: "::/0" does not cover IPv4 sources). */
static bool cidr6_mapped(const struct acp_cidr6 *c6, struct acp_cidr4 *c4)
{
    if (c6->mask[0] != UINT64_MAX || (c6->mask[1] >> 32) != 0xffffffffu || c6->net[0] != 0 ||
        (c6->net[1] >> 32) != 0xffffu)
        return false;
    c4->mask = (uint32_t)c6->mask[1];
    c4->net = (uint32_t)c6->net[1];
    return true;
}

static m2m_rc fold_mapped(struct cc *c, struct acp_ctx *x, size_t *n4, size_t *n6)
{
    m2m_rc rc = M2M_OK;
    struct acp_cidr4 *v4 = NULL, tmp;
    struct acp_cidr6 *v6 = (struct acp_cidr6 *)x->v6;
    size_t nm = 0, k6 = 0;
    for (size_t i = 0; i < *n6; i++)
        nm += cidr6_mapped(&v6[i], &tmp);
    if (nm == 0)
        return M2M_OK;
    TRY(cc_alloc(c, *n4 + nm, sizeof(*v4), &v4));
    if (*n4 > 0)
        memcpy(v4, x->v4, *n4 * sizeof(*v4));
    for (size_t i = 0; i < *n6; i++)
        if (cidr6_mapped(&v6[i], &v4[*n4]))
            (*n4)++;
        else
            v6[k6++] = v6[i];
    x->v4 = v4;
    *n6 = k6;
out:
    return rc;
}

static m2m_rc compile_acip(struct cc *c, const cJSON *j, const char *base, struct acp_ctx *x)
{
    static const char *const names[] = {"ipv4", "ipv6", NULL};
    m2m_rc rc;
    size_t n4 = 0, n6 = 0;
    const cJSON *a4 = cJSON_GetObjectItemCaseSensitive(j, "ipv4");
    const cJSON *a6 = cJSON_GetObjectItemCaseSensitive(j, "ipv6");
    where(c, "%s.acip", base);
    ENSURE(cJSON_IsObject(j), M2M_ERR_MALFORMED);
    TRY(only_members(c, j, names));
    if (a4 != NULL)
        TRY(compile_ips(c, a4, base, 4, &x->v4, &n4));
    if (a6 != NULL)
        TRY(compile_ips(c, a6, base, 6, &x->v6, &n6));
    where(c, "%s.acip", base);
    if (n4 + n6 > ACP_MAX_CIDR) {
        acp_errf(&c->e, "more than %d addresses", ACP_MAX_CIDR);
        BAIL(M2M_ERR_LIMIT);
    }
    TRY(fold_mapped(c, x, &n4, &n6));
    x->n_v4 = (uint16_t)n4;
    x->n_v6 = (uint16_t)n6;
    x->has_ip = n4 + n6 > 0; /* [INTERP] empty lists constrain nothing, like an empty acco */
out:
    if (rc == M2M_ERR_MALFORMED && !cJSON_IsObject(j))
        acp_errf(&c->e, "acip must be an object");
    return rc;
}

static m2m_rc compile_accr(struct cc *c, const cJSON *j, struct acp_ctx *x)
{
    const cJSON *v[3] = {NULL, NULL, NULL};
    size_t k = 0;
    if (cJSON_IsArray(j))
        for (const cJSON *i = j->child; i != NULL; i = i->next, k++)
            if (k < 3)
                v[k] = i;
    if (k != 3 || !cJSON_IsNumber(v[0]) || !cJSON_IsNumber(v[1]) || !cJSON_IsNumber(v[2]) ||
        acp_circ_make(v[0]->valuedouble, v[1]->valuedouble, v[2]->valuedouble, &x->circ) !=
            M2M_OK) {
        acp_errf(&c->e, "accr must be [latitude -90..90, longitude -180..180, radius >= 0]");
        return M2M_ERR_MALFORMED;
    }
    x->loc = ACP_LOC_CIRC;
    return M2M_OK;
}

static m2m_rc compile_accc(struct cc *c, const cJSON *j, struct acp_ctx *x)
{
    m2m_rc rc;
    size_t n, k = 0, len;
    uint16_t *cc = NULL;
    TRY(array_of(c, j, "accc", ACP_MAX_CC, &n));
    if (n == 0) {
        acp_errf(&c->e, "accc must list at least one country code");
        BAIL(M2M_ERR_MALFORMED);
    }
    TRY(cc_alloc(c, n, sizeof(*cc), &cc));
    for (const cJSON *i = j->child; i != NULL; i = i->next, k++) {
        TRY(string_of(c, i, "country code", &len));
        cc[k] = acp_country_code(i->valuestring, len);
        if (cc[k] == 0) {
            acp_errf(&c->e, "accc[%zu] is not an ISO 3166-1 alpha-2 code", k);
            BAIL(M2M_ERR_MALFORMED);
        }
    }
    x->cc = cc;
    x->n_cc = (uint16_t)n;
    x->loc = ACP_LOC_COUNTRY;
out:
    return rc;
}

/* m2m:locationRegion is a choice: exactly one of accr / accc (SPEC-MAP A2). */
static m2m_rc compile_aclr(struct cc *c, const cJSON *j, const char *base, struct acp_ctx *x)
{
    static const char *const names[] = {"accr", "accc", NULL};
    m2m_rc rc;
    where(c, "%s.aclr", base);
    if (!cJSON_IsObject(j)) {
        acp_errf(&c->e, "aclr must be an object");
        return M2M_ERR_MALFORMED;
    }
    RETURN_IF_ERR(only_members(c, j, names));
    const cJSON *cr = cJSON_GetObjectItemCaseSensitive(j, "accr");
    const cJSON *cc = cJSON_GetObjectItemCaseSensitive(j, "accc");
    if ((cr == NULL) == (cc == NULL)) {
        acp_errf(&c->e, "aclr needs exactly one of accr and accc");
        return M2M_ERR_MALFORMED;
    }
    rc = cr != NULL ? compile_accr(c, cr, x) : compile_accc(c, cc, x);
    return rc;
}

static m2m_rc compile_ctx(struct cc *c, const cJSON *j, size_t ri, size_t k, struct acp_ctx *x)
{
    static const char *const names[] = {"actw", "acip", "aclr", NULL};
    char base[48];
    m2m_rc rc;
    snprintf(base, sizeof(base), "acr[%zu].acco[%zu]", ri, k);
    where(c, "%s", base);
    if (!cJSON_IsObject(j)) {
        acp_errf(&c->e, "context must be an object");
        return M2M_ERR_MALFORMED;
    }
    TRY(only_members(c, j, names));
    const cJSON *tw = cJSON_GetObjectItemCaseSensitive(j, "actw");
    const cJSON *ip = cJSON_GetObjectItemCaseSensitive(j, "acip");
    const cJSON *lr = cJSON_GetObjectItemCaseSensitive(j, "aclr");
    if (tw != NULL)
        TRY(compile_actw(c, tw, base, x));
    if (ip != NULL)
        TRY(compile_acip(c, ip, base, x));
    if (lr != NULL)
        TRY(compile_aclr(c, lr, base, x));
out:
    return rc;
}

/* acco is 0..n contexts; one bare object is taken as a one-element list ([INTERP] A2). */
static m2m_rc compile_acco(struct cc *c, const cJSON *j, size_t ri, struct acp_rule *r)
{
    m2m_rc rc;
    size_t n = 1, k = 0;
    struct acp_ctx *x = NULL;
    where(c, "acr[%zu].acco", ri);
    if (cJSON_IsObject(j)) {
        TRY(cc_alloc(c, 1, sizeof(*x), &x));
        TRY(compile_ctx(c, j, ri, 0, x));
    } else {
        TRY(array_of(c, j, "acco", ACP_MAX_CTX, &n));
        TRY(cc_alloc(c, n, sizeof(*x), &x));
        for (const cJSON *i = j->child; i != NULL; i = i->next, k++)
            TRY(compile_ctx(c, i, ri, k, &x[k]));
    }
    r->ctx = x;
    r->n_ctx = (uint16_t)n;
out:
    return rc;
}

/* ---- accessControlObjectDetails ---- */

static m2m_rc compile_spty(struct cc *c, const cJSON *j, struct acp_objd *d)
{
    static const char *const names[] = {"cnd", "mgd", NULL};
    m2m_rc rc;
    size_t len;
    if (!cJSON_IsObject(j)) {
        acp_errf(&c->e, "spty must be an object {\"cnd\": ...} or {\"mgd\": ...}");
        return M2M_ERR_MALFORMED;
    }
    TRY(only_members(c, j, names));
    const cJSON *cnd = cJSON_GetObjectItemCaseSensitive(j, "cnd");
    const cJSON *mgd = cJSON_GetObjectItemCaseSensitive(j, "mgd");
    if ((cnd == NULL) == (mgd == NULL)) { /* TS-0004 6.3.5.67: a choice */
        acp_errf(&c->e, "spty needs exactly one of cnd and mgd");
        BAIL(M2M_ERR_MALFORMED);
    }
    if (mgd != NULL) {
        if (!json_is_int_in(mgd, 1, INT32_MAX)) {
            acp_errf(&c->e, "spty.mgd must be a positive integer");
            BAIL(M2M_ERR_MALFORMED);
        }
        d->spty = ACP_SPTY_MGD;
        d->mgd = (int)mgd->valuedouble;
    } else {
        TRY(string_of(c, cnd, "spty.cnd", &len));
        d->spty = ACP_SPTY_CND;
        d->cnd = cc_strdup(c, cnd->valuestring, len, &rc);
    }
out:
    return rc;
}

/* TS-0003 7.1.3 / TS-0001 9.6.2.4: chty is mandatory; spty is mandatory for ty 13 and 28. */
static m2m_rc check_objd(struct cc *c, const struct acp_objd *d)
{
    if ((d->ty == 13 || d->ty == 28) && d->spty == ACP_SPTY_NONE) {
        acp_errf(&c->e, "spty is required when ty is %d", d->ty);
        return M2M_ERR_MALFORMED;
    }
    if ((d->ty == 13 && d->spty == ACP_SPTY_CND) || (d->ty == 28 && d->spty == ACP_SPTY_MGD)) {
        acp_errf(&c->e, "spty kind does not fit ty %d (13 takes mgd, 28 takes cnd)", d->ty);
        return M2M_ERR_MALFORMED;
    }
    return M2M_OK;
}

static m2m_rc compile_objd(struct cc *c, const cJSON *j, struct acp_objd *d)
{
    static const char *const names[] = {"ty", "spty", "chty", NULL};
    m2m_rc rc;
    size_t n, k = 0;
    int *ch = NULL;
    ENSURE(cJSON_IsObject(j), M2M_ERR_MALFORMED);
    TRY(only_members(c, j, names));
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(j, "ty");
    const cJSON *spty = cJSON_GetObjectItemCaseSensitive(j, "spty");
    const cJSON *chty = cJSON_GetObjectItemCaseSensitive(j, "chty");
    if (ty != NULL) {
        ENSURE(json_is_int_in(ty, 1, 65535), M2M_ERR_MALFORMED);
        d->ty = (int)ty->valuedouble;
    }
    if (spty != NULL)
        TRY(compile_spty(c, spty, d));
    if (chty == NULL) {
        acp_errf(&c->e, "chty is mandatory");
        BAIL(M2M_ERR_MALFORMED);
    }
    TRY(array_of(c, chty, "chty", ACP_MAX_CHTY, &n));
    TRY(cc_alloc(c, n, sizeof(*ch), &ch));
    for (const cJSON *i = chty->child; i != NULL; i = i->next, k++) {
        ENSURE(json_is_int_in(i, 1, 65535), M2M_ERR_MALFORMED);
        ch[k] = (int)i->valuedouble;
    }
    d->chty = ch;
    d->n_chty = (uint16_t)n;
    TRY(check_objd(c, d));
out:
    if (rc == M2M_ERR_MALFORMED && (c->e.buf == NULL || c->e.len == 0 || c->e.buf[0] == '\0'))
        acp_errf(&c->e, "must be {ty?: resourceType, spty?, chty: [resourceType...]}");
    return rc;
}

static m2m_rc compile_acod(struct cc *c, const cJSON *j, size_t ri, struct acp_rule *r)
{
    m2m_rc rc;
    size_t n, k = 0;
    struct acp_objd *d = NULL;
    where(c, "acr[%zu].acod", ri);
    TRY(array_of(c, j, "acod", ACP_MAX_ACOD, &n));
    TRY(cc_alloc(c, n, sizeof(*d), &d));
    for (const cJSON *i = j->child; i != NULL; i = i->next, k++) {
        where(c, "acr[%zu].acod[%zu]", ri, k);
        TRY(compile_objd(c, i, &d[k]));
    }
    r->objd = d;
    r->n_objd = (uint16_t)n;
out:
    return rc;
}

/* ---- rules and sets ---- */

static m2m_rc compile_rule(struct cc *c, const cJSON *j, size_t ri, struct acp_rule *r)
{
    static const char *const names[] = {"acor", "acop", "acco", "acaf", "acod", NULL};
    m2m_rc rc;
    where(c, "acr[%zu]", ri);
    if (!cJSON_IsObject(j)) {
        acp_errf(&c->e, "rule must be an object");
        return M2M_ERR_MALFORMED;
    }
    TRY(only_members(c, j, names));
    const cJSON *acor = cJSON_GetObjectItemCaseSensitive(j, "acor");
    const cJSON *acop = cJSON_GetObjectItemCaseSensitive(j, "acop");
    const cJSON *acaf = cJSON_GetObjectItemCaseSensitive(j, "acaf");
    const cJSON *acco = cJSON_GetObjectItemCaseSensitive(j, "acco");
    const cJSON *acod = cJSON_GetObjectItemCaseSensitive(j, "acod");
    if (acor == NULL || acop == NULL) {
        acp_errf(&c->e, "acor and acop are mandatory");
        BAIL(M2M_ERR_MALFORMED);
    }
    if (!json_is_int_in(acop, 1, ACP_OP_ALL)) { /* [INTERP] A2: 4000 outside 1..63 */
        acp_errf(&c->e, "acop must be an integer 1..63");
        BAIL(M2M_ERR_MALFORMED);
    }
    r->acop = (uint8_t)acop->valuedouble;
    if (acaf != NULL && !cJSON_IsBool(acaf)) {
        acp_errf(&c->e, "acaf must be a boolean");
        BAIL(M2M_ERR_MALFORMED);
    }
    r->acaf = cJSON_IsTrue(acaf);
    TRY(compile_acor(c, acor, ri, r));
    if (acco != NULL)
        TRY(compile_acco(c, acco, ri, r));
    if (acod != NULL)
        TRY(compile_acod(c, acod, ri, r));
out:
    return rc;
}

static m2m_rc compile_set(struct cc *c, const cJSON *acrs, struct acp_ruleset *rs)
{
    static const char *const names[] = {"acr", NULL};
    m2m_rc rc;
    size_t n = 0, k = 0;
    if (acrs == NULL || cJSON_IsNull(acrs))
        return M2M_OK;
    if (!cJSON_IsObject(acrs)) {
        acp_errf(&c->e, "setOfAcrs must be an object {\"acr\": [...]}");
        return M2M_ERR_MALFORMED;
    }
    TRY(only_members(c, acrs, names));
    const cJSON *acr = cJSON_GetObjectItemCaseSensitive(acrs, "acr");
    if (acr == NULL)
        return M2M_OK;
    where(c, "acr");
    TRY(array_of(c, acr, "acr", ACP_MAX_RULES, &n));
    TRY(cc_alloc(c, n, sizeof(*rs->rules), &rs->rules));
    for (const cJSON *i = acr->child; i != NULL; i = i->next, k++)
        TRY(compile_rule(c, i, k, &rs->rules[k]));
    rs->n = n;
out:
    return rc;
}

m2m_rc acp_ruleset_compile(const cJSON *acrs, const struct acp_host *host, struct acp_ruleset **out,
                           char *err, size_t errlen)
{
    m2m_rc rc;
    struct acp_ruleset *rs = NULL;
    struct cc c = {.host = host, .e = {.buf = err, .len = errlen}};
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (out == NULL)
        return M2M_ERR_INTERNAL;
    *out = NULL;
    if (!acp_host_valid(host)) {
        acp_errf(&c.e, "invalid hosting CSE identity (sp_id \"//fqdn\", csi \"/id\")");
        return M2M_ERR_CONFIG;
    }
    rs = calloc(1, sizeof(*rs));
    ENSURE_NONNULL(rs);
    c.arena = &rs->arena;
    TRY(compile_set(&c, acrs, rs));
    *out = rs;
    rs = NULL;
out:
    if (rc == M2M_ERR_NOMEM)
        acp_errf(&c.e, "out of memory");
    acp_ruleset_free(rs);
    return rc;
}

void acp_ruleset_free(struct acp_ruleset *rs)
{
    if (rs == NULL)
        return;
    acp_arena_release(&rs->arena);
    free(rs);
}

size_t acp_ruleset_count(const struct acp_ruleset *rs)
{
    return rs ? rs->n : 0;
}
