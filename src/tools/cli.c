/* Shared helpers for the command-line tools. */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int fwt_cli_exit_code(fwt_err err)
{
    if (err == FWT_OK) {
        return 0;
    }
    if ((int)err <= 0 || (int)err >= 126) {
        return FWT_E_INTERNAL;
    }
    return (int)err;
}

/*
 * FWTRUST_LOG_FORMAT=json: errors go to stderr as one JSON object per line (for journald
 * and log shippers) instead of a sentence: {"prog","level","error","code","message","detail"}.
 */
static int log_json(void)
{
    const char *f = getenv("FWTRUST_LOG_FORMAT");
    return f && !strcmp(f, "json");
}

static void log_json_line(const char *prog, const char *error, int code, const char *message, const char *detail)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "prog", prog, "level", "error", "error", error, "code",
                          code, "message", message, "detail", detail);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII) : NULL;
    if (s) {
        fprintf(stderr, "%s\n", s);
    } else {
        fprintf(stderr, "%s: error: %s: %s\n", prog, message, detail); /* out of memory: still say it */
    }
    free(s);
    json_decref(o);
}

int fwt_cli_error(const char *prog, fwt_err err)
{
    const char *d = fwt_detail();
    if (log_json()) {
        log_json_line(prog, fwt_err_name(err), fwt_cli_exit_code(err), fwt_strerror(err), d);
    } else if (d[0]) {
        fprintf(stderr, "%s: error: %s (%s): %s\n", prog, fwt_strerror(err), fwt_err_name(err), d);
    } else {
        fprintf(stderr, "%s: error: %s (%s)\n", prog, fwt_strerror(err), fwt_err_name(err));
    }
    return fwt_cli_exit_code(err);
}

int fwt_cli_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    if (log_json()) {
        char msg[1024];
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        log_json_line(prog, fwt_err_name(FWT_E_ARG), FWT_E_ARG, msg, "");
        return FWT_E_ARG;
    }
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    return FWT_E_ARG;
}

void fwt_cli_json_print(json_t *obj)
{
    if (!obj) {
        return;
    }
    char *s = json_dumps(obj, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    json_decref(obj);
}

json_t *fwt_cli_json_error(fwt_err err)
{
    return json_pack("{s:b, s:s, s:s, s:s, s:i}", "ok", 0, "error", fwt_err_name(err), "message",
                     fwt_strerror(err), "detail", fwt_detail(), "exit_code",
                     fwt_cli_exit_code(err));
}

void fwt_progress_start(struct fwt_progress *p, const char *label, uint64_t total)
{
    memset(p, 0, sizeof(*p));
    p->label = label;
    p->total = total;
    p->last_pct = -1;
    p->enabled = isatty(STDERR_FILENO) && getenv("FWTRUST_NO_PROGRESS") == NULL;
}

void fwt_progress_update(struct fwt_progress *p, uint64_t done)
{
    p->done = done;
    if (!p->enabled || p->total == 0) {
        return;
    }
    int pct = (int)((done * 100) / p->total);
    if (pct == p->last_pct) {
        return;
    }
    p->last_pct = pct;
    fprintf(stderr, "\r%s %3d%% %llu/%llu KiB", p->label, pct,
            (unsigned long long)(done / 1024), (unsigned long long)(p->total / 1024));
    fflush(stderr);
}

void fwt_progress_finish(struct fwt_progress *p)
{
    if (p->enabled && p->last_pct >= 0) {
        fputc('\n', stderr);
    }
}
