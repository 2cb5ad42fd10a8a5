/* fwtrust sign: make a signed MCUboot-format image (streaming). */
#include "image_cmd.h"
#include <fwtrust/fwt_imagefile.h>
#include "signlog_cli.h"

#include <stdlib.h>

static const char *const k_prog = "fwtrust sign";

#define U32 UINT32_MAX
static struct fwt_key_opts g_ko;
static struct fwt_signlog_keyopt g_lk;
static const char *g_keys[FWT_SIGN_MAX_KEYS], *g_certs[FWT_SIGN_MAX_KEYS];
static struct fwt_opt_list g_key_list = {g_keys, 0, FWT_SIGN_MAX_KEYS}, g_cert_list = {g_certs, 0, FWT_SIGN_MAX_KEYS};
static const char *g_version = "0.0.0+0", *g_sec_cnt, *g_hw_id, *g_pubkey_fmt, *g_log, *g_signer;
static uint64_t g_header = U32 + 1ull, g_slot, g_align = 1, g_erased = 0xff, g_load = U32 + 1ull,
                g_rom = U32 + 1ull, g_hex = U32 + 1ull; /* above U32: not given */
static int g_pad_header, g_pad, g_confirm, g_pure, g_allow_test, g_no_format, g_json, g_no_log;

static const struct fwt_opt k_opts[] = {
    FWT_OPT_LIST_('k', "key", "KEY", &g_key_list,
                  "signing key (PEM file or pkcs11: URI); up to 8, each adds\n"
                  "a KEYHASH and signature TLV pair, in the order given"),
    FWT_OPT_LIST_(0, "cert", "FILE", &g_cert_list,
                  "boot-key certificate (fwtrust cert issue) embedded before\n"
                  "the signature of the --key it certifies"),
    FWT_OPT_STR_('v', "version", "V", &g_version, "MAJOR.MINOR.REVISION+BUILD (default 0.0.0+0)"),
    FWT_OPT_U64_('H', "header-size", "N", &g_header, 0, U32, "bytes reserved for the header (>= 32), required"),
    FWT_OPT_FLAG_(0, "pad-header", &g_pad_header, "prepend N header bytes (else IN must start with N zeros)"),
    FWT_OPT_U64_('S', "slot-size", "N", &g_slot, 0, U32, "slot size: image + boot trailer must fit"),
    FWT_OPT_FLAG_(0, "pad", &g_pad, "pad to the slot size and write the boot trailer magic"),
    FWT_OPT_FLAG_(0, "confirm", &g_confirm, "also mark the image confirmed (image_ok); implies --pad"),
    FWT_OPT_U64_(0, "align", "N", &g_align, 0, U32, "flash write alignment for the trailer: 1 2 4 8 16 32 (1)"),
    FWT_OPT_U64_('R', "erased-val", "V", &g_erased, 0, U32, "erased flash value: 0xff (default) or 0"),
    FWT_OPT_U64_(0, "load-addr", "A", &g_load, 0, U32, "load address (sets the RAM_LOAD flag, as imgtool)"),
    FWT_OPT_U64_(0, "rom-fixed", "A", &g_rom, 0, U32, "fixed ROM address (sets the ROM_FIXED flag)"),
    FWT_OPT_STR_('s', "security-counter", "N|auto", &g_sec_cnt,
                 "security counter TLV; auto = (major<<24)+(minor<<16)+rev"),
    FWT_OPT_STR_(0, "hw-id", "ID", &g_hw_id, "hardware id TLV (1-64 bytes)"),
    FWT_OPT_FLAG_(0, "pure", &g_pure, "Ed25519 signature over the image itself, as imgtool --pure\n"
                                      "(SHA-512 digest, unprotected SIG_PURE, SHA-512 key hash)"),
    FWT_OPT_STR_(0, "public-key-format", "hash|full", &g_pubkey_fmt,
                 "KEYHASH TLV (default) or the whole public key (PUBKEY)"),
    FWT_OPT_U64_(0, "hex-addr", "A", &g_hex, 0, U32, "Intel HEX output address (default: from a HEX input)"),
    FWT_OPT_FLAG_(0, "no-format-tlv", &g_no_format, "omit fwtrust's format version TLV (plain MCUboot image)"),
    FWT_OPT_FLAG_(0, "allow-test-key", &g_allow_test, "sign even with a published sample key (tests only)"),
    FWT_OPT_FLAG_(0, "json", &g_json, "print a summary as JSON"),
    FWT_SIGNLOG_OPTS(g_lk, g_log, g_no_log, g_signer),
    FWT_KEY_OPTS(g_ko),
    FWT_OPT_END_,
};
_Static_assert(FWT_SIGN_MAX_KEYS == 8, "the help text of --key");

