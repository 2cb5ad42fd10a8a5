/*
 * Streaming install into the inactive slot: the slot is marked bad first,
 * bytes are written and hashed as they come (constant memory, one read of
 * the source), then read back and compared, verified with the verifier core
 * from the slot, and only then marked for trial.
 */
#include "agent_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <pthread.h>

#define IO_CHUNK (256U * 1024U)
#define HASH_INLINE_MAX (64U * 1024U) /* smaller writes are hashed without the helper thread */

/*
 * The stream's SHA-256 runs on a helper thread while the main thread writes
 * the same (read-only) buffer to the slot; install_write returns only when
 * both are done with it. Without the thread (creation failed) it hashes inline.
 */
struct hasher {
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    EVP_MD_CTX *md;
    const void *buf;
    size_t len;
    int job;  /* a buffer waits to be hashed, or is being hashed */
    int quit;
    int ok;
};

static void *hasher_main(void *arg)
{
    struct hasher *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->job && !h->quit) {
            pthread_cond_wait(&h->cv, &h->mu);
        }
        if (h->quit) {
            break;
        }
        const void *buf = h->buf;
        size_t len = h->len;
        pthread_mutex_unlock(&h->mu);
        int ok = EVP_DigestUpdate(h->md, buf, len) == 1;
        pthread_mutex_lock(&h->mu);
        if (!ok) {
            h->ok = 0;
        }
        h->job = 0;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static void hasher_start(struct hasher *h, EVP_MD_CTX *md)
{
    memset(h, 0, sizeof(*h));
    h->md = md;
    h->ok = 1;
    if (pthread_mutex_init(&h->mu, NULL) != 0) {
        return;
    }
    if (pthread_cond_init(&h->cv, NULL) != 0) {
        pthread_mutex_destroy(&h->mu);
        return;
    }
    h->started = pthread_create(&h->th, NULL, hasher_main, h) == 0;
    if (!h->started) {
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
    }
}

/* Hand buf to the helper (or hash it now). */
static void hasher_submit(struct hasher *h, const void *buf, size_t len)
{
    if (!h->started || len < HASH_INLINE_MAX) {
        if (EVP_DigestUpdate(h->md, buf, len) != 1) {
            h->ok = 0;
        }
        return;
    }
    pthread_mutex_lock(&h->mu);
    h->buf = buf;
    h->len = len;
    h->job = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* Wait until the submitted buffer is hashed; 1 when every update succeeded. */
static int hasher_wait(struct hasher *h)
{
    if (h->started) {
        pthread_mutex_lock(&h->mu);
        while (h->job) {
            pthread_cond_wait(&h->cv, &h->mu);
        }
        pthread_mutex_unlock(&h->mu);
    }
    return h->ok;
}

static void hasher_stop(struct hasher *h)
{
    if (!h->started) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    h->quit = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->th, NULL);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    h->started = 0;
}

struct fwt_agent_install {
    fwt_agent *dev;
    enum fwt_agent_slot slot;
    int fd;
    int is_blk;
    uint64_t limit;
    uint64_t expected;
    uint64_t written;
    EVP_MD_CTX *md;
    unsigned flags;
    int failed;
    char source[256];
    struct hasher hasher;
    /* The stream's SHA-256 of [0, prefix_end) -- header, payload and protected
     * TLVs as the stream's own header announces them, i.e. what the image digest
     * covers -- and of the rest [prefix_end, written). The verifier's digest pass
     * over the slot then doubles as the read-back of the prefix. */
    uint8_t head[16];
    size_t head_len;
    uint64_t prefix_end; /* 0: not known (yet) */
    int have_prefix;
    uint8_t prefix_sha[32];
    EVP_MD_CTX *md_tail;
};

static void inst_free(fwt_agent_install *inst)
{
    if (!inst) {
        return;
    }
    hasher_stop(&inst->hasher);
    if (inst->fd >= 0) {
        close(inst->fd);
    }
    EVP_MD_CTX_free(inst->md);
    EVP_MD_CTX_free(inst->md_tail);
    free(inst);
}

