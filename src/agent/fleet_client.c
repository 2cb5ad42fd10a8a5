/*
 * The device's side of the fleet server's API (docs/fleet-protocol.md):
 * enrollment (device key, certificate request, certificate, server CA,
 * director root, [fleet] in device.ini), check-in with a signed device manifest
 * built from the device state (renewing the certificate before it expires),
 * and signed progress reports. HTTP(S) through the TUF client's transport
 * (fwt_http_post_json: libcurl, the device certificate for mutual TLS); the
 * manifest and report formats through src/fleet (fwt_fleet.h); the key and
 * the certificate request through the crypto layer (fwt_privkey).
 */
#include "agent_internal.h"

#include <fwtrust/fwt_fleet.h>
#include <fwtrust/fwt_tuf_json.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_MAX 512U
#define URL_MAX 2048U
#define MAX_PERIOD (30U * 86400U)

/* ---- helpers ---- */

static fwt_err join(char *out, size_t n, const char *base, const char *path)
{
    size_t bl = strlen(base);
    int r = snprintf(out, n, "%.*s%s", (int)(bl && base[bl - 1] == '/' ? bl - 1 : bl), base, path);
    if (r < 0 || (size_t)r >= n) {
        return fwt_fail(FWT_E_ARG, "server URL too long");
    }
    return FWT_OK;
}

static fwt_err dpath(const fwt_agent *dev, const char *leaf, char *out, size_t n)
{
    int r = snprintf(out, n, "%s/%s", dev->cfg.dir, leaf);
    if (r < 0 || (size_t)r >= n) {
        return fwt_fail(FWT_E_ARG, "device path too long");
    }
    return FWT_OK;
}

/* A non-200 answer: the server's {"error","detail"} in one sentence. */
static fwt_err server_refused(const char *what, long status, const uint8_t *body, size_t len)
{
    json_error_t je;
    json_t *o = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
    const char *code = json_string_value(json_object_get(o, "error"));
    const char *detail = json_string_value(json_object_get(o, "detail"));
    fwt_err err = fwt_fail(FWT_E_NETWORK, "%s: the server answered HTTP %ld (%.64s): %.300s", what, status,
                           code ? code : "no error code", detail ? detail : "no detail");
    json_decref(o);
    return err;
}

/* POST body to the server's path; on 200 the answer as a JSON object (strict). *code (may be
 * NULL) gets the HTTP status. */
static fwt_err call_status(const struct fwt_tuf_transport *t, const char *server, const char *path,
                           const char *body, size_t len, json_t **answer, long *code)
{
    char url[URL_MAX];
    uint8_t *resp = NULL;
    size_t rl = 0;
    long status = 0;
    *answer = NULL;
    fwt_err err = join(url, sizeof(url), server, path);
    if (err == FWT_OK) {
        err = fwt_http_post_json(t, url, body, len, FWT_FLEET_MAX_BODY, &resp, &rl, &status);
    }
    if (code) {
        *code = status;
    }
    if (err == FWT_OK && status != 200) {
        err = server_refused(path, status, resp, rl);
    }
    if (err == FWT_OK) {
        err = fwt_tuf_json_load(resp, rl, path, answer);
        if (err == FWT_OK && !json_is_object(*answer)) {
            err = fwt_fail(FWT_E_MALFORMED, "%s: the answer is not a JSON object", path);
        }
        if (err != FWT_OK) {
            json_decref(*answer);
            *answer = NULL;
            err = err == FWT_E_META ? fwt_fail(FWT_E_MALFORMED, "%s: the answer is not JSON", path) : err;
        }
    }
    free(resp);
    return err;
}

static fwt_err call(const struct fwt_tuf_transport *t, const char *server, const char *path, const char *body,
                    size_t len, json_t **answer)
{
    return call_status(t, server, path, body, len, answer, NULL);
}

static fwt_err get_period(const json_t *o, const char *name, int zero_ok, uint32_t *out)
{
    const json_t *v = json_object_get(o, name);
    if (!json_is_integer(v) || json_integer_value(v) < (zero_ok ? 0 : 1) || json_integer_value(v) > MAX_PERIOD) {
        return fwt_fail(FWT_E_MALFORMED, "server answer: \"%s\" must be %d to %u seconds", name, zero_ok ? 0 : 1,
                        MAX_PERIOD);
    }
    *out = (uint32_t)json_integer_value(v);
    return FWT_OK;
}

fwt_err fwt_agent_enroll_answer_parse(const json_t *ans, struct fwt_agent_enroll_answer *out)
{
    memset(out, 0, sizeof(*out));
    out->device_id = json_string_value(json_object_get(ans, "device_id"));
    out->certificate = json_string_value(json_object_get(ans, "certificate"));
    out->ca = json_string_value(json_object_get(ans, "ca"));
    out->director_root = json_object_get(ans, "director_root");
    if (!json_is_object(ans)) {
        return fwt_fail(FWT_E_MALFORMED, "enroll: the answer is not a JSON object");
    }
    if (!out->device_id || !fwt_fleet_device_id_valid(out->device_id)) {
        return fwt_fail(FWT_E_MALFORMED, "enroll: the server gave no valid device_id");
    }
    if (!out->certificate || !out->ca || !json_is_object(out->director_root)) {
        return fwt_fail(FWT_E_MALFORMED, "enroll: the answer lacks certificate, ca or director_root");
    }
    fwt_err err = get_period(ans, "checkin_interval", 0, &out->interval);
    return err == FWT_OK ? get_period(ans, "jitter", 1, &out->jitter) : err;
}

