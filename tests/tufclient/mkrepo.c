/*
 * tufclient_mkrepo: write a test TUF repository for the CLI tests.
 *   tufclient_mkrepo DIR [--big BYTES | --roots N]
 * DIR/metadata (serve this; 1.root.json is the initial root), DIR/targets.
 * With --roots N the root is re-signed up to version N (N.root.json).
 * Consistent snapshots; targets "a.bin" (top-level targets) and "hw/fw.bin"
 * (delegated role "hw/a": a name that must be percent-encoded); with --big a
 * target "big.bin" of BYTES bytes. Keys are made for the run and discarded.
 */
#define FWTRUST_INTERNAL 1
#include "trepo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    int big_opt = argc == 4 && !strcmp(argv[2], "--big");
    int roots_opt = argc == 4 && !strcmp(argv[2], "--roots");
    if (argc != 2 && !big_opt && !roots_opt) {
        fprintf(stderr, "usage: tufclient_mkrepo DIR [--big BYTES | --roots N]\n");
        return 1;
    }
    struct trepo r;
    tr_setup_at(&r, argv[1], 1);
    tr_delegate(&r, "targets", "hw/a", "[\"hw/*\"]", 0, 8);
    tr_add_target(&r, "hw/a", "hw/fw.bin", "firmware for hw\n");
    for (unsigned long v = 2; roots_opt && v <= strtoul(argv[3], NULL, 10); v++) {
        tr_publish_root(&r, NULL, 0);
    }
    if (big_opt) {
        size_t n = strtoul(argv[3], NULL, 10);
        char *big = malloc(n + 1);
        if (!big) {
            return 1;
        }
        memset(big, 'x', n);
        big[n] = 0;
        tr_add_target(&r, "targets", "big.bin", big);
        free(big);
    }
    tr_bump(&r, "targets");
    tr_publish(&r);
    tr_release(&r);
    tk_free();
    return 0;
}
