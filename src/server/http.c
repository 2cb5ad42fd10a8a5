/*
 * The daemon: HTTP/1.1 over TLS with libevent 2.1 (evhttp on
 * bufferevent_openssl: OpenSSL is the one TLS stack of the project), mutual
 * TLS for devices, bearer tokens for administrators. One event loop; every
 * request is answered from the database, so several processes can share one
 * PostgreSQL behind a load balancer.
 *
 * Limits: bodies above FWT_SRV_BODY_MAX are refused by evhttp (413), headers
 * above 16 KiB likewise, a connection idle or trickling for `timeout` seconds is
 * closed, a device may check in `checkin_burst` times per `checkin_window`.
 * Errors: {"error": CODE, "detail": SENTENCE} with the status of
 * docs/fleet-protocol.md.
 */
#include "srv.h"

#include <fwtrust/fwt_rollout.h>

#include <fwtrust/fwt_fleet.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/core_names.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <sys/queue.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct daemon {
    fwt_srv *s;
    struct event_base *base;
    SSL_CTX *ctx;
    X509_STORE *store; /* the fleet CA, for certificates a TLS front end passed on */
    int behind_proxy;
    const char *dashboard_dir; /* serve --dashboard DIR, or NULL */
    struct srv_tickets *tickets; /* TLS session tickets (NULL: none) */
    struct srv_keyids *keyids;   /* device key ids per certificate (keyids.c; NULL: computed) */
    /* Group commit of check-ins and reports: those handled in one turn of the event loop
     * share one transaction (db_batch_begin); their answers are held until it commits, so
     * a device is told "recorded" only once it is on disk (a failed commit: 503 to all). */
    struct held *held;
    struct event *flush_ev;
};

struct held {
    struct evhttp_request *req;
    int code;
    char *text;
    struct held *next;
};

static int g_srv_idx = -1;
static struct daemon *g_hold; /* a batched request is being handled: its answer waits */

/* ---- answers ---- */

/* Which server process answered (several share one database behind a load balancer). */
static void add_instance(struct evhttp_request *req)
{
    char v[32];
    snprintf(v, sizeof(v), "%ld", (long)getpid());
    evhttp_add_header(evhttp_request_get_output_headers(req), "X-Fwtrust-Instance", v);
}

static void send_json_text(struct evhttp_request *req, int code, char *text);
static void hold_reply(struct daemon *d, struct evhttp_request *req, int code, char *text);
static void batch_flush(struct daemon *d);

static void reply_json(struct evhttp_request *req, int code, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (g_hold && text) {
        hold_reply(g_hold, req, code, text);
        return;
    }
    send_json_text(req, code, text);
}

/* Send (and free) an answer. */
static void send_json_text(struct evhttp_request *req, int code, char *text)
{
    struct evbuffer *b = evbuffer_new();
    if (!text || !b) {
        free(text);
        if (b) {
            evbuffer_free(b);
        }
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    evbuffer_add(b, text, strlen(text));
    free(text);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
    add_instance(req);
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
    evbuffer_free(b);
}

static void reply_error(struct evhttp_request *req, int code, const char *err, const char *detail)
{
    reply_json(req, code, json_pack("{s:s, s:s}", "error", err, "detail", detail && *detail ? detail : err));
}

/* The status and code of a library result. */
static void reply_fail(struct evhttp_request *req, fwt_err e)
{
    int code = 500;
    const char *err = "internal";
    switch (e) {
    case FWT_E_ARG:
    case FWT_E_MALFORMED:
    case FWT_E_UNSUPPORTED:
        code = 400, err = "malformed";
        break;
    case FWT_E_TOO_LARGE:
        code = 413, err = "too_large";
        break;
    case FWT_E_KEY:
        code = 401, err = "unauthorized";
        break;
    case FWT_E_SIGNATURE:
    case FWT_E_UNKNOWN_KEY:
        code = 403, err = "bad_signature";
        break;
    case FWT_E_HW_ID:
        code = 403, err = "device_mismatch";
        break;
    case FWT_E_CERT:
        code = 403, err = "revoked";
        break;
    case FWT_E_NOT_FOUND:
        code = 404, err = "not_found";
        break;
    case FWT_E_META_ROLLBACK:
        code = 409, err = "replay";
        break;
    case FWT_E_STATE:
        code = 409, err = "conflict";
        break;
    case FWT_E_LOCKED:
        code = 429, err = "rate_limited";
        break;
    case FWT_E_IO:
    case FWT_E_NETWORK:
        code = 503, err = "unavailable";
        break;
    default:
        break;
    }
    reply_error(req, code, err, fwt_detail());
}

/* ---- requests ---- */

static fwt_err read_body(struct evhttp_request *req, uint8_t **buf, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    *buf = NULL;
    *len = 0;
    if (n > FWT_SRV_BODY_MAX) {
        return fwt_fail(FWT_E_TOO_LARGE, "body of %zu bytes: at most %u", n, FWT_SRV_BODY_MAX);
    }
    uint8_t *b = malloc(n + 1);
    if (!b) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (evbuffer_remove(in, b, n) != (int)n) {
        free(b);
        return fwt_fail(FWT_E_IO, "cannot read the body");
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return FWT_OK;
}

/* The client certificate: from the TLS session, or (behind a TLS front end) from the
 * X-SSL-Client-Cert header, checked against the fleet CA here again. */
static X509 *peer_cert(struct daemon *d, struct evhttp_request *req)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    if (ssl) {
        X509 *c = SSL_get1_peer_certificate(ssl);
        /* a resumed session: the certificate verified at its full handshake, and still in its
         * validity period (tickets.c checked the device and the time when it was resumed) */
        if (c && (SSL_get_verify_result(ssl) != X509_V_OK ||
                  (SSL_session_reused(ssl) && X509_cmp_current_time(X509_get0_notAfter(c)) <= 0))) {
            X509_free(c);
            return NULL;
        }
        return c;
    }
    if (!d->behind_proxy) {
        return NULL;
    }
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "X-SSL-Client-Cert");
    if (!h || !*h) {
        return NULL;
    }
    char *pem = evhttp_uridecode(h, 0, NULL);
    BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
    X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    free(pem);
    X509_STORE_CTX *x = c ? X509_STORE_CTX_new() : NULL;
    int ok = x && X509_STORE_CTX_init(x, d->store, c, NULL) == 1 &&
             X509_STORE_CTX_set_purpose(x, X509_PURPOSE_SSL_CLIENT) == 1 && X509_verify_cert(x) == 1;
    X509_STORE_CTX_free(x);
    if (!ok) {
        X509_free(c);
        ERR_clear_error();
        return NULL;
    }
    return c;
}

/* The device the request comes from; answers and returns 0 when there is none. key (may
 * be NULL) gets the certificate's public key (the one a device's signatures must verify
 * with), taken from the certificate itself: no PEM decoding per request; and keyid its
 * TUF key id (keyids.c). */
static int require_device(struct daemon *d, struct evhttp_request *req, struct srv_device *dev,
                          fwt_pubkey **key, char keyid[65])
{
    X509 *c = peer_cert(d, req);
    if (!c) {
        reply_error(req, 401, "no_client_certificate", "this request needs a device certificate (mutual TLS)");
        return 0;
    }
    char fp[65];
    fwt_err e = ca_cert_fp(c, fp);
    if (e == FWT_OK && key) {
        uint8_t raw[65];
        size_t n = 0;
        EVP_PKEY *pk = X509_get0_pubkey(c);
        if (!pk || EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, raw, sizeof(raw), &n) != 1 ||
            (e = fwt_pubkey_from_raw(FWT_KEY_ECDSA_P256, raw, n, key)) != FWT_OK ||
            (e = srv_keyid(d->keyids, fp, *key, keyid)) != FWT_OK) {
            ERR_clear_error();
            X509_free(c);
            reply_error(req, 403, "unknown_device", "the certificate's key is not an ECDSA P-256 key");
            return 0;
        }
    }
    X509_free(c);
    if (e != FWT_OK && key) {
        fwt_pubkey_free(*key);
        *key = NULL;
    }
    if (e == FWT_OK) {
        e = srv_device_by_fp(d->s, fp, dev);
    }
    if (e == FWT_OK && strcmp(dev->status, "active") != 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "device %s is %s", dev->id, dev->status);
        reply_error(req, 403, "revoked", msg);
        srv_device_free(dev);
    } else if (e == FWT_E_NOT_FOUND) {
        reply_error(req, 403, "unknown_device", "no device has this certificate");
    } else if (e != FWT_OK) {
        reply_fail(req, e);
    } else {
        return 1;
    }
    if (key) {
        fwt_pubkey_free(*key);
        *key = NULL;
    }
    return 0;
}

/* The value of cookie name in the Cookie header (copied into out), or NULL. */
static const char *cookie_value(struct evhttp_request *req, const char *name, char *out, size_t cap)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie");
    size_t nl = strlen(name);
    while (h && *h) {
        while (*h == ' ' || *h == ';') {
            h++;
        }
        size_t n = strcspn(h, ";");
        if (n > nl && !strncmp(h, name, nl) && h[nl] == '=' && n - nl - 1 < cap) {
            memcpy(out, h + nl + 1, n - nl - 1);
            out[n - nl - 1] = 0;
            return out;
        }
        h += n;
    }
    return NULL;
}

