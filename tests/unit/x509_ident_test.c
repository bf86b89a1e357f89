/* x509_ident_test.c: the identity of a DER certificate (src/tls/x509_ident.c): dev PKI
 * certificates, SAN URI > dNSName > CN precedence, every name refusal (wildcard in any text SAN,
 * control characters, NUL, space, high bytes), length and count limits, malformed and truncated
 * DER, and the bounded SubjectPublicKeyInfo walk on hand-made DER. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tls/pki.h"
#include "tls/x509_ident.h"

static char g_dir[128], g_ca[512], g_cert[512], g_key[512];
static gnutls_x509_privkey_t g_pk;

static int setup(void **state)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/m2m_x509id_XXXXXX");
    if (mkdtemp(g_dir) == NULL ||
        pki_ensure_dev(g_dir, NULL, g_ca, g_cert, g_key, sizeof g_ca) != M2M_OK)
        return -1;
    if (gnutls_x509_privkey_init(&g_pk) < 0 ||
        gnutls_x509_privkey_generate(g_pk, GNUTLS_PK_ECDSA,
                                     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    char cmd[256];
    gnutls_x509_privkey_deinit(g_pk);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

struct san {
    int type;
    const char *data;
    size_t len; /* 0: strlen(data) */
};

/* A self-signed certificate with the given SANs (in order) and CN (NULL: none), as DER. */
static void make_cert(const struct san *sans, size_t n, const char *cn, gnutls_datum_t *der)
{
    gnutls_x509_crt_t crt;
    static const uint8_t serial[] = {0x01, 0x23};
    assert_int_equal(gnutls_x509_crt_init(&crt), 0);
    assert_int_equal(gnutls_x509_crt_set_version(crt, 3), 0);
    assert_int_equal(gnutls_x509_crt_set_serial(crt, serial, sizeof serial), 0);
    assert_int_equal(gnutls_x509_crt_set_activation_time(crt, time(NULL) - 60), 0);
    assert_int_equal(gnutls_x509_crt_set_expiration_time(crt, time(NULL) + 3600), 0);
    assert_int_equal(gnutls_x509_crt_set_key(crt, g_pk), 0);
    if (cn != NULL)
        assert_int_equal(
            gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn)), 0);
    for (size_t i = 0; i < n; i++) {
        size_t len = sans[i].len ? sans[i].len : strlen(sans[i].data);
        assert_int_equal(gnutls_x509_crt_set_subject_alt_name(crt, sans[i].type, sans[i].data,
                                                              (unsigned)len, GNUTLS_FSAN_APPEND),
                         0);
    }
    assert_int_equal(gnutls_x509_crt_sign2(crt, crt, g_pk, GNUTLS_DIG_SHA256, 0), 0);
    assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, der), 0);
    gnutls_x509_crt_deinit(crt);
}

/* Overwrites the first len bytes of every occurrence of the marker "XqZ~" in der: hand-made edge
 * cases that no certificate library would write (the signature no longer matches; we never
 * verify). A self-signed certificate holds its CN twice (issuer and subject). */
static void patch(gnutls_datum_t *der, const char *to, size_t len)
{
    size_t hits = 0;
    for (uint8_t *p = der->data; (p = memmem(p, der->size - (size_t)(p - der->data), "XqZ~", 4));
         p++, hits++)
        memcpy(p, to, len);
    assert_true(hits > 0);
}

/* x509_ident_from_der on a heap copy of exactly der's size (ASan sees any overread). */
static m2m_rc ident(const gnutls_datum_t *der, struct x509_ident *id)
{
    uint8_t *copy = malloc(der->size);
    assert_non_null(copy);
    memcpy(copy, der->data, der->size);
    memset(id, 0x5a, sizeof *id);
    m2m_rc rc = x509_ident_from_der(copy, der->size, id);
    free(copy);
    if (rc != M2M_OK) { /* *out is zeroed on failure */
        assert_int_equal(id->identity[0], 0);
        assert_int_equal(id->cred_id[0], 0);
        assert_int_equal(id->spki_ni[0], 0);
        assert_int_equal(id->source, 0);
    }
    return rc;
}

