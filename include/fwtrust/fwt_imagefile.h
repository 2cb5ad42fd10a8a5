/*
 * fwtrust host image API: sign images into files (streaming), add
 * signatures, read images from files or descriptors for the verifier core.
 *
 * Hosted C. The one verifier is the core's fwt_image_verify(); this module
 * only provides file I/O and the OpenSSL crypto ops around it.
 */
#ifndef FWT_IMAGEFILE_H
#define FWT_IMAGEFILE_H

#if !defined(FWTRUST_INSIDE_FWTRUST_H) && !defined(FWTRUST_INTERNAL)
#error "include <fwtrust/fwtrust_host.h>, not this header"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Reading: fwt_io over a file or descriptor ---- */

struct fwt_ihex_map;
struct fwt_file_io {
    struct fwt_io io; /* pass &fio.io to the core */
    int fd;
    int owns_fd;
    struct fwt_ihex_map *hex; /* internal: an Intel HEX conversion's gaps (NULL otherwise) */
};
/* Open path read-only; io.size is the file size (FWT_E_TOO_LARGE above 4 GiB - 1). */
FWT_MUST_CHECK fwt_err fwt_file_io_open(struct fwt_file_io *fio, const char *path);
/* Wrap an open descriptor (not closed by fwt_file_io_close); size bytes readable. */
void fwt_file_io_from_fd(struct fwt_file_io *fio, int fd, uint32_t size);
void fwt_file_io_close(struct fwt_file_io *fio);

/*
 * Open an image for reading: a binary file, or an Intel HEX file (name ending
 * in .hex) converted to a scratch binary first (gaps filled with 0xff; byte 0
 * is the lowest address). fwt_verify_file and inspect read images this way.
 */
FWT_MUST_CHECK fwt_err fwt_file_io_open_any(struct fwt_file_io *fio, const char *path);

/* ---- Verifying a file with the core and OpenSSL ---- */

/*
 * Verify the image in path with the core verifier and the OpenSSL ops.
 * Sets the error detail (fwt_detail()) to a sentence naming the cause.
 */
/* The key version of the first boot-key certificate (FWT_TLV_CERT) embedded in the image
 * at path (binary or .hex): FWT_E_NOT_FOUND when it carries none (signed by a directly
 * trusted key). Not a verification: the catalog lists what an image claims. */
FWT_MUST_CHECK fwt_err fwt_image_file_key_version(const char *path, uint32_t *key_version);
FWT_MUST_CHECK fwt_err fwt_verify_file(const char *path, const struct fwt_policy *policy,
                                       struct fwt_image_info *info);
/* The same with io flags for the reader: FWT_IO_PLAINTEXT for storage that holds
 * plaintext (a device slot, as MCUboot's primary slot). */
FWT_MUST_CHECK fwt_err fwt_verify_file_flags(const char *path, const struct fwt_policy *policy,
                                             uint32_t io_flags, struct fwt_image_info *info);

/*
 * One public key (a PEM/DER file, or a pkcs11: URI with ko) as a trust
 * anchor: enc receives its MCUboot encoding, tk points into enc, keyhash (when
 * not NULL) receives its key hash. The loader's error as it is; a key that
 * cannot be encoded is refused naming spec.
 */
FWT_MUST_CHECK fwt_err fwt_trusted_key_load(const char *spec, const struct fwt_key_opts *ko,
                                            uint8_t enc[FWT_PUBKEY_MAX],
                                            struct fwt_trusted_key *tk, uint8_t keyhash[32]);

#define FWT_VERIFY_ANY_MAX 32U
/*
 * Verify path against a one-of-n policy over the keys specs[0..n) (threshold
 * 1: one valid signature by one of them; the core's fwt_policy_check rules
 * apply). 1 <= n <= FWT_VERIFY_ANY_MAX. info may be NULL.
 */
FWT_MUST_CHECK fwt_err fwt_verify_file_any_key(const char *path, const char *const *specs, size_t n,
                                               const struct fwt_key_opts *ko,
                                               struct fwt_image_info *info);

/* ---- Encrypted images (MCUboot's scheme; docs/image-format.md) ---- */

