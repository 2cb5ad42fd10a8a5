/*
 * Maintenance windows: five-field cron expressions (minute hour day-of-month month
 * day-of-week; '*', 'a-b', 'a,b', '*' or a range with '/step') and IANA time zones
 * (a file under /usr/share/zoneinfo, read by the C library through TZ). A window
 * is open when a matching minute lies at most `duration` seconds back.
 */
#include <fwtrust/fwt_rollout.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* One field into a bit set of [lo, hi]. */
static fwt_err field(const char *name, const char *text, size_t len, int lo, int hi, uint64_t *bits, int *star)
{
    *bits = 0;
    *star = len == 1 && text[0] == '*';
    char buf[64];
    if (len == 0 || len >= sizeof(buf)) {
        return fwt_fail(FWT_E_ARG, "cron: %s field is empty or too long", name);
    }
    memcpy(buf, text, len);
    buf[len] = 0;
    char *save = NULL;
    for (char *part = strtok_r(buf, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
        long a = lo, b = hi, step = 1;
        char *slash = strchr(part, '/');
        if (slash) {
            *slash = 0;
            char *end = NULL;
            errno = 0;
            step = strtol(slash + 1, &end, 10);
            if (errno || !slash[1] || *end || step < 1 || step > hi) {
                return fwt_fail(FWT_E_ARG, "cron: %s field: bad step '%s'", name, slash + 1);
            }
        }
        if (strcmp(part, "*") != 0) {
            char *end = NULL;
            errno = 0;
            a = strtol(part, &end, 10);
            if (errno || end == part) {
                return fwt_fail(FWT_E_ARG, "cron: %s field: '%s' is not a number, range or '*'", name, part);
            }
            b = a;
            if (*end == '-') {
                char *e2 = NULL;
                b = strtol(end + 1, &e2, 10);
                if (e2 == end + 1 || *e2) {
                    return fwt_fail(FWT_E_ARG, "cron: %s field: bad range '%s'", name, part);
                }
            } else if (*end) {
                return fwt_fail(FWT_E_ARG, "cron: %s field: '%s' is not a number, range or '*'", name, part);
            } else if (slash) {
                b = hi; /* "a/step": from a to the end */
            }
            if (a < lo || b > hi || a > b) {
                return fwt_fail(FWT_E_ARG, "cron: %s field: %ld-%ld is outside %d-%d", name, a, b, lo, hi);
            }
        }
        for (long v = a; v <= b; v += step) {
            *bits |= 1ULL << v;
        }
    }
    if (!*bits) {
        return fwt_fail(FWT_E_ARG, "cron: %s field selects nothing", name);
    }
    return FWT_OK;
}

fwt_err fwt_cron_parse(const char *expr, struct fwt_cron *c)
{
    memset(c, 0, sizeof(*c));
    if (!expr) {
        return fwt_fail(FWT_E_ARG, "cron: no expression");
    }
    static const char *const names[5] = {"minute", "hour", "day-of-month", "month", "day-of-week"};
    static const int lo[5] = {0, 0, 1, 1, 0}, hi[5] = {59, 23, 31, 12, 7};
    uint64_t bits[5];
    int star[5];
    const char *p = expr;
    for (int i = 0; i < 5; i++) {
        while (*p == ' ') {
            p++;
        }
        size_t n = strcspn(p, " ");
        if (n == 0) {
            return fwt_fail(FWT_E_ARG, "cron '%s': 5 fields needed (minute hour day-of-month month day-of-week)",
                            expr);
        }
        fwt_err e = field(names[i], p, n, lo[i], hi[i], &bits[i], &star[i]);
        if (e != FWT_OK) {
            return fwt_fail(e, "cron '%s': %s", expr, fwt_detail());
        }
        p += n;
    }
    while (*p == ' ') {
        p++;
    }
    if (*p) {
        return fwt_fail(FWT_E_ARG, "cron '%s': more than 5 fields", expr);
    }
    c->minute = bits[0];
    c->hour = (uint32_t)bits[1];
    c->dom = (uint32_t)bits[2];
    c->month = (uint32_t)bits[3];
    c->dow = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f); /* 7 is Sunday too */
    c->dom_star = star[2];
    c->dow_star = star[4];
    return FWT_OK;
}

fwt_err fwt_tz_check(const char *tz)
{
    if (!tz || !*tz || strlen(tz) > 64 || tz[0] == '/' || strstr(tz, "..")) {
        return fwt_fail(FWT_E_ARG, "time zone '%s': an IANA name such as Europe/Berlin or UTC", tz ? tz : "");
    }
    for (const char *p = tz; *p; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '/' ||
              *p == '_' || *p == '-' || *p == '+')) {
            return fwt_fail(FWT_E_ARG, "time zone '%s': an IANA name such as Europe/Berlin or UTC", tz);
        }
    }
    char path[128];
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        return fwt_fail(FWT_E_ARG, "time zone '%s' is unknown (no %s)", tz, path);
    }
    return FWT_OK;
}

static int matches(const struct fwt_cron *c, const struct tm *tm)
{
    if (!(c->minute >> tm->tm_min & 1) || !(c->hour >> tm->tm_hour & 1) || !(c->month >> (tm->tm_mon + 1) & 1)) {
        return 0;
    }
    int dom = (int)(c->dom >> tm->tm_mday & 1), dow = (int)(c->dow >> tm->tm_wday & 1);
    /* cron's rule: when both day fields are restricted, either may match. */
    if (!c->dom_star && !c->dow_star) {
        return dom || dow;
    }
    return dom && dow;
}

fwt_err fwt_cron_window_open(const struct fwt_cron *c, const char *tz, uint64_t duration, time_t now, int *open)
{
    *open = 0;
    fwt_err e = fwt_tz_check(tz);
    if (e != FWT_OK) {
        return e;
    }
    if (duration == 0 || duration > 7 * 86400ULL) {
        return fwt_fail(FWT_E_ARG, "window duration must be 1 second to 7 days");
    }
    /* Walk back minute by minute over the window's length (at most a week: 10080 steps),
     * in zone tz (the daemon is single-threaded; TZ is restored). */
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    if (old && !saved) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    setenv("TZ", tz, 1);
    tzset();
    time_t start = now - (now % 60);
    for (time_t t = start; t > now - (time_t)duration && t >= 0 && !*open; t -= 60) {
        struct tm tm;
        if (!localtime_r(&t, &tm)) {
            e = fwt_fail(FWT_E_ARG, "time %lld cannot be converted in %s", (long long)t, tz);
            break;
        }
        *open = matches(c, &tm);
    }
    if (saved) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    tzset();
    return e;
}
