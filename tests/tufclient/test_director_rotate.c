/*
 * Director root rotation against the TUF client (docs/server.md#keys): roots made by the
 * director's library (fwt_director_root_signed, as `fwtrust-server director rotate-root`
 * makes them) in a directory served as a file:// URL, walked by fwt_tuf_refresh_root (what
 * the agent runs at check-in) and fwt_tuf_refresh (its updates). A device follows one and
 * two rotations (root and online keys each time); a root signed by the new key alone, a
 * root whose version goes back, and metadata signed by an online key the new root dropped
 * are refused, the trusted root kept.
 */
#include <fwtrust/fwt_director.h>
#include <fwtrust/fwt_tuf.h>
#include <fwtrust/fwtrust_host.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

struct gen {
    struct repo_key root, targets, snapshot, timestamp;
};

static char g_dir[256], g_srv[300], g_dev[300], g_url[320];
static time_t g_now;

static void put(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", g_srv, name);
    assert_int_equal(fwt_write_file_atomic(p, text, strlen(text), 0644), FWT_OK);
}

static void key(const char *name, struct repo_key *k)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s.pem", g_dir, name);
    assert_int_equal(fwt_keygen_file(FWT_KEY_ECDSA_P256, p, NULL), FWT_OK);
    assert_int_equal(repo_key_load(p, NULL, 1, k), FWT_OK);
}

static void gen_new(struct gen *g, const char *tag)
{
    char n[64];
    const char *roles[4] = {"root", "targets", "snapshot", "timestamp"};
    struct repo_key *k[4] = {&g->root, &g->targets, &g->snapshot, &g->timestamp};
    for (int i = 0; i < 4; i++) {
        snprintf(n, sizeof(n), "%s-%s", roles[i], tag);
        key(n, k[i]);
    }
}

static void gen_free(struct gen *g)
{
    repo_key_free(&g->root);
    repo_key_free(&g->targets);
    repo_key_free(&g->snapshot);
    repo_key_free(&g->timestamp);
}

/* N.root.json of generation g signed by the given keys; also written as name. */
static char *root_of(const struct gen *g, uint64_t v, const struct repo_key *const *signers, size_t n)
{
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(fwt_director_root_signed(&g->root, &g->targets, &g->snapshot, &g->timestamp, v,
                                              g_now + 86400 * 30, signers, n, &out, &len),
                     FWT_OK);
    return out;
}

static void put_root(const struct gen *g, uint64_t v, const struct repo_key *const *signers, size_t n)
{
    char name[32], *r = root_of(g, v, signers, n);
    snprintf(name, sizeof(name), "%llu.root.json", (unsigned long long)v);
    put(name, r);
    free(r);
}

/* targets/snapshot/timestamp of one device, signed by generation g's online keys. */
static void put_meta(const struct gen *g, uint64_t version)
{
    struct fwt_director_target t = {"fw/a.bin", 100,
                                    "0000000000000000000000000000000000000000000000000000000000000001", "dev-1", "hw",
                                    version};
    char *tb = NULL, *sb = NULL, *xb = NULL;
    size_t tl, sl, xl;
    assert_int_equal(fwt_director_targets(&g->targets, &t, version, g_now + 86400, &tb, &tl), FWT_OK);
    assert_int_equal(fwt_director_snapshot(&g->snapshot, version, version, g_now + 86400, &sb, &sl), FWT_OK);
    assert_int_equal(fwt_director_timestamp(&g->timestamp, (const uint8_t *)sb, sl, version, version, g_now + 86400,
                                            &xb, &xl),
                     FWT_OK);
    put("targets.json", tb);
    put("snapshot.json", sb);
    put("timestamp.json", xb);
    free(tb);
    free(sb);
    free(xb);
}

static fwt_tuf_client *client(void)
{
    struct fwt_tuf_client_opts o;
    memset(&o, 0, sizeof(o));
    o.metadata_dir = g_dev;
    o.metadata_url = g_url;
    o.fixed_now = g_now;
    o.no_time_floor = 1;
    fwt_tuf_client *c = NULL;
    assert_int_equal(fwt_tuf_client_open(&o, &c), FWT_OK);
    return c;
}

static uint64_t trusted_root(void)
{
    fwt_tuf_client *c = client();
    uint64_t v = fwt_tuf_role_version(c, "root");
    fwt_tuf_client_free(c);
    return v;
}

