# Shared helpers for the CLI tests (sourced). Environment from CTest:
#   FWTRUST   path of the fwtrust binary
#   SRC       repository root
set -eu
: "${FWTRUST:?FWTRUST must name the fwtrust binary}"
: "${SRC:?SRC must name the repository root}"
export FWTRUST_NO_PROGRESS=1
PY=/usr/bin/python3 # Debian's python3 (with python3-cryptography), not a user install
VEC="$SRC/tests/data/vectors"
FW="$SRC/examples/firmware/pybricks-primehub-v4.0.0b5.bin"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# expect RC SUBSTRING CMD...: run CMD, require exit status RC and SUBSTRING in
# its stderr (or stdout) when SUBSTRING is not empty.
expect() {
    local want=$1 msg=$2 rc=0
    shift 2
    "$@" >"$T/.out" 2>"$T/.err" || rc=$?
    if [ "$rc" != "$want" ]; then
        echo "--- stdout" >&2; cat "$T/.out" >&2
        echo "--- stderr" >&2; cat "$T/.err" >&2
        fail "'$*' exited $rc, expected $want"
    fi
    if [ -n "$msg" ] && ! grep -qF -- "$msg" "$T/.err" "$T/.out"; then
        echo "--- stderr" >&2; cat "$T/.err" >&2
        fail "'$*': output lacks '$msg'"
    fi
}

# Flip one byte of a file at OFFSET (decimal).
flip() {
    "$PY" - "$1" "$2" <<'PYEOF'
import sys
p, off = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read())
b[off] ^= 0xFF
open(p, "wb").write(b)
PYEOF
}

# Print a field of an image as the JSON of `fwtrust inspect --json` gives it.
json_field() {
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$1" "$2"
}
