/*
 * The signing-log hook of the commands that sign images (sign, cosign):
 * where the log is (--log DB, else $FWTRUST_SIGNLOG), and signing through a
 * pending file that becomes the output only once the signatures are logged.
 * See docs/key-custody.md ("Every signature is logged").
 */
#ifndef FWT_SIGNLOG_CLI_H
#define FWT_SIGNLOG_CLI_H

#include "cli.h"

#include <fwtrust/fwt_keys.h>
#include <stdio.h>
#include <stdlib.h>

/* Where the log key comes from: only what the operator names. */
struct fwt_signlog_keyopt {
    const char *spec;         /* --log-key, else the pinned key */
    struct fwt_key_opts ko;   /* its passphrase and PIN files; the module is the signer's */
};

/* The signing-log options as entries of an option table (cli.h). */
#define FWT_SIGNLOG_OPTS(lk, log, no_log, signer)                                                 \
    FWT_OPT_STR_(0, "log", "DB", &(log),                                                         \
                 "record every signature in the signing log DB (default\n"                        \
                 "$FWTRUST_SIGNLOG); the output appears only once logged\n"                       \
                 "(no such log: exit 8; log not intact: exit 11)"),                               \
        FWT_OPT_STR_(0, "log-key", "KEY", &(lk).spec,                                            \
                     "the log key that signs tree heads (PEM or pkcs11:); default:\n"             \
                     "the one pinned for DB on this machine by 'log init' or the\n"               \
                     "first --log-key (never one named in the log); another key\n"                \
                     "than the pinned one: exit 7"),                                              \
        FWT_OPT_STR_(0, "log-pin-file", "F", &(lk).ko.pin_file,                                  \
                     "token PIN of the log key (--pin-file is never used for it)"),               \
        FWT_OPT_STR_(0, "log-passphrase-file", "F", &(lk).ko.passphrase_file,                    \
                     "passphrase of an encrypted PEM log key"),                                   \
        FWT_OPT_FLAG_(0, "no-log", &(no_log), "sign without a log, and without the warning"),    \
        FWT_OPT_STR_(0, "signer", "ID", &(signer), "who signs, as logged (default $FWTRUST_SIGNER or\n" \
                                                   "LOGIN@HOST)")

/*
 * Load the log key for appending to db: spec (--log-key), else the key
 * pinned for db (fwt_signlog_pin). Never a key, module or PIN file named by
 * the log: a log database is data anyone with write access may have edited.
 * A key other than the pinned one is refused (FWT_E_KEY). *pin_after is set
 * when the key should be pinned once the append has succeeded (first use).
 */
static inline fwt_err fwt_signlog_cli_log_key(const char *db, const char *spec,
                                              const struct fwt_key_opts *ko, fwt_privkey **key,
                                              int *pin_after)
{
    *key = NULL;
    *pin_after = 0;
    struct fwt_signlog_pin pin;
    fwt_err e = fwt_signlog_pin_load(db, &pin);
    int pinned = e == FWT_OK;
    if (e != FWT_OK && e != FWT_E_NOT_FOUND) {
        return e;
    }
    e = FWT_OK;
    const char *use = spec ? spec : pin.key_spec;
    if (!use) {
        char *where = NULL;
        if (fwt_signlog_pin_path(db, &where) != FWT_OK) {
            where = NULL;
        }
        e = fwt_fail(FWT_E_KEY, "%s: no log key: give --log-key KEY (it is then pinned for this "
                                "log in %s)",
                     db, where ? where : "the pin directory");
        free(where);
    }
    if (e == FWT_OK && (e = fwt_privkey_load(use, ko, key)) != FWT_OK) {
        e = fwt_fail(e, "log key %s: %s", spec ? spec : "(pinned)",
                     fwt_detail()[0] ? fwt_detail() : "cannot load");
    }
    fwt_pubkey *pub = NULL;
    uint8_t kh[32], pkh[32];
    if (e == FWT_OK && (e = fwt_privkey_public(*key, &pub)) == FWT_OK &&
        (e = fwt_pubkey_keyhash(pub, kh)) == FWT_OK && pinned &&
        (e = fwt_pubkey_keyhash(pin.pub, pkh)) == FWT_OK && fwt_ct_compare(kh, pkh, 32) != 0) {
        e = fwt_fail(FWT_E_KEY, "%s: the log key given is not the one pinned for this log", db);
    }
    fwt_pubkey_free(pub);
    if (e == FWT_OK) {
        *pin_after = !pinned || (spec && !pin.key_spec);
    } else {
        fwt_privkey_free(*key);
        *key = NULL;
    }
    fwt_signlog_pin_free(&pin);
    return e;
}

