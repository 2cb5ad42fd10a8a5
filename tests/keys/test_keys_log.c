/*
 * Signing log (src/keys): entry encoding, tree heads, the SQLite log with its
 * checks against truncation, edits and forged heads, proofs, audit; and
 * boot-key certificate issuing checked by the verifier core.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "scratch.h"

#include "keys/keys_priv.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[256];
static char g_logkey[300], g_otherkey[300], g_db[300];
static const struct fwt_key_opts k_ko = {NULL, NULL, NULL};
static fwt_privkey *g_key; /* the log key, as the operator names it */
static fwt_pubkey *g_pub;  /* its public half: the pinned key */

static int setup(void **state)
{
    (void)state;
    if (ts_mkscratch(g_dir, sizeof(g_dir), "keys-test") != 0) {
        return -1;
    }
    snprintf(g_logkey, sizeof(g_logkey), "%s/log.pem", g_dir);
    snprintf(g_otherkey, sizeof(g_otherkey), "%s/other.pem", g_dir);
    if (fwt_keygen_file(FWT_KEY_ED25519, g_logkey, NULL) != FWT_OK ||
        fwt_keygen_file(FWT_KEY_ECDSA_P256, g_otherkey, NULL) != FWT_OK ||
        fwt_privkey_load(g_logkey, &k_ko, &g_key) != FWT_OK ||
        fwt_privkey_public(g_key, &g_pub) != FWT_OK) {
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fwt_privkey_free(g_key);
    fwt_pubkey_free(g_pub);
    return ts_rmrf(g_dir);
}

/* A fresh log per test. */
static int new_log(void **state)
{
    (void)state;
    static int n;
    snprintf(g_db, sizeof(g_db), "%s/log%d.db", g_dir, n++);
    return fwt_signlog_create(g_db, g_logkey, &k_ko) == FWT_OK ? 0 : -1;
}

static struct fwt_signlog_record make_rec(uint8_t tag, const char *hw, uint8_t major,
                                          uint32_t counter, uint64_t time)
{
    struct fwt_signlog_record r;
    memset(&r, 0, sizeof(r));
    memset(r.digest, tag, 32);
    r.digest_len = 32;
    r.version.major = major;
    r.version.minor = 2;
    r.version.revision = 3;
    r.version.build = 4;
    r.has_security_counter = 1;
    r.security_counter = counter;
    memset(r.keyhash, 0xab, 32);
    r.hw_id_len = strlen(hw);
    memcpy(r.hw_id, hw, r.hw_id_len);
    snprintf(r.signer, sizeof(r.signer), "alice@build-%u", tag);
    r.time = time;
    return r;
}

static void exec_sql(const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(g_db, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        print_error("%s: %s\n", sql, msg);
    }
    assert_int_equal(rc, SQLITE_OK);
    sqlite3_close(db);
}

static fwt_signlog *append_n(int n)
{
    fwt_signlog *log = NULL;
    assert_int_equal(fwt_signlog_open(g_db, 1, &log), FWT_OK);
    for (int i = 0; i < n; i++) {
        struct fwt_signlog_record r = make_rec((uint8_t)(i + 1), "board", (uint8_t)(i + 1),
                                               (uint32_t)i, 1700000000u + (uint64_t)i);
        uint64_t idx = 99;
        assert_int_equal(fwt_signlog_append(log, &r, g_key, &idx), FWT_OK);
        assert_int_equal(idx, (uint64_t)i);
    }
    return log;
}

static fwt_err verify_log(const struct fwt_signlog_sth *earlier)
{
    fwt_signlog *log = NULL;
    assert_int_equal(fwt_signlog_open(g_db, 0, &log), FWT_OK);
    fwt_err e = fwt_signlog_verify(log, g_pub, earlier, NULL);
    fwt_signlog_close(log);
    return e;
}

/* ---- entries ---- */

static void test_record(void **state)
{
    (void)state;
    struct fwt_signlog_record r = make_rec(7, "lego-primehub", 4, 0x04000000u, 1700000000u), back;
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(fwt_signlog_record_encode(&r, &text, &len), FWT_OK);
    assert_non_null(strstr(text, "\"version\":\"4.2.3+4\""));
    assert_non_null(strstr(text, "\"hw_id\":\"6c65676f2d7072696d65687562\""));
    assert_int_equal(fwt_signlog_record_parse((const uint8_t *)text, len, &back), FWT_OK);
    assert_memory_equal(&r, &back, sizeof(r));
    /* Not canonical: whitespace, upper-case hex, reordered keys, extra or missing fields. */
    char bad[2048];
    snprintf(bad, sizeof(bad), "%s ", text);
    assert_int_equal(fwt_signlog_record_parse((const uint8_t *)bad, strlen(bad), &back),
                     FWT_E_MALFORMED);
    snprintf(bad, sizeof(bad), "%s", text);
    char *d = strstr(bad, "0707");
    d[0] = 'A';
    assert_int_equal(fwt_signlog_record_parse((const uint8_t *)bad, strlen(bad), &back),
                     FWT_E_MALFORMED);
    snprintf(bad, sizeof(bad), "{\"x\":1,%s", text + 1);
    assert_int_equal(fwt_signlog_record_parse((const uint8_t *)bad, strlen(bad), &back),
                     FWT_E_MALFORMED);
    snprintf(bad, sizeof(bad), "{\"digest\":\"00\",%s", text + 1); /* duplicate key */
    assert_int_equal(fwt_signlog_record_parse((const uint8_t *)bad, strlen(bad), &back),
                     FWT_E_MALFORMED);
    const char *v = strstr(text, "\"version\"");
    snprintf(bad, sizeof(bad), "%.*s\"version\":\"4.2.3\"}", (int)(v - text), text);
    assert_int_equal(fwt_signlog_record_parse((const uint8_t *)bad, strlen(bad), &back),
                     FWT_E_MALFORMED);
    assert_int_equal(fwt_signlog_record_parse((const uint8_t *)"[]", 2, &back), FWT_E_MALFORMED);
    free(text);
    /* No security counter, no hardware id; signer must be printable. */
    r.has_security_counter = 0;
    r.hw_id_len = 0;
    assert_int_equal(fwt_signlog_record_encode(&r, &text, &len), FWT_OK);
    assert_non_null(strstr(text, "\"security_counter\":null"));
    assert_int_equal(fwt_signlog_record_parse((const uint8_t *)text, len, &back), FWT_OK);
    assert_int_equal(back.has_security_counter, 0);
    free(text);
    strcpy(r.signer, "eve\"");
    assert_int_equal(fwt_signlog_record_encode(&r, &text, &len), FWT_E_ARG);
    r.signer[0] = '\0';
    assert_int_equal(fwt_signlog_record_encode(&r, &text, &len), FWT_E_ARG);
    strcpy(r.signer, "bob");
    r.digest_len = 20;
    assert_int_equal(fwt_signlog_record_encode(&r, &text, &len), FWT_E_ARG);
}

/* ---- the log ---- */

static void test_log_basic(void **state)
{
    (void)state;
    assert_int_equal(fwt_signlog_create(g_db, g_logkey, &k_ko), FWT_E_ARG); /* exists */
    fwt_signlog *log = append_n(9);
    uint64_t n = 0, n_sths = 0;
    assert_int_equal(fwt_signlog_size(log, &n), FWT_OK);
    assert_int_equal(n, 9);
    assert_int_equal(fwt_signlog_verify(log, g_pub, NULL, &n_sths), FWT_OK);
    assert_int_equal(n_sths, 10); /* the empty tree's and one per append */
    struct fwt_signlog_sth head, old, back;
    assert_int_equal(fwt_signlog_latest_sth(log, &head), FWT_OK);
    assert_int_equal(head.tree_size, 9);
    fwt_pubkey *pub = NULL;
    assert_int_equal(fwt_signlog_pubkey(log, &pub), FWT_OK);
    assert_int_equal(fwt_signlog_sth_verify(&head, pub), FWT_OK);
    char *js = NULL;
    assert_int_equal(fwt_signlog_sth_to_json(&head, &js), FWT_OK);
    assert_int_equal(fwt_signlog_sth_from_json(js, strlen(js), &back), FWT_OK);
    assert_memory_equal(&head, &back, sizeof(head));
    free(js);
    /* A tree head is bound to its size, time and root by the signature. */
    back.tree_size = 8;
    assert_int_equal(fwt_signlog_sth_verify(&back, pub), FWT_E_SIGNATURE);
    back = head;
    back.timestamp++;
    assert_int_equal(fwt_signlog_sth_verify(&back, pub), FWT_E_SIGNATURE);
    back = head;
    back.root[0] ^= 1;
    assert_int_equal(fwt_signlog_sth_verify(&back, pub), FWT_E_SIGNATURE);
    /* Every entry's inclusion proof checks, through JSON. */
    for (uint64_t i = 0; i < 9; i++) {
        struct fwt_signlog_proof p, q;
        assert_int_equal(fwt_signlog_prove(log, i, 0, &p), FWT_OK);
        assert_int_equal(fwt_signlog_proof_to_json(&p, &js), FWT_OK);
        assert_int_equal(fwt_signlog_proof_from_json(js, strlen(js), &q), FWT_OK);
        free(js);
        assert_int_equal(fwt_signlog_proof_check(&q, &head), FWT_OK);
        /* Wrong proofs: another index, a changed hash, a changed entry, another head. */
        q.index = (i + 1) % 9;
        assert_int_equal(fwt_signlog_proof_check(&q, &head), FWT_E_DIGEST);
        q.index = i;
        if (q.path_len) {
            q.path[0][5] ^= 0x10;
            assert_int_equal(fwt_signlog_proof_check(&q, &head), FWT_E_DIGEST);
            q.path[0][5] ^= 0x10;
        }
        char *at = strstr(q.entry, "alice");
        at[0] = 'A';
        assert_int_equal(fwt_signlog_proof_check(&q, &head), FWT_E_DIGEST);
        at[0] = 'a';
        assert_int_equal(fwt_signlog_sth_at(log, 8, &old), FWT_OK);
        assert_int_not_equal(fwt_signlog_proof_check(&q, &old), FWT_OK);
        fwt_signlog_proof_free(&p);
        fwt_signlog_proof_free(&q);
    }
    /* Consistency from every earlier head to the newest one. */
    for (uint64_t m = 0; m <= 9; m++) {
        struct fwt_signlog_consistency c, d;
        assert_int_equal(fwt_signlog_sth_at(log, m, &old), FWT_OK);
        assert_int_equal(fwt_signlog_prove_consistency(log, m, 9, &c), FWT_OK);
        assert_int_equal(fwt_signlog_consistency_to_json(&c, &js), FWT_OK);
        assert_int_equal(fwt_signlog_consistency_from_json(js, strlen(js), &d), FWT_OK);
        free(js);
        assert_int_equal(fwt_signlog_consistency_check(&d, &old, &head), FWT_OK);
        if (m > 0 && m < 9) {
            d.path[0][0] ^= 1;
            assert_int_not_equal(fwt_signlog_consistency_check(&d, &old, &head), FWT_OK);
        }
        assert_int_equal(verify_log(&old), FWT_OK);
    }
    struct fwt_signlog_proof p;
    assert_int_equal(fwt_signlog_prove(log, 9, 0, &p), FWT_E_NOT_FOUND);
    fwt_pubkey_free(pub);
    fwt_signlog_close(log);
}

static void test_log_edited_entry(void **state)
{
    (void)state;
    fwt_signlog *log = append_n(4);
    fwt_signlog_close(log);
    assert_int_equal(verify_log(NULL), FWT_OK);
    /* Edit the text only: the leaf hash no longer matches. */
    exec_sql("UPDATE entries SET entry = replace(entry, 'alice', 'mallory') WHERE idx = 2");
    assert_int_equal(verify_log(NULL), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "entry 2 was edited"));
    /* Appending to it is refused and changes nothing. */
    assert_int_equal(fwt_signlog_open(g_db, 1, &log), FWT_OK);
    struct fwt_signlog_record r = make_rec(9, "board", 9, 9, 1700000100u);
    assert_int_equal(fwt_signlog_append(log, &r, g_key, NULL), FWT_E_STATE);
    uint64_t n = 0;
    assert_int_equal(fwt_signlog_size(log, &n), FWT_OK);
    assert_int_equal(n, 4);
    fwt_signlog_close(log);
}

