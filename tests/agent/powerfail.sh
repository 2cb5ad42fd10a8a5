#!/bin/bash
# Power-fail safety, proven by fault injection.
#
# The agent and the bootloader route every write, fsync, truncate and rename
# through a fault hook (src/agent/fault.c): FWT_FAULT_AT=N makes the N-th such
# operation of the process _exit(99) instead, as a power cut would;
# FWT_FAULT_MODE=tear first lets half of an interrupted write land (a torn
# flash write). For each step of
#     install v2 -> boot (trial) -> confirm -> boot      and
#     (trial booted) rollback -> boot                      and
#     (v1.1 confirmed in b, v1 in a) rollback to slot a -> boot
# and for N = 1, 2, ... until the step completes without reaching point N, the
# device is restored to its state before the step, the step runs with the cut
# at N, and then:
#   - the bootloader must boot a valid signed image (v1 or v2; never recovery);
#   - status, verify-slots and log verify must succeed (no state file unreadable);
#   - the minimum security counter must not exceed the counter of the image in
#     the confirmed slot;
#   - the agent then completes the cycle from wherever it is, and the device
#     must end in the expected state (v2 confirmed; or v1 after the rollback).
# The number of cut points covered is reported; every one must pass.
. "$(dirname "$0")/lib.sh"
export FWT_FAULT_MODE=
keys
payload 16 "$T/payload.bin"
mkimg "$T/v1.bin" 1.0.0 1
mkimg "$T/v2.bin" 2.0.0 2
mkimg "$T/v11.bin" 1.1.0 1
digest() { "$FWTRUST" inspect --json "$1" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print([t["value"] for t in d["tlvs"] if t["name"]=="SHA256"][0])'; }
D1=$(digest "$T/v1.bin")
D2=$(digest "$T/v2.bin")
D11=$(digest "$T/v11.bin")
[ -n "$D1" ] && [ -n "$D2" ] && [ "$D1" != "$D2" ] || fail "cannot read the image digests"

A() { "$AGENT" --device "$T/dev" "$@"; }
B() { "$BOOT" --device "$T/dev"; }

# Base: v1 installed, booted, confirmed in slot a.
mkdev --tries 3
A install "$T/v1.bin" >/dev/null || fail "setup install"
B >/dev/null || fail "setup boot"
A confirm >/dev/null || fail "setup confirm"

snap() { rm -rf "$T/snap.$1"; mkdir "$T/snap.$1"; cp -a "$T/dev" "$T/slot-a.bin" "$T/slot-b.bin" "$T/snap.$1/"; }
restore() { rm -rf "$T/dev" "$T/slot-a.bin" "$T/slot-b.bin"; cp -a "$T/snap.$1/." "$T/"; }

# The steps, each run from its snapshot.
step_cmd() {
    case $1 in
    install) A install "$T/v2.bin" ;;
    boot1 | boot2 | boot3) B ;;
    confirm) A confirm ;;
    rollback | rollback2) A rollback ;;
    boot4) B ;;
    esac
}
snap install
A install "$T/v2.bin" >/dev/null || fail "install v2"
snap boot1
B >/dev/null || fail "boot v2 on trial"
snap confirm
snap rollback
A confirm >/dev/null || fail "confirm v2"
snap boot2
restore rollback
A rollback >/dev/null || fail "rollback"
snap boot3
# Operator rollback to the other slot: v1.1 (same security counter) confirmed in b, back to v1 in a.
restore install
A install "$T/v11.bin" >/dev/null || fail "install v1.1"
B >/dev/null || fail "boot v1.1"
A confirm >/dev/null || fail "confirm v1.1"
snap rollback2
A rollback >/dev/null || fail "rollback to slot a"
snap boot4

json() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$@"; }

