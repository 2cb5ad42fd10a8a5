/*
 * Image structure: header decoding, bounded TLV iteration, and the structural
 * checks every caller shares (fwt_image_parse and fwt_image_verify run the
 * same code, so an inspector and the verifier can never disagree about what
 * an image contains). Freestanding.
 */
#include "core_internal.h"

#include <string.h>

#define ENC_FLAGS (FWT_IMAGE_F_ENCRYPTED_AES128 | FWT_IMAGE_F_ENCRYPTED_AES256)
#define KNOWN_FLAGS                                                                              \
    (FWT_IMAGE_F_PIC | FWT_IMAGE_F_NON_BOOTABLE | FWT_IMAGE_F_RAM_LOAD | FWT_IMAGE_F_ROM_FIXED | \
     ENC_FLAGS)

uint32_t fwt_enc_tlv_len(uint16_t tlv, uint32_t key_len)
{
    if (key_len != 16 && key_len != 32) {
        return 0;
    }
    switch (tlv) {
    case FWT_TLV_ENC_RSA2048:
        return 256; /* RSA-2048 OAEP ciphertext */
    case FWT_TLV_ENC_KW:
        return key_len + 8; /* RFC 3394: one 64-bit block more */
    case FWT_TLV_ENC_EC256:
        return 65 + 32 + key_len; /* uncompressed point, HMAC-SHA256 tag, key */
    case FWT_TLV_ENC_X25519:
        return 32 + 32 + key_len;
    case FWT_TLV_ENC_X25519_SHA512:
        return 32 + 64 + key_len; /* HMAC-SHA512 tag */
    default:
        return 0;
    }
}

static FWT_MUST_CHECK int is_enc_tlv(uint16_t t)
{
    return t >= FWT_TLV_ENC_RSA2048 && t <= FWT_TLV_ENC_X25519_SHA512;
}

uint16_t fwt_image_u16(unsigned order, const uint8_t *p)
{
    return fwt_ld16(order, p);
}

uint32_t fwt_image_u32(unsigned order, const uint8_t *p)
{
    return fwt_ld32(order, p);
}

fwt_err fwt_image_order(const uint8_t magic[4], unsigned *order)
{
    if (!magic || !order) {
        return FWT_E_ARG;
    }
    if (fwt_le32(magic) == FWT_IMAGE_MAGIC) {
        *order = FWT_ORDER_LITTLE;
        return FWT_OK;
    }
    if (fwt_ld32(FWT_ORDER_BIG, magic) == FWT_IMAGE_MAGIC) {
        *order = FWT_ORDER_BIG;
        return FWT_OK;
    }
    return FWT_E_MALFORMED; /* neither order's magic (a mix of the two is neither) */
}

/* imgtool's big-endian TLV types: 'BBH' (type byte, zero) for MCUboot's own,
 * below FIRST_WIDE; 'HH' (big-endian u16) for every other. */
#define FIRST_WIDE 0xa0U

fwt_err fwt_tlv_type_decode(unsigned order, const uint8_t b[2], uint16_t *type)
{
    if (!b || !type) {
        return FWT_E_ARG;
    }
    if (order != FWT_ORDER_BIG) {
        *type = fwt_le16(b);
        return FWT_OK;
    }
    if (b[1] == 0) {
        if (b[0] >= FIRST_WIDE) {
            return FWT_E_MALFORMED; /* type 0x00XX in the wrong form, or 0xXX00: none */
        }
        *type = b[0];
        return FWT_OK;
    }
    if (b[0] == 0 && b[1] < FIRST_WIDE) {
        return FWT_E_MALFORMED; /* an MCUboot type written as a u16: not its encoding */
    }
    *type = (uint16_t)((uint16_t)(b[0] << 8) | b[1]);
    return FWT_OK;
}

