#!/bin/bash
# An encrypted image (MCUboot's scheme, fwtrust sign --encrypt) installed by the
# agent: decrypted with the device's key ([decrypt] key in device.ini) before it
# reaches the slot, the plaintext verified and written; the bootloader boots it
# and verify-slots accepts it. Without the key, with a wrong key, or with an
# altered key TLV the install is refused and the slot is not touched.
. "$(dirname "$0")/lib.sh"
E="$SRC/tests/data/vectors/enc"
keys
mkimg "$T/plain.bin" 1.0.0 1
mkimg "$T/enc.bin" 1.0.0 1 --encrypt "$E/enc-x25519-pub.pem"
mkimg "$T/enc256.bin" 2.0.0 2 --encrypt "$E/enc-x25519-pub.pem" --encrypt-keylen 256
mkdev
cp "$T/slot-a.bin" "$T/a.before"
# No decryption key on the device: refused, slot untouched.
expect 27 "has no decryption key" "$AGENT" --device "$T/dev" install "$T/enc.bin"
cmp "$T/a.before" "$T/slot-a.bin" || fail "a refused install changed slot a"
# A wrong key: refused before the slot is touched.
openssl genpkey -algorithm X25519 -out "$T/dev/other.pem" 2>/dev/null
printf '\n[decrypt]\nkey = other.pem\n' >>"$T/dev/device.ini"
expect 7 "HMAC tag mismatch" "$AGENT" --device "$T/dev" install "$T/enc.bin"
cmp "$T/a.before" "$T/slot-a.bin" || fail "a wrong key changed slot a"
# The device's key.
cp "$E/enc-x25519-priv.pem" "$T/dev/enc.pem"
sed -i 's/^key = other.pem$/key = enc.pem/' "$T/dev/device.ini"
"$PY" - "$T/enc.bin" "$T/tag.bin" <<'PYEOF'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
hs, ps, isz = struct.unpack_from("<HHI", b, 8)
u = hs + isz + ps
m, tot = struct.unpack_from("<HH", b, u)
p = u + 4
while p < u + tot:
    t, ln = struct.unpack_from("<HH", b, p)
    if t == 0x33:
        b[p + 4 + 40] ^= 1  # in the HMAC tag
    p += 4 + ln
open(sys.argv[2], "wb").write(b)
PYEOF
expect 7 "HMAC tag mismatch" "$AGENT" --device "$T/dev" install "$T/tag.bin"
cmp "$T/a.before" "$T/slot-a.bin" || fail "an altered tag changed slot a"
ls -a "$T/dev" | grep -q decrypted && fail "a decrypted copy was left behind"
# Installed: the slot holds the plaintext (as fwtrust decrypt gives it).
expect 0 "into slot a" "$AGENT" --device "$T/dev" install "$T/enc.bin"
"$FWTRUST" decrypt --key "$E/enc-x25519-priv.pem" "$T/enc.bin" "$T/enc.dec"
cmp -n "$(stat -c %s "$T/enc.dec")" "$T/enc.dec" "$T/slot-a.bin" || fail "slot a does not hold the plaintext"
ls -a "$T/dev" | grep -q decrypted && fail "the decrypted copy was left behind"
[ "$(jget 'd["ok"], d["slot"], d["version"]' "$BOOT" --device "$T/dev")" = "(True, 'a', '1.0.0+0')" ] ||
    fail "boot of the decrypted image: $(cat "$T/.j")"
expect 0 "" "$AGENT" --device "$T/dev" confirm
expect 0 "" "$AGENT" --device "$T/dev" verify-slots
# AES-256 into slot b, from standard input (spooled, then decrypted).
expect 0 "into slot b" sh -c "\"$AGENT\" --device \"$T/dev\" install - <\"$T/enc256.bin\""
[ "$(jget 'd["ok"], d["slot"], d["version"]' "$BOOT" --device "$T/dev")" = "(True, 'b', '2.0.0+0')" ] ||
    fail "boot of the AES-256 image: $(cat "$T/.j")"
expect 0 "" "$AGENT" --device "$T/dev" confirm
ls -a "$T/dev" | grep -q 'stdin' && fail "the spooled copy was left behind"
# A plain image from standard input on a device with a key still installs.
mkimg "$T/plain3.bin" 3.0.0 3
expect 0 "into slot a" sh -c "\"$AGENT\" --device \"$T/dev\" install - <\"$T/plain3.bin\""
echo "agent encrypted: ok"
