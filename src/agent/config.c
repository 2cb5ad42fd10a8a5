/*
 * device.ini: a strict INI reader (sections, key = value, # and ; comments)
 * and the device configuration built from it. Unknown sections or keys, and
 * repeated keys (except the repeatable `key` and `root`), are errors: a
 * misspelt trust setting must not be silently ignored.
 */
#include "agent_internal.h"

#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

fwt_err fwt_ini_parse(const char *text, size_t len, fwt_ini_fn fn, void *ctx)
{
    if (len > FWT_INI_MAX_SIZE) {
        return fwt_fail(FWT_E_TOO_LARGE, "configuration larger than %u bytes", FWT_INI_MAX_SIZE);
    }
    char section[64] = "";
    char line[FWT_INI_MAX_LINE + 1];
    size_t pos = 0;
    unsigned lineno = 0;
    while (pos < len) {
        lineno++;
        size_t start = pos;
        while (pos < len && text[pos] != '\n') {
            pos++;
        }
        size_t n = pos - start;
        if (pos < len) {
            pos++; /* the newline */
        }
        if (n > 0 && text[start + n - 1] == '\r') {
            n--;
        }
        if (n > FWT_INI_MAX_LINE) {
            return fwt_fail(FWT_E_ARG, "line %u: longer than %u bytes", lineno, FWT_INI_MAX_LINE);
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)text[start + i];
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                return fwt_fail(FWT_E_ARG, "line %u: control character 0x%02x", lineno, c);
            }
        }
        memcpy(line, text + start, n);
        line[n] = '\0';
        char *s = line;
        while (is_space(*s)) {
            s++;
        }
        char *e = s + strlen(s);
        while (e > s && is_space(e[-1])) {
            *--e = '\0';
        }
        if (*s == '\0' || *s == '#' || *s == ';') {
            continue;
        }
        if (*s == '[') {
            if (e[-1] != ']' || e - s < 3) {
                return fwt_fail(FWT_E_ARG, "line %u: malformed section header", lineno);
            }
            size_t sl = (size_t)(e - s - 2);
            if (sl >= sizeof(section)) {
                return fwt_fail(FWT_E_ARG, "line %u: section name too long", lineno);
            }
            memcpy(section, s + 1, sl);
            section[sl] = '\0';
            for (size_t i = 0; i < sl; i++) {
                char c = section[i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
                    return fwt_fail(FWT_E_ARG, "line %u: invalid section name '%s'", lineno,
                                    section);
                }
            }
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            return fwt_fail(FWT_E_ARG, "line %u: expected 'key = value'", lineno);
        }
        char *k = s, *ke = eq;
        while (ke > k && is_space(ke[-1])) {
            ke--;
        }
        *ke = '\0';
        char *v = eq + 1;
        while (is_space(*v)) {
            v++;
        }
        if (*k == '\0') {
            return fwt_fail(FWT_E_ARG, "line %u: empty key", lineno);
        }
        for (const char *p = k; *p; p++) {
            char c = *p;
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
                return fwt_fail(FWT_E_ARG, "line %u: invalid key '%s'", lineno, k);
            }
        }
        fwt_err err = fn(ctx, section, k, v, lineno);
        if (err != FWT_OK) {
            return err;
        }
    }
    return FWT_OK;
}

/* ---- the device configuration ---- */

struct cfg_ctx {
    struct fwt_agent_config *cfg;
    const char *dir;
    unsigned seen;           /* bit per single-valued key */
    unsigned threshold_line; /* where threshold was given (0: the default) */
    unsigned rollback_line;  /* where rollback was given */
};

static fwt_err abs_path(const char *dir, const char *v, char **out)
{
    if (*v == '\0') {
        return fwt_fail(FWT_E_ARG, "empty path");
    }
    size_t need = strlen(dir) + strlen(v) + 2;
    if (need > PATH_MAX) {
        return fwt_fail(FWT_E_ARG, "path too long");
    }
    char *p = malloc(need);
    if (!p) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (v[0] == '/') {
        memcpy(p, v, strlen(v) + 1);
    } else {
        size_t dl = strlen(dir);
        memcpy(p, dir, dl);
        p[dl] = '/';
        memcpy(p + dl + 1, v, strlen(v) + 1);
    }
    *out = p;
    return FWT_OK;
}

static fwt_err set_str(char **dst, const char *v)
{
    *dst = strdup(v);
    return *dst ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
}