/* A dashboard session (cookie): state-changing requests must repeat its CSRF token. */
static int session_admin(struct daemon *d, struct evhttp_request *req, struct fwt_srv_actor *who)
{
    char cookie[80], csrf[65];
    if (!cookie_value(req, "fwt_session", cookie, sizeof(cookie))) {
        return 0;
    }
    if (fwt_srv_session_check(d->s, cookie, who, csrf) != FWT_OK) {
        reply_error(req, 401, "unauthorized", "the session is unknown or expired: sign in again");
        return -1;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        const char *t = evhttp_find_header(evhttp_request_get_input_headers(req), "X-CSRF-Token");
        if (!t || strlen(t) != 64 || CRYPTO_memcmp(t, csrf, 64) != 0) {
            reply_error(req, 403, "forbidden", "missing or wrong X-CSRF-Token for this session");
            return -1;
        }
    }
    return 1;
}

static int require_admin(struct daemon *d, struct evhttp_request *req, enum fwt_srv_role need,
                         struct fwt_srv_actor *who)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    int sess = h ? 0 : session_admin(d, req, who);
    if (sess < 0) {
        return 0;
    }
    /* no token, no session: an administrator's client certificate (mutual TLS) */
    int by_cert = 0;
    X509 *pc = !h && sess == 0 ? peer_cert(d, req) : NULL;
    if (pc) {
        char fp[65];
        fwt_err ce = ca_cert_fp(pc, fp);
        X509_free(pc);
        if (ce == FWT_OK) {
            ce = fwt_srv_admin_cert_check(d->s, fp, who);
        }
        if (ce == FWT_E_KEY) {
            reply_error(req, 401, "unauthorized", "no administrator has this client certificate");
            return 0;
        }
        if (ce != FWT_OK) {
            reply_fail(req, ce);
            return 0;
        }
        /* a browser sends its client certificate with any cross-site form: a change made with
         * one must be JSON (a cross-site page cannot send that without a CORS preflight) */
        const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
        if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
            (!ct || strncasecmp(ct, "application/json", 16) != 0 || (ct[16] && ct[16] != ';' && ct[16] != ' '))) {
            reply_error(req, 403, "forbidden", "a change with a client certificate needs \"Content-Type: application/json\"");
            return 0;
        }
        by_cert = 1;
    }
    if (sess > 0 || by_cert) {
        h = NULL;
    } else if (!h || strncmp(h, "Bearer ", 7) != 0) {
        reply_error(req, 401, "unauthorized",
                    "this request needs \"Authorization: Bearer TOKEN\" or an administrator's client certificate");
        return 0;
    }
    fwt_err e = h ? fwt_srv_admin_token_check(d->s, h + 7, who) : FWT_OK;
    if (e == FWT_E_KEY) {
        reply_error(req, 401, "unauthorized", "unknown admin token");
        return 0;
    }
    if (e != FWT_OK) {
        reply_fail(req, e);
        return 0;
    }
    if (who->role < need) {
        char msg[200];
        snprintf(msg, sizeof(msg), "%s has the %s role; this needs %s", who->name, fwt_srv_role_name(who->role),
                 fwt_srv_role_name(need));
        reply_error(req, 403, "forbidden", msg);
        return 0;
    }
    return 1;
}

/* ---- device API ---- */

#define MAX_PARAMS 2
struct call {
    struct daemon *d;
    struct evhttp_request *req;
    char param[MAX_PARAMS][256];
};

static void h_health(struct call *c)
{
    int64_t v = 0;
    fwt_err e = fwt_srv_db_schema_version(c->d->s->db, &v);
    if (e != FWT_OK) {
        reply_fail(c->req, e);
        return;
    }
    reply_json(c->req, 200, json_pack("{s:s, s:s, s:I}", "status", "ok", "db", fwt_srv_db_backend(c->d->s->db),
                                      "schema_version", (json_int_t)v));
}

/* An enrollment with a factory certificate refused (factory.c), by cause. */
static void reply_factory_refusal(struct evhttp_request *req, fwt_err e, int key_reused)
{
    int code = 403;
    const char *err = "factory_refused"; /* chain, validity, serial */
    if (e == FWT_E_SIGNATURE) {
        err = "bad_signature";
    } else if (e == FWT_E_KEY) {
        code = 401, err = "bad_nonce";
    } else if (e == FWT_E_STATE && key_reused) {
        code = 409, err = "key_reused";
    } else if (e == FWT_E_STATE) {
        code = 409, err = "serial_enrolled";
    }
    reply_error(req, code, err, fwt_detail());
}

static void h_enroll(struct call *c)
{
    fwt_srv *s = c->d->s;
    uint8_t *body = NULL;
    size_t len = 0;
    struct fwt_srv_enroll_req r;
    EVP_PKEY *pub = NULL;
    struct ca_issued cert;
    memset(&cert, 0, sizeof(cert));
    char id[65];
    fwt_err e = read_body(c->req, &body, &len);
    if (e == FWT_OK) {
        e = fwt_srv_parse_enroll(body, len, &r);
    }
    free(body);
    if (e != FWT_OK) {
        reply_fail(c->req, e);
        return;
    }
    int key_reused = 0;
    e = ca_csr_check(r.csr, &pub);
    if (e == FWT_OK) {
        e = r.factory_cert ? srv_factory_enroll(s, &r, pub, id, &cert, &key_reused) : srv_enroll(s, &r, pub, id, &cert);
    }
    int factory = r.factory_cert != NULL;
    fwt_srv_enroll_req_free(&r);
    EVP_PKEY_free(pub);
    if (e == FWT_OK) {
        e = srv_director_reload(s); /* the newest director root goes with the answer */
    }
    if (e != FWT_OK && factory && (e == FWT_E_CERT || e == FWT_E_SIGNATURE || e == FWT_E_KEY || e == FWT_E_STATE)) {
        reply_factory_refusal(c->req, e, key_reused);
    } else if (e == FWT_E_KEY && !factory) {
        reply_error(c->req, 401, "bad_token", fwt_detail());
    } else if (e == FWT_E_STATE) {
        reply_error(c->req, 409, "serial_enrolled", fwt_detail());
    } else if (e != FWT_OK) {
        reply_fail(c->req, e);
    } else {
        json_t *root = json_loadb(s->root_json, s->root_len, JSON_REJECT_DUPLICATES, NULL);
        reply_json(c->req, 200, json_pack("{s:s, s:s, s:s, s:o, s:I, s:I}", "device_id", id, "certificate", cert.pem,
                                          "ca", s->ca_pem, "director_root", root ? root : json_null(),
                                          "checkin_interval", (json_int_t)s->set.checkin_interval, "jitter",
                                          (json_int_t)s->set.jitter));
    }
    ca_issued_free(&cert);
}

/* A single-use nonce for an enrollment with a factory certificate (factory.c). */
static void h_enroll_nonce(struct call *c)
{
    char hex[65];
    int64_t expires = 0;
    fwt_err e = srv_enroll_nonce(c->d->s, hex, &expires);
    if (e != FWT_OK) {
        reply_fail(c->req, e);
        return;
    }
    reply_json(c->req, 200, json_pack("{s:s, s:I}", "nonce", hex, "expires", (json_int_t)expires));
}

static void h_renew(struct call *c)
{
    struct srv_device dev;
    if (!require_device(c->d, c->req, &dev, NULL, NULL)) {
        return;
    }
    uint8_t *body = NULL;
    size_t len = 0;
    json_t *o = NULL;
    EVP_PKEY *pub = NULL;
    struct ca_issued cert;
    memset(&cert, 0, sizeof(cert));
    static const char *const keys[] = {"csr", NULL};
    fwt_err e = read_body(c->req, &body, &len);
    if (e == FWT_OK) {
        e = fwt_srv_parse_admin_body(body, len, keys, &o);
    }
    const char *csr = json_string_value(json_object_get(o, "csr"));
    if (e == FWT_OK && !csr) {
        e = fwt_fail(FWT_E_MALFORMED, "\"csr\" must be a PEM certificate request");
    }
    if (e == FWT_OK) {
        e = ca_csr_check(csr, &pub);
    }
    if (e == FWT_OK) {
        e = srv_renew(c->d->s, &dev, pub, &cert);
    }
    if (e != FWT_OK) {
        reply_fail(c->req, e);
    } else {
        reply_json(c->req, 200, json_pack("{s:s, s:I}", "certificate", cert.pem, "not_after", (json_int_t)cert.not_after));
    }
    ca_issued_free(&cert);
    EVP_PKEY_free(pub);
    json_decref(o);
    free(body);
    srv_device_free(&dev);
}

