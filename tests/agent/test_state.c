/*
 * Unit tests of the agent's persistent formats: redundant state records (torn
 * and corrupt copies), boot control and anti-rollback encodings, the file
 * backend's monotonic raise, the INI reader and device configuration, the
 * audit log chain (tampering, torn tail).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "scratch.h"

#include "agent_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>


static void path_of(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", ts_dir, name);
}

static void write_bytes(const char *name, const void *b, size_t n)
{
    char p[300];
    path_of(p, sizeof(p), name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static size_t read_bytes(const char *name, uint8_t *b, size_t n)
{
    char p[300];
    path_of(p, sizeof(p), name);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    size_t r = fread(b, 1, n, f);
    fclose(f);
    return r;
}

/* ---- records ---- */

static void test_rec_roundtrip_and_alternation(void **state)
{
    (void)state;
    struct fwt_rec_info info;
    uint8_t p[16], out[16];
    memset(&info, 0, sizeof(info));
    assert_int_equal(fwt_rec_read(ts_dir, "r", 7, out, sizeof(out), &info), FWT_E_NOT_FOUND);
    memset(&info, 0, sizeof(info));
    for (int i = 1; i <= 5; i++) {
        memset(p, i, sizeof(p));
        assert_int_equal(fwt_rec_write(ts_dir, "r", 7, p, sizeof(p), &info), FWT_OK);
        assert_int_equal(info.seq, (uint64_t)i);
        struct fwt_rec_info ri;
        assert_int_equal(fwt_rec_read(ts_dir, "r", 7, out, sizeof(out), &ri), FWT_OK);
        assert_memory_equal(out, p, sizeof(p));
        assert_int_equal(ri.seq, (uint64_t)i);
        /* Writes alternate: the previous record stays in the other copy. */
        assert_int_equal(ri.which, (i - 1) & 1);
        if (i > 1) {
            assert_true(ri.valid[0] && ri.valid[1]);
        }
    }
}

static void test_rec_torn_copy_ignored(void **state)
{
    (void)state;
    struct fwt_rec_info info;
    memset(&info, 0, sizeof(info));
    uint8_t p[16], out[16];
    memset(p, 0x11, sizeof(p));
    assert_int_equal(fwt_rec_write(ts_dir, "r", 7, p, sizeof(p), &info), FWT_OK); /* r.0 seq 1 */
    memset(p, 0x22, sizeof(p));
    assert_int_equal(fwt_rec_write(ts_dir, "r", 7, p, sizeof(p), &info), FWT_OK); /* r.1 seq 2 */
    /* Tear the newest copy: only its first half landed. */
    uint8_t buf[128];
    size_t n = read_bytes("r.1", buf, sizeof(buf));
    assert_int_equal(n, FWT_REC_HDR + 16 + 32);
    uint8_t old[128];
    memset(old, 0, sizeof(old));
    memcpy(old, buf, n / 2);
    write_bytes("r.1", old, n); /* same length, second half zero */
    struct fwt_rec_info ri;
    assert_int_equal(fwt_rec_read(ts_dir, "r", 7, out, sizeof(out), &ri), FWT_OK);
    memset(p, 0x11, sizeof(p));
    assert_memory_equal(out, p, sizeof(p)); /* the older good state */
    assert_int_equal(ri.seq, 1);
    assert_false(ri.valid[1]);
    /* A short copy is ignored too. */
    write_bytes("r.1", buf, n - 1);
    assert_int_equal(fwt_rec_read(ts_dir, "r", 7, out, sizeof(out), &ri), FWT_OK);
    assert_int_equal(ri.seq, 1);
    /* The next write replaces the broken copy, never the good one. */
    memset(p, 0x33, sizeof(p));
    assert_int_equal(fwt_rec_write(ts_dir, "r", 7, p, sizeof(p), &ri), FWT_OK);
    assert_int_equal(ri.which, 1);
    assert_int_equal(ri.seq, 2);
    /* One flipped bit anywhere in a copy makes it invalid. */
    n = read_bytes("r.0", buf, sizeof(buf));
    for (size_t i = 0; i < n; i += 7) {
        uint8_t t[128];
        memcpy(t, buf, n);
        t[i] ^= 0x10;
        uint64_t seq;
        assert_int_equal(fwt_rec_decode(t, n, 7, out, 16, &seq), FWT_E_STATE);
    }
    /* Both copies bad: FWT_E_STATE, never a silent default. */
    write_bytes("r.0", "garbage", 7);
    write_bytes("r.1", "garbage", 7);
    assert_int_equal(fwt_rec_read(ts_dir, "r", 7, out, sizeof(out), &ri), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "no valid copy"));
}

