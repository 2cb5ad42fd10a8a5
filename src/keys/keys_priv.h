/* Internal helpers of the key custody module (fwt_keys). */
#ifndef FWT_KEYS_PRIV_H
#define FWT_KEYS_PRIV_H

#include <fwtrust/fwt_util.h>
#include "merkle.h"

#include <fwtrust/fwt_keys.h>
#include <jansson.h>

/* Largest JSON text any signing log parser accepts. */
#define FWT_SIGNLOG_JSON_MAX 65536U

/* Strict JSON decoding: duplicate keys refused, whole buffer, one object. */
FWT_MUST_CHECK fwt_err fwt_keys_json_object(const char *text, size_t len, const char *what,
                                            json_t **out);
/* The object has exactly these keys (NULL-terminated list), else FWT_E_MALFORMED. */
FWT_MUST_CHECK fwt_err fwt_keys_json_keys(json_t *obj, const char *what, const char *const *keys);
/* Non-negative integer field. */
FWT_MUST_CHECK fwt_err fwt_keys_json_u64(json_t *obj, const char *key, const char *what,
                                         uint64_t max, uint64_t *out);
/* Hex string field of exactly len bytes (len_max > 0: 1..len_max bytes, *out_len set). */
FWT_MUST_CHECK fwt_err fwt_keys_json_hex(json_t *obj, const char *key, const char *what,
                                         uint8_t *out, size_t len, size_t len_max,
                                         size_t *out_len);
/* Array of 32-byte hex hashes. */
FWT_MUST_CHECK fwt_err fwt_keys_json_path(json_t *obj, const char *key, const char *what,
                                          uint8_t (*path)[32], size_t max, size_t *n);
json_t *fwt_keys_json_hexstr(const uint8_t *b, size_t len);

/* Call the log's progress callback (every 256 entries and at the end). */
void fwt_signlog_report_progress(fwt_signlog *log, uint64_t done, uint64_t total);

/* Version as one comparable number. */
static inline uint64_t fwt_keys_version_u64(const struct fwt_version *v)
{
    return ((uint64_t)v->major << 56) | ((uint64_t)v->minor << 48) |
           ((uint64_t)v->revision << 32) | v->build;
}

#endif /* FWT_KEYS_PRIV_H */
