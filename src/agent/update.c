/*
 * The network update: TUF refresh, choice of the target, streaming download
 * into the inactive slot through the install API (decoding compressed and
 * patch targets on the fly), verification, trial. docs/updates.md.
 *
 * What is trusted, in order: the TUF metadata (the client verifies it before
 * anything here reads it), the target's length and hashes (checked by the
 * client over exactly the bytes fed to the slot), the decoded image's length
 * and SHA-256 from the target's custom metadata (signed by the targets role)
 * for encoded targets, and finally the verifier core on the slot
 * (fwt_agent_install_finish). Nothing written is bootable before all passed.
 */
#include "agent_internal.h"
#include "update_internal.h"

#include <fwtrust/fwt_delta.h>
#include <fwtrust/fwt_target_desc.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CANDIDATES 4096U
#define URL_MAX 2048U

enum enc { ENC_NONE = FWT_TDESC_NONE, ENC_ZSTD = FWT_TDESC_ZSTD, ENC_PATCH = FWT_TDESC_PATCH,
           ENC_BSDIFF = FWT_TDESC_BSDIFF, ENC_BSDIFF2 = FWT_TDESC_BSDIFF2 };
#define IS_PATCH(e) ((e) == ENC_PATCH || (e) == ENC_BSDIFF || (e) == ENC_BSDIFF2)

static const char *enc_name(enum enc e)
{
    return e == ENC_BSDIFF2 ? FWT_ENC_BSDIFF2
           : e == ENC_BSDIFF ? FWT_ENC_BSDIFF
           : e == ENC_PATCH ? FWT_ENC_PATCH
           : e == ENC_ZSTD  ? FWT_ENC_ZSTD
                            : FWT_ENC_NONE;
}

/* A target, as its (verified) metadata describes it. */
struct cand {
    char *name;
    uint64_t length;        /* bytes to download */
    enum enc enc;
    struct fwt_version version;
    int has_ctr;
    uint32_t ctr;
    uint8_t hw_id[FWT_HW_ID_MAX];
    size_t hw_id_len;
    uint64_t image_len;     /* bytes of the image (== length when not encoded) */
    uint8_t image_sha[32];
    uint8_t digest[FWT_DIGEST_MAX]; /* the image digest (hash TLV) */
    size_t digest_len;
    int has_signers;        /* custom.fwtrust.verified_signers: keys the publisher verified */
    size_t n_signers;
    uint8_t signers[FWT_MAX_SIGNERS][FWT_KEYHASH_SIZE];
    uint64_t base_len;      /* patch: the base image */
    uint8_t base_sha[32];
    uint8_t base_digest[FWT_DIGEST_MAX];
    size_t base_digest_len;
    uint64_t window;        /* encoded: the decoding window it declares (0: not declared) */
    int window_refused;     /* the decoder refused it for its window during this update */
};

struct cands {
    struct cand *v;
    size_t n, cap;
    fwt_err err;
    const char *hw_id;  /* keep only images for this hardware ... */
    const char *target; /* ... and the target named on the command line */
    size_t n_other_hw;  /* fwtrust images for other hardware (not kept) */
};

static void cands_free(struct cands *cs)
{
    for (size_t i = 0; i < cs->n; i++) {
        free(cs->v[i].name);
    }
    free(cs->v);
    memset(cs, 0, sizeof(*cs));
}

/*
 * Read a target's description (the one reader: tuf/target_desc.h). 0: usable
 * (c filled); -1: not an fwtrust image or malformed custom data (skipped, why
 * says so).
 */
static int parse_target(const struct fwt_tuf_target *t, struct cand *c, char *why, size_t why_len)
{
    memset(c, 0, sizeof(*c));
    why[0] = '\0';
    if (!t->custom_json) {
        snprintf(why, why_len, "no custom metadata (not an fwtrust image)");
        return -1;
    }
    json_error_t je;
    json_t *cu = json_loads(t->custom_json, JSON_REJECT_DUPLICATES, &je);
    struct fwt_target_desc d;
    fwt_err err = fwt_target_desc_parse(json_object_get(cu, "fwtrust"), &d, why, why_len);
    json_decref(cu);
    if (err == FWT_OK && d.hw_id_len == 0) {
        snprintf(why, why_len, "no hardware id in custom.fwtrust");
        err = FWT_E_META;
    }
    if (err != FWT_OK) {
        return -1;
    }
    c->enc = (enum enc)d.enc;
    c->version = d.version;
    c->has_ctr = d.has_ctr;
    c->ctr = d.ctr;
    memcpy(c->hw_id, d.hw_id, sizeof(c->hw_id));
    c->hw_id_len = d.hw_id_len;
    memcpy(c->digest, d.digest.v, sizeof(c->digest));
    c->digest_len = d.digest.len;
    c->has_signers = d.has_signers;
    c->n_signers = d.n_signers;
    memcpy(c->signers, d.signers, sizeof(c->signers));
    c->length = t->length;
    if (c->enc == ENC_NONE) {
        c->image_len = t->length;
        if (!t->sha256 || strlen(t->sha256) != 64 || fwt_hex_decode(t->sha256, c->image_sha, 32) != FWT_OK) {
            snprintf(why, why_len, "no sha256 hash in the target metadata");
            return -1;
        }
    } else {
        c->image_len = d.image_len;
        memcpy(c->image_sha, d.image_sha, 32);
    }
    c->base_len = d.base_len;
    memcpy(c->base_sha, d.base_sha, 32);
    memcpy(c->base_digest, d.base_digest.v, sizeof(c->base_digest));
    c->base_digest_len = d.base_digest.len;
    c->window = d.window;
    c->name = strdup(t->name);
    if (!c->name) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    return 0;
}

fwt_err fwt_update_check_target(const struct fwt_tuf_target *t, char *why, size_t why_len)
{
    struct cand c;
    if (parse_target(t, &c, why, why_len) != 0) {
        return FWT_E_META;
    }
    free(c.name);
    return FWT_OK;
}

