/*
 * The image file layer: fwt_sign_file (streaming signer), fwt_cosign_file,
 * fwt_verify_file (core + OpenSSL) and fwt_file_io, with real keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "scratch.h"

#include "image/image_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct env {
    char dir[64];
    char in[128], out[128], k1[128], k2[128], k384[128];
    fwt_privkey *key1, *key2, *key384;
    uint8_t enc1[FWT_PUBKEY_MAX], enc2[FWT_PUBKEY_MAX];
    struct fwt_trusted_key tk[2];
};

static void write_bytes(const char *path, const uint8_t *b, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b, n), (ssize_t)n);
    close(fd);
}

static size_t read_bytes(const char *path, uint8_t *b, size_t max)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, b, max);
    close(fd);
    assert_true(n >= 0);
    return (size_t)n;
}

static void trusted(fwt_privkey *k, uint8_t *enc, struct fwt_trusted_key *tk)
{
    fwt_pubkey *pub = NULL;
    assert_int_equal(fwt_privkey_public(k, &pub), FWT_OK);
    size_t len = FWT_PUBKEY_MAX;
    assert_int_equal(fwt_pubkey_mcuboot(pub, enc, &len), FWT_OK);
    tk->type = fwt_pubkey_type(pub);
    tk->key = enc;
    tk->key_len = len;
    fwt_pubkey_free(pub);
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    if (!e || ts_mkscratch(e->dir, sizeof(e->dir), "sign") != 0) {
        free(e);
        return -1;
    }
    snprintf(e->in, sizeof(e->in), "%s/fw.bin", e->dir);
    snprintf(e->out, sizeof(e->out), "%s/signed.bin", e->dir);
    snprintf(e->k1, sizeof(e->k1), "%s/k1.pem", e->dir);
    snprintf(e->k2, sizeof(e->k2), "%s/k2.pem", e->dir);
    snprintf(e->k384, sizeof(e->k384), "%s/k384.pem", e->dir);
    if (fwt_keygen_file(FWT_KEY_ED25519, e->k1, NULL) != FWT_OK ||
        fwt_keygen_file(FWT_KEY_ECDSA_P256, e->k2, NULL) != FWT_OK ||
        fwt_keygen_file(FWT_KEY_ECDSA_P384, e->k384, NULL) != FWT_OK ||
        fwt_privkey_load(e->k1, NULL, &e->key1) != FWT_OK ||
        fwt_privkey_load(e->k2, NULL, &e->key2) != FWT_OK ||
        fwt_privkey_load(e->k384, NULL, &e->key384) != FWT_OK) {
        return -1;
    }
    trusted(e->key1, e->enc1, &e->tk[0]);
    trusted(e->key2, e->enc2, &e->tk[1]);
    uint8_t fw[5000];
    for (size_t i = 0; i < sizeof(fw); i++) {
        fw[i] = (uint8_t)(i * 31 + 7);
    }
    write_bytes(e->in, fw, sizeof(fw));
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    fwt_privkey_free(e->key1);
    fwt_privkey_free(e->key2);
    fwt_privkey_free(e->key384);
    if (ts_rmrf(e->dir) != 0) {
        return -1;
    }
    free(e);
    return 0;
}

static void base_opts(struct fwt_sign_opts *o, fwt_privkey *k)
{
    memset(o, 0, sizeof(*o));
    o->header_size = 0x200;
    o->pad_header = 1;
    o->erased_val = 0xff;
    o->align = 1;
    o->write_format_tlv = 1;
    o->version.major = 1;
    o->version.minor = 2;
    o->version.revision = 3;
    o->version.build = 4;
    o->keys[0] = k;
    o->n_keys = 1;
}

static struct fwt_policy policy_for(struct env *e, size_t n)
{
    struct fwt_policy p;
    memset(&p, 0, sizeof(p));
    p.keys = e->tk;
    p.n_keys = n;
    p.threshold = 1;
    return p;
}

/* The one-of-n helper: keys loaded from files, one valid signature by any of them. */
static void test_verify_any_key(void **state)
{
    struct env *e = *state;
    struct fwt_sign_opts o;
    base_opts(&o, e->key1);
    assert_int_equal(fwt_sign_file(e->in, e->out, &o), FWT_OK);
    const char *both[] = {e->k2, e->k1};
    struct fwt_image_info info;
    assert_int_equal(fwt_verify_file_any_key(e->out, both, 2, NULL, &info), FWT_OK);
    assert_int_equal(info.n_signers, 1);
    assert_int_equal(info.signer_anchor[0], 1); /* the second key signed */
    uint8_t enc[FWT_PUBKEY_MAX], kh[32];
    struct fwt_trusted_key tk;
    assert_int_equal(fwt_trusted_key_load(e->k1, NULL, enc, &tk, kh), FWT_OK);
    assert_ptr_equal(tk.key, enc);
    assert_memory_equal(info.signer_keyhash[0], kh, 32);
    /* Not among the keys; the same key twice (the core's rule); no key; a missing key file. */
    assert_int_equal(fwt_verify_file_any_key(e->out, both, 1, NULL, NULL), FWT_E_UNKNOWN_KEY);
    const char *twice[] = {e->k1, e->k1};
    assert_int_equal(fwt_verify_file_any_key(e->out, twice, 2, NULL, NULL), FWT_E_ARG);
    assert_int_equal(fwt_verify_file_any_key(e->out, both, 0, NULL, NULL), FWT_E_ARG);
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/none.pem", e->dir);
    const char *bad[] = {e->k1, missing};
    assert_int_not_equal(fwt_verify_file_any_key(e->out, bad, 2, NULL, NULL), FWT_OK);
    assert_non_null(strstr(fwt_detail(), "none.pem"));
}

