#!/bin/bash
# Governed rollouts through the daemon (SQLite, or PostgreSQL through with_pg.sh): the
# admin API with roles (creator cannot approve, viewer cannot halt), bad specifications
# and conflicts refused with nothing created, devices (fleet-sim) whose reports halt the
# rollout by themselves - after that only the devices in flight keep the target in their
# director metadata - and GET /metrics scraped by a real Prometheus (Debian's
# prometheus, started here on loopback with a temporary configuration and data
# directory), whose query API must give the scenario's values.
. "$(dirname "$0")/lib.sh"
srv_init checkin_burst=1000 checkin_window=60
srv_start

N=10
"$SERVER" --dir "$D" enroll-token create --count $N >"$T/tokens"
for i in $(seq $N); do
    sim 200 "$T/e" enroll "$U" "$CA" "$(sed -n "${i}p" "$T/tokens")" board-1 "SN $i" "$T/d$i"
    sim 200 "$T/c" checkin "$U" "$CA" "$T/d$i"
done
admin() { "$SERVER" --dir "$D" admin-token create "$1" --role "$2" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["token"])'; }
ALICE=$(admin alice operator)
BOB=$(admin bob approver)
VIC=$(admin vic viewer)
api() { # api CODE METHOD PATH TOKEN [BODY]
    local want=$1 m=$2 p=$3 tok=$4
    shift 4
    curl_code "$want" "$U$p" -X "$m" -H "Authorization: Bearer $tok" ${1:+-d "$1"}
}
SHA=$(printf 'new firmware' | sha256sum | cut -d' ' -f1)
spec() { # spec GROUPS [EXTRA]
    echo "{\"name\":\"spring\",\"target\":\"fw-2.bin\",\"length\":12,\"sha256\":\"$SHA\",\"hardware_id\":\"board-1\",
          \"release_counter\":3,\"select\":{\"hardware_id\":\"board-1\"},\"groups\":$1${2:+,$2}}"
}
# the first wave: the four devices tagged canary (cohorts by hash: test_rollout)
for i in 1 2 3 4; do "$SERVER" --dir "$D" device tag "$(cat "$T/d$i/id")" --add canary >/dev/null; done
WAVES='[{"tag":"canary","error_threshold_count":2,"min_sample":2},{"percent":100,"error_threshold_percent":10}]'

# ---- bad input: 400/403 with the cause, nothing created
api 403 POST /v1/admin/rollouts "$VIC" "$(spec "$WAVES")"
api 400 POST /v1/admin/rollouts "$ALICE" "$(spec '[{"percent":40,"error_threshold_count":2}]')"
grep -q 'reach 100' "$T/.body" || fail "percentages: $(cat "$T/.body")"
api 400 POST /v1/admin/rollouts "$ALICE" "$(spec "$WAVES" '"windows":[{"tag":"eu","cron":"0 25 * * *","duration":3600,"tz":"UTC"}]')"
grep -q 'hour field' "$T/.body" || fail "cron: $(cat "$T/.body")"
api 400 POST /v1/admin/rollouts "$ALICE" "$(spec "$WAVES" '"windows":[{"tag":"eu","cron":"0 2 * * *","duration":3600,"tz":"Moon/Base"}]')"
grep -q 'time zone' "$T/.body" || fail "time zone: $(cat "$T/.body")"
api 400 POST /v1/admin/rollouts "$ALICE" "$(spec "$WAVES" | sed 's/"hardware_id":"board-1"}/"hardware_id":"board-9"}/')"
grep -q 'board-9' "$T/.body" || fail "hardware: $(cat "$T/.body")"
api 200 GET /v1/admin/rollouts "$VIC"
grep -q '"rollouts":\[\]' "$T/.body" || fail "a refused rollout was created: $(cat "$T/.body")"

# ---- create: the first group (40%) gets the target at the next check-in
api 200 POST /v1/admin/rollouts "$ALICE" "$(spec "$WAVES")"
RID=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/.body")
api 409 POST /v1/admin/rollouts "$ALICE" "$(spec "$WAVES")"
grep -q "$RID" "$T/.body" || fail "conflict does not name $RID: $(cat "$T/.body")"
api 403 POST "/v1/admin/rollouts/$RID/approve" "$ALICE"   # operator
api 403 POST "/v1/admin/rollouts/$RID/halt" "$VIC"        # viewer
ADM=$(admin alice-approver approver)
api 200 GET /v1/admin/assignments "$VIC"
"$PY" - "$T/.body" >"$T/g0" <<'PY'
import json, sys
for a in json.load(open(sys.argv[1]))["assignments"]:
    if a["created_by"].startswith("rollout:"):
        print(a["subject"])
PY
n0=$(wc -l <"$T/g0")
[ "$n0" = 4 ] || fail "group 0 has $n0 devices, expected the 4 canaries"
dir_of() { grep -lx "$1" "$T"/d*/id | xargs dirname; }
names_target() { # names_target DEVICE_DIR: does its director metadata (after a check-in) name fw-2.bin?
    sim 200 "$T/c" checkin "$U" "$CA" "$1"
    sim 200 "$T/g" get "$U" "$CA" "$1" /v1/director/targets.json
    grep -q 'fw-2.bin' "$T/g"
}
for id in $(cat "$T/g0"); do names_target "$(dir_of "$id")" || fail "$id (group 0) was not assigned fw-2.bin"; done
for i in $(seq $N); do
    grep -qx "$(cat "$T/d$i/id")" "$T/g0" && continue
    ! names_target "$T/d$i" || fail "$(cat "$T/d$i/id") (group 1) got fw-2.bin before an approval"
