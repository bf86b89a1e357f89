/* config.c: configuration defaults, keys and validation. */
#include "cse/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/conf.h"
#include "base/log.h"
#include "crypto/kdf.h"

void cse_config_default(struct cse_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->data_dir, sizeof c->data_dir, "./var");
    snprintf(c->cse_id, sizeof c->cse_id, "/id-in");
    snprintf(c->cse_name, sizeof c->cse_name, "cse-in");
    snprintf(c->sp_id, sizeof c->sp_id, "m2msec.example.com");
    snprintf(c->admin, sizeof c->admin, "CAdmin");
    c->cse_type = 1;
    snprintf(c->http_addr, sizeof c->http_addr, "127.0.0.1");
    c->http_port = 8080;
    snprintf(c->https_addr, sizeof c->https_addr, "127.0.0.1");
    c->https_port = 8443;
    snprintf(c->coap_addr, sizeof c->coap_addr, "127.0.0.1");
    c->coap_port = 5683;
    snprintf(c->coaps_addr, sizeof c->coaps_addr, "127.0.0.1");
    c->coaps_port = 5684;
    c->coap_response_options = true;
    c->log_level = M2M_LOG_INFO;
    c->default_et_s = 10LL * 365 * 86400;
    c->max_json_depth = 32;
    c->max_children_list = 10000;
    c->notify_threads = 2;
    c->notify_queue = 10000;
    c->notify_timeout_ms = 3000;
    c->notify_retries = 2;
    c->max_subscriptions_per_resource = 64;
    c->group_max_members = 10000;
    c->writer_batch = 512;
    c->audit_max_bytes = 10u << 20;
    c->audit_keep = 5;
    c->rate_burst = 0;
    c->tls_psk = true;
    c->mef.enabled_set = -1;
    c->mef.suid = 22; /* TS-0003 Table 12.4.2-1 (m2m:suid): RSPF key for the SAEF */
    c->mef.timeout_ms = 3000;
    c->mef.cache_max = 1024;
    c->mef.negative_ttl_s = 30;
    c->mef.workers = 2;
    c->mef.queue_max = 64;
    c->mef.revalidate_s = 300;
    c->mef.update_asar = true;
    srv_cfg_default(&c->srv);
}

m2m_rc cse_config_parse_listen(const char *v, char *addr, size_t addrlen, int *port)
{
    if (strcmp(v, "off") == 0) {
        *port = -1;
        return M2M_OK;
    }
    const char *colon;
    const char *a = v;
    size_t alen;
    if (v[0] == '[') {
        const char *close = strchr(v, ']');
        if (close == NULL || close[1] != ':')
            return M2M_ERR_CONFIG;
        a = v + 1;
        alen = (size_t)(close - a);
        colon = close + 1;
    } else {
        colon = strrchr(v, ':');
        if (colon == NULL)
            return M2M_ERR_CONFIG;
        alen = (size_t)(colon - v);
    }
    if (alen == 0 || alen >= addrlen)
        return M2M_ERR_CONFIG;
    long p;
    if (!conf_parse_int(colon + 1, 0, 65535, &p))
        return M2M_ERR_CONFIG;
    memcpy(addr, a, alen);
    addr[alen] = 0;
    *port = (int)p;
    return M2M_OK;
}

static m2m_rc copy_str(char *dst, size_t n, const char *v)
{
    size_t l = strlen(v);
    if (l == 0 || l >= n)
        return M2M_ERR_CONFIG;
    memcpy(dst, v, l + 1);
    return M2M_OK;
}

#define INT_KEY(name, field, lo, hi)                                                               \
    if (strcmp(key, name) == 0) {                                                                  \
        long v_;                                                                                   \
        if (!conf_parse_int(value, lo, hi, &v_))                                                   \
            goto bad;                                                                              \
        c->field = (int)v_;                                                                        \
        return M2M_OK;                                                                             \
    }
#define STR_KEY(name, field)                                                                       \
    if (strcmp(key, name) == 0) {                                                                  \
        if (copy_str(c->field, sizeof c->field, value) != M2M_OK)                                  \
            goto bad;                                                                              \
        return M2M_OK;                                                                             \
    }
#define BOOL_KEY(name, field)                                                                      \
    if (strcmp(key, name) == 0) {                                                                  \
        if (!conf_parse_bool(value, &c->field))                                                    \
            goto bad;                                                                              \
        return M2M_OK;                                                                             \
    }
