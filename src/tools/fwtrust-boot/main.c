/*
 * fwtrust-boot: the reference bootloader, run on the host against a device
 * directory (docs/bootloader.md). Chooses a slot, verifies it with the
 * verifier core, measures it, and prints what it booted: a few lines of text
 * on a terminal (or with --text), JSON otherwise (or with --json).
 */
#include "cli.h"

#include <fwtrust/fwt_agent.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const k_prog = "fwtrust-boot";

static const char *g_device;
static int g_json, g_text;

static const struct fwt_opt k_opts[] = {
    FWT_OPT_STR_(0, "device", "DIR", &g_device, "the device directory (required)"),
    FWT_OPT_FLAG_(0, "json", &g_json, "JSON output (the default when stdout is not a\nterminal)"),
    FWT_OPT_FLAG_(0, "text", &g_text, "text for people (the default on a terminal)"),
    FWT_OPT_END_,
};

static const struct fwt_cli_prog k_cli = {
    .name = k_prog,
    .operands = "",
    .description =
        "The reference secure bootloader. It boots the trial slot while it has tries left\n"
        "(one try is used up before the boot), else the confirmed slot; verifies the image\n"
        "with the verifier core (signature or certificate chain, hardware id, security\n"
        "counter and key version against the stored minimums); marks a slot bad only for\n"
        "a verdict on its image (exit codes 20-33 but 31, or an empty slot) and falls back\n"
        "to the other one. A trial that was never confirmed rolls back once\n"
        "its tries are used up. The booted image is measured: its digest and signer key\n"
        "hash extend a SHA-256 register (DIR/pcr) and are appended to the event log\n"
        "(DIR/eventlog.jsonl). Prints what it booted on stdout: a few lines of text on\n"
        "a terminal (--text), JSON when stdout is a pipe or file (--json), so scripts\n"
        "read the same JSON as before.\n\n"
        "With no valid slot it enters RECOVERY: says so on stderr, prints the JSON with\n"
        "\"recovery\": true (or, as text, why each slot failed) and exits 50.\n\n"
        "When nothing boots for another reason (I/O, a missing slot file, memory, a fault\n"
        "refused by the re-check, no trust anchor) nothing is recorded: no slot is marked\n"
        "bad, no try is used up; it exits with that error's code.",
    .opts = k_opts,
    .epilog = "Exit: 0 booted; 1 usage or device.ini error (line named); 2 I/O; 5 fault;\n"
              "8 not a device; 10 device locked; 11 state corrupt; 31 no trust anchor;\n"
              "50 no valid slot (recovery).",
};

static json_t *hex(const uint8_t *b, size_t n)
{
    char h[2 * FWT_DIGEST_MAX + 1];
    if (n > FWT_DIGEST_MAX) {
        return json_null();
    }
    fwt_hex_encode(b, n, h);
    return json_string(h);
}

static json_t *slot_json(enum fwt_agent_slot s)
{
    return s == FWT_SLOT_A ? json_string("a") : s == FWT_SLOT_B ? json_string("b") : json_null();
}

static json_t *failed_json(const struct fwt_agent_boot_result *r)
{
    json_t *o = json_object();
    for (int i = 0; i < 2; i++) {
        if (r->failed[i] != FWT_OK) {
            json_object_set_new(o, i ? "b" : "a", json_string(fwt_err_name(r->failed[i])));
        }
    }
    return o;
}

/* Why each slot was passed over, as text: "slot b: bad signature (FWT_E_SIG)". */
static void print_failed(const struct fwt_agent_boot_result *r)
{
    for (int i = 0; i < 2; i++) {
        if (r->failed[i] != FWT_OK) {
            printf("  slot %c refused: %s (%s)\n", 'a' + i, fwt_strerror(r->failed[i]), fwt_err_name(r->failed[i]));
        }
    }
}

