/* acp_ref.c: the reference model of TS-0003 7.1.5 (see acp_ref.h), written as the text reads:
 * every call walks the JSON rules, parses each schedule entry and CIDR again and matches
 * originators by building absolute strings and a recursive wildcard match. Slow on purpose; no
 * caching, no precomputation, no code shared with src/acp. */
#include "acp_ref.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_ID_MAX 1024 /* room for sp_id + csi + entry (each <= 255) */

/* ======================================================================== JSON helpers */

static const cJSON *get(const cJSON *o, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(o, name);
}

static bool only(const cJSON *o, const char *const *names)
{
    for (const cJSON *m = o->child; m != NULL; m = m->next) {
        bool known = false;
        for (size_t i = 0; names[i] != NULL; i++)
            known = known || (m->string != NULL && strcmp(m->string, names[i]) == 0);
        if (!known)
            return false;
    }
    return true;
}

/* An integral JSON number within lo..hi. */
static bool int_in(const cJSON *j, double lo, double hi)
{
    return cJSON_IsNumber(j) && isfinite(j->valuedouble) &&
           j->valuedouble == floor(j->valuedouble) && j->valuedouble >= lo && j->valuedouble <= hi;
}

/* A JSON string of 1..255 characters (the engine's bound on any entry). */
static bool str_ok(const cJSON *j)
{
    return cJSON_IsString(j) && j->valuestring != NULL && strlen(j->valuestring) >= 1 &&
           strlen(j->valuestring) <= 255;
}

static size_t count(const cJSON *a)
{
    size_t n = 0;
    for (const cJSON *i = a ? a->child : NULL; i != NULL; i = i->next)
        n++;
    return n;
}

/* ======================================================================== originators */

/* TS-0001 7.2 identifiers are URIs: no whitespace or control characters. */
static bool id_text_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return false;
    return true;
}

enum ref_kind { K_ALL, K_ROLE, K_DOMAIN, K_ID, K_GROUP, K_BAD };

/* Every '/'-separated part of the absolute ID after "//" is non-empty; returns the number of
 * segments after the SP-ID, or -1. */
static int abs_segments(const char *abs)
{
    if (strncmp(abs, "//", 2) != 0)
        return -1;
    int parts = 0;
    const char *p = abs + 2;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0)
            return -1;
        parts++;
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    return parts - 1;
}

/* SPEC-MAP A6 step 1/2: an ID in absolute form. "//..." stays; SP-relative "/x" gets the SP-ID
 * in front; an S-stem is SP-relative ("//sp/Sx"); any other CSE-relative ID lives under the
 * hosting CSE ("//sp/csi/x"). */
static void make_absolute(const char *id, const struct acp_host *host, char *out, size_t outlen)
{
    if (strncmp(id, "//", 2) == 0)
        snprintf(out, outlen, "%s", id);
    else if (id[0] == '/')
        snprintf(out, outlen, "%s%s", host->sp_id, id);
    else if (id[0] == 'S')
        snprintf(out, outlen, "%s/%s", host->sp_id, id);
    else
        snprintf(out, outlen, "%s%s/%s", host->sp_id, host->csi, id);
}

/* "//fqdn": every label non-empty; '*' may only stand as a whole label ([INTERP] A6). */
static bool domain_ok(const char *fqdn)
{
    char buf[REF_ID_MAX];
    snprintf(buf, sizeof(buf), "%s", fqdn);
    const char *p = buf;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len == 0)
            return false;
        if (memchr(p, '*', len) != NULL && len != 1)
            return false;
        if (dot == NULL)
            return true;
        p = dot + 1;
    }
}

/* Table 7.1.3-2 and the SPEC-MAP A6 recogniser ([INTERP]), in this order:
 *  "all" (TS-0003 7.1.3), or a lone "*" ([INTERP] A6, interop with TR-0051);
 *  "issuer-relative@fqdn" without '/' is a Role-ID;
 *  "//fqdn" without a further '/' is an SP domain;
 *  an absolute or SP-relative ID, or a bare C-/S-stem, with 1 or 2 segments after the SP-ID is a
 *  CSE-ID or AE-ID (wildcards allowed);
 *  anything else is the resource ID of a <group> (no wildcards, compared as written). */