#define SIZE_KEY(name, field)                                                                      \
    if (strcmp(key, name) == 0) {                                                                  \
        size_t v_;                                                                                 \
        if (!conf_parse_size(value, &v_) || v_ == 0)                                               \
            goto bad;                                                                              \
        c->field = v_;                                                                             \
        return M2M_OK;                                                                             \
    }

/* mef.asar_rules: "" or resource names separated by commas (spaces around them allowed); a name
 * is unreserved URI characters (TS-0001 9.2: a resourceName is one path segment). */
static bool asar_rules_valid(const char *v)
{
    bool in_name = false, had_name = false;
    for (const char *p = v;; p++) {
        char ch = *p;
        if (ch == 0 || ch == ',') {
            if (!had_name && (ch == ',' || p != v))
                return false; /* empty name */
            if (ch == 0)
                return true;
            in_name = had_name = false;
        } else if (ch == ' ') {
            if (in_name) /* a space ends the name; only ',' or the end may follow */
                in_name = false;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            if (had_name && !in_name)
                return false; /* "a b" */
            in_name = had_name = true;
        } else {
            return false;
        }
    }
}

/* The mef.* keys (docs/CONFIG.md "Enrolment Target"). */
static m2m_rc mef_set(struct cse_config *c, const char *key, const char *value, char *err,
                      size_t errlen)
{
    if (strcmp(key, "mef.enabled") == 0) {
        bool b;
        if (!conf_parse_bool(value, &b))
            goto bad;
        c->mef.enabled_set = b;
        return M2M_OK;
    }
    STR_KEY("mef.url", mef.url)
    STR_KEY("mef.fqdn", mef.fqdn)
    STR_KEY("mef.ca_file", mef.ca_file)
    STR_KEY("mef.cert", mef.cert_file)
    STR_KEY("mef.key", mef.key_file)
    STR_KEY("mef.psk_identity", mef.psk_identity)
    STR_KEY("mef.psk_key_file", mef.psk_key_file)
    STR_KEY("mef.originator", mef.originator)
    INT_KEY("mef.suid", mef.suid, 0, 1000)
    INT_KEY("mef.timeout_ms", mef.timeout_ms, 100, 600000)
    INT_KEY("mef.cache_max", mef.cache_max, 1, 65536)
    INT_KEY("mef.negative_ttl_s", mef.negative_ttl_s, 1, 86400)
    INT_KEY("mef.workers", mef.workers, 1, 4)
    INT_KEY("mef.queue_max", mef.queue_max, 1, 4096)
    INT_KEY("mef.revalidate_s", mef.revalidate_s, 0, 86400)
    BOOL_KEY("mef.update_asar", mef.update_asar)
    if (strcmp(key, "mef.asar_rules") == 0) {
        if (!asar_rules_valid(value) ||
            copy_str(c->mef.asar_rules, sizeof c->mef.asar_rules, value) != M2M_OK)
            goto bad;
        return M2M_OK;
    }
    snprintf(err, errlen, "unknown configuration key '%s'", key);
    return M2M_ERR_CONFIG;
bad:
    snprintf(err, errlen, "invalid value for '%s'", key);
    return M2M_ERR_CONFIG;
}

