/*
 * The device's revocation list (docs/provenance.md, "Revocation list"): a
 * signed list of key ids, certificate key versions and image digests, stored
 * power-fail safe and enforced by every verification of the device.
 *
 * Storage: the envelope's bytes in DIR/revocation-<sha256>.json (written
 * atomically), then the redundant record DIR/revocation.{0,1} naming its
 * version and SHA-256. A power cut before the record leaves the old list in
 * force (its file is removed only after the record names the new one); the
 * version in the record only grows.
 */
#include "agent_internal.h"

#include <fwtrust/fwt_provenance.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REC_NAME "revocation"
#define REC_SIZE 40U /* u64 version (little endian), SHA-256 of the envelope */

static void rec_encode(uint64_t version, const uint8_t hash[32], uint8_t out[REC_SIZE])
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(version >> (8 * i));
    }
    memcpy(out + 8, hash, 32);
}

static uint64_t rec_version(const uint8_t in[REC_SIZE])
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | in[i];
    }
    return v;
}

static fwt_err env_path(const fwt_agent *dev, const uint8_t hash[32], char *out, size_t n)
{
    char hex[65];
    fwt_hex_encode(hash, 32, hex);
    int w = snprintf(out, n, "%s/revocation-%s.json", dev->cfg.dir, hex);
    return w < 0 || (size_t)w >= n ? fwt_fail(FWT_E_ARG, "%s: path too long", dev->cfg.dir) : FWT_OK;
}

static void keys_free(fwt_pubkey **keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fwt_pubkey_free(keys[i]);
    }
}

static fwt_err keys_load(const fwt_agent *dev, fwt_pubkey **keys, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < dev->cfg.n_revocation_keys; i++) {
        fwt_err e = fwt_pubkey_load(dev->cfg.revocation_keys[i], NULL, &keys[i]);
        if (e != FWT_OK) {
            keys_free(keys, *n);
            return fwt_fail(e, "revocation key %s: %s", dev->cfg.revocation_keys[i],
                            fwt_detail()[0] ? fwt_detail() : "cannot load");
        }
        (*n)++;
    }
    return FWT_OK;
}

/* Verify and parse an envelope with the device's revocation keys. */
static fwt_err open_list(const fwt_agent *dev, const uint8_t *buf, size_t len, struct fwt_revocation *r)
{
    if (dev->cfg.n_revocation_keys == 0) {
        return fwt_fail(FWT_E_NO_TRUST, "device %s trusts no revocation key ([revocation] key in "
                        "device.ini)", dev->cfg.dir);
    }
    fwt_pubkey *keys[FWT_AGENT_MAX_ANCHORS] = {NULL};
    size_t n = 0;
    fwt_err e = keys_load(dev, keys, &n);
    if (e != FWT_OK) {
        return e;
    }
    e = fwt_revocation_open(buf, len, (const fwt_pubkey *const *)keys, n, dev->cfg.revocation_threshold, r);
    keys_free(keys, n);
    return e;
}

/*
 * The stored list: *have 0 when none is stored (r untouched). A record without
 * its envelope, an envelope that does not hash to the record's digest or no
 * longer verifies, or a version that differs: FWT_E_STATE (fail closed).
 */
