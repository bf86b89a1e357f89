/* base_json_test.c: json_parse bounds (depth, UTF-8, duplicates, NUL, grammar, trailing bytes)
 * and json_is_int_in edges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "enc/json.h"

/* Parses n bytes from a heap copy of exactly n bytes, so ASan sees any read past the end. */
static m2m_rc parse_n(const void *s, size_t n, int depth, cJSON **out)
{
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    if (n)
        memcpy(copy, s, n);
    *out = (cJSON *)(uintptr_t)1; /* must be reset to NULL on failure */
    m2m_rc rc = json_parse(n ? copy : NULL, n, depth, out);
    if (rc != M2M_OK)
        assert_null(*out);
    else
        assert_non_null(*out);
    free(copy);
    return rc;
}

#define LIT(s) s, sizeof(s) - 1

/* Parses a literal at depth 16 and frees the tree; returns the status. */
static m2m_rc parse_lit(const char *s, size_t n)
{
    cJSON *j;
    m2m_rc rc = parse_n(s, n, 16, &j);
    cJSON_Delete(j);
    return rc;
}

#define OK_LIT(s) assert_int_equal(parse_lit(LIT(s)), M2M_OK)
#define BAD_LIT(s) assert_int_equal(parse_lit(LIT(s)), M2M_ERR_MALFORMED)

/* ---- valid documents ---------------------------------------------------------------------- */

static void test_valid_basics(void **state)
{
    cJSON *j;
    assert_int_equal(parse_n(LIT("{\"m2m:ae\":{\"rn\":\"x\",\"rr\":true,\"srv\":[\"3\"],"
                                 "\"n\":null,\"v\":-1.5e2}}"),
                             4, &j),
                     M2M_OK);
    const cJSON *ae = cJSON_GetObjectItemCaseSensitive(j, "m2m:ae");
    assert_true(cJSON_IsObject(ae));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ae, "rn")->valuestring, "x");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ae, "rr")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(ae, "n")));
    assert_true(cJSON_GetObjectItemCaseSensitive(ae, "v")->valuedouble == -150.0);
    char *p = json_print(j);
    assert_string_equal(p, "{\"m2m:ae\":{\"rn\":\"x\",\"rr\":true,\"srv\":[\"3\"],\"n\":null,"
                           "\"v\":-150}}");
    free(p);
    cJSON_Delete(j);
    OK_LIT("0");
    OK_LIT("\"s\"");
    OK_LIT("true");
    OK_LIT("null");
    OK_LIT("[]");
    OK_LIT("{}");
    OK_LIT("\"\x7f\""); /* DEL need not be escaped */
    OK_LIT("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\"");
}

static void test_whitespace(void **state)
{
    OK_LIT(" \t\r\n[ 1 , 2 ]");
    OK_LIT("[1] \t\r\n");
    OK_LIT("{ \"a\" : 1 }\n");
    /* RFC 8259 2: only space, tab, CR and LF are whitespace */
    BAD_LIT("[1,\x0b"
            "2]");
    BAD_LIT("\x0c[1]");
    BAD_LIT("[1]\x0c");
    BAD_LIT("{\"a\":\x01"
            "1}");
    BAD_LIT("[1]\x1f");
}

static void test_empty_input(void **state)
{
    cJSON *j = (cJSON *)(uintptr_t)1;
    assert_int_equal(json_parse(NULL, 0, 4, &j), M2M_ERR_MALFORMED);
    assert_null(j);
    j = (cJSON *)(uintptr_t)1;
    assert_int_equal(json_parse((const uint8_t *)"[]", 0, 4, &j), M2M_ERR_MALFORMED);
    assert_null(j);
    BAD_LIT(" ");
    BAD_LIT(" \r\n\t");
}

/* ---- depth -------------------------------------------------------------------------------- */

