/*
 * fwtrust fleet formats: the signed device manifest and the signed device
 * report of the fleet protocol (docs/fleet-protocol.md), the contract between
 * fwtrust-agent (which builds and signs them with the device key) and
 * fwtrust-server (which parses and verifies them with the key of the device's
 * certificate). This module is their one owner: the structs, the JSON they
 * are written as, and the strict reader; both sides call it.
 *
 * Envelope: TUF's {"signed": {...}, "signatures": [{"keyid", "sig"}]}, exactly
 * one signature, over the canonical JSON of "signed" (fwt_tuf_canonical, the
 * project's one encoder), by an ECDSA P-256 device key (TUF scheme
 * ecdsa-sha2-nistp256, DER signature, hex in "sig"); keyid is the TUF key id
 * of the device's public key. The key is an fwt_privkey of the crypto layer
 * (a PEM file now; a token or TPM key later, unchanged here).
 *
 * Reading is strict and ordered: size (FWT_FLEET_MAX_BODY), JSON (jansson,
 * duplicate keys refused), envelope shape, key id, signature, then _type,
 * spec_version and every field (type, range, syntax; unknown fields refused),
 * then the identity the caller expects. Results:
 *   FWT_E_TOO_LARGE    body above FWT_FLEET_MAX_BODY
 *   FWT_E_MALFORMED    not JSON, envelope or field missing, of the wrong type,
 *                      out of range, or unknown; wrong _type or spec_version
 *   FWT_E_UNKNOWN_KEY  signed by another key than the expected one (key id)
 *   FWT_E_SIGNATURE    the signature does not verify
 *   FWT_E_HW_ID        a valid document of another device (device id,
 *                      hardware id or serial differs from the expected one)
 *   FWT_E_KEY          the key is not an ECDSA P-256 key
 * each with fwt_detail() naming the field. Writing runs the reader's field
 * checks on what it is about to sign, so nothing is signed that a reader
 * refuses.
 *
 * Hosted C (jansson, OpenSSL through fwt_crypto). Library fwt_fleet.
 */
#ifndef FWT_FLEET_H
#define FWT_FLEET_H

#include <fwtrust/fwt_util.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FWT_FLEET_SPEC_VERSION "1"
#define FWT_FLEET_MAX_BODY 65536U     /* bytes of any request or answer body */
#define FWT_FLEET_ID_MAX 64U          /* device_id, serial, hardware_id: bytes */
#define FWT_FLEET_NAME_MAX 255U       /* target names: bytes */
#define FWT_FLEET_REASON_MAX 255U     /* reasons: bytes */
#define FWT_FLEET_VERSION_MAX 47U     /* "M.m.r+b" */
#define FWT_FLEET_MAX_SLOTS 8U
#define FWT_FLEET_NONCE_HEX 32U       /* 16 random bytes */
#define FWT_FLEET_COUNTER_MAX 9007199254740991ULL /* 2^53 - 1: exact in every JSON reader */
#define FWT_FLEET_PCR_MAX 48U         /* a SHA-256 or SHA-384 register */
#define FWT_FLEET_ERROR_MAX 255       /* fwt_err numbers (docs/exit-codes.md) */

enum fwt_fleet_slot_state {
    FWT_FLEET_SLOT_CONFIRMED = 0,
    FWT_FLEET_SLOT_TRIAL,
    FWT_FLEET_SLOT_INACTIVE,
    FWT_FLEET_SLOT_EMPTY,
    FWT_FLEET_SLOT_BAD
};

/* One slot. Image fields: none for EMPTY, optional for BAD, else
 * length, sha256 and version required. */
