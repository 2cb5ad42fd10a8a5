/* Shared set-up of the agent's C tests (agent_tutil.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent_tutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void sign_impl(const char *dir, const char *key, const char *key2, const char *out,
                      const char *ver, uint32_t sc, size_t payload_len, int big_endian)
{
    char raw[512];
    snprintf(raw, sizeof(raw), "%s/payload.bin", dir);
    FILE *f = fopen(raw, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < payload_len; i++) {
        fputc((int)((i * 7U + (i >> 12) + sc) & 0xffU), f);
    }
    assert_int_equal(fclose(f), 0);
    struct fwt_sign_opts o;
    memset(&o, 0, sizeof(o));
    assert_int_equal(fwt_version_parse(ver, &o.version), FWT_OK);
    o.header_size = 0x200;
    o.pad_header = 1;
    o.align = 1;
    o.erased_val = 0xff;
    o.has_security_counter = 1;
    o.security_counter = sc;
    o.hw_id = (const uint8_t *)"hw1";
    o.hw_id_len = 3;
    o.write_format_tlv = 1;
    o.big_endian = big_endian;
    assert_int_equal(fwt_privkey_load(key, NULL, &o.keys[0]), FWT_OK);
    o.n_keys = 1;
    if (key2) {
        assert_int_equal(fwt_privkey_load(key2, NULL, &o.keys[1]), FWT_OK);
        o.n_keys = 2;
    }
    assert_int_equal(fwt_sign_file(raw, out, &o), FWT_OK);
    for (size_t i = 0; i < o.n_keys; i++) {
        fwt_privkey_free(o.keys[i]);
    }
}

void tu_sign(const char *dir, const char *key, const char *key2, const char *out, const char *ver,
             uint32_t sc, size_t payload_len)
{
    sign_impl(dir, key, key2, out, ver, sc, payload_len, 0);
}

void tu_sign_order(const char *dir, const char *key, const char *out, const char *ver, uint32_t sc,
                   size_t payload_len, int big_endian)
{
    sign_impl(dir, key, NULL, out, ver, sc, payload_len, big_endian);
}

fwt_agent *tu_device_opts(const char *dir, const char *name, struct fwt_agent_init_opts *io, char *slot_a,
                          size_t slot_a_len)
{
    char d[512], a[512], b[512];
    snprintf(d, sizeof(d), "%s/%s", dir, name);
    snprintf(a, sizeof(a), "%s/%s-a.bin", dir, name);
    snprintf(b, sizeof(b), "%s/%s-b.bin", dir, name);
    if (slot_a) {
        snprintf(slot_a, slot_a_len, "%s", a);
    }
    io->slot_path[0] = a;
    io->slot_path[1] = b;
    assert_int_equal(fwt_agent_init(d, io), FWT_OK);
    io->slot_path[0] = io->slot_path[1] = NULL; /* they were local */
    fwt_agent *dev = NULL;
    assert_int_equal(fwt_agent_open(d, &dev), FWT_OK);
    return dev;
}

fwt_agent *tu_device(const char *dir, const char *name, const char *key, uint32_t min_sc,
                     uint32_t min_kv, char *slot_a, size_t slot_a_len)
{
    struct fwt_agent_init_opts io;
    memset(&io, 0, sizeof(io));
    io.hw_id = "hw1";
    io.keys[0] = key;
    io.n_keys = 1;
    io.min_security_counter = min_sc;
    io.min_key_version = min_kv;
    return tu_device_opts(dir, name, &io, slot_a, slot_a_len);
}
