/* net_internal.h: layouts shared by server.c (threads, listeners, completion queue) and conn.c
 * (one connection: buffers, HTTP framing, the exchange FIFO, timeouts). Not a public contract. */
#ifndef M2M_NET_INTERNAL_H
#define M2M_NET_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "net/server.h"
#include "tls/tls.h"

#define SRV_BACKPRESSURE_BYTES (1u << 20) /* stop reading while this much output waits */
#define SRV_TICK_MS 250                   /* timer scan period */
#define SRV_LINGER_MS 2000                /* drain input after an error response, then close */
#define SRV_READ_CHUNK 16384
#define PEERQ_KEY_MAX 40 /* "6:" + 16 hex digits of a /64, or "4:" + 8 hex digits */
/* How far the open connections may exceed max_connections while another loop has yet to close
 * the idle connection claimed for a newcomer (or found it had become active meanwhile). */
/* Input every connection may buffer whatever the budget (max_buffered_bytes). */
#define SRV_INPUT_FREE (64 * 1024)
#define SRV_EVICT_SLACK 32

/* One request/response pair. Referenced by the connection FIFO (until its bytes are queued for
 * writing or the connection closes) and by the handler (until srv_respond is processed by the
 * owning loop). Both references are dropped on the loop thread only, so `refs` needs no atomics.
 * `wire` and `failed` are written by the responding thread before the exchange is posted under
 * the loop mutex, and read by the loop only after it took it back from the queue. */
struct srv_exchange {
    struct srv_loop *loop;
    struct srv_conn *conn; /* NULL once the connection is gone; loop thread only */
    int refs;
    bool done;       /* the response is in `wire`; loop thread only */
    bool keep_alive; /* of the request (HTTP rules) */
    bool failed;     /* serialization failed: close the connection instead */
    bool counted;    /* handed to the handler: counted in srv->outstanding */
    bool sensitive;  /* `wire` holds key material: wiped before it is freed or reused */
    struct m2m_request req;
    struct m2m_buf wire;
    struct srv_raw_hold *raw;   /* a raw-route request (raw.c), NULL for primitives */
    struct srv_exchange *next;  /* connection FIFO */
    struct srv_exchange *qnext; /* completion queue */
};

enum srv_conn_state { CONN_HANDSHAKE, CONN_OPEN, CONN_LINGER, CONN_CLOSED };

struct srv_conn {
    struct srv_loop *loop;
    int fd;
    int listener;
    enum srv_conn_state state;
    struct tls_session *tls;
    struct m2m_secctx sec; /* template copied into every request */
    struct m2m_buf in, out;
    size_t out_off;     /* bytes of `out` already written */
    bool out_sensitive; /* `out` has held key material since it was last wiped */
    size_t in_cap;      /* bound of `in`: one maximal request */
    size_t in_counted;  /* capacity of `in` added to srv.buffered */
    struct srv_exchange *xq_head, *xq_tail;
    int n_pending;        /* exchanges in the FIFO */
    bool read_eof;        /* the peer finished sending */
    bool stop_parsing;    /* a request said Connection: close, or framing failed */
    bool close_after_out; /* close once `out` is flushed and the FIFO is empty */
    bool want_write;      /* the last write (or TLS step) hit EAGAIN */
    bool idle;        /* no request byte received yet (handshake and parked included): an eviction
                         candidate, counted in loop->idle_credit; once false, protected for good */
    uint64_t seq;     /* accept order within the loop (oldest = smallest) */
    uint32_t ev_mask; /* events registered with epoll */
    int64_t t_open_ms, t_activity_ms, t_req_start_ms, t_linger_ms;
    struct srv_conn *prev, *next; /* loop's connection list */
    struct srv_conn *dirty_next;
    bool in_dirty;
    struct srv_park *park; /* while a psk_prefetch of its handshake is outstanding (park.c) */
    char peer_key[PEERQ_KEY_MAX]; /* per-peer quota slot held ("" = none) */
};

struct srv_loop {
    struct srv *srv;
    int idx;
    pthread_t th;
    bool started;
    int epfd, evfd;
    int lfd[SRV_MAX_LISTENERS];
    pthread_mutex_t mu; /* guards q_head/q_tail */
    struct srv_exchange *q_head, *q_tail;
    struct srv_conn *conns;  /* open connections */
    uint64_t conn_seq;       /* last srv_conn.seq given */
    struct srv_conn *zombie; /* closed, freed at the end of the iteration */
    struct srv_conn *dirty;  /* need servicing after completions */
    int64_t last_tick_ms;
    bool listeners_closed;
    bool lpaused[SRV_MAX_LISTENERS]; /* out of descriptors: resumed on the next tick */
    uint64_t cred_gen;        /* credential generation last checked against the open connections */
    struct srv_conn *hs_conn; /* the connection whose tls_handshake is running (park.c) */
    int n_parked;             /* connections with a park token */
    atomic_uint_fast64_t n_accepted; /* connections this loop admitted (tests) */
    /* Eviction at max_connections across loops: idle_credit is this loop's idle connections
     * less the claims on them that other loops posted in evict_req and this loop has not served
     * yet (it may go below zero while a claimed connection turns active). Any thread reads and
     * claims (loop_claim_idle); the owning loop changes them otherwise. */
    atomic_int idle_credit;
    atomic_int evict_req;
};

