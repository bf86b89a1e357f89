/* acp_internal.h: layout of a compiled acp_ruleset and the internal interface between the
 * compiler (acp_compile.c), its part parsers (origin, cron, cidr, geo) and the decision
 * (acp_decide.c). Nothing outside src/acp includes this file. */
#ifndef M2M_ACP_INTERNAL_H
#define M2M_ACP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "acp/acp.h"

/* Bounds of a compiled set (M2M_ERR_LIMIT past them). */
#define ACP_MAX_RULES 1024
#define ACP_MAX_ACOR 256
#define ACP_MAX_CTX 64
#define ACP_MAX_CRON 64
#define ACP_MAX_CIDR 256 /* ipv4 + ipv6 of one acip */
#define ACP_MAX_ACOD 64
#define ACP_MAX_CHTY 64
#define ACP_MAX_CC 256
#define ACP_MAX_ENTRY 255                    /* characters of any string entry */
#define ACP_MAX_HOST_PART 255                /* sp_id and csi of the host */
#define ACP_MAX_CRON_ITEMS 64                /* comma-separated items of one cron field */
#define ACP_MAX_COMPILED (16u * 1024 * 1024) /* bytes of one compiled set */
#define ACP_ID_BUF (2 * ACP_MAX_HOST_PART + 2 * ACP_MAX_ENTRY + 16)

/* Bump allocator owning every byte of a compiled ruleset; freed at once. */
struct acp_chunk;
struct acp_arena {
    struct acp_chunk *head;
    size_t total;
    bool over_cap; /* the last failure was the ACP_MAX_COMPILED cap, not malloc */
};
void *acp_arena_alloc(struct acp_arena *a, size_t size); /* zeroed; NULL on NOMEM or past cap */
void acp_arena_release(struct acp_arena *a);

/* Compile-time error reporting: every part parser writes "where: what" into err. */
struct acp_err {
    char *buf;
    size_t len;
    char where[64]; /* e.g. "acr[2].acco[0].actw[1]", printed before the message */
};
void acp_errf(struct acp_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- originators (acp_origin.c), SPEC-MAP A6 ---- */
enum acp_orig_type {
    ACP_OE_ALL = 1,    /* "all", or a lone "*" ([INTERP] A6) */
    ACP_OE_DOMAIN = 2, /* "//fqdn": s holds the fqdn without "//" */
    ACP_OE_ID = 3,     /* CSE-ID or AE-ID, s holds the absolute form, may hold '*' */
    ACP_OE_ROLE = 4,   /* role ID "x@fqdn" */
    ACP_OE_GROUP = 5,  /* anything else: a <group> (or other resource) ID */
};

/* An absolute ID split at '/': part 0 is the SP-ID, parts 1..2 the path segments. */
#define ACP_ID_PARTS 3
enum acp_part_mode {
    ACP_PART_LIT = 0,  /* no '*': equal text */
    ACP_PART_ANY = 1,  /* "*" alone: any (non-empty) part */
    ACP_PART_PFX = 2,  /* "abc*": the part starts with "abc" */
    ACP_PART_GLOB = 3, /* any other use of '*' */
};
struct acp_id_part {
    uint64_t w;    /* first bytes of the part (of the prefix for ACP_PART_PFX): acp_word */
    uint64_t mask; /* entries, ACP_PART_PFX: the bits of w that the prefix covers */
    uint16_t off, len;
    uint16_t lit; /* entries: literal bytes to compare (len, or the prefix length) */
    uint8_t mode; /* enum acp_part_mode (entries only) */
};

/* Up to the first 8 bytes of s as an integer, byte i at bits 8i (zero-padded), so that two IDs'
 * leading bytes compare with one integer compare. */
static inline uint64_t acp_word(const char *s, size_t len)
{
    uint64_t w = 0;
    for (size_t i = 0; i < len && i < 8; i++)
        w |= (uint64_t)(uint8_t)s[i] << (8 * i);
    return w;
}

/* acp_word of s[off..off+plen) inside a string of len bytes, with one 8-byte load inside the
 * string when it has 8 bytes (little-endian hosts, where memory order is acp_word's order). */
static inline uint64_t acp_word_at(const char *s, size_t len, size_t off, size_t plen)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (len >= 8) {
        size_t base = off + 8 <= len ? off : len - 8; /* the window ends at the string's end */
        uint64_t w;
        memcpy(&w, s + base, 8);
        w >>= 8 * (off - base);
        return plen >= 8 ? w : w & ((UINT64_C(1) << (8 * plen)) - 1);
    }
#endif
    return acp_word(s + off, plen);
}

