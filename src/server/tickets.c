/*
 * TLS session tickets for device check-ins (TLS 1.3 resumption; 1.2 likewise).
 *
 * A device that resumes skips the certificate exchange, the server's signature and the
 * client certificate's decoding and chain verification: the expensive half of a
 * handshake. What a full handshake checks is still checked on resumption, here in the
 * ticket decryption callback (and again per request by the API, http.c):
 *   - the ticket was made by this server (or one sharing its key file) within
 *     tls_ticket_hours of the full handshake that verified the client certificate (the
 *     time of that handshake travels inside the encrypted ticket, so chained
 *     resumptions do not extend it);
 *   - the certificate in the session is within its validity period;
 *   - its device is active.
 * Anything else is a full handshake, where the verify callback refuses revoked and
 * decommissioned devices as always (so they fail the handshake). Not ABORT: OpenSSL 3.0
 * leaks the decrypted session then.
 * Early data (0-RTT) stays off: a check-in is never replayable at the TLS layer.
 *
 * Keys: 16-byte name, AES-256-CBC key, HMAC-SHA256 key (OpenSSL's ticket format).
 * Without tls_ticket_key_file: random per process, a new one every tls_ticket_hours, the
 * one before still accepted (so a ticket is usable for at most its lifetime). With it:
 * lines of 160 hex digits (name, AES key, HMAC key); the first line makes tickets, every
 * line is accepted; the file must be mode 0600 (no group or other access); re-read when it
 * changes (checked every 10 s), a bad new file keeps the keys in use.
 */
#include "srv.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define TK_MAX 8
#define TK_LINE 160 /* hex digits: 16 + 32 + 32 bytes */
#define TK_RECHECK 10

struct tkey {
    unsigned char name[16], aes[32], hmac[32];
};

struct srv_tickets {
    fwt_srv *s;
    int64_t lifetime;     /* seconds */
    struct tkey k[TK_MAX]; /* k[0] makes tickets */
    size_t n;
    time_t made;          /* random keys: when k[0] was made */
    const char *file;     /* shared keys, or NULL */
    time_t checked;       /* file: last stat */
    struct stat st;       /* file: what was read */
};

static void keys_wipe(struct srv_tickets *t)
{
    OPENSSL_cleanse(t->k, sizeof(t->k));
    t->n = 0;
}

static fwt_err new_random_key(struct srv_tickets *t)
{
    struct tkey nk;
    if (RAND_bytes((unsigned char *)&nk, sizeof(nk)) != 1) {
        ERR_clear_error();
        return fwt_fail(FWT_E_CRYPTO, "no random bytes for a TLS ticket key");
    }
    /* the newest first, the one before it kept for tickets still out there */
    t->k[1] = t->k[0];
    t->k[0] = nk;
    t->n = t->n ? 2 : 1;
    t->made = time(NULL);
    OPENSSL_cleanse(&nk, sizeof(nk));
    return FWT_OK;
}

/* Keys from the text of a key file: 1..TK_MAX lines of 160 hex digits (blank lines skipped). */
static fwt_err parse_keys(const uint8_t *buf, size_t len, const char *path, struct tkey *k, size_t *n)
{
    fwt_err e = FWT_OK;
    *n = 0;
    size_t i = 0, line = 0;
    while (e == FWT_OK && i < len) {
        size_t ll = 0;
        while (i + ll < len && buf[i + ll] != '\n') {
            ll++;
        }
        line++;
        if (ll == 0) { /* blank line */
        } else if (ll != TK_LINE || *n == TK_MAX) {
            e = fwt_fail(FWT_E_MALFORMED, "TLS ticket key file %s: line %zu: expected %d hex digits (at most %d keys)",
                         path, line, TK_LINE, TK_MAX);
        } else {
            char hex[TK_LINE + 1];
            memcpy(hex, buf + i, TK_LINE);
            hex[TK_LINE] = 0;
            if (fwt_hex_decode(hex, (uint8_t *)&k[*n], sizeof(k[0])) != FWT_OK) {
                e = fwt_fail(FWT_E_MALFORMED, "TLS ticket key file %s: line %zu: not hex", path, line);
            } else {
                (*n)++;
            }
            OPENSSL_cleanse(hex, sizeof(hex));
        }
        i += ll + 1;
    }
    if (e == FWT_OK && *n == 0) {
        e = fwt_fail(FWT_E_MALFORMED, "TLS ticket key file %s: no key", path);
    }
    if (e != FWT_OK) {
        OPENSSL_cleanse(k, TK_MAX * sizeof(*k));
        *n = 0;
    }
    return e;
}

