/* est_test.c: the EST registration authority (src/mef/est.h): base64, /cacerts, /csrattrs, and
 * every accept and refuse path of /simpleenroll and /simplereenroll, checked with GnuTLS and,
 * when it is on PATH, the openssl CLI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs7.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "mef/est.h"
#include "tls/pki.h"

#define AE_ID "//m2msec.example.com/id-in/Cdev1"
#define AE_ID2 "//m2msec.example.com/id-in/Cdev2"

static char g_dir[256];
static char g_ca_pem[512], g_ca_key[512], g_srv_pem[512], g_srv_key[512];
static char g_other_dir[300];
static struct est_ca *g_ca;
static gnutls_x509_privkey_t g_key; /* the client's P-256 key, made once */
static uint8_t g_cb[EST_CB_LEN];
static char g_challenge[64]; /* base64(g_cb) */

/* ---- fixtures ---- */

static int setup(void **state)
{
    char dir[300], cert[512], key[512], oca[512];
    m2m_log_set_level(M2M_LOG_OFF);
    snprintf(g_dir, sizeof g_dir, "/tmp/m2m_est_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(dir, sizeof dir, "%s/ca", g_dir);
    assert_int_equal(pki_ensure_dev(dir, NULL, g_ca_pem, g_srv_pem, g_srv_key, sizeof g_ca_pem),
                     M2M_OK);
    snprintf(g_ca_key, sizeof g_ca_key, "%s/ca.key", dir);
    snprintf(g_other_dir, sizeof g_other_dir, "%s/other", g_dir);
    assert_int_equal(pki_ensure_dev(g_other_dir, NULL, oca, cert, key, sizeof oca), M2M_OK);
    assert_int_equal(est_ca_load(g_ca_pem, g_ca_key, &g_ca), M2M_OK);
    assert_int_equal(gnutls_x509_privkey_init(&g_key), 0);
    assert_int_equal(gnutls_x509_privkey_generate(g_key, GNUTLS_PK_ECDSA,
                                                  GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
                                                  0),
                     0);
    for (size_t i = 0; i < sizeof g_cb; i++)
        g_cb[i] = (uint8_t)(0xa0 + i);
    struct m2m_buf b = M2M_BUF_INIT;
    assert_int_equal(est_b64_encode(g_cb, sizeof g_cb, &b), M2M_OK);
    snprintf(g_challenge, sizeof g_challenge, "%s", (char *)b.data);
    m2m_buf_free(&b);
    return 0;
}

static int teardown(void **state)
{
    char cmd[512];
    est_ca_free(g_ca);
    gnutls_x509_privkey_deinit(g_key);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- building requests ---- */

struct csr_opts {
    gnutls_x509_privkey_t key;     /* NULL: g_key */
    const char *cn;                /* NULL: none */
    const char *san[3];            /* URIs */
    const char *dns;               /* a dNSName SAN instead of / besides the URIs */
    const char *challenge;         /* NULL: none */
    gnutls_digest_algorithm_t dig; /* 0: SHA-256 */
};

static gnutls_datum_t make_csr(const struct csr_opts *o)
{
    gnutls_x509_crq_t crq;
    gnutls_datum_t der = {NULL, 0};
    gnutls_x509_privkey_t key = o->key ? o->key : g_key;
    assert_int_equal(gnutls_x509_crq_init(&crq), 0);
    assert_int_equal(gnutls_x509_crq_set_version(crq, 1), 0);
    if (o->cn)
        assert_int_equal(gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, o->cn,
                                                       (unsigned)strlen(o->cn)),
                         0);
    assert_int_equal(gnutls_x509_crq_set_key(crq, key), 0);
    for (int i = 0; i < 3 && o->san[i]; i++)
        assert_int_equal(gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_URI, o->san[i],
                                                              (unsigned)strlen(o->san[i]),
                                                              GNUTLS_FSAN_APPEND),
                         0);
    if (o->dns)
        assert_int_equal(gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_DNSNAME, o->dns,
                                                              (unsigned)strlen(o->dns),
                                                              GNUTLS_FSAN_APPEND),
                         0);
    if (o->challenge)
        assert_int_equal(gnutls_x509_crq_set_challenge_password(crq, o->challenge), 0);
    assert_int_equal(gnutls_x509_crq_sign2(crq, key, o->dig ? o->dig : GNUTLS_DIG_SHA256, 0), 0);
    assert_int_equal(gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der), 0);
    gnutls_x509_crq_deinit(crq);
    return der;
}

/* The default request: CN and SAN AE_ID, the right challengePassword. */
static gnutls_datum_t good_csr(void)
{
    struct csr_opts o = {.cn = AE_ID, .san = {AE_ID}, .challenge = g_challenge};
    return make_csr(&o);
}

static char *b64(const uint8_t *p, size_t n)
{
    struct m2m_buf b = M2M_BUF_INIT;
    assert_int_equal(est_b64_encode(p, n, &b), M2M_OK);
    size_t len;
    return m2m_buf_steal(&b, &len);
}

static const char *const g_allowed[] = {AE_ID, "//m2msec.example.com/id-mn"};

static struct est_enroll_req req_for(const char *body)
{
    struct est_enroll_req r = {.body = (const uint8_t *)body,
                               .body_len = strlen(body),
                               .allowed_ids = g_allowed,
                               .n_allowed = 2,
                               .cb = g_cb,
                               .cb_len = EST_CB_LEN,
                               .days = 30,
                               .now_s = (int64_t)time(NULL)};
    return r;
}

/* Runs est_enroll on the DER request and checks the outcome; returns the output (or NULL). */
static struct m2m_buf enroll_der(const gnutls_datum_t *der, const struct est_enroll_req *tmpl,
                                 m2m_rc want_rc, int want_http)
{
    char *body = b64(der->data, der->size);
    struct est_enroll_req r = tmpl ? *tmpl : req_for(body);
    r.body = (const uint8_t *)body;
    r.body_len = strlen(body);
    struct m2m_buf out = M2M_BUF_INIT;
    struct est_result res;
    assert_int_equal(est_enroll(g_ca, &r, &out, &res), want_rc);
    assert_int_equal(res.http_status, want_http);
    if (want_rc == M2M_OK) {
        assert_string_equal(res.error, "");
        assert_true(out.len > 0);
    } else {
        assert_true(res.error[0] != '\0');
        assert_int_equal(out.len, 0);
    }
    free(body);
    return out;
}

static void expect(const gnutls_datum_t *der, m2m_rc want_rc, int want_http)
{
    struct m2m_buf out = enroll_der(der, NULL, want_rc, want_http);
    m2m_buf_free(&out);
}

/* ---- reading answers ---- */

static gnutls_datum_t unb64(const struct m2m_buf *b)
{
    gnutls_datum_t d = {gnutls_malloc(b->len + 1), 0};
    size_t n = 0;
    assert_non_null(d.data);
    assert_int_equal(est_b64_decode(b->data, b->len, d.data, b->len + 1, &n), M2M_OK);
    d.size = (unsigned)n;
    return d;
}

/* The single certificate of a certs-only PKCS#7 (base64). */
static gnutls_x509_crt_t p7_single_cert(const struct m2m_buf *b)
{
    gnutls_datum_t der = unb64(b), c = {NULL, 0};
    gnutls_pkcs7_t p7;
    gnutls_x509_crt_t crt;
    assert_int_equal(gnutls_pkcs7_init(&p7), 0);
    assert_int_equal(gnutls_pkcs7_import(p7, &der, GNUTLS_X509_FMT_DER), 0);
    assert_int_equal(gnutls_pkcs7_get_crt_count(p7), 1);
    assert_int_equal(gnutls_pkcs7_get_crt_raw2(p7, 0, &c), 0);
    assert_int_equal(gnutls_x509_crt_init(&crt), 0);
    assert_int_equal(gnutls_x509_crt_import(crt, &c, GNUTLS_X509_FMT_DER), 0);
    gnutls_free(c.data);
    gnutls_free(der.data);
    gnutls_pkcs7_deinit(p7);
    return crt;
}

