#!/bin/bash
# The demo chapter scripts/demo.d/60-fleet.sh runs to completion on its own and shows what it
# promises: enrollments, a refused reused token, nothing installed before an assignment,
# every device updated through the director, the refused director attack heard by the
# server, and the device list with who runs what.
. "$SRC/tests/lib/common.sh"
: "${FWTRUST:?}" "${FWTRUST_AGENT:?}" "${FWTRUST_BOOT:?}" "${SERVER:?}"
mkdir "$T/bin" "$T/demo"
ln -s "$FWTRUST" "$T/bin/fwtrust"
ln -s "$FWTRUST_AGENT" "$T/bin/fwtrust-agent"
ln -s "$FWTRUST_BOOT" "$T/bin/fwtrust-boot"
ln -s "$SERVER" "$T/bin/fwtrust-server"
say() { printf '\n== %s\n' "$*"; }
export -f say
PATH="$T/bin:$PATH" DEMO_DIR="$T/demo" FW_DIR="$SRC/examples/firmware" FWT_BIN="$T/bin" TOP="$SRC" \
    expect 0 "" bash "$SRC/scripts/demo.d/60-fleet.sh"
for s in "dev4: enrolled as dev-" "(bad_token)" "no image is assigned to this device" \
    "dev1: installed version 4.0.0+5" "dev4: installed version 4.0.0+4" \
    "report: lego-primehub/evil.bin refused error 8"; do
    grep -qF -- "$s" "$T/.out" || { cat "$T/.out" >&2; fail "demo output lacks '$s'"; }
done
# who runs what: the target (named by the manifest) and the version
grep -Eq 'PRIMEHUB-0001 +active +lego-primehub/fw-4\.0\.0b5\.bin +4\.0\.0\+5 ' "$T/.out" ||
    { cat "$T/.out" >&2; fail "dev1 should run fw-4.0.0b5.bin"; }
[ "$(grep -Ec ' active +lego-primehub/fw-4\.0\.0b4\.bin +4\.0\.0\+4 ' "$T/.out")" = 3 ] ||
    { cat "$T/.out" >&2; fail "three devices should run fw-4.0.0b4.bin"; }
echo "fleet demo chapter: ok"
