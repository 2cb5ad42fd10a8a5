/*
 * fwtrust-server: the fleet server. Commands create a server directory, run
 * the daemon, and administer devices, assignments and tokens directly in its
 * database (as the local administrator, role approver); the daemon's admin
 * API does the same over HTTPS with bearer tokens.
 *
 *   fwtrust-server [--dir DIR] [--db URL] [--json] COMMAND [ARGS]
 */
#include "cli.h"

#include <fwtrust/fwt_rollout.h>
#include <fwtrust/fwt_server.h>

#include <malloc.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *g_name = "fwtrust-server";
static const char *g_dir;
static const char *g_db;
static int g_json;

static const struct fwt_opt k_global[] = {
    FWT_OPT_STR_(0, "dir", "DIR", &g_dir, "the server directory (default $FWTRUST_SERVER_DIR)"),
    FWT_OPT_STR_(0, "db", "URL", &g_db, "database instead of server.json's: sqlite:PATH or\npostgresql://..."),
    FWT_OPT_FLAG_(0, "json", &g_json, "print the result as JSON"),
    FWT_OPT_END_,
};

static int fail(fwt_err err)
{
    if (g_json) {
        fwt_cli_json_print(fwt_cli_json_error(err));
    }
    return fwt_cli_error(g_name, err);
}

static int open_srv(fwt_srv **s)
{
    const char *dir = g_dir ? g_dir : getenv("FWTRUST_SERVER_DIR");
    if (!dir || !*dir) {
        return fwt_cli_usage_error(g_name, "--dir DIR (or $FWTRUST_SERVER_DIR) is required");
    }
    fwt_err e = fwt_srv_open(dir, g_db, s);
    return e == FWT_OK ? 0 : fail(e);
}

/* The local administrator: whoever can read the server directory's keys. */
static void local_actor(struct fwt_srv_actor *who)
{
    const struct passwd *pw = getpwuid(getuid());
    char host[64] = "localhost";
    if (gethostname(host, sizeof(host)) != 0) {
        snprintf(host, sizeof(host), "localhost");
    }
    host[sizeof(host) - 1] = 0;
    snprintf(who->name, sizeof(who->name), "cli:%s@%s", pw ? pw->pw_name : "unknown", host);
    who->role = FWT_SRV_APPROVER;
}

/* Print o (JSON, or text made by fmt), free it, exit 0. */
static int done(json_t *o, void (*text)(json_t *))
{
    if (g_json || !text) {
        json_object_set_new(o, "ok", json_true());
        fwt_cli_json_print(o);
    } else {
        text(o);
        json_decref(o);
    }
    return 0;
}

/* ---- init ---- */

static const char *g_listen, *g_init_db;
static const char *g_names_items[16];
static struct fwt_opt_list g_names = {g_names_items, 0, 16};
static uint64_t g_cert_days;
static const char *g_ca_key, *g_ca_pin;
static const struct fwt_opt k_init_opts[] = {
    FWT_OPT_STR_(0, "listen", "HOST:PORT", &g_listen, "where serve listens (default 127.0.0.1:8443)"),
    FWT_OPT_STR_(0, "database", "URL", &g_init_db, "sqlite:PATH or postgresql://... (default\nsqlite:DIR/fleet.db)"),
    FWT_OPT_LIST_(0, "name", "NAME", &g_names, "a DNS name or IP address of the server certificate\n(repeatable; default localhost and 127.0.0.1)"),
    FWT_OPT_U64_(0, "cert-days", "N", &g_cert_days, 1, 3650, "device certificate lifetime (default 30)"),
    FWT_OPT_STR_(0, "ca-key", "KEY", &g_ca_key, "the fleet CA key: a pkcs11: URI of an ECDSA P-256\ntoken key (module: $FWTRUST_PKCS11_MODULE); default a\nnew PEM file DIR/ca/ca.key"),
    FWT_OPT_STR_(0, "ca-pin-file", "F", &g_ca_pin, "the token PIN of --ca-key (first line of F)"),
    FWT_OPT_END_,
};

static void init_text(json_t *o)
{
    printf("server directory %s created (database: %s, listen %s)\n", json_string_value(json_object_get(o, "dir")),
           json_string_value(json_object_get(o, "db")), json_string_value(json_object_get(o, "listen")));
    printf("the director root key is %s/offline/root.key: move it off this machine\n",
           json_string_value(json_object_get(o, "dir")));
}

static int cmd_init(const struct fwt_cli_args *a)
{
    struct fwt_srv_init_opts o = {g_init_db, g_listen, g_names.items, g_names.n, g_cert_days, g_ca_key, g_ca_pin};
    json_t *sum = NULL;
    fwt_err e = fwt_srv_init(a->argv[0], &o, &sum);
    return e == FWT_OK ? done(sum, init_text) : fail(e);
}

/* ---- serve ---- */

static const char *g_serve_listen, *g_plain, *g_ready, *g_dash;
static const struct fwt_opt k_serve_opts[] = {
    FWT_OPT_STR_(0, "listen", "HOST:PORT", &g_serve_listen, "HTTPS address (default: server.json's; port 0: any)"),
    FWT_OPT_STR_(0, "plain-listen", "HOST:PORT", &g_plain,
                 "also serve plain HTTP on loopback for a TLS front end\n(nginx) that passes the client certificate in\nX-SSL-Client-Cert"),
    FWT_OPT_STR_(0, "ready-file", "FILE", &g_ready, "once listening, write \"https PORT\" (and \"plain PORT\")\nthere"),
    FWT_OPT_STR_(0, "dashboard", "DIR", &g_dash, "serve the built dashboard (build/dash) at\n/dashboard/index.html"),
    FWT_OPT_END_,
};

static int cmd_serve(const struct fwt_cli_args *a)
{
    (void)a;
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    struct fwt_srv_serve_opts o = {g_serve_listen, g_plain, g_ready, g_dash};
    /* a long-running process whose heap swings by a few hundred KiB with each batch of
     * check-ins: glibc's default (trim above 128 KiB) gave it back and took it again with
     * brk() many times a second */
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
    mallopt(M_TOP_PAD, 1 << 20);
    fwt_err e = fwt_srv_serve(s, &o);
    fwt_srv_close(s);
    return e == FWT_OK ? 0 : fail(e);
}

/* ---- devices ---- */

static const char *g_tag;
static const struct fwt_opt k_list_opts[] = {
    FWT_OPT_STR_(0, "tag", "TAG", &g_tag, "only devices with this tag"),
    FWT_OPT_END_,
};

