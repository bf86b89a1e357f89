/* acp_cmd.h: `m2msec acp explain`: asks the running CSE why an originator would be granted or
 * denied an operation on a resource, and prints the answer rule by rule. */
#ifndef M2M_APP_ACP_CMD_H
#define M2M_APP_ACP_CMD_H

/* argv[0] is "acp". Exit code: 0 answered, 1 the CSE refused or failed, 2 usage, 3 connection. */
int cmd_acp(int argc, char **argv);

#endif
