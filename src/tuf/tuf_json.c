/*
 * fwtrust TUF module: canonical JSON, key objects and key ids, signature
 * verification for TUF key objects, strict JSON loading, time stamps.
 */
#include "tuf_json.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

/* ---- Canonical JSON ---- */

struct cbuf {
    char *p;
    size_t n, cap;
    int oom;
};

static void put(struct cbuf *b, const char *s, size_t len)
{
    if (b->oom) {
        return;
    }
    size_t need;
    if (fwt_add_size(b->n, len, &need) != 0 || fwt_add_size(need, 1, &need) != 0) {
        b->oom = 1;
        return;
    }
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need) {
            if (cap > ((size_t)-1) / 2) {
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

static void put_string(struct cbuf *b, const char *s, size_t len)
{
    put(b, "\"", 1);
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            put(b, s + start, i - start);
            put(b, "\\", 1);
            start = i;
        }
    }
    put(b, s + start, len - start);
    put(b, "\"", 1);
}

static int key_cmp(const void *a, const void *b)
{
    /* strcmp compares bytes as unsigned char: UTF-8 byte order is code point order */
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static fwt_err canon(const json_t *v, struct cbuf *b, int depth)
{
    if (depth > 64) {
        return fwt_fail(FWT_E_META, "JSON nested deeper than 64 levels");
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v);
        const char **keys = malloc((n ? n : 1) * sizeof(*keys));
        if (!keys) {
            return fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        size_t i = 0;
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)(uintptr_t)v, k, val) {
            keys[i++] = k;
        }
        qsort(keys, n, sizeof(*keys), key_cmp);
        put(b, "{", 1);
        fwt_err err = FWT_OK;
        for (i = 0; i < n && err == FWT_OK; i++) {
            if (i) {
                put(b, ",", 1);
            }
            put_string(b, keys[i], strlen(keys[i]));
            put(b, ":", 1);
            err = canon(json_object_get(v, keys[i]), b, depth + 1);
        }
        put(b, "}", 1);
        free(keys);
        return err;
    }
    case JSON_ARRAY:
        put(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) {
                put(b, ",", 1);
            }
            fwt_err err = canon(json_array_get(v, i), b, depth + 1);
            if (err != FWT_OK) {
                return err;
            }
        }
        put(b, "]", 1);
        return FWT_OK;
    case JSON_STRING:
        put_string(b, json_string_value(v), json_string_length(v));
        return FWT_OK;
    case JSON_INTEGER: {
        char tmp[32];
        int n = snprintf(tmp, sizeof(tmp), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        put(b, tmp, (size_t)n);
        return FWT_OK;
    }
    case JSON_TRUE:
        put(b, "true", 4);
        return FWT_OK;
    case JSON_FALSE:
        put(b, "false", 5);
        return FWT_OK;
    case JSON_NULL:
        put(b, "null", 4);
        return FWT_OK;
    case JSON_REAL:
    default:
        return fwt_fail(FWT_E_META, "metadata holds a floating-point number (not allowed in canonical JSON)");
    }
}

fwt_err fwt_tuf_canonical(const json_t *v, char **out, size_t *len)
{
    if (!v) {
        return fwt_fail(FWT_E_META, "nothing to encode");
    }
    struct cbuf b = {NULL, 0, 0, 0};
    fwt_err err = canon(v, &b, 0);
    if (err == FWT_OK && b.oom) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (err == FWT_OK && !b.p) {
        err = fwt_fail(FWT_E_INTERNAL, "empty canonical JSON");
    }
    if (err != FWT_OK) {
        free(b.p);
        return err;
    }
    *out = b.p;
    *len = b.n;
    return FWT_OK;
}

fwt_err fwt_tuf_json_load(const uint8_t *buf, size_t len, const char *what, json_t **out)
{
    *out = NULL;
    if (!buf || len == 0) {
        return fwt_fail(FWT_E_META, "%s: empty", what);
    }
    json_error_t je;
    json_t *v = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        return fwt_fail(FWT_E_META, "%s: not valid JSON (line %d: %.120s)", what, je.line, je.text);
    }
    *out = v;
    return FWT_OK;
}

