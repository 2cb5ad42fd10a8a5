/*
 * Device agent internals: fault-injected file operations, redundant state
 * records, boot control encoding, INI parsing, audit log lines.
 */
#ifndef FWT_AGENT_INTERNAL_H
#define FWT_AGENT_INTERNAL_H

#include <fwtrust/fwt_util.h>

#include <fwtrust/fwt_agent.h>
#include <fwtrust/fwt_fleet.h>

#include <jansson.h>

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- Image dependencies (deps.c) ----
 * FWT_OK when every DEPENDENCY TLV of the image in image_path is met by the
 * image another device of [images] runs next; FWT_E_NOT_FOUND naming the unmet
 * one otherwise. */
FWT_MUST_CHECK fwt_err fwt_agent_deps_check(fwt_agent *dev, const char *image_path);

/* ---- Fault injection (fault.c) ----
 *
 * Every write, fsync, truncate and rename the agent and bootloader make goes
 * through these. With FWT_FAULT_AT=N in the environment the N-th such
 * operation of the process does not happen: the process _exits with
 * FWT_FAULT_EXIT_CODE instead, as if the power failed. With
 * FWT_FAULT_MODE=tear an interrupted write first lands only its first half
 * (as a torn flash write). Without the variables they are plain calls.
 */
#define FWT_FAULT_EXIT_CODE 99
ssize_t fwt_f_pwrite(int fd, const void *buf, size_t len, off_t off);
ssize_t fwt_f_write(int fd, const void *buf, size_t len);
int fwt_f_fsync(int fd);
int fwt_f_ftruncate(int fd, off_t len);
int fwt_f_rename(const char *from, const char *to);
/* A fault point of its own, for a state change that is not a file operation
 * (a TPM NV counter increment): the process may be cut here. */
void fwt_f_point(void);
/* Number of fault points passed so far in this process. */
unsigned long fwt_fault_points(void);

/* While a file is mapped: a SIGBUS (the file shrank under the mapping, e.g.
 * another program truncated it) ends the process with msg on stderr and exit
 * status 2 (FWT_E_IO), as a power cut would end it (the device's state is
 * power-fail safe), instead of a crash. unguard restores the previous action. */
void fwt_agent_sigbus_guard(const char *msg);
void fwt_agent_sigbus_unguard(void);

/*
 * Block writes for installers that gather the stream into their own buffers
 * (install_file, the network update): FWT_AGENT_BLOCK bytes aligned to
 * FWT_AGENT_DIO_ALIGN go to the slot with O_DIRECT once install_direct asked
 * for it (anything else, or a refused direct write, buffered). write_block
 * returns while the helper thread may still hash buf: leave buf alone until
 * the next write_block (which waits for that hash first) or until drain,
 * which must come before install_sha256 or finish.
 */
#define FWT_AGENT_BLOCK (1024U * 1024U)
#define FWT_AGENT_DIO_ALIGN 4096U
/*
 * Install the image read from fd (expected bytes when known, else 0: read to
 * its end) as fwt_agent_install_file does: an encrypted image is decrypted
 * first with [decrypt] key into an unlinked scratch file. path names the source
 * in messages and the audit log; own_fd: close fd when done. provenance_sha
 * (or NULL): the provenance envelope's SHA-256 the image must bind. The network
 * update hands it an encrypted target it spooled (and the TUF client checked).
 */
FWT_MUST_CHECK fwt_err fwt_agent_install_fd(fwt_agent *dev, int fd, int own_fd, const char *path,
                                            uint64_t expected, unsigned flags,
                                            void (*progress)(void *ctx, uint64_t done,
                                                             uint64_t total),
                                            void *progress_ctx, const uint8_t *provenance_sha,
                                            struct fwt_agent_image *img);
void fwt_agent_install_direct(fwt_agent_install *inst);
FWT_MUST_CHECK fwt_err fwt_agent_install_write_block(fwt_agent_install *inst, const void *buf,
                                                     size_t len);
FWT_MUST_CHECK fwt_err fwt_agent_install_drain(fwt_agent_install *inst);

/* One line of a JSON-lines log (audit log, event log) into buf, without its newline. */
enum fwt_line {
    FWT_LINE_OK,   /* a whole line: *len bytes */
    FWT_LINE_END,  /* the end of the file */
    FWT_LINE_TORN, /* a last line without its newline: an append cut short by a power cut */
    FWT_LINE_LONG  /* more than cap bytes before the newline */
};
enum fwt_line fwt_agent_read_line(FILE *f, char *buf, size_t cap, size_t *len);
/* Such a line (1..max bytes) as JSON, duplicate keys refused; FWT_E_STATE naming the line
 * (what: "line", "event line") or the JSON error otherwise. The caller checks the fields. */
