/* Shared helpers for the command-line tools. */
#include "cli.h"

#include <errno.h>
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

/* "PROG: KIND TEXT\n" on stderr. */
static void vline(const char *prog, const char *kind, const char *fmt, va_list ap) FWT_PRINTF(3, 0);
static void vline(const char *prog, const char *kind, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: %s", prog, kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int fwt_cli_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(prog, "", fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help'.\n", prog);
    return FWT_E_ARG;
}

void fwt_cli_hint(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(prog, "hint: ", fmt, ap);
    va_end(ap);
}

void fwt_cli_tls_hint(const char *prog, const char *ca, const char *pin, const char *client)
{
    switch (fwt_cause()) {
    case FWT_CAUSE_TLS_CA:
        fwt_cli_hint(prog, "the server's certificate is not signed by a trusted CA: name the CA certificate "
                     "(PEM) that signed it with %s, or pin the server's key with %s", ca, pin);
        break;
    case FWT_CAUSE_TLS_PIN:
        fwt_cli_hint(prog, "the server's public key is not the one pinned by %s: check the pin (openssl x509 "
                     "-pubkey -noout -in SERVER.pem | openssl pkey -pubin -outform der | openssl dgst "
                     "-sha256 -binary | base64) or the server you reach", pin);
        break;
    case FWT_CAUSE_TLS_CLIENT:
        fwt_cli_hint(prog, "the client certificate or key cannot be used: check %s (PEM files that belong "
                     "together)", client);
        break;
    case FWT_CAUSE_NONE:
        break;
    }
}

void fwt_cli_tuf_expiry_hint(const char *prog, fwt_err err)
{
    if (err == FWT_E_META_EXPIRED) {
        fwt_cli_hint(prog, "the repository's metadata has expired: whoever runs it must re-sign it ('fwtrust repo "
                     "timestamp' for the timestamp, 'fwtrust repo publish' for snapshot and targets); if it "
                     "is current, this machine's clock is ahead");
    }
}

int fwt_cli_missing_file_hint(const char *prog, fwt_err err, const char *option, const char *const *files, size_t n,
                              const char *how)
{
    if (err != FWT_E_KEY && err != FWT_E_NOT_FOUND && err != FWT_E_IO) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const char *f = files[i];
        if (f && strncmp(f, "pkcs11:", 7) != 0 && strcmp(f, "-") != 0 && access(f, F_OK) != 0 && errno == ENOENT) {
            fwt_cli_hint(prog, "%s names %s, which does not exist; %s", option, f, how);
            return 1;
        }
    }
    return 0;
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
