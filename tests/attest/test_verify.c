/*
 * The quote verifier's checks that a real TPM never produces (a TPM signs only
 * its own well-formed quotes): quotes forged with a software AK, so that each
 * structural check (magic, type, trailing bytes, banks, clock info, signature
 * hash), the event log header, the signer pairing, the AK template, an
 * unusable nonce store, and the signed record are tested on their own.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fwtrust/fwt_attest.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

struct buf {
    uint8_t b[1024];
    size_t n;
};
static void u8(struct buf *b, uint8_t v) { b->b[b->n++] = v; }
static void u16(struct buf *b, uint16_t v) { u8(b, (uint8_t)(v >> 8)); u8(b, (uint8_t)v); }
static void u32(struct buf *b, uint32_t v) { u16(b, (uint16_t)(v >> 16)); u16(b, (uint16_t)v); }
static void u64(struct buf *b, uint64_t v) { u32(b, (uint32_t)(v >> 32)); u32(b, (uint32_t)v); }
static void raw(struct buf *b, const void *p, size_t n) { memcpy(b->b + b->n, p, n); b->n += n; }

/* The forged world: a software AK, a log, its PCRs, a catalog, a nonce store. */
static EVP_PKEY *g_key;
static struct buf g_akpub;
static uint8_t *g_log;
static size_t g_log_len;
static uint8_t g_pcrs[24][32];
static struct fwt_attest_image g_cat[1];
static const uint8_t k_nonce[32] = {7, 7, 7};
static int g_nonce_state = FWT_NONCE_FRESH;
static int g_store_fails;

static fwt_err consume(void *ctx, const uint8_t *n, size_t len, enum fwt_nonce_state *st)
{
    (void)ctx;
    (void)n;
    (void)len;
    if (g_store_fails) {
        return fwt_fail(FWT_E_IO, "store down");
    }
    *st = (enum fwt_nonce_state)g_nonce_state;
    return FWT_OK;
}
static const struct fwt_attest_nonce_store g_store = {NULL, consume};

static void ak_public(uint32_t attrs)
{
    uint8_t pt[65];
    size_t pl = 0;
    assert_int_equal(EVP_PKEY_get_octet_string_param(g_key, OSSL_PKEY_PARAM_PUB_KEY, pt,
                                                     sizeof(pt), &pl), 1);
    assert_int_equal(pl, 65);
    struct buf area = {{0}, 0};
    u16(&area, FWT_TPM_ALG_ECC);
    u16(&area, FWT_TPM_ALG_SHA256);
    u32(&area, attrs);
    u16(&area, 0); /* authPolicy */
    u16(&area, FWT_TPM_ALG_NULL);
    u16(&area, FWT_TPM_ALG_ECDSA);
    u16(&area, FWT_TPM_ALG_SHA256);
    u16(&area, FWT_TPM_ECC_NIST_P256);
    u16(&area, FWT_TPM_ALG_NULL);
    u16(&area, 32);
    raw(&area, pt + 1, 32);
    u16(&area, 32);
    raw(&area, pt + 33, 32);
    g_akpub.n = 0;
    u16(&g_akpub, (uint16_t)area.n);
    raw(&g_akpub, area.b, area.n);
}

static void add_event(unsigned pcr, uint32_t tag, const uint8_t d[32])
{
    uint8_t *rec = NULL;
    size_t rl = 0;
    assert_int_equal(fwt_tcglog_event(pcr, tag, d, (const uint8_t *)"{}", 2, &rec, &rl), FWT_OK);
    g_log = realloc(g_log, g_log_len + rl);
    memcpy(g_log + g_log_len, rec, rl);
    g_log_len += rl;
    free(rec);
}

