/* fwtrust verify: check an image with the verifier core against trusted keys. */
#include "image_cmd.h"

#include <stdlib.h>
#include <time.h>

static const char *const k_prog = "fwtrust verify";

#define MAX_TRUSTED 16

static struct fwt_key_opts g_ko;
static const char *key_specs[MAX_TRUSTED], *root_specs[MAX_TRUSTED], *g_hw_id, *g_dec_key;
static struct fwt_opt_list g_keys = {key_specs, 0, MAX_TRUSTED}, g_roots = {root_specs, 0, MAX_TRUSTED};
static uint64_t g_threshold = 1, g_min_key_version, g_min_sec_cnt;
static int json;

static const struct fwt_opt k_opts[] = {
    FWT_OPT_LIST_('k', "key", "PUB", &g_keys, "trusted signing key (PEM, public or private, or pkcs11:); up to 16"),
    FWT_OPT_U64_(0, "threshold", "K", &g_threshold, 1, UINT32_MAX,
                 "valid signatures from K distinct trust anchors (each\n"
                 "--key, each --root: a root counts once however many\n"
                 "keys it certified; a key listed twice is refused)\n"
                 "(default 1)"),
    FWT_OPT_LIST_(0, "root", "PUB", &g_roots, "trusted root: accepts keys it certified (FWT_TLV_CERT); up to 16"),
    FWT_OPT_U64_(0, "min-key-version", "N", &g_min_key_version, 0, UINT32_MAX,
                 "refuse certificates below key version N (revocation)"),
    FWT_OPT_STR_(0, "hw-id", "ID", &g_hw_id, "the image must carry exactly this hardware id"),
    FWT_OPT_U64_(0, "min-security-counter", "N", &g_min_sec_cnt, 0, UINT32_MAX,
                 "refuse images whose security counter is below N"),
    FWT_OPT_STR_(0, "decrypt-key", "PRIV", &g_dec_key,
                 "verify an encrypted image's plaintext: the device's\n"
                 "decryption key (RSA-2048/P-256/X25519 PEM, AES-KW base64,\n"
                 "or a pkcs11: URI: RSA-2048 or P-256 in a token)"),
    FWT_OPT_FLAG_(0, "json", &json, "print the result (version, counter, hw id, digest,\n"
                                    "signers, result) as JSON"),
    FWT_KEY_OPTS(g_ko),
    FWT_OPT_END_,
};

static const struct fwt_cli_prog k_cli = {
    .name = "fwtrust verify",
    .operands = "IMAGE",
    .min_args = 1,
    .max_args = 1,
    .description = "Verify IMAGE with fwtrust's verifier core (the same code a device runs), against\n"
                   "--key PUB [--key PUB ...] and --root PUB.\n"
                   "IMAGE is a binary image, or Intel HEX when its name ends in .hex.\n"
                   "Exit status 0 means valid; anything else means the image must not be trusted.",
    .opts = k_opts,
    .epilog = "Exit status (docs/exit-codes.md): 0 valid; 1 usage; 2 I/O; 8 IMAGE not found;\n"
              "20 malformed; 21 digest mismatch; 22 bad signature; 23 unsigned; 24 unknown key;\n"
              "25 wrong hardware id; 26 security counter too low; 27 unsupported; 28 threshold\n"
              "not met; 29 bad certificate; 30 key version revoked; 31 no trusted key given;\n"
              "7 --decrypt-key cannot open the image's key (wrong key, altered tag). An\n"
              "encrypted image without --decrypt-key: 27.",
};

struct trusted {
    const char *spec;
    uint8_t enc[FWT_PUBKEY_MAX];
    uint8_t keyhash[32];
};

