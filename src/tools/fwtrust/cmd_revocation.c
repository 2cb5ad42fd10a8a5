/* fwtrust revocation: make and inspect signed revocation lists (docs/provenance.md). */
#include "image_cmd.h"
#include <fwtrust/fwt_imagefile.h>

#include <fwtrust/fwt_provenance.h>
#include <stdlib.h>
#include <time.h>

static const char *const k_prog = "fwtrust revocation";

#define MAX_KEYS 8
#define MAX_ITEMS 256
#define WORK_SIZE 4096

static struct fwt_key_opts g_ko;
static const char *g_keys[MAX_KEYS], *g_rkeys[MAX_ITEMS], *g_rkvs[MAX_ITEMS], *g_rimgs[MAX_ITEMS];
static struct fwt_opt_list g_key_list = {g_keys, 0, MAX_KEYS}, g_rkey_list = {g_rkeys, 0, MAX_ITEMS},
                           g_rkv_list = {g_rkvs, 0, MAX_ITEMS}, g_rimg_list = {g_rimgs, 0, MAX_ITEMS};
static const char *g_out, *g_base;
static uint64_t g_version;
static uint64_t g_threshold = 1;
static int g_json;

static int fail(fwt_err err)
{
    if (g_json) {
        fwt_cli_json_print(fwt_cli_json_error(err));
    }
    return fwt_cli_error(k_prog, err);
}

/* A key to revoke: 64 hex digits (a key id), or a PEM key / pkcs11: URI whose id is computed. */
static fwt_err key_id_of(const char *spec, uint8_t out[32])
{
    if (strlen(spec) == 64 && fwt_hex_decode(spec, out, 32) == FWT_OK) {
        return FWT_OK;
    }
    fwt_pubkey *pub = NULL;
    fwt_err e = fwt_pubkey_load(spec, &g_ko, &pub);
    if (e != FWT_OK) {
        return fwt_fail(e, "--revoke-key %s: neither a key id (64 hex digits) nor a key: %s", spec,
                        fwt_detail()[0] ? fwt_detail() : "cannot load");
    }
    e = fwt_pubkey_keyhash(pub, out);
    fwt_pubkey_free(pub);
    return e;
}

/* An image to revoke: ALG:HEX, or a signed image file whose digest (hash TLV) is read. */
static fwt_err digest_of(const char *spec, struct fwt_prov_digest *d)
{
    const char *col = strchr(spec, ':');
    memset(d, 0, sizeof(*d));
    if (col) {
        char alg[16];
        size_t al = (size_t)(col - spec);
        const struct fwt_hash_desc *h = NULL;
        if (al < sizeof(alg)) {
            memcpy(alg, spec, al);
            alg[al] = 0;
            h = fwt_hash_by_name(alg);
        }
        if (h && fwt_hex_decode(col + 1, d->value, h->size) == FWT_OK) {
            d->alg = h->alg;
            d->len = h->size;
            return FWT_OK;
        }
    }
    struct fwt_file_io fio;
    fwt_err e = fwt_file_io_open_any(&fio, spec);
    if (e != FWT_OK) {
        return fwt_fail(e, "--revoke-image %s: neither ALG:HEX (sha256, sha384, sha512) nor an image "
                        "file: %s", spec, fwt_detail());
    }
    uint8_t *work = malloc(WORK_SIZE);
    struct fwt_image_info info;
    e = work ? fwt_image_parse(&fio.io, work, WORK_SIZE, &info) : FWT_E_NOMEM;
    free(work);
    fwt_file_io_close(&fio);
    if (e != FWT_OK) {
        return fwt_fail(e, "--revoke-image %s: not an image: %s", spec, fwt_detail());
    }
    d->alg = info.hash_alg;
    d->len = info.digest_len;
    memcpy(d->value, info.digest, info.digest_len);
    return FWT_OK;
}

