/* fuzz_acp_diff.c: differential libFuzzer target: the access-control engine (src/acp) against the
 * literal reference model of TS-0003 7.1.5 (tests/fuzz/acp_ref.c). The fuzz bytes steer a
 * generator that builds a structured request and 1-5 policies as m2m:setOfAcrs JSON text from
 * pools (every originator form of Table 7.1.3-2, schedule entries, CIDRs, regions, object
 * details, valid and invalid); any disagreement on validity, on the decision or on any rule's
 * explanation aborts with both answers printed. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acp/acp.h"
#include "enc/json.h"

/* The fuzz build links one source per target (tests/CMakeLists.txt), so the reference model is
 * compiled into this unit; it still shares no code with src/acp. */
#include "acp_ref.c"

static const struct acp_host host = {"//sp.example", "/id-in"};

/* ---- the byte reader: past the end every read is 0, so short inputs stay meaningful ---- */

struct rd {
    const uint8_t *p;
    size_t n;
};

static unsigned u8(struct rd *r)
{
    if (r->n == 0)
        return 0;
    r->n--;
    return *r->p++;
}

static unsigned pick(struct rd *r, unsigned n)
{
    return u8(r) % n;
}

/* ---- pools: JSON fragments, each marked when the spec makes it invalid (4000) ---- */

/* A leading '!' marks a fragment that the spec makes invalid; it is not part of the JSON. */
typedef const char *item;
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const item acor_pool[] = {
    "\"all\"",
    "\"*\"",
    "\"Cae1\"",
    "\"Cae2\"",
    "\"Cae*\"",
    "\"C*\"",
    "\"*ae1\"",
    "\"Sae1\"",
    "\"S*\"",
    "\"Sae1/x\"",
    "\"C/\"",
    "\"/id-in\"",
    "\"/id-*\"",
    "\"/id-mn\"",
    "\"/id-in/Cae1\"",
    "\"/id-in/C*\"",
    "\"/id-*/C*\"",
    "\"/*/*\"",
    "\"/Sae1\"",
    "\"/S*\"",
    "\"//sp.example/id-in/Cae1\"",
    "\"//sp.example/Sae1\"",
    "\"//sp.example/id-in\"",
    "\"//*/id-in\"",
    "\"//*/id-in/Cae1\"",
    "\"//*/myCSE*\"",
    "\"//*/myCSE*/C9886\"",
    "\"//other.org/myCSE1\"",
    "\"//m2msp.org/S988\"",
    "\"//sp.example\"",
    "\"//example\"",
    "\"//*.example\"",
    "\"//*\"",
    "\"//*.*\"",
    "\"//SP.example\"",
    "\"//a.sp.example\"",
    "\"r1@roles.example\"",
    "\"admin@sp.example\"",
    "\"grp1\"",
    "\"/id-in/grp2\"",
    "\"//sp.example/id-in/grp3\"",
    "\"/id-in/a/b\"",
    "\"//sp.example/id-in/Cae1/x\"",
    "\"/myCSE*/C98*\"",
    "\"C\\u00e9\"",
    "!\"\"",
    "!\"C x\"",
    "!\"//a*b.com\"",
    "!\"//\"",
    "!\"/id-in//x\"",
    "!\"//sp..x\"",
    "!\"/\"",
    "!\"//sp.example/\"",
    "!5",
    "!\"\\u0001x\"",
    "!\"Cae1\\t\"",
    "!null",
};