static enum ref_kind classify(const char *e, const struct acp_host *host, char *abs, size_t abslen)
{
    if (strcmp(e, "all") == 0 || strcmp(e, "*") == 0)
        return K_ALL;
    if (strchr(e, '@') != NULL && strchr(e, '/') == NULL)
        return K_ROLE;
    if (strncmp(e, "//", 2) == 0 && strchr(e + 2, '/') == NULL)
        return domain_ok(e + 2) ? K_DOMAIN : K_BAD;
    bool stem = (e[0] == 'C' || e[0] == 'S') && strchr(e, '/') == NULL;
    if (e[0] != '/' && !stem)
        return K_GROUP; /* a CSE-relative resource ID, e.g. "grp1" */
    make_absolute(e, host, abs, abslen);
    int nseg = abs_segments(abs);
    if (nseg < 1)
        return K_BAD; /* an empty SP-ID or segment */
    return nseg <= 2 ? K_ID : K_GROUP;
}

static bool entry_valid(const cJSON *j, const struct acp_host *host)
{
    char abs[REF_ID_MAX];
    return str_ok(j) && id_text_ok(j->valuestring) &&
           classify(j->valuestring, host, abs, sizeof(abs)) != K_BAD;
}

/* TS-0003 7.1.3: "The scope of a '*' is terminated by a following '/' character": '*' matches
 * any run of characters other than '/'; everything else matches itself; the whole string must
 * match (SPEC-MAP A6 step 3). A '*' in the subject is an ordinary character. */
static bool wild_match(const char *p, const char *s, size_t sl)
{
    if (*p == '\0')
        return sl == 0;
    if (*p == '*')
        return wild_match(p + 1, s, sl) || (sl > 0 && *s != '/' && wild_match(p, s + 1, sl - 1));
    return sl > 0 && *p == *s && wild_match(p + 1, s + 1, sl - 1);
}

/* The Originator as an absolute ID: "//" then non-empty parts, no NUL (an embedded NUL makes the
 * From parameter indeterminate: TS-0003 7.1.4 says Deny). */
static bool originator_ok(const struct acp_request *req)
{
    return req->originator != NULL && req->originator_len > 0 && req->originator_len <= 4096 &&
           memchr(req->originator, '\0', req->originator_len) == NULL;
}

static bool originator_abs(const struct acp_request *req, int *nseg, size_t *sp_len)
{
    char buf[4097];
    if (!originator_ok(req) || req->originator_len < 3)
        return false;
    memcpy(buf, req->originator, req->originator_len);
    buf[req->originator_len] = '\0';
    *nseg = abs_segments(buf);
    const char *slash = strchr(buf + 2, '/');
    *sp_len = slash ? (size_t)(slash - (buf + 2)) : req->originator_len - 2;
    return *nseg >= 0;
}

/* TS-0003 7.1.3: "all AE-IDs and CSE-IDs matching the given domain name"; SPEC-MAP A6 [INTERP]:
 * "//sp.com" covers SP-ID "sp.com" and SP-IDs ending in ".sp.com"; a '*' label stands for one
 * (non-empty) label. Compared label by label from the right, case-sensitively (A6 step 5). */
static bool domain_match(const char *fqdn, const struct acp_request *req)
{
    int nseg;
    size_t sp_len;
    if (!originator_abs(req, &nseg, &sp_len))
        return false;
    if (req->orig_kind != ACP_ORIG_AE && req->orig_kind != ACP_ORIG_CSE)
        return false; /* only AE-IDs and CSE-IDs are "in" a domain */
    char sp[4097];
    memcpy(sp, req->originator + 2, sp_len);
    sp[sp_len] = '\0';
    size_t el = strlen(fqdn), sl = sp_len;
    for (;;) { /* compare the rightmost label of each */
        size_t es = el, ss = sl;
        while (es > 0 && fqdn[es - 1] != '.')
            es--;
        while (ss > 0 && sp[ss - 1] != '.')
            ss--;
        size_t elab = el - es, slab = sl - ss;
        bool star = elab == 1 && fqdn[es] == '*';
        if (star ? slab == 0 : (elab != slab || memcmp(fqdn + es, sp + ss, elab) != 0))
            return false;
        if (es == 0)
            return true; /* entry used up: same SP-ID, or a sub-domain of it */
        if (ss == 0)
            return false; /* SP-ID has fewer labels than the entry */
        el = es - 1;
        sl = ss - 1;
    }
}

/* Table 7.1.3-2: a CSE-ID pattern matches "any CSE whose ID matches", an AE-ID pattern "any AE
 * whose ID matches". Two segments after the SP-ID are an AE-ID (CSE-relative AE); one segment
 * is a CSE-ID or an SP-assigned AE-ID (both share that name space). */
