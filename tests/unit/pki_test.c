/* pki_test.c: the development PKI: files, modes, reuse, chain validity and SANs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tls/pki.h"

static char g_dir[256];

static int setup(void **state)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/m2m_pki_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static gnutls_x509_crt_t load_crt(const char *path)
{
    gnutls_datum_t d;
    gnutls_x509_crt_t c;
    assert_int_equal(gnutls_load_file(path, &d), 0);
    assert_int_equal(gnutls_x509_crt_init(&c), 0);
    assert_int_equal(gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_PEM), 0);
    gnutls_free(d.data);
    return c;
}

static unsigned verify_with(gnutls_x509_crt_t leaf, gnutls_x509_crt_t ca)
{
    unsigned status = 0xffff;
    assert_int_equal(gnutls_x509_crt_list_verify(&leaf, 1, &ca, 1, NULL, 0, 0, &status), 0);
    return status;
}

static int mode_of(const char *p)
{
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return (int)(st.st_mode & 0777);
}

static void test_ensure_dev_creates_and_reuses(void **state)
{
    char dir[300], ca[512], cert[512], key[512], cert2[512];
    snprintf(dir, sizeof dir, "%s/pki", g_dir);
    assert_int_equal(pki_ensure_dev(dir, "cse.example.com", ca, cert, key, sizeof ca), M2M_OK);
    assert_int_equal(mode_of(dir), 0700);
    assert_int_equal(mode_of(key), 0600);
    char cakey[512];
    snprintf(cakey, sizeof cakey, "%s/ca.key", dir);
    assert_int_equal(mode_of(cakey), 0600);

    gnutls_x509_crt_t c = load_crt(cert), a = load_crt(ca);
    assert_int_equal(verify_with(c, a), 0);
    assert_int_equal(gnutls_x509_crt_check_hostname(c, "localhost"), 1);
    assert_int_equal(gnutls_x509_crt_check_hostname(c, "cse.example.com"), 1);
    assert_int_equal(gnutls_x509_crt_check_ip(c, (const unsigned char *)"\x7f\0\0\1", 4, 0), 1);
    assert_int_equal(gnutls_x509_crt_check_hostname(c, "evil.example.com"), 0);
    assert_int_equal(gnutls_x509_crt_get_pk_algorithm(c, NULL), GNUTLS_PK_ECDSA);
    assert_int_equal(gnutls_x509_crt_get_signature_algorithm(c), GNUTLS_SIGN_ECDSA_SHA256);

    /* Second start: same files reused (same serial). */
    unsigned char s1[32], s2[32];
    size_t l1 = sizeof s1, l2 = sizeof s2;
    assert_int_equal(gnutls_x509_crt_get_serial(c, s1, &l1), 0);
    assert_int_equal(pki_ensure_dev(dir, "cse.example.com", ca, cert2, key, sizeof ca), M2M_OK);
    gnutls_x509_crt_t c2 = load_crt(cert2);
    assert_int_equal(gnutls_x509_crt_get_serial(c2, s2, &l2), 0);
    assert_int_equal(l1, l2);
    assert_memory_equal(s1, s2, l1);
    gnutls_x509_crt_deinit(c);
    gnutls_x509_crt_deinit(c2);
    gnutls_x509_crt_deinit(a);
}

static void test_new_ca_reissues_server(void **state)
{
    char dir[300], ca[512], cert[512], key[512], cakey[512];
    snprintf(dir, sizeof dir, "%s/pki2", g_dir);
    assert_int_equal(pki_ensure_dev(dir, NULL, ca, cert, key, sizeof ca), M2M_OK);
    snprintf(cakey, sizeof cakey, "%s/ca.key", dir);
    assert_int_equal(unlink(cakey), 0); /* the CA is lost: both must be replaced */
    assert_int_equal(pki_ensure_dev(dir, NULL, ca, cert, key, sizeof ca), M2M_OK);
    gnutls_x509_crt_t c = load_crt(cert), a = load_crt(ca);
    assert_int_equal(verify_with(c, a), 0);
    gnutls_x509_crt_deinit(c);
    gnutls_x509_crt_deinit(a);
}

