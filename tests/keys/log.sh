#!/bin/bash
# The signing log from the command line: every sign/cosign is logged; log verify,
# head, show, prove + check-proof (and wrong proofs refused), consistency proofs
# between tree heads, checked by an independent Python Merkle reference too.
. "$SRC/tests/cli/lib.sh"
REF="$SRC/tests/keys/merkle_ref.py"
DB="$T/sign.db"
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/logkey.pem"
expect 0 "" "$FWTRUST" pubkey "$T/logkey.pem" -o "$T/logkey.pub"
for k in a b; do expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/$k.pem"; done
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/other.pem"
expect 0 "created signing log" "$FWTRUST" log init --log "$DB" --log-key "$T/logkey.pem"
expect 1 "already exists" "$FWTRUST" log init --log "$DB" --log-key "$T/logkey.pem"
expect 0 "0 entries, 1 signed tree heads" "$FWTRUST" log verify --log "$DB"
expect 0 "" "$FWTRUST" log head --log "$DB" -o "$T/sth0.json"

sign() { # VERSION OUT [options]
    local v=$1 out=$2
    shift 2
    expect 0 "" "$FWTRUST" sign --log "$DB" --key "$T/a.pem" --version "$v" --header-size 0x200 \
        --pad-header --hw-id board "$@" "$FW" "$out"
}
sign 1.0.0 "$T/v1.bin" --signer alice
grep -q "warning" "$T/.err" && fail "warned although logging"
expect 0 "" "$FWTRUST" log head --log "$DB" -o "$T/sth1.json"
# cosign by b (through the environment), and a two-key signing.
FWTRUST_SIGNLOG="$DB" FWTRUST_SIGNER=bob expect 0 "" "$FWTRUST" cosign --key "$T/b.pem" "$T/v1.bin"
expect 0 "" "$FWTRUST" sign --log "$DB" --key "$T/a.pem" --key "$T/b.pem" --version 1.1.0 \
    --header-size 0x200 --pad-header -s 2 --hex-addr 0x8000000 "$FW" "$T/v11.hex"
[ -s "$T/v11.hex" ] || fail "no HEX output"
expect 0 "4 entries, 4 signed tree heads" "$FWTRUST" log verify --log "$DB"

# show: what was logged matches the images.
"$FWTRUST" log show --log "$DB" --json >"$T/show.json"
"$FWTRUST" inspect --json "$T/v1.bin" >"$T/v1.json"
d1=$(json_field "$T/v1.json" '[t["value"] for t in d["tlvs"] if t["name"] == "SHA256"][0]')
[ "$(json_field "$T/show.json" '[(e["index"], e["version"], e["signer"]) for e in d["entries"]]')" = \
  "[(0, '1.0.0+0', 'alice'), (1, '1.0.0+0', 'bob'), (2, '1.1.0+0', '$(id -un)@$(hostname)'), (3, '1.1.0+0', '$(id -un)@$(hostname)')]" ] ||
    fail "log show: $(cat "$T/show.json")"
[ "$(json_field "$T/show.json" 'd["entries"][0]["digest"] == d["entries"][1]["digest"] == "'"$d1"'"')" = True ] ||
    fail "logged digest is not the image digest"
[ "$(json_field "$T/show.json" 'd["entries"][0]["hw_id"], d["entries"][3]["security_counter"]')" = \
  "('$(printf board | od -An -tx1 | tr -d ' \n')', 2)" ] || fail "hw id / counter not logged"
kh_b=$("$FWTRUST" pubkey -f raw-hash "$T/b.pem" | od -An -tx1 | tr -d ' \n')
[ "$(json_field "$T/show.json" 'd["entries"][1]["key_id"]')" = "$kh_b" ] || fail "key id of b"

# The root hash is RFC 9162's MTH over the entry texts (independent reference).
for i in 0 1 2 3; do "$FWTRUST" log show --log "$DB" $i | tr -d '\n' >"$T/e$i"; done
ref=$("$PY" "$REF" entries-root "$T/e0" "$T/e1" "$T/e2" "$T/e3")
expect 0 "" "$FWTRUST" log head --log "$DB" -o "$T/sth4.json"
[ "$(json_field "$T/sth4.json" 'd["root_hash"], d["tree_size"]')" = "('$ref', 4)" ] ||
    fail "root hash differs from the reference: $(cat "$T/sth4.json") vs $ref"

# Inclusion proofs for every entry check against the newest head ...
for i in 0 1 2 3; do
    expect 0 "" "$FWTRUST" log prove --log "$DB" $i -o "$T/p$i.json"
    expect 0 "entry $i is in the log's tree of 4 entries" "$FWTRUST" log check-proof \
        --log-key "$T/logkey.pub" --sth "$T/sth4.json" "$T/p$i.json"
