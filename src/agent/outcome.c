/*
 * How installs ended: the last outcome and the releases that failed their
 * trial, in the power-fail-safe record DIR/outcome.{0,1} (state.c's format,
 * kind FWT_REC_KIND_OUTCOME). Payload, FWT_OUTCOME_SIZE bytes, little-endian:
 *
 *   0   u8 format 1, u8 last outcome, u8 slot (0, 1, 0xff), u8 failed count
 *   4   4 zero bytes
 *   8   release of the last outcome (88 bytes, below)
 *   96  reason: 160 bytes, printable ASCII, NUL-terminated, zero-padded
 *   256 FWT_AGENT_FAILED_MAX releases, newest first, unused ones all zero
 *
 *   release: u8 digest length (0, 32, 48, 64), 7 zero bytes, version (u8
 *   major, u8 minor, u16 revision, u32 build), u64 time, 64 bytes digest
 *   (zero after its length)
 *
 * The end of a trial is read from boot control rather than written by the
 * bootloader: an install records "on trial" with its slot and digest before
 * it marks the slot; later, the slot off trial and not confirmed while still
 * holding that image means the trial rolled back. Every command that installs
 * brings the record up to date first, so no trial end is missed.
 */
#include "agent_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define OUTCOME_NAME "outcome"
#define REL_SIZE 88U
#define OFF_REL 8U
#define OFF_REASON 96U
#define REASON_SIZE 160U
#define OFF_FAILED 256U

const char *fwt_agent_outcome_name(enum fwt_agent_outcome_kind k)
{
    switch (k) {
    case FWT_OUTCOME_TRIAL:
        return "trial";
    case FWT_OUTCOME_CONFIRMED:
        return "confirmed";
    case FWT_OUTCOME_ROLLED_BACK:
        return "rolled_back";
    case FWT_OUTCOME_REFUSED:
        return "refused";
    default:
        return "none";
    }
}

static void rel_encode(const struct fwt_agent_release *r, uint8_t *p)
{
    memset(p, 0, REL_SIZE);
    size_t l = r->digest_len <= FWT_DIGEST_MAX ? r->digest_len : 0;
    p[0] = (uint8_t)l;
    p[8] = r->version.major;
    p[9] = r->version.minor;
    p[10] = (uint8_t)r->version.revision;
    p[11] = (uint8_t)(r->version.revision >> 8);
    for (int i = 0; i < 4; i++) {
        p[12 + i] = (uint8_t)(r->version.build >> (8 * i));
    }
    for (int i = 0; i < 8; i++) {
        p[16 + i] = (uint8_t)(r->time >> (8 * i));
    }
    memcpy(p + 24, r->digest, l);
}

static int rel_decode(const uint8_t *p, struct fwt_agent_release *r)
{
    memset(r, 0, sizeof(*r));
    size_t l = p[0];
    uint8_t z = 0;
    for (size_t i = 1; i < 8; i++) {
        z |= p[i];
    }
    for (size_t i = 24 + l; l <= FWT_DIGEST_MAX && i < REL_SIZE; i++) {
        z |= p[i];
    }
    if ((l != 0 && l != 32 && l != 48 && l != 64) || z != 0) {
        return 0;
    }
    r->digest_len = l;
    r->version.major = p[8];
    r->version.minor = p[9];
    r->version.revision = (uint16_t)(p[10] | (p[11] << 8));
    for (int i = 3; i >= 0; i--) {
        r->version.build = (r->version.build << 8) | p[12 + i];
    }
    for (int i = 7; i >= 0; i--) {
        r->time = (r->time << 8) | p[16 + i];
    }
    memcpy(r->digest, p + 24, l);
    return 1;
}

void fwt_outcome_encode(const struct fwt_agent_outcome *o, uint8_t out[FWT_OUTCOME_SIZE])
{
    memset(out, 0, FWT_OUTCOME_SIZE);
    size_t nf = o->n_failed <= FWT_AGENT_FAILED_MAX ? o->n_failed : FWT_AGENT_FAILED_MAX;
    out[0] = 1;
    out[1] = (uint8_t)o->last;
    out[2] = (uint8_t)o->slot;
    out[3] = (uint8_t)nf;
    rel_encode(&o->img, out + OFF_REL);
    for (size_t i = 0; i + 1 < REASON_SIZE && o->reason[i]; i++) {
        unsigned char c = (unsigned char)o->reason[i];
        out[OFF_REASON + i] = c >= 0x20 && c < 0x7f ? c : '?';
    }
    for (size_t i = 0; i < nf; i++) {
        rel_encode(&o->failed[i], out + OFF_FAILED + i * REL_SIZE);
    }
}

