/* coap_block1_test.c: Block1 reassembly under a body limit: in-order bodies, refusal at the
 * first block when Size1 or the block's end passes the limit, out-of-sequence and start-less
 * blocks, retransmissions, malformed blocks, the per-peer slots, the server-wide budget and the
 * idle timeout; nothing is kept after a refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bind/coap/coap_block1.h"

static uint8_t g_data[1024];

static enum cb1_result feed(struct cb1_peer *p, struct cb1_budget *bg, size_t max, const char *key,
                            uint32_t num, bool more, unsigned szx, size_t len, int64_t now,
                            uint8_t **body, size_t *blen)
{
    struct cb1_block b = {(const uint8_t *)key, strlen(key), num, more, szx, g_data, len, false, 0};
    return cb1_feed(p, bg, max, &b, now, body, blen);
}

static int setup(void **state)
{
    for (size_t i = 0; i < sizeof g_data; i++)
        g_data[i] = (uint8_t)i;
    return 0;
}

static void test_in_order_body(void **state)
{
    struct cb1_peer p = {0};
    struct cb1_budget bg = {0, 1 << 20};
    uint8_t *body;
    size_t n;
    assert_int_equal(feed(&p, &bg, 4096, "k", 0, true, 2, 64, 0, &body, &n), CB1_MORE);
    assert_null(body);
    assert_int_equal(feed(&p, &bg, 4096, "k", 1, true, 2, 64, 1, &body, &n), CB1_MORE);
    assert_true(bg.used >= 128);
    assert_int_equal(feed(&p, &bg, 4096, "k", 2, false, 2, 10, 2, &body, &n), CB1_DONE);
    assert_int_equal(n, 138);
    assert_memory_equal(body, g_data, 64);
    assert_memory_equal(body + 128, g_data, 10);
    free(body);
    assert_int_equal(bg.used, 0);
    assert_int_equal(cb1_peer_count(&p), 0);
    /* a one-block body */
    assert_int_equal(feed(&p, &bg, 4096, "k", 0, false, 6, 5, 3, &body, &n), CB1_DONE);
    assert_int_equal(n, 5);
    free(body);
}

static void test_size1_over_limit_refused_at_once(void **state)
{
    struct cb1_peer p = {0};
    struct cb1_budget bg = {0, 1 << 20};
    uint8_t *body;
    size_t n;
    struct cb1_block b = {(const uint8_t *)"k", 1, 0, true, 6, g_data, 1024, true, 4097};
    assert_int_equal(cb1_feed(&p, &bg, 4096, &b, 0, &body, &n), CB1_TOO_LARGE);
    assert_int_equal(cb1_peer_count(&p), 0);
    assert_int_equal(bg.used, 0);
    b.size1 = 4096; /* exactly the limit is fine */
    assert_int_equal(cb1_feed(&p, &bg, 4096, &b, 0, &body, &n), CB1_MORE);
    cb1_peer_clear(&p, &bg);
    assert_int_equal(bg.used, 0);
}

static void test_growth_past_limit_refused_at_that_block(void **state)
{
    struct cb1_peer p = {0};
    struct cb1_budget bg = {0, 1 << 20};
    uint8_t *body;
    size_t n;
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(feed(&p, &bg, 4096, "k", i, true, 6, 1024, i, &body, &n), CB1_MORE);
    /* block 4 would end at 5120 > 4096: refused, everything dropped */
    assert_int_equal(feed(&p, &bg, 4096, "k", 4, true, 6, 1024, 5, &body, &n), CB1_TOO_LARGE);
    assert_int_equal(cb1_peer_count(&p), 0);
    assert_int_equal(bg.used, 0);
    /* the next block of that body has no start any more */
    assert_int_equal(feed(&p, &bg, 4096, "k", 3, false, 6, 10, 6, &body, &n), CB1_INCOMPLETE);
    /* a block far ahead is refused by its offset alone, before any allocation */
    assert_int_equal(feed(&p, &bg, 4096, "k", 1000000, true, 6, 1024, 7, &body, &n), CB1_TOO_LARGE);
    assert_int_equal(bg.used, 0);
}