static m2m_rc ident_of(const struct san *sans, size_t n, const char *cn, struct x509_ident *id)
{
    gnutls_datum_t der;
    make_cert(sans, n, cn, &der);
    m2m_rc rc = ident(&der, id);
    gnutls_free(der.data);
    return rc;
}

/* The expected Credential-ID and ni name, computed another way: SHA-256 of the DER and the
 * SubjectPublicKeyInfo as GnuTLS re-encodes it. */
static void expect_ids(const gnutls_datum_t *der, const struct x509_ident *id)
{
    uint8_t md[32];
    char want[80], ni[TLS_NI_ID_MAX];
    gnutls_x509_crt_t crt;
    gnutls_pubkey_t pub;
    gnutls_datum_t spki = {NULL, 0};
    assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, der->data, der->size, md), 0);
    strcpy(want, "cert:");
    for (size_t i = 0; i < sizeof md; i++)
        snprintf(want + 5 + 2 * i, 3, "%02x", md[i]);
    assert_string_equal(id->cred_id, want);
    assert_int_equal(gnutls_x509_crt_init(&crt), 0);
    assert_int_equal(gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER), 0);
    assert_int_equal(gnutls_pubkey_init(&pub), 0);
    assert_int_equal(gnutls_pubkey_import_x509(pub, crt, 0), 0);
    assert_int_equal(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki), 0);
    assert_int_equal(tls_rpk_ni_id(spki.data, spki.size, ni, sizeof ni), M2M_OK);
    assert_string_equal(id->spki_ni, ni);
    assert_int_equal(strncmp(ni, "ni:///sha-256;", 14), 0);
    gnutls_free(spki.data);
    gnutls_pubkey_deinit(pub);
    gnutls_x509_crt_deinit(crt);
}

static void load_pem_as_der(const char *path, gnutls_datum_t *der)
{
    gnutls_datum_t pem = {NULL, 0};
    gnutls_x509_crt_t crt;
    assert_int_equal(gnutls_load_file(path, &pem), 0);
    assert_int_equal(gnutls_x509_crt_init(&crt), 0);
    assert_int_equal(gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM), 0);
    assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, der), 0);
    gnutls_x509_crt_deinit(crt);
    gnutls_free(pem.data);
}

/* Certificates of `m2msec pki issue` (pki_issue) and the dev server certificate. */
static void test_dev_pki(void **state)
{
    char cert[600], key[600];
    gnutls_datum_t der;
    struct x509_ident id;
    snprintf(cert, sizeof cert, "%s/mn.pem", g_dir);
    snprintf(key, sizeof key, "%s/mn.key", g_dir);
    assert_int_equal(pki_issue(g_dir, "//m2msec.example.com/id-mn", "mn-cse", 30, cert, key),
                     M2M_OK);
    load_pem_as_der(cert, &der);
    assert_int_equal(ident(&der, &id), M2M_OK);
    assert_string_equal(id.identity, "//m2msec.example.com/id-mn");
    assert_int_equal(id.source, X509_IDENT_SAN_URI);
    expect_ids(&der, &id);
    gnutls_free(der.data);

    assert_int_equal(pki_issue(g_dir, NULL, "Cae-legacy", 30, cert, key), M2M_OK);
    load_pem_as_der(cert, &der);
    assert_int_equal(ident(&der, &id), M2M_OK);
    assert_string_equal(id.identity, "Cae-legacy");
    assert_int_equal(id.source, X509_IDENT_CN);
    expect_ids(&der, &id);
    gnutls_free(der.data);

    load_pem_as_der(g_cert, &der); /* SAN DNS localhost first, then IP addresses */
    assert_int_equal(ident(&der, &id), M2M_OK);
    assert_string_equal(id.identity, "localhost");
    assert_int_equal(id.source, X509_IDENT_SAN_DNS);
    expect_ids(&der, &id);
    gnutls_free(der.data);
}

