/* Writes the core fuzz seed corpora: gen_fuzz_seeds fuzz/corpus/core_verify fuzz/corpus/core_cert */
#include <stdio.h>
#include <string.h>
#include "mock.h"
static void w(const char *dir, const char *name, const void *b, size_t n)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}
static struct tb B;
int main(int argc, char **argv)
{
    (void)argc;
    const char *vd = argv[1], *cd = argv[2];
    struct mock_key k1, k2, k3, r, s;
    mock_key(&k1, FWT_KEY_ED25519, 1);
    mock_key(&k2, FWT_KEY_ECDSA_P256, 2);
    mock_key(&k3, FWT_KEY_RSA3072, 3);
    mock_key(&r, FWT_KEY_ED25519, 10);
    mock_key(&s, FWT_KEY_ECDSA_P256, 12);
    tb_standard(&B, &k1);
    w(vd, "standard-ed25519", B.img, B.len);
    tb_standard(&B, &k3);
    w(vd, "standard-rsa3072", B.img, B.len);
    tb_init(&B, 32, 40);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &k1, 0, NULL, 0);
    tb_add_sig(&B, &k2, 1, NULL, 0);
    tb_finish(&B);
    w(vd, "two-signers-pubkey", B.img, B.len);
    uint8_t cert[FWT_CERT_MAX];
    size_t cl = mock_cert(cert, &r, &s, 2, 1800000000ULL, "board-a");
    w(cd, "cert-hw", cert, cl);
    size_t cl2 = mock_cert(cert, &r, &s, 1, 0, NULL);
    w(cd, "cert-plain", cert, cl2);
    tb_init(&B, 32, 24);
    uint8_t cnt[4] = {3, 0, 0, 0}, one = 1;
    tb_prot(&B, FWT_TLV_SEC_CNT, cnt, 4);
    tb_prot(&B, FWT_TLV_HW_ID, "board-a", 7);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &s, 0, cert, cl2);
    tb_finish(&B);
    w(vd, "certified", B.img, B.len);
    /* Two keys of one root and a directly trusted key: anchors, not keys, meet a threshold. */
    struct mock_key s2;
    mock_key(&s2, FWT_KEY_ECDSA_P256, 13);
    uint8_t cert2[FWT_CERT_MAX];
    size_t cl3 = mock_cert(cert2, &r, &s2, 1, 0, NULL);
    tb_init(&B, 32, 24);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &s, 0, cert, cl2);
    tb_add_sig(&B, &s2, 0, cert2, cl3);
    tb_add_sig(&B, &k1, 0, NULL, 0);
    tb_finish(&B);
    w(vd, "one-root-two-keys", B.img, B.len);
    tb_init(&B, 32, 24);
    B.pure = 1;
    tb_prot(&B, FWT_TLV_SIG_PURE, &one, 1);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &k1, 0, NULL, 0);
    tb_finish(&B);
    w(vd, "pure", B.img, B.len);
    /* imgtool --pure: SHA-512, SIG_PURE in the unprotected area after the hash */
    tb_init(&B, 32, 24);
    B.pure = 1;
    B.hash = FWT_HASH_SHA512;
    tb_layout(&B);
    tb_add_hash(&B);
    tb_unprot(&B, FWT_TLV_SIG_PURE, &one, 1);
    tb_add_sig(&B, &k1, 0, NULL, 0);
    tb_finish(&B);
    w(vd, "pure-imgtool", B.img, B.len);
    tb_init(&B, 32, 24);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_finish(&B);
    w(vd, "unsigned", B.img, B.len);
    /* imgtool --endian big: the same structures in the other byte order (counter big endian) */
    uint8_t cnt_be[4] = {0, 0, 0, 3}, fmt[4] = {1, 1, 0, 0};
    tb_init(&B, 32, 40);
    B.big_endian = 1;
    tb_prot(&B, FWT_TLV_SEC_CNT, cnt_be, 4);
    tb_prot(&B, FWT_TLV_FORMAT, fmt, 4);
    tb_prot(&B, FWT_TLV_HW_ID, "board-a", 7);
    tb_prot(&B, 0x1234, "custom", 6);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &k1, 0, NULL, 0);
    tb_add_sig(&B, &s, 1, cert, cl2);
    tb_finish(&B);
    w(vd, "big-endian-certified", B.img, B.len);
    tb_init(&B, 32, 24);
    B.big_endian = 1;
    B.pure = 1;
    B.hash = FWT_HASH_SHA512;
    tb_layout(&B);
    tb_add_hash(&B);
    tb_unprot(&B, FWT_TLV_SIG_PURE, &one, 1);
    tb_add_sig(&B, &k1, 0, NULL, 0);
    tb_finish(&B);
    w(vd, "big-endian-pure", B.img, B.len);
    return 0;
}
