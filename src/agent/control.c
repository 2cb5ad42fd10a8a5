/*
 * confirm and rollback: the two decisions made after a boot.
 *
 * confirm writes boot control first (the trial slot becomes confirmed, with a
 * "raise pending" flag and the image's counter and key version) and raises
 * the anti-rollback minimums after that, then clears the flag. A cut in
 * between leaves the flag set, and the next open completes the raise from the
 * recorded values: the minimums never exceed what a confirmed image carries.
 */
#include "agent_internal.h"

#include <string.h>

fwt_err fwt_agent_confirm(fwt_agent *dev, struct fwt_agent_image *img_out)
{
    if (dev->readonly) {
        return fwt_fail(FWT_E_ARG, "device opened read-only: cannot confirm");
    }
    struct fwt_bootctl *bc = &dev->bc;
    if (bc->trial == FWT_SLOT_NONE) {
        return fwt_fail(FWT_E_NO_UPDATE, "nothing to confirm: no slot is on trial (running slot "
                        "%c is %s)", fwt_agent_slot_char(fwt_agent_running_slot(bc)),
                        bc->confirmed != FWT_SLOT_NONE ? "confirmed" : "not confirmed");
    }
    enum fwt_agent_slot t = (enum fwt_agent_slot)bc->trial;
    if (!bc->booted_trial || bc->booted != t) {
        return fwt_fail(FWT_E_NO_UPDATE, "slot %c is installed but has not booted yet: boot it "
                        "(fwtrust-boot) and confirm from the running image",
                        fwt_agent_slot_char(t));
    }
    struct fwt_agent_image img;
    fwt_err err = fwt_agent_verify_slot(dev, t, &img);
    if (err != FWT_OK) {
        return fwt_fail(err, "not confirming: %s", fwt_detail());
    }
    if (bc->digest_len[t] != img.digest_len ||
        fwt_ct_compare(bc->digest[t], img.digest, img.digest_len) != 0) {
        return fwt_fail(FWT_E_DIGEST, "not confirming: slot %c no longer holds the image that "
                        "was installed and booted", fwt_agent_slot_char(t));
    }
    bc->confirmed = (uint8_t)t;
    bc->trial = FWT_SLOT_NONE;
    bc->tries_left = 0;
    bc->booted_trial = 0;
    bc->raise_pending = 1;
    /* The floor only rises (an image without a counter or certificate raises nothing). */
    if (img.has_security_counter && img.security_counter > bc->floor_sc) {
        bc->floor_sc = img.security_counter;
    }
    if (img.has_cert && img.key_version > bc->floor_kv) {
        bc->floor_kv = img.key_version;
    }
    err = fwt_agent_bc_commit(dev);
    if (err == FWT_OK) {
        err = fwt_agent_finish_raise(dev);
    }
    if (err == FWT_OK) {
        err = fwt_agent_outcome_sync(dev); /* the trial's outcome: confirmed */
    }
    if (err == FWT_OK) {
        char v[48], d[256];
        struct fwt_rollback_state rs = {0, 0};
        err = fwt_agent_minimums(dev, &rs);
        fwt_version_format(&img.version, v, sizeof(v));
        snprintf(d, sizeof(d), "slot %c confirmed: version %s; minimum security counter %u, "
                 "minimum key version %u", fwt_agent_slot_char(t), v,
                 (unsigned)rs.min_security_counter, (unsigned)rs.min_key_version);
        if (err == FWT_OK) {
            err = fwt_audit_append(dev->cfg.dir, "confirm", d);
        }
    }
    if (err == FWT_OK && img_out) {
        *img_out = img;
    }
    return err;
}

fwt_err fwt_agent_rollback(fwt_agent *dev, enum fwt_agent_slot *next)
{
    *next = FWT_SLOT_NONE;
    if (dev->readonly) {
        return fwt_fail(FWT_E_ARG, "device opened read-only: cannot roll back");
    }
    struct fwt_bootctl *bc = &dev->bc;
    char d[512];
    if (bc->trial != FWT_SLOT_NONE) {
        enum fwt_agent_slot t = (enum fwt_agent_slot)bc->trial;
        if (bc->confirmed == FWT_SLOT_NONE) {
            return fwt_fail(FWT_E_NO_UPDATE, "slot %c is on trial but no slot is confirmed: "
                            "nothing to roll back to", fwt_agent_slot_char(t));
        }
        int booted = bc->booted_trial || bc->tries_left < dev->cfg.tries;
        bc->trial = FWT_SLOT_NONE;
        bc->tries_left = 0;
        bc->booted_trial = 0;
        fwt_err err = fwt_agent_bc_commit(dev);
        if (err == FWT_OK) {
            /* A trial that booted and is cancelled failed (it is not offered again); one
             * cancelled before its first boot is just forgotten. */
            err = booted ? fwt_agent_outcome_sync(dev) : fwt_agent_outcome_cancelled(dev);
        }
        if (err != FWT_OK) {
            return err;
        }
        *next = (enum fwt_agent_slot)bc->confirmed;
        snprintf(d, sizeof(d), "trial of slot %c cancelled; the next boot takes confirmed slot %c",
                 fwt_agent_slot_char(t), fwt_agent_slot_char(*next));
        return fwt_audit_append(dev->cfg.dir, "rollback", d);
    }
    if (bc->confirmed == FWT_SLOT_NONE) {
        return fwt_fail(FWT_E_NO_UPDATE, "no slot is confirmed or on trial: nothing to roll back");
    }
    enum fwt_agent_slot other = bc->confirmed == FWT_SLOT_A ? FWT_SLOT_B : FWT_SLOT_A;
    if (bc->bad[other] || bc->digest_len[other] == 0) {
        return fwt_fail(FWT_E_NO_UPDATE, "slot %c holds no installed image to roll back to",
                        fwt_agent_slot_char(other));
    }
    struct fwt_agent_image img;
    fwt_err err = fwt_agent_verify_slot(dev, other, &img);
    if (err != FWT_OK) {
        return fwt_fail(err, "cannot roll back to slot %c: %s", fwt_agent_slot_char(other),
                        fwt_detail());
    }
    if (bc->digest_len[other] != img.digest_len ||
        fwt_ct_compare(bc->digest[other], img.digest, img.digest_len) != 0) {
        return fwt_fail(FWT_E_DIGEST, "cannot roll back: slot %c no longer holds the image that "
                        "was installed there", fwt_agent_slot_char(other));
    }
    enum fwt_agent_slot was = (enum fwt_agent_slot)bc->confirmed;
    bc->confirmed = (uint8_t)other;
    err = fwt_agent_bc_commit(dev);
    if (err != FWT_OK) {
        return err;
    }
    *next = other;
    char v[48];
    fwt_version_format(&img.version, v, sizeof(v));
    snprintf(d, sizeof(d), "confirmed slot changed from %c to %c (version %s); the next boot "
             "takes it", fwt_agent_slot_char(was), fwt_agent_slot_char(other), v);
    return fwt_audit_append(dev->cfg.dir, "rollback", d);
}