fwt_err fwt_agent_checkin_answer_parse(const json_t *ans, struct fwt_agent_checkin_result *res)
{
    if (!json_is_object(ans)) {
        return fwt_fail(FWT_E_MALFORMED, "checkin: the answer is not a JSON object");
    }
    fwt_err err = get_period(ans, "checkin_interval", 0, &res->interval);
    if (err == FWT_OK) {
        err = get_period(ans, "jitter", 1, &res->jitter);
    }
    const json_t *rb = json_object_get(ans, "renew_before"), *dv = json_object_get(ans, "director_targets_version");
    if (err == FWT_OK && (!json_is_integer(rb) || !json_is_integer(dv) || json_integer_value(dv) < 0 ||
                          (uint64_t)json_integer_value(dv) > FWT_FLEET_COUNTER_MAX)) {
        err = fwt_fail(FWT_E_MALFORMED, "checkin: the answer needs integers renew_before and "
                       "director_targets_version (0..2^53-1)");
    }
    if (err == FWT_OK) {
        res->renew_before = (int64_t)json_integer_value(rb);
        res->director_version = (uint64_t)json_integer_value(dv);
    }
    return err;
}

/* The first line of a token file, 1..TOKEN_MAX printable bytes. */
static fwt_err read_token(const char *path, char *out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err err = fwt_read_file(path, 4096, &buf, &len);
    if (err != FWT_OK) {
        return fwt_fail(err, "enrollment token %s: %s", path, fwt_detail());
    }
    size_t n = 0;
    while (n < len && buf[n] != '\n' && buf[n] != '\r') {
        n++;
    }
    int ok = n > 0 && n <= TOKEN_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        ok = buf[i] > 0x20 && buf[i] < 0x7f;
    }
    if (ok) {
        memcpy(out, buf, n);
        out[n] = '\0';
    }
    fwt_zeroize(buf, len);
    free(buf);
    return ok ? FWT_OK
              : fwt_fail(FWT_E_ARG, "enrollment token %s: the first line must be 1 to %u printable characters",
                         path, TOKEN_MAX);
}

static fwt_err write_file(const char *path, const char *text, unsigned mode)
{
    return fwt_f_write_atomic(path, text, strlen(text), mode);
}

/* Replace a config string (owned by dev). */
static fwt_err set_cfg(char **dst, const char *v)
{
    char *n = strdup(v);
    if (!n) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    free(*dst);
    *dst = n;
    return FWT_OK;
}

static fwt_err save_config(fwt_agent *dev)
{
    char *text = NULL;
    char path[4200];
    fwt_err err = dpath(dev, FWT_AGENT_CONFIG_NAME, path, sizeof(path));
    if (err == FWT_OK) {
        err = fwt_agent_config_format(&dev->cfg, &text);
    }
    if (err == FWT_OK) {
        err = write_file(path, text, 0644);
    }
    free(text);
    return err;
}

/* The device's mutual TLS to the server; its TLS session kept in DIR/fleet/tls-session
 * (0600, bound to the certificate file: the transport's) so that the next request resumes
 * it rather than making a full handshake. session: room for that path. */
#define SESSION_PATH_MAX 4200
static fwt_err device_transport(const fwt_agent *dev, struct fwt_tuf_transport *t, char session[SESSION_PATH_MAX])
{
    const struct fwt_agent_config *c = &dev->cfg;
    memset(t, 0, sizeof(*t));
    if (!c->fleet_server) {
        return fwt_fail(FWT_E_ARG, "this device is not enrolled in a fleet ([fleet] server; fwtrust-agent enroll)");
    }
    t->ca_file = c->fleet_ca;
    t->client_cert = c->fleet_cert;
    t->client_key = c->fleet_key;
    t->timeout_s = 60;
    fwt_err err = dpath(dev, "fleet/tls-session", session, SESSION_PATH_MAX);
    t->tls_session_file = err == FWT_OK ? session : NULL;
    return err;
}

/* ---- enrollment ---- */

/* The body of an enrollment with a factory certificate: a fresh server nonce (POST
 * /v1/enroll/nonce), signed with the factory key together with the CSR, hardware id and
 * serial (fwt_fleet_factory_message, the server's own check). */
