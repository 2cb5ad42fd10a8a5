#!/bin/bash
# The fleet end to end: a real fwtrust-server (SQLite, mutual TLS on loopback) and
# file-backed devices running fwtrust-agent. Devices enroll with one-time tokens, check in
# with signed manifests, are assigned releases (to one device, to a tag), update through the
# director and the image repository (Uptane full verification), boot, confirm, and report;
# `fwtrust-server device list` shows who runs what. A director assignment the image
# repository does not vouch for is refused on the device and the refusal reaches the
# server as a report (state, error number, reason). The certificate is renewed at check-in
# once the server's renew_before has come. A device without a server updates as before.
. "$SRC/tests/agentupdate/lib.sh"
: "${SERVER:?}"
export FWTRUST_SIGNLOG_PINS=$T/pins

setup_images
setup_repo
publish "$T/b4.bin" "$T/b5.bin"

# The server: its own directory, CA and director; on a free loopback port (lib.sh).
. "$SRC/tests/fleet/lib.sh"
srv_init
srv_start

for n in 1 2 3; do
    mkfdev dev$n
    srv enroll-token create >"$T/token$n" || fail "token"
    expect 0 "" agent dev$n --json enroll --server "$U" --token "$T/token$n" --ca "$D/ca/ca.pem" --serial "SN 000$n"
    [ "$(jget "$T/.out" 'd["device_id"]')" = "$(devid dev$n)" ] || fail "dev$n: device id not kept"
done
ID1=$(devid dev1) ID2=$(devid dev2) ID3=$(devid dev3)
[ -f "$T/dev1/fleet/device.key" ] && [ -f "$T/dev1/director/root.json" ] || fail "enroll left no key or director root"
# A token is one-time: enrolling another device with dev1's is refused (9, the server's 401).
mkfdev extra
expect 9 "bad_token" agent extra enroll --server "$U" --token "$T/token1" --ca "$D/ca/ca.pem" --serial "SN 0009"
grep -q '^\[fleet\]' "$T/extra/device.ini" && fail "a refused enrollment wrote [fleet]"

# Check-in: signed manifests with increasing counters; nothing assigned yet.
expect 0 "" agent dev1 --json checkin
c1=$(jget "$T/.out" 'd["counter"]')
[ "$(jget "$T/.out" 'd["device_director_version"]')" = 0 ] || fail "director metadata before any update"
# Nothing assigned: an enrolled device does not take the image repository's newest by itself.
expect 51 "no image is assigned to this device" agent dev1 update
no_trial dev1
expect 0 "" agent dev1 --json checkin
[ "$(jget "$T/.out" 'd["counter"]')" -gt "$c1" ] || fail "the counter did not increase"
# TLS: the session of the last request is kept (0600) and resumed by the next check-in
[ "$(stat -c %a "$T/dev1/fleet/tls-session")" = 600 ] || fail "the TLS session file is not 0600"
[ "$(jget "$T/.out" 'd["tls_resumed"]')" = True ] || fail "the check-in did not resume the TLS session"
[ "$(jget "$T/.out" 'd["director_newer"]')" = False ] || fail "the director changed without an assignment"

# Assign b4 to dev1, b5 to the tag canary (dev2, dev3).
srv assign primehub/b4.bin --device "$ID1" --file "$T/b4.bin" --release-counter 1 >/dev/null || fail "assign b4"
srv device tag "$ID2" --add canary >/dev/null && srv device tag "$ID3" --add canary >/dev/null || fail "tag"
srv assign primehub/b5.bin --tag canary --file "$T/b5.bin" --release-counter 2 >/dev/null || fail "assign b5"
for n in 1 2; do
    expect 0 "" agent dev$n --json checkin
    [ "$(jget "$T/.out" 'd["director_newer"]')" = True ] || fail "dev$n: the assignment is not seen"
    expect 0 "" agent dev$n --json update
    [ "$(jget "$T/.out" 'd["director"]["release_counter"]')" = "$n" ] || fail "dev$n: release counter"
    boot dev$n >/dev/null || fail "boot dev$n"
    agent dev$n confirm >/dev/null || fail "confirm dev$n"
    expect 0 "" agent dev$n --json checkin
    [ "$(jget "$T/.out" 'd["director_newer"]')" = False ] || fail "dev$n: still assigned after the update"