fwt_err fwt_tlv_type_encode(unsigned order, uint16_t type, uint8_t b[2])
{
    if (!b) {
        return FWT_E_ARG;
    }
    if (order != FWT_ORDER_BIG) {
        b[0] = (uint8_t)type;
        b[1] = (uint8_t)(type >> 8);
        return FWT_OK;
    }
    if (type < FIRST_WIDE) {
        b[0] = (uint8_t)type;
        b[1] = 0;
        return FWT_OK;
    }
    if ((type & 0xffU) == 0) {
        return FWT_E_ARG; /* would read back as type >> 8 */
    }
    b[0] = (uint8_t)(type >> 8);
    b[1] = (uint8_t)type;
    return FWT_OK;
}

fwt_err fwt_header_decode(const uint8_t raw[32], struct fwt_image_header *hdr)
{
    if (!raw || !hdr) {
        return FWT_E_ARG;
    }
    memset(hdr, 0, sizeof(*hdr));
    unsigned o = FWT_ORDER_LITTLE;
    fwt_err e = fwt_image_order(raw, &o);
    hdr->byte_order = (uint8_t)o;
    hdr->magic = fwt_ld32(o, raw + 0);
    hdr->load_addr = fwt_ld32(o, raw + 4);
    hdr->hdr_size = fwt_ld16(o, raw + 8);
    hdr->prot_tlv_size = fwt_ld16(o, raw + 10);
    hdr->img_size = fwt_ld32(o, raw + 12);
    hdr->flags = fwt_ld32(o, raw + 16);
    hdr->version.major = raw[20];
    hdr->version.minor = raw[21];
    hdr->version.revision = fwt_ld16(o, raw + 22);
    hdr->version.build = fwt_ld32(o, raw + 24);
    /* raw[28..31] is MCUboot's _pad1: ignored, as MCUboot does. */
    return e == FWT_OK && hdr->magic == FWT_IMAGE_MAGIC ? FWT_OK : FWT_E_MALFORMED;
}

/* Offsets of both areas, checked against io->size; no reads. */
static FWT_MUST_CHECK fwt_err area_bounds(const struct fwt_io *io, const struct fwt_image_header *hdr,
                           uint32_t *prot_off, uint32_t *unprot_off)
{
    if (hdr->hdr_size < FWT_IMAGE_HEADER_SIZE) {
        return FWT_E_MALFORMED;
    }
    uint32_t p, u;
    if (fwt_add_u32(hdr->hdr_size, hdr->img_size, &p) != 0 || p > io->size) {
        return FWT_E_MALFORMED; /* header + payload run past the end */
    }
    if (hdr->prot_tlv_size != 0 && hdr->prot_tlv_size < FWT_TLV_INFO_SIZE) {
        return FWT_E_MALFORMED;
    }
    if (fwt_add_u32(p, hdr->prot_tlv_size, &u) != 0 || u > io->size) {
        return FWT_E_MALFORMED;
    }
    *prot_off = p;
    *unprot_off = u;
    return FWT_OK;
}

fwt_err fwt_tlv_iter_begin(struct fwt_tlv_iter *it, const struct fwt_io *io,
                           const struct fwt_image_header *hdr, int protected_area)
{
    if (!it || !io || !io->read || !hdr) {
        return FWT_E_ARG;
    }
    memset(it, 0, sizeof(*it));
    uint32_t p, u, off, end;
    fwt_err e = area_bounds(io, hdr, &p, &u);
    if (e != FWT_OK) {
        return e;
    }
    if (protected_area && hdr->prot_tlv_size == 0) {
        return FWT_E_NOT_FOUND;
    }
    off = protected_area ? p : u;
    uint8_t info[FWT_TLV_INFO_SIZE];
    if (fwt_add_u32(off, FWT_TLV_INFO_SIZE, &end) != 0 || end > io->size) {
        return FWT_E_MALFORMED;
    }
    e = fwt_core_read(io, off, info, sizeof(info));
    if (e != FWT_OK) {
        return e;
    }
    unsigned order = hdr->byte_order == FWT_ORDER_BIG ? FWT_ORDER_BIG : FWT_ORDER_LITTLE;
    uint16_t magic = fwt_ld16(order, info);
    uint16_t tot = fwt_ld16(order, info + 2);
    if (magic != (protected_area ? FWT_TLV_PROT_INFO_MAGIC : FWT_TLV_INFO_MAGIC)) {
        return FWT_E_MALFORMED;
    }
    if (tot < FWT_TLV_INFO_SIZE) {
        return FWT_E_MALFORMED;
    }
    if (protected_area && tot != hdr->prot_tlv_size) {
        return FWT_E_MALFORMED; /* header and area disagree on the protected size */
    }
    if (fwt_add_u32(off, tot, &end) != 0 || end > io->size) {
        return FWT_E_MALFORMED;
    }
    it->io = io;
    it->pos = off + FWT_TLV_INFO_SIZE;
    it->end = end;
    it->order = order;
    return FWT_OK;
}

