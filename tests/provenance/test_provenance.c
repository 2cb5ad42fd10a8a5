/*
 * Provenance library: DSSE (PAE, base64, envelope, (t, n) verification), the
 * in-toto Statement / SLSA v1 predicate, the policy and its verification.
 */
#include <fwtrust/fwt_provenance.h>
#include <fwtrust/fwt_util.h>

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VEC FWT_TEST_DATA "/provenance/"

static char g_dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/fwt-prov-test.XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static fwt_privkey *gen_key(enum fwt_key_type t, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.pem", g_dir, name);
    unlink(path);
    assert_int_equal(fwt_keygen_file(t, path, NULL), FWT_OK);
    fwt_privkey *k = NULL;
    assert_int_equal(fwt_privkey_load(path, NULL, &k), FWT_OK);
    return k;
}

static fwt_pubkey *pub_of(fwt_privkey *k)
{
    fwt_pubkey *p = NULL;
    assert_int_equal(fwt_privkey_public(k, &p), FWT_OK);
    return p;
}

static char *pem_of(fwt_privkey *k)
{
    fwt_pubkey *p = pub_of(k);
    char *pem = NULL;
    assert_int_equal(fwt_pubkey_pem(p, &pem), FWT_OK);
    fwt_pubkey_free(p);
    return pem;
}

/* ---- DSSE ---- */

static void test_pae_vector(void **state)
{
    (void)state;
    uint8_t *pae = NULL;
    size_t n = 0;
    assert_int_equal(fwt_dsse_pae("http://example.com/HelloWorld", (const uint8_t *)"hello world", 11,
                                  &pae, &n),
                     FWT_OK);
    static const char want[] = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";
    assert_int_equal(n, sizeof(want) - 1);
    assert_memory_equal(pae, want, n);
    free(pae);
    assert_int_equal(fwt_dsse_pae("", NULL, 0, &pae, &n), FWT_OK);
    assert_int_equal(n, 12);
    assert_memory_equal(pae, "DSSEv1 0  0 ", 12);
    free(pae);
}

static void test_vector_envelope(void **state)
{
    (void)state;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(fwt_read_file(VEC "dsse-vector.json", 65536, &buf, &len), FWT_OK);
    struct fwt_dsse_envelope env;
    assert_int_equal(fwt_dsse_parse(buf, len, &env), FWT_OK);
    free(buf);
    assert_string_equal(env.payload_type, "http://example.com/HelloWorld");
    assert_int_equal(env.payload_len, 11);
    assert_memory_equal(env.payload, "hello world", 11);
    assert_int_equal(env.n_sigs, 1);
    assert_int_equal(env.sigs[0].sig_len, 64); /* raw r||s */
    fwt_pubkey *pub = NULL;
    assert_int_equal(fwt_pubkey_load(VEC "dsse-vector.pub.pem", NULL, &pub), FWT_OK);
    const fwt_pubkey *keys[1] = {pub};
    uint8_t acc[1] = {0};
    assert_int_equal(fwt_dsse_verify(&env, keys, 1, 1, "http://example.com/HelloWorld", acc), FWT_OK);
    assert_int_equal(acc[0], 1);
    /* the serialized form carries the spec's payload and sig strings byte for byte */
    char *text = NULL;
    assert_int_equal(fwt_dsse_serialize(&env, &text, NULL), FWT_OK);
    assert_non_null(strstr(text, "\"payload\": \"aGVsbG8gd29ybGQ=\""));
    assert_non_null(strstr(text, "\"sig\": \"A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTf"
                                 "UiHqJPcIAriEGAHTVeCUjW2JIZA==\""));
    free(text);
    /* one bit of the payload changed: refused */
    env.payload[0] ^= 1;
    assert_int_equal(fwt_dsse_verify(&env, keys, 1, 1, NULL, NULL), FWT_E_THRESHOLD);
    env.payload[0] ^= 1;
    /* another payload type is another message (PAE binds it) */
    free(env.payload_type);
    env.payload_type = strdup("http://example.com/HelloWorle");
    assert_int_equal(fwt_dsse_verify(&env, keys, 1, 1, NULL, NULL), FWT_E_THRESHOLD);
    fwt_dsse_free(&env);
    /* the vector's key signs (OpenSSL 3.0 has random nonces, so a new signature) and verifies */
    fwt_privkey *priv = NULL;
    assert_int_equal(fwt_privkey_load(VEC "dsse-vector.key.pem", NULL, &priv), FWT_OK);
    assert_int_equal(fwt_dsse_init(&env, "http://example.com/HelloWorld", (const uint8_t *)"hello world", 11),
                     FWT_OK);
    assert_int_equal(fwt_dsse_sign(&env, priv), FWT_OK);
    assert_int_equal(fwt_dsse_verify(&env, keys, 1, 1, NULL, NULL), FWT_OK);
    fwt_dsse_free(&env);
    fwt_privkey_free(priv);
    fwt_pubkey_free(pub);
}

