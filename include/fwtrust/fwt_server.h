/*
 * fwtrust fleet server (fwtrust-server): device identity with short-lived
 * X.509 certificates from the fleet CA, inventory, signed device manifests,
 * an Uptane-style director, storage in SQLite (default) or PostgreSQL.
 * Protocol: docs/fleet-protocol.md; deployment: docs/server.md.
 *
 * The server directory (fwtrust-server init DIR):
 *   DIR/server.json            settings (database URL, listen address, intervals, limits)
 *   DIR/ca/ca.pem, ca.key      the fleet CA (key: PEM file, mode 0600, or a PKCS#11 token key)
 *   DIR/ca/server.pem, .key    the server's TLS certificate, issued by the fleet CA
 *   DIR/ca/crl.pem             revoked device certificates (for a TLS front end: nginx ssl_crl)
 *   DIR/director/N.root.json   the director root versions (director rotate-root adds one)
 *   DIR/director/{targets,snapshot,timestamp}.key  the online director keys (ROLE.key.new
 *                              while a rotation moves new ones into place)
 *   DIR/offline/root.key       the director root key: move it off the server after init
 *   DIR/audit.db               the tamper-evident Merkle log of admin actions (fwtrust log)
 *   DIR/log.key                the key that signs the audit log's tree heads
 *   DIR/fleet.db               the SQLite database (default)
 *
 * Hosted C; library fwt_server (OpenSSL, jansson, SQLite, libpq, libevent).
 * Results are jansson objects so the CLI and the admin API print the same data.
 */
#ifndef FWT_SERVER_H
#define FWT_SERVER_H

#include <fwtrust/fwt_util.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Storage ---- */

typedef struct fwt_srv_db fwt_srv_db;
/*
 * Open a database and bring its schema up to date (versioned migrations, each
 * in a transaction). url: "sqlite:PATH" or a plain path (SQLite), or
 * "postgresql://..." / "postgres://..." / "pg:CONNINFO" (libpq). A schema newer
 * than this server knows: FWT_E_UNSUPPORTED.
 */
FWT_MUST_CHECK fwt_err fwt_srv_db_open(const char *url, fwt_srv_db **out);
void fwt_srv_db_close(fwt_srv_db *db);
const char *fwt_srv_db_backend(const fwt_srv_db *db); /* "sqlite" or "postgresql" */
FWT_MUST_CHECK fwt_err fwt_srv_db_schema_version(fwt_srv_db *db, int64_t *version);

/* ---- The server (its directory, database, keys and audit log) ---- */

typedef struct fwt_srv fwt_srv;

struct fwt_srv_init_opts {
    const char *db_url;       /* NULL: sqlite:DIR/fleet.db */
    const char *listen;       /* NULL: 127.0.0.1:8443 */
    const char **names;       /* DNS names / IP addresses in the server certificate */
    size_t n_names;           /* 0: localhost and 127.0.0.1 */
    uint64_t cert_days;       /* device certificates; 0: 30 */
    const char *ca_key;       /* the fleet CA key: NULL: a new PEM file DIR/ca/ca.key; or a
                               * pkcs11: URI of an ECDSA P-256 token key (module from
                               * $FWTRUST_PKCS11_MODULE; no module-path/pin-source in the URI) */
    const char *ca_pin_file;  /* the token PIN (first line), kept in server.json by path */
};
/* Create DIR (must not exist or be empty): settings, CA, server certificate,
 * director keys and root, audit log, database. summary gets what was made. */
FWT_MUST_CHECK fwt_err fwt_srv_init(const char *dir, const struct fwt_srv_init_opts *o,
                                    json_t **summary);

/* Open the server in DIR (db_url NULL: the one in server.json). */
FWT_MUST_CHECK fwt_err fwt_srv_open(const char *dir, const char *db_url, fwt_srv **out);
void fwt_srv_close(fwt_srv *s);

/* Roles of administrators, in increasing power. */
enum fwt_srv_role { FWT_SRV_NONE = 0, FWT_SRV_VIEWER = 1, FWT_SRV_OPERATOR = 2, FWT_SRV_APPROVER = 3 };
const char *fwt_srv_role_name(enum fwt_srv_role r);
FWT_MUST_CHECK fwt_err fwt_srv_role_parse(const char *s, enum fwt_srv_role *r);

/* Who acts: "cli:USER@HOST", "admin:NAME", "device:ID". */
struct fwt_srv_actor {
    char name[128];
    enum fwt_srv_role role;
};

/* Enrollment tokens: one-time, expiring, stored hashed (SHA-256). count tokens (1 to
 * 100000) in one transaction and one audit entry; info gets {"tokens": [64 hex digits,
 * ...], "expires"} (and "token" when count is 1): hand each to one device. ttl 0: the
 * server's default. */
