/*
 * Signing log encodings: log entries (canonical JSON), signed tree heads,
 * inclusion and consistency proofs (JSON), and the checks of proofs against
 * tree heads. See docs/key-custody.md for the formats.
 */
#include "keys_priv.h"

#include <stdlib.h>
#include <string.h>

static const char *const k_record_keys[] = {"digest", "hw_id", "key_id", "security_counter",
                                            "signer", "time", "version", NULL};

static int signer_ok(const char *s, size_t *len)
{
    size_t n = strnlen(s, FWT_SIGNLOG_SIGNER_MAX);
    if (n == 0 || n >= FWT_SIGNLOG_SIGNER_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\') {
            return 0;
        }
    }
    *len = n;
    return 1;
}

static int digest_len_ok(size_t n)
{
    return n == 32 || n == 48 || n == 64;
}

/* Strict "M.m.r+b" with plain decimal numbers (no signs, no leading zeros). */
static int parse_dec(const char **p, uint64_t max, char stop, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        v = v * 10 + (uint64_t)(s[n] - '0');
        if (v > max || n > 10) {
            return -1;
        }
        n++;
    }
    if (n == 0 || (n > 1 && s[0] == '0') || s[n] != stop) {
        return -1;
    }
    *out = v;
    *p = s + n + (stop ? 1 : 0);
    return 0;
}

static int version_parse(const char *s, struct fwt_version *v)
{
    uint64_t a, b, c, d;
    if (parse_dec(&s, 0xff, '.', &a) || parse_dec(&s, 0xff, '.', &b) ||
        parse_dec(&s, 0xffff, '+', &c) || parse_dec(&s, 0xffffffffu, '\0', &d)) {
        return -1;
    }
    v->major = (uint8_t)a;
    v->minor = (uint8_t)b;
    v->revision = (uint16_t)c;
    v->build = (uint32_t)d;
    return 0;
}

fwt_err fwt_signlog_record_encode(const struct fwt_signlog_record *rec, char **out,
                                  size_t *out_len)
{
    *out = NULL;
    size_t sl;
    if (!digest_len_ok(rec->digest_len)) {
        return fwt_fail(FWT_E_ARG, "log entry: digest of %zu bytes", rec->digest_len);
    }
    if (rec->hw_id_len > FWT_HW_ID_MAX) {
        return fwt_fail(FWT_E_ARG, "log entry: hardware id of %zu bytes", rec->hw_id_len);
    }
    if (!signer_ok(rec->signer, &sl)) {
        return fwt_fail(FWT_E_ARG, "log entry: signer identity must be 1 to %u printable ASCII "
                                   "characters without '\"' or '\\'",
                        FWT_SIGNLOG_SIGNER_MAX - 1);
    }
    if (rec->time > (uint64_t)INT64_MAX) {
        return fwt_fail(FWT_E_ARG, "log entry: time out of range");
    }
    char vs[48];
    fwt_version_format(&rec->version, vs, sizeof(vs));
    json_t *o = json_object();
    int bad = !o;
    bad |= !o || json_object_set_new(o, "digest", fwt_keys_json_hexstr(rec->digest,
                                                                      rec->digest_len));
    bad |= !o || json_object_set_new(o, "hw_id", fwt_keys_json_hexstr(rec->hw_id, rec->hw_id_len));
    bad |= !o || json_object_set_new(o, "key_id", fwt_keys_json_hexstr(rec->keyhash, 32));
    bad |= !o || json_object_set_new(o, "security_counter",
                                     rec->has_security_counter
                                         ? json_integer((json_int_t)rec->security_counter)
                                         : json_null());
    bad |= !o || json_object_set_new(o, "signer", json_stringn(rec->signer, sl));
    bad |= !o || json_object_set_new(o, "time", json_integer((json_int_t)rec->time));
    bad |= !o || json_object_set_new(o, "version", json_string(vs));
    char *s = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!s) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    size_t n = strlen(s);
    if (n > FWT_SIGNLOG_ENTRY_MAX) {
        free(s);
        return fwt_fail(FWT_E_TOO_LARGE, "log entry larger than %u bytes", FWT_SIGNLOG_ENTRY_MAX);
    }
    *out = s;
    if (out_len) {
        *out_len = n;
    }
    return FWT_OK;
}