static void test_base64_alphabets(void **state)
{
    (void)state;
    /* the vector's signature in the URL-safe alphabet, without padding */
    static const char url[] = "{\"payload\":\"aGVsbG8gd29ybGQ\",\"payloadType\":\"http://example.com/HelloWorld\","
                              "\"signatures\":[{\"sig\":\"A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F-FnZ-O88SjtR6rDAaja"
                              "bZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA\"}]}";
    struct fwt_dsse_envelope env;
    assert_int_equal(fwt_dsse_parse((const uint8_t *)url, strlen(url), &env), FWT_OK);
    fwt_pubkey *pub = NULL;
    assert_int_equal(fwt_pubkey_load(VEC "dsse-vector.pub.pem", NULL, &pub), FWT_OK);
    const fwt_pubkey *keys[1] = {pub};
    assert_int_equal(fwt_dsse_verify(&env, keys, 1, 1, NULL, NULL), FWT_OK);
    fwt_dsse_free(&env);
    fwt_pubkey_free(pub);

    uint8_t *out = NULL;
    size_t n = 0;
    assert_int_equal(fwt_base64_decode("-_8", 3, &out, &n), FWT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 0xfb);
    assert_int_equal(out[1], 0xff);
    free(out);
    assert_int_equal(fwt_base64_decode("+/8=", 4, &out, &n), FWT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 0xfb);
    free(out);
    assert_int_equal(fwt_base64_decode("", 0, &out, &n), FWT_OK);
    assert_int_equal(n, 0);
    free(out);
    /* mixed alphabets, bad characters, impossible lengths, non-canonical bits */
    assert_int_equal(fwt_base64_decode("+_8=", 4, &out, &n), FWT_E_MALFORMED);
    assert_int_equal(fwt_base64_decode("ab!d", 4, &out, &n), FWT_E_MALFORMED);
    assert_int_equal(fwt_base64_decode("abcde", 5, &out, &n), FWT_E_MALFORMED);
    assert_int_equal(fwt_base64_decode("ab=", 3, &out, &n), FWT_E_MALFORMED);
    assert_int_equal(fwt_base64_decode("YR==", 4, &out, &n), FWT_E_MALFORMED);
    assert_int_equal(fwt_base64_decode("a=bc", 4, &out, &n), FWT_E_MALFORMED);
    assert_int_equal(fwt_base64_decode("Y Q==", 5, &out, &n), FWT_E_MALFORMED);
}

