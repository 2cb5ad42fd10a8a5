#!/bin/bash
# bench/delta (issue 17): patch sizes of `fwtrust delta` against bsdiff 4.3 and
# `zstd -19 --long --patch-from`, run here on the same signed images, on real firmware
# version pairs of several projects and chips (corpus.txt: fetched with `npm pack`, checked
# against the pinned sha512 and sha256, cached in $BENCH_CACHE). Per pair: sizes, ratio to
# min(bsdiff, zstd) (goal <= 0.85), fwtrust's method, encode and decode time, peak RSS of the
# decoding process; then the geometric mean. Also the shared Pybricks pair in examples/firmware.
# Environment: FWT_BIN (built tools), BENCH_DIR (scratch), BENCH_CACHE (downloads, default
# ~/.cache/fwtrust-bench/delta), DELTA_PAIRS (a regex: only the pairs whose name matches),
# DELTA_JSON (write the results there too).
# Needs: npm, bsdiff, zstd, unzip, python3, GNU time. Exit: 0 done (goal met or not: the table
# says), 1 a tool or download missing or a checksum wrong.
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
FWT_BIN=${FWT_BIN:-$TOP/build/src/tools}
export FWTRUST_NO_PROGRESS=1
for t in npm bsdiff bspatch zstd unzip /usr/bin/time /usr/bin/python3 "$FWT_BIN/fwtrust"; do
    command -v "$t" >/dev/null 2>&1 || { echo "bench/delta: $t not found" >&2; exit 1; }
done
CACHE=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fwtrust-bench/delta}
mkdir -p "$CACHE"
W=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/fwt-delta-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
/usr/bin/python3 "$TOP/bench/delta/bench.py" "$TOP" "$FWT_BIN/fwtrust" "$CACHE" "$W"
