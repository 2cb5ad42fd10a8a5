/*
 * TUF client library tests: the spec's attacks, one test each, and the
 * threshold / root chain / persistence rules. Repositories are written in C
 * (trepo.c) and served as file:// URLs; the client runs at a fixed time.
 * Every failing case also checks that the client's metadata directory is
 * byte-for-byte unchanged (metadata that failed verification is never persisted).
 */
#define FWTRUST_INTERNAL 1
#include "trepo.h"
#include "tuf/client_internal.h"
#include "tuf/tuf_meta.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define SAVE(r, h) \
    char h[65];    \
    tr_snapshot_dir((r)->mdir, h)
#define UNCHANGED(r, h)                   \
    do {                                  \
        char h2_[65];                     \
        tr_snapshot_dir((r)->mdir, h2_);  \
        assert_string_equal(h, h2_);      \
    } while (0)
#define EXPECT(err, call)                                                                  \
    do {                                                                                   \
        fwt_err e_ = (call);                                                               \
        if (e_ != (err)) {                                                                 \
            fprintf(stderr, "got %s (%s), want %s\n", fwt_err_name(e_), fwt_detail(),      \
                    fwt_err_name(err));                                                    \
        }                                                                                  \
        assert_int_equal(e_, (err));                                                       \
    } while (0)

static void path_of(const struct trepo *r, const char *file, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", r->mdir, file);
}

static int64_t role_version_on_disk(const struct trepo *r, const char *role)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s.json", r->mdir, role);
    size_t len = 0;
    uint8_t *b = tr_read(p, &len);
    if (!b) {
        return 0;
    }
    json_t *j = json_loadb((const char *)b, len, 0, NULL);
    free(b);
    int64_t v = json_integer_value(json_object_get(json_object_get(j, "signed"), "version"));
    json_decref(j);
    return v;
}

static void assert_same_file(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    uint8_t *x = tr_read(a, &la), *y = tr_read(b, &lb);
    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal(la, lb);
    assert_memory_equal(x, y, la);
    free(x);
    free(y);
}

/* Re-sign and serve a file with the given signed object (attacker or test edits). */
static void serve(struct trepo *r, const char *name, const json_t *signed_, const int *keys, int n)
{
    size_t len;
    uint8_t *b = tr_sign(r, signed_, keys, n, &len);
    tr_write(r, name, b, len);
    free(b);
}

/* ---- Basics ---- */

static void run_basic(int consistent)
{
    struct trepo r;
    tr_setup(&r, consistent);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    char a[1024], b[1024];
    /* stored: the exact bytes served, unversioned names */
    path_of(&r, "timestamp.json", a, sizeof(a));
    snprintf(b, sizeof(b), "%s/timestamp.json", r.meta);
    assert_same_file(a, b);
    path_of(&r, "snapshot.json", a, sizeof(a));
    snprintf(b, sizeof(b), "%s/1.snapshot.json", r.meta);
    assert_same_file(a, b);
    path_of(&r, "targets.json", a, sizeof(a));
    snprintf(b, sizeof(b), "%s/1.targets.json", r.meta);
    assert_same_file(a, b);
    /* download */
    char out[1024];
    snprintf(out, sizeof(out), "%s/a.out", r.dir);
    EXPECT(FWT_OK, tr_download(&r, "a.bin", out));
    size_t len;
    uint8_t *got = tr_read(out, &len);
    assert_non_null(got);
    assert_int_equal(len, 14);
    assert_memory_equal(got, "hello, device\n", 14);
    free(got);
    /* second refresh: nothing new, still fine */
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    /* unknown target */
    EXPECT(FWT_E_NOT_FOUND, tr_download(&r, "nope.bin", out));
    tr_free(&r);
}

static void test_basic_consistent(void **state)
{
    (void)state;
    run_basic(1);
}

static void test_basic_plain(void **state)
{
    (void)state;
    run_basic(0);
}

/* Key types: ECDSA P-256 and RSA-PSS keys sign snapshot and timestamp. */
static void test_key_types(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    int e[1] = {TK_ECDSA}, rs[1] = {TK_RSA};
    tr_root_set_keys(&r, "snapshot", e, 1, 1);
    tr_root_set_keys(&r, "timestamp", rs, 1, 1);
    tr_publish_root(&r, NULL, 0);
    tr_publish(&r);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "timestamp"), 2);
    tr_free(&r);
}

/* ---- Attacks (tuf-spec.md "Goals to protect against specific attacks") ---- */

/* Arbitrary installation: the attacker serves other bytes, or metadata signed by its own key. */
static void test_attack_arbitrary_installation(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 0);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    tr_write_target(&r, "a.bin", "HELLO, DEVICE\n", 14); /* same length, other bytes */
    char out[1024];
    snprintf(out, sizeof(out), "%s/a.out", r.dir);
    EXPECT(FWT_E_META_MISMATCH, tr_download(&r, "a.bin", out));
    assert_int_equal(access(out, F_OK), -1); /* nothing committed */
    /* streaming API: the error comes back, the caller saw unverified bytes only */
    fwt_tuf_client *c = NULL;
    EXPECT(FWT_OK, tr_client(&r, 0, &c));
    struct fwt_tuf_target t;
    EXPECT(FWT_OK, fwt_tuf_get_target(c, "a.bin", &t));
    assert_int_equal(t.length, 14);
    assert_string_equal(t.custom_json, "{\"role\":\"targets\"}");
    fwt_tuf_client_free(c);

    /* targets metadata with an extra target, signed by a key root does not trust */
    SAVE(&r, before);
    json_t *tg = json_deep_copy(json_object_get(r.md, "targets"));
    json_object_set_new(tg, "version", json_integer(2));
    json_object_set_new(json_object_get(tg, "targets"), "evil.bin",
                        json_pack("{s:i, s:{s:s}}", "length", 4, "hashes", "sha256",
                                  "0000000000000000000000000000000000000000000000000000000000000000"));
    int evil[1] = {9};
    tr_bump(&r, "targets");
    tr_publish(&r);
    serve(&r, "targets.json", tg, evil, 1);
    EXPECT(FWT_E_META_SIG, tr_refresh(&r, 0));
    json_decref(tg);
    /* the new timestamp and snapshot verified and were kept; targets was not */
    assert_int_equal(role_version_on_disk(&r, "targets"), 1);
    (void)before;
    tr_free(&r);
}

