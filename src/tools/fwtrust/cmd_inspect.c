/* fwtrust inspect: decode every header field and TLV of an image (no trust decision). */
#include "image_cmd.h"
#include <fwtrust/fwt_imagefile.h>

#include <stdlib.h>

static const char *const k_prog = "fwtrust inspect";

#define WORK_SIZE (1024U * 1024U)

static int g_json;

static const struct fwt_opt k_opts[] = {
    FWT_OPT_FLAG_(0, "json", &g_json, "print as JSON"),
    FWT_OPT_END_,
};

static const struct fwt_cli_prog k_cli = {
    .name = "fwtrust inspect",
    .operands = "IMAGE",
    .min_args = 1,
    .max_args = 1,
    .description =
        "IMAGE is a binary image, or Intel HEX when its name ends in .hex.\n"
        "Show every header field and every TLV of IMAGE, decoded; TLVs fwtrust does not know\n"
        "are shown raw. Also reports padding and an MCUboot boot trailer after the image.\n"
        "inspect checks structure only: it never says an image is trustworthy (use verify).",
    .opts = k_opts,
    .epilog = "Exit status (docs/exit-codes.md): 0 structure valid; 1 usage; 2 I/O; 8 not found;\n"
              "20 malformed (what could be decoded is still printed); 27 unsupported.",
};

static const char *tlv_name(uint16_t t)
{
    const struct fwt_hash_desc *h = fwt_hash_by_tlv(t);
    if (h) {
        return h->upper; /* "SHA256", ... */
    }
    switch (t) {
    case FWT_TLV_KEYHASH:
        return "KEYHASH";
    case FWT_TLV_PUBKEY:
        return "PUBKEY";
    case FWT_TLV_RSA2048_PSS:
        return "RSA2048_PSS";
    case FWT_TLV_ECDSA224:
        return "ECDSA224";
    case FWT_TLV_ECDSA_SIG:
        return "ECDSA_SIG";
    case FWT_TLV_RSA3072_PSS:
        return "RSA3072_PSS";
    case FWT_TLV_ED25519:
        return "ED25519";
    case FWT_TLV_SIG_PURE:
        return "SIG_PURE";
    case FWT_TLV_DEPENDENCY:
        return "DEPENDENCY";
    case FWT_TLV_SEC_CNT:
        return "SEC_CNT";
    case FWT_TLV_BOOT_RECORD:
        return "BOOT_RECORD";
    case FWT_TLV_ENC_RSA2048:
        return "ENC_RSA2048";
    case FWT_TLV_ENC_KW:
        return "ENC_KW";
    case FWT_TLV_ENC_EC256:
        return "ENC_EC256";
    case FWT_TLV_ENC_X25519:
        return "ENC_X25519";
    case FWT_TLV_ENC_X25519_SHA512:
        return "ENC_X25519_SHA512";
    case FWT_TLV_FORMAT:
        return "FWT_FORMAT";
    case FWT_TLV_HW_ID:
        return "FWT_HW_ID";
    case FWT_TLV_PROVENANCE:
        return "FWT_PROVENANCE";
    case FWT_TLV_CERT:
        return "FWT_CERT";
    default:
        return NULL;
    }
}

static json_t *hex_json(const uint8_t *b, size_t n)
{
    char *h = malloc(2 * n + 1);
    if (!h) {
        return json_null();
    }
    fwt_hex_encode(b, n, h);
    json_t *s = json_string(h);
    free(h);
    return s;
}

