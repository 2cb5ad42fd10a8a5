/*
 * fwtrust-agent enroll and checkin (fleet_cmd.h): options, help and output;
 * the fleet protocol itself is in src/agent/fleet_client.c.
 */
#include "fleet_cmd.h"
#include "update_cmd.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct fwt_agent_enroll_opts g_enroll;

const struct fwt_opt k_enroll_opts[] = {
    FWT_OPT_STR_(0, "server", "URL", &g_enroll.server, "the fleet server, https://HOST:PORT (required)"),
    FWT_OPT_STR_(0, "token", "FILE", &g_enroll.token_file,
                 "the one-time enrollment token (first line;\nrequired unless --factory-cert)"),
    FWT_OPT_STR_(0, "ca", "FILE", &g_enroll.ca,
                 "PEM CA the server's TLS certificate must chain\nto (required; kept as the server pin)"),
    FWT_OPT_STR_(0, "serial", "SERIAL", &g_enroll.serial,
                 "this device's serial number (required with\n--token; with --factory-cert: its\nserialNumber)"),
    FWT_OPT_STR_(0, "factory-cert", "CERT", &g_enroll.factory_cert,
                 "enroll with the manufacturer's certificate of\nthis device (PEM, intermediates after it)\n"
                 "instead of a token"),
    FWT_OPT_STR_(0, "factory-key", "KEY", &g_enroll.factory_key,
                 "its private key: a PEM file or a pkcs11: URI\n(required with --factory-cert)"),
    FWT_OPT_STR_(0, "factory-pin-file", "FILE", &g_enroll.factory_pin_file,
                 "the token PIN of a pkcs11: factory key"),
    FWT_OPT_END_,
};

const char k_enroll_desc[] =
    "Enroll the device in a fleet: create its key (ECDSA P-256, DIR/fleet/device.key),\n"
    "send a certificate request with the one-time token, the hardware id and the serial\n"
    "(POST /v1/enroll, the server verified against --ca), check the short-lived\n"
    "certificate it gets (this key, CN = the device id given), trust the director root\n"
    "it gets (its own signatures checked) for 'update', and write [fleet] into\n"
    "device.ini. Nothing changes on failure. docs/fleet-protocol.md.\n"
    "With --factory-cert and --factory-key instead of --token: the manufacturer's\n"
    "certificate proves the device (no token). The agent gets a single-use nonce from\n"
    "the server (POST /v1/enroll/nonce) and signs it, the request's SHA-256, the\n"
    "hardware id and the serial (the certificate's subject serialNumber) with the\n"
    "factory key; the server checks the chain to a configured factory CA, validity,\n"
    "the signature and that the identity and the new key were never enrolled.\n\n"
    "Exit: 0 enrolled; 1 bad option or token file; 9 network, TLS, or the server refused\n"
    "(bad or used token or nonce, factory certificate refused, serial already enrolled,\n"
    "key reused: named); 7 factory key unusable; 20 malformed answer; 29 certificate for\n"
    "another key or device id, or a factory certificate without a serialNumber;\n"
    "40-43 director root refused.";

static int g_no_update, g_loop;
static uint64_t g_count;

const struct fwt_opt k_checkin_opts[] = {
    FWT_OPT_FLAG_(0, "loop", &g_loop,
                  "check in for ever: every [fleet] interval plus a\n"
                  "random part of the jitter (the server's), updating\n"
                  "through the director whenever it assigns a release"),
    FWT_OPT_U64_(0, "count", "N", &g_count, 1, UINT32_MAX, "with --loop: stop after N check-ins"),
    FWT_OPT_FLAG_(0, "no-update", &g_no_update, "with --loop: check in only, never update"),
    FWT_OPT_END_,
};

const char k_checkin_desc[] =
    "Check in with the fleet server: build the device manifest from the device state\n"
    "(each slot's state, length, SHA-256, version and counters; the last install's\n"
    "outcome; the measured boot register; the audit log's anchor; the trusted director\n"
    "version), with a fresh nonce and a counter above every earlier one (kept in the\n"
    "power-fail-safe fleet state), sign it with the device key and send it over mutual\n"
    "TLS (POST /v1/checkin). The server's interval and jitter are kept in [fleet]; from\n"
    "its renew_before time on, the certificate is renewed (POST /v1/renew). The answer\n"
    "says whether the director assigns something new: 'update' then installs it\n"
    "(Uptane full verification) and reports its progress. docs/fleet-protocol.md.\n"
    "A device with a TPM ([device] tpm) attests first: on the first check-in it enrolls\n"
    "its attestation key (credential activation, POST /v1/attest/enroll, activate),\n"
    "then quotes its PCRs and event log with a fresh server nonce (POST /v1/attest/nonce,\n"
    "quote); the server's verdict is printed (--json: \"attestation\"). A fail does not\n"
    "stop the check-in; a server that does not attest is skipped. docs/attestation.md.\n"
    "When the server names a newer director root (a rotation), the device walks the\n"
    "director's root versions in order, each signed by its trusted root's keys and by\n"
    "its own (TUF 5.3), before anything else is trusted from the director.\n\n"
    "Exit: 0 checked in; 1 not enrolled; 9 network, TLS, or the server refused\n"
    "(revoked device, replayed counter: named); 10 locked; 11 fleet state corrupt;\n"
    "20 malformed answer; 29 the renewed certificate is not for this key; 2 the TPM\n"
    "failed (attestation); 40-44 a newer director root refused (the trusted one kept).";

static int fail(const char *name, fwt_err err, int json)
{
    if (json) {
        fwt_cli_json_print(fwt_cli_json_error(err));
    }
    return fwt_cli_error(name, err);
}

static void time_text(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm)) {
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    } else {
        snprintf(out, 32, "%lld", (long long)t);
    }
}