static void test_threshold_unique_keys(void **state)
{
    (void)state;
    fwt_privkey *a = gen_key(FWT_KEY_ED25519, "ta"), *b = gen_key(FWT_KEY_ECDSA_P256, "tb"),
                *c = gen_key(FWT_KEY_RSA2048, "tc");
    fwt_pubkey *pa = pub_of(a), *pb = pub_of(b), *pc = pub_of(c), *pa2 = pub_of(a);
    struct fwt_dsse_envelope env;
    assert_int_equal(fwt_dsse_init(&env, "application/x-test", (const uint8_t *)"body", 4), FWT_OK);
    assert_int_equal(fwt_dsse_sign(&env, a), FWT_OK);
    /* a key signs once */
    assert_int_equal(fwt_dsse_sign(&env, a), FWT_E_ARG);
    assert_int_equal(fwt_dsse_sign(&env, b), FWT_OK);
    assert_int_equal(fwt_dsse_sign(&env, c), FWT_OK);
    const fwt_pubkey *keys[3] = {pa, pb, pc};
    assert_int_equal(fwt_dsse_verify(&env, keys, 3, 3, "application/x-test", NULL), FWT_OK);
    assert_int_equal(fwt_dsse_verify(&env, keys, 3, 4, NULL, NULL), FWT_E_THRESHOLD);
    assert_int_equal(fwt_dsse_verify(&env, keys, 3, 0, NULL, NULL), FWT_E_ARG);
    /* wrong payload type, after the signatures are checked */
    assert_int_equal(fwt_dsse_verify(&env, keys, 3, 1, "application/vnd.in-toto+json", NULL), FWT_E_META);
    /* the same key trusted twice counts once */
    const fwt_pubkey *twice[2] = {pa, pa2};
    assert_int_equal(fwt_dsse_verify(&env, twice, 2, 1, NULL, NULL), FWT_OK);
    assert_int_equal(fwt_dsse_verify(&env, twice, 2, 2, NULL, NULL), FWT_E_THRESHOLD);
    /* duplicate signatures by one key (the envelope edited) count once */
    char *text = NULL;
    assert_int_equal(fwt_dsse_serialize(&env, &text, NULL), FWT_OK);
    struct fwt_dsse_envelope dup;
    assert_int_equal(fwt_dsse_parse((const uint8_t *)text, strlen(text), &dup), FWT_OK);
    free(text);
    free(dup.sigs[1].sig);
    dup.sigs[1].sig = malloc(dup.sigs[0].sig_len);
    memcpy(dup.sigs[1].sig, dup.sigs[0].sig, dup.sigs[0].sig_len);
    dup.sigs[1].sig_len = dup.sigs[0].sig_len;
    free(dup.sigs[2].sig);
    dup.sigs[2].sig = malloc(dup.sigs[0].sig_len);
    memcpy(dup.sigs[2].sig, dup.sigs[0].sig, dup.sigs[0].sig_len);
    dup.sigs[2].sig_len = dup.sigs[0].sig_len;
    assert_int_equal(fwt_dsse_verify(&dup, keys, 3, 2, NULL, NULL), FWT_E_THRESHOLD);
    assert_int_equal(fwt_dsse_verify(&dup, keys, 3, 1, NULL, NULL), FWT_OK);
    fwt_dsse_free(&dup);
    fwt_dsse_free(&env);
    fwt_pubkey_free(pa);
    fwt_pubkey_free(pa2);
    fwt_pubkey_free(pb);
    fwt_pubkey_free(pc);
    fwt_privkey_free(a);
    fwt_privkey_free(b);
    fwt_privkey_free(c);
}