static int setup(void **state)
{
    (void)state;
    g_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(g_key);
    ak_public(0x00050472U);
    free(g_log);
    assert_int_equal(fwt_tcglog_header(&g_log, &g_log_len), FWT_OK);
    uint8_t img[32], signer[32], cfg[32];
    memset(img, 0xa1, 32);
    memset(signer, 0xb2, 32);
    memset(cfg, 0xc3, 32);
    add_event(FWT_PCR_IMAGE, FWT_TAG_IMAGE, img);
    add_event(FWT_PCR_SIGNER, FWT_TAG_SIGNER, signer);
    add_event(FWT_PCR_CONFIG, FWT_TAG_CONFIG, cfg);
    assert_int_equal(fwt_tcglog_replay(g_log, g_log_len, g_pcrs), FWT_OK);
    g_cat[0].name = "fw.bin";
    g_cat[0].version = "1.0.0";
    memcpy(g_cat[0].digest, img, 32);
    g_cat[0].digest_len = 32;
    memcpy(g_cat[0].signer_keyhash, signer, 32);
    g_nonce_state = FWT_NONCE_FRESH;
    g_store_fails = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(g_key);
    g_key = NULL;
    free(g_log);
    g_log = NULL;
    g_log_len = 0;
    return 0;
}

struct forge {
    uint32_t magic;
    uint16_t type;
    uint8_t safe;
    uint32_t banks;
    uint8_t sel[3];
    int trailing;
    uint16_t sig_hash;
};
static const struct forge k_good = {FWT_TPM_GENERATED, FWT_TPM_ST_ATTEST_QUOTE, 1, 1,
                                    {0x00, 0x0b, 0x00}, 0, FWT_TPM_ALG_SHA256};

/* A quote as a TPM would make it (or not, per f), signed by the software AK. */
static void forge(const struct forge *f, struct buf *q, struct buf *s)
{
    q->n = s->n = 0;
    u32(q, f->magic);
    u16(q, f->type);
    u16(q, 0); /* qualifiedSigner */
    u16(q, sizeof(k_nonce));
    raw(q, k_nonce, sizeof(k_nonce));
    u64(q, 123456);
    u32(q, 5);
    u32(q, 2);
    u8(q, f->safe);
    u64(q, 0x2019102300000000ULL);
    u32(q, f->banks);
    for (uint32_t i = 0; i < f->banks; i++) {
        u16(q, FWT_TPM_ALG_SHA256);
        u8(q, 3);
        raw(q, f->sel, 3);
    }
    uint8_t cat[96], d[32];
    memcpy(cat, g_pcrs[8], 32);
    memcpy(cat + 32, g_pcrs[9], 32);
    memcpy(cat + 64, g_pcrs[11], 32);
    assert_int_equal(fwt_sha256(cat, sizeof(cat), d), FWT_OK);
    u16(q, 32);
    raw(q, d, 32);
    if (f->trailing) {
        u8(q, 0);
    }
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    uint8_t der[80];
    size_t dl = sizeof(der);
    assert_int_equal(EVP_DigestSignInit(mc, NULL, EVP_sha256(), NULL, g_key), 1);
    assert_int_equal(EVP_DigestSign(mc, der, &dl, q->b, q->n), 1);
    EVP_MD_CTX_free(mc);
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
    assert_non_null(es);
    uint8_t r[32], sv[32];
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), r, 32), 32);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), sv, 32), 32);
    ECDSA_SIG_free(es);
    u16(s, FWT_TPM_ALG_ECDSA);
    u16(s, f->sig_hash);
    u16(s, 32);
    raw(s, r, 32);
    u16(s, 32);
    raw(s, sv, 32);
}

static enum fwt_attest_reason run(const struct forge *f, const uint8_t *log, size_t log_len,
                                  struct fwt_attest_result *res)
{
    struct buf q, s;
    forge(f, &q, &s);
    struct fwt_attest_input in = {
        .ak_pub = g_akpub.b, .ak_len = g_akpub.n, .ak_activated = 1, .nonce = k_nonce,
        .nonce_len = sizeof(k_nonce), .nonces = &g_store, .quote = q.b, .quote_len = q.n,
        .sig = s.b, .sig_len = s.n, .pcrs = (const uint8_t(*)[32])g_pcrs, .eventlog = log,
        .eventlog_len = log_len, .catalog = g_cat, .n_catalog = 1, .assigned = "fw.bin"};
    assert_int_equal(fwt_attest_verify(&in, res), FWT_OK);
    return res->reason;
}