fwt_err fwt_outcome_decode(const uint8_t in[FWT_OUTCOME_SIZE], struct fwt_agent_outcome *o)
{
    memset(o, 0, sizeof(*o));
    if (in[0] != 1) {
        return fwt_fail(FWT_E_STATE, "outcome record: unsupported format %u", (unsigned)in[0]);
    }
    if (in[1] > FWT_OUTCOME_REFUSED || (in[2] > 1 && in[2] != FWT_SLOT_NONE) ||
        in[3] > FWT_AGENT_FAILED_MAX || (in[4] | in[5] | in[6] | in[7]) != 0) {
        return fwt_fail(FWT_E_STATE, "outcome record: invalid outcome, slot, count or reserved "
                        "bytes");
    }
    o->last = (enum fwt_agent_outcome_kind)in[1];
    o->slot = (enum fwt_agent_slot)in[2];
    o->n_failed = in[3];
    if (!rel_decode(in + OFF_REL, &o->img)) {
        return fwt_fail(FWT_E_STATE, "outcome record: invalid release");
    }
    const uint8_t *r = in + OFF_REASON;
    size_t rl = 0;
    while (rl < REASON_SIZE && r[rl]) {
        if (r[rl] < 0x20 || r[rl] >= 0x7f) {
            return fwt_fail(FWT_E_STATE, "outcome record: reason is not printable");
        }
        rl++;
    }
    uint8_t z = 0;
    for (size_t i = rl; i < REASON_SIZE; i++) {
        z |= r[i];
    }
    if (rl == REASON_SIZE || z != 0) {
        return fwt_fail(FWT_E_STATE, "outcome record: reason not terminated or not zero-padded");
    }
    memcpy(o->reason, r, rl);
    for (size_t i = 0; i < FWT_AGENT_FAILED_MAX; i++) {
        const uint8_t *p = in + OFF_FAILED + i * REL_SIZE;
        if (i < o->n_failed) {
            if (!rel_decode(p, &o->failed[i]) || o->failed[i].digest_len == 0) {
                return fwt_fail(FWT_E_STATE, "outcome record: invalid failed release %zu", i);
            }
            continue;
        }
        for (size_t k = 0; k < REL_SIZE; k++) {
            z |= p[k];
        }
        if (z != 0) {
            return fwt_fail(FWT_E_STATE, "outcome record: bytes after the failed releases");
        }
    }
    return FWT_OK;
}

const struct fwt_agent_release *fwt_agent_outcome_failed(const struct fwt_agent_outcome *o,
                                                         const uint8_t *digest, size_t len)
{
    for (size_t i = 0; i < o->n_failed && i < FWT_AGENT_FAILED_MAX; i++) {
        const struct fwt_agent_release *r = &o->failed[i];
        if (len != 0 && r->digest_len == len && fwt_ct_compare(r->digest, digest, len) == 0) {
            return r;
        }
    }
    return NULL;
}

static fwt_err outcome_read(fwt_agent *dev, struct fwt_agent_outcome *o, struct fwt_rec_info *info)
{
    uint8_t p[FWT_OUTCOME_SIZE];
    memset(o, 0, sizeof(*o));
    o->slot = FWT_SLOT_NONE;
    fwt_err err = fwt_rec_read(dev->cfg.dir, OUTCOME_NAME, FWT_REC_KIND_OUTCOME, p, sizeof(p), info);
    if (err == FWT_E_NOT_FOUND) {
        fwt_detail_clear();
        memset(info, 0, sizeof(*info));
        return FWT_OK; /* nothing recorded yet */
    }
    if (err == FWT_OK) {
        err = fwt_outcome_decode(p, o);
    }
    if (err != FWT_OK) {
        char d[600];
        snprintf(d, sizeof(d), "%s", fwt_detail());
        return fwt_fail(err, "%s/%s.0/.1: %s", dev->cfg.dir, OUTCOME_NAME, d);
    }
    return FWT_OK;
}

static void add_failed(struct fwt_agent_outcome *o, const struct fwt_agent_release *r)
{
    size_t j = 0;
    struct fwt_agent_release nf[FWT_AGENT_FAILED_MAX];
    nf[j++] = *r;
    for (size_t i = 0; i < o->n_failed && j < FWT_AGENT_FAILED_MAX; i++) {
        if (o->failed[i].digest_len == r->digest_len &&
            fwt_ct_compare(o->failed[i].digest, r->digest, r->digest_len) == 0) {
            continue; /* the same release failing again moves to the front */
        }
        nf[j++] = o->failed[i]; /* the oldest falls off the end */
    }
    memcpy(o->failed, nf, j * sizeof(nf[0]));
    o->n_failed = j;
}

