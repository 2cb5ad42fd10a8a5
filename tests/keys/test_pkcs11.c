/*
 * PKCS#11 token keys against a real SoftHSM2 token (created here with
 * softhsm2-util in a temporary directory, SOFTHSM2_CONF): keygen of every key
 * type, signing through the token and verification with the exported public
 * key, the attributes the token gives the private key (read with raw PKCS#11
 * calls, independently of fwtrust), module and login reference counting, a
 * module another user in the process already initialized, token and object
 * selection (several tokens, slot-id, serial, id, library attributes), keys
 * that need the PIN for every signature, keys without a public key object,
 * unsupported curves and keys that may not sign, and PIN file handling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "scratch.h"

#include <dlfcn.h>
#include <p11-kit/pkcs11.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto/keys_internal.h"
#include <fwtrust/fwt_util.h>

#define MODULE "/usr/lib/softhsm/libsofthsm2.so"

static char g_dir[256];
static char g_pin[300], g_badpin[300], g_crlfpin[300], g_emptypin[300];
static struct fwt_key_opts g_ko = {NULL, MODULE, NULL};

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    if (access(MODULE, R_OK) != 0) {
        print_error("%s missing (softhsm2; scripts/install-deps)\n", MODULE);
        return -1;
    }
    if (ts_mkscratch(g_dir, sizeof(g_dir), "p11") != 0) {
        return -1;
    }
    char path[512], cmd[1024];
    snprintf(path, sizeof(path), "%s/tokens", g_dir);
    snprintf(cmd, sizeof(cmd), "mkdir %s", path);
    if (run(cmd) != 0) {
        return -1;
    }
    char conf[300];
    snprintf(conf, sizeof(conf), "%s/softhsm2.conf", g_dir);
    char text[600];
    snprintf(text, sizeof(text), "directories.tokendir = %s\nobjectstore.backend = file\n", path);
    write_text(conf, text);
    setenv("SOFTHSM2_CONF", conf, 1);
    unsetenv("FWTRUST_PKCS11_MODULE");
    /* Two tokens: "alpha" and "beta". */
    const char *labels[] = {"alpha", "beta"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof(cmd),
                 "softhsm2-util --init-token --free --label %s --pin 123456 --so-pin 654321 "
                 ">/dev/null",
                 labels[i]);
        if (run(cmd) != 0) {
            return -1;
        }
    }
    snprintf(g_pin, sizeof(g_pin), "%s/pin", g_dir);
    write_text(g_pin, "123456\n");
    snprintf(g_badpin, sizeof(g_badpin), "%s/badpin", g_dir);
    write_text(g_badpin, "000000\n");
    snprintf(g_crlfpin, sizeof(g_crlfpin), "%s/crlfpin", g_dir);
    write_text(g_crlfpin, "123456\r\nsecond line ignored\n");
    snprintf(g_emptypin, sizeof(g_emptypin), "%s/emptypin", g_dir);
    write_text(g_emptypin, "\n123456\n");
    g_ko.pin_file = g_pin;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return ts_rmrf(g_dir);
}

/* ---- raw PKCS#11 access (independent of fwtrust) ---- */

struct raw {
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    CK_SESSION_HANDLE h;
};

static void raw_open(struct raw *r, const char *token, int init)
{
    r->dl = dlopen(MODULE, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(r->dl);
    void *sym = dlsym(r->dl, "C_GetFunctionList");
    assert_non_null(sym);
    CK_C_GetFunctionList gfl;
    memcpy(&gfl, &sym, sizeof(gfl));
    assert_int_equal(gfl(&r->f), CKR_OK);
    if (init) {
        assert_int_equal(r->f->C_Initialize(NULL), CKR_OK);
    }
    CK_SLOT_ID slots[8];
    CK_ULONG n = 8;
    assert_int_equal(r->f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        assert_int_equal(r->f->C_GetTokenInfo(slots[i], &ti), CKR_OK);
        size_t l = strlen(token);
        if (memcmp(ti.label, token, l) == 0 && ti.label[l] == ' ') {
            assert_int_equal(r->f->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                                 NULL, NULL, &r->h),
                             CKR_OK);
            CK_RV rv = r->f->C_Login(r->h, CKU_USER, (CK_UTF8CHAR_PTR) "123456", 6);
            assert_true(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
            return;
        }
    }
    fail_msg("token %s not found", token);
}

static void raw_close(struct raw *r, int fini)
{
    r->f->C_CloseSession(r->h);
    if (fini) {
        assert_int_equal(r->f->C_Finalize(NULL), CKR_OK);
    }
    dlclose(r->dl);
}

/* The one object of class cls labelled label. */
static CK_OBJECT_HANDLE raw_find(struct raw *r, CK_OBJECT_CLASS cls, const char *label)
{
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)}};
    CK_OBJECT_HANDLE h[2];
    CK_ULONG n = 0;
    assert_int_equal(r->f->C_FindObjectsInit(r->h, t, 2), CKR_OK);
    assert_int_equal(r->f->C_FindObjects(r->h, h, 2, &n), CKR_OK);
    r->f->C_FindObjectsFinal(r->h);
    assert_int_equal(n, 1);
    return h[0];
}