/* Endless data: every download has a cap; a longer body is aborted. */
static void test_attack_endless_data(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 0);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    SAVE(&r, before);
    /* timestamp of 100 kB (cap 16384) */
    size_t big = 100000;
    char *pad = malloc(big);
    memset(pad, ' ', big);
    pad[0] = '{';
    pad[big - 1] = '}';
    tr_write(&r, "timestamp.json", pad, big);
    EXPECT(FWT_E_TOO_LARGE, tr_refresh(&r, 0));
    UNCHANGED(&r, before);
    /* snapshot longer than the length the timestamp gives */
    r.meta_hashes = 1;
    tr_publish(&r);
    char p[1024];
    snprintf(p, sizeof(p), "%s/snapshot.json", r.meta);
    size_t len;
    uint8_t *s = tr_read(p, &len);
    uint8_t *longer = malloc(len + 10);
    memcpy(longer, s, len);
    memset(longer + len, '\n', 10);
    tr_write(&r, "snapshot.json", longer, len + 10);
    EXPECT(FWT_E_TOO_LARGE, tr_refresh(&r, 0));
    tr_write(&r, "snapshot.json", s, len);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    /* a target file longer than its length */
    tr_write_target(&r, "a.bin", pad, big);
    char out[1024];
    snprintf(out, sizeof(out), "%s/a.out", r.dir);
    EXPECT(FWT_E_TOO_LARGE, tr_download(&r, "a.bin", out));
    assert_int_equal(access(out, F_OK), -1);
    free(s);
    free(longer);
    free(pad);
    tr_free(&r);
}

/* Fast-forward: a compromised timestamp key pushed version 1000; after the repository
 * rotates that key, the client recovers (the old local timestamp no longer verifies). */
static void test_attack_fast_forward_recovery(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    json_t *ts = json_object_get(r.md, "timestamp");
    json_object_set_new(ts, "version", json_integer(999));
    tr_publish_timestamp(&r); /* v1000, signed with the (compromised) timestamp key */
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "timestamp"), 1000);
    /* the repository publishes version 2 with the old key: a rollback for this client */
    json_object_set_new(ts, "version", json_integer(1));
    tr_publish_timestamp(&r);
    SAVE(&r, before);
    EXPECT(FWT_E_META_ROLLBACK, tr_refresh(&r, 0));
    UNCHANGED(&r, before);
    /* recovery: new timestamp key in root v2; timestamp v2 is accepted */
    int k[1] = {5};
    tr_root_set_keys(&r, "timestamp", k, 1, 1);
    tr_publish_root(&r, NULL, 0);
    json_object_set_new(ts, "version", json_integer(1));
    tr_publish_timestamp(&r);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "timestamp"), 2);
    assert_int_equal(role_version_on_disk(&r, "root"), 2);
    tr_free(&r);
}

/* Fast-forward recovery when the refresh that brings the rotated root fails later in the
 * chain (here a malformed next root; an expired final root is the same): root v2 is
 * persisted, so the next refresh starts from it and sees no rotation. The fast-forwarded
 * timestamp (still valid: the old key stays in the new key set) must already be gone. */
static void test_attack_fast_forward_recovery_interrupted(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    json_t *ts = json_object_get(r.md, "timestamp");
    json_object_set_new(ts, "version", json_integer(999));
    tr_publish_timestamp(&r); /* v1000 */
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "timestamp"), 1000);
    int k[2] = {3, 5};
    tr_root_set_keys(&r, "timestamp", k, 2, 1);
    tr_publish_root(&r, NULL, 0); /* v2: timestamp keys changed */
    tr_write(&r, "3.root.json", "not a root", 10);
    json_object_set_new(ts, "version", json_integer(1));
    tr_publish_timestamp(&r); /* v2 */
    EXPECT(FWT_E_META, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "root"), 2);
    assert_int_equal(role_version_on_disk(&r, "timestamp"), 0); /* deleted (5.3.11) */
    char p[1100];
    snprintf(p, sizeof(p), "%s/3.root.json", r.meta);
    unlink(p);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "timestamp"), 2);
    tr_free(&r);
}

/* Fast-forward of the snapshot version (timestamp and snapshot keys compromised); the
 * repository rotates the snapshot key only: the client drops its trusted timestamp and
 * snapshot (5.3.11) and accepts the recovered, lower snapshot version. */
static void test_attack_fast_forward_snapshot_recovery(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    json_object_set_new(json_object_get(r.md, "snapshot"), "version", json_integer(998));
    tr_publish(&r); /* snapshot 999 */
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "snapshot"), 999);
    int k[1] = {6};
    tr_root_set_keys(&r, "snapshot", k, 1, 1);
    tr_publish_root(&r, NULL, 0);
    json_object_set_new(json_object_get(r.md, "snapshot"), "version", json_integer(1));
    tr_publish(&r); /* snapshot 2, signed by the new key; timestamp continues */
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "snapshot"), 2);
    tr_free(&r);
}

/* Local files are verified like downloaded ones: a local timestamp not signed by the
 * trusted timestamp key is not used (its version does not block the real one). */
static void test_local_metadata_reverified(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    json_t *bogus = json_deep_copy(json_object_get(r.md, "timestamp"));
    json_object_set_new(bogus, "version", json_integer(1000));
    int wrong[1] = {9};
    size_t len;
    uint8_t *b = tr_sign(&r, bogus, wrong, 1, &len);
    char p[1024];
    path_of(&r, "timestamp.json", p, sizeof(p));
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
    free(b);
    json_decref(bogus);
    tr_publish_timestamp(&r);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "timestamp"), 2);
    tr_free(&r);
}

static void set_expires(struct trepo *r, const char *role, time_t t)
{
    char e[21];
    fwt_tuf_time_format(t, e);
    json_object_set_new(json_object_get(r->md, role), "expires", json_string(e));
}

/* Indefinite freeze: expired metadata is refused (and not stored). */
static void test_attack_indefinite_freeze(void **state)
{
    (void)state;
    static const char *const roles[3] = {"timestamp", "snapshot", "targets"};
    for (int i = 0; i < 3; i++) {
        struct trepo r;
        tr_setup(&r, 1);
        EXPECT(FWT_OK, tr_refresh(&r, 0));
        SAVE(&r, before);
        set_expires(&r, roles[i], r.now - 60);
        if (i == 2) {
            tr_bump(&r, "targets");
        }
        tr_publish(&r);
        fwt_tuf_client *c = NULL;
        EXPECT(FWT_OK, tr_client(&r, 0, &c));
        EXPECT(FWT_E_META_EXPIRED, fwt_tuf_refresh(c));
        fwt_tuf_client_free(c);
        assert_int_equal(role_version_on_disk(&r, roles[i]), 1);
        if (i == 0) {
            UNCHANGED(&r, before);
        }
        tr_free(&r);
    }
    /* root: the expired root is persisted (5.3.8) but the update stops (5.3.10) */
    struct trepo r;
    tr_setup(&r, 1);
    set_expires(&r, "root", r.now - 60);
    tr_publish_root(&r, NULL, 0);
    EXPECT(FWT_E_META_EXPIRED, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "root"), 2);
    assert_int_equal(role_version_on_disk(&r, "timestamp"), 0);
    tr_free(&r);
}