static void test_pass(void **state)
{
    (void)state;
    struct fwt_attest_result res;
    assert_int_equal(run(&k_good, g_log, g_log_len, &res), FWT_ATTEST_R_NONE);
    assert_int_equal(res.verdict, FWT_ATTEST_PASS);
    assert_int_equal(res.attest.reset_count, 5);
    assert_int_equal(res.attest.restart_count, 2);
    assert_int_equal(res.attest.clock, 123456);
    assert_true(res.have_config);
    assert_string_equal(res.running->name, "fw.bin");
}

static void test_structure(void **state)
{
    (void)state;
    struct fwt_attest_result res;
    struct forge f = k_good;
    f.magic = 0x12345678;
    assert_int_equal(run(&f, g_log, g_log_len, &res), FWT_ATTEST_R_MAGIC);
    assert_int_equal(res.verdict, FWT_ATTEST_FAIL);
    f = k_good;
    f.type = 0x8017; /* TPM_ST_ATTEST_CERTIFY: signed by the AK, but not a quote */
    assert_int_equal(run(&f, g_log, g_log_len, &res), FWT_ATTEST_R_TYPE);
    f = k_good;
    f.trailing = 1;
    assert_int_equal(run(&f, g_log, g_log_len, &res), FWT_ATTEST_R_QUOTE_MALFORMED);
    f = k_good;
    f.banks = 2;
    assert_int_equal(run(&f, g_log, g_log_len, &res), FWT_ATTEST_R_QUOTE_MALFORMED);
    f = k_good;
    f.safe = 2;
    assert_int_equal(run(&f, g_log, g_log_len, &res), FWT_ATTEST_R_QUOTE_MALFORMED);
    f = k_good;
    f.sig_hash = 0x0004; /* SHA-1 */
    assert_int_equal(run(&f, g_log, g_log_len, &res), FWT_ATTEST_R_SIGNATURE);
    f = k_good;
    f.sel[2] = 0x80; /* PCR 23 added */
    assert_int_equal(run(&f, g_log, g_log_len, &res), FWT_ATTEST_R_PCR_SELECTION);
}

static void test_nonce_and_ak(void **state)
{
    (void)state;
    struct fwt_attest_result res;
    g_nonce_state = FWT_NONCE_USED;
    assert_int_equal(run(&k_good, g_log, g_log_len, &res), FWT_ATTEST_R_NONCE_REPLAYED);
    g_nonce_state = FWT_NONCE_UNKNOWN;
    assert_int_equal(run(&k_good, g_log, g_log_len, &res), FWT_ATTEST_R_NONCE_UNKNOWN);
    g_nonce_state = FWT_NONCE_FRESH;
    /* the store failing: no verdict, an error */
    g_store_fails = 1;
    struct buf q, s;
    forge(&k_good, &q, &s);
    struct fwt_attest_input in = {
        .ak_pub = g_akpub.b, .ak_len = g_akpub.n, .ak_activated = 1, .nonces = &g_store,
        .quote = q.b, .quote_len = q.n, .sig = s.b, .sig_len = s.n,
        .pcrs = (const uint8_t(*)[32])g_pcrs, .eventlog = g_log, .eventlog_len = g_log_len,
        .catalog = g_cat, .n_catalog = 1};
    assert_int_equal(fwt_attest_verify(&in, &res), FWT_E_IO);
    assert_int_equal(res.verdict, FWT_ATTEST_UNKNOWN);
    g_store_fails = 0;
    in.ak_activated = 0;
    assert_int_equal(fwt_attest_verify(&in, &res), FWT_OK);
    assert_int_equal(res.reason, FWT_ATTEST_R_AK_NOT_ACTIVATED);
    /* an AK that can also decrypt is not an attestation key */
    ak_public(0x00050472U | 0x00020000U);
    in.ak_pub = g_akpub.b;
    in.ak_len = g_akpub.n;
    in.ak_activated = 1;
    assert_int_equal(fwt_attest_verify(&in, &res), FWT_OK);
    assert_int_equal(res.reason, FWT_ATTEST_R_AK_NOT_ACTIVATED);
}

