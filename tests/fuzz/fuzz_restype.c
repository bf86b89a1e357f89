/* fuzz_restype.c: parses the input as JSON and validates it as the CREATE and UPDATE content of
 * every resource type, checking the result/RSC/message invariants of restype_validate. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enc/json.h"
#include "model/restype.h"

static const int fuzz_types[] = {TY_ACP, TY_AE,   TY_CNT, TY_CIN, TY_CSEBASE, TY_GRP,
                                 TY_CSR, TY_ASAR, TY_SUB, 0,      28};

static void check_one(int ty, enum m2m_op op, const cJSON *j)
{
    m2m_rsc rsc = (m2m_rsc)-1;
    char err[96];
    memset(err, 'X', sizeof err);
    m2m_rc rc = restype_validate(ty, op, j, &rsc, err, sizeof err);
    if (rc == M2M_OK) {
        if (rsc != RSC_NONE || !restype_supported(ty) || ty == TY_CSEBASE)
            abort();
        return;
    }
    /* A failure always carries a 4xxx RSC and a terminated, non-empty message. */
    if (rsc != RSC_BAD_REQUEST && rsc != RSC_OPERATION_NOT_ALLOWED)
        abort();
    if (memchr(err, '\0', sizeof err) == NULL || err[0] == '\0')
        abort();
    /* Tiny and absent message buffers must also be safe. */
    char tiny[1];
    if (restype_validate(ty, op, j, &rsc, tiny, sizeof tiny) != rc || tiny[0] != '\0')
        abort();
    if (restype_validate(ty, op, j, NULL, NULL, 0) != rc)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *j = NULL;
    if (json_parse(data, size, 32, &j) != M2M_OK)
        return 0;
    for (size_t i = 0; i < sizeof fuzz_types / sizeof fuzz_types[0]; i++) {
        check_one(fuzz_types[i], M2M_OP_CREATE, j);
        check_one(fuzz_types[i], M2M_OP_UPDATE, j);
    }
    /* Member names also exercise the read-only lookup. */
    if (cJSON_IsObject(j))
        for (const cJSON *m = j->child; m != NULL; m = m->next)
            for (size_t i = 0; i < sizeof fuzz_types / sizeof fuzz_types[0]; i++)
                (void)restype_attr_is_readonly(fuzz_types[i], m->string);
    cJSON_Delete(j);
    return 0;
}
