/*
 * fwtrust repo add-target and remove-target: a target file and its entry in targets or a delegated
 * role. Checks everything first, then writes through one transaction.
 */
#include "repo_cmd.h"
#include "repo_provenance.h"
#include <fwtrust/fwt_target_desc.h>

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static fwt_err check_target_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 200) {
        return fwt_fail(FWT_E_ARG, "target name must be 1..200 characters");
    }
    if (name[0] == '/' || name[n - 1] == '/') {
        return fwt_fail(FWT_E_ARG, "target name '%s' must not start or end with '/'", name);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '%') {
            return fwt_fail(FWT_E_ARG, "target name has a character that is not allowed (0x%02x)", c);
        }
    }
    const char *s = name;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t cl = e ? (size_t)(e - s) : strlen(s);
        if (cl == 0 || (cl == 1 && s[0] == '.') || (cl == 2 && s[0] == '.' && s[1] == '.')) {
            return fwt_fail(FWT_E_ARG, "target name '%s' has an empty, '.' or '..' component", name);
        }
        if (!e && cl > 180) {
            return fwt_fail(FWT_E_ARG, "target file name too long (%zu > 180)", cl);
        }
        s = e ? e + 1 : s + cl;
    }
    return FWT_OK;
}

static int paths_match(const json_t *delegation, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(delegation, "paths"), i, p) {
        const char *pat = json_string_value(p);
        if (pat && fnmatch(pat, name, FNM_PATHNAME) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Copy src into the transaction as the new file targets/[DIR/]SHA256.BASE; sha256 hex out.
 * The file is prepared in .txn/ and renamed into targets/ when the transaction commits
 * (an existing file with the same bytes is left as it is). */
static fwt_err copy_target(const struct repo *r, const struct repo_target_opts *o, const char *src,
                           const char *name, char sha[65], uint64_t *length, struct repo_txn *txn)
{
    fwt_err err = FWT_OK;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        return fwt_fail(errno == ENOENT ? FWT_E_NOT_FOUND : FWT_E_IO, "%s: %s", src, strerror(errno));
    }
    struct stat st;
    if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(in);
        return fwt_fail(FWT_E_ARG, "%s is not a regular file", src);
    }
    int out = -1;
    unsigned id = 0;
    err = repo_txn_file_begin(txn, &out, &id);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (err == FWT_OK && (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)) {
        err = fwt_fail(FWT_E_CRYPTO, "SHA-256 unavailable");
    }
    uint8_t buf[65536];
    uint64_t total = 0;
    while (err == FWT_OK) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            err = fwt_fail(FWT_E_IO, "%s: %s", src, strerror(errno));
            break;
        }
        if (n == 0) {
            break;
        }
        if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
            err = fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
            break;
        }
        err = repo_fs_write_all(out, buf, (size_t)n, src);
        total += (uint64_t)n;
        if (o->progress) {
            o->progress(o->progress_ctx, total, (uint64_t)st.st_size);
        }
    }
    close(in);
    uint8_t dg[32];
    unsigned dl = 0;
    if (err == FWT_OK && (EVP_DigestFinal_ex(md, dg, &dl) != 1 || dl != 32)) {
        err = fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
    }
    EVP_MD_CTX_free(md);
    char *dest = NULL;
    if (err == FWT_OK) {
        fwt_hex_encode(dg, 32, sha);
        const char *slash = strrchr(name, '/');
        if (slash) {
            dest = repo_path(r, "targets/%.*s/%s.%s", (int)(slash - name), name, sha, slash + 1);
        } else {
            dest = repo_path(r, "targets/%s.%s", sha, name);
        }
        if (!dest) {
            err = repo_oom();
        }
    }
    if (out >= 0) {
        fwt_err e2 = repo_txn_file_end(txn, out, id, err == FWT_OK ? dest : NULL, dg);
        if (err == FWT_OK) {
            err = e2;
        }
    }
    free(dest);
    *length = total;
    return err;
}

