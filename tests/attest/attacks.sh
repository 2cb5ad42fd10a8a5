#!/bin/bash
# Remote attestation refusals on a real TPM 2.0 (swtpm), each with its own reason and
# exit 60: replayed, unknown and mismatched nonces; a quote signed by another AK; a quote
# over the wrong PCR selection; a tampered and a truncated event log; reported PCR values
# forged to match a tampered log; a PCR extended outside the log; an unknown image digest;
# a signer that is not the image's; the wrong release; an AK that never completed
# credential activation. And enrollment refusals: an EK certificate from another CA, a
# challenge made for another AK (the TPM refuses to activate it), a wrong credential.
. "$(dirname "$0")/lib.sh"
setup_enrolled_device
expect 0 "" A install "$T/v1.bin"
expect 0 "" "$BOOT" --device "$T/dev"

# evidence NAME: a fresh nonce in $N and the device's quote in $T/NAME.json
evidence() {
    N=$(nonce)
    expect 0 "" A attest quote --nonce "$N" -o "$T/$1.json" "${@:2}"
}
# edit FILE PYTHON: change the JSON document d in place
edit() {
    "$PY" - "$1" "$2" <<'PY'
import json, sys, hashlib
p, code = sys.argv[1], sys.argv[2]
d = json.load(open(p))
exec(code)
json.dump(d, open(p, "w"))
PY
}

evidence good
expect 0 "attestation passed" verify "$T/good.json" --nonce "$N" --assigned v1.bin

# Nonces: replayed, never issued, not the one issued for this request.
expect 60 "nonce_replayed" verify "$T/good.json" --nonce "$N"
expect 60 "nonce_replayed" verify "$T/good.json"
R=$("$PY" -c 'import os; print(os.urandom(32).hex())')
expect 0 "" A attest quote --nonce "$R" -o "$T/unk.json"
expect 60 "nonce_unknown" verify "$T/unk.json"
evidence mism
OTHER=$(nonce)
expect 60 "nonce_mismatch" verify "$T/mism.json" --nonce "$OTHER"
# the refused quote did not use up its nonce
expect 0 "attestation passed" verify "$T/mism.json" --nonce "$N"

# A quote signed by another AK of the same TPM (never enrolled).
evidence otherak --ak-label intruder
expect 60 "signature" verify "$T/otherak.json" --nonce "$N"
# The quote bytes changed after signing.
evidence flipped
edit "$T/flipped.json" 'd["quote"] = d["quote"][:-2] + ("00" if d["quote"][-2:] != "00" else "01")'
expect 60 "signature" verify "$T/flipped.json" --nonce "$N"

# A quote over another PCR selection (PCRs 8 and 9, hiding the configuration).
N=$(nonce)
expect 0 "" "$TPM_HELPER" quote "$TPM_SPEC" 0x300 "$N" "$T/dev/tpm-eventlog.bin" "$T/sel.json"
expect 60 "pcr_selection" verify "$T/sel.json" --nonce "$N"

# Event log: one digest changed; the log cut short; the log and the reported PCRs both forged.
evidence tamper
# (the header is 65 bytes; the first record's digest starts 14 bytes into it)
edit "$T/tamper.json" 'b = bytearray.fromhex(d["eventlog"]); b[65 + 14] ^= 1; d["eventlog"] = b.hex()'
expect 60 "eventlog_replay" verify "$T/tamper.json" --nonce "$N"
evidence trunc
edit "$T/trunc.json" 'd["eventlog"] = d["eventlog"][:-20]'
expect 60 "eventlog_malformed" verify "$T/trunc.json" --nonce "$N"
evidence forged
edit "$T/forged.json" '
b = bytearray.fromhex(d["eventlog"])
# replace the image event digest with another image digest and recompute PCR 8 to match
log = bytes(b); off = 32 + 33
new = hashlib.sha256(b"another image").digest()
pcr = bytes(32)
while off < len(log):
    idx = int.from_bytes(log[off:off+4], "little"); dl = int.from_bytes(log[off+46:off+50], "little")
    if idx == 8:
        b[off+14:off+46] = new
        pcr = hashlib.sha256(pcr + new).digest()
    off += 50 + dl
d["eventlog"] = b.hex(); d["pcr8"] = pcr.hex()'
expect 60 "pcr_digest" verify "$T/forged.json" --nonce "$N"

# A PCR extended outside the log (code that measured itself without a log entry).
"$TPM_HELPER" extend "$TPM_SPEC" 11 "$("$PY" -c 'print("ab" * 32)')" || fail "extend"
evidence unlogged
expect 60 "eventlog_replay" verify "$T/unlogged.json" --nonce "$N"
# A reboot (TPM reset) clears it.
tpm_reset
expect 0 "" "$BOOT" --device "$T/dev"

