#!/bin/bash
# Chapter 7: governed rollouts. Fifty file-backed devices (fwtrust-agent with file slots)
# enroll with fwtrust-server. A good release rolls out in waves of 10%, 50% and 100%: the
# first wave starts at once, the later ones only after a second administrator (role
# approver, not the creator) approves over the admin API. A bad release (its devices never
# confirm, so the bootloader rolls them back) halts itself in its first wave: the error
# threshold is crossed, the devices that had not started lose the assignment, the anomaly
# alert fires and reaches a webhook, and the dashboard shows all of it.
# Environment from scripts/demo: FWT_BIN, DEMO_DIR, FW_DIR, TOP; `say`.
set -euo pipefail
cd "$DEMO_DIR"
F=$DEMO_DIR/rollouts
rm -rf "$F" && mkdir -p "$F"
export FWTRUST_SIGNLOG_PINS=$F/signlog-pins
N=${DEMO_DEVICES:-50}
PIDS=()
stop_all() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap stop_all EXIT
sign_fw() { # sign_fw VERSION PAYLOAD OUT
    fwtrust sign --no-log --key "$F/release-key.pem" --version "$1" --header-size 0x200 --pad-header \
        --security-counter auto --hw-id lego-primehub "$2" "$3" >/dev/null 2>&1
}
srv() { fwtrust-server --dir "$F/server" "$@"; }

say "Rollouts: an image repository with a good release (4.0.0b4) and a bad one (4.0.0b5, never confirms)"
fwtrust keygen --type ed25519 -o "$F/release-key.pem" >/dev/null
fwtrust pubkey "$F/release-key.pem" -o "$F/release-key.pub.pem"
sign_fw 4.0.0+4 "$FW_DIR/pybricks-primehub-v4.0.0b4.bin" "$F/fw-good.bin"
sign_fw 4.0.0+5 "$FW_DIR/pybricks-primehub-v4.0.0b5.bin" "$F/fw-bad.bin"
for k in root targets snapshot timestamp; do fwtrust keygen --type ed25519 -o "$F/repo-$k.pem" >/dev/null; done
fwtrust repo init "$F/repo" --root-key "$F/repo-root.pem" --targets-key "$F/repo-targets.pem" \
    --snapshot-key "$F/repo-snapshot.pem" --timestamp-key "$F/repo-timestamp.pem" >/dev/null
fwtrust repo add-target "$F/repo" "$F/fw-good.bin" "$F/fw-bad.bin" --prefix lego-primehub/ \
    --key "$F/repo-targets.pem" --verify-key "$F/release-key.pub.pem" >/dev/null
fwtrust repo publish "$F/repo" --key "$F/repo-snapshot.pem" --key "$F/repo-timestamp.pem" >/dev/null

say "The fleet server with the dashboard, and a webhook receiver for alerts"
srv init "$F/server" >/dev/null
# every device checks in several times a minute here (the default allows 10 a minute)
python3 - "$F/server/server.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["checkin_burst"] = 1000; json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
SECRET=demo-webhook-secret-0123456789
python3 - "$F" "$SECRET" >"$F/hook.port" 2>/dev/null <<'PY' &
import hashlib, hmac, http.server, sys, json
F, secret = sys.argv[1], sys.argv[2].encode()
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        mac = hmac.new(secret, self.headers["X-Fwtrust-Timestamp"].encode() + b"." + body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest("sha256=" + mac, self.headers["X-Fwtrust-Signature"])
        a = json.loads(body)
        with open(F + "/webhook.log", "a") as f:
            f.write("%s alert %s on %s: %s (containment: %s)\n" % ("signature ok," if ok else "BAD SIGNATURE,",
                    a["rule"], a["subject"], a["detail"], a["containment"]))
        self.send_response(200 if ok else 400); self.send_header("Content-Length", "0"); self.end_headers()
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
PIDS+=($!)
for _ in $(seq 50); do [ -s "$F/hook.port" ] && break; sleep 0.1; done
cat >"$F/server/alerts.json" <<EOF
{"webhooks": [{"url": "http://127.0.0.1:$(cat "$F/hook.port")/alert", "secret": "$SECRET"}],
 "failure_min": 2, "storm_per_minute": 1000, "containment": {"failures-above-baseline": "halt-version"}}
EOF
srv image-repo set --metadata-url "file://$F/repo/metadata/" --root "$F/repo/metadata/1.root.json" | sed 's/^/  /'
"$TOP/scripts/build-dashboard" "$F/dash" 2>/dev/null || echo "  (npm unavailable: the dashboard is not built)"
fwtrust-server --dir "$F/server" serve --listen 127.0.0.1:0 --ready-file "$F/ready" --dashboard "$F/dash" 2>"$F/server.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$F/ready" ] && break; sleep 0.1; done
U=https://127.0.0.1:$(awk '/^https/{print $2}' "$F/ready")
echo "  $U; dashboard $U/dashboard/index.html"