/* n nested arrays (open == '[') or objects around a 1. */
static char *nest(int n, char open)
{
    struct m2m_buf b = M2M_BUF_INIT;
    for (int i = 0; i < n; i++)
        assert_int_equal(m2m_buf_append_str(&b, open == '[' ? "[" : "{\"k\":"), M2M_OK);
    assert_int_equal(m2m_buf_append_str(&b, "1"), M2M_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(m2m_buf_append_str(&b, open == '[' ? "]" : "}"), M2M_OK);
    return m2m_buf_steal(&b, NULL);
}

static void test_depth_limit(void **state)
{
    static const int limits[] = {1, 2, 3, 8, 64, 512};
    for (size_t k = 0; k < M2M_ARRAY_LEN(limits); k++) {
        int n = limits[k];
        for (int t = 0; t < 2; t++) {
            char open = t ? '{' : '[';
            char *at = nest(n, open), *over = nest(n + 1, open);
            cJSON *j;
            assert_int_equal(parse_n(at, strlen(at), n, &j), M2M_OK);
            cJSON_Delete(j);
            assert_int_equal(parse_n(over, strlen(over), n, &j), M2M_ERR_LIMIT);
            free(at);
            free(over);
        }
    }
}

static void test_depth_edges(void **state)
{
    cJSON *j;
    /* depth 0 admits scalars only */
    assert_int_equal(parse_n(LIT("7"), 0, &j), M2M_OK);
    cJSON_Delete(j);
    assert_int_equal(parse_n(LIT("[]"), 0, &j), M2M_ERR_LIMIT);
    /* siblings do not add up */
    assert_int_equal(parse_n(LIT("[[1],[2],{\"a\":3},[4]]"), 2, &j), M2M_OK);
    cJSON_Delete(j);
    assert_int_equal(parse_n(LIT("[[1],[2],{\"a\":3},[4]]"), 1, &j), M2M_ERR_LIMIT);
    /* brackets inside strings, escaped quotes included, are not structure */
    assert_int_equal(parse_n(LIT("[\"[[[{{{\\\"[[[\"]"), 1, &j), M2M_OK);
    cJSON_Delete(j);
    assert_int_equal(parse_n(LIT("{\"[[[[\":1}"), 1, &j), M2M_OK);
    cJSON_Delete(j);
    /* mixed object/array nesting counts both */
    assert_int_equal(parse_n(LIT("{\"a\":[{\"b\":[1]}]}"), 4, &j), M2M_OK);
    cJSON_Delete(j);
    assert_int_equal(parse_n(LIT("{\"a\":[{\"b\":[1]}]}"), 3, &j), M2M_ERR_LIMIT);
    /* an unclosed deep prefix is refused by the limit, never by recursion */
    char deep[20000];
    memset(deep, '[', sizeof deep);
    assert_int_equal(parse_n(deep, sizeof deep, 512, &j), M2M_ERR_LIMIT);
}

/* ---- UTF-8 -------------------------------------------------------------------------------- */

struct bytes {
    const char *what;
    const char *b;
    size_t n;
};

#define B(what, s)                                                                                 \
    {                                                                                              \
        what, s, sizeof(s) - 1                                                                     \
    }

static const struct bytes bad_utf8[] = {
    B("overlong NUL 2", "\xc0\x80"),
    B("overlong / 2", "\xc0\xaf"),
    B("overlong 2 max", "\xc1\xbf"),
    B("overlong 3", "\xe0\x80\x80"),
    B("overlong 3 max", "\xe0\x9f\xbf"),
    B("overlong 4", "\xf0\x80\x80\x80"),
    B("overlong 4 max", "\xf0\x8f\xbf\xbf"),
    B("surrogate D800", "\xed\xa0\x80"),
    B("surrogate DBFF", "\xed\xaf\xbf"),
    B("surrogate DC00", "\xed\xb0\x80"),
    B("surrogate DFFF", "\xed\xbf\xbf"),
    B("surrogate pair as UTF-8", "\xed\xa0\xbd\xed\xb8\x80"),
    B("U+110000", "\xf4\x90\x80\x80"),
    B("U+13FFFF", "\xf4\xbf\xbf\xbf"),
    B("lead F5", "\xf5\x80\x80\x80"),
    B("lead F7", "\xf7\xbf\xbf\xbf"),
    B("lead F8 5-byte", "\xf8\x88\x80\x80\x80"),
    B("lead FC 6-byte", "\xfc\x84\x80\x80\x80\x80"),
    B("FE", "\xfe"),
    B("FF", "\xff"),
    B("lone continuation 80", "\x80"),
    B("lone continuation BF", "\xbf"),
    B("continuation after ASCII", "a\x80"),
    B("extra continuation", "\xc3\xa9\x80"),
    B("truncated 2 at end", "\xc3"),
    B("truncated 3 at end", "\xe2\x82"),
    B("truncated 3 after 1", "\xe2"),
    B("truncated 4 at end", "\xf0\x9f\x98"),
    B("truncated 2 then ASCII", "\xc3\x41"),
    B("truncated 3 then ASCII", "\xe2\x82\x41"),
    B("truncated 4 then ASCII", "\xf0\x9f\x98\x41"),
    B("truncated 3 then lead", "\xe2\x82\xe2\x82\xac"),
};

static const struct bytes good_utf8[] = {
    B("U+007F", "\x7f"),
    B("U+0080", "\xc2\x80"),
    B("U+00E9", "\xc3\xa9"),
    B("U+07FF", "\xdf\xbf"),
    B("U+0800", "\xe0\xa0\x80"),
    B("U+20AC", "\xe2\x82\xac"),
    B("U+D7FF", "\xed\x9f\xbf"),
    B("U+E000", "\xee\x80\x80"),
    B("U+FFFD", "\xef\xbf\xbd"),
    B("U+FFFF", "\xef\xbf\xbf"),
    B("U+10000", "\xf0\x90\x80\x80"),
    B("U+1F600", "\xf0\x9f\x98\x80"),
    B("U+10FFFF", "\xf4\x8f\xbf\xbf"),
};

/* Wraps raw bytes as "<bytes>" (a value), or {"<bytes>":1} (a member name) when as_key. */
static m2m_rc parse_wrapped(const struct bytes *t, bool as_key, cJSON **out)
{
    char doc[64];
    size_t n = 0;
    const char *pre = as_key ? "{\"" : "\"", *post = as_key ? "\":1}" : "\"";
    memcpy(doc + n, pre, strlen(pre));
    n += strlen(pre);
    memcpy(doc + n, t->b, t->n);
    n += t->n;
    memcpy(doc + n, post, strlen(post));
    n += strlen(post);
    return parse_n(doc, n, 4, out);
}

static void test_utf8_invalid(void **state)
{
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad_utf8); i++) {
        const struct bytes *t = &bad_utf8[i];
        cJSON *j;
        print_message("bad utf-8: %s\n", t->what);
        assert_false(json_utf8_valid((const uint8_t *)t->b, t->n));
        assert_int_equal(parse_wrapped(t, false, &j), M2M_ERR_MALFORMED);
        assert_int_equal(parse_wrapped(t, true, &j), M2M_ERR_MALFORMED);
    }
    /* outside any string */
    BAD_LIT("[1,\xc3\xa9]");
    BAD_LIT("[1]\xff");
}

