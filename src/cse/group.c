/* group.c: <group> member validation (TS-0004 7.4.13.2.1) and the <fanOutPoint> virtual
 * resource (TS-0004 7.4.14): a request to <group>/fopt[/rest] is applied to every member. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cse/cse_internal.h"
#include "enc/json.h"

#define FOPT_MAX_DEPTH 3

static bool member_type_ok(int mt, struct res *m, bool fopt_member)
{
    if (mt == 0) /* mixed */
        return true;
    if (fopt_member && m->ty == TY_GRP) {
        const cJSON *smt = cJSON_GetObjectItemCaseSensitive(m->attrs, "mt");
        return cJSON_IsNumber(smt) && (int)smt->valuedouble == mt;
    }
    return m->ty == mt;
}

m2m_rsc grp_validate_members(struct rq *q, cJSON *attrs, char *why, size_t whylen)
{
    const cJSON *mtj = cJSON_GetObjectItemCaseSensitive(attrs, "mt");
    int mt = cJSON_IsNumber(mtj) ? (int)mtj->valuedouble : 0;
    const cJSON *csyj = cJSON_GetObjectItemCaseSensitive(attrs, "csy");
    int csy = cJSON_IsNumber(csyj) ? (int)csyj->valuedouble : 1; /* ABANDON_MEMBER */
    const cJSON *mnmj = cJSON_GetObjectItemCaseSensitive(attrs, "mnm");
    long mnm = cJSON_IsNumber(mnmj) ? (long)mnmj->valuedouble : q->cse->cfg.group_max_members;
    if (mnm > q->cse->cfg.group_max_members)
        mnm = q->cse->cfg.group_max_members;
    cJSON *mid = cJSON_GetObjectItemCaseSensitive(attrs, "mid");
    if (!cJSON_IsArray(mid)) {
        snprintf(why, whylen, "memberIDs must be a list");
        return RSC_BAD_REQUEST;
    }
    cJSON *out = cJSON_CreateArray();
    if (out == NULL)
        return RSC_INTERNAL_SERVER_ERROR;
    bool mixed = false;
    const cJSON *e;
    cJSON_ArrayForEach(e, mid)
    {
        if (!cJSON_IsString(e))
            continue;
        /* TS-0004 7.4.13.2.1: duplicates are removed */
        bool dup = false;
        const cJSON *o;
        cJSON_ArrayForEach(o, out) dup |= strcmp(o->valuestring, e->valuestring) == 0;
        if (dup)
            continue;
        char id[1024];
        snprintf(id, sizeof id, "%s", e->valuestring);
        size_t l = strlen(id);
        bool fopt = l > 5 && strcmp(id + l - 5, "/fopt") == 0;
        if (fopt)
            id[l - 5] = 0;
        struct res *m = cse_resolve_id(q->cse, id);
        if (m != NULL && res_expired(m, q->now_us))
            m = NULL;
        if (m != NULL && !authz_check(q, m, ACP_OP_RETRIEVE, 0, NULL)) {
            cJSON_Delete(out);
            snprintf(why, whylen, "no privilege to validate member %s", e->valuestring);
            return RSC_RECEIVER_HAS_NO_PRIVILEGE;
        }
        /* [INTERP] a member that does not exist here cannot be validated: it is treated as
         * inconsistent (docs/DECISIONS.md). */
        if (m == NULL || !member_type_ok(mt, m, fopt)) {
            if (csy == 2) {
                cJSON_Delete(out);
                snprintf(why, whylen, "member %s is missing or not of memberType %d",
                         e->valuestring, mt);
                return RSC_GROUP_MEMBER_TYPE_INCONSISTENT;
            }
            if (csy == 3 && m != NULL) {
                mixed = true;
            } else {
                continue; /* ABANDON_MEMBER */
            }
        }
        cJSON_AddItemToArray(out, cJSON_CreateString(e->valuestring));
    }
    if (cJSON_GetArraySize(out) > mnm) {
        cJSON_Delete(out);
        snprintf(why, whylen, "memberIDs exceed maxNrOfMembers");
        return RSC_MAX_NUMBER_OF_MEMBER_EXCEEDED;
    }
    int n = cJSON_GetArraySize(out);
    cJSON_ReplaceItemInObjectCaseSensitive(attrs, "mid", out);
    if (mixed)
        cJSON_ReplaceItemInObjectCaseSensitive(attrs, "mt", cJSON_CreateNumber(0));
    cJSON_DeleteItemFromObjectCaseSensitive(attrs, "cnm");
    cJSON_AddNumberToObject(attrs, "cnm", n);
    if (!cJSON_GetObjectItemCaseSensitive(attrs, "mnm"))
        cJSON_AddNumberToObject(attrs, "mnm", (double)mnm);
    cJSON_DeleteItemFromObjectCaseSensitive(attrs, "mtv");
    cJSON_AddTrueToObject(attrs, "mtv");
    return RSC_OK;
}

