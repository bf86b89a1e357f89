/* prim.c: lifecycle of request/response primitives and error bodies (m2m:dbg). */
#include "model/prim.h"

#include "base/secret.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enc/json.h"

void m2m_filter_init(struct m2m_filter *f)
{
    memset(f, 0, sizeof *f);
    f->stb = f->sts = -1;
    f->lim = f->ofst = f->lvl = -1;
}

void m2m_request_init(struct m2m_request *r)
{
    memset(r, 0, sizeof *r);
    r->rcn = -1;
    m2m_filter_init(&r->fc);
}

void m2m_request_clear(struct m2m_request *r)
{
    if (r == NULL)
        return;
    free(r->to);
    free(r->fr);
    free(r->rqi);
    free(r->rvi);
    free(r->rtu);
    free(r->vsi);
    free(r->pc);
    for (size_t i = 0; i < r->fc.n_lbl; i++)
        free(r->fc.lbl[i]);
    m2m_request_init(r);
}

void m2m_response_init(struct m2m_response *r)
{
    memset(r, 0, sizeof *r);
}

void m2m_response_clear(struct m2m_response *r)
{
    if (r == NULL)
        return;
    free(r->rqi);
    free(r->rvi);
    if (r->sensitive && r->body != NULL)
        m2m_wipe(r->body, r->body_len);
    free(r->body);
    free(r->content_location);
    m2m_response_init(r);
}

void m2m_response_error(struct m2m_response *r, m2m_rsc rsc, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Messages may quote peer bytes (an originator, an identifier): keep the body valid UTF-8
     * JSON by replacing anything outside printable ASCII (RFC 8259 8.1). */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    r->rsc = rsc;
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
    r->content_ty = 0;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return;
    if (cJSON_AddStringToObject(o, "m2m:dbg", msg) != NULL) {
        r->body = json_print(o);
        if (r->body)
            r->body_len = strlen(r->body);
    }
    cJSON_Delete(o);
}
