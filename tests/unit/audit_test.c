/* audit_test.c: the audit log: line format read back as JSON, escaping of hostile strings, field
 * bounds, rotation, concurrent writers, file mode, bad arguments, and I/O failures (rotation
 * refused, short writes) with their drop accounting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cse/audit.h"
#include "enc/json.h"

/* ---- helpers ------------------------------------------------------------------------------ */

struct tmp {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct tmp *t = calloc(1, sizeof *t);
    if (t == NULL)
        return -1;
    snprintf(t->dir, sizeof t->dir, "/tmp/audit_test.XXXXXX");
    if (mkdtemp(t->dir) == NULL)
        return -1;
    snprintf(t->path, sizeof t->path, "%s/audit.log", t->dir);
    *state = t;
    return 0;
}

/* Removes the directory and everything directly in it (or one level of subdirectories). */
static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) != 0)
            rm_tree(p);
    }
    closedir(d);
    rmdir(dir);
}

static int teardown(void **state)
{
    struct tmp *t = *state;
    rm_tree(t->dir);
    free(t);
    return 0;
}

/* Reads a whole file (NUL-terminated); *n is its length. NULL when it does not exist. */
static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    struct stat st;
    assert_int_equal(fstat(fileno(f), &st), 0);
    char *buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    *n = fread(buf, 1, (size_t)st.st_size, f);
    assert_int_equal(*n, (size_t)st.st_size);
    buf[*n] = '\0';
    fclose(f);
    return buf;
}

/* Splits the file into lines, parses each as JSON into arr (up to max); returns the line count.
 * Fails the test on a line that does not parse or a file that does not end in '\n'. */
static int read_lines(const char *path, cJSON **arr, int max)
{
    size_t n;
    char *buf = slurp(path, &n);
    assert_non_null(buf);
    int count = 0;
    size_t at = 0;
    while (at < n) {
        char *nl = memchr(buf + at, '\n', n - at);
        assert_non_null(nl);
        size_t len = (size_t)(nl - (buf + at));
        cJSON *j = NULL;
        assert_int_equal(json_parse((const uint8_t *)buf + at, len, 4, &j), M2M_OK);
        assert_true(cJSON_IsObject(j));
        if (arr != NULL && count < max)
            arr[count] = j;
        else
            cJSON_Delete(j);
        count++;
        at += len + 1;
    }
    free(buf);
    return count;
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_non_null(v);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static void assert_null_member(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_non_null(v);
    assert_true(cJSON_IsNull(v));
}

static struct audit_event deny_event(void)
{
    struct audit_event e = {
        .t_us = 1795824433480123LL, /* 2026-11-28T00:07:13.480123Z */
        .event = "decision",
        .originator = "//sp.example/CSE1/CAE1",
        .authenticated = true,
        .operation = "RETRIEVE",
        .target = "/CSE1/cnt1",
        .decision = "deny",
        .acp = "acp42",
        .rule = 3,
        .reason = "originator,operation",
        .peer = "192.0.2.1:5555",
        .rsc = 4103,
    };
    return e;
}

static struct audit_log *open_ok(const char *path, size_t max, int keep)
{
    struct audit_log *l = NULL;
    assert_int_equal(audit_open(path, max, keep, &l), M2M_OK);
    assert_non_null(l);
    return l;
}

/* ---- format ------------------------------------------------------------------------------- */

static void test_line_fields(void **state)
{
    struct tmp *t = *state;
    struct audit_log *l = open_ok(t->path, 1 << 20, 2);
    struct audit_event e = deny_event();
    audit_write(l, &e);
    audit_close(l);

    cJSON *j[2] = {0};
    assert_int_equal(read_lines(t->path, j, 2), 1);
    assert_string_equal(str_of(j[0], "time"), "2026-11-28T00:07:13.480123Z");
    assert_string_equal(str_of(j[0], "event"), "decision");
    assert_string_equal(str_of(j[0], "originator"), "//sp.example/CSE1/CAE1");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j[0], "authenticated")));
    assert_string_equal(str_of(j[0], "operation"), "RETRIEVE");
    assert_string_equal(str_of(j[0], "target"), "/CSE1/cnt1");
    assert_string_equal(str_of(j[0], "decision"), "deny");
    assert_string_equal(str_of(j[0], "acp"), "acp42");
    assert_true(json_is_int_in(cJSON_GetObjectItemCaseSensitive(j[0], "rule"), 3, 3));
    assert_string_equal(str_of(j[0], "reason"), "originator,operation");
    assert_string_equal(str_of(j[0], "peer"), "192.0.2.1:5555");
    assert_true(json_is_int_in(cJSON_GetObjectItemCaseSensitive(j[0], "rsc"), 4103, 4103));
    assert_int_equal(cJSON_GetArraySize(j[0]), 12);
    cJSON_Delete(j[0]);
}