static int run(int argc, char **argv)
{
    struct fwt_cli_args args;
    int rc = fwt_cli_parse(&k_cli, argc, argv, &args);
    if (rc >= 0) {
        return rc;
    }
    size_t n_keys = g_keys.n, n_roots = g_roots.n;
    struct fwt_policy pol;
    memset(&pol, 0, sizeof(pol));
    pol.threshold = (uint32_t)g_threshold;
    pol.min_key_version = (uint32_t)g_min_key_version;
    pol.min_security_counter = (uint32_t)g_min_sec_cnt;
    if (g_hw_id) {
        pol.hw_id = (const uint8_t *)g_hw_id;
        pol.hw_id_len = strlen(g_hw_id);
        if (pol.hw_id_len == 0 || pol.hw_id_len > FWT_HW_ID_MAX) {
            return fwt_cli_usage_error(k_prog, "--hw-id must be 1 to %u bytes", FWT_HW_ID_MAX);
        }
    }
    const char *image = args.argv[0];
    struct trusted *keys = calloc(MAX_TRUSTED, sizeof(*keys));
    struct trusted *roots = calloc(MAX_TRUSTED, sizeof(*roots));
    struct fwt_trusted_key tkeys[MAX_TRUSTED], troots[MAX_TRUSTED];
    struct fwt_image_info info;
    memset(&info, 0, sizeof(info));
    fwt_enckey *dec_key = NULL;
    int stored_clear = 0;
    fwt_err err = (keys && roots) ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n_keys && err == FWT_OK; i++) {
        err = fwt_trusted_key_load(key_specs[i], &g_ko, keys[i].enc, &tkeys[i], keys[i].keyhash);
        keys[i].spec = key_specs[i];
    }
    for (size_t i = 0; i < n_roots && err == FWT_OK; i++) {
        err = fwt_trusted_key_load(root_specs[i], &g_ko, roots[i].enc, &troots[i], roots[i].keyhash);
        roots[i].spec = root_specs[i];
    }
    if (err == FWT_OK && n_keys == 0 && n_roots == 0) {
        err = fwt_fail(FWT_E_NO_TRUST, "no --key or --root given: nothing can be trusted");
    }
    if (err == FWT_OK) {
        pol.keys = n_keys ? tkeys : NULL;
        pol.n_keys = n_keys;
        pol.roots = n_roots ? troots : NULL;
        pol.n_roots = n_roots;
        pol.now = (uint64_t)time(NULL);
        if (g_dec_key) {
            err = fwt_enckey_load_ex(g_dec_key, &g_ko, &dec_key);
            if (err == FWT_OK) {
                err = fwt_verify_file_decrypt(image, &pol, dec_key, &info, &stored_clear);
            }
        } else {
            err = fwt_verify_file(image, &pol, &info);
        }
    }
    fwt_enckey_free(dec_key);
    /* MCUboot's DEPENDENCY TLVs of a valid image (signed; the agent enforces them). */
    struct fwt_dependency deps[FWT_SIGN_MAX_DEPS];
    size_t n_deps = 0;
    if (err == FWT_OK) {
        err = fwt_file_dependencies(image, deps, FWT_SIGN_MAX_DEPS, &n_deps);
    }
    if (json) {
        json_t *o = err == FWT_OK ? json_pack("{s:b}", "ok", 1) : fwt_cli_json_error(err);
        if (o) {
            json_object_set_new(o, "result", json_string(fwt_err_name(err)));
            json_object_set_new(o, "image", json_string(image));
            if (err == FWT_OK) {
                char vs[48], dig[2 * FWT_DIGEST_MAX + 1];
                fwt_version_format(&info.hdr.version, vs, sizeof(vs));
                fwt_hex_encode(info.digest, info.digest_len, dig);
                json_object_set_new(o, "version", json_string(vs));
                json_object_set_new(o, "byte_order",
                                    json_string(info.hdr.byte_order == FWT_ORDER_BIG ? "big"
                                                                                     : "little"));
                json_object_set_new(o, "security_counter",
                                    info.has_security_counter
                                        ? json_integer(info.security_counter)
                                        : json_null());
                if (info.hw_id_len && fwt_is_printable(info.hw_id, info.hw_id_len)) {
                    json_object_set_new(o, "hw_id",
                                        json_stringn((const char *)info.hw_id, info.hw_id_len));
                } else if (info.hw_id_len && info.hw_id_len <= FWT_HW_ID_MAX) {
                    char hx[2 * FWT_HW_ID_MAX + 1];
                    fwt_hex_encode(info.hw_id, info.hw_id_len, hx);
                    json_object_set_new(o, "hw_id_hex", json_string(hx));
                } else {
                    json_object_set_new(o, "hw_id", json_null());
                }
                json_object_set_new(o, "digest", json_string(dig));
                json_object_set_new(o, "hash", json_string(fwt_hash_name(info.hash_alg)));
                json_object_set_new(o, "pure", json_boolean(info.pure));
                json_object_set_new(o, "encrypted", json_boolean(info.enc_key_len != 0));
                if (info.enc_key_len) {
                    json_object_set_new(o, "aes_bits", json_integer(8 * info.enc_key_len));
                    json_object_set_new(o, "enc_tlv", json_integer(info.enc_tlv));
                    json_object_set_new(o, "stored_in_clear", json_boolean(stored_clear));
                }
                json_object_set_new(o, "format_version", json_integer(info.format_version));
                if (info.has_cert) {
                    json_object_set_new(o, "key_version", json_integer(info.key_version));
                }
                json_t *signers = json_array();
                for (uint32_t i = 0; i < info.n_signers && i < FWT_MAX_SIGNERS; i++) {
                    char kh[65];
                    fwt_hex_encode(info.signer_keyhash[i], 32, kh);
                    json_t *s = json_pack("{s:s}", "keyhash", kh);
                    for (size_t k = 0; k < n_keys; k++) {
                        if (!memcmp(keys[k].keyhash, info.signer_keyhash[i], 32)) {
                            json_object_set_new(s, "key", json_string(keys[k].spec));
                        }
                    }
                    /* The anchor it counted for: a --key, or the --root that certified it. */
                    uint32_t a = info.signer_anchor[i];
                    if (a < n_keys) {
                        json_object_set_new(s, "anchor", json_string(key_specs[a]));
                    } else if (a - n_keys < n_roots) {
                        json_object_set_new(s, "anchor", json_string(root_specs[a - n_keys]));
                    }
                    json_array_append_new(signers, s);
                }
                json_object_set_new(o, "signers", signers);
                json_t *dj = json_array();
                for (size_t i = 0; i < n_deps; i++) {
                    char dv[48];
                    fwt_version_format(&deps[i].min, dv, sizeof(dv));
                    json_array_append_new(dj, json_pack("{s:i, s:s}", "image_id",
                                                        (int)deps[i].image_id, "min_version", dv));
                }
                json_object_set_new(o, "dependencies", dj);
                json_object_set_new(o, "anchors", json_integer(info.n_anchors));
            }
        }
        fwt_cli_json_print(o);
    }
    free(keys);
    free(roots);
    if (err != FWT_OK) {
        int code = fwt_cli_error(k_prog, err);
        if (!fwt_cli_missing_file_hint(k_prog, err, "--key", key_specs, g_keys.n,
                                       "export the public key with 'fwtrust pubkey KEY.pem -o FILE'")) {
            (void)fwt_cli_missing_file_hint(k_prog, err, "--root", root_specs, g_roots.n,
                                            "export the root's public key with 'fwtrust pubkey ROOT.pem -o FILE'");
        }
        return code;
    }
    if (!json) {
        char vs[48], dig[2 * FWT_DIGEST_MAX + 1];
        fwt_version_format(&info.hdr.version, vs, sizeof(vs));
        fwt_hex_encode(info.digest, info.digest_len, dig);
        printf("%s: valid, version %s, %u signature(s) from trusted keys, %u trust anchor(s)\n",
               image, vs, (unsigned)info.n_signers, (unsigned)info.n_anchors);
        printf("  digest (%s): %s\n", fwt_hash_name(info.hash_alg), dig);
        if (info.pure) {
            printf("  signatures: pure Ed25519 over the signed region (SIG_PURE)\n");
        }
        if (info.enc_key_len) {
            printf("  encrypted: AES-%u-CTR, key in TLV 0x%02x; %s\n", 8U * info.enc_key_len,
                   (unsigned)info.enc_tlv,
                   stored_clear ? "payload stored in clear, verified as it is"
                                : "plaintext decrypted and verified");
        }
        if (info.has_security_counter) {
            printf("  security counter: %u\n", (unsigned)info.security_counter);
        }
        if (info.hw_id_len && fwt_is_printable(info.hw_id, info.hw_id_len)) {
            printf("  hardware id: %.*s\n", (int)info.hw_id_len, (const char *)info.hw_id);
        }
        for (size_t i = 0; i < n_deps; i++) {
            char dv[48];
            fwt_version_format(&deps[i].min, dv, sizeof(dv));
            printf("  depends on: image %u >= %s\n", (unsigned)deps[i].image_id, dv);
        }
    }
    return 0;
}

const struct fwt_command fwt_cmd_verify = {"verify", "verify a signed image against trusted keys",
                                           run};
