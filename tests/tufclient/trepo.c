/* Test repositories for the TUF client tests (see trepo.h). */
#define FWTRUST_INTERNAL 1
#include "trepo.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct tkey pool[TK_MAX];
static char pool_dir[256];

static void die(const char *what)
{
    fprintf(stderr, "trepo: %s: %s\n", what, fwt_detail());
    abort();
}

void tk_init(void)
{
    if (pool[0].priv) {
        return;
    }
    snprintf(pool_dir, sizeof(pool_dir), "/tmp/tufclient-keys-XXXXXX");
    if (!mkdtemp(pool_dir)) {
        die("mkdtemp");
    }
    for (int i = 0; i < 15; i++) {
        char path[320];
        snprintf(path, sizeof(path), "%s/k%d.pem", pool_dir, i);
        enum fwt_key_type t = i == TK_ECDSA ? FWT_KEY_ECDSA_P256 : i == TK_RSA ? FWT_KEY_RSA2048 : FWT_KEY_ED25519;
        struct fwt_key_opts ko = {0};
        fwt_pubkey *pub = NULL;
        if (fwt_keygen_file(t, path, NULL) != FWT_OK || fwt_privkey_load(path, &ko, &pool[i].priv) != FWT_OK ||
            fwt_privkey_public(pool[i].priv, &pub) != FWT_OK ||
            fwt_tuf_key_object(pub, &pool[i].obj, pool[i].id) != FWT_OK) {
            die("key");
        }
        fwt_pubkey_free(pub);
        unlink(path);
    }
    rmdir(pool_dir);
}

void tk_free(void)
{
    for (int i = 0; i < TK_MAX; i++) {
        fwt_privkey_free(pool[i].priv);
        json_decref(pool[i].obj);
        memset(&pool[i], 0, sizeof(pool[i]));
    }
}

int tk_group_setup(void **state)
{
    (void)state;
    tk_init();
    return 0;
}

int tk_group_teardown(void **state)
{
    (void)state;
    tk_free();
    return 0;
}

struct tkey *tk(int i)
{
    return &pool[i];
}

static void mkdirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
    mkdir(tmp, 0755);
}

static void expiry(struct trepo *r, json_t *s, int days)
{
    char e[21];
    fwt_tuf_time_format(r->now + days * 86400, e);
    json_object_set_new(s, "expires", json_string(e));
}

static json_t *new_signed(struct trepo *r, const char *type)
{
    json_t *s = json_pack("{s:s, s:s, s:i}", "_type", type, "spec_version", "1.0.31", "version", 1);
    expiry(r, s, 30);
    return s;
}

static void set_signers(struct trepo *r, const char *role, int key)
{
    json_object_set_new(r->signers, role, json_pack("[i]", key));
}

void tr_setup(struct trepo *r, int consistent)
{
    tr_setup_at(r, NULL, consistent);
}

