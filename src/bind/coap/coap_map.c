/* coap_map.c: maps CoAP requests to oneM2M request primitives and response primitives to CoAP
 * responses (TS-0008 clause 6). */
#include "bind/coap/coap_map.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "model/primparam.h"

/* In order of importance: libcoap 4.3.1 knows at most two options above 255 (its option filter
 * has two long slots), so only the first two registered are accepted on the wire there. */
const uint16_t coap_m2m_options[] = {
    COAP_M2M_FR,   COAP_M2M_RQI, COAP_M2M_TY,    COAP_M2M_RVI,  COAP_M2M_RQET,
    COAP_M2M_RSET, COAP_M2M_OET, COAP_M2M_RTURI, COAP_M2M_VSI,  COAP_M2M_OT,
    COAP_M2M_EC,   COAP_M2M_GID, COAP_M2M_RSC,   COAP_M2M_CTO,  COAP_M2M_CTS,
    COAP_M2M_ATI,  COAP_M2M_GTM, COAP_M2M_AUS,   COAP_M2M_ASRI,
};
const size_t coap_m2m_n_options = M2M_ARRAY_LEN(coap_m2m_options);
const uint16_t coap_m2m_response_options[] = {COAP_M2M_RSC, COAP_M2M_RQI};
const size_t coap_m2m_n_response_options = M2M_ARRAY_LEN(coap_m2m_response_options);

/* One mapping run. */
struct mapctx {
    struct m2m_request *req;
    struct coap_req_meta *meta;
    m2m_rsc *rsc;
    char *errmsg;
    size_t errlen;
    struct primparam_seen seen_q; /* query parameters: duplicates */
    uint32_t seen_opt;            /* bit per coap_m2m_options[] entry: repeated options */
    int ty_opt;                   /* oneM2M-TY, 0 absent */
    int op_q;                     /* "op" Uri-Query, 0 absent */
    bool q_fc_other;              /* a filter-criteria query parameter other than "ty" */
    int cf;                       /* Content-Format, -1 absent */
    char path[COAP_MAP_MAX_URI + 1];
    size_t path_len;
    int n_seg;
};

static m2m_rc bad(struct mapctx *c, m2m_rsc rsc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static m2m_rc bad(struct mapctx *c, m2m_rsc rsc, const char *fmt, ...)
{
    *c->rsc = rsc;
    if (c->errmsg != NULL && c->errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->errmsg, c->errlen, fmt, ap);
        va_end(ap);
    }
    return M2M_ERR_MALFORMED;
}

