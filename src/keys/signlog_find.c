/*
 * The signing log read on behalf of an image or a kept tree head: finding the
 * entries that record an image's signatures (`fwtrust log find`), and the
 * consistency of the log with a tree head kept from earlier, checked before it
 * is handed out (`fwtrust log consistency`). docs/key-custody.md.
 */
#include "keys_priv.h"
#include <fwtrust/fwt_imagefile.h>

#include <stdlib.h>
#include <string.h>

fwt_err fwt_signlog_image_signers(const char *path, struct fwt_signlog_signers *s)
{
    struct fwt_file_io fio;
    uint8_t *work = malloc(8192);
    memset(s, 0, sizeof(*s));
    if (!work) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_err e = fwt_file_io_open_any(&fio, path);
    if (e != FWT_OK) {
        free(work);
        return e;
    }
    if ((e = fwt_image_parse(&fio.io, work, 8192, &s->info)) != FWT_OK) {
        e = fwt_fail(e, "%s: not a valid image: %s", path, fwt_detail());
    }
    struct fwt_tlv_iter it;
    if (e == FWT_OK) {
        e = fwt_tlv_iter_begin(&it, &fio.io, &s->info.hdr, 0);
    }
    uint16_t t, l;
    uint32_t off;
    while (e == FWT_OK && fwt_tlv_next(&it, &t, &off, &l) == FWT_OK) {
        if (t == FWT_TLV_KEYHASH && l != 32) {
            s->n_other++;
            continue;
        }
        if (!((t == FWT_TLV_KEYHASH && l == 32) || (t == FWT_TLV_PUBKEY && l <= 8192))) {
            continue;
        }
        if (s->n == FWT_SIGNLOG_SIGNERS_MAX) {
            e = fwt_fail(FWT_E_TOO_LARGE, "%s: more than %u signatures", path,
                         (unsigned)FWT_SIGNLOG_SIGNERS_MAX);
        } else if ((e = fio.io.read(fio.io.ctx, off, work, l)) == FWT_OK) {
            if (t == FWT_TLV_KEYHASH) {
                memcpy(s->keyhash[s->n], work, 32);
            } else {
                e = fwt_sha256(work, l, s->keyhash[s->n]);
            }
            s->n++;
        }
    }
    fwt_file_io_close(&fio);
    free(work);
    return e;
}

fwt_err fwt_signlog_find_image(fwt_signlog *log, const fwt_pubkey *log_key,
                               struct fwt_signlog_signers *s, fwt_signlog_match_fn fn, void *ctx)
{
    uint64_t n = 0;
    memset(s->found, 0, sizeof(s->found));
    s->n_missing = 0;
    memset(s->first_missing, 0, sizeof(s->first_missing));
    /* only an intact log can vouch for anything */
    fwt_err e = fwt_signlog_verify(log, log_key, NULL, NULL);
    if (e == FWT_OK) {
        e = fwt_signlog_size(log, &n);
    }
    for (uint64_t i = 0; e == FWT_OK && i < n; i++) {
        char *text = NULL;
        size_t len = 0;
        struct fwt_signlog_record r;
        if ((e = fwt_signlog_entry(log, i, &text, &len)) != FWT_OK) {
            break;
        }
        if (fwt_signlog_record_parse((const uint8_t *)text, len, &r) == FWT_OK &&
            r.digest_len == s->info.digest_len && !memcmp(r.digest, s->info.digest, r.digest_len)) {
            for (size_t k = 0; k < s->n; k++) {
                s->found[k] |= !memcmp(s->keyhash[k], r.keyhash, 32);
            }
            if (fn) {
                fn(ctx, i, text, len, &r);
            }
        }
        free(text);
    }
    for (size_t k = 0; e == FWT_OK && k < s->n; k++) {
        if (!s->found[k] && s->n_missing++ == 0) {
            memcpy(s->first_missing, s->keyhash[k], 32);
        }
    }
    return e;
}

fwt_err fwt_signlog_consistency_since(fwt_signlog *log, const fwt_pubkey *log_key,
                                      const struct fwt_signlog_sth *old, const char *old_name,
                                      const char *log_name, struct fwt_signlog_consistency *c)
{
    struct fwt_signlog_sth head;
    fwt_err e = fwt_signlog_sth_verify(old, log_key);
    if (e != FWT_OK) {
        return fwt_fail(e, "%s: %s", old_name, fwt_detail());
    }
    if ((e = fwt_signlog_latest_sth(log, &head)) != FWT_OK) {
        return e;
    }
    if ((e = fwt_signlog_sth_verify(&head, log_key)) != FWT_OK) {
        return fwt_fail(e, "%s: the newest tree head: %s", log_name, fwt_detail());
    }
    if (old->tree_size > head.tree_size) {
        return fwt_fail(FWT_E_STATE, "the log shrank: %s has %llu entries, the newest head %llu",
                        old_name, (unsigned long long)old->tree_size,
                        (unsigned long long)head.tree_size);
    }
    if ((e = fwt_signlog_prove_consistency(log, old->tree_size, head.tree_size, c)) != FWT_OK) {
        return e;
    }
    /* Check what is handed out: a proof that does not hold means the log was rewritten. */
    if ((e = fwt_signlog_consistency_check(c, old, &head)) != FWT_OK) {
        return fwt_fail(FWT_E_STATE, "the log is not consistent with %s: %s", old_name,
                        fwt_detail());
    }
    return FWT_OK;
}
