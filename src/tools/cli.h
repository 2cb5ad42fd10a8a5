/*
 * Shared helpers for the command-line tools: error reporting with exit codes,
 * --json output, terminal progress.
 *
 * Exit status of every fwtrust command: 0 on success, otherwise the numeric
 * fwt_err value of the failure (see docs/exit-codes.md): e.g. 1 usage,
 * 21 digest mismatch, 22 bad signature.
 */
#ifndef FWT_CLI_H
#define FWT_CLI_H

#include <fwtrust/fwt_util.h>

#include <jansson.h>
#include <stdint.h>

/* A subcommand of a git-style tool. */
struct fwt_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
};

/* Print "PROG: error: TEXT (NAME): DETAIL" on stderr; return the exit code. */
int fwt_cli_error(const char *prog, fwt_err err);
/* Print a usage error with a message and hint at --help; returns FWT_E_ARG. */
int fwt_cli_usage_error(const char *prog, const char *fmt, ...) FWT_PRINTF(2, 3);
/* Exit code for a result. */
int fwt_cli_exit_code(fwt_err err);

/* Print JSON (indented, sorted keys) to stdout with a newline; steals the reference. */
void fwt_cli_json_print(json_t *obj);
/* {"ok": false, "error": NAME, "message": TEXT, "detail": DETAIL, "exit_code": N} */
json_t *fwt_cli_json_error(fwt_err err);

/* Progress on stderr when it is a terminal (and quiet is off): "label  45% 120/256 MiB". */
struct fwt_progress {
    const char *label;
    uint64_t total;
    uint64_t done;
    int enabled;
    int last_pct;
};
void fwt_progress_start(struct fwt_progress *p, const char *label, uint64_t total);
void fwt_progress_update(struct fwt_progress *p, uint64_t done);
void fwt_progress_finish(struct fwt_progress *p);

#endif /* FWT_CLI_H */
