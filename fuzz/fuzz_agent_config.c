/*
 * libFuzzer target: device.ini (the INI reader and the device configuration).
 * Any input is parsed or refused without crashing; an accepted configuration
 * formats to text that parses back to the same configuration.
 */
#include "agent/agent_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fwt_agent_config c, d;
    if (fwt_agent_config_parse((const char *)data, size, "/dev-dir", &c) != FWT_OK) {
        return 0;
    }
    char *text = NULL;
    if (fwt_agent_config_format(&c, &text) == FWT_OK) {
        if (fwt_agent_config_parse(text, strlen(text), "/dev-dir", &d) != FWT_OK) {
            abort(); /* what we write must read back */
        }
        if (!same(c.hw_id, d.hw_id) || !same(c.slot_path[0], d.slot_path[0]) ||
            !same(c.slot_path[1], d.slot_path[1]) || c.n_keys != d.n_keys ||
            c.n_roots != d.n_roots || c.threshold != d.threshold || c.tries != d.tries ||
            c.slot_size != d.slot_size || !same(c.repo_url, d.repo_url) ||
            !same(c.tuf_root, d.tuf_root) || !same(c.tls_pinned_pubkey, d.tls_pinned_pubkey)) {
            abort();
        }
        for (size_t i = 0; i < c.n_keys; i++) {
            if (!same(c.keys[i], d.keys[i])) {
                abort();
            }
        }
        fwt_agent_config_free(&d);
        free(text);
    }
    fwt_agent_config_free(&c);
    return 0;
}