static void test_rec_kind_and_length(void **state)
{
    (void)state;
    uint8_t p[16] = {1}, buf[FWT_REC_HDR + 16 + 32], out[16];
    uint64_t seq;
    fwt_rec_encode(3, 9, p, sizeof(p), buf);
    assert_int_equal(fwt_rec_decode(buf, sizeof(buf), 3, out, 16, &seq), FWT_OK);
    assert_int_equal(seq, 9);
    assert_int_equal(fwt_rec_decode(buf, sizeof(buf), 4, out, 16, &seq), FWT_E_STATE);
    assert_int_equal(fwt_rec_decode(buf, sizeof(buf) - 1, 3, out, 16, &seq), FWT_E_STATE);
    fwt_rec_encode(3, 0, p, sizeof(p), buf); /* sequence 0 is never written */
    assert_int_equal(fwt_rec_decode(buf, sizeof(buf), 3, out, 16, &seq), FWT_E_STATE);
}

/* A forged copy with the last usable sequence number: the next write renumbers both
 * copies instead of refusing (which would stop the device booting for ever). */
static void test_rec_renumber(void **state)
{
    (void)state;
    struct fwt_rec_info info;
    memset(&info, 0, sizeof(info));
    uint8_t p[16], out[16], buf[FWT_REC_HDR + 16 + 32];
    memset(p, 0x11, sizeof(p));
    assert_int_equal(fwt_rec_write(ts_dir, "r", 7, p, sizeof(p), &info), FWT_OK); /* r.0 seq 1 */
    fwt_rec_encode(7, UINT64_MAX - 1, p, sizeof(p), buf);
    write_bytes("r.1", buf, sizeof(buf));
    assert_int_equal(fwt_rec_read(ts_dir, "r", 7, out, sizeof(out), &info), FWT_OK);
    assert_true(info.seq == UINT64_MAX - 1 && info.which == 1);
    memset(p, 0x22, sizeof(p));
    assert_int_equal(fwt_rec_write(ts_dir, "r", 7, p, sizeof(p), &info), FWT_OK);
    struct fwt_rec_info ri;
    assert_int_equal(fwt_rec_read(ts_dir, "r", 7, out, sizeof(out), &ri), FWT_OK);
    assert_memory_equal(out, p, sizeof(p));
    assert_int_equal(ri.seq, 2);
    assert_true(ri.valid[0] && ri.valid[1]);
    /* And the numbering goes on from there. */
    memset(p, 0x33, sizeof(p));
    assert_int_equal(fwt_rec_write(ts_dir, "r", 7, p, sizeof(p), &ri), FWT_OK);
    assert_int_equal(fwt_rec_read(ts_dir, "r", 7, out, sizeof(out), &ri), FWT_OK);
    assert_memory_equal(out, p, sizeof(p));
    assert_int_equal(ri.seq, 3);
}

/* ---- boot control ---- */

