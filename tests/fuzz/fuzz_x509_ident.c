/* fuzz_x509_ident.c: x509_ident_from_der and the SubjectPublicKeyInfo walk on arbitrary bytes;
 * whatever they accept must satisfy the contract of tls/x509_ident.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls/x509_ident.h"

/* The identity rules of x509_ident.h: 1.. bytes of printable ASCII, no space, no '*'. */
static void check_name(const char *s)
{
    size_t n = strnlen(s, M2M_ID_MAX);
    if (n == 0 || n >= M2M_ID_MAX - 1)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '*')
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *spki = NULL;
    size_t spki_len = 0;
    struct x509_ident id;
    m2m_rc walk = x509_ident_spki(data, size, &spki, &spki_len);
    if (walk == M2M_OK && (spki < data || spki_len < 2 || spki_len > size ||
                           (size_t)(spki - data) > size - spki_len || spki[0] != 0x30))
        abort();
    m2m_rc rc = x509_ident_from_der(data, size, &id);
    if (rc != M2M_OK) {
        if (id.identity[0] || id.cred_id[0] || id.spki_ni[0] || id.source)
            abort(); /* zeroed on failure */
        return 0;
    }
    if (walk != M2M_OK || id.source < X509_IDENT_SAN_URI || id.source > X509_IDENT_CN)
        abort();
    check_name(id.identity);
    if (id.source == X509_IDENT_CN && id.identity[0] == '#')
        abort();
    if (strncmp(id.cred_id, "cert:", 5) != 0 || strlen(id.cred_id) != 5 + 64 ||
        strncmp(id.spki_ni, "ni:///sha-256;", 14) != 0 || strlen(id.spki_ni) != 14 + 43)
        abort();
    return 0;
}
