/* fwtrust provenance: in-toto / SLSA provenance in DSSE envelopes (docs/provenance.md). */
#include "image_cmd.h"

#include <fwtrust/fwt_provenance.h>
#include <libgen.h>
#include <stdlib.h>
#include <time.h>

static const char *const k_prog = "fwtrust provenance";

#define MAX_KEYS 8
#define MAX_ENVS 16

static struct fwt_key_opts g_ko;
static const char *g_keys[MAX_KEYS], *g_envs[MAX_ENVS], *g_deps[FWT_PROV_DEPS_MAX];
static struct fwt_opt_list g_key_list = {g_keys, 0, MAX_KEYS}, g_env_list = {g_envs, 0, MAX_ENVS},
                           g_dep_list = {g_deps, 0, FWT_PROV_DEPS_MAX};
static const char *g_builder, *g_src_uri, *g_src_rev, *g_build_type, *g_inv, *g_started,
    *g_finished, *g_name, *g_hash = "sha256", *g_out, *g_policy;
static int g_json;

static int fail(fwt_err err)
{
    if (g_json) {
        fwt_cli_json_print(fwt_cli_json_error(err));
    }
    return fwt_cli_error(k_prog, err);
}

/* "YYYY-MM-DDTHH:MM:SSZ", else a usage error. */
static int check_time(const char *opt, const char *s)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (strlen(s) != 20 || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
        n != 20 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
        return fwt_cli_usage_error(k_prog, "--%s '%s': expected YYYY-MM-DDTHH:MM:SSZ", opt, s);
    }
    return 0;
}

