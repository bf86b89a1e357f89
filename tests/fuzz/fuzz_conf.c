/* fuzz_conf.c: fuzzes conf_parse and the value helpers, checking the parser's output contract. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/conf.h"

static bool key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > CONF_MAX_KEY)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

/* Checks every entry the parser reports and exercises the helpers on its value. A key named
 * "stop" makes the callback fail, to cover the abort path. */
static m2m_rc check_entry(void *ctx, const char *key, const char *value, int line)
{
    int *last_line = ctx;
    if (!key_ok(key) || strlen(value) > CONF_MAX_VALUE || line <= *last_line ||
        line > CONF_MAX_LINES)
        abort();
    *last_line = line;
    bool b;
    long l;
    size_t sz;
    (void)conf_parse_bool(value, &b);
    (void)conf_parse_int(value, -1000, 1000000, &l);
    (void)conf_parse_size(value, &sz);
    if (conf_parse_int(value, -1000, 1000000, &l) && (l < -1000 || l > 1000000))
        abort();
    return strcmp(key, "stop") == 0 ? M2M_ERR_CONFIG : M2M_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[96];
    int last_line = 0;
    memset(err, 'X', sizeof err);
    m2m_rc rc = conf_parse(data, size, check_entry, &last_line, err, sizeof err);
    if (memchr(err, '\0', sizeof err) == NULL)
        abort();
    if ((rc == M2M_OK) != (err[0] == '\0'))
        abort();
    if (rc != M2M_OK && strncmp(err, "line ", 5) != 0)
        abort();
    if (rc != M2M_OK && rc != M2M_ERR_MALFORMED && rc != M2M_ERR_LIMIT && rc != M2M_ERR_CONFIG)
        abort();
    return 0;
}
