#!/bin/bash
# Director root rotation (TUF 1.0 section 5.3.4; docs/server.md#keys): a running fwtrust-server
# rotates its director root key and online keys (director rotate-root); enrolled fwtrust-agent
# devices walk the root chain at their next check-in -- one device one rotation at a time,
# another three at once -- and then update through the director, whose metadata the new
# online keys sign. A rotation with a key that is not the trusted root's writes nothing; a
# root whose signatures do not verify fails the device's check-in and leaves its trusted root
# as it was. (Roots signed by the new key alone, rollbacks and metadata of an old online key:
# test_director_rotate, against the TUF client itself.)
. "$SRC/tests/agentupdate/lib.sh"
export FWTRUST_SIGNLOG_PINS=$T/pins
. "$SRC/tests/fleet/lib.sh"

setup_images
setup_repo
publish "$T/b4.bin" "$T/b5.bin"
srv_init
srv_start
for n in 1 2; do
    mkfdev dev$n
    srv enroll-token create >"$T/token$n" || fail "token"
    expect 0 "" agent dev$n enroll --server "$U" --token "$T/token$n" --ca "$D/ca/ca.pem" --serial "SN R$n"
done
ID1=$(devid dev1) ID2=$(devid dev2)
rootv() { jget "$T/$1/director/root.json" 'd["signed"]["version"]'; }
expect 0 "" agent dev1 --json checkin
[ "$(jget "$T/.out" 'd["director_root_version"]')" = 1 ] && [ "$(jget "$T/.out" 'd["director_root_updated"]')" = False ] ||
    fail "before any rotation: $(cat "$T/.out")"

# A key that is not the trusted root's rotates nothing (and leaves no trace but its refusal).
fwt keygen --type ecdsa-p256 -o "$T/bogus.pem" >/dev/null
fwt keygen --type ecdsa-p256 -o "$T/root2.pem" >/dev/null
expect 7 "is not a root key of director root version 1" srv director rotate-root --root-key "$T/bogus.pem" \
    --new-root-key "$T/root2.pem" --rotate-online
[ ! -e "$D/director/2.root.json" ] && ! ls "$D/director/"*.new >/dev/null 2>&1 || fail "a refused rotation wrote files"

# Rotation 1: a new root key and new online keys. Root 2 carries two signatures: the old root
# key's (the device's trusted root) and the new one's (its own).
old_ts=$(openssl pkey -in "$D/director/timestamp.key" -pubout)
expect 0 "" srv --json director rotate-root --new-root-key "$T/root2.pem" --rotate-online
[ "$(jget "$T/.out" 'd["version"]')" = 2 ] || fail "rotate-root: $(cat "$T/.out")"
[ "$(jget "$D/director/2.root.json" 'len(d["signatures"])')" = 2 ] || fail "root 2 is not signed by old and new root keys"
[ "$(openssl pkey -in "$D/director/timestamp.key" -pubout)" != "$old_ts" ] || fail "the timestamp key did not change"
srv --json events >"$T/ev.json"
grep -q '"director-rotate-root"' "$T/ev.json" || fail "the rotation is not in the audit log"
"$FWTRUST" log verify --log "$D/audit.db" >/dev/null || fail "audit log does not verify"
expect 0 "" srv --json director status
[ "$(jget "$T/.out" 'd["version"]')" = 2 ] || fail "director status: $(cat "$T/.out")"

# dev1 follows one rotation at its check-in (the running server took root 2 up by itself),
# then updates through the director: metadata signed by the new online keys.
expect 0 "" agent dev1 --json checkin
[ "$(jget "$T/.out" 'd["director_root_updated"]')" = True ] && [ "$(rootv dev1)" = 2 ] ||
    fail "dev1 did not follow the rotation: $(cat "$T/.out")"
grep -q '"event":"director-root"' "$T/dev1/audit.log" || fail "dev1's audit log lacks the director root"
srv assign primehub/b4.bin --device "$ID1" --file "$T/b4.bin" --release-counter 1 >/dev/null || fail "assign b4"
expect 0 "" agent dev1 --json checkin
expect 0 "" agent dev1 --json update
slot_holds dev1 a "$T/b4.bin"
boot dev1 >/dev/null && agent dev1 confirm >/dev/null || fail "boot and confirm dev1"

# Rotations 2 and 3 (root key Ed25519, then P-256 again; online keys each time).
fwt keygen --type ed25519 -o "$T/root3.pem" >/dev/null
fwt keygen --type ecdsa-p256 -o "$T/root4.pem" >/dev/null
expect 0 "" srv director rotate-root --root-key "$T/root2.pem" --new-root-key "$T/root3.pem" --rotate-online
expect 0 "" srv director rotate-root --root-key "$T/root3.pem" --new-root-key "$T/root4.pem" --rotate-online \
    --expires-days 30
# the old root key of version 2 is no root key of version 4
expect 7 "is not a root key of director root version 4" srv director rotate-root --root-key "$T/root2.pem"

# dev1 walks 2 -> 3 -> 4; dev2, which missed all three, walks 1 -> 2 -> 3 -> 4, in order.
expect 0 "" agent dev1 --json checkin
[ "$(rootv dev1)" = 4 ] || fail "dev1 did not follow two rotations"
expect 0 "" agent dev2 --json checkin
[ "$(jget "$T/.out" 'd["director_root_version"]')" = 4 ] && [ "$(rootv dev2)" = 4 ] ||
    fail "dev2 did not follow three rotations: $(cat "$T/.out")"
srv assign primehub/b5.bin --device "$ID2" --file "$T/b5.bin" --release-counter 2 >/dev/null || fail "assign b5"
expect 0 "" agent dev2 --json checkin
expect 0 "" agent dev2 --json update
slot_holds dev2 a "$T/b5.bin"
# a server started afresh serves root 4 with the keys it names
srv_stop
srv_start
sed -i "s|^server = .*|server = $U|" "$T/dev1/device.ini" "$T/dev2/device.ini"
srv assign primehub/b5.bin --device "$ID1" --file "$T/b5.bin" --release-counter 2 >/dev/null || fail "assign b5"
expect 0 "" agent dev1 --json checkin
expect 0 "" agent dev1 --json update
slot_holds dev1 b "$T/b5.bin"

# A root whose signatures do not verify (version 5 written over version 4's signatures): the
# check-in fails (41) and the device keeps trusting root 4.
"$PY" -c 'import json,sys; e=json.load(open(sys.argv[1])); e["signed"]["version"]=5; json.dump(e,open(sys.argv[2],"w"),separators=(",",":"),sort_keys=True)' \
    "$D/director/4.root.json" "$D/director/5.root.json"
expect 41 "director root" agent dev2 checkin
[ "$(rootv dev2)" = 4 ] || fail "dev2 took a root that does not verify"
srv_stop
echo "fleet_director_rotate: ok"
