/* buf.h: a growable byte buffer with a hard capacity limit. Used for all outgoing wire data. */
#ifndef M2M_BASE_BUF_H
#define M2M_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"

struct m2m_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t limit; /* 0 = no limit beyond SIZE_MAX/2 */
};

#define M2M_BUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

/* Ensures room for `more` further bytes. M2M_ERR_LIMIT past buf->limit. */
M2M_WARN_UNUSED m2m_rc m2m_buf_reserve(struct m2m_buf *b, size_t more);
M2M_WARN_UNUSED m2m_rc m2m_buf_append(struct m2m_buf *b, const void *p, size_t n);
M2M_WARN_UNUSED m2m_rc m2m_buf_append_str(struct m2m_buf *b, const char *s);
M2M_WARN_UNUSED m2m_rc m2m_buf_appendf(struct m2m_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Removes the first n bytes (n <= len). */
void m2m_buf_consume(struct m2m_buf *b, size_t n);
void m2m_buf_reset(struct m2m_buf *b);
/* Frees storage; the struct may be reused after. */
void m2m_buf_free(struct m2m_buf *b);
/* Overwrites the whole capacity with zeros (explicit_bzero): for buffers that held secrets. */
void m2m_buf_wipe(struct m2m_buf *b);
/* Hands the storage to the caller as a NUL-terminated string (len excludes the NUL); the buffer is
 * left empty. NULL on allocation failure. */
char *m2m_buf_steal(struct m2m_buf *b, size_t *len);

#endif
