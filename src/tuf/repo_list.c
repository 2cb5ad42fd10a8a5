/*
 * fwtrust repo list: the targets of every targets role (current metadata: staged, else
 * published) with length, hashes and the image version their description carries. Reads
 * only; nothing is written.
 */
#include "repo_cmd.h"
#include <fwtrust/fwt_imagefile.h>
#include <fwtrust/fwt_target_desc.h>

#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One row: name, role, length, hashes, staged, and from custom.fwtrust (read by its one
 * reader, fwt_target_desc_parse) the version and encoding, or why it cannot be read. */
static json_t *target_row(const char *role, int staged, const char *name, const json_t *t)
{
    json_t *custom = json_object_get(t, "custom");
    json_t *row = json_pack("{s:s, s:s, s:O, s:O, s:b}", "name", name, "role", role, "length",
                            json_object_get(t, "length"), "hashes", json_object_get(t, "hashes"), "staged",
                            staged);
    if (!row) {
        return NULL;
    }
    json_t *f = json_object_get(custom, "fwtrust");
    int bad = 0;
    if (custom) {
        bad |= json_object_set(row, "custom", custom) != 0;
    }
    if (f) {
        struct fwt_target_desc d;
        char why[128];
        if (fwt_target_desc_parse(f, &d, why, sizeof(why)) == FWT_OK) {
            char ver[48];
            fwt_version_format(&d.version, ver, sizeof(ver));
            bad |= json_object_set_new(row, "version", json_string(ver)) != 0;
            if (d.enc != FWT_TDESC_NONE) {
                bad |= json_object_set_new(row, "encoding", json_string(fwt_tdesc_enc_name(d.enc))) != 0;
            }
        } else {
            bad |= json_object_set_new(row, "custom_error", json_string(why)) != 0;
        }
    }
    if (bad) {
        json_decref(row);
        return NULL;
    }
    return row;
}

/* Append the rows of one targets role, sorted by name. */
static fwt_err list_role(const struct repo *r, const char *role, json_t *rows)
{
    json_t *env = NULL;
    int staged = 1;
    fwt_err err = repo_staged(r, role, &env);
    if (err == FWT_E_NOT_FOUND) {
        staged = 0;
        err = repo_published(r, role, &env);
    }
    if (err == FWT_E_NOT_FOUND) {
        return fwt_fail(FWT_E_STATE, "targets role '%s' has no metadata (staged or published)", role);
    }
    if (err != FWT_OK) {
        return err;
    }
    json_t *targets = json_object_get(SIGNED(env), "targets");
    size_t n = json_object_size(targets);
    const char **names = n ? calloc(n, sizeof(*names)) : NULL;
    if (n && !names) {
        json_decref(env);
        return repo_oom();
    }
    size_t k = 0;
    const char *name;
    json_t *t;
    json_object_foreach(targets, name, t) {
        names[k++] = name;
    }
    if (n > 1) {
        qsort(names, n, sizeof(*names), cmp_str);
    }
    for (size_t i = 0; i < n && err == FWT_OK; i++) {
        json_t *row = target_row(role, staged, names[i], json_object_get(targets, names[i]));
        if (!row || json_array_append_new(rows, row) != 0) {
            err = repo_oom();
        }
    }
    free(names);
    json_decref(env);
    return err;
}

fwt_err repo_cmd_list(struct repo *r, const char *role, json_t *report)
{
    fwt_err err = repo_refuse_pending(r, report);
    if (err != FWT_OK) {
        return err;
    }
    if (role && tuf_is_top_role(role) && strcmp(role, "targets") != 0) {
        return fwt_fail(FWT_E_ARG, "'%s' is not a targets role (targets, or a role delegated from it)", role);
    }
    json_t *names = NULL;
    err = repo_delegated_roles(r, &names);
    if (err != FWT_OK) {
        return err;
    }
    json_t *rows = json_array();
    if (!rows || json_array_insert_new(names, 0, json_string("targets")) != 0) {
        json_decref(rows);
        json_decref(names);
        return repo_oom();
    }
    int found = role == NULL;
    size_t i;
    json_t *nv;
    json_array_foreach(names, i, nv) {
        const char *name = json_string_value(nv);
        if (role && strcmp(role, name) != 0) {
            continue;
        }
        found = 1;
        err = list_role(r, name, rows);
        if (err != FWT_OK) {
            break;
        }
    }
    json_decref(names);
    if (err == FWT_OK && !found) {
        err = fwt_fail(FWT_E_NOT_FOUND, "no role named '%s' is delegated in this repository", role);
    }
    if (err != FWT_OK) {
        json_decref(rows);
        return err;
    }
    json_object_set_new(report, "count", json_integer((json_int_t)json_array_size(rows)));
    json_object_set_new(report, "targets", rows);
    return FWT_OK;
}