/*
 * A device's image-encryption key, as MCUboot knows them: RSA-2048 (RSA-OAEP),
 * EC P-256 (ECIES-P256), X25519 (ECIES-X25519), each a PEM file (private to
 * decrypt; public or private to encrypt), or an AES key-encryption key for AES
 * key wrap (a file with the base64 of 16, 24 or 32 bytes, as MCUboot's
 * enc-aes*kw.b64 sample keys).
 */
typedef struct fwt_enckey fwt_enckey;
enum fwt_enckey_kind {
    FWT_ENCKEY_RSA2048 = 1,
    FWT_ENCKEY_EC256 = 2,
    FWT_ENCKEY_X25519 = 3,
    FWT_ENCKEY_KW = 4
};
/* FWT_E_KEY (naming path) for anything else; FWT_E_NOT_FOUND / FWT_E_IO for the file. */
FWT_MUST_CHECK fwt_err fwt_enckey_load(const char *path, fwt_enckey **out);
/* The same, and a pkcs11: URI of an RSA-2048 or EC P-256 key in a token (ko:
 * module, PIN file; may be NULL): RSA-OAEP decryption and ECDH run in the token. */
FWT_MUST_CHECK fwt_err fwt_enckey_load_ex(const char *spec, const struct fwt_key_opts *ko,
                                          fwt_enckey **out);
void fwt_enckey_free(fwt_enckey *k);
enum fwt_enckey_kind fwt_enckey_kind(const fwt_enckey *k);
int fwt_enckey_has_private(const fwt_enckey *k);
/* "RSA-2048", "EC P-256", "X25519", "AES-KW-128" ... */
const char *fwt_enckey_name(const fwt_enckey *k);

/*
 * A reader of the plaintext of an encrypted image in src (which must outlive
 * it): the AES key is unwrapped from the image's ENC_* TLV with key (refused
 * before any payload byte is read: a wrong key or an altered tag is FWT_E_KEY;
 * a missing or truncated TLV FWT_E_MALFORMED from the parser; a key of a type
 * other than the TLV's FWT_E_KEY), and every read of the payload is decrypted
 * (AES-CTR, seekable). clear: the payload is stored in clear (imgtool --clear,
 * MCUboot's primary slot) and read as it is; the key is still checked. io has
 * FWT_IO_PLAINTEXT, so the core verifies it; info (may be NULL) receives the
 * parse of the image. Close with fwt_decrypt_io_close (zeroizes the key).
 */
struct fwt_decrypt_io {
    struct fwt_io io; /* pass &dio.io to the core */
    const struct fwt_io *src;
    uint32_t pay_off, pay_len;
    uint8_t key[FWT_ENC_KEY_MAX];
    size_t key_len;
    int clear;
    void *ctr; /* internal */
};
FWT_MUST_CHECK fwt_err fwt_decrypt_io_open(struct fwt_decrypt_io *d, const struct fwt_io *src,
                                           const fwt_enckey *key, int clear,
                                           struct fwt_image_info *info);
void fwt_decrypt_io_close(struct fwt_decrypt_io *d);

/*
 * fwt_verify_file() of an encrypted image's plaintext: decrypted with key;
 * when that plaintext does not match the hash TLV, the payload as stored
 * (an image written with --clear, or one already decrypted by fwt_decrypt_file)
 * is tried (*clear = 1 when that one verified). A plain image is verified as
 * fwt_verify_file() does (*clear = 0).
 */
FWT_MUST_CHECK fwt_err fwt_verify_file_decrypt(const char *path, const struct fwt_policy *policy,
                                               const fwt_enckey *key,
                                               struct fwt_image_info *info, int *clear);

/*
 * Decrypt the image in in to out: the same image with its payload in clear
 * (header flags and ENC_* TLV kept, as MCUboot leaves an image it decrypted
 * into the primary slot, and as imgtool --clear writes it: its hash and
 * signatures verify with fwt_verify_file_decrypt), or with
 * FWT_DECRYPT_PAYLOAD only the payload bytes. Before anything is written the
 * plaintext must match the image's hash TLV (FWT_E_DIGEST otherwise). An
 * image already in clear is copied as it is (*clear = 1). out is written
 * atomically; on failure nothing is written.
 */
#define FWT_DECRYPT_PAYLOAD 0x1U
FWT_MUST_CHECK fwt_err fwt_decrypt_file(const char *in, const char *out, const fwt_enckey *key,
                                        unsigned flags, struct fwt_image_info *info, int *clear);

