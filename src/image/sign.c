/*
 * The streaming image signer: the payload is hashed while it is copied into a
 * temporary file next to the output, then the TLV areas (and optionally the
 * slot padding and boot trailer) are appended; the temporary file is fsynced
 * and renamed over the output. Peak memory does not depend on image size.
 * Every signature is checked with the verifier's own crypto ops before the
 * output is published.
 */
#include "image_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define COPY_CHUNK (1024U * 1024U)
#define SIG_BUF_MAX 1024U
#define UNPROT_MAX 0xffffU

/* Stores in the image's byte order (FWT_ORDER_*); loads are the core's fwt_image_u16/u32. */
static void put16(uint8_t *p, unsigned order, uint16_t v)
{
    p[order == FWT_ORDER_BIG ? 1 : 0] = (uint8_t)v;
    p[order == FWT_ORDER_BIG ? 0 : 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, unsigned order, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++) {
        p[order == FWT_ORDER_BIG ? 3 - i : i] = (uint8_t)(v >> (8 * i));
    }
}

/* A growable TLV area in memory (at most 64 KiB by format). */
struct tlv_buf {
    uint8_t data[UNPROT_MAX + 1];
    size_t len;     /* including the 4-byte info header */
    unsigned order; /* the image's byte order (FWT_ORDER_*) */
};

static fwt_err tlv_add(struct tlv_buf *b, uint16_t type, const uint8_t *val, size_t len,
                       const char *what)
{
    if (len > UNPROT_MAX || b->len + FWT_TLV_HDR_SIZE + len > UNPROT_MAX) {
        return fwt_fail(FWT_E_TOO_LARGE,
                        "TLV area would exceed %u bytes when adding the %s (%zu bytes)", UNPROT_MAX,
                        what, len);
    }
    if (fwt_tlv_type_encode(b->order, type, b->data + b->len) != FWT_OK) {
        return fwt_fail(FWT_E_ARG, "the %s (TLV 0x%04x) cannot be written in a big-endian image: "
                        "imgtool's encoding of a type whose low byte is zero reads back as type "
                        "0x%02x", what, (unsigned)type, (unsigned)(type >> 8));
    }
    put16(b->data + b->len + 2, b->order, (uint16_t)len);
    if (len) {
        memcpy(b->data + b->len + 4, val, len);
    }
    b->len += FWT_TLV_HDR_SIZE + len;
    return FWT_OK;
}

static void tlv_seal(struct tlv_buf *b, uint16_t magic)
{
    put16(b->data, b->order, magic);
    put16(b->data + 2, b->order, (uint16_t)b->len);
}

fwt_err fwt_img_write_all(int fd, const void *buf, size_t len, const char *name)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return fwt_fail(FWT_E_IO, "%s: write: %s", name, strerror(errno));
        }
        p += w;
        len -= (size_t)w;
    }
    return FWT_OK;
}

fwt_err fwt_img_read_at(int fd, void *buf, size_t len, uint64_t off, const char *name)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t r = pread(fd, p, len, (off_t)off);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return fwt_fail(FWT_E_IO, "%s: read: %s", name, strerror(errno));
        }
        if (r == 0) {
            return fwt_fail(FWT_E_IO, "%s: file shrank while being read", name);
        }
        p += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return FWT_OK;
}

static fwt_err write_fill(int fd, uint8_t val, uint64_t len, const char *name)
{
    uint8_t buf[65536];
    memset(buf, val, sizeof(buf));
    while (len > 0) {
        size_t n = len > sizeof(buf) ? sizeof(buf) : (size_t)len;
        fwt_err e = fwt_img_write_all(fd, buf, n, name);
        if (e != FWT_OK) {
            return e;
        }
        len -= n;
    }
    return FWT_OK;
}

static int has_ext(const char *path, const char *ext)
{
    size_t l = strlen(path), e = strlen(ext);
    return l > e && path[l - e - 1] == '.' && strcasecmp(path + l - e, ext) == 0;
}

fwt_err fwt_tmp_create(struct fwt_tmp_out *t, const char *path)
{
    int n = snprintf(t->name, sizeof(t->name), "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof(t->name)) {
        t->fd = -1;
        return fwt_fail(FWT_E_ARG, "%s: path too long", path);
    }
    t->fd = mkstemp(t->name);
    if (t->fd < 0) {
        return fwt_fail(FWT_E_IO, "%s: cannot create a temporary file next to it: %s", path,
                        strerror(errno));
    }
    return FWT_OK;
}

void fwt_tmp_discard(struct fwt_tmp_out *t)
{
    if (t->fd >= 0) {
        close(t->fd);
        unlink(t->name);
        t->fd = -1;
    }
}

fwt_err fwt_tmp_publish(struct fwt_tmp_out *t, const char *path)
{
    if (fchmod(t->fd, 0644) != 0 || fsync(t->fd) != 0) {
        fwt_err e = fwt_fail(FWT_E_IO, "%s: %s", t->name, strerror(errno));
        fwt_tmp_discard(t);
        return e;
    }
    if (close(t->fd) != 0) {
        t->fd = -1;
        unlink(t->name);
        return fwt_fail(FWT_E_IO, "%s: close: %s", t->name, strerror(errno));
    }
    t->fd = -1;
    if (rename(t->name, path) != 0) {
        fwt_err e = fwt_fail(FWT_E_IO, "%s: rename: %s", path, strerror(errno));
        unlink(t->name);
        return e;
    }
    return fwt_fsync_parent(path);
}

/* Per-key signing material. */
struct signer {
    fwt_pubkey *pub;
    uint8_t enc[FWT_PUBKEY_MAX];
    size_t enc_len;
    uint8_t keyhash[32]; /* SHA-256: tells keys apart */
    uint16_t sig_tlv;
    enum fwt_sig_alg alg;
    size_t pad_to; /* --pad-sig: zero-pad the signature to this size (0: no padding) */
};

static fwt_err prepare_signer(fwt_privkey *key, int pure, int allow_test_key, struct signer *s,
                              size_t idx)
{
    memset(s, 0, sizeof(*s));
    fwt_err e = fwt_privkey_public(key, &s->pub);
    if (e != FWT_OK) {
        return fwt_fail(e, "key %zu: cannot get its public key%s%s", idx + 1,
                        fwt_detail()[0] ? ": " : "", fwt_detail());
    }
    if (fwt_pubkey_is_test_key(s->pub) && !allow_test_key) {
        return fwt_fail(FWT_E_TEST_KEY,
                        "key %zu is a published sample key (anyone can sign with it); use "
                        "--allow-test-key only for tests",
                        idx + 1);
    }
    s->enc_len = sizeof(s->enc);
    e = fwt_pubkey_mcuboot(s->pub, s->enc, &s->enc_len);
    if (e == FWT_OK) {
        e = fwt_pubkey_keyhash(s->pub, s->keyhash);
    }
    if (e != FWT_OK) {
        return fwt_fail(e, "key %zu: cannot encode its public key", idx + 1);
    }
    const struct fwt_alg_desc *row = fwt_alg_by_key(fwt_privkey_type(key));
    if (pure && (row == NULL || row->pure_sig == FWT_SIG_NONE)) { /* Ed25519 only */
        return fwt_fail(FWT_E_ARG, "key %zu: pure signatures need an Ed25519 key, not %s", idx + 1,
                        fwt_key_type_name(fwt_privkey_type(key)));
    }
    if (fwt_privkey_sig_max(key) > SIG_BUF_MAX) {
        return fwt_fail(FWT_E_KEY, "key %zu: signatures of %zu bytes are too large", idx + 1,
                        fwt_privkey_sig_max(key));
    }
    s->sig_tlv = fwt_privkey_sig_tlv(key, pure);
    s->alg = fwt_privkey_sig_alg(key, pure);
    if (s->sig_tlv == 0 || s->alg == FWT_SIG_NONE) {
        return fwt_fail(FWT_E_UNSUPPORTED, "key %zu: no image signature algorithm for a %s key",
                        idx + 1, fwt_key_type_name(fwt_privkey_type(key)));
    }
    return FWT_OK;
}

static fwt_err check_cert_matches(const uint8_t *cert, size_t cert_len, const struct signer *s,
                                  size_t idx)
{
    struct fwt_cert c;
    if (cert_len > FWT_CERT_MAX) {
        return fwt_fail(FWT_E_CERT, "certificate for key %zu: %zu bytes, at most %u", idx + 1,
                        cert_len, FWT_CERT_MAX);
    }
    fwt_err e = fwt_cert_parse(cert, cert_len, &c);
    if (e != FWT_OK) {
        return fwt_fail(FWT_E_CERT, "certificate for key %zu cannot be parsed (%s)", idx + 1,
                        fwt_err_name(e));
    }
    if (c.key_len != s->enc_len || fwt_ct_compare(c.key, s->enc, s->enc_len) != 0) {
        return fwt_fail(FWT_E_CERT, "certificate for key %zu certifies a different key", idx + 1);
    }
    return FWT_OK;
}

/*
 * The KEYHASH TLV value, as imgtool writes it: the key's MCUboot encoding
 * hashed with the image's hash algorithm (digest_len 32, 48 or 64 bytes), so
 * a bootloader built for that hash finds the key.
 */
static fwt_err tlv_keyhash(const struct signer *s, size_t digest_len, uint8_t out[64])
{
    const struct fwt_hash_desc *h = fwt_hash_by_size(digest_len);
    const EVP_MD *m = h ? fwt_hash_md(h->alg) : NULL;
    unsigned n = 0;
    if (m == NULL || EVP_Digest(s->enc, s->enc_len, out, &n, m, NULL) != 1 || n != digest_len) {
        return fwt_fail(FWT_E_CRYPTO, "cannot hash the public key");
    }
    return FWT_OK;
}

