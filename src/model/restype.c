/* restype.c: the resource-type registry (short names, parent/child rules, acpi presence) and the
 * per-type attribute tables with the CREATE/UPDATE validator (TS-0004 7.4, short names 8.2.3). */
#include "model/restype.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"
#include "enc/json.h"

/* ---- Bounds (ours, not the spec's: keep every peer-supplied value small and finite) ---- */

#define MAX_STR 4096                      /* any string attribute except con */
#define MAX_LABEL 256                     /* one lbl entry */
#define MAX_NAME 255                      /* rn, csi */
#define MAX_TS 64                         /* a timestamp string */
#define MAX_LIST 1024                     /* entries of any list attribute */
#define MAX_ACPI 32                       /* entries of acpi */
#define MAX_MID 10000                     /* entries of a group's mid */
#define MAX_INT INT64_C(9007199254740991) /* 2^53-1: exact in a double and in an int64 */

/* Value kinds of an attribute. */
enum attr_kind {
    K_NONE,  /* set by the CSE only (NP on create and update) */
    K_STR,   /* string without control characters, possibly empty */
    K_NESTR, /* non-empty K_STR */
    K_URI,   /* xs:anyURI: non-empty, no whitespace or control characters */
    K_STRS,  /* list of K_NESTR, item count in [lo, hi] */
    K_URIS,  /* list of K_URI, item count in [lo, hi] */
    K_INT,   /* integer in [lo, hi] */
    K_BOOL,  /* true / false */
    K_TS,    /* m2m:timestamp */
    K_OBJ,   /* any JSON object */
    K_ANY,   /* any JSON value except null (xs:anyType) */
    K_ACRS,  /* m2m:setOfAcrs: object with an "acr" array of at least lo rules */
    K_RN,    /* m2m:resourceName */
    K_LBL,   /* m2m:labels, item count in [lo, hi] */
    K_ACPI,  /* m2m:acpType, item count in [lo, hi] */
    K_API,   /* App-ID */
    K_SRV,   /* m2m:supportedReleaseVersions */
    K_CSI,   /* SP-relative CSE-ID */
    K_CNF,   /* m2m:contentInfo */
    K_ENC,   /* m2m:eventNotificationCriteria (light check) */
    K_CR,    /* creator: only null is accepted ("fill in the Originator") */
    K_EVCAT, /* m2m:eventCat */
};

/* Request optionality (TS-0004 7.4.x.1 tables): mandatory, optional, not permitted. */
enum attr_perm { P_NP = 0, P_O, P_M };

struct attr_spec {
    const char *sn;
    enum attr_kind kind;
    enum attr_perm create, update;
    int64_t lo, hi; /* K_INT: value range; lists: item count range; K_ACRS: min rule count */
};

/* ---- Attribute tables ---- */

#define RO(n)                                                                                      \
    {                                                                                              \
        n, K_NONE, P_NP, P_NP, 0, 0                                                                \
    }
#define A(n, k, c, u)                                                                              \
    {                                                                                              \
        n, k, c, u, 0, 0                                                                           \
    }
#define AR(n, k, c, u, lo, hi)                                                                     \
    {                                                                                              \
        n, k, c, u, lo, hi                                                                         \
    }
/* Universal attributes the CSE always sets (TS-0004 7.4.x.1-2: NP / NP). */
#define UNIVERSAL_RO RO("ty"), RO("ri"), RO("pi"), RO("ct"), RO("lt")
#define A_RN A("rn", K_RN, P_O, P_NP)
#define A_ET A("et", K_TS, P_O, P_O)
#define A_LBL AR("lbl", K_LBL, P_O, P_O, 0, MAX_LIST)
/* m2m:acpType "shall contain at least one member": an empty acpi would be ambiguous between
 * "no policy" and "default policy" (SPEC-MAP A3), so it is refused. */
