/* client_mef_test.c: the MEF client of the device library without a server: the client-side
 * command checks of TS-0003 8.3.9 (40/41/42/43, EST outcome 20/100/101) through cl_mef_decide,
 * the sec:* answer parsers with malformed inputs, the 10.3.7 derivation against the KDF vector,
 * base64 and PKCS#7 decoding for EST, the 0600 key file, and argument checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* tests/CMakeLists.txt links unit tests against m2mcore only, not m2msec_client: the module
 * under test is compiled into this executable. */
#include "../../src/client/client.c"
#include "../../src/client/client_coap.c"
#include "../../src/client/client_est.c"
#include "../../src/client/client_http.c"
#include "../../src/client/client_mef.c"
#include "../../src/client/client_ops.c"
#include "../../src/client/client_tls.c"

#define FQDN "mef.m2msec.test"
#define EST_URI "https://mef.m2msec.test:8444/.well-known/est"

static const uint8_t *U(const char *s)
{
    return (const uint8_t *)s;
}

/* A CERT_PROV command with the given fields. */
static char *cert_prov(const char *id, int proto, const char *uri, int type, const char *subject)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"sec:mcc\":{\"cmdID\":\"%s\",\"cmdStatusCode\":10,\"cmdDescription\":{"
             "\"cmdClassID\":1,\"targetID\":\"Cdev2\",\"cmdArgs\":{\"certProvCmdArgs\":{"
             "\"certProvProtocolID\":%d,\"URI\":\"%s\",\"certSubjectType\":%d,"
             "\"certSubjectID\":\"%s\"}}}}}",
             id, proto, uri, type, subject);
    return buf;
}

static struct cl_mef_decision decide_json(const char *json, unsigned types, const char *last)
{
    struct cl_mef_cmd cmd;
    struct m2msec_mef_cmd_env env = {.mef_fqdn = FQDN, .subject_types = types};
    struct cl_mef_decision d = {CL_MEF_STOP, -1};
    assert_int_equal(cl_mef_parse_cmd(U(json), strlen(json), &cmd), M2MSEC_OK);
    cl_mef_decide(&cmd, &env, last, &d);
    return d;
}

static void assert_report(struct cl_mef_decision d, int status)
{
    assert_int_equal(d.act, CL_MEF_REPORT);
    assert_int_equal(d.status, status);
}

static void test_decide_cert_prov_ok(void **st)
{
    struct cl_mef_decision d = decide_json(cert_prov("3", 1, EST_URI, 3, "Cdev2"), 0, "2");
    assert_int_equal(d.act, CL_MEF_RUN_EST);
    d = decide_json(cert_prov("3", 1, "https://MEF.m2msec.TEST/est", 2, "//sp.example/id-mn"),
                    1u << 2, NULL);
    assert_int_equal(d.act, CL_MEF_RUN_EST);
    d = decide_json(cert_prov("4", 1, EST_URI, 1, "urn:dev:ops:1234"), 1u << 1, "");
    assert_int_equal(d.act, CL_MEF_RUN_EST);
}

static void test_decide_repeated_40(void **st)
{
    assert_report(decide_json(cert_prov("7", 1, EST_URI, 3, "Cdev2"), 0, "7"), 40);
    const char *nm = "{\"sec:mcc\":{\"cmdID\":\"7\",\"cmdStatusCode\":11,\"cmdDescription\":{"
                     "\"cmdClassID\":0,\"cmdArgs\":{\"noMoreCmdArgs\":{\"retryDuration\":"
                     "\"PT1H\"}}}}}";
    assert_report(decide_json(nm, 0, "7"), 40); /* before any class processing */
}

static void test_decide_class_41(void **st)
{
    static const int classes[] = {2, 3, 4, 255};
    for (size_t i = 0; i < M2M_ARRAY_LEN(classes); i++) {
        char buf[256];
        snprintf(buf, sizeof buf,
                 "{\"sec:mcc\":{\"cmdID\":\"9\",\"cmdDescription\":{\"cmdClassID\":%d,"
                 "\"cmdArgs\":{\"devCfgCmdArgs\":{\"deviceConfigURI\":\"x\"}}}}}",
                 classes[i]);
        assert_report(decide_json(buf, 0, NULL), 41);
    }
}

