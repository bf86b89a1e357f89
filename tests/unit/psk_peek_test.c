/* psk_peek_test.c: the psk_identity peek over client flights built byte by byte: TLS 1.3
 * ClientHello pre_shared_key and TLS 1.2 ClientKeyExchange, every fragmentation and truncation,
 * several messages per record, the stop conditions, and each malformed record layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tls/psk_peek.h"

/* ---- builders ---- */

struct b {
    uint8_t d[40000];
    size_t n;
};

static void put(struct b *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof b->d);
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void u8(struct b *b, unsigned v)
{
    uint8_t x = (uint8_t)v;
    put(b, &x, 1);
}
static void u16(struct b *b, unsigned v)
{
    u8(b, v >> 8);
    u8(b, v);
}
static void u24(struct b *b, size_t v)
{
    u8(b, (unsigned)(v >> 16));
    u16(b, (unsigned)(v & 0xffff));
}

/* The pre_shared_key extension body with one identity (and one 32-byte binder). */
static void psk_ext(struct b *e, const char *id, size_t binder_len)
{
    size_t n = strlen(id);
    u16(e, 2 + n + 4);
    u16(e, n);
    put(e, id, n);
    u16(e, 0); /* obfuscated_ticket_age */
    u16(e, 0);
    u16(e, 1 + binder_len);
    u8(e, binder_len);
    for (size_t i = 0; i < binder_len; i++)
        u8(e, 0xbb);
}

/* A ClientHello body; psk_id NULL: no pre_shared_key; pad: a padding extension first. */
static void client_hello(struct b *m, const char *psk_id, size_t pad, bool no_ext)
{
    struct b e = {.n = 0};
    u16(m, 0x0303);
    for (int i = 0; i < 32; i++)
        u8(m, i);
    u8(m, 32);
    for (int i = 0; i < 32; i++)
        u8(m, 0xee);
    u16(m, 4);
    u16(m, 0x1301);
    u16(m, 0x00ae);
    u8(m, 1);
    u8(m, 0);
    if (no_ext)
        return;
    u16(&e, 43); /* supported_versions */
    u16(&e, 3);
    u8(&e, 2);
    u16(&e, 0x0304);
    if (pad > 0) {
        u16(&e, 21);
        u16(&e, pad);
        for (size_t i = 0; i < pad; i++)
            u8(&e, 0);
    }
    if (psk_id != NULL) {
        struct b p = {.n = 0};
        psk_ext(&p, psk_id, 32);
        u16(&e, 41);
        u16(&e, p.n);
        put(&e, p.d, p.n);
    }
    u16(m, e.n);
    put(m, e.d, e.n);
}

static void handshake(struct b *out, unsigned type, const struct b *body)
{
    u8(out, type);
    u24(out, body->n);
    put(out, body->d, body->n);
}

/* Wraps the handshake stream hs into records of at most frag bytes. */
static void records(struct b *out, const struct b *hs, size_t frag, unsigned type)
{
    for (size_t off = 0; off < hs->n; off += frag) {
        size_t n = hs->n - off < frag ? hs->n - off : frag;
        u8(out, type);
        u16(out, 0x0301);
        u16(out, n);
        put(out, hs->d + off, n);
    }
}

static void ccs(struct b *out)
{
    const uint8_t r[] = {20, 3, 3, 0, 1, 1};
    put(out, r, sizeof r);
}

static struct b *nb(void)
{
    struct b *b = calloc(1, sizeof *b);
    assert_non_null(b);
    return b;
}

static m2m_rc peek(const struct b *b, enum psk_peek_kx kx, struct psk_peek_result *r)
{
    return psk_peek(b->d, b->n, kx, r);
}

/* ---- tests ---- */

