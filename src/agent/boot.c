/*
 * The reference bootloader's decision and measured boot (docs/bootloader.md).
 *
 * One boot control write carries the whole decision (tries decremented, bad
 * marks, booted slot), made before the hand-off; measurements are recorded
 * after it: DIR/pcr (the register after this boot, replaced atomically) and
 * DIR/eventlog.jsonl (one line per measured event, TCG-style).
 */
#include "agent_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fwtrust/fwt_attest.h>
#include <fwtrust/fwt_tpm.h>

#include <jansson.h>

static fwt_err extend(uint8_t pcr[32], const uint8_t digest[32])
{
    uint8_t buf[64];
    memcpy(buf, pcr, 32);
    memcpy(buf + 32, digest, 32);
    return fwt_sha256(buf, sizeof(buf), pcr);
}

/* Append one line to path, first dropping a line torn by a power cut. */
static fwt_err append_line(const char *dir, const char *name, const char *line)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
        return fwt_fail(FWT_E_ARG, "%s: path too long", dir);
    }
    struct stat st0;
    int existed = stat(path, &st0) == 0;
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        return fwt_fail(FWT_E_IO, "%s: %s", path, strerror(errno));
    }
    fwt_err err = FWT_OK;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err = fwt_fail(FWT_E_IO, "%s: %s", path, strerror(errno));
    } else if (st.st_size > 0) {
        char c = 0;
        if (pread(fd, &c, 1, st.st_size - 1) != 1) {
            err = fwt_fail(FWT_E_IO, "%s: cannot read", path);
        } else if (c != '\n') {
            /* Find the last newline and cut after it. */
            char buf[4096];
            off_t end = st.st_size, cut = 0;
            while (end > 0 && cut == 0) {
                off_t from = end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0;
                ssize_t r = pread(fd, buf, (size_t)(end - from), from);
                if (r != end - from) {
                    err = fwt_fail(FWT_E_IO, "%s: cannot read", path);
                    break;
                }
                for (ssize_t i = r; i > 0; i--) {
                    if (buf[i - 1] == '\n') {
                        cut = from + i;
                        break;
                    }
                }
                end = from;
            }
            if (err == FWT_OK && (fwt_f_ftruncate(fd, cut) != 0 || fwt_f_fsync(fd) != 0)) {
                err = fwt_fail(FWT_E_IO, "%s: cannot drop a torn line: %s", path,
                               strerror(errno));
            }
        }
    }
    if (err == FWT_OK) {
        size_t n = strlen(line);
        ssize_t w = fwt_f_write(fd, line, n);
        if (w != (ssize_t)n || fwt_f_fsync(fd) != 0) {
            err = fwt_fail(FWT_E_IO, "%s: append failed", path);
        }
    }
    close(fd);
    if (err == FWT_OK && !existed) {
        err = fwt_f_fsync_dir(dir);
    }
    return err;
}

static char *event_line(uint32_t boot, const char *type, const uint8_t digest[32], json_t *event)
{
    char hex[65];
    fwt_hex_encode(digest, 32, hex);
    json_t *o = json_pack("{s:I, s:i, s:s, s:[{s:s, s:s}], s:o}", "boot", (json_int_t)boot,
                          "pcr_index", 0, "event_type", type, "digests", "hash_alg", "sha256",
                          "digest", hex, "event", event);
    if (!o) {
        return NULL;
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!s) {
        return NULL;
    }
    size_t l = strlen(s);
    char *line = realloc(s, l + 2);
    if (!line) {
        free(s);
        return NULL;
    }
    line[l] = '\n';
    line[l + 1] = '\0';
    return line;
}