fwt_err srv_ticket_keys_check(const uint8_t *buf, size_t len, size_t *n)
{
    struct tkey k[TK_MAX];
    fwt_err e = parse_keys(buf, len, "(given)", k, n);
    OPENSSL_cleanse(k, sizeof(k));
    return e;
}

/* Read the shared key file: mode 0600, then parse_keys. */
static fwt_err read_key_file(const char *path, struct tkey *k, size_t *n, struct stat *st)
{
    if (stat(path, st) != 0) {
        return fwt_fail(FWT_E_IO, "TLS ticket key file %s: %s", path, strerror(errno));
    }
    if (!S_ISREG(st->st_mode) || (st->st_mode & 077) != 0) {
        return fwt_fail(FWT_E_KEY, "TLS ticket key file %s: must be a regular file of mode 0600 (no group or other "
                                   "access)", path);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err e = fwt_read_file(path, 4096, &buf, &len);
    if (e != FWT_OK) {
        return fwt_fail(e, "TLS ticket key file %s: %s", path, fwt_detail());
    }
    e = parse_keys(buf, len, path, k, n);
    OPENSSL_cleanse(buf, len);
    free(buf);
    return e;
}

/* Bring the keys up to date: rotate random keys, re-read a changed key file. */
static void keys_refresh(struct srv_tickets *t)
{
    time_t now = time(NULL);
    if (!t->file) {
        if (now - t->made >= t->lifetime && new_random_key(t) != FWT_OK) {
            fwt_detail_clear(); /* the key in use stays; tried again at the next ticket */
        }
        return;
    }
    if (now - t->checked < TK_RECHECK) {
        return;
    }
    t->checked = now;
    struct stat st;
    if (stat(t->file, &st) != 0 ||
        (st.st_mtim.tv_sec == t->st.st_mtim.tv_sec && st.st_mtim.tv_nsec == t->st.st_mtim.tv_nsec &&
         st.st_size == t->st.st_size && st.st_ino == t->st.st_ino)) {
        return;
    }
    struct tkey k[TK_MAX];
    size_t n = 0;
    if (read_key_file(t->file, k, &n, &st) == FWT_OK) {
        keys_wipe(t);
        memcpy(t->k, k, sizeof(k));
        t->n = n;
        t->st = st;
    } else {
        fwt_detail_clear(); /* a bad new file: the keys in use stay */
    }
    OPENSSL_cleanse(k, sizeof(k));
}

static int mac_init(EVP_MAC_CTX *hctx, unsigned char *key)
{
    OSSL_PARAM p[3];
    p[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, 32);
    p[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    p[2] = OSSL_PARAM_construct_end();
    return EVP_MAC_CTX_set_params(hctx, p) == 1;
}

static int ticket_key_cb(SSL *ssl, unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                         EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    struct srv_tickets *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (!t) {
        return 0;
    }
    keys_refresh(t);
    if (enc) {
        if (t->n == 0 || RAND_bytes(iv, 16) != 1) {
            return -1;
        }
        memcpy(name, t->k[0].name, 16);
        return EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, t->k[0].aes, iv) == 1 && mac_init(hctx, t->k[0].hmac)
                   ? 1
                   : -1;
    }
    for (size_t i = 0; i < t->n; i++) {
        if (CRYPTO_memcmp(name, t->k[i].name, 16) == 0) {
            if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, t->k[i].aes, iv) != 1 || !mac_init(hctx, t->k[i].hmac)) {
                return -1;
            }
            return i == 0 ? 1 : 2; /* an older key: a new ticket with the current one */
        }
    }
    return 0; /* another server's (or an old) key: a full handshake */
}

int srv_cert_device_ok(fwt_srv *s, X509 *cert)
{
    char fp[65];
    struct srv_device dev;
    if (!s || !cert || ca_cert_fp(cert, fp) != FWT_OK) {
        return -1;
    }
    fwt_err e = srv_device_by_fp(s, fp, &dev);
    if (e == FWT_E_NOT_FOUND) {
        fwt_detail_clear();
        return 0;
    }
    if (e != FWT_OK) {
        return -1;
    }
    int active = !strcmp(dev.status, "active");
    srv_device_free(&dev);
    return active ? 1 : -1;
}