/* ---- Signing ---- */

#define FWT_SIGN_MAX_KEYS 8

/* A protected TLV of the caller's (imgtool --custom-tlv): a type in imgtool's
 * vendor range 0x00a0-0xfffe that is neither an MCUboot TLV nor one of
 * fwtrust's own 0x46a0-0x46ff. */
#define FWT_SIGN_MAX_CUSTOM 32
struct fwt_custom_tlv {
    uint16_t type;
    const uint8_t *val;
    size_t len;
};
/* Parse imgtool's custom TLV value: "0x..." hex bytes (even count), else the
 * text itself; the result points into value or into buf (cap bytes). */
FWT_MUST_CHECK fwt_err fwt_custom_tlv_parse(const char *tag, const char *value, uint8_t *buf,
                                            size_t cap, struct fwt_custom_tlv *out);

/* MCUboot image dependency (DEPENDENCY TLV, protected): this image needs image
 * image_id at version >= min. Value: u8 image id, 3 zero bytes, u8 major,
 * u8 minor, u16 revision, u32 build (12 bytes, little endian). */
#define FWT_SIGN_MAX_DEPS 16
struct fwt_dependency {
    uint8_t image_id;
    struct fwt_version min;
};
/* imgtool's -d/--dependencies text: "(ID, VERSION)" one or more times,
 * separated by commas or spaces, e.g. "(1,1.2.3+0)" or "(1, 2.0), (2, 1.0.0)".
 * Appends to deps[*n], at most max in all. */
FWT_MUST_CHECK fwt_err fwt_dependencies_parse(const char *s, struct fwt_dependency *deps,
                                              size_t max, size_t *n);
/* The DEPENDENCY TLVs of the image in path (parsed by the core; not verified:
 * call it on an image that verified). At most max; more is FWT_E_TOO_LARGE. */
FWT_MUST_CHECK fwt_err fwt_file_dependencies(const char *path, struct fwt_dependency *deps,
                                             size_t max, size_t *n);
/* MCUboot's comparison of a dependency: major, minor, revision (not the build
 * number). < 0, 0, > 0 as a is below, equal to, above b. */
int fwt_version_cmp_mcuboot(const struct fwt_version *a, const struct fwt_version *b);
/* Decode a DEPENDENCY TLV value (12 bytes) of a little-endian image. */
FWT_MUST_CHECK fwt_err fwt_dependency_decode(const uint8_t *val, size_t len,
                                             struct fwt_dependency *out);
/* The same in an image's byte order (FWT_ORDER_*, fwt_image_header.byte_order):
 * imgtool packs the revision and build numbers in it. */
FWT_MUST_CHECK fwt_err fwt_dependency_decode_order(const uint8_t *val, size_t len, unsigned order,
                                                   struct fwt_dependency *out);

/* A detached signature file: base64 text (as imgtool --sig-out writes it, and
 * fwt_sign_opts.sig_out) or the raw signature bytes (openssl pkeyutl). At most
 * cap bytes of signature. */
FWT_MUST_CHECK fwt_err fwt_signature_file_read(const char *path, uint8_t *sig, size_t cap,
                                               size_t *len);

/* imgtool's boot record (BOOT_RECORD TLV, CBOR map of a measured-boot software
 * component), decoded. Strict: exactly the map of five entries imgtool writes
 * (keys 1 type, 2 measurement value, 4 version, 5 signer id, 6 measurement
 * description, each once, definite lengths), else FWT_E_MALFORMED. */
struct fwt_boot_record {
    char sw_type[24];
    char version[24];
    char measurement_desc[24];
    uint8_t signer_id[64];
    size_t signer_id_len;
    uint8_t measurement[64];
    size_t measurement_len;
};
FWT_MUST_CHECK fwt_err fwt_boot_record_decode(const uint8_t *v, size_t len,
                                              struct fwt_boot_record *out);

/* The parts of an ENC_* TLV value of len bytes: ephemeral public key, HMAC tag
 * and encrypted key (ECIES), or a wrapped key alone (RSA-OAEP, AES-KW:
 * pub_len = tag_len = 0). FWT_E_MALFORMED for a length MCUboot never writes. */