/* One EV_EVENT_TAG record appended to *log (grown with realloc). */
static fwt_err log_add(uint8_t **log, size_t *len, unsigned pcr, uint32_t tag,
                       const uint8_t digest[32], json_t *data)
{
    char *text = data ? json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(data);
    if (!text) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    uint8_t *rec = NULL;
    size_t rl = 0;
    fwt_err err = fwt_tcglog_event(pcr, tag, digest, (const uint8_t *)text, strlen(text), &rec,
                                   &rl);
    free(text);
    if (err != FWT_OK) {
        return err;
    }
    uint8_t *n = realloc(*log, *len + rl);
    if (!n) {
        free(rec);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    memcpy(n + *len, rec, rl);
    free(rec);
    *log = n;
    *len += rl;
    return FWT_OK;
}

/*
 * Measured boot into the TPM (docs/attestation.md): the image digest into PCR 8,
 * its signer's key hash into PCR 9, SHA-256 of device.ini into PCR 11, each
 * recorded in DIR/tpm-eventlog.bin (TCG crypto-agile format). The log is written
 * (atomically) before the extends: a cut between them leaves PCRs that a later
 * boot still finds at zero and so restarts the log; PCRs already extended since
 * the TPM's reset get the new events appended to the log that explains them.
 */
static fwt_err measure_tpm(fwt_agent *dev, struct fwt_agent_boot_result *res,
                           const uint8_t ev_image[32])
{
    const struct fwt_agent_image *img = &res->img;
    char path[PATH_MAX], cfgp[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/tpm-eventlog.bin", dev->cfg.dir) >= (int)sizeof(path) ||
        snprintf(cfgp, sizeof(cfgp), "%s/" FWT_AGENT_CONFIG_NAME, dev->cfg.dir) >=
            (int)sizeof(cfgp)) {
        return fwt_fail(FWT_E_ARG, "%s: path too long", dev->cfg.dir);
    }
    uint8_t cfg_digest[32];
    uint8_t *text = NULL;
    size_t tl = 0;
    fwt_err err = fwt_read_file(cfgp, 1U << 20, &text, &tl);
    if (err != FWT_OK) {
        return err;
    }
    err = fwt_sha256(text, tl, cfg_digest);
    free(text);
    if (err != FWT_OK) {
        return err;
    }
    fwt_tpm *t = NULL;
    if ((err = fwt_tpm_open(dev->cfg.tpm, NULL, &t)) != FWT_OK) {
        return err;
    }
    uint8_t pcrs[FWT_TPM_PCRS][32];
    static const uint8_t zero[32];
    uint8_t *log = NULL;
    size_t len = 0;
    err = fwt_tpm_pcr_read(t, FWT_PCR_MASK, pcrs);
    int fresh = err == FWT_OK && !memcmp(pcrs[FWT_PCR_IMAGE], zero, 32) &&
                !memcmp(pcrs[FWT_PCR_SIGNER], zero, 32) && !memcmp(pcrs[FWT_PCR_CONFIG], zero, 32);
    if (err == FWT_OK && fresh) {
        err = fwt_tcglog_header(&log, &len);
    } else if (err == FWT_OK) {
        err = fwt_read_file(path, FWT_EVENTLOG_MAX, &log, &len);
        if (err == FWT_E_NOT_FOUND) {
            err = fwt_fail(FWT_E_STATE, "%s is missing but the TPM's PCRs were extended since "
                           "its reset: nothing can explain them until the next reset", path);
        }
    }
    char v[48], dig[2 * FWT_DIGEST_MAX + 1], kh[65];
    fwt_version_format(&img->version, v, sizeof(v));
    fwt_hex_encode(img->digest, img->digest_len, dig);
    fwt_hex_encode(img->signer_keyhash, 32, kh);
    char slot[2] = {fwt_agent_slot_char(res->slot), 0};
    const struct fwt_hash_desc *hd = fwt_hash_by_alg(img->hash_alg);
    if (err == FWT_OK) {
        err = log_add(&log, &len, FWT_PCR_IMAGE, FWT_TAG_IMAGE, ev_image,
                      json_pack("{s:I, s:s, s:s, s:s, s:s}", "boot", (json_int_t)res->boot_count,
                                "slot", slot, "version", v, "image_digest", dig,
                                "image_hash_alg", hd ? hd->name : "sha256"));
    }
    if (err == FWT_OK) {
        err = log_add(&log, &len, FWT_PCR_SIGNER, FWT_TAG_SIGNER, img->signer_keyhash,
                      json_pack("{s:s}", "keyhash", kh));
    }
    if (err == FWT_OK) {
        err = log_add(&log, &len, FWT_PCR_CONFIG, FWT_TAG_CONFIG, cfg_digest,
                      json_pack("{s:s}", "file", FWT_AGENT_CONFIG_NAME));
    }
    if (err == FWT_OK) {
        err = fwt_f_write_atomic(path, log, len, 0644);
    }
    if (err == FWT_OK) {
        if ((err = fwt_tpm_pcr_extend(t, FWT_PCR_IMAGE, ev_image)) == FWT_OK &&
            (err = fwt_tpm_pcr_extend(t, FWT_PCR_SIGNER, img->signer_keyhash)) == FWT_OK &&
            (err = fwt_tpm_pcr_extend(t, FWT_PCR_CONFIG, cfg_digest)) == FWT_OK &&
            (err = fwt_tpm_pcr_read(t, FWT_PCR_MASK, pcrs)) == FWT_OK) {
            memcpy(res->tpm_pcrs[0], pcrs[FWT_PCR_IMAGE], 32);
            memcpy(res->tpm_pcrs[1], pcrs[FWT_PCR_SIGNER], 32);
            memcpy(res->tpm_pcrs[2], pcrs[FWT_PCR_CONFIG], 32);
            res->tpm_measured = 1;
        }
    }
    free(log);
    fwt_tpm_close(t);
    return err;
}

static fwt_err measure(fwt_agent *dev, struct fwt_agent_boot_result *res)
{
    const struct fwt_agent_image *img = &res->img;
    uint8_t ev_image[32];
    fwt_err err;
    if (img->hash_alg == FWT_HASH_SHA256 && img->digest_len == 32) {
        memcpy(ev_image, img->digest, 32);
    } else if ((err = fwt_sha256(img->digest, img->digest_len, ev_image)) != FWT_OK) {
        return err;
    }
    memset(res->pcr, 0, 32);
    if ((err = extend(res->pcr, ev_image)) != FWT_OK ||
        (err = extend(res->pcr, img->signer_keyhash)) != FWT_OK) {
        return err;
    }
    char v[48], dig[2 * FWT_DIGEST_MAX + 1], kh[65], pcr[65];
    fwt_version_format(&img->version, v, sizeof(v));
    fwt_hex_encode(img->digest, img->digest_len, dig);
    fwt_hex_encode(img->signer_keyhash, 32, kh);
    fwt_hex_encode(res->pcr, 32, pcr);
    char slot[2] = {fwt_agent_slot_char(res->slot), 0};
    const struct fwt_hash_desc *hd = fwt_hash_by_alg(img->hash_alg);
    const char *alg = hd ? hd->name : "sha256";
    char *l1 = event_line(res->boot_count, "EV_FWT_IMAGE", ev_image,
                          json_pack("{s:s, s:s, s:s, s:s, s:I}", "slot", slot, "version", v,
                                    "image_digest", dig, "image_hash_alg", alg,
                                    "security_counter", (json_int_t)img->security_counter));
    char *l2 = event_line(res->boot_count, "EV_FWT_SIGNER", img->signer_keyhash,
                          img->has_cert ? json_pack("{s:s, s:I}", "keyhash", kh, "key_version",
                                                    (json_int_t)img->key_version)
                                        : json_pack("{s:s}", "keyhash", kh));
    json_t *po = json_pack("{s:I, s:s, s:s, s:i}", "boot", (json_int_t)res->boot_count, "slot",
                           slot, "pcr0", pcr, "events", 2);
    char *ps = po ? json_dumps(po, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(po);
    if (!l1 || !l2 || !ps) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    } else {
        size_t both = strlen(l1) + strlen(l2) + 1;
        char *lines = malloc(both);
        if (!lines) {
            err = fwt_fail(FWT_E_NOMEM, "out of memory");
        } else {
            snprintf(lines, both, "%s%s", l1, l2);
            err = append_line(dev->cfg.dir, "eventlog.jsonl", lines);
            free(lines);
        }
        if (err == FWT_OK) {
            char path[PATH_MAX];
            snprintf(path, sizeof(path), "%s/pcr", dev->cfg.dir);
            err = fwt_f_write_atomic(path, ps, strlen(ps), 0644);
        }
    }
    free(l1);
    free(l2);
    free(ps);
    if (err == FWT_OK && dev->cfg.tpm) {
        err = measure_tpm(dev, res, ev_image);
    }
    return err;
}

/*
 * Does err say something about the image in the slot? Only such a verdict
 * marks a slot bad: a refusal by the verifier (20-33, except "no trust
 * anchor", which is the device's configuration) or an empty slot. Argument,
 * I/O, memory, crypto-backend, state and fault (re-check) errors say nothing
 * about the image; marking a good slot bad for them would need an image
 * reinstalled once the cause is gone.
 */
static int image_verdict(fwt_err err)
{
    switch (err) {
    case FWT_E_NOT_FOUND: /* an empty slot (a missing slot file is FWT_E_IO) */
    case FWT_E_MALFORMED:
    case FWT_E_DIGEST:
    case FWT_E_SIGNATURE:
    case FWT_E_UNSIGNED:
    case FWT_E_UNKNOWN_KEY:
    case FWT_E_HW_ID:
    case FWT_E_COUNTER:
    case FWT_E_UNSUPPORTED:
    case FWT_E_THRESHOLD:
    case FWT_E_CERT:
    case FWT_E_KEY_VERSION:
    case FWT_E_TEST_KEY:
    case FWT_E_TOO_LARGE:
        return 1;
    default:
        return 0;
    }
}

fwt_err fwt_agent_boot(fwt_agent *dev, struct fwt_agent_boot_result *res)
{
    memset(res, 0, sizeof(*res));
    res->slot = FWT_SLOT_NONE;
    if (dev->readonly) {
        return fwt_fail(FWT_E_ARG, "device opened read-only: cannot boot");
    }
    struct fwt_bootctl *bc = &dev->bc;
    const struct fwt_bootctl before = *bc; /* restored when nothing may be recorded */
    enum fwt_agent_slot order[2];
    int n = 0, trial_attempt = 0;
    if (bc->trial != FWT_SLOT_NONE) {
        enum fwt_agent_slot t = (enum fwt_agent_slot)bc->trial;
        if (bc->bad[t]) {
            bc->trial = FWT_SLOT_NONE;
            bc->tries_left = 0;
        } else if (bc->tries_left > 0) {
            bc->tries_left--; /* before the boot: a hang still uses up a try */
            order[n++] = t;
            trial_attempt = 1;
        } else {
            res->rolled_back = 1; /* never confirmed: back to the confirmed slot */
            bc->trial = FWT_SLOT_NONE;
        }
        bc->booted_trial = 0;
    }
    if (bc->confirmed != FWT_SLOT_NONE && !bc->bad[bc->confirmed] &&
        (n == 0 || order[0] != bc->confirmed)) {
        order[n++] = (enum fwt_agent_slot)bc->confirmed;
    }
    for (int s = 0; s < 2 && n < 2; s++) {
        /* Last resort: the other slot, if it holds an image the agent installed. */
        if ((n == 0 || (int)order[0] != s) && !bc->bad[s] && bc->digest_len[s] &&
            bc->trial != s) {
            order[n++] = (enum fwt_agent_slot)s;
        }
    }
    char why[2][400];
    why[0][0] = why[1][0] = '\0';
    enum fwt_agent_slot chosen = FWT_SLOT_NONE;
    fwt_err not_verdict = FWT_OK; /* the first failure that was not a verdict on an image */
    char not_verdict_why[400] = "";
    for (int i = 0; i < n; i++) {
        enum fwt_agent_slot s = order[i];
        struct fwt_agent_image img;
        fwt_err err = fwt_agent_verify_slot(dev, s, &img);
        if (err == FWT_OK && bc->digest_len[s] &&
            (bc->digest_len[s] != img.digest_len ||
             fwt_ct_compare(bc->digest[s], img.digest, img.digest_len) != 0)) {
            err = fwt_fail(FWT_E_DIGEST, "slot %c holds a different image than the one installed "
                           "there", fwt_agent_slot_char(s));
        }
        if (err == FWT_OK) {
            chosen = s;
            res->img = img;
            break;
        }
        res->failed[s] = err;
        snprintf(why[s], sizeof(why[s]), "%s", fwt_detail());
        if (!image_verdict(err)) {
            /* Configuration, I/O, memory or a fault: the slot keeps its marks; the
             * next candidate may still boot. */
            if (not_verdict == FWT_OK) {
                not_verdict = err;
                snprintf(not_verdict_why, sizeof(not_verdict_why), "%s", why[s]);
            }
            continue;
        }
        bc->bad[s] = 1;
        if (bc->trial == s) {
            bc->trial = FWT_SLOT_NONE;
            bc->tries_left = 0;
        }
    }
    char d[1024];
    if (chosen == FWT_SLOT_NONE && not_verdict != FWT_OK) {
        /* Nothing booted, and not because of the images alone: record nothing (no
         * bad mark, no try used up), so that the device boots as before once the
         * cause is fixed. */
        *bc = before;
        return fwt_fail(not_verdict, "nothing booted and nothing recorded: %s", not_verdict_why);
    }
    if (chosen == FWT_SLOT_NONE) {
        bc->booted = FWT_SLOT_NONE;
        bc->booted_trial = 0;
        fwt_err err = fwt_agent_bc_commit(dev);
        snprintf(d, sizeof(d), "no valid slot: recovery needed%s%s%s%s",
                 why[0][0] ? "; a: " : "", why[0], why[1][0] ? "; b: " : "", why[1]);
        if (err == FWT_OK && fwt_audit_append(dev->cfg.dir, "recovery", d) != FWT_OK) {
            /* the recovery message below matters more than the log line */
        }
        return fwt_fail(err == FWT_OK ? FWT_E_NO_BOOTABLE : err, "%s", d);
    }
    /* The time floor moves to the clock after a boot whose image's certificates had not
     * expired then: that bounds it (a clock running ahead of every certificate fails the
     * boot and cannot push it up). Never from FWTRUST_NOW, a test hook. */
    uint64_t now = 0, clk = 0;
    int overridden = 1;
    if (res->img.has_cert && res->img.cert_not_after != 0 &&
        fwt_agent_now(dev, &now, &clk, &overridden) == FWT_OK && !overridden) {
        uint64_t t = clk < res->img.cert_not_after ? clk : res->img.cert_not_after;
        if (t > bc->time_floor) {
            bc->time_floor = t;
        }
    }
    fwt_detail_clear();
    res->slot = chosen;
    res->fell_back = n > 0 && chosen != order[0];
    res->trial = trial_attempt && bc->trial == chosen;
    if (!res->trial && bc->confirmed != chosen &&
        (bc->confirmed == FWT_SLOT_NONE || bc->bad[bc->confirmed])) {
        bc->confirmed = (uint8_t)chosen; /* the confirmed slot failed: the fallback takes over */
    }
    bc->booted = (uint8_t)chosen;
    bc->booted_trial = (uint8_t)res->trial;
    if (bc->boot_count < UINT32_MAX) {
        bc->boot_count++;
    }
    res->boot_count = bc->boot_count;
    res->tries_left = res->trial ? bc->tries_left : 0;
    fwt_err err = fwt_agent_bc_commit(dev);
    if (err != FWT_OK) {
        return err;
    }
    err = measure(dev, res);
    if (err == FWT_OK) {
        char v[48];
        fwt_version_format(&res->img.version, v, sizeof(v));
        snprintf(d, sizeof(d), "boot %u: slot %c, version %s%s%s%s%s", (unsigned)res->boot_count,
                 fwt_agent_slot_char(chosen), v,
                 res->trial ? " (trial)" : "", res->rolled_back ? "; unconfirmed trial rolled back" : "",
                 res->fell_back ? "; fell back: " : "",
                 res->fell_back ? (why[order[0]][0] ? why[order[0]] : "preferred slot failed") : "");
        err = fwt_audit_append(dev->cfg.dir, "boot", d);
    }
    return err;
}

/* ---- checking the measurements ---- */

fwt_err fwt_event_line_parse(const char *line, size_t len, struct fwt_event_entry *e)
{
    memset(e, 0, sizeof(*e));
    if (len == 0 || len > 8192) {
        return fwt_fail(FWT_E_STATE, "event line of %zu bytes", len);
    }
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        return fwt_fail(FWT_E_STATE, "not JSON: %s", je.text);
    }
    fwt_err err = FWT_OK;
    json_t *boot = json_object_get(o, "boot"), *idx = json_object_get(o, "pcr_index");
    json_t *type = json_object_get(o, "event_type"), *ds = json_object_get(o, "digests");
    json_t *d0 = json_array_get(ds, 0);
    json_t *alg = json_object_get(d0, "hash_alg"), *dig = json_object_get(d0, "digest");
    if (!json_is_object(o) || !json_is_integer(boot) || json_integer_value(boot) < 1 ||
        json_integer_value(boot) > UINT32_MAX || !json_is_integer(idx) ||
        json_integer_value(idx) != 0 || !json_is_string(type) || !json_is_array(ds) ||
        json_array_size(ds) != 1 || !json_is_object(json_object_get(o, "event")) ||
        !json_is_string(alg) || strcmp(json_string_value(alg), "sha256") != 0 ||
        !json_is_string(dig) || fwt_hex_decode(json_string_value(dig), e->digest, 32) != FWT_OK) {
        err = fwt_fail(FWT_E_STATE, "not a measured boot event (boot, pcr_index 0, event_type, "
                       "one sha256 digest, event)");
    } else {
        e->boot = (uint32_t)json_integer_value(boot);
    }
    json_decref(o);
    return err;
}

