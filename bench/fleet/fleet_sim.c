/*
 * fleet-sim: a device simulator for fwtrust-server. Each virtual device has
 * its own ECDSA P-256 key, CSR and certificate, and a counter; it enrolls,
 * checks in with a signed manifest (fwt_fleet, the agent's writer), fetches
 * its director metadata and reports. Single commands drive the tests
 * (the shell tests in tests/server); `bench` runs many devices on threads and measures.
 *
 *   fleet-sim enroll  URL CA TOKEN HW SERIAL DIR
 *   fleet-sim checkin URL CA DIR [--counter N] [--as ID] [--bad-sig] [--stale] [--sign-key PEM]
 *                                [--session FILE]   (TLS session: resumed from FILE, the new one saved there)
 *   fleet-sim renew   URL CA DIR          (new key and certificate; the old ones kept as old-*.pem)
 *   fleet-sim report  URL CA DIR STATE TARGET ERROR REASON
 *   fleet-sim get     URL CA DIR PATH
 *   fleet-sim bench   URL[,URL...] CA TOKENS_FILE DEVICES THREADS SECONDS [FAIL_PERCENT] [--rate N]
 *                     [--server-pid PID[,PID...]]
 *
 * Single commands print "HTTP CODE" and the body, exit 0 when the request was
 * made (whatever the status), 2 when it could not be; with --session, stderr says
 * "tls: resumed" or "tls: full". bench prints JSON: enrolment, check-ins with a full
 * handshake each, then check-ins resuming each device's TLS session (as the agent does),
 * bare full and resumed handshakes; --rate N: the resumed check-ins offered at N per
 * second (open loop: latency counted from when a request was due).
 */
#include <fwtrust/fwt_fleet.h>

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BENCH_SERVERS 8 /* bench: servers (URLs) at most */

struct buf {
    char *p;
    size_t n;
};

static size_t on_data(char *d, size_t sz, size_t nm, void *arg)
{
    struct buf *b = arg;
    size_t n = sz * nm;
    char *q = realloc(b->p, b->n + n + 1);
    if (!q) {
        return 0;
    }
    memcpy(q + b->n, d, n);
    b->p = q;
    b->n += n;
    b->p[b->n] = 0;
    return n;
}

struct device {
    char dir[512];
    char id[FWT_FLEET_ID_MAX + 1];
    char hw[FWT_FLEET_ID_MAX + 1];
    char serial[FWT_FLEET_ID_MAX + 1];
    char *cert_pem, *key_pem;
    fwt_privkey *key;
    uint64_t counter;
    X509 *x509;        /* bench: the certificate and key, decoded once */
    EVP_PKEY *pkey;
    SSL_SESSION *sess; /* the TLS session to resume, or NULL */
};

/* TLS of one request through libcurl (its OpenSSL SSL_CTX, made per connection): the
 * device's certificate and key when decoded already, and session resumption. OpenSSL
 * reads a client's session when it writes the ClientHello, so it is set when the
 * handshake starts; a new session (TLS 1.3: the server's ticket, after the handshake)
 * replaces the device's. */
/* bench: the CA certificate store, loaded once and shared by every connection (libcurl
 * keeps no CA cache when an SSL_CTX callback is set: it read the CA file per connection) */
static X509_STORE *g_store;

struct tls_use {
    struct device *d;
    int resume;  /* offer d->sess */
    int resumed; /* the handshake resumed */
};

static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct tls_use *u = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (!u) {
        return 0;
    }
    SSL_SESSION_free(u->d->sess);
    u->d->sess = sess; /* the reference is ours */
    return 1;
}

static void on_info(const SSL *ssl, int where, int ret)
{
    (void)ret;
    /* libcurl (7.88) hands out no SSL object before its handshake: the info callback's is
     * the one place to set the session, and OpenSSL passes it const */
    SSL *s = (SSL *)(uintptr_t)ssl;
    struct tls_use *u = SSL_CTX_get_app_data(SSL_get_SSL_CTX(s));
    if (!u) {
        return;
    }
    if ((where & SSL_CB_HANDSHAKE_START) && u->resume && u->d->sess && !SSL_session_reused(s)) {
        /* a copy, as the agent reads its session file anew each time: OpenSSL marks a TLS 1.3
         * session it resumed as not resumable again (it expects a new ticket), and the server
         * sends none while the ticket's key is current */
        SSL_SESSION *copy = SSL_SESSION_dup(u->d->sess);
        if (copy) {
            SSL_set_session(s, copy);
            SSL_SESSION_free(copy);
        }
    }
    if (where & SSL_CB_HANDSHAKE_DONE) {
        u->resumed = SSL_session_reused(s);
    }
}

