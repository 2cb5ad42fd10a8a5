#!/bin/bash
# fwtrust provenance make / verify / inspect driven as a program: builders sign
# provenance for a build output; a policy allows builder ids with their keys;
# k independent builders must agree on the digest; every refusal names its step
# and exits with its code (docs/provenance.md); nothing is written on failure.
. "$SRC/tests/cli/lib.sh"
cd "$T"
for k in a b c; do
    expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$k.pem"
    expect 0 "" "$FWTRUST" pubkey "$k.pem" -o "$k.pub"
done
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o a2.pem
expect 0 "" "$FWTRUST" pubkey a2.pem -o a2.pub
cp "$FW" fw.bin
head -c 4096 "$FW" >other.bin
SRCURI=git+https://example.com/fw.git
REV=0123456789abcdef0123456789abcdef01234567
"$PY" - <<'PYEOF'
import json
pem = lambda k: open(k + ".pub").read()
base = {"version": 1, "source_uri": "git+https://example.com/fw.git",
        "builders": [{"id": "https://ci-a.example/runner", "keys": [pem("a"), pem("a2")]},
                     {"id": "https://ci-b.example/runner", "keys": [pem("b")]},
                     {"id": "https://ci-c.example/runner", "keys": [pem("c")]}]}
json.dump(base, open("one.json", "w"))
json.dump(dict(base, required_builders=2), open("two.json", "w"))
json.dump(dict(base, threshold=2, builders=base["builders"][:1]), open("thr.json", "w"))
json.dump(dict(base, source_revision="ffff"), open("rev.json", "w"))
PYEOF

mk() { # mk BUILDER_LETTER OUT ARTIFACT [extra...]
    local b=$1 out=$2 art=$3
    shift 3
    expect 0 "" "$FWTRUST" provenance make -k "$b.pem" --builder-id "https://ci-$b.example/runner" \
        --source-uri "$SRCURI" --source-revision "$REV" --dependency "$SRCURI=gitCommit:$REV" \
        --invocation-id "run-$b" --started-on 2026-01-01T00:00:00Z --finished-on 2026-01-01T00:05:00Z \
        -o "$out" "$art" "$@"
}
mk a a.env fw.bin
mk b b.env fw.bin
mk c c.env other.bin --name fw.bin # a differing build of the same name

# One builder is enough for one.json; its envelope is a real DSSE envelope.
expect 0 "provenance verified (1 independent" "$FWTRUST" provenance verify --policy one.json -e a.env fw.bin
"$PY" - a.env <<'PYEOF'
import base64, json, sys
e = json.load(open(sys.argv[1]))
assert e["payloadType"] == "application/vnd.in-toto+json"
s = json.loads(base64.b64decode(e["payload"]))
assert s["_type"] == "https://in-toto.io/Statement/v1"
assert s["predicateType"] == "https://slsa.dev/provenance/v1"
p = s["predicate"]
assert p["runDetails"]["builder"]["id"] == "https://ci-a.example/runner"
assert p["buildDefinition"]["externalParameters"]["source"]["uri"] == "git+https://example.com/fw.git"
assert p["buildDefinition"]["resolvedDependencies"][0]["digest"]["gitCommit"].startswith("0123")
assert p["runDetails"]["metadata"]["startedOn"] == "2026-01-01T00:00:00Z"
assert len(e["signatures"]) == 1 and len(e["signatures"][0]["keyid"]) == 64
PYEOF
expect 0 "builder_id       https://ci-a.example/runner" "$FWTRUST" provenance inspect a.env
"$FWTRUST" provenance inspect --json a.env | "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d["verified"] is False and d["invocation_id"] == "run-a"'

# k builders: a and b agree; c's differing build is refused; a with c is not enough.
expect 0 "2 independent builder(s) agree" "$FWTRUST" provenance verify --policy two.json -e a.env -e b.env -e c.env fw.bin
grep -q "c.env: refused (FWT_E_DIGEST)" "$T/.out" || fail "c's differing build not reported"
expect 28 "1 independent builder(s) agree" "$FWTRUST" provenance verify --policy two.json -e a.env -e c.env fw.bin
expect 28 "" "$FWTRUST" provenance verify --policy two.json -e a.env -e a.env fw.bin
"$FWTRUST" provenance verify --json --policy two.json -e a.env -e b.env fw.bin >v.json
"$PY" -c 'import json; d=json.load(open("v.json")); assert d["ok"] and d["builders_agreeing"] == 2 and len(d["envelopes"]) == 2'