fwt_err fwt_signlog_record_parse(const uint8_t *buf, size_t len, struct fwt_signlog_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    if (!buf || len == 0 || len > FWT_SIGNLOG_ENTRY_MAX) {
        return fwt_fail(FWT_E_MALFORMED, "log entry: %zu bytes (1 to %u allowed)", len,
                        FWT_SIGNLOG_ENTRY_MAX);
    }
    const char *what = "log entry";
    json_t *o = NULL;
    fwt_err e = fwt_keys_json_object((const char *)buf, len, what, &o);
    if (e != FWT_OK) {
        return FWT_E_MALFORMED;
    }
    uint64_t u;
    size_t hl = 0;
    if ((e = fwt_keys_json_keys(o, what, k_record_keys)) != FWT_OK ||
        (e = fwt_keys_json_hex(o, "digest", what, rec->digest, 0, FWT_DIGEST_MAX,
                               &rec->digest_len)) != FWT_OK ||
        (e = fwt_keys_json_hex(o, "key_id", what, rec->keyhash, 32, 0, NULL)) != FWT_OK ||
        (e = fwt_keys_json_u64(o, "time", what, (uint64_t)INT64_MAX, &rec->time)) != FWT_OK) {
        goto out;
    }
    if (!digest_len_ok(rec->digest_len)) {
        e = fwt_fail(FWT_E_MALFORMED, "log entry: digest of %zu bytes", rec->digest_len);
        goto out;
    }
    json_t *hw = json_object_get(o, "hw_id");
    if (json_is_string(hw) && json_string_length(hw) == 0) {
        rec->hw_id_len = 0;
    } else if ((e = fwt_keys_json_hex(o, "hw_id", what, rec->hw_id, 0, FWT_HW_ID_MAX, &hl)) !=
               FWT_OK) {
        goto out;
    } else {
        rec->hw_id_len = hl;
    }
    json_t *sc = json_object_get(o, "security_counter");
    if (!json_is_null(sc)) {
        if ((e = fwt_keys_json_u64(o, "security_counter", what, UINT32_MAX, &u)) != FWT_OK) {
            goto out;
        }
        rec->has_security_counter = 1;
        rec->security_counter = (uint32_t)u;
    }
    json_t *sg = json_object_get(o, "signer");
    size_t sl;
    if (!json_is_string(sg) || json_string_length(sg) >= FWT_SIGNLOG_SIGNER_MAX ||
        strlen(json_string_value(sg)) != json_string_length(sg)) {
        e = fwt_fail(FWT_E_MALFORMED, "log entry: bad \"signer\"");
        goto out;
    }
    memcpy(rec->signer, json_string_value(sg), json_string_length(sg) + 1);
    if (!signer_ok(rec->signer, &sl)) {
        e = fwt_fail(FWT_E_MALFORMED, "log entry: \"signer\" must be printable ASCII");
        goto out;
    }
    json_t *vv = json_object_get(o, "version");
    if (!json_is_string(vv) || version_parse(json_string_value(vv), &rec->version) != 0) {
        e = fwt_fail(FWT_E_MALFORMED, "log entry: \"version\" must be MAJOR.MINOR.REVISION+BUILD");
        goto out;
    }
    /* Exactly the canonical encoding: re-encode and compare byte for byte. */
    char *canon = NULL;
    size_t cl = 0;
    if ((e = fwt_signlog_record_encode(rec, &canon, &cl)) != FWT_OK) {
        e = FWT_E_MALFORMED;
        goto out;
    }
    if (cl != len || memcmp(canon, buf, len) != 0) {
        e = fwt_fail(FWT_E_MALFORMED, "log entry is not in canonical form (compact JSON, sorted "
                                      "keys, lower-case hex)");
    }
    free(canon);
out:
    json_decref(o);
    if (e != FWT_OK) {
        memset(rec, 0, sizeof(*rec));
        return FWT_E_MALFORMED;
    }
    return FWT_OK;
}

