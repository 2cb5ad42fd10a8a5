/*
 * fwtrust-tuf-client: a TUF client on the command line, following the client
 * protocol of the TUF conformance suite (theupdateframework/tuf-conformance,
 * CLIENT-CLI.md): global options before the subcommand, then
 *   init TRUSTED_ROOT | refresh | download | list
 * Exit status 0 on success and 1 on any failure (the protocol's rule); the
 * error name and number are printed on stderr (and in --json output), and
 * --detailed-exit makes the exit status the error number (docs/exit-codes.md).
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROG "fwtrust-tuf-client"
#define MAX_NAMES 256

static void usage(FILE *out)
{
    fprintf(out,
            "usage: " PROG " [OPTIONS] COMMAND [ARGS]\n\n"
            "A TUF 1.0 client (tuf-spec.md section 5): trusted metadata in METADATA_DIR.\n\n"
            "Commands:\n"
            "  init TRUSTED_ROOT  install the initial root (must be signed by its own root threshold);\n"
            "                     a trusted root already there is replaced only by a newer version\n"
            "                     (the same file again changes nothing), unless --force\n"
            "  refresh            update root, timestamp, snapshot and targets from --metadata-url\n"
            "  download           refresh, then fetch each --target-name into --target-dir\n"
            "                     (file name: the target path percent-encoded; kept when it already matches)\n"
            "  list               refresh, then list every target (name, role, length, hashes, custom)\n\n"
            "Options (before COMMAND):\n"
            "  --metadata-dir DIR       trusted metadata (root.json, timestamp.json, ..., time-floor)\n"
            "  --metadata-url URL       base URL of the repository metadata (http, https, file)\n"
            "  --target-name PATH       target to download (repeatable)\n"
            "  --target-base-url URL    base URL of the target files\n"
            "  --target-dir DIR         where downloaded targets are stored\n"
            "  --ca-file FILE           CA certificates (PEM) for https\n"
            "  --pinned-pubkey PIN      sha256//BASE64 of the server key (or a key file)\n"
            "  --client-cert FILE       client certificate (PEM) for mutual TLS\n"
            "  --client-key FILE        its private key (PEM)\n"
            "  --timeout SEC            per-file transfer timeout (default 300)\n"
            "  --low-speed-limit BPS    abort a transfer slower than this ... (default 1024)\n"
            "  --low-speed-time SEC     ... for this long (default 30)\n"
            "  --max-root-bytes N       largest root file, also for init (default %u)\n"
            "  --max-timestamp-bytes N  largest timestamp.json (default %u)\n"
            "  --max-snapshot-bytes N   largest snapshot (default %u)\n"
            "  --max-targets-bytes N    largest targets role, delegated ones too (default %u)\n"
            "                           (a longer download is aborted; a length above the limit\n"
            "                           in the timestamp or snapshot is refused)\n"
            "  --max-root-rotations N   new root versions per refresh (default 32)\n"
            "  --max-delegations N      roles visited per target search (default 32)\n"
            "  --force                  init: replace the trusted root even with an older version, or\n"
            "                           another root of the same version (re-provisioning)\n"
            "  --no-time-floor          do not use the persisted time floor (trust the clock alone)\n"
            "  --time-floor-file FILE   keep the time floor in FILE (default METADATA_DIR/time-floor)\n"
            "  --json                   print results as JSON on stdout\n"
            "  --detailed-exit          exit with the error number instead of 1\n"
            "  --help                   this text\n\n"
            "Exit status: 0 success, 1 failure (the error is named on stderr).\n",
            FWT_TUF_DEFAULT_MAX_ROOT_SIZE, FWT_TUF_DEFAULT_MAX_TIMESTAMP_SIZE, FWT_TUF_DEFAULT_MAX_SNAPSHOT_SIZE,
            FWT_TUF_DEFAULT_MAX_TARGETS_SIZE);
}

struct cli {
    const char *mdir, *murl, *turl, *tdir;
    const char *names[MAX_NAMES];
    size_t n_names;
    int json, detailed, force;
    struct fwt_tuf_client_opts o;
    struct fwt_progress prog; /* download progress (stderr, on a terminal) */
};

