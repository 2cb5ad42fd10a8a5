#!/bin/bash
# Pure Ed25519 images through the install path: imgtool's layout (SHA-512,
# unprotected SIG_PURE; the agent's one-pass SHA-256 check does not apply, so
# it verifies the slot the long way) and the older fwtrust layout (SHA-256,
# protected SIG_PURE: the one-pass fwt_image_verify_prehashed path, whose pure
# signature is checked over the slot's bytes). From a file and a pipe; booted;
# a pure image with a bad signature leaves nothing bootable.
. "$(dirname "$0")/lib.sh"
keys
mkimg "$T/p1.bin" 1.0.0 1 --pure
"$FWTRUST" inspect "$T/p1.bin" | grep -q "unprotected 0x0025 SIG_PURE" || fail "not imgtool's pure layout"
# The older layout, made here with Python cryptography from the same key.
payload 24 "$T/payload2.bin"
"$PY" - "$T/k1.pem" "$T/payload2.bin" "$T/p2.bin" "$T/p2bad.bin" <<'PYEOF'
import hashlib, struct, sys
from cryptography.hazmat.primitives import serialization
key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), password=None)
pub = key.public_key().public_bytes(serialization.Encoding.DER,
                                    serialization.PublicFormat.SubjectPublicKeyInfo)
fw = open(sys.argv[2], "rb").read()
tl = lambda t, v: struct.pack("<HH", t, len(v)) + v
prot = tl(0x25, b"\x01") + tl(0x50, struct.pack("<I", 2)) + tl(0x46a1, b"hw1")
prot = struct.pack("<HH", 0x6908, 4 + len(prot)) + prot
hdr = struct.pack("<IIHHIIBBHII", 0x96F3B83D, 0, 0x200, len(prot), len(fw), 0, 2, 0, 0, 0, 0)
signed = hdr + bytes(0x200 - 32) + fw + prot
for out, msg in ((sys.argv[3], signed), (sys.argv[4], signed[:-1] + b"\x00")):
    un = tl(0x10, hashlib.sha256(signed).digest()) + tl(0x01, hashlib.sha256(pub).digest()) \
        + tl(0x24, key.sign(msg))
    open(out, "wb").write(signed + struct.pack("<HH", 0x6907, 4 + len(un)) + un)
PYEOF
expect 0 "valid" "$FWTRUST" verify --key "$T/k1.pub" "$T/p2.bin"
expect 22 "" "$FWTRUST" verify --key "$T/k1.pub" "$T/p2bad.bin"
mkdev
expect 0 "into slot a" "$AGENT" --device "$T/dev" install "$T/p1.bin"
cmp -n "$(stat -c %s "$T/p1.bin")" "$T/p1.bin" "$T/slot-a.bin" || fail "slot a does not hold p1"
[ "$(jget 'd["slot"], d["trial"], d["version"]' "$BOOT" --device "$T/dev")" = "('a', True, '1.0.0+0')" ] ||
    fail "boot of the pure image: $(cat "$T/.j")"
expect 0 "" "$AGENT" --device "$T/dev" confirm
expect 0 "into slot b" sh -c "\"$AGENT\" --device \"$T/dev\" install - <\"$T/p2.bin\""
[ "$(jget 'd["slot"], d["trial"], d["version"]' "$BOOT" --device "$T/dev")" = "('b', True, '2.0.0+0')" ] ||
    fail "boot of the older-layout pure image: $(cat "$T/.j")"
expect 0 "" "$AGENT" --device "$T/dev" confirm
# A bad pure signature (the digest is right): refused, from a file and a pipe,
# nothing marked bootable, the running slot untouched.
cp "$T/slot-b.bin" "$T/b.before"
expect 22 "" "$AGENT" --device "$T/dev" install "$T/p2bad.bin"
expect 22 "" sh -c "\"$AGENT\" --device \"$T/dev\" install - <\"$T/p2bad.bin\""
cmp "$T/b.before" "$T/slot-b.bin" || fail "a refused install changed the running slot"
[ "$(jget 'd["slot"], d["trial"]' "$BOOT" --device "$T/dev")" = "('b', False)" ] ||
    fail "after the refused installs: $(cat "$T/.j")"
echo "pure: ok"