static void test_bootctl_codec(void **state)
{
    (void)state;
    struct fwt_bootctl bc, back;
    memset(&bc, 0, sizeof(bc));
    bc.confirmed = FWT_SLOT_A;
    bc.trial = FWT_SLOT_B;
    bc.booted = FWT_SLOT_B;
    bc.booted_trial = 1;
    bc.tries_left = 2;
    bc.boot_count = 77;
    bc.bad[0] = 0;
    bc.digest_len[1] = 32;
    memset(bc.digest[1], 0xab, 32);
    bc.raise_pending = 1;
    bc.floor_sc = 0x01020304;
    bc.floor_kv = 7;
    bc.time_floor = 0x123456789aULL;
    uint8_t raw[FWT_BOOTCTL_SIZE];
    fwt_bootctl_encode(&bc, raw);
    assert_int_equal(fwt_bootctl_decode(raw, &back), FWT_OK);
    assert_memory_equal(&bc, &back, sizeof(bc));
    uint8_t t[FWT_BOOTCTL_SIZE];
    /* Invalid slot numbers, unknown flags, reserved bytes, inconsistent states. */
    memcpy(t, raw, sizeof(t));
    t[0] = 2;
    assert_int_equal(fwt_bootctl_decode(t, &back), FWT_E_STATE);
    memcpy(t, raw, sizeof(t));
    t[3] |= 0x80;
    assert_int_equal(fwt_bootctl_decode(t, &back), FWT_E_STATE);
    memcpy(t, raw, sizeof(t));
    t[18] = 1;
    assert_int_equal(fwt_bootctl_decode(t, &back), FWT_E_STATE);
    memcpy(t, raw, sizeof(t));
    t[1] = FWT_SLOT_A; /* trial == confirmed */
    assert_int_equal(fwt_bootctl_decode(t, &back), FWT_E_STATE);
    memcpy(t, raw, sizeof(t));
    t[4] = 200; /* tries above the maximum */
    assert_int_equal(fwt_bootctl_decode(t, &back), FWT_E_STATE);
    memcpy(t, raw, sizeof(t));
    t[17] = 31; /* digest length */
    assert_int_equal(fwt_bootctl_decode(t, &back), FWT_E_STATE);
    memcpy(t, raw, sizeof(t));
    t[96 + 40] = 1; /* byte after a 32-byte digest */
    assert_int_equal(fwt_bootctl_decode(t, &back), FWT_E_STATE);
    memcpy(t, raw, sizeof(t));
    t[1] = FWT_SLOT_NONE; /* tries without a trial */
    assert_int_equal(fwt_bootctl_decode(t, &back), FWT_E_STATE);
    memcpy(t, raw, sizeof(t));
    t[3] &= (uint8_t)~0x02; /* the floor stays after the raise is done */
    assert_int_equal(fwt_bootctl_decode(t, &back), FWT_OK);
    assert_int_equal(back.floor_sc, 0x01020304);
    assert_false(back.raise_pending);
    memcpy(t, raw, sizeof(t));
    t[19] = 1; /* reserved after the digest lengths */
    assert_int_equal(fwt_bootctl_decode(t, &back), FWT_E_STATE);
}

/* ---- anti-rollback file backend ---- */

static void test_rollback_monotonic(void **state)
{
    (void)state;
    struct fwt_rollback_backend be;
    assert_int_equal(fwt_rollback_file_backend(ts_dir, &be), FWT_OK);
    struct fwt_rollback_state st;
    assert_int_equal(be.read(be.ctx, &st), FWT_E_STATE); /* nothing stored yet */
    struct fwt_rollback_state want = {5, 2};
    assert_int_equal(be.raise(be.ctx, &want), FWT_OK);
    assert_int_equal(be.read(be.ctx, &st), FWT_OK);
    assert_int_equal(st.min_security_counter, 5);
    assert_int_equal(st.min_key_version, 2);
    /* Lower values never lower the stored ones; each field is raised on its own. */
    struct fwt_rollback_state lower = {3, 4};
    assert_int_equal(be.raise(be.ctx, &lower), FWT_OK);
    assert_int_equal(be.read(be.ctx, &st), FWT_OK);
    assert_int_equal(st.min_security_counter, 5);
    assert_int_equal(st.min_key_version, 4);
    /* Every raise leaves the value in both copies: a damaged copy of either kind (a
     * flipped bit, an erased sector) never lowers a minimum. */
    struct fwt_rollback_state higher = {9, 4};
    assert_int_equal(be.raise(be.ctx, &higher), FWT_OK);
    for (int c = 0; c < 2; c++) {
        const char *names[2] = {"rollback.0", "rollback.1"};
        uint8_t good[128], bad[128];
        size_t n = read_bytes(names[c], good, sizeof(good));
        for (size_t off = 0; off < n; off += 5) {
            memcpy(bad, good, n);
            bad[off] ^= 0x01;
            write_bytes(names[c], bad, n);
            assert_int_equal(be.read(be.ctx, &st), FWT_OK);
            assert_int_equal(st.min_security_counter, 9);
            assert_int_equal(st.min_key_version, 4);
        }
        memset(bad, 0xff, n); /* an erased sector */
        write_bytes(names[c], bad, n);
        assert_int_equal(be.read(be.ctx, &st), FWT_OK);
        assert_int_equal(st.min_security_counter, 9);
        /* A raise to the same values repairs the damaged copy. */
        assert_int_equal(be.raise(be.ctx, &lower), FWT_OK);
        assert_int_equal(read_bytes(names[c], bad, sizeof(bad)), n);
        assert_memory_equal(bad + FWT_REC_HDR, good + FWT_REC_HDR, FWT_ROLLBACK_SIZE);
    }
    /* Corrupt both copies: reading and raising fail, nothing is reset to zero. */
    write_bytes("rollback.0", "x", 1);
    write_bytes("rollback.1", "y", 1);
    assert_int_equal(be.read(be.ctx, &st), FWT_E_STATE);
    assert_int_equal(be.raise(be.ctx, &want), FWT_E_STATE);
    be.close(be.ctx);
}

