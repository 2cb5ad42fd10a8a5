#!/bin/bash
# The demo chapter scripts/demo.d/30-custody.sh runs to completion: SoftHSM2 release
# key, 2-of-3 signing, signing log with proofs, revocation of a stolen key (on the
# fwtrust-agent device when AGENT and BOOT are given, else with fwtrust verify).
. "$SRC/tests/cli/lib.sh"
command -v softhsm2-util >/dev/null || fail "softhsm2-util missing (scripts/install-deps)"
mkdir "$T/bin" "$T/demo"
ln -s "$FWTRUST" "$T/bin/fwtrust"
if [ -n "${AGENT:-}" ] && [ -n "${BOOT:-}" ]; then
    ln -s "$AGENT" "$T/bin/fwtrust-agent"
    ln -s "$BOOT" "$T/bin/fwtrust-boot"
fi
say() { printf '\n== %s\n' "$*"; }
export -f say
unset FWTRUST_SIGNLOG FWTRUST_PKCS11_MODULE
PATH="$T/bin:$PATH" DEMO_DIR="$T/demo" FW_DIR="$SRC/examples/firmware" FWT_BIN="$T/bin" TOP="$SRC" \
    expect 0 "exit status 30 (30 = FWT_E_KEY_VERSION)" bash "$SRC/scripts/demo.d/30-custody.sh"
o="$T/.out"
grep -q "exit status 28 (28 = FWT_E_THRESHOLD)" "$o" || fail "demo: one signature was not refused"
grep -q "valid, version 4.0.0+5, 2 signature(s)" "$o" || fail "demo: 2-of-3 release not valid"
grep -q "entry 1 is in the log's tree of 2 entries" "$o" || fail "demo: inclusion proof"
grep -q "consistent: the log of 4 entries extends the log of 2 entries" "$o" || fail "demo: consistency"
grep -q "evil.bin: valid" "$o" || fail "demo: the stolen key's image should pass before the bump"
[ "$(grep -c "exit status 30" "$o")" = "$([ -n "${AGENT:-}" ] && echo 2 || echo 1)" ] ||
    fail "demo: revocation not shown on every verifier"
if [ -n "${AGENT:-}" ]; then
    grep -q "minimum key version 2" "$o" || fail "demo: the device did not raise its minimum key version"
fi
# The release key never left the token: no private key file for it exists.
! grep -rl "PRIVATE KEY" "$T/demo/custody" | grep -q alice || fail "alice's key found outside the token"
echo "demo chapter 30: ok"
