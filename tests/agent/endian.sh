#!/bin/bash
# Big-endian images (fwtrust sign --endian big, imgtool's --endian big) on a
# device, with no option saying so anywhere: the agent installs them from a file
# and from a pipe (its stream reads the header's sizes in the order the magic
# declares), the bootloader boots them, verify-slots reads the slots, an
# encrypted one is decrypted on the device, dependencies between images of a
# multi-image device are read big endian; a corrupted one and one whose header
# magic is neither order's are refused and leave the slot alone.
. "$(dirname "$0")/lib.sh"
E="$SRC/tests/data/vectors/enc"
keys
mkimg "$T/be1.bin" 1.0.0 1 --endian big
mkimg "$T/be2.bin" 2.0.0 2 -e big
mkimg "$T/le3.bin" 3.0.0 3
mkimg "$T/be4.bin" 4.0.0+7 4 -e big --encrypt "$E/enc-x25519-pub.pem"
[ "$(head -c 4 "$T/be1.bin" | od -An -tx1 | tr -d ' ')" = "96f3b83d" ] || fail "not a big-endian magic"
mkdev
expect 0 "into slot a" "$AGENT" --device "$T/dev" install "$T/be1.bin"
[ "$(jget 'd["slot"], d["version"]' "$BOOT" --device "$T/dev")" = "('a', '1.0.0+0')" ] ||
    fail "the big-endian image does not boot: $(cat "$T/.j")"
expect 0 "" "$AGENT" --device "$T/dev" confirm
cmp -n "$(stat -c %s "$T/be1.bin")" "$T/be1.bin" "$T/slot-a.bin" || fail "slot a does not hold the image"

# From a pipe: the streaming path (header sizes from the first 16 bytes).
expect 0 "into slot b" "$AGENT" --device "$T/dev" install - <"$T/be2.bin"
[ "$(jget 'd["slot"], d["version"]' "$BOOT" --device "$T/dev")" = "('b', '2.0.0+0')" ] ||
    fail "the streamed big-endian image does not boot: $(cat "$T/.j")"
expect 0 "" "$AGENT" --device "$T/dev" confirm
# The security counter was read big endian (2, not 0x02000000): a little-endian 3 follows.
expect 0 "into slot a" "$AGENT" --device "$T/dev" install "$T/le3.bin"
"$BOOT" --device "$T/dev" >/dev/null && expect 0 "" "$AGENT" --device "$T/dev" confirm
expect 0 "" "$AGENT" --device "$T/dev" verify-slots

# Refusals: one corrupted byte in the payload, in the header (revision), in the
# security counter's value; a magic of neither order. Nothing goes on trial: the
# bootloader still boots the confirmed 3.0.0 in slot a.
prot=$("$PY" -c 'import struct,sys; h,p,i=struct.unpack_from(">HHI", open(sys.argv[1],"rb").read(), 8); print(h+i)' "$T/be2.bin")
for off in 600 22 $((prot + 11)); do
    cp "$T/be2.bin" "$T/bad.bin"
    flip "$T/bad.bin" "$off"
    expect 21 "digest mismatch" "$AGENT" --device "$T/dev" install "$T/bad.bin"
    expect 21 "digest mismatch" "$AGENT" --device "$T/dev" install - <"$T/bad.bin"
done
for magic in '\x3d\xb8\xf3\x96' '\x96\xf3\xf3\x96'; do # LE magic on BE fields; a mix
    cp "$T/be2.bin" "$T/mixed.bin"
    printf "$magic" | dd of="$T/mixed.bin" bs=1 seek=0 conv=notrunc 2>/dev/null
    expect 20 "" "$AGENT" --device "$T/dev" install "$T/mixed.bin"
    expect 20 "" "$AGENT" --device "$T/dev" install - <"$T/mixed.bin"
done
[ "$(jget 'd["slot"], d["version"], d["trial"]' "$BOOT" --device "$T/dev")" = "('a', '3.0.0+0', False)" ] ||
    fail "a refused image changed what boots: $(cat "$T/.j")"

# Encrypted and big endian: decrypted with the device's key, then installed and booted.
cp "$E/enc-x25519-priv.pem" "$T/dev/enc.pem"
printf '\n[decrypt]\nkey = enc.pem\n' >>"$T/dev/device.ini"
expect 0 "into slot b" "$AGENT" --device "$T/dev" install "$T/be4.bin"
[ "$(jget 'd["slot"], d["version"]' "$BOOT" --device "$T/dev")" = "('b', '4.0.0+7')" ] ||
    fail "the encrypted big-endian image does not boot: $(cat "$T/.j")"

# Dependencies (DEPENDENCY TLV, big endian: revision and build of "(1, 2.0.1+300)").
mkdir "$T/set"
for d in app net; do
    expect 0 "" "$AGENT" --device "$T/set/$d" init --hw-id hw1 --slot-a "$T/set/$d-a.bin" \
        --slot-b "$T/set/$d-b.bin" --trust-key "$T/k1.pub"
done
printf '\n[images]\n1 = ../net\n' >>"$T/set/app/device.ini"
mkimg "$T/app.bin" 1.0.0 1 -e big -d "(1, 2.0.1+300)"
mkimg "$T/net1.bin" 2.0.0 1 -e big
mkimg "$T/net2.bin" 2.0.1 2 -e big
expect 0 "" "$AGENT" --device "$T/set/net" install "$T/net1.bin"
expect 8 "has 2.0.0+0: install that one first" "$AGENT" --device "$T/set/app" install "$T/app.bin"
expect 0 "" "$AGENT" --device "$T/set/net" install "$T/net2.bin"
expect 0 "into slot a" "$AGENT" --device "$T/set/app" install "$T/app.bin"
echo "agent endian: ok"
