/* et_glue.h: the CSE as Enrolment Target (TS-0003 8.3.2.1, SPEC-MAP G5) wired together for
 * `m2msec cse`: the MEF fetch (device library m2msec_mef_fetch_credentials, one keep-alive client
 * per fetch worker), the key cache (src/keys/mefcache.h) and the G5 step 6 rule update
 * (cse_asar_add_credential). */
#ifndef M2M_APP_ET_GLUE_H
#define M2M_APP_ET_GLUE_H

#include <stddef.h>

#include "base/rc.h"

struct cse;
struct cse_config;
struct et_glue;

/* When cfg->mef.enabled: creates the MEF clients from the mef.* keys (their files are read now,
 * so a bad path stops the start), starts the cache and replaces cfg->srv.tls.creds (the
 * credential database's hooks, already set by cred_open_for_cse) with the composed hooks:
 * database first, then keys fetched from the MEF. Must run before srv_start. *out NULL and
 * M2M_OK when the MEF is not configured. M2M_ERR_CONFIG (reason in err) when mef.* cannot work:
 * HTTPS off, tls.psk off, unreadable credential files. */
M2M_WARN_UNUSED m2m_rc et_glue_start(struct cse_config *cfg, struct cse *cse, struct et_glue **out,
                                     char *err, size_t errlen);
/* Stops the fetch workers and wakes every parked handshake (they fail). Call before srv_stop;
 * NULL is a no-op. */
void et_glue_shutdown(struct et_glue *g);
/* Frees the cache (keys wiped) and the clients. Call after srv_stop; NULL is a no-op. */
void et_glue_free(struct et_glue *g);

#endif