static CURLcode on_ssl_ctx(CURL *c, void *sslctx, void *arg)
{
    (void)c;
    SSL_CTX *ctx = sslctx;
    struct tls_use *u = arg;
    if (u->d->x509 && u->d->pkey &&
        (SSL_CTX_use_certificate(ctx, u->d->x509) != 1 || SSL_CTX_use_PrivateKey(ctx, u->d->pkey) != 1)) {
        return CURLE_SSL_CERTPROBLEM;
    }
    if (g_store) {
        SSL_CTX_set1_cert_store(ctx, g_store);
    }
    SSL_CTX_set_app_data(ctx, u);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    SSL_CTX_set_info_callback(ctx, on_info);
    return CURLE_OK;
}

/* One HTTPS request. Returns the status (0: no answer); body in *out. tls (may be NULL):
 * sessions and decoded keys. */
static long request_tls(CURL *c, const char *url, const char *ca, const struct device *d, const char *body,
                        struct buf *out, struct tls_use *tls)
{
    curl_easy_reset(c);
    out->p = NULL;
    out->n = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, tls && g_store ? NULL : ca);
    if (tls && g_store) {
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L); /* every device request is a fresh connection */
    struct curl_blob cb, kb;
    if (tls) {
        curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
        curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, tls);
    }
    if (d && d->cert_pem && d->key_pem && !(tls && d->x509 && d->pkey)) {
        cb = (struct curl_blob){d->cert_pem, strlen(d->cert_pem), CURL_BLOB_COPY};
        kb = (struct curl_blob){d->key_pem, strlen(d->key_pem), CURL_BLOB_COPY};
        curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &kb);
        curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    }
    struct curl_slist *h = NULL;
    if (body) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    }
    curl_slist_free_all(h);
    return code;
}

static long request(CURL *c, const char *url, const char *ca, const struct device *d, const char *body, struct buf *out)
{
    return request_tls(c, url, ca, d, body, out, NULL);
}

static char *read_text(const char *dir, const char *name)
{
    char p[700];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    if (!f) {
        return NULL;
    }
    char *t = calloc(1, 65537);
    size_t n = t ? fread(t, 1, 65536, f) : 0;
    fclose(f);
    if (t) {
        t[n] = 0;
        while (n && t[n - 1] == '\n' && strcmp(name, "cert.pem") && strcmp(name, "key.pem")) {
            t[--n] = 0;
        }
    }
    return t;
}

static int write_text(const char *dir, const char *name, const char *text)
{
    char p[700];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) {
        return -1;
    }
    fputs(text, f);
    return fclose(f);
}

static char *pem_of(int (*wr)(BIO *, void *), void *obj)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (b && wr(b, obj) == 1) {
        char *d = NULL;
        long n = BIO_get_mem_data(b, &d);
        out = strndup(d, (size_t)n);
    }
    BIO_free(b);
    return out;
}

static int wr_key(BIO *b, void *k)
{
    return PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
}

static int wr_req(BIO *b, void *r)
{
    return PEM_write_bio_X509_REQ(b, r);
}

/* A key pair and its CSR (PEM). */
static int make_csr(const char *cn, char **key_pem, char **csr_pem)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509_REQ *r = X509_REQ_new();
    int ok = k && r && X509_REQ_set_pubkey(r, k) == 1 &&
             X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r), "CN", MBSTRING_ASC,
                                        (const unsigned char *)cn, -1, -1, 0) == 1 &&
             X509_REQ_sign(r, k, EVP_sha256()) > 0;
    *key_pem = ok ? pem_of(wr_key, k) : NULL;
    *csr_pem = ok ? pem_of(wr_req, r) : NULL;
    EVP_PKEY_free(k);
    X509_REQ_free(r);
    return *key_pem && *csr_pem ? 0 : -1;
}

static int load_key(struct device *d)
{
    char p[700];
    snprintf(p, sizeof(p), "%s/key.pem", d->dir);
    return fwt_privkey_load(p, NULL, &d->key) == FWT_OK ? 0 : -1;
}

/* Enroll; on 200 the device directory gets id, hw, serial, key.pem, cert.pem, ca.pem, root.json. */
static long enroll(CURL *c, const char *url, const char *ca, const char *token, struct device *d, struct buf *out)
{
    char *csr = NULL;
    if (make_csr(d->serial, &d->key_pem, &csr) != 0) {
        return -1;
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "token", token, "csr", csr, "hardware_id", d->hw, "serial", d->serial);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    free(csr);
    char u[600];
    snprintf(u, sizeof(u), "%s/v1/enroll", url);
    long code = request(c, u, ca, NULL, body, out);
    free(body);
    if (code != 200) {
        return code;
    }
    json_t *r = json_loads(out->p, 0, NULL);
    const char *id = json_string_value(json_object_get(r, "device_id"));
    const char *cert = json_string_value(json_object_get(r, "certificate"));
    if (!id || !cert) {
        json_decref(r);
        return -1;
    }
    snprintf(d->id, sizeof(d->id), "%s", id);
    d->cert_pem = strdup(cert);
    if (d->dir[0]) {
        char *root = json_dumps(json_object_get(r, "director_root"), JSON_COMPACT);
        mkdir(d->dir, 0700);
        write_text(d->dir, "id", d->id);
        write_text(d->dir, "hw", d->hw);
        write_text(d->dir, "serial", d->serial);
        write_text(d->dir, "key.pem", d->key_pem);
        write_text(d->dir, "cert.pem", d->cert_pem);
        write_text(d->dir, "ca.pem", json_string_value(json_object_get(r, "ca")));
        write_text(d->dir, "root.json", root ? root : "null");
        write_text(d->dir, "counter", "0");
        free(root);
    }
    json_decref(r);
    return code;
}

