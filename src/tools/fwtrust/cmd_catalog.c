/* fwtrust catalog: every signed image with its exposure (docs/catalog.md). */
#include "image_cmd.h"

#include <fwtrust/fwt_keys.h>
#include <fwtrust/fwt_repo.h>
#include <stdlib.h>

static const char *const k_prog = "fwtrust catalog";

#define MAXK 8

static struct fwt_key_opts g_ko;
static const char *g_repo, *g_log, *g_id, *g_severity, *g_fixed_in, *g_reason;
static const char *g_keys[MAXK];
static struct fwt_opt_list g_key_list = {g_keys, 0, MAXK};
static int g_json, g_withdraw;

static int fail(fwt_err err)
{
    if (g_json) {
        fwt_cli_json_print(fwt_cli_json_error(err));
    }
    return fwt_cli_error(k_prog, err);
}

static fwt_err catalog_path(char *out, size_t n)
{
    int w = snprintf(out, n, "%s/catalog.json", g_repo);
    return w < 0 || (size_t)w >= n ? fwt_fail(FWT_E_ARG, "--repo: path too long") : FWT_OK;
}

/* The targets of the repository (every role), as `repo list` gives them. */
static fwt_err repo_rows(struct repo *r, json_t **rows)
{
    json_t *rep = json_object();
    fwt_err e = rep ? repo_cmd_list(r, NULL, rep) : FWT_E_NOMEM;
    if (e == FWT_OK) {
        *rows = json_incref(json_object_get(rep, "targets"));
        if (*rows == NULL) {
            *rows = json_array();
        }
    }
    json_decref(rep);
    /* The key version of each image's boot-key certificate, read from the target's file
     * (the log records the signing key, not its certificate). */
    size_t i;
    json_t *row;
    json_array_foreach(e == FWT_OK ? *rows : NULL, i, row)
    {
        const char *sha = json_string_value(json_object_get(json_object_get(row, "hashes"), "sha256"));
        if (!sha || !json_object_get(json_object_get(row, "custom"), "fwtrust") || json_object_get(row, "encoding")) {
            continue;
        }
        char *path = repo_target_file(r, json_string_value(json_object_get(row, "name")), sha);
        uint32_t kv = 0;
        if (!path) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
            break;
        }
        fwt_err ke = fwt_image_file_key_version(path, &kv);
        free(path);
        if (ke == FWT_OK) {
            json_object_set_new(row, "key_version", json_integer(kv));
        } else if (ke != FWT_E_NOT_FOUND) {
            e = fwt_fail(ke, "target %s: %s", json_string_value(json_object_get(row, "name")), fwt_detail());
            break;
        }
    }
    if (e != FWT_OK) {
        json_decref(*rows);
        *rows = NULL;
    }
    return e;
}