enum {
    K_HW_ID, K_TRIES, K_SLOT_A, K_SLOT_B, K_SLOT_SIZE, K_READBACK, K_THRESHOLD, K_TUF_ROOT, K_REPO,
    K_CA, K_CERT, K_KEY, K_PIN, K_TARGETS, K_TPM, K_ROLLBACK, K_REV_THRESHOLD, K_REV_TARGET, K_REQ_PROV,
    K_DEC_WINDOW, K_DECRYPT, K_F_SERVER, K_F_ID, K_F_SERIAL, K_F_KEY, K_F_CERT, K_F_CA, K_F_DROOT, K_F_INTERVAL, K_F_JITTER
};

static fwt_err once(struct cfg_ctx *c, unsigned bit, const char *key, unsigned line)
{
    if (c->seen & (1U << bit)) {
        return fwt_fail(FWT_E_ARG, "line %u: '%s' given twice", line, key);
    }
    c->seen |= 1U << bit;
    return FWT_OK;
}

static fwt_err cfg_kv(void *ctx, const char *sec, const char *k, const char *v, unsigned line)
{
    struct cfg_ctx *c = ctx;
    struct fwt_agent_config *cfg = c->cfg;
    fwt_err err;
#define ONCE(bit)                                                                                  \
    do {                                                                                           \
        if ((err = once(c, bit, k, line)) != FWT_OK)                                               \
            return err;                                                                            \
    } while (0)
    if (!strcmp(sec, "device")) {
        if (!strcmp(k, "hw_id")) {
            ONCE(K_HW_ID);
            size_t l = strlen(v);
            if (l == 0 || l > FWT_HW_ID_MAX) {
                return fwt_fail(FWT_E_ARG, "line %u: hw_id must be 1 to %u bytes", line,
                                FWT_HW_ID_MAX);
            }
            return set_str(&cfg->hw_id, v);
        }
        if (!strcmp(k, "tries")) {
            ONCE(K_TRIES);
            if (fwt_parse_u32(v, &cfg->tries) != FWT_OK || cfg->tries == 0 ||
                cfg->tries > FWT_AGENT_MAX_TRIES) {
                return fwt_fail(FWT_E_ARG, "line %u: tries must be 1 to %u", line,
                                FWT_AGENT_MAX_TRIES);
            }
            return FWT_OK;
        }
        if (!strcmp(k, "tpm")) {
            /* swtpm:host=H,port=P, device:PATH or /dev/PATH (fwt_tpm_open); never a library */
            ONCE(K_TPM);
            if (strncmp(v, "swtpm:", 6) && strncmp(v, "device:/dev/", 12) &&
                strncmp(v, "/dev/", 5)) {
                return fwt_fail(FWT_E_ARG, "line %u: tpm must be swtpm:host=H,port=P, "
                                "device:/dev/NAME or /dev/NAME, not '%s'", line, v);
            }
            return set_str(&cfg->tpm, v);
        }
        if (!strcmp(k, "rollback")) {
            ONCE(K_ROLLBACK);
            if (strcmp(v, "tpm") && strcmp(v, "file")) {
                return fwt_fail(FWT_E_ARG, "line %u: rollback must be 'file' or 'tpm', not '%s'",
                                line, v);
            }
            cfg->rollback_tpm = !strcmp(v, "tpm");
            c->rollback_line = line;
            return FWT_OK;
        }
    } else if (!strcmp(sec, "slots")) {
        if (!strcmp(k, "a") || !strcmp(k, "b")) {
            int i = k[0] - 'a';
            ONCE(K_SLOT_A + (unsigned)i);
            size_t l = strlen(v);
            if (l >= 4 && !strcasecmp(v + l - 4, ".hex")) {
                return fwt_fail(FWT_E_ARG, "line %u: a slot is raw flash, not Intel HEX ('%s')",
                                line, v);
            }
            err = abs_path(c->dir, v, &cfg->slot_path[i]);
            return err == FWT_OK ? FWT_OK : fwt_fail(err, "line %u: slot %s: %s", line, k,
                                                     fwt_detail());
        }
        if (!strcmp(k, "size")) {
            ONCE(K_SLOT_SIZE);
            if (fwt_parse_u64(v, UINT32_MAX, &cfg->slot_size) != FWT_OK) {
                return fwt_fail(FWT_E_ARG, "line %u: slot size must be a number up to 4 GiB - 1",
                                line);
            }
            return FWT_OK;
        }
        if (!strcmp(k, "readback")) {
            ONCE(K_READBACK);
            if (strcmp(v, "full") && strcmp(v, "metadata")) {
                return fwt_fail(FWT_E_ARG, "line %u: readback must be 'metadata' or 'full', not "
                                "'%s'", line, v);
            }
            cfg->readback_full = !strcmp(v, "full");
            return FWT_OK;
        }
    } else if (!strcmp(sec, "trust")) {
        if (!strcmp(k, "key") || !strcmp(k, "root")) {
            int is_key = k[0] == 'k';
            size_t *n = is_key ? &cfg->n_keys : &cfg->n_roots;
            char **arr = is_key ? cfg->keys : cfg->roots;
            if (*n >= FWT_AGENT_MAX_ANCHORS) {
                return fwt_fail(FWT_E_ARG, "line %u: more than %u %ss", line,
                                FWT_AGENT_MAX_ANCHORS, k);
            }
            err = abs_path(c->dir, v, &arr[*n]);
            if (err != FWT_OK) {
                return fwt_fail(err, "line %u: %s: %s", line, k, fwt_detail());
            }
            (*n)++;
            return FWT_OK;
        }
        if (!strcmp(k, "threshold")) {
            ONCE(K_THRESHOLD);
            if (fwt_parse_u32(v, &cfg->threshold) != FWT_OK || cfg->threshold == 0 ||
                cfg->threshold > FWT_AGENT_MAX_ANCHORS) {
                return fwt_fail(FWT_E_ARG, "line %u: threshold must be 1 to %u", line,
                                FWT_AGENT_MAX_ANCHORS);
            }
            c->threshold_line = line;
            return FWT_OK;
        }
    } else if (!strcmp(sec, "update") && !strcmp(k, "require_provenance")) {
        ONCE(K_REQ_PROV);
        if (strcmp(v, "yes") && strcmp(v, "no")) {
            return fwt_fail(FWT_E_ARG, "line %u: require_provenance must be 'yes' or 'no'", line);
        }
        cfg->require_provenance = !strcmp(v, "yes");
        return FWT_OK;
    } else if (!strcmp(sec, "update") && !strcmp(k, "decode_window")) {
        ONCE(K_DEC_WINDOW);
        if (fwt_parse_u64(v, 1ULL << 40, &cfg->decode_window) != FWT_OK ||
            cfg->decode_window < 1024) {
            return fwt_fail(FWT_E_ARG, "line %u: decode_window must be a byte count of at least "
                            "1024", line);
        }
        return FWT_OK;
    } else if (!strcmp(sec, "update")) {
        static const struct {
            const char *name;
            unsigned bit;
            int is_path;
            size_t off;
        } keys[] = {
            {"tuf_root", K_TUF_ROOT, 1, offsetof(struct fwt_agent_config, tuf_root)},
            {"repo", K_REPO, 0, offsetof(struct fwt_agent_config, repo_url)},
            {"ca", K_CA, 1, offsetof(struct fwt_agent_config, tls_ca)},
            {"client_cert", K_CERT, 1, offsetof(struct fwt_agent_config, tls_client_cert)},
            {"client_key", K_KEY, 1, offsetof(struct fwt_agent_config, tls_client_key)},
            {"pinned_pubkey", K_PIN, 0, offsetof(struct fwt_agent_config, tls_pinned_pubkey)},
            {"targets", K_TARGETS, 0, offsetof(struct fwt_agent_config, targets)},
        };
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            if (strcmp(k, keys[i].name) != 0) {
                continue;
            }
            ONCE(keys[i].bit);
            char **dst = (char **)(void *)((char *)cfg + keys[i].off);
            if (*v == '\0') {
                return fwt_fail(FWT_E_ARG, "line %u: %s is empty", line, k);
            }
            if (keys[i].bit == K_TARGETS && strlen(v) > FWT_AGENT_TARGETS_MAX) {
                return fwt_fail(FWT_E_ARG, "line %u: targets pattern longer than %u bytes", line,
                                FWT_AGENT_TARGETS_MAX);
            }
            if (keys[i].is_path) {
                err = abs_path(c->dir, v, dst);
                return err == FWT_OK ? FWT_OK
                                     : fwt_fail(err, "line %u: %s: %s", line, k, fwt_detail());
            }
            return set_str(dst, v);
        }
    } else if (!strcmp(sec, "revocation")) {
        if (!strcmp(k, "key")) {
            if (cfg->n_revocation_keys >= FWT_AGENT_MAX_ANCHORS) {
                return fwt_fail(FWT_E_ARG, "line %u: more than %u revocation keys", line,
                                FWT_AGENT_MAX_ANCHORS);
            }
            err = abs_path(c->dir, v, &cfg->revocation_keys[cfg->n_revocation_keys]);
            if (err != FWT_OK) {
                return fwt_fail(err, "line %u: key: %s", line, fwt_detail());
            }
            cfg->n_revocation_keys++;
            return FWT_OK;
        }
        if (!strcmp(k, "threshold")) {
            ONCE(K_REV_THRESHOLD);
            if (fwt_parse_u32(v, &cfg->revocation_threshold) != FWT_OK ||
                cfg->revocation_threshold == 0 || cfg->revocation_threshold > FWT_AGENT_MAX_ANCHORS) {
                return fwt_fail(FWT_E_ARG, "line %u: threshold must be 1 to %u", line,
                                FWT_AGENT_MAX_ANCHORS);
            }
            return FWT_OK;
        }
        if (!strcmp(k, "target")) {
            ONCE(K_REV_TARGET);
            if (*v == '\0' || strlen(v) > FWT_AGENT_TARGETS_MAX) {
                return fwt_fail(FWT_E_ARG, "line %u: target must be 1 to %u bytes", line,
                                FWT_AGENT_TARGETS_MAX);
            }
            return set_str(&cfg->revocation_target, v);
        }
    } else if (!strcmp(sec, "images")) {
        /* ID = DIR: the device directory that manages image ID (0-255) */
        uint32_t id;
        if (fwt_parse_u32(k, &id) != FWT_OK || id > 255) {
            return fwt_fail(FWT_E_ARG, "line %u: [images] keys are image ids 0-255, not '%s'",
                            line, k);
        }
        for (size_t i = 0; i < cfg->n_others; i++) {
            if (cfg->other_ids[i] == id) {
                return fwt_fail(FWT_E_ARG, "line %u: image %u given twice", line, (unsigned)id);
            }
        }
        if (cfg->n_others >= FWT_AGENT_MAX_IMAGES) {
            return fwt_fail(FWT_E_ARG, "line %u: more than %u other images", line,
                            FWT_AGENT_MAX_IMAGES);
        }
        err = abs_path(c->dir, v, &cfg->other_dirs[cfg->n_others]);
        if (err != FWT_OK) {
            return fwt_fail(err, "line %u: image %u: %s", line, (unsigned)id, fwt_detail());
        }
        cfg->other_ids[cfg->n_others++] = (uint8_t)id;
        return FWT_OK;
    } else if (!strcmp(sec, "decrypt")) {
        if (!strcmp(k, "key")) {
            ONCE(K_DECRYPT);
            if (strncasecmp(v, "pkcs11:", 7) == 0) {
                /* A key in a token: the URI names it, never a module or a PIN file
                 * (those come from the operator: FWTRUST_PKCS11_MODULE,
                 * FWTRUST_PKCS11_PIN_FILE). */
                err = fwt_key_spec_check_inert(v);
                return err == FWT_OK ? set_str(&cfg->decrypt_key, v)
                                     : fwt_fail(err, "line %u: key: %s", line, fwt_detail());
            }
            err = abs_path(c->dir, v, &cfg->decrypt_key);
            return err == FWT_OK ? FWT_OK : fwt_fail(err, "line %u: key: %s", line, fwt_detail());
        }
    } else if (!strcmp(sec, "fleet")) {
        static const struct {
            const char *name;
            unsigned bit;
            int is_path;
            size_t off;
        } keys[] = {
            {"server", K_F_SERVER, 0, offsetof(struct fwt_agent_config, fleet_server)},
            {"device_id", K_F_ID, 0, offsetof(struct fwt_agent_config, fleet_device_id)},
            {"serial", K_F_SERIAL, 0, offsetof(struct fwt_agent_config, fleet_serial)},
            {"key", K_F_KEY, 1, offsetof(struct fwt_agent_config, fleet_key)},
            {"cert", K_F_CERT, 1, offsetof(struct fwt_agent_config, fleet_cert)},
            {"ca", K_F_CA, 1, offsetof(struct fwt_agent_config, fleet_ca)},
            {"director_root", K_F_DROOT, 1, offsetof(struct fwt_agent_config, fleet_director_root)},
        };
        if (!strcmp(k, "interval") || !strcmp(k, "jitter")) {
            int iv = k[0] == 'i';
            ONCE(iv ? K_F_INTERVAL : K_F_JITTER);
            uint32_t *dst = iv ? &cfg->fleet_interval : &cfg->fleet_jitter;
            if (fwt_parse_u32(v, dst) != FWT_OK || *dst > 30U * 86400U || (iv && *dst == 0)) {
                return fwt_fail(FWT_E_ARG, "line %u: %s must be %s to %u seconds", line, k, iv ? "1" : "0",
                                30U * 86400U);
            }
            return FWT_OK;
        }
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            if (strcmp(k, keys[i].name) != 0) {
                continue;
            }
            ONCE(keys[i].bit);
            char **dst = (char **)(void *)((char *)cfg + keys[i].off);
            if (*v == '\0') {
                return fwt_fail(FWT_E_ARG, "line %u: %s is empty", line, k);
            }
            if (keys[i].is_path) {
                err = abs_path(c->dir, v, dst);
                return err == FWT_OK ? FWT_OK
                                     : fwt_fail(err, "line %u: %s: %s", line, k, fwt_detail());
            }
            return set_str(dst, v);
        }
    } else {
        return fwt_fail(FWT_E_ARG, "line %u: unknown section [%s]", line, sec);
    }