done
# The proofs are RFC 9162's PATH (and PROOF below), as the independent reference computes them.
hexes=()
for i in 0 1 2 3; do hexes+=("$(od -An -tx1 -v "$T/e$i" | tr -d ' \n')"); done
for i in 0 1 2 3; do
    [ "$("$PY" "$REF" path $i "${hexes[@]}" | tr '\n' ' ')" = "$(json_field "$T/p$i.json" '" ".join(d["path"]) + " "')" ] ||
        fail "inclusion path of entry $i differs from the reference"
done
"$FWTRUST" log check-proof --json --log-key "$T/logkey.pub" --sth "$T/sth4.json" "$T/p1.json" >"$T/cp.json"
[ "$(json_field "$T/cp.json" 'd["ok"], d["index"], d["entry"]["signer"]')" = "(True, 1, 'bob')" ] ||
    fail "check-proof json: $(cat "$T/cp.json")"
# ... and wrong ones are refused: a changed path hash, another index, an edited entry.
"$PY" - "$T/p1.json" "$T" <<'PYEOF'
import json, sys
p = json.load(open(sys.argv[1]))
t = sys.argv[2]
q = dict(p); q["path"] = list(p["path"]); q["path"][0] = ("0" if p["path"][0][0] != "0" else "1") + p["path"][0][1:]
json.dump(q, open(t + "/bad-path.json", "w"))
q = dict(p); q["index"] = 2
json.dump(q, open(t + "/bad-index.json", "w"))
q = dict(p); q["entry"] = p["entry"].replace("bob", "eve")
json.dump(q, open(t + "/bad-entry.json", "w"))
q = dict(p); q["path"] = p["path"][:-1]
json.dump(q, open(t + "/bad-short.json", "w"))
q = dict(p); q["extra"] = 1
json.dump(q, open(t + "/bad-field.json", "w"))
PYEOF
expect 21 "does not lead to the tree head's root" "$FWTRUST" log check-proof --log-key "$T/logkey.pub" \
    --sth "$T/sth4.json" "$T/bad-path.json"
expect 21 "" "$FWTRUST" log check-proof --log-key "$T/logkey.pub" --sth "$T/sth4.json" "$T/bad-index.json"
expect 21 "" "$FWTRUST" log check-proof --log-key "$T/logkey.pub" --sth "$T/sth4.json" "$T/bad-entry.json"
expect 21 "" "$FWTRUST" log check-proof --log-key "$T/logkey.pub" --sth "$T/sth4.json" "$T/bad-short.json"
expect 20 "unknown field" "$FWTRUST" log check-proof --log-key "$T/logkey.pub" --sth "$T/sth4.json" \
    "$T/bad-field.json"
# A proof for the tree of 4 against the head of 1 entry; a head signed by another key; a forged head.
expect 1 "tree of 4 entries, the tree head has 1" "$FWTRUST" log check-proof --log-key "$T/logkey.pub" \
    --sth "$T/sth1.json" "$T/p0.json"
expect 22 "names another log key" "$FWTRUST" log check-proof --log-key "$T/other.pem" --sth "$T/sth4.json" \
    "$T/p0.json"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["tree_size"]=5; json.dump(d, open(sys.argv[2],"w"))' \
    "$T/sth4.json" "$T/forged-sth.json"
expect 22 "does not verify" "$FWTRUST" log check-proof --log-key "$T/logkey.pub" --sth "$T/forged-sth.json" \
    "$T/p0.json"
# A proof in an older tree (--tree-size) checks against that tree's head.
expect 0 "" "$FWTRUST" log head --log "$DB" --size 1 -o "$T/h1.json"
cmp -s "$T/h1.json" "$T/sth1.json" || fail "head --size 1 differs from the head saved then"
expect 0 "" "$FWTRUST" log prove --log "$DB" 0 --tree-size 1 -o "$T/p0-1.json"
expect 0 "" "$FWTRUST" log check-proof --log-key "$T/logkey.pub" --sth "$T/sth1.json" "$T/p0-1.json"
expect 8 "not in the tree" "$FWTRUST" log prove --log "$DB" 4
expect 8 "no tree head of size 3" "$FWTRUST" log head --log "$DB" --size 3

# Consistency: the log only grew since each saved head.
for s in 0 1; do
    expect 0 "" "$FWTRUST" log consistency --log "$DB" --since "$T/sth$s.json" -o "$T/c$s.json"
    expect 0 "extends the log of $s entries" "$FWTRUST" log check-consistency --log-key "$T/logkey.pub" \
        --old "$T/sth$s.json" --new "$T/sth4.json" "$T/c$s.json"
done
[ "$("$PY" "$REF" proof 1 "${hexes[@]}" | tr '\n' ' ')" = "$(json_field "$T/c1.json" '" ".join(d["path"]) + " "')" ] ||
    fail "consistency proof 1 -> 4 differs from the reference"
