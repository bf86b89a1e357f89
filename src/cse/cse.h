/* cse.h: the Common Services Entity: opens the store, rebuilds the tree, starts the writer and
 * notification threads, and serves request primitives handed over by the transport. */
#ifndef M2M_CSE_H
#define M2M_CSE_H

#include "base/rc.h"
#include "cse/config.h"
#include "net/server.h"

struct cse;

/* Opens the database under cfg->data_dir, bootstraps a new CSE on first start (CSEBase, system
 * ACP, default registration rule), and starts the writer and notifier threads. */
M2M_WARN_UNUSED m2m_rc cse_open(const struct cse_config *cfg, struct cse **out);
/* Processes one request and answers through reply (m2m_handler_fn; ctx is the struct cse).
 * Reads are answered before it returns; writes are answered by the writer thread after commit. */
void cse_submit(void *ctx, struct m2m_request *req, struct m2m_reply reply);
/* The HTTP transport's handler (srv_handler_fn): cse_submit answering through srv_respond. */
void cse_handle(void *ctx, struct srv_exchange *x, struct m2m_request *req);
/* TS-0003 8.3.2.1 step 6 (SPEC-MAP G5), in asar_cred.c: a key for cred_id (e.g. "12-<KeID>") was
 * just provisioned by the MEF for enrolee_id. Adds cred_id to apci and the AE-ID stem of
 * enrolee_id (its last path segment when it starts with C or S; a CSE-ID adds nothing) to aae of
 * the unexpired <serviceSubscribedAppRule>s directly under the CSEBase whose resource names the
 * operator listed in mef.asar_rules, where they do not already admit them (patterns of the list
 * count). No other rule is touched: registration passes when any one rule admits credential,
 * App-ID and stem together, so adding them to a rule written for other App-IDs would widen it.
 * Nothing is done (M2M_OK) when mef.asar_rules is empty or mef.update_asar is false. Each change
 * is an ordinary UPDATE from the admin originator through the writer (durable before the answer)
 * and is written to the audit log as "asar-mef-update". Calls (also of the removal below) are
 * serialised; waits up to timeout_ms for the commits. M2M_OK when every designated rule admits
 * both afterwards (also when none needed a change or none exists); M2M_ERR_AGAIN on timeout (the
 * updates still complete); M2M_ERR_DENIED when an update was refused (e.g. a list at its bound);
 * M2M_ERR_MALFORMED for an empty or over-long argument; M2M_ERR_NOMEM. Thread-safe; never call
 * it on the writer. */
M2M_WARN_UNUSED m2m_rc cse_asar_add_credential(struct cse *c, const char *cred_id,
                                               const char *enrolee_id, int timeout_ms);
/* The key for cred_id is gone (expired, evicted, withdrawn by the MEF): removes every apci entry
 * equal to cred_id (exact string; patterns stay) from the designated rules, leaving an empty apci
 * rather than none (an absent apci would admit registrations without a security association).
 * The enrolee stem stays in aae: a rule admits a registration only with a credential of its own
 * apci, so the stem alone grants nothing. Audited as "asar-mef-remove". Return codes as for the
 * addition. */
M2M_WARN_UNUSED m2m_rc cse_asar_remove_credential(struct cse *c, const char *cred_id,
                                                  int timeout_ms);
/* Stops threads and closes the store. NULL is a no-op. */
void cse_close(struct cse *c);

#endif
