/* conf.c: the bounded configuration-file parser and its value helpers. */
#include "base/conf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Parser state: the current section and where errors go. */
struct conf_state {
    conf_cb cb;
    void *ctx;
    char *err;
    size_t errlen;
    int line;
    char section[CONF_MAX_KEY + 1];
    size_t seclen;
};

__attribute__((format(printf, 3, 4))) static m2m_rc fail(struct conf_state *st, m2m_rc rc,
                                                         const char *fmt, ...)
{
    if (st->err == NULL || st->errlen == 0)
        return rc;
    int n = snprintf(st->err, st->errlen, "line %d: ", st->line);
    if (n >= 0 && (size_t)n < st->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(st->err + n, st->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static bool is_blank(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static bool is_key_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* Length of the well-formed UTF-8 sequence at p[0..n), or 0 if it is not one (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf; /* bounds of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else
        return 0;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

/* Rejects NUL, control characters other than tab, and invalid UTF-8 anywhere in a line. */
static m2m_rc check_bytes(struct conf_state *st, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (p[i] == 0)
            return fail(st, M2M_ERR_MALFORMED, "NUL byte");
        if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
            return fail(st, M2M_ERR_MALFORMED, "control character");
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0)
            return fail(st, M2M_ERR_MALFORMED, "invalid UTF-8");
        i += k;
    }
    return M2M_OK;
}

/* Narrows [*p, *p + *n) to exclude leading and trailing blanks. */
static void trim(const uint8_t **p, size_t *n)
{
    while (*n > 0 && is_blank((*p)[0])) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && is_blank((*p)[*n - 1]))
        (*n)--;
}

static bool valid_name(const uint8_t *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_key_char(p[i]))
            return false;
    return true;
}

/* "[name]" (already trimmed, p[0] == '['). */
static m2m_rc parse_section(struct conf_state *st, const uint8_t *p, size_t n)
{
    if (n < 2 || p[n - 1] != ']')
        return fail(st, M2M_ERR_MALFORMED, "section header without closing ']'");
    p++;
    n -= 2;
    trim(&p, &n);
    if (!valid_name(p, n))
        return fail(st, M2M_ERR_MALFORMED, "empty or invalid section name");
    if (n > CONF_MAX_KEY - 2)
        return fail(st, M2M_ERR_LIMIT, "section name too long");
    memcpy(st->section, p, n);
    st->section[n] = '\0';
    st->seclen = n;
    return M2M_OK;
}

/* Builds "section.key" (or "key") into out[CONF_MAX_KEY + 1]. */
static m2m_rc build_key(struct conf_state *st, const uint8_t *p, size_t n, char *out)
{
    if (n == 0)
        return fail(st, M2M_ERR_MALFORMED, "empty key");
    if (!valid_name(p, n))
        return fail(st, M2M_ERR_MALFORMED, "invalid character in key");
    size_t pre = st->seclen ? st->seclen + 1 : 0;
    if (n > CONF_MAX_KEY || pre > CONF_MAX_KEY - n)
        return fail(st, M2M_ERR_LIMIT, "key longer than %d characters", CONF_MAX_KEY);
    if (pre) {
        memcpy(out, st->section, st->seclen);
        out[st->seclen] = '.';
    }
    memcpy(out + pre, p, n);
    out[pre + n] = '\0';
    return M2M_OK;
}

/* A quoted value (p[0] == '"', trailing blanks already trimmed) into out[CONF_MAX_VALUE + 1]. */
static m2m_rc unquote(struct conf_state *st, const uint8_t *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 1; i < n; i++) {
        uint8_t c = p[i];
        if (c == '"') {
            if (i + 1 != n)
                return fail(st, M2M_ERR_MALFORMED, "junk after closing quote");
            out[o] = '\0';
            return M2M_OK;
        }
        if (c == '\\') {
            if (i + 1 == n)
                break;
            c = p[++i];
            if (c != '"' && c != '\\')
                return fail(st, M2M_ERR_MALFORMED, "bad escape (only \\\" and \\\\)");
        }
        if (o == CONF_MAX_VALUE)
            return fail(st, M2M_ERR_LIMIT, "value longer than %d bytes", CONF_MAX_VALUE);
        out[o++] = (char)c;
    }
    return fail(st, M2M_ERR_MALFORMED, "unterminated quote");
}

/* "key = value" (already trimmed, not a comment or a section). */
static m2m_rc parse_entry(struct conf_state *st, const uint8_t *p, size_t n)
{
    char key[CONF_MAX_KEY + 1];
    char val[CONF_MAX_VALUE + 1];
    const uint8_t *eq = memchr(p, '=', n);
    if (eq == NULL)
        return fail(st, M2M_ERR_MALFORMED, "expected 'key = value'");
    const uint8_t *k = p, *v = eq + 1;
    size_t kn = (size_t)(eq - p), vn = n - kn - 1;
    trim(&k, &kn);
    trim(&v, &vn);
    RETURN_IF_ERR(build_key(st, k, kn, key));
    if (vn > 0 && v[0] == '"') {
        RETURN_IF_ERR(unquote(st, v, vn, val));
    } else {
        if (vn > CONF_MAX_VALUE)
            return fail(st, M2M_ERR_LIMIT, "value longer than %d bytes", CONF_MAX_VALUE);
        memcpy(val, v, vn);
        val[vn] = '\0';
    }
    m2m_rc rc = st->cb(st->ctx, key, val, st->line);
    if (rc != M2M_OK)
        return fail(st, rc, "%s: %s", key, m2m_rc_str(rc));
    return M2M_OK;
}

