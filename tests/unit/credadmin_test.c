/* credadmin_test.c: the pure parts of the credential administration resource: the CREATE body
 * parser (every kind, every malformed shape, oversize parts), strict base64, and the path-safe
 * references of Credential-IDs holding '/'. The request flow is covered by
 * tests/integration/test_cred_admin.py against the real server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cse/credadmin.h"

static m2m_rc parse(const char *json, struct credadmin_new *n)
{
    char why[160];
    m2m_rc rc = credadmin_parse((const uint8_t *)json, strlen(json), 16, n, why, sizeof why);
    if (rc != M2M_OK)
        assert_true(why[0] != 0); /* every refusal says why */
    return rc;
}

static void test_psk_ok(void **state)
{
    struct credadmin_new n;
    assert_int_equal(parse("{\"sec:cred\":{\"kind\":\"psk\",\"identity\":\"d1@m2m.example.com\","
                           "\"key\":\"AAECAwQFBgcICQoLDA0ODw==\",\"bind\":[\"Cd1\",\"Cd2\"]}}",
                           &n),
                     M2M_OK);
    assert_int_equal(n.kind, CRED_PSK);
    assert_string_equal(n.name, "d1@m2m.example.com");
    assert_int_equal(n.key_len, 16);
    for (int i = 0; i < 16; i++)
        assert_int_equal(n.key[i], i);
    assert_int_equal(n.n_bind, 2);
    assert_string_equal(n.bind[1], "Cd2");
    credadmin_new_clear(&n);
    assert_int_equal(n.key_len, 0);
    assert_int_equal(n.key[3], 0); /* wiped */
}

static void test_other_kinds_ok(void **state)
{
    struct credadmin_new n;
    assert_int_equal(
        parse("{\"sec:cred\":{\"kind\":\"rpk\",\"spki\":\"MFkw\",\"bind\":[\"Cr\"]}}", &n), M2M_OK);
    assert_int_equal(n.kind, CRED_RPK);
    assert_int_equal(n.spki_len, 3);
    assert_int_equal(parse("{\"sec:cred\":{\"kind\":\"node\",\"urn\":\"urn:dev:ops:1\","
                           "\"bind\":[\"Cn\"]}}",
                           &n),
                     M2M_OK);
    assert_int_equal(n.kind, CRED_NODE);
    assert_string_equal(n.name, "urn:dev:ops:1");
    assert_int_equal(parse("{\"sec:cred\":{\"kind\":\"device\",\"urn\":\"urn:x\","
                           "\"bind\":[\"Cn\"]}}",
                           &n),
                     M2M_OK);
    assert_int_equal(n.kind, CRED_DEVICE);
}

static void test_malformed_bodies(void **state)
{
    static const char *bad[] = {
        "",
        "not json",
        "[]",
        "{\"m2m:cred\":{}}",
        "{\"sec:cred\":{\"kind\":\"psk\"}}",
        "{\"sec:cred\":1}",
        "{\"sec:cred\":{},\"x\":1}",
        "{\"sec:cred\":{\"kind\":\"pskx\",\"identity\":\"a@b\",\"key\":\"AA==\",\"bind\":[\"C\"]}}",
        "{\"sec:cred\":{\"kind\":\"psk\",\"identity\":\"a@b\",\"key\":\"AA==\"}}",
        "{\"sec:cred\":{\"kind\":\"psk\",\"identity\":\"a@b\",\"key\":\"AA==\",\"bind\":[]}}",
        "{\"sec:cred\":{\"kind\":\"psk\",\"identity\":\"a@b\",\"key\":\"AA==\",\"bind\":[1]}}",
        "{\"sec:cred\":{\"kind\":\"psk\",\"identity\":\"a@b\",\"key\":\"AA==\",\"bind\":\"C\"}}",
        "{\"sec:cred\":{\"kind\":\"psk\",\"identity\":\"a@b\",\"key\":\"A!==\",\"bind\":[\"C\"]}}",
        "{\"sec:cred\":{\"kind\":\"psk\",\"identity\":\"a@b\",\"key\":\"\",\"bind\":[\"C\"]}}",
        "{\"sec:cred\":{\"kind\":\"psk\",\"identity\":\"\",\"key\":\"AA==\",\"bind\":[\"C\"]}}",
        "{\"sec:cred\":{\"kind\":\"psk\",\"identity\":7,\"key\":\"AA==\",\"bind\":[\"C\"]}}",
        /* a member another kind takes */
        "{\"sec:cred\":{\"kind\":\"psk\",\"identity\":\"a@b\",\"key\":\"AA==\",\"bind\":[\"C\"],"
        "\"urn\":\"urn:x\"}}",
        "{\"sec:cred\":{\"kind\":\"rpk\",\"spki\":\"MFkw\",\"key\":\"AA==\",\"bind\":[\"C\"]}}",
        "{\"sec:cred\":{\"kind\":\"node\",\"bind\":[\"C\"]}}",
        /* duplicate member names are refused by json_parse */
        "{\"sec:cred\":{\"kind\":\"psk\",\"kind\":\"rpk\"}}",
        /* ten bindings */
        "{\"sec:cred\":{\"kind\":\"node\",\"urn\":\"urn:x\",\"bind\":[\"1\",\"2\",\"3\",\"4\","
        "\"5\",\"6\",\"7\",\"8\",\"9\",\"10\"]}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct credadmin_new n;
        m2m_rc rc = parse(bad[i], &n);
        if (rc == M2M_OK)
            fail_msg("accepted: %s", bad[i]);
        assert_int_equal(n.key_len, 0);
    }
}