/* Check-in and report: verify the signed body with the certificate's key, then record it. */
static void h_signed(struct call *c, int is_report)
{
    fwt_srv *s = c->d->s;
    struct srv_device dev;
    fwt_pubkey *key = NULL;
    char keyid[65];
    if (!require_device(c->d, c->req, &dev, &key, keyid)) {
        return;
    }
    uint8_t *body = NULL;
    size_t len = 0;
    fwt_err e = read_body(c->req, &body, &len);
    struct fwt_fleet_expect ex = {key, dev.id, dev.hardware_id, dev.serial, keyid};
    struct fwt_fleet_manifest *m = NULL;
    struct fwt_fleet_report rep;
    int64_t counter = 0;
    char detail[600] = "";
    if (e == FWT_OK && !is_report) {
        if (!(m = malloc(sizeof(*m)))) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        } else if ((e = fwt_fleet_manifest_verify(body, len, &ex, m)) == FWT_OK) {
            counter = (int64_t)m->counter;
            snprintf(detail, sizeof(detail), "counter %llu director_targets_version %llu",
                     (unsigned long long)m->counter, (unsigned long long)m->director_targets_version);
        }
    } else if (e == FWT_OK) {
        ex.hardware_id = ex.serial = NULL;
        if ((e = fwt_fleet_report_verify(body, len, &ex, &rep)) == FWT_OK) {
            counter = (int64_t)rep.counter;
            snprintf(detail, sizeof(detail), "%s %s error %d: %s", rep.target[0] ? rep.target : "-",
                     fwt_fleet_state_name(rep.state), rep.error, rep.reason);
            /* the device's newest attestation record travels with its report */
            json_t *att = NULL;
            if ((e = srv_attest_latest(s, dev.id, &att)) == FWT_OK && att) {
                size_t dl = strlen(detail);
                snprintf(detail + dl, sizeof(detail) - dl, " [attestation #%" JSON_INTEGER_FORMAT " %s %s]",
                         json_integer_value(json_object_get(att, "id")),
                         json_string_value(json_object_get(att, "verdict")),
                         json_string_value(json_object_get(att, "reason")));
            }
            json_decref(att);
        }
    }
    if (e == FWT_E_SIGNATURE || e == FWT_E_UNKNOWN_KEY) {
        /* A body that the device's certificate does not sign: refused, and kept as a tamper
         * event (the manifest-signature metric, docs/rollouts.md#metrics). The device and its
         * counter are untouched; the refusal keeps its own error for the answer. */
        char why[512], ev[600];
        snprintf(why, sizeof(why), "%s", fwt_detail());
        snprintf(ev, sizeof(ev), "%s refused: %s", is_report ? "report" : "check-in", why);
        /* bounded as check-ins are: at most checkin_burst kept per device and checkin_window */
        int64_t recent = 0;
        struct db_param pr[] = {DBT(dev.id), DBI(srv_now() - (int64_t)s->set.checkin_window)};
        if (db_query_int(s->db, "SELECT COUNT(*) FROM events WHERE device_id = ? AND kind = 'signature-refused'"
                                " AND time > ?", pr, 2, &recent) != FWT_OK ||
            (recent < (int64_t)s->set.checkin_burst &&
             srv_event(s, dev.id, "signature-refused", "server", ev) != FWT_OK)) {
            fwt_detail_clear();
        }
        e = fwt_fail(e, "%s", why);
    }
    if (e == FWT_OK) {
        e = srv_checkin(s, &dev, counter, is_report ? NULL : (const char *)body, is_report ? "report" : "checkin",
                        detail);
    }
    /* Rollouts follow what the device said (a failure here does not fail the recorded request). */
    if (e == FWT_OK) {
        fwt_err re = FWT_OK;
        if (is_report) {
            re = fwt_srv_rollout_observe(s, dev.id, rep.target, fwt_fleet_state_name(rep.state),
                                         rep.error ? fwt_err_name((fwt_err)rep.error) : NULL, time(NULL));
        } else if (m->has_last_install && m->last_install.result != FWT_FLEET_RESULT_OK) {
            /* the agent's last_install may name no target: then the rollout the device is in */
            re = fwt_srv_rollout_observe_manifest(s, dev.id, m->last_install.target,
                                                  fwt_fleet_result_name(m->last_install.result),
                                                  m->last_install.error ? fwt_err_name((fwt_err)m->last_install.error)
                                                                        : NULL,
                                                  time(NULL));
        }
        /* anomaly rules over what the device said */
        if (re == FWT_OK && is_report && (rep.state == FWT_FLEET_FAILED || rep.state == FWT_FLEET_REFUSED ||
                                          rep.state == FWT_FLEET_ROLLED_BACK)) {
            re = fwt_srv_alerts_failures(s, time(NULL));
        } else if (re == FWT_OK && !is_report) {
            if (m->has_last_install && m->last_install.result != FWT_FLEET_RESULT_OK) {
                re = fwt_srv_alerts_failures(s, time(NULL));
            }
            char *addr = NULL;
            ev_uint16_t port = 0;
            struct evhttp_connection *conn = evhttp_request_get_connection(c->req);
            if (conn) {
                evhttp_connection_get_peer(conn, &addr, &port);
            }
            if (re == FWT_OK) {
                re = fwt_srv_alerts_manifest(s, dev.id, m, addr ? addr : "unknown", time(NULL));
            }
        }
        if (re != FWT_OK) {
            /* recorded; the timer evaluates the rollout again */
            if (srv_event(s, dev.id, "rollout-error", "server:rollout-policy", fwt_detail()) != FWT_OK) {
                fwt_detail_clear();
            }
        }
    }
    uint64_t tv = 0;
    if (e == FWT_OK && !is_report && director_refresh(s, dev.id, &tv) != FWT_OK) {
        /* The check-in is recorded; metadata that could not be brought up to date now
         * is at the next check-in or timestamp fetch. Tell the version the device can get. */
        int64_t v = 0;
        struct db_param p[] = {DBT(dev.id)};
        tv = db_query_int(s->db, "SELECT version FROM director_meta WHERE device_id = ? AND role = 'targets'", p,
                          1, &v) == FWT_OK ? (uint64_t)v : 0;
    }
    if (e != FWT_OK) {
        reply_fail(c->req, e);
    } else if (is_report) {
        reply_json(c->req, 200, json_object());
    } else {
        int64_t renew = dev.cert_not_after - (int64_t)(s->set.renew_days * 86400);
        reply_json(c->req, 200, json_pack("{s:I, s:I, s:I, s:I, s:I}", "checkin_interval",
                                          (json_int_t)s->set.checkin_interval, "jitter", (json_int_t)s->set.jitter,
                                          "renew_before", (json_int_t)renew, "director_targets_version",
                                          (json_int_t)tv, "director_root_version", (json_int_t)s->root_version));
    }
    free(m);
    fwt_pubkey_free(key);
    free(body);
    srv_device_free(&dev);
}

static void h_checkin(struct call *c)
{
    h_signed(c, 0);
}

static void h_report(struct call *c)
{
    h_signed(c, 1);
}

/* ---- remote attestation (src/server/attest.c, docs/attestation.md) ---- */

static void attest_fail(struct call *c, fwt_err e)
{
    if (e == FWT_E_UNSUPPORTED) {
        reply_error(c->req, 501, "attestation_not_configured", fwt_detail());
    } else if (e == FWT_E_CERT) {
        reply_error(c->req, 403, "ek_refused", fwt_detail());
    } else if (e == FWT_E_KEY) {
        reply_error(c->req, 403, "ak_refused", fwt_detail());
    } else {
        reply_fail(c->req, e);
    }
}

/* POST /v1/attest/{step}: enroll (request -> challenge), activate, nonce, quote. */
static void h_attest(struct call *c, int step)
{
    fwt_srv *s = c->d->s;
    struct srv_device dev;
    if (!require_device(c->d, c->req, &dev, NULL, NULL)) {
        return;
    }
    uint8_t *body = NULL;
    size_t len = 0;
    fwt_err e = read_body(c->req, &body, &len);
    json_t *ans = NULL;
    if (e == FWT_OK && step == 0) {
        char *ch = NULL;
        if ((e = srv_attest_enroll(s, &dev, body, len, &ch)) == FWT_OK) {
            json_t *o = json_loads(ch, JSON_REJECT_DUPLICATES, NULL);
            ans = o ? o : json_null();
        }
        free(ch);
    } else if (e == FWT_OK && step == 1) {
        if ((e = srv_attest_activate(s, &dev, body, len)) == FWT_OK) {
            ans = json_pack("{s:s}", "ak", "active");
        }
    } else if (e == FWT_OK && step == 2) {
        char hex[65];
        if ((e = srv_attest_nonce(s, &dev, hex)) == FWT_OK) {
            ans = json_pack("{s:s}", "nonce", hex);
        }
    } else if (e == FWT_OK) {
        e = srv_attest_quote(s, &dev, body, len, &ans);
    }
    free(body);
    srv_device_free(&dev);
    if (e != FWT_OK) {
        attest_fail(c, e);
    } else if (!ans || json_is_null(ans)) {
        json_decref(ans);
        reply_fail(c->req, fwt_fail(FWT_E_NOMEM, "out of memory"));
    } else {
        reply_json(c->req, 200, ans);
    }
}

static void h_attest_enroll(struct call *c)
{
    h_attest(c, 0);
}

static void h_attest_activate(struct call *c)
{
    h_attest(c, 1);
}

static void h_attest_nonce(struct call *c)
{
    h_attest(c, 2);
}

static void h_attest_quote(struct call *c)
{
    h_attest(c, 3);
}