#define A_ACPI AR("acpi", K_ACPI, P_O, P_O, 1, MAX_ACPI)
#define A_AT AR("at", K_URIS, P_O, P_O, 0, MAX_LIST)
#define A_AA AR("aa", K_STRS, P_O, P_O, 0, MAX_LIST)
#define A_DACI AR("daci", K_URIS, P_O, P_O, 0, MAX_LIST)
#define A_CR A("cr", K_CR, P_O, P_NP)
#define A_NONNEG(n) AR(n, K_INT, P_O, P_O, 0, MAX_INT)

/* TS-0004 Tables 7.4.2.1-2/-3: <accessControlPolicy> (no acpi, no daci). */
static const struct attr_spec acp_attrs[] = {
    UNIVERSAL_RO,
    A_RN,
    A_ET,
    A_LBL,
    A_AT,
    A_AA,
    AR("pv", K_ACRS, P_M, P_O, 0, 0),
    /* TS-0004 7.4.2.2.1/7.4.2.2.3: pvs must keep at least one rule. */
    AR("pvs", K_ACRS, P_M, P_O, 1, 0),
    AR("adri", K_URIS, P_O, P_O, 1, MAX_LIST),
    AR("apri", K_URIS, P_O, P_O, 1, MAX_LIST),
    AR("airi", K_URIS, P_O, P_O, 1, MAX_LIST),
};

/* TS-0004 Tables 7.4.5.1-2/-3: <AE>. */
static const struct attr_spec ae_attrs[] = {
    UNIVERSAL_RO,
    RO("aei"),
    A_RN,
    A_ET,
    A_LBL,
    A_ACPI,
    A_AT,
    A_AA,
    A_DACI,
    A("apn", K_STR, P_O, P_O),
    A("api", K_API, P_M, P_NP),
    AR("poa", K_URIS, P_O, P_O, 0, MAX_LIST),
    A("or", K_URI, P_O, P_O),
    A("nl", K_URI, P_O, P_O),
    A("rr", K_BOOL, P_M, P_O),
    AR("csz", K_STRS, P_O, P_O, 0, MAX_LIST),
    A("esi", K_OBJ, P_O, P_O),
    A("mei", K_NESTR, P_O, P_O),
    AR("srv", K_SRV, P_M, P_O, 1, 16),
};

/* TS-0004 Tables 7.4.6.1-2/-3: <container> (li is NP / NP there). */
static const struct attr_spec cnt_attrs[] = {
    UNIVERSAL_RO,
    RO("st"),
    RO("cni"),
    RO("cbs"),
    RO("li"),
    A_RN,
    A_ET,
    A_LBL,
    A_ACPI,
    A_AT,
    A_AA,
    A_DACI,
    A_CR,
    A_NONNEG("mni"),
    A_NONNEG("mbs"),
    A_NONNEG("mia"),
    A("or", K_URI, P_O, P_O),
    A("disr", K_BOOL, P_O, P_O),
};

/* TS-0004 Tables 7.4.7.1-2/-3: <contentInstance> (create only; no acpi, no daci). */
static const struct attr_spec cin_attrs[] = {
    UNIVERSAL_RO,
    RO("st"),
    RO("cs"),
    A("rn", K_RN, P_O, P_NP),
    A("et", K_TS, P_O, P_NP),
    AR("lbl", K_LBL, P_O, P_NP, 0, MAX_LIST),
    AR("at", K_URIS, P_O, P_NP, 0, MAX_LIST),
    AR("aa", K_STRS, P_O, P_NP, 0, MAX_LIST),
    A_CR,
    A("cnf", K_CNF, P_O, P_NP),
    A("or", K_URI, P_O, P_NP),
    A("con", K_ANY, P_M, P_NP),
};

/* TS-0004 Tables 7.4.3.1-2/-3: <CSEBase>; everything is set from the CSE's configuration. */
static const struct attr_spec cb_attrs[] = {
    UNIVERSAL_RO, RO("rn"), RO("lbl"),  RO("acpi"), RO("cst"), RO("csi"), RO("srt"),
    RO("poa"),    RO("nl"), RO("daci"), RO("csz"),  RO("esi"), RO("srv"),
};

