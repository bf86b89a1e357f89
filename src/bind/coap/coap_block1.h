/* coap_block1.h: bounded reassembly of Block1 request bodies (RFC 7959 2.5) for the CoAP server.
 * libcoap 4.3.1 can reassemble a body itself (COAP_BLOCK_SINGLE_BODY), but it checks no limit
 * while blocks arrive: a Size1 or a block number far ahead makes it allocate up to 4 GiB, and the
 * application sees nothing until the last block. So libcoap hands every block to the server
 * and this module collects them: each block is checked against the body limit as it arrives,
 * and a declared Size1 over the limit is refused at the first block (4.13 with Size1 = the
 * limit, RFC 7959 2.9.3). Pure: no libcoap, no clock, no I/O; the caller passes the time. */
#ifndef M2M_BIND_COAP_BLOCK1_H
#define M2M_BIND_COAP_BLOCK1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"

#define CB1_PER_PEER 2    /* bodies in progress at once per session (Request-Tag, RFC 9175) */
#define CB1_KEY_MAX 1024  /* bytes of request identity (options other than Block1/Size1) */
#define CB1_IDLE_MS 60000 /* a body whose next block does not come within this is dropped */

/* Bytes held by every body in progress of one server, bounded as a whole so that many peers
 * (UDP source addresses are cheap) cannot hold max_body each. */
struct cb1_budget {
    size_t used, cap;
};

struct cb1_upload;
/* The bodies in progress of one peer (session). Zero-initialise; clear with cb1_peer_clear. */
struct cb1_peer {
    struct cb1_upload *u[CB1_PER_PEER];
};

/* One received block. key identifies the request it belongs to (RFC 7959 2.4: the same
 * endpoint, method, URI and options apart from Block1 and Size1); data is this block's
 * payload. */
struct cb1_block {
    const uint8_t *key;
    size_t key_len;
    uint32_t num;
    bool more;
    unsigned szx; /* 0..6 (BERT, 7, is TCP only) */
    const uint8_t *data;
    size_t len;
    bool has_size1;
    uint64_t size1; /* the client's estimate of the whole body */
};

enum cb1_result {
    CB1_MORE,       /* stored: answer 2.31 Continue (also for a retransmitted block) */
    CB1_DONE,       /* last block: *body (malloc, caller frees) holds the whole body */
    CB1_TOO_LARGE,  /* over max_body (or Size1 says it will be): 4.13, nothing kept */
    CB1_INCOMPLETE, /* a block out of sequence or without its start: 4.08, nothing kept */
    CB1_BAD,        /* malformed block (size, number, key): 4.00, nothing kept */
    CB1_BUSY,       /* the server-wide budget is spent: 5.03, nothing kept */
    CB1_NOMEM,      /* allocation failed: 5.00, nothing kept */
};

/* Takes one block for peer p. Blocks must come in order from number 0; a block that repeats
 * the last stored one (a retransmission) is acknowledged again without being stored twice; a
 * block 0 restarts its request. Bodies idle for CB1_IDLE_MS (now_ms, monotonic) are dropped
 * first. On CB1_DONE ownership of *body (len *body_len) moves to the caller; on anything else
 * *body is NULL. After any result other than CB1_MORE nothing of this request is kept. */
enum cb1_result cb1_feed(struct cb1_peer *p, struct cb1_budget *bg, size_t max_body,
                         const struct cb1_block *b, int64_t now_ms, uint8_t **body,
                         size_t *body_len);
/* Drops every body in progress of p and returns its bytes to the budget. NULL p is a no-op. */
void cb1_peer_clear(struct cb1_peer *p, struct cb1_budget *bg);
/* Number of bodies in progress of p (for tests). */
int cb1_peer_count(const struct cb1_peer *p);

#endif
