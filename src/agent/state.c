/*
 * Power-fail safe state: redundant checksummed record copies, the boot
 * control and anti-rollback encodings, and the file backend of the
 * anti-rollback state.
 */
#include "agent_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}
static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32);
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

void fwt_rec_encode(uint16_t kind, uint64_t seq, const uint8_t *payload, size_t payload_len,
                    uint8_t *out)
{
    memcpy(out, FWT_REC_MAGIC, 8);
    put16(out + 8, 1);
    put16(out + 10, kind);
    put32(out + 12, (uint32_t)payload_len);
    put64(out + 16, seq);
    put64(out + 24, 0);
    memcpy(out + FWT_REC_HDR, payload, payload_len);
    uint8_t sum[32];
    if (fwt_sha256(out, FWT_REC_HDR + payload_len, sum) != FWT_OK) {
        memset(sum, 0, sizeof(sum)); /* an all-zero checksum never matches: the copy reads as bad */
    }
    memcpy(out + FWT_REC_HDR + payload_len, sum, 32);
}

fwt_err fwt_rec_decode(const uint8_t *buf, size_t len, uint16_t kind, uint8_t *payload,
                       size_t payload_len, uint64_t *seq)
{
    if (payload_len > FWT_REC_MAX_PAYLOAD) {
        return fwt_fail(FWT_E_ARG, "record payload too large");
    }
    size_t want = FWT_REC_HDR + payload_len + 32;
    if (len != want) {
        return fwt_fail(FWT_E_STATE, "%zu bytes, expected %zu (torn or truncated)", len, want);
    }
    if (memcmp(buf, FWT_REC_MAGIC, 8) != 0) {
        return fwt_fail(FWT_E_STATE, "bad magic");
    }
    uint8_t sum[32];
    if (fwt_sha256(buf, FWT_REC_HDR + payload_len, sum) != FWT_OK) {
        return fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
    }
    if (fwt_ct_compare(sum, buf + FWT_REC_HDR + payload_len, 32) != 0) {
        return fwt_fail(FWT_E_STATE, "checksum mismatch (torn or corrupt write)");
    }
    if (get16(buf + 8) != 1) {
        return fwt_fail(FWT_E_STATE, "unsupported record format %u", (unsigned)get16(buf + 8));
    }
    if (get16(buf + 10) != kind) {
        return fwt_fail(FWT_E_STATE, "record of kind %u, expected %u", (unsigned)get16(buf + 10),
                        (unsigned)kind);
    }
    if (get32(buf + 12) != payload_len) {
        return fwt_fail(FWT_E_STATE, "payload length %u, expected %zu", (unsigned)get32(buf + 12),
                        payload_len);
    }
    if (get64(buf + 24) != 0) {
        return fwt_fail(FWT_E_STATE, "reserved header field is not zero");
    }
    uint64_t s = get64(buf + 16);
    if (s == 0 || s == UINT64_MAX) {
        return fwt_fail(FWT_E_STATE, "invalid sequence number");
    }
    memcpy(payload, buf + FWT_REC_HDR, payload_len);
    *seq = s;
    return FWT_OK;
}

static fwt_err rec_path(const char *dir, const char *name, int which, char *out, size_t out_len)
{
    int n = snprintf(out, out_len, "%s/%s.%d", dir, name, which);
    if (n < 0 || (size_t)n >= out_len) {
        return fwt_fail(FWT_E_ARG, "%s: path too long", dir);
    }
    return FWT_OK;
}

/* Read one copy: FWT_OK, FWT_E_NOT_FOUND, or FWT_E_STATE/FWT_E_IO. */
static fwt_err rec_read_one(const char *path, uint16_t kind, uint8_t *payload, size_t payload_len,
                            uint64_t *seq)
{
    size_t want = FWT_REC_HDR + payload_len + 32;
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err err = fwt_read_file(path, want + 1, &buf, &len);
    if (err == FWT_E_TOO_LARGE) {
        return fwt_fail(FWT_E_STATE, "%s: larger than a record", path);
    }
    if (err != FWT_OK) {
        return err;
    }
    err = fwt_rec_decode(buf, len, kind, payload, payload_len, seq);
    free(buf);
    if (err != FWT_OK) {
        char d[512];
        snprintf(d, sizeof(d), "%s", fwt_detail());
        return fwt_fail(err, "%s: %s", path, d);
    }
    return FWT_OK;
}

