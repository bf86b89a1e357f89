/* conf_test.c: the configuration parser: syntax, every malformed case, every bound, callback
 * aborts, file reading, and the value helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/conf.h"

/* ---- a collecting callback --------------------------------------------------------------- */

#define MAXE 16

struct got {
    int n;
    char key[MAXE][CONF_MAX_KEY + 1];
    char val[MAXE][CONF_MAX_VALUE + 1];
    int line[MAXE];
    int fail_at; /* 1-based entry whose callback fails; 0 = never */
    m2m_rc fail_rc;
    int calls;
};

static m2m_rc collect(void *ctx, const char *key, const char *value, int line)
{
    struct got *g = ctx;
    g->calls++;
    if (g->fail_at == g->calls)
        return g->fail_rc;
    if (g->n < MAXE) {
        snprintf(g->key[g->n], sizeof g->key[0], "%s", key);
        snprintf(g->val[g->n], sizeof g->val[0], "%s", value);
        g->line[g->n] = line;
        g->n++;
    }
    return M2M_OK;
}

static m2m_rc parse_str(const char *s, struct got *g, char *err, size_t errlen)
{
    return conf_parse((const uint8_t *)s, strlen(s), collect, g, err, errlen);
}

static m2m_rc parse_buf(const void *b, size_t n, struct got *g, char *err, size_t errlen)
{
    return conf_parse(b, n, collect, g, err, errlen);
}

/* ---- valid syntax ------------------------------------------------------------------------ */

static void test_basic(void **state)
{
    struct got g = {0};
    char err[128] = "junk";
    const char *in = "# comment\n"
                     "\n"
                     "a = 1\n"
                     "  b\t=\tx y  \n"
                     "[tls]\n"
                     "   # indented comment\n"
                     "port=8443\n"
                     "[ db.main ]\n"
                     "path = \"/var/lib/m2m db\"\n"
                     "empty =\n"
                     "eq = a=b#c\n";
    assert_int_equal(parse_str(in, &g, err, sizeof err), M2M_OK);
    assert_string_equal(err, "");
    assert_int_equal(g.n, 6);
    assert_string_equal(g.key[0], "a");
    assert_string_equal(g.val[0], "1");
    assert_int_equal(g.line[0], 3);
    assert_string_equal(g.key[1], "b");
    assert_string_equal(g.val[1], "x y");
    assert_string_equal(g.key[2], "tls.port");
    assert_string_equal(g.val[2], "8443");
    assert_int_equal(g.line[2], 7);
    assert_string_equal(g.key[3], "db.main.path");
    assert_string_equal(g.val[3], "/var/lib/m2m db");
    assert_string_equal(g.key[4], "db.main.empty");
    assert_string_equal(g.val[4], "");
    assert_string_equal(g.key[5], "db.main.eq");
    assert_string_equal(g.val[5], "a=b#c"); /* no trailing comments: '#' is literal */
    assert_int_equal(g.line[5], 11);
}

static void test_quoted(void **state)
{
    struct got g = {0};
    const char *in = "q1 = \"a \\\"b\\\" \\\\ c\"\n"
                     "q2 = \"\"\n"
                     "q3 = \"  padded # not a comment \"   \t\n"
                     "q4 = x\"y\"\n" /* a quote inside an unquoted value is literal */
                     "q5 = \"=\"\n";
    assert_int_equal(parse_str(in, &g, NULL, 0), M2M_OK);
    assert_int_equal(g.n, 5);
    assert_string_equal(g.val[0], "a \"b\" \\ c");
    assert_string_equal(g.val[1], "");
    assert_string_equal(g.val[2], "  padded # not a comment ");
    assert_string_equal(g.val[3], "x\"y\"");
    assert_string_equal(g.val[4], "=");
}

static void test_line_ends_bom_utf8(void **state)
{
    struct got g = {0};
    const char in[] = "\xef\xbb\xbf"
                      "a = 1\r\n"
                      "b = caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e\r\n"
                      "\r\n"
                      "c = last"; /* no final line end */
    assert_int_equal(parse_buf(in, sizeof in - 1, &g, NULL, 0), M2M_OK);
    assert_int_equal(g.n, 3);
    assert_string_equal(g.key[0], "a");
    assert_string_equal(g.val[0], "1");
    assert_string_equal(g.val[1], "caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e");
    assert_string_equal(g.val[2], "last");
    assert_int_equal(g.line[2], 4);
}

