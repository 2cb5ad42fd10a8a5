/* fwtrust log: the signing transparency log (docs/key-custody.md). */
#include "image_cmd.h"
#include <fwtrust/fwt_imagefile.h>
#include "signlog_cli.h"

#include <fwtrust/fwt_keys.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const k_prog = "fwtrust log";

#define JSON_FILE_MAX 65536U
#define MAX_EXPECT 32

struct args {
    const char *log, *log_key, *since, *sth, *old, *new_, *out;
    const char *expect[MAX_EXPECT];
    size_t n_expect;
    const char *window;
    const char *keys[8];
    size_t n_keys;
    const char *signer;
    uint64_t size, tree_size;
    int has_size, json;
    struct fwt_key_opts ko;
    int argc;
    char **argv; /* positional arguments */
};

static int fail(const struct args *a, fwt_err err)
{
    if (a->json) {
        fwt_cli_json_print(fwt_cli_json_error(err));
    }
    return fwt_cli_error(k_prog, err);
}

/* Progress of walks over the whole log, on a terminal: "signing log  45% 1234/5000 entries". */
static int g_last_pct = -1;

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    int pct = total ? (int)(done * 100 / total) : 100;
    if (pct != g_last_pct) {
        fprintf(stderr, "\rsigning log %3d%% %llu/%llu entries", pct, (unsigned long long)done,
                (unsigned long long)total);
        g_last_pct = pct;
    }
    if (done == total) {
        fputc('\n', stderr);
        g_last_pct = -1;
    }
    fflush(stderr);
}

/* --log DB, else $FWTRUST_SIGNLOG; NULL when neither. */
static const char *log_db(const struct args *a)
{
    const char *env = getenv("FWTRUST_SIGNLOG");
    return a->log ? a->log : (env && env[0] ? env : NULL);
}

static fwt_err open_log(const struct args *a, int writable, fwt_signlog **log)
{
    const char *db = log_db(a);
    if (!db) {
        return fwt_fail(FWT_E_ARG, "no signing log: give --log DB or set FWTRUST_SIGNLOG");
    }
    fwt_err e = fwt_signlog_open(db, writable, log);
    if (e == FWT_OK && isatty(STDERR_FILENO) && !getenv("FWTRUST_NO_PROGRESS")) {
        fwt_signlog_set_progress(*log, on_progress, NULL);
    }
    return e;
}

