#!/bin/bash
# Remote attestation through the fleet server (docs/attestation.md, docs/fleet-protocol.md)
# on a real TPM 2.0 (swtpm on a free loopback port, its EK certificate from a local
# "manufacturer" CA): fleet enrollment, then at the first check-in the attestation key's
# enrollment (the server's MakeCredential, the TPM's ActivateCredential), measured boot,
# check-in with a quote on a fresh server nonce: a pass recorded, signed by the server,
# shown by `device show`. A replayed nonce is refused by the server. A device booting an
# image that is not in the catalog fails with its reason: an event, an alert, the tamper
# metric, and no assignment from a rollout that requires attestation - until it boots a
# good image again. SQLite here, PostgreSQL through with_pg.sh (FWT_TEST_DB_URL).
. "$SRC/tests/attest/lib.sh"
: "${SERVER:?}"

# The device, its TPM, the images (v1, v2 published; v3 signed and logged, never published).
setup_enrolled_device >/dev/null
mkimg "$T/v3.bin" 3.0.0 3 --log "$T/log.db"
rm -f "$T/ak.json" "$T/pending.json" # the command-line enrollment of the setup is not the server's

# The server.
D=$T/srv
if [ -n "${FWT_TEST_DB_URL:-}" ]; then
    "$SERVER" init "$D" --database "$FWT_TEST_DB_URL" >/dev/null || fail "server init"
else
    "$SERVER" init "$D" >/dev/null || fail "server init"
fi
srv() { "$SERVER" --dir "$D" "$@"; }
"$PY" - "$D/server.json" <<'PY' # this test checks in more often than the default rate allows
import json, sys
c = json.load(open(sys.argv[1])); c["checkin_burst"] = 1000
json.dump(c, open(sys.argv[1], "w"))
PY
# attest.json: the manufacturers' CA, the published targets and the signing log (with its
# pinned public key): the catalog holds what is both published and logged.
expect 0 "" "$FWTRUST" pubkey "$T/logkey.pem" -o "$T/logkey.pub"
cat >"$D/attest.json" <<EOF
{"ek_ca": "$T/tpm/ca.pem", "targets": ["$T/repo/metadata/1.targets.json"], "signlog": "$T/log.db",
 "signlog_key": "$T/logkey.pub", "nonce_ttl": 120}
EOF
rm -f "$T/ready"
"$SERVER" --dir "$D" serve --listen 127.0.0.1:0 --ready-file "$T/ready" 2>>"$T/server.log" &
SERVER_PIDS="$SERVER_PIDS $!"
for _ in $(seq 100); do [ -s "$T/ready" ] && break; sleep 0.1; done
[ -s "$T/ready" ] || { cat "$T/server.log" >&2; fail "the server did not start"; }
U=https://127.0.0.1:$(awk '/^https/{print $2}' "$T/ready")

srv enroll-token create >"$T/token" || fail "token"
expect 0 "" A --json enroll --server "$U" --token "$T/token" --ca "$D/ca/ca.pem" --serial "SN-1"
ID=$(jget 'd["device_id"]' cat "$T/.out")

# Measured boot of v1, then a check-in: the AK is enrolled, the quote passes.
expect 0 "" A install "$T/v1.bin"
expect 0 "" "$BOOT" --device "$T/dev"
expect 0 "" A confirm
expect 0 "" A --json checkin
[ "$(jget 'd["attestation"]["verdict"], d["attestation"]["reason"], d["attestation"]["key_enrolled"]' cat "$T/.out")" = \
    "('pass', 'none', True)" ] || fail "first check-in: $(cat "$T/.out")"
[ -f "$T/dev/fleet/attest-ak" ] || fail "no attest-ak mark"
# The catalog from the server's own TUF client of the image repository (image-repo set:
# refreshed and verified at each verification) instead of metadata files.
srv image-repo set --metadata-url "file://$T/repo/metadata/" --root "$T/repo/metadata/1.root.json" >/dev/null ||
    fail "image-repo set"