static gnutls_x509_crt_t load_pem(const char *path)
{
    gnutls_datum_t d;
    gnutls_x509_crt_t c;
    assert_int_equal(gnutls_load_file(path, &d), 0);
    assert_int_equal(gnutls_x509_crt_init(&c), 0);
    assert_int_equal(gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_PEM), 0);
    gnutls_free(d.data);
    return c;
}

static bool have_openssl(void)
{
    return system("command -v openssl >/dev/null 2>&1") == 0;
}

/* Runs cmd through the shell; its output (stdout+stderr) goes to out. Returns the exit status. */
static int run(const char *cmd, char *out, size_t cap)
{
    char full[2048];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* ---- base64 ---- */

static void test_b64_vectors(void **state)
{
    /* RFC 4648 section 10. */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        struct m2m_buf b = M2M_BUF_INIT;
        uint8_t out[16];
        size_t n = 99;
        assert_int_equal(est_b64_encode((const uint8_t *)plain[i], strlen(plain[i]), &b), M2M_OK);
        assert_int_equal(b.len, strlen(enc[i]));
        assert_memory_equal(b.data, enc[i], b.len);
        assert_int_equal(
            est_b64_decode((const uint8_t *)enc[i], strlen(enc[i]), out, sizeof out, &n), M2M_OK);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(out, plain[i], n);
        m2m_buf_free(&b);
    }
    uint8_t out[16];
    size_t n = 0;
    const char *folded = "Zm9v\r\nYmFy\n ";
    assert_int_equal(est_b64_decode((const uint8_t *)folded, strlen(folded), out, sizeof out, &n),
                     M2M_OK);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "foobar", 6);
}

static void test_b64_refuses(void **state)
{
    static const char *const bad[] = {
        "Zg",         /* padding missing */
        "Zg=",        /* padding short */
        "Z===",       /* '=' too early in the group */
        "Zh==",       /* non-zero pad bits */
        "Zm9=",       /* non-zero pad bits */
        "Zg==Zg==",   /* data after the padding */
        "Zg=a",       /* data after '=' in the group */
        "Zm9v\tYmFy", /* tab is not skipped */
        "Zm9v-mFy",   /* base64url is not base64 */
        "Zm9v\0mFy",  /* NUL */
        "Zg===",      /* excess '=' */
        "=Zg=",
    };
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++) {
        uint8_t out[16];
        size_t n = 0, len = i == 9 ? 8 : strlen(bad[i]);
        assert_int_equal(est_b64_decode((const uint8_t *)bad[i], len, out, sizeof out, &n),
                         M2M_ERR_MALFORMED);
    }
    uint8_t out[4];
    size_t n = 0;
    assert_int_equal(est_b64_decode((const uint8_t *)"Zm9vYmFy", 8, out, sizeof out, &n),
                     M2M_ERR_LIMIT);
    assert_int_equal(est_b64_decode((const uint8_t *)"Zm9v", 4, out, 3, &n), M2M_OK);
    /* The encoder respects the buffer limit and appends nothing then. */
    struct m2m_buf b = M2M_BUF_INIT;
    b.limit = 7;
    assert_int_equal(est_b64_encode((const uint8_t *)"foobar", 6, &b), M2M_ERR_LIMIT);
    assert_int_equal(b.len, 0);
    m2m_buf_free(&b);
}

/* ---- CA, /cacerts, /csrattrs ---- */

static void test_ca_load_refuses(void **state)
{
    struct est_ca *ca = (struct est_ca *)0x1;
    char missing[512];
    snprintf(missing, sizeof missing, "%s/none.pem", g_dir);
    assert_int_equal(est_ca_load(missing, g_ca_key, &ca), M2M_ERR_CONFIG);
    /* A leaf certificate is not a CA. */
    assert_int_equal(est_ca_load(g_srv_pem, g_srv_key, &ca), M2M_ERR_CONFIG);
    /* The CA certificate with another key. */
    assert_int_equal(est_ca_load(g_ca_pem, g_srv_key, &ca), M2M_ERR_CONFIG);
    /* Garbage. */
    assert_int_equal(est_ca_load(g_ca_key, g_ca_pem, &ca), M2M_ERR_CONFIG);
    assert_ptr_equal(ca, (struct est_ca *)0x1);
    est_ca_free(NULL);
}

static void test_cacerts(void **state)
{
    struct m2m_buf out = M2M_BUF_INIT;
    assert_int_equal(m2m_buf_append_str(&out, "x"), M2M_OK);
    assert_int_equal(est_cacerts(g_ca, &out), M2M_OK);
    assert_memory_equal(out.data, "x", 1);
    assert_null(memchr(out.data, '\n', out.len));
    m2m_buf_consume(&out, 1);
    gnutls_x509_crt_t got = p7_single_cert(&out), want = load_pem(g_ca_pem);
    assert_int_equal(gnutls_x509_crt_equals(got, want), 1);
    gnutls_x509_crt_deinit(got);
    gnutls_x509_crt_deinit(want);
    if (have_openssl()) {
        char path[512], cmd[1200], txt[8192];
        gnutls_datum_t der = unb64(&out);
        snprintf(path, sizeof path, "%s/cacerts.p7", g_dir);
        write_file(path, der.data, der.size);
        gnutls_free(der.data);
        snprintf(cmd, sizeof cmd, "openssl pkcs7 -inform DER -in '%s' -print_certs -noout", path);
        assert_int_equal(run(cmd, txt, sizeof txt), 0);
        assert_non_null(strstr(txt, "m2msec development CA"));
    }
    m2m_buf_free(&out);
}

static bool contains(const uint8_t *h, size_t hl, const void *n, size_t nl)
{
    return memmem(h, hl, n, nl) != NULL;
}