static void test_malformed_envelopes(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "[]",
        "{\"payload\":\"aGk=\",\"payloadType\":\"t\"}",
        "{\"payload\":\"aGk=\",\"payloadType\":\"t\",\"signatures\":[]}",
        "{\"payload\":\"aGk=\",\"payloadType\":\"\",\"signatures\":[{\"sig\":\"aGk=\"}]}",
        "{\"payload\":\"aGk=\",\"payloadType\":5,\"signatures\":[{\"sig\":\"aGk=\"}]}",
        "{\"payload\":\"a!k=\",\"payloadType\":\"t\",\"signatures\":[{\"sig\":\"aGk=\"}]}",
        "{\"payload\":\"aGk=\",\"payloadType\":\"t\",\"signatures\":[{\"sig\":\"\"}]}",
        "{\"payload\":\"aGk=\",\"payloadType\":\"t\",\"signatures\":[{\"sig\":\"aGk=\",\"x\":1}]}",
        "{\"payload\":\"aGk=\",\"payloadType\":\"t\",\"signatures\":[{\"keyid\":7,\"sig\":\"aGk=\"}]}",
        "{\"payload\":\"aGk=\",\"payloadType\":\"t\",\"signatures\":[\"aGk=\"]}",
        "{\"payload\":\"aGk=\",\"payloadType\":\"t\",\"signatures\":[{\"sig\":\"aGk=\"}],\"extra\":1}",
        "{\"payload\":\"aGk=\",\"payload\":\"aGk=\",\"payloadType\":\"t\",\"signatures\":[{\"sig\":\"aGk=\"}]}",
        "{\"payload\":\"aGk=\",\"payloadType\":\"t\\u0000x\",\"signatures\":[{\"sig\":\"aGk=\"}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fwt_dsse_envelope env;
        fwt_err e = fwt_dsse_parse((const uint8_t *)bad[i], strlen(bad[i]), &env);
        if (e != FWT_E_MALFORMED) {
            fail_msg("envelope %zu: %s, expected FWT_E_MALFORMED", i, fwt_err_name(e));
        }
        assert_true(fwt_detail()[0] != 0);
    }
    /* 17 signatures: too many */
    char big[4096] = "{\"payload\":\"aGk=\",\"payloadType\":\"t\",\"signatures\":[";
    for (int i = 0; i < 17; i++) {
        strcat(big, i ? ",{\"sig\":\"aGk=\"}" : "{\"sig\":\"aGk=\"}");
    }
    strcat(big, "]}");
    struct fwt_dsse_envelope env;
    assert_int_equal(fwt_dsse_parse((const uint8_t *)big, strlen(big), &env), FWT_E_MALFORMED);
    uint8_t *huge = calloc(1, FWT_DSSE_MAX + 1);
    assert_int_equal(fwt_dsse_parse(huge, FWT_DSSE_MAX + 1, &env), FWT_E_TOO_LARGE);
    free(huge);
}

/* ---- statement and policy ---- */

static const char *const k_src = "git+https://example.com/fw.git";
static const char *const k_rev = "0123456789abcdef0123456789abcdef01234567";

/* An envelope of a statement for digest (sha256), by builder id, signed by keys. */
static void make_env(struct fwt_dsse_envelope *env, const uint8_t digest[32], const char *builder,
                     const char *src, const char *rev, fwt_privkey **keys, size_t n)
{
    struct fwt_provenance p;
    memset(&p, 0, sizeof(p));
    p.subjects[0].name = (char *)(uintptr_t) "fw.bin";
    p.subjects[0].digests[0].alg = FWT_HASH_SHA256;
    p.subjects[0].digests[0].len = 32;
    memcpy(p.subjects[0].digests[0].value, digest, 32);
    p.subjects[0].n_digests = 1;
    p.n_subjects = 1;
    p.builder_id = (char *)(uintptr_t)builder;
    p.source_uri = (char *)(uintptr_t)src;
    p.source_revision = (char *)(uintptr_t)rev;
    p.started_on = (char *)(uintptr_t) "2026-01-01T00:00:00Z";
    p.finished_on = (char *)(uintptr_t) "2026-01-01T00:01:00Z";
    char *stmt = NULL;
    size_t sl = 0;
    assert_int_equal(fwt_provenance_statement(&p, &stmt, &sl), FWT_OK);
    assert_int_equal(fwt_dsse_init(env, FWT_INTOTO_PAYLOAD_TYPE, (const uint8_t *)stmt, sl), FWT_OK);
    free(stmt);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(fwt_dsse_sign(env, keys[i]), FWT_OK);
    }
}

static char *policy_text(const char *extra, char *pem_a, char *pem_b, char *pem_c)
{
    json_t *o = json_pack("{s:i, s:s}", "version", 1, "source_uri", k_src);
    json_t *bl = json_array();
    json_array_append_new(bl, json_pack("{s:s, s:[s]}", "id", "https://ci-a.example/runner", "keys", pem_a));
    json_array_append_new(bl, json_pack("{s:s, s:[s]}", "id", "https://ci-b.example/runner", "keys", pem_b));
    json_array_append_new(bl, json_pack("{s:s, s:[s]}", "id", "https://ci-c.example/runner", "keys", pem_c));
    json_object_set_new(o, "builders", bl);
    if (extra) {
        json_t *x = json_loads(extra, 0, NULL);
        assert_non_null(x);
        json_object_update(o, x);
        json_decref(x);
    }
    char *s = json_dumps(o, 0);
    json_decref(o);
    return s;
}

