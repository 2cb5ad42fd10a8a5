#!/bin/bash
# fwtrust-server end to end, on SQLite or (with_pg.sh) PostgreSQL: enrollment with
# one-time tokens, signed check-ins with replay, signature and identity refusals,
# director metadata, admin API roles, bad input and limits, rate limit, slow clients,
# revocation at TLS and API, the audit log; nothing written for a refused request.
. "$(dirname "$0")/lib.sh"
srv_init checkin_burst=6 checkin_window=3600 timeout=2
srv_start --plain-listen 127.0.0.1:0

curl_code 200 "$U/v1/health"
grep -q '"db":"'"${FWT_TEST_DB_URL:+postgresql}" "$T/.body" || [ -z "${FWT_TEST_DB_URL:-}" ] || fail "health: not on postgresql"

# ---- enrollment
T1=$(token)
sim 200 "$T/e1" enroll "$U" "$CA" "$T1" board-1 "SN 0001" "$T/d1"
ID1=$(cat "$T/d1/id")
openssl verify -CAfile "$CA" "$T/d1/cert.pem" >/dev/null || fail "device certificate does not chain to the fleet CA"
openssl x509 -in "$T/d1/cert.pem" -noout -subject | grep -q "CN *= *$ID1" || fail "certificate subject is not the device id"
days=$(( ( $(date -d "$(openssl x509 -in "$T/d1/cert.pem" -noout -enddate | cut -d= -f2)" +%s) - $(date +%s) ) / 86400 ))
[ "$days" -ge 29 ] && [ "$days" -le 30 ] || fail "certificate lifetime $days days, expected 30"
sim 401 "$T/e" enroll "$U" "$CA" "$T1" board-1 "SN 0002" "$T/dx"          # token used
grep -q bad_token "$T/e" || fail "reused token: $(cat "$T/e")"
sim 409 "$T/e" enroll "$U" "$CA" "$(token)" board-1 "SN 0001" "$T/dx"     # serial taken
grep -q serial_enrolled "$T/e" || fail "serial taken: $(cat "$T/e")"
sim 401 "$T/e" enroll "$U" "$CA" "$(token --ttl 1 && sleep 2)" board-1 "SN 0003" "$T/dx"  # expired
T2=$(token)
sim 200 "$T/e2" enroll "$U" "$CA" "$T2" board-2 "SN 0002" "$T/d2"
ID2=$(cat "$T/d2/id")
# a CSR that is not one, a bad token syntax
curl_code 400 "$U/v1/enroll" -d "{\"token\":\"$(token)\",\"csr\":\"-----BEGIN CERTIFICATE REQUEST-----\\nAAAA\\n\",\"hardware_id\":\"b\",\"serial\":\"x\"}"
curl_code 400 "$U/v1/enroll" -d '{"token":"zz","csr":"x","hardware_id":"b","serial":"x"}'

