/* kdf_test.c: TS-0003 10.3 derivations against the openssl-made vectors in tests/vectors/kdf
 * and SPEC-MAP TV4, key identifier and Credential-ID formats, and every rejected input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/secret.h"
#include "crypto/kdf.h"

/* ---- helpers ---- */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex);
    assert_int_equal(n % 2, 0);
    assert_true(n / 2 <= cap);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n / 2;
}

static const uint8_t *U(const char *s)
{
    return (const uint8_t *)s;
}

static void seq(uint8_t *b, size_t n, uint8_t start)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(start + i);
}

static void assert_hex(const uint8_t *got, size_t n, const char *want_hex)
{
    uint8_t want[128];
    assert_int_equal(unhex(want_hex, want, sizeof want), n);
    assert_memory_equal(got, want, n);
}

static bool all_zero(const uint8_t *b, size_t n)
{
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= b[i];
    return d == 0;
}

/* ---- the .vec reader (format described in tests/vectors/kdf/make_vectors.sh) ---- */

#define REC_FIELDS 8
struct rec {
    int n;
    char name[REC_FIELDS][16];
    char val[REC_FIELDS][512];
};

static const char *get(const struct rec *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->name[i], name) == 0)
            return r->val[i];
    fail_msg("vector record lacks field %s", name);
    return NULL;
}

typedef void (*rec_fn)(const struct rec *r);

/* Calls fn for each record of the vector file and returns how many there were. */
static int for_each_vector(const char *file, rec_fn fn)
{
    char path[1024], line[1024];
    const char *src = getenv("M2M_SRC");
    snprintf(path, sizeof path, "%s/tests/vectors/kdf/%s", src ? src : ".", file);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s (set M2M_SRC to the source tree)", path);
    struct rec r = {0};
    int count = 0;
    bool more = true;
    while (more) {
        more = fgets(line, sizeof line, f) != NULL;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#')
            continue;
        if (!more || line[0] == '\0') {
            if (r.n > 0) {
                fn(&r);
                count++;
            }
            memset(&r, 0, sizeof r);
            continue;
        }
        char *eq = strstr(line, " = ");
        if (eq == NULL) { /* "name = " with an empty value loses its trailing space */
            eq = strstr(line, " =");
            assert_non_null(eq);
            assert_string_equal(eq, " =");
        }
        assert_true(r.n < REC_FIELDS);
        *eq = '\0';
        const char *v = eq[2] ? eq + 3 : "";
        assert_true(strlen(line) < sizeof r.name[0] && strlen(v) < sizeof r.val[0]);
        memcpy(r.name[r.n], line, strlen(line) + 1);
        memcpy(r.val[r.n], v, strlen(v) + 1);
        r.n++;
    }
    fclose(f);
    return count;
}

/* ---- known answers from the openssl vectors ---- */

static void check_km(const struct rec *r)
{
    uint8_t ke[64], km[KDF_KEY_LEN];
    size_t ke_len = unhex(get(r, "ke"), ke, sizeof ke);
    const char *id = get(r, "id");
    assert_int_equal(kdf_km(ke, ke_len, U(id), strlen(id), km), M2M_OK);
    assert_hex(km, sizeof km, get(r, "out"));
}

static void check_kpsa(const struct rec *r)
{
    uint8_t ke[64], kpsa[KDF_KEY_LEN];
    size_t ke_len = unhex(get(r, "ke"), ke, sizeof ke);
    const char *id = get(r, "id");
    assert_int_equal(kdf_kpsa(ke, ke_len, U(id), strlen(id), kpsa), M2M_OK);
    assert_hex(kpsa, sizeof kpsa, get(r, "out"));
}

static void check_usage(const struct rec *r)
{
    uint8_t ke[64], key[KDF_KEY_LEN];
    size_t ke_len = unhex(get(r, "ke"), ke, sizeof ke);
    const char *id = get(r, "id");
    unsigned suid = (unsigned)strtoul(get(r, "suid"), NULL, 10);
    assert_int_equal(kdf_usage_key(ke, ke_len, suid, U(id), strlen(id), key), M2M_OK);
    assert_hex(key, sizeof key, get(r, "out"));
}

static void check_export(const struct rec *r)
{
    uint8_t ex[64], id[KDF_EXPORT_ID_LEN], key[KDF_KEY_LEN], back[KDF_EXPORT_ID_LEN];
    char keid[KDF_KEY_ID_BUF];
    size_t n = unhex(get(r, "exported"), ex, sizeof ex), keid_len = 0, fl = 0;
    const char *fqdn = get(r, "fqdn");
    const uint8_t *fp = NULL;
    assert_int_equal(kdf_export_split(ex, n, id, key), M2M_OK);
    assert_hex(id, sizeof id, get(r, "rel_id"));
    assert_hex(key, sizeof key, get(r, "key"));
    assert_int_equal(kdf_keid_format(id, fqdn, strlen(fqdn), keid, sizeof keid, &keid_len), M2M_OK);
    assert_string_equal(keid, get(r, "key_id"));
    assert_int_equal(keid_len, strlen(keid));
    assert_int_equal(kdf_keid_parse(U(keid), keid_len, back, &fp, &fl), M2M_OK);
    assert_memory_equal(back, id, sizeof id);
    assert_int_equal(fl, strlen(fqdn));
    assert_memory_equal(fp, fqdn, fl);
}