expect 0 "consistent with the tree head of 1 entries" "$FWTRUST" log verify --log "$DB" --since "$T/sth1.json"
# Swapped heads, a changed proof hash.
expect 1 "" "$FWTRUST" log check-consistency --log-key "$T/logkey.pub" --old "$T/sth4.json" \
    --new "$T/sth1.json" "$T/c1.json"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); h=d["path"][0]; d["path"][0]=("1" if h[0]=="0" else "0")+h[1:]; json.dump(d, open(sys.argv[2],"w"))' \
    "$T/c1.json" "$T/c1-bad.json"
expect 21 "" "$FWTRUST" log check-consistency --log-key "$T/logkey.pub" --old "$T/sth1.json" \
    --new "$T/sth4.json" "$T/c1-bad.json"
# A head from another log is refused as a starting point.
expect 0 "" "$FWTRUST" log init --log "$T/other.db" --log-key "$T/other.pem"
expect 0 "" "$FWTRUST" log head --log "$T/other.db" -o "$T/other-sth.json"
expect 22 "" "$FWTRUST" log consistency --log "$DB" --since "$T/other-sth.json"
expect 22 "" "$FWTRUST" log verify --log "$DB" --since "$T/other-sth.json"
expect 22 "another key" "$FWTRUST" log verify --log "$DB" --log-key "$T/other.pem"
expect 0 "" "$FWTRUST" log verify --log "$DB" --log-key "$T/logkey.pub"

# Signatures made elsewhere (here: fwtrust sign --no-log standing in for another tool) are
# recorded with log append, after checking that each key really signed the image.
expect 0 "" "$FWTRUST" sign --no-log --key "$T/other.pem" --key "$T/b.pem" --version 7.0.0 \
    --header-size 0x200 --pad-header "$FW" "$T/ext.bin"
expect 8 "2 of its 2 signatures are not in the signing log" "$FWTRUST" log find --log "$DB" "$T/ext.bin"
before=$(sha256sum "$DB")
expect 24 "carries no valid signature by key 2" "$FWTRUST" log append --log "$DB" --key "$T/other.pem" \
    --key "$T/a.pem" "$T/ext.bin"
expect 1 "given twice" "$FWTRUST" log append --log "$DB" --key "$T/b.pem" --key "$T/b.pem" "$T/ext.bin"
[ "$(sha256sum "$DB")" = "$before" ] || fail "a refused append changed the log"
expect 0 "logged 2 signatures on $T/ext.bin as entries 4-5" "$FWTRUST" log append --log "$DB" \
    --key "$T/other.pem" --key "$T/b.pem" --signer offline-station "$T/ext.bin"
"$FWTRUST" log show --json --log "$DB" >"$T/show2.json"
[ "$(json_field "$T/show2.json" '[(e["version"], e["signer"], e["key_id"] == "'"$kh_b"'") for e in d["entries"][4:]]')" = \
  "[('7.0.0+0', 'offline-station', False), ('7.0.0+0', 'offline-station', True)]" ] ||
    fail "log append: $(cat "$T/show2.json")"
expect 0 "6 entries" "$FWTRUST" log verify --log "$DB" --since "$T/sth4.json"
expect 1 "needs --key PUB" "$FWTRUST" log append --log "$DB" "$T/ext.bin"
# log find: every signature on an image is in the (intact) log.
expect 0 "all 2 signatures are in the signing log" "$FWTRUST" log find --log "$DB" "$T/ext.bin"
expect 0 "entry 1: signed by key ${kh_b:0:16}.. (bob)" "$FWTRUST" log find --log "$DB" "$T/v1.bin"
"$FWTRUST" log find --json --log "$DB" "$T/v11.hex" >"$T/f.json"
[ "$(json_field "$T/f.json" 'd["signatures"], [e["index"] for e in d["entries"]]')" = "(2, [2, 3])" ] ||
    fail "log find json: $(cat "$T/f.json")"
expect 0 "" "$FWTRUST" cosign --no-log --key "$T/other.pem" "$T/v1.bin" -o "$T/v1-extra.bin"
expect 8 "1 of its 3 signatures are not in the signing log (first: key" "$FWTRUST" log find --log "$DB" \
    "$T/v1-extra.bin"

# Usage errors.
expect 1 "no signing log" env -u FWTRUST_SIGNLOG "$FWTRUST" log verify
expect 8 "no signing log here" "$FWTRUST" log verify --log "$T/none.db"
expect 1 "unknown command" "$FWTRUST" log frobnicate
expect 1 "needs --log-key PUB, --sth STH" "$FWTRUST" log check-proof "$T/p0.json"
"$FWTRUST" log verify --log "$DB" --json >"$T/v.json"
[ "$(json_field "$T/v.json" 'd["ok"], d["entries"], d["tree_heads"]')" = "(True, 6, 5)" ] ||
    fail "verify json: $(cat "$T/v.json")"
echo "keys log: ok"
