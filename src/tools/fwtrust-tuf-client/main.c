/*
 * fwtrust-tuf-client: a TUF client on the command line, following the client
 * protocol of the TUF conformance suite (theupdateframework/tuf-conformance,
 * CLIENT-CLI.md): options (before or after the subcommand, cli_opts.c), then
 *   init TRUSTED_ROOT | refresh | download | list
 * Exit status 0 on success and 1 on any failure (the protocol's rule); the
 * error name and number are printed on stderr (and in --json output), and
 * --detailed-exit makes the exit status the error number (docs/exit-codes.md).
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROG "fwtrust-tuf-client"
#define MAX_NAMES 256

struct cli {
    const char *mdir, *murl, *turl, *tdir;
    const char *names[MAX_NAMES];
    struct fwt_opt_list name_list;
    int json, detailed, force, no_floor, plain;
    uint64_t timeout, lsl, lst, rot, del, maxroot, maxts, maxsnap, maxtgt;
    struct fwt_tuf_client_opts o;
    struct fwt_progress prog; /* download progress (stderr, on a terminal) */
};

static int fail(const struct cli *a, fwt_err err)
{
    if (a->json) {
        fwt_cli_json_print(fwt_cli_json_error(err));
    }
    fwt_cli_error(PROG, err);
    fwt_cli_tuf_expiry_hint(PROG, err);
    fwt_cli_tls_hint(PROG, "--ca FILE", "--pinned-pubkey sha256//BASE64", "--client-cert FILE and --client-key FILE");
    return a->detailed ? fwt_cli_exit_code(err) : 1;
}

static int usage_fail(const struct cli *a, const char *name, const char *msg)
{
    int code = fwt_cli_usage_error(name, "%s", msg);
    return a->detailed ? code : 1;
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct fwt_progress *p = ctx;
    if (!p->label) {
        fwt_progress_start(p, "download", total);
    }
    fwt_progress_update(p, done);
}

static int cmd_init(struct cli *a, const char *root)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t max = a->o.limits.max_root_size ? a->o.limits.max_root_size : FWT_TUF_DEFAULT_MAX_ROOT_SIZE;
    fwt_err err = fwt_read_file(root, (size_t)max, &buf, &len);
    if (err == FWT_OK) {
        err = fwt_tuf_init_flags(a->mdir, buf, len, a->force ? FWT_TUF_INIT_REPLACE : 0);
    }
    free(buf);
    if (err != FWT_OK) {
        int rc = fail(a, err);
        (void)fwt_cli_missing_file_hint(PROG, err, "TRUSTED_ROOT", &root, 1,
                                        "give the repository's first root, metadata/1.root.json");
        return rc;
    }
    if (a->json) {
        fwt_cli_json_print(json_pack("{s:b, s:s}", "ok", 1, "metadata_dir", a->mdir));
    }
    return 0;
}

