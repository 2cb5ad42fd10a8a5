/*
 * fwtrust repo: create and maintain a TUF repository (issue 4). The work is
 * done in src/tuf/repo_*.c; this file parses options and prints results.
 */
#include "image_cmd.h"
#include <fwtrust/fwt_repo.h>
#include <fwtrust/fwt_keys.h>

#include <stdlib.h>

static const char *const k_prog = "fwtrust repo";

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

static struct args g_a;
static const char *g_expires[16];
static uint64_t g_th[4], g_threshold, g_check_expiry = UINT64_MAX; /* UINT64_MAX: not given */
#define LIST_(l) {g_a.list[l], 0, MAXV}
static struct fwt_opt_list g_lists[8] = {LIST_(L_ROOT), LIST_(L_TARGETS), LIST_(L_SNAPSHOT), LIST_(L_TIMESTAMP),
                                         LIST_(L_KEY),  LIST_(L_SIGN),    LIST_(L_NEW),      LIST_(L_OLD)};
static struct fwt_opt_list g_verify = {g_a.verify, 0, MAXV};
static const char *g_prov[16], *g_gate_log, *g_override, *g_window, *g_expect[16];
static struct fwt_opt_list g_expect_list = {g_expect, 0, 16};
static struct fwt_opt_list g_prov_list = {g_prov, 0, 16};
static const char *g_dec_key;
static struct fwt_opt_list g_paths = {g_a.paths, 0, 64};
static struct fwt_opt_list g_exp = {g_expires, 0, 16};