static void h_director(struct call *c)
{
    struct srv_device dev;
    if (!require_device(c->d, c->req, &dev, NULL, NULL)) {
        return;
    }
    const char *f = c->param[0];
    char *body = NULL;
    size_t len = 0;
    fwt_err e;
    uint64_t tv = 0;
    if (!strcmp(f, "timestamp.json")) {
        if ((e = director_refresh(c->d->s, dev.id, &tv)) == FWT_OK) {
            e = director_get(c->d->s, dev.id, "timestamp", &body, &len);
        }
    } else if (!strcmp(f, "snapshot.json") || !strcmp(f, "targets.json")) {
        char role[16];
        snprintf(role, sizeof(role), "%.*s", (int)(strlen(f) - 5), f);
        e = director_get(c->d->s, dev.id, role, &body, &len);
    } else {
        e = director_root_file(c->d->s, f, &body, &len);
    }
    if (e != FWT_OK) {
        reply_fail(c->req, e);
    } else {
        struct evbuffer *b = evbuffer_new();
        if (b) {
            evbuffer_add(b, body, len);
            evhttp_add_header(evhttp_request_get_output_headers(c->req), "Content-Type", "application/json");
            evhttp_add_header(evhttp_request_get_output_headers(c->req), "Cache-Control", "no-store");
            add_instance(c->req);
            evhttp_send_reply(c->req, 200, "OK", b);
            evbuffer_free(b);
        } else {
            evhttp_send_error(c->req, 500, "out of memory");
        }
    }
    free(body);
    srv_device_free(&dev);
}

/* ---- admin API ---- */

static int admin_body(struct call *c, const char *const *allowed, json_t **o)
{
    uint8_t *body = NULL;
    size_t len = 0;
    fwt_err e = read_body(c->req, &body, &len);
    if (e == FWT_OK) {
        e = fwt_srv_parse_admin_body(body, len, allowed, o);
    }
    free(body);
    if (e != FWT_OK) {
        reply_fail(c->req, e);
        return 0;
    }
    return 1;
}

static void reply_result(struct call *c, fwt_err e, json_t *o)
{
    if (e != FWT_OK) {
        json_decref(o);
        reply_fail(c->req, e);
    } else {
        reply_json(c->req, 200, o ? o : json_object());
    }
}

static void h_devices(struct call *c)
{
    struct fwt_srv_actor who;
    if (!require_admin(c->d, c->req, FWT_SRV_VIEWER, &who)) {
        return;
    }
    struct evkeyvalq q;
    const char *uri = evhttp_request_get_uri(c->req);
    const char *qs = strchr(uri, '?');
    TAILQ_INIT(&q);
    if (qs && evhttp_parse_query_str(qs + 1, &q) != 0) {
        reply_error(c->req, 400, "malformed", "bad query string");
        return;
    }
    json_t *a = NULL;
    fwt_err e = fwt_srv_device_list(c->d->s, evhttp_find_header(&q, "tag"), &a);
    evhttp_clear_headers(&q);
    reply_result(c, e, e == FWT_OK ? json_pack("{s:o}", "devices", a) : NULL);
}

static void h_device(struct call *c)
{
    struct fwt_srv_actor who;
    if (!require_admin(c->d, c->req, FWT_SRV_VIEWER, &who)) {
        return;
    }
    json_t *o = NULL;
    fwt_err e = fwt_srv_device_show(c->d->s, c->param[0], &o);
    reply_result(c, e, o);
}

static const char **str_array(json_t *a, size_t *n)
{
    *n = json_array_size(a);
    const char **v = calloc(*n + 1, sizeof(*v));
    for (size_t i = 0; v && i < *n; i++) {
        v[i] = json_string_value(json_array_get(a, i));
    }
    return v;
}

static void h_tags(struct call *c)
{
    struct fwt_srv_actor who;
    json_t *o = NULL;
    static const char *const keys[] = {"add", "remove", NULL};
    if (!require_admin(c->d, c->req, FWT_SRV_OPERATOR, &who) || !admin_body(c, keys, &o)) {
        return;
    }
    size_t na = 0, nr = 0;
    json_t *add = json_object_get(o, "add"), *rem = json_object_get(o, "remove");
    fwt_err e = (add && !json_is_array(add)) || (rem && !json_is_array(rem))
                    ? fwt_fail(FWT_E_MALFORMED, "\"add\" and \"remove\" must be arrays of tags")
                    : FWT_OK;
    const char **a = str_array(add, &na), **r = str_array(rem, &nr);
    if (e == FWT_OK) {
        e = !a || !r ? fwt_fail(FWT_E_NOMEM, "out of memory")
                     : fwt_srv_device_tag(c->d->s, &who, c->param[0], a, na, r, nr);
    }
    free(a);
    free(r);
    json_decref(o);
    json_t *dev = NULL;
    if (e == FWT_OK) {
        e = fwt_srv_device_show(c->d->s, c->param[0], &dev);
    }
    reply_result(c, e, dev);
}

/* {"set": ["KEY=VALUE", ...], "unset": ["KEY", ...]} */
static void h_attrs(struct call *c)
{
    struct fwt_srv_actor who;
    json_t *o = NULL;
    static const char *const keys[] = {"set", "unset", NULL};
    if (!require_admin(c->d, c->req, FWT_SRV_OPERATOR, &who) || !admin_body(c, keys, &o)) {
        return;
    }
    json_t *set = json_object_get(o, "set"), *uns = json_object_get(o, "unset");
    size_t nu = 0, ns = json_array_size(set);
    fwt_err e = (set && !json_is_array(set)) || (uns && !json_is_array(uns))
                    ? fwt_fail(FWT_E_MALFORMED, "\"set\" must be an array of \"KEY=VALUE\", \"unset\" one of keys")
                : ns > FWT_SRV_MAX_ATTRS ? fwt_fail(FWT_E_ARG, "at most %d attributes per device", FWT_SRV_MAX_ATTRS)
                                         : FWT_OK;
    char *ks[FWT_SRV_MAX_ATTRS] = {0};
    const char *vs[FWT_SRV_MAX_ATTRS] = {0};
    for (size_t i = 0; e == FWT_OK && i < ns; i++) {
        const char *kv = json_string_value(json_array_get(set, i));
        const char *eq = kv ? strchr(kv, '=') : NULL;
        if (!eq) {
            e = fwt_fail(FWT_E_ARG, "\"set\"[%zu] is not \"KEY=VALUE\"", i);
        } else if (!(ks[i] = strndup(kv, (size_t)(eq - kv)))) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        } else {
            vs[i] = eq + 1;
        }
    }
    const char **u = str_array(uns, &nu);
    if (e == FWT_OK) {
        e = !u ? fwt_fail(FWT_E_NOMEM, "out of memory")
               : fwt_srv_device_attr(c->d->s, &who, c->param[0], (const char *const *)ks, vs, ns, u, nu);
    }
    for (size_t i = 0; i < FWT_SRV_MAX_ATTRS; i++) {
        free(ks[i]);
    }
    free(u);
    json_decref(o);
    json_t *dev = NULL;
    if (e == FWT_OK) {
        e = fwt_srv_device_show(c->d->s, c->param[0], &dev);
    }
    reply_result(c, e, dev);
}

static void h_revoke(struct call *c)
{
    struct fwt_srv_actor who;
    json_t *o = NULL;
    static const char *const keys[] = {"decommission", NULL};
    if (!require_admin(c->d, c->req, FWT_SRV_APPROVER, &who)) {
        return;
    }
    /* an empty body is allowed: revoke */
    if (evbuffer_get_length(evhttp_request_get_input_buffer(c->req)) && !admin_body(c, keys, &o)) {
        return;
    }
    json_t *dec = json_object_get(o, "decommission");
    fwt_err e = dec && !json_is_boolean(dec) ? fwt_fail(FWT_E_MALFORMED, "\"decommission\" must be a boolean") : FWT_OK;
    if (e == FWT_OK) {
        e = fwt_srv_device_revoke(c->d->s, &who, c->param[0], json_is_true(dec));
    }
    json_decref(o);
    json_t *dev = NULL;
    if (e == FWT_OK) {
        e = fwt_srv_device_show(c->d->s, c->param[0], &dev);
    }
    reply_result(c, e, dev);
}

static void h_assignments(struct call *c)
{
    struct fwt_srv_actor who;
    if (!require_admin(c->d, c->req, FWT_SRV_VIEWER, &who)) {
        return;
    }
    json_t *a = NULL;
    fwt_err e = fwt_srv_assignment_list(c->d->s, &a);
    reply_result(c, e, e == FWT_OK ? json_pack("{s:o}", "assignments", a) : NULL);
}

static void h_assign(struct call *c)
{
    struct fwt_srv_actor who;
    json_t *o = NULL;
    static const char *const keys[] = {"scope", "subject", "target", "length", "sha256", "release_counter", NULL};
    if (!require_admin(c->d, c->req, FWT_SRV_APPROVER, &who) || !admin_body(c, keys, &o)) {
        return;
    }
    json_t *len = json_object_get(o, "length"), *rc = json_object_get(o, "release_counter");
    struct fwt_srv_assignment a = {json_string_value(json_object_get(o, "scope")),
                                   json_string_value(json_object_get(o, "subject")),
                                   json_string_value(json_object_get(o, "target")),
                                   (uint64_t)json_integer_value(len),
                                   json_string_value(json_object_get(o, "sha256")),
                                   (uint64_t)json_integer_value(rc)};
    json_t *info = NULL;
    fwt_err e = !json_is_integer(len) || (rc && !json_is_integer(rc))
                    ? fwt_fail(FWT_E_MALFORMED, "\"length\" (required) and \"release_counter\" must be integers")
                    : fwt_srv_assign(c->d->s, &who, &a, &info);
    json_decref(o);
    reply_result(c, e, info);
}