static json_t *roles_json(const fwt_tuf_client *c)
{
    static const char *const r[4] = {"root", "timestamp", "snapshot", "targets"};
    json_t *o = json_object();
    for (int i = 0; i < 4 && o; i++) {
        char e[32] = "";
        time_t t = fwt_tuf_role_expires(c, r[i]);
        struct tm tm;
        if (!gmtime_r(&t, &tm) || strftime(e, sizeof(e), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
            e[0] = 0;
        }
        json_object_set_new(o, r[i], json_pack("{s:I, s:s}", "version", (json_int_t)fwt_tuf_role_version(c, r[i]),
                                               "expires", e));
    }
    return o;
}

static json_t *target_json(const struct fwt_tuf_target *t)
{
    json_t *o = json_pack("{s:s, s:s, s:I}", "name", t->name, "role", t->role, "length", (json_int_t)t->length);
    if (o && t->sha256) {
        json_object_set_new(o, "sha256", json_string(t->sha256));
    }
    if (o && t->sha512) {
        json_object_set_new(o, "sha512", json_string(t->sha512));
    }
    if (o && t->custom_json) {
        json_t *cu = json_loads(t->custom_json, 0, NULL);
        if (cu) {
            json_object_set_new(o, "custom", cu);
        }
    }
    return o;
}

static int list_cb(void *ctx, const struct fwt_tuf_target *t)
{
    struct cli *a = ((void **)ctx)[0];
    json_t *arr = ((void **)ctx)[1];
    if (a->json) {
        json_array_append_new(arr, target_json(t));
    } else {
        printf("%s\t%s\t%llu\t%s\n", t->name, t->role, (unsigned long long)t->length, t->sha256 ? t->sha256 : "-");
    }
    return 0;
}

static int run(struct cli *a, const char *cmd)
{
    fwt_tuf_client *c = NULL;
    fwt_err err = fwt_tuf_client_open(&a->o, &c);
    if (err != FWT_OK) {
        int rc = fail(a, err);
        char root[4200];
        snprintf(root, sizeof(root), "%s/root.json", a->mdir);
        if (access(root, F_OK) != 0) {
            fwt_cli_hint(PROG, "%s holds no trusted root yet: run '" PROG " --metadata-dir %s init ROOT.json' first "
                         "(ROOT.json: the repository's metadata/1.root.json)", a->mdir, a->mdir);
        }
        return rc;
    }
    err = fwt_tuf_refresh(c);
    json_t *out = NULL;
    if (err == FWT_OK && !strcmp(cmd, "refresh")) {
        out = json_pack("{s:b, s:o}", "ok", 1, "roles", roles_json(c));
    } else if (err == FWT_OK && !strcmp(cmd, "list")) {
        json_t *arr = json_array();
        void *ctx[2] = {a, arr};
        err = fwt_tuf_list_targets(c, list_cb, ctx);
        out = json_pack("{s:b, s:o}", "ok", 1, "targets", arr);
    } else if (err == FWT_OK) { /* download */
        json_t *arr = json_array();
        for (size_t i = 0; i < a->name_list.n && err == FWT_OK; i++) {
            struct fwt_tuf_target t;
            err = fwt_tuf_get_target(c, a->names[i], &t);
            char *path = NULL;
            if (err == FWT_OK) {
                err = fwt_tuf_target_path(a->tdir, t.name, a->plain ? FWT_TUF_PATH_PLAIN : 0, &path);
            }
            int cached = 0;
            if (err == FWT_OK) {
                memset(&a->prog, 0, sizeof(a->prog));
                err = fwt_tuf_download_file(c, &t, path, &cached);
                fwt_progress_finish(&a->prog);
            }
            if (err == FWT_OK) {
                json_t *tj = target_json(&t);
                json_object_set_new(tj, "path", json_string(path));
                json_object_set_new(tj, "cached", json_boolean(cached));
                json_array_append_new(arr, tj);
                if (!a->json) {
                    printf("%s: %s%s\n", t.name, path, cached ? " (already there)" : "");
                }
            }
            free(path);
        }
        out = json_pack("{s:b, s:o}", "ok", 1, "downloaded", arr);
    }
    if (err == FWT_OK && !strcmp(cmd, "refresh") && !a->json) {
        printf("root v%llu, timestamp v%llu, snapshot v%llu, targets v%llu\n",
               (unsigned long long)fwt_tuf_role_version(c, "root"),
               (unsigned long long)fwt_tuf_role_version(c, "timestamp"),
               (unsigned long long)fwt_tuf_role_version(c, "snapshot"),
               (unsigned long long)fwt_tuf_role_version(c, "targets"));
    }
    fwt_tuf_client_free(c);
    if (err != FWT_OK) {
        json_decref(out);
        return fail(a, err);
    }
    if (a->json) {
        fwt_cli_json_print(out);
    } else {
        json_decref(out);
    }
    return 0;
}

static struct cli a = {.name_list = {a.names, 0, MAX_NAMES}};

#define MAXN 1000000000ull
/* the defaults as the help texts give them */
_Static_assert(FWT_TUF_DEFAULT_MAX_ROOT_SIZE == 512000, "help text of --max-root-bytes");
_Static_assert(FWT_TUF_DEFAULT_MAX_TIMESTAMP_SIZE == 16384, "help text of --max-timestamp-bytes");
_Static_assert(FWT_TUF_DEFAULT_MAX_SNAPSHOT_SIZE == 2000000, "help text of --max-snapshot-bytes");
_Static_assert(FWT_TUF_DEFAULT_MAX_TARGETS_SIZE == 5000000, "help text of --max-targets-bytes");
static const struct fwt_opt k_global[] = {
    FWT_OPT_STR_(0, "metadata-dir", "DIR", &a.mdir, "trusted metadata (root.json, timestamp.json, ..., time-floor)"),
    FWT_OPT_STR_(0, "metadata-url", "URL", &a.murl, "base URL of the repository metadata (http, https, file)"),
    FWT_OPT_STR_(0, "ca", "FILE", &a.o.transport.ca_file, "CA certificates (PEM) for https"),
    FWT_OPT_STR_(0, "ca-file", "FILE", &a.o.transport.ca_file, NULL), /* the old spelling */
    FWT_OPT_STR_(0, "pinned-pubkey", "PIN", &a.o.transport.pinned_pubkey,
                 "sha256//BASE64 of the server key (or a key file)"),
    FWT_OPT_STR_(0, "client-cert", "FILE", &a.o.transport.client_cert, "client certificate (PEM) for mutual TLS"),
    FWT_OPT_STR_(0, "client-key", "FILE", &a.o.transport.client_key, "its private key (PEM)"),
    FWT_OPT_U64_(0, "timeout", "SEC", &a.timeout, 1, MAXN, "per-file transfer timeout (default 300)"),
    FWT_OPT_U64_(0, "low-speed-limit", "BPS", &a.lsl, 1, MAXN, "abort a transfer slower than this ... (default 1024)"),
    FWT_OPT_U64_(0, "low-speed-time", "SEC", &a.lst, 1, MAXN, "... for this long (default 30)"),
    FWT_OPT_U64_(0, "max-root-bytes", "N", &a.maxroot, 1, MAXN,
                 "largest root file, also for init (default 512000)"),
    FWT_OPT_U64_(0, "max-timestamp-bytes", "N", &a.maxts, 1, MAXN,
                 "largest timestamp.json (default 16384)"),
    FWT_OPT_U64_(0, "max-snapshot-bytes", "N", &a.maxsnap, 1, MAXN,
                 "largest snapshot (default 2000000)"),
    FWT_OPT_U64_(0, "max-targets-bytes", "N", &a.maxtgt, 1, MAXN,
                 "largest targets role, delegated ones too (default 5000000)\n"
                 "(a longer download is aborted; a length above the limit\n"
                 "in the timestamp or snapshot is refused)"),
    FWT_OPT_U64_(0, "max-root-rotations", "N", &a.rot, 1, MAXN, "new root versions per refresh (default 32)"),
    FWT_OPT_U64_(0, "max-delegations", "N", &a.del, 1, MAXN, "roles visited per target search (default 32)"),
    FWT_OPT_FLAG_(0, "no-time-floor", &a.no_floor, "do not use the persisted time floor (trust the clock alone)"),
    FWT_OPT_STR_(0, "time-floor-file", "FILE", &a.o.time_floor_path,
                 "keep the time floor in FILE (default METADATA_DIR/time-floor)"),
    FWT_OPT_FLAG_(0, "json", &a.json, "print results as JSON on stdout"),
    FWT_OPT_FLAG_(0, "detailed-exit", &a.detailed, "exit with the error number instead of 1"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_init[] = {
    FWT_OPT_FLAG_(0, "force", &a.force, "replace the trusted root even with an older version, or\n"
                                        "another root of the same version (re-provisioning)"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_download[] = {
    FWT_OPT_LIST_(0, "target-name", "PATH", &a.name_list, "target to download (repeatable; at least one)"),
    FWT_OPT_STR_(0, "target-base-url", "URL", &a.turl, "base URL of the target files"),
    FWT_OPT_STR_(0, "target-dir", "DIR", &a.tdir, "where downloaded targets are stored (created)"),
    FWT_OPT_FLAG_(0, "plain-names", &a.plain, "store hw/fw.bin as DIR/hw/fw.bin (default: DIR/hw%2Ffw.bin,\n"
                                              "the conformance protocol's percent-encoded name)"),
    FWT_OPT_END_,
};
static const struct fwt_cli_cmd k_cmds[] = {
    {"init", "TRUSTED_ROOT", 1, 1, "install the initial root",
     "Installs the initial root TRUSTED_ROOT in --metadata-dir (created with its parents when\n"
     "missing). It must be signed by its own root\n"
     "threshold; a trusted root already there is replaced only by a newer version (the same file\n"
     "again changes nothing), unless --force.", k_init},
    {"refresh", "", 0, 0, "update root, timestamp, snapshot and targets from --metadata-url", NULL, NULL},
    {"download", "", 0, 0, "refresh, then fetch each --target-name into --target-dir",
     "Refreshes, then fetches each --target-name into --target-dir, created when missing (file\n"
     "name: the target path percent-encoded, or with --plain-names the path itself below\n"
     "--target-dir; a file that already matches is kept).", k_download},
    {"list", "", 0, 0, "refresh, then list every target (name, role, length, hashes, custom)", NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};
static const struct fwt_cli_prog k_cli = {
    .name = PROG,
    .description = "A TUF 1.0 client (tuf-spec.md section 5): trusted metadata in METADATA_DIR.\n"
                   "Follows the client protocol of the TUF conformance suite (CLIENT-CLI.md).",
    .opts = k_global,
    .cmds = k_cmds,
    .epilog = "Exit status: 0 success, 1 failure (the error is named on stderr);\n"
              "with --detailed-exit the error number (docs/exit-codes.md).",
};

int main(int argc, char **argv)
{
    struct fwt_cli_args args;
    int rc = fwt_cli_parse(&k_cli, argc, argv, &args);
    if (rc >= 0) {
        return rc == 0 || a.detailed ? rc : 1;
    }
    const char *cmd = args.cmd->name;
    if (!a.mdir) {
        return usage_fail(&a, args.name, "--metadata-dir is required");
    }
    a.o.metadata_dir = a.mdir;
    a.o.metadata_url = a.murl;
    a.o.targets_url = a.turl;
    a.o.no_time_floor = a.no_floor;
    a.o.transport.timeout_s = (long)a.timeout;
    a.o.transport.low_speed_limit = (long)a.lsl;
    a.o.transport.low_speed_time_s = (long)a.lst;
    a.o.limits.max_root_rotations = (unsigned)a.rot;
    a.o.limits.max_delegations = (unsigned)a.del;
    a.o.limits.max_root_size = a.maxroot;
    a.o.limits.max_timestamp_size = a.maxts;
    a.o.limits.max_snapshot_size = a.maxsnap;
    a.o.limits.max_targets_size = a.maxtgt;
    if (!getenv("FWTRUST_NO_PROGRESS")) {
        a.o.progress = on_progress;
        a.o.progress_ctx = &a.prog;
    }
    if (!strcmp(cmd, "init")) {
        return cmd_init(&a, args.argv[0]);
    }
    if (!a.murl) {
        return usage_fail(&a, args.name, "--metadata-url is required");
    }
    if (!strcmp(cmd, "download")) {
        if (!a.name_list.n || !a.turl || !a.tdir) {
            return usage_fail(&a, args.name, "download needs --target-name, --target-base-url and --target-dir");
        }
        fwt_err err = fwt_mkdirs(a.tdir, 0755);
        if (err != FWT_OK) {
            return fail(&a, err);
        }
    }
    return run(&a, cmd);
}