static void test_decide_bad_args_42(void **st)
{
    static const char *const bad[] = {
        /* no cmdDescription, class not a number, class out of range */
        "{\"sec:mcc\":{\"cmdID\":\"5\"}}",
        "{\"sec:mcc\":{\"cmdID\":\"5\",\"cmdDescription\":{\"cmdClassID\":\"1\"}}}",
        "{\"sec:mcc\":{\"cmdID\":\"5\",\"cmdDescription\":{\"cmdClassID\":1.5}}}",
        /* CERT_PROV without cmdArgs, with the wrong args object, missing members */
        "{\"sec:mcc\":{\"cmdID\":\"5\",\"cmdDescription\":{\"cmdClassID\":1}}}",
        "{\"sec:mcc\":{\"cmdID\":\"5\",\"cmdDescription\":{\"cmdClassID\":1,\"cmdArgs\":{"
        "\"noMoreCmdArgs\":{\"retryDuration\":\"PT1H\"}}}}}",
        "{\"sec:mcc\":{\"cmdID\":\"5\",\"cmdDescription\":{\"cmdClassID\":1,\"cmdArgs\":{"
        "\"certProvCmdArgs\":{\"certProvProtocolID\":1,\"certSubjectType\":3,"
        "\"certSubjectID\":\"Cx\"}}}}}",
        "{\"sec:mcc\":{\"cmdID\":\"5\",\"cmdDescription\":{\"cmdClassID\":1,\"cmdArgs\":{"
        "\"certProvCmdArgs\":{\"certProvProtocolID\":\"1\",\"URI\":\"" EST_URI "\","
        "\"certSubjectType\":3,\"certSubjectID\":\"Cx\"}}}}}",
        "{\"sec:mcc\":{\"cmdID\":\"5\",\"cmdDescription\":{\"cmdClassID\":1,\"cmdArgs\":{"
        "\"certProvCmdArgs\":{\"certProvProtocolID\":1,\"URI\":\"" EST_URI "\","
        "\"certSubjectType\":3,\"certSubjectID\":\"\"}}}}}",
        /* a targetID that is not an identifier */
        "{\"sec:mcc\":{\"cmdID\":\"5\",\"cmdDescription\":{\"cmdClassID\":1,\"targetID\":7,"
        "\"cmdArgs\":{\"certProvCmdArgs\":{\"certProvProtocolID\":1,\"URI\":\"" EST_URI "\","
        "\"certSubjectType\":3,\"certSubjectID\":\"Cx\"}}}}}",
        /* NO_MORE_COMMANDS without retryDuration */
        "{\"sec:mcc\":{\"cmdID\":\"5\",\"cmdDescription\":{\"cmdClassID\":0,\"cmdArgs\":{"
        "\"noMoreCmdArgs\":{}}}}}",
    };
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++) {
        print_message("case %zu\n", i);
        assert_report(decide_json(bad[i], 0, NULL), 42);
    }
}

static void test_decide_unacceptable_43(void **st)
{
    /* SCEP, unknown protocol */
    assert_report(decide_json(cert_prov("6", 2, EST_URI, 3, "Cdev2"), 0, NULL), 43);
    assert_report(decide_json(cert_prov("6", 0, EST_URI, 3, "Cdev2"), 0, NULL), 43);
    /* the URI's host is not the MEF, or not https, or no path */
    assert_report(
        decide_json(cert_prov("6", 1, "https://evil.example/.well-known/est", 3, "Cdev2"), 0, NULL),
        43);
    assert_report(
        decide_json(cert_prov("6", 1, "https://mef.m2msec.test.evil/est", 3, "Cdev2"), 0, NULL),
        43);
    assert_report(decide_json(cert_prov("6", 1, "http://mef.m2msec.test/est", 3, "Cdev2"), 0, NULL),
                  43);
    assert_report(decide_json(cert_prov("6", 1, "https://mef.m2msec.test", 3, "Cdev2"), 0, NULL),
                  43);
    /* subject type not held by this client, or outside 1..3 */
    assert_report(decide_json(cert_prov("6", 1, EST_URI, 2, "/id-mn"), 1u << 3, NULL), 43);
    assert_report(decide_json(cert_prov("6", 1, EST_URI, 4, "Cdev2"), 0, NULL), 43);
    /* subject ID of the wrong kind for the type */
    assert_report(decide_json(cert_prov("6", 1, EST_URI, 3, "/id-mn"), 0, NULL), 43);
    assert_report(decide_json(cert_prov("6", 1, EST_URI, 2, "Cdev2"), 0, NULL), 43);
    assert_report(decide_json(cert_prov("6", 1, EST_URI, 1, "Cdev2"), 0, NULL), 43);
    assert_report(decide_json(cert_prov("6", 1, EST_URI, 3, "C*"), 0, NULL), 43);
}