static void h_enroll_token(struct call *c)
{
    struct fwt_srv_actor who;
    json_t *o = NULL;
    static const char *const keys[] = {"ttl", "count", NULL};
    if (!require_admin(c->d, c->req, FWT_SRV_OPERATOR, &who)) {
        return;
    }
    if (evbuffer_get_length(evhttp_request_get_input_buffer(c->req)) && !admin_body(c, keys, &o)) {
        return;
    }
    json_t *ttl = json_object_get(o, "ttl"), *count = json_object_get(o, "count");
    json_t *info = NULL;
    fwt_err e = (ttl && !json_is_integer(ttl)) || (count && !json_is_integer(count))
                    ? fwt_fail(FWT_E_MALFORMED, "\"ttl\" (seconds) and \"count\" must be integers")
                    : fwt_srv_enroll_token_create(c->d->s, &who, (uint64_t)json_integer_value(ttl),
                                                  count ? (size_t)json_integer_value(count) : 1, &info);
    json_decref(o);
    reply_result(c, e, info);
}

/* ---- factory CAs, re-enrollment, the director root (factory.c, director_keys.c) ---- */

static void h_factory_cas(struct call *c)
{
    struct fwt_srv_actor who;
    if (!require_admin(c->d, c->req, FWT_SRV_VIEWER, &who)) {
        return;
    }
    json_t *a = NULL;
    fwt_err e = fwt_srv_factory_ca_list(c->d->s, &a);
    reply_result(c, e, e == FWT_OK ? json_pack("{s:o}", "factory_cas", a) : NULL);
}

static void h_factory_ca_add(struct call *c)
{
    struct fwt_srv_actor who;
    json_t *o = NULL;
    static const char *const keys[] = {"name", "pem", NULL};
    if (!require_admin(c->d, c->req, FWT_SRV_APPROVER, &who) || !admin_body(c, keys, &o)) {
        return;
    }
    const char *name = json_string_value(json_object_get(o, "name")), *pem = json_string_value(json_object_get(o, "pem"));
    json_t *info = NULL;
    fwt_err e = !name || !pem ? fwt_fail(FWT_E_MALFORMED, "\"name\" and \"pem\" (the CA certificate) are required")
                              : fwt_srv_factory_ca_add(c->d->s, &who, name, pem, strlen(pem), &info);
    json_decref(o);
    if (e == FWT_E_CERT) {
        reply_error(c->req, 400, "malformed", fwt_detail()); /* not a usable CA certificate */
        return;
    }
    reply_result(c, e, info);
}

static void h_factory_ca_remove(struct call *c)
{
    struct fwt_srv_actor who;
    if (!require_admin(c->d, c->req, FWT_SRV_APPROVER, &who)) {
        return;
    }
    fwt_err e = fwt_srv_factory_ca_remove(c->d->s, &who, c->param[0]);
    reply_result(c, e, e == FWT_OK ? json_pack("{s:s, s:b}", "fp", c->param[0], "removed", 1) : NULL);
}

static void h_allow_reenroll(struct call *c)
{
    struct fwt_srv_actor who;
    if (!require_admin(c->d, c->req, FWT_SRV_APPROVER, &who)) {
        return;
    }
    fwt_err e = fwt_srv_device_allow_reenroll(c->d->s, &who, c->param[0]);
    json_t *dev = NULL;
    if (e == FWT_OK) {
        e = fwt_srv_device_show(c->d->s, c->param[0], &dev);
    }
    reply_result(c, e, dev);
}

static void h_director_status(struct call *c)
{
    struct fwt_srv_actor who;
    if (!require_admin(c->d, c->req, FWT_SRV_VIEWER, &who)) {
        return;
    }
    json_t *o = NULL;
    fwt_err e = fwt_srv_director_status(c->d->s, &o);
    reply_result(c, e, o);
}

static void h_events(struct call *c)
{
    struct fwt_srv_actor who;
    if (!require_admin(c->d, c->req, FWT_SRV_VIEWER, &who)) {
        return;
    }
    json_t *a = NULL;
    fwt_err e = fwt_srv_event_list(c->d->s, NULL, 200, &a);
    reply_result(c, e, e == FWT_OK ? json_pack("{s:o}", "events", a) : NULL);
}

/* ---- rollouts, quarantine, metrics (fwt_rollout.h) ---- */

/* A library refusal after the role check passed: a policy "no" (creator approving) is 403. */
static void reply_policy(struct call *c, fwt_err e, json_t *o)
{
    if (e == FWT_E_KEY) {
        json_decref(o);
        reply_error(c->req, 403, "forbidden", fwt_detail());
        return;
    }
    reply_result(c, e, o);
}

static void h_rollouts(struct call *c)
{
    struct fwt_srv_actor who;
    if (!require_admin(c->d, c->req, FWT_SRV_VIEWER, &who)) {
        return;
    }
    json_t *a = NULL;
    fwt_err e = fwt_srv_rollout_list(c->d->s, &a);
    reply_result(c, e, e == FWT_OK ? json_pack("{s:o}", "rollouts", a) : NULL);
}

static void h_rollout_create(struct call *c)
{
    struct fwt_srv_actor who;
    if (!require_admin(c->d, c->req, FWT_SRV_OPERATOR, &who)) {
        return;
    }
    uint8_t *body = NULL;
    size_t len = 0;
    json_t *spec = NULL, *info = NULL;
    fwt_err e = read_body(c->req, &body, &len);
    if (e == FWT_OK) {
        e = fwt_srv_rollout_spec_check(body, len, &spec);
    }
    free(body);
    if (e == FWT_OK) {
        e = fwt_srv_rollout_create(c->d->s, &who, spec, &info);
    }
    json_decref(spec);
    reply_policy(c, e, info);
}

static void h_rollout(struct call *c)
{
    struct fwt_srv_actor who;
    if (!require_admin(c->d, c->req, FWT_SRV_VIEWER, &who)) {
        return;
    }
    json_t *o = NULL;
    fwt_err e = fwt_srv_rollout_status(c->d->s, c->param[0], &o);
    reply_result(c, e, o);
}

static void rollout_act(struct call *c, const char *action)
{
    struct fwt_srv_actor who;
    json_t *o = NULL;
    static const char *const keys[] = {"reason", NULL};
    int approve = !strcmp(action, "approve");
    if (!require_admin(c->d, c->req, approve ? FWT_SRV_APPROVER : FWT_SRV_OPERATOR, &who)) {
        return;
    }
    if (evbuffer_get_length(evhttp_request_get_input_buffer(c->req)) && !admin_body(c, keys, &o)) {
        return;
    }
    const char *reason = json_string_value(json_object_get(o, "reason"));
    fwt_err e = approve ? fwt_srv_rollout_approve(c->d->s, &who, c->param[0])
                        : fwt_srv_rollout_action(c->d->s, &who, c->param[0], action, reason);
    json_decref(o);
    json_t *st = NULL;
    if (e == FWT_OK) {
        e = fwt_srv_rollout_status(c->d->s, c->param[0], &st);
    }
    reply_policy(c, e, st);
}

static void h_rollout_approve(struct call *c)
{
    rollout_act(c, "approve");
}

static void h_rollout_halt(struct call *c)
{
    rollout_act(c, "halt");
}

static void h_rollout_resume(struct call *c)
{
    rollout_act(c, "resume");
}

static void h_rollout_cancel(struct call *c)
{
    rollout_act(c, "cancel");
}

static void h_rollout_retry(struct call *c)
{
    rollout_act(c, "retry-failed");
}

static void quarantine(struct call *c, int on)
{
    struct fwt_srv_actor who;
    json_t *o = NULL;
    static const char *const keys[] = {"reason", NULL};
    if (!require_admin(c->d, c->req, FWT_SRV_OPERATOR, &who)) {
        return;
    }
    if (evbuffer_get_length(evhttp_request_get_input_buffer(c->req)) && !admin_body(c, keys, &o)) {
        return;
    }
    fwt_err e = fwt_srv_quarantine(c->d->s, &who, c->param[0], on, json_string_value(json_object_get(o, "reason")));
    json_decref(o);
    reply_result(c, e, e == FWT_OK ? json_pack("{s:s, s:b}", "device", c->param[0], "quarantined", on) : NULL);
}

static void h_quarantine(struct call *c)
{
    quarantine(c, 1);
}

static void h_release(struct call *c)
{
    quarantine(c, 0);
}

static void h_metrics_json(struct call *c)
{
    struct fwt_srv_actor who;
    if (!require_admin(c->d, c->req, FWT_SRV_VIEWER, &who)) {
        return;
    }
    json_t *m = NULL;
    fwt_err e = fwt_srv_metrics(c->d->s, time(NULL), &m);
    reply_result(c, e, m);
}

