/* fuzz_credadmin.c: the peer-input parsers of src/cse/credadmin.c on the same input: the CREATE
 * body of <CSEBase>/_cred (credadmin_parse), its standard base64 (credadmin_b64_decode) and the
 * path reference "_cred/<ref>" (credadmin_ref_decode), with checks of what they promise: a parse
 * result of the right shape or a cleared output with a reason, canonical base64 that re-encodes to
 * its input, and references that round-trip through credadmin_ref_encode. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cse/credadmin.h"

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* True when the n bytes at p are all zero. */
static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

/* A NUL-terminated string that fits cap bytes. */
static bool terminated(const char *s, size_t cap)
{
    return memchr(s, 0, cap) != NULL;
}

/* The body parser, once with the server's default depth and a roomy reason buffer, once with a
 * shallow depth and a reason buffer too small for any message (truncated, never overrun). */
static void check_parse(const uint8_t *in, size_t len, int depth, size_t whylen)
{
    struct credadmin_new *n = malloc(sizeof *n);
    char *why = malloc(whylen);
    if (n == NULL || why == NULL)
        goto out;
    memset(n, 0xA5, sizeof *n);
    m2m_rc rc = credadmin_parse(in, len, depth, n, why, whylen);
    if (!terminated(why, whylen))
        abort();
    if (rc != M2M_OK) {
        /* Contract: *out left cleared, and a reason given. */
        if (!all_zero(n, sizeof *n) || (rc != M2M_ERR_MALFORMED && rc != M2M_ERR_LIMIT) ||
            (whylen > 1 && why[0] == 0))
            abort();
        goto out;
    }
    if (n->n_bind < 1 || n->n_bind > CRED_MAX_BIND || !terminated(n->name, sizeof n->name) ||
        n->key_len > sizeof n->key || n->spki_len > sizeof n->spki)
        abort();
    for (int i = 0; i < n->n_bind; i++)
        if (!terminated(n->bind[i], sizeof n->bind[i]))
            abort();
    switch (n->kind) {
    case CRED_PSK:
        if (n->name[0] == 0 || n->key_len == 0 || n->spki_len != 0)
            abort();
        break;
    case CRED_RPK:
        if (n->name[0] != 0 || n->spki_len == 0 || n->key_len != 0)
            abort();
        break;
    case CRED_NODE:
    case CRED_DEVICE:
        if (n->name[0] == 0 || n->key_len != 0 || n->spki_len != 0)
            abort();
        break;
    default: abort();
    }
    credadmin_new_clear(n);
    if (!all_zero(n, sizeof *n))
        abort();
out:
    free(n);
    free(why);
}

/* Accepted base64 is canonical: encoding the result gives the input without its padding. A
 * buffer one byte short is a limit, never an overflow. */
static void check_b64(const uint8_t *in, size_t len)
{
    size_t cap = len / 4 * 3 + 3, n = 0;
    uint8_t *out = malloc(cap);
    if (out == NULL)
        return;
    if (credadmin_b64_decode((const char *)in, len, out, cap, &n) != M2M_OK)
        goto out;
    size_t body = len;
    while (body > 0 && in[body - 1] == '=')
        body--;
    if (n > cap || len - body > 2 || (n * 4 + 2) / 3 != body)
        abort();
    for (size_t i = 0, o = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)out[i] << 16 | (i + 1 < n ? (uint32_t)out[i + 1] << 8 : 0) |
                     (i + 2 < n ? out[i + 2] : 0);
        size_t chars = i + 2 < n ? 4 : i + 1 < n ? 3 : 2;
        for (size_t k = 0; k < chars; k++, o++)
            if (o >= body || in[o] != (uint8_t)b64_std[(v >> (18 - 6 * k)) & 63])
                abort();
    }
    if (n > 0) {
        uint8_t *small = malloc(n - 1 ? n - 1 : 1);
        size_t m = 0;
        if (small == NULL ||
            credadmin_b64_decode((const char *)in, len, small, n - 1, &m) != M2M_ERR_LIMIT)
            abort();
        free(small);
    }
out:
    free(out);
}

/* The reference of To (a C string: the input up to its first NUL) into a buffer of outlen bytes,
 * allocated to size so that ASan sees any overrun. */
static void check_ref(const uint8_t *in, size_t len, size_t outlen)
{
    char *ref = malloc(len + 1), *id = malloc(outlen), *enc = NULL;
    if (ref == NULL || id == NULL)
        goto out;
    memcpy(ref, in, len);
    ref[len] = 0;
    size_t rl = strlen(ref);
    if (credadmin_ref_decode(ref, id, outlen) != M2M_OK)
        goto out;
    size_t il = strnlen(id, outlen);
    if (il == 0 || il >= outlen)
        abort();
    for (size_t i = 0; i < il; i++)
        if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
            abort();
    if (ref[0] != '@' && strcmp(id, ref) != 0)
        abort(); /* a plain Credential-ID or name is taken as it is */
    /* What ref_encode makes of the result decodes back to it, and an "@" form holding a '/' is
     * the canonical encoding of the input (padding aside). */
    size_t el = 2 + (il + 2) / 3 * 4;
    enc = malloc(el);
    if (enc == NULL || credadmin_ref_encode(id, enc, el) != M2M_OK)
        abort();
    if (strchr(id, '/') != NULL) {
        size_t body = rl;
        while (body > 1 && ref[body - 1] == '=')
            body--;
        if (ref[0] == '@' && (strlen(enc) != body || memcmp(enc, ref, body) != 0))
            abort();
        char *back = malloc(outlen);
        if (back == NULL || credadmin_ref_decode(enc, back, outlen) != M2M_OK ||
            strcmp(back, id) != 0)
            abort();
        free(back);
    } else if (strcmp(enc, id) != 0) {
        abort();
    }
out:
    free(ref);
    free(id);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
    check_parse(in, len, 32, 160);
    check_parse(in, len, 3, 4);
    check_b64(in, len);
    check_ref(in, len, M2M_ID_MAX);
    if (len > 0)
        check_ref(in + 1, len - 1, 1 + in[0] % 16);
    return 0;
}
