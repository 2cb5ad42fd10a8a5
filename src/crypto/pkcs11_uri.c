/*
 * PKCS#11 URI parser (RFC 7512, section 2.3 grammar).
 *
 *   pkcs11:PATH[?QUERY]
 *   PATH  = attr *(";" attr)     path attributes: token manufacturer serial model
 *                                slot-id slot-description slot-manufacturer
 *                                library-manufacturer library-description
 *                                library-version object id type
 *   QUERY = attr *("&" attr)     query attributes: pin-source module-path module-name
 *
 * Values may contain unreserved characters, ":[]@!$'()*+,=" (and "&" in the
 * path, "/?|" in the query) as they are; everything else must be
 * percent-encoded. Refused: unknown attributes (vendor "x-" ones too),
 * duplicates, empty values, pin-value= (a PIN must never be in a URI), text
 * values with control characters or longer than the PKCS#11 field they are
 * compared with.
 */
#include "pkcs11_uri.h"

#include <fwtrust/fwt_util.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum attr_kind {
    A_TEXT,        /* text compared with a PKCS#11 field or label */
    A_ID,          /* binary CKA_ID */
    A_SLOT_ID,     /* decimal CK_SLOT_ID */
    A_LIB_VER,     /* M or M.N */
    A_TYPE,        /* object class */
    A_PIN_SOURCE,  /* file path or file: URI */
    A_MODULE_PATH, /* absolute path */
    A_MODULE_NAME, /* library name */
    A_PIN_VALUE    /* refused */
};

struct attr_def {
    const char *name;
    int query; /* 1: belongs in the query component */
    enum attr_kind kind;
    size_t max; /* A_TEXT: longest value (0: no field limit) */
    size_t off; /* A_TEXT/A_PIN_SOURCE/A_MODULE_*: offset of the char * member */
};

#define OFF(m) offsetof(struct fwt_p11_uri, m)

static const struct attr_def k_attrs[] = {
    {"token", 0, A_TEXT, 32, OFF(token)},
    {"manufacturer", 0, A_TEXT, 32, OFF(manufacturer)},
    {"serial", 0, A_TEXT, 16, OFF(serial)},
    {"model", 0, A_TEXT, 16, OFF(model)},
    {"slot-id", 0, A_SLOT_ID, 0, 0},
    {"slot-description", 0, A_TEXT, 64, OFF(slot_description)},
    {"slot-manufacturer", 0, A_TEXT, 32, OFF(slot_manufacturer)},
    {"library-manufacturer", 0, A_TEXT, 32, OFF(library_manufacturer)},
    {"library-description", 0, A_TEXT, 32, OFF(library_description)},
    {"library-version", 0, A_LIB_VER, 0, 0},
    {"object", 0, A_TEXT, 0, OFF(object)},
    {"id", 0, A_ID, 0, 0},
    {"type", 0, A_TYPE, 0, 0},
    {"pin-source", 1, A_PIN_SOURCE, 0, OFF(pin_source)},
    {"pin-value", 1, A_PIN_VALUE, 0, 0},
    {"module-path", 1, A_MODULE_PATH, 0, OFF(module_path)},
    {"module-name", 1, A_MODULE_NAME, 0, OFF(module_name)},
};
#define N_ATTRS (sizeof(k_attrs) / sizeof(k_attrs[0]))

void fwt_p11_uri_free(struct fwt_p11_uri *u)
{
    if (u == NULL) {
        return;
    }
    char **strs[] = {&u->token,        &u->manufacturer,         &u->serial,
                     &u->model,        &u->slot_description,     &u->slot_manufacturer,
                     &u->library_manufacturer, &u->library_description, &u->object,
                     &u->pin_source,   &u->module_path,          &u->module_name};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        free(*strs[i]);
    }
    free(u->id);
    memset(u, 0, sizeof(*u));
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* May c appear unencoded in a value of the path (query = 0) or the query (query = 1)? */
static int is_value_char(unsigned char c, int query)
{
    if (is_unreserved(c) || (c != 0 && strchr(":[]@!$'()*+,=", c) != NULL)) {
        return 1;
    }
    return query ? (c == '/' || c == '?' || c == '|') : c == '&';
}

/*
 * Check the raw characters of a value and percent-decode it into a new
 * NUL-terminated buffer (*out_len excludes the NUL).
 */
