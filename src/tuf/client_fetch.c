/*
 * fwtrust TUF client: transport through libcurl (http, https, file://).
 * One request per call: no retries and no redirects (the conformance suite
 * asserts the request sequence, and a redirect could leave the pinned host).
 * A size cap per download (endless data), a minimum speed and a timeout
 * (slow retrieval), TLS with a CA file, a pinned public key and mutual TLS.
 */
#define FWTRUST_INTERNAL 1
#include <fwtrust/fwtrust_host.h>

#include "client_internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct tuf_fetcher {
    CURL *curl;
    struct fwt_tuf_transport t;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;
static void curl_init_once(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

fwt_err tuf_fetcher_new(const struct fwt_tuf_transport *t, struct tuf_fetcher **out)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    if (!curl_ok) {
        return fwt_fail(FWT_E_NETWORK, "libcurl failed to initialise");
    }
    struct tuf_fetcher *f = calloc(1, sizeof(*f));
    if (!f) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    f->curl = curl_easy_init();
    if (!f->curl) {
        free(f);
        return fwt_fail(FWT_E_NOMEM, "libcurl handle");
    }
    if (t) {
        f->t = *t;
    }
    *out = f;
    return FWT_OK;
}

void tuf_fetcher_free(struct tuf_fetcher *f)
{
    if (f) {
        curl_easy_cleanup(f->curl);
        free(f);
    }
}

struct xfer {
    CURL *curl;
    uint64_t cap, got;
    tuf_sink sink;
    void *ctx;
    int too_large, sink_failed, bad_status;
    long status;
    int any_status; /* a POST: the body of every answer is wanted (error answers too) */
};

static int status_ok(CURL *c, long *status)
{
    long code = 0;
    char *scheme = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(c, CURLINFO_SCHEME, &scheme);
    *status = code;
    if (scheme && (!strcasecmp(scheme, "http") || !strcasecmp(scheme, "https"))) {
        return code == 200;
    }
    return 1; /* file: no status */
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (!status_ok(x->curl, &x->status) && !x->any_status) {
        x->bad_status = 1;
        return 0;
    }
    if (len > x->cap - x->got) {
        x->too_large = 1;
        return 0;
    }
    x->got += len;
    if (len && x->sink(x->ctx, (const uint8_t *)p, len) != 0) {
        x->sink_failed = 1;
        return 0;
    }
    return len;
}

/* One transfer: a GET (post NULL), or a POST of post_len bytes of JSON whose answer is
 * taken whatever its status (*status gets it). */
static fwt_err transfer(struct tuf_fetcher *f, const char *url, uint64_t cap, tuf_sink sink, void *ctx,
                        const char *post, size_t post_len, long *status_out)
{
    CURL *c = f->curl;
    curl_easy_reset(c);
    struct xfer x = {c, cap, 0, sink, ctx, 0, 0, 0, 0, post != NULL};
    const struct fwt_tuf_transport *t = &f->t;
    struct curl_slist *hdr = NULL;
    int ok = 1;
#define SET(opt, val) ok &= curl_easy_setopt(c, opt, val) == CURLE_OK
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PROTOCOLS_STR, post ? "http,https" : "http,https,file");
    if (post) {
        hdr = curl_slist_append(NULL, "Content-Type: application/json");
        ok &= hdr != NULL;
        SET(CURLOPT_HTTPHEADER, hdr);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)post_len);
        SET(CURLOPT_POSTFIELDS, post);
    }
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_PATH_AS_IS, 1L); /* the URL is base + name, sent as it is ("../" is not folded) */
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_WRITEFUNCTION, on_data);
    SET(CURLOPT_WRITEDATA, &x);
    SET(CURLOPT_USERAGENT, "fwtrust-tuf-client/" "0.1");
    if (cap < (uint64_t)INT64_MAX) {
        SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
    }
    SET(CURLOPT_CONNECTTIMEOUT, t->connect_timeout_s > 0 ? t->connect_timeout_s : 30L);
    SET(CURLOPT_TIMEOUT, t->timeout_s > 0 ? t->timeout_s : 300L);
    SET(CURLOPT_LOW_SPEED_LIMIT, t->low_speed_limit > 0 ? t->low_speed_limit : 1024L);
    SET(CURLOPT_LOW_SPEED_TIME, t->low_speed_time_s > 0 ? t->low_speed_time_s : 30L);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (t->ca_file) {
        SET(CURLOPT_CAINFO, t->ca_file);
    }
    if (t->pinned_pubkey) {
        SET(CURLOPT_PINNEDPUBLICKEY, t->pinned_pubkey);
    }
    if (t->client_cert) {
        SET(CURLOPT_SSLCERT, t->client_cert);
        SET(CURLOPT_SSLKEY, t->client_key ? t->client_key : t->client_cert);
    }
    struct tuf_tls_session ts;
    tuf_tls_session_open(&ts, t->client_cert ? t->tls_session_file : NULL, t->client_cert);
    if (ts.path && (curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, tuf_tls_session_ctx) != CURLE_OK ||
                    curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, &ts) != CURLE_OK)) {
        curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, NULL); /* a TLS library without it: full handshakes */
    }