/* Number of entries in the directory (to see that no temporary file is left). */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

static void test_sign_verify(void **state)
{
    struct env *e = *state;
    struct fwt_sign_opts o;
    base_opts(&o, e->key1);
    o.has_security_counter = 1;
    o.security_counter = 7;
    o.hw_id = (const uint8_t *)"board-a";
    o.hw_id_len = 7;
    assert_int_equal(fwt_sign_file(e->in, e->out, &o), FWT_OK);
    struct fwt_policy p = policy_for(e, 1);
    struct fwt_image_info info;
    assert_int_equal(fwt_verify_file(e->out, &p, &info), FWT_OK);
    assert_int_equal(info.hdr.hdr_size, 0x200);
    assert_int_equal(info.hdr.img_size, 5000);
    assert_int_equal(info.hdr.version.revision, 3);
    assert_int_equal(info.hdr.version.build, 4);
    assert_int_equal(info.security_counter, 7);
    assert_int_equal(info.format_version, FWT_FORMAT_VERSION);
    assert_int_equal(info.hw_id_len, 7);
    assert_memory_equal(info.hw_id, "board-a", 7);
    assert_int_equal(info.n_signers, 1);
    /* Header padding is the erased value, as imgtool's --pad-header. */
    uint8_t *img = malloc(0x10000);
    size_t n = read_bytes(e->out, img, 0x10000);
    assert_true(n > 0x200 + 5000);
    assert_int_equal(img[0x20], 0xff);
    assert_int_equal(img[0x1ff], 0xff);
    free(img);
    /* Counter and hardware id policy. */
    p.min_security_counter = 8;
    assert_int_equal(fwt_verify_file(e->out, &p, &info), FWT_E_COUNTER);
    assert_non_null(strstr(fwt_detail(), "security counter 7 is below the minimum 8"));
    p.min_security_counter = 7;
    p.hw_id = (const uint8_t *)"board-b";
    p.hw_id_len = 7;
    assert_int_equal(fwt_verify_file(e->out, &p, &info), FWT_E_HW_ID);
    /* The other key is not trusted for it. */
    struct fwt_policy p2;
    memset(&p2, 0, sizeof(p2));
    p2.keys = &e->tk[1];
    p2.n_keys = 1;
    p2.threshold = 1;
    assert_int_equal(fwt_verify_file(e->out, &p2, &info), FWT_E_UNKNOWN_KEY);
}