# The device runs v1; code running after the boot extends PCRs 8 and 9 with v2's digest and
# signer and appends matching events, so that v2 looks like the last image booted.
"$PY" - "$T" <<'PY'
import json, sys
t = sys.argv[1]
cat = json.load(open(t + "/catalog.json"))
open(t + "/v2.digest", "w").write(cat[1]["image_digest"])
open(t + "/v2.signer", "w").write(cat[1]["signer_keyhash"])
PY
"$TPM_HELPER" extend "$TPM_SPEC" 8 "$(cat "$T/v2.digest")" || fail "extend 8"
"$TPM_HELPER" extend "$TPM_SPEC" 9 "$(cat "$T/v2.signer")" || fail "extend 9"
evidence after
edit "$T/after.json" '
import struct
b = bytes.fromhex(d["eventlog"])
def ev(pcr, tag, dig):
    return struct.pack("<III", pcr, 6, 1) + b"\x0b\x00" + dig + struct.pack("<III", 8, tag, 0)
b += ev(8, 0x46575401, bytes.fromhex(open(sys.argv[1].rsplit("/", 1)[0] + "/v2.digest").read()))
b += ev(9, 0x46575402, bytes.fromhex(open(sys.argv[1].rsplit("/", 1)[0] + "/v2.signer").read()))
d["eventlog"] = b.hex()'
expect 60 "measured_after_boot" verify "$T/after.json" --nonce "$N" --assigned v2.bin
tpm_reset
expect 0 "" "$BOOT" --device "$T/dev"

# Catalog: the image unknown; the signer not the catalog's; not the assigned release.
"$PY" -c 'import json,sys; c=json.load(open(sys.argv[1])); json.dump(c[1:], open(sys.argv[2],"w"))' \
    "$T/catalog.json" "$T/cat-no-v1.json"
evidence unknown
expect 60 "unknown_image" verify "$T/unknown.json" --nonce "$N" --catalog "$T/cat-no-v1.json"
"$PY" -c 'import json,sys; c=json.load(open(sys.argv[1])); c[0]["signer_keyhash"]="11"*32; json.dump(c, open(sys.argv[2],"w"))' \
    "$T/catalog.json" "$T/cat-signer.json"
evidence signer
expect 60 "signer_mismatch" verify "$T/signer.json" --nonce "$N" --catalog "$T/cat-signer.json"
evidence assigned
expect 60 "not_assigned_release" verify "$T/assigned.json" --nonce "$N" --assigned v2.bin
# The failed verdict still gives a signed record naming the reason.
evidence rec
expect 60 "unknown_image" verify "$T/rec.json" --nonce "$N" --catalog "$T/cat-no-v1.json" -o "$T/record.json"
[ "$(jget 'd["signed"]["fwtrust"]["verdict"], d["signed"]["fwtrust"]["reason"], d["signed"]["measres"][0][1][7]' cat "$T/record.json")" = \
    "('fail', 'unknown_image', ['catalog', 2])" ] || fail "failed record: $(cat "$T/record.json")"

# An AK that never completed credential activation (the pending enrollment used as the AK).
evidence noact
expect 60 "ak_not_activated" verify "$T/noact.json" --nonce "$N" --ak "$T/pending.json"

# Enrollment refusals.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/rogue.key" \
    -out "$T/rogue.pem" -subj /CN=rogue -days 1 2>/dev/null || fail "openssl req"
expect 29 "does not chain" F attest challenge "$T/req.json" --ek-ca "$T/rogue.pem" --state "$T/p2.json"
# a request whose AK is another key: the TPM refuses to activate the credential for it
"$PY" - "$T/req.json" "$("$TPM_HELPER" akpub "$TPM_SPEC" intruder)" "$T/req2.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d["ak_public"] = sys.argv[2]; json.dump(d, open(sys.argv[3], "w"))
PY
expect 0 "" F attest challenge "$T/req2.json" --ek-ca "$T/tpm/ca.pem" --state "$T/p2.json" -o "$T/ch2.json"
expect 22 "TPM refused the credential" A attest activate "$T/ch2.json"
# a wrong credential is refused by the verifier
edit "$T/act.json" 'd["credential"] = "00" * 32'
expect 22 "did not recover the credential" F attest activate "$T/pending.json" "$T/act.json"
# an AK that is not a restricted signing key
edit "$T/req2.json" 'd["ak_public"] = d["ek_public"]'
expect 7 "AK" F attest challenge "$T/req2.json" --ek-ca "$T/tpm/ca.pem" --state "$T/p3.json"
echo "attest_attacks: ok"
