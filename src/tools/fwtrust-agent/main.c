/*
 * fwtrust-agent: the device agent (docs/agent.md).
 *
 *   fwtrust-agent [--device DIR] [--json] COMMAND [ARGS]
 *
 * The commands are the table k_cmds (src/tools/cli.h): a command is one entry
 * there, its options and one handler in k_run. Exit status: 0 on success,
 * otherwise the fwt_err number (docs/exit-codes.md).
 */
#include "cli.h"
#include "fleet_cmd.h"
#include "update_cmd.h"

#include <fwtrust/fwt_agent.h>
#include <fwtrust/fwt_fleet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int g_json;
static const char *g_device;
static const char *g_name = "fwtrust-agent"; /* "fwtrust-agent COMMAND": in messages */

static const struct fwt_opt k_global[] = {
    FWT_OPT_STR_(0, "device", "DIR", &g_device, "the device directory (required)"),
    FWT_OPT_FLAG_(0, "json", &g_json, "print the result as JSON"),
    FWT_OPT_END_,
};

static int fail(fwt_err err)
{
    if (g_json) {
        fwt_cli_json_print(fwt_cli_json_error(err));
    }
    return fwt_cli_error(g_name, err);
}

static const char *slot_name(enum fwt_agent_slot s)
{
    return s == FWT_SLOT_A ? "a" : s == FWT_SLOT_B ? "b" : NULL;
}

static json_t *slot_json(enum fwt_agent_slot s)
{
    const char *n = slot_name(s);
    return n ? json_string(n) : json_null();
}

static json_t *hex_json(const uint8_t *b, size_t n)
{
    char h[2 * FWT_DIGEST_MAX + 1];
    if (n > FWT_DIGEST_MAX) {
        return json_null();
    }
    fwt_hex_encode(b, n, h);
    return json_string(h);
}

static json_t *image_json(const struct fwt_agent_image *img)
{
    char v[48];
    fwt_version_format(&img->version, v, sizeof(v));
    json_t *o = json_object();
    json_object_set_new(o, "slot", slot_json(img->slot));
    json_object_set_new(o, "version", json_string(v));
    json_object_set_new(o, "security_counter",
                        img->has_security_counter ? json_integer(img->security_counter)
                                                  : json_null());
    json_object_set_new(o, "digest", hex_json(img->digest, img->digest_len));
    json_object_set_new(o, "size", json_integer(img->total_size));
    json_object_set_new(o, "signer_keyhash", hex_json(img->signer_keyhash, 32));
    json_object_set_new(o, "key_version",
                        img->has_cert ? json_integer(img->key_version) : json_null());
    return o;
}

static void progress_cb(void *ctx, uint64_t done, uint64_t total)
{
    struct fwt_progress *p = ctx;
    if (p->total != total) {
        p->total = total;
    }
    fwt_progress_update(p, done);
}

/* ---- init ---- */

/* --readback metadata|full (init, install): 1 for full, 0 for metadata, -1 otherwise. */
static const char *g_readback;
static int parse_readback(const char *v)
{
    return !strcmp(v, "full") ? 1 : !strcmp(v, "metadata") ? 0 : -1;
}

static struct fwt_agent_init_opts g_init;
static const char *g_keys[FWT_AGENT_MAX_ANCHORS], *g_roots[FWT_AGENT_MAX_ANCHORS];
static struct fwt_opt_list g_key_list = {g_keys, 0, FWT_AGENT_MAX_ANCHORS};
static struct fwt_opt_list g_root_list = {g_roots, 0, FWT_AGENT_MAX_ANCHORS};
static uint64_t g_slot_size, g_threshold, g_tries, g_min_sc, g_min_kv;

_Static_assert(FWT_AGENT_MAX_ANCHORS == 8, "the help of --trust-key and --trust-root says up to 8");

static const struct fwt_opt k_init_opts[] = {
    FWT_OPT_STR_(0, "hw-id", "ID", &g_init.hw_id, "hardware id images must carry (1-64 bytes;\nrequired)"),
    FWT_OPT_STR_(0, "slot-a", "PATH", &g_init.slot_path[0],
                 "slot a: a regular file (created when absent)\nor a block device (required)"),
    FWT_OPT_STR_(0, "slot-b", "PATH", &g_init.slot_path[1], "slot b (required)"),
    FWT_OPT_U64_(0, "slot-size", "N", &g_slot_size, 0, UINT32_MAX,
                 "bytes an image may use in a slot (default: no\n"
                 "limit for files, the device size for block\n"
                 "devices)"),
    FWT_OPT_LIST_(0, "trust-key", "PUB", &g_key_list, "trusted image signing key (PEM); up to 8"),
    FWT_OPT_LIST_(0, "trust-root", "PUB", &g_root_list, "trusted certificate root (boot-key\ncertificates); up to 8"),
    FWT_OPT_U64_(0, "threshold", "K", &g_threshold, 1, UINT32_MAX,
                 "valid signatures from K distinct trust anchors\n"
                 "(each --trust-key, each --trust-root: a root\n"
                 "counts once however many keys it certified)\n"
                 "(default 1)"),
    FWT_OPT_U64_(0, "tries", "N", &g_tries, 1, FWT_AGENT_MAX_TRIES,
                 "boots a trial image gets before it rolls back\n(default 3)"),
    FWT_OPT_STR_(0, "readback", "metadata|full", &g_readback,
                 "what an install reads back after its fsync: the\n"
                 "header and TLV areas (default), or the whole slot\n"
                 "from the medium, hashed again (flash that may fail\n"
                 "writes)"),
    FWT_OPT_U64_(0, "min-security-counter", "N", &g_min_sc, 0, UINT32_MAX,
                 "initial anti-rollback minimum (default 0)"),
    FWT_OPT_U64_(0, "min-key-version", "N", &g_min_kv, 0, UINT32_MAX,
                 "initial minimum certificate key version (default 0)"),
    FWT_OPT_STR_(0, "tuf-root", "FILE", &g_init.tuf_root, "trusted TUF root.json for 'update' (copied in)"),
    FWT_OPT_STR_(0, "repo", "URL", &g_init.repo_url, "TUF repository base URL for 'update'"),
    FWT_OPT_STR_(0, "ca", "FILE", &g_init.tls_ca, "TLS: CA bundle or the pinned server\ncertificate"),
    FWT_OPT_STR_(0, "client-cert", "FILE", &g_init.tls_client_cert, "TLS: client certificate (mutual TLS)"),
    FWT_OPT_STR_(0, "client-key", "FILE", &g_init.tls_client_key, "TLS: its private key (copied in, mode 0600)"),
    FWT_OPT_STR_(0, "pinned-pubkey", "PIN", &g_init.tls_pinned_pubkey, "TLS: curl public key pin (sha256//BASE64)"),
    FWT_OPT_STR_(0, "targets", "PATTERN", &g_init.targets,
                 "this device's target names for 'update', a TUF\n"
                 "path pattern such as board/*: only delegated\n"
                 "roles that can hold such names are loaded\n"
                 "(default: every target)"),
    FWT_OPT_END_,
};