static bool id_match(const char *pattern, const struct acp_request *req)
{
    int nseg;
    size_t sp_len;
    if (!originator_abs(req, &nseg, &sp_len))
        return false;
    int pseg = abs_segments(pattern);
    if (req->orig_kind == ACP_ORIG_AE)
        ; /* an AE may match one- and two-segment patterns */
    else if (req->orig_kind != ACP_ORIG_CSE || pseg != 1)
        return false;
    return wild_match(pattern, req->originator, req->originator_len);
}

static bool in_list(const char *e, const char *const *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        if (list[i] != NULL && strcmp(list[i], e) == 0)
            return true;
    return false;
}

/* One accessControlOriginators entry against the Originator. */
static bool entry_match(const char *e, const struct acp_host *host, const struct acp_request *req)
{
    char abs[REF_ID_MAX];
    if (!originator_ok(req))
        return false; /* TS-0003 7.1.4: indeterminate From, Deny */
    enum ref_kind k = classify(e, host, abs, sizeof(abs));
    bool m = false;
    switch (k) {
    case K_ALL: return true; /* TS-0003 7.1.3 keyword "all" */
    case K_ROLE: m = in_list(e, req->role_ids, req->n_role_ids); break; /* D6: validated roles */
    case K_DOMAIN: m = domain_match(e + 2, req); break;
    case K_ID: m = id_match(abs, req); break;
    default: break;
    }
    /* [INTERP] A6 / acp.h: the pipeline resolved <group> entries and lists those whose members
     * include the Originator, spelled as in acor; any entry may be such a group ID. */
    return m || in_list(e, req->groups, req->n_groups);
}

/* res_origs(k) = ismember(Originator, acr(k)_accessControlOriginators). */
static bool res_origs(const cJSON *acor, const struct acp_host *host, const struct acp_request *req)
{
    for (const cJSON *e = acor->child; e != NULL; e = e->next)
        if (entry_match(e->valuestring, host, req))
            return true;
    return false;
}

/* ======================================================================== operations */

/* res_ops(k) = ismember(Operation, acr(k)_accessControlOperations); acop is the sum of the
 * operations it lists (TS-0004 6.3.4.2.29): C 1, R 2, U 4, D 8, N 16, Discovery 32. */
static bool res_ops(const cJSON *acop, const struct acp_request *req)
{
    static const unsigned ops[] = {ACP_OP_CREATE, ACP_OP_RETRIEVE, ACP_OP_UPDATE,
                                   ACP_OP_DELETE, ACP_OP_NOTIFY,   ACP_OP_DISCOVERY};
    unsigned set = (unsigned)acop->valuedouble;
    for (size_t i = 0; i < 6; i++)
        if (req->op == ops[i]) /* the request names exactly one operation */
            return (set / ops[i]) % 2 == 1;
    return false;
}

/* ======================================================================== time windows */

static const int f_lo[7] = {0, 0, 0, 1, 1, 0, 2000};
static const int f_hi[7] = {59, 59, 23, 31, 12, 6, 9999};

/* Decimal digits only, at most 9 of them, into *v. */
static bool number(const char *s, size_t len, long *v)
{
    if (len == 0 || len > 9)
        return false;
    *v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

/* TS-0004 7.4.9.1: an element is a number, a range "a-b", or a range with a step "a-b/n"; a
 * step may also follow the asterisk ("*\/n"). '*' stands for the whole range of the field. Is
 * value v in this element? *ok = false when the element is malformed. A range with a > b is
 * malformed ([INTERP] A8: reject, the text defines no wrap-around). */
static bool element_has(const char *s, size_t len, int f, long v, bool *ok)
{
    long lo, hi, step = 1;
    const char *slash = memchr(s, '/', len);
    size_t body = slash ? (size_t)(slash - s) : len;
    const char *dash = memchr(s, '-', body);
    *ok = false;
    if (body == 1 && s[0] == '*') {
        lo = f_lo[f];
        hi = f_hi[f];
    } else if (dash != NULL) {
        if (!number(s, (size_t)(dash - s), &lo) ||
            !number(dash + 1, body - (size_t)(dash - s) - 1, &hi))
            return false;
    } else {
        if (slash != NULL || !number(s, body, &lo))
            return false; /* a step needs a range or '*' */
        hi = lo;
    }
    if (slash != NULL && (!number(slash + 1, len - body - 1, &step) || step < 1))
        return false;
    if (lo < f_lo[f] || hi > f_hi[f] || lo > hi)
        return false;
    *ok = true;
    /* lo, lo + step, lo + 2 step, ... up to hi: "repeated over and over with the interval" */
    return v >= lo && v <= hi && (v - lo) % step == 0;
}

/* One field: '*', an element, or a comma-separated list of elements. */
static bool field_has(const char *s, size_t len, int f, long v, bool *ok)
{
    bool hit = false;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != ',')
            continue;
        bool eok;
        if (element_has(s + start, i - start, f, v, &eok))
            hit = true;
        if (!eok) {
            *ok = false;
            return false;
        }
        start = i + 1;
    }
    *ok = true;
    return hit;
}