static void test_utf8_valid(void **state)
{
    for (size_t i = 0; i < M2M_ARRAY_LEN(good_utf8); i++) {
        const struct bytes *t = &good_utf8[i];
        cJSON *j;
        print_message("good utf-8: %s\n", t->what);
        assert_true(json_utf8_valid((const uint8_t *)t->b, t->n));
        assert_int_equal(parse_wrapped(t, false, &j), M2M_OK);
        assert_int_equal(strlen(j->valuestring), t->n);
        assert_memory_equal(j->valuestring, t->b, t->n);
        cJSON_Delete(j);
        assert_int_equal(parse_wrapped(t, true, &j), M2M_OK);
        assert_memory_equal(j->child->string, t->b, t->n);
        cJSON_Delete(j);
    }
    assert_true(json_utf8_valid((const uint8_t *)"", 0));
    assert_true(json_utf8_valid((const uint8_t *)"plain ascii", 11));
}

static void test_escaped_surrogates(void **state)
{
    cJSON *j;
    BAD_LIT("\"\\ud800\"");
    BAD_LIT("\"\\udc00\"");
    BAD_LIT("\"\\ud800x\"");
    BAD_LIT("\"\\ud800\\u0041\"");
    BAD_LIT("\"\\udc00\\ud800\"");
    BAD_LIT("\"\\u12\"");
    BAD_LIT("\"\\u12g4\"");
    BAD_LIT("\"\\u\"");
    BAD_LIT("\"\\u004\"");
    assert_int_equal(parse_n(LIT("\"\\ud83d\\ude00\""), 1, &j), M2M_OK);
    assert_string_equal(j->valuestring, "\xf0\x9f\x98\x80");
    cJSON_Delete(j);
}

