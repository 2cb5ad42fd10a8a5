/*
 * The device's side of the fleet (docs/fleet-protocol.md), without I/O to the
 * server: the fleet state record and Uptane full verification of the
 * director's choice.
 *
 * Fleet state: DIR/fleet.{0,1}, redundant checksummed records (state.c, kind
 * FWT_REC_KIND_FLEET). Payload (320 bytes), little-endian u64s: the last
 * manifest/report counter given out, the release counter of the image
 * installed through the director, that director targets version, 0; then the
 * SHA-256 of the image last installed from a repository (bytes 32-63) and its
 * target name (bytes 64-319, NUL-padded; empty: none), for the manifest's
 * slot names.
 *
 * Uptane full verification (fwt_agent_update with a director, update.c): the
 * director's metadata chain is refreshed first (its own TUF repository, rooted
 * in the director root trusted at enrollment: a replayed or older director
 * metadata is a rollback, expired metadata is refused), its targets role must
 * name at most one image, for this device id and hardware id, with a release
 * counter not below the installed one; then the image repository chain, which
 * must list the same name with the same length and hashes. Only then does the
 * ordinary install path run, on that target.
 */
#include "agent_internal.h"
#include "update_internal.h"

#include <fwtrust/fwt_tuf_json.h>

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#define FLEET_NAME "fleet"
#define FLEET_NAME_OFF 64U
#define FLEET_PAYLOAD (FLEET_NAME_OFF + FWT_FLEET_NAME_MAX + 1U)

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static fwt_err fleet_read(fwt_agent *dev, struct fwt_agent_fleet_state *st, struct fwt_rec_info *info)
{
    uint8_t p[FLEET_PAYLOAD];
    memset(st, 0, sizeof(*st));
    fwt_err err = fwt_rec_read(dev->cfg.dir, FLEET_NAME, FWT_REC_KIND_FLEET, p, sizeof(p), info);
    if (err == FWT_E_NOT_FOUND) {
        fwt_detail_clear();
        memset(info, 0, sizeof(*info));
        return FWT_OK; /* nothing recorded yet */
    }
    if (err != FWT_OK) {
        char d[600];
        snprintf(d, sizeof(d), "%s", fwt_detail());
        return fwt_fail(err, "%s/%s.0/.1: %s", dev->cfg.dir, FLEET_NAME, d);
    }
    st->counter = get64(p);
    st->release_counter = get64(p + 8);
    st->director_version = get64(p + 16);
    memcpy(st->target_sha256, p + 32, 32);
    const char *name = (const char *)p + FLEET_NAME_OFF;
    size_t nl = strnlen(name, FWT_FLEET_NAME_MAX + 1U);
    int ok = get64(p + 24) == 0 && st->counter <= FWT_FLEET_COUNTER_MAX && nl <= FWT_FLEET_NAME_MAX;
    for (size_t i = 0; ok && i < nl; i++) {
        ok = name[i] >= 0x20 && name[i] < 0x7f;
    }
    for (size_t i = FLEET_NAME_OFF + nl; ok && i < FLEET_PAYLOAD; i++) {
        ok = p[i] == 0;
    }
    if (!ok) {
        return fwt_fail(FWT_E_STATE, "%s/%s: a field is out of range", dev->cfg.dir, FLEET_NAME);
    }
    memcpy(st->target, name, nl);
    st->target[nl] = '\0';
    return FWT_OK;
}

static fwt_err fleet_write(fwt_agent *dev, const struct fwt_agent_fleet_state *st, struct fwt_rec_info *info)
{
    uint8_t p[FLEET_PAYLOAD];
    memset(p, 0, sizeof(p));
    put64(p, st->counter);
    put64(p + 8, st->release_counter);
    put64(p + 16, st->director_version);
    memcpy(p + 32, st->target_sha256, 32);
    memcpy(p + FLEET_NAME_OFF, st->target, strnlen(st->target, FWT_FLEET_NAME_MAX));
    if (dev->readonly) {
        return fwt_fail(FWT_E_ARG, "the device is open read-only: the fleet state cannot change");
    }
    /* Both copies get the new values (the older copy first, then the other): a damaged copy
     * cannot take the counters back to older values (the copy a reader falls back to holds
     * the same), as the anti-rollback file backend does. A cut between the two leaves the
     * new values in the newest copy. */
    fwt_err err = fwt_rec_write(dev->cfg.dir, FLEET_NAME, FWT_REC_KIND_FLEET, p, sizeof(p), info);
    if (err == FWT_OK) {
        err = fwt_rec_write(dev->cfg.dir, FLEET_NAME, FWT_REC_KIND_FLEET, p, sizeof(p), info);
    }
    return err;
}