fwt_err fwt_agent_install_begin(fwt_agent *dev, uint64_t expected_len, unsigned flags,
                                fwt_agent_install **out)
{
    *out = NULL;
    if (dev->readonly) {
        return fwt_fail(FWT_E_ARG, "device opened read-only: cannot install");
    }
    if (flags & ~FWT_AGENT_INSTALL_ALLOW_OLDER) {
        return fwt_fail(FWT_E_ARG, "unknown install flags 0x%x", flags);
    }
    struct fwt_policy pol;
    fwt_err err = fwt_agent_policy(dev, &pol); /* no trust anchor: refuse before writing */
    if (err != FWT_OK) {
        return err;
    }
    fwt_err why = FWT_OK;
    enum fwt_agent_slot slot = fwt_agent_target_slot(dev, &why);
    if (slot == FWT_SLOT_NONE) {
        return why;
    }
    const char *path = dev->cfg.slot_path[slot];
    char c = fwt_agent_slot_char(slot);
    fwt_agent_install *inst = calloc(1, sizeof(*inst));
    if (!inst || !(inst->md = EVP_MD_CTX_new())) {
        free(inst);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    inst->fd = -1;
    inst->dev = dev;
    inst->slot = slot;
    inst->expected = expected_len;
    inst->flags = flags;
    snprintf(inst->source, sizeof(inst->source), "(unnamed)");
    if (EVP_DigestInit_ex(inst->md, EVP_sha256(), NULL) != 1) {
        inst_free(inst);
        return fwt_fail(FWT_E_CRYPTO, "SHA-256 unavailable");
    }
    struct stat st;
    if (stat(path, &st) == 0 && S_ISBLK(st.st_mode)) {
        inst->is_blk = 1;
        inst->fd = open(path, O_WRONLY | O_CLOEXEC);
    } else {
        inst->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    }
    if (inst->fd < 0) {
        err = fwt_fail(FWT_E_IO, "slot %c (%s): %s", c, path, strerror(errno));
        inst_free(inst);
        return err;
    }
    /* Never write the other slot: refuse when the target is the same file or
     * block device as the other slot under another name (hard link, symlink). */
    struct stat ts, os;
    const char *other = dev->cfg.slot_path[slot == FWT_SLOT_A ? FWT_SLOT_B : FWT_SLOT_A];
    if (fstat(inst->fd, &ts) != 0) {
        err = fwt_fail(FWT_E_IO, "slot %c (%s): %s", c, path, strerror(errno));
        inst_free(inst);
        return err;
    }
    if (stat(other, &os) == 0 &&
        ((ts.st_dev == os.st_dev && ts.st_ino == os.st_ino) ||
         (S_ISBLK(ts.st_mode) && S_ISBLK(os.st_mode) && ts.st_rdev == os.st_rdev))) {
        err = fwt_fail(FWT_E_ARG, "slot %c is the same file as slot %c (%s and %s): refusing to "
                       "write it", c, fwt_agent_slot_char(slot == FWT_SLOT_A ? FWT_SLOT_B
                                                                            : FWT_SLOT_A),
                       path, other);
        inst_free(inst);
        return err;
    }
    inst->is_blk = S_ISBLK(ts.st_mode); /* what was opened, not what stat saw before */
    inst->limit = UINT32_MAX;
    if (inst->is_blk) {
        off_t end = lseek(inst->fd, 0, SEEK_END);
        if (end > 0 && (uint64_t)end < inst->limit) {
            inst->limit = (uint64_t)end;
        }
    }
    if (dev->cfg.slot_size && dev->cfg.slot_size < inst->limit) {
        inst->limit = dev->cfg.slot_size;
    }
    if (expected_len > inst->limit) {
        err = fwt_fail(FWT_E_TOO_LARGE, "image of %llu bytes does not fit slot %c (%llu bytes)",
                       (unsigned long long)expected_len, c, (unsigned long long)inst->limit);
        inst_free(inst);
        return err;
    }
    /* Never bootable while written: mark the slot bad and forget its image
     * before the first byte lands. */
    struct fwt_bootctl *bc = &dev->bc;
    if (!bc->bad[slot] || bc->digest_len[slot] || bc->trial == slot) {
        bc->bad[slot] = 1;
        bc->digest_len[slot] = 0;
        memset(bc->digest[slot], 0, sizeof(bc->digest[slot]));
        if (bc->trial == slot) {
            bc->trial = FWT_SLOT_NONE;
            bc->tries_left = 0;
            bc->booted_trial = 0;
        }
        if (bc->confirmed == slot) {
            bc->confirmed = FWT_SLOT_NONE; /* only possible when nothing runs yet */
        }
        err = fwt_agent_bc_commit(dev);
        if (err != FWT_OK) {
            inst_free(inst);
            return err;
        }
    }
    hasher_start(&inst->hasher, inst->md);
    *out = inst;
    return FWT_OK;
}

void fwt_agent_install_set_source(fwt_agent_install *inst, const char *source)
{
    if (inst && source) {
        snprintf(inst->source, sizeof(inst->source), "%s", source);
    }
}

uint64_t fwt_agent_install_written(const fwt_agent_install *inst)
{
    return inst ? inst->written : 0;
}

fwt_err fwt_agent_install_sha256(const fwt_agent_install *inst, uint8_t out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned n = 0;
    int ok = c && EVP_MD_CTX_copy_ex(c, inst->md) == 1 && EVP_DigestFinal_ex(c, out, &n) == 1 &&
             n == 32;
    EVP_MD_CTX_free(c);
    return ok ? FWT_OK : fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
}

/* Collect the stream's first 16 bytes: the header's sizes give the prefix the image digest covers. */
static void stream_header(fwt_agent_install *inst, const void *buf, size_t len)
{
    if (inst->head_len >= sizeof(inst->head)) {
        return;
    }
    size_t n = sizeof(inst->head) - inst->head_len;
    if (n > len) {
        n = len;
    }
    memcpy(inst->head + inst->head_len, buf, n);
    inst->head_len += n;
    if (inst->head_len == sizeof(inst->head)) {
        const uint8_t *h = inst->head;
        uint64_t hdr = (uint64_t)h[8] | ((uint64_t)h[9] << 8);
        uint64_t prot = (uint64_t)h[10] | ((uint64_t)h[11] << 8);
        uint64_t img = (uint64_t)h[12] | ((uint64_t)h[13] << 8) | ((uint64_t)h[14] << 16) |
                       ((uint64_t)h[15] << 24);
        uint64_t end = hdr + img + prot; /* at most 2^32 + 2^17: no overflow */
        /* The snapshot must fall after the bytes already hashed. */
        inst->prefix_end = end > inst->written ? end : 0;
    }
}

/* The stream's hash of [0, prefix_end), taken when the helper is idle. */
static void prefix_snapshot(fwt_agent_install *inst)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned n = 0;
    inst->have_prefix = c && (inst->md_tail = EVP_MD_CTX_new()) != NULL &&
                        EVP_DigestInit_ex(inst->md_tail, EVP_sha256(), NULL) == 1 &&
                        EVP_MD_CTX_copy_ex(c, inst->md) == 1 &&
                        EVP_DigestFinal_ex(c, inst->prefix_sha, &n) == 1 && n == 32;
    EVP_MD_CTX_free(c);
}