/* Print text to -o FILE (atomically) or stdout. */
static fwt_err emit(const struct args *a, const char *text)
{
    if (a->out) {
        size_t n = strlen(text);
        char *t = malloc(n + 2);
        if (!t) {
            return fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        memcpy(t, text, n);
        t[n] = '\n';
        fwt_err e = fwt_write_file_atomic(a->out, t, n + 1, 0644);
        free(t);
        return e;
    }
    printf("%s\n", text);
    return FWT_OK;
}

static fwt_err read_sth(const char *path, struct fwt_signlog_sth *sth)
{
    uint8_t *b = NULL;
    size_t n = 0;
    fwt_err e = fwt_read_file(path, JSON_FILE_MAX, &b, &n);
    if (e == FWT_OK && (e = fwt_signlog_sth_from_json((const char *)b, n, sth)) != FWT_OK) {
        e = fwt_fail(e, "%s: not a signed tree head: %s", path, fwt_detail());
    }
    free(b);
    return e;
}

static fwt_err load_pub(const struct args *a, fwt_pubkey **pub)
{
    fwt_err e = fwt_pubkey_load(a->log_key, &a->ko, pub);
    if (e != FWT_OK) {
        e = fwt_fail(e, "log key %s: %s", a->log_key, fwt_detail()[0] ? fwt_detail() : "cannot load");
    }
    return e;
}

/*
 * The key a log is checked against: --log-key, else the key pinned for the log
 * (never the key stored in the log: a log rebuilt under another key would
 * vouch for itself). Neither: FWT_E_NO_TRUST.
 */
static fwt_err trusted_pub(const struct args *a, fwt_pubkey **pub)
{
    *pub = NULL;
    if (a->log_key) {
        return load_pub(a, pub);
    }
    const char *db = log_db(a);
    struct fwt_signlog_pin pin;
    fwt_err e = fwt_signlog_pin_load(db, &pin);
    if (e == FWT_OK) {
        *pub = pin.pub;
        pin.pub = NULL;
        fwt_signlog_pin_free(&pin);
        return FWT_OK;
    }
    if (e != FWT_E_NOT_FOUND) {
        return e;
    }
    char *dir = NULL;
    if (fwt_signlog_pin_dir(&dir) != FWT_OK) {
        dir = NULL;
    }
    e = fwt_fail(FWT_E_NO_TRUST, "%s: no log key to check against: give --log-key PUB, or pin "
                                 "it once with 'fwtrust log pin --log-key PUB' (pins are kept in "
                                 "%s; FWTRUST_SIGNLOG_PINS moves them)",
                 db, dir ? dir : "$FWTRUST_SIGNLOG_PINS");
    free(dir);
    return e;
}

static int cmd_init(struct args *a)
{
    if (!a->log_key) {
        return fwt_cli_usage_error(k_prog, "log init needs --log-key KEY (the key that signs "
                                           "tree heads)");
    }
    const char *env = getenv("FWTRUST_SIGNLOG");
    const char *db = a->log ? a->log : (env && env[0] ? env : NULL);
    if (!db) {
        return fwt_cli_usage_error(k_prog, "give --log DB or set FWTRUST_SIGNLOG");
    }
    /* A pin for this path means a log was here: its disappearance is for a
     * person to look into, not for init to paper over. */
    struct fwt_signlog_pin old;
    struct stat sb;
    fwt_err e = lstat(db, &sb) == 0 ? FWT_E_NOT_FOUND /* create refuses it */
                                    : fwt_signlog_pin_load(db, &old);
    if (e == FWT_OK) {
        char *where = NULL;
        if (fwt_signlog_pin_path(db, &where) != FWT_OK) {
            where = NULL;
        }
        fwt_signlog_pin_free(&old);
        e = fwt_fail(FWT_E_ARG, "%s: a log key is already pinned for this path (%s): where is "
                                "the log that was here? Remove the pin file to start a new log "
                                "here",
                     db, where ? where : "the pin directory");
        free(where);
        return fail(a, e);
    }
    if (e != FWT_E_NOT_FOUND) {
        return fail(a, e);
    }
    e = fwt_signlog_create(db, a->log_key, &a->ko);
    fwt_signlog *log = NULL;
    fwt_privkey *key = NULL;
    fwt_pubkey *pub = NULL;
    struct fwt_signlog_sth sth;
    /* Pin the new log's key: checks of this log trust it, appends sign with it. */
    if (e == FWT_OK && (e = fwt_privkey_load(a->log_key, &a->ko, &key)) == FWT_OK &&
        (e = fwt_privkey_public(key, &pub)) == FWT_OK) {
        e = fwt_signlog_pin_save(db, pub, a->log_key, 0);
    }
    if (e == FWT_OK && (e = fwt_signlog_open(db, 0, &log)) == FWT_OK) {
        e = fwt_signlog_latest_sth(log, &sth);
    }
    if (e == FWT_OK && (e = fwt_signlog_sth_verify(&sth, pub)) != FWT_OK) {
        e = fwt_fail(FWT_E_STATE, "%s changed while it was created: %s", db, fwt_detail());
    }
    fwt_signlog_close(log);
    fwt_pubkey_free(pub);
    fwt_privkey_free(key);
    if (e != FWT_OK) {
        return fail(a, e);
    }
    char id[65];
    fwt_hex_encode(sth.log_id, 32, id);
    if (a->json) {
        fwt_cli_json_print(json_pack("{s:b, s:s, s:s}", "ok", 1, "log", db, "log_id", id));
    } else {
        printf("created signing log %s (log id %s)\n", db, id);
    }
    return 0;
}

/* Pin the log key for this log, after checking the whole log against it. */
static int cmd_pin(struct args *a)
{
    if (!a->log_key) {
        return fwt_cli_usage_error(k_prog, "log pin needs --log-key PUB (the log's public key, "
                                           "from its operator)");
    }
    fwt_signlog *log = NULL;
    fwt_pubkey *pub = NULL;
    uint64_t n_sths = 0;
    char *where = NULL;
    fwt_err e = open_log(a, 0, &log);
    if (e == FWT_OK) {
        e = load_pub(a, &pub);
    }
    if (e == FWT_OK) {
        e = fwt_signlog_verify(log, pub, NULL, &n_sths);
    }
    if (e == FWT_OK) {
        e = fwt_signlog_pin_save(log_db(a), pub, NULL, 0);
    }
    if (e == FWT_OK) {
        e = fwt_signlog_pin_path(log_db(a), &where);
    }
    fwt_pubkey_free(pub);
    fwt_signlog_close(log);
    if (e != FWT_OK) {
        free(where);
        return fail(a, e);
    }
    if (a->json) {
        fwt_cli_json_print(json_pack("{s:b, s:s}", "ok", 1, "pin", where));
    } else {
        printf("pinned the log key of %s in %s\n", log_db(a), where);
    }
    free(where);
    return 0;
}

static int cmd_append(struct args *a)
{
    if (a->n_keys == 0 || a->argc != 1) {
        return fwt_cli_usage_error(k_prog, "log append needs --key PUB (one per signature to "
                                           "record) and one IMAGE");
    }
    fwt_pubkey *keys[8] = {NULL};
    fwt_signlog *log = NULL;
    uint64_t first = 0;
    fwt_err e = FWT_OK;
    for (size_t i = 0; i < a->n_keys && e == FWT_OK; i++) {
        if ((e = fwt_pubkey_load(a->keys[i], &a->ko, &keys[i])) != FWT_OK) {
            e = fwt_fail(e, "--key %s: %s", a->keys[i],
                         fwt_detail()[0] ? fwt_detail() : "cannot load");
        }
    }
    fwt_privkey *log_key = NULL;
    int pin_after = 0;
    if (e == FWT_OK) {
        e = open_log(a, 1, &log);
    }
    if (e == FWT_OK) { /* --log-key (with this command's --pin-file etc.), else the pinned key */
        e = fwt_signlog_cli_log_key(log_db(a), a->log_key, &a->ko, &log_key, &pin_after);
    }
    if (e == FWT_OK) {
        e = fwt_signlog_append_image(log, a->argv[0], (const fwt_pubkey *const *)keys, a->n_keys,
                                     a->signer, log_key, &first);
    }
    if (e == FWT_OK && pin_after) {
        fwt_signlog_cli_pin(k_prog, log_db(a), log_key, a->log_key);
    }
    fwt_privkey_free(log_key);
    fwt_signlog_close(log);
    for (size_t i = 0; i < a->n_keys; i++) {
        fwt_pubkey_free(keys[i]);
    }
    if (e != FWT_OK) {
        return fail(a, e);
    }
    if (a->json) {
        fwt_cli_json_print(json_pack("{s:b, s:I, s:I}", "ok", 1, "first_entry", (json_int_t)first,
                                     "entries", (json_int_t)a->n_keys));
    } else {
        if (a->n_keys == 1) {
            printf("logged 1 signature on %s as entry %llu\n", a->argv[0],
                   (unsigned long long)first);
        } else {
            printf("logged %zu signatures on %s as entries %llu-%llu\n", a->n_keys, a->argv[0],
                   (unsigned long long)first, (unsigned long long)(first + a->n_keys - 1));
        }
    }
    return 0;
}

static int cmd_verify(struct args *a)
{
    fwt_signlog *log = NULL;
    fwt_pubkey *pub = NULL;
    struct fwt_signlog_sth earlier, head;
    uint64_t n_sths = 0;
    fwt_err e = open_log(a, 0, &log);
    if (e == FWT_OK) {
        e = trusted_pub(a, &pub);
    }
    if (e == FWT_OK && a->since) {
        e = read_sth(a->since, &earlier);
    }
    if (e == FWT_OK) {
        e = fwt_signlog_verify(log, pub, a->since ? &earlier : NULL, &n_sths);
    }
    if (e == FWT_OK) {
        e = fwt_signlog_latest_sth(log, &head);
    }
    fwt_pubkey_free(pub);
    fwt_signlog_close(log);
    if (e != FWT_OK) {
        return fail(a, e);
    }
    char root[65];
    fwt_hex_encode(head.root, 32, root);
    if (a->json) {
        fwt_cli_json_print(json_pack("{s:b, s:I, s:I, s:s}", "ok", 1, "entries",
                                     (json_int_t)head.tree_size, "tree_heads",
                                     (json_int_t)n_sths, "root_hash", root));
    } else {
        printf("signing log intact: %llu entries, %llu signed tree heads checked, root %s\n",
               (unsigned long long)head.tree_size, (unsigned long long)n_sths, root);
        if (a->since) {
            printf("consistent with the tree head of %llu entries in %s\n",
                   (unsigned long long)earlier.tree_size, a->since);
        }
    }
    return 0;
}

static int cmd_head(struct args *a)
{
    fwt_signlog *log = NULL;
    struct fwt_signlog_sth sth;
    char *text = NULL;
    fwt_err e = open_log(a, 0, &log);
    if (e == FWT_OK) {
        e = a->has_size ? fwt_signlog_sth_at(log, a->size, &sth) : fwt_signlog_latest_sth(log, &sth);
    }
    fwt_pubkey *pub = NULL;
    if (e == FWT_OK && (e = trusted_pub(a, &pub)) == FWT_OK) {
        e = fwt_signlog_sth_verify(&sth, pub); /* never publish a head the log key did not sign */
    }
    fwt_pubkey_free(pub);
    if (e == FWT_OK) {
        e = fwt_signlog_sth_to_json(&sth, &text);
    }
    if (e == FWT_OK) {
        e = emit(a, text);
    }
    free(text);
    fwt_signlog_close(log);
    return e == FWT_OK ? 0 : fail(a, e);
}

static int parse_index(const struct args *a, const char *s, uint64_t *out)
{
    (void)a;
    if (fwt_parse_u64(s, FWT_SIGNLOG_SIZE_MAX, out) != FWT_OK) {
        return fwt_cli_usage_error(k_prog, "'%s' is not an entry number", s);
    }
    return 0;
}

static json_t *entry_json(uint64_t idx, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "index", json_integer((json_int_t)idx));
    return o;
}

