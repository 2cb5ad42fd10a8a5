/*
 * install_file's direct writes: 1 MiB blocks go to the slot with O_DIRECT
 * (no copy into the page cache, nothing left for the fsync), the unaligned
 * tail the buffered way, and a direct write the kernel refuses falls back to
 * a buffered one. pwrite is wrapped at link time (-Wl,--wrap=pwrite) to count
 * direct writes, to refuse them on demand and to make them slow; read is
 * wrapped (-Wl,--wrap=read) to see how far the source has been read meanwhile.
 * The slot must always end up holding exactly the image's bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent_tutil.h"
#include "scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned g_direct_ok, g_direct_refused, g_buffered;
static int g_refuse;
/* test_ring_reads_ahead: direct writes take g_slow_ms; reads of the file with inode
 * g_src_ino are counted in g_src_read, and each slow write notes how many bytes
 * past its own end the source had been read when it completed (the largest in
 * g_lead). Written by the slot's writer thread and the reading thread: atomics. */
static int g_slow_ms;
static ino_t g_src_ino;
static uint64_t g_src_read, g_lead;

ssize_t __real_read(int fd, void *buf, size_t len);
ssize_t __wrap_read(int fd, void *buf, size_t len);

ssize_t __wrap_read(int fd, void *buf, size_t len)
{
    ssize_t r = __real_read(fd, buf, len);
    struct stat st;
    if (r > 0 && __atomic_load_n(&g_slow_ms, __ATOMIC_SEQ_CST) && fstat(fd, &st) == 0 &&
        st.st_ino == g_src_ino) {
        __atomic_add_fetch(&g_src_read, (uint64_t)r, __ATOMIC_SEQ_CST);
    }
    return r;
}

ssize_t __real_pwrite(int fd, const void *buf, size_t len, off_t off);
ssize_t __wrap_pwrite(int fd, const void *buf, size_t len, off_t off);

ssize_t __wrap_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl != -1 && (fl & O_DIRECT)) {
        if (g_refuse) {
            g_direct_refused++;
            errno = EINVAL;
            return -1;
        }
        int slow = __atomic_load_n(&g_slow_ms, __ATOMIC_SEQ_CST);
        if (slow) {
            struct timespec ts = {0, (long)slow * 1000000L};
            nanosleep(&ts, NULL);
        }
        ssize_t r = __real_pwrite(fd, buf, len, off);
        if (r == (ssize_t)len) {
            g_direct_ok++;
        }
        if (slow) {
            uint64_t rd = __atomic_load_n(&g_src_read, __ATOMIC_SEQ_CST);
            uint64_t end = (uint64_t)off + len;
            if (rd > end && rd - end > __atomic_load_n(&g_lead, __ATOMIC_SEQ_CST)) {
                __atomic_store_n(&g_lead, rd - end, __ATOMIC_SEQ_CST);
            }
        }
        return r;
    }
    g_buffered++;
    return __real_pwrite(fd, buf, len, off);
}

static char g_dir[256];
static char g_img[300], g_key[300];
static uint8_t *g_bytes;
static size_t g_len;

static int group_setup(void **state)
{
    (void)state;
    assert_int_equal(ts_mkscratch(g_dir, sizeof(g_dir), "direct-test"), 0);
    snprintf(g_key, sizeof(g_key), "%s/k.pem", g_dir);
    assert_int_equal(fwt_keygen_file(FWT_KEY_ED25519, g_key, NULL), FWT_OK);
    snprintf(g_img, sizeof(g_img), "%s/v1.bin", g_dir);
    /* 3 MiB + 1000 bytes: three direct blocks and a buffered tail. */
    tu_sign(g_dir, g_key, NULL, g_img, "1.0.0", 1, 3U * 1024U * 1024U + 1000U);
    assert_int_equal(fwt_read_file(g_img, 8U << 20, &g_bytes, &g_len), FWT_OK);
    assert_true(g_len > 3U * 1024U * 1024U);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    free(g_bytes);
    return ts_rmrf(g_dir);
}

/* A fresh device; slot_a gets the path of slot a (where the first install goes). */
static fwt_agent *fresh_device(const char *name, char *slot_a, size_t n)
{
    return tu_device(g_dir, name, g_key, 0, 0, slot_a, n);
}

static void assert_slot_holds_image(fwt_agent *dev, const char *slot)
{
    uint8_t *got = NULL;
    size_t len = 0;
    assert_int_equal(fwt_read_file(slot, 8U << 20, &got, &len), FWT_OK);
    assert_int_equal(len, g_len);
    assert_memory_equal(got, g_bytes, g_len);
    free(got);
    struct fwt_agent_image img;
    assert_int_equal(fwt_agent_verify_slot(dev, FWT_SLOT_A, &img), FWT_OK);
}