static CK_BBOOL raw_bool(struct raw *r, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t)
{
    CK_BBOOL b = 2;
    CK_ATTRIBUTE a = {t, &b, sizeof(b)};
    assert_int_equal(r->f->C_GetAttributeValue(r->h, o, &a, 1), CKR_OK);
    return b;
}

/* ---- helpers ---- */

static void keygen_ok(enum fwt_key_type t, const char *uri)
{
    fwt_err e = fwt_keygen_pkcs11(t, uri, &g_ko);
    if (e != FWT_OK) {
        fail_msg("keygen %s: %s", uri, fwt_detail());
    }
}

/* Sign a message with the token key and verify it with the key read back by URI. */
static void sign_and_verify(const char *uri, enum fwt_key_type want)
{
    fwt_privkey *k = NULL;
    fwt_err e = fwt_privkey_load(uri, &g_ko, &k);
    if (e != FWT_OK) {
        fail_msg("load %s: %s", uri, fwt_detail());
    }
    assert_int_equal(fwt_privkey_type(k), want);
    static const uint8_t msg[] = "firmware release 1.2.3";
    uint8_t sig[1024];
    size_t sl = sizeof(sig);
    e = fwt_sign_message(k, msg, sizeof(msg), sig, &sl);
    if (e != FWT_OK) {
        fail_msg("sign %s: %s", uri, fwt_detail());
    }
    fwt_pubkey *pub = NULL;
    /* The public key read without a PIN (public objects are not private). */
    struct fwt_key_opts nopin = {NULL, MODULE, NULL};
    assert_int_equal(fwt_pubkey_load(uri, &nopin, &pub), FWT_OK);
    assert_int_equal(fwt_pubkey_type(pub), want);
    assert_int_equal(fwt_verify_message(pub, msg, sizeof(msg), sig, sl), FWT_OK);
    sig[sl / 2] ^= 1;
    assert_int_equal(fwt_verify_message(pub, msg, sizeof(msg), sig, sl), FWT_E_SIGNATURE);
    /* The key's own public half is the same key. */
    fwt_pubkey *pub2 = NULL;
    uint8_t h1[32], h2[32];
    assert_int_equal(fwt_privkey_public(k, &pub2), FWT_OK);
    assert_int_equal(fwt_pubkey_keyhash(pub, h1), FWT_OK);
    assert_int_equal(fwt_pubkey_keyhash(pub2, h2), FWT_OK);
    assert_memory_equal(h1, h2, 32);
    /* A digest signature too (what image signing uses). */
    uint8_t dg[48];
    memset(dg, 0x42, sizeof(dg));
    size_t dlen = want == FWT_KEY_ECDSA_P384 ? 48 : 32;
    sl = sizeof(sig);
    assert_int_equal(fwt_sign_digest(k, dg, dlen, sig, &sl), FWT_OK);
    assert_true(sl > 0 && sl <= fwt_privkey_sig_max(k));
    fwt_pubkey_free(pub2);
    fwt_pubkey_free(pub);
    fwt_privkey_free(k);
}

static void expect_err(fwt_err got, fwt_err want, const char *msg)
{
    if (got != want || strstr(fwt_detail(), msg) == NULL) {
        fail_msg("got %d '%s', wanted %d with '%s'", got, fwt_detail(), want, msg);
    }
}

/* ---- tests ---- */

static void test_every_type(void **state)
{
    (void)state;
    static const struct {
        enum fwt_key_type t;
        const char *uri;
    } keys[] = {
        {FWT_KEY_ED25519, "pkcs11:token=alpha;object=ed"},
        {FWT_KEY_ECDSA_P256, "pkcs11:token=alpha;object=p256"},
        {FWT_KEY_ECDSA_P384, "pkcs11:token=alpha;object=p384"},
        {FWT_KEY_RSA2048, "pkcs11:token=alpha;object=rsa2048"},
        {FWT_KEY_RSA3072, "pkcs11:token=alpha;object=rsa3072"},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        keygen_ok(keys[i].t, keys[i].uri);
        sign_and_verify(keys[i].uri, keys[i].t);
    }
}

