/*
 * Pinned log keys: which key signs the tree heads of a signing log, kept on
 * the operator's machine, outside the log (docs/key-custody.md, "Pinned log
 * keys"). A log is checked only against its pin (or a key given on the
 * command line), never against the key stored in the log itself; and the
 * private log key that appends sign with is named here, never by the log.
 *
 * One file per log: DIR/<SHA-256 of the log's absolute path>.json with
 *   {"format":"fwtrust-signlog-pin-1","log":PATH,"log_id":HEX,"pubkey":PEM[,"key":SPEC]}
 */
#include "keys_priv.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define PIN_FORMAT "fwtrust-signlog-pin-1"
#define PIN_FILE_MAX 16384U

void fwt_signlog_pin_free(struct fwt_signlog_pin *pin)
{
    if (!pin) {
        return;
    }
    free(pin->log);
    fwt_pubkey_free(pin->pub);
    free(pin->key_spec);
    memset(pin, 0, sizeof(*pin));
}

fwt_err fwt_signlog_pin_dir(char **out)
{
    *out = NULL;
    const char *dir = getenv("FWTRUST_SIGNLOG_PINS");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    char buf[PATH_MAX];
    int n;
    if (dir && dir[0]) {
        n = snprintf(buf, sizeof(buf), "%s", dir);
    } else if (xdg && xdg[0] == '/') {
        n = snprintf(buf, sizeof(buf), "%s/fwtrust/signlog-pins", xdg);
    } else if (home && home[0] == '/') {
        n = snprintf(buf, sizeof(buf), "%s/.config/fwtrust/signlog-pins", home);
    } else {
        return fwt_fail(FWT_E_ARG, "no place for pinned log keys: set FWTRUST_SIGNLOG_PINS "
                                   "(or HOME)");
    }
    if (n < 0 || (size_t)n >= sizeof(buf)) {
        return fwt_fail(FWT_E_ARG, "the pinned log keys' directory path is too long");
    }
    if (!(*out = strdup(buf))) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    return FWT_OK;
}

/* The absolute path of db; a db that does not exist yet is named by its
 * directory's absolute path and its own name (log init asks before creating). */
static fwt_err abs_path(const char *db, char abs[PATH_MAX])
{
    if (realpath(db, abs)) {
        return FWT_OK;
    }
    if (errno != ENOENT) {
        return fwt_fail(FWT_E_IO, "%s: %s", db, strerror(errno));
    }
    char dir[PATH_MAX], rdir[PATH_MAX];
    const char *slash = strrchr(db, '/');
    const char *base = slash ? slash + 1 : db;
    int n = slash ? snprintf(dir, sizeof(dir), "%.*s", (int)(slash - db), db)
                  : snprintf(dir, sizeof(dir), ".");
    if (slash == db) {
        n = snprintf(dir, sizeof(dir), "/");
    }
    if (n < 0 || (size_t)n >= sizeof(dir) || !base[0] || !strcmp(base, ".") ||
        !strcmp(base, "..")) {
        return fwt_fail(FWT_E_ARG, "%s: not a file name", db);
    }
    if (!realpath(dir, rdir)) {
        return fwt_fail(errno == ENOENT ? FWT_E_NOT_FOUND : FWT_E_IO, "%s: %s", dir,
                        strerror(errno));
    }
    n = snprintf(abs, PATH_MAX, "%s/%s", strcmp(rdir, "/") ? rdir : "", base);
    if (n < 0 || n >= PATH_MAX) {
        return fwt_fail(FWT_E_ARG, "%s: path too long", db);
    }
    return FWT_OK;
}

/* The log's absolute path and its pin file. */
static fwt_err pin_paths(const char *db, char abs[PATH_MAX], char **file)
{
    *file = NULL;
    fwt_err e = abs_path(db, abs);
    if (e != FWT_OK) {
        return e;
    }
    char *dir = NULL;
    if ((e = fwt_signlog_pin_dir(&dir)) != FWT_OK) {
        return e;
    }
    uint8_t h[32];
    char hex[65];
    if ((e = fwt_sha256((const uint8_t *)abs, strlen(abs), h)) == FWT_OK) {
        fwt_hex_encode(h, 32, hex);
        size_t need = strlen(dir) + sizeof(hex) + 8;
        if (!(*file = malloc(need))) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        } else {
            snprintf(*file, need, "%s/%s.json", dir, hex);
        }
    }
    free(dir);
    return e;
}