# ---- check-in
sim 200 "$T/c" checkin "$U" "$CA" "$T/d1"
grep -q '"director_targets_version":1' "$T/c" || fail "check-in answer: $(cat "$T/c")"
grep -q '"renew_before"' "$T/c" || fail "check-in answer lacks renew_before"
events() { "$SERVER" --dir "$D" events --limit 10000 --json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["events"]))'; }
counter() { "$SERVER" --dir "$D" device show "$1" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["counter"])'; }
n0=$(events); c0=$(counter "$ID1")
sim 409 "$T/c" checkin "$U" "$CA" "$T/d1" --stale                        # the same manifest again
grep -q '"replay"' "$T/c" || fail "replay: $(cat "$T/c")"
sim 409 "$T/c" checkin "$U" "$CA" "$T/d1" --counter 1                    # an old counter, fresh nonce
sim 403 "$T/c" checkin "$U" "$CA" "$T/d1" --bad-sig
grep -q bad_signature "$T/c" || fail "bad signature: $(cat "$T/c")"
sim 403 "$T/c" checkin "$U" "$CA" "$T/d1" --as "$ID2"                     # a manifest for another device
grep -q device_mismatch "$T/c" || fail "other device: $(cat "$T/c")"
# a manifest signed by another key (d2's) over d1's certificate
sim 403 "$T/c" checkin "$U" "$CA" "$T/d1" --sign-key "$T/d2/key.pem"
cp -r "$T/d1" "$T/d1x" # d1 as it is now: its counter will fall behind
curl_code 400 "$U/v1/checkin" --cert "$T/d1/cert.pem" --key "$T/d1/key.pem" -d '{"signed":'
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big"
curl_code 413 "$U/v1/checkin" --cert "$T/d1/cert.pem" --key "$T/d1/key.pem" --data-binary @"$T/big"
curl_code 401 "$U/v1/checkin" -d '{}'                                     # no client certificate
# a certificate of the fleet CA that no device has
openssl ecparam -name prime256v1 -genkey -noout -out "$T/stray.key" 2>/dev/null
openssl req -new -key "$T/stray.key" -subj /CN=stray -out "$T/stray.csr"
openssl x509 -req -in "$T/stray.csr" -CA "$CA" -CAkey "$D/ca/ca.key" -CAcreateserial -days 1 -out "$T/stray.pem" 2>/dev/null
curl_code 403 "$U/v1/checkin" --cert "$T/stray.pem" --key "$T/stray.key" -d '{}'
grep -q unknown_device "$T/.body" || fail "stray certificate: $(cat "$T/.body")"
# an expired certificate of the fleet CA (short-lived certificates end): refused in the handshake
"$PY" - "$D/ca/ca.pem" "$D/ca/ca.key" "$T/stray.key" "$T/expired.pem" <<'PY'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
ca = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
cakey = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), None)
key = serialization.load_pem_private_key(open(sys.argv[3], "rb").read(), None)
now = datetime.datetime.utcnow()
cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")]))
        .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=40)).not_valid_after(now - datetime.timedelta(days=10))
        .sign(cakey, hashes.SHA256()))
