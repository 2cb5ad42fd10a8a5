#!/bin/bash
# What the bootloader may record after an error, and what a damaged state copy
# may do (docs/bootloader.md, docs/agent.md "Power-fail safety"):
#   - configuration and transient errors (a threshold no anchor set can meet in
#     a hand-edited device.ini, a slot path that is not there) leave boot
#     control unchanged: fixing the cause boots the same confirmed slot again;
#     only a verdict on an image marks a slot bad.
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
echo "bootstate: ok"