static int collect(void *ctx, const struct fwt_tuf_target *t)
{
    struct cands *cs = ctx;
    struct cand c;
    char why[128];
    if (parse_target(t, &c, why, sizeof(why)) != 0) {
        return 0; /* not an fwtrust image (or not one we understand): not a candidate */
    }
    if ((c.hw_id_len != strlen(cs->hw_id) || memcmp(c.hw_id, cs->hw_id, c.hw_id_len) != 0) &&
        !(cs->target && !strcmp(cs->target, c.name))) {
        cs->n_other_hw++;
        free(c.name);
        return 0;
    }
    for (size_t i = 0; i < cs->n; i++) {
        if (!strcmp(cs->v[i].name, c.name)) {
            free(c.name); /* listed again (named, then in the scope) */
            return 0;
        }
    }
    if (cs->n == cs->cap) {
        if (cs->cap >= MAX_CANDIDATES) {
            free(c.name);
            cs->err = fwt_fail(FWT_E_TOO_LARGE, "more than %u firmware images for this hardware", MAX_CANDIDATES);
            return 1;
        }
        size_t ncap = cs->cap ? 2 * cs->cap : 16;
        struct cand *nv = realloc(cs->v, ncap * sizeof(*nv));
        if (!nv) {
            free(c.name);
            cs->err = fwt_fail(FWT_E_NOMEM, "out of memory");
            return 1;
        }
        cs->v = nv;
        cs->cap = ncap;
    }
    cs->v[cs->n++] = c;
    return 0;
}

/*
 * The candidates: the targets that can be meant for this device, read from
 * only the roles that can hold them (fwt_tuf_list_targets_matching), so that a
 * delegated role for other targets, expired or broken, never stops the update.
 * The scope is [update] targets; a named target (--target) is looked up by the
 * TUF search, and the fallbacks for it (the same image in another encoding) in
 * the scope, or without one beside it (its directory). Without any, every
 * target of every role (each role must then load).
 */
static fwt_err list_candidates(fwt_tuf_client *c, const struct fwt_agent_config *cfg,
                               const char *target, struct cands *cs)
{
    char scope[FWT_AGENT_TARGETS_MAX + 600];
    const char *pattern = cfg->targets;
    fwt_err err = FWT_OK;
    if (target) {
        struct fwt_tuf_target t;
        err = fwt_tuf_get_target(c, target, &t);
        if (err == FWT_OK) {
            (void)collect(cs, &t);
        } else if (err == FWT_E_NOT_FOUND) {
            fwt_detail_clear();
            err = FWT_OK; /* choose() says so */
        }
        const char *slash = strrchr(target, '/');
        size_t dl = slash ? (size_t)(slash - target) + 1 : 0;
        if (err == FWT_OK && !pattern && dl + 2 <= sizeof(scope)) {
            memcpy(scope, target, dl);
            memcpy(scope + dl, "*", 2);
            pattern = scope;
        }
    }
    if (err == FWT_OK && cs->err == FWT_OK) {
        err = pattern ? fwt_tuf_list_targets_matching(c, pattern, collect, cs)
                      : fwt_tuf_list_targets(c, collect, cs);
        if (err != FWT_OK && !pattern && err != FWT_E_NETWORK && err != FWT_E_NOMEM) {
            char d[1024];
            snprintf(d, sizeof(d), "%s", fwt_detail());
            err = fwt_fail(err, "%s (this device has no [update] targets pattern, so every "
                           "delegated role must load: set it to the device's target names)", d);
        }
    }
    return err == FWT_OK ? cs->err : err;
}

/* ---- the running image as a patch base ---- */

struct base_map {
    int fd;
    uint8_t *p;
    size_t len;
    int hashed;
    uint8_t sha[32];
};

static void base_unmap(struct base_map *b)
{
    if (b->p) {
        munmap(b->p, b->len);
        fwt_agent_sigbus_unguard();
    }
    if (b->fd >= 0) {
        close(b->fd);
    }
    b->p = NULL;
    b->fd = -1;
}

/* Map the first len bytes of the running slot (read-only) and hash them. */
static fwt_err base_map(struct base_map *b, const char *path, size_t len)
{
    b->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (b->fd < 0) {
        return fwt_fail(FWT_E_IO, "%s: %s", path, strerror(errno));
    }
    void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, b->fd, 0);
    if (p == MAP_FAILED) {
        fwt_err err = fwt_fail(FWT_E_IO, "%s: mmap of %zu bytes: %s", path, len, strerror(errno));
        base_unmap(b);
        return err;
    }
    b->p = p;
    b->len = len;
    char msg[1024];
    snprintf(msg, sizeof(msg), "fwtrust-agent: error: I/O error (FWT_E_IO): the running slot %s "
             "shrank while the patch base was read from it (another program truncated it); "
             "nothing was installed", path);
    fwt_agent_sigbus_guard(msg);
    fwt_err err = fwt_sha256(b->p, len, b->sha);
    if (err != FWT_OK) {
        base_unmap(b);
        return err;
    }
    b->hashed = 1;
    return FWT_OK;
}

/* ---- the choice ---- */

static int cand_cmp_version(const struct cand *a, const struct cand *b)
{
    int v = fwt_agent_version_cmp(&a->version, &b->version);
    if (v != 0) {
        return v;
    }
    uint32_t ca = a->has_ctr ? a->ctr : 0, cb = b->has_ctr ? b->ctr : 0;
    return ca < cb ? -1 : ca > cb;
}

struct ctx {
    fwt_agent *dev;
    const struct fwt_agent_config *cfg;
    int has_run;
    struct fwt_agent_image run;
    uint32_t min_ctr;
    struct base_map base;
    int base_tried;
    fwt_err base_err;
    struct fwt_agent_outcome outcome; /* releases that rolled back here */
    int force;
    size_t n_trusted;                 /* SHA-256 of the trusted keys' encodings */
    uint8_t trusted[FWT_AGENT_MAX_ANCHORS][FWT_KEYHASH_SIZE];
    size_t n_failed_skipped, n_signer_skipped;
};

