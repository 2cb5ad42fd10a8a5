/*
 * fwtrust repo: create and maintain a TUF repository (issue 4). The work is
 * done in src/tuf/repo_*.c; this file parses options and prints results.
 */
#include "image_cmd.h"
#include <fwtrust/fwt_repo.h>

#include <stdlib.h>

static const char *const k_prog = "fwtrust repo";

enum {
    OPT_ROOT_KEY = OPT_CMD_FIRST,
    OPT_TARGETS_KEY,
    OPT_SNAPSHOT_KEY,
    OPT_TIMESTAMP_KEY,
    OPT_ROOT_TH,
    OPT_TARGETS_TH,
    OPT_SNAPSHOT_TH,
    OPT_TIMESTAMP_TH,
    OPT_EXPIRES,
    OPT_NAME,
    OPT_CUSTOM,
    OPT_ROLE,
    OPT_VERIFY_KEY,
    OPT_NO_IMAGE,
    OPT_PATHS,
    OPT_TERMINATING,
    OPT_THRESHOLD,
    OPT_FROM,
    OPT_SIGN_KEY,
    OPT_NEW_KEY,
    OPT_OLD_KEY,
    OPT_FORCE,
    OPT_PREFIX,
};

static void usage(FILE *out)
{
    fprintf(out,
        "usage: fwtrust repo COMMAND DIR [options]\n\n"
        "Create and maintain a TUF repository (The Update Framework 1.0) in DIR. Serve\n"
        "DIR/metadata and DIR/targets; DIR/staged holds metadata waiting for signatures.\n"
        "Keys are PEM files (private: it signs; public: it is only listed) or pkcs11: URIs.\n\n"
        "Commands:\n"
        "  init DIR --root-key K... --targets-key K... --snapshot-key K... --timestamp-key K...\n"
        "       [--root-threshold N] [--targets-threshold N] [--snapshot-threshold N]\n"
        "       [--timestamp-threshold N] [--expires ROLE=DAYS]...\n"
        "       stage root and targets version 1 (expiry defaults: root 365, targets 90,\n"
        "       snapshot 7, timestamp 1, delegated 90 days; consistent snapshots)\n"
        "  add-target DIR FILE... [--name NAME | --prefix DIR/] [--custom JSON] [--role ROLE]\n"
        "       [--key K]... [--verify-key PUB]... [--no-image]\n"
        "       copy each FILE to DIR/targets/SHA256.NAME and stage it in ROLE (default targets);\n"
        "       NAME: --name (one file), else --prefix + the file's base name;\n"
        "       an fwtrust image gets custom.fwtrust = version, security counter, hardware id,\n"
        "       image digest; --verify-key verifies the image first\n"
        "  remove-target DIR NAME [--role ROLE] [--key K]...\n"
        "  delegate DIR --name ROLE --key K... --paths PATTERN... [--threshold N]\n"
        "       [--terminating] [--from ROLE] [--sign-key K]...\n"
        "  publish DIR --key K... [--force]\n"
        "       publish everything staged whose thresholds are met, with a new snapshot and\n"
        "       timestamp (signed by the given snapshot/timestamp keys)\n"
        "  timestamp DIR --key K...      re-sign only the timestamp\n"
        "  rotate DIR --role ROLE [--new-key K]... [--old-key K|KEYID]... [--threshold N]\n"
        "       [--sign-key K]...  replace keys of ROLE (root: the new root is signed by the\n"
        "       old and the new root keys given as private keys)\n"
        "  revoke-key DIR --role ROLE --key K|KEYID [--threshold N] [--sign-key K]...\n"
        "  sign DIR ROLE --key K...      add signatures to staged ROLE (k-of-n signing on\n"
        "       separate machines); stages a new version when nothing is staged\n"
        "  status DIR [--json]           versions, expiry, thresholds, who signed what;\n"
        "       exit 11 while an operation interrupted by a crash is pending\n"
        "  recover DIR                   complete (or roll back) an interrupted operation;\n"
        "       every other command does this first, too\n\n"
        "Options of every command:\n"
        "  --json               print the result as JSON\n" FWT_KEY_HELP
        "  -h, --help           this text\n\n"
        "Exit status (docs/exit-codes.md): 0 success; 1 usage or bad argument; 2 I/O;\n"
        "10 another command is working on DIR;\n"
        "7 key cannot be loaded, cannot sign, or is not a key of the role signed;\n"
        "8 not found; 11 repository state inconsistent (status: an interrupted operation\n"
        "is pending; any other command, or recover, completes or rolls it back);\n"
        "40 metadata malformed; 41 signature threshold not met (staged, waiting for 'sign');\n"
        "42 metadata expired; 51 nothing to publish.\n");
}