static const item actw_pool[] = {
    "\"* * * * * * *\"",
    "\"* * * * * *\"",
    "\"* * 8-17 * * 1-5 *\"",
    "\"0 0 0 1 1 * 2000\"",
    "\"59 59 23 31 12 * 9999\"",
    "\"*/15 * * * * * *\"",
    "\"0-59/2 * * * * * *\"",
    "\"* * 0-23/2 * * * *\"",
    "\"* 0-5 2,6,10 * * * *\"",
    "\"* * * * * 0,6 *\"",
    "\"* * * 29 2 * 2024\"",
    "\"* * * * * * 2024-2030/2\"",
    "\"* * * * * * */3\"",
    "\"0,30 * * * * * *\"",
    "\" * * * * * * * \"",
    "\"30-30 * * * * * *\"",
    "\"* * * * * * 2000-9999\"",
    "\"0005 * * * * * *\"",
    "\"*/100 * * * * * *\"",
    "\"1-59/58 * * * * * *\"",
    "\"*,5 * * * * * *\"",
    "\"* * 12 3 6 1 2024\"",
    "\"0 30 12 * * * *\"",
    "\"59 * * * * * *\"",
    "\"*/99999 * * * * * 2024\"",
    "\"000000059 * * * * * *\"",
    "!\"* * * * *\"",
    "!\"* * * * * * * *\"",
    "!\"60 * * * * * *\"",
    "!\"* * 24 * * * *\"",
    "!\"* * * 0 * * *\"",
    "!\"* * * * 13 * *\"",
    "!\"* * * * * 7 *\"",
    "!\"* * * * * * 1999\"",
    "!\"5-2 * * * * * *\"",
    "!\"*/0 * * * * * *\"",
    "!\"5/2 * * * * * *\"",
    "!\",1 * * * * * *\"",
    "!\"a * * * * * *\"",
    "!\"*\\t* * * * * *\"",
    "!\"\"",
    "!\"1-* * * * * * *\"",
    "!\"* * * * * * 10000\"",
    "!7",
    "!\"0000000059 * * * * * *\"",
};

static const item v4_pool[] = {
    "\"10.0.0.0/8\"",         "\"10.0.0.1\"",
    "\"10.0.0.1/32\"",        "\"0.0.0.0/0\"",
    "\"127.0.0.1/0\"",        "\"192.168.1.0/24\"",
    "\"255.255.255.255/32\"", "\"11.0.0.0/31\"",
    "\"10.255.255.255\"",     "!\"10.0.0.0/33\"",
    "!\"10.0.0/8\"",          "!\"10.0.0.0/08\"",
    "!\"010.0.0.1\"",         "!\"256.0.0.1\"",
    "!\"10.0.0.0/\"",         "!\"::1\"",
    "!\"1.2.3.4/-1\"",        "!\"\"",
    "!\"1.2.3.4 \"",
};

static const item v6_pool[] = {
    "\"::/0\"",
    "\"::1\"",
    "\"::1/128\"",
    "\"fd00::/8\"",
    "\"fe80::/10\"",
    "\"2001:db8::/32\"",
    "\"::ffff:10.0.0.0/104\"",
    "\"::ffff:10.0.0.1\"",
    "\"::ffff:0:0/96\"",
    "\"::ffff:0:0/95\"",
    "\"::ffff:10.0.0.1/127\"",
    "\"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128\"",
    "\"Fadf:ddd0::/32\"",
    "!\"::/129\"",
    "!\"fd00::/\"",
    "!\"10.0.0.1\"",
    "!\"gggg::\"",
    "!\":::\"",
    "!\"::1/0128\"",
};

static const item aclr_pool[] = {
    "{\"accr\":[48.1,11.5,500.0]}",
    "{\"accr\":[0,0,0]}",
    "{\"accr\":[90,180,1e7]}",
    "{\"accr\":[-90,-180,0]}",
    "{\"accr\":[48.1,11.5,0]}",
    "{\"accr\":[48.1,11.5,20015115]}",
    "{\"accc\":[\"DE\"]}",
    "{\"accc\":[\"de\",\"FR\"]}",
    "{\"accc\":[\"XX\"]}",
    "!{\"accr\":[91,0,1]}",
    "!{\"accr\":[0,181,1]}",
    "!{\"accr\":[0,0,-1]}",
    "!{\"accr\":[0,0]}",
    "!{\"accr\":\"x\"}",
    "!{\"accr\":[0,0,\"1\"]}",
    "!{\"accr\":[0,0,1,2]}",
    "!{\"accc\":[]}",
    "!{\"accc\":[\"DEU\"]}",
    "!{\"accc\":[\"D1\"]}",
    "!{\"accc\":[1]}",
    "!{}",
    "!{\"accr\":[0,0,1],\"accc\":[\"DE\"]}",
    "![]",
};