static void test_decide_no_more(void **st)
{
    const char *nm = "{\"sec:mcc\":{\"cmdID\":\"8\",\"cmdStatusCode\":10,\"cmdDescription\":{"
                     "\"cmdClassID\":0,\"cmdArgs\":{\"noMoreCmdArgs\":{\"retryDuration\":"
                     "\"PT1H\"}}}}}";
    struct cl_mef_cmd cmd;
    assert_int_equal(cl_mef_parse_cmd(U(nm), strlen(nm), &cmd), M2MSEC_OK);
    assert_string_equal(cmd.retry, "PT1H");
    assert_int_equal(decide_json(nm, 0, "7").act, CL_MEF_STOP);
}

static void test_est_status(void **st)
{
    assert_int_equal(cl_mef_est_status(M2MSEC_OK), 20);
    assert_int_equal(cl_mef_est_status(M2MSEC_ERR_RSC), 100);
    assert_int_equal(cl_mef_est_status(M2MSEC_ERR_PROTOCOL), 100);
    assert_int_equal(cl_mef_est_status(M2MSEC_ERR_TLS), 100);
    assert_int_equal(cl_mef_est_status(M2MSEC_ERR_FILE), 101);
    assert_int_equal(cl_mef_est_status(M2MSEC_ERR_NOMEM), 101);
    assert_int_equal(cl_mef_est_status(M2MSEC_ERR_USAGE), 101);
}

static void test_parse_cmd_malformed(void **st)
{
    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "{\"sec:mcc\":1}",
        "{\"sec:mcc\":{}}",
        "{\"sec:mcc\":{\"cmdID\":3}}",
        "{\"sec:mcc\":{\"cmdID\":\"\"}}",
        "{\"sec:mcc\":{\"cmdID\":\"3a\"}}",
        "{\"sec:mcc\":{\"cmdID\":\"3\",\"cmdID\":\"4\"}}", /* duplicate member */
        ("{\"sec:mcc\":{\"cmdID\":\"1111111111111111111111111111111111111111111111111111111111111"
         "11111\"}}"),
        "{\"other\":{\"cmdID\":\"3\"}}"};
    struct cl_mef_cmd cmd;
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++)
        assert_int_equal(cl_mef_parse_cmd(U(bad[i]), strlen(bad[i]), &cmd), M2MSEC_ERR_PROTOCOL);
    /* every truncation of a valid command is refused, never read past its end */
    const char *ok = cert_prov("3", 1, EST_URI, 3, "Cdev2");
    size_t n = strlen(ok);
    for (size_t l = 0; l < n; l++) {
        uint8_t *cut = malloc(l ? l : 1);
        memcpy(cut, ok, l);
        assert_int_equal(cl_mef_parse_cmd(cut, l, &cmd), M2MSEC_ERR_PROTOCOL);
        free(cut);
    }
    assert_int_equal(cl_mef_parse_cmd(NULL, 0, &cmd), M2MSEC_ERR_PROTOCOL);
}