static int cmd_make(int argc, char **argv)
{
    if (g_key_list.n == 0 || !g_builder || !g_src_uri || !g_out) {
        return fwt_cli_usage_error(k_prog, "make needs --key, --builder-id, --source-uri and -o");
    }
    if (g_name && argc > 1) {
        return fwt_cli_usage_error(k_prog, "--name applies to a single ARTIFACT");
    }
    if ((g_started && check_time("started-on", g_started)) ||
        (g_finished && check_time("finished-on", g_finished))) {
        return FWT_E_ARG;
    }
    const struct fwt_hash_desc *h = fwt_hash_by_name(g_hash);
    if (h == NULL) {
        return fwt_cli_usage_error(k_prog, "--hash '%s': sha256, sha384 or sha512", g_hash);
    }
    struct fwt_provenance p;
    memset(&p, 0, sizeof(p));
    char now[32];
    time_t t = time(NULL);
    fwt_rfc3339((int64_t)t, now);
    /* the statement only borrows these strings: nothing below is freed through p */
    p.builder_id = (char *)(uintptr_t)g_builder;
    p.source_uri = (char *)(uintptr_t)g_src_uri;
    p.source_revision = (char *)(uintptr_t)g_src_rev;
    p.build_type = (char *)(uintptr_t)g_build_type;
    p.invocation_id = (char *)(uintptr_t)g_inv;
    p.started_on = (char *)(uintptr_t)(g_started ? g_started : now);
    p.finished_on = (char *)(uintptr_t)(g_finished ? g_finished : now);
    char dep_buf[FWT_PROV_DEPS_MAX][3][512];
    for (size_t i = 0; i < g_dep_list.n; i++) {
        /* URI=ALG:HEX */
        const char *eq = strrchr(g_deps[i], '=');
        const char *col = eq ? strchr(eq, ':') : NULL;
        if (!eq || !col || eq == g_deps[i] || col == eq + 1 || col[1] == 0 ||
            (size_t)(eq - g_deps[i]) >= sizeof(dep_buf[i][0]) || strlen(col + 1) >= sizeof(dep_buf[i][2]) ||
            (size_t)(col - eq - 1) >= sizeof(dep_buf[i][1])) {
            return fwt_cli_usage_error(k_prog, "--dependency '%s': expected URI=ALG:HEX", g_deps[i]);
        }
        snprintf(dep_buf[i][0], sizeof(dep_buf[i][0]), "%.*s", (int)(eq - g_deps[i]), g_deps[i]);
        snprintf(dep_buf[i][1], sizeof(dep_buf[i][1]), "%.*s", (int)(col - eq - 1), eq + 1);
        snprintf(dep_buf[i][2], sizeof(dep_buf[i][2]), "%s", col + 1);
        p.deps[i].uri = dep_buf[i][0];
        p.deps[i].digest_alg = dep_buf[i][1];
        p.deps[i].digest_hex = dep_buf[i][2];
    }
    p.n_deps = g_dep_list.n;
    char names[FWT_PROV_SUBJECTS_MAX][256];
    if ((size_t)argc > FWT_PROV_SUBJECTS_MAX) {
        return fwt_cli_usage_error(k_prog, "at most %u artifacts", FWT_PROV_SUBJECTS_MAX);
    }
    fwt_err err = FWT_OK;
    for (int i = 0; i < argc && err == FWT_OK; i++) {
        struct fwt_prov_subject *s = &p.subjects[p.n_subjects++];
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s", argv[i]);
        snprintf(names[i], sizeof(names[i]), "%s", g_name ? g_name : basename(tmp));
        s->name = names[i];
        s->digests[0].alg = h->alg;
        s->n_digests = 1;
        err = fwt_prov_file_digest(argv[i], h->alg, s->digests[0].value, &s->digests[0].len);
    }
    char *stmt = NULL;
    size_t stmt_len = 0;
    struct fwt_dsse_envelope env;
    memset(&env, 0, sizeof(env));
    if (err == FWT_OK) {
        err = fwt_provenance_statement(&p, &stmt, &stmt_len);
    }
    if (err == FWT_OK) {
        err = fwt_dsse_init(&env, FWT_INTOTO_PAYLOAD_TYPE, (const uint8_t *)stmt, stmt_len);
    }
    for (size_t i = 0; err == FWT_OK && i < g_key_list.n; i++) {
        fwt_privkey *key = NULL;
        err = fwt_privkey_load(g_keys[i], &g_ko, &key);
        if (err != FWT_OK) {
            err = fwt_fail(err, "key %s: %s", g_keys[i], fwt_detail()[0] ? fwt_detail() : "cannot load");
        } else {
            err = fwt_dsse_sign(&env, key);
        }
        fwt_privkey_free(key);
    }
    char *text = NULL;
    size_t text_len = 0;
    if (err == FWT_OK) {
        err = fwt_dsse_serialize(&env, &text, &text_len);
    }
    if (err == FWT_OK) {
        err = fwt_write_file_atomic(g_out, text, text_len, 0644);
    }
    free(stmt);
    free(text);
    size_t n_sigs = env.n_sigs;
    fwt_dsse_free(&env);
    if (err != FWT_OK) {
        return fail(err);
    }
    if (g_json) {
        json_t *o = json_object();
        json_object_set_new(o, "ok", json_true());
        json_object_set_new(o, "output", json_string(g_out));
        json_object_set_new(o, "signatures", json_integer((json_int_t)n_sigs));
        json_object_set_new(o, "builder_id", json_string(g_builder));
        fwt_cli_json_print(o);
    } else {
        printf("wrote %s: %zu subject(s), %zu signature(s), builder %s\n", g_out, p.n_subjects, n_sigs,
               g_builder);
    }
    return 0;
}

static fwt_err load_envelope(const char *path, struct fwt_dsse_envelope *env)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err e = fwt_read_file(path, FWT_DSSE_MAX, &buf, &len);
    if (e == FWT_OK && (e = fwt_dsse_parse(buf, len, env)) != FWT_OK) {
        e = fwt_fail(e, "%s: %s", path, fwt_detail());
    }
    free(buf);
    return e;
}

static json_t *prov_json(const struct fwt_provenance *p)
{
    json_t *o = json_object(), *subs = json_array();
    for (size_t i = 0; i < p->n_subjects; i++) {
        json_t *s = json_object(), *d = json_object();
        for (size_t j = 0; j < p->subjects[i].n_digests; j++) {
            char hex[2 * FWT_DIGEST_MAX + 1];
            fwt_hex_encode(p->subjects[i].digests[j].value, p->subjects[i].digests[j].len, hex);
            json_object_set_new(d, fwt_hash_name(p->subjects[i].digests[j].alg), json_string(hex));
        }
        json_object_set_new(s, "name", json_string(p->subjects[i].name));
        json_object_set_new(s, "digest", d);
        json_array_append_new(subs, s);
    }
    json_object_set_new(o, "subjects", subs);
    json_object_set_new(o, "predicate_type", json_string(p->predicate_type));
#define OPT_STR(k, v) json_object_set_new(o, k, (v) ? json_string(v) : json_null())
    OPT_STR("build_type", p->build_type);
    OPT_STR("builder_id", p->builder_id);
    OPT_STR("source_uri", p->source_uri);
    OPT_STR("source_revision", p->source_revision);
    OPT_STR("invocation_id", p->invocation_id);
    OPT_STR("started_on", p->started_on);
    OPT_STR("finished_on", p->finished_on);
#undef OPT_STR
    return o;
}

