/* psk_peek.c: the psk_identity of a TLS client's plaintext flight (record reassembly, ClientHello
 * pre_shared_key, ClientKeyExchange of the PSK key exchanges). Pure and bounded; see psk_peek.h. */
#include "tls/psk_peek.h"

#include <string.h>

#define REC_HDR 5
#define REC_MAX 16384 /* RFC 5246 6.2.1 / RFC 8446 5.1: TLSPlaintext.length <= 2^14 */
#define HS_HDR 4

enum {
    CT_CHANGE_CIPHER_SPEC = 20,
    CT_ALERT = 21,
    CT_HANDSHAKE = 22,
    CT_APPLICATION_DATA = 23,
    HT_CLIENT_HELLO = 1,
    HT_CLIENT_KEY_EXCHANGE = 16,
    EXT_PRE_SHARED_KEY = 41,
};

/* A bounded reader: every take fails instead of passing the end. */
struct cur {
    const uint8_t *p;
    size_t len, off;
};

static bool take(struct cur *c, size_t n, const uint8_t **out)
{
    if (c->len - c->off < n)
        return false;
    if (out != NULL)
        *out = c->p + c->off;
    c->off += n;
    return true;
}

static bool take_u8(struct cur *c, size_t *v)
{
    const uint8_t *b;
    if (!take(c, 1, &b))
        return false;
    *v = b[0];
    return true;
}

static bool take_u16(struct cur *c, size_t *v)
{
    const uint8_t *b;
    if (!take(c, 2, &b))
        return false;
    *v = (size_t)b[0] << 8 | b[1];
    return true;
}

/* A length-prefixed vector (prefix of `width` bytes) as a sub-cursor, length within [lo, hi]. */
static bool take_vec(struct cur *c, int width, size_t lo, size_t hi, struct cur *sub)
{
    size_t n;
    if (!(width == 1 ? take_u8(c, &n) : take_u16(c, &n)) || n < lo || n > hi)
        return false;
    sub->off = 0;
    sub->len = n;
    return take(c, n, &sub->p);
}

static m2m_rc copy_identity(const struct cur *id, bool tls13, struct psk_peek_result *out)
{
    if (id->len > sizeof out->id)
        return M2M_ERR_LIMIT;
    memcpy(out->id, id->p, id->len);
    out->id_len = id->len;
    out->tls13 = tls13;
    return M2M_OK;
}

/* RFC 8446 4.2.11: OfferedPsks = PskIdentity identities<7..2^16-1> (identity<1..2^16-1>,
 * uint32 obfuscated_ticket_age), PskBinderEntry binders<33..2^16-1>. The first identity is the
 * one an external PSK client offers. */
static m2m_rc offered_psks(struct cur *ext, struct psk_peek_result *out)
{
    struct cur ids, id, binders;
    if (!take_vec(ext, 2, 7, 0xffff, &ids) || !take_vec(&ids, 2, 1, 0xffff, &id) ||
        !take(&ids, 4, NULL) || !take_vec(ext, 2, 33, 0xffff, &binders) || ext->off != ext->len)
        return M2M_ERR_MALFORMED;
    return copy_identity(&id, true, out);
}

/* RFC 8446 4.1.2 / RFC 5246 7.4.1.2: legacy_version, random, legacy_session_id<0..32>,
 * cipher_suites<2..2^16-2>, legacy_compression_methods<1..2^8-1>, extensions<8..2^16-1>
 * (absent in a plain TLS 1.2 ClientHello). NOT_FOUND: no pre_shared_key extension. */
static m2m_rc client_hello(struct cur *m, struct psk_peek_result *out)
{
    struct cur sid, suites, comp, exts;
    if (!take(m, 2 + 32, NULL) || !take_vec(m, 1, 0, 32, &sid) ||
        !take_vec(m, 2, 2, 0xfffe, &suites) || suites.len % 2 != 0 ||
        !take_vec(m, 1, 1, 0xff, &comp))
        return M2M_ERR_MALFORMED;
    if (m->off == m->len)
        return M2M_ERR_NOT_FOUND;
    if (!take_vec(m, 2, 0, 0xffff, &exts) || m->off != m->len)
        return M2M_ERR_MALFORMED;
    while (exts.off < exts.len) {
        size_t type;
        struct cur ext;
        if (!take_u16(&exts, &type) || !take_vec(&exts, 2, 0, 0xffff, &ext))
            return M2M_ERR_MALFORMED;
        if (type == EXT_PRE_SHARED_KEY)
            return offered_psks(&ext, out);
    }
    return M2M_ERR_NOT_FOUND;
}

