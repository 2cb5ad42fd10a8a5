/* fwtrust fleet server, internal: the server context and the parts' interfaces. */
#ifndef FWT_SRV_H
#define FWT_SRV_H

#include "db.h"

#include <fwtrust/fwt_repo.h>
#include <fwtrust/fwt_server.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct fwt_srv_settings {
    char listen[128];
    uint64_t cert_days;        /* device certificates */
    uint64_t renew_days;       /* renew when fewer days are left */
    uint64_t checkin_interval; /* seconds, told to devices */
    uint64_t jitter;           /* seconds, told to devices */
    uint64_t checkin_burst;    /* check-ins a device may make per window */
    uint64_t checkin_window;   /* seconds */
    uint64_t timeout;          /* seconds a connection may take to send a request */
    uint64_t targets_days;     /* director targets/snapshot expiry */
    uint64_t timestamp_hours;  /* director timestamp expiry */
    uint64_t token_days;       /* default enrollment token lifetime */
    uint64_t tls_ticket_hours; /* TLS session ticket lifetime (0: no tickets, every handshake full) */
};

struct fwt_srv {
    char *dir;
    char *db_url;
    fwt_srv_db *db;
    struct fwt_srv_settings set;
    fwt_privkey *ca_key;  /* PEM file or PKCS#11 token key (crypto layer) */
    char *ca_key_spec;    /* server.json "ca_key"; NULL: DIR/ca/ca.key */
    char *ca_pin_file;    /* server.json "ca_pin_file" (token PIN) */
    char *ticket_key_file; /* server.json "tls_ticket_key_file": TLS ticket keys shared by several servers */
    X509 *ca_cert;
    char *ca_pem;
    char *server_cert_path, *server_key_path, *ca_path, *crl_path;
    struct repo_key dk[3]; /* director online keys: targets, snapshot, timestamp */
    char *dk_spec[3];
    char *root_json; /* the newest director root (served as root.json) */
    size_t root_len;
    uint64_t root_version;
    char *audit_path;
    char *log_key_path;
    fwt_privkey *log_key;
    /* alerts.c, the check-in storm rule: the fleet's check-ins in the minute before
     * storm_at as counted in the database, the active devices then, and the "checkin"
     * events this process wrote since (srv_event); until when the storm alert in the
     * database keeps another from being raised (raise_alert: 10 minutes) */
    int64_t storm_at, storm_n, storm_active, storm_local, storm_quiet_until;
};

char *srv_path(const char *dir, const char *name);
uint64_t srv_now(void);

/* ca.c: the fleet CA (X.509 through OpenSSL). */
FWT_MUST_CHECK fwt_err ca_create(const char *dir, const char *const *names, size_t n_names, const char *ca_key,
                                 const struct fwt_key_opts *ko);
FWT_MUST_CHECK fwt_err ca_load(fwt_srv *s);
/* Check a CSR (PEM): its signature, an ECDSA P-256 key. *pub gets its key. */
FWT_MUST_CHECK fwt_err ca_csr_check(const char *pem, EVP_PKEY **pub);
struct ca_issued {
    char *pem;        /* certificate PEM */
    char fp[65];      /* SHA-256 of the DER, hex */
    char serial[41];  /* hex */
    char *pubkey_pem; /* the certified key (SPKI PEM) */
    uint64_t not_after;
};
void ca_issued_free(struct ca_issued *c);
FWT_MUST_CHECK fwt_err ca_issue_device(fwt_srv *s, EVP_PKEY *pub, const char *device_id,
                                       struct ca_issued *out);
/* A client certificate of the fleet CA for subject CN cn (clientAuth, cert_days). */
FWT_MUST_CHECK fwt_err ca_issue_client(fwt_srv *s, EVP_PKEY *pub, const char *cn, struct ca_issued *out);
/* A new P-256 key (PKCS#8 PEM in *key_pem, the caller's to wipe and free) and its client
 * certificate for CN "admin:NAME". */
FWT_MUST_CHECK fwt_err ca_issue_admin(fwt_srv *s, const char *name, char **key_pem, struct ca_issued *out);
/* Fingerprint of a certificate (SHA-256 of its DER) as hex. */
FWT_MUST_CHECK fwt_err ca_cert_fp(X509 *cert, char fp[65]);
/* Rewrite DIR/ca/crl.pem from the revoked devices' certificates. */
FWT_MUST_CHECK fwt_err ca_write_crl(fwt_srv *s);

/* tickets.c: TLS session tickets for device check-ins (docs/server.md#tls-session-resumption).
 * Keys random per process and rotated every tls_ticket_hours, or read from
 * tls_ticket_key_file (0600; re-read when it changes). A ticket is taken only for an active
 * device whose certificate is in its validity period, within tls_ticket_hours of the full
 * handshake that verified that certificate; anything else is a full handshake (revoked and
 * decommissioned devices: the handshake fails). */
