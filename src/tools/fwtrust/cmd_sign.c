/* fwtrust sign: make a signed MCUboot-format image (streaming). */
#include "image_cmd.h"
#include <fwtrust/fwt_imagefile.h>
#include "signlog_cli.h"

#include <fwtrust/fwt_provenance.h>

#include <stdlib.h>

static const char *const k_prog = "fwtrust sign";

#define U32 UINT32_MAX
static struct fwt_key_opts g_ko;
static struct fwt_signlog_keyopt g_lk;
static const char *g_keys[FWT_SIGN_MAX_KEYS], *g_certs[FWT_SIGN_MAX_KEYS];
static struct fwt_opt_list g_key_list = {g_keys, 0, FWT_SIGN_MAX_KEYS}, g_cert_list = {g_certs, 0, FWT_SIGN_MAX_KEYS};
static const char *g_provenance;
static const char *g_version = "0.0.0+0", *g_sec_cnt, *g_hw_id, *g_pubkey_fmt, *g_log, *g_signer;
static const char *g_encrypt, *g_enc_keylen = "128", *g_hmac_sha = "auto";
static int g_clear, g_save_enctlv;
/* imgtool's other options */
static const char *g_customs[FWT_SIGN_MAX_CUSTOM], *g_custom_files[FWT_SIGN_MAX_CUSTOM];
static struct fwt_opt_list g_custom_list = {g_customs, 0, FWT_SIGN_MAX_CUSTOM},
                           g_custom_file_list = {g_custom_files, 0, FWT_SIGN_MAX_CUSTOM};
static const char *g_dep_specs[FWT_SIGN_MAX_DEPS];
static struct fwt_opt_list g_dep_list = {g_dep_specs, 0, FWT_SIGN_MAX_DEPS};
static const char *g_boot_record, *g_endian = "little", *g_sha = "auto", *g_vector, *g_fix_sig,
                  *g_fix_sig_pub, *g_sig_out, *g_output;
