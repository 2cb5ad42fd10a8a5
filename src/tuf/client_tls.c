/*
 * fwtrust TUF client transport: a TLS session kept in a file (fwt_tuf_transport
 * tls_session_file), so that the next process resumes it (TLS 1.3 session ticket) instead
 * of a full handshake. The file (mode 0600, written atomically) holds a header line with
 * the SHA-256 of the client certificate file the session was made with, then the session
 * (PEM); a session is offered only with that same certificate, so a renewed or replaced
 * certificate starts with a full handshake. It holds the session's resumption secret:
 * keep it as the device key is kept (the same directory). Any doubt about the file (not
 * there, unreadable, another certificate) is simply a full handshake.
 *
 * libcurl (7.88) makes one OpenSSL SSL_CTX per connection and gives it to
 * CURLOPT_SSL_CTX_FUNCTION before it makes the SSL object; OpenSSL takes a client's
 * session when it writes the ClientHello, after the handshake-start info callback: the
 * session is set there. New sessions (the server's tickets, after the handshake) come to
 * the new-session callback, which saves the newest.
 */
#define FWTRUST_INTERNAL 1
#include <fwtrust/fwtrust_host.h>

#include "client_internal.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR "fwtrust-tls-session 1 "

/* SHA-256 (hex) of the client certificate file; 0 when it cannot be read. */
static int cert_digest(const char *path, char hex[65])
{
    uint8_t *buf = NULL, h[32];
    size_t len = 0;
    int ok = path && fwt_read_file(path, 1 << 20, &buf, &len) == FWT_OK && fwt_sha256(buf, len, h) == FWT_OK;
    free(buf);
    if (ok) {
        fwt_hex_encode(h, 32, hex);
    }
    fwt_detail_clear();
    return ok;
}

SSL_SESSION *tuf_tls_session_parse(const uint8_t *buf, size_t len, const char cert_sha256[65])
{
    size_t hl = strlen(HDR);
    SSL_SESSION *sess = NULL;
    if (len > hl + 65 && len - hl - 65 <= INT32_MAX && !memcmp(buf, HDR, hl) && buf[hl + 64] == '\n' &&
        CRYPTO_memcmp(buf + hl, cert_sha256, 64) == 0) {
        BIO *b = BIO_new_mem_buf(buf + hl + 65, (int)(len - hl - 65));
        sess = b ? PEM_read_bio_SSL_SESSION(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        ERR_clear_error();
    }
    return sess;
}

void tuf_tls_session_open(struct tuf_tls_session *ts, const char *path, const char *client_cert)
{
    memset(ts, 0, sizeof(*ts));
    ts->path = path;
    if (!path || !cert_digest(client_cert, ts->cert_sha256)) {
        ts->path = NULL; /* no certificate, no session */
        return;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if (fwt_read_file(path, 65536, &buf, &len) != FWT_OK) {
        fwt_detail_clear();
        return;
    }
    ts->offer = tuf_tls_session_parse(buf, len, ts->cert_sha256);
    OPENSSL_cleanse(buf, len);
    free(buf);
}

void tuf_tls_session_close(struct tuf_tls_session *ts)
{
    SSL_SESSION_free(ts->offer);
    ts->offer = NULL;
}

static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct tuf_tls_session *ts = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    BIO *b = ts ? BIO_new(BIO_s_mem()) : NULL;
    char *p = NULL;
    long n = 0;
    if (b && BIO_puts(b, HDR) > 0 && BIO_write(b, ts->cert_sha256, 64) == 64 && BIO_puts(b, "\n") == 1 &&
        PEM_write_bio_SSL_SESSION(b, sess) == 1 && (n = BIO_get_mem_data(b, &p)) > 0) {
        if (fwt_write_file_atomic(ts->path, p, (size_t)n, 0600) == FWT_OK) {
            ts->saved = 1;
        }
        fwt_detail_clear(); /* not saved: the next connection is a full handshake */
        OPENSSL_cleanse(p, (size_t)n);
    }
    BIO_free(b);
    ERR_clear_error();
    return 0; /* the session stays OpenSSL's */
}

static void on_info(const SSL *ssl, int where, int ret)
{
    (void)ret;
    /* OpenSSL passes the SSL const; setting its session here is what this callback is for */
    SSL *s = (SSL *)(uintptr_t)ssl;
    struct tuf_tls_session *ts = SSL_CTX_get_app_data(SSL_get_SSL_CTX(s));
    if (!ts) {
        return;
    }
    if ((where & SSL_CB_HANDSHAKE_START) && ts->offer && !SSL_session_reused(s)) {
        if (SSL_set_session(s, ts->offer) != 1) {
            ERR_clear_error();
        }
    }
    if (where & SSL_CB_HANDSHAKE_DONE) {
        ts->resumed = SSL_session_reused(s) == 1;
    }
}

CURLcode tuf_tls_session_ctx(CURL *c, void *sslctx, void *arg)
{
    (void)c;
    SSL_CTX *ctx = sslctx;
    struct tuf_tls_session *ts = arg;
    if (SSL_CTX_set_app_data(ctx, ts) != 1) {
        return CURLE_SSL_CONNECT_ERROR;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    SSL_CTX_set_info_callback(ctx, on_info);
    return CURLE_OK;
}
