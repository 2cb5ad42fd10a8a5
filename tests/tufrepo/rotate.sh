#!/bin/bash
# fwtrust repo: root rotation (new root signed by the old and the new thresholds),
# rotation of the targets/snapshot keys, revoke-key.
. "$(dirname "$0")/lib.sh"
R=$T/repo
make_repo
publish() { "$FWTRUST" repo publish "$R" "$@"; }
expect 0 "" publish --key "$T/snapshot.pem" --key "$T/timestamp.pem"
key r2; key r3; key r4; key t2; key s2
kid() { "$FWTRUST" repo status "$R" --json >"$T/st.json"; jget "$T/st.json" "d[\"roles\"][$1][\"keyids\"]"; }
old_root=$(kid 0)

# Old and new key both sign: version 2 published, root.json follows.
expect 0 "staged root version 2: 1 signature(s) of 1 needed" "$FWTRUST" repo rotate "$R" --role root \
    --new-key "$T/r2.pem" --old-key "$T/root.pem"
[ "$(jget "$R/staged/root.json" 'len(d["signatures"])')" = 2 ] || fail "v2 signed by old and new key"
expect 0 "published root version 2" publish --key "$T/snapshot.pem" --key "$T/timestamp.pem"
cmp "$R/metadata/2.root.json" "$R/metadata/root.json" || fail "root.json is version 2"
[ -f "$R/metadata/1.root.json" ] || fail "root chain keeps version 1"
[ "$(kid 0)" != "$old_root" ] || fail "root key changed"
[ "$(jget "$R/metadata/2.root.json" 'len(d["signed"]["keys"])')" = 4 ] || fail "old root key dropped from keys"

# Only the new key signs (old key given as public): refused until the old one signs.
expect 0 "" "$FWTRUST" repo rotate "$R" --role root --new-key "$T/r3.pem" --old-key "$T/r2.pub"
unchanged 41 "root (keys of the previous root) has 0 of the 1 signatures it needs" "$R" \
    publish --key "$T/snapshot.pem" --key "$T/timestamp.pem"
expect 0 "" "$FWTRUST" repo sign "$R" root --key "$T/r2.pem"
expect 0 "published root version 3" publish --key "$T/snapshot.pem" --key "$T/timestamp.pem"

# Only the old key signs: refused until the new one signs.
expect 0 "" "$FWTRUST" repo rotate "$R" --role root --new-key "$T/r4.pub" --old-key "$T/r3.pem"
unchanged 41 "root (new keys) has 0 of the 1 signatures it needs" "$R" publish --key "$T/snapshot.pem" --key "$T/timestamp.pem"
expect 0 "" "$FWTRUST" repo sign "$R" root --key "$T/r4.pem"
expect 0 "published root version 4" publish --key "$T/snapshot.pem" --key "$T/timestamp.pem"
# The old root key can no longer sign the next root on its own.
unchanged 7 "is not a key of role 'root'" "$R" "$FWTRUST" repo sign "$R" root --key "$T/root.pem"

# Targets key rotation: root v5 lists the new key, targets is re-signed by it.
expect 0 "staged targets version 2: 1 signature(s) of 1 needed" "$FWTRUST" repo rotate "$R" --role targets \
    --new-key "$T/t2.pem" --old-key "$T/targets.pub" --sign-key "$T/r4.pem"
expect 0 "published root version 5" publish --key "$T/snapshot.pem" --key "$T/timestamp.pem"
t2id=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["signed"]["roles"]["targets"]["keyids"][0])' "$R/metadata/5.root.json")
[ "$(jget "$R/metadata/2.targets.json" 'd["signatures"][0]["keyid"]')" = "$t2id" ] || fail "targets signed by new key"
# The old targets key is useless now.
unchanged 7 "is not a key of role 'targets'" "$R" "$FWTRUST" repo sign "$R" targets --key "$T/targets.pem"

# A second snapshot key, then revoke the first: publish works with the new key only.
expect 0 "" "$FWTRUST" repo rotate "$R" --role snapshot --new-key "$T/s2.pub" --sign-key "$T/r4.pem"
expect 0 "published root version 6" publish --key "$T/snapshot.pem" --key "$T/timestamp.pem"
expect 0 "" "$FWTRUST" repo revoke-key "$R" --role snapshot --key "$T/snapshot.pub" --sign-key "$T/r4.pem"
unchanged 41 "snapshot has 0 of the 1 signatures it needs" "$R" publish --key "$T/snapshot.pem" --key "$T/timestamp.pem"
expect 0 "published root version 7" publish --key "$T/s2.pem" --key "$T/timestamp.pem"
# While a root that changes the timestamp key is staged, 'timestamp' still signs for the
# published root (clients do not trust the staged one yet).
expect 0 "" "$FWTRUST" repo rotate "$R" --role timestamp --new-key "$T/r3.pub" --old-key "$T/timestamp.pub" --sign-key "$T/r4.pem"
expect 0 "published timestamp" "$FWTRUST" repo timestamp "$R" --key "$T/timestamp.pem"
unchanged 7 "is not a key of role 'timestamp' of the published root" "$R" "$FWTRUST" repo timestamp "$R" --key "$T/r3.pem"
rm "$R/staged/root.json"
# Revoke by key id works too (timestamp: add one, revoke the old by id).
tsid=$(jget "$R/metadata/7.root.json" 'd["signed"]["roles"]["timestamp"]["keyids"][0]')
expect 0 "" "$FWTRUST" repo rotate "$R" --role timestamp --new-key "$T/t2.pub" --old-key "$tsid" --sign-key "$T/r4.pem"
[ "$(jget "$R/staged/root.json" 'd["signed"]["roles"]["timestamp"]["keyids"]')" = "['$t2id']" ] || fail "revoke by key id"
# Root 8 replaces the timestamp key: the new timestamp must verify under root 7 and root 8
# (clients see one of them while publish runs), so the old timestamp key signs it too.
unchanged 41 "root version 8 changes the timestamp or snapshot keys" "$R" publish --key "$T/s2.pem" --key "$T/t2.pem"
expect 0 "published root version 8" publish --key "$T/s2.pem" --key "$T/t2.pem" --key "$T/timestamp.pem"
[ "$(jget "$R/metadata/timestamp.json" 'len(d["signatures"])')" = 2 ] || fail "timestamp signed for both roots"
for v in 1 2 3 4 5 6 7 8; do [ -f "$R/metadata/$v.root.json" ] || fail "root chain: $v.root.json missing"; done
echo "rotate: ok"