/* Is rq_time inside one m2m:scheduleEntry? Seven space-separated fields, or six taken as year '*'
 * ([INTERP] A8); rq_time is inside iff every field matches ([INTERP] A8: AND, also for day of
 * month and day of week). *ok = false for a malformed entry. */
static bool schedule_has(const char *entry, const struct acp_time *t, bool *ok)
{
    const char *tok[8];
    size_t tl[8], n = 0;
    const char *p = entry;
    *ok = false;
    while (*p) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        const char *st = p;
        while (*p && *p != ' ')
            p++;
        if (n == 8)
            return false;
        tok[n] = st;
        tl[n++] = (size_t)(p - st);
    }
    if (n == 6) {
        tok[6] = "*";
        tl[6] = 1;
        n = 7;
    }
    if (n != 7)
        return false;
    const long v[7] = {t->sec, t->min, t->hour, t->mday, t->mon, t->wday, t->year};
    bool all = true;
    for (int f = 0; f < 7; f++) {
        bool fok;
        if (!field_has(tok[f], tl[f], f, v[f], &fok))
            all = false;
        if (!fok)
            return false;
    }
    *ok = true;
    return all;
}

/* res_time(k, m) = ismember(rq_time, accessControlWindow(m)): any entry of the list. */
static bool res_time(const cJSON *actw, const struct acp_request *req)
{
    bool ok;
    for (const cJSON *e = actw->child; e != NULL; e = e->next)
        if (schedule_has(e->valuestring, &req->time, &ok))
            return true;
    return false;
}

/* ======================================================================== IP addresses */

/* RFC 3986 dec-octet, dotted quad: four decimal numbers 0..255 without leading zeros. */
static bool parse_v4(const char *s, size_t len, uint8_t out[4])
{
    size_t i = 0;
    for (int k = 0; k < 4; k++) {
        size_t st = i;
        long v;
        while (i < len && s[i] != '.')
            i++;
        if (!number(s + st, i - st, &v) || v > 255 || (i - st > 1 && s[st] == '0'))
            return false;
        out[k] = (uint8_t)v;
        if (k < 3 && (i >= len || s[i] != '.'))
            return false;
        i++;
    }
    return i == len + 1;
}

