/*
 * fwtrust TUF client, internal: transport (client_fetch.c) shared with the
 * workflow (client.c).
 */
#ifndef FWT_TUF_CLIENT_INTERNAL_H
#define FWT_TUF_CLIENT_INTERNAL_H

#include <fwtrust/fwt_util.h>

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

/* Percent-encoding: every byte but A-Z a-z 0-9 - . _ ~ (and '/' when keep_slash). */
char *tuf_quote(const char *s, int keep_slash);

#endif