static void test_log_rehashed_entry(void **state)
{
    (void)state;
    fwt_signlog *log = append_n(5);
    fwt_signlog_close(log);
    /* Edit the text and recompute its leaf hash: the signed roots expose it. */
    struct fwt_signlog_record r = make_rec(3, "board", 1, 2, 1700000002u);
    char *text = NULL;
    size_t len = 0;
    uint8_t leaf[32];
    char sql[4096], hex[65];
    assert_int_equal(fwt_signlog_record_encode(&r, &text, &len), FWT_OK);
    assert_int_equal(fwt_merkle_leaf_hash((const uint8_t *)text, len, leaf), FWT_OK);
    fwt_hex_encode(leaf, 32, hex);
    snprintf(sql, sizeof(sql), "UPDATE entries SET entry = CAST('%s' AS BLOB), leaf_hash = X'%s' "
             "WHERE idx = 2", text, hex);
    free(text);
    exec_sql(sql);
    assert_int_equal(verify_log(NULL), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "does not match the entries"));
}

static void test_log_truncated(void **state)
{
    (void)state;
    fwt_signlog *log = append_n(6);
    struct fwt_signlog_sth kept;
    assert_int_equal(fwt_signlog_latest_sth(log, &kept), FWT_OK);
    fwt_signlog_close(log);
    exec_sql("DELETE FROM entries WHERE idx = 5");
    assert_int_equal(verify_log(NULL), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "truncated"));
    /* Dropping the newest head too hides it from the log itself, not from a
     * tree head kept elsewhere. */
    exec_sql("DELETE FROM sths WHERE tree_size = 6");
    assert_int_equal(verify_log(NULL), FWT_OK);
    assert_int_equal(verify_log(&kept), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "truncated"));
    /* A gap in the middle. */
    exec_sql("DELETE FROM entries WHERE idx = 1");
    assert_int_equal(verify_log(NULL), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "entry 1 is missing"));
}

