/*
 * The device: init, open (lock, configuration, trust anchors, state), status,
 * slot verification, audit log access.
 */
#include "agent_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

char fwt_agent_slot_char(enum fwt_agent_slot s)
{
    return s == FWT_SLOT_A ? 'a' : s == FWT_SLOT_B ? 'b' : '-';
}

int fwt_agent_version_cmp(const struct fwt_version *a, const struct fwt_version *b)
{
    uint64_t x = ((uint64_t)a->major << 24) | ((uint64_t)a->minor << 16) | a->revision;
    uint64_t y = ((uint64_t)b->major << 24) | ((uint64_t)b->minor << 16) | b->revision;
    if (x != y) {
        return x < y ? -1 : 1;
    }
    if (a->build != b->build) {
        return a->build < b->build ? -1 : 1;
    }
    return 0;
}

/* ---- lock ---- */

static fwt_err take_lock(const char *dir, int shared, int *fd_out)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/lock", dir) >= (int)sizeof(path)) {
        return fwt_fail(FWT_E_ARG, "%s: path too long", dir);
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 && shared) {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0) {
        return fwt_fail(errno == ENOENT ? FWT_E_NOT_FOUND : FWT_E_IO, "%s: %s", path,
                        strerror(errno));
    }
    if (flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
        int e = errno;
        char who[256] = "";
        if (e == EWOULDBLOCK) {
            (void)fwt_lock_holder(fd, who, sizeof(who));
        }
        close(fd);
        if (e == EWOULDBLOCK) {
            return fwt_fail(FWT_E_LOCKED,
                            "device %s is in use: %s holds %s; try again when it has finished", dir,
                            who[0] ? who : "another fwtrust-agent or fwtrust-boot", path);
        }
        return fwt_fail(FWT_E_IO, "%s: flock: %s", path, strerror(e));
    }
    *fd_out = fd;
    return FWT_OK;
}

/* ---- trust anchors ---- */

/* A trust anchor key file that is absent is FWT_E_NOT_FOUND (exit 8, as `init --help` says),
 * not a key that cannot be used: err (a key loader's) said so. */
static fwt_err anchor_missing(const char *spec, fwt_err err)
{
    if (err == FWT_E_KEY && strncasecmp(spec, "pkcs11:", 7) != 0 && access(spec, F_OK) != 0 &&
        errno == ENOENT) {
        err = fwt_fail(FWT_E_NOT_FOUND, "%s", fwt_detail());
    }
    return err;
}

/* A trust anchor's public key. */
static fwt_err anchor_pubkey_load(const char *spec, fwt_pubkey **pub)
{
    return anchor_missing(spec, fwt_pubkey_load(spec, NULL, pub));
}

/* A trust anchor as the core sees it (fwt_trusted_key_load: the one loader). */
static fwt_err load_anchor(const char *path, struct fwt_agent_anchor *a, struct fwt_trusted_key *tk)
{
    fwt_err err = anchor_missing(path, fwt_trusted_key_load(path, NULL, a->enc, tk, NULL));
    if (err != FWT_OK) {
        return fwt_fail(err, "trust anchor %s: %s", path, fwt_detail());
    }
    a->len = tk->key_len;
    a->type = tk->type;
    return FWT_OK;
}

/* The core's policy rules over a device's trust anchors (fwt_policy_check), said with the
 * cause: a key given twice would be two anchors for one holder, so it is refused (the
 * threshold counts distinct anchors). No anchor at all is left to fwt_agent_policy. */
static fwt_err check_anchors(const char *where, const struct fwt_trusted_key *keys, size_t n_keys,
                             const struct fwt_trusted_key *roots, size_t n_roots,
                             uint32_t threshold)
{
    struct fwt_policy pol;
    memset(&pol, 0, sizeof(pol));
    pol.keys = n_keys ? keys : NULL;
    pol.n_keys = n_keys;
    pol.roots = n_roots ? roots : NULL;
    pol.n_roots = n_roots;
    pol.threshold = threshold;
    if (fwt_policy_check(&pol) != FWT_E_ARG) {
        return FWT_OK;
    }
    pol.threshold = 1;
    if (fwt_policy_check(&pol) == FWT_E_ARG) {
        return fwt_fail(FWT_E_ARG, "%s: the same public key is a trust anchor twice ([trust] "
                        "key/root, --trust-key/--trust-root): refused, one key is one anchor",
                        where);
    }
    return fwt_fail(FWT_E_ARG, "%s: threshold %u is above the %zu trust anchor(s)", where,
                    (unsigned)threshold, n_keys + n_roots);
}

static fwt_err load_anchors(fwt_agent *dev)
{
    for (size_t i = 0; i < dev->cfg.n_keys; i++) {
        fwt_err err = load_anchor(dev->cfg.keys[i], &dev->anchors[i], &dev->keys[i]);
        if (err != FWT_OK) {
            return err;
        }
    }
    for (size_t i = 0; i < dev->cfg.n_roots; i++) {
        fwt_err err = load_anchor(dev->cfg.roots[i], &dev->anchors[FWT_AGENT_MAX_ANCHORS + i],
                                  &dev->roots[i]);
        if (err != FWT_OK) {
            return err;
        }
    }
    return check_anchors(dev->cfg.dir, dev->keys, dev->cfg.n_keys, dev->roots, dev->cfg.n_roots,
                         dev->cfg.threshold);
}