static void test_csrattrs(void **state)
{
    struct m2m_buf out = M2M_BUF_INIT;
    assert_int_equal(est_csrattrs(AE_ID, &out), M2M_OK);
    gnutls_datum_t der = unb64(&out);
    static const uint8_t cp[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x07};
    static const uint8_t ec[] = {0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
    static const uint8_t p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    static const uint8_t sig[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
    static const uint8_t er[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e};
    assert_int_equal(der.data[0], 0x30);
    assert_int_equal(der.data[1] == 0x81 ? der.data[2] + 3u : der.data[1] + 2u, der.size);
    assert_true(contains(der.data, der.size, cp, sizeof cp));
    assert_true(contains(der.data, der.size, ec, sizeof ec));
    assert_true(contains(der.data, der.size, p256, sizeof p256));
    assert_true(contains(der.data, der.size, sig, sizeof sig));
    assert_true(contains(der.data, der.size, er, sizeof er));
    assert_true(contains(der.data, der.size, AE_ID, strlen(AE_ID)));
    if (have_openssl()) {
        char path[512], cmd[1200], txt[8192];
        snprintf(path, sizeof path, "%s/csrattrs.der", g_dir);
        write_file(path, der.data, der.size);
        snprintf(cmd, sizeof cmd, "openssl asn1parse -inform DER -in '%s' -i", path);
        assert_int_equal(run(cmd, txt, sizeof txt), 0);
        assert_non_null(strstr(txt, "challengePassword"));
        assert_non_null(strstr(txt, "id-ecPublicKey"));
        assert_non_null(strstr(txt, "prime256v1"));
        assert_non_null(strstr(txt, "ecdsa-with-SHA256"));
        assert_non_null(strstr(txt, "Extension Request"));
        assert_non_null(strstr(txt, "X509v3 Subject Alternative Name"));
        /* The SAN extension value parses as GeneralNames holding the URI. */
        snprintf(cmd, sizeof cmd,
                 "openssl asn1parse -inform DER -in '%s' -strparse $(openssl asn1parse -inform "
                 "DER -in '%s' | awk '/OCTET STRING/{split($1,a,\":\"); print a[1]}')",
                 path, path);
        assert_int_equal(run(cmd, txt, sizeof txt), 0);
        assert_non_null(strstr(txt, "cont [ 6 ]"));
    }
    gnutls_free(der.data);
    m2m_buf_free(&out);
}

static void test_csrattrs_refuses(void **state)
{
    struct m2m_buf out = M2M_BUF_INIT;
    char longid[EST_ID_MAX + 8];
    memset(longid, 'a', sizeof longid - 1);
    memcpy(longid, "urn:", 4);
    longid[sizeof longid - 1] = '\0';
    assert_int_equal(est_csrattrs("//m2msec.example.com/id-in/C*", &out), M2M_ERR_MALFORMED);
    assert_int_equal(est_csrattrs("Cdev1", &out), M2M_ERR_MALFORMED);
    assert_int_equal(est_csrattrs("", &out), M2M_ERR_MALFORMED);
    assert_int_equal(est_csrattrs(NULL, &out), M2M_ERR_MALFORMED);
    assert_int_equal(est_csrattrs(longid, &out), M2M_ERR_MALFORMED);
    assert_int_equal(out.len, 0);
    uint8_t small[40];
    size_t n = 0;
    assert_int_equal(est_csrattrs_der(AE_ID, small, sizeof small, &n), M2M_ERR_LIMIT);
    /* The longest identity fits the documented bound. */
    longid[EST_ID_MAX - 1] = '\0';
    uint8_t big[EST_ID_MAX + 96];
    assert_int_equal(est_csrattrs_der(longid, big, sizeof big, &n), M2M_OK);
    assert_int_equal(big[0], 0x30);
    assert_int_equal(big[1], 0x82);
    assert_int_equal(((size_t)big[2] << 8 | big[3]) + 4, n);
    m2m_buf_free(&out);
}

/* ---- /simpleenroll ---- */

static void check_issued(gnutls_x509_crt_t crt, int64_t now)
{
    char buf[512];
    size_t sz = sizeof buf;
    unsigned bits = 0, ca = 1, crit = 0, ku = 0;
    assert_int_equal(gnutls_x509_crt_get_subject_alt_name(crt, 0, buf, &sz, NULL), GNUTLS_SAN_URI);
    assert_string_equal(buf, AE_ID);
    sz = sizeof buf;
    assert_int_equal(gnutls_x509_crt_get_subject_alt_name(crt, 1, buf, &sz, NULL),
                     GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
    sz = sizeof buf;
    assert_int_equal(
        gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &sz), 0);
    assert_string_equal(buf, AE_ID);
    assert_int_equal(gnutls_x509_crt_get_pk_algorithm(crt, &bits), GNUTLS_PK_ECDSA);
    assert_int_equal(bits, 256);
    assert_int_equal(gnutls_x509_crt_get_signature_algorithm(crt), GNUTLS_SIGN_ECDSA_SHA256);
    assert_int_equal(gnutls_x509_crt_get_basic_constraints(crt, &crit, &ca, NULL), 0);
    assert_int_equal(ca, 0);
    assert_true(gnutls_x509_crt_get_key_usage(crt, &ku, &crit) >= 0);
    assert_int_equal(ku, GNUTLS_KEY_DIGITAL_SIGNATURE);
    bool client = false, server = false;
    for (unsigned i = 0;; i++) {
        sz = sizeof buf;
        if (gnutls_x509_crt_get_key_purpose_oid(crt, i, buf, &sz, NULL) < 0)
            break;
        client |= strcmp(buf, GNUTLS_KP_TLS_WWW_CLIENT) == 0;
        server |= strcmp(buf, GNUTLS_KP_TLS_WWW_SERVER) == 0;
    }
    assert_true(client && server);
    assert_int_equal(gnutls_x509_crt_get_activation_time(crt), (time_t)now);
    assert_int_equal(gnutls_x509_crt_get_expiration_time(crt), (time_t)now + 30 * 86400);
    /* Our key is the one certified. */
    uint8_t k1[64], k2[64];
    size_t l1 = sizeof k1, l2 = sizeof k2;
    assert_int_equal(gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, k1, &l1), 0);
    assert_int_equal(gnutls_x509_privkey_get_key_id(g_key, GNUTLS_KEYID_USE_SHA256, k2, &l2), 0);
    assert_memory_equal(k1, k2, l1);
}

static void openssl_verify_issued(const struct m2m_buf *out)
{
    char p7[512], pem[512], cmd[1600], txt[8192];
    gnutls_datum_t der = unb64(out);
    snprintf(p7, sizeof p7, "%s/issued.p7", g_dir);
    snprintf(pem, sizeof pem, "%s/issued.pem", g_dir);
    write_file(p7, der.data, der.size);
    gnutls_free(der.data);
    snprintf(cmd, sizeof cmd, "openssl pkcs7 -inform DER -in '%s' -print_certs -out '%s'", p7, pem);
    assert_int_equal(run(cmd, txt, sizeof txt), 0);
    snprintf(cmd, sizeof cmd, "openssl verify -purpose sslclient -CAfile '%s' '%s'", g_ca_pem, pem);
    assert_int_equal(run(cmd, txt, sizeof txt), 0);
    assert_non_null(strstr(txt, ": OK"));
    snprintf(cmd, sizeof cmd, "openssl x509 -in '%s' -noout -text", pem);
    assert_int_equal(run(cmd, txt, sizeof txt), 0);
    assert_non_null(strstr(txt, "URI:" AE_ID));
    assert_non_null(strstr(txt, "TLS Web Client Authentication"));
    assert_non_null(strstr(txt, "TLS Web Server Authentication"));
    assert_non_null(strstr(txt, "NIST CURVE: P-256"));
    assert_non_null(strstr(txt, "CA:FALSE"));
    /* The wrong CA does not verify it. */
    snprintf(cmd, sizeof cmd, "openssl verify -CAfile '%s/ca.pem' '%s'", g_other_dir, pem);
    assert_int_not_equal(run(cmd, txt, sizeof txt), 0);
}

static void test_enroll_happy(void **state)
{
    gnutls_datum_t csr = good_csr();
    char *body = b64(csr.data, csr.size);
    struct est_enroll_req r = req_for(body);
    struct m2m_buf out = M2M_BUF_INIT;
    struct est_result res;
    assert_int_equal(est_enroll(g_ca, &r, &out, &res), M2M_OK);
    assert_int_equal(res.http_status, 200);
    assert_string_equal(res.san, AE_ID);
    assert_int_equal(strlen(res.serial_hex), 32);
    assert_int_equal(strlen(res.fingerprint), 64);
    assert_null(memchr(out.data, '\n', out.len));

    gnutls_x509_crt_t crt = p7_single_cert(&out), ca = load_pem(g_ca_pem);
    unsigned status = 0xffff;
    assert_int_equal(gnutls_x509_crt_verify(crt, &ca, 1, 0, &status), 0);
    assert_int_equal(status, 0);
    check_issued(crt, r.now_s);
    /* serial_hex and fingerprint describe the certificate. */
    uint8_t serial[32], fp[32];
    size_t sl = sizeof serial, fl = sizeof fp;
    char hex[65];
    assert_int_equal(gnutls_x509_crt_get_serial(crt, serial, &sl), 0);
    assert_int_equal(sl, 16);
    assert_true(serial[0] >= 0x40 && serial[0] < 0x80); /* positive, full 16 octets */
    for (size_t i = 0; i < sl; i++)
        snprintf(hex + 2 * i, 3, "%02x", serial[i]);
    assert_string_equal(hex, res.serial_hex);
    assert_int_equal(gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &fl), 0);
    for (size_t i = 0; i < fl; i++)
        snprintf(hex + 2 * i, 3, "%02x", fp[i]);
    assert_string_equal(hex, res.fingerprint);
    if (have_openssl())
        openssl_verify_issued(&out);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_crt_deinit(ca);
    m2m_buf_free(&out);
    free(body);
    gnutls_free(csr.data);
}