open(sys.argv[4], "wb").write(cert.public_bytes(serialization.Encoding.PEM))
PY
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" --cert "$T/expired.pem" --key "$T/stray.key" "$U/v1/health" || true)
[ "$code" = 000 ] || fail "an expired device certificate completed the handshake (HTTP $code)"
# the two signature refusals (--bad-sig, --sign-key) are kept as tamper events, nothing else
[ "$(events)" = "$((n0 + 2))" ] && [ "$(counter "$ID1")" = "$c0" ] || fail "a refused request wrote to the database"
[ "$("$SERVER" --dir "$D" events --device "$ID1" --limit 10 --json | "$PY" -c '
import json, sys
print(sum(e["kind"] == "signature-refused" for e in json.load(sys.stdin)["events"]))')" = 2 ] ||
    fail "signature refusals are not in the event log"
"$SERVER" --dir "$D" metrics --prometheus >"$T/prom.txt"
grep -qx 'fwtrust_manifest_signature_failures_total 2' "$T/prom.txt" ||
    fail "manifest signature metric: $(grep signature "$T/prom.txt")"
# kept at most checkin_burst (6) per device and window: a flood of forgeries is refused, not stored
for i in 1 2 3 4 5; do sim 403 "$T/c" checkin "$U" "$CA" "$T/d1" --bad-sig; done
"$SERVER" --dir "$D" metrics --prometheus | grep -qx 'fwtrust_manifest_signature_failures_total 6' ||
    fail "signature refusals beyond the burst were stored"
curl_code 404 "$U/v1/nothing"
curl_code 405 "$U/v1/checkin" --cert "$T/d1/cert.pem" --key "$T/d1/key.pem"
curl_code 404 "$U/v1/director/..%2Fca%2Fca.key" --cert "$T/d1/cert.pem" --key "$T/d1/key.pem"
curl_code 404 "$U/v1/director/2.root.json" --cert "$T/d1/cert.pem" --key "$T/d1/key.pem"

# ---- renewal: a new key and certificate; the check-ins go on under the new one
sim 200 "$T/n" renew "$U" "$CA" "$T/d1"
cmp -s "$T/d1/cert.pem" "$T/d1/old-cert.pem" && fail "renew gave the same certificate"
openssl verify -CAfile "$CA" "$T/d1/cert.pem" >/dev/null || fail "renewed certificate does not chain"
sim 200 "$T/c" checkin "$U" "$CA" "$T/d1"
curl_code 400 "$U/v1/renew" --cert "$T/d1/cert.pem" --key "$T/d1/key.pem" -d '{"csr":"not a csr"}'
curl_code 401 "$U/v1/renew" -d '{"csr":"x"}'

# ---- director metadata and assignment
sim 200 "$T/g" get "$U" "$CA" "$T/d1" /v1/director/1.root.json
cmp <(tail -n +2 "$T/g" | tr -d '\n') <(tr -d '\n' <"$D/director/1.root.json") || fail "1.root.json differs"
printf 'firmware 2.0' >"$T/fw-2.bin"
"$SERVER" --dir "$D" device tag "$ID1" --add canary >/dev/null
expect 0 "fw-2.bin" "$SERVER" --dir "$D" assign fw-2.bin --tag canary --file "$T/fw-2.bin" --release-counter 4
sim 200 "$T/c" checkin "$U" "$CA" "$T/d1"
grep -q '"director_targets_version":2' "$T/c" || fail "assignment did not raise the targets version: $(cat "$T/c")"
sim 200 "$T/g" get "$U" "$CA" "$T/d1" /v1/director/targets.json
grep -q '"fw-2.bin"' "$T/g" && grep -q "\"device_id\":\"$ID1\"" "$T/g" && grep -q '"release_counter":4' "$T/g" ||
    fail "targets.json: $(cat "$T/g")"
# the project's TUF client reads the device's director repository over mutual TLS
expect 0 "" "$TUF_CLIENT" --metadata-dir "$T/tuf" init "$D/director/1.root.json"
expect 0 "targets v2" "$TUF_CLIENT" --ca-file "$CA" --client-cert "$T/d1/cert.pem" --client-key "$T/d1/key.pem" \
    --metadata-url "$U/v1/director" --metadata-dir "$T/tuf" refresh
expect 0 "fw-2.bin	targets	12	$(sha256sum "$T/fw-2.bin" | cut -d" " -f1)" "$TUF_CLIENT" --ca-file "$CA" --client-cert "$T/d1/cert.pem" --client-key "$T/d1/key.pem" \
    --metadata-url "$U/v1/director" --metadata-dir "$T/tuf" list
sim 200 "$T/g" get "$U" "$CA" "$T/d2" /v1/director/timestamp.json
sim 200 "$T/g" get "$U" "$CA" "$T/d2" /v1/director/targets.json
grep -q '"targets":{}' "$T/g" || fail "d2 (untagged) was assigned something: $(cat "$T/g")"
sim 200 "$T/r" report "$U" "$CA" "$T/d1" installed-trial fw-2.bin 0 "installed, booting"
sim 409 "$T/r" report "$U" "$CA" "$T/d1x" confirmed fw-2.bin 0 "x"          # d1x's counter is behind: replay
"$SERVER" --dir "$D" device list >"$T/list"
grep -q "$ID1" "$T/list" && grep -q canary "$T/list" || fail "device list: $(cat "$T/list")"

# ---- admin API
VIEW=$("$SERVER" --dir "$D" admin-token create alice --role viewer)
OPER=$("$SERVER" --dir "$D" admin-token create olga --role operator)
APPR=$("$SERVER" --dir "$D" admin-token create bob --role approver)
curl_code 401 "$U/v1/admin/devices"
curl_code 401 "$U/v1/admin/devices" -H "Authorization: Bearer 0000000000000000000000000000000000000000000000000000000000000000"
curl_code 200 "$U/v1/admin/devices" -H "Authorization: Bearer $VIEW"
grep -q "$ID2" "$T/.body" || fail "admin device list"
curl_code 200 "$U/v1/admin/devices?tag=canary" -H "Authorization: Bearer $VIEW"
grep -q "$ID2" "$T/.body" && fail "tag filter"
curl_code 200 "$U/v1/admin/devices/$ID1" -H "Authorization: Bearer $VIEW"
SHA=$(sha256sum "$T/fw-2.bin" | cut -d' ' -f1)
A="{\"scope\":\"device\",\"subject\":\"$ID2\",\"target\":\"fw-2.bin\",\"length\":12,\"sha256\":\"$SHA\",\"release_counter\":4}"
curl_code 403 "$U/v1/admin/assignments" -H "Authorization: Bearer $VIEW" -d "$A"
curl_code 403 "$U/v1/admin/assignments" -H "Authorization: Bearer $OPER" -d "$A"
curl_code 200 "$U/v1/admin/assignments" -H "Authorization: Bearer $APPR" -d "$A"
curl_code 400 "$U/v1/admin/assignments" -H "Authorization: Bearer $APPR" -d '{"scope":"device","bogus":1}'
curl_code 200 "$U/v1/admin/devices/$ID2/tags" -H "Authorization: Bearer $OPER" -d '{"add":["eu","line-3"]}'
grep -q line-3 "$T/.body" || fail "tags via the admin API"
# an administrator's client certificate instead of a bearer token (mutual TLS)
expect 1 "--role" "$SERVER" --dir "$D" admin-cert create ops --cert "$T/ops.pem" --key "$T/ops.key"
expect 1 "admin name" "$SERVER" --dir "$D" admin-cert create "o ps" --role operator --cert "$T/ops.pem" --key "$T/ops.key"
[ ! -e "$T/ops.key" ] || fail "a refused admin-cert create wrote the key"
"$SERVER" --dir "$D" admin-cert create ops --role operator --cert "$T/ops.pem" --key "$T/ops.key" >/dev/null ||
    fail "admin-cert create"
expect 1 "exists" "$SERVER" --dir "$D" admin-cert create ops2 --role viewer --cert "$T/ops.pem" --key "$T/ops2.key"
openssl verify -CAfile "$CA" "$T/ops.pem" >/dev/null || fail "the admin certificate does not chain to the fleet CA"
[ "$(stat -c %a "$T/ops.key")" = 600 ] || fail "admin key mode $(stat -c %a "$T/ops.key")"
OC=(--cert "$T/ops.pem" --key "$T/ops.key")
curl_code 200 "$U/v1/admin/devices" "${OC[@]}"
curl_code 200 "$U/v1/admin/devices/$ID2/tags" "${OC[@]}" -H 'Content-Type: application/json' -d '{"add":["by-cert"]}'
grep -q by-cert "$T/.body" || fail "tags with an admin certificate"
curl_code 403 "$U/v1/admin/devices/$ID2/tags" "${OC[@]}" -d '{"add":["form"]}'   # a form post: not JSON
curl_code 403 "$U/v1/admin/assignments" "${OC[@]}" -H 'Content-Type: application/json' -d "$A"  # operator < approver
grep -q '"forbidden"' "$T/.body" || fail "role of the admin certificate: $(cat "$T/.body")"
curl_code 401 "$U/v1/admin/devices" --cert "$T/d1/cert.pem" --key "$T/d1/key.pem"   # a device's certificate
curl_code 403 "$U/v1/checkin" "${OC[@]}" -d '{}'                                     # and no device
"$SERVER" --dir "$D" events --limit 1000 --json >/dev/null
"$FWTRUST" log show --log "$D/audit.db" --json | grep -q '"admin:ops"' || fail "the admin certificate's actor is not in the audit log"
# device attributes: the admin API (operator) and the command line
curl_code 403 "$U/v1/admin/devices/$ID2/attrs" -H "Authorization: Bearer $VIEW" -d '{"set":["region=eu"]}'
curl_code 200 "$U/v1/admin/devices/$ID2/attrs" -H "Authorization: Bearer $OPER" -d '{"set":["region=eu","site=b"]}'
"$PY" -c 'import json,sys; a=json.load(open(sys.argv[1]))["attrs"]; assert a == {"region":"eu","site":"b"}, a' "$T/.body" ||
    fail "attrs via the admin API: $(cat "$T/.body")"
curl_code 200 "$U/v1/admin/devices/$ID2/attrs" -H "Authorization: Bearer $OPER" -d '{"unset":["site"]}'
curl_code 400 "$U/v1/admin/devices/$ID2/attrs" -H "Authorization: Bearer $OPER" -d '{"set":["region"]}'
curl_code 400 "$U/v1/admin/devices/$ID2/attrs" -H "Authorization: Bearer $OPER" -d '{"unset":[1]}'
curl_code 400 "$U/v1/admin/devices/$ID2/attrs" -H "Authorization: Bearer $OPER" -d '{"set":["bad key=x"]}'
curl_code 404 "$U/v1/admin/devices/nobody/attrs" -H "Authorization: Bearer $OPER" -d '{"set":["region=eu"]}'
"$SERVER" --dir "$D" device attr "$ID1" region=us "note=a b=c" >"$T/attr.txt" || fail "device attr"
grep -q "note=a b=c region=us" "$T/attr.txt" || fail "device attr: $(cat "$T/attr.txt")"
"$SERVER" --dir "$D" device attr "$ID1" region >/dev/null 2>&1 && fail "device attr took an argument without ="
"$SERVER" --dir "$D" device attr "$ID1" --unset note --json | "$PY" -c '
import json, sys; a = json.load(sys.stdin)["attrs"]; assert a == {"region": "us"}, a' || fail "device attr --unset"
"$SERVER" --dir "$D" device show "$ID2" --json | "$PY" -c '
import json, sys; a = json.load(sys.stdin)["attrs"]; assert a == {"region": "eu"}, a' || fail "device show: attrs"
curl_code 200 "$U/v1/admin/enroll-tokens" -H "Authorization: Bearer $OPER" -d '{"count":3}'
[ "$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["tokens"]))' "$T/.body")" = 3 ] || fail "3 tokens"
curl_code 200 "$U/v1/admin/events" -H "Authorization: Bearer $VIEW"
curl_code 200 "$U/v1/admin/assignments" -H "Authorization: Bearer $VIEW"

# ---- rate limit: 6 check-ins and reports per window (d2 has made none; metadata fetches do not count)
for i in 1 2 3 4 5 6; do sim 200 "$T/c" checkin "$U" "$CA" "$T/d2"; done
c2=$(counter "$ID2")
sim 429 "$T/c" checkin "$U" "$CA" "$T/d2"
grep -q rate_limited "$T/c" || fail "rate limit: $(cat "$T/c")"
[ "$(counter "$ID2")" = "$c2" ] || fail "a rate-limited check-in was recorded"
sim 200 "$T/c" checkin "$U" "$CA" "$T/d1" # others are still served

# ---- a slow client is cut off after the timeout (2 s) while others are served
"$PY" - "${U#https://}" "$CA" >"$T/slow" 2>&1 <<'PY' &
import socket, ssl, sys, time
host, port = sys.argv[1].rsplit(":", 1)
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection((host, int(port))), server_hostname="localhost")
s.sendall(b"POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
t = time.time()
try:
    while s.recv(100):
        pass
except Exception:
    pass
print("closed after %.1f s" % (time.time() - t))
PY
SLOW=$!
sleep 0.5
curl_code 200 "$U/v1/health"
wait $SLOW
secs=$(sed -n 's/closed after \([0-9]*\).*/\1/p' "$T/slow")
[ -n "$secs" ] && [ "$secs" -le 5 ] || fail "slow client: $(cat "$T/slow")"
# ... and one that never starts its TLS handshake
"$PY" - "${U#https://}" >"$T/slow" 2>&1 <<'PY'
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)))
t = time.time()
s.settimeout(20)
try:
    while s.recv(100):
        pass
