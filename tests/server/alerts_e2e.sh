#!/bin/bash
# Alerts through the daemon: failure reports (fleet-sim) above the baseline raise an
# alert, which halts the rollout of that version (containment) and goes to three local
# webhook receivers: one that checks the HMAC signature and answers 200, one that
# answers 500 (retried with back-off, at most max_attempts times), one that hangs (the
# delivery times out; device and admin requests are answered meanwhile).
. "$(dirname "$0")/lib.sh"
srv_init checkin_burst=1000 checkin_window=60
SECRET=0123456789abcdef-webhook-secret
"$PY" - "$T" "$SECRET" >"$T/ports" 2>"$T/recv.log" <<'PY' &
import hashlib, hmac, http.server, socketserver, sys, threading, time, json
T, secret = sys.argv[1], sys.argv[2].encode()
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ts = self.headers["X-Fwtrust-Timestamp"]
        want = "sha256=" + hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(want, self.headers["X-Fwtrust-Signature"])
        kind = self.server.kind
        with open("%s/recv-%s" % (T, kind), "a") as f:
            f.write("%.3f %s %s\n" % (time.time(), "good-sig" if ok else "bad-sig", json.loads(body)["rule"]))
        if kind == "hang":
            time.sleep(30)
        code = 200 if kind == "good" and ok else 500
        self.send_response(code); self.send_header("Content-Length", "0"); self.end_headers()
servers = []
for kind in ("good", "error", "hang"):
    s = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
    s.daemon_threads = True
    s.kind = kind
    threading.Thread(target=s.serve_forever, daemon=True).start()
    servers.append(s)
print(" ".join(str(s.server_address[1]) for s in servers), flush=True)
time.sleep(600)
PY
SERVER_PIDS="$SERVER_PIDS $!"
for _ in $(seq 50); do [ -s "$T/ports" ] && break; sleep 0.1; done
read -r PG PE PH <"$T/ports"
cat >"$D/alerts.json" <<EOF
{"webhooks": [{"url": "http://127.0.0.1:$PG/hook", "secret": "$SECRET"},
              {"url": "http://127.0.0.1:$PE/hook", "secret": "$SECRET"},
              {"url": "http://127.0.0.1:$PH/hook", "secret": "$SECRET"}],
 "timeout": 2, "max_attempts": 3, "failure_min": 3, "failure_factor": 3,
 "containment": {"failures-above-baseline": "halt-version"}}
EOF
srv_start

N=6
"$SERVER" --dir "$D" enroll-token create --count $N >"$T/tokens"
for i in $(seq $N); do
    sim 200 "$T/e" enroll "$U" "$CA" "$(sed -n "${i}p" "$T/tokens")" board-1 "SN $i" "$T/d$i"
    sim 200 "$T/c" checkin "$U" "$CA" "$T/d$i"
done
SHA=$(printf 'bad firmware' | sha256sum | cut -d' ' -f1)
cat >"$T/spec.json" <<EOF
{"name": "bad", "target": "fw-bad.bin", "length": 12, "sha256": "$SHA", "hardware_id": "board-1",
 "select": {"hardware_id": "board-1"}, "groups": [{"percent": 100, "error_threshold_count": 100}]}
EOF
"$SERVER" --dir "$D" rollout create --spec "$T/spec.json" --json >"$T/r.json" || fail "rollout create"
RID=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/r.json")
for i in 1 2 3; do sim 200 "$T/r" report "$U" "$CA" "$T/d$i" failed fw-bad.bin 9 "write error"; done
VIC=$("$SERVER" --dir "$D" admin-token create vic --role viewer --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
curl_code 200 "$U/v1/admin/alerts" -H "Authorization: Bearer $VIC"
grep -q '"rule":"failures-above-baseline"' "$T/.body" || fail "no alert: $(cat "$T/.body")"
grep -q '"containment":"halt-version"' "$T/.body" || fail "containment: $(cat "$T/.body")"
"$SERVER" --dir "$D" rollout status "$RID" --json | grep -q '"state": *"halted"' || fail "the rollout of the version was not halted"

# the server keeps answering while the hanging receiver holds the delivery thread
for _ in $(seq 40); do [ -s "$T/recv-hang" ] && break; sleep 0.1; done
[ -s "$T/recv-hang" ] || fail "the hanging receiver was never called"
t0=$(date +%s%N)
curl_code 200 "$U/v1/health"
sim 200 "$T/c" checkin "$U" "$CA" "$T/d4"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 1500 ] || fail "requests took $ms ms while a webhook receiver hung"

# deliveries: the good receiver once with a valid signature; the failing one retried, bounded
for _ in $(seq 150); do
    [ "$(wc -l <"$T/recv-error" 2>/dev/null || echo 0)" -ge 3 ] && [ "$(wc -l <"$T/recv-hang" 2>/dev/null || echo 0)" -ge 3 ] && break
    sleep 0.2
done
[ "$(cat "$T/recv-good" | wc -l)" = 1 ] || fail "good receiver: $(cat "$T/recv-good")"
grep -q 'good-sig failures-above-baseline' "$T/recv-good" || fail "signature: $(cat "$T/recv-good")"
[ "$(wc -l <"$T/recv-error")" = 3 ] || fail "error receiver got $(wc -l <"$T/recv-error") attempts, expected 3"
"$PY" - "$T/recv-error" <<'PY' || fail "no back-off between attempts"
import sys
t = [float(l.split()[0]) for l in open(sys.argv[1])]
assert t[1] - t[0] >= 0.9 and t[2] - t[1] >= 1.9, t
PY
sleep 5 # a fourth attempt would come within 4 s
[ "$(wc -l <"$T/recv-error")" = 3 ] || fail "deliveries were not bounded"
curl_code 200 "$U/v1/admin/alerts" -H "Authorization: Bearer $VIC"
grep -q '"delivered":1' "$T/.body" || fail "delivery count: $(cat "$T/.body")"
echo "alerts e2e: ok"
