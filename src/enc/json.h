/* json.h: the thin codec interface over cJSON. All JSON from peers enters through json_parse(),
 * which bounds nesting depth, validates UTF-8 and rejects duplicate member names. Modules use the
 * cJSON tree type for navigation; nothing else of cJSON's parser is called directly. */
#ifndef M2M_ENC_JSON_H
#define M2M_ENC_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"

/* Parses exactly len bytes of JSON. Fails with M2M_ERR_MALFORMED on syntax errors, invalid
 * UTF-8, a duplicate member name in any object, or an embedded NUL; with M2M_ERR_LIMIT when
 * nesting exceeds max_depth. On success *out owns a tree to free with cJSON_Delete. */
M2M_WARN_UNUSED m2m_rc json_parse(const uint8_t *in, size_t len, int max_depth, cJSON **out);
/* Serializes compactly; the caller frees with free(). NULL on allocation failure. */
char *json_print(const cJSON *j);
/* True when buf[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool json_utf8_valid(const uint8_t *buf, size_t len);
/* True when j is a JSON number holding an integer value within [lo, hi]. */
bool json_is_int_in(const cJSON *j, int64_t lo, int64_t hi);

#endif