static int cmd_verify(const char *artifact)
{
    if (!g_policy || g_env_list.n == 0) {
        return fwt_cli_usage_error(k_prog, "verify needs --policy and at least one --envelope");
    }
    const struct fwt_hash_desc *h = fwt_hash_by_name(g_hash);
    if (h == NULL) {
        return fwt_cli_usage_error(k_prog, "--hash '%s': sha256, sha384 or sha512", g_hash);
    }
    struct fwt_prov_policy pol;
    memset(&pol, 0, sizeof(pol));
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err err = fwt_read_file(g_policy, FWT_DSSE_MAX, &buf, &len);
    if (err == FWT_OK && (err = fwt_prov_policy_parse(buf, len, &pol)) != FWT_OK) {
        err = fwt_fail(err, "%s: %s", g_policy, fwt_detail());
    }
    free(buf);
    if (err != FWT_OK) {
        return fail(err);
    }
    uint8_t digest[FWT_DIGEST_MAX];
    size_t dl = 0;
    struct fwt_dsse_envelope envs[MAX_ENVS];
    memset(envs, 0, sizeof(envs));
    size_t n_env = 0;
    err = fwt_prov_file_digest(artifact, h->alg, digest, &dl);
    for (size_t i = 0; err == FWT_OK && i < g_env_list.n; i++) {
        if ((err = load_envelope(g_envs[i], &envs[i])) == FWT_OK) {
            n_env++;
        }
    }
    size_t agree = 0;
    uint8_t ok[MAX_ENVS];
    memset(ok, 0, sizeof(ok));
    if (err == FWT_OK) {
        err = fwt_prov_verify_builders(&pol, envs, n_env, h->alg, digest, dl, g_src_rev, &agree, ok);
    }
    char verdict[640];
    snprintf(verdict, sizeof(verdict), "%s", fwt_detail());
    /* one line per envelope: its builder, or why it failed */
    json_t *list = json_array();
    for (size_t i = 0; i < n_env; i++) {
        struct fwt_prov_result r;
        fwt_err e = fwt_prov_verify(&pol, &envs[i], h->alg, digest, dl, g_src_rev, &r);
        json_t *o = e == FWT_OK ? prov_json(&r.prov) : json_object();
        json_object_set_new(o, "envelope", json_string(g_envs[i]));
        json_object_set_new(o, "ok", json_boolean(e == FWT_OK));
        if (e != FWT_OK) {
            json_object_set_new(o, "error", json_string(fwt_err_name(e)));
            json_object_set_new(o, "detail", json_string(fwt_detail()));
        } else {
            json_object_set_new(o, "valid_signatures", json_integer((json_int_t)r.n_valid_sigs));
            fwt_provenance_free(&r.prov);
        }
        json_array_append_new(list, o);
    }
    for (size_t i = 0; i < MAX_ENVS; i++) {
        fwt_dsse_free(&envs[i]);
    }
    fwt_prov_policy_free(&pol);
    if (err != FWT_OK && n_env == g_env_list.n) {
        /* the detail of the verdict, re-made after the per-envelope lines */
        err = fwt_fail(err, "%s: %s", artifact, verdict);
    }
    if (g_json) {
        json_t *o = err == FWT_OK ? json_object() : fwt_cli_json_error(err);
        if (err == FWT_OK) {
            json_object_set_new(o, "ok", json_true());
        }
        json_object_set_new(o, "artifact", json_string(artifact));
        json_object_set_new(o, "builders_agreeing", json_integer((json_int_t)agree));
        json_object_set_new(o, "envelopes", list);
        fwt_cli_json_print(o);
        return err == FWT_OK ? 0 : fwt_cli_error(k_prog, err);
    }
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        if (json_is_true(json_object_get(e, "ok"))) {
            printf("%s: ok, builder %s, source %s@%s\n", json_string_value(json_object_get(e, "envelope")),
                   json_string_value(json_object_get(e, "builder_id")),
                   json_string_value(json_object_get(e, "source_uri")),
                   json_is_string(json_object_get(e, "source_revision"))
                       ? json_string_value(json_object_get(e, "source_revision"))
                       : "-");
        } else {
            printf("%s: refused (%s): %s\n", json_string_value(json_object_get(e, "envelope")),
                   json_string_value(json_object_get(e, "error")),
                   json_string_value(json_object_get(e, "detail")));
        }
    }
    json_decref(list);
    if (err != FWT_OK) {
        return fwt_cli_error(k_prog, err);
    }
    printf("%s: provenance verified (%zu independent builder(s) agree)\n", artifact, agree);
    return 0;
}