/* Time floor: a clock set back cannot revive metadata that had expired. */
static void test_time_floor(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    EXPECT(FWT_OK, tr_refresh(&r, 0)); /* floor = now */
    char p[1024];
    path_of(&r, "time-floor", p, sizeof(p));
    size_t len;
    uint8_t *b = tr_read(p, &len);
    assert_non_null(b);
    assert_int_equal(strtoll((const char *)b, NULL, 10), (long long)r.now);
    free(b);
    /* a timestamp that expired an hour ago; the device clock now says two days ago */
    set_expires(&r, "timestamp", r.now - 3600);
    tr_publish(&r);
    SAVE(&r, before);
    EXPECT(FWT_E_META_EXPIRED, tr_refresh(&r, r.now - 2 * 86400));
    UNCHANGED(&r, before);
    /* without the floor the rolled-back clock would accept it (the check is what refuses) */
    struct fwt_tuf_client_opts o = {0};
    o.metadata_dir = r.mdir;
    o.metadata_url = r.murl;
    o.fixed_now = r.now - 2 * 86400;
    o.no_time_floor = 1;
    fwt_tuf_client *c = NULL;
    EXPECT(FWT_OK, fwt_tuf_client_open(&o, &c));
    EXPECT(FWT_OK, fwt_tuf_refresh(c));
    fwt_tuf_client_free(c);
    /* the floor never moves back */
    b = tr_read(p, &len);
    assert_int_equal(strtoll((const char *)b, NULL, 10), (long long)r.now);
    free(b);
    /* a corrupt floor is an error, not "no floor" */
    tr_write(&r, "../client/time-floor", "garbage\n", 8);
    EXPECT(FWT_E_STATE, tr_refresh(&r, 0));
    tr_free(&r);
}

/* Malicious mirror: a mirror serving bad metadata cannot stop an update from a good one. */
static void test_attack_malicious_mirror(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    /* the mirror: a copy of the metadata with a broken timestamp signature */
    char mirror[700], cmd[2048];
    snprintf(mirror, sizeof(mirror), "%s/mirror", r.dir);
    tr_bump(&r, "targets");
    tr_publish(&r);
    snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", r.meta, mirror);
    assert_int_equal(system(cmd), 0);
    char p[1024];
    snprintf(p, sizeof(p), "%s/timestamp.json", mirror);
    size_t len;
    uint8_t *b = tr_read(p, &len);
    char *sig = strstr((char *)b, "\"sig\": \"");
    assert_non_null(sig);
    sig[8] = sig[8] == '0' ? '1' : '0';
    FILE *f = fopen(p, "wb");
    fwrite(b, 1, len, f);
    fclose(f);
    free(b);
    SAVE(&r, before);
    struct fwt_tuf_client_opts o = {0};
    char murl[800];
    snprintf(murl, sizeof(murl), "file://%s", mirror);
    o.metadata_dir = r.mdir;
    o.metadata_url = murl;
    o.fixed_now = r.now;
    fwt_tuf_client *c = NULL;
    EXPECT(FWT_OK, fwt_tuf_client_open(&o, &c));
    EXPECT(FWT_E_META_SIG, fwt_tuf_refresh(c));
    fwt_tuf_client_free(c);
    UNCHANGED(&r, before);
    /* the good mirror still updates the client */
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "targets"), 2);
    tr_free(&r);
}

/* Mix-and-match: metadata that never existed together is refused. */
static void test_attack_mix_and_match(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    r.meta_hashes = 1;
    tr_publish(&r);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    /* snapshot v3 as published, then replaced by another validly signed v3 (hash differs) */
    tr_bump(&r, "targets");
    tr_publish(&r); /* snapshot v3, timestamp with its hash */
    json_t *other = json_deep_copy(json_object_get(r.md, "snapshot"));
    char e[21];
    fwt_tuf_time_format(r.now + 29 * 86400, e); /* same length, other content */
    json_object_set_new(other, "expires", json_string(e));
    int sk[1] = {2};
    serve(&r, "3.snapshot.json", other, sk, 1);
    json_decref(other);
    EXPECT(FWT_E_META_MISMATCH, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "snapshot"), 2); /* (the new timestamp verified and was kept) */
    /* without hashes: the version check catches an old snapshot served under the new name */
    r.meta_hashes = 0;
    tr_publish(&r); /* snapshot v4 */
    char p[1024];
    snprintf(p, sizeof(p), "%s/2.snapshot.json", r.meta);
    size_t len;
    uint8_t *old = tr_read(p, &len);
    tr_write(&r, "4.snapshot.json", old, len);
    free(old);
    EXPECT(FWT_E_META_MISMATCH, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "snapshot"), 2);
    /* targets: snapshot says v3, the server's 3.targets.json holds v2 */
    tr_bump(&r, "targets");
    tr_publish(&r);
    snprintf(p, sizeof(p), "%s/2.targets.json", r.meta);
    old = tr_read(p, &len);
    tr_write(&r, "3.targets.json", old, len);
    free(old);
    EXPECT(FWT_E_META_MISMATCH, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "targets"), 1);
    tr_free(&r);
}

/* Rollback: older timestamp, older snapshot version in a timestamp, older or dropped targets in a snapshot. */
static void test_attack_rollback(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    char p[1024];
    size_t len;
    snprintf(p, sizeof(p), "%s/timestamp.json", r.meta);
    uint8_t *ts1 = tr_read(p, &len);
    tr_bump(&r, "targets");
    tr_publish(&r);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    SAVE(&r, before);
    /* 1. the old timestamp v1 */
    tr_write(&r, "timestamp.json", ts1, len);
    free(ts1);
    EXPECT(FWT_E_META_ROLLBACK, tr_refresh(&r, 0));
    UNCHANGED(&r, before);
    /* 2. a newer timestamp naming an older snapshot */
    json_t *ts = json_object_get(r.md, "timestamp");
    json_object_set_new(json_object_get(json_object_get(ts, "meta"), "snapshot.json"), "version", json_integer(1));
    tr_publish_timestamp(&r);
    EXPECT(FWT_E_META_ROLLBACK, tr_refresh(&r, 0));
    UNCHANGED(&r, before);
    /* 3. a new snapshot listing an older targets version (the new timestamp is fine and kept) */
    json_object_set_new(json_object_get(r.md, "targets"), "version", json_integer(1));
    tr_publish(&r);
    EXPECT(FWT_E_META_ROLLBACK, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "snapshot"), 2);
    assert_int_equal(role_version_on_disk(&r, "targets"), 2);
    /* 4. a new snapshot that no longer lists a role the trusted one listed */
    json_object_set_new(json_object_get(r.md, "targets"), "version", json_integer(3));
    tr_delegate(&r, "targets", "hw-a", "[\"hw-a/*\"]", 0, 8);
    tr_publish(&r);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    int64_t sv = role_version_on_disk(&r, "snapshot");
    json_object_del(r.md, "hw-a");
    tr_publish(&r);
    EXPECT(FWT_E_META_ROLLBACK, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "snapshot"), sv);
    tr_free(&r);
}

/* Key compromise below the threshold: one of two required keys cannot sign alone. */
static void test_attack_key_compromise_below_threshold(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    int k[3] = {1, 5, 6};
    tr_root_set_keys(&r, "targets", k, 3, 2);
    tr_publish_root(&r, NULL, 0);
    tr_bump(&r, "targets");
    tr_publish(&r);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    /* the attacker holds key 5 only */
    int one[1] = {5};
    tr_bump(&r, "targets");
    tr_add_target(&r, "targets", "evil.bin", "evil");
    tr_publish(&r);
    serve(&r, "3.targets.json", json_object_get(r.md, "targets"), one, 1);
    /* the snapshot lists the new targets without hashes: the signature check decides */
    EXPECT(FWT_E_META_SIG, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "targets"), 2);
    tr_free(&r);
}

