# Shared helpers for the fwtrust-tuf-client CLI tests (sourced). Environment from CTest:
#   TUF_CLIENT  the fwtrust-tuf-client binary
#   TREPO       tufclient_mkrepo (writes a test repository)
#   SRC         repository root
set -eu
: "${TUF_CLIENT:?}" "${TREPO:?}" "${SRC:?}"
export FWTRUST_NO_PROGRESS=1
T=$(mktemp -d)
chmod 755 "$T"
SERVER_PIDS=""
cleanup() {
    for p in $SERVER_PIDS; do kill "$p" 2>/dev/null || true; done
    if [ -f "$T/nginx/nginx.pid" ]; then "$SRC/scripts/serve-repo" stop --state "$T/nginx" || true; fi
    rm -rf "$T"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# expect RC SUBSTRING CMD...: exit status RC and SUBSTRING in stdout or stderr.
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
        echo "--- stdout" >&2; cat "$T/.out" >&2
        echo "--- stderr" >&2; cat "$T/.err" >&2
        fail "'$*': output lacks '$msg'"
    fi
}

# serve DIR LOG [server options]: start server.py; sets URL.
serve() {
    local dir=$1 log=$2
    shift 2
    rm -f "$T/port"
    python3 "$SRC/tests/tufclient/server.py" --root "$dir" --log "$log" --port-file "$T/port" "$@" &
    SERVER_PIDS="$SERVER_PIDS $!"
    for _ in $(seq 100); do [ -f "$T/port" ] && break; sleep 0.05; done
    [ -f "$T/port" ] || fail "test server did not start"
    URL="http://127.0.0.1:$(cat "$T/port")"
}

# Content hash of a directory (names and bytes).
tree_hash() {
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum | cut -d' ' -f1)
}