/* Did this release roll back on this device (and is that not overridden)? */
static fwt_err rolled_back_here(const struct ctx *x, const struct cand *c)
{
    const struct fwt_agent_release *r =
        x->force ? NULL : fwt_agent_outcome_failed(&x->outcome, c->digest, c->digest_len);
    if (!r) {
        return FWT_OK;
    }
    char v[48];
    fwt_version_format(&c->version, v, sizeof(v));
    return fwt_fail(FWT_E_NO_UPDATE, "target %s is version %s, which rolled back on this device "
                    "(its trial ended without a confirm): not installed again until a newer "
                    "release is published (or --force)", c->name, v);
}

/*
 * Would the verifier refuse it for its signers? Only when the device trusts keys
 * alone (a certificate root may vouch for any key) and the publisher recorded the
 * keys that verified the image (add-target --verify-key): fewer of them than the
 * threshold trusted here means the image was signed for other devices.
 */
static int signers_refused(const struct ctx *x, const struct cand *c)
{
    if (!c->has_signers || x->cfg->n_roots > 0) {
        return 0;
    }
    size_t ok = 0;
    for (size_t i = 0; i < c->n_signers; i++) {
        int hit = 0;
        for (size_t k = 0; k < x->n_trusted; k++) {
            hit |= fwt_ct_compare(c->signers[i], x->trusted[k], FWT_KEYHASH_SIZE) == 0;
        }
        ok += (size_t)hit;
    }
    return ok < x->cfg->threshold;
}

/* Does this target suit the device at all (hardware, not lower than running, counter)? */
static fwt_err suits(struct ctx *x, const struct cand *c)
{
    const char *hw = x->cfg->hw_id;
    char vb[48], va[48];
    fwt_version_format(&c->version, va, sizeof(va));
    if (c->hw_id_len != strlen(hw) || memcmp(c->hw_id, hw, c->hw_id_len) != 0) {
        return fwt_fail(FWT_E_HW_ID, "target %s is for other hardware (this device is '%s')",
                        c->name, hw);
    }
    uint32_t ctr = c->has_ctr ? c->ctr : 0;
    if (ctr < x->min_ctr) {
        return fwt_fail(FWT_E_COUNTER,
                        "target %s has security counter %u, below the device minimum %u", c->name,
                        (unsigned)ctr, (unsigned)x->min_ctr);
    }
    if (x->has_run) {
        fwt_version_format(&x->run.version, vb, sizeof(vb));
        uint32_t rc = x->run.has_security_counter ? x->run.security_counter : 0;
        if (ctr < rc) {
            return fwt_fail(FWT_E_COUNTER,
                            "target %s has security counter %u, below the running image's %u",
                            c->name, (unsigned)ctr, (unsigned)rc);
        }
        if (fwt_agent_version_cmp(&c->version, &x->run.version) < 0) {
            return fwt_fail(FWT_E_NO_UPDATE, "target %s is version %s, older than the running %s",
                            c->name, va, vb);
        }
    }
    return FWT_OK;
}

static int same_image_as_running(const struct ctx *x, const struct cand *c)
{
    return x->has_run && c->digest_len == x->run.digest_len &&
           fwt_ct_compare(c->digest, x->run.digest, c->digest_len) == 0;
}

/* A patch can be used only when its base is exactly the running image's bytes. */
static int patch_fits(struct ctx *x, const struct cand *c, char *why, size_t why_len)
{
    if (!x->has_run) {
        snprintf(why, why_len, "no image runs to apply patch %s to", c->name);
        return 0;
    }
    if (c->base_digest_len != x->run.digest_len ||
        fwt_ct_compare(c->base_digest, x->run.digest, c->base_digest_len) != 0 ||
        c->base_len != x->run.total_size) {
        snprintf(why, why_len, "patch %s is for another base image than the running one",
                 c->name);
        return 0;
    }
    if (!x->base_tried) {
        x->base_tried = 1;
        x->base_err = base_map(&x->base, x->run.path, x->run.total_size);
    }
    if (x->base_err != FWT_OK) {
        snprintf(why, why_len, "the running image cannot be read as a patch base");
        return 0;
    }
    if (fwt_ct_compare(c->base_sha, x->base.sha, 32) != 0) {
        snprintf(why, why_len, "patch %s: the running image's bytes differ from its base",
                 c->name);
        return 0;
    }
    return 1;
}

/*
 * An encoded target can be decoded here only within [update] decode_window: its declared
 * window (custom.fwtrust.decode_window, signed but a hint: the decoder still enforces the
 * cap) above it, or a refusal by the decoder earlier in this update, rules it out before
 * anything is downloaded. A target declaring nothing (older repositories) is tried.
 */
static int window_fits(const struct ctx *x, const struct cand *c, char *why, size_t why_len)
{
    if (c->window_refused) {
        snprintf(why, why_len, "%s needed a larger decoding window than this device allows: the "
                 "decoder refused it", c->name);
        return 0;
    }
    if (c->enc != ENC_NONE && x->cfg->decode_window && c->window > x->cfg->decode_window) {
        snprintf(why, why_len, "%s needs a decoding window of %llu bytes, above [update] "
                 "decode_window (%llu)", c->name, (unsigned long long)c->window,
                 (unsigned long long)x->cfg->decode_window);
        return 0;
    }
    return 1;
}

/* Among the targets carrying exactly the image of best, the cheapest to fetch. */
static const struct cand *cheapest_for(struct ctx *x, const struct cands *cs,
                                       const struct cand *best, int no_delta,
                                       struct fwt_agent_update_result *res)
{
    const struct cand *pick = NULL;
    for (size_t i = 0; i < cs->n; i++) {
        const struct cand *c = &cs->v[i];
        if (c->image_len != best->image_len || memcmp(c->image_sha, best->image_sha, 32) != 0) {
            continue;
        }
        if (IS_PATCH(c->enc)) {
            char why[256];
            if (no_delta) {
                continue;
            }
            if (!patch_fits(x, c, why, sizeof(why))) {
                res->delta_skipped = 1;
                snprintf(res->note, sizeof(res->note), "%s", why);
                continue;
            }
        }
        char wwhy[256];
        if (!window_fits(x, c, wwhy, sizeof(wwhy))) {
            res->delta_skipped = res->delta_skipped || IS_PATCH(c->enc);
            snprintf(res->note, sizeof(res->note), "%s", wwhy);
            continue;
        }
        if (suits(x, c) != FWT_OK || rolled_back_here(x, c) != FWT_OK) {
            continue;
        }
        if (!pick || c->length < pick->length ||
            (c->length == pick->length && strcmp(c->name, pick->name) < 0)) {
            pick = c;
        }
    }
    fwt_detail_clear();
    return pick;
}