static void test_statement_roundtrip(void **state)
{
    (void)state;
    uint8_t dg[32];
    memset(dg, 0xab, sizeof(dg));
    fwt_privkey *a = gen_key(FWT_KEY_ED25519, "sa");
    struct fwt_dsse_envelope env;
    make_env(&env, dg, "https://ci-a.example/runner", k_src, k_rev, &a, 1);
    struct fwt_provenance p;
    assert_int_equal(fwt_provenance_parse(env.payload, env.payload_len, &p), FWT_OK);
    assert_string_equal(p.predicate_type, FWT_SLSA_PROVENANCE_V1);
    assert_string_equal(p.build_type, FWT_PROV_BUILD_TYPE);
    assert_string_equal(p.builder_id, "https://ci-a.example/runner");
    assert_string_equal(p.source_uri, k_src);
    assert_string_equal(p.source_revision, k_rev);
    assert_string_equal(p.started_on, "2026-01-01T00:00:00Z");
    assert_int_equal(p.n_subjects, 1);
    assert_int_equal(p.subjects[0].digests[0].alg, FWT_HASH_SHA256);
    assert_memory_equal(p.subjects[0].digests[0].value, dg, 32);
    fwt_provenance_free(&p);
    fwt_dsse_free(&env);
    fwt_privkey_free(a);
}

static void test_statement_bad_digests(void **state)
{
    (void)state;
    static const char *const bad[] = {
        /* wrong length */
        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":\"a\",\"digest\":{\"sha256\":\"abcd\"}}],\"predicateType\":\"x\"}",
        /* unsupported algorithm */
        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":\"a\",\"digest\":{\"md5\":\"d41d8cd98f00b204e9800998ecf8427e\"}}],\"predicateType\":\"x\"}",
        /* upper-case hex */
        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":\"a\",\"digest\":{\"sha256\":\"ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB\"}}],\"predicateType\":\"x\"}",
        /* sha384 length under sha256 */
        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":\"a\",\"digest\":{\"sha512\":\"abababababababababababababababababababababababababababababababab\"}}],\"predicateType\":\"x\"}",
        /* no digest, no subject, wrong type */
        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":\"a\",\"digest\":{}}],\"predicateType\":\"x\"}",
        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[],\"predicateType\":\"x\"}",
        "{\"_type\":\"https://in-toto.io/Statement/v0.1\",\"subject\":[{\"name\":\"a\",\"digest\":{\"sha256\":\"abababababababababababababababababababababababababababababababab\"}}],\"predicateType\":\"x\"}",
        /* SLSA predicate without a builder */
        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":\"a\",\"digest\":{\"sha256\":\"abababababababababababababababababababababababababababababababab\"}}],\"predicateType\":\"https://slsa.dev/provenance/v1\",\"predicate\":{\"buildDefinition\":{\"buildType\":\"b\",\"externalParameters\":{}},\"runDetails\":{}}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fwt_provenance p;
        fwt_err e = fwt_provenance_parse((const uint8_t *)bad[i], strlen(bad[i]), &p);
        if (e != FWT_E_MALFORMED) {
            fail_msg("statement %zu: %s, expected FWT_E_MALFORMED", i, fwt_err_name(e));
        }
    }
}

