/*
 * fwtrust: one result enum for every layer.
 *
 * FWT_OK is the only success value. Every other value is a failure; callers
 * must never treat "unknown" values as success. I/O-type failures (which a
 * caller may retry) are kept apart from verification failures (which must
 * never be retried into success).
 *
 * Freestanding: usable from the verifier core (no libc needed).
 */
#ifndef FWT_ERROR_H
#define FWT_ERROR_H

#if !defined(FWTRUST_INSIDE_FWTRUST_H) && !defined(FWTRUST_INTERNAL)
#error "include <fwtrust/fwtrust.h> (or <fwtrust/fwtrust_host.h>), not this header"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FWT_MUST_CHECK __attribute__((warn_unused_result))
#else
#define FWT_MUST_CHECK
#endif

typedef enum fwt_err {
    FWT_OK = 0,

    /* Caller and environment (may be retried or corrected). */
    FWT_E_ARG = 1,          /* invalid argument or usage */
    FWT_E_IO = 2,           /* read/write/flash/file failure */
    FWT_E_NOMEM = 3,        /* allocation failed (host code only) */
    FWT_E_BUFFER = 4,       /* caller's buffer or work area too small */
    FWT_E_INTERNAL = 5,     /* broken invariant: a bug, report it */
    FWT_E_CRYPTO = 6,       /* crypto backend failed to run (not "bad signature") */
    FWT_E_KEY = 7,          /* key cannot be loaded, parsed or used */
    FWT_E_NOT_FOUND = 8,    /* named thing (file, target, TLV, object) absent */
    FWT_E_NETWORK = 9,      /* transport failure (connect, TLS, HTTP status) */
    FWT_E_LOCKED = 10,      /* another process holds the device lock */
    FWT_E_STATE = 11,       /* persistent state missing, corrupt or inconsistent */

    /* Image verification failures (never retry into success). */
    FWT_E_MALFORMED = 20,   /* structure invalid: sizes, magics, TLV layout */
    FWT_E_DIGEST = 21,      /* hash TLV does not match the image */
    FWT_E_SIGNATURE = 22,   /* a signature is present but not valid */
    FWT_E_UNSIGNED = 23,    /* no signature at all */
    FWT_E_UNKNOWN_KEY = 24, /* signed, but by no trusted key */
    FWT_E_HW_ID = 25,       /* hardware id missing or not this device's */
    FWT_E_COUNTER = 26,     /* security counter below the device minimum */
    FWT_E_UNSUPPORTED = 27, /* format version, flag, TLV or algorithm not supported */
    FWT_E_THRESHOLD = 28,   /* fewer valid signatures from distinct keys than required */
    FWT_E_CERT = 29,        /* certificate forged, expired, or for other hardware */
    FWT_E_KEY_VERSION = 30, /* signing key version below the device minimum (revoked) */
    FWT_E_NO_TRUST = 31,    /* no trust anchor configured: everything is refused */
    FWT_E_TEST_KEY = 32,    /* a published sample key was used */
    FWT_E_TOO_LARGE = 33,   /* input larger than the allowed maximum */

    /* Update metadata (TUF) failures. */
    FWT_E_META = 40,          /* metadata malformed or of the wrong type */
    FWT_E_META_SIG = 41,      /* signature threshold not met */
    FWT_E_META_EXPIRED = 42,  /* metadata expired */
    FWT_E_META_ROLLBACK = 43, /* version lower than trusted (rollback) */
    FWT_E_META_MISMATCH = 44, /* length/hash/version disagrees with the referencing role */

    /* Device agent and bootloader. */
    FWT_E_NO_BOOTABLE = 50, /* no valid slot: recovery needed */
    FWT_E_NO_UPDATE = 51,   /* nothing newer to install / nothing to confirm */

    /* Remote attestation. */
    FWT_E_ATTEST = 60, /* attestation refused: the evidence does not prove a good boot */

    FWT_E__LAST = 61
} fwt_err;

/* Static English text for a result; never NULL. */
const char *fwt_strerror(fwt_err err);

/* Symbolic name ("FWT_E_DIGEST"); never NULL. */
const char *fwt_err_name(fwt_err err);

#ifdef __cplusplus
}
#endif

#endif /* FWT_ERROR_H */