/*
 * The decoder refused pick for its window: note it (result, audit log) and find the cheapest
 * other target carrying the same image (NULL: none; the refusal stands, its detail kept).
 */
static const struct cand *window_fallback(fwt_agent *dev, struct ctx *x, struct cands *cs,
                                          const struct cand *pick,
                                          const struct fwt_agent_update_opts *o,
                                          struct fwt_agent_update_result *res)
{
    char detail[512];
    snprintf(detail, sizeof(detail), "%s", fwt_detail());
    cs->v[pick - cs->v].window_refused = 1;
    const struct cand *next = cheapest_for(x, cs, pick, o->no_delta, res);
    char note[sizeof(res->note)];
    snprintf(note, sizeof(note), "%.80s refused by the decoder: %.140s", pick->name, detail);
    snprintf(res->note, sizeof(res->note), "%s", note);
    res->delta_skipped = res->delta_skipped || IS_PATCH(pick->enc);
    res->window_fallback = next != NULL;
    if (next) {
        char ev[sizeof(note) + 300];
        snprintf(ev, sizeof(ev), "%s; fetching %s (%s) instead", note, next->name,
                 enc_name(next->enc));
        if (fwt_agent_log_event(dev, "update", ev) != FWT_OK) {
            fwt_detail_clear(); /* the update goes on; the result carries the note */
        }
    }
    (void)fwt_fail(FWT_E_TOO_LARGE, "%s", detail); /* the refusal, if nothing else delivers */
    return next;
}

static fwt_err choose(struct ctx *x, struct cands *cs, const struct fwt_agent_update_opts *o,
                      struct fwt_agent_update_result *res, const struct cand **out)
{
    *out = NULL;
    const struct cand *best = NULL;
    if (o->target) {
        for (size_t i = 0; i < cs->n; i++) {
            if (!strcmp(cs->v[i].name, o->target)) {
                best = &cs->v[i];
            }
        }
        if (!best) {
            return fwt_fail(FWT_E_NOT_FOUND, "target %s is not an fwtrust image of this repository",
                            o->target);
        }
        fwt_err err = suits(x, best);
        if (err == FWT_OK) {
            err = rolled_back_here(x, best);
        }
        if (err != FWT_OK) {
            return err;
        }
    } else {
        for (size_t i = 0; i < cs->n; i++) {
            const struct cand *c = &cs->v[i];
            if (suits(x, c) != FWT_OK) {
                continue;
            }
            /* A patch whose base is not running cannot deliver its image. */
            char why[256];
            if (IS_PATCH(c->enc) && (o->no_delta || !patch_fits(x, c, why, sizeof(why)))) {
                continue;
            }
            if (!window_fits(x, c, why, sizeof(why))) {
                continue; /* the same image in a form this device can decode is its own candidate */
            }
            if (rolled_back_here(x, c) != FWT_OK) {
                x->n_failed_skipped++;
                continue;
            }
            if (signers_refused(x, c)) {
                x->n_signer_skipped++; /* it would be downloaded only to be refused */
                continue;
            }
            if (!best || cand_cmp_version(c, best) > 0) {
                best = c;
            }
        }
        fwt_detail_clear();
        if (!best) {
            char vb[48] = "nothing";
            if (x->has_run) {
                fwt_version_format(&x->run.version, vb, sizeof(vb));
            }
            return fwt_fail(FWT_E_NO_UPDATE,
                            "no target for hardware '%s' is newer than the running %s (%zu "
                            "image(s) for it, %zu for other hardware); not offered: %zu that "
                            "rolled back on this device (not again without --force), %zu "
                            "signed by keys this device does not trust",
                            x->cfg->hw_id, vb, cs->n, cs->n_other_hw, x->n_failed_skipped,
                            x->n_signer_skipped);
        }
    }
    if (same_image_as_running(x, best)) {
        char vb[48];
        fwt_version_format(&x->run.version, vb, sizeof(vb));
        if (x->n_failed_skipped || x->n_signer_skipped) {
            return fwt_fail(FWT_E_NO_UPDATE, "the device already runs %s (%s); not offered: %zu "
                            "that rolled back on this device (not again without --force), %zu "
                            "signed by keys this device does not trust", vb, best->name,
                            x->n_failed_skipped, x->n_signer_skipped);
        }
        return fwt_fail(FWT_E_NO_UPDATE, "the device already runs %s (%s)", vb, best->name);
    }
    /* A named target is taken as named, unless it is a patch this device cannot apply. */
    char why[256] = "";
    int named_ok = o->target && (!IS_PATCH(best->enc) ||
                                 (!o->no_delta && patch_fits(x, best, why, sizeof(why))));
    if (named_ok && !window_fits(x, best, why, sizeof(why))) {
        res->delta_skipped = IS_PATCH(best->enc);
        snprintf(res->note, sizeof(res->note), "%s", why);
    } else if (named_ok) {
        *out = best;
        return FWT_OK;
    } else if (o->target && !o->no_delta) {
        res->delta_skipped = 1;
        snprintf(res->note, sizeof(res->note), "%s", why);
    }
    const struct cand *pick = cheapest_for(x, cs, best, o->no_delta, res);
    if (!pick) {
        return fwt_fail(FWT_E_NOT_FOUND,
                        "no target this device can use delivers the image of %s (%s)", best->name,
                        res->note[0] ? res->note : "only patches for another base");
    }
    *out = pick;
    return FWT_OK;
}

