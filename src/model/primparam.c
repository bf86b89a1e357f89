/* primparam.c: the request query parameters shared by the HTTP and CoAP bindings (TS-0009
 * 6.2.2.2, TS-0008 6.2.2.3): names, kinds, ranges, lists and duplicate detection. */
#include "model/primparam.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"

enum qkind { Q_INT, Q_I64, Q_TS, Q_TY, Q_LBL, Q_BOOL, Q_RP, Q_OP };

struct qparam {
    const char *name;
    enum qkind kind;
    bool fc; /* an element of filterCriteria (TS-0004 6.3.5.8) */
    int64_t lo, hi;
    size_t off; /* field in struct m2m_request */
};

#define RQ(f) offsetof(struct m2m_request, f)
#define Q_BIG 999999999999999999LL

/* TS-0009 Table 6.2.2.2-1 and TS-0004 6.3.4.2.6/7, 6.3.4.2.31/34, 6.3.5.8 for ranges; "op" is
 * TS-0008 6.2.1 (the Operation of a non-blocking POST, CoAP only). [INTERP] Only these names are
 * accepted: any other (attribute short names used as filter conditions, atrl partial retrieve,
 * rids/tids/ltids/tqi/asi/auri/sqi, sza/szb/cty/smf/...) is refused with 4000 naming it, because
 * the request primitive has no place to carry it and silently dropping a condition would widen a
 * discovery or retrieve. rp and da are validated and then dropped (no field; they widen
 * nothing). */
static const struct qparam params[] = {
    {"rcn", Q_INT, false, 0, 11, RQ(rcn)},
    {"rt", Q_INT, false, 1, 5, RQ(rt)},
    {"drt", Q_INT, false, 1, 2, RQ(drt)},
    {"rp", Q_RP, false, 0, 0, 0},
    {"da", Q_BOOL, false, 0, 0, 0},
    {"op", Q_OP, false, 1, 5, 0},
    {"fu", Q_INT, true, 1, 3, RQ(fc.fu)},
    {"fo", Q_INT, true, 1, 2, RQ(fc.fo)},
    {"lim", Q_INT, true, 0, INT_MAX, RQ(fc.lim)},
    {"ofst", Q_INT, true, 1, INT_MAX, RQ(fc.ofst)},
    {"lvl", Q_INT, true, 1, INT_MAX, RQ(fc.lvl)},
    {"sts", Q_I64, true, 1, Q_BIG, RQ(fc.sts)},
    {"stb", Q_I64, true, 0, Q_BIG, RQ(fc.stb)},
    {"crb", Q_TS, true, 0, 0, RQ(fc.crb)},
    {"cra", Q_TS, true, 0, 0, RQ(fc.cra)},
    {"ms", Q_TS, true, 0, 0, RQ(fc.ms)},
    {"us", Q_TS, true, 0, 0, RQ(fc.us)},
    {"exb", Q_TS, true, 0, 0, RQ(fc.exb)},
    {"exa", Q_TS, true, 0, 0, RQ(fc.exa)},
    {"ty", Q_TY, true, 1, 65535, 0},
    {"lbl", Q_LBL, true, 0, 0, 0},
};
_Static_assert(M2M_ARRAY_LEN(params) <= 32, "primparam_seen bitmask");