done
slot_holds dev1 a "$T/b4.bin"
slot_holds dev2 a "$T/b5.bin"
agent dev2 --json status >"$T/st2.json" || fail "status dev2"
[ "$(jget "$T/st2.json" 'd["fleet"]["release_counter"]')" = 2 ] || fail "status: release counter"
[ "$(jget "$T/st2.json" 'd["fleet"]["last_target"]')" = primehub/b5.bin ] || fail "status: last target"
[ "$(jget "$T/st2.json" 'd["fleet"]["device_id"]')" = "$ID2" ] || fail "status: device id"

# The server knows who runs what (from the signed manifests) and saw the progress reports.
srv device list --json >"$T/list.json" || fail "device list"
cat >"$T/who.py" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
devs = d["devices"] if isinstance(d, dict) else d
for x in devs:
    print(x.get("id") or x.get("device_id"), json.dumps(x, sort_keys=True))
PY
"$PY" "$T/who.py" "$T/list.json" >"$T/who"
grep "^$ID1 " "$T/who" | grep -q '4.0.0+4' || fail "device list: dev1 does not run 4.0.0+4: $(cat "$T/who")"
grep "^$ID2 " "$T/who" | grep -q '4.0.0+5' || fail "device list: dev2 does not run 4.0.0+5: $(cat "$T/who")"
# The manifest names the slot by the target it was installed from.
srv device show "$ID1" --json >"$T/show1.json" || fail "device show"
grep -q '"name": *"primehub/b4.bin"' "$T/show1.json" || fail "dev1's manifest does not name its slot: $(cat "$T/show1.json")"
srv events --device "$ID2" --json >"$T/ev.json"
for s in downloading installed-trial confirmed; do
    grep -q "$s" "$T/ev.json" || fail "the server got no '$s' report from dev2: $(cat "$T/ev.json")"
done

# dev3: its own assignment names an image the image repository does not have. The device
# refuses it (8) and tells the server: state refused, error 8, the reason.
PAYLOAD=$FW/pybricks-primehub-v4.0.0b5.bin sign evil.bin 4.0.0+9
srv assign primehub/evil.bin --device "$ID3" --file "$T/evil.bin" --release-counter 3 >/dev/null || fail "assign evil"
expect 0 "" agent dev3 --json checkin
expect 8 "is not in the image repository" agent dev3 update
no_trial dev3
srv events --device "$ID3" --json >"$T/ev3.json"
grep -q "refused" "$T/ev3.json" && grep -q "not in the image repository" "$T/ev3.json" ||
    fail "the refusal did not reach the server: $(cat "$T/ev3.json")"
grep -q "error 8" "$T/ev3.json" || fail "the report lacks the error number: $(cat "$T/ev3.json")"

# Renewal: once renew_before has come (renew_days above the lifetime), the check-in renews.
old=$(openssl x509 -in "$T/dev1/fleet/device.crt" -noout -serial)
srv_stop
"$PY" -c 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); c["renew_days"]=40; json.dump(c,open(p,"w"))' "$D/server.json"
srv_start
sed -i "s|^server = .*|server = $U|" "$T/dev1/device.ini"
expect 0 "" agent dev1 --json checkin
[ "$(jget "$T/.out" 'd["renewed"]')" = True ] || fail "the certificate was not renewed"
[ "$(openssl x509 -in "$T/dev1/fleet/device.crt" -noout -serial)" != "$old" ] || fail "the same certificate"
openssl verify -CAfile "$D/ca/ca.pem" "$T/dev1/fleet/device.crt" >/dev/null || fail "renewed certificate does not chain"
expect 0 "" agent dev1 --json checkin   # the renewed certificate works for mutual TLS
# (renew_days above the lifetime: every check-in renews) a session is never offered with another certificate
[ "$(jget "$T/.out" 'd["tls_resumed"]')" = False ] || fail "a session of the old certificate was resumed"