except Exception:
    pass
print("closed after %.1f s" % (time.time() - t))
PY
secs=$(sed -n 's/closed after \([0-9]*\).*/\1/p' "$T/slow")
[ -n "$secs" ] && [ "$secs" -le 5 ] || fail "silent TCP client: $(cat "$T/slow")"

# ---- revocation: refused in the TLS handshake, and by the API (behind a front end)
expect 0 "revoked" "$SERVER" --dir "$D" device revoke "$ID2"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" --cert "$T/d2/cert.pem" --key "$T/d2/key.pem" "$U/v1/health" || true)
[ "$code" = 000 ] || fail "a revoked device completed the TLS handshake (HTTP $code)"
curl_code 200 "$U/v1/health" --cert "$T/d1/cert.pem" --key "$T/d1/key.pem"
enc=$("$PY" -c 'import sys,urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read()))' "$T/d2/cert.pem")
curl_code 403 "$PLAIN/v1/checkin" -H "X-SSL-Client-Cert: $enc" -d '{}'
grep -q revoked "$T/.body" || fail "API refusal of a revoked device: $(cat "$T/.body")"
openssl crl -in "$D/ca/crl.pem" -noout -text | grep -qi "$(openssl x509 -in "$T/d2/cert.pem" -noout -serial | cut -d= -f2)" ||
    fail "the CRL does not name the revoked certificate"