/* ---- download ---- */

/*
 * The image bytes (downloaded, or decoded from a compressed or patch target)
 * are gathered into two aligned FWT_AGENT_BLOCK buffers: a full one goes to
 * the slot as one block (direct write, hashed on the helper thread) while the
 * other fills.
 */
struct sink {
    fwt_agent_install *inst;
    fwt_dec *dec;
    fwt_err err;
    char detail[512]; /* the cause, kept: the client records its own detail after an abort */
    uint8_t *blk;     /* 2 * FWT_AGENT_BLOCK bytes */
    size_t fill;
    unsigned k;
    int spool_fd;     /* >= 0: the bytes go to this scratch file instead of a slot */
    uint8_t head[FWT_IMAGE_HEADER_SIZE]; /* the image's first bytes (its header) */
    size_t head_len;
};

/* A whole buffer to the scratch file. */
static fwt_err spool_put(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t k = write(fd, data, len);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return fwt_fail(FWT_E_IO, "spooling the target: %s", k < 0 ? strerror(errno) : "short write");
        }
        data += k;
        len -= (size_t)k;
    }
    return FWT_OK;
}

static fwt_err sink_put(struct sink *s, const uint8_t *data, size_t len)
{
    if (s->head_len < sizeof(s->head)) {
        size_t h = sizeof(s->head) - s->head_len < len ? sizeof(s->head) - s->head_len : len;
        memcpy(s->head + s->head_len, data, h);
        s->head_len += h;
    }
    while (len > 0) {
        uint8_t *b = s->blk + (size_t)s->k * FWT_AGENT_BLOCK;
        size_t n = FWT_AGENT_BLOCK - s->fill;
        if (n > len) {
            n = len;
        }
        memcpy(b + s->fill, data, n);
        s->fill += n;
        data += n;
        len -= n;
        if (s->fill == FWT_AGENT_BLOCK) {
            s->k ^= 1U;
            s->fill = 0;
            fwt_err err = fwt_agent_install_write_block(s->inst, b, FWT_AGENT_BLOCK);
            if (err != FWT_OK) {
                return err;
            }
        }
    }
    return FWT_OK;
}

/* The last, partial block, and the end of the hashing. */
static fwt_err sink_flush(struct sink *s)
{
    fwt_err err = FWT_OK;
    if (s->fill > 0) {
        err = fwt_agent_install_write_block(s->inst, s->blk + (size_t)s->k * FWT_AGENT_BLOCK,
                                            s->fill);
        s->k ^= 1U;
        s->fill = 0;
    }
    fwt_err d = fwt_agent_install_drain(s->inst);
    return err != FWT_OK ? err : d;
}

static fwt_err to_slot(void *ctx, const uint8_t *data, size_t len)
{
    return sink_put(ctx, data, len);
}

static int on_bytes(void *ctx, const uint8_t *data, size_t len)
{
    struct sink *s = ctx;
    if (s->err != FWT_OK) {
        return 1;
    }
    s->err = s->spool_fd >= 0 ? spool_put(s->spool_fd, data, len)
             : s->dec         ? fwt_dec_feed(s->dec, data, len)
                              : sink_put(s, data, len);
    if (s->err != FWT_OK) {
        snprintf(s->detail, sizeof(s->detail), "%s", fwt_detail());
        return 1;
    }
    return 0;
}

/*
 * The target spooled to an unlinked file in the device directory, checked by
 * the TUF client as it arrives, then installed from there (fwt_agent_install_fd:
 * an encrypted image is decrypted with [decrypt] key first).
 */
static fwt_err spool_install(fwt_agent *dev, fwt_tuf_client *c, const struct fwt_tuf_target *t,
                             const struct cand *pick, const char *src, const uint8_t *prov_sha,
                             const struct fwt_agent_update_opts *o, struct fwt_agent_update_result *res)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s/.target.XXXXXX", fwt_agent_get_config(dev)->dir);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return fwt_fail(FWT_E_ARG, "device directory path too long");
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        return fwt_fail(FWT_E_IO, "%s: %s", tmp, strerror(errno));
    }
    unlink(tmp); /* gone with the descriptor, whatever happens */
    if (o->on_state) {
        o->on_state(o->state_ctx, FWT_FLEET_DOWNLOADING, pick->name);
    }
    struct sink s;
    memset(&s, 0, sizeof(s));
    s.spool_fd = fd;
    fwt_err err = fwt_tuf_download(c, t, on_bytes, &s);
    if (s.err != FWT_OK) {
        err = fwt_fail(s.err, "%s", s.detail);
    }
    struct stat st;
    if (err == FWT_OK && (fstat(fd, &st) != 0 || (uint64_t)st.st_size != pick->image_len)) {
        err = fwt_fail(FWT_E_META_MISMATCH, "target %s: %llu bytes spooled, its metadata says %llu",
                       pick->name, (unsigned long long)st.st_size,
                       (unsigned long long)pick->image_len);
    }
    if (err == FWT_OK && lseek(fd, 0, SEEK_SET) != 0) {
        err = fwt_fail(FWT_E_IO, "spooled target: %s", strerror(errno));
    }
    if (err != FWT_OK) {
        close(fd);
        return err;
    }
    return fwt_agent_install_fd(dev, fd, 1, src, pick->image_len, 0, NULL, NULL, prov_sha,
                                &res->img);
}

static fwt_err url_join(char *out, size_t n, const char *base, const char *leaf)
{
    size_t bl = strlen(base);
    int r = snprintf(out, n, "%s%s%s", base, bl && base[bl - 1] == '/' ? "" : "/", leaf);
    if (r < 0 || (size_t)r >= n) {
        return fwt_fail(FWT_E_ARG, "repository URL too long");
    }
    return FWT_OK;
}