static void test_issue_client(void **state)
{
    char dir[300], ca[512], cert[512], key[512], cc[512], ck[512];
    snprintf(dir, sizeof dir, "%s/pki3", g_dir);
    assert_int_equal(pki_ensure_dev(dir, NULL, ca, cert, key, sizeof ca), M2M_OK);
    snprintf(cc, sizeof cc, "%s/ae.pem", g_dir);
    snprintf(ck, sizeof ck, "%s/ae.key", g_dir);
    assert_int_equal(pki_issue(dir, "//m2msec.example.com/id-mn", "id-mn", 30, cc, ck), M2M_OK);
    assert_int_equal(mode_of(ck), 0600);
    gnutls_x509_crt_t c = load_crt(cc), a = load_crt(ca);
    assert_int_equal(verify_with(c, a), 0);
    char san[256];
    size_t sl = sizeof san;
    assert_int_equal(gnutls_x509_crt_get_subject_alt_name(c, 0, san, &sl, NULL), GNUTLS_SAN_URI);
    assert_string_equal(san, "//m2msec.example.com/id-mn");
    char oid[128];
    size_t ol = sizeof oid;
    assert_int_equal(gnutls_x509_crt_get_key_purpose_oid(c, 0, oid, &ol, NULL), 0);
    assert_string_equal(oid, GNUTLS_KP_TLS_WWW_CLIENT);
    gnutls_x509_crt_deinit(c);

    /* A certificate from another CA does not verify against this one. */
    char dir2[300], ca2[512], cert2[512], key2[512];
    snprintf(dir2, sizeof dir2, "%s/other", g_dir);
    assert_int_equal(pki_ensure_dev(dir2, NULL, ca2, cert2, key2, sizeof ca2), M2M_OK);
    assert_int_equal(pki_issue(dir2, "//evil/id", NULL, 30, cc, ck), M2M_OK);
    c = load_crt(cc);
    assert_int_not_equal(verify_with(c, a), 0);
    gnutls_x509_crt_deinit(c);
    gnutls_x509_crt_deinit(a);
}