int agent_enroll_run(const char *dir, const char *name, int json)
{
    if (g_enroll.factory_cert || g_enroll.factory_key) {
        if (!g_enroll.server || !g_enroll.ca || !g_enroll.factory_cert || !g_enroll.factory_key || g_enroll.token_file) {
            return fwt_cli_usage_error(name, "--server, --ca, --factory-cert and --factory-key are required "
                                             "together (and no --token)");
        }
    } else if (!g_enroll.server || !g_enroll.token_file || !g_enroll.ca || !g_enroll.serial) {
        return fwt_cli_usage_error(name, "--server, --token, --ca and --serial are required (or --factory-cert "
                                         "and --factory-key instead of --token)");
    }
    fwt_agent *dev = NULL;
    struct fwt_agent_enroll_result r;
    fwt_err err = fwt_agent_open(dir, &dev);
    if (err == FWT_OK) {
        err = fwt_agent_enroll(dev, &g_enroll, &r);
    }
    fwt_agent_close(dev);
    if (err != FWT_OK) {
        return fail(name, err, json);
    }
    char na[32];
    time_text(r.cert_not_after, na);
    if (json) {
        fwt_cli_json_print(json_pack("{s:b,s:s,s:s,s:I,s:I}", "ok", 1, "device_id", r.device_id,
                                     "certificate_not_after", na, "checkin_interval", (json_int_t)r.interval,
                                     "jitter", (json_int_t)r.jitter));
    } else {
        printf("enrolled as %s; certificate valid until %s; check-in every %u s (+ up to %u s)\n", r.device_id,
               na, (unsigned)r.interval, (unsigned)r.jitter);
    }
    return 0;
}

static int checkin_once(const char *dir, const char *name, int json, int *assigned)
{
    fwt_agent *dev = NULL;
    struct fwt_agent_checkin_result r;
    struct fwt_agent_attestation at;
    memset(&at, 0, sizeof(at));
    *assigned = 0;
    fwt_err err = fwt_agent_open(dir, &dev);
    /* a device with a TPM attests first (the server may require a fresh pass before it
     * assigns a release), then sends its manifest */
    if (err == FWT_OK) {
        err = fwt_agent_fleet_attest(dev, &at);
    }
    if (err == FWT_OK) {
        err = fwt_agent_checkin(dev, &r);
    }
    fwt_agent_close(dev);
    if (err != FWT_OK) {
        return fail(name, err, json);
    }
    json_t *aj = at.done ? json_pack("{s:s, s:s, s:s, s:b}", "verdict", at.verdict, "reason", at.reason, "detail",
                                     at.detail, "key_enrolled", at.enrolled)
                         : json_null();
    *assigned = r.director_newer;
    char na[32], rb[32];
    time_text(r.cert_not_after, na);
    time_text(r.renew_before, rb);
    if (json) {
        json_t *o = json_pack("{s:b,s:I,s:I,s:I,s:s,s:I,s:I,s:b,s:b,s:s}", "ok", 1, "counter",
                                     (json_int_t)r.counter, "checkin_interval", (json_int_t)r.interval, "jitter",
                                     (json_int_t)r.jitter, "renew_before", rb, "director_targets_version",
                                     (json_int_t)r.director_version, "device_director_version",
                                     (json_int_t)r.device_director_version, "director_newer", r.director_newer,
                                     "renewed", r.renewed, "certificate_not_after", na);
        json_object_set_new(o, "director_root_version", json_integer((json_int_t)r.director_root_version));
        json_object_set_new(o, "director_root_updated", json_boolean(r.director_root_updated));
        json_object_set_new(o, "attestation", aj);
        json_object_set_new(o, "tls_resumed", json_boolean(r.tls_resumed));
        fwt_cli_json_print(o);
    } else {
        json_decref(aj);
        if (at.done) {
            printf("attestation: %s (%s)%s%s%s\n", at.verdict, at.reason, at.detail[0] ? ": " : "", at.detail,
                   at.enrolled ? "; attestation key enrolled" : "");
        }
        printf("checked in (counter %llu); director version %llu (device has %llu)%s%s\n",
               (unsigned long long)r.counter, (unsigned long long)r.director_version,
               (unsigned long long)r.device_director_version,
               r.director_newer ? ": newer director metadata, run update" : "",
               r.renewed ? "; certificate renewed" : "");
        if (r.director_root_updated) {
            printf("director root now version %llu\n", (unsigned long long)r.director_root_version);
        }
    }
    return 0;
}

int agent_checkin_run(const char *dir, const char *name, int json)
{
    if (!g_loop && (g_count || g_no_update)) {
        return fwt_cli_usage_error(name, "--count and --no-update go with --loop");
    }
    for (uint64_t i = 0;; i++) {
        int assigned = 0;
        int rc = checkin_once(dir, name, json, &assigned);
        if (!g_loop) {
            return rc;
        }
        if (rc == 0 && assigned && !g_no_update) {
            fwt_agent *dev = NULL;
            fwt_err err = fwt_agent_open(dir, &dev);
            if (err == FWT_OK) {
                (void)agent_update_run(dev, name, json); /* prints its result; the loop goes on */
            } else {
                (void)fail(name, err, json);
            }
            fwt_agent_close(dev);
        }
        if (g_count && i + 1 >= g_count) {
            return rc;
        }
        uint32_t delay = 0;
        fwt_agent *dev = NULL;
        fwt_err err = fwt_agent_open_ex(dir, FWT_AGENT_OPEN_READONLY, &dev);
        if (err == FWT_OK) {
            err = fwt_agent_checkin_delay(dev, &delay);
        }
        fwt_agent_close(dev);
        if (err != FWT_OK) {
            return fail(name, err, json);
        }
        fflush(stdout);
        sleep(delay);
    }
}