static void test_precedence(void **state)
{
    struct x509_ident id;
    const struct san mixed[] = {{GNUTLS_SAN_DNSNAME, "a.example.com", 0},
                                {GNUTLS_SAN_RFC822NAME, "ops@example.com", 0},
                                {GNUTLS_SAN_URI, "urn:dev:1", 0},
                                {GNUTLS_SAN_URI, "urn:dev:2", 0}};
    assert_int_equal(ident_of(mixed, 4, "ignored", &id), M2M_OK);
    assert_string_equal(id.identity, "urn:dev:1");
    assert_int_equal(id.source, X509_IDENT_SAN_URI);
    const struct san dns[] = {{GNUTLS_SAN_IPADDRESS, "\x7f\x00\x00\x01", 4},
                              {GNUTLS_SAN_DNSNAME, "b.example.com", 0},
                              {GNUTLS_SAN_DNSNAME, "c.example.com", 0}};
    assert_int_equal(ident_of(dns, 3, "ignored", &id), M2M_OK);
    assert_string_equal(id.identity, "b.example.com");
    assert_int_equal(id.source, X509_IDENT_SAN_DNS);
    /* an rfc822Name or IP address alone is no identity: the CN is used */
    assert_int_equal(ident_of(mixed + 1, 1, "Cae1", &id), M2M_OK);
    assert_string_equal(id.identity, "Cae1");
    assert_int_equal(id.source, X509_IDENT_CN);
    assert_string_equal(x509_ident_source_name(X509_IDENT_SAN_URI), "san-uri");
    assert_string_equal(x509_ident_source_name(X509_IDENT_SAN_DNS), "san-dns");
    assert_string_equal(x509_ident_source_name(X509_IDENT_CN), "cn");
    assert_string_equal(x509_ident_source_name(0), "?");
}

/* TS-0003 8.1.2.5 / F8: a wildcard in any text SAN refuses the certificate, chosen or not. */
static void test_wildcards(void **state)
{
    struct x509_ident id;
    const struct san w1[] = {{GNUTLS_SAN_URI, "//sp/Cae1", 0},
                             {GNUTLS_SAN_DNSNAME, "*.example.com", 0}};
    assert_int_equal(ident_of(w1, 2, NULL, &id), M2M_ERR_DENIED);
    const struct san w2[] = {{GNUTLS_SAN_DNSNAME, "a.example.com", 0},
                             {GNUTLS_SAN_RFC822NAME, "*@example.com", 0}};
    assert_int_equal(ident_of(w2, 2, NULL, &id), M2M_ERR_DENIED);
    const struct san w3[] = {{GNUTLS_SAN_URI, "//sp/C*", 0}};
    assert_int_equal(ident_of(w3, 1, NULL, &id), M2M_ERR_DENIED);
    /* the CN is checked only when it is the identity */
    assert_int_equal(ident_of(NULL, 0, "*.example.com", &id), M2M_ERR_MALFORMED);
    assert_int_equal(ident_of(w2, 1, "*.example.com", &id), M2M_OK);
    assert_string_equal(id.identity, "a.example.com");
    /* a non-text SAN may hold any byte */
    const struct san ip[] = {{GNUTLS_SAN_IPADDRESS, "\x2a\x2a\x2a\x2a", 4},
                             {GNUTLS_SAN_URI, "urn:dev:ok", 0}};
    assert_int_equal(ident_of(ip, 2, NULL, &id), M2M_OK);
    assert_string_equal(id.identity, "urn:dev:ok");
}