static uint64_t g_max_align, g_max_sectors;
static int g_overwrite_only, g_non_bootable, g_pad_sig;
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
    FWT_OPT_U64_('L', "load-addr", "A", &g_load, 0, U32, "load address (sets the RAM_LOAD flag, as imgtool)"),
    FWT_OPT_U64_('F', "rom-fixed", "A", &g_rom, 0, U32, "fixed ROM address (sets the ROM_FIXED flag)"),
    FWT_OPT_STR_('s', "security-counter", "N|auto", &g_sec_cnt,
                 "security counter TLV; auto = (major<<24)+(minor<<16)+rev"),
    FWT_OPT_STR_(0, "hw-id", "ID", &g_hw_id, "hardware id TLV (1-64 bytes)"),
    FWT_OPT_FLAG_(0, "pure", &g_pure, "Ed25519 signature over the image itself, as imgtool --pure\n"
                                      "(SHA-512 digest, unprotected SIG_PURE, SHA-512 key hash)"),
    FWT_OPT_STR_('E', "encrypt", "PUB", &g_encrypt,
                 "encrypt the image for the device key PUB (MCUboot's scheme):\n"
                 "X25519 or EC P-256 (ECIES), RSA-2048 (RSA-OAEP) public key\n"
                 "PEM, or an AES key-wrap key (base64); a fresh random AES key\n"
                 "per image; hash and signatures cover the plaintext"),
    FWT_OPT_STR_(0, "encrypt-keylen", "128|256", &g_enc_keylen, "AES key size of --encrypt (128)"),
    FWT_OPT_STR_(0, "hmac-sha", "auto|256|512", &g_hmac_sha,
                 "ECIES HKDF/HMAC hash: 512 = ENC_X25519_SHA512 (X25519 only)"),
    FWT_OPT_FLAG_('c', "clear", &g_clear, "with --encrypt: flag and key TLV, payload left in clear\n"
                                           "(imgtool --clear: for the primary slot)"),
    FWT_OPT_FLAG_(0, "save-enctlv", &g_save_enctlv,
                  "trailer reserves the whole key TLV per slot (MCUboot\n"
                  "BOOT_SWAP_SAVE_ENCTLV), as imgtool --save-enctlv"),
    FWT_OPT_LIST_(0, "custom-tlv", "TAG VALUE", &g_custom_list,
                  "protected TLV TAG (0xa0-0xfffe, not fwtrust's 0x46a0-0x46ff):\n"
                  "VALUE 0x-hex bytes or text, as imgtool; also TAG:VALUE"),
    FWT_OPT_LIST_(0, "custom-tlv-file", "TAG FILE", &g_custom_file_list,
                  "protected TLV TAG with the bytes of FILE; also TAG:FILE"),
    FWT_OPT_LIST_('d', "dependencies", "\"(ID, VERSION)\"", &g_dep_list,
                  "DEPENDENCY TLV: needs image ID at VERSION or later;\n"
                  "\"(1, 1.2.3), (2, 1.0.0)\" or -d repeated, as imgtool"),
    FWT_OPT_STR_(0, "boot-record", "SW_TYPE", &g_boot_record,
                 "CBOR boot record TLV (measured boot) as imgtool writes\n"
                 "it; SW_TYPE 1-12 characters, e.g. BL2"),
    FWT_OPT_STR_(0, "sha", "auto|256|384|512", &g_sha,
                 "image hash: auto = the key's; Ed25519 256 or 512, P-256\n"
                 "and RSA 256, P-384 384 (imgtool's rule)"),
    FWT_OPT_U64_(0, "max-align", "8|16|32", &g_max_align, 0, 32,
                 "trailer's maximum flash alignment (imgtool --max-align)"),
    FWT_OPT_U64_('M', "max-sectors", "N", &g_max_sectors, 1, 0xffff,
                 "sectors of the swap status in the trailer (128)"),
    FWT_OPT_FLAG_(0, "overwrite-only", &g_overwrite_only, "trailer for overwrite-only upgrades (no swap status)"),
    FWT_OPT_FLAG_(0, "non-bootable", &g_non_bootable, "set the NON_BOOTABLE header flag"),
    FWT_OPT_FLAG_(0, "pad-sig", &g_pad_sig,
                  "zero-pad ECDSA signatures to a fixed size (72 bytes P-256,\n"
                  "104 P-384), as imgtool --pad-sig; other keys unchanged"),
    FWT_OPT_STR_('e', "endian", "little|big", &g_endian,
                 "byte order of the header and TLV fields: little (default,\n"
                 "MCUboot's) or big (imgtool --endian big, for a big-endian\n"
                 "target); readers detect it from the magic"),
    FWT_OPT_STR_(0, "vector-to-sign", "digest|payload", &g_vector,
                 "detached signing: write to OUT what the offline key\n"
                 "signs (the image digest, or the signed region) instead\n"
                 "of the image; needs --fix-sig-pubkey, no --key"),
    FWT_OPT_STR_(0, "fix-sig", "SIG", &g_fix_sig,
                 "the signature made elsewhere (raw, or base64 as imgtool\n"
                 "--sig-out writes it) instead of --key; checked against\n"
                 "--fix-sig-pubkey before anything is written; an ECDSA\n"
                 "one may come zero-padded as --pad-sig pads (kept as given)"),
    FWT_OPT_STR_(0, "fix-sig-pubkey", "PUB", &g_fix_sig_pub, "public key of the offline signer"),
    FWT_OPT_STR_(0, "sig-out", "FILE", &g_sig_out, "also save the signature, base64, to FILE"),
    FWT_OPT_STR_('o', "output", "OUT", &g_output, "the output (instead of the OUT operand)"),
    FWT_OPT_STR_(0, "public-key-format", "hash|full", &g_pubkey_fmt,
                 "KEYHASH TLV (default) or the whole public key (PUBKEY)"),
    FWT_OPT_U64_('x', "hex-addr", "A", &g_hex, 0, U32, "Intel HEX output address (default: from a HEX input)"),
    FWT_OPT_STR_(0, "provenance", "ENVELOPE", &g_provenance,
                 "bind this DSSE provenance envelope (fwtrust provenance make):\n"
                 "its SHA-256 goes into the protected TLV 0x46a2; one of its\n"
                 "subjects must be IN's SHA-256"),
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
    .min_args = 1,
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
              "22 --fix-sig does not verify, 29 certificate does not match a key, 32 sample key\n"
              "refused, 33 too large for slot.",
};