cat >"$D/attest.json" <<EOF
{"ek_ca": "$T/tpm/ca.pem", "image_repo": true, "signlog": "$T/log.db", "signlog_key": "$T/logkey.pub",
 "nonce_ttl": 120}
EOF
expect 0 "attestation: pass (none)" A checkin
grep -q "attestation key enrolled" "$T/.out" && fail "the key was enrolled twice"

# device show: the key's state and the record, signed by the server (checked in Python).
srv device show "$ID" --json >"$T/show.json" || fail "device show"
"$PY" - "$T/show.json" "$D/log.key" <<'PY' || fail "device show: $(cat "$T/show.json")"
import json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
d = json.load(open(sys.argv[1]))
assert d["attestation_key"] == "active", d
a = d["attestation"]
assert a["verdict"] == "pass" and a["reason"] == "none" and a["running"] == "v1.bin 1.0.0+0", a
c = a["record"]["signed"]
assert c["swname"] == "v1.bin" and c["fwtrust"]["verdict"] == "pass", c
key = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), None)
canon = json.dumps(c, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
key.public_key().verify(bytes.fromhex(a["record"]["signatures"][0]["sig"]), canon, ec.ECDSA(hashes.SHA256()))
PY

# A replayed nonce: the same quote submitted twice over mutual TLS; the second is refused.
cert=$(sed -n 's/^cert = //p' "$T/dev/device.ini")
key=$(sed -n 's/^key = //p' "$T/dev/device.ini" | tail -n 1)
case $cert in /*) ;; *) cert=$T/dev/$cert ;; esac
case $key in /*) ;; *) key=$T/dev/$key ;; esac
dcurl() { curl -s -o "$T/.body" -w '%{http_code}' --cacert "$D/ca/ca.pem" --cert "$cert" --key "$key" -X POST "$@"; }
[ "$(dcurl "$U/v1/attest/nonce" -d '{}')" = 200 ] || fail "nonce: $(cat "$T/.body")"
N=$(jget 'd["nonce"]' cat "$T/.body")
expect 0 "" A attest quote --nonce "$N" -o "$T/ev.json"
"$PY" -c 'import json,sys; print(json.dumps({"nonce": sys.argv[1], "evidence": json.load(open(sys.argv[2]))}))' \
    "$N" "$T/ev.json" >"$T/quote.json"
[ "$(dcurl "$U/v1/attest/quote" --data-binary @"$T/quote.json")" = 200 ] || fail "quote: $(cat "$T/.body")"
[ "$(jget 'd["verdict"]' cat "$T/.body")" = pass ] || fail "quote: $(cat "$T/.body")"
[ "$(dcurl "$U/v1/attest/quote" --data-binary @"$T/quote.json")" = 200 ] || fail "replay: $(cat "$T/.body")"
[ "$(jget 'd["verdict"], d["reason"]' cat "$T/.body")" = "('fail', 'nonce_replayed')" ] ||
    fail "a replayed nonce was not refused: $(cat "$T/.body")"
# Two server processes on one database: a nonce issued by one is used at the other, and the
# replay at the first is refused (the nonces live in the database, not in a process).
"$SERVER" --dir "$D" serve --listen 127.0.0.1:0 --ready-file "$T/ready2" 2>>"$T/server2.log" &
SERVER_PIDS="$SERVER_PIDS $!"
for _ in $(seq 100); do [ -s "$T/ready2" ] && break; sleep 0.1; done
U2=https://127.0.0.1:$(awk '/^https/{print $2}' "$T/ready2")
[ "$(dcurl "$U/v1/attest/nonce" -d '{}')" = 200 ] || fail "nonce: $(cat "$T/.body")"
N=$(jget 'd["nonce"]' cat "$T/.body")
expect 0 "" A attest quote --nonce "$N" -o "$T/ev.json"
"$PY" -c 'import json,sys; print(json.dumps({"nonce": sys.argv[1], "evidence": json.load(open(sys.argv[2]))}))' \
    "$N" "$T/ev.json" >"$T/quote.json"
[ "$(dcurl "$U2/v1/attest/quote" --data-binary @"$T/quote.json")" = 200 ] || fail "quote at the second: $(cat "$T/.body")"
[ "$(jget 'd["verdict"]' cat "$T/.body")" = pass ] || fail "nonce of the first at the second: $(cat "$T/.body")"
[ "$(dcurl "$U/v1/attest/quote" --data-binary @"$T/quote.json")" = 200 ] || fail "replay at the first: $(cat "$T/.body")"
[ "$(jget 'd["verdict"], d["reason"]' cat "$T/.body")" = "('fail', 'nonce_replayed')" ] ||
    fail "a nonce used at the second server was accepted by the first: $(cat "$T/.body")"
kill "${SERVER_PIDS##* }"
wait "${SERVER_PIDS##* }" 2>/dev/null
SERVER_PIDS=${SERVER_PIDS% *}
# without a device certificate: refused before anything
[ "$(curl -s -o "$T/.body" -w '%{http_code}' --cacert "$D/ca/ca.pem" -X POST "$U/v1/attest/nonce" -d '{}')" = 401 ] ||
    fail "a nonce without a device certificate"
# a malformed body: 400, nothing recorded
[ "$(dcurl "$U/v1/attest/quote" -d '{"nonce":"00"}')" = 400 ] || fail "malformed quote body: $(cat "$T/.body")"

# An AK that was never activated: a new enrollment request replaces the key, pending; a quote
# now fails ak_not_activated; the agent's next check-in enrolls again and passes.
expect 0 "" A attest request -o "$T/req.json"
[ "$(dcurl "$U/v1/attest/enroll" --data-binary @"$T/req.json")" = 200 ] || fail "enroll: $(cat "$T/.body")"
[ "$(jget 'd["type"]' cat "$T/.body")" = fwtrust-attest-challenge ] || fail "challenge: $(cat "$T/.body")"
srv device show "$ID" --json >"$T/show.json"
[ "$(jget 'd["attestation_key"]' cat "$T/show.json")" = pending ] || fail "key state: $(cat "$T/show.json")"
[ "$(dcurl "$U/v1/attest/nonce" -d '{}')" = 200 ] || fail "nonce: $(cat "$T/.body")"
N=$(jget 'd["nonce"]' cat "$T/.body")
expect 0 "" A attest quote --nonce "$N" -o "$T/ev.json"
"$PY" -c 'import json,sys; print(json.dumps({"nonce": sys.argv[1], "evidence": json.load(open(sys.argv[2]))}))' \
    "$N" "$T/ev.json" >"$T/quote.json"
[ "$(dcurl "$U/v1/attest/quote" --data-binary @"$T/quote.json")" = 200 ] || fail "quote: $(cat "$T/.body")"
[ "$(jget 'd["verdict"], d["reason"]' cat "$T/.body")" = "('fail', 'ak_not_activated')" ] ||
    fail "a pending AK: $(cat "$T/.body")"
# a wrong credential is refused (403), the key stays pending
echo '{"type":"fwtrust-attest-activation","credential":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}' >"$T/act.json"
[ "$(dcurl "$U/v1/attest/activate" --data-binary @"$T/act.json")" = 403 ] || fail "wrong credential: $(cat "$T/.body")"
expect 0 "" A --json checkin
[ "$(jget 'd["attestation"]["verdict"], d["attestation"]["key_enrolled"]' cat "$T/.out")" = "('pass', True)" ] ||
    fail "re-enrollment after ak_not_activated: $(cat "$T/.out")"

# An EK certificate from a CA the server does not trust as a TPM manufacturer: refused (403
# ek_refused), nothing changed (attest.json is read per request).
cp "$D/attest.json" "$T/attest.good"
sed -i "s|\"ek_ca\": \"[^\"]*\"|\"ek_ca\": \"$D/ca/ca.pem\"|" "$D/attest.json"
grep -q "\"ek_ca\": \"$D/ca/ca.pem\"" "$D/attest.json" || fail "attest.json not rewritten"
[ "$(dcurl "$U/v1/attest/enroll" --data-binary @"$T/req.json")" = 403 ] || fail "foreign EK CA: $(cat "$T/.body")"
[ "$(jget 'd["error"]' cat "$T/.body")" = ek_refused ] || fail "foreign EK CA: $(cat "$T/.body")"
cp "$T/attest.good" "$D/attest.json"
srv device show "$ID" --json >"$T/show.json"
[ "$(jget 'd["attestation_key"]' cat "$T/show.json")" = active ] || fail "a refused enrollment changed the key"

# A rollout that requires a fresh attestation pass (bad policy values are refused).
SHA=$(sha256sum "$T/v2.bin" | cut -d' ' -f1)
LEN=$(stat -c %s "$T/v2.bin")
spec() {
    echo "{\"name\":\"v2\",\"target\":\"v2.bin\",\"length\":$LEN,\"sha256\":\"$SHA\",\"hardware_id\":\"hw1\",
          \"release_counter\":2,\"select\":{\"hardware_id\":\"hw1\"},\"require_attestation\":\"$1\",
          \"attestation_max_age\":600,\"groups\":[{\"percent\":100,\"error_threshold_count\":1}]}"
}
spec sometimes >"$T/bad-spec.json"
expect 1 "require_attestation" srv rollout create --spec "$T/bad-spec.json"

# The device boots an image that is not in the catalog (v3: signed, never published).
expect 0 "" A install "$T/v3.bin"
tpm_reset
expect 0 "" "$BOOT" --device "$T/dev"
expect 0 "" A --json checkin
[ "$(jget 'd["attestation"]["verdict"], d["attestation"]["reason"]' cat "$T/.out")" = "('fail', 'unknown_image')" ] ||
    fail "an image outside the catalog: $(cat "$T/.out")"
srv events --json >"$T/events.json" || fail "events"
grep -q '"attestation-failed"' "$T/events.json" || fail "no attestation-failed event"
srv metrics --json >"$T/metrics.json" || fail "metrics"
"$PY" - "$T/metrics.json" <<'PY' || fail "metrics: $(cat "$T/metrics.json")"
import json, sys
m = json.load(open(sys.argv[1]))
t = m["tamper"]["by_reason"]
assert t.get("attestation:unknown_image") == 1 and t.get("attestation:nonce_replayed") == 2, t
assert m["alerts"].get("attestation-failed", 0) >= 1, m["alerts"]
PY
srv metrics --prometheus >"$T/prom.txt" || fail "metrics --prometheus"
grep -q 'fwtrust_tamper_detections_total{reason="attestation:unknown_image"} 1' "$T/prom.txt" ||
    fail "prometheus: $(grep tamper "$T/prom.txt")"

# The rollout requires attestation: the failing device gets no assignment.
spec all >"$T/spec.json"
expect 0 "" srv --json rollout create --spec "$T/spec.json"
RID=$(jget 'd["id"]' cat "$T/.out")
sleep 6 # the daemon evaluates rollouts every 5 s
srv rollout status "$RID" --json >"$T/rs.json" || fail "rollout status"
expect 0 "" srv assignment list --json
grep -q "rollout:$RID" "$T/.out" && fail "a device that failed attestation was assigned: $(cat "$T/.out")"
[ "$(jget '(d["groups"][0]["pending"], d["groups"][0]["assigned"])' cat "$T/rs.json")" = "(1, 0)" ] ||
    fail "rollout: $(cat "$T/rs.json")"
expect 0 "" A --json checkin
TV0=$(jget 'd["director_targets_version"]' cat "$T/.out")

# Back to the good image: the next check-in passes, the rollout admits the device.
expect 0 "" A rollback
tpm_reset
expect 0 "" "$BOOT" --device "$T/dev"
expect 0 "" A --json checkin
[ "$(jget 'd["attestation"]["verdict"]' cat "$T/.out")" = pass ] || fail "after rollback: $(cat "$T/.out")"
for _ in $(seq 40); do
    srv assignment list --json >"$T/as.json" 2>/dev/null
    grep -q "rollout:$RID" "$T/as.json" && break
    sleep 0.5
done
grep -q "rollout:$RID" "$T/as.json" || fail "the attested device was not admitted: $(cat "$T/as.json")"
expect 0 "" A --json checkin
[ "$(jget 'd["director_targets_version"]' cat "$T/.out")" -gt "$TV0" ] ||
    fail "the assignment is not seen: $(cat "$T/.out")"

# The assigned release is checked once the device says it holds it: v2 installed (trial) but
# v1 still booted. The manifest of the first check-in tells the server; the second fails.
expect 0 "" A install "$T/v2.bin"
expect 0 "" A --json checkin
[ "$(jget 'd["attestation"]["verdict"]' cat "$T/.out")" = pass ] || fail "before the manifest: $(cat "$T/.out")"
expect 0 "" A --json checkin
[ "$(jget 'd["attestation"]["verdict"], d["attestation"]["reason"]' cat "$T/.out")" = "('fail', 'not_assigned_release')" ] ||
    fail "a device claiming the assigned release and booting another: $(cat "$T/.out")"
# rebooted into it: the assigned release is proven
tpm_reset
expect 0 "" "$BOOT" --device "$T/dev"
expect 0 "" A --json checkin
[ "$(jget 'd["attestation"]["verdict"]' cat "$T/.out")" = pass ] || fail "the assigned release booted: $(cat "$T/.out")"
srv device show "$ID" --json >"$T/show.json" || fail "device show"
[ "$(jget 'd["attestation"]["running"], d["attestation"]["record"]["signed"]["swname"]' cat "$T/show.json")" = \
    "('v2.bin 2.0.0+0', 'v2.bin')" ] || fail "device show after v2: $(cat "$T/show.json")"
# the device's update report (confirmed) carries its newest attestation
expect 0 "" A confirm
srv events --json >"$T/events.json" || fail "events"
grep -Eq 'confirmed error 0: [^"]*\[attestation #[0-9]+ pass none\]' "$T/events.json" ||
    fail "the report does not carry the attestation: $(grep -o '"detail":"[^"]*confirmed[^"]*"' "$T/events.json")"

# A server without attest.json tells the device so (501); the check-in goes on.
kill "${SERVER_PIDS##* }" 2>/dev/null
wait "${SERVER_PIDS##* }" 2>/dev/null
mv "$D/attest.json" "$D/attest.off"
rm -f "$T/ready"
"$SERVER" --dir "$D" serve --listen "127.0.0.1:${U##*:}" --ready-file "$T/ready" 2>>"$T/server.log" &
SERVER_PIDS="$SERVER_PIDS $!"
for _ in $(seq 100); do [ -s "$T/ready" ] && break; sleep 0.1; done
expect 0 "" A --json checkin
[ "$(jget 'd["attestation"]' cat "$T/.out")" = None ] || fail "no attestation expected: $(cat "$T/.out")"
# the server stops cleanly, without a sanitizer report (the ASan+UBSan build)
pid=${SERVER_PIDS##* }
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 0 ] || { cat "$T/server.log" >&2; fail "the server exited $rc on SIGTERM"; }
! grep -q 'Sanitizer' "$T/server.log" || { cat "$T/server.log" >&2; fail "sanitizer report in the server's log"; }
echo "server_attest_e2e: ok"
