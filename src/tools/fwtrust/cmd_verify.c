/* fwtrust verify: check an image with the verifier core against trusted keys. */
#include "image_cmd.h"

#include <stdlib.h>
#include <time.h>

static const char *const k_prog = "fwtrust verify";

enum {
    OPT_THRESHOLD = OPT_CMD_FIRST,
    OPT_ROOT,
    OPT_MIN_KEY_VERSION,
    OPT_HW_ID,
    OPT_MIN_SEC_CNT,
};

#define MAX_TRUSTED 16

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fwtrust verify --key PUB [--key PUB ...] [options] IMAGE\n\n"
            "Verify IMAGE with fwtrust's verifier core (the same code a device runs).\n"
            "IMAGE is a binary image, or Intel HEX when its name ends in .hex.\n"
            "Exit status 0 means valid; anything else means the image must not be trusted.\n\n"
            "  -k, --key PUB              trusted signing key (PEM, public or private, or pkcs11:)\n"
            "  --threshold K              valid signatures from K distinct trust anchors (each\n"
            "                             --key, each --root: a root counts once however many\n"
            "                             keys it certified; a key listed twice is refused)\n"
            "                             (default 1)\n"
            "  --root PUB                 trusted root: accepts keys it certified (FWT_TLV_CERT)\n"
            "  --min-key-version N        refuse certificates below key version N (revocation)\n"
            "  --hw-id ID                 the image must carry exactly this hardware id\n"
            "  --min-security-counter N   refuse images whose security counter is below N\n"
            "  --json                     print the result (version, counter, hw id, digest,\n"
            "                             signers, result) as JSON\n" FWT_KEY_HELP
            "  -h, --help                 this text\n\n"
            "Exit status (docs/exit-codes.md): 0 valid; 1 usage; 2 I/O; 8 IMAGE not found;\n"
            "20 malformed; 21 digest mismatch; 22 bad signature; 23 unsigned; 24 unknown key;\n"
            "25 wrong hardware id; 26 security counter too low; 27 unsupported; 28 threshold\n"
            "not met; 29 bad certificate; 30 key version revoked; 31 no trusted key given.\n");
}

struct trusted {
    const char *spec;
    uint8_t enc[FWT_PUBKEY_MAX];
    uint8_t keyhash[32];
};

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"threshold", required_argument, NULL, OPT_THRESHOLD},
        {"root", required_argument, NULL, OPT_ROOT},
        {"min-key-version", required_argument, NULL, OPT_MIN_KEY_VERSION},
        {"hw-id", required_argument, NULL, OPT_HW_ID},
        {"min-security-counter", required_argument, NULL, OPT_MIN_SEC_CNT},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        FWT_KEY_LONGOPTS,
        {NULL, 0, NULL, 0}};
    struct fwt_key_opts ko = {NULL, NULL, NULL};
    const char *key_specs[MAX_TRUSTED], *root_specs[MAX_TRUSTED];
    size_t n_keys = 0, n_roots = 0;
    struct fwt_policy pol;
    memset(&pol, 0, sizeof(pol));
    pol.threshold = 1;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
        if (fwt_key_opt(c, optarg, &ko)) {
            continue;
        }
        switch (c) {
        case 'k':
            if (n_keys == MAX_TRUSTED) {
                return fwt_cli_usage_error(k_prog, "at most %d --key", MAX_TRUSTED);
            }
            key_specs[n_keys++] = optarg;
            break;
        case OPT_ROOT:
            if (n_roots == MAX_TRUSTED) {
                return fwt_cli_usage_error(k_prog, "at most %d --root", MAX_TRUSTED);
            }
            root_specs[n_roots++] = optarg;
            break;
        case OPT_THRESHOLD:
            if (fwt_parse_u32(optarg, &pol.threshold) != FWT_OK || pol.threshold == 0) {
                return fwt_cli_usage_error(k_prog, "--threshold: a number of at least 1");
            }
            break;
        case OPT_MIN_KEY_VERSION:
            if (fwt_parse_u32(optarg, &pol.min_key_version) != FWT_OK) {
                return fwt_cli_usage_error(k_prog, "--min-key-version: '%s' is not a number",
                                           optarg);
            }
            break;
        case OPT_MIN_SEC_CNT:
            if (fwt_parse_u32(optarg, &pol.min_security_counter) != FWT_OK) {
                return fwt_cli_usage_error(k_prog, "--min-security-counter: '%s' is not a number",
                                           optarg);
            }
            break;
        case OPT_HW_ID:
            pol.hw_id = (const uint8_t *)optarg;
            pol.hw_id_len = strlen(optarg);
            if (pol.hw_id_len == 0 || pol.hw_id_len > FWT_HW_ID_MAX) {
                return fwt_cli_usage_error(k_prog, "--hw-id must be 1 to %u bytes",
                                           FWT_HW_ID_MAX);
            }
            break;
        case OPT_JSON:
            json = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return fwt_getopt_error(k_prog, argv);
        }
    }
    if (argc - optind != 1) {
        return fwt_cli_usage_error(k_prog, "expected exactly one IMAGE");
    }
    const char *image = argv[optind];
    struct trusted *keys = calloc(MAX_TRUSTED, sizeof(*keys));
    struct trusted *roots = calloc(MAX_TRUSTED, sizeof(*roots));
    struct fwt_trusted_key tkeys[MAX_TRUSTED], troots[MAX_TRUSTED];
    struct fwt_image_info info;
    memset(&info, 0, sizeof(info));
    fwt_err err = (keys && roots) ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n_keys && err == FWT_OK; i++) {
        err = fwt_trusted_key_load(key_specs[i], &ko, keys[i].enc, &tkeys[i], keys[i].keyhash);
        keys[i].spec = key_specs[i];
    }
    for (size_t i = 0; i < n_roots && err == FWT_OK; i++) {
        err = fwt_trusted_key_load(root_specs[i], &ko, roots[i].enc, &troots[i], roots[i].keyhash);
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
        err = fwt_verify_file(image, &pol, &info);
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
                json_object_set_new(o, "anchors", json_integer(info.n_anchors));
            }
        }
        fwt_cli_json_print(o);
    }
    free(keys);
    free(roots);
    if (err != FWT_OK) {
        return fwt_cli_error(k_prog, err);
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
        if (info.has_security_counter) {
            printf("  security counter: %u\n", (unsigned)info.security_counter);
        }
        if (info.hw_id_len && fwt_is_printable(info.hw_id, info.hw_id_len)) {
            printf("  hardware id: %.*s\n", (int)info.hw_id_len, (const char *)info.hw_id);
        }
    }
    return 0;
}

const struct fwt_command fwt_cmd_verify = {"verify", "verify a signed image against trusted keys",
                                           run};