#define MAXV REPO_MAX_KEYS

struct args {
    const char *list[8][MAXV]; /* root, targets, snapshot, timestamp, key, sign-key, new, old */
    size_t n[8];
    const char *paths[64];
    size_t n_paths;
    const char *verify[MAXV];
    size_t n_verify;
    size_t th[4];
    size_t threshold;
    struct repo_expiry exp;
    const char *name, *custom, *role, *from, *prefix;
    int terminating, no_image, force, json;
    struct fwt_key_opts ko;
};

enum { L_ROOT, L_TARGETS, L_SNAPSHOT, L_TIMESTAMP, L_KEY, L_SIGN, L_NEW, L_OLD };

static int push(const char **arr, size_t *n, size_t max, const char *v, const char *opt)
{
    if (*n >= max) {
        fwt_cli_usage_error(k_prog, "too many %s options (at most %zu)", opt, max);
        return -1;
    }
    arr[(*n)++] = v;
    return 0;
}

static int parse_count(const char *opt, const char *s, size_t *out)
{
    uint32_t v = 0;
    if (fwt_parse_u32(s, &v) != FWT_OK || v < 1 || v > 255) {
        fwt_cli_usage_error(k_prog, "%s: expected a number from 1 to 255, got '%s'", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_expires(struct repo_expiry *exp, const char *s)
{
    static const char *const names[5] = {"root", "targets", "snapshot", "timestamp", "delegated"};
    const char *eq = strchr(s, '=');
    if (eq) {
        for (int i = 0; i < 5; i++) {
            if (strlen(names[i]) == (size_t)(eq - s) && !strncmp(s, names[i], (size_t)(eq - s))) {
                uint32_t d = 0;
                if (fwt_parse_u32(eq + 1, &d) != FWT_OK || d < 1 || d > 36500) {
                    break;
                }
                exp->days[i] = (int)d;
                return 0;
            }
        }
    }
    fwt_cli_usage_error(k_prog, "--expires: expected ROLE=DAYS (ROLE root, targets, snapshot, timestamp "
                                "or delegated; DAYS 1..36500), got '%s'", s);
    return -1;
}

static int parse(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"root-key", required_argument, NULL, OPT_ROOT_KEY},
        {"targets-key", required_argument, NULL, OPT_TARGETS_KEY},
        {"snapshot-key", required_argument, NULL, OPT_SNAPSHOT_KEY},
        {"timestamp-key", required_argument, NULL, OPT_TIMESTAMP_KEY},
        {"root-threshold", required_argument, NULL, OPT_ROOT_TH},
        {"targets-threshold", required_argument, NULL, OPT_TARGETS_TH},
        {"snapshot-threshold", required_argument, NULL, OPT_SNAPSHOT_TH},
        {"timestamp-threshold", required_argument, NULL, OPT_TIMESTAMP_TH},
        {"expires", required_argument, NULL, OPT_EXPIRES},
        {"name", required_argument, NULL, OPT_NAME},
        {"custom", required_argument, NULL, OPT_CUSTOM},
        {"role", required_argument, NULL, OPT_ROLE},
        {"verify-key", required_argument, NULL, OPT_VERIFY_KEY},
        {"no-image", no_argument, NULL, OPT_NO_IMAGE},
        {"paths", required_argument, NULL, OPT_PATHS},
        {"terminating", no_argument, NULL, OPT_TERMINATING},
        {"threshold", required_argument, NULL, OPT_THRESHOLD},
        {"from", required_argument, NULL, OPT_FROM},
        {"key", required_argument, NULL, 'k'},
        {"sign-key", required_argument, NULL, OPT_SIGN_KEY},
        {"new-key", required_argument, NULL, OPT_NEW_KEY},
        {"old-key", required_argument, NULL, OPT_OLD_KEY},
        {"force", no_argument, NULL, OPT_FORCE},
        {"prefix", required_argument, NULL, OPT_PREFIX},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        FWT_KEY_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    a->exp.days[0] = 365;
    a->exp.days[1] = 90;
    a->exp.days[2] = 7;
    a->exp.days[3] = 1;
    a->exp.days[4] = 90;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
        if (fwt_key_opt(c, optarg, &a->ko)) {
            continue;
        }
        int rc = 0;
        switch (c) {
        case OPT_ROOT_KEY:
        case OPT_TARGETS_KEY:
        case OPT_SNAPSHOT_KEY:
        case OPT_TIMESTAMP_KEY: {
            int l = c - OPT_ROOT_KEY;
            rc = push(a->list[l], &a->n[l], MAXV, optarg, "key");
            break;
        }
        case 'k':
            rc = push(a->list[L_KEY], &a->n[L_KEY], MAXV, optarg, "--key");
            break;
        case OPT_SIGN_KEY:
            rc = push(a->list[L_SIGN], &a->n[L_SIGN], MAXV, optarg, "--sign-key");
            break;
        case OPT_NEW_KEY:
            rc = push(a->list[L_NEW], &a->n[L_NEW], MAXV, optarg, "--new-key");
            break;
        case OPT_OLD_KEY:
            rc = push(a->list[L_OLD], &a->n[L_OLD], MAXV, optarg, "--old-key");
            break;
        case OPT_ROOT_TH:
        case OPT_TARGETS_TH:
        case OPT_SNAPSHOT_TH:
        case OPT_TIMESTAMP_TH:
        {
            static const char *const th_names[4] = {"--root-threshold", "--targets-threshold",
                                                    "--snapshot-threshold", "--timestamp-threshold"};
            rc = parse_count(th_names[c - OPT_ROOT_TH], optarg, &a->th[c - OPT_ROOT_TH]);
        }
            break;
        case OPT_THRESHOLD:
            rc = parse_count("--threshold", optarg, &a->threshold);
            break;
        case OPT_EXPIRES:
            rc = parse_expires(&a->exp, optarg);
            break;
        case OPT_NAME:
            a->name = optarg;
            break;
        case OPT_CUSTOM:
            a->custom = optarg;
            break;
        case OPT_ROLE:
            a->role = optarg;
            break;
        case OPT_FROM:
            a->from = optarg;
            break;
        case OPT_VERIFY_KEY:
            rc = push(a->verify, &a->n_verify, MAXV, optarg, "--verify-key");
            break;
        case OPT_NO_IMAGE:
            a->no_image = 1;
            break;
        case OPT_PATHS:
            rc = push(a->paths, &a->n_paths, 64, optarg, "--paths");
            break;
        case OPT_TERMINATING:
            a->terminating = 1;
            break;
        case OPT_FORCE:
            a->force = 1;
            break;
        case OPT_PREFIX:
            a->prefix = optarg;
            break;
        case OPT_JSON:
            a->json = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return fwt_getopt_error(k_prog, argv);
        }
        if (rc) {
            return FWT_E_ARG;
        }
    }
    return -1; /* go on */
}

/* Signing keys: --key and --sign-key (need the private half). */
static fwt_err signing_keys(const struct args *a, struct repo_keyring *kr)
{
    for (int l = L_KEY; l <= L_SIGN; l++) {
        for (size_t i = 0; i < a->n[l]; i++) {
            fwt_err err = repo_keyring_add(kr, a->list[l][i], &a->ko, 1, NULL);
            if (err != FWT_OK) {
                return err;
            }
        }
    }
    return FWT_OK;
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct fwt_progress *p = ctx;
    p->total = total;
    fwt_progress_update(p, done);
}

static void print_human(const char *cmd, const json_t *rep)
{
    size_t i;
    json_t *s;
    const char *rec = json_string_value(json_object_get(rep, "recovered"));
    if (rec) {
        printf("%s%s\n", strncmp(rec, "nothing", 7) ? "an interrupted operation was found and " : "", rec);
    }
    if (!strcmp(cmd, "status")) {
        json_array_foreach(json_object_get(rep, "roles"), i, s) {
            json_t *pub = json_object_get(s, "published");
            json_t *st = json_object_get(s, "staged");
            printf("%-12s threshold %lld of %zu keys", json_string_value(json_object_get(s, "role")),
                   (long long)json_integer_value(json_object_get(s, "threshold")),
                   json_array_size(json_object_get(s, "keyids")));
            if (json_is_object(pub)) {
                printf("; published v%lld, expires %s%s", (long long)json_integer_value(json_object_get(pub, "version")),
                       json_string_value(json_object_get(pub, "expires")),
                       json_is_true(json_object_get(pub, "expired")) ? " (EXPIRED)" : "");
            } else {
                printf("; not published");
            }
            if (json_is_object(st)) {
                printf("; staged v%lld with %zu valid signature(s)%s",
                       (long long)json_integer_value(json_object_get(st, "version")),
                       json_array_size(json_object_get(st, "signed_by")),
                       json_is_true(json_object_get(st, "threshold_met")) ? ", ready" : ", needs more");
            }
            printf("\n");
            if (json_is_string(json_object_get(s, "fix"))) {
                printf("    expired: %s\n", json_string_value(json_object_get(s, "fix")));
            }
            size_t j;
            json_t *k;
            json_array_foreach(json_object_get(s, "keyids"), j, k) {
                int signed_it = 0;
                size_t m;
                json_t *b;
                json_array_foreach(json_object_get(st, "signed_by"), m, b) {
                    signed_it |= json_equal(b, k);
                }
                printf("    key %s%s\n", json_string_value(k), signed_it ? "  signed staged" : "");
            }
        }
        return;
    }
    json_array_foreach(json_object_get(rep, "staged"), i, s) {
        char old[96] = "";
        if (json_object_get(s, "old_root_threshold")) {
            snprintf(old, sizeof(old), "; previous root's keys: %lld of %lld",
                     (long long)json_integer_value(json_object_get(s, "old_root_signatures")),
                     (long long)json_integer_value(json_object_get(s, "old_root_threshold")));
        }
        printf("staged %s version %lld: %lld signature(s) of %lld needed%s%s\n",
               json_string_value(json_object_get(s, "role")),
               (long long)json_integer_value(json_object_get(s, "version")),
               (long long)json_integer_value(json_object_get(s, "signatures")),
               (long long)json_integer_value(json_object_get(s, "threshold")), old,
               json_is_true(json_object_get(s, "threshold_met")) ? "" : " (waiting for 'fwtrust repo sign')");
    }
    json_t *t;
    json_array_foreach(json_object_get(rep, "targets"), i, t) {
        printf("target %s: %lld bytes, sha256 %s\n", json_string_value(json_object_get(t, "name")),
               (long long)json_integer_value(json_object_get(t, "length")),
               json_string_value(json_object_get(t, "sha256")));
    }
    json_t *pub = json_object_get(rep, "published");
    if (json_is_string(json_object_get(rep, "warning"))) {
        fprintf(stderr, "%s: warning: %s\n", k_prog, json_string_value(json_object_get(rep, "warning")));
    }
    if (pub) {
        const char *k;
        json_t *v;
        json_object_foreach(pub, k, v) {
            printf("published %s version %lld\n", k, (long long)json_integer_value(v));
        }
    }
    if (!strcmp(cmd, "init")) {
        static const char *const roles[4] = {"root", "targets", "snapshot", "timestamp"};
        for (int r = 0; r < 4; r++) {
            json_t *o = json_object_get(rep, roles[r]);
            printf("%-10s threshold %lld, keys:", roles[r], (long long)json_integer_value(json_object_get(o, "threshold")));
            size_t j;
            json_t *k;
            json_array_foreach(json_object_get(o, "keyids"), j, k) {
                printf(" %.16s...", json_string_value(k));
            }
            printf("\n");
        }
        printf("staged root and targets version 1\n");
        size_t j;
        json_t *n;
        json_array_foreach(json_object_get(rep, "next"), j, n) {
            printf("%s %s\n", j == 0 ? "next:" : "then:", json_string_value(n));
        }
    }
}

static int run(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? FWT_E_ARG : 0;
    }
    const char *cmd = argv[1];
    static const char *const cmds[] = {"init", "add-target", "remove-target", "delegate", "publish",
                                       "timestamp", "rotate", "revoke-key", "sign", "status", "recover"};
    int known = 0;
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        known |= !strcmp(cmd, cmds[i]);
    }
    if (!known) {
        return fwt_cli_usage_error(k_prog, "'%s' is not a repo command (see 'fwtrust repo --help')", cmd);
    }
    struct args a;
    memset(&a, 0, sizeof(a));
    int rc = parse(argc - 1, argv + 1, &a);
    if (rc >= 0) {
        return rc;
    }
    int nargs = argc - 1 - optind;
    char **pos = argv + 1 + optind;
    int want = (!strcmp(cmd, "add-target") || !strcmp(cmd, "remove-target") || !strcmp(cmd, "sign")) ? 2 : 1;
    if (!strcmp(cmd, "add-target") && nargs > 2) {
        want = nargs; /* several files */
    }
    if (nargs != want) {
        return fwt_cli_usage_error(k_prog, "%s expects %s", cmd,
                                   want == 2 ? (!strcmp(cmd, "sign") ? "DIR ROLE" : !strcmp(cmd, "add-target")
                                                                                     ? "DIR FILE" : "DIR NAME")
                                             : "DIR");
    }
    const char *dir = pos[0];
    json_t *rep = json_object();
    struct repo_keyring kr;
    memset(&kr, 0, sizeof(kr));
    struct repo r;
    memset(&r, 0, sizeof(r));
    fwt_err err = FWT_OK;
    if (!rep) {
        return fwt_cli_error(k_prog, FWT_E_NOMEM);
    }
    json_object_set_new(rep, "command", json_string(cmd));

    if (!strcmp(cmd, "init")) {
        struct repo_init_opts io;
        memset(&io, 0, sizeof(io));
        memcpy(io.root_keys, a.list[L_ROOT], sizeof(io.root_keys));
        memcpy(io.targets_keys, a.list[L_TARGETS], sizeof(io.targets_keys));
        memcpy(io.snapshot_keys, a.list[L_SNAPSHOT], sizeof(io.snapshot_keys));
        memcpy(io.timestamp_keys, a.list[L_TIMESTAMP], sizeof(io.timestamp_keys));
        io.n_root = a.n[L_ROOT];
        io.n_targets = a.n[L_TARGETS];
        io.n_snapshot = a.n[L_SNAPSHOT];
        io.n_timestamp = a.n[L_TIMESTAMP];
        memcpy(io.thresholds, a.th, sizeof(io.thresholds));
        io.exp = a.exp;
        err = repo_cmd_init(dir, &io, &a.ko, rep);
        goto done;
    }
    err = repo_open(dir, &r);
    if (err == FWT_OK && strcmp(cmd, "status") != 0) {
        /* A command interrupted by a crash is completed or rolled back first. */
        err = repo_cmd_recover(&r, rep);
    }
    if (err == FWT_OK && strcmp(cmd, "status") != 0 && strcmp(cmd, "delegate") != 0 &&
        strcmp(cmd, "rotate") != 0 && strcmp(cmd, "revoke-key") != 0) {
        err = signing_keys(&a, &kr);
    }
    if (err != FWT_OK) {
        goto done;
    }
    if (!strcmp(cmd, "add-target")) {
        struct repo_target_opts to;
        memset(&to, 0, sizeof(to));
        to.files = (const char *const *)(pos + 1);
        to.n_files = (size_t)(nargs - 1);
        to.prefix = a.prefix;
        to.name = a.name;
        to.custom = a.custom;
        to.role = a.role;
        memcpy(to.verify_keys, a.verify, sizeof(to.verify_keys));
        to.n_verify = a.n_verify;
        to.no_image = a.no_image;
        struct fwt_progress prog;
        fwt_progress_start(&prog, "add-target", 0);
        to.progress = on_progress;
        to.progress_ctx = &prog;
        err = repo_cmd_add_target(&r, &to, &kr, &a.ko, rep);
        fwt_progress_finish(&prog);
    } else if (!strcmp(cmd, "remove-target")) {
        err = repo_cmd_remove_target(&r, pos[1], a.role, &kr, rep);
    } else if (!strcmp(cmd, "delegate")) {
        struct repo_delegate_opts d;
        memset(&d, 0, sizeof(d));
        if (!a.name) {
            err = fwt_fail(FWT_E_ARG, "delegate needs --name ROLE");
            goto done;
        }
        d.name = a.name;
        d.from = a.from;
        memcpy(d.keys, a.list[L_KEY], sizeof(d.keys));
        d.n_keys = a.n[L_KEY];
        memcpy(d.paths, a.paths, sizeof(d.paths));
        d.n_paths = a.n_paths;
        d.threshold = a.threshold;
        d.terminating = a.terminating;
        for (size_t i = 0; i < a.n[L_SIGN] && err == FWT_OK; i++) {
            err = repo_keyring_add(&kr, a.list[L_SIGN][i], &a.ko, 1, NULL);
        }
        if (err == FWT_OK) {
            err = repo_cmd_delegate(&r, &d, &kr, &a.ko, rep);
        }
    } else if (!strcmp(cmd, "publish")) {
        err = repo_cmd_publish(&r, &kr, a.force, rep);
    } else if (!strcmp(cmd, "timestamp")) {
        err = repo_cmd_timestamp(&r, &kr, rep);
    } else if (!strcmp(cmd, "rotate") || !strcmp(cmd, "revoke-key")) {
        struct repo_rotate_opts ro;
        memset(&ro, 0, sizeof(ro));
        if (!a.role) {
            err = fwt_fail(FWT_E_ARG, "%s needs --role ROLE", cmd);
            goto done;
        }
        ro.role = a.role;
        if (!strcmp(cmd, "rotate")) {
            memcpy(ro.new_keys, a.list[L_NEW], sizeof(ro.new_keys));
            ro.n_new = a.n[L_NEW];
            memcpy(ro.old_keys, a.list[L_OLD], sizeof(ro.old_keys));
            ro.n_old = a.n[L_OLD];
        } else {
            if (a.n[L_KEY] == 0) {
                err = fwt_fail(FWT_E_ARG, "revoke-key needs --key K|KEYID");
                goto done;
            }
            memcpy(ro.old_keys, a.list[L_KEY], sizeof(ro.old_keys));
            ro.n_old = a.n[L_KEY];
        }
        ro.threshold = a.threshold;
        for (size_t i = 0; i < a.n[L_SIGN] && err == FWT_OK; i++) {
            err = repo_keyring_add(&kr, a.list[L_SIGN][i], &a.ko, 1, NULL);
        }
        if (err == FWT_OK) {
            err = repo_cmd_rotate(&r, &ro, &kr, &a.ko, rep);
        }
    } else if (!strcmp(cmd, "sign")) {
        if (kr.n == 0) {
            err = fwt_fail(FWT_E_ARG, "sign needs --key K");
        } else {
            err = repo_cmd_sign(&r, pos[1], &kr, rep);
        }
    } else if (!strcmp(cmd, "status")) {
        err = repo_cmd_status(&r, rep);
    } else if (!strcmp(cmd, "recover") && !json_object_get(rep, "recovered")) {
        json_object_set_new(rep, "recovered", json_string("nothing to do: no interrupted operation"));
    }
done:
    repo_keyring_free(&kr);
    repo_close(&r);
    if (err != FWT_OK) {
        json_decref(rep);
        if (err == FWT_E_ARG && fwt_detail()[0] && !a.json) {
            fprintf(stderr, "%s: error: %s\nTry 'fwtrust repo --help'.\n", k_prog, fwt_detail());
            return FWT_E_ARG;
        }
        if (a.json) {
            fwt_cli_json_print(fwt_cli_json_error(err));
        }
        return fwt_cli_error(k_prog, err);
    }
    if (a.json) {
        json_object_set_new(rep, "ok", json_true());
        fwt_cli_json_print(rep);
    } else {
        print_human(cmd, rep);
        json_decref(rep);
    }
    return 0;
}

const struct fwt_command fwt_cmd_repo = {
    "repo",
    "create and maintain a TUF repository (init, add-target, publish, sign, rotate, ...)",
    run,
};