static void list_text(json_t *o)
{
    size_t i;
    json_t *d;
    printf("%-36s %-16s %-16s %-10s %-24s %s\n", "DEVICE", "HARDWARE", "SERIAL", "STATUS", "RUNNING", "TAGS");
    json_array_foreach(json_object_get(o, "devices"), i, d)
    {
        json_t *run = json_object_get(d, "running");
        char tags[256] = "";
        size_t k, used = 0;
        json_t *t;
        json_array_foreach(json_object_get(d, "tags"), k, t)
        {
            int w = snprintf(tags + used, sizeof(tags) - used, "%s%s", used ? "," : "", json_string_value(t));
            used = w > 0 && (size_t)w < sizeof(tags) - used ? used + (size_t)w : used;
        }
        const char *rn = json_string_value(json_object_get(run, "name"));
        const char *rv = json_string_value(json_object_get(run, "version"));
        char running[128];
        snprintf(running, sizeof(running), "%s%s%s", rn && *rn ? rn : (rv ? "" : "-"), rv ? " " : "", rv ? rv : "");
        printf("%-36s %-16s %-16s %-10s %-24s %s\n", json_string_value(json_object_get(d, "id")),
               json_string_value(json_object_get(d, "hardware_id")), json_string_value(json_object_get(d, "serial")),
               json_string_value(json_object_get(d, "status")), running, tags);
    }
}

static int cmd_device_list(const struct fwt_cli_args *a)
{
    (void)a;
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    json_t *arr = NULL;
    fwt_err e = fwt_srv_device_list(s, g_tag, &arr);
    fwt_srv_close(s);
    return e == FWT_OK ? done(json_pack("{s:o}", "devices", arr), list_text) : fail(e);
}

static void print_json(json_t *o)
{
    char *t = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (t) {
        printf("%s\n", t);
    }
    free(t);
}

static int cmd_device_show(const struct fwt_cli_args *a)
{
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    json_t *o = NULL;
    fwt_err e = fwt_srv_device_show(s, a->argv[0], &o);
    fwt_srv_close(s);
    return e == FWT_OK ? done(o, print_json) : fail(e);
}

static const char *g_add_items[64], *g_rm_items[64];
static struct fwt_opt_list g_add = {g_add_items, 0, 64}, g_rm = {g_rm_items, 0, 64};
static const struct fwt_opt k_tag_opts[] = {
    FWT_OPT_LIST_(0, "add", "TAG", &g_add, "add this tag (repeatable)"),
    FWT_OPT_LIST_(0, "remove", "TAG", &g_rm, "remove this tag (repeatable)"),
    FWT_OPT_END_,
};

static void tags_text(json_t *o)
{
    printf("device %s tags:", json_string_value(json_object_get(o, "id")));
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(o, "tags"), i, t)
    {
        printf(" %s", json_string_value(t));
    }
    printf("\n");
}

static int cmd_device_tag(const struct fwt_cli_args *a)
{
    if (g_add.n + g_rm.n == 0) {
        return fwt_cli_usage_error(g_name, "give --add TAG or --remove TAG");
    }
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    struct fwt_srv_actor who;
    local_actor(&who);
    fwt_err e = fwt_srv_device_tag(s, &who, a->argv[0], g_add.items, g_add.n, g_rm.items, g_rm.n);
    json_t *o = NULL;
    if (e == FWT_OK) {
        e = fwt_srv_device_show(s, a->argv[0], &o);
    }
    fwt_srv_close(s);
    return e == FWT_OK ? done(o, tags_text) : fail(e);
}

static const char *g_unset_items[FWT_SRV_MAX_ATTRS];
static struct fwt_opt_list g_unset = {g_unset_items, 0, FWT_SRV_MAX_ATTRS};
static const struct fwt_opt k_attr_opts[] = {
    FWT_OPT_LIST_(0, "unset", "KEY", &g_unset, "remove this attribute (repeatable)"),
    FWT_OPT_END_,
};

static void attrs_text(json_t *o)
{
    printf("device %s attributes:", json_string_value(json_object_get(o, "id")));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(o, "attrs"), k, v)
    {
        printf(" %s=%s", k, json_string_value(v));
    }
    printf("\n");
}

/* KEY=VALUE arguments split in place of copies: keys[i], values[i] (freed by the caller). */
static int split_attrs(const char *const *args, size_t n, char **keys, const char **values)
{
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(args[i], '=');
        if (!eq) {
            return fwt_cli_usage_error(g_name, "attribute '%s' is not KEY=VALUE", args[i]);
        }
        if (!(keys[i] = strndup(args[i], (size_t)(eq - args[i])))) {
            return fail(fwt_fail(FWT_E_NOMEM, "out of memory"));
        }
        values[i] = eq + 1;
    }
    return 0;
}

static int cmd_device_attr(const struct fwt_cli_args *a)
{
    size_t n = (size_t)a->argc - 1;
    if (n + g_unset.n == 0) {
        return fwt_cli_usage_error(g_name, "give KEY=VALUE or --unset KEY");
    }
    char *keys[FWT_SRV_MAX_ATTRS] = {0};
    const char *values[FWT_SRV_MAX_ATTRS] = {0};
    int rc = n > FWT_SRV_MAX_ATTRS ? fwt_cli_usage_error(g_name, "at most %d attributes", FWT_SRV_MAX_ATTRS)
                                   : split_attrs((const char *const *)a->argv + 1, n, keys, values);
    fwt_srv *s = NULL;
    if (!rc) {
        rc = open_srv(&s);
    }
    json_t *o = NULL;
    if (!rc) {
        struct fwt_srv_actor who;
        local_actor(&who);
        fwt_err e = fwt_srv_device_attr(s, &who, a->argv[0], (const char *const *)keys, values, n, g_unset.items,
                                        g_unset.n);
        if (e == FWT_OK) {
            e = fwt_srv_device_show(s, a->argv[0], &o);
        }
        fwt_srv_close(s);
        rc = e == FWT_OK ? done(o, attrs_text) : fail(e);
    }
    for (size_t i = 0; i < FWT_SRV_MAX_ATTRS; i++) {
        free(keys[i]);
    }
    return rc;
}

static int g_decommission;
static const struct fwt_opt k_revoke_opts[] = {
    FWT_OPT_FLAG_(0, "decommission", &g_decommission, "mark the device decommissioned rather than revoked"),
    FWT_OPT_END_,
};

static void revoke_text(json_t *o)
{
    printf("device %s is %s\n", json_string_value(json_object_get(o, "id")),
           json_string_value(json_object_get(o, "status")));
}

