/* fuzz_audit.c: fuzzes the audit log writer: fuzz bytes become the string fields of events that
 * are written to a fresh log (with rotation); every line read back must parse as JSON, the line
 * count must match, and short valid UTF-8 fields must survive the escaping unchanged. */
#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cse/audit.h"
#include "enc/json.h"

#define NFIELDS 8
#define KEEP 8
#define HEADER 13

static const char *const keys[NFIELDS] = {"event",    "originator", "operation", "target",
                                          "decision", "acp",        "reason",    "peer"};
static char g_dir[64];
static char g_path[128];

static void cleanup(void)
{
    char p[160];
    for (int i = 0; i <= KEEP; i++) {
        snprintf(p, sizeof p, i ? "%s.%d" : "%s", g_path, i);
        unlink(p);
    }
    rmdir(g_dir);
}

static void init_dir(void)
{
    if (g_dir[0] != '\0')
        return;
    snprintf(g_dir, sizeof g_dir, "/tmp/fuzz_audit.XXXXXX");
    if (mkdtemp(g_dir) == NULL)
        abort();
    snprintf(g_path, sizeof g_path, "%s/audit.log", g_dir);
    atexit(cleanup);
}

/* Checks one parsed line against the event that produced it. */
static void check_line(const cJSON *j, const char *const *field)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "time");
    if (!cJSON_IsString(t) || strlen(t->valuestring) != 27 || t->valuestring[26] != 'Z')
        abort();
    for (int f = 0; f < NFIELDS; f++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[f]);
        if (field[f] == NULL) {
            if (!cJSON_IsNull(v))
                abort();
            continue;
        }
        if (!cJSON_IsString(v) || strlen(v->valuestring) > AUDIT_FIELD_MAX)
            abort();
        size_t n = strlen(field[f]);
        /* 80 bytes escape to at most 480: never cut, so escaping must be lossless. */
        if (n <= 80 && json_utf8_valid((const uint8_t *)field[f], n) &&
            strcmp(v->valuestring, field[f]) != 0)
            abort();
    }
}

/* Parses every line of one file; returns how many there were. */
static int check_file(const char *path, const char *const *field)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return 0;
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || (st.st_mode & 0777) != 0600)
        abort();
    char *buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL || fread(buf, 1, (size_t)st.st_size, fp) != (size_t)st.st_size)
        abort();
    fclose(fp);
    size_t len = (size_t)st.st_size, at = 0;
    int lines = 0;
    if (len == 0 || buf[len - 1] != '\n')
        abort();
    while (at < len) {
        char *nl = memchr(buf + at, '\n', len - at);
        cJSON *j = NULL;
        if (json_parse((const uint8_t *)buf + at, (size_t)(nl - (buf + at)), 4, &j) != M2M_OK)
            abort();
        check_line(j, field);
        cJSON_Delete(j);
        at = (size_t)(nl - buf) + 1;
        lines++;
    }
    free(buf);
    return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t hdr[HEADER] = {0};
    memcpy(hdr, data, size < HEADER ? size : HEADER);
    size_t rest = size > HEADER ? size - HEADER : 0;
    char *text = malloc(rest + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data + (size - rest), rest);
    text[rest] = '\0';

    /* Fields are separated by NUL bytes; missing trailing fields are NULL. */
    const char *field[NFIELDS] = {0};
    size_t at = 0;
    for (int f = 0; f < NFIELDS && at <= rest && rest > 0; f++) {
        field[f] = text + at;
        at += strlen(text + at) + 1;
    }
    struct audit_event e = {.event = field[0],
                            .originator = field[1],
                            .operation = field[2],
                            .target = field[3],
                            .decision = field[4],
                            .acp = field[5],
                            .reason = field[6],
                            .peer = field[7]};
    e.authenticated = hdr[0] & 1;
    int count = 1 + ((hdr[0] >> 1) & 3);
    memcpy(&e.t_us, hdr + 1, 8);
    e.rule = (int16_t)(hdr[9] | hdr[10] << 8);
    e.rsc = hdr[11] | hdr[12] << 8;

    init_dir();
    cleanup();
    if (mkdir(g_dir, 0700) != 0)
        abort();
    struct audit_log *l = NULL;
    if (audit_open(g_path, AUDIT_MIN_BYTES, KEEP, &l) != M2M_OK)
        abort();
    for (int i = 0; i < count; i++)
        audit_write(l, &e);
    if (audit_dropped(l) != 0)
        abort();
    audit_close(l);

    int lines = 0;
    char p[160];
    for (int i = 0; i <= KEEP; i++) {
        snprintf(p, sizeof p, i ? "%s.%d" : "%s", g_path, i);
        lines += check_file(p, field);
    }
    if (lines != count)
        abort();
    free(text);
    return 0;
}