static void test_errors(void **state)
{
    char ca[16], cert[16], key[16], cc[512], ck[512];
    /* Paths that do not fit. */
    assert_int_equal(pki_ensure_dev(g_dir, NULL, ca, cert, key, sizeof ca), M2M_ERR_LIMIT);
    /* No CA in the directory. */
    snprintf(cc, sizeof cc, "%s/x.pem", g_dir);
    snprintf(ck, sizeof ck, "%s/x.key", g_dir);
    assert_int_equal(pki_issue(g_dir, "//x/y", NULL, 1, cc, ck), M2M_ERR_IO);
    assert_int_equal(access(ck, F_OK), -1);
    /* Bad arguments. */
    assert_int_equal(pki_issue(g_dir, "//x/y", NULL, 0, cc, ck), M2M_ERR_CONFIG);
    assert_int_equal(pki_issue(g_dir, NULL, NULL, 10, cc, ck), M2M_ERR_CONFIG);
    /* The directory path is a file. */
    char f[512], big[512], bc[512], bk[512];
    snprintf(f, sizeof f, "%s/plainfile", g_dir);
    FILE *fp = fopen(f, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(pki_ensure_dev(f, NULL, big, bc, bk, sizeof big), M2M_ERR_IO);
    /* A corrupt CA key is reported, not overwritten. */
    char d[300];
    snprintf(d, sizeof d, "%s/corrupt", g_dir);
    assert_int_equal(pki_ensure_dev(d, NULL, big, bc, bk, sizeof big), M2M_OK);
    snprintf(f, sizeof f, "%s/ca.key", d);
    fp = fopen(f, "w");
    assert_non_null(fp);
    fputs("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", fp);
    fclose(fp);
    assert_int_equal(pki_ensure_dev(d, NULL, big, bc, bk, sizeof big), M2M_ERR_MALFORMED);
}

/* TS-0003 10.1 / SPEC-MAP F8: the flavours' SAN forms, and never a wildcard. */
static void test_flavours_and_wildcards(void **state)
{
    enum pki_flavour f;
    assert_int_equal(pki_flavour_parse("cse", &f), M2M_OK);
    assert_int_equal(f, PKI_FLAVOUR_CSE);
    assert_int_equal(pki_flavour_parse("device", &f), M2M_OK);
    assert_int_equal(f, PKI_FLAVOUR_DEVICE);
    assert_int_equal(pki_flavour_parse("CSE", &f), M2M_ERR_CONFIG);
    assert_int_equal(pki_flavour_parse(NULL, &f), M2M_ERR_CONFIG);
    assert_int_equal(pki_flavour_check(PKI_FLAVOUR_CSE, "//sp.example/id-mn"), M2M_OK);
    assert_int_equal(pki_flavour_check(PKI_FLAVOUR_CSE, "/id-mn"), M2M_ERR_CONFIG);
    assert_int_equal(pki_flavour_check(PKI_FLAVOUR_CSE, "//sp.example/id-mn/x"), M2M_ERR_CONFIG);
    assert_int_equal(pki_flavour_check(PKI_FLAVOUR_CSE, "//sp.example//id"), M2M_ERR_CONFIG);
    assert_int_equal(pki_flavour_check(PKI_FLAVOUR_AE, "//sp.example/id-in/Cae1"), M2M_OK);
    assert_int_equal(pki_flavour_check(PKI_FLAVOUR_AE, "//sp.example/id-in/Xae1"), M2M_ERR_CONFIG);
    assert_int_equal(pki_flavour_check(PKI_FLAVOUR_AE, "//sp.example/id-in/C*"), M2M_ERR_CONFIG);
    /* TS-0001 7.2: //SP/S... is a CSE-ID-less (SP-relative) AE-ID, never a CSE-ID */
    assert_int_equal(pki_flavour_check(PKI_FLAVOUR_AE, "//sp.example/Sdev2"), M2M_OK);
    assert_int_equal(pki_flavour_check(PKI_FLAVOUR_CSE, "//sp.example/Sdev2"), M2M_ERR_CONFIG);
    assert_int_equal(pki_flavour_check(PKI_FLAVOUR_AE, "//sp.example/Cdev2"), M2M_ERR_CONFIG);
    assert_int_equal(pki_flavour_check(PKI_FLAVOUR_AE, "//Sdev2"), M2M_ERR_CONFIG);
    assert_int_equal(pki_flavour_check(PKI_FLAVOUR_NODE, "urn:dev:ops:1"), M2M_OK);
    assert_int_equal(pki_flavour_check(PKI_FLAVOUR_NODE, "urn:"), M2M_ERR_CONFIG);
    assert_int_equal(pki_flavour_check(PKI_FLAVOUR_DEVICE, "dev1"), M2M_ERR_CONFIG);
    assert_int_equal(pki_flavour_check(PKI_FLAVOUR_ANY, "a b"), M2M_ERR_CONFIG);
    assert_int_equal(pki_flavour_check(PKI_FLAVOUR_ANY, NULL), M2M_OK);
    assert_int_equal(pki_flavour_check(PKI_FLAVOUR_AE, NULL), M2M_ERR_CONFIG);
    char ca[512], cert[512], key[512], oc[512], ok[512], d[300];
    snprintf(d, sizeof d, "%s/flavours", g_dir);
    assert_int_equal(pki_ensure_dev(d, NULL, ca, cert, key, sizeof ca), M2M_OK);
    snprintf(oc, sizeof oc, "%s/w.pem", d);
    snprintf(ok, sizeof ok, "%s/w.key", d);
    assert_int_equal(pki_issue(d, "//sp.example/id-in/C*", "w", 1, oc, ok), M2M_ERR_CONFIG);
    assert_int_equal(access(oc, F_OK), -1);
    assert_int_equal(pki_issue(d, "urn:dev:ops:1", "n", 1, oc, ok), M2M_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ensure_dev_creates_and_reuses),
        cmocka_unit_test(test_new_ca_reissues_server),
        cmocka_unit_test(test_issue_client),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_flavours_and_wildcards),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
