/* acp_cron.c: accessControlWindow schedule entries (TS-0004 7.4.9.1 Table 7.4.9.1-4, SPEC-MAP A8)
 * compiled to one bit set per field (the year to a short list of ranges). */
#include <string.h>

#include "acp/acp_internal.h"

enum { F_SEC, F_MIN, F_HOUR, F_MDAY, F_MON, F_WDAY, F_YEAR, F_COUNT };

static const struct {
    const char *name;
    int lo, hi;
} fields[F_COUNT] = {
    {"second", 0, 59}, {"minute", 0, 59},     {"hour", 0, 23},      {"day of month", 1, 31},
    {"month", 1, 12},  {"day of week", 0, 6}, {"year", 2000, 9999},
};

/* Reads a decimal number of at most 9 digits at s[*i..len) (leading zeros are allowed). */
static bool read_num(const char *s, size_t len, size_t *i, int *v)
{
    size_t k = 0;
    int n = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        if (++k > 9)
            return false;
        n = n * 10 + (s[*i] - '0');
        (*i)++;
    }
    *v = n;
    return k > 0;
}

/* One list element: "*", "*" "/" step, n, a "-" b, a "-" b "/" step (TS-0004 7.4.9.1). */
static bool parse_item(const char *s, size_t len, int f, struct acp_year_item *it)
{
    size_t i = 0;
    int lo = fields[f].lo, hi = fields[f].hi, step = 1;
    bool range = false;
    if (len == 0)
        return false;
    if (s[0] == '*') {
        i = 1;
        range = true;
    } else {
        if (!read_num(s, len, &i, &lo))
            return false;
        hi = lo;
        if (i < len && s[i] == '-') {
            i++;
            range = true;
            if (!read_num(s, len, &i, &hi))
                return false;
        }
    }
    if (i < len && s[i] == '/') {
        i++;
        if (!range || !read_num(s, len, &i, &step) || step < 1)
            return false;
    }
    if (i != len || lo < fields[f].lo || hi > fields[f].hi || lo > hi)
        return false;
    it->lo = (uint16_t)lo;
    it->hi = (uint16_t)hi;
    /* any step beyond the width of the field's range selects lo alone */
    it->step = (uint16_t)(step > 10000 ? 10000 : step);
    return true;
}

static m2m_rc parse_field(const char *s, size_t len, int f, struct acp_year_item *items, size_t *n,
                          struct acp_err *e)
{
    size_t start = 0;
    *n = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != ',')
            continue;
        if (*n == ACP_MAX_CRON_ITEMS || !parse_item(s + start, i - start, f, &items[*n])) {
            acp_errf(e, "bad %s field \"%.*s\" (range %d-%d)", fields[f].name, (int)len, s,
                     fields[f].lo, fields[f].hi);
            return M2M_ERR_MALFORMED;
        }
        (*n)++;
        start = i + 1;
    }
    return M2M_OK;
}

static uint64_t items_mask(const struct acp_year_item *it, size_t n)
{
    uint64_t m = 0;
    for (size_t k = 0; k < n; k++)
        for (unsigned v = it[k].lo; v <= it[k].hi; v += it[k].step)
            m |= UINT64_C(1) << v;
    return m;
}

static m2m_rc store_field(struct acp_cron *c, int f, const struct acp_year_item *it, size_t n,
                          struct acp_arena *a)
{
    uint64_t m = f == F_YEAR ? 0 : items_mask(it, n);
    switch (f) {
    case F_SEC: c->sec = m; break;
    case F_MIN: c->min = m; break;
    case F_HOUR: c->hour = (uint32_t)m; break;
    case F_MDAY: c->mday = (uint32_t)m; break;
    case F_MON: c->mon = (uint16_t)m; break;
    case F_WDAY: c->wday = (uint8_t)m; break;
    default: {
        for (size_t k = 0; k < n; k++)
            if (it[k].lo == 2000 && it[k].hi == 9999 && it[k].step == 1)
                return M2M_OK; /* any year */
        struct acp_year_item *y = acp_arena_alloc(a, n * sizeof(*y));
        if (y == NULL)
            return M2M_ERR_NOMEM;
        memcpy(y, it, n * sizeof(*y));
        c->year = y;
        c->n_year = (uint8_t)n;
    }
    }
    return M2M_OK;
}

/* Seven space-separated fields; six are taken as year "*" ([INTERP] SPEC-MAP A8). */
m2m_rc acp_cron_parse(const char *s, size_t len, struct acp_cron *c, struct acp_arena *a,
                      struct acp_err *e)
{
    const char *tok[F_COUNT + 1];
    size_t tl[F_COUNT + 1], nt = 0, i = 0;
    memset(c, 0, sizeof(*c));
    while (i < len) {
        while (i < len && s[i] == ' ')
            i++;
        if (i == len)
            break;
        size_t st = i;
        while (i < len && s[i] != ' ')
            i++;
        if (nt == F_COUNT) {
            nt++;
            break;
        }
        tok[nt] = s + st;
        tl[nt++] = i - st;
    }
    if (nt != F_COUNT && nt != F_COUNT - 1) {
        acp_errf(e, "schedule entry needs 7 fields (or 6), got %s%zu",
                 nt > F_COUNT ? "more than " : "", nt > F_COUNT ? (size_t)F_COUNT : nt);
        return M2M_ERR_MALFORMED;
    }
    if (nt == F_COUNT - 1) {
        tok[F_YEAR] = "*";
        tl[F_YEAR] = 1;
    }
    struct acp_year_item items[ACP_MAX_CRON_ITEMS];
    for (int f = 0; f < F_COUNT; f++) {
        size_t n;
        m2m_rc rc = parse_field(tok[f], tl[f], f, items, &n, e);
        if (rc == M2M_OK)
            rc = store_field(c, f, items, n, a);
        if (rc != M2M_OK)
            return rc;
    }
    return M2M_OK;
}

static bool bit(uint64_t m, int v)
{
    return (unsigned)v < 64 && ((m >> v) & 1);
}

/* [INTERP] SPEC-MAP A8: rq_time (UTC) is inside the window iff every field matches. */
bool acp_cron_match(const struct acp_cron *c, const struct acp_time *t)
{
    if (!bit(c->sec, t->sec) || !bit(c->min, t->min) || !bit(c->hour, t->hour) ||
        !bit(c->mday, t->mday) || !bit(c->mon, t->mon) || !bit(c->wday, t->wday))
        return false;
    if (c->n_year == 0)
        return t->year >= 2000 && t->year <= 9999;
    for (size_t k = 0; k < c->n_year; k++) {
        const struct acp_year_item *y = &c->year[k];
        if (t->year >= y->lo && t->year <= y->hi && (t->year - y->lo) % y->step == 0)
            return true;
    }
    return false;
}
