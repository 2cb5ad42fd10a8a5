/*
 * The audit log: DIR/audit.log, one compact JSON object per line,
 *   {"detail":"...","event":"install","prev":"<sha256 hex>","seq":N,"time":T}
 * where prev is the SHA-256 of the previous line's bytes (without its
 * newline; 64 zeros for the first line). A line cut short by a power failure
 * (no newline at the end of the file) is ignored, and dropped by the next
 * append; any other damage breaks the chain and is reported.
 *
 * The chain alone cannot show that its last lines were cut off: its head is
 * anchored outside the log, in the power-fail-safe record audithead.{0,1}
 * (u64le entry count, SHA-256 of the last entry, 8 zero bytes), written after
 * each appended line is synced. So the log holds the anchored entries, or one
 * more when the power failed between the line and its anchor.
 */
#include "agent_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define DETAIL_MAX FWT_AUDIT_DETAIL_MAX
#define HEAD_NAME "audithead"
#define HEAD_SIZE 48U
/* Every line starts so (compact JSON, sorted keys): a torn line is a prefix of it and more. */
#define LINE_START "{\"detail\":\""

struct head {
    int present;
    uint64_t count;
    uint8_t hash[32];
    struct fwt_rec_info info;
};

static fwt_err head_read(const char *dir, struct head *h)
{
    uint8_t p[HEAD_SIZE];
    memset(h, 0, sizeof(*h));
    fwt_err err = fwt_rec_read(dir, HEAD_NAME, FWT_REC_KIND_AUDIT_HEAD, p, sizeof(p), &h->info);
    if (err == FWT_E_NOT_FOUND) {
        fwt_detail_clear();
        memset(&h->info, 0, sizeof(h->info));
        return FWT_OK;
    }
    if (err != FWT_OK) {
        char d[600];
        snprintf(d, sizeof(d), "%s", fwt_detail());
        return fwt_fail(FWT_E_STATE, "the audit log's anchor is unreadable: %s", d);
    }
    uint8_t zero = 0;
    for (size_t i = 40; i < HEAD_SIZE; i++) {
        zero |= p[i];
    }
    for (int i = 7; i >= 0; i--) {
        h->count = (h->count << 8) | p[i];
    }
    if (zero != 0 || h->count == 0 || h->count == UINT64_MAX) {
        return fwt_fail(FWT_E_STATE, "the audit log's anchor (%s/%s.0/.1) is invalid", dir, HEAD_NAME);
    }
    memcpy(h->hash, p + 8, 32);
    h->present = 1;
    return FWT_OK;
}

fwt_err fwt_audit_head(const char *dir, uint64_t *count, uint8_t hash[32])
{
    struct head h;
    fwt_err err = head_read(dir, &h);
    *count = err == FWT_OK && h.present ? h.count : 0;
    memcpy(hash, h.hash, 32);
    return err;
}

/* Anchor entry `count` whose line hashes to hash. */
static fwt_err head_write(const char *dir, struct head *h, uint64_t count, const uint8_t hash[32])
{
    uint8_t p[HEAD_SIZE];
    memset(p, 0, sizeof(p));
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(count >> (8 * i));
    }
    memcpy(p + 8, hash, 32);
    fwt_err err = fwt_rec_write(dir, HEAD_NAME, FWT_REC_KIND_AUDIT_HEAD, p, sizeof(p), &h->info);
    if (err == FWT_OK) {
        h->present = 1;
        h->count = count;
        memcpy(h->hash, hash, 32);
    }
    return err;
}

/* Could these bytes after the last newline be the start of an append cut short? */
static int torn_plausible(const char *s, size_t n)
{
    size_t k = strlen(LINE_START);
    if (n > FWT_AUDIT_LINE_MAX || memcmp(s, LINE_START, n < k ? n : k) != 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

static int event_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(((struct fwt_audit_entry *)0)->event)) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || c == '-' || c == '_')) {
            return 0;
        }
    }
    return 1;
}

