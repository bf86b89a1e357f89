/* commands.h: the subcommands of the m2msec binary beyond `cse` and `pki` (one file each in
 * src/app/), and the helpers main.c needs from them. */
#ifndef M2M_APP_COMMANDS_H
#define M2M_APP_COMMANDS_H

struct cse_config;
struct credstore;

/* `m2msec cred add-psk|add-rpk|add-node|add-device|list|revoke ...`: credential administration
 * (argv[0] is "cred"). Returns the process exit code: 0 done, 1 failed, 2 usage. */
int cmd_cred(int argc, char **argv);

/* For `m2msec cse`: opens the credential database of cfg (credentials.path, default
 * DATA_DIR/credentials.db) and wires it into cfg->srv.tls.creds so that the HTTPS listener takes
 * PSK and raw-public-key clients. Does nothing (0, *out NULL) when tls.psk is off or HTTPS is
 * off. Returns 0 or 1 (message printed). Close *out with credstore_close after srv_stop. */
int cred_open_for_cse(struct cse_config *cfg, struct credstore **out);

#endif
