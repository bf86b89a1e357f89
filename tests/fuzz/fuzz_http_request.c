/* fuzz_http_request.c: fuzzes request framing (whole and prefix-consistency), the mapping of
 * every request that frames, response serialization, and response framing on the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bind/http/http.h"
#include "bind/http/http_client.h"

static struct http_msg msg;

/* Maps a framed request and writes an answer echoing what it mapped. */
static void map_and_answer(void)
{
    struct m2m_request req;
    struct m2m_response resp;
    struct m2m_buf out = M2M_BUF_INIT;
    m2m_rsc rsc = RSC_NONE;
    char err[128];
    m2m_request_init(&req);
    m2m_response_init(&resp);
    if (http_to_request(&msg, &req, &rsc, err, sizeof err) == M2M_OK) {
        resp.rsc = RSC_OK;
        resp.rqi = req.rqi;
        resp.rvi = req.rvi;
        resp.content_location = req.to;
        resp.body = (char *)req.pc;
        resp.body_len = req.pc_len;
        resp.content_ty = req.ty;
        if (http_write_response(&resp, msg.keep_alive, &out) != M2M_OK)
            abort();
    } else if (http_write_error(m2m_rsc_http_status(rsc), err, &out) != M2M_OK) {
        abort();
    }
    m2m_buf_free(&out);
    m2m_request_clear(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_limits lim;
    size_t used = 0, used2 = 0;
    int st = 0;
    http_limits_default(&lim);
    if (size & 1) { /* odd sizes also run with tight limits so the edges are reachable */
        lim.max_header_bytes = 256;
        lim.max_headers = 8;
        lim.max_uri = 64;
        lim.max_body = 32;
    }
    enum http_parse_result r = http_parse_request(data, size, &lim, &msg, &used, &st);
    if (r == HTTP_PARSE_DONE) {
        if (used == 0 || used > size)
            abort();
        map_and_answer();
        /* the exact message alone frames identically */
        if (http_parse_request(data, used, &lim, &msg, &used2, &st) != HTTP_PARSE_DONE ||
            used2 != used)
            abort();
    } else if (r == HTTP_PARSE_ERROR && (st < 400 || st > 505)) {
        abort();
    }
    for (int eof = 0; eof < 2; eof++) {
        if (http_parse_response(data, size, eof, &lim, &msg, &used, &st) == HTTP_PARSE_DONE &&
            used > size)
            abort();
    }
    struct m2m_buf dec = {NULL, 0, 0, 4096};
    (void)http_chunked_decode(data, size, 4096, 8192, &dec, &used, &st);
    m2m_buf_free(&dec);
    return 0;
}
