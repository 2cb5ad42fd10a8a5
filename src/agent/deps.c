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

/* The device directory [images] declares for id; NULL when none. */
static const char *dir_of(const struct fwt_agent_config *cfg, int id)
{
    for (size_t k = 0; k < cfg->n_others; k++) {
        if (cfg->other_ids[k] == id) {
            return cfg->other_dirs[k];
        }
    }
    return NULL;
}

fwt_err fwt_agent_install_set(fwt_agent *dev, const struct fwt_agent_set_item *items, size_t n,
                              unsigned flags, size_t *order, size_t *done)
{
    enum { MAXI = FWT_AGENT_MAX_IMAGES + 1 };
    *done = 0;
    if (!dev || !items || !order || n == 0 || n > MAXI) {
        return fwt_fail(FWT_E_ARG, "a set of 1 to %u images", (unsigned)MAXI);
    }
    const struct fwt_agent_config *cfg = &dev->cfg;
    struct fwt_dependency deps[MAXI][FWT_SIGN_MAX_DEPS];
    size_t nd[MAXI];
    struct fwt_version ver[MAXI];
    uint8_t work[FWT_WORK_MIN];
    for (size_t i = 0; i < n; i++) {
        if (items[i].image_id != -1 && !dir_of(cfg, items[i].image_id)) {
            return fwt_fail(FWT_E_ARG, "%s: image %d is not declared in device.ini ([images])",
                            items[i].path, items[i].image_id);
        }
        for (size_t j = 0; j < i; j++) {
            if (items[j].image_id == items[i].image_id) {
                return fwt_fail(FWT_E_ARG, "two images in the set for %s%d",
                                items[i].image_id < 0 ? "this device, id " : "image ",
                                items[i].image_id);
            }
        }
        struct fwt_file_io fio;
        struct fwt_image_info info;
        fwt_err err = fwt_file_io_open_any(&fio, items[i].path);
        if (err == FWT_OK) {
            err = fwt_image_parse(&fio.io, work, sizeof(work), &info);
            fwt_file_io_close(&fio);
            if (err == FWT_E_UNSUPPORTED || err == FWT_OK) {
                err = FWT_OK; /* the install judges the image; here only its header counts */
            }
        }
        if (err == FWT_OK) {
            ver[i] = info.hdr.version;
            err = fwt_file_dependencies(items[i].path, deps[i], FWT_SIGN_MAX_DEPS, &nd[i]);
        }
        if (err != FWT_OK) {
            return fwt_fail(err, "%s: %s", items[i].path, fwt_detail());
        }
    }
    /* Every dependency met by the set or by what that device runs next. */
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < nd[i]; d++) {
            char want[48];
            fwt_version_format(&deps[i][d].min, want, sizeof(want));
            const char *dir = dir_of(cfg, deps[i][d].image_id);
            if (!dir) {
                return fwt_fail(FWT_E_NOT_FOUND, "%s needs image %u at %s or later, and "
                                "device.ini declares no image %u", items[i].path,
                                (unsigned)deps[i][d].image_id, want,
                                (unsigned)deps[i][d].image_id);
            }
            struct fwt_version have;
            int present = 0;
            size_t in_set = n;
            for (size_t j = 0; j < n; j++) {
                in_set = items[j].image_id == deps[i][d].image_id ? j : in_set;
            }
            if (in_set < n) {
                have = ver[in_set];
                present = 1;
            } else {
                fwt_err err = next_version(dir, &have, &present);
                if (err != FWT_OK) {
                    return err;
                }
            }
            if (!present || fwt_version_cmp_mcuboot(&have, &deps[i][d].min) < 0) {
                char got[48] = "nothing";
                if (present) {
                    fwt_version_format(&have, got, sizeof(got));
                }
                return fwt_fail(FWT_E_NOT_FOUND, "%s needs image %u at %s or later; the set "
                                "and %s give %s: nothing installed", items[i].path,
                                (unsigned)deps[i][d].image_id, want, dir, got);
            }
        }
    }
    /* Dependencies first (Kahn's algorithm over the set). */
    int placed[MAXI] = {0};
    for (size_t k = 0; k < n; k++) {
        size_t pick = n;
        for (size_t i = 0; i < n && pick == n; i++) {
            int ready = !placed[i];
            for (size_t d = 0; ready && d < nd[i]; d++) {
                for (size_t j = 0; j < n; j++) {
                    if (j != i && !placed[j] && items[j].image_id == deps[i][d].image_id) {
                        ready = 0;
                    }
                }
            }
            pick = ready ? i : n;
        }
        if (pick == n) {
            return fwt_fail(FWT_E_ARG, "the images of the set depend on each other in a cycle: "
                            "nothing installed");
        }
        placed[pick] = 1;
        order[k] = pick;
    }
    for (size_t k = 0; k < n; k++) {
        const struct fwt_agent_set_item *it = &items[order[k]];
        fwt_err err;
        if (it->image_id < 0) {
            err = fwt_agent_install_file(dev, it->path, flags, NULL, NULL, NULL);
        } else {
            fwt_agent *o = NULL;
            err = fwt_agent_open(dir_of(cfg, it->image_id), &o);
            if (err == FWT_OK) {
                err = fwt_agent_install_file(o, it->path, flags, NULL, NULL, NULL);
                fwt_agent_close(o);
            }
        }
        if (err != FWT_OK) {
            return fwt_fail(err, "%s (image %d, %zu of the set installed before it): %s",
                            it->path, it->image_id, k, fwt_detail());
        }
        *done = k + 1;
    }
    return FWT_OK;
}
