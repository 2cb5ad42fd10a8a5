/*
 * Enrollment with a factory certificate (docs/fleet-protocol.md, docs/server.md):
 * the manufacturers' CAs (table factory_cas, admin actions audited), the
 * server's single-use enrollment nonces, and the checks of POST /v1/enroll
 * when it comes with a factory certificate instead of a token.
 *
 * Proof of possession, not mutual TLS: the device signs, with its factory key,
 * the server's nonce, the SHA-256 of its CSR, its hardware id and serial
 * (fwt_fleet_factory_message). So the TLS layer keeps trusting the fleet CA
 * only (a factory certificate authenticates nothing but this one request, also
 * behind a TLS front end that passes the client certificate on), the factory
 * identity is bound to exactly the device key in the CSR, and a factory key in
 * a token or secure element signs through the crypto layer.
 *
 * The factory identity is (factory CA, subject serialNumber): the serialNumber
 * is the device's serial (fwt_fleet_factory_serial). One identity, one device
 * record (factory_identities): enrolling it again is refused, unless an
 * administrator allowed it for a revoked or decommissioned device.
 */
#include "srv.h"

#include <fwtrust/fwt_fleet.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

static fwt_err ossl_err(fwt_err e, const char *what)
{
    char buf[256] = "";
    unsigned long c = ERR_get_error();
    if (c) {
        ERR_error_string_n(c, buf, sizeof(buf));
    }
    ERR_clear_error();
    return fwt_fail(e, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

static int64_t asn1_time_epoch(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) {
        return 0;
    }
    return (int64_t)timegm(&tm);
}

/* Audit inside a transaction (the database commits only with its entry). */
static fwt_err audited(fwt_srv *s, const struct fwt_srv_actor *who, const char *action, const char *subject,
                       const char *detail, const char *sql, const struct db_param *p, size_t np, uint64_t *changes)
{
    fwt_err e = db_begin(s->db);
    if (e != FWT_OK) {
        return e;
    }
    e = db_exec(s->db, sql, p, np, NULL, changes);
    if (e == FWT_OK && changes && *changes != 1) {
        e = fwt_fail(FWT_E_NOT_FOUND, "no %s", subject);
    }
    if (e == FWT_OK) {
        e = srv_audit(s, who, action, subject, detail);
    }
    if (e == FWT_OK) {
        e = db_commit(s->db);
    } else {
        db_rollback(s->db);
    }
    return e;
}

/* ---- the factory CAs ---- */

fwt_err fwt_srv_factory_ca_add(fwt_srv *s, const struct fwt_srv_actor *who, const char *name, const char *pem,
                               size_t len, json_t **info)
{
    *info = NULL;
    fwt_err e = srv_need_role(who, FWT_SRV_APPROVER);
    if (e != FWT_OK) {
        return e;
    }
    if (!srv_name_ok(name)) {
        return fwt_fail(FWT_E_ARG, "factory CA name '%s': 1 to 64 of A-Z a-z 0-9 - _ .", name ? name : "");
    }
    if (!pem || len == 0 || len > FWT_SRV_BODY_MAX) {
        return fwt_fail(FWT_E_ARG, "factory CA: a PEM certificate of at most %u bytes is needed", FWT_SRV_BODY_MAX);
    }
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    X509 *more = x ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    char fp[65] = "", subject[512] = "", *text = NULL;
    int64_t not_after = 0;
    if (!x) {
        e = fwt_fail(FWT_E_CERT, "factory CA: not a PEM X.509 certificate");
    } else if (more) {
        e = fwt_fail(FWT_E_CERT, "factory CA: one certificate per CA (add each CA by itself)");
    } else if (X509_check_ca(x) < 1) {
        e = fwt_fail(FWT_E_CERT, "factory CA: not a CA certificate (basicConstraints CA:TRUE)");
    } else if (!(X509_get_extension_flags(x) & EXFLAG_SS)) {
        e = fwt_fail(FWT_E_CERT, "factory CA: not a root (self-signed) CA: add the manufacturer's root; "
                     "intermediates come with each device's certificate");
    } else if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0 || X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
        e = fwt_fail(FWT_E_CERT, "factory CA: not valid now (expired or not yet valid)");
    } else if ((e = ca_cert_fp(x, fp)) == FWT_OK) {
        X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
        not_after = asn1_time_epoch(X509_get0_notAfter(x));
        BIO *o = BIO_new(BIO_s_mem());
        char *d = NULL;
        long n = 0;
        if (!o || PEM_write_bio_X509(o, x) != 1 || (n = BIO_get_mem_data(o, &d)) <= 0 ||
            !(text = strndup(d, (size_t)n))) {
            e = ossl_err(FWT_E_CRYPTO, "factory CA PEM");
        }
        BIO_free(o);
    }
    X509_free(x);
    X509_free(more);
    if (e != FWT_OK) {
        free(text);
        return e;
    }
    int64_t there = 0;
    struct db_param q[] = {DBT(fp)};
    if ((e = db_query_int(s->db, "SELECT COUNT(*) FROM factory_cas WHERE fp = ?", q, 1, &there)) == FWT_OK && there) {
        e = fwt_fail(FWT_E_STATE, "factory CA %s is already configured", fp);
    }
    if (e == FWT_OK) {
        struct db_param p[] = {DBT(fp), DBT(name), DBT(subject), DBT(text), DBI(not_after), DBI(srv_now()),
                               DBT(who->name)};
        char d[700];
        snprintf(d, sizeof(d), "%s %s", name, subject);
        e = audited(s, who, "factory-ca-add", fp, d,
                    "INSERT INTO factory_cas (fp, name, subject, pem, not_after, added_at, added_by)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)", p, 7, NULL);
    }
    free(text);
    if (e == FWT_OK) {
        *info = json_pack("{s:s, s:s, s:s, s:I}", "fp", fp, "name", name, "subject", subject, "not_after",
                          (json_int_t)not_after);
    }
    return e;
}