static void test_eventlog(void **state)
{
    (void)state;
    struct fwt_attest_result res;
    /* a header declaring SHA-1 as well */
    uint8_t *bad = malloc(g_log_len);
    memcpy(bad, g_log, g_log_len);
    bad[32 + 24] = 2;
    assert_int_equal(run(&k_good, bad, g_log_len, &res), FWT_ATTEST_R_EVENTLOG_MALFORMED);
    free(bad);
    /* a tagged event whose inner size disagrees */
    bad = malloc(g_log_len);
    memcpy(bad, g_log, g_log_len);
    bad[65 + 54] ^= 1;
    assert_int_equal(run(&k_good, bad, g_log_len, &res), FWT_ATTEST_R_EVENTLOG_MALFORMED);
    free(bad);
    /* the image's signer event missing: a log of the image event only (PCR 9 then zero) */
    size_t img_rec = 4 + 4 + 4 + 2 + 32 + 4 + 8 + 2;
    memset(g_pcrs[9], 0, 32);
    memset(g_pcrs[11], 0, 32);
    assert_int_equal(run(&k_good, g_log, 65 + img_rec, &res), FWT_ATTEST_R_SIGNER_MISMATCH);
    /* no image at all */
    memset(g_pcrs[8], 0, 32);
    assert_int_equal(run(&k_good, g_log, 65, &res), FWT_ATTEST_R_NO_IMAGE);
    assert_int_equal(fwt_tcglog_replay(g_log, g_log_len, g_pcrs), FWT_OK);
    /* a SHA-384 catalog digest is matched through its SHA-256 */
    uint8_t d384[48];
    memset(d384, 0x5a, sizeof(d384));
    uint8_t h[32];
    assert_int_equal(fwt_sha256(d384, sizeof(d384), h), FWT_OK);
    free(g_log);
    assert_int_equal(fwt_tcglog_header(&g_log, &g_log_len), FWT_OK);
    add_event(FWT_PCR_IMAGE, FWT_TAG_IMAGE, h);
    add_event(FWT_PCR_SIGNER, FWT_TAG_SIGNER, g_cat[0].signer_keyhash);
    assert_int_equal(fwt_tcglog_replay(g_log, g_log_len, g_pcrs), FWT_OK);
    memcpy(g_cat[0].digest, d384, 48);
    g_cat[0].digest_len = 48;
    assert_int_equal(run(&k_good, g_log, g_log_len, &res), FWT_ATTEST_R_NONE);
    assert_false(res.have_config);
}

static void test_one_boot(void **state)
{
    (void)state;
    struct fwt_attest_result res;
    /* the image event re-typed as EV_IPL (0x0d): not an event fwtrust-boot makes */
    uint8_t *bad = malloc(g_log_len);
    memcpy(bad, g_log, g_log_len);
    bad[65 + 4] = 0x0d;
    assert_int_equal(run(&k_good, bad, g_log_len, &res), FWT_ATTEST_R_UNEXPECTED_EVENT);
    /* a signer event on the image's PCR */
    memcpy(bad, g_log, g_log_len);
    bad[65 + 50] = 0x02;
    assert_int_equal(run(&k_good, bad, g_log_len, &res), FWT_ATTEST_R_UNEXPECTED_EVENT);
    free(bad);
    /* a second image and signer measured after the boot (code running later, claiming a
     * catalog image): refused even though every digest is known */
    add_event(FWT_PCR_IMAGE, FWT_TAG_IMAGE, g_cat[0].digest);
    add_event(FWT_PCR_SIGNER, FWT_TAG_SIGNER, g_cat[0].signer_keyhash);
    assert_int_equal(fwt_tcglog_replay(g_log, g_log_len, g_pcrs), FWT_OK);
    assert_int_equal(run(&k_good, g_log, g_log_len, &res), FWT_ATTEST_R_MEASURED_AFTER_BOOT);
    /* events on other PCRs are replayed but not judged */
    assert_int_equal(fwt_tcglog_header(&bad, &g_log_len) == FWT_OK ? FWT_OK : FWT_E_NOMEM, FWT_OK);
    free(g_log);
    g_log = bad;
    uint8_t img[32], other[32];
    memset(img, 0xa1, 32);
    memset(other, 0x99, 32);
    add_event(FWT_PCR_IMAGE, FWT_TAG_IMAGE, img);
    add_event(FWT_PCR_SIGNER, FWT_TAG_SIGNER, g_cat[0].signer_keyhash);
    add_event(14, FWT_TAG_IMAGE, other);
    assert_int_equal(fwt_tcglog_replay(g_log, g_log_len, g_pcrs), FWT_OK);
    assert_int_equal(run(&k_good, g_log, g_log_len, &res), FWT_ATTEST_R_NONE);
}

