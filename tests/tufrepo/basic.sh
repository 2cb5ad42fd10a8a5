#!/bin/bash
# fwtrust repo: init, add-target (plain file and fwtrust image), publish, layout,
# timestamp, remove-target, status, --json, sign/new version.
. "$(dirname "$0")/lib.sh"
R=$T/repo
make_repo
[ -f "$R/repo.json" ] && [ -f "$R/staged/root.json" ] && [ -f "$R/staged/targets.json" ] || fail "init layout"
[ "$(jget "$R/staged/root.json" 'd["signed"]["consistent_snapshot"]')" = True ] || fail "consistent_snapshot"
[ "$(jget "$R/staged/root.json" 'd["signed"]["spec_version"]')" = 1.0.31 ] || fail "spec_version"
[ "$(jget "$R/staged/root.json" 'len(d["signatures"])')" = 1 ] || fail "root signed by its key"
# Expiry defaults: root 365 days, targets 90 days (+- a minute).
"$PY" - "$R" <<'PYEOF'
import json, sys, datetime
r = sys.argv[1]
now = datetime.datetime.now(datetime.timezone.utc)
for role, days in (("root", 365), ("targets", 90)):
    d = json.load(open(f"{r}/staged/{role}.json"))
    e = datetime.datetime.strptime(d["signed"]["expires"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    delta = (e - now).total_seconds() - days * 86400
    assert abs(delta) < 120, (role, delta)
PYEOF

# A plain target and a signed fwtrust image.
printf 'plain payload\n' >"$T/notes.txt"
expect 0 "target notes.txt: 14 bytes" "$FWTRUST" repo add-target "$R" "$T/notes.txt" --key "$T/targets.pem"
sha=$(sha256sum <"$T/notes.txt" | cut -d' ' -f1)
cmp "$T/notes.txt" "$R/targets/$sha.notes.txt" || fail "hash-prefixed target copy"
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/img.pem"
head -c 5000 /dev/urandom >"$T/app.raw"
expect 0 "" "$FWTRUST" sign --key "$T/img.pem" --version 1.2.3+4 --header-size 0x200 --pad-header \
    --security-counter 7 --hw-id board-a "$T/app.raw" "$T/app.bin"
# One key given twice is refused by the verifier core's policy check (one key, one trust anchor).
expect 1 "the same public key given twice" "$FWTRUST" repo add-target "$R" "$T/app.bin" \
    --name fw/board-a/app.bin --key "$T/targets.pem" --verify-key "$T/img.pem" --verify-key "$T/img.pem"
expect 0 "" "$FWTRUST" repo add-target "$R" "$T/app.bin" --name fw/board-a/app.bin --key "$T/targets.pem" \
    --verify-key "$T/img.pem" --custom '{"channel": "stable"}' --json
jf=$T/.out
[ "$(jget "$jf" 'd["target"]["custom"]["fwtrust"]["version"]')" = 1.2.3+4 ] || fail "image version in custom"
[ "$(jget "$jf" 'd["target"]["custom"]["fwtrust"]["security_counter"]')" = 7 ] || fail "security counter"
[ "$(jget "$jf" 'd["target"]["custom"]["fwtrust"]["hw_id"]')" = board-a ] || fail "hw id"
[ "$(jget "$jf" 'len(d["target"]["custom"]["fwtrust"]["image_digest"]["sha256"])')" = 64 ] || fail "digest"
[ "$(jget "$jf" 'd["target"]["custom"]["channel"]')" = stable ] || fail "user custom kept"
[ "$(jget "$jf" 'len(d["target"]["custom"]["fwtrust"]["verified_signers"])')" = 1 ] || fail "verified on add"
isha=$(sha256sum <"$T/app.bin" | cut -d' ' -f1)
cmp "$T/app.bin" "$R/targets/fw/board-a/$isha.app.bin" || fail "nested target path"
# The staged targets version stays 1 (never published) and carries both targets.
[ "$(jget "$R/staged/targets.json" 'd["signed"]["version"]')" = 1 ] || fail "staged targets version"
[ "$(jget "$R/staged/targets.json" 'sorted(d["signed"]["targets"])')" = "['fw/board-a/app.bin', 'notes.txt']" ] ||
    fail "staged targets"

# Publish needs the snapshot and timestamp keys.
expect 41 "snapshot has 0 of the 1 signatures it needs" "$FWTRUST" repo publish "$R" --key "$T/timestamp.pem"
expect 0 "published timestamp version 1" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
for f in 1.root.json root.json 1.targets.json 1.snapshot.json timestamp.json; do
    [ -f "$R/metadata/$f" ] || fail "missing metadata/$f"
done
[ ! -e "$R/staged/root.json" ] && [ ! -e "$R/staged/targets.json" ] || fail "staged files remain after publish"
cmp "$R/metadata/1.root.json" "$R/metadata/root.json" || fail "root.json is the latest root"
# timestamp -> snapshot: version, length and sha256 of the exact bytes.
[ "$(jget "$R/metadata/timestamp.json" 'd["signed"]["meta"]["snapshot.json"]["length"]')" = "$(stat -c %s "$R/metadata/1.snapshot.json")" ] ||
    fail "timestamp length of snapshot"
[ "$(jget "$R/metadata/timestamp.json" 'd["signed"]["meta"]["snapshot.json"]["hashes"]["sha256"]')" = \
    "$(sha256sum <"$R/metadata/1.snapshot.json" | cut -d' ' -f1)" ] || fail "timestamp hash of snapshot"
[ "$(jget "$R/metadata/1.snapshot.json" 'd["signed"]["meta"]')" = "{'targets.json': {'version': 1}}" ] ||
    fail "snapshot meta"

# Nothing staged: publish refuses (51) unless --force.
expect 51 "nothing is staged" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
expect 0 "published snapshot version 2" "$FWTRUST" repo publish "$R" --force --key "$T/snapshot.pem" --key "$T/timestamp.pem"

# timestamp re-signs only the timestamp.
before=$(ls "$R/metadata" | sort | tr '\n' ' ')
expect 0 "published timestamp version 3" "$FWTRUST" repo timestamp "$R" --key "$T/timestamp.pem"
after=$(ls "$R/metadata" | sort | tr '\n' ' ')
[ "$before" = "$after" ] || fail "timestamp wrote other files"
[ "$(jget "$R/metadata/timestamp.json" 'd["signed"]["meta"]["snapshot.json"]["version"]')" = 2 ] || fail "timestamp keeps snapshot"
expect 7 "" "$FWTRUST" repo timestamp "$R" --key "$T/nonexistent.pem"
expect 7 "is not a key of role 'timestamp' of the published root; its key ids: " "$FWTRUST" repo timestamp "$R" --key "$T/snapshot.pem"

# remove-target, then publish targets version 2.
expect 8 "role 'targets' has no target 'nope'" "$FWTRUST" repo remove-target "$R" nope --key "$T/targets.pem"
expect 0 "staged targets version 2" "$FWTRUST" repo remove-target "$R" notes.txt --key "$T/targets.pem"
expect 0 "published targets version 2" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
[ "$(jget "$R/metadata/2.targets.json" 'list(d["signed"]["targets"])')" = "['fw/board-a/app.bin']" ] || fail "removed"
[ -f "$R/metadata/1.targets.json" ] || fail "old version kept (consistent snapshots)"

# Several files at once, named with a prefix; names must be distinct; --name is for one file.
for n in 1 2 3; do printf 'file %s\n' "$n" >"$T/multi$n.bin"; done
expect 1 "--name is for a single file" "$FWTRUST" repo add-target "$R" "$T/multi1.bin" "$T/multi2.bin" --name x --key "$T/targets.pem"
expect 1 "target name 'batch/multi1.bin' given twice" "$FWTRUST" repo add-target "$R" "$T/multi1.bin" "$T/multi1.bin" --prefix batch/ --key "$T/targets.pem"
expect 0 "target batch/multi3.bin: 7 bytes" "$FWTRUST" repo add-target "$R" "$T/multi1.bin" "$T/multi2.bin" "$T/multi3.bin" --prefix batch/ --key "$T/targets.pem"
[ "$(jget "$R/staged/targets.json" 'sorted(d["signed"]["targets"])')" = "['batch/multi1.bin', 'batch/multi2.bin', 'batch/multi3.bin', 'fw/board-a/app.bin']" ] ||
    fail "three targets added in one version"
[ "$(jget "$R/staged/targets.json" 'd["signed"]["version"]')" = 3 ] || fail "one new version for the batch"
expect 0 "published targets version 3" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"

# sign with nothing staged makes a new version (fresh expiry), signed.
expect 0 "staged targets version 4: 1 signature(s) of 1 needed" "$FWTRUST" repo sign "$R" targets --key "$T/targets.pem"
expect 7 "is not a key of role 'targets'; its key ids: " "$FWTRUST" repo sign "$R" targets --key "$T/root.pem"

# Unknown fields survive: a field added to staged metadata by another tool is kept; 'sign'
# replaces the signature the edit made stale.
"$PY" - "$R/staged/targets.json" <<'PYEOF'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["signed"]["x-release-notes"] = {"text": "kept"}
open(p, "w").write(json.dumps(d))
PYEOF
expect 41 "targets has 0 of the 1 signatures" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
expect 0 "staged targets version 4: 1 signature(s) of 1 needed" "$FWTRUST" repo sign "$R" targets --key "$T/targets.pem"
[ "$(jget "$R/staged/targets.json" 'len(d["signatures"])')" = 1 ] || fail "stale signature replaced"
expect 0 "published targets version 4" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
[ "$(jget "$R/metadata/4.targets.json" 'd["signed"]["x-release-notes"]["text"]')" = kept ] || fail "unknown field kept"
expect 0 "staged targets version 5" "$FWTRUST" repo sign "$R" targets --key "$T/targets.pem"

# status, text and JSON.
expect 0 "staged v5 with 1 valid signature(s), ready" "$FWTRUST" repo status "$R"
expect 0 "" "$FWTRUST" repo status "$R" --json
[ "$(jget "$T/.out" '[r["role"] for r in d["roles"]]')" = "['root', 'targets', 'snapshot', 'timestamp']" ] || fail "status roles"
[ "$(jget "$T/.out" 'd["roles"][1]["published"]["version"]')" = 4 ] || fail "status published version"
[ "$(jget "$T/.out" 'd["roles"][1]["staged"]["threshold_met"]')" = True ] || fail "status staged"
[ "$(jget "$T/.out" 'd["roles"][3]["published"]["version"]')" = 6 ] || fail "status timestamp version"
[ "$(jget "$T/.out" 'd["ok"]')" = True ] || fail "json ok"

# Every command has --help.
for c in init add-target remove-target delegate publish timestamp rotate revoke-key sign status; do
    expect 0 "usage: fwtrust repo" "$FWTRUST" repo "$c" --help
done
expect 0 "Exit status" "$FWTRUST" repo --help
expect 1 "fwtrust repo: unknown command 'frobnicate'" "$FWTRUST" repo frobnicate "$R"
# A big-endian image (imgtool --endian big): an image too, its facts read in its byte order.
expect 0 "" "$FWTRUST" sign --key "$T/img.pem" --version 1.2.3+4 --header-size 0x200 --pad-header \
    --security-counter 7 --hw-id board-a -e big "$T/app.raw" "$T/app-be.bin"
expect 0 "" "$FWTRUST" repo add-target "$R" "$T/app-be.bin" --name fw/board-a/app-be.bin \
    --key "$T/targets.pem" --verify-key "$T/img.pem" --json
[ "$(jget "$jf" 'd["target"]["custom"]["fwtrust"]["version"], d["target"]["custom"]["fwtrust"]["security_counter"], d["target"]["custom"]["fwtrust"]["hw_id"]')" = \
  "('1.2.3+4', 7, 'board-a')" ] || fail "big-endian image facts: $(cat "$jf")"
expect 0 "" "$FWTRUST" repo remove-target "$R" fw/board-a/app-be.bin --key "$T/targets.pem"
echo "basic: ok"