/* Channel bindings whose base64 holds '+' and '/': GnuTLS's challenge-password getter escapes
 * '+', so a reader built on it refuses about half of all real bindings. */
static void test_enroll_challenge_charset(void **state)
{
    uint8_t saved[sizeof g_cb];
    char saved_ch[sizeof g_challenge];
    int with_plus = 0;
    memcpy(saved, g_cb, sizeof g_cb);
    memcpy(saved_ch, g_challenge, sizeof g_challenge);
    for (int i = 0; i < 48; i++) {
        struct m2m_buf b = M2M_BUF_INIT, out = M2M_BUF_INIT;
        struct est_result res;
        assert_int_equal(gnutls_rnd(GNUTLS_RND_NONCE, g_cb, sizeof g_cb), 0);
        assert_int_equal(est_b64_encode(g_cb, sizeof g_cb, &b), M2M_OK);
        snprintf(g_challenge, sizeof g_challenge, "%s", (char *)b.data);
        m2m_buf_free(&b);
        with_plus += strchr(g_challenge, '+') != NULL;
        gnutls_datum_t csr = good_csr();
        char *body = b64(csr.data, csr.size);
        struct est_enroll_req r = req_for(body);
        assert_int_equal(est_enroll(g_ca, &r, &out, &res), M2M_OK);
        assert_int_equal(res.http_status, 200);
        m2m_buf_free(&out);
        free(body);
        gnutls_free(csr.data);
    }
    assert_true(with_plus > 0);
    memcpy(g_cb, saved, sizeof g_cb);
    memcpy(g_challenge, saved_ch, sizeof g_challenge);
}

/* A body folded into 64-column lines with CRLF (RFC 7030 4.2.1 clients do this). */
static void test_enroll_folded_body(void **state)
{
    gnutls_datum_t csr = good_csr();
    char *flat = b64(csr.data, csr.size);
    size_t n = strlen(flat);
    char *folded = malloc(n + n / 64 * 2 + 3);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        folded[o++] = flat[i];
        if (i % 64 == 63) {
            folded[o++] = '\r';
            folded[o++] = '\n';
        }
    }
    folded[o] = '\0';
    struct est_enroll_req r = req_for(folded);
    struct m2m_buf out = M2M_BUF_INIT;
    struct est_result res;
    assert_int_equal(est_enroll(g_ca, &r, &out, &res), M2M_OK);
    m2m_buf_free(&out);
    free(folded);
    free(flat);
    gnutls_free(csr.data);
}

/* A flipped byte in the signature, and one in the SAN: the proof of possession fails (400). */
/* Interoperability: a request made by the openssl CLI (P-256, challengePassword, SAN URI). */
static void test_enroll_openssl_csr(void **state)
{
    if (!have_openssl()) {
        skip();
        return;
    }
    char cnf[300], key[300], der[300], cmd[1400], txt[4096];
    snprintf(cnf, sizeof cnf, "%s/req.cnf", g_dir);
    snprintf(key, sizeof key, "%s/ossl.key", g_dir);
    snprintf(der, sizeof der, "%s/ossl.csr", g_dir);
    FILE *f = fopen(cnf, "w");
    assert_non_null(f);
    fprintf(f,
            "[req]\nprompt = no\ndistinguished_name = dn\nattributes = attrs\n"
            "[dn]\nCN = %s\n[attrs]\nchallengePassword = %s\n",
            AE_ID, g_challenge);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "openssl ecparam -genkey -name prime256v1 -noout -out '%s' && "
             "openssl req -new -config '%s' -key '%s' -sha256 -addext 'subjectAltName=URI:%s' "
             "-outform DER -out '%s'",
             key, cnf, key, AE_ID, der);
    assert_int_equal(run(cmd, txt, sizeof txt), 0);
    gnutls_datum_t csr;
    assert_int_equal(gnutls_load_file(der, &csr), 0);
    expect(&csr, M2M_OK, 200);
    gnutls_free(csr.data);
}

static void test_enroll_tampered(void **state)
{
    gnutls_datum_t csr = good_csr();
    csr.data[csr.size - 2] ^= 0x01;
    expect(&csr, M2M_ERR_MALFORMED, 400);
    csr.data[csr.size - 2] ^= 0x01;
    uint8_t *at = memmem(csr.data, csr.size, "Cdev1", 5);
    /* the first hit is the CN; the SAN is the second */
    assert_non_null(at);
    at = memmem(at + 1, csr.size - (size_t)(at + 1 - csr.data), "Cdev1", 5);
    assert_non_null(at);
    at[4] = '2';
    expect(&csr, M2M_ERR_MALFORMED, 400);
    at[4] = '1';
    expect(&csr, M2M_OK, 200); /* the same bytes untouched still pass */
    /* Truncated and with trailing data. */
    gnutls_datum_t cut = {csr.data, csr.size - 1};
    expect(&cut, M2M_ERR_MALFORMED, 400);
    uint8_t *longer = malloc(csr.size + 1);
    memcpy(longer, csr.data, csr.size);
    longer[csr.size] = 0;
    gnutls_datum_t trail = {longer, csr.size + 1};
    expect(&trail, M2M_ERR_MALFORMED, 400);
    free(longer);
    gnutls_free(csr.data);
}

static void test_enroll_identity(void **state)
{
    /* A valid AE-ID the client is not associated with: 403. */
    struct csr_opts o = {.cn = AE_ID2, .san = {AE_ID2}, .challenge = g_challenge};
    gnutls_datum_t csr = make_csr(&o);
    expect(&csr, M2M_ERR_DENIED, 403);
    gnutls_free(csr.data);
    /* Wildcard, two URIs, a dNSName, URI plus dNSName, no SAN, not an oneM2M form: 400. */
    struct csr_opts bad[] = {
        {.san = {"//m2msec.example.com/id-in/C*"}, .challenge = g_challenge},
        {.san = {AE_ID, AE_ID}, .challenge = g_challenge},
        {.san = {AE_ID, AE_ID2}, .challenge = g_challenge},
        {.dns = "dev1.example.com", .challenge = g_challenge},
        {.san = {AE_ID}, .dns = "dev1.example.com", .challenge = g_challenge},
        {.cn = AE_ID, .challenge = g_challenge},
        {.san = {"Cdev1"}, .challenge = g_challenge},
        {.san = {"http://evil.example.com/x"}, .challenge = g_challenge},
    };
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++) {
        csr = make_csr(&bad[i]);
        expect(&csr, M2M_ERR_MALFORMED, 400);
        gnutls_free(csr.data);
    }
    /* No identities at all for this client. */
    csr = good_csr();
    char *body = b64(csr.data, csr.size);
    struct est_enroll_req r = req_for(body);
    r.n_allowed = 0;
    struct m2m_buf out = enroll_der(&csr, &r, M2M_ERR_DENIED, 403);
    m2m_buf_free(&out);
    free(body);
    gnutls_free(csr.data);
}