fwt_err fwt_tlv_next(struct fwt_tlv_iter *it, uint16_t *type, uint32_t *val_off, uint16_t *val_len)
{
    if (!it || !it->io || !type || !val_off || !val_len) {
        return FWT_E_ARG;
    }
    if (it->pos == it->end) {
        return FWT_E_NOT_FOUND;
    }
    /* pos < end always holds; guard anyway so the subtraction cannot wrap. */
    if (it->pos > it->end || it->end - it->pos < FWT_TLV_HDR_SIZE) {
        return FWT_E_MALFORMED; /* 1..3 stray bytes: no room for a TLV header */
    }
    uint8_t h[FWT_TLV_HDR_SIZE];
    fwt_err e = fwt_core_read(it->io, it->pos, h, sizeof(h));
    if (e != FWT_OK) {
        return e;
    }
    uint16_t len = fwt_ld16(it->order, h + 2);
    if ((uint32_t)len > it->end - it->pos - FWT_TLV_HDR_SIZE) {
        return FWT_E_MALFORMED; /* value runs past the area */
    }
    uint16_t t;
    if (fwt_tlv_type_decode(it->order, h, &t) != FWT_OK) {
        return FWT_E_MALFORMED;
    }
    *type = t;
    *val_off = it->pos + FWT_TLV_HDR_SIZE;
    *val_len = len;
    it->pos += FWT_TLV_HDR_SIZE + (uint32_t)len;
    return FWT_OK;
}

static FWT_MUST_CHECK int is_sig_tlv(uint16_t t)
{
    return fwt_core_alg_by_tlv(t) != NULL;
}

static FWT_MUST_CHECK int is_hash_tlv(uint16_t t)
{
    return fwt_core_hash_by_tlv(t) != NULL;
}

static FWT_MUST_CHECK int is_known_vendor(uint16_t t)
{
    return t == FWT_TLV_FORMAT || t == FWT_TLV_HW_ID || t == FWT_TLV_PROVENANCE ||
           t == FWT_TLV_CERT;
}

static FWT_MUST_CHECK int is_vendor(uint16_t t)
{
    return t >= FWT_TLV_VENDOR_FIRST && t <= FWT_TLV_VENDOR_LAST;
}