static void check_e2e(const struct rec *r)
{
    uint8_t salt[64], kpsa[64], master[KDF_KEY_LEN];
    struct kdf_e2e_keys k;
    size_t sl = unhex(get(r, "salt"), salt, sizeof salt);
    size_t kl = unhex(get(r, "kpsa"), kpsa, sizeof kpsa);
    assert_int_equal(kdf_e2e_master(sl ? salt : NULL, sl, kpsa, kl, master), M2M_OK);
    assert_hex(master, sizeof master, get(r, "master"));
    assert_int_equal(kdf_e2e_expand(master, &k), M2M_OK);
    assert_hex(k.msg_auth, KDF_KEY_LEN, get(r, "msg_auth"));
    assert_hex(k.msg_conf, KDF_KEY_LEN, get(r, "msg_conf"));
    assert_hex(k.att_auth, KDF_KEY_LEN, get(r, "att_auth"));
    assert_hex(k.att_conf, KDF_KEY_LEN, get(r, "att_conf"));
    m2m_wipe(&k, sizeof k);
}

static void check_esprim(const struct rec *r)
{
    uint8_t pw[64], rr[32], orr[32], out[KDF_KEY_LEN];
    size_t pl = unhex(get(r, "pairwise"), pw, sizeof pw);
    size_t rl = unhex(get(r, "recv_rand"), rr, sizeof rr);
    size_t ol = unhex(get(r, "orig_rand"), orr, sizeof orr);
    size_t len = (size_t)strtoul(get(r, "keylen"), NULL, 10);
    assert_int_equal(kdf_esprim_session(pw, pl, rr, rl, orr, ol, out, len), M2M_OK);
    assert_hex(out, len, get(r, "out"));
}

static void test_vectors(void **state)
{
    /* at least as many records as make_vectors.sh writes: a truncated file fails */
    assert_true(for_each_vector("km.vec", check_km) >= 4);
    assert_true(for_each_vector("kpsa.vec", check_kpsa) >= 4);
    assert_true(for_each_vector("usage.vec", check_usage) >= 5);
    assert_true(for_each_vector("export.vec", check_export) >= 3);
    assert_true(for_each_vector("e2e.vec", check_e2e) >= 4);
    assert_true(for_each_vector("esprim.vec", check_esprim) >= 4);
}

/* ---- SPEC-MAP TV4, computed independently with Python, written here verbatim ---- */

static void test_tv4(void **state)
{
    uint8_t ke[32], out[32], ex[48], id[16];
    seq(ke, sizeof ke, 0);
    assert_int_equal(kdf_km(ke, 32, U("maf.example.com"), 15, out), M2M_OK);
    assert_hex(out, 32, "3055bf32dd9c95586aaffa2ae2e165dfeffd0803566e16bdd343171457da8a5e");
    assert_int_equal(kdf_kpsa(ke, 32, U("//sp.example.com/CSE01"), 22, out), M2M_OK);
    assert_hex(out, 32, "6c4ca92ca1971e90b4f8a365559d5d45a0ad0098dd1fcafad967c161be19cd67");
    assert_int_equal(kdf_usage_key(ke, 32, 22, U("CSE01.in.sp.example.com"), 23, out), M2M_OK);
    assert_hex(out, 32, "57c856401999571b52d53208e8a5d735057ad9715d12d5b84ceabb2bf82cf2b2");

    seq(ex, sizeof ex, 0x40);
    char keid[KDF_KEY_ID_BUF];
    assert_int_equal(kdf_export_split(ex, 48, id, out), M2M_OK);
    assert_hex(id, 16, "404142434445464748494A4B4C4D4E4F");
    assert_hex(out, 32, "505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f");
    assert_int_equal(kdf_keid_format(id, "mef.example.com", 15, keid, sizeof keid, NULL), M2M_OK);
    assert_string_equal(keid, "404142434445464748494A4B4C4D4E4F@mef.example.com");

    uint8_t salt[32] = {0}, master[32];
    struct kdf_e2e_keys k;
    assert_int_equal(kdf_e2e_master(salt, 32, ke, 32, master), M2M_OK);
    assert_hex(master, 32, "46bd320605c5a6b6163ab70bc6345b92a5f908e79fe58979c23ebb47d1a5e307");
    assert_int_equal(kdf_e2e_expand(master, &k), M2M_OK);
    assert_hex(k.msg_auth, 32, "41b4dc34a7949f396b029877df8fff1920451a290502106d97da4deba9e108e6");
    assert_hex(k.msg_conf, 32, "03699b0e8e8fdb52043b1bcf3c85ddd334dc2027374c98750677622c083cf105");
    assert_hex(k.att_auth, 32, "afa7b6d5e71b8a645f831124cb0deea567e36b657e77f937d3e4dab076739e8f");
    assert_hex(k.att_conf, 32, "841e205b098d8960403e93e8717a4673589a63b7780dee0fdb2f07c0801d0064");

    uint8_t rr[16], orr[16];
    memset(rr, 0xAA, sizeof rr);
    memset(orr, 0xBB, sizeof orr);
    assert_int_equal(kdf_esprim_session(ke, 32, rr, 16, orr, 16, out, 32), M2M_OK);
    assert_hex(out, 32, "f0ca930990856f9bcba42ccd4b7a65a62db01d2945b7ba199c76dbb369de20c1");
    /* A128GCM: the leftmost 16 bytes; swapping receiver and originator changes the key */
    assert_int_equal(kdf_esprim_session(ke, 32, rr, 16, orr, 16, out, 16), M2M_OK);
    assert_hex(out, 16, "f0ca930990856f9bcba42ccd4b7a65a6");
    assert_int_equal(kdf_esprim_session(ke, 32, orr, 16, rr, 16, out, 16), M2M_OK);
    assert_memory_not_equal(out, U("\xf0\xca\x93\x09"), 4);
}