/*
 * Sign the signed region [0, signed_len) of the image open in fd (digest
 * already computed) with one key, check the signature with the verifier's
 * crypto ops, and append [CERT] KEYHASH|PUBKEY SIG to the area.
 */
static fwt_err sign_one(fwt_privkey *key, const struct signer *s, int embed_pubkey,
                        const uint8_t *cert, size_t cert_len, const uint8_t *digest,
                        size_t digest_len, int fd, uint32_t signed_len,
                        const struct fwt_crypto_ops *ops, struct tlv_buf *area, size_t idx,
                        const uint8_t *given, size_t given_len, uint8_t *sig_copy,
                        size_t *sig_copy_len)
{
    uint8_t sig[SIG_BUF_MAX];
    size_t sig_len = sizeof(sig);
    fwt_err e;
    if (given) {
        /* A signature made elsewhere (--fix-sig): checked below like our own. */
        if (given_len == 0 || given_len > sizeof(sig)) {
            return fwt_fail(FWT_E_SIGNATURE, "the given signature has %zu bytes", given_len);
        }
        memcpy(sig, given, given_len);
        sig_len = given_len;
        e = FWT_OK;
    } else if (s->alg == FWT_SIG_ED25519_PURE) {
        void *m = mmap(NULL, signed_len, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) {
            return fwt_fail(FWT_E_IO, "cannot map the image for a pure signature: %s",
                            strerror(errno));
        }
        e = fwt_sign_message(key, m, signed_len, sig, &sig_len);
        munmap(m, signed_len);
    } else {
        e = fwt_sign_digest(key, digest, digest_len, sig, &sig_len);
    }
    if (e != FWT_OK) {
        return fwt_fail(e, "key %zu: signing failed%s%s", idx + 1, fwt_detail()[0] ? ": " : "",
                        fwt_detail());
    }
    /* A given ECDSA signature may come padded already (imgtool --pad-sig's zeros after the
     * DER, as an offline signer that pads writes it): it goes into the TLV as given, as imgtool
     * does, and the DER in it is what must verify; padding the verifier would not accept (not
     * zeros, or longer than the curve's largest DER signature) is refused here. */
    size_t vlen = sig_len;
    if (given && (s->alg == FWT_SIG_ECDSA_P256 || s->alg == FWT_SIG_ECDSA_P384)) {
        const struct fwt_alg_desc *row = fwt_alg_by_key(fwt_pubkey_type(s->pub));
        vlen = fwt_sig_unpadded_len(s->alg, fwt_pubkey_type(s->pub), sig, sig_len);
        size_t der = sig_len >= 2 && sig[0] == 0x30 && sig[1] < 0x80 ? 2U + sig[1] : sig_len;
        if (vlen == sig_len && der < sig_len) { /* bytes after the DER, not accepted padding */
            if (row && sig_len > row->sig_size) {
                return fwt_fail(FWT_E_SIGNATURE, "the given %s signature has %zu bytes, more "
                                "than the %u of a DER signature padded as imgtool --pad-sig "
                                "pads; nothing written", fwt_key_type_name(row->key), sig_len,
                                (unsigned)row->sig_size);
            }
            return fwt_fail(FWT_E_SIGNATURE, "the given signature has %zu bytes after its DER "
                            "that are not zero padding; nothing written", sig_len - der);
        }
    }
    /* Check what we are about to publish with the verifier's own crypto. */
    struct fwt_file_io fio;
    fwt_file_io_from_fd(&fio, fd, signed_len);
    e = ops->verify(ops->ctx, s->alg, s->enc, s->enc_len,
                    s->alg == FWT_SIG_ED25519_PURE ? NULL : digest,
                    s->alg == FWT_SIG_ED25519_PURE ? signed_len : digest_len, &fio.io, sig,
                    vlen);
    if (e != FWT_OK && given) {
        return fwt_fail(FWT_E_SIGNATURE, "the given signature does not verify with the given "
                        "public key over this image's %s (%s); nothing written",
                        s->alg == FWT_SIG_ED25519_PURE ? "signed region" : "digest",
                        fwt_err_name(e));
    }
    if (e != FWT_OK) {
        return fwt_fail(FWT_E_CRYPTO, "key %zu: the new signature does not verify (%s); nothing "
                        "written", idx + 1, fwt_err_name(e));
    }
    if (s->pad_to > sig_len && s->pad_to <= sizeof(sig)) {
        /* imgtool --pad-sig: a fixed TLV size; verifiers skip the zeros after the DER. */
        memset(sig + sig_len, 0, s->pad_to - sig_len);
        sig_len = s->pad_to;
    }
    if (sig_copy) {
        memcpy(sig_copy, sig, sig_len);
        *sig_copy_len = sig_len;
    }
    if (cert) {
        e = tlv_add(area, FWT_TLV_CERT, cert, cert_len, "certificate");
        if (e != FWT_OK) {
            return e;
        }
    }
    if (embed_pubkey) {
        e = tlv_add(area, FWT_TLV_PUBKEY, s->enc, s->enc_len, "public key");
    } else {
        uint8_t kh[64];
        e = tlv_keyhash(s, digest_len, kh);
        if (e == FWT_OK) {
            e = tlv_add(area, FWT_TLV_KEYHASH, kh, digest_len, "key hash");
        }
    }
    if (e == FWT_OK) {
        e = tlv_add(area, s->sig_tlv, sig, sig_len, "signature");
    }
    return e;
}

static fwt_err hash_write(EVP_MD_CTX *md, int fd, const uint8_t *buf, size_t len,
                          const char *name)
{
    if (EVP_DigestUpdate(md, buf, len) != 1) {
        return fwt_fail(FWT_E_CRYPTO, "hashing failed");
    }
    return fwt_img_write_all(fd, buf, len, name);
}

/* Write the binary image [0, len) from src_fd as Intel HEX at base, plus the trailer marks. */
static fwt_err write_hex(int src_fd, uint64_t len, uint32_t base, const struct fwt_sign_opts *o,
                         const struct fwt_trailer *tr, int out_fd, const char *name)
{
    int dfd = dup(out_fd);
    if (dfd < 0) {
        return fwt_fail(FWT_E_IO, "%s: %s", name, strerror(errno));
    }
    FILE *f = fdopen(dfd, "w");
    if (!f) {
        close(dfd);
        return fwt_fail(FWT_E_IO, "%s: %s", name, strerror(errno));
    }
    struct fwt_ihex_writer w;
    fwt_ihex_writer_init(&w, f);
    uint8_t *buf = malloc(COPY_CHUNK);
    fwt_err e = buf ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
    uint64_t off = 0;
    if (e == FWT_OK && (uint64_t)base + (o->pad ? o->slot_size : len) > 0x100000000ULL) {
        e = fwt_fail(FWT_E_ARG, "Intel HEX output: image at 0x%08x does not fit below 4 GiB",
                     (unsigned)base);
    }
    while (e == FWT_OK && off < len) {
        size_t n = len - off > COPY_CHUNK ? COPY_CHUNK : (size_t)(len - off);
        e = fwt_img_read_at(src_fd, buf, n, off, name);
        if (e == FWT_OK) {
            e = fwt_ihex_write(&w, (uint32_t)(base + off), buf, n);
        }
        off += n;
    }
    if (e == FWT_OK && o->pad) {
        uint32_t tstart = base + o->slot_size - tr->size;
        if (o->confirm) {
            /* As imgtool writes it: one max_align-sized flash write, 0x01 then erased bytes. */
            uint8_t ok[32];
            if (tr->max_align == 0 || tr->max_align > sizeof(ok)) {
                e = fwt_fail(FWT_E_INTERNAL, "trailer alignment %u", (unsigned)tr->max_align);
            } else {
                memset(ok, o->erased_val, sizeof(ok));
                ok[0] = 0x01;
                e = fwt_ihex_write(&w, tstart + tr->image_ok_off, ok, tr->max_align);
            }
        }
        if (e == FWT_OK) {
            e = fwt_ihex_write(&w, tstart + tr->magic_off, tr->magic, sizeof(tr->magic));
        }
    }
    if (e == FWT_OK) {
        e = fwt_ihex_write_end(&w);
    }
    free(buf);
    if (fclose(f) != 0 && e == FWT_OK) {
        e = fwt_fail(FWT_E_IO, "%s: write failed", name);
    }
    return e;
}

