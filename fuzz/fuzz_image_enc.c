/*
 * libFuzzer target: the parsers of imgtool's fields and of encrypted images.
 * The first input byte picks one:
 *   0  fwt_boot_record_decode (the CBOR boot record)
 *   1  fwt_dependencies_parse (the -d text) and fwt_dependency_decode (both byte orders)
 *   2  an image opened with fwt_decrypt_io_open (MCUboot's sample X25519 key,
 *      so inputs with that key's ENC_X25519 TLV get past the tag check) and
 *      read whole through the decrypting reader
 *   3  fwt_enc_tlv_layout over every ENC type
 *   4  fwt_custom_tlv_parse (TAG NUL VALUE)
 *   5  a key or signature file: fwt_enckey_load (PEM or base64 AES-KW) and
 *      fwt_signature_file_read (base64 or raw)
 * Anything must be accepted or refused without a crash or a leak; accepted
 * results must hold their invariants.
 */
#include "image/image_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* MCUboot's published sample X25519 key (tests/data/vectors/enc/enc-x25519-priv.pem). */
static const char k_x25519[] = "-----BEGIN PRIVATE KEY-----\n"
                               "MC4CAQAwBQYDK2VuBCIEICiAL+/vgpVQ8UGTA2wbuUlsUeUmh493B/i0HwRFbYRP\n"
                               "-----END PRIVATE KEY-----\n";
static fwt_enckey *g_key;

struct mem {
    const uint8_t *b;
    size_t n;
};

static fwt_err mem_read(void *ctx, uint32_t off, void *buf, size_t len)
{
    struct mem *m = ctx;
    if (off > m->n || len > m->n - off) {
        return FWT_E_IO;
    }
    memcpy(buf, m->b + off, len);
    return FWT_OK;
}

static void load_key(void)
{
    char path[] = "/tmp/fuzz_image_enc_keyXXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        abort();
    }
    if (write(fd, k_x25519, sizeof(k_x25519) - 1) != (ssize_t)(sizeof(k_x25519) - 1)) {
        abort();
    }
    close(fd);
    if (fwt_enckey_load(path, &g_key) != FWT_OK) {
        abort();
    }
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t mode = data[0];
    data++;
    size--;
    switch (mode % 6) {
    case 0: {
        struct fwt_boot_record br;
        if (fwt_boot_record_decode(data, size, &br) == FWT_OK) {
            if (strlen(br.sw_type) >= sizeof(br.sw_type) || br.signer_id_len > 64 ||
                br.measurement_len > 64 || size < 11) {
                abort();
            }
        }
        break;
    }
    case 1: {
        char *s = malloc(size + 1);
        if (!s) {
            return 0;
        }
        memcpy(s, data, size);
        s[size] = 0;
        struct fwt_dependency deps[FWT_SIGN_MAX_DEPS];
        size_t n = 0;
        if (fwt_dependencies_parse(s, deps, FWT_SIGN_MAX_DEPS, &n) == FWT_OK && n == 0) {
            abort();
        }
        if (n > FWT_SIGN_MAX_DEPS) {
            abort();
        }
        struct fwt_dependency d, be;
        if (fwt_dependency_decode(data, size, &d) == FWT_OK && size != 12) {
            abort();
        }
        /* big endian (imgtool --endian big): the same bytes accepted, the numbers swapped */
        fwt_err ebe = fwt_dependency_decode_order(data, size, FWT_ORDER_BIG, &be);
        if ((ebe == FWT_OK) != (size == 12 && fwt_dependency_decode(data, size, &d) == FWT_OK) ||
            (ebe == FWT_OK && (be.image_id != d.image_id || be.min.major != d.min.major ||
                               be.min.revision != (uint16_t)(data[6] << 8 | data[7]) ||
                               be.min.build != ((uint32_t)data[8] << 24 | (uint32_t)data[9] << 16 |
                                                (uint32_t)data[10] << 8 | data[11])))) {
            abort();
        }
        free(s);
        break;
    }
    case 2: {
        if (!g_key) {
            load_key();
        }
        struct mem m = {data, size};
        struct fwt_io io = {&m, mem_read, (uint32_t)size, 0};
        struct fwt_decrypt_io d;
        struct fwt_image_info info;
        if (fwt_decrypt_io_open(&d, &io, g_key, 0, &info) == FWT_OK) {
            if (info.enc_key_len != 16 && info.enc_key_len != 32) {
                abort();
            }
            uint8_t *buf = malloc(size ? size : 1);
            if (buf && d.io.read(d.io.ctx, 0, buf, size) != FWT_OK) {
                abort();
            }
            /* the header is never decrypted */
            if (buf && size >= 32 && memcmp(buf, data, 32) != 0) {
                abort();
            }
            free(buf);
            fwt_decrypt_io_close(&d);
        }
        break;
    }
    case 4: {
        char *s = malloc(size + 2);
        if (!s) {
            return 0;
        }
        memcpy(s, data, size);
        s[size] = 0;
        s[size + 1] = 0;
        const char *tag = s, *val = s + strlen(s) + 1; /* TAG NUL VALUE (or empty) */
        if ((size_t)(val - s) > size) {
            val = s + size + 1;
        }
        uint8_t buf[256];
        struct fwt_custom_tlv t;
        if (fwt_custom_tlv_parse(tag, val, buf, sizeof(buf), &t) == FWT_OK &&
            (t.type < 0xa0 || t.type == 0xffff ||
             (t.type >= FWT_TLV_VENDOR_FIRST && t.type <= FWT_TLV_VENDOR_LAST) ||
             (t.val == buf && t.len > sizeof(buf)))) {
            abort();
        }
        free(s);
        break;
    }
    case 5: {
        char path[] = "/tmp/fuzz_image_enc_fileXXXXXX";
        int fd = mkstemp(path);
        if (fd < 0) {
            return 0;
        }
        if (write(fd, data, size) != (ssize_t)size) {
            close(fd);
            unlink(path);
            return 0;
        }
        close(fd);
        fwt_enckey *k = NULL;
        if (fwt_enckey_load(path, &k) == FWT_OK) {
            if (fwt_enckey_kind(k) < FWT_ENCKEY_RSA2048 || fwt_enckey_kind(k) > FWT_ENCKEY_KW) {
                abort();
            }
            fwt_enckey_free(k);
        }
        uint8_t sig[1024];
        size_t sl = 0;
        if (fwt_signature_file_read(path, sig, sizeof(sig), &sl) == FWT_OK &&
            (sl == 0 || sl > sizeof(sig))) {
            abort();
        }
        unlink(path);
        break;
    }
    default: {
        static const uint16_t types[] = {FWT_TLV_ENC_RSA2048, FWT_TLV_ENC_KW, FWT_TLV_ENC_EC256,
                                         FWT_TLV_ENC_X25519, FWT_TLV_ENC_X25519_SHA512, 0x35};
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
            size_t pl, tl, kl;
            if (fwt_enc_tlv_layout(types[i], size, &pl, &tl, &kl) == FWT_OK &&
                (pl + tl + kl != size || (kl != 16 && kl != 32 && kl != 24 && kl != 40 &&
                                          kl != 256))) {
                abort();
            }
        }
        break;
    }
    }
    return 0;
}
