/* fuzz_primparam.c: fuzzes primparam_apply and primparam_add_item. Input: one flag byte (bit 0:
 * allow "op", bit 1: feed ty/lbl items through primparam_add_item), then '&'-separated
 * "name=value" pairs applied to one request; checks the request's invariants after each pair. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/primparam.h"

static void check(const struct m2m_request *r, m2m_rsc rsc, const char *err)
{
    if (rsc != RSC_OK && rsc != RSC_BAD_REQUEST && rsc != RSC_INTERNAL_SERVER_ERROR)
        abort();
    if (rsc == RSC_BAD_REQUEST && (err[0] == 0 || memchr(err, 0, 96) == NULL))
        abort();
    if (r->fc.n_ty > M2M_FC_MAX_TY || r->fc.n_lbl > M2M_FC_MAX_LBL)
        abort();
    for (size_t i = 0; i < r->fc.n_ty; i++)
        if (r->fc.ty[i] < 1 || r->fc.ty[i] > 65535)
            abort();
    for (size_t i = 0; i < r->fc.n_lbl; i++)
        if (r->fc.lbl[i] == NULL || r->fc.lbl[i][0] == 0)
            abort();
    if (r->rcn < -1 || r->rcn > 11 || r->rt < 0 || r->rt > 5 || r->drt < 0 || r->drt > 2)
        abort();
    if (r->fc.fu < 0 || r->fc.fu > 3 || r->fc.fo < 0 || r->fc.fo > 2 || r->fc.lim < -1 ||
        r->fc.ofst == 0 || r->fc.lvl == 0)
        abort();
    if ((r->fc.n_ty || r->fc.n_lbl || r->fc.fu || r->fc.fo) && !r->has_fc)
        abort();
}

static void one(struct m2m_request *r, struct primparam_seen *seen, uint8_t flags, const char *s,
                size_t n)
{
    const char *eq = memchr(s, '=', n);
    size_t kn = eq ? (size_t)(eq - s) : n;
    const char *v = eq ? eq + 1 : s + n;
    size_t vn = n - kn - (eq ? 1 : 0);
    char err[96];
    int op = 0;
    m2m_rsc rsc;
    memset(err, 0, sizeof err);
    if ((flags & 2) && primparam_is_list(s, kn))
        rsc = primparam_add_item(r, s, kn, v, vn, err, sizeof err);
    else
        rsc = primparam_apply(r, s, kn, v, vn, flags & 1, &op, seen, err, sizeof err);
    if (rsc == RSC_OK && op != 0 && (op < 1 || op > 5 || !(flags & 1)))
        abort();
    check(r, rsc, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct m2m_request r;
    struct primparam_seen seen = {0};
    if (size == 0 || size > 4096)
        return 0;
    const char *d = (const char *)data + 1;
    size_t n = size - 1, s = 0;
    m2m_request_init(&r);
    for (size_t i = 0; i <= n; i++) {
        if (i < n && d[i] != '&')
            continue;
        one(&r, &seen, data[0], d + s, i - s);
        s = i + 1;
    }
    m2m_request_clear(&r);
    return 0;
}