/* A fresh server directory and device with root 1 of generation g1 (its metadata served). */
static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/fwt-dirrot-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(g_srv, sizeof(g_srv), "%s/srv", g_dir);
    snprintf(g_dev, sizeof(g_dev), "%s/dev", g_dir);
    snprintf(g_url, sizeof(g_url), "file://%s/", g_srv);
    assert_int_equal(fwt_mkdirs(g_srv, 0700), FWT_OK);
    g_now = time(NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Generation 1 trusted by the device, its metadata served. */
static void start(struct gen *g1)
{
    gen_new(g1, "1");
    const struct repo_key *s1[1] = {&g1->root};
    char *r = root_of(g1, 1, s1, 1);
    put("1.root.json", r);
    assert_int_equal(fwt_tuf_init(g_dev, (const uint8_t *)r, strlen(r)), FWT_OK);
    free(r);
    put_meta(g1, 1);
    fwt_tuf_client *c = client();
    assert_int_equal(fwt_tuf_refresh(c), FWT_OK);
    fwt_tuf_client_free(c);
}

static void follows_one_and_two_rotations(void **state)
{
    (void)state;
    struct gen g1, g2, g3;
    start(&g1);
    /* one rotation: root 2 signed by the old and the new root key, new online keys */
    gen_new(&g2, "2");
    const struct repo_key *s2[2] = {&g1.root, &g2.root};
    put_root(&g2, 2, s2, 2);
    put_meta(&g2, 2);
    fwt_tuf_client *c = client();
    assert_int_equal(fwt_tuf_refresh_root(c), FWT_OK);
    assert_int_equal(fwt_tuf_role_version(c, "root"), 2);
    assert_int_equal(fwt_tuf_refresh(c), FWT_OK);
    assert_int_equal(fwt_tuf_role_version(c, "targets"), 2);
    fwt_tuf_client_free(c);
    /* a device still on root 1 (a copy of it) and this one on 2 both reach 4 */
    gen_new(&g3, "3");
    const struct repo_key *s3[2] = {&g2.root, &g3.root};
    put_root(&g3, 3, s3, 2);
    struct gen g4;
    gen_new(&g4, "4");
    const struct repo_key *s4[2] = {&g3.root, &g4.root};
    put_root(&g4, 4, s4, 2);
    put_meta(&g4, 3);
    c = client();
    assert_int_equal(fwt_tuf_refresh_root(c), FWT_OK);
    assert_int_equal(fwt_tuf_role_version(c, "root"), 4);
    assert_int_equal(fwt_tuf_refresh(c), FWT_OK);
    assert_int_equal(fwt_tuf_role_version(c, "timestamp"), 3);
    fwt_tuf_client_free(c);
    assert_int_equal(trusted_root(), 4);
    gen_free(&g1);
    gen_free(&g2);
    gen_free(&g3);
    gen_free(&g4);
}

static void root_by_new_key_alone_refused(void **state)
{
    (void)state;
    struct gen g1, g2;
    start(&g1);
    gen_new(&g2, "2");
    const struct repo_key *s[1] = {&g2.root};
    put_root(&g2, 2, s, 1);
    fwt_tuf_client *c = client();
    assert_int_equal(fwt_tuf_refresh_root(c), FWT_E_META_SIG);
    assert_non_null(strstr(fwt_detail(), "trusted root version 1"));
    fwt_tuf_client_free(c);
    assert_int_equal(trusted_root(), 1);
    /* and one by the old key alone (the new root's own threshold unmet) */
    const struct repo_key *o[1] = {&g1.root};
    put_root(&g2, 2, o, 1);
    c = client();
    assert_int_equal(fwt_tuf_refresh_root(c), FWT_E_META_SIG);
    assert_non_null(strstr(fwt_detail(), "new root itself"));
    fwt_tuf_client_free(c);
    assert_int_equal(trusted_root(), 1);
    gen_free(&g1);
    gen_free(&g2);
}

static void root_rollback_refused(void **state)
{
    (void)state;
    struct gen g1, g2, g3;
    start(&g1);
    gen_new(&g2, "2");
    const struct repo_key *s2[2] = {&g1.root, &g2.root};
    put_root(&g2, 2, s2, 2);
    fwt_tuf_client *c = client();
    assert_int_equal(fwt_tuf_refresh_root(c), FWT_OK);
    fwt_tuf_client_free(c);
    /* 3.root.json holds a version 1 signed by the trusted root 2's key and its own: a
     * rollback (an equal version is the trusted one again, discarded: TUF 5.3.5) */
    gen_new(&g3, "3");
    const struct repo_key *s3[2] = {&g2.root, &g3.root};
    char *r = root_of(&g3, 1, s3, 2);
    put("3.root.json", r);
    c = client();
    assert_int_equal(fwt_tuf_refresh_root(c), FWT_E_META_ROLLBACK);
    fwt_tuf_client_free(c);
    assert_int_equal(trusted_root(), 2);
    /* installing root 1 again over the trusted 2 is a rollback too */
    char *r1 = NULL;
    char p[512];
    snprintf(p, sizeof(p), "%s/1.root.json", g_srv);
    size_t l1 = 0;
    assert_int_equal(fwt_read_file(p, 1 << 20, (uint8_t **)&r1, &l1), FWT_OK);
    assert_int_equal(fwt_tuf_init(g_dev, (const uint8_t *)r1, l1), FWT_E_META_ROLLBACK);
    assert_int_equal(trusted_root(), 2);
    free(r1);
    free(r);
    gen_free(&g1);
    gen_free(&g2);
    gen_free(&g3);
}

static void old_online_key_refused(void **state)
{
    (void)state;
    struct gen g1, g2;
    start(&g1);
    gen_new(&g2, "2");
    const struct repo_key *s2[2] = {&g1.root, &g2.root};
    put_root(&g2, 2, s2, 2);
    /* the server still signs with generation 1's online keys */
    put_meta(&g1, 2);
    fwt_tuf_client *c = client();
    assert_int_equal(fwt_tuf_refresh(c), FWT_E_META_SIG);
    assert_int_equal(fwt_tuf_role_version(c, "root"), 2);
    fwt_tuf_client_free(c);
    /* only the timestamp role's key is the old one: still refused */
    put_meta(&g2, 2);
    char *xb = NULL, *sb = NULL;
    size_t xl, sl;
    assert_int_equal(fwt_director_snapshot(&g2.snapshot, 2, 2, g_now + 86400, &sb, &sl), FWT_OK);
    assert_int_equal(fwt_director_timestamp(&g1.timestamp, (const uint8_t *)sb, sl, 2, 3, g_now + 86400, &xb, &xl),
                     FWT_OK);
    put("timestamp.json", xb);
    c = client();
    assert_int_equal(fwt_tuf_refresh(c), FWT_E_META_SIG);
    fwt_tuf_client_free(c);
    free(xb);
    free(sb);
    gen_free(&g1);
    gen_free(&g2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(follows_one_and_two_rotations, setup, teardown),
        cmocka_unit_test_setup_teardown(root_by_new_key_alone_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(root_rollback_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(old_online_key_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
