/* Scratch directories of the C tests (scratch.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* program_invocation_short_name */
#endif
#include "scratch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char ts_dir[256];

int ts_mkscratch(char *dir, size_t cap, const char *tag)
{
    int n = snprintf(dir, cap, "/tmp/fwt-%s-XXXXXX", tag);
    if (n < 0 || (size_t)n >= cap || strchr(dir, '\'') || !mkdtemp(dir)) {
        return -1;
    }
    return 0;
}

int ts_rmrf(const char *dir)
{
    char cmd[1200];
    int n = snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", dir, dir);
    if (n < 0 || (size_t)n >= sizeof(cmd) || strchr(dir, '\'') || dir[0] == '\0') {
        return -1;
    }
    return system(cmd) == 0 ? 0 : -1;
}

int ts_setup(void **state)
{
    (void)state;
    return ts_mkscratch(ts_dir, sizeof(ts_dir), program_invocation_short_name);
}

int ts_teardown(void **state)
{
    (void)state;
    return ts_rmrf(ts_dir);
}

const char *ts_path(const char *name)
{
    static char p[4][320];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/%s", ts_dir, name);
    return p[i];
}