static void test_enroll_challenge(void **state)
{
    struct csr_opts none = {.cn = AE_ID, .san = {AE_ID}};
    gnutls_datum_t csr = make_csr(&none);
    expect(&csr, M2M_ERR_DENIED, 403);
    gnutls_free(csr.data);
    char wrong[80];
    snprintf(wrong, sizeof wrong, "%s", g_challenge);
    wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
    struct csr_opts w = {.cn = AE_ID, .san = {AE_ID}, .challenge = wrong};
    csr = make_csr(&w);
    expect(&csr, M2M_ERR_DENIED, 403);
    gnutls_free(csr.data);
    /* A prefix of the right value, and the right value plus one character. */
    wrong[0] = g_challenge[0];
    wrong[strlen(wrong) - 1] = '\0';
    csr = make_csr(&w);
    expect(&csr, M2M_ERR_DENIED, 403);
    gnutls_free(csr.data);
    snprintf(wrong, sizeof wrong, "%sA", g_challenge);
    csr = make_csr(&w);
    expect(&csr, M2M_ERR_DENIED, 403);
    gnutls_free(csr.data);
    /* The right CSR on another TLS session (another channel binding), or with none. */
    csr = good_csr();
    char *body = b64(csr.data, csr.size);
    struct est_enroll_req r = req_for(body);
    uint8_t other[EST_CB_LEN];
    memcpy(other, g_cb, sizeof other);
    other[31] ^= 1;
    r.cb = other;
    struct m2m_buf out = enroll_der(&csr, &r, M2M_ERR_DENIED, 403);
    r.cb = NULL;
    out = enroll_der(&csr, &r, M2M_ERR_DENIED, 403);
    r.cb = g_cb;
    r.cb_len = 16;
    out = enroll_der(&csr, &r, M2M_ERR_DENIED, 403);
    m2m_buf_free(&out);
    free(body);
    gnutls_free(csr.data);
}

static gnutls_x509_privkey_t new_key(gnutls_pk_algorithm_t pk, unsigned bits)
{
    gnutls_x509_privkey_t k;
    assert_int_equal(gnutls_x509_privkey_init(&k), 0);
    assert_int_equal(gnutls_x509_privkey_generate(k, pk, bits, 0), 0);
    return k;
}

static void test_enroll_key_types(void **state)
{
    gnutls_x509_privkey_t p384 =
        new_key(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1));
    gnutls_x509_privkey_t rsa = new_key(GNUTLS_PK_RSA, 2048);
    struct csr_opts o = {.key = p384, .cn = AE_ID, .san = {AE_ID}, .challenge = g_challenge};
    gnutls_datum_t csr = make_csr(&o); /* P-384 signed with SHA-256: the key is refused */
    expect(&csr, M2M_ERR_MALFORMED, 400);
    gnutls_free(csr.data);
    o.key = rsa;
    csr = make_csr(&o);
    expect(&csr, M2M_ERR_MALFORMED, 400);
    gnutls_free(csr.data);
    /* P-256 but ecdsa-with-SHA384, which /csrattrs does not ask for. */
    o.key = NULL;
    o.dig = GNUTLS_DIG_SHA384;
    csr = make_csr(&o);
    expect(&csr, M2M_ERR_MALFORMED, 400);
    gnutls_free(csr.data);
    gnutls_x509_privkey_deinit(p384);
    gnutls_x509_privkey_deinit(rsa);
}

static void enroll_body(const char *body, size_t len, m2m_rc want, int http)
{
    struct est_enroll_req r = req_for("");
    r.body = (const uint8_t *)body;
    r.body_len = len;
    struct m2m_buf out = M2M_BUF_INIT;
    struct est_result res;
    assert_int_equal(m2m_buf_append_str(&out, "keep"), M2M_OK);
    assert_int_equal(est_enroll(g_ca, &r, &out, &res), want);
    assert_int_equal(res.http_status, http);
    assert_int_equal(out.len, 4); /* nothing appended on failure */
    assert_string_equal((char *)out.data, "keep");
    m2m_buf_free(&out);
}

static void test_enroll_bad_bodies(void **state)
{
    enroll_body("", 0, M2M_ERR_MALFORMED, 400);
    enroll_body("not base64!", 11, M2M_ERR_MALFORMED, 400);
    enroll_body("-----BEGIN CERTIFICATE REQUEST-----", 35, M2M_ERR_MALFORMED, 400);
    enroll_body("AAAA", 4, M2M_ERR_MALFORMED, 400);     /* decodes, not DER */
    enroll_body("MAA=", 4, M2M_ERR_MALFORMED, 400);     /* empty SEQUENCE */
    enroll_body("MIIBAAA=", 8, M2M_ERR_MALFORMED, 400); /* length past the end */
    size_t big = EST_BODY_MAX + 4;
    char *body = malloc(big);
    memset(body, 'A', big);
    enroll_body(body, big, M2M_ERR_MALFORMED, 400);
    free(body);
    /* A good request padded with line breaks past the limit. */
    gnutls_datum_t csr = good_csr();
    char *flat = b64(csr.data, csr.size);
    body = malloc(EST_BODY_MAX + 1);
    memset(body, '\n', EST_BODY_MAX + 1);
    memcpy(body, flat, strlen(flat));
    enroll_body(body, EST_BODY_MAX + 1, M2M_ERR_MALFORMED, 400);
    free(body);
    free(flat);
    gnutls_free(csr.data);
}

static void test_enroll_bad_args(void **state)
{
    gnutls_datum_t csr = good_csr();
    char *body = b64(csr.data, csr.size);
    struct est_enroll_req r = req_for(body);
    r.days = 0;
    struct m2m_buf out = enroll_der(&csr, &r, M2M_ERR_INTERNAL, 500);
    r.days = 36501;
    out = enroll_der(&csr, &r, M2M_ERR_INTERNAL, 500);
    r.days = 30;
    r.now_s = -1;
    out = enroll_der(&csr, &r, M2M_ERR_INTERNAL, 500);
    r.now_s = INT64_MAX;
    out = enroll_der(&csr, &r, M2M_ERR_INTERNAL, 500);
    r.now_s = (int64_t)time(NULL);
    out = enroll_der(&csr, &r, M2M_OK, 200);
    m2m_buf_free(&out);
    /* The output buffer's limit: 500, nothing appended. */
    out.limit = 64;
    struct est_result res;
    assert_int_equal(est_enroll(g_ca, &r, &out, &res), M2M_ERR_INTERNAL);
    assert_int_equal(res.http_status, 500);
    assert_int_equal(out.len, 0);
    m2m_buf_free(&out);
    free(body);
    gnutls_free(csr.data);
}

static void test_csr_check_der(void **state)
{
    gnutls_datum_t csr = good_csr();
    char san[EST_ID_MAX], ch[64];
    assert_int_equal(est_csr_check_der(csr.data, csr.size, san, sizeof san, ch, sizeof ch), M2M_OK);
    assert_string_equal(san, AE_ID);
    assert_string_equal(ch, g_challenge);
    /* The SAN does not fit the caller's buffer; the challenge does not fit its buffer. */
    assert_int_equal(est_csr_check_der(csr.data, csr.size, san, 8, ch, sizeof ch),
                     M2M_ERR_MALFORMED);
    assert_int_equal(est_csr_check_der(csr.data, csr.size, san, sizeof san, ch, 8), M2M_ERR_DENIED);
    assert_int_equal(est_csr_check_der(NULL, 0, san, sizeof san, ch, sizeof ch), M2M_ERR_MALFORMED);
    gnutls_free(csr.data);
}

/* ---- requests with duplicated attributes, re-signed so that only the duplicate is wrong ---- */

/* Reads the TLV header at in[0..len): tag, header size and content size. */
static bool tlv(const uint8_t *in, size_t len, size_t *hdr, size_t *clen)
{
    if (len < 2)
        return false;
    size_t n = in[1], h = 2;
    if (n & 0x80) {
        size_t k = n & 0x7f;
        if (k == 0 || k > 2 || len < 2 + k)
            return false;
        n = 0;
        for (size_t i = 0; i < k; i++)
            n = n << 8 | in[2 + i];
        h += k;
    }
    if (n > len - h)
        return false;
    *hdr = h;
    *clen = n;
    return true;
}