static m2m_rc parse_line(struct conf_state *st, const uint8_t *p, size_t n)
{
    RETURN_IF_ERR(check_bytes(st, p, n));
    trim(&p, &n);
    if (n == 0 || p[0] == '#')
        return M2M_OK;
    if (p[0] == '[')
        return parse_section(st, p, n);
    return parse_entry(st, p, n);
}

m2m_rc conf_parse(const uint8_t *in, size_t len, conf_cb cb, void *ctx, char *err, size_t errlen)
{
    struct conf_state st = {.cb = cb, .ctx = ctx, .err = err, .errlen = errlen};
    size_t pos = 0;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (cb == NULL || (in == NULL && len > 0))
        return M2M_ERR_INTERNAL;
    if (len >= 3 && in[0] == 0xef && in[1] == 0xbb && in[2] == 0xbf)
        pos = 3;
    while (pos < len) {
        const uint8_t *p = in + pos;
        const uint8_t *nl = memchr(p, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - p) : len - pos;
        pos += n + (nl ? 1 : 0);
        st.line++;
        if (st.line > CONF_MAX_LINES)
            return fail(&st, M2M_ERR_LIMIT, "more than %d lines", CONF_MAX_LINES);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n > CONF_MAX_LINE)
            return fail(&st, M2M_ERR_LIMIT, "line longer than %d bytes", CONF_MAX_LINE);
        RETURN_IF_ERR(parse_line(&st, p, n));
    }
    return M2M_OK;
}

/* Reads up to CONF_MAX_FILE bytes of fd into a new buffer; M2M_ERR_LIMIT if there are more. */
static m2m_rc read_all(int fd, uint8_t **out, size_t *outlen)
{
    uint8_t *buf = malloc(CONF_MAX_FILE + 1);
    size_t n = 0;
    if (buf == NULL)
        return M2M_ERR_NOMEM;
    while (n < CONF_MAX_FILE + 1) {
        ssize_t r = read(fd, buf + n, CONF_MAX_FILE + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return M2M_ERR_IO;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > CONF_MAX_FILE) {
        free(buf);
        return M2M_ERR_LIMIT;
    }
    *out = buf;
    *outlen = n;
    return M2M_OK;
}

/* Writes "path: msg" to err. */
static void file_err(char *err, size_t errlen, const char *path, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s: %s", path, msg);
}

m2m_rc conf_parse_file(const char *path, conf_cb cb, void *ctx, char *err, size_t errlen)
{
    m2m_rc rc = M2M_OK;
    uint8_t *buf = NULL;
    size_t len = 0;
    char perr[256];
    struct stat sb;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (path == NULL)
        return M2M_ERR_INTERNAL;
    /* O_NONBLOCK: opening a FIFO must not hang; it is refused below as not a regular file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        file_err(err, errlen, path, strerror(errno));
        return M2M_ERR_IO;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        file_err(err, errlen, path, "not a regular file");
        BAIL(M2M_ERR_IO);
    }
    rc = read_all(fd, &buf, &len);
    if (rc != M2M_OK) {
        file_err(err, errlen, path, rc == M2M_ERR_LIMIT ? "file larger than 1 MiB" : "read failed");
        goto out;
    }
    rc = conf_parse(buf, len, cb, ctx, perr, sizeof perr);
    if (rc != M2M_OK)
        file_err(err, errlen, path, perr);
out:
    free(buf);
    close(fd);
    return rc;
}

bool conf_parse_bool(const char *v, bool *out)
{
    static const struct {
        const char *name;
        bool val;
    } words[] = {{"true", true},   {"yes", true}, {"on", true},   {"1", true},
                 {"false", false}, {"no", false}, {"off", false}, {"0", false}};
    if (v == NULL)
        return false;
    for (size_t i = 0; i < M2M_ARRAY_LEN(words); i++)
        if (strcasecmp(v, words[i].name) == 0) {
            *out = words[i].val;
            return true;
        }
    return false;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool conf_parse_int(const char *v, long lo, long hi, long *out)
{
    if (v == NULL || !(is_digit(v[0]) || (v[0] == '-' && is_digit(v[1]))))
        return false;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < lo || n > hi)
        return false;
    *out = n;
    return true;
}

bool conf_parse_size(const char *v, size_t *out)
{
    size_t n = 0, mult = 1;
    const char *p = v;
    if (v == NULL || !is_digit(v[0]))
        return false;
    for (; is_digit(*p); p++) {
        size_t d = (size_t)(*p - '0');
        if (n > (SIZE_MAX - d) / 10)
            return false;
        n = n * 10 + d;
    }
    switch (*p) {
    case '\0': break;
    case 'k':
    case 'K': mult = (size_t)1 << 10; break;
    case 'm':
    case 'M': mult = (size_t)1 << 20; break;
    case 'g':
    case 'G': mult = (size_t)1 << 30; break;
    default: return false;
    }
    if (*p != '\0' && p[1] != '\0')
        return false;
    if (n > SIZE_MAX / mult)
        return false;
    *out = n * mult;
    return true;
}