fwt_err fwt_agent_minimums(fwt_agent *dev, struct fwt_rollback_state *rs)
{
    fwt_err err = dev->rb.read(dev->rb.ctx, rs);
    if (err != FWT_OK) {
        return err;
    }
    /* Two independent records must both be damaged to lower a minimum: boot control
     * keeps the confirmed images' values, the backend the raised minimums. */
    if (dev->bc.floor_sc > rs->min_security_counter) {
        rs->min_security_counter = dev->bc.floor_sc;
    }
    if (dev->bc.floor_kv > rs->min_key_version) {
        rs->min_key_version = dev->bc.floor_kv;
    }
    return FWT_OK;
}

fwt_err fwt_agent_time_floor(const fwt_agent *dev, uint64_t *floor)
{
    *floor = 0;
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/tuf/time-floor", dev->cfg.dir) >= (int)sizeof(path)) {
        return fwt_fail(FWT_E_ARG, "%s: path too long", dev->cfg.dir);
    }
    int64_t tuf = 0;
    fwt_err err = fwt_time_floor_read(path, &tuf);
    if (err != FWT_OK) {
        return fwt_fail(err, "the time floor: %s", fwt_detail());
    }
    *floor = (uint64_t)tuf > dev->bc.time_floor ? (uint64_t)tuf : dev->bc.time_floor;
    return FWT_OK;
}

fwt_err fwt_agent_now(const fwt_agent *dev, uint64_t *now, uint64_t *clock, int *overridden)
{
    uint64_t clk = 0;
    int ov = 0;
    const char *env = getenv("FWTRUST_NOW");
    if (env && *env) {
        if (fwt_parse_u64(env, (uint64_t)INT64_MAX, &clk) != FWT_OK) {
            return fwt_fail(FWT_E_ARG, "FWTRUST_NOW='%s' is not a time (seconds since 1970)", env);
        }
        ov = 1;
    } else {
        time_t t = time(NULL);
        clk = t > 0 ? (uint64_t)t : 0;
    }
    uint64_t floor = 0;
    fwt_err err = fwt_agent_time_floor(dev, &floor);
    if (err != FWT_OK) {
        return err;
    }
    *now = clk > floor ? clk : floor;
    if (clock) {
        *clock = clk;
    }
    if (overridden) {
        *overridden = ov;
    }
    return FWT_OK;
}

fwt_err fwt_agent_policy(fwt_agent *dev, struct fwt_policy *pol)
{
    memset(pol, 0, sizeof(*pol));
    if (dev->cfg.n_keys == 0 && dev->cfg.n_roots == 0) {
        return fwt_fail(FWT_E_NO_TRUST,
                        "device %s has no trust anchor ([trust] key or root in device.ini): "
                        "every image is refused",
                        dev->cfg.dir);
    }
    struct fwt_rollback_state rs = {0, 0};
    fwt_err err = fwt_agent_minimums(dev, &rs);
    if (err != FWT_OK) {
        return fwt_fail(err, "anti-rollback state: %s", fwt_detail());
    }
    pol->keys = dev->cfg.n_keys ? dev->keys : NULL;
    pol->n_keys = dev->cfg.n_keys;
    pol->roots = dev->cfg.n_roots ? dev->roots : NULL;
    pol->n_roots = dev->cfg.n_roots;
    pol->threshold = dev->cfg.threshold;
    pol->hw_id = (const uint8_t *)dev->cfg.hw_id;
    pol->hw_id_len = strlen(dev->cfg.hw_id);
    pol->min_security_counter = rs.min_security_counter;
    pol->min_key_version = rs.min_key_version;
    err = fwt_agent_now(dev, &pol->now, NULL, NULL); /* never before the time floor */
    if (err != FWT_OK) {
        memset(pol, 0, sizeof(*pol));
        return err;
    }
    return FWT_OK;
}

/* ---- boot control ---- */

static fwt_err bc_read(fwt_agent *dev)
{
    uint8_t p[FWT_BOOTCTL_SIZE];
    fwt_err err = fwt_rec_read(dev->cfg.dir, "bootctl", FWT_REC_KIND_BOOTCTL, p, sizeof(p),
                               &dev->bc_info);
    if (err == FWT_E_NOT_FOUND) {
        return fwt_fail(FWT_E_STATE, "%s: boot control missing (bootctl.0/.1): initialisation "
                        "did not complete", dev->cfg.dir);
    }
    if (err != FWT_OK) {
        return err;
    }
    err = fwt_bootctl_decode(p, &dev->bc);
    if (err != FWT_OK) {
        return fwt_fail(err, "%s: %s", dev->cfg.dir, fwt_detail());
    }
    return FWT_OK;
}

fwt_err fwt_agent_bc_commit(fwt_agent *dev)
{
    if (dev->readonly) {
        return fwt_fail(FWT_E_INTERNAL, "device opened read-only");
    }
    uint8_t p[FWT_BOOTCTL_SIZE];
    fwt_bootctl_encode(&dev->bc, p);
    struct fwt_bootctl check;
    if (fwt_bootctl_decode(p, &check) != FWT_OK) {
        return fwt_fail(FWT_E_INTERNAL, "refusing to write inconsistent boot control: %s",
                        fwt_detail());
    }
    return fwt_rec_write(dev->cfg.dir, "bootctl", FWT_REC_KIND_BOOTCTL, p, sizeof(p),
                         &dev->bc_info);
}