static void put_tlv_hdr(struct m2m_buf *b, uint8_t tag, size_t n)
{
    uint8_t h[4] = {tag};
    size_t hl;
    if (n < 0x80) {
        h[1] = (uint8_t)n;
        hl = 2;
    } else if (n < 0x100) {
        h[1] = 0x81;
        h[2] = (uint8_t)n;
        hl = 3;
    } else {
        h[1] = 0x82;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        hl = 4;
    }
    assert_int_equal(m2m_buf_append(b, h, hl), M2M_OK);
}

/* Copies the DER element in[0..len) to out with a second copy of the element that starts at
 * offset at inserted right after it, fixing the length of every constructed element around it. */
static void der_dup(const uint8_t *in, size_t len, size_t at, struct m2m_buf *out)
{
    size_t h = 0, n = 0;
    assert_true(tlv(in, len, &h, &n));
    if (!(in[0] & 0x20) || at < h || at >= h + n) { /* primitive, or at outside */
        assert_int_equal(m2m_buf_append(out, in, h + n), M2M_OK);
        return;
    }
    struct m2m_buf content = M2M_BUF_INIT;
    for (size_t off = h; off < h + n;) {
        size_t ch = 0, cn = 0;
        assert_true(tlv(in + off, h + n - off, &ch, &cn));
        if (at > off && at < off + ch + cn)
            der_dup(in + off, ch + cn, at - off, &content);
        else
            assert_int_equal(m2m_buf_append(&content, in + off, ch + cn), M2M_OK);
        if (at == off)
            assert_int_equal(m2m_buf_append(&content, in + off, ch + cn), M2M_OK);
        off += ch + cn;
    }
    put_tlv_hdr(out, in[0], content.len);
    assert_int_equal(m2m_buf_append(out, content.data, content.len), M2M_OK);
    m2m_buf_free(&content);
}

/* The CSR with a copy of the TLV at `at` inserted right after it, signed again with g_key. */
static gnutls_datum_t csr_dup_resign(const gnutls_datum_t *csr, const uint8_t *at)
{
    size_t h = 0, n = 0, th = 0, tn = 0;
    assert_true(tlv(csr->data, csr->size, &h, &n));
    const uint8_t *tbs = csr->data + h;
    assert_true(tlv(tbs, n, &th, &tn));
    const uint8_t *alg = tbs + th + tn;
    size_t ah = 0, an = 0;
    assert_true(tlv(alg, n - th - tn, &ah, &an));
    struct m2m_buf nt = M2M_BUF_INIT, whole = M2M_BUF_INIT, body = M2M_BUF_INIT;
    if (at != NULL) {
        der_dup(tbs, th + tn, (size_t)(at - tbs), &nt);
    } else {
        assert_int_equal(m2m_buf_append(&nt, tbs, th + tn), M2M_OK);
    }
    gnutls_privkey_t pk;
    gnutls_datum_t d = {nt.data, (unsigned)nt.len}, sig = {NULL, 0};
    assert_int_equal(gnutls_privkey_init(&pk), 0);
    assert_int_equal(gnutls_privkey_import_x509(pk, g_key, 0), 0);
    assert_int_equal(gnutls_privkey_sign_data(pk, GNUTLS_DIG_SHA256, 0, &d, &sig), 0);
    assert_int_equal(m2m_buf_append(&body, nt.data, nt.len), M2M_OK);
    assert_int_equal(m2m_buf_append(&body, alg, ah + an), M2M_OK);
    put_tlv_hdr(&body, 0x03, sig.size + 1);
    assert_int_equal(m2m_buf_append(&body, "", 1), M2M_OK); /* no unused bits */
    assert_int_equal(m2m_buf_append(&body, sig.data, sig.size), M2M_OK);
    put_tlv_hdr(&whole, 0x30, body.len);
    assert_int_equal(m2m_buf_append(&whole, body.data, body.len), M2M_OK);
    gnutls_datum_t out = {gnutls_malloc(whole.len), (unsigned)whole.len};
    memcpy(out.data, whole.data, whole.len);
    gnutls_free(sig.data);
    gnutls_privkey_deinit(pk);
    m2m_buf_free(&nt);
    m2m_buf_free(&body);
    m2m_buf_free(&whole);
    return out;
}

/* The start of the SEQUENCE that encloses the OID TLV found at oid. */
static const uint8_t *enclosing_seq(const gnutls_datum_t *csr, const uint8_t *oid)
{
    for (const uint8_t *p = oid - 2; p >= csr->data; p--) {
        size_t h, n;
        if (*p == 0x30 && tlv(p, (size_t)(csr->data + csr->size - p), &h, &n) && p + h == oid)
            return p;
    }
    fail_msg("no enclosing SEQUENCE");
    return NULL;
}

static void test_enroll_duplicates(void **state)
{
    static const uint8_t cp[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x07};
    static const uint8_t er[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e};
    static const uint8_t san[] = {0x06, 0x03, 0x55, 0x1d, 0x11};
    gnutls_datum_t csr = good_csr();
    /* The re-signing itself keeps a request valid. */
    gnutls_datum_t same = csr_dup_resign(&csr, NULL);
    expect(&same, M2M_OK, 200);
    gnutls_free(same.data);
    const uint8_t *const targets[] = {
        enclosing_seq(&csr, memmem(csr.data, csr.size, cp, sizeof cp)),   /* attribute */
        enclosing_seq(&csr, memmem(csr.data, csr.size, er, sizeof er)),   /* attribute */
        enclosing_seq(&csr, memmem(csr.data, csr.size, san, sizeof san)), /* extension */
    };
    for (size_t i = 0; i < M2M_ARRAY_LEN(targets); i++) {
        gnutls_datum_t dup = csr_dup_resign(&csr, targets[i]);
        assert_true(dup.size > csr.size);
        expect(&dup, M2M_ERR_MALFORMED, 400);
        gnutls_free(dup.data);
    }
    gnutls_free(csr.data);
}

/* ---- /simplereenroll ---- */

/* Enrols the default request and returns the DER of the issued certificate. */
static gnutls_datum_t first_cert(void)
{
    gnutls_datum_t csr = good_csr(), der = {NULL, 0};
    struct m2m_buf out = enroll_der(&csr, NULL, M2M_OK, 200);
    gnutls_x509_crt_t crt = p7_single_cert(&out);
    assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der), 0);
    gnutls_x509_crt_deinit(crt);
    m2m_buf_free(&out);
    gnutls_free(csr.data);
    return der;
}

static void reenroll(const struct csr_opts *o, const gnutls_datum_t *cur, int64_t now, m2m_rc want,
                     int http)
{
    gnutls_datum_t csr = make_csr(o);
    char *body = b64(csr.data, csr.size);
    static const char *const both[] = {AE_ID, AE_ID2};
    struct est_enroll_req r = req_for(body);
    r.allowed_ids = both;
    r.current_cert = cur->data;
    r.current_cert_len = cur->size;
    r.now_s = now;
    struct m2m_buf out = enroll_der(&csr, &r, want, http);
    m2m_buf_free(&out);
    free(body);
    gnutls_free(csr.data);
}