/* NULL strings, rule -1 and rsc 0 are JSON null; every key is still there, in a fixed order. */
static void test_null_fields(void **state)
{
    struct audit_event e = {
        .t_us = 1, .event = "acp-delete", .originator = "CAdmin", .rule = -1, .rsc = 0};
    char line[AUDIT_LINE_MAX];
    size_t n = audit_format(&e, line, sizeof line);
    assert_true(n > 0);
    line[n] = '\0';
    assert_string_equal(line, "{\"time\":\"1970-01-01T00:00:00.000001Z\",\"event\":\"acp-delete\","
                              "\"originator\":\"CAdmin\",\"authenticated\":false,"
                              "\"operation\":null,\"target\":null,\"decision\":null,\"acp\":null,"
                              "\"rule\":null,\"reason\":null,\"peer\":null,\"rsc\":null}\n");
    cJSON *j = NULL;
    assert_int_equal(json_parse((const uint8_t *)line, n - 1, 4, &j), M2M_OK);
    static const char *nulls[] = {"operation", "target", "decision", "acp",
                                  "rule",      "reason", "peer",     "rsc"};
    for (size_t i = 0; i < M2M_ARRAY_LEN(nulls); i++)
        assert_null_member(j, nulls[i]);
    cJSON_Delete(j);
}

/* Time is clamped into 1970 .. 9999, 0 means now. */
static void test_time_edges(void **state)
{
    char line[AUDIT_LINE_MAX];
    struct audit_event e = {.t_us = -5, .rule = -1};
    assert_true(audit_format(&e, line, sizeof line) > 0);
    assert_memory_equal(line, "{\"time\":\"1970-01-01T00:00:00.000000Z\"", 37);
    e.t_us = INT64_MAX;
    assert_true(audit_format(&e, line, sizeof line) > 0);
    assert_memory_equal(line, "{\"time\":\"9999-12-31T23:59:59.999999Z\"", 37);
    e.t_us = 0;
    assert_true(audit_format(&e, line, sizeof line) > 0);
    assert_memory_equal(line, "{\"time\":\"20", 11); /* this century */
    assert_int_equal(line[35], 'Z');
}

static void test_format_small_buffer(void **state)
{
    struct audit_event e = deny_event();
    char line[AUDIT_LINE_MAX];
    size_t full = audit_format(&e, line, sizeof line);
    assert_true(full > 0);
    assert_int_equal(audit_format(&e, line, full), full);
    assert_int_equal(audit_format(&e, line, full - 1), 0);
    assert_int_equal(audit_format(&e, line, 0), 0);
}

/* ---- escaping ----------------------------------------------------------------------------- */

struct esc_case {
    const char *in, *want; /* want: the decoded JSON string */
};

