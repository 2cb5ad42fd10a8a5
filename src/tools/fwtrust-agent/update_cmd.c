/*
 * fwtrust-agent update: the network update's options, help, progress and
 * output (docs/updates.md); the update is fwt_agent_update() (src/agent/update.c).
 */
#include "update_cmd.h"

#include <fwtrust/fwt_delta.h>

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_prog = "fwtrust-agent update";

static void update_usage(FILE *out)
{
    fprintf(out,
            "usage: fwtrust-agent --device DIR [--json] update [--target NAME] [--no-delta] [--check]\n"
            "                     [--force]\n\n"
            "Refresh the device's TUF metadata from its repository ([update] repo, over the\n"
            "configured TLS: CA file, pinned public key, client certificate), choose the newest\n"
            "image for this hardware id whose version and security counter are not lower than\n"
            "the running image's, and stream it into the inactive slot: a patch against the\n"
            "running image when one is published for exactly its bytes, else a zstd-compressed\n"
            "or the full image. The download is checked against the TUF length and hashes, the\n"
            "decoded image against its SHA-256 in the target's metadata, then the image itself\n"
            "by the verifier core; only then is the slot marked for a trial boot. The running\n"
            "slot is never written. A release whose trial ended without a confirm on this\n"
            "device (the last %u are remembered; 'status' shows them) is not offered again,\n"
            "nor is an image its metadata shows signed for other keys (verified_signers).\n"
            "Only the roles that can hold [update] targets are loaded. docs/updates.md.\n\n"
            "  --target NAME  install this target (a patch whose base does not match falls back\n"
            "                 to the full image of the same release)\n"
            "  --no-delta     never use a patch\n"
            "  --check        refresh and report what would be installed; download nothing\n"
            "  --force        offer (or install, with --target) a release that rolled back here\n"
            "  --json         print the result as JSON\n"
            "  -h, --help     this text\n\n"
            "Exit status (docs/exit-codes.md): 0 installed (or --check found an update); 51 no\n"
            "newer image (or the target is older than the running one, or rolled back here); 9 network/TLS failure;\n"
            "33 a download ran past its length; 40-44 TUF metadata refused (44: a target's\n"
            "length or hash differs); 20-31 image refused by the verifier (22 bad signature,\n"
            "24 unknown key, 25 other hardware, 26 security counter too low); 31 no trust\n"
            "anchor or TUF root; 10 another agent runs; 11 the running slot is on trial.\n",
            FWT_AGENT_FAILED_MAX);
}

static void print_error(fwt_err err, int json)
{
    if (json) {
        json_t *o = json_pack("{s:b, s:s, s:s, s:s, s:i}", "ok", 0, "error", fwt_err_name(err),
                              "message", fwt_strerror(err), "detail", fwt_detail(), "exit_code",
                              (int)err);
        char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        if (s) {
            printf("%s\n", s);
        }
        free(s);
        json_decref(o);
    }
    const char *d = fwt_detail();
    fprintf(stderr, "%s: error: %s (%s)%s%s\n", k_prog, fwt_strerror(err), fwt_err_name(err),
            d[0] ? ": " : "", d);
}

/* The download's progress through the shared routine (cli.h): "download  45% 120/256 KiB". */
static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct fwt_progress *p = ctx;
    p->total = total;
    fwt_progress_update(p, done);
}

/*
 * The options of `update` into o (and *json); -1 to go on, else the exit code
 * (0 after --help).
 */
static int update_parse_args(int argc, char **argv, struct fwt_agent_update_opts *o, int *json)
{
    static const struct option opts[] = {{"target", required_argument, NULL, 't'},
                                         {"no-delta", no_argument, NULL, 'n'},
                                         {"check", no_argument, NULL, 'c'},
                                         {"force", no_argument, NULL, 'f'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            o->target = optarg;
            break;
        case 'n':
            o->no_delta = 1;
            break;
        case 'c':
            o->check_only = 1;
            break;
        case 'f':
            o->force = 1;
            break;
        case 'j':
            *json = 1;
            break;
        case 'h':
            update_usage(stdout);
            return 0;
        default:
            fprintf(stderr, "%s: unknown option or missing argument near '%s'\nTry '%s --help'.\n",
                    k_prog, optind > 0 && optind <= argc ? argv[optind - 1] : "", k_prog);
            return FWT_E_ARG;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\nTry '%s --help'.\n", k_prog, argv[optind],
                k_prog);
        return FWT_E_ARG;
    }
    return -1;
}

int agent_update_main(fwt_agent *dev, int argc, char **argv, int json)
{
    struct fwt_agent_update_opts o;
    memset(&o, 0, sizeof(o));
    int rc = update_parse_args(argc, argv, &o, &json);
    if (rc >= 0) {
        return rc;
    }
    if (!dev) {
        update_usage(stdout);
        return 0;
    }
    struct fwt_progress pr;
    fwt_progress_start(&pr, "download", 0);
    o.progress = on_progress;
    o.progress_ctx = &pr;
    struct fwt_agent_update_result *res = calloc(1, sizeof(*res));
    if (!res) {
        print_error(fwt_fail(FWT_E_NOMEM, "out of memory"), json);
        return FWT_E_NOMEM;
    }
    fwt_err err = fwt_agent_update(dev, &o, res);
    fwt_progress_finish(&pr);
    struct fwt_agent_status st;
    memset(&st, 0, sizeof(st));
    if (err == FWT_OK && !o.check_only) {
        err = fwt_agent_status_get(dev, &st);
    }
    if (err != FWT_OK) {
        print_error(err, json);
        free(res);
        return (int)err;
    }
    if (json) {
        json_t *out = json_pack("{s:b, s:s, s:s, s:I, s:I, s:s, s:b, s:b}", "ok", 1, "target",
                                res->target, "encoding", res->encoding, "downloaded",
                                (json_int_t)res->downloaded, "image_length",
                                (json_int_t)res->image_length, "version", res->version,
                                "delta_skipped", res->delta_skipped, "installed", !o.check_only);
        if (out) {
            json_object_set_new(out, "previous_version",
                                res->had_running ? json_string(res->running_version) : json_null());
            json_object_set_new(out, "note", res->note[0] ? json_string(res->note) : json_null());
            if (!o.check_only) {
                char sl[2] = {fwt_agent_slot_char(res->img.slot), 0};
                char dg[2 * FWT_DIGEST_MAX + 1];
                fwt_hex_encode(res->img.digest, res->img.digest_len, dg);
                json_object_set_new(out, "slot", json_string(sl));
                json_object_set_new(out, "tries", json_integer(st.tries_left));
                json_object_set_new(out, "digest", json_string(dg));
            }
            char *s = json_dumps(out, JSON_INDENT(2) | JSON_SORT_KEYS);
            if (s) {
                printf("%s\n", s);
            }
            free(s);
            json_decref(out);
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
        if (res->delta_skipped && res->note[0]) {
            printf("  no patch used: %s\n", res->note);
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