/* Wrong software installation: a delegated role only speaks for its paths; terminating stops the search. */
static void test_attack_wrong_software_delegation(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    tr_delegate(&r, "targets", "hw-a", "[\"hw-a/*\"]", 0, 8);
    tr_add_target(&r, "hw-a", "hw-a/fw.bin", "firmware a");
    tr_add_target(&r, "hw-a", "hw-b/fw.bin", "firmware for b, signed by a");
    tr_delegate(&r, "targets", "hw-b", "[\"hw-b/*\"]", 0, 9);
    tr_bump(&r, "targets");
    tr_publish(&r);
    fwt_tuf_client *c = NULL;
    EXPECT(FWT_OK, tr_client(&r, 0, &c));
    EXPECT(FWT_OK, fwt_tuf_refresh(c));
    struct fwt_tuf_target t;
    EXPECT(FWT_OK, fwt_tuf_get_target(c, "hw-a/fw.bin", &t));
    assert_string_equal(t.role, "hw-a");
    /* looked up again by the name the client returned (its own string) */
    EXPECT(FWT_OK, fwt_tuf_get_target(c, t.name, &t));
    assert_string_equal(t.name, "hw-a/fw.bin");
    assert_string_equal(t.custom_json, "{\"role\":\"hw-a\"}");
    /* hw-a lists hw-b/fw.bin but was not delegated that path; hw-b does not list it */
    EXPECT(FWT_E_NOT_FOUND, fwt_tuf_get_target(c, "hw-b/fw.bin", &t));
    /* '*' does not cross '/' */
    tr_add_target(&r, "hw-a", "hw-a/sub/x.bin", "deeper");
    tr_bump(&r, "hw-a");
    tr_publish(&r);
    fwt_tuf_client_free(c);
    EXPECT(FWT_OK, tr_client(&r, 0, &c));
    EXPECT(FWT_E_NOT_FOUND, fwt_tuf_get_target(c, "hw-a/sub/x.bin", &t));
    /* list: only what the search would deliver */
    fwt_tuf_client_free(c);
    tr_free(&r);

    /* terminating: a terminating role that does not list the target ends the search */
    tr_setup(&r, 1);
    tr_delegate(&r, "targets", "first", "[\"x/*\"]", 1, 8);
    tr_delegate(&r, "targets", "second", "[\"x/*\"]", 0, 9);
    tr_add_target(&r, "second", "x/f", "from second");
    tr_bump(&r, "targets");
    tr_publish(&r);
    EXPECT(FWT_OK, tr_client(&r, 0, &c));
    EXPECT(FWT_E_NOT_FOUND, fwt_tuf_get_target(c, "x/f", &t));
    fwt_tuf_client_free(c);
    /* the same with first non-terminating: found in second */
    json_t *roles = json_object_get(json_object_get(json_object_get(r.md, "targets"), "delegations"), "roles");
    json_object_set_new(json_array_get(roles, 0), "terminating", json_false());
    tr_bump(&r, "targets");
    tr_publish(&r);
    EXPECT(FWT_OK, tr_client(&r, 0, &c));
    EXPECT(FWT_OK, fwt_tuf_get_target(c, "x/f", &t));
    assert_string_equal(t.role, "second");
    fwt_tuf_client_free(c);
    tr_free(&r);
}

/* Delegation order: the first role in pre-order that lists a target is the one trusted. */
static void test_delegation_preorder(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    tr_delegate(&r, "targets", "a", "[\"*\"]", 0, 8);
    tr_delegate(&r, "targets", "b", "[\"*\"]", 0, 9);
    tr_delegate(&r, "a", "a1", "[\"*\"]", 0, 10);
    tr_add_target(&r, "a1", "f", "from a1");
    tr_add_target(&r, "b", "f", "from b!");
    tr_bump(&r, "targets");
    tr_publish(&r);
    fwt_tuf_client *c = NULL;
    struct fwt_tuf_target t;
    EXPECT(FWT_OK, tr_client(&r, 0, &c));
    EXPECT(FWT_OK, fwt_tuf_get_target(c, "f", &t));
    assert_string_equal(t.role, "a1"); /* depth first: a, a1 before b */
    fwt_tuf_client_free(c);
    /* stored delegated role files: percent-encoded unversioned names */
    char p[1024];
    path_of(&r, "a1.json", p, sizeof(p));
    assert_int_equal(access(p, F_OK), 0);
    tr_free(&r);
}

/* A delegated role reached through another delegator is verified against that one too. */
static void test_cached_role_reverified(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    tr_delegate(&r, "targets", "r1", "[\"x/*\"]", 0, 8);
    tr_delegate(&r, "targets", "r2", "[\"y/*\"]", 0, 9);
    tr_delegate(&r, "r1", "shared", "[\"*/*\"]", 0, 10);
    /* r2 delegates "shared" too, to another key (11): shared is signed by 10 only */
    json_t *d2 = json_pack("{s:{}, s:[{s:s, s:[s], s:i, s:b, s:[s]}]}", "keys", "roles", "name", "shared", "keyids",
                           tk(11)->id, "threshold", 1, "terminating", 0, "paths", "*/*");
    json_object_set(json_object_get(d2, "keys"), tk(11)->id, tk(11)->obj);
    json_object_set_new(json_object_get(r.md, "r2"), "delegations", d2);
    tr_add_target(&r, "shared", "x/a", "xa");
    tr_add_target(&r, "shared", "y/b", "yb");
    tr_bump(&r, "targets");
    tr_publish(&r);
    fwt_tuf_client *c = NULL;
    struct fwt_tuf_target t;
    EXPECT(FWT_OK, tr_client(&r, 0, &c));
    EXPECT(FWT_OK, fwt_tuf_get_target(c, "x/a", &t));
    assert_string_equal(t.role, "shared");
    EXPECT(FWT_E_META_SIG, fwt_tuf_get_target(c, "y/b", &t));
    fwt_tuf_client_free(c);
    tr_free(&r);
}