static void test_tls13_client_hello(void **state)
{
    struct b *hs = nb(), *m = nb(), *w = nb();
    struct psk_peek_result r;
    client_hello(m, "ke1@mef.example.com", 0, false);
    handshake(hs, 1, m);
    records(w, hs, 16384, 22);
    assert_int_equal(peek(w, PSK_PEEK_KX_UNKNOWN, &r), M2M_OK);
    assert_int_equal(r.id_len, 19);
    assert_memory_equal(r.id, "ke1@mef.example.com", 19);
    assert_true(r.tls13);
    /* every truncation wants more, never reads past the end (ASan) */
    for (size_t n = 0; n < w->n; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, w->d, n);
        assert_int_equal(psk_peek(cut, n, PSK_PEEK_KX_UNKNOWN, &r), M2M_ERR_AGAIN);
        free(cut);
    }
    /* every fragmentation into records of k bytes */
    for (size_t k = 1; k <= hs->n; k++) {
        w->n = 0;
        records(w, hs, k, 22);
        assert_int_equal(peek(w, PSK_PEEK_KX_UNKNOWN, &r), M2M_OK);
        assert_memory_equal(r.id, "ke1@mef.example.com", 19);
    }
    free(hs);
    free(m);
    free(w);
}

static void test_tls12_client_key_exchange(void **state)
{
    struct b *hs = nb(), *m = nb(), *cke = nb(), *w = nb();
    struct psk_peek_result r;
    client_hello(m, NULL, 0, false);
    handshake(hs, 1, m);
    size_t ch_len = hs->n;
    u16(cke, 7);
    put(cke, "KeID@a1", 7);
    u8(cke, 65); /* ECDHE_PSK: the client's point follows */
    for (int i = 0; i < 65; i++)
        u8(cke, 4);
    /* ClientHello alone: the identity is still to come */
    records(w, hs, 16384, 22);
    assert_int_equal(peek(w, PSK_PEEK_KX_UNKNOWN, &r), M2M_ERR_AGAIN);
    handshake(hs, 16, cke);
    struct b *cke_only = nb();
    memcpy(cke_only->d, hs->d + ch_len, hs->n - ch_len);
    cke_only->n = hs->n - ch_len;
    records(w, cke_only, 16384, 22);
    ccs(w);
    assert_int_equal(peek(w, PSK_PEEK_KX_PSK, &r), M2M_OK);
    assert_int_equal(r.id_len, 7);
    assert_memory_equal(r.id, "KeID@a1", 7);
    assert_false(r.tls13);
    assert_int_equal(peek(w, PSK_PEEK_KX_OTHER, &r), M2M_ERR_NOT_FOUND);
    assert_int_equal(peek(w, PSK_PEEK_KX_UNKNOWN, &r), M2M_ERR_MALFORMED);
    /* both messages in one record, and split across records at every byte */
    for (size_t k = 1; k <= hs->n; k++) {
        w->n = 0;
        records(w, hs, k, 22);
        assert_int_equal(peek(w, PSK_PEEK_KX_PSK, &r), M2M_OK);
        assert_memory_equal(r.id, "KeID@a1", 7);
    }
    /* an empty psk_identity is reported as such (plain PSK) */
    hs->n = ch_len;
    struct b *e = nb();
    u16(e, 0);
    handshake(hs, 16, e);
    w->n = 0;
    records(w, hs, 16384, 22);
    assert_int_equal(peek(w, PSK_PEEK_KX_PSK, &r), M2M_OK);
    assert_int_equal(r.id_len, 0);
    free(e);
    free(cke_only);
    free(hs);
    free(m);
    free(cke);
    free(w);
}

static void test_stop_conditions(void **state)
{
    struct b *hs = nb(), *m = nb(), *w = nb();
    struct psk_peek_result r;
    assert_int_equal(psk_peek(NULL, 0, PSK_PEEK_KX_PSK, &r), M2M_ERR_AGAIN);
    client_hello(m, NULL, 0, true); /* TLS 1.2 ClientHello without extensions */
    handshake(hs, 1, m);
    records(w, hs, 16384, 22);
    assert_int_equal(peek(w, PSK_PEEK_KX_PSK, &r), M2M_ERR_AGAIN);
    ccs(w); /* TLS 1.3 middlebox compatibility, or a certificate handshake's finish */
    assert_int_equal(peek(w, PSK_PEEK_KX_PSK, &r), M2M_ERR_NOT_FOUND);
    w->n = 0;
    records(w, hs, 16384, 22);
    const uint8_t appdata[] = {23, 3, 3, 0, 2, 9, 9}, alert[] = {21, 3, 3, 0, 2, 2, 40};
    put(w, appdata, sizeof appdata);
    assert_int_equal(peek(w, PSK_PEEK_KX_UNKNOWN, &r), M2M_ERR_NOT_FOUND);
    w->n = 0;
    records(w, hs, 16384, 22);
    put(w, alert, sizeof alert);
    assert_int_equal(peek(w, PSK_PEEK_KX_UNKNOWN, &r), M2M_ERR_NOT_FOUND);
    /* a certificate message between ClientHello and ClientKeyExchange is skipped */
    struct b *cert = nb(), *cke = nb();
    u24(cert, 0);
    handshake(hs, 11, cert);
    u16(cke, 3);
    put(cke, "abc", 3);
    handshake(hs, 16, cke);
    w->n = 0;
    records(w, hs, 100, 22);
    assert_int_equal(peek(w, PSK_PEEK_KX_PSK, &r), M2M_OK);
    assert_memory_equal(r.id, "abc", 3);
    free(cert);
    free(cke);
    free(hs);
    free(m);
    free(w);
}