static fwt_err check_opts(const struct fwt_sign_opts *o)
{
    if (o->n_keys > FWT_SIGN_MAX_KEYS) {
        return fwt_fail(FWT_E_ARG, "at most %d signing keys", FWT_SIGN_MAX_KEYS);
    }
    if (o->header_size < FWT_IMAGE_HEADER_SIZE || o->header_size > 0xffffU) {
        return fwt_fail(FWT_E_ARG, "header size %u must be between %u and 65535",
                        (unsigned)o->header_size, FWT_IMAGE_HEADER_SIZE);
    }
    if (o->erased_val != 0xff && o->erased_val != 0x00) {
        return fwt_fail(FWT_E_ARG, "erased value must be 0xff or 0x00");
    }
    if (o->pad && o->slot_size == 0) {
        return fwt_fail(FWT_E_ARG, "padding needs a slot size");
    }
    if (o->align != 0 || o->max_align != 0 || o->max_sectors != 0) {
        struct fwt_trailer t;
        struct fwt_trailer_opts to;
        memset(&to, 0, sizeof(to));
        to.align = o->align ? o->align : 1;
        to.max_align = o->max_align;
        to.max_sectors = o->max_sectors;
        fwt_err e = fwt_trailer_layout_ex(&to, &t); /* refuses alignments MCUboot lacks */
        if (e != FWT_OK) {
            return e;
        }
    }
    if (o->n_custom > FWT_SIGN_MAX_CUSTOM || (o->n_custom && !o->custom)) {
        return fwt_fail(FWT_E_ARG, "at most %d custom TLVs", FWT_SIGN_MAX_CUSTOM);
    }
    for (size_t i = 0; i < o->n_custom; i++) {
        uint16_t t = o->custom[i].type;
        if (t < 0xa0 || t == 0xffff || (t >= FWT_TLV_VENDOR_FIRST && t <= FWT_TLV_VENDOR_LAST)) {
            return fwt_fail(FWT_E_ARG, "custom TLV 0x%04x: outside 0x00a0-0xfffe or in fwtrust's "
                            "0x46a0-0x46ff", (unsigned)t);
        }
        for (size_t j = 0; j < i; j++) {
            if (o->custom[j].type == t) {
                return fwt_fail(FWT_E_ARG, "custom TLV 0x%04x given twice", (unsigned)t);
            }
        }
    }
    if (o->n_deps > FWT_SIGN_MAX_DEPS || (o->n_deps && !o->deps)) {
        return fwt_fail(FWT_E_ARG, "at most %d dependencies", FWT_SIGN_MAX_DEPS);
    }
    if (o->hash != FWT_HASH_NONE && !fwt_hash_by_alg(o->hash)) {
        return fwt_fail(FWT_E_ARG, "unknown image hash");
    }
    if (o->fix_sig && (!o->fix_sig_pubkey || o->n_keys)) {
        return fwt_fail(FWT_E_ARG, "a fixed signature needs the signer's public key and no "
                        "signing keys");
    }
    if (o->vector_to_sign && (!o->fix_sig_pubkey || o->n_keys || o->fix_sig)) {
        return fwt_fail(FWT_E_ARG, "exporting what to sign needs the signer's public key (to "
                        "lay the image out), and no signing key or signature");
    }
    if (o->fix_sig_pubkey && !o->fix_sig && !o->vector_to_sign) {
        return fwt_fail(FWT_E_ARG, "the signer's public key without a signature or a vector to "
                        "export");
    }
    if (o->vector_to_sign == FWT_VECTOR_PAYLOAD && o->enc_key && !o->enc_clear) {
        return fwt_fail(FWT_E_ARG, "the payload to sign is the plaintext: export the digest of "
                        "an encrypted image instead");
    }
    if (o->confirm && o->overwrite_only) {
        return fwt_fail(FWT_E_ARG, "confirm and overwrite-only exclude each other (imgtool "
                        "writes no image_ok flag into an overwrite-only trailer)");
    }
    if (o->enc_key) {
        if (o->enc_key_len != 0 && o->enc_key_len != 16 && o->enc_key_len != 32) {
            return fwt_fail(FWT_E_ARG, "encryption key length %u bits: 128 or 256",
                            8U * (unsigned)o->enc_key_len);
        }
        if (o->pure) {
            return fwt_fail(FWT_E_ARG, "pure signatures and encryption together are not "
                            "supported (imgtool signs the plaintext region; MCUboot cannot check "
                            "it before decrypting)");
        }
        if (o->enc_hmac_sha512 && fwt_enckey_kind(o->enc_key) != FWT_ENCKEY_X25519) {
            return fwt_fail(FWT_E_ARG, "HMAC-SHA512 is defined for X25519 encryption keys only "
                            "(MCUboot: ENC_X25519_SHA512), not for %s",
                            fwt_enckey_name(o->enc_key));
        }
    } else if (o->enc_key_len || o->enc_hmac_sha512 || o->enc_clear || o->enc_save_tlv) {
        return fwt_fail(FWT_E_ARG, "encryption options without an encryption key");
    }
    if (o->confirm && !o->pad) {
        return fwt_fail(FWT_E_ARG, "confirm needs padding (the image_ok flag is in the trailer)");
    }
    if (o->hw_id && (o->hw_id_len == 0 || o->hw_id_len > FWT_HW_ID_MAX)) {
        return fwt_fail(FWT_E_ARG, "hardware id must be 1 to %u bytes", FWT_HW_ID_MAX);
    }
    for (size_t i = 0; i < o->n_keys; i++) {
        if (!o->keys[i]) {
            return fwt_fail(FWT_E_ARG, "key %zu missing", i + 1);
        }
        for (size_t j = 0; j < i; j++) {
            if (o->keys[j] == o->keys[i]) {
                return fwt_fail(FWT_E_ARG, "key %zu given twice", i + 1);
            }
        }
    }
    return FWT_OK;
}

struct sign_state {
    struct signer signers[FWT_SIGN_MAX_KEYS];
    struct tlv_buf prot;
    struct tlv_buf unprot;
    uint8_t first_sig[SIG_BUF_MAX];
    size_t first_sig_len;
};

/* The signer of a signature made elsewhere (--fix-sig-pubkey): its own copy of the key. */
static fwt_err prepare_fixed_signer(const fwt_pubkey *given, int pure, int allow_test_key,
                                    struct signer *s)
{
    memset(s, 0, sizeof(*s));
    s->enc_len = sizeof(s->enc);
    fwt_err e = fwt_pubkey_mcuboot(given, s->enc, &s->enc_len);
    if (e == FWT_OK) {
        e = fwt_pubkey_from_mcuboot(s->enc, s->enc_len, &s->pub);
    }
    if (e == FWT_OK) {
        e = fwt_pubkey_keyhash(s->pub, s->keyhash);
    }
    if (e != FWT_OK) {
        return fwt_fail(e, "the signer's public key cannot be encoded");
    }
    if (fwt_pubkey_is_test_key(s->pub) && !allow_test_key) {
        return fwt_fail(FWT_E_TEST_KEY, "the signer's key is a published sample key (anyone can "
                        "sign with it); use --allow-test-key only for tests");
    }
    const struct fwt_alg_desc *row = fwt_alg_by_key(fwt_pubkey_type(s->pub));
    if (row == NULL) {
        return fwt_fail(FWT_E_UNSUPPORTED, "no image signature algorithm for this key type");
    }
    if (pure && row->pure_sig == FWT_SIG_NONE) {
        return fwt_fail(FWT_E_ARG, "pure signatures need an Ed25519 key, not %s",
                        fwt_key_type_name(row->key));
    }
    s->sig_tlv = row->sig_tlv;
    s->alg = pure ? row->pure_sig : row->sig;
    return FWT_OK;
}

/* imgtool's boot record (boot_record.py create_sw_component_data): a CBOR map
 * {1: type, 4: "M.m.r", 5: signer id, 6: hash name, 2: zero measurement} in that
 * order (the measurement last: the bootloader fills it in). Every length here
 * is below 256, so this fixed encoding is the whole of the CBOR it needs. */
static fwt_err boot_record(const char *sw_type, const struct fwt_version *v,
                           const uint8_t *signer_id, size_t id_len, enum fwt_hash_alg h,
                           uint8_t *out, size_t cap, size_t *len)
{
    char ver[24], desc[8];
    size_t tl = strlen(sw_type);
    snprintf(ver, sizeof(ver), "%u.%u.%u", v->major, v->minor, v->revision);
    snprintf(desc, sizeof(desc), "%s", h == FWT_HASH_SHA512 ? "SHA512"
                                       : h == FWT_HASH_SHA384 ? "SHA384"
                                                              : "SHA256");
    size_t vl = strlen(ver), dl = strlen(desc);
    size_t need = 1 + (2 + tl) + (2 + vl) + (3 + id_len) + (2 + dl) + (3 + id_len);
    if (tl == 0 || tl > 12 || id_len > 64 || need > cap) {
        return fwt_fail(FWT_E_ARG, "boot record: software type must be 1 to 12 characters");
    }
    uint8_t *p = out;
    *p++ = 0xa5;                          /* map of 5 pairs */
    *p++ = 0x01;                          /* TYPE */
    *p++ = (uint8_t)(0x60 + tl);          /* text string, length < 24 */
    memcpy(p, sw_type, tl);
    p += tl;
    *p++ = 0x04;                          /* VERSION */
    *p++ = (uint8_t)(0x60 + vl);
    memcpy(p, ver, vl);
    p += vl;
    *p++ = 0x05;                          /* SIGNER_ID */
    *p++ = 0x58;                          /* byte string, 1-byte length */
    *p++ = (uint8_t)id_len;
    memcpy(p, signer_id, id_len);
    p += id_len;
    *p++ = 0x06;                          /* MEASUREMENT_DESCRIPTION */
    *p++ = (uint8_t)(0x60 + dl);
    memcpy(p, desc, dl);
    p += dl;
    *p++ = 0x02;                          /* MEASUREMENT_VALUE: zeros, filled in on boot */
    *p++ = 0x58;
    *p++ = (uint8_t)id_len;
    memset(p, 0, id_len);
    p += id_len;
    *len = (size_t)(p - out);
    return FWT_OK;
}

static int is_vendor_tlv(uint16_t t)
{
    return t >= FWT_TLV_VENDOR_FIRST && t <= FWT_TLV_VENDOR_LAST;
}