fwt_err fwt_rec_read(const char *dir, const char *name, uint16_t kind, uint8_t *payload,
                     size_t payload_len, struct fwt_rec_info *info)
{
    if (payload_len > FWT_REC_MAX_PAYLOAD) {
        return fwt_fail(FWT_E_ARG, "record payload too large");
    }
    uint8_t tmp[2][FWT_REC_MAX_PAYLOAD];
    uint64_t seq[2] = {0, 0};
    fwt_err e[2];
    char why[2][512];
    memset(info, 0, sizeof(*info));
    for (int i = 0; i < 2; i++) {
        char path[PATH_MAX];
        fwt_err pe = rec_path(dir, name, i, path, sizeof(path));
        if (pe != FWT_OK) {
            return pe;
        }
        e[i] = rec_read_one(path, kind, tmp[i], payload_len, &seq[i]);
        snprintf(why[i], sizeof(why[i]), "%s", fwt_detail());
        info->valid[i] = e[i] == FWT_OK;
    }
    if (!info->valid[0] && !info->valid[1]) {
        if (e[0] == FWT_E_NOT_FOUND && e[1] == FWT_E_NOT_FOUND) {
            return fwt_fail(FWT_E_NOT_FOUND, "%s/%s.0 and .1 do not exist", dir, name);
        }
        return fwt_fail(FWT_E_STATE, "no valid copy of %s: %s; %s", name, why[0], why[1]);
    }
    int w;
    if (info->valid[0] && info->valid[1]) {
        if (seq[0] == seq[1]) {
            /* Two copies with one sequence number but (possibly) different
             * contents cannot come from our writer; take copy 0 only if equal. */
            if (memcmp(tmp[0], tmp[1], payload_len) != 0) {
                return fwt_fail(FWT_E_STATE,
                                "%s: both copies carry sequence %llu with different contents",
                                name, (unsigned long long)seq[0]);
            }
        }
        w = seq[1] > seq[0] ? 1 : 0;
    } else {
        w = info->valid[0] ? 0 : 1;
    }
    memcpy(payload, tmp[w], payload_len);
    info->seq = seq[w];
    info->which = w;
    return FWT_OK;
}

/* Write one copy (in place, then fsync) with sequence number seq. */
static fwt_err rec_write_copy(const char *dir, const char *name, uint16_t kind,
                              const uint8_t *payload, size_t payload_len, int target, uint64_t seq)
{
    uint8_t buf[FWT_REC_HDR + FWT_REC_MAX_PAYLOAD + 32];
    size_t len = FWT_REC_HDR + payload_len + 32;
    fwt_rec_encode(kind, seq, payload, payload_len, buf);
    char path[PATH_MAX];
    fwt_err err = rec_path(dir, name, target, path, sizeof(path));
    if (err != FWT_OK) {
        return err;
    }
    struct stat st;
    int existed = stat(path, &st) == 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        return fwt_fail(FWT_E_IO, "%s: %s", path, strerror(errno));
    }
    err = fwt_f_pwrite_all(fd, buf, len, 0, path);
    if (err == FWT_OK && existed && (uint64_t)st.st_size > len &&
        fwt_f_ftruncate(fd, (off_t)len) != 0) {
        err = fwt_fail(FWT_E_IO, "%s: truncate: %s", path, strerror(errno));
    }
    if (err == FWT_OK && fwt_f_fsync(fd) != 0) {
        err = fwt_fail(FWT_E_IO, "%s: fsync: %s", path, strerror(errno));
    }
    if (close(fd) != 0 && err == FWT_OK) {
        err = fwt_fail(FWT_E_IO, "%s: close: %s", path, strerror(errno));
    }
    if (err == FWT_OK && !existed) {
        err = fwt_f_fsync_dir(dir);
    }
    return err;
}

