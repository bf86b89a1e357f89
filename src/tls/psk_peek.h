/* psk_peek.h: finds the psk_identity in a TLS client's plaintext flight (the bytes as received
 * on the socket) before GnuTLS processes it, so that a remotely provisioned key (TS-0003 8.3.2.1,
 * SPEC-MAP G5) can be fetched without blocking a handshake callback. A pure, bounded parser. */
#ifndef M2M_TLS_PSK_PEEK_H
#define M2M_TLS_PSK_PEEK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"

/* Bytes of the client's stream (record headers included) the parser looks at; an identity not
 * found within them is not looked for (M2M_ERR_LIMIT). */
#define PSK_PEEK_MAX 16384
/* Longest identity reported (RFC 4279 section 5.3 requires 128; ours are "KeID@fqdn"). */
#define PSK_PEEK_ID_MAX 256

/* The key exchange the server chose, as far as the caller knows (it wrote the ServerHello). A
 * TLS 1.2 ClientKeyExchange carries a psk_identity only for the PSK family. */
enum psk_peek_kx {
    PSK_PEEK_KX_UNKNOWN = 0, /* no ServerHello sent yet */
    PSK_PEEK_KX_PSK,         /* PSK, DHE_PSK, ECDHE_PSK or RSA_PSK (RFC 4279, RFC 5489) */
    PSK_PEEK_KX_OTHER,       /* a certificate key exchange */
};

struct psk_peek_result {
    uint8_t id[PSK_PEEK_ID_MAX];
    size_t id_len;
    bool tls13; /* found in a ClientHello pre_shared_key extension, else in a ClientKeyExchange */
};

/* Parses in[0..len), the client's bytes from the first one on, as TLS records: handshake records
 * are reassembled (a message may span records, a record may hold several messages) and each
 * client handshake message is examined:
 *  - ClientHello: the first identity of the pre_shared_key extension (41, RFC 8446 4.2.11);
 *  - ClientKeyExchange with kx == PSK_PEEK_KX_PSK: the leading psk_identity<0..2^16-1>
 *    (RFC 4279 sections 2-4, RFC 5489 section 2).
 * Returns M2M_OK with *out filled (the identity may be empty in a ClientKeyExchange);
 * M2M_ERR_AGAIN when more bytes are needed; M2M_ERR_NOT_FOUND when this flight will carry no
 * identity (a ChangeCipherSpec, alert or application-data record came first, or a certificate
 * ClientKeyExchange); M2M_ERR_MALFORMED for a layout that breaks the record or handshake rules
 * (an interleaved record inside a fragmented message, zero-length or oversized records, lengths
 * that overrun their container, a ClientKeyExchange before any key exchange was chosen);
 * M2M_ERR_LIMIT when the answer lies beyond PSK_PEEK_MAX bytes or the identity is longer than
 * PSK_PEEK_ID_MAX. Never reads past in[len-1]. */
M2M_WARN_UNUSED m2m_rc psk_peek(const uint8_t *in, size_t len, enum psk_peek_kx kx,
                                struct psk_peek_result *out);

#endif