/* TV1: the exact strings of TS-0003 10.3, typed again here from the spec text. */
static void test_labels(void **state)
{
    assert_string_equal(KDF_EXPORTER_BOOTSTRAP, "EXPORTER-oneM2M-Bootstrap");
    assert_string_equal(KDF_EXPORTER_CONNECTION, "EXPORTER-oneM2M-Connection");
    assert_string_equal(KDF_EXPORTER_ESCERTKE, "EXPORTER-oneM2M-ESCertKE");
    assert_string_equal(KDF_LABEL_KM, "oneM2M Enrolment Key to Master Credential derivation");
    assert_string_equal(KDF_LABEL_KPSA,
                        "oneM2M Enrolment Key to Provisioned Secure Connection Key derivation");
    assert_string_equal(KDF_LABEL_USAGE,
                        "oneM2M Enrolment Key to Usage-Constrained Symmetric Key derivation");
    assert_string_equal(KDF_LABEL_ESPRIM,
                        "oneM2M HMAC-SHA256 sessionESPrimKey derivation algorithm");
    assert_string_equal(KDF_LABEL_E2E_MSG_AUTH, "E2E Message Authentication Key");
    assert_string_equal(KDF_LABEL_E2E_MSG_CONF, "E2E Message Confidentiality Key");
    assert_string_equal(KDF_LABEL_E2E_ATT_AUTH, "E2E Attribute Authenticity Key");
    assert_string_equal(KDF_LABEL_E2E_ATT_CONF, "E2E Attribute Confidentiality Key");
}

/* 10.3.6.2: T(1) is RFC 5869 HKDF-Expand with info label_1; T(2) is not the second block of a
 * one-info HKDF-Expand (each block has its own label). */
static void test_e2e_vs_hkdf(void **state)
{
    uint8_t master[32], two[64];
    struct kdf_e2e_keys k;
    seq(master, sizeof master, 7);
    assert_int_equal(kdf_e2e_expand(master, &k), M2M_OK);
    gnutls_datum_t key = {master, 32}, info = {(unsigned char *)KDF_LABEL_E2E_MSG_AUTH,
                                               sizeof KDF_LABEL_E2E_MSG_AUTH - 1};
    assert_int_equal(gnutls_hkdf_expand(GNUTLS_MAC_SHA256, &key, &info, two, 64), 0);
    assert_memory_equal(k.msg_auth, two, 32);
    assert_memory_not_equal(k.msg_conf, two + 32, 32);
    /* T(2) by hand: HMAC(master, T(1) || label_2 || 0x02) */
    uint8_t msg[32 + sizeof KDF_LABEL_E2E_MSG_CONF], t2[32];
    memcpy(msg, k.msg_auth, 32);
    memcpy(msg + 32, KDF_LABEL_E2E_MSG_CONF, sizeof KDF_LABEL_E2E_MSG_CONF - 1);
    msg[sizeof msg - 1] = 0x02;
    assert_int_equal(gnutls_hmac_fast(GNUTLS_MAC_SHA256, master, 32, msg, sizeof msg, t2), 0);
    assert_memory_equal(k.msg_conf, t2, 32);
    /* an absent salt is the same as 32 zero bytes (RFC 5869 2.2) */
    uint8_t zero[32] = {0}, m1[32], m2[32];
    assert_int_equal(kdf_e2e_master(NULL, 0, master, 32, m1), M2M_OK);
    assert_int_equal(kdf_e2e_master(zero, 32, master, 32, m2), M2M_OK);
    assert_memory_equal(m1, m2, 32);
    assert_int_equal(kdf_e2e_master(zero, 16, master, 32, m2), M2M_OK);
    assert_memory_equal(m1, m2, 32); /* HMAC pads short keys with zeros: also equal */
    zero[0] = 1;
    assert_int_equal(kdf_e2e_master(zero, 32, master, 32, m2), M2M_OK);
    assert_memory_not_equal(m1, m2, 32);
}