static int cmd_list(void)
{
    const char *db = g_log ? g_log : getenv("FWTRUST_SIGNLOG");
    if (!g_repo || !db || !db[0]) {
        return fwt_cli_usage_error(k_prog, "list needs --repo DIR and --log DB (or $FWTRUST_SIGNLOG)");
    }
    struct repo r;
    memset(&r, 0, sizeof(r));
    json_t *rows = NULL, *ann = NULL, *cat = NULL;
    struct fwt_signlog_pin pin;
    memset(&pin, 0, sizeof(pin));
    fwt_signlog *log = NULL;
    char path[4096];
    fwt_err err = catalog_path(path, sizeof(path));
    if (err == FWT_OK) {
        err = repo_open(g_repo, &r);
    }
    if (err == FWT_OK) {
        err = repo_rows(&r, &rows);
    }
    repo_close(&r);
    if (err == FWT_OK) {
        err = fwt_catalog_load(path, &ann);
    }
    if (err == FWT_OK && (err = fwt_signlog_pin_load(db, &pin)) != FWT_OK) {
        err = fwt_fail(err == FWT_E_NOT_FOUND ? FWT_E_NO_TRUST : err,
                       "signing log %s: no pinned log key on this machine ('fwtrust log pin')", db);
    }
    if (err == FWT_OK) {
        err = fwt_signlog_open(db, 0, &log);
    }
    if (err == FWT_OK) {
        err = fwt_catalog_build(log, pin.pub, rows, ann, &cat);
    }
    fwt_signlog_close(log);
    fwt_signlog_pin_free(&pin);
    json_decref(rows);
    json_decref(ann);
    if (err != FWT_OK) {
        return fail(err);
    }
    if (g_json) {
        fwt_cli_json_print(json_pack("{s:b, s:o}", "ok", 1, "images", cat));
        return 0;
    }
    printf("%-18s %-12s %-14s %-10s %-22s %-8s %-24s %s\n", "DIGEST", "VERSION", "HW", "STATE", "SIGNERS",
           "LOG", "PROVENANCE", "VULNERABILITIES");
    size_t i;
    json_t *e;
    json_array_foreach(cat, i, e) {
        char signers[128] = "", logs[64] = "", prov[64] = "-", vulns[256] = "-";
        size_t k, sl = 0, ll = 0, vl = 0;
        json_t *v;
        json_array_foreach(json_object_get(e, "signers"), k, v) {
            int w = snprintf(signers + sl, sizeof(signers) - sl, "%s%s(%.8s)", k ? "," : "",
                             json_string_value(json_object_get(v, "signer")),
                             json_string_value(json_object_get(v, "key_id")));
            sl = w < 0 || (size_t)w >= sizeof(signers) - sl ? sizeof(signers) - 1 : sl + (size_t)w;
        }
        json_array_foreach(json_object_get(e, "log_entries"), k, v) {
            int w = snprintf(logs + ll, sizeof(logs) - ll, "%s%lld", k ? "," : "#", (long long)json_integer_value(v));
            ll = w < 0 || (size_t)w >= sizeof(logs) - ll ? sizeof(logs) - 1 : ll + (size_t)w;
        }
        json_t *p = json_object_get(e, "provenance");
        if (json_is_object(p)) {
            snprintf(prov, sizeof(prov), "%zu builder(s)", json_array_size(json_object_get(p, "builders")));
        }
        json_array_foreach(json_object_get(e, "vulnerabilities"), k, v) {
            int w = snprintf(vulns + vl, sizeof(vulns) - vl, "%s%s(%s%s%s)", k ? "," : "",
                             json_string_value(json_object_get(v, "id")),
                             json_string_value(json_object_get(v, "severity")),
                             json_is_string(json_object_get(v, "fixed_in")) ? ", fixed in " : "",
                             json_is_string(json_object_get(v, "fixed_in"))
                                 ? json_string_value(json_object_get(v, "fixed_in"))
                                 : "");
            vl = w < 0 || (size_t)w >= sizeof(vulns) - vl ? sizeof(vulns) - 1 : vl + (size_t)w;
        }
        const char *hw = json_string_value(json_object_get(e, "hw_id"));
        const char *ver = json_string_value(json_object_get(e, "version"));
        printf("%.16s.. %-12s %-14s %-10s %-22s %-8s %-24s %s\n", json_string_value(json_object_get(e, "digest")),
               ver ? ver : "?", hw ? hw : "(any)", json_string_value(json_object_get(e, "state")),
               signers[0] ? signers : "(not in the log)", logs[0] ? logs : "-", prov, vulns);
    }
    json_decref(cat);
    return 0;
}

/* Withdraw and/or mark vulnerable; remove the image's targets (and their envelopes). */
static int cmd_mark(const char *digest, int withdraw)
{
    if (!g_repo) {
        return fwt_cli_usage_error(k_prog, "needs --repo DIR");
    }
    if (!withdraw && (!g_id || !g_severity)) {
        return fwt_cli_usage_error(k_prog, "mark-vulnerable needs --id and --severity");
    }
    if (g_key_list.n == 0) {
        return fwt_cli_usage_error(k_prog, "needs -k KEY of the targets role (the image is removed from "
                                           "the repository)");
    }
    char path[4096];
    struct repo r;
    memset(&r, 0, sizeof(r));
    struct repo_keyring kr;
    memset(&kr, 0, sizeof(kr));
    json_t *rows = NULL, *removed = json_array();
    fwt_err err = catalog_path(path, sizeof(path));
    if (err == FWT_OK) {
        err = repo_open(g_repo, &r);
    }
    for (size_t i = 0; err == FWT_OK && i < g_key_list.n; i++) {
        err = repo_keyring_add(&kr, g_keys[i], &g_ko, 1, NULL);
    }
    if (err == FWT_OK) {
        err = repo_rows(&r, &rows);
    }
    /* The targets of this image: those whose description names its digest (plain and
     * encoded), then the provenance envelopes published for them. */
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        json_t *dg = json_object_get(json_object_get(json_object_get(row, "custom"), "fwtrust"), "image_digest");
        const char *alg;
        json_t *hv;
        json_object_foreach(dg, alg, hv) {
            if (json_string_value(hv) && !strcmp(json_string_value(hv), digest)) {
                json_array_append(removed, row);
            }
        }
    }
    size_t n_img = json_array_size(removed);
    json_array_foreach(rows, i, row) {
        const char *of = json_string_value(json_object_get(json_object_get(row, "custom"), "provenance_of"));
        for (size_t k = 0; of && k < n_img; k++) {
            if (!strcmp(of, json_string_value(json_object_get(json_array_get(removed, k), "name")))) {
                json_array_append(removed, row);
                break;
            }
        }
    }
    /* Recorded first: an image marked but still listed is visible; the reverse is not. */
    if (err == FWT_OK) {
        err = fwt_catalog_annotate(path, digest, withdraw || g_withdraw, g_reason, withdraw ? NULL : g_id,
                                   g_severity, g_fixed_in);
    }
    json_t *names = json_array();
    json_array_foreach(removed, i, row) {
        if (err != FWT_OK) {
            break;
        }
        json_t *rep = json_object();
        err = repo_cmd_remove_target(&r, json_string_value(json_object_get(row, "name")),
                                     json_string_value(json_object_get(row, "role")), &kr, rep);
        json_decref(rep);
        json_array_append(names, json_object_get(row, "name"));
    }
    repo_keyring_free(&kr);
    repo_close(&r);
    json_decref(rows);
    json_decref(removed);
    if (err != FWT_OK) {
        json_decref(names);
        return fail(err);
    }
    if (g_json) {
        fwt_cli_json_print(json_pack("{s:b, s:s, s:o}", "ok", 1, "digest", digest, "removed", names));
    } else {
        printf("%s: recorded in %s; %zu target(s) removed (staged: publish with 'fwtrust repo publish')\n",
               digest, path, json_array_size(names));
        json_decref(names);
    }
    return 0;
}