fwt_err fwt_audit_line_parse(const char *line, size_t len, struct fwt_audit_entry *e)
{
    memset(e, 0, sizeof(*e));
    if (len == 0 || len > FWT_AUDIT_LINE_MAX) {
        return fwt_fail(FWT_E_STATE, "line of %zu bytes", len);
    }
    json_error_t jerr;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        return fwt_fail(FWT_E_STATE, "not JSON: %s", jerr.text);
    }
    fwt_err err = FWT_OK;
    json_t *seq = json_object_get(o, "seq"), *tm = json_object_get(o, "time");
    json_t *ev = json_object_get(o, "event"), *det = json_object_get(o, "detail");
    json_t *prev = json_object_get(o, "prev");
    if (!json_is_object(o) || json_object_size(o) != 5 || !json_is_integer(seq) ||
        !json_is_integer(tm) || !json_is_string(ev) || !json_is_string(det) ||
        !json_is_string(prev)) {
        err = fwt_fail(FWT_E_STATE, "not an audit entry (fields seq, time, event, detail, prev)");
    } else if (json_integer_value(seq) < 1 || json_integer_value(tm) < 0) {
        err = fwt_fail(FWT_E_STATE, "negative or zero sequence number or time");
    } else if (!event_ok(json_string_value(ev))) {
        err = fwt_fail(FWT_E_STATE, "invalid event name");
    } else if (json_string_length(det) > DETAIL_MAX) {
        err = fwt_fail(FWT_E_STATE, "detail longer than %u bytes", DETAIL_MAX);
    } else if (fwt_hex_decode(json_string_value(prev), e->prev, 32) != FWT_OK) {
        err = fwt_fail(FWT_E_STATE, "prev is not a SHA-256 in hex");
    } else {
        e->seq = (uint64_t)json_integer_value(seq);
        e->time = (uint64_t)json_integer_value(tm);
        snprintf(e->event, sizeof(e->event), "%s", json_string_value(ev));
        snprintf(e->detail, sizeof(e->detail), "%s", json_string_value(det));
    }
    json_decref(o);
    return err;
}