/* Control characters, NUL, space, DEL and high bytes, patched into the DER by hand. */
static void test_bad_bytes(void **state)
{
    static const char *const bad[] = {"\x01", "\x00", " ", "\x7f", "\x80", "\xff", "\n", "\t"};
    struct x509_ident id;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const struct san uri[] = {{GNUTLS_SAN_URI, "urn:dev:XqZ~", 0}};
        const struct san dns[] = {{GNUTLS_SAN_URI, "urn:dev:ok", 0},
                                  {GNUTLS_SAN_DNSNAME, "XqZ~.example.com", 0}};
        gnutls_datum_t der;
        make_cert(uri, 1, NULL, &der);
        patch(&der, bad[i], 1);
        assert_int_not_equal(ident(&der, &id), M2M_OK);
        gnutls_free(der.data);
        make_cert(dns, 2, NULL, &der); /* the unchosen SAN is checked too */
        patch(&der, bad[i], 1);
        assert_int_not_equal(ident(&der, &id), M2M_OK);
        gnutls_free(der.data);
        make_cert(NULL, 0, "CaeXqZ~", &der);
        patch(&der, bad[i], 1);
        assert_int_equal(ident(&der, &id), M2M_ERR_MALFORMED);
        gnutls_free(der.data);
    }
    /* the CN comes RFC 4514-escaped; a leading '#' only as "\\#" */
    assert_int_equal(ident_of(NULL, 0, "#abc,d", &id), M2M_OK);
    assert_string_equal(id.identity, "\\#abc\\,d");
    const struct san sp[] = {{GNUTLS_SAN_DNSNAME, "a b.example.com", 0}};
    assert_int_equal(ident_of(sp, 1, NULL, &id), M2M_ERR_DENIED);
    /* neither SAN identity nor CN */
    const struct san ip[] = {{GNUTLS_SAN_IPADDRESS, "\x7f\x00\x00\x01", 4}};
    assert_int_equal(ident_of(ip, 1, NULL, &id), M2M_ERR_MALFORMED);
}

static void test_limits(void **state)
{
    struct x509_ident id;
    char name[M2M_ID_MAX + 8], cn[M2M_ID_MAX + 8];
    memset(name, 'a', sizeof name);
    memcpy(name, "urn:", 4);
    struct san one[] = {{GNUTLS_SAN_URI, name, M2M_ID_MAX - 2}};
    assert_int_equal(ident_of(one, 1, NULL, &id), M2M_OK);
    assert_int_equal(strlen(id.identity), M2M_ID_MAX - 2);
    one[0].len = M2M_ID_MAX - 1;
    assert_int_equal(ident_of(one, 1, NULL, &id), M2M_ERR_LIMIT);
    /* a long SAN that would not be chosen still refuses */
    struct san two[] = {{GNUTLS_SAN_URI, "urn:dev:1", 0}, {GNUTLS_SAN_DNSNAME, name, M2M_ID_MAX}};
    assert_int_equal(ident_of(two, 2, NULL, &id), M2M_ERR_LIMIT);
    memset(cn, 'c', sizeof cn);
    cn[M2M_ID_MAX - 2] = '\0';
    assert_int_equal(ident_of(NULL, 0, cn, &id), M2M_OK);
    cn[M2M_ID_MAX - 2] = 'c';
    cn[M2M_ID_MAX - 1] = '\0';
    assert_int_equal(ident_of(NULL, 0, cn, &id), M2M_ERR_MALFORMED);
    /* X509_IDENT_MAX_SAN - 1 entries are scanned to the end; X509_IDENT_MAX_SAN are too many */
    struct san many[X509_IDENT_MAX_SAN];
    for (size_t i = 0; i < X509_IDENT_MAX_SAN; i++)
        many[i] = (struct san){GNUTLS_SAN_DNSNAME, "m.example.com", 0};
    assert_int_equal(ident_of(many, X509_IDENT_MAX_SAN - 1, NULL, &id), M2M_OK);
    assert_int_equal(ident_of(many, X509_IDENT_MAX_SAN, NULL, &id), M2M_ERR_LIMIT);
}

