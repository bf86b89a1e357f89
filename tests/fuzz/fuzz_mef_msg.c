/* fuzz_mef_msg.c: every parser of src/mef/mef_codec.c on the same input (the Mmef bodies
 * sec:enr, sec:mcr, sec:mkr, sec:mcc, sec:fcr, sec:mefb, stored label lists, base64 and
 * timestamps), with round-trip checks: an accepted base64 string re-encodes to itself and an
 * accepted list serializes back to a list that parses to the same members. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mef/mef_codec.h"

static void lists(const uint8_t *in, size_t len)
{
    struct mef_strlist l = {0}, l2 = {0};
    char *j = NULL;
    if (mef_strlist_from_json((const char *)in, len, MEF_LBL_MAX, &l) != M2M_OK)
        return;
    if (mef_strlist_to_json(&l, &j) != M2M_OK ||
        mef_strlist_from_json(j, strlen(j), MEF_LBL_MAX, &l2) != M2M_OK || l2.n != l.n)
        abort();
    for (size_t i = 0; i < l.n; i++)
        if (strcmp(l.v[i], l2.v[i]) != 0)
            abort();
    free(j);
    mef_strlist_clear(&l);
    mef_strlist_clear(&l2);
}

static void b64(const uint8_t *in, size_t len)
{
    uint8_t out[256];
    size_t n = 0;
    char *s = NULL;
    if (mef_b64_decode((const char *)in, len, out, sizeof out, &n) != M2M_OK)
        return;
    if (mef_b64_encode(out, n, &s) != M2M_OK || strlen(s) != len || memcmp(s, in, len) != 0)
        abort();
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
    struct mef_enr_req e;
    struct mef_mcr_req r;
    struct mef_mkr_req k;
    struct mef_mcc_req c;
    struct mef_fcr f;
    struct mef_mefb b;
    int64_t t;
    if (mef_enr_parse(in, len, &e) == M2M_OK && e.et_s < 0)
        abort();
    for (int m = MEF_PARSE_CREATE; m <= MEF_PARSE_UPDATE; m++) {
        if (mef_mcr_parse(in, len, (enum mef_mode)m, &r) == M2M_OK)
            mef_mcr_req_clear(&r);
        if (mef_mkr_parse(in, len, (enum mef_mode)m, &k) == M2M_OK) {
            if (m == MEF_PARSE_CREATE && !mef_mkr_targets_ok(k.suid, k.targets.n))
                abort();
            mef_mkr_req_clear(&k);
        }
    }
    if (mef_mcc_parse(in, len, &c) == M2M_OK && (c.cmd_id[0] == 0 || c.status <= 0))
        abort();
    if (mef_fcr_parse(in, len, &f) == M2M_OK && f.status && f.key_len != 32)
        abort();
    if (mef_mefb_parse(in, len, &b) == M2M_OK && b.fqdn[0] == 0)
        abort();
    if (mef_ts_parse((const char *)in, len, &t) == M2M_OK && t < 0)
        abort();
    lists(in, len);
    b64(in, len);
    return 0;
}
