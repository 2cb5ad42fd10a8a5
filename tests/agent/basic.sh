#!/bin/bash
# The A/B cycle through the real binaries: init, install (file and stdin), boot
# on trial, confirm (raises the anti-rollback minimums), a second update, an
# old image refused, status/verify-slots/log verify with --json.
. "$(dirname "$0")/lib.sh"
keys
mkimg "$T/v1.bin" 1.0.0 1
mkimg "$T/v2.bin" 2.0.0 2
mkdev
[ -f "$T/slot-a.bin" ] && [ -f "$T/slot-b.bin" ] || fail "init did not create the slot files"
expect 8 "not a device" "$AGENT" --device "$T/nodev" status
mkdir "$T/nodev"
expect 8 "is not a device (no device.ini)" "$AGENT" --device "$T/nodev" status
expect 2 "already a device" "$AGENT" --device "$T/dev" init --hw-id hw1 --slot-a "$T/x" --slot-b "$T/y"

# A new device: nothing confirmed, the bootloader has nothing to boot.
[ "$(jget 'd["confirmed"], d["next_install"], d["min_security_counter"]' "$AGENT" --device "$T/dev" status --json)" = "(None, 'a', 0)" ] ||
    fail "fresh status: $(cat "$T/.j")"
expect 50 "RECOVERY" "$BOOT" --device "$T/dev"

# Install v1 into slot a; it is on trial until booted and confirmed.
expect 0 "into slot a" "$AGENT" --device "$T/dev" install "$T/v1.bin"
cmp -n "$(stat -c %s "$T/v1.bin")" "$T/v1.bin" "$T/slot-a.bin" || fail "slot a does not hold v1"
expect 51 "has not booted yet" "$AGENT" --device "$T/dev" confirm
[ "$(jget 'd["ok"], d["slot"], d["trial"], d["tries_left"], d["version"]' "$BOOT" --device "$T/dev")" = "(True, 'a', True, 2, '1.0.0+0')" ] ||
    fail "first boot: $(cat "$T/.j")"
expect 11 "running on trial" "$AGENT" --device "$T/dev" install "$T/v2.bin"
[ "$(jget 'd["ok"], d["confirmed"], d["min_security_counter"]' "$AGENT" --device "$T/dev" confirm --json)" = "(True, 'a', 1)" ] ||
    fail "confirm: $(cat "$T/.j")"
expect 51 "nothing to confirm" "$AGENT" --device "$T/dev" confirm

# A confirmed boot is not a trial.
[ "$(jget 'd["slot"], d["trial"]' "$BOOT" --device "$T/dev")" = "('b', False)" ] && fail "booted empty slot b"
[ "$(jget 'd["slot"], d["trial"]' "$BOOT" --device "$T/dev")" = "('a', False)" ] || fail "confirmed boot: $(cat "$T/.j")"

# Update to v2 from standard input into slot b; the running slot a is untouched.
cp "$T/slot-a.bin" "$T/a.before"
expect 0 "into slot b" sh -c "\"$AGENT\" --device \"$T/dev\" install - <\"$T/v2.bin\""
cmp "$T/a.before" "$T/slot-a.bin" || fail "install changed the running slot"
[ "$(jget 'd["slot"], d["trial"], d["version"], d["security_counter"]' "$BOOT" --device "$T/dev")" = "('b', True, '2.0.0+0', 2)" ] ||
    fail "trial boot of v2: $(cat "$T/.j")"
expect 0 "minimum security counter 2" "$AGENT" --device "$T/dev" confirm
"$BOOT" --device "$T/dev" >/dev/null || fail "boot after confirm"

# v1 is now below the minimum security counter: refused, and the running slot is untouched.
cp "$T/slot-b.bin" "$T/b.before"
expect 26 "below the minimum 2" "$AGENT" --device "$T/dev" install "$T/v1.bin"
cmp "$T/b.before" "$T/slot-b.bin" || fail "refused install changed the running slot"
[ "$(jget 'd["slot"], d["version"]' "$BOOT" --device "$T/dev")" = "('b', '2.0.0+0')" ] || fail "boot after refusal: $(cat "$T/.j")"
# Same counter but an older version: refused unless --allow-older.
mkimg "$T/v15.bin" 1.5.0 2
expect 51 "older than the running 2.0.0+0" "$AGENT" --device "$T/dev" install "$T/v15.bin"
expect 0 "" "$AGENT" --device "$T/dev" install --allow-older "$T/v15.bin"
expect 0 "rolled back: the next boot takes slot b" "$AGENT" --device "$T/dev" rollback
[ "$(jget 'd["slot"], d["trial"]' "$BOOT" --device "$T/dev")" = "('b', False)" ] || fail "after cancel: $(cat "$T/.j")"

# A factory image already in slot a at init becomes the confirmed slot (not a trial).
cp "$T/v2.bin" "$T/factory-a.bin"
expect 0 "factory image in slot a is confirmed" "$AGENT" --device "$T/fdev" init --hw-id hw1 \
    --slot-a "$T/factory-a.bin" --slot-b "$T/factory-b.bin" --trust-key "$T/k1.pub" --min-security-counter 2
[ "$(jget 'd["slot"], d["trial"], d["version"]' "$BOOT" --device "$T/fdev")" = "('a', False, '2.0.0+0')" ] ||
    fail "factory boot: $(cat "$T/.j")"
expect 26 "below the minimum 2" "$AGENT" --device "$T/fdev" install "$T/v1.bin"

# Read commands.
expect 0 "audit log intact" "$AGENT" --device "$T/dev" log verify
[ "$(jget 'd["ok"], d["torn_tail"], d["entries"] > 10' "$AGENT" --device "$T/dev" --json log verify)" = "(True, False, True)" ] ||
    fail "log verify --json: $(cat "$T/.j")"
