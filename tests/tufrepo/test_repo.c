/* Unit tests of the repository tool's library (src/tuf/repo_*.c): time format,
 * metadata parsing, transactions (rollback), threshold counting. */
#include "tuf/repo.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "scratch.h"


static void test_time(void **state)
{
    (void)state;
    char s[21];
    fwt_tuf_time_format(0, s);
    assert_string_equal(s, "1970-01-01T00:00:00Z");
    fwt_tuf_time_format(1700000000, s);
    assert_string_equal(s, "2023-11-14T22:13:20Z");
    time_t t = 0;
    assert_int_equal(fwt_tuf_time_parse("2023-11-14T22:13:20Z", &t), FWT_OK);
    assert_int_equal((long long)t, 1700000000LL);
    static const char *const bad[] = {
        "2023-11-14T22:13:20",   "2023-11-14 22:13:20Z", "2023-11-14T22:13:20.5Z",
        "2023-13-14T22:13:20Z",  "2023-11-14T24:13:20Z", "2023-11-00T22:13:20Z",
        "+023-11-14T22:13:20Z",  "2023-11-14T22:13:2xZ", "",
        "2023-11-14T22:13:20+00:00",
        /* dates that do not exist: the client's parser (the one shared) refuses them */
        "2023-02-31T00:00:00Z", "2023-02-29T00:00:00Z", "2023-11-14T22:13:60Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(fwt_tuf_time_parse(bad[i], &t), FWT_E_META);
    }
}

static fwt_err parse(const char *s, const char *type, json_t **env)
{
    return repo_meta_parse((const uint8_t *)s, strlen(s), type, "test", env);
}

static void test_meta_parse(void **state)
{
    (void)state;
    json_t *env = NULL;
    const char *good = "{\"signatures\": [{\"keyid\": \"" /* 64 hex */
                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"sig\": \"00ff\"}],"
                       " \"signed\": {\"_type\": \"targets\", \"spec_version\": \"1.0.31\", \"version\": 3,"
                       " \"expires\": \"2030-01-01T00:00:00Z\", \"targets\": {}, \"x-unknown\": [1]}}";
    assert_int_equal(parse(good, "targets", &env), FWT_OK);
    /* Unknown fields survive a load/dump round trip. */
    assert_non_null(json_object_get(json_object_get(env, "signed"), "x-unknown"));
    json_decref(env);
    assert_int_equal(parse(good, "root", &env), FWT_E_META);
    assert_string_equal(fwt_detail(), "test: _type is 'targets', expected 'root'");

    static const char *const bad[] = {
        "",
        "[]",
        "{\"signatures\": [], \"signed\": {\"_type\": \"targets\", \"_type\": \"targets\"}}",
        "{\"signatures\": {}, \"signed\": {}}",
        "{\"signatures\": [], \"signed\": {\"_type\": \"targets\", \"spec_version\": \"1.0.31\", \"version\": 0,"
        " \"expires\": \"2030-01-01T00:00:00Z\"}}",
        "{\"signatures\": [], \"signed\": {\"_type\": \"targets\", \"spec_version\": \"1.0.31\", \"version\": 1.5,"
        " \"expires\": \"2030-01-01T00:00:00Z\"}}",
        "{\"signatures\": [], \"signed\": {\"_type\": \"targets\", \"spec_version\": \"1.0.31\", \"version\": 1,"
        " \"expires\": \"soon\"}}",
        "{\"signatures\": [], \"signed\": {\"_type\": \"targets\", \"version\": 1,"
        " \"expires\": \"2030-01-01T00:00:00Z\"}}",
        "{\"signatures\": [{\"keyid\": \"ab\", \"sig\": \"00\"}], \"signed\": {\"_type\": \"targets\","
        " \"spec_version\": \"1.0.31\", \"version\": 1, \"expires\": \"2030-01-01T00:00:00Z\"}}",
        /* two signatures with one key id: the client refuses them, so the repository does */
        "{\"signatures\": [{\"keyid\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"sig\": \"00\"},"
        " {\"keyid\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"sig\": \"01\"}],"
        " \"signed\": {\"_type\": \"targets\", \"spec_version\": \"1.0.31\", \"version\": 1,"
        " \"expires\": \"2030-01-01T00:00:00Z\", \"targets\": {}}}",
        /* the client's per-type checks: a target without hashes */
        "{\"signatures\": [], \"signed\": {\"_type\": \"targets\", \"spec_version\": \"1.0.31\", \"version\": 1,"
        " \"expires\": \"2030-01-01T00:00:00Z\", \"targets\": {\"a\": {\"length\": 1}}}}",
        "{\"signatures\": [{\"keyid\": \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
        " \"sig\": \"00\"}], \"signed\": {\"_type\": \"targets\", \"spec_version\": \"1.0.31\", \"version\": 1,"
        " \"expires\": \"2030-01-01T00:00:00Z\"}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        env = NULL;
        assert_int_equal(parse(bad[i], "targets", &env), FWT_E_META);
        assert_null(env);
        assert_true(fwt_detail()[0] != '\0');
    }
}