static void test_empty_inputs(void **state)
{
    struct got g = {0};
    char err[16] = "x";
    assert_int_equal(conf_parse(NULL, 0, collect, &g, err, sizeof err), M2M_OK);
    assert_string_equal(err, "");
    assert_int_equal(parse_str("\n\n   \n# only comments\n", &g, NULL, 0), M2M_OK);
    assert_int_equal(parse_buf("\xef\xbb\xbf", 3, &g, NULL, 0), M2M_OK);
    assert_int_equal(g.n, 0);
    assert_int_equal(conf_parse((const uint8_t *)"a=1", 3, NULL, NULL, NULL, 0), M2M_ERR_INTERNAL);
    assert_int_equal(conf_parse(NULL, 1, collect, &g, NULL, 0), M2M_ERR_INTERNAL);
}

static void test_duplicates_reported(void **state)
{
    struct got g = {0};
    assert_int_equal(parse_str("a = 1\na = 2\n", &g, NULL, 0), M2M_OK);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.val[1], "2");
}

/* ---- every malformed case ---------------------------------------------------------------- */

struct bad {
    const char *in;
    size_t len; /* 0: strlen(in) */
    m2m_rc rc;
    const char *err;
};

static void check_bad(const struct bad *b)
{
    struct got g = {0};
    char err[128];
    size_t len = b->len ? b->len : strlen(b->in);
    m2m_rc rc = parse_buf(b->in, len, &g, err, sizeof err);
    if (rc != b->rc || strcmp(err, b->err) != 0)
        fail_msg("input %zu bytes: got rc %d \"%s\", want rc %d \"%s\"", len, rc, err, b->rc,
                 b->err);
}