/* The protected area: security counter, our fields, MCUboot's others (ignored). */
static FWT_MUST_CHECK fwt_err parse_protected(const struct fwt_io *io, const struct fwt_image_header *hdr,
                               uint8_t *buf, struct fwt_image_info *info, int *pure)
{
    struct fwt_tlv_iter it;
    fwt_err e = fwt_tlv_iter_begin(&it, io, hdr, 1);
    if (e == FWT_E_NOT_FOUND) {
        return FWT_OK;
    }
    if (e != FWT_OK) {
        return e;
    }
    int seen_fmt = 0, seen_hw = 0, seen_prov = 0;
    for (;;) {
        uint16_t t, len;
        uint32_t off;
        e = fwt_tlv_next(&it, &t, &off, &len);
        if (e == FWT_E_NOT_FOUND) {
            return FWT_OK;
        }
        if (e != FWT_OK) {
            return e;
        }
        if (is_vendor(t) && !is_known_vendor(t)) {
            return FWT_E_UNSUPPORTED; /* critical TLV this verifier does not know */
        }
        if (is_hash_tlv(t) || is_sig_tlv(t) || t == FWT_TLV_KEYHASH || t == FWT_TLV_PUBKEY ||
            t == FWT_TLV_CERT || t == FWT_TLV_ECDSA224 || is_enc_tlv(t)) {
            return FWT_E_MALFORMED; /* these belong in the unprotected area */
        }
        switch (t) {
        case FWT_TLV_SEC_CNT:
            if (len != 4 || info->has_security_counter) {
                return FWT_E_MALFORMED;
            }
            if ((e = fwt_core_read(io, off, buf, 4)) != FWT_OK) {
                return e;
            }
            info->security_counter = fwt_ld32(hdr->byte_order, buf);
            info->has_security_counter = 1;
            break;
        case FWT_TLV_SIG_PURE:
            if (len != 1 || *pure) {
                return FWT_E_MALFORMED;
            }
            if ((e = fwt_core_read(io, off, buf, 1)) != FWT_OK) {
                return e;
            }
            if (buf[0] != 1) {
                return FWT_E_MALFORMED;
            }
            *pure = 1;
            break;
        case FWT_TLV_FORMAT:
            if (len != 4 || seen_fmt) {
                return FWT_E_MALFORMED;
            }
            if ((e = fwt_core_read(io, off, buf, 4)) != FWT_OK) {
                return e;
            }
            if (buf[0] > FWT_FORMAT_VERSION || buf[1] > FWT_FORMAT_VERSION) {
                return FWT_E_UNSUPPORTED; /* a newer format: refuse rather than misread */
            }
            if (buf[0] == 0 || buf[1] == 0 || buf[1] > buf[0] || fwt_le16(buf + 2) != 0) {
                return FWT_E_MALFORMED;
            }
            info->format_version = buf[0];
            seen_fmt = 1;
            break;
        case FWT_TLV_HW_ID:
            if (len == 0 || len > FWT_HW_ID_MAX || seen_hw) {
                return FWT_E_MALFORMED;
            }
            if ((e = fwt_core_read(io, off, info->hw_id, len)) != FWT_OK) {
                return e;
            }
            info->hw_id_len = len;
            seen_hw = 1;
            break;
        case FWT_TLV_PROVENANCE:
            if (len != 32 || seen_prov) {
                return FWT_E_MALFORMED;
            }
            if ((e = fwt_core_read(io, off, info->provenance, 32)) != FWT_OK) {
                return e;
            }
            info->has_provenance = 1;
            seen_prov = 1;
            break;
        default:
            /* DEPENDENCY, BOOT_RECORD and other MCUboot TLVs: signed, not interpreted. */
            break;
        }
    }
}

/* Length rules for the unprotected area's TLVs. */
static FWT_MUST_CHECK fwt_err check_unprot_len(uint16_t t, uint16_t len)
{
    const struct fwt_core_hash *h = fwt_core_hash_by_tlv(t);
    if (h) {
        return len == h->size ? FWT_OK : FWT_E_MALFORMED;
    }
    const struct fwt_core_alg *a = fwt_core_alg_by_tlv(t);
    if (a) {
        return (len >= a->sig_min && len <= a->sig_max) ? FWT_OK : FWT_E_MALFORMED;
    }
    switch (t) {
    case FWT_TLV_KEYHASH:
        /* a key hash by any hash of the table */
        return fwt_core_hash_by_size(len) ? FWT_OK : FWT_E_MALFORMED;
    case FWT_TLV_PUBKEY:
        return (len >= 1 && len <= FWT_PUBKEY_MAX) ? FWT_OK : FWT_E_MALFORMED;
    case FWT_TLV_CERT:
        return (len >= FWT_CERT_FIXED_SIZE + 2 && len <= FWT_CERT_MAX) ? FWT_OK
                                                                         : FWT_E_MALFORMED;
    case FWT_TLV_SIG_PURE:
        return len == 1 ? FWT_OK : FWT_E_MALFORMED;
    default:
        return FWT_E_MALFORMED;
    }
}