[ "$(jget 'd["ok"], d["slots"]["b"]["verdict"], d["slots"]["b"]["image"]["version"]' "$AGENT" --device "$T/dev" verify-slots --json)" = "(True, 'valid', '2.0.0+0')" ] ||
    fail "verify-slots: $(cat "$T/.j")"
expect 0 "slot b: valid, version 2.0.0+0" "$AGENT" --device "$T/dev" verify-slots
[ "$(jget 'd["confirmed"], d["running"], d["slots"]["b"]["state"], d["slots"]["b"]["image"]["security_counter"], d["min_security_counter"]' "$AGENT" --device "$T/dev" status --json)" = "('b', 'b', 'confirmed', 2, 2)" ] ||
    fail "status: $(cat "$T/.j")"
expect 0 "minimum security counter 2" "$AGENT" --device "$T/dev" status
for c in init install confirm rollback status verify-slots; do
    expect 0 "usage: fwtrust-agent" "$AGENT" --device "$T/dev" "$c" --help
done
expect 0 "usage: fwtrust-agent" "$AGENT" --help
expect 0 "log verify" "$AGENT" --device "$T/dev" log --help
expect 0 "usage: fwtrust-boot" "$BOOT" --help
expect 1 "--device DIR is required" "$AGENT" status
expect 1 "fwtrust-agent: unknown command 'frobnicate'" "$AGENT" --device "$T/dev" frobnicate
expect 1 "fwtrust-agent: unknown command 'instal'; did you mean 'install'?" "$AGENT" --device "$T/dev" instal
# one error line naming the program and command, and a hint at that command's --help
expect 1 "Try 'fwtrust-agent install --help'" "$AGENT" --device "$T/dev" install --no-such-option "$T/v1.bin"
expect 1 "fwtrust-agent status: unknown option '--bogus'" "$AGENT" --bogus status
expect 1 "fwtrust-agent install: missing operand" "$AGENT" --device "$T/dev" install
expect 1 "fwtrust-agent confirm: unexpected operand 'x' (takes none)" "$AGENT" --device "$T/dev" confirm x
expect 1 "fwtrust-agent log: unknown command 'vrfy'; did you mean 'verify'?" "$AGENT" --device "$T/dev" log vrfy
expect 1 "option '--allow-older' is not an option of this command (only of: install)" \
    "$AGENT" --device "$T/dev" confirm --allow-older
expect 1 "fwtrust-agent init: --hw-id, --slot-a and --slot-b are required" "$AGENT" --device "$T/dev9" init --slot-a "$T/x"
expect 1 "fwtrust-agent init: option '--tries' needs a positive number up to 100, not '101'" \
    "$AGENT" --device "$T/dev9" init --hw-id hw1 --slot-a "$T/x" --slot-b "$T/y" --tries 101
[ ! -e "$T/dev9" ] || fail "a refused init created the device directory"
# update on a device without a repository says how to give it one
expect 31 "fwtrust-agent update: hint: this device has no repository: give it one with 'fwtrust-agent init ... --repo URL --tuf-root ROOT.json'" \
    "$AGENT" --device "$T/dev" update
# options before or after the command
expect 0 "audit log intact" "$AGENT" log verify --device "$T/dev"
expect 0 "audit log intact" "$AGENT" log --device "$T/dev" verify
expect 1 "Try 'fwtrust-boot --help'" "$BOOT" --device "$T/dev" --bogus
# What an install reads back: the header and TLV areas by default, everything with --readback full
# (the option on install, or readback = full for the device).
[ "$(jget 'd["readback"]' "$AGENT" --device "$T/dev" status --json)" = "metadata" ] || fail "readback default: $(cat "$T/.j")"
expect 0 "into slot a" "$AGENT" --device "$T/dev" install --readback full "$T/v2.bin"
cmp -n "$(stat -c %s "$T/v2.bin")" "$T/v2.bin" "$T/slot-a.bin" || fail "slot a does not hold v2"
expect 1 "--readback: 'metadata' or 'full'" "$AGENT" --device "$T/dev" install --readback all "$T/v2.bin"
expect 1 "--readback: 'metadata' or 'full'" "$AGENT" --device "$T/dev2" init --hw-id hw1 \
    --slot-a "$T/s2a.bin" --slot-b "$T/s2b.bin" --trust-key "$T/k1.pub" --readback some
expect 0 "" "$AGENT" --device "$T/dev2" init --hw-id hw1 --slot-a "$T/s2a.bin" --slot-b "$T/s2b.bin" \
    --trust-key "$T/k1.pub" --readback full
grep -qx "readback = full" "$T/dev2/device.ini" || fail "device.ini lacks readback = full"
[ "$(jget 'd["readback"]' "$AGENT" --device "$T/dev2" status --json)" = "full" ] || fail "readback full: $(cat "$T/.j")"
expect 0 "into slot a" "$AGENT" --device "$T/dev2" install "$T/v1.bin"
# init with a file that does not exist: the hint names the option
expect 8 "fwtrust-agent init: hint: --trust-key names $T/nokey.pub, which does not exist" \
    "$AGENT" --device "$T/dev3" init --hw-id hw1 --slot-a "$T/s3a" --slot-b "$T/s3b" --trust-key "$T/k1.pub" --trust-key "$T/nokey.pub"
expect 8 "fwtrust-agent init: hint: --tuf-root names $T/none.json, which does not exist" \
    "$AGENT" --device "$T/dev4" init --hw-id hw1 --slot-a "$T/s4a" --slot-b "$T/s4b" --trust-key "$T/k1.pub" \
    --repo http://127.0.0.1:1 --tuf-root "$T/none.json"
echo "basic: ok"
