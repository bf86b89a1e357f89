/* fuzz_json.c: fuzzes json_parse with a small depth limit; every accepted document must print,
 * parse again under the same limit, and print identically (round trip). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enc/json.h"

#define FUZZ_DEPTH 8

/* Checks the contract on an accepted tree: depth bounded, no NUL-truncated or invalid UTF-8
 * strings, member names unique, json_is_int_in consistent with the value. */
static void check_tree(const cJSON *j, int depth)
{
    if (depth > FUZZ_DEPTH)
        abort();
    if (cJSON_IsString(j) &&
        !json_utf8_valid((const uint8_t *)j->valuestring, strlen(j->valuestring)))
        abort();
    if (cJSON_IsNumber(j) && json_is_int_in(j, -1000, 1000) &&
        (j->valuedouble < -1000 || j->valuedouble > 1000 || j->valuedouble != (int)j->valuedouble))
        abort();
    for (const cJSON *c = j->child; c != NULL; c = c->next) {
        if (cJSON_IsObject(j))
            for (const cJSON *d = c->next; d != NULL; d = d->next)
                if (strcmp(c->string, d->string) == 0)
                    abort();
        check_tree(c, depth + (cJSON_IsObject(c) || cJSON_IsArray(c)));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *j = NULL, *again = NULL;
    m2m_rc rc = json_parse(data, size, FUZZ_DEPTH, &j);
    if (rc != M2M_OK) {
        if (j != NULL || (rc != M2M_ERR_MALFORMED && rc != M2M_ERR_LIMIT && rc != M2M_ERR_NOMEM))
            abort();
        return 0;
    }
    if (!json_utf8_valid(data, size) || memchr(data, 0, size) != NULL)
        abort();
    check_tree(j, cJSON_IsObject(j) || cJSON_IsArray(j));
    char *p1 = json_print(j);
    if (p1 == NULL)
        abort();
    if (json_parse((const uint8_t *)p1, strlen(p1), FUZZ_DEPTH, &again) != M2M_OK)
        abort();
    char *p2 = json_print(again);
    if (p2 == NULL || strcmp(p1, p2) != 0)
        abort();
    free(p1);
    free(p2);
    cJSON_Delete(again);
    cJSON_Delete(j);
    return 0;
}