/* TS-0004 Tables 7.4.13.1-2/-3: <group>. */
static const struct attr_spec grp_attrs[] = {
    UNIVERSAL_RO,
    RO("cnm"),
    RO("mtv"),
    RO("ssi"),
    A_RN,
    A_ET,
    A_LBL,
    A_ACPI,
    A_AT,
    A_AA,
    A_DACI,
    A_CR,
    /* m2m:memberType: 0 = mixed, otherwise a resource type. */
    AR("mt", K_INT, P_O, P_NP, 0, 99999),
    AR("mnm", K_INT, P_M, P_O, 1, MAX_INT),
    /* "This list may contain no members". */
    AR("mid", K_URIS, P_M, P_O, 0, MAX_MID),
    AR("macp", K_URIS, P_O, P_O, 1, MAX_ACPI),
    AR("csy", K_INT, P_O, P_NP, 1, 3),
    A("gn", K_STR, P_O, P_O),
};

/* TS-0004 Tables 7.4.4.1-2/-3: <remoteCSE>. */
static const struct attr_spec csr_attrs[] = {
    UNIVERSAL_RO,
    A_RN,
    A_ET,
    A_LBL,
    A_ACPI,
    A_AT,
    A_AA,
    A_DACI,
    AR("cst", K_INT, P_O, P_NP, 1, 3),
    AR("poa", K_URIS, P_O, P_O, 0, MAX_LIST),
    A("cb", K_URI, P_M, P_NP),
    A("csi", K_CSI, P_O, P_NP),
    A("mei", K_NESTR, P_O, P_O),
    A("rr", K_BOOL, P_M, P_O),
    A("nl", K_URI, P_O, P_O),
    AR("csz", K_STRS, P_O, P_O, 0, MAX_LIST),
    A("esi", K_OBJ, P_O, P_O),
    AR("dcse", K_STRS, P_O, P_O, 0, MAX_LIST),
    AR("srv", K_SRV, P_M, P_O, 1, 16),
};

/* TS-0004 Tables 7.4.29.1-2/-3: <serviceSubscribedAppRule> (rn added: TS-0001 9.6.29). */
static const struct attr_spec asar_attrs[] = {
    UNIVERSAL_RO,
    A_RN,
    A_ET,
    A_LBL,
    A_ACPI,
    A_DACI,
    AR("apci", K_STRS, P_O, P_O, 0, MAX_LIST),
    AR("aai", K_STRS, P_O, P_O, 0, MAX_LIST),
    AR("aae", K_STRS, P_O, P_O, 0, MAX_LIST),
    AR("ari", K_STRS, P_O, P_O, 0, MAX_LIST),
};

/* TS-0004 Tables 7.4.8.1-2/-3: <subscription> (no at/aa). */
static const struct attr_spec sub_attrs[] = {
    UNIVERSAL_RO,
    A_RN,
    A_ET,
    A_LBL,
    A_ACPI,
    A_DACI,
    A_CR,
    A("enc", K_ENC, P_O, P_O),
    AR("exc", K_INT, P_O, P_O, 1, MAX_INT),
    AR("nu", K_URIS, P_M, P_O, 1, MAX_LIST),
    A("gpi", K_URI, P_O, P_O),
    A("nfu", K_URI, P_O, P_O),
    A("bn", K_OBJ, P_O, P_O),
    A("rl", K_OBJ, P_O, P_O),
    AR("psn", K_INT, P_O, P_NP, 1, MAX_INT),
    AR("pn", K_INT, P_O, P_O, 1, 2),
    AR("nsp", K_INT, P_O, P_O, 1, MAX_INT),
    A("ln", K_BOOL, P_O, P_O),
    /* m2m:notificationContentType 1..4 (5 is for timeSeries, not supported here). */
    AR("nct", K_INT, P_O, P_O, 1, 4),
    A("nec", K_EVCAT, P_O, P_O),
    A("su", K_URI, P_O, P_NP),
};