/* fwt_signlog_consistency_since: what `fwtrust log consistency` hands out. */
static void test_consistency_since(void **state)
{
    (void)state;
    fwt_signlog *log = append_n(6);
    struct fwt_signlog_sth old, head, bad;
    struct fwt_signlog_consistency c;
    assert_int_equal(fwt_signlog_sth_at(log, 3, &old), FWT_OK);
    assert_int_equal(fwt_signlog_latest_sth(log, &head), FWT_OK);
    assert_int_equal(fwt_signlog_consistency_since(log, g_pub, &old, "kept.json", "log.db", &c),
                     FWT_OK);
    assert_int_equal(c.from, 3);
    assert_int_equal(c.to, 6);
    assert_int_equal(fwt_signlog_consistency_check(&c, &old, &head), FWT_OK);
    /* A kept head that is not the log key's is refused, naming it. */
    bad = old;
    bad.root[0] ^= 1;
    assert_int_equal(fwt_signlog_consistency_since(log, g_pub, &bad, "kept.json", "log.db", &c),
                     FWT_E_SIGNATURE);
    assert_non_null(strstr(fwt_detail(), "kept.json: "));
    /* A log that lost entries since the kept head: it shrank. */
    fwt_signlog_close(log);
    exec_sql("DELETE FROM entries WHERE idx >= 4");
    exec_sql("DELETE FROM sths WHERE tree_size > 4");
    assert_int_equal(fwt_signlog_open(g_db, 0, &log), FWT_OK);
    assert_int_equal(fwt_signlog_consistency_since(log, g_pub, &head, "kept.json", "log.db", &c),
                     FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "the log shrank: kept.json has 6 entries, the newest head 4"));
    /* The newest head checked against another key: named after the log. */
    fwt_privkey *other = NULL;
    fwt_pubkey *opub = NULL;
    assert_int_equal(fwt_privkey_load(g_otherkey, &k_ko, &other), FWT_OK);
    assert_int_equal(fwt_privkey_public(other, &opub), FWT_OK);
    assert_int_not_equal(fwt_signlog_consistency_since(log, opub, &old, "kept.json", "log.db", &c),
                         FWT_OK);
    assert_non_null(strstr(fwt_detail(), "kept.json: "));
    fwt_pubkey_free(opub);
    fwt_privkey_free(other);
    fwt_signlog_close(log);
}