struct acp_orig {
    uint8_t type;
    uint8_t nseg; /* ACP_OE_ID: path segments after the SP-ID (1 = CSE or S-AE, 2 = AE) */
    bool wild;    /* ACP_OE_ID / ACP_OE_DOMAIN: contains '*' */
    uint16_t len; /* of s */
    uint16_t raw_len;
    uint64_t hash;                         /* ACP_OE_ID: acp_hash of s */
    struct acp_id_part part[ACP_ID_PARTS]; /* ACP_OE_ID: nseg + 1 parts */
    const char *s;                         /* normalised text (see type) */
    const char *raw;                       /* the acor entry as given, compared with req->groups */
};

/* Byte equality for short IDs without a library call: 8 bytes at a time, the tail as the last
 * 8 bytes (overlapping) when there are at least 8. */
static inline bool acp_eq(const char *a, const char *b, size_t n)
{
    uint64_t x, y;
    if (n >= 8) {
        for (size_t i = 0; i + 8 <= n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y)
                return false;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    while (n-- > 0)
        if (*a++ != *b++)
            return false;
    return true;
}

/* A word-at-a-time multiplicative hash, to reject unequal IDs with one integer compare (never
 * trusted alone: collisions are easy to construct, so a hash hit is always confirmed with
 * acp_eq). Computed once per acor entry at compile time and once per decision. */
static inline uint64_t acp_hash_mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
    return h ^ (h >> 29);
}

static inline uint64_t acp_hash(const char *s, size_t len)
{
    uint64_t h = (uint64_t)len * UINT64_C(0x9e3779b97f4a7c15), w = 0;
    size_t i = 0;
    if (len < 8) {
        for (; i < len; i++)
            w |= (uint64_t)(uint8_t)s[i] << (8 * i);
        return acp_hash_mix(h, w);
    }
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, s + i, 8);
        h = acp_hash_mix(h, w);
    }
    if (i < len) { /* the last 8 bytes, overlapping: still a function of (s, len) alone */
        memcpy(&w, s + len - 8, 8);
        h = acp_hash_mix(h, w);
    }
    return h;
}

/* Classifies and normalises one acor entry. s and raw point into buf (at least ACP_ID_BUF
 * bytes); the caller copies them if buf is temporary. host may be NULL only for entries that
 * need no normalisation (absolute, domain, role, all, group); else M2M_ERR_CONFIG. */
m2m_rc acp_orig_compile(const char *raw, size_t raw_len, const struct acp_host *host,
                        struct acp_orig *o, char *buf, size_t buflen, struct acp_err *e);
bool acp_host_valid(const struct acp_host *host);

/* The request as the matchers need it, derived once per decision. */
struct acp_rq {
    const struct acp_request *req;
    bool orig_ok;       /* non-NULL, non-empty, no embedded NUL */
    bool orig_abs;      /* "//sp[/seg...]" with no empty SP-ID or segment */
    uint16_t orig_nseg; /* path segments after the SP-ID */
    size_t sp_end;      /* index of the '/' ending the SP-ID (or originator_len) */
    uint8_t op;         /* req->op when it names exactly one operation, else 0 */
    uint8_t kinds;      /* 1 << acp_orig_type of the entry types that can match by identity */
    uint64_t hash;      /* acp_hash of the originator */
    struct acp_id_part part[ACP_ID_PARTS]; /* first parts of the originator (no star flag) */
    bool ip4, ip6;
    uint32_t v4;
    uint64_t v6[2];
    uint16_t country; /* 0 when none */
    bool geo_ready, geo_ok;
    double lat_rad, lon_rad, cos_lat;
};
void acp_rq_init(struct acp_rq *rq, const struct acp_request *req);
bool acp_orig_match(const struct acp_orig *o, const struct acp_rq *rq);
/* The identity part of acp_orig_match for an ACP_OE_ID entry, without the <group> test; the
 * caller has checked that rq->kinds holds ACP_OE_ID and that o->nseg == rq->orig_nseg. */
