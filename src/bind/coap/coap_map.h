/* coap_map.h: the CoAP binding of TS-0008: maps a CoAP request (method, Uri-Path, Uri-Query, the
 * oneM2M options, Content-Format, Accept, payload) to a oneM2M request primitive, and a response
 * primitive to a CoAP response code and options. Pure functions: no sockets, no CSE knowledge;
 * libcoap is used only as the PDU type and option iterator. */
#ifndef M2M_BIND_COAP_MAP_H
#define M2M_BIND_COAP_MAP_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "base/rc.h"
#include "model/prim.h"

/* TS-0008 Table 6.2.2.4.0-1: the oneM2M CoAP options (all critical, unsafe, not repeatable). */
enum coap_m2m_option {
    COAP_M2M_OT = 259,    /* Originating Timestamp */
    COAP_M2M_RTURI = 263, /* notificationURI of Response Type */
    COAP_M2M_TY = 267,    /* Resource Type */
    COAP_M2M_RVI = 271,   /* Release Version Indicator */
    COAP_M2M_ASRI = 275,  /* Authorization Signature Request Information */
    COAP_M2M_FR = 279,    /* From */
    COAP_M2M_RQI = 283,   /* Request Identifier */
    COAP_M2M_RQET = 291,  /* Request Expiration Timestamp */
    COAP_M2M_RSET = 295,  /* Result Expiration Timestamp */
    COAP_M2M_OET = 299,   /* Operation Execution Time */
    COAP_M2M_EC = 303,    /* Event Category */
    COAP_M2M_RSC = 307,   /* Response Status Code */
    COAP_M2M_GID = 311,   /* Group Request Identifier */
    COAP_M2M_CTO = 319,   /* Content Offset */
    COAP_M2M_CTS = 323,   /* Content Status */
    COAP_M2M_ATI = 327,   /* Assigned Token Identifiers */
    COAP_M2M_VSI = 331,   /* Vendor Information */
    COAP_M2M_GTM = 335,   /* Group Request Target Members */
    COAP_M2M_AUS = 339,   /* Authorization Signatures */
};

/* Every option number of enum coap_m2m_option (for coap_register_option), the request options
 * first: FR, RQI, TY, RVI, ... libcoap 4.3.1 keeps only two registered options above 255
 * (COAP_OPT_FILTER_LONG), so a 4.3.1 server knows FR and RQI only and refuses requests carrying
 * any other oneM2M option with 4.02 before this binding sees them; a CREATE then names its type
 * with the "ty" Uri-Query (see coap_map_request). */
extern const uint16_t coap_m2m_options[];
extern const size_t coap_m2m_n_options;
/* The options a client must know to read this server's responses: oneM2M-RSC and oneM2M-RQI
 * (oneM2M-RVI is only echoed when the request carried it). For libcoap 4.3.1 clients. */
extern const uint16_t coap_m2m_response_options[];
extern const size_t coap_m2m_n_response_options;

/* TS-0008 Table 6.2.2.2-1 and 6.2.2.2: the Content-Formats this binding reads and writes. */
#define COAP_CF_JSON 50            /* application/json */
#define COAP_CF_M2M_RES_JSON 10001 /* application/vnd.onem2m-res+json */
#define COAP_CF_M2M_NTFY_JSON 10003
#define COAP_CF_M2M_PREQ_JSON 10007

#define COAP_MAP_MAX_URI 4096 /* bound of the To parameter built from Uri-Path */

/* What the mapping learnt beyond the primitive. */
struct coap_req_meta {
    int accept;       /* Accept option value, -1 when absent */
    uint16_t resp_cf; /* Content-Format for the response body */
    enum m2m_op op;   /* the operation (also in the primitive), for the response code */
};

/* Maps a request PDU to a oneM2M request primitive (TS-0008 6.2): method (Table 6.2.1-1; POST
 * with oneM2M-TY is CREATE, else NOTIFY, or the "op" Uri-Query for non-blocking POSTs), Uri-Path
 * to To ("~" SP-relative, "_" absolute, 6.2.2.3), Uri-Query parameters (short names as in the
 * HTTP binding), the oneM2M options (6.2.2.4), Content-Format and Accept (6.2.2.2). body/body_len
 * is the whole payload (after blockwise reassembly); bodies over max_body are refused. req->sec
 * and req->t_recv_us set by the caller are kept; on failure *req is unchanged, *rsc holds the
 * RSC to answer (4000, 4001, 4015, 5001, 5207 ...) and errmsg a reason; returns
 * M2M_ERR_MALFORMED (or M2M_ERR_NOMEM). meta is filled in both cases (op as far as known). */
M2M_WARN_UNUSED m2m_rc coap_map_request(const coap_pdu_t *pdu, const uint8_t *body, size_t body_len,
                                        size_t max_body, struct m2m_request *req,
                                        struct coap_req_meta *meta, m2m_rsc *rsc, char *errmsg,
                                        size_t errlen);

/* TS-0008 Table 6.2.4-1: the CoAP response code of an RSC for an operation (2000 is 2.05 for
 * RETRIEVE, 2.04 for NOTIFY; unknown codes 5.00). */
coap_pdu_code_t coap_map_rsc(m2m_rsc rsc, enum m2m_op op);

/* Sets the response code and adds (on CREATE) the Location-Path options and, when m2m_options,
 * oneM2M-RVI, oneM2M-RQI and oneM2M-RSC of resp to pdu. The payload is added by the caller
 * (blockwise). m2m_options false serves generic CoAP clients that reject the critical oneM2M
 * options they do not know (RFC 7252 5.4.1), e.g. libcoap 4.3.1's coap-client. */
M2M_WARN_UNUSED m2m_rc coap_map_response(const struct m2m_response *resp, enum m2m_op op,
                                         bool m2m_options, coap_pdu_t *pdu);

/* True when the response carries a payload (TS-0008 Table 6.2.4-1: a NOTIFY's 2.04 is empty). */
bool coap_map_response_has_body(const struct m2m_response *resp, enum m2m_op op);

#endif
