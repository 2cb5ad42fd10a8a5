# Shared helpers for the fwtrust-tuf-client CLI tests (sourced). Environment from CTest:
#   TUF_CLIENT  the fwtrust-tuf-client binary
#   TREPO       tufclient_mkrepo (writes a test repository)
#   SRC         repository root
: "${TUF_CLIENT:?}" "${TREPO:?}" "${SRC:?}"
. "$SRC/tests/lib/common.sh"

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
