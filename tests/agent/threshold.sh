#!/bin/bash
# k-of-n on a device (pitfall 17): --threshold counts distinct trust anchors
# (each --trust-key, each --trust-root), never the keys one root certified.
# The agent (install, and its re-check) and the bootloader apply the core's
# rule; a key given twice as an anchor is refused at init.
. "$(dirname "$0")/lib.sh"
for k in k1 r1 r2 s1 s2 s3; do
    expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/$k.pem"
    expect 0 "" "$FWTRUST" pubkey "$T/$k.pem" -o "$T/$k.pub"
done
"$PY" "$MC" "$T/r1.pem" "$T/s1.pem" "$T/s1r1.cert" --key-version 1 --hw-id hw1
"$PY" "$MC" "$T/r1.pem" "$T/s2.pem" "$T/s2r1.cert" --key-version 1 --hw-id hw1
"$PY" "$MC" "$T/r2.pem" "$T/s3.pem" "$T/s3r2.cert" --key-version 1 --hw-id hw1
payload 20 "$T/payload.bin"
# img OUT VERSION COUNTER KEY CERT|- [KEY CERT|-]...: signed by the first, cosigned by the rest.
img() {
    local out=$1 ver=$2 sc=$3 first=1
    shift 3
    while [ $# -ge 2 ]; do
        local c=()
        [ "$2" = - ] || c=(--cert "$T/$2")
        if [ $first = 1 ]; then
            expect 0 "" "$FWTRUST" sign --no-log --key "$T/$1.pem" "${c[@]}" --version "$ver" \
                --header-size 0x200 --pad-header --security-counter "$sc" --hw-id hw1 \
                "$T/payload.bin" "$out"
            first=0
        else
            expect 0 "" "$FWTRUST" cosign --no-log --key "$T/$1.pem" "${c[@]}" "$out"
        fi
        shift 2
    done
}
img "$T/r1x2.bin" 1.0.0 1 s1 s1r1.cert s2 s2r1.cert   # two keys, one root
img "$T/r1r2.bin" 1.0.0 1 s1 s1r1.cert s3 s3r2.cert   # a key of each root
img "$T/k1r1.bin" 2.0.0 2 k1 - s2 s2r1.cert           # the trusted key and a key of r1
img "$T/k1r1-3.bin" 3.0.0 3 s1 s1r1.cert s2 s2r1.cert # r1 alone, newer

# --trust-root R1 --trust-root R2 --threshold 2: two keys of R1 do not install ...
init2() { # DIR [extra init options]: a device trusting r1 and r2, threshold 2
    local d=$1
    shift
    mkdir -p "$T/$d"
    expect 0 "" "$AGENT" --device "$T/$d/dev" init --hw-id hw1 --slot-a "$T/$d/a" --slot-b "$T/$d/b" \
        --threshold 2 "$@"
}
init2 roots --trust-root "$T/r1.pub" --trust-root "$T/r2.pub"
A() { "$AGENT" --device "$T/roots/dev" "$@"; }
expect 28 "valid signatures from 1 distinct trust anchor(s) (2 signing key(s)" A install "$T/r1x2.bin"
[ "$(jget 'd["trial"], d["confirmed"]' A status --json)" = "(None, None)" ] || fail "a refused install left a trial: $(cat "$T/.j")"
# ... a key of each root does, and boots
expect 0 "" A install "$T/r1r2.bin"
[ "$(jget 'd["slot"], d["trial"]' "$BOOT" --device "$T/roots/dev")" = "('a', True)" ] || fail "boot r1r2: $(cat "$T/.j")"
expect 0 "" A confirm

# --trust-key K1 --trust-root R1 --threshold 2: R1's keys without K1 do not install; K1 and a
# key of R1 do.
init2 keyroot --trust-key "$T/k1.pub" --trust-root "$T/r1.pub"
B() { "$AGENT" --device "$T/keyroot/dev" "$@"; }
expect 28 "1 distinct trust anchor(s)" B install "$T/r1x2.bin"
expect 0 "" B install "$T/k1r1.bin"
expect 0 "" "$BOOT" --device "$T/keyroot/dev"
expect 0 "" B confirm
expect 28 "" B install "$T/k1r1-3.bin"

# The bootloader: slot a's image (r1r2, confirmed) replaced by the same signed bytes with
# the signatures of two keys of R1 instead (r1x2: the same digest, so the recorded digest
# still matches) does not boot under threshold 2.
cmp -s -n 4096 "$T/r1r2.bin" "$T/r1x2.bin" || fail "r1x2 and r1r2 should differ only in signatures"
expect 0 "" "$BOOT" --device "$T/roots/dev"
cp "$T/r1x2.bin" "$T/roots/a"
[ "$(jget 'd["exit_code"], d["failed"]' "$BOOT" --json --device "$T/roots/dev")" = \
    "(50, {'a': 'FWT_E_THRESHOLD'})" ] || fail "boot r1x2: $(cat "$T/.j")"

# A factory image signed by two keys of R1 is not confirmed at init: the slot is invalid.
mkdir -p "$T/fac"
cp "$T/r1x2.bin" "$T/fac/a"
init2 fac --trust-root "$T/r1.pub" --trust-root "$T/r2.pub"
expect 0 "slot a: invalid (FWT_E_THRESHOLD)" "$AGENT" --device "$T/fac/dev" verify-slots
[ "$(jget 'd["confirmed"]' "$AGENT" --device "$T/fac/dev" status --json)" = "None" ] || fail "factory r1x2 confirmed"

# One key given twice as an anchor (two --trust-key, or --trust-key and --trust-root) is refused
# at init, and nothing is left behind.
mkdir -p "$T/dup"
expect 1 "the same public key is a trust anchor twice" "$AGENT" --device "$T/dup/dev" init --hw-id hw1 \
    --slot-a "$T/dup-a" --slot-b "$T/dup-b" --trust-key "$T/k1.pub" --trust-root "$T/k1.pub"
[ ! -e "$T/dup/dev" ] && [ ! -e "$T/dup-a" ] || fail "a refused init left something behind"
expect 1 "the same public key is a trust anchor twice" "$AGENT" --device "$T/dup/dev" init --hw-id hw1 \
    --slot-a "$T/dup-a" --slot-b "$T/dup-b" --trust-key "$T/k1.pub" --trust-key "$T/k1.pem"
# A device.ini edited by hand to name one key twice (a key and a root) is refused when the
# device is opened, before any image is looked at.
mkdir -p "$T/ini"
expect 0 "" "$AGENT" --device "$T/ini/dev" init --hw-id hw1 --slot-a "$T/ini/a" --slot-b "$T/ini/b" \
    --trust-key "$T/k1.pub"
sed -i 's|^key = keys/key-0.pem$|key = keys/key-0.pem\nroot = keys/key-0.pem|' "$T/ini/dev/device.ini"
grep -q '^root = keys/key-0.pem$' "$T/ini/dev/device.ini" || fail "device.ini edit"
expect 1 "the same public key is a trust anchor twice" "$AGENT" --device "$T/ini/dev" status
expect 1 "the same public key is a trust anchor twice" "$BOOT" --device "$T/ini/dev"
# A threshold above the anchors of a device that trusts roots only is refused when it opens.
sed -i 's|^threshold = 2$|threshold = 3|' "$T/roots/dev/device.ini"
expect 1 "threshold 3 is above the 2 trust anchor(s)" A status
echo "agent threshold: ok"
