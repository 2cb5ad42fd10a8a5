#!/bin/bash
# The stored revocation list is power-fail safe: 'fwtrust-agent revocation' putting list
# version 2 in force over version 1 is cut at every write, fsync and rename in turn
# (FWT_FAULT_AT=N, src/agent/fault.c), plain and torn (FWT_FAULT_MODE=tear). After each cut
# the device's state reads (status, verify-slots succeed: never "damaged"), the version in
# force is 1 or 2 (never 0: a revocation is never lost), the list in force is enforced, and
# applying version 2 again completes.
. "$SRC/tests/agent/lib.sh"
for k in k1 k2 rk; do
    expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/$k.pem"
    expect 0 "" "$FWTRUST" pubkey "$T/$k.pem" -o "$T/$k.pub"
done
mkimg "$T/v1.bin" 1.0.0 1 --key "$T/k1.pem"
mkimg "$T/v2.bin" 1.1.0 1 --key "$T/k2.pem"
expect 0 "" "$FWTRUST" revocation make --key "$T/rk.pem" --version 1 --revoke-key-version 99 -o "$T/l1.json"
expect 0 "" "$FWTRUST" revocation make --key "$T/rk.pem" --version 2 --revoke-key "$T/k2.pub" -o "$T/l2.json"
A() { "$AGENT" --device "$T/dev" "$@"; }
expect 0 "" "$AGENT" --device "$T/dev" init --hw-id hw1 --slot-a "$T/slot-a.bin" --slot-b "$T/slot-b.bin" \
    --trust-key "$T/k1.pub" --trust-key "$T/k2.pub" --revocation-key "$T/rk.pub"
A install "$T/v1.bin" >/dev/null || fail "setup install"
"$BOOT" --device "$T/dev" >/dev/null || fail "setup boot"
A confirm >/dev/null || fail "setup confirm"
A revocation "$T/l1.json" >/dev/null || fail "setup list 1"
rm -rf "$T/snap"; mkdir "$T/snap"; cp -a "$T/dev" "$T/slot-a.bin" "$T/slot-b.bin" "$T/snap/"
restore() { rm -rf "$T/dev" "$T/slot-a.bin" "$T/slot-b.bin"; cp -a "$T/snap/." "$T/"; }
version() { A --json status | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["revocation_version"], "revocation_error" in d)'; }
cuts=0
for mode in "" tear; do
    n=1
    while :; do
        restore
        rc=0
        FWT_FAULT_AT=$n FWT_FAULT_MODE=$mode A revocation "$T/l2.json" >/dev/null 2>&1 || rc=$?
        [ "$rc" = 0 ] && break # the step completed before cut point n
        [ "$rc" = 99 ] || fail "cut $n ($mode): exit $rc, not the injected cut"
        cuts=$((cuts + 1))
        set -- $(version) || fail "cut $n ($mode): status failed"
        [ "$2" = False ] || fail "cut $n ($mode): the stored list reads as damaged"
        case $1 in 1|2) ;; *) fail "cut $n ($mode): version $1 in force" ;; esac
        A verify-slots >/dev/null || fail "cut $n ($mode): verify-slots"
        if [ "$1" = 2 ]; then
            expect 34 "" A install "$T/v2.bin"
        fi
        rc=0
        A revocation "$T/l2.json" >/dev/null 2>&1 || rc=$?
        [ "$rc" = 0 ] || [ "$rc" = 51 ] || fail "cut $n ($mode): applying version 2 again exited $rc"
        [ "$(version)" = "2 False" ] || fail "cut $n ($mode): version 2 not in force after completing"
        expect 34 "" A install "$T/v2.bin"
        n=$((n + 1))
        [ $n -lt 200 ] || fail "more than 200 cut points"
    done
done
[ $cuts -ge 4 ] || fail "only $cuts cut points: the fault hook does not see the list's writes"
echo "revocation power-fail: ok ($cuts cut points)"
