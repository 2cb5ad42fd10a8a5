#!/bin/bash
# fwtrust repo list (targets of every targets role: length, hashes, role, image version,
# staged marker, --role, --json) and fwtrust repo status --check-expiry DAYS (exit 42 naming
# each role that expires within DAYS and the command that re-signs it). Both only read.
. "$(dirname "$0")/lib.sh"
R=$T/repo
make_repo

# Nothing added yet: an empty list.
expect 0 "0 target(s)" "$FWTRUST" repo list "$R"

# A plain file, an fwtrust image (custom.fwtrust.version) and a delegated role's target.
printf 'plain payload\n' >"$T/notes.txt"
expect 0 "" "$FWTRUST" repo add-target "$R" "$T/notes.txt" --key "$T/targets.pem"
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/img.pem"
head -c 3000 /dev/urandom >"$T/app.raw"
expect 0 "" "$FWTRUST" sign --key "$T/img.pem" --version 2.4.6+8 --header-size 0x200 --pad-header \
    --hw-id board-a "$T/app.raw" "$T/app.bin"
expect 0 "" "$FWTRUST" repo add-target "$R" "$T/app.bin" --name fw/app.bin --key "$T/targets.pem" \
    --custom '{"channel": "beta"}'
key hwa
expect 0 "" "$FWTRUST" repo delegate "$R" --name board-a --key "$T/hwa.pem" --paths 'board-a/*' \
    --sign-key "$T/targets.pem"
printf 'A\n' >"$T/a.bin"
expect 0 "" "$FWTRUST" repo add-target "$R" "$T/a.bin" --role board-a --name board-a/fw.bin --key "$T/hwa.pem"

nsha=$(sha256sum <"$T/notes.txt" | cut -d' ' -f1)
asha=$(sha256sum <"$T/app.bin" | cut -d' ' -f1)
alen=$(stat -c %s "$T/app.bin")
expect 0 "notes.txt  role targets  14 bytes  sha256:${nsha:0:16}...  (staged)" "$FWTRUST" repo list "$R"
grep -qF "fw/app.bin  role targets  $alen bytes  sha256:${asha:0:16}...  version 2.4.6+8  (staged)" "$T/.out" ||
    fail "image row: $(cat "$T/.out")"
grep -qF "board-a/fw.bin  role board-a  2 bytes" "$T/.out" || fail "delegated role's target listed"
grep -qF "3 target(s)" "$T/.out" || fail "count"
# Sorted by role (targets first, then the delegations in order), then by name.
[ "$(grep -o '^[^ ]*' "$T/.out" | head -3 | tr '\n' ' ')" = "fw/app.bin notes.txt board-a/fw.bin " ] ||
    fail "order: $(cat "$T/.out")"

# Published: the same targets, no longer marked staged; --json has the whole hashes and custom.
expect 0 "" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
expect 0 "" "$FWTRUST" repo list "$R" --json
cp "$T/.out" "$T/list.json"
[ "$(jget "$T/list.json" 'd["count"]')" = 3 ] || fail "json count"
[ "$(jget "$T/list.json" '[t["name"] for t in d["targets"]]')" = "['fw/app.bin', 'notes.txt', 'board-a/fw.bin']" ] ||
    fail "json order"
[ "$(jget "$T/list.json" 'd["targets"][0]["hashes"]["sha256"]')" = "$asha" ] || fail "json hash"
[ "$(jget "$T/list.json" 'd["targets"][0]["length"]')" = "$alen" ] || fail "json length"
[ "$(jget "$T/list.json" 'd["targets"][0]["version"]')" = 2.4.6+8 ] || fail "json version"
[ "$(jget "$T/list.json" 'd["targets"][0]["custom"]["channel"]')" = beta ] || fail "json custom"
[ "$(jget "$T/list.json" 'd["targets"][2]["role"]')" = board-a ] || fail "json role"
[ "$(jget "$T/list.json" '"version" in d["targets"][1]')" = False ] || fail "a plain file has no version"
[ "$(jget "$T/list.json" 'any(t["staged"] for t in d["targets"])')" = False ] || fail "published rows marked staged"

# --role: one targets role; a top-level role that holds no targets, or an unknown role, is refused.
expect 0 "1 target(s)" "$FWTRUST" repo list "$R" --role board-a
grep -q "notes.txt" "$T/.out" && fail "--role board-a listed a targets target"
expect 0 "2 target(s)" "$FWTRUST" repo list "$R" --role targets
expect 1 "'snapshot' is not a targets role" "$FWTRUST" repo list "$R" --role snapshot
expect 8 "no role named 'board-z' is delegated" "$FWTRUST" repo list "$R" --role board-z
expect 1 "" "$FWTRUST" repo list "$R" extra-operand