enum fwt_agent_slot fwt_agent_running_slot(const struct fwt_bootctl *bc)
{
    return bc->booted != FWT_SLOT_NONE ? (enum fwt_agent_slot)bc->booted
                                       : (enum fwt_agent_slot)bc->confirmed;
}

enum fwt_agent_slot fwt_agent_target_slot(const fwt_agent *dev, fwt_err *why)
{
    const struct fwt_bootctl *bc = &dev->bc;
    enum fwt_agent_slot run = fwt_agent_running_slot(bc);
    *why = FWT_OK;
    if (run == FWT_SLOT_NONE) {
        return bc->trial != FWT_SLOT_NONE ? (enum fwt_agent_slot)bc->trial : FWT_SLOT_A;
    }
    if (bc->booted_trial) {
        *why = fwt_fail(FWT_E_STATE, "slot %c is running on trial: confirm it (or roll back and "
                        "reboot) before installing another image", fwt_agent_slot_char(run));
        return FWT_SLOT_NONE;
    }
    if (bc->confirmed != FWT_SLOT_NONE && bc->confirmed != run) {
        *why = fwt_fail(FWT_E_STATE, "slot %c is running but slot %c is confirmed: reboot "
                        "before installing", fwt_agent_slot_char(run),
                        fwt_agent_slot_char((enum fwt_agent_slot)bc->confirmed));
        return FWT_SLOT_NONE;
    }
    return run == FWT_SLOT_A ? FWT_SLOT_B : FWT_SLOT_A;
}

fwt_err fwt_agent_finish_raise(fwt_agent *dev)
{
    if (!dev->bc.raise_pending) {
        return FWT_OK;
    }
    /* The values were taken from the verified image when confirm recorded them:
     * completing the raise needs no slot to verify (it cannot brick a boot). */
    struct fwt_rollback_state want = {dev->bc.floor_sc, dev->bc.floor_kv};
    fwt_err err = dev->rb.raise(dev->rb.ctx, &want);
    if (err != FWT_OK) {
        return fwt_fail(err, "completing an interrupted confirm: %s", fwt_detail());
    }
    dev->bc.raise_pending = 0; /* the floor values stay: see struct fwt_bootctl */
    return fwt_agent_bc_commit(dev);
}

/* ---- open / close ---- */

static fwt_err read_config(const char *dir, struct fwt_agent_config *cfg)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%s", dir, FWT_AGENT_CONFIG_NAME) >= (int)sizeof(path)) {
        return fwt_fail(FWT_E_ARG, "%s: path too long", dir);
    }
    uint8_t *text = NULL;
    size_t len = 0;
    fwt_err err = fwt_read_file(path, FWT_INI_MAX_SIZE, &text, &len);
    if (err == FWT_E_NOT_FOUND) {
        return fwt_fail(err, "%s is not a device (no %s): create it with 'fwtrust-agent --device "
                        "%s init'", dir, FWT_AGENT_CONFIG_NAME, dir);
    }
    if (err != FWT_OK) {
        return err;
    }
    err = fwt_agent_config_parse((const char *)text, len, dir, cfg);
    free(text);
    if (err != FWT_OK) {
        return fwt_fail(err, "%s: %s", path, fwt_detail());
    }
    return FWT_OK;
}

fwt_err fwt_agent_open_ex(const char *dir, unsigned flags, fwt_agent **out)
{
    *out = NULL;
    if (!dir || !*dir) {
        return fwt_fail(FWT_E_ARG, "no device directory given");
    }
    char abs[PATH_MAX];
    if (!realpath(dir, abs)) {
        if (errno == ENOENT) {
            return fwt_fail(FWT_E_NOT_FOUND, "%s is not a device: no such directory", dir);
        }
        return fwt_fail(FWT_E_IO, "device %s: %s", dir, strerror(errno));
    }
    fwt_agent *dev = calloc(1, sizeof(*dev));
    if (!dev) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    dev->lock_fd = -1;
    dev->readonly = (flags & FWT_AGENT_OPEN_READONLY) != 0;
    fwt_err err = take_lock(abs, dev->readonly, &dev->lock_fd);
    if (err == FWT_OK) {
        err = read_config(abs, &dev->cfg);
    }
    if (err == FWT_OK) {
        err = load_anchors(dev);
    }
    if (err == FWT_OK) {
        err = dev->cfg.rollback_tpm ? fwt_rollback_tpm_backend(dev->cfg.tpm, abs, !dev->readonly,
                                                               &dev->rb)
                                    : fwt_rollback_file_backend(abs, &dev->rb);
    }
    if (err == FWT_OK) {
        struct fwt_rollback_state rs;
        err = dev->rb.read(dev->rb.ctx, &rs);
    }
    if (err == FWT_OK) {
        err = bc_read(dev);
    }
    if (err == FWT_OK && !dev->readonly && dev->bc.raise_pending) {
        err = fwt_agent_finish_raise(dev);
    }
    if (err != FWT_OK) {
        fwt_agent_close(dev);
        return err;
    }
    *out = dev;
    return FWT_OK;
}