static int cmd_device_revoke(const struct fwt_cli_args *a)
{
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    struct fwt_srv_actor who;
    local_actor(&who);
    fwt_err e = fwt_srv_device_revoke(s, &who, a->argv[0], g_decommission);
    json_t *o = NULL;
    if (e == FWT_OK) {
        e = fwt_srv_device_show(s, a->argv[0], &o);
    }
    fwt_srv_close(s);
    return e == FWT_OK ? done(o, revoke_text) : fail(e);
}

/* ---- assign ---- */

static const char *g_dev, *g_atag, *g_file, *g_sha;
static uint64_t g_len, g_rc;
static const struct fwt_opt k_assign_opts[] = {
    FWT_OPT_STR_(0, "device", "ID", &g_dev, "assign to this device"),
    FWT_OPT_STR_(0, "tag", "TAG", &g_atag, "assign to every device with this tag"),
    FWT_OPT_STR_(0, "file", "IMAGE", &g_file, "take length and SHA-256 from the image file (as\npublished in the image repository)"),
    FWT_OPT_U64_(0, "length", "N", &g_len, 1, INT64_MAX, "the target's length (without --file)"),
    FWT_OPT_STR_(0, "sha256", "HEX", &g_sha, "the target's SHA-256 (without --file)"),
    FWT_OPT_U64_(0, "release-counter", "N", &g_rc, 0, INT64_MAX, "the release counter devices must not go below\n(default 0)"),
    FWT_OPT_END_,
};

static void assign_text(json_t *o)
{
    printf("%s %s: %s (%lld bytes), release counter %lld\n", json_string_value(json_object_get(o, "scope")),
           json_string_value(json_object_get(o, "subject")), json_string_value(json_object_get(o, "target")),
           (long long)json_integer_value(json_object_get(o, "length")),
           (long long)json_integer_value(json_object_get(o, "release_counter")));
}

static int cmd_assign(const struct fwt_cli_args *a)
{
    if (!g_dev == !g_atag) {
        return fwt_cli_usage_error(g_name, "give exactly one of --device ID and --tag TAG");
    }
    if (!g_file == !(g_len && g_sha)) {
        return fwt_cli_usage_error(g_name, "give --file IMAGE, or --length N and --sha256 HEX");
    }
    char hex[65];
    uint64_t len = g_len;
    if (g_file) {
        fwt_err e = fwt_srv_target_file(g_file, &len, hex);
        if (e != FWT_OK) {
            return fail(e);
        }
    }
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    struct fwt_srv_actor who;
    local_actor(&who);
    struct fwt_srv_assignment as = {g_dev ? "device" : "tag", g_dev ? g_dev : g_atag, a->argv[0], len,
                                    g_file ? hex : g_sha, g_rc};
    json_t *info = NULL;
    fwt_err e = fwt_srv_assign(s, &who, &as, &info);
    fwt_srv_close(s);
    return e == FWT_OK ? done(info, assign_text) : fail(e);
}

static int cmd_assignment_list(const struct fwt_cli_args *a)
{
    (void)a;
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    json_t *arr = NULL;
    fwt_err e = fwt_srv_assignment_list(s, &arr);
    fwt_srv_close(s);
    return e == FWT_OK ? done(json_pack("{s:o}", "assignments", arr), print_json) : fail(e);
}

/* ---- tokens ---- */

static uint64_t g_ttl, g_count = 1;
static const struct fwt_opt k_token_opts[] = {
    FWT_OPT_U64_(0, "ttl", "SECONDS", &g_ttl, 1, 365 * 86400, "lifetime (default: server.json token_days)"),
    FWT_OPT_U64_(0, "count", "N", &g_count, 1, FWT_SRV_TOKENS_MAX, "make N tokens, one a line (default 1)"),
    FWT_OPT_END_,
};

static void token_text(json_t *o)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(o, "tokens"), i, t)
    {
        printf("%s\n", json_string_value(t));
    }
    if (!json_object_get(o, "tokens")) {
        printf("%s\n", json_string_value(json_object_get(o, "token")));
    }
}

static int cmd_enroll_token(const struct fwt_cli_args *a)
{
    (void)a;
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    struct fwt_srv_actor who;
    local_actor(&who);
    json_t *info = NULL;
    fwt_err e = fwt_srv_enroll_token_create(s, &who, g_ttl, (size_t)g_count, &info);
    fwt_srv_close(s);
    return e == FWT_OK ? done(info, token_text) : fail(e);
}

static const char *g_role;
static const struct fwt_opt k_admin_opts[] = {
    FWT_OPT_STR_(0, "role", "ROLE", &g_role, "viewer, operator or approver (required)"),
    FWT_OPT_END_,
};

static int cmd_admin_token(const struct fwt_cli_args *a)
{
    enum fwt_srv_role role;
    if (!g_role || fwt_srv_role_parse(g_role, &role) != FWT_OK) {
        return fwt_cli_usage_error(g_name, "--role viewer|operator|approver is required");
    }
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    struct fwt_srv_actor who;
    local_actor(&who);
    char tok[65];
    json_t *info = NULL;
    fwt_err e = fwt_srv_admin_token_create(s, &who, a->argv[0], role, tok, &info);
    fwt_srv_close(s);
    return e == FWT_OK ? done(info, token_text) : fail(e);
}

static const char *g_cert_out, *g_key_out;
static const struct fwt_opt k_admin_cert_opts[] = {
    FWT_OPT_STR_(0, "role", "ROLE", &g_role, "viewer, operator or approver (required)"),
    FWT_OPT_STR_(0, "cert", "FILE", &g_cert_out, "write the certificate (PEM) here (required)"),
    FWT_OPT_STR_(0, "key", "FILE", &g_key_out, "write the private key (PEM, mode 0600) here (required)"),
    FWT_OPT_END_,
};

static void admin_cert_text(json_t *o)
{
    printf("administrator %s (%s): certificate %s, SHA-256 %s\n", json_string_value(json_object_get(o, "name")),
           json_string_value(json_object_get(o, "role")), g_cert_out,
           json_string_value(json_object_get(o, "fingerprint")));
}

static int cmd_admin_cert(const struct fwt_cli_args *a)
{
    enum fwt_srv_role role;
    if (!g_role || fwt_srv_role_parse(g_role, &role) != FWT_OK) {
        return fwt_cli_usage_error(g_name, "--role viewer|operator|approver is required");
    }
    if (!g_cert_out || !g_key_out) {
        return fwt_cli_usage_error(g_name, "--cert FILE and --key FILE are required");
    }
    if (access(g_cert_out, F_OK) == 0 || access(g_key_out, F_OK) == 0) {
        return fail(fwt_fail(FWT_E_ARG, "%s or %s exists: not overwritten", g_cert_out, g_key_out));
    }
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    struct fwt_srv_actor who;
    local_actor(&who);
    char *key = NULL, *cert = NULL;
    json_t *info = NULL;
    fwt_err e = fwt_srv_admin_cert_create(s, &who, a->argv[0], role, &key, &cert, &info);
    fwt_srv_close(s);
    if (e == FWT_OK) {
        e = fwt_write_file_atomic(g_key_out, key, strlen(key), 0600);
    }
    if (e == FWT_OK) {
        e = fwt_write_file_atomic(g_cert_out, cert, strlen(cert), 0644);
    }
    if (key) {
        fwt_zeroize(key, strlen(key));
        free(key);
    }
    free(cert);
    if (e != FWT_OK) {
        json_decref(info);
        return fail(e);
    }
    return done(info, admin_cert_text);
}