static fwt_err decode_value(const char *s, size_t n, int query, const char *name, uint8_t **out,
                            size_t *out_len)
{
    uint8_t *buf = malloc(n + 1);
    if (buf == NULL) {
        return FWT_E_NOMEM;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (n - i < 3 || fwt_hex_digit((unsigned char)s[i + 1]) < 0 ||
                fwt_hex_digit((unsigned char)s[i + 2]) < 0) {
                free(buf);
                return fwt_fail(FWT_E_ARG,
                                "PKCS#11 URI: bad percent-encoding in %s= (a '%%' must be "
                                "followed by two hex digits)",
                                name);
            }
            buf[o++] = (uint8_t)(fwt_hex_digit((unsigned char)s[i + 1]) * 16 +
                                 fwt_hex_digit((unsigned char)s[i + 2]));
            i += 2;
            continue;
        }
        if (!is_value_char(c, query)) {
            free(buf);
            if (c >= 0x20 && c < 0x7f) {
                return fwt_fail(FWT_E_ARG,
                                "PKCS#11 URI: character '%c' in %s= must be percent-encoded "
                                "(%%%02X)",
                                c, name, c);
            }
            return fwt_fail(FWT_E_ARG,
                            "PKCS#11 URI: byte 0x%02x in %s= must be percent-encoded (%%%02X)",
                            c, name, c);
        }
        buf[o++] = c;
    }
    buf[o] = 0;
    *out = buf;
    *out_len = o;
    return FWT_OK;
}

/* Text values: no NUL or other control characters (they end up in messages and labels). */
static fwt_err check_text(const uint8_t *v, size_t len, const char *name)
{
    for (size_t i = 0; i < len; i++) {
        if (v[i] < 0x20 || v[i] == 0x7f) {
            return fwt_fail(FWT_E_ARG,
                            "PKCS#11 URI: %s= contains a control character (byte 0x%02x)", name,
                            v[i]);
        }
    }
    return FWT_OK;
}