/* One malformed variant: builds a valid TLS 1.3 flight, lets `mut` damage it, expects rc. */
static void expect(const uint8_t *d, size_t n, enum psk_peek_kx kx, m2m_rc want)
{
    struct psk_peek_result r;
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, d, n);
    assert_int_equal(psk_peek(copy, n, kx, &r), want);
    free(copy);
}

static void test_malformed_records(void **state)
{
    struct b *hs = nb(), *m = nb(), *w = nb();
    client_hello(m, "id", 0, false);
    handshake(hs, 1, m);
    records(w, hs, 16384, 22);
    expect(w->d, w->n, 0, M2M_OK);
    uint8_t save;
    save = w->d[1], w->d[1] = 2; /* record major version */
    expect(w->d, w->n, 0, M2M_ERR_MALFORMED);
    w->d[1] = save;
    save = w->d[0], w->d[0] = 24; /* heartbeat / unknown content type */
    expect(w->d, w->n, 0, M2M_ERR_MALFORMED);
    w->d[0] = 0x80; /* SSLv2 compatible hello */
    expect(w->d, w->n, 0, M2M_ERR_MALFORMED);
    w->d[0] = save;
    const uint8_t zero[] = {22, 3, 1, 0, 0}, big[] = {22, 3, 1, 0x40, 0x01};
    expect(zero, sizeof zero, 0, M2M_ERR_MALFORMED); /* zero-length handshake fragment */
    expect(big, sizeof big, 0, M2M_ERR_MALFORMED);   /* over 2^14 */
    const uint8_t ccs_first[] = {20, 3, 3, 0, 1, 1}, alert_first[] = {21, 3, 3, 0, 2, 2, 10};
    expect(ccs_first, sizeof ccs_first, 0, M2M_ERR_MALFORMED);
    expect(alert_first, sizeof alert_first, 0, M2M_ERR_MALFORMED);
    /* a ChangeCipherSpec inside a fragmented handshake message */
    w->n = 0;
    records(w, hs, 10, 22);
    struct b *x = nb();
    put(x, w->d, 15);
    ccs(x);
    put(x, w->d + 15, w->n - 15);
    expect(x->d, x->n, 0, M2M_ERR_MALFORMED);
    /* the first handshake message is not a ClientHello */
    w->n = 0;
    hs->d[0] = 16;
    records(w, hs, 16384, 22);
    expect(w->d, w->n, PSK_PEEK_KX_PSK, M2M_ERR_MALFORMED);
    hs->d[0] = 1;
    free(x);
    free(hs);
    free(m);
    free(w);
}

/* Rebuilds a one-record ClientHello after `edit` changed the message body at offset off. */
static void expect_ch_edit(size_t off, uint8_t val, m2m_rc want)
{
    struct b *hs = nb(), *m = nb(), *w = nb();
    client_hello(m, "id", 0, false);
    assert_true(off < m->n);
    m->d[off] = val;
    handshake(hs, 1, m);
    records(w, hs, 16384, 22);
    expect(w->d, w->n, 0, want);
    free(hs);
    free(m);
    free(w);
}

