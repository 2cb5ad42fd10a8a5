#!/bin/bash
# Block-device slots (loop devices): the slot size is the device size, nothing
# is truncated, a smaller image over a larger one verifies within the bytes
# written. Needs root and losetup; otherwise skipped (exit 77).
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || ! command -v losetup >/dev/null || [ ! -e /dev/loop-control ]; then
    echo "blockdev: skipped (needs root and loop devices)"
    exit 77
fi
LOOPS=()
cleanup() {
    for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT
for s in a b; do
    truncate -s 256K "$T/back-$s.img"
    l=$(losetup -f --show "$T/back-$s.img" 2>/dev/null) || { echo "blockdev: skipped (losetup failed)"; exit 77; }
    LOOPS+=("$l")
done
[ -b "${LOOPS[0]}" ] && [ -b "${LOOPS[1]}" ] || fail "no block devices"
keys
payload 100 "$T/big.raw"
payload 20 "$T/small.raw"
payload 300 "$T/huge.raw"
sig() { expect 0 "" "$FWTRUST" sign --key "$T/k1.pem" --version "$2" --header-size 0x200 --pad-header \
    --security-counter 1 --hw-id hw1 "$1" "$3"; }
sig "$T/big.raw" 1.0.0 "$T/v1.bin"
sig "$T/small.raw" 1.3.0 "$T/v13.bin"
sig "$T/big.raw" 1.2.0 "$T/v12.bin"
sig "$T/huge.raw" 2.0.0 "$T/huge.bin"
expect 0 "" "$AGENT" --device "$T/dev" init --hw-id hw1 --slot-a "${LOOPS[0]}" --slot-b "${LOOPS[1]}" \
    --trust-key "$T/k1.pub"
A() { "$AGENT" --device "$T/dev" "$@"; }
expect 33 "does not fit slot a (262144 bytes)" A install "$T/huge.bin"
expect 0 "into slot a" A install "$T/v1.bin"
[ "$(jget 'd["slot"], d["version"]' "$BOOT" --device "$T/dev")" = "('a', '1.0.0+0')" ] || fail "boot v1 from a block device"
expect 0 "" A confirm
expect 0 "into slot b" A install "$T/v12.bin"
expect 0 "" "$BOOT" --device "$T/dev"
expect 0 "" A confirm
# The smaller v1.3 over v1 in slot a: the old bytes after it stay, the image lies within what was written.
expect 0 "into slot a" A install "$T/v13.bin"
[ "$(jget 'd["slot"], d["version"], d["trial"]' "$BOOT" --device "$T/dev")" = "('a', '1.3.0+0', True)" ] || fail "boot v1.3"
cmp -n "$(stat -c %s "$T/v13.bin")" "$T/v13.bin" "${LOOPS[0]}" || fail "slot a does not start with v1.3"
[ "$(stat -c %s "$T/back-a.img")" = 262144 ] || fail "a block device slot was resized"
expect 0 "" A confirm
expect 0 "slot a: valid, version 1.3.0+0" A verify-slots
echo "blockdev: ok"
