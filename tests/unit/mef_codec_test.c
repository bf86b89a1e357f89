/* mef_codec_test.c: the Mmef JSON parsers (sec:enr, sec:mcr, sec:mkr, sec:mcc, sec:fcr,
 * sec:mefb) with every malformed input class, base64, timestamps and cmdDescription. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mef/mef_codec.h"

static m2m_rc enr(const char *s)
{
    struct mef_enr_req r;
    return mef_enr_parse((const uint8_t *)s, strlen(s), &r);
}

static m2m_rc mcr(const char *s, enum mef_mode m)
{
    struct mef_mcr_req r;
    m2m_rc rc = mef_mcr_parse((const uint8_t *)s, strlen(s), m, &r);
    mef_mcr_req_clear(&r);
    return rc;
}

static m2m_rc mkr(const char *s, enum mef_mode m)
{
    struct mef_mkr_req r;
    m2m_rc rc = mef_mkr_parse((const uint8_t *)s, strlen(s), m, &r);
    mef_mkr_req_clear(&r);
    return rc;
}

static m2m_rc mcc(const char *s)
{
    struct mef_mcc_req r;
    return mef_mcc_parse((const uint8_t *)s, strlen(s), &r);
}

#define BAD M2M_ERR_MALFORMED

static void test_enr(void **st)
{
    struct mef_enr_req r;
    const char *ok = "{\"sec:enr\":{\"et\":\"20301231T000000\"}}";
    assert_int_equal(enr("{\"sec:enr\":{}}"), M2M_OK);
    assert_int_equal(mef_enr_parse((const uint8_t *)ok, strlen(ok), &r), M2M_OK);
    assert_true(r.et_s > 1900000000);
    assert_int_equal(enr(""), BAD);                                          /* empty */
    assert_int_equal(enr("{\"sec:enr\":{}"), BAD);                           /* truncated */
    assert_int_equal(enr("[]"), BAD);                                        /* not an object */
    assert_int_equal(enr("{\"sec:mcr\":{}}"), BAD);                          /* wrong root */
    assert_int_equal(enr("{\"sec:enr\":{},\"x\":1}"), BAD);                  /* extra root */
    assert_int_equal(enr("{\"sec:enr\":[]}"), BAD);                          /* root not object */
    assert_int_equal(enr("{\"sec:enr\":{\"ke\":\"x\"}}"), BAD);              /* unknown member */
    assert_int_equal(enr("{\"sec:enr\":{\"et\":5}}"), BAD);                  /* wrong type */
    assert_int_equal(enr("{\"sec:enr\":{\"et\":\"2030\"}}"), BAD);           /* bad timestamp */
    assert_int_equal(enr("{\"sec:enr\":{\"et\":\"a\",\"et\":\"b\"}}"), BAD); /* duplicate */
    assert_int_equal(mef_enr_parse(NULL, 0, &r), BAD);
}

