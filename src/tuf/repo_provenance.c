/*
 * The repository's provenance policy (docs/provenance.md): add-target accepts an
 * image only with DSSE provenance envelopes that satisfy DIR/provenance-policy.json
 * (builder ids and keys, source, k independent builders agreeing on the payload
 * digest), and only when the image binds one of them (FWT_TLV_PROVENANCE). An
 * encrypted image is judged by its plaintext (decrypted with the device's key).
 */
#include "repo_provenance.h"

#include <fwtrust/fwt_imagefile.h>
#include <fwtrust/fwt_provenance.h>

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WORK_SIZE 8192U

int repo_provenance_has_policy(const char *dir)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof(p), "%s/%s", dir, REPO_PROVENANCE_POLICY) >= (int)sizeof(p)) {
        return 0;
    }
    return access(p, F_OK) == 0;
}

/* The payload digests the builders' envelopes may name: n_cand (1..FWT_AES_BLOCK) candidates. */
#define MAX_CAND 16U
struct payload_facts {
    uint8_t sha[MAX_CAND][32]; /* [0]: the whole payload; [k]: without its last k zero bytes */
    size_t n_cand;
    int has_prov;
    uint8_t prov[32];
    int encrypted; /* the payload hashed is the decrypted plaintext */
};

/* Hash [off, off + len) of io into c. */
static fwt_err hash_range(const struct fwt_io *io, EVP_MD_CTX *c, uint32_t off, uint32_t len,
                          uint8_t *work)
{
    while (len > 0) {
        uint32_t n = len < WORK_SIZE ? len : WORK_SIZE;
        fwt_err e = io->read(io->ctx, off, work, n);
        if (e != FWT_OK) {
            return fwt_fail(e, "cannot read the image");
        }
        if (EVP_DigestUpdate(c, work, n) != 1) {
            return fwt_fail(FWT_E_CRYPTO, "hashing failed");
        }
        off += n;
        len -= n;
    }
    return FWT_OK;
}

/* An encrypted image's plaintext, checked against its hash TLV: the digest over [0, unprot_off)
 * read through io. FWT_E_DIGEST when it does not match. */
static fwt_err plaintext_matches(const struct fwt_io *io, const struct fwt_image_info *info,
                                 uint8_t *work)
{
    const EVP_MD *md = fwt_hash_md(info->hash_alg);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    fwt_err e = FWT_OK;
    if (!md || !c || EVP_DigestInit_ex(c, md, NULL) != 1) {
        e = fwt_fail(FWT_E_CRYPTO, "hashing failed");
    }
    if (e == FWT_OK) {
        e = hash_range(io, c, 0, info->unprot_off, work);
    }
    if (e == FWT_OK && EVP_DigestFinal_ex(c, d, &dl) != 1) {
        e = fwt_fail(FWT_E_CRYPTO, "hashing failed");
    }
    EVP_MD_CTX_free(c);
    if (e == FWT_OK && (dl != info->digest_len || CRYPTO_memcmp(d, info->digest, dl) != 0)) {
        e = FWT_E_DIGEST;
    }
    return e;
}

/*
 * SHA-256 of the payload [hdr_size, hdr_size + img_size) and the bound envelope digest. An
 * encrypted image's payload is its plaintext: decrypted with dkey and checked against the hash
 * TLV first (or, stored in clear as imgtool --clear writes it, the bytes as they are, when those
 * match). Its payload ends with the zeros fwtrust sign --encrypt and imgtool add to fill the
 * last AES block (header + payload a multiple of 16): the digests without 1..15 trailing zero
 * bytes are candidates too, since the builders' artifact is the payload before that padding.
 */