fwt_err fwt_agent_fleet_state_get(fwt_agent *dev, struct fwt_agent_fleet_state *st)
{
    struct fwt_rec_info info;
    return fleet_read(dev, st, &info);
}

fwt_err fwt_agent_fleet_next_counter(fwt_agent *dev, uint64_t *counter)
{
    struct fwt_agent_fleet_state st;
    struct fwt_rec_info info;
    fwt_err err = fleet_read(dev, &st, &info);
    if (err != FWT_OK) {
        return err;
    }
    /* Never below the clock in milliseconds: a lost or damaged record cannot make the
     * device reuse a counter the server already saw (it would refuse it as a replay). */
    struct timeval tv;
    uint64_t ms = 0;
    if (gettimeofday(&tv, NULL) == 0 && tv.tv_sec > 0) {
        ms = (uint64_t)tv.tv_sec * 1000U + (uint64_t)tv.tv_usec / 1000U;
    }
    uint64_t next = st.counter + 1;
    if (ms > next) {
        next = ms;
    }
    if (next > FWT_FLEET_COUNTER_MAX) {
        return fwt_fail(FWT_E_STATE, "the fleet counter is exhausted (%llu)", (unsigned long long)st.counter);
    }
    st.counter = next;
    err = fleet_write(dev, &st, &info); /* persisted before it is used: never given twice */
    if (err == FWT_OK) {
        *counter = next;
    }
    return err;
}

fwt_err fwt_agent_fleet_note_install(fwt_agent *dev, uint64_t release_counter, uint64_t director_version)
{
    struct fwt_agent_fleet_state st;
    struct fwt_rec_info info;
    fwt_err err = fleet_read(dev, &st, &info);
    if (err != FWT_OK) {
        return err;
    }
    if (release_counter < st.release_counter) {
        return fwt_fail(FWT_E_INTERNAL, "release counter %llu below the recorded %llu",
                        (unsigned long long)release_counter, (unsigned long long)st.release_counter);
    }
    st.release_counter = release_counter;
    st.director_version = director_version;
    return fleet_write(dev, &st, &info);
}

fwt_err fwt_agent_fleet_note_target(fwt_agent *dev, const char *name, const uint8_t sha256[32])
{
    struct fwt_agent_fleet_state st;
    struct fwt_rec_info info;
    size_t nl = strlen(name);
    if (nl > FWT_FLEET_NAME_MAX) {
        return FWT_OK; /* not a name the manifest can carry: the slot goes unnamed */
    }
    for (size_t i = 0; i < nl; i++) {
        if (name[i] < 0x20 || name[i] >= 0x7f) {
            return FWT_OK;
        }
    }
    fwt_err err = fleet_read(dev, &st, &info);
    if (err != FWT_OK) {
        return err;
    }
    memset(st.target, 0, sizeof(st.target));
    memcpy(st.target, name, nl);
    memcpy(st.target_sha256, sha256, 32);
    return fleet_write(dev, &st, &info);
}

/* ---- Uptane full verification ---- */

fwt_err fwt_agent_director_custom_parse(const char *custom_json, struct fwt_agent_director_custom *out)
{
    memset(out, 0, sizeof(*out));
    if (!custom_json) {
        return fwt_fail(FWT_E_META, "no custom {device_id, hardware_id, release_counter}");
    }
    json_t *cu = NULL;
    fwt_err err = fwt_tuf_json_load((const uint8_t *)custom_json, strlen(custom_json), "custom", &cu);
    if (err != FWT_OK) {
        return err;
    }
    const json_t *did = json_object_get(cu, "device_id"), *hw = json_object_get(cu, "hardware_id"),
                 *rc = json_object_get(cu, "release_counter");
    const char *ds = json_string_value(did), *hs = json_string_value(hw);
    int hw_ok = hs && json_string_length(hw) > 0 && json_string_length(hw) <= FWT_FLEET_ID_MAX;
    for (size_t i = 0; hw_ok && hs[i]; i++) {
        hw_ok = hs[i] >= 0x20 && hs[i] < 0x7f;
    }
    if (!json_is_object(cu) || json_object_size(cu) != 3 || !ds || !fwt_fleet_device_id_valid(ds) || !hw_ok ||
        !json_is_integer(rc) || json_integer_value(rc) < 0 ||
        (uint64_t)json_integer_value(rc) > FWT_FLEET_COUNTER_MAX) {
        err = fwt_fail(FWT_E_META, "custom must be exactly {\"device_id\": a device id, \"hardware_id\": 1..64 "
                       "printable bytes, \"release_counter\": 0..2^53-1}");
    } else {
        snprintf(out->device_id, sizeof(out->device_id), "%s", ds);
        snprintf(out->hardware_id, sizeof(out->hardware_id), "%s", hs);
        out->release_counter = (uint64_t)json_integer_value(rc);
    }
    json_decref(cu);
    return err;
}

