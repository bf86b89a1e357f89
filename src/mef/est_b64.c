/* est_b64.c: the bounded RFC 4648 base64 codec of the EST bodies (RFC 7030 4.1.3, 4.2.1, 4.2.3,
 * 4.5.2: Content-Transfer-Encoding base64). */
#include <stdbool.h>
#include <string.h>

#include "mef/est.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of an alphabet character, -1 for anything else ('=' included). */
static int b64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* RFC 7030 4.1.3 lets line breaks into the body; space is tolerated for folded lines. */
static bool b64_skippable(uint8_t c)
{
    return c == '\r' || c == '\n' || c == ' ';
}

/* Writes the bytes of one complete group of four (npad of them '=') to out. */
static m2m_rc b64_flush(const int v[4], int npad, uint8_t *out, size_t cap, size_t *o)
{
    uint32_t w =
        ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) | ((uint32_t)v[2] << 6) | (uint32_t)v[3];
    size_t n = (size_t)(3 - npad);
    /* RFC 4648 3.5: the pad bits of the last group must be zero (one canonical encoding). */
    if ((npad == 1 && (w & 0xff) != 0) || (npad == 2 && (w & 0xffff) != 0))
        return M2M_ERR_MALFORMED;
    if (n > cap - *o)
        return M2M_ERR_LIMIT;
    uint8_t bytes[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
    memcpy(out + *o, bytes, n);
    *o += n;
    return M2M_OK;
}

m2m_rc est_b64_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    m2m_rc rc = M2M_OK;
    int v[4] = {0, 0, 0, 0};
    int k = 0, npad = 0;
    bool done = false; /* a padded group ended the data */
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = in[i];
        if (b64_skippable(c))
            continue;
        ENSURE(!done, M2M_ERR_MALFORMED);
        if (c == '=') {
            /* '=' only in the last two positions of a group: "xx==" or "xxx=". */
            ENSURE(k >= 2, M2M_ERR_MALFORMED);
            npad++;
            v[k++] = 0;
        } else {
            int x = b64_value(c);
            ENSURE(x >= 0 && npad == 0, M2M_ERR_MALFORMED);
            v[k++] = x;
        }
        if (k == 4) {
            TRY(b64_flush(v, npad, out, cap, &o));
            done = npad > 0;
            k = 0;
            npad = 0;
        }
    }
    ENSURE(k == 0, M2M_ERR_MALFORMED); /* RFC 4648 3.2: padding is required */
    *out_len = o;
out:
    return rc;
}

m2m_rc est_b64_encode(const uint8_t *in, size_t len, struct m2m_buf *out)
{
    m2m_rc rc = M2M_OK;
    ENSURE(len <= (SIZE_MAX / 4 - 1) * 3, M2M_ERR_LIMIT);
    size_t need = (len + 2) / 3 * 4;
    TRY(m2m_buf_reserve(out, need));
    uint8_t *p = out->data + out->len;
    for (size_t i = 0; i < len; i += 3) {
        size_t n = len - i < 3 ? len - i : 3;
        uint32_t w = (uint32_t)in[i] << 16;
        if (n > 1)
            w |= (uint32_t)in[i + 1] << 8;
        if (n > 2)
            w |= in[i + 2];
        *p++ = (uint8_t)b64_alphabet[(w >> 18) & 63];
        *p++ = (uint8_t)b64_alphabet[(w >> 12) & 63];
        *p++ = n > 1 ? (uint8_t)b64_alphabet[(w >> 6) & 63] : '=';
        *p++ = n > 2 ? (uint8_t)b64_alphabet[w & 63] : '=';
    }
    out->len += need;
    out->data[out->len] = 0; /* m2m_buf_reserve keeps room for the terminator */
out:
    return rc;
}
