/*
 * Image dependencies on a multi-image device (MCUboot's DEPENDENCY TLV): the
 * other images are agent devices of their own, declared in device.ini
 * ([images] ID = DIR). An image may go on trial only when every image it
 * depends on is there at the version it names or later: the image that other
 * device runs next (its trial, else its confirmed image), verified now by that
 * device's own trust anchors. Versions compare as MCUboot compares them
 * (major, minor, revision).
 */
#include "agent_internal.h"

#include <string.h>

/* The version of the image the device in dir runs next; *present 0 when none. */
static fwt_err next_version(const char *dir, struct fwt_version *v, int *present)
{
    *present = 0;
    fwt_agent *o = NULL;
    fwt_err err = fwt_agent_open_ex(dir, FWT_AGENT_OPEN_READONLY, &o);
    if (err != FWT_OK) {
        return fwt_fail(err, "%s: %s", dir, fwt_detail());
    }
    struct fwt_agent_status st;
    err = fwt_agent_status_get(o, &st);
    enum fwt_agent_slot slot = st.trial != FWT_SLOT_NONE ? st.trial : st.confirmed;
    if (err == FWT_OK && slot != FWT_SLOT_NONE) {
        struct fwt_agent_image img;
        fwt_err ve = fwt_agent_verify_slot(o, slot, &img);
        if (ve == FWT_OK) {
            *v = img.version;
            *present = 1;
        }
    }
    fwt_agent_close(o);
    return err;
}

fwt_err fwt_agent_deps_check(fwt_agent *dev, const char *image_path)
{
    struct fwt_dependency deps[FWT_SIGN_MAX_DEPS];
    size_t n = 0;
    fwt_err err = fwt_file_dependencies(image_path, deps, FWT_SIGN_MAX_DEPS, &n);
    if (err != FWT_OK) {
        return err;
    }
    const struct fwt_agent_config *cfg = &dev->cfg;
    for (size_t i = 0; i < n; i++) {
        char want[48];
        fwt_version_format(&deps[i].min, want, sizeof(want));
        const char *dir = NULL;
        for (size_t k = 0; k < cfg->n_others && !dir; k++) {
            dir = cfg->other_ids[k] == deps[i].image_id ? cfg->other_dirs[k] : NULL;
        }
        if (!dir) {
            return fwt_fail(FWT_E_NOT_FOUND, "dependency not met: the image needs image %u at "
                            "%s or later, and device.ini declares no image %u ([images])",
                            (unsigned)deps[i].image_id, want, (unsigned)deps[i].image_id);
        }
        struct fwt_version have;
        int present = 0;
        err = next_version(dir, &have, &present);
        if (err != FWT_OK) {
            return err;
        }
        if (!present) {
            return fwt_fail(FWT_E_NOT_FOUND, "dependency not met: the image needs image %u at "
                            "%s or later, and %s holds no valid image", (unsigned)deps[i].image_id,
                            want, dir);
        }
        if (fwt_version_cmp_mcuboot(&have, &deps[i].min) < 0) {
            char got[48];
            fwt_version_format(&have, got, sizeof(got));
            return fwt_fail(FWT_E_NOT_FOUND, "dependency not met: the image needs image %u at "
                            "%s or later, and %s has %s: install that one first",
                            (unsigned)deps[i].image_id, want, dir, got);
        }
    }
    return FWT_OK;
}