# a header certificate not from the fleet CA is not believed
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/self.key" -subj /CN=self -days 1 -out "$T/self.pem" 2>/dev/null
enc=$("$PY" -c 'import sys,urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read()))' "$T/self.pem")
curl_code 401 "$PLAIN/v1/checkin" -H "X-SSL-Client-Cert: $enc" -d '{}'

# ---- a rollout selecting by attribute (--select-attr adds to select.attrs): d1 has region=us
printf '%s\n' "{\"name\": \"attr\", \"target\": \"fw-2.bin\", \"length\": 12, \"sha256\": \"$SHA\"," \
    '"hardware_id": "board-1", "release_counter": 4, "select": {"hardware_id": "board-1"},' \
    '"groups": [{"percent": 100, "error_threshold_count": 1}]}' >"$T/spec.json"
expect 1 "matches no active device" "$SERVER" --dir "$D" rollout create --spec "$T/spec.json" --select-attr region=mars
expect 1 "not KEY=VALUE" "$SERVER" --dir "$D" rollout create --spec "$T/spec.json" --select-attr region
"$SERVER" --dir "$D" rollout create --spec "$T/spec.json" --select-attr region=us --json >"$T/ro.json" ||
    fail "rollout create --select-attr"
RO=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/ro.json")
"$SERVER" --dir "$D" rollout status "$RO" --json | "$PY" -c '
import json, sys
r = json.load(sys.stdin)
assert sum(g["devices"] for g in r["groups"]) == 1, r["groups"]' || fail "rollout by attribute: not d1 alone"
"$SERVER" --dir "$D" rollout cancel "$RO" --reason "test" >/dev/null || fail "rollout cancel"

# ---- the audit log: every admin action, verifiable with fwtrust log
expect 0 "intact" "$FWTRUST" log verify --log "$D/audit.db"
expect 0 "" "$FWTRUST" log audit --log "$D/audit.db" # events are no signatures: nothing to flag
# an assignment edited in the log afterwards is found
openssl pkey -in "$D/log.key" -pubout -out "$T/log.pub"
cp "$D/audit.db" "$T/edited.db"
sqlite3 "$T/edited.db" "UPDATE entries SET entry = CAST(replace(CAST(entry AS TEXT), 'fw-2.bin', 'fw-6.bin') AS BLOB)"
expect 11 "edited" "$FWTRUST" log verify --log "$T/edited.db" --log-key "$T/log.pub"
n=$("$FWTRUST" log show --log "$D/audit.db" --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); e=d.get("entries", d); print(len(e))')
[ "$n" -ge 12 ] || fail "audit log has $n entries"
srv_stop
echo "server e2e (${FWT_TEST_DB_URL:+postgresql}${FWT_TEST_DB_URL:-sqlite}): ok"