/* Succinct hash-bin delegations (TAP 15). */
static void test_succinct_roles(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    json_t *tg = json_object_get(r.md, "targets");
    json_object_set_new(tg, "delegations",
                        json_pack("{s:{}, s:{s:[s], s:i, s:i, s:s}}", "keys", "succinct_roles", "keyids", tk(8)->id,
                                  "threshold", 1, "bit_length", 2, "name_prefix", "bin"));
    json_object_set(json_object_get(json_object_get(tg, "delegations"), "keys"), tk(8)->id, tk(8)->obj);
    /* which bin holds "pkg.bin": the first 2 bits of its SHA-256 */
    uint8_t d[32];
    assert_int_equal(fwt_sha256("pkg.bin", 7, d), FWT_OK);
    int bin = d[0] >> 6;
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof(name), "bin-%d", i);
        json_t *t = json_pack("{s:s, s:s, s:i, s:s, s:{}}", "_type", "targets", "spec_version", "1.0.31", "version", 1,
                              "expires", "2099-01-01T00:00:00Z", "targets");
        json_object_set_new(r.md, name, t);
        json_object_set_new(r.signers, name, json_pack("[i]", 8));
        if (i == bin) {
            tr_add_target(&r, name, "pkg.bin", "packaged");
        } else if (i == (bin + 1) % 4) {
            tr_add_target(&r, name, "other.bin", "wrong bin");
        }
    }
    tr_bump(&r, "targets");
    tr_publish(&r);
    fwt_tuf_client *c = NULL;
    struct fwt_tuf_target t;
    EXPECT(FWT_OK, tr_client(&r, 0, &c));
    EXPECT(FWT_OK, fwt_tuf_get_target(c, "pkg.bin", &t));
    char want[16];
    snprintf(want, sizeof(want), "bin-%d", bin);
    assert_string_equal(t.role, want);
    /* other.bin listed in a bin it does not hash to (unless it happens to) */
    assert_int_equal(fwt_sha256("other.bin", 9, d), FWT_OK);
    if ((d[0] >> 6) != (bin + 1) % 4) {
        EXPECT(FWT_E_NOT_FOUND, fwt_tuf_get_target(c, "other.bin", &t));
    }
    fwt_tuf_client_free(c);
    tr_free(&r);
}

static int count_cb(void *ctx, const struct fwt_tuf_target *t)
{
    json_t *o = ctx;
    json_object_set_new(o, t->name, json_string(t->role));
    return 0;
}

static void test_list_targets(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    tr_delegate(&r, "targets", "hw-a", "[\"hw-a/*\"]", 0, 8);
    tr_add_target(&r, "hw-a", "hw-a/fw.bin", "fw a");
    tr_add_target(&r, "hw-a", "hw-b/fw.bin", "not delegated to hw-a");
    tr_bump(&r, "targets");
    tr_publish(&r);
    fwt_tuf_client *c = NULL;
    EXPECT(FWT_OK, tr_client(&r, 0, &c));
    json_t *seen = json_object();
    EXPECT(FWT_OK, fwt_tuf_list_targets(c, count_cb, seen));
    assert_int_equal(json_object_size(seen), 2);
    assert_string_equal(json_string_value(json_object_get(seen, "a.bin")), "targets");
    assert_string_equal(json_string_value(json_object_get(seen, "hw-a/fw.bin")), "hw-a");
    json_decref(seen);
    fwt_tuf_client_free(c);
    tr_free(&r);
}

/* ---- Thresholds ---- */

/* A role reached through two delegators, signed for one of them only: the search (depth
 * first: targets, A, X, C) trusts it through X; the listing (breadth first) met it through
 * B first and failed the whole listing. It lists what the search finds, and fails only
 * when a role loads through none of its delegators. */
static void test_list_role_via_second_delegator(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    tr_delegate(&r, "targets", "A", "[\"*\"]", 0, 6);
    tr_delegate(&r, "targets", "B", "[\"*\"]", 0, 7);
    tr_delegate(&r, "A", "X", "[\"*\"]", 0, 8);
    tr_delegate(&r, "X", "C", "[\"*\"]", 0, 9);
    tr_delegate(&r, "B", "C-via-B", "[\"*\"]", 0, 10); /* renamed C below: B trusts key 10 for C */
    json_t *bd = json_object_get(json_object_get(json_object_get(r.md, "B"), "delegations"), "roles");
    json_object_set_new(json_array_get(bd, 0), "name", json_string("C"));
    json_object_del(r.md, "C-via-B");
    json_object_del(r.signers, "C-via-B");
    json_object_del(r.parent, "C-via-B");
    tr_add_target(&r, "C", "c.bin", "from C");
    tr_bump(&r, "targets");
    tr_publish(&r);
    fwt_tuf_client *c = NULL;
    struct fwt_tuf_target t;
    EXPECT(FWT_OK, tr_client(&r, 0, &c));
    EXPECT(FWT_OK, fwt_tuf_get_target(c, "c.bin", &t));
    assert_string_equal(t.role, "C");
    json_t *got = json_object();
    EXPECT(FWT_OK, fwt_tuf_list_targets(c, count_cb, got));
    assert_string_equal(json_string_value(json_object_get(got, "c.bin")), "C");
    assert_string_equal(json_string_value(json_object_get(got, "a.bin")), "targets");
    assert_int_equal(json_object_size(got), 2);
    json_decref(got);
    fwt_tuf_client_free(c);
    /* X now trusts key 11 for C too: C loads through no delegator, the listing fails */
    json_t *xd = json_object_get(json_object_get(json_object_get(r.md, "X"), "delegations"), "roles");
    json_object_set_new(json_array_get(xd, 0), "keyids", json_pack("[s]", tk(11)->id));
    json_object_set(json_object_get(json_object_get(json_object_get(r.md, "X"), "delegations"), "keys"), tk(11)->id,
                    tk(11)->obj);
    tr_bump(&r, "X");
    tr_publish(&r);
    EXPECT(FWT_OK, tr_client(&r, 0, &c));
    got = json_object();
    EXPECT(FWT_E_META_SIG, fwt_tuf_list_targets(c, count_cb, got));
    json_decref(got);
    fwt_tuf_client_free(c);
    tr_free(&r);
}

/* The same key material under two key ids counts once; two signatures with one key id are refused. */
static void test_threshold_key_counted_once(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    /* key 1 again under another id (an extra field changes the id, not the key) */
    json_t *alias = json_deep_copy(tk(1)->obj);
    json_object_set_new(alias, "x-alias", json_true());
    char alias_id[65];
    assert_int_equal(fwt_tuf_keyid(alias, alias_id), FWT_OK);
    json_t *root = json_object_get(r.md, "root");
    json_object_set_new(json_object_get(root, "keys"), alias_id, alias);
    json_t *tr = json_object_get(json_object_get(root, "roles"), "targets");
    json_array_append_new(json_object_get(tr, "keyids"), json_string(alias_id));
    json_object_set_new(tr, "threshold", json_integer(2));
    tr_publish_root(&r, NULL, 0);
    tr_bump(&r, "targets");
    tr_publish(&r);
    /* sign targets v2 by key 1 under both ids */
    char p[1024];
    snprintf(p, sizeof(p), "%s/2.targets.json", r.meta);
    size_t len;
    uint8_t *b = tr_read(p, &len);
    json_t *env = json_loadb((const char *)b, len, 0, NULL);
    free(b);
    json_t *sigs = json_object_get(env, "signatures");
    json_t *dup = json_deep_copy(json_array_get(sigs, 0));
    json_object_set_new(dup, "keyid", json_string(alias_id));
    json_array_append_new(sigs, dup);
    char *out = json_dumps(env, 0);
    tr_write(&r, "2.targets.json", out, strlen(out));
    free(out);
    EXPECT(FWT_E_META_SIG, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "targets"), 0);
    /* the same signature twice under one key id: malformed */
    json_object_set_new(json_array_get(sigs, 1), "keyid", json_string(tk(1)->id));
    out = json_dumps(env, 0);
    tr_write(&r, "2.targets.json", out, strlen(out));
    free(out);
    EXPECT(FWT_E_META, tr_refresh(&r, 0));
    json_decref(env);
    tr_free(&r);
}