FWT_MUST_CHECK fwt_err fwt_enc_tlv_layout(uint16_t tlv, size_t len, size_t *pub_len,
                                          size_t *tag_len, size_t *key_len);

/* What fwt_sign_file writes with vector_to_sign (detached signing). */
#define FWT_VECTOR_NONE 0
#define FWT_VECTOR_DIGEST 1  /* the image digest (what Ed25519, ECDSA, RSA-PSS sign) */
#define FWT_VECTOR_PAYLOAD 2 /* the signed region [0, hdr + payload + protected TLVs) */

struct fwt_sign_opts {
    struct fwt_version version;
    uint32_t header_size;  /* bytes reserved for the header, >= 32 */
    int pad_header;        /* prepend header_size bytes instead of overwriting zeros */
    uint32_t slot_size;    /* 0 = no slot size check/padding */
    int pad;               /* pad to slot_size and write the boot trailer magic */
    int confirm;           /* with pad: mark image_ok in the trailer */
    uint32_t align;        /* flash write alignment for the trailer: 1, 2, 4, 8, 16, 32 */
    uint32_t max_align;    /* imgtool --max-align 8|16|32 (0: max(8, align)) */
    uint32_t max_sectors;  /* imgtool --max-sectors (0: 128) */
    int overwrite_only;    /* imgtool --overwrite-only trailer (no swap status) */
    int pad_sig;           /* imgtool --pad-sig: ECDSA signatures zero-padded to the
                            * curve's largest DER size (72 P-256, 104 P-384) */
    uint8_t erased_val;    /* 0xff (default) or 0x00 */
    uint32_t load_addr;
    uint32_t flags;        /* extra header flags (e.g. FWT_IMAGE_F_ROM_FIXED) */
    int has_security_counter;
    uint32_t security_counter;
    const uint8_t *hw_id;
    size_t hw_id_len;
    const uint8_t *provenance; /* 32 bytes or NULL */
    int pure;                  /* Ed25519 pure signatures (SIG_PURE TLV) */
    int embed_pubkey;          /* PUBKEY TLV instead of KEYHASH */
    int write_format_tlv;      /* fwtrust format version TLV (default on in the CLI) */
    fwt_privkey *keys[FWT_SIGN_MAX_KEYS];
    size_t n_keys;
    /* Certificates to embed before the signature of keys[i] (NULL = none). */
    const uint8_t *certs[FWT_SIGN_MAX_KEYS];
    size_t cert_lens[FWT_SIGN_MAX_KEYS];
    /* Progress callback (may be NULL): bytes of payload processed. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    /* Sign even with a published sample key (fwt_pubkey_is_test_key); else FWT_E_TEST_KEY. */
    int allow_test_key;
    /* imgtool --sha: the image hash (0: the key type's default, as imgtool's
     * auto); refused when the key type may not sign it. */
    enum fwt_hash_alg hash;
    /* Protected TLVs: imgtool --custom-tlv, -d, --boot-record SW_TYPE (the CBOR
     * boot record imgtool writes: type, version, signer id = the first key's
     * key hash, measurement description and an all-zero measurement value). */
    const struct fwt_custom_tlv *custom;
    size_t n_custom;
    const struct fwt_dependency *deps;
    size_t n_deps;
    const char *boot_record;
    /* Detached signing. vector_to_sign: write the digest or the signed region
     * to out instead of an image (no keys needed: fix_sig_pubkey names the key
     * that will sign). fix_sig: the signature made elsewhere by fix_sig_pubkey
     * (instead of keys); checked before anything is written (FWT_E_SIGNATURE).
     * sig_out: also write the (first) signature, base64, to this file. */
    int vector_to_sign;
    const fwt_pubkey *fix_sig_pubkey;
    const uint8_t *fix_sig;
    size_t fix_sig_len;
    const char *sig_out;
    /* Encryption (MCUboot's scheme): a fresh random AES key per image, the
     * payload (padded with zeros to 16 bytes) in AES-CTR, the key wrapped for
     * enc_key in an ENC_* TLV; hash and signatures over the plaintext. */
    const fwt_enckey *enc_key;  /* NULL: not encrypted */
    uint32_t enc_key_len;       /* 16 (default) or 32 */
    int enc_hmac_sha512;        /* X25519 only: HKDF/HMAC-SHA512 (ENC_X25519_SHA512) */
    int enc_clear;              /* flag and key TLV, payload left in clear (imgtool --clear) */
    int enc_save_tlv;           /* trailer reserves room for the whole ENC TLV (--save-enctlv) */
    /* Intel HEX output: address of the image's first byte. Without it the
     * address comes from an Intel HEX input (minus header_size with pad_header). */
    int has_hex_addr;
    uint32_t hex_addr;
    /* imgtool --endian big: the header, TLV info and TLV headers, SEC_CNT and
     * DEPENDENCY values big endian (FWT_ORDER_BIG; fwt_image.h), and the trailer
     * magic's max_align field; 0: little endian, MCUboot's order. */
    int big_endian;
};

