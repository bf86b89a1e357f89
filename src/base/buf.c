/* buf.c: growable bounded byte buffer. */
#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

m2m_rc m2m_buf_reserve(struct m2m_buf *b, size_t more)
{
    size_t lim = b->limit ? b->limit : SIZE_MAX / 2;
    if (more > lim || b->len > lim - more)
        return M2M_ERR_LIMIT;
    size_t need = b->len + more + 1; /* room for a NUL terminator */
    if (need <= b->cap)
        return M2M_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL)
        return M2M_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return M2M_OK;
}

m2m_rc m2m_buf_append(struct m2m_buf *b, const void *p, size_t n)
{
    m2m_rc rc = m2m_buf_reserve(b, n);
    if (rc != M2M_OK)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return M2M_OK;
}

m2m_rc m2m_buf_append_str(struct m2m_buf *b, const char *s)
{
    return m2m_buf_append(b, s, strlen(s));
}

m2m_rc m2m_buf_appendf(struct m2m_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return M2M_ERR_INTERNAL;
    m2m_rc rc = m2m_buf_reserve(b, (size_t)n);
    if (rc != M2M_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return M2M_OK;
}

void m2m_buf_consume(struct m2m_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void m2m_buf_reset(struct m2m_buf *b)
{
    b->len = 0;
}

void m2m_buf_wipe(struct m2m_buf *b)
{
    if (b->data != NULL && b->cap > 0)
        explicit_bzero(b->data, b->cap);
}

void m2m_buf_free(struct m2m_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *m2m_buf_steal(struct m2m_buf *b, size_t *len)
{
    if (m2m_buf_reserve(b, 0) != M2M_OK)
        return NULL;
    b->data[b->len] = 0;
    char *s = (char *)b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}