#define BIT(ty) (UINT32_C(1) << (ty))

struct type_spec {
    int ty;
    const char *sn;
    const struct attr_spec *attrs;
    size_t n_attrs;
    uint32_t children; /* BIT(child ty) per allowed child type */
    bool has_acpi;
};

#define TABLE(a) a, M2M_ARRAY_LEN(a)

/* Child types: TS-0001 Table 9.6.1.1-1 restricted to the types implemented here. */
static const struct type_spec types[] = {
    {TY_ACP, "acp", TABLE(acp_attrs), BIT(TY_SUB), false},
    {TY_AE, "ae", TABLE(ae_attrs), BIT(TY_ACP) | BIT(TY_CNT) | BIT(TY_GRP) | BIT(TY_SUB), true},
    {TY_CNT, "cnt", TABLE(cnt_attrs), BIT(TY_CNT) | BIT(TY_CIN) | BIT(TY_SUB), true},
    {TY_CIN, "cin", TABLE(cin_attrs), 0, false},
    {TY_CSEBASE, "cb", TABLE(cb_attrs),
     BIT(TY_ACP) | BIT(TY_AE) | BIT(TY_CNT) | BIT(TY_GRP) | BIT(TY_CSR) | BIT(TY_SUB) |
         BIT(TY_ASAR),
     true},
    {TY_GRP, "grp", TABLE(grp_attrs), BIT(TY_SUB), true},
    {TY_CSR, "csr", TABLE(csr_attrs), BIT(TY_ACP) | BIT(TY_CNT) | BIT(TY_GRP) | BIT(TY_SUB), true},
    /* TS-0001 9.6.8 does not list serviceSubscribedAppRule among subscription parents. */
    {TY_ASAR, "asar", TABLE(asar_attrs), 0, true},
    {TY_SUB, "sub", TABLE(sub_attrs), 0, true},
};

/* The validator tracks seen attributes in a 64-bit mask. */
_Static_assert(M2M_ARRAY_LEN(ae_attrs) <= 64 && M2M_ARRAY_LEN(sub_attrs) <= 64 &&
                   M2M_ARRAY_LEN(grp_attrs) <= 64 && M2M_ARRAY_LEN(cnt_attrs) <= 64 &&
                   M2M_ARRAY_LEN(csr_attrs) <= 64,
               "attribute tables must fit the seen-mask");

static const struct type_spec *find_type(int ty)
{
    for (size_t i = 0; i < M2M_ARRAY_LEN(types); i++)
        if (types[i].ty == ty)
            return &types[i];
    return NULL;
}

static const struct attr_spec *find_attr(const struct type_spec *t, const char *sn, size_t *idx)
{
    for (size_t i = 0; i < t->n_attrs; i++)
        if (strcmp(t->attrs[i].sn, sn) == 0) {
            *idx = i;
            return &t->attrs[i];
        }
    return NULL;
}

/* ---- Registry ---- */

const char *restype_short_name(int ty)
{
    const struct type_spec *t = find_type(ty);
    return t ? t->sn : NULL;
}

int restype_from_short_name(const char *sn)
{
    if (sn == NULL)
        return 0;
    for (size_t i = 0; i < M2M_ARRAY_LEN(types); i++)
        if (strcmp(types[i].sn, sn) == 0)
            return types[i].ty;
    return 0;
}

bool restype_supported(int ty)
{
    return find_type(ty) != NULL;
}

bool restype_child_allowed(int parent_ty, int child_ty)
{
    const struct type_spec *p = find_type(parent_ty);
    if (p == NULL || !restype_supported(child_ty))
        return false;
    return (p->children & BIT(child_ty)) != 0;
}

bool restype_has_acpi(int ty)
{
    const struct type_spec *t = find_type(ty);
    return t != NULL && t->has_acpi;
}

