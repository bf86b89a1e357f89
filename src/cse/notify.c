/* notify.c: notifications (TS-0004 7.5.1): events produced by writes are turned into
 * m2m:sgn bodies while the tree is locked, and delivered after the commit by a small pool of
 * notifier threads with bounded retries, so a slow or dead receiver never blocks a request.
 * Subscription verification requests (vrq) also run here. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "bind/http/http_client.h"
#include "cse/cse_internal.h"
#include "enc/json.h"

struct task {
    struct task *next;
    struct note *note; /* delivery */
    struct job *job;   /* verification: the parked subscription create */
};

#define DOWN_SLOTS 64
#define DOWN_MS 30000

/* A target that did not answer is marked down for DOWN_MS: further deliveries to it are dropped
 * at once (and logged) instead of tying up a delivery thread for a full timeout each. */
struct down_slot {
    char authority[256];
    int64_t until_ms;
};

struct notifier {
    struct cse *cse;
    pthread_t *threads;
    int n_threads;
    pthread_t verifier; /* verifications never wait behind deliveries */
    bool verifier_started;
    pthread_mutex_t mu;
    pthread_cond_t cv, vcv;
    struct task *head, *tail;   /* deliveries */
    struct task *vhead, *vtail; /* verifications */
    int queued;
    bool stopping;
    unsigned long rqi;
    struct down_slot down[DOWN_SLOTS];
};

static void authority_of(const char *url, char *out, size_t outlen)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, p, n);
    out[n] = 0;
}

static bool target_down(struct notifier *nf, const char *url)
{
    char a[256];
    authority_of(url, a, sizeof a);
    int64_t now = m2m_mono_ms();
    bool down = false;
    pthread_mutex_lock(&nf->mu);
    for (int i = 0; i < DOWN_SLOTS; i++)
        if (nf->down[i].until_ms > now && strcmp(nf->down[i].authority, a) == 0)
            down = true;
    pthread_mutex_unlock(&nf->mu);
    return down;
}

static void mark_target(struct notifier *nf, const char *url, bool up)
{
    char a[256];
    authority_of(url, a, sizeof a);
    int64_t now = m2m_mono_ms();
    pthread_mutex_lock(&nf->mu);
    int slot = -1;
    for (int i = 0; i < DOWN_SLOTS; i++) {
        if (strcmp(nf->down[i].authority, a) == 0) {
            slot = i;
            break;
        }
        if (slot < 0 && nf->down[i].until_ms <= now)
            slot = i;
    }
    if (slot >= 0) {
        if (up) {
            if (strcmp(nf->down[slot].authority, a) == 0)
                nf->down[slot].until_ms = 0;
        } else {
            snprintf(nf->down[slot].authority, sizeof nf->down[slot].authority, "%s", a);
            nf->down[slot].until_ms = now + DOWN_MS;
        }
    }
    pthread_mutex_unlock(&nf->mu);
}

void note_free_list(struct note *n)
{
    while (n) {
        struct note *next = n->next;
        for (size_t i = 0; i < n->n_urls; i++)
            free(n->urls[i]);
        free(n->urls);
        free(n->body);
        free(n);
        n = next;
    }
}

static bool push(struct notifier *nf, struct task *t, bool force)
{
    pthread_mutex_lock(&nf->mu);
    if (nf->stopping || (!force && nf->queued >= nf->cse->cfg.notify_queue)) {
        pthread_mutex_unlock(&nf->mu);
        return false;
    }
    t->next = NULL;
    if (t->job) {
        if (nf->vtail)
            nf->vtail->next = t;
        else
            nf->vhead = t;
        nf->vtail = t;
        pthread_cond_signal(&nf->vcv);
    } else {
        if (nf->tail)
            nf->tail->next = t;
        else
            nf->head = t;
        nf->tail = t;
        nf->queued++;
        pthread_cond_signal(&nf->cv);
    }
    pthread_mutex_unlock(&nf->mu);
    return true;
}