static void test_log_unsigned_and_forged(void **state)
{
    (void)state;
    fwt_signlog *log = append_n(3);
    fwt_signlog_close(log);
    /* An entry slipped in without a tree head. */
    exec_sql("INSERT INTO entries SELECT 3, entry, leaf_hash FROM entries WHERE idx = 0");
    assert_int_equal(verify_log(NULL), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "not covered"));
    exec_sql("DELETE FROM entries WHERE idx = 3");
    assert_int_equal(verify_log(NULL), FWT_OK);
    /* A forged tree head signature. */
    exec_sql("UPDATE sths SET sig = X'00' || substr(sig, 2) WHERE tree_size = 1");
    assert_int_equal(verify_log(NULL), FWT_E_SIGNATURE);
    /* The log checked against another key than its own. */
    exec_sql("DELETE FROM sths WHERE tree_size = 1"); /* (heads may be dropped, not forged) */
    assert_int_equal(verify_log(NULL), FWT_OK);
    fwt_pubkey *other = NULL;
    assert_int_equal(fwt_pubkey_load(g_otherkey, &k_ko, &other), FWT_OK);
    assert_int_equal(fwt_signlog_open(g_db, 0, &log), FWT_OK);
    assert_int_equal(fwt_signlog_verify(log, other, NULL, NULL), FWT_E_SIGNATURE);
    fwt_signlog_close(log);
    fwt_pubkey_free(other);
    /* Swapping in another log key is noticed at open. */
    exec_sql("UPDATE meta SET value = CAST('00' AS BLOB) WHERE name = 'log_id'");
    assert_int_equal(fwt_signlog_open(g_db, 0, &log), FWT_E_STATE);
}