struct fwt_fleet_slot {
    char slot;                          /* 'a' .. 'h' */
    enum fwt_fleet_slot_state state;
    int has_image;                      /* length, sha256 and version are set */
    char name[FWT_FLEET_NAME_MAX + 1];  /* the target installed from a repository, or "" */
    uint64_t length;                    /* bytes of the image (1 .. 2^32-1) */
    uint8_t sha256[32];                 /* "hashes": {"sha256"} of those bytes */
    char version[FWT_FLEET_VERSION_MAX + 1];
    int has_security_counter;
    uint32_t security_counter;
    int has_key_version;
    uint32_t key_version;
};

enum fwt_fleet_result {
    FWT_FLEET_RESULT_OK = 0,
    FWT_FLEET_RESULT_FAILED,
    FWT_FLEET_RESULT_REFUSED,
    FWT_FLEET_RESULT_ROLLED_BACK
};

enum fwt_fleet_state {
    FWT_FLEET_DOWNLOADING = 0,
    FWT_FLEET_INSTALLED_TRIAL,
    FWT_FLEET_BOOTED,
    FWT_FLEET_CONFIRMED,
    FWT_FLEET_ROLLED_BACK,
    FWT_FLEET_FAILED,
    FWT_FLEET_REFUSED
};

/* The signed part of a device manifest ("_type": "device-manifest"). */
struct fwt_fleet_manifest {
    char device_id[FWT_FLEET_ID_MAX + 1];
    char hardware_id[FWT_FLEET_ID_MAX + 1];
    char serial[FWT_FLEET_ID_MAX + 1];
    uint64_t counter;                       /* 1 .. FWT_FLEET_COUNTER_MAX */
    char nonce[FWT_FLEET_NONCE_HEX + 1];    /* lower-case hex */
    time_t time;
    size_t n_slots;                         /* 1 .. FWT_FLEET_MAX_SLOTS, distinct slot letters */
    struct fwt_fleet_slot slots[FWT_FLEET_MAX_SLOTS];
    int has_last_install;
    struct {
        char target[FWT_FLEET_NAME_MAX + 1]; /* "" when the image came from a file */
        enum fwt_fleet_result result;
        int error;                           /* fwt_err number, 0 .. FWT_FLEET_ERROR_MAX */
        char reason[FWT_FLEET_REASON_MAX + 1];
    } last_install;
    int has_measurement;
    struct {
        uint8_t pcr[FWT_FLEET_PCR_MAX];
        size_t pcr_len;                      /* 32 or 48 */
        uint32_t events;
    } measurement;
    int has_audit_head;
    struct {
        uint64_t size;                       /* entries, 0 .. FWT_FLEET_COUNTER_MAX */
        uint8_t root[32];                    /* SHA-256 of the last entry */
    } audit_head;
    uint64_t director_targets_version;       /* 0: no director metadata yet */
};

/* The signed part of a device report ("_type": "device-report"). */
struct fwt_fleet_report {
    char device_id[FWT_FLEET_ID_MAX + 1];
    uint64_t counter;                        /* the manifest's counter sequence */
    time_t time;
    char target[FWT_FLEET_NAME_MAX + 1];     /* "" when there is none (field absent) */
    enum fwt_fleet_state state;
    int error;                               /* fwt_err number, 0 .. FWT_FLEET_ERROR_MAX */
    char reason[FWT_FLEET_REASON_MAX + 1];   /* "" when there is none */
};

/* What the reader expects. key is required; a NULL string is not checked. */
struct fwt_fleet_expect {
    const fwt_pubkey *key;   /* the device's public key (from its certificate) */
    const char *device_id;
    const char *hardware_id; /* manifests only */
    const char *serial;      /* manifests only */
    /* key's TUF key id (fwt_fleet_keyid of key) if the caller keeps it, else NULL: computed
     * here (it PEM-encodes the key). Only the envelope's keyid is compared with it; the
     * signature is always verified with key. */
    const char *keyid;
};

/* Names as the JSON spells them ("confirmed", "rolled-back", "installed-trial", ...);
 * and back (-1: not a name). */