static json_t *list_json(const struct fwt_revocation *r)
{
    json_t *o = json_object(), *k = json_array(), *v = json_array(), *d = json_array();
    for (size_t i = 0; i < r->n_key_ids; i++) {
        char hex[65];
        fwt_hex_encode(r->key_ids[i], 32, hex);
        json_array_append_new(k, json_string(hex));
    }
    for (size_t i = 0; i < r->n_key_versions; i++) {
        json_array_append_new(v, json_integer(r->key_versions[i]));
    }
    for (size_t i = 0; i < r->n_digests; i++) {
        char hex[2 * FWT_DIGEST_MAX + 1];
        fwt_hex_encode(r->digests[i].value, r->digests[i].len, hex);
        json_array_append_new(d, json_pack("{s:s}", fwt_hash_name(r->digests[i].alg), hex));
    }
    json_object_set_new(o, "version", json_integer((json_int_t)r->version));
    json_object_set_new(o, "issued", json_string(r->issued));
    json_object_set_new(o, "key_ids", k);
    json_object_set_new(o, "key_versions", v);
    json_object_set_new(o, "image_digests", d);
    return o;
}

/* The entries of --base (an earlier list, its signatures not checked: the new one is signed). */
static fwt_err load_base(const char *path, struct fwt_revocation *r)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    struct fwt_dsse_envelope env;
    fwt_err e = fwt_read_file(path, FWT_DSSE_MAX, &buf, &len);
    if (e == FWT_OK && (e = fwt_dsse_parse(buf, len, &env)) == FWT_OK) {
        if (strcmp(env.payload_type, FWT_REVOCATION_PAYLOAD_TYPE) != 0) {
            e = fwt_fail(FWT_E_META, "not a revocation list (payload type %.80s)", env.payload_type);
        } else {
            e = fwt_revocation_parse(env.payload, env.payload_len, r);
        }
        fwt_dsse_free(&env);
    }
    free(buf);
    return e == FWT_OK ? FWT_OK : fwt_fail(e, "--base %s: %s", path, fwt_detail());
}

static int cmd_make(void)
{
    if (g_key_list.n == 0 || g_version == 0 || !g_out) {
        return fwt_cli_usage_error(k_prog, "make needs --key, --version (1 or more) and -o");
    }
    struct fwt_revocation base, r;
    memset(&base, 0, sizeof(base));
    memset(&r, 0, sizeof(r));
    fwt_err err = g_base ? load_base(g_base, &base) : FWT_OK;
    if (err == FWT_OK && g_base && g_version <= base.version) {
        err = fwt_fail(FWT_E_META_ROLLBACK, "--version %llu is not above --base's version %llu: devices "
                       "would refuse the list", (unsigned long long)g_version,
                       (unsigned long long)base.version);
    }
    r.version = g_version;
    fwt_rfc3339((int64_t)time(NULL), r.issued);
    size_t nk = base.n_key_ids + g_rkey_list.n, nv = base.n_key_versions + g_rkv_list.n,
           nd = base.n_digests + g_rimg_list.n;
    r.key_ids = calloc(nk ? nk : 1, 32);
    r.key_versions = calloc(nv ? nv : 1, sizeof(uint32_t));
    r.digests = calloc(nd ? nd : 1, sizeof(*r.digests));
    if (err == FWT_OK && (!r.key_ids || !r.key_versions || !r.digests)) {
        err = FWT_E_NOMEM;
    }
    if (err == FWT_OK) {
        if (base.n_key_ids) {
            memcpy(r.key_ids, base.key_ids, base.n_key_ids * 32);
        }
        if (base.n_key_versions) {
            memcpy(r.key_versions, base.key_versions, base.n_key_versions * sizeof(uint32_t));
        }
        if (base.n_digests) {
            memcpy(r.digests, base.digests, base.n_digests * sizeof(*r.digests));
        }
        r.n_key_ids = base.n_key_ids;
        r.n_key_versions = base.n_key_versions;
        r.n_digests = base.n_digests;
    }
    for (size_t i = 0; err == FWT_OK && i < g_rkey_list.n; i++) {
        err = key_id_of(g_rkeys[i], r.key_ids[r.n_key_ids++]);
    }
    for (size_t i = 0; err == FWT_OK && i < g_rkv_list.n; i++) {
        uint32_t v;
        if (fwt_parse_u32(g_rkvs[i], &v) != FWT_OK) {
            err = fwt_fail(FWT_E_ARG, "--revoke-key-version '%s': not a number up to 4294967295", g_rkvs[i]);
        } else {
            r.key_versions[r.n_key_versions++] = v;
        }
    }
    for (size_t i = 0; err == FWT_OK && i < g_rimg_list.n; i++) {
        err = digest_of(g_rimgs[i], &r.digests[r.n_digests++]);
    }
    char *payload = NULL, *text = NULL;
    size_t pl = 0, tl = 0;
    struct fwt_dsse_envelope env;
    memset(&env, 0, sizeof(env));
    if (err == FWT_OK) {
        err = fwt_revocation_encode(&r, &payload, &pl);
    }
    if (err == FWT_OK) {
        err = fwt_dsse_init(&env, FWT_REVOCATION_PAYLOAD_TYPE, (const uint8_t *)payload, pl);
    }
    for (size_t i = 0; err == FWT_OK && i < g_key_list.n; i++) {
        fwt_privkey *key = NULL;
        err = fwt_privkey_load(g_keys[i], &g_ko, &key);
        if (err != FWT_OK) {
            err = fwt_fail(err, "key %s: %s", g_keys[i], fwt_detail()[0] ? fwt_detail() : "cannot load");
        } else {
            err = fwt_dsse_sign(&env, key);
        }
        fwt_privkey_free(key);
    }
    if (err == FWT_OK) {
        err = fwt_dsse_serialize(&env, &text, &tl);
    }
    if (err == FWT_OK) {
        err = fwt_write_file_atomic(g_out, text, tl, 0644);
    }
    struct fwt_revocation back;
    if (err == FWT_OK) {
        err = fwt_revocation_parse((const uint8_t *)payload, pl, &back);
    }
    free(payload);
    free(text);
    fwt_dsse_free(&env);
    fwt_revocation_free(&r);
    fwt_revocation_free(&base);
    if (err != FWT_OK) {
        return fail(err);
    }
    if (g_json) {
        json_t *o = list_json(&back);
        json_object_set_new(o, "ok", json_true());
        json_object_set_new(o, "output", json_string(g_out));
        fwt_cli_json_print(o);
    } else {
        printf("wrote %s: revocation list version %llu, %zu key id(s), %zu key version(s), %zu image "
               "digest(s)\n", g_out, (unsigned long long)back.version, back.n_key_ids,
               back.n_key_versions, back.n_digests);
    }
    fwt_revocation_free(&back);
    return 0;
}