fwt_err fwt_rec_write(const char *dir, const char *name, uint16_t kind, const uint8_t *payload,
                      size_t payload_len, struct fwt_rec_info *info)
{
    if (payload_len > FWT_REC_MAX_PAYLOAD) {
        return fwt_fail(FWT_E_ARG, "record payload too large");
    }
    /* Replace the copy that does not hold the newest valid record. */
    int target = (info->valid[0] || info->valid[1]) ? (info->which ^ 1) : 0;
    if (info->seq >= UINT64_MAX - 1) {
        /* No next sequence number (only a forged or corrupt copy gets this far): renumber
         * rather than refuse every write for ever. The other copy gets sequence 1 (the
         * newest stays the newest: a cut here leaves the old state), then the newest is
         * overwritten with sequence 2 (a cut here leaves copy `target`: the new state). */
        fwt_err err = rec_write_copy(dir, name, kind, payload, payload_len, target, 1);
        if (err != FWT_OK) {
            info->valid[target] = 0;
            return err;
        }
        info->valid[target] = 1;
        err = rec_write_copy(dir, name, kind, payload, payload_len, target ^ 1, 2);
        if (err != FWT_OK) {
            info->valid[target ^ 1] = 0;
            info->seq = 1;
            info->which = target;
            return err;
        }
        info->seq = 2;
        info->which = target ^ 1;
        info->valid[target ^ 1] = 1;
        return FWT_OK;
    }
    uint64_t seq = info->seq + 1;
    fwt_err err = rec_write_copy(dir, name, kind, payload, payload_len, target, seq);
    if (err != FWT_OK) {
        /* The copy we wrote may be torn; the other one still holds the old state. */
        info->valid[target] = 0;
        return err;
    }
    info->seq = seq;
    info->which = target;
    info->valid[target] = 1;
    return FWT_OK;
}

/* ---- boot control ---- */

static int slot_ok(uint8_t s)
{
    return s == FWT_SLOT_A || s == FWT_SLOT_B || s == FWT_SLOT_NONE;
}

#define BC_F_BOOTED_TRIAL 0x01U
#define BC_F_RAISE_PENDING 0x02U
#define BC_F_BAD_A 0x04U
#define BC_F_BAD_B 0x08U

void fwt_bootctl_encode(const struct fwt_bootctl *bc, uint8_t out[FWT_BOOTCTL_SIZE])
{
    memset(out, 0, FWT_BOOTCTL_SIZE);
    out[0] = bc->confirmed;
    out[1] = bc->trial;
    out[2] = bc->booted;
    out[3] = (uint8_t)((bc->booted_trial ? BC_F_BOOTED_TRIAL : 0) |
                       (bc->raise_pending ? BC_F_RAISE_PENDING : 0) | (bc->bad[0] ? BC_F_BAD_A : 0) |
                       (bc->bad[1] ? BC_F_BAD_B : 0));
    put32(out + 4, bc->tries_left);
    put32(out + 8, bc->boot_count);
    put32(out + 20, bc->floor_sc);
    put32(out + 24, bc->floor_kv);
    put32(out + 12, (uint32_t)bc->time_floor); /* low half */
    put32(out + 28, (uint32_t)(bc->time_floor >> 32));
    out[16] = bc->digest_len[0];
    out[17] = bc->digest_len[1];
    memcpy(out + 32, bc->digest[0], FWT_DIGEST_MAX);
    memcpy(out + 96, bc->digest[1], FWT_DIGEST_MAX);
}

