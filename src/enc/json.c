/* json.c: bounded JSON parsing on top of cJSON. */
#include "enc/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool json_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

/* Structural pre-scan: nesting depth and NUL bytes, outside and inside strings. */
static m2m_rc prescan(const uint8_t *in, size_t len, int max_depth)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = in[i];
        if (c == 0)
            return M2M_ERR_MALFORMED;
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"')
            in_str = true;
        else if (c == '{' || c == '[') {
            if (++depth > max_depth)
                return M2M_ERR_LIMIT;
        } else if (c == '}' || c == ']')
            depth--;
    }
    return M2M_OK;
}

static bool has_dup_keys(const cJSON *j)
{
    for (const cJSON *c = j ? j->child : NULL; c != NULL; c = c->next) {
        if (cJSON_IsObject(j) && c->string != NULL)
            for (const cJSON *d = c->next; d != NULL; d = d->next)
                if (d->string != NULL && strcmp(c->string, d->string) == 0)
                    return true;
        if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && has_dup_keys(c))
            return true;
    }
    return false;
}

/* Decoded strings may carry \u0000 escapes; cJSON truncates them, so reject the escape itself. */
static bool has_escaped_nul(const uint8_t *in, size_t len)
{
    for (size_t i = 0; i + 5 < len; i++)
        if (in[i] == '\\' && in[i + 1] == 'u' && in[i + 2] == '0' && in[i + 3] == '0' &&
            in[i + 4] == '0' && in[i + 5] == '0') {
            /* count preceding backslashes: an escaped backslash does not start an escape */
            size_t k = i, bs = 0;
            while (k > 0 && in[k - 1] == '\\') {
                bs++;
                k--;
            }
            if (bs % 2 == 0)
                return true;
        }
    return false;
}

m2m_rc json_parse(const uint8_t *in, size_t len, int max_depth, cJSON **out)
{
    *out = NULL;
    if (in == NULL || len == 0)
        return M2M_ERR_MALFORMED;
    m2m_rc rc = prescan(in, len, max_depth);
    if (rc != M2M_OK)
        return rc;
    if (!json_utf8_valid(in, len) || has_escaped_nul(in, len))
        return M2M_ERR_MALFORMED;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts((const char *)in, len, &end, false);
    if (j == NULL)
        return M2M_ERR_MALFORMED;
    /* only whitespace may follow the value */
    for (const char *p = end; p < (const char *)in + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            cJSON_Delete(j);
            return M2M_ERR_MALFORMED;
        }
    if (has_dup_keys(j)) {
        cJSON_Delete(j);
        return M2M_ERR_MALFORMED;
    }
    *out = j;
    return M2M_OK;
}

char *json_print(const cJSON *j) { return cJSON_PrintUnformatted(j); }

bool json_is_int_in(const cJSON *j, int64_t lo, int64_t hi)
{
    if (!cJSON_IsNumber(j))
        return false;
    double d = j->valuedouble;
    if (!isfinite(d) || d != floor(d))
        return false;
    return d >= (double)lo && d <= (double)hi;
}
