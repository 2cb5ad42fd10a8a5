/*
 * libFuzzer target for the signing log's parsers (src/keys/record.c): bytes as
 * a log entry, a signed tree head, an inclusion proof, a consistency proof and
 * a pinned log key file (signlog_pin.c).
 * Whatever parses must re-encode to something that parses to the same value,
 * and proofs are run through the RFC 9162 verification against tree heads
 * built from their own fields (so the Merkle code sees hostile sizes/paths).
 */
#include "keys/keys_priv.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fwt_signlog_record rec, rec2;
    if (fwt_signlog_record_parse(data, size, &rec) == FWT_OK) {
        char *text = NULL;
        size_t len = 0;
        if (fwt_signlog_record_encode(&rec, &text, &len) != FWT_OK || len != size ||
            memcmp(text, data, size) != 0 ||
            fwt_signlog_record_parse((const uint8_t *)text, len, &rec2) != FWT_OK ||
            memcmp(&rec, &rec2, sizeof(rec)) != 0) {
            abort(); /* a canonical entry must round-trip exactly */
        }
        free(text);
        struct fwt_audit_opts o;
        memset(&o, 0, sizeof(o));
        (void)fwt_audit_window_parse("08:00-18:00", &o);
    }

    struct fwt_signlog_sth sth, sth2;
    if (fwt_signlog_sth_from_json((const char *)data, size, &sth) == FWT_OK) {
        char *text = NULL;
        if (fwt_signlog_sth_to_json(&sth, &text) != FWT_OK ||
            fwt_signlog_sth_from_json(text, strlen(text), &sth2) != FWT_OK ||
            memcmp(&sth, &sth2, sizeof(sth)) != 0) {
            abort();
        }
        free(text);
        uint8_t tbs[FWT_SIGNLOG_STH_TBS_SIZE];
        fwt_signlog_sth_tbs(&sth, tbs);
    }

    struct fwt_signlog_proof p;
    if (fwt_signlog_proof_from_json((const char *)data, size, &p) == FWT_OK) {
        struct fwt_signlog_sth head;
        memset(&head, 0, sizeof(head));
        head.tree_size = p.tree_size;
        /* Against a root the path leads to when it is well formed, and a wrong one. */
        uint8_t leaf[32];
        if (fwt_merkle_leaf_hash((const uint8_t *)p.entry, p.entry_len, leaf) == FWT_OK) {
            memcpy(head.root, leaf, 32);
        }
        (void)fwt_signlog_proof_check(&p, &head);
        head.root[0] ^= 1;
        if (p.path_len == 0 && fwt_signlog_proof_check(&p, &head) == FWT_OK) {
            abort(); /* an empty path proves only the leaf itself */
        }
        char *text = NULL;
        if (fwt_signlog_proof_to_json(&p, &text) == FWT_OK) {
            struct fwt_signlog_proof q;
            if (fwt_signlog_proof_from_json(text, strlen(text), &q) != FWT_OK ||
                q.index != p.index || q.tree_size != p.tree_size || q.path_len != p.path_len ||
                q.entry_len != p.entry_len || memcmp(q.entry, p.entry, p.entry_len) != 0) {
                abort();
            }
            fwt_signlog_proof_free(&q);
            free(text);
        }
        fwt_signlog_proof_free(&p);
    }

    struct fwt_signlog_pin pin;
    if (fwt_signlog_pin_parse((const char *)data, size, &pin) == FWT_OK) {
        uint8_t kh[32];
        if (!pin.log || !pin.pub || fwt_pubkey_keyhash(pin.pub, kh) != FWT_OK) {
            abort(); /* a parsed pin always names a log and a usable key */
        }
        fwt_signlog_pin_free(&pin);
    }

    struct fwt_signlog_consistency c;
    if (fwt_signlog_consistency_from_json((const char *)data, size, &c) == FWT_OK) {
        struct fwt_signlog_sth a, b;
        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));
        a.tree_size = c.from;
        b.tree_size = c.to;
        memcpy(a.root, c.from_root, 32);
        memcpy(b.root, c.to_root, 32);
        fwt_err e = fwt_signlog_consistency_check(&c, &a, &b);
        if (e == FWT_OK && c.from == c.to && memcmp(c.from_root, c.to_root, 32) != 0) {
            abort(); /* two different trees of one size are never consistent */
        }
        char *text = NULL;
        if (fwt_signlog_consistency_to_json(&c, &text) == FWT_OK) {
            free(text);
        }
    }
    return 0;
}