/* Threshold 0 is refused; a threshold above the number of keys can never be met. */
static void test_threshold_bounds(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    SAVE(&r, before);
    json_t *root = json_object_get(r.md, "root");
    json_t *sr = json_object_get(json_object_get(root, "roles"), "snapshot");
    json_object_set_new(sr, "threshold", json_integer(0));
    tr_publish_root(&r, NULL, 0);
    EXPECT(FWT_E_META, tr_refresh(&r, 0));
    UNCHANGED(&r, before);
    /* same version again, threshold 2 with one snapshot key */
    json_object_set_new(sr, "threshold", json_integer(2));
    json_object_set_new(root, "version", json_integer(1));
    tr_publish_root(&r, NULL, 0);
    tr_publish(&r);
    EXPECT(FWT_E_META_SIG, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "root"), 2);
    /* the snapshot role changed, so the old snapshot was dropped (5.3.11); v2 was not stored */
    assert_int_equal(role_version_on_disk(&r, "snapshot"), 0);
    /* a key id listed twice in a role is malformed */
    json_array_append_new(json_object_get(sr, "keyids"), json_string(tk(2)->id));
    tr_publish_root(&r, NULL, 0);
    EXPECT(FWT_E_META, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "root"), 2);
    tr_free(&r);
}

/* ---- Parsing ---- */

static void test_duplicate_json_keys(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    SAVE(&r, before);
    tr_publish_timestamp(&r);
    char p[1024];
    snprintf(p, sizeof(p), "%s/timestamp.json", r.meta);
    size_t len;
    uint8_t *b = tr_read(p, &len);
    const char *key = "\"_type\": \"timestamp\",";
    char *at = strstr((char *)b, key);
    assert_non_null(at);
    size_t off = (size_t)(at - (char *)b), kl = strlen(key);
    char *dup = malloc(len + kl + 1);
    memcpy(dup, b, off + kl);
    memcpy(dup + off + kl, key, kl); /* the same member twice: same value, still a duplicate */
    memcpy(dup + off + 2 * kl, b + off + kl, len - off - kl);
    tr_write(&r, "timestamp.json", dup, len + kl);
    EXPECT(FWT_E_META, tr_refresh(&r, 0));
    UNCHANGED(&r, before);
    free(dup);
    free(b);
    tr_free(&r);
}

/* Tampered metadata: one changed byte in the signed part. */
static void test_tampered_metadata(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    SAVE(&r, before);
    tr_publish_timestamp(&r);
    char p[1024];
    snprintf(p, sizeof(p), "%s/timestamp.json", r.meta);
    size_t len;
    uint8_t *b = tr_read(p, &len);
    char *v = strstr((char *)b, "\"version\": 2");
    assert_non_null(v);
    v[11] = '3';
    tr_write(&r, "timestamp.json", b, len);
    free(b);
    EXPECT(FWT_E_META_SIG, tr_refresh(&r, 0));
    UNCHANGED(&r, before);
    /* wrong type in the right place */
    tr_write(&r, "timestamp.json", "{\"signatures\":[],\"signed\":{\"_type\":\"snapshot\"}}", 48);
    EXPECT(FWT_E_META, tr_refresh(&r, 0));
    UNCHANGED(&r, before);
    tr_free(&r);
}

/* ---- Root chain ---- */

static void test_root_rotation(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    int nk[1] = {7}, old[1] = {0};
    tr_root_set_keys(&r, "root", nk, 1, 1);
    tr_publish_root(&r, old, 1); /* v2 signed by old and new */
    tr_root_set_keys(&r, "root", nk, 1, 1);
    tr_publish_root(&r, NULL, 0); /* v3 by the new key */
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    char a[1024], b[1024];
    path_of(&r, "root.json", a, sizeof(a));
    snprintf(b, sizeof(b), "%s/3.root.json", r.meta);
    assert_same_file(a, b);
    tr_free(&r);
}

static void test_root_signed_by_one_side_only(void **state)
{
    (void)state;
    for (int side = 0; side < 2; side++) {
        struct trepo r;
        tr_setup(&r, 1);
        EXPECT(FWT_OK, tr_refresh(&r, 0));
        SAVE(&r, before);
        int nk[1] = {7}, ok[1] = {0};
        tr_root_set_keys(&r, "root", nk, 1, 1);
        json_t *root = json_object_get(r.md, "root");
        tr_bump(&r, "root");
        /* side 0: only the old key signs; side 1: only the new key */
        serve(&r, "2.root.json", root, side == 0 ? ok : nk, 1);
        EXPECT(FWT_E_META_SIG, tr_refresh(&r, 0));
        UNCHANGED(&r, before);
        assert_int_equal(role_version_on_disk(&r, "root"), 1);
        tr_free(&r);
    }
}

static void test_root_replayed_or_skipped(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    tr_publish_root(&r, NULL, 0); /* v2 */
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "root"), 2);
    SAVE(&r, before);
    char p[1024];
    size_t len;
    uint8_t *b;
    /* replay of the trusted version: 3.root.json holds version 2 (5.3.5: discarded, the
     * update goes on with the trusted root) */
    snprintf(p, sizeof(p), "%s/2.root.json", r.meta);
    b = tr_read(p, &len);
    tr_write(&r, "3.root.json", b, len);
    free(b);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    UNCHANGED(&r, before);
    /* replay of an older version: 3.root.json holds version 1 */
    snprintf(p, sizeof(p), "%s/1.root.json", r.meta);
    b = tr_read(p, &len);
    tr_write(&r, "3.root.json", b, len);
    free(b);
    EXPECT(FWT_E_META_ROLLBACK, tr_refresh(&r, 0));
    UNCHANGED(&r, before);
    /* skip: 3.root.json holds version 4 */
    json_t *root = json_object_get(r.md, "root");
    json_object_set_new(root, "version", json_integer(4));
    serve(&r, "3.root.json", root, NULL, -1);
    EXPECT(FWT_E_META_MISMATCH, tr_refresh(&r, 0));
    UNCHANGED(&r, before);
    /* gap: no 3.root.json but a valid 4.root.json: the client stays at version 2 */
    snprintf(p, sizeof(p), "%s/3.root.json", r.meta);
    unlink(p);
    serve(&r, "4.root.json", root, NULL, -1);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "root"), 2);
    tr_free(&r);
}

static void test_max_root_rotations(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    for (int i = 0; i < 5; i++) {
        tr_publish_root(&r, NULL, 0);
    }
    struct fwt_tuf_client_opts o = {0};
    o.metadata_dir = r.mdir;
    o.metadata_url = r.murl;
    o.fixed_now = r.now;
    o.limits.max_root_rotations = 3;
    fwt_tuf_client *c = NULL;
    EXPECT(FWT_OK, fwt_tuf_client_open(&o, &c));
    EXPECT(FWT_OK, fwt_tuf_refresh(c));
    assert_int_equal(fwt_tuf_role_version(c, "root"), 4);
    fwt_tuf_client_free(c);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    assert_int_equal(role_version_on_disk(&r, "root"), 6);
    tr_free(&r);
}