/* The output depends on every input byte: identity, SUID, key. */
static void test_inputs_matter(void **state)
{
    uint8_t ke[32], a[32], b[32];
    seq(ke, sizeof ke, 0);
    assert_int_equal(kdf_usage_key(ke, 32, 22, U("cse.example.com"), 15, a), M2M_OK);
    assert_int_equal(kdf_usage_key(ke, 32, 23, U("cse.example.com"), 15, b), M2M_OK);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(kdf_usage_key(ke, 32, 22, U("cse.example.con"), 15, b), M2M_OK);
    assert_memory_not_equal(a, b, 32);
    ke[31] ^= 1;
    assert_int_equal(kdf_usage_key(ke, 32, 22, U("cse.example.com"), 15, b), M2M_OK);
    assert_memory_not_equal(a, b, 32);
    ke[31] ^= 1;
    /* Km and Kpsa of one identity differ (different labels) */
    assert_int_equal(kdf_km(ke, 32, U("x.example"), 9, a), M2M_OK);
    assert_int_equal(kdf_kpsa(ke, 32, U("x.example"), 9, b), M2M_OK);
    assert_memory_not_equal(a, b, 32);
}

/* ---- rejected inputs ---- */

static void test_bad_key_lengths(void **state)
{
    uint8_t ke[64], out[32];
    seq(ke, sizeof ke, 1);
    static const size_t bad[] = {0, 1, 16, 31, 33, 48, 64};
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++) {
        memset(out, 0xAA, sizeof out);
        assert_int_equal(kdf_km(ke, bad[i], U("m.example"), 9, out), M2M_ERR_MALFORMED);
        assert_true(all_zero(out, 32)); /* never a stale key */
        memset(out, 0xAA, sizeof out);
        assert_int_equal(kdf_kpsa(ke, bad[i], U("m.example"), 9, out), M2M_ERR_MALFORMED);
        assert_true(all_zero(out, 32));
        memset(out, 0xAA, sizeof out);
        assert_int_equal(kdf_usage_key(ke, bad[i], 22, U("m.example"), 9, out), M2M_ERR_MALFORMED);
        assert_true(all_zero(out, 32));
    }
    assert_int_equal(kdf_km(NULL, 32, U("m"), 1, out), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_km(ke, 32, U("m"), 1, NULL), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_kpsa(NULL, 32, U("m"), 1, out), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_usage_key(NULL, 32, 22, U("m"), 1, out), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_usage_key(ke, 32, 22, U("m"), 1, NULL), M2M_ERR_MALFORMED);

    /* e2e master: salt up to 64, Kpsa 16..64 */
    uint8_t m[32];
    assert_int_equal(kdf_e2e_master(ke, 65, ke, 32, m), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_e2e_master(NULL, 1, ke, 32, m), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_e2e_master(ke, 64, ke, 64, m), M2M_OK);
    assert_int_equal(kdf_e2e_master(ke, 32, ke, 15, m), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_e2e_master(ke, 32, ke, 65, m), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_e2e_master(ke, 32, NULL, 32, m), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_e2e_master(ke, 32, ke, 32, NULL), M2M_ERR_MALFORMED);
    assert_true(all_zero(m, 32));
    struct kdf_e2e_keys k;
    assert_int_equal(kdf_e2e_expand(NULL, &k), M2M_ERR_MALFORMED);
    assert_true(all_zero((const uint8_t *)&k, sizeof k));
    assert_int_equal(kdf_e2e_expand(ke, NULL), M2M_ERR_MALFORMED);

    /* sessionESPrimKey: 16/24/32-byte output, 16-byte rands, 16..64-byte pairwise key */
    uint8_t r[32];
    seq(r, sizeof r, 9);
    static const size_t bad_out[] = {0, 1, 15, 17, 20, 31, 33, 64};
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad_out); i++)
        assert_int_equal(kdf_esprim_session(ke, 32, r, 16, r, 16, out, bad_out[i]),
                         M2M_ERR_MALFORMED);
    memset(out, 0xAA, sizeof out);
    assert_int_equal(kdf_esprim_session(ke, 32, r, 15, r, 16, out, 32), M2M_ERR_MALFORMED);
    assert_true(all_zero(out, 32));
    assert_int_equal(kdf_esprim_session(ke, 32, r, 16, r, 17, out, 32), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_esprim_session(ke, 32, NULL, 16, r, 16, out, 32), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_esprim_session(ke, 32, r, 16, NULL, 16, out, 32), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_esprim_session(ke, 15, r, 16, r, 16, out, 32), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_esprim_session(ke, 65, r, 16, r, 16, out, 32), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_esprim_session(NULL, 32, r, 16, r, 16, out, 32), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_esprim_session(ke, 32, r, 16, r, 16, NULL, 32), M2M_ERR_MALFORMED);

    /* exporter split: exactly 48 bytes */
    uint8_t id[16];
    memset(out, 0xAA, sizeof out);
    memset(id, 0xAA, sizeof id);
    assert_int_equal(kdf_export_split(ke, 47, id, out), M2M_ERR_MALFORMED);
    assert_true(all_zero(out, 32) && all_zero(id, 16));
    assert_int_equal(kdf_export_split(ke, 49, id, out), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_export_split(ke, 0, id, out), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_export_split(NULL, 48, id, out), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_export_split(ke, 48, NULL, out), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_export_split(ke, 48, id, NULL), M2M_ERR_MALFORMED);
}

