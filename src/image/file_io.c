/*
 * fwt_io over a file descriptor (pread: no whole-file reads), and
 * fwt_verify_file: the core verifier with the OpenSSL ops, plus an error
 * detail naming the cause of a failure.
 */
#include "image_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

/* The core reads through our work buffer; a large one keeps verify I/O-bound. */
#define VERIFY_WORK_SIZE (1024U * 1024U)

static fwt_err fio_read(void *ctx, uint32_t off, void *buf, size_t len)
{
    struct fwt_file_io *fio = ctx;
    if ((uint64_t)off + len > fio->io.size) {
        return FWT_E_IO;
    }
    uint8_t *p = buf;
    uint64_t pos = off;
    while (len > 0) {
        ssize_t r = pread(fio->fd, p, len, (off_t)pos);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return FWT_E_IO;
        }
        if (r == 0) {
            return FWT_E_IO; /* file shrank under us */
        }
        p += r;
        pos += (uint64_t)r;
        len -= (size_t)r;
    }
    fwt_ihex_map_patch(fio->hex, off, buf, (size_t)(pos - off)); /* HEX gaps: erased */
    return FWT_OK;
}

void fwt_file_io_from_fd(struct fwt_file_io *fio, int fd, uint32_t size)
{
    memset(fio, 0, sizeof(*fio));
    fio->fd = fd;
    fio->owns_fd = 0;
    fio->io.ctx = fio;
    fio->io.read = fio_read;
    fio->io.size = size;
}