/* Option and query text becomes identifiers and labels: printable bytes only. */
static bool printable(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* RFC 7252 3.2: uint options are big-endian without leading zero bytes; at most max bytes. */
static bool opt_uint(const uint8_t *v, size_t n, size_t max, uint32_t *out)
{
    uint32_t x = 0;
    if (n > max || n > 4)
        return false;
    for (size_t i = 0; i < n; i++)
        x = (x << 8) | v[i];
    *out = x;
    return true;
}

/* ---- Uri-Path (TS-0008 6.2.2.3) ------------------------------------------------------ */

/* Appends one Uri-Path option. A segment holding '/' would change the structure of the
 * identifier, and empty, "." and ".." segments never name a resource (as in the HTTP binding):
 * all are refused. The first segment "~" (SP-relative) or "_" (absolute) is kept as a marker. */
static m2m_rc add_segment(struct mapctx *c, const uint8_t *v, size_t n)
{
    if (n == 0 || (n == 1 && v[0] == '.') || (n == 2 && v[0] == '.' && v[1] == '.'))
        return bad(c, RSC_BAD_REQUEST, "invalid Uri-Path segment");
    if (memchr(v, '/', n) != NULL || !printable(v, n))
        return bad(c, RSC_BAD_REQUEST, "invalid character in Uri-Path");
    if (c->path_len + n + 1 > COAP_MAP_MAX_URI)
        return bad(c, RSC_BAD_REQUEST, "Uri-Path too long");
    if (c->n_seg > 0)
        c->path[c->path_len++] = '/';
    memcpy(c->path + c->path_len, v, n);
    c->path_len += n;
    c->path[c->path_len] = 0;
    c->n_seg++;
    return M2M_OK;
}

/* TS-0008 6.2.2.3: "~" first: To = "/" + rest (SP-relative); "_" first: To = "//" + rest
 * (absolute); otherwise the segments are the CSE-relative To. A bare "~" or "_" names nothing. */
static m2m_rc finish_path(struct mapctx *c)
{
    const char *prefix = "", *rest = c->path;
    if (c->n_seg == 0)
        return bad(c, RSC_BAD_REQUEST, "no Uri-Path (To is mandatory)");
    if (strncmp(c->path, "~/", 2) == 0 || strcmp(c->path, "~") == 0)
        prefix = "/";
    else if (strncmp(c->path, "_/", 2) == 0 || strcmp(c->path, "_") == 0)
        prefix = "//";
    if (prefix[0] != 0) {
        if (c->n_seg == 1)
            return bad(c, RSC_BAD_REQUEST, "Uri-Path '%s' without an identifier", c->path);
        rest = c->path + 2;
    }
    size_t pl = strlen(prefix), rl = strlen(rest);
    c->req->to = malloc(pl + rl + 1);
    if (c->req->to == NULL)
        return M2M_ERR_NOMEM;
    memcpy(c->req->to, prefix, pl);
    memcpy(c->req->to + pl, rest, rl + 1);
    return M2M_OK;
}

/* ---- Uri-Query (TS-0008 6.2.2.3: short names of TS-0004 8.2.2) ------------------------- */

/* One Uri-Query option "name=value" (RFC 7252 6.5: already percent-decoded by the client). The
 * parameters are primparam's, with "op" (TS-0008 6.2.1: the Operation of a non-blocking POST)
 * accepted here only. */
static m2m_rc map_query(struct mapctx *c, const uint8_t *s, size_t n)
{
    const uint8_t *eq = memchr(s, '=', n);
    if (eq == NULL)
        return bad(c, RSC_BAD_REQUEST, "Uri-Query without '='");
    if (!printable(s, n))
        return bad(c, RSC_BAD_REQUEST, "invalid character in Uri-Query");
    const char *k = (const char *)s;
    size_t kn = (size_t)(eq - s);
    if (primparam_is_fc(k, kn) && !(kn == 2 && memcmp(k, "ty", 2) == 0))
        c->q_fc_other = true;
    return primparam_rc(c->rsc, primparam_apply(c->req, k, kn, (const char *)eq + 1, n - kn - 1,
                                                true, &c->op_q, &c->seen_q, c->errmsg, c->errlen));
}

/* ---- oneM2M options (TS-0008 6.2.2.4) ------------------------------------------------ */

static m2m_rc set_str(struct mapctx *c, char **field, const uint8_t *v, size_t n, const char *name)
{
    /* Table 6.2.2.4.0-1: strings of 0-255 bytes; [INTERP] empty is the same as absent */
    if (n > 255 || !printable(v, n))
        return bad(c, RSC_BAD_REQUEST, "invalid %s option", name);
    if (n == 0)
        return M2M_OK;
    *field = strndup((const char *)v, n);
    return *field ? M2M_OK : M2M_ERR_NOMEM;
}

static m2m_rc map_rvi(struct mapctx *c, const uint8_t *v, size_t n)
{
    /* Release 3 and later only ("3", "4", "5"), as in the HTTP binding; else 4001. */
    if (n != 1 || (v[0] != '3' && v[0] != '4' && v[0] != '5'))
        return bad(c, RSC_RELEASE_VERSION_NOT_SUPPORTED, "release version not supported");
    return set_str(c, &c->req->rvi, v, n, "oneM2M-RVI");
}

static m2m_rc map_time(struct mapctx *c, int64_t *field, const uint8_t *v, size_t n,
                       const char *name)
{
    if (n > 32 || !primparam_abs_rel(c->req, (const char *)v, n, field))
        return bad(c, RSC_BAD_REQUEST, "invalid timestamp in %s", name);
    return M2M_OK;
}

/* One oneM2M option. [INTERP] Options whose parameter the primitive cannot carry: OT, EC and GID
 * are validated and dropped (they change nothing the CSE decides); CTO, CTS, ATI, GTM, AUS and
 * ASRI are refused with 5001, because ignoring them would change what the request means (GTM
 * would widen a group fan-out, AUS/ASRI would silently skip authorization signatures). */
static m2m_rc map_m2m_option(struct mapctx *c, uint16_t num, const uint8_t *v, size_t n)
{
    struct m2m_request *r = c->req;
    uint32_t u = 0;
    switch (num) {
    case COAP_M2M_FR: return set_str(c, &r->fr, v, n, "oneM2M-FR");
    case COAP_M2M_RQI: return set_str(c, &r->rqi, v, n, "oneM2M-RQI");
    case COAP_M2M_RTURI: return set_str(c, &r->rtu, v, n, "oneM2M-RTURI");
    case COAP_M2M_VSI: return set_str(c, &r->vsi, v, n, "oneM2M-VSI");
    case COAP_M2M_RVI: return map_rvi(c, v, n);
    case COAP_M2M_RQET: return map_time(c, &r->rqet, v, n, "oneM2M-RQET");
    case COAP_M2M_RSET: return map_time(c, &r->rset, v, n, "oneM2M-RSET");
    case COAP_M2M_OET: return map_time(c, &r->oet, v, n, "oneM2M-OET");
    case COAP_M2M_OT: {
        int64_t t = 0;
        return map_time(c, &t, v, n, "oneM2M-OT");
    }
    case COAP_M2M_TY:
        if (!opt_uint(v, n, 2, &u) || u == 0)
            return bad(c, RSC_BAD_REQUEST, "invalid oneM2M-TY option");
        c->ty_opt = (int)u;
        return M2M_OK;
    case COAP_M2M_EC:
        if (!opt_uint(v, n, 1, &u))
            return bad(c, RSC_BAD_REQUEST, "invalid oneM2M-EC option");
        return M2M_OK;
    case COAP_M2M_GID: {
        char *gid = NULL;
        m2m_rc rc = set_str(c, &gid, v, n, "oneM2M-GID");
        free(gid);
        return rc;
    }
    case COAP_M2M_RSC: return bad(c, RSC_BAD_REQUEST, "oneM2M-RSC in a request");
    default: return bad(c, RSC_NOT_IMPLEMENTED, "oneM2M option %u not supported", num);
    }
}

static int m2m_option_index(uint16_t num)
{
    for (size_t i = 0; i < coap_m2m_n_options; i++)
        if (coap_m2m_options[i] == num)
            return (int)i;
    return -1;
}

/* RFC 7252 5.4.1: options are critical when the number is odd; an unrecognized critical option
 * fails the request (4.02, here the RSC 4000). */
static bool is_critical(uint16_t num)
{
    return (num & 1) != 0;
}

/* Standard options (RFC 7252 5.10, 7959, 9175, 7967) that libcoap handles or that carry nothing
 * for oneM2M: Uri-Host/Port (one CSE per endpoint), Observe, ETag, Max-Age, Block1/2, Size1/2,
 * Echo, Request-Tag, No-Response. */
static bool is_ignored_standard(uint16_t num)
{
    switch (num) {
    case COAP_OPTION_URI_HOST:
    case COAP_OPTION_URI_PORT:
    case COAP_OPTION_OBSERVE:
    case COAP_OPTION_ETAG:
    case COAP_OPTION_MAXAGE:
    case COAP_OPTION_BLOCK1:
    case COAP_OPTION_BLOCK2:
    case COAP_OPTION_SIZE1:
    case COAP_OPTION_SIZE2:
    case COAP_OPTION_ECHO:
    case COAP_OPTION_RTAG:
    case COAP_OPTION_NORESPONSE: return true;
    default: return false;
    }
}

static m2m_rc map_option(struct mapctx *c, uint16_t num, const uint8_t *v, size_t n)
{
    uint32_t u = 0;
    int idx = m2m_option_index(num);
    if (idx >= 0) {
        /* Table 6.2.2.4.0-1: none of the oneM2M options is repeatable */
        if (c->seen_opt & (1u << idx))
            return bad(c, RSC_BAD_REQUEST, "repeated oneM2M option %u", num);
        c->seen_opt |= 1u << idx;
        return map_m2m_option(c, num, v, n);
    }
    switch (num) {
    case COAP_OPTION_URI_PATH: return add_segment(c, v, n);
    case COAP_OPTION_URI_QUERY: return map_query(c, v, n);
    case COAP_OPTION_CONTENT_FORMAT:
        if (c->cf >= 0 || !opt_uint(v, n, 2, &u))
            return bad(c, RSC_BAD_REQUEST, "invalid Content-Format option");
        c->cf = (int)u;
        return M2M_OK;
    case COAP_OPTION_ACCEPT:
        if (c->meta->accept >= 0 || !opt_uint(v, n, 2, &u))
            return bad(c, RSC_BAD_REQUEST, "invalid Accept option");
        c->meta->accept = (int)u;
        return M2M_OK;
    default:
        if (is_ignored_standard(num) || !is_critical(num))
            return M2M_OK;
        return bad(c, RSC_BAD_REQUEST, "unsupported critical option %u", num);
    }
}

static m2m_rc map_options(struct mapctx *c, const coap_pdu_t *pdu)
{
    coap_opt_iterator_t it;
    coap_opt_t *o;
    if (coap_option_iterator_init(pdu, &it, COAP_OPT_ALL) == NULL)
        return bad(c, RSC_BAD_REQUEST, "malformed options");
    /* coap_pdu_parse() validated the option encoding; the iterator stops at the payload */
    while ((o = coap_option_next(&it)) != NULL)
        RETURN_IF_ERR(map_option(c, it.number, coap_opt_value(o), coap_opt_length(o)));
    return M2M_OK;
}

/* ---- method, payload, entry points ---------------------------------------------------- */

/* TS-0008 Table 6.2.1-1; POST is CREATE with oneM2M-TY, else NOTIFY (6.2.1). The "op"
 * Uri-Query of a non-blocking POST (6.3.2-6.3.4) names the operation itself. FETCH, PATCH and
 * iPATCH have no oneM2M meaning: 5001. */
static m2m_rc map_method(struct mapctx *c, coap_pdu_code_t code)
{
    struct m2m_request *r = c->req;
    /* [INTERP] A POST has no filter criteria, so a lone "ty=N" Uri-Query on a POST without the
     * oneM2M-TY option names the type of a CREATE. libcoap 4.3.1 refuses most oneM2M options
     * (see coap_m2m_options[]), and this is how a client can still create there. */
    if (code == COAP_REQUEST_CODE_POST && c->ty_opt == 0 && r->fc.n_ty == 1 && !c->q_fc_other) {
        c->ty_opt = r->fc.ty[0];
        r->fc.n_ty = 0;
        r->has_fc = false;
    }
    switch (code) {
    case COAP_REQUEST_CODE_GET: r->op = M2M_OP_RETRIEVE; break;
    case COAP_REQUEST_CODE_PUT: r->op = M2M_OP_UPDATE; break;
    case COAP_REQUEST_CODE_DELETE: r->op = M2M_OP_DELETE; break;
    case COAP_REQUEST_CODE_POST: r->op = c->ty_opt ? M2M_OP_CREATE : M2M_OP_NOTIFY; break;
    default:
        return bad(c, RSC_NOT_IMPLEMENTED, "method %d.%02d not supported", code >> 5, code & 31);
    }
    if (c->op_q != 0) {
        if (code != COAP_REQUEST_CODE_POST)
            return bad(c, RSC_BAD_REQUEST, "query parameter 'op' only with POST");
        r->op = (enum m2m_op)c->op_q;
    }
    if (r->op == M2M_OP_CREATE) {
        if (c->ty_opt == 0)
            return bad(c, RSC_BAD_REQUEST, "CREATE without oneM2M-TY");
        r->ty = c->ty_opt;
    } else if (c->ty_opt != 0) {
        return bad(c, RSC_BAD_REQUEST, "oneM2M-TY on an operation other than CREATE");
    }
    c->meta->op = r->op;
    return M2M_OK;
}

static bool json_cf(int cf)
{
    return cf == COAP_CF_JSON || cf == COAP_CF_M2M_RES_JSON || cf == COAP_CF_M2M_NTFY_JSON ||
           cf == COAP_CF_M2M_PREQ_JSON;
}

/* TS-0008 6.2.2.2: a body must be JSON (application/json or a vnd.onem2m-*+json format), else
 * 4015; an Accept this CSE cannot produce is 5207 (4.06). The response uses the Accept'ed
 * format, else the request's, else application/json. The body is copied. */
static m2m_rc map_content(struct mapctx *c, const uint8_t *body, size_t len, size_t max)
{
    int acc = c->meta->accept;
    if (acc >= 0 && acc != COAP_CF_JSON && acc != COAP_CF_M2M_RES_JSON)
        return bad(c, RSC_NOT_ACCEPTABLE, "Accept %d not supported", acc);
    c->meta->resp_cf = acc >= 0                        ? (uint16_t)acc
                       : c->cf == COAP_CF_M2M_RES_JSON ? COAP_CF_M2M_RES_JSON
                                                       : COAP_CF_JSON;
    if (len == 0)
        return M2M_OK;
    if (len > max)
        return bad(c, RSC_BAD_REQUEST, "request body over %zu bytes", max);
    if (!json_cf(c->cf))
        return bad(c, RSC_UNSUPPORTED_MEDIA_TYPE, "unsupported or missing Content-Format");
    c->req->pc = malloc(len);
    if (c->req->pc == NULL)
        return M2M_ERR_NOMEM;
    memcpy(c->req->pc, body, len);
    c->req->pc_len = len;
    c->req->content_format = 1;
    return M2M_OK;
}

m2m_rc coap_map_request(const coap_pdu_t *pdu, const uint8_t *body, size_t body_len,
                        size_t max_body, struct m2m_request *req, struct coap_req_meta *meta,
                        m2m_rsc *rsc, char *errmsg, size_t errlen)
{
    m2m_rc rc = M2M_OK;
    struct m2m_request r;
    struct mapctx *c = calloc(1, sizeof *c); /* holds the path buffer: not on the stack */
    meta->accept = -1;
    meta->resp_cf = COAP_CF_JSON;
    meta->op = M2M_OP_NONE;
    *rsc = RSC_NONE;
    if (errmsg != NULL && errlen > 0)
        errmsg[0] = 0;
    m2m_request_init(&r);
    if (c == NULL)
        return M2M_ERR_NOMEM;
    r.sec = req->sec;
    r.t_recv_us = req->t_recv_us;
    *c = (struct mapctx){
        .req = &r, .meta = meta, .rsc = rsc, .errmsg = errmsg, .errlen = errlen, .cf = -1};
    TRY(map_options(c, pdu));
    TRY(map_method(c, coap_pdu_get_code(pdu)));
    TRY(finish_path(c));
    TRY(map_content(c, body, body_len, max_body));
    *req = r;
    free(c);
    return M2M_OK;
out:
    if (rc == M2M_ERR_NOMEM)
        (void)bad(c, RSC_INTERNAL_SERVER_ERROR, "out of memory");
    m2m_request_clear(&r);
    free(c);
    return rc;
}

/* TS-0008 Table 6.2.4-1. */
coap_pdu_code_t coap_map_rsc(m2m_rsc rsc, enum m2m_op op)
{
    static const struct {
        int rsc;
        int coap;
    } table[] = {
        {1001, 201}, {1002, 204}, {2001, 201}, {2002, 202}, {2004, 204}, {4000, 400}, {4001, 501},
        {4004, 404}, {4005, 405}, {4008, 504}, {4015, 415}, {4101, 403}, {4102, 400}, {4103, 403},
        {4104, 400}, {4105, 403}, {4106, 403}, {4107, 403}, {4108, 403}, {4109, 403}, {4110, 400},
        {4111, 403}, {4112, 403}, {4113, 403}, {4114, 403}, {4115, 403}, {4116, 403}, {4117, 403},
        {4118, 404}, {4119, 404}, {4120, 402}, {4121, 404}, {4122, 402}, {4123, 400}, {4124, 400},
        {4125, 501}, {4126, 403}, {4127, 403}, {4128, 403}, {4143, 400}, {5000, 500}, {5001, 501},
        {5103, 404}, {5105, 403}, {5106, 400}, {5107, 404}, {5203, 403}, {5204, 500}, {5205, 403},
        {5206, 501}, {5207, 406}, {5208, 403}, {5209, 500}, {5210, 500}, {5211, 500}, {5212, 500},
        {5214, 403}, {5215, 403}, {5216, 500}, {5217, 500}, {5218, 403}, {5219, 400}, {5220, 400},
        {5221, 500}, {5222, 403}, {6003, 404}, {6005, 404}, {6010, 400}, {6020, 500}, {6021, 500},
        {6022, 400}, {6023, 400}, {6024, 400}, {6025, 500}, {6026, 500}, {6028, 400}, {6029, 400},
        {6030, 504}, {6031, 504},
    };
    /* 2000 is 2.05 Content for RETRIEVE and 2.04 Changed for NOTIFY; [INTERP] for the other
     * operations (a group fan-out answering 2000 to a POST/PUT/DELETE) the Changed of a state
     * change is the closer code, and 2.05 stays for RETRIEVE. 4128 is not in the table:
     * SERVICE_SUBSCRIPTION_NOT_ESTABLISHED is an access refusal, 4.03 like 4103. */
    if (rsc == RSC_OK)
        return op == M2M_OP_RETRIEVE ? COAP_RESPONSE_CODE(205) : COAP_RESPONSE_CODE(204);
    for (size_t i = 0; i < M2M_ARRAY_LEN(table); i++)
        if (table[i].rsc == (int)rsc)
            return COAP_RESPONSE_CODE(table[i].coap);
    return COAP_RESPONSE_CODE(500);
}

bool coap_map_response_has_body(const struct m2m_response *resp, enum m2m_op op)
{
    if (resp->body == NULL || resp->body_len == 0)
        return false;
    return !(op == M2M_OP_NOTIFY && resp->rsc == RSC_OK); /* Table 6.2.4-1: empty 2.04 */
}

/* TS-0008 6.2.3: the URI of a created resource goes into Location-Path options, with the same
 * "~" / "_" first segment as the request (6.2.2.3). A segment over 255 bytes (RFC 7252 5.10)
 * leaves the location out rather than truncating it. */
static m2m_rc add_location(coap_pdu_t *pdu, const char *loc)
{
    const char *p = loc;
    size_t total = strlen(loc), seg = 0;
    for (size_t i = 0; i < total; i++) {
        seg = loc[i] == '/' ? 0 : seg + 1;
        if (seg > 255)
            return M2M_ERR_LIMIT;
    }
    if (strncmp(loc, "//", 2) == 0) {
        p = loc + 2;
        if (coap_add_option(pdu, COAP_OPTION_LOCATION_PATH, 1, (const uint8_t *)"_") == 0)
            return M2M_ERR_NOMEM;
    } else if (loc[0] == '/') {
        p = loc + 1;
        if (coap_add_option(pdu, COAP_OPTION_LOCATION_PATH, 1, (const uint8_t *)"~") == 0)
            return M2M_ERR_NOMEM;
    }
    for (const char *s = p; s < loc + total;) {
        const char *e = memchr(s, '/', (size_t)(loc + total - s));
        size_t n = e ? (size_t)(e - s) : (size_t)(loc + total - s);
        if (n > 0 && coap_add_option(pdu, COAP_OPTION_LOCATION_PATH, n, (const uint8_t *)s) == 0)
            return M2M_ERR_NOMEM;
        s += n + 1;
    }
    return M2M_OK;
}

m2m_rc coap_map_response(const struct m2m_response *resp, enum m2m_op op, bool m2m_options,
                         coap_pdu_t *pdu)
{
    uint8_t buf[4];
    coap_pdu_set_code(pdu, coap_map_rsc(resp->rsc, op));
    /* Location-Path (8) comes before the oneM2M options (>= 259): options are added in order */
    if (resp->content_location != NULL && resp->rsc == RSC_CREATED &&
        strlen(resp->content_location) <= COAP_MAP_MAX_URI) {
        m2m_rc rc = add_location(pdu, resp->content_location);
        if (rc == M2M_ERR_NOMEM)
            return rc;
    }
    if (!m2m_options)
        return M2M_OK;
    if (resp->rvi != NULL && strlen(resp->rvi) <= 2 &&
        coap_add_option(pdu, COAP_M2M_RVI, strlen(resp->rvi), (const uint8_t *)resp->rvi) == 0)
        return M2M_ERR_NOMEM;
    if (resp->rqi != NULL && strlen(resp->rqi) <= 255 &&
        coap_add_option(pdu, COAP_M2M_RQI, strlen(resp->rqi), (const uint8_t *)resp->rqi) == 0)
        return M2M_ERR_NOMEM;
    /* 6.2.4: the exact RSC travels in oneM2M-RSC, since several RSCs share a CoAP code */
    unsigned n = coap_encode_var_safe(buf, sizeof buf, (unsigned)resp->rsc);
    if (coap_add_option(pdu, COAP_M2M_RSC, n, buf) == 0)
        return M2M_ERR_NOMEM;
    return M2M_OK;
}