/* cJSON 1.7 decodes bad hex in \u escapes as a NUL, which would truncate the string. */
static void test_escape_bad_hex(void **state)
{
    BAD_LIT("\"ab\\uzzzzcd\"");
    BAD_LIT("\"ab\\u12g4cd\"");
    BAD_LIT("\"ab\\u 123cd\"");
    BAD_LIT("\"ab\\u-123cd\"");
    BAD_LIT("{\"k\\u00g1\":1}");
    BAD_LIT("\"\\ud800\\uzzzz\"");
    BAD_LIT("\"\\U0041\"");
    BAD_LIT("\"\\a\"");
    BAD_LIT("\"\\\x01\"");
    BAD_LIT("\"\\");
    BAD_LIT("\"\\u00");
    cJSON *j;
    assert_int_equal(parse_n(LIT("\"\\u00e9\\u00C9\\uFFFF\""), 1, &j), M2M_OK);
    assert_string_equal(j->valuestring, "\xc3\xa9\xc3\x89\xef\xbf\xbf");
    cJSON_Delete(j);
}

/* ---- duplicates --------------------------------------------------------------------------- */

static void test_duplicate_keys(void **state)
{
    BAD_LIT("{\"a\":1,\"a\":2}");
    BAD_LIT("{\"a\":1,\"b\":2,\"a\":1}");
    BAD_LIT("{\"a\":{\"x\":1,\"x\":1}}");
    BAD_LIT("{\"a\":[{\"b\":1},{\"c\":1,\"c\":2}]}");
    BAD_LIT("[[[{\"q\":null,\"q\":null}]]]");
    BAD_LIT("{\"a\":1,\"\\u0061\":2}"); /* same name once decoded */
    BAD_LIT("{\"\":1,\"\":2}");
    /* the same name in different objects, or as a value, is fine */
    OK_LIT("{\"a\":{\"a\":{\"a\":1}}}");
    OK_LIT("[{\"a\":1},{\"a\":2}]");
    OK_LIT("{\"a\":\"a\",\"b\":\"a\"}");
    OK_LIT("{\"a\":1,\"A\":2,\"a \":3,\"\":4}");
}

/* An object of n distinct members, plus a copy of member dup_of when dup_of >= 0. */
static char *big_object(int n, int dup_of)
{
    struct m2m_buf b = M2M_BUF_INIT;
    assert_int_equal(m2m_buf_append_str(&b, "{\"o\":{"), M2M_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(m2m_buf_appendf(&b, "%s\"k%d\":%d", i ? "," : "", i, i), M2M_OK);
    if (dup_of >= 0)
        assert_int_equal(m2m_buf_appendf(&b, ",\"k%d\":0", dup_of), M2M_OK);
    assert_int_equal(m2m_buf_append_str(&b, "}}"), M2M_OK);
    return m2m_buf_steal(&b, NULL);
}

static void test_duplicate_keys_large(void **state)
{
    /* 15..17 members straddle the small/large paths of the check */
    static const int sizes[] = {2, 15, 16, 17, 1000, 50000};
    for (size_t k = 0; k < M2M_ARRAY_LEN(sizes); k++) {
        int n = sizes[k];
        cJSON *j;
        char *ok = big_object(n, -1), *first = big_object(n, 0), *last = big_object(n, n - 1);
        assert_int_equal(parse_n(ok, strlen(ok), 4, &j), M2M_OK);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "o")), n);
        cJSON_Delete(j);
        assert_int_equal(parse_n(first, strlen(first), 4, &j), M2M_ERR_MALFORMED);
        assert_int_equal(parse_n(last, strlen(last), 4, &j), M2M_ERR_MALFORMED);
        free(ok);
        free(first);
        free(last);
    }
}

/* ---- NUL ---------------------------------------------------------------------------------- */