static const char *g_ev_dev;
static uint64_t g_limit;
static const struct fwt_opt k_events_opts[] = {
    FWT_OPT_STR_(0, "device", "ID", &g_ev_dev, "only this device's events"),
    FWT_OPT_U64_(0, "limit", "N", &g_limit, 1, 100000, "at most N events, newest first (default 100)"),
    FWT_OPT_END_,
};

static void events_text(json_t *o)
{
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(o, "events"), i, ev)
    {
        const char *dev = json_string_value(json_object_get(ev, "device_id"));
        printf("%lld %-20s %-36s %s %s\n", (long long)json_integer_value(json_object_get(ev, "time")),
               json_string_value(json_object_get(ev, "kind")), dev ? dev : "-",
               json_string_value(json_object_get(ev, "actor")), json_string_value(json_object_get(ev, "detail")));
    }
}

static int cmd_events(const struct fwt_cli_args *a)
{
    (void)a;
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    json_t *arr = NULL;
    fwt_err e = fwt_srv_event_list(s, g_ev_dev, g_limit, &arr);
    fwt_srv_close(s);
    return e == FWT_OK ? done(json_pack("{s:o}", "events", arr), events_text) : fail(e);
}

static int cmd_routes(const struct fwt_cli_args *a)
{
    (void)a;
    size_t n = 0;
    const char *const *r = fwt_srv_routes(&n);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (g_json) {
            json_array_append_new(arr, json_string(r[i]));
        } else {
            printf("%s\n", r[i]);
        }
    }
    if (g_json) {
        fwt_cli_json_print(json_pack("{s:b, s:o}", "ok", 1, "routes", arr));
    } else {
        json_decref(arr);
    }
    return 0;
}

/* ---- rollouts (docs/rollouts.md) ---- */

static const char *g_spec, *g_reason;
static const char *g_sattr_items[16];
static struct fwt_opt_list g_sattr = {g_sattr_items, 0, 16};
static const struct fwt_opt k_rollout_create_opts[] = {
    FWT_OPT_STR_(0, "spec", "FILE", &g_spec, "the rollout specification (JSON, docs/rollouts.md;\n\"-\": standard input) (required)"),
    FWT_OPT_LIST_(0, "select-attr", "KEY=VALUE", &g_sattr,
                  "also select by this device attribute (repeatable;\nadded to the specification's select.attrs)"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_reason_opts[] = {
    FWT_OPT_STR_(0, "reason", "TEXT", &g_reason, "why (recorded in the audit log)"),
    FWT_OPT_END_,
};

static void rollout_text(json_t *o)
{
    printf("rollout %s (%s): %s, target %s, group %lld of %zu%s%s\n", json_string_value(json_object_get(o, "id")),
           json_string_value(json_object_get(o, "name")), json_string_value(json_object_get(o, "state")),
           json_string_value(json_object_get(o, "target")),
           (long long)json_integer_value(json_object_get(o, "current_group")) + 1,
           json_array_size(json_object_get(o, "groups")), *json_string_value(json_object_get(o, "reason")) ? ": " : "",
           json_string_value(json_object_get(o, "reason")));
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(o, "groups"), i, g)
    {
        printf("  %-12s %5lld devices: %lld pending, %lld assigned, %lld in flight, %lld confirmed, %lld failed%s\n",
               json_string_value(json_object_get(g, "name")), (long long)json_integer_value(json_object_get(g, "devices")),
               (long long)json_integer_value(json_object_get(g, "pending")),
               (long long)json_integer_value(json_object_get(g, "assigned")),
               (long long)json_integer_value(json_object_get(g, "in_flight")),
               (long long)json_integer_value(json_object_get(g, "confirmed")),
               (long long)json_integer_value(json_object_get(g, "failed")),
               json_is_true(json_object_get(g, "started")) ? "" : " (not started)");
    }
}

static void rollouts_text(json_t *o)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(o, "rollouts"), i, r)
    {
        rollout_text(r);
    }
}

static int cmd_rollout_create(const struct fwt_cli_args *a)
{
    (void)a;
    if (!g_spec) {
        return fwt_cli_usage_error(g_name, "--spec FILE is required");
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err e;
    if (!strcmp(g_spec, "-")) {
        size_t cap = 0;
        e = FWT_OK;
        for (;;) {
            if (len == cap) {
                cap = cap ? cap * 2 : 4096;
                uint8_t *nb = cap <= 2 * FWT_SRV_BODY_MAX ? realloc(buf, cap) : NULL;
                if (!nb) {
                    e = fwt_fail(FWT_E_TOO_LARGE, "specification on standard input is too large");
                    break;
                }
                buf = nb;
            }
            size_t n = fread(buf + len, 1, cap - len, stdin);
            len += n;
            if (n == 0) {
                break;
            }
        }
    } else {
        e = fwt_read_file(g_spec, FWT_SRV_BODY_MAX, &buf, &len);
    }
    json_t *spec = NULL, *info = NULL;
    if (e == FWT_OK) {
        e = fwt_srv_rollout_spec_check(buf, len, &spec);
    }
    free(buf);
    if (e != FWT_OK) {
        return fail(e);
    }
    /* --select-attr KEY=VALUE: into select.attrs (the library checks the result) */
    for (size_t i = 0; i < g_sattr.n; i++) {
        const char *eq = strchr(g_sattr.items[i], '=');
        char *k = eq ? strndup(g_sattr.items[i], (size_t)(eq - g_sattr.items[i])) : NULL;
        json_t *sel = json_object_get(spec, "select");
        json_t *attrs = json_object_get(sel, "attrs");
        if (!attrs && json_is_object(sel)) {
            json_object_set_new(sel, "attrs", attrs = json_object());
        }
        if (!k || !json_is_object(attrs) || json_object_set_new(attrs, k, json_string(eq + 1)) != 0) {
            free(k);
            json_decref(spec);
            return fwt_cli_usage_error(g_name, "--select-attr '%s': not KEY=VALUE (printable text)", g_sattr.items[i]);
        }
        free(k);
    }
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        json_decref(spec);
        return rc;
    }
    struct fwt_srv_actor who;
    local_actor(&who);
    e = fwt_srv_rollout_create(s, &who, spec, &info);
    json_decref(spec);
    fwt_srv_close(s);
    return e == FWT_OK ? done(info, rollout_text) : fail(e);
}

