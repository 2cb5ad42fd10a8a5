#!/bin/bash
# Fleet server load test: N simulated devices (bench/fleet/fleet_sim.c) enroll, then check in
# from THREADS threads for SECONDS with a full TLS handshake each, then for SECONDS resuming
# their TLS sessions (as the agent does), then (--rate R) resuming at R check-ins per second
# offered (open loop); beside them the bare TLS handshake rates (full, resumed) of the same
# server (the physical limit here) and the server's peak RSS. Ratios against the bare full
# handshake rate of the same run.
#
#   bench/fleet/run.sh [--pg|--both] [--servers K] [--rate R] [DEVICES [SECONDS [THREADS]]]
#                                    (default 10000 20 8; no argument: --both)
#
# --servers K: K server processes sharing the database (the PostgreSQL deployment: stateless
# servers; with SQLite they share the file), each on its own port with a shared ticket-key
# file; device i talks to server i mod K, bare-handshake thread i likewise. CPU and RSS are
# summed over them (peak RSS: the largest one, and the sum). KEEP=FILE keeps server 1's log.
#
# --pg: PostgreSQL (started here, as tests/server/pg.sh does), else SQLite; --both: SQLite,
# then PostgreSQL, one JSON object each. BUILD names the build directory (default: two levels
# above $FWT_BIN, else build).
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PG=0
RATE=()
if [ $# = 0 ]; then set -- --both; fi # make bench: both backends
if [ "${1:-}" = --both ]; then
    shift
    "$0" "$@" && "$0" --pg "$@"
    exit
fi
K=1
if [ "${1:-}" = --pg ]; then PG=1; shift; fi
if [ "${1:-}" = --servers ]; then K=$2; shift 2; fi
if [ "${1:-}" = --rate ]; then RATE=(--rate "$2"); shift 2; fi
case "$K" in [1-8]) ;; *) echo "--servers: 1 to 8" >&2; exit 2 ;; esac
N=${1:-10000} SECS=${2:-20} THREADS=${3:-8}
B=${BUILD:-$(cd "${FWT_BIN:-$SRC/build/src/tools}/../.." && pwd)}
SERVER=$B/src/tools/fwtrust-server SIM=$B/tests/server/fleet-sim
[ -x "$SERVER" ] && [ -x "$SIM" ] || { echo "build first (cmake --build build): $SERVER, $SIM" >&2; exit 1; }
T=$(mktemp -d)
SPIDS=(); KEEP=${KEEP:-}
cleanup() {
    [ ${#SPIDS[@]} -gt 0 ] && kill "${SPIDS[@]}" 2>/dev/null
    [ "$PG" = 1 ] && pg_stop
    [ -n "$KEEP" ] && cp "$T/server1.log" "$KEEP"
    rm -rf "$T"
}
trap cleanup EXIT
export FWTRUST_SIGNLOG_PINS=$T/pins
DB=()
if [ "$PG" = 1 ]; then
    . "$SRC/tests/server/pg.sh"
    pg_start
    DB=(--database "$PG_URL")
fi
"$SERVER" init "$T/srv" "${DB[@]}" >/dev/null
(umask 077 && openssl rand -hex 80 >"$T/ticket.keys")
python3 - "$T/srv/server.json" "$K" "$T/ticket.keys" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["checkin_burst"] = 1000000; c["checkin_window"] = 1; c["timeout"] = 60
if int(sys.argv[2]) > 1:
    c["tls_ticket_key_file"] = sys.argv[3]
json.dump(c, open(sys.argv[1], "w"))
PY
"$SERVER" --dir "$T/srv" enroll-token create --count "$N" >"$T/tokens"
U="" PIDS=""
for k in $(seq "$K"); do
    "$SERVER" --dir "$T/srv" serve --listen 127.0.0.1:0 --ready-file "$T/ready$k" 2>"$T/server$k.log" &
    SPIDS+=($!)
    for _ in $(seq 100); do [ -s "$T/ready$k" ] && break; sleep 0.1; done
    [ -s "$T/ready$k" ] || { cat "$T/server$k.log" >&2; echo "server $k did not start" >&2; exit 1; }
    U="$U${U:+,}https://127.0.0.1:$(awk '/^https/{print $2}' "$T/ready$k")"
    PIDS="$PIDS${PIDS:+,}$!"
done
rc=0
"$SIM" bench "$U" "$T/srv/ca/ca.pem" "$T/tokens" "$N" "$THREADS" "$SECS" 1 "${RATE[@]}" --server-pid "$PIDS" >"$T/out.json" || rc=$?
RSS=""
for p in "${SPIDS[@]}"; do RSS="$RSS $(awk '/^VmHWM/{print $2}' "/proc/$p/status")"; done
python3 - "$T/out.json" "$RSS" "$([ "$PG" = 1 ] && echo postgresql || echo sqlite)" "$K" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
rss = [int(x) for x in sys.argv[2].split()]
o["server_peak_rss_mib"] = round(max(rss) / 1024, 1)
o["servers"] = int(sys.argv[4])
if len(rss) > 1:
    o["servers_peak_rss_mib_sum"] = round(sum(rss) / 1024, 1)
o["db"] = sys.argv[3]
hs, hr = o["bare_tls_handshakes_per_second"], o["bare_tls_resumed_handshakes_per_second"]
r = lambda a, b: round(a / b, 3) if b else None
o["full_checkin_rate_over_handshake_rate"] = r(o["checkin_full_handshake"]["per_second"], hs)
o["resumed_checkin_rate_over_handshake_rate"] = r(o["checkin_resumed"]["per_second"], hs)
o["resumed_checkin_rate_over_resumed_handshake_rate"] = r(o["checkin_resumed"]["per_second"], hr)
print(json.dumps(o, indent=2, sort_keys=True))
PY
exit $rc