/* Prometheus scrapes with "authorization: credentials" (a viewer token). */
static void h_metrics(struct call *c)
{
    struct fwt_srv_actor who;
    if (!require_admin(c->d, c->req, FWT_SRV_VIEWER, &who)) {
        return;
    }
    json_t *m = NULL;
    char *text = NULL;
    fwt_err e = fwt_srv_metrics(c->d->s, time(NULL), &m);
    if (e == FWT_OK) {
        e = fwt_srv_metrics_prometheus(m, &text);
    }
    json_decref(m);
    struct evbuffer *b = e == FWT_OK ? evbuffer_new() : NULL;
    if (e != FWT_OK || !b) {
        free(text);
        reply_fail(c->req, e != FWT_OK ? e : FWT_E_NOMEM);
        return;
    }
    evbuffer_add(b, text, strlen(text));
    free(text);
    evhttp_add_header(evhttp_request_get_output_headers(c->req), "Content-Type", "text/plain; version=0.0.4");
    evhttp_add_header(evhttp_request_get_output_headers(c->req), "Cache-Control", "no-store");
    add_instance(c->req);
    evhttp_send_reply(c->req, 200, "OK", b);
    evbuffer_free(b);
}

static void h_alerts(struct call *c)
{
    struct fwt_srv_actor who;
    if (!require_admin(c->d, c->req, FWT_SRV_VIEWER, &who)) {
        return;
    }
    json_t *a = NULL;
    fwt_err e = fwt_srv_alert_list(c->d->s, 200, &a);
    reply_result(c, e, e == FWT_OK ? json_pack("{s:o}", "alerts", a) : NULL);
}

/* Webhook deliveries on a thread of their own with its own database connection:
 * a receiver that hangs holds up only this thread. */
struct deliverer {
    pthread_t th;
    int started;
    volatile int stop;
    const char *dir, *db_url;
};

static void *deliver_main(void *arg)
{
    struct deliverer *w = arg;
    fwt_srv *s = NULL;
    while (!w->stop) {
        if (!s && fwt_srv_open(w->dir, w->db_url, &s) != FWT_OK) {
            s = NULL;
        }
        size_t n = 0;
        if (s && fwt_srv_webhooks_deliver(s, time(NULL), &n) != FWT_OK) {
            fwt_srv_close(s); /* reconnect next round */
            s = NULL;
        }
        for (int i = 0; i < 5 && !w->stop && n == 0; i++) {
            usleep(100000);
        }
    }
    fwt_srv_close(s);
    return NULL;
}

/* ---- dashboard (dash/, docs/rollouts.md#dashboard) ---- */

static void set_cookie(struct evhttp_request *req, const char *value, long max_age)
{
    char c[200];
    snprintf(c, sizeof(c), "fwt_session=%s; Path=/; Max-Age=%ld; HttpOnly; Secure; SameSite=Strict", value, max_age);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", c);
}

/* POST /v1/session {"token": ADMIN_TOKEN}: a session cookie and the CSRF token. */
static void h_session_create(struct call *c)
{
    json_t *o = NULL;
    static const char *const keys[] = {"token", NULL};
    if (!admin_body(c, keys, &o)) {
        return;
    }
    char cookie[65], csrf[65];
    struct fwt_srv_actor who;
    const char *tok = json_string_value(json_object_get(o, "token"));
    fwt_err e = tok ? fwt_srv_session_create(c->d->s, tok, cookie, csrf, &who)
                    : fwt_fail(FWT_E_MALFORMED, "\"token\" (an admin token) is required");
    json_decref(o);
    if (e == FWT_E_KEY) {
        reply_error(c->req, 401, "unauthorized", "unknown admin token");
        return;
    }
    if (e == FWT_OK) {
        set_cookie(c->req, cookie, FWT_SRV_SESSION_SECONDS);
        OPENSSL_cleanse(cookie, sizeof(cookie));
    }
    reply_result(c, e, e == FWT_OK ? json_pack("{s:s, s:s, s:s}", "name", who.name, "role", fwt_srv_role_name(who.role),
                                               "csrf", csrf) : NULL);
}

static void h_session(struct call *c)
{
    char cookie[80], csrf[65];
    struct fwt_srv_actor who;
    if (!cookie_value(c->req, "fwt_session", cookie, sizeof(cookie)) ||
        fwt_srv_session_check(c->d->s, cookie, &who, csrf) != FWT_OK) {
        reply_json(c->req, 200, json_pack("{s:b}", "signed_in", 0));
        return;
    }
    reply_json(c->req, 200, json_pack("{s:b, s:s, s:s, s:s}", "signed_in", 1, "name", who.name, "role",
                                      fwt_srv_role_name(who.role), "csrf", csrf));
}

static void h_session_end(struct call *c)
{
    struct fwt_srv_actor who;
    char cookie[80];
    if (!require_admin(c->d, c->req, FWT_SRV_VIEWER, &who)) {
        return;
    }
    fwt_err e = cookie_value(c->req, "fwt_session", cookie, sizeof(cookie)) ? fwt_srv_session_end(c->d->s, cookie)
                                                                             : FWT_OK;
    if (e == FWT_OK) {
        set_cookie(c->req, "", 0);
    }
    reply_result(c, e, NULL);
}

static void h_device_events(struct call *c)
{
    struct fwt_srv_actor who;
    if (!require_admin(c->d, c->req, FWT_SRV_VIEWER, &who)) {
        return;
    }
    json_t *a = NULL;
    fwt_err e = fwt_srv_event_list(c->d->s, c->param[0], 200, &a);
    reply_result(c, e, e == FWT_OK ? json_pack("{s:o}", "events", a) : NULL);
}