/* ---- INI / configuration ---- */

static const char k_cfg[] =
    "# comment\n"
    "[device]\n"
    "hw_id = board-7\n"
    "tries = 5\n"
    "\n"
    "[slots]\n"
    "a = slot-a.bin\n"
    "b = /dev/mmcblk0p2\r\n"
    "size = 0x10000\n"
    "readback = full\n"
    "[trust]\n"
    "key = keys/k0.pem\n"
    "key = keys/k1.pem\n"
    "root = /etc/root.pem\n"
    "threshold = 2\n"
    "[update]\n"
    "repo = https://127.0.0.1:8443/repo\n"
    "tuf_root = tuf-root.json\n"
    "pinned_pubkey = sha256//abc=\n"
    "decode_window = 262144\n";

static void test_config_parse(void **state)
{
    (void)state;
    struct fwt_agent_config c;
    assert_int_equal(fwt_agent_config_parse(k_cfg, strlen(k_cfg), "/d", &c), FWT_OK);
    assert_string_equal(c.hw_id, "board-7");
    assert_int_equal(c.tries, 5);
    assert_string_equal(c.slot_path[0], "/d/slot-a.bin");
    assert_string_equal(c.slot_path[1], "/dev/mmcblk0p2");
    assert_int_equal(c.slot_size, 0x10000);
    assert_int_equal(c.readback_full, 1);
    assert_int_equal(c.n_keys, 2);
    assert_string_equal(c.keys[1], "/d/keys/k1.pem");
    assert_int_equal(c.n_roots, 1);
    assert_int_equal(c.threshold, 2);
    assert_string_equal(c.repo_url, "https://127.0.0.1:8443/repo");
    assert_string_equal(c.tuf_root, "/d/tuf-root.json");
    assert_string_equal(c.tls_pinned_pubkey, "sha256//abc=");
    /* Format and parse back: the same configuration. */
    char *text = NULL;
    assert_int_equal(fwt_agent_config_format(&c, &text), FWT_OK);
    struct fwt_agent_config d;
    assert_int_equal(fwt_agent_config_parse(text, strlen(text), "/d", &d), FWT_OK);
    assert_string_equal(d.slot_path[0], c.slot_path[0]);
    assert_string_equal(d.keys[0], c.keys[0]);
    assert_int_equal(d.threshold, 2);
    assert_int_equal(d.readback_full, 1);
    assert_int_equal(c.decode_window, 262144);
    assert_int_equal(d.decode_window, 262144);
    assert_non_null(strstr(text, "a = slot-a.bin\n")); /* stays relative to the device */
    free(text);
    fwt_agent_config_free(&d);
    fwt_agent_config_free(&c);
    /* readback: metadata is the default and is not written out. */
    const char *meta = "[device]\nhw_id = x\n[slots]\na = a\nb = b\nreadback = metadata\n";
    assert_int_equal(fwt_agent_config_parse(meta, strlen(meta), "/d", &c), FWT_OK);
    assert_int_equal(c.readback_full, 0);
    assert_int_equal(fwt_agent_config_format(&c, &text), FWT_OK);
    assert_null(strstr(text, "readback"));
    free(text);
    fwt_agent_config_free(&c);
}

