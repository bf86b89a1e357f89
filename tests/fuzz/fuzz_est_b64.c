/* fuzz_est_b64.c: fuzzes the input decoding of the EST registration authority: the base64 body
 * decoder (round trip: what it accepts re-encodes to the input without CR/LF/space), the DER
 * it yields as a PKCS#10 request, and the /csrattrs encoder on the input as an identity. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mef/est.h"

/* est_b64_decode accepts exactly the canonical encodings, with CR/LF/space anywhere. */
static void check_b64(const uint8_t *data, size_t size)
{
    size_t cap = size / 4 * 3 + 3, n = 0;
    uint8_t *out = malloc(cap ? cap : 1);
    if (out == NULL)
        return;
    if (est_b64_decode(data, size, out, cap, &n) == M2M_OK) {
        struct m2m_buf enc = M2M_BUF_INIT;
        size_t j = 0;
        if (n > cap || est_b64_encode(out, n, &enc) != M2M_OK)
            abort();
        for (size_t i = 0; i < size; i++) {
            if (data[i] == '\r' || data[i] == '\n' || data[i] == ' ')
                continue;
            if (j >= enc.len || enc.data[j++] != data[i])
                abort();
        }
        if (j != enc.len)
            abort();
        m2m_buf_free(&enc);
        /* A smaller output buffer is a limit, never an overflow. */
        if (n > 0 && est_b64_decode(data, size, out, n - 1, &n) != M2M_ERR_LIMIT)
            abort();
        char san[EST_ID_MAX], ch[128];
        if (est_csr_check_der(out, n, san, sizeof san, ch, sizeof ch) == M2M_OK &&
            strchr(san, '*') != NULL)
            abort();
    }
    free(out);
}

/* /csrattrs for the input as an identity: either refused or a DER SEQUENCE of exact length. */
static void check_csrattrs(const uint8_t *data, size_t size)
{
    char id[EST_ID_MAX + 8];
    uint8_t der[EST_ID_MAX + 96];
    size_t n = 0;
    if (size >= sizeof id)
        return;
    memcpy(id, data, size);
    id[size] = '\0';
    if (est_csrattrs_der(id, der, sizeof der, &n) != M2M_OK)
        return;
    if (n < 4 || der[0] != 0x30 || strchr(id, '*') != NULL ||
        memmem(der, n, id, strlen(id)) == NULL)
        abort();
    size_t len = der[1] < 0x80 ? der[1] : der[1] == 0x81 ? der[2] : (size_t)der[2] << 8 | der[3];
    size_t hdr = der[1] < 0x80 ? 2 : der[1] == 0x81 ? 3 : 4;
    if (hdr + len != n)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_b64(data, size);
    check_csrattrs(data, size);
    return 0;
}