static void test_reenroll(void **state)
{
    gnutls_datum_t cur = first_cert();
    int64_t now = (int64_t)time(NULL);
    gnutls_x509_privkey_t k2 =
        new_key(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1));
    /* Renewal with the same key and rekey with a new one. */
    struct csr_opts o = {.cn = AE_ID, .san = {AE_ID}, .challenge = g_challenge};
    reenroll(&o, &cur, now, M2M_OK, 200);
    o.key = k2;
    reenroll(&o, &cur, now, M2M_OK, 200);
    /* Another SAN (allowed for initial enrolment) or subject: 403. */
    struct csr_opts other = {.cn = AE_ID2, .san = {AE_ID2}, .challenge = g_challenge};
    reenroll(&other, &cur, now, M2M_ERR_DENIED, 403);
    struct csr_opts san2 = {.cn = AE_ID, .san = {AE_ID2}, .challenge = g_challenge};
    reenroll(&san2, &cur, now, M2M_ERR_DENIED, 403);
    struct csr_opts subj = {.cn = "someone else", .san = {AE_ID}, .challenge = g_challenge};
    reenroll(&subj, &cur, now, M2M_ERR_DENIED, 403);
    struct csr_opts nosubj = {.san = {AE_ID}, .challenge = g_challenge};
    reenroll(&nosubj, &cur, now, M2M_ERR_DENIED, 403);
    /* The current certificate expired, or not yet valid, at now. */
    reenroll(&o, &cur, now + 31 * 86400, M2M_ERR_DENIED, 403);
    reenroll(&o, &cur, now - 10, M2M_ERR_DENIED, 403);
    /* A tampered current certificate; garbage. */
    cur.data[cur.size - 3] ^= 1;
    reenroll(&o, &cur, now, M2M_ERR_DENIED, 403);
    cur.data[cur.size - 3] ^= 1;
    gnutls_datum_t junk = {(unsigned char *)"\x30\x03\x02\x01\x01", 5};
    reenroll(&o, &junk, now, M2M_ERR_DENIED, 403);
    /* Still a 400 first for a bad request. */
    struct csr_opts wild = {.san = {"//m2msec.example.com/id-in/C*"}, .challenge = g_challenge};
    reenroll(&wild, &cur, now, M2M_ERR_MALFORMED, 400);
    gnutls_x509_privkey_deinit(k2);
    gnutls_free(cur.data);
}

static gnutls_datum_t pem_file_der(const char *path)
{
    gnutls_x509_crt_t c = load_pem(path);
    gnutls_datum_t der = {NULL, 0};
    assert_int_equal(gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_DER, &der), 0);
    gnutls_x509_crt_deinit(c);
    return der;
}

/* A certificate from this CA for san with serverAuth only (not a TLS client certificate). */
static gnutls_datum_t issue_server_only(const char *san)
{
    gnutls_x509_crt_t ca = load_pem(g_ca_pem), crt;
    gnutls_x509_privkey_t cakey;
    gnutls_datum_t k, der = {NULL, 0};
    uint8_t serial[8] = {0x11, 2, 3, 4, 5, 6, 7, 8};
    time_t now = time(NULL);
    assert_int_equal(gnutls_load_file(g_ca_key, &k), 0);
    assert_int_equal(gnutls_x509_privkey_init(&cakey), 0);
    assert_int_equal(gnutls_x509_privkey_import(cakey, &k, GNUTLS_X509_FMT_PEM), 0);
    gnutls_free(k.data);
    assert_int_equal(gnutls_x509_crt_init(&crt), 0);
    assert_int_equal(gnutls_x509_crt_set_version(crt, 3), 0);
    assert_int_equal(gnutls_x509_crt_set_serial(crt, serial, sizeof serial), 0);
    assert_int_equal(gnutls_x509_crt_set_activation_time(crt, now - 60), 0);
    assert_int_equal(gnutls_x509_crt_set_expiration_time(crt, now + 86400), 0);
    assert_int_equal(gnutls_x509_crt_set_key(crt, g_key), 0);
    assert_int_equal(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, san,
                                                   (unsigned)strlen(san)),
                     0);
    assert_int_equal(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_URI, san,
                                                          (unsigned)strlen(san), GNUTLS_FSAN_SET),
                     0);
    assert_int_equal(gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0), 0);
    assert_int_equal(gnutls_x509_crt_sign2(crt, ca, cakey, GNUTLS_DIG_SHA256, 0), 0);
    assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der), 0);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_crt_deinit(ca);
    gnutls_x509_privkey_deinit(cakey);
    return der;
}

static void test_reenroll_foreign(void **state)
{
    char cc[512], ck[512];
    int64_t now = (int64_t)time(NULL);
    struct csr_opts o = {.cn = AE_ID, .san = {AE_ID}, .challenge = g_challenge};
    /* Same SAN and subject, issued by another CA (with the same CA name). */
    snprintf(cc, sizeof cc, "%s/foreign.pem", g_dir);
    snprintf(ck, sizeof ck, "%s/foreign.key", g_dir);
    assert_int_equal(pki_issue(g_other_dir, AE_ID, AE_ID, 30, cc, ck), M2M_OK);
    gnutls_datum_t der = pem_file_der(cc);
    reenroll(&o, &der, now, M2M_ERR_DENIED, 403);
    gnutls_free(der.data);
    /* The CA certificate itself, and the server certificate (no clientAuth, no SAN URI). */
    der = pem_file_der(g_ca_pem);
    reenroll(&o, &der, now, M2M_ERR_DENIED, 403);
    gnutls_free(der.data);
    der = pem_file_der(g_srv_pem);
    reenroll(&o, &der, now, M2M_ERR_DENIED, 403);
    gnutls_free(der.data);
    /* From this CA with the right identity but only the serverAuth EKU. */
    der = issue_server_only(AE_ID);
    reenroll(&o, &der, now, M2M_ERR_DENIED, 403);
    gnutls_free(der.data);
    /* Issued by this CA by other means with the same identity: clientAuth only, accepted. */
    char dir[300];
    snprintf(dir, sizeof dir, "%s/ca", g_dir);
    assert_int_equal(pki_issue(dir, AE_ID, AE_ID, 30, cc, ck), M2M_OK);
    der = pem_file_der(cc);
    reenroll(&o, &der, now, M2M_OK, 200);
    gnutls_free(der.data);
}

/* ---- /serverkeygen (RFC 7030 4.4) ---- */

/* Runs est_serverkeygen on the DER request (tmpl NULL: the default request) and checks the
 * outcome; on success returns the body and its Content-Type in ctype. */
static struct m2m_buf keygen_der(const gnutls_datum_t *der, const struct est_enroll_req *tmpl,
                                 m2m_rc want_rc, int want_http, char *ctype)
{
    char *body = b64(der->data, der->size);
    struct est_enroll_req r = tmpl ? *tmpl : req_for(body);
    r.body = (const uint8_t *)body;
    r.body_len = strlen(body);
    struct m2m_buf out = M2M_BUF_INIT;
    struct est_result res;
    assert_int_equal(est_serverkeygen(g_ca, &r, &out, ctype, EST_CTYPE_MAX, &res), want_rc);
    assert_int_equal(res.http_status, want_http);
    assert_true(want_rc == M2M_OK ? out.len > 0 && res.error[0] == '\0'
                                  : out.len == 0 && res.error[0] != '\0');
    free(body);
    return out;
}

/* The base64 content of the part of body with Content-Type ct (between the blank line after
 * its headers and the next CRLF "--"), decoded. */
static gnutls_datum_t part_of(const struct m2m_buf *body, const char *bnd, const char *ct)
{
    char hdr[256];
    snprintf(hdr, sizeof hdr,
             "--%s\r\nContent-Type: %s\r\nContent-Transfer-Encoding: base64\r\n\r\n", bnd, ct);
    const uint8_t *at = memmem(body->data, body->len, hdr, strlen(hdr));
    assert_non_null(at);
    at += strlen(hdr);
    const uint8_t *end = memmem(at, body->len - (size_t)(at - body->data), "\r\n--", 4);
    assert_non_null(end);
    struct m2m_buf b = {(uint8_t *)at, (size_t)(end - at), 0, 0};
    return unb64(&b);
}

