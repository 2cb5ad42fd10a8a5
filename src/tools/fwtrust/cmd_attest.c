/* fwtrust attest: the verifier's side of remote attestation (docs/attestation.md). */
#include "image_cmd.h"

#include <fwtrust/fwt_attest.h>
#include <fwtrust/fwt_keys.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DOC_MAX (4U << 20)

#define MAX_TARGETS 64
static const char *g_targets_items[MAX_TARGETS];
static struct fwt_opt_list g_targets = {g_targets_items, 0, MAX_TARGETS};

static struct {
    const char *out, *ek_ca, *state, *store, *ak, *catalog, *nonce, *assigned, *hw_id, *key;
    const char *log, *log_key;
    int json;
    struct fwt_key_opts ko;
} g;

static const char *g_name = "fwtrust attest";

static int fail(fwt_err err)
{
    if (g.json) {
        fwt_cli_json_print(fwt_cli_json_error(err));
    }
    return fwt_cli_error(g_name, err);
}

static fwt_err read_doc(const char *path, char **text, size_t *len)
{
    uint8_t *b = NULL;
    fwt_err err = fwt_read_file(path, DOC_MAX, &b, len);
    *text = (char *)b;
    return err;
}

static fwt_err emit(const char *path, const char *text, unsigned mode)
{
    if (path) {
        return fwt_write_file_atomic(path, text, strlen(text), mode);
    }
    printf("%s\n", text);
    return FWT_OK;
}

static int cmd_challenge(const struct fwt_cli_args *a)
{
    if (!g.ek_ca || !g.state) {
        return fwt_cli_usage_error(g_name, "--ek-ca CA.pem and --state PENDING are required");
    }
    char *req = NULL, *ch = NULL, *pd = NULL;
    size_t rl = 0;
    fwt_err err = read_doc(a->argv[0], &req, &rl);
    if (err == FWT_OK) {
        err = fwt_attest_enroll_challenge(req, rl, g.ek_ca, &ch, &pd);
    }
    /* The pending state holds the credential: owner-only, written before the challenge. */
    if (err == FWT_OK) {
        err = emit(g.state, pd, 0600);
    }
    if (err == FWT_OK) {
        err = emit(g.out, ch, 0644);
    }
    free(req);
    free(ch);
    free(pd);
    return err == FWT_OK ? 0 : fail(err);
}

static int cmd_activate(const struct fwt_cli_args *a)
{
    char *pd = NULL, *ac = NULL, *ak = NULL;
    size_t pl = 0, al = 0;
    fwt_err err = read_doc(a->argv[0], &pd, &pl);
    if (err == FWT_OK) {
        err = read_doc(a->argv[1], &ac, &al);
    }
    if (err == FWT_OK) {
        err = fwt_attest_enroll_finish(pd, pl, ac, al, &ak);
    }
    if (err == FWT_OK) {
        err = emit(g.out, ak, 0644);
    }
    free(pd);
    free(ac);
    free(ak);
    return err == FWT_OK ? 0 : fail(err);
}

static int cmd_nonce(const struct fwt_cli_args *a)
{
    (void)a;
    if (!g.store) {
        return fwt_cli_usage_error(g_name, "--store DIR is required");
    }
    uint8_t n[32];
    char hex[65];
    fwt_err err = fwt_attest_nonce_dir_issue(g.store, n);
    if (err != FWT_OK) {
        return fail(err);
    }
    fwt_hex_encode(n, sizeof(n), hex);
    if (g.json) {
        fwt_cli_json_print(json_pack("{s:b, s:s}", "ok", 1, "nonce", hex));
    } else {
        printf("%s\n", hex);
    }
    return 0;
}

