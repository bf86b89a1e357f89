/* client_ops.c: the composite operations of the client library built on m2msec_create: AE
 * registration (TS-0001 10.2.2.2, TS-0004 7.3.5.2.1) and subscription (TS-0004 7.4.8). Bodies are
 * built with cJSON and responses read through json_parse. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"
#include "enc/json.h"

#define CL_JSON_DEPTH 32

/* Serializes j and sends it as a CREATE of type ty under parent; frees j. */
static int create_json(struct m2msec_client *c, const char *parent, int ty, cJSON *j,
                       struct m2msec_response **resp)
{
    char *body = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (body == NULL)
        return M2MSEC_ERR_NOMEM;
    int rc = m2msec_create(c, parent, ty, body, resp);
    free(body);
    return rc;
}

/* The AE-ID of a 2001 answer: m2m:ae/aei, a header-safe string. */
static char *aei_of(const struct m2msec_response *r)
{
    cJSON *j = NULL;
    char *out = NULL;
    if (r->rsc != 2001 || json_parse((const uint8_t *)r->body, r->body_len, CL_JSON_DEPTH, &j))
        return NULL;
    const cJSON *aei =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "m2m:ae"), "aei");
    if (cJSON_IsString(aei) && aei->valuestring[0] && strlen(aei->valuestring) < 256 &&
        !strpbrk(aei->valuestring, " \r\n\t"))
        out = strdup(aei->valuestring);
    cJSON_Delete(j);
    return out;
}

int m2msec_register_ae(struct m2msec_client *c, const char *cse_path, const char *app_id,
                       const char *name, const char *requested_stem, char **aei,
                       struct m2msec_response **resp)
{
    struct m2msec_response *r = NULL;
    char *saved = NULL;
    int rc = M2MSEC_OK;
    if (aei)
        *aei = NULL;
    if (resp)
        *resp = NULL;
    if (c == NULL || aei == NULL || app_id == NULL)
        return M2MSEC_ERR_USAGE;
    cJSON *j = cJSON_CreateObject(), *ae = cJSON_AddObjectToObject(j, "m2m:ae");
    cJSON *srv = cJSON_AddArrayToObject(ae, "srv");
    if (!ae || !srv || (name && !cJSON_AddStringToObject(ae, "rn", name)) ||
        !cJSON_AddStringToObject(ae, "api", app_id) || !cJSON_AddFalseToObject(ae, "rr") ||
        !cJSON_AddItemToArray(srv, cJSON_CreateString("3"))) {
        cJSON_Delete(j);
        return M2MSEC_ERR_NOMEM;
    }
    const char *cur = m2msec_client_originator(c);
    if (requested_stem) {
        if (cur && (saved = strdup(cur)) == NULL) {
            cJSON_Delete(j);
            return M2MSEC_ERR_NOMEM;
        }
        if ((rc = m2msec_client_set_originator(c, requested_stem)) != M2MSEC_OK) {
            cJSON_Delete(j);
            free(saved);
            return rc;
        }
    }
    rc = create_json(c, cse_path ? cse_path : "/cse-in", 2, j, &r);
    if (rc == M2MSEC_OK && (*aei = aei_of(r)) == NULL)
        rc = M2MSEC_ERR_RSC;
    /* The registered AE speaks with its AE-ID from now on; a failure restores the originator. */
    int rc2 = rc == M2MSEC_OK          ? m2msec_client_set_originator(c, *aei)
              : requested_stem != NULL ? m2msec_client_set_originator(c, saved)
                                       : M2MSEC_OK;
    if (rc == M2MSEC_OK && rc2 != M2MSEC_OK) {
        rc = rc2;
        free(*aei);
        *aei = NULL;
    }
    free(saved);
    if (resp)
        *resp = r;
    else
        m2msec_response_free(r);
    return rc;
}

int m2msec_subscribe(struct m2msec_client *c, const char *target, const char *name,
                     const char *notification_url, const int *net, size_t n_net,
                     struct m2msec_response **resp)
{
    if (resp)
        *resp = NULL;
    if (c == NULL || notification_url == NULL || (n_net > 0 && net == NULL) || n_net > 16)
        return M2MSEC_ERR_USAGE;
    cJSON *j = cJSON_CreateObject(), *sub = cJSON_AddObjectToObject(j, "m2m:sub");
    cJSON *nu = cJSON_AddArrayToObject(sub, "nu");
    bool ok = sub && nu && cJSON_AddItemToArray(nu, cJSON_CreateString(notification_url)) &&
              (!name || cJSON_AddStringToObject(sub, "rn", name));
    /* TS-0004 6.3.5.9 eventNotificationCriteria: net lists notificationEventType values. */
    if (ok && n_net > 0) {
        cJSON *enc = cJSON_AddObjectToObject(sub, "enc"),
              *nets = cJSON_CreateIntArray(net, (int)n_net);
        ok = enc && nets && cJSON_AddItemToObject(enc, "net", nets);
        if (!ok && nets && !enc)
            cJSON_Delete(nets);
    }
    if (!ok) {
        cJSON_Delete(j);
        return M2MSEC_ERR_NOMEM;
    }
    return create_json(c, target, 23, j, resp);
}
