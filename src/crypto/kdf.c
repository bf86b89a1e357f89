/* kdf.c: TS-0003 10.3 key derivations (HMAC-SHA-256, HKDF-Extract) and 10.3.4-10.6 key IDs. */
#include "crypto/kdf.h"

#include <stdio.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "base/secret.h"

/* Longest HMAC message built here: the longest label + 3 SUID digits + the longest identity. */
#define KDF_MSG_MAX 512

struct part {
    const void *p;
    size_t n;
};

#define PART_STR(s) ((struct part){(s), sizeof(s) - 1})

/* HMAC-SHA-256(key, parts[0] || ... || parts[n-1]). The message is assembled on the stack and
 * wiped afterwards, because it may hold key material (T(i-1) in 10.3.6.2). */
static m2m_rc hmac_parts(const uint8_t *key, size_t key_len, const struct part *parts, size_t n,
                         uint8_t out[KDF_KEY_LEN])
{
    uint8_t msg[KDF_MSG_MAX];
    size_t off = 0;
    m2m_rc rc = M2M_OK;
    for (size_t i = 0; i < n; i++) {
        /* callers bound their inputs below KDF_MSG_MAX: a miss is a programming error */
        ENSURE(parts[i].n <= sizeof msg - off, M2M_ERR_INTERNAL);
        if (parts[i].n > 0)
            memcpy(msg + off, parts[i].p, parts[i].n);
        off += parts[i].n;
    }
    ENSURE(gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, key_len, msg, off, out) == 0, M2M_ERR_INTERNAL);
out:
    m2m_wipe(msg, off);
    return rc;
}

/* A failed derivation leaves zeros, never a partial or stale key. */
static m2m_rc finish(m2m_rc rc, uint8_t *key, size_t len)
{
    if (rc != M2M_OK && key != NULL)
        m2m_wipe(key, len);
    return rc;
}

/* ---- 10.3.1 ---- */

m2m_rc kdf_export_split(const uint8_t *exported, size_t len, uint8_t id[KDF_EXPORT_ID_LEN],
                        uint8_t key[KDF_KEY_LEN])
{
    m2m_rc rc = M2M_OK;
    ENSURE(id != NULL && key != NULL, M2M_ERR_MALFORMED);
    ENSURE(exported != NULL && len == KDF_EXPORT_LEN, M2M_ERR_MALFORMED);
    /* TS-0003 10.3.1: the identifier is the 16 most significant bytes, the key the 32 least
     * significant ones; [INTERP] the output is read as a big-endian string, so the identifier
     * comes first. */
    memcpy(id, exported, KDF_EXPORT_ID_LEN);
    memcpy(key, exported + KDF_EXPORT_ID_LEN, KDF_KEY_LEN);
out:
    if (rc != M2M_OK && id != NULL)
        memset(id, 0, KDF_EXPORT_ID_LEN);
    return finish(rc, key, KDF_KEY_LEN);
}

/* ---- identifiers ---- */

static bool is_lower_ldh(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static bool is_alnum(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool kdf_fqdn_valid(const uint8_t *in, size_t len)
{
    if (in == NULL || len == 0 || len > KDF_FQDN_MAX)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && in[i] != '.') {
            if (!is_lower_ldh(in[i]))
                return false;
            continue;
        }
        /* a label ends at i: 1..63 characters, no leading or trailing hyphen */
        size_t n = i - start;
        if (n == 0 || n > KDF_FQDN_LABEL_MAX || in[start] == '-' || in[i - 1] == '-')
            return false;
        start = i + 1;
    }
    return true;
}