/* A refusal of the director's choice: FWT error, reason, res->refused. */
static fwt_err refuse(struct fwt_agent_update_result *res, fwt_err err, const char *fmt, ...)
    FWT_PRINTF(3, 4);
static fwt_err refuse(struct fwt_agent_update_result *res, fwt_err err, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    res->refused = 1;
    return fwt_fail(err, "director: %s", msg);
}

struct dlist {
    size_t n;
    char name[FWT_FLEET_NAME_MAX + 1];
    uint64_t length;
    char sha256[65];
    char sha512[129];
    int has_sha512;
    char *custom;
    fwt_err err;
};

static int dcollect(void *ctx, const struct fwt_tuf_target *t)
{
    struct dlist *l = ctx;
    if (++l->n > 1) {
        return 1;
    }
    if (strlen(t->name) > FWT_FLEET_NAME_MAX) {
        l->err = fwt_fail(FWT_E_META, "target name longer than %u bytes", FWT_FLEET_NAME_MAX);
        return 1;
    }
    snprintf(l->name, sizeof(l->name), "%s", t->name);
    l->length = t->length;
    snprintf(l->sha256, sizeof(l->sha256), "%s", t->sha256 ? t->sha256 : "");
    l->has_sha512 = t->sha512 != NULL;
    snprintf(l->sha512, sizeof(l->sha512), "%s", t->sha512 ? t->sha512 : "");
    l->custom = t->custom_json ? strdup(t->custom_json) : NULL;
    if (t->custom_json && !l->custom) {
        l->err = fwt_fail(FWT_E_NOMEM, "out of memory");
        return 1;
    }
    return 0;
}

/* Constant-time equality of two hex digests of the same algorithm. */
static int hex_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la == lb && la > 0 && fwt_ct_compare(a, b, la) == 0;
}

