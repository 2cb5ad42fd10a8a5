/*
 * fwtrust fleet server: governed rollouts (docs/rollouts.md) and fleet metrics.
 *
 * A rollout names a target (name, length, SHA-256, hardware id, release counter),
 * a device selection (hardware id, tags, explicit ids) and groups (waves) by
 * percentage or by tag. A device's group is fixed by a hash of the rollout id and
 * its id. Each group has a success threshold with an action (next group, or pause)
 * and an error threshold (count or share, with a minimum sample) whose action is an
 * automatic halt. Groups beyond the first start only once an approver other than
 * the creator approved; an urgent rollout starts every group at once and needs two
 * such approvals. Devices tagged "critical" form a last group of their own.
 * Maintenance windows (cron, duration, time zone; per tag) gate soft rollouts.
 * Every decision is an entry of the server's audit log.
 *
 * Results are jansson objects (the CLI and the admin API print the same data).
 */
#ifndef FWT_ROLLOUT_H
#define FWT_ROLLOUT_H

#include <fwtrust/fwt_server.h>

#include <jansson.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FWT_ROLLOUT_MAX_GROUPS 16
#define FWT_ROLLOUT_MAX_WINDOWS 16

/*
 * Create a rollout from its specification (docs/rollouts.md; strict: unknown
 * fields, wrong types and out-of-range values are FWT_E_ARG naming the field).
 * A selected device already claimed by another unfinished rollout: FWT_E_STATE
 * naming both (nothing is created). info gets the rollout's status.
 */
FWT_MUST_CHECK fwt_err fwt_srv_rollout_create(fwt_srv *s, const struct fwt_srv_actor *who,
                                              const json_t *spec, json_t **info);
/* The image repository rollouts take their targets from: its TUF metadata URL and a root
 * the operator trusts (kept in DIR/image-repo/; approver role). From then on every
 * rollout's target must be listed there (verified by the TUF client) with the rollout's
 * length, SHA-256 and hardware id; otherwise create refuses (FWT_E_NOT_FOUND, FWT_E_ARG). */
FWT_MUST_CHECK fwt_err fwt_srv_image_repo_set(fwt_srv *s, const struct fwt_srv_actor *who,
                                              const char *metadata_url, const uint8_t *root, size_t root_len);
/* Parse and check a specification without a server (the fuzz target's entry). */
FWT_MUST_CHECK fwt_err fwt_srv_rollout_spec_check(const uint8_t *body, size_t len, json_t **spec);

/* Approve (approver role, not the creator, once per approver). */
FWT_MUST_CHECK fwt_err fwt_srv_rollout_approve(fwt_srv *s, const struct fwt_srv_actor *who,
                                               const char *id);
/* Admin actions: "halt", "resume", "cancel", "retry-failed" (operator role). */
FWT_MUST_CHECK fwt_err fwt_srv_rollout_action(fwt_srv *s, const struct fwt_srv_actor *who,
                                              const char *id, const char *action, const char *reason);
FWT_MUST_CHECK fwt_err fwt_srv_rollout_status(fwt_srv *s, const char *id, json_t **obj);
FWT_MUST_CHECK fwt_err fwt_srv_rollout_list(fwt_srv *s, json_t **arr);

/* Evaluate every unfinished rollout at time now: time-outs, thresholds, group
 * starts, admissions. The daemon runs it on a timer and after every report. */
FWT_MUST_CHECK fwt_err fwt_srv_rollout_tick(fwt_srv *s, time_t now);

/* What a device said (the daemon calls these after recording a verified report
 * or manifest); state names as in docs/fleet-protocol.md ("downloading",
 * "confirmed", "failed", "refused", "rolled-back", ...); reason: why a failure or
 * refusal happened (an fwtrust error name; metrics count tamper detections by it).
 * A failure opens an incident, a confirmation closes the device's open ones (time
 * to recover). */
FWT_MUST_CHECK fwt_err fwt_srv_rollout_observe(fwt_srv *s, const char *device_id, const char *target,
                                               const char *state, const char *reason, time_t now);
