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

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* RFC 8259 6: number = [ "-" ] int [ "." 1*DIGIT ] [ e [ "+" / "-" ] 1*DIGIT ], where int is "0"
 * or a non-zero digit and more digits. Returns the length of the number at in[0..len), or 0 when
 * it is not well formed. cJSON's own reader hands any run of [0-9+-.eE] to strtod, so "01", "1."
 * or "1.e5" would pass through it. */
static size_t number_len(const uint8_t *in, size_t len)
{
    size_t i = (in[0] == '-'), start;
    if (i < len && in[i] == '0')
        i++;
    else if (i < len && in[i] >= '1' && in[i] <= '9')
        while (i < len && is_digit(in[i]))
            i++;
    else
        return 0;
    if (i < len && in[i] == '.') {
        for (start = ++i; i < len && is_digit(in[i]); i++)
            ;
        if (i == start)
            return 0;
    }
    if (i < len && (in[i] == 'e' || in[i] == 'E')) {
        i++;
        if (i < len && (in[i] == '+' || in[i] == '-'))
            i++;
        for (start = i; i < len && is_digit(in[i]); i++)
            ;
        if (i == start)
            return 0;
    }
    /* whatever cJSON would still read as part of the number makes it malformed */
    if (i < len && (is_digit(in[i]) || in[i] == '.' || in[i] == 'e' || in[i] == 'E' ||
                    in[i] == '+' || in[i] == '-'))
        return 0;
    return i;
}

static int hex_val(uint8_t c)
{
    if (is_digit(c))
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/* RFC 8259 7: checks the string whose opening quote is at in[start] and sets *end to the index of
 * its closing quote. Control characters must be escaped; an escape is one of the eight letters or
 * 'u' with four hex digits. cJSON 1.7 decodes "\u0000" and bad hex ("\uzzzz") alike to a NUL
 * that silently truncates the string, so both are refused here. */
static m2m_rc scan_string(const uint8_t *in, size_t len, size_t start, size_t *end)
{
    size_t i = start + 1;
    for (; i < len && in[i] != '"'; i++) {
        if (in[i] < 0x20)
            return M2M_ERR_MALFORMED;
        if (in[i] != '\\')
            continue;
        if (++i == len)
            break;
        if (in[i] == 'u') {
            if (len - i < 5)
                return M2M_ERR_MALFORMED;
            int cp = 0;
            for (size_t k = 1; k <= 4; k++) {
                int v = hex_val(in[i + k]);
                if (v < 0)
                    return M2M_ERR_MALFORMED;
                cp = cp << 4 | v;
            }
            if (cp == 0)
                return M2M_ERR_MALFORMED;
            i += 4;
        } else if (memchr("\"\\/bfnrt", in[i], 8) == NULL) {
            return M2M_ERR_MALFORMED;
        }
    }
    if (i >= len)
        return M2M_ERR_MALFORMED; /* unterminated */
    *end = i;
    return M2M_OK;
}

/* Lexical pre-scan of what cJSON does not check: nesting depth, strings (above), whitespace other
 * than the four of RFC 8259 2 (cJSON skips every byte <= 0x20), and the number grammar. */
static m2m_rc prescan(const uint8_t *in, size_t len, int max_depth)
{
    int depth = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = in[i];
        if (c == '"') {
            RETURN_IF_ERR(scan_string(in, len, i, &i));
        } else if (c == '-' || is_digit(c)) {
            size_t n = number_len(in + i, len - i);
            if (n == 0)
                return M2M_ERR_MALFORMED;
            i += n - 1;
        } else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            return M2M_ERR_MALFORMED;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth)
                return M2M_ERR_LIMIT;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return M2M_OK;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* RFC 8259 4 leaves duplicate names undefined; we refuse them. Sorting the names keeps the check
 * O(n log n): a pairwise scan let a 1 MiB object with 100k members cost tens of seconds. */
static m2m_rc object_dup_check(const cJSON *o)
{
    const char *small[16], **names = small;
    size_t n = 0, k = 0;
    for (const cJSON *c = o->child; c != NULL; c = c->next)
        n++;
    if (n < 2)
        return M2M_OK;
    if (n > M2M_ARRAY_LEN(small) && (names = malloc(n * sizeof *names)) == NULL)
        return M2M_ERR_NOMEM;
    for (const cJSON *c = o->child; c != NULL; c = c->next)
        names[k++] = c->string != NULL ? c->string : "";
    qsort(names, n, sizeof *names, name_cmp);
    m2m_rc rc = M2M_OK;
    for (k = 1; k < n && rc == M2M_OK; k++)
        if (strcmp(names[k - 1], names[k]) == 0)
            rc = M2M_ERR_MALFORMED;
    if (names != small)
        free(names);
    return rc;
}

/* Checks every object of the tree; recursion is bounded by the pre-scan's depth limit. */
static m2m_rc check_dup_names(const cJSON *j)
{
    if (cJSON_IsObject(j))
        RETURN_IF_ERR(object_dup_check(j));
    for (const cJSON *c = j->child; c != NULL; c = c->next)
        if (cJSON_IsObject(c) || cJSON_IsArray(c))
            RETURN_IF_ERR(check_dup_names(c));
    return M2M_OK;
}

m2m_rc json_parse(const uint8_t *in, size_t len, int max_depth, cJSON **out)
{
    *out = NULL;
    if (in == NULL || len == 0)
        return M2M_ERR_MALFORMED;
    m2m_rc rc = prescan(in, len, max_depth);
    if (rc != M2M_OK)
        return rc;
    if (!json_utf8_valid(in, len))
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
    rc = check_dup_names(j);
    if (rc != M2M_OK) {
        cJSON_Delete(j);
        return rc;
    }
    *out = j;
    return M2M_OK;
}

char *json_print(const cJSON *j)
{
    return cJSON_PrintUnformatted(j);
}

bool json_is_int_in(const cJSON *j, int64_t lo, int64_t hi)
{
    if (!cJSON_IsNumber(j))
        return false;
    double d = j->valuedouble;
    /* compare as int64: (double)lo and (double)hi round above 2^53; (double)INT64_MAX is 2^63 */
    if (!isfinite(d) || d != floor(d) || d < -0x1p63 || d >= 0x1p63)
        return false;
    int64_t v = (int64_t)d;
    return v >= lo && v <= hi;
}