/* The dashboard's files: a flat directory, names [A-Za-z0-9._-] not starting with '.'. */
static void h_dashboard(struct call *c)
{
    const char *f = c->param[0];
    const char *dir = c->d->dashboard_dir;
    if (!dir || !*f || f[0] == '.' || strspn(f, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
                                           strlen(f)) {
        reply_error(c->req, 404, "not_found", dir ? "no such file" : "the dashboard is not served (serve --dashboard DIR)");
        return;
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, f);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (fwt_read_file(path, 8 << 20, &buf, &len) != FWT_OK) {
        reply_error(c->req, 404, "not_found", "no such file");
        return;
    }
    const char *ext = strrchr(f, '.');
    const char *type = !ext                     ? "application/octet-stream"
                       : !strcmp(ext, ".html")  ? "text/html; charset=utf-8"
                       : !strcmp(ext, ".js")    ? "text/javascript; charset=utf-8"
                       : !strcmp(ext, ".css")   ? "text/css; charset=utf-8"
                       : !strcmp(ext, ".png")   ? "image/png"
                                                : "application/octet-stream";
    struct evkeyvalq *oh = evhttp_request_get_output_headers(c->req);
    evhttp_add_header(oh, "Content-Type", type);
    evhttp_add_header(oh, "Content-Security-Policy",
                      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
                      " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    evhttp_add_header(oh, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(oh, "X-Frame-Options", "DENY");
    evhttp_add_header(oh, "Referrer-Policy", "no-referrer");
    evhttp_add_header(oh, "Cache-Control", "no-store");
    struct evbuffer *b = evbuffer_new();
    if (b) {
        evbuffer_add(b, buf, len);
        add_instance(c->req);
        evhttp_send_reply(c->req, 200, "OK", b);
        evbuffer_free(b);
    } else {
        evhttp_send_error(c->req, 500, "out of memory");
    }
    free(buf);
}

/* Rollout time-outs, windows and start times between reports. */
static void on_rollout_timer(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd;
    (void)ev;
    struct daemon *d = arg;
    fwt_detail_clear();
    batch_flush(d);
    if (fwt_srv_rollout_tick(d->s, time(NULL)) != FWT_OK) {
        if (srv_event(d->s, NULL, "rollout-error", "server:rollout-policy", fwt_detail()) != FWT_OK) {
            fwt_detail_clear();
        }
    }
}

/* ---- group commit ---- */

/* The connection of held answers went away: nothing to send them to (what they recorded
 * commits with the batch; the device checks in again with a higher counter). */
static void held_conn_closed(struct evhttp_connection *conn, void *arg)
{
    struct daemon *d = arg;
    for (struct held **pp = &d->held; *pp;) {
        struct held *h = *pp;
        if (evhttp_request_get_connection(h->req) == conn) {
            *pp = h->next;
            free(h->text);
            free(h);
        } else {
            pp = &h->next;
        }
    }
}

static void hold_reply(struct daemon *d, struct evhttp_request *req, int code, char *text)
{
    struct held *h = calloc(1, sizeof(*h));
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    if (!h || !conn) {
        free(h);
        free(text);
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    *h = (struct held){req, code, text, NULL};
    struct held **pp = &d->held; /* in arrival order */
    while (*pp) {
        pp = &(*pp)->next;
    }
    *pp = h;
    evhttp_connection_set_closecb(conn, held_conn_closed, d);
}

/* Commit the batch, then send the held answers (all 503 when it did not commit). */
static void batch_flush(struct daemon *d)
{
    fwt_srv_db *db = d->s->db;
    if (!db->batch) {
        return;
    }
    fwt_err e = db_batch_commit(db);
    char why[300];
    snprintf(why, sizeof(why), "%s", e == FWT_OK ? "" : fwt_detail());
    struct held *h = d->held;
    d->held = NULL;
    while (h) {
        struct held *next = h->next;
        evhttp_connection_set_closecb(evhttp_request_get_connection(h->req), NULL, NULL);
        if (e == FWT_OK) {
            send_json_text(h->req, h->code, h->text);
        } else {
            free(h->text);
            json_t *o = json_pack("{s:s, s:s}", "error", "unavailable", "detail", why);
            send_json_text(h->req, 503, o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL);
            json_decref(o);
        }
        free(h);
        h = next;
    }
}

static void on_flush(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd;
    (void)ev;
    fwt_detail_clear();
    batch_flush(arg);
}

/* Handle a check-in or report in the batch of this turn of the event loop (opened here,
 * committed by on_flush once every request ready now was handled), in a savepoint of its
 * own: a request whose statements fail is undone alone and answered 503. */
static void run_batched(struct daemon *d, struct call *c, void (*fn)(struct call *c))
{
    fwt_srv_db *db = d->s->db;
    if (!db->batch) {
        if (!d->flush_ev || db_batch_begin(db) != FWT_OK) {
            fwt_detail_clear();
            fn(c); /* no batch: the request commits by itself */
            return;
        }
        event_active(d->flush_ev, EV_TIMEOUT, 0);
    }
    struct held *before = d->held;
    while (before && before->next) {
        before = before->next;
    }
    if (db_begin(db) != FWT_OK) {
        reply_fail(c->req, FWT_E_IO);
        return;
    }
    g_hold = d;
    fn(c);
    g_hold = NULL;
    fwt_err e = db_commit(db);
    if (e != FWT_OK) {
        /* its answer becomes a 503: it recorded nothing */
        for (struct held *h = before ? before->next : d->held; h; h = h->next) {
            json_t *o = json_pack("{s:s, s:s}", "error", "unavailable", "detail", fwt_detail());
            char *t = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
            json_decref(o);
            if (t) {
                free(h->text);
                h->text = t;
                h->code = 503;
            }
        }
    }
}

/* ---- routing ---- */

struct route {
    enum evhttp_cmd_type method;
    const char *text; /* "METHOD PATH", as fwt_srv_routes lists it */
    void (*fn)(struct call *c);
};

static const struct route k_routes[] = {
    {EVHTTP_REQ_GET, "GET /v1/health", h_health},
    {EVHTTP_REQ_POST, "POST /v1/enroll", h_enroll},
    {EVHTTP_REQ_POST, "POST /v1/enroll/nonce", h_enroll_nonce},
    {EVHTTP_REQ_POST, "POST /v1/renew", h_renew},
    {EVHTTP_REQ_POST, "POST /v1/checkin", h_checkin},
    {EVHTTP_REQ_POST, "POST /v1/report", h_report},
    {EVHTTP_REQ_GET, "GET /v1/director/{file}", h_director},
    {EVHTTP_REQ_POST, "POST /v1/attest/enroll", h_attest_enroll},
    {EVHTTP_REQ_POST, "POST /v1/attest/activate", h_attest_activate},
    {EVHTTP_REQ_POST, "POST /v1/attest/nonce", h_attest_nonce},
    {EVHTTP_REQ_POST, "POST /v1/attest/quote", h_attest_quote},
    {EVHTTP_REQ_GET, "GET /v1/admin/devices", h_devices},
    {EVHTTP_REQ_GET, "GET /v1/admin/devices/{id}", h_device},
    {EVHTTP_REQ_POST, "POST /v1/admin/devices/{id}/tags", h_tags},
    {EVHTTP_REQ_POST, "POST /v1/admin/devices/{id}/attrs", h_attrs},
    {EVHTTP_REQ_POST, "POST /v1/admin/devices/{id}/revoke", h_revoke},
    {EVHTTP_REQ_GET, "GET /v1/admin/assignments", h_assignments},
    {EVHTTP_REQ_POST, "POST /v1/admin/assignments", h_assign},
    {EVHTTP_REQ_POST, "POST /v1/admin/enroll-tokens", h_enroll_token},
    {EVHTTP_REQ_GET, "GET /v1/admin/events", h_events},
    {EVHTTP_REQ_GET, "GET /v1/admin/factory-cas", h_factory_cas},
    {EVHTTP_REQ_POST, "POST /v1/admin/factory-cas", h_factory_ca_add},
    {EVHTTP_REQ_POST, "POST /v1/admin/factory-cas/{fp}/remove", h_factory_ca_remove},
    {EVHTTP_REQ_POST, "POST /v1/admin/devices/{id}/allow-reenroll", h_allow_reenroll},
    {EVHTTP_REQ_GET, "GET /v1/admin/director", h_director_status},
    {EVHTTP_REQ_POST, "POST /v1/admin/devices/{id}/quarantine", h_quarantine},
    {EVHTTP_REQ_POST, "POST /v1/admin/devices/{id}/release", h_release},
    {EVHTTP_REQ_GET, "GET /v1/admin/rollouts", h_rollouts},
    {EVHTTP_REQ_POST, "POST /v1/admin/rollouts", h_rollout_create},
    {EVHTTP_REQ_GET, "GET /v1/admin/rollouts/{id}", h_rollout},
    {EVHTTP_REQ_POST, "POST /v1/admin/rollouts/{id}/approve", h_rollout_approve},
    {EVHTTP_REQ_POST, "POST /v1/admin/rollouts/{id}/halt", h_rollout_halt},
    {EVHTTP_REQ_POST, "POST /v1/admin/rollouts/{id}/resume", h_rollout_resume},
    {EVHTTP_REQ_POST, "POST /v1/admin/rollouts/{id}/cancel", h_rollout_cancel},
    {EVHTTP_REQ_POST, "POST /v1/admin/rollouts/{id}/retry-failed", h_rollout_retry},
    {EVHTTP_REQ_GET, "GET /v1/admin/metrics", h_metrics_json},
    {EVHTTP_REQ_GET, "GET /metrics", h_metrics},
    {EVHTTP_REQ_GET, "GET /v1/admin/alerts", h_alerts},
    {EVHTTP_REQ_GET, "GET /v1/admin/devices/{id}/events", h_device_events},
    {EVHTTP_REQ_POST, "POST /v1/session", h_session_create},
    {EVHTTP_REQ_GET, "GET /v1/session", h_session},
    {EVHTTP_REQ_POST, "POST /v1/session/logout", h_session_end},
    {EVHTTP_REQ_GET, "GET /dashboard/{file}", h_dashboard},
};
#define N_ROUTES (sizeof(k_routes) / sizeof(k_routes[0]))

const char *const *fwt_srv_routes(size_t *n)
{
    static const char *names[N_ROUTES];
    for (size_t i = 0; i < N_ROUTES; i++) {
        names[i] = k_routes[i].text;
    }
    *n = N_ROUTES;
    return names;
}

/* Match path against the pattern of a route; {x} takes one non-empty segment. */
static int match(const char *pattern, const char *path, struct call *c)
{
    int np = 0;
    while (*pattern && *path) {
        if (*pattern == '{') {
            const char *pe = strchr(pattern, '}');
            size_t n = strcspn(path, "/");
            if (!pe || n == 0 || n >= sizeof(c->param[0]) || np >= MAX_PARAMS) {
                return 0;
            }
            memcpy(c->param[np], path, n);
            c->param[np++][n] = 0;
            pattern = pe + 1;
            path += n;
        } else if (*pattern++ != *path++) {
            return 0;
        }
    }
    return !*pattern && !*path;
}

static void dispatch(struct evhttp_request *req, void *arg)
{
    struct call c;
    memset(&c, 0, sizeof(c));
    c.d = arg;
    c.req = req;
    fwt_detail_clear();
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *raw = u ? evhttp_uri_get_path(u) : NULL;
    char *path = raw ? evhttp_uridecode(raw, 0, NULL) : NULL;
    if (!path || strlen(path) > 512 || strstr(path, "..")) {
        free(path);
        reply_error(req, 404, "not_found", "no such path");
        return;
    }
    int path_known = 0;
    for (size_t i = 0; i < N_ROUTES; i++) {
        const char *pat = strchr(k_routes[i].text, ' ') + 1;
        if (match(pat, path, &c)) {
            path_known = 1;
            if (evhttp_request_get_command(req) == k_routes[i].method) {
                free(path);
                if (k_routes[i].fn == h_checkin || k_routes[i].fn == h_report) {
                    run_batched(c.d, &c, k_routes[i].fn);
                } else {
                    batch_flush(c.d); /* anything else sees (and answers after) what is committed */
                    k_routes[i].fn(&c);
                }
                return;
            }
        }
    }
    free(path);
    if (path_known) {
        reply_error(req, 405, "method_not_allowed", "this path does not take this method");
    } else {
        reply_error(req, 404, "not_found", "no such path");
    }
}

/* ---- TLS ---- */

/* Revoked and decommissioned devices are refused during the handshake (a certificate no
 * device has passes: the API refuses it, unknown_device). Resumed sessions: tickets.c. */
static int verify_cb(int ok, X509_STORE_CTX *x)
{
    if (!ok || X509_STORE_CTX_get_error_depth(x) != 0) {
        return ok;
    }
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    fwt_srv *s = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_srv_idx) : NULL;
    int st = srv_cert_device_ok(s, X509_STORE_CTX_get_current_cert(x));
    if (st < 0) {
        X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_REVOKED);
        return 0;
    }
    return 1;
}

static fwt_err tls_setup(struct daemon *d)
{
    fwt_srv *s = d->s;
    if (g_srv_idx < 0) {
        g_srv_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int ok = ctx && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
             SSL_CTX_use_certificate_chain_file(ctx, s->server_cert_path) == 1 &&
             SSL_CTX_use_PrivateKey_file(ctx, s->server_key_path, SSL_FILETYPE_PEM) == 1 &&
             SSL_CTX_check_private_key(ctx) == 1 && SSL_CTX_load_verify_locations(ctx, s->ca_path, NULL) == 1 &&
             SSL_CTX_set_ex_data(ctx, g_srv_idx, s) == 1;
    if (ok) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(s->ca_path);
        SSL_CTX_set_client_CA_list(ctx, names);
        /* a certificate is asked for, not required: enrollment comes without one */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
        SSL_CTX_set_verify_depth(ctx, 2);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF); /* tickets only: nothing kept here */
    }
    d->store = X509_STORE_new();
    ok = ok && d->store && X509_STORE_load_file(d->store, s->ca_path) == 1;
    fwt_err te = FWT_OK;
    if (ok && ((te = srv_tickets_setup(s, ctx, &d->tickets)) != FWT_OK ||
               (te = srv_keyids_new(FWT_SRV_KEYID_SLOTS, &d->keyids)) != FWT_OK)) {
        SSL_CTX_free(ctx);
        return te;
    }
    if (!ok) {
        unsigned long code = ERR_get_error();
        char buf[256] = "";
        ERR_error_string_n(code, buf, sizeof(buf));
        SSL_CTX_free(ctx);
        return fwt_fail(FWT_E_KEY, "TLS setup (%s, %s): %s", s->server_cert_path, s->ca_path, buf);
    }
    d->ctx = ctx;
    return FWT_OK;
}

