#!/bin/bash
# The anti-rollback minimums in TPM NV counters ([device] rollback = tpm) on swtpm: the
# counters take over the file minimums, confirm raises them, an older image is refused,
# the files no longer matter (lowered or deleted), the values are read back independently
# (tpm2_nvread) as counter minus the write-locked base; and power cuts at every write and
# every counter increment of a confirm that raises the security counter by 3 (TPM state
# restored before each cut) leave a minimum between the old and the new value that the next
# boot and confirm complete, never lower and never above the confirmed image's.
. "$(dirname "$0")/lib.sh"
tpm_manufacture "$T/tpm"
tpm_start "$T/tpm"
keys
mkimg "$T/v1.bin" 1.0.0 1
mkimg "$T/v2.bin" 2.0.0 2
mkimg "$T/v5.bin" 5.0.0 5
mkdev --min-security-counter 1
sed -i "s|^\[device\]|[device]\ntpm = $TPM_SPEC\nrollback = tpm|" "$T/dev/device.ini"
st() { jget "$1" A status --json; }
# a reader cannot provision the counters; the first writer does
expect 11 "not provisioned" A status
expect 0 "" A install "$T/v2.bin"
[ "$(st 'd["min_security_counter"]')" = 1 ] || fail "the TPM did not take over the file minimum"
expect 0 "" "$BOOT" --device "$T/dev"
expect 0 "" A confirm
[ "$(st 'd["min_security_counter"]')" = 2 ] || fail "confirm did not raise the TPM counter"
# independent reading: counter - base
if command -v tpm2_nvread >/dev/null; then
    export TPM2TOOLS_TCTI="swtpm:port=${TPM_SPEC##*=}"
    tpm2_nvread 0x01465700 -C 0x01465700 -s 16 -o "$T/base.bin" >/dev/null || fail "nvread base"
    tpm2_nvread 0x01465701 -C 0x01465701 -s 8 -o "$T/sc.bin" >/dev/null || fail "nvread counter"
    "$PY" - "$T" <<'PY' || fail "the TPM counter minus its base is not 2"
import sys
t = sys.argv[1]
b = int.from_bytes(open(t + "/base.bin", "rb").read()[:8], "big")
c = int.from_bytes(open(t + "/sc.bin", "rb").read(), "big")
assert c - b == 2, (c, b)
PY
    # the base is write-locked: it cannot be lowered
    printf '\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' >"$T/zero.bin"
    tpm2_nvwrite 0x01465700 -C 0x01465700 -i "$T/zero.bin" >/dev/null 2>&1 && fail "the base was rewritten"
    unset TPM2TOOLS_TCTI
fi
# The files no longer hold the minimum: lowering or deleting them changes nothing.
rm -f "$T/dev/rollback.0" "$T/dev/rollback.1"
[ "$(st 'd["min_security_counter"]')" = 2 ] || fail "minimum after the files were deleted"
expect 26 "" A install "$T/v1.bin"

# Power cuts during a confirm that raises the counter from 2 to 5.
expect 0 "" A install "$T/v5.bin"
expect 0 "" "$BOOT" --device "$T/dev"
tpm_stop
cp -a "$T/dev" "$T/dev.before"
cp -a "$T/tpm/state" "$T/state.before"
cuts=0
for n in $(seq 1 100); do
    rm -rf "$T/dev" "$T/tpm/state"
    cp -a "$T/dev.before" "$T/dev"
    cp -a "$T/state.before" "$T/tpm/state"
    tpm_start "$T/tpm"
    "$TPM_HELPER" akpub "$TPM_SPEC" startup >/dev/null || fail "startup"
    sed -i "s|^tpm = .*|tpm = $TPM_SPEC|" "$T/dev/device.ini"
    rc=0
    FWT_FAULT_AT=$n "$AGENT" --device "$T/dev" confirm >"$T/cut.out" 2>&1 || rc=$?
    if [ "$rc" = 0 ]; then
        tpm_stop
        break
    fi
    [ "$rc" = 99 ] || { cat "$T/cut.out" >&2; fail "cut $n: exit $rc"; }
    cuts=$((cuts + 1))
    m=$(st 'd["min_security_counter"]')
    [ "$m" -ge 2 ] && [ "$m" -le 5 ] || fail "cut $n: minimum $m outside 2..5"
    expect 0 "" "$BOOT" --device "$T/dev"
    A confirm >/dev/null 2>&1 || true
    [ "$(st 'd["min_security_counter"], d["confirmed"]')" = "(5, 'b')" ] ||
        fail "cut $n: after boot and confirm: $(cat "$T/.j")"
    tpm_stop
done
[ "$cuts" -ge 4 ] || fail "only $cuts cuts: the increments are not fault points"
echo "attest_rollback: $cuts cuts during the confirm"
