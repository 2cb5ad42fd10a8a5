/*
 * fleet-sim: a device simulator for fwtrust-server. Each virtual device has
 * its own ECDSA P-256 key, CSR and certificate, and a counter; it enrolls,
 * checks in with a signed manifest (fwt_fleet, the agent's writer), fetches
 * its director metadata and reports. Single commands drive the tests
 * (the shell tests in tests/server); `bench` runs many devices on threads and measures.
 *
 *   fleet-sim enroll  URL CA TOKEN HW SERIAL DIR
 *   fleet-sim checkin URL CA DIR [--counter N] [--as ID] [--bad-sig] [--stale] [--sign-key PEM]
 *   fleet-sim renew   URL CA DIR          (new key and certificate; the old ones kept as old-*.pem)
 *   fleet-sim report  URL CA DIR STATE TARGET ERROR REASON
 *   fleet-sim get     URL CA DIR PATH
 *   fleet-sim bench   URL CA TOKENS_FILE DEVICES THREADS SECONDS [FAIL_PERCENT]
 *
 * Single commands print "HTTP CODE" and the body, exit 0 when the request was
 * made (whatever the status), 2 when it could not be. bench prints JSON.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
};

/* One HTTPS request. Returns the status (0: no answer); body in *out. */
static long request(CURL *c, const char *url, const char *ca, const struct device *d, const char *body, struct buf *out)
{
    curl_easy_reset(c);
    out->p = NULL;
    out->n = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L); /* every device request is a fresh connection */
    struct curl_blob cb, kb;
    if (d && d->cert_pem && d->key_pem) {
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
    d->cert_pem = d->key_pem = NULL;
    d->key = NULL;
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
    for (int i = 3; i < argc; i++) {
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
    long code = request(c, u, ca, &d, body, &b);
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

struct bench {
    const char *url, *ca;
    char **tokens;
    struct device *dev;
    size_t n;
    int threads;
    double seconds;
    int fail_pct;
    size_t next; /* next device to enroll */
    pthread_mutex_t mu;
    double *lat;  /* check-in latencies, ms */
    size_t n_lat, cap_lat;
    size_t ok_enroll, ok_checkin, errors, refused_injected;
    double t_end;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
        long code = enroll(c, b->url, b->ca, b->tokens[i], d, &out);
        free(out.p);
        /* the signing key: the same PEM, through the crypto layer (a file, as the agent) */
        int ok = code == 200;
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

static void *checkin_thread(void *arg)
{
    struct bench *b = arg;
    CURL *c = curl_easy_init();
    unsigned seed = (unsigned)(size_t)pthread_self();
    for (size_t k = 0; now_s() < b->t_end; k++) {
        size_t i = (size_t)rand_r(&seed) % b->n;
        struct device *d = &b->dev[i];
        pthread_mutex_lock(&b->mu);
        int busy = !d->key || d->counter == UINT64_MAX; /* one request per device at a time */
        uint64_t n = d->counter + 1;
        if (!busy) {
            d->counter = UINT64_MAX;
        }
        pthread_mutex_unlock(&b->mu);
        if (busy) {
            continue;
        }
        /* failure injection: a bad signature now and then (must be refused) */
        int inject = b->fail_pct > 0 && (int)(rand_r(&seed) % 100) < b->fail_pct;
        char *body = manifest(d, n, NULL);
        if (body && inject) {
            char *sig = strstr(body, "\"sig\":\"");
            if (sig) {
                sig[10] = sig[10] == '0' ? '1' : '0';
            }
        }
        char u[600];
        snprintf(u, sizeof(u), "%s/v1/checkin", b->url);
        struct buf out = {0};
        double t0 = now_s();
        long code = body ? request(c, u, b->ca, d, body, &out) : 0;
        double ms = (now_s() - t0) * 1000.0;
        free(out.p);
        free(body);
        pthread_mutex_lock(&b->mu);
        d->counter = code == 200 ? n : n - 1;
        if (inject) {
            b->refused_injected += code == 403;
            b->errors += code != 403;
        } else if (code == 200) {
            b->ok_checkin++;
            if (b->n_lat == b->cap_lat) {
                b->cap_lat = b->cap_lat ? b->cap_lat * 2 : 4096;
                b->lat = realloc(b->lat, b->cap_lat * sizeof(double));
            }
            b->lat[b->n_lat++] = ms;
        } else {
            b->errors++;
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

/* Bare TLS handshakes per second against the same server, same stack (OpenSSL), with a
 * device certificate: connect, handshake, close. */
struct hs {
    const char *host;
    int port;
    const char *ca;
    struct device *d;
    double t_end;
    size_t count;
};

static void *hs_thread(void *arg)
{
    struct hs *h = arg;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx, h->ca, NULL);
    BIO *cb = BIO_new_mem_buf(h->d->cert_pem, -1), *kb = BIO_new_mem_buf(h->d->key_pem, -1);
    X509 *cert = PEM_read_bio_X509(cb, NULL, NULL, NULL);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
    SSL_CTX_use_certificate(ctx, cert);
    SSL_CTX_use_PrivateKey(ctx, key);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    char target[300];
    snprintf(target, sizeof(target), "%s:%d", h->host, h->port);
    size_t n = 0;
    while (now_s() < h->t_end) {
        BIO *b = BIO_new_ssl_connect(ctx);
        SSL *ssl = NULL;
        BIO_get_ssl(b, &ssl);
        BIO_set_conn_hostname(b, target);
        if (BIO_do_connect(b) == 1 && BIO_do_handshake(b) == 1) {
            n++;
        }
        BIO_free_all(b);
    }
    h->count = n;
    X509_free(cert);
    EVP_PKEY_free(key);
    BIO_free(cb);
    BIO_free(kb);
    SSL_CTX_free(ctx);
    return NULL;
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
    b.fail_pct = argc > 6 ? atoi(argv[6]) : 0;
    if (b.n == 0 || b.threads <= 0 || b.threads > 256 || b.seconds <= 0) {
        fprintf(stderr, "fleet-sim bench: DEVICES, THREADS (1-256) and SECONDS must be positive\n");
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
    pthread_t *th = calloc((size_t)b.threads, sizeof(pthread_t));
    double t0 = now_s();
    for (int i = 0; i < b.threads; i++) {
        pthread_create(&th[i], NULL, enroll_thread, &b);
    }
    for (int i = 0; i < b.threads; i++) {
        pthread_join(th[i], NULL);
    }
    double enroll_s = now_s() - t0;
    size_t enrolled = b.ok_enroll;
    b.errors = 0;
    b.t_end = now_s() + b.seconds;
    t0 = now_s();
    for (int i = 0; i < b.threads; i++) {
        pthread_create(&th[i], NULL, checkin_thread, &b);
    }
    for (int i = 0; i < b.threads; i++) {
        pthread_join(th[i], NULL);
    }
    double checkin_s = now_s() - t0;
    qsort(b.lat, b.n_lat, sizeof(double), cmp_d);
    double p50 = b.n_lat ? b.lat[b.n_lat / 2] : 0, p99 = b.n_lat ? b.lat[(b.n_lat * 99) / 100] : 0;
    /* bare handshakes, same threads, same time */
    char host[256] = "127.0.0.1";
    int port = 443;
    const char *hp = strstr(b.url, "://");
    if (hp) {
        sscanf(hp + 3, "%255[^:]:%d", host, &port);
    }
    struct hs *hs = calloc((size_t)b.threads, sizeof(struct hs));
    struct device *any = NULL;
    for (size_t i = 0; i < b.n && !any; i++) {
        any = b.dev[i].key ? &b.dev[i] : NULL;
    }
    double hs_rate = 0;
    if (any) {
        double ht = b.seconds < 5 ? b.seconds : 5;
        double h0 = now_s();
        for (int i = 0; i < b.threads; i++) {
            hs[i] = (struct hs){host, port, b.ca, any, h0 + ht, 0};
            pthread_create(&th[i], NULL, hs_thread, &hs[i]);
        }
        size_t total = 0;
        for (int i = 0; i < b.threads; i++) {
            pthread_join(th[i], NULL);
            total += hs[i].count;
        }
        hs_rate = (double)total / (now_s() - h0);
    }
    json_t *o = json_pack("{s:I, s:I, s:f, s:f, s:I, s:f, s:f, s:f, s:I, s:I, s:f, s:i}", "devices", (json_int_t)b.n,
                          "enrolled", (json_int_t)enrolled, "enroll_seconds", enroll_s, "enroll_per_second",
                          (double)enrolled / enroll_s, "checkins", (json_int_t)b.ok_checkin, "checkins_per_second",
                          (double)b.ok_checkin / checkin_s, "checkin_p50_ms", p50, "checkin_p99_ms", p99,
                          "errors", (json_int_t)b.errors, "injected_bad_signatures_refused",
                          (json_int_t)b.refused_injected, "bare_tls_handshakes_per_second", hs_rate, "threads",
                          b.threads);
    char *t = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    printf("%s\n", t);
    free(t);
    json_decref(o);
    return b.errors ? 1 : 0;
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