/* 1*DIGIT into an unsigned long no larger than max. */
static int parse_digits(const char *s, size_t n, unsigned long max, unsigned long *out)
{
    if (n == 0) {
        return -1;
    }
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* pin-source: a path, or a file: URI (file:/p, file:///p, file://localhost/p). */
static fwt_err pin_source_path(char *v, char **out)
{
    if (v[0] == '|') {
        return fwt_fail(FWT_E_ARG, "PKCS#11 URI: pin-source=|PROGRAM is not supported; name a "
                                   "file that holds the PIN");
    }
    if (strncasecmp(v, "file:", 5) != 0) {
        *out = v;
        return FWT_OK;
    }
    const char *p = v + 5;
    if (strncmp(p, "//", 2) == 0) {
        p += 2;
        if (strncasecmp(p, "localhost", 9) == 0) {
            p += 9;
        }
        if (p[0] != '/') {
            return fwt_fail(FWT_E_ARG, "PKCS#11 URI: pin-source= names a file on another host; "
                                       "only local files (file:///path) are read");
        }
    }
    if (p[0] != '/') {
        return fwt_fail(FWT_E_ARG,
                        "PKCS#11 URI: pin-source=file: needs an absolute path (file:///path)");
    }
    char *path = strdup(p);
    if (path == NULL) {
        return FWT_E_NOMEM;
    }
    free(v);
    *out = path;
    return FWT_OK;
}

static fwt_err set_attr(struct fwt_p11_uri *u, const struct attr_def *a, uint8_t *v, size_t len)
{
    fwt_err e = FWT_OK;
    switch (a->kind) {
    case A_ID:
        u->id = v;
        u->id_len = len;
        return FWT_OK;
    case A_TEXT:
        e = check_text(v, len, a->name);
        if (e == FWT_OK && a->max > 0 && len > a->max) {
            e = fwt_fail(FWT_E_ARG,
                         "PKCS#11 URI: %s= is %zu bytes long; the PKCS#11 field it matches has "
                         "at most %zu",
                         a->name, len, a->max);
        }
        break;
    case A_SLOT_ID: {
        unsigned long id = 0;
        if (parse_digits((const char *)v, len, (unsigned long)-1, &id) != 0) {
            e = fwt_fail(FWT_E_ARG, "PKCS#11 URI: slot-id= must be a decimal number");
        } else {
            u->has_slot_id = 1;
            u->slot_id = id;
        }
        free(v);
        return e;
    }
    case A_LIB_VER: {
        const char *s = (const char *)v;
        const char *dot = memchr(s, '.', len);
        size_t n1 = dot ? (size_t)(dot - s) : len;
        unsigned long major = 0, minor = 0;
        if (parse_digits(s, n1, 255, &major) != 0 ||
            (dot != NULL && parse_digits(dot + 1, len - n1 - 1, 255, &minor) != 0)) {
            e = fwt_fail(FWT_E_ARG, "PKCS#11 URI: library-version= must be MAJOR or "
                                    "MAJOR.MINOR (numbers 0-255)");
        } else {
            u->has_library_version = 1;
            u->library_version_major = (unsigned)major;
            u->library_version_minor = (unsigned)minor;
        }
        free(v);
        return e;
    }
    case A_TYPE: {
        const char *s = (const char *)v;
        if (strcmp(s, "private") == 0) {
            u->type = FWT_P11_TYPE_PRIVATE;
        } else if (strcmp(s, "public") == 0) {
            u->type = FWT_P11_TYPE_PUBLIC;
        } else if (strcmp(s, "cert") == 0 || strcmp(s, "secret-key") == 0 ||
                   strcmp(s, "data") == 0) {
            e = fwt_fail(FWT_E_ARG,
                         "PKCS#11 URI: type=%s names no key pair; use type=private or "
                         "type=public (or leave type= out)",
                         s);
        } else {
            e = fwt_fail(FWT_E_ARG, "PKCS#11 URI: type= must be private, public, cert, "
                                    "secret-key or data");
        }
        free(v);
        return e;
    }
    case A_PIN_SOURCE:
        e = check_text(v, len, a->name);
        if (e == FWT_OK) {
            char *path = NULL;
            e = pin_source_path((char *)v, &path);
            if (e == FWT_OK) {
                *(char **)((char *)u + a->off) = path;
                return FWT_OK;
            }
        }
        break;
    case A_MODULE_PATH:
        e = check_text(v, len, a->name);
        if (e == FWT_OK && v[0] != '/') {
            e = fwt_fail(FWT_E_ARG, "PKCS#11 URI: module-path= must be an absolute path");
        }
        break;
    case A_MODULE_NAME:
        for (size_t i = 0; i < len && e == FWT_OK; i++) {
            if (!(is_unreserved(v[i]) || v[i] == '+') || v[i] == '~') {
                e = fwt_fail(FWT_E_ARG, "PKCS#11 URI: module-name= is a library name (letters, "
                                        "digits, '.', '_', '+', '-'); give a path as module-path=");
            }
        }
        if (e == FWT_OK && v[0] == '.') {
            e = fwt_fail(FWT_E_ARG, "PKCS#11 URI: module-name= must not start with '.'");
        }
        break;
    case A_PIN_VALUE:
        e = fwt_fail(FWT_E_ARG, "PKCS#11 URI: pin-value= is refused: a PIN must never be "
                                "written in a URI or on a command line; use --pin-file or "
                                "pin-source=FILE");
        break;
    }
    if (e != FWT_OK) {
        fwt_zeroize(v, len);
        free(v);
        return e;
    }
    *(char **)((char *)u + a->off) = (char *)v;
    return FWT_OK;
}

/* Print an attribute name in a message only when it looks like one. */
static const char *printable_name(const char *s, size_t n, char *buf, size_t cap)
{
    if (n == 0) {
        return "(empty name)";
    }
    if (n >= cap) {
        return "(a long name)";
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.')) {
            return "(a name with unusual characters)";
        }
    }
    memcpy(buf, s, n);
    buf[n] = 0;
    return buf;
}

static fwt_err parse_component(struct fwt_p11_uri *u, const char *s, size_t n, int query,
                               unsigned *seen)
{
    const char sep = query ? '&' : ';';
    size_t pos = 0;
    if (n == 0) {
        return FWT_OK;
    }
    for (;;) {
        const char *end = memchr(s + pos, sep, n - pos);
        size_t len = end ? (size_t)(end - (s + pos)) : n - pos;
        const char *attr = s + pos;
        if (len == 0) {
            return fwt_fail(FWT_E_ARG, "PKCS#11 URI: empty attribute in the %s (a stray '%c')",
                            query ? "query" : "path", sep);
        }
        const char *eq = memchr(attr, '=', len);
        char nbuf[40];
        if (eq == NULL) {
            return fwt_fail(FWT_E_ARG, "PKCS#11 URI: attribute %s has no '=' and value",
                            printable_name(attr, len, nbuf, sizeof(nbuf)));
        }
        size_t nlen = (size_t)(eq - attr);
        const struct attr_def *a = NULL;
        size_t idx = 0;
        for (idx = 0; idx < N_ATTRS; idx++) {
            if (strlen(k_attrs[idx].name) == nlen && memcmp(k_attrs[idx].name, attr, nlen) == 0) {
                a = &k_attrs[idx];
                break;
            }
        }
        const char *pname = printable_name(attr, nlen, nbuf, sizeof(nbuf));
        if (a == NULL) {
            return fwt_fail(FWT_E_ARG,
                            "PKCS#11 URI: unknown attribute '%s' (path: token, manufacturer, "
                            "serial, model, slot-id, slot-description, slot-manufacturer, "
                            "library-manufacturer, library-description, library-version, object, "
                            "id, type; query: pin-source, module-path, module-name)",
                            pname);
        }
        if (a->kind == A_PIN_VALUE) {
            return set_attr(u, a, NULL, 0);
        }
        if (a->query != query) {
            return fwt_fail(FWT_E_ARG, "PKCS#11 URI: %s= belongs in the %s", a->name,
                            a->query ? "query (after '?', separated by '&')"
                                     : "path (before '?', separated by ';')");
        }
        if (*seen & (1U << idx)) {
            return fwt_fail(FWT_E_ARG, "PKCS#11 URI: attribute %s= appears more than once",
                            a->name);
        }
        *seen |= 1U << idx;
        size_t vlen = len - nlen - 1;
        if (vlen == 0) {
            return fwt_fail(FWT_E_ARG, "PKCS#11 URI: %s= has an empty value", a->name);
        }
        uint8_t *v = NULL;
        size_t dlen = 0;
        fwt_err e = decode_value(eq + 1, vlen, query, a->name, &v, &dlen);
        if (e != FWT_OK) {
            return e;
        }
        if (dlen == 0) {
            free(v);
            return fwt_fail(FWT_E_ARG, "PKCS#11 URI: %s= has an empty value", a->name);
        }
        e = set_attr(u, a, v, dlen);
        if (e != FWT_OK) {
            return e;
        }
        if (end == NULL) {
            return FWT_OK;
        }
        pos += len + 1;
        if (pos == n) {
            return fwt_fail(FWT_E_ARG, "PKCS#11 URI: empty attribute in the %s (a stray '%c')",
                            query ? "query" : "path", sep);
        }
    }
}

fwt_err fwt_p11_uri_parse(const char *uri, struct fwt_p11_uri *out)
{
    if (out == NULL) {
        return FWT_E_ARG;
    }
    memset(out, 0, sizeof(*out));
    if (uri == NULL || strncasecmp(uri, "pkcs11:", 7) != 0) {
        return fwt_fail(FWT_E_ARG, "not a PKCS#11 URI (it must start with 'pkcs11:')");
    }
    size_t n = strnlen(uri, FWT_P11_URI_MAX + 1);
    if (n > FWT_P11_URI_MAX) {
        return fwt_fail(FWT_E_ARG, "PKCS#11 URI longer than %u bytes", FWT_P11_URI_MAX);
    }
    const char *path = uri + 7;
    size_t plen = n - 7;
    const char *q = memchr(path, '?', plen);
    unsigned seen = 0;
    fwt_err e = parse_component(out, path, q ? (size_t)(q - path) : plen, 0, &seen);
    if (e == FWT_OK && q != NULL) {
        e = parse_component(out, q + 1, plen - (size_t)(q - path) - 1, 1, &seen);
    }
    if (e != FWT_OK) {
        if (out->pin_source != NULL) {
            fwt_zeroize(out->pin_source, strlen(out->pin_source));
        }
        fwt_p11_uri_free(out);
    }
    return e;
}
