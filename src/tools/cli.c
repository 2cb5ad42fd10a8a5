/* Shared helpers for the command-line tools. */
#include "cli.h"

#include <stdarg.h>
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

int fwt_cli_error(const char *prog, fwt_err err)
{
    const char *d = fwt_detail();
    if (d[0]) {
        fprintf(stderr, "%s: error: %s (%s): %s\n", prog, fwt_strerror(err), fwt_err_name(err), d);
    } else {
        fprintf(stderr, "%s: error: %s (%s)\n", prog, fwt_strerror(err), fwt_err_name(err));
    }
    return fwt_cli_exit_code(err);
}

int fwt_cli_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
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

void fwt_progress_cb(void *ctx, uint64_t done, uint64_t total)
{
    struct fwt_progress *p = ctx;
    p->total = total;
    fwt_progress_update(p, done);
}

void fwt_progress_finish(struct fwt_progress *p)
{
    if (p->enabled && p->last_pct >= 0) {
        fputc('\n', stderr);
    }
}