/* A manifest's last install that failed (result "failed", "refused", "rolled-back"):
 * the rollout's device fails, one incident when it does (a manifest repeats it at every
 * check-in). reason: the install's error name (fwt_err_name), NULL for none. */
FWT_MUST_CHECK fwt_err fwt_srv_rollout_observe_manifest(fwt_srv *s, const char *device_id, const char *target,
                                                        const char *result, const char *reason, time_t now);
/* Mark a version (the manifest's slot version) vulnerable, or not. */
FWT_MUST_CHECK fwt_err fwt_srv_version_vulnerable(fwt_srv *s, const struct fwt_srv_actor *who,
                                                  const char *version, int on);

/* Block an image (on) or unblock it, by the SHA-256 of its bytes (lower-case hex, as
 * rollouts and device manifests name it; operator role): a release marked vulnerable or
 * withdrawn (docs/catalog.md). Blocking halts its active and paused rollouts at once (in
 * the same transaction); while blocked, creating a rollout of it and resuming one are
 * refused (FWT_E_STATE). info: {sha256, blocked, reason, halted: [rollout ids]}. */
FWT_MUST_CHECK fwt_err fwt_srv_image_block(fwt_srv *s, const struct fwt_srv_actor *who, const char *sha256, int on,
                                           const char *reason, json_t **info);
/* Exposure: for each image devices run (the confirmed, else trial, slot of their last
 * manifest) and each blocked image, {sha256, version, count, devices: [{id,
 * hardware_id, status}], blocked: {reason, at} or null}; sha256 non-NULL: that image only. */
FWT_MUST_CHECK fwt_err fwt_srv_image_exposure(fwt_srv *s, const char *sha256, json_t **arr);

/* Quarantine a device (no rollout admits it) or release it. */
FWT_MUST_CHECK fwt_err fwt_srv_quarantine(fwt_srv *s, const struct fwt_srv_actor *who, const char *device_id,
                                          int on, const char *reason);

/* Cron expressions (5 fields: minute hour day-of-month month day-of-week; '*', lists,
 * ranges, steps) and IANA time zones. */
struct fwt_cron {
    uint64_t minute;  /* bit per value */
    uint32_t hour, dom, month;
    uint8_t dow;      /* 0 = Sunday */
    int dom_star, dow_star;
};
FWT_MUST_CHECK fwt_err fwt_cron_parse(const char *expr, struct fwt_cron *c);
FWT_MUST_CHECK fwt_err fwt_tz_check(const char *tz);
/* Is now inside a window that starts at a time matching c (in zone tz) and lasts
 * duration seconds? */
FWT_MUST_CHECK fwt_err fwt_cron_window_open(const struct fwt_cron *c, const char *tz, uint64_t duration,
                                            time_t now, int *open);

/* ---- Anomaly alerts (alerts.c; docs/rollouts.md#alerts) ----
 * Rules: "failures-above-baseline" (failed, refused or rolled-back installs of one
 * target in the last window above factor x the baseline of the 24 windows before),
 * "unknown-image-digest" (a slot's SHA-256 not in the catalog: the targets of
 * rollouts and assignments plus known_images; only with a catalog configured),
 * "unexpected-signer" (a slot's key version not in allowed_key_versions, when set),
 * "identity-two-places" (check-ins of one device from two addresses within
 * two_places_seconds), "clock-backwards" (a manifest time before the previous one),
 * "checkin-storm" (fleet check-ins per minute above storm_per_minute),
 * "audit-head-backwards" (a device's audit log shorter than before, or as long with
 * another root), and "attestation-failed" (a TPM quote that failed verification,
 * docs/attestation.md). An alert is recorded (once per rule and subject per 10 minutes),
 * queued for the webhooks, and may contain: "quarantine" the device or "halt-version"
 * (halt every unfinished rollout of the target).
 *
 * Configuration: DIR/alerts.json (optional; strict JSON object):
 *   {"webhooks": [{"url", "secret"}], "timeout": s, "max_attempts": n,
 *    "known_images": [sha256 hex], "catalog": bool, "allowed_key_versions": [n],
 *    "failure_window": s, "failure_min": n, "failure_factor": n,
 *    "storm_per_minute": n, "two_places_seconds": s,
 *    "containment": {"RULE": "none" | "quarantine" | "halt-version"}} */