fwt_err fwt_agent_director_refresh(fwt_agent *dev, const struct fwt_agent_update_opts *o,
                                   struct fwt_agent_update_result *res, struct fwt_agent_director_pick *pick)
{
    const struct fwt_agent_director *d = o->director;
    const struct fwt_agent_config *cfg = &dev->cfg;
    memset(pick, 0, sizeof(*pick));
    if (!d->metadata_url || !d->device_id || (!d->root && !d->metadata_dir)) {
        return fwt_fail(FWT_E_ARG, "director: a metadata URL, the device id and a trusted director root are "
                        "needed");
    }
    char mdir[4096], root_json[4200];
    int r = d->metadata_dir ? snprintf(mdir, sizeof(mdir), "%s", d->metadata_dir)
                            : snprintf(mdir, sizeof(mdir), "%s/director", cfg->dir);
    if (r < 0 || (size_t)r >= sizeof(mdir)) {
        return fwt_fail(FWT_E_ARG, "director: metadata path too long");
    }
    snprintf(root_json, sizeof(root_json), "%s/root.json", mdir);
    struct stat sb;
    fwt_err err = FWT_OK;
    if (stat(root_json, &sb) != 0) {
        if (!d->root) {
            return fwt_fail(FWT_E_NO_TRUST, "director: no trusted director root in %s", mdir);
        }
        uint8_t *buf = NULL;
        size_t len = 0;
        err = fwt_read_file(d->root, FWT_TUF_DEFAULT_MAX_ROOT_SIZE, &buf, &len);
        if (err == FWT_OK) {
            err = fwt_tuf_init(mdir, buf, len);
        }
        free(buf);
        if (err != FWT_OK) {
            char dd[700];
            snprintf(dd, sizeof(dd), "%s", fwt_detail());
            return refuse(res, err, "trusted director root %s: %s", d->root, dd);
        }
    }
    struct fwt_tuf_client_opts co;
    memset(&co, 0, sizeof(co));
    co.metadata_dir = mdir;
    co.metadata_url = d->metadata_url;
    co.transport = d->transport;
    co.fixed_now = o->fixed_now;
    fwt_tuf_client *c = NULL;
    struct dlist l;
    memset(&l, 0, sizeof(l));
    err = fwt_tuf_client_open(&co, &c);
    if (err == FWT_OK) {
        err = fwt_tuf_refresh(c);
    }
    if (err == FWT_OK) {
        err = fwt_tuf_list_targets(c, dcollect, &l);
        if (err == FWT_OK) {
            err = l.err;
        }
    }
    if (err == FWT_OK) {
        pick->director_version = fwt_tuf_role_version(c, "targets");
        res->director_version = pick->director_version;
    }
    fwt_tuf_client_free(c);
    if (err != FWT_OK) {
        free(l.custom);
        char dd[700];
        snprintf(dd, sizeof(dd), "%s", fwt_detail());
        if (err == FWT_E_NETWORK || err == FWT_E_IO || err == FWT_E_NOMEM) {
            return fwt_fail(err, "director: %s", dd);
        }
        return refuse(res, err, "%s", dd);
    }
    if (l.n == 0) {
        return fwt_fail(FWT_E_NO_UPDATE, "director: no image is assigned to this device (targets version %llu)",
                        (unsigned long long)pick->director_version);
    }
    if (l.n > 1) {
        free(l.custom);
        return refuse(res, FWT_E_META, "the targets metadata names %zu images; a device gets at most one",
                      l.n);
    }
    /* custom: exactly device_id, hardware_id, release_counter */
    struct fwt_agent_director_custom dc;
    err = fwt_agent_director_custom_parse(l.custom, &dc);
    free(l.custom);
    l.custom = NULL;
    if (err != FWT_OK) {
        char dd[400];
        snprintf(dd, sizeof(dd), "%s", fwt_detail());
        return refuse(res, err, "target %s: %s", l.name, dd);
    }
    if (strcmp(dc.device_id, d->device_id) != 0) {
        return refuse(res, FWT_E_HW_ID, "target %s is assigned to device '%s', this is '%s'", l.name, dc.device_id,
                      d->device_id);
    }
    if (strcmp(dc.hardware_id, cfg->hw_id) != 0) {
        return refuse(res, FWT_E_HW_ID, "target %s is for hardware '%s', this device is '%s'", l.name,
                      dc.hardware_id, cfg->hw_id);
    }
    pick->release_counter = dc.release_counter;
    struct fwt_agent_fleet_state st;
    err = fwt_agent_fleet_state_get(dev, &st);
    if (err != FWT_OK) {
        return err;
    }
    res->release_counter = pick->release_counter;
    if (pick->release_counter < st.release_counter) {
        return refuse(res, FWT_E_COUNTER, "target %s has release counter %llu, below the installed release's %llu",
                      l.name, (unsigned long long)pick->release_counter, (unsigned long long)st.release_counter);
    }
    if (l.sha256[0] == '\0') {
        return refuse(res, FWT_E_META, "target %s has no sha256 hash", l.name);
    }
    snprintf(pick->name, sizeof(pick->name), "%s", l.name);
    pick->length = l.length;
    memcpy(pick->sha256, l.sha256, sizeof(pick->sha256));
    pick->has_sha512 = l.has_sha512;
    memcpy(pick->sha512, l.sha512, sizeof(pick->sha512));
    return FWT_OK;
}

fwt_err fwt_agent_director_match(fwt_tuf_client *image, const struct fwt_agent_director_pick *pick,
                                 struct fwt_agent_update_result *res)
{
    struct fwt_tuf_target t;
    fwt_err err = fwt_tuf_get_target(image, pick->name, &t);
    if (err == FWT_E_NOT_FOUND) {
        return refuse(res, FWT_E_NOT_FOUND, "target %s is not in the image repository", pick->name);
    }
    if (err != FWT_OK) {
        return err; /* the image repository's own failure, named by the client */
    }
    if (t.length != pick->length) {
        return refuse(res, FWT_E_META_MISMATCH, "target %s: length %llu, the image repository's is %llu",
                      pick->name, (unsigned long long)pick->length, (unsigned long long)t.length);
    }
    if (!t.sha256 || !hex_eq(t.sha256, pick->sha256)) {
        return refuse(res, FWT_E_META_MISMATCH, "target %s: sha256 differs from the image repository's",
                      pick->name);
    }
    if (pick->has_sha512 && (!t.sha512 || !hex_eq(t.sha512, pick->sha512))) {
        return refuse(res, FWT_E_META_MISMATCH, "target %s: sha512 differs from (or is not in) the image "
                      "repository's", pick->name);
    }
    return FWT_OK;
}