/* Make detail printable ASCII (the log stays greppable and valid UTF-8). */
static void clean(const char *in, char *out, size_t out_len)
{
    size_t j = 0;
    for (size_t i = 0; in && in[i] && j + 1 < out_len; i++) {
        unsigned char c = (unsigned char)in[i];
        out[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[j] = '\0';
}

fwt_err fwt_audit_append(const char *dir, const char *event, const char *detail)
{
    if (!event_ok(event)) {
        return fwt_fail(FWT_E_ARG, "invalid audit event name '%s'", event);
    }
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/audit.log", dir) >= (int)sizeof(path)) {
        return fwt_fail(FWT_E_ARG, "%s: path too long", dir);
    }
    struct head head;
    fwt_err herr = head_read(dir, &head);
    if (herr != FWT_OK) {
        return herr;
    }
    struct stat st0;
    int existed = stat(path, &st0) == 0;
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        return fwt_fail(FWT_E_IO, "%s: %s", path, strerror(errno));
    }
    fwt_err err = FWT_OK;
    struct stat st;
    uint8_t prev[32];
    memset(prev, 0, sizeof(prev));
    uint64_t seq = 1;
    if (fstat(fd, &st) != 0) {
        err = fwt_fail(FWT_E_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (st.st_size > 0) {
        /* The tail: the last complete line is at most FWT_AUDIT_LINE_MAX + 1 bytes. */
        static char tail[2 * FWT_AUDIT_LINE_MAX + 4];
        off_t want = st.st_size < (off_t)sizeof(tail) ? st.st_size : (off_t)sizeof(tail);
        off_t base = st.st_size - want;
        ssize_t r = pread(fd, tail, (size_t)want, base);
        if (r != (ssize_t)want) {
            err = fwt_fail(FWT_E_IO, "%s: cannot read the tail", path);
            goto out;
        }
        size_t n = (size_t)want;
        size_t end = n; /* one past the last newline */
        while (end > 0 && tail[end - 1] != '\n') {
            end--;
        }
        if (end < n) {
            /* Torn last line (a power cut during an append): drop it. */
            if (end == 0 && base > 0) {
                err = fwt_fail(FWT_E_STATE, "%s: last line longer than %u bytes", path,
                               FWT_AUDIT_LINE_MAX);
                goto out;
            }
            if (fwt_f_ftruncate(fd, base + (off_t)end) != 0 || fwt_f_fsync(fd) != 0) {
                err = fwt_fail(FWT_E_IO, "%s: cannot drop a torn line: %s", path,
                               strerror(errno));
                goto out;
            }
        }
        if (end > 0) {
            size_t ls = end - 1;
            while (ls > 0 && tail[ls - 1] != '\n') {
                ls--;
            }
            if (ls == 0 && base > 0) {
                err = fwt_fail(FWT_E_STATE, "%s: last line longer than %u bytes", path,
                               FWT_AUDIT_LINE_MAX);
                goto out;
            }
            struct fwt_audit_entry e;
            err = fwt_audit_line_parse(tail + ls, end - 1 - ls, &e);
            if (err != FWT_OK) {
                err = fwt_fail(err, "%s: last entry unreadable: %s", path, fwt_detail());
                goto out;
            }
            if (e.seq == UINT64_MAX || (err = fwt_sha256(tail + ls, end - 1 - ls, prev)) != FWT_OK) {
                err = fwt_fail(err == FWT_OK ? FWT_E_STATE : err, "%s: cannot chain", path);
                goto out;
            }
            seq = e.seq + 1;
        }
    }
    /* The log must end where its anchor says, or one entry later (a power cut between
     * that entry and its anchor); anything else was done behind the agent's back, and
     * anchoring it now would hide that. */
    if (head.present && (seq - 1 < head.count || seq - 1 > head.count + 1 ||
                         (seq - 1 == head.count && fwt_ct_compare(prev, head.hash, 32) != 0))) {
        err = fwt_fail(FWT_E_STATE, "%s: the log ends at entry %llu, %s entry %llu: not appending "
                       "(check it with 'fwtrust-agent log verify')", path,
                       (unsigned long long)(seq - 1),
                       seq - 1 == head.count ? "not with the anchored" : "its anchor is at",
                       (unsigned long long)head.count);
        goto out;
    }
    uint8_t line_sha[32];
    {
        char d[DETAIL_MAX + 1], prevhex[65];
        clean(detail, d, sizeof(d));
        fwt_hex_encode(prev, 32, prevhex);
        json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:s}", "seq", (json_int_t)seq, "time",
                              (json_int_t)time(NULL), "event", event, "detail", d, "prev",
                              prevhex);
        char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(o);
        if (!s) {
            err = fwt_fail(FWT_E_NOMEM, "out of memory");
            goto out;
        }
        size_t sl = strlen(s);
        char *line = realloc(s, sl + 2);
        if (!line) {
            free(s);
            err = fwt_fail(FWT_E_NOMEM, "out of memory");
            goto out;
        }
        line[sl] = '\n';
        line[sl + 1] = '\0';
        /* One write: O_APPEND puts it at the end; a cut leaves a torn tail at worst. */
        ssize_t w = fwt_f_write(fd, line, sl + 1);
        fwt_err he = fwt_sha256(line, sl, line_sha);
        free(line);
        if (he != FWT_OK) {
            err = he;
            goto out;
        }
        if (w != (ssize_t)(sl + 1)) {
            err = fwt_fail(FWT_E_IO, "%s: append failed: %s", path,
                           w < 0 ? strerror(errno) : "short write");
            goto out;
        }
        if (fwt_f_fsync(fd) != 0) {
            err = fwt_fail(FWT_E_IO, "%s: fsync: %s", path, strerror(errno));
            goto out;
        }
    }
    if (!existed) {
        err = fwt_f_fsync_dir(dir);
    }
    if (err == FWT_OK) {
        err = head_write(dir, &head, seq, line_sha); /* after the line is durable */
    }
out:
    close(fd);
    return err;
}

fwt_err fwt_audit_verify_anchored(const char *dir, uint64_t *n_out, int *torn, int *unanchored)
{
    return fwt_audit_walk(dir, NULL, NULL, n_out, torn, unanchored);
}