static void test_sequence_errors(void **state)
{
    struct cb1_peer p = {0};
    struct cb1_budget bg = {0, 1 << 20};
    uint8_t *body;
    size_t n;
    /* no block 0 */
    assert_int_equal(feed(&p, &bg, 4096, "k", 1, true, 2, 64, 0, &body, &n), CB1_INCOMPLETE);
    assert_int_equal(feed(&p, &bg, 4096, "k", 0, true, 2, 64, 0, &body, &n), CB1_MORE);
    /* retransmission of block 0 restarts, of the last block is acknowledged */
    assert_int_equal(feed(&p, &bg, 4096, "k", 0, true, 2, 64, 0, &body, &n), CB1_MORE);
    assert_int_equal(feed(&p, &bg, 4096, "k", 1, true, 2, 64, 0, &body, &n), CB1_MORE);
    assert_int_equal(feed(&p, &bg, 4096, "k", 1, true, 2, 64, 0, &body, &n), CB1_MORE);
    /* a gap drops the body */
    assert_int_equal(feed(&p, &bg, 4096, "k", 3, true, 2, 64, 0, &body, &n), CB1_INCOMPLETE);
    assert_int_equal(cb1_peer_count(&p), 0);
    assert_int_equal(bg.used, 0);
}

static void test_malformed_blocks(void **state)
{
    struct cb1_peer p = {0};
    struct cb1_budget bg = {0, 1 << 20};
    uint8_t *body;
    size_t n;
    assert_int_equal(feed(&p, &bg, 4096, "k", 0, true, 7, 64, 0, &body, &n), CB1_BAD);  /* BERT */
    assert_int_equal(feed(&p, &bg, 4096, "k", 0, true, 2, 63, 0, &body, &n), CB1_BAD);  /* short */
    assert_int_equal(feed(&p, &bg, 4096, "k", 0, false, 2, 65, 0, &body, &n), CB1_BAD); /* long */
    assert_int_equal(feed(&p, &bg, 1u << 30, "k", 1u << 20, true, 0, 16, 0, &body, &n), CB1_BAD);
    char key[CB1_KEY_MAX + 2];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = 0;
    assert_int_equal(feed(&p, &bg, 4096, key, 0, true, 2, 64, 0, &body, &n), CB1_BAD);
    /* a malformed block drops the body it names */
    assert_int_equal(feed(&p, &bg, 4096, "k", 0, true, 2, 64, 0, &body, &n), CB1_MORE);
    assert_int_equal(feed(&p, &bg, 4096, "k", 1, true, 2, 10, 0, &body, &n), CB1_BAD);
    assert_int_equal(cb1_peer_count(&p), 0);
    assert_int_equal(bg.used, 0);
}

static void test_slots_budget_and_idle(void **state)
{
    struct cb1_peer p = {0}, q = {0};
    struct cb1_budget bg = {0, 8192};
    uint8_t *body;
    size_t n;
    assert_int_equal(feed(&p, &bg, 65536, "a", 0, true, 6, 1024, 0, &body, &n), CB1_MORE);
    assert_int_equal(feed(&p, &bg, 65536, "b", 0, true, 6, 1024, 1, &body, &n), CB1_MORE);
    /* a third request of the same peer takes the least recently used slot ("a") */
    assert_int_equal(feed(&p, &bg, 65536, "c", 0, true, 6, 1024, 2, &body, &n), CB1_MORE);
    assert_int_equal(cb1_peer_count(&p), 2);
    assert_int_equal(feed(&p, &bg, 65536, "a", 1, true, 6, 1024, 3, &body, &n), CB1_INCOMPLETE);
    /* the budget is server-wide: the second peer gets 5.03 when it is spent */
    assert_int_equal(bg.used, 8192);
    assert_int_equal(feed(&q, &bg, 65536, "d", 0, true, 6, 1024, 4, &body, &n), CB1_BUSY);
    assert_int_equal(cb1_peer_count(&q), 0);
    /* idle bodies are dropped on the next block of that peer */
    assert_int_equal(feed(&p, &bg, 65536, "e", 0, true, 6, 1024, 4 + CB1_IDLE_MS + 1, &body, &n),
                     CB1_MORE);
    assert_int_equal(cb1_peer_count(&p), 1);
    assert_int_equal(bg.used, 4096);
    cb1_peer_clear(&p, &bg);
    cb1_peer_clear(NULL, &bg);
    assert_int_equal(bg.used, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_body),
        cmocka_unit_test(test_size1_over_limit_refused_at_once),
        cmocka_unit_test(test_growth_past_limit_refused_at_that_block),
        cmocka_unit_test(test_sequence_errors),
        cmocka_unit_test(test_malformed_blocks),
        cmocka_unit_test(test_slots_budget_and_idle),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