static char *path_in(const char *name)
{
    static char p[512];
    snprintf(p, sizeof(p), "%s/%s", ts_dir, name);
    return p;
}

static void put(const char *name, const char *text)
{
    FILE *f = fopen(path_in(name), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *get(const char *name)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (fwt_read_file(path_in(name), 1 << 20, &buf, &len) != FWT_OK) {
        return NULL;
    }
    return (char *)buf;
}

static void test_txn_commit_and_rollback(void **state)
{
    (void)state;
    put("a.json", "old a\n");
    put("blocker", "a file where a directory would be\n");
    struct repo_txn t;
    repo_txn_init(&t, ts_dir);
    assert_int_equal(repo_txn_write(&t, path_in("a.json"), "new a\n", 6), FWT_OK);
    assert_int_equal(repo_txn_write(&t, path_in("b.json"), "new b\n", 6), FWT_OK);
    assert_int_equal(repo_txn_delete(&t, path_in("blocker")), FWT_OK);
    assert_int_equal(repo_txn_write(&t, path_in("newdir/c.json"), "c\n", 2), FWT_OK);
    /* Fails: the parent of this one is a regular file. */
    put("plainfile", "x");
    assert_int_equal(repo_txn_write(&t, path_in("plainfile/d.json"), "d\n", 2), FWT_OK);
    assert_int_not_equal(repo_txn_commit(&t), FWT_OK);
    repo_txn_free(&t);
    /* Everything as before: a restored, b and c gone, blocker back, newdir removed. */
    char *a = get("a.json");
    assert_non_null(a);
    assert_string_equal(a, "old a\n");
    free(a);
    char *blk = get("blocker");
    assert_non_null(blk);
    assert_string_equal(blk, "a file where a directory would be\n");
    free(blk);
    struct stat st;
    assert_int_not_equal(stat(path_in("b.json"), &st), 0);
    assert_int_not_equal(stat(path_in("newdir"), &st), 0);
    assert_int_not_equal(stat(path_in(REPO_TXN_DIR), &st), 0); /* nothing left in .txn/ */
    /* A path outside the repository is refused. */
    repo_txn_init(&t, ts_dir);
    assert_int_equal(repo_txn_write(&t, "/tmp/elsewhere.json", "x", 1), FWT_E_INTERNAL);
    repo_txn_free(&t);
    assert_int_not_equal(stat(path_in(REPO_TXN_DIR), &st), 0);

    /* The same without the failing entry commits everything. */
    repo_txn_init(&t, ts_dir);
    assert_int_equal(repo_txn_write(&t, path_in("a.json"), "new a\n", 6), FWT_OK);
    assert_int_equal(repo_txn_delete(&t, path_in("blocker")), FWT_OK);
    assert_int_equal(repo_txn_write(&t, path_in("newdir/c.json"), "c\n", 2), FWT_OK);
    assert_int_equal(repo_txn_commit(&t), FWT_OK);
    repo_txn_free(&t);
    a = get("a.json");
    assert_string_equal(a, "new a\n");
    free(a);
    assert_int_not_equal(stat(path_in("blocker"), &st), 0);
    char *c = get("newdir/c.json");
    assert_non_null(c);
    assert_string_equal(c, "c\n");
    free(c);
    assert_int_not_equal(stat(path_in(REPO_TXN_DIR), &st), 0);
}

/* A journal left by a crash is read strictly: one naming a path outside the repository
 * (or otherwise malformed) is refused, and nothing is done. */
static void test_txn_journal_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"fwtrust_txn\": 1, \"entries\": [{\"op\": \"write\", \"path\": \"../x\", \"id\": 0, \"sha256\": "
        "\"0000000000000000000000000000000000000000000000000000000000000000\", \"same\": false, \"backup\": false}]}",
        "{\"fwtrust_txn\": 1, \"entries\": [{\"op\": \"write\", \"path\": \"/etc/x\", \"id\": 0, \"sha256\": "
        "\"0000000000000000000000000000000000000000000000000000000000000000\", \"same\": false, \"backup\": false}]}",
        "{\"fwtrust_txn\": 1, \"entries\": [{\"op\": \"chmod\", \"path\": \"x\", \"id\": 0, \"sha256\": "
        "\"0000000000000000000000000000000000000000000000000000000000000000\", \"same\": false, \"backup\": false}]}",
        "{\"fwtrust_txn\": 2, \"entries\": []}",
        "{\"fwtrust_txn\": 1, \"entries\": [], \"entries\": []}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = NULL;
        fwt_detail_clear();
        assert_int_equal(repo_txn_journal_parse((const uint8_t *)bad[i], strlen(bad[i]), &j), FWT_E_STATE);
        assert_null(j);
        assert_true(fwt_detail()[0] != '\0');
    }
    /* On disk: recovery refuses (exit 11) and leaves .txn/ for a person to look at. */
    char jdir[600];
    snprintf(jdir, sizeof(jdir), "%s/%s", ts_dir, REPO_TXN_DIR);
    assert_int_equal(mkdir(jdir, 0755), 0);
    put(REPO_TXN_DIR "/journal", bad[0]);
    enum repo_txn_state st = REPO_TXN_NONE;
    assert_int_equal(repo_recover(ts_dir, &st), FWT_E_STATE);
    assert_int_equal(st, REPO_TXN_COMMITTED);
    assert_int_equal(repo_txn_pending(ts_dir, &st), FWT_OK);
    assert_int_equal(st, REPO_TXN_COMMITTED);
    unlink(path_in(REPO_TXN_DIR "/journal"));
    /* Without a journal it is discarded. */
    put(REPO_TXN_DIR "/0", "prepared");
    assert_int_equal(repo_recover(ts_dir, &st), FWT_OK);
    assert_int_equal(st, REPO_TXN_UNCOMMITTED);
    struct stat sb;
    assert_int_not_equal(stat(jdir, &sb), 0);
}