static void test_embedded_nul(void **state)
{
    BAD_LIT("\"a\0b\"");
    BAD_LIT("{\"a\0\":1}");
    BAD_LIT("[1,\0"
            "2]");
    BAD_LIT("[1]\0");
    BAD_LIT("\0[1]");
    BAD_LIT("\0");
    BAD_LIT("\"\\\0\"");
    /* other raw control characters in strings (RFC 8259 7) */
    BAD_LIT("\"a\tb\"");
    BAD_LIT("\"a\nb\"");
    BAD_LIT("\"\x1f\"");
    BAD_LIT("{\"\x01\":1}");
}

static void test_escaped_nul(void **state)
{
    cJSON *j;
    BAD_LIT("\"\\u0000\"");
    BAD_LIT("\"a\\u0000b\"");
    BAD_LIT("{\"k\\u0000\":1}");
    BAD_LIT("\"\\\\\\u0000\""); /* \\ then a real \u0000 */
    BAD_LIT("\"\\\"\\u0000\""); /* \" then a real \u0000 */
    /* an escaped backslash before u0000 is the six characters \u0000 */
    assert_int_equal(parse_n(LIT("\"\\\\u0000\""), 1, &j), M2M_OK);
    assert_string_equal(j->valuestring, "\\u0000");
    cJSON_Delete(j);
    assert_int_equal(parse_n(LIT("\"\\\\\\\\u0000\""), 1, &j), M2M_OK);
    assert_string_equal(j->valuestring, "\\\\u0000");
    cJSON_Delete(j);
    OK_LIT("\"\\u0001\\u0100\\u1000\"");
}

/* ---- grammar and trailing bytes ----------------------------------------------------------- */

static void test_numbers(void **state)
{
    static const char *const good[] = {"0",   "-0",     "1",      "-1",   "10",   "1.5",
                                       "0.5", "-0.25",  "1e5",    "1E5",  "1e+5", "1e-5",
                                       "0e0", "1.5E-3", "123456", "1e999"};
    static const char *const bad[] = {"01",   "-01",      "00",        "1.",   ".5",  "+1",  "-",
                                      "1e",   "1e+",      "1E-",       "--1",  "1-2", "0x1", "1.e5",
                                      "1.5.", "1e5e",     "- 1",       "1ee5", "-a",  "NaN", "nan",
                                      "-nan", "Infinity", "-Infinity", "inf"};
    for (size_t i = 0; i < M2M_ARRAY_LEN(good); i++) {
        char doc[64];
        snprintf(doc, sizeof doc, "[%s]", good[i]);
        print_message("good number %s\n", good[i]);
        assert_int_equal(parse_lit(doc, strlen(doc)), M2M_OK);
        assert_int_equal(parse_lit(good[i], strlen(good[i])), M2M_OK);
    }
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++) {
        char doc[64];
        snprintf(doc, sizeof doc, "[%s]", bad[i]);
        print_message("bad number %s\n", bad[i]);
        assert_int_equal(parse_lit(doc, strlen(doc)), M2M_ERR_MALFORMED);
        assert_int_equal(parse_lit(bad[i], strlen(bad[i])), M2M_ERR_MALFORMED);
    }
}

static void test_syntax_errors(void **state)
{
    BAD_LIT("[1,]");
    BAD_LIT("{\"a\":1,}");
    BAD_LIT("{\"a\"}");
    BAD_LIT("{a:1}");
    BAD_LIT("['a']");
    BAD_LIT("\"abc");
    BAD_LIT("[1,2");
    BAD_LIT("{\"a\":");
    BAD_LIT("nul");
    BAD_LIT("tru");
    BAD_LIT("\"\\x\"");
    BAD_LIT("\"\\");
    BAD_LIT("]");
    BAD_LIT("}{");
}

static void test_trailing(void **state)
{
    BAD_LIT("[1]x");
    BAD_LIT("[1]]");
    BAD_LIT("{}{}");
    BAD_LIT("{} {}");
    BAD_LIT("1 2");
    BAD_LIT("\"a\"\"b\"");
    BAD_LIT("true false");
    BAD_LIT("null,");
    BAD_LIT("[1] /* c */");
    OK_LIT("[1]  ");
    OK_LIT("\"a\"\r\n");
}

/* ---- json_is_int_in ----------------------------------------------------------------------- */