/*
 * The unprotected area holds only: one hash TLV, then groups of
 * [CERT] KEYHASH|PUBKEY SIGNATURE. Anything else is refused (CVE-2024-32883),
 * with one exception MCUboot makes too: the SIG_PURE marker, which imgtool
 * --pure writes here (after the hash TLV). It only says how the Ed25519
 * signatures are to be checked, so adding or removing it does not make an
 * image verify: a signature over the region does not verify over the digest,
 * and one over the 32/64 digest bytes would verify over the region only if the
 * region were those very bytes (a valid header included). It must stand
 * outside a signer group, at most once in the whole image, one byte of value 1.
 */
static FWT_MUST_CHECK fwt_err parse_unprotected(const struct fwt_io *io, const struct fwt_image_header *hdr,
                                 uint8_t *work, struct fwt_image_info *info, int *pure)
{
    struct fwt_tlv_iter it;
    fwt_err e = fwt_tlv_iter_begin(&it, io, hdr, 0);
    if (e != FWT_OK) {
        return e == FWT_E_NOT_FOUND ? FWT_E_MALFORMED : e;
    }
    int n_hash = 0, pend_cert = 0, pend_key = 0;
    for (;;) {
        uint16_t t, len;
        uint32_t off;
        e = fwt_tlv_next(&it, &t, &off, &len);
        if (e == FWT_E_NOT_FOUND) {
            break;
        }
        if (e != FWT_OK) {
            return e;
        }
        if (is_vendor(t) && !is_known_vendor(t)) {
            return FWT_E_UNSUPPORTED;
        }
        if (t == FWT_TLV_ECDSA224) {
            return FWT_E_UNSUPPORTED; /* withdrawn by MCUboot */
        }
        if (is_enc_tlv(t)) {
            /* The AES key, wrapped for the device: only in an encrypted image,
             * once, outside a signer group, exactly the length its type and
             * the header's key size give (a truncated one is refused here). */
            if (!info->enc_key_len || info->enc_tlv || pend_cert || pend_key ||
                len != fwt_enc_tlv_len(t, info->enc_key_len)) {
                return FWT_E_MALFORMED;
            }
            info->enc_tlv = t;
            info->enc_tlv_off = off;
            info->enc_tlv_len = len;
            continue;
        }
        if (!is_hash_tlv(t) && !is_sig_tlv(t) && t != FWT_TLV_KEYHASH && t != FWT_TLV_PUBKEY &&
            t != FWT_TLV_CERT && t != FWT_TLV_SIG_PURE) {
            return FWT_E_MALFORMED; /* security TLVs only count when signed */
        }
        if ((e = check_unprot_len(t, len)) != FWT_OK) {
            return e;
        }
        if (t == FWT_TLV_SIG_PURE) {
            if (*pure || pend_cert || pend_key) {
                return FWT_E_MALFORMED; /* a second marker, or inside a signer group */
            }
            if ((e = fwt_core_read(io, off, work, 1)) != FWT_OK) {
                return e;
            }
            if (work[0] != 1) {
                return FWT_E_MALFORMED;
            }
            *pure = 1;
        } else if (is_hash_tlv(t)) {
            if (n_hash++ || pend_cert || pend_key) {
                return FWT_E_MALFORMED;
            }
            if ((e = fwt_core_read(io, off, info->digest, len)) != FWT_OK) {
                return e;
            }
            info->digest_len = len;
            info->hash_alg = (enum fwt_hash_alg)fwt_core_hash_by_tlv(t)->alg;
        } else if (t == FWT_TLV_CERT) {
            if (pend_cert || pend_key) {
                return FWT_E_MALFORMED;
            }
            struct fwt_cert c;
            if ((e = fwt_core_read(io, off, work, len)) != FWT_OK) {
                return e;
            }
            if ((e = fwt_cert_parse(work, len, &c)) != FWT_OK) {
                return e;
            }
            pend_cert = 1;
        } else if (t == FWT_TLV_KEYHASH || t == FWT_TLV_PUBKEY) {
            if (pend_key) {
                return FWT_E_MALFORMED;
            }
            pend_key = 1;
        } else { /* signature */
            if (!pend_key) {
                return FWT_E_MALFORMED; /* no key named for it */
            }
            pend_key = pend_cert = 0;
        }
    }
    if (n_hash != 1 || pend_key || pend_cert) {
        return FWT_E_MALFORMED;
    }
    if (info->enc_key_len && !info->enc_tlv) {
        return FWT_E_MALFORMED; /* encrypted, but no key to decrypt it with */
    }
    return FWT_OK;
}