fwt_err fwt_agent_open(const char *dir, fwt_agent **out)
{
    return fwt_agent_open_ex(dir, 0, out);
}

void fwt_agent_close(fwt_agent *dev)
{
    if (!dev) {
        return;
    }
    if (dev->rb.close) {
        dev->rb.close(dev->rb.ctx);
    }
    if (dev->lock_fd >= 0) {
        close(dev->lock_fd); /* releases the flock */
    }
    fwt_agent_config_free(&dev->cfg);
    free(dev);
}

const struct fwt_agent_config *fwt_agent_get_config(const fwt_agent *dev)
{
    return &dev->cfg;
}

void fwt_agent_set_rollback_backend(fwt_agent *dev, const struct fwt_rollback_backend *be)
{
    if (dev->rb.close) {
        dev->rb.close(dev->rb.ctx);
    }
    dev->rb = *be;
}

/* ---- status and verification ---- */

fwt_err fwt_agent_status_get(fwt_agent *dev, struct fwt_agent_status *st)
{
    memset(st, 0, sizeof(*st));
    const struct fwt_bootctl *bc = &dev->bc;
    st->confirmed = (enum fwt_agent_slot)bc->confirmed;
    st->trial = (enum fwt_agent_slot)bc->trial;
    st->booted = (enum fwt_agent_slot)bc->booted;
    st->running = fwt_agent_running_slot(bc);
    fwt_err why;
    st->inactive = fwt_agent_target_slot(dev, &why);
    fwt_detail_clear();
    st->booted_trial = bc->booted_trial;
    st->tries_left = bc->tries_left;
    st->bad[0] = bc->bad[0];
    st->bad[1] = bc->bad[1];
    st->boot_count = bc->boot_count;
    st->raise_pending = bc->raise_pending;
    st->seq = dev->bc_info.seq;
    st->recorded[0] = bc->digest_len[0] != 0;
    st->recorded[1] = bc->digest_len[1] != 0;
    struct fwt_rollback_state rs;
    fwt_err err = fwt_agent_minimums(dev, &rs);
    if (err != FWT_OK) {
        return err;
    }
    st->min_security_counter = rs.min_security_counter;
    st->min_key_version = rs.min_key_version;
    return fwt_agent_time_floor(dev, &st->time_floor);
}

void fwt_agent_image_from_info(fwt_agent *dev, enum fwt_agent_slot slot,
                               const struct fwt_image_info *info, struct fwt_agent_image *img)
{
    memset(img, 0, sizeof(*img));
    img->slot = slot;
    img->path = slot == FWT_SLOT_NONE ? NULL : dev->cfg.slot_path[slot];
    img->version = info->hdr.version;
    img->has_security_counter = info->has_security_counter;
    img->security_counter = info->security_counter;
    img->hash_alg = info->hash_alg;
    memcpy(img->digest, info->digest, sizeof(img->digest));
    img->digest_len = info->digest_len;
    img->total_size = info->total_size;
    if (info->n_signers > 0) {
        memcpy(img->signer_keyhash, info->signer_keyhash[0], FWT_KEYHASH_SIZE);
    }
    img->has_cert = info->has_cert;
    img->key_version = info->key_version;
    img->cert_not_after = info->cert_not_after;
    memcpy(img->hw_id, info->hw_id, sizeof(img->hw_id));
    img->hw_id_len = info->hw_id_len;
}

fwt_err fwt_agent_recheck(const struct fwt_policy *pol, const struct fwt_image_info *info)
{
    /* Each condition on its own, so that one skipped branch (a glitch) is not enough.
     * Signers are counted by the core's own rule (distinct trust anchors), never here. */
    int ok = info->n_signers <= FWT_MAX_SIGNERS && pol->threshold > 0 &&
             info->n_signers >= pol->threshold;
    ok = ok && fwt_policy_threshold_met(pol, info) == FWT_OK;
    ok = ok && info->hw_id_len == pol->hw_id_len && info->hw_id_len <= FWT_HW_ID_MAX &&
         (pol->hw_id_len == 0 || fwt_ct_compare(info->hw_id, pol->hw_id, pol->hw_id_len) == 0);
    ok = ok && (pol->min_security_counter == 0 ||
                (info->has_security_counter &&
                 info->security_counter >= pol->min_security_counter));
    ok = ok && (!info->has_cert || info->key_version >= pol->min_key_version);
    ok = ok && (info->digest_len == 32 || info->digest_len == 48 || info->digest_len == 64);
    if (!ok) {
        return fwt_fail(FWT_E_INTERNAL, "the verifier accepted an image that its own result does "
                        "not support (signers, hardware id, security counter, key version or "
                        "digest): refused as a fault");
    }
    return FWT_OK;
}