static void test_uri_and_kinds(void **st)
{
    assert_string_equal(cl_mef_uri_path(EST_URI, FQDN), "/.well-known/est");
    assert_string_equal(cl_mef_uri_path("HTTPS://mef.m2msec.test/x", FQDN), "/x");
    assert_null(cl_mef_uri_path("https://mef.m2msec.test:/x", FQDN));
    assert_null(cl_mef_uri_path("https://mef.m2msec.test:123456/x", FQDN));
    assert_null(cl_mef_uri_path("https://mef.m2msec.test/x?y", FQDN));
    assert_null(cl_mef_uri_path("https://user@mef.m2msec.test/x", FQDN));
    assert_null(cl_mef_uri_path(NULL, FQDN));
    /* CSE-ID-less S-AE-IDs (TS-0001 7.2, TS-0004 6.2.3) are AE-IDs; //Sx names no SP */
    assert_true(cl_mef_subject_kind_ok(3, "//sp.example/Sapp"));
    assert_true(cl_mef_subject_kind_ok(3, "/Sapp"));
    assert_false(cl_mef_subject_kind_ok(3, "//Sapp"));
    assert_true(cl_mef_subject_kind_ok(2, "/id-mn"));
    assert_true(cl_mef_subject_kind_ok(2, "//sp.example/id-mn"));
    assert_false(cl_mef_subject_kind_ok(2, "//sp.example/id-mn/x"));
    assert_false(cl_mef_subject_kind_ok(2, "/id-mn/"));
    assert_false(cl_mef_subject_kind_ok(2, "//sp"));
    assert_true(cl_mef_subject_kind_ok(3, "Sapp"));
    assert_true(cl_mef_subject_kind_ok(3, "/id-in/Cae"));
    assert_true(cl_mef_subject_kind_ok(3, "//sp.example/id-in/Cae"));
    assert_false(cl_mef_subject_kind_ok(3, "/id-in/ae"));
    assert_false(cl_mef_subject_kind_ok(3, "xae"));
    assert_true(cl_mef_subject_kind_ok(1, "1.2.3"));
    assert_false(cl_mef_subject_kind_ok(1, "1.2."));
    assert_false(cl_mef_subject_kind_ok(1, "urn:"));
    assert_false(cl_mef_subject_kind_ok(0, "Cx"));
}

#define ENR_OK                                                                                     \
    "{\"sec:enr\":{\"ri\":\"404142434445464748494A4B4C4D4E4F\",\"ty\":905,"                        \
    "\"keID\":\"404142434445464748494A4B4C4D4E4F@mef.m2msec.test\",\"enroleeID\":\"Cdev1\","       \
    "\"ct\":\"20261128T030000\",\"et\":\"20261129T030000\",\"targets\":[{\"targetID\":"            \
    "\"/id-in\",\"fqdn\":\"in.m2msec.test\",\"SUID\":22}]}}"

static void test_parse_enr(void **st)
{
    struct m2msec_enrolment e;
    uint8_t rel[16];
    for (int i = 0; i < 16; i++)
        rel[i] = (uint8_t)(0x40 + i);
    assert_int_equal(cl_mef_parse_enr(U(ENR_OK), strlen(ENR_OK), &e), M2MSEC_OK);
    assert_string_equal(e.enrolee_id, "Cdev1");
    assert_int_equal(e.expires_s, 1795921200); /* 2026-11-29T03:00:00Z */
    assert_int_equal(e.n_targets, 1);
    assert_string_equal(e.targets[0].fqdn, "in.m2msec.test");
    assert_int_equal(e.targets[0].suid, 22);
    assert_int_equal(cl_mef_keid_check(e.keid, rel, FQDN), M2MSEC_OK);
    assert_int_equal(
        cl_mef_keid_check("404142434445464748494a4b4c4d4e4f@mef.m2msec.test", rel, FQDN),
        M2MSEC_OK);
    assert_int_equal(cl_mef_keid_check(e.keid, rel, "other.m2msec.test"), M2MSEC_ERR_PROTOCOL);
    rel[15] ^= 1;
    assert_int_equal(cl_mef_keid_check(e.keid, rel, FQDN), M2MSEC_ERR_PROTOCOL);
    assert_int_equal(cl_mef_keid_check("4041@mef.m2msec.test", rel, FQDN), M2MSEC_ERR_PROTOCOL);
}