static fwt_err image_facts(const char *path, const struct repo_target_opts *o, const struct fwt_key_opts *ko,
                           json_t **facts)
{
    *facts = NULL;
    struct fwt_file_io fio;
    fwt_err err = fwt_file_io_open(&fio, path);
    if (err != FWT_OK) {
        return err;
    }
    uint8_t magic[4];
    unsigned order;
    if (fio.io.size < FWT_IMAGE_HEADER_SIZE || fio.io.read(fio.io.ctx, 0, magic, 4) != FWT_OK ||
        fwt_image_order(magic, &order) != FWT_OK) { /* an image in either byte order */
        fwt_file_io_close(&fio);
        fwt_detail_clear();
        /* An encoded image (`fwtrust delta`): facts from its header (docs/updates.md). */
        err = repo_encoded_facts(path, facts);
        if (err == FWT_OK && o->n_verify > 0) {
            json_decref(*facts);
            *facts = NULL;
            return fwt_fail(FWT_E_ARG, "%s is an encoded image: verify it with `fwtrust delta --verify-key` "
                            "when making it, and add it without --verify-key", path);
        }
        if (err != FWT_E_NOT_FOUND) {
            return err;
        }
        fwt_detail_clear();
        if (o->n_verify > 0) {
            return fwt_fail(FWT_E_MALFORMED, "%s is not an fwtrust image, but --verify-key was given", path);
        }
        return FWT_OK; /* not an image: a plain target */
    }
    static uint8_t work[16384];
    struct fwt_image_info info;
    memset(&info, 0, sizeof(info));
    err = fwt_image_parse(&fio.io, work, sizeof(work), &info);
    fwt_file_io_close(&fio);
    if (err != FWT_OK) {
        if (fwt_detail()[0] == '\0') {
            (void)fwt_fail(err, "%s looks like an fwtrust image but does not parse", path);
        }
        return err;
    }
    if (o->n_verify > 0) {
        err = fwt_verify_file_any_key(path, o->verify_keys, o->n_verify, ko, &info);
        if (err != FWT_OK) {
            return err;
        }
    }
    /* The description (tuf/target_desc.h), with the verified signers when --verify-key. */
    struct fwt_target_desc d;
    fwt_target_desc_from_image(&info, o->n_verify > 0, &d);
    *facts = fwt_target_desc_to_json(&d);
    return *facts ? FWT_OK : repo_oom();
}

/*
 * The repository's provenance policy over one image (repo_provenance.c): when the
 * repository has one, the envelopes must satisfy it; they are then published as the
 * targets NAME.intoto-N.json, and the image's custom metadata names them
 * ("provenance": envelopes, the bound one, the builders that agreed).
 */
static fwt_err add_provenance(struct repo *r, const struct repo_target_opts *o, const char *name,
                              const struct repo_role_keys *rk, json_t *tmap, json_t *cust,
                              struct repo_txn *txn, json_t *added)
{
    json_t *summary = NULL;
    fwt_enckey *dkey = NULL;
    fwt_err err = FWT_OK;
    if (o->decrypt_key) {
        if (!repo_provenance_has_policy(r->dir)) {
            return fwt_fail(FWT_E_ARG, "--decrypt-key is for the provenance policy's check of an "
                            "encrypted image, and the repository has no provenance policy");
        }
        err = fwt_enckey_load(o->decrypt_key, &dkey);
        if (err != FWT_OK) {
            return fwt_fail(err, "%s: %s", o->decrypt_key, fwt_detail());
        }
    }
    err = repo_provenance_check(r->dir, o->files[0], o->provenance, o->n_provenance, dkey,
                                &summary);
    fwt_enckey_free(dkey);
    if (err != FWT_OK || summary == NULL) {
        return err;
    }
    /* Only the envelopes that passed are published: a differing build vouches for nothing. */
    json_t *names = json_array(), *passed = json_object_get(summary, "passed");
    json_int_t bound = json_integer_value(json_object_get(summary, "bound"));
    const char *bound_name = NULL;
    for (size_t k = 0; k < json_array_size(passed) && err == FWT_OK; k++) {
        size_t j = (size_t)json_integer_value(json_array_get(passed, k));
        char ename[256], sha[65];
        uint64_t length = 0;
        if (j >= o->n_provenance) {
            err = fwt_fail(FWT_E_INTERNAL, "provenance index out of range");
            break;
        }
        snprintf(ename, sizeof(ename), "%s.intoto-%zu.json", name, k + 1);
        err = check_target_name(ename);
        if (err == FWT_OK && rk && !paths_match(rk->role, ename)) {
            err = fwt_fail(FWT_E_ARG, "provenance target '%s' is outside the role's delegated paths", ename);
        }
        if (err == FWT_OK) {
            err = copy_target(r, o, o->provenance[j], ename, sha, &length, txn);
        }
        if (err == FWT_OK) {
            json_object_set_new(tmap, ename, json_pack("{s:I, s:{s:s}, s:{s:s}}", "length", (json_int_t)length,
                                                       "hashes", "sha256", sha, "custom", "provenance_of", name));
            json_array_append_new(added, json_pack("{s:s, s:I, s:s}", "name", ename, "length",
                                                   (json_int_t)length, "sha256", sha));
            json_array_append_new(names, json_string(ename));
            if ((json_int_t)j == bound) {
                bound_name = json_string_value(json_array_get(names, json_array_size(names) - 1));
            }
        }
    }
    if (err == FWT_OK && bound_name == NULL) {
        err = fwt_fail(FWT_E_INTERNAL, "the bound envelope is not among those that passed");
    }
    if (err == FWT_OK) {
        json_object_set_new(summary, "bound", json_string(bound_name));
        json_object_del(summary, "passed");
        json_object_set(summary, "envelopes", names);
        json_object_set(cust, "provenance", summary);
    }
    json_decref(names);
    json_decref(summary);
    return err;
}