/* ---- Key ids and key objects ---- */

fwt_err fwt_tuf_keyid(const json_t *key, char keyid[FWT_TUF_KEYID_LEN + 1])
{
    char *c = NULL;
    size_t cl = 0;
    fwt_err err = fwt_tuf_canonical(key, &c, &cl);
    uint8_t d[32];
    if (err == FWT_OK) {
        err = fwt_sha256(c, cl, d);
    }
    free(c);
    if (err == FWT_OK) {
        fwt_hex_encode(d, sizeof(d), keyid);
    }
    return err;
}

fwt_err fwt_tuf_key_object(const fwt_pubkey *pub, json_t **key, char keyid[FWT_TUF_KEYID_LEN + 1])
{
    enum fwt_key_type t = fwt_pubkey_type(pub);
    const char *kt, *scheme;
    char *pubtext = NULL;
    fwt_err err = FWT_OK;
    const struct fwt_alg_desc *row = fwt_alg_by_key(t);
    if (row == NULL) {
        return fwt_fail(FWT_E_KEY, "key type not usable for TUF metadata");
    }
    kt = row->tuf_keytype;
    scheme = row->tuf_scheme;
    if (!strcmp(kt, "ed25519")) {
        /* TUF's ed25519 keyval is the raw key in hex; every other key type is PEM */
        uint8_t raw[32];
        size_t l = sizeof(raw);
        err = fwt_pubkey_raw(pub, raw, &l);
        if (err == FWT_OK && l != 32) {
            err = fwt_fail(FWT_E_KEY, "Ed25519 public key is %zu bytes", l);
        }
        if (err == FWT_OK) {
            pubtext = malloc(65);
            if (!pubtext) {
                return fwt_fail(FWT_E_NOMEM, "out of memory");
            }
            fwt_hex_encode(raw, 32, pubtext);
        }
    } else {
        err = fwt_pubkey_pem(pub, &pubtext);
    }
    if (err != FWT_OK) {
        free(pubtext);
        return err;
    }
    json_t *k = json_pack("{s:s, s:s, s:{s:s}}", "keytype", kt, "scheme", scheme, "keyval", "public", pubtext);
    free(pubtext);
    if (!k) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    err = fwt_tuf_keyid(k, keyid);
    if (err != FWT_OK) {
        json_decref(k);
        return err;
    }
    *key = k;
    return FWT_OK;
}

static fwt_err key_fields(const json_t *key, const char **kt, const char **scheme, const char **pubtext)
{
    *kt = json_string_value(json_object_get(key, "keytype"));
    *scheme = json_string_value(json_object_get(key, "scheme"));
    const json_t *kv = json_object_get(key, "keyval");
    *pubtext = json_string_value(json_object_get(kv, "public"));
    if (!json_is_object(key) || !*kt || !*scheme || !json_is_object(kv) || !*pubtext) {
        return fwt_fail(FWT_E_META, "key needs \"keytype\", \"scheme\" and \"keyval\": {\"public\"} strings");
    }
    return FWT_OK;
}