static fwt_err factory_request(const struct fwt_tuf_transport *t, const struct fwt_agent_enroll_opts *o,
                               const char *csr, const char *hw_id, const char *serial, const char *cert_pem,
                               json_t **req)
{
    *req = NULL;
    json_t *ans = NULL;
    fwt_privkey *fk = NULL;
    char *msg = NULL, *hex = NULL;
    uint8_t *sig = NULL;
    size_t ml = 0, sl = 0;
    struct fwt_key_opts ko;
    memset(&ko, 0, sizeof(ko));
    ko.pin_file = o->factory_pin_file;
    fwt_err err = fwt_privkey_load(o->factory_key, &ko, &fk);
    if (err != FWT_OK) {
        err = fwt_fail(err, "factory key %s: %s", o->factory_key, fwt_detail());
    }
    if (err == FWT_OK) {
        err = call(t, o->server, "/v1/enroll/nonce", "{}", 2, &ans);
    }
    const char *nonce = json_string_value(json_object_get(ans, "nonce"));
    if (err == FWT_OK && (!nonce || strlen(nonce) != FWT_FLEET_FACTORY_NONCE_HEX)) {
        err = fwt_fail(FWT_E_MALFORMED, "/v1/enroll/nonce: the answer needs a %u-digit hex \"nonce\"",
                       FWT_FLEET_FACTORY_NONCE_HEX);
    }
    if (err == FWT_OK) {
        err = fwt_fleet_factory_message(nonce, csr, hw_id, serial, &msg, &ml);
        if (err == FWT_E_ARG) {
            err = fwt_fail(FWT_E_MALFORMED, "/v1/enroll/nonce: %s", fwt_detail());
        }
    }
    if (err == FWT_OK) {
        sl = fwt_privkey_sig_max(fk);
        sig = sl && sl <= FWT_FLEET_FACTORY_SIG_MAX ? malloc(sl) : NULL;
        hex = sig ? malloc(2 * sl + 1) : NULL;
        if (!hex) {
            err = sl > FWT_FLEET_FACTORY_SIG_MAX ? fwt_fail(FWT_E_UNSUPPORTED, "factory key: signatures above %u bytes",
                                                            FWT_FLEET_FACTORY_SIG_MAX)
                                                 : fwt_fail(FWT_E_NOMEM, "out of memory");
        }
    }
    if (err == FWT_OK) {
        err = fwt_sign_message(fk, (const uint8_t *)msg, ml, sig, &sl);
    }
    if (err == FWT_OK) {
        fwt_hex_encode(sig, sl, hex);
        *req = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "factory_cert", cert_pem, "nonce", nonce, "signature", hex,
                         "csr", csr, "hardware_id", hw_id, "serial", serial);
        if (!*req) {
            err = fwt_fail(FWT_E_NOMEM, "out of memory");
        }
    }
    json_decref(ans);
    free(msg);
    free(sig);
    free(hex);
    fwt_privkey_free(fk);
    return err;
}

