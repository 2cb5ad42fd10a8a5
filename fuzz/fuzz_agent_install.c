/*
 * libFuzzer target: the streaming install (fwt_agent_install_begin/write/
 * finish), structure-aware. At start-up a key, a valid signed image V and a
 * device (V confirmed in slot a) are made in a scratch directory. Each input
 * is an edit script: byte 0 holds flags and a chunking seed (odd: the block
 * API with its helper threads, even: the streaming API), then 4-byte
 * records patch the streamed image (kind odd) or, "behind the writer", the
 * slot after the last write (kind even). The oracle:
 *   - an accepted install leaves in the slot exactly the streamed bytes, which
 *     verify with the device's policy; or, when bytes were changed behind the
 *     writer, they differ only inside the payload, and the slot's verification
 *     (what the bootloader runs before a boot) fails with FWT_E_DIGEST; with
 *     READBACK_FULL no difference at all is accepted;
 *   - a refused install leaves the slot marked bad and nothing on trial.
 */
#include "agent/agent_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IMG 8192U

static char g_dir[256];
static fwt_agent *g_dev;
static uint8_t g_v[MAX_IMG];
static size_t g_vlen;
static unsigned long g_iter;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_agent_install: set-up failed: %s: %s\n", what, fwt_detail());
    abort();
}

static void cleanup(void)
{
    if (g_dev) {
        fwt_agent_close(g_dev);
        g_dev = NULL;
    }
    char cmd[300];
    if (g_dir[0] && !strchr(g_dir, '\'')) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "fuzz_agent_install: could not remove %s\n", g_dir);
        }
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    atexit(cleanup);
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(g_dir, sizeof(g_dir), "%s/fwt-fuzz-install-XXXXXX", base);
    if (!mkdtemp(g_dir)) {
        die("mkdtemp");
    }
    char key[300], raw[300], img[300], dev[300], a[300], b[300];
    snprintf(key, sizeof(key), "%s/k.pem", g_dir);
    snprintf(raw, sizeof(raw), "%s/payload.bin", g_dir);
    snprintf(img, sizeof(img), "%s/v.bin", g_dir);
    snprintf(dev, sizeof(dev), "%s/dev", g_dir);
    snprintf(a, sizeof(a), "%s/a.bin", g_dir);
    snprintf(b, sizeof(b), "%s/b.bin", g_dir);
    if (fwt_keygen_file(FWT_KEY_ED25519, key, NULL) != FWT_OK) {
        die("keygen");
    }
    FILE *f = fopen(raw, "wb");
    if (!f) {
        die("payload");
    }
    for (int i = 0; i < 3000; i++) {
        fputc((i * 7) & 0xff, f);
    }
    fclose(f);
    struct fwt_sign_opts o;
    memset(&o, 0, sizeof(o));
    if (fwt_version_parse("1.0.0", &o.version) != FWT_OK) {
        die("version");
    }
    o.header_size = 0x100;
    o.pad_header = 1;
    o.align = 1;
    o.erased_val = 0xff;
    o.has_security_counter = 1;
    o.security_counter = 1;
    o.hw_id = (const uint8_t *)"hw1";
    o.hw_id_len = 3;
    o.write_format_tlv = 1;
    if (fwt_privkey_load(key, NULL, &o.keys[0]) != FWT_OK) {
        die("key");
    }
    o.n_keys = 1;
    if (fwt_sign_file(raw, img, &o) != FWT_OK) {
        die("sign");
    }
    fwt_privkey_free(o.keys[0]);
    uint8_t *v = NULL;
    if (fwt_read_file(img, MAX_IMG, &v, &g_vlen) != FWT_OK) {
        die("read image");
    }
    memcpy(g_v, v, g_vlen);
    free(v);
    struct fwt_agent_init_opts io;
    memset(&io, 0, sizeof(io));
    io.hw_id = "hw1";
    io.slot_path[0] = a;
    io.slot_path[1] = b;
    io.keys[0] = key;
    io.n_keys = 1;
    struct fwt_agent_boot_result r;
    if (fwt_agent_init(dev, &io) != FWT_OK || fwt_agent_open(dev, &g_dev) != FWT_OK ||
        fwt_agent_install_file(g_dev, img, 0, NULL, NULL, NULL) != FWT_OK ||
        fwt_agent_boot(g_dev, &r) != FWT_OK || fwt_agent_confirm(g_dev, NULL) != FWT_OK) {
        die("device");
    }
    return 0;
}

