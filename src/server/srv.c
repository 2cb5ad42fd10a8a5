/*
 * The server context: its directory, settings (server.json), the fleet CA,
 * the director keys and root, the audit log; `init` creates them.
 */
#include "srv.h"

#include <fwtrust/fwt_director.h>
#include <fwtrust/fwt_keys.h>

#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const k_roles[] = {"targets", "snapshot", "timestamp"};

char *srv_path(const char *dir, const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, name) < 0) {
        return NULL;
    }
    return p;
}

uint64_t srv_now(void)
{
    time_t t = time(NULL);
    return t < 0 ? 0 : (uint64_t)t;
}

const char *fwt_srv_role_name(enum fwt_srv_role r)
{
    return r == FWT_SRV_VIEWER ? "viewer" : r == FWT_SRV_OPERATOR ? "operator" : r == FWT_SRV_APPROVER ? "approver" : "none";
}

fwt_err fwt_srv_role_parse(const char *s, enum fwt_srv_role *r)
{
    for (int i = FWT_SRV_VIEWER; i <= FWT_SRV_APPROVER; i++) {
        if (s && !strcmp(s, fwt_srv_role_name((enum fwt_srv_role)i))) {
            *r = (enum fwt_srv_role)i;
            return FWT_OK;
        }
    }
    return fwt_fail(FWT_E_ARG, "role '%s': expected viewer, operator or approver", s ? s : "");
}

/* ---- settings ---- */

struct setting {
    const char *name;
    size_t off;
    uint64_t dflt, min, max;
};
#define S(n, d, lo, hi) {#n, offsetof(struct fwt_srv_settings, n), d, lo, hi}
static const struct setting k_settings[] = {
    S(cert_days, 30, 1, 3650),        S(renew_days, 10, 0, 3650),
    S(checkin_interval, 3600, 1, 7 * 86400), S(jitter, 600, 0, 86400),
    S(checkin_burst, 10, 1, 1000000), S(checkin_window, 60, 1, 86400),
    S(timeout, 10, 1, 3600),          S(targets_days, 30, 1, 3650),
    S(timestamp_hours, 24, 1, 24 * 365), S(token_days, 7, 1, 365),
    S(tls_ticket_hours, 24, 0, 24 * 7),
};
#undef S