m2m_rc cse_config_set(struct cse_config *c, const char *key, const char *value, char *err,
                      size_t errlen)
{
    STR_KEY("data_dir", data_dir)
    STR_KEY("cse.id", cse_id)
    STR_KEY("cse.name", cse_name)
    STR_KEY("cse.sp_id", sp_id)
    STR_KEY("cse.admin", admin)
    INT_KEY("cse.type", cse_type, 1, 3)
    if (strcmp(key, "http.listen") == 0) {
        if (cse_config_parse_listen(value, c->http_addr, sizeof c->http_addr, &c->http_port))
            goto bad;
        return M2M_OK;
    }
    if (strcmp(key, "https.listen") == 0) {
        if (cse_config_parse_listen(value, c->https_addr, sizeof c->https_addr, &c->https_port))
            goto bad;
        return M2M_OK;
    }
    if (strcmp(key, "coap.listen") == 0) {
        if (cse_config_parse_listen(value, c->coap_addr, sizeof c->coap_addr, &c->coap_port))
            goto bad;
        return M2M_OK;
    }
    if (strcmp(key, "coaps.listen") == 0) {
        if (cse_config_parse_listen(value, c->coaps_addr, sizeof c->coaps_addr, &c->coaps_port))
            goto bad;
        return M2M_OK;
    }
    BOOL_KEY("coap.trusted", coap_trusted)
    BOOL_KEY("coaps.trusted", coaps_trusted)
    BOOL_KEY("coap.response_options", coap_response_options)
    BOOL_KEY("http.trusted", http_trusted)
    BOOL_KEY("https.trusted", https_trusted)
    if (strcmp(key, "log.level") == 0) {
        int l = m2m_log_level_parse(value);
        if (l < 0)
            goto bad;
        c->log_level = l;
        return M2M_OK;
    }
    if (strcmp(key, "cse.default_et_seconds") == 0) {
        long v;
        if (!conf_parse_int(value, 60, 100L * 365 * 86400, &v))
            goto bad;
        c->default_et_s = v;
        return M2M_OK;
    }
    INT_KEY("limits.max_json_depth", max_json_depth, 2, 512)
    SIZE_KEY("limits.max_result_list", max_children_list)
    INT_KEY("limits.max_subscriptions_per_resource", max_subscriptions_per_resource, 1, 100000)
    INT_KEY("limits.group_max_members", group_max_members, 1, 100000)
    INT_KEY("notify.threads", notify_threads, 1, 64)
    INT_KEY("notify.queue", notify_queue, 1, 10000000)
    INT_KEY("notify.timeout_ms", notify_timeout_ms, 100, 600000)
    INT_KEY("notify.retries", notify_retries, 0, 10)
    INT_KEY("store.batch", writer_batch, 1, 100000)
    STR_KEY("audit.path", audit_path)
    SIZE_KEY("audit.max_bytes", audit_max_bytes)
    INT_KEY("audit.keep", audit_keep, 1, 99)
    STR_KEY("location.file", location_file)
    if (strcmp(key, "limits.rate_per_originator") == 0 || strcmp(key, "limits.rate_burst") == 0) {
        long v;
        if (!conf_parse_int(value, 0, 100000000, &v))
            goto bad;
        if (strcmp(key, "limits.rate_per_originator") == 0)
            c->rate_per_originator = (double)v;
        else
            c->rate_burst = (double)v;
        return M2M_OK;
    }
    INT_KEY("net.threads", srv.threads, 1, 256)
    INT_KEY("limits.max_connections", srv.max_connections, 1, 1000000)
    INT_KEY("limits.idle_timeout_ms", srv.idle_timeout_ms, 100, 86400000)
    INT_KEY("limits.read_timeout_ms", srv.read_timeout_ms, 100, 86400000)
    INT_KEY("limits.handshake_timeout_ms", srv.handshake_timeout_ms, 100, 86400000)
    INT_KEY("limits.max_pipeline", srv.max_pipeline, 1, 1024)
    SIZE_KEY("limits.max_body", srv.http.max_body)
    SIZE_KEY("limits.max_header_bytes", srv.http.max_header_bytes)
    if (strcmp(key, "limits.max_buffered_bytes") == 0) { /* 0 = unlimited */
        size_t v_;
        if (!conf_parse_size(value, &v_))
            goto bad;
        c->srv.max_buffered_bytes = v_;
        return M2M_OK;
    }
    SIZE_KEY("limits.max_uri", srv.http.max_uri)
    if (strcmp(key, "limits.max_headers") == 0) {
        long v;
        if (!conf_parse_int(value, 1, HTTP_MAX_HEADERS_HARD, &v))
            goto bad;
        c->srv.http.max_headers = (size_t)v;
        return M2M_OK;
    }
    STR_KEY("tls.cert", srv.tls.cert_file)
    STR_KEY("tls.key", srv.tls.key_file)
    STR_KEY("tls.client_ca", srv.tls.ca_file)
    STR_KEY("tls.crl", srv.tls.crl_file)
    STR_KEY("tls.priorities", srv.tls.priorities)
    BOOL_KEY("tls.require_client_cert", srv.tls.require_client_cert)
    BOOL_KEY("tls.psk", tls_psk)
    STR_KEY("credentials.path", cred_path)
    STR_KEY("tls.server_names", srv.tls.server_names)
    INT_KEY("limits.max_connections_per_ip", srv.max_connections_per_ip, 0, 1000000)
    if (strncmp(key, "mef.", 4) == 0)
        return mef_set(c, key, value, err, errlen);
    snprintf(err, errlen, "unknown configuration key '%s'", key);
    return M2M_ERR_CONFIG;
bad:
    snprintf(err, errlen, "invalid value for '%s'", key);
    return M2M_ERR_CONFIG;
}

