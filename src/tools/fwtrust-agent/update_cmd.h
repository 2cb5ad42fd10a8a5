/*
 * fwtrust-agent update: options, help, progress and printing of the network
 * update (the update itself is fwt_agent_update() in <fwtrust/fwt_agent.h>).
 */
#ifndef FWT_AGENT_UPDATE_CMD_H
#define FWT_AGENT_UPDATE_CMD_H

#include "cli.h"

#include <fwtrust/fwt_agent.h>

/*
 * `fwtrust-agent --device DIR [--json] update ARGS...`: dev is open (exclusive
 * lock) and is closed by the caller; argv[0] is "update"; json is 1 with
 * --json. With --help or -h among the arguments dev is NULL (print the help
 * only). Returns the exit code: 0, or the fwt_err number of the failure,
 * having printed the result (and on failure the error line).
 */
int agent_update_main(fwt_agent *dev, int argc, char **argv, int json);

#endif /* FWT_AGENT_UPDATE_CMD_H */
