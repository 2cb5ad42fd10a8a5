#!/bin/bash
# Power cuts during a network update: the agent's file operations go through a fault hook
# (src/agent/fault.c); FWT_FAULT_AT=N stops the process at the N-th write, fsync, truncate or
# rename, FWT_FAULT_MODE=tear lets half of an interrupted write land first. For every cut point
# of `update` (a patch from b4 to b5, then the full image), in both modes: after the cut the
# bootloader boots a valid image (b4, or b5 on trial if the cut came after it was marked), the
# state and the audit log are readable, and the device then completes the update or confirms.
. "$(dirname "$0")/lib.sh"
serve_b4_with_device
update_boot_confirm dev
publish "$T/b5.bin" "$T/b5.from-b4.zpatch"
# The template every run starts from.
cp -a "$T/dev" "$T/dev.tpl"
cp -a "$T/dev.slots" "$T/dev.slots.tpl"
restore() {
    rm -rf "$T/dev" "$T/dev.slots"
    cp -a "$T/dev.tpl" "$T/dev"
    cp -a "$T/dev.slots.tpl" "$T/dev.slots"
}

total=0
for args in "" "--no-delta"; do
    for mode in cut tear; do
        n=1
        while :; do
            restore
            rc=0
            FWT_FAULT_AT=$n FWT_FAULT_MODE=$mode agent dev update $args >/dev/null 2>"$T/cut.err" || rc=$?
            if [ "$rc" != 99 ]; then
                [ "$rc" = 0 ] || { cat "$T/cut.err" >&2; fail "update $args ($mode) without a cut at $n exited $rc"; }
                break
            fi
            total=$((total + 1))
            boot dev >"$T/boot.json" 2>"$T/boot.err" || { cat "$T/boot.err" >&2; fail "no boot after cut $n ($mode, $args)"; }
            v=$(jget "$T/boot.json" 'd["version"]')
            agent dev status >/dev/null || fail "status unreadable after cut $n ($mode, $args)"
            agent dev log verify >/dev/null || fail "audit log broken after cut $n ($mode, $args)"
            case "$v" in
            4.0.0+4)
                [ "$(jget "$T/boot.json" 'd["trial"]')" = False ] || fail "cut $n: b4 booted as a trial"
                expect 0 "" agent dev --json update $args
                slot_holds dev b "$T/b5.bin"
                ;;
            4.0.0+5)
                # Only once the image was completely verified and marked.
                [ "$(jget "$T/boot.json" 'd["trial"]')" = True ] || fail "cut $n: b5 booted without a trial"
                slot_holds dev b "$T/b5.bin"
                expect 0 "" agent dev confirm
                ;;
            *) fail "cut $n ($mode, $args): booted '$v'" ;;
            esac
            n=$((n + 1))
            [ "$n" -lt 400 ] || fail "more than 400 cut points?"
        done
        echo "update $args ($mode): $((n - 1)) cut points"
    done
done
[ "$total" -gt 10 ] || fail "only $total cut points covered"
echo "powerfail: ok, $total cuts, each followed by a valid boot and a completed update"
