/* acp_cidr.c: accessControlIpAddresses entries, m2m:ipv4 / m2m:ipv6 with optional "/prefix"
 * (TS-0004 6.3.3, SPEC-MAP A8), compiled to network and mask words. */
#include <arpa/inet.h>
#include <string.h>

#include "acp/acp_internal.h"

/* Splits "addr[/n]" into a NUL-terminated bounded copy of addr and the prefix length. */
static m2m_rc split(const char *s, size_t len, char *addr, size_t addrlen, int maxbits, int *bits)
{
    if (s == NULL || len == 0 || memchr(s, '\0', len) != NULL)
        return M2M_ERR_MALFORMED;
    const char *slash = memchr(s, '/', len);
    size_t al = slash ? (size_t)(slash - s) : len;
    if (al == 0 || al >= addrlen)
        return M2M_ERR_MALFORMED;
    memcpy(addr, s, al);
    addr[al] = '\0';
    *bits = maxbits;
    if (slash == NULL)
        return M2M_OK; /* no suffix: a single host, /32 or /128 */
    size_t i = al + 1, nd = len - i;
    if (nd == 0 || nd > 3)
        return M2M_ERR_MALFORMED;
    int v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return M2M_ERR_MALFORMED;
        v = v * 10 + (s[i] - '0');
    }
    if (v > maxbits || (nd > 1 && s[al + 1] == '0'))
        return M2M_ERR_MALFORMED;
    *bits = v;
    return M2M_OK;
}

static uint64_t mask64(int bits)
{
    if (bits <= 0)
        return 0;
    return bits >= 64 ? UINT64_MAX : ~(UINT64_MAX >> bits);
}

/* Host bits beyond the prefix are ignored (e.g. "127.0.0.1/0" in the TR-0051 examples). */
m2m_rc acp_cidr4_parse(const char *s, size_t len, struct acp_cidr4 *c)
{
    char addr[INET_ADDRSTRLEN + 1];
    int bits;
    uint8_t b[4];
    m2m_rc rc = split(s, len, addr, sizeof(addr), 32, &bits);
    if (rc != M2M_OK)
        return rc;
    if (inet_pton(AF_INET, addr, b) != 1)
        return M2M_ERR_MALFORMED;
    uint32_t ip = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    c->mask = (uint32_t)(mask64(bits) >> 32);
    c->net = ip & c->mask;
    return M2M_OK;
}

static uint64_t be64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

m2m_rc acp_cidr6_parse(const char *s, size_t len, struct acp_cidr6 *c)
{
    char addr[INET6_ADDRSTRLEN + 1];
    int bits;
    uint8_t b[16];
    m2m_rc rc = split(s, len, addr, sizeof(addr), 128, &bits);
    if (rc != M2M_OK)
        return rc;
    if (inet_pton(AF_INET6, addr, b) != 1)
        return M2M_ERR_MALFORMED;
    c->mask[0] = mask64(bits);
    c->mask[1] = mask64(bits - 64);
    c->net[0] = be64(b) & c->mask[0];
    c->net[1] = be64(b + 8) & c->mask[1];
    return M2M_OK;
}

/* Request address in the words the matchers compare (once per decision). */
void acp_rq_ip(struct acp_rq *rq)
{
    const struct acp_request *req = rq->req;
    if (!req->has_ip)
        return;
    if (req->ip_family == 4) {
        rq->ip4 = true;
        rq->v4 = (uint32_t)req->ip[0] << 24 | (uint32_t)req->ip[1] << 16 |
                 (uint32_t)req->ip[2] << 8 | req->ip[3];
    } else if (req->ip_family == 6 && be64(req->ip) == 0 && (be64(req->ip + 8) >> 32) == 0xffffu) {
        /* [INTERP] SPEC-MAP A8: an IPv4-mapped IPv6 source is matched as its IPv4 address (the
         * pipeline reduces it already; done here too so the engine does not depend on that) */
        rq->ip4 = true;
        rq->v4 = (uint32_t)be64(req->ip + 8);
    } else if (req->ip_family == 6) {
        rq->ip6 = true;
        rq->v6[0] = be64(req->ip);
        rq->v6[1] = be64(req->ip + 8);
    }
}
