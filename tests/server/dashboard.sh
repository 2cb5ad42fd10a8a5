#!/bin/bash
# The dashboard (dash/) in headless Chromium: a scripted scenario (6 devices, a rollout
# with 3 confirmed and 1 failed, a refusal, hostile strings in a serial and a report
# reason), then dash/test/dashboard.mjs signs in, checks the pages and charts, halts the
# rollout from the UI; here the API must show the halt took effect (no further
# assignments), and the session must resist cross-site requests (no CSRF token: 403).
# SHOTS=DIR keeps the screenshots (docs/ has the committed ones).
. "$(dirname "$0")/lib.sh"
for p in chromium node npm; do
    command -v "$p" >/dev/null || { echo "SKIP: $p is not installed" >&2; exit 77; }
done
"$SRC/scripts/build-dashboard" "$T/dash" || fail "the dashboard could not be built"
srv_init checkin_burst=1000 checkin_window=60
srv_start --dashboard "$T/dash"
N=6
"$SERVER" --dir "$D" enroll-token create --count $N >"$T/tokens"
for i in $(seq $N); do
    serial="SN $i"
    [ "$i" = 6 ] && serial="<img src=x onerror=window.__xss=1>"
    sim 200 "$T/e" enroll "$U" "$CA" "$(sed -n "${i}p" "$T/tokens")" board-1 "$serial" "$T/d$i"
    sim 200 "$T/c" checkin "$U" "$CA" "$T/d$i"
done
SHA=$(printf 'fw' | sha256sum | cut -d' ' -f1)
cat >"$T/spec.json" <<EOS
{"name": "ui", "target": "fw-2.bin", "length": 2, "sha256": "$SHA", "hardware_id": "board-1",
 "select": {"hardware_id": "board-1"}, "groups": [{"percent": 100, "error_threshold_count": 10}]}
EOS
"$SERVER" --dir "$D" rollout create --spec "$T/spec.json" --json >"$T/r.json" || fail "rollout create"
RID=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/r.json")
for i in 1 2 3; do sim 200 "$T/r" report "$U" "$CA" "$T/d$i" confirmed fw-2.bin 0 "ok"; done
sim 200 "$T/r" report "$U" "$CA" "$T/d4" refused fw-2.bin 22 "bad signature"
sim 200 "$T/r" report "$U" "$CA" "$T/d6" downloading fw-2.bin 0 "<script>window.__xss=2</script>"
admin() { "$SERVER" --dir "$D" admin-token create "$1" --role "$2" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["token"])'; }
OP=$(admin olga operator)
VIC=$(admin vic viewer)

# CSRF: a session cookie alone does not change anything
curl -s --cacert "$CA" -c "$T/jar" "$U/v1/session" -d "{\"token\":\"$OP\"}" >"$T/s.json"
grep -qi 'set-cookie' <(curl -s -D - -o /dev/null --cacert "$CA" "$U/v1/session" -d "{\"token\":\"$OP\"}") || fail "no cookie"
curl -s -D - -o /dev/null --cacert "$CA" "$U/v1/session" -d "{\"token\":\"$OP\"}" | grep -i '^set-cookie' |
    grep -q 'HttpOnly; Secure; SameSite=Strict' || fail "cookie attributes"
CSRF=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["csrf"])' "$T/s.json")
curl_code 403 "$U/v1/admin/rollouts/$RID/halt" -b "$T/jar" -X POST
grep -q 'X-CSRF-Token' "$T/.body" || fail "CSRF refusal: $(cat "$T/.body")"
curl_code 403 "$U/v1/admin/rollouts/$RID/halt" -b "$T/jar" -X POST -H "X-CSRF-Token: $(printf %064d 0)"
"$SERVER" --dir "$D" rollout status "$RID" --json | grep -q '"state": *"active"' || fail "a request without the CSRF token acted"
curl_code 401 "$U/v1/admin/rollouts" -H "Cookie: fwt_session=$(printf %064d 0)"

curl -s -D - -o /dev/null --cacert "$CA" "$U/dashboard/index.html" | grep -qi "^content-security-policy: default-src 'self'; script-src 'self'" ||
    fail "the dashboard has no strict Content-Security-Policy"
curl_code 404 "$U/dashboard/..%2Fserver.json"
curl_code 404 "$U/dashboard/.hidden"
node "$SRC/dash/test/dashboard.mjs" "$U" "$OP" "$VIC" "$RID" "$(cat "$T/d6/id")" "${SHOTS:-$T}" || fail "dashboard in Chromium"

# the halt from the UI took effect: halted, and only devices that started keep the target
"$SERVER" --dir "$D" rollout status "$RID" --json >"$T/st.json"
grep -q '"state": *"halted"' "$T/st.json" || fail "the UI halt did not reach the server"
"$SERVER" --dir "$D" assignment list --json | "$PY" -c '
import json, sys
a = [x for x in json.load(sys.stdin)["assignments"] if x["created_by"].startswith("rollout:")]
assert len(a) == 4, a   # 3 confirmed + 1 in flight; the failed and the not started reverted' || fail "assignments after the UI halt"
sim 200 "$T/c" checkin "$U" "$CA" "$T/d5"
sim 200 "$T/g" get "$U" "$CA" "$T/d5" /v1/director/targets.json
! grep -q fw-2.bin "$T/g" || fail "a device that had not started still gets the target"
echo "dashboard e2e: ok"
