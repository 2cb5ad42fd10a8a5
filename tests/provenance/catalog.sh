#!/bin/bash
# fwtrust catalog: the signing log joined with the repository and the annotations. Three
# images signed (one logged twice: two signers), two published (one with provenance), one
# never published; marking one vulnerable records it and removes its targets (and its
# provenance envelopes) from the repository; withdraw does the same; the table and the
# JSON show version, hardware id, signers, log entries, provenance, state, vulnerabilities.
. "$SRC/tests/cli/lib.sh"
cd "$T"
for k in k1 k2 ci logkey root targets snapshot timestamp; do
    expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$k.pem"
    expect 0 "" "$FWTRUST" pubkey "$k.pem" -o "$k.pub"
done
DB="$T/sign.db"
expect 0 "" "$FWTRUST" log init --log "$DB" --log-key logkey.pem
head -c 20000 /dev/urandom >p1.bin
head -c 20000 /dev/urandom >p2.bin
head -c 20000 /dev/urandom >p3.bin
expect 0 "" "$FWTRUST" provenance make -k ci.pem --builder-id https://ci.example/runner --source-uri git+https://x/fw.git \
    -o p1.env p1.bin
"$PY" - <<'PYEOF'
import json
json.dump({"version": 1, "source_uri": "git+https://x/fw.git",
           "builders": [{"id": "https://ci.example/runner", "keys": [open("ci.pub").read()]}]},
          open("policy.json", "w"))
PYEOF
sign() { # OUT VERSION PAYLOAD SIGNER [extra]
    local out=$1 v=$2 p=$3 s=$4
    shift 4
    expect 0 "" "$FWTRUST" sign -k k1.pem --version "$v" --header-size 0x200 --pad-header --hw-id board-a \
        --log "$DB" --signer "$s" "$@" "$p" "$out"
}
sign v1.bin 1.0.0 p1.bin alice --provenance p1.env
expect 0 "" "$FWTRUST" cosign -k k2.pem --log "$DB" --signer bob v1.bin
# v2 carries a boot-key certificate (key version 7): the catalog lists its key version
expect 0 "" "$FWTRUST" keygen --type ed25519 -o bootroot.pem
expect 0 "" "$FWTRUST" cert issue --root bootroot.pem -k k1.pub --key-version 7 -o k1-v7.cert
sign v2.bin 1.1.0 p2.bin alice --cert k1-v7.cert
sign v3.bin 2.0.0 p3.bin carol
expect 0 "" "$FWTRUST" repo init repo --root-key root.pem --targets-key targets.pem --snapshot-key snapshot.pem \
    --timestamp-key timestamp.pem
expect 0 "" "$FWTRUST" delta --to v2.bin -o v2.bin.zst
expect 0 "" "$FWTRUST" repo add-target repo v2.bin v2.bin.zst -k targets.pem
cp policy.json repo/provenance-policy.json # from here on, images need provenance
expect 0 "" "$FWTRUST" repo add-target repo v1.bin -k targets.pem --provenance p1.env
expect 0 "" "$FWTRUST" repo publish repo --key snapshot.pem --key timestamp.pem
dg() { "$FWTRUST" inspect --json "$1" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print([t["value"] for t in d["tlvs"] if t["name"] == "SHA256"][0])'; }
D1=$(dg v1.bin); D2=$(dg v2.bin); D3=$(dg v3.bin)

expect 0 "" "$FWTRUST" catalog list --json --repo repo --log "$DB"
"$PY" - "$T/.out" "$D1" "$D2" "$D3" v2.bin <<'PYEOF'
import hashlib, json, sys
d = json.load(open(sys.argv[1]))
by = {i["digest"]: i for i in d["images"]}
d1, d2, d3 = sys.argv[2:5]
assert set(by) == {d1, d2, d3}, list(by)
a, b, c = by[d1], by[d2], by[d3]
assert a["version"] == "1.0.0+0" and a["hw_id"] == "board-a" and a["state"] == "published", a
assert [s["signer"] for s in a["signers"]] == ["alice", "bob"] and len(a["log_entries"]) == 2, a
assert a["provenance"]["builders"] == ["https://ci.example/runner"], a
assert b["state"] == "published" and [t["name"] for t in b["targets"]] == ["v2.bin"], b
# the SHA-256 of the target's bytes: what the fleet server blocks and counts exposure by
assert b["targets"][0]["sha256"] == hashlib.sha256(open(sys.argv[5], "rb").read()).hexdigest(), b
assert b["key_versions"] == [7] and b["targets"][0]["key_version"] == 7, b
assert a["key_versions"] == [] and "key_version" not in a["targets"][0], a
assert c["key_versions"] == [], c
assert c["state"] == "signed" and c["targets"] == [] and c["provenance"] is None, c
PYEOF
expect 0 "published" "$FWTRUST" catalog list --repo repo --log "$DB"
grep -q "alice(.*),bob(" "$T/.out" || fail "the table does not name both signers"

# v1 is vulnerable: recorded, and its targets (image and envelope) leave the repository.
expect 1 "needs -k" "$FWTRUST" catalog mark-vulnerable --repo repo --id CVE-2026-1234 --severity high "$D1"
expect 1 "" "$FWTRUST" catalog mark-vulnerable --repo repo --id CVE-2026-1234 --severity huge -k targets.pem "$D1"
expect 0 "2 target(s) removed" "$FWTRUST" catalog mark-vulnerable --repo repo --id CVE-2026-1234 --severity high \
    --fixed-in 1.1.0 -k targets.pem "$D1"
# v2 is withdrawn: the plain and the encoded target leave.
expect 0 "2 target(s) removed" "$FWTRUST" catalog withdraw --repo repo --reason "bricks board rev B" -k targets.pem "$D2"
expect 0 "" "$FWTRUST" repo publish repo --key snapshot.pem --key timestamp.pem
expect 0 "" "$FWTRUST" repo list --json repo
[ "$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["targets"]))' "$T/.out")" = 0 ] ||
    fail "a vulnerable or withdrawn image is still in the repository"
expect 0 "" "$FWTRUST" catalog list --json --repo repo --log "$DB"
"$PY" - "$T/.out" "$D1" "$D2" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
by = {i["digest"]: i for i in d["images"]}
a, b = by[sys.argv[2]], by[sys.argv[3]]
v = a["vulnerabilities"]
assert len(v) == 1 and v[0]["id"] == "CVE-2026-1234" and v[0]["severity"] == "high" and v[0]["fixed_in"] == "1.1.0", a
assert a["state"] == "signed", a  # no longer in the repository
assert b["state"] == "withdrawn" and b["withdrawn_reason"] == "bricks board rev B", b
PYEOF
expect 0 "CVE-2026-1234(high, fixed in 1.1.0)" "$FWTRUST" catalog list --repo repo --log "$DB"
# A damaged catalog file is refused, not read as empty.
echo '[]' >repo/catalog.json
expect 20 "not a catalog file" "$FWTRUST" catalog list --repo repo --log "$DB"
echo "catalog: ok"