static int tail_update(fwt_agent_install *inst, const void *buf, size_t len)
{
    return EVP_DigestUpdate(inst->md_tail, buf, len) == 1;
}

fwt_err fwt_agent_install_write(fwt_agent_install *inst, const void *buf, size_t len)
{
    if (!inst || (!buf && len)) {
        return fwt_fail(FWT_E_ARG, "install_write: bad arguments");
    }
    char c = fwt_agent_slot_char(inst->slot);
    if (inst->failed) {
        return fwt_fail(FWT_E_ARG, "install into slot %c already failed", c);
    }
    if (len == 0) {
        return FWT_OK;
    }
    if (len > inst->limit - inst->written) {
        inst->failed = 1;
        return fwt_fail(FWT_E_TOO_LARGE, "image larger than slot %c (%llu bytes)", c,
                        (unsigned long long)inst->limit);
    }
    if (inst->expected && len > inst->expected - inst->written) {
        inst->failed = 1;
        return fwt_fail(FWT_E_TOO_LARGE, "more than the announced %llu bytes",
                        (unsigned long long)inst->expected);
    }
    stream_header(inst, buf, len);
    uint64_t off = inst->written;
    size_t first = len; /* bytes hashed before the prefix snapshot (all when none here) */
    int split = !inst->have_prefix && inst->prefix_end > off && inst->prefix_end - off <= len;
    if (split) {
        first = (size_t)(inst->prefix_end - off);
    }
    hasher_submit(&inst->hasher, buf, first);
    if (inst->have_prefix && !tail_update(inst, buf, len)) {
        inst->have_prefix = 0; /* the read-back hashes everything again */
    }
    fwt_err err = fwt_f_pwrite_all(inst->fd, buf, len, (off_t)off,
                                   inst->dev->cfg.slot_path[inst->slot]);
    int hashed = hasher_wait(&inst->hasher); /* buf is ours again only now */
    if (hashed && split) {
        prefix_snapshot(inst);
        if (first < len) {
            hasher_submit(&inst->hasher, (const uint8_t *)buf + first, len - first);
            if (inst->have_prefix &&
                !tail_update(inst, (const uint8_t *)buf + first, len - first)) {
                inst->have_prefix = 0;
            }
            hashed = hasher_wait(&inst->hasher);
        }
    }
    if (!hashed && err == FWT_OK) {
        err = fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
    }
    if (err != FWT_OK) {
        inst->failed = 1;
        return err;
    }
    inst->written += len;
    return FWT_OK;
}