fwt_err fwt_custom_tlv_parse(const char *tag, const char *value, uint8_t *buf, size_t cap,
                             struct fwt_custom_tlv *out)
{
    uint32_t t = 0;
    if (!tag || !value || !out || fwt_parse_u32(tag, &t) != FWT_OK) {
        return fwt_fail(FWT_E_ARG, "custom TLV tag '%s' is not a number", tag ? tag : "");
    }
    if (t < 0xa0 || t > 0xfffe) {
        return fwt_fail(FWT_E_ARG, "custom TLV tag 0x%x is outside imgtool's vendor range "
                        "0x00a0-0xfffe", (unsigned)t);
    }
    if (is_vendor_tlv((uint16_t)t)) {
        return fwt_fail(FWT_E_ARG, "custom TLV tag 0x%04x is in fwtrust's own range 0x46a0-0x46ff "
                        "(critical TLVs a verifier must know)", (unsigned)t);
    }
    out->type = (uint16_t)t;
    if (value[0] == '0' && (value[1] == 'x' || value[1] == 'X')) {
        size_t hl = strlen(value + 2);
        if (hl % 2 != 0 || hl / 2 > cap) {
            return fwt_fail(FWT_E_ARG, "custom TLV 0x%x: '%s': an even number of hex digits (at "
                            "most %zu bytes)", (unsigned)t, value, cap);
        }
        if (fwt_hex_decode(value + 2, buf, hl / 2) != FWT_OK) {
            return fwt_fail(FWT_E_ARG, "custom TLV 0x%x: '%s' is not hex", (unsigned)t, value);
        }
        out->val = buf;
        out->len = hl / 2;
    } else {
        out->val = (const uint8_t *)value;
        out->len = strlen(value);
    }
    return FWT_OK;
}

fwt_err fwt_signature_file_read(const char *path, uint8_t *sig, size_t cap, size_t *len)
{
    uint8_t *b = NULL;
    size_t l = 0;
    fwt_err e = fwt_read_file(path, 8192, &b, &l);
    if (e != FWT_OK) {
        return e;
    }
    char text[8192];
    size_t n = 0;
    int b64 = l > 0;
    for (size_t i = 0; i < l && b64; i++) {
        unsigned char c = b[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            continue;
        }
        b64 = ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '/' || c == '=') && n < sizeof(text);
        if (b64) {
            text[n++] = (char)c;
        }
    }
    uint8_t dec[8192];
    int dl = -1;
    if (b64 && n > 0 && n % 4 == 0) {
        dl = EVP_DecodeBlock(dec, (const unsigned char *)text, (int)n);
        if (dl >= 0) {
            dl -= (n >= 1 && text[n - 1] == '=') + (n >= 2 && text[n - 2] == '=');
        }
    }
    const uint8_t *src = dl > 0 ? dec : b;
    size_t sl = dl > 0 ? (size_t)dl : l;
    if (sl == 0 || sl > cap) {
        free(b);
        return fwt_fail(FWT_E_ARG, "%s: a signature of %zu bytes (1 to %zu)", path, sl, cap);
    }
    memcpy(sig, src, sl);
    *len = sl;
    free(b);
    return FWT_OK;
}

/* One CBOR data item head: major type and a definite length below 2^16. */
static int cbor_head(const uint8_t *v, size_t len, size_t *pos, unsigned *major, size_t *arg)
{
    if (*pos >= len) {
        return -1;
    }
    uint8_t b = v[(*pos)++];
    *major = b >> 5;
    uint8_t ai = b & 0x1f;
    if (ai < 24) {
        *arg = ai;
    } else if (ai == 24 && *pos + 1 <= len) {
        *arg = v[(*pos)++];
    } else if (ai == 25 && *pos + 2 <= len) {
        *arg = (size_t)v[*pos] << 8 | v[*pos + 1];
        *pos += 2;
    } else {
        return -1; /* longer, indefinite or reserved: never in a boot record */
    }
    return 0;
}

fwt_err fwt_boot_record_decode(const uint8_t *v, size_t len, struct fwt_boot_record *out)
{
    if (!v || !out) {
        return FWT_E_ARG;
    }
    memset(out, 0, sizeof(*out));
    size_t pos = 0, n;
    unsigned major, seen = 0;
    if (cbor_head(v, len, &pos, &major, &n) != 0 || major != 5 || n != 5) {
        return fwt_fail(FWT_E_MALFORMED, "boot record: not a CBOR map of 5 entries");
    }
    for (size_t i = 0; i < 5; i++) {
        size_t key, vl;
        unsigned vm;
        if (cbor_head(v, len, &pos, &major, &key) != 0 || major != 0 || key > 6 ||
            (seen & (1U << key)) || cbor_head(v, len, &pos, &vm, &vl) != 0 || vl > len - pos) {
            return fwt_fail(FWT_E_MALFORMED, "boot record: bad or repeated entry");
        }
        seen |= 1U << key;
        const uint8_t *val = v + pos;
        pos += vl;
        char *text = key == 1 ? out->sw_type : key == 4 ? out->version
                                            : key == 6 ? out->measurement_desc
                                                       : NULL;
        uint8_t *bytes = key == 5 ? out->signer_id : key == 2 ? out->measurement : NULL;
        if (text && vm == 3 && vl < sizeof(out->sw_type)) {
            for (size_t k = 0; k < vl; k++) {
                if (val[k] < 0x20 || val[k] > 0x7e) {
                    return fwt_fail(FWT_E_MALFORMED, "boot record: unprintable text");
                }
            }
            memcpy(text, val, vl);
            text[vl] = 0;
        } else if (bytes && vm == 2 && vl <= 64) {
            memcpy(bytes, val, vl);
            *(key == 5 ? &out->signer_id_len : &out->measurement_len) = vl;
        } else {
            return fwt_fail(FWT_E_MALFORMED, "boot record: entry %zu has the wrong type", key);
        }
    }
    if (seen != ((1U << 1) | (1U << 2) | (1U << 4) | (1U << 5) | (1U << 6)) || pos != len) {
        return fwt_fail(FWT_E_MALFORMED, "boot record: missing entries or trailing bytes");
    }
    return FWT_OK;
}

fwt_err fwt_dependency_decode(const uint8_t *v, size_t len, struct fwt_dependency *out)
{
    return fwt_dependency_decode_order(v, len, FWT_ORDER_LITTLE, out);
}

fwt_err fwt_dependency_decode_order(const uint8_t *v, size_t len, unsigned order,
                                    struct fwt_dependency *out)
{
    if (!v || !out || len != 12 || v[1] || v[2] || v[3]) {
        return fwt_fail(FWT_E_MALFORMED, "a DEPENDENCY TLV has 12 bytes: id, 3 zeros, version");
    }
    memset(out, 0, sizeof(*out));
    out->image_id = v[0];
    out->min.major = v[4];
    out->min.minor = v[5];
    out->min.revision = fwt_image_u16(order, v + 6);
    out->min.build = fwt_image_u32(order, v + 8);
    return FWT_OK;
}

fwt_err fwt_dependencies_parse(const char *s, struct fwt_dependency *deps, size_t max, size_t *n)
{
    if (!s || !deps || !n) {
        return fwt_fail(FWT_E_ARG, "fwt_dependencies_parse: missing argument");
    }
    const char *p = s;
    size_t got = 0;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t') {
            p++;
        }
        if (*p == 0) {
            break;
        }
        const char *close = strchr(p, ')');
        if (*p != '(' || !close) {
            return fwt_fail(FWT_E_ARG, "dependency '%s': expected (IMAGE_ID, VERSION)", s);
        }
        char item[96];
        size_t il = (size_t)(close - p - 1);
        if (il >= sizeof(item)) {
            return fwt_fail(FWT_E_ARG, "dependency '%s': too long", s);
        }
        memcpy(item, p + 1, il);
        item[il] = 0;
        char *comma = strchr(item, ',');
        if (!comma) {
            return fwt_fail(FWT_E_ARG, "dependency '(%s)': expected (IMAGE_ID, VERSION)", item);
        }
        *comma = 0;
        char *ver = comma + 1;
        while (*ver == ' ') {
            ver++;
        }
        uint32_t id;
        if (fwt_parse_u32(item, &id) != FWT_OK || id > 255) {
            return fwt_fail(FWT_E_ARG, "dependency: image id '%s' is not a number 0-255", item);
        }
        if (*n >= max) {
            return fwt_fail(FWT_E_ARG, "at most %zu dependencies", max);
        }
        struct fwt_dependency d;
        memset(&d, 0, sizeof(d));
        d.image_id = (uint8_t)id;
        if (fwt_version_parse(ver, &d.min) != FWT_OK) {
            return fwt_fail(FWT_E_ARG, "dependency on image %u: '%s' is not a version",
                            (unsigned)id, ver);
        }
        deps[(*n)++] = d;
        got++;
        p = close + 1;
    }
    if (got == 0) {
        return fwt_fail(FWT_E_ARG, "dependency '%s': expected (IMAGE_ID, VERSION)", s);
    }
    return FWT_OK;
}