done

# ---- the bad release: two devices fail, the rollout halts by itself
F1=$(dir_of "$(sed -n 1p "$T/g0")"); F2=$(dir_of "$(sed -n 2p "$T/g0")"); FL=$(dir_of "$(sed -n 3p "$T/g0")")
sim 200 "$T/r" report "$U" "$CA" "$FL" downloading fw-2.bin 0 "download started"
sim 200 "$T/r" report "$U" "$CA" "$F1" failed fw-2.bin 9 "no space"
api 200 GET "/v1/admin/rollouts/$RID" "$VIC"
grep -q '"state":"active"' "$T/.body" || fail "halted after one failure"
sim 200 "$T/r" report "$U" "$CA" "$F2" refused fw-2.bin 22 "signature"
api 200 GET "/v1/admin/rollouts/$RID" "$VIC"
grep -q '"state":"halted"' "$T/.body" || fail "not halted after two failures: $(cat "$T/.body")"
grep -q 'automatic halt' "$T/.body" || fail "halt reason: $(cat "$T/.body")"
# only the device in flight still has the target; the others' metadata reverted
names_target "$FL" || fail "the in-flight device lost its assignment"
for id in $(sed -n '4,$p' "$T/g0"); do ! names_target "$(dir_of "$id")" || fail "$id kept fw-2.bin after the halt"; done
api 200 GET /v1/admin/assignments "$VIC"
[ "$(grep -o 'rollout:' "$T/.body" | wc -l)" = 1 ] || fail "assignments after the halt: $(cat "$T/.body")"
api 409 POST "/v1/admin/rollouts/$RID/halt" "$ALICE"
"$SERVER" --dir "$D" events --limit 1000 --json | grep -q '"kind": *"rollout-halt"' || fail "halt not in the log"

# ---- metrics: JSON and the Prometheus text, scraped by a real Prometheus
api 200 GET /v1/admin/metrics "$VIC"
"$PY" - "$T/.body" "$N" <<'PY' || fail "metrics JSON"
import json, sys
m = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
assert m["devices"]["active"] == n, m["devices"]
assert m["devices"]["checkin"]["fresh"] == n, m["devices"]["checkin"]
r = m["updates"]["by_rollout"][0]
assert r["devices"] == n and r["failed"] == 2 and r["confirmed"] == 0, r
assert m["tamper"]["by_reason"] == {"FWT_E_SIGNATURE": 1}, m["tamper"]
assert m["recovery"]["open"] == 2, m["recovery"]
PY
curl_code 401 "$U/metrics"
api 200 GET /metrics "$VIC"
grep -q '^fwtrust_devices_active 10$' "$T/.body" || fail "/metrics: $(head -20 "$T/.body")"
if ! command -v prometheus >/dev/null; then
    echo "SKIP: prometheus is not installed (apt-get install prometheus)" >&2
    exit 77
fi
PORT=$(sed -n 's/^https //p' "$T/ready")
PP=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$T/prom"
cat >"$T/prom/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: fwtrust
    scheme: https
    metrics_path: /metrics
    tls_config: {ca_file: $CA, server_name: localhost}
    authorization: {type: Bearer, credentials: $VIC}
    static_configs: [{targets: ["127.0.0.1:$PORT"]}]
EOF
prometheus --config.file="$T/prom/prometheus.yml" --storage.tsdb.path="$T/prom/data" \
    --web.listen-address="127.0.0.1:$PP" >"$T/prom/log" 2>&1 &
SERVER_PIDS="$SERVER_PIDS $!"
q() { curl -s "http://127.0.0.1:$PP/api/v1/query" --data-urlencode "query=$1" | "$PY" -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "none")'; }
for _ in $(seq 60); do [ "$(q 'up{job="fwtrust"}' 2>/dev/null)" = 1 ] && break; sleep 0.5; done
[ "$(q 'up{job="fwtrust"}')" = 1 ] || { tail -5 "$T/prom/log" >&2; fail "Prometheus could not scrape /metrics"; }
[ "$(q fwtrust_devices_active)" = 10 ] || fail "Prometheus: fwtrust_devices_active $(q fwtrust_devices_active)"
[ "$(q "fwtrust_rollout_devices{rollout=\"$RID\",outcome=\"failed\"}")" = 2 ] || fail "Prometheus: failed devices"
[ "$(q "fwtrust_rollout_devices{rollout=\"$RID\",outcome=\"all\"}")" = 10 ] || fail "Prometheus: rollout devices"
[ "$(q 'fwtrust_tamper_detections_total{reason="FWT_E_SIGNATURE"}')" = 1 ] || fail "Prometheus: tamper"
[ "$(q 'fwtrust_devices_checkin{freshness="fresh"}')" = 10 ] || fail "Prometheus: freshness"
[ "$(q 'fwtrust_incidents_open')" = 2 ] || fail "Prometheus: open incidents"
echo "rollout e2e: ok (group 0: $n0 devices; Prometheus on port $PP)"