bool restype_attr_is_readonly(int ty, const char *sn)
{
    static const char *const universal[] = {"ty", "ri", "pi", "ct", "lt"};
    if (sn == NULL)
        return false;
    const struct type_spec *t = find_type(ty);
    if (t == NULL) {
        for (size_t i = 0; i < M2M_ARRAY_LEN(universal); i++)
            if (strcmp(universal[i], sn) == 0)
                return true;
        return false;
    }
    size_t idx;
    const struct attr_spec *a = find_attr(t, sn, &idx);
    return a != NULL && a->create == P_NP && a->update == P_NP;
}

/* ---- Value checks: each returns NULL when valid, else a static reason ---- */

/* Length of a cJSON string bounded by max (cJSON strings are NUL-terminated; json_parse refuses
 * embedded NULs). Returns false when longer than max or when control characters (or, with
 * !allow_space, any whitespace) occur. */
static bool text_ok(const char *s, size_t max, bool allow_space, size_t *len_out)
{
    size_t len = strnlen(s, max + 1);
    if (len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || (!allow_space && c == ' '))
            return false;
    }
    *len_out = len;
    return true;
}

static const char *str_of(const cJSON *v, size_t max, bool allow_space, size_t *len)
{
    if (!cJSON_IsString(v) || v->valuestring == NULL)
        return "must be a string";
    if (!text_ok(v->valuestring, max, allow_space, len))
        return "is too long or contains control characters";
    return NULL;
}

static const char *check_str(const cJSON *v, bool nonempty)
{
    size_t len;
    const char *r = str_of(v, MAX_STR, true, &len);
    if (r == NULL && nonempty && len == 0)
        r = "must not be empty";
    return r;
}

static const char *check_uri(const cJSON *v)
{
    size_t len;
    const char *r = str_of(v, MAX_STR, false, &len);
    if (r == NULL && len == 0)
        r = "must not be empty";
    return r == NULL ? NULL : "must be a URI (non-empty, no whitespace or control characters)";
}

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* TS-0004 6.2.3 / 6.3.3 m2m:resourceName: (ALPHA / DIGIT) *(ALPHA / DIGIT / "-" / "." / "_"). */
static bool name_ok(const char *s, size_t len)
{
    if (len == 0 || len > MAX_NAME || !is_alnum((unsigned char)s[0]))
        return false;
    for (size_t i = 1; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_alnum(c) && c != '-' && c != '.' && c != '_')
            return false;
    }
    return true;
}

static const char *check_rn(const cJSON *v)
{
    size_t len;
    if (str_of(v, MAX_NAME, false, &len) != NULL || !name_ok(v->valuestring, len))
        return "must match [A-Za-z0-9][A-Za-z0-9._-]* (at most 255 characters)";
    /* TS-0004 7.4.6.1-4: "la" and "ol" name the virtual <latest>/<oldest> children of a
     * container; we refuse them as names for every type so no child can shadow them. */
    if (strcmp(v->valuestring, "la") == 0 || strcmp(v->valuestring, "ol") == 0)
        return "is reserved (\"la\" / \"ol\")";
    return NULL;
}

/* TS-0004 6.2.3: SP-relative-CSE-ID = "/" 1*unreserved. */
static const char *check_csi(const cJSON *v)
{
    size_t len;
    if (str_of(v, MAX_NAME + 1, false, &len) != NULL || len < 2 || v->valuestring[0] != '/' ||
        !name_ok(v->valuestring + 1, len - 1))
        return "must be an SP-relative CSE-ID (\"/\" followed by [A-Za-z0-9][A-Za-z0-9._-]*)";
    return NULL;
}

/* TS-0001 10.2.2.2 / SPEC-MAP B5: an App-ID starts with 'R' or 'r' (registered) or 'N'. */
static const char *check_api(const cJSON *v)
{
    size_t len;
    if (str_of(v, MAX_STR, false, &len) != NULL || len == 0)
        return "must be a non-empty string without whitespace";
    char c = v->valuestring[0];
    if (c != 'R' && c != 'r' && c != 'N')
        return "must start with 'R', 'r' or 'N'";
    return NULL;
}