static int cmd_inspect(const char *path)
{
    struct fwt_dsse_envelope env;
    fwt_err err = load_envelope(path, &env);
    if (err != FWT_OK) {
        return fail(err);
    }
    struct fwt_provenance p;
    if (strcmp(env.payload_type, FWT_INTOTO_PAYLOAD_TYPE) != 0) {
        err = fwt_fail(FWT_E_META, "%s: payload type \"%.80s\" is not in-toto", path, env.payload_type);
    } else if ((err = fwt_provenance_parse(env.payload, env.payload_len, &p)) != FWT_OK) {
        err = fwt_fail(err, "%s: %s", path, fwt_detail());
    }
    size_t n_sigs = env.n_sigs;
    json_t *kids = json_array();
    for (size_t i = 0; i < env.n_sigs; i++) {
        json_array_append_new(kids, env.sigs[i].keyid ? json_string(env.sigs[i].keyid) : json_null());
    }
    fwt_dsse_free(&env);
    if (err != FWT_OK) {
        json_decref(kids);
        return fail(err);
    }
    json_t *o = prov_json(&p);
    fwt_provenance_free(&p);
    json_object_set_new(o, "signatures", json_integer((json_int_t)n_sigs));
    json_object_set_new(o, "keyids", kids);
    json_object_set_new(o, "verified", json_false());
    if (g_json) {
        json_object_set_new(o, "ok", json_true());
        fwt_cli_json_print(o);
        return 0;
    }
    printf("(not verified: use 'fwtrust provenance verify --policy')\n");
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (json_is_string(v)) {
            printf("%-16s %s\n", k, json_string_value(v));
        }
    }
    json_t *s;
    size_t i;
    json_array_foreach(json_object_get(o, "subjects"), i, s)
    {
        const char *alg;
        json_object_foreach(json_object_get(s, "digest"), alg, v)
        {
            printf("subject          %s %s:%s\n", json_string_value(json_object_get(s, "name")), alg,
                   json_string_value(v));
        }
    }
    printf("signatures       %zu\n", n_sigs);
    json_decref(o);
    return 0;
}