void fwt_agent_install_abort(fwt_agent_install *inst)
{
    if (!inst) {
        return;
    }
    char d[512];
    snprintf(d, sizeof(d), "slot %c: install from %s abandoned after %llu bytes; slot stays "
             "marked bad", fwt_agent_slot_char(inst->slot), inst->source,
             (unsigned long long)inst->written);
    char keep[1024];
    snprintf(keep, sizeof(keep), "%s", fwt_detail());
    if (fwt_audit_append(inst->dev->cfg.dir, "install-aborted", d) != FWT_OK) {
        /* the log is best effort here: the caller reports the original failure */
    }
    fwt_fail(FWT_OK, "%s", keep);
    inst_free(inst);
}

/* Hash the slot's bytes [from, n) into md, read through a fresh descriptor. */
static fwt_err read_back(const char *path, EVP_MD_CTX *md, uint64_t from, uint64_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fwt_fail(FWT_E_IO, "%s: %s", path, strerror(errno));
    }
    uint8_t *buf = malloc(IO_CHUNK);
    fwt_err err = buf ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
    uint64_t off = from;
    while (err == FWT_OK && off < n) {
        size_t want = n - off > IO_CHUNK ? IO_CHUNK : (size_t)(n - off);
        ssize_t r = pread(fd, buf, want, (off_t)off);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            err = fwt_fail(FWT_E_IO, "%s: read back: %s", path, r < 0 ? strerror(errno) :
                           "slot shorter than the bytes written");
            break;
        }
        if (EVP_DigestUpdate(md, buf, (size_t)r) != 1) {
            err = fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
        }
        off += (uint64_t)r;
    }
    free(buf);
    close(fd);
    return err;
}

/*
 * The verifier reads the slot through this: reads that continue where the
 * previous hashed one ended are hashed too (a read at offset 0 starts over),
 * so the digest pass over [0, end of protected TLVs) doubles as the read-back
 * of those bytes, and only the rest is read again afterwards.
 */