/* ---- Signed tree heads ---- */

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

void fwt_signlog_sth_tbs(const struct fwt_signlog_sth *sth, uint8_t out[FWT_SIGNLOG_STH_TBS_SIZE])
{
    memcpy(out, FWT_SIGNLOG_STH_MAGIC, 8);
    memcpy(out + 8, sth->log_id, 32);
    put_be64(out + 40, sth->tree_size);
    put_be64(out + 48, sth->timestamp);
    memcpy(out + 56, sth->root, 32);
}

fwt_err fwt_signlog_sth_verify(const struct fwt_signlog_sth *sth, const fwt_pubkey *pub)
{
    uint8_t kh[32], tbs[FWT_SIGNLOG_STH_TBS_SIZE];
    fwt_err e = fwt_pubkey_keyhash(pub, kh);
    if (e != FWT_OK) {
        return e;
    }
    if (fwt_ct_compare(kh, sth->log_id, 32) != 0) {
        return fwt_fail(FWT_E_SIGNATURE, "tree head of size %llu names another log key",
                        (unsigned long long)sth->tree_size);
    }
    if (sth->sig_len == 0 || sth->sig_len > FWT_SIGNLOG_SIG_MAX) {
        return fwt_fail(FWT_E_SIGNATURE, "tree head of size %llu has no valid signature",
                        (unsigned long long)sth->tree_size);
    }
    fwt_signlog_sth_tbs(sth, tbs);
    if (fwt_verify_message(pub, tbs, sizeof(tbs), sth->sig, sth->sig_len) != FWT_OK) {
        return fwt_fail(FWT_E_SIGNATURE, "signature on the tree head of size %llu does not verify "
                                         "with the log key",
                        (unsigned long long)sth->tree_size);
    }
    return FWT_OK;
}

static const char *const k_sth_keys[] = {"log_id", "root_hash", "signature", "timestamp",
                                         "tree_size", NULL};

fwt_err fwt_signlog_sth_to_json(const struct fwt_signlog_sth *sth, char **out)
{
    json_t *o = json_pack("{s:o, s:o, s:o, s:I, s:I}", "log_id",
                          fwt_keys_json_hexstr(sth->log_id, 32), "root_hash",
                          fwt_keys_json_hexstr(sth->root, 32), "signature",
                          fwt_keys_json_hexstr(sth->sig, sth->sig_len), "timestamp",
                          (json_int_t)sth->timestamp, "tree_size", (json_int_t)sth->tree_size);
    *out = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return *out ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
}

fwt_err fwt_signlog_sth_from_json(const char *text, size_t len, struct fwt_signlog_sth *sth)
{
    const char *what = "tree head";
    memset(sth, 0, sizeof(*sth));
    json_t *o = NULL;
    fwt_err e = fwt_keys_json_object(text, len, what, &o);
    if (e == FWT_OK && (e = fwt_keys_json_keys(o, what, k_sth_keys)) == FWT_OK &&
        (e = fwt_keys_json_hex(o, "log_id", what, sth->log_id, 32, 0, NULL)) == FWT_OK &&
        (e = fwt_keys_json_hex(o, "root_hash", what, sth->root, 32, 0, NULL)) == FWT_OK &&
        (e = fwt_keys_json_hex(o, "signature", what, sth->sig, 0, FWT_SIGNLOG_SIG_MAX,
                               &sth->sig_len)) == FWT_OK &&
        (e = fwt_keys_json_u64(o, "timestamp", what, (uint64_t)INT64_MAX, &sth->timestamp)) ==
            FWT_OK) {
        e = fwt_keys_json_u64(o, "tree_size", what, FWT_SIGNLOG_SIZE_MAX, &sth->tree_size);
    }
    json_decref(o);
    if (e != FWT_OK) {
        memset(sth, 0, sizeof(*sth));
        return FWT_E_MALFORMED;
    }
    return FWT_OK;
}