/* One POST with bounded retries. Returns the receiver's RSC (0 when unreachable). */
static m2m_rsc post(struct notifier *nf, const char *url, const char *body, int attempts)
{
    char rqi[64];
    m2m_rsc rsc = RSC_NONE;
    for (int a = 0; a < attempts; a++) {
        pthread_mutex_lock(&nf->mu);
        snprintf(rqi, sizeof rqi, "ntf-%lu", ++nf->rqi);
        bool stopping = nf->stopping;
        pthread_mutex_unlock(&nf->mu);
        if (stopping && a > 0)
            break;
        int status = 0;
        rsc = RSC_NONE;
        int64_t t0 = m2m_mono_ms();
        m2m_rc rc = http_client_post(url, nf->cse->cfg.cse_id, rqi, body, strlen(body),
                                     nf->cse->cfg.notify_timeout_ms, &status, &rsc);
        /* A target that lets a request time out is hung, not flaky: retrying would only hold
         * a delivery thread longer. Fast failures (refused, reset) are retried. */
        if (rc != M2M_OK && m2m_mono_ms() - t0 >= nf->cse->cfg.notify_timeout_ms * 9 / 10)
            return RSC_NONE;
        if (rc == M2M_OK && status >= 200 && status < 300) {
            if (rsc == RSC_NONE)
                rsc = RSC_OK;
            return rsc;
        }
        if (rc == M2M_OK && status >= 400 && status < 500)
            return rsc != RSC_NONE ? rsc : RSC_SUBSCRIPTION_CREATOR_HAS_NO_PRIVILEGE;
        struct timespec ts = {0, (long)(200000000L << (a < 3 ? a : 3))};
        nanosleep(&ts, NULL);
    }
    return RSC_NONE;
}

static void run_verify(struct notifier *nf, struct job *j, struct note *n)
{
    m2m_rsc result = RSC_OK;
    for (size_t i = 0; i < n->n_urls && result == RSC_OK; i++) {
        m2m_rsc r = post(nf, n->urls[i], n->body, 1);
        if (r == RSC_NONE)
            result = RSC_SUBSCRIPTION_VERIFICATION_INITIATION_FAILED;
        else if (r != RSC_OK)
            result = RSC_SUBSCRIPTION_CREATOR_HAS_NO_PRIVILEGE;
    }
    if (result == RSC_OK) {
        /* sur carries the preassigned ri: "/csi/<ri>" */
        cJSON *b = cJSON_Parse(n->body);
        const char *sur = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(b, "m2m:sgn"), "sur"));
        const char *ri = sur ? strrchr(sur, '/') : NULL;
        job_set_verified(j, ri ? ri + 1 : "");
        cJSON_Delete(b);
        cse_job_submit(nf->cse, j);
        return;
    }
    struct m2m_response resp;
    m2m_response_init(&resp);
    m2m_response_error(&resp, result, "subscription verification failed");
    job_finish(j, &resp);
}

static void *verifier_main(void *arg)
{
    struct notifier *nf = arg;
    for (;;) {
        pthread_mutex_lock(&nf->mu);
        while (nf->vhead == NULL && !nf->stopping)
            pthread_cond_wait(&nf->vcv, &nf->mu);
        struct task *t = nf->vhead;
        if (t == NULL) {
            pthread_mutex_unlock(&nf->mu);
            break;
        }
        nf->vhead = t->next;
        if (nf->vhead == NULL)
            nf->vtail = NULL;
        pthread_mutex_unlock(&nf->mu);
        run_verify(nf, t->job, t->note);
        note_free_list(t->note);
        free(t);
    }
    return NULL;
}

static void *notifier_main(void *arg)
{
    struct notifier *nf = arg;
    for (;;) {
        pthread_mutex_lock(&nf->mu);
        while (nf->head == NULL && !nf->stopping)
            pthread_cond_wait(&nf->cv, &nf->mu);
        struct task *t = nf->head;
        if (t == NULL) {
            pthread_mutex_unlock(&nf->mu);
            break;
        }
        nf->head = t->next;
        if (nf->head == NULL)
            nf->tail = NULL;
        nf->queued--;
        pthread_mutex_unlock(&nf->mu);
        {
            for (size_t i = 0; i < t->note->n_urls; i++) {
                const char *url = t->note->urls[i];
                if (target_down(nf, url)) {
                    log_warn("notification to %s dropped: the target is not answering", url);
                    continue;
                }
                m2m_rsc r = post(nf, url, t->note->body, 1 + nf->cse->cfg.notify_retries);
                mark_target(nf, url, r != RSC_NONE);
                if (r == RSC_NONE)
                    log_warn("notification to %s not delivered", url);
            }
        }
        note_free_list(t->note);
        free(t);
    }
    return NULL;
}

