/* fuzz_keyfile.c: keyfile_parse under both rules on arbitrary bytes, differentially against the
 * parsers it replaced (cred_cmd.c --key-hex and client_cmd.c --psk-hex/--psk-file, restated
 * here over a NUL-terminated copy): same verdict and same key on every input without a NUL; an
 * input holding a NUL is always refused. */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keyfile.h"

static int ref_hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* The replaced behaviour: trim (client only), even count, min..64 bytes, hex digits only. */
static bool ref_parse(const char *s, bool trim, size_t min, uint8_t *key, size_t *len)
{
    if (trim)
        while (isspace((unsigned char)*s))
            s++;
    size_t n = strlen(s);
    while (trim && n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0 || n % 2 != 0 || n / 2 > KEYFILE_KEY_MAX || n / 2 < min)
        return false;
    for (size_t i = 0; i < n; i += 2) {
        int hi = ref_hexval((unsigned char)s[i]), lo = ref_hexval((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        key[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return true;
}

static void check(const uint8_t *data, size_t size, const char *str,
                  const struct keyfile_rule *rule)
{
    uint8_t key[KEYFILE_KEY_MAX], ref[KEYFILE_KEY_MAX];
    size_t n = 0, rn = 0;
    m2m_rc rc = keyfile_parse(data, size, rule, key, sizeof key, &n);
    if (rc != M2M_OK && rc != M2M_ERR_MALFORMED)
        abort();
    if (rc == M2M_OK && (n < rule->min || n > rule->max))
        abort();
    if (rc != M2M_OK) {
        for (size_t i = 0; i < sizeof key; i++)
            if (key[i] != 0 || n != 0)
                abort(); /* wiped on failure */
    }
    if (memchr(data, 0, size) != NULL) {
        if (rc == M2M_OK)
            abort();
        return;
    }
    bool ok = ref_parse(str, rule->trim, rule->min, ref, &rn);
    if (ok != (rc == M2M_OK) || (ok && (rn != n || memcmp(ref, key, n) != 0)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4 * KEYFILE_FILE_MAX)
        return 0;
    char *str = malloc(size + 1);
    if (str == NULL)
        return 0;
    memcpy(str, data, size);
    str[size] = '\0';
    check(data, size, str, &KEYFILE_RULE_CRED);
    check(data, size, str, &KEYFILE_RULE_CLIENT);
    free(str);
    return 0;
}