static int cmd_show(struct args *a)
{
    if (a->argc > 1) {
        return fwt_cli_usage_error(k_prog, "log show takes at most one INDEX");
    }
    uint64_t one = 0;
    if (a->argc == 1 && parse_index(a, a->argv[0], &one)) {
        return FWT_E_ARG;
    }
    fwt_signlog *log = NULL;
    uint64_t n = 0;
    fwt_err e = open_log(a, 0, &log);
    if (e == FWT_OK) {
        e = fwt_signlog_size(log, &n);
    }
    json_t *arr = a->json ? json_array() : NULL;
    uint64_t from = a->argc == 1 ? one : 0, to = a->argc == 1 ? one + 1 : n;
    if (e == FWT_OK && a->argc == 1 && one >= n) {
        e = fwt_fail(FWT_E_NOT_FOUND, "no entry %llu (the log has %llu)",
                     (unsigned long long)one, (unsigned long long)n);
    }
    for (uint64_t i = from; e == FWT_OK && i < to; i++) {
        char *text = NULL;
        size_t len = 0;
        struct fwt_signlog_record r;
        struct fwt_signlog_event ev;
        if ((e = fwt_signlog_entry(log, i, &text, &len)) != FWT_OK) {
            break;
        }
        if (a->json) {
            json_t *o = entry_json(i, text, len);
            if (!o) {
                e = fwt_fail(FWT_E_STATE, "entry %llu is not JSON", (unsigned long long)i);
            } else {
                json_array_append_new(arr, o);
            }
        } else if (a->argc == 1) {
            printf("%s\n", text);
        } else if (fwt_signlog_record_parse((const uint8_t *)text, len, &r) == FWT_OK) {
            char vs[48], kh[17], dg[17], when[32];
            fwt_version_format(&r.version, vs, sizeof(vs));
            fwt_hex_encode(r.keyhash, 8, kh);
            fwt_hex_encode(r.digest, 8, dg);
            time_t t = (time_t)r.time;
            struct tm tm;
            if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm)) {
                snprintf(when, sizeof(when), "@%llu", (unsigned long long)r.time);
            }
            char hw[2 * FWT_HW_ID_MAX + 3] = "-";
            if (r.hw_id_len && fwt_is_printable(r.hw_id, r.hw_id_len)) {
                snprintf(hw, sizeof(hw), "%.*s", (int)r.hw_id_len, (const char *)r.hw_id);
            } else if (r.hw_id_len) {
                hw[0] = '0';
                hw[1] = 'x';
                fwt_hex_encode(r.hw_id, r.hw_id_len, hw + 2);
            }
            printf("%6llu  %s  %-14s digest %s..  key %s..  %s  %s\n", (unsigned long long)i,
                   when, vs, dg, kh, hw, r.signer);
        } else if (fwt_signlog_event_parse((const uint8_t *)text, len, &ev) == FWT_OK) {
            printf("%6llu  event %s by %s on %s: %s\n", (unsigned long long)i, ev.action, ev.actor,
                   ev.subject[0] ? ev.subject : "-", ev.detail);
        } else {
            printf("%6llu  (not a valid entry: run 'fwtrust log verify')\n", (unsigned long long)i);
        }
        free(text);
    }
    fwt_signlog_close(log);
    if (e != FWT_OK) {
        json_decref(arr);
        return fail(a, e);
    }
    if (a->json) {
        fwt_cli_json_print(json_pack("{s:b, s:o}", "ok", 1, "entries", arr));
    }
    return 0;
}

