/*
 * fwtrust-agent update: the network update's options, help, progress and
 * output (docs/updates.md); the update is fwt_agent_update() (src/agent/update.c).
 */
#include "update_cmd.h"

#include <fwtrust/fwt_delta.h>
#include <fwtrust/fwt_fleet.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fwt_agent_update_opts g_agent_update;
static const char *g_director_url, *g_director_root, *g_device_id;
static int g_no_director;

_Static_assert(FWT_AGENT_FAILED_MAX == 8, "AGENT_UPDATE_DESC says the last 8 are remembered");

const struct fwt_opt k_agent_update_opts[] = {
    FWT_OPT_STR_(0, "target", "NAME", &g_agent_update.target,
                 "install this target (a patch whose base does not\n"
                 "match falls back to the full image of the same\n"
                 "release)"),
    FWT_OPT_FLAG_(0, "no-delta", &g_agent_update.no_delta, "never use a patch"),
    FWT_OPT_FLAG_(0, "check", &g_agent_update.check_only,
                  "refresh and report what would be installed;\ndownload nothing"),
    FWT_OPT_FLAG_(0, "force", &g_agent_update.force,
                  "offer (or install, with --target) a release that\nrolled back here"),
    FWT_OPT_STR_(0, "director", "URL", &g_director_url,
                 "Uptane: install only what the director at URL\n"
                 "(its metadata base URL) assigns to this device,\n"
                 "checked against the image repository (default\n"
                 "with [fleet]: SERVER/v1/director/)"),
    FWT_OPT_STR_(0, "director-root", "FILE", &g_director_root,
                 "the director's trusted root.json (default:\n[fleet] director_root)"),
    FWT_OPT_STR_(0, "device-id", "ID", &g_device_id, "this device's fleet id (default: [fleet]\ndevice_id)"),
    FWT_OPT_FLAG_(0, "no-director", &g_no_director,
                  "update from the image repository alone even\nwhen [fleet] is configured"),
    FWT_OPT_END_,
};

/* The download's progress through the shared routine (cli.h): "download  45% 120/256 KiB". */
static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct fwt_progress *p = ctx;
    p->total = total;
    fwt_progress_update(p, done);
}

/* A progress report to the fleet server; a report that cannot be sent is said, not fatal
 * (the next check-in's manifest carries the device state anyway). */
struct reporter {
    fwt_agent *dev;
    const char *name;
};

static void send_report(const struct reporter *r, const char *target, int state, int error, const char *reason)
{
    char keep[1024];
    snprintf(keep, sizeof(keep), "%s", fwt_detail());
    fwt_err err = fwt_agent_report(r->dev, target, state, error, reason);
    if (err != FWT_OK) {
        fprintf(stderr, "%s: note: report '%s' not sent: %s (%s)\n", r->name, fwt_fleet_state_name(state),
                fwt_detail(), fwt_err_name(err));
    }
    fwt_detail_clear();
    if (keep[0]) {
        (void)fwt_fail(FWT_E_INTERNAL, "%s", keep); /* the update's detail, for its error line */
    }
}

static void on_state(void *ctx, int state, const char *target)
{
    send_report(ctx, target, state, 0, "download started");
}

static int fail(const char *name, fwt_err err, int json)
{
    if (json) {
        fwt_cli_json_print(fwt_cli_json_error(err));
    }
    int rc = fwt_cli_error(name, err);
    fwt_cli_tuf_expiry_hint(name, err);
    /* the device's TLS settings: [update] in DIR/device.ini, set by init */
    fwt_cli_tls_hint(name, "[update] ca in DIR/device.ini (fwtrust-agent init --ca FILE)",
                     "[update] pinned_pubkey (init --pinned-pubkey)",
                     "[update] client_cert and client_key (init --client-cert, --client-key)");
    return rc;
}