static const char k_init_desc[] =
    "Create the device directory DIR. Slots are regular files (created when absent) or\n"
    "block devices. Trust anchors are copied into DIR/keys as public keys. A slot that\n"
    "already holds a valid image (factory image) becomes the confirmed slot. A device\n"
    "without any --trust-key or --trust-root refuses every image (exit 31).\n\n"
    "Exit: 0; 1 usage; 2 I/O or DIR already a device; 7 key unusable; 8 key not found;\n"
    "32 a published sample key as trust anchor.";

static int cmd_init(const struct fwt_cli_args *a)
{
    (void)a;
    struct fwt_agent_init_opts o = g_init;
    o.slot_size = g_slot_size;
    o.threshold = (uint32_t)g_threshold;
    o.tries = (uint32_t)g_tries;
    o.min_security_counter = (uint32_t)g_min_sc;
    o.min_key_version = (uint32_t)g_min_kv;
    for (size_t i = 0; i < g_key_list.n; i++) {
        o.keys[i] = g_keys[i];
    }
    o.n_keys = g_key_list.n;
    for (size_t i = 0; i < g_root_list.n; i++) {
        o.roots[i] = g_roots[i];
    }
    o.n_roots = g_root_list.n;
    if (g_readback && (o.readback_full = parse_readback(g_readback)) < 0) {
        return fwt_cli_usage_error(g_name, "--readback: 'metadata' or 'full'");
    }
    if (!o.hw_id || !o.slot_path[0] || !o.slot_path[1]) {
        return fwt_cli_usage_error(g_name, "--hw-id, --slot-a and --slot-b are required");
    }
    if (o.threshold > o.n_keys + o.n_roots && o.n_keys + o.n_roots > 0) {
        return fwt_cli_usage_error(g_name, "--threshold %u is above the %zu trust anchor(s)",
                                   (unsigned)o.threshold, o.n_keys + o.n_roots);
    }
    fwt_err err = fwt_agent_init(g_device, &o);
    if (err != FWT_OK) {
        int rc = fail(err);
        const char *one[4][1] = {{o.tuf_root}, {o.tls_ca}, {o.tls_client_cert}, {o.tls_client_key}};
        const struct {
            const char *opt;
            const char *const *files;
            size_t n;
            const char *how;
        } h[] = {
            {"--trust-key", o.keys, o.n_keys, "export the key's public half with 'fwtrust pubkey KEY.pem -o FILE'"},
            {"--trust-root", o.roots, o.n_roots, "export the root's public key with 'fwtrust pubkey ROOT.pem -o FILE'"},
            {"--tuf-root", one[0], 1, "copy the repository's metadata/1.root.json (fwtrust repo init writes it)"},
            {"--ca", one[1], 1, "give the PEM CA certificate of the server"},
            {"--client-cert", one[2], 1, "give the device's PEM certificate"},
            {"--client-key", one[3], 1, "give the device's PEM private key"},
        };
        for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
            if (fwt_cli_missing_file_hint(g_name, err, h[i].opt, h[i].files, h[i].n, h[i].how)) {
                break; /* one hint: the first missing file */
            }
        }
        return rc;
    }
    if (o.n_keys == 0 && o.n_roots == 0) {
        fprintf(stderr, "%s: WARNING: device %s has NO trust anchor: it will refuse every image "
                "until a [trust] key or root is configured\n", g_name, g_device);
    }
    if (o.repo_url && !o.targets) {
        fprintf(stderr, "%s: note: no --targets PATTERN: 'update' must load every delegated role of "
                "the repository, so one that fails (expired, badly signed) stops this device's "
                "updates; name the device's targets ([update] targets = board/*) to load only "
                "the roles that can hold them\n", g_name);
    }
    fwt_agent *dev = NULL;
    err = fwt_agent_open_ex(g_device, FWT_AGENT_OPEN_READONLY, &dev);
    if (err != FWT_OK) {
        return fail(err);
    }
    struct fwt_agent_status st;
    err = fwt_agent_status_get(dev, &st);
    fwt_agent_close(dev);
    if (err != FWT_OK) {
        return fail(err);
    }
    if (g_json) {
        json_t *j = json_pack("{s:b, s:s, s:s, s:o, s:i, s:i}", "ok", 1, "device", g_device,
                              "hw_id", o.hw_id, "confirmed", slot_json(st.confirmed), "trust_keys",
                              (int)o.n_keys, "trust_roots", (int)o.n_roots);
        fwt_cli_json_print(j);
    } else {
        printf("device %s initialised: hardware id %s, %zu trust key(s), %zu root(s)",
               g_device, o.hw_id, o.n_keys, o.n_roots);
        if (st.confirmed != FWT_SLOT_NONE) {
            printf("; factory image in slot %s is confirmed", slot_name(st.confirmed));
        }
        printf("\n");
    }
    return 0;
}

/* ---- install ---- */

static int g_allow_older;
static const struct fwt_opt k_install_opts[] = {
    FWT_OPT_FLAG_(0, "allow-older", &g_allow_older,
                  "accept a version older than the running one\n"
                  "(the security counter minimum still applies)"),
    FWT_OPT_STR_(0, "readback", "metadata|full", &g_readback,
                 "full: read the whole slot back from the medium\n"
                 "and hash it again (the device's 'readback = full'\n"
                 "does this for every install)"),
    FWT_OPT_END_,
};