fwt_err fwt_agent_enroll(fwt_agent *dev, const struct fwt_agent_enroll_opts *o, struct fwt_agent_enroll_result *res)
{
    memset(res, 0, sizeof(*res));
    if (dev->readonly) {
        return fwt_fail(FWT_E_ARG, "the device is open read-only");
    }
    int factory = o->factory_cert != NULL;
    if (!o->server || !o->ca || (factory ? (o->token_file || !o->factory_key) : (!o->token_file || !o->serial))) {
        return fwt_fail(FWT_E_ARG, "enroll needs the server URL, the server's CA, and either the token file and the "
                        "serial or the factory certificate and its key");
    }
    /* with a factory certificate, the serial is the one it names (fwt_fleet_factory_serial) */
    uint8_t *fc_pem = NULL;
    size_t fc_len = 0;
    char fserial[FWT_FLEET_ID_MAX + 1] = "";
    fwt_err ferr = FWT_OK;
    if (factory) {
        ferr = fwt_read_file(o->factory_cert, FWT_FLEET_MAX_BODY / 2, &fc_pem, &fc_len);
        if (ferr != FWT_OK) {
            ferr = fwt_fail(ferr, "factory certificate %s: %s", o->factory_cert, fwt_detail());
        } else if ((ferr = fwt_fleet_factory_serial((const char *)fc_pem, fc_len, fserial)) == FWT_OK && o->serial &&
                   strcmp(o->serial, fserial) != 0) {
            ferr = fwt_fail(FWT_E_ARG, "--serial '%s' is not the factory certificate's serialNumber '%s'", o->serial,
                            fserial);
        }
        if (ferr != FWT_OK) {
            free(fc_pem);
            return ferr;
        }
    }
    const char *serial = factory ? fserial : o->serial;
    if (strlen(serial) == 0 || strlen(serial) > FWT_FLEET_ID_MAX) {
        free(fc_pem);
        return fwt_fail(FWT_E_ARG, "serial: 1 to %u bytes", FWT_FLEET_ID_MAX);
    }
    for (const char *p = serial; *p; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) {
            free(fc_pem);
            return fwt_fail(FWT_E_ARG, "serial: printable ASCII only");
        }
    }
    char fdir[4200], key_new[4300], key_path[4300], crt_path[4300], ca_path[4300], fca_path[4300], root_path[4300],
        ddir[4300];
    fwt_err err = dpath(dev, "fleet", fdir, sizeof(fdir));
    if (err != FWT_OK) {
        free(fc_pem);
        return err;
    }
    snprintf(key_new, sizeof(key_new), "%s/device.key.new", fdir);
    snprintf(key_path, sizeof(key_path), "%s/device.key", fdir);
    snprintf(crt_path, sizeof(crt_path), "%s/device.crt", fdir);
    snprintf(ca_path, sizeof(ca_path), "%s/server-ca.pem", fdir);
    snprintf(fca_path, sizeof(fca_path), "%s/fleet-ca.pem", fdir);
    snprintf(root_path, sizeof(root_path), "%s/director-root.json", fdir);
    snprintf(ddir, sizeof(ddir), "%s/director", dev->cfg.dir);
    if (mkdir(fdir, 0700) != 0 && errno != EEXIST) {
        free(fc_pem);
        return fwt_fail(FWT_E_IO, "%s: %s", fdir, strerror(errno));
    }
    char token[TOKEN_MAX + 1] = "";
    uint8_t *ca_pem = NULL;
    size_t ca_len = 0;
    err = factory ? FWT_OK : read_token(o->token_file, token);
    if (err == FWT_OK) {
        err = fwt_read_file(o->ca, 65536, &ca_pem, &ca_len);
        if (err != FWT_OK) {
            err = fwt_fail(err, "server CA %s: %s", o->ca, fwt_detail());
        }
    }
    if (err != FWT_OK) {
        free(ca_pem);
        free(fc_pem);
        fwt_zeroize(token, sizeof(token));
        return err;
    }
    /* A fresh device key beside the old one; it replaces it only when enrollment succeeded. */
    (void)unlink(key_new);
    fwt_privkey *key = NULL;
    fwt_pubkey *pub = NULL;
    char *csr = NULL, *body = NULL, *root_txt = NULL;
    json_t *req = NULL, *ans = NULL;
    err = fwt_keygen_file(FWT_KEY_ECDSA_P256, key_new, NULL);
    if (err == FWT_OK) {
        err = fwt_privkey_load(key_new, NULL, &key);
    }
    if (err == FWT_OK) {
        err = fwt_privkey_public(key, &pub);
    }
    if (err == FWT_OK) {
        err = fwt_privkey_csr(key, serial, &csr);
    }
    struct fwt_tuf_transport t;
    memset(&t, 0, sizeof(t));
    t.ca_file = o->ca;
    t.timeout_s = 60;
    if (err == FWT_OK && factory) {
        err = factory_request(&t, o, csr, dev->cfg.hw_id, serial, (const char *)fc_pem, &req);
    } else if (err == FWT_OK) {
        req = json_pack("{s:s,s:s,s:s,s:s}", "token", token, "csr", csr, "hardware_id", dev->cfg.hw_id, "serial",
                        serial);
    }
    if (err == FWT_OK) {
        body = req ? json_dumps(req, JSON_COMPACT) : NULL;
        if (!body) {
            err = fwt_fail(FWT_E_NOMEM, "out of memory");
        }
    }
    if (err == FWT_OK) {
        err = call(&t, o->server, "/v1/enroll", body, strlen(body), &ans);
    }
    struct fwt_agent_enroll_answer ea;
    memset(&ea, 0, sizeof(ea));
    if (err == FWT_OK) {
        err = fwt_agent_enroll_answer_parse(ans, &ea);
    }
    const char *id = ea.device_id, *cert = ea.certificate, *fca = ea.ca;
    const json_t *root = ea.director_root;
    res->interval = ea.interval;
    res->jitter = ea.jitter;
    if (err == FWT_OK) {
        err = fwt_x509_check(cert, strlen(cert), pub, id, &res->cert_not_after);
        if (err == FWT_OK) {
            err = fwt_x509_check(fca, strlen(fca), NULL, NULL, NULL);
        }
    }
    if (err == FWT_OK) {
        /* The director root: root metadata signed by a threshold of its own keys (fwt_tuf_init checks). */
        root_txt = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
        err = root_txt ? fwt_tuf_init_flags(ddir, (const uint8_t *)root_txt, strlen(root_txt), FWT_TUF_INIT_REPLACE)
                       : fwt_fail(FWT_E_NOMEM, "out of memory");
        if (err != FWT_OK && root_txt) {
            char d[600];
            snprintf(d, sizeof(d), "%s", fwt_detail());
            err = fwt_fail(err, "enroll: the director root from the server: %s", d);
        }
    }
    if (err == FWT_OK) {
        err = write_file(root_path, root_txt, 0644);
    }
    if (err == FWT_OK) {
        err = write_file(crt_path, cert, 0644);
    }
    if (err == FWT_OK) {
        err = write_file(fca_path, fca, 0644);
    }
    if (err == FWT_OK) {
        err = fwt_f_write_atomic(ca_path, ca_pem, ca_len, 0644);
    }
    if (err == FWT_OK && fwt_f_rename(key_new, key_path) != 0) {
        err = fwt_fail(FWT_E_IO, "%s: %s", key_path, strerror(errno));
    }
    if (err == FWT_OK) {
        err = fwt_f_fsync_dir(fdir);
    }
    if (err == FWT_OK) {
        struct fwt_agent_config *c = &dev->cfg;
        err = set_cfg(&c->fleet_server, o->server);
        err = err == FWT_OK ? set_cfg(&c->fleet_device_id, id) : err;
        err = err == FWT_OK ? set_cfg(&c->fleet_serial, serial) : err;
        err = err == FWT_OK ? set_cfg(&c->fleet_key, key_path) : err;
        err = err == FWT_OK ? set_cfg(&c->fleet_cert, crt_path) : err;
        err = err == FWT_OK ? set_cfg(&c->fleet_ca, ca_path) : err;
        err = err == FWT_OK ? set_cfg(&c->fleet_director_root, root_path) : err;
        c->fleet_interval = res->interval;
        c->fleet_jitter = res->jitter;
        if (err == FWT_OK) {
            err = save_config(dev);
        }
    }
    if (err == FWT_OK) {
        snprintf(res->device_id, sizeof(res->device_id), "%s", id);
        char d[200];
        snprintf(d, sizeof(d), "enrolled as %s at %.120s", id, o->server);
        err = fwt_agent_log_event(dev, "enroll", d);
    } else {
        (void)unlink(key_new);
    }
    fwt_zeroize(token, sizeof(token));
    if (body) {
        fwt_zeroize(body, strlen(body));
    }
    free(body);
    json_decref(req);
    json_decref(ans);
    free(csr);
    free(root_txt);
    free(ca_pem);
    free(fc_pem);
    fwt_pubkey_free(pub);
    fwt_privkey_free(key);
    return err;
}

