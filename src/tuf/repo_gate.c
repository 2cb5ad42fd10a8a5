/*
 * What a publish would make new (for the publish gates of docs/key-custody.md), and the
 * record of each gate decision (refused, or overridden with a reason).
 */
#include "repo_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One targets role: staged targets with custom.fwtrust whose sha256 differs from the published one. */
static fwt_err role_new_images(const struct repo *r, const char *role, json_t *out)
{
    json_t *staged = NULL, *pub = NULL;
    fwt_err err = repo_staged(r, role, &staged);
    if (err == FWT_E_NOT_FOUND) {
        fwt_detail_clear();
        return FWT_OK; /* nothing staged: nothing new */
    }
    if (err != FWT_OK) {
        return err;
    }
    err = repo_published(r, role, &pub);
    if (err == FWT_E_NOT_FOUND) {
        fwt_detail_clear();
        err = FWT_OK;
    }
    json_t *ptargets = pub ? json_object_get(SIGNED(pub), "targets") : NULL;
    const char *name;
    json_t *t;
    json_object_foreach(json_object_get(SIGNED(staged), "targets"), name, t) {
        if (err != FWT_OK) {
            break;
        }
        const char *sha = json_string_value(json_object_get(json_object_get(t, "hashes"), "sha256"));
        if (!json_object_get(json_object_get(t, "custom"), "fwtrust") || !sha) {
            continue; /* not an image (a revocation list, a provenance envelope, a delta base) */
        }
        json_t *old = json_object_get(ptargets, name);
        const char *osha = json_string_value(json_object_get(json_object_get(old, "hashes"), "sha256"));
        if (osha && !strcmp(osha, sha)) {
            continue; /* published before, unchanged */
        }
        char *path = repo_target_file(r, name, sha);
        json_t *row = path ? json_pack("{s:s, s:s, s:s, s:s}", "name", name, "role", role, "sha256", sha,
                                       "path", path)
                           : NULL;
        free(path);
        if (!row || json_array_append_new(out, row) != 0) {
            err = repo_oom();
        }
    }
    json_decref(staged);
    json_decref(pub);
    return err;
}

char *repo_target_file(const struct repo *r, const char *name, const char *sha256)
{
    const char *slash = strrchr(name, '/');
    return slash ? repo_path(r, "targets/%.*s/%s.%s", (int)(slash - name), name, sha256, slash + 1)
                 : repo_path(r, "targets/%s.%s", sha256, name);
}

fwt_err repo_cmd_new_images(struct repo *r, json_t **out)
{
    *out = json_array();
    json_t *names = NULL;
    fwt_err err = *out ? repo_delegated_roles(r, &names) : repo_oom();
    if (err == FWT_OK) {
        err = role_new_images(r, "targets", *out);
    }
    size_t i;
    json_t *nv;
    json_array_foreach(names, i, nv) {
        if (err == FWT_OK) {
            err = role_new_images(r, json_string_value(nv), *out);
        }
    }
    json_decref(names);
    if (err != FWT_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return err;
}

fwt_err repo_record_gate(struct repo *r, const char *outcome, const char *reason, const json_t *findings)
{
    int overridden = !strcmp(outcome, "overridden");
    if (overridden && (reason == NULL || reason[0] == 0)) {
        return fwt_fail(FWT_E_ARG, "an override needs a reason");
    }
    char *path = repo_path(r, "%s", REPO_GATE_LOG);
    if (path == NULL) {
        return repo_oom();
    }
    char *user = getenv("FWTRUST_SIGNER");
    json_t *line = json_pack("{s:I, s:s, s:s, s:O}", "time", (json_int_t)time(NULL), "outcome", outcome, "by",
                             user && *user ? user : (getenv("USER") ? getenv("USER") : "unknown"),
                             "findings", findings);
    if (line && reason) {
        json_object_set_new(line, "reason", json_string(reason));
    }
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(line);
    fwt_err err = FWT_OK;
    int fd = -1;
    if (text == NULL) {
        err = repo_oom();
    } else if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0) {
        err = fwt_fail(FWT_E_IO, "%s: %s", path, strerror(errno));
    } else {
        size_t l = strlen(text);
        text[l] = '\n'; /* replaces the NUL: written with its length */
        err = repo_fs_write_all(fd, text, l + 1, path);
        if (err == FWT_OK && fsync(fd) != 0) {
            err = fwt_fail(FWT_E_IO, "%s: fsync: %s", path, strerror(errno));
        }
        close(fd);
    }
    free(text);
    free(path);
    return err;
}
