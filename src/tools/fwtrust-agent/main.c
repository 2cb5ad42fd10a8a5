/*
 * fwtrust-agent: the device agent (docs/agent.md).
 *
 *   fwtrust-agent --device DIR [--json] COMMAND [ARGS]
 *
 * Exit status: 0 on success, otherwise the fwt_err number (docs/exit-codes.md).
 */
#include "cli.h"
#include "update_cmd.h"

#include <fwtrust/fwt_agent.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const k_prog = "fwtrust-agent";
static int g_json;
static const char *g_device;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fwtrust-agent --device DIR [--json] COMMAND [ARGS]\n\n"
            "The device agent: installs signed images into the inactive A/B slot, confirms or\n"
            "rolls back after a boot, and reports and checks the device state.\n\n"
            "Commands:\n"
            "  init          create a device: --hw-id ID --slot-a PATH --slot-b PATH\n"
            "                --trust-key PUB... [--trust-root PUB...] [--tuf-root F --repo URL]\n"
            "  install FILE  install a signed image (FILE, or - for standard input)\n"
            "  install-set [ID=]FILE...  install a set of images of a multi-image device,\n"
            "                what each depends on first ([images] in device.ini)\n"
            "  update        fetch and install the newest image from the TUF repository\n"
            "  confirm       the trial image booted well: make it the confirmed image\n"
            "  rollback      cancel a trial, or go back to the image in the other slot\n"
            "  status        slots, boot control, anti-rollback minimums\n"
            "  verify-slots  re-verify both slots now and report tampering\n"
            "  log verify    check the audit log's hash chain\n\n"
            "Options:\n"
            "  --device DIR  the device directory (required)\n"
            "  --json        print the result as JSON\n"
            "  -h, --help    this text; 'fwtrust-agent --device DIR COMMAND --help' for a command\n\n"
            "Exit status: 0 on success, otherwise the error number (docs/exit-codes.md), e.g.\n"
            "1 usage, 2 I/O, 8 not found, 10 device locked by another agent, 11 state corrupt,\n"
            "20-33 image refused (21 digest, 22 signature, 24 unknown key, 25 hardware id,\n"
            "26 security counter, 30 key version, 31 no trust anchor), 51 nothing to do.\n");
}