fwt_err fwt_signlog_pin_path(const char *db, char **out)
{
    char abs[PATH_MAX];
    return pin_paths(db, abs, out);
}

static fwt_err str_field(json_t *o, const char *key, size_t max, char **out)
{
    json_t *v = json_object_get(o, key);
    size_t n = json_is_string(v) ? json_string_length(v) : 0;
    if (!json_is_string(v) || n == 0 || n > max || memchr(json_string_value(v), '\0', n)) {
        return fwt_fail(FWT_E_MALFORMED, "log key pin: \"%s\" is not a string of 1 to %zu "
                                         "characters",
                        key, max);
    }
    if (!(*out = strdup(json_string_value(v)))) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    return FWT_OK;
}

fwt_err fwt_signlog_pin_parse(const char *text, size_t len, struct fwt_signlog_pin *pin)
{
    static const char *const k_keys[] = {"format", "log", "log_id", "pubkey", NULL};
    static const char *const k_keys_spec[] = {"format", "key", "log", "log_id", "pubkey", NULL};
    memset(pin, 0, sizeof(*pin));
    json_t *o = NULL;
    char *fmt = NULL, *pem = NULL;
    uint8_t id[32], kh[32];
    fwt_err e = fwt_keys_json_object(text, len, "log key pin", &o);
    if (e == FWT_OK) {
        e = fwt_keys_json_keys(o, "log key pin",
                               json_object_get(o, "key") ? k_keys_spec : k_keys);
    }
    if (e == FWT_OK && (e = str_field(o, "format", 64, &fmt)) == FWT_OK &&
        strcmp(fmt, PIN_FORMAT) != 0) {
        e = fwt_fail(FWT_E_UNSUPPORTED, "log key pin: format '%.40s' (this fwtrust reads %s)",
                     fmt, PIN_FORMAT);
    }
    if (e == FWT_OK) {
        e = str_field(o, "log", PATH_MAX - 1, &pin->log);
    }
    if (e == FWT_OK && json_object_get(o, "key")) {
        e = str_field(o, "key", PATH_MAX - 1, &pin->key_spec);
    }
    if (e == FWT_OK) {
        e = fwt_keys_json_hex(o, "log_id", "log key pin", id, 32, 0, NULL);
    }
    if (e == FWT_OK) {
        e = str_field(o, "pubkey", 8192, &pem);
    }
    if (e == FWT_OK && fwt_pubkey_from_pem(pem, strlen(pem), &pin->pub) != FWT_OK) {
        e = fwt_fail(FWT_E_MALFORMED, "log key pin: \"pubkey\" is not a public key");
    }
    if (e == FWT_OK && (e = fwt_pubkey_keyhash(pin->pub, kh)) == FWT_OK &&
        fwt_ct_compare(id, kh, 32) != 0) {
        e = fwt_fail(FWT_E_MALFORMED, "log key pin: \"log_id\" is not the key's hash");
    }
    json_decref(o);
    free(fmt);
    free(pem);
    if (e != FWT_OK) {
        fwt_signlog_pin_free(pin);
    }
    return e;
}

