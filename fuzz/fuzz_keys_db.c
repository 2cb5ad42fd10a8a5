/*
 * libFuzzer target for the signing log's reader (src/keys/signlog.c, audit.c):
 * the input is written out as the log database file, then opened, verified,
 * searched for proofs and audited. SQLite copes with corrupt files itself; this
 * target exercises what fwtrust does with the rows it gets back (types, sizes,
 * negative or huge numbers, missing tables and meta values, hostile entries).
 */
#include "keys/keys_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_path[0]) {
        snprintf(g_path, sizeof(g_path), "/tmp/fuzz_keys_db.%ld.db", (long)getpid());
    }
    FILE *f = fopen(g_path, "wb");
    if (!f) {
        return 0;
    }
    if (size && fwrite(data, 1, size, f) != size) {
        fclose(f);
        return 0;
    }
    fclose(f);
    fwt_signlog *log = NULL;
    if (fwt_signlog_open(g_path, 0, &log) == FWT_OK) {
        uint64_t n = 0, n_sths = 0;
        struct fwt_signlog_sth sth;
        /* The fuzzer checks the log against its own stored key (a caller pins one). */
        fwt_pubkey *pub = NULL;
        if (fwt_signlog_pubkey(log, &pub) == FWT_OK) {
            (void)fwt_signlog_verify(log, pub, NULL, &n_sths);
            if (fwt_signlog_latest_sth(log, &sth) == FWT_OK) {
                (void)fwt_signlog_verify(log, pub, &sth, &n_sths);
            }
        }
        fwt_pubkey_free(pub);
        if (fwt_signlog_size(log, &n) == FWT_OK && n > 0) {
            struct fwt_signlog_proof p;
            if (fwt_signlog_prove(log, n - 1, 0, &p) == FWT_OK) {
                fwt_signlog_proof_free(&p);
            }
            struct fwt_signlog_consistency c;
            (void)fwt_signlog_prove_consistency(log, 1, 0, &c);
        }
        struct fwt_audit_opts o;
        memset(&o, 0, sizeof(o));
        (void)fwt_audit_window_parse("22:00-06:00", &o);
        size_t findings = 0;
        (void)fwt_signlog_audit(log, &o, NULL, NULL, &findings);
        fwt_signlog_close(log);
    }
    unlink(g_path);
    static const char *const k_side[] = {"-journal", "-wal", "-shm"}; /* a mutated header may ask for WAL */
    for (size_t i = 0; i < sizeof(k_side) / sizeof(k_side[0]); i++) {
        char j[80];
        snprintf(j, sizeof(j), "%s%s", g_path, k_side[i]);
        unlink(j);
    }
    return 0;
}