static void test_mcr(void **st)
{
    struct mef_mcr_req r;
    const char *ok = "{\"sec:mcr\":{\"fqdn\":\"mef.m2msec.test\",\"adminFQDN\":\"sp.example\","
                     "\"et\":\"20301205T000000\",\"lbl\":[\"factory-7\",\"b\"]}}";
    assert_int_equal(mef_mcr_parse((const uint8_t *)ok, strlen(ok), MEF_PARSE_CREATE, &r), M2M_OK);
    assert_string_equal(r.fqdn, "mef.m2msec.test");
    assert_string_equal(r.admin, "sp.example");
    assert_int_equal(r.lbl.n, 2);
    assert_string_equal(r.lbl.v[1], "b");
    mef_mcr_req_clear(&r);
    mef_mcr_req_clear(NULL);
    /* missing mandatory member */
    assert_int_equal(mcr("{\"sec:mcr\":{\"fqdn\":\"a.b\"}}", MEF_PARSE_CREATE), BAD);
    assert_int_equal(mcr("{\"sec:mcr\":{\"adminFQDN\":\"a.b\"}}", MEF_PARSE_CREATE), BAD);
    /* bad values: upper-case or malformed FQDN, label not a string, label with a space */
    assert_int_equal(mcr("{\"sec:mcr\":{\"fqdn\":\"A.b\",\"adminFQDN\":\"a.b\"}}", 0), BAD);
    assert_int_equal(mcr("{\"sec:mcr\":{\"fqdn\":\"a..b\",\"adminFQDN\":\"a.b\"}}", 0), BAD);
    assert_int_equal(mcr("{\"sec:mcr\":{\"fqdn\":\"a.b\",\"adminFQDN\":\"a.b\",\"lbl\":[1]}}", 0),
                     BAD);
    assert_int_equal(
        mcr("{\"sec:mcr\":{\"fqdn\":\"a.b\",\"adminFQDN\":\"a.b\",\"lbl\":[\"a b\"]}}", 0), BAD);
    assert_int_equal(mcr("{\"sec:mcr\":{\"fqdn\":\"a.b\",\"adminFQDN\":\"a.b\",\"lbl\":\"x\"}}", 0),
                     BAD);
    /* unknown member */
    assert_int_equal(mcr("{\"sec:mcr\":{\"fqdn\":\"a.b\",\"adminFQDN\":\"a.b\",\"x\":1}}", 0), BAD);
    /* update: et and/or lbl only, at least one */
    assert_int_equal(mcr("{\"sec:mcr\":{\"lbl\":[]}}", MEF_PARSE_UPDATE), M2M_OK);
    assert_int_equal(mcr("{\"sec:mcr\":{}}", MEF_PARSE_UPDATE), BAD);
    assert_int_equal(mcr("{\"sec:mcr\":{\"fqdn\":\"a.b\"}}", MEF_PARSE_UPDATE), BAD);
}

static void test_mcr_label_bounds(void **st)
{
    /* 256 labels pass, 257 do not; a 256-byte label does not */
    size_t cap = 300 * 8 + 64;
    char *s = malloc(cap);
    for (int n = 256; n <= 257; n++) {
        size_t o = (size_t)snprintf(s, cap, "{\"sec:mcr\":{\"lbl\":[");
        for (int i = 0; i < n; i++)
            o += (size_t)snprintf(s + o, cap - o, "%s\"l\"", i ? "," : "");
        snprintf(s + o, cap - o, "]}}");
        assert_int_equal(mcr(s, MEF_PARSE_UPDATE), n == 256 ? M2M_OK : BAD);
    }
    char big[400];
    memset(big, 'a', sizeof big);
    snprintf(s, cap, "{\"sec:mcr\":{\"lbl\":[\"%.256s\"]}}", big);
    assert_int_equal(mcr(s, MEF_PARSE_UPDATE), BAD);
    snprintf(s, cap, "{\"sec:mcr\":{\"lbl\":[\"%.255s\"]}}", big);
    assert_int_equal(mcr(s, MEF_PARSE_UPDATE), M2M_OK);
    free(s);
}