int agent_update_run(fwt_agent *dev, const char *name, int json)
{
    struct fwt_agent_update_opts o = g_agent_update;
    const struct fwt_agent_config *cfg = fwt_agent_get_config(dev);
    struct fwt_agent_director dir;
    char durl[2048];
    memset(&dir, 0, sizeof(dir));
    if (g_no_director && (g_director_url || g_director_root || g_device_id)) {
        return fail(name, fwt_fail(FWT_E_ARG, "--no-director with director options"), json);
    }
    if (!g_no_director && (g_director_url || cfg->fleet_server)) {
        if (g_director_url) {
            snprintf(durl, sizeof(durl), "%s", g_director_url);
        } else {
            size_t sl = strlen(cfg->fleet_server);
            int n = snprintf(durl, sizeof(durl), "%s%sv1/director/", cfg->fleet_server,
                             sl && cfg->fleet_server[sl - 1] == '/' ? "" : "/");
            if (n < 0 || (size_t)n >= sizeof(durl)) {
                return fail(name, fwt_fail(FWT_E_ARG, "[fleet] server URL too long"), json);
            }
            dir.transport.ca_file = cfg->fleet_ca;
            dir.transport.client_cert = cfg->fleet_cert;
            dir.transport.client_key = cfg->fleet_key;
        }
        dir.metadata_url = durl;
        dir.root = g_director_root ? g_director_root : cfg->fleet_director_root;
        dir.device_id = g_device_id ? g_device_id : cfg->fleet_device_id;
        if (!dir.root || !dir.device_id) {
            return fail(name, fwt_fail(FWT_E_ARG, "--director needs --director-root and --device-id (or an "
                                       "enrolled device: [fleet])"), json);
        }
        o.director = &dir;
    }
    /* An enrolled device updating through its server's director reports its progress. */
    struct reporter rep = {dev, name};
    int reporting = o.director && !g_director_url && cfg->fleet_server;
    if (reporting) {
        o.on_state = on_state;
        o.state_ctx = &rep;
    }
    struct fwt_progress pr;
    fwt_progress_start(&pr, "download", 0);
    o.progress = on_progress;
    o.progress_ctx = &pr;
    struct fwt_agent_update_result *res = calloc(1, sizeof(*res));
    if (!res) {
        return fail(name, fwt_fail(FWT_E_NOMEM, "out of memory"), json);
    }
    fwt_err err = fwt_agent_update(dev, &o, res);
    fwt_progress_finish(&pr);
    struct fwt_agent_status st;
    memset(&st, 0, sizeof(st));
    if (err == FWT_OK && !o.check_only) {
        err = fwt_agent_status_get(dev, &st);
    }
    if (reporting && !o.check_only && err != FWT_E_NO_UPDATE) {
        char reason[600];
        int rstate = FWT_FLEET_INSTALLED_TRIAL;
        if (err == FWT_OK) {
            snprintf(reason, sizeof(reason), "version %s installed into slot %c for a trial boot", res->version,
                     fwt_agent_slot_char(res->img.slot));
        } else {
            snprintf(reason, sizeof(reason), "%s", fwt_detail());
            rstate = res->refused || (err >= FWT_E_MALFORMED && err <= FWT_E_META_MISMATCH) ? FWT_FLEET_REFUSED
                                                                                             : FWT_FLEET_FAILED;
        }
        send_report(&rep, res->target, rstate, (int)err, reason);
        if (err != FWT_OK) {
            (void)fwt_fail(err, "%s", reason);
        }
    }
    if (err != FWT_OK) {
        free(res);
        int rc = fail(name, err, json);
        if (!cfg->tuf_root || !cfg->repo_url) {
            fwt_cli_hint(name, "this device has no repository: give it one with 'fwtrust-agent init ... --repo URL "
                         "--tuf-root ROOT.json' (ROOT.json: the repository's metadata/1.root.json), or set [update] "
                         "repo and tuf_root in %s/device.ini", cfg->dir);
        }
        return rc;
    }
    if (json) {
        json_t *out = json_pack("{s:b, s:s, s:s, s:I, s:I, s:s, s:b, s:b}", "ok", 1, "target",
                                res->target, "encoding", res->encoding, "downloaded",
                                (json_int_t)res->downloaded, "image_length",
                                (json_int_t)res->image_length, "version", res->version,
                                "delta_skipped", res->delta_skipped, "installed", !o.check_only);
        if (out && o.director) {
            json_object_set_new(out, "director", json_pack("{s:I,s:I}", "release_counter",
                                                           (json_int_t)res->release_counter, "targets_version",
                                                           (json_int_t)res->director_version));
        }
        if (out) {
            json_object_set_new(out, "previous_version",
                                res->had_running ? json_string(res->running_version) : json_null());
            json_object_set_new(out, "note", res->note[0] ? json_string(res->note) : json_null());
            json_object_set_new(out, "window_fallback", json_boolean(res->window_fallback));
            json_object_set_new(out, "revocation_version", json_integer((json_int_t)res->revocation_version));
            json_object_set_new(out, "revocation_updated", json_boolean(res->revocation_updated));
            if (!o.check_only) {
                char sl[2] = {fwt_agent_slot_char(res->img.slot), 0};
                char dg[2 * FWT_DIGEST_MAX + 1];
                fwt_hex_encode(res->img.digest, res->img.digest_len, dg);
                json_object_set_new(out, "slot", json_string(sl));
                json_object_set_new(out, "tries", json_integer(st.tries_left));
                json_object_set_new(out, "digest", json_string(dg));
            }
            fwt_cli_json_print(out);
        }
    } else {
        const char *how = !strcmp(res->encoding, FWT_ENC_BSDIFF2) ? "bsdiff2 patch"
                          : !strcmp(res->encoding, FWT_ENC_BSDIFF) ? "bsdiff patch"
                          : !strcmp(res->encoding, FWT_ENC_PATCH) ? "zstd patch"
                          : !strcmp(res->encoding, FWT_ENC_ZSTD) ? "zstd-compressed"
                                                                 : "full image";
        printf("%s: %s (%s, %llu bytes for a %llu byte image)\n",
               o.check_only ? "update available" : "downloaded", res->target, how,
               (unsigned long long)res->downloaded, (unsigned long long)res->image_length);
        if (res->revocation_updated) {
            printf("revocation list version %llu fetched and in force\n",
                   (unsigned long long)res->revocation_version);
        }
        if (res->delta_skipped && res->note[0]) {
            printf("  no patch used: %s\n", res->note);
        } else if (res->note[0]) {
            printf("  note: %s\n", res->note);
        }
        if (o.check_only) {
            printf("  version %s (running %s)\n", res->version,
                   res->had_running ? res->running_version : "nothing");
        } else {
            printf("installed version %s into slot %c for a trial boot (%u tries)", res->version,
                   fwt_agent_slot_char(res->img.slot), (unsigned)st.tries_left);
            if (res->had_running) {
                printf("; the running %s is unchanged", res->running_version);
            }
            printf(". Boot, then confirm.\n");
        }
    }
    free(res);
    return 0;
}