/* Read with raw PKCS#11: the generated private keys never were and never can be extracted. */
static void test_private_attributes(void **state)
{
    (void)state;
    struct raw r;
    raw_open(&r, "alpha", 1);
    const char *labels[] = {"ed", "p256", "p384", "rsa2048", "rsa3072"};
    for (size_t i = 0; i < 5; i++) {
        CK_OBJECT_HANDLE o = raw_find(&r, CKO_PRIVATE_KEY, labels[i]);
        assert_int_equal(raw_bool(&r, o, CKA_EXTRACTABLE), CK_FALSE);
        assert_int_equal(raw_bool(&r, o, CKA_NEVER_EXTRACTABLE), CK_TRUE);
        assert_int_equal(raw_bool(&r, o, CKA_SENSITIVE), CK_TRUE);
        assert_int_equal(raw_bool(&r, o, CKA_ALWAYS_SENSITIVE), CK_TRUE);
        assert_int_equal(raw_bool(&r, o, CKA_PRIVATE), CK_TRUE);
        assert_int_equal(raw_bool(&r, o, CKA_TOKEN), CK_TRUE);
        assert_int_equal(raw_bool(&r, o, CKA_SIGN), CK_TRUE);
        assert_int_equal(raw_bool(&r, o, CKA_DECRYPT), CK_FALSE);
        assert_int_equal(raw_bool(&r, o, CKA_DERIVE), CK_FALSE);
        /* The secret itself cannot be read. */
        uint8_t buf[1024];
        CK_ATTRIBUTE a = {i < 3 ? CKA_VALUE : CKA_PRIVATE_EXPONENT, buf, sizeof(buf)};
        assert_int_equal(r.f->C_GetAttributeValue(r.h, o, &a, 1), CKR_ATTRIBUTE_SENSITIVE);
        /* The public object is public, has the same id, and verifies only. */
        CK_OBJECT_HANDLE p = raw_find(&r, CKO_PUBLIC_KEY, labels[i]);
        assert_int_equal(raw_bool(&r, p, CKA_PRIVATE), CK_FALSE);
        assert_int_equal(raw_bool(&r, p, CKA_VERIFY), CK_TRUE);
        assert_int_equal(raw_bool(&r, p, CKA_ENCRYPT), CK_FALSE);
        uint8_t id1[64], id2[64];
        CK_ATTRIBUTE ia = {CKA_ID, id1, sizeof(id1)}, ib = {CKA_ID, id2, sizeof(id2)};
        assert_int_equal(r.f->C_GetAttributeValue(r.h, o, &ia, 1), CKR_OK);
        assert_int_equal(r.f->C_GetAttributeValue(r.h, p, &ib, 1), CKR_OK);
        assert_int_equal(ia.ulValueLen, 16); /* random 16-byte id when the URI gives none */
        assert_int_equal(ib.ulValueLen, 16);
        assert_memory_equal(id1, id2, 16);
    }
    raw_close(&r, 1);
}

static void test_keygen_refusals(void **state)
{
    (void)state;
    /* An existing label (of any class) is never overwritten. */
    expect_err(fwt_keygen_pkcs11(FWT_KEY_ED25519, "pkcs11:token=alpha;object=p256", &g_ko),
               FWT_E_ARG, "already holds an object labelled 'p256'");
    /* An explicit id: used, and a second key with that id is refused. */
    keygen_ok(FWT_KEY_ECDSA_P256, "pkcs11:token=alpha;object=with-id;id=%c0%ff%ee");
    expect_err(fwt_keygen_pkcs11(FWT_KEY_ECDSA_P256, "pkcs11:token=alpha;object=other;id=%c0%ff%ee",
                                 &g_ko),
               FWT_E_ARG, "already holds an object with that id=");
    struct fwt_key_opts nopin = {NULL, MODULE, NULL};
    expect_err(fwt_keygen_pkcs11(FWT_KEY_ED25519, "pkcs11:token=alpha;object=np", &nopin),
               FWT_E_ARG, "needs its PIN");
    expect_err(fwt_keygen_pkcs11(FWT_KEY_ED25519, "pkcs11:token=alpha", &g_ko), FWT_E_ARG,
               "keygen needs object=LABEL");
    expect_err(fwt_keygen_pkcs11(FWT_KEY_ED25519, "pkcs11:token=alpha;object=t;type=private", &g_ko),
               FWT_E_ARG, "leave type= out");
    struct fwt_key_opts bad = {NULL, MODULE, g_badpin};
    expect_err(fwt_keygen_pkcs11(FWT_KEY_ED25519, "pkcs11:token=alpha;object=bp", &bad), FWT_E_KEY,
               "token refused the PIN (CKR_PIN_INCORRECT)");
    expect_err(fwt_keygen_pkcs11(FWT_KEY_ED25519, "pkcs11:token=gamma;object=g", &g_ko),
               FWT_E_NOT_FOUND, "PKCS#11 token not found: no token matches token=gamma");
    /* Nothing was created by the refused attempts. */
    struct fwt_key_opts ko = g_ko;
    fwt_pubkey *pub = NULL;
    expect_err(fwt_pubkey_load("pkcs11:token=alpha;object=np", &ko, &pub), FWT_E_NOT_FOUND,
               "holds no public key with object=np");
    expect_err(fwt_pubkey_load("pkcs11:token=alpha;object=bp", &ko, &pub), FWT_E_NOT_FOUND,
               "object=bp");
    expect_err(fwt_pubkey_load("pkcs11:token=alpha;object=other", &ko, &pub), FWT_E_NOT_FOUND,
               "object=other");
}

