#!/bin/bash
# fwtrust repo: bad input is refused with a clear error and a documented exit code,
# and a failed command leaves the repository byte-for-byte as it was.
. "$(dirname "$0")/lib.sh"
R=$T/repo
key root; key targets; key snapshot; key timestamp; key other

# init: missing keys, thresholds, expiry, unreadable keys, non-empty directory.
init() { "$FWTRUST" repo init "$@"; }
base=(--root-key "$T/root.pem" --targets-key "$T/targets.pem" --snapshot-key "$T/snapshot.pem" --timestamp-key "$T/timestamp.pem")
expect 1 "no timestamp key given (--timestamp-key)" init "$T/x" --root-key "$T/root.pem" --targets-key "$T/targets.pem" --snapshot-key "$T/snapshot.pem"
[ ! -e "$T/x" ] || fail "failed init created the directory"
expect 1 "root threshold 2 is above its 1 distinct keys" init "$T/x" "${base[@]}" --root-threshold 2
expect 1 "root threshold 2 is above its 1 distinct keys" init "$T/x" "${base[@]}" --root-key "$T/root.pem" --root-threshold 2
expect 1 "option '--root-threshold' needs a positive number up to 255, not '0'" init "$T/x" "${base[@]}" --root-threshold 0
expect 1 "--expires: expected ROLE=DAYS" init "$T/x" "${base[@]}" --expires root=0
expect 1 "--expires: expected ROLE=DAYS" init "$T/x" "${base[@]}" --expires mirror=3
expect 1 "--expires: expected ROLE=DAYS" init "$T/x" "${base[@]}" --expires root=12x
printf 'not a key\n' >"$T/junk.pem"
rc=0; init "$T/x" "${base[@]}" --root-key "$T/junk.pem" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 7 ] || fail "junk key: exit $rc, expected 7 ($(cat "$T/err"))"
[ ! -e "$T/x" ] || fail "failed init created the directory"
mkdir "$T/full" && touch "$T/full/something"
expect 1 "exists and is not empty" init "$T/full" "${base[@]}"
expect 1 "fwtrust repo init: missing operand: usage: fwtrust repo init DIR" "$FWTRUST" repo init
expect 8 "is not an fwtrust repository" "$FWTRUST" repo status "$T/nowhere"

expect 0 "" init "$R" "${base[@]}"
printf 'x\n' >"$T/t.bin"
expect 0 "" "$FWTRUST" repo add-target "$R" "$T/t.bin" --key "$T/targets.pem"
expect 0 "" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"

# A failed command changes nothing.
unchanged 41 "snapshot has 0 of the 1 signatures it needs" "$R" "$FWTRUST" repo publish "$R" --force --key "$T/timestamp.pem"
unchanged 41 "timestamp has 0 of the 1 signatures" "$R" "$FWTRUST" repo publish "$R" --force --key "$T/snapshot.pem"
unchanged 1 "target name 'a/../b' has an empty, '.' or '..' component" "$R" "$FWTRUST" repo add-target "$R" "$T/t.bin" --name a/../b --key "$T/targets.pem"
unchanged 1 "must not start or end with '/'" "$R" "$FWTRUST" repo add-target "$R" "$T/t.bin" --name /etc/passwd --key "$T/targets.pem"
unchanged 1 "character that is not allowed (0x0a)" "$R" "$FWTRUST" repo add-target "$R" "$T/t.bin" --name "$(printf 'a\nb')" --key "$T/targets.pem"
unchanged 1 "--custom must be a JSON object" "$R" "$FWTRUST" repo add-target "$R" "$T/t.bin" --custom '[1]' --key "$T/targets.pem"
unchanged 1 "--custom must be a JSON object" "$R" "$FWTRUST" repo add-target "$R" "$T/t.bin" --custom '{"a":1,"a":2}' --key "$T/targets.pem"
unchanged 8 "" "$R" "$FWTRUST" repo add-target "$R" "$T/missing.bin" --key "$T/targets.pem"
unchanged 1 "not a regular file" "$R" "$FWTRUST" repo add-target "$R" "$T" --name d --key "$T/targets.pem"
unchanged 1 "targets are added to 'targets' or a delegated role, not 'root'" "$R" "$FWTRUST" repo add-target "$R" "$T/t.bin" --role root --key "$T/targets.pem"
unchanged 8 "no role named 'nobody' is delegated" "$R" "$FWTRUST" repo add-target "$R" "$T/t.bin" --role nobody --key "$T/targets.pem"
unchanged 8 "role 'targets' has no target 'zz'" "$R" "$FWTRUST" repo remove-target "$R" zz --key "$T/targets.pem"
unchanged 7 "is not a key of role 'root'; its key ids: " "$R" "$FWTRUST" repo sign "$R" root --key "$T/other.pem"
unchanged 1 "snapshot is signed by 'fwtrust repo publish'" "$R" "$FWTRUST" repo sign "$R" snapshot --key "$T/snapshot.pem"
unchanged 1 "sign needs --key" "$R" "$FWTRUST" repo sign "$R" targets
unchanged 1 "'../x' is not a role name" "$R" "$FWTRUST" repo sign "$R" ../x --key "$T/targets.pem"
unchanged 7 "" "$R" "$FWTRUST" repo sign "$R" targets --key "$T/targets.pub"
unchanged 1 "role name 'root' is not allowed" "$R" "$FWTRUST" repo delegate "$R" --name root --key "$T/other.pub" --paths 'x/*'
unchanged 1 "role name 'a/b' is not allowed" "$R" "$FWTRUST" repo delegate "$R" --name a/b --key "$T/other.pub" --paths 'x/*'
unchanged 1 "delegate needs at least one --key and one --paths" "$R" "$FWTRUST" repo delegate "$R" --name hw --key "$T/other.pub"
unchanged 1 "threshold 2 is above the 1 distinct keys" "$R" "$FWTRUST" repo delegate "$R" --name hw --key "$T/other.pub" --key "$T/other.pem" --threshold 2 --paths 'x/*'
unchanged 1 "role 'targets' would have 1 key(s) but threshold 2" "$R" "$FWTRUST" repo rotate "$R" --role targets --threshold 2 --new-key "$T/targets.pub"
unchanged 1 "role 'root' would have no keys left" "$R" "$FWTRUST" repo revoke-key "$R" --role root --key "$T/root.pub"
unchanged 8 "is not a key of role 'timestamp'" "$R" "$FWTRUST" repo revoke-key "$R" --role timestamp --key "$T/other.pub"
unchanged 1 "nothing to do" "$R" "$FWTRUST" repo rotate "$R" --role targets
unchanged 1 "unknown option" "$R" "$FWTRUST" repo publish "$R" --bogus

