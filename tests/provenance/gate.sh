#!/bin/bash
# Publish gates: fwtrust repo publish --log DB refuses (exit 11, nothing published) a new
# image whose signatures are not in the signing log, or about which 'fwtrust log audit'
# has a finding (an unexpected signer, signing outside the window); --override REASON
# publishes anyway. Each refusal and override is recorded in DIR/publish-gate.jsonl.
. "$SRC/tests/cli/lib.sh"
cd "$T"
for k in k1 k2 logkey root targets snapshot timestamp; do
    expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$k.pem"
    expect 0 "" "$FWTRUST" pubkey "$k.pem" -o "$k.pub"
done
DB="$T/sign.db"
expect 0 "" "$FWTRUST" log init --log "$DB" --log-key logkey.pem
head -c 20000 /dev/urandom >p.bin
sign() { # sign OUT VERSION KEY [--no-log]
    local out=$1 v=$2 k=$3
    shift 3
    expect 0 "" "$FWTRUST" sign -k "$k.pem" --version "$v" --header-size 0x200 --pad-header --hw-id hw1 "$@" p.bin "$out"
}
sign v1.bin 1.0.0 k1 --log "$DB" --signer alice
sign v2.bin 1.1.0 k1 --no-log
sign v3.bin 1.2.0 k2 --log "$DB" --signer mallory
expect 0 "" "$FWTRUST" repo init repo --root-key root.pem --targets-key targets.pem --snapshot-key snapshot.pem \
    --timestamp-key timestamp.pem
pub() { "$FWTRUST" repo publish repo --key snapshot.pem --key timestamp.pem "$@"; }
ts() { "$PY" -c 'import json; print(json.load(open("repo/metadata/timestamp.json"))["signed"]["version"])'; }

# Logged, no finding: published; the report names the gate.
expect 0 "" "$FWTRUST" repo add-target repo v1.bin -k targets.pem
expect 0 "" pub --json --log "$DB" --expect-key k1.pub
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); g=d["gate"]; assert g["images"] == 1 and g["findings"] == [], g' "$T/.out"
v=$(ts)

# Not in the log: refused, nothing published, recorded.
expect 0 "" "$FWTRUST" repo add-target repo v2.bin -k targets.pem
expect 11 "not-logged" pub --log "$DB"
[ "$(ts)" = "$v" ] || fail "a refused publish changed the timestamp"
grep -q '"outcome":"refused"' repo/publish-gate.jsonl || fail "the refusal is not recorded"
# The same through $FWTRUST_SIGNLOG.
FWTRUST_SIGNLOG="$DB" expect 11 "publish gate" pub
# Override: published, reason recorded with the findings.
expect 1 "need the signing log" pub --override "no log"
expect 0 "" pub --log "$DB" --override "hotfix for CVE-2026-0001, approved by bob"
[ "$(ts)" != "$v" ] || fail "the override did not publish"
"$PY" - <<'PYEOF'
import json
lines = [json.loads(l) for l in open("repo/publish-gate.jsonl")]
o = [l for l in lines if l["outcome"] == "overridden"]
assert len(o) == 1 and o[0]["reason"].startswith("hotfix") and o[0]["findings"][0]["kind"] == "not-logged", lines
PYEOF
v=$(ts)

# Logged but by an unexpected key (the audit's finding): refused; without --expect-key no
# finding concerns it.
expect 0 "" "$FWTRUST" repo add-target repo v3.bin -k targets.pem
expect 11 "unexpected-key" pub --log "$DB" --expect-key k1.pub
[ "$(ts)" = "$v" ] || fail "a refused publish changed the timestamp"
# Outside the signing window (a window that excludes now).
h=$(date -u +%H)
w=$(printf '%02d:00-%02d:30' $(((10#$h + 2) % 24)) $(((10#$h + 2) % 24)))
expect 11 "outside" pub --log "$DB" --window "$w"
expect 0 "" pub --log "$DB" --expect-key k1.pub --expect-key k2.pub
echo "publish gate: ok"