static void test_bad_identities(void **state)
{
    uint8_t ke[32], out[32];
    char longid[KDF_IDENTITY_MAX + 2];
    seq(ke, sizeof ke, 0);
    memset(longid, 'a', sizeof longid);
    static const struct {
        const char *s;
        size_t n;
    } bad[] = {
        {"", 0},
        {"maf\0example.com", 15},        /* NUL inside */
        {"maf.example.com\0", 16},       /* trailing NUL counted in the length */
        {"maf example.com", 15},         /* space */
        {"maf.example.com\n", 16},       /* control */
        {"maf.exampl\x7f", 11},          /* DEL */
        {"caf\xc3\xa9.example", 13},     /* U+00E9: NFKC would be needed */
        {"\xef\xbc\xa1\xef\xbc\xa2", 6}, /* fullwidth "AB": NFKC would map it to "AB" */
        {"\xff", 1},                     /* not UTF-8 at all */
    };
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++) {
        assert_int_equal(kdf_identity_check(U(bad[i].s), bad[i].n), M2M_ERR_MALFORMED);
        memset(out, 0xAA, sizeof out);
        assert_int_equal(kdf_km(ke, 32, U(bad[i].s), bad[i].n, out), M2M_ERR_MALFORMED);
        assert_true(all_zero(out, 32));
        assert_int_equal(kdf_kpsa(ke, 32, U(bad[i].s), bad[i].n, out), M2M_ERR_MALFORMED);
        assert_int_equal(kdf_usage_key(ke, 32, 22, U(bad[i].s), bad[i].n, out), M2M_ERR_MALFORMED);
    }
    assert_int_equal(kdf_identity_check(NULL, 3), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_identity_check(U(longid), KDF_IDENTITY_MAX), M2M_OK);
    assert_int_equal(kdf_identity_check(U(longid), KDF_IDENTITY_MAX + 1), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_km(ke, 32, U(longid), KDF_IDENTITY_MAX + 1, out), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_identity_check(U("!~"), 2), M2M_OK);
}

static void test_suid(void **state)
{
    static const unsigned good[] = {10, 11, 12, 13, 14, 15, 21, 22, 23, 24, 25,
                                    32, 33, 34, 35, 40, 41, 42, 43, 44, 45};
    static const unsigned bad[] = {0,  1,  9,  16, 20,  26,  30,   31,
                                   36, 39, 46, 99, 100, 220, 1000, 0xffffffffu};
    uint8_t ke[32], out[32];
    seq(ke, sizeof ke, 0);
    for (size_t i = 0; i < M2M_ARRAY_LEN(good); i++) {
        assert_true(kdf_suid_valid(good[i]));
        assert_int_equal(kdf_usage_key(ke, 32, good[i], U("t.example"), 9, out), M2M_OK);
    }
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++) {
        assert_false(kdf_suid_valid(bad[i]));
        memset(out, 0xAA, sizeof out);
        assert_int_equal(kdf_usage_key(ke, 32, bad[i], U("t.example"), 9, out), M2M_ERR_MALFORMED);
        assert_true(all_zero(out, 32));
    }
}

/* ---- identifiers ---- */