static fwt_err open_client(const struct fwt_agent_config *cfg, const struct fwt_agent_update_opts *o,
                           fwt_tuf_client **out, char *turl, size_t turl_len)
{
    *out = NULL;
    if (!cfg->tuf_root) {
        return fwt_fail(FWT_E_NO_TRUST,
                        "no TUF root configured for this device ([update] tuf_root): updates "
                        "are refused");
    }
    if (!cfg->repo_url) {
        return fwt_fail(FWT_E_ARG, "no repository URL configured for this device ([update] repo)");
    }
    char mdir[4096], murl[URL_MAX], root_json[4200];
    int r = snprintf(mdir, sizeof(mdir), "%s/tuf", cfg->dir);
    if (r < 0 || (size_t)r >= sizeof(mdir)) {
        return fwt_fail(FWT_E_ARG, "device path too long");
    }
    fwt_err err = url_join(murl, sizeof(murl), cfg->repo_url, "metadata/");
    if (err == FWT_OK) {
        err = url_join(turl, turl_len, cfg->repo_url, "targets/");
    }
    if (err != FWT_OK) {
        return err;
    }
    /* First update: install the configured root as the trusted one. */
    snprintf(root_json, sizeof(root_json), "%s/root.json", mdir);
    struct stat st;
    if (stat(root_json, &st) != 0) {
        uint8_t *buf = NULL;
        size_t len = 0;
        err = fwt_read_file(cfg->tuf_root, 512000, &buf, &len);
        if (err == FWT_OK) {
            err = fwt_tuf_init(mdir, buf, len);
        }
        free(buf);
        if (err != FWT_OK) {
            return fwt_fail(err, "trusted TUF root %s: %s", cfg->tuf_root, fwt_detail());
        }
    }
    struct fwt_tuf_client_opts co;
    memset(&co, 0, sizeof(co));
    co.metadata_dir = mdir;
    co.metadata_url = murl;
    co.targets_url = turl;
    co.transport.ca_file = cfg->tls_ca;
    co.transport.pinned_pubkey = cfg->tls_pinned_pubkey;
    co.transport.client_cert = cfg->tls_client_cert;
    co.transport.client_key = cfg->tls_client_key;
    co.fixed_now = o->fixed_now;
    co.progress = o->progress;
    co.progress_ctx = o->progress_ctx;
    return fwt_tuf_client_open(&co, out);
}

/* ---- the revocation list, fetched at each update ---- */

struct membuf {
    uint8_t *p;
    size_t len, max;
};

static int to_mem(void *ctx, const uint8_t *data, size_t len)
{
    struct membuf *m = ctx;
    if (len > m->max - m->len) {
        return -1;
    }
    uint8_t *np = realloc(m->p, m->len + len + 1);
    if (!np) {
        return -1;
    }
    m->p = np;
    memcpy(m->p + m->len, data, len);
    m->len += len;
    return 0;
}

/*
 * The list published as [revocation] target: downloaded (TUF checks its length
 * and hashes), then fwt_agent_revocation_apply (signatures by the device's own
 * revocation keys, version above the stored one). Not published: the stored
 * list stays in force. An older list than the stored one fails the update
 * (FWT_E_META_ROLLBACK): a repository serving it is rolling revocations back.
 */
static fwt_err fetch_revocation(fwt_agent *dev, fwt_tuf_client *c, struct fwt_agent_update_result *res)
{
    const struct fwt_agent_config *cfg = fwt_agent_get_config(dev);
    const char *name = cfg->revocation_target ? cfg->revocation_target : FWT_AGENT_REVOCATION_TARGET;
    struct fwt_tuf_target t;
    fwt_err err = fwt_tuf_get_target(c, name, &t);
    if (err == FWT_E_NOT_FOUND) {
        fwt_detail_clear();
        return fwt_agent_revocation_version(dev, &res->revocation_version);
    }
    if (err != FWT_OK) {
        return err;
    }
    if (t.length > FWT_AGENT_REVOCATION_MAX) {
        return fwt_fail(FWT_E_TOO_LARGE, "revocation list target %s: %llu bytes, at most %u", name,
                        (unsigned long long)t.length, FWT_AGENT_REVOCATION_MAX);
    }
    struct membuf m = {NULL, 0, FWT_AGENT_REVOCATION_MAX};
    err = fwt_tuf_download(c, &t, to_mem, &m);
    if (err == FWT_OK) {
        err = fwt_agent_revocation_apply(dev, m.p ? m.p : (const uint8_t *)"", m.len,
                                         &res->revocation_version);
        if (err == FWT_OK) {
            res->revocation_updated = 1;
        } else if (err == FWT_E_NO_UPDATE) {
            fwt_detail_clear();
            err = FWT_OK;
        } else {
            char d[1024];
            snprintf(d, sizeof(d), "%s", fwt_detail());
            err = fwt_fail(err, "revocation list target %s: %s", name, d);
        }
    }
    free(m.p);
    return err;
}

/* custom.provenance.bound of a target: the name of the envelope its image binds. */
static int bound_of(fwt_tuf_client *c, const char *target, char *out, size_t n)
{
    struct fwt_tuf_target t;
    if (fwt_tuf_get_target(c, target, &t) != FWT_OK || !t.custom_json) {
        fwt_detail_clear();
        return 0;
    }
    json_t *cu = json_loads(t.custom_json, JSON_REJECT_DUPLICATES, NULL);
    const char *b = json_string_value(json_object_get(json_object_get(cu, "provenance"), "bound"));
    int ok = b && strlen(b) < n;
    if (ok) {
        snprintf(out, n, "%s", b);
    }
    json_decref(cu);
    return ok;
}

/*
 * [update] require_provenance: the envelope the repository published with the image
 * (custom.provenance.bound of the image's target; for an encoded target, of the plain
 * target of the same image), fetched through TUF; the install then requires the image's
 * FWT_TLV_PROVENANCE to be its SHA-256 (sha gets it). No envelope published:
 * FWT_E_NOT_FOUND. Call before the image's target is looked up for its download (a
 * lookup hands out the client's storage, which the next lookup reuses).
 */