/* Decode a TLV value of an image in byte order `order` into o; a one-line summary into sum. */
static void decode(unsigned order, uint16_t t, const uint8_t *v, uint16_t len, json_t *o, char *sum,
                   size_t sumlen)
{
    char hx[2 * 64 + 1];
    size_t show = len > 32 ? 32 : len;
    fwt_hex_encode(v, show, hx);
    snprintf(sum, sumlen, "%s%s", hx, len > show ? "..." : "");
    switch (t) {
    case FWT_TLV_SEC_CNT:
        if (len == 4) {
            json_object_set_new(o, "security_counter", json_integer(fwt_image_u32(order, v)));
            snprintf(sum, sumlen, "%u", (unsigned)fwt_image_u32(order, v));
        }
        break;
    case FWT_TLV_SIG_PURE:
        if (len == 1) {
            json_object_set_new(o, "pure", json_boolean(v[0] == 1));
            snprintf(sum, sumlen, "%u", (unsigned)v[0]);
        }
        break;
    case FWT_TLV_FORMAT:
        if (len == 4) {
            json_object_set_new(o, "format_version", json_integer(v[0]));
            json_object_set_new(o, "min_reader_version", json_integer(v[1]));
            snprintf(sum, sumlen, "format version %u, readers >= %u", (unsigned)v[0],
                     (unsigned)v[1]);
        }
        break;
    case FWT_TLV_HW_ID:
        if (fwt_is_printable(v, len)) {
            json_object_set_new(o, "hw_id", json_stringn((const char *)v, len));
            snprintf(sum, sumlen, "\"%.*s\"", (int)len, (const char *)v);
        }
        break;
    case FWT_TLV_DEPENDENCY: {
        struct fwt_dependency d;
        if (fwt_dependency_decode_order(v, len, order, &d) == FWT_OK) {
            char vs[48];
            fwt_version_format(&d.min, vs, sizeof(vs));
            json_object_set_new(o, "image_id", json_integer(d.image_id));
            json_object_set_new(o, "min_version", json_string(vs));
            snprintf(sum, sumlen, "image %u >= %s", (unsigned)d.image_id, vs);
        }
        break;
    }
    case FWT_TLV_BOOT_RECORD: {
        struct fwt_boot_record br;
        if (fwt_boot_record_decode(v, len, &br) == FWT_OK) {
            json_t *bj = json_pack("{s:s, s:s, s:s}", "sw_type", br.sw_type, "version",
                                   br.version, "measurement_description", br.measurement_desc);
            if (bj) {
                json_object_set_new(bj, "signer_id", hex_json(br.signer_id, br.signer_id_len));
                json_object_set_new(bj, "measurement_value",
                                    hex_json(br.measurement, br.measurement_len));
            }
            json_object_set_new(o, "boot_record", bj);
            snprintf(sum, sumlen, "sw_type %s, version %s, %s measurement", br.sw_type,
                     br.version, br.measurement_desc);
        }
        break;
    }
    case FWT_TLV_ENC_RSA2048:
    case FWT_TLV_ENC_KW:
    case FWT_TLV_ENC_EC256:
    case FWT_TLV_ENC_X25519:
    case FWT_TLV_ENC_X25519_SHA512: {
        size_t pl, tl, kl;
        if (fwt_enc_tlv_layout(t, len, &pl, &tl, &kl) == FWT_OK) {
            if (pl) {
                json_object_set_new(o, "ephemeral_public_key", hex_json(v, pl));
                json_object_set_new(o, "hmac_tag", hex_json(v + pl, tl));
            }
            json_object_set_new(o, pl ? "encrypted_key" : "wrapped_key",
                                hex_json(v + pl + tl, kl));
            snprintf(sum, sumlen, "%s%s image key (%zu bytes%s)",
                     t == FWT_TLV_ENC_RSA2048 ? "RSA-OAEP wrapped"
                     : t == FWT_TLV_ENC_KW    ? "AES key-wrapped"
                                              : "ECIES-encrypted",
                     t == FWT_TLV_ENC_X25519_SHA512 ? " (HMAC-SHA512)" : "", kl,
                     pl ? ", ephemeral key and tag" : "");
        }
        break;
    }
    case FWT_TLV_CERT: {
        struct fwt_cert c;
        if (fwt_cert_parse(v, len, &c) == FWT_OK) {
            uint8_t kh[32];
            char rh[65], khx[65];
            fwt_hex_encode(c.root_keyhash, 32, rh);
            json_t *cj = json_pack("{s:s, s:i, s:i, s:I, s:s}", "key_type",
                                   fwt_key_type_name(c.key_type), "root_sig_alg",
                                   (int)c.root_sig_alg, "key_version", (int)c.key_version,
                                   "not_after", (json_int_t)c.not_after, "root_keyhash", rh);
            if (cj && fwt_sha256(c.key, c.key_len, kh) == FWT_OK) {
                fwt_hex_encode(kh, 32, khx);
                json_object_set_new(cj, "keyhash", json_string(khx));
            }
            if (cj && c.hw_id_len && fwt_is_printable(c.hw_id, c.hw_id_len)) {
                json_object_set_new(cj, "hw_id", json_stringn((const char *)c.hw_id, c.hw_id_len));
            }
            json_object_set_new(o, "certificate", cj);
            snprintf(sum, sumlen, "%s key version %u, root %.16s..", fwt_key_type_name(c.key_type),
                     (unsigned)c.key_version, rh);
        } else {
            json_object_set_new(o, "certificate", json_string("unparseable"));
        }
        break;
    }
    default:
        break;
    }
}