static void test_policy_parse(void **state)
{
    (void)state;
    fwt_privkey *a = gen_key(FWT_KEY_ED25519, "pa"), *b = gen_key(FWT_KEY_ECDSA_P256, "pb");
    char *pa = pem_of(a), *pb = pem_of(b);
    struct fwt_prov_policy pol;
    char *ok = policy_text("{\"required_builders\":2}", pa, pb, pb);
    /* pb twice: one key under two builders */
    assert_int_equal(fwt_prov_policy_parse((const uint8_t *)ok, strlen(ok), &pol), FWT_E_MALFORMED);
    free(ok);
    fwt_privkey *c = gen_key(FWT_KEY_ED25519, "pc");
    char *pc = pem_of(c);
    ok = policy_text("{\"required_builders\":2}", pa, pb, pc);
    assert_int_equal(fwt_prov_policy_parse((const uint8_t *)ok, strlen(ok), &pol), FWT_OK);
    assert_int_equal(pol.n_builders, 3);
    assert_int_equal(pol.required_builders, 2);
    assert_int_equal(pol.threshold, 1);
    assert_string_equal(pol.predicate_type, FWT_SLSA_PROVENANCE_V1);
    fwt_prov_policy_free(&pol);
    free(ok);
    static const char *const extras[] = {
        "{\"version\":2}",         "{\"threshold\":0}",         "{\"threshold\":2}",
        "{\"required_builders\":4}", "{\"unknown\":true}",       "{\"source_uri\":\"\"}",
        "{\"builders\":[]}",         "{\"builders\":[{\"id\":\"x\",\"keys\":[\"not a pem\"]}]}",
        "{\"builders\":[{\"id\":\"x\",\"keys\":[]}]}",
        "{\"builders\":[{\"id\":\"x\",\"keys\":[\"pkcs11:token=a\"]}]}",
        "{\"builders\":[{\"id\":\"x\",\"file\":\"/etc/passwd\",\"keys\":[]}]}",
        "{\"threshold\":\"1\"}",
    };
    for (size_t i = 0; i < sizeof(extras) / sizeof(extras[0]); i++) {
        char *t = policy_text(extras[i], pa, pb, pc);
        fwt_err e = fwt_prov_policy_parse((const uint8_t *)t, strlen(t), &pol);
        if (e != FWT_E_MALFORMED) {
            fail_msg("policy with %s: %s, expected FWT_E_MALFORMED", extras[i], fwt_err_name(e));
        }
        free(t);
    }
    /* duplicate builder ids; not JSON; duplicate members */
    static const char *const raw[] = {
        "{\"version\":1,\"source_uri\":\"s\",\"builders\":[{\"id\":\"x\",\"keys\":[]}]",
        "{\"version\":1,\"version\":1,\"source_uri\":\"s\",\"builders\":[]}",
        "not json",
    };
    for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
        assert_int_equal(fwt_prov_policy_parse((const uint8_t *)raw[i], strlen(raw[i]), &pol),
                         FWT_E_MALFORMED);
    }
    char *dupid = NULL;
    json_t *o = json_pack("{s:i, s:s, s:[{s:s, s:[s]}, {s:s, s:[s]}]}", "version", 1, "source_uri", "s",
                          "builders", "id", "x", "keys", pa, "id", "x", "keys", pb);
    dupid = json_dumps(o, 0);
    json_decref(o);
    assert_int_equal(fwt_prov_policy_parse((const uint8_t *)dupid, strlen(dupid), &pol), FWT_E_MALFORMED);
    assert_non_null(strstr(fwt_detail(), "listed twice"));
    free(dupid);
    free(pa);
    free(pb);
    free(pc);
    fwt_privkey_free(a);
    fwt_privkey_free(b);
    fwt_privkey_free(c);
}