static void expect_cfg_error(const char *text, const char *needle)
{
    struct fwt_agent_config c;
    fwt_err e = fwt_agent_config_parse(text, strlen(text), "/d", &c);
    assert_int_not_equal(e, FWT_OK);
    if (!strstr(fwt_detail(), needle)) {
        fail_msg("config error '%s' lacks '%s'", fwt_detail(), needle);
    }
}

static void test_config_errors(void **state)
{
    (void)state;
    const char *base = "[device]\nhw_id = x\n[slots]\na = a\nb = b\n";
    char buf[512];
    expect_cfg_error("[slots]\na = a\nb = b\n", "hw_id is missing");
    expect_cfg_error("[device]\nhw_id = x\n[slots]\na = a\n", "needs both a and b");
    expect_cfg_error("[device]\nhw_id = x\n[slots]\na = s\nb = s\n", "same path");
    snprintf(buf, sizeof(buf), "%s[trust]\nkee = k.pem\n", base);
    expect_cfg_error(buf, "unknown key 'kee' in [trust]");
    snprintf(buf, sizeof(buf), "%s[trusts]\nkey = k.pem\n", base);
    expect_cfg_error(buf, "unknown section [trusts]");
    snprintf(buf, sizeof(buf), "%shw_id = y\n", "[device]\nhw_id = x\n");
    expect_cfg_error(buf, "line 3: 'hw_id' given twice");
    snprintf(buf, sizeof(buf), "%s[update]\ndecode_window = 1000\n", base);
    expect_cfg_error(buf, "decode_window must be a byte count of at least 1024");
    snprintf(buf, sizeof(buf), "%sreadback = some\n", base);
    expect_cfg_error(buf, "readback must be 'metadata' or 'full', not 'some'");
    snprintf(buf, sizeof(buf), "%sreadback = full\nreadback = full\n", base);
    expect_cfg_error(buf, "'readback' given twice");
    snprintf(buf, sizeof(buf), "%s[device]\ntries = 0\n", base);
    expect_cfg_error(buf, "tries must be 1 to");
    snprintf(buf, sizeof(buf), "%s[trust]\nkey = k\nthreshold = 2\n", base);
    expect_cfg_error(buf, "threshold 2 is above");
    /* Roots are anchors too: a threshold above keys + roots is refused whatever their kind. */
    snprintf(buf, sizeof(buf), "%s[trust]\nroot = r\nthreshold = 2\n", base);
    expect_cfg_error(buf, "line 8: threshold 2 is above the 1 trust anchor(s)");
    snprintf(buf, sizeof(buf), "%s[trust]\nthreshold = 2\n", base);
    expect_cfg_error(buf, "line 7: threshold 2 is above the 0 trust anchor(s)");
    expect_cfg_error("[device\nhw_id = x\n", "malformed section header");
    expect_cfg_error("[device]\nhw_id x\n", "expected 'key = value'");
    expect_cfg_error("[device]\nhw_id = a\x01" "b\n", "control character");
    expect_cfg_error("[device]\nhw_id = 01234567890123456789012345678901234567890123456789"
                     "0123456789012345\n[slots]\na = a\nb = b\n", "hw_id must be 1 to 64");
    expect_cfg_error("[slots]\na = fw.hex\n", "not Intel HEX");
    expect_cfg_error("[slots]\na = FW.HEX\n", "not Intel HEX");
    static const char nul[] = "[device]\nhw_id = x\0y\n";
    struct fwt_agent_config c;
    assert_int_equal(fwt_agent_config_parse(nul, sizeof(nul) - 1, "/d", &c), FWT_E_ARG);
}

/* ---- audit log ---- */

