#!/bin/bash
# Certificate expiry against one monotonic time floor, not the device clock alone
# (docs/agent.md, "Time"): a device whose clock was set back still refuses a
# signing certificate that expired before a time it has already seen, whether
# that time came from a boot (boot control's time floor) or from the TUF client
# (DIR/tuf/time-floor). FWTRUST_NOW, the clock override tests use, replaces the
# clock reading only: it never goes below the floor and is never persisted.
. "$(dirname "$0")/lib.sh"
EXPIRED=1600000000 # 2020-09-13: the old certificate's expiry
BEFORE=1500000000  # 2017-07-14: a clock set back to before it
FUTURE=4000000000  # 2096: a clock running ahead (the good certificate lasts until 2100)
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/root.pem"
expect 0 "" "$FWTRUST" pubkey "$T/root.pem" -o "$T/root.pub"
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/s1.pem"
"$PY" "$MC" "$T/root.pem" "$T/s1.pem" "$T/good.cert" --key-version 1 --hw-id hw1 --not-after 4102444800
"$PY" "$MC" "$T/root.pem" "$T/s1.pem" "$T/old.cert" --key-version 1 --hw-id hw1 --not-after $EXPIRED
payload 20 "$T/payload.bin"
cimg() { # OUT VERSION COUNTER CERT
    expect 0 "" "$FWTRUST" sign --key "$T/s1.pem" --cert "$4" --version "$2" --header-size 0x200 \
        --pad-header --security-counter "$3" --hw-id hw1 "$T/payload.bin" "$1"
}
cimg "$T/v1.bin" 1.0.0 1 "$T/good.cert"
cimg "$T/v2.bin" 2.0.0 2 "$T/old.cert"
newdev() {
    expect 0 "" "$AGENT" --device "$T/$1" init --hw-id hw1 --slot-a "$T/$1-a.bin" \
        --slot-b "$T/$1-b.bin" --trust-root "$T/root.pub"
}
floor() { jget 'd["time_floor"]' "$AGENT" --device "$T/$1" status --json; }

# 1. The floor from a boot. The real clock refuses the expired certificate.
newdev dev
A() { "$AGENT" --device "$T/dev" "$@"; }
expect 29 "certificate expired" A install "$T/v2.bin"
[ "$(floor dev)" = "0" ] || fail "a new device has a time floor: $(cat "$T/.j")"
expect 0 "" A install "$T/v1.bin"
expect 0 "" "$BOOT" --device "$T/dev"
expect 0 "" A confirm
seen=$(floor dev)
now=$(date +%s)
[ "$seen" -ge $((now - 600)) ] && [ "$seen" -le "$now" ] || fail "the boot did not persist the clock: floor $seen, clock $now"
# The clock set back: the expired certificate is still refused, by install and by the bootloader.
FWTRUST_NOW=$BEFORE expect 29 "certificate expired" A install "$T/v2.bin"
FWTRUST_NOW=$BEFORE expect 0 "" "$BOOT" --device "$T/dev"
# A clock running ahead (the override): used for the decision, never persisted.
FWTRUST_NOW=$FUTURE expect 0 "" "$BOOT" --device "$T/dev"
[ "$(floor dev)" = "$seen" ] || fail "FWTRUST_NOW moved the time floor: $(cat "$T/.j")"
FWTRUST_NOW=12x expect 1 "FWTRUST_NOW='12x' is not a time" "$BOOT" --device "$T/dev"

# 2. The floor the TUF client persisted (a successful refresh) counts as well.
newdev dev2
echo 1700000000 >"$T/dev2/tuf/time-floor"
FWTRUST_NOW=$BEFORE expect 29 "certificate expired" "$AGENT" --device "$T/dev2" install "$T/v2.bin"
[ "$(floor dev2)" = "1700000000" ] || fail "status does not show the TUF floor: $(cat "$T/.j")"

# 3. An expired image already in a slot (installed while the device knew no time): once the
# device knows a later time, the bootloader refuses it even with the clock set back.
newdev dev3
FWTRUST_NOW=$BEFORE expect 0 "" "$AGENT" --device "$T/dev3" install "$T/v2.bin"
echo 1700000000 >"$T/dev3/tuf/time-floor"
FWTRUST_NOW=$BEFORE expect 50 "RECOVERY" "$BOOT" --device "$T/dev3"
grep -q 'certificate expired' "$T/dev3/audit.log" || fail "the recovery entry does not name the expiry"
echo "timefloor: ok"
