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

enum {
    OPT_LOG = OPT_CMD_FIRST,
    OPT_LOG_KEY,
    OPT_SINCE,
    OPT_SIZE,
    OPT_TREE_SIZE,
    OPT_STH,
    OPT_OLD,
    OPT_NEW,
    OPT_EXPECT_KEY,
    OPT_WINDOW,
    OPT_SIGNER,
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fwtrust log COMMAND [--log DB] [options]\n\n"
            "The signing log: every signature fwtrust sign / cosign makes is appended to it\n"
            "(RFC 9162 Merkle tree in SQLite; a signed tree head after every append). The log is\n"
            "--log DB, else $FWTRUST_SIGNLOG.\n\n"
            "Commands:\n"
            "  init --log-key KEY         create a new log, signed by KEY (PEM or pkcs11:, no\n"
            "                             module-path= or pin-source=), and pin KEY for it\n"
            "  pin --log-key PUB          check the log against PUB and pin PUB for it (once per\n"
            "                             machine that checks a log it did not create)\n"
            "  append --key PUB [--key PUB ...] [--log-key KEY] [--signer ID] IMAGE\n"
            "                             record signatures made elsewhere (another tool): each\n"
            "                             PUB must have a valid signature on IMAGE; tree heads\n"
            "                             are signed by KEY, else by the pinned log key\n"
            "  verify [--log-key PUB] [--since STH]\n"
            "                             recompute every leaf hash and tree head, check every\n"
            "                             tree head signature by PUB, else by the pinned key\n"
            "                             (neither: exit 31), and that the log extends the tree\n"
            "                             head STH kept from earlier\n"
            "  head [--size N]            the newest signed tree head (or the one of N entries)\n"
            "  show [INDEX]               list entries (or print one entry's text)\n"
            "  find IMAGE                 the entries of IMAGE's signatures; exit 8 when one of\n"
            "                             its signatures is not in the log, 27 when one names its\n"
            "                             key by a SHA-384/512 hash (no SHA-256 key id to match)\n"
            "  prove INDEX [--tree-size N]\n"
            "                             inclusion proof (JSON) of entry INDEX in the newest tree\n"
            "  check-proof --log-key PUB --sth STH PROOF\n"
            "                             check an inclusion proof against a signed tree head\n"
            "  consistency --since STH    consistency proof (JSON) from STH to the newest head\n"
            "  check-consistency --log-key PUB --old STH1 --new STH2 PROOF\n"
            "                             check that the tree of STH2 extends the tree of STH1\n"
            "  audit [--expect-key PUB ...] [--window HH:MM-HH:MM]\n"
            "                             verify the log, then flag: signatures by keys not in the\n"
            "                             expected set; versions or security counters going down\n"
            "                             (per hardware id); one version signed with two digests;\n"
            "                             signing outside the daily window (UTC; may wrap midnight,\n"
            "                             e.g. 22:00-06:00)\n\n"
            "verify, find, audit, head and consistency check the log against --log-key PUB, else\n"
            "against the key pinned for the log (by init, pin or the first append with\n"
            "--log-key), never against the key stored in the log. Pins are kept in\n"
            "$FWTRUST_SIGNLOG_PINS, else $XDG_CONFIG_HOME/fwtrust/signlog-pins, else\n"
            "~/.config/fwtrust/signlog-pins.\n\n"
            "Options:\n"
            "  --log DB                   the log database (default $FWTRUST_SIGNLOG)\n"
            "  -o, --output FILE          write the JSON (head, prove, consistency) to FILE\n"
            "  --json                     print results as JSON\n" FWT_KEY_HELP
            "  -h, --help                 this text\n\n"
            "Exit status (docs/exit-codes.md): 0 ok; 1 usage; 2 I/O; 7 key (also: not the pinned\n"
            "log key); 8 no such log or\n"
            "entry, or (find) a signature of IMAGE not logged; 11 log not intact (truncated, edited, unsigned entries) or audit findings;\n"
            "20 malformed proof or tree head; 21 proof does not lead to the tree head's root;\n"
            "22 tree head signature invalid or by another key than the pinned or given one;\n"
            "24 append: a --key did not sign IMAGE; 31 no pinned log key and no --log-key.\n");
}

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
    int json;
};

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
    struct audit_out out = {a->json ? json_array() : NULL, a->json};
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
        return fail(a, e);
    }
    if (a->json) {
        fwt_cli_json_print(json_pack("{s:b, s:I, s:o}", "ok", findings == 0, "entries",
                                     (json_int_t)n, "findings", out.arr));
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

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"log", required_argument, NULL, OPT_LOG},
        {"log-key", required_argument, NULL, OPT_LOG_KEY},
        {"since", required_argument, NULL, OPT_SINCE},
        {"size", required_argument, NULL, OPT_SIZE},
        {"tree-size", required_argument, NULL, OPT_TREE_SIZE},
        {"sth", required_argument, NULL, OPT_STH},
        {"old", required_argument, NULL, OPT_OLD},
        {"new", required_argument, NULL, OPT_NEW},
        {"expect-key", required_argument, NULL, OPT_EXPECT_KEY},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"key", required_argument, NULL, 'k'},
        {"signer", required_argument, NULL, OPT_SIGNER},
        {"output", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        FWT_KEY_LONGOPTS,
        {NULL, 0, NULL, 0}};
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? FWT_E_ARG : 0;
    }
    static const struct {
        const char *name;
        int (*fn)(struct args *);
    } cmds[] = {{"init", cmd_init},
                {"append", cmd_append},
                {"pin", cmd_pin},
                {"verify", cmd_verify},
                {"head", cmd_head},
                {"show", cmd_show},
                {"find", cmd_find},
                {"prove", cmd_prove},
                {"check-proof", cmd_check_proof},
                {"consistency", cmd_consistency},
                {"check-consistency", cmd_check_consistency},
                {"audit", cmd_audit}};
    int (*fn)(struct args *) = NULL;
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (!strcmp(argv[1], cmds[i].name)) {
            fn = cmds[i].fn;
        }
    }
    if (!fn) {
        return fwt_cli_usage_error(k_prog, "unknown command '%s'", argv[1]);
    }
    struct args a;
    memset(&a, 0, sizeof(a));
    argc--;
    argv++;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:o:h", opts, NULL)) != -1) {
        if (fwt_key_opt(c, optarg, &a.ko)) {
            continue;
        }
        switch (c) {
        case OPT_LOG:
            a.log = optarg;
            break;
        case OPT_LOG_KEY:
            a.log_key = optarg;
            break;
        case OPT_SINCE:
            a.since = optarg;
            break;
        case OPT_SIZE:
            if (fwt_parse_u64(optarg, FWT_SIGNLOG_SIZE_MAX, &a.size) != FWT_OK) {
                return fwt_cli_usage_error(k_prog, "--size: '%s' is not a number", optarg);
            }
            a.has_size = 1;
            break;
        case OPT_TREE_SIZE:
            if (fwt_parse_u64(optarg, FWT_SIGNLOG_SIZE_MAX, &a.tree_size) != FWT_OK ||
                a.tree_size == 0) {
                return fwt_cli_usage_error(k_prog, "--tree-size: '%s' is not a positive number",
                                           optarg);
            }
            break;
        case OPT_STH:
            a.sth = optarg;
            break;
        case OPT_OLD:
            a.old = optarg;
            break;
        case OPT_NEW:
            a.new_ = optarg;
            break;
        case OPT_EXPECT_KEY:
            if (a.n_expect == MAX_EXPECT) {
                return fwt_cli_usage_error(k_prog, "at most %d --expect-key", MAX_EXPECT);
            }
            a.expect[a.n_expect++] = optarg;
            break;
        case OPT_WINDOW:
            a.window = optarg;
            break;
        case 'k':
            if (a.n_keys == 8) {
                return fwt_cli_usage_error(k_prog, "at most 8 --key");
            }
            a.keys[a.n_keys++] = optarg;
            break;
        case OPT_SIGNER:
            a.signer = optarg;
            break;
        case 'o':
            a.out = optarg;
            break;
        case OPT_JSON:
            a.json = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return fwt_getopt_error(k_prog, argv);
        }
    }
    a.argc = argc - optind;
    a.argv = argv + optind;
    if (fn != cmd_show && fn != cmd_prove && fn != cmd_check_proof && fn != cmd_append &&
        fn != cmd_find &&
        fn != cmd_check_consistency && a.argc != 0) {
        return fwt_cli_usage_error(k_prog, "unexpected argument '%s'", a.argv[0]);
    }
    return fn(&a);
}

const struct fwt_command fwt_cmd_log = {"log", "the signing transparency log (verify, prove, audit)",
                                        run};