static int fail(const struct cli *a, fwt_err err)
{
    if (a->json) {
        fwt_cli_json_print(fwt_cli_json_error(err));
    }
    fwt_cli_error(PROG, err);
    return a->detailed ? fwt_cli_exit_code(err) : 1;
}

static int usage_fail(const struct cli *a, const char *msg)
{
    int code = fwt_cli_usage_error(PROG, "%s", msg);
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

static int parse_long(const char *s, long *out)
{
    uint64_t v;
    if (fwt_parse_u64(s, 1000000000ull, &v) != FWT_OK) {
        return -1;
    }
    *out = (long)v;
    return 0;
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
        return fail(a, err);
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
        return fail(a, err);
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
        for (size_t i = 0; i < a->n_names && err == FWT_OK; i++) {
            struct fwt_tuf_target t;
            err = fwt_tuf_get_target(c, a->names[i], &t);
            char *q = err == FWT_OK ? fwt_tuf_quote(t.name) : NULL;
            char *path = NULL;
            if (err == FWT_OK && (!q || asprintf(&path, "%s/%s", a->tdir, q) < 0)) {
                path = NULL;
                err = fwt_fail(FWT_E_NOMEM, "out of memory");
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
            free(q);
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

int main(int argc, char **argv)
{
    static struct cli a;
    enum {
        O_MDIR = 256, O_MURL, O_TNAME, O_TURL, O_TDIR, O_CA, O_PIN, O_CERT, O_KEY, O_TIMEOUT, O_LSL, O_LST,
        O_ROT, O_DEL, O_MAXROOT, O_MAXTS, O_MAXSNAP, O_MAXTGT, O_FORCE, O_NOFLOOR, O_FLOORFILE, O_JSON, O_DETAIL, O_HELP
    };
    static const struct option opts[] = {
        {"metadata-dir", required_argument, 0, O_MDIR}, {"metadata-url", required_argument, 0, O_MURL},
        {"target-name", required_argument, 0, O_TNAME}, {"target-base-url", required_argument, 0, O_TURL},
        {"target-dir", required_argument, 0, O_TDIR}, {"ca-file", required_argument, 0, O_CA},
        {"pinned-pubkey", required_argument, 0, O_PIN}, {"client-cert", required_argument, 0, O_CERT},
        {"client-key", required_argument, 0, O_KEY}, {"timeout", required_argument, 0, O_TIMEOUT},
        {"low-speed-limit", required_argument, 0, O_LSL}, {"low-speed-time", required_argument, 0, O_LST},
        {"max-root-rotations", required_argument, 0, O_ROT}, {"max-delegations", required_argument, 0, O_DEL},
        {"max-root-bytes", required_argument, 0, O_MAXROOT}, {"max-timestamp-bytes", required_argument, 0, O_MAXTS},
        {"max-snapshot-bytes", required_argument, 0, O_MAXSNAP}, {"max-targets-bytes", required_argument, 0, O_MAXTGT},
        {"force", no_argument, 0, O_FORCE}, {"no-time-floor", no_argument, 0, O_NOFLOOR}, {"time-floor-file", required_argument, 0, O_FLOORFILE},
        {"json", no_argument, 0, O_JSON},
        {"detailed-exit", no_argument, 0, O_DETAIL}, {"help", no_argument, 0, O_HELP}, {0, 0, 0, 0}};
    int ch;
    long v;
    /* '+': stop at the first non-option (the subcommand) */
    while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (ch) {
        case O_MDIR: a.mdir = optarg; break;
        case O_MURL: a.murl = optarg; break;
        case O_TNAME:
            if (a.n_names == MAX_NAMES) {
                return usage_fail(&a, "too many --target-name options");
            }
            a.names[a.n_names++] = optarg;
            break;
        case O_TURL: a.turl = optarg; break;
        case O_TDIR: a.tdir = optarg; break;
        case O_CA: a.o.transport.ca_file = optarg; break;
        case O_PIN: a.o.transport.pinned_pubkey = optarg; break;
        case O_CERT: a.o.transport.client_cert = optarg; break;
        case O_KEY: a.o.transport.client_key = optarg; break;
        case O_TIMEOUT:
        case O_LSL:
        case O_LST:
        case O_ROT:
        case O_DEL:
        case O_MAXROOT:
        case O_MAXTS:
        case O_MAXSNAP:
        case O_MAXTGT:
            if (parse_long(optarg, &v) != 0 || v == 0) {
                return usage_fail(&a, "numeric option needs a positive number");
            }
            if (ch == O_TIMEOUT) a.o.transport.timeout_s = v;
            if (ch == O_LSL) a.o.transport.low_speed_limit = v;
            if (ch == O_LST) a.o.transport.low_speed_time_s = v;
            if (ch == O_ROT) a.o.limits.max_root_rotations = (unsigned)v;
            if (ch == O_DEL) a.o.limits.max_delegations = (unsigned)v;
            if (ch == O_MAXROOT) a.o.limits.max_root_size = (uint64_t)v;
            if (ch == O_MAXTS) a.o.limits.max_timestamp_size = (uint64_t)v;
            if (ch == O_MAXSNAP) a.o.limits.max_snapshot_size = (uint64_t)v;
            if (ch == O_MAXTGT) a.o.limits.max_targets_size = (uint64_t)v;
            break;
        case O_FORCE: a.force = 1; break;
        case O_NOFLOOR: a.o.no_time_floor = 1; break;
        case O_FLOORFILE: a.o.time_floor_path = optarg; break;
        case O_JSON: a.json = 1; break;
        case O_DETAIL: a.detailed = 1; break;
        case O_HELP:
        case 'h':
            usage(stdout);
            return 0;
        default:
            return usage_fail(&a, "unknown option");
        }
    }
    if (optind >= argc) {
        return usage_fail(&a, "no command (init, refresh, download, list)");
    }
    const char *cmd = argv[optind++];
    if (optind < argc && (!strcmp(argv[optind], "--help") || !strcmp(argv[optind], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (!a.mdir) {
        return usage_fail(&a, "--metadata-dir is required");
    }
    a.o.metadata_dir = a.mdir;
    a.o.metadata_url = a.murl;
    a.o.targets_url = a.turl;
    if (!getenv("FWTRUST_NO_PROGRESS")) {
        a.o.progress = on_progress;
        a.o.progress_ctx = &a.prog;
    }
    if (a.force && strcmp(cmd, "init") != 0) {
        return usage_fail(&a, "--force is an option of init only");
    }
    if (!strcmp(cmd, "init")) {
        if (optind + 1 != argc) {
            return usage_fail(&a, "init takes one argument: TRUSTED_ROOT");
        }
        return cmd_init(&a, argv[optind]);
    }
    if (optind != argc) {
        return usage_fail(&a, "unexpected argument after the command (options go before it)");
    }
    if (!a.murl) {
        return usage_fail(&a, "--metadata-url is required");
    }
    if (!strcmp(cmd, "download")) {
        if (!a.n_names || !a.turl || !a.tdir) {
            return usage_fail(&a, "download needs --target-name, --target-base-url and --target-dir");
        }
        if (mkdir(a.tdir, 0755) != 0 && errno != EEXIST) {
            fwt_fail(FWT_E_IO, "%s: cannot create: %s", a.tdir, strerror(errno));
            return fail(&a, FWT_E_IO);
        }
    } else if (strcmp(cmd, "refresh") != 0 && strcmp(cmd, "list") != 0) {
        return usage_fail(&a, "unknown command (init, refresh, download, list)");
    }
    return run(&a, cmd);
}