m2m_rc notifier_start(struct cse *c, struct notifier **out)
{
    struct notifier *nf = calloc(1, sizeof *nf);
    if (nf == NULL)
        return M2M_ERR_NOMEM;
    nf->cse = c;
    pthread_mutex_init(&nf->mu, NULL);
    pthread_cond_init(&nf->cv, NULL);
    pthread_cond_init(&nf->vcv, NULL);
    if (pthread_create(&nf->verifier, NULL, verifier_main, nf) == 0)
        nf->verifier_started = true;
    nf->threads = calloc((size_t)c->cfg.notify_threads, sizeof *nf->threads);
    if (nf->threads == NULL) {
        free(nf);
        return M2M_ERR_NOMEM;
    }
    for (int i = 0; i < c->cfg.notify_threads; i++) {
        if (pthread_create(&nf->threads[i], NULL, notifier_main, nf) != 0)
            break;
        nf->n_threads++;
    }
    *out = nf;
    return nf->n_threads > 0 && nf->verifier_started ? M2M_OK : M2M_ERR_INTERNAL;
}

void notifier_stop(struct notifier *nf)
{
    if (nf == NULL)
        return;
    pthread_mutex_lock(&nf->mu);
    nf->stopping = true;
    pthread_cond_broadcast(&nf->cv);
    pthread_cond_broadcast(&nf->vcv);
    pthread_mutex_unlock(&nf->mu);
    for (int i = 0; i < nf->n_threads; i++)
        pthread_join(nf->threads[i], NULL);
    if (nf->verifier_started)
        pthread_join(nf->verifier, NULL);
    /* threads drain the queue before they exit; anything left was never started */
    struct task *t = nf->head;
    while (t) {
        struct task *n = t->next;
        note_free_list(t->note);
        free(t);
        t = n;
    }
    free(nf->threads);
    pthread_mutex_destroy(&nf->mu);
    pthread_cond_destroy(&nf->cv);
    pthread_cond_destroy(&nf->vcv);
    free(nf);
}

void notify_deliver(struct cse *c, struct note *list)
{
    while (list) {
        struct note *n = list;
        list = list->next;
        n->next = NULL;
        struct task *t = calloc(1, sizeof *t);
        if (t == NULL || !push(c->notifier, (t->note = n, t), false)) {
            log_warn("notification queue full: a notification was dropped");
            note_free_list(n);
            free(t);
        }
    }
}

void notify_verify_async(struct cse *c, struct job *j, char **urls, size_t n, char *body)
{
    struct note *nt = calloc(1, sizeof *nt);
    struct task *t = calloc(1, sizeof *t);
    if (nt == NULL || t == NULL) {
        free(nt);
        free(t);
        for (size_t i = 0; i < n; i++)
            free(urls[i]);
        free(urls);
        free(body);
        struct m2m_response resp;
        m2m_response_init(&resp);
        m2m_response_error(&resp, RSC_INTERNAL_SERVER_ERROR, "out of memory");
        job_finish(j, &resp);
        return;
    }
    nt->urls = urls;
    nt->n_urls = n;
    nt->body = body;
    t->note = nt;
    t->job = j;
    if (!push(c->notifier, t, true)) {
        note_free_list(nt);
        free(t);
        struct m2m_response resp;
        m2m_response_init(&resp);
        m2m_response_error(&resp, RSC_INTERNAL_SERVER_ERROR, "shutting down");
        job_finish(j, &resp);
    }
}

static m2m_rsc add_url(char ***urls, size_t *n, const char *u)
{
    if (strncmp(u, "http://", 7) != 0)
        return RSC_BAD_REQUEST; /* https and other schemes: not supported by the client yet */
    char **nu = realloc(*urls, (*n + 1) * sizeof *nu);
    if (nu == NULL)
        return RSC_INTERNAL_SERVER_ERROR;
    *urls = nu;
    if ((nu[*n] = strdup(u)) == NULL)
        return RSC_INTERNAL_SERVER_ERROR;
    (*n)++;
    return RSC_OK;
}