static void test_role_threshold(void **state)
{
    (void)state;
    size_t th = 0;
    json_t *r = json_loads("{\"keyids\": [\"a\", \"b\"], \"threshold\": 2}", 0, NULL);
    assert_int_equal(repo_role_threshold(r, "x", &th), FWT_OK);
    assert_int_equal(th, 2);
    json_decref(r);
    static const char *const bad[] = {
        "{\"keyids\": [\"a\", \"b\"], \"threshold\": 0}",
        "{\"keyids\": [\"a\", \"b\"], \"threshold\": 3}",
        "{\"keyids\": [\"a\", \"a\"], \"threshold\": 2}",
        "{\"keyids\": [\"a\", \"a\"], \"threshold\": 1}",
        "{\"keyids\": [], \"threshold\": 1}",
        "{\"keyids\": [\"a\"], \"threshold\": \"1\"}",
        "{\"keyids\": [\"a\"], \"threshold\": -1}",
        "{\"keyids\": [1], \"threshold\": 1}",
        "{\"threshold\": 1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = json_loads(bad[i], 0, NULL);
        assert_non_null(r);
        assert_int_equal(repo_role_threshold(r, "x", &th), FWT_E_META);
        json_decref(r);
    }
}

/* Threshold counting: one key signs; its signature listed twice, or the same key
 * material under a second key id (an extra field changes the id), counts once. */