bool acp_orig_id_match(const struct acp_orig *o, const struct acp_rq *rq);
bool acp_orig_in_groups(const struct acp_orig *o, const struct acp_rq *rq);

/* ---- time windows (acp_cron.c), TS-0004 7.4.9.1 ---- */
struct acp_year_item {
    uint16_t lo, hi, step;
};
struct acp_cron {
    uint64_t sec, min; /* bit n = value n */
    uint32_t hour, mday;
    uint16_t mon;
    uint8_t wday;
    uint8_t n_year; /* 0: any year */
    const struct acp_year_item *year;
};
/* Parses one scheduleEntry (7 fields, or 6 = year '*'); year items are allocated in a. */
m2m_rc acp_cron_parse(const char *s, size_t len, struct acp_cron *c, struct acp_arena *a,
                      struct acp_err *e);
bool acp_cron_match(const struct acp_cron *c, const struct acp_time *t);

/* ---- IP ranges (acp_cidr.c), TS-0004 6.3.3 m2m:ipv4 / m2m:ipv6 ---- */
struct acp_cidr4 {
    uint32_t net, mask;
};
struct acp_cidr6 {
    uint64_t net[2], mask[2];
};
m2m_rc acp_cidr4_parse(const char *s, size_t len, struct acp_cidr4 *c);
/* Fills rq->ip4/ip6 and the address words from the request. */
void acp_rq_ip(struct acp_rq *rq);
m2m_rc acp_cidr6_parse(const char *s, size_t len, struct acp_cidr6 *c);
static inline bool acp_cidr4_match(const struct acp_cidr4 *c, uint32_t ip)
{
    return (ip & c->mask) == c->net;
}
static inline bool acp_cidr6_match(const struct acp_cidr6 *c, const uint64_t ip[2])
{
    return (ip[0] & c->mask[0]) == c->net[0] && (ip[1] & c->mask[1]) == c->net[1];
}

/* ---- location regions (acp_geo.c), TS-0003 Annex F ---- */
#define ACP_EARTH_RADIUS_M 6371008.8 /* IUGG mean Earth radius */
struct acp_circ {
    double lat_rad, lon_rad, cos_lat, radius_m;
};
m2m_rc acp_circ_make(double lat, double lon, double radius_m, struct acp_circ *c);
bool acp_circ_match(const struct acp_circ *c, struct acp_rq *rq);
/* "DE" -> 0x4445; 0 when s is not two ASCII letters (case folded to upper). */
uint16_t acp_country_code(const char *s, size_t len);

/* ---- compiled rules ---- */
enum acp_loc_kind { ACP_LOC_NONE = 0, ACP_LOC_CIRC = 1, ACP_LOC_COUNTRY = 2 };

struct acp_ctx {
    uint16_t n_cron, n_v4, n_v6, n_cc;
    bool has_ip; /* acip with at least one address */
    uint8_t loc; /* enum acp_loc_kind */
    const struct acp_cron *cron;
    const struct acp_cidr4 *v4;
    const struct acp_cidr6 *v6;
    const uint16_t *cc;
    struct acp_circ circ;
};

enum acp_spty_kind { ACP_SPTY_NONE = 0, ACP_SPTY_CND = 1, ACP_SPTY_MGD = 2 };

struct acp_objd {
    int ty; /* 0: absent */
    uint8_t spty;
    int mgd;
    const char *cnd;
    uint16_t n_chty;
    const int *chty;
};

struct acp_rule {
    uint8_t acop;
    bool acaf;
    bool any_all;  /* an acor entry is "all" (or a lone "*"): res_origs needs only orig_ok */
    uint8_t kinds; /* 1 << acp_orig_type of every acor entry */
    uint16_t n_orig, n_ctx, n_objd;
    const struct acp_orig *orig;
    const struct acp_ctx *ctx;
    const struct acp_objd *objd;
};

struct acp_ruleset {
    struct acp_arena arena;
    size_t n;
    struct acp_rule *rules;
};

/* Evaluates one rule: the acp_rule_fail bitmask; with `all` false it stops at the first failing
 * component (the decision path), with `all` true it evaluates every component (explanations). */
unsigned acp_rule_eval(const struct acp_rule *r, struct acp_rq *rq, bool all);

#endif