/* Not a certificate: nothing, garbage, every truncation, a flipped outer tag. */
static void test_malformed_der(void **state)
{
    struct x509_ident id;
    gnutls_datum_t der, cut;
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x00};
    assert_int_equal(x509_ident_from_der(NULL, 10, &id), M2M_ERR_MALFORMED);
    assert_int_equal(x509_ident_from_der(junk, 0, &id), M2M_ERR_MALFORMED);
    cut = (gnutls_datum_t){(unsigned char *)junk, sizeof junk};
    assert_int_equal(ident(&cut, &id), M2M_ERR_MALFORMED);
    const struct san uri[] = {{GNUTLS_SAN_URI, "urn:dev:1", 0}};
    make_cert(uri, 1, NULL, &der);
    for (unsigned n = 1; n < der.size; n++) {
        cut = (gnutls_datum_t){der.data, n};
        assert_int_equal(ident(&cut, &id), M2M_ERR_MALFORMED);
    }
    der.data[0] = 0x31;
    assert_int_equal(ident(&der, &id), M2M_ERR_MALFORMED);
    gnutls_free(der.data);
}

/* Hand-made DER for the SubjectPublicKeyInfo walk. */
static void test_spki_walk(void **state)
{
    /* Certificate { TBS { serial, alg, issuer, validity, subject, spki {05 00} }, ... } */
    static const uint8_t v1[] = {0x30, 0x13, 0x30, 0x0f, 0x02, 0x01, 0x01, 0x30, 0x00, 0x30, 0x00,
                                 0x30, 0x00, 0x30, 0x00, 0x30, 0x02, 0x05, 0x00, 0x03, 0x00};
    static const uint8_t v3[] = {0x30, 0x81, 0x18, 0x30, 0x82, 0x00, 0x14, 0xa0, 0x03,
                                 0x02, 0x01, 0x02, 0x02, 0x01, 0x01, 0x30, 0x00, 0x30,
                                 0x00, 0x30, 0x00, 0x30, 0x00, 0x30, 0x02, 0x05, 0x00};
    const uint8_t *spki = NULL;
    size_t n = 0;
    uint8_t buf[64];
    assert_int_equal(x509_ident_spki(v1, sizeof v1, &spki, &n), M2M_OK);
    assert_ptr_equal(spki, v1 + 15);
    assert_int_equal(n, 4);
    assert_int_equal(x509_ident_spki(v3, sizeof v3, &spki, &n), M2M_OK);
    assert_ptr_equal(spki, v3 + 23);
    assert_int_equal(n, 4);
    for (size_t k = 0; k < sizeof v1; k++) /* every truncation */
        assert_int_equal(x509_ident_spki(v1, k, &spki, &n), M2M_ERR_MALFORMED);
    struct {
        size_t at;
        uint8_t to;
    } edits[] = {
        {1, 0x80},  /* indefinite length */
        {1, 0x85},  /* five length bytes */
        {1, 0x14},  /* longer than the input */
        {0, 0x1f},  /* high tag number form */
        {4, 0x04},  /* serial not an INTEGER */
        {15, 0x31}, /* SPKI not a SEQUENCE */
        {3, 0x0b},  /* TBS ends before the SPKI */
        {16, 0x03}, /* SPKI runs past the TBS */
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(buf, v1, sizeof v1);
        buf[edits[i].at] = edits[i].to;
        assert_int_equal(x509_ident_spki(buf, sizeof v1, &spki, &n), M2M_ERR_MALFORMED);
    }
    assert_int_equal(x509_ident_spki(NULL, 4, &spki, &n), M2M_ERR_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dev_pki),   cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_wildcards), cmocka_unit_test(test_bad_bytes),
        cmocka_unit_test(test_limits),    cmocka_unit_test(test_malformed_der),
        cmocka_unit_test(test_spki_walk),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