static int cmd_inspect(const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err err = fwt_read_file(path, FWT_DSSE_MAX, &buf, &len);
    struct fwt_revocation r;
    memset(&r, 0, sizeof(r));
    int verified = 0;
    if (err == FWT_OK && g_key_list.n) {
        fwt_pubkey *keys[MAX_KEYS] = {NULL};
        size_t n = 0;
        for (size_t i = 0; err == FWT_OK && i < g_key_list.n; i++) {
            if ((err = fwt_pubkey_load(g_keys[i], &g_ko, &keys[i])) == FWT_OK) {
                n++;
            }
        }
        if (err == FWT_OK) {
            err = fwt_revocation_open(buf, len, (const fwt_pubkey *const *)keys, n, (size_t)g_threshold, &r);
            verified = err == FWT_OK;
        }
        for (size_t i = 0; i < n; i++) {
            fwt_pubkey_free(keys[i]);
        }
    } else if (err == FWT_OK) {
        struct fwt_dsse_envelope env;
        if ((err = fwt_dsse_parse(buf, len, &env)) == FWT_OK) {
            err = strcmp(env.payload_type, FWT_REVOCATION_PAYLOAD_TYPE)
                      ? fwt_fail(FWT_E_META, "payload type %.80s is not a revocation list", env.payload_type)
                      : fwt_revocation_parse(env.payload, env.payload_len, &r);
            fwt_dsse_free(&env);
        }
    }
    free(buf);
    if (err != FWT_OK) {
        return fail(fwt_fail(err, "%s: %s", path, fwt_detail()));
    }
    json_t *o = list_json(&r);
    json_object_set_new(o, "verified", json_boolean(verified));
    fwt_revocation_free(&r);
    if (g_json) {
        json_object_set_new(o, "ok", json_true());
        fwt_cli_json_print(o);
        return 0;
    }
    printf("version        %lld\nissued         %s\nsignatures     %s\n",
           (long long)json_integer_value(json_object_get(o, "version")),
           json_string_value(json_object_get(o, "issued")),
           verified ? "valid (threshold met)" : "not checked (give --key)");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(o, "key_ids"), i, v)
    {
        printf("revoked key    %s\n", json_string_value(v));
    }
    json_array_foreach(json_object_get(o, "key_versions"), i, v)
    {
        printf("revoked keyver %lld\n", (long long)json_integer_value(v));
    }
    json_array_foreach(json_object_get(o, "image_digests"), i, v)
    {
        const char *alg;
        json_t *h;
        json_object_foreach(v, alg, h)
        {
            printf("revoked image  %s:%s\n", alg, json_string_value(h));
        }
    }
    json_decref(o);
    return 0;
}

