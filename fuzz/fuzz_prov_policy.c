/*
 * libFuzzer target: the provenance policy parser (fwt_prov_policy_parse,
 * src/provenance/policy.c). Each input is accepted or refused with a reason;
 * an accepted policy keeps the invariants the verifier relies on (builders and
 * keys within bounds, thresholds met by every builder, required builders
 * listed, a source URI).
 */
#include <fwtrust/fwt_provenance.h>

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fwt_prov_policy pol;
    fwt_err e = fwt_prov_policy_parse(data, size, &pol);
    if (e != FWT_OK) {
        if ((e != FWT_E_MALFORMED && e != FWT_E_TOO_LARGE && e != FWT_E_NOMEM) || fwt_detail()[0] == 0) {
            abort();
        }
        return 0;
    }
    if (pol.source_uri == NULL || pol.predicate_type == NULL || pol.n_builders == 0 ||
        pol.n_builders > FWT_POLICY_BUILDERS_MAX || pol.threshold == 0 || pol.required_builders == 0 ||
        pol.required_builders > pol.n_builders) {
        abort();
    }
    for (size_t i = 0; i < pol.n_builders; i++) {
        if (pol.builders[i].id == NULL || pol.builders[i].n_keys < pol.threshold ||
            pol.builders[i].n_keys > FWT_POLICY_KEYS_MAX) {
            abort();
        }
    }
    fwt_prov_policy_free(&pol);
    return 0;
}
