/*
 * The agent's TLS session file (src/tuf/client_tls.c): "fwtrust-tls-session 1 SHA256\n" and a
 * PEM session, offered only with the certificate of that digest. Input: the file's text; the
 * certificate digest is fixed (the seeds' header names it).
 */
#define FWTRUST_INTERNAL 1
#include <fwtrust/fwtrust_host.h>

#include "client_internal.h"

#include <openssl/ssl.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char digest[65] = "0000000000000000000000000000000000000000000000000000000000000000";
    SSL_SESSION *s = tuf_tls_session_parse(data, size, digest);
    if (s) {
        /* what was read can be written again */
        BIO *b = BIO_new(BIO_s_mem());
        if (!b || PEM_write_bio_SSL_SESSION(b, s) != 1) {
            abort();
        }
        BIO_free(b);
        SSL_SESSION_free(s);
    }
    return 0;
}
