/*
 * The repository's provenance policy (docs/provenance.md): add-target accepts an
 * image only with DSSE provenance envelopes that satisfy DIR/provenance-policy.json
 * (builder ids and keys, source, k independent builders agreeing on the payload
 * digest), and only when the image binds one of them (FWT_TLV_PROVENANCE).
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

/* SHA-256 of the payload [hdr_size, hdr_size + img_size) and the bound envelope digest. */
static fwt_err payload_digest(const char *image, uint8_t sha[32], int *has_prov, uint8_t prov[32])
{
    struct fwt_file_io fio;
    fwt_err e = fwt_file_io_open_any(&fio, image);
    if (e != FWT_OK) {
        return e;
    }
    uint8_t *work = malloc(WORK_SIZE);
    struct fwt_image_info info;
    e = work ? fwt_image_parse(&fio.io, work, WORK_SIZE, &info) : FWT_E_NOMEM;
    if (e != FWT_OK) {
        e = fwt_fail(e, "%s: not an fwtrust image (%s)", image, fwt_detail());
    }
    EVP_MD_CTX *c = e == FWT_OK ? EVP_MD_CTX_new() : NULL;
    if (e == FWT_OK && (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)) {
        e = fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
    }
    uint32_t off = info.hdr.hdr_size, left = info.hdr.img_size;
    while (e == FWT_OK && left > 0) {
        uint32_t n = left < WORK_SIZE ? left : WORK_SIZE;
        e = fio.io.read(fio.io.ctx, off, work, n);
        if (e == FWT_OK && EVP_DigestUpdate(c, work, n) != 1) {
            e = fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
        }
        off += n;
        left -= n;
    }
    unsigned ol = 0;
    if (e == FWT_OK && EVP_DigestFinal_ex(c, sha, &ol) != 1) {
        e = fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
    }
    if (e == FWT_OK) {
        *has_prov = info.has_provenance;
        memcpy(prov, info.provenance, 32);
    }
    EVP_MD_CTX_free(c);
    free(work);
    fwt_file_io_close(&fio);
    return e;
}

fwt_err repo_provenance_check(const char *dir, const char *image, const char *const *envs, size_t n,
                              json_t **summary)
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
    uint8_t sha[32], prov[32], env_sha[REPO_MAX_PROVENANCE][32];
    int has_prov = 0;
    struct fwt_dsse_envelope envl[REPO_MAX_PROVENANCE];
    memset(envl, 0, sizeof(envl));
    size_t loaded = 0;
    e = payload_digest(image, sha, &has_prov, prov);
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
        e = fwt_prov_verify_builders(&pol, envl, n, FWT_HASH_SHA256, sha, 32, NULL, &agree, ok);
        if (e != FWT_OK) {
            e = fwt_fail(e, "%s: provenance policy not met: %s", image, fwt_detail());
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
        *summary = json_pack("{s:o, s:o, s:I, s:s, s:I}", "builders", b, "passed", passed, "bound",
                             (json_int_t)bound, "payload_sha256", hex, "required_builders",
                             (json_int_t)pol.required_builders);
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