/* approve / halt / resume / cancel / retry-failed ID, then the status. */
static int rollout_do(const struct fwt_cli_args *a, const char *action)
{
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    struct fwt_srv_actor who;
    local_actor(&who);
    fwt_err e = !strcmp(action, "approve") ? fwt_srv_rollout_approve(s, &who, a->argv[0])
                                           : fwt_srv_rollout_action(s, &who, a->argv[0], action, g_reason);
    json_t *o = NULL;
    if (e == FWT_OK) {
        e = fwt_srv_rollout_status(s, a->argv[0], &o);
    }
    fwt_srv_close(s);
    return e == FWT_OK ? done(o, rollout_text) : fail(e);
}

static int cmd_rollout_approve(const struct fwt_cli_args *a)
{
    return rollout_do(a, "approve");
}

static int cmd_rollout_halt(const struct fwt_cli_args *a)
{
    return rollout_do(a, "halt");
}

static int cmd_rollout_resume(const struct fwt_cli_args *a)
{
    return rollout_do(a, "resume");
}

static int cmd_rollout_cancel(const struct fwt_cli_args *a)
{
    return rollout_do(a, "cancel");
}

static int cmd_rollout_retry(const struct fwt_cli_args *a)
{
    return rollout_do(a, "retry-failed");
}

static int cmd_rollout_status(const struct fwt_cli_args *a)
{
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    json_t *o = NULL;
    fwt_err e = fwt_srv_rollout_tick(s, time(NULL));
    if (e == FWT_OK && a->argc == 1) {
        e = fwt_srv_rollout_status(s, a->argv[0], &o);
    } else if (e == FWT_OK) {
        json_t *arr = NULL;
        if ((e = fwt_srv_rollout_list(s, &arr)) == FWT_OK) {
            o = json_pack("{s:o}", "rollouts", arr);
        }
    }
    fwt_srv_close(s);
    return e == FWT_OK ? done(o, a->argc == 1 ? rollout_text : rollouts_text) : fail(e);
}

static int g_release;
static const struct fwt_opt k_quarantine_opts[] = {
    FWT_OPT_STR_(0, "reason", "TEXT", &g_reason, "why (recorded in the audit log)"),
    FWT_OPT_FLAG_(0, "release", &g_release, "end the quarantine instead"),
    FWT_OPT_END_,
};

static void quarantine_text(json_t *o)
{
    printf("%s %s\n", json_string_value(json_object_get(o, "device")),
           json_is_true(json_object_get(o, "quarantined")) ? "quarantined: no rollout admits it" : "released");
}

static int cmd_device_quarantine(const struct fwt_cli_args *a)
{
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    struct fwt_srv_actor who;
    local_actor(&who);
    fwt_err e = fwt_srv_quarantine(s, &who, a->argv[0], !g_release, g_reason);
    fwt_srv_close(s);
    return e == FWT_OK ? done(json_pack("{s:s, s:b}", "device", a->argv[0], "quarantined", !g_release), quarantine_text)
                       : fail(e);
}

static int g_not_vuln;
static const struct fwt_opt k_vuln_opts[] = {
    FWT_OPT_FLAG_(0, "remove", &g_not_vuln, "the version is not vulnerable (any more)"),
    FWT_OPT_END_,
};

static void vuln_text(json_t *o)
{
    printf("version %s %s\n", json_string_value(json_object_get(o, "version")),
           json_is_true(json_object_get(o, "vulnerable")) ? "marked vulnerable" : "no longer marked vulnerable");
}

static int cmd_version_vulnerable(const struct fwt_cli_args *a)
{
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    struct fwt_srv_actor who;
    local_actor(&who);
    fwt_err e = fwt_srv_version_vulnerable(s, &who, a->argv[0], !g_not_vuln);
    fwt_srv_close(s);
    return e == FWT_OK ? done(json_pack("{s:s, s:b}", "version", a->argv[0], "vulnerable", !g_not_vuln), vuln_text)
                       : fail(e);
}

/* ---- images: blocking (catalog marks) and exposure (docs/catalog.md) ---- */

static int g_unblock;
static const struct fwt_opt k_block_opts[] = {
    FWT_OPT_STR_(0, "reason", "TEXT", &g_reason, "why, e.g. the vulnerability id (audit log, halted rollouts)"),
    FWT_OPT_FLAG_(0, "remove", &g_unblock, "unblock the image"),
    FWT_OPT_END_,
};

static void block_text(json_t *o)
{
    int on = json_is_true(json_object_get(o, "blocked"));
    printf("image %s %s\n", json_string_value(json_object_get(o, "sha256")), on ? "blocked" : "unblocked");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(o, "halted"), i, v)
    {
        printf("halted rollout %s\n", json_string_value(v));
    }
}

static int cmd_image_block(const struct fwt_cli_args *a)
{
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    struct fwt_srv_actor who;
    local_actor(&who);
    json_t *info = NULL;
    fwt_err e = fwt_srv_image_block(s, &who, a->argv[0], !g_unblock, g_reason, &info);
    fwt_srv_close(s);
    return e == FWT_OK ? done(info, block_text) : fail(e);
}

static void exposure_text(json_t *o)
{
    size_t i, k;
    json_t *im, *d;
    json_array_foreach(json_object_get(o, "images"), i, im)
    {
        json_t *b = json_object_get(im, "blocked");
        printf("%s  %-14s %lld device(s)%s%s\n", json_string_value(json_object_get(im, "sha256")),
               json_string_value(json_object_get(im, "version")) ? json_string_value(json_object_get(im, "version"))
                                                                 : "-",
               (long long)json_integer_value(json_object_get(im, "count")), b ? "  BLOCKED: " : "",
               b ? json_string_value(json_object_get(b, "reason")) : "");
        json_array_foreach(json_object_get(im, "devices"), k, d)
        {
            printf("    %s (%s, %s)\n", json_string_value(json_object_get(d, "id")),
                   json_string_value(json_object_get(d, "hardware_id")), json_string_value(json_object_get(d, "status")));
        }
    }
}

static int cmd_image_exposure(const struct fwt_cli_args *a)
{
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    json_t *arr = NULL;
    fwt_err e = fwt_srv_image_exposure(s, a->argc ? a->argv[0] : NULL, &arr);
    fwt_srv_close(s);
    return e == FWT_OK ? done(json_pack("{s:o}", "images", arr), exposure_text) : fail(e);
}