static void test_fqdn(void **state)
{
    char l63[80], l64[80], big[300];
    memset(l63, 'a', 63);
    memcpy(l63 + 63, ".com", 5);
    memset(l64, 'a', 64);
    memcpy(l64 + 64, ".com", 5);
    /* 253 = 63+1+63+1+63+1+61 */
    memset(big, 'b', sizeof big);
    big[63] = big[127] = big[191] = '.';
    static const char *good[] = {"mef.example.com", "localhost",    "a",         "a-b.c1",
                                 "1.2.3.4",         "x--y.example", "0a.example"};
    static const char *bad[] = {
        "",          "MEF.example.com", "mef.Example.com", "mef.example.com.", ".mef.com",
        "mef..com",  "-mef.com",        "mef-.com",        "mef.-com",         "me_f.com",
        "mef@x.com", "mef .com",        "mef/com",         "m\xc3\xa9.com",    "*.example.com"};
    for (size_t i = 0; i < M2M_ARRAY_LEN(good); i++)
        assert_true(kdf_fqdn_valid(U(good[i]), strlen(good[i])));
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++)
        assert_false(kdf_fqdn_valid(U(bad[i]), strlen(bad[i])));
    assert_true(kdf_fqdn_valid(U(l63), strlen(l63)));
    assert_false(kdf_fqdn_valid(U(l64), strlen(l64)));
    assert_true(kdf_fqdn_valid(U(big), 253));
    assert_false(kdf_fqdn_valid(U(big), 254));
    assert_false(kdf_fqdn_valid(U("mef\0com"), 7));
    assert_false(kdf_fqdn_valid(NULL, 3));
}

static void test_keid_format(void **state)
{
    uint8_t id[16];
    char out[KDF_KEY_ID_BUF];
    size_t n = 99;
    seq(id, sizeof id, 0xF0);
    assert_int_equal(kdf_keid_format(id, "maf.example.com", 15, out, sizeof out, &n), M2M_OK);
    assert_string_equal(out, "F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF@maf.example.com");
    assert_int_equal(n, 48);
    /* exactly fitting buffer, then one byte short */
    assert_int_equal(kdf_keid_format(id, "maf.example.com", 15, out, 49, NULL), M2M_OK);
    assert_int_equal(kdf_keid_format(id, "maf.example.com", 15, out, 48, NULL), M2M_ERR_LIMIT);
    assert_string_equal(out, "");
    assert_int_equal(kdf_keid_format(id, "maf.example.com", 15, out, 0, NULL), M2M_ERR_LIMIT);
    assert_int_equal(kdf_keid_format(id, "maf.example.com", 15, NULL, 64, NULL), M2M_ERR_LIMIT);
    /* bad FQDNs */
    static const char *bad[] = {"MAF.example.com", "maf.example.com.", "", "maf_x.com", "a@b.com"};
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++) {
        strcpy(out, "junk");
        assert_int_equal(kdf_keid_format(id, bad[i], strlen(bad[i]), out, sizeof out, NULL),
                         M2M_ERR_MALFORMED);
        assert_string_equal(out, "");
    }
    assert_int_equal(kdf_keid_format(NULL, "m.com", 5, out, sizeof out, NULL), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_keid_format(id, NULL, 5, out, sizeof out, NULL), M2M_ERR_MALFORMED);
    /* a valid FQDN that makes the identifier longer than KDF_KEY_ID_MAX */
    char big[300];
    memset(big, 'b', sizeof big);
    big[63] = big[127] = big[191] = '.';
    size_t fit = KDF_KEY_ID_MAX - 33;
    assert_int_equal(kdf_keid_format(id, big, fit, out, sizeof out, &n), M2M_OK);
    assert_int_equal(n, KDF_KEY_ID_MAX);
    assert_int_equal(kdf_keid_format(id, big, fit + 1, out, sizeof out, NULL), M2M_ERR_MALFORMED);
}

static void test_keid_parse(void **state)
{
    uint8_t id[16], want[16];
    const uint8_t *f = NULL;
    size_t fl = 0;
    seq(want, sizeof want, 0xA0);
    static const char *good[] = {"A0A1A2A3A4A5A6A7A8A9AAABACADAEAF@mef.example.com",
                                 "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf@mef.example.com",
                                 "a0A1a2A3a4A5a6A7a8A9aAAbAcAdAeAf@mef.example.com"};
    for (size_t i = 0; i < M2M_ARRAY_LEN(good); i++) {
        assert_int_equal(kdf_keid_parse(U(good[i]), strlen(good[i]), id, &f, &fl), M2M_OK);
        assert_memory_equal(id, want, 16);
        assert_int_equal(fl, 15);
        assert_memory_equal(f, "mef.example.com", 15);
    }
    static const char *bad[] = {
        "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF@MEF.example.com",  /* upper-case FQDN */
        "A0A1A2A3A4A5A6A7A8A9AAABACADAEA@mef.example.com",   /* 31 digits */
        "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF0@mef.example.com", /* 33 digits */
        "A0A1A2A3A4A5A6A7A8A9AAABACADAEAG@mef.example.com",  /* not hex */
        "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF@",
        "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF",
        "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF@mef.example.com.",
        "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF@@mef.example.com",
        "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF@mef@example.com",
        "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF mef.example.com",
        "-0A1A2A3A4A5A6A7A8A9AAABACADAEAF@mef.example.com",
        "0x0A1A2A3A4A5A6A7A8A9AAABACADAEA@mef.example.com",
        "@mef.example.com",
        "",
    };
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++) {
        memset(id, 0xAA, sizeof id);
        assert_int_equal(kdf_keid_parse(U(bad[i]), strlen(bad[i]), id, &f, &fl), M2M_ERR_MALFORMED);
        assert_true(all_zero(id, 16));
    }
    /* NUL inside: the length, not a terminator, bounds the input */
    static const char nul[] = "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF@mef\0example.com";
    assert_int_equal(kdf_keid_parse(U(nul), sizeof nul - 1, id, &f, &fl), M2M_ERR_MALFORMED);
    static const char hexnul[] = "A0A1A2A3A4A5A6A7\0A9AAABACADAEAF@mef.example.com";
    assert_int_equal(kdf_keid_parse(U(hexnul), sizeof hexnul - 1, id, &f, &fl), M2M_ERR_MALFORMED);
    /* the length is honoured: a valid prefix with a longer buffer */
    assert_int_equal(kdf_keid_parse(U(good[0]), 36, id, &f, &fl), M2M_OK);
    assert_int_equal(fl, 3);
    assert_int_equal(kdf_keid_parse(NULL, 48, id, &f, &fl), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_keid_parse(U(good[0]), 48, NULL, &f, &fl), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_keid_parse(U(good[0]), 48, id, NULL, &fl), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_keid_parse(U(good[0]), 48, id, &f, NULL), M2M_ERR_MALFORMED);
}