# A staged change shows what the next publish will publish: the removed target is gone and
# the role's rows are marked staged.
expect 0 "" "$FWTRUST" repo remove-target "$R" notes.txt --key "$T/targets.pem"
expect 0 "fw/app.bin  role targets  $alen bytes" "$FWTRUST" repo list "$R" --role targets
grep -q "notes.txt" "$T/.out" && fail "removed target still listed"
grep -qF "version 2.4.6+8  (staged)" "$T/.out" || fail "staged role not marked"

# A custom.fwtrust that its reader refuses is reported, not hidden (the staged file is plain JSON).
"$PY" - "$R/staged/targets.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["signed"]["targets"]["fw/app.bin"]["custom"]["fwtrust"]["version"] = "not-a-version"
json.dump(d, open(sys.argv[1], "w"), indent=1)
PYEOF
expect 0 "(custom.fwtrust unreadable: " "$FWTRUST" repo list "$R" --role targets
expect 0 "" "$FWTRUST" repo list "$R" --json
[ "$(jget "$T/.out" '"custom_error" in d["targets"][0] and "version" not in d["targets"][0]')" = True ] ||
    fail "custom_error in --json"

# An interrupted operation: list, like status, reports it (exit 11) and changes nothing.
mkdir "$R/.txn"
unchanged 11 "fwtrust repo recover $R" "$R" "$FWTRUST" repo list "$R"
expect 0 "" "$FWTRUST" repo recover "$R"

# --check-expiry. Defaults: timestamp 1 day, snapshot 7, targets and board-a 90, root 365.
unchanged 0 "no published role expires within 0 day(s)" "$R" "$FWTRUST" repo status "$R" --check-expiry 0
unchanged 42 "1 role(s) expire within 3 day(s): timestamp expires at" "$R" "$FWTRUST" repo status "$R" --check-expiry 3
grep -qF "run 'fwtrust repo timestamp $R --key TIMESTAMP_KEY'" "$T/.err" || fail "timestamp fix named"
grep -q "^timestamp .*published v1" "$T/.out" || fail "the status is printed with the error"
expect 42 "run 'fwtrust repo publish $R --force --key SNAPSHOT_KEY --key TIMESTAMP_KEY'" \
    "$FWTRUST" repo status "$R" --check-expiry 8
grep -qF "2 role(s) expire within 8 day(s)" "$T/.err" || fail "snapshot and timestamp within 8 days"
expect 42 "board-a expires at" "$FWTRUST" repo status "$R" --check-expiry 100 --json
cp "$T/.out" "$T/st.json"
[ "$(jget "$T/st.json" '[e["role"] for e in d["expiring"]]')" = "['targets', 'snapshot', 'timestamp', 'board-a']" ] ||
    fail "expiring roles: $(cat "$T/st.json")"
[ "$(jget "$T/st.json" 'd["exit_code"], d["error"], d["ok"], len(d["roles"])')" = "(42, 'FWT_E_META_EXPIRED', False, 5)" ] ||
    fail "json error with the status"
[ "$(jget "$T/st.json" 'd["expiring"][3]["fix"]')" = \
    "stage a new version with 'fwtrust repo sign $R board-a --key KEY', then publish" ] || fail "delegated fix"
expect 42 "root expires at" "$FWTRUST" repo status "$R" --check-expiry 366
expect 1 "" "$FWTRUST" repo status "$R" --check-expiry 36501
expect 1 "" "$FWTRUST" repo status "$R" --check-expiry -1
expect 1 "" "$FWTRUST" repo status "$R" --check-expiry soon

# An expired timestamp (edited: the tool never makes one) counts at DAYS 0; renewing it ends that.
"$PY" - "$R/metadata/timestamp.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["signed"]["expires"] = "2001-01-01T00:00:00Z"
json.dump(d, open(sys.argv[1], "w"), indent=1)
PYEOF
expect 42 "timestamp expired at 2001-01-01T00:00:00Z: run 'fwtrust repo timestamp" "$FWTRUST" repo status "$R" --check-expiry 0
expect 0 "" "$FWTRUST" repo timestamp "$R" --key "$T/timestamp.pem"
expect 0 "no published role expires within 0 day(s)" "$FWTRUST" repo status "$R" --check-expiry 0

# Nothing published: nothing can expire.
R2=$T/repo2
expect 0 "" "$FWTRUST" repo init "$R2" --root-key "$T/root.pem" --targets-key "$T/targets.pem" \
    --snapshot-key "$T/snapshot.pem" --timestamp-key "$T/timestamp.pem"
expect 0 "no published role expires within 36500 day(s)" "$FWTRUST" repo status "$R2" --check-expiry 36500
echo "list: ok"