/* ---- Inclusion proofs ---- */

void fwt_signlog_proof_free(struct fwt_signlog_proof *p)
{
    if (p) {
        free(p->entry);
        memset(p, 0, sizeof(*p));
    }
}

static json_t *path_json(const uint8_t (*path)[32], size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        if (json_array_append_new(a, fwt_keys_json_hexstr(path[i], 32)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static const char *const k_proof_keys[] = {"entry", "index", "path", "tree_size", NULL};

fwt_err fwt_signlog_proof_to_json(const struct fwt_signlog_proof *p, char **out)
{
    json_t *o = json_pack("{s:s%, s:I, s:o, s:I}", "entry", p->entry ? p->entry : "",
                          p->entry ? p->entry_len : 0, "index", (json_int_t)p->index, "path",
                          path_json(p->path, p->path_len), "tree_size", (json_int_t)p->tree_size);
    *out = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return *out ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
}

fwt_err fwt_signlog_proof_from_json(const char *text, size_t len, struct fwt_signlog_proof *p)
{
    const char *what = "inclusion proof";
    memset(p, 0, sizeof(*p));
    json_t *o = NULL;
    fwt_err e = fwt_keys_json_object(text, len, what, &o);
    if (e == FWT_OK && (e = fwt_keys_json_keys(o, what, k_proof_keys)) == FWT_OK &&
        (e = fwt_keys_json_u64(o, "index", what, FWT_SIGNLOG_SIZE_MAX, &p->index)) == FWT_OK &&
        (e = fwt_keys_json_u64(o, "tree_size", what, FWT_SIGNLOG_SIZE_MAX, &p->tree_size)) ==
            FWT_OK) {
        e = fwt_keys_json_path(o, "path", what, p->path, FWT_SIGNLOG_PATH_MAX, &p->path_len);
    }
    if (e == FWT_OK) {
        json_t *en = json_object_get(o, "entry");
        size_t el = json_is_string(en) ? json_string_length(en) : 0;
        if (el == 0 || el > FWT_SIGNLOG_ENTRY_MAX) {
            e = fwt_fail(FWT_E_MALFORMED, "%s: \"entry\" must be the entry's text (1 to %u bytes)",
                         what, FWT_SIGNLOG_ENTRY_MAX);
        } else if (!(p->entry = malloc(el + 1))) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        } else {
            memcpy(p->entry, json_string_value(en), el);
            p->entry[el] = '\0';
            p->entry_len = el;
        }
    }
    json_decref(o);
    if (e != FWT_OK) {
        fwt_signlog_proof_free(p);
        return e == FWT_E_NOMEM ? e : FWT_E_MALFORMED;
    }
    return FWT_OK;
}

fwt_err fwt_signlog_proof_check(const struct fwt_signlog_proof *p, const struct fwt_signlog_sth *sth)
{
    if (p->tree_size != sth->tree_size) {
        return fwt_fail(FWT_E_ARG, "the proof is for a tree of %llu entries, the tree head has %llu",
                        (unsigned long long)p->tree_size, (unsigned long long)sth->tree_size);
    }
    if (!p->entry || p->entry_len == 0) {
        return fwt_fail(FWT_E_ARG, "the proof carries no entry");
    }
    struct fwt_signlog_record rec;
    if (fwt_signlog_record_parse((const uint8_t *)p->entry, p->entry_len, &rec) != FWT_OK) {
        return fwt_fail(FWT_E_MALFORMED, "the proof's entry is not a valid log entry: %s",
                        fwt_detail());
    }
    uint8_t leaf[32];
    fwt_err e = fwt_merkle_leaf_hash((const uint8_t *)p->entry, p->entry_len, leaf);
    if (e != FWT_OK) {
        return e;
    }
    e = fwt_merkle_inclusion_verify(leaf, p->index, p->tree_size,
                                    (const uint8_t(*)[FWT_MERKLE_HASH])p->path, p->path_len,
                                    sth->root);
    if (e == FWT_E_ARG) {
        return fwt_fail(FWT_E_DIGEST, "entry %llu cannot be in a tree of %llu entries",
                        (unsigned long long)p->index, (unsigned long long)p->tree_size);
    }
    return e;
}

/* ---- Consistency proofs ---- */

static const char *const k_cons_keys[] = {"from", "from_root", "path", "to", "to_root", NULL};

fwt_err fwt_signlog_consistency_to_json(const struct fwt_signlog_consistency *c, char **out)
{
    json_t *o = json_pack("{s:I, s:o, s:o, s:I, s:o}", "from", (json_int_t)c->from, "from_root",
                          fwt_keys_json_hexstr(c->from_root, 32), "path",
                          path_json(c->path, c->path_len), "to", (json_int_t)c->to, "to_root",
                          fwt_keys_json_hexstr(c->to_root, 32));
    *out = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return *out ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
}

fwt_err fwt_signlog_consistency_from_json(const char *text, size_t len,
                                          struct fwt_signlog_consistency *c)
{
    const char *what = "consistency proof";
    memset(c, 0, sizeof(*c));
    json_t *o = NULL;
    fwt_err e = fwt_keys_json_object(text, len, what, &o);
    if (e == FWT_OK && (e = fwt_keys_json_keys(o, what, k_cons_keys)) == FWT_OK &&
        (e = fwt_keys_json_u64(o, "from", what, FWT_SIGNLOG_SIZE_MAX, &c->from)) == FWT_OK &&
        (e = fwt_keys_json_u64(o, "to", what, FWT_SIGNLOG_SIZE_MAX, &c->to)) == FWT_OK &&
        (e = fwt_keys_json_hex(o, "from_root", what, c->from_root, 32, 0, NULL)) == FWT_OK &&
        (e = fwt_keys_json_hex(o, "to_root", what, c->to_root, 32, 0, NULL)) == FWT_OK) {
        e = fwt_keys_json_path(o, "path", what, c->path, FWT_SIGNLOG_PATH_MAX, &c->path_len);
    }
    json_decref(o);
    if (e != FWT_OK) {
        memset(c, 0, sizeof(*c));
        return FWT_E_MALFORMED;
    }
    return FWT_OK;
}

fwt_err fwt_signlog_consistency_check(const struct fwt_signlog_consistency *c,
                                      const struct fwt_signlog_sth *from_sth,
                                      const struct fwt_signlog_sth *to_sth)
{
    if (from_sth->tree_size != c->from || to_sth->tree_size != c->to) {
        return fwt_fail(FWT_E_ARG, "the proof is from %llu to %llu entries, the tree heads have "
                                   "%llu and %llu",
                        (unsigned long long)c->from, (unsigned long long)c->to,
                        (unsigned long long)from_sth->tree_size,
                        (unsigned long long)to_sth->tree_size);
    }
    if (fwt_ct_compare(c->from_root, from_sth->root, 32) != 0 ||
        fwt_ct_compare(c->to_root, to_sth->root, 32) != 0) {
        return fwt_fail(FWT_E_DIGEST, "the proof's root hashes are not the tree heads' roots");
    }
    if (c->from > c->to) {
        return fwt_fail(FWT_E_DIGEST, "the log shrank from %llu to %llu entries",
                        (unsigned long long)c->from, (unsigned long long)c->to);
    }
    if (c->from == 0) {
        uint8_t empty[32];
        fwt_err e = fwt_merkle_root(NULL, 0, empty);
        if (e != FWT_OK) {
            return e;
        }
        if (c->path_len != 0 || fwt_ct_compare(empty, c->from_root, 32) != 0) {
            return fwt_fail(FWT_E_DIGEST, "the empty tree's proof must be empty and its root "
                                          "SHA-256(\"\")");
        }
        return FWT_OK;
    }
    return fwt_merkle_consistency_verify(c->from, c->to, c->from_root, c->to_root,
                                         (const uint8_t(*)[FWT_MERKLE_HASH])c->path, c->path_len);
}