static void test_audit_chain(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++) {
        char d[32];
        snprintf(d, sizeof(d), "entry %d \xff", i); /* non-ASCII is made printable */
        assert_int_equal(fwt_audit_append(ts_dir, "test", d), FWT_OK);
    }
    uint64_t n = 0;
    int torn = 1;
    assert_int_equal(fwt_audit_verify(ts_dir, &n, &torn), FWT_OK);
    assert_int_equal(n, 4);
    assert_int_equal(torn, 0);
    uint8_t log[4096];
    size_t len = read_bytes("audit.log", log, sizeof(log));
    assert_true(len > 0 && len < sizeof(log));
    assert_null(memchr(log, 0xff, len));
    /* A torn append (no final newline) is reported and ignored, then dropped. */
    uint8_t torn_log[4200];
    memcpy(torn_log, log, len);
    memcpy(torn_log + len, "{\"detail\":\"half", 15);
    write_bytes("audit.log", torn_log, len + 15);
    assert_int_equal(fwt_audit_verify(ts_dir, &n, &torn), FWT_OK);
    assert_int_equal(n, 4);
    assert_int_equal(torn, 1);
    assert_int_equal(fwt_audit_append(ts_dir, "test", "after the cut"), FWT_OK);
    assert_int_equal(fwt_audit_verify(ts_dir, &n, &torn), FWT_OK);
    assert_int_equal(n, 5);
    assert_int_equal(torn, 0);
    /* Changing one byte of an earlier entry breaks the chain at the next line. */
    len = read_bytes("audit.log", log, sizeof(log));
    uint8_t *d = (uint8_t *)strstr((char *)log, "entry 1");
    assert_non_null(d);
    d[6] = '9';
    write_bytes("audit.log", log, len);
    assert_int_equal(fwt_audit_verify(ts_dir, &n, &torn), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "line 3: hash chain broken"));
    /* Removing an entry is caught by the sequence numbers. */
    d[6] = '1';
    char *l2 = strchr((char *)log, '\n') + 1;
    char *l3 = strchr(l2, '\n') + 1;
    size_t rest = len - (size_t)(l3 - (char *)log);
    memmove(l2, l3, rest);
    write_bytes("audit.log", log, (size_t)(l2 - (char *)log) + rest);
    assert_int_equal(fwt_audit_verify(ts_dir, &n, &torn), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "line 2: sequence 3, expected 2"));
    /* A line longer than any entry can be is refused, naming the line. */
    static char big[FWT_AUDIT_LINE_MAX + 600];
    size_t first = (size_t)(strchr((char *)log, '\n') + 1 - (char *)log);
    memcpy(big, log, first);
    memset(big + first, 'x', FWT_AUDIT_LINE_MAX + 10);
    big[first + FWT_AUDIT_LINE_MAX + 10] = '\n';
    write_bytes("audit.log", (const uint8_t *)big, first + FWT_AUDIT_LINE_MAX + 11);
    assert_int_equal(fwt_audit_verify(ts_dir, &n, &torn), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "line 2 longer than"));
}

/* Lines of a JSON-lines log: whole, torn by a cut, too long, and the end. */
static void test_read_line(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    fputs("one\n\n0123456789\nhalf", f);
    rewind(f);
    char buf[8];
    size_t len = 99;
    assert_int_equal(fwt_agent_read_line(f, buf, sizeof(buf), &len), FWT_LINE_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "one", 3);
    assert_int_equal(fwt_agent_read_line(f, buf, sizeof(buf), &len), FWT_LINE_OK);
    assert_int_equal(len, 0); /* an empty line is a line */
    assert_int_equal(fwt_agent_read_line(f, buf, sizeof(buf), &len), FWT_LINE_LONG);
    assert_int_equal(len, sizeof(buf));
    fclose(f);
    f = tmpfile();
    assert_non_null(f);
    fputs("a\nhalf", f);
    rewind(f);
    assert_int_equal(fwt_agent_read_line(f, buf, sizeof(buf), &len), FWT_LINE_OK);
    assert_int_equal(fwt_agent_read_line(f, buf, sizeof(buf), &len), FWT_LINE_TORN);
    assert_int_equal(len, 4);
    assert_int_equal(fwt_agent_read_line(f, buf, sizeof(buf), &len), FWT_LINE_END);
    assert_int_equal(len, 0);
    fclose(f);
}