/*
 * After a successful append with a key given as spec: pin it for db (first
 * use). The signatures are logged by then, so a failure is a warning only.
 */
static inline void fwt_signlog_cli_pin(const char *prog, const char *db, fwt_privkey *key,
                                       const char *spec)
{
    fwt_pubkey *pub = NULL;
    fwt_err e = fwt_privkey_public(key, &pub);
    if (e == FWT_OK) {
        e = fwt_signlog_pin_save(db, pub, spec, 0);
    }
    fwt_pubkey_free(pub);
    if (e != FWT_OK) {
        fprintf(stderr, "%s: warning: logged, but the log key could not be pinned: %s\n", prog,
                fwt_detail()[0] ? fwt_detail() : fwt_err_name(e));
    }
}

/*
 * The log to use: opt_log, else $FWTRUST_SIGNLOG (empty counts as unset).
 * NULL when there is none; then a warning goes to stderr unless no_log.
 * Checks that the log opens, so a bad --log fails before anything is signed.
 */
static inline fwt_err fwt_signlog_cli_target(const char *prog, const char *opt_log, int no_log,
                                             const char **db)
{
    *db = NULL;
    if (no_log) {
        return FWT_OK;
    }
    const char *env = getenv("FWTRUST_SIGNLOG");
    const char *path = opt_log ? opt_log : (env && env[0] ? env : NULL);
    if (!path) {
        fprintf(stderr, "%s: warning: no signing log (--log DB or FWTRUST_SIGNLOG): this "
                        "signature is not recorded anywhere\n", prog);
        return FWT_OK;
    }
    fwt_signlog *log = NULL;
    fwt_err e = fwt_signlog_open(path, 1, &log);
    fwt_signlog_close(log);
    if (e == FWT_OK) {
        *db = path;
    }
    return e;
}

/*
 * Before signing into out: remove the signed images that a signer killed
 * before logging them left next to out (fwt_signlog_pending_cleanup), with a
 * note on stderr. Run with and without a log: such an image must not stay.
 */
static inline fwt_err fwt_signlog_cli_cleanup(const char *prog, const char *out)
{
    size_t n = 0;
    fwt_err e = fwt_signlog_pending_cleanup(out, &n);
    if (e == FWT_OK && n) {
        fprintf(stderr, "%s: note: removed %zu file%s an interrupted signer left next to %s "
                        "(signed, never logged)\n",
                prog, n, n == 1 ? "" : "s", out);
    }
    return e;
}

/*
 * What sign and cosign do before signing into out, in this order: clean up what an
 * interrupted signer left (fwt_signlog_cli_cleanup), find and open the log
 * (fwt_signlog_cli_target; *db NULL: none), and with a log load its key
 * (fwt_signlog_cli_log_key). The log key is only what the operator named (lk); its module is
 * the signer's (signer_module), never the signer's PIN.
 */
static inline fwt_err fwt_signlog_cli_prepare(const char *prog, const char *out, const char *opt_log, int no_log,
                                              struct fwt_signlog_keyopt *lk, const char *signer_module,
                                              const char **db, fwt_privkey **key, int *pin_after)
{
    fwt_err e = fwt_signlog_cli_cleanup(prog, out);
    if (e == FWT_OK) {
        e = fwt_signlog_cli_target(prog, opt_log, no_log, db);
    }
    if (e == FWT_OK && *db) {
        lk->ko.pkcs11_module = signer_module;
        e = fwt_signlog_cli_log_key(*db, lk->spec, &lk->ko, key, pin_after);
    }
    return e;
}

#endif /* FWT_SIGNLOG_CLI_H */