static int cmd_verify(const struct fwt_cli_args *a)
{
    if (!g.ak || !g.catalog || !g.store || !g.key) {
        return fwt_cli_usage_error(g_name, "--ak AK, --catalog FILE, --store DIR and --key KEY "
                                   "are required");
    }
    uint8_t nonce[64];
    size_t nl = g.nonce ? strlen(g.nonce) : 0;
    if (g.nonce && (nl == 0 || nl % 2 || nl / 2 > sizeof(nonce) ||
                    fwt_hex_decode(g.nonce, nonce, nl / 2) != FWT_OK)) {
        return fwt_cli_usage_error(g_name, "--nonce HEX: 1 to 64 bytes in hex");
    }
    char *ak = NULL, *ev = NULL, *cat = NULL, *record = NULL;
    size_t akl = 0, evl = 0, catl = 0, n_img = 0;
    struct fwt_attest_image *imgs = NULL;
    fwt_privkey *key = NULL;
    struct fwt_attest_nonce_store st;
    struct fwt_attest_result res;
    fwt_attest_nonce_dir_store(g.store, &st);
    fwt_err err = read_doc(g.ak, &ak, &akl);
    if (err == FWT_OK) {
        err = read_doc(a->argv[0], &ev, &evl);
    }
    if (err == FWT_OK) {
        err = read_doc(g.catalog, &cat, &catl);
    }
    if (err == FWT_OK) {
        err = fwt_attest_catalog_parse(cat, catl, &imgs, &n_img);
    }
    if (err == FWT_OK) {
        err = fwt_privkey_load(g.key, &g.ko, &key);
    }
    if (err == FWT_OK) {
        struct fwt_attest_verify_docs d = {
            .ak = ak, .ak_len = akl, .evidence = ev, .evidence_len = evl, .catalog = imgs,
            .n_catalog = n_img, .nonce = g.nonce ? nonce : NULL, .nonce_len = nl / 2,
            .nonces = &st, .assigned = g.assigned, .hw_id = g.hw_id,
            .now = (int64_t)time(NULL), .key = key};
        err = fwt_attest_verify_documents(&d, &res, &record);
    }
    if (err == FWT_OK && g.out) {
        err = emit(g.out, record, 0644);
    }
    free(ak);
    free(ev);
    free(cat);
    free(imgs);
    fwt_privkey_free(key);
    if (err != FWT_OK) {
        free(record);
        return fail(err);
    }
    int pass = res.verdict == FWT_ATTEST_PASS;
    if (g.json) {
        json_t *j = json_pack("{s:b, s:s, s:s, s:s}", "ok", pass, "verdict", pass ? "pass" : "fail",
                              "reason", fwt_attest_reason_name(res.reason), "detail", res.detail);
        json_t *r = json_loads(record, JSON_REJECT_DUPLICATES, NULL);
        json_object_set_new(j, "record", r ? r : json_null());
        if (!pass) {
            json_object_set_new(j, "exit_code", json_integer(FWT_E_ATTEST));
        }
        fwt_cli_json_print(j);
    } else if (pass) {
        printf("attestation passed: %s\n", res.detail);
    } else if (!g.out) {
        printf("%s\n", record);
    }
    free(record);
    if (!pass) {
        fwt_fail(FWT_E_ATTEST, "%s: %s", fwt_attest_reason_name(res.reason), res.detail);
        return fwt_cli_error(g_name, FWT_E_ATTEST);
    }
    return 0;
}

/* The signing log's (digest, signer) pairs, after checking the whole log against
 * --log-key or the key pinned for it (never the key the log stores). */
static fwt_err read_log(struct fwt_attest_signed **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    fwt_pubkey *pub = NULL;
    struct fwt_signlog_pin pin;
    memset(&pin, 0, sizeof(pin));
    fwt_err err = g.log_key ? fwt_pubkey_load(g.log_key, &g.ko, &pub)
                            : fwt_signlog_pin_load(g.log, &pin);
    if (err == FWT_E_NOT_FOUND && !g.log_key) {
        err = fwt_fail(FWT_E_NO_TRUST, "%s: no pinned log key: give --log-key PUB", g.log);
    }
    if (err == FWT_OK && !g.log_key) {
        pub = pin.pub;
        pin.pub = NULL;
    }
    fwt_signlog_pin_free(&pin);
    struct fwt_signlog_record *rec = NULL;
    size_t size = 0;
    if (err == FWT_OK) {
        err = fwt_signlog_records(g.log, pub, &rec, &size);
    }
    fwt_pubkey_free(pub);
    struct fwt_attest_signed *v = NULL;
    if (err == FWT_OK && size && (v = calloc(size, sizeof(*v))) == NULL) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; err == FWT_OK && i < size; i++) {
        memcpy(v[i].digest, rec[i].digest, rec[i].digest_len);
        v[i].digest_len = rec[i].digest_len;
        memcpy(v[i].keyhash, rec[i].keyhash, 32);
    }
    free(rec);
    if (err != FWT_OK) {
        free(v);
        return err;
    }
    *out = v;
    *n = (size_t)size;
    return FWT_OK;
}

