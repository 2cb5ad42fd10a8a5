/* fwtrust sign: make a signed MCUboot-format image (streaming). */
#include "image_cmd.h"
#include <fwtrust/fwt_imagefile.h>
#include "signlog_cli.h"

#include <stdlib.h>

static const char *const k_prog = "fwtrust sign";

enum {
    OPT_VERSION = OPT_CMD_FIRST,
    OPT_HEADER_SIZE,
    OPT_PAD_HEADER,
    OPT_SLOT_SIZE,
    OPT_PAD,
    OPT_CONFIRM,
    OPT_ALIGN,
    OPT_ERASED,
    OPT_LOAD_ADDR,
    OPT_ROM_FIXED,
    OPT_SEC_CNT,
    OPT_HW_ID,
    OPT_PURE,
    OPT_PUBKEY_FMT,
    OPT_CERT,
    OPT_ALLOW_TEST,
    OPT_HEX_ADDR,
    OPT_NO_FORMAT,
    OPT_LOG,
    OPT_NO_LOG,
    OPT_SIGNER,
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fwtrust sign --key KEY [--key KEY ...] --version V --header-size N [options] IN OUT\n\n"
            "Sign the firmware IN into the MCUboot-format image OUT. IN and OUT are raw binary, or\n"
            "Intel HEX when their name ends in .hex. Streams: memory use does not grow with the\n"
            "image. OUT is replaced atomically, and left untouched when signing fails.\n\n"
            "  -k, --key KEY            signing key (PEM file or pkcs11: URI); up to %d, each adds\n"
            "                           a KEYHASH and signature TLV pair, in the order given\n"
            "  --cert FILE              boot-key certificate (fwtrust cert issue) embedded before\n"
            "                           the signature of the --key it certifies\n"
            "  -v, --version V          MAJOR.MINOR.REVISION+BUILD (default 0.0.0+0)\n"
            "  -H, --header-size N      bytes reserved for the header (>= 32), required\n"
            "  --pad-header             prepend N header bytes (else IN must start with N zeros)\n"
            "  -S, --slot-size N        slot size: image + boot trailer must fit\n"
            "  --pad                    pad to the slot size and write the boot trailer magic\n"
            "  --confirm                also mark the image confirmed (image_ok); implies --pad\n"
            "  --align N                flash write alignment for the trailer: 1 2 4 8 16 32 (1)\n"
            "  -R, --erased-val V       erased flash value: 0xff (default) or 0\n"
            "  --load-addr A            load address (sets the RAM_LOAD flag, as imgtool)\n"
            "  --rom-fixed A            fixed ROM address (sets the ROM_FIXED flag)\n"
            "  -s, --security-counter N|auto\n"
            "                           security counter TLV; auto = (major<<24)+(minor<<16)+rev\n"
            "  --hw-id ID               hardware id TLV (1-64 bytes)\n"
            "  --pure                   Ed25519 signature over the image itself, as imgtool --pure\n"
            "                           (SHA-512 digest, unprotected SIG_PURE, SHA-512 key hash)\n"
            "  --public-key-format hash|full\n"
            "                           KEYHASH TLV (default) or the whole public key (PUBKEY)\n"
            "  --hex-addr A             Intel HEX output address (default: from a HEX input)\n"
            "  --no-format-tlv          omit fwtrust's format version TLV (plain MCUboot image)\n"
            "  --allow-test-key         sign even with a published sample key (tests only)\n"
            "  --json                   print a summary as JSON\n" FWT_SIGNLOG_HELP FWT_KEY_HELP
            "  -h, --help               this text\n\n"
            "Numbers are decimal or 0x-hex. Exit status: 0 on success, else the error number\n"
            "(docs/exit-codes.md): 1 usage, 2 I/O, 7 key, 8 not found, 20 malformed HEX input,\n"
            "29 certificate does not match a key, 32 sample key refused, 33 too large for slot.\n",
            FWT_SIGN_MAX_KEYS);
}