static void test_scoped_id(void **state)
{
    struct kdf_scoped_id a, b;
    static const char *good[] = {"thiskey@mymef.com", "1he83he@issuer.example",
                                 "my-key_name@maf.example.com", "firstname.lastname@maf.example",
                                 "A@b"};
    for (size_t i = 0; i < M2M_ARRAY_LEN(good); i++)
        assert_int_equal(kdf_scoped_id_parse(U(good[i]), strlen(good[i]), &a), M2M_OK);
    assert_int_equal(kdf_scoped_id_parse(U("my-key_name@maf.example.com"), 27, &a), M2M_OK);
    assert_int_equal(a.rel_len, 11);
    assert_memory_equal(a.rel, "my-key_name", 11);
    assert_int_equal(a.fqdn_len, 15);
    assert_memory_equal(a.fqdn, "maf.example.com", 15);

    char rel64[100], rel65[100];
    memset(rel64, 'r', 64);
    strcpy(rel64 + 64, "@x.com");
    memset(rel65, 'r', 65);
    strcpy(rel65 + 65, "@x.com");
    assert_int_equal(kdf_scoped_id_parse(U(rel64), strlen(rel64), &a), M2M_OK);
    assert_int_equal(kdf_scoped_id_parse(U(rel65), strlen(rel65), &a), M2M_ERR_MALFORMED);

    static const char *bad[] = {"thiskey@MyMef.com",
                                "thiskey@mymef.com.",
                                "thiskey@",
                                "@mymef.com",
                                "thiskey",
                                "this key@mymef.com",
                                "this/key@mymef.com",
                                "this*key@mymef.com",
                                "a@b@mymef.com",
                                "this:key@mymef.com",
                                "th\xc3\xafs@mymef.com",
                                ""};
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++) {
        a.rel_len = 99;
        assert_int_equal(kdf_scoped_id_parse(U(bad[i]), strlen(bad[i]), &a), M2M_ERR_MALFORMED);
        assert_int_equal(a.rel_len, 0);
    }
    static const char nul[] = "this\0key@mymef.com";
    assert_int_equal(kdf_scoped_id_parse(U(nul), sizeof nul - 1, &a), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_scoped_id_parse(NULL, 3, &a), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_scoped_id_parse(U("a@b"), 3, NULL), M2M_ERR_MALFORMED);

    /* 10.6: KmID relative part ignores case; 10.5 KpsaID does not ([INTERP]) */
    assert_int_equal(kdf_scoped_id_parse(U("MyKm.1@maf.example"), 18, &a), M2M_OK);
    assert_int_equal(kdf_scoped_id_parse(U("mykm.1@maf.example"), 18, &b), M2M_OK);
    assert_true(kdf_kmid_equal(&a, &b));
    assert_false(kdf_kpsaid_equal(&a, &b));
    assert_true(kdf_kpsaid_equal(&a, &a));
    assert_int_equal(kdf_scoped_id_parse(U("mykm.2@maf.example"), 18, &b), M2M_OK);
    assert_false(kdf_kmid_equal(&a, &b));
    assert_int_equal(kdf_scoped_id_parse(U("mykm.1@maf.exampla"), 18, &b), M2M_OK);
    assert_false(kdf_kmid_equal(&a, &b));
    assert_int_equal(kdf_scoped_id_parse(U("mykm.@maf.example"), 17, &b), M2M_OK);
    assert_false(kdf_kmid_equal(&a, &b));
    assert_false(kdf_kpsaid_equal(&a, &b));
    assert_false(kdf_kmid_equal(&a, NULL));
    assert_false(kdf_kpsaid_equal(NULL, &a));
}

