#!/bin/bash
# TUF benchmark (called by bench/run): a repository made by `fwtrust repo` with 10,000
# targets in 50 delegated roles (one per hardware model, 200 targets each), served by
# nginx on 127.0.0.1. A fresh client refreshes and verifies the metadata, then downloads
# one target: our fwtrust-tuf-client and the tuf-js client, in the same script, on the
# same repository. Prints wall time and peak RSS (GNU time) of each and the ratio.
# Environment: FWT_BIN (built tools, default build/src/tools), BENCH_DIR (scratch),
# TUF_BENCH_TARGETS / TUF_BENCH_ROLES (defaults 10000 / 50), RUNS (default 3, best run kept).
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
FWT_BIN=${FWT_BIN:-$TOP/build/src/tools}
FWTRUST=$FWT_BIN/fwtrust
CLIENT=$FWT_BIN/fwtrust-tuf-client
N_TARGETS=${TUF_BENCH_TARGETS:-10000}
N_ROLES=${TUF_BENCH_ROLES:-50}
RUNS=${RUNS:-3}
export FWTRUST_NO_PROGRESS=1
[ -x "$FWTRUST" ] || { echo "bench/tuf: $FWTRUST not built" >&2; exit 1; }
W=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/fwt-tuf-bench.XXXXXX")
chmod 755 "$W"
cleanup() { "$TOP/scripts/serve-repo" stop --state "$W/nginx" >/dev/null 2>&1 || true; rm -rf "$W"; }
trap cleanup EXIT
"$TOP/scripts/install-node-deps"

ms() { date +%s%N | cut -c1-13; }
step() { # step LABEL CMD...: run, print elapsed ms
    local t0 t1
    t0=$(ms)
    "${@:2}" >/dev/null
    t1=$(ms)
    printf '  %-44s %7d ms\n' "$1" $((t1 - t0))
}

per_role=$((N_TARGETS / N_ROLES))
echo "bench/tuf: repository with $N_TARGETS targets in $N_ROLES delegated roles ($per_role each)"
for k in root targets snapshot timestamp hw; do
    openssl genpkey -algorithm ed25519 -out "$W/$k.pem" 2>/dev/null
done
R=$W/repo
step "init" "$FWTRUST" repo init "$R" --root-key "$W/root.pem" --targets-key "$W/targets.pem" \
    --snapshot-key "$W/snapshot.pem" --timestamp-key "$W/timestamp.pem"
t0=$(ms)
for ((i = 0; i < N_ROLES; i++)); do
    role=$(printf 'hw-%02d' "$i")
    "$FWTRUST" repo delegate "$R" --name "$role" --key "$W/hw.pem" --paths "$role/*" --terminating \
        --sign-key "$W/targets.pem" >/dev/null
done
printf '  %-44s %7d ms\n' "delegate x$N_ROLES" $(($(ms) - t0))
mkdir "$W/files"
t0=$(ms)
for ((i = 0; i < N_ROLES; i++)); do
    role=$(printf 'hw-%02d' "$i")
    mkdir -p "$W/files/$role"
    for ((j = 0; j < per_role; j++)); do
        printf 'firmware %s %d\n' "$role" "$j" >"$W/files/$role/fw-$j.bin"
    done
    "$FWTRUST" repo add-target "$R" --role "$role" --prefix "$role/" --key "$W/hw.pem" --no-image \
        "$W/files/$role"/*.bin >/dev/null
done
printf '  %-44s %7d ms\n' "add-target ($per_role files per call) x$N_ROLES" $(($(ms) - t0))
step "publish" "$FWTRUST" repo publish "$R" --key "$W/snapshot.pem" --key "$W/timestamp.pem"
du -sh "$R/metadata" | sed 's/^/  metadata size: /'

"$TOP/scripts/serve-repo" start --root "$R" --state "$W/nginx" >/dev/null
. "$W/nginx/env"
last=$(printf 'hw-%02d' $((N_ROLES - 1)))
TARGET="$last/fw-$((per_role - 1)).bin"

# measure LABEL CMD...: best wall time (s) and its peak RSS (KiB) over RUNS fresh runs.
measure() {
    local label=$1 best="" rss="" r
    shift
    for ((r = 0; r < RUNS; r++)); do
        rm -rf "$W/client"
        mkdir -p "$W/client/metadata" "$W/client/targets"
        /usr/bin/time -f '%e %M' -o "$W/time.txt" "$@" >"$W/client.out" 2>"$W/client.err" ||
            { echo "bench/tuf: $label failed:" >&2; cat "$W/client.err" >&2; return 1; }
        cmp -s "$W/client/targets/out.bin" "$W/files/$TARGET" ||
            { echo "bench/tuf: $label downloaded other bytes" >&2; return 1; }
        read -r wall kib <"$W/time.txt"
        if [ -z "$best" ] || awk "BEGIN{exit !($wall < $best)}"; then best=$wall; rss=$kib; fi
    done
    printf '  %-44s %7.3f s  %8d KiB peak RSS\n' "$label" "$best" "$rss"
    eval "${label%% *}_wall=$best ${label%% *}_rss=$rss"
}

ours() {
    "$CLIENT" --metadata-dir "$W/client/metadata" init "$R/metadata/1.root.json" &&
        "$CLIENT" --metadata-dir "$W/client/metadata" --metadata-url "$HTTP_URL/metadata" \
            --target-name "$TARGET" --target-base-url "$HTTP_URL/targets" --target-dir "$W/client/targets" download &&
        mv "$W/client/targets/"*"$(basename "$TARGET")" "$W/client/targets/out.bin" 2>/dev/null ||
        mv "$W/client/targets/$(printf %s "$TARGET" | sed 's|/|%2F|g')" "$W/client/targets/out.bin"
}
export -f ours
tufjs() {
    node "$TOP/tests/interop/tufjs/client.js" --root "$R/metadata/1.root.json" --metadata-url "$HTTP_URL/metadata" \
        --targets-url "$HTTP_URL/targets" --dir "$W/client" --target "$TARGET" --out "$W/client/targets/out.bin"
}
export -f tufjs
export W R HTTP_URL TARGET CLIENT TOP

echo "bench/tuf: fresh client, refresh + verify + download $TARGET (best of $RUNS)"
measure "tufjs (node $(node --version))" bash -c tufjs
if [ -x "$CLIENT" ]; then
    measure "ours (fwtrust-tuf-client)" bash -c ours
    awk -v a="$ours_wall" -v b="$tufjs_wall" -v c="$ours_rss" -v d="$tufjs_rss" \
        'BEGIN { printf "  ratio tuf-js/ours: wall %.1fx, peak RSS %.1fx\n", b / a, d / c }'
else
    echo "  ours: $CLIENT is not built (TUF client module); only tuf-js measured"
fi
