/*
 * Director metadata (fwt_director.h): per-device TUF roles made with the
 * module's one canonical JSON encoder and key objects.
 */
#include "repo.h"

#include <fwtrust/fwt_director.h>

#include <stdlib.h>
#include <string.h>

/* The envelope of signed_obj (taken) with one signature by each of keys[0..n) (distinct). */
static fwt_err sign_env_n(json_t *signed_obj, const struct repo_key *const *keys, size_t n, char **out, size_t *len)
{
    *out = NULL;
    if (!signed_obj) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (!keys[i] || !keys[i]->priv) {
            json_decref(signed_obj);
            return fwt_fail(FWT_E_KEY, "director: the signing key's private half is not available");
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(keys[i]->keyid, keys[j]->keyid)) {
                json_decref(signed_obj);
                return fwt_fail(FWT_E_ARG, "director: key %s given twice to sign", keys[i]->keyid);
            }
        }
    }
    if (n == 0) {
        json_decref(signed_obj);
        return fwt_fail(FWT_E_ARG, "director: no key to sign with");
    }
    char *msg = NULL;
    size_t msg_len = 0;
    fwt_err e = fwt_tuf_canonical(signed_obj, &msg, &msg_len);
    json_t *sigs = e == FWT_OK ? json_array() : NULL;
    if (e == FWT_OK && !sigs) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; e == FWT_OK && i < n; i++) {
        size_t sl = fwt_privkey_sig_max(keys[i]->priv);
        uint8_t *sig = malloc(sl ? sl : 1);
        char *hex = malloc(2 * sl + 1);
        if (!sig || !hex) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        } else if ((e = fwt_sign_message(keys[i]->priv, (const uint8_t *)msg, msg_len, sig, &sl)) == FWT_OK) {
            fwt_hex_encode(sig, sl, hex);
            if (json_array_append_new(sigs, json_pack("{s:s, s:s}", "keyid", keys[i]->keyid, "sig", hex)) != 0) {
                e = fwt_fail(FWT_E_NOMEM, "out of memory");
            }
        }
        free(sig);
        free(hex);
    }
    json_t *env = NULL;
    if (e == FWT_OK) {
        env = json_pack("{s:O, s:O}", "signed", signed_obj, "signatures", sigs);
        char *s = env ? json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!s) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        } else {
            *out = s;
            *len = strlen(s);
        }
    }
    json_decref(env);
    json_decref(sigs);
    json_decref(signed_obj);
    free(msg);
    return e;
}

static fwt_err sign_env(json_t *signed_obj, const struct repo_key *key, char **out, size_t *len)
{
    const struct repo_key *k[1] = {key};
    return sign_env_n(signed_obj, k, 1, out, len);
}

static json_t *expires_json(time_t t)
{
    char ts[21];
    fwt_tuf_time_format(t, ts);
    return json_string(ts);
}

fwt_err fwt_director_root(const struct repo_key *root, const struct repo_key *targets,
                          const struct repo_key *snapshot, const struct repo_key *timestamp,
                          uint64_t version, time_t expires, char **out, size_t *len)
{
    const struct repo_key *signers[1] = {root};
    return fwt_director_root_signed(root, targets, snapshot, timestamp, version, expires, signers, 1, out, len);
}

fwt_err fwt_director_root_signed(const struct repo_key *root, const struct repo_key *targets,
                                 const struct repo_key *snapshot, const struct repo_key *timestamp,
                                 uint64_t version, time_t expires, const struct repo_key *const *signers,
                                 size_t n_signers, char **out, size_t *len)
{
    const struct repo_key *k[4] = {root, targets, snapshot, timestamp};
    static const char *const roles[4] = {"root", "targets", "snapshot", "timestamp"};
    json_t *keys = json_object(), *rs = json_object();
    int bad = !keys || !rs;
    for (size_t i = 0; i < 4 && !bad; i++) {
        if (!k[i] || !k[i]->tuf) {
            bad = 1;
            break;
        }
        bad |= json_object_set(keys, k[i]->keyid, k[i]->tuf) != 0;
        bad |= json_object_set_new(rs, roles[i], json_pack("{s:[s], s:i}", "keyids", k[i]->keyid,
                                                           "threshold", 1)) != 0;
    }
    if (bad) {
        json_decref(keys);
        json_decref(rs);
        return fwt_fail(FWT_E_ARG, "director root: a key is missing");
    }
    json_t *s = json_pack("{s:s, s:s, s:I, s:o, s:b, s:o, s:o}", "_type", "root", "spec_version",
                          REPO_SPEC_VERSION, "version", (json_int_t)version, "expires",
                          expires_json(expires), "consistent_snapshot", 0, "keys", keys, "roles", rs);
    return sign_env_n(s, signers, n_signers, out, len);
}

fwt_err fwt_director_targets(const struct repo_key *key, const struct fwt_director_target *t,
                             uint64_t version, time_t expires, char **out, size_t *len)
{
    json_t *tg = json_object();
    if (t && tg) {
        if (!t->name || !*t->name || !t->sha256 || strlen(t->sha256) != 64 || !t->device_id ||
            !t->hardware_id) {
            json_decref(tg);
            return fwt_fail(FWT_E_ARG, "director targets: incomplete target");
        }
        json_t *one = json_pack("{s:I, s:{s:s}, s:{s:s, s:s, s:I}}", "length", (json_int_t)t->length,
                                "hashes", "sha256", t->sha256, "custom", "device_id", t->device_id,
                                "hardware_id", t->hardware_id, "release_counter",
                                (json_int_t)t->release_counter);
        if (!one || json_object_set_new(tg, t->name, one) != 0) {
            json_decref(tg);
            return fwt_fail(FWT_E_NOMEM, "out of memory");
        }
    }
    json_t *s = tg ? json_pack("{s:s, s:s, s:I, s:o, s:o}", "_type", "targets", "spec_version",
                               REPO_SPEC_VERSION, "version", (json_int_t)version, "expires",
                               expires_json(expires), "targets", tg)
                   : NULL;
    return sign_env(s, key, out, len);
}

fwt_err fwt_director_snapshot(const struct repo_key *key, uint64_t targets_version, uint64_t version,
                              time_t expires, char **out, size_t *len)
{
    json_t *s = json_pack("{s:s, s:s, s:I, s:o, s:{s:{s:I}}}", "_type", "snapshot", "spec_version",
                          REPO_SPEC_VERSION, "version", (json_int_t)version, "expires",
                          expires_json(expires), "meta", "targets.json", "version",
                          (json_int_t)targets_version);
    return sign_env(s, key, out, len);
}

fwt_err fwt_director_timestamp(const struct repo_key *key, const uint8_t *snapshot, size_t snapshot_len,
                               uint64_t snapshot_version, uint64_t version, time_t expires, char **out,
                               size_t *len)
{
    uint8_t h[32];
    char hex[65];
    fwt_err e = fwt_sha256(snapshot, snapshot_len, h);
    if (e != FWT_OK) {
        return e;
    }
    fwt_hex_encode(h, 32, hex);
    json_t *s = json_pack("{s:s, s:s, s:I, s:o, s:{s:{s:I, s:I, s:{s:s}}}}", "_type", "timestamp",
                          "spec_version", REPO_SPEC_VERSION, "version", (json_int_t)version, "expires",
                          expires_json(expires), "meta", "snapshot.json", "version",
                          (json_int_t)snapshot_version, "length", (json_int_t)snapshot_len, "hashes",
                          "sha256", hex);
    return sign_env(s, key, out, len);
}