static void test_init_checks_root(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/other", r.dir);
    json_t *root = json_object_get(r.md, "root");
    int wrong[1] = {9};
    size_t len;
    uint8_t *b = tr_sign(&r, root, wrong, 1, &len);
    EXPECT(FWT_E_META_SIG, fwt_tuf_init(dir, b, len));
    free(b);
    EXPECT(FWT_E_META, fwt_tuf_init(dir, (const uint8_t *)"{}", 2));
    char p[1100];
    snprintf(p, sizeof(p), "%s/root.json", dir);
    assert_int_equal(access(p, F_OK), -1);
    tr_free(&r);
}

static void assert_trusted_root(const struct trepo *r, const char *file)
{
    char a[1024], b[1024];
    path_of(r, "root.json", a, sizeof(a));
    snprintf(b, sizeof(b), "%s/%s", r->meta, file);
    assert_same_file(a, b);
}

/* init never silently puts an older root, or another root of the same version, over the
 * trusted one; the same file again is fine, a newer one replaces it, and
 * FWT_TUF_INIT_REPLACE replaces it whatever it is. A refused init writes nothing. */
static void test_init_keeps_newer_root(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    tr_publish_root(&r, NULL, 0);
    tr_publish_root(&r, NULL, 0);
    EXPECT(FWT_OK, tr_refresh(&r, 0));
    assert_trusted_root(&r, "3.root.json");
    char p1[1024], p3[1024];
    snprintf(p1, sizeof(p1), "%s/1.root.json", r.meta);
    snprintf(p3, sizeof(p3), "%s/3.root.json", r.meta);
    size_t l1, l3;
    uint8_t *v1 = tr_read(p1, &l1), *v3 = tr_read(p3, &l3);
    assert_non_null(v1);
    assert_non_null(v3);
    SAVE(&r, before);
    /* older */
    EXPECT(FWT_E_META_ROLLBACK, fwt_tuf_init(r.mdir, v1, l1));
    assert_non_null(strstr(fwt_detail(), "root version 1 is older than the trusted root version 3"));
    UNCHANGED(&r, before);
    /* the same version, other bytes (validly signed) */
    json_t *other = json_deep_copy(json_object_get(r.md, "root"));
    json_object_set_new(other, "x-note", json_string("another root 3"));
    size_t lo;
    uint8_t *o3 = tr_sign(&r, other, NULL, -1, &lo);
    json_decref(other);
    EXPECT(FWT_E_META_MISMATCH, fwt_tuf_init(r.mdir, o3, lo));
    assert_non_null(strstr(fwt_detail(), "differs from the trusted root of the same version"));
    UNCHANGED(&r, before);
    /* the same file again: nothing to do */
    EXPECT(FWT_OK, fwt_tuf_init(r.mdir, v3, l3));
    UNCHANGED(&r, before);
    /* asked to: replaced */
    EXPECT(FWT_OK, fwt_tuf_init_flags(r.mdir, v1, l1, FWT_TUF_INIT_REPLACE));
    assert_trusted_root(&r, "1.root.json");
    /* a newer root replaces an older one without being asked */
    EXPECT(FWT_OK, fwt_tuf_init(r.mdir, v3, l3));
    assert_trusted_root(&r, "3.root.json");
    /* a root.json that is not root metadata is replaced only when asked to */
    char rp[1024];
    path_of(&r, "root.json", rp, sizeof(rp));
    assert_int_equal(fwt_write_file_atomic(rp, "{}", 2, 0644), FWT_OK);
    SAVE(&r, broken);
    EXPECT(FWT_E_STATE, fwt_tuf_init(r.mdir, v3, l3));
    UNCHANGED(&r, broken);
    EXPECT(FWT_OK, fwt_tuf_init_flags(r.mdir, v3, l3, FWT_TUF_INIT_REPLACE));
    assert_trusted_root(&r, "3.root.json");
    /* unknown flags */
    EXPECT(FWT_E_ARG, fwt_tuf_init_flags(r.mdir, v3, l3, 2));
    free(v1);
    free(v3);
    free(o3);
    tr_free(&r);
}

/* A refresh with the given download limits (0: default). */
static fwt_err refresh_limited(struct trepo *r, uint64_t snapshot_max, uint64_t targets_max)
{
    struct fwt_tuf_client_opts o = {0};
    o.metadata_dir = r->mdir;
    o.metadata_url = r->murl;
    o.targets_url = r->turl;
    o.fixed_now = r->now;
    o.limits.max_snapshot_size = snapshot_max;
    o.limits.max_targets_size = targets_max;
    fwt_tuf_client *c = NULL;
    fwt_err err = fwt_tuf_client_open(&o, &c);
    if (err == FWT_OK) {
        err = fwt_tuf_refresh(c);
    }
    fwt_tuf_client_free(c);
    return err;
}

static int file_exists(const struct trepo *r, const char *file)
{
    char p[1024];
    path_of(r, file, p, sizeof(p));
    return access(p, F_OK) == 0;
}

/* The length a referrer gives never raises a cap: a snapshot (targets role) that is exactly
 * as long as the timestamp (snapshot) says, but longer than the limit, is refused before it
 * is fetched, and nothing of it is stored. */
static void test_meta_length_capped(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    r.meta_hashes = 1;
    static char pad[20001];
    memset(pad, 'p', sizeof(pad) - 1);
    /* unknown fields are allowed in signed metadata: a signed snapshot and targets of ~20 kB */
    json_object_set_new(json_object_get(r.md, "snapshot"), "x-padding", json_string(pad));
    json_object_set_new(json_object_get(r.md, "targets"), "x-padding", json_string(pad));
    tr_publish(&r);
    EXPECT(FWT_E_TOO_LARGE, refresh_limited(&r, 10000, 0));
    assert_non_null(strstr(fwt_detail(), "the timestamp gives snapshot.json a length of"));
    assert_non_null(strstr(fwt_detail(), "above the limit of 10000 bytes"));
    assert_false(file_exists(&r, "snapshot.json"));
    EXPECT(FWT_E_TOO_LARGE, refresh_limited(&r, 0, 10000));
    assert_non_null(strstr(fwt_detail(), "the snapshot gives targets a length of"));
    assert_false(file_exists(&r, "targets.json"));
    /* a local copy is read with the same cap: a stored snapshot does not get around it */
    EXPECT(FWT_OK, refresh_limited(&r, 0, 0));
    assert_true(file_exists(&r, "targets.json"));
    EXPECT(FWT_E_TOO_LARGE, refresh_limited(&r, 10000, 0));
    EXPECT(FWT_OK, refresh_limited(&r, 30000, 30000));
    tr_free(&r);
}

struct counted {
    size_t n;
};

static int count_sink(void *ctx, const uint8_t *data, size_t len)
{
    (void)data;
    ((struct counted *)ctx)->n += len;
    return 0;
}

/* The transport's cap: exactly cap bytes pass, one more aborts the transfer, and the
 * caller never receives a byte past the cap (an endless file included). */
