/*
 * libFuzzer target: the repository tool's transaction journal reader
 * (repo_txn_journal_parse, read back after a crash to complete a publish).
 * Any bytes are accepted or refused with a detail message, never crash; an
 * accepted journal names only relative paths inside the repository (no "..",
 * no absolute path), and re-serialises to a journal that parses the same.
 */
#include "tuf/repo.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Absolute, "//", or a component that is "..": the path may leave the repository. ("..m"
 * is a file name like any other.) */
static int leaves_repo(const char *p)
{
    if (p[0] == '/' || strstr(p, "//")) {
        return 1;
    }
    for (const char *c = p;;) {
        size_t n = strcspn(c, "/");
        if (n == 2 && c[0] == '.' && c[1] == '.') {
            return 1;
        }
        if (c[n] == '\0') {
            return 0;
        }
        c += n + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = NULL;
    fwt_detail_clear();
    fwt_err err = repo_txn_journal_parse(data, size, &j);
    if (err != FWT_OK) {
        if (j != NULL || fwt_detail()[0] == '\0') {
            abort(); /* a refusal must leave nothing behind and say why */
        }
        return 0;
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "entries"), i, e) {
        const char *p = json_string_value(json_object_get(e, "path"));
        if (!p || leaves_repo(p)) {
            abort(); /* a path leaving the repository was accepted */
        }
    }
    char *out = NULL;
    size_t len = 0;
    if (repo_json_dump(j, &out, &len) == FWT_OK) {
        json_t *again = NULL;
        if (repo_txn_journal_parse((const uint8_t *)out, len, &again) != FWT_OK || !json_equal(j, again)) {
            abort();
        }
        json_decref(again);
    }
    free(out);
    json_decref(j);
    return 0;
}