/* notificationURI entries are URLs, or IDs of AEs hosted here whose poa gives the URLs. */
m2m_rsc notify_collect_urls(struct rq *q, const cJSON *nu, char ***urls, size_t *n)
{
    *urls = NULL;
    *n = 0;
    m2m_rsc rsc = RSC_OK;
    const cJSON *e;
    cJSON_ArrayForEach(e, nu)
    {
        if (!cJSON_IsString(e)) {
            rsc = RSC_BAD_REQUEST;
            break;
        }
        if (strstr(e->valuestring, "://") != NULL) {
            rsc = add_url(urls, n, e->valuestring);
        } else {
            struct res *ae = cse_resolve_id(q->cse, e->valuestring);
            const cJSON *poa =
                ae && ae->ty == TY_AE ? cJSON_GetObjectItemCaseSensitive(ae->attrs, "poa") : NULL;
            const cJSON *p;
            size_t before = *n;
            cJSON_ArrayForEach(p, poa)
            {
                if (cJSON_IsString(p) && strncmp(p->valuestring, "http://", 7) == 0)
                    rsc = add_url(urls, n, p->valuestring);
            }
            if (*n == before)
                rsc = RSC_BAD_REQUEST;
        }
        if (rsc != RSC_OK)
            break;
    }
    if (rsc == RSC_OK && *n == 0)
        rsc = RSC_BAD_REQUEST;
    if (rsc != RSC_OK) {
        for (size_t i = 0; i < *n; i++)
            free((*urls)[i]);
        free(*urls);
        *urls = NULL;
        *n = 0;
    }
    return rsc;
}

static bool net_selected(const struct res *sub, int net)
{
    const cJSON *enc = cJSON_GetObjectItemCaseSensitive(sub->attrs, "enc");
    const cJSON *nets = cJSON_GetObjectItemCaseSensitive(enc, "net");
    if (!cJSON_IsArray(nets) || cJSON_GetArraySize(nets) == 0)
        return net == 1; /* TS-0004 6.3.5.x: the default is Update_of_Resource */
    const cJSON *e;
    cJSON_ArrayForEach(e, nets)
    {
        if (cJSON_IsNumber(e) && (int)e->valuedouble == net)
            return true;
    }
    return false;
}

void notify_event(struct rq *q, struct res *subject, int net, const struct res *changed)
{
    if (subject->n_subs == 0)
        return; /* the common case: no child walk, no copy on every write */
    cJSON *rep = NULL;
    for (struct res *s = subject->first_child; s; s = s->next_sibling) {
        if (s->ty != TY_SUB || res_expired(s, q->now_us) || !net_selected(s, net))
            continue;
        char **urls;
        size_t n;
        if (notify_collect_urls(q, cJSON_GetObjectItemCaseSensitive(s->attrs, "nu"), &urls, &n) !=
            RSC_OK)
            continue;
        const cJSON *nctj = cJSON_GetObjectItemCaseSensitive(s->attrs, "nct");
        int nct = cJSON_IsNumber(nctj) ? (int)nctj->valuedouble : 1;
        if (nct != 3 && rep == NULL && (rep = res_wrap(changed)) == NULL) {
            for (size_t k = 0; k < n; k++)
                free(urls[k]);
            free(urls);
            break;
        }
        cJSON *body = cJSON_CreateObject();
        cJSON *sgn = cJSON_AddObjectToObject(body, "m2m:sgn");
        cJSON *nev = cJSON_AddObjectToObject(sgn, "nev");
        if (nct == 3) /* TS-0004 notificationContentType 3: the resource ID only */
            cJSON_AddStringToObject(nev, "rep", changed->ri);
        else
            cJSON_AddItemToObject(nev, "rep", cJSON_Duplicate(rep, true));
        cJSON_AddNumberToObject(nev, "net", net);
        char sur[320];
        snprintf(sur, sizeof sur, "%s/%s", q->cse->cfg.cse_id, s->ri);
        cJSON_AddStringToObject(sgn, "sur", sur);
        const char *cr = res_attr_str(s, "cr");
        if (cr)
            cJSON_AddStringToObject(sgn, "cr", cr);
        struct note *nt = calloc(1, sizeof *nt);
        char *b = json_print(body);
        cJSON_Delete(body);
        if (nt == NULL || b == NULL) {
            free(nt);
            free(b);
            for (size_t i = 0; i < n; i++)
                free(urls[i]);
            free(urls);
            continue;
        }
        nt->urls = urls;
        nt->n_urls = n;
        nt->body = b;
        nt->next = q->notes;
        q->notes = nt;
    }
    cJSON_Delete(rep);
}