fwt_err fwt_agent_verify_slot(fwt_agent *dev, enum fwt_agent_slot slot, struct fwt_agent_image *img)
{
    struct fwt_agent_image local;
    if (!img) {
        img = &local;
    }
    memset(img, 0, sizeof(*img));
    if (slot != FWT_SLOT_A && slot != FWT_SLOT_B) {
        return fwt_fail(FWT_E_ARG, "no such slot");
    }
    const char *path = dev->cfg.slot_path[slot];
    char c = fwt_agent_slot_char(slot);
    struct stat st;
    if (stat(path, &st) != 0) {
        /* Not "empty": a slot that is not there (a wrong path in device.ini, a medium not
         * attached) says nothing about an image, and the bootloader must not mark it bad. */
        return fwt_fail(FWT_E_IO, "slot %c (%s): %s (see [slots] in device.ini)", c, path,
                        strerror(errno));
    }
    if (S_ISREG(st.st_mode) && st.st_size == 0) {
        return fwt_fail(FWT_E_NOT_FOUND, "slot %c (%s) is empty", c, path);
    }
    struct fwt_policy pol;
    fwt_err err = fwt_agent_policy(dev, &pol);
    if (err != FWT_OK) {
        return err;
    }
    struct fwt_image_info info;
    err = fwt_verify_file(path, &pol, &info);
    if (err == FWT_OK) {
        err = fwt_agent_recheck(&pol, &info); /* the second, independent condition */
    }
    if (err != FWT_OK) {
        return fwt_fail(err, "slot %c: %s", c, fwt_detail());
    }
    fwt_agent_image_from_info(dev, slot, &info, img);
    return FWT_OK;
}

fwt_err fwt_agent_slot_matches(fwt_agent *dev, enum fwt_agent_slot slot,
                               const struct fwt_agent_image *img)
{
    if (slot != FWT_SLOT_A && slot != FWT_SLOT_B) {
        return fwt_fail(FWT_E_ARG, "no such slot");
    }
    const struct fwt_bootctl *bc = &dev->bc;
    char c = fwt_agent_slot_char(slot);
    if (bc->digest_len[slot] == 0) {
        return fwt_fail(FWT_E_NOT_FOUND, "slot %c: no installed image is recorded", c);
    }
    if (bc->digest_len[slot] != img->digest_len ||
        fwt_ct_compare(bc->digest[slot], img->digest, img->digest_len) != 0) {
        char a[2 * FWT_DIGEST_MAX + 1], b[2 * FWT_DIGEST_MAX + 1];
        fwt_hex_encode(bc->digest[slot], bc->digest_len[slot], a);
        fwt_hex_encode(img->digest, img->digest_len <= FWT_DIGEST_MAX ? img->digest_len : 0, b);
        return fwt_fail(FWT_E_DIGEST, "slot %c was tampered with: it holds image %s, the agent "
                        "installed %s", c, b, a);
    }
    return FWT_OK;
}

fwt_err fwt_agent_running(fwt_agent *dev, struct fwt_agent_image *img)
{
    enum fwt_agent_slot s = fwt_agent_running_slot(&dev->bc);
    if (s == FWT_SLOT_NONE) {
        memset(img, 0, sizeof(*img));
        img->slot = FWT_SLOT_NONE;
        return fwt_fail(FWT_E_NOT_FOUND, "no image runs on this device yet");
    }
    return fwt_agent_verify_slot(dev, s, img);
}

/* ---- audit ---- */

fwt_err fwt_agent_log_event(fwt_agent *dev, const char *event, const char *detail)
{
    if (dev->readonly) {
        return fwt_fail(FWT_E_ARG, "device opened read-only: cannot append to the audit log");
    }
    return fwt_audit_append(dev->cfg.dir, event, detail);
}

fwt_err fwt_agent_log_verify(fwt_agent *dev, uint64_t *n_entries, int *torn)
{
    return fwt_audit_verify(dev->cfg.dir, n_entries, torn);
}

/* ---- init ---- */

static fwt_err join(char *out, size_t n, const char *dir, const char *name)
{
    int r = snprintf(out, n, "%s/%s", dir, name);
    if (r < 0 || (size_t)r >= n) {
        return fwt_fail(FWT_E_ARG, "%s/%s: path too long", dir, name);
    }
    return FWT_OK;
}

static fwt_err mkdir_p1(const char *path, unsigned mode)
{
    if (mkdir(path, (mode_t)mode) != 0 && errno != EEXIST) {
        return fwt_fail(FWT_E_IO, "%s: mkdir: %s", path, strerror(errno));
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return fwt_fail(FWT_E_IO, "%s: not a directory", path);
    }
    return FWT_OK;
}

/* Absolute form of a command-line path (relative to the working directory). */
/* ---- block devices: which disk, which sectors ---- */

/* One line of a sysfs attribute file, without its newline; 0 on success. */
static int sysfs_read(const char *dir, const char *name, char *out, size_t n)
{
    char p[PATH_MAX];
    int len = snprintf(p, sizeof(p), "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= sizeof(p)) {
        return -1;
    }
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t r = read(fd, out, n - 1);
    close(fd);
    if (r <= 0) {
        return -1;
    }
    out[r] = '\0';
    out[strcspn(out, "\n")] = '\0';
    return 0;
}

static int sysfs_u64(const char *dir, const char *name, uint64_t *v)
{
    char buf[32];
    return sysfs_read(dir, name, buf, sizeof(buf)) == 0 &&
                   fwt_parse_u64(buf, UINT64_MAX, v) == FWT_OK
               ? 0
               : -1;
}

