/* primparam.h: binding-independent request query parameters (TS-0009 6.2.2.2, TS-0008 6.2.2.3)
 * applied to a struct m2m_request; each binding keeps its own framing and decoding. */
#ifndef M2M_MODEL_PRIMPARAM_H
#define M2M_MODEL_PRIMPARAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"
#include "model/prim.h"

/* Duplicate detection for one request: zero it before the first parameter. */
struct primparam_seen {
    uint32_t bits;
};

/* Applies one decoded name=value pair (exact lengths, no NUL inside) to req. Accepted names are
 * rcn rt drt rp da fu fo lim ofst lvl sts stb crb cra ms us exb exa ty lbl, and "op" only when
 * allow_op (its value 1..5 goes to *op_out, which must then be non-NULL). Scalars may appear once
 * (seen); ty and lbl are '+'-joined lists and repeat to add items, bounded by M2M_FC_MAX_TY and
 * M2M_FC_MAX_LBL. A filter-criteria parameter sets req->has_fc. Label items are copied (req owns
 * them). Returns RSC_OK, RSC_BAD_REQUEST with a message naming the parameter in err (err may be
 * NULL), or RSC_INTERNAL_SERVER_ERROR when out of memory. */
m2m_rsc primparam_apply(struct m2m_request *req, const char *name, size_t nlen, const char *val,
                        size_t vlen, bool allow_op, int *op_out, struct primparam_seen *seen,
                        char *err, size_t errlen);

/* Adds exactly one item (not split at '+') to the list parameter name ("ty" or "lbl"), for a
 * binding whose framing already split the list (HTTP: "%2B" is a '+' inside a label). Sets
 * req->has_fc. Returns as primparam_apply; an empty item or another name is RSC_BAD_REQUEST. */
m2m_rsc primparam_add_item(struct m2m_request *req, const char *name, size_t nlen, const char *item,
                           size_t ilen, char *err, size_t errlen);

/* Turns a primparam result into a binding's status: RSC_OK is M2M_OK, RSC_INTERNAL_SERVER_ERROR
 * is M2M_ERR_NOMEM, any other RSC is stored in *rsc_out and gives M2M_ERR_MALFORMED. */
m2m_rc primparam_rc(m2m_rsc *rsc_out, m2m_rsc rsc);

/* True when name is a list parameter ("ty", "lbl"). */
bool primparam_is_list(const char *name, size_t nlen);

/* True when name is a filter-criteria parameter (TS-0004 6.3.5.8), lists included. */
bool primparam_is_fc(const char *name, size_t nlen);

/* Digits only (no sign, no spaces), 1 to 18 of them, value within [lo, hi], into *v. */
bool primparam_uint(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *v);

/* TS-0004 m2m:absRelTimestamp: an absolute timestamp, or digits meaning milliseconds from the
 * reception time (r->t_recv_us when set, else the wall clock now), into *out in microseconds. */
bool primparam_abs_rel(const struct m2m_request *r, const char *v, size_t n, int64_t *out);

#endif
