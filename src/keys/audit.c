/*
 * Signing log audit: walk the entries in order and report anomalies (see
 * enum fwt_audit_kind). The audit reads entries as stored; run
 * fwt_signlog_verify first to know they are the logged ones.
 */
#include "keys_priv.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

const char *fwt_audit_kind_name(enum fwt_audit_kind k)
{
    switch (k) {
    case FWT_AUDIT_UNEXPECTED_KEY:
        return "unexpected-key";
    case FWT_AUDIT_VERSION_DOWN:
        return "version-down";
    case FWT_AUDIT_COUNTER_DOWN:
        return "security-counter-down";
    case FWT_AUDIT_DIGEST_CONFLICT:
        return "digest-conflict";
    case FWT_AUDIT_OUTSIDE_WINDOW:
        return "outside-window";
    }
    return "unknown";
}

static int parse_hhmm(const char *s, unsigned *minutes)
{
    if (!(s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] == ':' &&
          s[3] >= '0' && s[3] <= '9' && s[4] >= '0' && s[4] <= '9')) {
        return -1;
    }
    unsigned h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
    unsigned m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0)) {
        return -1;
    }
    *minutes = h * 60 + m;
    return 0;
}

fwt_err fwt_audit_window_parse(const char *s, struct fwt_audit_opts *o)
{
    unsigned a, b;
    if (!s || strlen(s) != 11 || s[5] != '-' || parse_hhmm(s, &a) != 0 ||
        parse_hhmm(s + 6, &b) != 0) {
        return fwt_fail(FWT_E_ARG, "window '%s': expected HH:MM-HH:MM (UTC, 24-hour clock)",
                        s ? s : "");
    }
    if (a == b || (a == 1440 && b == 0) || (a == 0 && b == 1440)) {
        return fwt_fail(FWT_E_ARG, "window '%s' is empty or the whole day", s);
    }
    o->has_window = 1;
    o->window_start = a % 1440;
    o->window_end = b == 1440 ? 1440 : b;
    return FWT_OK;
}

static int in_window(const struct fwt_audit_opts *o, uint64_t t)
{
    unsigned m = (unsigned)((t % 86400) / 60);
    if (o->window_start < o->window_end) {
        return m >= o->window_start && m < o->window_end;
    }
    return m >= o->window_start || m < o->window_end; /* wraps midnight */
}

/* What has been signed so far for one hardware id. */
struct hw_state {
    uint8_t hw_id[FWT_HW_ID_MAX];
    size_t hw_id_len;
    uint64_t max_version;
    uint64_t max_version_idx;
    int has_counter;
    uint32_t max_counter;
    uint64_t max_counter_idx;
};

/* One (hw id, version) and the first digest signed for it. */
struct signed_version {
    size_t hw; /* index into the hw_state array */
    uint64_t version;
    uint8_t digest[FWT_DIGEST_MAX];
    size_t digest_len;
    uint64_t idx;
};

struct audit {
    const struct fwt_audit_opts *o;
    fwt_audit_fn fn;
    void *ctx;
    size_t findings;
    struct hw_state *hw;
    size_t n_hw, cap_hw;
    struct signed_version *sv;
    size_t n_sv, cap_sv;
    /* Open-addressing index into sv by (hw, version): slot value i + 1, 0 = empty. */
    size_t *idx;
    size_t idx_cap; /* a power of two, at least twice n_sv */
};

static size_t sv_hash(size_t hw, uint64_t version, size_t cap)
{
    uint64_t h = version * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)hw + 1) * 0xc2b2ae3d27d4eb4fULL;
    h ^= h >> 29;
    return (size_t)h & (cap - 1);
}

/* The sv entry for (hw, version), or n_sv when there is none. */
static size_t sv_find(const struct audit *a, size_t hw, uint64_t version)
{
    if (a->idx_cap == 0) {
        return a->n_sv;
    }
    for (size_t i = sv_hash(hw, version, a->idx_cap);; i = (i + 1) & (a->idx_cap - 1)) {
        size_t v = a->idx[i];
        if (v == 0) {
            return a->n_sv;
        }
        if (a->sv[v - 1].hw == hw && a->sv[v - 1].version == version) {
            return v - 1;
        }
    }
}