# The server's interval and jitter: kept in [fleet]; --loop waits interval + up to jitter.
srv_stop
"$PY" -c 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); c["checkin_interval"]=1; c["jitter"]=1; c["renew_days"]=10; c["checkin_burst"]=1000; json.dump(c,open(p,"w"))' "$D/server.json"
srv_start
sed -i "s|^server = .*|server = $U|" "$T/dev1/device.ini"
expect 0 "" agent dev1 checkin
grep -qx 'interval = 1' "$T/dev1/device.ini" && grep -qx 'jitter = 1' "$T/dev1/device.ini" ||
    fail "the server's interval and jitter were not kept: $(cat "$T/dev1/device.ini")"
t0=$(date +%s%N)
expect 0 "" agent dev1 --json checkin --loop --count 3 --no-update
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
[ "$ms" -ge 2000 ] && [ "$ms" -le 9000 ] || fail "three check-ins with interval 1 and jitter 1 took $ms ms"
[ "$(grep -c '"counter"' "$T/.out")" = 3 ] || fail "--count 3 did not check in three times"

# Power cuts during a check-in (every file operation in turn, cut and torn): the device never
# repeats a counter the server saw, so the next check-in is accepted every time.
for mode in cut tear; do
    n=1
    while :; do
        rc=0
        FWT_FAULT_AT=$n FWT_FAULT_MODE=$mode "$FWTRUST_AGENT" --device "$T/dev1" checkin >/dev/null 2>&1 || rc=$?
        [ "$rc" = 0 ] || [ "$rc" = 99 ] || fail "checkin cut at operation $n ($mode): exit $rc"
        expect 0 "" agent dev1 checkin
        [ "$rc" = 0 ] && break
        n=$((n + 1))
        [ "$n" -le 50 ] || fail "checkin never completed under fault injection"
    done
    [ "$n" -gt 2 ] || fail "fault injection ($mode) cut no file operation of the check-in"
done

# A revoked device is refused (the server's TLS or API: 9), also when it resumes a TLS
# session it got before (refused in the handshake).
sed -i "s|^server = .*|server = $U|" "$T/dev3/device.ini"
expect 0 "" agent dev3 --json checkin
expect 0 "" agent dev3 --json checkin
[ "$(jget "$T/.out" 'd["tls_resumed"]')" = True ] || fail "dev3 did not resume its TLS session"
srv device revoke "$ID3" >/dev/null || fail "revoke"
expect 9 "" agent dev3 checkin
grep -q "HTTP 403" "$T/.out" "$T/.err" && fail "the revoked device got through the handshake: $(cat "$T/.err")"

# The audit log of the device records enrollment and renewal; the chain holds.
agent dev1 log verify >/dev/null || fail "dev1 audit log"
grep -q '"event":"enroll"' "$T/dev1/audit.log" && grep -q '"event":"renew"' "$T/dev1/audit.log" ||
    fail "audit log lacks enroll/renew"

# Without a server nothing changes: a plain device updates from the image repository.
mkfdev plain
expect 0 "" agent plain --json update
[ "$(jget "$T/.out" 'd["target"]')" = primehub/b5.bin ] || fail "plain device did not get b5"
agent plain --json status >"$T/stp.json" || fail "status plain"
[ "$(jget "$T/stp.json" 'd["fleet"]')" = None ] || fail "a device without a server shows a fleet"
[ ! -e "$T/plain/fleet.0" ] && [ ! -e "$T/plain/director" ] || fail "a device without a server got fleet state"
srv_stop
echo "fleet_e2e: ok"