/* ---- the manifest ---- */

/* SHA-256 of the first len bytes of path. */
static fwt_err hash_prefix(const char *path, uint64_t len, uint8_t out[32])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fwt_fail(FWT_E_IO, "%s: %s", path, strerror(errno));
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    fwt_err err = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? FWT_OK
                                                                           : fwt_fail(FWT_E_CRYPTO, "SHA-256");
    static uint8_t buf[65536];
    uint64_t done = 0;
    while (err == FWT_OK && done < len) {
        size_t want = len - done < sizeof(buf) ? (size_t)(len - done) : sizeof(buf);
        ssize_t n = pread(fd, buf, want, (off_t)done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            err = fwt_fail(FWT_E_IO, "%s: short read", path);
        } else if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
            err = fwt_fail(FWT_E_CRYPTO, "SHA-256");
        } else {
            done += (uint64_t)n;
        }
    }
    unsigned ol = 0;
    if (err == FWT_OK && EVP_DigestFinal_ex(ctx, out, &ol) != 1) {
        err = fwt_fail(FWT_E_CRYPTO, "SHA-256");
    }
    EVP_MD_CTX_free(ctx);
    close(fd);
    return err;
}

/* The trusted director targets version (DIR/director/targets.json: verified before it was written). */
static uint64_t director_version(const fwt_agent *dev)
{
    char path[4200];
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t v = 0;
    if (dpath(dev, "director/targets.json", path, sizeof(path)) != FWT_OK ||
        fwt_read_file(path, FWT_TUF_DEFAULT_MAX_TARGETS_SIZE, &buf, &len) != FWT_OK) {
        fwt_detail_clear();
        return 0;
    }
    json_error_t je;
    json_t *o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    const json_t *ver = json_object_get(json_object_get(o, "signed"), "version");
    if (json_is_integer(ver) && json_integer_value(ver) > 0 &&
        (uint64_t)json_integer_value(ver) <= FWT_FLEET_COUNTER_MAX) {
        v = (uint64_t)json_integer_value(ver);
    }
    json_decref(o);
    free(buf);
    return v;
}

static fwt_err fill_slots(fwt_agent *dev, struct fwt_fleet_manifest *m)
{
    struct fwt_agent_status st;
    struct fwt_agent_fleet_state fs;
    fwt_err err = fwt_agent_status_get(dev, &st);
    if (err == FWT_OK) {
        err = fwt_agent_fleet_state_get(dev, &fs);
    }
    if (err != FWT_OK) {
        return err;
    }
    for (int s = 0; s < 2; s++) {
        struct fwt_fleet_slot *sl = &m->slots[m->n_slots++];
        struct fwt_agent_image img;
        sl->slot = (char)('a' + s);
        fwt_err v = fwt_agent_verify_slot(dev, (enum fwt_agent_slot)s, &img);
        if (v == FWT_E_NOT_FOUND) {
            sl->state = FWT_FLEET_SLOT_EMPTY;
            continue;
        }
        if (v != FWT_OK || st.bad[s]) {
            sl->state = FWT_FLEET_SLOT_BAD;
            continue;
        }
        sl->state = st.trial == (enum fwt_agent_slot)s       ? FWT_FLEET_SLOT_TRIAL
                    : st.confirmed == (enum fwt_agent_slot)s ? FWT_FLEET_SLOT_CONFIRMED
                                                             : FWT_FLEET_SLOT_INACTIVE;
        sl->has_image = 1;
        sl->length = img.total_size;
        fwt_version_format(&img.version, sl->version, sizeof(sl->version));
        sl->has_security_counter = img.has_security_counter;
        sl->security_counter = img.security_counter;
        sl->has_key_version = img.has_cert;
        sl->key_version = img.key_version;
        err = hash_prefix(img.path, img.total_size, sl->sha256);
        if (err != FWT_OK) {
            return err;
        }
        /* the name of the target it came from, when it is the last one installed from a repository */
        if (fs.target[0] && fwt_ct_compare(fs.target_sha256, sl->sha256, 32) == 0) {
            snprintf(sl->name, sizeof(sl->name), "%s", fs.target);
        }
    }
    fwt_detail_clear();
    return FWT_OK;
}

/* Printable ASCII copy (the protocol's reasons), '?' for anything else. */
static void ascii(char *dst, size_t n, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < n; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    dst[i] = '\0';
}

