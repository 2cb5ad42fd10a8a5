/*
 * The TUF key id of each device certificate's key, kept per certificate fingerprint
 * (fwt_fleet_keyid PEM-encodes the key: about half of a manifest's verification).
 *
 * Only an immutable fact is kept: a fingerprint names one certificate, which holds one
 * key, whose key id never changes. Nothing about the device's state is: revocation,
 * decommissioning and renewal are read from the database per request as before, so
 * several server processes sharing a database need no invalidation (a renewed
 * certificate has another fingerprint, hence its own entry). The signature is always
 * verified with the key of the certificate presented.
 *
 * Bounded: a fixed table of slots indexed by the fingerprint's first bytes; a fingerprint
 * that falls on a taken slot replaces it (recomputed when the other comes back).
 */
#include "srv.h"

#include <fwtrust/fwt_fleet.h>
#include <fwtrust/fwt_util.h>

#include <stdlib.h>
#include <string.h>

struct slot {
    uint8_t fp[32];
    uint8_t keyid[32];
    uint8_t used;
};

struct srv_keyids {
    struct slot *slot;
    size_t n;
};

fwt_err srv_keyids_new(size_t slots, struct srv_keyids **out)
{
    *out = NULL;
    struct srv_keyids *k = calloc(1, sizeof(*k));
    if (!k || slots == 0 || !(k->slot = calloc(slots, sizeof(*k->slot)))) {
        free(k);
        return fwt_fail(slots ? FWT_E_NOMEM : FWT_E_ARG, "key id cache: %s", slots ? "out of memory" : "no slot");
    }
    k->n = slots;
    *out = k;
    return FWT_OK;
}

void srv_keyids_free(struct srv_keyids *k)
{
    if (k) {
        free(k->slot);
        free(k);
    }
}

fwt_err srv_keyid(struct srv_keyids *k, const char fp[65], const fwt_pubkey *key, char keyid[65])
{
    uint8_t f[32], id[32];
    if (!k || fwt_hex_decode(fp, f, sizeof(f)) != FWT_OK) {
        return fwt_fleet_keyid(key, keyid); /* no cache (or not a fingerprint): computed */
    }
    struct slot *sl = &k->slot[((size_t)f[0] << 24 | (size_t)f[1] << 16 | (size_t)f[2] << 8 | f[3]) % k->n];
    if (sl->used && memcmp(sl->fp, f, sizeof(f)) == 0) {
        fwt_hex_encode(sl->keyid, sizeof(sl->keyid), keyid);
        return FWT_OK;
    }
    fwt_err e = fwt_fleet_keyid(key, keyid);
    if (e == FWT_OK && fwt_hex_decode(keyid, id, sizeof(id)) == FWT_OK) {
        memcpy(sl->fp, f, sizeof(f));
        memcpy(sl->keyid, id, sizeof(id));
        sl->used = 1;
    }
    return e;
}
