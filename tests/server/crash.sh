#!/bin/bash
# kill -9 during writes: devices check in and administrators tag and assign while the
# server is killed, five times; each restart finds a consistent database (SQLite
# integrity, every device's counter equal to its last recorded check-in, each device's
# director metadata chain consistent) and an intact audit log.
. "$(dirname "$0")/lib.sh"
srv_init checkin_burst=1000000 checkin_window=1
srv_start
APPR=$("$SERVER" --dir "$D" admin-token create bob --role approver)
for i in 1 2 3; do sim 200 "$T/e" enroll "$U" "$CA" "$(token)" board "SN-$i" "$T/d$i"; done
printf 'image' >"$T/img"
SHA=$(sha256sum "$T/img" | cut -d' ' -f1)
us() { echo $(( $(date +%s%N) / 1000 )); }

load() { # until killed: check-ins of every device, tags and assignments
    local k=0
    while :; do
        k=$((k + 1))
        for i in 1 2 3; do "$SIM" checkin "$U" "$CA" "$T/d$i" --counter "$(us)" >/dev/null 2>&1 & done
        curl -s -o /dev/null --cacert "$CA" -H "Authorization: Bearer $APPR" "$U/v1/admin/devices/$(cat "$T/d1/id")/tags" \
            -d "{\"add\":[\"t$k\"]}" &
        curl -s -o /dev/null --cacert "$CA" -H "Authorization: Bearer $APPR" "$U/v1/admin/assignments" \
            -d "{\"scope\":\"device\",\"subject\":\"$(cat "$T/d2/id")\",\"target\":\"fw-$k.bin\",\"length\":5,\"sha256\":\"$SHA\",\"release_counter\":$k}" &
        wait
    done
}

check() {
    if [ -z "${FWT_TEST_DB_URL:-}" ]; then
        [ "$(sqlite3 "$D/fleet.db" 'PRAGMA integrity_check')" = ok ] || fail "SQLite integrity"
    fi
    local i id c last
    for i in 1 2 3; do
        id=$(cat "$T/d$i/id")
        c=$("$SERVER" --dir "$D" device show "$id" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["counter"])')
        last=$("$SERVER" --dir "$D" events --device "$id" --json --limit 100000 | "$PY" -c '
import json, sys
ev = [e for e in json.load(sys.stdin)["events"] if e["kind"] == "checkin"]
print(ev[0]["detail"].split()[1] if ev else -1)')
        [ "$c" = "$last" ] || fail "device $i: counter $c, last recorded check-in $last"
        # the director chain: timestamp -> snapshot -> targets versions agree
        sim 200 "$T/ts" get "$U" "$CA" "$T/d$i" /v1/director/timestamp.json
        sim 200 "$T/sn" get "$U" "$CA" "$T/d$i" /v1/director/snapshot.json
        sim 200 "$T/tg" get "$U" "$CA" "$T/d$i" /v1/director/targets.json
        "$PY" - "$T/ts" "$T/sn" "$T/tg" <<'PY' || fail "device $i: director metadata inconsistent"
import hashlib, json, sys
body = lambda p: open(p).read().split("\n", 1)[1].rstrip("\n")
ts, sn, tg = (json.loads(body(p))["signed"] for p in sys.argv[1:])
m = ts["meta"]["snapshot.json"]
assert m["version"] == sn["version"], (m, sn["version"])
assert m["hashes"]["sha256"] == hashlib.sha256(body(sys.argv[2]).encode()).hexdigest()
assert sn["meta"]["targets.json"]["version"] == tg["version"]
PY
    done
    expect 0 "intact" "$FWTRUST" log verify --log "$D/audit.db"
}

nev() { "$SERVER" --dir "$D" events --limit 100000 --json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["events"]))'; }
for round in 1 2 3 4 5; do
    before=$(nev)
    load &
    LOAD=$!
    # the kill comes while writes go on: after the first of this round is committed (a
    # loaded machine may take seconds for it), then 0.1 to 0.9 s later
    for _ in $(seq 200); do [ "$(nev)" -gt "$before" ] && break; sleep 0.1; done
    sleep "0.$((RANDOM % 9 + 1))"
    kill -9 "$SRV_PID"
    kill "$LOAD" 2>/dev/null; wait "$LOAD" 2>/dev/null || true
    wait 2>/dev/null || true
    srv_start
    check
    [ "$(nev)" -gt "$before" ] || fail "round $round: nothing was written before the kill"
done
srv_stop
echo "server crash (${FWT_TEST_DB_URL:+postgresql}${FWT_TEST_DB_URL:-sqlite}): ok"
