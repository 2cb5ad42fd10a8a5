/*
 * libFuzzer target: the TUF client workflow (fwt_tuf_refresh and a target
 * lookup) on a repository whose files an attacker controls. A repository is
 * made once (tests/tufclient/trepo.c: consistent snapshots, a delegated role);
 * each input replaces one served file (first byte: 0 timestamp.json,
 * 1 2.snapshot.json, 2 2.targets.json, 3 2.root.json, 4 1.hw-a.json) and the
 * client, reset to its trusted state, refreshes and looks a target up. It must
 * never crash, and a failure must name its cause.
 */
#define FWTRUST_INTERNAL 1
#include "trepo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct trepo repo;
static const char *const files[5] = {"timestamp.json", "2.snapshot.json", "2.targets.json", "2.root.json",
                                     "1.hw-a.json"};
static const char *const client_files[4] = {"root.json", "timestamp.json", "snapshot.json", "targets.json"};
static uint8_t *orig[5], *trusted[4];
static size_t orig_len[5], trusted_len[4];

static void cleanup(void)
{
    tr_free(&repo);
    tk_free();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    tr_setup(&repo, 1);
    tr_delegate(&repo, "targets", "hw-a", "[\"hw-a/*\"]", 0, 8);
    tr_add_target(&repo, "hw-a", "hw-a/fw.bin", "firmware");
    tr_bump(&repo, "targets");
    tr_publish(&repo);
    if (tr_refresh(&repo, 0) != FWT_OK) {
        abort();
    }
    char p[1024];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s/%s", repo.mdir, client_files[i]);
        trusted[i] = tr_read(p, &trusted_len[i]);
    }
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof(p), "%s/%s", repo.meta, files[i]);
        orig[i] = tr_read(p, &orig_len[i]);
    }
    atexit(cleanup);
    return 0;
}

static void put(const char *dir, const char *name, const uint8_t *b, size_t len)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    if (!b) {
        unlink(p);
        return;
    }
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(b, 1, len, f) != len || fclose(f) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    int which = data[0] % 5;
    for (int i = 0; i < 4; i++) {
        put(repo.mdir, client_files[i], trusted[i], trusted_len[i]);
    }
    put(repo.mdir, "hw-a.json", NULL, 0);
    put(repo.mdir, "time-floor", NULL, 0);
    put(repo.meta, files[which], data + 1, size - 1);
    fwt_tuf_client *c = NULL;
    fwt_detail_clear();
    fwt_err err = tr_client(&repo, 0, &c);
    if (err == FWT_OK) {
        err = fwt_tuf_refresh(c);
        if (err == FWT_OK) {
            struct fwt_tuf_target t;
            err = fwt_tuf_get_target(c, "hw-a/fw.bin", &t);
        }
    }
    if (err != FWT_OK && fwt_detail()[0] == '\0') {
        abort();
    }
    fwt_tuf_client_free(c);
    put(repo.meta, files[which], orig[which], orig_len[which]);
    return 0;
}
