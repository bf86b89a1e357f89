/* restype.h: oneM2M resource types, their short names, parent/child rules and the attribute
 * schema of each type (TS-0004 clause 7.4, short names TS-0004 8.2). Pure tables and validators. */
#ifndef M2M_MODEL_RESTYPE_H
#define M2M_MODEL_RESTYPE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/rc.h"
#include "model/prim.h"

enum m2m_ty {
    TY_ACP = 1,
    TY_AE = 2,
    TY_CNT = 3,
    TY_CIN = 4,
    TY_CSEBASE = 5,
    TY_GRP = 9,
    TY_CSR = 16,
    TY_ASAR = 19,
    TY_SUB = 23,
};

/* "acp", "ae", "cnt", "cin", "cb", "grp", "csr", "asar", "sub"; NULL for unsupported types. */
const char *restype_short_name(int ty);
/* Inverse of restype_short_name for the "m2m:xxx" wrapper key (without the "m2m:" prefix). */
int restype_from_short_name(const char *sn);
/* True when this CSE implements the type. */
bool restype_supported(int ty);
/* Whether a resource of child_ty may be created under a parent of parent_ty (TS-0001 9.6.1.1). */
bool restype_child_allowed(int parent_ty, int child_ty);
/* Whether the type has an accessControlPolicyIDs attribute (A3: cin does not). */
bool restype_has_acpi(int ty);

/* Validates the content of a CREATE (op = M2M_OP_CREATE) or UPDATE (op = M2M_OP_UPDATE) of a
 * resource of type ty. `attrs` is the object inside the "m2m:<sn>" wrapper. Checks each attribute
 * is known for the type, permitted for the operation (NP -> 4000), of the right JSON type and
 * range, and that mandatory attributes are present on CREATE. On UPDATE a JSON null means
 * "delete the attribute" and is refused for mandatory attributes. On failure returns
 * M2M_ERR_MALFORMED with *rsc = RSC_BAD_REQUEST (or RSC_CONTENTS_UNACCEPTABLE) and a message
 * naming the attribute. */
M2M_WARN_UNUSED m2m_rc restype_validate(int ty, enum m2m_op op, const cJSON *attrs, m2m_rsc *rsc,
                                        char *err, size_t errlen);

/* Names of attributes the CSE sets itself, never accepted from a request (ri, pi, ct, lt, ty,
 * st, cni, cbs, cs ...). Used by restype_validate; exposed for tests. */
bool restype_attr_is_readonly(int ty, const char *sn);

#endif
