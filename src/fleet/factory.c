/*
 * Enrollment with a factory certificate (fwt_fleet.h): the device serial a
 * manufacturer's certificate names, and the message its key signs. The agent
 * (src/agent/fleet_client.c) and the server (src/server/factory.c) both call
 * these, so the two sides cannot disagree on the bytes.
 */
#include <fwtrust/fwt_fleet.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1..64 printable ASCII bytes without '"' or '\' (the server's identity field rule). */
static int ident_ok(const char *s, size_t n)
{
    if (n == 0 || n > FWT_FLEET_ID_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\') {
            return 0;
        }
    }
    return 1;
}

fwt_err fwt_fleet_factory_serial(const char *pem, size_t len, char serial[FWT_FLEET_ID_MAX + 1])
{
    serial[0] = '\0';
    if (!pem || len == 0 || len > FWT_FLEET_MAX_BODY) {
        return fwt_fail(FWT_E_CERT, "factory certificate: empty or above %u bytes", FWT_FLEET_MAX_BODY);
    }
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (!x) {
        ERR_clear_error();
        return fwt_fail(FWT_E_CERT, "factory certificate: not a PEM X.509 certificate");
    }
    const X509_NAME *name = X509_get_subject_name(x);
    int at = name ? X509_NAME_get_index_by_NID(name, NID_serialNumber, -1) : -1;
    fwt_err err = FWT_OK;
    if (at < 0) {
        err = fwt_fail(FWT_E_CERT, "factory certificate: its subject has no serialNumber (2.5.4.5), the "
                       "device serial");
    } else if (X509_NAME_get_index_by_NID(name, NID_serialNumber, at) >= 0) {
        err = fwt_fail(FWT_E_CERT, "factory certificate: its subject has more than one serialNumber");
    } else {
        const ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
        const unsigned char *d = v ? ASN1_STRING_get0_data(v) : NULL;
        int n = v ? ASN1_STRING_length(v) : 0;
        /* serialNumber is a PrintableString: its bytes are the ASCII text */
        if (!d || n <= 0 || !ident_ok((const char *)d, (size_t)n) ||
            (ASN1_STRING_type(v) != V_ASN1_PRINTABLESTRING && ASN1_STRING_type(v) != V_ASN1_UTF8STRING &&
             ASN1_STRING_type(v) != V_ASN1_IA5STRING)) {
            err = fwt_fail(FWT_E_CERT, "factory certificate: the subject serialNumber must be 1 to %u printable "
                           "ASCII characters without '\"' or '\\'", FWT_FLEET_ID_MAX);
        } else {
            memcpy(serial, d, (size_t)n);
            serial[n] = '\0';
        }
    }
    X509_free(x);
    return err;
}

fwt_err fwt_fleet_factory_message(const char *nonce, const char *csr, const char *hardware_id, const char *serial,
                                  char **msg, size_t *len)
{
    *msg = NULL;
    *len = 0;
    if (!nonce || strlen(nonce) != FWT_FLEET_FACTORY_NONCE_HEX ||
        strspn(nonce, "0123456789abcdef") != FWT_FLEET_FACTORY_NONCE_HEX) {
        return fwt_fail(FWT_E_ARG, "factory enrollment: the nonce must be %u lower-case hex digits",
                        FWT_FLEET_FACTORY_NONCE_HEX);
    }
    if (!csr || !*csr || !hardware_id || !ident_ok(hardware_id, strlen(hardware_id)) || !serial ||
        !ident_ok(serial, strlen(serial))) {
        return fwt_fail(FWT_E_ARG, "factory enrollment: a CSR, and a hardware id and serial of 1 to %u printable "
                        "ASCII characters are needed", FWT_FLEET_ID_MAX);
    }
    uint8_t h[32];
    char hex[65];
    fwt_err err = fwt_sha256(csr, strlen(csr), h);
    if (err != FWT_OK) {
        return err;
    }
    fwt_hex_encode(h, 32, hex);
    char *m = NULL;
    int n = asprintf(&m, "%s\nnonce=%s\ncsr-sha256=%s\nhardware_id=%s\nserial=%s\n", FWT_FLEET_FACTORY_DOMAIN, nonce,
                     hex, hardware_id, serial);
    if (n < 0) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    *msg = m;
    *len = (size_t)n;
    return FWT_OK;
}