#undef ONCE
    return fwt_fail(FWT_E_ARG, "line %u: unknown key '%s' in [%s]", line, k, sec);
}

void fwt_agent_config_free(struct fwt_agent_config *cfg)
{
    if (!cfg) {
        return;
    }
    free(cfg->dir);
    free(cfg->hw_id);
    free(cfg->slot_path[0]);
    free(cfg->slot_path[1]);
    for (size_t i = 0; i < cfg->n_keys; i++) {
        free(cfg->keys[i]);
    }
    for (size_t i = 0; i < cfg->n_roots; i++) {
        free(cfg->roots[i]);
    }
    free(cfg->tuf_root);
    free(cfg->repo_url);
    free(cfg->tls_ca);
    free(cfg->tls_client_cert);
    free(cfg->tls_client_key);
    free(cfg->decrypt_key);
    for (size_t i = 0; i < cfg->n_others; i++) {
        free(cfg->other_dirs[i]);
    }
    free(cfg->tls_pinned_pubkey);
    free(cfg->targets);
    free(cfg->tpm);
    for (size_t i = 0; i < cfg->n_revocation_keys; i++) {
        free(cfg->revocation_keys[i]);
    }
    free(cfg->revocation_target);
    free(cfg->fleet_server);
    free(cfg->fleet_device_id);
    free(cfg->fleet_serial);
    free(cfg->fleet_key);
    free(cfg->fleet_cert);
    free(cfg->fleet_ca);
    free(cfg->fleet_director_root);
    memset(cfg, 0, sizeof(*cfg));
}