struct hashing_io {
    struct fwt_file_io fio;
    EVP_MD_CTX *md;
    uint64_t next;
    int failed;
    /* The read-back hash runs on a helper thread over a copy of each chunk
     * (the core may reuse its buffer as soon as read returns), overlapping the
     * core's own digest computation. */
    struct hasher hs;
    uint8_t *stage;
    size_t stage_len;
};

static fwt_err hio_read(void *ctx, uint32_t off, void *buf, size_t len)
{
    struct hashing_io *h = ctx;
    fwt_err e = h->fio.io.read(h->fio.io.ctx, off, buf, len);
    if (e != FWT_OK) {
        return e;
    }
    if (off == 0) {
        if (!hasher_wait(&h->hs)) {
            h->failed = 1;
        }
        h->next = 0;
        if (EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
            h->failed = 1;
        }
    }
    if (off == h->next && len > 0) {
        if (!hasher_wait(&h->hs)) { /* the stage and md are free again */
            h->failed = 1;
        }
        if (h->hs.started && h->stage && len <= h->stage_len && len >= HASH_INLINE_MAX) {
            memcpy(h->stage, buf, len);
            hasher_submit(&h->hs, h->stage, len);
        } else if (EVP_DigestUpdate(h->md, buf, len) != 1) {
            h->failed = 1;
        }
        h->next += len;
    }
    return FWT_OK;
}

#define VERIFY_WORK (1024U * 1024U)

struct fsync_job {
    int fd;
    int rc;
    int err;
};

static void *fsync_main(void *arg)
{
    struct fsync_job *j = arg;
    j->rc = fwt_f_fsync(j->fd);
    j->err = errno;
    return NULL;
}

/* SHA-256 of the slot's bytes [from, to) == want? (*same) */
static fwt_err read_back_cmp(const char *path, EVP_MD_CTX *md, uint64_t from, uint64_t to,
                             const uint8_t want[32], int *same)
{
    uint8_t got[32];
    unsigned dl = 0;
    fwt_err err = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
                      ? read_back(path, md, from, to)
                      : fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
    if (err == FWT_OK && (EVP_DigestFinal_ex(md, got, &dl) != 1 || dl != 32)) {
        err = fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
    }
    *same = err == FWT_OK && fwt_ct_compare(want, got, 32) == 0;
    return err;
}

/*
 * Verify the slot with the core and check that its first `written` bytes are
 * the stream's (*same). With the stream's prefix hash (the common case) the
 * core's digest pass over the slot is the read-back of [0, prefix_end): its
 * verified SHA-256 must equal the stream's, and only the unprotected TLVs are
 * read again. Otherwise the read-back hashes the whole slot (whose first part
 * the verifier's reads provide through hio_read).
 */
