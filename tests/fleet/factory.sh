#!/bin/bash
# Enrollment with a factory certificate (docs/fleet-protocol.md): a real fwtrust-server with
# the manufacturer's CA configured (factory-ca add) and fwtrust-agent devices holding a
# certificate of that CA (made by tests/fleet/make_factory_certs.py with Python's
# cryptography). A good certificate (directly under the CA, or through an intermediate the
# device sends along) enrolls, without a token, and checks in. Refused, each with a named
# error and nothing written on the server or the device: a certificate of an unknown CA, an
# expired one, a signature by another key, a factory identity enrolled already, the identity
# of a revoked device (until an approver allows it once more), a certificate without a
# serialNumber, a --serial that is not the certificate's. The CA list is in the admin API and
# the audit log.
. "$SRC/tests/agentupdate/lib.sh"
export FWTRUST_SIGNLOG_PINS=$T/pins
. "$SRC/tests/fleet/lib.sh"

setup_images
setup_repo
publish "$T/b4.bin"
"$PY" "$SRC/tests/fleet/make_factory_certs.py" "$T/fac" || fail "factory certificates"
F=$T/fac
srv_init
srv_start

# Without a factory CA configured, a factory certificate enrolls nothing.
mkfdev d0
expect 9 "no factory CA is configured" agent d0 enroll --server "$U" --ca "$D/ca/ca.pem" \
    --factory-cert "$F/good.pem" --factory-key "$F/good.key"

# The manufacturer's CA: added (approver, audited), listed, visible in the admin API.
expect 29 "not a CA certificate" srv factory-ca add acme --cert "$F/good.pem"
expect 29 "not a root (self-signed) CA" srv factory-ca add line2 --cert "$F/intermediate.pem"
expect 0 "" srv --json factory-ca add acme --cert "$F/ca.pem"
CAFP=$(jget "$T/.out" 'd["fp"]')
expect 11 "already configured" srv factory-ca add acme-again --cert "$F/ca.pem"
srv --json factory-ca list >"$T/cas.json" || fail "factory-ca list"
[ "$(jget "$T/cas.json" 'len(d["factory_cas"])')" = 1 ] || fail "factory-ca list: $(cat "$T/cas.json")"
srv --json events >"$T/ev.json"
grep -q '"factory-ca-add"' "$T/ev.json" || fail "factory-ca add is not in the events/audit log"
"$FWTRUST" log verify --log "$D/audit.db" >/dev/null || fail "audit log does not verify"
srv --json admin-token create ops --role viewer >"$T/tok.json" || fail "admin token"
TOK=$(jget "$T/tok.json" 'd["token"]')
curl -sf --cacert "$D/ca/ca.pem" -H "Authorization: Bearer $TOK" "$U/v1/admin/factory-cas" >"$T/api.json" ||
    fail "GET /v1/admin/factory-cas"
[ "$(jget "$T/api.json" 'd["factory_cas"][0]["fp"]')" = "$CAFP" ] || fail "admin API: $(cat "$T/api.json")"
# a viewer may not add one
code=$(curl -s -o "$T/api.json" -w '%{http_code}' --cacert "$D/ca/ca.pem" -H "Authorization: Bearer $TOK" \
    -H 'Content-Type: application/json' -d '{"name":"x","pem":"y"}' "$U/v1/admin/factory-cas")
[ "$code" = 403 ] || fail "a viewer added a factory CA: $code $(cat "$T/api.json")"

# What the server holds, to show that a refusal writes nothing.
state() {
    srv --json device list >"$T/devs.json" || fail "device list"
    srv --json events >"$T/evs.json" || fail "events"
    echo "$(jget "$T/devs.json" 'len(d["devices"])') $(jget "$T/evs.json" 'len(d["events"])')"
}
# refused NAME EXIT MESSAGE AGENT-ARGS...: the enrollment fails so, nothing changes anywhere.
refused() {
    local dev=$1 rc=$2 msg=$3
    shift 3
    local before
    before=$(state)
    [ -d "$T/$dev" ] || mkfdev "$dev"
    cp "$T/$dev/device.ini" "$T/$dev.ini.before"
    expect "$rc" "$msg" agent "$dev" enroll --server "$U" --ca "$D/ca/ca.pem" "$@"
    [ "$(state)" = "$before" ] || fail "$dev: a refused enrollment changed the server ($before -> $(state))"
    cmp -s "$T/$dev/device.ini" "$T/$dev.ini.before" || fail "$dev: a refused enrollment changed device.ini"
    [ ! -e "$T/$dev/fleet/device.key" ] && [ ! -e "$T/$dev/fleet/device.key.new" ] ||
        fail "$dev: a refused enrollment left a device key"
}

