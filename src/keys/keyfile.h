/* keyfile.h: pre-shared keys written as hex text, from a command-line argument or a key file:
 * one bounded parser and one bounded file reader shared by `m2msec cred add-psk --key-hex` and
 * `m2msec client --psk-hex/--psk-file`. */
#ifndef M2M_KEYS_KEYFILE_H
#define M2M_KEYS_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"

#define KEYFILE_KEY_MAX 64   /* bytes of key any rule accepts (TLS_PSK_KEY_MAX, CRED_PSK_MAX) */
#define KEYFILE_FILE_MAX 254 /* bytes a key file may hold; a longer file is refused unread */

/* What a caller accepts: min..max key bytes (1 <= min <= max <= KEYFILE_KEY_MAX) and whether
 * white space around the hex digits (' ', \t, \n, \v, \f, \r: C-locale isspace) is ignored.
 * White space between digits is never accepted. */
struct keyfile_rule {
    size_t min, max;
    bool trim;
};

/* `m2msec cred add-psk --key-hex`: 16..64 bytes (CRED_PSK_MIN..CRED_PSK_MAX), no white space. */
extern const struct keyfile_rule KEYFILE_RULE_CRED;
/* `m2msec client --psk-hex / --psk-file`: 1..64 bytes, surrounding white space ignored (a file
 * ending in a newline). */
extern const struct keyfile_rule KEYFILE_RULE_CLIENT;

/* Parses in[0..len) (any bytes; not NUL-terminated) as an even number of hex digits of either
 * case, optionally surrounded by white space (rule->trim), into key[0..*keylen). cap is the
 * size of key and must be >= rule->max. Returns M2M_OK; M2M_ERR_MALFORMED for an empty text, an
 * odd number of digits, a non-hex byte (NUL included) or a key outside rule->min..rule->max;
 * M2M_ERR_INTERNAL for a rule out of range or cap < rule->max. On failure key[0..cap) is wiped
 * and *keylen is 0. Reads no byte outside in[0..len). */
M2M_WARN_UNUSED m2m_rc keyfile_parse(const uint8_t *in, size_t len, const struct keyfile_rule *rule,
                                     uint8_t *key, size_t cap, size_t *keylen);

/* Reads the key file path (at most KEYFILE_FILE_MAX bytes) and parses it with keyfile_parse.
 * M2M_ERR_IO when it cannot be opened or read, M2M_ERR_LIMIT when it holds more than
 * KEYFILE_FILE_MAX bytes, else keyfile_parse's codes. The file's bytes are wiped from memory
 * before returning; on failure key[0..cap) is wiped too. */
M2M_WARN_UNUSED m2m_rc keyfile_read(const char *path, const struct keyfile_rule *rule, uint8_t *key,
                                    size_t cap, size_t *keylen);

#endif