static const char k_install_desc[] =
    "Install a signed image into the inactive slot: the source is read once and written\n"
    "while hashed (memory does not grow with the image), fsync'ed, its header and TLV\n"
    "areas read back and compared, verified by the verifier core (signatures, trust\n"
    "anchors, hardware id, security counter and key version minimums) with the digest\n"
    "the stream computed, and only then marked for a trial boot. The running slot is\n"
    "never touched. '-' reads standard input.\n\n"
    "Exit: 0 installed; 1 usage; 2 I/O (or the source changed while read, or the slot\n"
    "read back differs); 5 a verifier result its re-check does not confirm (a fault);\n"
    "8 FILE not found; 10 locked; 11 running on trial (confirm first); 20-30 image\n"
    "refused; 31 no trust anchor; 33 larger than the slot; 51 older than the running\n"
    "version.";

static int cmd_install(const struct fwt_cli_args *a)
{
    unsigned flags = g_allow_older ? FWT_AGENT_INSTALL_ALLOW_OLDER : 0;
    if (g_readback) {
        switch (parse_readback(g_readback)) {
        case 1:
            flags |= FWT_AGENT_INSTALL_READBACK_FULL;
            break;
        case 0:
            break; /* the default; a device set to full stays full */
        default:
            return fwt_cli_usage_error(g_name, "--readback: 'metadata' or 'full'");
        }
    }
    const char *src = a->argv[0];
    fwt_agent *dev = NULL;
    fwt_err err = fwt_agent_open(g_device, &dev);
    if (err != FWT_OK) {
        return fail(err);
    }
    struct fwt_progress prog;
    fwt_progress_start(&prog, "installing", 0);
    struct fwt_agent_image img;
    err = fwt_agent_install_file(dev, src, flags, progress_cb, &prog, &img);
    fwt_progress_finish(&prog);
    uint32_t tries = fwt_agent_get_config(dev)->tries;
    fwt_agent_close(dev);
    if (err != FWT_OK) {
        return fail(err);
    }
    char v[48];
    fwt_version_format(&img.version, v, sizeof(v));
    if (g_json) {
        json_t *j = json_pack("{s:b, s:s, s:o, s:i}", "ok", 1, "slot", slot_name(img.slot),
                              "image", image_json(&img), "tries", (int)tries);
        fwt_cli_json_print(j);
    } else {
        printf("installed version %s (security counter %u) into slot %s; it boots on trial "
               "(%u tries): run fwtrust-boot, then confirm\n",
               v, (unsigned)img.security_counter, slot_name(img.slot), (unsigned)tries);
    }
    return 0;
}

/* ---- confirm / rollback ---- */

static const char k_confirm_desc[] =
    "The trial image booted and is healthy: make its slot the confirmed one,\n"
    "then raise the minimum security counter and key version to the image's\n"
    "(from now on older images are refused).\n\n"
    "Exit: 0; 10 locked; 11 state; 20-30 the trial slot no longer verifies;\n"
    "51 nothing to confirm (no trial, or it has not booted yet).";

static int cmd_confirm(const struct fwt_cli_args *a)
{
    (void)a;
    fwt_agent *dev = NULL;
    fwt_err err = fwt_agent_open(g_device, &dev);
    struct fwt_agent_image img;
    struct fwt_agent_status st;
    if (err == FWT_OK) {
        err = fwt_agent_confirm(dev, &img);
    }
    if (err == FWT_OK) {
        err = fwt_agent_status_get(dev, &st);
    }
    if (err == FWT_OK && fwt_agent_get_config(dev)->fleet_server) {
        /* an enrolled device tells its server (best effort: the next check-in shows it too) */
        char v[48], why[96];
        fwt_version_format(&img.version, v, sizeof(v));
        snprintf(why, sizeof(why), "version %s confirmed in slot %s", v, slot_name(img.slot));
        if (fwt_agent_report(dev, NULL, FWT_FLEET_CONFIRMED, 0, why) != FWT_OK) {
            fprintf(stderr, "%s: note: report 'confirmed' not sent: %s\n", g_name, fwt_detail());
        }
    }
    fwt_agent_close(dev);
    if (err != FWT_OK) {
        return fail(err);
    }
    char v[48];
    fwt_version_format(&img.version, v, sizeof(v));
    if (g_json) {
        fwt_cli_json_print(json_pack("{s:b, s:s, s:o, s:i, s:i}", "ok", 1, "confirmed",
                                     slot_name(img.slot), "image", image_json(&img),
                                     "min_security_counter", (int)st.min_security_counter,
                                     "min_key_version", (int)st.min_key_version));
    } else {
        printf("slot %s confirmed (version %s); minimum security counter %u, minimum key "
               "version %u\n", slot_name(img.slot), v, (unsigned)st.min_security_counter,
               (unsigned)st.min_key_version);
    }
    return 0;
}

static const char k_rollback_desc[] =
    "With an image on trial: cancel the trial, the next boot takes the\n"
    "confirmed slot. Otherwise: make the other slot's image the confirmed one,\n"
    "if it still verifies under the current anti-rollback minimums.\n\n"
    "Exit: 0; 10 locked; 20-30 the other slot does not verify (e.g. 26: its\n"
    "security counter is below the minimum); 51 nothing to roll back to.";

static int cmd_rollback(const struct fwt_cli_args *a)
{
    (void)a;
    fwt_agent *dev = NULL;
    enum fwt_agent_slot next = FWT_SLOT_NONE;
    fwt_err err = fwt_agent_open(g_device, &dev);
    if (err == FWT_OK) {
        err = fwt_agent_rollback(dev, &next);
    }
    fwt_agent_close(dev);
    if (err != FWT_OK) {
        return fail(err);
    }
    if (g_json) {
        fwt_cli_json_print(json_pack("{s:b, s:o}", "ok", 1, "next_boot", slot_json(next)));
    } else {
        printf("rolled back: the next boot takes slot %s\n", slot_name(next));
    }
    return 0;
}

/* ---- status ---- */