fwt_err fwt_srv_factory_ca_list(fwt_srv *s, json_t **arr)
{
    *arr = NULL;
    struct db_rows r;
    fwt_err e = db_exec(s->db, "SELECT fp, name, subject, not_after, added_at, added_by FROM factory_cas"
                               " ORDER BY name, fp", NULL, 0, &r, NULL);
    if (e != FWT_OK) {
        return e;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && e == FWT_OK && i < r.nrows; i++) {
        int64_t na = 0, at = 0;
        if ((e = db_to_i64(db_cell(&r, i, 3), &na)) == FWT_OK && (e = db_to_i64(db_cell(&r, i, 4), &at)) == FWT_OK) {
            json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "fp", db_cell(&r, i, 0), "name",
                                               db_cell(&r, i, 1), "subject", db_cell(&r, i, 2), "not_after",
                                               (json_int_t)na, "added_at", (json_int_t)at, "added_by",
                                               db_cell(&r, i, 5)));
        }
    }
    db_rows_free(&r);
    if (!a || e != FWT_OK) {
        json_decref(a);
        return e != FWT_OK ? e : fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    *arr = a;
    return FWT_OK;
}

fwt_err fwt_srv_factory_ca_remove(fwt_srv *s, const struct fwt_srv_actor *who, const char *fp)
{
    fwt_err e = srv_need_role(who, FWT_SRV_APPROVER);
    if (e != FWT_OK) {
        return e;
    }
    if (!fp || strlen(fp) != 64 || strspn(fp, "0123456789abcdef") != 64) {
        return fwt_fail(FWT_E_ARG, "factory CA: give its fingerprint (64 lower-case hex digits, factory-ca list)");
    }
    uint64_t n = 0;
    struct db_param p[] = {DBT(fp)};
    e = audited(s, who, "factory-ca-remove", fp, "removed", "DELETE FROM factory_cas WHERE fp = ?", p, 1, &n);
    if (e == FWT_E_NOT_FOUND) {
        e = fwt_fail(FWT_E_NOT_FOUND, "no factory CA %s", fp);
    }
    return e;
}