static void test_parse_enr_malformed(void **st)
{
    static const char *const bad[] = {
        "",
        "null",
        "{\"sec:enr\":[]}",
        "{\"sec:enr\":{\"enroleeID\":\"C\",\"et\":\"20261129T030000\"}}",
        "{\"sec:enr\":{\"keID\":\"k\",\"et\":\"20261129T030000\"}}",
        "{\"sec:enr\":{\"keID\":\"k\",\"enroleeID\":\"C\",\"et\":\"tomorrow\"}}",
        "{\"sec:enr\":{\"keID\":\"k\",\"enroleeID\":\"C d\",\"et\":\"20261129T030000\"}}",
        "{\"sec:enr\":{\"keID\":\"k\",\"enroleeID\":\"C\",\"et\":\"20261129T030000\","
        "\"targets\":{}}}",
        "{\"sec:enr\":{\"keID\":\"k\",\"enroleeID\":\"C\",\"et\":\"20261129T030000\","
        "\"targets\":[{\"targetID\":\"/id-in\",\"fqdn\":\"IN.example\",\"SUID\":22}]}}",
        "{\"sec:enr\":{\"keID\":\"k\",\"enroleeID\":\"C\",\"et\":\"20261129T030000\","
        "\"targets\":[{\"targetID\":\"/id-in\",\"fqdn\":\"in.example\",\"SUID\":5}]}}",
        "{\"sec:enr\":{\"keID\":\"k\",\"enroleeID\":\"C\",\"et\":\"20261129T030000\","
        "\"targets\":[{\"fqdn\":\"in.example\",\"SUID\":22}]}}",
        "{\"sec:enr\":{\"keID\":\"k\",\"enroleeID\":\"C\",\"et\":\"20261129T030000\","
        "\"targets\":[7]}}",
    };
    struct m2msec_enrolment e;
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++) {
        print_message("case %zu\n", i);
        assert_int_equal(cl_mef_parse_enr(U(bad[i]), strlen(bad[i]), &e), M2MSEC_ERR_PROTOCOL);
        assert_int_equal(e.n_targets, 0);
    }
    for (size_t l = 0; l < strlen(ENR_OK); l++)
        assert_int_equal(cl_mef_parse_enr(U(ENR_OK), l, &e), M2MSEC_ERR_PROTOCOL);
}

static void test_parse_mcr(void **st)
{
    char id[256];
    const char *ok = "{\"sec:mcr\":{\"ri\":\"mcr1A2B3C4D5E6F7081\",\"ty\":902}}";
    assert_int_equal(cl_mef_parse_mcr(U(ok), strlen(ok), id, sizeof id), M2MSEC_OK);
    assert_string_equal(id, "mcr1A2B3C4D5E6F7081");
    static const char *const bad[] = {"{\"sec:mcr\":{\"ri\":\"../x\"}}",
                                      "{\"sec:mcr\":{\"ri\":\"a/b\"}}", "{\"sec:mcr\":{}}",
                                      "{\"sec:mcr\":{\"ri\":7}}", "{\"sec:enr\":{\"ri\":\"x\"}}"};
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++)
        assert_int_equal(cl_mef_parse_mcr(U(bad[i]), strlen(bad[i]), id, sizeof id),
                         M2MSEC_ERR_PROTOCOL);
    assert_int_equal(cl_mef_parse_mcr(U(ok), strlen(ok), id, 5), M2MSEC_ERR_PROTOCOL);
}

static void test_parse_fcr(void **st)
{
    uint8_t key[64];
    size_t kl = sizeof key;
    char en[64];
    int64_t lt = 0;
    const char *ok = "{\"sec:fcr\":{\"status\":true,\"credential\":"
                     "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\",\"enroleeID\":\"Cdev1\","
                     "\"lifetime\":86312,\"et\":\"20261129T030000\"}}";
    assert_int_equal(cl_mef_parse_fcr(U(ok), strlen(ok), key, &kl, en, sizeof en, &lt), M2MSEC_OK);
    assert_int_equal(kl, 32);
    assert_int_equal(key[31], 31);
    assert_string_equal(en, "Cdev1");
    assert_int_equal(lt, 86312);
    static const char *const bad[] = {
        "{\"sec:fcr\":{\"status\":false,\"errorString\":\"unknown KeID\"}}",
        "{\"sec:fcr\":{\"status\":true,\"credential\":\"AAEC\",\"lifetime\":1}}",
        "{\"sec:fcr\":{\"status\":true,\"credential\":\"!!!!\",\"lifetime\":1}}",
        "{\"sec:fcr\":{\"status\":true,\"credential\":"
        "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\",\"lifetime\":-1}}",
        "{\"sec:fcr\":{\"status\":true,\"credential\":"
        "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}}",
        "{\"sec:fcr\":{\"status\":true,\"credential\":"
        "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\",\"lifetime\":1,\"enroleeID\":5}}",
        "{\"sec:fcr\":{\"status\":\"true\"}}",
    };
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++) {
        kl = sizeof key;
        print_message("case %zu\n", i);
        assert_int_equal(cl_mef_parse_fcr(U(bad[i]), strlen(bad[i]), key, &kl, en, sizeof en, &lt),
                         M2MSEC_ERR_PROTOCOL);
    }
    kl = 16; /* capacity below the key */
    assert_int_equal(cl_mef_parse_fcr(U(ok), strlen(ok), key, &kl, en, sizeof en, &lt),
                     M2MSEC_ERR_PROTOCOL);
}

