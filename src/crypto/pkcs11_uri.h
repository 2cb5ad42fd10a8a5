/*
 * Internal to src/crypto: the PKCS#11 URI parser (RFC 7512), used by
 * pkcs11.c. Strict: unknown attributes, duplicates, characters that must be
 * percent-encoded, values longer than the PKCS#11 field they match, and
 * pin-value= are refused with FWT_E_ARG and a detail naming the cause.
 * Error details never repeat attribute values (a URI may hold secrets).
 */
#ifndef FWT_PKCS11_URI_H
#define FWT_PKCS11_URI_H

#define FWTRUST_INTERNAL 1
#include <fwtrust/fwtrust_host.h>

#include <stddef.h>
#include <stdint.h>

/* Longest URI accepted (bytes, before percent-decoding). */
#define FWT_P11_URI_MAX 4096U

/* Object class named by type= (only key objects are meaningful here). */
enum fwt_p11_obj_type {
    FWT_P11_TYPE_ANY = 0, /* type= absent */
    FWT_P11_TYPE_PRIVATE = 1,
    FWT_P11_TYPE_PUBLIC = 2
};

/*
 * A parsed URI. Text values are percent-decoded, NUL-terminated, free of
 * control characters; NULL when the attribute is absent.
 */
struct fwt_p11_uri {
    /* Token (CK_TOKEN_INFO) */
    char *token;        /* label, at most 32 bytes */
    char *manufacturer; /* manufacturerID, at most 32 bytes */
    char *serial;       /* serialNumber, at most 16 bytes */
    char *model;        /* model, at most 16 bytes */
    /* Slot (CK_SLOT_INFO, C_GetSlotList) */
    int has_slot_id;
    unsigned long slot_id;
    char *slot_description;  /* at most 64 bytes */
    char *slot_manufacturer; /* at most 32 bytes */
    /* Library (CK_INFO) */
    char *library_manufacturer; /* at most 32 bytes */
    char *library_description;  /* at most 32 bytes */
    int has_library_version;
    unsigned library_version_major, library_version_minor;
    /* Object */
    char *object; /* CKA_LABEL */
    uint8_t *id;  /* CKA_ID bytes (any bytes); NULL when absent */
    size_t id_len;
    enum fwt_p11_obj_type type;
    /* Query */
    char *pin_source;  /* a file path (a file: URI is turned into its path) */
    char *module_path; /* a module file, or a directory to look up module_name in */
    char *module_name; /* a module name: [A-Za-z0-9._+-], no leading '.' */
};

/*
 * Parse uri (must start with "pkcs11:", any case). On success *out owns its
 * strings (fwt_p11_uri_free); on failure *out is empty and FWT_E_ARG is
 * returned with a detail.
 */
FWT_MUST_CHECK fwt_err fwt_p11_uri_parse(const char *uri, struct fwt_p11_uri *out);
void fwt_p11_uri_free(struct fwt_p11_uri *u);

#endif /* FWT_PKCS11_URI_H */
