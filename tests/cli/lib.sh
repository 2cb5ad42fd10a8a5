# Shared helpers for the CLI tests (sourced). Environment from CTest:
#   FWTRUST   path of the fwtrust binary
#   SRC       repository root
: "${FWTRUST:?FWTRUST must name the fwtrust binary}"
. "$SRC/tests/lib/common.sh"
# Pinned signing-log keys (fwtrust log init/pin) stay in the scratch directory.
export FWTRUST_SIGNLOG_PINS="$T/signlog-pins"
VEC="$SRC/tests/data/vectors"
FW="$SRC/examples/firmware/pybricks-primehub-v4.0.0b5.bin"

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