static fwt_err expect_provenance(fwt_tuf_client *c, const struct cands *cs, const struct cand *pick,
                                 uint8_t sha[32])
{
    char name[512];
    int found = bound_of(c, pick->name, name, sizeof(name));
    for (size_t i = 0; !found && i < cs->n; i++) {
        const struct cand *o = &cs->v[i];
        if (o->enc == ENC_NONE && fwt_ct_compare(o->image_sha, pick->image_sha, 32) == 0) {
            found = bound_of(c, o->name, name, sizeof(name));
        }
    }
    if (!found) {
        return fwt_fail(FWT_E_NOT_FOUND, "target %s has no provenance envelope in the repository "
                        "(custom.provenance), and this device requires one", pick->name);
    }
    struct fwt_tuf_target t;
    fwt_err err = fwt_tuf_get_target(c, name, &t);
    if (err != FWT_OK) {
        return err;
    }
    struct membuf m = {NULL, 0, FWT_AGENT_REVOCATION_MAX};
    err = fwt_tuf_download(c, &t, to_mem, &m);
    if (err == FWT_OK) {
        err = fwt_sha256(m.p ? m.p : (const uint8_t *)"", m.len, sha);
    }
    free(m.p);
    return err;
}

fwt_err fwt_agent_update(fwt_agent *dev, const struct fwt_agent_update_opts *o,
                         struct fwt_agent_update_result *res)
{
    memset(res, 0, sizeof(*res));
    res->encoding = FWT_ENC_NONE;
    struct ctx x;
    memset(&x, 0, sizeof(x));
    x.dev = dev;
    x.cfg = fwt_agent_get_config(dev);
    x.base.fd = -1;
    struct cands cs;
    memset(&cs, 0, sizeof(cs));
    cs.hw_id = x.cfg->hw_id;
    cs.target = o->target;
    fwt_tuf_client *c = NULL;
    fwt_agent_install *inst = NULL;
    fwt_dec *dec = NULL;
    char turl[URL_MAX];
    fwt_err err;
    struct sink s;
    memset(&s, 0, sizeof(s));
    s.spool_fd = -1; /* the slot */

    if (x.cfg->n_keys == 0 && x.cfg->n_roots == 0) {
        return fwt_fail(FWT_E_NO_TRUST, "this device has no trust anchor: every image is refused");
    }
    struct fwt_agent_status st;
    err = fwt_agent_status_get(dev, &st);
    if (err != FWT_OK) {
        return err;
    }
    x.min_ctr = st.min_security_counter;
    x.force = o->force;
    /* How the last trial ended (a rollback since the last run is recorded now), and the
     * releases that failed theirs: those are not offered again. */
    err = fwt_agent_outcome_sync(dev);
    if (err == FWT_OK) {
        err = fwt_agent_outcome_get(dev, &x.outcome);
    }
    if (err != FWT_OK) {
        return err;
    }
    for (size_t i = 0; i < x.cfg->n_keys; i++) {
        err = fwt_sha256(dev->keys[i].key, dev->keys[i].key_len, x.trusted[x.n_trusted]);
        if (err != FWT_OK) {
            return err;
        }
        x.n_trusted++;
    }
    err = fwt_agent_running(dev, &x.run);
    if (err == FWT_OK) {
        x.has_run = 1;
        res->had_running = 1;
        fwt_version_format(&x.run.version, res->running_version, sizeof(res->running_version));
    } else if (err == FWT_E_REVOKED) {
        /* A revoked running image is replaced like a missing one: not a base, not a floor. */
        snprintf(res->note, sizeof(res->note), "the running image is revoked: %s", fwt_detail());
    } else if (err != FWT_E_NOT_FOUND) {
        return fwt_fail(err, "the running image does not verify: %s", fwt_detail());
    }
    fwt_detail_clear();

    /* Uptane full verification: the director's chain and choice first, then the image
     * repository's chain, which must list the same target; only that target is installed. */
    struct fwt_agent_director_pick dpick;
    struct fwt_agent_update_opts ob = *o;
    if (o->director) {
        if (o->target) {
            return fwt_fail(FWT_E_ARG, "a target cannot be named when a director chooses it");
        }
        err = fwt_agent_director_refresh(dev, o, res, &dpick);
        if (err != FWT_OK) {
            return err;
        }
        snprintf(res->target, sizeof(res->target), "%s", dpick.name); /* for the report, whatever follows */
        ob.target = dpick.name;
        o = &ob;
        cs.target = o->target;
    }
    err = open_client(x.cfg, o, &c, turl, sizeof(turl));
    if (err == FWT_OK) {
        err = fwt_tuf_refresh(c);
    }
    if (err == FWT_OK && x.cfg->n_revocation_keys) {
        err = fetch_revocation(dev, c, res);
    }
    if (err == FWT_OK && o->director) {
        err = fwt_agent_director_match(c, &dpick, res);
    }
    if (err == FWT_OK) {
        err = list_candidates(c, x.cfg, o->target, &cs);
    }
    const struct cand *pick = NULL;
    if (err == FWT_OK) {
        err = choose(&x, &cs, o, res, &pick);
    }
    if (err != FWT_OK) {
        goto out;
    }
picked:
    snprintf(res->target, sizeof(res->target), "%s", pick->name);
    res->encoding = enc_name(pick->enc);
    res->downloaded = pick->length;
    res->image_length = pick->image_len;
    fwt_version_format(&pick->version, res->version, sizeof(res->version));
    if (o->check_only) {
        goto out;
    }