static void test_count_signatures(void **state)
{
    (void)state;
    char keyfile[300];
    snprintf(keyfile, sizeof(keyfile), "%s/k.pem", ts_dir);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm ed25519 -out '%s' 2>/dev/null", keyfile);
    assert_int_equal(system(cmd), 0);
    struct repo_keyring kr;
    memset(&kr, 0, sizeof(kr));
    struct repo_key *k = NULL;
    assert_int_equal(repo_keyring_add(&kr, keyfile, NULL, 1, &k), FWT_OK);
    assert_non_null(k->priv);

    /* A second id for the same key: {"keytype","scheme","keyval","x-extra"}. */
    json_t *k2 = json_deep_copy(k->tuf);
    json_object_set_new(k2, "x-extra", json_string("same key, other id"));
    char *c = NULL;
    size_t cl = 0;
    assert_int_equal(fwt_tuf_canonical(k2, &c, &cl), FWT_OK);
    uint8_t d[32];
    char id2[65];
    assert_int_equal(fwt_sha256(c, cl, d), FWT_OK);
    fwt_hex_encode(d, 32, id2);
    free(c);
    assert_string_not_equal(id2, k->keyid);

    json_t *keys = json_object();
    json_object_set(keys, k->keyid, k->tuf);
    json_object_set_new(keys, id2, k2);
    json_t *role = json_pack("{s:[s,s], s:i}", "keyids", k->keyid, id2, "threshold", 2);
    struct repo_role_keys rk = {keys, role};
    json_t *env = json_pack("{s:[], s:{s:s, s:i}}", "signatures", "signed", "_type", "targets", "version", 1);
    size_t added = 0, valid = 0;
    assert_int_equal(repo_sign_env(env, &rk, &kr, &added), FWT_OK);
    assert_int_equal(added, 1);
    assert_int_equal(repo_count_signatures(env, &rk, &valid, NULL), FWT_OK);
    assert_int_equal(valid, 1);
    /* Signing again adds nothing. */
    assert_int_equal(repo_sign_env(env, &rk, &kr, &added), FWT_OK);
    assert_int_equal(added, 0);
    /* The same signature twice. */
    json_t *sigs = json_object_get(env, "signatures");
    json_array_append(sigs, json_array_get(sigs, 0));
    assert_int_equal(repo_count_signatures(env, &rk, &valid, NULL), FWT_OK);
    assert_int_equal(valid, 1);
    /* The same signature under the second id of the same key. */
    json_t *s2 = json_pack("{s:s, s:O}", "keyid", id2, "sig", json_object_get(json_array_get(sigs, 0), "sig"));
    json_array_append_new(sigs, s2);
    assert_int_equal(repo_count_signatures(env, &rk, &valid, NULL), FWT_OK);
    assert_int_equal(valid, 1);
    /* A changed payload invalidates the signature. */
    json_object_set_new(json_object_get(env, "signed"), "version", json_integer(2));
    assert_int_equal(repo_count_signatures(env, &rk, &valid, NULL), FWT_OK);
    assert_int_equal(valid, 0);
    /* A signature by a key id that is not the role's does not count. */
    json_t *role1 = json_pack("{s:[s], s:i}", "keyids", id2, "threshold", 1);
    json_object_set_new(json_object_get(env, "signed"), "version", json_integer(1));
    json_array_clear(sigs);
    assert_int_equal(repo_sign_env(env, &rk, &kr, &added), FWT_OK);
    struct repo_role_keys rk1 = {keys, role1};
    assert_int_equal(repo_count_signatures(env, &rk1, &valid, NULL), FWT_OK);
    assert_int_equal(valid, 0);
    json_decref(role1);
    json_decref(env);
    json_decref(role);
    json_decref(keys);
    repo_keyring_free(&kr);
}

static void canon_is(const char *json, const char *want)
{
    json_error_t e;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &e);
    assert_non_null(v);
    char *c = NULL;
    size_t n = 0;
    assert_int_equal(fwt_tuf_canonical(v, &c, &n), FWT_OK);
    assert_int_equal(n, strlen(want));
    assert_string_equal(c, want);
    free(c);
    json_decref(v);
}

/* Canonical JSON as TUF signs it: sorted keys (byte order), no whitespace, only " and \
 * escaped, integers only. */
static void test_canonical(void **state)
{
    (void)state;
    canon_is("{\"b\": 1, \"a\": [true, false, null, \"x\\\"y\\\\z\"]}",
             "{\"a\":[true,false,null,\"x\\\"y\\\\z\"],\"b\":1}");
    canon_is("{\"a\": 1, \"B\": 2, \"_type\": 3, \"\u00e9\": 4}", "{\"B\":2,\"_type\":3,\"a\":1,\"\xc3\xa9\":4}");
    canon_is("{\"s\": \"tab\\there\\nline\"}", "{\"s\":\"tab\there\nline\"}");
    canon_is("[-9007199254740993, 0, {}]", "[-9007199254740993,0,{}]");
    json_t *v = json_loads("{\"x\": 1.5}", 0, NULL);
    char *c = NULL;
    size_t n = 0;
    assert_int_equal(fwt_tuf_canonical(v, &c, &n), FWT_E_META);
    assert_null(c);
    json_decref(v);
}