/*
 * imgtool's --custom-tlv TAG VALUE takes two words; the option table takes one.
 * Join "--custom-tlv TAG VALUE" (and --custom-tlv-file) into
 * "--custom-tlv=TAG:VALUE" before parsing; a word that already holds ':' is the
 * one-word form. Returns a new argv (the joined words in *owned), or NULL.
 */
static char **join_pairs(int argc, char **argv, int *nargc, char ***owned, size_t *n_owned)
{
    char **nv = calloc((size_t)argc + 1, sizeof(*nv));
    char **own = calloc((size_t)argc + 1, sizeof(*own));
    if (!nv || !own) {
        free(nv);
        free(own);
        return NULL;
    }
    int j = 0, opts_done = 0;
    size_t no = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int pair = !opts_done && (!strcmp(a, "--custom-tlv") || !strcmp(a, "--custom-tlv-file"));
        if (!strcmp(a, "--")) {
            opts_done = 1;
        }
        if (pair && i + 2 < argc && !strchr(argv[i + 1], ':')) {
            size_t len = strlen(a) + strlen(argv[i + 1]) + strlen(argv[i + 2]) + 3;
            char *w = malloc(len);
            if (!w) {
                for (size_t k = 0; k < no; k++) {
                    free(own[k]);
                }
                free(own);
                free(nv);
                return NULL;
            }
            snprintf(w, len, "%s=%s:%s", a, argv[i + 1], argv[i + 2]);
            own[no++] = w;
            nv[j++] = w;
            i += 2;
        } else {
            nv[j++] = argv[i];
        }
    }
    nv[j] = NULL;
    *nargc = j;
    *owned = own;
    *n_owned = no;
    return nv;
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