static void device_free(struct device *d)
{
    free(d->cert_pem);
    free(d->key_pem);
    fwt_privkey_free(d->key);
    X509_free(d->x509);
    EVP_PKEY_free(d->pkey);
    SSL_SESSION_free(d->sess);
    d->cert_pem = d->key_pem = NULL;
    d->key = NULL;
    d->x509 = NULL;
    d->pkey = NULL;
    d->sess = NULL;
}

/* --session FILE: the device's TLS session (PEM), read if there. */
static void session_load(struct device *d, const char *path)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (f) {
        d->sess = PEM_read_SSL_SESSION(f, NULL, NULL, NULL);
        fclose(f);
        ERR_clear_error();
    }
}

/* Save the device's session (a new one, when the server gave one), mode 0600. */
static void session_save(const struct device *d, const char *path, const struct tls_use *u)
{
    if (path) {
        fprintf(stderr, "tls: %s\n", u->resumed ? "resumed" : "full");
    }
    FILE *f = path && d->sess ? fopen(path, "w") : NULL;
    if (f) {
        fchmod(fileno(f), 0600);
        PEM_write_SSL_SESSION(f, d->sess);
        fclose(f);
    }
}

static int load_device(const char *dir, struct device *d)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->dir, sizeof(d->dir), "%s", dir);
    char *id = read_text(dir, "id"), *hw = read_text(dir, "hw"), *sn = read_text(dir, "serial"),
         *cnt = read_text(dir, "counter");
    d->cert_pem = read_text(dir, "cert.pem");
    d->key_pem = read_text(dir, "key.pem");
    int ok = id && hw && sn && cnt && d->cert_pem && d->key_pem;
    if (ok) {
        snprintf(d->id, sizeof(d->id), "%s", id);
        snprintf(d->hw, sizeof(d->hw), "%s", hw);
        snprintf(d->serial, sizeof(d->serial), "%s", sn);
        d->counter = strtoull(cnt, NULL, 10);
    }
    free(id);
    free(hw);
    free(sn);
    free(cnt);
    if (!ok || load_key(d) != 0) {
        device_free(d);
        return -1;
    }
    return 0;
}

/* A signed manifest (as the agent writes it) for counter n. */
static char *manifest(struct device *d, uint64_t n, const char *as_id)
{
    struct fwt_fleet_manifest *m = calloc(1, sizeof(*m));
    if (!m) {
        return NULL;
    }
    snprintf(m->device_id, sizeof(m->device_id), "%s", as_id ? as_id : d->id);
    snprintf(m->hardware_id, sizeof(m->hardware_id), "%s", d->hw);
    snprintf(m->serial, sizeof(m->serial), "%s", d->serial);
    m->counter = n;
    m->time = time(NULL);
    m->n_slots = 2;
    m->slots[0].slot = 'a';
    m->slots[0].state = FWT_FLEET_SLOT_CONFIRMED;
    m->slots[0].has_image = 1;
    snprintf(m->slots[0].name, sizeof(m->slots[0].name), "fw-1.0.0.bin");
    m->slots[0].length = 4096;
    memset(m->slots[0].sha256, 0x11, 32);
    snprintf(m->slots[0].version, sizeof(m->slots[0].version), "1.0.0+0");
    m->slots[1].slot = 'b';
    m->slots[1].state = FWT_FLEET_SLOT_EMPTY;
    char *out = NULL;
    size_t len = 0;
    if (fwt_fleet_nonce(m->nonce) != FWT_OK || fwt_fleet_manifest_sign(m, d->key, &out, &len) != FWT_OK) {
        out = NULL;
    }
    free(m);
    return out;
}

static void print_result(long code, const struct buf *b)
{
    printf("HTTP %ld\n%s\n", code, b->p ? b->p : "");
}

static int save_counter(struct device *d)
{
    char t[32];
    snprintf(t, sizeof(t), "%llu", (unsigned long long)d->counter);
    return write_text(d->dir, "counter", t);
}