static const item acod_pool[] = {
    "{\"chty\":[4]}",
    "{\"chty\":[]}",
    "{\"ty\":3,\"chty\":[4,23]}",
    "{\"ty\":2,\"chty\":[3]}",
    "{\"ty\":28,\"spty\":{\"cnd\":\"org.x\"},\"chty\":[28,4]}",
    "{\"ty\":13,\"spty\":{\"mgd\":1001},\"chty\":[13]}",
    "{\"spty\":{\"cnd\":\"org.x\"},\"chty\":[28]}",
    "{\"spty\":{\"mgd\":1001},\"chty\":[13]}",
    "{\"ty\":3,\"spty\":{\"cnd\":\"org.y\"},\"chty\":[4]}",
    "{\"ty\":5,\"chty\":[2,16,4]}",
    "!{\"ty\":28,\"chty\":[28]}",
    "!{\"ty\":13,\"spty\":{\"cnd\":\"x\"},\"chty\":[13]}",
    "!{\"ty\":28,\"spty\":{\"mgd\":1},\"chty\":[28]}",
    "!{\"ty\":3}",
    "!{\"chty\":[0]}",
    "!{\"chty\":[4],\"x\":1}",
    "!{\"spty\":{\"cnd\":\"a\",\"mgd\":1},\"chty\":[4]}",
    "!{\"spty\":{},\"chty\":[4]}",
    "!{\"ty\":3.5,\"chty\":[4]}",
    "!{\"chty\":4}",
    "!{\"spty\":{\"mgd\":0},\"chty\":[4]}",
    "!{\"spty\":{\"cnd\":\"\"},\"chty\":[4]}",
    "!3",
};

static const item set_pool[] = {
    "null",
    "{}",
    "{\"acr\":[]}",
    "![]",
    "!{\"acr\":{}}",
    "!{\"acr\":[],\"x\":1}",
    "!{\"acr\":[1]}",
    "!{\"acr\":[{\"acop\":1}]}",
    "!{\"acr\":[{\"acor\":[\"all\"]}]}",
    "!{\"acr\":[{\"acor\":\"all\",\"acop\":1}]}",
};

/* ---- bounded text builder ---- */

struct sb {
    char buf[8192];
    size_t len;
    bool bad; /* the generator put an invalid piece in */
};