static void test_audit_line_parse(void **state)
{
    (void)state;
    struct fwt_audit_entry e;
    const char *good = "{\"detail\":\"x\",\"event\":\"boot\",\"prev\":\"00000000000000000000000000"
                       "00000000000000000000000000000000000000\",\"seq\":1,\"time\":5}";
    assert_int_equal(fwt_audit_line_parse(good, strlen(good), &e), FWT_OK);
    assert_int_equal(e.seq, 1);
    assert_string_equal(e.event, "boot");
    const char *bad[] = {
        "[]",
        "{\"detail\":\"x\",\"event\":\"boot\",\"prev\":\"00\",\"seq\":1,\"time\":5}",
        "{\"detail\":\"x\",\"event\":\"Boot!\",\"prev\":\"0000000000000000000000000000000000000000"
        "000000000000000000000000\",\"seq\":1,\"time\":5}",
        "{\"detail\":\"x\",\"event\":\"boot\",\"prev\":\"0000000000000000000000000000000000000000"
        "000000000000000000000000\",\"seq\":0,\"time\":5}",
        "{\"detail\":\"x\",\"event\":\"boot\",\"event\":\"boot\",\"prev\":\"000000000000000000000"
        "0000000000000000000000000000000000000000000\",\"seq\":1,\"time\":5}",
        "{\"detail\":\"x\",\"event\":\"boot\",\"prev\":\"0000000000000000000000000000000000000000"
        "000000000000000000000000\",\"seq\":1,\"time\":5,\"extra\":1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(fwt_audit_line_parse(bad[i], strlen(bad[i]), &e), FWT_E_STATE);
    }
}

/* ---- block devices sharing sectors (a fake sysfs tree) ---- */

static void put_attr(const char *dir, const char *name, const char *val)
{
    char p[1100];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", val);
    fclose(f);
}

/* sysfs/devices/DISK[/PART] with its attributes, and sysfs/dev/block/M:m -> it. */
static void fake_blk(const char *sysfs, const char *rel, const char *dev, const char *part,
                     const char *start, const char *size)
{
    char d[600], link[600], target[600];
    snprintf(d, sizeof(d), "%s/devices/%s", sysfs, rel);
    assert_int_equal(mkdir(d, 0755), 0);
    put_attr(d, "dev", dev);
    put_attr(d, "size", size);
    if (part) {
        put_attr(d, "partition", part);
        put_attr(d, "start", start);
    }
    snprintf(link, sizeof(link), "%s/dev/block/%s", sysfs, dev);
    snprintf(target, sizeof(target), "../../devices/%s", rel);
    assert_int_equal(symlink(target, link), 0);
}

static void test_blk_overlap(void **state)
{
    (void)state;
    char root[64];
    assert_int_equal(ts_mkscratch(root, sizeof(root), "sysfs"), 0);
    char p[512];
    const char *dirs[] = {"devices", "dev", "dev/block"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s", root, dirs[i]);
        assert_int_equal(mkdir(p, 0755), 0);
    }
    fake_blk(root, "sda", "8:0", NULL, NULL, "1000");
    fake_blk(root, "sda/sda1", "8:1", "1", "100", "200");
    fake_blk(root, "sda/sda2", "8:2", "2", "300", "100");
    fake_blk(root, "sda/sda3", "8:3", "3", "250", "100"); /* overlaps sda1 and sda2 */
    fake_blk(root, "sdb", "8:16", NULL, NULL, "50");
    assert_int_equal(fwt_agent_blk_overlap(root, makedev(8, 0), makedev(8, 1)), 1);
    assert_int_equal(fwt_agent_blk_overlap(root, makedev(8, 2), makedev(8, 0)), 1);
    assert_int_equal(fwt_agent_blk_overlap(root, makedev(8, 1), makedev(8, 2)), 0);
    assert_int_equal(fwt_agent_blk_overlap(root, makedev(8, 3), makedev(8, 1)), 1);
    assert_int_equal(fwt_agent_blk_overlap(root, makedev(8, 3), makedev(8, 2)), 1);
    assert_int_equal(fwt_agent_blk_overlap(root, makedev(8, 1), makedev(8, 16)), 0);
    assert_int_equal(fwt_agent_blk_overlap(root, makedev(8, 0), makedev(8, 16)), 0);
    assert_int_equal(fwt_agent_blk_overlap(root, makedev(8, 1), makedev(8, 1)), 1);
    assert_int_equal(fwt_agent_blk_overlap(root, makedev(8, 1), makedev(9, 9)), -1); /* unknown */
    assert_int_equal(ts_rmrf(root), 0);
}