#undef SET
    if (!ok) {
        tuf_tls_session_close(&ts);
        curl_slist_free_all(hdr);
        return fwt_fail(FWT_E_NETWORK, "%s: libcurl does not support an option this transfer needs", url);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, NULL);
    tuf_tls_session_close(&ts);
    if (t->tls_resumed) {
        *t->tls_resumed = ts.resumed;
    }
    curl_slist_free_all(hdr);
    if (post && rc == CURLE_OK && !x.too_large && !x.sink_failed) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status_out);
        return FWT_OK;
    }
    if (x.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        return fwt_fail(FWT_E_TOO_LARGE, "%s: more than %llu bytes (transfer aborted)", url, (unsigned long long)cap);
    }
    if (x.sink_failed) {
        return fwt_fail(FWT_E_IO, "%s: could not store the downloaded data", url);
    }
    long status = 0;
    int good = status_ok(c, &status);
    if (x.bad_status || (rc == CURLE_OK && !good)) {
        if (status == 404 || status == 403) {
            return fwt_fail(FWT_E_NOT_FOUND, "%s: HTTP %ld", url, status);
        }
        return fwt_fail(FWT_E_NETWORK, "%s: HTTP status %ld", url, status);
    }
    if (rc == CURLE_FILE_COULDNT_READ_FILE) {
        return fwt_fail(FWT_E_NOT_FOUND, "%s: no such file", url);
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        return fwt_fail(FWT_E_NETWORK, "%s: too slow or timed out (%s)", url, curl_easy_strerror(rc));
    }
    if (rc != CURLE_OK) {
        fwt_err err = fwt_fail(FWT_E_NETWORK, "%s: %s", url, curl_easy_strerror(rc));
        switch (rc) {
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
            return fwt_fail_cause(err, FWT_CAUSE_TLS_CA);
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            return fwt_fail_cause(err, FWT_CAUSE_TLS_PIN);
        case CURLE_SSL_CERTPROBLEM:
            return fwt_fail_cause(err, FWT_CAUSE_TLS_CLIENT);
        default:
            return err;
        }
    }
    return FWT_OK;
}

fwt_err tuf_fetch(struct tuf_fetcher *f, const char *url, uint64_t cap, tuf_sink sink, void *ctx)
{
    return transfer(f, url, cap, sink, ctx, NULL, 0, NULL);
}

struct membuf {
    uint8_t *p;
    size_t n, cap;
};

static int mem_sink(void *ctx, const uint8_t *data, size_t len)
{
    struct membuf *m = ctx;
    size_t need;
    if (fwt_add_size(m->n, len, &need) != 0 || fwt_add_size(need, 1, &need) != 0) {
        return -1;
    }
    if (need > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < need) {
            if (cap > ((size_t)-1) / 2) {
                return -1;
            }
            cap *= 2;
        }
        uint8_t *np = realloc(m->p, cap);
        if (!np) {
            return -1;
        }
        m->p = np;
        m->cap = cap;
    }
    memcpy(m->p + m->n, data, len);
    m->n += len;
    m->p[m->n] = 0;
    return 0;
}

