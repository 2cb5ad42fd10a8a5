/*
 * libFuzzer target: one audit log line (fwt_audit_line_parse) and one
 * measured boot event log line (fwt_event_line_parse), and a whole log file
 * through fwt_audit_verify (the chain check, torn tail handling).
 */
#include "agent/agent_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fwt_audit_entry e;
    if (fwt_audit_line_parse((const char *)data, size, &e) == FWT_OK) {
        if (e.seq == 0 || strlen(e.event) == 0) {
            abort();
        }
    }
    struct fwt_event_entry ev;
    if (fwt_event_line_parse((const char *)data, size, &ev) == FWT_OK && ev.boot == 0) {
        abort();
    }
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof(g_dir), "/tmp/fwt-fuzz-audit-XXXXXX");
        if (!mkdtemp(g_dir)) {
            abort();
        }
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/audit.log", g_dir);
    FILE *f = fopen(path, "wb");
    if (!f) {
        abort();
    }
    if (size && fwrite(data, 1, size, f) != size) {
        abort();
    }
    fclose(f);
    uint64_t n = 0;
    int torn = 0;
    fwt_err err = fwt_audit_verify(g_dir, &n, &torn);
    if (err != FWT_OK && err != FWT_E_STATE) {
        abort();
    }
    return 0;
}