FWT_MUST_CHECK fwt_err fwt_agent_json_line(const char *line, size_t len, size_t max, const char *what,
                                           json_t **o);

/* Write all of buf at off (pwrite loop, EINTR retried). */
fwt_err fwt_f_pwrite_all(int fd, const void *buf, size_t len, off_t off, const char *what);
/* Atomic file replace through the fault hooks: temp, write, fsync, rename, dir fsync. */
fwt_err fwt_f_write_atomic(const char *path, const void *buf, size_t len, unsigned mode);
/* fsync a directory (through the fault hook). */
fwt_err fwt_f_fsync_dir(const char *dir);

/* ---- Redundant state records (state.c) ----
 *
 * A record file holds: "FWTSTATE" (8), u16 format 1, u16 kind, u32
 * payload_len, u64 seq, u64 reserved 0, payload, SHA-256 of all of that.
 * Each record kind lives in two files NAME.0 and NAME.1; a write replaces the
 * copy that does not hold the newest valid record, so a torn write never
 * destroys the last good state.
 */
#define FWT_REC_MAGIC "FWTSTATE"
#define FWT_REC_HDR 32U
#define FWT_REC_KIND_BOOTCTL 1U
#define FWT_REC_KIND_ROLLBACK 2U
#define FWT_REC_KIND_AUDIT_HEAD 0x11U /* audithead.{0,1}: the audit log's anchor (audit.c) */
#define FWT_REC_KIND_OUTCOME 0x12U    /* outcome.{0,1}: trial outcomes (outcome.c) */
#define FWT_REC_KIND_REVOCATION 0x13U /* revocation.{0,1}: the revocation list in force (revocation.c) */
#define FWT_REC_KIND_FLEET 0x14U      /* fleet.{0,1}: fleet counters (fleet.c) */
#define FWT_REC_MAX_PAYLOAD 1024U

/* Decode one record file's bytes: FWT_OK, or FWT_E_STATE naming what is wrong. */
fwt_err fwt_rec_decode(const uint8_t *buf, size_t len, uint16_t kind, uint8_t *payload,
                       size_t payload_len, uint64_t *seq);
/* Encode into out (FWT_REC_HDR + payload_len + 32 bytes). */
void fwt_rec_encode(uint16_t kind, uint64_t seq, const uint8_t *payload, size_t payload_len,
                    uint8_t *out);

struct fwt_rec_info {
    uint64_t seq;     /* newest valid sequence number */
    int which;        /* copy it came from (0/1) */
    int valid[2];     /* which copies are valid */
};
/* Read the newest valid copy of dir/name.{0,1}. FWT_E_NOT_FOUND when neither
 * file exists, FWT_E_STATE when none is valid. */
fwt_err fwt_rec_read(const char *dir, const char *name, uint16_t kind, uint8_t *payload,
                     size_t payload_len, struct fwt_rec_info *info);
/* Write a new record (seq = info->seq + 1) over the copy not holding the newest; updates info.
 * With no next sequence number left (a forged copy), both copies are renumbered (1, then 2). */
fwt_err fwt_rec_write(const char *dir, const char *name, uint16_t kind, const uint8_t *payload,
                      size_t payload_len, struct fwt_rec_info *info);

/* Boot control. */
struct fwt_bootctl {
    uint8_t confirmed, trial, booted; /* enum fwt_agent_slot values */
    uint8_t booted_trial, raise_pending;
    uint8_t bad[2];
    uint32_t tries_left;
    uint32_t boot_count;
    uint8_t digest_len[2]; /* 0 = nothing recorded (empty or being written) */
    uint8_t digest[2][FWT_DIGEST_MAX];
    /* The highest security counter and key version of any confirmed image: a floor
     * under the anti-rollback minimums (a damaged rollback copy cannot lower them
     * below it). With raise_pending, confirm is raising the minimums to these. */
    uint32_t floor_sc, floor_kv;
    /* The device's persisted time floor (seconds since 1970): the clock of the latest
     * boot whose image's certificates had not expired then (see fwt_agent_now). */
    uint64_t time_floor;
};
#define FWT_BOOTCTL_SIZE 160U
void fwt_bootctl_encode(const struct fwt_bootctl *bc, uint8_t out[FWT_BOOTCTL_SIZE]);
fwt_err fwt_bootctl_decode(const uint8_t in[FWT_BOOTCTL_SIZE], struct fwt_bootctl *bc);

#define FWT_ROLLBACK_SIZE 16U
void fwt_rollback_encode(const struct fwt_rollback_state *st, uint8_t out[FWT_ROLLBACK_SIZE]);
fwt_err fwt_rollback_decode(const uint8_t in[FWT_ROLLBACK_SIZE], struct fwt_rollback_state *st);

