# Helpers of the fleet server shell tests (sourced). Environment: SRC, SERVER
# (fwtrust-server), SIM (fleet-sim), FWTRUST; FWT_TEST_DB_URL: a PostgreSQL
# (with_pg.sh), else SQLite.
. "$SRC/tests/lib/common.sh"
export FWTRUST_SIGNLOG_PINS=$T/pins
D=$T/srv
CA=$D/ca/ca.pem

# srv_init [SETTING=VALUE...]: a server directory with these settings in server.json.
srv_init() {
    if [ -n "${FWT_TEST_DB_URL:-}" ]; then
        "$SERVER" init "$D" --database "$FWT_TEST_DB_URL" >/dev/null || fail "init"
    else
        "$SERVER" init "$D" >/dev/null || fail "init"
    fi
    "$PY" - "$D/server.json" "$@" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    c[k] = int(v)
json.dump(c, open(p, "w"), indent=2)
PY
}

# srv_start [ARGS...]: run the daemon on a free port; U is its URL, SRV_PID its process.
# SRV_WRAP (optional): a command that execs the daemon (env with libfaketime).
srv_start() {
    rm -f "$T/ready"
    ${SRV_WRAP:-} "$SERVER" --dir "$D" serve --listen 127.0.0.1:0 --ready-file "$T/ready" "$@" 2>>"$T/server.log" &
    SRV_PID=$!
    SERVER_PIDS="$SERVER_PIDS $SRV_PID"
    for _ in $(seq 100); do [ -s "$T/ready" ] && break; sleep 0.1; done
    [ -s "$T/ready" ] || { cat "$T/server.log" >&2; fail "the server did not start"; }
    U=https://127.0.0.1:$(awk '/^https/{print $2}' "$T/ready")
    PLAIN=http://127.0.0.1:$(awk '/^plain/{print $2}' "$T/ready")
}

# srv_stop: SIGTERM, and the server must exit cleanly (0, and no sanitizer report in its log).
srv_stop() {
    local rc=0
    kill "$SRV_PID" 2>/dev/null || true
    wait "$SRV_PID" 2>/dev/null || rc=$?
    if [ "$rc" != 0 ] || grep -q "Sanitizer" "$T/server.log" 2>/dev/null; then
        cat "$T/server.log" >&2
        fail "the server did not stop cleanly (exit $rc)"
    fi
}

token() { "$SERVER" --dir "$D" enroll-token create "$@"; }

# http_code EXPECTED FILE CMD...: run fleet-sim CMD, require "HTTP EXPECTED"; the body in FILE.
sim() {
    local want=$1 out=$2
    shift 2
    "$SIM" "$@" >"$out" 2>&1 || { cat "$out" >&2; fail "fleet-sim $*: did not run"; }
    head -n 1 "$out" | grep -qx "HTTP $want" || { cat "$out" >&2; fail "fleet-sim $1: expected HTTP $want"; }
}

# curl_code EXPECTED URL [CURL ARGS...]: the status of one request; body in $T/.body
curl_code() {
    local want=$1 url=$2 got
    shift 2
    got=$(curl -s -o "$T/.body" -w '%{http_code}' --cacert "$CA" "$@" "$url" || true)
    [ "$got" = "$want" ] || { cat "$T/.body" >&2 2>/dev/null; fail "curl $url: $got, expected $want"; }
}