static void test_serverkeygen_happy(void **state)
{
    char ctype[EST_CTYPE_MAX], bnd[80], close_line[100];
    gnutls_datum_t csr = good_csr();
    struct m2m_buf out = keygen_der(&csr, NULL, M2M_OK, 200, ctype);
    /* multipart/mixed with a boundary; two parts, key first, then the closing delimiter */
    assert_int_equal(strncmp(ctype, "multipart/mixed; boundary=", 26), 0);
    snprintf(bnd, sizeof bnd, "%s", ctype + 26);
    assert_true(strlen(bnd) >= 16 && strlen(bnd) <= 70);
    snprintf(close_line, sizeof close_line, "\r\n--%s--\r\n", bnd);
    assert_int_equal(
        memcmp(out.data + out.len - strlen(close_line), close_line, strlen(close_line)), 0);
    gnutls_datum_t p8 = part_of(&out, bnd, "application/pkcs8");
    gnutls_datum_t p7 = part_of(&out, bnd, "application/pkcs7-mime; smime-type=certs-only");
    const uint8_t *kp = memmem(out.data, out.len, "application/pkcs8", 17);
    const uint8_t *cp = memmem(out.data, out.len, "application/pkcs7-mime", 22);
    assert_true(kp != NULL && cp != NULL && kp < cp);
    /* The key is an unencrypted PKCS#8 P-256 key, and the certificate certifies it (not the
     * key that signed the CSR), for the CSR's SAN, under the MEF CA. */
    gnutls_x509_privkey_t key;
    assert_int_equal(gnutls_x509_privkey_init(&key), 0);
    assert_int_equal(
        gnutls_x509_privkey_import_pkcs8(key, &p8, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN),
        0);
    unsigned bits = 0;
    assert_int_equal(gnutls_x509_privkey_get_pk_algorithm2(key, &bits), GNUTLS_PK_ECDSA);
    assert_int_equal(bits, 256);
    struct m2m_buf p7b = M2M_BUF_INIT;
    assert_int_equal(est_b64_encode(p7.data, p7.size, &p7b), M2M_OK);
    gnutls_x509_crt_t crt = p7_single_cert(&p7b), ca = load_pem(g_ca_pem);
    unsigned status = 0xffff;
    assert_int_equal(gnutls_x509_crt_verify(crt, &ca, 1, 0, &status), 0);
    assert_int_equal(status, 0);
    uint8_t k1[64], k2[64], k3[64];
    size_t l1 = sizeof k1, l2 = sizeof k2, l3 = sizeof k3;
    assert_int_equal(gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, k1, &l1), 0);
    assert_int_equal(gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, k2, &l2), 0);
    assert_int_equal(gnutls_x509_privkey_get_key_id(g_key, GNUTLS_KEYID_USE_SHA256, k3, &l3), 0);
    assert_int_equal(l1, l2);
    assert_memory_equal(k1, k2, l1);
    assert_memory_not_equal(k1, k3, l1);
    char san[512];
    size_t sz = sizeof san;
    assert_int_equal(gnutls_x509_crt_get_subject_alt_name(crt, 0, san, &sz, NULL), GNUTLS_SAN_URI);
    assert_string_equal(san, AE_ID);
    if (have_openssl())
        openssl_verify_issued(&p7b);
    /* A second request gets another key and another boundary. */
    char ctype2[EST_CTYPE_MAX];
    struct m2m_buf out2 = keygen_der(&csr, NULL, M2M_OK, 200, ctype2);
    assert_string_not_equal(ctype, ctype2);
    gnutls_datum_t p8b = part_of(&out2, ctype2 + 26, "application/pkcs8");
    assert_false(p8b.size == p8.size && memcmp(p8b.data, p8.data, p8.size) == 0);
    gnutls_free(p8b.data);
    m2m_buf_free(&out2);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_crt_deinit(ca);
    gnutls_x509_privkey_deinit(key);
    m2m_buf_free(&p7b);
    gnutls_free(p8.data);
    gnutls_free(p7.data);
    m2m_buf_free(&out);
    gnutls_free(csr.data);
}

static void test_serverkeygen_refuses(void **state)
{
    char ctype[EST_CTYPE_MAX];
    /* Tampered CSR: 400. */
    gnutls_datum_t csr = good_csr();
    csr.data[csr.size - 2] ^= 0x01;
    struct m2m_buf out = keygen_der(&csr, NULL, M2M_ERR_MALFORMED, 400, ctype);
    csr.data[csr.size - 2] ^= 0x01;
    /* Wrong channel binding (the CSR of another TLS session): 403. */
    char *body = b64(csr.data, csr.size);
    struct est_enroll_req r = req_for(body);
    uint8_t other[EST_CB_LEN];
    memcpy(other, g_cb, sizeof other);
    other[0] ^= 0x80;
    r.cb = other;
    out = keygen_der(&csr, &r, M2M_ERR_DENIED, 403, ctype);
    /* Right CSR, client not associated with the identity: 403. */
    r = req_for(body);
    r.allowed_ids = (const char *const[]){AE_ID2};
    r.n_allowed = 1;
    out = keygen_der(&csr, &r, M2M_ERR_DENIED, 403, ctype);
    /* A re-enrolment certificate is not an input of /serverkeygen; a short ctype buffer. */
    r = req_for(body);
    r.current_cert = csr.data;
    r.current_cert_len = csr.size;
    out = keygen_der(&csr, &r, M2M_ERR_INTERNAL, 500, ctype);
    struct est_result res;
    r = req_for(body);
    assert_int_equal(est_serverkeygen(g_ca, &r, &out, ctype, EST_CTYPE_MAX - 1, &res),
                     M2M_ERR_INTERNAL);
    free(body);
    gnutls_free(csr.data);
    /* Wrong identity in the CSR, no challengePassword, an RSA key: 403, 403, 400. */
    struct csr_opts o = {.cn = AE_ID2, .san = {AE_ID2}, .challenge = g_challenge};
    csr = make_csr(&o);
    out = keygen_der(&csr, NULL, M2M_ERR_DENIED, 403, ctype);
    gnutls_free(csr.data);
    struct csr_opts none = {.cn = AE_ID, .san = {AE_ID}};
    csr = make_csr(&none);
    out = keygen_der(&csr, NULL, M2M_ERR_DENIED, 403, ctype);
    gnutls_free(csr.data);
    gnutls_x509_privkey_t rsa = new_key(GNUTLS_PK_RSA, 2048);
    struct csr_opts ro = {.key = rsa, .cn = AE_ID, .san = {AE_ID}, .challenge = g_challenge};
    csr = make_csr(&ro);
    out = keygen_der(&csr, NULL, M2M_ERR_MALFORMED, 400, ctype);
    gnutls_free(csr.data);
    gnutls_x509_privkey_deinit(rsa);
    m2m_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_vectors),        cmocka_unit_test(test_b64_refuses),
        cmocka_unit_test(test_ca_load_refuses),    cmocka_unit_test(test_cacerts),
        cmocka_unit_test(test_csrattrs),           cmocka_unit_test(test_csrattrs_refuses),
        cmocka_unit_test(test_enroll_happy),       cmocka_unit_test(test_enroll_folded_body),
        cmocka_unit_test(test_enroll_openssl_csr), cmocka_unit_test(test_enroll_tampered),
        cmocka_unit_test(test_enroll_identity),    cmocka_unit_test(test_enroll_challenge),
        cmocka_unit_test(test_enroll_key_types),   cmocka_unit_test(test_enroll_bad_bodies),
        cmocka_unit_test(test_enroll_bad_args),    cmocka_unit_test(test_csr_check_der),
        cmocka_unit_test(test_enroll_duplicates),  cmocka_unit_test(test_reenroll),
        cmocka_unit_test(test_reenroll_foreign),   cmocka_unit_test(test_enroll_challenge_charset),
        cmocka_unit_test(test_serverkeygen_happy), cmocka_unit_test(test_serverkeygen_refuses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