/* ---- INI (config.c) ---- */

/* Called for every key = value (section "" before the first [section]). Non-FWT_OK stops. */
typedef fwt_err (*fwt_ini_fn)(void *ctx, const char *section, const char *key, const char *value,
                              unsigned line);
#define FWT_INI_MAX_LINE 4096U
#define FWT_INI_MAX_SIZE (64U * 1024U)
fwt_err fwt_ini_parse(const char *text, size_t len, fwt_ini_fn fn, void *ctx);

/* Parse a device.ini text into cfg (dir: the device directory, for relative paths). */
fwt_err fwt_agent_config_parse(const char *text, size_t len, const char *dir,
                               struct fwt_agent_config *cfg);
void fwt_agent_config_free(struct fwt_agent_config *cfg);
/* Render cfg as device.ini text (malloc'd, NUL-terminated). */
fwt_err fwt_agent_config_format(const struct fwt_agent_config *cfg, char **out);

/* ---- Audit log lines (audit.c) ---- */

#define FWT_AUDIT_LINE_MAX 4096U
#define FWT_AUDIT_DETAIL_MAX 1024U
struct fwt_audit_entry {
    uint64_t seq;
    uint64_t time;
    char event[32];
    uint8_t prev[32];
    char detail[FWT_AUDIT_DETAIL_MAX + 1];
};
/* Parse one line (without its newline): exactly the fields seq, time, event,
 * detail, prev (and optional slot); FWT_E_STATE otherwise. */
fwt_err fwt_audit_line_parse(const char *line, size_t len, struct fwt_audit_entry *e);
/* Append to dir/audit.log (drops a torn last line first). */
fwt_err fwt_audit_append(const char *dir, const char *event, const char *detail);
/*
 * The anchor: the entry count and the SHA-256 of the last entry, kept in the
 * power-fail-safe record dir/audithead.{0,1}, written after each line is
 * appended and synced. Verified against it, the log may hold the anchored
 * entries, or one more (a power cut between the line and the anchor:
 * *unanchored = 1), and a last line cut short (*torn = 1: a prefix of an
 * entry). Fewer entries, another last entry, more than one extra, junk at the
 * end, a missing anchor beside a non-empty log: FWT_E_STATE.
 */
fwt_err fwt_audit_verify_anchored(const char *dir, uint64_t *n, int *torn, int *unanchored);
/* The same, calling cb (when not NULL) with each entry once its line is checked
 * against the chain; cb returning nonzero stops the walk (FWT_OK). */
fwt_err fwt_audit_walk(const char *dir, int (*cb)(void *ctx, const struct fwt_agent_log_entry *e), void *ctx,
                       uint64_t *n, int *torn, int *unanchored);
fwt_err fwt_audit_verify(const char *dir, uint64_t *n, int *torn);
/* The anchor as recorded: entry count (0: none yet) and the SHA-256 of that entry (the fleet
 * manifest's audit_head). */
fwt_err fwt_audit_head(const char *dir, uint64_t *count, uint8_t hash[32]);

/* ---- Trial outcomes (outcome.c) ---- */

#define FWT_OUTCOME_SIZE 960U
void fwt_outcome_encode(const struct fwt_agent_outcome *o, uint8_t out[FWT_OUTCOME_SIZE]);
fwt_err fwt_outcome_decode(const uint8_t in[FWT_OUTCOME_SIZE], struct fwt_agent_outcome *o);
/* Bring the record up to date with boot control and persist it if it changed. */
fwt_err fwt_agent_outcome_sync(fwt_agent *dev);
/* A trial cancelled before it ever booted ('rollback'): it did not fail, it is forgotten
 * (call after the boot control commit; a cut before leaves it counted as rolled back). */
fwt_err fwt_agent_outcome_cancelled(fwt_agent *dev);
/* Record the outcome of the install into slot (after a sync). ROLLED_BACK also adds the
 * image to the failed releases. reason may be NULL. */
fwt_err fwt_agent_outcome_note(fwt_agent *dev, enum fwt_agent_outcome_kind kind,
                               enum fwt_agent_slot slot, const struct fwt_agent_image *img,
                               const char *reason);

/* ---- Measured boot event log lines (boot.c) ---- */

/* fwt_agent_measurements_verify, and *events: the event count of that boot (the fleet manifest). */
fwt_err fwt_agent_measurements_events(fwt_agent *dev, uint32_t *boot, uint8_t pcr[32], unsigned *events);

struct fwt_event_entry {
    uint32_t boot;
    uint8_t digest[32]; /* the SHA-256 the register was extended with */
};
/* Parse one event log line (without its newline); FWT_E_STATE when it is not one. */
fwt_err fwt_event_line_parse(const char *line, size_t len, struct fwt_event_entry *e);