static void print_text(const struct fwt_agent_boot_result *r, const char *version)
{
    const struct fwt_agent_image *img = &r->img;
    printf("booted slot %c: version %s", r->slot == FWT_SLOT_A ? 'a' : 'b', version);
    if (img->has_security_counter) {
        printf(", security counter %u", (unsigned)img->security_counter);
    }
    if (r->trial) {
        printf(", on TRIAL (%u tries left): confirm it with fwtrust-agent confirm\n", (unsigned)r->tries_left);
    } else {
        printf(", confirmed\n");
    }
    if (r->rolled_back) {
        printf("  the trial image used up its tries without a confirm: rolled back\n");
    }
    if (r->fell_back) {
        printf("  fell back to the other slot\n");
    }
    print_failed(r);
    char kh[2 * 32 + 1];
    fwt_hex_encode(img->signer_keyhash, 8, kh);
    printf("  signer key %s...", kh);
    if (img->has_cert) {
        printf(" (certificate, key version %u)", (unsigned)img->key_version);
    }
    fwt_hex_encode(r->pcr, 32, kh);
    printf("; boot %u, measured: pcr0 %s\n", (unsigned)r->boot_count, kh);
}

int main(int argc, char **argv)
{
    struct fwt_cli_args args;
    int rc = fwt_cli_parse(&k_cli, argc, argv, &args);
    if (rc >= 0) {
        return rc;
    }
    const char *device = g_device;
    if (!device) {
        return fwt_cli_usage_error(k_prog, "--device DIR is required");
    }
    if (g_json && g_text) {
        return fwt_cli_usage_error(k_prog, "--json and --text exclude each other");
    }
    if (!g_json && !g_text) {
        g_json = !isatty(STDOUT_FILENO);
    }
    fwt_agent *dev = NULL;
    fwt_err err = fwt_agent_open(device, &dev);
    if (err != FWT_OK) {
        if (g_json) {
            fwt_cli_json_print(fwt_cli_json_error(err));
        }
        return fwt_cli_error(k_prog, err);
    }
    struct fwt_agent_boot_result r;
    err = fwt_agent_boot(dev, &r);
    fwt_agent_close(dev);
    if (err != FWT_OK) {
        if (g_json) {
            json_t *j = fwt_cli_json_error(err);
            json_object_set_new(j, "recovery", json_boolean(err == FWT_E_NO_BOOTABLE));
            json_object_set_new(j, "failed", failed_json(&r));
            json_object_set_new(j, "rolled_back", json_boolean(r.rolled_back));
            fwt_cli_json_print(j);
        } else if (err == FWT_E_NO_BOOTABLE) {
            printf("nothing booted%s\n", r.rolled_back ? " (a trial used up its tries and was rolled back)" : "");
            print_failed(&r);
        }
        if (err == FWT_E_NO_BOOTABLE) {
            fprintf(stderr, "%s: RECOVERY: no slot holds a valid image for this device; "
                    "install one (fwtrust-agent install) to leave recovery\n", k_prog);
        }
        return fwt_cli_error(k_prog, err);
    }
    const struct fwt_agent_image *img = &r.img;
    char v[48];
    fwt_version_format(&img->version, v, sizeof(v));
    if (!g_json) {
        print_text(&r, v);
        return 0;
    }
    json_t *j = json_object();
    json_object_set_new(j, "ok", json_true());
    json_object_set_new(j, "slot", slot_json(r.slot));
    json_object_set_new(j, "trial", json_boolean(r.trial));
    json_object_set_new(j, "tries_left", json_integer(r.tries_left));
    json_object_set_new(j, "rolled_back", json_boolean(r.rolled_back));
    json_object_set_new(j, "fell_back", json_boolean(r.fell_back));
    json_object_set_new(j, "failed", failed_json(&r));
    json_object_set_new(j, "version", json_string(v));
    json_object_set_new(j, "security_counter",
                        img->has_security_counter ? json_integer(img->security_counter)
                                                  : json_null());
    json_object_set_new(j, "digest", hex(img->digest, img->digest_len));
    json_object_set_new(j, "signer_keyhash", hex(img->signer_keyhash, 32));
    json_object_set_new(j, "key_version",
                        img->has_cert ? json_integer(img->key_version) : json_null());
    json_object_set_new(j, "boot", json_integer(r.boot_count));
    json_object_set_new(j, "pcr0", hex(r.pcr, 32));
    /* A device without a TPM has only the file register: lower assurance (nothing
     * outside the device's own files vouches for it). */
    json_object_set_new(j, "measured_boot", json_string(r.tpm_measured ? "tpm" : "file"));
    if (r.tpm_measured) {
        json_object_set_new(j, "tpm_pcrs", json_pack("{s:o, s:o, s:o}", "8", hex(r.tpm_pcrs[0], 32),
                                                     "9", hex(r.tpm_pcrs[1], 32), "11",
                                                     hex(r.tpm_pcrs[2], 32)));
    }
    fwt_cli_json_print(j);
    return 0;
}