/*
 * Sign: read the raw payload from in (binary or Intel HEX by extension) and
 * write the signed image to out (binary or Intel HEX by extension). Streams
 * the payload: memory use does not grow with image size. out is written
 * atomically; on failure it is left as it was.
 */
FWT_MUST_CHECK fwt_err fwt_sign_file(const char *in, const char *out,
                                     const struct fwt_sign_opts *opts);

/* Append one more signature (cosign) to a signed image without changing the
 * signed bytes; out may equal in (atomic replace). */
FWT_MUST_CHECK fwt_err fwt_cosign_file(const char *in, const char *out, fwt_privkey *key,
                                       const uint8_t *cert, size_t cert_len);
/* The same, with flags: FWT_COSIGN_ALLOW_TEST_KEY accepts a published sample
 * key (fwt_cosign_file refuses one with FWT_E_TEST_KEY). */
#define FWT_COSIGN_ALLOW_TEST_KEY 0x1U
FWT_MUST_CHECK fwt_err fwt_cosign_file_ex(const char *in, const char *out, fwt_privkey *key,
                                          const uint8_t *cert, size_t cert_len, unsigned flags);

/* ---- MCUboot boot trailer (swap modes, as imgtool lays it out) ---- */

#define FWT_BOOT_MAGIC_SIZE 16U
#define FWT_TRAILER_MAX_SECTORS 128U

struct fwt_trailer {
    uint32_t size;        /* bytes at the end of the slot */
    uint32_t max_align;   /* max(8, align) */
    uint32_t magic_off;   /* offset of the magic from the slot start... relative to trailer start */
    uint32_t image_ok_off; /* relative to trailer start */
    uint8_t magic[FWT_BOOT_MAGIC_SIZE];
};
/* align: 1, 2, 4, 8, 16 or 32; FWT_E_ARG otherwise. */
FWT_MUST_CHECK fwt_err fwt_trailer_layout(uint32_t align, struct fwt_trailer *t);
/* The trailer as imgtool sizes it with its other options (zero = default). */
struct fwt_trailer_opts {
    uint32_t align;         /* write size: 1, 2, 4, 8, 16, 32 */
    uint32_t max_align;     /* imgtool --max-align: 8, 16 or 32; 0: max(8, align) */
    uint32_t max_sectors;   /* imgtool -M/--max-sectors; 0: 128 */
    int overwrite_only;     /* imgtool --overwrite-only: no swap status, no key area */
    uint32_t enc_key_bytes; /* encrypted image: 16, or the ENC TLV's length with
                             * --save-enctlv (two slots' worth, each aligned); 0: none */
    int big_endian;         /* imgtool --endian big: the magic's max_align field big endian */
};
FWT_MUST_CHECK fwt_err fwt_trailer_layout_ex(const struct fwt_trailer_opts *o,
                                             struct fwt_trailer *t);

/* Security counter imgtool's "auto" derives from a version. */
uint32_t fwt_security_counter_auto(const struct fwt_version *v);

/* Parse "1.2.3+4" (minor, revision, build optional). */
FWT_MUST_CHECK fwt_err fwt_version_parse(const char *s, struct fwt_version *v);

/*
 * Format v as "M.m.r+b" (always all four parts): the one text form of an
 * image version (reports, repository metadata, the signing log). 48 bytes
 * always suffice.
 */
void fwt_version_format(const struct fwt_version *v, char *out, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* FWT_IMAGEFILE_H */