static void test_record(void **state)
{
    (void)state;
    struct fwt_attest_result res;
    struct buf q, s;
    forge(&k_good, &q, &s);
    struct fwt_attest_input in = {
        .ak_pub = g_akpub.b, .ak_len = g_akpub.n, .ak_activated = 1, .nonce = k_nonce,
        .nonce_len = sizeof(k_nonce), .nonces = &g_store, .quote = q.b, .quote_len = q.n,
        .sig = s.b, .sig_len = s.n, .pcrs = (const uint8_t(*)[32])g_pcrs, .eventlog = g_log,
        .eventlog_len = g_log_len, .catalog = g_cat, .n_catalog = 1};
    assert_int_equal(fwt_attest_verify(&in, &res), FWT_OK);
    assert_int_equal(res.verdict, FWT_ATTEST_PASS);
    char dir[] = "/tmp/fwt-attest-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char kp[64], kp2[64];
    snprintf(kp, sizeof(kp), "%s/k.pem", dir);
    snprintf(kp2, sizeof(kp2), "%s/k2.pem", dir);
    assert_int_equal(fwt_keygen_file(FWT_KEY_ECDSA_P256, kp, NULL), FWT_OK);
    assert_int_equal(fwt_keygen_file(FWT_KEY_ECDSA_P256, kp2, NULL), FWT_OK);
    fwt_privkey *k = NULL, *k2 = NULL;
    fwt_pubkey *pub = NULL, *pub2 = NULL;
    assert_int_equal(fwt_privkey_load(kp, NULL, &k), FWT_OK);
    assert_int_equal(fwt_privkey_load(kp2, NULL, &k2), FWT_OK);
    assert_int_equal(fwt_privkey_public(k, &pub), FWT_OK);
    assert_int_equal(fwt_privkey_public(k2, &pub2), FWT_OK);
    char *rec = NULL, *claims = NULL;
    assert_int_equal(fwt_attest_record(&in, &res, g_akpub.b, g_akpub.n, "hw1", 1700000000, k,
                                       &rec),
                     FWT_OK);
    assert_int_equal(fwt_tuf_envelope_verify(rec, strlen(rec), pub, &claims), FWT_OK);
    assert_non_null(strstr(claims, "\"swname\":\"fw.bin\""));
    assert_non_null(strstr(claims, "\"bootcount\":5"));
    assert_non_null(strstr(claims, "\"verdict\":\"pass\""));
    free(claims);
    claims = NULL;
    assert_int_equal(fwt_tuf_envelope_verify(rec, strlen(rec), pub2, &claims), FWT_E_UNKNOWN_KEY);
    /* a changed claim breaks the signature */
    char *p = strstr(rec, "fw.bin");
    assert_non_null(p);
    p[0] = 'F';
    assert_int_equal(fwt_tuf_envelope_verify(rec, strlen(rec), pub, &claims), FWT_E_SIGNATURE);
    free(rec);
    fwt_pubkey_free(pub);
    fwt_pubkey_free(pub2);
    fwt_privkey_free(k);
    fwt_privkey_free(k2);
    remove(kp);
    remove(kp2);
    rmdir(dir);
}

static void test_make_credential_args(void **state)
{
    (void)state;
    uint8_t *b = NULL, *s = NULL;
    size_t bl = 0, sl = 0;
    static const uint8_t name[34];
    static const uint8_t cred[33];
    /* the AK is not an EK: refused before any encryption */
    assert_int_equal(fwt_attest_make_credential(g_akpub.b, g_akpub.n, name, cred, 32, &b, &bl,
                                                &s, &sl),
                     FWT_E_CERT);
    assert_int_equal(fwt_attest_make_credential(g_akpub.b, g_akpub.n, name, cred, 33, &b, &bl,
                                                &s, &sl),
                     FWT_E_ARG);
    assert_null(b);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_structure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonce_and_ak, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eventlog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_boot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_make_credential_args, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
