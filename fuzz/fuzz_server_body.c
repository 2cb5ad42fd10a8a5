/*
 * Fleet server request parsers: the first byte picks one, the rest is its input.
 *   0: POST /v1/enroll body (fwt_srv_parse_enroll)
 *   1: admin API bodies (fwt_srv_parse_admin_body, the tags/assignment/token field sets)
 *   2: the CSR check of enroll and renew (ca_csr_check: PEM, signature, P-256)
 *   3: the audit log's event entries (fwt_signlog_event_parse), with the round trip
 *   4: a factory certificate's device serial (fwt_fleet_factory_serial: PEM, X.509 subject),
 *      and the message its key signs (fwt_fleet_factory_message)
 *   5: the TLS ticket key file (srv_ticket_keys_check: 1..8 lines of 160 hex digits)
 * The signed manifest and report are fuzzed by fuzz_fleet_manifest.
 */
#include "server/srv.h"

#include <fwtrust/fwt_fleet.h>
#include <fwtrust/fwt_keys.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 6) {
    case 0: {
        struct fwt_srv_enroll_req r;
        if (fwt_srv_parse_enroll(p, n, &r) == FWT_OK) {
            int mode_ok = r.factory_cert ? strlen(r.token) == 0 && strlen(r.nonce) == FWT_FLEET_FACTORY_NONCE_HEX &&
                                               r.signature_len > 0 && r.signature_len <= sizeof(r.signature)
                                         : strlen(r.token) == 64;
            if (!mode_ok || !r.csr || strlen(r.serial) == 0 || strlen(r.hardware_id) == 0) {
                abort();
            }
            fwt_srv_enroll_req_free(&r);
        }
        break;
    }
    case 1: {
        static const char *const sets[3][7] = {
            {"add", "remove", NULL},
            {"scope", "subject", "target", "length", "sha256", "release_counter", NULL},
            {"ttl", "count", NULL},
        };
        json_t *o = NULL;
        if (fwt_srv_parse_admin_body(p, n, sets[n % 3], &o) == FWT_OK) {
            if (!json_is_object(o)) {
                abort();
            }
            json_decref(o);
        }
        break;
    }
    case 2: {
        char *pem = malloc(n + 1);
        if (!pem) {
            return 0;
        }
        memcpy(pem, p, n);
        pem[n] = 0;
        EVP_PKEY *k = NULL;
        if (ca_csr_check(pem, &k) == FWT_OK) {
            EVP_PKEY_free(k);
        }
        free(pem);
        break;
    }
    case 4: {
        char serial[FWT_FLEET_ID_MAX + 1];
        if (fwt_fleet_factory_serial((const char *)p, n, serial) == FWT_OK) {
            char *msg = NULL;
            size_t ml = 0;
            static const char nonce[] = "00000000000000000000000000000000000000000000000000000000000000ff";
            /* a serial taken from a certificate is one the message (and the server) accepts */
            if (strlen(serial) == 0 || fwt_fleet_factory_message(nonce, "csr", "hw", serial, &msg, &ml) != FWT_OK ||
                ml != strlen(msg)) {
                abort();
            }
            free(msg);
        }
        break;
    }
    case 5: {
        size_t nk = 0;
        if (srv_ticket_keys_check(p, n, &nk) == FWT_OK && (nk == 0 || nk > 8 || n < 160 * nk)) {
            abort();
        }
        break;
    }
    case 3:
    default: {
        struct fwt_signlog_event ev;
        if (fwt_signlog_event_parse(p, n, &ev) == FWT_OK) {
            char *text = NULL;
            size_t len = 0;
            /* accepted means canonical: it encodes back to the same bytes */
            if (fwt_signlog_event_encode(&ev, &text, &len) != FWT_OK || len != n || memcmp(text, p, n) != 0) {
                abort();
            }
            free(text);
        }
        break;
    }
    }
    fwt_detail_clear();
    return 0;
}