static void test_direct_blocks(void **state)
{
    (void)state;
    char slot[300];
    fwt_agent *dev = fresh_device("d1", slot, sizeof(slot));
    g_direct_ok = g_direct_refused = g_buffered = 0;
    g_refuse = 0;
    assert_int_equal(fwt_agent_install_file(dev, g_img, 0, NULL, NULL, NULL), FWT_OK);
    assert_int_equal(g_direct_ok, 3);   /* the three whole 1 MiB blocks */
    assert_int_equal(g_direct_refused, 0);
    assert_true(g_buffered >= 1);       /* the tail, and the state records */
    assert_slot_holds_image(dev, slot);
    fwt_agent_close(dev);
}

static void test_direct_refused_falls_back(void **state)
{
    (void)state;
    char slot[300];
    fwt_agent *dev = fresh_device("d2", slot, sizeof(slot));
    g_direct_ok = g_direct_refused = g_buffered = 0;
    g_refuse = 1;
    assert_int_equal(fwt_agent_install_file(dev, g_img, 0, NULL, NULL, NULL), FWT_OK);
    g_refuse = 0;
    assert_int_equal(g_direct_ok, 0);
    assert_int_equal(g_direct_refused, 1); /* refused once, then buffered for good */
    assert_slot_holds_image(dev, slot);
    fwt_agent_close(dev);
}

/* The same bytes through standard input (a pipe that delivers odd pieces). */
static void test_direct_from_pipe(void **state)
{
    (void)state;
    char slot[300];
    fwt_agent *dev = fresh_device("d3", slot, sizeof(slot));
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        size_t off = 0, step = 1000;
        while (off < g_len) {
            size_t n = g_len - off < step ? g_len - off : step;
            if (write(p[1], g_bytes + off, n) != (ssize_t)n) {
                _exit(1);
            }
            off += n;
            step = step * 2 + 77;
            if (step > 300000) {
                step = 999;
            }
        }
        _exit(0);
    }
    close(p[1]);
    int saved = dup(STDIN_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
    close(p[0]);
    g_direct_ok = 0;
    fwt_err err = fwt_agent_install_file(dev, "-", 0, NULL, NULL, NULL);
    assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    close(saved);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(err, FWT_OK);
    assert_int_equal(g_direct_ok, 3);
    assert_slot_holds_image(dev, slot);
    fwt_agent_close(dev);
}

/*
 * Reading, hashing and writing run at their own pace: while a slow write of
 * block n is under way, the source is read on past block n + 1 (install_file's
 * ring of buffers), where a lock-step pipeline (two buffers: read n + 1 while n
 * is hashed and written, then wait for both) would stop at the end of n + 1.
 */
static void test_ring_reads_ahead(void **state)
{
    (void)state;
    char slot[300], big[300];
    snprintf(big, sizeof(big), "%s/big.bin", g_dir);
    tu_sign(g_dir, g_key, NULL, big, "1.0.1", 1, 8U * 1024U * 1024U + 1000U);
    struct stat st;
    assert_int_equal(stat(big, &st), 0);
    g_src_ino = st.st_ino;
    fwt_agent *dev = fresh_device("d4", slot, sizeof(slot));
    g_direct_ok = g_direct_refused = g_buffered = 0;
    g_refuse = 0;
    __atomic_store_n(&g_src_read, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&g_lead, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&g_slow_ms, 50, __ATOMIC_SEQ_CST);
    fwt_err err = fwt_agent_install_file(dev, big, 0, NULL, NULL, NULL);
    __atomic_store_n(&g_slow_ms, 0, __ATOMIC_SEQ_CST);
    assert_int_equal(err, FWT_OK);
    assert_int_equal(g_direct_ok, 8);
    uint64_t lead = __atomic_load_n(&g_lead, __ATOMIC_SEQ_CST);
    fprintf(stderr, "source read ahead of a slow write by up to %llu bytes\n",
            (unsigned long long)lead);
    assert_true(lead >= 2U * 1024U * 1024U); /* two blocks past the one being written */
    uint8_t *want = NULL, *got = NULL;
    size_t wl = 0, gl = 0;
    assert_int_equal(fwt_read_file(big, 16U << 20, &want, &wl), FWT_OK);
    assert_int_equal(fwt_read_file(slot, 16U << 20, &got, &gl), FWT_OK);
    assert_int_equal(gl, wl);
    assert_memory_equal(got, want, wl);
    free(want);
    free(got);
    struct fwt_agent_image img;
    assert_int_equal(fwt_agent_verify_slot(dev, FWT_SLOT_A, &img), FWT_OK);
    fwt_agent_close(dev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_direct_blocks),
        cmocka_unit_test(test_direct_refused_falls_back),
        cmocka_unit_test(test_direct_from_pipe),
        cmocka_unit_test(test_ring_reads_ahead),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