/* Key objects: the key id must be the SHA-256 of the canonical key; keytype and scheme
 * must agree with the key material. */
static void test_tuf_keys(void **state)
{
    (void)state;
    char keyfile[300];
    snprintf(keyfile, sizeof(keyfile), "%s/k.pem", ts_dir);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm ed25519 -out '%s' 2>/dev/null", keyfile);
    assert_int_equal(system(cmd), 0);
    struct repo_key k;
    assert_int_equal(repo_key_load(keyfile, NULL, 0, &k), FWT_OK);
    assert_non_null(k.priv); /* a private PEM signs */
    assert_string_equal(json_string_value(json_object_get(k.tuf, "keytype")), "ed25519");
    assert_string_equal(json_string_value(json_object_get(k.tuf, "scheme")), "ed25519");
    assert_int_equal(strlen(json_string_value(json_object_get(json_object_get(k.tuf, "keyval"), "public"))), 64);
    fwt_pubkey *pub = NULL;
    assert_int_equal(repo_tuf_key_to_pub(k.tuf, k.keyid, &pub), FWT_OK);
    fwt_pubkey_free(pub);
    /* Wrong id. */
    char bad[65];
    memcpy(bad, k.keyid, sizeof(bad));
    bad[0] = bad[0] == 'a' ? 'b' : 'a';
    assert_int_equal(repo_tuf_key_to_pub(k.tuf, bad, &pub), FWT_E_META);
    assert_null(pub);
    /* Scheme that does not match the key type (id recomputed so only the scheme is wrong). */
    json_t *k2 = json_deep_copy(k.tuf);
    json_object_set_new(k2, "scheme", json_string("ecdsa-sha2-nistp256"));
    char *c = NULL;
    size_t cl = 0;
    uint8_t d[32];
    char id2[65];
    assert_int_equal(fwt_tuf_canonical(k2, &c, &cl), FWT_OK);
    assert_int_equal(fwt_sha256(c, cl, d), FWT_OK);
    fwt_hex_encode(d, 32, id2);
    free(c);
    assert_int_not_equal(repo_tuf_key_to_pub(k2, id2, &pub), FWT_OK);
    assert_null(pub);
    json_decref(k2);
    /* Public half only: listed, cannot sign. */
    char pubfile[320];
    snprintf(pubfile, sizeof(pubfile), "%s/k.pub", ts_dir);
    snprintf(cmd, sizeof(cmd), "openssl pkey -in '%s' -pubout -out '%s' 2>/dev/null", keyfile, pubfile);
    assert_int_equal(system(cmd), 0);
    struct repo_key kp;
    assert_int_equal(repo_key_load(pubfile, NULL, 0, &kp), FWT_OK);
    assert_null(kp.priv);
    assert_string_equal(kp.keyid, k.keyid);
    repo_key_free(&kp);
    assert_int_not_equal(repo_key_load(pubfile, NULL, 1, &kp), FWT_OK);
    repo_key_free(&k);
}

static void test_role_names(void **state)
{
    (void)state;
    assert_true(repo_role_name_ok("board-a"));
    assert_true(repo_role_name_ok("A.b_c-1"));
    assert_false(repo_role_name_ok(""));
    assert_false(repo_role_name_ok("root"));
    assert_false(repo_role_name_ok("targets"));
    assert_false(repo_role_name_ok("../x"));
    assert_false(repo_role_name_ok("a/b"));
    assert_false(repo_role_name_ok(".hidden"));
    assert_false(repo_role_name_ok("-x"));
    assert_false(repo_role_name_ok("a b"));
    assert_false(repo_role_name_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 65 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_meta_parse),
        cmocka_unit_test_setup_teardown(test_txn_journal_refused, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_txn_commit_and_rollback, ts_setup, ts_teardown),
        cmocka_unit_test(test_role_threshold),
        cmocka_unit_test_setup_teardown(test_count_signatures, ts_setup, ts_teardown),
        cmocka_unit_test(test_role_names),
        cmocka_unit_test(test_canonical),
        cmocka_unit_test_setup_teardown(test_tuf_keys, ts_setup, ts_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