static void test_selection(void **state)
{
    (void)state;
    /* The same label in both tokens: without token= it is ambiguous. */
    keygen_ok(FWT_KEY_ED25519, "pkcs11:token=beta;object=p256");
    fwt_privkey *k = NULL;
    expect_err(fwt_privkey_load("pkcs11:object=p256", &g_ko, &k), FWT_E_ARG,
               "2 PKCS#11 tokens match any token");
    assert_null(k);
    /* token=, serial=, slot-id= each pick one. */
    assert_int_equal(fwt_privkey_load("pkcs11:token=beta;object=p256", &g_ko, &k), FWT_OK);
    assert_int_equal(fwt_privkey_type(k), FWT_KEY_ED25519);
    fwt_privkey_free(k);
    struct raw r;
    raw_open(&r, "beta", 1);
    CK_SESSION_INFO si;
    assert_int_equal(r.f->C_GetSessionInfo(r.h, &si), CKR_OK);
    CK_TOKEN_INFO ti;
    assert_int_equal(r.f->C_GetTokenInfo(si.slotID, &ti), CKR_OK);
    raw_close(&r, 1);
    char serial[17], uri[256];
    memcpy(serial, ti.serialNumber, 16);
    serial[16] = 0;
    for (int i = 15; i >= 0 && serial[i] == ' '; i--) {
        serial[i] = 0;
    }
    snprintf(uri, sizeof(uri), "pkcs11:serial=%s;object=p256", serial);
    assert_int_equal(fwt_privkey_load(uri, &g_ko, &k), FWT_OK);
    assert_int_equal(fwt_privkey_type(k), FWT_KEY_ED25519);
    fwt_privkey_free(k);
    snprintf(uri, sizeof(uri), "pkcs11:slot-id=%lu;object=p256", (unsigned long)si.slotID);
    assert_int_equal(fwt_privkey_load(uri, &g_ko, &k), FWT_OK);
    assert_int_equal(fwt_privkey_type(k), FWT_KEY_ED25519);
    fwt_privkey_free(k);
    /* slot-id and token= that disagree match nothing. */
    snprintf(uri, sizeof(uri), "pkcs11:token=alpha;slot-id=%lu;object=p256",
             (unsigned long)si.slotID);
    expect_err(fwt_privkey_load(uri, &g_ko, &k), FWT_E_NOT_FOUND, "PKCS#11 token not found");
    /* Token model/manufacturer and library attributes. */
    assert_int_equal(fwt_privkey_load("pkcs11:token=alpha;manufacturer=SoftHSM%20project;"
                                      "model=SoftHSM%20v2;library-manufacturer=SoftHSM;object=p256",
                                      &g_ko, &k),
                     FWT_OK);
    assert_int_equal(fwt_privkey_type(k), FWT_KEY_ECDSA_P256);
    fwt_privkey_free(k);
    expect_err(fwt_privkey_load("pkcs11:token=alpha;library-manufacturer=Acme;object=p256", &g_ko,
                                &k),
               FWT_E_NOT_FOUND, "does not match the URI's library attributes");
    expect_err(fwt_privkey_load("pkcs11:token=alpha;model=HSM9000;object=p256", &g_ko, &k),
               FWT_E_NOT_FOUND, "no token matches token=alpha;model=HSM9000");
    /* By id alone; type=public for the public key; type=public cannot sign. */
    assert_int_equal(fwt_privkey_load("pkcs11:token=alpha;id=%C0%FF%EE", &g_ko, &k), FWT_OK);
    assert_int_equal(fwt_privkey_type(k), FWT_KEY_ECDSA_P256);
    fwt_privkey_free(k);
    fwt_pubkey *pub = NULL;
    assert_int_equal(fwt_pubkey_load("pkcs11:token=alpha;id=%c0%ff%ee;type=public", &g_ko, &pub),
                     FWT_OK);
    fwt_pubkey_free(pub);
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=with-id;type=public", &g_ko, &k),
               FWT_E_ARG, "signing needs the private key");
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=with-id;id=%01", &g_ko, &k),
               FWT_E_NOT_FOUND, "holds no private key with object=with-id");
    expect_err(fwt_privkey_load("pkcs11:token=alpha", &g_ko, &k), FWT_E_ARG, "names no key");
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=nope", &g_ko, &k), FWT_E_NOT_FOUND,
               "PKCS#11 object not found: token 'alpha' holds no private key with object=nope");
}