static void append(struct sb *b, const char *s)
{
    size_t n = strlen(s), room = sizeof(b->buf) - 1 - b->len;
    n = n < room ? n : room;
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void put(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends formatted text; literal text and a lone "%s" skip printf (the generator's hot path). */
static void put(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (strchr(fmt, '%') == NULL) {
        append(b, fmt);
    } else if (strcmp(fmt, "%s") == 0) {
        append(b, va_arg(ap, const char *));
    } else {
        int n = vsnprintf(b->buf + b->len, sizeof(b->buf) - b->len, fmt, ap);
        if (n > 0)
            b->len += (size_t)n < sizeof(b->buf) - b->len ? (size_t)n : sizeof(b->buf) - b->len - 1;
    }
    va_end(ap);
}

/* Pool items are invalid only with low probability, so most sets compile. */
static void put_item(struct sb *b, struct rd *r, const item *pool, size_t n)
{
    const char *it = pool[pick(r, (unsigned)n)];
    if (it[0] == '!' && pick(r, 4) != 0)
        it = pool[0];
    b->bad |= it[0] == '!';
    put(b, "%s", it + (it[0] == '!'));
}

static void put_list(struct sb *b, struct rd *r, const item *pool, size_t n, unsigned max)
{
    unsigned k = pick(r, max + 1);
    put(b, "[");
    for (unsigned i = 0; i < k; i++) {
        put(b, "%s", i ? "," : "");
        put_item(b, r, pool, n);
    }
    put(b, "]");
}

static void put_ctx(struct sb *b, struct rd *r)
{
    unsigned m = u8(r);
    const char *sep = "";
    put(b, "{");
    if (m & 1) {
        put(b, "\"actw\":");
        put_list(b, r, actw_pool, N(actw_pool), 3);
        sep = ",";
    }
    if (m & 2) {
        put(b, "%s\"acip\":{", sep);
        unsigned w = pick(r, 4);
        if (w & 1) {
            put(b, "\"ipv4\":");
            put_list(b, r, v4_pool, N(v4_pool), 3);
        }
        if (w & 2) {
            put(b, "%s\"ipv6\":", (w & 1) ? "," : "");
            put_list(b, r, v6_pool, N(v6_pool), 3);
        }
        put(b, "}");
        sep = ",";
    }
    if (m & 4) {
        put(b, "%s\"aclr\":", sep);
        put_item(b, r, aclr_pool, N(aclr_pool));
        sep = ",";
    }
    if ((m & 0xf8) == 0xf8) {
        put(b, "%s\"acxx\":1", sep);
        b->bad = true;
    }
    put(b, "}");
}

static void put_rule(struct sb *b, struct rd *r)
{
    static const char *const bad_acop[] = {"0", "64", "1.5", "\"3\"", "-1"};
    static const char *const bad_acaf[] = {"\"true\"", "1", "null"};
    unsigned m = u8(r);
    put(b, "{\"acor\":");
    put_list(b, r, acor_pool, N(acor_pool), 4);
    if (pick(r, 32) == 31) {
        put(b, ",\"acop\":%s", bad_acop[pick(r, N(bad_acop))]);
        b->bad = true;
    } else {
        put(b, ",\"acop\":%u", 1 + pick(r, 63));
    }
    if (m & 1) {
        if (pick(r, 32) == 31) {
            put(b, ",\"acaf\":%s", bad_acaf[pick(r, N(bad_acaf))]);
            b->bad = true;
        } else {
            put(b, ",\"acaf\":%s", pick(r, 2) ? "true" : "false");
        }
    }
    if (m & 2) {
        put(b, ",\"acco\":");
        unsigned k = pick(r, 5); /* 0..3 contexts, or 4: one bare object ([INTERP] A2) */
        if (k == 4) {
            put_ctx(b, r);
        } else {
            put(b, "[");
            for (unsigned i = 0; i < k; i++) {
                put(b, "%s", i ? "," : "");
                put_ctx(b, r);
            }
            put(b, "]");
        }
    }
    if (m & 4) {
        put(b, ",\"acod\":");
        put_list(b, r, acod_pool, N(acod_pool), 3);
    }
    if ((m & 0xf8) == 0xf8) {
        put(b, ",\"acxx\":1");
        b->bad = true;
    }
    put(b, "}");
}

static void put_set(struct sb *b, struct rd *r)
{
    if (pick(r, 16) == 15) {
        put_item(b, r, set_pool, N(set_pool));
        return;
    }
    unsigned k = pick(r, 9); /* 0..8 rules */
    put(b, "{\"acr\":[");
    for (unsigned i = 0; i < k; i++) {
        put(b, "%s", i ? "," : "");
        put_rule(b, r);
    }
    put(b, "]}");
}

/* ---- the request ---- */

struct gen_req {
    struct acp_request req;
    char orig[160];
    const char *roles[3], *groups[4];
};

static const char *const orig_pool[] = {
    "//sp.example/id-in/Cae1",   "//sp.example/id-in/Cae2",
    "//sp.example/Sae1",         "//sp.example/id-in",
    "//sp.example/id-mn",        "//other.org/myCSE1",
    "//other.org/myCSE1/C9886",  "//a.sp.example/id-x/Cq",
    "//m2msp.org/S988",          "//sp.example",
    "//sp.example/id-in/Cae1/x", "Cae1",
    "//sp.example//Cx",          "//*/id-in/C*",
    "//b.a.sp.example/myCSE2",   "//example/myCSEfoo/C98x",
    "//sp.example/id-in/grp2",   "//SP.example/id-in/Cae1",
};

/* The pipeline's kind (pipeline.c): one segment is a CSE unless an S-stem, two an AE. */
static enum acp_orig_kind kind_of(const char *s, size_t len)
{
    int seg = 0;
    for (size_t i = 2; i < len; i++)
        seg += s[i] == '/';
    if (len < 2 || s[0] != '/' || s[1] != '/')
        return ACP_ORIG_OTHER;
    if (seg == 1)
        return ((const char *)memchr(s + 2, '/', len - 2))[1] == 'S' ? ACP_ORIG_AE : ACP_ORIG_CSE;
    return seg == 2 ? ACP_ORIG_AE : ACP_ORIG_OTHER;
}

static void gen_originator(struct gen_req *g, struct rd *r)
{
    size_t len = strlen(strcpy(g->orig, orig_pool[pick(r, N(orig_pool))]));
    for (unsigned n = pick(r, 4); n > 0 && n < 3; n--) {
        size_t pos = len ? pick(r, 64) % len : 0;
        switch (pick(r, 6)) {
        case 0: g->orig[pos] ^= (g->orig[pos] >= 'A' && g->orig[pos] <= 'z') ? 0x20 : 0; break;
        case 1: g->orig[pos] = '*'; break;
        case 2: g->orig[pos] = '\0'; break; /* embedded NUL, length unchanged */
        case 3: len = pos; break;
        case 4: len += (size_t)snprintf(g->orig + len, 8, "%s", pick(r, 2) ? "x" : "/x"); break;
        default: len += (size_t)snprintf(g->orig + len, 8, "/"); break;
        }
        if (len > 140)
            len = 140;
    }
    g->req.originator = g->orig;
    g->req.originator_len = len;
    g->req.orig_kind = pick(r, 8) == 0 ? (enum acp_orig_kind)pick(r, 4) : kind_of(g->orig, len);
}

static void gen_lists(struct gen_req *g, struct rd *r)
{
    static const char *const roles[] = {"r1@roles.example", "admin@sp.example", "R1@roles.example"};
    static const char *const groups[] = {"grp1", "/id-in/grp2", "//sp.example/id-in/grp3", "Cae1",
                                         "//example"};
    unsigned m = u8(r);
    for (size_t i = 0; i < N(roles); i++)
        if (m & (1u << i))
            g->roles[g->req.n_role_ids++] = roles[i];
    g->req.role_ids = pick(r, 8) ? g->roles : NULL;
    unsigned gm = u8(r);
    for (size_t i = 0; i < N(groups) && g->req.n_groups < 4; i++)
        if (gm & (1u << i))
            g->groups[g->req.n_groups++] = groups[i];
    g->req.groups = g->groups;
}

static void gen_time(struct acp_time *t, struct rd *r)
{
    static const int sec[] = {0, 59, 30, 15, 60, -1, 1, 58};
    static const int min[] = {0, 59, 30, 5, 1};
    static const int hour[] = {0, 23, 8, 17, 12, 24, 2, 7, 18};
    static const int mday[] = {1, 31, 15, 0, 29, 3};
    static const int mon[] = {1, 12, 6, 13, 0, 2};
    static const int year[] = {2000, 9999, 2024, 1999, 2025, 10000, 2026, 2030};
    t->sec = sec[pick(r, N(sec))];
    t->min = min[pick(r, N(min))];
    t->hour = hour[pick(r, N(hour))];
    t->mday = mday[pick(r, N(mday))];
    t->mon = mon[pick(r, N(mon))];
    t->wday = (int)pick(r, 9) - 1;
    t->year = year[pick(r, N(year))];
}

static void gen_ip(struct acp_request *q, struct rd *r)
{
    static const uint8_t v4[][4] = {{10, 0, 0, 1},    {10, 255, 255, 255}, {11, 0, 0, 0},
                                    {192, 168, 1, 1}, {0, 0, 0, 0},        {255, 255, 255, 255},
                                    {127, 0, 0, 1},   {11, 0, 0, 1},       {10, 0, 0, 0}};
    static const uint8_t v6[][16] = {
        {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
        {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
        {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
        {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1},
        {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff},
        {0},
        {0xfa, 0xdf, 0xdd, 0xd0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 10, 0, 0, 1},
    };
    switch (pick(r, 6)) {
    case 0: break;
    case 1:
    case 2:
        q->has_ip = true;
        q->ip_family = 4;
        memcpy(q->ip, v4[pick(r, N(v4))], 4);
        break;
    case 3:
    case 4:
        q->has_ip = true;
        q->ip_family = 6;
        memcpy(q->ip, v6[pick(r, N(v6))], 16);
        break;
    default:
        q->has_ip = pick(r, 2);
        q->ip_family = (int)pick(r, 8);
        for (int i = 0; i < 16; i++)
            q->ip[i] = (uint8_t)u8(r);
        break;
    }
}

static void gen_location(struct acp_request *q, struct rd *r)
{
    static const double pts[][2] = {{48.1, 11.5}, {48.1, 11.5000001}, {0, 0},         {90, 0},
                                    {-90, 180},   {48.1044966, 11.5}, {48.105, 11.5}, {91, 0},
                                    {0, -180.5},  {-48.1, -168.5}};
    static const char cc[][3] = {"", "DE", "de", "FR", "XX", "D1", "DEU"};
    unsigned m = pick(r, 16);
    q->has_location = m & 1;
    const double *p = pts[pick(r, N(pts))];
    q->lat = (m & 2) ? __builtin_nan("") : p[0];
    q->lon = p[1];
    memcpy(q->country, cc[pick(r, N(cc))], 3); /* "DEU" fills all three bytes, no NUL */
}

static void gen_request(struct gen_req *g, struct rd *r)
{
    static const uint32_t ops[] = {1, 2, 4, 8, 16, 32, 1, 2, 0, 3, 64};
    static const int types[] = {0, 2, 3, 4, 13, 23, 28, 5, 16};
    static const char *const cnd[] = {NULL, "org.x", "org.y"};
    static const int mgd[] = {0, 1001, 1002};
    memset(g, 0, sizeof(*g));
    gen_originator(g, r);
    gen_lists(g, r);
    g->req.op = ops[pick(r, N(ops))];
    g->req.create_ty = types[pick(r, N(types))];
    g->req.target_ty = types[pick(r, N(types))];
    g->req.target_spty_cnd = cnd[pick(r, 3)];
    g->req.target_spty_mgd = mgd[pick(r, 3)];
    g->req.create_spty_cnd = cnd[pick(r, 3)];
    g->req.create_spty_mgd = mgd[pick(r, 3)];
    g->req.authenticated = pick(r, 2);
    gen_time(&g->req.time, r);
    gen_ip(&g->req, r);
    gen_location(&g->req, r);
}

/* ---- comparison ---- */

#define MAX_POL 5

static struct sb texts[MAX_POL];

static void dump(const struct gen_req *g, size_t np)
{
    const struct acp_request *q = &g->req;
    fprintf(stderr, "originator \"");
    for (size_t i = 0; i < q->originator_len; i++)
        fprintf(stderr, q->originator[i] ? "%c" : "\\0", q->originator[i]);
    fprintf(stderr, "\" kind %d op %u create_ty %d target_ty %d authn %d\n", q->orig_kind, q->op,
            q->create_ty, q->target_ty, q->authenticated);
    fprintf(stderr, "spty target cnd %s mgd %d, create cnd %s mgd %d\n",
            q->target_spty_cnd ? q->target_spty_cnd : "-", q->target_spty_mgd,
            q->create_spty_cnd ? q->create_spty_cnd : "-", q->create_spty_mgd);
    fprintf(stderr, "time %d:%d:%d mday %d mon %d wday %d year %d\n", q->time.hour, q->time.min,
            q->time.sec, q->time.mday, q->time.mon, q->time.wday, q->time.year);
    fprintf(stderr, "ip has %d fam %d:", q->has_ip, q->ip_family);
    for (int i = 0; i < 16; i++)
        fprintf(stderr, " %u", q->ip[i]);
    fprintf(stderr, "\nloc has %d %.10g %.10g country %.3s\n", q->has_location, q->lat, q->lon,
            q->country);
    for (size_t i = 0; i < q->n_role_ids; i++)
        fprintf(stderr, "role %s%s\n", q->role_ids ? "" : "(list NULL) ", g->roles[i]);
    for (size_t i = 0; i < q->n_groups; i++)
        fprintf(stderr, "group %s\n", q->groups[i]);
    for (size_t p = 0; p < np; p++)
        fprintf(stderr, "policy %zu: %s\n", p, texts[p].buf);
}

#define DIFF(g, np, ...)                                                                           \
    do {                                                                                           \
        fprintf(stderr, "acp_diff: ");                                                             \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        dump(g, np);                                                                               \
        abort();                                                                                   \
    } while (0)

#ifdef ACP_DIFF_STATS
/* -DACP_DIFF_STATS: how often each outcome occurs, to check the generator reaches every path. */
static unsigned long st_inputs, st_invalid, st_permit, st_rules, st_grant, st_bits[7];
static void stats(void)
{
    fprintf(stderr, "inputs %lu invalid-sets %lu permits %lu rules %lu granting %lu\n", st_inputs,
            st_invalid, st_permit, st_rules, st_grant);
    for (int i = 0; i < 7; i++)
        fprintf(stderr, "fail bit 0x%x: %lu\n", 1u << i, st_bits[i]);
}
#define STAT(x) (x)
#else
#define STAT(x) ((void)0)
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#ifdef ACP_DIFF_STATS
    if (st_inputs++ == 0)
        atexit(stats);
#endif
    struct rd r = {data, size};
    static struct gen_req g;
    cJSON *json[MAX_POL] = {NULL};
    const cJSON *ref[MAX_POL];
    struct acp_ruleset *rs[MAX_POL] = {NULL};
    struct acp_policy pol[MAX_POL];
    size_t np = 1 + pick(&r, MAX_POL), nv = 0;
    for (size_t p = 0; p < np; p++) {
        texts[p].len = 0;
        texts[p].bad = false;
        texts[p].buf[0] = '\0';
        put_set(&texts[p], &r);
    }
    gen_request(&g, &r);
    for (size_t p = 0; p < np; p++) {
        char err[256], why[64];
        cJSON *j = NULL;
        if (json_parse((const uint8_t *)texts[p].buf, texts[p].len, 32, &j) != M2M_OK)
            DIFF(&g, np, "generator produced unparsable JSON in policy %zu", p);
        bool ok = acp_ruleset_compile(j, &host, &rs[nv], err, sizeof(err)) == M2M_OK;
        bool rok = acp_ref_valid(j, &host, why, sizeof(why));
        if (ok != rok)
            DIFF(&g, np, "policy %zu: engine %s (%s), reference %s (%s)", p,
                 ok ? "compiles" : "rejects", err, rok ? "valid" : "invalid", why);
        if (rok && texts[p].bad)
            DIFF(&g, np, "policy %zu: reference accepts an input the generator marked invalid", p);
        if (!ok) {
            STAT(st_invalid++);
            cJSON_Delete(j);
            continue;
        }
        json[nv] = j;
        ref[nv] = j;
        pol[nv] = (struct acp_policy){"acp", rs[nv]};
        nv++;
    }
    struct acp_decision d, e;
    acp_decide(&g.req, pol, nv, &d);
    acp_ref_decide(ref, nv, &host, &g.req, &e);
    if (d.permit != e.permit || d.policy_index != e.policy_index || d.rule_index != e.rule_index)
        DIFF(&g, np, "decision: engine %d (%d,%d), reference %d (%d,%d)", d.permit, d.policy_index,
             d.rule_index, e.permit, e.policy_index, e.rule_index);
    STAT(st_permit += d.permit);
    for (size_t p = 0; p < nv; p++) {
        if (acp_ruleset_count(rs[p]) != acp_ref_count(ref[p]))
            DIFF(&g, np, "valid policy %zu: %zu rules, reference %zu", p, acp_ruleset_count(rs[p]),
                 acp_ref_count(ref[p]));
        for (size_t k = 0; k < acp_ruleset_count(rs[p]); k++) {
            unsigned a = acp_rule_explain(&g.req, rs[p], k);
            unsigned b = acp_ref_rule(ref[p], k, &host, &g.req);
            STAT(st_rules++);
            STAT(st_grant += b == 0);
            for (int i = 0; i < 7; i++)
                STAT(st_bits[i] += (b >> i) & 1);
            if (a != b)
                DIFF(&g, np, "valid policy %zu rule %zu: engine fails 0x%x, reference 0x%x", p, k,
                     a, b);
        }
    }
    for (size_t p = 0; p < nv; p++) {
        acp_ruleset_free(rs[p]);
        cJSON_Delete(json[p]);
    }
    return 0;
}
