/* client_cmd.h: `m2msec client ...`, the command-line front end of the device client library. */
#ifndef M2M_APP_CLIENT_CMD_H
#define M2M_APP_CLIENT_CMD_H

/* argv[0] is "client". Prints the response body on stdout and the RSC on stderr. Exit codes:
 * 0 for a 2xxx RSC, 1 for any other oneM2M answer, 2 for usage and configuration errors, 3 for
 * connection, TLS and protocol failures (one line on stderr says which). */
int cmd_client(int argc, char **argv);

#endif