static const char *check_int(const cJSON *v, int64_t lo, int64_t hi)
{
    return json_is_int_in(v, lo, hi) ? NULL : "must be an integer in the permitted range";
}

/* m2m:eventCat: a m2m:stdEventCats value (2..4) or a user-defined category 100..999. */
static const char *check_evcat(const cJSON *v)
{
    if (json_is_int_in(v, 2, 4) || json_is_int_in(v, 100, 999))
        return NULL;
    return "must be 2..4 or 100..999";
}

static const char *check_ts(const cJSON *v)
{
    size_t len;
    int64_t t;
    if (str_of(v, MAX_TS, false, &len) != NULL || !m2m_ts_parse(v->valuestring, len, &t))
        return "must be a timestamp YYYYMMDDThhmmss[,ffffff]";
    return NULL;
}

/* RFC 6838 restricted-name characters for a media type part. */
static bool mime_part_ok(const char *s, size_t len)
{
    if (len == 0 || len > 127)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_alnum(c) && strchr("!#$&-^_.+", c) == NULL)
            return false;
    }
    return true;
}

/* TS-0004 6.3.3 m2m:contentInfo: "type/subtype:encodingType[:contentSecurity]", with
 * m2m:encodingType 0..2 (Table 6.3.4.2.28-1) and m2m:contentSecurity 0..5 (6.3.4.2.38-1). */
static const char *check_cnf(const cJSON *v)
{
    static const char *const bad = "must be \"type/subtype:encoding[:contentSecurity]\"";
    size_t len;
    if (str_of(v, MAX_STR, false, &len) != NULL)
        return bad;
    const char *s = v->valuestring;
    const char *slash = memchr(s, '/', len);
    const char *colon = memchr(s, ':', len);
    if (slash == NULL || colon == NULL || colon < slash || !mime_part_ok(s, (size_t)(slash - s)) ||
        !mime_part_ok(slash + 1, (size_t)(colon - slash - 1)))
        return bad;
    size_t rest = len - (size_t)(colon - s) - 1; /* after the first ':' */
    const char *e = colon + 1;
    if (rest == 1 && e[0] >= '0' && e[0] <= '2')
        return NULL;
    if (rest == 3 && e[0] >= '0' && e[0] <= '2' && e[1] == ':' && e[2] >= '0' && e[2] <= '5')
        return NULL;
    return bad;
}

typedef const char *(*item_check)(const cJSON *item);

static const char *item_nestr(const cJSON *i)
{
    return check_str(i, true);
}

/* m2m:labels entries: key-only or "key:value" tokens; any non-empty text without controls. */
static const char *item_label(const cJSON *i)
{
    size_t len;
    const char *r = str_of(i, MAX_LABEL, true, &len);
    if (r == NULL && len == 0)
        r = "must not be empty";
    return r ? "entries must be non-empty strings of at most 256 characters" : NULL;
}

/* m2m:supportedReleaseVersions entries: "1", "2", "2a", "3", "4" ... (digits, optional letter). */
static const char *item_release(const cJSON *i)
{
    static const char *const bad = "entries must be release versions such as \"3\" or \"2a\"";
    size_t len;
    if (str_of(i, 4, false, &len) != NULL || len == 0)
        return bad;
    const char *s = i->valuestring;
    size_t k = 0;
    while (k < len && k < 2 && s[k] >= '0' && s[k] <= '9')
        k++;
    if (k == 0 || (k < len && !(s[k] >= 'a' && s[k] <= 'z' && k + 1 == len)))
        return bad;
    return NULL;
}

static const char *check_list(const cJSON *v, int64_t lo, int64_t hi, item_check item)
{
    if (!cJSON_IsArray(v))
        return "must be a list";
    int64_t n = 0;
    for (const cJSON *i = v->child; i != NULL; i = i->next) {
        if (++n > hi)
            return "has too many entries";
        const char *r = item(i);
        if (r != NULL)
            return r;
    }
    return n < lo ? "has too few entries" : NULL;
}

