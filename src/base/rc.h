/* rc.h: the one status type of m2msec, oneM2M Response Status Codes, and the guard macros. */
#ifndef M2M_BASE_RC_H
#define M2M_BASE_RC_H

#include <stdbool.h>

/* Internal status returned by every cross-module function. Results go out through pointer
 * parameters. Never cast to an RSC: a handler that needs to answer a request maps its failure to
 * an m2m_rsc explicitly. */
typedef enum m2m_rc {
    M2M_OK = 0,
    M2M_ERR_NOMEM,     /* allocation failed */
    M2M_ERR_MALFORMED, /* peer or file input does not parse */
    M2M_ERR_LIMIT,     /* a configured bound would be exceeded */
    M2M_ERR_IO,        /* system call or storage failure */
    M2M_ERR_NOT_FOUND, /* lookup found nothing */
    M2M_ERR_EXISTS,    /* would create a duplicate */
    M2M_ERR_DENIED,    /* a security check refused */
    M2M_ERR_AGAIN,     /* would block; retry when ready */
    M2M_ERR_CLOSED,    /* the peer closed */
    M2M_ERR_TLS,       /* TLS failure */
    M2M_ERR_CONFIG,    /* invalid configuration */
    M2M_ERR_INTERNAL,  /* programmer error or impossible state */
} m2m_rc;

#define M2M_WARN_UNUSED __attribute__((warn_unused_result))

/* Human-readable name of an m2m_rc, for logs. Never NULL. */
const char *m2m_rc_str(m2m_rc rc);

/* oneM2M Response Status Codes (TS-0004 6.6.3) used by this CSE. */
typedef enum m2m_rsc {
    RSC_NONE = 0,
    RSC_ACCEPTED = 1000,
    RSC_OK = 2000,
    RSC_CREATED = 2001,
    RSC_DELETED = 2002,
    RSC_UPDATED = 2004,
    RSC_BAD_REQUEST = 4000,
    RSC_RELEASE_VERSION_NOT_SUPPORTED = 4001,
    RSC_NOT_FOUND = 4004,
    RSC_OPERATION_NOT_ALLOWED = 4005,
    RSC_REQUEST_TIMEOUT = 4008,
    RSC_UNSUPPORTED_MEDIA_TYPE = 4015,
    RSC_SUBSCRIPTION_CREATOR_HAS_NO_PRIVILEGE = 4101,
    RSC_CONTENTS_UNACCEPTABLE = 4102,
    RSC_ORIGINATOR_HAS_NO_PRIVILEGE = 4103,
    RSC_CONFLICT = 4105,
    RSC_ORIGINATOR_NOT_AUTHENTICATED = 4106,
    RSC_SECURITY_ASSOCIATION_REQUIRED = 4107,
    RSC_INVALID_CHILD_RESOURCE_TYPE = 4108,
    RSC_NO_MEMBERS = 4109,
    RSC_GROUP_MEMBER_TYPE_INCONSISTENT = 4110,
    RSC_ORIGINATOR_HAS_ALREADY_REGISTERED = 4117,
    RSC_APP_RULE_VALIDATION_FAILED = 4126,
    RSC_SERVICE_SUBSCRIPTION_NOT_ESTABLISHED = 4128,
    RSC_INTERNAL_SERVER_ERROR = 5000,
    RSC_NOT_IMPLEMENTED = 5001,
    RSC_TARGET_NOT_REACHABLE = 5103,
    RSC_RECEIVER_HAS_NO_PRIVILEGE = 5105,
    RSC_ALREADY_EXISTS = 5106,
    RSC_TARGET_NOT_SUBSCRIBABLE = 5203,
    RSC_SUBSCRIPTION_VERIFICATION_INITIATION_FAILED = 5204,
    RSC_SUBSCRIPTION_HOST_HAS_NO_PRIVILEGE = 5205,
    RSC_NOT_ACCEPTABLE = 5207,
    RSC_MAX_NUMBER_OF_MEMBER_EXCEEDED = 6010,
} m2m_rsc;

/* TS-0009 Table 6.3.2-1: HTTP status code for an RSC (500 for unknown codes). */
int m2m_rsc_http_status(m2m_rsc rsc);
/* Reason phrase for the HTTP status line. */
const char *m2m_http_reason(int http_status);
/* Symbolic name of an RSC ("ORIGINATOR_HAS_NO_PRIVILEGE"); "UNKNOWN" when unknown. */
const char *m2m_rsc_name(m2m_rsc rsc);

/* Guard macros: keep the happy path straight. Functions using TRY/BAIL declare `m2m_rc rc` and an
 * `out:` label that releases what was taken. */
#define TRY(expr)                                                                                  \
    do {                                                                                           \
        rc = (expr);                                                                               \
        if (rc != M2M_OK)                                                                          \
            goto out;                                                                              \
    } while (0)
#define BAIL(code)                                                                                 \
    do {                                                                                           \
        rc = (code);                                                                               \
        goto out;                                                                                  \
    } while (0)
#define ENSURE(cond, code)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            rc = (code);                                                                           \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)
#define ENSURE_NONNULL(p) ENSURE((p) != NULL, M2M_ERR_NOMEM)
/* For functions that return an m2m_rc directly without cleanup. */
#define RETURN_IF_ERR(expr)                                                                        \
    do {                                                                                           \
        m2m_rc rc_ = (expr);                                                                       \
        if (rc_ != M2M_OK)                                                                         \
            return rc_;                                                                            \
    } while (0)

#define M2M_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