static int run_sign(int argc, char **argv)
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
    int no_log = g_no_log || g_vector; /* a vector to sign is not an image to log */
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
    const char *in = args.argv[0], *out = args.argc > 1 ? args.argv[1] : NULL;
    if (out && g_output) {
        return fwt_cli_usage_error(k_prog, "OUT given twice: as an operand and with --output");
    }
    out = out ? out : g_output;
    if (!out) {
        return fwt_cli_usage_error(k_prog, "missing operand: usage: %s IN OUT (or -o OUT)", k_prog);
    }
    if (n_keys == 0 && !g_fix_sig_pub) {
        return fwt_cli_usage_error(k_prog, "at least one --key is required (or --fix-sig-pubkey "
                                   "with --fix-sig or --vector-to-sign)");
    }
    if (n_keys && (g_fix_sig || g_fix_sig_pub)) {
        return fwt_cli_usage_error(k_prog, "--key cannot be combined with --fix-sig or "
                                   "--fix-sig-pubkey (imgtool's rule)");
    }
    if (g_fix_sig_pub && !g_fix_sig && !g_vector) {
        return fwt_cli_usage_error(k_prog, "--fix-sig-pubkey needs --fix-sig or --vector-to-sign");
    }
    if ((g_fix_sig || g_vector) && !g_fix_sig_pub) {
        return fwt_cli_usage_error(k_prog, "--fix-sig and --vector-to-sign need --fix-sig-pubkey");
    }
    if (g_fix_sig && g_vector) {
        return fwt_cli_usage_error(k_prog, "--fix-sig and --vector-to-sign exclude each other");
    }
    if (g_vector && strcmp(g_vector, "digest") && strcmp(g_vector, "payload")) {
        return fwt_cli_usage_error(k_prog, "--vector-to-sign: digest or payload, not '%s'", g_vector);
    }
    so.vector_to_sign = !g_vector ? FWT_VECTOR_NONE
                        : !strcmp(g_vector, "digest") ? FWT_VECTOR_DIGEST
                                                      : FWT_VECTOR_PAYLOAD;
    so.sig_out = g_sig_out;
    if (g_sig_out && g_vector) {
        return fwt_cli_usage_error(k_prog, "--sig-out saves the signature of an image: not with "
                                   "--vector-to-sign");
    }
    if (strcmp(g_endian, "little") != 0 && strcmp(g_endian, "big") != 0) {
        return fwt_cli_usage_error(k_prog, "--endian %s: the byte order is little or big", g_endian);
    }
    so.big_endian = !strcmp(g_endian, "big");
    if (!strcmp(g_sha, "auto")) {
        so.hash = FWT_HASH_NONE;
    } else if (!strcmp(g_sha, "256") || !strcmp(g_sha, "384") || !strcmp(g_sha, "512")) {
        so.hash = g_sha[0] == '2' ? FWT_HASH_SHA256 : g_sha[0] == '3' ? FWT_HASH_SHA384
                                                                      : FWT_HASH_SHA512;
    } else {
        return fwt_cli_usage_error(k_prog, "--sha: auto, 256, 384 or 512, not '%s'", g_sha);
    }
    so.max_align = (uint32_t)g_max_align;
    so.max_sectors = (uint32_t)g_max_sectors;
    so.overwrite_only = g_overwrite_only;
    so.pad_sig = g_pad_sig;
    if (g_non_bootable) {
        so.flags |= FWT_IMAGE_F_NON_BOOTABLE;
    }
    so.boot_record = g_boot_record;
    struct fwt_dependency deps[FWT_SIGN_MAX_DEPS];
    for (size_t i = 0; i < g_dep_list.n; i++) {
        if (fwt_dependencies_parse(g_dep_specs[i], deps, FWT_SIGN_MAX_DEPS, &so.n_deps) != FWT_OK) {
            return fwt_cli_usage_error(k_prog, "-d/--dependencies: %s", fwt_detail());
        }
    }
    so.deps = so.n_deps ? deps : NULL;
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
    if (strcmp(g_enc_keylen, "128") && strcmp(g_enc_keylen, "256")) {
        return fwt_cli_usage_error(k_prog, "--encrypt-keylen: 128 or 256, not '%s'", g_enc_keylen);
    }
    if (strcmp(g_hmac_sha, "auto") && strcmp(g_hmac_sha, "256") && strcmp(g_hmac_sha, "512")) {
        return fwt_cli_usage_error(k_prog, "--hmac-sha: auto, 256 or 512, not '%s'", g_hmac_sha);
    }
    if (!g_encrypt && (g_clear || g_save_enctlv || strcmp(g_enc_keylen, "128") ||
                       strcmp(g_hmac_sha, "auto"))) {
        return fwt_cli_usage_error(k_prog, "--clear, --save-enctlv, --encrypt-keylen and "
                                   "--hmac-sha need --encrypt");
    }
    so.enc_key_len = !g_encrypt ? 0 : g_enc_keylen[0] == '2' ? 32 : 16;
    so.enc_hmac_sha512 = !strcmp(g_hmac_sha, "512");
    so.enc_clear = g_clear;
    so.enc_save_tlv = g_save_enctlv;
    fwt_enckey *enc_key = NULL;
    fwt_pubkey *fix_pub = NULL;
    struct fwt_custom_tlv customs[FWT_SIGN_MAX_CUSTOM];
    uint8_t *custom_bufs[FWT_SIGN_MAX_CUSTOM] = {NULL};
    uint8_t fix_sig[1024];

    /* The provenance envelope bound into the protected area: its subject is IN. */
    uint8_t prov_digest[32];
    if (g_provenance) {
        uint8_t *pb = NULL;
        size_t pl = 0;
        err = fwt_read_file(g_provenance, FWT_DSSE_MAX, &pb, &pl);
        if (err == FWT_OK) {
            err = fwt_provenance_bind(pb, pl, in, prov_digest);
        }
        free(pb);
        if (err != FWT_OK) {
            err = fwt_fail(err, "--provenance %s: %s", g_provenance, fwt_detail());
            if (json) {
                fwt_cli_json_print(fwt_cli_json_error(err));
            }
            return fwt_cli_error(k_prog, err);
        }
        so.provenance = prov_digest;
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
    if (err == FWT_OK && g_encrypt) {
        err = fwt_enckey_load(g_encrypt, &enc_key);
        so.enc_key = enc_key;
    }
    /* Custom TLVs: TAG:VALUE (imgtool's value rule) or TAG:FILE (the file's bytes). */
    size_t n_all = g_custom_list.n + g_custom_file_list.n;
    if (n_all > FWT_SIGN_MAX_CUSTOM) {
        err = fwt_fail(FWT_E_ARG, "at most %d custom TLVs", FWT_SIGN_MAX_CUSTOM);
    }
    for (size_t i = 0; i < n_all && err == FWT_OK; i++) {
        int is_file = i >= g_custom_list.n;
        const char *spec = is_file ? g_custom_files[i - g_custom_list.n] : g_customs[i];
        const char *colon = strchr(spec, ':');
        char tag[32];
        if (!colon || (size_t)(colon - spec) >= sizeof(tag)) {
            err = fwt_fail(FWT_E_ARG, "--custom-tlv%s '%s': TAG VALUE (or TAG:VALUE)",
                           is_file ? "-file" : "", spec);
            break;
        }
        memcpy(tag, spec, (size_t)(colon - spec));
        tag[colon - spec] = 0;
        if (is_file) {
            size_t fl = 0;
            err = fwt_read_file(colon + 1, 0xfff0, &custom_bufs[i], &fl);
            if (err == FWT_OK) {
                /* the type rules, with an empty value; the file's bytes are the value */
                err = fwt_custom_tlv_parse(tag, "", NULL, 0, &customs[i]);
                customs[i].val = custom_bufs[i];
                customs[i].len = fl;
            }
        } else {
            size_t cap = strlen(colon + 1) / 2 + 1;
            custom_bufs[i] = malloc(cap);
            err = custom_bufs[i] ? fwt_custom_tlv_parse(tag, colon + 1, custom_bufs[i], cap,
                                                        &customs[i])
                                 : fwt_fail(FWT_E_NOMEM, "out of memory");
        }
    }
    if (err == FWT_OK && n_all) {
        so.custom = customs;
        so.n_custom = n_all;
    }
    if (err == FWT_OK && g_fix_sig_pub) {
        err = fwt_pubkey_load(g_fix_sig_pub, &ko, &fix_pub);
        so.fix_sig_pubkey = fix_pub;
    }
    if (err == FWT_OK && g_fix_sig) {
        err = fwt_signature_file_read(g_fix_sig, fix_sig, sizeof(fix_sig), &so.fix_sig_len);
        so.fix_sig = fix_sig;
    }
    if (err == FWT_OK) {
        /* The log key and its module: only what the operator names (the signer's
         * --pkcs11-module is theirs too; the signer's PIN is not the log key's). */
        err = fwt_signlog_cli_prepare(k_prog, out, log_opt, no_log, &lk, ko.pkcs11_module, &log_db, &log_key,
                                      &pin_after);
    }
    if (err == FWT_OK) {
        /* With a log, sign into a pending file that becomes OUT once logged. */
        char *pending = NULL;
        if (log_db) {
            err = fwt_signlog_pending_name(out, &pending);
        }
        struct fwt_progress prog;
        fwt_progress_start(&prog, "signing", 0); /* the total comes with the first callback */
        so.progress = fwt_progress_cb;
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
    fwt_enckey_free(enc_key);
    fwt_pubkey_free(fix_pub);
    for (size_t i = 0; i < FWT_SIGN_MAX_CUSTOM; i++) {
        free(custom_bufs[i]);
    }
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
        if (o && so.enc_key) {
            json_object_set_new(o, "encrypted", json_integer(8 * (json_int_t)so.enc_key_len));
        }
        if (o && so.has_security_counter) {
            json_object_set_new(o, "security_counter", json_integer(so.security_counter));
        }
        fwt_cli_json_print(o);
    }
    return 0;
}

static int run(int argc, char **argv)
{
    int nargc = 0;
    char **owned = NULL;
    size_t n_owned = 0;
    char **nargv = join_pairs(argc, argv, &nargc, &owned, &n_owned);
    if (!nargv) {
        return fwt_cli_error(k_prog, fwt_fail(FWT_E_NOMEM, "out of memory"));
    }
    int rc = run_sign(nargc, nargv);
    for (size_t i = 0; i < n_owned; i++) {
        free(owned[i]);
    }
    free(owned);
    free(nargv);
    return rc;
}

const struct fwt_command fwt_cmd_sign = {"sign", "sign a firmware image", run};
