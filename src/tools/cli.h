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
#include <stdio.h>

/* A subcommand of a git-style tool. */
struct fwt_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
};

/*
 * Declarative option tables (in the spirit of git's parse-options), on top of
 * getopt_long. One entry per option gives its names, argument, destination and
 * help; usage text, --help of every subcommand, docs/cli.md (--help-markdown)
 * and "did you mean" come from the same tables. An entry with help NULL is a
 * hidden alias (accepted, not listed). Every program gets -h/--help, --version
 * and the hidden --help-markdown. Options go before or after the subcommand.
 */
enum fwt_opt_type {
    FWT_OPT_END = 0,
    FWT_OPT_FLAG,   /* no argument: *(int *)dest = 1 */
    FWT_OPT_STRING, /* *(const char **)dest = arg (the last one given wins) */
    FWT_OPT_U64,    /* *(uint64_t *)dest = number in [min, max] (decimal or 0x hex) */
    FWT_OPT_LIST,   /* repeatable: appended to *(struct fwt_opt_list *)dest */
};

struct fwt_opt {
    enum fwt_opt_type type;
    char short_name;       /* 0: none */
    const char *long_name; /* without "--" */
    const char *argname;   /* shown in usage, e.g. "DIR"; NULL for flags */
    void *dest;
    const char *help; /* NULL: hidden alias; '\n' starts a continuation line */
    uint64_t min, max;
};

/* Destination of a repeatable option: items[0..n-1], at most max. */
struct fwt_opt_list {
    const char **items;
    size_t n, max;
};

#define FWT_OPT_FLAG_(s, l, d, h) {FWT_OPT_FLAG, s, l, NULL, d, h, 0, 0}
#define FWT_OPT_STR_(s, l, a, d, h) {FWT_OPT_STRING, s, l, a, d, h, 0, 0}
#define FWT_OPT_U64_(s, l, a, d, lo, hi, h) {FWT_OPT_U64, s, l, a, d, h, lo, hi}
#define FWT_OPT_LIST_(s, l, a, d, h) {FWT_OPT_LIST, s, l, a, d, h, 0, 0}
#define FWT_OPT_END_ {FWT_OPT_END, 0, NULL, NULL, NULL, NULL, 0, 0}

/* A subcommand in a table: its own options and operand count. */
struct fwt_cli_cmd {
    const char *name;
    const char *operands; /* usage text of the operands, e.g. "TRUSTED_ROOT"; "" none */
    int min_args, max_args; /* operand count; max -1: any number */
    const char *summary;    /* one line, in the program's command list */
    const char *description; /* --help of the subcommand; NULL: the summary */
    const struct fwt_opt *opts; /* may be NULL */
};

/* A program (or a subcommand with subcommands of its own, e.g. "fwtrust log"). */
struct fwt_cli_prog {
    const char *name;        /* as in messages: "fwtrust-boot", "fwtrust log" */
    const char *operands;    /* without cmds: usage text of the operands */
    int min_args, max_args;  /* without cmds: operand count */
    const char *description; /* after the usage line of --help */
    const struct fwt_opt *opts; /* global options: accepted with every command */
    const struct fwt_cli_cmd *cmds; /* NULL-name terminated, or NULL: no subcommands */
    const char *epilog;      /* last paragraph of --help, e.g. the exit codes */
};

struct fwt_cli_args {
    const struct fwt_cli_cmd *cmd; /* the subcommand; NULL without cmds */
    int argc;                      /* operands after the subcommand */
    char **argv;                   /* argv[argc] == NULL */
    char name[96];                 /* "prog" or "prog cmd": for messages */
};

/*
 * Parse argv (argv[0] is the program or subcommand name and is skipped) against
 * p. Returns -1 to go on; otherwise the exit code: 0 after --help / --version
 * (printed on stdout), FWT_E_ARG after a usage error (one line on stderr naming
 * the program and subcommand, with a hint). argv is reordered in place: the
 * operands end up in args->argv.
 */
int fwt_cli_parse(const struct fwt_cli_prog *p, int argc, char **argv, struct fwt_cli_args *args);
/* --help text of the program (cmd NULL) or of one subcommand. */
void fwt_cli_help(const struct fwt_cli_prog *p, const struct fwt_cli_cmd *cmd, FILE *out);
/* The reference of the program and of all its subcommands as Markdown (docs/cli.md). */
void fwt_cli_markdown(const struct fwt_cli_prog *p, FILE *out);
/* Edit distance (Damerau-Levenshtein, optimal string alignment), capped at 255. */
unsigned fwt_cli_distance(const char *a, const char *b);
/* The closest of names[0..n-1] to s, or NULL when none is close. */
const char *fwt_cli_suggest(const char *s, const char *const *names, size_t n);
/* The project version (CMake project VERSION). */
const char *fwt_cli_version(void);

/* Print "PROG: error: TEXT (NAME): DETAIL" on stderr; return the exit code. */
int fwt_cli_error(const char *prog, fwt_err err);
/* Print a usage error with a message and hint at --help; returns FWT_E_ARG. */
int fwt_cli_usage_error(const char *prog, const char *fmt, ...) FWT_PRINTF(2, 3);
/* Print "PROG: hint: TEXT" on stderr: how to fix the error just printed. */
void fwt_cli_hint(const char *prog, const char *fmt, ...) FWT_PRINTF(2, 3);
/*
 * The hint for a TLS failure (fwt_cause()), naming the settings: ca, pin and
 * client are the option or setting names of the tool ("--ca FILE", ...).
 * Prints nothing when the failure was no TLS failure.
 */
void fwt_cli_tls_hint(const char *prog, const char *ca, const char *pin, const char *client);
/*
 * The hint for TUF metadata a client refused as expired (FWT_E_META_EXPIRED):
 * the repository must re-sign it, or this machine's clock is wrong. Prints
 * nothing for other errors.
 */
void fwt_cli_tuf_expiry_hint(const char *prog, fwt_err err);
/*
 * After a failure err (FWT_E_KEY, FWT_E_NOT_FOUND, FWT_E_IO): when a file
 * named by option (one of files[0..n-1]; pkcs11: URIs are skipped) does not
 * exist, print "PROG: hint: OPTION names FILE, which does not exist; HOW".
 * Returns 1 when it printed.
 */
int fwt_cli_missing_file_hint(const char *prog, fwt_err err, const char *option, const char *const *files, size_t n,
                              const char *how);
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