/* The whole disk ("major:minor") a block device lies on and its sectors on it. */
static int blk_extent(const char *sysfs, dev_t rdev, char *disk, size_t n, uint64_t *start,
                      uint64_t *size)
{
    char p[PATH_MAX], real[PATH_MAX], parent[PATH_MAX];
    int len = snprintf(p, sizeof(p), "%s/dev/block/%u:%u", sysfs, major(rdev), minor(rdev));
    if (len < 0 || (size_t)len >= sizeof(p) || !realpath(p, real) ||
        sysfs_u64(real, "size", size) != 0) {
        return -1;
    }
    char part[32];
    if (sysfs_read(real, "partition", part, sizeof(part)) != 0) {
        *start = 0; /* a whole disk */
        return sysfs_read(real, "dev", disk, n);
    }
    len = snprintf(parent, sizeof(parent), "%s/..", real);
    if (len < 0 || (size_t)len >= sizeof(parent) || sysfs_u64(real, "start", start) != 0) {
        return -1;
    }
    return sysfs_read(parent, "dev", disk, n);
}

int fwt_agent_blk_overlap(const char *sysfs, dev_t a, dev_t b)
{
    if (a == b) {
        return 1;
    }
    char da[32], db[32];
    uint64_t sa, za, sb, zb;
    if (blk_extent(sysfs, a, da, sizeof(da), &sa, &za) != 0 ||
        blk_extent(sysfs, b, db, sizeof(db), &sb, &zb) != 0) {
        return -1;
    }
    if (strcmp(da, db) != 0) {
        return 0;
    }
    /* [sa, sa + za) and [sb, sb + zb) on the same disk (sizes in sectors: no overflow). */
    return sa < sb + zb && sb < sa + za;
}

static fwt_err abs_arg(const char *p, char **out)
{
    if (p[0] == '/') {
        *out = strdup(p);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd))) {
            return fwt_fail(FWT_E_IO, "getcwd: %s", strerror(errno));
        }
        size_t n = strlen(cwd) + strlen(p) + 2;
        *out = n <= PATH_MAX ? malloc(n) : NULL;
        if (*out) {
            snprintf(*out, n, "%s/%s", cwd, p);
        }
    }
    return *out ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory or path too long");
}

/* Copy a public key into DIR/keys/NAME as SPKI PEM. */
static fwt_err install_key(const char *dir, const char *spec, const char *name, char **out_path)
{
    fwt_pubkey *pub = NULL;
    fwt_err err = anchor_pubkey_load(spec, &pub);
    if (err != FWT_OK) {
        return fwt_fail(err, "%s: %s", spec, fwt_detail());
    }
    if (fwt_pubkey_is_test_key(pub)) {
        fwt_pubkey_free(pub);
        return fwt_fail(FWT_E_TEST_KEY, "%s is a published sample key: anyone can sign with it, "
                        "a device must never trust it", spec);
    }
    char *pem = NULL;
    err = fwt_pubkey_pem(pub, &pem);
    fwt_pubkey_free(pub);
    if (err != FWT_OK) {
        return fwt_fail(err, "%s: cannot export the public key", spec);
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/keys/%s", dir, name);
    err = fwt_f_write_atomic(path, pem, strlen(pem), 0644);
    free(pem);
    if (err == FWT_OK && !(*out_path = strdup(path))) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    return err;
}

static fwt_err copy_in(const char *src, const char *dst, unsigned mode, size_t max, char **out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err err = fwt_read_file(src, max, &buf, &len);
    if (err != FWT_OK) {
        return err;
    }
    err = fwt_f_write_atomic(dst, buf, len, mode);
    fwt_zeroize(buf, len); /* may be a private key */
    free(buf);
    if (err == FWT_OK && !(*out = strdup(dst))) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    return err;
}

static fwt_err prepare_slot(const char *path, char c)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
            return fwt_fail(FWT_E_ARG, "slot %c (%s) is neither a regular file nor a block device",
                            c, path);
        }
        return FWT_OK;
    }
    if (errno != ENOENT) {
        return fwt_fail(FWT_E_IO, "slot %c (%s): %s", c, path, strerror(errno));
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        return fwt_fail(FWT_E_IO, "slot %c (%s): cannot create: %s", c, path, strerror(errno));
    }
    close(fd);
    return fwt_fsync_parent(path);
}

