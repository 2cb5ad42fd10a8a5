#!/bin/bash
# fwtrust repo: k-of-n signing of staged metadata on separate machines (offline
# root), thresholds counted over distinct keys, nothing published until met.
. "$(dirname "$0")/lib.sh"
R=$T/repo
key r1; key r2; key r3; key t1 p256; key t2 rsa; key snapshot; key timestamp
# The root keys are offline: init knows only their public halves.
expect 0 "" "$FWTRUST" repo init "$R" --root-key "$T/r1.pub" --root-key "$T/r2.pub" --root-key "$T/r3.pub" \
    --root-threshold 2 --targets-key "$T/t1.pub" --targets-key "$T/t2.pub" --targets-threshold 2 \
    --snapshot-key "$T/snapshot.pem" --timestamp-key "$T/timestamp.pem" --json
[ "$(jget "$T/.out" 'd["staged_root_signatures"]')" = 0 ] || fail "public keys must not sign"
[ "$(jget "$R/staged/root.json" 'd["signed"]["roles"]["root"]["threshold"]')" = 2 ] || fail "root threshold"
[ "$(jget "$R/staged/root.json" 'len(d["signed"]["roles"]["root"]["keyids"])')" = 3 ] || fail "root keys"
[ "$(jget "$R/staged/root.json" 'sorted(k["keytype"] for k in d["signed"]["keys"].values())')" = \
    "['ecdsa', 'ed25519', 'ed25519', 'ed25519', 'ed25519', 'ed25519', 'rsa']" ] || fail "key types"
[ "$(jget "$R/staged/root.json" 'sorted(k["scheme"] for k in d["signed"]["keys"].values())')" = \
    "['ecdsa-sha2-nistp256', 'ed25519', 'ed25519', 'ed25519', 'ed25519', 'ed25519', 'rsassa-pss-sha256']" ] || fail "schemes"

unchanged 41 "root (new keys) has 0 of the 2 signatures it needs" "$R" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"

# Holder 1 signs on their own machine (a copy of the repository metadata, no targets).
M1=$T/machine1
mkdir -p "$M1" && cp -a "$R/repo.json" "$R/staged" "$M1/"
expect 0 "staged root version 1: 1 signature(s) of 2 needed (waiting for 'fwtrust repo sign')" \
    "$FWTRUST" repo sign "$M1" root --key "$T/r1.pem"
cp "$M1/staged/root.json" "$R/staged/root.json"
# The same key again adds nothing (exit 7); a duplicated signature entry is refused (exit 40),
# as the client refuses it (the parser both share, src/tuf/tuf_meta.c).
unchanged 7 "none of the given keys can add a signature to root" "$R" "$FWTRUST" repo sign "$R" root --key "$T/r1.pem"
cp "$R/staged/root.json" "$T/root-1sig.json"
"$PY" - "$R/staged/root.json" <<'PYEOF'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["signatures"].append(dict(d["signatures"][0]))
open(p, "w").write(json.dumps(d))
PYEOF
unchanged 40 "two signatures with key id" "$R" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
cp "$T/root-1sig.json" "$R/staged/root.json"
expect 0 "" "$FWTRUST" repo status "$R" --json
[ "$(jget "$T/.out" 'len(d["roles"][0]["staged"]["signed_by"])')" = 1 ] || fail "status: one root signature"
[ "$(jget "$T/.out" 'd["roles"][0]["staged"]["threshold_met"]')" = False ] || fail "status: root not ready"

# Holder 2 signs: root ready; targets still needs 2 of its 2 keys.
expect 0 "staged root version 1: 2 signature(s) of 2 needed" "$FWTRUST" repo sign "$R" root --key "$T/r2.pem"
unchanged 41 "staged targets: targets has 0 of the 2 signatures it needs" "$R" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
expect 0 "1 signature(s) of 2 needed" "$FWTRUST" repo sign "$R" targets --key "$T/t1.pem"
unchanged 41 "staged targets: targets has 1 of the 2" "$R" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
expect 0 "2 signature(s) of 2 needed" "$FWTRUST" repo sign "$R" targets --key "$T/t2.pem"
expect 0 "ready" "$FWTRUST" repo status "$R"
expect 0 "published root version 1" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
[ "$(jget "$R/metadata/1.root.json" 'len(d["signatures"])')" = 2 ] || fail "published root signatures"
[ "$(jget "$R/metadata/1.targets.json" 'len(d["signatures"])')" = 2 ] || fail "published targets signatures"

# A target added with one of two targets keys waits in staged/ until the second signs.
printf 'v2\n' >"$T/fw.bin"
expect 0 "1 signature(s) of 2 needed (waiting" "$FWTRUST" repo add-target "$R" "$T/fw.bin" --key "$T/t1.pem"
unchanged 41 "targets has 1 of the 2" "$R" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
expect 0 "" "$FWTRUST" repo sign "$R" targets --key "$T/t2.pem"
expect 0 "published targets version 2" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
echo "threshold: ok"