static int hex_val(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

m2m_rc kdf_keid_format(const uint8_t rel_id[KDF_EXPORT_ID_LEN], const char *fqdn, size_t fqdn_len,
                       char *out, size_t cap, size_t *out_len)
{
    static const char hex[] = "0123456789ABCDEF";
    m2m_rc rc = M2M_OK;
    size_t total = 2 * KDF_EXPORT_ID_LEN + 1 + fqdn_len;
    ENSURE(out != NULL && cap > 0, M2M_ERR_LIMIT);
    out[0] = '\0';
    ENSURE(rel_id != NULL && kdf_fqdn_valid((const uint8_t *)fqdn, fqdn_len), M2M_ERR_MALFORMED);
    ENSURE(total <= KDF_KEY_ID_MAX, M2M_ERR_MALFORMED);
    ENSURE(total < cap, M2M_ERR_LIMIT);
    /* TS-0003 10.3.4/10.3.5: hexBinary(ID) "@" FQDN; [INTERP] upper-case hex digits, the
     * canonical representation of xs:hexBinary. */
    for (size_t i = 0; i < KDF_EXPORT_ID_LEN; i++) {
        out[2 * i] = hex[rel_id[i] >> 4];
        out[2 * i + 1] = hex[rel_id[i] & 0x0f];
    }
    out[2 * KDF_EXPORT_ID_LEN] = '@';
    memcpy(out + 2 * KDF_EXPORT_ID_LEN + 1, fqdn, fqdn_len);
    out[total] = '\0';
    if (out_len != NULL)
        *out_len = total;
out:
    if (rc != M2M_OK && out != NULL && cap > 0)
        out[0] = '\0';
    return rc;
}

m2m_rc kdf_keid_parse(const uint8_t *in, size_t len, uint8_t rel_id[KDF_EXPORT_ID_LEN],
                      const uint8_t **fqdn, size_t *fqdn_len)
{
    m2m_rc rc = M2M_OK;
    const size_t hex_len = 2 * KDF_EXPORT_ID_LEN;
    ENSURE(rel_id != NULL && fqdn != NULL && fqdn_len != NULL, M2M_ERR_MALFORMED);
    ENSURE(in != NULL && len > hex_len + 1 && len <= KDF_KEY_ID_MAX, M2M_ERR_MALFORMED);
    ENSURE(in[hex_len] == '@', M2M_ERR_MALFORMED);
    /* xs:hexBinary allows either case; the bytes, not the spelling, identify the key */
    for (size_t i = 0; i < KDF_EXPORT_ID_LEN; i++) {
        int hi = hex_val(in[2 * i]), lo = hex_val(in[2 * i + 1]);
        ENSURE(hi >= 0 && lo >= 0, M2M_ERR_MALFORMED);
        rel_id[i] = (uint8_t)(hi << 4 | lo);
    }
    ENSURE(kdf_fqdn_valid(in + hex_len + 1, len - hex_len - 1), M2M_ERR_MALFORMED);
    *fqdn = in + hex_len + 1;
    *fqdn_len = len - hex_len - 1;
out:
    if (rc != M2M_OK && rel_id != NULL)
        memset(rel_id, 0, KDF_EXPORT_ID_LEN);
    return rc;
}

m2m_rc kdf_scoped_id_parse(const uint8_t *in, size_t len, struct kdf_scoped_id *out)
{
    m2m_rc rc = M2M_OK;
    ENSURE(out != NULL, M2M_ERR_MALFORMED);
    memset(out, 0, sizeof *out);
    ENSURE(in != NULL && len > 0 && len <= KDF_KEY_ID_MAX, M2M_ERR_MALFORMED);
    const uint8_t *at = memchr(in, '@', len);
    ENSURE(at != NULL, M2M_ERR_MALFORMED);
    size_t rel_len = (size_t)(at - in);
    /* TS-0003 10.5/10.6: the relative part is letters, digits, '.', '_' and '-' */
    ENSURE(rel_len > 0 && rel_len <= KDF_REL_ID_MAX, M2M_ERR_MALFORMED);
    for (size_t i = 0; i < rel_len; i++)
        ENSURE(is_alnum(in[i]) || in[i] == '.' || in[i] == '_' || in[i] == '-', M2M_ERR_MALFORMED);
    /* a second '@' fails here: the FQDN charset has none */
    ENSURE(kdf_fqdn_valid(at + 1, len - rel_len - 1), M2M_ERR_MALFORMED);
    *out = (struct kdf_scoped_id){in, rel_len, at + 1, len - rel_len - 1};
out:
    return rc;
}

static uint8_t ascii_lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

bool kdf_kmid_equal(const struct kdf_scoped_id *a, const struct kdf_scoped_id *b)
{
    if (a == NULL || b == NULL || a->rel_len != b->rel_len || a->fqdn_len != b->fqdn_len)
        return false;
    /* TS-0003 10.6: MAF_RELATIVE_KmID is not case sensitive */
    for (size_t i = 0; i < a->rel_len; i++)
        if (ascii_lower(a->rel[i]) != ascii_lower(b->rel[i]))
            return false;
    return memcmp(a->fqdn, b->fqdn, a->fqdn_len) == 0;
}

bool kdf_kpsaid_equal(const struct kdf_scoped_id *a, const struct kdf_scoped_id *b)
{
    if (a == NULL || b == NULL || a->rel_len != b->rel_len || a->fqdn_len != b->fqdn_len)
        return false;
    return memcmp(a->rel, b->rel, a->rel_len) == 0 && memcmp(a->fqdn, b->fqdn, a->fqdn_len) == 0;
}

/* [INTERP] SPEC-MAP GAP-2 item 30: printable ASCII allowed in xs:anyURI, no space. */
static bool cred_value_char(uint8_t c)
{
    return c > 0x20 && c < 0x7f && strchr("<>\"{}|\\^`", c) == NULL;
}

static m2m_rc cred_value_check(const uint8_t *v, size_t n)
{
    if (v == NULL || n == 0)
        return M2M_ERR_MALFORMED;
    for (size_t i = 0; i < n; i++)
        if (!cred_value_char(v[i]))
            return M2M_ERR_MALFORMED;
    return M2M_OK;
}

m2m_rc kdf_cred_id_format(unsigned type_id, const char *value, size_t value_len, char *out,
                          size_t cap, size_t *out_len)
{
    m2m_rc rc = M2M_OK;
    char type[4];
    ENSURE(out != NULL && cap > 0, M2M_ERR_LIMIT);
    out[0] = '\0';
    ENSURE(type_id >= 1 && type_id <= 999, M2M_ERR_MALFORMED);
    TRY(cred_value_check((const uint8_t *)value, value_len));
    int tn = snprintf(type, sizeof type, "%u", type_id);
    size_t total = (size_t)tn + 1 + value_len;
    ENSURE(total <= KDF_CRED_ID_MAX, M2M_ERR_MALFORMED);
    ENSURE(total < cap, M2M_ERR_LIMIT);
    /* TS-0003 10.4: type-ID, '-', value */
    memcpy(out, type, (size_t)tn);
    out[tn] = '-';
    memcpy(out + tn + 1, value, value_len);
    out[total] = '\0';
    if (out_len != NULL)
        *out_len = total;
out:
    if (rc != M2M_OK && out != NULL && cap > 0)
        out[0] = '\0';
    return rc;
}

m2m_rc kdf_cred_id_parse(const uint8_t *in, size_t len, unsigned *type_id, const uint8_t **value,
                         size_t *value_len)
{
    m2m_rc rc = M2M_OK;
    unsigned t = 0;
    size_t i = 0;
    ENSURE(type_id != NULL && value != NULL && value_len != NULL, M2M_ERR_MALFORMED);
    ENSURE(in != NULL && len > 0 && len <= KDF_CRED_ID_MAX, M2M_ERR_MALFORMED);
    /* sec:credIDTypeID: a positive decimal integer, no sign, no leading zero, at most 3 digits */
    ENSURE(in[0] >= '1' && in[0] <= '9', M2M_ERR_MALFORMED);
    for (; i < len && in[i] >= '0' && in[i] <= '9'; i++) {
        ENSURE(i < 3, M2M_ERR_MALFORMED);
        t = t * 10 + (unsigned)(in[i] - '0');
    }
    ENSURE(i < len && in[i] == '-', M2M_ERR_MALFORMED);
    TRY(cred_value_check(in + i + 1, len - i - 1));
    *type_id = t;
    *value = in + i + 1;
    *value_len = len - i - 1;
out:
    return rc;
}

m2m_rc kdf_identity_check(const uint8_t *id, size_t len)
{
    if (id == NULL || len == 0 || len > KDF_IDENTITY_MAX)
        return M2M_ERR_MALFORMED;
    /* [INTERP] NFKC is not available in GnuTLS 3.7: accept only printable ASCII, on which NFKC
     * is the identity, so both ends hash the same octets. */
    for (size_t i = 0; i < len; i++)
        if (id[i] <= 0x20 || id[i] >= 0x7f)
            return M2M_ERR_MALFORMED;
    return M2M_OK;
}

/* ---- 10.3.2, 10.3.3, 10.3.7 ---- */

m2m_rc kdf_km(const uint8_t *ke, size_t ke_len, const uint8_t *maf_id, size_t maf_id_len,
              uint8_t km[KDF_KEY_LEN])
{
    m2m_rc rc = M2M_OK;
    ENSURE(km != NULL, M2M_ERR_MALFORMED);
    ENSURE(ke != NULL && ke_len == KDF_KEY_LEN, M2M_ERR_MALFORMED);
    TRY(kdf_identity_check(maf_id, maf_id_len));
    /* TS-0003 10.3.2: Km = HMAC-SHA-256(Ke, label || MAF-ID) */
    const struct part parts[] = {PART_STR(KDF_LABEL_KM), {maf_id, maf_id_len}};
    TRY(hmac_parts(ke, ke_len, parts, M2M_ARRAY_LEN(parts), km));
out:
    return finish(rc, km, KDF_KEY_LEN);
}

m2m_rc kdf_kpsa(const uint8_t *ke, size_t ke_len, const uint8_t *enrolee_b_id, size_t id_len,
                uint8_t kpsa[KDF_KEY_LEN])
{
    m2m_rc rc = M2M_OK;
    ENSURE(kpsa != NULL, M2M_ERR_MALFORMED);
    ENSURE(ke != NULL && ke_len == KDF_KEY_LEN, M2M_ERR_MALFORMED);
    TRY(kdf_identity_check(enrolee_b_id, id_len));
    /* TS-0003 10.3.3: Kpsa = HMAC-SHA-256(Ke, label || Enrolee-B-ID) */
    const struct part parts[] = {PART_STR(KDF_LABEL_KPSA), {enrolee_b_id, id_len}};
    TRY(hmac_parts(ke, ke_len, parts, M2M_ARRAY_LEN(parts), kpsa));
out:
    return finish(rc, kpsa, KDF_KEY_LEN);
}

bool kdf_suid_valid(unsigned suid)
{
    /* m2m:suid: first digit the credential kind, second the usage; no 20, 30, 31 */
    return (suid >= 10 && suid <= 15) || (suid >= 21 && suid <= 25) || (suid >= 32 && suid <= 35) ||
           (suid >= 40 && suid <= 45);
}

m2m_rc kdf_usage_key(const uint8_t *ke, size_t ke_len, unsigned suid, const uint8_t *target_id,
                     size_t id_len, uint8_t key[KDF_KEY_LEN])
{
    m2m_rc rc = M2M_OK;
    char digits[4];
    ENSURE(key != NULL, M2M_ERR_MALFORMED);
    ENSURE(ke != NULL && ke_len == KDF_KEY_LEN, M2M_ERR_MALFORMED);
    ENSURE(kdf_suid_valid(suid), M2M_ERR_MALFORMED);
    TRY(kdf_identity_check(target_id, id_len));
    /* [INTERP] TS-0003 10.3.7 leaves the octets of SUID open: ASCII decimal, no leading zero */
    int n = snprintf(digits, sizeof digits, "%u", suid);
    ENSURE(n > 0 && (size_t)n < sizeof digits, M2M_ERR_INTERNAL);
    /* TS-0003 10.3.7: HMAC-SHA-256(Ke, label || SUID || Enrolment-Target-ID) */
    const struct part parts[] = {
        PART_STR(KDF_LABEL_USAGE), {digits, (size_t)n}, {target_id, id_len}};
    TRY(hmac_parts(ke, ke_len, parts, M2M_ARRAY_LEN(parts), key));
out:
    return finish(rc, key, KDF_KEY_LEN);
}

/* ---- 10.3.6 ---- */

m2m_rc kdf_e2e_master(const uint8_t *salt, size_t salt_len, const uint8_t *kpsa, size_t kpsa_len,
                      uint8_t master[KDF_KEY_LEN])
{
    m2m_rc rc = M2M_OK;
    ENSURE(master != NULL, M2M_ERR_MALFORMED);
    ENSURE(salt_len <= KDF_SALT_MAX && (salt != NULL || salt_len == 0), M2M_ERR_MALFORMED);
    ENSURE(kpsa != NULL && kpsa_len >= KDF_IN_KEY_MIN && kpsa_len <= KDF_IN_KEY_MAX,
           M2M_ERR_MALFORMED);
    /* TS-0003 10.3.6.1: Ke2e_master = HMAC-Hash(Salt, Kpsa), i.e. RFC 5869 HKDF-Extract with
     * IKM = Kpsa; an absent salt is HashLen zero bytes (RFC 5869 2.2). */
    static const uint8_t zero_salt[KDF_KEY_LEN];
    gnutls_datum_t ikm = {(unsigned char *)kpsa, (unsigned)kpsa_len};
    gnutls_datum_t s = {(unsigned char *)(salt_len ? salt : zero_salt),
                        (unsigned)(salt_len ? salt_len : sizeof zero_salt)};
    ENSURE(gnutls_hkdf_extract(GNUTLS_MAC_SHA256, &ikm, &s, master) == 0, M2M_ERR_INTERNAL);
out:
    return finish(rc, master, KDF_KEY_LEN);
}

m2m_rc kdf_e2e_expand(const uint8_t master[KDF_KEY_LEN], struct kdf_e2e_keys *out)
{
    static const struct part labels[4] = {
        PART_STR(KDF_LABEL_E2E_MSG_AUTH), PART_STR(KDF_LABEL_E2E_MSG_CONF),
        PART_STR(KDF_LABEL_E2E_ATT_AUTH), PART_STR(KDF_LABEL_E2E_ATT_CONF)};
    m2m_rc rc = M2M_OK;
    ENSURE(out != NULL, M2M_ERR_MALFORMED);
    ENSURE(master != NULL, M2M_ERR_MALFORMED);
    uint8_t *t[4] = {out->msg_auth, out->msg_conf, out->att_auth, out->att_conf};
    /* TS-0003 10.3.6.2: T(0) empty; T(i) = HMAC-Hash(Ke2e_master, T(i-1) | label_i | i) */
    for (size_t i = 0; i < 4; i++) {
        const uint8_t counter = (uint8_t)(i + 1);
        const struct part parts[] = {
            {i ? t[i - 1] : NULL, i ? KDF_KEY_LEN : 0}, labels[i], {&counter, 1}};
        TRY(hmac_parts(master, KDF_KEY_LEN, parts, M2M_ARRAY_LEN(parts), t[i]));
    }
out:
    if (rc != M2M_OK && out != NULL)
        m2m_wipe(out, sizeof *out);
    return rc;
}

/* ---- 10.3.8 ---- */

m2m_rc kdf_esprim_session(const uint8_t *pairwise, size_t pairwise_len, const uint8_t *recv_rand,
                          size_t recv_len, const uint8_t *orig_rand, size_t orig_len, uint8_t *out,
                          size_t out_len)
{
    m2m_rc rc = M2M_OK;
    uint8_t full[KDF_KEY_LEN];
    bool len_ok = out_len == 16 || out_len == 24 || out_len == 32;
    ENSURE(out != NULL && len_ok, M2M_ERR_MALFORMED);
    ENSURE(pairwise != NULL && pairwise_len >= KDF_IN_KEY_MIN && pairwise_len <= KDF_IN_KEY_MAX,
           M2M_ERR_MALFORMED);
    ENSURE(recv_rand != NULL && recv_len == KDF_ESPRIM_RAND_LEN, M2M_ERR_MALFORMED);
    ENSURE(orig_rand != NULL && orig_len == KDF_ESPRIM_RAND_LEN, M2M_ERR_MALFORMED);
    /* TS-0003 10.3.8.2: HMAC-SHA256(pairwiseESPrimKey, receiver rand || originator rand ||
     * label); [INTERP] raw 16-byte rand values, key = leftmost out_len bytes. */
    const struct part parts[] = {
        {recv_rand, recv_len}, {orig_rand, orig_len}, PART_STR(KDF_LABEL_ESPRIM)};
    TRY(hmac_parts(pairwise, pairwise_len, parts, M2M_ARRAY_LEN(parts), full));
    memcpy(out, full, out_len);
out:
    m2m_wipe(full, sizeof full);
    if (rc != M2M_OK && out != NULL && len_ok)
        m2m_wipe(out, out_len);
    return rc;
}