const char *fwt_fleet_slot_state_name(enum fwt_fleet_slot_state s);
const char *fwt_fleet_result_name(enum fwt_fleet_result r);
const char *fwt_fleet_state_name(enum fwt_fleet_state s);
int fwt_fleet_state_from_name(const char *name);

/* Is s a valid device id (1..64 bytes of A-Z a-z 0-9 . _ - :)? */
int fwt_fleet_device_id_valid(const char *s);

/* A fresh nonce (16 random bytes, lower-case hex). */
FWT_MUST_CHECK fwt_err fwt_fleet_nonce(char out[FWT_FLEET_NONCE_HEX + 1]);

/*
 * Check m, sign it with key (ECDSA P-256) and write the envelope: compact
 * JSON, NUL-terminated, *len bytes (at most FWT_FLEET_MAX_BODY); free().
 * FWT_E_ARG naming the field when m would not pass the reader.
 */
FWT_MUST_CHECK fwt_err fwt_fleet_manifest_sign(const struct fwt_fleet_manifest *m, fwt_privkey *key,
                                               char **out, size_t *len);
FWT_MUST_CHECK fwt_err fwt_fleet_report_sign(const struct fwt_fleet_report *r, fwt_privkey *key,
                                             char **out, size_t *len);

/* Parse and verify a body (see the results above); *out is filled only on FWT_OK. */
FWT_MUST_CHECK fwt_err fwt_fleet_manifest_verify(const uint8_t *buf, size_t len,
                                                 const struct fwt_fleet_expect *expect,
                                                 struct fwt_fleet_manifest *out);
FWT_MUST_CHECK fwt_err fwt_fleet_report_verify(const uint8_t *buf, size_t len,
                                               const struct fwt_fleet_expect *expect,
                                               struct fwt_fleet_report *out);

/* The TUF key id of a device public key (the envelope's keyid). */
FWT_MUST_CHECK fwt_err fwt_fleet_keyid(const fwt_pubkey *key, char keyid[65]);


/* ---- Enrollment with a factory certificate (docs/fleet-protocol.md, src/fleet/factory.c) ----
 * The device proves it holds the key of its manufacturer's certificate by signing, with
 * that key, the bytes of fwt_fleet_factory_message: a domain string, the server's
 * single-use nonce, the SHA-256 of the certificate request it sends, its hardware id and
 * serial. Agent and server build the message with this one function. */
#define FWT_FLEET_FACTORY_NONCE_HEX 64U   /* the server's nonce: 32 random bytes, hex */
#define FWT_FLEET_FACTORY_SIG_MAX 1024U   /* bytes of the signature (hex: twice as many) */
#define FWT_FLEET_FACTORY_CHAIN_MAX 8U    /* certificates in the factory chain given */
#define FWT_FLEET_FACTORY_DOMAIN "fwtrust-factory-enroll-v1"
/*
 * The device serial a factory certificate names: its subject's serialNumber attribute
 * (OID 2.5.4.5), 1..64 printable ASCII bytes without '"' or '\'. pem holds the
 * certificate (the first of a chain). FWT_E_CERT when it is not a certificate or names
 * no (valid) serialNumber.
 */
FWT_MUST_CHECK fwt_err fwt_fleet_factory_serial(const char *pem, size_t len,
                                                char serial[FWT_FLEET_ID_MAX + 1]);
/*
 * The bytes the factory key signs:
 *   "fwtrust-factory-enroll-v1\nnonce=N\ncsr-sha256=H\nhardware_id=HW\nserial=S\n"
 * (N: 64 lower-case hex digits; H: SHA-256 of the CSR's PEM text exactly as sent, hex;
 * HW and S: 1..64 printable ASCII bytes). FWT_E_ARG for a field out of these rules.
 * *msg is NUL-terminated, free().
 */
FWT_MUST_CHECK fwt_err fwt_fleet_factory_message(const char *nonce, const char *csr,
                                                 const char *hardware_id, const char *serial,
                                                 char **msg, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* FWT_FLEET_H */
