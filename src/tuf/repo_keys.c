/*
 * fwtrust repo: keys (PEM or PKCS#11 through fwt_crypto), TUF key objects,
 * signing metadata envelopes and counting signatures toward thresholds.
 */
#include "repo.h"

#include <stdlib.h>
#include <string.h>

void repo_key_free(struct repo_key *k)
{
    fwt_privkey_free(k->priv);
    fwt_pubkey_free(k->pub);
    json_decref(k->tuf);
    memset(k, 0, sizeof(*k));
}

/* Does the PEM file hold a private key? 1 yes, 0 no (or unreadable: the loader reports). */
static int pem_is_private(const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (fwt_read_file(path, 1u << 20, &buf, &len) != FWT_OK) {
        fwt_detail_clear();
        return 0;
    }
    int priv = strstr((const char *)buf, "PRIVATE KEY-----") != NULL;
    fwt_zeroize(buf, len);
    free(buf);
    return priv;
}

fwt_err repo_key_load(const char *spec, const struct fwt_key_opts *ko, int need_private,
                      struct repo_key *out)
{
    memset(out, 0, sizeof(*out));
    out->spec = spec;
    int is_uri = strncmp(spec, "pkcs11:", 7) == 0;
    fwt_err err;
    if (need_private || (!is_uri && pem_is_private(spec))) {
        err = fwt_privkey_load(spec, ko, &out->priv);
        if (err == FWT_OK) {
            err = fwt_privkey_public(out->priv, &out->pub);
        }
    } else if (is_uri) {
        /* A token key signs when the PIN is available; else it is public only. */
        err = fwt_privkey_load(spec, ko, &out->priv);
        if (err == FWT_OK) {
            err = fwt_privkey_public(out->priv, &out->pub);
        } else {
            fwt_detail_clear();
            err = fwt_pubkey_load(spec, ko, &out->pub);
        }
    } else {
        err = fwt_pubkey_load(spec, ko, &out->pub);
    }
    if (err == FWT_OK) {
        err = fwt_tuf_key_object(out->pub, &out->tuf, out->keyid);
    }
    if (err != FWT_OK) {
        repo_key_free(out);
        if (fwt_detail()[0] == '\0') {
            (void)fwt_fail(err, "cannot load key %s", spec);
        }
    }
    return err;
}

fwt_err repo_keyring_add(struct repo_keyring *kr, const char *spec, const struct fwt_key_opts *ko,
                         int need_private, struct repo_key **added)
{
    if (kr->n >= REPO_MAX_KEYS) {
        return fwt_fail(FWT_E_ARG, "more than %d keys", REPO_MAX_KEYS);
    }
    struct repo_key k;
    fwt_err err = repo_key_load(spec, ko, need_private, &k);
    if (err != FWT_OK) {
        return err;
    }
    for (size_t i = 0; i < kr->n; i++) {
        if (!strcmp(kr->keys[i].keyid, k.keyid)) {
            /* The same key twice: keep the one that can sign. */
            if (!kr->keys[i].priv && k.priv) {
                repo_key_free(&kr->keys[i]);
                kr->keys[i] = k;
            } else {
                repo_key_free(&k);
            }
            if (added) {
                *added = &kr->keys[i];
            }
            return FWT_OK;
        }
    }
    kr->keys[kr->n] = k;
    if (added) {
        *added = &kr->keys[kr->n];
    }
    kr->n++;
    return FWT_OK;
}

void repo_keyring_free(struct repo_keyring *kr)
{
    for (size_t i = 0; i < kr->n; i++) {
        repo_key_free(&kr->keys[i]);
    }
    kr->n = 0;
}

fwt_err repo_role_threshold(const json_t *role, const char *name, size_t *threshold)
{
    fwt_err err = tuf_check_role(role, name);
    if (err != FWT_OK) {
        return err;
    }
    size_t n = json_array_size(json_object_get(role, "keyids"));
    json_int_t t = json_integer_value(json_object_get(role, "threshold"));
    if ((size_t)t > n) {
        return fwt_fail(FWT_E_META, "role '%s': threshold %lld must be between 1 and its %zu keys",
                        name, (long long)t, n);
    }
    *threshold = (size_t)t;
    return FWT_OK;
}

static int role_has_keyid(const json_t *role, const char *keyid)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(role, "keyids"), i, v) {
        if (json_is_string(v) && repo_streq(json_string_value(v), keyid)) {
            return 1;
        }
    }
    return 0;
}