fwt_err fwt_agent_init(const char *dir_in, const struct fwt_agent_init_opts *o)
{
    if (!dir_in || !o || !o->hw_id || !o->slot_path[0] || !o->slot_path[1]) {
        return fwt_fail(FWT_E_ARG, "init needs a directory, --hw-id, --slot-a and --slot-b");
    }
    size_t hl = strlen(o->hw_id);
    if (hl == 0 || hl > FWT_HW_ID_MAX) {
        return fwt_fail(FWT_E_ARG, "--hw-id must be 1 to %u bytes", FWT_HW_ID_MAX);
    }
    if (o->n_keys > FWT_AGENT_MAX_ANCHORS || o->n_roots > FWT_AGENT_MAX_ANCHORS) {
        return fwt_fail(FWT_E_ARG, "at most %u keys and %u roots", FWT_AGENT_MAX_ANCHORS,
                        FWT_AGENT_MAX_ANCHORS);
    }
    if (o->tries > FWT_AGENT_MAX_TRIES) {
        return fwt_fail(FWT_E_ARG, "--tries must be 1 to %u", FWT_AGENT_MAX_TRIES);
    }
    if (o->threshold > o->n_keys + o->n_roots && o->threshold > 1) {
        return fwt_fail(FWT_E_ARG, "--threshold %u is above the number of trust anchors (%zu)",
                        (unsigned)o->threshold, o->n_keys + o->n_roots);
    }
    if (o->slot_size > UINT32_MAX) {
        return fwt_fail(FWT_E_ARG, "--slot-size above 4 GiB - 1");
    }
    /* The anchors as the core will see them, before anything is created. */
    struct fwt_agent_anchor *tmp = calloc(2 * FWT_AGENT_MAX_ANCHORS, sizeof(*tmp));
    struct fwt_trusted_key tk[2 * FWT_AGENT_MAX_ANCHORS];
    fwt_err err = tmp ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
    for (size_t i = 0; i < o->n_keys && err == FWT_OK; i++) {
        err = load_anchor(o->keys[i], &tmp[i], &tk[i]);
    }
    for (size_t i = 0; i < o->n_roots && err == FWT_OK; i++) {
        err = load_anchor(o->roots[i], &tmp[FWT_AGENT_MAX_ANCHORS + i],
                          &tk[FWT_AGENT_MAX_ANCHORS + i]);
    }
    if (err == FWT_OK) {
        err = check_anchors(dir_in, tk, o->n_keys, tk + FWT_AGENT_MAX_ANCHORS, o->n_roots,
                            o->threshold ? o->threshold : 1);
    }
    free(tmp);
    if (err != FWT_OK) {
        return err;
    }
    err = mkdir_p1(dir_in, 0755);
    if (err != FWT_OK) {
        return err;
    }
    char abs[PATH_MAX];
    if (!realpath(dir_in, abs)) {
        return fwt_fail(FWT_E_IO, "%s: %s", dir_in, strerror(errno));
    }
    fwt_agent *dev = calloc(1, sizeof(*dev));
    if (!dev) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    dev->lock_fd = -1;
    struct fwt_agent_config *cfg = &dev->cfg;
    char ini[PATH_MAX], sub[PATH_MAX];
    err = join(ini, sizeof(ini), abs, FWT_AGENT_CONFIG_NAME);
    if (err == FWT_OK) {
        err = take_lock(abs, 0, &dev->lock_fd);
    }
    struct stat st;
    if (err == FWT_OK && stat(ini, &st) == 0) {
        err = fwt_fail(FWT_E_IO, "%s is already a device (%s exists)", abs, ini);
    }
    if (err == FWT_OK && (!(cfg->dir = strdup(abs)) || !(cfg->hw_id = strdup(o->hw_id)))) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < 2 && err == FWT_OK; i++) {
        size_t l = strlen(o->slot_path[i]);
        if (l >= 4 && !strcasecmp(o->slot_path[i] + l - 4, ".hex")) {
            err = fwt_fail(FWT_E_ARG, "slot %c: a slot is raw flash, not Intel HEX", 'a' + i);
            break;
        }
        err = abs_arg(o->slot_path[i], &cfg->slot_path[i]);
        if (err == FWT_OK) {
            err = prepare_slot(cfg->slot_path[i], (char)('a' + i));
        }
    }
    if (err == FWT_OK) {
        char ra[PATH_MAX], rb[PATH_MAX];
        struct stat sa, sb;
        if (realpath(cfg->slot_path[0], ra) && realpath(cfg->slot_path[1], rb) &&
            strcmp(ra, rb) == 0) {
            err = fwt_fail(FWT_E_ARG, "--slot-a and --slot-b are the same file (%s)", ra);
        } else if (stat(cfg->slot_path[0], &sa) == 0 && stat(cfg->slot_path[1], &sb) == 0 &&
                   S_ISBLK(sa.st_mode) && S_ISBLK(sb.st_mode) &&
                   fwt_agent_blk_overlap("/sys", sa.st_rdev, sb.st_rdev) == 1) {
            err = fwt_fail(FWT_E_ARG, "--slot-a (%s) and --slot-b (%s) overlap on the same disk",
                           cfg->slot_path[0], cfg->slot_path[1]);
        }
    }
    cfg->slot_size = o->slot_size;
    cfg->readback_full = o->readback_full != 0;
    cfg->tries = o->tries ? o->tries : FWT_AGENT_DEFAULT_TRIES;
    cfg->threshold = o->threshold ? o->threshold : 1;
    if (err == FWT_OK && (o->n_keys || o->n_roots)) {
        err = join(sub, sizeof(sub), abs, "keys");
        if (err == FWT_OK) {
            err = mkdir_p1(sub, 0755);
        }
    }
    for (size_t i = 0; i < o->n_keys && err == FWT_OK; i++) {
        char name[32];
        snprintf(name, sizeof(name), "key-%zu.pem", i);
        err = install_key(abs, o->keys[i], name, &cfg->keys[i]);
        if (err == FWT_OK) {
            cfg->n_keys++;
        }
    }
    for (size_t i = 0; i < o->n_roots && err == FWT_OK; i++) {
        char name[32];
        snprintf(name, sizeof(name), "root-%zu.pem", i);
        err = install_key(abs, o->roots[i], name, &cfg->roots[i]);
        if (err == FWT_OK) {
            cfg->n_roots++;
        }
    }
    if (err == FWT_OK && o->tuf_root) {
        err = join(sub, sizeof(sub), abs, "tuf-root.json");
        if (err == FWT_OK) {
            err = copy_in(o->tuf_root, sub, 0644, 16U * 1024U * 1024U, &cfg->tuf_root);
        }
    }
    if (err == FWT_OK) {
        err = join(sub, sizeof(sub), abs, "tuf");
        if (err == FWT_OK) {
            err = mkdir_p1(sub, 0755);
        }
    }
    if (err == FWT_OK && o->repo_url && !(cfg->repo_url = strdup(o->repo_url))) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (err == FWT_OK && (o->tls_ca || o->tls_client_cert || o->tls_client_key)) {
        err = join(sub, sizeof(sub), abs, "tls");
        if (err == FWT_OK) {
            err = mkdir_p1(sub, 0700);
        }
    }
    if (err == FWT_OK && o->tls_ca) {
        err = join(sub, sizeof(sub), abs, "tls/ca.pem");
        if (err == FWT_OK) {
            err = copy_in(o->tls_ca, sub, 0644, 4U * 1024U * 1024U, &cfg->tls_ca);
        }
    }
    if (err == FWT_OK && o->tls_client_cert) {
        err = join(sub, sizeof(sub), abs, "tls/client.pem");
        if (err == FWT_OK) {
            err = copy_in(o->tls_client_cert, sub, 0644, 1024U * 1024U, &cfg->tls_client_cert);
        }
    }
    if (err == FWT_OK && o->tls_client_key) {
        err = join(sub, sizeof(sub), abs, "tls/client.key");
        if (err == FWT_OK) {
            err = copy_in(o->tls_client_key, sub, 0600, 1024U * 1024U, &cfg->tls_client_key);
        }
    }
    if (err == FWT_OK && o->tls_pinned_pubkey &&
        !(cfg->tls_pinned_pubkey = strdup(o->tls_pinned_pubkey))) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (err == FWT_OK && o->targets && strlen(o->targets) > FWT_AGENT_TARGETS_MAX) {
        err = fwt_fail(FWT_E_ARG, "--targets: a pattern of at most %u bytes",
                       FWT_AGENT_TARGETS_MAX);
    }
    if (err == FWT_OK && o->targets && !(cfg->targets = strdup(o->targets))) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    char *text = NULL;
    if (err == FWT_OK) {
        err = fwt_agent_config_format(cfg, &text);
    }
    if (err == FWT_OK) {
        /* The text must read back as the same configuration. */
        struct fwt_agent_config back;
        err = fwt_agent_config_parse(text, strlen(text), abs, &back);
        if (err != FWT_OK) {
            err = fwt_fail(FWT_E_ARG, "the configuration would not read back: %s", fwt_detail());
        } else {
            fwt_agent_config_free(&back);
        }
    }
    if (err == FWT_OK) {
        err = load_anchors(dev);
    }
    if (err == FWT_OK) {
        err = fwt_rollback_file_backend(abs, &dev->rb);
    }
    if (err == FWT_OK) {
        struct fwt_rollback_state rs = {o->min_security_counter, o->min_key_version};
        err = dev->rb.raise(dev->rb.ctx, &rs);
    }
    if (err == FWT_OK) {
        /* Boot control: a factory image already in a slot becomes the confirmed one. */
        memset(&dev->bc, 0, sizeof(dev->bc));
        dev->bc.confirmed = dev->bc.trial = dev->bc.booted = FWT_SLOT_NONE;
        dev->bc.floor_sc = o->min_security_counter; /* the floor under the minimums */
        dev->bc.floor_kv = o->min_key_version;
        uint8_t p[FWT_BOOTCTL_SIZE];
        if (fwt_rec_read(abs, "bootctl", FWT_REC_KIND_BOOTCTL, p, sizeof(p), &dev->bc_info) !=
            FWT_OK) {
            memset(&dev->bc_info, 0, sizeof(dev->bc_info)); /* fresh (or a half-done init) */
        }
        fwt_detail_clear();
        for (int i = 0; i < 2 && (cfg->n_keys || cfg->n_roots); i++) {
            struct fwt_agent_image img;
            if (fwt_agent_verify_slot(dev, (enum fwt_agent_slot)i, &img) == FWT_OK) {
                dev->bc.digest_len[i] = (uint8_t)img.digest_len;
                memcpy(dev->bc.digest[i], img.digest, img.digest_len);
                if (dev->bc.confirmed == FWT_SLOT_NONE) {
                    dev->bc.confirmed = (uint8_t)i;
                }
            }
        }
        fwt_detail_clear();
        err = fwt_agent_bc_commit(dev);
    }
    if (err == FWT_OK) {
        err = join(sub, sizeof(sub), abs, FWT_AGENT_CONFIG_NAME);
        if (err == FWT_OK) {
            err = fwt_f_write_atomic(sub, text, strlen(text), 0644);
        }
    }
    if (err == FWT_OK) {
        char d[256];
        snprintf(d, sizeof(d), "device initialised: hw id %s, %zu key(s), %zu root(s), "
                 "confirmed slot %c", cfg->hw_id, cfg->n_keys, cfg->n_roots,
                 fwt_agent_slot_char((enum fwt_agent_slot)dev->bc.confirmed));
        err = fwt_audit_append(abs, "init", d);
    }
    free(text);
    fwt_agent_close(dev);
    return err;
}