/* Structure of a slot's image (no trust decision: 'verify-slots' does that). */
static json_t *peek_json(const char *path)
{
    struct fwt_file_io fio;
    if (fwt_file_io_open(&fio, path) != FWT_OK) {
        fwt_detail_clear();
        return json_null();
    }
    uint8_t *work = malloc(4 * FWT_CERT_MAX);
    struct fwt_image_info info;
    json_t *o = json_null();
    if (work && fio.io.size > 0 &&
        fwt_image_parse(&fio.io, work, 4 * FWT_CERT_MAX, &info) == FWT_OK) {
        char v[48];
        fwt_version_format(&info.hdr.version, v, sizeof(v));
        json_decref(o);
        o = json_pack("{s:s, s:o, s:o}", "version", v, "security_counter",
                      info.has_security_counter ? json_integer(info.security_counter)
                                                : json_null(),
                      "digest", hex_json(info.digest, info.digest_len));
    }
    fwt_detail_clear();
    free(work);
    fwt_file_io_close(&fio);
    return o;
}

static const char *slot_state(const struct fwt_agent_status *st, enum fwt_agent_slot s)
{
    if (st->bad[s]) {
        return "bad";
    }
    if (st->confirmed == s) {
        return "confirmed";
    }
    if (st->trial == s) {
        return "trial";
    }
    return "inactive";
}

static json_t *pcr_json(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/pcr", dir);
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    return j ? j : json_null();
}

static json_t *release_json(const struct fwt_agent_release *r)
{
    char v[48];
    fwt_version_format(&r->version, v, sizeof(v));
    return json_pack("{s:s, s:o, s:I}", "version", v, "digest",
                     r->digest_len ? hex_json(r->digest, r->digest_len) : json_null(), "time",
                     (json_int_t)r->time);
}

/* How the last install ended, and the releases that failed their trial. */
static json_t *outcome_json(const struct fwt_agent_outcome *o)
{
    json_t *last = json_null();
    if (o->last != FWT_OUTCOME_NONE || o->reason[0]) {
        last = release_json(&o->img);
        json_object_set_new(last, "result", json_string(fwt_agent_outcome_name(o->last)));
        json_object_set_new(last, "slot", slot_json(o->slot));
        json_object_set_new(last, "reason", o->reason[0] ? json_string(o->reason) : json_null());
        if (o->img.digest_len == 0) {
            json_object_set_new(last, "version", json_null());
        }
    }
    json_t *failed = json_array();
    for (size_t i = 0; i < o->n_failed; i++) {
        json_array_append_new(failed, release_json(&o->failed[i]));
    }
    return json_pack("{s:o, s:o}", "last_outcome", last, "failed_releases", failed);
}

static const char k_status_desc[] =
    "Show the slots (state, image version and counter from the image headers:\n"
    "use verify-slots for a trust decision), boot control (confirmed, trial,\n"
    "tries left, last boot), anti-rollback minimums, the last measured boot, and\n"
    "how the last install ended (trial, confirmed, rolled_back or refused, with\n"
    "the reason) with the releases that failed their trial here (not offered\n"
    "again by 'update').\n"
    "Takes a shared lock: it runs beside other readers, not during an install.\n\n"
    "Exit: 0; 8 not a device; 10 locked; 11 state unreadable.";