static int sv_index_add(struct audit *a, size_t j)
{
    if (2 * (a->n_sv + 1) > a->idx_cap) {
        size_t nc = a->idx_cap ? a->idx_cap * 2 : 64;
        if (nc > SIZE_MAX / sizeof(size_t) / 2) {
            return -1;
        }
        size_t *ni = calloc(nc, sizeof(size_t));
        if (!ni) {
            return -1;
        }
        for (size_t k = 0; k < a->idx_cap; k++) {
            size_t v = a->idx[k];
            if (v) {
                size_t i = sv_hash(a->sv[v - 1].hw, a->sv[v - 1].version, nc);
                while (ni[i]) {
                    i = (i + 1) & (nc - 1);
                }
                ni[i] = v;
            }
        }
        free(a->idx);
        a->idx = ni;
        a->idx_cap = nc;
    }
    size_t i = sv_hash(a->sv[j].hw, a->sv[j].version, a->idx_cap);
    while (a->idx[i]) {
        i = (i + 1) & (a->idx_cap - 1);
    }
    a->idx[i] = j + 1;
    return 0;
}

static int grow(void **p, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) {
        return 0;
    }
    size_t nc = *cap ? *cap * 2 : 32;
    if (nc > SIZE_MAX / elem) {
        return -1;
    }
    void *q = realloc(*p, nc * elem);
    if (!q) {
        return -1;
    }
    *p = q;
    *cap = nc;
    return 0;
}

static void hw_text(const struct fwt_signlog_record *r, char *out, size_t len)
{
    int printable = r->hw_id_len > 0;
    for (size_t i = 0; i < r->hw_id_len; i++) {
        printable &= r->hw_id[i] >= 0x20 && r->hw_id[i] <= 0x7e;
    }
    if (r->hw_id_len == 0) {
        snprintf(out, len, "any hardware");
    } else if (printable) {
        snprintf(out, len, "hardware '%.*s'", (int)r->hw_id_len, (const char *)r->hw_id);
    } else {
        char hex[2 * FWT_HW_ID_MAX + 1];
        fwt_hex_encode(r->hw_id, r->hw_id_len, hex);
        snprintf(out, len, "hardware 0x%s", hex);
    }
}

static void report(struct audit *a, uint64_t idx, enum fwt_audit_kind k, const char *text)
{
    a->findings++;
    if (a->fn) {
        a->fn(a->ctx, idx, k, text);
    }
}

