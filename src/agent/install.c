/*
 * Streaming install into the inactive slot: the slot is marked bad first,
 * bytes are written and hashed as they come (constant memory, one read of
 * the source), the slot is fsync'ed, its header and TLV areas are read back
 * and compared with the stream's, the image is verified by the verifier core
 * (signatures and policy from the slot, the digest the stream computed), and
 * only then is the slot marked for trial. With FWT_AGENT_INSTALL_READBACK_FULL
 * (or readback = full in device.ini) the slot's pages are dropped from the
 * cache after the fsync and the core hashes the whole slot again from the
 * medium. See docs/agent.md, "Install: one pass".
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
/* Start the medium's writeback every this many bytes, so that it runs while the
 * stream is still being hashed and the final fsync has little left to do. */
#define WRITEBACK_STEP (8U * 1024U * 1024U)
#define FILE_CHUNK FWT_AGENT_BLOCK
#define DIO_ALIGN FWT_AGENT_DIO_ALIGN

/*
 * Helpers take buffers from a ring of RING jobs, in order: up to RING buffers
 * wait to be hashed (or written) while the caller reads the next one, so that
 * reading, hashing and writing each run at their own pace instead of in lock
 * step (install_file keeps FILE_BUFS buffers; see install_write).
 */
#define RING 4U
#define FILE_BUFS 4U /* install_file's buffers: RING at most */
_Static_assert(FILE_BUFS >= 2 && FILE_BUFS <= RING, "install_file keeps 2 to RING buffers");

/*
 * The stream's SHA-256 runs on a helper thread while the main thread writes
 * the same (read-only) buffer to the slot; install_write returns only when
 * both are done with it, or, for blocks (install_write_block), when at most
 * inst->depth blocks are still in their hands. Without the thread (creation
 * failed) it hashes inline.
 */
struct hasher {
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    EVP_MD_CTX *md;
    struct {
        const void *buf;
        size_t len;
    } ring[RING];
    unsigned n_sub;  /* buffers handed over */
    unsigned n_done; /* buffers hashed: n_sub - n_done wait or are being hashed */
    int quit;
    int ok;
};

