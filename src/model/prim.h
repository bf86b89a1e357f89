/* prim.h: oneM2M request and response primitives (TS-0004 6.4.1/6.4.2) as the bindings hand them
 * to the CSE, and the security context that travels with each request. Binding-independent. */
#ifndef M2M_MODEL_PRIM_H
#define M2M_MODEL_PRIM_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/rc.h"

enum m2m_op {
    M2M_OP_NONE = 0,
    M2M_OP_CREATE = 1,
    M2M_OP_RETRIEVE = 2,
    M2M_OP_UPDATE = 3,
    M2M_OP_DELETE = 4,
    M2M_OP_NOTIFY = 5,
};

/* Result Content (TS-0004 6.3.4.2.22). */
enum m2m_rcn {
    RCN_NOTHING = 0,
    RCN_ATTRIBUTES = 1,
    RCN_HIERARCHICAL_ADDRESS = 2,
    RCN_HIERARCHICAL_ADDRESS_ATTRIBUTES = 3,
    RCN_ATTRIBUTES_CHILD_RESOURCES = 4,
    RCN_ATTRIBUTES_CHILD_RESOURCE_REFERENCES = 5,
    RCN_CHILD_RESOURCE_REFERENCES = 6,
    RCN_ORIGINAL_RESOURCE = 7,
    RCN_CHILD_RESOURCES = 8,
    RCN_MODIFIED_ATTRIBUTES = 9,
    RCN_DISCOVERY_RESULT_REFERENCES = 11,
};

#define M2M_FC_MAX_LBL 16
#define M2M_FC_MAX_TY 16

/* Filter Criteria (TS-0004 6.3.5.8). Times are microseconds since the epoch, 0 = absent. */
struct m2m_filter {
    int fu; /* filterUsage: 0 absent, 1 discovery, 2 conditional retrieval */
    int64_t crb, cra, ms, us, exb, exa;
    int64_t stb, sts;          /* -1 = absent */
    char *lbl[M2M_FC_MAX_LBL]; /* owned */
    size_t n_lbl;
    int ty[M2M_FC_MAX_TY];
    size_t n_ty;
    int lim;  /* -1 = absent */
    int ofst; /* -1 = absent (1-based per TS-0004) */
    int lvl;  /* -1 = absent */
    int fo;   /* filterOperation: 0 absent, 1 AND, 2 OR */
};

enum m2m_sec_kind {
    M2M_SEC_NONE = 0, /* plain transport */
    M2M_SEC_TLS,      /* TLS, the client is not authenticated */
    M2M_SEC_TLS_CERT, /* TLS, client authenticated by an X.509 certificate */
    M2M_SEC_TLS_PSK,  /* (D)TLS-PSK (SAEF issue) */
    M2M_SEC_TLS_RPK,  /* raw public key (SAEF issue) */
};

#define M2M_ID_MAX 256
#define M2M_SEC_MAX_BOUND 8

/* The security context of a request: a property of its connection, never of a header. */
struct m2m_secctx {
    enum m2m_sec_kind kind;
    char identity[M2M_ID_MAX]; /* identity bound to the association ("" when none) */
    char cred_id[M2M_ID_MAX];  /* Credential-ID of the credential used ("" when none) */
    /* Further identities the association may speak for (TS-0003 8.1.2.x: device and Node-ID
     * certificates, or a PSK provisioned for several AE-IDs). identity is always allowed. */
    char bound[M2M_SEC_MAX_BOUND][M2M_ID_MAX];
    int n_bound;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    bool trusted_listener; /* the listener is configured as trusted (off by default) */
};

/* A request primitive. All pointers are owned by the request; free with m2m_request_clear. */
struct m2m_request {
    enum m2m_op op;
    char *to;  /* To, as TS-0004 writes it: "cse-in/x", "/id-in/x", "//sp/id-in/x" */
    char *fr;  /* From, NULL when absent */
    char *rqi; /* Request Identifier, NULL when absent */
    char *rvi; /* Release Version Indicator, NULL when absent */
    int ty;    /* resource type on CREATE, 0 when absent */
    int rcn;   /* Result Content, -1 when absent */
    int rt;    /* Response Type (1 blockingRequest ...), 0 when absent */
    char *rtu; /* response type notificationURIs, '&'-joined, NULL when absent */
    int drt;   /* Desired Identifier Result Type: 0 absent, 1 structured, 2 unstructured */
    int64_t rqet, rset, oet; /* expiration timestamps, 0 when absent */
    char *vsi;
    bool has_fc;
    struct m2m_filter fc;
    uint8_t *pc; /* content bytes (not NUL-terminated), NULL when no body */
    size_t pc_len;
    int content_format; /* 0 none, 1 JSON */
    struct m2m_secctx sec;
    int64_t t_recv_us; /* reception time (wall clock) */
    /* RFC 5705 exporter (no context value) of the (D)TLS session that carried the request, set
     * by the binding. Valid only during the handler call, on the binding's thread: a handler
     * that answers later exports first. fn NULL = not available (plain transport). fn returns
     * M2M_ERR_TLS when the session cannot export. m2m_request_init zeroes it. */
    struct {
        m2m_rc (*fn)(void *ctx, const char *label, size_t label_len, uint8_t *out, size_t len);
        void *ctx;
    } exporter;
};

/* A response primitive. Owned fields are freed by m2m_response_clear. */
struct m2m_response {
    m2m_rsc rsc;
    char *rqi;  /* echoed Request Identifier */
    char *rvi;  /* echoed Release Version Indicator */
    char *body; /* serialized JSON content, NULL when none */
    size_t body_len;
    char *content_location; /* on CREATE: identifier of the new resource */
    int content_ty;         /* resource type of the body for Content-Type ";ty=" (0 = omit) */
    bool sensitive;         /* the body carries key material: every copy is wiped before it is freed
                               (m2m_response_clear; the HTTP transport's wire and output buffers) */
};

/* The answer channel of a request, supplied by the binding that received it: fn is called
 * exactly once, from any thread, and takes over the response's owned fields. */
struct m2m_reply {
    void (*fn)(void *ctx, struct m2m_response *resp);
    void *ctx;
};

/* What a binding calls for each request it received. `req` must stay valid until reply.fn has
 * been called. */
typedef void (*m2m_handler_fn)(void *hctx, struct m2m_request *req, struct m2m_reply reply);

void m2m_filter_init(struct m2m_filter *f);
void m2m_request_init(struct m2m_request *r);
void m2m_request_clear(struct m2m_request *r);
void m2m_response_init(struct m2m_response *r);
void m2m_response_clear(struct m2m_response *r);
/* Sets rsc and an "m2m:dbg" body with the given message (escaped as JSON). */
void m2m_response_error(struct m2m_response *r, m2m_rsc rsc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