static void test_module_selection(void **state)
{
    (void)state;
    fwt_privkey *k = NULL;
    struct fwt_key_opts none = {NULL, NULL, g_pin};
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=ed", &none, &k), FWT_E_ARG,
               "no PKCS#11 module named");
    /* From the environment. */
    setenv("FWTRUST_PKCS11_MODULE", MODULE, 1);
    assert_int_equal(fwt_privkey_load("pkcs11:token=alpha;object=ed", &none, &k), FWT_OK);
    fwt_privkey_free(k);
    /* The URI's module-path wins over the environment. */
    setenv("FWTRUST_PKCS11_MODULE", "/nonexistent/env-module.so", 1);
    assert_int_equal(
        fwt_privkey_load("pkcs11:token=alpha;object=ed?module-path=" MODULE, &none, &k), FWT_OK);
    fwt_privkey_free(k);
    /* module-path as a directory plus module-name. */
    assert_int_equal(fwt_privkey_load("pkcs11:token=alpha;object=ed?module-path=/usr/lib/softhsm"
                                      "&module-name=softhsm2",
                                      &none, &k),
                     FWT_OK);
    fwt_privkey_free(k);
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=ed", &none, &k), FWT_E_NOT_FOUND,
               "PKCS#11 module not found: /nonexistent/env-module.so");
    unsetenv("FWTRUST_PKCS11_MODULE");
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=ed?module-path=/usr/lib/softhsm",
                                &none, &k),
               FWT_E_ARG, "is a directory; add module-name=");
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=ed?module-path=/usr/lib/softhsm"
                                "&module-name=nosuch",
                                &none, &k),
               FWT_E_NOT_FOUND, "PKCS#11 module not found: nosuch in /usr/lib/softhsm");
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=ed?module-name=nosuch-module", &none,
                                &k),
               FWT_E_NOT_FOUND, "PKCS#11 module not found: module-name=nosuch-module");
    /* --pkcs11-module and the URI must agree. */
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=ed?module-path=/usr/lib/x86_64-linux-"
                                "gnu/pkcs11/p11-kit-trust.so",
                                &g_ko, &k),
               FWT_E_ARG, "differ");
    /* A file that is not a PKCS#11 module. */
    struct fwt_key_opts notmod = {NULL, g_badpin, g_pin};
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=ed", &notmod, &k), FWT_E_CRYPTO,
               "cannot load PKCS#11 module");
    struct fwt_key_opts dir = {NULL, "/usr/lib", g_pin};
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=ed", &dir, &k), FWT_E_ARG,
               "is not a file");
    struct fwt_key_opts missing = {NULL, "/nonexistent/libp11.so", g_pin};
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=ed", &missing, &k), FWT_E_NOT_FOUND,
               "PKCS#11 module not found: /nonexistent/libp11.so");
    assert_null(k);
}

static void test_pins(void **state)
{
    (void)state;
    fwt_privkey *k = NULL;
    struct fwt_key_opts crlf = {NULL, MODULE, g_crlfpin};
    assert_int_equal(fwt_privkey_load("pkcs11:token=alpha;object=ed", &crlf, &k), FWT_OK);
    fwt_privkey_free(k);
    struct fwt_key_opts empty = {NULL, MODULE, g_emptypin};
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=ed", &empty, &k), FWT_E_ARG,
               "is empty");
    struct fwt_key_opts bad = {NULL, MODULE, g_badpin};
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=ed", &bad, &k), FWT_E_KEY,
               "token refused the PIN (CKR_PIN_INCORRECT)");
    struct fwt_key_opts nopin = {NULL, MODULE, NULL};
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=ed", &nopin, &k), FWT_E_ARG,
               "needs its PIN");
    char uri[512];
    snprintf(uri, sizeof(uri), "pkcs11:token=alpha;object=ed?pin-source=file://%s", g_pin);
    assert_int_equal(fwt_privkey_load(uri, &nopin, &k), FWT_OK);
    fwt_privkey_free(k);
    /* --pin-file comes first. */
    expect_err(fwt_privkey_load(uri, &bad, &k), FWT_E_KEY, "CKR_PIN_INCORRECT");
    snprintf(uri, sizeof(uri), "pkcs11:token=alpha;object=ed?pin-source=%s/none", g_dir);
    expect_err(fwt_privkey_load(uri, &nopin, &k), FWT_E_NOT_FOUND, "cannot read the PIN file");
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=ed?pin-value=123456", &nopin, &k),
               FWT_E_ARG, "pin-value= is refused");
    assert_null(k);
}

/* Two keys of one module: closing one keeps the other logged in; the module is reused. */
static void test_refcount(void **state)
{
    (void)state;
    fwt_privkey *a = NULL, *b = NULL;
    assert_int_equal(fwt_privkey_load("pkcs11:token=alpha;object=ed", &g_ko, &a), FWT_OK);
    assert_int_equal(fwt_privkey_load("pkcs11:token=alpha;object=p256", &g_ko, &b), FWT_OK);
    /* The token is logged in already; a wrong PIN for a third key is still refused. */
    fwt_privkey *c = NULL;
    struct fwt_key_opts bad = {NULL, MODULE, g_badpin};
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=p384", &bad, &c), FWT_E_KEY,
               "differs from the PIN this process logged in with");
    assert_null(c);
    uint8_t sig[1024];
    size_t sl = sizeof(sig);
    assert_int_equal(fwt_sign_message(a, (const uint8_t *)"x", 1, sig, &sl), FWT_OK);
    fwt_privkey_free(a);
    sl = sizeof(sig);
    assert_int_equal(fwt_sign_message(b, (const uint8_t *)"x", 1, sig, &sl), FWT_OK);
    /* A public key load meanwhile opens and closes its own session. */
    fwt_pubkey *pub = NULL;
    assert_int_equal(fwt_pubkey_load("pkcs11:token=alpha;object=rsa2048", &g_ko, &pub), FWT_OK);
    fwt_pubkey_free(pub);
    sl = sizeof(sig);
    assert_int_equal(fwt_sign_message(b, (const uint8_t *)"x", 1, sig, &sl), FWT_OK);
    fwt_privkey_free(b);
    /* After the last close the module was finalized: it loads and initializes again. */
    assert_int_equal(fwt_privkey_load("pkcs11:token=alpha;object=ed", &g_ko, &a), FWT_OK);
    sl = sizeof(sig);
    assert_int_equal(fwt_sign_message(a, (const uint8_t *)"x", 1, sig, &sl), FWT_OK);
    fwt_privkey_free(a);
}