static int cmd_checkin(CURL *c, int argc, char **argv)
{
    const char *url = argv[0], *ca = argv[1];
    struct device d;
    if (load_device(argv[2], &d) != 0) {
        fprintf(stderr, "fleet-sim: %s: not an enrolled device directory\n", argv[2]);
        return 2;
    }
    uint64_t n = d.counter + 1;
    const char *as = NULL;
    int bad_sig = 0, stale = 0;
    const char *session = NULL;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--session") && i + 1 < argc) {
            session = argv[++i];
            continue;
        }
        if (!strcmp(argv[i], "--counter") && i + 1 < argc) {
            n = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--as") && i + 1 < argc) {
            as = argv[++i];
        } else if (!strcmp(argv[i], "--bad-sig")) {
            bad_sig = 1;
        } else if (!strcmp(argv[i], "--stale")) {
            stale = 1;
        } else if (!strcmp(argv[i], "--sign-key") && i + 1 < argc) {
            /* sign with another key than the certificate's */
            fwt_privkey_free(d.key);
            d.key = NULL;
            if (fwt_privkey_load(argv[++i], NULL, &d.key) != FWT_OK) {
                fprintf(stderr, "fleet-sim: %s: %s\n", argv[i], fwt_detail());
                return 2;
            }
        }
    }
    char *body = NULL;
    if (stale) { /* the last body sent, again: a replay */
        body = read_text(d.dir, "last-manifest");
    } else {
        body = manifest(&d, n, as);
    }
    if (!body) {
        fprintf(stderr, "fleet-sim: cannot make the manifest\n");
        device_free(&d);
        return 2;
    }
    if (bad_sig) { /* flip one hex digit of the signature */
        char *sig = strstr(body, "\"sig\":\"");
        if (sig) {
            sig[10] = sig[10] == '0' ? '1' : '0';
        }
    }
    char u[600];
    snprintf(u, sizeof(u), "%s/v1/checkin", url);
    struct buf b = {0};
    session_load(&d, session);
    struct tls_use tu = {&d, 1, 0};
    long code = request_tls(c, u, ca, &d, body, &b, &tu);
    session_save(&d, session, &tu);
    if (!stale) {
        write_text(d.dir, "last-manifest", body);
    }
    if (code == 200) {
        d.counter = n;
        save_counter(&d);
    }
    print_result(code, &b);
    free(b.p);
    free(body);
    device_free(&d);
    return code ? 0 : 2;
}

static int cmd_report(CURL *c, char **argv)
{
    struct device d;
    if (load_device(argv[2], &d) != 0) {
        fprintf(stderr, "fleet-sim: %s: not an enrolled device directory\n", argv[2]);
        return 2;
    }
    struct fwt_fleet_report r;
    memset(&r, 0, sizeof(r));
    snprintf(r.device_id, sizeof(r.device_id), "%s", d.id);
    r.counter = d.counter + 1;
    r.time = time(NULL);
    snprintf(r.target, sizeof(r.target), "%s", argv[4]);
    int st = fwt_fleet_state_from_name(argv[3]);
    r.state = st < 0 ? FWT_FLEET_FAILED : (enum fwt_fleet_state)st;
    r.error = atoi(argv[5]);
    snprintf(r.reason, sizeof(r.reason), "%s", argv[6]);
    char *body = NULL;
    size_t len = 0;
    if (fwt_fleet_report_sign(&r, d.key, &body, &len) != FWT_OK) {
        fprintf(stderr, "fleet-sim: cannot sign the report: %s\n", fwt_detail());
        device_free(&d);
        return 2;
    }
    char u[600];
    snprintf(u, sizeof(u), "%s/v1/report", argv[0]);
    struct buf b = {0};
    long code = request(c, u, argv[1], &d, body, &b);
    if (code == 200) {
        d.counter = r.counter;
        save_counter(&d);
    }
    print_result(code, &b);
    free(b.p);
    free(body);
    device_free(&d);
    return code ? 0 : 2;
}

/* A new key and certificate for the device, over its current certificate. */
static int cmd_renew(CURL *c, char **argv)
{
    struct device d;
    if (load_device(argv[2], &d) != 0) {
        fprintf(stderr, "fleet-sim: %s: not an enrolled device directory\n", argv[2]);
        return 2;
    }
    char *key = NULL, *csr = NULL;
    if (make_csr(d.serial, &key, &csr) != 0) {
        return 2;
    }
    json_t *o = json_pack("{s:s}", "csr", csr);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char u[600];
    snprintf(u, sizeof(u), "%s/v1/renew", argv[0]);
    struct buf b = {0};
    long code = request(c, u, argv[1], &d, body, &b);
    if (code == 200) {
        json_t *r = json_loads(b.p, 0, NULL);
        const char *cert = json_string_value(json_object_get(r, "certificate"));
        if (cert) {
            write_text(d.dir, "old-cert.pem", d.cert_pem);
            write_text(d.dir, "old-key.pem", d.key_pem);
            write_text(d.dir, "cert.pem", cert);
            write_text(d.dir, "key.pem", key);
        }
        json_decref(r);
    }
    print_result(code, &b);
    free(b.p);
    free(body);
    free(key);
    free(csr);
    device_free(&d);
    return code ? 0 : 2;
}

/* ---- bench ---- */

/* One phase of check-ins: latencies (ms) and counts. */
struct phase {
    double *lat;
    size_t n_lat, cap_lat;
    size_t ok, full, errors, refused_injected;
    double seconds;
    double server_cpu; /* --server-pid: CPU seconds the server used in the phase (-1: unknown) */
};