fwt_err fwt_audit_walk(const char *dir, int (*cb)(void *ctx, const struct fwt_agent_log_entry *e), void *ctx,
                       uint64_t *n_out, int *torn, int *unanchored)
{
    *n_out = 0;
    *torn = 0;
    *unanchored = 0;
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/audit.log", dir) >= (int)sizeof(path)) {
        return fwt_fail(FWT_E_ARG, "%s: path too long", dir);
    }
    struct head head;
    fwt_err err = head_read(dir, &head);
    if (err != FWT_OK) {
        return err;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT && !head.present) {
            return FWT_OK; /* no entries yet */
        }
        if (errno == ENOENT) {
            return fwt_fail(FWT_E_STATE, "%s is missing, but its anchor in the device state says "
                            "it held %llu entries: the log was removed", path,
                            (unsigned long long)head.count);
        }
        return fwt_fail(FWT_E_IO, "%s: %s", path, strerror(errno));
    }
    static char line[FWT_AUDIT_LINE_MAX + 2];
    uint8_t prev[32], at_anchor[32];
    memset(prev, 0, sizeof(prev));
    memset(at_anchor, 0, sizeof(at_anchor));
    uint64_t n = 0, lineno = 0;
    for (;;) {
        size_t len = 0;
        enum fwt_line r = fwt_agent_read_line(f, line, sizeof(line), &len);
        if (r == FWT_LINE_END) {
            break;
        }
        lineno++;
        if (r == FWT_LINE_TORN) {
            if (!torn_plausible(line, len)) {
                err = fwt_fail(FWT_E_STATE, "%s: %zu bytes after entry %llu are not the start of "
                               "an entry (junk appended, not an append cut short)", path, len,
                               (unsigned long long)n);
                break;
            }
            *torn = 1; /* an append cut short: ignored */
            break;
        }
        if (r == FWT_LINE_LONG) {
            err = fwt_fail(FWT_E_STATE, "%s: line %llu longer than %u bytes", path,
                           (unsigned long long)lineno, FWT_AUDIT_LINE_MAX);
            break;
        }
        struct fwt_audit_entry e;
        err = fwt_audit_line_parse(line, len, &e);
        if (err != FWT_OK) {
            err = fwt_fail(err, "%s: line %llu: %s", path, (unsigned long long)lineno,
                           fwt_detail());
            break;
        }
        if (e.seq != n + 1) {
            err = fwt_fail(FWT_E_STATE, "%s: line %llu: sequence %llu, expected %llu (entry "
                           "removed or inserted)", path, (unsigned long long)lineno,
                           (unsigned long long)e.seq, (unsigned long long)(n + 1));
            break;
        }
        if (fwt_ct_compare(e.prev, prev, 32) != 0) {
            err = fwt_fail(FWT_E_STATE, "%s: line %llu: hash chain broken (the line before was "
                           "changed)", path, (unsigned long long)lineno);
            break;
        }
        if ((err = fwt_sha256(line, len, prev)) != FWT_OK) {
            break;
        }
        n++;
        if (cb) {
            line[len] = '\0';
            struct fwt_agent_log_entry pe = {e.seq, e.time, e.event, e.detail, line};
            if (cb(ctx, &pe) != 0) {
                fclose(f);
                *n_out = n;
                return FWT_OK;
            }
        }
        if (n == head.count) {
            memcpy(at_anchor, prev, 32);
        }
    }
    if (err == FWT_OK && ferror(f)) {
        err = fwt_fail(FWT_E_IO, "%s: read error", path);
    }
    fclose(f);
    *n_out = n;
    if (err != FWT_OK) {
        return err;
    }
    if (!head.present) {
        if (n > 0) {
            return fwt_fail(FWT_E_STATE, "%s: %llu entries but no anchor in the device state "
                            "(%s.0/.1): it was removed (or the log predates anchors: the next "
                            "entry anchors it)", path, (unsigned long long)n, HEAD_NAME);
        }
        return FWT_OK;
    }
    if (n < head.count) {
        return fwt_fail(FWT_E_STATE, "%s: %llu entries, but the anchor in the device state says "
                        "%llu: the last %llu were removed", path, (unsigned long long)n,
                        (unsigned long long)head.count, (unsigned long long)(head.count - n));
    }
    if (n > head.count + 1) {
        return fwt_fail(FWT_E_STATE, "%s: %llu entries, but the anchor in the device state says "
                        "%llu: entries were added without the agent", path, (unsigned long long)n,
                        (unsigned long long)head.count);
    }
    if (fwt_ct_compare(at_anchor, head.hash, 32) != 0) {
        return fwt_fail(FWT_E_STATE, "%s: entry %llu is not the one anchored in the device state: "
                        "the log was rewritten", path, (unsigned long long)head.count);
    }
    *unanchored = n == head.count + 1;
    return FWT_OK;
}

fwt_err fwt_audit_verify(const char *dir, uint64_t *n_out, int *torn)
{
    int unanchored;
    return fwt_audit_verify_anchored(dir, n_out, torn, &unanchored);
}

fwt_err fwt_agent_log_read(fwt_agent *dev, int (*cb)(void *ctx, const struct fwt_agent_log_entry *e), void *ctx,
                           uint64_t *n_entries)
{
    int torn, unanchored;
    uint64_t n = 0;
    fwt_err err = fwt_audit_walk(dev->cfg.dir, cb, ctx, &n, &torn, &unanchored);
    if (n_entries) {
        *n_entries = n;
    }
    return err;
}

fwt_err fwt_agent_log_verify_anchored(fwt_agent *dev, uint64_t *n_entries, int *torn,
                                      int *unanchored)
{
    return fwt_audit_verify_anchored(dev->cfg.dir, n_entries, torn, unanchored);
}