static const struct fwt_opt k_global[] = {
    FWT_OPT_FLAG_(0, "json", &g_json, "print the result as JSON"),
    FWT_OPT_STR_(0, "repo", "DIR", &g_repo, "the TUF repository (fwtrust repo); required"),
    FWT_KEY_OPTS(g_ko),
    FWT_OPT_END_,
};
static const struct fwt_opt k_list[] = {
    FWT_OPT_STR_(0, "log", "DB", &g_log, "the signing log (default $FWTRUST_SIGNLOG), checked against its pinned key"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_vuln[] = {
    FWT_OPT_STR_(0, "id", "ID", &g_id, "vulnerability identifier (CVE-..., an advisory id); required"),
    FWT_OPT_STR_(0, "severity", "S", &g_severity, "low, medium, high or critical; required"),
    FWT_OPT_STR_(0, "fixed-in", "VERSION", &g_fixed_in, "the first version without it"),
    FWT_OPT_FLAG_(0, "withdraw", &g_withdraw, "also mark the image withdrawn"),
    FWT_OPT_LIST_('k', "key", "KEY", &g_key_list, "a key of the targets role, to remove the image (repeatable)"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_withdraw[] = {
    FWT_OPT_STR_(0, "reason", "TEXT", &g_reason, "why (recorded)"),
    FWT_OPT_LIST_('k', "key", "KEY", &g_key_list, "a key of the targets role, to remove the image (repeatable)"),
    FWT_OPT_END_,
};
static const struct fwt_cli_cmd k_cmds[] = {
    {"list", "", 0, 0, "every signed image: version, hardware, signers, log entries, provenance, state",
     "Every image the signing log records (verified against its pinned key first), with\n"
     "its version, hardware id, digest, signers and key ids, log entries, the repository's\n"
     "targets for it and its state (published, staged, withdrawn, or signed: never in the\n"
     "repository), its provenance summary and its vulnerability annotations; images in\n"
     "the repository that the log never saw are listed too (unlogged). Table or --json.",
     k_list},
    {"mark-vulnerable", "DIGEST", 1, 1, "record a vulnerability of an image and remove it from the repository",
     "Records a vulnerability (id, severity, fixed-in version) for the image with this\n"
     "digest (the hash TLV value, hex) in DIR/catalog.json, and removes its targets (plain,\n"
     "encoded, and their provenance envelopes) from the repository: staged, published by\n"
     "the next 'fwtrust repo publish'.",
     k_vuln},
    {"withdraw", "DIGEST", 1, 1, "withdraw an image: recorded, and removed from the repository", NULL, k_withdraw},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};
static const struct fwt_cli_prog k_cli = {
    .name = "fwtrust catalog",
    .description = "The catalog of signed images and their exposure (docs/catalog.md).",
    .opts = k_global,
    .cmds = k_cmds,
    .epilog = "Exit status (docs/exit-codes.md): 0 ok; 1 usage; 2 I/O; 7 key; 8 not found;\n"
              "11 the signing log is not intact; 20 malformed catalog file; 31 no pinned log key.",
};

static int run(int argc, char **argv)
{
    struct fwt_cli_args args;
    int rc = fwt_cli_parse_group(&k_cli, argc, argv, &args);
    if (rc >= 0) {
        return rc;
    }
    if (args.cmd == &k_cmds[0]) {
        return cmd_list();
    }
    return cmd_mark(args.argv[0], args.cmd == &k_cmds[2]);
}

const struct fwt_command fwt_cmd_catalog = {"catalog", "every signed image with its exposure (log, repository, provenance)",
                                            run};