fwt_err fwt_sign_file(const char *in, const char *out, const struct fwt_sign_opts *o)
{
    if (!in || !out || !o) {
        return fwt_fail(FWT_E_ARG, "fwt_sign_file: missing argument");
    }
    fwt_err e = check_opts(o);
    if (e != FWT_OK) {
        return e;
    }
    int hex_out = has_ext(out, "hex");
    int hex_in = has_ext(in, "hex");
    if (hex_out && o->vector_to_sign) {
        return fwt_fail(FWT_E_ARG, "%s: the vector to sign is written as binary, not Intel HEX", out);
    }
    if (hex_out && !o->has_hex_addr && !hex_in) {
        return fwt_fail(FWT_E_ARG, "%s: Intel HEX output needs an address: give --hex-addr, or an "
                        "Intel HEX input", out);
    }

    /* Encryption: a fresh random key for this image only (never reuse a key stream). */
    uint32_t ek_len = o->enc_key ? (o->enc_key_len ? o->enc_key_len : 16) : 0;
    uint8_t ek[FWT_ENC_KEY_MAX];
    if (ek_len && RAND_priv_bytes(ek, (int)ek_len) != 1) {
        return fwt_fail(FWT_E_CRYPTO, "no random bytes for the image encryption key");
    }
    struct fwt_ctr ctr = {NULL};
    int encrypt = ek_len && !o->enc_clear;
    struct fwt_trailer tr;
    memset(&tr, 0, sizeof(tr));
    if (o->slot_size) {
        struct fwt_trailer_opts to;
        memset(&to, 0, sizeof(to));
        to.align = o->align ? o->align : 1;
        to.max_align = o->max_align;
        to.max_sectors = o->max_sectors;
        to.big_endian = o->big_endian;
        to.overwrite_only = o->overwrite_only;
        if (ek_len) {
            uint16_t et = o->enc_hmac_sha512 ? FWT_TLV_ENC_X25519_SHA512
                          : fwt_enckey_kind(o->enc_key) == FWT_ENCKEY_RSA2048 ? FWT_TLV_ENC_RSA2048
                          : fwt_enckey_kind(o->enc_key) == FWT_ENCKEY_KW      ? FWT_TLV_ENC_KW
                          : fwt_enckey_kind(o->enc_key) == FWT_ENCKEY_EC256   ? FWT_TLV_ENC_EC256
                                                                              : FWT_TLV_ENC_X25519;
            /* as imgtool: 16 bytes per slot, or the whole TLV with --save-enctlv */
            to.enc_key_bytes = o->enc_save_tlv ? fwt_enc_tlv_len(et, ek_len) : 16;
        }
        e = fwt_trailer_layout_ex(&to, &tr);
        if (e != FWT_OK) {
            OPENSSL_cleanse(ek, sizeof(ek));
            return e;
        }
    }
    struct sign_state *st = calloc(1, sizeof(*st));
    uint8_t *buf = malloc(COPY_CHUNK);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    struct fwt_crypto_ops ops;
    memset(&ops, 0, sizeof(ops));
    int ops_ok = 0;
    int in_fd = -1;
    struct fwt_ihex_map in_map;
    memset(&in_map, 0, sizeof(in_map));
    struct fwt_tmp_out img = {"", -1}, hex = {"", -1};
    if (!st || !buf || !md) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
        goto done;
    }

    /* Keys first: refuse test keys and mismatched certificates before any I/O. */
    enum fwt_hash_alg halg = FWT_HASH_SHA256;
    for (size_t i = 0; i < o->n_keys; i++) {
        e = prepare_signer(o->keys[i], o->pure, o->allow_test_key, &st->signers[i], i);
        if (e != FWT_OK) {
            goto done;
        }
        /* As imgtool: the key's hash from the algorithm table (SHA-384 for P-384,
         * SHA-256 otherwise), SHA-512 for pure Ed25519. */
        const struct fwt_alg_desc *row = fwt_alg_by_key(fwt_privkey_type(o->keys[i]));
        enum fwt_hash_alg want = o->pure ? FWT_HASH_SHA512 : row ? row->hash : FWT_HASH_SHA256;
        if (i == 0) {
            halg = want;
        } else if (want != halg) {
            e = fwt_fail(FWT_E_ARG, "key %zu needs a %s image digest but key 1 needs %s: ECDSA "
                         "P-384 keys cannot be mixed with other key types", i + 1,
                         want == FWT_HASH_SHA384 ? "SHA-384" : "SHA-256",
                         halg == FWT_HASH_SHA384 ? "SHA-384" : "SHA-256");
            goto done;
        }
        if (o->certs[i]) {
            e = check_cert_matches(o->certs[i], o->cert_lens[i], &st->signers[i], i);
            if (e != FWT_OK) {
                goto done;
            }
        }
    }
    size_t n_signers = o->n_keys;
    if (o->fix_sig_pubkey) {
        e = prepare_fixed_signer(o->fix_sig_pubkey, o->pure, o->allow_test_key, &st->signers[0]);
        if (e != FWT_OK) {
            goto done;
        }
        const struct fwt_alg_desc *row = fwt_alg_by_key(fwt_pubkey_type(st->signers[0].pub));
        halg = o->pure ? FWT_HASH_SHA512 : row->hash;
        n_signers = 1;
    }
    for (size_t i = 0; o->pad_sig && i < n_signers; i++) {
        /* imgtool --pad-sig pads ECDSA signatures only (the others have a fixed size). */
        const struct fwt_alg_desc *row = fwt_alg_by_key(fwt_pubkey_type(st->signers[i].pub));
        if (row && (row->sig == FWT_SIG_ECDSA_P256 || row->sig == FWT_SIG_ECDSA_P384)) {
            st->signers[i].pad_to = row->sig_size;
        }
    }
    if (o->hash != FWT_HASH_NONE) {
        /* imgtool --sha: only what every signer's key type may sign (pure: SHA-512). */
        for (size_t i = 0; i < n_signers; i++) {
            const struct fwt_alg_desc *row = fwt_alg_by_key(fwt_pubkey_type(st->signers[i].pub));
            if (!row || !(row->hashes & FWT_HASH_BIT(o->hash)) ||
                (o->pure && o->hash != FWT_HASH_SHA512)) {
                e = fwt_fail(FWT_E_ARG, "a %s key%s cannot sign a %s image (as imgtool: Ed25519 "
                             "sha256 or sha512, P-256 and RSA sha256, P-384 sha384)",
                             row ? fwt_key_type_name(row->key) : "?", o->pure ? " (pure)" : "",
                             fwt_hash_name(o->hash));
                goto done;
            }
        }
        halg = o->hash;
    }
    for (size_t i = 0; i < o->n_keys; i++) {
        for (size_t j = 0; j < i; j++) {
            if (!memcmp(st->signers[i].keyhash, st->signers[j].keyhash, 32)) {
                e = fwt_fail(FWT_E_ARG, "keys %zu and %zu are the same key", j + 1, i + 1);
                goto done;
            }
        }
    }
    e = fwt_openssl_ops_init(&ops);
    if (e != FWT_OK) {
        e = fwt_fail(e, "cannot start the crypto backend");
        goto done;
    }
    ops_ok = 1;

    /* Input: binary, or Intel HEX converted to a scratch binary (its gaps
     * holes, read as the erased value through in_map). */
    uint32_t hex_base = 0;
    uint64_t in_size;
    if (hex_in) {
        FILE *scratch = tmpfile();
        if (!scratch) {
            e = fwt_fail(FWT_E_IO, "cannot create a scratch file: %s", strerror(errno));
            goto done;
        }
        in_fd = dup(fileno(scratch));
        fclose(scratch);
        if (in_fd < 0) {
            e = fwt_fail(FWT_E_IO, "dup: %s", strerror(errno));
            goto done;
        }
        uint32_t sz = 0;
        e = fwt_ihex_to_bin(in, in_fd, o->erased_val,
                            o->slot_size ? o->slot_size : FWT_IHEX_SPAN_MAX, &hex_base, &sz,
                            &in_map);
        if (e != FWT_OK) {
            goto done;
        }
        in_size = sz;
    } else {
        in_fd = open(in, O_RDONLY | O_CLOEXEC);
        if (in_fd < 0) {
            e = fwt_fail(errno == ENOENT ? FWT_E_NOT_FOUND : FWT_E_IO, "%s: %s", in,
                         strerror(errno));
            goto done;
        }
        struct stat sb;
        if (fstat(in_fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            e = fwt_fail(FWT_E_ARG, "%s: not a regular file", in);
            goto done;
        }
        in_size = (uint64_t)sb.st_size;
    }

    uint32_t hs = o->header_size;
    uint64_t src_off, img_size;
    if (o->pad_header) {
        src_off = 0;
        img_size = in_size;
    } else {
        if (in_size < hs) {
            e = fwt_fail(FWT_E_ARG, "%s: %llu bytes, shorter than the header size %u (use "
                         "--pad-header to prepend the header)", in, (unsigned long long)in_size,
                         (unsigned)hs);
            goto done;
        }
        e = fwt_img_read_at(in_fd, buf, hs, 0, in);
        if (e != FWT_OK) {
            goto done;
        }
        fwt_ihex_map_patch(&in_map, 0, buf, hs);
        for (uint32_t i = 0; i < hs; i++) {
            if (buf[i] != 0) {
                e = fwt_fail(FWT_E_ARG, "%s: the first %u bytes (the header's room) are not all "
                             "zero; use --pad-header to prepend the header", in, (unsigned)hs);
                goto done;
            }
        }
        src_off = hs;
        img_size = in_size - hs;
    }
    /* An encrypted payload is padded with zeros to whole AES blocks (imgtool
     * pads header + payload to 16 bytes); img_size counts the padding. */
    uint32_t enc_pad = ek_len && (hs + img_size) % 16 ? 16 - (uint32_t)((hs + img_size) % 16) : 0;
    if (img_size + enc_pad + hs > UINT32_MAX) {
        e = fwt_fail(FWT_E_TOO_LARGE, "%s: image of %llu bytes is too large (4 GiB - 1 at most)",
                     in, (unsigned long long)img_size);
        goto done;
    }

    /* Protected TLVs: imgtool's (counter, boot record, dependencies, custom), then ours. */
    const unsigned order = o->big_endian ? FWT_ORDER_BIG : FWT_ORDER_LITTLE;
    st->prot.len = FWT_TLV_INFO_SIZE;
    st->prot.order = order;
    st->unprot.order = order;
    if (o->has_security_counter) {
        uint8_t v[4];
        put32(v, order, o->security_counter);
        e = tlv_add(&st->prot, FWT_TLV_SEC_CNT, v, 4, "security counter");
    }
    if (e == FWT_OK && o->boot_record) {
        uint8_t rec[160], id[64];
        size_t rl = 0, hl = fwt_hash_by_alg(halg)->size;
        e = n_signers ? tlv_keyhash(&st->signers[0], hl, id)
                      : fwt_fail(FWT_E_ARG, "a boot record names the signing key: give one");
        if (e == FWT_OK) {
            e = boot_record(o->boot_record, &o->version, id, hl, halg, rec, sizeof(rec), &rl);
        }
        if (e == FWT_OK) {
            e = tlv_add(&st->prot, FWT_TLV_BOOT_RECORD, rec, rl, "boot record");
        }
    }
    for (size_t i = 0; e == FWT_OK && i < o->n_deps; i++) {
        uint8_t v[12] = {0};
        const struct fwt_dependency *d = &o->deps[i];
        v[0] = d->image_id;
        v[4] = d->min.major;
        v[5] = d->min.minor;
        put16(v + 6, order, d->min.revision);
        put32(v + 8, order, d->min.build);
        e = tlv_add(&st->prot, FWT_TLV_DEPENDENCY, v, sizeof(v), "dependency");
    }
    for (size_t i = 0; e == FWT_OK && i < o->n_custom; i++) {
        e = tlv_add(&st->prot, o->custom[i].type, o->custom[i].val, o->custom[i].len,
                    "custom TLV");
    }
    if (e == FWT_OK && o->write_format_tlv) {
        uint8_t v[4] = {FWT_FORMAT_VERSION, FWT_FORMAT_VERSION, 0, 0};
        e = tlv_add(&st->prot, FWT_TLV_FORMAT, v, 4, "format version");
    }
    if (e == FWT_OK && o->hw_id) {
        e = tlv_add(&st->prot, FWT_TLV_HW_ID, o->hw_id, o->hw_id_len, "hardware id");
    }
    if (e == FWT_OK && o->provenance) {
        e = tlv_add(&st->prot, FWT_TLV_PROVENANCE, o->provenance, 32, "provenance digest");
    }
    if (e != FWT_OK) {
        goto done;
    }
    uint16_t prot_size = 0;
    if (st->prot.len > FWT_TLV_INFO_SIZE) {
        tlv_seal(&st->prot, FWT_TLV_PROT_INFO_MAGIC);
        prot_size = (uint16_t)st->prot.len;
    }

    /* Header. */
    uint8_t hdr[FWT_IMAGE_HEADER_SIZE];
    memset(hdr, 0, sizeof(hdr));
    uint32_t flags = o->flags;
    if (o->load_addr != 0 && !(flags & FWT_IMAGE_F_ROM_FIXED)) {
        flags |= FWT_IMAGE_F_RAM_LOAD; /* as imgtool: a load address means RAM loading */
    }
    put32(hdr + 0, order, FWT_IMAGE_MAGIC);
    put32(hdr + 4, order, o->load_addr);
    put16(hdr + 8, order, (uint16_t)hs);
    put16(hdr + 10, order, prot_size);
    if (ek_len) {
        flags |= ek_len == 32 ? FWT_IMAGE_F_ENCRYPTED_AES256 : FWT_IMAGE_F_ENCRYPTED_AES128;
    }
    put32(hdr + 12, order, (uint32_t)(img_size + enc_pad));
    put32(hdr + 16, order, flags);
    hdr[20] = o->version.major;
    hdr[21] = o->version.minor;
    put16(hdr + 22, order, o->version.revision);
    put32(hdr + 24, order, o->version.build);

    /* Stream: header, payload, protected TLVs, hashing as we go. */
    e = fwt_tmp_create(&img, out);
    if (e != FWT_OK) {
        goto done;
    }
    if (hex_out) {
        unlink(img.name); /* scratch only; the HEX text is what gets published */
    }
    const char *tname = img.name;
    if (EVP_DigestInit_ex(md, fwt_hash_md(halg), NULL) != 1) {
        e = fwt_fail(FWT_E_CRYPTO, "hash init failed");
        goto done;
    }
    e = hash_write(md, img.fd, hdr, sizeof(hdr), tname);
    if (e == FWT_OK && hs > FWT_IMAGE_HEADER_SIZE) {
        memset(buf, o->pad_header ? o->erased_val : 0, hs - FWT_IMAGE_HEADER_SIZE);
        e = hash_write(md, img.fd, buf, hs - FWT_IMAGE_HEADER_SIZE, tname);
    }
    if (e == FWT_OK && encrypt) {
        e = fwt_ctr_start(&ctr, ek, ek_len, 0);
    }
    uint64_t done_bytes = 0;
    while (e == FWT_OK && done_bytes < img_size + enc_pad) {
        size_t n;
        if (done_bytes < img_size) {
            n = img_size - done_bytes > COPY_CHUNK ? COPY_CHUNK : (size_t)(img_size - done_bytes);
            e = fwt_img_read_at(in_fd, buf, n, src_off + done_bytes, in);
            if (e == FWT_OK) {
                fwt_ihex_map_patch(&in_map, src_off + done_bytes, buf, n);
            }
        } else {
            n = enc_pad; /* the zero padding of an encrypted payload */
            memset(buf, 0, n);
        }
        if (e == FWT_OK && !encrypt) {
            e = hash_write(md, img.fd, buf, n, tname);
        } else if (e == FWT_OK) {
            /* hash the plaintext, write the ciphertext */
            if (EVP_DigestUpdate(md, buf, n) != 1) {
                e = fwt_fail(FWT_E_CRYPTO, "hashing failed");
            }
            if (e == FWT_OK) {
                e = fwt_ctr_xor(&ctr, buf, n);
            }
            if (e == FWT_OK) {
                e = fwt_img_write_all(img.fd, buf, n, tname);
            }
        }
        done_bytes += n;
        if (e == FWT_OK && o->progress) {
            o->progress(o->progress_ctx, done_bytes < img_size ? done_bytes : img_size, img_size);
        }
    }
    if (e == FWT_OK && prot_size) {
        e = hash_write(md, img.fd, st->prot.data, prot_size, tname);
    }
    if (e != FWT_OK) {
        goto done;
    }
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    if (EVP_DigestFinal_ex(md, digest, &dlen) != 1) {
        e = fwt_fail(FWT_E_CRYPTO, "hash final failed");
        goto done;
    }
    uint32_t signed_len = hs + (uint32_t)(img_size + enc_pad) + prot_size;

    if (o->vector_to_sign) {
        /* Detached signing: what the offline key signs, instead of the image. The
         * image file holds exactly the signed region (plaintext: see check_opts). */
        if (o->vector_to_sign == FWT_VECTOR_DIGEST) {
            e = fwt_write_file_atomic(out, digest, dlen, 0644);
        } else {
            e = fwt_tmp_publish(&img, out);
        }
        goto done;
    }

    /* Unprotected TLVs: the digest, the pure marker (where imgtool --pure puts
     * it and MCUboot looks for it), then per key [CERT] KEYHASH|PUBKEY SIG. */
    st->unprot.len = FWT_TLV_INFO_SIZE;
    e = tlv_add(&st->unprot, fwt_hash_by_alg(halg)->tlv, digest, dlen, "image digest");
    if (e == FWT_OK && o->pure) {
        uint8_t one = 1;
        e = tlv_add(&st->unprot, FWT_TLV_SIG_PURE, &one, 1, "pure signature marker");
    }
    for (size_t i = 0; e == FWT_OK && i < o->n_keys; i++) {
        e = sign_one(o->keys[i], &st->signers[i], o->embed_pubkey, o->certs[i], o->cert_lens[i],
                     digest, dlen, img.fd, signed_len, &ops, &st->unprot, i, NULL, 0,
                     i == 0 ? st->first_sig : NULL, &st->first_sig_len);
    }
    if (e == FWT_OK && o->fix_sig) {
        e = sign_one(NULL, &st->signers[0], o->embed_pubkey, NULL, 0, digest, dlen, img.fd,
                     signed_len, &ops, &st->unprot, 0, o->fix_sig, o->fix_sig_len, st->first_sig,
                     &st->first_sig_len);
    }
    if (e == FWT_OK && ek_len) {
        /* The key, wrapped for the device, after the signatures (where imgtool puts it). */
        uint8_t wrapped[FWT_ENC_TLV_MAX];
        size_t wl = sizeof(wrapped);
        uint16_t wt = 0;
        e = fwt_enc_wrap(o->enc_key, o->enc_hmac_sha512, ek, ek_len, &wt, wrapped, &wl);
        if (e == FWT_OK && wl != fwt_enc_tlv_len(wt, ek_len)) {
            e = fwt_fail(FWT_E_INTERNAL, "ENC TLV of %zu bytes", wl);
        }
        if (e == FWT_OK) {
            e = tlv_add(&st->unprot, wt, wrapped, wl, "encrypted image key");
        }
    }
    if (e != FWT_OK) {
        goto done;
    }
    tlv_seal(&st->unprot, FWT_TLV_INFO_MAGIC);
    e = fwt_img_write_all(img.fd, st->unprot.data, st->unprot.len, tname);
    if (e != FWT_OK) {
        goto done;
    }
    uint64_t total = (uint64_t)signed_len + st->unprot.len;
    if (total > UINT32_MAX) {
        e = fwt_fail(FWT_E_TOO_LARGE, "signed image would exceed 4 GiB - 1");
        goto done;
    }
    if (o->slot_size && total + tr.size > o->slot_size) {
        e = fwt_fail(FWT_E_TOO_LARGE, "image (0x%llx bytes) + trailer (0x%x bytes) exceeds the "
                     "slot size 0x%x", (unsigned long long)total, (unsigned)tr.size,
                     (unsigned)o->slot_size);
        goto done;
    }
    if (o->pad && !hex_out) {
        uint64_t tstart = (uint64_t)o->slot_size - tr.size;
        e = write_fill(img.fd, o->erased_val, tstart - total, tname);
        if (e == FWT_OK) {
            uint8_t *t = calloc(1, tr.size);
            if (!t) {
                e = fwt_fail(FWT_E_NOMEM, "out of memory");
            } else {
                memset(t, o->erased_val, tr.size);
                if (o->confirm) {
                    t[tr.image_ok_off] = 0x01;
                }
                memcpy(t + tr.magic_off, tr.magic, sizeof(tr.magic));
                e = fwt_img_write_all(img.fd, t, tr.size, tname);
                free(t);
            }
        }
        if (e != FWT_OK) {
            goto done;
        }
    }

    if (hex_out) {
        uint32_t base;
        if (o->has_hex_addr) {
            base = o->hex_addr;
        } else if (o->pad_header) {
            if (hex_base < hs) {
                e = fwt_fail(FWT_E_ARG, "%s: input starts at 0x%x, no room below it for a %u-byte "
                             "header; give --hex-addr", in, (unsigned)hex_base, (unsigned)hs);
                goto done;
            }
            base = hex_base - hs;
        } else {
            base = hex_base;
        }
        e = fwt_tmp_create(&hex, out);
        if (e == FWT_OK) {
            e = write_hex(img.fd, total, base, o, &tr, hex.fd, hex.name);
        }
        if (e == FWT_OK) {
            e = fwt_tmp_publish(&hex, out);
        }
    } else {
        e = fwt_tmp_publish(&img, out);
    }
    if (e == FWT_OK && o->sig_out) {
        /* As imgtool --sig-out: the signature, base64. */
        char b64[4 * (SIG_BUF_MAX / 3 + 1) + 2];
        int bl = st->first_sig_len ? EVP_EncodeBlock((unsigned char *)b64, st->first_sig,
                                                     (int)st->first_sig_len)
                                   : -1;
        e = bl > 0 ? fwt_write_file_atomic(o->sig_out, b64, (size_t)bl, 0644)
                   : fwt_fail(FWT_E_INTERNAL, "no signature to save");
        if (e != FWT_OK) {
            e = fwt_fail(e, "%s: the image was written, its signature could not be saved: %s",
                         o->sig_out, fwt_detail());
        }
    }

done:
    OPENSSL_cleanse(ek, sizeof(ek));
    fwt_ctr_free(&ctr);
    fwt_tmp_discard(&hex);
    if (img.fd >= 0) {
        close(img.fd);
        if (!hex_out) {
            unlink(img.name);
        }
        img.fd = -1;
    }
    if (in_fd >= 0) {
        close(in_fd);
    }
    fwt_ihex_map_free(&in_map);
    if (ops_ok) {
        fwt_openssl_ops_free(&ops);
    }
    if (st) {
        for (size_t i = 0; i < FWT_SIGN_MAX_KEYS; i++) {
            fwt_pubkey_free(st->signers[i].pub);
        }
        free(st);
    }
    EVP_MD_CTX_free(md);
    free(buf);
    return e;
}