static void test_malformed(void **state)
{
    static const struct bad cases[] = {
        {"a = 1\nb = x\0y\n", 14, M2M_ERR_MALFORMED, "line 2: NUL byte"},
        {"\0", 1, M2M_ERR_MALFORMED, "line 1: NUL byte"},
        {"# comment \0\n", 12, M2M_ERR_MALFORMED, "line 1: NUL byte"},
        {"a = x\x01y\n", 0, M2M_ERR_MALFORMED, "line 1: control character"},
        {"a = x\x1b[31m\n", 0, M2M_ERR_MALFORMED, "line 1: control character"},
        {"a = x\x7f\n", 0, M2M_ERR_MALFORMED, "line 1: control character"},
        {"a = x\ry\n", 0, M2M_ERR_MALFORMED, "line 1: control character"},
        {"a = 1\r\r\n", 0, M2M_ERR_MALFORMED, "line 1: control character"},
        {"a = \xc0\x80\n", 0, M2M_ERR_MALFORMED, "line 1: invalid UTF-8"},     /* overlong */
        {"a = \xe0\x80\xaf\n", 0, M2M_ERR_MALFORMED, "line 1: invalid UTF-8"}, /* overlong */
        {"a = \xf0\x80\x80\xaf\n", 0, M2M_ERR_MALFORMED, "line 1: invalid UTF-8"},
        {"a = \xed\xa0\x80\n", 0, M2M_ERR_MALFORMED, "line 1: invalid UTF-8"},     /* surrogate */
        {"a = \xf4\x90\x80\x80\n", 0, M2M_ERR_MALFORMED, "line 1: invalid UTF-8"}, /* >10FFFF */
        {"a = \xf5\x80\x80\x80\n", 0, M2M_ERR_MALFORMED, "line 1: invalid UTF-8"},
        {"a = \xff\n", 0, M2M_ERR_MALFORMED, "line 1: invalid UTF-8"},
        {"a = \x80\n", 0, M2M_ERR_MALFORMED, "line 1: invalid UTF-8"},     /* lone continuation */
        {"a = \xe2\x82\n", 0, M2M_ERR_MALFORMED, "line 1: invalid UTF-8"}, /* truncated */
        {"a = \xe2\x82", 0, M2M_ERR_MALFORMED, "line 1: invalid UTF-8"},   /* truncated at end */
        {"a = \xc3(\n", 0, M2M_ERR_MALFORMED, "line 1: invalid UTF-8"},
        {"# \xfe comment\n", 0, M2M_ERR_MALFORMED, "line 1: invalid UTF-8"},
        {"a = \"abc\n", 0, M2M_ERR_MALFORMED, "line 1: unterminated quote"},
        {"a = \"\n", 0, M2M_ERR_MALFORMED, "line 1: unterminated quote"},
        {"a = \"abc\\\"\n", 0, M2M_ERR_MALFORMED, "line 1: unterminated quote"},
        {"a = \"abc\\\n", 0, M2M_ERR_MALFORMED, "line 1: unterminated quote"},
        {"a = \"abc\" x\n", 0, M2M_ERR_MALFORMED, "line 1: junk after closing quote"},
        {"a = \"abc\"\"\n", 0, M2M_ERR_MALFORMED, "line 1: junk after closing quote"},
        {"a = \"abc\" # c\n", 0, M2M_ERR_MALFORMED, "line 1: junk after closing quote"},
        {"a = \"a\\nb\"\n", 0, M2M_ERR_MALFORMED, "line 1: bad escape (only \\\" and \\\\)"},
        {"a = \"\\x41\"\n", 0, M2M_ERR_MALFORMED, "line 1: bad escape (only \\\" and \\\\)"},
        {"a\n", 0, M2M_ERR_MALFORMED, "line 1: expected 'key = value'"},
        {"\n\njust text\n", 0, M2M_ERR_MALFORMED, "line 3: expected 'key = value'"},
        {"= 1\n", 0, M2M_ERR_MALFORMED, "line 1: empty key"},
        {"  \t= 1\n", 0, M2M_ERR_MALFORMED, "line 1: empty key"},
        {"a b = 1\n", 0, M2M_ERR_MALFORMED, "line 1: invalid character in key"},
        {"a/b = 1\n", 0, M2M_ERR_MALFORMED, "line 1: invalid character in key"},
        {"\"a\" = 1\n", 0, M2M_ERR_MALFORMED, "line 1: invalid character in key"},
        {"k\xc3\xa9y = 1\n", 0, M2M_ERR_MALFORMED, "line 1: invalid character in key"},
        {"[tls\n", 0, M2M_ERR_MALFORMED, "line 1: section header without closing ']'"},
        {"[tls] x\n", 0, M2M_ERR_MALFORMED, "line 1: section header without closing ']'"},
        {"[\n", 0, M2M_ERR_MALFORMED, "line 1: section header without closing ']'"},
        {"[]\n", 0, M2M_ERR_MALFORMED, "line 1: empty or invalid section name"},
        {"[  ]\n", 0, M2M_ERR_MALFORMED, "line 1: empty or invalid section name"},
        {"[a b]\n", 0, M2M_ERR_MALFORMED, "line 1: empty or invalid section name"},
        {"[a]]\n", 0, M2M_ERR_MALFORMED, "line 1: empty or invalid section name"},
        {"[[a]\n", 0, M2M_ERR_MALFORMED, "line 1: empty or invalid section name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_bad(&cases[i]);
}

/* The first bad line stops parsing: nothing after it reaches the callback. */
static void test_stops_at_first_error(void **state)
{
    struct got g = {0};
    char err[64];
    assert_int_equal(parse_str("a = 1\nbad\nc = 3\n", &g, err, sizeof err), M2M_ERR_MALFORMED);
    assert_int_equal(g.n, 1);
    assert_string_equal(err, "line 2: expected 'key = value'");
}

/* ---- bounds ------------------------------------------------------------------------------ */

/* "key = " + a value of vlen 'v's (quoted if asked). */
static char *entry(const char *key, size_t vlen, bool quoted)
{
    size_t kl = strlen(key);
    char *s = malloc(kl + vlen + 16);
    assert_non_null(s);
    size_t o = (size_t)sprintf(s, "%s = %s", key, quoted ? "\"" : "");
    memset(s + o, 'v', vlen);
    o += vlen;
    strcpy(s + o, quoted ? "\"\n" : "\n");
    return s;
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void expect(const char *in, m2m_rc want, const char *want_err)
{
    struct got g = {0};
    char err[128];
    assert_int_equal(parse_str(in, &g, err, sizeof err), want);
    if (want_err != NULL)
        assert_string_equal(err, want_err);
}

static void test_value_bounds(void **state)
{
    char *s;
    expect(s = entry("k", CONF_MAX_VALUE, false), M2M_OK, "");
    free(s);
    expect(s = entry("k", CONF_MAX_VALUE + 1, false), M2M_ERR_LIMIT,
           "line 1: value longer than 1024 bytes");
    free(s);
    expect(s = entry("k", CONF_MAX_VALUE, true), M2M_OK, "");
    free(s);
    expect(s = entry("k", CONF_MAX_VALUE + 1, true), M2M_ERR_LIMIT,
           "line 1: value longer than 1024 bytes");
    free(s);
    /* Bound on the unquoted result: 1024 escaped quotes are 2048 bytes in the file. */
    char *q = malloc(2 * CONF_MAX_VALUE + 16);
    assert_non_null(q);
    size_t o = (size_t)sprintf(q, "k = \"");
    for (int i = 0; i < CONF_MAX_VALUE; i++) {
        q[o++] = '\\';
        q[o++] = '"';
    }
    strcpy(q + o, "\"\n");
    struct got g = {0};
    assert_int_equal(parse_str(q, &g, NULL, 0), M2M_OK);
    assert_int_equal(strlen(g.val[0]), CONF_MAX_VALUE);
    free(q);
}

static void test_key_bounds(void **state)
{
    char *k = repeat('k', CONF_MAX_KEY), *s;
    expect(s = entry(k, 1, false), M2M_OK, "");
    free(s);
    free(k);
    k = repeat('k', CONF_MAX_KEY + 1);
    expect(s = entry(k, 1, false), M2M_ERR_LIMIT, "line 1: key longer than 128 characters");
    free(s);
    free(k);
    /* section + '.' + key counts: 100 + 1 + 27 = 128 fits, 100 + 1 + 28 does not. */
    char buf[512];
    char *sec = repeat('s', 100);
    snprintf(buf, sizeof buf, "[%s]\n%s = 1\n", sec, "kkkkkkkkkkkkkkkkkkkkkkkkkkk");
    expect(buf, M2M_OK, "");
    snprintf(buf, sizeof buf, "[%s]\n%s = 1\n", sec, "kkkkkkkkkkkkkkkkkkkkkkkkkkkk");
    expect(buf, M2M_ERR_LIMIT, "line 2: key longer than 128 characters");
    free(sec);
    sec = repeat('s', CONF_MAX_KEY - 1);
    snprintf(buf, sizeof buf, "[%s]\n", sec);
    expect(buf, M2M_ERR_LIMIT, "line 1: section name too long");
    free(sec);
}

static void test_line_bounds(void **state)
{
    /* A comment line of exactly CONF_MAX_LINE bytes (CRLF not counted) is fine; one more is not. */
    char *s = repeat('#', CONF_MAX_LINE + 2);
    s[CONF_MAX_LINE] = '\r';
    s[CONF_MAX_LINE + 1] = '\n';
    expect(s, M2M_OK, "");
    s[CONF_MAX_LINE] = '#';
    s[CONF_MAX_LINE + 1] = '\n';
    expect(s, M2M_ERR_LIMIT, "line 1: line longer than 4096 bytes");
    s[CONF_MAX_LINE + 1] = '#'; /* and without a line end */
    expect(s, M2M_ERR_LIMIT, "line 1: line longer than 4096 bytes");
    free(s);
}

static void test_line_count_bound(void **state)
{
    char *s = repeat('\n', CONF_MAX_LINES);
    expect(s, M2M_OK, "");
    free(s);
    s = repeat('\n', CONF_MAX_LINES + 1);
    expect(s, M2M_ERR_LIMIT, "line 10001: more than 10000 lines");
    free(s);
    s = repeat('\n', CONF_MAX_LINES + 1);
    s[CONF_MAX_LINES] = '#'; /* 10000 line ends + an unterminated 10001st line */
    expect(s, M2M_ERR_LIMIT, "line 10001: more than 10000 lines");
    free(s);
}

/* ---- callback failures and the error buffer ---------------------------------------------- */

static void test_callback_abort(void **state)
{
    struct got g = {.fail_at = 2, .fail_rc = M2M_ERR_CONFIG};
    char err[128];
    assert_int_equal(parse_str("a = 1\n[s]\nsecret = hunter2\nc = 3\n", &g, err, sizeof err),
                     M2M_ERR_CONFIG);
    assert_int_equal(g.calls, 2);
    assert_string_equal(err, "line 3: s.secret: configuration error");
    assert_null(strstr(err, "hunter2")); /* values never reach error messages */
    struct got g2 = {.fail_at = 1, .fail_rc = M2M_ERR_NOMEM};
    assert_int_equal(parse_str("x=1\n", &g2, NULL, 0), M2M_ERR_NOMEM);
}

static void test_err_buffer(void **state)
{
    struct got g = {0};
    char small[8];
    memset(small, 'Z', sizeof small);
    assert_int_equal(parse_str("\n\n\n\n\n\n\n\n\nbad\n", &g, small, sizeof small),
                     M2M_ERR_MALFORMED);
    assert_string_equal(small, "line 10"); /* truncated, terminated */
    char one[1] = {'Z'};
    assert_int_equal(parse_str("bad\n", &g, one, 1), M2M_ERR_MALFORMED);
    assert_int_equal(one[0], '\0');
    char untouched[4] = "abc";
    assert_int_equal(parse_str("bad\n", &g, untouched, 0), M2M_ERR_MALFORMED);
    assert_string_equal(untouched, "abc");
}

/* ---- files ------------------------------------------------------------------------------- */

static char tmpdir[64];

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static int files_setup(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/conf_test.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static void test_file(void **state)
{
    char path[128], err[256];
    struct got g = {0};
    snprintf(path, sizeof path, "%s/ok.conf", tmpdir);
    write_file(path, "[http]\nport = 8080\n", 19);
    assert_int_equal(conf_parse_file(path, collect, &g, err, sizeof err), M2M_OK);
    assert_string_equal(err, "");
    assert_int_equal(g.n, 1);
    assert_string_equal(g.key[0], "http.port");
    write_file(path, "a = 1\noops\n", 11);
    assert_int_equal(conf_parse_file(path, collect, &g, err, sizeof err), M2M_ERR_MALFORMED);
    char want[256];
    snprintf(want, sizeof want, "%s: line 2: expected 'key = value'", path);
    assert_string_equal(err, want);
    unlink(path);
}

static void test_file_errors(void **state)
{
    char path[128], err[256];
    struct got g = {0};
    snprintf(path, sizeof path, "%s/missing.conf", tmpdir);
    assert_int_equal(conf_parse_file(path, collect, &g, err, sizeof err), M2M_ERR_IO);
    assert_non_null(strstr(err, "No such file"));
    assert_int_equal(conf_parse_file(tmpdir, collect, &g, err, sizeof err), M2M_ERR_IO);
    assert_non_null(strstr(err, "not a regular file"));
    snprintf(path, sizeof path, "%s/fifo", tmpdir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(conf_parse_file(path, collect, &g, err, sizeof err), M2M_ERR_IO);
    unlink(path);
    assert_int_equal(conf_parse_file(NULL, collect, &g, err, sizeof err), M2M_ERR_INTERNAL);
}

static void test_file_size_bound(void **state)
{
    char path[128], err[256];
    struct got g = {0};
    snprintf(path, sizeof path, "%s/big.conf", tmpdir);
    /* Exactly 1 MiB of 1024-byte comment lines parses; one more byte is refused. */
    char *s = malloc(CONF_MAX_FILE + 1);
    assert_non_null(s);
    memset(s, '#', CONF_MAX_FILE + 1);
    for (size_t i = 1023; i < CONF_MAX_FILE; i += 1024)
        s[i] = '\n';
    write_file(path, s, CONF_MAX_FILE);
    assert_int_equal(conf_parse_file(path, collect, &g, err, sizeof err), M2M_OK);
    write_file(path, s, CONF_MAX_FILE + 1);
    assert_int_equal(conf_parse_file(path, collect, &g, err, sizeof err), M2M_ERR_LIMIT);
    assert_non_null(strstr(err, "file larger than 1 MiB"));
    free(s);
    unlink(path);
}

static int files_teardown(void **state)
{
    rmdir(tmpdir);
    return 0;
}

/* ---- helpers ----------------------------------------------------------------------------- */

static void test_parse_bool(void **state)
{
    static const char *const yes[] = {"true", "yes", "on", "1", "TRUE", "Yes", "oN"};
    static const char *const no[] = {"false", "no", "off", "0", "FALSE", "No", "OFF"};
    static const char *const bad[] = {"", "tru", "true ", " true", "2", "y", "enable", "00"};
    bool b;
    for (size_t i = 0; i < M2M_ARRAY_LEN(yes); i++) {
        b = false;
        assert_true(conf_parse_bool(yes[i], &b));
        assert_true(b);
    }
    for (size_t i = 0; i < M2M_ARRAY_LEN(no); i++) {
        b = true;
        assert_true(conf_parse_bool(no[i], &b));
        assert_false(b);
    }
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++) {
        b = true;
        assert_false(conf_parse_bool(bad[i], &b));
        assert_true(b); /* unchanged */
    }
    assert_false(conf_parse_bool(NULL, &b));
}

static void test_parse_int(void **state)
{
    long v = 0;
    assert_true(conf_parse_int("0", 0, 10, &v) && v == 0);
    assert_true(conf_parse_int("10", 0, 10, &v) && v == 10);
    assert_true(conf_parse_int("-5", -5, 5, &v) && v == -5);
    assert_true(conf_parse_int("007", 0, 10, &v) && v == 7);
    assert_true(conf_parse_int("9223372036854775807", 0, LONG_MAX, &v) && v == LONG_MAX);
    assert_true(conf_parse_int("-9223372036854775808", LONG_MIN, 0, &v) && v == LONG_MIN);
    v = 99;
    static const char *const bad[] = {"",    "-",   "+1",  " 1",  "1 ",   "1x", "0x10",
                                      "1.0", "--1", "1e3", "\t1", "-\t1", "one"};
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++)
        assert_false(conf_parse_int(bad[i], LONG_MIN, LONG_MAX, &v));
    assert_false(conf_parse_int("11", 0, 10, &v));
    assert_false(conf_parse_int("-6", -5, 5, &v));
    assert_false(conf_parse_int("9223372036854775808", LONG_MIN, LONG_MAX, &v));
    assert_false(conf_parse_int("-9223372036854775809", LONG_MIN, LONG_MAX, &v));
    assert_false(conf_parse_int(NULL, 0, 1, &v));
    assert_int_equal(v, 99);
}

static void test_parse_size(void **state)
{
    size_t v = 0;
    assert_true(conf_parse_size("0", &v) && v == 0);
    assert_true(conf_parse_size("4096", &v) && v == 4096);
    assert_true(conf_parse_size("1k", &v) && v == 1024);
    assert_true(conf_parse_size("64K", &v) && v == 65536);
    assert_true(conf_parse_size("2m", &v) && v == 2u << 20);
    assert_true(conf_parse_size("3M", &v) && v == 3u << 20);
    assert_true(conf_parse_size("1g", &v) && v == (size_t)1 << 30);
    assert_true(conf_parse_size("5G", &v) && v == (size_t)5 << 30);
    assert_true(conf_parse_size("18446744073709551615", &v) && v == SIZE_MAX);
    v = 7;
    static const char *const bad[] = {"",   "k",   "1kb", "1 k",  " 1",  "1 ",   "-1", "+1",
                                      "1t", "1KK", "0x1", "1.5k", "1kB", "1\tk", "K1"};
    for (size_t i = 0; i < M2M_ARRAY_LEN(bad); i++)
        assert_false(conf_parse_size(bad[i], &v));
    assert_false(conf_parse_size("18446744073709551616", &v)); /* SIZE_MAX + 1 */
    assert_false(conf_parse_size("99999999999999999999999", &v));
    assert_false(conf_parse_size("17179869184G", &v)); /* 2^34 GiB = 2^64 bytes */
    assert_false(conf_parse_size("18014398509481984k", &v));
    assert_false(conf_parse_size(NULL, &v));
    assert_int_equal(v, 7);
    assert_true(conf_parse_size("17179869183G", &v) && v == (size_t)17179869183 << 30);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_quoted),
        cmocka_unit_test(test_line_ends_bom_utf8),
        cmocka_unit_test(test_empty_inputs),
        cmocka_unit_test(test_duplicates_reported),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_stops_at_first_error),
        cmocka_unit_test(test_value_bounds),
        cmocka_unit_test(test_key_bounds),
        cmocka_unit_test(test_line_bounds),
        cmocka_unit_test(test_line_count_bound),
        cmocka_unit_test(test_callback_abort),
        cmocka_unit_test(test_err_buffer),
        cmocka_unit_test_setup_teardown(test_file, files_setup, files_teardown),
        cmocka_unit_test_setup_teardown(test_file_errors, files_setup, files_teardown),
        cmocka_unit_test_setup_teardown(test_file_size_bound, files_setup, files_teardown),
        cmocka_unit_test(test_parse_bool),
        cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_parse_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
