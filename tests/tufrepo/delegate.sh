#!/bin/bash
# fwtrust repo: delegated targets roles (one per hardware model), nested
# delegation, paths enforced when adding targets, snapshot lists every role.
. "$(dirname "$0")/lib.sh"
R=$T/repo
make_repo
key hwa; key beta p256
expect 0 "staged board-a version 1: 1 signature(s) of 1 needed" "$FWTRUST" repo delegate "$R" --name board-a \
    --key "$T/hwa.pem" --paths 'board-a/*' --paths 'shared/board-a-*' --terminating --sign-key "$T/targets.pem"
unchanged 1 "role 'board-a' is already delegated" "$R" "$FWTRUST" repo delegate "$R" --name board-a --key "$T/hwa.pub" --paths 'x'
printf 'A\n' >"$T/a.bin"
expect 0 "staged board-a version 1" "$FWTRUST" repo add-target "$R" "$T/a.bin" --role board-a --name board-a/fw.bin --key "$T/hwa.pem"
expect 0 "" "$FWTRUST" repo add-target "$R" "$T/a.bin" --role board-a --name shared/board-a-cfg.bin --key "$T/hwa.pem"
unchanged 1 "target 'board-b/fw.bin' is outside the paths delegated to 'board-a'" "$R" \
    "$FWTRUST" repo add-target "$R" "$T/a.bin" --role board-a --name board-b/fw.bin --key "$T/hwa.pem"
# '*' does not cross '/': board-a/x/fw.bin is not under 'board-a/*'.
unchanged 1 "outside the paths delegated" "$R" "$FWTRUST" repo add-target "$R" "$T/a.bin" --role board-a --name board-a/x/fw.bin --key "$T/hwa.pem"
# Nested: board-a delegates its beta channel.
expect 0 "" "$FWTRUST" repo delegate "$R" --from board-a --name board-a-beta --key "$T/beta.pem" \
    --paths 'board-a/beta-*' --threshold 1 --sign-key "$T/hwa.pem"
expect 0 "" "$FWTRUST" repo add-target "$R" "$T/a.bin" --role board-a-beta --name board-a/beta-fw.bin --key "$T/beta.pem"
expect 0 "published board-a-beta version 1" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
for f in 1.targets.json 1.board-a.json 1.board-a-beta.json; do [ -f "$R/metadata/$f" ] || fail "missing $f"; done
[ "$(jget "$R/metadata/1.snapshot.json" 'sorted(d["signed"]["meta"])')" = "['board-a-beta.json', 'board-a.json', 'targets.json']" ] ||
    fail "snapshot lists every targets role"
[ "$(jget "$R/metadata/1.targets.json" 'd["signed"]["delegations"]["roles"][0]["terminating"]')" = True ] || fail "terminating"
[ "$(jget "$R/metadata/1.targets.json" 'd["signed"]["delegations"]["roles"][0]["paths"]')" = "['board-a/*', 'shared/board-a-*']" ] ||
    fail "paths"
sha=$(sha256sum <"$T/a.bin" | cut -d' ' -f1)
[ -f "$R/targets/board-a/$sha.fw.bin" ] && [ -f "$R/targets/shared/$sha.board-a-cfg.bin" ] || fail "target files"
expect 0 "" "$FWTRUST" repo status "$R" --json
[ "$(jget "$T/.out" '[(r["role"], r.get("delegated_by")) for r in d["roles"][4:]]')" = \
    "[('board-a', 'targets'), ('board-a-beta', 'board-a')]" ] || fail "status delegations"
# A change to a delegated role publishes only that role (and snapshot/timestamp).
expect 0 "" "$FWTRUST" repo remove-target "$R" board-a/fw.bin --role board-a --key "$T/hwa.pem"
expect 0 "published board-a version 2" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
[ ! -e "$R/metadata/2.targets.json" ] || fail "targets was not changed"
[ "$(jget "$R/metadata/2.snapshot.json" 'd["signed"]["meta"]["board-a.json"]["version"]')" = 2 ] || fail "snapshot role version"
# Rotating a delegated role's key re-signs that role with the new key.
key hwa2
expect 0 "" "$FWTRUST" repo rotate "$R" --role board-a --new-key "$T/hwa2.pem" --old-key "$T/hwa.pub" --sign-key "$T/targets.pem"
expect 0 "published board-a version 3" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
echo "delegate: ok"
