#!/bin/bash
# Power cuts during a measured boot into a TPM (swtpm). A boot's file operations go
# through the agent's fault hook (src/agent/fault.c): FWT_FAULT_AT=N cuts at the N-th
# write, fsync, truncate or rename (FWT_FAULT_MODE=tear: half a write lands first). For
# each N until the boot completes: the device is restored to its state before the boot,
# the TPM is reset (power-on), fwtrust-boot runs with the cut; then, as after a real power
# cut, the TPM is reset again and the device boots normally. Every time the event log must
# explain the PCRs: a fresh quote verifies against the catalog.
. "$(dirname "$0")/lib.sh"
setup_enrolled_device
expect 0 "" A install "$T/v1.bin"
expect 0 "" "$BOOT" --device "$T/dev"
expect 0 "" A confirm
expect 0 "" A install "$T/v2.bin"
cp -a "$T/dev" "$T/dev.before"
cuts=0
for mode in cut tear; do
    export FWT_FAULT_MODE=$([ "$mode" = tear ] && echo tear || echo "")
    for n in $(seq 1 200); do
        rm -rf "$T/dev"
        cp -a "$T/dev.before" "$T/dev"
        tpm_reset
        rc=0
        FWT_FAULT_AT=$n "$BOOT" --device "$T/dev" >"$T/cut.out" 2>&1 || rc=$?
        if [ "$rc" = 0 ]; then
            break
        fi
        [ "$rc" = 99 ] || { cat "$T/cut.out" >&2; fail "$mode at $n: exit $rc, not a cut"; }
        cuts=$((cuts + 1))
        tpm_reset
        expect 0 "" "$BOOT" --device "$T/dev"
        N=$(nonce)
        expect 0 "" A attest quote --nonce "$N" -o "$T/ev.json"
        expect 0 "attestation passed" verify "$T/ev.json" --nonce "$N"
    done
    [ "$n" -gt 1 ] || fail "$mode: no fault point reached"
done
unset FWT_FAULT_MODE
echo "attest_powerfail: $cuts cuts, each followed by a boot whose quote verifies"
