#!/bin/bash
# The demo chapter scripts/demo.d/50-device.sh runs to completion on its own (it makes what
# earlier chapters would have made) and shows every refusal it promises.
. "$(dirname "$0")/lib.sh"
mkdir "$T/bin" "$T/demo"
chmod 755 "$T/demo"
ln -s "$FWTRUST" "$T/bin/fwtrust"
ln -s "$FWTRUST_AGENT" "$T/bin/fwtrust-agent"
ln -s "$FWTRUST_BOOT" "$T/bin/fwtrust-boot"
say() { printf '\n== %s\n' "$*"; }
export -f say
PATH="$T/bin:$PATH" DEMO_DIR="$T/demo" FW_DIR="$FW" FWT_BIN="$T/bin" TOP="$SRC" \
    expect 0 "" bash "$SRC/scripts/demo.d/50-device.sh"
for s in "exit status 44" "exit status 43" "exit status 24" "rolled back to 4.0.0+5" "zpatch, encoding: bsdiff2"; do
    grep -qF "$s" "$T/.out" || { cat "$T/.out" >&2; fail "demo output lacks '$s'"; }
done
echo "demo chapter: ok"
