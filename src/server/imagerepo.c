/*
 * The image repository a rollout's target must come from (fwt_rollout.h): the
 * server keeps a TUF client (fwt_tuf_client, the devices' own) in DIR/image-repo/
 * with the root the operator trusts; `rollout create` refreshes it and looks the
 * target up: it must be listed, with the rollout's length and SHA-256, and its
 * target description (custom.fwtrust) must name the rollout's hardware id.
 */
#include "imagerepo.h"
#include "srv.h"

#include <fwtrust/fwt_rollout.h>
#include <fwtrust/fwt_target_desc.h>
#include <fwtrust/fwt_tuf.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

fwt_err fwt_srv_image_repo_set(fwt_srv *s, const struct fwt_srv_actor *who, const char *metadata_url,
                               const uint8_t *root, size_t root_len)
{
    if (!who || who->role < FWT_SRV_APPROVER) {
        return fwt_fail(FWT_E_KEY, "setting the image repository needs the approver role");
    }
    if (!metadata_url || (strncmp(metadata_url, "https://", 8) && strncmp(metadata_url, "http://", 7) &&
                          strncmp(metadata_url, "file://", 7)) || strlen(metadata_url) > 1000) {
        return fwt_fail(FWT_E_ARG, "image repository: the metadata URL must be https://, http:// or file://");
    }
    char *dir = srv_path(s->dir, "image-repo");
    char *meta = srv_path(s->dir, "image-repo/metadata");
    char *urlf = srv_path(s->dir, "image-repo/metadata-url");
    fwt_err e = dir && meta && urlf ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
    if (e == FWT_OK && mkdir(dir, 0755) != 0 && errno != EEXIST) {
        e = fwt_fail(FWT_E_IO, "cannot create %s", dir);
    }
    if (e == FWT_OK) {
        e = fwt_tuf_init_flags(meta, root, root_len, FWT_TUF_INIT_REPLACE);
    }
    if (e == FWT_OK) {
        e = fwt_write_file_atomic(urlf, metadata_url, strlen(metadata_url), 0644);
    }
    if (e == FWT_OK && (e = db_begin(s->db)) == FWT_OK) {
        e = srv_audit(s, who, "image-repo-set", metadata_url, "");
        if (e == FWT_OK) {
            e = db_commit(s->db);
        } else {
            db_rollback(s->db);
        }
    }
    free(dir);
    free(meta);
    free(urlf);
    return e;
}

fwt_err srv_image_repo_open(fwt_srv *s, fwt_tuf_client **cp, char **url_out)
{
    *cp = NULL;
    *url_out = NULL;
    char *meta = srv_path(s->dir, "image-repo/metadata");
    char *urlf = srv_path(s->dir, "image-repo/metadata-url");
    if (!meta || !urlf) {
        free(meta);
        free(urlf);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    uint8_t *url = NULL;
    size_t ul = 0;
    struct stat st;
    fwt_err e = FWT_OK;
    if (stat(urlf, &st) != 0) {
        goto out; /* no image repository configured */
    }
    if ((e = fwt_read_file(urlf, 2048, &url, &ul)) != FWT_OK) {
        goto out;
    }
    char *u = realloc(url, ul + 1);
    if (!u) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
        goto out;
    }
    url = (uint8_t *)u;
    u[ul] = 0;
    struct fwt_tuf_client_opts o;
    memset(&o, 0, sizeof(o));
    o.metadata_dir = meta;
    o.metadata_url = u;
    fwt_tuf_client *c = NULL;
    if ((e = fwt_tuf_client_open(&o, &c)) == FWT_OK && (e = fwt_tuf_refresh(c)) == FWT_OK) {
        *cp = c;
        *url_out = u;
        url = NULL;
        c = NULL;
    } else {
        e = fwt_fail(e, "the image repository (%s) cannot be read: %s", u, fwt_detail());
    }
    fwt_tuf_client_free(c);
out:
    free(url);
    free(meta);
    free(urlf);
    return e;
}

fwt_err srv_image_repo_check(fwt_srv *s, const char *target, uint64_t length, const char *sha256, const char *hw,
                             int *n_signers)
{
    *n_signers = -1;
    fwt_tuf_client *c = NULL;
    char *u = NULL;
    fwt_err e = srv_image_repo_open(s, &c, &u);
    if (e != FWT_OK) {
        return fwt_fail(e, "rollout: %s", fwt_detail());
    }
    if (!c) {
        return FWT_OK; /* no image repository configured: nothing to check against */
    }
    struct fwt_tuf_target t;
    e = fwt_tuf_get_target(c, target, &t);
    if (e == FWT_E_NOT_FOUND) {
        e = fwt_fail(FWT_E_NOT_FOUND, "rollout: target '%s' is not in the image repository (%s)", target, u);
    } else if (e != FWT_OK) {
        e = fwt_fail(e, "rollout: the image repository (%s): %s", u, fwt_detail());
    } else if (t.length != length || !t.sha256 || strcmp(t.sha256, sha256) != 0) {
        e = fwt_fail(FWT_E_ARG, "rollout: the image repository lists '%s' with another length or SHA-256", target);
    } else {
        json_t *cj = t.custom_json ? json_loads(t.custom_json, 0, NULL) : NULL;
        struct fwt_target_desc d;
        char why[200] = "";
        json_t *f = json_object_get(cj, "fwtrust");
        if (!f || fwt_target_desc_parse(f, &d, why, sizeof(why)) != FWT_OK) {
            e = fwt_fail(FWT_E_ARG, "rollout: '%s' in the image repository has no fwtrust target description%s%s",
                         target, why[0] ? ": " : "", why);
        } else if (d.hw_id_len != strlen(hw) || memcmp(d.hw_id, hw, d.hw_id_len) != 0) {
            e = fwt_fail(FWT_E_ARG, "rollout: '%s' is for other hardware than '%s' (image repository)", target, hw);
        } else {
            /* distinct signer key hashes */
            int n = 0;
            for (size_t i = 0; d.has_signers && i < d.n_signers && i < FWT_MAX_SIGNERS; i++) {
                int seen = 0;
                for (size_t k = 0; k < i && !seen; k++) {
                    seen = memcmp(d.signers[i], d.signers[k], FWT_KEYHASH_SIZE) == 0;
                }
                n += !seen;
            }
            *n_signers = n;
        }
        json_decref(cj);
    }
    fwt_tuf_client_free(c);
    free(u);
    return e;
}