struct find_out {
    json_t *arr;
    int json;
};

static void on_match(void *ctx, uint64_t index, const char *text, size_t len,
                     const struct fwt_signlog_record *r)
{
    struct find_out *o = ctx;
    if (o->json) {
        json_array_append_new(o->arr, entry_json(index, text, len));
    } else {
        char k16[17];
        fwt_hex_encode(r->keyhash, 8, k16);
        printf("entry %llu: signed by key %s.. (%s)\n", (unsigned long long)index, k16, r->signer);
    }
}

static int cmd_find(struct args *a)
{
    if (a->argc != 1) {
        return fwt_cli_usage_error(k_prog, "log find needs one IMAGE");
    }
    struct fwt_signlog_signers *s = calloc(1, sizeof(*s));
    fwt_signlog *log = NULL;
    fwt_pubkey *pub = NULL;
    struct find_out out = {json_array(), a->json};
    fwt_err e = out.arr && s ? fwt_signlog_image_signers(a->argv[0], s)
                             : fwt_fail(FWT_E_NOMEM, "out of memory");
    if (e == FWT_OK) {
        e = open_log(a, 0, &log);
    }
    if (e == FWT_OK) {
        e = trusted_pub(a, &pub);
    }
    if (e == FWT_OK) {
        e = fwt_signlog_find_image(log, pub, s, on_match, &out);
    }
    fwt_pubkey_free(pub);
    fwt_signlog_close(log);
    if (e == FWT_OK && s->n_other > 0) {
        e = fwt_fail(FWT_E_UNSUPPORTED, "%s: %zu of its signatures name their key by a SHA-384/512 "
                     "key hash (imgtool's layout for ECDSA P-384 and pure Ed25519 images); the log "
                     "identifies keys by SHA-256 and cannot match them%s", a->argv[0], s->n_other,
                     a->json ? "" : " (the entries for the image digest are listed above)");
    } else if (e == FWT_OK && s->n == 0) {
        e = fwt_fail(FWT_E_UNSIGNED, "%s carries no signature", a->argv[0]);
    } else if (e == FWT_OK && s->n_missing) {
        char first[65];
        fwt_hex_encode(s->first_missing, 32, first);
        e = fwt_fail(FWT_E_NOT_FOUND, "%s: %zu of its %zu signatures are not in the signing log "
                                      "(first: key %s)",
                     a->argv[0], s->n_missing, s->n, first);
    }
    size_t n_kh = s ? s->n : 0;
    free(s);
    if (e != FWT_OK) {
        json_decref(out.arr);
        return fail(a, e);
    }
    if (a->json) {
        fwt_cli_json_print(json_pack("{s:b, s:i, s:o}", "ok", 1, "signatures", (int)n_kh,
                                     "entries", out.arr));
    } else {
        json_decref(out.arr);
        printf("%s: all %zu signatures are in the signing log\n", a->argv[0], n_kh);
    }
    return 0;
}