static void test_digest_detail(void **state)
{
    struct env *e = *state;
    struct fwt_sign_opts o;
    base_opts(&o, e->key1);
    assert_int_equal(fwt_sign_file(e->in, e->out, &o), FWT_OK);
    int fd = open(e->out, O_RDWR);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, 0x300), 1);
    b ^= 1;
    assert_int_equal(pwrite(fd, &b, 1, 0x300), 1);
    close(fd);
    struct fwt_policy p = policy_for(e, 1);
    assert_int_equal(fwt_verify_file(e->out, &p, NULL), FWT_E_DIGEST);
    assert_non_null(strstr(fwt_detail(), "digest mismatch: image says "));
    assert_non_null(strstr(fwt_detail(), ", computed "));
}

static void test_failure_leaves_output(void **state)
{
    struct env *e = *state;
    const uint8_t old[] = "previous contents";
    write_bytes(e->out, old, sizeof(old));
    int before = dir_entries(e->dir);
    struct fwt_sign_opts o;
    base_opts(&o, e->key1);
    o.slot_size = 0x1000; /* 0x200 + 5000 does not fit */
    assert_int_equal(fwt_sign_file(e->in, e->out, &o), FWT_E_TOO_LARGE);
    assert_non_null(strstr(fwt_detail(), "exceeds the slot size 0x1000"));
    uint8_t now[64];
    assert_int_equal(read_bytes(e->out, now, sizeof(now)), sizeof(old));
    assert_memory_equal(now, old, sizeof(old));
    assert_int_equal(dir_entries(e->dir), before);
    /* Without --pad-header the input must start with header_size zero bytes. */
    o.slot_size = 0;
    o.pad_header = 0;
    assert_int_equal(fwt_sign_file(e->in, e->out, &o), FWT_E_ARG);
    assert_non_null(strstr(fwt_detail(), "not all zero"));
    /* Missing input. */
    assert_int_equal(fwt_sign_file("/nonexistent/fw.bin", e->out, &o), FWT_E_NOT_FOUND);
    assert_int_equal(read_bytes(e->out, now, sizeof(now)), sizeof(old));
    assert_int_equal(dir_entries(e->dir), before);
}

static void test_bad_options(void **state)
{
    struct env *e = *state;
    struct fwt_sign_opts o;
    base_opts(&o, e->key1);
    o.header_size = 16;
    assert_int_equal(fwt_sign_file(e->in, e->out, &o), FWT_E_ARG);
    base_opts(&o, e->key1);
    o.pad = 1; /* no slot size */
    assert_int_equal(fwt_sign_file(e->in, e->out, &o), FWT_E_ARG);
    base_opts(&o, e->key1);
    o.slot_size = 0x10000;
    o.align = 3;
    assert_int_equal(fwt_sign_file(e->in, e->out, &o), FWT_E_ARG);
    o.slot_size = 0; /* refused even without a slot */
    assert_int_equal(fwt_sign_file(e->in, e->out, &o), FWT_E_ARG);
    base_opts(&o, e->key1);
    o.keys[1] = e->key384; /* SHA-384 and SHA-256 keys cannot share one digest */
    o.n_keys = 2;
    assert_int_equal(fwt_sign_file(e->in, e->out, &o), FWT_E_ARG);
    assert_non_null(strstr(fwt_detail(), "P-384"));
    base_opts(&o, e->key2);
    o.pure = 1; /* pure needs Ed25519 */
    assert_int_equal(fwt_sign_file(e->in, e->out, &o), FWT_E_ARG);
    base_opts(&o, e->key1);
    o.keys[1] = e->key1;
    o.n_keys = 2;
    assert_int_equal(fwt_sign_file(e->in, e->out, &o), FWT_E_ARG);
    base_opts(&o, e->key1);
    o.hw_id = (const uint8_t *)"x";
    o.hw_id_len = FWT_HW_ID_MAX + 1;
    assert_int_equal(fwt_sign_file(e->in, e->out, &o), FWT_E_ARG);
}

