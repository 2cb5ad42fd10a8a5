#!/bin/bash
# Chapter 1: sign real firmware, inspect and verify it, and watch a tampered
# copy get rejected. Environment from scripts/demo: FWT_BIN, DEMO_DIR, FW_DIR; `say`.
set -euo pipefail
cd "$DEMO_DIR"
FW="$FW_DIR/pybricks-primehub-v4.0.0b5.bin"

say "Generate a signing key (Ed25519) and export its public half"
fwtrust keygen --type ed25519 -o release-key.pem
fwtrust pubkey release-key.pem -o release-key.pub.pem
fwtrust pubkey --format c release-key.pem | head -n 6

say "Sign the Pybricks firmware for the LEGO SPIKE Prime hub (MCUboot format)"
fwtrust sign --key release-key.pem --version 4.0.0+5 --header-size 0x200 --pad-header \
    --slot-size 0x80000 --security-counter auto --hw-id lego-primehub \
    "$FW" primehub-v4.0.0b5.signed.bin
ls -l "$FW" primehub-v4.0.0b5.signed.bin

say "Inspect it: every header field and TLV"
fwtrust inspect primehub-v4.0.0b5.signed.bin

say "Verify it as the device would (key, hardware id, minimum security counter)"
fwtrust verify --key release-key.pub.pem --hw-id lego-primehub --min-security-counter 0x04000000 \
    primehub-v4.0.0b5.signed.bin

say "Flip one byte of the payload: the image is rejected, and we are told why"
cp primehub-v4.0.0b5.signed.bin tampered.bin
printf '\xff' | dd of=tampered.bin bs=1 seek=4096 conv=notrunc status=none
rc=0
fwtrust verify --key release-key.pub.pem tampered.bin || rc=$?
echo "exit status $rc (21 = FWT_E_DIGEST, see docs/exit-codes.md)"
[ "$rc" = 21 ] || { echo "demo: expected exit status 21" >&2; exit 1; }

say "An image for other hardware is rejected too"
rc=0
fwtrust verify --key release-key.pub.pem --hw-id lego-technic-hub primehub-v4.0.0b5.signed.bin || rc=$?
echo "exit status $rc (25 = FWT_E_HW_ID)"
[ "$rc" = 25 ] || { echo "demo: expected exit status 25" >&2; exit 1; }