static void test_mkr(void **st)
{
    struct mef_mkr_req r;
    const char *ok = "{\"sec:mkr\":{\"fqdn\":\"mef.m2msec.test\",\"adminFQDN\":\"sp.example\","
                     "\"SUID\":23,\"targetIDs\":[\"/id-in/Cpeer\"],\"et\":\"20301201T000000\","
                     "\"keyValue\":\"AAECAwQFBgcICQoLDA0ODw==\"}}";
    assert_int_equal(mef_mkr_parse((const uint8_t *)ok, strlen(ok), MEF_PARSE_CREATE, &r), M2M_OK);
    assert_int_equal(r.suid, 23);
    assert_true(r.has_key);
    assert_int_equal(r.key_len, 16);
    assert_int_equal(r.key[15], 15);
    mef_mkr_req_clear(&r);
    assert_int_equal(r.key[15], 0); /* wiped */
#define MK(extra) "{\"sec:mkr\":{\"fqdn\":\"a.b\",\"adminFQDN\":\"a.b\"" extra "}}"
    assert_int_equal(mkr(MK(",\"SUID\":24,\"targetIDs\":[\"a\",\"b\"]"), 0), M2M_OK);
    /* SAEF/ESPrim SUIDs take exactly one target; none is never enough */
    assert_int_equal(mkr(MK(",\"SUID\":22,\"targetIDs\":[\"a\",\"b\"]"), 0), BAD);
    assert_int_equal(mkr(MK(",\"SUID\":24,\"targetIDs\":[]"), 0), BAD);
    assert_int_equal(mkr(MK(",\"SUID\":24"), 0), BAD);                           /* missing */
    assert_int_equal(mkr(MK(",\"SUID\":20,\"targetIDs\":[\"a\"]"), 0), BAD);     /* not a suid */
    assert_int_equal(mkr(MK(",\"SUID\":\"22\",\"targetIDs\":[\"a\"]"), 0), BAD); /* type */
    assert_int_equal(mkr(MK(",\"SUID\":22.5,\"targetIDs\":[\"a\"]"), 0), BAD);
    /* keyValue: too short, too long, not base64, non-canonical padding */
    assert_int_equal(mkr(MK(",\"SUID\":22,\"targetIDs\":[\"a\"],\"keyValue\":\"AAEC\""), 0), BAD);
    assert_int_equal(mkr(MK(",\"SUID\":22,\"targetIDs\":[\"a\"],\"keyValue\":\"!!!!\""), 0), BAD);
    assert_int_equal(
        mkr(MK(",\"SUID\":22,\"targetIDs\":[\"a\"],\"keyValue\":\"AAECAwQFBgcICQoLDA0ODx==\""), 0),
        BAD);
    char big[400];
    int o = snprintf(big, sizeof big, MK(",\"SUID\":22,\"targetIDs\":[\"a\"],\"keyValue\":\""));
    for (int i = 0; i < 92; i++)
        big[o++] = 'A'; /* 69 bytes */
    snprintf(big + o, sizeof big - (size_t)o, "\"}}");
    assert_int_equal(mkr(big, 0), BAD);
    /* update */
    assert_int_equal(mkr("{\"sec:mkr\":{\"targetIDs\":[\"x\"]}}", MEF_PARSE_UPDATE), M2M_OK);
    assert_int_equal(mkr("{\"sec:mkr\":{}}", MEF_PARSE_UPDATE), BAD);
    assert_int_equal(mkr("{\"sec:mkr\":{\"SUID\":22}}", MEF_PARSE_UPDATE), BAD);
    assert_int_equal(
        mkr("{\"sec:mkr\":{\"keyValue\":\"AAECAwQFBgcICQoLDA0ODw==\"}}", MEF_PARSE_UPDATE), BAD);
#undef MK
}

static void test_mcc(void **st)
{
    struct mef_mcc_req r;
    const char *ok = "{\"sec:mcc\":{\"cmdID\":\"3\",\"cmdStatusCode\":20}}";
    assert_int_equal(mef_mcc_parse((const uint8_t *)ok, strlen(ok), &r), M2M_OK);
    assert_string_equal(r.cmd_id, "3");
    assert_int_equal(r.status, 20);
    assert_int_equal(mcc("{\"sec:mcc\":{\"cmdID\":\"3\"}}"), BAD);
    assert_int_equal(mcc("{\"sec:mcc\":{\"cmdStatusCode\":20}}"), BAD);
    assert_int_equal(mcc("{\"sec:mcc\":{\"cmdID\":3,\"cmdStatusCode\":20}}"), BAD);
    assert_int_equal(mcc("{\"sec:mcc\":{\"cmdID\":\"03\",\"cmdStatusCode\":20}}"), BAD);
    assert_int_equal(mcc("{\"sec:mcc\":{\"cmdID\":\"x\",\"cmdStatusCode\":20}}"), BAD);
    assert_int_equal(
        mcc("{\"sec:mcc\":{\"cmdID\":\"123456789012345678901\",\"cmdStatusCode\":20}}"), BAD);
    assert_int_equal(mcc("{\"sec:mcc\":{\"cmdID\":\"3\",\"cmdStatusCode\":\"20\"}}"), BAD);
    assert_int_equal(mcc("{\"sec:mcc\":{\"cmdID\":\"3\",\"cmdStatusCode\":0}}"), BAD);
    assert_int_equal(mcc("{\"sec:mcc\":{\"cmdID\":\"3\",\"cmdStatusCode\":20,\"x\":1}}"), BAD);
}