static void test_policy_verify(void **state)
{
    (void)state;
    fwt_privkey *a = gen_key(FWT_KEY_ED25519, "va"), *b = gen_key(FWT_KEY_ECDSA_P256, "vb"),
                *c = gen_key(FWT_KEY_ECDSA_P384, "vc"), *x = gen_key(FWT_KEY_ED25519, "vx");
    char *pa = pem_of(a), *pb = pem_of(b), *pc = pem_of(c);
    char *t = policy_text("{\"required_builders\":2}", pa, pb, pc);
    struct fwt_prov_policy pol;
    assert_int_equal(fwt_prov_policy_parse((const uint8_t *)t, strlen(t), &pol), FWT_OK);
    free(t);
    uint8_t dg[32], other[32];
    memset(dg, 0x11, sizeof(dg));
    memset(other, 0x22, sizeof(other));
    struct fwt_prov_result r;
    struct fwt_dsse_envelope envs[3];

    /* two builders agree, the third built something else */
    make_env(&envs[0], dg, "https://ci-a.example/runner", k_src, k_rev, &a, 1);
    make_env(&envs[1], dg, "https://ci-b.example/runner", k_src, k_rev, &b, 1);
    make_env(&envs[2], other, "https://ci-c.example/runner", k_src, k_rev, &c, 1);
    assert_int_equal(fwt_prov_verify(&pol, &envs[0], FWT_HASH_SHA256, dg, 32, k_rev, &r), FWT_OK);
    assert_int_equal(r.builder, 0);
    fwt_provenance_free(&r.prov);
    assert_int_equal(fwt_prov_verify(&pol, &envs[2], FWT_HASH_SHA256, dg, 32, NULL, &r), FWT_E_DIGEST);
    size_t agree = 0;
    uint8_t ok[3];
    assert_int_equal(fwt_prov_verify_builders(&pol, envs, 3, FWT_HASH_SHA256, dg, 32, NULL, &agree, ok), FWT_OK);
    assert_int_equal(agree, 2);
    assert_int_equal(ok[2], 0);
    /* only a and c: one builder agrees on dg, two required */
    struct fwt_dsse_envelope ac[2] = {envs[0], envs[2]};
    assert_int_equal(fwt_prov_verify_builders(&pol, ac, 2, FWT_HASH_SHA256, dg, 32, NULL, &agree, NULL),
                     FWT_E_THRESHOLD);
    assert_int_equal(agree, 1);
    /* the same builder twice is one builder */
    struct fwt_dsse_envelope aa[2] = {envs[0], envs[0]};
    assert_int_equal(fwt_prov_verify_builders(&pol, aa, 2, FWT_HASH_SHA256, dg, 32, NULL, &agree, NULL),
                     FWT_E_THRESHOLD);
    assert_int_equal(agree, 1);
    for (int i = 0; i < 3; i++) {
        fwt_dsse_free(&envs[i]);
    }

    struct fwt_dsse_envelope e;
    /* builder b's key claims to be builder a */
    make_env(&e, dg, "https://ci-a.example/runner", k_src, k_rev, &b, 1);
    assert_int_equal(fwt_prov_verify(&pol, &e, FWT_HASH_SHA256, dg, 32, NULL, &r), FWT_E_THRESHOLD);
    fwt_dsse_free(&e);
    /* an unknown builder id, signed by a known key */
    make_env(&e, dg, "https://evil.example/runner", k_src, k_rev, &a, 1);
    assert_int_equal(fwt_prov_verify(&pol, &e, FWT_HASH_SHA256, dg, 32, NULL, &r), FWT_E_UNKNOWN_KEY);
    fwt_dsse_free(&e);
    /* an untrusted key */
    make_env(&e, dg, "https://ci-a.example/runner", k_src, k_rev, &x, 1);
    assert_int_equal(fwt_prov_verify(&pol, &e, FWT_HASH_SHA256, dg, 32, NULL, &r), FWT_E_THRESHOLD);
    fwt_dsse_free(&e);
    /* another source; another revision than required */
    make_env(&e, dg, "https://ci-a.example/runner", "git+https://evil.example/fw.git", k_rev, &a, 1);
    assert_int_equal(fwt_prov_verify(&pol, &e, FWT_HASH_SHA256, dg, 32, NULL, &r), FWT_E_META_MISMATCH);
    fwt_dsse_free(&e);
    make_env(&e, dg, "https://ci-a.example/runner", k_src, "ffff", &a, 1);
    assert_int_equal(fwt_prov_verify(&pol, &e, FWT_HASH_SHA256, dg, 32, k_rev, &r), FWT_E_META_MISMATCH);
    assert_int_equal(fwt_prov_verify(&pol, &e, FWT_HASH_SHA256, dg, 32, NULL, &r), FWT_OK);
    fwt_provenance_free(&r.prov);
    /* the artifact digest under another algorithm is not the subject's */
    uint8_t d384[48];
    memset(d384, 0x11, sizeof(d384));
    assert_int_equal(fwt_prov_verify(&pol, &e, FWT_HASH_SHA384, d384, 48, NULL, &r), FWT_E_DIGEST);
    /* the right signatures on another payload type */
    free(e.payload_type);
    e.payload_type = strdup("application/json");
    e.n_sigs = 1;
    free(e.sigs[0].sig);
    e.sigs[0].sig = NULL;
    e.sigs[0].sig_len = 0;
    free(e.sigs[0].keyid);
    e.sigs[0].keyid = NULL;
    e.n_sigs = 0;
    assert_int_equal(fwt_dsse_sign(&e, a), FWT_OK);
    assert_int_equal(fwt_prov_verify(&pol, &e, FWT_HASH_SHA256, dg, 32, NULL, &r), FWT_E_META);
    fwt_dsse_free(&e);

    fwt_prov_policy_free(&pol);
    free(pa);
    free(pb);
    free(pc);
    fwt_privkey_free(a);
    fwt_privkey_free(b);
    fwt_privkey_free(c);
    fwt_privkey_free(x);
}