# A write that fails half-way (here: the snapshot file name is taken by a directory) is
# rolled back: the targets metadata written before it is removed, staged/ stays.
expect 0 "" "$FWTRUST" repo add-target "$R" "$T/t.bin" --name t3.bin --key "$T/targets.pem"
mkdir "$R/metadata/2.snapshot.json"
unchanged 2 "2.snapshot.json" "$R" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
[ ! -e "$R/metadata/2.targets.json" ] && [ -f "$R/staged/targets.json" ] || fail "half-done publish not rolled back"
rmdir "$R/metadata/2.snapshot.json"
expect 0 "published targets version 2" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"

# Damaged staged metadata is refused (bad JSON, duplicate keys, wrong type), never signed over.
expect 0 "" "$FWTRUST" repo add-target "$R" "$T/t.bin" --name t2.bin --key "$T/targets.pem"
cp "$R/staged/targets.json" "$T/good.json"
printf '{"signatures": [], "signed": {' >"$R/staged/targets.json"
unchanged 40 "not valid JSON" "$R" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
"$PY" - "$T/good.json" "$R/staged/targets.json" <<'PYEOF'
import sys
s = open(sys.argv[1]).read()
# the same key twice in "signed": jansson must reject it (JSON_REJECT_DUPLICATES)
s = s.replace('"_type": "targets",', '"_type": "targets", "version": 99,', 1)
open(sys.argv[2], "w").write(s)
PYEOF
unchanged 40 "duplicate object key" "$R" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
sed 's/"_type": "targets"/"_type": "root"/' "$T/good.json" >"$R/staged/targets.json"
unchanged 40 "_type is 'root', expected 'targets'" "$R" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
# A staged file edited after signing: the signature no longer counts.
sed 's/"length": 2/"length": 3/' "$T/good.json" >"$R/staged/targets.json"
grep -q '"length": 3' "$R/staged/targets.json" || fail "test setup: edit"
unchanged 41 "staged targets: targets has 0 of the 1 signatures it needs" "$R" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
cp "$T/good.json" "$R/staged/targets.json"
# What the client refuses the repository neither signs nor publishes (one parser,
# src/tuf/tuf_meta.c): two signatures with one key id, an expiry date that does not exist.
"$PY" - "$T/good.json" "$R/staged/targets.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["signatures"] = d["signatures"] + d["signatures"]
open(sys.argv[2], "w").write(json.dumps(d))
PYEOF
unchanged 40 "two signatures with key id" "$R" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
sed 's/"expires": "[^"]*"/"expires": "2030-02-31T00:00:00Z"/' "$T/good.json" >"$R/staged/targets.json"
grep -q '2030-02-31' "$R/staged/targets.json" || fail "test setup: expires"
unchanged 40 "is not a valid date" "$R" "$FWTRUST" repo sign "$R" targets --key "$T/targets.pem"
cp "$T/good.json" "$R/staged/targets.json"

