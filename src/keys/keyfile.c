/* keyfile.c: pre-shared keys as hex text (argument or key file): the bounded parser and reader. */
#include "keys/keyfile.h"

#include <stdio.h>

#include "base/secret.h"

const struct keyfile_rule KEYFILE_RULE_CRED = {.min = 16, .max = 64, .trim = false};
const struct keyfile_rule KEYFILE_RULE_CLIENT = {.min = 1, .max = 64, .trim = true};

static int hexval(uint8_t ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* isspace() of the C locale, without depending on the process locale. */
static bool is_space(uint8_t ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

m2m_rc keyfile_parse(const uint8_t *in, size_t len, const struct keyfile_rule *rule, uint8_t *key,
                     size_t cap, size_t *keylen)
{
    m2m_rc rc = M2M_OK;
    size_t a = 0, b = len, n = 0;
    *keylen = 0;
    ENSURE(rule != NULL && rule->min >= 1 && rule->min <= rule->max &&
               rule->max <= KEYFILE_KEY_MAX && cap >= rule->max && key != NULL,
           M2M_ERR_INTERNAL);
    ENSURE(in != NULL || len == 0, M2M_ERR_MALFORMED);
    if (rule->trim) {
        while (a < b && is_space(in[a]))
            a++;
        while (b > a && is_space(in[b - 1]))
            b--;
    }
    n = b - a;
    ENSURE(n > 0 && n % 2 == 0 && n / 2 >= rule->min && n / 2 <= rule->max, M2M_ERR_MALFORMED);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(in[a + 2 * i]), lo = hexval(in[a + 2 * i + 1]);
        ENSURE(hi >= 0 && lo >= 0, M2M_ERR_MALFORMED);
        key[i] = (uint8_t)(hi << 4 | lo);
    }
    *keylen = n / 2;
out:
    if (rc != M2M_OK && key != NULL)
        m2m_wipe(key, cap);
    return rc;
}

m2m_rc keyfile_read(const char *path, const struct keyfile_rule *rule, uint8_t *key, size_t cap,
                    size_t *keylen)
{
    m2m_rc rc = M2M_OK;
    uint8_t buf[KEYFILE_FILE_MAX + 1]; /* one byte more tells a file that is too long */
    size_t n = 0;
    FILE *f = NULL;
    *keylen = 0;
    ENSURE(path != NULL && (f = fopen(path, "rb")) != NULL, M2M_ERR_IO);
    n = fread(buf, 1, sizeof buf, f);
    ENSURE(!ferror(f), M2M_ERR_IO);
    ENSURE(n <= KEYFILE_FILE_MAX, M2M_ERR_LIMIT);
    TRY(keyfile_parse(buf, n, rule, key, cap, keylen));
out:
    if (f)
        fclose(f);
    m2m_wipe(buf, sizeof buf);
    if (rc != M2M_OK && key != NULL && cap > 0)
        m2m_wipe(key, cap);
    return rc;
}
