/* fuzz_coap_map.c: CoAP message bytes -> libcoap's coap_pdu_parse -> coap_map_request (the path a
 * datagram takes into the CSE), then the response mapping of a fixed answer onto a new PDU. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bind/coap/coap_map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int started;
    if (!started) {
        coap_startup();
        coap_set_log_level(LOG_EMERG);
        started = 1;
    }
    if (size > 65536)
        return 0;
    coap_pdu_t *p = coap_pdu_init(0, 0, 0, size + 16);
    if (p == NULL)
        return 0;
    if (coap_pdu_parse(COAP_PROTO_UDP, data, size, p)) {
        size_t len = 0;
        const uint8_t *body = NULL;
        (void)coap_get_data(p, &len, &body);
        struct m2m_request req;
        struct coap_req_meta meta;
        m2m_rsc rsc;
        char err[128];
        m2m_request_init(&req);
        if (coap_map_request(p, body, len, 2048, &req, &meta, &rsc, err, sizeof err) == M2M_OK) {
            /* invariants of a mapped request */
            if (req.to == NULL || req.op == M2M_OP_NONE || (req.op == M2M_OP_CREATE && !req.ty))
                abort();
            struct m2m_response r;
            m2m_response_init(&r);
            r.rsc = RSC_CREATED;
            r.rqi = req.rqi ? strdup(req.rqi) : NULL;
            r.content_location = strdup(req.to);
            coap_pdu_t *out = coap_pdu_init(COAP_MESSAGE_ACK, 0, 1, 8192);
            if (out != NULL)
                if (coap_map_response(&r, meta.op, true, out) != M2M_OK)
                    meta.op = M2M_OP_NONE; /* nothing to check: a NOMEM is fine here */
            coap_delete_pdu(out);
            m2m_response_clear(&r);
        } else if (rsc == RSC_NONE) {
            abort(); /* every refusal names its RSC */
        }
        m2m_request_clear(&req);
    }
    coap_delete_pdu(p);
    return 0;
}