fwt_err fwt_agent_config_parse(const char *text, size_t len, const char *dir,
                               struct fwt_agent_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    if (memchr(text, '\0', len)) {
        return fwt_fail(FWT_E_ARG, "configuration contains a NUL byte");
    }
    struct cfg_ctx c = {cfg, dir, 0, 0, 0};
    cfg->dir = strdup(dir);
    if (!cfg->dir) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_err err = fwt_ini_parse(text, len, cfg_kv, &c);
    if (err == FWT_OK && !cfg->hw_id) {
        err = fwt_fail(FWT_E_ARG, "[device] hw_id is missing");
    }
    if (err == FWT_OK && (!cfg->slot_path[0] || !cfg->slot_path[1])) {
        err = fwt_fail(FWT_E_ARG, "[slots] needs both a and b");
    }
    if (err == FWT_OK && cfg->rollback_tpm && !cfg->tpm) {
        err = fwt_fail(FWT_E_ARG, "line %u: rollback = tpm needs a tpm line", c.rollback_line);
    }
    if (err == FWT_OK && strcmp(cfg->slot_path[0], cfg->slot_path[1]) == 0) {
        err = fwt_fail(FWT_E_ARG, "[slots] a and b are the same path '%s'", cfg->slot_path[0]);
    }
    if (err == FWT_OK && cfg->fleet_server &&
        (!cfg->fleet_device_id || !cfg->fleet_key || !cfg->fleet_cert || !cfg->fleet_ca ||
         !cfg->fleet_director_root)) {
        err = fwt_fail(FWT_E_ARG, "[fleet] with a server needs device_id, key, cert, ca and "
                       "director_root (fwtrust-agent enroll writes them)");
    }
    if (err == FWT_OK) {
        if (!cfg->tries) {
            cfg->tries = FWT_AGENT_DEFAULT_TRIES;
        }
        if (!cfg->threshold) {
            cfg->threshold = 1;
        }
        /* Keys and roots alike are anchors: a threshold no anchor set can meet would make
         * every verification fail with an argument error, not a verdict on an image. A
         * device without anchors keeps the default 1 (it refuses everything anyway). */
        if (!cfg->revocation_threshold) {
            cfg->revocation_threshold = 1;
        }
        if (cfg->n_revocation_keys && cfg->revocation_threshold > cfg->n_revocation_keys) {
            err = fwt_fail(FWT_E_ARG, "[revocation] threshold %u is above the %zu revocation key(s)",
                           (unsigned)cfg->revocation_threshold, cfg->n_revocation_keys);
        }
        size_t anchors = cfg->n_keys + cfg->n_roots;
        if (err == FWT_OK && cfg->threshold > (anchors ? anchors : 1)) {
            err = fwt_fail(FWT_E_ARG, "line %u: threshold %u is above the %zu trust anchor(s) "
                           "([trust] key and root lines)", c.threshold_line,
                           (unsigned)cfg->threshold, anchors);
        }
    }
    if (err != FWT_OK) {
        fwt_agent_config_free(cfg);
    }
    return err;
}