/* ---- cosign ---- */

/* An Intel HEX file as a flat binary in a scratch file: gaps are holes (0x00),
 * read as fill through map when map is given (see fwt_ihex_to_bin). */
static FWT_MUST_CHECK fwt_err hex_scratch(const char *path, uint8_t fill, int *fd, uint32_t *base,
                                          uint32_t *size, struct fwt_ihex_map *map)
{
    *fd = -1;
    FILE *scratch = tmpfile();
    if (!scratch) {
        return fwt_fail(FWT_E_IO, "cannot create a scratch file: %s", strerror(errno));
    }
    int d = dup(fileno(scratch));
    fclose(scratch);
    if (d < 0) {
        return fwt_fail(FWT_E_IO, "dup: %s", strerror(errno));
    }
    fwt_err e = fwt_ihex_to_bin(path, d, fill, FWT_IHEX_SPAN_MAX, base, size, map);
    if (e != FWT_OK) {
        close(d);
        return e;
    }
    *fd = d;
    return FWT_OK;
}

/*
 * Intel HEX of the binary image in src_fd at base: [0, dense) whole; in
 * [dense, size) only the bytes the input HEX file had, which are those equal
 * in its 0xff-filled (a_fd) and 0x00-filled (b_fd) conversions, so slot
 * padding stays a gap and the trailer marks stay where they were.
 */