/* ---- a mapped file that shrinks (the delta base) ---- */

/* In a child: map a file, maybe guard, truncate it, touch the mapping. */
static void bus_child(const char *path, int guard, int errfd)
{
    dup2(errfd, STDERR_FILENO);
    signal(SIGBUS, SIG_DFL); /* cmocka catches it to report a crash */
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 8192) != 0) {
        _exit(90);
    }
    volatile uint8_t *p = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        _exit(91);
    }
    if (guard) {
        fwt_agent_sigbus_guard("bus-test: the mapped file shrank");
        fwt_agent_sigbus_guard("a second guard keeps the first's previous action");
    }
    if (ftruncate(fd, 0) != 0) {
        _exit(92);
    }
    uint8_t v = p[4096];
    _exit(v == 0 ? 93 : 94);
}

static void test_sigbus_guard(void **state)
{
    (void)state;
    char path[] = "/tmp/fwt-bus-XXXXXX";
    int tfd = mkstemp(path);
    assert_true(tfd >= 0);
    close(tfd);
    for (int guard = 0; guard < 2; guard++) {
        int pe[2];
        assert_int_equal(pipe(pe), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pe[0]);
            bus_child(path, guard, pe[1]);
        }
        close(pe[1]);
        char out[512] = {0};
        size_t got = 0;
        ssize_t r;
        while (got < sizeof(out) - 1 && (r = read(pe[0], out + got, sizeof(out) - 1 - got)) > 0) {
            got += (size_t)r;
        }
        close(pe[0]);
        int st = 0;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (guard) {
            /* A clear message and exit 2 (FWT_E_IO), not a crash. */
            assert_true(WIFEXITED(st));
            assert_int_equal(WEXITSTATUS(st), FWT_E_IO);
            assert_non_null(strstr(out, "a second guard keeps"));
        } else {
            assert_true(WIFSIGNALED(st)); /* the kernel's SIGBUS, which the guard replaces */
            assert_int_equal(WTERMSIG(st), SIGBUS);
        }
    }
    /* Unguarded again: the previous action is back. */
    struct sigaction before, during, now;
    assert_int_equal(sigaction(SIGBUS, NULL, &before), 0);
    fwt_agent_sigbus_guard("x");
    assert_int_equal(sigaction(SIGBUS, NULL, &during), 0);
    assert_true(during.sa_handler != before.sa_handler);
    fwt_agent_sigbus_unguard();
    assert_int_equal(sigaction(SIGBUS, NULL, &now), 0);
    assert_true(now.sa_handler == before.sa_handler);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rec_roundtrip_and_alternation, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_rec_torn_copy_ignored, ts_setup, ts_teardown),
        cmocka_unit_test_setup_teardown(test_rec_renumber, ts_setup, ts_teardown),
        cmocka_unit_test(test_rec_kind_and_length),
        cmocka_unit_test(test_bootctl_codec),
        cmocka_unit_test_setup_teardown(test_rollback_monotonic, ts_setup, ts_teardown),
        cmocka_unit_test(test_config_parse),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_blk_overlap),
        cmocka_unit_test(test_sigbus_guard),
        cmocka_unit_test(test_read_line),
        cmocka_unit_test_setup_teardown(test_audit_chain, ts_setup, ts_teardown),
        cmocka_unit_test(test_audit_line_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
