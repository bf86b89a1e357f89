/* secret.c: wipe-on-free secrets and constant-time comparison. */
#include "base/secret.h"

#include <stdlib.h>
#include <string.h>

void m2m_wipe(void *p, size_t len)
{
    if (p != NULL && len > 0)
        explicit_bzero(p, len);
}

m2m_rc m2m_secret_new(const uint8_t *data, size_t len, struct m2m_secret **out)
{
    struct m2m_secret *s = calloc(1, sizeof *s);
    if (s == NULL)
        return M2M_ERR_NOMEM;
    s->data = malloc(len ? len : 1);
    if (s->data == NULL) {
        free(s);
        return M2M_ERR_NOMEM;
    }
    if (len)
        memcpy(s->data, data, len);
    s->len = len;
    *out = s;
    return M2M_OK;
}

void m2m_secret_free(struct m2m_secret *s)
{
    if (s == NULL)
        return;
    m2m_wipe(s->data, s->len);
    free(s->data);
    free(s);
}

bool m2m_ct_eq(const void *a, const void *b, size_t len)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < len; i++)
        d |= (uint8_t)(x[i] ^ y[i]);
    return d == 0;
}

bool m2m_secret_eq(const struct m2m_secret *a, const uint8_t *b, size_t blen)
{
    if (a == NULL || b == NULL || a->len != blen)
        return false;
    return m2m_ct_eq(a->data, b, blen);
}
