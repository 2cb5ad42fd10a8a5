/*
 * The publish gate: what is about to be published must be in the signing log,
 * with every signature recorded, and no audit finding may concern it.
 */
#include "keys_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct finding {
    uint64_t index;
    enum fwt_audit_kind kind;
    char text[320];
};

struct findings {
    struct finding *v;
    size_t n, cap;
    int oom;
};

static void on_finding(void *ctx, uint64_t index, enum fwt_audit_kind kind, const char *text)
{
    struct findings *f = ctx;
    if (f->n == f->cap) {
        size_t nc = f->cap ? 2 * f->cap : 16;
        struct finding *nv = realloc(f->v, nc * sizeof(*nv));
        if (!nv) {
            f->oom = 1;
            return;
        }
        f->v = nv;
        f->cap = nc;
    }
    f->v[f->n].index = index;
    f->v[f->n].kind = kind;
    snprintf(f->v[f->n].text, sizeof(f->v[f->n].text), "%s", text);
    f->n++;
}

struct matches {
    uint64_t idx[256];
    size_t n;
};

static void on_match(void *ctx, uint64_t index, const char *text, size_t len,
                     const struct fwt_signlog_record *r)
{
    (void)text;
    (void)len;
    (void)r;
    struct matches *m = ctx;
    if (m->n < sizeof(m->idx) / sizeof(m->idx[0])) {
        m->idx[m->n++] = index;
    }
}

fwt_err fwt_signlog_gate(fwt_signlog *log, const fwt_pubkey *log_key, const struct fwt_audit_opts *o,
                         const char *const *images, size_t n, fwt_gate_fn fn, void *ctx,
                         size_t *n_findings)
{
    if (log == NULL || log_key == NULL || (images == NULL && n > 0) || n_findings == NULL) {
        return fwt_fail(FWT_E_ARG, "publish gate: missing argument");
    }
    *n_findings = 0;
    struct fwt_audit_opts none;
    memset(&none, 0, sizeof(none));
    struct findings f = {NULL, 0, 0, 0};
    size_t n_audit = 0;
    fwt_err e = FWT_OK;
    if (n > 0) {
        e = fwt_signlog_audit(log, o ? o : &none, on_finding, &f, &n_audit);
    }
    if (e == FWT_OK && f.oom) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; e == FWT_OK && i < n; i++) {
        struct fwt_signlog_signers *s = calloc(1, sizeof(*s));
        struct matches m;
        m.n = 0;
        if (s == NULL) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
            break;
        }
        e = fwt_signlog_image_signers(images[i], s);
        if (e == FWT_OK) {
            e = fwt_signlog_find_image(log, log_key, s, on_match, &m);
        }
        if (e != FWT_OK) {
            free(s);
            break;
        }
        char text[400];
        if (s->n == 0 && s->n_other == 0) {
            snprintf(text, sizeof(text), "%s carries no signature the log can record", images[i]);
            fn(ctx, images[i], "not-logged", text);
            (*n_findings)++;
        } else if (s->n_missing > 0 || m.n == 0) {
            char kh[65];
            fwt_hex_encode(s->first_missing, 32, kh);
            snprintf(text, sizeof(text), "%zu of its %zu signature(s) are not in the signing log (first: "
                     "key %.16s...)", s->n_missing ? s->n_missing : s->n, s->n, kh);
            fn(ctx, images[i], "not-logged", text);
            (*n_findings)++;
        }
        for (size_t k = 0; k < f.n; k++) {
            for (size_t j = 0; j < m.n; j++) {
                if (f.v[k].index == m.idx[j]) {
                    snprintf(text, sizeof(text), "log entry %llu: %s", (unsigned long long)f.v[k].index,
                             f.v[k].text);
                    fn(ctx, images[i], fwt_audit_kind_name(f.v[k].kind), text);
                    (*n_findings)++;
                    break;
                }
            }
        }
        free(s);
    }
    free(f.v);
    return e;
}
