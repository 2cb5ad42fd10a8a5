#!/bin/bash
# The running slot is never touched, even when the configured inactive slot is
# the same file as the running one under another name (a hard link made before
# init, or a symlink put in the device directory later): install refuses (exit 1,
# FWT_E_ARG) before writing a byte, and the device still boots the running image.
. "$(dirname "$0")/lib.sh"
keys
mkimg "$T/v1.bin" 1.0.0 1
mkimg "$T/v2.bin" 2.0.0 2

# 1. Slot b is a hard link to slot a (realpath differs, so init cannot tell by name).
: >"$T/slot-a.bin"
ln "$T/slot-a.bin" "$T/slot-b.bin"
mkdev
expect 1 "slot a is the same file as slot b" "$AGENT" --device "$T/dev" install "$T/v1.bin"
[ ! -s "$T/slot-a.bin" ] || fail "install wrote into a slot aliased to the other one"

# 2. A normal device; after boot + confirm of slot a, slot b is replaced by a symlink to a.
rm -rf "$T/dev" "$T/slot-a.bin" "$T/slot-b.bin"
mkdev
expect 0 "" "$AGENT" --device "$T/dev" install "$T/v1.bin"
expect 0 "" "$BOOT" --device "$T/dev"
expect 0 "" "$AGENT" --device "$T/dev" confirm
cp "$T/slot-a.bin" "$T/a.ref"
rm "$T/slot-b.bin"
ln -s "$T/slot-a.bin" "$T/slot-b.bin"
expect 1 "slot b is the same file as slot a" "$AGENT" --device "$T/dev" install "$T/v2.bin"
cmp "$T/a.ref" "$T/slot-a.bin" || fail "install through a symlink changed the running slot"
[ "$(jget 'd["slot"], d["trial"]' "$BOOT" --device "$T/dev")" = "('a', False)" ] ||
    fail "device does not boot the confirmed slot after the refusal: $(cat "$T/.j")"
# With slot b a separate file again, the update installs.
rm "$T/slot-b.bin"
expect 0 "into slot b" "$AGENT" --device "$T/dev" install "$T/v2.bin"
cmp "$T/a.ref" "$T/slot-a.bin" || fail "install changed the running slot"
echo "aliases: ok"