fwt_err fwt_tuf_key_to_pub(const json_t *key, fwt_pubkey **pub)
{
    *pub = NULL;
    const char *kt, *scheme, *pubtext;
    fwt_err err = key_fields(key, &kt, &scheme, &pubtext);
    if (err != FWT_OK) {
        return err;
    }
    /* The table's row for keytype and scheme; ECDSA keys may also carry the older
     * keytype that repeats the scheme ("ecdsa-sha2-nistp256"). */
    const struct fwt_alg_desc *row = NULL, *a;
    for (size_t i = 0; row == NULL && (a = fwt_alg_at(i)) != NULL; i++) {
        if (!strcmp(scheme, a->tuf_scheme) &&
            (!strcmp(kt, a->tuf_keytype) ||
             (!strcmp(a->tuf_keytype, "ecdsa") && !strcmp(kt, a->tuf_scheme)))) {
            row = a;
        }
    }
    if (row == NULL) {
        return fwt_fail(FWT_E_UNSUPPORTED, "key type '%.32s' with scheme '%.32s' is not supported", kt, scheme);
    }
    if (!strcmp(row->tuf_keytype, "ed25519")) {
        uint8_t raw[32];
        if (strlen(pubtext) != 64 || fwt_hex_decode(pubtext, raw, sizeof(raw)) != FWT_OK) {
            return fwt_fail(FWT_E_META, "ed25519 public key must be 64 hex digits");
        }
        return fwt_pubkey_from_raw(row->key, raw, sizeof(raw), pub);
    }
    err = fwt_pubkey_from_pem(pubtext, strlen(pubtext), pub);
    if (err != FWT_OK) {
        return fwt_fail(FWT_E_META, "%.32s public key is not a PEM public key", kt);
    }
    /* Any key type of the table with this keytype and scheme (RSA: 2048 or 3072 bits). */
    const struct fwt_alg_desc *got = fwt_alg_by_key(fwt_pubkey_type(*pub));
    int ok = got != NULL && !strcmp(got->tuf_keytype, row->tuf_keytype) &&
             !strcmp(got->tuf_scheme, row->tuf_scheme);
    if (!ok) {
        fwt_pubkey_free(*pub);
        *pub = NULL;
        return fwt_fail(FWT_E_META, "the PEM key does not match scheme '%.32s'", scheme);
    }
    return FWT_OK;
}

/* ---- Verifiers ---- */

enum vk_kind { VK_FWT = 1, VK_RSA_PSS = 2, VK_RSA_PKCS1 = 3 };

struct fwt_tuf_vkey {
    enum vk_kind kind;
    fwt_pubkey *pub;  /* VK_FWT: ed25519, ecdsa */
    EVP_PKEY *pkey;   /* VK_RSA_*: RSA verified here (schemes fwt_crypto does not offer) */
    uint8_t *material;
    size_t material_len;
};

void fwt_tuf_vkey_free(struct fwt_tuf_vkey *k)
{
    if (!k) {
        return;
    }
    fwt_pubkey_free(k->pub);
    EVP_PKEY_free(k->pkey);
    free(k->material);
    free(k);
}

static fwt_err set_material(struct fwt_tuf_vkey *k, const char *family, const uint8_t *raw, size_t len)
{
    size_t fl = strlen(family) + 1;
    size_t total;
    if (fwt_add_size(fl, len, &total) != 0 || !(k->material = malloc(total))) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    memcpy(k->material, family, fl);
    memcpy(k->material + fl, raw, len);
    k->material_len = total;
    return FWT_OK;
}

static fwt_err rsa_load(struct fwt_tuf_vkey *k, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (!bio) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    k->pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!k->pkey || EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_RSA) {
        return fwt_fail(FWT_E_META, "rsa public key is not a PEM RSA public key");
    }
    if (EVP_PKEY_get_bits(k->pkey) < 2048 || EVP_PKEY_get_bits(k->pkey) > 16384) {
        return fwt_fail(FWT_E_UNSUPPORTED, "RSA key of %d bits (2048 to 16384 supported)", EVP_PKEY_get_bits(k->pkey));
    }
    unsigned char *der = NULL;
    int dl = i2d_PublicKey(k->pkey, &der);
    if (dl <= 0) {
        return fwt_fail(FWT_E_CRYPTO, "cannot encode an RSA public key");
    }
    fwt_err err = set_material(k, "rsa", der, (size_t)dl);
    OPENSSL_free(der);
    return err;
}

