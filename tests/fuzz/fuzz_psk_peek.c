/* fuzz_psk_peek.c: fuzzes the psk_identity peek over a client flight. The first byte picks the
 * key exchange the server is assumed to have chosen. Checks the bounds of the result and that
 * a definite answer on a prefix is the answer on the whole input (the peek never revises). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls/psk_peek.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct psk_peek_result all, half;
    if (size < 1)
        return 0;
    enum psk_peek_kx kx = (enum psk_peek_kx)(data[0] % 3);
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    m2m_rc rc = psk_peek(in, len, kx, &all);
    if (rc == M2M_OK && all.id_len > PSK_PEEK_ID_MAX)
        abort();
    m2m_rc rh = psk_peek(in, len / 2, kx, &half);
    if (rh != M2M_ERR_AGAIN && rh != M2M_ERR_LIMIT) {
        if (rh != rc)
            abort();
        if (rc == M2M_OK && (half.id_len != all.id_len || half.tls13 != all.tls13 ||
                             memcmp(half.id, all.id, all.id_len) != 0))
            abort();
    }
    return 0;
}