static void test_cred_id(void **state)
{
    char out[KDF_CRED_ID_MAX + 1];
    size_t n = 0;
    unsigned t = 0;
    const uint8_t *v = NULL;
    size_t vl = 0;
    assert_int_equal(kdf_cred_id_format(10, "thiskey@mymef.com", 17, out, sizeof out, &n), M2M_OK);
    assert_string_equal(out, "10-thiskey@mymef.com");
    assert_int_equal(n, 20);
    assert_int_equal(kdf_cred_id_parse(U(out), n, &t, &v, &vl), M2M_OK);
    assert_int_equal(t, 10);
    assert_int_equal(vl, 17);
    assert_memory_equal(v, "thiskey@mymef.com", 17);
    /* value with '-' and ':' ([INTERP] GAP-2 item 30) */
    static const char ni[] = "30-ni:///sha-256;f4OxZX_x_FO5LcGBSKHWXfwtSx-j1ncoSt3SABJtkGk";
    assert_int_equal(kdf_cred_id_parse(U(ni), sizeof ni - 1, &t, &v, &vl), M2M_OK);
    assert_int_equal(t, 30);
    assert_memory_equal(v, "ni:///", 6);
    assert_int_equal(kdf_cred_id_parse(U("999-a"), 5, &t, &v, &vl), M2M_OK);
    assert_int_equal(t, 999);
    assert_int_equal(kdf_cred_id_parse(U("1-a-b"), 5, &t, &v, &vl), M2M_OK);
    assert_int_equal(vl, 3);

    static const char *bad[] = {"0-a",    "010-a",  "1000-a",      "-a",     "10-",
                                "10",     "10a",    "+10-a",       "10 -a",  "10-a b",
                                "10-a<b", "10-a\"", "10-{x}",      "10-a|b", "10-a\\",
                                "10-^",   "10-`",   "10-\xc3\xa9", "",       "a-10"};
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++)
        assert_int_equal(kdf_cred_id_parse(U(bad[i]), strlen(bad[i]), &t, &v, &vl),
                         M2M_ERR_MALFORMED);
    static const char nul[] = "10-a\0b";
    assert_int_equal(kdf_cred_id_parse(U(nul), sizeof nul - 1, &t, &v, &vl), M2M_ERR_MALFORMED);
    char big[KDF_CRED_ID_MAX + 8];
    memcpy(big, "10-", 3);
    memset(big + 3, 'v', sizeof big - 3);
    assert_int_equal(kdf_cred_id_parse(U(big), KDF_CRED_ID_MAX, &t, &v, &vl), M2M_OK);
    assert_int_equal(kdf_cred_id_parse(U(big), KDF_CRED_ID_MAX + 1, &t, &v, &vl),
                     M2M_ERR_MALFORMED);
    assert_int_equal(kdf_cred_id_parse(NULL, 4, &t, &v, &vl), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_cred_id_parse(U("1-a"), 3, NULL, &v, &vl), M2M_ERR_MALFORMED);

    /* formatting refuses what parsing refuses */
    assert_int_equal(kdf_cred_id_format(0, "a", 1, out, sizeof out, NULL), M2M_ERR_MALFORMED);
    assert_string_equal(out, "");
    assert_int_equal(kdf_cred_id_format(1000, "a", 1, out, sizeof out, NULL), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_cred_id_format(12, "a b", 3, out, sizeof out, NULL), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_cred_id_format(12, "", 0, out, sizeof out, NULL), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_cred_id_format(12, NULL, 1, out, sizeof out, NULL), M2M_ERR_MALFORMED);
    assert_int_equal(kdf_cred_id_format(12, big + 3, KDF_CRED_ID_MAX - 3, out, sizeof out, &n),
                     M2M_OK);
    assert_int_equal(n, KDF_CRED_ID_MAX);
    assert_int_equal(kdf_cred_id_format(12, big + 3, KDF_CRED_ID_MAX - 2, out, sizeof out, NULL),
                     M2M_ERR_MALFORMED);
    assert_int_equal(kdf_cred_id_format(12, "k@m.com", 7, out, 11, NULL), M2M_OK);
    assert_int_equal(kdf_cred_id_format(12, "k@m.com", 7, out, 10, NULL), M2M_ERR_LIMIT);
    assert_string_equal(out, "");
    assert_int_equal(kdf_cred_id_format(12, "k@m.com", 7, NULL, 10, NULL), M2M_ERR_LIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),        cmocka_unit_test(test_tv4),
        cmocka_unit_test(test_labels),         cmocka_unit_test(test_e2e_vs_hkdf),
        cmocka_unit_test(test_inputs_matter),  cmocka_unit_test(test_bad_key_lengths),
        cmocka_unit_test(test_bad_identities), cmocka_unit_test(test_suid),
        cmocka_unit_test(test_fqdn),           cmocka_unit_test(test_keid_format),
        cmocka_unit_test(test_keid_parse),     cmocka_unit_test(test_scoped_id),
        cmocka_unit_test(test_cred_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