fwt_err fwt_bootctl_decode(const uint8_t in[FWT_BOOTCTL_SIZE], struct fwt_bootctl *bc)
{
    memset(bc, 0, sizeof(*bc));
    if (!slot_ok(in[0]) || !slot_ok(in[1]) || !slot_ok(in[2])) {
        return fwt_fail(FWT_E_STATE, "boot control: invalid slot number");
    }
    if (in[3] & ~(BC_F_BOOTED_TRIAL | BC_F_RAISE_PENDING | BC_F_BAD_A | BC_F_BAD_B)) {
        return fwt_fail(FWT_E_STATE, "boot control: unknown flags 0x%02x", in[3]);
    }
    if (!all_zero(in + 18, 2)) {
        return fwt_fail(FWT_E_STATE, "boot control: reserved bytes are not zero");
    }
    bc->confirmed = in[0];
    bc->trial = in[1];
    bc->booted = in[2];
    bc->booted_trial = (in[3] & BC_F_BOOTED_TRIAL) != 0;
    bc->raise_pending = (in[3] & BC_F_RAISE_PENDING) != 0;
    bc->bad[0] = (in[3] & BC_F_BAD_A) != 0;
    bc->bad[1] = (in[3] & BC_F_BAD_B) != 0;
    bc->floor_sc = get32(in + 20);
    bc->floor_kv = get32(in + 24);
    bc->time_floor = (uint64_t)get32(in + 12) | ((uint64_t)get32(in + 28) << 32);
    bc->tries_left = get32(in + 4);
    bc->boot_count = get32(in + 8);
    if (bc->tries_left > FWT_AGENT_MAX_TRIES) {
        return fwt_fail(FWT_E_STATE, "boot control: %u tries left is above the maximum %u",
                        (unsigned)bc->tries_left, FWT_AGENT_MAX_TRIES);
    }
    if (bc->trial != FWT_SLOT_NONE && bc->trial == bc->confirmed) {
        return fwt_fail(FWT_E_STATE, "boot control: slot %c is both confirmed and on trial",
                        fwt_agent_slot_char(bc->trial));
    }
    if (bc->trial == FWT_SLOT_NONE && (bc->tries_left != 0 || bc->booted_trial)) {
        return fwt_fail(FWT_E_STATE, "boot control: trial tries without a trial slot");
    }
    if (bc->booted_trial && bc->booted != bc->trial) {
        return fwt_fail(FWT_E_STATE, "boot control: trial boot of a slot that is not on trial");
    }
    for (int i = 0; i < 2; i++) {
        uint8_t l = in[16 + i];
        if (l != 0 && l != 32 && l != 48 && l != 64) {
            return fwt_fail(FWT_E_STATE, "boot control: digest length %u", (unsigned)l);
        }
        const uint8_t *d = in + 32 + 64 * i;
        if (!all_zero(d + l, FWT_DIGEST_MAX - l)) {
            return fwt_fail(FWT_E_STATE, "boot control: bytes after a digest are not zero");
        }
        bc->digest_len[i] = l;
        memcpy(bc->digest[i], d, FWT_DIGEST_MAX);
    }
    return FWT_OK;
}

/* ---- anti-rollback state ---- */

void fwt_rollback_encode(const struct fwt_rollback_state *st, uint8_t out[FWT_ROLLBACK_SIZE])
{
    memset(out, 0, FWT_ROLLBACK_SIZE);
    put32(out, st->min_security_counter);
    put32(out + 4, st->min_key_version);
}

fwt_err fwt_rollback_decode(const uint8_t in[FWT_ROLLBACK_SIZE], struct fwt_rollback_state *st)
{
    if (!all_zero(in + 8, 8)) {
        return fwt_fail(FWT_E_STATE, "anti-rollback state: reserved bytes are not zero");
    }
    st->min_security_counter = get32(in);
    st->min_key_version = get32(in + 4);
    return FWT_OK;
}

struct file_backend {
    char *dir;
    struct fwt_rec_info info;
};