static void test_oversize_parts(void **state)
{
    char buf[CREDADMIN_BODY_MAX + 64], key[200];
    struct credadmin_new n;
    /* 65 bytes of key: one more than CRED_PSK_MAX */
    memset(key, 'A', 88);
    key[87] = '=';
    key[88] = 0;
    snprintf(
        buf, sizeof buf,
        "{\"sec:cred\":{\"kind\":\"psk\",\"identity\":\"a@b\",\"key\":\"%s\",\"bind\":[\"C\"]}}",
        key);
    assert_int_not_equal(parse(buf, &n), M2M_OK);
    /* a body over the bound is refused before parsing */
    memset(buf, ' ', sizeof buf);
    buf[sizeof buf - 1] = 0;
    buf[0] = '{';
    buf[sizeof buf - 2] = '}';
    char why[64];
    assert_int_equal(credadmin_parse((const uint8_t *)buf, strlen(buf), 16, &n, why, sizeof why),
                     M2M_ERR_LIMIT);
    /* a name longer than an identifier */
    char name[400];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = 0;
    snprintf(buf, sizeof buf, "{\"sec:cred\":{\"kind\":\"node\",\"urn\":\"%s\",\"bind\":[\"C\"]}}",
             name);
    assert_int_not_equal(parse(buf, &n), M2M_OK);
    /* nesting deeper than allowed */
    assert_int_not_equal(credadmin_parse((const uint8_t *)"{\"sec:cred\":{\"kind\":[[[[1]]]]}}", 31,
                                         3, &n, why, sizeof why),
                         M2M_OK);
}

static void test_b64(void **state)
{
    uint8_t out[8];
    size_t n = 0;
    assert_int_equal(credadmin_b64_decode("AAEC", 4, out, sizeof out, &n), M2M_OK);
    assert_int_equal(n, 3);
    assert_int_equal(out[2], 2);
    assert_int_equal(credadmin_b64_decode("AAE=", 4, out, sizeof out, &n), M2M_OK);
    assert_int_equal(n, 2);
    assert_int_equal(credadmin_b64_decode("AAE", 3, out, sizeof out, &n), M2M_OK); /* no pad */
    assert_int_equal(n, 2);
    assert_int_equal(credadmin_b64_decode("+/8=", 4, out, sizeof out, &n), M2M_OK);
    assert_int_equal(out[0], 0xfb);
    assert_int_equal(credadmin_b64_decode("AAF=", 4, out, sizeof out, &n), M2M_ERR_MALFORMED);
    assert_int_equal(credadmin_b64_decode("A", 1, out, sizeof out, &n), M2M_ERR_MALFORMED);
    assert_int_equal(credadmin_b64_decode("AA=", 3, out, sizeof out, &n), M2M_ERR_MALFORMED);
    assert_int_equal(credadmin_b64_decode("AA A", 4, out, sizeof out, &n), M2M_ERR_MALFORMED);
    assert_int_equal(credadmin_b64_decode("-_8=", 4, out, sizeof out, &n), M2M_ERR_MALFORMED);
    assert_int_equal(credadmin_b64_decode("AAAAAAAAAAAA", 12, out, sizeof out, &n), M2M_ERR_LIMIT);
    assert_int_equal(credadmin_b64_decode("=AAA", 4, out, sizeof out, &n), M2M_ERR_MALFORMED);
}

static void test_refs(void **state)
{
    char ref[128], back[128];
    assert_int_equal(credadmin_ref_encode("12-d1@m2m.example.com", ref, sizeof ref), M2M_OK);
    assert_string_equal(ref, "12-d1@m2m.example.com"); /* no '/': the ID itself */
    const char *ni = "30-ni:///sha-256;abcDEF_-x";
    assert_int_equal(credadmin_ref_encode(ni, ref, sizeof ref), M2M_OK);
    assert_int_equal(ref[0], '@');
    assert_null(strchr(ref, '/'));
    assert_int_equal(credadmin_ref_decode(ref, back, sizeof back), M2M_OK);
    assert_string_equal(back, ni);
    for (size_t len = 1; len < 8; len++) { /* every padding case round-trips */
        char id[16] = "a/b/c/d";
        id[len] = 0;
        assert_int_equal(credadmin_ref_encode(id, ref, sizeof ref), M2M_OK);
        assert_int_equal(credadmin_ref_decode(ref, back, sizeof back), M2M_OK);
        assert_string_equal(back, id);
    }
    assert_int_equal(credadmin_ref_encode(ni, ref, 8), M2M_ERR_LIMIT);
    assert_int_equal(credadmin_ref_decode("", back, sizeof back), M2M_ERR_MALFORMED);
    assert_int_equal(credadmin_ref_decode("@", back, sizeof back), M2M_ERR_MALFORMED);
    assert_int_equal(credadmin_ref_decode("@!!", back, sizeof back), M2M_ERR_MALFORMED);
    assert_int_equal(credadmin_ref_decode("@AA", back, sizeof back), M2M_ERR_MALFORMED); /* NUL */
    assert_int_equal(credadmin_ref_decode("@CQ", back, sizeof back), M2M_ERR_MALFORMED); /* TAB */
    assert_int_equal(credadmin_ref_decode("a\tb", back, sizeof back), M2M_ERR_MALFORMED);
    assert_int_equal(credadmin_ref_decode("abcdef", back, 4), M2M_ERR_LIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psk_ok),
        cmocka_unit_test(test_other_kinds_ok),
        cmocka_unit_test(test_malformed_bodies),
        cmocka_unit_test(test_oversize_parts),
        cmocka_unit_test(test_b64),
        cmocka_unit_test(test_refs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
