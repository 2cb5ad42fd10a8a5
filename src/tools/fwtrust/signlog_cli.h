/*
 * The signing-log hook of the commands that sign images (sign, cosign):
 * where the log is (--log DB, else $FWTRUST_SIGNLOG), and signing through a
 * pending file that becomes the output only once the signatures are logged.
 * See docs/key-custody.md ("Every signature is logged").
 */
#ifndef FWT_SIGNLOG_CLI_H
#define FWT_SIGNLOG_CLI_H

#include "cli.h"

#include <fwtrust/fwt_keys.h>
#include <stdio.h>
#include <stdlib.h>

#define FWT_SIGNLOG_HELP                                                                    \
    "  --log DB                 record every signature in the signing log DB (default\n"   \
    "                           $FWTRUST_SIGNLOG); the output appears only once logged\n"  \
    "                           (no such log: exit 8; log not intact: exit 11)\n"         \
    "  --no-log                 sign without a log, and without the warning\n"             \
    "  --signer ID              who signs, as logged (default $FWTRUST_SIGNER or\n"        \
    "                           LOGIN@HOST)\n"

/*
 * The log to use: opt_log, else $FWTRUST_SIGNLOG (empty counts as unset).
 * NULL when there is none; then a warning goes to stderr unless no_log.
 * Checks that the log opens, so a bad --log fails before anything is signed.
 */
static inline fwt_err fwt_signlog_cli_target(const char *prog, const char *opt_log, int no_log,
                                             const char **db)
{
    *db = NULL;
    if (no_log) {
        return FWT_OK;
    }
    const char *env = getenv("FWTRUST_SIGNLOG");
    const char *path = opt_log ? opt_log : (env && env[0] ? env : NULL);
    if (!path) {
        fprintf(stderr, "%s: warning: no signing log (--log DB or FWTRUST_SIGNLOG): this "
                        "signature is not recorded anywhere\n", prog);
        return FWT_OK;
    }
    fwt_signlog *log = NULL;
    fwt_err e = fwt_signlog_open(path, 1, &log);
    fwt_signlog_close(log);
    if (e == FWT_OK) {
        *db = path;
    }
    return e;
}

#endif /* FWT_SIGNLOG_CLI_H */
