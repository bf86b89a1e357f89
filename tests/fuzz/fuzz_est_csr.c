/* fuzz_est_csr.c: fuzzes the PKCS#10 checks of the EST registration authority
 * (est_csr_check_der) and checks what they accept: one SAN URI of an oneM2M form, no wildcard,
 * and a challengePassword, each NUL-terminated within its buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mef/est.h"
#include "tls/pki.h"

static void check(const uint8_t *data, size_t size, size_t cap, size_t chcap)
{
    char san[EST_ID_MAX + 8], ch[160];
    memset(san, 'X', sizeof san);
    memset(ch, 'X', sizeof ch);
    m2m_rc rc = est_csr_check_der(data, size, san, cap, ch, chcap);
    if (rc != M2M_OK) {
        if (rc != M2M_ERR_MALFORMED && rc != M2M_ERR_DENIED && rc != M2M_ERR_NOMEM)
            abort();
        return;
    }
    size_t sl = strnlen(san, cap), cl = strnlen(ch, chcap);
    if (sl == 0 || sl >= cap || cl >= chcap || strchr(san, '*') != NULL)
        abort();
    if (pki_flavour_check(PKI_FLAVOUR_CSE, san) != M2M_OK &&
        pki_flavour_check(PKI_FLAVOUR_AE, san) != M2M_OK &&
        pki_flavour_check(PKI_FLAVOUR_NODE, san) != M2M_OK)
        abort();
    /* The same request is accepted again, with the same answers. */
    char san2[EST_ID_MAX], ch2[160];
    if (est_csr_check_der(data, size, san2, sizeof san2, ch2, sizeof ch2) != M2M_OK ||
        strcmp(san, san2) != 0 || strcmp(ch, ch2) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size, EST_ID_MAX, 160);
    if (size > 0)
        check(data, size, 1 + data[0] % 64, 1 + data[size - 1] % 64); /* small buffers */
    return 0;
}