/* tests/vectors/kdf/usage.vec record 1 (SPEC-MAP TV4). */
static void test_derive_key_vector(void **st)
{
    struct m2msec_enrolment e = {0};
    uint8_t key[32];
    static const uint8_t want[32] = {0x57, 0xc8, 0x56, 0x40, 0x19, 0x99, 0x57, 0x1b,
                                     0x52, 0xd5, 0x32, 0x08, 0xe8, 0xa5, 0xd7, 0x35,
                                     0x05, 0x7a, 0xd9, 0x71, 0x5d, 0x12, 0xd5, 0xb8,
                                     0x4c, 0xea, 0xbb, 0x2b, 0xf8, 0x2c, 0xf2, 0xb2};
    for (int i = 0; i < 32; i++)
        e.ke[i] = (uint8_t)i;
    assert_int_equal(m2msec_mef_derive_key(&e, 22, "CSE01.in.sp.example.com", key), M2MSEC_OK);
    assert_memory_equal(key, want, 32);
    assert_int_equal(m2msec_mef_derive_key(&e, 21, "CSE01.in.sp.example.com", key), M2MSEC_OK);
    assert_memory_not_equal(key, want, 32);
    assert_int_equal(m2msec_mef_derive_key(&e, 5, "in.example", key), M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_mef_derive_key(&e, 22, "bad fqdn", key), M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_mef_derive_key(NULL, 22, "in.example", key), M2MSEC_ERR_USAGE);
    m2msec_enrolment_wipe(&e);
    m2msec_enrolment_wipe(NULL);
}

static void test_b64(void **st)
{
    uint8_t out[16];
    size_t n = 0;
    char enc[32];
    assert_int_equal(cl_b64_decode(U("Zm9v\r\nYmE="), 10, out, sizeof out, &n), M2MSEC_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "fooba", 5);
    assert_int_equal(cl_b64_encode(out, 5, enc, sizeof enc), M2MSEC_OK);
    assert_string_equal(enc, "Zm9vYmE=");
    assert_int_equal(cl_b64_encode(out, 5, enc, 8), M2MSEC_ERR_USAGE);
    static const char *const bad[] = {
        "Zm9", "Zm9v=", "Zm=v", "Zm9vYmE=Zm9v", "Z===", "Zm9v!", "", "   ", "Zm9vY"};
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++)
        assert_int_equal(cl_b64_decode(U(bad[i]), strlen(bad[i]), out, sizeof out, &n),
                         M2MSEC_ERR_PROTOCOL);
    assert_int_equal(cl_b64_decode(U("Zm9vYmFy"), 8, out, 5, &n), M2MSEC_ERR_PROTOCOL);
}

/* A self-signed P-256 certificate wrapped in a certs-only PKCS#7, as the MEF's EST sends. */
static void make_p7(gnutls_datum_t *p7der, gnutls_x509_privkey_t *keyout)
{
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    gnutls_pkcs7_t p7;
    const char *san = "//sp.example/id-in/Cdev2";
    assert_int_equal(gnutls_x509_privkey_init(&key), 0);
    assert_int_equal(gnutls_x509_privkey_generate(
                         key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
                     0);
    assert_int_equal(gnutls_x509_crt_init(&crt), 0);
    assert_int_equal(gnutls_x509_crt_set_version(crt, 3), 0);
    assert_int_equal(gnutls_x509_crt_set_serial(crt, "\x01", 1), 0);
    assert_int_equal(gnutls_x509_crt_set_activation_time(crt, 1700000000), 0);
    assert_int_equal(gnutls_x509_crt_set_expiration_time(crt, 1900000000), 0);
    assert_int_equal(gnutls_x509_crt_set_key(crt, key), 0);
    assert_int_equal(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_URI, san, strlen(san),
                                                          GNUTLS_FSAN_SET),
                     0);
    assert_int_equal(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), 0);
    assert_int_equal(gnutls_pkcs7_init(&p7), 0);
    assert_int_equal(gnutls_pkcs7_set_crt(p7, crt), 0);
    assert_int_equal(gnutls_pkcs7_export2(p7, GNUTLS_X509_FMT_DER, p7der), 0);
    gnutls_pkcs7_deinit(p7);
    gnutls_x509_crt_deinit(crt);
    *keyout = key;
}

