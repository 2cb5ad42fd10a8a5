# Shared helpers for the agent/bootloader CLI tests (sourced). Environment from CTest:
#   FWTRUST, AGENT, BOOT   the fwtrust, fwtrust-agent and fwtrust-boot binaries
#   SRC                    repository root
: "${AGENT:?AGENT must name fwtrust-agent}"
: "${BOOT:?BOOT must name fwtrust-boot}"
. "$SRC/tests/cli/lib.sh"
MC="$SRC/tests/cli/make_cert.py"

# A payload of N KiB of random bytes (small images keep the tests fast).
payload() { head -c $(($1 * 1024)) /dev/urandom >"$2"; }

# mkimg OUT VERSION COUNTER [extra sign options]: an image for hardware "hw1"
# signed with $T/k1.pem (unless --key is given in the extra options).
mkimg() {
    local out=$1 ver=$2 sc=$3
    shift 3
    local key=(--key "$T/k1.pem")
    for a in "$@"; do [ "$a" = --key ] && key=(); done
    [ -f "$T/payload.bin" ] || payload 24 "$T/payload.bin"
    expect 0 "" "$FWTRUST" sign "${key[@]}" --version "$ver" --header-size 0x200 --pad-header \
        --security-counter "$sc" --hw-id hw1 "$@" "$T/payload.bin" "$out"
}

# A device in $T/dev with slots in $T, trusting $T/k1.pub; extra init options allowed.
mkdev() {
    expect 0 "" "$AGENT" --device "$T/dev" init --hw-id hw1 --slot-a "$T/slot-a.bin" \
        --slot-b "$T/slot-b.bin" --trust-key "$T/k1.pub" "$@"
}

keys() {
    expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/k1.pem"
    expect 0 "" "$FWTRUST" pubkey "$T/k1.pem" -o "$T/k1.pub"
}

# Field of a JSON document on stdout of a command: jget 'expr' CMD... (d = the document)
jget() {
    local expr=$1
    shift
    "$@" >"$T/.j" 2>"$T/.jerr" || true
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' \
        "$T/.j" "$expr" || { cat "$T/.j" "$T/.jerr" >&2; fail "no JSON from $*"; }
}