#define FWT_SRV_TOKENS_MAX 100000U
FWT_MUST_CHECK fwt_err fwt_srv_enroll_token_create(fwt_srv *s, const struct fwt_srv_actor *who,
                                                   uint64_t ttl_seconds, size_t count, json_t **info);
/* Admin bearer tokens (name, role); stored hashed. */
FWT_MUST_CHECK fwt_err fwt_srv_admin_token_create(fwt_srv *s, const struct fwt_srv_actor *who,
                                                  const char *name, enum fwt_srv_role role,
                                                  char token[65], json_t **info);
/* An administrator's client certificate (mutual TLS to the admin API instead of a bearer
 * token; approver role): a new P-256 key and a certificate of the fleet CA for CN
 * "admin:NAME" (NAME: 1 to 64 of A-Z a-z 0-9 - _ .), the role bound to its fingerprint in
 * the database. *key_pem (wipe with fwt_zeroize, then free) and *cert_pem are the caller's. */
FWT_MUST_CHECK fwt_err fwt_srv_admin_cert_create(fwt_srv *s, const struct fwt_srv_actor *who,
                                                 const char *name, enum fwt_srv_role role,
                                                 char **key_pem, char **cert_pem, json_t **info);
/* The administrator a client certificate (SHA-256 of its DER, hex) belongs to (FWT_E_KEY
 * when none). The caller has verified the certificate against the fleet CA. */
FWT_MUST_CHECK fwt_err fwt_srv_admin_cert_check(fwt_srv *s, const char *fp, struct fwt_srv_actor *who);
/* The administrator a bearer token belongs to (FWT_E_KEY when none). */
FWT_MUST_CHECK fwt_err fwt_srv_admin_token_check(fwt_srv *s, const char *token,
                                                 struct fwt_srv_actor *who);

/* Devices. */
FWT_MUST_CHECK fwt_err fwt_srv_device_list(fwt_srv *s, const char *tag, json_t **arr);
FWT_MUST_CHECK fwt_err fwt_srv_device_show(fwt_srv *s, const char *id, json_t **obj);
FWT_MUST_CHECK fwt_err fwt_srv_device_tag(fwt_srv *s, const struct fwt_srv_actor *who, const char *id,
                                          const char *const *add, size_t n_add,
                                          const char *const *remove, size_t n_remove);
/* Set (keys[i] = values[i]) and remove (unset) attributes of a device (operator role;
 * audited). A key is 1 to 64 of A-Z a-z 0-9 - _ .; a value 0 to 128 printable ASCII
 * characters; at most FWT_SRV_MAX_ATTRS per device. Nothing changes on failure. */
#define FWT_SRV_MAX_ATTRS 32
FWT_MUST_CHECK fwt_err fwt_srv_device_attr(fwt_srv *s, const struct fwt_srv_actor *who, const char *id,
                                           const char *const *keys, const char *const *values, size_t n_set,
                                           const char *const *unset, size_t n_unset);
/* Revoke (or decommission) a device: refused at TLS and API from then on; the CRL is rewritten. */
FWT_MUST_CHECK fwt_err fwt_srv_device_revoke(fwt_srv *s, const struct fwt_srv_actor *who,
                                             const char *id, int decommission);

/* Allow the factory identity of a revoked or decommissioned device to enroll once more
 * (approver; audited "device-allow-reenroll"). The new enrollment makes a new device record;
 * the old one keeps its id, history and (revoked) certificates, its serial becoming
 * "SERIAL@OLD_ID". FWT_E_STATE for an active device or one not enrolled by a factory
 * certificate. */
FWT_MUST_CHECK fwt_err fwt_srv_device_allow_reenroll(fwt_srv *s, const struct fwt_srv_actor *who,
                                                     const char *id);

/* ---- Factory (manufacturer) CAs: enrollment with a factory certificate ----
 * A device whose certificate chains to one of these CAs enrolls without a token
 * (docs/fleet-protocol.md). add: one PEM root CA certificate (self-signed, basicConstraints CA,
 * valid now),
 * named 1 to 64 of A-Z a-z 0-9 - _ .; approver; audited "factory-ca-add". info gets
 * {fp, name, subject, not_after}. remove: by fingerprint (SHA-256 of the DER, hex);
 * devices enrolled through it stay; audited "factory-ca-remove". */
FWT_MUST_CHECK fwt_err fwt_srv_factory_ca_add(fwt_srv *s, const struct fwt_srv_actor *who, const char *name,
                                              const char *pem, size_t len, json_t **info);
FWT_MUST_CHECK fwt_err fwt_srv_factory_ca_list(fwt_srv *s, json_t **arr);
FWT_MUST_CHECK fwt_err fwt_srv_factory_ca_remove(fwt_srv *s, const struct fwt_srv_actor *who, const char *fp);