static int cmd_catalog(const struct fwt_cli_args *a)
{
    (void)a;
    if (g_targets.n == 0) {
        return fwt_cli_usage_error(g_name, "--targets FILE is required (repeatable)");
    }
    char *texts[MAX_TARGETS] = {0};
    size_t lens[MAX_TARGETS] = {0};
    struct fwt_attest_signed *lg = NULL;
    size_t n_lg = 0;
    char *cat = NULL;
    fwt_err err = FWT_OK;
    for (size_t i = 0; i < g_targets.n && err == FWT_OK; i++) {
        err = read_doc(g_targets.items[i], &texts[i], &lens[i]);
    }
    if (err == FWT_OK && g.log) {
        err = read_log(&lg, &n_lg);
    }
    if (err == FWT_OK) {
        err = fwt_attest_catalog_build((const char *const *)texts, lens, g_targets.n, lg, n_lg,
                                       g.log != NULL, &cat);
    }
    if (err == FWT_OK) {
        err = emit(g.out, cat, 0644);
    }
    for (size_t i = 0; i < g_targets.n; i++) {
        free(texts[i]);
    }
    free(lg);
    free(cat);
    return err == FWT_OK ? 0 : fail(err);
}

static const struct fwt_opt k_global[] = {
    FWT_OPT_FLAG_(0, "json", &g.json, "print results as JSON"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_challenge[] = {
    FWT_OPT_STR_(0, "ek-ca", "CA.pem", &g.ek_ca, "the TPM manufacturers' CA certificates (required)"),
    FWT_OPT_STR_(0, "state", "PENDING", &g.state, "write the pending enrollment (secret) to PENDING (required)"),
    FWT_OPT_STR_('o', "output", "FILE", &g.out, "write the challenge to FILE (default: stdout)"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_activate[] = {
    FWT_OPT_STR_('o', "output", "FILE", &g.out, "write the enrolled AK to FILE (default: stdout)"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_nonce[] = {
    FWT_OPT_STR_(0, "store", "DIR", &g.store, "the nonce store directory (required)"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_verify[] = {
    FWT_OPT_STR_(0, "ak", "AK", &g.ak, "the device's enrolled AK document (required)"),
    FWT_OPT_STR_(0, "catalog", "FILE", &g.catalog, "the signed images the device may run (required)"),
    FWT_OPT_STR_(0, "store", "DIR", &g.store, "the nonce store the nonce was issued from (required)"),
    FWT_OPT_STR_(0, "nonce", "HEX", &g.nonce, "the nonce issued for this request"),
    FWT_OPT_STR_(0, "assigned", "NAME", &g.assigned, "the target the device must run"),
    FWT_OPT_STR_(0, "hw-id", "ID", &g.hw_id, "the device's hardware id (the record's hwmodel)"),
    FWT_OPT_STR_(0, "key", "KEY", &g.key, "the server key that signs the record (PEM or pkcs11:; required)"),
    FWT_KEY_OPTS(g.ko),
    FWT_OPT_STR_('o', "output", "FILE", &g.out, "write the signed record to FILE"),
    FWT_OPT_END_,
};

static const struct fwt_opt k_catalog[] = {
    FWT_OPT_LIST_(0, "targets", "FILE", &g_targets, "TUF targets metadata (top-level or delegated; repeatable)"),
    FWT_OPT_STR_(0, "log", "DB", &g.log, "keep only images and signers this signing log holds"),
    FWT_OPT_STR_(0, "log-key", "PUB", &g.log_key, "check the log against PUB (default: the key pinned for it)"),
    FWT_OPT_STR_('o', "output", "FILE", &g.out, "write the catalog to FILE (default: stdout)"),
    FWT_OPT_END_,
};

static const struct fwt_cli_cmd k_cmds[] = {
    {"challenge", "REQUEST", 1, 1, "enrollment: check the EK and AK, make the credential",
     "Enrollment, step 1. REQUEST is 'fwtrust-agent attest request' output. Checks that\n"
     "the EK certificate chains to --ek-ca, that it certifies the TPM's EK (the EK template's\n"
     "RSA 2048 restricted decryption key) and that the AK is a restricted fixedTPM ECDSA\n"
     "P-256 signing key; then makes a 32-byte credential for them (TPM2_MakeCredential in\n"
     "software, OpenSSL). Writes the challenge for the device and the pending enrollment\n"
     "(--state, mode 0600: it holds the credential).\n\n"
     "Exit: 0; 7 AK refused; 20 malformed request; 29 EK certificate or EK refused.",
     k_challenge},
    {"activate", "PENDING ACTIVATION", 2, 2, "enrollment: check the device recovered the credential",
     "Enrollment, step 2. ACTIVATION is 'fwtrust-agent attest activate' output; it must hold\n"
     "the credential of PENDING (only the TPM with both the certified EK and the AK can\n"
     "recover it). Writes the enrolled AK document.\n\n"
     "Exit: 0; 20 malformed documents; 22 the credential does not match.",
     k_activate},
    {"nonce", "", 0, 0, "issue a fresh single-use nonce (32 bytes, hex)", NULL, k_nonce},
    {"catalog", "", 0, 0, "the signed images a device may run, from published targets and the signing log",
     "Builds the catalog 'verify' checks measurements against: one entry per fwtrust target in\n"
     "the --targets metadata (name, version, image digest) and signer (its verified_signers,\n"
     "or the signing log's signers of its digest). With --log, the whole log is first checked\n"
     "against --log-key (or the key pinned for it), and only the (image, signer) pairs it\n"
     "holds are kept: an image published but never logged, or logged but never published, is\n"
     "not in the catalog. The metadata files are taken as given (the server's own repository).\n\n"
     "Exit: 0; 2 I/O; 11 the log is not intact; 22 a tree head signature is bad; 31 no log\n"
     "key; 40 a file is not targets metadata or a custom.fwtrust is malformed.",
     k_catalog},
    {"verify", "EVIDENCE", 1, 1, "verify a device's quote and write the signed attestation record",
     "Verifies EVIDENCE ('fwtrust-agent attest quote' output), in order: the AK completed\n"
     "activation; the quote's signature by the AK; TPM_GENERATED magic and quote type; the\n"
     "nonce is --nonce and unused in --store (then used up); the PCR selection is SHA-256\n"
     "PCRs 8, 9, 11; the PCR digest covers the reported values; the event log replays to\n"
     "them; every measured image is in --catalog with its signer; the running image is\n"
     "--assigned. Writes the record (EAT-shaped claims signed by --key, for a pass and for a\n"
     "failure) to -o FILE, or prints it when the verification fails.\n\n"
     "Exit: 0 pass; 60 refused (the reason is named: nonce_replayed, signature,\n"
     "pcr_selection, eventlog_malformed, eventlog_replay, unknown_image, ...); 1 usage;\n"
     "2 I/O; 7 key; 20 malformed documents or catalog.",
     k_verify},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};
static int (*const k_fns[])(const struct fwt_cli_args *) = {
    cmd_challenge, cmd_activate, cmd_nonce, cmd_catalog, cmd_verify,
};
_Static_assert(sizeof(k_fns) / sizeof(k_fns[0]) + 1 == sizeof(k_cmds) / sizeof(k_cmds[0]),
               "one function per attest command");

static const struct fwt_cli_prog k_cli = {
    .name = "fwtrust attest",
    .description =
        "The verifier of remote attestation with TPM 2.0 (docs/attestation.md): enrolls a\n"
        "device's attestation key by credential activation against its certified EK, issues\n"
        "nonces, and verifies quotes against the catalog of signed images.",
    .opts = k_global,
    .cmds = k_cmds,
    .epilog = "Exit status (docs/exit-codes.md): 0 ok; 1 usage; 2 I/O; 20 malformed document;\n"
              "22 credential mismatch; 29 EK refused; 60 attestation refused.",
};

static int run(int argc, char **argv)
{
    struct fwt_cli_args args;
    int rc = fwt_cli_parse_group(&k_cli, argc, argv, &args);
    if (rc >= 0) {
        return rc;
    }
    g_name = args.name;
    return k_fns[args.cmd - k_cmds](&args);
}

const struct fwt_command fwt_cmd_attest = {"attest", "remote attestation: enroll a TPM, verify quotes",
                                           run};