fwt_err fwt_core_parse(const struct fwt_io *io, uint8_t *work, size_t work_len,
                       struct fwt_image_info *info, struct fwt_layout *lay)
{
    memset(info, 0, sizeof(*info));
    memset(lay, 0, sizeof(*lay));
    if (!io || !io->read || !work) {
        return FWT_E_ARG;
    }
    if (work_len < FWT_WORK_MIN) {
        return FWT_E_BUFFER;
    }
    if (io->size < FWT_IMAGE_HEADER_SIZE) {
        return FWT_E_MALFORMED;
    }
    fwt_err e = fwt_core_read(io, 0, work, FWT_IMAGE_HEADER_SIZE);
    if (e != FWT_OK) {
        return e;
    }
    if ((e = fwt_header_decode(work, &lay->hdr)) != FWT_OK) {
        return e;
    }
    info->hdr = lay->hdr;
    if (lay->hdr.flags & ~(uint32_t)KNOWN_FLAGS) {
        return FWT_E_UNSUPPORTED;
    }
    if ((lay->hdr.flags & ENC_FLAGS) == ENC_FLAGS) {
        return FWT_E_MALFORMED; /* AES-128 and AES-256 at once */
    }
    info->enc_key_len = (lay->hdr.flags & FWT_IMAGE_F_ENCRYPTED_AES256)   ? 32
                        : (lay->hdr.flags & FWT_IMAGE_F_ENCRYPTED_AES128) ? 16
                                                                          : 0;
    if ((e = area_bounds(io, &lay->hdr, &lay->prot_off, &lay->unprot_off)) != FWT_OK) {
        return e;
    }
    if ((e = parse_protected(io, &lay->hdr, work, info, &lay->pure)) != FWT_OK) {
        return e;
    }
    if ((e = parse_unprotected(io, &lay->hdr, work, info, &lay->pure)) != FWT_OK) {
        return e;
    }
    info->pure = (uint8_t)(lay->pure != 0);
    /* parse_unprotected checked the area lies inside io->size. */
    uint8_t ih[FWT_TLV_INFO_SIZE];
    if ((e = fwt_core_read(io, lay->unprot_off, ih, sizeof(ih))) != FWT_OK) {
        return e;
    }
    uint16_t unprot_size = fwt_ld16(lay->hdr.byte_order, ih + 2);
    lay->unprot_end = lay->unprot_off + unprot_size;
    info->prot_off = lay->prot_off;
    info->unprot_off = lay->unprot_off;
    info->unprot_size = unprot_size;
    info->total_size = lay->unprot_end;
    return FWT_OK;
}

fwt_err fwt_image_parse(const struct fwt_io *io, uint8_t *work, size_t work_len,
                        struct fwt_image_info *info)
{
    struct fwt_image_info local;
    struct fwt_layout lay;
    return fwt_core_parse(io, work, work_len, info ? info : &local, &lay);
}