fwt_err fwt_srv_device_allow_reenroll(fwt_srv *s, const struct fwt_srv_actor *who, const char *id)
{
    fwt_err e = srv_need_role(who, FWT_SRV_APPROVER);
    if (e != FWT_OK) {
        return e;
    }
    struct db_param p[] = {DBT(id ? id : "")};
    struct db_rows r;
    if ((e = db_exec(s->db, "SELECT d.status, f.identity FROM devices d LEFT JOIN factory_identities f"
                            " ON f.device_id = d.id WHERE d.id = ?", p, 1, &r, NULL)) != FWT_OK) {
        return e;
    }
    if (r.nrows == 0) {
        e = fwt_fail(FWT_E_NOT_FOUND, "no device '%s'", id ? id : "");
    } else if (!strcmp(db_cell(&r, 0, 0), "active")) {
        e = fwt_fail(FWT_E_STATE, "device %s is active: revoke or decommission it first", id);
    } else if (!db_cell(&r, 0, 1)) {
        e = fwt_fail(FWT_E_STATE, "device %s was not enrolled with a factory certificate", id);
    }
    db_rows_free(&r);
    if (e == FWT_OK) {
        char subj[96];
        snprintf(subj, sizeof(subj), "device:%s", id);
        uint64_t n = 0;
        e = audited(s, who, "device-allow-reenroll", subj, "its factory identity may enroll once more",
                    "UPDATE factory_identities SET reenroll_allowed = 1 WHERE device_id = ?", p, 1, &n);
    }
    return e;
}

/* ---- nonces ---- */

fwt_err srv_enroll_nonce(fwt_srv *s, char hex[65], int64_t *expires)
{
    int64_t now = (int64_t)srv_now(), open = 0;
    fwt_err e = srv_random_hex(32, hex);
    if (e != FWT_OK || (e = db_begin(s->db)) != FWT_OK) {
        return e;
    }
    struct db_param old[] = {DBI(now - FWT_SRV_NONCE_TTL)};
    e = db_exec(s->db, "DELETE FROM enroll_nonces WHERE issued_at <= ?", old, 1, NULL, NULL);
    if (e == FWT_OK && (e = db_query_int(s->db, "SELECT COUNT(*) FROM enroll_nonces WHERE used_at IS NULL", NULL, 0,
                                         &open)) == FWT_OK &&
        open >= FWT_SRV_NONCES_MAX) {
        e = fwt_fail(FWT_E_LOCKED, "%d enrollment nonces are outstanding: try again later", FWT_SRV_NONCES_MAX);
    }
    if (e == FWT_OK) {
        struct db_param p[] = {DBT(hex), DBI(now)};
        e = db_exec(s->db, "INSERT INTO enroll_nonces (nonce, issued_at) VALUES (?, ?)", p, 2, NULL, NULL);
    }
    if (e == FWT_OK) {
        e = db_commit(s->db);
    } else {
        db_rollback(s->db);
    }
    *expires = now + FWT_SRV_NONCE_TTL;
    return e;
}

/* ---- enrollment ---- */

/* The factory CAs as a store; FWT_E_CERT when none is configured. */
static fwt_err factory_store(fwt_srv *s, X509_STORE **out)
{
    *out = NULL;
    struct db_rows r;
    fwt_err e = db_exec(s->db, "SELECT pem FROM factory_cas", NULL, 0, &r, NULL);
    if (e != FWT_OK) {
        return e;
    }
    X509_STORE *st = r.nrows ? X509_STORE_new() : NULL;
    if (r.nrows == 0) {
        e = fwt_fail(FWT_E_CERT, "no factory CA is configured on this server (fwtrust-server factory-ca add)");
    } else if (!st) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; e == FWT_OK && i < r.nrows; i++) {
        BIO *b = BIO_new_mem_buf(db_cell(&r, i, 0), -1);
        X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        if (!x || X509_STORE_add_cert(st, x) != 1) {
            e = ossl_err(FWT_E_STATE, "a stored factory CA does not load");
        }
        X509_free(x);
        BIO_free(b);
    }
    db_rows_free(&r);
    if (e != FWT_OK) {
        X509_STORE_free(st);
        return e;
    }
    *out = st;
    return FWT_OK;
}