/* A growing string. */
struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
};

static void sb_add(struct sbuf *b, const char *k, const char *v)
{
    if (!v || b->oom) {
        return;
    }
    size_t need = strlen(k) + strlen(v) + 5;
    if (b->len + need + 1 > b->cap) {
        size_t ncap = (b->cap + need + 1) * 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    int n = snprintf(b->p + b->len, b->cap - b->len, "%s%s%s\n", k, (k[0] && v[0]) ? " = " : "",
                     v);
    if (n > 0) {
        b->len += (size_t)n;
    }
}

/* Store paths inside the device directory relative to it (the device can move). */
static const char *rel(const struct fwt_agent_config *cfg, const char *p)
{
    if (!p) {
        return NULL;
    }
    size_t dl = strlen(cfg->dir);
    /* Only when the remainder reads back as the same path (not absolute, no blank to trim). */
    if (strncmp(p, cfg->dir, dl) == 0 && p[dl] == '/' && p[dl + 1] && p[dl + 1] != '/' &&
        !is_space(p[dl + 1])) {
        return p + dl + 1;
    }
    return p;
}

static int value_ok(const char *v)
{
    if (!v) {
        return 1;
    }
    if (!*v || is_space(v[0]) || is_space(v[strlen(v) - 1])) {
        return 0;
    }
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return 0;
        }
    }
    return 1;
}