void tr_setup_at(struct trepo *r, const char *dir, int consistent)
{
    tk_init();
    memset(r, 0, sizeof(*r));
    r->now = time(NULL);
    if (dir) {
        snprintf(r->dir, sizeof(r->dir), "%s", dir);
        mkdirs(r->dir);
    } else {
        snprintf(r->dir, sizeof(r->dir), "/tmp/tufclient-XXXXXX");
        if (!mkdtemp(r->dir)) {
            die("mkdtemp");
        }
    }
    snprintf(r->meta, sizeof(r->meta), "%s/metadata", r->dir);
    snprintf(r->tdir, sizeof(r->tdir), "%s/targets", r->dir);
    snprintf(r->mdir, sizeof(r->mdir), "%s/client", r->dir);
    snprintf(r->murl, sizeof(r->murl), "file://%s", r->meta);
    snprintf(r->turl, sizeof(r->turl), "file://%s", r->tdir);
    mkdirs(r->meta);
    mkdirs(r->tdir);
    r->md = json_object();
    r->signers = json_object();
    r->parent = json_object();
    json_t *root = new_signed(r, "root");
    json_object_set_new(root, "consistent_snapshot", json_boolean(consistent));
    json_object_set_new(root, "keys", json_object());
    json_object_set_new(root, "roles", json_object());
    expiry(r, root, 365);
    json_object_set_new(r->md, "root", root);
    static const char *const roles[4] = {"root", "targets", "snapshot", "timestamp"};
    for (int i = 0; i < 4; i++) {
        json_object_set_new(json_object_get(root, "roles"), roles[i], json_pack("{s:[], s:i}", "keyids", "threshold", 1));
        tr_root_add_key(r, roles[i], i);
        set_signers(r, roles[i], i);
    }
    json_t *targets = new_signed(r, "targets");
    json_object_set_new(targets, "targets", json_object());
    json_object_set_new(r->md, "targets", targets);
    json_t *snap = new_signed(r, "snapshot");
    json_object_set_new(snap, "meta", json_object());
    json_object_set_new(r->md, "snapshot", snap);
    json_t *ts = new_signed(r, "timestamp");
    expiry(r, ts, 1);
    json_object_set_new(ts, "meta", json_object());
    json_object_set_new(r->md, "timestamp", ts);
    tr_add_target(r, "targets", "a.bin", "hello, device\n");
    /* root v1 */
    size_t len;
    uint8_t *b = tr_sign(r, root, NULL, -1, &len);
    tr_write(r, "1.root.json", b, len);
    if (fwt_tuf_init(r->mdir, b, len) != FWT_OK) {
        die("fwt_tuf_init");
    }
    free(b);
    tr_publish(r);
}

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) {
                continue;
            }
            char sub[2048];
            snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            rm_rf(sub);
        }
        if (d) {
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

void tr_release(struct trepo *r)
{
    json_decref(r->md);
    json_decref(r->signers);
    json_decref(r->parent);
    r->md = r->signers = r->parent = NULL;
}

void tr_free(struct trepo *r)
{
    rm_rf(r->dir);
    json_decref(r->md);
    json_decref(r->signers);
    json_decref(r->parent);
}

uint8_t *tr_sign(struct trepo *r, const json_t *signed_, const int *keys, int n, size_t *len)
{
    char *canon = NULL;
    size_t cl = 0;
    if (fwt_tuf_canonical(signed_, &canon, &cl) != FWT_OK) {
        die("canonical");
    }
    json_t *sigs = json_array();
    const json_t *list = NULL;
    if (n < 0) {
        list = json_object_get(r->signers, json_string_value(json_object_get(signed_, "_type")));
        if (!strcmp(json_string_value(json_object_get(signed_, "_type")), "targets")) {
            /* targets roles: find which role this object is */
            const char *role;
            json_t *v;
            json_object_foreach(r->md, role, v) {
                if (v == signed_) {
                    list = json_object_get(r->signers, role);
                }
            }
        }
        n = (int)json_array_size(list);
    }
    for (int i = 0; i < n; i++) {
        int k = keys ? keys[i] : (int)json_integer_value(json_array_get(list, (size_t)i));
        uint8_t sig[1024];
        size_t sl = sizeof(sig);
        if (fwt_sign_message(pool[k].priv, (const uint8_t *)canon, cl, sig, &sl) != FWT_OK) {
            die("sign");
        }
        char hex[2049];
        fwt_hex_encode(sig, sl, hex);
        json_array_append_new(sigs, json_pack("{s:s, s:s}", "keyid", pool[k].id, "sig", hex));
    }
    free(canon);
    json_t *env = json_pack("{s:o, s:O}", "signatures", sigs, "signed", signed_);
    char *out = json_dumps(env, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(env);
    *len = strlen(out);
    return (uint8_t *)out;
}

void tr_write(struct trepo *r, const char *name, const void *data, size_t len)
{
    char path[sizeof(r->meta) + 1024];
    int n = snprintf(path, sizeof(path), "%s/%s", r->meta, name);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        die(name);
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        die(path);
    }
}

uint8_t *tr_read(const char *path, size_t *len)
{
    uint8_t *b = NULL;
    if (fwt_read_file(path, 64u << 20, &b, len) != FWT_OK) {
        return NULL;
    }
    return b;
}

void tr_write_target(struct trepo *r, const char *path, const void *data, size_t len)
{
    char full[1024];
    snprintf(full, sizeof(full), "%s/%s", r->tdir, path);
    char *slash = strrchr(full, '/');
    *slash = 0;
    mkdirs(full);
    *slash = '/';
    FILE *f = fopen(full, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        die(full);
    }
}

void tr_bump(struct trepo *r, const char *role)
{
    json_t *s = json_object_get(r->md, role);
    json_object_set_new(s, "version", json_integer(json_integer_value(json_object_get(s, "version")) + 1));
}

void tr_root_add_key(struct trepo *r, const char *role, int key)
{
    json_t *root = json_object_get(r->md, "root");
    json_object_set(json_object_get(root, "keys"), pool[key].id, pool[key].obj);
    json_array_append_new(json_object_get(json_object_get(json_object_get(root, "roles"), role), "keyids"),
                          json_string(pool[key].id));
}

void tr_root_set_keys(struct trepo *r, const char *role, const int *keys, int n, int threshold)
{
    json_t *root = json_object_get(r->md, "root");
    json_t *ro = json_object_get(json_object_get(root, "roles"), role);
    json_object_set_new(ro, "keyids", json_array());
    json_object_set_new(ro, "threshold", json_integer(threshold));
    json_t *sg = json_array();
    for (int i = 0; i < n; i++) {
        tr_root_add_key(r, role, keys[i]);
        json_array_append_new(sg, json_integer(keys[i]));
    }
    json_object_set_new(r->signers, role, sg);
}

void tr_publish_root(struct trepo *r, const int *extra, int n_extra)
{
    json_t *root = json_object_get(r->md, "root");
    tr_bump(r, "root");
    const json_t *list = json_object_get(r->signers, "root");
    int keys[32], n = 0;
    for (size_t i = 0; i < json_array_size(list); i++) {
        keys[n++] = (int)json_integer_value(json_array_get(list, i));
    }
    for (int i = 0; i < n_extra; i++) {
        int dup = 0;
        for (int j = 0; j < n; j++) {
            dup |= keys[j] == extra[i];
        }
        if (!dup) {
            keys[n++] = extra[i];
        }
    }
    size_t len;
    uint8_t *b = tr_sign(r, root, keys, n, &len);
    char name[64];
    snprintf(name, sizeof(name), "%lld.root.json", (long long)json_integer_value(json_object_get(root, "version")));
    tr_write(r, name, b, len);
    free(b);
}

void tr_add_target(struct trepo *r, const char *role, const char *path, const char *content)
{
    size_t len = strlen(content);
    uint8_t d[32];
    char hex[65];
    if (fwt_sha256(content, len, d) != FWT_OK) {
        die("sha256");
    }
    fwt_hex_encode(d, 32, hex);
    json_object_set_new(json_object_get(json_object_get(r->md, role), "targets"), path,
                        json_pack("{s:i, s:{s:s}, s:{s:s}}", "length", (int)len, "hashes", "sha256", hex, "custom",
                                  "role", role));
    /* served both plain and hash-prefixed */
    tr_write_target(r, path, content, len);
    char pre[1024];
    const char *slash = strrchr(path, '/');
    int dl = slash ? (int)(slash - path + 1) : 0;
    snprintf(pre, sizeof(pre), "%.*s%s.%s", dl, path, hex, path + dl);
    tr_write_target(r, pre, content, len);
}

void tr_delegate(struct trepo *r, const char *from, const char *name, const char *paths_json, int terminating,
                 int key)
{
    json_t *f = json_object_get(r->md, from);
    json_t *d = json_object_get(f, "delegations");
    if (!d) {
        d = json_pack("{s:{}, s:[]}", "keys", "roles");
        json_object_set_new(f, "delegations", d);
    }
    json_object_set(json_object_get(d, "keys"), pool[key].id, pool[key].obj);
    json_t *paths = json_loads(paths_json, 0, NULL);
    json_array_append_new(json_object_get(d, "roles"),
                          json_pack("{s:s, s:[s], s:i, s:b, s:o}", "name", name, "keyids", pool[key].id, "threshold", 1,
                                    "terminating", terminating, "paths", paths));
    json_t *t = new_signed(r, "targets");
    json_object_set_new(t, "targets", json_object());
    json_object_set_new(r->md, name, t);
    set_signers(r, name, key);
    json_object_set_new(r->parent, name, json_string(from));
}

static json_t *metafile(struct trepo *r, int64_t version, const uint8_t *b, size_t len)
{
    json_t *m = json_pack("{s:I}", "version", (json_int_t)version);
    if (r->meta_hashes) {
        uint8_t d[32];
        char hex[65];
        if (fwt_sha256(b, len, d) != FWT_OK) {
            die("sha256");
        }
        fwt_hex_encode(d, 32, hex);
        json_object_set_new(m, "length", json_integer((json_int_t)len));
        json_object_set_new(m, "hashes", json_pack("{s:s}", "sha256", hex));
    }
    return m;
}

void tr_publish(struct trepo *r)
{
    json_t *snap = json_object_get(r->md, "snapshot");
    if (r->published) {
        tr_bump(r, "snapshot");
    }
    json_t *meta = json_object();
    const char *role;
    json_t *v;
    json_object_foreach(r->md, role, v) {
        if (strcmp(json_string_value(json_object_get(v, "_type")), "targets") != 0) {
            continue;
        }
        size_t len;
        uint8_t *b = tr_sign(r, v, NULL, -1, &len);
        int64_t ver = json_integer_value(json_object_get(v, "version"));
        char *q = fwt_tuf_quote(role);
        char name[512];
        snprintf(name, sizeof(name), "%lld.%s.json", (long long)ver, q);
        tr_write(r, name, b, len);
        snprintf(name, sizeof(name), "%s.json", q);
        tr_write(r, name, b, len);
        free(q);
        snprintf(name, sizeof(name), "%s.json", role);
        json_object_set_new(meta, name, metafile(r, ver, b, len));
        free(b);
    }
    json_object_set_new(snap, "meta", meta);
    size_t len;
    uint8_t *b = tr_sign(r, snap, NULL, -1, &len);
    char name[64];
    int64_t sv = json_integer_value(json_object_get(snap, "version"));
    snprintf(name, sizeof(name), "%lld.snapshot.json", (long long)sv);
    tr_write(r, name, b, len);
    tr_write(r, "snapshot.json", b, len);
    json_t *ts = json_object_get(r->md, "timestamp");
    json_object_set_new(ts, "meta", json_pack("{s:o}", "snapshot.json", metafile(r, sv, b, len)));
    free(b);
    if (r->published) {
        tr_bump(r, "timestamp");
    }
    b = tr_sign(r, ts, NULL, -1, &len);
    tr_write(r, "timestamp.json", b, len);
    free(b);
    r->published = 1;
}

void tr_publish_timestamp(struct trepo *r)
{
    json_t *ts = json_object_get(r->md, "timestamp");
    tr_bump(r, "timestamp");
    size_t len;
    uint8_t *b = tr_sign(r, ts, NULL, -1, &len);
    tr_write(r, "timestamp.json", b, len);
    free(b);
}

fwt_err tr_client(struct trepo *r, time_t now, fwt_tuf_client **out)
{
    struct fwt_tuf_client_opts o = {0};
    o.metadata_dir = r->mdir;
    o.metadata_url = r->murl;
    o.targets_url = r->turl;
    o.fixed_now = now ? now : r->now;
    return fwt_tuf_client_open(&o, out);
}

fwt_err tr_refresh(struct trepo *r, time_t now)
{
    fwt_tuf_client *c = NULL;
    fwt_err err = tr_client(r, now, &c);
    if (err == FWT_OK) {
        err = fwt_tuf_refresh(c);
    }
    fwt_tuf_client_free(c);
    return err;
}

fwt_err tr_download(struct trepo *r, const char *name, const char *out_path)
{
    fwt_tuf_client *c = NULL;
    fwt_err err = tr_client(r, 0, &c);
    struct fwt_tuf_target t;
    if (err == FWT_OK) {
        err = fwt_tuf_get_target(c, name, &t);
    }
    if (err == FWT_OK) {
        err = fwt_tuf_download_file(c, &t, out_path, NULL);
    }
    fwt_tuf_client_free(c);
    return err;
}

void tr_snapshot_dir(const char *dir, char out[65])
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort);
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    EVP_DigestInit_ex(mc, EVP_sha256(), NULL);
    for (int i = 0; i < n; i++) {
        if (list[i]->d_name[0] != '.') {
            char p[1024];
            snprintf(p, sizeof(p), "%s/%s", dir, list[i]->d_name);
            size_t len = 0;
            uint8_t *b = tr_read(p, &len);
            EVP_DigestUpdate(mc, list[i]->d_name, strlen(list[i]->d_name) + 1);
            if (b) {
                EVP_DigestUpdate(mc, b, len);
            }
            free(b);
        }
        free(list[i]);
    }
    free(list);
    uint8_t d[32];
    unsigned dl = 0;
    EVP_DigestFinal_ex(mc, d, &dl);
    EVP_MD_CTX_free(mc);
    fwt_hex_encode(d, 32, out);
}