static void test_two_keys_and_cosign(void **state)
{
    struct env *e = *state;
    struct fwt_sign_opts o;
    base_opts(&o, e->key1);
    o.keys[1] = e->key2;
    o.n_keys = 2;
    assert_int_equal(fwt_sign_file(e->in, e->out, &o), FWT_OK);
    struct fwt_policy p = policy_for(e, 2);
    p.threshold = 2;
    struct fwt_image_info info;
    assert_int_equal(fwt_verify_file(e->out, &p, &info), FWT_OK);
    assert_int_equal(info.n_signers, 2);

    /* Sign with key 1, cosign with key 2: threshold 2 met, signed bytes unchanged. */
    char one[160], two[160];
    snprintf(one, sizeof(one), "%s/one.bin", e->dir);
    snprintf(two, sizeof(two), "%s/two.bin", e->dir);
    base_opts(&o, e->key1);
    assert_int_equal(fwt_sign_file(e->in, one, &o), FWT_OK);
    assert_int_equal(fwt_verify_file(one, &p, &info), FWT_E_THRESHOLD);
    struct fwt_file_io fio;
    uint8_t *work = malloc(FWT_WORK_MIN);
    assert_int_equal(fwt_file_io_open(&fio, one), FWT_OK);
    assert_int_equal(fwt_image_parse(&fio.io, work, FWT_WORK_MIN, &info), FWT_OK);
    fwt_file_io_close(&fio);
    free(work);
    uint32_t signed_end = info.unprot_off;
    assert_true(signed_end > 0x200 + 5000);
    assert_int_equal(fwt_cosign_file(one, two, e->key2, NULL, 0), FWT_OK);
    assert_int_equal(fwt_verify_file(two, &p, &info), FWT_OK);
    assert_int_equal(info.n_signers, 2);
    uint8_t *a = malloc(0x10000), *b = malloc(0x10000);
    size_t na = read_bytes(one, a, 0x10000), nb = read_bytes(two, b, 0x10000);
    assert_true(nb > na);
    assert_memory_equal(a, b, signed_end);
    free(a);
    free(b);
    /* Cosigning again with the same key is refused; in place works and is atomic. */
    assert_int_equal(fwt_cosign_file(two, two, e->key2, NULL, 0), FWT_E_ARG);
    assert_int_equal(fwt_cosign_file(one, one, e->key2, NULL, 0), FWT_OK);
    assert_int_equal(fwt_verify_file(one, &p, NULL), FWT_OK);
    /* A P-384 key cannot cosign a SHA-256 image. */
    assert_int_equal(fwt_cosign_file(one, two, e->key384, NULL, 0), FWT_E_ARG);
}

static void test_cosign_area_overflow(void **state)
{
    struct env *e = *state;
    /* Hand-made image: header, 16-byte payload, and an unprotected area of
     * SHA256 + groups of KEYHASH and (junk) ED25519 TLVs, structurally valid,
     * filled so that one more KEYHASH + signature passes its u16 size. */
    size_t hs = 32, ps = 16;
    size_t n_groups = (0xffff - 40) / 104; /* 36 (KEYHASH) + 68 (ED25519) per group */
    size_t area = 4 + 36 + n_groups * 104;
    assert_true(area <= 0xffff && area + 104 > 0xffff);
    size_t total = hs + ps + area;
    uint8_t *img = calloc(1, total);
    uint32_t magic = FWT_IMAGE_MAGIC;
    memcpy(img, &magic, 4); /* little-endian host */
    img[8] = (uint8_t)hs;
    img[12] = (uint8_t)ps;
    memset(img + hs, 0xab, ps);
    uint8_t *t = img + hs + ps;
    t[0] = 0x07;
    t[1] = 0x69;
    t[2] = (uint8_t)area;
    t[3] = (uint8_t)(area >> 8);
    t[4] = FWT_TLV_SHA256;
    t[6] = 32;
    assert_int_equal(fwt_sha256(img, hs + ps, t + 8), FWT_OK);
    for (size_t i = 0; i < n_groups; i++) {
        uint8_t *k = t + 40 + i * 104;
        k[0] = FWT_TLV_KEYHASH;
        k[2] = 32;
        memset(k + 4, (int)(i + 1), 32);
        k[36] = FWT_TLV_ED25519;
        k[38] = 64;
    }
    char big[160], big2[160];
    snprintf(big, sizeof(big), "%s/big.bin", e->dir);
    snprintf(big2, sizeof(big2), "%s/big2.bin", e->dir);
    write_bytes(big, img, total);
    free(img);
    assert_int_equal(fwt_cosign_file(big, big2, e->key1, NULL, 0), FWT_E_TOO_LARGE);
    assert_non_null(strstr(fwt_detail(), "16-bit"));
    assert_int_equal(access(big2, F_OK), -1);
}