fwt_err fwt_agent_config_format(const struct fwt_agent_config *cfg, char **out)
{
    const char *all[] = {cfg->hw_id, cfg->slot_path[0], cfg->slot_path[1], cfg->tuf_root,
                         cfg->repo_url, cfg->tls_ca, cfg->tls_client_cert, cfg->tls_client_key,
                         cfg->tls_pinned_pubkey, cfg->targets, cfg->tpm, cfg->revocation_target,
                         cfg->fleet_server, cfg->fleet_device_id, cfg->fleet_serial, cfg->fleet_key,
                         cfg->fleet_cert, cfg->fleet_ca, cfg->fleet_director_root};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (!value_ok(all[i])) {
            return fwt_fail(FWT_E_ARG, "'%s': values must be non-empty, without control "
                            "characters or surrounding blanks", all[i]);
        }
    }
    struct sbuf b = {NULL, 0, 0, 0};
    char num[32];
    sb_add(&b, "# fwtrust device configuration (docs/agent.md)", "");
    sb_add(&b, "[device]", "");
    sb_add(&b, "hw_id", cfg->hw_id);
    snprintf(num, sizeof(num), "%u", (unsigned)cfg->tries);
    sb_add(&b, "tries", num);
    sb_add(&b, "tpm", cfg->tpm);
    if (cfg->rollback_tpm) {
        sb_add(&b, "rollback", "tpm");
    }
    sb_add(&b, "", "");
    sb_add(&b, "[slots]", "");
    sb_add(&b, "a", rel(cfg, cfg->slot_path[0]));
    sb_add(&b, "b", rel(cfg, cfg->slot_path[1]));
    if (cfg->slot_size) {
        snprintf(num, sizeof(num), "%llu", (unsigned long long)cfg->slot_size);
        sb_add(&b, "size", num);
    }
    if (cfg->readback_full) {
        sb_add(&b, "readback", "full");
    }
    sb_add(&b, "", "");
    sb_add(&b, "[trust]", "");
    for (size_t i = 0; i < cfg->n_keys; i++) {
        sb_add(&b, "key", rel(cfg, cfg->keys[i]));
    }
    for (size_t i = 0; i < cfg->n_roots; i++) {
        sb_add(&b, "root", rel(cfg, cfg->roots[i]));
    }
    snprintf(num, sizeof(num), "%u", (unsigned)cfg->threshold);
    sb_add(&b, "threshold", num);
    if (cfg->tuf_root || cfg->repo_url || cfg->tls_ca || cfg->tls_client_cert ||
        cfg->tls_client_key || cfg->tls_pinned_pubkey || cfg->targets || cfg->require_provenance ||
        cfg->decode_window) {
        sb_add(&b, "", "");
        sb_add(&b, "[update]", "");
        sb_add(&b, "tuf_root", rel(cfg, cfg->tuf_root));
        sb_add(&b, "repo", cfg->repo_url);
        sb_add(&b, "ca", rel(cfg, cfg->tls_ca));
        sb_add(&b, "client_cert", rel(cfg, cfg->tls_client_cert));
        sb_add(&b, "client_key", rel(cfg, cfg->tls_client_key));
        sb_add(&b, "pinned_pubkey", cfg->tls_pinned_pubkey);
        sb_add(&b, "targets", cfg->targets);
        if (cfg->require_provenance) {
            sb_add(&b, "require_provenance", "yes");
        }
        if (cfg->decode_window) {
            snprintf(num, sizeof(num), "%llu", (unsigned long long)cfg->decode_window);
            sb_add(&b, "decode_window", num);
        }
    }
    if (cfg->n_revocation_keys || cfg->revocation_target) {
        sb_add(&b, "", "");
        sb_add(&b, "[revocation]", "");
        for (size_t i = 0; i < cfg->n_revocation_keys; i++) {
            sb_add(&b, "key", rel(cfg, cfg->revocation_keys[i]));
        }
        snprintf(num, sizeof(num), "%u", (unsigned)(cfg->revocation_threshold ? cfg->revocation_threshold : 1));
        sb_add(&b, "threshold", num);
        sb_add(&b, "target", cfg->revocation_target);
    }
    if (cfg->n_others) {
        sb_add(&b, "", "");
        sb_add(&b, "[images]", "");
        for (size_t i = 0; i < cfg->n_others; i++) {
            snprintf(num, sizeof(num), "%u", (unsigned)cfg->other_ids[i]);
            sb_add(&b, num, rel(cfg, cfg->other_dirs[i]));
        }
    }
    if (cfg->decrypt_key) {
        sb_add(&b, "", "");
        sb_add(&b, "[decrypt]", "");
        sb_add(&b, "key", rel(cfg, cfg->decrypt_key));
    }
    if (cfg->fleet_server) {
        sb_add(&b, "", "");
        sb_add(&b, "[fleet]", "");
        sb_add(&b, "server", cfg->fleet_server);
        sb_add(&b, "device_id", cfg->fleet_device_id);
        sb_add(&b, "serial", cfg->fleet_serial);
        sb_add(&b, "key", rel(cfg, cfg->fleet_key));
        sb_add(&b, "cert", rel(cfg, cfg->fleet_cert));
        sb_add(&b, "ca", rel(cfg, cfg->fleet_ca));
        sb_add(&b, "director_root", rel(cfg, cfg->fleet_director_root));
        snprintf(num, sizeof(num), "%u", (unsigned)(cfg->fleet_interval ? cfg->fleet_interval : 3600U));
        sb_add(&b, "interval", num);
        snprintf(num, sizeof(num), "%u", (unsigned)cfg->fleet_jitter);
        sb_add(&b, "jitter", num);
    }
    if (b.oom || !b.p) {
        free(b.p);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    *out = b.p;
    return FWT_OK;
}