static int cmd_status(const struct fwt_cli_args *a)
{
    (void)a;
    fwt_agent *dev = NULL;
    fwt_err err = fwt_agent_open_ex(g_device, FWT_AGENT_OPEN_READONLY, &dev);
    struct fwt_agent_status st;
    struct fwt_agent_outcome oc;
    if (err == FWT_OK) {
        err = fwt_agent_status_get(dev, &st);
    }
    if (err == FWT_OK) {
        err = fwt_agent_outcome_get(dev, &oc);
    }
    if (err != FWT_OK) {
        fwt_agent_close(dev);
        return fail(err);
    }
    const struct fwt_agent_config *cfg = fwt_agent_get_config(dev);
    json_t *slots = json_object();
    for (int i = 0; i < 2; i++) {
        json_t *s = json_pack("{s:s, s:s, s:o}", "path", cfg->slot_path[i], "state",
                              slot_state(&st, (enum fwt_agent_slot)i), "image",
                              peek_json(cfg->slot_path[i]));
        json_object_set_new(slots, i ? "b" : "a", s);
    }
    json_t *j = json_object();
    json_object_set_new(j, "ok", json_true());
    json_object_set_new(j, "device", json_string(cfg->dir));
    json_object_set_new(j, "hw_id", json_string(cfg->hw_id));
    json_object_set_new(j, "slots", slots);
    json_object_set_new(j, "confirmed", slot_json(st.confirmed));
    json_object_set_new(j, "trial", slot_json(st.trial));
    json_object_set_new(j, "tries_left", json_integer(st.tries_left));
    json_object_set_new(j, "booted", slot_json(st.booted));
    json_object_set_new(j, "booted_trial", json_boolean(st.booted_trial));
    json_object_set_new(j, "running", slot_json(st.running));
    json_object_set_new(j, "next_install", slot_json(st.inactive));
    json_object_set_new(j, "boot_count", json_integer(st.boot_count));
    json_object_set_new(j, "min_security_counter", json_integer(st.min_security_counter));
    json_object_set_new(j, "min_key_version", json_integer(st.min_key_version));
    json_object_set_new(j, "raise_pending", json_boolean(st.raise_pending));
    json_object_set_new(j, "time_floor", json_integer((json_int_t)st.time_floor));
    json_object_set_new(j, "trust_keys", json_integer((json_int_t)cfg->n_keys));
    json_object_set_new(j, "trust_roots", json_integer((json_int_t)cfg->n_roots));
    json_object_set_new(j, "threshold", json_integer(cfg->threshold));
    json_object_set_new(j, "tries", json_integer(cfg->tries));
    json_object_set_new(j, "readback", json_string(cfg->readback_full ? "full" : "metadata"));
    json_object_set_new(j, "repo", cfg->repo_url ? json_string(cfg->repo_url) : json_null());
    json_object_set_new(j, "measured_boot", pcr_json(cfg->dir));
    /* Without a TPM the measurements live in the device's own files: lower assurance. */
    json_object_set_new(j, "measurement_assurance", json_string(cfg->tpm ? "tpm" : "file"));
    json_object_set_new(j, "tpm", cfg->tpm ? json_string(cfg->tpm) : json_null());
    json_t *ocj = outcome_json(&oc);
    json_object_update(j, ocj);
    json_decref(ocj);
    /* the fleet: enrollment and the power-fail-safe counters (status opens read-only) */
    struct fwt_agent_fleet_state fs;
    if (cfg->fleet_server && fwt_agent_fleet_state_get(dev, &fs) == FWT_OK) {
        json_object_set_new(j, "fleet", json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:i, s:i}", "server",
                                                  cfg->fleet_server, "device_id", cfg->fleet_device_id, "counter",
                                                  (json_int_t)fs.counter,
                                                  "release_counter", (json_int_t)fs.release_counter,
                                                  "director_version", (json_int_t)fs.director_version,
                                                  "last_target", fs.target, "checkin_interval",
                                                  (int)cfg->fleet_interval, "jitter", (int)cfg->fleet_jitter));
    } else {
        json_object_set_new(j, "fleet", json_null());
    }
    if (g_json) {
        fwt_agent_close(dev);
        fwt_cli_json_print(j);
        return 0;
    }
    printf("device      %s (hardware id %s)\n", json_string_value(json_object_get(j, "device")),
           json_string_value(json_object_get(j, "hw_id")));
    for (int i = 0; i < 2; i++) {
        json_t *s = json_object_get(slots, i ? "b" : "a");
        json_t *im = json_object_get(s, "image");
        printf("slot %s      %-9s %s", i ? "b" : "a",
               json_string_value(json_object_get(s, "state")),
               json_string_value(json_object_get(s, "path")));
        if (json_is_object(im)) {
            json_t *sc = json_object_get(im, "security_counter");
            printf("  version %s", json_string_value(json_object_get(im, "version")));
            if (json_is_integer(sc)) {
                printf(", security counter %lld", (long long)json_integer_value(sc));
            }
        } else {
            printf("  (no image)");
        }
        printf("\n");
    }
    printf("boot        running %s, confirmed %s, trial %s", slot_name(st.running) ? slot_name(st.running) : "-",
           slot_name(st.confirmed) ? slot_name(st.confirmed) : "-",
           slot_name(st.trial) ? slot_name(st.trial) : "-");
    if (st.trial != FWT_SLOT_NONE) {
        printf(" (%u tries left%s)", (unsigned)st.tries_left,
               st.booted_trial ? ", booted: confirm it" : "");
    }
    printf(", %u boots\n", (unsigned)st.boot_count);
    printf("rollback    minimum security counter %u, minimum key version %u%s\n",
           (unsigned)st.min_security_counter, (unsigned)st.min_key_version,
           st.raise_pending ? " (raise pending)" : "");
    printf("time floor  %llu (certificate expiry is never judged before it)\n",
           (unsigned long long)st.time_floor);
    if (cfg->tpm) {
        printf("measuring   into the TPM %s (PCRs 8, 9, 11; remote attestation)\n", cfg->tpm);
    } else {
        printf("measuring   file register only (lower assurance: no TPM configured)\n");
    }
    printf("trust       %zu key(s), %zu root(s), threshold %u%s\n", cfg->n_keys, cfg->n_roots,
           (unsigned)cfg->threshold,
           cfg->n_keys + cfg->n_roots == 0 ? "  NO TRUST ANCHOR: every image is refused" : "");
    if (oc.last != FWT_OUTCOME_NONE || oc.reason[0]) {
        char v[48] = "unknown version";
        if (oc.img.digest_len) {
            fwt_version_format(&oc.img.version, v, sizeof(v));
        }
        printf("last update %s: %s in slot %s%s%s\n", fwt_agent_outcome_name(oc.last), v,
               slot_name(oc.slot) ? slot_name(oc.slot) : "-", oc.reason[0] ? ": " : "", oc.reason);
    }
    for (size_t i = 0; i < oc.n_failed; i++) {
        char v[48];
        fwt_version_format(&oc.failed[i].version, v, sizeof(v));
        printf("failed      %s (rolled back here: not offered again)\n", v);
    }
    json_t *fl = json_object_get(j, "fleet");
    if (json_is_object(fl)) {
        printf("fleet       %s at %s; release counter %lld, director version %lld, counter %lld\n",
               json_string_value(json_object_get(fl, "device_id")), json_string_value(json_object_get(fl, "server")),
               (long long)json_integer_value(json_object_get(fl, "release_counter")),
               (long long)json_integer_value(json_object_get(fl, "director_version")),
               (long long)json_integer_value(json_object_get(fl, "counter")));
    }
    json_decref(j);
    fwt_agent_close(dev);
    return 0;
}

/* ---- verify-slots ---- */

static const char k_verify_slots_desc[] =
    "Re-verify both slots now with the verifier core (trust anchors, hardware\n"
    "id, anti-rollback minimums) and compare each image with the one the agent\n"
    "installed there: a slot whose contents changed is reported as tampered.\n"
    "An empty slot that boot control does not use is fine.\n\n"
    "Exit: 0 every slot in use verifies; otherwise the first failure: 21 digest\n"
    "(tampered), 22 signature, 24 unknown key, 26 counter, 8 missing image...";

