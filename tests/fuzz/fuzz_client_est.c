/* fuzz_client_est.c: the EST answers the device client library parses (src/client/client_est.c):
 * a DER PKCS#7 certs-only (/cacerts, /simpleenroll) through cl_est_pkcs7_certs, on the input as
 * DER and on the input as the base64 body an EST server sends (cl_b64_decode first, as
 * est_call does). Checks: an accepted answer yields PEM certificates (and the DER of the first
 * one when asked), a refused one leaves nothing allocated; both calls agree. Also the
 * multipart/mixed answer of /serverkeygen (RFC 7030 4.4.2) through cl_est_keygen_parse: the input
 * up to its first '\n' is the Content-Type, the rest the body; an accepted answer yields a key,
 * a PEM and the first certificate, a refused one nothing. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/x509.h>

#include "client/client_internal.h"

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"

static void check_keygen(const uint8_t *in, size_t len)
{
    char ctype[128];
    const uint8_t *nl = memchr(in, '\n', len < sizeof ctype ? len : sizeof ctype);
    if (nl == NULL)
        return;
    memcpy(ctype, in, (size_t)(nl - in));
    ctype[nl - in] = '\0';
    size_t blen = len - (size_t)(nl + 1 - in);
    uint8_t *body = malloc(blen + 1); /* a copy of exactly blen bytes: ASan sees overreads */
    if (body == NULL)
        return;
    memcpy(body, nl + 1, blen);
    gnutls_x509_privkey_t key = (gnutls_x509_privkey_t)1;
    gnutls_datum_t pem = {(unsigned char *)1, 1}, first = {(unsigned char *)1, 1};
    int rc = cl_est_keygen_parse(ctype, body, blen, &key, &pem, &first);
    if (rc == M2MSEC_OK) {
        if (key == NULL || pem.data == NULL || first.data == NULL ||
            memcmp(pem.data, PEM_BEGIN, sizeof PEM_BEGIN - 1) != 0)
            abort();
        gnutls_x509_privkey_deinit(key);
        gnutls_free(pem.data);
        gnutls_free(first.data);
    } else if (key != NULL || pem.data != NULL || first.data != NULL) {
        abort();
    }
    free(body);
}

static void check_p7(const uint8_t *der, size_t len)
{
    gnutls_datum_t pem = {(unsigned char *)1, 1}, first = {(unsigned char *)1, 1};
    gnutls_datum_t pem2 = {(unsigned char *)1, 1};
    int rc = cl_est_pkcs7_certs(der, len, &pem, &first);
    int rc2 = cl_est_pkcs7_certs(der, len, &pem2, NULL);
    if (rc != rc2 || (rc != M2MSEC_OK && rc != M2MSEC_ERR_PROTOCOL))
        abort();
    if (rc != M2MSEC_OK) {
        if (pem.data != NULL || pem.size != 0 || first.data != NULL || pem2.data != NULL)
            abort();
        return;
    }
    if (pem.size < sizeof PEM_BEGIN || memcmp(pem.data, PEM_BEGIN, sizeof PEM_BEGIN - 1) != 0 ||
        first.data == NULL || first.size == 0 || first.size > len || pem2.size != pem.size ||
        memcmp(pem.data, pem2.data, pem.size) != 0)
        abort();
    /* The first certificate is a piece of the input (the PKCS#7 holds it verbatim). */
    if (memmem(der, len, first.data, first.size) == NULL)
        abort();
    gnutls_free(pem.data);
    gnutls_free(pem2.data);
    gnutls_free(first.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
    check_p7(in, len);
    check_keygen(in, len);
    size_t cap = len / 4 * 3 + 3, n = 0;
    uint8_t *der = malloc(cap);
    if (der != NULL && cl_b64_decode(in, len, der, cap, &n) == M2MSEC_OK)
        check_p7(der, n);
    free(der);
    return 0;
}