struct srv {
    struct srv_cfg cfg;
    srv_handler_fn fn;
    void *ctx;
    struct tls_ctx *tls;
    int nloops;
    struct srv_loop *loops;
    int ports[SRV_MAX_LISTENERS];
    atomic_bool stopping;
    atomic_int open;
    atomic_long outstanding; /* exchanges handed to the handler and not yet processed back */
    atomic_uint_fast64_t accepted, rejected_limit, requests, responses, tls_handshake_failures,
        parse_errors, timeouts, revoked_closed, buffer_refusals;
    atomic_size_t buffered;     /* sum of the `in` capacities counted by conn_in_account */
    atomic_llong buf_warn_ms;   /* last buffer-budget warning (rate limit) */
    struct srv_hub *hub;        /* where psk_prefetch wakes go; outlives srv (park.c) */
    struct peerq *peerq;        /* per-peer connection counts, NULL = unlimited */
    atomic_llong quota_warn_ms; /* last per-peer quota warning (rate limit) */
    atomic_ulong quota_quiet;   /* refusals not logged since */
};

/* conn.c */
void conn_accept(struct srv_loop *l, int lfd, int listener);
void conn_on_event(struct srv_conn *c, uint32_t events);
void conn_service(struct srv_conn *c);
void conn_close(struct srv_conn *c);
void conn_tick(struct srv_conn *c, int64_t now_ms);
void conn_free(struct srv_conn *c);
/* Closes l's oldest idle connection; false when it has none. `claimed`: for an eviction claim,
 * which already took the connection off l->idle_credit. Loop thread of l. */
bool conn_evict_idle(struct srv_loop *l, bool claimed);
bool conn_cred_revoked(const struct srv_conn *c);
void exchange_unref(struct srv_exchange *x);

/* server.c */
void loop_mark_dirty(struct srv_loop *l, struct srv_conn *c);
void loop_pause_listener(struct srv_loop *l, int li);
struct srv_loop *loop_current(void);
/* Posts an answered exchange (x->wire filled) to its loop; any thread. */
void exchange_post(struct srv_exchange *x);
/* Claims an idle connection of the loop (not `except`) with the most of them and wakes that loop
 * to close it. False when no other loop has an unclaimed idle connection. Any loop thread. */
bool loop_claim_idle(struct srv *s, int except);

/* park.c: psk_prefetch parking. The hub is created with the server and marked dead by srv_stop;
 * tokens keep it alive, so a wake after the server is gone only frees. */
M2M_WARN_UNUSED m2m_rc park_hub_new(struct srv *s, struct srv_hub **out);
void park_hub_kill(struct srv_hub *h); /* drops the server's reference; NULL is a no-op */
void *park_cookie(void *srv);          /* tls_ctx_cfg.park_cookie */
void park_notify(void *token);         /* tls_ctx_cfg.park_notify */
bool conn_parked(const struct srv_conn *c);
void conn_park_drop(struct srv_conn *c); /* on close */
void loop_resume_parked(struct srv_loop *l);

/* raw.c: raw routes. */
struct http_msg;
/* True when m goes to the raw route; the exchange then owns a copy of the request. */
bool raw_route(struct srv_conn *c, struct srv_exchange *x, const struct http_msg *m);
void raw_hold_free(struct srv_raw_hold *h);
const struct srv_raw_request *raw_request(const struct srv_raw_hold *h);

/* peerq.c: connections per peer address (IPv4 address, IPv6 /64). */
M2M_WARN_UNUSED m2m_rc peerq_new(int limit, struct peerq **out);
void peerq_free(struct peerq *q);
/* Takes a slot for the peer; false when it already has `limit` (or on allocation failure).
 * key receives the slot's name for peerq_release. */
bool peerq_acquire(struct peerq *q, const struct sockaddr_storage *ss, char key[PEERQ_KEY_MAX]);
void peerq_release(struct peerq *q, const char *key);

/* Test-only accessors (tests/unit/srv_evict_test.c): the number of loops and, for loop i, how many
 * connections it admitted so far (a test that connects one client at a time learns from the
 * counter that moved which loop holds the connection) and its idle credit. */
int srv_test_nloops(const struct srv *s);
uint64_t srv_test_loop_accepted(const struct srv *s, int i);
int srv_test_loop_idle_credit(const struct srv *s, int i);

#endif