static char *pubkey_text(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *d = NULL, *out = NULL;
    long n = 0;
    if (b && PEM_write_bio_PUBKEY(b, k) == 1 && (n = BIO_get_mem_data(b, &d)) > 0) {
        out = strndup(d, (size_t)n);
    }
    BIO_free(b);
    return out;
}

struct fchain {
    X509 *leaf;
    STACK_OF(X509) *rest;
};

static void fchain_free(struct fchain *c)
{
    X509_free(c->leaf);
    sk_X509_pop_free(c->rest, X509_free);
    memset(c, 0, sizeof(*c));
}

static fwt_err fchain_parse(const char *pem, struct fchain *c)
{
    memset(c, 0, sizeof(*c));
    BIO *b = BIO_new_mem_buf(pem, -1);
    c->rest = sk_X509_new_null();
    if (!b || !c->rest) {
        BIO_free(b);
        fchain_free(c);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_err e = FWT_OK;
    size_t n = 0;
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
        if (++n > FWT_FLEET_FACTORY_CHAIN_MAX) {
            X509_free(x);
            e = fwt_fail(FWT_E_CERT, "factory certificate: more than %u certificates in the chain",
                         FWT_FLEET_FACTORY_CHAIN_MAX);
            break;
        }
        if (!c->leaf) {
            c->leaf = x;
        } else if (!sk_X509_push(c->rest, x)) {
            X509_free(x);
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
            break;
        }
    }
    ERR_clear_error();
    BIO_free(b);
    if (e == FWT_OK && !c->leaf) {
        e = fwt_fail(FWT_E_CERT, "factory certificate: no PEM certificate");
    }
    if (e != FWT_OK) {
        fchain_free(c);
    }
    return e;
}

/* Chain and validity (now) against the factory CAs; ca_fp gets the anchor's fingerprint. */
static fwt_err fchain_verify(fwt_srv *s, struct fchain *c, char ca_fp[65], char ca_name[80])
{
    X509_STORE *st = NULL;
    fwt_err e = factory_store(s, &st);
    if (e != FWT_OK) {
        return e;
    }
    X509_STORE_CTX *x = X509_STORE_CTX_new();
    if (!x || X509_STORE_CTX_init(x, st, c->leaf, c->rest) != 1) {
        e = ossl_err(FWT_E_CRYPTO, "certificate verification");
    } else if (X509_verify_cert(x) != 1) {
        int err = X509_STORE_CTX_get_error(x);
        e = fwt_fail(FWT_E_CERT, "factory certificate refused: %s%s", X509_verify_cert_error_string(err),
                     err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY || err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
                             err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT || err == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
                         ? " (not issued by a configured factory CA)"
                         : "");
        ERR_clear_error();
    } else {
        STACK_OF(X509) *ch = X509_STORE_CTX_get0_chain(x);
        X509 *anchor = ch && sk_X509_num(ch) > 0 ? sk_X509_value(ch, sk_X509_num(ch) - 1) : NULL;
        e = anchor ? ca_cert_fp(anchor, ca_fp) : fwt_fail(FWT_E_CERT, "factory certificate: no chain");
    }
    X509_STORE_CTX_free(x);
    X509_STORE_free(st);
    if (e == FWT_OK) {
        struct db_param p[] = {DBT(ca_fp)};
        struct db_rows r;
        if ((e = db_exec(s->db, "SELECT name FROM factory_cas WHERE fp = ?", p, 1, &r, NULL)) == FWT_OK) {
            snprintf(ca_name, 80, "%s", r.nrows == 1 ? db_cell(&r, 0, 0) : "?");
            db_rows_free(&r);
        }
    }
    return e;
}