# Hostile staged metadata (wrong types where names, key ids and thresholds belong) is
# refused with an error, never a crash, by every command that reads it.
expect 0 "" "$FWTRUST" repo delegate "$R" --name hw --key "$T/other.pub" --paths 'hw/*' --sign-key "$T/targets.pem"
cp -a "$R/staged" "$T/staged.good"
i=0
while read -r role must_fail expr; do
    i=$((i + 1))
    rm -rf "$R/staged" && cp -a "$T/staged.good" "$R/staged"
    "$PY" - "$R/staged/$role.json" "$expr" <<'PYEOF'
import json, sys
p, expr = sys.argv[1], sys.argv[2]
d = json.load(open(p))
s = d["signed"]
exec(expr)
open(p, "w").write(json.dumps(d))
PYEOF
    for cmd in "publish $R --key $T/snapshot.pem --key $T/timestamp.pem" "status $R"         "sign $R targets --key $T/targets.pem" "add-target $R $T/t.bin --role hw --name hw/x --key $T/other.pem"         "rotate $R --role hw --new-key $T/root.pub --sign-key $T/targets.pem"; do
        rc=0
        # shellcheck disable=SC2086
        "$FWTRUST" repo $cmd >/dev/null 2>"$T/err" || rc=$?
        [ "$rc" -lt 128 ] || fail "mutation $i ($role: $expr): 'repo $cmd' crashed ($rc): $(cat "$T/err")"
        if [ "$must_fail" = yes ] && [ "${cmd%% *}" != status ] && [ "$rc" = 0 ]; then
            fail "mutation $i ($role: $expr): 'repo $cmd' accepted malformed metadata"
        fi
    done
done <<'EOF2'
targets yes s["delegations"]["roles"][0]["name"] = 5
targets yes s["delegations"]["roles"][0]["keyids"] = [1, None]
targets yes s["delegations"]["roles"][0]["threshold"] = "1"
targets yes s["delegations"]["roles"][0]["paths"] = "hw/*"
targets yes s["delegations"]["keys"] = []
targets yes s["delegations"] = 7
targets yes s["targets"] = []
targets yes s["targets"]["t.bin"] = {"length": -1, "hashes": {}}
targets yes d["signatures"] = [{"keyid": "ab" * 32, "sig": "zz"}]
hw yes s["targets"] = None
hw no s["version"] = 2 ** 62
EOF2
rm -rf "$R/staged" && cp -a "$T/staged.good" "$R/staged"

# Expired metadata is not published.
key t2
init "$T/exp" --root-key "$T/root.pem" --targets-key "$T/targets.pem" --snapshot-key "$T/snapshot.pem" --timestamp-key "$T/timestamp.pem" >/dev/null
"$PY" - "$T/exp/staged/targets.json" <<'PYEOF'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["signed"]["expires"] = "2001-01-01T00:00:00Z"
d["signatures"] = []
open(p, "w").write(json.dumps(d))
PYEOF
expect 0 "" "$FWTRUST" repo sign "$T/exp" targets --key "$T/targets.pem"
unchanged 42 "targets version 1 expired at 2001-01-01T00:00:00Z" "$T/exp" "$FWTRUST" repo publish "$T/exp" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
sed -i 's/"expires": 1,/"expires": 0,/; s/"timestamp": 1/"timestamp": 0/' "$T/exp/repo.json"
expect 11 "expires.timestamp must be 1..36500 days" "$FWTRUST" repo status "$T/exp"

# The timestamp command before anything is published.
init "$T/new" "${base[@]}" >/dev/null
unchanged 11 "nothing is published yet" "$T/new" "$FWTRUST" repo timestamp "$T/new" --key "$T/timestamp.pem"

# --json errors carry the exit code.
expect 41 "" "$FWTRUST" repo publish "$R" --json --key "$T/timestamp.pem"
[ "$(jget "$T/.out" 'd["exit_code"]')" = 41 ] || fail "json error exit code"
[ "$(jget "$T/.out" 'd["error"]')" = FWT_E_META_SIG ] || fail "json error name"
# One command at a time: while another holds the repository (here flock(1) on repo.json, as a
# running command does), a command is refused (exit 10) before it touches anything, so it
# never takes the other's transaction in .txn/ for one a crash left.
unchanged 10 "is working on $R; try again when it has finished" "$R" \
    flock "$R/repo.json" "$FWTRUST" repo timestamp "$R" --key "$T/timestamp.pem"
# ... naming who holds it: flock(1), its pid and command line (from /proc/locks)
grep -qE "pid [0-9]+ \(flock $R/repo.json " "$T/.err" || fail "the lock holder is not named: $(cat "$T/.err")"
expect 10 "" flock "$R/repo.json" "$FWTRUST" repo status "$R"
expect 0 "published timestamp" "$FWTRUST" repo timestamp "$R" --key "$T/timestamp.pem"
echo "failures: ok"