void grp_fanout(struct rq *q, struct target *t)
{
    struct res *grp = t->r;
    if (q->depth >= FOPT_MAX_DEPTH) {
        m2m_response_error(q->resp, RSC_BAD_REQUEST, "fan-out nested too deeply");
        return;
    }
    if (q->req->op == M2M_OP_CREATE && q->req->ty == TY_SUB) {
        m2m_response_error(q->resp, RSC_NOT_IMPLEMENTED,
                           "subscriptions through a fanOutPoint are not supported");
        return;
    }
    uint32_t op = authz_op_bit(q->req);
    if (!authz_check_fopt(q, grp, op)) {
        m2m_response_error(q->resp, RSC_ORIGINATOR_HAS_NO_PRIVILEGE,
                           "access denied: the originator has no privilege");
        return;
    }
    const cJSON *mid = cJSON_GetObjectItemCaseSensitive(grp->attrs, "mid");
    if (cJSON_GetArraySize(mid) == 0) {
        m2m_response_error(q->resp, RSC_NO_MEMBERS, "the group has no members");
        return;
    }
    /* copy the member list: a fanned-out DELETE may change the group */
    cJSON *members = cJSON_Duplicate(mid, true);
    cJSON *body = cJSON_CreateObject();
    cJSON *agr = cJSON_AddObjectToObject(body, "m2m:agr");
    cJSON *list = cJSON_AddArrayToObject(agr, "m2m:rsp");
    const cJSON *e;
    cJSON_ArrayForEach(e, members)
    {
        if (!cJSON_IsString(e))
            continue;
        char to[2048];
        snprintf(to, sizeof to, "%s%s", e->valuestring, t->rest);
        struct m2m_response sub;
        m2m_response_init(&sub);
        struct rq q2 = *q;
        q2.resp = &sub;
        q2.depth = q->depth + 1;
        q2.notes = NULL;
        struct target mt;
        char why[256];
        m2m_rsc rsc = cse_resolve(&q2, to, &mt, why, sizeof why);
        if (rsc != RSC_OK) {
            m2m_response_error(&sub, rsc, "%s", why);
        } else if (mt.virt == VIRT_FOPT) {
            grp_fanout(&q2, &mt);
        } else {
            switch (q->req->op) {
            case M2M_OP_CREATE: h_create(&q2, &mt); break;
            case M2M_OP_RETRIEVE: h_retrieve(&q2, &mt); break;
            case M2M_OP_UPDATE: h_update(&q2, &mt); break;
            case M2M_OP_DELETE: h_delete(&q2, &mt); break;
            default: m2m_response_error(&sub, RSC_OPERATION_NOT_ALLOWED, "not supported");
            }
        }
        if (q2.notes) {
            struct note *tail = q2.notes;
            while (tail->next)
                tail = tail->next;
            tail->next = q->notes;
            q->notes = q2.notes;
        }
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "rsc", sub.rsc);
        if (q->req->rqi)
            cJSON_AddStringToObject(r, "rqi", q->req->rqi);
        cJSON_AddStringToObject(r, "to", e->valuestring);
        cJSON_AddStringToObject(r, "fr", q->cse->cfg.cse_id);
        if (sub.body) {
            cJSON *pc = NULL;
            if (json_parse((const uint8_t *)sub.body, sub.body_len, 512, &pc) == M2M_OK)
                cJSON_AddItemToObject(r, "pc", pc);
        }
        cJSON_AddItemToArray(list, r);
        m2m_response_clear(&sub);
    }
    cJSON_Delete(members);
    q->resp->rsc = RSC_OK;
    (void)res_set_rsp_body(q, body);
}