static const struct fwt_cli_prog k_cli = {
    .name = "fwtrust sign",
    .operands = "IN OUT",
    .min_args = 2,
    .max_args = 2,
    .description =
        "Sign the firmware IN into the MCUboot-format image OUT, with --key KEY [--key KEY ...]\n"
        "and --header-size N. IN and OUT are raw binary, or\n"
        "Intel HEX when their name ends in .hex. Streams: memory use does not grow with the\n"
        "image. OUT is replaced atomically, and left untouched when signing fails.\n"
        "Numbers are decimal or 0x-hex. --version is the image version here (as imgtool's).",
    .opts = k_opts,
    .epilog = "Exit status: 0 on success, else the error number\n"
              "(docs/exit-codes.md): 1 usage, 2 I/O, 7 key, 8 not found, 20 malformed HEX input,\n"
              "29 certificate does not match a key, 32 sample key refused, 33 too large for slot.",
};

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
    struct fwt_cli_args args;
    int rc = fwt_cli_parse(&k_cli, argc, argv, &args);
    if (rc >= 0) {
        return rc;
    }
    struct fwt_key_opts ko = g_ko;
    struct fwt_signlog_keyopt lk = g_lk;
    fwt_privkey *log_key = NULL;
    int pin_after = 0;
    struct fwt_sign_opts so;
    memset(&so, 0, sizeof(so));
    so.write_format_tlv = !g_no_format;
    so.pad_header = g_pad_header;
    so.slot_size = (uint32_t)g_slot;
    so.pad = g_pad || g_confirm;
    so.confirm = g_confirm;
    so.align = (uint32_t)g_align;
    so.pure = g_pure;
    so.allow_test_key = g_allow_test;
    const char *const *key_specs = g_keys, *const *cert_files = g_certs;
    size_t n_keys = g_key_list.n, n_certs = g_cert_list.n;
    const char *version = g_version, *sec_cnt = g_sec_cnt;
    int have_header = g_header <= U32, have_load_addr = g_load <= U32, json = g_json;
    const char *log_opt = g_log, *signer = g_signer, *log_db = NULL;
    int no_log = g_no_log;
    so.header_size = have_header ? (uint32_t)g_header : 0;
    if (g_erased != 0 && g_erased != 0xff) {
        return fwt_cli_usage_error(k_prog, "--erased-val must be 0 or 0xff");
    }
    so.erased_val = (uint8_t)g_erased;
    if (have_load_addr) {
        so.load_addr = (uint32_t)g_load;
    }
    if (g_rom <= U32) {
        so.load_addr = (uint32_t)g_rom;
        so.flags |= FWT_IMAGE_F_ROM_FIXED;
    }
    if (g_hw_id) {
        so.hw_id = (const uint8_t *)g_hw_id;
        so.hw_id_len = strlen(g_hw_id);
    }
    if (g_pubkey_fmt && !strcmp(g_pubkey_fmt, "full")) {
        so.embed_pubkey = 1;
    } else if (g_pubkey_fmt && strcmp(g_pubkey_fmt, "hash") != 0) {
        return fwt_cli_usage_error(k_prog, "--public-key-format: hash or full");
    }
    if (g_hex <= U32) {
        so.hex_addr = (uint32_t)g_hex;
        so.has_hex_addr = 1;
    }
    const char *in = args.argv[0], *out = args.argv[1];
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
        int code = fwt_cli_error(k_prog, err);
        if (!fwt_cli_missing_file_hint(k_prog, err, "--key", g_keys, g_key_list.n,
                                       "create a signing key with 'fwtrust keygen -o FILE' or give a pkcs11: URI")) {
            (void)fwt_cli_missing_file_hint(k_prog, err, "--cert", g_certs, g_cert_list.n,
                                            "issue one with 'fwtrust cert issue'");
        }
        return code;
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