fwt_err fwt_tuf_vkey_new(const json_t *key, struct fwt_tuf_vkey **out)
{
    *out = NULL;
    const char *kt, *scheme, *pubtext;
    fwt_err err = key_fields(key, &kt, &scheme, &pubtext);
    if (err != FWT_OK) {
        return err;
    }
    struct fwt_tuf_vkey *k = calloc(1, sizeof(*k));
    if (!k) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (!strcmp(kt, "rsa") && (!strcmp(scheme, "rsassa-pss-sha256") || !strcmp(scheme, "rsa-pkcs1v15-sha256"))) {
        k->kind = !strcmp(scheme, "rsassa-pss-sha256") ? VK_RSA_PSS : VK_RSA_PKCS1;
        err = rsa_load(k, pubtext);
    } else {
        k->kind = VK_FWT;
        err = fwt_tuf_key_to_pub(key, &k->pub);
        if (err == FWT_OK) {
            uint8_t raw[1024];
            size_t rl = sizeof(raw);
            err = fwt_pubkey_raw(k->pub, raw, &rl);
            if (err == FWT_OK) {
                const struct fwt_alg_desc *row = fwt_alg_by_key(fwt_pubkey_type(k->pub));
                err = row ? set_material(k, row->tuf_keytype, raw, rl)
                          : fwt_fail(FWT_E_KEY, "key type not usable for TUF metadata");
            }
        }
    }
    if (err != FWT_OK) {
        fwt_tuf_vkey_free(k);
        return err;
    }
    *out = k;
    return FWT_OK;
}

fwt_err fwt_tuf_vkey_verify(const struct fwt_tuf_vkey *k, const uint8_t *msg, size_t len, const uint8_t *sig,
                            size_t sig_len)
{
    if (!k || sig_len == 0) {
        return FWT_E_SIGNATURE;
    }
    if (k->kind == VK_FWT) {
        return fwt_verify_message(k->pub, msg, len, sig, sig_len) == FWT_OK ? FWT_OK : FWT_E_SIGNATURE;
    }
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    int ok = mc != NULL && EVP_DigestVerifyInit_ex(mc, &pc, "SHA256", NULL, NULL, k->pkey, NULL) == 1;
    if (ok && k->kind == VK_RSA_PSS) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md_name(pc, "SHA256", NULL) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_AUTO) == 1;
    } else if (ok) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1;
    }
    int r = ok ? EVP_DigestVerify(mc, sig, sig_len, msg, len) : 0;
    EVP_MD_CTX_free(mc);
    return r == 1 ? FWT_OK : FWT_E_SIGNATURE;
}

const uint8_t *fwt_tuf_vkey_material(const struct fwt_tuf_vkey *k, size_t *len)
{
    *len = k->material_len;
    return k->material;
}

/* ---- Time ---- */

void fwt_tuf_time_format(time_t t, char out[21])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20) {
        strcpy(out, "1970-01-01T00:00:00Z");
    }
}

fwt_err fwt_tuf_time_parse(const char *s, time_t *t)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    if (!s || strlen(s) != 20) {
        return fwt_fail(FWT_E_META, "time '%.40s' is not YYYY-MM-DDTHH:MM:SSZ", s ? s : "");
    }
    for (size_t i = 0; i < 20; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i]) {
            return fwt_fail(FWT_E_META, "time '%.40s' is not YYYY-MM-DDTHH:MM:SSZ", s);
        }
    }
    int v[6], off[6] = {0, 5, 8, 11, 14, 17}, w[6] = {4, 2, 2, 2, 2, 2};
    for (int i = 0; i < 6; i++) {
        v[i] = 0;
        for (int j = 0; j < w[i]; j++) {
            v[i] = v[i] * 10 + (s[off[i] + j] - '0');
        }
    }
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = v[0], mo = v[1], d = v[2];
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        v[3] > 23 || v[4] > 59 || v[5] > 59) {
        return fwt_fail(FWT_E_META, "time '%.40s' is not a valid date", s);
    }
    /* days from civil (proleptic Gregorian), no timegm/TZ dependence */
    int yy = mo <= 2 ? y - 1 : y;
    long era = (yy >= 0 ? yy : yy - 399) / 400;
    long yoe = yy - era * 400;
    long doy = (153L * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    long long days = (long long)era * 146097 + doe - 719468;
    long long secs = days * 86400LL + v[3] * 3600LL + v[4] * 60LL + v[5];
    if ((long long)(time_t)secs != secs) {
        return fwt_fail(FWT_E_META, "time '%.40s' does not fit this system's time_t", s);
    }
    *t = (time_t)secs;
    return FWT_OK;
}
