/* primparam_test.c: the binding-independent query parameters (src/model/primparam.c): every
 * parameter's range edges, duplicates, list bounds, "op", unknown names and the helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/timeutil.h"
#include "model/primparam.h"

static struct m2m_request R;
static struct primparam_seen S;
static int OP;
static char E[128];

static int setup(void **state)
{
    m2m_request_init(&R);
    R.t_recv_us = 1700000000000000LL;
    S.bits = 0;
    OP = 0;
    E[0] = 0;
    return 0;
}

static int teardown(void **state)
{
    m2m_request_clear(&R);
    return 0;
}

/* Applies "name=value" with op allowed (CoAP) or not (HTTP). */
static m2m_rsc ap(const char *name, const char *val, bool allow_op)
{
    return primparam_apply(&R, name, strlen(name), val, strlen(val), allow_op, &OP, &S, E,
                           sizeof E);
}

/* One fresh request per call: value accepted? */
static bool ok1(const char *name, const char *val)
{
    teardown(NULL);
    setup(NULL);
    return ap(name, val, true) == RSC_OK;
}

static void test_int_ranges(void **state)
{
    static const struct {
        const char *name, *lo, *hi, *below, *above;
    } t[] = {
        {"rcn", "0", "11", NULL, "12"},
        {"rt", "1", "5", "0", "6"},
        {"drt", "1", "2", "0", "3"},
        {"op", "1", "5", "0", "6"},
        {"fu", "1", "3", "0", "4"},
        {"fo", "1", "2", "0", "3"},
        {"lim", "0", "2147483647", NULL, "2147483648"},
        {"ofst", "1", "2147483647", "0", "2147483648"},
        {"lvl", "1", "2147483647", "0", "2147483648"},
        {"sts", "1", "999999999999999999", "0", "1000000000000000000"},
        {"stb", "0", "999999999999999999", NULL, "1000000000000000000"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_true(ok1(t[i].name, t[i].lo));
        assert_true(ok1(t[i].name, t[i].hi));
        if (t[i].below != NULL)
            assert_false(ok1(t[i].name, t[i].below));
        assert_false(ok1(t[i].name, t[i].above));
        assert_non_null(strstr(E, "invalid value for query parameter"));
        assert_non_null(strstr(E, t[i].name));
        assert_false(ok1(t[i].name, ""));
        assert_false(ok1(t[i].name, "-1"));
        assert_false(ok1(t[i].name, "+1"));
        assert_false(ok1(t[i].name, " 1"));
        assert_false(ok1(t[i].name, "1x"));
    }
}

static void test_int_fields(void **state)
{
    assert_int_equal(ap("rcn", "11", false), RSC_OK);
    assert_int_equal(ap("rt", "5", false), RSC_OK);
    assert_int_equal(ap("drt", "2", false), RSC_OK);
    assert_false(R.has_fc);
    assert_int_equal(ap("lim", "2147483647", false), RSC_OK);
    assert_true(R.has_fc);
    assert_int_equal(ap("sts", "999999999999999999", false), RSC_OK);
    assert_int_equal(ap("stb", "0", false), RSC_OK);
    assert_int_equal(ap("ofst", "1", false), RSC_OK);
    assert_int_equal(ap("lvl", "7", false), RSC_OK);
    assert_int_equal(ap("fu", "2", false), RSC_OK);
    assert_int_equal(ap("fo", "1", false), RSC_OK);
    assert_int_equal(R.rcn, 11);
    assert_int_equal(R.rt, 5);
    assert_int_equal(R.drt, 2);
    assert_int_equal(R.fc.lim, 2147483647);
    assert_int_equal(R.fc.sts, 999999999999999999LL);
    assert_int_equal(R.fc.stb, 0);
    assert_int_equal(R.fc.ofst, 1);
    assert_int_equal(R.fc.lvl, 7);
    assert_int_equal(R.fc.fu, 2);
    assert_int_equal(R.fc.fo, 1);
    /* 19 digits are refused before any overflow */
    assert_false(ok1("stb", "0000000000000000001"));
    assert_true(ok1("stb", "000000000000000001"));
}

static void test_op(void **state)
{
    assert_int_equal(ap("op", "3", true), RSC_OK);
    assert_int_equal(OP, 3);
    /* HTTP has no "op": it is an unknown name there */
    assert_true(ok1("rcn", "1"));
    assert_int_equal(ap("op", "3", false), RSC_BAD_REQUEST);
    assert_string_equal(E, "unknown query parameter 'op'");
    assert_int_equal(primparam_apply(&R, "op", 2, "1", 1, true, NULL, &S, E, sizeof E),
                     RSC_BAD_REQUEST);
}

static void test_timestamps_bool_rp(void **state)
{
    static const char *const ts[] = {"crb", "cra", "ms", "us", "exb", "exa"};
    int64_t t = 0;
    assert_true(m2m_ts_parse("20240229T235959", 15, &t));
    for (size_t i = 0; i < 6; i++) {
        assert_true(ok1(ts[i], "20240229T235959"));
        assert_true(R.has_fc);
        assert_true(ok1(ts[i], "20240229T235959Z"));
        assert_false(ok1(ts[i], ""));
        assert_false(ok1(ts[i], "2024"));
        assert_false(ok1(ts[i], "20240230T000000"));
        assert_false(ok1(ts[i], "1700000000"));
    }
    assert_int_equal(ap("crb", "20240229T235959", false), RSC_OK);
    assert_int_equal(R.fc.crb, t);
    for (size_t i = 0; i < 4; i++)
        assert_true(ok1("da", (const char *[]){"true", "false", "0", "1"}[i]));
    assert_false(ok1("da", "TRUE"));
    assert_false(ok1("da", "2"));
    assert_false(ok1("da", ""));
    assert_false(ok1("da", "truex"));
    assert_true(ok1("rp", "PT5M"));
    assert_false(R.has_fc);
    assert_false(ok1("rp", ""));
    assert_false(ok1("rp", "a\x01"));
}

static void test_duplicates(void **state)
{
    static const char *const names[] = {"rcn", "rt",  "drt",  "rp",  "da",  "op",  "fu",
                                        "fo",  "lim", "ofst", "lvl", "sts", "stb", "crb",
                                        "cra", "ms",  "us",   "exb", "exa"};
    static const char *const vals[] = {"1",
                                       "1",
                                       "1",
                                       "x",
                                       "1",
                                       "1",
                                       "1",
                                       "1",
                                       "1",
                                       "1",
                                       "1",
                                       "1",
                                       "1",
                                       "20240229T235959",
                                       "20240229T235959",
                                       "20240229T235959",
                                       "20240229T235959",
                                       "20240229T235959",
                                       "20240229T235959"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_int_equal(ap(names[i], vals[i], true), RSC_OK);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char want[64];
        assert_int_equal(ap(names[i], vals[i], true), RSC_BAD_REQUEST);
        snprintf(want, sizeof want, "duplicate query parameter '%s'", names[i]);
        assert_string_equal(E, want);
    }
    /* an invalid first value still counts as seen */
    assert_true(!ok1("rcn", "99"));
    assert_int_equal(ap("rcn", "1", true), RSC_BAD_REQUEST);
    assert_string_equal(E, "duplicate query parameter 'rcn'");
    /* lists repeat */
    assert_int_equal(ap("ty", "2", true), RSC_OK);
    assert_int_equal(ap("ty", "3", true), RSC_OK);
    assert_int_equal(ap("lbl", "a", true), RSC_OK);
    assert_int_equal(ap("lbl", "b", true), RSC_OK);
    assert_int_equal(R.fc.n_ty, 2);
    assert_int_equal(R.fc.n_lbl, 2);
}

static void test_ty_list(void **state)
{
    assert_int_equal(ap("ty", "1+65535", false), RSC_OK);
    assert_true(R.has_fc);
    assert_int_equal(R.fc.n_ty, 2);
    assert_int_equal(R.fc.ty[0], 1);
    assert_int_equal(R.fc.ty[1], 65535);
    assert_false(ok1("ty", "0"));
    assert_string_equal(E, "invalid resource type in query parameter 'ty'");
    assert_false(ok1("ty", "65536"));
    assert_false(ok1("ty", "2+"));
    assert_string_equal(E, "empty value in query parameter 'ty'");
    assert_false(ok1("ty", "+2"));
    assert_false(ok1("ty", "2++3"));
    assert_false(ok1("ty", ""));
    assert_false(ok1("ty", "x"));
    /* M2M_FC_MAX_TY items, then one more is refused */
    teardown(NULL);
    setup(NULL);
    for (int i = 0; i < M2M_FC_MAX_TY; i++)
        assert_int_equal(ap("ty", "2", false), RSC_OK);
    assert_int_equal(ap("ty", "2", false), RSC_BAD_REQUEST);
    assert_string_equal(E, "too many values for query parameter 'ty'");
    assert_int_equal(R.fc.n_ty, M2M_FC_MAX_TY);
}

static void test_lbl_list(void **state)
{
    char many[3 * (M2M_FC_MAX_LBL + 1)] = "";
    assert_int_equal(ap("lbl", "k:v+ +x", false), RSC_OK);
    assert_int_equal(R.fc.n_lbl, 3);
    assert_string_equal(R.fc.lbl[0], "k:v");
    assert_string_equal(R.fc.lbl[1], " ");
    assert_string_equal(R.fc.lbl[2], "x");
    assert_false(ok1("lbl", "a+"));
    assert_string_equal(E, "empty value in query parameter 'lbl'");
    assert_false(ok1("lbl", "a\x7f"));
    assert_string_equal(E, "invalid value in query parameter 'lbl'");
    /* M2M_FC_MAX_LBL in one value pass, one more is refused */
    for (int i = 0; i < M2M_FC_MAX_LBL; i++)
        strcat(many, i ? "+l" : "l");
    assert_true(ok1("lbl", many));
    assert_int_equal(R.fc.n_lbl, M2M_FC_MAX_LBL);
    strcat(many, "+l");
    assert_false(ok1("lbl", many));
    assert_string_equal(E, "too many values for query parameter 'lbl'");
    assert_int_equal(R.fc.n_lbl, M2M_FC_MAX_LBL); /* the items before stay, owned by R */
}

static void test_add_item(void **state)
{
    assert_int_equal(primparam_add_item(&R, "lbl", 3, "a+b", 3, E, sizeof E), RSC_OK);
    assert_true(R.has_fc);
    assert_int_equal(R.fc.n_lbl, 1);
    assert_string_equal(R.fc.lbl[0], "a+b");
    assert_int_equal(primparam_add_item(&R, "ty", 2, "4", 1, E, sizeof E), RSC_OK);
    assert_int_equal(R.fc.ty[0], 4);
    assert_int_equal(primparam_add_item(&R, "ty", 2, "2+3", 3, E, sizeof E), RSC_BAD_REQUEST);
    assert_int_equal(primparam_add_item(&R, "lbl", 3, "", 0, E, sizeof E), RSC_BAD_REQUEST);
    assert_int_equal(primparam_add_item(&R, "rcn", 3, "1", 1, E, sizeof E), RSC_BAD_REQUEST);
    assert_string_equal(E, "unknown list query parameter 'rcn'");
    assert_true(primparam_is_list("ty", 2));
    assert_true(primparam_is_list("lbl", 3));
    assert_false(primparam_is_list("lb", 2));
    assert_false(primparam_is_list("rcn", 3));
    assert_true(primparam_is_fc("ty", 2));
    assert_true(primparam_is_fc("exa", 3));
    assert_false(primparam_is_fc("rcn", 3));
    assert_false(primparam_is_fc("op", 2));
    assert_false(primparam_is_fc("tyx", 3));
}

static void test_unknown(void **state)
{
    char big[100];
    static const char *const names[] = {"", "RCN", "rcn ", "atrl", "lb", "tyx", "sza", "cty"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char want[80];
        assert_false(ok1(names[i], "1"));
        snprintf(want, sizeof want, "unknown query parameter '%s'", names[i]);
        assert_string_equal(E, want);
        assert_false(R.has_fc);
    }
    /* only the first 40 bytes of a long name are quoted; a prefix of a name is no name */
    memset(big, 'a', sizeof big);
    assert_int_equal(primparam_apply(&R, big, sizeof big, "1", 1, true, &OP, &S, E, sizeof E),
                     RSC_BAD_REQUEST);
    assert_int_equal(strlen(E), strlen("unknown query parameter ''") + 40);
    assert_int_equal(primparam_apply(&R, "rcnx", 3, "1", 1, true, &OP, &S, NULL, 0), RSC_OK);
    assert_int_equal(primparam_apply(&R, "rcn", 2, "1", 1, true, &OP, &S, NULL, 0),
                     RSC_BAD_REQUEST);
    /* a short err buffer is truncated, not overrun */
    char tiny[8];
    assert_int_equal(primparam_apply(&R, "zz", 2, "1", 1, true, &OP, &S, tiny, sizeof tiny),
                     RSC_BAD_REQUEST);
    assert_string_equal(tiny, "unknown");
}

static void test_uint_abs_rel(void **state)
{
    int64_t v = -5, t = 0, ts = 0;
    assert_true(primparam_uint("0", 1, 0, 0, &v));
    assert_int_equal(v, 0);
    assert_false(primparam_uint("", 0, 0, 9, &v));
    assert_false(primparam_uint("1234567890123456789", 19, 0, INT64_MAX, &v));
    assert_true(primparam_uint("123456789012345678", 18, 0, INT64_MAX, &v));
    assert_false(primparam_uint("10", 2, 0, 9, &v));
    assert_false(primparam_uint("1", 1, 2, 9, &v));
    assert_true(primparam_abs_rel(&R, "1000", 4, &t));
    assert_int_equal(t, R.t_recv_us + 1000000);
    assert_true(primparam_abs_rel(&R, "20240229T235959", 15, &t));
    assert_true(m2m_ts_parse("20240229T235959", 15, &ts));
    assert_int_equal(t, ts);
    assert_false(primparam_abs_rel(&R, "", 0, &t));
    assert_false(primparam_abs_rel(&R, "-1", 2, &t));
    assert_false(primparam_abs_rel(&R, "3162240000001", 13, &t)); /* over 100 years, not a ts */
    assert_true(primparam_abs_rel(&R, "3162240000000", 13, &t));
}

static void test_rc(void **state)
{
    m2m_rsc out = RSC_NONE;
    assert_int_equal(primparam_rc(&out, RSC_OK), M2M_OK);
    assert_int_equal(out, RSC_NONE);
    assert_int_equal(primparam_rc(&out, RSC_INTERNAL_SERVER_ERROR), M2M_ERR_NOMEM);
    assert_int_equal(out, RSC_NONE);
    assert_int_equal(primparam_rc(&out, RSC_BAD_REQUEST), M2M_ERR_MALFORMED);
    assert_int_equal(out, RSC_BAD_REQUEST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_int_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_op, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamps_bool_rp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ty_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lbl_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_item, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uint_abs_rel, setup, teardown),
        cmocka_unit_test(test_rc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
