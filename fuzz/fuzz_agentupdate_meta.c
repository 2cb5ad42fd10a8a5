/*
 * libFuzzer target: the JSON an update reads. The same bytes are read as
 *  - an encoded file's header (repo_encoded_read, through a memfd: the whole
 *    container path `fwtrust repo add-target` and `fwtrust delta --info` use),
 *  - its JSON part alone (repo_encoded_check),
 *  - a target's custom metadata as the device reads it (fwt_update_check_target).
 * Each must accept or refuse with a reason; never crash.
 */
#include "agent/update_internal.h"
#include <fwtrust/fwt_repo.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* 1. As a whole file. */
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, data, size) == (ssize_t)size) {
            char path[64];
            snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
            json_t *hdr = NULL, *facts = NULL;
            uint64_t off = 0, len = 0;
            fwt_detail_clear();
            fwt_err err = repo_encoded_read(path, &hdr, &off, &len);
            if (err == FWT_OK && (!hdr || off > len || len != size)) {
                abort();
            }
            if (err != FWT_OK && (hdr || (err != FWT_E_NOT_FOUND && fwt_detail()[0] == '\0'))) {
                abort();
            }
            json_decref(hdr);
            err = repo_encoded_facts(path, &facts);
            if ((err == FWT_OK) != (facts != NULL)) {
                abort();
            }
            json_decref(facts);
        }
        close(fd);
    }
    /* 2. As the header's JSON and 3. as custom metadata. */
    char *text = malloc(size + 1);
    if (!text) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    json_error_t je;
    json_t *j = json_loadb(text, size, JSON_REJECT_DUPLICATES, &je);
    if (j) {
        fwt_detail_clear();
        if (repo_encoded_check(j) != FWT_OK && fwt_detail()[0] == '\0') {
            abort();
        }
        json_decref(j);
    }
    struct fwt_tuf_target t;
    memset(&t, 0, sizeof(t));
    t.name = "fuzz/target";
    t.role = "targets";
    t.length = 1000;
    t.sha256 = "69e192f721b92636a61b3d20183e383f67bafd7cd07aec762dfd3228a910194c";
    t.custom_json = text;
    char why[128];
    why[0] = '\0';
    if (fwt_update_check_target(&t, why, sizeof(why)) != FWT_OK && why[0] == '\0') {
        abort();
    }
    free(text);
    return 0;
}
