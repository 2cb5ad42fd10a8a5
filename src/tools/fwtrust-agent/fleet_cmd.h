/*
 * fwtrust-agent enroll and checkin: options, help and output of the fleet
 * commands (docs/agent.md, docs/fleet-protocol.md); the work is
 * fwt_agent_enroll() and fwt_agent_checkin() (src/agent/fleet_client.c).
 */
#ifndef FWT_AGENT_FLEET_CMD_H
#define FWT_AGENT_FLEET_CMD_H

#include "cli.h"

#include <fwtrust/fwt_agent.h>

extern const struct fwt_opt k_enroll_opts[];
extern const struct fwt_opt k_checkin_opts[];
extern const char k_enroll_desc[];
extern const char k_checkin_desc[];

/* Run the command on the device directory dir; name for messages, json with --json. Returns
 * the exit code, having printed the result or the error. */
int agent_enroll_run(const char *dir, const char *name, int json);
int agent_checkin_run(const char *dir, const char *name, int json);

#endif /* FWT_AGENT_FLEET_CMD_H */
