/* Internal helpers for hosted code: error detail, file I/O, hex, numbers. */
#include <fwtrust/fwt_util.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static _Thread_local char g_detail[1024];
static _Thread_local enum fwt_cause g_cause;
static _Thread_local fwt_err g_cause_err;

/*
 * A PIN never reaches an error message: a PKCS#11 URI echoed into a detail may
 * carry "pin-value=..." (which fwtrust refuses, but the user typed it). Its
 * value is blanked up to the next URI separator.
 */
static void redact_pins(char *s)
{
    static const char key[] = "pin-value=";
    char *p = s;
    while ((p = strstr(p, key)) != NULL) {
        char *v = p + sizeof(key) - 1;
        size_t n = strcspn(v, ";&?\"' \t\n");
        if (n > 0) {
            memset(v, '*', n > 3 ? 3 : n);
            if (n > 3) {
                memmove(v + 3, v + n, strlen(v + n) + 1);
            }
        }
        p = v;
    }
}

fwt_err fwt_fail(fwt_err err, const char *fmt, ...)
{
    /* Format into a scratch buffer first: callers may pass fwt_detail() as an
     * argument to add context to a lower layer's detail. */
    char tmp[sizeof(g_detail)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    redact_pins(tmp);
    memcpy(g_detail, tmp, sizeof(g_detail));
    if (err != g_cause_err) {
        g_cause = FWT_CAUSE_NONE; /* another failure: the cause was not this one's */
    }
    return err;
}

fwt_err fwt_fail_cause(fwt_err err, enum fwt_cause cause)
{
    g_cause = cause;
    g_cause_err = err;
    return err;
}

enum fwt_cause fwt_cause(void)
{
    return g_cause;
}

void fwt_detail_clear(void)
{
    g_detail[0] = '\0';
    g_cause = FWT_CAUSE_NONE;
}

const char *fwt_detail(void)
{
    return g_detail;
}

fwt_err fwt_read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        return fwt_fail(errno == ENOENT ? FWT_E_NOT_FOUND : FWT_E_IO, "%s: %s", path,
                        strerror(errno));
    }
    size_t cap = 4096, n = 0;
    uint8_t *b = malloc(cap + 1);
    if (!b) {
        fclose(f);
        return fwt_fail(FWT_E_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                break;
            }
            size_t ncap = cap * 2;
            uint8_t *nb = realloc(b, ncap + 1);
            if (!nb) {
                free(b);
                fclose(f);
                return fwt_fail(FWT_E_NOMEM, "%s: out of memory", path);
            }
            b = nb;
            cap = ncap;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (n > max) {
            free(b);
            fclose(f);
            return fwt_fail(FWT_E_TOO_LARGE, "%s: larger than the limit of %zu bytes", path, max);
        }
        if (r == 0) {
            if (ferror(f)) {
                int e = errno;
                free(b);
                fclose(f);
                return fwt_fail(FWT_E_IO, "%s: read failed: %s", path, strerror(e));
            }
            break;
        }
    }
    fclose(f);
    b[n] = 0;
    *buf = b;
    *len = n;
    return FWT_OK;
}

/* The command line of pid, NULs as spaces, printable, into buf. */
static void proc_cmdline(long pid, char *buf, size_t n)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    ssize_t r = read(fd, buf, n - 1);
    close(fd);
    if (r <= 0) {
        buf[0] = '\0';
        return;
    }
    while (r > 0 && buf[r - 1] == '\0') {
        r--;
    }
    for (ssize_t i = 0; i < r; i++) {
        unsigned char c = (unsigned char)buf[i];
        buf[i] = c == 0 ? ' ' : (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    buf[r] = '\0';
}

int fwt_lock_holder(int fd, char *buf, size_t n)
{
    struct stat st;
    if (n == 0) {
        return 0;
    }
    buf[0] = '\0';
    if (fstat(fd, &st) != 0) {
        return 0;
    }
    FILE *f = fopen("/proc/locks", "re");
    if (!f) {
        return 0;
    }
    char line[256];
    long found = 0;
    while (!found && fgets(line, sizeof(line), f)) {
        /* "1: FLOCK  ADVISORY  WRITE 4242 fe:01:1234567 0 EOF"; "1: -> FLOCK ..." waits */
        char type[16], mode[16], rw[16], dev[32];
        long pid;
        unsigned long long ino;
        unsigned maj, min;
        if (strstr(line, "->") || sscanf(line, "%*[^:]: %15s %15s %15s %ld %31s", type, mode, rw, &pid, dev) != 5 ||
            sscanf(dev, "%x:%x:%llu", &maj, &min, &ino) != 3) {
            continue;
        }
        if (ino == (unsigned long long)st.st_ino && maj == major(st.st_dev) && min == minor(st.st_dev) &&
            pid != (long)getpid() && pid > 0) {
            found = pid;
        }
    }
    fclose(f);
    if (!found) {
        return 0;
    }
    char cmd[160];
    proc_cmdline(found, cmd, sizeof(cmd));
    snprintf(buf, n, "pid %ld%s%s%s", found, cmd[0] ? " (" : "", cmd, cmd[0] ? ")" : "");
    return 1;
}

fwt_err fwt_mkdirs(const char *path, unsigned mode)
{
    char p[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(p)) {
        return fwt_fail(FWT_E_ARG, "'%s': not a usable directory name", path);
    }
    memcpy(p, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0) {
            continue;
        }
        char c = p[i];
        p[i] = 0;
        struct stat st;
        if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
            return fwt_fail(FWT_E_IO, "cannot create directory %s: %s", p, strerror(errno));
        }
        if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
            return fwt_fail(FWT_E_IO, "%s is not a directory", p);
        }
        p[i] = c;
    }
    return FWT_OK;
}