/* RFC 4291 2.2 text forms, via the C library (not shared with src/acp's code). */
static bool parse_v6(const char *s, size_t len, uint8_t out[16])
{
    char buf[64];
    if (len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return inet_pton(AF_INET6, buf, out) == 1;
}

/* "address" or "address/prefix" (RFC 4632 / RFC 4291 2.3); no suffix means the whole address
 * (/32 or /128); the prefix is decimal without leading zeros. */
static bool parse_cidr(const char *s, int fam, uint8_t addr[16], int *bits)
{
    const char *slash = strchr(s, '/');
    size_t al = slash ? (size_t)(slash - s) : strlen(s);
    int max = fam == 4 ? 32 : 128;
    long v = max;
    if (slash != NULL && (!number(slash + 1, strlen(slash + 1), &v) || v > max ||
                          (strlen(slash + 1) > 1 && slash[1] == '0')))
        return false;
    *bits = (int)v;
    return fam == 4 ? parse_v4(s, al, addr) : parse_v6(s, al, addr);
}

/* The first `bits` bits of a and b are equal. */
static bool prefix_eq(const uint8_t *a, const uint8_t *b, int bits)
{
    for (int i = 0; i < bits; i++)
        if (((a[i / 8] >> (7 - i % 8)) & 1) != ((b[i / 8] >> (7 - i % 8)) & 1))
            return false;
    return true;
}

static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* rq_ip as the family and bytes to compare: an IPv4-mapped IPv6 source is its IPv4 address
 * ([INTERP] A8). */
static int request_ip(const struct acp_request *req, uint8_t ip[16])
{
    if (!req->has_ip)
        return 0;
    if (req->ip_family == 6 && memcmp(req->ip, mapped_prefix, 12) == 0) {
        memcpy(ip, req->ip + 12, 4);
        return 4;
    }
    if (req->ip_family == 4 || req->ip_family == 6) {
        memcpy(ip, req->ip, req->ip_family == 4 ? 4 : 16);
        return req->ip_family;
    }
    return 0;
}

/* Does CIDR text `s` from the ipv4 (fam 4) or ipv6 (fam 6) list contain rq_ip? Family-matched
 * ([INTERP] A8); an IPv6 entry inside ::ffff:0:0/96 (prefix >= 96) names IPv4 addresses and is
 * matched against IPv4 sources, the same normalisation as for sources. */
static bool cidr_has(const char *s, int fam, int rfam, const uint8_t *ip)
{
    uint8_t a[16];
    int bits;
    if (!parse_cidr(s, fam, a, &bits))
        return false;
    if (fam == 6 && bits >= 96 && memcmp(a, mapped_prefix, 12) == 0)
        return rfam == 4 && prefix_eq(a + 12, ip, bits - 96);
    return fam == rfam && prefix_eq(a, ip, bits);
}

/* res_ip(k, m) = ismember(rq_ip, accessControlIpAddresses(m)); an unknown rq_ip is FALSE. */
static bool res_ip(const cJSON *acip, const struct acp_request *req)
{
    uint8_t ip[16];
    int rfam = request_ip(req, ip);
    const cJSON *v4 = get(acip, "ipv4"), *v6 = get(acip, "ipv6");
    for (const cJSON *e = v4 ? v4->child : NULL; rfam && e != NULL; e = e->next)
        if (cidr_has(e->valuestring, 4, rfam, ip))
            return true;
    for (const cJSON *e = v6 ? v6->child : NULL; rfam && e != NULL; e = e->next)
        if (cidr_has(e->valuestring, 6, rfam, ip))
            return true;
    return false;
}

/* ======================================================================== location */

/* ISO 3166-1 alpha-2: two ASCII letters; compared without regard to case. */
static bool alpha2(const char *s, size_t len)
{
    if (len != 2)
        return false;
    for (size_t i = 0; i < 2; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
            return false;
    return true;
}

static int upper(int c)
{
    return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* res_loc(k, m) = ismember(rq_loc, accessControlLocationRegion(m)) (TS-0003 Annex F). A circle:
 * great-circle distance (haversine, mean Earth radius 6371008.8 m, [INTERP] A8) at most the
 * radius. A country list: rq_loc's country is one of them. Unavailable rq_loc is FALSE. */
static bool res_loc(const cJSON *aclr, const struct acp_request *req)
{
    const double rad = 3.14159265358979323846 / 180.0, earth = 6371008.8;
    const cJSON *accr = get(aclr, "accr"), *accc = get(aclr, "accc");
    if (accr != NULL) {
        if (!req->has_location || !isfinite(req->lat) || !isfinite(req->lon) ||
            fabs(req->lat) > 90 || fabs(req->lon) > 180)
            return false;
        double clat = cJSON_GetArrayItem(accr, 0)->valuedouble * rad;
        double clon = cJSON_GetArrayItem(accr, 1)->valuedouble * rad;
        double radius = cJSON_GetArrayItem(accr, 2)->valuedouble;
        double rlat = req->lat * rad, rlon = req->lon * rad;
        double a = sin((rlat - clat) / 2), b = sin((rlon - clon) / 2);
        double h = a * a + cos(clat) * cos(rlat) * b * b;
        if (h > 1)
            h = 1;
        return 2 * earth * asin(sqrt(h)) <= radius;
    }
    size_t cl = strnlen(req->country, sizeof(req->country));
    if (!alpha2(req->country, cl))
        return false; /* no country known for the Originator */
    for (const cJSON *e = accc->child; e != NULL; e = e->next)
        if (upper(e->valuestring[0]) == upper(req->country[0]) &&
            upper(e->valuestring[1]) == upper(req->country[1]))
            return true;
    return false;
}

/* ======================================================================== contexts */

/* res_context(k, m) = res_time AND res_ip AND res_loc; each sub-test is TRUE when its element is
 * absent (SPEC-MAP A5) or an empty list ([INTERP] A5, as for an empty acco). Returns the failing
 * sub-tests as acp_rule_fail bits. */
static unsigned context_fail(const cJSON *ctx, const struct acp_request *req)
{
    unsigned f = 0;
    const cJSON *actw = get(ctx, "actw"), *acip = get(ctx, "acip"), *aclr = get(ctx, "aclr");
    if (actw != NULL && count(actw) > 0 && !res_time(actw, req))
        f |= ACP_FAIL_CONTEXT_TIME;
    if (acip != NULL && count(get(acip, "ipv4")) + count(get(acip, "ipv6")) > 0 &&
        !res_ip(acip, req))
        f |= ACP_FAIL_CONTEXT_IP;
    if (aclr != NULL && !res_loc(aclr, req))
        f |= ACP_FAIL_CONTEXT_LOCATION;
    return f;
}

/* res_ctxts(k) = res_context(k, 1) OR ... OR res_context(k, M_k); TRUE for a pair without
 * contexts (TS-0003 7.1.3 "for pairs, any context ... admissible") or an empty list ([INTERP] A5).
 * acco as one object is a one-element list ([INTERP] A2). On failure, the union of the failing
 * sub-tests of all contexts. */
static unsigned contexts_fail(const cJSON *acco, const struct acp_request *req)
{
    if (acco == NULL)
        return 0;
    if (cJSON_IsObject(acco))
        return context_fail(acco, req);
    unsigned u = 0;
    for (const cJSON *c = acco->child; c != NULL; c = c->next) {
        unsigned f = context_fail(c, req);
        if (f == 0)
            return 0;
        u |= f;
    }
    return u;
}

/* ======================================================================== object details */

/* res_objdetails(k, m) = res_resourceType AND res_specializationType AND res_childResource. */
static bool objdetails(const cJSON *d, const struct acp_request *req)
{
    const cJSON *ty = get(d, "ty"), *spty = get(d, "spty"), *chty = get(d, "chty");
    /* res_resourceType: TRUE when absent, else the type of the resource addressed by To */
    if (ty != NULL && (int)ty->valuedouble != req->target_ty)
        return false;
    /* res_specializationType: TRUE when absent; [INTERP] A10: the targeted resource's
     * specialization when ty is given (TS-0003 7.1.3), else the Create Content's (7.1.5) */
    if (spty != NULL) {
        const cJSON *cnd = get(spty, "cnd"), *mgd = get(spty, "mgd");
        if (cnd != NULL) {
            const char *have = ty != NULL ? req->target_spty_cnd : req->create_spty_cnd;
            if (have == NULL || strcmp(have, cnd->valuestring) != 0)
                return false;
        } else {
            int have = ty != NULL ? req->target_spty_mgd : req->create_spty_mgd;
            if (have != (int)mgd->valuedouble)
                return false;
        }
    }
    /* res_childResource = ismember(Resource Type, childResourceType) */
    for (const cJSON *c = chty->child; c != NULL; c = c->next)
        if ((int)c->valuedouble == req->create_ty)
            return true;
    return false;
}

/* res_objd(k): "applies to Create request primitives only" (TRUE otherwise, [INTERP] A5); a rule
 * without (or with an empty) accessControlObjectDetails applies to all child types (7.1.3). */
static bool res_objd(const cJSON *acod, const struct acp_request *req)
{
    if (req->op != ACP_OP_CREATE || acod == NULL || count(acod) == 0)
        return true;
    for (const cJSON *d = acod->child; d != NULL; d = d->next)
        if (objdetails(d, req))
            return true;
    return false;
}

/* ======================================================================== validation */

static bool valid_acip(const cJSON *acip, char *why, size_t wl)
{
    static const char *const names[] = {"ipv4", "ipv6", NULL};
    if (!cJSON_IsObject(acip) || !only(acip, names)) {
        snprintf(why, wl, "acip");
        return false;
    }
    for (int fam = 4; fam <= 6; fam += 2) {
        const cJSON *l = get(acip, fam == 4 ? "ipv4" : "ipv6");
        if (l == NULL)
            continue;
        if (!cJSON_IsArray(l)) {
            snprintf(why, wl, "acip list");
            return false;
        }
        for (const cJSON *e = l->child; e != NULL; e = e->next) {
            uint8_t a[16];
            int bits;
            if (!str_ok(e) || !parse_cidr(e->valuestring, fam, a, &bits)) {
                snprintf(why, wl, "acip address");
                return false;
            }
        }
    }
    return true;
}

/* m2m:locationRegion: exactly one of accr [lat -90..90, lon -180..180, radius >= 0] and accc
 * (1..n alpha-2 codes) (SPEC-MAP A2). */
static bool valid_aclr(const cJSON *aclr)
{
    static const char *const names[] = {"accr", "accc", NULL};
    if (!cJSON_IsObject(aclr) || !only(aclr, names))
        return false;
    const cJSON *accr = get(aclr, "accr"), *accc = get(aclr, "accc");
    if ((accr == NULL) == (accc == NULL))
        return false;
    if (accr != NULL) {
        if (!cJSON_IsArray(accr) || count(accr) != 3)
            return false;
        double v[3];
        for (int i = 0; i < 3; i++) {
            const cJSON *x = cJSON_GetArrayItem(accr, i);
            if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
                return false;
            v[i] = x->valuedouble;
        }
        return v[0] >= -90 && v[0] <= 90 && v[1] >= -180 && v[1] <= 180 && v[2] >= 0;
    }
    if (!cJSON_IsArray(accc) || count(accc) == 0)
        return false;
    for (const cJSON *e = accc->child; e != NULL; e = e->next)
        if (!str_ok(e) || !alpha2(e->valuestring, strlen(e->valuestring)))
            return false;
    return true;
}

static bool valid_context(const cJSON *ctx, char *why, size_t wl)
{
    static const char *const names[] = {"actw", "acip", "aclr", NULL};
    if (!cJSON_IsObject(ctx) || !only(ctx, names)) {
        snprintf(why, wl, "context");
        return false;
    }
    const cJSON *actw = get(ctx, "actw"), *acip = get(ctx, "acip"), *aclr = get(ctx, "aclr");
    if (actw != NULL) {
        if (!cJSON_IsArray(actw)) {
            snprintf(why, wl, "actw");
            return false;
        }
        for (const cJSON *e = actw->child; e != NULL; e = e->next) {
            bool ok = false;
            struct acp_time t = {0, 0, 0, 1, 1, 0, 2000};
            if (str_ok(e))
                (void)schedule_has(e->valuestring, &t, &ok);
            if (!ok) {
                snprintf(why, wl, "actw entry");
                return false;
            }
        }
    }
    if (acip != NULL && !valid_acip(acip, why, wl))
        return false;
    if (aclr != NULL && !valid_aclr(aclr)) {
        snprintf(why, wl, "aclr");
        return false;
    }
    return true;
}

/* TS-0004 6.3.5.67 specializationType: a choice of cnd (string) and mgd (positive integer). */
static bool valid_spty(const cJSON *s)
{
    static const char *const names[] = {"cnd", "mgd", NULL};
    if (!cJSON_IsObject(s) || !only(s, names))
        return false;
    const cJSON *cnd = get(s, "cnd"), *mgd = get(s, "mgd");
    if ((cnd == NULL) == (mgd == NULL))
        return false;
    return cnd != NULL ? str_ok(cnd) : int_in(mgd, 1, 2147483647.0);
}

/* TS-0003 7.1.3 / 7.1.5: childResourceType is mandatory; specializationType shall be included for
 * resourceType 13 (mgd) and 28 (cnd). */
static bool valid_objd(const cJSON *d)
{
    static const char *const names[] = {"ty", "spty", "chty", NULL};
    if (!cJSON_IsObject(d) || !only(d, names))
        return false;
    const cJSON *ty = get(d, "ty"), *spty = get(d, "spty"), *chty = get(d, "chty");
    if (ty != NULL && !int_in(ty, 1, 65535))
        return false;
    if (spty != NULL && !valid_spty(spty))
        return false;
    if (chty == NULL || !cJSON_IsArray(chty))
        return false;
    for (const cJSON *c = chty->child; c != NULL; c = c->next)
        if (!int_in(c, 1, 65535))
            return false;
    int t = ty ? (int)ty->valuedouble : 0;
    if ((t == 13 || t == 28) && spty == NULL)
        return false;
    if ((t == 13 && get(spty, "cnd") != NULL) || (t == 28 && get(spty, "mgd") != NULL))
        return false;
    return true;
}

static bool valid_rule(const cJSON *r, const struct acp_host *host, char *why, size_t wl)
{
    static const char *const names[] = {"acor", "acop", "acco", "acaf", "acod", NULL};
    if (!cJSON_IsObject(r) || !only(r, names)) {
        snprintf(why, wl, "rule members");
        return false;
    }
    const cJSON *acor = get(r, "acor"), *acop = get(r, "acop"), *acaf = get(r, "acaf");
    const cJSON *acco = get(r, "acco"), *acod = get(r, "acod");
    /* TS-0003 Table 7.1.3-1: originators and operations are mandatory; acop 1..63 (A2) */
    if (acor == NULL || !cJSON_IsArray(acor) || !int_in(acop, 1, 63)) {
        snprintf(why, wl, "acor/acop");
        return false;
    }
    for (const cJSON *e = acor->child; e != NULL; e = e->next)
        if (!entry_valid(e, host)) {
            snprintf(why, wl, "acor entry");
            return false;
        }
    if (acaf != NULL && !cJSON_IsBool(acaf)) {
        snprintf(why, wl, "acaf");
        return false;
    }
    if (acco != NULL && cJSON_IsObject(acco) && !valid_context(acco, why, wl))
        return false;
    if (acco != NULL && !cJSON_IsObject(acco)) {
        if (!cJSON_IsArray(acco)) {
            snprintf(why, wl, "acco");
            return false;
        }
        for (const cJSON *c = acco->child; c != NULL; c = c->next)
            if (!valid_context(c, why, wl))
                return false;
    }
    if (acod != NULL) {
        if (!cJSON_IsArray(acod)) {
            snprintf(why, wl, "acod");
            return false;
        }
        for (const cJSON *d = acod->child; d != NULL; d = d->next)
            if (!valid_objd(d)) {
                snprintf(why, wl, "acod element");
                return false;
            }
    }
    return true;
}

bool acp_ref_valid(const cJSON *acrs, const struct acp_host *host, char *why, size_t whylen)
{
    static const char *const names[] = {"acr", NULL};
    char dummy[8];
    if (why == NULL) {
        why = dummy;
        whylen = sizeof(dummy);
    }
    why[0] = '\0';
    if (acrs == NULL || cJSON_IsNull(acrs))
        return true;
    if (!cJSON_IsObject(acrs) || !only(acrs, names)) {
        snprintf(why, whylen, "setOfAcrs");
        return false;
    }
    const cJSON *acr = get(acrs, "acr");
    if (acr == NULL)
        return true;
    if (!cJSON_IsArray(acr)) {
        snprintf(why, whylen, "acr");
        return false;
    }
    for (const cJSON *r = acr->child; r != NULL; r = r->next)
        if (!valid_rule(r, host, why, whylen))
            return false;
    return true;
}

/* ======================================================================== decision */

size_t acp_ref_count(const cJSON *acrs)
{
    return acrs && cJSON_IsObject(acrs) ? count(get(acrs, "acr")) : 0;
}

unsigned acp_ref_rule(const cJSON *acrs, size_t k, const struct acp_host *host,
                      const struct acp_request *req)
{
    if (k >= acp_ref_count(acrs))
        return 0x7f;
    const cJSON *r = cJSON_GetArrayItem(get(acrs, "acr"), (int)k);
    unsigned f = 0;
    /* res_authn(k), TS-0003 Table 7.1.5-1: FALSE only for flag TRUE with rq_authn FALSE; an
     * absent flag is FALSE (7.1.3) */
    if (cJSON_IsTrue(get(r, "acaf")) && !req->authenticated)
        f |= ACP_FAIL_AUTHN;
    if (!res_origs(get(r, "acor"), host, req))
        f |= ACP_FAIL_ORIGINATOR;
    if (!res_ops(get(r, "acop"), req))
        f |= ACP_FAIL_OPERATION;
    f |= contexts_fail(get(r, "acco"), req);
    if (!res_objd(get(r, "acod"), req))
        f |= ACP_FAIL_OBJECT_DETAILS;
    /* res_acr(k) = res_authn AND res_origs AND res_ops AND res_ctxts AND res_objd */
    return f;
}

/* res_acrs = res_acr(1) OR ... OR res_acr(K), over every ACP of the set: permit-overrides. */
void acp_ref_decide(const cJSON *const *acrs, size_t n, const struct acp_host *host,
                    const struct acp_request *req, struct acp_decision *out)
{
    *out = (struct acp_decision){false, -1, -1};
    for (size_t p = 0; p < n; p++)
        for (size_t k = 0; k < acp_ref_count(acrs[p]); k++)
            if (acp_ref_rule(acrs[p], k, host, req) == 0) {
                *out = (struct acp_decision){true, (int)p, (int)k};
                return;
            }
}
