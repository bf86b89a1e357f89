/* mef_cmd.h: the `m2msec mef` subcommand (the MEF process and its administrator CLI). */
#ifndef M2M_APP_MEF_CMD_H
#define M2M_APP_MEF_CMD_H

/* `m2msec mef init|serve|add-kpm|add-target|allow|cmd add|list|revoke ...` (argv[0] is "mef").
 * Returns the process exit code: 0 done, 1 failed, 2 usage. docs/MEF.md lists the flags. */
int cmd_mef(int argc, char **argv);

#endif