static const struct fwt_opt k_global[] = {
    FWT_OPT_FLAG_(0, "json", &g_a.json, "print the result as JSON"),
    FWT_KEY_OPTS(g_a.ko),
    FWT_OPT_END_,
};
#define KEYS(h) FWT_OPT_LIST_('k', "key", "K", &g_lists[L_KEY], h)
#define SIGN_KEYS FWT_OPT_LIST_(0, "sign-key", "K", &g_lists[L_SIGN], "a key that signs the changed role (repeatable)")
#define THRESHOLD(h) FWT_OPT_U64_(0, "threshold", "N", &g_threshold, 1, 255, h)
#define ROLE(h) FWT_OPT_STR_(0, "role", "ROLE", &g_a.role, h)
static const struct fwt_opt k_init[] = {
    FWT_OPT_LIST_(0, "root-key", "K", &g_lists[L_ROOT], "a root key (repeatable; at least one)"),
    FWT_OPT_LIST_(0, "targets-key", "K", &g_lists[L_TARGETS], "a targets key (repeatable; at least one)"),
    FWT_OPT_LIST_(0, "snapshot-key", "K", &g_lists[L_SNAPSHOT], "a snapshot key (repeatable; at least one)"),
    FWT_OPT_LIST_(0, "timestamp-key", "K", &g_lists[L_TIMESTAMP], "a timestamp key (repeatable; at least one)"),
    FWT_OPT_U64_(0, "root-threshold", "N", &g_th[0], 1, 255, "signatures root needs (default 1)"),
    FWT_OPT_U64_(0, "targets-threshold", "N", &g_th[1], 1, 255, "signatures targets needs (default 1)"),
    FWT_OPT_U64_(0, "snapshot-threshold", "N", &g_th[2], 1, 255, "signatures snapshot needs (default 1)"),
    FWT_OPT_U64_(0, "timestamp-threshold", "N", &g_th[3], 1, 255, "signatures timestamp needs (default 1)"),
    FWT_OPT_LIST_(0, "expires", "ROLE=DAYS", &g_exp,
                  "expiry of ROLE (root 365, targets 90, snapshot 7, timestamp 1,\ndelegated 90 days by default); repeatable"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_add_target[] = {
    FWT_OPT_STR_(0, "name", "NAME", &g_a.name, "the target name (one FILE only)"),
    FWT_OPT_STR_(0, "prefix", "DIR/", &g_a.prefix, "name each target DIR/ + the file's base name"),
    FWT_OPT_STR_(0, "custom", "JSON", &g_a.custom, "custom metadata of the target"),
    ROLE("the targets role to stage it in (default targets)"),
    KEYS("a key of ROLE to sign with (repeatable)"),
    FWT_OPT_LIST_(0, "verify-key", "PUB", &g_verify, "verify the image with PUB first (repeatable)"),
    FWT_OPT_FLAG_(0, "no-image", &g_a.no_image, "FILE is not an fwtrust image (no custom.fwtrust)"),
    FWT_OPT_LIST_(0, "provenance", "ENVELOPE", &g_prov_list,
                  "a DSSE provenance envelope of the image (repeatable, one per\n"
                  "builder): required and checked when DIR has provenance-policy.json;\n"
                  "published as NAME.intoto-N.json"),
    FWT_OPT_STR_(0, "decrypt-key", "PRIV", &g_dec_key,
                 "the device's decryption key: the policy judges an encrypted\n"
                 "image by its plaintext (RSA-2048/P-256/X25519 PEM, AES-KW\n"
                 "base64); used in memory only, never copied"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_remove_target[] = {
    ROLE("the targets role that lists NAME (default targets)"),
    KEYS("a key of ROLE to sign with (repeatable)"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_delegate[] = {
    FWT_OPT_STR_(0, "name", "ROLE", &g_a.name, "the delegated role (required)"),
    KEYS("a key of the delegated role (repeatable)"),
    FWT_OPT_LIST_(0, "paths", "PATTERN", &g_paths, "target paths the role may sign (repeatable, up to 64)"),
    THRESHOLD("signatures the role needs (default 1)"),
    FWT_OPT_FLAG_(0, "terminating", &g_a.terminating, "a terminating delegation"),
    FWT_OPT_STR_(0, "from", "ROLE", &g_a.from, "the delegating role (default targets)"),
    SIGN_KEYS,
    FWT_OPT_END_,
};
static const struct fwt_opt k_publish[] = {
    KEYS("a snapshot or timestamp key (repeatable)"),
    FWT_OPT_FLAG_(0, "force", &g_a.force, "publish a new snapshot and timestamp even when nothing is staged"),
    FWT_OPT_STR_(0, "log", "DB", &g_gate_log,
                 "publish gate: every new image's signatures must be in the\n"
                 "signing log DB (default $FWTRUST_SIGNLOG; checked against\n"
                 "its pinned key) and no 'log audit' finding may concern it"),
    FWT_OPT_LIST_(0, "expect-key", "PUB", &g_expect_list, "gate: audit flags signatures by other keys (repeatable)"),
    FWT_OPT_STR_(0, "window", "HH:MM-HH:MM", &g_window, "gate: audit flags signatures outside this UTC window"),
    FWT_OPT_STR_(0, "override", "REASON", &g_override,
                 "publish despite gate findings; REASON and the findings are\n"
                 "recorded in DIR/publish-gate.jsonl"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_timestamp[] = {KEYS("a timestamp key (repeatable)"), FWT_OPT_END_};
static const struct fwt_opt k_rotate[] = {
    ROLE("the role whose keys change (required)"),
    FWT_OPT_LIST_(0, "new-key", "K", &g_lists[L_NEW], "a key to add (repeatable)"),
    FWT_OPT_LIST_(0, "old-key", "K|KEYID", &g_lists[L_OLD], "a key to remove (repeatable)"),
    THRESHOLD("the role's new threshold"),
    SIGN_KEYS,
    FWT_OPT_END_,
};
static const struct fwt_opt k_revoke[] = {
    ROLE("the role that lists the key (required)"),
    KEYS("the key (K|KEYID) to revoke (repeatable; at least one)"),
    THRESHOLD("the role's new threshold"),
    SIGN_KEYS,
    FWT_OPT_END_,
};
static const struct fwt_opt k_sign[] = {KEYS("a key of ROLE to sign with (repeatable; at least one)"), FWT_OPT_END_};
static const struct fwt_opt k_status[] = {
    FWT_OPT_U64_(0, "check-expiry", "DAYS", &g_check_expiry, 0, 36500,
                 "exit 42 when a published role expires within DAYS days (0: has\nexpired), naming each and the command that re-signs it"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_list[] = {
    ROLE("only the targets of this targets role (default: targets and every\ndelegated role)"),
    FWT_OPT_END_,
};

static const struct fwt_cli_cmd k_cmds[] = {
    {"init", "DIR", 1, 1, "stage root and targets version 1 (consistent snapshots)", NULL, k_init},
    {"add-target", "DIR FILE...", 2, -1, "copy each FILE to DIR/targets/SHA256.NAME and stage it in ROLE",
     "Copies each FILE to DIR/targets/SHA256.NAME and stages it in ROLE (default targets);\n"
     "NAME: --name (one file), else --prefix + the file's base name. An fwtrust image gets\n"
     "custom.fwtrust = version, security counter, hardware id, image digest; --verify-key\n"
     "verifies the image first.", k_add_target},
    {"remove-target", "DIR NAME", 2, 2, "remove target NAME from ROLE", NULL, k_remove_target},
    {"delegate", "DIR", 1, 1, "delegate --paths to a new role --name ROLE", NULL, k_delegate},
    {"publish", "DIR", 1, 1, "publish everything staged whose thresholds are met",
     "Publishes everything staged whose thresholds are met, with a new snapshot and timestamp\n"
     "(signed by the given snapshot/timestamp keys).", k_publish},
    {"timestamp", "DIR", 1, 1, "re-sign only the timestamp", NULL, k_timestamp},
    {"rotate", "DIR", 1, 1, "replace keys of --role ROLE",
     "Replaces keys of ROLE (root: the new root is signed by the old and the new root keys\n"
     "given as private keys).", k_rotate},
    {"revoke-key", "DIR", 1, 1, "remove a key from --role ROLE", NULL, k_revoke},
    {"sign", "DIR ROLE", 2, 2, "add signatures to staged ROLE (k-of-n signing on separate machines)",
     "Adds signatures to staged ROLE (k-of-n signing on separate machines); stages a new\n"
     "version when nothing is staged.", k_sign},
    {"status", "DIR", 1, 1, "versions, expiry, thresholds, who signed what",
     "Versions, expiry, thresholds, who signed what. Exits 11 while an operation that a\n"
     "crash interrupted is pending (any other command, or recover, completes or rolls it back).\n"
     "With --check-expiry DAYS (for cron or monitoring) it also exits 42 when the published\n"
     "metadata of a role expires within DAYS days, naming the role and the command that\n"
     "re-signs it (the status is printed too).",
     k_status},
    {"list", "DIR", 1, 1, "targets with length, hashes, role and image version",
     "Lists the targets of targets and of every delegated role (or of --role ROLE) from the\n"
     "current metadata (staged, else published): name, role, length, hashes and the image\n"
     "version and encoding of custom.fwtrust; staged entries are marked. Reads only; exits 11\n"
     "while an interrupted operation is pending, as status does.",
     k_list},
    {"recover", "DIR", 1, 1, "complete (or roll back) an interrupted operation",
     "Completes (or rolls back) an operation that a crash interrupted; every other command\n"
     "does this first, too.", NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};
static const struct fwt_cli_prog k_cli = {
    .name = "fwtrust repo",
    .description =
        "Create and maintain a TUF repository (The Update Framework 1.0) in DIR. Serve\n"
        "DIR/metadata and DIR/targets; DIR/staged holds metadata waiting for signatures.\n"
        "Keys are PEM files (private: it signs; public: it is only listed) or pkcs11: URIs.",
    .opts = k_global,
    .cmds = k_cmds,
    .epilog =
        "Exit status (docs/exit-codes.md): 0 success; 1 usage or bad argument; 2 I/O;\n"
        "10 another command is working on DIR;\n"
        "7 key cannot be loaded, cannot sign, or is not a key of the role signed;\n"
        "8 not found; 11 repository state inconsistent (status: an interrupted operation\n"
        "is pending; any other command, or recover, completes or rolls it back);\n"
        "40 metadata malformed; 41 signature threshold not met (staged, waiting for 'sign');\n"
        "42 metadata expired (status --check-expiry: a role expires within DAYS);\n"
        "51 nothing to publish.",
};

/* The options into g_a: -1 to go on, else the exit code. */
static int parse(int argc, char **argv, struct fwt_cli_args *args)
{
    g_a.exp.days[0] = 365;
    g_a.exp.days[1] = 90;
    g_a.exp.days[2] = 7;
    g_a.exp.days[3] = 1;
    g_a.exp.days[4] = 90;
    int rc = fwt_cli_parse_group(&k_cli, argc, argv, args);
    if (rc >= 0) {
        return rc;
    }
    for (int l = 0; l < 8; l++) {
        g_a.n[l] = g_lists[l].n;
    }
    g_a.n_verify = g_verify.n;
    g_a.n_paths = g_paths.n;
    for (int i = 0; i < 4; i++) {
        g_a.th[i] = (size_t)g_th[i];
    }
    g_a.threshold = (size_t)g_threshold;
    for (size_t i = 0; i < g_exp.n; i++) {
        if (parse_expires(&g_a.exp, g_expires[i]) != 0) {
            return FWT_E_ARG;
        }
    }
    return -1;
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

/* list: one line a target; hashes shortened to 16 hex digits (--json has them whole). */
static void print_list(const json_t *rep)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(rep, "targets"), i, t) {
        printf("%s  role %s  %lld bytes", json_string_value(json_object_get(t, "name")),
               json_string_value(json_object_get(t, "role")),
               (long long)json_integer_value(json_object_get(t, "length")));
        const char *alg;
        json_t *h;
        json_object_foreach(json_object_get(t, "hashes"), alg, h) {
            printf("  %s:%.16s...", alg, json_string_value(h));
        }
        const char *v = json_string_value(json_object_get(t, "version"));
        const char *enc = json_string_value(json_object_get(t, "encoding"));
        const char *bad = json_string_value(json_object_get(t, "custom_error"));
        if (v) {
            printf("  version %s", v);
        }
        if (enc) {
            printf("  %s", enc);
        }
        if (bad) {
            printf("  (custom.fwtrust unreadable: %s)", bad);
        }
        printf("%s\n", json_is_true(json_object_get(t, "staged")) ? "  (staged)" : "");
    }
    printf("%lld target(s)\n", (long long)json_integer_value(json_object_get(rep, "count")));
}

static void print_human(const char *cmd, const json_t *rep)
{
    size_t i;
    json_t *s;
    const char *rec = json_string_value(json_object_get(rep, "recovered"));
    if (rec) {
        printf("%s%s\n", strncmp(rec, "nothing", 7) ? "an interrupted operation was found and " : "", rec);
    }
    if (!strcmp(cmd, "list")) {
        print_list(rep);
        return;
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
        json_t *days = json_object_get(rep, "check_expiry_days");
        if (days && json_array_size(json_object_get(rep, "expiring")) == 0) {
            printf("no published role expires within %lld day(s)\n", (long long)json_integer_value(days));
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

static void on_gate(void *ctx, const char *image, const char *kind, const char *text)
{
    json_t *list = ctx;
    json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "image", image, "kind", kind, "text", text));
}

/*
 * The publish gates (docs/key-custody.md): with a signing log (--log, else
 * $FWTRUST_SIGNLOG), every image target the publish makes new must have all its
 * signatures in the log and no audit finding; otherwise the publish is refused
 * (exit 11), or with --override REASON it goes on. Either decision is recorded in
 * DIR/publish-gate.jsonl (the alert) and reported as "gate".
 */
static fwt_err publish_gate(struct repo *r, const struct args *a, json_t *rep)
{
    const char *db = g_gate_log ? g_gate_log : getenv("FWTRUST_SIGNLOG");
    if (db == NULL || db[0] == 0) {
        if (g_override || g_expect_list.n || g_window) {
            return fwt_fail(FWT_E_ARG, "--override, --expect-key and --window need the signing log (--log DB)");
        }
        return FWT_OK;
    }
    struct fwt_audit_opts ao;
    memset(&ao, 0, sizeof(ao));
    uint8_t (*expect)[32] = calloc(g_expect_list.n ? g_expect_list.n : 1, 32);
    fwt_err err = expect ? FWT_OK : FWT_E_NOMEM;
    for (size_t i = 0; err == FWT_OK && i < g_expect_list.n; i++) {
        fwt_pubkey *pub = NULL;
        if ((err = fwt_pubkey_load(g_expect[i], &a->ko, &pub)) == FWT_OK) {
            err = fwt_pubkey_keyhash(pub, expect[i]);
        }
        fwt_pubkey_free(pub);
    }
    ao.expect_keys = g_expect_list.n ? (const uint8_t(*)[32])expect : NULL;
    ao.n_expect_keys = g_expect_list.n;
    if (err == FWT_OK && g_window) {
        err = fwt_audit_window_parse(g_window, &ao);
    }
    json_t *imgs = NULL, *findings = json_array();
    struct fwt_signlog_pin pin;
    memset(&pin, 0, sizeof(pin));
    fwt_signlog *log = NULL;
    if (err == FWT_OK) {
        err = repo_cmd_new_images(r, &imgs);
    }
    if (err == FWT_OK && (err = fwt_signlog_pin_load(db, &pin)) != FWT_OK) {
        err = fwt_fail(err == FWT_E_NOT_FOUND ? FWT_E_NO_TRUST : err,
                       "signing log %s: no pinned log key on this machine ('fwtrust log pin'): %s", db, fwt_detail());
    }
    if (err == FWT_OK) {
        err = fwt_signlog_open(db, 0, &log);
    }
    size_t n = json_array_size(imgs), nf = 0;
    const char **paths = calloc(n ? n : 1, sizeof(*paths));
    for (size_t i = 0; paths && i < n; i++) {
        paths[i] = json_string_value(json_object_get(json_array_get(imgs, i), "path"));
    }
    if (err == FWT_OK && !paths) {
        err = FWT_E_NOMEM;
    }
    if (err == FWT_OK) {
        err = fwt_signlog_gate(log, pin.pub, &ao, paths, n, on_gate, findings, &nf);
    }
    fwt_signlog_close(log);
    fwt_signlog_pin_free(&pin);
    free(paths);
    free(expect);
    if (err == FWT_OK) {
        json_object_set_new(rep, "gate", json_pack("{s:s, s:I, s:O, s:b}", "log", db, "images", (json_int_t)n,
                                                   "findings", findings, "overridden", nf > 0 && g_override));
        if (nf > 0) {
            fwt_err rec = repo_record_gate(r, g_override ? "overridden" : "refused", g_override, findings);
            if (!g_override) {
                json_t *f0 = json_array_get(findings, 0);
                err = fwt_fail(FWT_E_STATE, "publish gate: %zu finding(s), nothing published (first: %s: %s: %s); "
                               "--override REASON publishes anyway and records why",
                               nf, json_string_value(json_object_get(f0, "image")),
                               json_string_value(json_object_get(f0, "kind")),
                               json_string_value(json_object_get(f0, "text")));
            } else {
                err = rec;
            }
        }
    }
    json_decref(findings);
    json_decref(imgs);
    return err;
}

static int run(int argc, char **argv)
{
    struct fwt_cli_args args;
    int rc = parse(argc, argv, &args);
    if (rc >= 0) {
        return rc;
    }
    struct args a = g_a;
    const char *cmd = args.cmd->name;
    int nargs = args.argc;
    char **pos = args.argv;
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
    /* status and list only read: they report an interrupted command, never finish it. */
    int reads_only = !strcmp(cmd, "status") || !strcmp(cmd, "list");
    if (err == FWT_OK && !reads_only) {
        /* A command interrupted by a crash is completed or rolled back first. */
        err = repo_cmd_recover(&r, rep);
    }
    if (err == FWT_OK && !reads_only && strcmp(cmd, "delegate") != 0 && strcmp(cmd, "rotate") != 0 &&
        strcmp(cmd, "revoke-key") != 0) {
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
        for (size_t i = 0; i < g_prov_list.n; i++) {
            to.provenance[i] = g_prov[i];
        }
        to.n_provenance = g_prov_list.n;
        to.decrypt_key = g_dec_key;
        struct fwt_progress prog;
        fwt_progress_start(&prog, "add-target", 0);
        to.progress = fwt_progress_cb;
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
        err = publish_gate(&r, &a, rep);
        if (err == FWT_OK) {
            err = repo_cmd_publish(&r, &kr, a.force, rep);
        }
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
        if (err == FWT_OK && g_check_expiry != UINT64_MAX) {
            err = repo_cmd_check_expiry(&r, (uint32_t)g_check_expiry, rep);
        }
    } else if (!strcmp(cmd, "list")) {
        err = repo_cmd_list(&r, a.role, rep);
    } else if (!strcmp(cmd, "recover") && !json_object_get(rep, "recovered")) {
        json_object_set_new(rep, "recovered", json_string("nothing to do: no interrupted operation"));
    }
done:
    repo_keyring_free(&kr);
    repo_close(&r);
    if (err != FWT_OK) {
        /* status --check-expiry found a role expiring: the status is printed with the error. */
        int with_status = err == FWT_E_META_EXPIRED && json_object_get(rep, "expiring") != NULL;
        if (err == FWT_E_ARG && fwt_detail()[0] && !a.json) {
            json_decref(rep);
            fprintf(stderr, "%s: error: %s\nTry '%s --help'.\n", args.name, fwt_detail(), args.name);
            return FWT_E_ARG;
        }
        if (a.json) {
            json_t *e = fwt_cli_json_error(err);
            if (with_status && e && json_object_update(rep, e) == 0) {
                json_decref(e);
                e = json_incref(rep);
            }
            fwt_cli_json_print(e);
        } else if (with_status) {
            print_human(cmd, rep);
        }
        json_decref(rep);
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
    "create and maintain a TUF repository (init, add-target, publish, sign, rotate, list, ...)",
    run,
};