/* m2m:setOfAcrs: only the outer shape here; the rules are validated by src/acp. */
static const char *check_acrs(const cJSON *v, int64_t min_rules)
{
    if (!cJSON_IsObject(v))
        return "must be an object";
    const cJSON *acr = cJSON_GetObjectItemCaseSensitive(v, "acr");
    if (!cJSON_IsArray(acr))
        return "must hold an \"acr\" list";
    int64_t n = 0;
    for (const cJSON *i = acr->child; i != NULL && n < min_rules; i = i->next)
        n++;
    return n < min_rules ? "must hold at least one access control rule" : NULL;
}

static const char *item_net(const cJSON *i)
{
    return json_is_int_in(i, 1, 8) ? NULL : "net entries must be integers 1..8";
}

/* TS-0004 6.3.5.7: only notificationEventType (Table 6.3.4.2.19-1: 1..8) is checked here. */
static const char *check_enc(const cJSON *v)
{
    if (!cJSON_IsObject(v))
        return "must be an object";
    const cJSON *net = cJSON_GetObjectItemCaseSensitive(v, "net");
    if (net == NULL)
        return NULL;
    return check_list(net, 0, 8, item_net);
}

static const char *check_value(const struct attr_spec *a, const cJSON *v)
{
    switch (a->kind) {
    case K_STR: return check_str(v, false);
    case K_NESTR: return check_str(v, true);
    case K_URI: return check_uri(v);
    case K_STRS: return check_list(v, a->lo, a->hi, item_nestr);
    case K_URIS: return check_list(v, a->lo, a->hi, check_uri);
    case K_INT: return check_int(v, a->lo, a->hi);
    case K_BOOL: return cJSON_IsBool(v) ? NULL : "must be a boolean";
    case K_TS: return check_ts(v);
    case K_OBJ: return cJSON_IsObject(v) ? NULL : "must be an object";
    case K_ANY: return cJSON_IsNull(v) ? "must not be null" : NULL;
    case K_ACRS: return check_acrs(v, a->lo);
    case K_RN: return check_rn(v);
    case K_LBL: return check_list(v, a->lo, a->hi, item_label);
    case K_ACPI: return check_list(v, a->lo, a->hi, check_uri);
    case K_API: return check_api(v);
    case K_SRV: return check_list(v, a->lo, a->hi, item_release);
    case K_CSI: return check_csi(v);
    case K_CNF: return check_cnf(v);
    case K_ENC: return check_enc(v);
    case K_CR: return "must be null (the CSE sets the creator)";
    case K_EVCAT: return check_evcat(v);
    case K_NONE: break;
    }
    return "is not permitted";
}

/* ---- The validator ---- */

struct vctx {
    const struct type_spec *t;
    m2m_rsc *rsc;
    char *err;
    size_t errlen;
};