fwt_err fwt_agent_manifest(fwt_agent *dev, struct fwt_fleet_manifest *m)
{
    const struct fwt_agent_config *c = &dev->cfg;
    memset(m, 0, sizeof(*m));
    if (!c->fleet_device_id || !c->fleet_serial) {
        return fwt_fail(FWT_E_ARG, "this device is not enrolled in a fleet ([fleet] device_id, serial)");
    }
    snprintf(m->device_id, sizeof(m->device_id), "%s", c->fleet_device_id);
    snprintf(m->hardware_id, sizeof(m->hardware_id), "%s", c->hw_id);
    snprintf(m->serial, sizeof(m->serial), "%s", c->fleet_serial);
    fwt_err err = fwt_fleet_nonce(m->nonce);
    if (err == FWT_OK) {
        err = fill_slots(dev, m);
    }
    struct fwt_agent_outcome oc;
    if (err == FWT_OK) {
        err = fwt_agent_outcome_get(dev, &oc);
    }
    if (err == FWT_OK && oc.last != FWT_OUTCOME_NONE) {
        m->has_last_install = 1;
        m->last_install.result = oc.last == FWT_OUTCOME_ROLLED_BACK ? FWT_FLEET_RESULT_ROLLED_BACK
                                 : oc.last == FWT_OUTCOME_REFUSED   ? FWT_FLEET_RESULT_REFUSED
                                                                    : FWT_FLEET_RESULT_OK;
        m->last_install.error = 0; /* the outcome record keeps the reason, not the number */
        ascii(m->last_install.reason, sizeof(m->last_install.reason), oc.reason);
    }
    uint32_t boot = 0;
    unsigned events = 0;
    if (err == FWT_OK && fwt_agent_measurements_events(dev, &boot, m->measurement.pcr, &events) == FWT_OK &&
        boot > 0) {
        m->has_measurement = 1;
        m->measurement.pcr_len = 32;
        m->measurement.events = events;
    }
    fwt_detail_clear(); /* a measurement that does not replay is simply not reported */
    if (err == FWT_OK) {
        err = fwt_audit_head(c->dir, &m->audit_head.size, m->audit_head.root);
        m->has_audit_head = err == FWT_OK && m->audit_head.size > 0;
    }
    if (err == FWT_OK) {
        m->director_targets_version = director_version(dev);
        m->time = time(NULL);
        err = fwt_agent_fleet_next_counter(dev, &m->counter);
    }
    return err;
}

/* ---- check-in and report ---- */

static fwt_err renew(fwt_agent *dev, const struct fwt_tuf_transport *t, fwt_privkey *key, int64_t *not_after)
{
    const struct fwt_agent_config *c = &dev->cfg;
    char *csr = NULL, *body = NULL;
    json_t *req = NULL, *ans = NULL;
    fwt_pubkey *pub = NULL;
    fwt_err err = fwt_privkey_public(key, &pub);
    if (err == FWT_OK) {
        err = fwt_privkey_csr(key, c->fleet_device_id, &csr);
    }
    if (err == FWT_OK) {
        req = json_pack("{s:s}", "csr", csr);
        body = req ? json_dumps(req, JSON_COMPACT) : NULL;
        err = body ? call(t, c->fleet_server, "/v1/renew", body, strlen(body), &ans)
                   : fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    const char *cert = json_string_value(json_object_get(ans, "certificate"));
    if (err == FWT_OK && !cert) {
        err = fwt_fail(FWT_E_MALFORMED, "renew: the answer has no certificate");
    }
    if (err == FWT_OK) {
        err = fwt_x509_check(cert, strlen(cert), pub, c->fleet_device_id, not_after);
    }
    if (err == FWT_OK) {
        err = write_file(c->fleet_cert, cert, 0644);
    }
    if (err == FWT_OK && t->tls_session_file) {
        (void)unlink(t->tls_session_file); /* the old certificate's session (not offered with the new one) */
    }
    if (err == FWT_OK) {
        err = fwt_agent_log_event(dev, "renew", "device certificate renewed");
    }
    json_decref(req);
    json_decref(ans);
    free(body);
    free(csr);
    fwt_pubkey_free(pub);
    return err;
}

/* ---- remote attestation over the fleet API (docs/attestation.md, docs/fleet-protocol.md) ---- */

/* POST a JSON object, its dump as the body. */
static fwt_err call_obj(const struct fwt_tuf_transport *t, const char *server, const char *path, json_t *o,
                        json_t **answer, long *code)
{
    char *body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!body) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_err err = call_status(t, server, path, body, strlen(body), answer, code);
    free(body);
    return err;
}

/* The attestation key's enrollment: the TPM's request, the server's credential challenge,
 * the TPM's activation; DIR/fleet/attest-ak records that the server holds an active AK. */
static fwt_err attest_enroll(fwt_agent *dev, const struct fwt_tuf_transport *t, long *code)
{
    const char *srv = dev->cfg.fleet_server;
    char *req = NULL, *chal = NULL, *act = NULL, mark[4200];
    json_t *a = NULL;
    fwt_err err = fwt_agent_attest_request(dev, &req);
    if (err == FWT_OK) {
        err = call_obj(t, srv, "/v1/attest/enroll", json_loads(req, 0, NULL), &a, code);
    }
    if (err == FWT_OK && !(chal = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS))) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    json_decref(a);
    a = NULL;
    if (err == FWT_OK) {
        err = fwt_agent_attest_activate(dev, chal, strlen(chal), &act);
    }
    if (err == FWT_OK) {
        err = call_obj(t, srv, "/v1/attest/activate", json_loads(act, 0, NULL), &a, NULL);
    }
    if (err == FWT_OK && !json_is_string(json_object_get(a, "ak"))) {
        err = fwt_fail(FWT_E_MALFORMED, "/v1/attest/activate: the answer needs \"ak\"");
    }
    if (err == FWT_OK && (err = dpath(dev, "fleet/attest-ak", mark, sizeof(mark))) == FWT_OK) {
        err = write_file(mark, "active\n", 0644);
    }
    json_decref(a);
    free(req);
    free(chal);
    if (act) {
        fwt_zeroize(act, strlen(act)); /* the recovered credential */
        free(act);
    }
    return err;
}

