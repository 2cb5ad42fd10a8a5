#!/bin/bash
# A multi-image device (an application and a network core, each an agent
# device of its own, declared in the application's device.ini [images]): an
# image whose DEPENDENCY TLV (fwtrust sign -d) is not met by the other image is
# refused and never goes on trial; installing the network core first meets it.
. "$(dirname "$0")/lib.sh"
keys
mkimg "$T/app1.bin" 1.0.0 1
mkimg "$T/app2.bin" 2.0.0 2 -d "(1, 2.0.0)"
mkimg "$T/app3.bin" 3.0.0 3 -d "(7, 1.0.0)"
mkimg "$T/net1.bin" 1.5.0 1
mkimg "$T/net2.bin" 2.0.0+9 2
expect 0 "depends on: image 1 >= 2.0.0+0" "$FWTRUST" verify --key "$T/k1.pub" "$T/app2.bin"
mkdev
expect 0 "" "$AGENT" --device "$T/net" init --hw-id hw1 --slot-a "$T/net-a.bin" \
    --slot-b "$T/net-b.bin" --trust-key "$T/k1.pub"
printf '\n[images]\n1 = ../net\n' >>"$T/dev/device.ini"

# The network core holds nothing yet: the app that needs it is refused.
expect 8 "holds no valid image" "$AGENT" --device "$T/dev" install "$T/app2.bin"
[ "$(jget 'd["trial"], d["confirmed"]' "$AGENT" --device "$T/dev" status --json)" = "(None, None)" ] ||
    fail "a refused image went on trial: $(cat "$T/.j")"
# An app without dependencies installs.
expect 0 "into slot a" "$AGENT" --device "$T/dev" install "$T/app1.bin"
"$BOOT" --device "$T/dev" >/dev/null && expect 0 "" "$AGENT" --device "$T/dev" confirm
# Network core 1.5.0 is below what app 2.0.0 needs.
expect 0 "" "$AGENT" --device "$T/net" install "$T/net1.bin"
expect 8 "has 1.5.0+0: install that one first" "$AGENT" --device "$T/dev" install "$T/app2.bin"
grep -q "install-refused" "$T/dev/audit.log" || fail "the refusal is not in the audit log"
# A dependency on an image the device does not declare.
expect 8 "declares no image 7" "$AGENT" --device "$T/dev" install "$T/app3.bin"
# The set in a safe order: the network core 2.0.0 first (on trial is enough: it is
# what that core runs next), then the app.
"$BOOT" --device "$T/net" >/dev/null && expect 0 "" "$AGENT" --device "$T/net" confirm
expect 0 "" "$AGENT" --device "$T/net" install "$T/net2.bin"
expect 0 "into slot b" "$AGENT" --device "$T/dev" install "$T/app2.bin"
[ "$(jget 'd["slot"], d["version"]' "$BOOT" --device "$T/dev")" = "('b', '2.0.0+0')" ] ||
    fail "app 2.0.0 does not boot: $(cat "$T/.j")"
# The bootloader checks again: the network core's 2.0.0 trial is cancelled before
# the app's trial boots again, so app 2.0.0 is refused and app 1.0.0 (confirmed) boots.
expect 0 "" "$AGENT" --device "$T/net" rollback
[ "$(jget 'd["slot"], d["version"], d["trial"], d["failed"]' "$BOOT" --device "$T/dev")" = \
  "('a', '1.0.0+0', False, {'b': 'FWT_E_NOT_FOUND'})" ] ||
    fail "app 2.0.0 booted without its network core: $(cat "$T/.j")"
# device.ini is strict about [images].
cp "$T/dev/device.ini" "$T/ini.bak"
printf '1 = ../other\n' >>"$T/dev/device.ini"
expect 1 "image 1 given twice" "$AGENT" --device "$T/dev" status
cp "$T/ini.bak" "$T/dev/device.ini"
printf '[images]\nnet = ../net\n' >>"$T/dev/device.ini"
expect 1 "image ids 0-255" "$AGENT" --device "$T/dev" status

# install-set: a fresh pair of devices; the set is ordered by itself (the core first).
mkdir "$T/set"
for d in app net; do
    expect 0 "" "$AGENT" --device "$T/set/$d" init --hw-id hw1 --slot-a "$T/set/$d-a.bin" \
        --slot-b "$T/set/$d-b.bin" --trust-key "$T/k1.pub"
done
printf '\n[images]\n1 = ../net\n' >>"$T/set/app/device.ini"
mkimg "$T/app4.bin" 4.0.0 4 -d "(1, 3.0.0)"
mkimg "$T/net3.bin" 3.0.0 3
# a set that cannot meet a dependency: nothing installed
expect 8 "nothing installed" "$AGENT" --device "$T/set/app" install-set "$T/app4.bin" "1=$T/net2.bin"
[ "$(jget 'd["trial"]' "$AGENT" --device "$T/set/net" status --json)" = "None" ] || fail "a refused set installed the core"
expect 1 "not declared" "$AGENT" --device "$T/set/app" install-set "$T/app4.bin" "2=$T/net3.bin"
expect 1 "two images in the set" "$AGENT" --device "$T/set/app" install-set "1=$T/net3.bin" "1=$T/net2.bin"
# given app first, installed core first
[ "$(jget '[(i["image_id"], i["file"][-8:]) for i in d["installed"]]' "$AGENT" --device "$T/set/app" install-set --json \
    "$T/app4.bin" "1=$T/net3.bin")" = "[(1, 'net3.bin'), (-1, 'app4.bin')]" ] || fail "install-set order: $(cat "$T/.j")"
[ "$(jget 'd["slot"], d["version"]' "$BOOT" --device "$T/set/net")" = "('a', '3.0.0+0')" ] || fail "net 3.0.0: $(cat "$T/.j")"
[ "$(jget 'd["slot"], d["version"]' "$BOOT" --device "$T/set/app")" = "('a', '4.0.0+0')" ] || fail "app 4.0.0: $(cat "$T/.j")"
echo "agent deps: ok"
