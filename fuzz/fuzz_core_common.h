/* Shared by the core fuzz targets: the mock keys the seed corpus is signed with. */
#ifndef FUZZ_CORE_COMMON_H
#define FUZZ_CORE_COMMON_H

#include "mock.h"

#include <string.h>

/* Keys 1..3 are trusted image keys, 10 is a certificate root (as in the seeds). */
struct fuzz_keys {
    struct mock_key k[4];
    struct fwt_trusted_key t[4];
};

static inline void fuzz_policy(struct fuzz_keys *fk, struct fwt_policy *p, uint8_t sel)
{
    mock_key(&fk->k[0], FWT_KEY_ED25519, 1);
    mock_key(&fk->k[1], FWT_KEY_ECDSA_P256, 2);
    mock_key(&fk->k[2], FWT_KEY_RSA3072, 3);
    mock_key(&fk->k[3], FWT_KEY_ED25519, 10);
    for (int i = 0; i < 4; i++) {
        mock_trusted(&fk->t[i], &fk->k[i]);
    }
    memset(p, 0, sizeof(*p));
    p->keys = fk->t;
    p->n_keys = 3;
    p->roots = &fk->t[3];
    p->n_roots = 1;
    p->threshold = 1U + (sel & 1U);
    if (sel & 2U) {
        p->hw_id = (const uint8_t *)"board-a";
        p->hw_id_len = 7;
    }
    p->min_security_counter = (sel >> 2) & 7U;
    p->min_key_version = (sel >> 5) & 3U;
    p->now = (sel & 0x80U) ? 1700000000ULL : 0;
}

#endif