struct srv_tickets;
FWT_MUST_CHECK fwt_err srv_tickets_setup(fwt_srv *s, SSL_CTX *ctx, struct srv_tickets **out);
void srv_tickets_free(struct srv_tickets *t);
/* The text of a ticket key file: *n keys, or FWT_E_MALFORMED naming the line (fuzzed). */
FWT_MUST_CHECK fwt_err srv_ticket_keys_check(const uint8_t *buf, size_t len, size_t *n);
/* The device state of a client certificate for the TLS layer: 1 active device, 0 no device has
 * it, -1 refuse (revoked or decommissioned, or the database failed). */
int srv_cert_device_ok(fwt_srv *s, X509 *cert);

/* http.c: listen on addr ("HOST:PORT", "[V6]:PORT"; port 0: any free one) for http. The
 * listening socket has TCP_NODELAY, which accepted connections inherit: a device's check-in
 * is a few small writes each way (handshake records, a session ticket, the answer), and Nagle's
 * algorithm held each behind the peer's delayed ACK (40 ms a write on Linux).
 * *port_out: the port listened on; *fd_out (may be NULL): the listening socket. */
struct evhttp;
FWT_MUST_CHECK fwt_err srv_http_bind(struct evhttp *http, const char *addr, int *port_out, int *fd_out);

/* keyids.c: the TUF key id of a device certificate's key per certificate fingerprint (an
 * immutable fact; no device state kept), in a fixed table of slots (a collision replaces). */
#define FWT_SRV_KEYID_SLOTS 65536 /* 65 bytes each */
struct srv_keyids;
FWT_MUST_CHECK fwt_err srv_keyids_new(size_t slots, struct srv_keyids **out);
void srv_keyids_free(struct srv_keyids *k);
/* keyid of key, the key of the certificate whose SHA-256 fingerprint (hex) is fp: from the
 * table, or computed (fwt_fleet_keyid) and kept. k NULL: always computed. */
FWT_MUST_CHECK fwt_err srv_keyid(struct srv_keyids *k, const char fp[65], const fwt_pubkey *key, char keyid[65]);

/* store.c */
FWT_MUST_CHECK fwt_err srv_random_hex(size_t bytes, char *out);
FWT_MUST_CHECK fwt_err srv_hash_token(const char *token, char out[65]);
/* Append an admin action to the audit log (call inside the database transaction, which
 * commits only when this succeeded). */
FWT_MUST_CHECK fwt_err srv_audit(fwt_srv *s, const struct fwt_srv_actor *who, const char *action,
                                 const char *subject, const char *detail);
FWT_MUST_CHECK fwt_err srv_event(fwt_srv *s, const char *device_id, const char *kind, const char *actor,
                                 const char *detail);

/* A device as the daemon needs it. */
struct srv_device {
    char id[65];
    char hardware_id[129];
    char serial[129];
    char status[16];
    int64_t counter;
    char *pubkey_pem; /* the key of the certificate the request came with */
    int64_t cert_not_after;
    int64_t rate_window, rate_count;
};
void srv_device_free(struct srv_device *d);
/* By certificate fingerprint: FWT_E_NOT_FOUND when no device has that certificate. */
FWT_MUST_CHECK fwt_err srv_device_by_fp(fwt_srv *s, const char *fp, struct srv_device *d);

/* enroll: consume the token, create the device, issue its certificate (one transaction).
 * FWT_E_KEY: bad/used/expired token; FWT_E_STATE: serial already enrolled. */
FWT_MUST_CHECK fwt_err srv_enroll(fwt_srv *s, const struct fwt_srv_enroll_req *req, EVP_PKEY *pub,
                                  char device_id[65], struct ca_issued *cert);
/* Inside a transaction: a new active device (its serial not enrolled yet, else FWT_E_STATE),
 * its certificate for pub, the "enroll" event (how: appended to its detail). */
FWT_MUST_CHECK fwt_err srv_device_create(fwt_srv *s, const char *device_id, const char *hardware_id,
                                         const char *serial, EVP_PKEY *pub, const char *how,
                                         struct ca_issued *cert);
/* FWT_E_KEY unless who has at least the role need. */
FWT_MUST_CHECK fwt_err srv_need_role(const struct fwt_srv_actor *who, enum fwt_srv_role need);
/* A name (tag, attribute key, admin or CA name): 1 to 64 of A-Z a-z 0-9 - _ . */
int srv_name_ok(const char *name);

/* factory.c: enrollment with a factory certificate (docs/fleet-protocol.md). A fresh
 * single-use nonce (32 random bytes, hex) for POST /v1/enroll, valid FWT_SRV_NONCE_TTL s
 * (FWT_E_LOCKED when FWT_SRV_NONCES_MAX are outstanding). */
