/* location.c: the operator-provisioned originator location table (see location.h). */
#include "cse/location.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/hmap.h"

#define LOC_MAX_LINES 100000
#define LOC_MAX_LINE 512

struct loc {
    double lat, lon;
    char cc[3];
};

struct location_table {
    struct hmap *map;
    struct loc *v;
    size_t n;
};

void location_free(struct location_table *t)
{
    if (t == NULL)
        return;
    hmap_free(t->map);
    free(t->v);
    free(t);
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (errno != 0 || end == s || *end != 0 || !isfinite(d) || d < lo || d > hi)
        return false;
    *out = d;
    return true;
}

static m2m_rc parse_line(struct location_table *t, char *line, const struct acp_host *host,
                         size_t idx, char *err, size_t errlen, size_t lineno)
{
    char *save = NULL;
    char *id = strtok_r(line, " \t", &save);
    char *la = strtok_r(NULL, " \t", &save);
    char *lo = strtok_r(NULL, " \t", &save);
    char *cc = strtok_r(NULL, " \t", &save);
    char *extra = strtok_r(NULL, " \t", &save);
    struct loc *l = &t->v[idx];
    if (id == NULL || la == NULL || lo == NULL || extra != NULL ||
        !parse_double(la, -90, 90, &l->lat) || !parse_double(lo, -180, 180, &l->lon)) {
        snprintf(err, errlen, "line %zu: expected ORIGINATOR LATITUDE LONGITUDE [COUNTRY]", lineno);
        return M2M_ERR_MALFORMED;
    }
    memset(l->cc, 0, sizeof l->cc);
    if (cc != NULL) {
        if (strlen(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z') {
            snprintf(err, errlen, "line %zu: country must be ISO 3166-1 alpha-2 (e.g. DE)", lineno);
            return M2M_ERR_MALFORMED;
        }
        memcpy(l->cc, cc, 2);
    }
    char abs[512];
    if (acp_id_absolute(id, strlen(id), host, abs, sizeof abs) != M2M_OK) {
        snprintf(err, errlen, "line %zu: invalid originator", lineno);
        return M2M_ERR_MALFORMED;
    }
    return hmap_put(t->map, abs, l);
}

m2m_rc location_parse(const uint8_t *in, size_t len, const struct acp_host *host,
                      struct location_table **out, char *err, size_t errlen)
{
    *out = NULL;
    struct location_table *t = calloc(1, sizeof *t);
    if (t == NULL)
        return M2M_ERR_NOMEM;
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += in[i] == '\n';
    if (lines > LOC_MAX_LINES) {
        snprintf(err, errlen, "more than %d lines", LOC_MAX_LINES);
        free(t);
        return M2M_ERR_LIMIT;
    }
    m2m_rc rc = hmap_new(lines, &t->map);
    if (rc == M2M_OK && (t->v = calloc(lines, sizeof *t->v)) == NULL)
        rc = M2M_ERR_NOMEM;
    size_t pos = 0, lineno = 0;
    while (rc == M2M_OK && pos < len) {
        lineno++;
        const uint8_t *nl = memchr(in + pos, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - (in + pos)) : len - pos;
        char line[LOC_MAX_LINE + 1];
        if (l > LOC_MAX_LINE) {
            snprintf(err, errlen, "line %zu: longer than %d bytes", lineno, LOC_MAX_LINE);
            rc = M2M_ERR_LIMIT;
            break;
        }
        memcpy(line, in + pos, l);
        line[l] = 0;
        pos += l + (nl ? 1 : 0);
        if (memchr(line, 0, l) != NULL) {
            snprintf(err, errlen, "line %zu: NUL byte", lineno);
            rc = M2M_ERR_MALFORMED;
            break;
        }
        if (l > 0 && line[l - 1] == '\r')
            line[--l] = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == 0 || *p == '#')
            continue;
        rc = parse_line(t, p, host, t->n, err, errlen, lineno);
        if (rc == M2M_OK)
            t->n++;
    }
    if (rc != M2M_OK) {
        location_free(t);
        return rc;
    }
    *out = t;
    return M2M_OK;
}

m2m_rc location_load(const char *path, const struct acp_host *host, struct location_table **out,
                     char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return M2M_ERR_IO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 24)) {
        fclose(f);
        snprintf(err, errlen, "%s: not a regular file of at most 16 MiB", path);
        return M2M_ERR_IO;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL || fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        snprintf(err, errlen, "%s: read error", path);
        return M2M_ERR_IO;
    }
    fclose(f);
    m2m_rc rc = location_parse(buf, n, host, out, err, errlen);
    free(buf);
    return rc;
}

bool location_lookup(const struct location_table *t, const char *orig_abs, double *lat, double *lon,
                     char country[3])
{
    if (t == NULL)
        return false;
    const struct loc *l = hmap_get(t->map, orig_abs);
    if (l == NULL)
        return false;
    *lat = l->lat;
    *lon = l->lon;
    memcpy(country, l->cc, 3);
    return true;
}
