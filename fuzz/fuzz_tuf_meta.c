/*
 * libFuzzer target: the TUF client's metadata parser and verifier
 * (src/tuf/tuf_meta.c, tuf_json.c). Any bytes are accepted as one
 * metadata type or refused with a detail message, never crash. Accepted
 * metadata: canonical JSON is idempotent (encode, parse, encode gives the same
 * bytes, for output without raw control characters); root signatures are counted against the root's own keys;
 * delegations are matched against a few target paths (paths, hash prefixes,
 * succinct bins).
 */
#include "tuf/tuf_meta.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_canonical(const json_t *v)
{
    char *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    json_t *back = NULL;
    if (fwt_tuf_canonical(v, &a, &al) != FWT_OK) {
        abort(); /* accepted metadata always has a canonical form */
    }
    /* canonical JSON leaves control characters in strings raw (OLPC rules): such output
     * is not JSON, so the round trip is checked only without them */
    for (size_t i = 0; i < al; i++) {
        if ((unsigned char)a[i] < 0x20) {
            free(a);
            return;
        }
    }
    if (fwt_tuf_json_load((const uint8_t *)a, al, "canonical", &back) != FWT_OK ||
        fwt_tuf_canonical(back, &b, &bl) != FWT_OK || al != bl || memcmp(a, b, al) != 0) {
        abort();
    }
    json_decref(back);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[4] = {"root", "timestamp", "snapshot", "targets"};
    static const char *const paths[4] = {"a.bin", "hw-a/fw.bin", "x/y/z", ""};
    for (int i = 0; i < 4; i++) {
        struct tuf_md *m = NULL;
        fwt_detail_clear();
        fwt_err err = tuf_md_parse(data, size, types[i], "fuzz", &m);
        if (err != FWT_OK) {
            if (m != NULL || fwt_detail()[0] == '\0') {
                abort(); /* a refusal leaves nothing behind and says why */
            }
            continue;
        }
        check_canonical(m->signed_);
        if (i == 0) {
            const json_t *keys = json_object_get(m->signed_, "keys");
            const json_t *roles = json_object_get(m->signed_, "roles");
            for (int r = 0; r < 4; r++) {
                (void)!tuf_verify_role(m, keys, json_object_get(roles, types[r]), types[r], "fuzz");
            }
        } else if (i == 3) {
            const json_t *d = json_object_get(m->signed_, "delegations");
            const json_t *roles = json_object_get(d, "roles");
            const json_t *succ = json_object_get(d, "succinct_roles");
            for (int p = 0; p < 4; p++) {
                for (size_t k = 0; k < json_array_size(roles); k++) {
                    (void)tuf_role_matches(json_array_get(roles, k), paths[p]);
                    (void)!tuf_verify_role(m, json_object_get(d, "keys"), json_array_get(roles, k), "r", "fuzz");
                }
                if (succ) {
                    char *bin = tuf_succinct_role_for(succ, paths[p]);
                    if (!bin || !tuf_succinct_is_member(succ, bin)) {
                        abort(); /* the bin a path hashes to is one of the bins */
                    }
                    free(bin);
                }
            }
        }
        tuf_md_free(m);
    }
    return 0;
}