fwt_err repo_count_signatures(const json_t *env, const struct repo_role_keys *rk, size_t *valid,
                              json_t *signed_by)
{
    *valid = 0;
    char *msg = NULL;
    size_t msg_len = 0;
    fwt_err err = fwt_tuf_canonical(json_object_get(env, "signed"), &msg, &msg_len);
    if (err != FWT_OK) {
        return err;
    }
    err = tuf_count_role_sigs(json_object_get(env, "signatures"), msg, msg_len, rk->keys, rk->role, valid,
                              signed_by);
    free(msg);
    return err;
}

fwt_err repo_sign_env(json_t *env, const struct repo_role_keys *rk, const struct repo_keyring *kr,
                      size_t *added)
{
    *added = 0;
    char *msg = NULL;
    size_t msg_len = 0;
    fwt_err err = FWT_OK;
    json_t *sigs = json_object_get(env, "signatures");
    for (size_t k = 0; k < kr->n && err == FWT_OK; k++) {
        const struct repo_key *key = &kr->keys[k];
        if (!key->priv || !role_has_keyid(rk->role, key->keyid) || !json_object_get(rk->keys, key->keyid)) {
            continue;
        }
        if (!msg) {
            err = fwt_tuf_canonical(json_object_get(env, "signed"), &msg, &msg_len);
            if (err != FWT_OK) {
                break;
            }
        }
        /* A valid signature by this key is kept; a stale one (the content changed since)
         * is replaced. */
        int present = 0;
        for (size_t i = json_array_size(sigs); i-- > 0;) {
            json_t *s = json_array_get(sigs, i);
            if (!repo_streq(json_string_value(json_object_get(s, "keyid")), key->keyid)) {
                continue;
            }
            const char *sighex = json_string_value(json_object_get(s, "sig"));
            size_t sl = sighex ? strlen(sighex) / 2 : 0;
            uint8_t old[2048];
            if (sl > 0 && sl <= sizeof(old) && fwt_hex_decode(sighex, old, sl) == FWT_OK &&
                fwt_verify_message(key->pub, (const uint8_t *)msg, msg_len, old, sl) == FWT_OK) {
                present = 1;
            } else {
                json_array_remove(sigs, i);
            }
        }
        fwt_detail_clear();
        if (present) {
            continue;
        }
        size_t sl = fwt_privkey_sig_max(key->priv);
        uint8_t *sig = malloc(sl ? sl : 1);
        char *hex = malloc(2 * sl + 1);
        if (!sig || !hex) {
            err = fwt_fail(FWT_E_NOMEM, "out of memory");
        } else {
            err = fwt_sign_message(key->priv, (const uint8_t *)msg, msg_len, sig, &sl);
        }
        if (err == FWT_OK) {
            fwt_hex_encode(sig, sl, hex);
            json_t *o = json_pack("{s:s, s:s}", "keyid", key->keyid, "sig", hex);
            if (!o || json_array_append_new(sigs, o) != 0) {
                err = fwt_fail(FWT_E_NOMEM, "out of memory");
            } else {
                (*added)++;
            }
        }
        free(sig);
        free(hex);
    }
    free(msg);
    return err;
}

fwt_err repo_keys_belong(const struct repo_keyring *kr, size_t n, const char *what,
                         const struct repo_role_keys *rks, size_t n_rks)
{
    for (size_t k = 0; k < n && k < kr->n; k++) {
        const struct repo_key *key = &kr->keys[k];
        int found = 0;
        for (size_t i = 0; i < n_rks && !found; i++) {
            found = rks[i].role && role_has_keyid(rks[i].role, key->keyid) &&
                    json_object_get(rks[i].keys, key->keyid) != NULL;
        }
        if (found) {
            continue;
        }
        /* Name the keys that would do: the key ids of the role(s), without repeats. */
        char ids[700] = "";
        size_t len = 0, listed = 0;
        for (size_t i = 0; i < n_rks; i++) {
            size_t j;
            json_t *v;
            json_array_foreach(rks[i].role ? json_object_get(rks[i].role, "keyids") : NULL, j, v) {
                const char *id = json_string_value(v);
                if (!id || len >= sizeof(ids) || strstr(ids, id)) {
                    continue;
                }
                if (listed == 8) {
                    snprintf(ids + len, sizeof(ids) - len, ", ...");
                    len = sizeof(ids);
                    break;
                }
                int w = snprintf(ids + len, sizeof(ids) - len, "%s%s", listed ? ", " : "", id);
                if (w < 0 || (size_t)w >= sizeof(ids) - len) {
                    break;
                }
                len += (size_t)w;
                listed++;
            }
        }
        return fwt_fail(FWT_E_KEY, "key %s (key id %s) is not a key of %s; its key ids: %s", key->spec,
                        key->keyid, what, listed ? ids : "(none)");
    }
    return FWT_OK;
}
