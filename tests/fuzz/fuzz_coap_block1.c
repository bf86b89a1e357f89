/* fuzz_coap_block1.c: the Block1 reassembly of src/bind/coap/coap_block1.c driven by a sequence of
 * blocks read from the input (peer, request key, NUM, M, SZX, payload length, Size1, time step)
 * for two peers sharing one server budget. Every payload byte is a function of its request and
 * its offset in the body, so a completed body can be checked byte by byte; the budget never goes
 * over its cap and returns to zero once every body is done or dropped.
 *
 * Input: max_body (2 bytes, x16), budget cap (2 bytes, x16), then blocks of 4 bytes:
 *   op:   bits 0-2 request key (6 and 7: malformed keys), 3 peer, 4 M, 5 Size1 present,
 *         6 payload length from the next byte instead of the block size, 7 large NUM
 *   num:  NUM (op bit 7: NUM = this byte << 12 | 0xfff, reaching past the 2^20 limit)
 *   szx:  bits 0-2 SZX (7 is refused), bits 3-7 seconds elapsed before this block (x4)
 *   arg:  payload length (op bit 6) or, for a last block, the length short of the block size;
 *         with Size1 also its value (x64). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bind/coap/coap_block1.h"

#define N_KEYS 8

/* The payload byte at offset off of request key k. */
static uint8_t pattern(int k, size_t off)
{
    return (uint8_t)(k * 37 + off * 7 + (off >> 8));
}

/* Request identities: distinct short keys, an empty one, a long one, one over CB1_KEY_MAX and
 * a NULL key with a length (both refused as CB1_BAD). */
static const uint8_t *key_of(int k, uint8_t *big, size_t *len)
{
    static const uint8_t small[4][3] = {{1, 2, 3}, {1, 2, 4}, {9}, {1, 2}};
    switch (k) {
    case 0:
    case 1: *len = 3; return small[k];
    case 2: *len = 1; return small[2];
    case 3: *len = 2; return small[3];
    case 4: *len = 0; return NULL;
    case 5: *len = CB1_KEY_MAX; return big;
    case 6: *len = CB1_KEY_MAX + 1; return big;
    default: *len = 3; return NULL;
    }
}

static void check_body(int k, const uint8_t *body, size_t len, size_t max_body)
{
    if ((len > 0 && body == NULL) || len > max_body)
        abort();
    for (size_t i = 0; i < len; i++)
        if (body[i] != pattern(k, i))
            abort();
}

/* Feeds one block; returns false when the input is used up. */
static bool step(const uint8_t **in, size_t *left, struct cb1_peer peers[2], struct cb1_budget *bg,
                 size_t max_body, int64_t *now, uint8_t *big)
{
    if (*left < 4)
        return false;
    const uint8_t *c = *in;
    *in += 4;
    *left -= 4;
    uint8_t op = c[0], szb = c[2], arg = c[3];
    int k = op & 7;
    struct cb1_block b = {.more = op & 0x10, .szx = szb & 7, .has_size1 = op & 0x20};
    b.key = key_of(k, big, &b.key_len);
    b.num = op & 0x80 ? (uint32_t)c[1] << 12 | 0xfff : c[1];
    b.size1 = (uint64_t)arg * 64;
    size_t size = (size_t)16 << (b.szx < 7 ? b.szx : 6);
    b.len = op & 0x40 ? arg : b.more ? size : size - (arg < size ? arg : size);
    *now += (int64_t)(szb >> 3) * 4000;
    uint8_t *data = malloc(b.len ? b.len : 1); /* exactly sized: ASan sees any over-read */
    if (data == NULL)
        return false;
    uint64_t off = (uint64_t)b.num << (b.szx < 7 ? b.szx + 4 : 10);
    for (size_t i = 0; i < b.len; i++)
        data[i] = pattern(k, off + i);
    b.data = b.len ? data : NULL;
    uint8_t *body = (uint8_t *)1;
    size_t body_len = 1;
    struct cb1_peer *p = &peers[(op >> 3) & 1];
    enum cb1_result r = cb1_feed(p, bg, max_body, &b, *now, &body, &body_len);
    free(data);
    if (r != CB1_DONE && (body != NULL || body_len != 0))
        abort();
    bool bad = b.szx > 6 || b.num >= (1u << 20) || b.key_len > CB1_KEY_MAX ||
               (b.key_len > 0 && b.key == NULL) || b.len > size || (b.more && b.len != size);
    if (bad && r != CB1_BAD)
        abort();
    if (!bad && ((b.has_size1 && b.size1 > max_body) || off + b.len > max_body) &&
        r != CB1_TOO_LARGE)
        abort();
    if (r == CB1_DONE) {
        if (b.more || off + b.len != body_len)
            abort();
        check_body(k, body, body_len, max_body);
        free(body);
    }
    if (bg->used > bg->cap || cb1_peer_count(p) > CB1_PER_PEER)
        abort();
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
    if (len < 4)
        return 0;
    size_t max_body = ((size_t)in[0] << 8 | in[1]) * 16;
    struct cb1_budget bg = {.used = 0, .cap = ((size_t)in[2] << 8 | in[3]) * 16};
    struct cb1_peer peers[2] = {{{NULL}}, {{NULL}}};
    uint8_t *big = malloc(CB1_KEY_MAX + 1);
    if (big == NULL)
        return 0;
    memset(big, 0x5a, CB1_KEY_MAX + 1);
    int64_t now = 1000000;
    in += 4;
    len -= 4;
    while (step(&in, &len, peers, &bg, max_body, &now, big)) {
    }
    cb1_peer_clear(&peers[0], &bg);
    cb1_peer_clear(&peers[1], &bg);
    if (bg.used != 0 || cb1_peer_count(&peers[0]) != 0 || cb1_peer_count(&peers[1]) != 0)
        abort();
    cb1_peer_clear(NULL, &bg);
    free(big);
    return 0;
}