static void trailer_info(const struct fwt_io *io, uint32_t total, unsigned order, json_t *root)
{
    if (total == 0 || io->size <= total) {
        return;
    }
    uint32_t after = io->size - total;
    json_t *tj = json_pack("{s:I}", "bytes_after_image", (json_int_t)after);
    uint8_t m[FWT_BOOT_MAGIC_SIZE];
    struct fwt_trailer std;
    if (after >= FWT_BOOT_MAGIC_SIZE &&
        io->read(io->ctx, io->size - FWT_BOOT_MAGIC_SIZE, m, sizeof(m)) == FWT_OK &&
        fwt_trailer_layout(8, &std) == FWT_OK) {
        uint32_t max_align = 0;
        if (!memcmp(m, std.magic, sizeof(m))) {
            max_align = 8;
        } else {
            /* imgtool --max-align 16|32: the magic starts with it, in the image's byte order */
            struct fwt_trailer alt;
            struct fwt_trailer_opts ao;
            memset(&ao, 0, sizeof(ao));
            ao.align = 8;
            ao.max_align = fwt_image_u16(order, m);
            ao.big_endian = order == FWT_ORDER_BIG;
            uint32_t a = ao.max_align;
            if ((a == 16 || a == 32) && fwt_trailer_layout_ex(&ao, &alt) == FWT_OK &&
                !memcmp(m, alt.magic, sizeof(m))) {
                max_align = a;
            }
        }
        json_object_set_new(tj, "boot_magic", json_boolean(max_align != 0));
        if (max_align) {
            uint32_t magic_align = (FWT_BOOT_MAGIC_SIZE + max_align - 1) & ~(max_align - 1);
            uint8_t ok = 0;
            json_object_set_new(tj, "max_align", json_integer(max_align));
            if (after >= magic_align + max_align &&
                io->read(io->ctx, io->size - magic_align - max_align, &ok, 1) == FWT_OK) {
                json_object_set_new(tj, "image_ok", json_integer(ok));
            }
        }
    }
    json_object_set_new(root, "trailer", tj);
}

static void print_text(json_t *root)
{
    json_t *h = json_object_get(root, "header");
    if (h) {
        printf("header:\n");
        printf("  magic          0x%08llx (%s endian)\n",
               (unsigned long long)json_integer_value(json_object_get(h, "magic")),
               json_string_value(json_object_get(h, "byte_order")));
        printf("  load_addr      0x%08llx\n", (unsigned long long)json_integer_value(json_object_get(h, "load_addr")));
        printf("  hdr_size       %lld\n", (long long)json_integer_value(json_object_get(h, "hdr_size")));
        printf("  prot_tlv_size  %lld\n", (long long)json_integer_value(json_object_get(h, "prot_tlv_size")));
        printf("  img_size       %lld\n", (long long)json_integer_value(json_object_get(h, "img_size")));
        printf("  flags          0x%08llx", (unsigned long long)json_integer_value(json_object_get(h, "flags")));
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(h, "flag_names"), i, f) {
            printf(" %s", json_string_value(f));
        }
        printf("\n  version        %s\n", json_string_value(json_object_get(h, "version")));
    }
    size_t i;
    json_t *t;
    json_t *tlvs = json_object_get(root, "tlvs");
    if (json_array_size(tlvs)) {
        printf("tlvs:\n");
    }
    json_array_foreach(tlvs, i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        printf("  %-11s 0x%04llx %-14s off 0x%06llx len %4lld  %s\n",
               json_string_value(json_object_get(t, "area")),
               (unsigned long long)json_integer_value(json_object_get(t, "type")),
               name ? name : "(unknown)",
               (unsigned long long)json_integer_value(json_object_get(t, "offset")),
               (long long)json_integer_value(json_object_get(t, "length")),
               json_string_value(json_object_get(t, "summary")));
    }
    json_t *tr = json_object_get(root, "trailer");
    if (tr) {
        printf("after the image: %lld bytes", (long long)json_integer_value(json_object_get(tr, "bytes_after_image")));
        if (json_is_true(json_object_get(tr, "boot_magic"))) {
            printf(", boot trailer magic (max align %lld)",
                   (long long)json_integer_value(json_object_get(tr, "max_align")));
            json_t *ok = json_object_get(tr, "image_ok");
            if (ok) {
                printf(", image_ok 0x%02llx%s", (unsigned long long)json_integer_value(ok),
                       json_integer_value(ok) == 1 ? " (confirmed)" : "");
            }
        }
        printf("\n");
    }
    json_t *tot = json_object_get(root, "total_size");
    if (tot) {
        printf("total size (header + payload + TLVs): %lld\n", (long long)json_integer_value(tot));
    }
}

