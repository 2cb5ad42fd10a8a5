/*
 * Scratch directories of the C tests (every cmocka test links it: tests/CMakeLists.txt,
 * fwt_add_cmocka_test). Return 0 or -1, as cmocka set-ups do; no cmocka needed.
 */
#ifndef FWT_TEST_SCRATCH_H
#define FWT_TEST_SCRATCH_H

#include <stddef.h>

/* A new directory /tmp/fwt-TAG-XXXXXX, its path into dir (cap bytes). */
int ts_mkscratch(char *dir, size_t cap, const char *tag);
/* Remove the tree dir (made writable first: tests leave read-only parts). */
int ts_rmrf(const char *dir);

/* ts_dir/NAME, in one of four rotating buffers (valid until the fourth call after). */
const char *ts_path(const char *name);

/* cmocka set-up and tear-down of ts_dir, a scratch directory named after the program. */
extern char ts_dir[256];
int ts_setup(void **state);
int ts_teardown(void **state);

#endif
