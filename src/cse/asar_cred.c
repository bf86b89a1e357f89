/* asar_cred.c: G5 step 6 (TS-0003 8.3.2.1): after the MEF provisioned a key, the Credential-ID and
 * the enrolee's AE-ID stem are added to the <serviceSubscribedAppRule> resources, through internal
 * UPDATE requests of the admin originator on the writer (so durable and ordered like any write). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "cse/audit.h"
#include "cse/cse_internal.h"
#include "enc/json.h"

#define ASAR_MAX_RULES 64 /* rules updated per call; more are left alone and logged */

/* '*' matches any run of characters, as the registration check (register.c) reads the lists. */
static bool pattern_match(const char *pat, const char *s)
{
    for (; *pat != '*'; pat++, s++) {
        if (*pat == 0)
            return *s == 0;
        if (*s != *pat)
            return false;
    }
    for (const char *p = s;; p++) {
        if (pattern_match(pat + 1, p))
            return true;
        if (*p == 0)
            return false;
    }
}

static bool admits(const cJSON *list, const char *value)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        if (cJSON_IsString(e) && pattern_match(e->valuestring, value))
            return true;
    }
    return false;
}

/* A copy of list (an array of strings, or absent) with value appended. */
static cJSON *list_plus(const cJSON *list, const char *value)
{
    cJSON *out = cJSON_IsArray(list) ? cJSON_Duplicate(list, true) : cJSON_CreateArray();
    cJSON *v = cJSON_CreateString(value);
    if (out == NULL || v == NULL || !cJSON_AddItemToArray(out, v)) {
        cJSON_Delete(out);
        cJSON_Delete(v);
        return NULL;
    }
    return out;
}

/* The UPDATE content for rule r, or NULL (*err set on allocation failure) when r admits both. */
static char *update_body(const struct res *r, const char *cred_id, const char *stem, bool *err)
{
    const cJSON *apci = cJSON_GetObjectItemCaseSensitive(r->attrs, "apci");
    const cJSON *aae = cJSON_GetObjectItemCaseSensitive(r->attrs, "aae");
    bool add_cred = !admits(apci, cred_id);
    bool add_stem = stem[0] != 0 && !admits(aae, stem);
    if (!add_cred && !add_stem)
        return NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *a = cJSON_AddObjectToObject(root, "m2m:asar");
    bool ok = a != NULL;
    if (ok && add_cred)
        ok = cJSON_AddItemToObject(a, "apci", list_plus(apci, cred_id));
    if (ok && add_stem)
        ok = cJSON_AddItemToObject(a, "aae", list_plus(aae, stem));
    char *s = ok ? json_print(root) : NULL;
    cJSON_Delete(root);
    *err = s == NULL;
    return s;
}

struct pending {
    char ri[96];
    char *body;
};