fwt_err tuf_fetch_mem(struct tuf_fetcher *f, const char *url, uint64_t cap, uint8_t **buf, size_t *len)
{
    struct membuf m = {NULL, 0, 0};
    *buf = NULL;
    *len = 0;
    fwt_err err = tuf_fetch(f, url, cap, mem_sink, &m);
    if (err == FWT_OK && !m.p) {
        m.p = calloc(1, 1);
        if (!m.p) {
            err = fwt_fail(FWT_E_NOMEM, "out of memory");
        }
    }
    if (err != FWT_OK) {
        free(m.p);
        return err;
    }
    *buf = m.p;
    *len = m.n;
    return FWT_OK;
}

char *tuf_quote(const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    if (n > ((size_t)-1 - 1) / 3) {
        return NULL;
    }
    char *out = malloc(3 * n + 1), *o = out;
    if (!out) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            ch == '.' || ch == '_' || ch == '~' || (keep_slash && ch == '/')) {
            *o++ = (char)ch;
        } else {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    *o = 0;
    return out;
}

char *fwt_tuf_quote(const char *name)
{
    return name ? tuf_quote(name, 0) : NULL;
}

fwt_err fwt_http_post_json(const struct fwt_tuf_transport *t, const char *url, const char *body, size_t len,
                           uint64_t cap, uint8_t **resp, size_t *resp_len, long *status)
{
    struct tuf_fetcher *f = NULL;
    struct membuf m = {NULL, 0, 0};
    *resp = NULL;
    *resp_len = 0;
    *status = 0;
    fwt_err err = tuf_fetcher_new(t, &f);
    if (err == FWT_OK) {
        err = transfer(f, url, cap, mem_sink, &m, body, len, status);
    }
    tuf_fetcher_free(f);
    if (err == FWT_OK && !m.p) {
        m.p = calloc(1, 1);
        if (!m.p) {
            err = fwt_fail(FWT_E_NOMEM, "out of memory");
        }
    }
    if (err != FWT_OK) {
        free(m.p);
        return err;
    }
    *resp = m.p;
    *resp_len = m.n;
    return FWT_OK;
}

/* A target name as a relative path that stays below its directory. */
static fwt_err plain_name_ok(const char *name)
{
    if (!name[0] || name[0] == '/') {
        return fwt_fail(FWT_E_ARG, "target '%s': an absolute or empty name cannot be a file name below "
                        "--target-dir", name);
    }
    for (const char *c = name; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '\\') {
            return fwt_fail(FWT_E_ARG, "target '%s': a control character or backslash in a plain file name",
                            name);
        }
    }
    for (const char *seg = name; seg;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) {
            return fwt_fail(FWT_E_ARG, "target '%s': an empty, '.' or '..' part would leave --target-dir "
                            "or name it twice; save it percent-encoded (without --plain-names)", name);
        }
        seg = end ? end + 1 : NULL;
    }
    return FWT_OK;
}

fwt_err fwt_tuf_target_path(const char *dir, const char *name, unsigned flags, char **path)
{
    *path = NULL;
    if (!dir || !name || (flags & ~FWT_TUF_PATH_PLAIN)) {
        return fwt_fail(FWT_E_ARG, "target path: directory, name and known flags are required");
    }
    char *rel = NULL;
    if (flags & FWT_TUF_PATH_PLAIN) {
        fwt_err err = plain_name_ok(name);
        if (err != FWT_OK) {
            return err;
        }
        rel = strdup(name);
    } else {
        rel = fwt_tuf_quote(name);
    }
    char *p = NULL;
    if (!rel || asprintf(&p, "%s/%s", dir, rel) < 0) {
        free(rel);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    free(rel);
    char *slash = strrchr(p, '/');
    *slash = 0; /* the directory the file goes in */
    fwt_err err = fwt_mkdirs(p, 0755);
    *slash = '/';
    if (err != FWT_OK) {
        free(p);
        return err;
    }
    *path = p;
    return FWT_OK;
}
