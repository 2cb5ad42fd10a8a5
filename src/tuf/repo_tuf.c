/*
 * fwtrust repo: the repository tool's stricter reading of TUF key objects (the
 * key id must be the SHA-256 of the key, as the tool makes them); the encoding
 * itself is the TUF module's one implementation (tuf_json.c, shared with the client).
 */
#include "repo.h"
#include "tuf_json.h"

#include <string.h>

/* The repository tool also insists that the key id is the SHA-256 of the key (it made them so). */
fwt_err repo_tuf_key_to_pub(const json_t *key, const char *keyid, fwt_pubkey **pub)
{
    *pub = NULL;
    if (!json_is_object(key)) {
        return fwt_fail(FWT_E_META, "key needs \"keytype\", \"scheme\" and \"keyval\": {\"public\"}");
    }
    char id[REPO_KEYID_LEN + 1];
    fwt_err err = fwt_tuf_keyid(key, id);
    if (err != FWT_OK) {
        return err;
    }
    if (!keyid || strcmp(id, keyid) != 0) {
        return fwt_fail(FWT_E_META, "key id %.16s... is not the SHA-256 of its key (%.16s...)", keyid ? keyid : "",
                        id);
    }
    return fwt_tuf_key_to_pub(key, pub);
}