#define FWT_SRV_NONCE_TTL 300
#define FWT_SRV_NONCES_MAX 10000
FWT_MUST_CHECK fwt_err srv_enroll_nonce(fwt_srv *s, char hex[65], int64_t *expires);
/* Check the factory chain against the configured factory CAs, the signature over
 * fwt_fleet_factory_message, the serial, that pub is a key no device has; then consume the
 * nonce and create the device, bound to its factory identity (one transaction); nothing is
 * written on a refusal. Refusals: FWT_E_CERT (chain, validity, serial), FWT_E_SIGNATURE (not
 * the certificate's key), FWT_E_KEY (nonce unknown, used or expired), FWT_E_STATE (factory
 * identity or serial enrolled; *key_reused: the CSR's key is a device's or the factory key). */
FWT_MUST_CHECK fwt_err srv_factory_enroll(fwt_srv *s, const struct fwt_srv_enroll_req *req, EVP_PKEY *pub,
                                          char device_id[65], struct ca_issued *cert, int *key_reused);

/* director_keys.c: a newer director root written by `director rotate-root` (by this or
 * another process) is taken up with its online keys; FWT_OK when nothing changed. */
FWT_MUST_CHECK fwt_err srv_director_reload(fwt_srv *s);
/* Load DIR/director/N.root.json (the newest) and the online keys it names. */
FWT_MUST_CHECK fwt_err srv_director_load(fwt_srv *s);

FWT_MUST_CHECK fwt_err srv_renew(fwt_srv *s, const struct srv_device *d, EVP_PKEY *pub,
                                 struct ca_issued *cert);
/* Record a verified check-in: counter above the last one (else FWT_E_META_ROLLBACK), within
 * the rate limit (else FWT_E_LOCKED). */
FWT_MUST_CHECK fwt_err srv_checkin(fwt_srv *s, const struct srv_device *d, int64_t counter,
                                   const char *manifest, const char *kind, const char *detail);

/* director.c: the device's director metadata, regenerated when its assignment changed or
 * the timestamp nears expiry. role: "targets", "snapshot", "timestamp". */
FWT_MUST_CHECK fwt_err director_refresh(fwt_srv *s, const char *device_id, uint64_t *targets_version);
FWT_MUST_CHECK fwt_err director_get(fwt_srv *s, const char *device_id, const char *role, char **body,
                                    size_t *len);
FWT_MUST_CHECK fwt_err director_root_file(fwt_srv *s, const char *name, char **body, size_t *len);

/* The target assigned to a device in force (its own, else its first tagged one) and the
 * SHA-256 (hex) of its file; *has 0 when none. */
FWT_MUST_CHECK fwt_err director_assigned_target(fwt_srv *s, const char *device_id, char *target, size_t cap,
                                                char sha256[65], int *has);

/* attest.c: remote attestation (docs/attestation.md). Each needs DIR/attest.json
 * (FWT_E_UNSUPPORTED without). enroll: the device's enrollment request document ->
 * the credential challenge (the pending state kept in the database); activate: the
 * activation document -> the key becomes active (FWT_E_SIGNATURE: wrong credential). */
FWT_MUST_CHECK fwt_err srv_attest_enroll(fwt_srv *s, const struct srv_device *d, const uint8_t *body, size_t len,
                                         char **challenge);
FWT_MUST_CHECK fwt_err srv_attest_activate(fwt_srv *s, const struct srv_device *d, const uint8_t *body, size_t len);
/* A fresh 32-byte nonce (hex) stored for this device, single use within attest.json nonce_ttl. */
FWT_MUST_CHECK fwt_err srv_attest_nonce(fwt_srv *s, const struct srv_device *d, char hex[65]);
/* Verify {"nonce", "evidence"}: FWT_OK with a verdict in *answer ({verdict, reason, detail,
 * record}); the record is stored, a failure raises the "attestation-failed" alert. */
FWT_MUST_CHECK fwt_err srv_attest_quote(fwt_srv *s, const struct srv_device *d, const uint8_t *body, size_t len,
                                        json_t **answer);
/* The newest record of a device ({id, time, verdict, reason, detail, running, record}), NULL if none. */
FWT_MUST_CHECK fwt_err srv_attest_latest(fwt_srv *s, const char *device_id, json_t **obj);
/* "none", "pending" or "active". */
FWT_MUST_CHECK fwt_err srv_attest_key_state(fwt_srv *s, const char *device_id, char state[16]);
/* *ok: the device's newest record is a pass no older than max_age seconds. */
FWT_MUST_CHECK fwt_err srv_attest_fresh_pass(fwt_srv *s, const char *device_id, int64_t now, int64_t max_age, int *ok);

#endif /* FWT_SRV_H */