/* ---- audit ---- */

struct findings {
    int kinds[8];
    uint64_t last_index[8];
};

static void on_finding(void *ctx, uint64_t index, enum fwt_audit_kind kind, const char *text)
{
    struct findings *f = ctx;
    assert_true(kind >= 1 && kind <= 5);
    assert_true(strlen(text) > 10);
    f->kinds[kind]++;
    f->last_index[kind] = index;
}

static void test_audit(void **state)
{
    (void)state;
    const uint64_t day = 86400u * 20000u; /* a midnight, UTC */
    fwt_signlog *log = NULL;
    assert_int_equal(fwt_signlog_open(g_db, 1, &log), FWT_OK);
    struct fwt_signlog_record recs[] = {
        make_rec(1, "board", 1, 10, day + 9 * 3600),      /* 0: 1.2.3+4 counter 10, 09:00 */
        make_rec(1, "board", 1, 10, day + 9 * 3600 + 60), /* 1: second signer, same image */
        make_rec(2, "board", 2, 20, day + 10 * 3600),     /* 2: 2.2.3+4 */
        make_rec(3, "board", 1, 30, day + 11 * 3600),     /* 3: version down */
        make_rec(4, "board", 3, 5, day + 12 * 3600),      /* 4: counter down */
        make_rec(5, "board", 3, 40, day + 3 * 3600),      /* 5: 3.x again, other digest; 03:00 */
        make_rec(6, "other", 1, 0, day + 13 * 3600),      /* 6: other hardware: fine */
    };
    recs[6].keyhash[0] = 0x01; /* an unexpected key */
    for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
        assert_int_equal(fwt_signlog_append(log, &recs[i], g_key, NULL), FWT_OK);
    }
    struct findings f;
    memset(&f, 0, sizeof(f));
    struct fwt_audit_opts o;
    memset(&o, 0, sizeof(o));
    size_t n = 0;
    assert_int_equal(fwt_signlog_audit(log, &o, on_finding, &f, &n), FWT_OK);
    /* Without a key set or window: version down (3), counter down (4), digest conflicts (3: 1.x
     * signed before with digest 01; 5: 3.x with digest 04). */
    assert_int_equal(f.kinds[FWT_AUDIT_VERSION_DOWN], 1);
    assert_int_equal(f.last_index[FWT_AUDIT_VERSION_DOWN], 3);
    assert_int_equal(f.kinds[FWT_AUDIT_COUNTER_DOWN], 1);
    assert_int_equal(f.last_index[FWT_AUDIT_COUNTER_DOWN], 4);
    assert_int_equal(f.kinds[FWT_AUDIT_DIGEST_CONFLICT], 2);
    assert_int_equal(f.last_index[FWT_AUDIT_DIGEST_CONFLICT], 5);
    assert_int_equal(f.kinds[FWT_AUDIT_UNEXPECTED_KEY], 0);
    assert_int_equal(n, 4);
    /* Expected keys and a window. */
    uint8_t expect[1][32];
    memset(expect[0], 0xab, 32);
    o.expect_keys = (const uint8_t(*)[32])expect;
    o.n_expect_keys = 1;
    assert_int_equal(fwt_audit_window_parse("08:00-18:00", &o), FWT_OK);
    memset(&f, 0, sizeof(f));
    assert_int_equal(fwt_signlog_audit(log, &o, on_finding, &f, &n), FWT_OK);
    assert_int_equal(f.kinds[FWT_AUDIT_UNEXPECTED_KEY], 1);
    assert_int_equal(f.last_index[FWT_AUDIT_UNEXPECTED_KEY], 6);
    assert_int_equal(f.kinds[FWT_AUDIT_OUTSIDE_WINDOW], 1);
    assert_int_equal(f.last_index[FWT_AUDIT_OUTSIDE_WINDOW], 5);
    assert_int_equal(n, 6);
    /* A window across midnight: now only the daytime signatures are outside. */
    assert_int_equal(fwt_audit_window_parse("22:00-06:00", &o), FWT_OK);
    memset(&f, 0, sizeof(f));
    assert_int_equal(fwt_signlog_audit(log, &o, on_finding, &f, &n), FWT_OK);
    assert_int_equal(f.kinds[FWT_AUDIT_OUTSIDE_WINDOW], 6);
    /* Bad windows. */
    assert_int_equal(fwt_audit_window_parse("8:00-18:00", &o), FWT_E_ARG);
    assert_int_equal(fwt_audit_window_parse("08:00-08:00", &o), FWT_E_ARG);
    assert_int_equal(fwt_audit_window_parse("08:60-09:00", &o), FWT_E_ARG);
    assert_int_equal(fwt_audit_window_parse("25:00-09:00", &o), FWT_E_ARG);
    assert_int_equal(fwt_audit_window_parse("00:00-24:00", &o), FWT_E_ARG);
    assert_int_equal(fwt_audit_window_parse("18:00-24:00", &o), FWT_OK);
    fwt_signlog_close(log);
}

