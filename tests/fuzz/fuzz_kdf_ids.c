/* fuzz_kdf_ids.c: fuzzes the key identifier, Credential-ID, FQDN and identity parsers of
 * crypto/kdf and checks that whatever they accept formats back to the same string. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kdf.h"

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* KeID / MAF Key Identifier: accepted input re-formats to itself with upper-case hex. */
static void check_keid(const uint8_t *in, size_t len)
{
    uint8_t id[KDF_EXPORT_ID_LEN], id2[KDF_EXPORT_ID_LEN];
    const uint8_t *fqdn = NULL, *f2 = NULL;
    size_t fl = 0, f2l = 0, n = 0;
    char out[KDF_KEY_ID_BUF];
    if (kdf_keid_parse(in, len, id, &fqdn, &fl) != M2M_OK)
        return;
    if (len > KDF_KEY_ID_MAX || fqdn < in || fqdn + fl != in + len || !kdf_fqdn_valid(fqdn, fl))
        abort();
    if (kdf_keid_format(id, (const char *)fqdn, fl, out, sizeof out, &n) != M2M_OK || n != len)
        abort();
    for (size_t i = 0; i < len; i++)
        if (lower(out[i]) != lower(in[i]) || (i >= 2 * KDF_EXPORT_ID_LEN && out[i] != in[i]))
            abort();
    if (kdf_keid_parse((const uint8_t *)out, n, id2, &f2, &f2l) != M2M_OK ||
        memcmp(id, id2, sizeof id) != 0 || f2l != fl)
        abort();
}

/* KpsaID / KmID: the two parts cover the input around one '@'. */
static void check_scoped(const uint8_t *in, size_t len)
{
    struct kdf_scoped_id s;
    if (kdf_scoped_id_parse(in, len, &s) != M2M_OK)
        return;
    if (s.rel != in || s.rel_len == 0 || s.rel_len > KDF_REL_ID_MAX ||
        s.rel_len + 1 + s.fqdn_len != len || in[s.rel_len] != '@' || s.fqdn != in + s.rel_len + 1)
        abort();
    if (memchr(s.rel, '@', s.rel_len) != NULL || !kdf_fqdn_valid(s.fqdn, s.fqdn_len))
        abort();
    if (!kdf_kmid_equal(&s, &s) || !kdf_kpsaid_equal(&s, &s))
        abort();
}

/* Credential-ID: accepted input re-formats to exactly itself. */
static void check_cred(const uint8_t *in, size_t len)
{
    unsigned t = 0;
    const uint8_t *v = NULL;
    size_t vl = 0, n = 0;
    char out[KDF_CRED_ID_MAX + 1];
    if (kdf_cred_id_parse(in, len, &t, &v, &vl) != M2M_OK)
        return;
    if (t < 1 || t > 999 || v + vl != in + len)
        abort();
    if (kdf_cred_id_format(t, (const char *)v, vl, out, sizeof out, &n) != M2M_OK || n != len ||
        memcmp(out, in, len) != 0)
        abort();
}

/* Identity: an accepted identity derives keys; a rejected one never does. */
static void check_identity(const uint8_t *in, size_t len)
{
    static const uint8_t ke[KDF_KEY_LEN] = {1, 2, 3};
    uint8_t k[KDF_KEY_LEN];
    bool ok = kdf_identity_check(in, len) == M2M_OK;
    if (ok && (len == 0 || len > KDF_IDENTITY_MAX || memchr(in, 0, len) != NULL))
        abort();
    if ((kdf_km(ke, sizeof ke, in, len, k) == M2M_OK) != ok ||
        (kdf_usage_key(ke, sizeof ke, 22, in, len, k) == M2M_OK) != ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_keid(data, size);
    check_scoped(data, size);
    check_cred(data, size);
    check_identity(data, size);
    if (kdf_fqdn_valid(data, size) && size > KDF_FQDN_MAX)
        abort();
    return 0;
}