/* Collects the rules to change under the read lock. */
static m2m_rc collect(struct cse *c, const char *cred_id, const char *stem, struct pending *p,
                      int *n)
{
    m2m_rc rc = M2M_OK;
    int64_t now = m2m_now_us();
    *n = 0;
    pthread_rwlock_rdlock(&c->lock);
    for (struct res *r = c->tree.root->first_child; r != NULL; r = r->next_sibling) {
        if (r->ty != TY_ASAR || res_expired(r, now))
            continue;
        bool err = false;
        char *body = update_body(r, cred_id, stem, &err);
        ENSURE(!err, M2M_ERR_NOMEM);
        if (body == NULL)
            continue;
        if (*n == ASAR_MAX_RULES) {
            log_warn("mef: more than %d registration rules; %s left unchanged", ASAR_MAX_RULES,
                     r->ri);
            free(body);
            continue;
        }
        snprintf(p[*n].ri, sizeof p[*n].ri, "%s", r->ri);
        p[(*n)++].body = body;
    }
out:
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

/* One internal UPDATE in flight; freed by the last of the waiter and the reply (refs). */
struct call {
    struct m2m_request req;
    struct cse *cse;
    char cred_id[M2M_ID_MAX];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    m2m_rsc rsc;
    atomic_int refs;
};

static void call_unref(struct call *k)
{
    if (atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    m2m_request_clear(&k->req);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    free(k);
}

static void on_reply(void *ctx, struct m2m_response *resp)
{
    struct call *k = ctx;
    struct cse *c = k->cse;
    struct audit_event e = {0,        "asar-mef-update", c->admin_abs, true,
                            "UPDATE", k->req.to,         NULL,         NULL,
                            -1,       k->cred_id,        NULL,         (int)resp->rsc};
    audit_write(c->audit, &e);
    if (resp->rsc != RSC_UPDATED)
        log_warn("mef: registration rule %s not updated for %s: rsc %d", k->req.to, k->cred_id,
                 (int)resp->rsc);
    pthread_mutex_lock(&k->mu);
    k->done = true;
    k->rsc = resp->rsc;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    call_unref(k);
}

/* Builds the request: from the admin originator, as if on a trusted listener (the CSE itself
 * acts; the system ACP grants the admin every operation). Takes body. */
static struct call *call_new(struct cse *c, const char *ri, char *body, const char *cred_id)
{
    static atomic_uint seq;
    struct call *k = calloc(1, sizeof *k);
    if (k == NULL) {
        free(body);
        return NULL;
    }
    m2m_request_init(&k->req);
    k->cse = c;
    snprintf(k->cred_id, sizeof k->cred_id, "%s", cred_id);
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    atomic_init(&k->refs, 2);
    char rqi[48];
    snprintf(rqi, sizeof rqi, "m2msec-mef-asar-%u", atomic_fetch_add(&seq, 1));
    k->req.op = M2M_OP_UPDATE;
    k->req.to = strdup(ri);
    k->req.fr = strdup(c->cfg.admin);
    k->req.rqi = strdup(rqi);
    k->req.rcn = RCN_NOTHING;
    k->req.pc = (uint8_t *)body;
    k->req.pc_len = strlen(body);
    k->req.content_format = 1;
    k->req.sec.kind = M2M_SEC_NONE;
    k->req.sec.trusted_listener = true;
    k->req.t_recv_us = m2m_now_us();
    if (k->req.to == NULL || k->req.fr == NULL || k->req.rqi == NULL) {
        atomic_store(&k->refs, 1);
        call_unref(k);
        return NULL;
    }
    return k;
}

/* Waits for the reply until the absolute deadline; drops the waiter's reference. */
static m2m_rc call_wait(struct call *k, const struct timespec *deadline)
{
    m2m_rc rc = M2M_OK;
    pthread_mutex_lock(&k->mu);
    while (!k->done)
        if (pthread_cond_timedwait(&k->cv, &k->mu, deadline) != 0)
            break;
    if (!k->done)
        rc = M2M_ERR_AGAIN;
    else if (k->rsc != RSC_UPDATED)
        rc = M2M_ERR_DENIED;
    pthread_mutex_unlock(&k->mu);
    call_unref(k);
    return rc;
}

/* The AE-ID stem of an enrolee ID ("Cdev1", "/id-in/Cdev1", "//sp/id-in/Cdev1" -> "Cdev1"); ""
 * when it names a CSE ([INTERP]: aae lists AE-ID stems, a CSE registers through <remoteCSE>). */
static void enrolee_stem(const char *id, char *out, size_t cap)
{
    const char *last = strrchr(id, '/');
    last = last ? last + 1 : id;
    if (last[0] == 'C' || last[0] == 'S')
        snprintf(out, cap, "%s", last);
    else
        out[0] = 0;
}

m2m_rc cse_asar_add_credential(struct cse *c, const char *cred_id, const char *enrolee_id,
                               int timeout_ms)
{
    static pthread_mutex_t serial = PTHREAD_MUTEX_INITIALIZER;
    struct pending p[ASAR_MAX_RULES];
    int n = 0, i = 0;
    char stem[M2M_ID_MAX];
    m2m_rc rc = M2M_OK;
    if (cred_id == NULL || enrolee_id == NULL || cred_id[0] == 0 ||
        strnlen(cred_id, M2M_ID_MAX) == M2M_ID_MAX || strnlen(enrolee_id, M2M_ID_MAX) == M2M_ID_MAX)
        return M2M_ERR_MALFORMED;
    enrolee_stem(enrolee_id, stem, sizeof stem);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    /* one caller at a time: each reads the lists the previous one committed */
    pthread_mutex_lock(&serial);
    TRY(collect(c, cred_id, stem, p, &n));
    for (i = 0; i < n; i++) {
        struct call *k = call_new(c, p[i].ri, p[i].body, cred_id);
        p[i].body = NULL;
        ENSURE_NONNULL(k);
        log_info("mef: adding %s%s%s to registration rule %s", cred_id, stem[0] ? " and " : "",
                 stem, p[i].ri);
        cse_submit(c, &k->req, (struct m2m_reply){on_reply, k});
        m2m_rc r = call_wait(k, &deadline);
        if (r != M2M_OK && rc == M2M_OK)
            rc = r;
    }
out:
    for (; i < n; i++)
        free(p[i].body);
    pthread_mutex_unlock(&serial);
    return rc;
}