static int fail(fwt_err err)
{
    if (g_json) {
        fwt_cli_json_print(fwt_cli_json_error(err));
    }
    return fwt_cli_error(k_prog, err);
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

enum {
    O_HW_ID = 0x100, O_SLOT_A, O_SLOT_B, O_SLOT_SIZE, O_KEY, O_ROOT, O_THRESHOLD, O_TRIES,
    O_MIN_SC, O_MIN_KV, O_TUF_ROOT, O_REPO, O_CA, O_CERT, O_CKEY, O_PIN, O_ALLOW_OLDER, O_READBACK,
    O_TARGETS
};

/* --readback metadata|full: 1 for full, 0 for metadata, -1 otherwise. */
static int parse_readback(const char *v)
{
    return !strcmp(v, "full") ? 1 : !strcmp(v, "metadata") ? 0 : -1;
}

static void usage_init(FILE *out)
{
    fprintf(out,
            "usage: fwtrust-agent --device DIR init --hw-id ID --slot-a PATH --slot-b PATH\n"
            "                     --trust-key PUB [--trust-key PUB ...] [options]\n\n"
            "Create the device directory DIR. Slots are regular files (created when absent) or\n"
            "block devices. Trust anchors are copied into DIR/keys as public keys. A slot that\n"
            "already holds a valid image (factory image) becomes the confirmed slot. A device\n"
            "without any --trust-key or --trust-root refuses every image (exit 31).\n\n"
            "  --hw-id ID                  hardware id images must carry (1-64 bytes)\n"
            "  --slot-a PATH, --slot-b PATH  the two slots\n"
            "  --slot-size N               bytes an image may use in a slot (default: no limit\n"
            "                              for files, the device size for block devices)\n"
            "  --trust-key PUB             trusted image signing key (PEM); up to 8\n"
            "  --trust-root PUB            trusted certificate root (boot-key certificates); up to 8\n"
            "  --threshold K               valid signatures from K distinct trust anchors (each\n"
            "                              --trust-key, each --trust-root: a root counts once\n"
            "                              however many keys it certified) (default 1)\n"
            "  --tries N                   boots a trial image gets before it rolls back (default 3)\n"
            "  --readback metadata|full    what every install reads back after its fsync: the\n"
            "                              header and TLV areas (default), or the whole slot from\n"
            "                              the medium, hashed again (flash that may fail writes)\n"
            "  --min-security-counter N    initial anti-rollback minimum (default 0)\n"
            "  --min-key-version N         initial minimum certificate key version (default 0)\n"
            "  --tuf-root FILE             trusted TUF root.json for 'update' (copied in)\n"
            "  --repo URL                  TUF repository base URL for 'update'\n"
            "  --ca FILE                   TLS: CA bundle or the pinned server certificate\n"
            "  --client-cert FILE          TLS: client certificate (mutual TLS)\n"
            "  --client-key FILE           TLS: its private key (copied in, mode 0600)\n"
            "  --pinned-pubkey PIN         TLS: curl public key pin (sha256//BASE64)\n"
            "  --targets PATTERN           this device's target names for 'update', a TUF path\n"
            "                              pattern such as board/*: only delegated roles that can\n"
            "                              hold such names are loaded (default: every target)\n\n"
            "Exit: 0; 1 usage; 2 I/O or DIR already a device; 7 key unusable; 8 key not found;\n"
            "32 a published sample key as trust anchor.\n");
}

static int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"hw-id", required_argument, NULL, O_HW_ID},
        {"slot-a", required_argument, NULL, O_SLOT_A},
        {"slot-b", required_argument, NULL, O_SLOT_B},
        {"slot-size", required_argument, NULL, O_SLOT_SIZE},
        {"trust-key", required_argument, NULL, O_KEY},
        {"trust-root", required_argument, NULL, O_ROOT},
        {"threshold", required_argument, NULL, O_THRESHOLD},
        {"tries", required_argument, NULL, O_TRIES},
        {"readback", required_argument, NULL, O_READBACK},
        {"min-security-counter", required_argument, NULL, O_MIN_SC},
        {"min-key-version", required_argument, NULL, O_MIN_KV},
        {"tuf-root", required_argument, NULL, O_TUF_ROOT},
        {"repo", required_argument, NULL, O_REPO},
        {"ca", required_argument, NULL, O_CA},
        {"client-cert", required_argument, NULL, O_CERT},
        {"client-key", required_argument, NULL, O_CKEY},
        {"pinned-pubkey", required_argument, NULL, O_PIN},
        {"targets", required_argument, NULL, O_TARGETS},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct fwt_agent_init_opts o;
    memset(&o, 0, sizeof(o));
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        uint64_t v64;
        switch (c) {
        case O_HW_ID:
            o.hw_id = optarg;
            break;
        case O_SLOT_A:
            o.slot_path[0] = optarg;
            break;
        case O_SLOT_B:
            o.slot_path[1] = optarg;
            break;
        case O_SLOT_SIZE:
            if (fwt_parse_u64(optarg, UINT32_MAX, &v64) != FWT_OK) {
                return fwt_cli_usage_error(k_prog, "--slot-size: a number up to 4 GiB - 1");
            }
            o.slot_size = v64;
            break;
        case O_READBACK:
            if ((o.readback_full = parse_readback(optarg)) < 0) {
                return fwt_cli_usage_error(k_prog, "--readback: 'metadata' or 'full'");
            }
            break;
        case O_KEY:
            if (o.n_keys == FWT_AGENT_MAX_ANCHORS) {
                return fwt_cli_usage_error(k_prog, "at most %u --trust-key",
                                           FWT_AGENT_MAX_ANCHORS);
            }
            o.keys[o.n_keys++] = optarg;
            break;
        case O_ROOT:
            if (o.n_roots == FWT_AGENT_MAX_ANCHORS) {
                return fwt_cli_usage_error(k_prog, "at most %u --trust-root",
                                           FWT_AGENT_MAX_ANCHORS);
            }
            o.roots[o.n_roots++] = optarg;
            break;
        case O_THRESHOLD:
            if (fwt_parse_u32(optarg, &o.threshold) != FWT_OK || o.threshold == 0) {
                return fwt_cli_usage_error(k_prog, "--threshold: a number of at least 1");
            }
            break;
        case O_TRIES:
            if (fwt_parse_u32(optarg, &o.tries) != FWT_OK || o.tries == 0 ||
                o.tries > FWT_AGENT_MAX_TRIES) {
                return fwt_cli_usage_error(k_prog, "--tries: 1 to %u", FWT_AGENT_MAX_TRIES);
            }
            break;
        case O_MIN_SC:
            if (fwt_parse_u32(optarg, &o.min_security_counter) != FWT_OK) {
                return fwt_cli_usage_error(k_prog, "--min-security-counter: not a number");
            }
            break;
        case O_MIN_KV:
            if (fwt_parse_u32(optarg, &o.min_key_version) != FWT_OK) {
                return fwt_cli_usage_error(k_prog, "--min-key-version: not a number");
            }
            break;
        case O_TUF_ROOT:
            o.tuf_root = optarg;
            break;
        case O_REPO:
            o.repo_url = optarg;
            break;
        case O_CA:
            o.tls_ca = optarg;
            break;
        case O_CERT:
            o.tls_client_cert = optarg;
            break;
        case O_CKEY:
            o.tls_client_key = optarg;
            break;
        case O_PIN:
            o.tls_pinned_pubkey = optarg;
            break;
        case O_TARGETS:
            o.targets = optarg;
            break;
        case 'j':
            g_json = 1;
            break;
        case 'h':
            usage_init(stdout);
            return 0;
        default:
            return fwt_cli_usage_error(k_prog, "init: invalid option");
        }
    }
    if (optind != argc) {
        return fwt_cli_usage_error(k_prog, "init takes no operands ('%s')", argv[optind]);
    }
    if (!o.hw_id || !o.slot_path[0] || !o.slot_path[1]) {
        return fwt_cli_usage_error(k_prog, "init needs --hw-id, --slot-a and --slot-b");
    }
    if (o.threshold > o.n_keys + o.n_roots && o.n_keys + o.n_roots > 0) {
        return fwt_cli_usage_error(k_prog, "--threshold %u is above the %zu trust anchor(s)",
                                   (unsigned)o.threshold, o.n_keys + o.n_roots);
    }
    fwt_err err = fwt_agent_init(g_device, &o);
    if (err != FWT_OK) {
        return fail(err);
    }
    if (o.n_keys == 0 && o.n_roots == 0) {
        fprintf(stderr, "%s: WARNING: device %s has NO trust anchor: it will refuse every image "
                "until a [trust] key or root is configured\n", k_prog, g_device);
    }
    if (o.repo_url && !o.targets) {
        fprintf(stderr, "%s: note: no --targets PATTERN: 'update' must load every delegated role of "
                "the repository, so one that fails (expired, badly signed) stops this device's "
                "updates; name the device's targets ([update] targets = board/*) to load only "
                "the roles that can hold them\n", k_prog);
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

static void usage_install(FILE *out)
{
    fprintf(out,
            "usage: fwtrust-agent --device DIR install [--allow-older] [--readback full] [--json]\n"
            "                     FILE|-\n\n"
            "Install a signed image into the inactive slot: the source is read once and written\n"
            "while hashed (memory does not grow with the image), fsync'ed, its header and TLV\n"
            "areas read back and compared, verified by the verifier core (signatures, trust\n"
            "anchors, hardware id, security counter and key version minimums) with the digest\n"
            "the stream computed, and only then marked for a trial boot. The running slot is\n"
            "never touched. '-' reads standard input.\n\n"
            "  --allow-older    accept a version older than the running one (the security\n"
            "                   counter minimum still applies)\n"
            "  --readback full  read the whole slot back from the medium and hash it again\n"
            "                   (the device's 'readback = full' does this for every install)\n"
            "  --json           print the installed image as JSON\n\n"
            "Exit: 0 installed; 1 usage; 2 I/O (or the source changed while read, or the slot\n"
            "read back differs); 5 a verifier result its re-check does not confirm (a fault);\n"
            "8 FILE not found; 10 locked; 11 running on trial (confirm first); 20-30 image\n"
            "refused; 31 no trust anchor; 33 larger than the slot; 51 older than the running\n"
            "version.\n");
}

static int cmd_install(int argc, char **argv)
{
    static const struct option opts[] = {{"allow-older", no_argument, NULL, O_ALLOW_OLDER},
                                         {"readback", required_argument, NULL, O_READBACK},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    unsigned flags = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_ALLOW_OLDER:
            flags |= FWT_AGENT_INSTALL_ALLOW_OLDER;
            break;
        case O_READBACK:
            switch (parse_readback(optarg)) {
            case 1:
                flags |= FWT_AGENT_INSTALL_READBACK_FULL;
                break;
            case 0:
                break; /* the default; a device set to full stays full */
            default:
                return fwt_cli_usage_error(k_prog, "--readback: 'metadata' or 'full'");
            }
            break;
        case 'j':
            g_json = 1;
            break;
        case 'h':
            usage_install(stdout);
            return 0;
        default:
            return fwt_cli_usage_error(k_prog, "install: invalid option");
        }
    }
    if (argc - optind != 1) {
        return fwt_cli_usage_error(k_prog, "install needs exactly one FILE (or -)");
    }
    const char *src = argv[optind];
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

/* ---- install-set ---- */

static int cmd_install_set(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j') {
            g_json = 1;
        } else if (c == 'h') {
            printf("usage: fwtrust-agent --device DIR install-set [--json] [ID=]FILE...\n\n"
                   "Install a set of images of a multi-image device: FILE for this device, ID=FILE\n"
                   "for image ID of device.ini [images]. The whole set is checked first (every\n"
                   "DEPENDENCY met by the set or by what the other device runs next), then each\n"
                   "image is installed, what it depends on first, so none goes on trial with an\n"
                   "unmet dependency.\n\n"
                   "Exit: 0 installed; 1 usage, an undeclared id or a cycle; 8 a dependency the set\n"
                   "cannot meet (nothing installed); otherwise as install (those before stay).\n");
            return 0;
        } else {
            return fwt_cli_usage_error(k_prog, "install-set: invalid option");
        }
    }
    int n = argc - optind;
    struct fwt_agent_set_item items[FWT_AGENT_MAX_IMAGES + 1];
    if (n < 1 || n > (int)(FWT_AGENT_MAX_IMAGES + 1)) {
        return fwt_cli_usage_error(k_prog, "install-set needs 1 to %u [ID=]FILE operands",
                                   FWT_AGENT_MAX_IMAGES + 1);
    }
    for (int i = 0; i < n; i++) {
        const char *a = argv[optind + i];
        const char *eq = strchr(a, '=');
        items[i].image_id = -1;
        items[i].path = a;
        if (eq && eq > a && (size_t)(eq - a) <= 3 && strspn(a, "0123456789") == (size_t)(eq - a)) {
            items[i].image_id = atoi(a);
            items[i].path = eq + 1;
            if (items[i].image_id > 255) {
                return fwt_cli_usage_error(k_prog, "install-set: image id %d above 255",
                                           items[i].image_id);
            }
        }
    }
    fwt_agent *dev = NULL;
    fwt_err err = fwt_agent_open(g_device, &dev);
    if (err != FWT_OK) {
        return fail(err);
    }
    size_t order[FWT_AGENT_MAX_IMAGES + 1], done = 0;
    err = fwt_agent_install_set(dev, items, (size_t)n, 0, order, &done);
    fwt_agent_close(dev);
    if (g_json) {
        json_t *j = err == FWT_OK ? json_pack("{s:b}", "ok", 1) : fwt_cli_json_error(err);
        json_t *arr = json_array();
        for (size_t k = 0; k < done; k++) {
            json_array_append_new(arr, json_pack("{s:i, s:s}", "image_id",
                                                 items[order[k]].image_id,
                                                 "file", items[order[k]].path));
        }
        json_object_set_new(j, "installed", arr);
        fwt_cli_json_print(j);
    } else {
        for (size_t k = 0; k < done; k++) {
            if (items[order[k]].image_id < 0) {
                printf("installed %s (this device), on trial\n", items[order[k]].path);
            } else {
                printf("installed %s (image %d), on trial\n", items[order[k]].path,
                       items[order[k]].image_id);
            }
        }
    }
    return err == FWT_OK ? 0 : fwt_cli_error(k_prog, err);
}