static void test_pkcs7_and_cert_check(void **st)
{
    gnutls_datum_t der, pem, first;
    gnutls_x509_privkey_t key, other;
    make_p7(&der, &key);
    assert_int_equal(cl_est_pkcs7_certs(der.data, der.size, &pem, &first), M2MSEC_OK);
    assert_non_null(strstr((const char *)pem.data, "BEGIN CERTIFICATE"));
    assert_int_equal(check_cert(key, &first, "//sp.example/id-in/Cdev2"), M2MSEC_OK);
    assert_int_equal(check_cert(key, &first, "//sp.example/id-in/Cdev3"), M2MSEC_ERR_PROTOCOL);
    gnutls_datum_t d2;
    make_p7(&d2, &other); /* another key: the certificate does not certify it */
    assert_int_equal(check_cert(other, &first, "//sp.example/id-in/Cdev2"), M2MSEC_ERR_PROTOCOL);
    gnutls_free(pem.data);
    gnutls_free(first.data);
    /* every truncation and a flipped tag are refused */
    for (unsigned l = 0; l < der.size; l += 7)
        assert_int_equal(cl_est_pkcs7_certs(der.data, l, &pem, NULL), M2MSEC_ERR_PROTOCOL);
    der.data[0] ^= 0x01;
    assert_int_equal(cl_est_pkcs7_certs(der.data, der.size, &pem, NULL), M2MSEC_ERR_PROTOCOL);
    assert_null(pem.data);
    gnutls_free(der.data);
    gnutls_free(d2.data);
    gnutls_x509_privkey_deinit(key);
    gnutls_x509_privkey_deinit(other);
}

static void test_csr_roundtrip(void **st)
{
    gnutls_x509_privkey_t key;
    gnutls_x509_crq_t crq;
    char *b64 = NULL, cp[64];
    size_t cpl = sizeof cp;
    uint8_t der[4096];
    size_t n = 0;
    assert_int_equal(gnutls_x509_privkey_init(&key), 0);
    assert_int_equal(gnutls_x509_privkey_generate(
                         key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
                     0);
    assert_int_equal(make_csr(key, "Cdev2", "Y2hhbm5lbA==", &b64), M2MSEC_OK);
    assert_int_equal(cl_b64_decode(U(b64), strlen(b64), der, sizeof der, &n), M2MSEC_OK);
    gnutls_datum_t d = {der, (unsigned)n};
    assert_int_equal(gnutls_x509_crq_init(&crq), 0);
    assert_int_equal(gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_DER), 0);
    assert_int_equal(gnutls_x509_crq_verify(crq, 0), 0);
    assert_int_equal(gnutls_x509_crq_get_challenge_password(crq, cp, &cpl), 0);
    assert_string_equal(cp, "Y2hhbm5lbA==");
    char san[64];
    size_t sl = sizeof san;
    assert_int_equal(gnutls_x509_crq_get_subject_alt_name(crq, 0, san, &sl, NULL, NULL),
                     GNUTLS_SAN_URI);
    assert_string_equal(san, "Cdev2");
    gnutls_x509_crq_deinit(crq);
    gnutls_x509_privkey_deinit(key);
    free(b64);
}

static void test_key_file(void **st)
{
    char dir[] = "/tmp/client_mef_testXXXXXX", path[128];
    uint8_t key[4] = {0xde, 0xad, 0xbe, 0xef};
    struct stat sb;
    char buf[32] = {0};
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/k", dir);
    assert_int_equal(m2msec_key_file_write(path, key, sizeof key), M2MSEC_OK);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, sizeof buf - 1, f), 9);
    fclose(f);
    assert_string_equal(buf, "deadbeef\n");
    assert_int_equal(m2msec_key_file_write(path, key, 0), M2MSEC_ERR_USAGE);
    snprintf(path, sizeof path, "%s/no/such/k", dir);
    assert_int_equal(m2msec_key_file_write(path, key, sizeof key), M2MSEC_ERR_FILE);
    snprintf(path, sizeof path, "%s/k", dir);
    unlink(path);
    rmdir(dir);
}