static void test_fetch_cap(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    static char body[100000];
    memset(body, 'b', sizeof(body));
    tr_write(&r, "blob", body, sizeof(body));
    char url[1024];
    snprintf(url, sizeof(url), "%s/blob", r.murl);
    struct tuf_fetcher *f = NULL;
    EXPECT(FWT_OK, tuf_fetcher_new(NULL, &f));
    struct counted got = {0};
    EXPECT(FWT_OK, tuf_fetch(f, url, sizeof(body), count_sink, &got));
    assert_int_equal(got.n, sizeof(body));
    static const uint64_t caps[] = {sizeof(body) - 1, 16384, 16383, 1};
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        got.n = 0;
        EXPECT(FWT_E_TOO_LARGE, tuf_fetch(f, url, caps[i], count_sink, &got));
        assert_true(got.n <= caps[i]);
    }
    got.n = 0;
    EXPECT(FWT_E_TOO_LARGE, tuf_fetch(f, "file:///dev/zero", 16384, count_sink, &got));
    assert_true(got.n <= 16384);
    tuf_fetcher_free(f);
    tr_free(&r);
}

/* Parse bytes as type, expecting err, and return the seconds it took. */
static double timed_parse(const char *b, size_t n, const char *type, fwt_err want, const char *why)
{
    struct timespec t0, t1;
    struct tuf_md *m = NULL;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    EXPECT(want, tuf_md_parse((const uint8_t *)b, n, type, "large file", &m));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    tuf_md_free(m);
    if (why) {
        assert_non_null(strstr(fwt_detail(), why));
    }
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "%s of %zu bytes: %.2f s\n", type, n, s);
    return s;
}

/* Files an attacker can serve before any signature is checked, at the size caps (a
 * snapshot without hashes in the timestamp: 2000000 bytes; targets: 5000000): tens of
 * thousands of signatures, role key ids or delegated role names are refused or accepted
 * in about linear time. The duplicate checks compared every pair: minutes of CPU per
 * refresh. Duplicates are still found wherever they are. */
static void test_large_lists_linear(void **state)
{
    (void)state;
    enum { N = 50000 };
    size_t cap = 6000000, n;
    char *b = malloc(cap);
    assert_non_null(b);
    /* signatures */
    n = (size_t)snprintf(b, cap, "{\"signatures\":[");
    for (int i = 0; i < N; i++) {
        n += (size_t)snprintf(b + n, cap - n, "%s{\"keyid\":\"%08x\",\"sig\":\"00\"}", i ? "," : "", (unsigned)i);
    }
    n += (size_t)snprintf(b + n, cap - n,
                          "],\"signed\":{\"_type\":\"snapshot\",\"spec_version\":\"1.0.0\",\"version\":1,"
                          "\"expires\":\"2030-01-01T00:00:00Z\",\"meta\":{\"targets.json\":{\"version\":1}}}}");
    assert_true(n < 2000000);
    assert_true(timed_parse(b, n, "snapshot", FWT_OK, NULL) < 10.0);
    memcpy(strstr(b + n - 300, "\"keyid\":\"") + 9, "00000000", 8);
    (void)timed_parse(b, n, "snapshot", FWT_E_META, "two signatures with key id 00000000");
    /* key ids of a delegated role, and delegated role names */
    n = (size_t)snprintf(b, cap,
                         "{\"signatures\":[],\"signed\":{\"_type\":\"targets\",\"spec_version\":\"1.0.0\",\"version\":1,"
                         "\"expires\":\"2030-01-01T00:00:00Z\",\"targets\":{},\"delegations\":{\"keys\":{},\"roles\":["
                         "{\"name\":\"big\",\"threshold\":1,\"terminating\":false,\"paths\":[],\"keyids\":[");
    for (int i = 0; i < N; i++) {
        n += (size_t)snprintf(b + n, cap - n, "%s\"%08x\"", i ? "," : "", (unsigned)i);
    }
    n += (size_t)snprintf(b + n, cap - n, "]}");
    for (int i = 0; i < N; i++) {
        n += (size_t)snprintf(b + n, cap - n,
                              ",{\"name\":\"r%08x\",\"keyids\":[],\"threshold\":1,\"terminating\":false,\"paths\":[]}",
                              (unsigned)i);
    }
    n += (size_t)snprintf(b + n, cap - n, "]}}}");
    assert_true(n < 5000000);
    assert_true(timed_parse(b, n, "targets", FWT_OK, NULL) < 10.0);
    char *last = strstr(b + n - 200, "\"name\":\"r");
    memcpy(last + 9, "00000000", 8); /* the last role takes the first one's name */
    (void)timed_parse(b, n, "targets", FWT_E_META, "delegated role 'r00000000' listed twice");
    memcpy(last + 9, "0000c34f", 8);
    char *id = strstr(b, "\"keyids\":[\"") + 11;
    memcpy(id, "00000001", 8); /* the first key id made equal to the second */
    (void)timed_parse(b, n, "targets", FWT_E_META, "lists key id 00000001... twice");
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_consistent),
        cmocka_unit_test(test_basic_plain),
        cmocka_unit_test(test_key_types),
        cmocka_unit_test(test_attack_arbitrary_installation),
        cmocka_unit_test(test_attack_endless_data),
        cmocka_unit_test(test_attack_fast_forward_recovery),
        cmocka_unit_test(test_attack_fast_forward_recovery_interrupted),
        cmocka_unit_test(test_attack_fast_forward_snapshot_recovery),
        cmocka_unit_test(test_local_metadata_reverified),
        cmocka_unit_test(test_attack_indefinite_freeze),
        cmocka_unit_test(test_time_floor),
        cmocka_unit_test(test_attack_malicious_mirror),
        cmocka_unit_test(test_attack_mix_and_match),
        cmocka_unit_test(test_attack_rollback),
        cmocka_unit_test(test_attack_key_compromise_below_threshold),
        cmocka_unit_test(test_attack_wrong_software_delegation),
        cmocka_unit_test(test_delegation_preorder),
        cmocka_unit_test(test_cached_role_reverified),
        cmocka_unit_test(test_succinct_roles),
        cmocka_unit_test(test_list_targets),
        cmocka_unit_test(test_list_role_via_second_delegator),
        cmocka_unit_test(test_threshold_key_counted_once),
        cmocka_unit_test(test_threshold_bounds),
        cmocka_unit_test(test_duplicate_json_keys),
        cmocka_unit_test(test_tampered_metadata),
        cmocka_unit_test(test_root_rotation),
        cmocka_unit_test(test_root_signed_by_one_side_only),
        cmocka_unit_test(test_root_replayed_or_skipped),
        cmocka_unit_test(test_max_root_rotations),
        cmocka_unit_test(test_init_checks_root),
        cmocka_unit_test(test_init_keeps_newer_root),
        cmocka_unit_test(test_meta_length_capped),
        cmocka_unit_test(test_fetch_cap),
        cmocka_unit_test(test_large_lists_linear),
    };
    return cmocka_run_group_tests(tests, tk_group_setup, tk_group_teardown);
}