/* ---- certificates ---- */

static void check_cert_for(enum fwt_key_type root_type)
{
    char root_path[300], key_path[300];
    snprintf(root_path, sizeof(root_path), "%s/root-%d.pem", g_dir, (int)root_type);
    snprintf(key_path, sizeof(key_path), "%s/signer.pem", g_dir);
    if (access(root_path, F_OK) != 0) {
        assert_int_equal(fwt_keygen_file(root_type, root_path, NULL), FWT_OK);
    }
    if (access(key_path, F_OK) != 0) {
        assert_int_equal(fwt_keygen_file(FWT_KEY_ECDSA_P256, key_path, NULL), FWT_OK);
    }
    fwt_privkey *root = NULL;
    fwt_pubkey *key = NULL, *root_pub = NULL;
    assert_int_equal(fwt_privkey_load(root_path, &k_ko, &root), FWT_OK);
    assert_int_equal(fwt_privkey_public(root, &root_pub), FWT_OK);
    assert_int_equal(fwt_pubkey_load(key_path, &k_ko, &key), FWT_OK);
    struct fwt_cert_req req;
    memset(&req, 0, sizeof(req));
    req.key_version = 7;
    req.not_after = 2000000000u;
    req.hw_id = (const uint8_t *)"board-a";
    req.hw_id_len = 7;
    uint8_t cert[FWT_CERT_MAX];
    size_t len = sizeof(cert);
    assert_int_equal(fwt_cert_issue(root, key, &req, cert, &len), FWT_OK);

    uint8_t enc[FWT_PUBKEY_MAX];
    size_t el = sizeof(enc);
    assert_int_equal(fwt_pubkey_mcuboot(root_pub, enc, &el), FWT_OK);
    struct fwt_trusted_key tk = {root_type, enc, el};
    struct fwt_crypto_ops ops;
    memset(&ops, 0, sizeof(ops));
    assert_int_equal(fwt_openssl_ops_init(&ops), FWT_OK);
    struct fwt_policy pol;
    memset(&pol, 0, sizeof(pol));
    pol.roots = &tk;
    pol.n_roots = 1;
    pol.threshold = 1;
    pol.hw_id = (const uint8_t *)"board-a";
    pol.hw_id_len = 7;
    pol.min_key_version = 7;
    pol.now = 1900000000u;
    struct fwt_cert parsed;
    assert_int_equal(fwt_cert_verify(cert, len, &ops, &pol, &parsed), FWT_OK);
    assert_int_equal(parsed.key_version, 7);
    assert_int_equal(parsed.key_type, FWT_KEY_ECDSA_P256);
    /* Revoked, expired, other hardware, forged. */
    pol.min_key_version = 8;
    assert_int_equal(fwt_cert_verify(cert, len, &ops, &pol, &parsed), FWT_E_KEY_VERSION);
    pol.min_key_version = 7;
    pol.now = 2000000001u;
    assert_int_equal(fwt_cert_verify(cert, len, &ops, &pol, &parsed), FWT_E_CERT);
    pol.now = 1900000000u;
    pol.hw_id = (const uint8_t *)"board-b";
    assert_int_equal(fwt_cert_verify(cert, len, &ops, &pol, &parsed), FWT_E_CERT);
    pol.hw_id = (const uint8_t *)"board-a";
    cert[10] ^= 1; /* key version 7 -> 7 + 65536 */
    assert_int_equal(fwt_cert_verify(cert, len, &ops, &pol, &parsed), FWT_E_CERT);
    cert[10] ^= 1;
    assert_int_equal(fwt_cert_verify(cert, len, &ops, &pol, &parsed), FWT_OK);
    /* A buffer too small is refused with nothing written. */
    size_t small = 40;
    assert_int_equal(fwt_cert_issue(root, key, &req, cert, &small), FWT_E_BUFFER);
    fwt_openssl_ops_free(&ops);
    fwt_privkey_free(root);
    fwt_pubkey_free(root_pub);
    fwt_pubkey_free(key);
}