fwt_err fwt_file_io_open(struct fwt_file_io *fio, const char *path)
{
    memset(fio, 0, sizeof(*fio));
    fio->fd = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fwt_fail(errno == ENOENT ? FWT_E_NOT_FOUND : FWT_E_IO, "%s: %s", path,
                        strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fwt_fail(FWT_E_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        close(fd);
        return fwt_fail(FWT_E_ARG, "%s: not a regular file", path);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (S_ISBLK(st.st_mode)) {
        off_t end = lseek(fd, 0, SEEK_END);
        size = end < 0 ? 0 : (uint64_t)end;
    }
    if (size > UINT32_MAX) {
        close(fd);
        return fwt_fail(FWT_E_TOO_LARGE, "%s: %llu bytes is more than an image can hold (4 GiB - 1)",
                        path, (unsigned long long)size);
    }
    fwt_file_io_from_fd(fio, fd, (uint32_t)size);
    fio->owns_fd = 1;
    return FWT_OK;
}

fwt_err fwt_file_io_open_any(struct fwt_file_io *fio, const char *path)
{
    size_t l = strlen(path);
    if (l <= 4 || strcasecmp(path + l - 4, ".hex") != 0) {
        return fwt_file_io_open(fio, path);
    }
    memset(fio, 0, sizeof(*fio));
    fio->fd = -1;
    FILE *scratch = tmpfile();
    if (!scratch) {
        return fwt_fail(FWT_E_IO, "cannot create a scratch file: %s", strerror(errno));
    }
    int fd = dup(fileno(scratch));
    fclose(scratch);
    if (fd < 0) {
        return fwt_fail(FWT_E_IO, "dup: %s", strerror(errno));
    }
    struct fwt_ihex_map *map = calloc(1, sizeof(*map));
    if (!map) {
        close(fd);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    uint32_t base = 0, size = 0;
    fwt_err e = fwt_ihex_to_bin(path, fd, 0xff, FWT_IHEX_SPAN_MAX, &base, &size, map);
    if (e != FWT_OK) {
        free(map);
        close(fd);
        return e;
    }
    fwt_file_io_from_fd(fio, fd, size);
    fio->owns_fd = 1;
    fio->hex = map; /* gaps stay holes in the scratch file; reads see 0xff */
    return FWT_OK;
}

void fwt_file_io_close(struct fwt_file_io *fio)
{
    if (fio->owns_fd && fio->fd >= 0) {
        close(fio->fd);
    }
    if (fio->hex) {
        fwt_ihex_map_free(fio->hex);
        free(fio->hex);
        fio->hex = NULL;
    }
    fio->fd = -1;
    fio->owns_fd = 0;
}

/* ---- error detail ---- */

static void hex_short(const uint8_t *b, size_t n, char *out /* >= 2*n+1 */)
{
    fwt_hex_encode(b, n, out);
}

/* Hash [0, end) of the image with alg (for the digest mismatch message). */
static int compute_digest(const struct fwt_io *io, enum fwt_hash_alg alg, uint32_t end,
                          uint8_t *out, unsigned *out_len, uint8_t *buf, size_t buf_len)
{
    const EVP_MD *md = fwt_hash_md(alg) ? fwt_hash_md(alg) : fwt_hash_md(FWT_HASH_SHA256);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || EVP_DigestInit_ex(c, md, NULL) != 1) {
        EVP_MD_CTX_free(c);
        return -1;
    }
    uint32_t off = 0;
    while (off < end) {
        size_t n = end - off > buf_len ? buf_len : end - off;
        if (io->read(io->ctx, off, buf, n) != FWT_OK || EVP_DigestUpdate(c, buf, n) != 1) {
            EVP_MD_CTX_free(c);
            return -1;
        }
        off += (uint32_t)n;
    }
    int ok = EVP_DigestFinal_ex(c, out, out_len);
    EVP_MD_CTX_free(c);
    return ok == 1 ? 0 : -1;
}

/* Key hashes named in the unprotected area, as "ab12cd34.., ..." (first 8 bytes each). */
static void list_keyhashes(const struct fwt_io *io, const struct fwt_image_header *hdr, char *out,
                           size_t out_len)
{
    struct fwt_tlv_iter it;
    out[0] = '\0';
    if (fwt_tlv_iter_begin(&it, io, hdr, 0) != FWT_OK) {
        return;
    }
    size_t used = 0;
    uint16_t type, len;
    uint32_t off;
    while (fwt_tlv_next(&it, &type, &off, &len) == FWT_OK) {
        if (type != FWT_TLV_KEYHASH || len != 32) {
            continue;
        }
        uint8_t kh[32];
        char hx[65];
        if (io->read(io->ctx, off, kh, sizeof(kh)) != FWT_OK) {
            return;
        }
        hex_short(kh, 8, hx);
        int n = snprintf(out + used, out_len - used, "%s%s..", used ? ", " : "", hx);
        if (n < 0 || (size_t)n >= out_len - used) {
            return;
        }
        used += (size_t)n;
    }
}

/* "a1b2..., c3d4..." for the first FWT_KEYHASH_SIZE/4 bytes of each key's hash (the key id an
 * image's KEYHASH TLV carries), or "none". */
static void list_trusted(const struct fwt_trusted_key *keys, size_t n, char *out, size_t out_len)
{
    size_t used = 0;
    snprintf(out, out_len, "none");
    for (size_t i = 0; i < n; i++) {
        uint8_t kh[32];
        char hx[65];
        if (fwt_sha256(keys[i].key, keys[i].key_len, kh) != FWT_OK) {
            snprintf(hx, sizeof(hx), "(unhashable)");
        } else {
            hex_short(kh, 8, hx);
        }
        int w = snprintf(out + used, out_len - used, "%s%s..", used ? ", " : "", hx);
        if (w < 0 || (size_t)w >= out_len - used) {
            return;
        }
        used += (size_t)w;
    }
}

/* The first certificate TLV of the image, parsed (its buffer is work). */
static fwt_err first_cert(const struct fwt_io *io, const struct fwt_image_header *hdr,
                          uint8_t *work, size_t work_len, struct fwt_cert *c)
{
    struct fwt_tlv_iter it;
    fwt_err e = fwt_tlv_iter_begin(&it, io, hdr, 0);
    uint16_t type, len;
    uint32_t off;
    while (e == FWT_OK && (e = fwt_tlv_next(&it, &type, &off, &len)) == FWT_OK) {
        if (type == FWT_TLV_CERT && len <= work_len) {
            if (io->read(io->ctx, off, work, len) != FWT_OK) {
                return FWT_E_IO;
            }
            return fwt_cert_parse(work, len, c);
        }
    }
    return FWT_E_NOT_FOUND;
}

fwt_err fwt_verify_explain(fwt_err err, const char *path, const struct fwt_io *io,
                           const struct fwt_policy *policy, const struct fwt_image_info *info,
                           uint8_t *work, size_t work_len)
{
    const char *core = fwt_detail(); /* anything a lower layer said */
    char core_copy[256];
    snprintf(core_copy, sizeof(core_copy), "%s", core);
    struct fwt_image_info pi;
    memset(&pi, 0, sizeof(pi));
    int parsed = fwt_image_parse(io, work, work_len, &pi) == FWT_OK;
    char a[2 * FWT_DIGEST_MAX + 1], b[2 * FWT_DIGEST_MAX + 1];
    switch (err) {
    case FWT_E_DIGEST:
        if (parsed && pi.digest_len > 0) {
            uint8_t d[EVP_MAX_MD_SIZE];
            unsigned dl = 0;
            fwt_hex_encode(pi.digest, pi.digest_len, a);
            if (compute_digest(io, pi.hash_alg, pi.unprot_off, d, &dl, work, work_len) == 0) {
                fwt_hex_encode(d, dl, b);
                return fwt_fail(err, "%s: digest mismatch: image says %s, computed %s", path, a, b);
            }
            return fwt_fail(err, "%s: digest mismatch: image says %s", path, a);
        }
        break;
    case FWT_E_UNSIGNED:
        return fwt_fail(err, "%s: the image has no signature TLV", path);
    case FWT_E_UNKNOWN_KEY: {
        char kh[512], tk[512], tr[512];
        list_trusted(policy->keys, policy->n_keys, tk, sizeof(tk));
        list_trusted(policy->roots, policy->n_roots, tr, sizeof(tr));
        if (parsed) {
            list_keyhashes(io, &pi.hdr, kh, sizeof(kh));
            if (kh[0]) {
                return fwt_fail(err, "%s: signed by key hash %s, not one of the %zu trusted "
                                "key(s): trusted key hashes %s; certificate roots %s",
                                path, kh, policy->n_keys, tk, tr);
            }
        }
        return fwt_fail(err, "%s: no signature is by one of the %zu trusted key(s): trusted key "
                        "hashes %s; certificate roots %s", path, policy->n_keys, tk, tr);
    }
    case FWT_E_SIGNATURE:
        return fwt_fail(err, "%s: a signature by a trusted key does not verify", path);
    case FWT_E_HW_ID:
        if (parsed && pi.hw_id_len > 0) {
            return fwt_fail(err, "%s: image is for hardware id '%.*s', this device is '%.*s'", path,
                            (int)pi.hw_id_len, (const char *)pi.hw_id, (int)policy->hw_id_len,
                            (const char *)policy->hw_id);
        }
        return fwt_fail(err, "%s: image carries no hardware id, device requires '%.*s'", path,
                        (int)policy->hw_id_len, (const char *)policy->hw_id);
    case FWT_E_COUNTER:
        if (parsed && pi.has_security_counter) {
            return fwt_fail(err, "%s: image security counter %u is below the minimum %u", path,
                            (unsigned)pi.security_counter, (unsigned)policy->min_security_counter);
        }
        return fwt_fail(err, "%s: image has no security counter, minimum is %u", path,
                        (unsigned)policy->min_security_counter);
    case FWT_E_THRESHOLD:
        return fwt_fail(err, "%s: valid signatures from %u distinct trust anchor(s) (%u signing "
                        "key(s); a root counts once however many keys it certified), %u required",
                        path, info ? (unsigned)info->n_anchors : 0U,
                        info ? (unsigned)info->n_signers : 0U, (unsigned)policy->threshold);
    case FWT_E_ARG:
        if (fwt_policy_check(policy) == FWT_E_ARG) {
            return fwt_fail(err, "%s: the trust policy is refused: the same public key given "
                            "twice as a trusted key or root (one key is one trust anchor), or a "
                            "threshold of 0 or above the %zu trust anchor(s) (at most %u)",
                            path, policy->n_keys + policy->n_roots, FWT_MAX_SIGNERS);
        }
        break;
    case FWT_E_CERT:
    case FWT_E_KEY_VERSION: {
        struct fwt_cert c;
        if (parsed && first_cert(io, &pi.hdr, work, work_len, &c) == FWT_OK) {
            if (err == FWT_E_KEY_VERSION) {
                return fwt_fail(err, "%s: certificate key version %u is below the minimum %u "
                                "(revoked)", path, (unsigned)c.key_version,
                                (unsigned)policy->min_key_version);
            }
            if (policy->now && c.not_after && policy->now > c.not_after) {
                return fwt_fail(err, "%s: certificate expired (not after %llu, now %llu)", path,
                                (unsigned long long)c.not_after,
                                (unsigned long long)policy->now);
            }
            if (policy->hw_id_len && c.hw_id_len &&
                (c.hw_id_len != policy->hw_id_len ||
                 memcmp(c.hw_id, policy->hw_id, c.hw_id_len) != 0)) {
                return fwt_fail(err, "%s: certificate is for hardware '%.*s', not '%.*s'", path,
                                (int)c.hw_id_len, (const char *)c.hw_id, (int)policy->hw_id_len,
                                (const char *)policy->hw_id);
            }
            return fwt_fail(err, "%s: certificate signature does not verify with the trusted "
                            "root, or it certifies another key", path);
        }
        break;
    }
    case FWT_E_UNSUPPORTED:
        if (parsed && pi.enc_key_len && !(io->flags & FWT_IO_PLAINTEXT)) {
            return fwt_fail(err, "%s: encrypted image (AES-%u-CTR, key in TLV 0x%02x): only its "
                            "plaintext can be verified; give the device's decryption key "
                            "(--decrypt-key)", path, 8U * pi.enc_key_len, (unsigned)pi.enc_tlv);
        }
        break;
    case FWT_E_IO:
        return fwt_fail(err, "%s: read error%s%s", path, core_copy[0] ? ": " : "", core_copy);
    default:
        break;
    }
    if (core_copy[0]) {
        return fwt_fail(err, "%s: %s", path, core_copy);
    }
    return fwt_fail(err, "%s: %s", path, fwt_strerror(err));
}

int fwt_version_cmp_mcuboot(const struct fwt_version *a, const struct fwt_version *b)
{
    if (a->major != b->major) {
        return a->major < b->major ? -1 : 1;
    }
    if (a->minor != b->minor) {
        return a->minor < b->minor ? -1 : 1;
    }
    if (a->revision != b->revision) {
        return a->revision < b->revision ? -1 : 1;
    }
    return 0;
}

fwt_err fwt_file_dependencies(const char *path, struct fwt_dependency *deps, size_t max,
                              size_t *n)
{
    *n = 0;
    struct fwt_file_io fio;
    fwt_err e = fwt_file_io_open_any(&fio, path);
    if (e != FWT_OK) {
        return e;
    }
    uint8_t *work = malloc(FWT_WORK_MIN);
    struct fwt_image_info info;
    e = work ? fwt_image_parse(&fio.io, work, FWT_WORK_MIN, &info)
             : fwt_fail(FWT_E_NOMEM, "out of memory");
    struct fwt_tlv_iter it;
    if (e == FWT_OK) {
        e = fwt_tlv_iter_begin(&it, &fio.io, &info.hdr, 1);
        if (e == FWT_E_NOT_FOUND) {
            e = FWT_OK; /* no protected area: no dependencies */
            it.io = NULL;
        }
    }
    while (e == FWT_OK && it.io) {
        uint16_t t, l;
        uint32_t off;
        fwt_err ne = fwt_tlv_next(&it, &t, &off, &l);
        if (ne == FWT_E_NOT_FOUND) {
            break;
        }
        e = ne;
        if (e != FWT_OK || t != FWT_TLV_DEPENDENCY) {
            continue;
        }
        uint8_t v[12];
        if (l != sizeof(v)) {
            e = fwt_fail(FWT_E_MALFORMED, "%s: a DEPENDENCY TLV of %u bytes", path, (unsigned)l);
        } else if ((e = fio.io.read(fio.io.ctx, off, v, sizeof(v))) == FWT_OK) {
            if (*n >= max) {
                e = fwt_fail(FWT_E_TOO_LARGE, "%s: more than %zu dependencies", path, max);
            } else {
                e = fwt_dependency_decode_order(v, sizeof(v), info.hdr.byte_order, &deps[*n]);
                *n += e == FWT_OK;
            }
        }
    }
    free(work);
    fwt_file_io_close(&fio);
    return e;
}

fwt_err fwt_verify_file(const char *path, const struct fwt_policy *policy,
                        struct fwt_image_info *info)
{
    return fwt_verify_file_flags(path, policy, 0, info);
}

fwt_err fwt_verify_file_flags(const char *path, const struct fwt_policy *policy,
                              uint32_t io_flags, struct fwt_image_info *info)
{
    struct fwt_image_info local;
    if (!info) {
        info = &local;
    }
    memset(info, 0, sizeof(*info));
    if (!path || !policy) {
        return fwt_fail(FWT_E_ARG, "fwt_verify_file: missing path or policy");
    }
    struct fwt_file_io fio;
    fwt_err err = fwt_file_io_open_any(&fio, path);
    if (err != FWT_OK) {
        return err;
    }
    uint8_t *work = malloc(VERIFY_WORK_SIZE);
    if (!work) {
        fwt_file_io_close(&fio);
        return fwt_fail(FWT_E_NOMEM, "no memory for the verify work buffer");
    }
    struct fwt_crypto_ops ops;
    memset(&ops, 0, sizeof(ops));
    err = fwt_openssl_ops_init(&ops);
    if (err != FWT_OK) {
        free(work);
        fwt_file_io_close(&fio);
        return fwt_fail(err, "cannot start the crypto backend");
    }
    fwt_detail_clear();
    fio.io.flags = io_flags;
    err = fwt_image_verify(&fio.io, &ops, policy, work, VERIFY_WORK_SIZE, info);
    if (err != FWT_OK) {
        err = fwt_verify_explain(err, path, &fio.io, policy, info, work, VERIFY_WORK_SIZE);
    }
    fwt_openssl_ops_free(&ops);
    free(work);
    fwt_file_io_close(&fio);
    return err;
}

fwt_err fwt_trusted_key_load(const char *spec, const struct fwt_key_opts *ko, uint8_t enc[FWT_PUBKEY_MAX],
                             struct fwt_trusted_key *tk, uint8_t keyhash[32])
{
    fwt_pubkey *pub = NULL;
    fwt_err err = fwt_pubkey_load(spec, ko, &pub);
    if (err != FWT_OK) {
        return err;
    }
    size_t len = FWT_PUBKEY_MAX;
    err = fwt_pubkey_mcuboot(pub, enc, &len);
    if (err == FWT_OK && keyhash) {
        err = fwt_pubkey_keyhash(pub, keyhash);
    }
    if (err == FWT_OK) {
        memset(tk, 0, sizeof(*tk));
        tk->type = fwt_pubkey_type(pub);
        tk->key = enc;
        tk->key_len = len;
    } else {
        err = fwt_fail(err, "%s: cannot encode the public key", spec);
    }
    fwt_pubkey_free(pub);
    return err;
}

fwt_err fwt_verify_file_any_key(const char *path, const char *const *specs, size_t n,
                                const struct fwt_key_opts *ko, struct fwt_image_info *info)
{
    if (n == 0 || n > FWT_VERIFY_ANY_MAX) {
        return fwt_fail(FWT_E_ARG, "1 to %u keys to verify with, not %zu", FWT_VERIFY_ANY_MAX, n);
    }
    struct fwt_trusted_key tk[FWT_VERIFY_ANY_MAX];
    uint8_t (*enc)[FWT_PUBKEY_MAX] = calloc(n, FWT_PUBKEY_MAX);
    if (!enc) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_err err = FWT_OK;
    for (size_t i = 0; i < n && err == FWT_OK; i++) {
        err = fwt_trusted_key_load(specs[i], ko, enc[i], &tk[i], NULL);
    }
    if (err == FWT_OK) {
        struct fwt_policy pol;
        memset(&pol, 0, sizeof(pol));
        pol.keys = tk;
        pol.n_keys = n;
        pol.threshold = 1;
        err = fwt_verify_file(path, &pol, info);
    }
    free(enc);
    return err;
}

fwt_err fwt_image_file_key_version(const char *path, uint32_t *key_version)
{
    *key_version = 0;
    struct fwt_file_io fio;
    fwt_err err = fwt_file_io_open_any(&fio, path);
    if (err != FWT_OK) {
        return err;
    }
    uint8_t *work = malloc(8192); /* a header's worth, and a certificate (FWT_CERT_MAX) */
    struct fwt_image_info pi;
    memset(&pi, 0, sizeof(pi));
    struct fwt_cert c;
    if (!work) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    } else if ((err = fwt_image_parse(&fio.io, work, 8192, &pi)) == FWT_OK) {
        err = first_cert(&fio.io, &pi.hdr, work, 8192, &c);
        if (err == FWT_OK) {
            *key_version = c.key_version;
        } else if (err == FWT_E_NOT_FOUND) {
            fwt_detail_clear();
        }
    }
    free(work);
    fwt_file_io_close(&fio);
    return err;
}
