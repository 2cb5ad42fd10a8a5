#!/bin/bash
# The demo chapter scripts/demo.d/10-images.sh runs to completion (it expects
# the tampered and wrong-hardware verifications to fail with 21 and 25).
. "$(dirname "$0")/lib.sh"
mkdir "$T/bin" "$T/demo"
ln -s "$FWTRUST" "$T/bin/fwtrust"
say() { printf '\n== %s\n' "$*"; }
export -f say
PATH="$T/bin:$PATH" DEMO_DIR="$T/demo" FW_DIR="$SRC/examples/firmware" FWT_BIN="$T/bin" \
    expect 0 "exit status 21 (21 = FWT_E_DIGEST" bash "$SRC/scripts/demo.d/10-images.sh"
grep -q "digest mismatch: image says" "$T/.err" || fail "demo does not show the digest message"
grep -q "exit status 25 (25 = FWT_E_HW_ID)" "$T/.out" || fail "demo: hardware id"
[ -s "$T/demo/primehub-v4.0.0b5.signed.bin" ] || fail "demo: no signed image"
echo "demo chapter: ok"