static int cmd_verify_slots(const struct fwt_cli_args *a)
{
    (void)a;
    fwt_agent *dev = NULL;
    fwt_err err = fwt_agent_open_ex(g_device, FWT_AGENT_OPEN_READONLY, &dev);
    struct fwt_agent_status st;
    if (err == FWT_OK) {
        err = fwt_agent_status_get(dev, &st);
    }
    if (err != FWT_OK) {
        fwt_agent_close(dev);
        return fail(err);
    }
    const struct fwt_agent_config *vcfg = fwt_agent_get_config(dev);
    if (vcfg->n_keys + vcfg->n_roots == 0) {
        err = fwt_fail(FWT_E_NO_TRUST, "device %s has no trust anchor ([trust] key or root in "
                       "device.ini): nothing can be verified", vcfg->dir);
        fwt_agent_close(dev);
        return fail(err);
    }
    fwt_err first = FWT_OK;
    char first_detail[1024] = "";
    json_t *slots = json_object();
    for (int i = 0; i < 2; i++) {
        enum fwt_agent_slot s = (enum fwt_agent_slot)i;
        int in_use = st.confirmed == s || st.trial == s;
        struct fwt_agent_image img;
        fwt_err e = fwt_agent_verify_slot(dev, s, &img);
        char detail[1024];
        snprintf(detail, sizeof(detail), "%s", fwt_detail());
        const char *verdict;
        if (e == FWT_OK) {
            verdict = "valid";
        } else if (e == FWT_E_NOT_FOUND && !in_use) {
            verdict = "empty";
        } else {
            verdict = "invalid";
        }
        /* Compare with the image recorded at install time. */
        if (e == FWT_OK) {
            fwt_err m = fwt_agent_slot_matches(dev, s, &img);
            if (m == FWT_E_DIGEST || (m != FWT_OK && in_use)) {
                e = FWT_E_DIGEST;
                snprintf(detail, sizeof(detail), "%s", fwt_detail());
                verdict = "tampered";
            }
        }
        json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "path",
                              fwt_agent_get_config(dev)->slot_path[i], "state",
                              slot_state(&st, s), "verdict", verdict, "in_use", in_use);
        json_object_set_new(o, "result", json_string(fwt_err_name(e)));
        if (e == FWT_OK) {
            json_object_set_new(o, "image", image_json(&img));
        } else {
            json_object_set_new(o, "detail", json_string(detail));
        }
        json_object_set_new(slots, i ? "b" : "a", o);
        /* A slot in use must verify. A superseded image beside it may fall below the
         * raised minimums (26, 30), but must not be changed or broken. */
        int counts = in_use ? e != FWT_OK
                            : (st.recorded[i] && !st.bad[i] && e != FWT_OK &&
                               e != FWT_E_COUNTER && e != FWT_E_KEY_VERSION);
        if (counts && first == FWT_OK) {
            first = e;
            snprintf(first_detail, sizeof(first_detail), "%s", detail);
        }
        if (!g_json) {
            if (e == FWT_OK) {
                char v[48];
                fwt_version_format(&img.version, v, sizeof(v));
                printf("slot %c: valid, version %s, security counter %u (%s)\n", 'a' + i, v,
                       (unsigned)img.security_counter, slot_state(&st, s));
            } else {
                printf("slot %c: %s (%s)%s%s\n", 'a' + i, verdict, fwt_err_name(e),
                       detail[0] ? ": " : "", detail);
            }
        }
    }
    fwt_agent_close(dev);
    if (g_json) {
        json_t *j = json_pack("{s:b, s:o, s:s}", "ok", first == FWT_OK, "slots", slots, "result",
                              fwt_err_name(first));
        json_object_set_new(j, "exit_code", json_integer(fwt_cli_exit_code(first)));
        fwt_cli_json_print(j);
    } else {
        json_decref(slots);
    }
    if (first != FWT_OK) {
        fwt_fail(first, "%s", first_detail);
        return fwt_cli_error(g_name, first);
    }
    return 0;
}

/* ---- log verify ---- */

static const char k_log_verify_desc[] =
    "Check the audit log (DIR/audit.log): every line is a JSON entry carrying the\n"
    "SHA-256 of the line before it and the next sequence number, so a changed,\n"
    "removed or inserted entry breaks the chain; and its head against the anchor\n"
    "in the power-fail-safe device state (DIR/audithead.0/.1: entry count and last\n"
    "entry's hash, written after each entry), so entries cut off the end, a\n"
    "rewritten last entry or junk appended are caught too. One entry past the\n"
    "anchor is a power cut between the entry and its anchor: accepted, and said.\n"
    "Also replays the measured boot event log (DIR/eventlog.jsonl) of the last boot\n"
    "and compares it with the register in DIR/pcr.\n\n"
    "Exit: 0 intact (also with one unanchored entry); 2 intact, but the last line was\n"
    "cut short by a power cut (recoverable: ignored, dropped by the next entry);\n"
    "10 locked; 11 tampering: entries removed, changed, inserted or added, junk at\n"
    "the end, anchor missing or unreadable; or the measurements disagree (named).";

static int cmd_log_verify(const struct fwt_cli_args *a)
{
    (void)a;
    fwt_agent *dev = NULL;
    uint64_t n = 0;
    int torn = 0, unanchored = 0;
    uint32_t boot = 0;
    uint8_t pcr[32];
    fwt_err err = fwt_agent_open_ex(g_device, FWT_AGENT_OPEN_READONLY, &dev);
    if (err == FWT_OK) {
        err = fwt_agent_log_verify_anchored(dev, &n, &torn, &unanchored);
    }
    if (err == FWT_OK) {
        err = fwt_agent_measurements_verify(dev, &boot, pcr);
    }
    fwt_agent_close(dev);
    if (err != FWT_OK) {
        return fail(err);
    }
    if (torn) {
        /* Not tampering, but not a clean log either: its own exit status. */
        err = fwt_fail(FWT_E_IO, "the audit log's last line was cut short by a power cut: %llu "
                       "entries intact and anchored; the torn line is ignored and dropped by the "
                       "next entry (recoverable, not tampering)", (unsigned long long)n);
        if (g_json) {
            json_t *j = fwt_cli_json_error(err);
            json_object_set_new(j, "entries", json_integer((json_int_t)n));
            json_object_set_new(j, "torn_tail", json_true());
            fwt_cli_json_print(j);
        }
        return fwt_cli_error(g_name, err);
    }
    if (g_json) {
        json_t *mb = boot ? json_pack("{s:i, s:o}", "boot", (int)boot, "pcr0", hex_json(pcr, 32))
                          : json_null();
        fwt_cli_json_print(json_pack("{s:b, s:I, s:b, s:b, s:o}", "ok", 1, "entries",
                                     (json_int_t)n, "torn_tail", 0, "unanchored_entry",
                                     unanchored, "measured_boot", mb));
    } else {
        printf("audit log intact: %llu entries, hash chain verified, head anchored%s\n",
               (unsigned long long)n,
               unanchored ? " (the last entry is not anchored yet: the power failed between "
                            "it and its anchor; the next entry anchors it)" : "");
        if (boot) {
            printf("measured boot: the event log replays to the register of boot %u\n",
                   (unsigned)boot);
        }
    }
    return 0;
}

/* ---- log show ---- */

static uint64_t g_last;
static const struct fwt_opt k_log_show_opts[] = {
    FWT_OPT_U64_(0, "last", "N", &g_last, 1, UINT32_MAX, "only the last N entries"),
    FWT_OPT_END_,
};

