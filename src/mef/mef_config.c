/* mef_config.c: the configuration of `m2msec mef` (etc/mef.conf, docs/MEF.md "Set-up"). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/conf.h"
#include "base/log.h"
#include "mef/mef.h"

void mef_config_default(struct mef_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->data_dir, sizeof c->data_dir, "./mef");
    snprintf(c->fqdn, sizeof c->fqdn, "%s", MEF_DEFAULT_FQDN);
    snprintf(c->listen_addr, sizeof c->listen_addr, "127.0.0.1");
    c->listen_port = 8444;
    snprintf(c->coaps_addr, sizeof c->coaps_addr, "127.0.0.1");
    c->coaps_port = MEF_DEFAULT_COAPS_PORT;
    c->enrolment_expiry_s = 86400; /* TS-0003 10.7: Enrolment Expiry, configured */
    c->registration_max_s = 31536000;
    snprintf(c->retry_duration, sizeof c->retry_duration, "PT1H");
    c->cert_days = 365;
    c->log_level = M2M_LOG_INFO;
    c->max_body = MEF_BODY_MAX;
    c->max_connections = 256;
    c->threads = 2;
    mef_store_limits_default(&c->limits);
}

/* The per-client caps (docs/MEF.md "Limits"): 0 .. 1000000, 0 = no cap. false when k is none
 * of them or v is out of range. */
static bool apply_limit(struct mef_config *c, const char *k, const char *v)
{
    static const struct {
        const char *key;
        size_t off;
    } L[] = {
        {"mef.max_enrolments_per_client", offsetof(struct mef_store_limits, enrolments)},
        {"mef.max_registrations_per_client", offsetof(struct mef_store_limits, registrations)},
        {"mef.max_keys_per_client", offsetof(struct mef_store_limits, keys)},
        {"mef.max_certs_per_day", offsetof(struct mef_store_limits, certs_per_day)},
    };
    long x;
    for (size_t i = 0; i < M2M_ARRAY_LEN(L); i++) {
        if (strcmp(k, L[i].key) != 0)
            continue;
        if (!conf_parse_int(v, 0, 1000000, &x))
            return false;
        *(int *)((char *)&c->limits + L[i].off) = (int)x;
        return true;
    }
    return false;
}

/* "ADDR:PORT" with a numeric IPv4 address or "[v6]" into addr[cap] and *port. */
static bool parse_addr_port(const char *v, char *addr, size_t cap, int *port)
{
    const char *colon = strrchr(v, ':');
    long p;
    if (colon == NULL || !conf_parse_int(colon + 1, 0, 65535, &p))
        return false;
    size_t n = (size_t)(colon - v);
    if (n >= 2 && v[0] == '[' && v[n - 1] == ']') {
        v++;
        n -= 2;
    }
    char tmp[64];
    struct in6_addr a;
    if (n == 0 || n >= cap || n >= sizeof tmp)
        return false;
    memcpy(tmp, v, n);
    tmp[n] = 0;
    if (inet_pton(AF_INET, tmp, &a) != 1 && inet_pton(AF_INET6, tmp, &a) != 1)
        return false; /* the listeners bind numeric addresses only */
    memcpy(addr, tmp, n + 1);
    *port = (int)p;
    return true;
}

/* mef.listen; an ephemeral HTTPS port makes the CoAPS default ephemeral too (tests and several
 * MEFs on one host never collide on 5685), unless mef.coaps_listen was set. */
static bool parse_listen(struct mef_config *c, const char *v)
{
    if (!parse_addr_port(v, c->listen_addr, sizeof c->listen_addr, &c->listen_port))
        return false;
    if (!c->coaps_set)
        c->coaps_port = c->listen_port == 0 ? 0 : MEF_DEFAULT_COAPS_PORT;
    return true;
}

/* mef.coaps_listen: "ADDR:PORT" or "off" (there is no plain CoAP listener to configure). */
static bool parse_coaps(struct mef_config *c, const char *v)
{
    if (strcmp(v, "off") == 0) {
        c->coaps_port = -1;
    } else if (!parse_addr_port(v, c->coaps_addr, sizeof c->coaps_addr, &c->coaps_port)) {
        return false;
    }
    c->coaps_set = true;
    return true;
}