static m2m_rc fail(struct vctx *c, m2m_rc rc, m2m_rsc rsc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static m2m_rc fail(struct vctx *c, m2m_rc rc, m2m_rsc rsc, const char *fmt, ...)
{
    if (c->rsc != NULL)
        *c->rsc = rsc;
    if (c->err != NULL && c->errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Copies a peer-supplied member name into out for an error message, keeping only harmless
 * characters so the message stays printable ASCII. */
static void safe_name(const char *s, char out[40])
{
    size_t i = 0;
    for (; s != NULL && s[i] != '\0' && i < 32; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = (is_alnum(ch) || ch == '_' || ch == ':' || ch == '-' || ch == '.') ? s[i] : '?';
    }
    if (s != NULL && s[i] != '\0') {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

static m2m_rc check_member(struct vctx *c, enum m2m_op op, const cJSON *m, uint64_t *seen)
{
    const char *opname = op == M2M_OP_CREATE ? "CREATE" : "UPDATE";
    size_t idx = 0;
    char nm[40];
    safe_name(m->string, nm);
    const struct attr_spec *a = m->string ? find_attr(c->t, m->string, &idx) : NULL;
    if (a == NULL)
        return fail(c, M2M_ERR_MALFORMED, RSC_BAD_REQUEST, "%s: unknown attribute '%s'", c->t->sn,
                    nm);
    if (*seen & (UINT64_C(1) << idx))
        return fail(c, M2M_ERR_MALFORMED, RSC_BAD_REQUEST, "%s: duplicate attribute '%s'", c->t->sn,
                    a->sn);
    *seen |= UINT64_C(1) << idx;
    enum attr_perm perm = op == M2M_OP_CREATE ? a->create : a->update;
    if (perm == P_NP)
        return fail(c, M2M_ERR_MALFORMED, RSC_BAD_REQUEST,
                    "%s: attribute '%s' is not permitted "
                    "in %s",
                    c->t->sn, a->sn, opname);
    if (cJSON_IsNull(m)) {
        /* On CREATE only cr takes null; on UPDATE null deletes an optional attribute. */
        if (op == M2M_OP_CREATE ? a->kind == K_CR : a->create != P_M)
            return M2M_OK;
        return fail(c, M2M_ERR_MALFORMED, RSC_BAD_REQUEST,
                    "%s: attribute '%s' may not be null "
                    "in %s",
                    c->t->sn, a->sn, opname);
    }
    const char *why = check_value(a, m);
    if (why != NULL)
        return fail(c, M2M_ERR_MALFORMED, RSC_BAD_REQUEST, "%s: attribute '%s' %s", c->t->sn, a->sn,
                    why);
    return M2M_OK;
}

static m2m_rc check_mandatory(struct vctx *c, uint64_t seen)
{
    for (size_t i = 0; i < c->t->n_attrs; i++)
        if (c->t->attrs[i].create == P_M && !(seen & (UINT64_C(1) << i)))
            return fail(c, M2M_ERR_MALFORMED, RSC_BAD_REQUEST,
                        "%s: mandatory attribute '%s' is missing", c->t->sn, c->t->attrs[i].sn);
    return M2M_OK;
}

m2m_rc restype_validate(int ty, enum m2m_op op, const cJSON *attrs, m2m_rsc *rsc, char *err,
                        size_t errlen)
{
    struct vctx c = {find_type(ty), rsc, err, errlen};
    if (op != M2M_OP_CREATE && op != M2M_OP_UPDATE)
        return fail(&c, M2M_ERR_INTERNAL, RSC_INTERNAL_SERVER_ERROR,
                    "restype_validate: operation %d is not CREATE or UPDATE", (int)op);
    if (c.t == NULL)
        return fail(&c, M2M_ERR_MALFORMED, RSC_BAD_REQUEST, "resource type %d is not supported",
                    ty);
    /* TS-0004 7.4.3.2.1/7.4.3.2.3: <CSEBase> is neither created nor updated via the API. */
    if (ty == TY_CSEBASE)
        return fail(&c, M2M_ERR_DENIED, RSC_OPERATION_NOT_ALLOWED,
                    "cb: CSEBase cannot be created or updated");
    /* TS-0004 7.4.7.2.3: a <contentInstance> cannot be updated. */
    if (ty == TY_CIN && op == M2M_OP_UPDATE)
        return fail(&c, M2M_ERR_DENIED, RSC_OPERATION_NOT_ALLOWED,
                    "cin: contentInstance cannot be updated");
    if (!cJSON_IsObject(attrs))
        return fail(&c, M2M_ERR_MALFORMED, RSC_BAD_REQUEST, "%s: content must be a JSON object",
                    c.t->sn);
    uint64_t seen = 0;
    for (const cJSON *m = attrs->child; m != NULL; m = m->next)
        RETURN_IF_ERR(check_member(&c, op, m, &seen));
    if (op == M2M_OP_CREATE)
        RETURN_IF_ERR(check_mandatory(&c, seen));
    if (rsc != NULL)
        *rsc = RSC_NONE;
    return M2M_OK;
}