static int parse_num(const char *name, const char *s, uint32_t *out)
{
    if (fwt_parse_u32(s, out) != FWT_OK) {
        fwt_cli_usage_error(k_prog, "%s: '%s' is not a number (decimal or 0x-hex, 32 bits)", name,
                            s);
        return -1;
    }
    return 0;
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct fwt_progress *p = ctx;
    p->total = total;
    fwt_progress_update(p, done);
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"version", required_argument, NULL, 'v'},
        {"header-size", required_argument, NULL, 'H'},
        {"pad-header", no_argument, NULL, OPT_PAD_HEADER},
        {"slot-size", required_argument, NULL, 'S'},
        {"pad", no_argument, NULL, OPT_PAD},
        {"confirm", no_argument, NULL, OPT_CONFIRM},
        {"align", required_argument, NULL, OPT_ALIGN},
        {"erased-val", required_argument, NULL, 'R'},
        {"load-addr", required_argument, NULL, OPT_LOAD_ADDR},
        {"rom-fixed", required_argument, NULL, OPT_ROM_FIXED},
        {"security-counter", required_argument, NULL, 's'},
        {"hw-id", required_argument, NULL, OPT_HW_ID},
        {"pure", no_argument, NULL, OPT_PURE},
        {"public-key-format", required_argument, NULL, OPT_PUBKEY_FMT},
        {"cert", required_argument, NULL, OPT_CERT},
        {"allow-test-key", no_argument, NULL, OPT_ALLOW_TEST},
        {"hex-addr", required_argument, NULL, OPT_HEX_ADDR},
        {"no-format-tlv", no_argument, NULL, OPT_NO_FORMAT},
        {"json", no_argument, NULL, OPT_JSON},
        {"log", required_argument, NULL, OPT_LOG},
        {"no-log", no_argument, NULL, OPT_NO_LOG},
        {"signer", required_argument, NULL, OPT_SIGNER},
        {"help", no_argument, NULL, 'h'},
        FWT_KEY_LONGOPTS,
        FWT_SIGNLOG_LONGOPTS,
        {NULL, 0, NULL, 0}};
    struct fwt_key_opts ko = {NULL, NULL, NULL};
    struct fwt_signlog_keyopt lk;
    memset(&lk, 0, sizeof(lk));
    fwt_privkey *log_key = NULL;
    int pin_after = 0;
    struct fwt_sign_opts so;
    memset(&so, 0, sizeof(so));
    so.erased_val = 0xff;
    so.align = 1;
    so.write_format_tlv = 1;
    const char *key_specs[FWT_SIGN_MAX_KEYS];
    const char *cert_files[FWT_SIGN_MAX_KEYS];
    size_t n_keys = 0, n_certs = 0;
    const char *version = "0.0.0+0", *sec_cnt = NULL;
    int have_header = 0, have_load_addr = 0, json = 0, c;
    const char *log_opt = NULL, *signer = NULL, *log_db = NULL;
    int no_log = 0;
    uint32_t v32;
    while ((c = getopt_long(argc, argv, "k:v:H:S:R:s:h", opts, NULL)) != -1) {
        if (fwt_key_opt(c, optarg, &ko) || fwt_signlog_key_opt(c, optarg, &lk)) {
            continue;
        }
        switch (c) {
        case 'k':
            if (n_keys == FWT_SIGN_MAX_KEYS) {
                return fwt_cli_usage_error(k_prog, "at most %d --key", FWT_SIGN_MAX_KEYS);
            }
            key_specs[n_keys++] = optarg;
            break;
        case OPT_CERT:
            if (n_certs == FWT_SIGN_MAX_KEYS) {
                return fwt_cli_usage_error(k_prog, "at most %d --cert", FWT_SIGN_MAX_KEYS);
            }
            cert_files[n_certs++] = optarg;
            break;
        case 'v':
            version = optarg;
            break;
        case 'H':
            if (parse_num("--header-size", optarg, &so.header_size)) {
                return FWT_E_ARG;
            }
            have_header = 1;
            break;
        case OPT_PAD_HEADER:
            so.pad_header = 1;
            break;
        case 'S':
            if (parse_num("--slot-size", optarg, &so.slot_size)) {
                return FWT_E_ARG;
            }
            break;
        case OPT_PAD:
            so.pad = 1;
            break;
        case OPT_CONFIRM:
            so.confirm = 1;
            so.pad = 1;
            break;
        case OPT_ALIGN:
            if (parse_num("--align", optarg, &so.align)) {
                return FWT_E_ARG;
            }
            break;
        case 'R':
            if (parse_num("--erased-val", optarg, &v32)) {
                return FWT_E_ARG;
            }
            if (v32 != 0 && v32 != 0xff) {
                return fwt_cli_usage_error(k_prog, "--erased-val must be 0 or 0xff");
            }
            so.erased_val = (uint8_t)v32;
            break;
        case OPT_LOAD_ADDR:
            if (parse_num("--load-addr", optarg, &so.load_addr)) {
                return FWT_E_ARG;
            }
            have_load_addr = 1;
            break;
        case OPT_ROM_FIXED:
            if (parse_num("--rom-fixed", optarg, &so.load_addr)) {
                return FWT_E_ARG;
            }
            so.flags |= FWT_IMAGE_F_ROM_FIXED;
            break;
        case 's':
            sec_cnt = optarg;
            break;
        case OPT_HW_ID:
            so.hw_id = (const uint8_t *)optarg;
            so.hw_id_len = strlen(optarg);
            break;
        case OPT_PURE:
            so.pure = 1;
            break;
        case OPT_PUBKEY_FMT:
            if (!strcmp(optarg, "full")) {
                so.embed_pubkey = 1;
            } else if (strcmp(optarg, "hash") != 0) {
                return fwt_cli_usage_error(k_prog, "--public-key-format: hash or full");
            }
            break;
        case OPT_ALLOW_TEST:
            so.allow_test_key = 1;
            break;
        case OPT_HEX_ADDR:
            if (parse_num("--hex-addr", optarg, &so.hex_addr)) {
                return FWT_E_ARG;
            }
            so.has_hex_addr = 1;
            break;
        case OPT_NO_FORMAT:
            so.write_format_tlv = 0;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case OPT_LOG:
            log_opt = optarg;
            break;
        case OPT_NO_LOG:
            no_log = 1;
            break;
        case OPT_SIGNER:
            signer = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return fwt_getopt_error(k_prog, argv);
        }
    }
    if (argc - optind != 2) {
        return fwt_cli_usage_error(k_prog, "expected IN and OUT");
    }
    const char *in = argv[optind], *out = argv[optind + 1];
    if (n_keys == 0) {
        return fwt_cli_usage_error(k_prog, "at least one --key is required");
    }
    if (!have_header) {
        return fwt_cli_usage_error(k_prog, "--header-size is required (MCUboot uses 0x200 or 0x20)");
    }
    if (so.hw_id && (so.hw_id_len == 0 || so.hw_id_len > FWT_HW_ID_MAX)) {
        return fwt_cli_usage_error(k_prog, "--hw-id must be 1 to %u bytes", FWT_HW_ID_MAX);
    }
    if (have_load_addr && (so.flags & FWT_IMAGE_F_ROM_FIXED)) {
        return fwt_cli_usage_error(k_prog, "--load-addr and --rom-fixed exclude each other");
    }
    fwt_err err = fwt_version_parse(version, &so.version);
    if (err != FWT_OK) {
        return fwt_cli_usage_error(k_prog, "--version: %s", fwt_detail());
    }
    if (sec_cnt) {
        so.has_security_counter = 1;
        if (!strcmp(sec_cnt, "auto")) {
            so.security_counter = fwt_security_counter_auto(&so.version);
        } else if (parse_num("--security-counter", sec_cnt, &so.security_counter)) {
            return FWT_E_ARG;
        }
    }
    if (so.pad && so.slot_size == 0) {
        return fwt_cli_usage_error(k_prog, "--pad and --confirm need --slot-size");
    }

    /* Keys, then certificates matched to the key they certify. */
    uint8_t *certs[FWT_SIGN_MAX_KEYS] = {NULL};
    for (size_t i = 0; i < n_keys && err == FWT_OK; i++) {
        err = fwt_privkey_load(key_specs[i], &ko, &so.keys[i]);
        if (err != FWT_OK && !strstr(fwt_detail(), key_specs[i])) {
            err = fwt_fail(err, "%s: %s", key_specs[i],
                           fwt_detail()[0] ? fwt_detail() : "cannot load the key");
        }
        so.n_keys = i + 1;
    }
    for (size_t j = 0; j < n_certs && err == FWT_OK; j++) {
        uint8_t *cb = NULL;
        size_t cl = 0;
        struct fwt_cert cert;
        err = fwt_read_file(cert_files[j], FWT_CERT_MAX, &cb, &cl);
        if (err != FWT_OK) {
            break;
        }
        if (fwt_cert_parse(cb, cl, &cert) != FWT_OK) {
            free(cb);
            err = fwt_fail(FWT_E_CERT, "%s: not a boot-key certificate", cert_files[j]);
            break;
        }
        size_t match = n_keys;
        for (size_t i = 0; i < n_keys && match == n_keys; i++) {
            fwt_pubkey *pub = NULL;
            uint8_t enc[FWT_PUBKEY_MAX];
            size_t el = sizeof(enc);
            if (fwt_privkey_public(so.keys[i], &pub) == FWT_OK &&
                fwt_pubkey_mcuboot(pub, enc, &el) == FWT_OK && el == cert.key_len &&
                !memcmp(enc, cert.key, el)) {
                match = i;
            }
            fwt_pubkey_free(pub);
        }
        if (match == n_keys) {
            free(cb);
            err = fwt_fail(FWT_E_CERT, "%s certifies none of the --key keys", cert_files[j]);
        } else if (certs[match]) {
            free(cb);
            err = fwt_fail(FWT_E_CERT, "%s: key %s already has a certificate", cert_files[j],
                           key_specs[match]);
        } else {
            certs[match] = cb;
            so.certs[match] = cb;
            so.cert_lens[match] = cl;
        }
    }
    if (err == FWT_OK) {
        err = fwt_signlog_cli_cleanup(k_prog, out);
    }
    if (err == FWT_OK) {
        err = fwt_signlog_cli_target(k_prog, log_opt, no_log, &log_db);
    }
    if (err == FWT_OK && log_db) {
        /* The log key and its module: only what the operator names (the signer's
         * --pkcs11-module is theirs too; the signer's PIN is not the log key's). */
        lk.ko.pkcs11_module = ko.pkcs11_module;
        err = fwt_signlog_cli_log_key(log_db, lk.spec, &lk.ko, &log_key, &pin_after);
    }
    if (err == FWT_OK) {
        /* With a log, sign into a pending file that becomes OUT once logged. */
        char *pending = NULL;
        if (log_db) {
            err = fwt_signlog_pending_name(out, &pending);
        }
        struct fwt_progress prog;
        fwt_progress_start(&prog, "signing", 0); /* the total comes with the first callback */
        so.progress = on_progress;
        so.progress_ctx = &prog;
        if (err == FWT_OK) {
            err = fwt_sign_file(in, pending ? pending : out, &so);
        }
        fwt_progress_finish(&prog);
        if (err == FWT_OK && pending) {
            err = fwt_signlog_commit_image(log_db, pending, out, so.keys, so.n_keys, signer,
                                           log_key, NULL);
        }
        if (err == FWT_OK && pin_after) {
            fwt_signlog_cli_pin(k_prog, log_db, log_key, lk.spec);
        }
        free(pending);
    }
    fwt_privkey_free(log_key);
    for (size_t i = 0; i < FWT_SIGN_MAX_KEYS; i++) {
        fwt_privkey_free(so.keys[i]);
        free(certs[i]);
    }
    if (err != FWT_OK) {
        if (json) {
            fwt_cli_json_print(fwt_cli_json_error(err));
        }
        return fwt_cli_error(k_prog, err);
    }
    if (json) {
        char vs[48];
        fwt_version_format(&so.version, vs, sizeof(vs));
        json_t *o = json_pack("{s:b, s:s, s:s, s:i, s:b}", "ok", 1, "output", out, "version", vs,
                              "signatures", (int)so.n_keys, "logged", log_db != NULL);
        if (o && so.has_security_counter) {
            json_object_set_new(o, "security_counter", json_integer(so.security_counter));
        }
        fwt_cli_json_print(o);
    }
    return 0;
}

const struct fwt_command fwt_cmd_sign = {"sign", "sign a firmware image", run};