static int cmd_prove(struct args *a)
{
    uint64_t idx;
    if (a->argc != 1) {
        return fwt_cli_usage_error(k_prog, "log prove needs one ENTRY (an entry number, see "
                                           "'fwtrust log show')");
    }
    if (parse_index(a, a->argv[0], &idx)) {
        return FWT_E_ARG;
    }
    fwt_signlog *log = NULL;
    struct fwt_signlog_proof p;
    memset(&p, 0, sizeof(p));
    char *text = NULL;
    fwt_err e = open_log(a, 0, &log);
    if (e == FWT_OK) {
        e = fwt_signlog_prove(log, idx, a->tree_size, &p);
    }
    if (e == FWT_OK) {
        e = fwt_signlog_proof_to_json(&p, &text);
    }
    if (e == FWT_OK) {
        e = emit(a, text);
    }
    free(text);
    fwt_signlog_proof_free(&p);
    fwt_signlog_close(log);
    return e == FWT_OK ? 0 : fail(a, e);
}

static int cmd_check_proof(struct args *a)
{
    if (!a->log_key || !a->sth || a->argc != 1) {
        return fwt_cli_usage_error(k_prog, "log check-proof needs --log-key PUB, --sth STH and "
                                           "one PROOF");
    }
    fwt_pubkey *pub = NULL;
    struct fwt_signlog_sth sth;
    struct fwt_signlog_proof p;
    memset(&p, 0, sizeof(p));
    uint8_t *b = NULL;
    size_t n = 0;
    fwt_err e = load_pub(a, &pub);
    if (e == FWT_OK) {
        e = read_sth(a->sth, &sth);
    }
    if (e == FWT_OK && (e = fwt_signlog_sth_verify(&sth, pub)) != FWT_OK) {
        e = fwt_fail(e, "%s: %s", a->sth, fwt_detail());
    }
    if (e == FWT_OK) {
        e = fwt_read_file(a->argv[0], JSON_FILE_MAX, &b, &n);
    }
    if (e == FWT_OK && (e = fwt_signlog_proof_from_json((const char *)b, n, &p)) != FWT_OK) {
        e = fwt_fail(e, "%s: not an inclusion proof: %s", a->argv[0], fwt_detail());
    }
    if (e == FWT_OK && (e = fwt_signlog_proof_check(&p, &sth)) != FWT_OK) {
        e = fwt_fail(e, "%s: %s", a->argv[0], fwt_detail());
    }
    if (e == FWT_OK) {
        if (a->json) {
            json_t *o = entry_json(p.index, p.entry, p.entry_len);
            fwt_cli_json_print(json_pack("{s:b, s:I, s:I, s:o*}", "ok", 1, "index",
                                         (json_int_t)p.index, "tree_size",
                                         (json_int_t)p.tree_size, "entry", o));
        } else {
            printf("entry %llu is in the log's tree of %llu entries (tree head signed by the log "
                   "key)\n%s\n",
                   (unsigned long long)p.index, (unsigned long long)p.tree_size, p.entry);
        }
    }
    fwt_signlog_proof_free(&p);
    free(b);
    fwt_pubkey_free(pub);
    return e == FWT_OK ? 0 : fail(a, e);
}

static int cmd_consistency(struct args *a)
{
    if (!a->since) {
        return fwt_cli_usage_error(k_prog, "log consistency needs --since STH (a tree head kept "
                                           "from earlier)");
    }
    fwt_signlog *log = NULL;
    fwt_pubkey *pub = NULL;
    struct fwt_signlog_sth old;
    struct fwt_signlog_consistency c;
    char *text = NULL;
    fwt_err e = open_log(a, 0, &log);
    if (e == FWT_OK) {
        e = read_sth(a->since, &old);
    }
    if (e == FWT_OK) {
        e = trusted_pub(a, &pub);
    }
    if (e == FWT_OK) {
        e = fwt_signlog_consistency_since(log, pub, &old, a->since, log_db(a), &c);
    }
    if (e == FWT_OK) {
        e = fwt_signlog_consistency_to_json(&c, &text);
    }
    if (e == FWT_OK) {
        e = emit(a, text);
    }
    free(text);
    fwt_pubkey_free(pub);
    fwt_signlog_close(log);
    return e == FWT_OK ? 0 : fail(a, e);
}