static fwt_err verify_installed(fwt_agent_install *inst, struct fwt_agent_image *img,
                                const uint8_t want[32], int *same)
{
    *same = 0;
    int quick = inst->have_prefix;
    fwt_agent *dev = inst->dev;
    const char *path = dev->cfg.slot_path[inst->slot];
    struct fwt_policy pol;
    fwt_err err = fwt_agent_policy(dev, &pol);
    if (err != FWT_OK) {
        return err;
    }
    struct hashing_io *h = calloc(1, sizeof(*h));
    uint8_t *work = malloc(VERIFY_WORK);
    struct fwt_crypto_ops ops;
    memset(&ops, 0, sizeof(ops));
    int ops_ok = 0, open_ok = 0;
    if (!h || !work || !(h->md = EVP_MD_CTX_new()) ||
        EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (err == FWT_OK) {
        if (!quick) {
            h->stage = malloc(VERIFY_WORK);
            h->stage_len = h->stage ? VERIFY_WORK : 0;
            hasher_start(&h->hs, h->md); /* without a thread (or stage) it hashes inline */
        }
    }
    if (err == FWT_OK && (err = fwt_file_io_open(&h->fio, path)) == FWT_OK) {
        open_ok = 1;
        err = fwt_openssl_ops_init(&ops);
        ops_ok = err == FWT_OK;
    }
    struct fwt_image_info info;
    memset(&info, 0, sizeof(info));
    if (err == FWT_OK) {
        struct fwt_io io = {h, hio_read, h->fio.io.size};
        if (quick) {
            io = h->fio.io;
        }
        fwt_detail_clear();
        err = fwt_image_verify(&io, &ops, &pol, work, VERIFY_WORK, &info);
        if (err != FWT_OK) {
            /* Again through fwt_verify_file, for the sentence naming the cause. */
            fwt_err again = fwt_agent_verify_slot(dev, inst->slot, img);
            if (again != err) {
                fwt_fail(err, "slot %c: %s", fwt_agent_slot_char(inst->slot),
                         fwt_strerror(err));
            }
        }
    }
    if (h && !quick && !hasher_wait(&h->hs)) {
        h->failed = 1;
    }
    if (err == FWT_OK && quick) {
        fwt_agent_image_from_info(dev, inst->slot, &info, img);
        uint8_t tail[32];
        unsigned tl = 0;
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        int tail_ok = c && EVP_MD_CTX_copy_ex(c, inst->md_tail) == 1 &&
                      EVP_DigestFinal_ex(c, tail, &tl) == 1 && tl == 32;
        EVP_MD_CTX_free(c);
        if (tail_ok && info.hash_alg == FWT_HASH_SHA256 && info.digest_len == 32 &&
            info.unprot_off == inst->prefix_end && inst->prefix_end <= inst->written) {
            /* info.digest is the SHA-256 the core computed over the slot's
             * [0, unprot_off) and matched against the signed hash TLV. */
            if (fwt_ct_compare(info.digest, inst->prefix_sha, 32) == 0) {
                err = read_back_cmp(path, h->md, inst->prefix_end, inst->written, tail, same);
            }
        } else {
            err = read_back_cmp(path, h->md, 0, inst->written, want, same);
        }
        goto out;
    }
    if (err == FWT_OK) {
        fwt_agent_image_from_info(dev, inst->slot, &info, img);
        if (h->failed || h->next > inst->written) {
            /* Not a plain sequential read: hash everything again. */
            if (EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
                err = fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
            }
            h->next = 0;
        }
    }
    if (err == FWT_OK) {
        err = read_back(path, h->md, h->next, inst->written);
    }
    unsigned dl = 0;
    uint8_t got[32];
    if (err == FWT_OK && (EVP_DigestFinal_ex(h->md, got, &dl) != 1 || dl != 32)) {
        err = fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
    }
    *same = err == FWT_OK && fwt_ct_compare(want, got, 32) == 0;
out:
    if (ops_ok) {
        fwt_openssl_ops_free(&ops);
    }
    if (open_ok) {
        fwt_file_io_close(&h->fio);
    }
    if (h) {
        hasher_stop(&h->hs);
        EVP_MD_CTX_free(h->md);
        free(h->stage);
    }
    free(h);
    free(work);
    return err;
}

/* The running image's version and counter (structure only: it was verified at boot). */
static int running_header(fwt_agent *dev, enum fwt_agent_slot slot, struct fwt_image_info *info)
{
    struct fwt_file_io fio;
    if (slot == FWT_SLOT_NONE || fwt_file_io_open(&fio, dev->cfg.slot_path[slot]) != FWT_OK) {
        return 0;
    }
    uint8_t *work = malloc(FWT_CERT_MAX * 4);
    int ok = work && fwt_image_parse(&fio.io, work, FWT_CERT_MAX * 4, info) == FWT_OK;
    free(work);
    fwt_file_io_close(&fio);
    return ok;
}

static fwt_err finish_checks(fwt_agent_install *inst, struct fwt_agent_image *img)
{
    fwt_agent *dev = inst->dev;
    const char *path = dev->cfg.slot_path[inst->slot];
    char c = fwt_agent_slot_char(inst->slot);
    if (inst->failed) {
        return fwt_fail(FWT_E_ARG, "install into slot %c failed earlier", c);
    }
    if (inst->written == 0) {
        return fwt_fail(FWT_E_MALFORMED, "empty image");
    }
    if (inst->expected && inst->written != inst->expected) {
        return fwt_fail(FWT_E_IO, "the source ended after %llu of %llu bytes (changed or cut "
                        "short while it was read)", (unsigned long long)inst->written,
                        (unsigned long long)inst->expected);
    }
    if (!inst->is_blk) {
        struct stat st;
        if (fstat(inst->fd, &st) != 0) {
            return fwt_fail(FWT_E_IO, "%s: %s", path, strerror(errno));
        }
        if ((uint64_t)st.st_size != inst->written &&
            fwt_f_ftruncate(inst->fd, (off_t)inst->written) != 0) {
            return fwt_fail(FWT_E_IO, "%s: truncate: %s", path, strerror(errno));
        }
    }
    /* fsync on a helper thread while the verifier reads the slot (from the page
     * cache): the slot is marked for trial only after both succeeded. */
    struct fsync_job job = {inst->fd, 0, 0};
    pthread_t th;
    int threaded = pthread_create(&th, NULL, fsync_main, &job) == 0;
    if (!threaded) {
        fsync_main(&job);
    }
    uint8_t want[32];
    int same = 0;
    fwt_err err = fwt_agent_install_sha256(inst, want);
    if (err == FWT_OK) {
        err = verify_installed(inst, img, want, &same);
    }
    if (threaded) {
        pthread_join(th, NULL);
    }
    if (job.rc != 0) {
        return fwt_fail(FWT_E_IO, "%s: fsync: %s", path, strerror(job.err));
    }
    if (err != FWT_OK) {
        return err;
    }
    /* The slot holds exactly the bytes streamed in (and verified). */
    if (!same) {
        return fwt_fail(FWT_E_IO, "slot %c: the bytes read back differ from the bytes written "
                        "(flash fault or another writer)", c);
    }
    if (img->total_size > inst->written) {
        return fwt_fail(FWT_E_MALFORMED, "slot %c: the image (%u bytes) extends past the %llu "
                        "bytes installed", c, (unsigned)img->total_size,
                        (unsigned long long)inst->written);
    }
    if (img->total_size < inst->written) {
        return fwt_fail(FWT_E_MALFORMED, "slot %c: %llu bytes after the image (%u bytes) are not "
                        "covered by its signature", c,
                        (unsigned long long)(inst->written - img->total_size),
                        (unsigned)img->total_size);
    }
    struct fwt_image_info run;
    enum fwt_agent_slot rs = fwt_agent_running_slot(&dev->bc);
    if (rs != inst->slot && running_header(dev, rs, &run)) {
        uint32_t rc = run.has_security_counter ? run.security_counter : 0;
        uint32_t ic = img->has_security_counter ? img->security_counter : 0;
        char a[48], b[48];
        fwt_agent_version_str(&img->version, a, sizeof(a));
        fwt_agent_version_str(&run.hdr.version, b, sizeof(b));
        if (ic < rc) {
            return fwt_fail(FWT_E_COUNTER, "slot %c: image security counter %u is below the "
                            "running image's %u (rollback refused)", c, (unsigned)ic,
                            (unsigned)rc);
        }
        if (!(inst->flags & FWT_AGENT_INSTALL_ALLOW_OLDER) &&
            fwt_agent_version_cmp(&img->version, &run.hdr.version) < 0) {
            return fwt_fail(FWT_E_NO_UPDATE, "image version %s is older than the running %s", a,
                            b);
        }
    }
    fwt_detail_clear();
    return FWT_OK;
}

fwt_err fwt_agent_install_finish(fwt_agent_install *inst, struct fwt_agent_image *img_out)
{
    if (!inst) {
        return fwt_fail(FWT_E_ARG, "install_finish: no install");
    }
    fwt_agent *dev = inst->dev;
    struct fwt_agent_image img;
    char c = fwt_agent_slot_char(inst->slot);
    fwt_err err = finish_checks(inst, &img);
    char d[2048];
    if (err != FWT_OK) {
        char keep[1024];
        snprintf(keep, sizeof(keep), "%s", fwt_detail());
        snprintf(d, sizeof(d), "slot %c: image from %s refused (%s): %s", c, inst->source,
                 fwt_err_name(err), keep);
        if (fwt_audit_append(dev->cfg.dir, "install-refused", d) != FWT_OK) {
            /* best effort: the refusal itself is what the caller must see */
        }
        fwt_fail(err, "%s", keep);
        inst_free(inst);
        return err;
    }
    struct fwt_bootctl *bc = &dev->bc;
    bc->bad[inst->slot] = 0;
    bc->digest_len[inst->slot] = (uint8_t)img.digest_len;
    memcpy(bc->digest[inst->slot], img.digest, img.digest_len);
    bc->trial = (uint8_t)inst->slot;
    bc->tries_left = dev->cfg.tries;
    bc->booted_trial = 0;
    if (bc->booted == inst->slot) {
        bc->booted = FWT_SLOT_NONE; /* nothing runs from it any more */
    }
    err = fwt_agent_bc_commit(dev);
    if (err == FWT_OK) {
        char v[48], dig[2 * FWT_DIGEST_MAX + 1];
        fwt_agent_version_str(&img.version, v, sizeof(v));
        fwt_hex_encode(img.digest, img.digest_len, dig);
        snprintf(d, sizeof(d), "slot %c: version %s, security counter %u, digest %s, %llu bytes "
                 "from %s; on trial with %u tries", c, v, (unsigned)img.security_counter, dig,
                 (unsigned long long)inst->written, inst->source, (unsigned)dev->cfg.tries);
        err = fwt_audit_append(dev->cfg.dir, "install", d);
    }
    if (err == FWT_OK && img_out) {
        *img_out = img;
    }
    inst_free(inst);
    return err;
}

fwt_err fwt_agent_install_file(fwt_agent *dev, const char *path, unsigned flags,
                               void (*progress)(void *ctx, uint64_t done, uint64_t total),
                               void *progress_ctx, struct fwt_agent_image *img)
{
    int is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fwt_fail(errno == ENOENT ? FWT_E_NOT_FOUND : FWT_E_IO, "%s: %s", path,
                        strerror(errno));
    }
    uint64_t expected = 0;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        expected = (uint64_t)st.st_size;
        if (expected == 0) {
            if (!is_stdin) {
                close(fd);
            }
            return fwt_fail(FWT_E_MALFORMED, "%s is empty", path);
        }
    } else if (!is_stdin && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode)) {
        close(fd);
        return fwt_fail(FWT_E_ARG, "%s: not a file", path);
    }
    fwt_agent_install *inst = NULL;
    fwt_err err = fwt_agent_install_begin(dev, expected, flags, &inst);
    if (err != FWT_OK) {
        if (!is_stdin) {
            close(fd);
        }
        return err;
    }
    fwt_agent_install_set_source(inst, is_stdin ? "stdin" : path);
    uint8_t *buf = malloc(IO_CHUNK);
    if (!buf) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    while (err == FWT_OK) {
        ssize_t r = read(fd, buf, IO_CHUNK);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            err = fwt_fail(FWT_E_IO, "%s: read: %s", path, strerror(errno));
            break;
        }
        if (r == 0) {
            break;
        }
        err = fwt_agent_install_write(inst, buf, (size_t)r);
        if (progress) {
            progress(progress_ctx, fwt_agent_install_written(inst), expected);
        }
    }
    free(buf);
    if (!is_stdin) {
        close(fd);
    }
    if (err != FWT_OK) {
        fwt_agent_install_abort(inst);
        return err;
    }
    return fwt_agent_install_finish(inst, img);
}