/* The factory key's signature over the message of this request. */
static fwt_err fsig_verify(const struct fwt_srv_enroll_req *req, X509 *leaf, char **factory_pub)
{
    char *pem = pubkey_text(X509_get0_pubkey(leaf)), *msg = NULL;
    size_t ml = 0;
    fwt_pubkey *pk = NULL;
    fwt_err e = pem ? fwt_pubkey_from_pem(pem, strlen(pem), &pk) : ossl_err(FWT_E_CERT, "factory certificate key");
    if (e != FWT_OK) {
        e = fwt_fail(FWT_E_CERT, "factory certificate: its key is of no supported type (%s)", fwt_detail());
    }
    if (e == FWT_OK) {
        e = fwt_fleet_factory_message(req->nonce, req->csr, req->hardware_id, req->serial, &msg, &ml);
    }
    if (e == FWT_OK && fwt_verify_message(pk, (const uint8_t *)msg, ml, req->signature, req->signature_len) != FWT_OK) {
        e = fwt_fail(FWT_E_SIGNATURE, "the enrollment signature does not verify with the factory certificate's key "
                     "(signed with another key, or over other data)");
    }
    free(msg);
    fwt_pubkey_free(pk);
    if (e == FWT_OK) {
        *factory_pub = pem;
    } else {
        free(pem);
    }
    return e;
}

