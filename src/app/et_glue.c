/* et_glue.c: the Enrolment Target's fetch (docs/MEF.md fetchCredentials, TS-0003 8.3.2.1 steps
 * 2-6) on top of the device library, and its wiring into the CSE's TLS credential hooks. */
#include "app/et_glue.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/secret.h"
#include "cse/config.h"
#include "cse/cse.h"
#include "keys/credstore.h"
#include "keys/keyfile.h"
#include "keys/mefcache.h"
#include "m2msec/client.h"
#include "m2msec/mef.h"
#include "tls/tls.h"

struct et_glue {
    struct cse *cse;
    struct m2msec_client *clients[MEFCACHE_MAX_WORKERS]; /* one per worker: no lock needed */
    int n_clients;
    struct mefcache *cache;
    int suid;
    int timeout_ms;
    bool update_asar;        /* G5 step 6 on: mef.asar_rules set and mef.update_asar */
    pthread_mutex_t asar_mu; /* orders a removal's liveness check with the additions */
};

/* mef.psk_key_file: the Kpm as hex digits (a trailing newline is fine), 16..64 bytes. */
static const struct keyfile_rule KPM_RULE = {CRED_PSK_MIN, CRED_PSK_MAX, true};

/* One client towards the MEF: TS-0003 8.3.2.1 step 2, a mutually authenticated association with
 * the pre-configured MEF (certificate or Kpm), server name = mef.fqdn. */
static m2m_rc new_client(const struct cse_config *cfg, struct m2msec_client **out, char *err,
                         size_t errlen)
{
    const struct cse_mef_cfg *m = &cfg->mef;
    struct m2msec_client_cfg cc;
    uint8_t psk[CRED_PSK_MAX];
    size_t psk_len = 0;
    m2m_rc rc = M2M_OK;
    m2msec_client_cfg_init(&cc);
    cc.url = m->url;
    cc.originator = m->originator[0] ? m->originator : cfg->cse_id;
    cc.server_name = m->fqdn;
    cc.ca_file = m->ca_file[0] ? m->ca_file : NULL;
    cc.connect_timeout_ms = m->timeout_ms;
    cc.timeout_ms = m->timeout_ms;
    cc.max_response = 64 * 1024; /* docs/MEF.md: bodies are at most 64 KiB */
    if (m->cert_file[0]) {
        cc.cred = M2MSEC_CRED_CERT;
        cc.cert_file = m->cert_file;
        cc.key_file = m->key_file;
    } else {
        if (keyfile_read(m->psk_key_file, &KPM_RULE, psk, sizeof psk, &psk_len) != M2M_OK) {
            snprintf(err, errlen, "mef.psk_key_file %s: unreadable or not a 16..64 byte key",
                     m->psk_key_file);
            BAIL(M2M_ERR_CONFIG);
        }
        cc.cred = M2MSEC_CRED_PSK;
        cc.psk_identity = m->psk_identity;
        cc.psk_key = psk;
        cc.psk_key_len = psk_len;
    }
    char why[256] = "";
    if (m2msec_client_new(&cc, out, why, sizeof why) != M2MSEC_OK) {
        snprintf(err, errlen, "MEF client: %s", why);
        BAIL(M2M_ERR_CONFIG);
    }
out:
    m2m_wipe(psk, sizeof psk);
    return rc;
}

/* TS-0003 8.3.2.1 step 5: a usable answer has a key, a lifetime and an enrolee ID we can bind. */
static bool answer_usable(size_t key_len, const char *enrolee, int64_t life)
{
    return key_len >= 1 && key_len <= MEFCACHE_KEY_MAX && life > 0 && enrolee[0] != 0 &&
           credstore_bind_valid(enrolee);
}

/* A failed fetchCredentials as the cache needs it (struct mefcache_fetch): M2M_ERR_DENIED only
 * for the MEF's definitive "no" about this enrolment (docs/MEF.md: 4004 unknown KeID, enrolment
 * deleted or expired; 4103 this target not allowed for the enrolee and SUID). Other refusals say
 * nothing about the enrolment (4000 a request we should not have made, 4106 our own From, 5xxx
 * the MEF's trouble) and count with transport failures: M2M_ERR_IO. */
static m2m_rc fetch_failure(int r, int rsc)
{
    if (r == M2MSEC_ERR_RSC && (rsc == RSC_NOT_FOUND || rsc == RSC_ORIGINATOR_HAS_NO_PRIVILEGE))
        return M2M_ERR_DENIED;
    return M2M_ERR_IO;
}

/* The mefcache fetch: steps 3-5 (RETRIEVE /fetchCredentials/<KeID>/<SUID> with From = our
 * identity), then, on a first fetch, step 6 before the handshake resumes, so that the enrolee's
 * registration that follows finds the rules already updated. A revalidation leaves the rules
 * alone: they were updated at the first fetch, and an administrator may have edited them since. */
