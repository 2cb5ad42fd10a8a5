#!/bin/bash
# What the bootloader may record after an error, and what a damaged state copy
# may do (docs/bootloader.md, docs/agent.md "Power-fail safety"):
#   - configuration and transient errors (a threshold no anchor set can meet in
#     a hand-edited device.ini, a slot path that is not there) leave boot
#     control unchanged: fixing the cause boots the same confirmed slot again;
#     only a verdict on an image marks a slot bad.
#   - a damaged copy of the anti-rollback state (either copy, a flipped byte) never
#     lowers the minimum: the bootloader's fallback refuses the downgrade; nor does
#     an older copy left by an older writer (boot control's floor);
#   - a forged sequence number near 2^64 is renumbered, not a device that never
#     boots again.
. "$(dirname "$0")/lib.sh"
A() { "$AGENT" --device "$T/dev" "$@"; }
boot() { jget "$1" "$BOOT" --device "$T/dev"; }
state_sum() { cat "$T/dev"/bootctl.* "$T/dev"/rollback.* | sha256sum; }

# 1. A device trusting a certificate root only; v1 confirmed in slot a.
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/root.pem"
expect 0 "" "$FWTRUST" pubkey "$T/root.pem" -o "$T/root.pub"
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/s1.pem"
"$PY" "$MC" "$T/root.pem" "$T/s1.pem" "$T/c1.cert" --key-version 1 --hw-id hw1
payload 20 "$T/payload.bin"
expect 0 "" "$FWTRUST" sign --key "$T/s1.pem" --cert "$T/c1.cert" --version 1.0.0 \
    --header-size 0x200 --pad-header --security-counter 1 --hw-id hw1 "$T/payload.bin" "$T/v1.bin"
expect 0 "" "$AGENT" --device "$T/dev" init --hw-id hw1 --slot-a "$T/slot-a.bin" \
    --slot-b "$T/slot-b.bin" --trust-root "$T/root.pub"
expect 0 "" A install "$T/v1.bin"
expect 0 "" "$BOOT" --device "$T/dev"
expect 0 "" A confirm
[ "$(boot 'd["slot"], d["trial"]')" = "('a', False)" ] || fail "confirmed boot: $(cat "$T/.j")"
cp "$T/dev/device.ini" "$T/device.ini.good"

# A hand-edited threshold above the number of anchors (one root): refused when the
# configuration is read, naming the line; nothing is recorded.
line=$(grep -n '^threshold' "$T/dev/device.ini" | cut -d: -f1)
sed -i 's/^threshold = 1$/threshold = 2/' "$T/dev/device.ini"
before=$(state_sum)
expect 1 "line $line: threshold 2 is above the 1 trust anchor(s)" "$BOOT" --device "$T/dev"
expect 1 "line $line: threshold 2 is above" A status
[ "$(state_sum)" = "$before" ] || fail "a configuration error changed the boot state"
cp "$T/device.ini.good" "$T/dev/device.ini"
[ "$(boot 'd["slot"], d["trial"], d["fell_back"], d["failed"]')" = "('a', False, False, {})" ] ||
    fail "the fixed configuration does not boot the confirmed slot: $(cat "$T/.j")"

# A slot path that is not there (a typo, a medium not attached): not a verdict on the
# image. Nothing booted, nothing recorded, the JSON is no recovery.
sed -i "s|^a = .*|a = $T/no-such-slot.bin|" "$T/dev/device.ini"
before=$(state_sum)
expect 2 "nothing booted and nothing recorded" "$BOOT" --device "$T/dev"
[ "$(boot 'd["recovery"], d["failed"]')" = "(False, {'a': 'FWT_E_IO'})" ] || fail "missing slot json: $(cat "$T/.j")"
[ "$(state_sum)" = "$before" ] || fail "a missing slot changed the boot state"
cp "$T/device.ini.good" "$T/dev/device.ini"
[ "$(boot 'd["slot"], d["failed"]')" = "('a', {})" ] || fail "slot a after the path was fixed: $(cat "$T/.j")"
[ "$(jget 'd["slots"]["a"]["state"]' A status --json)" = "confirmed" ] || fail "slot a marked bad"

# A real verdict still marks the slot bad (the image damaged).
flip "$T/slot-a.bin" 900
expect 50 "RECOVERY" "$BOOT" --device "$T/dev"
[ "$(jget 'd["slots"]["a"]["state"]' A status --json)" = "bad" ] || fail "damaged slot a not marked bad"