static struct m2msec_client *plain_client(void)
{
    struct m2msec_client_cfg cfg;
    struct m2msec_client *c = NULL;
    char err[CL_ERR_MAX];
    m2msec_client_cfg_init(&cfg);
    cfg.url = "http://127.0.0.1:1";
    cfg.originator = "Cdev1";
    cfg.connect_timeout_ms = 500;
    assert_int_equal(m2msec_client_new(&cfg, &c, err, sizeof err), M2MSEC_OK);
    return c;
}

static void test_argument_checks(void **st)
{
    struct m2msec_client *c = plain_client();
    struct m2msec_enrolment e;
    uint8_t out[32];
    char *reg = (char *)1;
    int rsc = -1;
    /* a plain http transport has no exporter: refused before any byte is sent */
    assert_int_equal(m2msec_client_export(c, "EXPORTER-oneM2M-Bootstrap", out, 32),
                     M2MSEC_ERR_USAGE);
    assert_non_null(strstr(m2msec_client_errmsg(c), "exporter"));
    assert_int_equal(m2msec_client_export(c, "x", out, 0), M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_client_export(c, "x", out, 256), M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_mef_enrol(c, NULL, &e, &rsc), M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_mef_enrol(c, "MEF.Upper", &e, &rsc), M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_mef_enrol(c, FQDN, &e, &rsc), M2MSEC_ERR_USAGE); /* plain */
    assert_int_equal(m2msec_mef_register(c, FQDN, NULL, NULL, NULL, 0, &reg, &rsc),
                     M2MSEC_ERR_USAGE);
    assert_null(reg);
    assert_int_equal(m2msec_mef_deregister(c, "../cse-in", &rsc), M2MSEC_ERR_USAGE);
    struct m2msec_mef_cmd_env env = {.mef_fqdn = FQDN};
    struct m2msec_mef_cmd_report rep;
    assert_int_equal(m2msec_mef_process_commands(c, "a/b", &env, &rep), M2MSEC_ERR_USAGE);
    uint8_t key[32];
    size_t kl = 16;
    char en[16];
    int64_t lt;
    assert_int_equal(m2msec_mef_fetch_credentials(c, "404142434445464748494A4B4C4D4E4F@" FQDN, 22,
                                                  key, &kl, en, sizeof en, &lt, &rsc),
                     M2MSEC_ERR_USAGE); /* capacity < 32 */
    kl = sizeof key;
    assert_int_equal(
        m2msec_mef_fetch_credentials(c, "nokeid", 22, key, &kl, en, sizeof en, &lt, &rsc),
        M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_mef_fetch_credentials(c, "404142434445464748494A4B4C4D4E4F@" FQDN, 5,
                                                  key, &kl, en, sizeof en, &lt, &rsc),
                     M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_est_enroll(c, "C*", false, "/tmp/k", "/tmp/c", NULL, &rsc),
                     M2MSEC_ERR_USAGE);
    assert_int_equal(m2msec_est_enroll(c, "Cdev", false, NULL, "/tmp/c", NULL, &rsc),
                     M2MSEC_ERR_USAGE);
    /* EST on a plain transport: the side operation is refused before any byte is sent */
    assert_int_equal(m2msec_est_enroll(c, "Cdev", false, "/tmp/k", "/tmp/c", NULL, &rsc),
                     M2MSEC_ERR_USAGE);
    assert_non_null(strstr(m2msec_client_errmsg(c), "https"));
    m2msec_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide_cert_prov_ok),
        cmocka_unit_test(test_decide_repeated_40),
        cmocka_unit_test(test_decide_class_41),
        cmocka_unit_test(test_decide_bad_args_42),
        cmocka_unit_test(test_decide_unacceptable_43),
        cmocka_unit_test(test_decide_no_more),
        cmocka_unit_test(test_est_status),
        cmocka_unit_test(test_parse_cmd_malformed),
        cmocka_unit_test(test_uri_and_kinds),
        cmocka_unit_test(test_parse_enr),
        cmocka_unit_test(test_parse_enr_malformed),
        cmocka_unit_test(test_parse_mcr),
        cmocka_unit_test(test_parse_fcr),
        cmocka_unit_test(test_derive_key_vector),
        cmocka_unit_test(test_b64),
        cmocka_unit_test(test_pkcs7_and_cert_check),
        cmocka_unit_test(test_csr_roundtrip),
        cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_argument_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