static const struct fwt_opt k_global[] = {
    FWT_OPT_FLAG_(0, "json", &g_json, "print the result as JSON"),
    FWT_KEY_OPTS(g_ko),
    FWT_OPT_END_,
};
static const struct fwt_opt k_make[] = {
    FWT_OPT_LIST_('k', "key", "KEY", &g_key_list,
                  "revocation signing key (PEM file or pkcs11: URI);\n"
                  "repeatable, up to 8; required"),
    FWT_OPT_U64_(0, "version", "N", &g_version, 1, (uint64_t)1 << 53,
                 "the list's version: above every list published before; required"),
    FWT_OPT_STR_(0, "base", "LIST", &g_base, "start from the entries of an earlier list (its version must be lower)"),
    FWT_OPT_LIST_(0, "revoke-key", "KEY|ID", &g_rkey_list,
                  "revoke a key: a public key (PEM or pkcs11:) or its key id\n"
                  "(64 hex digits, as 'fwtrust inspect' prints KEYHASH); repeatable"),
    FWT_OPT_LIST_(0, "revoke-key-version", "N", &g_rkv_list, "revoke a certificate key version; repeatable"),
    FWT_OPT_LIST_(0, "revoke-image", "IMAGE|ALG:HEX", &g_rimg_list,
                  "revoke an image by digest: a signed image file or\n"
                  "sha256:HEX (sha384, sha512); repeatable"),
    FWT_OPT_STR_('o', "output", "LIST", &g_out, "where to write the signed list (a DSSE envelope); required"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_inspect[] = {
    FWT_OPT_LIST_('k', "key", "PUB", &g_key_list, "check the signatures with these keys (repeatable)"),
    FWT_OPT_U64_(0, "threshold", "K", &g_threshold, 1, MAX_KEYS, "distinct keys required with --key (default 1)"),
    FWT_OPT_END_,
};
static const struct fwt_cli_cmd k_cmds[] = {
    {"make", "", 0, 0, "write a signed revocation list",
     "Writes a revocation list (key ids, certificate key versions, image digests) with\n"
     "a version, signed as a DSSE envelope by each --key. Publish it as a TUF target\n"
     "(fwtrust repo add-target REPO LIST --name revocation.json): devices with\n"
     "[revocation] keys fetch it at each update, store it and refuse what it revokes,\n"
     "at install and at boot; they refuse a list whose version is not above theirs.",
     k_make},
    {"inspect", "LIST", 1, 1, "print a revocation list; with --key also check its signatures", NULL,
     k_inspect},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};
static const struct fwt_cli_prog k_cli = {
    .name = "fwtrust revocation",
    .description = "Make and inspect signed revocation lists (docs/provenance.md).",
    .opts = k_global,
    .cmds = k_cmds,
    .epilog = "Exit status (docs/exit-codes.md): 0 ok; 1 usage; 2 I/O; 7 key; 8 not found;\n"
              "20 malformed list; 28 signatures below the threshold; 40 not a revocation list;\n"
              "43 --version not above --base's.",
};

static int run(int argc, char **argv)
{
    struct fwt_cli_args args;
    int rc = fwt_cli_parse_group(&k_cli, argc, argv, &args);
    if (rc >= 0) {
        return rc;
    }
    if (args.cmd == &k_cmds[0]) {
        return cmd_make();
    }
    return cmd_inspect(args.argv[0]);
}

const struct fwt_command fwt_cmd_revocation = {"revocation", "make and inspect signed revocation lists", run};