fwt_err fwt_signlog_pin_load(const char *db, struct fwt_signlog_pin *pin)
{
    memset(pin, 0, sizeof(*pin));
    char abs[PATH_MAX], *file = NULL;
    fwt_err e = pin_paths(db, abs, &file);
    if (e == FWT_E_ARG) { /* no pin directory at all: nothing is pinned */
        return fwt_fail(FWT_E_NOT_FOUND, "%s: no log key is pinned (%s)", db, fwt_detail());
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    struct stat sb;
    if (e == FWT_OK && stat(file, &sb) != 0) {
        e = errno == ENOENT ? fwt_fail(FWT_E_NOT_FOUND, "%s: no log key is pinned for this log "
                                                        "(%s)",
                                       db, file)
                            : fwt_fail(FWT_E_IO, "%s: %s", file, strerror(errno));
    }
    if (e == FWT_OK) {
        e = fwt_read_file(file, PIN_FILE_MAX, &buf, &len);
    }
    if (e == FWT_OK && (e = fwt_signlog_pin_parse((const char *)buf, len, pin)) != FWT_OK) {
        e = fwt_fail(FWT_E_STATE, "%s: %s", file, fwt_detail());
    }
    if (e == FWT_OK && strcmp(pin->log, abs) != 0) {
        fwt_signlog_pin_free(pin);
        e = fwt_fail(FWT_E_STATE, "%s: the pin is for another log", file);
    }
    free(buf);
    free(file);
    return e;
}

/* mkdir -p, new directories private to the user. */
static fwt_err make_dirs(const char *file)
{
    char p[PATH_MAX];
    int n = snprintf(p, sizeof(p), "%s", file);
    if (n < 0 || (size_t)n >= sizeof(p)) {
        return fwt_fail(FWT_E_ARG, "%s: path too long", file);
    }
    char *slash = strrchr(p, '/');
    if (!slash || slash == p) {
        return FWT_OK;
    }
    *slash = '\0';
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0700) != 0 && errno != EEXIST) {
                return fwt_fail(FWT_E_IO, "%s: %s", p, strerror(errno));
            }
            *s = c;
            if (c == '\0') {
                break;
            }
        }
    }
    return FWT_OK;
}

fwt_err fwt_signlog_pin_save(const char *db, const fwt_pubkey *pub, const char *key_spec,
                             int replace)
{
    char abs[PATH_MAX], *file = NULL, *pem = NULL, *text = NULL;
    uint8_t kh[32];
    char id[65];
    struct fwt_signlog_pin old;
    char key_abs[PATH_MAX];
    fwt_err e = pin_paths(db, abs, &file);
    /* A PEM path is pinned absolute, so signing from any directory finds it. */
    if (e == FWT_OK && key_spec && strncasecmp(key_spec, "pkcs11:", 7) != 0) {
        if (!realpath(key_spec, key_abs)) {
            e = fwt_fail(FWT_E_NOT_FOUND, "%s: %s", key_spec, strerror(errno));
        }
        key_spec = key_abs;
    }
    if (e == FWT_OK && (e = fwt_pubkey_keyhash(pub, kh)) == FWT_OK) {
        fwt_hex_encode(kh, 32, id);
        e = fwt_pubkey_pem(pub, &pem);
    }
    if (e == FWT_OK && !replace) {
        fwt_err le = fwt_signlog_pin_load(db, &old);
        uint8_t okh[32];
        if (le == FWT_OK) {
            if ((e = fwt_pubkey_keyhash(old.pub, okh)) == FWT_OK &&
                fwt_ct_compare(okh, kh, 32) != 0) {
                e = fwt_fail(FWT_E_KEY, "%s: another log key is pinned for this log (%s)", db,
                             file);
            }
            if (e == FWT_OK && !key_spec && old.key_spec &&
                !(key_spec = text = strdup(old.key_spec))) {
                e = fwt_fail(FWT_E_NOMEM, "out of memory");
            }
            fwt_signlog_pin_free(&old);
        } else if (le != FWT_E_NOT_FOUND) {
            e = le;
        }
    }
    json_t *o = NULL;
    char *json = NULL;
    if (e == FWT_OK) {
        o = json_pack("{s:s, s:s, s:s, s:s}", "format", PIN_FORMAT, "log", abs, "log_id", id,
                      "pubkey", pem);
        if (o && key_spec && json_object_set_new(o, "key", json_string(key_spec)) != 0) {
            json_decref(o);
            o = NULL;
        }
        json = o ? json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(1)) : NULL;
        if (!json) {
            e = fwt_fail(FWT_E_ARG, "%s: cannot record the pin (paths must be UTF-8)", db);
        }
    }
    if (e == FWT_OK && (e = make_dirs(file)) == FWT_OK) {
        e = fwt_write_file_atomic(file, json, strlen(json), 0600);
    }
    json_decref(o);
    free(json);
    free(text);
    free(pem);
    free(file);
    return e;
}
