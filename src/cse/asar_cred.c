/* asar_cred.c: G5 step 6 (TS-0003 8.3.2.1): after the MEF provisioned a key, the Credential-ID and
 * the enrolee's AE-ID stem are added to the <serviceSubscribedAppRule>s the operator designated
 * (mef.asar_rules), and the Credential-ID is taken out again when the key is dropped, through
 * internal UPDATE requests of the admin originator on the writer (durable and ordered like any
 * write). */
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

/* A copy of list (an array) without the strings equal to value; *n_removed counts them. The
 * result may be empty: an empty apci admits no credential (register.c), whereas an absent one
 * would admit registrations without a security association, so the attribute is never deleted. */
static cJSON *list_minus(const cJSON *list, const char *value, int *n_removed)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *e;
    *n_removed = 0;
    cJSON_ArrayForEach(e, list)
    {
        if (out == NULL)
            break;
        if (cJSON_IsString(e) && strcmp(e->valuestring, value) == 0) {
            (*n_removed)++;
            continue;
        }
        cJSON *d = cJSON_Duplicate(e, true);
        if (d == NULL || !cJSON_AddItemToArray(out, d)) {
            cJSON_Delete(d);
            cJSON_Delete(out);
            out = NULL;
        }
    }
    return out;
}

/* Wraps the attributes into {"m2m:asar": attrs} and prints it; takes attrs. NULL on NOMEM. */
static char *asar_body(cJSON *attrs)
{
    cJSON *root = cJSON_CreateObject();
    if (root == NULL || attrs == NULL || !cJSON_AddItemToObject(root, "m2m:asar", attrs)) {
        cJSON_Delete(root);
        cJSON_Delete(attrs);
        return NULL;
    }
    char *s = json_print(root);
    cJSON_Delete(root);
    return s;
}

/* The UPDATE content adding cred_id and stem to rule r, or NULL (*err set on allocation failure)
 * when r admits both already. */
static char *add_body(const struct res *r, const char *cred_id, const char *stem, bool *err)
{
    const cJSON *apci = cJSON_GetObjectItemCaseSensitive(r->attrs, "apci");
    const cJSON *aae = cJSON_GetObjectItemCaseSensitive(r->attrs, "aae");
    bool add_cred = !admits(apci, cred_id);
    bool add_stem = stem[0] != 0 && !admits(aae, stem);
    *err = false;
    if (!add_cred && !add_stem)
        return NULL;
    cJSON *a = cJSON_CreateObject();
    bool ok = a != NULL;
    if (ok && add_cred)
        ok = cJSON_AddItemToObject(a, "apci", list_plus(apci, cred_id));
    if (ok && add_stem)
        ok = cJSON_AddItemToObject(a, "aae", list_plus(aae, stem));
    if (!ok)
        cJSON_Delete(a);
    char *s = ok ? asar_body(a) : NULL;
    *err = s == NULL;
    return s;
}

/* The UPDATE content removing every apci entry equal to cred_id from rule r, or NULL (*err set on
 * allocation failure) when it has none. Patterns are left alone: only the exact Credential-ID
 * step 6 added is ours to take back. The stem stays in aae (see cse.h). */
static char *remove_body(const struct res *r, const char *cred_id, const char *stem, bool *err)
{
    const cJSON *apci = cJSON_GetObjectItemCaseSensitive(r->attrs, "apci");
    int n = 0;
    *err = false;
    if (!cJSON_IsArray(apci))
        return NULL;
    cJSON *rest = list_minus(apci, cred_id, &n);
    if (rest == NULL || n == 0) {
        *err = rest == NULL;
        cJSON_Delete(rest);
        return NULL;
    }
    cJSON *a = cJSON_CreateObject();
    if (a == NULL || !cJSON_AddItemToObject(a, "apci", rest)) {
        cJSON_Delete(a);
        cJSON_Delete(rest);
        *err = true;
        return NULL;
    }
    char *s = asar_body(a);
    *err = s == NULL;
    return s;
}