/* ---- The device (device.c) ---- */

struct fwt_agent_anchor {
    uint8_t enc[FWT_PUBKEY_MAX];
    size_t len;
    enum fwt_key_type type;
};

struct fwt_agent {
    struct fwt_agent_config cfg;
    int lock_fd;
    int readonly;
    struct fwt_agent_anchor anchors[2 * FWT_AGENT_MAX_ANCHORS];
    struct fwt_trusted_key keys[FWT_AGENT_MAX_ANCHORS];
    struct fwt_trusted_key roots[FWT_AGENT_MAX_ANCHORS];
    struct fwt_bootctl bc;
    struct fwt_rec_info bc_info;
    struct fwt_rollback_backend rb;
};

/* The anti-rollback minimums in force: the backend's, never below boot control's floor. */
fwt_err fwt_agent_minimums(fwt_agent *dev, struct fwt_rollback_state *rs);
/*
 * The time for every certificate expiry decision on the device: the latest of
 * the clock, the TUF client's persisted floor (DIR/tuf/time-floor) and boot
 * control's time floor. The clock is the system clock, or FWTRUST_NOW (seconds
 * since 1970) when that is set: a test hook that replaces the clock reading
 * only, so it can never go below the floors. *clock gets the clock reading
 * and *overridden whether it came from FWTRUST_NOW (may be NULL).
 */
fwt_err fwt_agent_now(const fwt_agent *dev, uint64_t *now, uint64_t *clock, int *overridden);
/* The persisted part alone: max(DIR/tuf/time-floor, boot control's time floor). */
fwt_err fwt_agent_time_floor(const fwt_agent *dev, uint64_t *floor);
/* Fill a policy with dev's trust anchors, hw id and stored minimums. FWT_E_NO_TRUST without anchors. */
fwt_err fwt_agent_policy(fwt_agent *dev, struct fwt_policy *pol);
/* After the verifier said FWT_OK: check again, independently, what its result
 * reports against the policy (threshold of distinct trust anchors, by the
 * core's fwt_policy_threshold_met; hardware id, security counter, key
 * version). FWT_E_INTERNAL when they disagree (a fault). */
fwt_err fwt_agent_recheck(const struct fwt_policy *pol, const struct fwt_image_info *info);
/* Do block devices a and b share sectors (the same device, or a disk and one of
 * its partitions)? From sysfs under `sysfs` ("/sys"): 1 yes, 0 no, -1 unknown. */
int fwt_agent_blk_overlap(const char *sysfs, dev_t a, dev_t b);
/* Write dev->bc as the next boot control record. */
fwt_err fwt_agent_bc_commit(fwt_agent *dev);
/* Slot the next install would write (FWT_SLOT_NONE with a detail when none). */
enum fwt_agent_slot fwt_agent_target_slot(const fwt_agent *dev, fwt_err *why);
enum fwt_agent_slot fwt_agent_running_slot(const struct fwt_bootctl *bc);
/* After the verifier and fwt_agent_recheck accepted an image: the stored revocation
 * list (revocation.c). FWT_E_REVOKED naming what is revoked; FWT_E_STATE when the
 * stored list is damaged (fail closed); FWT_OK when none is stored. */
fwt_err fwt_agent_revocation_check(fwt_agent *dev, const struct fwt_policy *pol,
                                   const struct fwt_image_info *info);
/* Fill img from verifier info. */
void fwt_agent_image_from_info(fwt_agent *dev, enum fwt_agent_slot slot,
                               const struct fwt_image_info *info, struct fwt_agent_image *img);
/* -1/0/1 comparing versions (build number included). */
int fwt_agent_version_cmp(const struct fwt_version *a, const struct fwt_version *b);
/* Complete a confirm interrupted after its boot control write. */
fwt_err fwt_agent_finish_raise(fwt_agent *dev);

/* The fleet server's answers (fleet_client.c), strings borrowed from ans: FWT_E_MALFORMED
 * naming what is missing or out of range. */
struct fwt_agent_enroll_answer {
    const char *device_id, *certificate, *ca;
    const json_t *director_root;
    uint32_t interval, jitter;
};
fwt_err fwt_agent_enroll_answer_parse(const json_t *ans, struct fwt_agent_enroll_answer *out);
/* Fills interval, jitter, renew_before, director_version of res. */
fwt_err fwt_agent_checkin_answer_parse(const json_t *ans, struct fwt_agent_checkin_result *res);

/* The device manifest of this device now (fleet_client.c): counter taken (persisted). */
fwt_err fwt_agent_manifest(fwt_agent *dev, struct fwt_fleet_manifest *m);

#endif /* FWT_AGENT_INTERNAL_H */