/* ---- the publish gate's record as alerts (docs/key-custody.md#publish-gates) ---- */

static void gate_text(json_t *o)
{
    printf("publish gate: %lld alert(s) raised, %lld record(s) imported before\n",
           (long long)json_integer_value(json_object_get(o, "raised")),
           (long long)json_integer_value(json_object_get(o, "already")));
}

static int cmd_alert_import_gate(const struct fwt_cli_args *a)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err e = fwt_read_file(a->argv[0], 64U << 20, &buf, &len);
    if (e != FWT_OK) {
        return fail(fwt_fail(e, "%s: %s", a->argv[0], fwt_detail()));
    }
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        free(buf);
        return rc;
    }
    json_t *info = NULL;
    e = fwt_srv_alerts_publish_gate(s, buf, len, time(NULL), &info);
    fwt_srv_close(s);
    free(buf);
    return e == FWT_OK ? done(info, gate_text) : fail(fwt_fail(e, "%s: %s", a->argv[0], fwt_detail()));
}

static int g_prom;
static const struct fwt_opt k_metrics_opts[] = {
    FWT_OPT_FLAG_(0, "prometheus", &g_prom, "print the Prometheus text format (as GET /metrics)"),
    FWT_OPT_END_,
};

static int cmd_metrics(const struct fwt_cli_args *a)
{
    (void)a;
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    json_t *m = NULL;
    fwt_err e = fwt_srv_metrics(s, time(NULL), &m);
    fwt_srv_close(s);
    if (e != FWT_OK) {
        return fail(e);
    }
    if (g_prom) {
        char *text = NULL;
        e = fwt_srv_metrics_prometheus(m, &text);
        json_decref(m);
        if (e != FWT_OK) {
            return fail(e);
        }
        fputs(text, stdout);
        free(text);
        return 0;
    }
    return done(m, NULL);
}

/* ---- the image repository of rollouts ---- */

static const char *g_meta_url, *g_root;
static const struct fwt_opt k_image_repo_opts[] = {
    FWT_OPT_STR_(0, "metadata-url", "URL", &g_meta_url, "the image repository's TUF metadata (https://,\nhttp:// or file://) (required)"),
    FWT_OPT_STR_(0, "root", "FILE", &g_root, "a root.json of it you trust (required)"),
    FWT_OPT_END_,
};

static void image_repo_text(json_t *o)
{
    printf("rollout targets are checked against %s\n", json_string_value(json_object_get(o, "metadata_url")));
}

static int cmd_image_repo_set(const struct fwt_cli_args *a)
{
    (void)a;
    if (!g_meta_url || !g_root) {
        return fwt_cli_usage_error(g_name, "--metadata-url URL and --root FILE are required");
    }
    uint8_t *root = NULL;
    size_t len = 0;
    fwt_err e = fwt_read_file(g_root, 512000, &root, &len);
    if (e != FWT_OK) {
        return fail(e);
    }
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        free(root);
        return rc;
    }
    struct fwt_srv_actor who;
    local_actor(&who);
    e = fwt_srv_image_repo_set(s, &who, g_meta_url, root, len);
    free(root);
    fwt_srv_close(s);
    return e == FWT_OK ? done(json_pack("{s:s}", "metadata_url", g_meta_url), image_repo_text) : fail(e);
}

/* ---- factory CAs, re-enrollment (enrollment with a factory certificate) ---- */

static const char *g_fca_cert;
static const struct fwt_opt k_fca_add_opts[] = {
    FWT_OPT_STR_(0, "cert", "FILE", &g_fca_cert, "the manufacturer's CA certificate (PEM; required)"),
    FWT_OPT_END_,
};

static void fca_text(json_t *o)
{
    printf("factory CA %s (%s): %s\n", json_string_value(json_object_get(o, "name")),
           json_string_value(json_object_get(o, "fp")), json_string_value(json_object_get(o, "subject")));
}

static int cmd_factory_ca_add(const struct fwt_cli_args *a)
{
    if (!g_fca_cert) {
        return fwt_cli_usage_error(g_name, "--cert FILE is required");
    }
    uint8_t *pem = NULL;
    size_t len = 0;
    fwt_err e = fwt_read_file(g_fca_cert, FWT_SRV_BODY_MAX, &pem, &len);
    if (e != FWT_OK) {
        return fail(e);
    }
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        free(pem);
        return rc;
    }
    struct fwt_srv_actor who;
    local_actor(&who);
    json_t *info = NULL;
    e = fwt_srv_factory_ca_add(s, &who, a->argv[0], (const char *)pem, len, &info);
    fwt_srv_close(s);
    free(pem);
    return e == FWT_OK ? done(info, fca_text) : fail(e);
}

static void fca_list_text(json_t *o)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(o, "factory_cas"), i, c)
    {
        fca_text(c);
    }
}

static int cmd_factory_ca_list(const struct fwt_cli_args *a)
{
    (void)a;
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    json_t *arr = NULL;
    fwt_err e = fwt_srv_factory_ca_list(s, &arr);
    fwt_srv_close(s);
    return e == FWT_OK ? done(json_pack("{s:o}", "factory_cas", arr), fca_list_text) : fail(e);
}

static void fca_removed_text(json_t *o)
{
    printf("factory CA %s removed\n", json_string_value(json_object_get(o, "fp")));
}

static int cmd_factory_ca_remove(const struct fwt_cli_args *a)
{
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    struct fwt_srv_actor who;
    local_actor(&who);
    fwt_err e = fwt_srv_factory_ca_remove(s, &who, a->argv[0]);
    fwt_srv_close(s);
    return e == FWT_OK ? done(json_pack("{s:s}", "fp", a->argv[0]), fca_removed_text) : fail(e);
}

static void reenroll_text(json_t *o)
{
    printf("device %s (%s): its factory identity may enroll once more\n",
           json_string_value(json_object_get(o, "id")), json_string_value(json_object_get(o, "status")));
}

static int cmd_device_allow_reenroll(const struct fwt_cli_args *a)
{
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    struct fwt_srv_actor who;
    local_actor(&who);
    fwt_err e = fwt_srv_device_allow_reenroll(s, &who, a->argv[0]);
    json_t *o = NULL;
    if (e == FWT_OK) {
        e = fwt_srv_device_show(s, a->argv[0], &o);
    }
    fwt_srv_close(s);
    return e == FWT_OK ? done(o, reenroll_text) : fail(e);
}

/* ---- the director root ---- */