static fwt_err settings_load(fwt_srv *s, const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err e = fwt_read_file(path, 65536, &buf, &len);
    if (e != FWT_OK) {
        return fwt_fail(e == FWT_E_NOT_FOUND ? FWT_E_NOT_FOUND : e, "%s: %s (not a server directory? "
                                                                      "run fwtrust-server init)",
                        path, fwt_detail());
    }
    json_error_t jerr;
    json_t *o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    free(buf);
    if (!json_is_object(o)) {
        json_decref(o);
        return fwt_fail(FWT_E_MALFORMED, "%s: line %d: %s", path, jerr.line, jerr.text);
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        int known = !strcmp(key, "db") || !strcmp(key, "listen") || !strcmp(key, "ca_key") ||
                    !strcmp(key, "ca_pin_file") || !strcmp(key, "tls_ticket_key_file");
        for (size_t i = 0; i < sizeof(k_settings) / sizeof(k_settings[0]); i++) {
            known |= !strcmp(key, k_settings[i].name);
        }
        if (!known) {
            e = fwt_fail(FWT_E_MALFORMED, "%s: unknown setting \"%s\"", path, key);
        }
    }
    for (size_t i = 0; e == FWT_OK && i < sizeof(k_settings) / sizeof(k_settings[0]); i++) {
        const struct setting *st = &k_settings[i];
        uint64_t *dst = (uint64_t *)((char *)&s->set + st->off);
        *dst = st->dflt;
        json_t *x = json_object_get(o, st->name);
        if (x) {
            if (!json_is_integer(x) || json_integer_value(x) < (json_int_t)st->min ||
                json_integer_value(x) > (json_int_t)st->max) {
                e = fwt_fail(FWT_E_MALFORMED, "%s: \"%s\" must be an integer from %llu to %llu", path,
                             st->name, (unsigned long long)st->min, (unsigned long long)st->max);
            } else {
                *dst = (uint64_t)json_integer_value(x);
            }
        }
    }
    const char *db = json_string_value(json_object_get(o, "db"));
    const char *listen = json_string_value(json_object_get(o, "listen"));
    if (e == FWT_OK && (!db || !listen || strlen(listen) >= sizeof(s->set.listen))) {
        e = fwt_fail(FWT_E_MALFORMED, "%s: \"db\" and \"listen\" must be strings", path);
    }
    json_t *ck = json_object_get(o, "ca_key"), *cp = json_object_get(o, "ca_pin_file");
    if (e == FWT_OK && ((ck && !json_is_string(ck)) || (cp && !json_is_string(cp)))) {
        e = fwt_fail(FWT_E_MALFORMED, "%s: \"ca_key\" and \"ca_pin_file\" must be strings", path);
    }
    /* the CA key's URI never names a module or a PIN file of its own (the module comes from
     * $FWTRUST_PKCS11_MODULE, the PIN from ca_pin_file) */
    if (e == FWT_OK && ck && (e = fwt_key_spec_check_inert(json_string_value(ck))) != FWT_OK) {
        e = fwt_fail(e, "%s: \"ca_key\": %s", path, fwt_detail());
    }
    json_t *tk = json_object_get(o, "tls_ticket_key_file");
    if (e == FWT_OK && tk && !json_is_string(tk)) {
        e = fwt_fail(FWT_E_MALFORMED, "%s: \"tls_ticket_key_file\" must be a string (a file path)", path);
    }
    if (e == FWT_OK && tk && !(s->ticket_key_file = strdup(json_string_value(tk)))) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (e == FWT_OK && ((ck && !(s->ca_key_spec = strdup(json_string_value(ck)))) ||
                        (cp && !(s->ca_pin_file = strdup(json_string_value(cp)))))) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (e == FWT_OK) {
        snprintf(s->set.listen, sizeof(s->set.listen), "%s", listen);
        if (!s->db_url && !(s->db_url = strdup(db))) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        }
    }
    json_decref(o);
    return e;
}

/* ---- open ---- */

void fwt_srv_close(fwt_srv *s)
{
    if (!s) {
        return;
    }
    fwt_srv_db_close(s->db);
    fwt_privkey_free(s->ca_key);
    free(s->ca_key_spec);
    free(s->ca_pin_file);
    free(s->ticket_key_file);
    X509_free(s->ca_cert);
    free(s->ca_pem);
    for (int i = 0; i < 3; i++) {
        repo_key_free(&s->dk[i]);
        free(s->dk_spec[i]);
    }
    fwt_privkey_free(s->log_key);
    free(s->root_json);
    free(s->server_cert_path);
    free(s->server_key_path);
    free(s->ca_path);
    free(s->crl_path);
    free(s->audit_path);
    free(s->log_key_path);
    free(s->db_url);
    free(s->dir);
    free(s);
}

fwt_err fwt_srv_open(const char *dir, const char *db_url, fwt_srv **out)
{
    *out = NULL;
    fwt_srv *s = calloc(1, sizeof(*s));
    if (!s || !(s->dir = strdup(dir)) || (db_url && !(s->db_url = strdup(db_url)))) {
        fwt_srv_close(s);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    char *cfg = srv_path(dir, "server.json");
    s->server_cert_path = srv_path(dir, "ca/server.pem");
    s->server_key_path = srv_path(dir, "ca/server.key");
    s->ca_path = srv_path(dir, "ca/ca.pem");
    s->crl_path = srv_path(dir, "ca/crl.pem");
    s->audit_path = srv_path(dir, "audit.db");
    s->log_key_path = srv_path(dir, "log.key");
    fwt_err e = cfg && s->server_cert_path && s->server_key_path && s->ca_path && s->crl_path &&
                        s->audit_path && s->log_key_path
                    ? settings_load(s, cfg)
                    : fwt_fail(FWT_E_NOMEM, "out of memory");
    free(cfg);
    if (e == FWT_OK) {
        e = ca_load(s);
    }
    /* the newest director root and the online keys it names (director_keys.c) */
    if (e == FWT_OK) {
        e = srv_director_load(s);
    }
    if (e == FWT_OK) {
        e = fwt_privkey_load(s->log_key_path, NULL, &s->log_key);
    }
    if (e == FWT_OK) {
        e = fwt_srv_db_open(s->db_url, &s->db);
    }
    if (e != FWT_OK) {
        fwt_srv_close(s);
        return e;
    }
    *out = s;
    return FWT_OK;
}

/* ---- init ---- */

static int dir_empty_or_missing(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        return errno == ENOENT ? 1 : -1;
    }
    struct dirent *ent;
    int empty = 1;
    while ((ent = readdir(d))) {
        if (strcmp(ent->d_name, ".") && strcmp(ent->d_name, "..")) {
            empty = 0;
        }
    }
    closedir(d);
    return empty;
}