static FWT_MUST_CHECK fwt_err write_hex_sparse(int src_fd, uint64_t dense, uint64_t size,
                                               uint32_t base, int a_fd, int b_fd, int out_fd,
                                               const char *name)
{
    int dfd = dup(out_fd);
    if (dfd < 0) {
        return fwt_fail(FWT_E_IO, "%s: %s", name, strerror(errno));
    }
    FILE *f = fdopen(dfd, "w");
    if (!f) {
        close(dfd);
        return fwt_fail(FWT_E_IO, "%s: %s", name, strerror(errno));
    }
    struct fwt_ihex_writer w;
    fwt_ihex_writer_init(&w, f);
    uint8_t *buf = malloc(3 * (size_t)COPY_CHUNK);
    fwt_err e = buf ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
    if (e == FWT_OK && dense > size) {
        e = fwt_fail(FWT_E_INTERNAL, "Intel HEX output: image end beyond the output");
    }
    if (e == FWT_OK && (uint64_t)base + size > 0x100000000ULL) {
        e = fwt_fail(FWT_E_ARG, "Intel HEX output: image at 0x%08x does not fit below 4 GiB",
                     (unsigned)base);
    }
    uint8_t *a = buf ? buf + COPY_CHUNK : NULL, *b = buf ? buf + 2 * (size_t)COPY_CHUNK : NULL;
    for (uint64_t off = 0; e == FWT_OK && off < size;) {
        uint64_t lim = off < dense ? dense : size;
        size_t n = lim - off > COPY_CHUNK ? COPY_CHUNK : (size_t)(lim - off);
        e = fwt_img_read_at(src_fd, buf, n, off, name);
        if (e == FWT_OK && off < dense) {
            e = fwt_ihex_write(&w, (uint32_t)(base + off), buf, n);
        } else if (e == FWT_OK) {
            e = fwt_img_read_at(a_fd, a, n, off, name);
            if (e == FWT_OK) {
                e = fwt_img_read_at(b_fd, b, n, off, name);
            }
            for (size_t i = 0; e == FWT_OK && i < n;) {
                if (a[i] != b[i]) {
                    i++;
                    continue;
                }
                size_t j = i;
                while (j < n && a[j] == b[j]) {
                    j++;
                }
                e = fwt_ihex_write(&w, (uint32_t)(base + off + i), buf + i, j - i);
                i = j;
            }
        }
        off += n;
    }
    if (e == FWT_OK) {
        e = fwt_ihex_write_end(&w);
    }
    free(buf);
    if (fclose(f) != 0 && e == FWT_OK) {
        e = fwt_fail(FWT_E_IO, "%s: write failed", name);
    }
    return e;
}

fwt_err fwt_cosign_file(const char *in, const char *out, fwt_privkey *key, const uint8_t *cert,
                        size_t cert_len)
{
    return fwt_cosign_file_ex(in, out, key, cert, cert_len, 0);
}