static fwt_err audit_one(struct audit *a, uint64_t idx, const struct fwt_signlog_record *r)
{
    char msg[512], hw[160], vs[48], vs2[48], kh[65];
    fwt_hex_encode(r->keyhash, 32, kh);
    fwt_version_format(&r->version, vs, sizeof(vs));
    hw_text(r, hw, sizeof(hw));
    if (a->o->expect_keys) {
        int known = 0;
        for (size_t i = 0; i < a->o->n_expect_keys; i++) {
            known |= fwt_ct_compare(a->o->expect_keys[i], r->keyhash, 32) == 0;
        }
        if (!known) {
            snprintf(msg, sizeof(msg), "version %s for %s was signed by key %s, which is not in "
                     "the expected set (signer %s)", vs, hw, kh, r->signer);
            report(a, idx, FWT_AUDIT_UNEXPECTED_KEY, msg);
        }
    }
    if (a->o->has_window && !in_window(a->o, r->time)) {
        unsigned m = (unsigned)((r->time % 86400) / 60);
        snprintf(msg, sizeof(msg), "signed at %02u:%02u UTC (time %llu), outside the window "
                 "%02u:%02u-%02u:%02u, by %s", m / 60, m % 60, (unsigned long long)r->time,
                 a->o->window_start / 60, a->o->window_start % 60, a->o->window_end / 60,
                 a->o->window_end % 60, r->signer);
        report(a, idx, FWT_AUDIT_OUTSIDE_WINDOW, msg);
    }
    /* Per hardware id: versions and counters only go up. */
    size_t h = 0;
    while (h < a->n_hw && !(a->hw[h].hw_id_len == r->hw_id_len &&
                            memcmp(a->hw[h].hw_id, r->hw_id, r->hw_id_len) == 0)) {
        h++;
    }
    uint64_t v = fwt_keys_version_u64(&r->version);
    if (h == a->n_hw) {
        if (grow((void **)&a->hw, &a->cap_hw, a->n_hw, sizeof(*a->hw)) != 0) {
            return fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        struct hw_state *s = &a->hw[a->n_hw++];
        memset(s, 0, sizeof(*s));
        memcpy(s->hw_id, r->hw_id, r->hw_id_len);
        s->hw_id_len = r->hw_id_len;
        s->max_version = v;
        s->max_version_idx = idx;
        s->has_counter = r->has_security_counter;
        s->max_counter = r->security_counter;
        s->max_counter_idx = idx;
    } else {
        struct hw_state *s = &a->hw[h];
        if (v < s->max_version) {
            struct fwt_version old = {(uint8_t)(s->max_version >> 56),
                                      (uint8_t)(s->max_version >> 48),
                                      (uint16_t)(s->max_version >> 32), (uint32_t)s->max_version};
            fwt_version_format(&old, vs2, sizeof(vs2));
            snprintf(msg, sizeof(msg), "version %s for %s is lower than version %s signed "
                     "before (entry %llu): a rollback", vs, hw, vs2,
                     (unsigned long long)s->max_version_idx);
            report(a, idx, FWT_AUDIT_VERSION_DOWN, msg);
        } else if (v > s->max_version) {
            s->max_version = v;
            s->max_version_idx = idx;
        }
        if (r->has_security_counter) {
            if (s->has_counter && r->security_counter < s->max_counter) {
                snprintf(msg, sizeof(msg), "security counter %lu for %s (version %s) is lower "
                         "than %lu signed before (entry %llu)",
                         (unsigned long)r->security_counter, hw, vs,
                         (unsigned long)s->max_counter, (unsigned long long)s->max_counter_idx);
                report(a, idx, FWT_AUDIT_COUNTER_DOWN, msg);
            } else if (!s->has_counter || r->security_counter > s->max_counter) {
                s->has_counter = 1;
                s->max_counter = r->security_counter;
                s->max_counter_idx = idx;
            }
        }
    }
    /* The same version (and hardware) signed again must be the same image. */
    size_t j = sv_find(a, h, v);
    if (j == a->n_sv) {
        if (grow((void **)&a->sv, &a->cap_sv, a->n_sv, sizeof(*a->sv)) != 0) {
            return fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        struct signed_version *s = &a->sv[a->n_sv];
        s->hw = h;
        s->version = v;
        memcpy(s->digest, r->digest, r->digest_len);
        s->digest_len = r->digest_len;
        s->idx = idx;
        if (sv_index_add(a, a->n_sv) != 0) {
            return fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        a->n_sv++;
    } else if (a->sv[j].digest_len != r->digest_len ||
               memcmp(a->sv[j].digest, r->digest, r->digest_len) != 0) {
        snprintf(msg, sizeof(msg), "version %s for %s was signed before (entry %llu) with "
                 "another image digest: two different images carry the same version", vs, hw,
                 (unsigned long long)a->sv[j].idx);
        report(a, idx, FWT_AUDIT_DIGEST_CONFLICT, msg);
    }
    return FWT_OK;
}

fwt_err fwt_signlog_audit(fwt_signlog *log, const struct fwt_audit_opts *o, fwt_audit_fn fn,
                          void *ctx, size_t *n_findings)
{
    struct audit a;
    memset(&a, 0, sizeof(a));
    a.o = o;
    a.fn = fn;
    a.ctx = ctx;
    uint64_t n = 0;
    fwt_err e = fwt_signlog_size(log, &n);
    for (uint64_t i = 0; e == FWT_OK && i < n; i++) {
        fwt_signlog_report_progress(log, i, n);
        char *text = NULL;
        size_t len = 0;
        struct fwt_signlog_record r;
        if ((e = fwt_signlog_entry(log, i, &text, &len)) != FWT_OK) {
            break;
        }
        struct fwt_signlog_event ev;
        if (fwt_signlog_record_parse((const uint8_t *)text, len, &r) != FWT_OK) {
            /* events (fleet admin actions) are no signatures: nothing to audit */
            if (fwt_signlog_event_parse((const uint8_t *)text, len, &ev) != FWT_OK) {
                e = fwt_fail(FWT_E_STATE, "entry %llu is not a valid log entry: %s",
                             (unsigned long long)i, fwt_detail());
            } else if (o->on_event) {
                o->on_event(o->event_ctx, i, &ev);
            }
        } else {
            e = audit_one(&a, i, &r);
        }
        free(text);
    }
    if (e == FWT_OK) {
        fwt_signlog_report_progress(log, n, n);
    }
    free(a.hw);
    free(a.sv);
    free(a.idx);
    if (n_findings) {
        *n_findings = a.findings;
    }
    return e;
}
