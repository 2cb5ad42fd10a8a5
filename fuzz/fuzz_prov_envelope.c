/*
 * libFuzzer target: the DSSE envelope parser (fwt_dsse_parse) and, on the
 * payload, the in-toto Statement parser (fwt_provenance_parse), both in
 * src/provenance/. Each input is accepted or refused with a reason; an
 * accepted envelope, written again and read back, gives the same fields; its
 * signatures are checked against the DSSE test vector's key (which must never
 * crash, whatever the signature bytes). Also the base64 decoder on the raw bytes, and
 * the revocation list payload parser (fwt_revocation_parse) with its encoder.
 */
#include <fwtrust/fwt_provenance.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char k_vector_pub[] = "-----BEGIN PUBLIC KEY-----\n"
                                   "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZ805D3eqNZywjCI19lInBJOp7YMr\n"
                                   "CrzAH3CVTAOQ0jgMeCvVTiaRJaRPRDOv8UMs6U4SvKc6pnrIDOoSYI3fdA==\n"
                                   "-----END PUBLIC KEY-----\n";

static void same(const struct fwt_dsse_envelope *a, const struct fwt_dsse_envelope *b)
{
    if (strcmp(a->payload_type, b->payload_type) != 0 || a->payload_len != b->payload_len ||
        memcmp(a->payload, b->payload, a->payload_len) != 0 || a->n_sigs != b->n_sigs) {
        abort();
    }
    for (size_t i = 0; i < a->n_sigs; i++) {
        if (a->sigs[i].sig_len != b->sigs[i].sig_len ||
            memcmp(a->sigs[i].sig, b->sigs[i].sig, a->sigs[i].sig_len) != 0 ||
            (a->sigs[i].keyid == NULL) != (b->sigs[i].keyid == NULL) ||
            (a->sigs[i].keyid && strcmp(a->sigs[i].keyid, b->sigs[i].keyid) != 0)) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *raw = NULL;
    size_t rl = 0;
    if (fwt_base64_decode((const char *)data, size, &raw, &rl) == FWT_OK) {
        char *again = NULL;
        if (fwt_base64_encode(raw, rl, &again) == FWT_OK) {
            uint8_t *back = NULL;
            size_t bl = 0;
            if (fwt_base64_decode(again, strlen(again), &back, &bl) != FWT_OK || bl != rl ||
                memcmp(back, raw, rl) != 0) {
                abort();
            }
            free(back);
            free(again);
        }
        free(raw);
    }
    struct fwt_revocation rv, rv2;
    if (fwt_revocation_parse(data, size, &rv) == FWT_OK) {
        char *txt = NULL;
        size_t tl0 = 0;
        if (fwt_revocation_encode(&rv, &txt, &tl0) == FWT_OK) {
            /* the encoding sorts and de-duplicates: it reads back with the same version */
            if (fwt_revocation_parse((const uint8_t *)txt, tl0, &rv2) != FWT_OK || rv2.version != rv.version ||
                rv2.n_key_ids > rv.n_key_ids || rv2.n_digests > rv.n_digests) {
                abort();
            }
            for (size_t i = 0; i < rv2.n_key_ids; i++) {
                if (!fwt_revocation_has_key(&rv, rv2.key_ids[i])) {
                    abort();
                }
            }
            fwt_revocation_free(&rv2);
            free(txt);
        }
        fwt_revocation_free(&rv);
    }
    struct fwt_dsse_envelope env, env2;
    fwt_err e = fwt_dsse_parse(data, size, &env);
    if (e != FWT_OK) {
        if (e != FWT_E_MALFORMED && e != FWT_E_TOO_LARGE && e != FWT_E_NOMEM) {
            abort();
        }
        return 0;
    }
    char *text = NULL;
    size_t tl = 0;
    if (fwt_dsse_serialize(&env, &text, &tl) == FWT_OK) {
        if (fwt_dsse_parse((const uint8_t *)text, tl, &env2) != FWT_OK) {
            /* a payload type that jansson cannot write back is the only excuse */
            abort();
        }
        same(&env, &env2);
        fwt_dsse_free(&env2);
        free(text);
    }
    fwt_pubkey *pub = NULL;
    if (fwt_pubkey_from_pem(k_vector_pub, sizeof(k_vector_pub) - 1, &pub) == FWT_OK) {
        const fwt_pubkey *keys[1] = {pub};
        (void)fwt_dsse_verify(&env, keys, 1, 1, NULL, NULL);
        fwt_pubkey_free(pub);
    }
    struct fwt_provenance p;
    if (fwt_provenance_parse(env.payload, env.payload_len, &p) == FWT_OK) {
        if (p.n_subjects == 0 || p.predicate_type == NULL) {
            abort();
        }
        fwt_provenance_free(&p);
    }
    fwt_dsse_free(&env);
    return 0;
}