/* Someone else in the process initialized the module: use it, and leave it initialized. */
static void test_already_initialized(void **state)
{
    (void)state;
    struct raw r;
    raw_open(&r, "beta", 1);
    fwt_privkey *k = NULL;
    assert_int_equal(fwt_privkey_load("pkcs11:token=alpha;object=p384", &g_ko, &k), FWT_OK);
    uint8_t sig[1024];
    size_t sl = sizeof(sig);
    assert_int_equal(fwt_sign_message(k, (const uint8_t *)"x", 1, sig, &sl), FWT_OK);
    fwt_privkey_free(k);
    CK_SESSION_INFO si;
    assert_int_equal(r.f->C_GetSessionInfo(r.h, &si), CKR_OK); /* not finalized under us */
    /* Their login on token beta: we cannot vouch for a PIN we did not check. */
    expect_err(fwt_privkey_load("pkcs11:token=beta;object=p256", &g_ko, &k), FWT_E_KEY,
               "already logged in by another user");
    raw_close(&r, 1);
}

/* Keys made outside fwtrust: always-authenticate, no public object, bad curve, no CKA_SIGN. */
static void test_foreign_keys(void **state)
{
    (void)state;
    struct raw r;
    raw_open(&r, "alpha", 1);
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_MECHANISM ec = {CKM_EC_KEY_PAIR_GEN, NULL, 0}, rsa = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    uint8_t p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    uint8_t k256[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a}; /* secp256k1 */
    CK_ULONG bits = 2048;
    uint8_t e65537[] = {1, 0, 1};
    CK_OBJECT_HANDLE pub, priv;
#define GEN(mech, label, params, plen, always, sign)                                             \
    do {                                                                                         \
        CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &yes, 1},                                               \
                             {CKA_LABEL, label, sizeof(label) - 1},                              \
                             {CKA_ID, label, sizeof(label) - 1},                                 \
                             {(mech)->mechanism == CKM_RSA_PKCS_KEY_PAIR_GEN ? CKA_MODULUS_BITS  \
                                                                             : CKA_EC_PARAMS,    \
                              params, plen},                                                     \
                             {CKA_PUBLIC_EXPONENT, e65537, 3}};                                  \
        CK_ATTRIBUTE qt[] = {{CKA_TOKEN, &yes, 1},          {CKA_PRIVATE, &yes, 1},              \
                             {CKA_SENSITIVE, &yes, 1},      {CKA_SIGN, sign, 1},                 \
                             {CKA_ALWAYS_AUTHENTICATE, always, 1},                               \
                             {CKA_LABEL, label, sizeof(label) - 1},                              \
                             {CKA_ID, label, sizeof(label) - 1}};                                \
        CK_ULONG npt = (mech)->mechanism == CKM_RSA_PKCS_KEY_PAIR_GEN ? 5 : 4;                   \
        assert_int_equal(r.f->C_GenerateKeyPair(r.h, mech, pt, npt, qt, 7, &pub, &priv), CKR_OK); \
    } while (0)
    char l_always[] = "always", l_nopub_ec[] = "nopub-ec", l_nopub_rsa[] = "nopub-rsa",
         l_k1[] = "k1", l_nosign[] = "nosign";
    GEN(&ec, l_always, p256, sizeof(p256), &yes, &yes);
    GEN(&ec, l_nopub_ec, p256, sizeof(p256), &no, &yes);
    assert_int_equal(r.f->C_DestroyObject(r.h, pub), CKR_OK);
    GEN(&rsa, l_nopub_rsa, &bits, sizeof(bits), &no, &yes);
    assert_int_equal(r.f->C_DestroyObject(r.h, pub), CKR_OK);
    GEN(&ec, l_k1, k256, sizeof(k256), &no, &yes);
    GEN(&ec, l_nosign, p256, sizeof(p256), &no, &no);