fwt_err fwt_fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof(dir)) {
            return fwt_fail(FWT_E_ARG, "%s: path too long", path);
        }
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return fwt_fail(FWT_E_IO, "%s: %s", dir, strerror(errno));
    }
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL) {
        return fwt_fail(FWT_E_IO, "%s: fsync: %s", dir, strerror(e));
    }
    return FWT_OK;
}

fwt_err fwt_write_file_atomic(const char *path, const void *buf, size_t len, unsigned mode)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return fwt_fail(FWT_E_ARG, "%s: path too long", path);
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        return fwt_fail(FWT_E_IO, "%s: cannot create temporary file: %s", path, strerror(errno));
    }
    const uint8_t *p = buf;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            int e = errno;
            close(fd);
            unlink(tmp);
            return fwt_fail(FWT_E_IO, "%s: write: %s", tmp, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return fwt_fail(FWT_E_IO, "%s: %s", tmp, strerror(e));
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return fwt_fail(FWT_E_IO, "%s: close: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return fwt_fail(FWT_E_IO, "%s: rename: %s", path, strerror(e));
    }
    return fwt_fsync_parent(path);
}

void fwt_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

fwt_err fwt_hex_decode(const char *in, uint8_t *out, size_t out_len)
{
    if (strlen(in) != 2 * out_len) {
        return FWT_E_ARG;
    }
    for (size_t i = 0; i < out_len; i++) {
        int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return FWT_E_ARG;
        }
        out[i] = (uint8_t)((hi << 4) | lo);
    }
    return FWT_OK;
}

fwt_err fwt_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ') {
        return FWT_E_ARG;
    }
    errno = 0;
    char *end = NULL;
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        if (!*s) {
            return FWT_E_ARG;
        }
    }
    unsigned long long v = strtoull(s, &end, base);
    if (errno != 0 || *end != '\0' || v > max) {
        return FWT_E_ARG;
    }
    *out = (uint64_t)v;
    return FWT_OK;
}

fwt_err fwt_parse_u32(const char *s, uint32_t *out)
{
    uint64_t v;
    fwt_err e = fwt_parse_u64(s, UINT32_MAX, &v);
    if (e == FWT_OK) {
        *out = (uint32_t)v;
    }
    return e;
}

fwt_err fwt_time_floor_read(const char *path, int64_t *out)
{
    *out = 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err err = fwt_read_file(path, 64, &buf, &len);
    if (err == FWT_E_NOT_FOUND) {
        fwt_detail_clear();
        return FWT_OK;
    }
    if (err != FWT_OK) {
        return err;
    }
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) {
        buf[--len] = 0;
    }
    uint64_t v = 0;
    if (fwt_parse_u64((const char *)buf, (uint64_t)INT64_MAX, &v) != FWT_OK) {
        err = fwt_fail(FWT_E_STATE, "%s: not a time (seconds since 1970); remove it only if you "
                       "trust the clock", path);
    } else {
        *out = (int64_t)v;
    }
    free(buf);
    return err;
}

size_t fwt_time_floor_text(int64_t t, char buf[32])
{
    int n = snprintf(buf, 32, "%lld\n", (long long)t);
    return n > 0 && n < 32 ? (size_t)n : 0;
}