static int cmd_check_consistency(struct args *a)
{
    if (!a->log_key || !a->old || !a->new_ || a->argc != 1) {
        return fwt_cli_usage_error(k_prog, "log check-consistency needs --log-key PUB, --old STH1, "
                                           "--new STH2 and one PROOF");
    }
    fwt_pubkey *pub = NULL;
    struct fwt_signlog_sth s1, s2;
    struct fwt_signlog_consistency c;
    uint8_t *b = NULL;
    size_t n = 0;
    fwt_err e = load_pub(a, &pub);
    if (e == FWT_OK) {
        e = read_sth(a->old, &s1);
    }
    if (e == FWT_OK) {
        e = read_sth(a->new_, &s2);
    }
    if (e == FWT_OK && (e = fwt_signlog_sth_verify(&s1, pub)) != FWT_OK) {
        e = fwt_fail(e, "%s: %s", a->old, fwt_detail());
    }
    if (e == FWT_OK && (e = fwt_signlog_sth_verify(&s2, pub)) != FWT_OK) {
        e = fwt_fail(e, "%s: %s", a->new_, fwt_detail());
    }
    if (e == FWT_OK) {
        e = fwt_read_file(a->argv[0], JSON_FILE_MAX, &b, &n);
    }
    if (e == FWT_OK && (e = fwt_signlog_consistency_from_json((const char *)b, n, &c)) != FWT_OK) {
        e = fwt_fail(e, "%s: not a consistency proof: %s", a->argv[0], fwt_detail());
    }
    if (e == FWT_OK && (e = fwt_signlog_consistency_check(&c, &s1, &s2)) != FWT_OK) {
        e = fwt_fail(e, "%s: %s", a->argv[0], fwt_detail());
    }
    free(b);
    fwt_pubkey_free(pub);
    if (e != FWT_OK) {
        return fail(a, e);
    }
    if (a->json) {
        fwt_cli_json_print(json_pack("{s:b, s:I, s:I}", "ok", 1, "from", (json_int_t)c.from, "to",
                                     (json_int_t)c.to));
    } else {
        printf("consistent: the log of %llu entries extends the log of %llu entries\n",
               (unsigned long long)c.to, (unsigned long long)c.from);
    }
    return 0;
}

struct audit_out {
    json_t *arr;
    json_t *approvals;
    int json;
};

/* The approvals 'cert issue --log' recorded: listed, never findings. */
static void on_event(void *ctx, uint64_t index, const struct fwt_signlog_event *ev)
{
    struct audit_out *o = ctx;
    if (strcmp(ev->action, "cert-approval") != 0) {
        return;
    }
    if (o->json) {
        json_array_append_new(o->approvals, json_pack("{s:I, s:s, s:s, s:s, s:I}", "index", (json_int_t)index,
                                                      "approver", ev->actor, "subject", ev->subject, "detail",
                                                      ev->detail, "time", (json_int_t)ev->time));
    } else {
        printf("entry %llu: approval by %s of %s: %s\n", (unsigned long long)index, ev->actor, ev->subject,
               ev->detail);
    }
}

static void on_finding(void *ctx, uint64_t index, enum fwt_audit_kind kind, const char *text)
{
    struct audit_out *o = ctx;
    if (o->json) {
        json_array_append_new(o->arr, json_pack("{s:I, s:s, s:s}", "index", (json_int_t)index,
                                                "kind", fwt_audit_kind_name(kind), "message",
                                                text));
    } else {
        printf("entry %llu: %s: %s\n", (unsigned long long)index, fwt_audit_kind_name(kind), text);
    }
}

static int cmd_audit(struct args *a)
{
    if (a->argc != 0) {
        return fwt_cli_usage_error(k_prog, "log audit takes no arguments");
    }
    struct fwt_audit_opts o;
    memset(&o, 0, sizeof(o));
    uint8_t expect[MAX_EXPECT][32];
    if (a->window && fwt_audit_window_parse(a->window, &o) != FWT_OK) {
        return fwt_cli_usage_error(k_prog, "--window: %s", fwt_detail());
    }
    fwt_err e = FWT_OK;
    for (size_t i = 0; i < a->n_expect && e == FWT_OK; i++) {
        fwt_pubkey *pub = NULL;
        if ((e = fwt_pubkey_load(a->expect[i], &a->ko, &pub)) == FWT_OK) {
            e = fwt_pubkey_keyhash(pub, expect[i]);
        } else {
            e = fwt_fail(e, "--expect-key %s: %s", a->expect[i],
                         fwt_detail()[0] ? fwt_detail() : "cannot load");
        }
        fwt_pubkey_free(pub);
    }
    if (a->n_expect) {
        o.expect_keys = (const uint8_t(*)[32])expect;
        o.n_expect_keys = a->n_expect;
    }
    fwt_signlog *log = NULL;
    fwt_pubkey *pub = NULL;
    if (e == FWT_OK) {
        e = open_log(a, 0, &log);
    }
    if (e == FWT_OK) {
        e = trusted_pub(a, &pub);
    }
    if (e == FWT_OK) {
        e = fwt_signlog_verify(log, pub, NULL, NULL);
    }
    struct audit_out out = {a->json ? json_array() : NULL, a->json ? json_array() : NULL, a->json};
    o.on_event = on_event;
    o.event_ctx = &out;
    size_t findings = 0;
    uint64_t n = 0;
    if (e == FWT_OK) {
        e = fwt_signlog_size(log, &n);
    }
    if (e == FWT_OK) {
        e = fwt_signlog_audit(log, &o, on_finding, &out, &findings);
    }
    fwt_pubkey_free(pub);
    fwt_signlog_close(log);
    if (e != FWT_OK) {
        json_decref(out.arr);
        json_decref(out.approvals);
        return fail(a, e);
    }
    if (a->json) {
        fwt_cli_json_print(json_pack("{s:b, s:I, s:o, s:o}", "ok", findings == 0, "entries",
                                     (json_int_t)n, "findings", out.arr, "approvals", out.approvals));
    } else if (findings == 0) {
        printf("audit: %llu entries, no findings\n", (unsigned long long)n);
    }
    if (findings) {
        fwt_fail(FWT_E_STATE, "audit: %zu finding%s in %llu entries", findings,
                 findings == 1 ? "" : "s", (unsigned long long)n);
        return fwt_cli_error(k_prog, FWT_E_STATE);
    }
    return 0;
}