/* ---- the log never vouches for itself, never chooses code or secrets ---- */

/* Events (approvals, fleet admin actions) share the log with records: fwt_signlog_records
 * returns the records only, audit hands the events to on_event and never counts them. */
struct ev_seen {
    int n;
    uint64_t index;
};
static void on_ev(void *ctx, uint64_t index, const struct fwt_signlog_event *ev)
{
    struct ev_seen *s = ctx;
    assert_string_equal(ev->action, "cert-approval");
    s->n++;
    s->index = index;
}

static void test_records_and_events(void **state)
{
    (void)state;
    fwt_signlog *log = append_n(2);
    struct fwt_signlog_event ev;
    memset(&ev, 0, sizeof(ev));
    snprintf(ev.action, sizeof(ev.action), "cert-approval");
    snprintf(ev.actor, sizeof(ev.actor), "approver:00ff");
    snprintf(ev.subject, sizeof(ev.subject), "cert:abcd");
    ev.time = 1700000000;
    uint64_t idx = 0;
    assert_int_equal(fwt_signlog_append_event(log, &ev, g_key, &idx), FWT_OK);
    assert_int_equal(idx, 2);
    struct fwt_signlog_record r = make_rec(9, "board", 9, 100, 1700000001);
    assert_int_equal(fwt_signlog_append(log, &r, g_key, NULL), FWT_OK);
    struct ev_seen seen = {0, 0};
    struct fwt_audit_opts o;
    memset(&o, 0, sizeof(o));
    o.on_event = on_ev;
    o.event_ctx = &seen;
    size_t findings = 9;
    assert_int_equal(fwt_signlog_audit(log, &o, NULL, NULL, &findings), FWT_OK);
    assert_int_equal(findings, 0);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.index, 2);
    fwt_signlog_close(log);
    struct fwt_signlog_record *v = NULL;
    size_t n = 0;
    assert_int_equal(fwt_signlog_records(g_db, g_pub, &v, &n), FWT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(v[2].digest[0], r.digest[0]);
    free(v);
}

static void test_log_trust(void **state)
{
    (void)state;
    fwt_signlog *log = append_n(2);
    fwt_signlog_close(log);
    /* No key given: fail closed (the stored key would vouch for a rebuilt log). */
    assert_int_equal(fwt_signlog_open(g_db, 0, &log), FWT_OK);
    assert_int_equal(fwt_signlog_verify(log, NULL, NULL, NULL), FWT_E_NO_TRUST);
    fwt_signlog_close(log);
    /* Appending needs the operator's log key: none, or another, is refused. */
    fwt_privkey *other = NULL;
    assert_int_equal(fwt_privkey_load(g_otherkey, &k_ko, &other), FWT_OK);
    assert_int_equal(fwt_signlog_open(g_db, 1, &log), FWT_OK);
    struct fwt_signlog_record r = make_rec(9, "board", 9, 9, 1700000100u);
    assert_int_equal(fwt_signlog_append(log, &r, NULL, NULL), FWT_E_KEY);
    assert_int_equal(fwt_signlog_append(log, &r, other, NULL), FWT_E_KEY);
    fwt_signlog_close(log);
    fwt_privkey_free(other);
    /* A stored key URI naming a module or a PIN file: writable opens refuse the log. */
    static const char *const bad[] = {
        "UPDATE meta SET value = CAST('pkcs11:token=t;object=k?module-path=/tmp/x.so' AS BLOB) "
        "WHERE name = 'key_spec'",
        "UPDATE meta SET value = CAST('pkcs11:token=t;object=k?module-name=softhsm2' AS BLOB) "
        "WHERE name = 'key_spec'",
        "UPDATE meta SET value = CAST('pkcs11:token=t;object=k?pin-source=/tmp/pin' AS BLOB) "
        "WHERE name = 'key_spec'",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        exec_sql(bad[i]);
        assert_int_equal(fwt_signlog_open(g_db, 1, &log), FWT_E_STATE);
        assert_non_null(strstr(fwt_detail(), "names code or a secret"));
        assert_int_equal(fwt_signlog_open(g_db, 0, &log), FWT_OK); /* reading is harmless */
        fwt_signlog_close(log);
    }
    exec_sql("UPDATE meta SET value = CAST('pkcs11:token=t;object=k' AS BLOB) "
             "WHERE name = 'key_spec'");
    assert_int_equal(fwt_signlog_open(g_db, 1, &log), FWT_OK);
    fwt_signlog_close(log);
    /* Creating a log with such a URI is refused before any module is loaded. */
    char db2[320];
    snprintf(db2, sizeof(db2), "%s.uri", g_db);
    assert_int_equal(fwt_signlog_create(db2, "pkcs11:token=t;object=k?module-path=/nonexistent.so",
                                        &k_ko),
                     FWT_E_ARG);
    assert_int_equal(access(db2, F_OK), -1);
}

