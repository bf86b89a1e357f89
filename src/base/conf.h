/* conf.h: the configuration-file parser (INI-like "key = value" lines) and value helpers. */
#ifndef M2M_BASE_CONF_H
#define M2M_BASE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"

/* Format (UTF-8, one entry per line, LF or CRLF line ends):
 *   # a comment: '#' as the first non-blank character of a line; there are no trailing comments,
 *   #            so '#' inside a value is literal
 *   [tls]                    a section: later keys are reported as "tls.<key>"
 *   port = 8443              key: 1..128 chars of [A-Za-z0-9_.-] (the full "section.key")
 *   name = "a \"quoted\" \\ value"   quoted: only \" and \\ escapes; nothing but blanks after it
 * Blanks (space, tab) around keys, values and section names are ignored; an unquoted value runs
 * to the end of the line. A leading UTF-8 byte-order mark is skipped. Duplicate keys are all
 * reported, in order; the callback decides what a repeat means.
 *
 * Bounds: a line holds at most CONF_MAX_LINE bytes (excluding its line end), a value at most
 * CONF_MAX_VALUE bytes after unquoting, a file at most CONF_MAX_LINES lines. */
#define CONF_MAX_LINE 4096
#define CONF_MAX_KEY 128
#define CONF_MAX_VALUE 1024
#define CONF_MAX_LINES 10000
#define CONF_MAX_FILE (1024 * 1024)

/* Called once per "key = value" line, in file order. key and value are NUL-terminated and valid
 * only during the call; line is 1-based. Any status other than M2M_OK stops parsing and is
 * returned by conf_parse. The callback never sees a value of a secret in an error message:
 * conf_parse names only the key. */
typedef m2m_rc (*conf_cb)(void *ctx, const char *key, const char *value, int line);

/* Parses exactly len bytes. Returns:
 *   M2M_OK             every line parsed and every callback returned M2M_OK;
 *   M2M_ERR_MALFORMED  a NUL byte, an ASCII control character other than tab (or a CR not
 *                      ending a line), invalid UTF-8, a line without '=', an empty or invalid
 *                      key, a bad section header, an unterminated quote, a bad escape, or
 *                      anything but blanks after a closing quote;
 *   M2M_ERR_LIMIT      a line, key or value longer than its bound, or more than CONF_MAX_LINES;
 *   the callback's status when it fails.
 * On failure err (if not NULL and errlen > 0) receives "line N: reason" (for a callback failure
 * "line N: <key>: <status>"); on success err is "". Values never appear in err. */
M2M_WARN_UNUSED m2m_rc conf_parse(const uint8_t *in, size_t len, conf_cb cb, void *ctx, char *err,
                                  size_t errlen);

/* Reads the regular file at path (at most CONF_MAX_FILE bytes) and parses it as conf_parse does.
 * Adds M2M_ERR_IO (cannot open or read, or not a regular file) and M2M_ERR_LIMIT (file too
 * large); err then names the path. */
M2M_WARN_UNUSED m2m_rc conf_parse_file(const char *path, conf_cb cb, void *ctx, char *err,
                                       size_t errlen);

/* Helpers for callbacks. Each returns false (leaving *out unchanged) unless the whole string is
 * valid; v == NULL is invalid. */

/* true/yes/on/1 and false/no/off/0, ASCII case-insensitive. */
bool conf_parse_bool(const char *v, bool *out);
/* A decimal integer with an optional leading '-', no blanks, no '+', within [lo, hi]. */
bool conf_parse_int(const char *v, long lo, long hi, long *out);
/* A decimal byte count with an optional suffix k/K (x1024), m/M (x1024^2) or g/G (x1024^3);
 * false on overflow. */
bool conf_parse_size(const char *v, size_t *out);

#endif