static fwt_err load_stored(fwt_agent *dev, struct fwt_revocation *r, int *have, uint8_t hash[32],
                           struct fwt_rec_info *info)
{
    uint8_t p[REC_SIZE];
    struct fwt_rec_info local;
    if (info == NULL) {
        info = &local;
    }
    *have = 0;
    fwt_err e = fwt_rec_read(dev->cfg.dir, REC_NAME, FWT_REC_KIND_REVOCATION, p, sizeof(p), info);
    if (e == FWT_E_NOT_FOUND) {
        memset(info, 0, sizeof(*info));
        fwt_detail_clear();
        return FWT_OK;
    }
    if (e != FWT_OK) {
        return fwt_fail(FWT_E_STATE, "revocation state: %s", fwt_detail());
    }
    memcpy(hash, p + 8, 32);
    char path[PATH_MAX];
    if ((e = env_path(dev, hash, path, sizeof(path))) != FWT_OK) {
        return e;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    e = fwt_read_file(path, FWT_AGENT_REVOCATION_MAX, &buf, &len);
    if (e != FWT_OK) {
        return fwt_fail(FWT_E_STATE, "revocation list %s (named by the revocation record): %s", path,
                        fwt_detail());
    }
    uint8_t sum[32];
    if ((e = fwt_sha256(buf, len, sum)) != FWT_OK || fwt_ct_compare(sum, hash, 32) != 0) {
        free(buf);
        return fwt_fail(FWT_E_STATE, "revocation list %s does not match its record's digest", path);
    }
    e = open_list(dev, buf, len, r);
    free(buf);
    if (e != FWT_OK) {
        return fwt_fail(FWT_E_STATE, "stored revocation list %s: %s", path, fwt_detail());
    }
    if (r->version != rec_version(p)) {
        fwt_revocation_free(r);
        return fwt_fail(FWT_E_STATE, "stored revocation list: version %llu, its record says %llu",
                        (unsigned long long)r->version, (unsigned long long)rec_version(p));
    }
    *have = 1;
    return FWT_OK;
}

fwt_err fwt_agent_revocation_version(fwt_agent *dev, uint64_t *version)
{
    struct fwt_revocation r;
    int have = 0;
    uint8_t hash[32];
    *version = 0;
    fwt_err e = load_stored(dev, &r, &have, hash, NULL);
    if (e == FWT_OK && have) {
        *version = r.version;
        fwt_revocation_free(&r);
    }
    return e;
}

/* Remove the envelopes of older lists (best effort: a leftover is harmless). */
static void remove_others(const fwt_agent *dev, const uint8_t keep[32])
{
    char kname[128], khex[65];
    fwt_hex_encode(keep, 32, khex);
    snprintf(kname, sizeof(kname), "revocation-%s.json", khex);
    DIR *d = opendir(dev->cfg.dir);
    if (d == NULL) {
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l == strlen(kname) && !strncmp(de->d_name, "revocation-", 11) &&
            !strcmp(de->d_name + l - 5, ".json") && strcmp(de->d_name, kname) != 0) {
            char p[PATH_MAX];
            if (snprintf(p, sizeof(p), "%s/%s", dev->cfg.dir, de->d_name) < (int)sizeof(p)) {
                (void)unlink(p);
            }
        }
    }
    closedir(d);
    (void)fwt_f_fsync_dir(dev->cfg.dir);
}

fwt_err fwt_agent_revocation_apply(fwt_agent *dev, const uint8_t *env, size_t env_len,
                                   uint64_t *version)
{
    if (dev == NULL || env == NULL) {
        return fwt_fail(FWT_E_ARG, "no revocation list");
    }
    if (dev->readonly) {
        return fwt_fail(FWT_E_INTERNAL, "device opened read-only");
    }
    if (env_len > FWT_AGENT_REVOCATION_MAX) {
        return fwt_fail(FWT_E_TOO_LARGE, "revocation list: %zu bytes, at most %u", env_len,
                        FWT_AGENT_REVOCATION_MAX);
    }
    struct fwt_revocation next, cur;
    fwt_err e = open_list(dev, env, env_len, &next);
    if (e != FWT_OK) {
        return fwt_fail(e, "revocation list refused: %s", fwt_detail());
    }
    if (version) {
        *version = next.version;
    }
    uint8_t hash[32], cur_hash[32];
    if ((e = fwt_sha256(env, env_len, hash)) != FWT_OK) {
        fwt_revocation_free(&next);
        return e;
    }
    int have = 0;
    struct fwt_rec_info info;
    e = load_stored(dev, &cur, &have, cur_hash, &info);
    if (e != FWT_OK) {
        /* A damaged store is replaced only by a list that is valid on its own; the record's
         * version (when a copy reads) still bounds it from below. */
        uint8_t p[REC_SIZE];
        fwt_err re = fwt_rec_read(dev->cfg.dir, REC_NAME, FWT_REC_KIND_REVOCATION, p, sizeof(p), &info);
        if (re == FWT_OK && next.version <= rec_version(p)) {
            fwt_revocation_free(&next);
            return fwt_fail(FWT_E_META_ROLLBACK, "revocation list version %llu is not above the "
                            "recorded version %llu", (unsigned long long)next.version,
                            (unsigned long long)rec_version(p));
        }
        if (re != FWT_OK) {
            memset(&info, 0, sizeof(info));
        }
        fwt_detail_clear();
    } else if (have) {
        uint64_t cv = cur.version;
        fwt_revocation_free(&cur);
        if (next.version == cv && fwt_ct_compare(hash, cur_hash, 32) == 0) {
            fwt_revocation_free(&next);
            return fwt_fail(FWT_E_NO_UPDATE, "revocation list version %llu is already in force",
                            (unsigned long long)cv);
        }
        if (next.version <= cv) {
            unsigned long long nv = (unsigned long long)next.version;
            fwt_revocation_free(&next);
            return fwt_fail(FWT_E_META_ROLLBACK, "revocation list version %llu refused: version %llu "
                            "is in force (revocations are never rolled back)", nv,
                            (unsigned long long)cv);
        }
    }
    char path[PATH_MAX];
    e = env_path(dev, hash, path, sizeof(path));
    if (e == FWT_OK) {
        e = fwt_f_write_atomic(path, env, env_len, 0644);
    }
    uint8_t p[REC_SIZE];
    rec_encode(next.version, hash, p);
    if (e == FWT_OK) {
        e = fwt_rec_write(dev->cfg.dir, REC_NAME, FWT_REC_KIND_REVOCATION, p, sizeof(p), &info);
    }
    if (e == FWT_OK) {
        remove_others(dev, hash);
        char d[256];
        snprintf(d, sizeof(d), "revocation list version %llu in force: %zu key id(s), %zu key "
                 "version(s), %zu image digest(s)", (unsigned long long)next.version, next.n_key_ids,
                 next.n_key_versions, next.n_digests);
        e = fwt_audit_append(dev->cfg.dir, "revocation", d);
    }
    fwt_revocation_free(&next);
    return e;
}