static int run(int argc, char **argv)
{
    struct fwt_cli_args args;
    int rc = fwt_cli_parse(&k_cli, argc, argv, &args);
    if (rc >= 0) {
        return rc;
    }
    int json = g_json;
    const char *path = args.argv[0];
    struct fwt_file_io fio;
    fwt_err err = fwt_file_io_open_any(&fio, path);
    if (err != FWT_OK) {
        if (json) {
            fwt_cli_json_print(fwt_cli_json_error(err));
        }
        return fwt_cli_error(k_prog, err);
    }
    uint8_t *work = malloc(WORK_SIZE);
    uint8_t *val = malloc(0x10000);
    json_t *root = json_object();
    json_t *tlvs = json_array();
    if (!work || !val || !root || !tlvs) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
        goto out;
    }
    json_object_set_new(root, "image", json_string(path));
    json_object_set_new(root, "file_size", json_integer(fio.io.size));
    uint8_t raw[FWT_IMAGE_HEADER_SIZE];
    struct fwt_image_header hdr;
    if (fio.io.size < FWT_IMAGE_HEADER_SIZE) {
        err = fwt_fail(FWT_E_MALFORMED, "%s: %u bytes, shorter than an image header", path,
                       (unsigned)fio.io.size);
        goto out;
    }
    if (fio.io.read(fio.io.ctx, 0, raw, sizeof(raw)) != FWT_OK) {
        err = fwt_fail(FWT_E_IO, "%s: read error", path);
        goto out;
    }
    err = fwt_header_decode(raw, &hdr);
    if (err != FWT_OK) {
        err = fwt_fail(err, "%s: no image header (magic 0x%08x little endian, 0x%08x big endian; "
                       "expected 0x%08x in either byte order)", path,
                       (unsigned)fwt_image_u32(FWT_ORDER_LITTLE, raw),
                       (unsigned)fwt_image_u32(FWT_ORDER_BIG, raw), FWT_IMAGE_MAGIC);
        goto out;
    }
    {
        char vs[48];
        fwt_version_format(&hdr.version, vs, sizeof(vs));
        json_t *names = json_array();
        static const struct {
            uint32_t bit;
            const char *name;
        } k_flags[] = {{FWT_IMAGE_F_PIC, "PIC"},
                       {FWT_IMAGE_F_ENCRYPTED_AES128, "ENCRYPTED_AES128"},
                       {FWT_IMAGE_F_ENCRYPTED_AES256, "ENCRYPTED_AES256"},
                       {FWT_IMAGE_F_NON_BOOTABLE, "NON_BOOTABLE"},
                       {FWT_IMAGE_F_RAM_LOAD, "RAM_LOAD"},
                       {FWT_IMAGE_F_ROM_FIXED, "ROM_FIXED"}};
        uint32_t known = 0;
        for (size_t i = 0; i < sizeof(k_flags) / sizeof(k_flags[0]); i++) {
            known |= k_flags[i].bit;
            if (hdr.flags & k_flags[i].bit) {
                json_array_append_new(names, json_string(k_flags[i].name));
            }
        }
        if (hdr.flags & ~known) {
            json_array_append_new(names, json_string("UNKNOWN"));
        }
        json_object_set_new(root, "header",
                            json_pack("{s:I, s:s, s:I, s:i, s:i, s:I, s:I, s:o, s:s, s:I}",
                                      "magic", (json_int_t)hdr.magic, "byte_order",
                                      hdr.byte_order == FWT_ORDER_BIG ? "big" : "little",
                                      "load_addr", (json_int_t)hdr.load_addr,
                                      "hdr_size", (int)hdr.hdr_size, "prot_tlv_size",
                                      (int)hdr.prot_tlv_size, "img_size", (json_int_t)hdr.img_size,
                                      "flags", (json_int_t)hdr.flags, "flag_names", names,
                                      "version", vs, "pad",
                                      (json_int_t)fwt_image_u32(hdr.byte_order, raw + 28)));
    }
    struct fwt_image_info info;
    memset(&info, 0, sizeof(info));
    fwt_detail_clear();
    fwt_err perr = fwt_image_parse(&fio.io, work, WORK_SIZE, &info);
    char pdetail[256];
    snprintf(pdetail, sizeof(pdetail), "%s", fwt_detail());
    /* Every TLV of both areas, as far as the structure allows. */
    for (int area = 1; area >= 0; area--) {
        struct fwt_tlv_iter it;
        fwt_err ierr = fwt_tlv_iter_begin(&it, &fio.io, &hdr, area);
        if (ierr == FWT_E_NOT_FOUND) {
            continue;
        }
        if (ierr != FWT_OK) {
            if (perr == FWT_OK) {
                perr = ierr;
            }
            break;
        }
        uint16_t type, len;
        uint32_t off;
        while ((ierr = fwt_tlv_next(&it, &type, &off, &len)) == FWT_OK) {
            if (fio.io.read(fio.io.ctx, off, val, len) != FWT_OK) {
                ierr = FWT_E_IO;
                break;
            }
            const char *name = tlv_name(type);
            char sum[256];
            json_t *t = json_pack("{s:s, s:i, s:I, s:i}", "area",
                                  area ? "protected" : "unprotected", "type", (int)type, "offset",
                                  (json_int_t)off, "length", (int)len);
            json_object_set_new(t, "name", name ? json_string(name) : json_null());
            json_object_set_new(t, "value", hex_json(val, len));
            decode(hdr.byte_order, type, val, len, t, sum, sizeof(sum));
            json_object_set_new(t, "summary", json_string(sum));
            json_array_append_new(tlvs, t);
        }
        if (ierr != FWT_E_NOT_FOUND && perr == FWT_OK) {
            perr = ierr;
        }
    }
    json_object_set(root, "tlvs", tlvs);
    if (perr == FWT_OK) {
        json_object_set_new(root, "total_size", json_integer(info.total_size));
        json_object_set_new(root, "format_version", json_integer(info.format_version));
        trailer_info(&fio.io, info.total_size, hdr.byte_order, root);
        err = FWT_OK;
    } else {
        err = fwt_fail(perr, "%s: %s", path, pdetail[0] ? pdetail : fwt_strerror(perr));
    }
out:
    if (root && json_object_get(root, "header")) {
        json_object_set_new(root, "ok", json_boolean(err == FWT_OK));
        json_object_set_new(root, "result", json_string(fwt_err_name(err)));
        if (err != FWT_OK) {
            json_object_set_new(root, "detail", json_string(fwt_detail()));
        }
        if (json) {
            fwt_cli_json_print(json_incref(root));
        } else {
            print_text(root);
        }
    } else if (json) {
        fwt_cli_json_print(fwt_cli_json_error(err));
    }
    json_decref(root);
    json_decref(tlvs);
    free(work);
    free(val);
    fwt_file_io_close(&fio);
    if (err != FWT_OK) {
        return fwt_cli_error(k_prog, err);
    }
    return 0;
}

const struct fwt_command fwt_cmd_inspect = {"inspect", "decode an image's header and TLVs", run};
