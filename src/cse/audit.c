/* audit.c: the security audit log: bounded JSON-line formatting, append with one write(2) per
 * line, size-based rotation, and drop accounting when the file system fails. */
#include "cse/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timeutil.h"

#define AUDIT_COMPLAIN_MS 10000          /* at most one stderr complaint per this interval */
#define AUDIT_T_MAX 253402300799999999LL /* 9999-12-31T23:59:59.999999Z */

struct audit_log {
    pthread_mutex_t mu;
    int fd;           /* -1 after a failed reopen: the next write retries */
    char *path;       /* the live file */
    char *from, *to;  /* scratch for rotated names, path + ".NN" */
    size_t path_cap;  /* size of from and to */
    size_t max_bytes; /* rotate before a line would take the file past this */
    size_t size;      /* bytes in the live file, tracked from the open */
    int keep;         /* rotated files kept */
    bool need_nl;     /* the last write stored only part of a line */
    uint64_t dropped, unreported;
    int64_t last_complaint_ms;
    uint64_t quiet_complaints; /* complaints suppressed since the last one logged */
};

/* ---- formatting ------------------------------------------------------------------------- */

/* A bounded output buffer; an overflow is sticky and makes audit_format return 0. */
struct abuf {
    char *p;
    size_t len, cap;
    bool over;
};