/* RFC 4279 2-4, RFC 5489 2: every PSK key exchange's ClientKeyExchange starts with
 * opaque psk_identity<0..2^16-1>; what follows depends on the key exchange. */
static m2m_rc client_key_exchange(struct cur *m, enum psk_peek_kx kx, struct psk_peek_result *out)
{
    struct cur id;
    if (kx == PSK_PEEK_KX_UNKNOWN)
        return M2M_ERR_MALFORMED; /* before the server chose a key exchange */
    if (kx != PSK_PEEK_KX_PSK)
        return M2M_ERR_NOT_FOUND;
    if (!take_vec(m, 2, 0, 0xffff, &id))
        return M2M_ERR_MALFORMED;
    return copy_identity(&id, false, out);
}

/* Examines the complete handshake messages of hs[*off..len); AGAIN when the identity may still
 * come in a later message. */
static m2m_rc scan_messages(const uint8_t *hs, size_t len, size_t *off, enum psk_peek_kx kx,
                            struct psk_peek_result *out)
{
    while (len - *off >= HS_HDR) {
        const uint8_t *h = hs + *off;
        size_t mlen = (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
        if (mlen > PSK_PEEK_MAX - HS_HDR)
            return M2M_ERR_LIMIT;
        if (len - *off - HS_HDR < mlen)
            return M2M_ERR_AGAIN;
        struct cur m = {h + HS_HDR, mlen, 0};
        m2m_rc rc = M2M_ERR_NOT_FOUND;
        if (*off == 0 && h[0] != HT_CLIENT_HELLO)
            return M2M_ERR_MALFORMED; /* a client's first flight opens with its ClientHello */
        if (h[0] == HT_CLIENT_HELLO)
            rc = client_hello(&m, out);
        else if (h[0] == HT_CLIENT_KEY_EXCHANGE)
            rc = client_key_exchange(&m, kx, out);
        if (rc != M2M_ERR_NOT_FOUND || h[0] == HT_CLIENT_KEY_EXCHANGE)
            return rc;
        *off += HS_HDR + mlen;
    }
    return M2M_ERR_AGAIN;
}

m2m_rc psk_peek(const uint8_t *in, size_t len, enum psk_peek_kx kx, struct psk_peek_result *out)
{
    uint8_t hs[PSK_PEEK_MAX];
    size_t hs_len = 0, hs_off = 0, off = 0;
    bool truncated = len > PSK_PEEK_MAX;
    if (truncated)
        len = PSK_PEEK_MAX;
    memset(out, 0, sizeof *out);
    for (;;) {
        m2m_rc rc = scan_messages(hs, hs_len, &hs_off, kx, out);
        if (rc != M2M_ERR_AGAIN)
            return rc;
        if (len - off < REC_HDR)
            return truncated ? M2M_ERR_LIMIT : M2M_ERR_AGAIN;
        const uint8_t *r = in + off;
        size_t rlen = (size_t)r[3] << 8 | r[4];
        if (r[1] != 3 || rlen == 0 || rlen > REC_MAX)
            return M2M_ERR_MALFORMED; /* RFC 8446 5.1: no zero-length handshake fragments */
        if (r[0] == CT_CHANGE_CIPHER_SPEC || r[0] == CT_ALERT || r[0] == CT_APPLICATION_DATA)
            /* RFC 8446 5.1: handshake messages are not interleaved with other record types */
            return hs_off != hs_len || hs_len == 0 ? M2M_ERR_MALFORMED : M2M_ERR_NOT_FOUND;
        if (r[0] != CT_HANDSHAKE)
            return M2M_ERR_MALFORMED;
        if (len - off - REC_HDR < rlen)
            return truncated ? M2M_ERR_LIMIT : M2M_ERR_AGAIN;
        memcpy(hs + hs_len, r + REC_HDR, rlen); /* fits: hs_len + rlen <= off + rlen <= len */
        hs_len += rlen;
        off += REC_HDR + rlen;
    }
}