static void test_fcr_mefb(void **st)
{
    struct mef_fcr f;
    struct mef_mefb b;
    const char *ok = "{\"sec:fcr\":{\"status\":true,\"credential\":"
                     "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\",\"enroleeID\":\"Cdev1\","
                     "\"lifetime\":86312,\"et\":\"20301129T030000\"}}";
    const char *no = "{\"sec:fcr\":{\"status\":false,\"errorString\":\"not allowed\"}}";
    const char *short_key =
        "{\"sec:fcr\":{\"status\":true,\"credential\":\"AAECAwQFBgcICQoLDA0ODw==\","
        "\"enroleeID\":\"C\",\"lifetime\":1}}";
    assert_int_equal(mef_fcr_parse((const uint8_t *)ok, strlen(ok), &f), M2M_OK);
    assert_true(f.status);
    assert_int_equal(f.key_len, 32);
    assert_int_equal(f.key[31], 31);
    assert_int_equal(f.lifetime_s, 86312);
    assert_int_equal(mef_fcr_parse((const uint8_t *)no, strlen(no), &f), M2M_OK);
    assert_false(f.status);
    assert_string_equal(f.error, "not allowed");
    assert_int_equal(mef_fcr_parse((const uint8_t *)short_key, strlen(short_key), &f), BAD);
    const char *bad[] = {"{\"sec:fcr\":{\"status\":true}}", "{\"sec:fcr\":{\"status\":1}}",
                         "{\"sec:fcr\":{\"status\":false}}", "{\"sec:fcr\":{}}",
                         "{\"sec:fcr\":{\"status\":false,\"errorString\":\"x\",\"y\":1}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mef_fcr_parse((const uint8_t *)bad[i], strlen(bad[i]), &f), BAD);
    const char *mb = "{\"sec:mefb\":{\"ri\":\"mef\",\"rn\":\"mef\",\"ty\":901,\"fqdn\":\"mef.x\","
                     "\"estBaseURI\":\"https://mef.x:8444/.well-known/est\"}}";
    assert_int_equal(mef_mefb_parse((const uint8_t *)mb, strlen(mb), &b), M2M_OK);
    assert_string_equal(b.fqdn, "mef.x");
    const char *mb2 = "{\"sec:mefb\":{\"ty\":902,\"fqdn\":\"mef.x\"}}";
    assert_int_equal(mef_mefb_parse((const uint8_t *)mb2, strlen(mb2), &b), BAD);
    const char *mb3 = "{\"sec:mefb\":{\"ri\":\"mef\"}}";
    assert_int_equal(mef_mefb_parse((const uint8_t *)mb3, strlen(mb3), &b), BAD);
}

static void test_b64_ts(void **st)
{
    uint8_t out[8];
    size_t n;
    char *s = NULL;
    assert_int_equal(mef_b64_encode((const uint8_t *)"foob", 4, &s), M2M_OK);
    assert_string_equal(s, "Zm9vYg==");
    assert_int_equal(mef_b64_decode(s, strlen(s), out, sizeof out, &n), M2M_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "foob", 4);
    free(s);
    assert_int_equal(mef_b64_decode("Zm9vYg=", 7, out, sizeof out, &n), BAD);  /* length */
    assert_int_equal(mef_b64_decode("Zm9vYh==", 8, out, sizeof out, &n), BAD); /* bits */
    assert_int_equal(mef_b64_decode("Zm=vYg==", 8, out, sizeof out, &n), BAD); /* pad inside */
    assert_int_equal(mef_b64_decode("Zm9v Yg=", 8, out, sizeof out, &n), BAD); /* space */
    assert_int_equal(mef_b64_decode("Zm9vYmFyYmF6", 12, out, 8, &n), BAD);     /* overfill */
    assert_int_equal(mef_b64_decode("", 0, out, 8, &n), BAD);
    char ts[MEF_TS_LEN + 1];
    int64_t t;
    mef_ts_format(1795834800, ts); /* 2026-11-28 03:00:00 UTC */
    assert_string_equal(ts, "20261128T030000");
    assert_int_equal(mef_ts_parse(ts, strlen(ts), &t), M2M_OK);
    assert_int_equal(t, 1795834800);
    assert_int_equal(mef_ts_parse("20261328T030000", 15, &t), BAD);
    assert_int_equal(mef_ts_parse("2026", 4, &t), BAD);
}

static void test_cmd_desc(void **st)
{
    char *d = NULL, subj[64];
    struct mef_cmd_args a = {.cls = MEF_CMD_CERT_PROV,
                             .est_uri = "https://mef.x/.well-known/est",
                             .subject_type = 3,
                             .subject_id = "Cdev2"};
    assert_int_equal(mef_cmd_desc_build(&a, &d), M2M_OK);
    assert_non_null(strstr(d, "\"certSubjectID\":\"Cdev2\""));
    mef_cmd_desc_subject(d, strlen(d), subj, sizeof subj);
    assert_string_equal(subj, "Cdev2");
    free(d);
    a.subject_type = 4;
    assert_int_equal(mef_cmd_desc_build(&a, &d), BAD);
    struct mef_cmd_args n = {.cls = MEF_CMD_NO_MORE, .retry = "PT1H"};
    assert_int_equal(mef_cmd_desc_build(&n, &d), M2M_OK);
    assert_string_equal(d, "{\"cmdClassID\":0,\"cmdArgs\":{\"noMoreCmdArgs\":"
                           "{\"retryDuration\":\"PT1H\"}}}");
    mef_cmd_desc_subject(d, strlen(d), subj, sizeof subj);
    assert_string_equal(subj, "");
    free(d);
    struct mef_cmd_args mo = {
        .cls = MEF_CMD_MO_NODE, .object_path = "/x", .object_type = 1, .suid = 20};
    assert_int_equal(mef_cmd_desc_build(&mo, &d), BAD); /* 20 is not a SUID */
    struct mef_cmd_args dv = {.cls = MEF_CMD_DEV_CFG};
    assert_int_equal(mef_cmd_desc_build(&dv, &d), BAD);
    struct mef_cmd_args x = {.cls = (enum mef_cmd_class)9};
    assert_int_equal(mef_cmd_desc_build(&x, &d), BAD);
}

static void test_strlist(void **st)
{
    struct mef_strlist l = {0};
    char *j = NULL;
    assert_int_equal(mef_strlist_from_json("[\"a\",\"b\"]", 9, 4, &l), M2M_OK);
    assert_true(mef_strlist_has(&l, "b"));
    assert_false(mef_strlist_has(&l, "c"));
    assert_int_equal(mef_strlist_to_json(&l, &j), M2M_OK);
    assert_string_equal(j, "[\"a\",\"b\"]");
    free(j);
    mef_strlist_clear(&l);
    assert_int_equal(mef_strlist_from_json("[\"a\",\"b\"]", 9, 1, &l), BAD);
    assert_int_equal(mef_strlist_from_json("{}", 2, 1, &l), BAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enr),
        cmocka_unit_test(test_mcr),
        cmocka_unit_test(test_mcr_label_bounds),
        cmocka_unit_test(test_mkr),
        cmocka_unit_test(test_mcc),
        cmocka_unit_test(test_fcr_mefb),
        cmocka_unit_test(test_b64_ts),
        cmocka_unit_test(test_cmd_desc),
        cmocka_unit_test(test_strlist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