/* ---- confirm / rollback ---- */

static int simple_help(int argc, char **argv, const char *text)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            g_json = 1;
            break;
        case 'h':
            fputs(text, stdout);
            return 0;
        default:
            return fwt_cli_usage_error(k_prog, "%s: invalid option", argv[0]);
        }
    }
    if (optind != argc) {
        return fwt_cli_usage_error(k_prog, "%s takes no operands ('%s')", argv[0], argv[optind]);
    }
    return -1;
}

static int cmd_confirm(int argc, char **argv)
{
    int rc = simple_help(argc, argv,
                         "usage: fwtrust-agent --device DIR confirm [--json]\n\n"
                         "The trial image booted and is healthy: make its slot the confirmed one,\n"
                         "then raise the minimum security counter and key version to the image's\n"
                         "(from now on older images are refused).\n\n"
                         "Exit: 0; 10 locked; 11 state; 20-30 the trial slot no longer verifies;\n"
                         "51 nothing to confirm (no trial, or it has not booted yet).\n");
    if (rc >= 0) {
        return rc;
    }
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

static int cmd_rollback(int argc, char **argv)
{
    int rc = simple_help(argc, argv,
                         "usage: fwtrust-agent --device DIR rollback [--json]\n\n"
                         "With an image on trial: cancel the trial, the next boot takes the\n"
                         "confirmed slot. Otherwise: make the other slot's image the confirmed one,\n"
                         "if it still verifies under the current anti-rollback minimums.\n\n"
                         "Exit: 0; 10 locked; 20-30 the other slot does not verify (e.g. 26: its\n"
                         "security counter is below the minimum); 51 nothing to roll back to.\n");
    if (rc >= 0) {
        return rc;
    }
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

static int cmd_status(int argc, char **argv)
{
    int rc = simple_help(argc, argv,
                         "usage: fwtrust-agent --device DIR status [--json]\n\n"
                         "Show the slots (state, image version and counter from the image headers:\n"
                         "use verify-slots for a trust decision), boot control (confirmed, trial,\n"
                         "tries left, last boot), anti-rollback minimums, the last measured boot, and\n"
                         "how the last install ended (trial, confirmed, rolled_back or refused, with\n"
                         "the reason) with the releases that failed their trial here (not offered\n"
                         "again by 'update').\n"
                         "Takes a shared lock: it runs beside other readers, not during an install.\n\n"
                         "Exit: 0; 8 not a device; 10 locked; 11 state unreadable.\n");
    if (rc >= 0) {
        return rc;
    }
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
    json_t *ocj = outcome_json(&oc);
    json_object_update(j, ocj);
    json_decref(ocj);
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
    json_decref(j);
    fwt_agent_close(dev);
    return 0;
}

/* ---- verify-slots ---- */

static int cmd_verify_slots(int argc, char **argv)
{
    int rc = simple_help(argc, argv,
                         "usage: fwtrust-agent --device DIR verify-slots [--json]\n\n"
                         "Re-verify both slots now with the verifier core (trust anchors, hardware\n"
                         "id, anti-rollback minimums) and compare each image with the one the agent\n"
                         "installed there: a slot whose contents changed is reported as tampered.\n"
                         "An empty slot that boot control does not use is fine.\n\n"
                         "Exit: 0 every slot in use verifies; otherwise the first failure: 21 digest\n"
                         "(tampered), 22 signature, 24 unknown key, 26 counter, 8 missing image...\n");
    if (rc >= 0) {
        return rc;
    }
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
        return fwt_cli_error(k_prog, first);
    }
    return 0;
}

/* ---- log verify ---- */

static const char k_log_help[] =
    "usage: fwtrust-agent --device DIR log verify [--json]\n\n"
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
    "the end, anchor missing or unreadable; or the measurements disagree (named).\n";

static int cmd_log(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(k_log_help, stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "verify") != 0) {
        return fwt_cli_usage_error(k_prog, "log: the only subcommand is 'log verify'");
    }
    int rc = simple_help(argc - 1, argv + 1, k_log_help);
    if (rc >= 0) {
        return rc;
    }
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
        return fwt_cli_error(k_prog, err);
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

/* ---- update (update_cmd.c; the update: src/agent/update.c) ---- */

static int cmd_update(int argc, char **argv)
{
#ifdef FWT_HAVE_AGENT_UPDATE
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            g_json = 1;
        }
    }
    int help = 0;
    for (int i = 1; i < argc; i++) {
        help |= !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
    }
    fwt_agent *dev = NULL;
    if (!help) {
        fwt_err err = fwt_agent_open(g_device, &dev);
        if (err != FWT_OK) {
            return fail(err);
        }
    }
    int rc = agent_update_main(dev, argc, argv, g_json);
    fwt_agent_close(dev);
    return rc;