fwt_err repo_cmd_add_target(struct repo *r, const struct repo_target_opts *o, const struct repo_keyring *kr,
                            const struct fwt_key_opts *ko, json_t *report)
{
    const char *role = o->role ? o->role : "targets";
    if (o->n_files == 0 || o->n_files > REPO_MAX_ADD) {
        return fwt_fail(FWT_E_ARG, "add-target takes 1 to %d files", REPO_MAX_ADD);
    }
    if (o->name && o->n_files != 1) {
        return fwt_fail(FWT_E_ARG, "--name is for a single file; use --prefix with several");
    }
    if (o->n_provenance && (o->n_files != 1 || o->no_image)) {
        return fwt_fail(FWT_E_ARG, "--provenance is for a single image (not with --no-image)");
    }
    json_t *custom = NULL;
    if (o->custom) {
        json_error_t jerr;
        custom = json_loads(o->custom, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(custom)) {
            json_decref(custom);
            return fwt_fail(FWT_E_ARG, "--custom must be a JSON object (%s)", custom ? "not an object" : jerr.text);
        }
    }
    fwt_err err = FWT_OK;
    json_t *env = NULL, *holder = NULL, *added = json_array();
    char *hn = NULL;
    struct repo_txn txn;
    repo_txn_init(&txn, r->dir);
    struct repo_role_keys rk;
    char **names = calloc(o->n_files, sizeof(*names));
    if (!added || !names) {
        err = repo_oom();
        goto out;
    }
    /* Names first: every one valid, no two the same, inside the role's paths. */
    if (strcmp(role, "targets") != 0) {
        if (tuf_is_top_role(role)) {
            err = fwt_fail(FWT_E_ARG, "targets are added to 'targets' or a delegated role, not '%s'", role);
            goto out;
        }
        err = repo_role_keys(r, role, &holder, &hn, &rk);
        if (err != FWT_OK) {
            goto out;
        }
    }
    for (size_t i = 0; i < o->n_files && err == FWT_OK; i++) {
        const char *base = o->name;
        if (!base) {
            const char *slash = strrchr(o->files[i], '/');
            base = slash ? slash + 1 : o->files[i];
        }
        size_t len = strlen(o->prefix ? o->prefix : "") + strlen(base) + 1;
        names[i] = malloc(len);
        if (!names[i]) {
            err = repo_oom();
            break;
        }
        snprintf(names[i], len, "%s%s", o->prefix ? o->prefix : "", base);
        err = check_target_name(names[i]);
        for (size_t j = 0; j < i && err == FWT_OK; j++) {
            if (!strcmp(names[i], names[j])) {
                err = fwt_fail(FWT_E_ARG, "target name '%s' given twice", names[i]);
            }
        }
        if (err == FWT_OK && holder && !paths_match(rk.role, names[i])) {
            err = fwt_fail(FWT_E_ARG, "target '%s' is outside the paths delegated to '%s'", names[i], role);
        }
    }
    if (err != FWT_OK) {
        goto out;
    }
    err = repo_check_signers(r, kr, kr->n, role, NULL);
    if (err == FWT_OK) {
        err = repo_stage_for_change(r, role, &env);
    }
    if (err != FWT_OK) {
        goto out;
    }
    json_t *tmap = json_object_get(SIGNED(env), "targets");
    if (!json_is_object(tmap)) {
        err = fwt_fail(FWT_E_META, "%s metadata has no \"targets\" object", role);
        goto out;
    }
    for (size_t i = 0; i < o->n_files && err == FWT_OK; i++) {
        json_t *cust = custom ? json_deep_copy(custom) : json_object();
        json_t *facts = NULL;
        if (!cust) {
            err = repo_oom();
            break;
        }
        if (!o->no_image) {
            err = image_facts(o->files[i], o, ko, &facts);
            if (err == FWT_OK && facts) {
                json_object_set_new(cust, "fwtrust", facts);
            }
        }
        /* The policy covers plain images; an encoded one decodes to such an image, and a file
         * that is no image at all (a revocation list, an envelope) is outside it. */
        json_t *fw = json_object_get(cust, "fwtrust");
        if (err == FWT_OK && !o->no_image && fw && !json_object_get(fw, "encoding")) {
            err = add_provenance(r, o, names[i], holder ? &rk : NULL, tmap, cust, &txn, added);
        } else if (err == FWT_OK && o->n_provenance) {
            err = fwt_fail(FWT_E_ARG, "--provenance is for a plain image; %s is not one", o->files[i]);
        }
        char sha[65];
        uint64_t length = 0;
        if (err == FWT_OK) {
            err = copy_target(r, o, o->files[i], names[i], sha, &length, &txn);
        }
        if (err == FWT_OK) {
            json_t *entry = json_pack("{s:I, s:{s:s}}", "length", (json_int_t)length, "hashes", "sha256", sha);
            if (!entry) {
                err = repo_oom();
            } else {
                if (json_object_size(cust) > 0) {
                    json_object_set(entry, "custom", cust);
                }
                json_object_set_new(tmap, names[i], entry);
                json_array_append_new(added, json_pack("{s:s, s:I, s:s, s:O}", "name", names[i], "length",
                                                       (json_int_t)length, "sha256", sha, "custom", cust));
            }
        }
        json_decref(cust);
    }
    if (err != FWT_OK) {
        goto out;
    }
    repo_report_init(report);
    err = repo_stage_and_sign(r, role, env, kr, &txn, report);
    if (err == FWT_OK) {
        err = repo_txn_commit(&txn);
    }
    if (err == FWT_OK) {
        json_object_set(report, "targets", added);
        if (json_array_size(added) == 1) {
            json_object_set(report, "target", json_array_get(added, 0));
        }
    }
out:
    if (names) {
        for (size_t i = 0; i < o->n_files; i++) {
            free(names[i]);
        }
        free(names);
    }
    repo_txn_free(&txn);
    json_decref(env);
    json_decref(holder);
    json_decref(custom);
    json_decref(added);
    free(hn);
    return err;
}

fwt_err repo_cmd_remove_target(struct repo *r, const char *name, const char *role,
                               const struct repo_keyring *kr, json_t *report)
{
    role = role ? role : "targets";
    if (tuf_is_top_role(role) && strcmp(role, "targets") != 0) {
        return fwt_fail(FWT_E_ARG, "targets live in 'targets' or a delegated role, not '%s'", role);
    }
    json_t *env = NULL;
    fwt_err err = repo_check_signers(r, kr, kr->n, role, NULL);
    if (err == FWT_OK) {
        err = repo_stage_for_change(r, role, &env);
    }
    if (err != FWT_OK) {
        return err;
    }
    json_t *tmap = json_object_get(SIGNED(env), "targets");
    if (!json_object_get(tmap, name)) {
        json_decref(env);
        return fwt_fail(FWT_E_NOT_FOUND, "role '%s' has no target '%s'", role, name);
    }
    json_object_del(tmap, name);
    struct repo_txn txn;
    repo_txn_init(&txn, r->dir);
    repo_report_init(report);
    err = repo_stage_and_sign(r, role, env, kr, &txn, report);
    if (err == FWT_OK) {
        err = repo_txn_commit(&txn);
    }
    repo_txn_free(&txn);
    json_decref(env);
    return err;
}
