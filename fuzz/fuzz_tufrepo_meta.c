/*
 * libFuzzer target: the repository tool's metadata reader. Any bytes must be
 * accepted as exactly one metadata type or refused with a detail message,
 * never crash; accepted root/targets metadata then goes through the structural
 * checks (keys, thresholds, delegations) and signature counting, and must
 * serialise and re-parse to the same JSON.
 */
#include "tuf/repo.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[4] = {"root", "targets", "snapshot", "timestamp"};
    int accepted = 0;
    for (int i = 0; i < 4; i++) {
        json_t *env = NULL;
        fwt_detail_clear();
        fwt_err err = repo_meta_parse(data, size, types[i], "fuzz", &env);
        if (err != FWT_OK) {
            if (env != NULL || fwt_detail()[0] == '\0') {
                abort(); /* a refusal must leave nothing behind and say why */
            }
            continue;
        }
        accepted++;
        json_t *sd = json_object_get(env, "signed");
        if (i == 0 && repo_root_check(sd) == FWT_OK) {
            struct repo_role_keys rk = {json_object_get(sd, "keys"),
                                        json_object_get(json_object_get(sd, "roles"), "root")};
            size_t valid = 0;
            if (repo_count_signatures(env, &rk, &valid, NULL) == FWT_OK && valid > json_array_size(
                    json_object_get(env, "signatures"))) {
                abort();
            }
        } else if (i == 1) {
            (void)!repo_delegations_check(sd, "fuzz");
        }
        char *out = NULL;
        size_t len = 0;
        if (repo_json_dump(env, &out, &len) == FWT_OK) {
            json_t *again = NULL;
            if (repo_meta_parse((const uint8_t *)out, len, types[i], "fuzz", &again) != FWT_OK ||
                !json_equal(env, again)) {
                abort();
            }
            json_decref(again);
        }
        free(out);
        json_decref(env);
    }
    if (accepted > 1) {
        abort(); /* _type decides: one type at most */
    }
    return 0;
}