static struct fwt_srv_rotate_opts g_rot;
static const struct fwt_opt k_rotate_opts[] = {
    FWT_OPT_STR_(0, "root-key", "KEY", &g_rot.root_key,
                 "the current director root key (PEM or pkcs11:;\ndefault DIR/offline/root.key)"),
    FWT_OPT_STR_(0, "new-root-key", "KEY", &g_rot.new_root_key,
                 "the new root key (PEM or pkcs11:, e.g. from\nfwtrust keygen); default: the root key stays"),
    FWT_OPT_FLAG_(0, "rotate-online", &g_rot.rotate_online,
                  "new targets, snapshot and timestamp keys\n(DIR/director/*.key)"),
    FWT_OPT_U64_(0, "expires-days", "N", &g_rot.expires_days, 1, 3650, "the new root's lifetime (default 365)"),
    FWT_OPT_STR_(0, "pin-file", "FILE", &g_rot.pin_file, "the token PIN for pkcs11: keys (first line)"),
    FWT_OPT_END_,
};

static void rotate_text(json_t *o)
{
    printf("director root version %lld written (%s); root key %s%s\n",
           (long long)json_integer_value(json_object_get(o, "version")), json_string_value(json_object_get(o, "file")),
           json_string_value(json_object_get(o, "root_keyid")),
           json_is_true(json_object_get(o, "online_rotated")) ? "; new online keys" : "");
}

static int cmd_director_rotate(const struct fwt_cli_args *a)
{
    (void)a;
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    struct fwt_srv_actor who;
    local_actor(&who);
    json_t *info = NULL;
    fwt_err e = fwt_srv_director_rotate(s, &who, &g_rot, &info);
    fwt_srv_close(s);
    return e == FWT_OK ? done(info, rotate_text) : fail(e);
}

static void director_text(json_t *o)
{
    json_t *k = json_object_get(o, "keyids");
    printf("director root version %lld, expires %s\ntargets %s\nsnapshot %s\ntimestamp %s\n",
           (long long)json_integer_value(json_object_get(o, "version")),
           json_string_value(json_object_get(o, "expires")), json_string_value(json_object_get(k, "targets")),
           json_string_value(json_object_get(k, "snapshot")), json_string_value(json_object_get(k, "timestamp")));
}

static int cmd_director_status(const struct fwt_cli_args *a)
{
    (void)a;
    fwt_srv *s = NULL;
    int rc = open_srv(&s);
    if (rc) {
        return rc;
    }
    json_t *info = NULL;
    fwt_err e = fwt_srv_director_status(s, &info);
    fwt_srv_close(s);
    return e == FWT_OK ? done(info, director_text) : fail(e);
}

/* ---- the command table ---- */