static fwt_err payload_digest(const char *image, const fwt_enckey *dkey, struct payload_facts *pf)
{
    memset(pf, 0, sizeof(*pf));
    struct fwt_file_io fio;
    fwt_err e = fwt_file_io_open_any(&fio, image);
    if (e != FWT_OK) {
        return e;
    }
    uint8_t *work = malloc(WORK_SIZE);
    struct fwt_image_info info;
    struct fwt_decrypt_io dio;
    int dio_open = 0;
    const struct fwt_io *io = &fio.io;
    e = work ? fwt_image_parse(&fio.io, work, WORK_SIZE, &info) : FWT_E_NOMEM;
    if (e != FWT_OK) {
        e = fwt_fail(e, "%s: not an fwtrust image (%s)", image, fwt_detail());
    }
    if (e == FWT_OK && info.enc_key_len) {
        pf->encrypted = 1;
        if (!dkey) {
            e = fwt_fail(FWT_E_UNSUPPORTED, "%s: an encrypted image: the provenance policy is "
                         "checked on its plaintext, which needs the device's decryption key "
                         "(--decrypt-key PRIV)", image);
        } else if ((e = fwt_decrypt_io_open(&dio, &fio.io, dkey, 0, NULL)) != FWT_OK) {
            e = fwt_fail(e, "%s: %s", image, fwt_detail());
        } else {
            dio_open = 1;
            io = &dio.io;
            e = plaintext_matches(io, &info, work);
            if (e == FWT_E_DIGEST) { /* stored in clear? */
                dio.clear = 1;
                e = plaintext_matches(io, &info, work);
            }
            if (e == FWT_E_DIGEST) {
                e = fwt_fail(FWT_E_DIGEST, "%s: its plaintext does not match its hash TLV (an "
                             "altered ciphertext)", image);
            }
        }
    }
    /* Whole AES blocks: up to 15 trailing bytes may be padding (zeros). */
    uint32_t img = info.hdr.img_size, tail = 0;
    if (e == FWT_OK && pf->encrypted && (info.hdr.hdr_size + (uint64_t)img) % 16U == 0) {
        tail = img < 15U ? img : 15U;
    }
    EVP_MD_CTX *c = e == FWT_OK ? EVP_MD_CTX_new() : NULL, *k = NULL;
    if (e == FWT_OK && (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)) {
        e = fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
    }
    if (e == FWT_OK) {
        e = hash_range(io, c, info.hdr.hdr_size, img - tail, work);
    }
    uint8_t last[16];
    if (e == FWT_OK && tail) {
        e = io->read(io->ctx, info.hdr.hdr_size + img - tail, last, tail);
        if (e != FWT_OK) {
            e = fwt_fail(e, "cannot read the image");
        }
    }
    /* Candidate j: the prefix, then last[0, tail - j); the j bytes left out must be zeros. */
    for (uint32_t j = 0; e == FWT_OK && j <= tail; j++) {
        if (j > 0 && last[tail - j] != 0) {
            break;
        }
        unsigned ol = 0;
        k = EVP_MD_CTX_new();
        if (!k || EVP_MD_CTX_copy_ex(k, c) != 1 || EVP_DigestUpdate(k, last, tail - j) != 1 ||
            EVP_DigestFinal_ex(k, pf->sha[pf->n_cand], &ol) != 1) {
            e = fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
        }
        EVP_MD_CTX_free(k);
        pf->n_cand++;
    }
    if (e == FWT_OK) {
        pf->has_prov = info.has_provenance;
        memcpy(pf->prov, info.provenance, 32);
    }
    EVP_MD_CTX_free(c);
    if (dio_open) {
        fwt_decrypt_io_close(&dio);
    }
    if (work) {
        OPENSSL_cleanse(work, WORK_SIZE);
    }
    free(work);
    fwt_file_io_close(&fio);
    return e;
}