struct load_ctx {
    struct cse_config *c;
    char *err;
    size_t errlen;
};

static m2m_rc load_cb(void *ctx, const char *key, const char *value, int line)
{
    struct load_ctx *l = ctx;
    return cse_config_set(l->c, key, value, l->err, l->errlen);
}

m2m_rc cse_config_load(struct cse_config *c, const char *path, char *err, size_t errlen)
{
    struct load_ctx l = {c, err, errlen};
    m2m_rc rc = conf_parse_file(path, load_cb, &l, err, errlen);
    return rc == M2M_OK ? M2M_OK : M2M_ERR_CONFIG;
}

/* The Enrolment Target settings hold together: an https:// MEF, its FQDN, one credential. */
static m2m_rc mef_finish(struct cse_mef_cfg *m, char *err, size_t errlen)
{
    m->enabled = m->enabled_set < 0 ? m->url[0] != 0 : m->enabled_set == 1;
    if (!m->enabled)
        return M2M_OK;
    const char *why = NULL;
    if (strncmp(m->url, "https://", 8) != 0)
        why = "mef.url must be an https:// URL"; /* TS-0003 8.3.2.1: a secured association */
    else if (!kdf_fqdn_valid((const uint8_t *)m->fqdn, strlen(m->fqdn)))
        why = "mef.fqdn must be the MEF's FQDN in lower case";
    else if ((m->cert_file[0] != 0) == (m->psk_identity[0] != 0))
        why = "set either mef.cert and mef.key or mef.psk_identity and mef.psk_key_file";
    else if (m->cert_file[0] && !m->key_file[0])
        why = "mef.cert needs mef.key";
    else if (m->psk_identity[0] && !m->psk_key_file[0])
        why = "mef.psk_identity needs mef.psk_key_file";
    else if (!kdf_suid_valid((unsigned)m->suid))
        why = "mef.suid is not a value of m2m:suid";
    if (why != NULL) {
        snprintf(err, errlen, "%s", why);
        return M2M_ERR_CONFIG;
    }
    return M2M_OK;
}

m2m_rc cse_config_finish(struct cse_config *c, char *err, size_t errlen)
{
    /* TS-0001 7.2: an SP-relative CSE-ID is "/" followed by unreserved characters. */
    if (c->cse_id[0] != '/' || c->cse_id[1] == 0 || strchr(c->cse_id + 1, '/') != NULL) {
        snprintf(err, errlen, "cse.id must look like /id-in");
        return M2M_ERR_CONFIG;
    }
    if (strchr(c->cse_name, '/') != NULL || strcmp(c->cse_name, "-") == 0 ||
        strcmp(c->cse_name, "~") == 0 || strcmp(c->cse_name, "_") == 0) {
        snprintf(err, errlen, "cse.name must be a single path segment");
        return M2M_ERR_CONFIG;
    }
    if (c->admin[0] != 'C' && c->admin[0] != 'S') {
        snprintf(err, errlen, "cse.admin must be an AE-ID stem starting with C or S");
        return M2M_ERR_CONFIG;
    }
    RETURN_IF_ERR(mef_finish(&c->mef, err, errlen));
    struct srv_cfg *s = &c->srv;
    s->n_listeners = 0;
    if (c->http_port >= 0) {
        struct srv_listener_cfg *l = &s->listeners[s->n_listeners++];
        snprintf(l->addr, sizeof l->addr, "%s", c->http_addr);
        l->port = c->http_port;
        l->tls = false;
        l->trusted = c->http_trusted;
    }
    if (c->https_port >= 0) {
        struct srv_listener_cfg *l = &s->listeners[s->n_listeners++];
        snprintf(l->addr, sizeof l->addr, "%s", c->https_addr);
        l->port = c->https_port;
        l->tls = true;
        l->trusted = c->https_trusted;
    }
    if (s->n_listeners == 0) {
        snprintf(err, errlen, "no listener: enable http or https");
        return M2M_ERR_CONFIG;
    }
    if (s->threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->threads = n > 0 ? (int)n : 1;
    }
    return M2M_OK;
}
