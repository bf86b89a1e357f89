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
/* Stops threads and closes the store. NULL is a no-op. */
void cse_close(struct cse *c);

#endif