static const struct fwt_cli_cmd k_cmds[] = {
    {"init", "DIR", 1, 1, "create a server directory: settings, fleet CA, director keys, audit log, database",
     "Create DIR (missing or empty): server.json, the fleet CA (ca/ca.key, ca/ca.pem), the\n"
     "server's TLS certificate (ca/server.pem), the director root key (offline/root.key:\n"
     "move it off the machine) and online keys (director/*.key), the director root\n"
     "(director/1.root.json), the audit log (audit.db, its key log.key, pinned in\n"
     "$FWTRUST_SIGNLOG_PINS) and the database with its schema.",
     k_init_opts},
    {"serve", "", 0, 0, "run the daemon (device API and admin API over HTTPS) until SIGTERM",
     "Serve the device API (enroll, renew, checkin, director metadata, report) and the\n"
     "admin API over HTTPS with mutual TLS (docs/fleet-protocol.md, docs/openapi.yaml).\n"
     "Revoked devices are refused during the handshake and by the API.",
     k_serve_opts},
    {"device list", "", 0, 0, "the devices: identity, status, what they run, tags", NULL, k_list_opts},
    {"device show", "ID", 1, 1, "one device with its last manifest", NULL, NULL},
    {"device tag", "ID", 1, 1, "add or remove tags of a device (recorded in the audit log)", NULL, k_tag_opts},
    {"device attr", "ID [KEY=VALUE...]", 1, 1 + FWT_SRV_MAX_ATTRS,
     "set or remove attributes of a device (recorded in the audit log)",
     "Set KEY=VALUE attributes of a device (a key: 1 to 64 of A-Z a-z 0-9 - _ .; a value:\n"
     "up to 128 printable characters; at most 32 per device) and remove those given with\n"
     "--unset KEY. Rollouts select devices by them (select.attrs, --select-attr).",
     k_attr_opts},
    {"device revoke", "ID", 1, 1, "revoke a device: refused at TLS and API from now on; CRL rewritten", NULL,
     k_revoke_opts},
    {"assign", "TARGET", 1, 1, "assign TARGET (an image repository target) to a device or a tag",
     "Assign TARGET to --device ID or to every device with --tag TAG; the device's own\n"
     "assignment wins over a tag's. Its director metadata names TARGET at the next\n"
     "check-in; the device installs it only if the image repository agrees on name,\n"
     "length and SHA-256. Recorded in the audit log.",
     k_assign_opts},
    {"assignment list", "", 0, 0, "the assignments in force", NULL, NULL},
    {"enroll-token create", "", 0, 0, "a one-time enrollment token (printed once; stored hashed)", NULL,
     k_token_opts},
    {"admin-token create", "NAME", 1, 1, "a bearer token for the admin API with a role", NULL, k_admin_opts},
    {"admin-cert create", "NAME", 1, 1, "a client certificate for the admin API with a role (mutual TLS)",
     "Issue an administrator a new P-256 key and a client certificate of the fleet CA\n"
     "(CN admin:NAME, cert_days long); the role is bound to its fingerprint in the\n"
     "database. The admin API accepts it instead of a bearer token (curl --cert FILE\n"
     "--key FILE); changes made with it must be sent as Content-Type: application/json.",
     k_admin_cert_opts},
    {"events", "", 0, 0, "check-ins, reports, enrolments and admin actions, newest first", NULL, k_events_opts},
    {"routes", "", 0, 0, "the HTTP routes the daemon serves", NULL, NULL},
    {"rollout create", "", 0, 0, "create a governed rollout from a specification (docs/rollouts.md)",
     "Create a rollout: a target, a device selection and groups (waves) with success and\n"
     "error thresholds. The first group starts at once (or at start_at, inside its\n"
     "maintenance windows); later groups need an approval by another administrator with\n"
     "the approver role. Errors above a group's threshold halt the rollout by themselves.",
     k_rollout_create_opts},
    {"rollout approve", "ID", 1, 1, "approve a rollout's later groups (approver; not its creator)", NULL, NULL},
    {"rollout status", "[ID]", 0, 1, "one rollout's groups and devices, or every rollout", NULL, NULL},
    {"rollout halt", "ID", 1, 1, "halt: no further device gets it; those not started revert", NULL, k_reason_opts},
    {"rollout resume", "ID", 1, 1, "resume a halted or paused rollout", NULL, k_reason_opts},
    {"rollout cancel", "ID", 1, 1, "cancel: like halt, for good", NULL, k_reason_opts},
    {"rollout retry-failed", "ID", 1, 1, "make a rollout's failed devices pending again", NULL, k_reason_opts},
    {"device quarantine", "ID", 1, 1, "quarantine a device (no rollout admits it) or --release it", NULL,
     k_quarantine_opts},
    {"version vulnerable", "VERSION", 1, 1, "mark a firmware version vulnerable (metrics count its devices)", NULL,
     k_vuln_opts},
    {"metrics", "", 0, 0, "fleet metrics as JSON, or --prometheus", NULL, k_metrics_opts},
    {"image-repo set", "", 0, 0, "the image repository rollout targets must come from (TUF, verified)",
     "Keep a TUF client of the image repository in DIR/image-repo/ (this root trusted).\n"
     "From then on `rollout create` refreshes it and requires the target listed there\n"
     "with the rollout's length, SHA-256 and hardware id.",
     k_image_repo_opts},
    {"image block", "SHA256", 1, 1, "refuse rollouts of an image (a release marked vulnerable or withdrawn)",
     "Block the image whose bytes have this SHA-256 (the rollout's and the manifests'\n"
     "sha256): its active and paused rollouts halt at once, and creating or resuming a\n"
     "rollout of it is refused until --remove (docs/catalog.md). Recorded in the audit log.",
     k_block_opts},
    {"image exposure", "[SHA256]", 0, 1, "which devices run each image (and which images are blocked)",
     "For each image devices run (the confirmed, else trial, slot of their last manifest)\n"
     "and each blocked image: how many devices run it and which.", NULL},
    {"factory-ca add", "NAME", 1, 1, "trust a manufacturer's CA for enrollment with a factory certificate",
     "Devices whose factory certificate chains to this root CA (PEM, self-signed,\n"
     "basicConstraints CA, valid now; intermediates come with each device's\n"
     "certificate) enroll without a token: fwtrust-agent enroll --factory-cert CERT\n"
     "--factory-key KEY. The certificate's subject serialNumber is the device serial;\n"
     "one factory identity (CA, serialNumber) enrolls one device record. Approver;\n"
     "recorded in the audit log. docs/fleet-protocol.md.",
     k_fca_add_opts},
    {"factory-ca list", "", 0, 0, "the manufacturers' CAs trusted for enrollment", NULL, NULL},
    {"factory-ca remove", "FP", 1, 1, "stop trusting a factory CA (by its SHA-256 fingerprint)",
     "Devices enrolled through it stay enrolled; new enrollments through it are refused.\n"
     "Recorded in the audit log.", NULL},
    {"device allow-reenroll", "ID", 1, 1, "let a revoked device's factory identity enroll once more",
     "A revoked or decommissioned device that enrolled with a factory certificate: its\n"
     "factory identity may enroll again, once (a new device record; the old one keeps\n"
     "its id, history and revoked certificates, its serial becoming SERIAL@ID).\n"
     "Approver; recorded in the audit log.", NULL},
    {"director rotate-root", "", 0, 0, "write the next director root (new root and/or online keys)",
     "Write DIR/director/(N+1).root.json signed by the current root key (--root-key,\n"
     "a key of root N) and by the new one (--new-root-key), as TUF 1.0 section 5.3.4\n"
     "requires; with --rotate-online, new targets/snapshot/timestamp keys. Devices walk\n"
     "the root versions in order at their next check-in or update; every device's\n"
     "director metadata is re-signed with the new keys at its next fetch. Running\n"
     "servers take the new root up by themselves (copy DIR/director/ to every host).\n"
     "Recorded in the audit log. docs/server.md#keys.",
     k_rotate_opts},
    {"director status", "", 0, 0, "the director root in force and its online keys", NULL, NULL},
    {"alert import-gate", "FILE", 1, 1, "the publish gate's refusals and overrides (publish-gate.jsonl) as alerts",
     "Each record of a repository's publish-gate.jsonl (fwtrust repo publish) becomes an\n"
     "alert of rule publish-gate, recorded, audited and sent to the webhooks like the\n"
     "others; records imported before raise nothing, so run it after every publish or\n"
     "from a timer. A malformed line (exit 20, named) raises nothing.", NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};
static int (*const k_run[])(const struct fwt_cli_args *) = {
    cmd_init,        cmd_serve,  cmd_device_list,     cmd_device_show,  cmd_device_tag,   cmd_device_attr,
    cmd_device_revoke,
    cmd_assign,      cmd_assignment_list, cmd_enroll_token, cmd_admin_token, cmd_admin_cert, cmd_events, cmd_routes,
    cmd_rollout_create, cmd_rollout_approve, cmd_rollout_status, cmd_rollout_halt, cmd_rollout_resume,
    cmd_rollout_cancel, cmd_rollout_retry, cmd_device_quarantine, cmd_version_vulnerable, cmd_metrics,
    cmd_image_repo_set, cmd_image_block, cmd_image_exposure, cmd_factory_ca_add, cmd_factory_ca_list,
    cmd_factory_ca_remove, cmd_device_allow_reenroll, cmd_director_rotate, cmd_director_status,
    cmd_alert_import_gate,
};
_Static_assert(sizeof(k_run) / sizeof(k_run[0]) + 1 == sizeof(k_cmds) / sizeof(k_cmds[0]),
               "one handler per fwtrust-server command");

static const struct fwt_cli_prog k_cli = {
    .name = "fwtrust-server",
    .description = "The fleet server: device identity (fleet CA, short-lived certificates), inventory,\n"
                   "signed device manifests, an Uptane director; SQLite or PostgreSQL (docs/server.md).\n"
                   "Every command but init needs --dir DIR (or $FWTRUST_SERVER_DIR).",
    .opts = k_global,
    .cmds = k_cmds,
    .epilog = "Exit status: 0 on success, otherwise the error number (docs/exit-codes.md), e.g.\n"
              "1 usage, 2 I/O, 7 key (or not allowed), 8 not found (device, server directory),\n"
              "9 database or network unreachable, 11 state, 27 database schema too new.",
};

int main(int argc, char **argv)
{
    struct fwt_cli_args args;
    int rc = fwt_cli_parse(&k_cli, argc, argv, &args);
    if (rc >= 0) {
        return rc;
    }
    g_name = args.name;
    return k_run[args.cmd - k_cmds](&args);
}