static void test_malformed_client_hello(void **state)
{
    /* body layout: version 0-1, random 2-33, sid len 34, sid 35-66, suites len 67-68, suites
     * 69-72, comp len 73, comp 74, ext len 75-76, supported_versions 77-83, psk ext 84.. */
    expect_ch_edit(34, 33, M2M_ERR_MALFORMED); /* session id over 32 */
    expect_ch_edit(34, 200, M2M_ERR_MALFORMED);
    expect_ch_edit(68, 3, M2M_ERR_MALFORMED);    /* odd cipher suites length */
    expect_ch_edit(68, 0, M2M_ERR_MALFORMED);    /* no cipher suite */
    expect_ch_edit(73, 0, M2M_ERR_MALFORMED);    /* no compression method */
    expect_ch_edit(73, 9, M2M_ERR_MALFORMED);    /* compression overruns */
    expect_ch_edit(76, 0xff, M2M_ERR_MALFORMED); /* extensions overrun the message */
    expect_ch_edit(76, 1, M2M_ERR_MALFORMED);    /* extensions shorter than the message */
    expect_ch_edit(80, 0xff, M2M_ERR_MALFORMED); /* one extension overruns the block */
    /* pre_shared_key: type 84-85, len 86-87, identities len 88-89, id len 90-91 */
    expect_ch_edit(85, 40, M2M_ERR_AGAIN);    /* not extension 41: wait for a ClientKeyExchange */
    expect_ch_edit(89, 6, M2M_ERR_MALFORMED); /* identities under 7 bytes */
    expect_ch_edit(89, 0xf0, M2M_ERR_MALFORMED); /* identities overrun */
    expect_ch_edit(91, 0, M2M_ERR_MALFORMED);    /* empty identity */
    expect_ch_edit(91, 3, M2M_ERR_MALFORMED);    /* identity eats the ticket age */
    expect_ch_edit(99, 32, M2M_ERR_MALFORMED);   /* binders under 33 bytes */
    expect_ch_edit(99, 34, M2M_ERR_MALFORMED);   /* binders overrun */
    /* a message length that overruns: waits for more; one too big for the peek: LIMIT */
    struct b *w = nb();
    const uint8_t hdr[] = {22, 3, 1, 0, 8, 1, 0, 0x10, 0, 3, 3, 0, 0};
    put(w, hdr, sizeof hdr);
    expect(w->d, w->n, 0, M2M_ERR_AGAIN);
    w->d[7] = 0x40; /* message length 0x004000: no room left for it */
    expect(w->d, w->n, 0, M2M_ERR_LIMIT);
    free(w);
}

static void test_limits(void **state)
{
    struct b *hs = nb(), *m = nb(), *w = nb(), *cke = nb();
    struct psk_peek_result r;
    char id[PSK_PEEK_ID_MAX + 2];
    memset(id, 'k', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    client_hello(m, id, 0, false); /* 257 bytes: longer than we report */
    handshake(hs, 1, m);
    records(w, hs, 16384, 22);
    assert_int_equal(peek(w, 0, &r), M2M_ERR_LIMIT);
    id[PSK_PEEK_ID_MAX] = '\0'; /* 256 bytes: reported */
    m->n = hs->n = w->n = 0;
    client_hello(m, id, 0, false);
    handshake(hs, 1, m);
    records(w, hs, 16384, 22);
    assert_int_equal(peek(w, 0, &r), M2M_OK);
    assert_int_equal(r.id_len, PSK_PEEK_ID_MAX);
    /* the ClientKeyExchange lies beyond the first 16 KiB */
    m->n = hs->n = w->n = 0;
    client_hello(m, NULL, 16350, false);
    handshake(hs, 1, m);
    u16(cke, 1);
    u8(cke, 'z');
    handshake(hs, 16, cke);
    records(w, hs, 16384, 22);
    assert_true(w->n > PSK_PEEK_MAX);
    assert_int_equal(peek(w, PSK_PEEK_KX_PSK, &r), M2M_ERR_LIMIT);
    /* and just inside */
    m->n = hs->n = w->n = 0;
    client_hello(m, NULL, 16000, false);
    handshake(hs, 1, m);
    handshake(hs, 16, cke);
    records(w, hs, 16384, 22);
    assert_true(w->n <= PSK_PEEK_MAX);
    assert_int_equal(peek(w, PSK_PEEK_KX_PSK, &r), M2M_OK);
    assert_int_equal(r.id[0], 'z');
    free(hs);
    free(m);
    free(w);
    free(cke);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls13_client_hello),
        cmocka_unit_test(test_tls12_client_key_exchange),
        cmocka_unit_test(test_stop_conditions),
        cmocka_unit_test(test_malformed_records),
        cmocka_unit_test(test_malformed_client_hello),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
