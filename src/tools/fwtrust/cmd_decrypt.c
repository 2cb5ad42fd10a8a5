/* fwtrust decrypt: the plaintext of an MCUboot encrypted image. */
#include "image_cmd.h"

static const char *const k_prog = "fwtrust decrypt";

static const char *g_key;
static struct fwt_key_opts g_ko;
static int g_payload, g_json;

static const struct fwt_opt k_opts[] = {
    FWT_OPT_STR_('k', "key", "PRIV", &g_key,
                 "the device's decryption key: RSA-2048, EC P-256 or X25519\n"
                 "private key (PEM), an AES key-wrap key (base64 file), or\n"
                 "a pkcs11: URI of an RSA-2048 or P-256 key in a token"),
    FWT_OPT_FLAG_(0, "payload", &g_payload, "write only the decrypted payload (the firmware\n"
                                            "bytes, with imgtool's zero padding to 16 bytes)"),
    FWT_OPT_FLAG_(0, "json", &g_json, "print a summary as JSON"),
    FWT_KEY_OPTS(g_ko),
    FWT_OPT_END_,
};

static const struct fwt_cli_prog k_cli = {
    .name = "fwtrust decrypt",
    .operands = "IN OUT",
    .min_args = 2,
    .max_args = 2,
    .description =
        "Decrypt the MCUboot encrypted image IN (ENC_RSA2048, ENC_KW, ENC_EC256, ENC_X25519 or\n"
        "ENC_X25519_SHA512 TLV; AES-128 or AES-256) with --key PRIV into OUT: the same image with\n"
        "its payload in clear, header flag and key TLV kept (as MCUboot leaves it in the primary\n"
        "slot and imgtool --clear writes it; 'fwtrust verify --decrypt-key' verifies it), or with\n"
        "--payload the payload alone. The decrypted payload must match the image's hash before\n"
        "anything is written; this does not check signatures (use fwtrust verify --decrypt-key).\n"
        "An image stored in clear (--clear) is copied as it is. OUT is replaced atomically.",
    .opts = k_opts,
    .epilog = "Exit status (docs/exit-codes.md): 0 decrypted; 1 usage or IN not encrypted; 2 I/O;\n"
              "7 wrong or unusable key (an HMAC tag, OAEP or key-wrap check failed); 8 not found;\n"
              "20 malformed (no ENC TLV, or a truncated one); 21 the plaintext does not match the\n"
              "hash; 27 unsupported.",
};

static int run(int argc, char **argv)
{
    struct fwt_cli_args args;
    int rc = fwt_cli_parse(&k_cli, argc, argv, &args);
    if (rc >= 0) {
        return rc;
    }
    if (!g_key) {
        return fwt_cli_usage_error(k_prog, "--key PRIV is required");
    }
    const char *in = args.argv[0], *out = args.argv[1];
    fwt_enckey *key = NULL;
    struct fwt_image_info info;
    memset(&info, 0, sizeof(info));
    int clear = 0;
    fwt_err err = fwt_enckey_load_ex(g_key, &g_ko, &key);
    if (err == FWT_OK) {
        err = fwt_decrypt_file(in, out, key, g_payload ? FWT_DECRYPT_PAYLOAD : 0, &info, &clear);
    }
    if (err != FWT_OK) {
        fwt_enckey_free(key);
        if (g_json) {
            fwt_cli_json_print(fwt_cli_json_error(err));
        }
        return fwt_cli_error(k_prog, err);
    }
    char tlv[8];
    snprintf(tlv, sizeof(tlv), "0x%02x", (unsigned)info.enc_tlv);
    if (g_json) {
        json_t *o = json_pack("{s:b, s:s, s:s, s:i, s:s, s:b, s:b}", "ok", 1, "output", out,
                              "key_type", fwt_enckey_name(key), "aes_bits",
                              (int)(8 * info.enc_key_len), "enc_tlv", tlv, "stored_in_clear",
                              clear, "payload_only", g_payload);
        fwt_cli_json_print(o);
    } else {
        printf("%s: decrypted (AES-%u-CTR, key in TLV %s opened with the %s key)%s -> %s\n", in,
               8U * info.enc_key_len, tlv, fwt_enckey_name(key),
               clear ? "; the payload was stored in clear" : "", out);
    }
    fwt_enckey_free(key);
    return 0;
}

const struct fwt_command fwt_cmd_decrypt = {"decrypt", "decrypt an MCUboot encrypted image", run};
