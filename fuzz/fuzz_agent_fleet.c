/*
 * libFuzzer target: what the device reads from its fleet server and director
 * (src/agent/fleet.c, fleet_client.c): a director target's custom object
 * (fwt_agent_director_custom_parse), the enrollment answer and the check-in
 * answer (fwt_agent_enroll_answer_parse, fwt_agent_checkin_answer_parse). The
 * first byte picks the reader, the rest is its input. Every refusal names its
 * cause; everything accepted is within the protocol's ranges.
 */
#include "agent_internal.h"
#include "update_internal.h"

#include <fwtrust/fwt_tuf_json.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t which = data[0] % 3;
    data++;
    size--;
    fwt_detail_clear();
    if (which == 0) {
        char *s = malloc(size + 1);
        if (!s) {
            return 0;
        }
        memcpy(s, data, size);
        s[size] = '\0';
        struct fwt_agent_director_custom c;
        fwt_err err = fwt_agent_director_custom_parse(s, &c);
        free(s);
        if (err != FWT_OK) {
            if (fwt_detail()[0] == '\0' || (err != FWT_E_META && err != FWT_E_NOMEM)) {
                abort();
            }
        } else if (!fwt_fleet_device_id_valid(c.device_id) || c.hardware_id[0] == '\0' ||
                   c.release_counter > FWT_FLEET_COUNTER_MAX) {
            abort();
        }
        return 0;
    }
    json_t *j = NULL;
    if (fwt_tuf_json_load(data, size, "fuzz", &j) != FWT_OK) {
        return 0;
    }
    fwt_err err;
    if (which == 1) {
        struct fwt_agent_enroll_answer a;
        err = fwt_agent_enroll_answer_parse(j, &a);
        if (err == FWT_OK && (!fwt_fleet_device_id_valid(a.device_id) || !a.certificate || !a.ca ||
                              !json_is_object(a.director_root) || a.interval == 0 || a.interval > 30U * 86400U ||
                              a.jitter > 30U * 86400U)) {
            abort();
        }
    } else {
        struct fwt_agent_checkin_result r;
        memset(&r, 0, sizeof(r));
        err = fwt_agent_checkin_answer_parse(j, &r);
        if (err == FWT_OK && (r.interval == 0 || r.interval > 30U * 86400U || r.jitter > 30U * 86400U ||
                              r.director_version > FWT_FLEET_COUNTER_MAX)) {
            abort();
        }
    }
    if (err != FWT_OK && (err != FWT_E_MALFORMED || fwt_detail()[0] == '\0')) {
        abort();
    }
    json_decref(j);
    return 0;
}
