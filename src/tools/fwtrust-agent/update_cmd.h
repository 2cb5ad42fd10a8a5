/*
 * fwtrust-agent update: options, help, progress and printing of the network
 * update (the update itself is fwt_agent_update() in <fwtrust/fwt_agent.h>).
 */
#ifndef FWT_AGENT_UPDATE_CMD_H
#define FWT_AGENT_UPDATE_CMD_H

#include "cli.h"

#include <fwtrust/fwt_agent.h>

/* The options of `update` (the command table of main.c) and their destination. */
extern const struct fwt_opt k_agent_update_opts[];
extern struct fwt_agent_update_opts g_agent_update;

#define AGENT_UPDATE_DESC                                                                          \
    "Refresh the device's TUF metadata from its repository ([update] repo, over the\n"              \
    "configured TLS: CA file, pinned public key, client certificate), choose the newest\n"          \
    "image for this hardware id whose version and security counter are not lower than\n"           \
    "the running image's, and stream it into the inactive slot: a patch against the\n"             \
    "running image when one is published for exactly its bytes, else a zstd-compressed\n"          \
    "or the full image. The download is checked against the TUF length and hashes, the\n"          \
    "decoded image against its SHA-256 in the target's metadata, then the image itself\n"          \
    "by the verifier core; only then is the slot marked for a trial boot. The running\n"           \
    "slot is never written. A release whose trial ended without a confirm on this\n"               \
    "device (the last 8 are remembered; 'status' shows them) is not offered again,\n"              \
    "nor is an image its metadata shows signed for other keys (verified_signers).\n"               \
    "Only the roles that can hold [update] targets are loaded. docs/updates.md.\n\n"               \
    "With a director (--director, or an enrolled device: [fleet]) the device performs\n"          \
    "Uptane full verification: the director's metadata chain, rooted in the director\n"          \
    "root trusted at enrollment, then the image repository's; it installs only the one\n"       \
    "target the director assigns, and only when the image repository lists it with the\n"       \
    "same length and hashes, and its device id, hardware id and release counter (not\n"         \
    "below the installed one) match. docs/fleet-protocol.md.\n\n"                                 \
    "Exit status (docs/exit-codes.md): 0 installed (or --check found an update); 51 no\n"          \
    "newer image (or the target is older than the running one, or rolled back here);\n"           \
    "9 network/TLS failure; 33 a download ran past its length; 40-44 TUF metadata refused\n"      \
    "(44: a target's length or hash differs); 20-31 image refused by the verifier (22 bad\n"      \
    "signature, 24 unknown key, 25 other hardware, 26 security counter too low); 31 no\n"         \
    "trust anchor or TUF root; 10 another agent runs; 11 the running slot is on trial.\n"          \
    "Director refusals: 8 its target is not in the image repository, 25 another device\n"      \
    "or hardware id, 26 release counter below the installed one, 40-44 its metadata."

/*
 * Run `fwtrust-agent update` with the options parsed into g_agent_update: dev
 * is open (exclusive lock) and is closed by the caller; name ("fwtrust-agent
 * update") is for messages; json is 1 with --json. Returns the exit code: 0,
 * or the fwt_err number of the failure, having printed the result (and on
 * failure the error line).
 */
int agent_update_run(fwt_agent *dev, const char *name, int json);

#endif /* FWT_AGENT_UPDATE_CMD_H */