static void test_hostile_strings(void **state)
{
    static const struct esc_case cases[] = {
        {"a\nb", "a\nb"},
        {"x\r\n{\"event\":\"forged\"}", "x\r\n{\"event\":\"forged\"}"},
        {"\"}, \"decision\":\"permit", "\"}, \"decision\":\"permit"},
        {"back\\slash\\", "back\\slash\\"},
        {"\x01\x02\x1b[31m\x1f\x7f\t", "\x01\x02\x1b[31m\x1f\x7f\t"},
        {"\xff", "\xEF\xBF\xBD"},
        {"\xc0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD"},                                 /* overlong NUL */
        {"\xed\xa0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},                 /* surrogate */
        {"\xf4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* > U+10FFFF */
        {"ok\xe2\x82", "ok\xEF\xBF\xBD\xEF\xBF\xBD"}, /* sequence cut by the end */
        {"\xe2\x82\xac \xf0\x9f\x94\x92 \xc3\xa9", "\xe2\x82\xac \xf0\x9f\x94\x92 \xc3\xa9"},
        {"l\xe2\x80\xa8s\xe2\x80\xa9", "l\xe2\x80\xa8s\xe2\x80\xa9"},
        {"", ""},
    };
    struct tmp *t = *state;
    struct audit_log *l = open_ok(t->path, 1 << 20, 1);
    for (size_t i = 0; i < M2M_ARRAY_LEN(cases); i++) {
        struct audit_event e = deny_event();
        e.originator = cases[i].in;
        e.target = cases[i].in;
        e.reason = cases[i].in;
        audit_write(l, &e);
    }
    audit_close(l);

    enum { N = M2M_ARRAY_LEN(cases) };
    cJSON *j[N] = {0};
    assert_int_equal(read_lines(t->path, j, N), N); /* no line was split */
    for (size_t i = 0; i < N; i++) {
        assert_string_equal(str_of(j[i], "originator"), cases[i].want);
        assert_string_equal(str_of(j[i], "target"), cases[i].want);
        assert_string_equal(str_of(j[i], "decision"), "deny"); /* not forged */
        cJSON_Delete(j[i]);
    }
    /* Raw bytes: no control characters, no raw U+2028 anywhere in the file. */
    size_t n;
    char *raw = slurp(t->path, &n);
    for (size_t i = 0; i < n; i++)
        assert_true(((unsigned char)raw[i] >= 0x20 && raw[i] != 0x7f) || raw[i] == '\n');
    assert_null(memmem(raw, n, "\xe2\x80\xa8", 3));
    assert_non_null(strstr(raw, "\\u2028"));
    assert_non_null(strstr(raw, "\\u001b"));
    free(raw);
}

/* Every field is cut to AUDIT_FIELD_MAX bytes, at a character boundary, ending in "...". */
static void test_field_bound(void **state)
{
    static const char *units[] = {"a", "\xc3\xa9", "\x01", "\xff", "\xf0\x9f\x94\x92", "\""};
    for (size_t u = 0; u < M2M_ARRAY_LEN(units); u++) {
        size_t ul = strlen(units[u]), reps = 5000;
        char *big = malloc(ul * reps + 1);
        assert_non_null(big);
        for (size_t i = 0; i < reps; i++)
            memcpy(big + i * ul, units[u], ul);
        big[ul * reps] = '\0';
        struct audit_event e = deny_event();
        e.originator = e.target = e.acp = e.reason = e.peer = e.operation = e.event = big;
        e.decision = big;
        char line[AUDIT_LINE_MAX];
        size_t n = audit_format(&e, line, sizeof line);
        assert_true(n > 0 && n <= AUDIT_LINE_MAX);
        assert_int_equal(line[n - 1], '\n');
        cJSON *j = NULL;
        assert_int_equal(json_parse((const uint8_t *)line, n - 1, 4, &j), M2M_OK);
        const char *o = str_of(j, "originator");
        size_t ol = strlen(o);
        assert_true(ol > 3 && ol <= AUDIT_FIELD_MAX);
        assert_string_equal(o + ol - 3, "...");
        assert_true(memchr(line, '\n', n - 1) == NULL);
        cJSON_Delete(j);
        free(big);
    }
    /* A value that fits exactly is not cut. */
    char exact[AUDIT_FIELD_MAX + 2];
    memset(exact, 'x', AUDIT_FIELD_MAX);
    exact[AUDIT_FIELD_MAX] = '\0';
    struct audit_event e = deny_event();
    e.target = exact;
    char line[AUDIT_LINE_MAX];
    size_t n = audit_format(&e, line, sizeof line);
    line[n] = '\0';
    assert_non_null(strstr(line, exact));
    exact[AUDIT_FIELD_MAX] = 'x'; /* one more: cut */
    exact[AUDIT_FIELD_MAX + 1] = '\0';
    n = audit_format(&e, line, sizeof line);
    line[n] = '\0';
    assert_null(strstr(line, exact));
    assert_non_null(strstr(line, "xxx...\""));
}

/* ---- files -------------------------------------------------------------------------------- */

static void test_mode_0600(void **state)
{
    struct tmp *t = *state;
    mode_t old = umask(0);
    struct audit_log *l = open_ok(t->path, 4096, 1);
    umask(old);
    struct stat st;
    assert_int_equal(stat(t->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    audit_close(l);
    /* An existing file readable by others is narrowed. */
    assert_int_equal(chmod(t->path, 0644), 0);
    l = open_ok(t->path, 4096, 1);
    assert_int_equal(stat(t->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    audit_close(l);
}

static void test_open_bad_args(void **state)
{
    struct tmp *t = *state;
    struct audit_log *l = NULL;
    assert_int_equal(audit_open(NULL, 4096, 1, &l), M2M_ERR_CONFIG);
    assert_int_equal(audit_open("", 4096, 1, &l), M2M_ERR_CONFIG);
    assert_int_equal(audit_open(t->path, AUDIT_MIN_BYTES - 1, 1, &l), M2M_ERR_CONFIG);
    assert_int_equal(audit_open(t->path, 4096, 0, &l), M2M_ERR_CONFIG);
    assert_int_equal(audit_open(t->path, 4096, -1, &l), M2M_ERR_CONFIG);
    assert_int_equal(audit_open(t->path, 4096, AUDIT_KEEP_MAX + 1, &l), M2M_ERR_CONFIG);
    assert_null(l);
    char p[256];
    snprintf(p, sizeof p, "%s/missing/dir/log", t->dir);
    assert_int_equal(audit_open(p, 4096, 1, &l), M2M_ERR_IO);
    assert_int_equal(audit_open(t->dir, 4096, 1, &l), M2M_ERR_IO); /* a directory */
    snprintf(p, sizeof p, "%s/link", t->dir);
    assert_int_equal(symlink(t->path, p), 0);
    assert_int_equal(audit_open(p, 4096, 1, &l), M2M_ERR_IO); /* a symbolic link */
    assert_int_equal(access(t->path, F_OK), -1);              /* not created through it */
    snprintf(p, sizeof p, "%s/fifo", t->dir);
    assert_int_equal(mkfifo(p, 0600), 0);
    assert_int_equal(audit_open(p, 4096, 1, &l), M2M_ERR_IO); /* does not block either */
    assert_int_equal(audit_open("/dev/null", 4096, 1, &l), M2M_ERR_IO);
    assert_null(l);
    audit_close(NULL);
    audit_write(NULL, NULL);
    assert_int_equal(audit_dropped(NULL), 0);
}

/* Reopening appends, and the size of what is there counts towards rotation. */
static void test_append_existing(void **state)
{
    struct tmp *t = *state;
    struct audit_event e = deny_event();
    struct audit_log *l = open_ok(t->path, 1 << 20, 1);
    audit_write(l, &e);
    audit_close(l);
    l = open_ok(t->path, 1 << 20, 1);
    audit_write(l, &e);
    audit_close(l);
    assert_int_equal(read_lines(t->path, NULL, 0), 2);

    l = open_ok(t->path, AUDIT_MIN_BYTES, 1); /* 2 lines + 1 > 1024 bytes: rotates */
    audit_write(l, &e);
    audit_write(l, &e);
    audit_write(l, &e);
    audit_close(l);
    char p1[160];
    snprintf(p1, sizeof p1, "%s.1", t->path);
    assert_int_equal(read_lines(p1, NULL, 0), 3);
    assert_int_equal(read_lines(t->path, NULL, 0), 2);
}

static int target_index(const cJSON *j)
{
    int i = -1;
    assert_int_equal(sscanf(str_of(j, "target"), "/t/%d", &i), 1);
    return i;
}

/* keep = 2: path, path.1 and path.2 remain, each under the bound, holding the newest lines in
 * order; older lines were dropped with path.3 never created. */
static void test_rotation(void **state)
{
    struct tmp *t = *state;
    struct audit_log *l = open_ok(t->path, AUDIT_MIN_BYTES, 2);
    enum { LINES = 60 };
    for (int i = 0; i < LINES; i++) {
        char target[32];
        snprintf(target, sizeof target, "/t/%d", i);
        struct audit_event e = deny_event();
        e.target = target;
        audit_write(l, &e);
    }
    assert_int_equal(audit_dropped(l), 0);
    audit_close(l);

    char names[3][160];
    snprintf(names[0], sizeof names[0], "%s.2", t->path);
    snprintf(names[1], sizeof names[1], "%s.1", t->path);
    snprintf(names[2], sizeof names[2], "%s", t->path);
    char p3[160];
    snprintf(p3, sizeof p3, "%s.3", t->path);
    assert_int_equal(access(p3, F_OK), -1);
    int next = -1, total = 0;
    for (int f = 0; f < 3; f++) {
        struct stat st;
        assert_int_equal(stat(names[f], &st), 0);
        assert_true(st.st_size > 0 && st.st_size <= AUDIT_MIN_BYTES);
        assert_int_equal(st.st_mode & 0777, 0600);
        cJSON *j[LINES] = {0};
        int n = read_lines(names[f], j, LINES);
        for (int i = 0; i < n; i++) {
            int idx = target_index(j[i]);
            assert_true(next < 0 || idx == next); /* consecutive across the files */
            next = idx + 1;
            cJSON_Delete(j[i]);
        }
        total += n;
    }
    assert_int_equal(next, LINES);
    assert_true(total < LINES); /* the oldest were dropped */
    DIR *d = opendir(t->dir);
    int files = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        files += de->d_name[0] != '.';
    closedir(d);
    assert_int_equal(files, 3);
}

/* ---- concurrency -------------------------------------------------------------------------- */

enum { THREADS = 4, PER_THREAD = 400 };

struct worker {
    struct audit_log *l;
    int id;
};

static void *writer(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char target[32];
        snprintf(target, sizeof target, "/t/%d", w->id * PER_THREAD + i);
        struct audit_event e = deny_event();
        e.target = target;
        e.originator = "hostile\n\"originator\xff";
        audit_write(w->l, &e);
    }
    return NULL;
}

static void test_concurrent_writers(void **state)
{
    struct tmp *t = *state;
    struct audit_log *l = open_ok(t->path, 64 * 1024, AUDIT_KEEP_MAX);
    pthread_t th[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){l, i};
        assert_int_equal(pthread_create(&th[i], NULL, writer, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(audit_dropped(l), 0);
    audit_close(l);

    static bool seen[THREADS * PER_THREAD];
    memset(seen, 0, sizeof seen);
    int total = 0;
    for (int f = 0; f <= AUDIT_KEEP_MAX; f++) {
        char p[160];
        if (f == 0)
            snprintf(p, sizeof p, "%s", t->path);
        else
            snprintf(p, sizeof p, "%s.%d", t->path, f);
        if (access(p, F_OK) != 0)
            break;
        cJSON *j[THREADS * PER_THREAD];
        int n = read_lines(p, j, THREADS * PER_THREAD);
        for (int i = 0; i < n; i++) {
            int idx = target_index(j[i]);
            assert_true(idx >= 0 && idx < THREADS * PER_THREAD);
            assert_false(seen[idx]);
            seen[idx] = true;
            assert_string_equal(str_of(j[i], "originator"), "hostile\n\"originator\xEF\xBF\xBD");
            cJSON_Delete(j[i]);
        }
        total += n;
    }
    assert_int_equal(total, THREADS * PER_THREAD);
}

/* ---- failures ----------------------------------------------------------------------------- */

/* When rotation is impossible the line is dropped (the file keeps its bound); once it works
 * again an audit-dropped line tells how many were lost. */
static void test_rotation_failure_drops(void **state)
{
    struct tmp *t = *state;
    char p1[160], inner[200];
    snprintf(p1, sizeof p1, "%s.1", t->path);
    snprintf(inner, sizeof inner, "%s/x", p1);
    assert_int_equal(mkdir(p1, 0700), 0); /* path.1 is a non-empty directory: rename fails */
    FILE *f = fopen(inner, "w");
    assert_non_null(f);
    fclose(f);

    struct audit_log *l = open_ok(t->path, AUDIT_MIN_BYTES, 1);
    struct audit_event e = deny_event();
    for (int i = 0; i < 10; i++)
        audit_write(l, &e);
    uint64_t dropped = audit_dropped(l);
    assert_true(dropped > 0);
    struct stat st;
    assert_int_equal(stat(t->path, &st), 0);
    assert_true(st.st_size <= AUDIT_MIN_BYTES);

    assert_int_equal(unlink(inner), 0);
    assert_int_equal(rmdir(p1), 0);
    audit_write(l, &e);
    assert_int_equal(audit_dropped(l), dropped);
    audit_close(l);
    /* Every event is either in the files or counted by an audit-dropped line, and the last
     * two lines are the report of what was still unreported and the new event. */
    int decisions = 0, last_drop = 0;
    uint64_t reported = 0;
    const char *files[2] = {p1, t->path};
    for (int f = 0; f < 2; f++) {
        cJSON *j[16] = {0};
        int n = read_lines(files[f], j, 16);
        assert_true(n <= 16);
        for (int i = 0; i < n; i++) {
            if (strcmp(str_of(j[i], "event"), "decision") == 0) {
                decisions++;
            } else {
                assert_string_equal(str_of(j[i], "event"), "audit-dropped");
                const cJSON *c = cJSON_GetObjectItemCaseSensitive(j[i], "count");
                assert_true(json_is_int_in(c, 1, 10));
                reported += (uint64_t)c->valuedouble;
                last_drop = f * 100 + i;
            }
            cJSON_Delete(j[i]);
        }
        if (f == 1) {
            assert_int_equal(n, 2);
            assert_int_equal(last_drop, 100);
        }
    }
    assert_int_equal(reported, dropped);
    assert_int_equal((uint64_t)decisions + dropped, 11);
}

/* A short write (file size limit) leaves a partial line; the next line starts on a new line,
 * after an audit-dropped line, so only the damaged line fails to parse. */
static void test_short_write(void **state)
{
    struct tmp *t = *state;
    struct audit_log *l = open_ok(t->path, 1 << 20, 1);
    struct audit_event e = deny_event();
    audit_write(l, &e);
    struct stat st;
    assert_int_equal(stat(t->path, &st), 0);

    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = (rlim_t)st.st_size + 40;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    audit_write(l, &e); /* 40 bytes get through */
    audit_write(l, &e); /* nothing gets through */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, oldsig);
    assert_int_equal(audit_dropped(l), 2);
    audit_write(l, &e);
    audit_close(l);

    size_t n;
    char *raw = slurp(t->path, &n);
    char *lines[8];
    int count = 0;
    for (char *s = strtok(raw, "\n"); s != NULL && count < 8; s = strtok(NULL, "\n"))
        lines[count++] = s;
    assert_int_equal(count, 4);
    assert_int_equal(strlen(lines[1]), 40);
    cJSON *j = NULL;
    assert_int_not_equal(json_parse((const uint8_t *)lines[1], 40, 4, &j), M2M_OK);
    assert_int_equal(json_parse((const uint8_t *)lines[2], strlen(lines[2]), 4, &j), M2M_OK);
    assert_string_equal(str_of(j, "event"), "audit-dropped");
    assert_true(json_is_int_in(cJSON_GetObjectItemCaseSensitive(j, "count"), 2, 2));
    cJSON_Delete(j);
    for (int i = 0; i < 4; i += 3) {
        assert_int_equal(json_parse((const uint8_t *)lines[i], strlen(lines[i]), 4, &j), M2M_OK);
        assert_string_equal(str_of(j, "event"), "decision");
        cJSON_Delete(j);
    }
    free(raw);
}

/* The live file is removed from outside: writes go on into the unlinked file (the descriptor
 * stays valid) until the next rotation starts a fresh file; nothing is dropped. */
static void test_unlinked_file(void **state)
{
    struct tmp *t = *state;
    struct audit_log *l = open_ok(t->path, AUDIT_MIN_BYTES, 1);
    struct audit_event e = deny_event();
    assert_int_equal(unlink(t->path), 0);
    for (int i = 0; i < 5; i++) /* 3 lines fit under 1024 bytes, the 4th rotates */
        audit_write(l, &e);
    assert_int_equal(audit_dropped(l), 0);
    audit_close(l);
    assert_int_equal(read_lines(t->path, NULL, 0), 2);
    char p1[160];
    snprintf(p1, sizeof p1, "%s.1", t->path);
    assert_int_equal(access(p1, F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_fields, setup, teardown),
        cmocka_unit_test(test_null_fields),
        cmocka_unit_test(test_time_edges),
        cmocka_unit_test(test_format_small_buffer),
        cmocka_unit_test_setup_teardown(test_hostile_strings, setup, teardown),
        cmocka_unit_test(test_field_bound),
        cmocka_unit_test_setup_teardown(test_mode_0600, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_bad_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_existing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_failure_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unlinked_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