typedef char *(*body_fn)(const struct res *r, const char *cred_id, const char *stem, bool *err);

/* True when rn is one of the comma-separated names in list (config.c checked its syntax). */
static bool designated(const char *list, const char *rn)
{
    size_t rn_len = strlen(rn);
    for (const char *p = list; *p != 0;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        if (n > 0 && n == rn_len && memcmp(p, rn, n) == 0)
            return true;
        p += n;
    }
    return false;
}

struct pending {
    char ri[96];
    char *body;
};

/* Collects the designated rules to change under the read lock. */
static m2m_rc collect(struct cse *c, body_fn make, const char *cred_id, const char *stem,
                      struct pending *p, int *n)
{
    m2m_rc rc = M2M_OK;
    int64_t now = m2m_now_us();
    *n = 0;
    pthread_rwlock_rdlock(&c->lock);
    for (struct res *r = c->tree.root->first_child; r != NULL; r = r->next_sibling) {
        if (r->ty != TY_ASAR || res_expired(r, now) || r->rn == NULL ||
            !designated(c->cfg.mef.asar_rules, r->rn))
            continue;
        bool err = false;
        char *body = make(r, cred_id, stem, &err);
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
    const char *what; /* audit event name */
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
    struct audit_event e = {0,    k->what, c->admin_abs, true,       "UPDATE", k->req.to,
                            NULL, NULL,    -1,           k->cred_id, NULL,     (int)resp->rsc};
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
static struct call *call_new(struct cse *c, const char *ri, char *body, const char *cred_id,
                             const char *what)
{
    static atomic_uint seq;
    struct call *k = calloc(1, sizeof *k);
    if (k == NULL) {
        free(body);
        return NULL;
    }
    m2m_request_init(&k->req);
    k->cse = c;
    k->what = what;
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

/* Applies make to every designated rule, one UPDATE at a time, each waited for. */
static m2m_rc apply(struct cse *c, body_fn make, const char *what, const char *cred_id,
                    const char *stem, int timeout_ms)
{
    static pthread_mutex_t serial = PTHREAD_MUTEX_INITIALIZER;
    struct pending p[ASAR_MAX_RULES];
    int n = 0, i = 0;
    m2m_rc rc = M2M_OK;
    if (c->cfg.mef.asar_rules[0] == 0 || !c->cfg.mef.update_asar)
        return M2M_OK; /* step 6 is off */
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
    TRY(collect(c, make, cred_id, stem, p, &n));
    for (i = 0; i < n; i++) {
        struct call *k = call_new(c, p[i].ri, p[i].body, cred_id, what);
        p[i].body = NULL;
        ENSURE_NONNULL(k);
        if (make == add_body)
            log_info("mef: adding %s%s%s to registration rule %s", cred_id, stem[0] ? " and " : "",
                     stem, p[i].ri);
        else
            log_info("mef: removing %s from registration rule %s", cred_id, p[i].ri);
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

static bool arg_ok(const char *s)
{
    return s != NULL && s[0] != 0 && strnlen(s, M2M_ID_MAX) < M2M_ID_MAX;
}

m2m_rc cse_asar_add_credential(struct cse *c, const char *cred_id, const char *enrolee_id,
                               int timeout_ms)
{
    char stem[M2M_ID_MAX];
    if (!arg_ok(cred_id) || !arg_ok(enrolee_id))
        return M2M_ERR_MALFORMED;
    enrolee_stem(enrolee_id, stem, sizeof stem);
    return apply(c, add_body, "asar-mef-update", cred_id, stem, timeout_ms);
}

m2m_rc cse_asar_remove_credential(struct cse *c, const char *cred_id, int timeout_ms)
{
    if (!arg_ok(cred_id))
        return M2M_ERR_MALFORMED;
    return apply(c, remove_body, "asar-mef-remove", cred_id, "", timeout_ms);
}