static m2m_rsc bad(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static m2m_rsc bad(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return RSC_BAD_REQUEST;
}

static const struct qparam *find(const char *name, size_t n)
{
    for (size_t i = 0; i < M2M_ARRAY_LEN(params); i++)
        if (strlen(params[i].name) == n && memcmp(params[i].name, name, n) == 0)
            return &params[i];
    return NULL;
}

/* Values become identifiers and labels: printable bytes only. */
static bool printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

bool primparam_uint(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *v)
{
    int64_t x = 0;
    if (n == 0 || n > 18)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    if (x < lo || x > hi)
        return false;
    *v = x;
    return true;
}

bool primparam_abs_rel(const struct m2m_request *r, const char *v, size_t n, int64_t *out)
{
    int64_t ms = 0;
    if (primparam_uint(v, n, 0, 100LL * 366 * 86400 * 1000, &ms)) {
        int64_t base = r->t_recv_us ? r->t_recv_us : m2m_now_us();
        *out = base + ms * 1000;
        return true;
    }
    return n > 0 && m2m_ts_parse(v, n, out);
}

m2m_rc primparam_rc(m2m_rsc *rsc_out, m2m_rsc rsc)
{
    if (rsc == RSC_OK)
        return M2M_OK;
    if (rsc == RSC_INTERNAL_SERVER_ERROR)
        return M2M_ERR_NOMEM;
    *rsc_out = rsc;
    return M2M_ERR_MALFORMED;
}

bool primparam_is_list(const char *name, size_t nlen)
{
    const struct qparam *p = find(name, nlen);
    return p != NULL && (p->kind == Q_TY || p->kind == Q_LBL);
}

bool primparam_is_fc(const char *name, size_t nlen)
{
    const struct qparam *p = find(name, nlen);
    return p != NULL && p->fc;
}

/* One list item, taken as it is (TS-0009 6.2.2.2: "ty=2+3+4"; repeated fields add to it). */
static m2m_rsc list_item(struct m2m_request *req, const struct qparam *p, const char *s, size_t n,
                         char *err, size_t errlen)
{
    struct m2m_filter *f = &req->fc;
    int64_t v = 0;
    if (n == 0)
        return bad(err, errlen, "empty value in query parameter '%s'", p->name);
    if (p->kind == Q_TY) {
        if (!primparam_uint(s, n, p->lo, p->hi, &v))
            return bad(err, errlen, "invalid resource type in query parameter 'ty'");
        if (f->n_ty >= M2M_FC_MAX_TY)
            return bad(err, errlen, "too many values for query parameter 'ty'");
        f->ty[f->n_ty++] = (int)v;
        return RSC_OK;
    }
    if (!printable(s, n))
        return bad(err, errlen, "invalid value in query parameter '%s'", p->name);
    if (f->n_lbl >= M2M_FC_MAX_LBL)
        return bad(err, errlen, "too many values for query parameter 'lbl'");
    char *d = strndup(s, n);
    if (d == NULL)
        return RSC_INTERNAL_SERVER_ERROR;
    f->lbl[f->n_lbl++] = d;
    return RSC_OK;
}

static m2m_rsc list_param(struct m2m_request *req, const struct qparam *p, const char *v, size_t n,
                          char *err, size_t errlen)
{
    size_t s = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && v[i] != '+')
            continue;
        m2m_rsc rsc = list_item(req, p, v + s, i - s, err, errlen);
        if (rsc != RSC_OK)
            return rsc;
        s = i + 1;
    }
    return RSC_OK;
}

/* A single-valued parameter checked for its kind and range; false leaves req unchanged except
 * for a partly parsed timestamp. */
static bool scalar(struct m2m_request *req, const struct qparam *p, const char *v, size_t n,
                   int *op_out)
{
    char *base = (char *)req;
    int64_t x = 0;
    switch (p->kind) {
    case Q_INT:
    case Q_I64:
    case Q_OP:
        if (!primparam_uint(v, n, p->lo, p->hi, &x))
            return false;
        if (p->kind == Q_INT)
            *(int *)(base + p->off) = (int)x;
        else if (p->kind == Q_I64)
            *(int64_t *)(base + p->off) = x;
        else
            *op_out = (int)x;
        return true;
    case Q_TS: return n > 0 && m2m_ts_parse(v, n, (int64_t *)(base + p->off));
    case Q_BOOL: /* TS-0009 Table 6.2.2.2-1: 'false', 'true', '0' and '1' */
        return (n == 4 && !memcmp(v, "true", 4)) || (n == 5 && !memcmp(v, "false", 5)) ||
               (n == 1 && (v[0] == '0' || v[0] == '1'));
    case Q_RP: return n > 0 && printable(v, n);
    case Q_TY:
    case Q_LBL: break;
    }
    return false;
}

m2m_rsc primparam_apply(struct m2m_request *req, const char *name, size_t nlen, const char *val,
                        size_t vlen, bool allow_op, int *op_out, struct primparam_seen *seen,
                        char *err, size_t errlen)
{
    const struct qparam *p = find(name, nlen);
    if (p == NULL || (p->kind == Q_OP && (!allow_op || op_out == NULL)))
        return bad(err, errlen, "unknown query parameter '%.*s'", (int)(nlen > 40 ? 40 : nlen),
                   name);
    if (p->fc)
        req->has_fc = true;
    if (p->kind == Q_TY || p->kind == Q_LBL)
        return list_param(req, p, val, vlen, err, errlen);
    uint32_t bit = 1u << (p - params);
    if (seen->bits & bit)
        return bad(err, errlen, "duplicate query parameter '%s'", p->name);
    seen->bits |= bit;
    if (!scalar(req, p, val, vlen, op_out))
        return bad(err, errlen, "invalid value for query parameter '%s'", p->name);
    return RSC_OK;
}

m2m_rsc primparam_add_item(struct m2m_request *req, const char *name, size_t nlen, const char *item,
                           size_t ilen, char *err, size_t errlen)
{
    const struct qparam *p = find(name, nlen);
    if (p == NULL || (p->kind != Q_TY && p->kind != Q_LBL))
        return bad(err, errlen, "unknown list query parameter '%.*s'", (int)(nlen > 40 ? 40 : nlen),
                   name);
    req->has_fc = true;
    return list_item(req, p, item, ilen, err, errlen);
}
