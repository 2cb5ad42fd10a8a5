/*
 * File operations of the agent and bootloader, with a compiled-in fault hook
 * for the power-fail test (see agent_internal.h and docs/agent.md).
 */
#include "agent_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int g_fault_init;
static unsigned long g_fault_at; /* 0 = off */
static int g_fault_tear;
static unsigned long g_fault_count;

static void fault_setup(void)
{
    if (g_fault_init) {
        return;
    }
    g_fault_init = 1;
    const char *at = getenv("FWT_FAULT_AT");
    if (at && *at) {
        uint64_t v;
        if (fwt_parse_u64(at, ULONG_MAX, &v) == FWT_OK) {
            g_fault_at = (unsigned long)v;
        }
    }
    const char *mode = getenv("FWT_FAULT_MODE");
    g_fault_tear = mode && strcmp(mode, "tear") == 0;
}

/* 1 when this operation is the one to interrupt. */
static int fault_hit(void)
{
    fault_setup();
    g_fault_count++;
    return g_fault_at != 0 && g_fault_count == g_fault_at;
}

static void fault_die(void)
{
    _exit(FWT_FAULT_EXIT_CODE);
}

unsigned long fwt_fault_points(void)
{
    return g_fault_count;
}

ssize_t fwt_f_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    if (fault_hit()) {
        if (g_fault_tear && len > 1) {
            size_t half = len / 2;
            ssize_t r = pwrite(fd, buf, half, off);
            (void)r;
        }
        fault_die();
    }
    return pwrite(fd, buf, len, off);
}

ssize_t fwt_f_write(int fd, const void *buf, size_t len)
{
    if (fault_hit()) {
        if (g_fault_tear && len > 1) {
            ssize_t r = write(fd, buf, len / 2);
            (void)r;
        }
        fault_die();
    }
    return write(fd, buf, len);
}

void fwt_f_point(void)
{
    if (fault_hit()) {
        fault_die();
    }
}

int fwt_f_fsync(int fd)
{
    if (fault_hit()) {
        fault_die();
    }
    return fsync(fd);
}

int fwt_f_ftruncate(int fd, off_t len)
{
    if (fault_hit()) {
        fault_die();
    }
    return ftruncate(fd, len);
}

int fwt_f_rename(const char *from, const char *to)
{
    if (fault_hit()) {
        fault_die();
    }
    return rename(from, to);
}

fwt_err fwt_f_pwrite_all(int fd, const void *buf, size_t len, off_t off, const char *what)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t w = fwt_f_pwrite(fd, p, len, off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return fwt_fail(FWT_E_IO, "%s: write: %s", what, strerror(errno));
        }
        if (w == 0) {
            return fwt_fail(FWT_E_IO, "%s: write made no progress (device full?)", what);
        }
        p += w;
        len -= (size_t)w;
        off += w;
    }
    return FWT_OK;
}

fwt_err fwt_f_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return fwt_fail(FWT_E_IO, "%s: %s", dir, strerror(errno));
    }
    int rc = fwt_f_fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL) {
        return fwt_fail(FWT_E_IO, "%s: fsync: %s", dir, strerror(e));
    }
    return FWT_OK;
}

fwt_err fwt_f_write_atomic(const char *path, const void *buf, size_t len, unsigned mode)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return fwt_fail(FWT_E_ARG, "%s: path too long", path);
    }
    /* A fixed temporary name: a leftover from a cut is simply overwritten. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
    if (fd < 0) {
        return fwt_fail(FWT_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    fwt_err err = fwt_f_pwrite_all(fd, buf, len, 0, tmp);
    if (err == FWT_OK && fwt_f_fsync(fd) != 0) {
        err = fwt_fail(FWT_E_IO, "%s: fsync: %s", tmp, strerror(errno));
    }
    if (close(fd) != 0 && err == FWT_OK) {
        err = fwt_fail(FWT_E_IO, "%s: close: %s", tmp, strerror(errno));
    }
    if (err == FWT_OK && fwt_f_rename(tmp, path) != 0) {
        err = fwt_fail(FWT_E_IO, "%s: rename: %s", path, strerror(errno));
    }
    if (err != FWT_OK) {
        unlink(tmp);
        return err;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == dir) {
        dir[1] = '\0';
    } else {
        *slash = '\0';
    }
    return fwt_f_fsync_dir(dir);
}

/* ---- a mapped file that shrinks ---- */

static char g_bus_msg[1024];
static size_t g_bus_len;
static struct sigaction g_bus_old;
static int g_bus_on;

static void bus_handler(int sig)
{
    (void)sig;
    ssize_t r = write(STDERR_FILENO, g_bus_msg, g_bus_len);
    (void)r;
    _exit(FWT_E_IO);
}

void fwt_agent_sigbus_guard(const char *msg)
{
    int n = snprintf(g_bus_msg, sizeof(g_bus_msg), "%s\n", msg);
    g_bus_len = n < 0 ? 0 : (size_t)n < sizeof(g_bus_msg) ? (size_t)n : sizeof(g_bus_msg) - 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bus_handler;
    sigemptyset(&sa.sa_mask);
    if (!g_bus_on && sigaction(SIGBUS, &sa, &g_bus_old) == 0) {
        g_bus_on = 1;
    }
}

void fwt_agent_sigbus_unguard(void)
{
    if (g_bus_on) {
        sigaction(SIGBUS, &g_bus_old, NULL);
        g_bus_on = 0;
    }
}

/* ---- JSON-lines files ---- */

enum fwt_line fwt_agent_read_line(FILE *f, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    int c = 0;
    while (n < cap && (c = fgetc(f)) != EOF && c != '\n') {
        buf[n++] = (char)c;
    }
    *len = n;
    if (n == 0 && c == EOF) {
        return FWT_LINE_END;
    }
    if (c == EOF) {
        return FWT_LINE_TORN;
    }
    return c == '\n' ? FWT_LINE_OK : FWT_LINE_LONG;
}