/* The time of the full handshake behind a session, kept in the ticket (8 bytes, big endian). */
static int gen_cb(SSL *ssl, void *arg)
{
    (void)arg;
    SSL_SESSION *sess = SSL_get0_session(ssl);
    void *d = NULL;
    size_t n = 0;
    if (SSL_session_reused(ssl) && SSL_SESSION_get0_ticket_appdata(sess, &d, &n) == 1 && n == 8) {
        return 1; /* a resumed session keeps the time of its full handshake */
    }
    uint64_t now = SSL_session_reused(ssl) ? 0 : (uint64_t)time(NULL); /* no time: an expired ticket */
    unsigned char b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(now >> (56 - 8 * i));
    }
    return SSL_SESSION_set1_ticket_appdata(sess, b, 8);
}

static SSL_TICKET_RETURN dec_cb(SSL *ssl, SSL_SESSION *sess, const unsigned char *name, size_t nlen,
                                SSL_TICKET_STATUS status, void *arg)
{
    (void)name;
    (void)nlen;
    struct srv_tickets *t = arg;
    if (status != SSL_TICKET_SUCCESS && status != SSL_TICKET_SUCCESS_RENEW) {
        /* no ticket, or one that does not decrypt (another key): a full handshake */
        return status == SSL_TICKET_FATAL_ERR_MALLOC || status == SSL_TICKET_FATAL_ERR_OTHER
                   ? SSL_TICKET_RETURN_ABORT
                   : SSL_TICKET_RETURN_IGNORE_RENEW;
    }
    void *d = NULL;
    size_t n = 0;
    uint64_t auth = 0;
    if (SSL_SESSION_get0_ticket_appdata(sess, &d, &n) == 1 && n == 8) {
        for (int i = 0; i < 8; i++) {
            auth = auth << 8 | ((unsigned char *)d)[i];
        }
    }
    int64_t now = (int64_t)time(NULL);
    X509 *peer = SSL_SESSION_get0_peer(sess);
    int ok = auth > 0 && now >= (int64_t)auth && now - (int64_t)auth <= t->lifetime;
    if (ok && peer) {
        /* the certificate within its validity period, as a full handshake would check */
        ok = X509_cmp_current_time(X509_get0_notAfter(peer)) > 0 && X509_cmp_current_time(X509_get0_notBefore(peer)) < 0;
        int dev = ok ? srv_cert_device_ok(t->s, peer) : 0;
        if (dev < 0) {
            fwt_detail_clear(); /* revoked or decommissioned: the full handshake refuses it */
        }
        ok = ok && dev == 1;
    }
    ERR_clear_error();
    if (!ok) {
        return SSL_TICKET_RETURN_IGNORE_RENEW;
    }
    if (status == SSL_TICKET_SUCCESS) {
        /* made with the current key: no new ticket. One would carry the same time of the
         * full handshake (its lifetime is not extended), and making one costs OpenSSL a
         * decoding of the whole session (the certificate and its key) */
        SSL_set_num_tickets(ssl, 0);
        return SSL_TICKET_RETURN_USE;
    }
    return SSL_TICKET_RETURN_USE_RENEW; /* an older key's: a ticket under the current one */
}

fwt_err srv_tickets_setup(fwt_srv *s, SSL_CTX *ctx, struct srv_tickets **out)
{
    *out = NULL;
    static const unsigned char sid_ctx[] = "fwtrust-server";
    if (SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1) != 1) {
        return fwt_fail(FWT_E_CRYPTO, "TLS session id context");
    }
    if (s->set.tls_ticket_hours == 0) {
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(ctx, 0);
        return FWT_OK;
    }
    struct srv_tickets *t = calloc(1, sizeof(*t));
    if (!t) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    t->s = s;
    t->lifetime = (int64_t)s->set.tls_ticket_hours * 3600;
    t->file = s->ticket_key_file;
    fwt_err e = t->file ? read_key_file(t->file, t->k, &t->n, &t->st) : new_random_key(t);
    t->checked = time(NULL);
    if (e == FWT_OK &&
        (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb) != 1 ||
         SSL_CTX_set_session_ticket_cb(ctx, gen_cb, dec_cb, t) != 1 || SSL_CTX_set_app_data(ctx, t) != 1)) {
        e = fwt_fail(FWT_E_CRYPTO, "TLS session ticket callbacks");
    }
    if (e != FWT_OK) {
        srv_tickets_free(t);
        return e;
    }
    /* the lifetime hint the client gets; one ticket per handshake (a device keeps one) */
    SSL_CTX_set_timeout(ctx, (long)t->lifetime);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
    *out = t;
    return FWT_OK;
}

void srv_tickets_free(struct srv_tickets *t)
{
    if (t) {
        keys_wipe(t);
        free(t);
    }
}