say "$N file-backed devices enroll and check in"
srv enroll-token create --count "$N" >"$F/tokens"
for n in $(seq "$N"); do
    d=$F/dev$n
    mkdir -p "$d.slots" && : >"$d.slots/a" && : >"$d.slots/b"
    fwtrust-agent --device "$d" init --hw-id lego-primehub --slot-a "$d.slots/a" --slot-b "$d.slots/b" \
        --trust-key "$F/release-key.pub.pem" --tuf-root "$F/repo/metadata/1.root.json" \
        --repo "file://$F/repo" --targets 'lego-primehub/*' >/dev/null 2>&1
    sed -n "${n}p" "$F/tokens" >"$F/token"
    fwtrust-agent --device "$d" enroll --server "$U" --token "$F/token" --ca "$F/server/ca/ca.pem" \
        --serial "$(printf 'PRIMEHUB-%04d' "$n")" >/dev/null
    fwtrust-agent --device "$d" checkin >/dev/null
done
srv device list --json | python3 -c 'import json,sys; print("  %d devices enrolled" % len(json.load(sys.stdin)["devices"]))'

# one pass over the fleet: every device checks in and installs what its director names;
# CONFIRM=0: the release never confirms (the bootloader rolls it back after its tries)
fleet_pass() {
    local n d rc installed=0
    for n in $(seq "$N"); do
        d=$F/dev$n
        fwtrust-agent --device "$d" checkin >/dev/null
        rc=0
        fwtrust-agent --device "$d" update >/dev/null 2>&1 || rc=$?
        [ "$rc" = 0 ] || continue
        installed=$((installed + 1))
        if [ "${CONFIRM:-1}" = 1 ]; then
            fwtrust-boot --device "$d" >/dev/null
            fwtrust-agent --device "$d" confirm >/dev/null
        else
            for _ in 1 2 3 4; do fwtrust-boot --device "$d" >/dev/null 2>&1 || true; done
        fi
        fwtrust-agent --device "$d" checkin >/dev/null
    done
    echo "  $installed devices installed in this pass"
}
status() { srv rollout status "$1" | sed 's/^/  /'; }

say "A good release in waves (10%, 50%, 100%), created by the local administrator"
SHA_GOOD=$(sha256sum "$F/fw-good.bin" | cut -d' ' -f1)
cat >"$F/good.json" <<EOF
{"name": "4.0.0b4", "target": "lego-primehub/fw-good.bin", "length": $(stat -c %s "$F/fw-good.bin"),
 "sha256": "$SHA_GOOD", "hardware_id": "lego-primehub", "release_counter": 1,
 "select": {"hardware_id": "lego-primehub"},
 "groups": [{"name": "10%", "percent": 10, "error_threshold_count": 2, "min_sample": 2},
            {"name": "50%", "percent": 50, "error_threshold_percent": 10, "min_sample": 5},
            {"name": "100%", "percent": 100, "error_threshold_percent": 10, "min_sample": 5}]}
EOF
GOOD=$(srv rollout create --spec "$F/good.json" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
status "$GOOD"
fleet_pass
status "$GOOD"
echo "  the creator cannot approve the next waves:"
srv rollout approve "$GOOD" 2>&1 | sed 's/^/  /' || true
BOB=$(srv admin-token create bob --role approver --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
echo "  bob (role approver) approves over the admin API:"
curl -s --cacert "$F/server/ca/ca.pem" -X POST -H "Authorization: Bearer $BOB" "$U/v1/admin/rollouts/$GOOD/approve" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print("  approvals: %s, state %s" % (r["approvals"], r["state"]))'
fleet_pass
status "$GOOD"
fleet_pass
status "$GOOD"

say "A bad release: its devices never confirm; it must halt itself in its first wave"
SHA_BAD=$(sha256sum "$F/fw-bad.bin" | cut -d' ' -f1)
sed -e "s/4.0.0b4/4.0.0b5/; s#fw-good.bin#fw-bad.bin#; s/$SHA_GOOD/$SHA_BAD/; s/\"release_counter\": 1/\"release_counter\": 2/" \
    -e "s/\"length\": [0-9]*/\"length\": $(stat -c %s "$F/fw-bad.bin")/" "$F/good.json" >"$F/bad.json"
BAD=$(srv rollout create --spec "$F/bad.json" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -s --cacert "$F/server/ca/ca.pem" -X POST -H "Authorization: Bearer $BOB" "$U/v1/admin/rollouts/$BAD/approve" >/dev/null
CONFIRM=0 fleet_pass
status "$BAD"
srv rollout status "$BAD" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["state"] == "halted", r["state"]
started = sum(g["devices"] for g in r["groups"] if g["started"])
installed = sum(g["failed"] + g["confirmed"] + g["in_flight"] for g in r["groups"])
print("  halted by itself in its first wave (%d of %d devices); %d installed it, the rest of the wave reverted"
      % (started, r["devices"], installed))'
for _ in $(seq 50); do [ -s "$F/webhook.log" ] && break; sleep 0.2; done
echo "  the alert, as the webhook receiver got it:"
sed 's/^/  /' "$F/webhook.log"
echo "  the audit log's rollout decisions:"
srv events --limit 200 --json | python3 -c '
import json, sys
for e in reversed(json.load(sys.stdin)["events"]):
    if e["kind"].startswith("rollout-") and e["kind"] not in ("rollout-assign", "rollout-revert") or e["kind"] == "alert":
        print("  %-22s %-24s %s" % (e["kind"], e["actor"], e["detail"][:90]))'

say "Fleet metrics (Prometheus text, as GET /metrics serves it)"
srv metrics --prometheus | grep -E '^fwtrust_(devices_by_version|rollout_success_ratio|alerts_total|incidents_open)' | sed 's/^/  /'
echo "  the dashboard: $U/dashboard/index.html (screenshots: docs/dashboard-*.png)"