#else
    (void)argc;
    (void)argv;
    return fail(fwt_fail(FWT_E_UNSUPPORTED, "the network update is not built into this "
                         "fwtrust-agent"));
#endif
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--device") && i + 1 < argc) {
            g_device = argv[++i];
        } else if (!strncmp(a, "--device=", 9)) {
            g_device = a + 9;
        } else if (!strcmp(a, "--json")) {
            g_json = 1;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("fwtrust-agent %s\n", fwt_cli_version());
            return 0;
        } else if (a[0] == '-') {
            return fwt_cli_usage_error(k_prog, "unknown option '%s'", a);
        } else {
            break;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return FWT_E_ARG;
    }
    const char *cmd = argv[i];
    int sub_argc = argc - i;
    char **sub_argv = argv + i;
    int wants_help = 0;
    for (int k = 1; k < sub_argc; k++) {
        wants_help |= !strcmp(sub_argv[k], "--help") || !strcmp(sub_argv[k], "-h");
    }
    if (!g_device && !wants_help) {
        return fwt_cli_usage_error(k_prog, "--device DIR is required");
    }
    optind = 1;
    opterr = 1;
    if (!strcmp(cmd, "init")) {
        return cmd_init(sub_argc, sub_argv);
    }
    if (!strcmp(cmd, "install")) {
        return cmd_install(sub_argc, sub_argv);
    }
    if (!strcmp(cmd, "install-set")) {
        return cmd_install_set(sub_argc, sub_argv);
    }
    if (!strcmp(cmd, "update")) {
        return cmd_update(sub_argc, sub_argv);
    }
    if (!strcmp(cmd, "confirm")) {
        return cmd_confirm(sub_argc, sub_argv);
    }
    if (!strcmp(cmd, "rollback")) {
        return cmd_rollback(sub_argc, sub_argv);
    }
    if (!strcmp(cmd, "status")) {
        return cmd_status(sub_argc, sub_argv);
    }
    if (!strcmp(cmd, "verify-slots")) {
        return cmd_verify_slots(sub_argc, sub_argv);
    }
    if (!strcmp(cmd, "log")) {
        return cmd_log(sub_argc, sub_argv);
    }
    return fwt_cli_usage_error(k_prog, "'%s' is not a command", cmd);
}