/* A policy at its limits (16 builders, 8 keys each: 128 keys) verifies an envelope signed by
 * the very last key: every key is tried, none is cut off. */
static void test_policy_many_keys(void **state)
{
    (void)state;
    json_t *bl = json_array();
    fwt_privkey *last = NULL;
    for (int b = 0; b < (int)FWT_POLICY_BUILDERS_MAX; b++) {
        json_t *keys = json_array();
        for (int k = 0; k < (int)FWT_POLICY_KEYS_MAX; k++) {
            char name[32];
            snprintf(name, sizeof(name), "m%d-%d", b, k);
            fwt_privkey *pk = gen_key(FWT_KEY_ED25519, name);
            char *pem = pem_of(pk);
            json_array_append_new(keys, json_string(pem));
            free(pem);
            if (b == (int)FWT_POLICY_BUILDERS_MAX - 1 && k == (int)FWT_POLICY_KEYS_MAX - 1) {
                last = pk;
            } else {
                fwt_privkey_free(pk);
            }
        }
        char id[64];
        snprintf(id, sizeof(id), "https://ci-%d.example", b);
        json_array_append_new(bl, json_pack("{s:s, s:o}", "id", id, "keys", keys));
    }
    json_t *o = json_pack("{s:i, s:s, s:o}", "version", 1, "source_uri", k_src, "builders", bl);
    char *t = json_dumps(o, 0);
    json_decref(o);
    struct fwt_prov_policy pol;
    assert_int_equal(fwt_prov_policy_parse((const uint8_t *)t, strlen(t), &pol), FWT_OK);
    free(t);
    uint8_t dg[32];
    memset(dg, 0x33, sizeof(dg));
    struct fwt_dsse_envelope e;
    char id[64];
    snprintf(id, sizeof(id), "https://ci-%d.example", (int)FWT_POLICY_BUILDERS_MAX - 1);
    make_env(&e, dg, id, k_src, k_rev, &last, 1);
    struct fwt_prov_result r;
    assert_int_equal(fwt_prov_verify(&pol, &e, FWT_HASH_SHA256, dg, 32, NULL, &r), FWT_OK);
    assert_int_equal(r.builder, FWT_POLICY_BUILDERS_MAX - 1);
    fwt_provenance_free(&r.prov);
    fwt_dsse_free(&e);
    fwt_prov_policy_free(&pol);
    fwt_privkey_free(last);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pae_vector),
        cmocka_unit_test(test_vector_envelope),
        cmocka_unit_test(test_base64_alphabets),
        cmocka_unit_test(test_threshold_unique_keys),
        cmocka_unit_test(test_malformed_envelopes),
        cmocka_unit_test(test_statement_roundtrip),
        cmocka_unit_test(test_statement_bad_digests),
        cmocka_unit_test(test_policy_parse),
        cmocka_unit_test(test_policy_verify),
        cmocka_unit_test(test_policy_many_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