static void test_pin(void **state)
{
    (void)state;
    char dir[320], *file = NULL;
    snprintf(dir, sizeof(dir), "%s/pins", g_dir);
    assert_int_equal(setenv("FWTRUST_SIGNLOG_PINS", dir, 1), 0);
    struct fwt_signlog_pin pin;
    assert_int_equal(fwt_signlog_pin_load(g_db, &pin), FWT_E_NOT_FOUND);
    assert_int_equal(fwt_signlog_pin_save(g_db, g_pub, g_logkey, 0), FWT_OK);
    assert_int_equal(fwt_signlog_pin_load(g_db, &pin), FWT_OK);
    assert_non_null(pin.key_spec);
    assert_string_equal(pin.key_spec, g_logkey);
    uint8_t a[32], b[32];
    assert_int_equal(fwt_pubkey_keyhash(pin.pub, a), FWT_OK);
    assert_int_equal(fwt_pubkey_keyhash(g_pub, b), FWT_OK);
    assert_memory_equal(a, b, 32);
    fwt_signlog_pin_free(&pin);
    /* Another key is not pinned over it, unless replacing. */
    fwt_pubkey *other = NULL;
    assert_int_equal(fwt_pubkey_load(g_otherkey, &k_ko, &other), FWT_OK);
    assert_int_equal(fwt_signlog_pin_save(g_db, other, NULL, 0), FWT_E_KEY);
    assert_int_equal(fwt_signlog_pin_save(g_db, g_pub, NULL, 0), FWT_OK); /* same key: kept */
    assert_int_equal(fwt_signlog_pin_load(g_db, &pin), FWT_OK);
    assert_non_null(pin.key_spec); /* the key spec stays */
    fwt_signlog_pin_free(&pin);
    assert_int_equal(fwt_signlog_pin_save(g_db, other, NULL, 1), FWT_OK);
    fwt_pubkey_free(other);
    /* A damaged pin file is an error, not "no pin". */
    assert_int_equal(fwt_signlog_pin_path(g_db, &file), FWT_OK);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("{\"format\":\"fwtrust-signlog-pin-1\"}", f);
    fclose(f);
    assert_int_equal(fwt_signlog_pin_load(g_db, &pin), FWT_E_STATE);
    free(file);
    /* Strict parsing: the id must be the key's hash, no unknown fields. */
    static const char *const junk[] = {
        "", "[]", "{}", "{\"format\":\"fwtrust-signlog-pin-2\",\"log\":\"/x\",\"log_id\":\"00\","
                     "\"pubkey\":\"x\"}",
    };
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        assert_int_not_equal(fwt_signlog_pin_parse(junk[i], strlen(junk[i]), &pin), FWT_OK);
    }
    unsetenv("FWTRUST_SIGNLOG_PINS");
}

static void test_cert_ed25519(void **state)
{
    (void)state;
    check_cert_for(FWT_KEY_ED25519);
}

static void test_cert_p256(void **state)
{
    (void)state;
    check_cert_for(FWT_KEY_ECDSA_P256);
}

static void test_cert_p384(void **state)
{
    (void)state;
    check_cert_for(FWT_KEY_ECDSA_P384);
}

static void test_cert_rsa(void **state)
{
    (void)state;
    check_cert_for(FWT_KEY_RSA2048);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record),
        cmocka_unit_test_setup(test_log_basic, new_log),
        cmocka_unit_test_setup(test_log_edited_entry, new_log),
        cmocka_unit_test_setup(test_log_rehashed_entry, new_log),
        cmocka_unit_test_setup(test_log_truncated, new_log),
        cmocka_unit_test_setup(test_consistency_since, new_log),
        cmocka_unit_test_setup(test_log_unsigned_and_forged, new_log),
        cmocka_unit_test_setup(test_audit, new_log),
        cmocka_unit_test_setup(test_records_and_events, new_log),
        cmocka_unit_test_setup(test_log_trust, new_log),
        cmocka_unit_test_setup(test_pin, new_log),
        cmocka_unit_test(test_cert_ed25519),
        cmocka_unit_test(test_cert_p256),
        cmocka_unit_test(test_cert_p384),
        cmocka_unit_test(test_cert_rsa),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
