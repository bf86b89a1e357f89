/* cse_internal.h: the CSE's shared state and the per-request context used by the pipeline,
 * the resource handlers, discovery, groups and notifications. */
#ifndef M2M_CSE_INTERNAL_H
#define M2M_CSE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "acp/acp.h"
#include "cse/config.h"
#include "cse/cse.h"
#include "cse/tree.h"
#include "model/prim.h"
#include "model/restype.h"
#include "store/store.h"

#define SYSTEM_ACP_RI "acpSystem"
#define DEFAULT_ASAR_RI "asarDefault"

struct job;
struct notifier;

struct cse {
    struct cse_config cfg;
    char sp_abs[160];  /* "//m2msec.example.com" */
    char cse_abs[256]; /* "//m2msec.example.com/id-in" */
    char admin_abs[320];
    char base_ri[64]; /* CSEBase ri: cse_id without '/' */
    struct acp_host host;
    pthread_rwlock_t lock; /* guards tree */
    struct tree tree;
    struct store *store; /* owned by the writer thread after start */
    int64_t last_ct_us;  /* strictly increasing creation times (writer only) */
    /* writer queue */
    pthread_t writer;
    pthread_mutex_t wq_mu;
    pthread_cond_t wq_cv;
    struct job *wq_head, *wq_tail;
    bool stopping;
    bool writer_started;
    struct notifier *notifier;
    struct audit_log *audit;          /* NULL when audit.path = off */
    struct location_table *locations; /* NULL when no location.file */
    struct ratelimit *rate;           /* NULL when unlimited */
    atomic_uint_fast64_t ri_counter;
};

/* A notification produced while processing a write, delivered after the commit. */
struct note {
    struct note *next;
    char **urls;
    size_t n_urls;
    char *body;
    int kind; /* 0 event, 1 verification */
};

/* Per-request processing context. */
struct rq {
    struct cse *cse;
    struct m2m_request *req;
    struct m2m_response *resp;
    char orig_abs[M2M_ID_MAX + 160];
    enum acp_orig_kind orig_kind;
    bool authn;
    int64_t now_us;
    struct acp_time t;
    bool in_writer; /* mutations allowed (writer thread, tree write-locked) */
    bool verified;  /* subscription verification done */
    bool parked;    /* the job waits for verification; no response yet */
    const char *preset_ri;
    struct note *notes; /* to deliver after commit */
    struct job *job;    /* owning job when in the writer */
    int depth;          /* fan-out recursion */
};

/* Target resolution result. */
enum virt { VIRT_NONE = 0, VIRT_LA, VIRT_OL, VIRT_FOPT, VIRT_EXPLAIN };
struct target {
    struct res *r;
    enum virt virt;
    char rest[1024]; /* for fopt: path below the members */
};

/* pipeline.c */
void cse_pipeline(struct rq *q);
bool cse_is_mutating(const struct m2m_request *req);
m2m_rsc cse_resolve(struct rq *q, const char *to, struct target *t, char *why, size_t whylen);
struct res *cse_resolve_id(struct cse *c, const char *id);
bool res_expired(const struct res *r, int64_t now_us);
bool sa_binds(struct cse *c, const struct m2m_secctx *sec, const char *orig_abs);
enum acp_orig_kind cse_orig_kind(struct cse *c, const char *abs);

/* authz.c */
enum authz_mode { AUTHZ_NORMAL, AUTHZ_ACPI_UPDATE, AUTHZ_FOPT };
bool authz_check(struct rq *q, struct res *target, uint32_t op_bit, int create_ty,
                 const cJSON *create_attrs);
bool authz_check_acpi_update(struct rq *q, struct res *target);
bool authz_check_fopt(struct rq *q, struct res *grp, uint32_t op_bit);
uint32_t authz_op_bit(const struct m2m_request *req);
/* Explains, rule by rule, the decision for another originator (the admin request
 * <target>/_explain/<operation>/<originator>); fills q->resp. */
void authz_explain(struct rq *q, struct res *target, const char *spec);
/* Writes an audit event for a change made by q (ACP create/update/delete, acpi update). */
void audit_change(struct rq *q, const char *event, const struct res *r);

/* handlers.c */
void h_create(struct rq *q, struct target *t);
void h_retrieve(struct rq *q, struct target *t);
void h_update(struct rq *q, struct target *t);
void h_delete(struct rq *q, struct target *t);
m2m_rc res_persist(struct rq *q, struct res *r);
m2m_rc res_delete_subtree(struct rq *q, struct res *r);
struct res *cse_reap_expired(struct rq *q, struct res *r);
cJSON *res_wrap(const struct res *r);
char *res_new_ri(struct cse *c, int ty);
void cin_enforce_limits(struct rq *q, struct res *cnt);
int64_t cse_next_ct(struct cse *c, int64_t now_us);
m2m_rc res_set_rsp_body(struct rq *q, cJSON *body);

/* register.c */
void reg_create_ae(struct rq *q, struct res *parent, cJSON *attrs);
void reg_create_csr(struct rq *q, struct res *parent, cJSON *attrs);

/* discovery.c */
void disc_discover(struct rq *q, struct res *target);
bool disc_matches(const struct m2m_filter *f, const struct res *r);

/* group.c */
m2m_rsc grp_validate_members(struct rq *q, cJSON *attrs, char *why, size_t whylen);
void grp_fanout(struct rq *q, struct target *t);

/* notify.c */
m2m_rc notifier_start(struct cse *c, struct notifier **out);
void notifier_stop(struct notifier *n);
/* Queues the notifications of subject's subscriptions for event net about `changed` (the
 * representation is built only when a subscription selects the event). */
void notify_event(struct rq *q, struct res *subject, int net, const struct res *changed);
void notify_deliver(struct cse *c, struct note *list);
/* Verification of a subscription (runs on a notifier thread, then re-submits the job). */
void notify_verify_async(struct cse *c, struct job *j, char **urls, size_t n, char *body);
m2m_rsc notify_collect_urls(struct rq *q, const cJSON *nu, char ***urls, size_t *n);
void note_free_list(struct note *n);

/* cse.c */
void cse_job_submit(struct cse *c, struct job *j);
void job_finish(struct job *j, struct m2m_response *resp);
void job_set_verified(struct job *j, const char *ri);

#endif