/* ---- Director root rotation (TUF 1.0 section 5.3.4; docs/server.md) ----
 * Writes DIR/director/(N+1).root.json: root key new_root_key (or the current one), the
 * online targets/snapshot/timestamp keys (new ones when rotate_online: written as
 * DIR/director/ROLE.key, 0600), signed by root_key (a key of root N's root role: a
 * threshold of the trusted root) and by the new root key (its own threshold). Every
 * device's director metadata is re-signed with the keys of the new root at its next
 * fetch. Approver; audited "director-rotate-root". Keys: PEM files or pkcs11: URIs. */
struct fwt_srv_rotate_opts {
    const char *root_key;     /* the current root key; NULL: DIR/offline/root.key */
    const char *new_root_key; /* NULL: the root key stays (only online keys or expiry change) */
    int rotate_online;        /* new targets, snapshot and timestamp keys */
    uint64_t expires_days;    /* the new root's lifetime; 0: 365 */
    const char *pin_file;     /* token PIN for pkcs11: keys */
};
FWT_MUST_CHECK fwt_err fwt_srv_director_rotate(fwt_srv *s, const struct fwt_srv_actor *who,
                                               const struct fwt_srv_rotate_opts *o, json_t **info);
/* The director root in force: {version, expires, root_keyids, keyids {targets, snapshot,
 * timestamp}, versions [1..N]}. */
FWT_MUST_CHECK fwt_err fwt_srv_director_status(fwt_srv *s, json_t **info);

/* Assign a target to a device (scope "device") or to every device with a tag ("tag").
 * A device's own assignment wins over a tag's; among tags, the first by name. */
struct fwt_srv_assignment {
    const char *scope;   /* "device" or "tag" */
    const char *subject; /* device id or tag */
    const char *target;  /* the image repository's target name */
    uint64_t length;
    const char *sha256;  /* hex */
    uint64_t release_counter;
};
FWT_MUST_CHECK fwt_err fwt_srv_assign(fwt_srv *s, const struct fwt_srv_actor *who,
                                      const struct fwt_srv_assignment *a, json_t **info);
FWT_MUST_CHECK fwt_err fwt_srv_assignment_list(fwt_srv *s, json_t **arr);
/* Length and SHA-256 (hex) of an image file, as the image repository publishes it. */
FWT_MUST_CHECK fwt_err fwt_srv_target_file(const char *path, uint64_t *length, char sha256[65]);
/* Events (check-ins, reports, refusals, admin actions), newest first. */
FWT_MUST_CHECK fwt_err fwt_srv_event_list(fwt_srv *s, const char *device_id, size_t limit,
                                          json_t **arr);

/* ---- The daemon ---- */

struct fwt_srv_serve_opts {
    const char *listen;     /* NULL: server.json's */
    const char *plain_listen; /* behind a TLS front end (nginx): plain HTTP on loopback, the
                               * client certificate from the X-SSL-Client-Cert header; NULL: none */
    const char *ready_file; /* once listening: "https PORT\n[plain PORT\n]" written there */
    const char *dashboard_dir; /* the built dashboard (dash/, GET /dashboard/FILE); NULL: none */
};
/* Serve until SIGTERM/SIGINT. Returns FWT_OK after a clean stop. */
FWT_MUST_CHECK fwt_err fwt_srv_serve(fwt_srv *s, const struct fwt_srv_serve_opts *o);

/* The routes the daemon serves, "METHOD PATH" with {param} for path parameters
 * (docs/openapi.yaml must name exactly these; test server_openapi). */
const char *const *fwt_srv_routes(size_t *n);

/* ---- Request parsers (the daemon's; public for the fuzz targets) ---- */

#define FWT_SRV_BODY_MAX 65536U
/* POST /v1/enroll body: strict JSON object with exactly token, csr, hardware_id, serial;
 * or (enrollment with a factory certificate) exactly factory_cert, nonce, signature, csr,
 * hardware_id, serial. */
struct fwt_srv_enroll_req {
    char token[65];      /* "" with a factory certificate */
    char *csr;           /* PEM, malloc'd */
    char hardware_id[129];
    char serial[129];
    char *factory_cert;  /* PEM chain, the device's certificate first (malloc'd); NULL: token */
    char nonce[65];      /* the server's enrollment nonce (64 hex digits) */
    uint8_t signature[1024]; /* by the factory key over fwt_fleet_factory_message */
    size_t signature_len;
};
FWT_MUST_CHECK fwt_err fwt_srv_parse_enroll(const uint8_t *body, size_t len,
                                            struct fwt_srv_enroll_req *req);
void fwt_srv_enroll_req_free(struct fwt_srv_enroll_req *req);
/* Admin API bodies: a strict JSON object of at most FWT_SRV_BODY_MAX bytes whose
 * fields are all strings, integers or arrays of strings, checked against the allowed
 * names. */
FWT_MUST_CHECK fwt_err fwt_srv_parse_admin_body(const uint8_t *body, size_t len,
                                                const char *const *allowed, json_t **out);

#ifdef __cplusplus
}
#endif

#endif /* FWT_SERVER_H */