static m2m_rc fetch(void *ctx, int worker, const char *keid, bool revalidate, uint8_t *key,
                    size_t *key_len, char enrolee[M2M_ID_MAX], int64_t *lifetime_s)
{
    struct et_glue *g = ctx;
    struct m2msec_client *c = g->clients[worker];
    int rsc = 0;
    int r = m2msec_mef_fetch_credentials(c, keid, g->suid, key, key_len, enrolee, M2M_ID_MAX,
                                         lifetime_s, &rsc);
    if (r != M2MSEC_OK) {
        log_warn("mef: fetchCredentials %s%s failed: %s (rsc %d) %s", keid,
                 revalidate ? " (revalidation)" : "", m2msec_result_str(r), rsc,
                 m2msec_client_errmsg(c));
        return fetch_failure(r, rsc);
    }
    enrolee[M2M_ID_MAX - 1] = 0;
    if (!answer_usable(*key_len, enrolee, *lifetime_s)) {
        log_warn("mef: fetchCredentials %s: unusable answer (no key, lifetime or enrolee ID)",
                 keid);
        return M2M_ERR_MALFORMED;
    }
    if (g->update_asar && !revalidate) {
        char cred[M2M_ID_MAX];
        snprintf(cred, sizeof cred, "%d-%.250s", CRED_TYPE_SAEF_PSK, keid);
        pthread_mutex_lock(&g->asar_mu);
        m2m_rc rc = cse_asar_add_credential(g->cse, cred, enrolee, g->timeout_ms);
        pthread_mutex_unlock(&g->asar_mu);
        if (rc != M2M_OK) /* the key is still good; registration may be refused by the rules */
            log_warn("mef: registration rules not updated for %s: %s", cred, m2m_rc_str(rc));
    }
    return M2M_OK;
}

/* The mefcache on_drop: the key of keid left the cache (expired, evicted, withdrawn or changed by
 * the MEF), so its Credential-ID leaves the designated rules again and they do not grow without
 * bound. Runs on a fetch worker. Under asar_mu, and skipped when the KeID is live again (being
 * fetched, or cached anew): an addition for the new key either ran before (and its entry must
 * stay) or runs after this (and adds it back). A KeID refetched and then refused keeps its entry
 * until its next drop, which is harmless: the Credential-ID cannot be presented without the key. */
static void on_drop(void *ctx, const char *keid)
{
    struct et_glue *g = ctx;
    char cred[M2M_ID_MAX];
    snprintf(cred, sizeof cred, "%d-%.250s", CRED_TYPE_SAEF_PSK, keid);
    pthread_mutex_lock(&g->asar_mu);
    m2m_rc rc = M2M_OK;
    if (!mefcache_holds(g->cache, keid))
        rc = cse_asar_remove_credential(g->cse, cred, g->timeout_ms);
    pthread_mutex_unlock(&g->asar_mu);
    if (rc != M2M_OK)
        log_warn("mef: %s not removed from the registration rules: %s", cred, m2m_rc_str(rc));
}

static m2m_rc start_cache(struct et_glue *g, const struct cse_config *cfg)
{
    struct mefcache_cfg mc;
    mefcache_cfg_default(&mc);
    mc.mef_fqdn = cfg->mef.fqdn;
    mc.max_entries = (size_t)cfg->mef.cache_max;
    mc.negative_ttl_s = cfg->mef.negative_ttl_s;
    mc.workers = cfg->mef.workers;
    mc.queue_max = cfg->mef.queue_max;
    mc.revalidate_s = cfg->mef.revalidate_s;
    mc.fetch = (struct mefcache_fetch){fetch, g};
    if (g->update_asar) {
        mc.on_drop = on_drop;
        mc.drop_ctx = g;
    }
    return mefcache_new(&mc, &g->cache);
}

m2m_rc et_glue_start(struct cse_config *cfg, struct cse *cse, struct et_glue **out, char *err,
                     size_t errlen)
{
    m2m_rc rc = M2M_OK;
    struct et_glue *g = NULL;
    *out = NULL;
    if (!cfg->mef.enabled)
        return M2M_OK;
    if (cfg->https_port < 0 || !cfg->tls_psk) {
        snprintf(err, errlen, "mef.* needs the HTTPS listener and tls.psk = true");
        return M2M_ERR_CONFIG;
    }
    g = calloc(1, sizeof *g);
    ENSURE_NONNULL(g);
    g->cse = cse;
    pthread_mutex_init(&g->asar_mu, NULL);
    g->suid = cfg->mef.suid;
    g->timeout_ms = cfg->mef.timeout_ms;
    g->update_asar = cfg->mef.update_asar && cfg->mef.asar_rules[0] != 0;
    for (int i = 0; i < cfg->mef.workers; i++) {
        TRY(new_client(cfg, &g->clients[i], err, errlen));
        g->n_clients++;
    }
    if ((rc = start_cache(g, cfg)) != M2M_OK) {
        snprintf(err, errlen, "cannot start the MEF key cache: %s", m2m_rc_str(rc));
        goto out;
    }
    struct tls_cred_hooks inner = cfg->srv.tls.creds;
    mefcache_tls_hooks(g->cache, &inner, &cfg->srv.tls.creds);
    log_info("Enrolment Target: KeIDs of %s fetched from %s (SUID %d); registration rules "
             "updated: %s",
             cfg->mef.fqdn, cfg->mef.url, cfg->mef.suid,
             g->update_asar ? cfg->mef.asar_rules : "none");
    *out = g;
    return M2M_OK;
out:
    et_glue_free(g);
    return rc;
}

void et_glue_shutdown(struct et_glue *g)
{
    if (g != NULL)
        mefcache_shutdown(g->cache);
}

void et_glue_free(struct et_glue *g)
{
    if (g == NULL)
        return;
    mefcache_free(g->cache); /* joins the workers before their clients go */
    for (int i = 0; i < g->n_clients; i++)
        m2msec_client_free(g->clients[i]);
    pthread_mutex_destroy(&g->asar_mu);
    free(g);
}