# 2. Anti-rollback copies. Plain keys; v1 (counter 1) in slot a, v2 (counter 2) confirmed in b.
rm -rf "$T/dev" "$T/slot-a.bin" "$T/slot-b.bin" "$T/payload.bin"
keys
mkimg "$T/v1.bin" 1.0.0 1
mkimg "$T/v2.bin" 2.0.0 2
mkimg "$T/v3.bin" 3.0.0 3
mkdev
for img in v1 v2; do
    expect 0 "" A install "$T/$img.bin"
    expect 0 "" "$BOOT" --device "$T/dev"
    expect 0 "" A confirm
done
[ "$(jget 'd["confirmed"], d["min_security_counter"]' A status --json)" = "('b', 2)" ] || fail "setup: $(cat "$T/.j")"
rm -rf "$T/snap" && mkdir "$T/snap" && cp -a "$T/dev" "$T/slot-a.bin" "$T/slot-b.bin" "$T/snap/"
restore() { rm -rf "$T/dev" "$T/slot-a.bin" "$T/slot-b.bin"; cp -a "$T/snap/." "$T/"; }
# Records as docs/agent.md describes them: rec KIND SEQ PAYLOAD_HEX > file; seq FILE.
rec() {
    "$PY" - "$@" <<'PYEOF'
import hashlib, struct, sys
kind, seq, payload = int(sys.argv[1]), int(sys.argv[2]), bytes.fromhex(sys.argv[3])
b = b"FWTSTATE" + struct.pack("<HHIQQ", 1, kind, len(payload), seq, 0) + payload
sys.stdout.buffer.write(b + hashlib.sha256(b).digest())
PYEOF
}
seqof() { "$PY" -c 'import struct,sys; print(struct.unpack_from("<Q", open(sys.argv[1],"rb").read(), 16)[0])' "$1"; }
payloadof() { "$PY" -c 'import sys; b=open(sys.argv[1],"rb").read(); print(b[32:-32].hex())' "$1"; }
newest() { if [ "$(seqof "$T/dev/$1.0")" -gt "$(seqof "$T/dev/$1.1")" ]; then echo 0; else echo 1; fi; }
downgrade_refused() { # WHAT: slot b damaged, the fallback to v1 in slot a must be refused
    [ "$(jget 'd["min_security_counter"]' A status --json)" = "2" ] || fail "$1: minimum lowered: $(cat "$T/.j")"
    flip "$T/slot-b.bin" 900
    [ "$(boot 'd["exit_code"], d["failed"]')" = "(50, {'a': 'FWT_E_COUNTER', 'b': 'FWT_E_DIGEST'})" ] ||
        fail "$1: the fallback was not refused for its counter: $(cat "$T/.j")"
}
for c in 0 1; do
    restore
    flip "$T/dev/rollback.$c" 35 # a payload byte: the copy fails its checksum
    downgrade_refused "rollback.$c damaged"
done
# An older copy with the previous minimum (as a writer that wrote one copy per raise
# left it), and the newest damaged: boot control's floor (the confirmed image's
# counter) still holds the minimum.
restore
n=$(newest rollback)
rec 2 $(($(seqof "$T/dev/rollback.$n") - 1)) "0100000000000000""0000000000000000" >"$T/dev/rollback.$((1 - n))"
flip "$T/dev/rollback.$n" 35
downgrade_refused "older copy below the floor"

# A forged boot control copy with sequence 2^64 - 2 (same contents): the device boots and
# renumbers its records, instead of refusing every boot control write for ever.
restore
n=$(newest bootctl)
rec 1 18446744073709551614 "$(payloadof "$T/dev/bootctl.$n")" >"$T/dev/bootctl.$n.new"
mv "$T/dev/bootctl.$n.new" "$T/dev/bootctl.$n"
[ "$(boot 'd["slot"], d["trial"]')" = "('b', False)" ] || fail "forged bootctl sequence: $(cat "$T/.j")"
[ "$(seqof "$T/dev/bootctl.$n") $(seqof "$T/dev/bootctl.$((1 - n))")" = "2 1" ] || fail "boot control not renumbered"
# The same for the anti-rollback record: the next confirm still raises the minimum.
n=$(newest rollback)
rec 2 18446744073709551614 "$(payloadof "$T/dev/rollback.$n")" >"$T/dev/rollback.$n.new"
mv "$T/dev/rollback.$n.new" "$T/dev/rollback.$n"
expect 0 "" A install "$T/v3.bin"
expect 0 "" "$BOOT" --device "$T/dev"
expect 0 "" A confirm
[ "$(jget 'd["min_security_counter"]' A status --json)" = "3" ] || fail "raise after a forged sequence: $(cat "$T/.j")"
[ "$(payloadof "$T/dev/rollback.0")" = "$(payloadof "$T/dev/rollback.1")" ] || fail "the raise did not write both copies"
echo "bootstate: ok"