fwt_err fwt_cosign_file_ex(const char *in, const char *out, fwt_privkey *key, const uint8_t *cert,
                           size_t cert_len, unsigned flags)
{
    if (!in || !out || !key) {
        return fwt_fail(FWT_E_ARG, "fwt_cosign_file: missing argument");
    }
    /* Intel HEX (by extension, as sign) in and out, or binary in and out. */
    int hex = has_ext(in, "hex");
    if (hex != has_ext(out, "hex")) {
        return fwt_fail(FWT_E_ARG, "%s -> %s: cosign writes the same format it reads (binary or "
                        "Intel HEX, by extension)", in, out);
    }
    int gap_fd = -1, bin_fd = -1; /* HEX: 0x00-filled conversion; the cosigned binary */
    uint32_t hex_base = 0;
    struct signer *s = calloc(1, sizeof(*s));
    struct tlv_buf *area = calloc(1, sizeof(*area));
    uint8_t *work = malloc(COPY_CHUNK);
    struct fwt_file_io fio;
    int fio_open = 0;
    struct fwt_tmp_out tmp = {"", -1};
    struct fwt_crypto_ops ops;
    memset(&ops, 0, sizeof(ops));
    int ops_ok = 0;
    fwt_err e = FWT_OK;
    if (!s || !area || !work) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
        goto done;
    }
    if (hex) {
        int ff_fd = -1;
        uint32_t sz = 0, sz0 = 0, base0 = 0;
        struct fwt_ihex_map *map = calloc(1, sizeof(*map));
        if (!map) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
            goto done;
        }
        e = hex_scratch(in, 0xff, &ff_fd, &hex_base, &sz, map);
        if (e != FWT_OK) {
            free(map);
            goto done;
        }
        fwt_file_io_from_fd(&fio, ff_fd, sz);
        fio.owns_fd = 1;
        fio.hex = map; /* 0xff gaps, written only once the image has parsed (below) */
        fio_open = 1;
        /* The 0x00-filled conversion: its gaps are holes, nothing is written. */
        e = hex_scratch(in, 0x00, &gap_fd, &base0, &sz0, NULL);
        if (e == FWT_OK && (base0 != hex_base || sz0 != sz)) {
            e = fwt_fail(FWT_E_INTERNAL, "%s: Intel HEX conversions disagree", in);
        }
        if (e == FWT_OK) {
            FILE *scratch = tmpfile();
            bin_fd = scratch ? dup(fileno(scratch)) : -1;
            if (scratch) {
                fclose(scratch);
            }
            if (bin_fd < 0) {
                e = fwt_fail(FWT_E_IO, "cannot create a scratch file: %s", strerror(errno));
            }
        }
    } else {
        e = fwt_file_io_open(&fio, in);
        fio_open = e == FWT_OK;
    }
    if (e != FWT_OK) {
        goto done;
    }
    struct fwt_image_info info;
    memset(&info, 0, sizeof(info));
    e = fwt_image_parse(&fio.io, work, COPY_CHUNK, &info);
    if (e != FWT_OK) {
        e = fwt_fail(e, "%s: not a valid image (%s)%s%s", in, fwt_err_name(e),
                     fwt_detail()[0] ? ": " : "", fwt_detail());
        goto done;
    }
    if (fio.hex) {
        /* A valid image: the code below reads the scratch file directly (and
         * maps it for pure signatures), so its gaps now get their 0xff. */
        e = fwt_ihex_map_fill(fio.hex, fio.fd);
        if (e != FWT_OK) {
            goto done;
        }
    }
    /* Pure images carry the SIG_PURE marker (in either area; the parser found it). */
    int pure = info.pure != 0;
    e = prepare_signer(key, pure, (flags & FWT_COSIGN_ALLOW_TEST_KEY) != 0, s, 0);
    if (e != FWT_OK) {
        goto done;
    }
    enum fwt_key_type kt = fwt_privkey_type(key);
    /* The image hashes the table lets this key sign (Ed25519: SHA-256 or SHA-512,
     * imgtool --sha 512, --pure). */
    const struct fwt_alg_desc *row = fwt_alg_by_key(kt);
    int hash_ok = row != NULL && info.hash_alg != FWT_HASH_NONE &&
                  (row->hashes & FWT_HASH_BIT(info.hash_alg)) != 0;
    if (!hash_ok) {
        e = fwt_fail(FWT_E_ARG, "%s: the image digest is not the one a %s key signs", in,
                     fwt_key_type_name(fwt_privkey_type(key)));
        goto done;
    }
    if (cert) {
        e = check_cert_matches(cert, cert_len, s, 0);
        if (e != FWT_OK) {
            goto done;
        }
    }
    /* Refuse a second signature by the same key. */
    {
        struct fwt_tlv_iter it;
        e = fwt_tlv_iter_begin(&it, &fio.io, &info.hdr, 0);
        uint16_t t, l;
        uint32_t off;
        while (e == FWT_OK && fwt_tlv_next(&it, &t, &off, &l) == FWT_OK) {
            if (t == FWT_TLV_KEYHASH) { /* 32, 48 or 64 bytes: the parser checked */
                uint8_t kh[64], mine[64];
                e = fio.io.read(fio.io.ctx, off, kh, l);
                if (e == FWT_OK) {
                    e = tlv_keyhash(s, l, mine);
                }
                if (e == FWT_OK && !memcmp(kh, mine, l)) {
                    e = fwt_fail(FWT_E_ARG, "%s: already signed by this key", in);
                }
            }
        }
        if (e != FWT_OK) {
            if (fwt_detail()[0] == '\0') {
                e = fwt_fail(e, "%s: cannot read the unprotected TLV area", in);
            }
            goto done;
        }
    }
    uint32_t unprot_end = info.unprot_off + info.unprot_size;
    if (info.unprot_size < FWT_TLV_INFO_SIZE || unprot_end > fio.io.size) {
        e = fwt_fail(FWT_E_MALFORMED, "%s: unprotected TLV area out of bounds", in);
        goto done;
    }
    e = fwt_openssl_ops_init(&ops);
    if (e != FWT_OK) {
        goto done;
    }
    ops_ok = 1;
    area->len = 0;
    area->order = info.hdr.byte_order; /* the new TLVs in the image's own byte order */
    e = sign_one(key, s, 0, cert, cert_len, info.digest, info.digest_len, fio.fd, info.unprot_off,
                 &ops, area, 0, NULL, 0, NULL, NULL);
    if (e != FWT_OK) {
        goto done;
    }
    if ((uint64_t)info.unprot_size + area->len > UNPROT_MAX) {
        e = fwt_fail(FWT_E_TOO_LARGE, "%s: the unprotected TLV area would grow to %llu bytes, more "
                     "than its 16-bit size field allows (%u)", in,
                     (unsigned long long)info.unprot_size + area->len, UNPROT_MAX);
        goto done;
    }
    /* Data after the TLV areas (slot padding and trailer): the new TLVs must
     * land on erased padding, and the file keeps its size. */
    uint64_t after = (uint64_t)fio.io.size - unprot_end;
    if (after > 0) {
        if (after < area->len) {
            e = fwt_fail(FWT_E_TOO_LARGE, "%s: no room after the TLV area for %zu more bytes", in,
                         area->len);
            goto done;
        }
        uint8_t pad[SIG_BUF_MAX + 2 * FWT_PUBKEY_MAX + FWT_CERT_MAX + 64];
        if (area->len > sizeof(pad)) {
            e = fwt_fail(FWT_E_INTERNAL, "cosign TLVs larger than expected");
            goto done;
        }
        e = fio.io.read(fio.io.ctx, unprot_end, pad, area->len);
        if (e != FWT_OK) {
            e = fwt_fail(e, "%s: read error", in);
            goto done;
        }
        for (size_t i = 0; i < area->len; i++) {
            if (pad[i] != pad[0] || (pad[0] != 0xff && pad[0] != 0x00)) {
                e = fwt_fail(FWT_E_TOO_LARGE, "%s: the %zu bytes after the TLV area are not erased "
                             "padding; cannot add a signature there", in, area->len);
                goto done;
            }
        }
    }
    e = fwt_tmp_create(&tmp, out);
    if (e != FWT_OK) {
        goto done;
    }
    /* The cosigned binary goes to OUT, or for HEX to a scratch file converted below. */
    int wfd = hex ? bin_fd : tmp.fd;
    const char *wname = hex ? "scratch file" : tmp.name;
    /* Copy [0, unprot_off), the patched area header, the old TLVs, the new ones, the rest. */
    uint64_t pos = 0;
    while (e == FWT_OK && pos < info.unprot_off) {
        size_t n = info.unprot_off - pos > COPY_CHUNK ? COPY_CHUNK : (size_t)(info.unprot_off - pos);
        e = fwt_img_read_at(fio.fd, work, n, pos, in);
        if (e == FWT_OK) {
            e = fwt_img_write_all(wfd, work, n, wname);
        }
        pos += n;
    }
    if (e == FWT_OK) {
        e = fwt_img_read_at(fio.fd, work, info.unprot_size, info.unprot_off, in);
    }
    if (e == FWT_OK) {
        const unsigned order = info.hdr.byte_order;
        if (fwt_image_u16(order, work) != FWT_TLV_INFO_MAGIC ||
            fwt_image_u16(order, work + 2) != info.unprot_size) {
            e = fwt_fail(FWT_E_MALFORMED, "%s: unexpected unprotected TLV area header", in);
        } else {
            put16(work + 2, order, (uint16_t)(info.unprot_size + area->len));
            e = fwt_img_write_all(wfd, work, info.unprot_size, wname);
        }
    }
    if (e == FWT_OK) {
        e = fwt_img_write_all(wfd, area->data, area->len, wname);
    }
    pos = (uint64_t)unprot_end + (after > 0 ? area->len : 0);
    while (e == FWT_OK && pos < fio.io.size) {
        size_t n = fio.io.size - pos > COPY_CHUNK ? COPY_CHUNK : (size_t)(fio.io.size - pos);
        e = fwt_img_read_at(fio.fd, work, n, pos, in);
        if (e == FWT_OK) {
            e = fwt_img_write_all(wfd, work, n, wname);
        }
        pos += n;
    }
    if (e == FWT_OK && hex) {
        /* Padded: the file keeps its size; otherwise it grows by the new TLVs. */
        uint64_t dense = (uint64_t)unprot_end + area->len;
        e = write_hex_sparse(bin_fd, dense, after > 0 ? fio.io.size : dense, hex_base, fio.fd,
                             gap_fd, tmp.fd, tmp.name);
    }
    if (e == FWT_OK) {
        e = fwt_tmp_publish(&tmp, out);
    }
done:
    fwt_tmp_discard(&tmp);
    if (gap_fd >= 0) {
        close(gap_fd);
    }
    if (bin_fd >= 0) {
        close(bin_fd);
    }
    if (ops_ok) {
        fwt_openssl_ops_free(&ops);
    }
    if (fio_open) {
        fwt_file_io_close(&fio);
    }
    if (s) {
        fwt_pubkey_free(s->pub);
    }
    free(s);
    free(area);
    free(work);
    return e;
}