static struct args g_a;
static struct fwt_opt_list g_expect = {g_a.expect, 0, MAX_EXPECT};
static struct fwt_opt_list g_keys = {g_a.keys, 0, 8};

static const struct fwt_opt k_global[] = {
    FWT_OPT_STR_(0, "log", "DB", &g_a.log, "the log database (default $FWTRUST_SIGNLOG)"),
    FWT_OPT_FLAG_(0, "json", &g_a.json, "print results as JSON"),
    FWT_KEY_OPTS(g_a.ko),
    FWT_OPT_END_,
};
#define LOG_PUB(what) FWT_OPT_STR_(0, "log-key", "PUB", &g_a.log_key, what)
#define CHECK_PUB LOG_PUB("check tree heads against PUB, else against the pinned key")
#define OUTPUT FWT_OPT_STR_('o', "output", "FILE", &g_a.out, "write the JSON to FILE")
static const struct fwt_opt k_init[] = {
    FWT_OPT_STR_(0, "log-key", "KEY", &g_a.log_key,
                 "the key that signs the log (PEM or pkcs11:, no module-path= or pin-source=); required"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_pin[] = {LOG_PUB("the log's public key (required)"), FWT_OPT_END_};
static const struct fwt_opt k_append[] = {
    FWT_OPT_LIST_('k', "key", "PUB", &g_keys, "a key that signed IMAGE (repeatable, up to 8; at least one)"),
    FWT_OPT_STR_(0, "log-key", "KEY", &g_a.log_key, "signs the tree heads (else the pinned log key)"),
    FWT_OPT_STR_(0, "signer", "ID", &g_a.signer, "who signed (recorded in the entries)"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_verify[] = {
    CHECK_PUB,
    FWT_OPT_STR_(0, "since", "STH", &g_a.since, "check that the log extends the tree head STH kept from earlier"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_head[] = {
    CHECK_PUB,
    FWT_OPT_U64_(0, "size", "N", &g_a.size, 0, FWT_SIGNLOG_SIZE_MAX, "the tree head of the first N entries"),
    OUTPUT,
    FWT_OPT_END_,
};
static const struct fwt_opt k_find[] = {CHECK_PUB, FWT_OPT_END_};
static const struct fwt_opt k_prove[] = {
    FWT_OPT_U64_(0, "tree-size", "N", &g_a.tree_size, 1, FWT_SIGNLOG_SIZE_MAX,
                 "prove inclusion in the tree of N entries (default: the newest)"),
    OUTPUT,
    FWT_OPT_END_,
};
static const struct fwt_opt k_check_proof[] = {
    LOG_PUB("the log's public key (required)"),
    FWT_OPT_STR_(0, "sth", "STH", &g_a.sth, "the signed tree head (required)"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_consistency[] = {
    CHECK_PUB,
    FWT_OPT_STR_(0, "since", "STH", &g_a.since, "the older tree head (required)"),
    OUTPUT,
    FWT_OPT_END_,
};
static const struct fwt_opt k_check_consistency[] = {
    LOG_PUB("the log's public key (required)"),
    FWT_OPT_STR_(0, "old", "STH1", &g_a.old, "the older tree head (required)"),
    FWT_OPT_STR_(0, "new", "STH2", &g_a.new_, "the newer tree head (required)"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_audit[] = {
    CHECK_PUB,
    FWT_OPT_LIST_(0, "expect-key", "PUB", &g_expect, "a key expected to sign (repeatable, up to 32)"),
    FWT_OPT_STR_(0, "window", "HH:MM-HH:MM", &g_a.window, "the daily signing window (UTC; may wrap midnight)"),
    FWT_OPT_END_,
};

static const struct fwt_cli_cmd k_cmds[] = {
    {"init", "", 0, 0, "create a new log, signed by --log-key KEY, and pin KEY for it", NULL, k_init},
    {"pin", "", 0, 0, "check the log against --log-key PUB and pin PUB for it",
     "Checks the log against --log-key PUB and pins PUB for it (once per machine that checks\n"
     "a log it did not create).", k_pin},
    {"append", "IMAGE", 1, 1, "record signatures made elsewhere (another tool)",
     "Records signatures made elsewhere (another tool): each --key PUB must have a valid\n"
     "signature on IMAGE; tree heads are signed by --log-key KEY, else by the pinned log key.", k_append},
    {"verify", "", 0, 0, "recompute every leaf hash and tree head and check their signatures",
     "Recomputes every leaf hash and tree head, checks every tree head signature by --log-key\n"
     "PUB, else by the pinned key (neither: exit 31), and that the log extends the tree head\n"
     "--since STH kept from earlier.", k_verify},
    {"head", "", 0, 0, "the newest signed tree head (or the one of --size N entries)", NULL, k_head},
    {"show", "[INDEX]", 0, 1, "list entries (or print one entry's text)", NULL, NULL},
    {"find", "IMAGE", 1, 1, "the entries of IMAGE's signatures",
     "Lists the entries of IMAGE's signatures; exit 8 when one of its signatures is not in the\n"
     "log, 27 when one names its key by a SHA-384/512 hash (no SHA-256 key id to match).", k_find},
    {"prove", "INDEX", 1, 1, "inclusion proof (JSON) of entry INDEX in the newest tree", NULL, k_prove},
    {"check-proof", "PROOF", 1, 1, "check an inclusion proof against a signed tree head", NULL, k_check_proof},
    {"consistency", "", 0, 0, "consistency proof (JSON) from --since STH to the newest head", NULL, k_consistency},
    {"check-consistency", "PROOF", 1, 1, "check that the tree of --new STH2 extends the tree of --old STH1", NULL,
     k_check_consistency},
    {"audit", "", 0, 0, "verify the log, then flag unexpected keys, downgrades, double digests, off-window signing",
     "Verifies the log, then flags: signatures by keys not in the expected set (--expect-key);\n"
     "versions or security counters going down (per hardware id); one version signed with two\n"
     "digests; signing outside the daily --window (UTC; may wrap midnight, e.g. 22:00-06:00).\n"
     "Lists the certificate approvals 'cert issue --log' recorded (JSON: \"approvals\").", k_audit},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};
static int (*const k_fns[])(struct args *) = {
    cmd_init, cmd_pin, cmd_append, cmd_verify, cmd_head, cmd_show, cmd_find, cmd_prove,
    cmd_check_proof, cmd_consistency, cmd_check_consistency, cmd_audit,
};
_Static_assert(sizeof(k_fns) / sizeof(k_fns[0]) + 1 == sizeof(k_cmds) / sizeof(k_cmds[0]),
               "one function per log command");

static const struct fwt_cli_prog k_cli = {
    .name = "fwtrust log",
    .description =
        "The signing log: every signature fwtrust sign / cosign makes is appended to it\n"
        "(RFC 9162 Merkle tree in SQLite; a signed tree head after every append). The log is\n"
        "--log DB, else $FWTRUST_SIGNLOG.\n\n"
        "verify, find, audit, head and consistency check the log against --log-key PUB, else\n"
        "against the key pinned for the log (by init, pin or the first append with\n"
        "--log-key), never against the key stored in the log. Pins are kept in\n"
        "$FWTRUST_SIGNLOG_PINS, else $XDG_CONFIG_HOME/fwtrust/signlog-pins, else\n"
        "~/.config/fwtrust/signlog-pins.",
    .opts = k_global,
    .cmds = k_cmds,
    .epilog =
        "Exit status (docs/exit-codes.md): 0 ok; 1 usage; 2 I/O; 7 key (also: not the pinned\n"
        "log key); 8 no such log or\n"
        "entry, or (find) a signature of IMAGE not logged; 11 log not intact (truncated, edited, unsigned entries) or audit findings;\n"
        "20 malformed proof or tree head; 21 proof does not lead to the tree head's root;\n"
        "22 tree head signature invalid or by another key than the pinned or given one;\n"
        "24 append: a --key did not sign IMAGE; 31 no pinned log key and no --log-key.",
};

static int run(int argc, char **argv)
{
    struct fwt_cli_args args;
    /* --size 0 is a size; "given" is whether the option appeared */
    g_a.size = UINT64_MAX;
    int rc = fwt_cli_parse_group(&k_cli, argc, argv, &args);
    if (rc >= 0) {
        return rc;
    }
    g_a.has_size = g_a.size != UINT64_MAX;
    if (!g_a.has_size) {
        g_a.size = 0;
    }
    g_a.n_expect = g_expect.n;
    g_a.n_keys = g_keys.n;
    g_a.argc = args.argc;
    g_a.argv = args.argv;
    return k_fns[args.cmd - k_cmds](&g_a);
}

const struct fwt_command fwt_cmd_log = {"log", "the signing transparency log (verify, prove, audit)",
                                        run};
