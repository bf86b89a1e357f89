/* secret.h: a wipe-on-free container for key material. Compared in constant time, never printed
 * except as "<secret:LEN>". */
#ifndef M2M_BASE_SECRET_H
#define M2M_BASE_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"

struct m2m_secret {
    uint8_t *data;
    size_t len;
};

/* Copies len bytes into a new secret. */
M2M_WARN_UNUSED m2m_rc m2m_secret_new(const uint8_t *data, size_t len, struct m2m_secret **out);
/* Wipes and frees; NULL is a no-op. */
void m2m_secret_free(struct m2m_secret *s);
/* Constant-time equality (length is not secret). */
bool m2m_secret_eq(const struct m2m_secret *a, const uint8_t *b, size_t blen);
/* Constant-time comparison of two buffers of the same length. */
bool m2m_ct_eq(const void *a, const void *b, size_t len);
/* Wipes memory in a way the compiler may not elide. */
void m2m_wipe(void *p, size_t len);

#endif