# A good factory certificate enrolls, with no token; the serial is its serialNumber.
mkfdev d1
expect 0 "" agent d1 --json enroll --server "$U" --ca "$D/ca/ca.pem" --factory-cert "$F/good.pem" \
    --factory-key "$F/good.key"
ID1=$(jget "$T/.out" 'd["device_id"]')
[ "$(devid d1)" = "$ID1" ] || fail "d1: device id not kept"
grep -qx 'serial = FAC-0001' "$T/d1/device.ini" || fail "d1: the serial is not the certificate's: $(cat "$T/d1/device.ini")"
openssl verify -CAfile "$D/ca/ca.pem" "$T/d1/fleet/device.crt" >/dev/null || fail "d1: certificate does not chain"
# the device key is new (not the factory key)
[ "$(openssl pkey -in "$T/d1/fleet/device.key" -pubout)" != "$(openssl pkey -in "$F/good.key" -pubout)" ] ||
    fail "d1: the device key is the factory key"
srv --json device show "$ID1" >"$T/show1.json" || fail "device show"
[ "$(jget "$T/show1.json" 'd["serial"]')" = FAC-0001 ] && [ "$(jget "$T/show1.json" 'd["status"]')" = active ] ||
    fail "d1: $(cat "$T/show1.json")"
srv --json events --device "$ID1" >"$T/ev1.json"
grep -q "factory CA acme" "$T/ev1.json" || fail "d1: the enroll event does not name the factory CA"
expect 0 "" agent d1 --json checkin
# Through an intermediate the device sends along (the server trusts only the root).
mkfdev d4
expect 0 "" agent d4 enroll --server "$U" --ca "$D/ca/ca.pem" --factory-cert "$F/chained.pem" \
    --factory-key "$F/chained.key"
grep -qx 'serial = FAC-0004' "$T/d4/device.ini" || fail "d4: serial"

# The protocol as documented, from an independent client (Python): the CSR's key must be
# new -- not the factory key, not a device's -- and a nonce serves once.
freq() { "$PY" "$SRC/tests/fleet/factory_request.py" "$U" "$D/ca/ca.pem" "$@"; }
before=$(state)
freq "$F/second.pem" "$F/second.key" "$F/second.key" lego-primehub >"$T/fr" || fail "factory_request"
grep -q '^409 .*the factory key.*key_reused' "$T/fr" || fail "CSR of the factory key: $(cat "$T/fr")"
freq "$F/second.pem" "$F/second.key" "$T/d1/fleet/device.key" lego-primehub >"$T/fr" || fail "factory_request"
grep -q '^409 .*already certified.*key_reused' "$T/fr" || fail "CSR of a device's key: $(cat "$T/fr")"
[ "$(state)" = "$before" ] || fail "a refused enrollment changed the server"
"$FWTRUST" keygen --type ecdsa-p256 -o "$T/py-device.pem" >/dev/null
freq "$F/second.pem" "$F/second.key" "$T/py-device.pem" lego-primehub >"$T/fr" || fail "factory_request"
grep -q '^200 .*"device_id"' "$T/fr" || fail "the documented protocol did not enroll: $(cat "$T/fr")"
nonce=$(awk '{print $2}' "$T/fr")
before=$(state)
"$FWTRUST" keygen --type ecdsa-p256 -o "$T/py-device2.pem" >/dev/null
freq "$F/chained.pem" "$F/chained.key" "$T/py-device2.pem" lego-primehub "$nonce" >"$T/fr" || fail "factory_request"
grep -q '^401 .*bad_nonce' "$T/fr" || fail "a used nonce: $(cat "$T/fr")"
[ "$(state)" = "$before" ] || fail "a refused enrollment changed the server"