# Checks after a cut. $1: expected final version (2 = the update cycle, 1 = rollback).
check() {
    local what=$1 final=$2
    B >"$T/boot.json" 2>"$T/boot.err" || { cat "$T/boot.json" "$T/boot.err" >&2; fail "$what: no valid image boots"; }
    local d
    d=$(json "$T/boot.json" 'd["digest"]')
    [ "$d" = "$D1" ] || [ "$d" = "$D2" ] || [ "$d" = "$D11" ] || fail "$what: booted an unexpected image $d"
    A status --json >"$T/st.json" 2>"$T/st.err" || { cat "$T/st.err" >&2; fail "$what: state unreadable"; }
    A verify-slots --json >"$T/vs.json" 2>"$T/vs.err" || { cat "$T/vs.json" "$T/vs.err" >&2; fail "$what: verify-slots"; }
    A log verify >/dev/null 2>"$T/lv.err" || { cat "$T/lv.err" >&2; fail "$what: audit log"; }
    # The minimum security counter never exceeds the confirmed image's counter.
    json "$T/st.json" 'd["min_security_counter"] <= (d["slots"][d["confirmed"]]["image"] or {}).get("security_counter", -1)' |
        grep -qx True || { cat "$T/st.json" >&2; fail "$what: security counter above the confirmed image's"; }
    # Complete the cycle from here.
    local i
    for i in 1 2 3 4 5 6 7 8; do
        A status --json >"$T/st.json" || fail "$what: status while completing"
        local s
        s=$(json "$T/st.json" '(d["confirmed"], d["trial"], d["booted_trial"], d["min_security_counter"])')
        if [ "$final" = 2 ]; then
            local conf_d
            conf_d=$(json "$T/st.json" '(d["slots"][d["confirmed"]]["image"] or {}).get("digest") if d["confirmed"] else None')
            case "$s" in
            *", None, False, 2)")
                [ "$conf_d" = "$D2" ] && break ;;
            esac
            case "$s" in
            *", True, "*) A confirm >/dev/null || fail "$what: confirm while completing" ;;
            *", None, False, "*) A install "$T/v2.bin" >/dev/null || fail "$what: reinstall v2 ($s)" ;;
            *) B >/dev/null || fail "$what: boot while completing" ;;
            esac
        else
            case "$s" in
            "('a', None, False, 1)") break ;;
            "('b', None, "*) A rollback >/dev/null || fail "$what: rollback to a while completing" ;;
            *", None, "*) B >/dev/null || fail "$what: boot while completing" ;;
            *) A rollback >/dev/null || fail "$what: rollback while completing ($s)" ;;
            esac
        fi
    done
    B >"$T/boot.json" || fail "$what: final boot"
    if [ "$final" = 2 ]; then
        [ "$(json "$T/boot.json" 'd["digest"], d["trial"]')" = "('$D2', False)" ] || fail "$what: did not end on confirmed v2: $(cat "$T/boot.json")"
        [ "$(json "$T/st.json" 'd["min_security_counter"]')" = 2 ] || fail "$what: minimum counter not raised to 2"
    else
        [ "$(json "$T/boot.json" 'd["digest"], d["slot"]')" = "('$D1', 'a')" ] || fail "$what: did not end on v1 in slot a: $(cat "$T/boot.json")"
        [ "$(json "$T/st.json" 'd["min_security_counter"]')" = 1 ] || fail "$what: minimum counter changed by a rollback"
    fi
}

total=0
for mode in cut tear; do
    for step in install boot1 confirm boot2 rollback boot3 rollback2 boot4; do
        final=2
        case $step in rollback | boot3 | rollback2 | boot4) final=1 ;; esac
        n=1
        while :; do
            restore "$step"
            rc=0
            FWT_FAULT_AT=$n FWT_FAULT_MODE=$mode step_cmd "$step" >/dev/null 2>"$T/cut.err" || rc=$?
            if [ "$rc" = 0 ]; then
                break # the step has fewer than n fault points: all covered
            fi
            [ "$rc" = 99 ] || { cat "$T/cut.err" >&2; fail "$mode $step: point $n: exit $rc instead of the cut"; }
            check "$mode $step cut $n" "$final"
            n=$((n + 1))
        done
        [ "$n" -gt 1 ] || fail "$step: no fault point reached (hook not active?)"
        echo "$mode $step: $((n - 1)) cut points"
        total=$((total + n - 1))
    done
done
[ "$total" -ge 100 ] || fail "only $total cut points"
echo "powerfail: all $total cut points passed"