static struct bufferevent *bevcb(struct event_base *base, void *arg)
{
    struct daemon *d = arg;
    SSL *ssl = SSL_new(d->ctx);
    if (!ssl) {
        return NULL;
    }
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

static void on_signal(evutil_socket_t sig, short ev, void *arg)
{
    (void)sig;
    (void)ev;
    event_base_loopexit(arg, NULL);
}

/* "HOST:PORT", "[V6]:PORT". */
static fwt_err split_addr(const char *addr, char *host, size_t cap, uint16_t *port)
{
    const char *colon = strrchr(addr, ':');
    uint64_t p = 0;
    if (!colon || colon == addr || (size_t)(colon - addr) >= cap || fwt_parse_u64(colon + 1, 65535, &p) != FWT_OK) {
        return fwt_fail(FWT_E_ARG, "listen address '%s': expected HOST:PORT", addr);
    }
    const char *h = addr;
    size_t n = (size_t)(colon - addr);
    if (h[0] == '[' && n >= 2 && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    memcpy(host, h, n);
    host[n] = 0;
    *port = (uint16_t)p;
    return FWT_OK;
}

fwt_err srv_http_bind(struct evhttp *http, const char *addr, int *port_out, int *fd_out)
{
    char host[128];
    uint16_t port = 0;
    fwt_err e = split_addr(addr, host, sizeof(host), &port);
    if (e != FWT_OK) {
        return e;
    }
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, host, port);
    if (!bs) {
        return fwt_fail(FWT_E_NETWORK, "cannot listen on %s", addr);
    }
    int fd = (int)evhttp_bound_socket_get_fd(bs), one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
        evhttp_del_accept_socket(http, bs);
        return fwt_fail(FWT_E_NETWORK, "listen on %s: TCP_NODELAY: %s", addr, strerror(errno));
    }
    if (fd_out) {
        *fd_out = fd;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    *port_out = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    return FWT_OK;
}

static void http_limits(struct evhttp *h, const fwt_srv *s)
{
    evhttp_set_max_body_size(h, FWT_SRV_BODY_MAX);
    evhttp_set_max_headers_size(h, 16384);
    evhttp_set_timeout(h, (int)s->set.timeout);
    evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
}

fwt_err fwt_srv_serve(fwt_srv *s, const struct fwt_srv_serve_opts *o)
{
    struct daemon d;
    memset(&d, 0, sizeof(d));
    d.s = s;
    d.dashboard_dir = o ? o->dashboard_dir : NULL;
    signal(SIGPIPE, SIG_IGN);
    fwt_err e = ca_write_crl(s); /* the CRL follows the database after every start */
    if (e == FWT_OK) {
        e = tls_setup(&d);
    }
    struct evhttp *https = NULL, *plain = NULL;
    struct event *sig_term = NULL, *sig_int = NULL;
    int port = 0, plain_port = 0;
    if (e == FWT_OK && !(d.base = event_base_new())) {
        e = fwt_fail(FWT_E_NOMEM, "event loop");
    }
    if (e == FWT_OK && !(https = evhttp_new(d.base))) {
        e = fwt_fail(FWT_E_NOMEM, "HTTP server");
    }
    if (e == FWT_OK) {
        http_limits(https, s);
        evhttp_set_bevcb(https, bevcb, &d);
        evhttp_set_gencb(https, dispatch, &d);
        e = srv_http_bind(https, o && o->listen ? o->listen : s->set.listen, &port, NULL);
    }
    if (e == FWT_OK && o && o->plain_listen) {
        char host[128];
        uint16_t pp;
        if ((e = split_addr(o->plain_listen, host, sizeof(host), &pp)) == FWT_OK && strcmp(host, "127.0.0.1") &&
            strcmp(host, "::1") && strcmp(host, "localhost")) {
            e = fwt_fail(FWT_E_ARG, "--plain-listen %s: plain HTTP trusts a header for the client certificate, "
                                    "so it listens on loopback only",
                         o->plain_listen);
        }
        d.behind_proxy = 1;
        if (e == FWT_OK && !(plain = evhttp_new(d.base))) {
            e = fwt_fail(FWT_E_NOMEM, "HTTP server");
        }
        if (e == FWT_OK) {
            http_limits(plain, s);
            evhttp_set_gencb(plain, dispatch, &d);
            e = srv_http_bind(plain, o->plain_listen, &plain_port, NULL);
        }
    }
    if (e == FWT_OK) {
        sig_term = evsignal_new(d.base, SIGTERM, on_signal, d.base);
        sig_int = evsignal_new(d.base, SIGINT, on_signal, d.base);
        if (!sig_term || !sig_int || event_add(sig_term, NULL) || event_add(sig_int, NULL)) {
            e = fwt_fail(FWT_E_INTERNAL, "signal events");
        }
    }
    struct deliverer dl;
    memset(&dl, 0, sizeof(dl));
    dl.dir = s->dir;
    dl.db_url = s->db_url;
    if (e == FWT_OK) {
        dl.started = pthread_create(&dl.th, NULL, deliver_main, &dl) == 0;
        if (!dl.started) {
            e = fwt_fail(FWT_E_INTERNAL, "webhook delivery thread");
        }
    }
    struct event *rollout_timer = NULL;
    if (e == FWT_OK) {
        struct timeval every = {5, 0};
        rollout_timer = event_new(d.base, -1, EV_PERSIST, on_rollout_timer, &d);
        if (!rollout_timer || event_add(rollout_timer, &every)) {
            e = fwt_fail(FWT_E_INTERNAL, "rollout timer");
        }
    }
    if (e == FWT_OK && o && o->ready_file) {
        char text[64];
        int n = plain ? snprintf(text, sizeof(text), "https %d\nplain %d\n", port, plain_port)
                      : snprintf(text, sizeof(text), "https %d\n", port);
        e = fwt_write_file_atomic(o->ready_file, text, (size_t)n, 0644);
    }
    if (e == FWT_OK && !(d.flush_ev = event_new(d.base, -1, 0, on_flush, &d))) {
        e = fwt_fail(FWT_E_NOMEM, "group commit event");
    }
    if (e == FWT_OK && event_base_dispatch(d.base) < 0) {
        e = fwt_fail(FWT_E_INTERNAL, "event loop failed");
    }
    batch_flush(&d);
    if (d.flush_ev) {
        event_free(d.flush_ev);
    }
    if (rollout_timer) {
        event_free(rollout_timer);
    }
    if (dl.started) {
        dl.stop = 1;
        pthread_join(dl.th, NULL);
    }
    if (sig_term) {
        event_free(sig_term);
    }
    if (sig_int) {
        event_free(sig_int);
    }
    if (plain) {
        evhttp_free(plain);
    }
    if (https) {
        evhttp_free(https);
    }
    if (d.base) {
        event_base_free(d.base);
    }
    SSL_CTX_free(d.ctx);
    srv_tickets_free(d.tickets);
    srv_keyids_free(d.keyids);
    X509_STORE_free(d.store);
    return e;
}