static const char k_log_show_desc[] =
    "Print the audit log (DIR/audit.log), oldest first: sequence number, time (UTC,\n"
    "ISO 8601), event and detail. Each entry is checked against the hash chain and\n"
    "the anchor as 'log verify' checks them: a damaged log shows the intact entries\n"
    "before the damage, then fails naming it. --json prints {\"ok\", \"entries\"}, the\n"
    "entries exactly as stored (time in seconds since 1970).\n\n"
    "Exit: 0; 8 not a device; 10 locked; 11 the log is damaged (named).";

struct show_ctx {
    uint64_t from; /* first sequence number to show */
    json_t *entries;
};

static int show_entry(void *ctx, const struct fwt_agent_log_entry *e)
{
    struct show_ctx *c = ctx;
    if (e->seq < c->from) {
        return 0;
    }
    if (c->entries) {
        json_t *o = json_loads(e->line, JSON_REJECT_DUPLICATES, NULL);
        json_array_append_new(c->entries, o ? o : json_null());
        return 0;
    }
    char when[32] = "?";
    time_t t = (time_t)e->time;
    struct tm tm;
    if ((uint64_t)t == e->time && gmtime_r(&t, &tm)) {
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    printf("%6llu  %s  %-12s %s\n", (unsigned long long)e->seq, when, e->event, e->detail);
    return 0;
}

static int cmd_log_show(const struct fwt_cli_args *a)
{
    (void)a;
    fwt_agent *dev = NULL;
    fwt_err err = fwt_agent_open_ex(g_device, FWT_AGENT_OPEN_READONLY, &dev);
    if (err != FWT_OK) {
        return fail(err);
    }
    struct show_ctx c = {1, g_json ? json_array() : NULL};
    if (g_last) {
        uint64_t n = 0; /* the intact entries: the last N of them */
        struct show_ctx none = {UINT64_MAX, NULL};
        if (fwt_agent_log_read(dev, show_entry, &none, &n) != FWT_OK) {
            fwt_detail_clear(); /* reported by the second walk */
        }
        c.from = n > g_last ? n - g_last + 1 : 1;
    }
    if (!g_json) {
        printf("%6s  %-20s  %-12s %s\n", "seq", "time (UTC)", "event", "detail");
    }
    err = fwt_agent_log_read(dev, show_entry, &c, NULL);
    fwt_agent_close(dev);
    if (err != FWT_OK) {
        if (c.entries) {
            json_t *j = fwt_cli_json_error(err);
            json_object_set_new(j, "entries", c.entries);
            fwt_cli_json_print(j);
        }
        return fwt_cli_error(g_name, err);
    }
    if (c.entries) {
        fwt_cli_json_print(json_pack("{s:b, s:o}", "ok", 1, "entries", c.entries));
    }
    return 0;
}

/* ---- update (update_cmd.c; the update: src/agent/update.c) ---- */

static int cmd_update(const struct fwt_cli_args *a)
{
    (void)a;
    fwt_agent *dev = NULL;
    fwt_err err = fwt_agent_open(g_device, &dev);
    if (err != FWT_OK) {
        return fail(err);
    }
    int rc = agent_update_run(dev, g_name, g_json);
    fwt_agent_close(dev);
    return rc;
}

/* ---- enroll, checkin (fleet_cmd.c; the protocol: src/agent/fleet_client.c) ---- */

static int cmd_enroll(const struct fwt_cli_args *a)
{
    (void)a;
    return agent_enroll_run(g_device, g_name, g_json);
}

static int cmd_checkin(const struct fwt_cli_args *a)
{
    (void)a;
    return agent_checkin_run(g_device, g_name, g_json);
}

/* ---- attest request / activate / quote (docs/attestation.md) ---- */

static const char *g_att_out, *g_att_nonce, *g_att_label;
static const struct fwt_opt k_att_out_opts[] = {
    FWT_OPT_STR_('o', "output", "FILE", &g_att_out, "write the document to FILE (default: stdout)"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_att_quote_opts[] = {
    FWT_OPT_STR_(0, "nonce", "HEX", &g_att_nonce, "the verifier's nonce (1 to 64 bytes, hex; required)"),
    FWT_OPT_STR_(0, "ak-label", "LABEL", &g_att_label, "quote with the AK of this label (default: fwtrust-ak)"),
    FWT_OPT_STR_('o', "output", "FILE", &g_att_out, "write the evidence to FILE (default: stdout)"),
    FWT_OPT_END_,
};

static const char k_att_request_desc[] =
    "Enrollment, step 1: print the TPM's EK certificate (NV index 0x01c00002), the EK's\n"
    "public area and the attestation key's (AK: a restricted ECDSA P-256 key in the\n"
    "endorsement hierarchy, re-created from its template) as a JSON document for the\n"
    "verifier ('fwtrust attest challenge'). The TPM is [device] tpm in device.ini.\n\n"
    "Exit: 0; 1 no TPM configured; 2 the TPM cannot be reached or failed; 8 no EK\n"
    "certificate in the TPM.";
static const char k_att_activate_desc[] =
    "Enrollment, step 2: TPM2_ActivateCredential of the AK with the EK on the verifier's\n"
    "challenge (CHALLENGE: 'fwtrust attest challenge' output); prints the recovered\n"
    "credential for 'fwtrust attest activate'. Only the TPM that holds both the\n"
    "certified EK and this AK can recover it.\n\n"
    "Exit: 0; 1 no TPM configured; 2 TPM failure; 20 not a challenge document;\n"
    "22 the TPM refused the credential (made for another EK or AK).";
static const char k_att_quote_desc[] =
    "A quote for the verifier: TPM2_Quote by the AK over PCRs 8, 9 and 11 (SHA-256 bank)\n"
    "with --nonce as qualifying data, the PCR values and the TPM event log\n"
    "(DIR/tpm-eventlog.bin, written by fwtrust-boot), as a JSON evidence document for\n"
    "'fwtrust attest verify'.\n\n"
    "Exit: 0; 1 usage (bad nonce) or no TPM configured; 2 TPM failure; 11 no event log.";

static int att_output(const char *doc)
{
    size_t n = strlen(doc);
    if (g_att_out) {
        fwt_err err = fwt_write_file_atomic(g_att_out, doc, n, 0644);
        return err == FWT_OK ? 0 : fail(err);
    }
    printf("%s\n", doc);
    return 0;
}

static int cmd_attest_request(const struct fwt_cli_args *a)
{
    (void)a;
    fwt_agent *dev = NULL;
    char *doc = NULL;
    fwt_err err = fwt_agent_open_ex(g_device, FWT_AGENT_OPEN_READONLY, &dev);
    if (err == FWT_OK) {
        err = fwt_agent_attest_request(dev, &doc);
    }
    fwt_agent_close(dev);
    int rc = err == FWT_OK ? att_output(doc) : fail(err);
    free(doc);
    return rc;
}

static int cmd_attest_activate(const struct fwt_cli_args *a)
{
    fwt_agent *dev = NULL;
    uint8_t *ch = NULL;
    size_t cl = 0;
    char *doc = NULL;
    fwt_err err = fwt_read_file(a->argv[0], 1U << 16, &ch, &cl);
    if (err == FWT_OK) {
        err = fwt_agent_open_ex(g_device, FWT_AGENT_OPEN_READONLY, &dev);
    }
    if (err == FWT_OK) {
        err = fwt_agent_attest_activate(dev, (const char *)ch, cl, &doc);
    }
    fwt_agent_close(dev);
    free(ch);
    int rc = err == FWT_OK ? att_output(doc) : fail(err);
    free(doc);
    return rc;
}

static int cmd_attest_quote(const struct fwt_cli_args *a)
{
    (void)a;
    uint8_t nonce[64];
    size_t hl = g_att_nonce ? strlen(g_att_nonce) : 0;
    if (!g_att_nonce || hl == 0 || hl % 2 || hl / 2 > sizeof(nonce) ||
        fwt_hex_decode(g_att_nonce, nonce, hl / 2) != FWT_OK) {
        return fwt_cli_usage_error(g_name, "--nonce HEX: 1 to 64 bytes in hex is required");
    }
    fwt_agent *dev = NULL;
    char *doc = NULL;
    fwt_err err = fwt_agent_open_ex(g_device, FWT_AGENT_OPEN_READONLY, &dev);
    if (err == FWT_OK) {
        err = fwt_agent_attest_quote(dev, nonce, hl / 2, g_att_label, &doc);
    }
    fwt_agent_close(dev);
    int rc = err == FWT_OK ? att_output(doc) : fail(err);
    free(doc);
    return rc;
}

/* ---- the command table ---- */

static const struct fwt_cli_cmd k_cmds[] = {
    {"init", "", 0, 0, "create a device: --hw-id, --slot-a, --slot-b, trust anchors, repository",
     k_init_desc, k_init_opts},
    {"install", "FILE|-", 1, 1, "install a signed image (FILE, or - for standard input)", k_install_desc,
     k_install_opts},
    {"update", "", 0, 0, "fetch and install the newest image from the TUF repository", AGENT_UPDATE_DESC,
     k_agent_update_opts},
    {"confirm", "", 0, 0, "the trial image booted well: make it the confirmed image", k_confirm_desc, NULL},
    {"rollback", "", 0, 0, "cancel a trial, or go back to the image in the other slot", k_rollback_desc, NULL},
    {"status", "", 0, 0, "slots, boot control, anti-rollback minimums", k_status_desc, NULL},
    {"verify-slots", "", 0, 0, "re-verify both slots now and report tampering", k_verify_slots_desc, NULL},
    {"log verify", "", 0, 0, "check the audit log's hash chain and the measured boot records", k_log_verify_desc,
     NULL},
    {"log show", "", 0, 0, "print the audit log with readable times (--json: as stored)", k_log_show_desc,
     k_log_show_opts},
    {"enroll", "", 0, 0, "enroll in a fleet server: device key, certificate, director root", k_enroll_desc,
     k_enroll_opts},
    {"checkin", "", 0, 0, "send a signed device manifest to the fleet server", k_checkin_desc, k_checkin_opts},
    {"attest request", "", 0, 0, "enrollment: the TPM's EK certificate and attestation key", k_att_request_desc,
     k_att_out_opts},
    {"attest activate", "CHALLENGE", 1, 1, "enrollment: recover the verifier's credential with the TPM",
     k_att_activate_desc, k_att_out_opts},
    {"attest quote", "", 0, 0, "a TPM quote with the verifier's nonce, PCRs and event log", k_att_quote_desc,
     k_att_quote_opts},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};
static int (*const k_run[])(const struct fwt_cli_args *) = {
    cmd_init, cmd_install, cmd_update, cmd_confirm, cmd_rollback, cmd_status, cmd_verify_slots, cmd_log_verify,
    cmd_log_show,
    cmd_enroll, cmd_checkin,
    cmd_attest_request, cmd_attest_activate, cmd_attest_quote,
};
_Static_assert(sizeof(k_run) / sizeof(k_run[0]) + 1 == sizeof(k_cmds) / sizeof(k_cmds[0]),
               "one handler per fwtrust-agent command");

static const struct fwt_cli_prog k_cli = {
    .name = "fwtrust-agent",
    .description = "The device agent: installs signed images into the inactive A/B slot, confirms or\n"
                   "rolls back after a boot, and reports and checks the device state. --device DIR\n"
                   "is required by every command.",
    .opts = k_global,
    .cmds = k_cmds,
    .epilog = "Exit status: 0 on success, otherwise the error number (docs/exit-codes.md), e.g.\n"
              "1 usage, 2 I/O, 8 not found, 10 device locked by another agent, 11 state corrupt,\n"
              "20-33 image refused (21 digest, 22 signature, 24 unknown key, 25 hardware id,\n"
              "26 security counter, 30 key version, 31 no trust anchor), 51 nothing to do.",
};

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "help")) {
        fwt_cli_help(&k_cli, NULL, stdout);
        return 0;
    }
    struct fwt_cli_args args;
    int rc = fwt_cli_parse(&k_cli, argc, argv, &args);
    if (rc >= 0) {
        return rc;
    }
    g_name = args.name;
    if (!g_device) {
        return fwt_cli_usage_error(g_name, "--device DIR is required");
    }
    return k_run[args.cmd - k_cmds](&args);
}
