#!/usr/bin/env python3
"""Mutation check of the TUF client tests: each mutation removes one security check
from src/tuf/client*.c, tuf_meta.c or tuf_json.c; the cmocka tests must fail ("KILLED") for each.

Run from a COPY of the source tree (it edits the sources) with a build in ./b:
    cmake -S . -B b -DCMAKE_BUILD_TYPE=Debug && python3 tests/tufclient/mutate.py [NAME...]
"""
import subprocess, sys, re
muts = [
 ("dedup key material", "src/tuf/tuf_meta.c", "            if (!dup) {\n                seen[count]", "            dup = 0;\n            if (!dup) {\n                seen[count]"),
 ("threshold compare", "src/tuf/tuf_meta.c", "if (count < (size_t)threshold) {", "if (count < 1) {"),
 ("threshold >= 1", "src/tuf/tuf_meta.c", "if (json_integer_value(th) < 1) {", "if (json_integer_value(th) < 0) {"),
 ("dup sig keyid", "src/tuf/tuf_meta.c", "err = fwt_fail(FWT_E_META, \"%s: two signatures with key id", "if (0) err = fwt_fail(FWT_E_META, \"%s: two signatures with key id"),
 ("delegation paths", "src/tuf/tuf_meta.c", "int tuf_role_matches(const json_t *role, const char *target)\n{", "int tuf_role_matches(const json_t *role, const char *target)\n{\n    if (role) return 1;"),
 ("expiry", "src/tuf/client_trusted.c", "    if (t->ref >= m->expires) {", "    if (0) {"),
 ("time floor", "src/tuf/client.c", "c->t.ref = now > floor ? now : floor;", "c->t.ref = now;"),
 ("ts rollback", "src/tuf/client_trusted.c", "if (m->version < t->ts->version) {", "if (0) {"),
 ("ts snapshot version rollback", "src/tuf/client_trusted.c", "            if (nv < ov) {", "            if (0) {"),
 ("snapshot meta rollback", "src/tuf/client_trusted.c", "            if (a < b) {", "            if (0) {"),
 ("snapshot dropped role", "src/tuf/client_trusted.c", "            if (!nv) {\n                err = fwt_fail(FWT_E_META_ROLLBACK", "            if (!nv) { break;\n                err = fwt_fail(FWT_E_META_ROLLBACK"),
 ("snapshot version vs timestamp", "src/tuf/client_trusted.c", "    if (err == FWT_OK && m->version != want) {\n        err = fwt_fail(FWT_E_META_MISMATCH, \"%s: version %lld, the timestamp says", "    if (0) {\n        err = fwt_fail(FWT_E_META_MISMATCH, \"%s: version %lld, the timestamp says"),
 ("targets version vs snapshot", "src/tuf/client_trusted.c", "    if (err == FWT_OK && m->version != want) {\n        err = fwt_fail(FWT_E_META_MISMATCH, \"%s: version %lld, the snapshot says", "    if (0) {\n        err = fwt_fail(FWT_E_META_MISMATCH, \"%s: version %lld, the snapshot says"),
 ("metafile hashes", "src/tuf/tuf_meta.c", "    return h ? tuf_check_hashes(h, data, len, what) : FWT_OK;\n}", "    (void)h; return FWT_OK;\n}"),
 ("download cap", "src/tuf/client_fetch.c", "    if (len > x->cap - x->got) {", "    if (0) {"),
 ("download maxfilesize", "src/tuf/client_fetch.c", "        SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);", ""),
 ("target hash", "src/tuf/client.c", "            err = tuf_hash_state_final(&d.hs, t->name);", "            tuf_hash_state_free(&d.hs);"),
 ("root old-key check", "src/tuf/client_trusted.c", "        err = tuf_verify_role(m, root_keys(t), root_role(t, \"root\"), \"root\", what);", "        err = FWT_OK;"),
 ("root new-key check", "src/tuf/client_trusted.c", "        err = tuf_verify_role(m, json_object_get(m->signed_, \"keys\"),\n                              json_object_get(json_object_get(m->signed_, \"roles\"), \"root\"), \"root\", what);\n        if (err != FWT_OK) {\n            fwt_fail(err, \"%s (keys of the new root itself)\"", "        err = FWT_OK;\n        if (err != FWT_OK) {\n            fwt_fail(err, \"%s (keys of the new root itself)\""),
 ("root version N+1", "src/tuf/client_trusted.c", "if (err == FWT_OK && m->version != want) {\n        err = fwt_fail(m->version < want", "if (0) {\n        err = fwt_fail(m->version < want"),
 ("duplicate json keys", "src/tuf/tuf_json.c", "JSON_REJECT_DUPLICATES, &je", "0, &je"),
 ("terminating", "src/tuf/client.c", "term = json_is_true(json_object_get(r, \"terminating\"));", "term = 0;"),
 ("reverify per delegator", "src/tuf/client.c", "    *out = tuf_trusted_role_via(&c->t, role, parent);\n    if (*out) {\n        return FWT_OK;\n    }", "    *out = tuf_trusted_role(&c->t, role);\n    if (*out) {\n        return FWT_OK;\n    }"),
 ("ignore bad local timestamp (recovery)", "src/tuf/client.c", "        (void)tuf_trusted_update_timestamp(&c->t, buf, len, \"local timestamp.json\", &equal);", "        struct tuf_md *m_ = NULL; if (tuf_md_parse(buf, len, \"timestamp\", \"x\", &m_) == FWT_OK) tuf_trusted_set(&c->t.ts, m_);"),
 ("5.3.11 delete on rotation", "src/tuf/client.c", "        if (err == FWT_OK &&\n            (role_rotated(prev,", "        if (0 && err == FWT_OK &&\n            (role_rotated(prev,"),
 ("dup role keyid", "src/tuf/tuf_meta.c", "err = fwt_fail(FWT_E_META, \"role '%.64s' lists key id", "if (0) err = fwt_fail(FWT_E_META, \"role '%.64s' lists key id"),
 ("dup delegated role name", "src/tuf/tuf_meta.c", "err = fwt_fail(FWT_E_META, \"delegated role '%.64s' listed twice\"", "if (0) err = fwt_fail(FWT_E_META, \"delegated role '%.64s' listed twice\""),
 ("list: other delegators", "src/tuf/client.c", "            err = FWT_OK;\n            continue;\n        }\n        json_object_set_new(seen, role, json_true());", "            break;\n        }\n        json_object_set_new(seen, role, json_true());"),
 ("meta length above limit", "src/tuf/client.c", "    if (len > limit) {\n        return fwt_fail(FWT_E_TOO_LARGE, \"%s gives", "    if (0) {\n        return fwt_fail(FWT_E_TOO_LARGE, \"%s gives"),
 ("init older root", "src/tuf/client.c", "    if (new->version < have) {", "    if (0) {"),
 ("init same version other bytes", "src/tuf/client.c", "    if (new->version == have) {", "    if (0) {"),
 ("persist only verified", "src/tuf/client.c", "    if (err == FWT_OK && !equal) {\n        err = persist(c, \"timestamp\", c->t.ts);", "    if (!equal && c->t.ts) {\n        (void)persist(c, \"timestamp\", c->t.ts);"),
]
only = sys.argv[1:] 
for name, f, a, b in muts:
    if only and name not in only: continue
    src = open(f).read()
    if a not in src:
        print(f"SKIP (pattern not found): {name}"); continue
    open(f, "w").write(src.replace(a, b, 1))
    try:
        r = subprocess.run("cmake --build b -j2 --target test_tufclient >/dev/null 2>&1 && ./b/tests/tufclient/test_tufclient 2>&1", shell=True, capture_output=True, text=True)
        failed = sorted(set(re.findall(r"\[  FAILED  \] (test_\w+)", r.stdout)))
        built = "PASSED" in r.stdout or failed
        print(f"{'KILLED' if failed else ('BUILD?' if not built else 'SURVIVED')}: {name}: {' '.join(failed)}", flush=True)
    finally:
        open(f, "w").write(src)
subprocess.run("cmake --build b -j2 --target test_tufclient >/dev/null 2>&1", shell=True)
