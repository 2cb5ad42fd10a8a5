/*
 * Dashboard sessions (fwt_rollout.h): a sign-in with an admin bearer token yields a
 * random session cookie (stored as its SHA-256, like the tokens) and a CSRF token.
 */
#include "srv.h"

#include <fwtrust/fwt_rollout.h>

#include <openssl/crypto.h>
#include <string.h>

fwt_err fwt_srv_session_create(fwt_srv *s, const char *admin_token, char cookie[65], char csrf[65],
                               struct fwt_srv_actor *who)
{
    fwt_err e = fwt_srv_admin_token_check(s, admin_token, who);
    char h[65];
    if (e == FWT_OK && (e = srv_random_hex(32, cookie)) == FWT_OK && (e = srv_random_hex(32, csrf)) == FWT_OK) {
        e = srv_hash_token(cookie, h);
    }
    if (e != FWT_OK) {
        return e;
    }
    int64_t now = (int64_t)srv_now();
    struct db_param pd[] = {DBI(now)};
    struct db_param p[] = {DBT(h), DBT(who->name), DBT(fwt_srv_role_name(who->role)), DBT(csrf),
                           DBI(now + FWT_SRV_SESSION_SECONDS)};
    if ((e = db_begin(s->db)) != FWT_OK) {
        return e;
    }
    e = db_exec(s->db, "DELETE FROM sessions WHERE expires_at <= ?", pd, 1, NULL, NULL);
    if (e == FWT_OK) {
        e = db_exec(s->db, "INSERT INTO sessions (hash, name, role, csrf, expires_at) VALUES (?, ?, ?, ?, ?)", p, 5,
                    NULL, NULL);
    }
    if (e == FWT_OK) {
        e = srv_audit(s, who, "session-create", who->name, fwt_srv_role_name(who->role));
    }
    if (e == FWT_OK) {
        return db_commit(s->db);
    }
    db_rollback(s->db);
    return e;
}

fwt_err fwt_srv_session_check(fwt_srv *s, const char *cookie, struct fwt_srv_actor *who, char csrf[65])
{
    memset(who, 0, sizeof(*who));
    if (!cookie || strlen(cookie) != 64 || strspn(cookie, "0123456789abcdef") != 64) {
        return fwt_fail(FWT_E_KEY, "no valid session");
    }
    char h[65];
    fwt_err e = srv_hash_token(cookie, h);
    struct db_param p[] = {DBT(h), DBI(srv_now())};
    struct db_rows r;
    if (e == FWT_OK) {
        e = db_exec(s->db, "SELECT name, role, csrf FROM sessions WHERE hash = ? AND expires_at > ?", p, 2, &r, NULL);
    }
    if (e != FWT_OK) {
        return e;
    }
    enum fwt_srv_role role = FWT_SRV_NONE;
    if (r.nrows != 1 || fwt_srv_role_parse(db_cell(&r, 0, 1), &role) != FWT_OK) {
        e = fwt_fail(FWT_E_KEY, "no valid session (signed out or expired)");
    } else {
        snprintf(who->name, sizeof(who->name), "admin:%s", db_cell(&r, 0, 0));
        if (!strncmp(db_cell(&r, 0, 0), "admin:", 6)) {
            snprintf(who->name, sizeof(who->name), "%s", db_cell(&r, 0, 0));
        }
        who->role = role;
        snprintf(csrf, 65, "%s", db_cell(&r, 0, 2));
    }
    db_rows_free(&r);
    return e;
}

fwt_err fwt_srv_session_end(fwt_srv *s, const char *cookie)
{
    char h[65];
    fwt_err e = srv_hash_token(cookie ? cookie : "", h);
    struct db_param p[] = {DBT(h)};
    return e == FWT_OK ? db_exec(s->db, "DELETE FROM sessions WHERE hash = ?", p, 1, NULL, NULL) : e;
}