fwt_err srv_factory_enroll(fwt_srv *s, const struct fwt_srv_enroll_req *req, EVP_PKEY *pub, char device_id[65],
                           struct ca_issued *cert, int *key_reused)
{
    memset(cert, 0, sizeof(*cert));
    *key_reused = 0;
    struct fchain ch;
    char ca_fp[65] = "", ca_name[80] = "", cert_fp[65] = "", serial[FWT_FLEET_ID_MAX + 1], rnd[33];
    char *factory_pub = NULL, *csr_pub = NULL;
    fwt_err e = fchain_parse(req->factory_cert, &ch);
    if (e != FWT_OK) {
        return e;
    }
    if ((e = fchain_verify(s, &ch, ca_fp, ca_name)) == FWT_OK && (e = ca_cert_fp(ch.leaf, cert_fp)) == FWT_OK &&
        (e = fwt_fleet_factory_serial(req->factory_cert, strlen(req->factory_cert), serial)) == FWT_OK &&
        strcmp(serial, req->serial) != 0) {
        e = fwt_fail(FWT_E_CERT, "the serial '%s' is not the factory certificate's ('%s')", req->serial, serial);
    }
    if (e == FWT_OK) {
        e = fsig_verify(req, ch.leaf, &factory_pub);
    }
    fchain_free(&ch);
    /* the device key must be new: not the factory key, not a key of any device certificate */
    if (e == FWT_OK && !(csr_pub = pubkey_text(pub))) {
        e = ossl_err(FWT_E_CRYPTO, "the CSR's key");
    }
    if (e == FWT_OK && !strcmp(csr_pub, factory_pub)) {
        *key_reused = 1;
        e = fwt_fail(FWT_E_STATE, "the CSR's key is the factory key: the device key must be a new one");
    }
    int64_t used = 0;
    struct db_param kp[] = {DBT(csr_pub ? csr_pub : "")};
    if (e == FWT_OK && (e = db_query_int(s->db, "SELECT COUNT(*) FROM device_certs WHERE pubkey = ?", kp, 1, &used)) ==
                           FWT_OK && used) {
        *key_reused = 1;
        e = fwt_fail(FWT_E_STATE, "the CSR's key is already certified for a device: the device key must be new");
    }
    free(factory_pub);
    free(csr_pub);
    if (e == FWT_OK) {
        e = srv_random_hex(16, rnd);
    }
    if (e != FWT_OK) {
        return e;
    }
    snprintf(device_id, 65, "dev-%s", rnd);
    char identity[65 + 1 + FWT_FLEET_ID_MAX + 1];
    snprintf(identity, sizeof(identity), "%s:%s", ca_fp, serial);
    int64_t now = (int64_t)srv_now();
    if ((e = db_begin(s->db)) != FWT_OK) {
        return e;
    }
    /* the nonce is used up here, once, whichever server process gets it first */
    uint64_t n = 0;
    struct db_param np[] = {DBI(now), DBT(req->nonce), DBI(now - FWT_SRV_NONCE_TTL)};
    e = db_exec(s->db, "UPDATE enroll_nonces SET used_at = ? WHERE nonce = ? AND used_at IS NULL AND issued_at > ?",
                np, 3, NULL, &n);
    if (e == FWT_OK && n != 1) {
        e = fwt_fail(FWT_E_KEY, "enrollment nonce unknown, used or expired (POST /v1/enroll/nonce, valid %d s)",
                     FWT_SRV_NONCE_TTL);
    }
    /* one factory identity, one device record */
    struct db_param ip[] = {DBT(identity)};
    struct db_rows r;
    memset(&r, 0, sizeof(r));
    if (e == FWT_OK) {
        e = db_exec(s->db, "SELECT f.device_id, f.reenroll_allowed, d.status, d.serial FROM factory_identities f"
                           " JOIN devices d ON d.id = f.device_id WHERE f.identity = ?", ip, 1, &r, NULL);
    }
    if (e == FWT_OK && r.nrows == 1) {
        const char *old = db_cell(&r, 0, 0);
        if (strcmp(db_cell(&r, 0, 1), "1") != 0 || !strcmp(db_cell(&r, 0, 2), "active")) {
            e = fwt_fail(FWT_E_STATE, "factory identity %s (CA %s) is already enrolled as device %s (%s)%s", serial,
                         ca_name, old, db_cell(&r, 0, 2),
                         strcmp(db_cell(&r, 0, 2), "active") ? "; an approver may allow it once more: device "
                                                               "allow-reenroll"
                                                             : "");
        } else {
            /* allowed: the old record keeps its id and history; its serial is freed */
            char moved[65 + FWT_FLEET_ID_MAX + 2];
            snprintf(moved, sizeof(moved), "%s@%s", db_cell(&r, 0, 3), old);
            struct db_param mp[] = {DBT(moved), DBT(old)};
            struct db_param dp[] = {DBT(identity)};
            if ((e = db_exec(s->db, "UPDATE devices SET serial = ? WHERE id = ?", mp, 2, NULL, NULL)) == FWT_OK) {
                e = db_exec(s->db, "DELETE FROM factory_identities WHERE identity = ?", dp, 1, NULL, NULL);
            }
        }
    }
    db_rows_free(&r);
    if (e == FWT_OK) {
        char how[256];
        snprintf(how, sizeof(how), "factory CA %s certificate %s", ca_name, cert_fp);
        e = srv_device_create(s, device_id, req->hardware_id, req->serial, pub, how, cert);
        if (e == FWT_E_STATE) {
        }
    }
    if (e == FWT_OK) {
        struct db_param fp[] = {DBT(identity), DBT(device_id), DBT(ca_fp), DBT(cert_fp), DBI(now)};
        e = db_exec(s->db, "INSERT INTO factory_identities (identity, device_id, ca_fp, cert_fp, enrolled_at)"
                           " VALUES (?, ?, ?, ?, ?)", fp, 5, NULL, NULL);
    }
    if (e == FWT_OK) {
        e = db_commit(s->db);
    } else {
        db_rollback(s->db);
    }
    if (e != FWT_OK) {
        ca_issued_free(cert);
    }
    return e;
}