/* Apply what boot control says about a recorded trial. 1 when o changed. */
static int reconcile(const struct fwt_bootctl *bc, struct fwt_agent_outcome *o, uint32_t tries)
{
    if (o->last != FWT_OUTCOME_TRIAL || (o->slot != FWT_SLOT_A && o->slot != FWT_SLOT_B)) {
        return 0;
    }
    int s = o->slot;
    int holds = bc->digest_len[s] != 0 && bc->digest_len[s] == o->img.digest_len &&
                fwt_ct_compare(bc->digest[s], o->img.digest, o->img.digest_len) == 0;
    if (holds && bc->trial == s) {
        return 0; /* still on trial */
    }
    if (!holds) {
        /* The install never marked the slot (a power cut), or it was written since. */
        o->last = FWT_OUTCOME_NONE;
        o->reason[0] = '\0';
        return 1;
    }
    if (bc->confirmed == s && !bc->bad[s]) {
        o->last = FWT_OUTCOME_CONFIRMED; /* (a forced retry of a failed release that worked) */
        o->reason[0] = '\0';
        size_t j = 0;
        for (size_t i = 0; i < o->n_failed; i++) {
            if (o->failed[i].digest_len != o->img.digest_len ||
                fwt_ct_compare(o->failed[i].digest, o->img.digest, o->img.digest_len) != 0) {
                o->failed[j++] = o->failed[i];
            }
        }
        memset(o->failed + j, 0, (o->n_failed - j) * sizeof(o->failed[0]));
        o->n_failed = j;
        return 1;
    }
    o->last = FWT_OUTCOME_ROLLED_BACK;
    if (bc->bad[s]) {
        snprintf(o->reason, sizeof(o->reason), "the image failed verification at a trial boot");
    } else {
        snprintf(o->reason, sizeof(o->reason), "the trial ended without a confirm (its %u trial "
                 "boot(s) used up, or cancelled)", (unsigned)tries);
    }
    o->img.time = (uint64_t)time(NULL);
    add_failed(o, &o->img);
    return 1;
}

fwt_err fwt_agent_outcome_get(fwt_agent *dev, struct fwt_agent_outcome *out)
{
    struct fwt_rec_info info;
    fwt_err err = outcome_read(dev, out, &info);
    if (err == FWT_OK) {
        (void)reconcile(&dev->bc, out, dev->cfg.tries);
    }
    return err;
}

static fwt_err outcome_write(fwt_agent *dev, const struct fwt_agent_outcome *o,
                             struct fwt_rec_info *info)
{
    if (dev->readonly) {
        return fwt_fail(FWT_E_INTERNAL, "device opened read-only");
    }
    uint8_t p[FWT_OUTCOME_SIZE];
    fwt_outcome_encode(o, p);
    struct fwt_agent_outcome check;
    if (fwt_outcome_decode(p, &check) != FWT_OK) {
        return fwt_fail(FWT_E_INTERNAL, "refusing to write an inconsistent outcome record: %s",
                        fwt_detail());
    }
    return fwt_rec_write(dev->cfg.dir, OUTCOME_NAME, FWT_REC_KIND_OUTCOME, p, sizeof(p), info);
}

/* Read, bring up to date, persist when changed. */
static fwt_err sync_into(fwt_agent *dev, struct fwt_agent_outcome *o, struct fwt_rec_info *info)
{
    fwt_err err = outcome_read(dev, o, info);
    if (err == FWT_OK && reconcile(&dev->bc, o, dev->cfg.tries)) {
        err = outcome_write(dev, o, info);
    }
    return err;
}

fwt_err fwt_agent_outcome_sync(fwt_agent *dev)
{
    struct fwt_agent_outcome o;
    struct fwt_rec_info info;
    return sync_into(dev, &o, &info);
}

fwt_err fwt_agent_outcome_cancelled(fwt_agent *dev)
{
    struct fwt_agent_outcome o;
    struct fwt_rec_info info;
    fwt_err err = outcome_read(dev, &o, &info);
    if (err != FWT_OK || o.last != FWT_OUTCOME_TRIAL) {
        return err;
    }
    o.last = FWT_OUTCOME_NONE;
    snprintf(o.reason, sizeof(o.reason), "the trial was cancelled before it booted");
    return outcome_write(dev, &o, &info);
}

fwt_err fwt_agent_outcome_note(fwt_agent *dev, enum fwt_agent_outcome_kind kind,
                               enum fwt_agent_slot slot, const struct fwt_agent_image *img,
                               const char *reason)
{
    struct fwt_agent_outcome o;
    struct fwt_rec_info info;
    fwt_err err = sync_into(dev, &o, &info);
    if (err != FWT_OK) {
        return err;
    }
    o.last = kind;
    o.slot = slot;
    memset(&o.img, 0, sizeof(o.img));
    if (img) {
        o.img.version = img->version;
        o.img.digest_len = img->digest_len <= FWT_DIGEST_MAX ? img->digest_len : 0;
        memcpy(o.img.digest, img->digest, o.img.digest_len);
    }
    o.img.time = (uint64_t)time(NULL);
    snprintf(o.reason, sizeof(o.reason), "%s", reason ? reason : "");
    if (kind == FWT_OUTCOME_ROLLED_BACK && o.img.digest_len != 0) {
        add_failed(&o, &o.img);
    }
    return outcome_write(dev, &o, &info);
}