static void *hasher_main(void *arg)
{
    struct hasher *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (h->n_done == h->n_sub && !h->quit) {
            pthread_cond_wait(&h->cv, &h->mu);
        }
        if (h->quit) {
            break;
        }
        const void *buf = h->ring[h->n_done % RING].buf;
        size_t len = h->ring[h->n_done % RING].len;
        pthread_mutex_unlock(&h->mu);
        int ok = EVP_DigestUpdate(h->md, buf, len) == 1;
        pthread_mutex_lock(&h->mu);
        if (!ok) {
            h->ok = 0;
        }
        h->n_done++;
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

static int hasher_wait(struct hasher *h);

/* Queue buf for the helper (started), waiting for a free place in the ring. */
static void hasher_enqueue(struct hasher *h, const void *buf, size_t len)
{
    pthread_mutex_lock(&h->mu);
    while (h->n_sub - h->n_done >= RING) {
        pthread_cond_wait(&h->cv, &h->mu);
    }
    h->ring[h->n_sub % RING].buf = buf;
    h->ring[h->n_sub % RING].len = len;
    h->n_sub++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* Hand buf to the helper (or hash it now), once every earlier buffer is done. */
static void hasher_submit(struct hasher *h, const void *buf, size_t len)
{
    hasher_wait(h);
    if (!h->started || len < HASH_INLINE_MAX) {
        if (EVP_DigestUpdate(h->md, buf, len) != 1) {
            h->ok = 0;
        }
        return;
    }
    hasher_enqueue(h, buf, len);
}

/* Wait until at most `left` queued buffers are not hashed yet; 1 when every
 * update so far succeeded. */
static int hasher_wait_left(struct hasher *h, unsigned left)
{
    int ok = 1;
    if (h->started) {
        pthread_mutex_lock(&h->mu);
        while (h->n_sub - h->n_done > left) {
            pthread_cond_wait(&h->cv, &h->mu);
        }
        ok = h->ok;
        pthread_mutex_unlock(&h->mu);
        return ok;
    }
    return h->ok;
}

/* Wait until every submitted buffer is hashed; 1 when every update succeeded. */
static int hasher_wait(struct hasher *h)
{
    return hasher_wait_left(h, 0);
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

/*
 * The slot's writes of install_write_block run on a second helper thread, so
 * that reading the next block, hashing this one and writing it overlap. The
 * writes queue in a ring and go one at a time, in order; the first one's error
 * (and the detail, which is per thread) is handed back by the next wait, and
 * no write goes after it. Without the thread (creation failed) the write runs
 * on the caller's thread.
 */
struct writer {
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    fwt_agent_install *inst;
    struct {
        const void *buf;
        size_t len;
        uint64_t off;
    } ring[RING];
    unsigned n_sub;
    unsigned n_done;
    int quit;
    fwt_err err; /* the first failed write */
    char detail[512];
};

static void writer_start(struct writer *w, fwt_agent_install *inst);
static void writer_stop(struct writer *w);

struct fwt_agent_install {
    fwt_agent *dev;
    enum fwt_agent_slot slot;
    int fd;
    int is_blk;
    uint64_t limit;
    uint64_t expected;
    uint64_t written;
    uint64_t writeback; /* writeback started for [0, writeback) */
    int direct;         /* the slot descriptor has O_DIRECT (install_file's aligned blocks) */
    EVP_MD_CTX *md;
    unsigned flags;
    int failed;
    unsigned depth; /* blocks (install_write_block) the helpers may still hold on return */
    char source[256];
    struct hasher hasher;
    struct writer writer;
    /* The stream's SHA-256 of [0, prefix_end) -- header, payload and protected
     * TLVs as the stream's own header announces them, i.e. what the image
     * digest covers -- taken from the helper's running hash at that offset. */
    uint8_t head[16];
    size_t head_len;
    uint64_t prefix_end; /* 0: not known (yet) */
    int have_prefix;
    uint8_t prefix_sha[32];
    /* The stream's header and TLV areas, [0, hdr_size) and [prot_off, written),
     * hashed inline (they are small): what the read-back compares, and what
     * the core reads from the slot when the stream's digest stands in for its
     * own digest pass. */
    uint32_t s_hdr;    /* the stream header's hdr_size (0: not known yet) */
    uint64_t prot_off; /* hdr_size + img_size */
    EVP_MD_CTX *md_meta;
    int meta_ok;
    int want_prov; /* fwt_agent_install_expect_provenance */
    uint8_t prov[32];
};

static void inst_free(fwt_agent_install *inst)
{
    if (!inst) {
        return;
    }
    hasher_stop(&inst->hasher);
    writer_stop(&inst->writer);
    if (inst->fd >= 0) {
        close(inst->fd);
    }
    EVP_MD_CTX_free(inst->md);
    EVP_MD_CTX_free(inst->md_meta);
    free(inst);
}

fwt_err fwt_agent_install_begin(fwt_agent *dev, uint64_t expected_len, unsigned flags,
                                fwt_agent_install **out)
{
    *out = NULL;
    if (dev->readonly) {
        return fwt_fail(FWT_E_ARG, "device opened read-only: cannot install");
    }
    if (flags & ~(FWT_AGENT_INSTALL_ALLOW_OLDER | FWT_AGENT_INSTALL_READBACK_FULL)) {
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
    /* How the last trial ended, recorded before this install overwrites its traces. */
    err = fwt_agent_outcome_sync(dev);
    if (err != FWT_OK) {
        return err;
    }
    const char *path = dev->cfg.slot_path[slot];
    char c = fwt_agent_slot_char(slot);
    fwt_agent_install *inst = calloc(1, sizeof(*inst));
    if (!inst || !(inst->md = EVP_MD_CTX_new()) || !(inst->md_meta = EVP_MD_CTX_new())) {
        if (inst) {
            EVP_MD_CTX_free(inst->md);
        }
        free(inst);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    inst->fd = -1;
    inst->dev = dev;
    inst->slot = slot;
    inst->expected = expected_len;
    inst->flags = flags;
    if (dev->cfg.readback_full) {
        inst->flags |= FWT_AGENT_INSTALL_READBACK_FULL;
    }
    snprintf(inst->source, sizeof(inst->source), "(unnamed)");
    inst->meta_ok = 1;
    inst->depth = 1; /* a caller with two buffers; install_file sets FILE_BUFS - 1 */
    if (EVP_DigestInit_ex(inst->md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestInit_ex(inst->md_meta, EVP_sha256(), NULL) != 1) {
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
         (S_ISBLK(ts.st_mode) && S_ISBLK(os.st_mode) &&
          fwt_agent_blk_overlap("/sys", ts.st_rdev, os.st_rdev) == 1))) {
        err = fwt_fail(FWT_E_ARG, "slot %c is the same file as slot %c, or shares sectors with "
                       "it (%s and %s): refusing to write it", c, fwt_agent_slot_char(slot == FWT_SLOT_A ? FWT_SLOT_B
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
    writer_start(&inst->writer, inst);
    *out = inst;
    return FWT_OK;
}

void fwt_agent_install_expect_provenance(fwt_agent_install *inst, const uint8_t sha256[32])
{
    if (inst && sha256) {
        memcpy(inst->prov, sha256, 32);
        inst->want_prov = 1;
    }
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
        unsigned order = FWT_ORDER_LITTLE;
        if (fwt_image_order(h, &order) != FWT_OK) {
            inst->meta_ok = 0; /* no image magic in either byte order: the full path says why */
            return;
        }
        /* the sizes in the byte order the magic declares (imgtool --endian) */
        uint64_t hdr = fwt_image_u16(order, h + 8);
        uint64_t prot = fwt_image_u16(order, h + 10);
        uint64_t img = fwt_image_u32(order, h + 12);
        uint64_t end = hdr + img + prot; /* at most 2^32 + 2^17: no overflow */
        /* The snapshot must fall after the bytes already hashed. */
        inst->prefix_end = end > inst->written ? end : 0;
        inst->s_hdr = (uint32_t)hdr;
        inst->prot_off = hdr + img;
        if (hdr < 32) {
            inst->meta_ok = 0; /* not an image the core accepts: the full path says why */
        }
    }
}

/* Hash the parts of [off, off + len) in the stream's header, [0, hdr_size), and
 * in its TLV areas, [prot_off, end). Before the header's sizes are known (the
 * first 16 bytes), every byte is a header byte. */
static void meta_update(fwt_agent_install *inst, const uint8_t *buf, size_t len, uint64_t off)
{
    if (!inst->meta_ok) {
        return;
    }
    uint64_t end = off + len;
    uint64_t a_end = inst->s_hdr ? inst->s_hdr : sizeof(inst->head);
    int ok = 1;
    if (off < a_end) {
        uint64_t n = (end < a_end ? end : a_end) - off;
        ok = EVP_DigestUpdate(inst->md_meta, buf, (size_t)n) == 1;
    }
    if (ok && inst->s_hdr && inst->prot_off < end) {
        uint64_t from = inst->prot_off > off ? inst->prot_off : off;
        if (from < end) {
            ok = EVP_DigestUpdate(inst->md_meta, buf + (from - off), (size_t)(end - from)) == 1;
        }
    }
    if (!ok) {
        inst->meta_ok = 0;
    }
}

/* The stream's hash of [0, prefix_end), taken when the helper is idle. */
static void prefix_snapshot(fwt_agent_install *inst)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned n = 0;
    inst->have_prefix = c && EVP_MD_CTX_copy_ex(c, inst->md) == 1 &&
                        EVP_DigestFinal_ex(c, inst->prefix_sha, &n) == 1 && n == 32;
    EVP_MD_CTX_free(c);
}

/*
 * Ask the kernel to start writing the slot's new pages to the medium
 * (sync_file_range without waiting): a hint that overlaps the medium's work
 * with the hashing; durability still comes from the fsync in finish.
 */
static void start_writeback(fwt_agent_install *inst)
{
#ifdef SYNC_FILE_RANGE_WRITE
    uint64_t n = inst->written - inst->writeback;
    if (n < WRITEBACK_STEP) {
        return;
    }
    if (sync_file_range(inst->fd, (off_t)inst->writeback, (off_t)n, SYNC_FILE_RANGE_WRITE) != 0) {
        /* only a hint: the fsync reports any error */
    }
    inst->writeback = inst->written;
#else
    (void)inst;
#endif
}

/* Back to buffered writes (a block that is not aligned, or the kernel refused). */
static void direct_off(fwt_agent_install *inst)
{
    int fl = fcntl(inst->fd, F_GETFL);
    if (fl != -1 && fcntl(inst->fd, F_SETFL, fl & ~O_DIRECT) != -1) {
        inst->direct = 0;
    }
}

/*
 * Write to the slot. Direct writes (O_DIRECT: from install_file's aligned
 * buffer to the medium, no copy into the page cache, nothing left for the
 * fsync) only for aligned blocks; anything else, or a direct write the kernel
 * refuses or shortens, goes the buffered way.
 */
static fwt_err slot_pwrite(fwt_agent_install *inst, const void *buf, size_t len, uint64_t off)
{
    const char *what = inst->dev->cfg.slot_path[inst->slot];
    if (inst->direct && ((uintptr_t)buf % DIO_ALIGN || off % DIO_ALIGN || len % DIO_ALIGN)) {
        direct_off(inst);
    }
    if (inst->direct) {
        ssize_t w = fwt_f_pwrite(inst->fd, buf, len, (off_t)off);
        if (w == (ssize_t)len) {
            return FWT_OK;
        }
        direct_off(inst);
        if (inst->direct) {
            return fwt_fail(FWT_E_IO, "%s: cannot leave direct I/O: %s", what, strerror(errno));
        }
        if (w > 0) {
            buf = (const uint8_t *)buf + w;
            len -= (size_t)w;
            off += (uint64_t)w;
        }
    }
    return fwt_f_pwrite_all(inst->fd, buf, len, (off_t)off, what);
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->n_done == w->n_sub && !w->quit) {
            pthread_cond_wait(&w->cv, &w->mu);
        }
        if (w->quit) {
            break;
        }
        const void *buf = w->ring[w->n_done % RING].buf;
        size_t len = w->ring[w->n_done % RING].len;
        uint64_t off = w->ring[w->n_done % RING].off;
        int skip = w->err != FWT_OK; /* nothing is written after a failed write */
        pthread_mutex_unlock(&w->mu);
        fwt_err e = skip ? FWT_OK : slot_pwrite(w->inst, buf, len, off);
        pthread_mutex_lock(&w->mu);
        if (e != FWT_OK && w->err == FWT_OK) {
            w->err = e;
            snprintf(w->detail, sizeof(w->detail), "%s", fwt_detail());
        }
        w->n_done++;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void writer_start(struct writer *w, fwt_agent_install *inst)
{
    memset(w, 0, sizeof(*w));
    w->inst = inst;
    if (pthread_mutex_init(&w->mu, NULL) != 0) {
        return;
    }
    if (pthread_cond_init(&w->cv, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        return;
    }
    w->started = pthread_create(&w->th, NULL, writer_main, w) == 0;
    if (!w->started) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
    }
}

/* Wait until at most `left` queued writes are not done; the first failed
 * write's error, if any. */
static fwt_err writer_wait_left(struct writer *w, unsigned left)
{
    if (!w->started) {
        return w->err;
    }
    pthread_mutex_lock(&w->mu);
    while (w->n_sub - w->n_done > left) {
        pthread_cond_wait(&w->cv, &w->mu);
    }
    fwt_err e = w->err;
    pthread_mutex_unlock(&w->mu);
    return e == FWT_OK ? FWT_OK : fwt_fail(e, "%s", w->detail);
}

/* Wait until no write is queued or in flight; the first failed write's error, if any. */
static fwt_err writer_wait(struct writer *w)
{
    return writer_wait_left(w, 0);
}

/* Queue buf for the writer thread (started), waiting for a free place in the ring. */
static void writer_submit(struct writer *w, const void *buf, size_t len, uint64_t off)
{
    pthread_mutex_lock(&w->mu);
    while (w->n_sub - w->n_done >= RING) {
        pthread_cond_wait(&w->cv, &w->mu);
    }
    w->ring[w->n_sub % RING].buf = buf;
    w->ring[w->n_sub % RING].len = len;
    w->ring[w->n_sub % RING].off = off;
    w->n_sub++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Stop the thread after the write in flight (queued ones not yet started are dropped). */
static void writer_stop(struct writer *w)
{
    if (!w->started) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    w->started = 0;
}

/*
 * Write and hash one buffer. With async the helpers may still be hashing and
 * writing buf, and the inst->depth - 1 blocks before it, when this returns: the
 * caller leaves each buffer alone until inst->depth more blocks went this way
 * (depth 1: its next write) or until install_drain. The helpers then work
 * through the ring at their own pace: the hash of block n, the write of block
 * n - 1 and the read of block n + 1 run at once, and a slow write or read does
 * not hold up the hash (nor one slow hash the write) while the ring has room.
 */
static fwt_err install_write(fwt_agent_install *inst, const void *buf, size_t len, int async)
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
    fwt_err err;
    int hashed;
    if (async && !split && len >= HASH_INLINE_MAX && inst->hasher.started &&
        inst->writer.started) {
        /* The ring: queue the hash and the write, then wait only until no more
         * than depth blocks are in the helpers' hands (both in order). */
        hasher_enqueue(&inst->hasher, buf, len);
        meta_update(inst, buf, len, off);
        err = writer_wait_left(&inst->writer, RING - 1); /* an earlier write's error */
        if (err == FWT_OK) {
            writer_submit(&inst->writer, buf, len, off);
            err = writer_wait_left(&inst->writer, inst->depth);
        }
        hashed = hasher_wait_left(&inst->hasher, inst->depth);
    } else {
        /* One buffer at a time: the hash waits for every earlier one
         * (hasher_submit), the write for every earlier write. */
        hasher_submit(&inst->hasher, buf, first);
        meta_update(inst, buf, len, off);
        err = writer_wait(&inst->writer);
        int queued = 0;
        if (err == FWT_OK && async && !split && inst->writer.started) {
            writer_submit(&inst->writer, buf, len, off);
            queued = 1;
        } else if (err == FWT_OK) {
            err = slot_pwrite(inst, buf, len, off);
        }
        /* buf is the caller's again only after these waits (async: the next call's). */
        hashed = queued ? 1 /* checked by the next wait */ : hasher_wait(&inst->hasher);
        if (hashed && split) {
            prefix_snapshot(inst);
            if (first < len) {
                hasher_submit(&inst->hasher, (const uint8_t *)buf + first, len - first);
                hashed = hasher_wait(&inst->hasher);
            }
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
    start_writeback(inst);
    return FWT_OK;
}

fwt_err fwt_agent_install_write(fwt_agent_install *inst, const void *buf, size_t len)
{
    return install_write(inst, buf, len, 0);
}

fwt_err fwt_agent_install_write_block(fwt_agent_install *inst, const void *buf, size_t len)
{
    return install_write(inst, buf, len, 1);
}

fwt_err fwt_agent_install_drain(fwt_agent_install *inst)
{
    if (!hasher_wait(&inst->hasher)) {
        inst->failed = 1;
        return fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
    }
    fwt_err err = writer_wait(&inst->writer);
    if (err != FWT_OK) {
        inst->failed = 1;
    }
    return err;
}

void fwt_agent_install_direct(fwt_agent_install *inst)
{
    int fl = fcntl(inst->fd, F_GETFL);
    inst->direct = fl != -1 && fcntl(inst->fd, F_SETFL, fl | O_DIRECT) != -1;
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

/* The slot's [0, hdr_size) and [prot_off, written) hash as the stream's did? (*same) */
static fwt_err meta_cmp(fwt_agent_install *inst, const char *path, EVP_MD_CTX *md, int *same)
{
    uint8_t want[32], got[32];
    unsigned wl = 0, gl = 0;
    *same = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_MD_CTX_copy_ex(c, inst->md_meta) == 1 &&
             EVP_DigestFinal_ex(c, want, &wl) == 1 && wl == 32 &&
             EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    EVP_MD_CTX_free(c);
    fwt_err err = ok ? read_back(path, md, 0, inst->s_hdr) : fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
    if (err == FWT_OK) {
        err = read_back(path, md, inst->prot_off, inst->written);
    }
    if (err == FWT_OK && (EVP_DigestFinal_ex(md, got, &gl) != 1 || gl != 32)) {
        err = fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
    }
    *same = err == FWT_OK && fwt_ct_compare(want, got, 32) == 0;
    return err;
}

/*
 * Verify the slot with the core and check that it holds the stream's bytes
 * (*same). Three ways, by what the stream gave:
 *  - one pass (the default, with the stream's prefix hash and header/TLV
 *    hash): the core reads the header and TLV areas from the slot and takes
 *    the stream's SHA-256 of [0, end of protected TLVs) for its digest; those
 *    areas are read back and compared with the stream's. The payload is not
 *    read again: it went from the hashed buffer to the slot, and the
 *    bootloader hashes all of it before every boot.
 *  - READBACK_FULL: the same, but the core's own digest pass over the slot
 *    (from the medium: finish_checks dropped the cached pages) must equal the
 *    stream's prefix hash.
 *  - otherwise (an image hashed with SHA-384, or a stream whose header did
 *    not announce a usable layout): the core verifies the slot and the whole
 *    slot is read back and compared with the whole stream's SHA-256.
 */
static fwt_err verify_installed(fwt_agent_install *inst, struct fwt_agent_image *img,
                                const uint8_t want[32], int *same)
{
    *same = 0;
    int quick = inst->have_prefix && inst->meta_ok && inst->prefix_end <= inst->written;
    int pre = quick && !(inst->flags & FWT_AGENT_INSTALL_READBACK_FULL);
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
    if (err == FWT_OK && (err = fwt_file_io_open(&h->fio, path)) == FWT_OK) {
        open_ok = 1;
        h->fio.io.flags = FWT_IO_PLAINTEXT; /* slots hold plaintext (see fwt_agent_verify_slot) */
        err = fwt_openssl_ops_init(&ops);
        ops_ok = err == FWT_OK;
    }
    struct fwt_image_info info;
    memset(&info, 0, sizeof(info));
    if (err == FWT_OK && quick) {
        /* First: do the slot's header and TLV areas hold the stream's bytes? */
        int meta_same = 0;
        err = meta_cmp(inst, path, h->md, &meta_same);
        if (err != FWT_OK || !meta_same) {
            goto out; /* *same == 0: finish_checks names the difference */
        }
    }
    if (err == FWT_OK && pre) {
        fwt_detail_clear();
        err = fwt_image_verify_prehashed(&h->fio.io, &ops, &pol, FWT_HASH_SHA256,
                                         inst->prefix_sha, sizeof(inst->prefix_sha), work,
                                         VERIFY_WORK, &info);
        if (err == FWT_E_UNSUPPORTED) {
            quick = pre = 0; /* not a SHA-256 image (or not one at all): the long way */
            err = EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) == 1
                      ? FWT_OK
                      : fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
        }
    }
    if (err == FWT_OK && !pre) {
        struct fwt_io io = h->fio.io;
        if (!quick) {
            /* The core's reads of the slot feed the whole-slot read-back hash. */
            h->stage = malloc(VERIFY_WORK);
            h->stage_len = h->stage ? VERIFY_WORK : 0;
            hasher_start(&h->hs, h->md); /* without a thread (or stage) it hashes inline */
            io = (struct fwt_io){h, hio_read, h->fio.io.size, FWT_IO_PLAINTEXT};
        }
        fwt_detail_clear();
        err = fwt_image_verify(&io, &ops, &pol, work, VERIFY_WORK, &info);
    }
    if (err != FWT_OK && open_ok && ops_ok) {
        /* Again through fwt_verify_file, for the sentence naming the cause. It names the
         * image the caller gave (the source), whose bytes the slot holds, not the slot file. */
        struct fwt_image_info again_info;
        char why[1024];
        char c = fwt_agent_slot_char(inst->slot);
        fwt_err again = fwt_verify_file_flags(path, &pol, FWT_IO_PLAINTEXT, &again_info);
        const char *d = fwt_detail();
        size_t pl = strlen(path);
        if (again == err && strncmp(d, path, pl) == 0 && strncmp(d + pl, ": ", 2) == 0) {
            d += pl + 2;
        }
        snprintf(why, sizeof(why), "%s", again == err ? d : fwt_strerror(err));
        fwt_fail(err, "%s: %s (as written to slot %c)", inst->source, why, c);
    }
    if (h && !quick && !hasher_wait(&h->hs)) {
        h->failed = 1;
    }
    if (err == FWT_OK) {
        err = fwt_agent_recheck(&pol, &info);
    }
    if (err == FWT_OK) {
        err = fwt_agent_revocation_check(dev, &pol, &info);
    }
    if (err == FWT_OK && (inst->want_prov || dev->cfg.require_provenance)) {
        if (!info.has_provenance) {
            err = fwt_fail(FWT_E_DIGEST, "%s binds no provenance envelope (FWT_TLV_PROVENANCE), and this "
                           "device requires one ([update] require_provenance)", inst->source);
        } else if (inst->want_prov && fwt_ct_compare(info.provenance, inst->prov, 32) != 0) {
            err = fwt_fail(FWT_E_DIGEST, "%s binds another provenance envelope than the one the "
                           "repository published with it", inst->source);
        }
    }
    if (err == FWT_OK && quick) {
        fwt_agent_image_from_info(dev, inst->slot, &info, img);
        /* info.digest is the slot's signed hash TLV: the core matched it against
         * the stream's digest (one pass) or its own hash of the slot (full),
         * and the layout it read is the one the stream announced. */
        *same = info.hash_alg == FWT_HASH_SHA256 && info.digest_len == 32 &&
                info.hdr.hdr_size == inst->s_hdr && info.prot_off == inst->prot_off &&
                info.unprot_off == inst->prefix_end &&
                fwt_ct_compare(info.digest, inst->prefix_sha, 32) == 0;
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
    fwt_err drained = fwt_agent_install_drain(inst); /* the last block's hash and write */
    if (drained != FWT_OK) {
        return drained;
    }
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
     * cache): the slot is marked for trial only after both succeeded. For a
     * full read-back the fsync comes first, then the slot's cached pages are
     * dropped so that the verifier reads what the medium holds. */
    struct fsync_job job = {inst->fd, 0, 0};
    pthread_t th;
    int full = (inst->flags & FWT_AGENT_INSTALL_READBACK_FULL) != 0;
    int threaded = !full && pthread_create(&th, NULL, fsync_main, &job) == 0;
    if (!threaded) {
        fsync_main(&job);
        if (job.rc != 0) {
            return fwt_fail(FWT_E_IO, "%s: fsync: %s", path, strerror(job.err));
        }
    }
    if (full) {
        int rc = posix_fadvise(inst->fd, 0, 0, POSIX_FADV_DONTNEED);
        if (rc != 0) {
            return fwt_fail(FWT_E_IO, "%s: dropping cached pages for the read-back: %s", path,
                            strerror(rc));
        }
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
        fwt_version_format(&img->version, a, sizeof(a));
        fwt_version_format(&run.hdr.version, b, sizeof(b));
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
    if (err == FWT_OK) {
        /* a multi-image device: what this image depends on must be there first */
        err = fwt_agent_deps_check(dev, dev->cfg.slot_path[inst->slot]);
    }
    char d[2048];
    if (err != FWT_OK) {
        char keep[1024];
        snprintf(keep, sizeof(keep), "%s", fwt_detail());
        snprintf(d, sizeof(d), "slot %c: image from %s refused (%s): %s", c, inst->source,
                 fwt_err_name(err), keep);
        if (fwt_audit_append(dev->cfg.dir, "install-refused", d) != FWT_OK) {
            /* best effort: the refusal itself is what the caller must see */
        }
        snprintf(d, sizeof(d), "%s: %s", fwt_err_name(err), keep);
        if (fwt_agent_outcome_note(dev, FWT_OUTCOME_REFUSED, inst->slot, NULL, d) != FWT_OK) {
            /* best effort, as above */
        }
        fwt_fail(err, "%s", keep);
        inst_free(inst);
        return err;
    }
    struct fwt_bootctl *bc = &dev->bc;
    const struct fwt_bootctl before = *bc; /* what a failure puts back */
    bc->bad[inst->slot] = 0;
    bc->digest_len[inst->slot] = (uint8_t)img.digest_len;
    memcpy(bc->digest[inst->slot], img.digest, img.digest_len);
    bc->trial = (uint8_t)inst->slot;
    bc->tries_left = dev->cfg.tries;
    bc->booted_trial = 0;
    if (bc->booted == inst->slot) {
        bc->booted = FWT_SLOT_NONE; /* nothing runs from it any more */
    }
    /* Before the slot is marked: a trial that then ends without a confirm is seen as one. */
    err = fwt_agent_outcome_note(dev, FWT_OUTCOME_TRIAL, inst->slot, &img, NULL);
    if (err == FWT_OK) {
        err = fwt_agent_bc_commit(dev);
    }
    if (err == FWT_OK) {
        char v[48], dig[2 * FWT_DIGEST_MAX + 1];
        fwt_version_format(&img.version, v, sizeof(v));
        fwt_hex_encode(img.digest, img.digest_len, dig);
        snprintf(d, sizeof(d), "slot %c: version %s, security counter %u, digest %s, %llu bytes "
                 "from %s; on trial with %u tries", c, v, (unsigned)img.security_counter, dig,
                 (unsigned long long)inst->written, inst->source, (unsigned)dev->cfg.tries);
        err = fwt_audit_append(dev->cfg.dir, "install", d);
        if (err != FWT_OK) {
            /* An install the audit log does not show must not stay (a log cut short or
             * tampered with refuses appends): boot control goes back to what it was. */
            char keep[1024];
            snprintf(keep, sizeof(keep), "%s", fwt_detail());
            *bc = before;
            if (fwt_agent_bc_commit(dev) == FWT_OK) {
                if (fwt_agent_outcome_cancelled(dev) != FWT_OK) {
                    /* best effort: the outcome reconciles with boot control when read */
                }
                fwt_fail(err, "slot %c: install undone, the audit log refused it: %s", c, keep);
            } else {
                fwt_fail(err, "slot %c: the image is on trial, but the audit log refused it (%s) and "
                         "undoing the install failed: %s", c, keep, fwt_detail());
            }
        }
    } else {
        *bc = before; /* not committed: the device keeps the state on disk */
    }
    if (err == FWT_OK && img_out) {
        *img_out = img;
    }
    inst_free(inst);
    return err;
}

/* Read up to len bytes (fewer only at the end of the source); -1 on error. */
static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return got > 0 ? (ssize_t)got : -1;
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/*
 * When the image in fd (a regular file of *len bytes) is encrypted: decrypt it
 * with the device's key ([decrypt] key) into an unlinked file in the device
 * directory, *out its descriptor and *len its size. *out stays -1 for a plain
 * image. An encrypted image without a device key is refused.
 */
static fwt_err decrypt_first(fwt_agent *dev, int fd, const char *path, int *out, uint64_t *len)
{
    *out = -1;
    uint8_t raw[FWT_IMAGE_HEADER_SIZE];
    struct fwt_image_header hdr;
    if (pread(fd, raw, sizeof(raw), 0) != (ssize_t)sizeof(raw) ||
        fwt_header_decode(raw, &hdr) != FWT_OK ||
        !(hdr.flags & (FWT_IMAGE_F_ENCRYPTED_AES128 | FWT_IMAGE_F_ENCRYPTED_AES256))) {
        return FWT_OK; /* not encrypted (or not an image: the install says why) */
    }
    if (!dev->cfg.decrypt_key) {
        return fwt_fail(FWT_E_UNSUPPORTED, "%s: an encrypted image, and this device has no "
                        "decryption key ([decrypt] key in device.ini)", path);
    }
    fwt_enckey *key = NULL;
    struct fwt_key_opts ko; /* a token key: module and PIN from the operator's environment */
    memset(&ko, 0, sizeof(ko));
    ko.pin_file = getenv("FWTRUST_PKCS11_PIN_FILE");
    fwt_err err = fwt_enckey_load_ex(dev->cfg.decrypt_key, &ko, &key);
    if (err != FWT_OK) {
        return fwt_fail(err, "the device's decryption key: %s", fwt_detail());
    }
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s/.decrypted.bin", dev->cfg.dir);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        fwt_enckey_free(key);
        return fwt_fail(FWT_E_ARG, "device directory path too long");
    }
    char src[64];
    snprintf(src, sizeof(src), "/proc/self/fd/%d", fd); /* the descriptor we checked */
    int clear = 0;
    err = fwt_decrypt_file(src, tmp, key, 0, NULL, &clear);
    fwt_enckey_free(key);
    if (err != FWT_OK) {
        const char *d = fwt_detail();
        size_t sl = strlen(src);
        if (!strncmp(d, src, sl) && !strncmp(d + sl, ": ", 2)) {
            d += sl + 2;
        }
        char why[768];
        snprintf(why, sizeof(why), "%s", d);
        return fwt_fail(err, "%s: %s", path, why);
    }
    int dfd = open(tmp, O_RDONLY | O_CLOEXEC);
    unlink(tmp); /* the descriptor keeps it until the install is done */
    struct stat st;
    if (dfd < 0 || fstat(dfd, &st) != 0) {
        if (dfd >= 0) {
            close(dfd);
        }
        return fwt_fail(FWT_E_IO, "%s: %s", tmp, strerror(errno));
    }
    *out = dfd;
    *len = (uint64_t)st.st_size;
    return FWT_OK;
}

/* Copy fd to its end into an unlinked file in the device directory: *out, *len. */
static fwt_err spool_stdin(fwt_agent *dev, int fd, int *out, uint64_t *len)
{
    *out = -1;
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s/.stdin.XXXXXX", dev->cfg.dir);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return fwt_fail(FWT_E_ARG, "device directory path too long");
    }
    int sfd = mkstemp(tmp);
    if (sfd < 0) {
        return fwt_fail(FWT_E_IO, "%s: %s", tmp, strerror(errno));
    }
    unlink(tmp);
    uint8_t *buf = malloc(FILE_CHUNK);
    uint64_t total = 0;
    fwt_err err = buf ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
    while (err == FWT_OK) {
        ssize_t r = read_full(fd, buf, FILE_CHUNK);
        if (r < 0) {
            err = fwt_fail(FWT_E_IO, "stdin: read: %s", strerror(errno));
        } else if (r == 0) {
            break;
        } else if (total + (uint64_t)r > UINT32_MAX) {
            err = fwt_fail(FWT_E_TOO_LARGE, "stdin: more than 4 GiB - 1");
        } else {
            for (ssize_t w = 0; err == FWT_OK && w < r;) {
                ssize_t k = write(sfd, buf + w, (size_t)(r - w));
                if (k < 0 && errno != EINTR) {
                    err = fwt_fail(FWT_E_IO, "spooling stdin: %s", strerror(errno));
                }
                w += k > 0 ? k : 0;
            }
            total += (uint64_t)r;
        }
    }
    free(buf);
    if (err == FWT_OK && total == 0) {
        err = fwt_fail(FWT_E_MALFORMED, "stdin is empty");
    }
    if (err != FWT_OK) {
        close(sfd);
        return err;
    }
    *out = sfd;
    *len = total;
    return FWT_OK;
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
    if (is_stdin && expected == 0 && dev->cfg.decrypt_key) {
        /* A device that takes encrypted images: standard input is spooled to an
         * unlinked file first (the key TLV comes after the payload), then read
         * as a file is. */
        int sfd = -1;
        fwt_err serr = spool_stdin(dev, fd, &sfd, &expected);
        if (serr != FWT_OK) {
            return serr;
        }
        fd = sfd;
        is_stdin = 0; /* ours to close */
        path = "stdin";
    }
    return fwt_agent_install_fd(dev, fd, !is_stdin, is_stdin ? "stdin" : path, expected, flags,
                                progress, progress_ctx, NULL, img);
}

fwt_err fwt_agent_install_fd(fwt_agent *dev, int fd, int own_fd, const char *path,
                             uint64_t expected, unsigned flags,
                             void (*progress)(void *ctx, uint64_t done, uint64_t total),
                             void *progress_ctx, const uint8_t *provenance_sha,
                             struct fwt_agent_image *img)
{
    int is_stdin = !own_fd; /* not ours to close */
    if (expected >= FWT_IMAGE_HEADER_SIZE) {
        /* An encrypted image is decrypted first (key checked, plaintext matched
         * against the hash TLV; nothing touched on failure); the slot gets the
         * plaintext, which the install then verifies like any image. */
        int dfd = -1;
        fwt_err derr = decrypt_first(dev, fd, path, &dfd, &expected);
        if (derr != FWT_OK || dfd >= 0) {
            if (!is_stdin) {
                close(fd);
            }
            if (derr != FWT_OK) {
                return derr;
            }
            fd = dfd;
            is_stdin = 0; /* the decrypted copy is ours to close */
        }
    }
    fwt_agent_install *inst = NULL;
    fwt_err err = fwt_agent_install_begin(dev, expected, flags, &inst);
    if (err != FWT_OK) {
        if (!is_stdin) {
            close(fd);
        }
        return err;
    }
    fwt_agent_install_set_source(inst, path);
    if (provenance_sha) {
        fwt_agent_install_expect_provenance(inst, provenance_sha);
    }
    /* A ring of FILE_BUFS buffers, aligned for direct writes to the slot: the
     * next one is read while the helpers hash and write the ones before it. */
    void *mem = NULL;
    if (posix_memalign(&mem, DIO_ALIGN, FILE_BUFS * (size_t)FILE_CHUNK) != 0) {
        mem = NULL;
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    uint8_t *bufs = mem;
    unsigned k = 0;
    if (err == FWT_OK) {
        fwt_agent_install_direct(inst);
        inst->depth = FILE_BUFS - 1; /* the buffer read next is free on return */
    }
    while (err == FWT_OK) {
        uint8_t *buf = bufs + (size_t)k * FILE_CHUNK;
        k = (k + 1) % FILE_BUFS;
        ssize_t r = read_full(fd, buf, FILE_CHUNK);
        if (r < 0) {
            err = fwt_fail(FWT_E_IO, "%s: read: %s", path, strerror(errno));
            break;
        }
        if (r == 0) {
            break;
        }
        err = fwt_agent_install_write_block(inst, buf, (size_t)r);
        if (progress) {
            progress(progress_ctx, fwt_agent_install_written(inst), expected);
        }
    }
    fwt_err drained = fwt_agent_install_drain(inst); /* the helpers are done with bufs */
    if (err == FWT_OK) {
        err = drained;
    }
    free(bufs);
    if (!is_stdin) {
        close(fd);
    }
    if (err != FWT_OK) {
        fwt_agent_install_abort(inst);
        return err;
    }
    return fwt_agent_install_finish(inst, img);
}