fwt_err repo_provenance_check(const char *dir, const char *image, const char *const *envs, size_t n,
                              const fwt_enckey *dkey, json_t **summary)
{
    *summary = NULL;
    int has_policy = repo_provenance_has_policy(dir);
    if (!has_policy) {
        return n ? fwt_fail(FWT_E_ARG, "--provenance given but the repository has no provenance policy "
                            "(%s/%s)", dir, REPO_PROVENANCE_POLICY)
                 : FWT_OK;
    }
    if (n == 0) {
        return fwt_fail(FWT_E_THRESHOLD, "%s: the repository's provenance policy requires provenance "
                        "envelopes (--provenance ENVELOPE, one per builder)", image);
    }
    if (n > REPO_MAX_PROVENANCE) {
        return fwt_fail(FWT_E_ARG, "at most %u --provenance", REPO_MAX_PROVENANCE);
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, REPO_PROVENANCE_POLICY);
    uint8_t *buf = NULL;
    size_t len = 0;
    struct fwt_prov_policy pol;
    memset(&pol, 0, sizeof(pol));
    fwt_err e = fwt_read_file(path, FWT_DSSE_MAX, &buf, &len);
    if (e == FWT_OK && (e = fwt_prov_policy_parse(buf, len, &pol)) != FWT_OK) {
        e = fwt_fail(e, "%s: %s", path, fwt_detail());
    }
    free(buf);
    if (e != FWT_OK) {
        return e;
    }
    uint8_t env_sha[REPO_MAX_PROVENANCE][32];
    struct payload_facts pf;
    struct fwt_dsse_envelope envl[REPO_MAX_PROVENANCE];
    memset(envl, 0, sizeof(envl));
    size_t loaded = 0;
    e = payload_digest(image, dkey, &pf);
    const uint8_t *sha = pf.sha[0];
    const uint8_t *prov = pf.prov;
    int has_prov = pf.has_prov;
    for (size_t i = 0; e == FWT_OK && i < n; i++) {
        if ((e = fwt_read_file(envs[i], FWT_DSSE_MAX, &buf, &len)) != FWT_OK) {
            break;
        }
        e = fwt_sha256(buf, len, env_sha[i]);
        if (e == FWT_OK && (e = fwt_dsse_parse(buf, len, &envl[i])) != FWT_OK) {
            e = fwt_fail(e, "%s: %s", envs[i], fwt_detail());
        }
        free(buf);
        if (e == FWT_OK) {
            loaded++;
        }
    }
    size_t agree = 0;
    uint8_t ok[REPO_MAX_PROVENANCE];
    memset(ok, 0, sizeof(ok));
    if (e == FWT_OK) {
        /* The whole payload first; an encrypted one's without its block padding after. */
        e = fwt_prov_verify_builders(&pol, envl, n, FWT_HASH_SHA256, sha, 32, NULL, &agree, ok);
        char why[512];
        snprintf(why, sizeof(why), "%s", fwt_detail());
        for (size_t j = 1; e != FWT_OK && j < pf.n_cand; j++) {
            memset(ok, 0, sizeof(ok));
            if (fwt_prov_verify_builders(&pol, envl, n, FWT_HASH_SHA256, pf.sha[j], 32, NULL,
                                         &agree, ok) == FWT_OK) {
                sha = pf.sha[j];
                e = FWT_OK;
            }
        }
        if (e != FWT_OK) {
            memset(ok, 0, sizeof(ok));
            e = fwt_fail(e, "%s: provenance policy not met%s: %s", image,
                         pf.encrypted ? " by its decrypted payload" : "", why);
        }
    }
    long bound = -1;
    if (e == FWT_OK) {
        for (size_t i = 0; i < n; i++) {
            if (ok[i] && has_prov && CRYPTO_memcmp(env_sha[i], prov, 32) == 0) {
                bound = (long)i;
            }
        }
        if (bound < 0) {
            e = fwt_fail(FWT_E_DIGEST, "%s: %s", image,
                         has_prov ? "its provenance TLV names none of the envelopes that passed"
                                  : "it binds no provenance (sign it with fwtrust sign --provenance)");
        }
    }
    if (e == FWT_OK) {
        json_t *b = json_array(), *passed = json_array();
        char hex[65];
        for (size_t i = 0; i < n; i++) {
            struct fwt_prov_result r;
            if (ok[i] && fwt_prov_verify(&pol, &envl[i], FWT_HASH_SHA256, sha, 32, NULL, &r) == FWT_OK) {
                json_array_append_new(b, json_string(r.prov.builder_id));
                json_array_append_new(passed, json_integer((json_int_t)i));
                fwt_provenance_free(&r.prov);
            }
        }
        fwt_hex_encode(sha, 32, hex);
        *summary = json_pack("{s:o, s:o, s:I, s:s, s:I, s:b}", "builders", b, "passed", passed,
                             "bound", (json_int_t)bound, "payload_sha256", hex,
                             "required_builders", (json_int_t)pol.required_builders,
                             "encrypted", pf.encrypted);
        if (*summary == NULL) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < loaded; i++) {
        fwt_dsse_free(&envl[i]);
    }
    fwt_prov_policy_free(&pol);
    return e;
}
