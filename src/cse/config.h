/* config.h: the CSE's configuration: defaults, the config file (docs/CONFIG.md lists every key)
 * and command-line flags. Flags override the file, the file overrides the defaults. */
#ifndef M2M_CSE_CONFIG_H
#define M2M_CSE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"
#include "net/server.h"

#define CSE_MAX_KNOWN 16

/* The CSE as Enrolment Target (TS-0003 8.3.2.1, SPEC-MAP G5): where and how to fetch remotely
 * provisioned keys (docs/MEF.md fetchCredentials). Off unless mef.url is set (or mef.enabled). */
struct cse_mef_cfg {
    bool enabled;           /* derived in cse_config_finish */
    int enabled_set;        /* -1 unset, 0/1 mef.enabled given */
    char url[512];          /* "https://host:port" of the MEF */
    char fqdn[254];         /* MEF FQDN: TLS server_name and the "@fqdn" of the KeIDs we fetch */
    char ca_file[512];      /* PEM trust anchors for the MEF's certificate ("" = system store) */
    char cert_file[512];    /* the CSE's client certificate to the MEF ... */
    char key_file[512];     /* ... and its key */
    char psk_identity[256]; /* or a Kpm: its KpmID ... */
    char psk_key_file[512]; /* ... and a file holding the key (hex) */
    char originator[256];   /* From of fetchCredentials; "" = cse.id */
    int suid;               /* m2m:suid of the keys we fetch, default 22 */
    int timeout_ms;         /* per fetch (connect and answer), default 3000 */
    int cache_max;          /* cached keys, default 1024 */
    int negative_ttl_s;     /* failed fetches remembered, default 30 */
    int workers;            /* fetch threads, default 2 */
    int queue_max;          /* pending fetches, default 64 */
    int revalidate_s;       /* re-fetch a cached key after this long, default 300, 0 = never */
    /* G5 step 6: resource names (comma-separated) of the <serviceSubscribedAppRule>s directly
     * under the CSEBase that get the Credential-ID and enrolee stem of a fetched key (and lose
     * the Credential-ID when the key is dropped); "" = step 6 off (default) */
    char asar_rules[1024];
    bool update_asar; /* deprecated: false turns step 6 off even with asar_rules; default true */
};

struct cse_config {
    char data_dir[512];
    char cse_id[64];   /* SP-relative CSE-ID, "/id-in" */
    char cse_name[64]; /* CSEBase resourceName, "cse-in" */
    char sp_id[128];   /* M2M-SP-ID without the leading "//", "m2msec.example.com" */
    char admin[64];    /* admin originator, "CAdmin" */
    int cse_type;      /* 1 IN-CSE, 2 MN-CSE, 3 ASN-CSE */
    char http_addr[64];
    int http_port; /* -1 = off */
    char https_addr[64];
    int https_port; /* -1 = off */
    bool http_trusted, https_trusted;
    char coap_addr[64];  /* CoAP over UDP (TS-0008) */
    int coap_port;       /* -1 = off */
    char coaps_addr[64]; /* CoAP over DTLS 1.2 */
    int coaps_port;      /* -1 = off */
    bool coap_trusted, coaps_trusted;
    bool coap_response_options; /* oneM2M-RSC/RQI/RVI options in CoAP responses */
    int log_level;
    int64_t default_et_s; /* expirationTime given to resources that have none */
    int max_json_depth;
    size_t max_children_list; /* bound of rcn=4/8 and discovery result lists */
    int notify_threads;
    int notify_queue; /* pending notifications */
    int notify_timeout_ms;
    int notify_retries;
    int max_subscriptions_per_resource;
    int group_max_members;
    int writer_batch;           /* max requests per group commit */
    char audit_path[512];       /* audit log; "" = DATA_DIR/audit.log, "off" = none */
    size_t audit_max_bytes;     /* rotation size */
    int audit_keep;             /* rotated files kept */
    char location_file[512];    /* originator location table for aclr ("" = none) */
    double rate_per_originator; /* requests/s per originator, 0 = unlimited */
    double rate_burst;          /* bucket size */
    bool tls_psk;               /* PSK and raw-public-key SAEF from the credential database */
    char cred_path[512];        /* credential database; "" = DATA_DIR/credentials.db */
    struct cse_mef_cfg mef;     /* Enrolment Target (mef.*) */
    struct srv_cfg srv;
};

void cse_config_default(struct cse_config *c);
/* Applies one "key = value" setting; M2M_ERR_CONFIG with a message in err when invalid. */
M2M_WARN_UNUSED m2m_rc cse_config_set(struct cse_config *c, const char *key, const char *value,
                                      char *err, size_t errlen);
/* Loads a config file. */
M2M_WARN_UNUSED m2m_rc cse_config_load(struct cse_config *c, const char *path, char *err,
                                       size_t errlen);
/* Parses "ADDR:PORT", "[v6]:PORT" or "off". */
M2M_WARN_UNUSED m2m_rc cse_config_parse_listen(const char *v, char *addr, size_t addrlen,
                                               int *port);
/* Final checks and derived values (listeners into srv). */
M2M_WARN_UNUSED m2m_rc cse_config_finish(struct cse_config *c, char *err, size_t errlen);

#endif