/* CPU seconds (user + system) process pid has used, or -1. */
static double proc_cpu1(long pid)
{
    if (pid <= 0) {
        return -1;
    }
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f) {
        fclose(f);
    }
    buf[n] = 0;
    /* after the command name in parentheses: field 3 onwards; utime and stime are 14, 15 */
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) {
        return -1;
    }
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds of the processes pid[0..] (0 ends the list), or -1. */
static double proc_cpu(const long *pid)
{
    double sum = -1;
    for (size_t i = 0; i < BENCH_SERVERS && pid[i] > 0; i++) {
        double c = proc_cpu1(pid[i]);
        if (c < 0) {
            return -1;
        }
        sum = (sum < 0 ? 0 : sum) + c;
    }
    return sum;
}

struct bench {
    const char *url, *ca;
    /* URL may list several servers (comma-separated, one database): device i talks to
     * urls[i % n_urls], bare-handshake thread i to urls[i % n_urls] */
    char *urls[BENCH_SERVERS];
    size_t n_urls;
    char **tokens;
    struct device *dev;
    size_t n;
    int threads;
    double seconds;
    int fail_pct;
    double rate; /* resumed phase: offered check-ins per second (0: closed loop) */
    size_t next; /* next device to enroll; in a fixed-rate phase, the next request due */
    pthread_mutex_t mu;
    size_t ok_enroll, errors;
    int resume;  /* this phase resumes sessions */
    double t_start, t_end;
    struct phase *ph;
    long server_pid[BENCH_SERVERS]; /* --server-pid P[,P...]: their CPU time is measured per phase */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* PEM to OpenSSL objects, once per device (the bench's TLS uses them directly). */
static int decode_keys(struct device *d)
{
    BIO *cb = BIO_new_mem_buf(d->cert_pem, -1), *kb = BIO_new_mem_buf(d->key_pem, -1);
    d->x509 = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    d->pkey = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    BIO_free(cb);
    BIO_free(kb);
    return d->x509 && d->pkey ? 0 : -1;
}

static void *enroll_thread(void *arg)
{
    struct bench *b = arg;
    CURL *c = curl_easy_init();
    for (;;) {
        pthread_mutex_lock(&b->mu);
        size_t i = b->next++;
        pthread_mutex_unlock(&b->mu);
        if (i >= b->n) {
            break;
        }
        struct device *d = &b->dev[i];
        snprintf(d->hw, sizeof(d->hw), "sim-board");
        snprintf(d->serial, sizeof(d->serial), "SIM-%08zu-%d", i, (int)getpid());
        struct buf out = {0};
        long code = enroll(c, b->urls[i % b->n_urls], b->ca, b->tokens[i], d, &out);
        free(out.p);
        /* the signing key: the same PEM, through the crypto layer (a file, as the agent) */
        int ok = code == 200 && decode_keys(d) == 0;
        if (ok) {
            char p[] = "/tmp/fleet-sim-key-XXXXXX";
            int fd = mkstemp(p);
            ok = fd >= 0 && write(fd, d->key_pem, strlen(d->key_pem)) == (ssize_t)strlen(d->key_pem);
            if (fd >= 0) {
                close(fd);
            }
            ok = ok && fwt_privkey_load(p, NULL, &d->key) == FWT_OK;
            unlink(p);
        }
        pthread_mutex_lock(&b->mu);
        if (ok) {
            b->ok_enroll++;
        } else {
            b->errors++;
        }
        pthread_mutex_unlock(&b->mu);
    }
    curl_easy_cleanup(c);
    return NULL;
}

static void add_lat(struct phase *p, double ms)
{
    if (p->n_lat == p->cap_lat) {
        p->cap_lat = p->cap_lat ? p->cap_lat * 2 : 4096;
        p->lat = realloc(p->lat, p->cap_lat * sizeof(double));
    }
    p->lat[p->n_lat++] = ms;
}

/* Check-ins until t_end: closed loop (each thread one after the other), or at a fixed rate
 * (request k due at t_start + k / rate; its latency counted from then). A resuming phase
 * picks devices that hold a session. */
static void *checkin_thread(void *arg)
{
    struct bench *b = arg;
    struct phase *p = b->ph;
    CURL *c = curl_easy_init();
    unsigned seed = (unsigned)(size_t)pthread_self() ^ (unsigned)getpid();
    for (;;) {
        double due = 0;
        if (b->rate > 0) {
            pthread_mutex_lock(&b->mu);
            due = b->t_start + (double)b->next++ / b->rate;
            pthread_mutex_unlock(&b->mu);
            /* the phase ends at t_end: what was due and not sent by then is not served (the
             * achieved rate and the latencies show the overload) */
            if (due >= b->t_end || now_s() >= b->t_end) {
                break;
            }
            double w = due - now_s();
            if (w > 0) {
                struct timespec ts = {(time_t)w, (long)((w - (double)(time_t)w) * 1e9)};
                nanosleep(&ts, NULL);
            }
        } else if (now_s() >= b->t_end) {
            break;
        }
        struct device *d = NULL;
        uint64_t n = 0;
        for (int tries = 0; tries < 1000 && !d; tries++) {
            struct device *x = &b->dev[(size_t)rand_r(&seed) % b->n];
            pthread_mutex_lock(&b->mu);
            /* one request per device at a time */
            if (x->key && x->counter != UINT64_MAX && (!b->resume || x->sess)) {
                n = x->counter + 1;
                x->counter = UINT64_MAX;
                d = x;
            }
            pthread_mutex_unlock(&b->mu);
        }
        if (!d) {
            continue;
        }
        /* failure injection: a bad signature now and then (must be refused) */
        int inject = b->fail_pct > 0 && (int)(rand_r(&seed) % 100) < b->fail_pct;
        double t0 = b->rate > 0 ? due : now_s();
        char *body = manifest(d, n, NULL);
        if (body && inject) {
            char *sig = strstr(body, "\"sig\":\"");
            if (sig) {
                sig[10] = sig[10] == '0' ? '1' : '0';
            }
        }
        char u[600];
        snprintf(u, sizeof(u), "%s/v1/checkin", b->urls[(size_t)(d - b->dev) % b->n_urls]);
        struct buf out = {0};
        struct tls_use tu = {d, b->resume, 0};
        long code = body ? request_tls(c, u, b->ca, d, body, &out, &tu) : 0;
        double ms = (now_s() - t0) * 1000.0;
        free(out.p);
        free(body);
        pthread_mutex_lock(&b->mu);
        d->counter = code == 200 ? n : n - 1;
        if (inject) {
            p->refused_injected += code == 403;
            p->errors += code != 403;
        } else if (code == 200 && b->resume && !tu.resumed) {
            p->full++; /* the session was not taken: a full handshake, counted apart */
        } else if (code == 200) {
            p->ok++;
            add_lat(p, ms);
        } else {
            p->errors++;
        }
        pthread_mutex_unlock(&b->mu);
    }
    curl_easy_cleanup(c);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void run_phase(struct bench *b, pthread_t *th, struct phase *p, int resume, double rate)
{
    memset(p, 0, sizeof(*p));
    b->ph = p;
    b->resume = resume;
    b->rate = rate;
    b->next = 0;
    double cpu0 = proc_cpu(b->server_pid);
    b->t_start = now_s();
    b->t_end = b->t_start + b->seconds;
    for (int i = 0; i < b->threads; i++) {
        pthread_create(&th[i], NULL, checkin_thread, b);
    }
    for (int i = 0; i < b->threads; i++) {
        pthread_join(th[i], NULL);
    }
    p->seconds = now_s() - b->t_start;
    double cpu1 = proc_cpu(b->server_pid);
    p->server_cpu = cpu0 >= 0 && cpu1 >= cpu0 ? cpu1 - cpu0 : -1;
    qsort(p->lat, p->n_lat, sizeof(double), cmp_d);
}

static json_t *phase_json(const struct phase *p, double rate)
{
    double p50 = p->n_lat ? p->lat[p->n_lat / 2] : 0, p99 = p->n_lat ? p->lat[(p->n_lat * 99) / 100] : 0;
    json_t *o = json_pack("{s:I, s:f, s:f, s:f, s:I, s:I, s:I, s:f}", "checkins", (json_int_t)p->ok, "per_second",
                          (double)p->ok / p->seconds, "p50_ms", p50, "p99_ms", p99, "full_handshakes",
                          (json_int_t)p->full, "errors", (json_int_t)p->errors, "injected_bad_signatures_refused",
                          (json_int_t)p->refused_injected, "seconds", p->seconds);
    if (rate > 0) {
        json_object_set_new(o, "offered_per_second", json_real(rate));
    }
    size_t served = p->ok + p->full + p->refused_injected + p->errors;
    if (p->server_cpu >= 0 && served > 0) {
        /* what one core of this machine serves: the server's CPU time per request answered */
        json_object_set_new(o, "server_cpu_ms_per_checkin", json_real(p->server_cpu * 1000.0 / (double)served));
        json_object_set_new(o, "server_cpu_cores", json_real(p->server_cpu / p->seconds));
    }
    return o;
}

/* Bare TLS handshakes per second against the same server, same stack (OpenSSL), with a
 * device certificate: connect, handshake, close; resume: each offers the session of a
 * first handshake. */
struct hs {
    const char *host;
    int port;
    const char *ca;
    struct device *d;
    double t_end;
    int resume;
    size_t count, resumed;
};

static SSL *hs_connect(SSL_CTX *ctx, const char *target, SSL_SESSION *sess, BIO **bio)
{
    BIO *b = BIO_new_ssl_connect(ctx);
    SSL *ssl = NULL;
    BIO_get_ssl(b, &ssl);
    BIO_set_conn_hostname(b, target);
    if (sess) {
        SSL_set_session(ssl, sess);
    }
    *bio = b;
    return BIO_do_connect(b) == 1 && BIO_do_handshake(b) == 1 ? ssl : NULL;
}

static void *hs_thread(void *arg)
{
    struct hs *h = arg;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx, h->ca, NULL);
    SSL_CTX_use_certificate(ctx, h->d->x509);
    SSL_CTX_use_PrivateKey(ctx, h->d->pkey);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    char target[300];
    snprintf(target, sizeof(target), "%s:%d", h->host, h->port);
    SSL_SESSION *sess = NULL;
    if (h->resume) {
        /* a first handshake; its ticket comes after the handshake: read until it is there */
        BIO *b = NULL;
        SSL *ssl = hs_connect(ctx, target, NULL, &b);
        for (int i = 0; ssl && i < 100 && !SSL_SESSION_is_resumable(SSL_get0_session(ssl)); i++) {
            char x;
            int fd = -1;
            BIO_get_fd(b, &fd);
            struct timeval tv = {0, 20000};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            (void)SSL_read(ssl, &x, 1);
            ERR_clear_error();
        }
        sess = ssl ? SSL_get1_session(ssl) : NULL;
        BIO_free_all(b);
    }
    size_t n = 0, r = 0;
    while (now_s() < h->t_end && (!h->resume || sess)) {
        BIO *b = NULL;
        SSL *ssl = hs_connect(ctx, target, sess, &b);
        if (ssl) {
            n++;
            r += SSL_session_reused(ssl) == 1;
        }
        BIO_free_all(b);
    }
    h->count = n;
    h->resumed = r;
    SSL_SESSION_free(sess);
    SSL_CTX_free(ctx);
    return NULL;
}

static double hs_rate(struct bench *b, pthread_t *th, struct device *any, int resume, size_t *resumed)
{
    char host[BENCH_SERVERS][256];
    int port[BENCH_SERVERS];
    for (size_t k = 0; k < b->n_urls; k++) {
        snprintf(host[k], sizeof(host[k]), "127.0.0.1");
        port[k] = 443;
        const char *hp = strstr(b->urls[k], "://");
        if (hp) {
            sscanf(hp + 3, "%255[^:]:%d", host[k], &port[k]);
        }
    }
    struct hs *hs = calloc((size_t)b->threads, sizeof(struct hs));
    double ht = b->seconds < 5 ? b->seconds : 5;
    double h0 = now_s();
    for (int i = 0; i < b->threads; i++) {
        size_t k = (size_t)i % b->n_urls;
        hs[i] = (struct hs){host[k], port[k], b->ca, any, h0 + ht, resume, 0, 0};
        pthread_create(&th[i], NULL, hs_thread, &hs[i]);
    }
    size_t total = 0, r = 0;
    for (int i = 0; i < b->threads; i++) {
        pthread_join(th[i], NULL);
        total += hs[i].count;
        r += hs[i].resumed;
    }
    free(hs);
    *resumed = r;
    return (double)total / (now_s() - h0);
}

static int cmd_bench(char **argv, int argc)
{
    struct bench b;
    memset(&b, 0, sizeof(b));
    pthread_mutex_init(&b.mu, NULL);
    b.url = argv[0];
    b.ca = argv[1];
    b.n = strtoul(argv[3], NULL, 10);
    b.threads = atoi(argv[4]);
    b.seconds = atof(argv[5]);
    double rate = 0;
    for (int i = 6; i < argc; i++) {
        if (!strcmp(argv[i], "--rate") && i + 1 < argc) {
            rate = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--server-pid") && i + 1 < argc) {
            char *q = argv[++i];
            for (size_t k = 0; k < BENCH_SERVERS && *q; k++) {
                b.server_pid[k] = strtol(q, &q, 10);
                q += *q == ',';
            }
        } else {
            b.fail_pct = atoi(argv[i]);
        }
    }
    for (char *q = argv[0]; q && b.n_urls < BENCH_SERVERS;) {
        char *comma = strchr(q, ',');
        b.urls[b.n_urls++] = comma ? strndup(q, (size_t)(comma - q)) : strdup(q);
        q = comma ? comma + 1 : NULL;
    }
    b.url = b.urls[0];
    if (b.n == 0 || b.threads <= 0 || b.threads > 256 || b.seconds <= 0 || rate < 0) {
        fprintf(stderr, "fleet-sim bench: DEVICES, THREADS (1-256), SECONDS and --rate must be positive\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        fprintf(stderr, "fleet-sim bench: %s: %s\n", argv[2], strerror(errno));
        return 2;
    }
    b.tokens = calloc(b.n, sizeof(char *));
    b.dev = calloc(b.n, sizeof(struct device));
    char line[256];
    size_t nt = 0;
    while (nt < b.n && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        b.tokens[nt++] = strdup(line);
    }
    fclose(f);
    if (nt < b.n) {
        fprintf(stderr, "fleet-sim bench: %zu tokens for %zu devices\n", nt, b.n);
        return 2;
    }
    if (!(g_store = X509_STORE_new()) || X509_STORE_load_file(g_store, b.ca) != 1) {
        fprintf(stderr, "fleet-sim bench: %s: cannot load the CA certificate\n", b.ca);
        return 2;
    }
    pthread_t *th = calloc((size_t)b.threads, sizeof(pthread_t));
    double t0 = now_s();
    for (int i = 0; i < b.threads; i++) {
        pthread_create(&th[i], NULL, enroll_thread, &b);
    }
    for (int i = 0; i < b.threads; i++) {
        pthread_join(th[i], NULL);
    }
    double enroll_s = now_s() - t0;
    size_t enrolled = b.ok_enroll, enroll_errors = b.errors;
    /* check-ins with a full handshake each (sessions are kept for the next phase), then
     * check-ins resuming them: closed loop, then (--rate) at the offered rate */
    struct phase full, res, fixed;
    memset(&fixed, 0, sizeof(fixed));
    run_phase(&b, th, &full, 0, 0);
    run_phase(&b, th, &res, 1, 0);
    if (rate > 0) {
        run_phase(&b, th, &fixed, 1, rate);
    }
    struct device *any = NULL;
    for (size_t i = 0; i < b.n && !any; i++) {
        any = b.dev[i].key ? &b.dev[i] : NULL;
    }
    double hs_full = 0, hs_res = 0;
    size_t hs_resumed = 0, unused = 0;
    if (any) {
        hs_full = hs_rate(&b, th, any, 0, &unused);
        hs_res = hs_rate(&b, th, any, 1, &hs_resumed);
    }
    size_t errors = enroll_errors + full.errors + res.errors + fixed.errors;
    json_t *o = json_pack("{s:I, s:I, s:f, s:f, s:o, s:o, s:f, s:f, s:I, s:I, s:i}", "devices", (json_int_t)b.n,
                          "enrolled", (json_int_t)enrolled, "enroll_seconds", enroll_s, "enroll_per_second",
                          (double)enrolled / enroll_s, "checkin_full_handshake", phase_json(&full, 0),
                          "checkin_resumed", phase_json(&res, 0), "bare_tls_handshakes_per_second", hs_full,
                          "bare_tls_resumed_handshakes_per_second", hs_res, "bare_tls_resumed_handshakes_resumed",
                          (json_int_t)hs_resumed, "errors", (json_int_t)errors, "threads", b.threads);
    if (rate > 0) {
        json_t *fx = phase_json(&fixed, rate);
        /* reachable: the offered rate served (95 %), p99 under 100 ms, no errors */
        double served = (double)fixed.ok / fixed.seconds;
        double p99 = fixed.n_lat ? fixed.lat[(fixed.n_lat * 99) / 100] : 0;
        json_object_set_new(fx, "reached", json_boolean(served >= 0.95 * rate && p99 < 100.0 && !fixed.errors));
        json_object_set_new(o, "checkin_resumed_fixed_rate", fx);
    }
    char *t = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    printf("%s\n", t);
    free(t);
    json_decref(o);
    return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *c = curl_easy_init();
    int rc = 2;
    if (argc >= 8 && !strcmp(argv[1], "enroll")) {
        struct device d;
        memset(&d, 0, sizeof(d));
        snprintf(d.hw, sizeof(d.hw), "%s", argv[5]);
        snprintf(d.serial, sizeof(d.serial), "%s", argv[6]);
        snprintf(d.dir, sizeof(d.dir), "%s", argv[7]);
        struct buf out = {0};
        long code = enroll(c, argv[2], argv[3], argv[4], &d, &out);
        print_result(code, &out);
        free(out.p);
        device_free(&d);
        rc = code > 0 ? 0 : 2;
    } else if (argc >= 5 && !strcmp(argv[1], "checkin")) {
        rc = cmd_checkin(c, argc - 2, argv + 2);
    } else if (argc >= 5 && !strcmp(argv[1], "renew")) {
        rc = cmd_renew(c, argv + 2);
    } else if (argc >= 9 && !strcmp(argv[1], "report")) {
        rc = cmd_report(c, argv + 2);
    } else if (argc >= 6 && !strcmp(argv[1], "get")) {
        struct device d;
        if (load_device(argv[4], &d) == 0) {
            char u[700];
            snprintf(u, sizeof(u), "%s%s", argv[2], argv[5]);
            struct buf out = {0};
            long code = request(c, u, argv[3], &d, NULL, &out);
            print_result(code, &out);
            free(out.p);
            device_free(&d);
            rc = code > 0 ? 0 : 2;
        }
    } else if (argc >= 8 && !strcmp(argv[1], "bench")) {
        rc = cmd_bench(argv + 2, argc - 2);
    } else {
        fprintf(stderr, "usage: fleet-sim enroll|checkin|renew|report|get|bench ... (see bench/fleet/fleet_sim.c)\n");
        rc = 1;
    }
    curl_easy_cleanup(c);
    curl_global_cleanup();
    return rc;
}