struct fwt_fleet_manifest;
FWT_MUST_CHECK fwt_err fwt_srv_alert_config_parse(const uint8_t *buf, size_t len, json_t **cfg);
/* The publish gate's refusals and overrides (`fwtrust repo publish`, one JSON line each in
 * the repository's publish-gate.jsonl: {time, outcome "refused"|"overridden", by,
 * findings [{image, kind, text}], reason?}) as alerts of rule "publish-gate": one per
 * record (subject "publish-gate@TIME:IMAGE"; a record imported before raises nothing),
 * recorded, audited and queued for the webhooks like the others. Every line is checked
 * first: a malformed one (FWT_E_MALFORMED, naming the line) raises nothing. info:
 * {raised, already}. */
FWT_MUST_CHECK fwt_err fwt_srv_alerts_publish_gate(fwt_srv *s, const uint8_t *buf, size_t len, time_t now,
                                                   json_t **info);
/* One line of publish-gate.jsonl (strict; the fuzz target's entry). */
FWT_MUST_CHECK fwt_err fwt_srv_publish_gate_parse(const uint8_t *line, size_t len, json_t **rec);
/* A verified manifest that came from addr (text). */
FWT_MUST_CHECK fwt_err fwt_srv_alerts_manifest(fwt_srv *s, const char *device_id,
                                               const struct fwt_fleet_manifest *m, const char *addr,
                                               time_t now);
/* A failed remote attestation (src/server/attest.c): the "attestation-failed" rule. */
FWT_MUST_CHECK fwt_err fwt_srv_alerts_attestation(fwt_srv *s, const char *device_id, const char *detail,
                                                  time_t now);
/* DIR/attest.json checked (docs/attestation.md): strict JSON object of ek_ca, targets
 * (1 to 64 file names) with optional signlog + signlog_key, or catalog, nonce_ttl
 * (10..86400); no file is read here. */
FWT_MUST_CHECK fwt_err fwt_srv_attest_config_parse(const uint8_t *buf, size_t len, json_t **cfg);
/* After a failure report: the failure-rate rule. */
FWT_MUST_CHECK fwt_err fwt_srv_alerts_failures(fwt_srv *s, time_t now);
FWT_MUST_CHECK fwt_err fwt_srv_alert_list(fwt_srv *s, size_t limit, json_t **arr);
/* One pass over the due webhook deliveries (POST, HMAC-SHA256 signed, retried with
 * exponential back-off up to max_attempts); *attempted: how many were tried. */
FWT_MUST_CHECK fwt_err fwt_srv_webhooks_deliver(fwt_srv *s, time_t now, size_t *attempted);

/* ---- Dashboard sessions (docs/rollouts.md#dashboard) ----
 * Signing in with an admin token gives a session: a random cookie value (stored
 * hashed, 8 hours) and a CSRF token that every state-changing request made with the
 * cookie must repeat in X-CSRF-Token. */
#define FWT_SRV_SESSION_SECONDS (8 * 3600)
FWT_MUST_CHECK fwt_err fwt_srv_session_create(fwt_srv *s, const char *admin_token, char cookie[65],
                                              char csrf[65], struct fwt_srv_actor *who);
/* FWT_E_KEY: no such session or expired. csrf gets the session's CSRF token. */
FWT_MUST_CHECK fwt_err fwt_srv_session_check(fwt_srv *s, const char *cookie, struct fwt_srv_actor *who,
                                             char csrf[65]);
FWT_MUST_CHECK fwt_err fwt_srv_session_end(fwt_srv *s, const char *cookie);

/* ---- Metrics ---- */

/* The fleet's figures as JSON (docs/rollouts.md#metrics) at time now. */
FWT_MUST_CHECK fwt_err fwt_srv_metrics(fwt_srv *s, time_t now, json_t **obj);
/* The same in the Prometheus text exposition format (malloc'd, NUL-terminated). */
FWT_MUST_CHECK fwt_err fwt_srv_metrics_prometheus(const json_t *metrics, char **text);

#ifdef __cplusplus
}
#endif

#endif /* FWT_ROLLOUT_H */
