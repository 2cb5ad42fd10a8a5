/*
 * Governed rollouts' parsers: the first byte picks one, the rest is its input.
 *   0: the rollout specification (fwt_srv_rollout_spec_check: strict JSON, groups,
 *      windows with cron and time zone)
 *   1: the alerts configuration (fwt_srv_alert_config_parse)
 *   2: a cron expression (fwt_cron_parse), and the window check when it parses
 *   3: the attestation configuration (fwt_srv_attest_config_parse, attest.json)
 *   4: a record of the publish gate (fwt_srv_publish_gate_parse, publish-gate.jsonl)
 */
#include <fwtrust/fwt_rollout.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    json_t *j = NULL;
    switch (data[0] % 5) {
    case 0:
        if (fwt_srv_rollout_spec_check(p, n, &j) == FWT_OK && !json_is_object(json_object_get(j, "select"))) {
            abort();
        }
        break;
    case 1:
        if (fwt_srv_alert_config_parse(p, n, &j) == FWT_OK && !json_is_object(j)) {
            abort();
        }
        break;
    case 3:
        if (fwt_srv_attest_config_parse(p, n, &j) == FWT_OK &&
            (!json_is_object(j) || !json_is_string(json_object_get(j, "ek_ca")))) {
            abort();
        }
        break;
    case 4:
        if (fwt_srv_publish_gate_parse(p, n, &j) == FWT_OK &&
            (!json_is_object(j) || json_array_size(json_object_get(j, "findings")) == 0)) {
            abort();
        }
        break;
    default: {
        char *s = malloc(n + 1);
        if (!s) {
            return 0;
        }
        memcpy(s, p, n);
        s[n] = 0;
        struct fwt_cron c;
        int open = 0;
        if (fwt_cron_parse(s, &c) == FWT_OK) {
            if (!c.minute || !c.hour || !c.dom || !c.month || !c.dow) {
                abort();
            }
            if (fwt_cron_window_open(&c, "UTC", 3600, 1768440600, &open) != FWT_OK) {
                abort();
            }
        }
        free(s);
        break;
    }
    }
    json_decref(j);
    return 0;
}