fwt_err fwt_agent_measurements_verify(fwt_agent *dev, uint32_t *boot_out, uint8_t pcr_out[32])
{
    unsigned events;
    return fwt_agent_measurements_events(dev, boot_out, pcr_out, &events);
}

fwt_err fwt_agent_measurements_events(fwt_agent *dev, uint32_t *boot_out, uint8_t pcr_out[32], unsigned *events_out)
{
    *boot_out = 0;
    *events_out = 0;
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/pcr", dev->cfg.dir) >= (int)sizeof(path)) {
        return fwt_fail(FWT_E_ARG, "path too long");
    }
    uint8_t *text = NULL;
    size_t len = 0;
    fwt_err err = fwt_read_file(path, 4096, &text, &len);
    if (err == FWT_E_NOT_FOUND) {
        fwt_detail_clear();
        return FWT_OK; /* nothing measured yet */
    }
    if (err != FWT_OK) {
        return err;
    }
    json_error_t je;
    json_t *o = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    json_t *b = json_object_get(o, "boot"), *p = json_object_get(o, "pcr0");
    uint8_t want[32];
    if (!json_is_integer(b) || json_integer_value(b) < 1 || json_integer_value(b) > UINT32_MAX ||
        !json_is_string(p) || fwt_hex_decode(json_string_value(p), want, 32) != FWT_OK) {
        json_decref(o);
        return fwt_fail(FWT_E_STATE, "%s: not a measurement record", path);
    }
    uint32_t boot = (uint32_t)json_integer_value(b);
    json_decref(o);
    snprintf(path, sizeof(path), "%s/eventlog.jsonl", dev->cfg.dir);
    FILE *f = fopen(path, "rb");
    if (!f) {
        return fwt_fail(FWT_E_STATE, "%s: %s (the register records boot %u)", path,
                        strerror(errno), (unsigned)boot);
    }
    static char line[8194];
    uint8_t pcr[32];
    memset(pcr, 0, sizeof(pcr));
    unsigned events = 0, lineno = 0;
    for (;;) {
        size_t n = 0;
        enum fwt_line r = fwt_agent_read_line(f, line, sizeof(line), &n);
        if (r == FWT_LINE_END) {
            break;
        }
        lineno++;
        if (r == FWT_LINE_TORN) {
            break; /* a last line torn by a power cut */
        }
        struct fwt_event_entry e;
        if (r == FWT_LINE_LONG || (err = fwt_event_line_parse(line, n, &e)) != FWT_OK) {
            fclose(f);
            return fwt_fail(FWT_E_STATE, "%s: line %u: %s", path, lineno,
                            r == FWT_LINE_LONG ? "too long" : fwt_detail());
        }
        if (e.boot == boot) {
            if ((err = extend(pcr, e.digest)) != FWT_OK) {
                fclose(f);
                return err;
            }
            events++;
        }
    }
    fclose(f);
    if (events == 0 || fwt_ct_compare(pcr, want, 32) != 0) {
        return fwt_fail(FWT_E_STATE, "the event log does not replay to the measurement register "
                        "of boot %u (%u event(s) found)", (unsigned)boot, events);
    }
    *boot_out = boot;
    *events_out = events;
    if (pcr_out) {
        memcpy(pcr_out, pcr, 32);
    }
    return FWT_OK;
}