/* Parses a number literal and asks json_is_int_in. */
static bool int_in(const char *num, int64_t lo, int64_t hi)
{
    cJSON *j;
    assert_int_equal(parse_n(num, strlen(num), 1, &j), M2M_OK);
    bool r = json_is_int_in(j, lo, hi);
    cJSON_Delete(j);
    return r;
}

static void test_is_int_in(void **state)
{
    assert_true(int_in("5", 1, 10));
    assert_true(int_in("1", 1, 10));
    assert_true(int_in("10", 1, 10));
    assert_false(int_in("0", 1, 10));
    assert_false(int_in("11", 1, 10));
    assert_true(int_in("-3", -3, -3));
    assert_true(int_in("4.0", 4, 4));
    assert_true(int_in("4e0", 4, 4));
    assert_true(int_in("40e-1", 4, 4));
    assert_true(int_in("-0", 0, 0));
    assert_false(int_in("1.5", INT64_MIN, INT64_MAX));
    assert_false(int_in("-0.5", INT64_MIN, INT64_MAX));
    assert_false(int_in("1e-300", INT64_MIN, INT64_MAX));
    assert_false(int_in("1e300", INT64_MIN, INT64_MAX));
    assert_false(int_in("-1e300", INT64_MIN, INT64_MAX));
    assert_false(int_in("1e999", INT64_MIN, INT64_MAX)); /* +inf */
    assert_false(int_in("-1e999", INT64_MIN, INT64_MAX));
    assert_true(int_in("65535", 1, 65535));
    assert_false(int_in("65536", 1, 65535));
    assert_true(int_in("2147483647", 1, INT32_MAX));
    assert_false(int_in("2147483648", 1, INT32_MAX));
}

static void test_is_int_in_wide(void **state)
{
    /* 2^63 is one past INT64_MAX, though (double)INT64_MAX == 2^63 */
    assert_false(int_in("9223372036854775808", INT64_MIN, INT64_MAX));
    assert_false(int_in("9223372036854775807", INT64_MIN, INT64_MAX)); /* is 2^63 as a double */
    assert_true(int_in("9223372036854774784", INT64_MIN, INT64_MAX));  /* largest double < 2^63 */
    assert_true(int_in("-9223372036854775808", INT64_MIN, INT64_MAX));
    assert_false(int_in("-9223372036854777856", INT64_MIN, INT64_MAX));
    /* above 2^53 the bounds are compared exactly, not after rounding to double */
    assert_false(int_in("9007199254740992", 9007199254740993, INT64_MAX));
    assert_true(int_in("9007199254740992", 9007199254740992, 9007199254740992));
    assert_false(int_in("9007199254740994", 0, 9007199254740993));
}

static void test_is_int_in_not_numbers(void **state)
{
    assert_false(json_is_int_in(NULL, 0, 10));
    cJSON *s = cJSON_CreateString("5"), *t = cJSON_CreateTrue(), *n = cJSON_CreateNull();
    cJSON *nan = cJSON_CreateNumber(NAN), *inf = cJSON_CreateNumber(-INFINITY);
    cJSON *arr = cJSON_CreateArray();
    assert_false(json_is_int_in(s, INT64_MIN, INT64_MAX));
    assert_false(json_is_int_in(t, INT64_MIN, INT64_MAX));
    assert_false(json_is_int_in(n, INT64_MIN, INT64_MAX));
    assert_false(json_is_int_in(nan, INT64_MIN, INT64_MAX));
    assert_false(json_is_int_in(inf, INT64_MIN, INT64_MAX));
    assert_false(json_is_int_in(arr, INT64_MIN, INT64_MAX));
    cJSON_Delete(s);
    cJSON_Delete(t);
    cJSON_Delete(n);
    cJSON_Delete(nan);
    cJSON_Delete(inf);
    cJSON_Delete(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_basics),
        cmocka_unit_test(test_whitespace),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_depth_edges),
        cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_escaped_surrogates),
        cmocka_unit_test(test_escape_bad_hex),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_duplicate_keys_large),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_escaped_nul),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_trailing),
        cmocka_unit_test(test_is_int_in),
        cmocka_unit_test(test_is_int_in_wide),
        cmocka_unit_test(test_is_int_in_not_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
