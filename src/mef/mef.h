/* mef.h: the M2M Enrolment Function server (TS-0003 8.3, SPEC-MAP G1-G10, docs/MEF.md): its
 * configuration, and start/stop of the Mmef listeners (HTTPS with PSK or certificate clients,
 * plus the EST routes, on src/net/server.h; CoAPS on src/bind/coap/coap_server.h) and the store
 * of src/mef/mef_store.h. */
#ifndef M2M_MEF_MEF_H
#define M2M_MEF_MEF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"
#include "mef/mef_codec.h"
#include "mef/mef_store.h"

#define MEF_DEFAULT_FQDN "mef.m2msec.test"
#define MEF_ADMIN_FQDNS_MAX 16

#define MEF_DEFAULT_COAPS_PORT 5685

/* Every key of etc/mef.conf (docs/MEF.md "Set-up"). */
struct mef_config {
    char data_dir[400];
    char fqdn[MEF_FQDN_MAX + 1]; /* mef.fqdn */
    char listen_addr[64];        /* mef.listen, default 127.0.0.1:8444 */
    int listen_port;             /* 0 = ephemeral */
    /* mef.coaps_listen: the CoAPS (DTLS 1.2) listener, default 127.0.0.1:5685, or "off". Never
     * plain CoAP: every Mmef request needs an authenticated client. While not set explicitly it
     * follows an ephemeral mef.listen (port 0 there means port 0 here too). */
    char coaps_addr[64];
    int coaps_port;             /* -1 = off, 0 = ephemeral */
    bool coaps_set;             /* mef.coaps_listen was configured */
    int64_t enrolment_expiry_s; /* mef.enrolment_expiry, TS-0003 10.7, default 86400 */
    int64_t registration_max_s; /* mef.registration_max, default 31536000 */
    char retry_duration[32];    /* mef.retry_duration, default PT1H */
    int cert_days;              /* mef.cert_days, default 365 */
    char admin_fqdns[MEF_ADMIN_FQDNS_MAX][MEF_FQDN_MAX + 1]; /* mef.admin_fqdns, "" = any */
    int n_admin_fqdns;
    char client_ca[512]; /* mef.client_ca: extra trust anchors, "" = none */
    int log_level;       /* log.level */
    size_t max_body;     /* limits.max_body, <= MEF_BODY_MAX */
    int max_connections; /* limits.max_connections */
    int threads;         /* limits.threads, default 2 */
    /* per-client caps (docs/MEF.md "Limits"), 0 = none: mef.max_enrolments_per_client (64),
     * mef.max_registrations_per_client (16), mef.max_keys_per_client (64),
     * mef.max_certs_per_day (16) */
    struct mef_store_limits limits;
};

void mef_config_default(struct mef_config *c);
/* Applies one "key = value" (the conf_parse callback form). M2M_ERR_CONFIG with a message in
 * err for an unknown key or a bad value. */
M2M_WARN_UNUSED m2m_rc mef_config_set(struct mef_config *c, const char *key, const char *value,
                                      char *err, size_t errlen);
/* Loads a file (src/base/conf.h format). */
M2M_WARN_UNUSED m2m_rc mef_config_load(struct mef_config *c, const char *path, char *err,
                                       size_t errlen);

struct mef_server;

/* Opens DIR/mef.db and the MEF CA (DIR/ca.pem, DIR/ca.key; created by `m2msec mef init`),
 * binds the listeners (HTTPS, and CoAPS unless mef.coaps_listen is off) and starts serving.
 * M2M_ERR_CONFIG when the data directory was never initialised or DTLS is unavailable,
 * M2M_ERR_IO when a listener cannot bind. */
M2M_WARN_UNUSED m2m_rc mef_server_start(const struct mef_config *cfg, struct mef_server **out);
/* The bound HTTPS port (for mef.listen port 0). */
int mef_server_port(const struct mef_server *m);
/* The bound CoAPS port, -1 when the CoAPS listener is off. */
int mef_server_coaps_port(const struct mef_server *m);
/* Stops the listeners, closes the store. NULL is a no-op. */
void mef_server_stop(struct mef_server *m);

#endif