static void put(struct abuf *b, const char *s, size_t n)
{
    if (b->over || n > b->cap - b->len) {
        b->over = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void put_lit(struct abuf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Length (1..4) of the well-formed UTF-8 sequence starting at s, or 0 when s[0] starts none
 * (RFC 3629 table: no overlongs, no surrogates, nothing above U+10FFFF). Stops reading at the
 * first byte that does not fit, so it never reads past the terminating NUL. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

/* Escapes the character at s into piece (at most 6 bytes); *adv is how many input bytes it
 * used. Returns the length of piece. */
static size_t escape_one(const unsigned char *s, char piece[8], size_t *adv)
{
    size_t n = utf8_seq(s);
    if (n == 0) { /* not UTF-8: one byte becomes U+FFFD */
        *adv = 1;
        memcpy(piece, "\xEF\xBF\xBD", 3);
        return 3;
    }
    *adv = n;
    if (n == 3 && s[0] == 0xE2 && s[1] == 0x80 && (s[2] == 0xA8 || s[2] == 0xA9)) {
        memcpy(piece, s[2] == 0xA8 ? "\\u2028" : "\\u2029", 6); /* JS line separators */
        return 6;
    }
    if (n > 1) {
        memcpy(piece, s, n);
        return n;
    }
    switch (s[0]) {
    case '"': memcpy(piece, "\\\"", 2); return 2;
    case '\\': memcpy(piece, "\\\\", 2); return 2;
    case '\n': memcpy(piece, "\\n", 2); return 2;
    case '\r': memcpy(piece, "\\r", 2); return 2;
    case '\t': memcpy(piece, "\\t", 2); return 2;
    default: break;
    }
    if (s[0] < 0x20 || s[0] == 0x7f) {
        static const char hex[] = "0123456789abcdef";
        memcpy(piece, "\\u00", 4);
        piece[4] = hex[s[0] >> 4];
        piece[5] = hex[s[0] & 0xf];
        return 6;
    }
    piece[0] = (char)s[0];
    return 1;
}

/* Writes key (which carries its own leading ',' and ':') and v as a JSON string of at most
 * AUDIT_FIELD_MAX bytes between the quotes, or null. Reads v no further than needed. */
static void put_str(struct abuf *b, const char *key, const char *v)
{
    put_lit(b, key);
    if (v == NULL) {
        put_lit(b, "null");
        return;
    }
    put(b, "\"", 1);
    const unsigned char *s = (const unsigned char *)v;
    size_t start = b->len, mark = b->len;
    bool cut = false;
    while (*s != '\0' && !b->over) {
        char piece[8];
        size_t adv, n = escape_one(s, piece, &adv);
        if (b->len - start + n > AUDIT_FIELD_MAX) {
            cut = true;
            break;
        }
        put(b, piece, n);
        if (b->len - start <= AUDIT_FIELD_MAX - 3)
            mark = b->len; /* where "..." still fits */
        s += adv;
    }
    if (cut && !b->over) {
        b->len = mark;
        put(b, "...", 3);
    }
    put(b, "\"", 1);
}

/* Writes key and v, or null when absent. */
static void put_int(struct abuf *b, const char *key, long long v, bool present)
{
    char num[32];
    put_lit(b, key);
    if (!present) {
        put_lit(b, "null");
        return;
    }
    int n = snprintf(num, sizeof num, "%lld", v);
    put(b, num, (size_t)n);
}

/* ISO 8601 extended UTC with microseconds, always 27 characters. */
static void put_time(struct abuf *b, int64_t t_us)
{
    if (t_us < 0)
        t_us = 0;
    if (t_us > AUDIT_T_MAX)
        t_us = AUDIT_T_MAX;
    time_t s = (time_t)(t_us / 1000000);
    struct tm tm;
    char ts[128];
    gmtime_r(&s, &tm);
    int n = snprintf(ts, sizeof ts, "\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06dZ\"",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(t_us % 1000000));
    put(b, ts, (size_t)n);
}

size_t audit_format(const struct audit_event *e, char *out, size_t cap)
{
    struct abuf b = {out, 0, cap, false};
    put(&b, "{", 1);
    put_time(&b, e->t_us != 0 ? e->t_us : m2m_now_us());
    put_str(&b, ",\"event\":", e->event);
    put_str(&b, ",\"originator\":", e->originator);
    put_lit(&b, e->authenticated ? ",\"authenticated\":true" : ",\"authenticated\":false");
    put_str(&b, ",\"operation\":", e->operation);
    put_str(&b, ",\"target\":", e->target);
    put_str(&b, ",\"decision\":", e->decision);
    put_str(&b, ",\"acp\":", e->acp);
    put_int(&b, ",\"rule\":", e->rule, e->rule >= 0);
    put_str(&b, ",\"reason\":", e->reason);
    put_str(&b, ",\"peer\":", e->peer);
    put_int(&b, ",\"rsc\":", e->rsc, e->rsc != 0);
    put(&b, "}\n", 2);
    return b.over ? 0 : b.len;
}

/* ---- the file ----------------------------------------------------------------------------- */

/* Opens path for appending: created 0600, never through a symbolic link, never a FIFO or a
 * device (O_NONBLOCK keeps a FIFO without reader from blocking the open). */
static m2m_rc open_file(const char *path, int *fd_out, size_t *size_out)
{
    m2m_rc rc = M2M_OK;
    struct stat st;
    int fd = open(
        path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0600);
    ENSURE(fd >= 0, M2M_ERR_IO);
    ENSURE(fstat(fd, &st) == 0, M2M_ERR_IO);
    if (!S_ISREG(st.st_mode))
        errno = EINVAL;
    ENSURE(S_ISREG(st.st_mode), M2M_ERR_IO);
    if ((st.st_mode & 077) != 0)
        ENSURE(fchmod(fd, 0600) == 0, M2M_ERR_IO);
    *fd_out = fd;
    *size_out = (size_t)st.st_size;
    fd = -1;
out:
    if (fd >= 0) {
        int err = errno; /* the caller reports it */
        close(fd);
        errno = err;
    }
    return rc;
}

/* Logs an I/O failure to stderr, at most once per AUDIT_COMPLAIN_MS. Called under the mutex. */
static void complain(struct audit_log *l, const char *what, int err)
{
    int64_t now = m2m_mono_ms();
    if (l->last_complaint_ms != 0 && now - l->last_complaint_ms < AUDIT_COMPLAIN_MS) {
        l->quiet_complaints++;
        return;
    }
    log_error("audit: %s %s: %s; line dropped (%" PRIu64 " dropped before, %" PRIu64
              " similar errors not shown)",
              what, l->path, err != 0 ? strerror(err) : "short write", l->dropped,
              l->quiet_complaints);
    l->last_complaint_ms = now != 0 ? now : 1;
    l->quiet_complaints = 0;
}

static void rot_name(const struct audit_log *l, char *buf, int i)
{
    snprintf(buf, l->path_cap, "%s.%d", l->path, i);
}

/* Shifts path.(keep-1) .. path.1 up by one and path to path.1, then opens a fresh path. A
 * missing file is fine (the live one may have been removed from outside: its lines are gone
 * with it, and a fresh file starts); any other failure stops the rotation. */
static bool rotate(struct audit_log *l)
{
    for (int i = l->keep - 1; i >= 1; i--) {
        rot_name(l, l->from, i);
        rot_name(l, l->to, i + 1);
        if (rename(l->from, l->to) != 0 && errno != ENOENT) {
            complain(l, "cannot rotate", errno);
            return false;
        }
    }
    rot_name(l, l->to, 1);
    if (rename(l->path, l->to) != 0 && errno != ENOENT) { /* ENOENT: removed from outside */
        complain(l, "cannot rotate", errno);
        return false;
    }
    close(l->fd);
    l->fd = -1;
    l->size = 0;
    l->need_nl = false;
    if (open_file(l->path, &l->fd, &l->size) != M2M_OK) {
        complain(l, "cannot reopen", errno);
        l->fd = -1;
        return false;
    }
    return true;
}

/* Makes room for n more bytes: reopens after an earlier failure, rotates when the live file
 * would pass max_bytes. */
static bool ready_for(struct audit_log *l, size_t n)
{
    if (l->fd < 0) {
        if (open_file(l->path, &l->fd, &l->size) != M2M_OK) {
            complain(l, "cannot reopen", errno);
            l->fd = -1;
            return false;
        }
        l->need_nl = false;
    }
    if (l->size > 0 && l->size + n + l->need_nl > l->max_bytes)
        return rotate(l);
    return true;
}

/* Appends one formatted line with one write(2). line[-1] must be writable: it carries the
 * newline that ends a line an earlier short write left unfinished. Called under the mutex. */
static bool append_locked(struct audit_log *l, char *line, size_t n)
{
    if (!ready_for(l, n))
        return false;
    char *p = line;
    if (l->need_nl) {
        *--p = '\n';
        n++;
    }
    ssize_t w;
    do
        w = write(l->fd, p, n);
    while (w < 0 && errno == EINTR);
    if (w > 0) {
        l->size += (size_t)w;
        l->need_nl = p[w - 1] != '\n';
    }
    if (w == (ssize_t)n)
        return true;
    complain(l, "cannot write", w < 0 ? errno : 0);
    return false;
}

/* Writes the "audit-dropped" line that makes an earlier gap visible. */
static void report_drops(struct audit_log *l)
{
    char buf[160];
    struct abuf b = {buf + 1, 0, sizeof buf - 1, false};
    put(&b, "{", 1);
    put_time(&b, m2m_now_us());
    put_str(&b, ",\"event\":", "audit-dropped");
    put_int(&b, ",\"count\":", (long long)l->unreported, true);
    put(&b, "}\n", 2);
    if (!b.over && append_locked(l, b.p, b.len))
        l->unreported = 0;
}

void audit_write(struct audit_log *l, const struct audit_event *e)
{
    if (l == NULL || e == NULL)
        return;
    char line[AUDIT_LINE_MAX + 1]; /* line[0] is room for the repair newline */
    size_t n = audit_format(e, line + 1, sizeof line - 1);
    if (n == 0) /* AUDIT_LINE_MAX is sized for the largest line */
        return;
    pthread_mutex_lock(&l->mu);
    if (l->unreported > 0)
        report_drops(l);
    if (!append_locked(l, line + 1, n)) {
        l->dropped++;
        l->unreported++;
    }
    pthread_mutex_unlock(&l->mu);
}

uint64_t audit_dropped(struct audit_log *l)
{
    if (l == NULL)
        return 0;
    pthread_mutex_lock(&l->mu);
    uint64_t d = l->dropped;
    pthread_mutex_unlock(&l->mu);
    return d;
}

m2m_rc audit_open(const char *path, size_t max_bytes, int keep, struct audit_log **out)
{
    m2m_rc rc = M2M_OK;
    struct audit_log *l = NULL;
    ENSURE(path != NULL && path[0] != '\0' && strnlen(path, PATH_MAX) < PATH_MAX, M2M_ERR_CONFIG);
    ENSURE(max_bytes >= AUDIT_MIN_BYTES && keep >= 1 && keep <= AUDIT_KEEP_MAX, M2M_ERR_CONFIG);
    l = calloc(1, sizeof *l);
    ENSURE_NONNULL(l);
    l->fd = -1;
    l->path_cap = strlen(path) + 8;
    l->path = strdup(path);
    l->from = malloc(l->path_cap);
    l->to = malloc(l->path_cap);
    ENSURE(l->path != NULL && l->from != NULL && l->to != NULL, M2M_ERR_NOMEM);
    l->max_bytes = max_bytes;
    l->keep = keep;
    TRY(open_file(path, &l->fd, &l->size));
    ENSURE(pthread_mutex_init(&l->mu, NULL) == 0, M2M_ERR_NOMEM);
    *out = l;
    l = NULL;
out:
    if (l != NULL) {
        if (l->fd >= 0)
            close(l->fd);
        free(l->path);
        free(l->from);
        free(l->to);
        free(l);
    }
    return rc;
}

void audit_close(struct audit_log *l)
{
    if (l == NULL)
        return;
    if (l->fd >= 0)
        close(l->fd);
    pthread_mutex_destroy(&l->mu);
    free(l->path);
    free(l->from);
    free(l->to);
    free(l);
}