static fwt_err fb_read(void *ctx, struct fwt_rollback_state *st)
{
    struct file_backend *fb = ctx;
    uint8_t p[FWT_ROLLBACK_SIZE];
    fwt_err err = fwt_rec_read(fb->dir, "rollback", FWT_REC_KIND_ROLLBACK, p, sizeof(p), &fb->info);
    if (err == FWT_E_NOT_FOUND) {
        return fwt_fail(FWT_E_STATE, "%s: anti-rollback state missing (rollback.0/.1)", fb->dir);
    }
    if (err != FWT_OK) {
        return err;
    }
    return fwt_rollback_decode(p, st);
}

/* Do both copies of dir/name decode to exactly payload? */
static int both_copies_hold(const char *dir, const char *name, uint16_t kind,
                            const uint8_t *payload, size_t payload_len)
{
    for (int i = 0; i < 2; i++) {
        char path[PATH_MAX];
        uint8_t got[FWT_REC_MAX_PAYLOAD];
        uint64_t seq;
        if (rec_path(dir, name, i, path, sizeof(path)) != FWT_OK ||
            rec_read_one(path, kind, got, payload_len, &seq) != FWT_OK ||
            memcmp(got, payload, payload_len) != 0) {
            fwt_detail_clear();
            return 0;
        }
    }
    return 1;
}

/*
 * Raise to want, and leave the result in BOTH copies: a reader falls back to the
 * older copy when the newest fails its checksum (as a torn write would), so an
 * older copy holding a lower minimum would let one flipped bit lower it. The
 * copy that is not the newest is written first (a cut there leaves the old
 * minimum in the newest, and confirm's pending raise repeats this), then the
 * other one (a cut there leaves the new minimum in the first).
 */
static fwt_err fb_raise(void *ctx, const struct fwt_rollback_state *want)
{
    struct file_backend *fb = ctx;
    struct fwt_rollback_state cur = {0, 0};
    uint8_t raw[FWT_ROLLBACK_SIZE];
    fwt_err err = fwt_rec_read(fb->dir, "rollback", FWT_REC_KIND_ROLLBACK, raw, sizeof(raw),
                               &fb->info);
    if (err == FWT_E_NOT_FOUND) {
        /* First write (init): neither copy exists yet. A corrupt copy is
         * FWT_E_STATE above: a counter is never reset. */
        memset(&fb->info, 0, sizeof(fb->info));
    } else if (err != FWT_OK) {
        return err;
    } else if ((err = fwt_rollback_decode(raw, &cur)) != FWT_OK) {
        return err;
    }
    struct fwt_rollback_state next = cur;
    if (want->min_security_counter > next.min_security_counter) {
        next.min_security_counter = want->min_security_counter;
    }
    if (want->min_key_version > next.min_key_version) {
        next.min_key_version = want->min_key_version;
    }
    uint8_t p[FWT_ROLLBACK_SIZE];
    fwt_rollback_encode(&next, p);
    if (both_copies_hold(fb->dir, "rollback", FWT_REC_KIND_ROLLBACK, p, sizeof(p))) {
        return FWT_OK; /* monotonic: nothing to raise, and no older copy to repair */
    }
    int had = fb->info.seq != 0;
    err = fwt_rec_write(fb->dir, "rollback", FWT_REC_KIND_ROLLBACK, p, sizeof(p), &fb->info);
    if (err != FWT_OK || (had && memcmp(raw, p, sizeof(p)) == 0)) {
        return err; /* (the other copy already held these values) */
    }
    return fwt_rec_write(fb->dir, "rollback", FWT_REC_KIND_ROLLBACK, p, sizeof(p), &fb->info);
}

static void fb_close(void *ctx)
{
    struct file_backend *fb = ctx;
    if (fb) {
        free(fb->dir);
        free(fb);
    }
}

fwt_err fwt_rollback_file_backend(const char *dir, struct fwt_rollback_backend *out)
{
    memset(out, 0, sizeof(*out));
    struct file_backend *fb = calloc(1, sizeof(*fb));
    if (!fb || !(fb->dir = strdup(dir))) {
        free(fb);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    out->ctx = fb;
    out->read = fb_read;
    out->raise = fb_raise;
    out->close = fb_close;
    return FWT_OK;
}