#undef GEN
    raw_close(&r, 1);

    /* Always-authenticate: the PIN is given again for each signature (context-specific login). */
    sign_and_verify("pkcs11:token=alpha;object=always", FWT_KEY_ECDSA_P256);
    fwt_privkey *k = NULL;
    uint8_t sig[1024];
    size_t sl;
    assert_int_equal(fwt_privkey_load("pkcs11:token=alpha;object=always", &g_ko, &k), FWT_OK);
    for (int i = 0; i < 3; i++) {
        sl = sizeof(sig);
        assert_int_equal(fwt_sign_message(k, (const uint8_t *)"x", 1, sig, &sl), FWT_OK);
    }
    fwt_privkey_free(k);
    /* RSA without a public key object: the private object carries the modulus. */
    assert_int_equal(fwt_privkey_load("pkcs11:token=alpha;object=nopub-rsa", &g_ko, &k), FWT_OK);
    assert_int_equal(fwt_privkey_type(k), FWT_KEY_RSA2048);
    sl = sizeof(sig);
    assert_int_equal(fwt_sign_message(k, (const uint8_t *)"x", 1, sig, &sl), FWT_OK);
    assert_int_equal(sl, 256);
    fwt_privkey_free(k);
    /* EC without a public key object: no way to know the public key. */
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=nopub-ec", &g_ko, &k), FWT_E_NOT_FOUND,
               "holds no public key with object=nopub-ec");
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=k1", &g_ko, &k), FWT_E_KEY,
               "curve is not supported");
    expect_err(fwt_privkey_load("pkcs11:token=alpha;object=nosign", &g_ko, &k), FWT_E_KEY,
               "may not sign (CKA_SIGN is false)");
    /* Its public half is still usable for verification. */
    fwt_pubkey *pub2 = NULL;
    assert_int_equal(fwt_pubkey_load("pkcs11:token=alpha;object=nosign", &g_ko, &pub2), FWT_OK);
    fwt_pubkey_free(pub2);
    assert_null(k);
}

/* fwt_p11_sign checks its inputs and every length itself (not only its callers). */
static void test_sign_args(void **state)
{
    (void)state;
    struct fwt_p11_key *k = NULL;
    EVP_PKEY *pub = NULL;
    enum fwt_key_type t = FWT_KEY_NONE;
    assert_int_equal(fwt_p11_open("pkcs11:token=alpha;object=p256", &g_ko, 1, &k, &pub, &t), FWT_OK);
    assert_int_equal(t, FWT_KEY_ECDSA_P256);
    uint8_t h[48] = {1}, sig[512];
    size_t sl = sizeof(sig);
    expect_err(fwt_p11_sign(k, t, h, 31, sig, &sl), FWT_E_ARG, "signs a 32-byte hash");
    expect_err(fwt_p11_sign(k, t, h, 48, sig, &sl), FWT_E_ARG, "not 48 bytes");
    expect_err(fwt_p11_sign(k, FWT_KEY_ED25519, h, 32, sig, &sl), FWT_E_INTERNAL, "asked to sign as");
    sl = 8; /* too small for a DER signature; the token operation still ends cleanly */
    expect_err(fwt_p11_sign(k, t, h, 32, sig, &sl), FWT_E_BUFFER, "too small");
    sl = sizeof(sig);
    assert_int_equal(fwt_p11_sign(k, t, h, 32, sig, &sl), FWT_OK);
    assert_true(sl >= 8 && sl <= 72 && sig[0] == 0x30);
    assert_int_equal(fwt_p11_sign(NULL, t, h, 32, sig, &sl), FWT_E_ARG);
    fwt_p11_close(k);
    EVP_PKEY_free(pub);
    fwt_p11_close(NULL);
    /* Opening for the public key only gives no handle. */
    k = (struct fwt_p11_key *)(uintptr_t)1;
    assert_int_equal(fwt_p11_open("pkcs11:token=alpha;object=rsa3072", &g_ko, 0, &k, &pub, &t),
                     FWT_OK);
    assert_null(k);
    assert_int_equal(t, FWT_KEY_RSA3072);
    EVP_PKEY_free(pub);
    assert_int_equal(fwt_p11_open("pkcs11:token=alpha;object=rsa3072", &g_ko, 1, &k, &pub, &t),
                     FWT_OK);
    sl = 100; /* an RSA-3072 signature is 384 bytes */
    expect_err(fwt_p11_sign(k, t, h, 32, sig, &sl), FWT_E_BUFFER, "384 needed");
    sl = sizeof(sig);
    assert_int_equal(fwt_p11_sign(k, t, h, 32, sig, &sl), FWT_OK);
    assert_int_equal(sl, 384);
    fwt_p11_close(k);
    EVP_PKEY_free(pub);
}

/* Create a public key object with the given attributes (raw PKCS#11); returns its handle. */
static void raw_pub(struct raw *r, CK_KEY_TYPE kt, char *label, void *params, size_t plen,
                    void *point, size_t ptlen)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_TOKEN, &yes, 1},
                        {CKA_LABEL, label, strlen(label)},
                        {kt == CKK_RSA ? CKA_MODULUS : CKA_EC_PARAMS, params, plen},
                        {kt == CKK_RSA ? CKA_PUBLIC_EXPONENT : CKA_EC_POINT, point, ptlen}};
    CK_OBJECT_HANDLE h;
    CK_RV rv = r->f->C_CreateObject(r->h, t, 6, &h);
    if (rv != CKR_OK) {
        fail_msg("C_CreateObject %s: 0x%lx", label, (unsigned long)rv);
    }
}

static void keyhash_of(EVP_PKEY *pk, uint8_t out[32])
{
    uint8_t der[1024];
    unsigned char *p = der;
    int n = i2d_PUBKEY(pk, &p);
    assert_true(n > 0 && n <= (int)sizeof(der));
    fwt_pubkey *pub = NULL;
    assert_int_equal(fwt_pubkey_from_mcuboot(der, (size_t)n, &pub), FWT_OK);
    assert_int_equal(fwt_pubkey_keyhash(pub, out), FWT_OK);
    fwt_pubkey_free(pub);
}

