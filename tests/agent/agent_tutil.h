/*
 * Shared set-up of the agent's C tests: signing test images, a device with
 * file-backed slots (scratch directories: tests/lib/scratch.h). Failures stop the test
 * through cmocka's asserts.
 */
#ifndef FWT_AGENT_TUTIL_H
#define FWT_AGENT_TUTIL_H

#include "agent_internal.h"

/* Sign a payload of payload_len bytes (a pattern seeded by sc) for hardware "hw1", with
 * security counter sc and version ver, by key and, when key2 is not NULL, key2 too.
 * dir holds the scratch payload file. */
void tu_sign(const char *dir, const char *key, const char *key2, const char *out, const char *ver,
             uint32_t sc, size_t payload_len);
/* tu_sign by key alone, big endian (imgtool --endian big) when big_endian is set. */
void tu_sign_order(const char *dir, const char *key, const char *out, const char *ver, uint32_t sc,
                   size_t payload_len, int big_endian);

/* A device DIR/NAME for hardware "hw1" trusting key, slots DIR/NAME-a.bin and
 * DIR/NAME-b.bin (slot_a gets the first one's path), opened. min_sc/min_kv:
 * the initial anti-rollback minimums. */
fwt_agent *tu_device(const char *dir, const char *name, const char *key, uint32_t min_sc,
                     uint32_t min_kv, char *slot_a, size_t slot_a_len);
/* The same with the caller's init options (keys, threshold, hardware id...); the slot paths
 * are filled in. */
fwt_agent *tu_device_opts(const char *dir, const char *name, struct fwt_agent_init_opts *io, char *slot_a,
                          size_t slot_a_len);

#endif