# Each step refuses with its own code.
expect 21 "no subject carries" "$FWTRUST" provenance verify --policy one.json -e a.env other.bin
expect 44 "revision" "$FWTRUST" provenance verify --policy rev.json -e a.env fw.bin
expect 44 "revision" "$FWTRUST" provenance verify --policy one.json --source-revision ffff -e a.env fw.bin
expect 0 "" "$FWTRUST" provenance verify --policy one.json --source-revision "$REV" -e a.env fw.bin
# A builder's key claiming another builder's id.
expect 0 "" "$FWTRUST" provenance make -k b.pem --builder-id https://ci-a.example/runner --source-uri "$SRCURI" -o forged.env fw.bin
expect 28 "only believed under its own keys" "$FWTRUST" provenance verify --policy one.json -e forged.env fw.bin
# An id not on the allow-list.
expect 0 "" "$FWTRUST" provenance make -k a.pem --builder-id https://evil.example --source-uri "$SRCURI" -o evil.env fw.bin
expect 24 "allow-list" "$FWTRUST" provenance verify --policy one.json -e evil.env fw.bin
# Another source.
expect 0 "" "$FWTRUST" provenance make -k a.pem --builder-id https://ci-a.example/runner --source-uri git+https://evil/fw.git -o src.env fw.bin
expect 44 "source: URI" "$FWTRUST" provenance verify --policy one.json -e src.env fw.bin
# Threshold 2 of a builder's keys: one key is not enough, the same key twice neither, two are.
expect 28 "" "$FWTRUST" provenance verify --policy thr.json -e a.env fw.bin
expect 1 "" "$FWTRUST" provenance make -k a.pem -k a.pem --builder-id https://ci-a.example/runner --source-uri "$SRCURI" -o dup.env fw.bin
[ ! -e dup.env ] || fail "a failed make wrote its output"
expect 0 "" "$FWTRUST" provenance make -k a.pem -k a2.pem --builder-id https://ci-a.example/runner --source-uri "$SRCURI" -o a2.env fw.bin
expect 0 "" "$FWTRUST" provenance verify --policy thr.json -e a2.env fw.bin
"$PY" - a2.env dupsig.env <<'PYEOF'
import json, sys
e = json.load(open(sys.argv[1]))
e["signatures"] = [e["signatures"][0], dict(e["signatures"][0])]
json.dump(e, open(sys.argv[2], "w"))
PYEOF
expect 28 "distinct trusted key" "$FWTRUST" provenance verify --policy thr.json -e dupsig.env fw.bin
# URL-safe base64 without padding is accepted.
"$PY" - a2.env url.env <<'PYEOF'
import json, sys
e = json.load(open(sys.argv[1]))
u = lambda s: s.replace("+", "-").replace("/", "_").rstrip("=")
e["payload"] = u(e["payload"])
for s in e["signatures"]:
    s["sig"] = u(s["sig"])
json.dump(e, open(sys.argv[2], "w"))
PYEOF
expect 0 "" "$FWTRUST" provenance verify --policy thr.json -e url.env fw.bin
# Wrong payload type (re-signed properly is impossible without the key: the type is signed).
"$PY" - a.env type.env <<'PYEOF'
import json, sys
e = json.load(open(sys.argv[1])); e["payloadType"] = "application/json"; json.dump(e, open(sys.argv[2], "w"))
PYEOF
expect 28 "" "$FWTRUST" provenance verify --policy one.json -e type.env fw.bin
# Malformed envelopes and policies.
printf '{"payload": 1}' >bad.env
expect 20 "bad.env: DSSE envelope" "$FWTRUST" provenance verify --policy one.json -e bad.env fw.bin
printf '{"version": 1, ' >bad.json
expect 20 "bad.json: policy: not JSON" "$FWTRUST" provenance verify --policy bad.json -e a.env fw.bin
printf '{"version": 1, "source_uri": "x", "builders": [], "x": 1}' >bad2.json
expect 20 "unknown member" "$FWTRUST" provenance verify --policy bad2.json -e a.env fw.bin
expect 8 "" "$FWTRUST" provenance verify --policy one.json -e missing.env fw.bin
# Usage errors.
expect 1 "needs --key" "$FWTRUST" provenance make --builder-id x --source-uri y -o z fw.bin
expect 1 "YYYY-MM-DD" "$FWTRUST" provenance make -k a.pem --builder-id x --source-uri y --started-on yesterday -o z fw.bin
expect 1 "URI=ALG:HEX" "$FWTRUST" provenance make -k a.pem --builder-id x --source-uri y --dependency nodigest -o z fw.bin
expect 1 "--hash" "$FWTRUST" provenance verify --policy one.json --hash md5 -e a.env fw.bin
expect 0 "" "$FWTRUST" provenance make --help
echo "provenance cli: ok"
