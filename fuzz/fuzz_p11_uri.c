/*
 * libFuzzer target: bytes -> fwt_p11_uri_parse (the RFC 7512 PKCS#11 URI
 * parser). Every accepted URI must hold only well-formed values (text values
 * without control characters and within their field lengths, ids no longer than
 * the input), and must survive a round trip: percent-encoding every parsed
 * value into a new URI and parsing that gives the same attributes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/pkcs11_uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct buf {
    char *p;
    size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            abort();
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void put_attr(struct buf *b, int *first, char sep, const char *name, const uint8_t *v,
                     size_t n)
{
    if (!*first) {
        put(b, &sep, 1);
    }
    *first = 0;
    put(b, name, strlen(name));
    put(b, "=", 1);
    for (size_t i = 0; i < n; i++) {
        char enc[4];
        unsigned char c = v[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            put(b, (const char *)&v[i], 1);
        } else {
            snprintf(enc, sizeof(enc), "%%%02X", c);
            put(b, enc, 3);
        }
    }
}

static void text_ok(const char *s, size_t max)
{
    if (s == NULL) {
        return;
    }
    size_t n = strlen(s);
    if (n == 0 || (max > 0 && n > max)) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            abort();
        }
    }
}

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

#define TEXT_FIELDS(X)                                                                          \
    X(token, "token", 32)                                                                       \
    X(manufacturer, "manufacturer", 32)                                                         \
    X(serial, "serial", 16)                                                                     \
    X(model, "model", 16)                                                                       \
    X(slot_description, "slot-description", 64)                                                 \
    X(slot_manufacturer, "slot-manufacturer", 32)                                               \
    X(library_manufacturer, "library-manufacturer", 32)                                         \
    X(library_description, "library-description", 32)                                          \
    X(object, "object", 0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * FWT_P11_URI_MAX) {
        return 0;
    }
    char *in = malloc(size + 1);
    if (in == NULL) {
        return 0;
    }
    memcpy(in, data, size);
    in[size] = 0;
    struct fwt_p11_uri u, v;
    if (fwt_p11_uri_parse(in, &u) != FWT_OK) {
        free(in);
        return 0;
    }
#define CHECK(f, name, max) text_ok(u.f, max);
    TEXT_FIELDS(CHECK)
#undef CHECK
    text_ok(u.pin_source, 0);
    text_ok(u.module_path, 0);
    text_ok(u.module_name, 0);
    if ((u.id == NULL) != (u.id_len == 0) || u.id_len > size) {
        abort();
    }
    /* Round trip. */
    struct buf b = {NULL, 0, 0};
    int first = 1;
    put(&b, "pkcs11:", 7);
#define ENC(f, name, max)                                                                       \
    if (u.f != NULL) {                                                                          \
        put_attr(&b, &first, ';', name, (const uint8_t *)u.f, strlen(u.f));                     \
    }
    TEXT_FIELDS(ENC)
#undef ENC
    char num[64];
    if (u.has_slot_id) {
        snprintf(num, sizeof(num), "%lu", u.slot_id);
        put_attr(&b, &first, ';', "slot-id", (const uint8_t *)num, strlen(num));
    }
    if (u.has_library_version) {
        snprintf(num, sizeof(num), "%u.%u", u.library_version_major, u.library_version_minor);
        put_attr(&b, &first, ';', "library-version", (const uint8_t *)num, strlen(num));
    }
    if (u.id != NULL) {
        put_attr(&b, &first, ';', "id", u.id, u.id_len);
    }
    if (u.type != FWT_P11_TYPE_ANY) {
        const char *t = u.type == FWT_P11_TYPE_PRIVATE ? "private" : "public";
        put_attr(&b, &first, ';', "type", (const uint8_t *)t, strlen(t));
    }
    put(&b, "?", 1);
    first = 1;
    if (u.pin_source != NULL) {
        put_attr(&b, &first, '&', "pin-source", (const uint8_t *)u.pin_source,
                 strlen(u.pin_source));
    }
    if (u.module_path != NULL) {
        put_attr(&b, &first, '&', "module-path", (const uint8_t *)u.module_path,
                 strlen(u.module_path));
    }
    if (u.module_name != NULL) {
        put_attr(&b, &first, '&', "module-name", (const uint8_t *)u.module_name,
                 strlen(u.module_name));
    }
    if (b.len > FWT_P11_URI_MAX) {
        /* Encoding grew it past the length cap: that parse must fail, cleanly. */
        if (fwt_p11_uri_parse(b.p, &v) != FWT_E_ARG) {
            abort();
        }
        goto out;
    }
    if (fwt_p11_uri_parse(b.p, &v) != FWT_OK) {
        abort();
    }
#define SAME(f, name, max)                                                                      \
    if (!same_str(u.f, v.f)) {                                                                  \
        abort();                                                                                \
    }
    TEXT_FIELDS(SAME)
#undef SAME
    if (!same_str(u.pin_source, v.pin_source) || !same_str(u.module_path, v.module_path) ||
        !same_str(u.module_name, v.module_name) || u.has_slot_id != v.has_slot_id ||
        u.slot_id != v.slot_id || u.has_library_version != v.has_library_version ||
        u.library_version_major != v.library_version_major ||
        u.library_version_minor != v.library_version_minor || u.type != v.type ||
        u.id_len != v.id_len || (u.id_len > 0 && memcmp(u.id, v.id, u.id_len) != 0)) {
        abort();
    }
    fwt_p11_uri_free(&v);
out:
    fwt_p11_uri_free(&u);
    free(b.p);
    free(in);
    return 0;
}
