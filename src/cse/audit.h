/* audit.h: the append-only security audit log (JSON lines): access-control decisions and changes
 * to <accessControlPolicy> resources and to acpi attributes, with size-based rotation. */
#ifndef M2M_CSE_AUDIT_H
#define M2M_CSE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"

/* TS-0003 7.1 defines the access decision but no audit trail; this log is our [INTERP] of the
 * issue "every deny and every change to an ACP or an acpi is written to an append-only audit log".
 *
 * One event is one line, one JSON object, keys always in this order and always present:
 *
 *   {"time":"2026-11-28T00:07:13.480123Z","event":"decision","originator":"CAE1",
 *    "authenticated":true,"operation":"RETRIEVE","target":"/cse1/cnt1","decision":"deny",
 *    "acp":"acp42","rule":0,"reason":"originator,operation","peer":"192.0.2.1:5555","rsc":4103}
 *
 * - "time" is ISO 8601 extended UTC with microseconds and "Z" (always 27 characters; clamped to
 *   1970-01-01 .. 9999-12-31).
 * - A NULL string field, rule < 0 and rsc == 0 are written as JSON null, so every line has the
 *   same schema.
 * - Every string is escaped for JSON: '"', '\\', all bytes < 0x20 and 0x7f are escaped, U+2028
 *   and U+2029 are written as \u2028/\u2029, and every byte that is not part of well-formed UTF-8
 *   becomes U+FFFD. A line therefore never contains a raw newline and never breaks out of its
 *   string: a hostile originator or target cannot split or forge lines.
 * - Each string field is bounded to AUDIT_FIELD_MAX bytes after escaping; a longer value is cut
 *   at a character boundary and ends in "...". The input is read only as far as needed, so a
 *   huge string costs no more than a short one.
 * - The log must never hold secrets or resource contents: callers pass identifiers only.
 *
 * Durability: a line is formatted first, then written with a single write(2) on a descriptor
 * opened O_APPEND, under a mutex; no fsync per line. A line that write(2) accepted survives a
 * crash of the process (it is in the kernel), but not a power loss or kernel crash.
 *
 * Rotation: when appending a line would take the file past max_bytes (and the file is not
 * empty), path.(keep-1) is renamed to path.keep, ..., path.1 to path.2, path to path.1, and a
 * new path is created. The oldest file is dropped by the rename over it, so at most keep + 1
 * files exist. The size is tracked from the open; do not rotate or truncate the file from
 * outside (no copytruncate). A single line longer than max_bytes is still written whole, into
 * a fresh file.
 *
 * Failures never reach the caller: when a write, a rotation or a reopen fails, the line is
 * dropped, a counter grows and an error is logged to stderr at most once every 10 seconds. When
 * writing works again, an {"time":...,"event":"audit-dropped","count":N} line is written first
 * so the gap is visible in the log itself. If rotation fails the line is dropped rather than let
 * the file grow past its bound. A write(2) that stored only part of a line is followed by a
 * newline before the next line, so the damage stays in one unparsable line. */

#define AUDIT_FIELD_MAX 512  /* bytes of one escaped string field, "..." included */
#define AUDIT_KEEP_MAX 99    /* most rotated files */
#define AUDIT_MIN_BYTES 1024 /* smallest max_bytes accepted */

struct audit_event {
    int64_t t_us;           /* wall clock, us since epoch; 0 = now (m2m_now_us) */
    const char *event;      /* "decision", "acp-create|update|delete", "acpi-update" */
    const char *originator; /* absolute originator ID */
    bool authenticated;     /* the originator was authenticated (TLS, token, ESPrim ...) */
    const char *operation;  /* "CREATE", "RETRIEVE", "UPDATE", "DELETE", "NOTIFY", "DISCOVERY" */
    const char *target;     /* resource ID or structured path */
    const char *decision;   /* "permit" / "deny" (NULL for change events) */
    const char *acp;        /* deciding ACP ri or NULL */
    int rule;               /* deciding rule index or -1 */
    const char *reason;     /* short machine-readable reason ("originator,operation") or NULL */
    const char *peer;       /* source address text or NULL */
    int rsc;                /* resulting RSC, 0 if none */
};

struct audit_log;

/* Opens (creating if needed, mode 0600) the log file at path for appending. path must not be a
 * symbolic link and must name a regular file; an existing file readable by group or others is
 * narrowed to 0600. max_bytes >= AUDIT_MIN_BYTES is the size at which the file rotates; keep in
 * [1, AUDIT_KEEP_MAX] is how many rotated files are kept (path.1 newest .. path.keep oldest).
 * Returns M2M_ERR_CONFIG for a NULL/empty path or a bound out of range, M2M_ERR_IO when the file
 * cannot be opened, M2M_ERR_NOMEM. On success *out owns the log; free with audit_close. */
M2M_WARN_UNUSED m2m_rc audit_open(const char *path, size_t max_bytes, int keep,
                                  struct audit_log **out);

/* Appends one event as one line. Thread-safe. Never fails the caller (see above). l or e NULL
 * is a no-op. Borrows every string of e for the duration of the call only. */
void audit_write(struct audit_log *l, const struct audit_event *e);

/* Lines dropped since open because of I/O errors (for tests and metrics). */
uint64_t audit_dropped(struct audit_log *l);

/* Formats e as one line (with its trailing '\n') into out, which holds cap bytes; returns the
 * length, or 0 if cap is too small. Pure apart from reading the clock when e->t_us is 0. Exposed
 * for tests and fuzzing; audit_write uses it with a buffer of AUDIT_LINE_MAX. */
#define AUDIT_LINE_MAX (8 * (AUDIT_FIELD_MAX + 24) + 256)
size_t audit_format(const struct audit_event *e, char *out, size_t cap);

/* Closes the file and frees l. NULL is a no-op. */
void audit_close(struct audit_log *l);

#endif
