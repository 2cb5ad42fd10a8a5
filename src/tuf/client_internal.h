/*
 * fwtrust TUF client, internal: transport (client_fetch.c) shared with the
 * workflow (client.c).
 */
#ifndef FWT_TUF_CLIENT_INTERNAL_H
#define FWT_TUF_CLIENT_INTERNAL_H

#include <fwtrust/fwt_util.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

struct tuf_fetcher;

/* One libcurl handle for a client; options from t (copied pointers stay the caller's). */
FWT_MUST_CHECK fwt_err tuf_fetcher_new(const struct fwt_tuf_transport *t, struct tuf_fetcher **out);
void tuf_fetcher_free(struct tuf_fetcher *f);

/* Called with each piece of the body; nonzero aborts (FWT_E_IO). */
typedef int (*tuf_sink)(void *ctx, const uint8_t *data, size_t len);

/*
 * GET url (http, https or file), one request, no retries, no redirects. More
 * than cap bytes: the transfer is aborted, FWT_E_TOO_LARGE. HTTP 403/404 or a
 * missing file: FWT_E_NOT_FOUND. Other HTTP statuses, TLS and connection
 * failures, timeouts and transfers slower than the minimum speed: FWT_E_NETWORK.
 */
FWT_MUST_CHECK fwt_err tuf_fetch(struct tuf_fetcher *f, const char *url, uint64_t cap, tuf_sink sink, void *ctx);
/* The same into memory (*buf NUL-terminated, caller frees). */
FWT_MUST_CHECK fwt_err tuf_fetch_mem(struct tuf_fetcher *f, const char *url, uint64_t cap, uint8_t **buf,
                                     size_t *len);

/* A TLS session kept in a file for the next connection (client_tls.c): open reads it
 * (offered only when made with the same client certificate file), the CTX function given
 * to CURLOPT_SSL_CTX_FUNCTION offers it and saves the server's new session; resumed says
 * whether the handshake resumed. No file, no client certificate: nothing is done. */
struct tuf_tls_session {
    const char *path;
    char cert_sha256[65];
    SSL_SESSION *offer;
    int saved, resumed;
};
void tuf_tls_session_open(struct tuf_tls_session *ts, const char *path, const char *client_cert);
/* The text of a session file made with the certificate of this SHA-256 (hex): its session,
 * or NULL (another certificate, not a session). */
SSL_SESSION *tuf_tls_session_parse(const uint8_t *buf, size_t len, const char cert_sha256[65]);
void tuf_tls_session_close(struct tuf_tls_session *ts);
CURLcode tuf_tls_session_ctx(CURL *c, void *sslctx, void *arg);

/* Percent-encoding: every byte but A-Z a-z 0-9 - . _ ~ (and '/' when keep_slash). */
char *tuf_quote(const char *s, int keep_slash);

#endif