static bool parse_admins(struct mef_config *c, const char *v)
{
    c->n_admin_fqdns = 0;
    while (*v) {
        size_t n = strcspn(v, ", ");
        if (n > 0) {
            if (c->n_admin_fqdns == MEF_ADMIN_FQDNS_MAX || !mef_fqdn_valid(v, n))
                return false;
            snprintf(c->admin_fqdns[c->n_admin_fqdns++], MEF_FQDN_MAX + 1, "%.*s", (int)n, v);
        }
        v += n;
        v += strspn(v, ", ");
    }
    return true;
}

/* ISO 8601 duration of xs:duration as TS-0003 12.4 uses for retryDuration: P, then digits and
 * designators only (a light check; the client parses it). */
static bool duration_ok(const char *v)
{
    size_t n = strlen(v);
    if (n < 3 || n >= 32 || v[0] != 'P')
        return false;
    for (size_t i = 1; i < n; i++)
        if (!strchr("0123456789YMWDTHS.", v[i]))
            return false;
    return true;
}

static bool set_long(const char *v, long lo, long hi, int64_t *out)
{
    long x;
    if (!conf_parse_int(v, lo, hi, &x))
        return false;
    *out = x;
    return true;
}

static bool apply(struct mef_config *c, const char *k, const char *v)
{
    int64_t x;
    size_t sz;
    if (strcmp(k, "data_dir") == 0)
        return snprintf(c->data_dir, sizeof c->data_dir, "%s", v) < (int)sizeof c->data_dir;
    if (strcmp(k, "mef.fqdn") == 0) {
        if (!mef_fqdn_valid(v, strlen(v)))
            return false;
        snprintf(c->fqdn, sizeof c->fqdn, "%s", v);
        return true;
    }
    if (strcmp(k, "mef.listen") == 0)
        return parse_listen(c, v);
    if (strcmp(k, "mef.coaps_listen") == 0)
        return parse_coaps(c, v);
    if (strcmp(k, "mef.enrolment_expiry") == 0)
        return set_long(v, 60, 315360000, &c->enrolment_expiry_s);
    if (strcmp(k, "mef.registration_max") == 0)
        return set_long(v, 60, 315360000, &c->registration_max_s);
    if (strcmp(k, "mef.retry_duration") == 0) {
        if (!duration_ok(v))
            return false;
        snprintf(c->retry_duration, sizeof c->retry_duration, "%s", v);
        return true;
    }
    if (strcmp(k, "mef.cert_days") == 0 && set_long(v, 1, 3650, &x))
        return (c->cert_days = (int)x) > 0;
    if (strcmp(k, "mef.admin_fqdns") == 0)
        return parse_admins(c, v);
    if (strcmp(k, "mef.client_ca") == 0)
        return snprintf(c->client_ca, sizeof c->client_ca, "%s", v) < (int)sizeof c->client_ca;
    if (strcmp(k, "log.level") == 0)
        return (c->log_level = m2m_log_level_parse(v)) >= 0;
    if (strcmp(k, "limits.max_body") == 0 && conf_parse_size(v, &sz) && sz >= 1024 &&
        sz <= MEF_BODY_MAX)
        return (c->max_body = sz) > 0;
    if (strcmp(k, "limits.max_connections") == 0 && set_long(v, 1, 100000, &x))
        return (c->max_connections = (int)x) > 0;
    if (strcmp(k, "limits.threads") == 0 && set_long(v, 1, 16, &x))
        return (c->threads = (int)x) > 0;
    return apply_limit(c, k, v);
}

m2m_rc mef_config_set(struct mef_config *c, const char *key, const char *value, char *err,
                      size_t errlen)
{
    if (apply(c, key, value))
        return M2M_OK;
    snprintf(err, errlen, "unknown key or bad value for '%s'", key);
    return M2M_ERR_CONFIG;
}

static m2m_rc conf_cb_fn(void *ctx, const char *key, const char *value, int line)
{
    char err[300];
    m2m_rc rc = mef_config_set(ctx, key, value, err, sizeof err);
    if (rc != M2M_OK)
        log_error("mef config line %d: %s", line, err);
    return rc;
}

m2m_rc mef_config_load(struct mef_config *c, const char *path, char *err, size_t errlen)
{
    return conf_parse_file(path, conf_cb_fn, c, err, errlen);
}
