/* rc.c: names of internal status codes and the oneM2M RSC -> HTTP status table. */
#include "base/rc.h"

#include <stddef.h>

const char *m2m_rc_str(m2m_rc rc)
{
    switch (rc) {
    case M2M_OK: return "ok";
    case M2M_ERR_NOMEM: return "out of memory";
    case M2M_ERR_MALFORMED: return "malformed input";
    case M2M_ERR_LIMIT: return "limit exceeded";
    case M2M_ERR_IO: return "i/o error";
    case M2M_ERR_NOT_FOUND: return "not found";
    case M2M_ERR_EXISTS: return "already exists";
    case M2M_ERR_DENIED: return "denied";
    case M2M_ERR_AGAIN: return "try again";
    case M2M_ERR_CLOSED: return "closed";
    case M2M_ERR_TLS: return "tls error";
    case M2M_ERR_CONFIG: return "configuration error";
    case M2M_ERR_INTERNAL: return "internal error";
    }
    return "unknown";
}

struct rsc_row {
    m2m_rsc rsc;
    int http;
    const char *name;
};

/* TS-0009 Table 6.3.2-1 (rows for the codes this CSE produces). */
static const struct rsc_row rsc_table[] = {
    {RSC_ACCEPTED, 202, "ACCEPTED"},
    {RSC_OK, 200, "OK"},
    {RSC_CREATED, 201, "CREATED"},
    {RSC_DELETED, 200, "DELETED"},
    {RSC_UPDATED, 200, "UPDATED"},
    {RSC_BAD_REQUEST, 400, "BAD_REQUEST"},
    {RSC_RELEASE_VERSION_NOT_SUPPORTED, 501, "RELEASE_VERSION_NOT_SUPPORTED"},
    {RSC_NOT_FOUND, 404, "NOT_FOUND"},
    {RSC_OPERATION_NOT_ALLOWED, 405, "OPERATION_NOT_ALLOWED"},
    {RSC_REQUEST_TIMEOUT, 504, "REQUEST_TIMEOUT"},
    {RSC_UNSUPPORTED_MEDIA_TYPE, 415, "UNSUPPORTED_MEDIA_TYPE"},
    {RSC_SUBSCRIPTION_CREATOR_HAS_NO_PRIVILEGE, 403, "SUBSCRIPTION_CREATOR_HAS_NO_PRIVILEGE"},
    {RSC_CONTENTS_UNACCEPTABLE, 400, "CONTENTS_UNACCEPTABLE"},
    {RSC_ORIGINATOR_HAS_NO_PRIVILEGE, 403, "ORIGINATOR_HAS_NO_PRIVILEGE"},
    {RSC_CONFLICT, 409, "CONFLICT"},
    {RSC_ORIGINATOR_NOT_AUTHENTICATED, 403, "ORIGINATOR_NOT_AUTHENTICATED"},
    {RSC_SECURITY_ASSOCIATION_REQUIRED, 403, "SECURITY_ASSOCIATION_REQUIRED"},
    {RSC_INVALID_CHILD_RESOURCE_TYPE, 403, "INVALID_CHILD_RESOURCE_TYPE"},
    {RSC_NO_MEMBERS, 403, "NO_MEMBERS"},
    {RSC_GROUP_MEMBER_TYPE_INCONSISTENT, 400, "GROUP_MEMBER_TYPE_INCONSISTENT"},
    {RSC_ORIGINATOR_HAS_ALREADY_REGISTERED, 403, "ORIGINATOR_HAS_ALREADY_REGISTERED"},
    {RSC_APP_RULE_VALIDATION_FAILED, 403, "APP_RULE_VALIDATION_FAILED"},
    /* [INTERP] 4128 is missing from TS-0009 Table 6.3.2-1; SPEC-MAP B8 maps it to 403. */
    {RSC_SERVICE_SUBSCRIPTION_NOT_ESTABLISHED, 403, "SERVICE_SUBSCRIPTION_NOT_ESTABLISHED"},
    {RSC_INTERNAL_SERVER_ERROR, 500, "INTERNAL_SERVER_ERROR"},
    {RSC_NOT_IMPLEMENTED, 501, "NOT_IMPLEMENTED"},
    {RSC_TARGET_NOT_REACHABLE, 404, "TARGET_NOT_REACHABLE"},
    {RSC_RECEIVER_HAS_NO_PRIVILEGE, 403, "RECEIVER_HAS_NO_PRIVILEGE"},
    {RSC_ALREADY_EXISTS, 409, "ALREADY_EXISTS"},
    {RSC_TARGET_NOT_SUBSCRIBABLE, 403, "TARGET_NOT_SUBSCRIBABLE"},
    {RSC_SUBSCRIPTION_VERIFICATION_INITIATION_FAILED, 500,
     "SUBSCRIPTION_VERIFICATION_INITIATION_FAILED"},
    {RSC_SUBSCRIPTION_HOST_HAS_NO_PRIVILEGE, 403, "SUBSCRIPTION_HOST_HAS_NO_PRIVILEGE"},
    {RSC_NOT_ACCEPTABLE, 406, "NOT_ACCEPTABLE"},
    {RSC_MAX_NUMBER_OF_MEMBER_EXCEEDED, 400, "MAX_NUMBER_OF_MEMBER_EXCEEDED"},
};

static const struct rsc_row *rsc_find(m2m_rsc rsc)
{
    for (size_t i = 0; i < M2M_ARRAY_LEN(rsc_table); i++)
        if (rsc_table[i].rsc == rsc)
            return &rsc_table[i];
    return NULL;
}

int m2m_rsc_http_status(m2m_rsc rsc)
{
    const struct rsc_row *r = rsc_find(rsc);
    return r ? r->http : 500;
}

const char *m2m_rsc_name(m2m_rsc rsc)
{
    const struct rsc_row *r = rsc_find(rsc);
    return r ? r->name : "UNKNOWN";
}

const char *m2m_http_reason(int s)
{
    switch (s) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    }
    return "Unknown";
}