# The factory key in a token (SoftHSM2): it signs through the crypto layer's pkcs11: URI.
if [ -e /usr/lib/softhsm/libsofthsm2.so ]; then
    softhsm_tokens 1111 2222 factory
    export FWTRUST_PKCS11_MODULE=$MODULE
    TURI="pkcs11:token=factory;object=device"
    "$FWTRUST" keygen --type ecdsa-p256 -o "$TURI" --pin-file "$T/pin" >/dev/null || fail "token key"
    "$FWTRUST" pubkey "$TURI" -o "$T/token.pub" || fail "token public key"
    "$PY" "$SRC/tests/fleet/make_factory_certs.py" "$F" --certify "$T/token.pub" token FAC-0020 || fail "token cert"
    mkfdev dt
    expect 0 "" agent dt enroll --server "$U" --ca "$D/ca/ca.pem" --factory-cert "$F/token.pem" \
        --factory-key "$TURI" --factory-pin-file "$T/pin"
    grep -qx 'serial = FAC-0020' "$T/dt/device.ini" || fail "token: serial"
    expect 0 "" agent dt checkin
    unset FWTRUST_PKCS11_MODULE
else
    echo "fleet_factory: SoftHSM2 missing, the token factory key not tried"
fi

# Refusals, each named, nothing written.
refused d2 9 "factory_refused" --factory-cert "$F/unknown.pem" --factory-key "$F/unknown.key"
grep -q "not issued by a configured factory CA" "$T/.err" || fail "unknown CA: $(cat "$T/.err")"
refused d2 9 "certificate has expired" --factory-cert "$F/expired.pem" --factory-key "$F/expired.key"
refused d2 9 "bad_signature" --factory-cert "$F/third.pem" --factory-key "$F/wrong.key"
refused d2 9 "already enrolled as device $ID1" --factory-cert "$F/good.pem" --factory-key "$F/good.key"
grep -q "serial_enrolled" "$T/.err" || fail "reused identity: $(cat "$T/.err")"
refused d2 29 "no serialNumber" --factory-cert "$F/noserial.pem" --factory-key "$F/noserial.key"
refused d2 1 "is not the factory certificate's serialNumber" --factory-cert "$F/third.pem" \
    --factory-key "$F/third.key" --serial FAC-9999
expect 1 "no --token" agent d2 enroll --server "$U" --ca "$D/ca/ca.pem" --factory-cert "$F/second.pem" \
    --factory-key "$F/third.key" --token "$T/none"   # usage: --token with --factory-cert

# A revoked device's factory identity is refused (its old certificate at TLS and API), until
# an approver allows it once more; then it enrolls as a new device record, once.
mkfdev d3
expect 0 "" agent d3 --json enroll --server "$U" --ca "$D/ca/ca.pem" --factory-cert "$F/third.pem" \
    --factory-key "$F/third.key"
ID3=$(jget "$T/.out" 'd["device_id"]')
expect 11 "is active: revoke or decommission it first" srv device allow-reenroll "$ID1"
srv device revoke "$ID3" >/dev/null || fail "revoke"
expect 9 "" agent d3 checkin
refused d5 9 "already enrolled as device $ID3 (revoked)" --factory-cert "$F/third.pem" --factory-key "$F/third.key"
expect 0 "" srv device allow-reenroll "$ID3"
srv --json events >"$T/ev.json"
grep -q '"device-allow-reenroll"' "$T/ev.json" || fail "allow-reenroll is not in the audit log"
expect 0 "" agent d5 --json enroll --server "$U" --ca "$D/ca/ca.pem" --factory-cert "$F/third.pem" \
    --factory-key "$F/third.key"
ID5=$(jget "$T/.out" 'd["device_id"]')
[ "$ID5" != "$ID3" ] || fail "re-enrollment reused the device record"
srv --json device show "$ID3" >"$T/show3.json"
[ "$(jget "$T/show3.json" 'd["serial"]')" = "FAC-0003@$ID3" ] && [ "$(jget "$T/show3.json" 'd["status"]')" = revoked ] ||
    fail "the old record: $(cat "$T/show3.json")"
expect 0 "" agent d5 checkin
expect 9 "" agent d3 checkin   # the old device stays refused
refused d6 9 "already enrolled as device $ID5" --factory-cert "$F/third.pem" --factory-key "$F/third.key"

# Removing the CA: no further enrollment through it; its devices stay.
expect 0 "" srv factory-ca remove "$CAFP"
grep -q '"factory-ca-remove"' <(srv --json events) || fail "factory-ca remove is not in the audit log"
refused d7 9 "no factory CA is configured" --factory-cert "$F/second.pem" --factory-key "$F/second.key"
expect 0 "" agent d1 checkin
expect 8 "no factory CA" srv factory-ca remove "$CAFP"
"$FWTRUST" log verify --log "$D/audit.db" >/dev/null || fail "audit log does not verify"
srv_stop
echo "fleet_factory: ok"