    uint8_t prov_sha[32];
    if (x.cfg->require_provenance) {
        err = expect_provenance(c, &cs, pick, prov_sha);
        if (err != FWT_OK) {
            goto out;
        }
    }
    /* The target again, as the client will fetch it (same verified metadata). */
    struct fwt_tuf_target t;
    err = fwt_tuf_get_target(c, pick->name, &t);
    if (err != FWT_OK) {
        goto out;
    }
    if (t.length != pick->length) {
        err = fwt_fail(FWT_E_INTERNAL, "target %s changed during the update", pick->name);
        goto out;
    }
    char src[URL_MAX + 600];
    snprintf(src, sizeof(src), "%s%s (%s)", turl, pick->name, res->encoding);
    if (pick->enc == ENC_NONE && x.cfg->decrypt_key) {
        /* A device that takes encrypted images: the target is spooled to an unlinked
         * scratch file (the TUF client checks its length and hashes, which cover the
         * bytes as published, ciphertext included), then installed as `install` does
         * a file: decrypted first when encrypted (the key TLV follows the payload),
         * into another scratch file, verified, written. */
        err = spool_install(dev, c, &t, pick, src, x.cfg->require_provenance ? prov_sha : NULL,
                            o, res);
        if (err == FWT_OK) {
            goto installed;
        }
        goto out;
    }
    err = fwt_agent_install_begin(dev, pick->image_len, 0, &inst);
    if (err != FWT_OK) {
        goto out;
    }
    fwt_agent_install_set_source(inst, src);
    if (x.cfg->require_provenance) {
        fwt_agent_install_expect_provenance(inst, prov_sha);
    }
    if (o->on_state) {
        o->on_state(o->state_ctx, FWT_FLEET_DOWNLOADING, pick->name);
    }
    s.inst = inst;
    void *blk = NULL;
    if (posix_memalign(&blk, FWT_AGENT_DIO_ALIGN, 2 * (size_t)FWT_AGENT_BLOCK) != 0) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
        goto out;
    }
    s.blk = blk;
    fwt_agent_install_direct(inst);
    if (pick->enc != ENC_NONE) {
        enum fwt_dec_method m = pick->enc == ENC_PATCH    ? FWT_DEC_PREFIX
                                : pick->enc == ENC_BSDIFF ? FWT_DEC_BSDIFF
                                : pick->enc == ENC_BSDIFF2 ? FWT_DEC_BSDIFF2
                                                          : FWT_DEC_PLAIN;
        err = fwt_dec_new(m, m == FWT_DEC_PLAIN ? NULL : x.base.p,
                          m == FWT_DEC_PLAIN ? 0 : x.base.len, pick->image_len, to_slot, &s, &dec);
        if (err == FWT_OK && x.cfg->decode_window) {
            err = fwt_dec_set_max_window(dec, x.cfg->decode_window); /* [update] decode_window */
        }
        if (err != FWT_OK) {
            goto out;
        }
        s.dec = dec;
    }
    err = fwt_tuf_download(c, &t, on_bytes, &s);
    if (s.err != FWT_OK) {
        err = fwt_fail(s.err, "%s", s.detail); /* the slot or the decoder failed, not the transfer */
    }
    /* The download verified against TUF; now the image bytes themselves. */
    if (err == FWT_OK && dec) {
        err = fwt_dec_end(dec);
    }
    if (err != FWT_OK && dec && fwt_dec_window_refused(dec)) {
        /* A target that declared no window (or a wrong one) and needs more than [update]
         * decode_window: nothing of it became bootable; the same image in another encoding
         * (the full image at worst) is fetched instead of failing the update. */
        const struct cand *next = window_fallback(dev, &x, &cs, pick, o, res);
        if (next) {
            fwt_agent_install_abort(inst); /* waits for the helper: s.blk is free after this */
            inst = NULL;
            free(s.blk);
            fwt_dec_free(dec);
            dec = NULL;
            memset(&s, 0, sizeof(s));
            s.spool_fd = -1;
            pick = next;
            goto picked;
        }
    }
    if (err != FWT_OK) {
        goto out;
    }
    err = sink_flush(&s);
    if (err != FWT_OK) {
        goto out;
    }
    struct fwt_image_header hdr;
    if (s.head_len == sizeof(s.head) && fwt_header_decode(s.head, &hdr) == FWT_OK &&
        (hdr.flags & (FWT_IMAGE_F_ENCRYPTED_AES128 | FWT_IMAGE_F_ENCRYPTED_AES256))) {
        /* (A device with a [decrypt] key spools plain targets: it never gets here.) */
        err = fwt_fail(FWT_E_UNSUPPORTED, "target %s is an encrypted image, and this device has no "
                       "decryption key ([decrypt] key in device.ini)", pick->name);
        goto out;
    }
    if (fwt_agent_install_written(inst) != pick->image_len) {
        err = fwt_fail(FWT_E_META_MISMATCH, "target %s gave %llu image bytes, its metadata says %llu",
                       pick->name, (unsigned long long)fwt_agent_install_written(inst),
                       (unsigned long long)pick->image_len);
        goto out;
    }
    uint8_t sha[32];
    err = fwt_agent_install_sha256(inst, sha);
    if (err == FWT_OK && fwt_ct_compare(sha, pick->image_sha, 32) != 0) {
        err = fwt_fail(FWT_E_META_MISMATCH,
                       "target %s decodes to an image whose SHA-256 differs from its metadata's",
                       pick->name);
    }
    if (err != FWT_OK) {
        goto out;
    }
    err = fwt_agent_install_finish(inst, &res->img);
    inst = NULL; /* freed by finish, whatever the result */
installed:
    if (err == FWT_OK) {
        char d[1024];
        snprintf(d, sizeof(d), "target %s, %s, %llu bytes downloaded for a %llu byte image%s%s",
                 pick->name, res->encoding, (unsigned long long)pick->length,
                 (unsigned long long)pick->image_len, res->delta_skipped ? "; " : "", res->note);
        fwt_err lerr = fwt_agent_log_event(dev, "update", d);
        if (lerr == FWT_OK && o->director) {
            lerr = fwt_agent_fleet_note_install(dev, dpick.release_counter, dpick.director_version);
        }
        if (lerr == FWT_OK && (o->director || x.cfg->fleet_server)) {
            lerr = fwt_agent_fleet_note_target(dev, pick->name, pick->image_sha);
        }
        if (lerr != FWT_OK) {
            err = lerr;
        }
    }
out:
    if (inst) {
        fwt_agent_install_abort(inst); /* waits for the helper: s.blk is free after this */
    }
    free(s.blk);
    fwt_dec_free(dec);
    base_unmap(&x.base);
    cands_free(&cs);
    fwt_tuf_client_free(c);
    return err;
}