/* Public keys as other tools store them: raw points, the "edwards25519" curve name; bad ones refused. */
static void test_public_encodings(void **state)
{
    (void)state;
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    assert_non_null(ed);
    assert_non_null(ec);
    assert_non_null(rsa);
    uint8_t edpt[32], ecpt[65], ecwrap[67], n1024[128], e3[3] = {1, 0, 1};
    size_t l = sizeof(edpt);
    assert_int_equal(EVP_PKEY_get_raw_public_key(ed, edpt, &l), 1);
    assert_int_equal(EVP_PKEY_get_octet_string_param(ec, OSSL_PKEY_PARAM_PUB_KEY, ecpt,
                                                     sizeof(ecpt), &l),
                     1);
    assert_int_equal(l, 65);
    ecwrap[0] = 0x04;
    ecwrap[1] = 65;
    memcpy(ecwrap + 2, ecpt, 65);
    BIGNUM *n = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    assert_int_equal(BN_bn2binpad(n, n1024, sizeof(n1024)), 128);
    BN_free(n);
    uint8_t edname[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9'};
    uint8_t p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    uint8_t ed448[] = {0x06, 0x03, 0x2b, 0x65, 0x71};
    uint8_t offcurve[67];
    memcpy(offcurve, ecwrap, 67);
    offcurve[66] ^= 1;
    char l1[] = "imp-ed-name", l2[] = "imp-ec-raw", l3[] = "imp-ec-off", l4[] = "imp-ec-short",
         l5[] = "imp-rsa1024", l6[] = "imp-ed448", l7[] = "imp-ec-wrapped";
    struct raw r;
    raw_open(&r, "alpha", 1);
    raw_pub(&r, CKK_EC_EDWARDS, l1, edname, sizeof(edname), edpt, sizeof(edpt));
    raw_pub(&r, CKK_EC, l2, p256, sizeof(p256), ecpt, sizeof(ecpt));
    raw_pub(&r, CKK_EC, l3, p256, sizeof(p256), offcurve, sizeof(offcurve));
    raw_pub(&r, CKK_EC, l4, p256, sizeof(p256), ecwrap, 40);
    raw_pub(&r, CKK_RSA, l5, n1024, sizeof(n1024), e3, sizeof(e3));
    raw_pub(&r, CKK_EC_EDWARDS, l6, ed448, sizeof(ed448), edpt, sizeof(edpt));
    raw_pub(&r, CKK_EC, l7, p256, sizeof(p256), ecwrap, sizeof(ecwrap));
    raw_close(&r, 1);

    uint8_t want[32], got[32];
    fwt_pubkey *pub = NULL;
    struct fwt_key_opts nopin = {NULL, MODULE, NULL};
    assert_int_equal(fwt_pubkey_load("pkcs11:token=alpha;object=imp-ed-name", &nopin, &pub), FWT_OK);
    assert_int_equal(fwt_pubkey_type(pub), FWT_KEY_ED25519);
    keyhash_of(ed, want);
    assert_int_equal(fwt_pubkey_keyhash(pub, got), FWT_OK);
    assert_memory_equal(want, got, 32);
    fwt_pubkey_free(pub);
    keyhash_of(ec, want);
    const char *same[] = {"pkcs11:token=alpha;object=imp-ec-raw",
                          "pkcs11:token=alpha;object=imp-ec-wrapped"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fwt_pubkey_load(same[i], &nopin, &pub), FWT_OK);
        assert_int_equal(fwt_pubkey_type(pub), FWT_KEY_ECDSA_P256);
        assert_int_equal(fwt_pubkey_keyhash(pub, got), FWT_OK);
        assert_memory_equal(want, got, 32);
        fwt_pubkey_free(pub);
    }
    expect_err(fwt_pubkey_load("pkcs11:token=alpha;object=imp-ec-off", &nopin, &pub), FWT_E_KEY,
               "public key");
    expect_err(fwt_pubkey_load("pkcs11:token=alpha;object=imp-ec-short", &nopin, &pub), FWT_E_KEY,
               "CKA_EC_POINT (40 bytes) is not a P-256 public key");
    expect_err(fwt_pubkey_load("pkcs11:token=alpha;object=imp-rsa1024", &nopin, &pub), FWT_E_KEY,
               "unsupported type or size");
    expect_err(fwt_pubkey_load("pkcs11:token=alpha;object=imp-ed448", &nopin, &pub), FWT_E_KEY,
               "curve is not supported");
    assert_null(pub);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rsa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type),       cmocka_unit_test(test_private_attributes),
        cmocka_unit_test(test_keygen_refusals),  cmocka_unit_test(test_selection),
        cmocka_unit_test(test_module_selection), cmocka_unit_test(test_pins),
        cmocka_unit_test(test_refcount),         cmocka_unit_test(test_already_initialized),
        cmocka_unit_test(test_foreign_keys),     cmocka_unit_test(test_sign_args),
        cmocka_unit_test(test_public_encodings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
