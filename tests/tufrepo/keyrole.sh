#!/bin/bash
# fwtrust repo: a --key / --sign-key that is not a key of the role being signed is refused
# (exit 7, naming the role's key ids) by every command that signs, and nothing changes;
# the "next" steps and errors name the command that fixes what is missing (issue 9 item 10).
. "$(dirname "$0")/lib.sh"
R=$T/repo
key other
make_repo
"$FWTRUST" repo status "$R" --json >"$T/st.json"
kid() { jget "$T/st.json" "[r for r in d['roles'] if r['role']=='$1'][0]['keyids'][0]"; }
TK=$(kid targets); RK=$(kid root); SK=$(kid snapshot); TSK=$(kid timestamp)
printf 'x\n' >"$T/x.bin"
# add-target signs targets: the snapshot key there signed nothing and the command said "0 of 1".
unchanged 7 "snapshot.pem (key id $SK) is not a key of role 'targets'; its key ids: $TK" "$R" \
    "$FWTRUST" repo add-target "$R" "$T/x.bin" --key "$T/snapshot.pem"
unchanged 7 "is not a key of role 'targets'" "$R" "$FWTRUST" repo add-target "$R" "$T/x.bin" \
    --key "$T/targets.pem" --key "$T/other.pem"
expect 0 "" "$FWTRUST" repo add-target "$R" "$T/x.bin" --key "$T/targets.pem"
unchanged 7 "is not a key of role 'targets'; its key ids: $TK" "$R" \
    "$FWTRUST" repo remove-target "$R" x.bin --key "$T/timestamp.pem"
unchanged 7 "other.pem (key id" "$R" "$FWTRUST" repo sign "$R" targets --key "$T/targets.pem" --key "$T/other.pem"
unchanged 7 "is not a key of role 'root'; its key ids: $RK" "$R" "$FWTRUST" repo sign "$R" root --key "$T/targets.pem"
# publish signs the snapshot, the timestamp and staged roles: anything else is refused.
unchanged 7 "other.pem (key id" "$R" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem" --key "$T/other.pem"
# The root key may sign the staged root at publish time.
expect 0 "" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem" --key "$T/root.pem"
unchanged 7 "is not a key of role 'timestamp' of the published root; its key ids: $TSK" "$R" \
    "$FWTRUST" repo timestamp "$R" --key "$T/root.pem"
# delegate --sign-key signs the delegating role; rotate --sign-key the role holding the keys.
unchanged 7 "snapshot.pem (key id $SK) is not a key of role 'targets'; its key ids: $TK" "$R" \
    "$FWTRUST" repo delegate "$R" --name hw --key "$T/other.pub" --paths 'hw/*' --sign-key "$T/snapshot.pem"
unchanged 7 "is not a key of role 'root'; its key ids: $RK" "$R" \
    "$FWTRUST" repo rotate "$R" --role targets --new-key "$T/other.pub" --sign-key "$T/timestamp.pem"
unchanged 7 "is not a key of role 'root'" "$R" \
    "$FWTRUST" repo rotate "$R" --role snapshot --new-key "$T/other.pub" --sign-key "$T/timestamp.pem"
expect 0 "" "$FWTRUST" repo delegate "$R" --name hw --key "$T/other.pub" --paths 'hw/*' --sign-key "$T/targets.pem"
# A new key of the rotated role may sign its new version.
expect 0 "" "$FWTRUST" repo rotate "$R" --role hw --new-key "$T/snapshot.pub" --old-key "$T/other.pub" \
    --sign-key "$T/targets.pem" --sign-key "$T/snapshot.pem"

# init with offline root keys: "next" names the signatures still missing, not publish.
R2=$T/repo2
expect 0 "next: fwtrust repo sign $R2 root --key ROOT_KEY   # 1 more signature(s) needed" \
    "$FWTRUST" repo init "$R2" --root-key "$T/root.pub" --targets-key "$T/targets.pem" \
    --snapshot-key "$T/snapshot.pem" --timestamp-key "$T/timestamp.pem"
grep -q "^then: fwtrust repo publish $R2 --key SNAPSHOT_KEY --key TIMESTAMP_KEY" "$T/.out" || fail "publish is the last step"
grep -q "sign $R2 targets" "$T/.out" && fail "targets is signed already: no sign step for it"
unchanged 41 "add signatures with 'fwtrust repo sign $R2 root --key ROOT_KEY'" "$R2" \
    "$FWTRUST" repo publish "$R2" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
expect 0 "" "$FWTRUST" repo sign "$R2" root --key "$T/root.pem"
expect 0 "published root version 1" "$FWTRUST" repo publish "$R2" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
R3=$T/repo3
expect 0 "next: fwtrust repo publish $R3 --key SNAPSHOT_KEY" "$FWTRUST" repo init "$R3" --root-key "$T/root.pem" \
    --targets-key "$T/targets.pem" --snapshot-key "$T/snapshot.pem" --timestamp-key "$T/timestamp.pem"

# An expired timestamp: status names 'fwtrust repo timestamp' (the file is edited: the
# tool never makes one that is already expired).
"$PY" - "$R2/metadata/timestamp.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["signed"]["expires"] = "2001-01-01T00:00:00Z"
json.dump(d, open(sys.argv[1], "w"), indent=1)
PYEOF
expect 0 "expired: run 'fwtrust repo timestamp $R2 --key TIMESTAMP_KEY'" "$FWTRUST" repo status "$R2"
expect 0 "" "$FWTRUST" repo timestamp "$R2" --key "$T/timestamp.pem"
expect 0 "" "$FWTRUST" repo status "$R2"
grep -q "EXPIRED" "$T/.out" && fail "renewed timestamp still shown expired"
echo "keyrole: ok"
