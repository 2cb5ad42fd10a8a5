#!/bin/bash
# Short-lived signing certificates bound to one build: approvers sign approvals of (this
# build's provenance digest, its builder id, this signing key); 'cert issue --provenance'
# certifies the key for hours only with K distinct approvers' valid approvals, and writes
# the issuance record. Approvals by the same approver twice, by unknown keys, for another
# key or build, or expired, do not count (28). A device refuses the key's images once the
# certificate has expired (29), which makes a stolen signing key useless after hours.
. "$SRC/tests/agent/lib.sh"
cd "$T"
for k in root sk ci p1 p2 p3 other; do
    expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$k.pem"
    expect 0 "" "$FWTRUST" pubkey "$k.pem" -o "$k.pub"
done
head -c 24576 /dev/urandom >fw.bin
cp fw.bin fw2.bin
printf x >>fw2.bin
for f in fw fw2; do
    expect 0 "" "$FWTRUST" provenance make -k ci.pem --builder-id https://ci.example/runner \
        --source-uri git+https://x/fw.git -o "$f.env" "$f.bin"
done
approve() { # approve APPROVER OUT [env] [key] [valid]
    expect 0 "" "$FWTRUST" cert approve --approver-key "$1.pem" --provenance "${3:-fw.env}" -k "${4:-sk.pub}" \
        --valid-for "${5:-1h}" -o "$2"
}
approve p1 a1.json
approve p2 a2.json
approve p3 a3-other-build.json fw2.env
approve p3 a3-other-key.json fw.env other.pub
approve other a-unknown.json
approve p3 a3-short.json fw.env sk.pub 1s
issue() { # issue OUT approvals...
    local out=$1
    shift
    local ap=()
    for a in "$@"; do ap+=(--approval "$a"); done
    "$FWTRUST" cert issue --root root.pem -k sk.pub --key-version 3 --hw-id hw1 --valid-for 4h \
        --provenance fw.env --approver p1.pub --approver p2.pub --approver p3.pub --approvals 2 "${ap[@]}" \
        --log sign.db --signer release-manager -o "$out"
}
# The approvals are recorded in the signing log (events, checked by 'log verify', listed by 'log audit').
expect 0 "" "$FWTRUST" keygen --type ed25519 -o logkey.pem
expect 0 "" "$FWTRUST" log init --log sign.db --log-key logkey.pem
sleep 2 # a3-short.json has expired
expect 28 "1 distinct approver(s)" issue c.cert a1.json
expect 28 "" issue c.cert a1.json a1.json
expect 28 "another build" issue c.cert a1.json a3-other-build.json
expect 28 "another signing key" issue c.cert a1.json a3-other-key.json
expect 28 "" issue c.cert a1.json a-unknown.json
expect 28 "expired" issue c.cert a1.json a3-short.json
[ ! -e c.cert ] && [ ! -e c.cert.issued.json ] || fail "a refused issue wrote a certificate"
[ "$(jget 'd["entries"]' "$FWTRUST" log audit --log sign.db --json)" = 0 ] || fail "a refused issue logged approvals"
expect 8 "no-such.db" "$FWTRUST" cert issue --root root.pem -k sk.pub --key-version 3 --valid-for 4h \
    --provenance fw.env --approver p1.pub --approver p2.pub --approvals 2 --approval a1.json --approval a2.json \
    --log no-such.db -o c.cert
[ ! -e c.cert ] || fail "an issue whose approvals could not be logged wrote a certificate"
expect 1 "go with --provenance" "$FWTRUST" cert issue --root root.pem -k sk.pub --key-version 3 --log sign.db \
    -o c.cert
expect 1 "needs" "$FWTRUST" cert issue --root root.pem -k sk.pub --key-version 3 --provenance fw.env -o c.cert
expect 0 "for build:     https://ci.example/runner" issue c.cert a1.json a2.json a-unknown.json
"$PY" - c.cert.issued.json fw.env <<'PYEOF'
import hashlib, json, sys, time
r = json.load(open(sys.argv[1]))
assert r["provenance_sha256"] == hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest(), r
assert r["builder_id"] == "https://ci.example/runner" and len(r["approvers"]) == 2, r
assert 4 * 3600 - 60 < r["not_after"] - time.time() <= 4 * 3600, r
PYEOF
expect 0 "" "$FWTRUST" log verify --log sign.db
expect 0 "approval by approver:" "$FWTRUST" log audit --log sign.db
expect 0 "event cert-approval by approver:" "$FWTRUST" log show --log sign.db
"$FWTRUST" log audit --log sign.db --json >audit.json || fail "log audit --json"
"$PY" - audit.json c.cert.issued.json c.cert <<'PYEOF'
import hashlib, json, sys
a, r = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
csha = hashlib.sha256(open(sys.argv[3], "rb").read()).hexdigest()
assert a["ok"] and a["entries"] == 2 and a["findings"] == [], a
assert sorted(x["approver"] for x in a["approvals"]) == sorted("approver:" + k for k in r["approvers"]), a
for x in a["approvals"]:
    assert x["subject"] == "cert:" + csha, x
    assert "provenance_sha256=%s " % r["provenance_sha256"] in x["detail"], x
    assert "builder_id=https://ci.example/runner " in x["detail"] and "key_version=3 " in x["detail"], x
    assert x["detail"].endswith("issued_by=release-manager"), x
PYEOF
expect 1 "7 days" "$FWTRUST" cert issue --root root.pem -k sk.pub --key-version 3 --valid-for 8d -o x.cert

# The device trusts the root; the key's image installs now and is refused after expiry.
expect 0 "" "$FWTRUST" sign --no-log -k sk.pem --cert c.cert --version 1.0.0 --header-size 0x200 --pad-header \
    --hw-id hw1 fw.bin img.bin
expect 0 "" "$AGENT" --device dev init --hw-id hw1 --slot-a sa.bin --slot-b sb.bin --trust-root root.pub
expect 0 "" "$AGENT" --device dev verify-slots
FWTRUST_NOW=$(($(date +%s) + 5 * 3600)) expect 29 "" "$AGENT" --device dev install img.bin
expect 0 "into slot" "$AGENT" --device dev install img.bin
echo "short-lived certificates: ok"