/* SHA-256 of the MCUboot encoding of the anchor behind signer i. */
static fwt_err anchor_id(const struct fwt_policy *pol, uint32_t a, uint8_t out[32])
{
    const struct fwt_trusted_key *k = NULL;
    if (a < pol->n_keys) {
        k = &pol->keys[a];
    } else if (a - pol->n_keys < pol->n_roots) {
        k = &pol->roots[a - pol->n_keys];
    }
    if (k == NULL) {
        return fwt_fail(FWT_E_INTERNAL, "signer anchor %u out of range", (unsigned)a);
    }
    return fwt_sha256(k->key, k->key_len, out);
}

fwt_err fwt_agent_revocation_check(fwt_agent *dev, const struct fwt_policy *pol,
                                   const struct fwt_image_info *info)
{
    struct fwt_revocation r;
    int have = 0;
    uint8_t hash[32];
    fwt_err e = load_stored(dev, &r, &have, hash, NULL);
    if (e != FWT_OK || !have) {
        return e;
    }
    char hex[2 * FWT_DIGEST_MAX + 1];
    if (info->digest_len <= FWT_DIGEST_MAX && fwt_revocation_has_digest(&r, info->digest, info->digest_len)) {
        fwt_hex_encode(info->digest, info->digest_len, hex);
        e = fwt_fail(FWT_E_REVOKED, "image %.16s... is revoked by revocation list version %llu", hex,
                     (unsigned long long)r.version);
        goto out;
    }
    if (info->has_cert && fwt_revocation_has_key_version(&r, info->key_version)) {
        e = fwt_fail(FWT_E_REVOKED, "signing key version %lu is revoked by revocation list version %llu",
                     (unsigned long)info->key_version, (unsigned long long)r.version);
        goto out;
    }
    /* Signers whose key, or whose anchor (a trusted key or certificate root), is revoked no
     * longer count: the rest must still meet the threshold of distinct anchors. */
    uint32_t anchors[FWT_MAX_SIGNERS];
    size_t n_anchors = 0, n_revoked = 0;
    char first[65] = "";
    for (uint32_t i = 0; i < info->n_signers && i < FWT_MAX_SIGNERS; i++) {
        uint8_t aid[32];
        if ((e = anchor_id(pol, info->signer_anchor[i], aid)) != FWT_OK) {
            goto out;
        }
        if (fwt_revocation_has_key(&r, info->signer_keyhash[i]) || fwt_revocation_has_key(&r, aid)) {
            if (!n_revoked++) {
                fwt_hex_encode(info->signer_keyhash[i], 32, first);
            }
            continue;
        }
        int seen = 0;
        for (size_t j = 0; j < n_anchors; j++) {
            seen |= anchors[j] == info->signer_anchor[i];
        }
        if (!seen) {
            anchors[n_anchors++] = info->signer_anchor[i];
        }
    }
    if (n_revoked && n_anchors < pol->threshold) {
        e = fwt_fail(FWT_E_REVOKED, "signing key %.16s... (or its certificate root) is revoked by "
                     "revocation list version %llu; %zu unrevoked anchor(s) left, %u required", first,
                     (unsigned long long)r.version, n_anchors, (unsigned)pol->threshold);
    }
out:
    fwt_revocation_free(&r);
    return e;
}