static size_t rd16(const uint8_t *p)
{
    return (size_t)p[0] | ((size_t)p[1] << 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) {
        return 0;
    }
    if (++g_iter % 4096 == 0) {
        /* Keeps the scratch space small; the chain is not under test here. The log and its
         * anchor in the device state go together (a log removed under its anchor is
         * tampering, which the agent refuses to write past). */
        static const char *const files[] = {"audit.log", "audithead.0", "audithead.1"};
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
            char p[320];
            snprintf(p, sizeof(p), "%s/dev/%s", g_dir, files[i]);
            unlink(p);
        }
    }
    unsigned flags = data[0];
    static uint8_t e[MAX_IMG];
    memcpy(e, g_v, g_vlen);
    size_t elen = g_vlen;
    if (flags & 4U) {
        elen = rd16(data + 1) % (g_vlen + 1);
    }
    size_t nrec = (size - 3) / 4;
    for (size_t i = 0; i < nrec; i++) {
        const uint8_t *r = data + 3 + 4 * i;
        if ((r[0] & 1U) && elen > 0) {
            e[rd16(r + 1) % elen] = r[3];
        }
    }
    unsigned iflags = (flags & 2U) ? FWT_AGENT_INSTALL_READBACK_FULL : 0U;
    fwt_agent_install *inst = NULL;
    if (fwt_agent_install_begin(g_dev, (flags & 1U) ? elen : 0, iflags, &inst) != FWT_OK) {
        abort(); /* slot b is always installable here */
    }
    size_t off = 0, step = 1U + (flags >> 4) * 97U;
    int blocks = (flags >> 4) & 1U;
    fwt_err err = FWT_OK;
    while (err == FWT_OK && off < elen) {
        size_t n = elen - off < step ? elen - off : step;
        /* e stays untouched until the install ends, as the block API asks. */
        err = blocks ? fwt_agent_install_write_block(inst, e + off, n)
                     : fwt_agent_install_write(inst, e + off, n);
        off += n;
        step = 1U + (step * 5U + 3U) % 2048U;
    }
    if (err == FWT_OK && blocks) {
        err = fwt_agent_install_drain(inst); /* the last write landed before the pokes */
    }
    const char *slot = fwt_agent_get_config(g_dev)->slot_path[FWT_SLOT_B];
    int behind = 0;
    if (err == FWT_OK && (flags & 8U) && elen > 0) {
        int fd = open(slot, O_WRONLY);
        if (fd < 0) {
            abort();
        }
        for (size_t i = 0; i < nrec; i++) {
            const uint8_t *r = data + 3 + 4 * i;
            if (!(r[0] & 1U)) {
                size_t at = rd16(r + 1) % elen;
                if (pwrite(fd, r + 3, 1, (off_t)at) != 1) {
                    abort();
                }
                behind = 1;
            }
        }
        close(fd);
    }
    if (err != FWT_OK) {
        fwt_agent_install_abort(inst);
    } else {
        err = fwt_agent_install_finish(inst, NULL);
    }
    struct fwt_agent_status st;
    if (fwt_agent_status_get(g_dev, &st) != FWT_OK) {
        abort();
    }
    if (err != FWT_OK) {
        if (st.trial != FWT_SLOT_NONE || !st.bad[FWT_SLOT_B]) {
            abort(); /* a refusal must leave nothing bootable behind */
        }
        return 0;
    }
    if (st.trial != FWT_SLOT_B || st.bad[FWT_SLOT_B]) {
        abort();
    }
    /* Accepted: compare the slot with the stream. */
    uint8_t *s = NULL;
    size_t slen = 0;
    if (fwt_read_file(slot, MAX_IMG + 1, &s, &slen) != FWT_OK || slen != elen) {
        abort();
    }
    struct fwt_image_header h;
    if (elen < 32 || fwt_header_decode(e, &h) != FWT_OK) {
        abort(); /* an accepted stream is an image */
    }
    size_t pay_from = h.hdr_size, pay_to = (size_t)h.hdr_size + h.img_size;
    int differs = 0;
    for (size_t i = 0; i < elen; i++) {
        if (s[i] != e[i]) {
            differs = 1;
            if (i < pay_from || i >= pay_to || (iflags & FWT_AGENT_INSTALL_READBACK_FULL)) {
                abort(); /* a changed header or TLV byte (or any byte, read back in full) */
            }
        }
    }
    free(s);
    if (differs && !behind) {
        abort();
    }
    struct fwt_agent_image img;
    fwt_err vr = fwt_agent_verify_slot(g_dev, FWT_SLOT_B, &img);
    if (differs ? vr != FWT_E_DIGEST : vr != FWT_OK) {
        abort(); /* the bootloader's verification disagrees with the install */
    }
    return 0;
}