static fwt_err attest_quote(fwt_agent *dev, const struct fwt_tuf_transport *t, struct fwt_agent_attestation *r,
                            long *code)
{
    const char *srv = dev->cfg.fleet_server;
    json_t *a = NULL;
    char *ev = NULL;
    uint8_t nonce[32];
    fwt_err err = call_obj(t, srv, "/v1/attest/nonce", json_object(), &a, code);
    const char *nh = json_string_value(json_object_get(a, "nonce"));
    if (err == FWT_OK && (!nh || strlen(nh) != 64 || fwt_hex_decode(nh, nonce, 32) != FWT_OK)) {
        err = fwt_fail(FWT_E_MALFORMED, "/v1/attest/nonce: the answer needs a 32-byte hex \"nonce\"");
    }
    char hex[65] = "";
    if (err == FWT_OK) {
        snprintf(hex, sizeof(hex), "%s", nh);
        err = fwt_agent_attest_quote(dev, nonce, 32, NULL, &ev);
    }
    json_decref(a);
    a = NULL;
    json_t *evo = ev ? json_loads(ev, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (err == FWT_OK) {
        err = call_obj(t, srv, "/v1/attest/quote", json_pack("{s:s, s:o}", "nonce", hex, "evidence", evo), &a, code);
        evo = NULL;
    }
    json_decref(evo);
    const char *v = json_string_value(json_object_get(a, "verdict")),
               *why = json_string_value(json_object_get(a, "reason")),
               *d = json_string_value(json_object_get(a, "detail"));
    if (err == FWT_OK && (!v || !why || !d || !json_is_object(json_object_get(a, "record")))) {
        err = fwt_fail(FWT_E_MALFORMED, "/v1/attest/quote: the answer needs verdict, reason, detail and record");
    }
    if (err == FWT_OK) {
        snprintf(r->verdict, sizeof(r->verdict), "%s", v);
        snprintf(r->reason, sizeof(r->reason), "%s", why);
        snprintf(r->detail, sizeof(r->detail), "%s", d);
        r->done = 1;
    }
    json_decref(a);
    free(ev);
    return err;
}

fwt_err fwt_agent_fleet_attest(fwt_agent *dev, struct fwt_agent_attestation *r)
{
    memset(r, 0, sizeof(*r));
    struct fwt_tuf_transport t;
    char session[SESSION_PATH_MAX];
    fwt_err err = device_transport(dev, &t, session);
    char mark[4200];
    if (err == FWT_OK && !dev->cfg.tpm) {
        r->no_tpm = 1;
        return FWT_OK;
    }
    if (err == FWT_OK) {
        err = dpath(dev, "fleet/attest-ak", mark, sizeof(mark));
    }
    long code = 0;
    if (err == FWT_OK && access(mark, F_OK) != 0) {
        if ((err = attest_enroll(dev, &t, &code)) == FWT_OK) {
            r->enrolled = 1;
        }
    }
    if (err == FWT_OK) {
        err = attest_quote(dev, &t, r, &code);
    }
    /* the server lost the key (409) or holds one never activated: enroll again, once */
    int again = (err == FWT_E_NETWORK && code == 409) ||
                (err == FWT_OK && r->done && !strcmp(r->reason, "ak_not_activated"));
    if (again && !r->enrolled) {
        fwt_detail_clear();
        memset(r, 0, sizeof(*r));
        if ((err = attest_enroll(dev, &t, &code)) == FWT_OK) {
            r->enrolled = 1;
            err = attest_quote(dev, &t, r, &code);
        }
    }
    /* a server that does not attest (501): nothing to do */
    if (err == FWT_E_NETWORK && code == 501) {
        fwt_detail_clear();
        r->not_offered = 1;
        err = FWT_OK;
    }
    return err;
}

/* The director root chain, when the check-in answer names a version above the trusted one:
 * the TUF client's root update on DIR/director (fwt_tuf_refresh_root). */
static fwt_err director_root_update(fwt_agent *dev, const struct fwt_tuf_transport *t, const json_t *ans,
                                    struct fwt_agent_checkin_result *res)
{
    const json_t *rv = json_object_get(ans, "director_root_version");
    char mdir[4200], url[URL_MAX];
    fwt_err err = dpath(dev, "director", mdir, sizeof(mdir));
    if (err == FWT_OK) {
        err = join(url, sizeof(url), dev->cfg.fleet_server, "/v1/director/");
    }
    if (err != FWT_OK) {
        return err;
    }
    struct fwt_tuf_client_opts co;
    memset(&co, 0, sizeof(co));
    co.metadata_dir = mdir;
    co.metadata_url = url;
    co.transport = *t;
    fwt_tuf_client *c = NULL;
    err = fwt_tuf_client_open(&co, &c);
    if (err != FWT_OK) {
        /* no director root installed (an enrollment of an older agent): nothing to walk */
        fwt_detail_clear();
        return FWT_OK;
    }
    res->director_root_version = fwt_tuf_role_version(c, "root");
    if (rv && (!json_is_integer(rv) || json_integer_value(rv) < 1)) {
        err = fwt_fail(FWT_E_MALFORMED, "checkin: \"director_root_version\" must be a positive integer");
    } else if (rv && (uint64_t)json_integer_value(rv) > res->director_root_version) {
        err = fwt_tuf_refresh_root(c);
        if (err != FWT_OK) {
            char d[700];
            snprintf(d, sizeof(d), "%s", fwt_detail());
            err = fwt_fail(err, "director root: %s", d);
        } else {
            res->director_root_updated = 1;
            res->director_root_version = fwt_tuf_role_version(c, "root");
            char d[96];
            snprintf(d, sizeof(d), "director root version %llu", (unsigned long long)res->director_root_version);
            err = fwt_agent_log_event(dev, "director-root", d);
        }
    }
    fwt_tuf_client_free(c);
    return err;
}

fwt_err fwt_agent_checkin(fwt_agent *dev, struct fwt_agent_checkin_result *res)
{
    memset(res, 0, sizeof(*res));
    struct fwt_tuf_transport t;
    char session[SESSION_PATH_MAX];
    fwt_err err = device_transport(dev, &t, session);
    if (err != FWT_OK) {
        return err;
    }
    const struct fwt_agent_config *c = &dev->cfg;
    struct fwt_fleet_manifest *m = calloc(1, sizeof(*m));
    fwt_privkey *key = NULL;
    char *body = NULL;
    size_t len = 0;
    json_t *ans = NULL;
    if (!m) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    err = fwt_privkey_load(c->fleet_key, NULL, &key);
    if (err == FWT_OK) {
        err = fwt_agent_manifest(dev, m);
    }
    if (err == FWT_OK) {
        res->counter = m->counter;
        res->device_director_version = m->director_targets_version;
        err = fwt_fleet_manifest_sign(m, key, &body, &len);
    }
    if (err == FWT_OK) {
        t.tls_resumed = &res->tls_resumed;
        err = call(&t, c->fleet_server, "/v1/checkin", body, len, &ans);
        t.tls_resumed = NULL;
    }
    if (err == FWT_OK) {
        err = fwt_agent_checkin_answer_parse(ans, res);
    }
    if (err == FWT_OK) {
        res->director_newer = res->director_version > res->device_director_version;
        uint8_t *pem = NULL;
        size_t pl = 0;
        err = fwt_read_file(c->fleet_cert, 65536, &pem, &pl);
        if (err == FWT_OK) {
            err = fwt_x509_check((const char *)pem, pl, NULL, NULL, &res->cert_not_after);
        }
        free(pem);
    }
    /* The server's interval becomes the device's (persisted when it changed). */
    if (err == FWT_OK && (res->interval != c->fleet_interval || res->jitter != c->fleet_jitter)) {
        dev->cfg.fleet_interval = res->interval;
        dev->cfg.fleet_jitter = res->jitter;
        err = save_config(dev);
    }
    /* Renew the certificate before it expires: from renew_before on, at every check-in. */
    if (err == FWT_OK && (int64_t)time(NULL) >= res->renew_before) {
        err = renew(dev, &t, key, &res->cert_not_after);
        res->renewed = err == FWT_OK;
    }
    /* A newer director root (a rotation): walk the chain to it now (TUF 5.3). Last, so a
     * root that does not verify never keeps the device from renewing its certificate. */
    if (err == FWT_OK) {
        err = director_root_update(dev, &t, ans, res);
    }
    json_decref(ans);
    free(body);
    free(m);
    fwt_privkey_free(key);
    return err;
}

fwt_err fwt_agent_report(fwt_agent *dev, const char *target, int state, int error, const char *reason)
{
    struct fwt_tuf_transport t;
    char session[SESSION_PATH_MAX];
    fwt_err err = device_transport(dev, &t, session);
    if (err != FWT_OK) {
        return err;
    }
    const struct fwt_agent_config *c = &dev->cfg;
    struct fwt_fleet_report r;
    memset(&r, 0, sizeof(r));
    snprintf(r.device_id, sizeof(r.device_id), "%s", c->fleet_device_id);
    if (target && strlen(target) <= FWT_FLEET_NAME_MAX) {
        snprintf(r.target, sizeof(r.target), "%s", target);
    }
    r.state = (enum fwt_fleet_state)state;
    r.error = error < 0 || error > FWT_FLEET_ERROR_MAX ? FWT_FLEET_ERROR_MAX : error;
    ascii(r.reason, sizeof(r.reason), reason);
    r.time = time(NULL);
    fwt_privkey *key = NULL;
    char *body = NULL;
    size_t len = 0;
    json_t *ans = NULL;
    err = fwt_privkey_load(c->fleet_key, NULL, &key);
    if (err == FWT_OK) {
        err = fwt_agent_fleet_next_counter(dev, &r.counter);
    }
    if (err == FWT_OK) {
        err = fwt_fleet_report_sign(&r, key, &body, &len);
    }
    if (err == FWT_OK) {
        err = call(&t, c->fleet_server, "/v1/report", body, len, &ans);
    }
    json_decref(ans);
    free(body);
    fwt_privkey_free(key);
    return err;
}

fwt_err fwt_agent_checkin_delay(const fwt_agent *dev, uint32_t *seconds)
{
    const struct fwt_agent_config *c = &dev->cfg;
    uint32_t iv = c->fleet_interval ? c->fleet_interval : 3600U, j = c->fleet_jitter, r = 0;
    if (j > 0) {
        fwt_err err = fwt_random(&r, sizeof(r));
        if (err != FWT_OK) {
            return err;
        }
        r %= j + 1U;
    }
    *seconds = iv + r;
    return FWT_OK;
}