static fwt_err keygen(const char *dir, const char *name, char **path)
{
    *path = srv_path(dir, name);
    if (!*path) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    return fwt_keygen_file(FWT_KEY_ECDSA_P256, *path, NULL);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 ? 0 : 0; /* go on: remove what can be removed */
}

static void remove_tree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static fwt_err fwt_srv_init_make(const char *dir, const struct fwt_srv_init_opts *o, json_t **summary);

fwt_err fwt_srv_init(const char *dir, const struct fwt_srv_init_opts *o, json_t **summary)
{
    *summary = NULL;
    int st = dir_empty_or_missing(dir);
    if (st != 1) {
        return fwt_fail(FWT_E_ARG, "%s: %s", dir, st == 0 ? "exists and is not empty" : "cannot be read");
    }
    /* everything that can be checked before anything is made */
    if (o->cert_days > 3650) {
        return fwt_fail(FWT_E_ARG, "certificate lifetime of %llu days: at most 3650", (unsigned long long)o->cert_days);
    }
    if (o->ca_key && fwt_key_spec_check_inert(o->ca_key) != FWT_OK) {
        return fwt_fail(FWT_E_ARG, "--ca-key: %s", fwt_detail());
    }
    int existed = access(dir, F_OK) == 0;
    fwt_err e = fwt_srv_init_make(dir, o, summary);
    if (e != FWT_OK) {
        /* nothing half-made stays: the directory was missing or empty, and is so again */
        char *keep = strdup(fwt_detail());
        remove_tree(dir);
        if (existed) {
            (void)mkdir(dir, 0700); /* it was there, empty: so it is again */
        }
        e = fwt_fail(e, "%s", keep ? keep : "");
        free(keep);
    }
    return e;
}