static void test_pad_trailer(void **state)
{
    struct env *e = *state;
    struct fwt_sign_opts o;
    base_opts(&o, e->key1);
    o.slot_size = 0x4000;
    o.pad = 1;
    o.confirm = 1;
    o.align = 8;
    assert_int_equal(fwt_sign_file(e->in, e->out, &o), FWT_OK);
    uint8_t *img = malloc(0x8000);
    size_t n = read_bytes(e->out, img, 0x8000);
    assert_int_equal(n, 0x4000);
    struct fwt_trailer tr;
    assert_int_equal(fwt_trailer_layout(8, &tr), FWT_OK);
    assert_memory_equal(img + 0x4000 - 16, tr.magic, 16);
    assert_int_equal(img[0x4000 - 16 - 8], 0x01); /* image_ok */
    assert_int_equal(img[0x4000 - 16 - 8 + 1], 0xff);
    assert_int_equal(img[0x4000 - tr.size], 0xff);
    free(img);
    struct fwt_policy p = policy_for(e, 1);
    assert_int_equal(fwt_verify_file(e->out, &p, NULL), FWT_OK);
    /* Cosign of a padded image writes into the erased padding, same size. */
    assert_int_equal(fwt_cosign_file(e->out, e->out, e->key2, NULL, 0), FWT_OK);
    struct stat st;
    assert_int_equal(stat(e->out, &st), 0);
    assert_int_equal(st.st_size, 0x4000);
    p = policy_for(e, 2);
    p.threshold = 2;
    assert_int_equal(fwt_verify_file(e->out, &p, NULL), FWT_OK);
}

static void test_pure(void **state)
{
    struct env *e = *state;
    struct fwt_sign_opts o;
    base_opts(&o, e->key1);
    o.pure = 1;
    assert_int_equal(fwt_sign_file(e->in, e->out, &o), FWT_OK);
    struct fwt_policy p = policy_for(e, 1);
    assert_int_equal(fwt_verify_file(e->out, &p, NULL), FWT_OK);
}

static void test_file_io(void **state)
{
    struct env *e = *state;
    struct fwt_file_io fio;
    assert_int_equal(fwt_file_io_open(&fio, e->in), FWT_OK);
    assert_int_equal(fio.io.size, 5000);
    uint8_t b[8];
    assert_int_equal(fio.io.read(fio.io.ctx, 4992, b, 8), FWT_OK);
    assert_int_equal(b[0], (uint8_t)(4992 * 31 + 7));
    assert_int_equal(fio.io.read(fio.io.ctx, 4993, b, 8), FWT_E_IO); /* past the end */
    assert_int_equal(fio.io.read(fio.io.ctx, 0xffffffffU, b, 8), FWT_E_IO); /* wraps */
    fwt_file_io_close(&fio);
    assert_int_equal(fwt_file_io_open(&fio, "/nonexistent"), FWT_E_NOT_FOUND);
    assert_int_equal(fwt_file_io_open(&fio, e->dir), FWT_E_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify),         cmocka_unit_test(test_digest_detail),
        cmocka_unit_test(test_failure_leaves_output), cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_two_keys_and_cosign), cmocka_unit_test(test_cosign_area_overflow),
        cmocka_unit_test(test_pad_trailer),         cmocka_unit_test(test_pure),
        cmocka_unit_test(test_file_io),
        cmocka_unit_test(test_verify_any_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