static const struct fwt_opt k_global[] = {
    FWT_OPT_FLAG_(0, "json", &g_json, "print the result as JSON"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_make[] = {
    FWT_OPT_LIST_('k', "key", "KEY", &g_key_list,
                  "builder signing key (PEM file or pkcs11: URI); repeatable,\n"
                  "up to 8 (each key signs once); required"),
    FWT_OPT_STR_(0, "builder-id", "URI", &g_builder, "runDetails.builder.id; required"),
    FWT_OPT_STR_(0, "source-uri", "URI", &g_src_uri, "externalParameters.source.uri; required"),
    FWT_OPT_STR_(0, "source-revision", "REV", &g_src_rev, "externalParameters.source.revision (a commit)"),
    FWT_OPT_STR_(0, "build-type", "URI", &g_build_type,
                 "buildDefinition.buildType (default " FWT_PROV_BUILD_TYPE ")"),
    FWT_OPT_LIST_(0, "dependency", "URI=ALG:HEX", &g_dep_list,
                  "a resolved dependency (repeatable), e.g.\n"
                  "git+https://x/y.git=gitCommit:0123..."),
    FWT_OPT_STR_(0, "invocation-id", "ID", &g_inv, "runDetails.metadata.invocationId"),
    FWT_OPT_STR_(0, "started-on", "TIME", &g_started, "YYYY-MM-DDTHH:MM:SSZ (default: now)"),
    FWT_OPT_STR_(0, "finished-on", "TIME", &g_finished, "YYYY-MM-DDTHH:MM:SSZ (default: now)"),
    FWT_OPT_STR_(0, "name", "NAME", &g_name, "subject name (default: the file's base name)"),
    FWT_OPT_STR_(0, "hash", "ALG", &g_hash, "subject digest: sha256 (default), sha384, sha512"),
    FWT_OPT_STR_('o', "output", "ENVELOPE", &g_out, "where to write the DSSE envelope; required"),
    FWT_KEY_OPTS(g_ko),
    FWT_OPT_END_,
};
static const struct fwt_opt k_verify[] = {
    FWT_OPT_STR_(0, "policy", "FILE", &g_policy, "provenance policy (JSON, docs/provenance.md); required"),
    FWT_OPT_LIST_('e', "envelope", "ENVELOPE", &g_env_list,
                  "a DSSE envelope for ARTIFACT (repeatable, up to 16: one\n"
                  "per builder when the policy requires several)"),
    FWT_OPT_STR_(0, "source-revision", "REV", &g_src_rev,
                 "the source revision required (when the policy fixes none)"),
    FWT_OPT_STR_(0, "hash", "ALG", &g_hash, "digest compared with the subjects: sha256 (default), sha384, sha512"),
    FWT_OPT_END_,
};
static const struct fwt_cli_cmd k_cmds[] = {
    {"make", "ARTIFACT...", 1, FWT_PROV_SUBJECTS_MAX,
     "write an in-toto Statement with a SLSA v1 predicate in a signed DSSE envelope",
     "Hashes each ARTIFACT (a subject each), builds an in-toto Statement v1 whose\n"
     "predicate is SLSA Provenance v1 (build type, external parameters: the source,\n"
     "resolved dependencies, builder id, invocation id, start and finish times), and\n"
     "writes it in a DSSE envelope (payload type " FWT_INTOTO_PAYLOAD_TYPE ")\n"
     "signed by each --key.",
     k_make},
    {"verify", "ARTIFACT", 1, 1, "check envelopes for ARTIFACT against a provenance policy",
     "Checks each envelope, in order: DSSE signatures (threshold of distinct keys),\n"
     "payload type, statement, predicate and build type, builder id on the allow-list\n"
     "and signed by its own keys, source URI and revision, and a subject digest equal\n"
     "to ARTIFACT's. Then counts the distinct builders that passed against the policy's\n"
     "required_builders (k independent builders agreeing on one digest).",
     k_verify},
    {"inspect", "ENVELOPE", 1, 1, "print an envelope's statement (without verifying it)", NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};
static const struct fwt_cli_prog k_cli = {
    .name = "fwtrust provenance",
    .description = "Build provenance (in-toto Statement v1, SLSA Provenance v1) in DSSE envelopes.",
    .opts = k_global,
    .cmds = k_cmds,
    .epilog = "Exit status (docs/exit-codes.md): 0 ok; 1 usage; 2 I/O; 7 key; 8 not found;\n"
              "20 malformed envelope, statement or policy; 21 subject digest differs;\n"
              "24 builder not allowed; 28 too few signatures or builders; 33 too large;\n"
              "40 wrong payload or predicate type; 44 source URI or revision differs.",
};

static int run(int argc, char **argv)
{
    struct fwt_cli_args args;
    int rc = fwt_cli_parse_group(&k_cli, argc, argv, &args);
    if (rc >= 0) {
        return rc;
    }
    if (args.cmd == &k_cmds[0]) {
        return cmd_make(args.argc, args.argv);
    }
    if (args.cmd == &k_cmds[1]) {
        return cmd_verify(args.argv[0]);
    }
    return cmd_inspect(args.argv[0]);
}

const struct fwt_command fwt_cmd_provenance = {"provenance", "make and verify build provenance (DSSE, in-toto, SLSA)",
                                               run};