static fwt_err fwt_srv_init_make(const char *dir, const struct fwt_srv_init_opts *o, json_t **summary)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return fwt_fail(FWT_E_IO, "%s: cannot create: %s", dir, strerror(errno));
    }
    char absdir[4096];
    if (!realpath(dir, absdir)) {
        return fwt_fail(FWT_E_IO, "%s: %s", dir, strerror(errno));
    }
    char *dflt_db = srv_path(absdir, "fleet.db");
    char *url = NULL;
    if (!dflt_db || asprintf(&url, "%s%s", o->db_url ? "" : "sqlite:", o->db_url ? o->db_url : dflt_db) < 0) {
        free(dflt_db);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    free(dflt_db);
    json_t *cfg = json_pack("{s:s, s:s}", "db", url, "listen", o->listen ? o->listen : "127.0.0.1:8443");
    if (cfg && o->ca_key) {
        json_object_set_new(cfg, "ca_key", json_string(o->ca_key));
    }
    if (cfg && o->ca_pin_file) {
        char abs[4096];
        json_object_set_new(cfg, "ca_pin_file", json_string(realpath(o->ca_pin_file, abs) ? abs : o->ca_pin_file));
    }
    for (size_t i = 0; cfg && i < sizeof(k_settings) / sizeof(k_settings[0]); i++) {
        uint64_t v = k_settings[i].dflt;
        if (!strcmp(k_settings[i].name, "cert_days") && o->cert_days) {
            v = o->cert_days;
        }
        json_object_set_new(cfg, k_settings[i].name, json_integer((json_int_t)v));
    }
    char *text = cfg ? json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(cfg);
    char *cfg_path = srv_path(dir, "server.json");
    fwt_err e = text && cfg_path ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
    if (e == FWT_OK) {
        size_t n = strlen(text);
        text[n] = '\n'; /* json_dumps leaves room for the NUL only: write it with the newline */
        e = fwt_write_file_atomic(cfg_path, text, n + 1, 0600);
    }
    free(text);
    free(cfg_path);
    if (e == FWT_OK) {
        struct fwt_key_opts ko;
        memset(&ko, 0, sizeof(ko));
        ko.pin_file = o->ca_pin_file;
        e = ca_create(dir, o->names, o->n_names, o->ca_key, &ko);
    }
    /* Director keys: the root offline, the three online roles beside the server. */
    char *dd = srv_path(dir, "director"), *od = srv_path(dir, "offline");
    if (e == FWT_OK && (!dd || !od || mkdir(dd, 0700) != 0 || mkdir(od, 0700) != 0)) {
        e = fwt_fail(FWT_E_IO, "%s: cannot create director/ and offline/", dir);
    }
    free(dd);
    free(od);
    char *paths[4] = {NULL, NULL, NULL, NULL};
    static const char *const names[4] = {"offline/root.key", "director/targets.key", "director/snapshot.key",
                                          "director/timestamp.key"};
    struct repo_key k[4];
    memset(k, 0, sizeof(k));
    for (int i = 0; e == FWT_OK && i < 4; i++) {
        if ((e = keygen(dir, names[i], &paths[i])) == FWT_OK) {
            e = repo_key_load(paths[i], NULL, 1, &k[i]);
        }
    }
    char *root = NULL;
    size_t root_len = 0;
    if (e == FWT_OK) {
        e = fwt_director_root(&k[0], &k[1], &k[2], &k[3], 1, (time_t)(srv_now() + 365 * 86400ULL), &root,
                              &root_len);
    }
    char *rp = srv_path(dir, "director/1.root.json");
    if (e == FWT_OK) {
        e = rp ? fwt_write_file_atomic(rp, root, root_len, 0644) : fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    free(rp);
    free(root);
    json_t *keyids = json_object();
    for (int i = 0; i < 4; i++) {
        if (k[i].keyid[0]) {
            json_object_set_new(keyids, i ? k_roles[i - 1] : "root", json_string(k[i].keyid));
        }
        repo_key_free(&k[i]);
        free(paths[i]);
    }
    /* The audit log (a Merkle log of src/keys), pinned to its key on this machine. */
    char *lk = NULL, *adb = srv_path(dir, "audit.db");
    if (e == FWT_OK && (e = keygen(dir, "log.key", &lk)) == FWT_OK &&
        (e = fwt_signlog_create(adb, lk, NULL)) == FWT_OK) {
        fwt_pubkey *pub = NULL;
        if ((e = fwt_pubkey_load(lk, NULL, &pub)) == FWT_OK) {
            char abs[4096];
            /* a new log at this path: its pin replaces any left from an earlier one */
            e = realpath(adb, abs) ? fwt_signlog_pin_save(abs, pub, lk, 1)
                                   : fwt_fail(FWT_E_IO, "%s: %s", adb, strerror(errno));
        }
        fwt_pubkey_free(pub);
    }
    /* The database and an empty CRL. */
    fwt_srv *s = NULL;
    if (e == FWT_OK && (e = fwt_srv_open(dir, NULL, &s)) == FWT_OK) {
        e = ca_write_crl(s);
    }
    if (e == FWT_OK) {
        *summary = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s}", "dir", dir, "db",
                             fwt_srv_db_backend(s->db), "listen", s->set.listen, "ca", s->ca_path,
                             "audit_log", s->audit_path, "director_keyids", keyids,
                             "offline_root_key", "offline/root.key");
        keyids = NULL;
    }
    json_decref(keyids);
    fwt_srv_close(s);
    free(lk);
    free(adb);
    free(url);
    return e;
}
