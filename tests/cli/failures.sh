#!/bin/bash
# Each kind of bad image gets its documented exit code and a clear message.
. "$(dirname "$0")/lib.sh"
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/k.pem"
expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --version 1.0.0 --header-size 0x20 --pad-header \
    --security-counter 10 --hw-id board-a "$FW" "$T/good.bin"
expect 0 "" "$FWTRUST" verify --key "$T/k.pem" "$T/good.bin"

# Tampered payload: 21, naming both digests.
cp "$T/good.bin" "$T/payload.bin"
flip "$T/payload.bin" 1000
expect 21 "digest mismatch: image says " "$FWTRUST" verify --key "$T/k.pem" "$T/payload.bin"
grep -q ", computed [0-9a-f]\{64\}" "$T/.err" || fail "digest message lacks the computed digest"

# Tampered signature (last byte of the file is inside the ECDSA signature): 22.
cp "$T/good.bin" "$T/sig.bin"
size=$(stat -c %s "$T/sig.bin")
"$PY" - "$T/sig.bin" <<'PYEOF'
import sys, struct
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
hs, ps, isz = struct.unpack_from("<HHI", b, 8)
off = hs + isz + ps
m, tot = struct.unpack_from("<HH", b, off)
pos, end = off + 4, off + tot
while pos < end:
    t, l = struct.unpack_from("<HH", b, pos)
    if t == 0x22:
        # ECDSA DER: flip a byte inside r (keeps the DER well-formed).
        b[pos + 4 + 8] ^= 0x01
    pos += 4 + l
open(p, "wb").write(b)
PYEOF
expect 22 "does not verify" "$FWTRUST" verify --key "$T/k.pem" "$T/sig.bin"

# Unsigned image (only the hash TLV left): 23.
"$PY" - "$T/good.bin" "$T/unsigned.bin" <<'PYEOF'
import sys, struct
b = bytearray(open(sys.argv[1], "rb").read())
hs, ps, isz = struct.unpack_from("<HHI", b, 8)
off = hs + isz + ps
t, l = struct.unpack_from("<HH", b, off + 4)
assert t == 0x10 and l == 32
area = struct.pack("<HH", 0x6907, 4 + 36) + b[off + 4:off + 40]
open(sys.argv[2], "wb").write(b[:off] + area)
PYEOF
expect 23 "no signature" "$FWTRUST" verify --key "$T/k.pem" "$T/unsigned.bin"

# Hardware id and counter policy: 25, 26.
expect 25 "image is for hardware id 'board-a', this device is 'board-b'" \
    "$FWTRUST" verify --key "$T/k.pem" --hw-id board-b "$T/good.bin"
expect 0 "" "$FWTRUST" verify --key "$T/k.pem" --hw-id board-a "$T/good.bin"
expect 26 "security counter 10 is below the minimum 11" \
    "$FWTRUST" verify --key "$T/k.pem" --min-security-counter 11 "$T/good.bin"
expect 0 "" "$FWTRUST" verify --key "$T/k.pem" --min-security-counter 10 "$T/good.bin"
expect 0 "" "$FWTRUST" verify --key "$T/k.pem" --min-security-counter 9 "$T/good.bin"
# The largest counter: equal and lower minimums pass; nothing is above it.
expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x20 --pad-header \
    --security-counter 0xffffffff "$FW" "$T/max.bin"
expect 0 "security counter: 4294967295" "$FWTRUST" verify --key "$T/k.pem" \
    --min-security-counter 0xffffffff "$T/max.bin"
expect 0 "" "$FWTRUST" verify --key "$T/k.pem" --min-security-counter 0xfffffffe "$T/max.bin"
expect 1 "--security-counter" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x20 --pad-header \
    --security-counter 0x100000000 "$FW" "$T/max.bin"
# An image without a counter fails any non-zero minimum.
expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x20 --pad-header "$FW" "$T/nocnt.bin"
expect 26 "no security counter" "$FWTRUST" verify --key "$T/k.pem" --min-security-counter 1 \
    "$T/nocnt.bin"

# Not an image / truncated / missing / no trust anchor / usage.
expect 20 "" "$FWTRUST" verify --key "$T/k.pem" "$FW"
head -c 300 "$T/good.bin" >"$T/trunc.bin"
expect 20 "" "$FWTRUST" verify --key "$T/k.pem" "$T/trunc.bin"
expect 8 "" "$FWTRUST" verify --key "$T/k.pem" "$T/nothing.bin"
expect 31 "no --key or --root given" "$FWTRUST" verify "$T/good.bin"
expect 1 "fwtrust verify: missing operand: usage: fwtrust verify IMAGE" "$FWTRUST" verify --key "$T/k.pem"
expect 1 "--threshold" "$FWTRUST" verify --key "$T/k.pem" --threshold 0 "$T/good.bin"
expect 20 "" "$FWTRUST" inspect "$T/trunc.bin"
expect 8 "" "$FWTRUST" inspect "$T/nothing.bin"

# A failed sign leaves OUT as it was and no temporary file behind.
echo "old contents" >"$T/out.bin"
ls "$T" >"$T/.before"
expect 33 "exceeds the slot size 0x1000" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x20 \
    --pad-header --slot-size 0x1000 "$FW" "$T/out.bin"
[ "$(cat "$T/out.bin")" = "old contents" ] || fail "out.bin changed by a failed sign"
expect 1 "not all zero" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x20 "$FW" "$T/out.bin"
expect 1 "version" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x20 --version 1.2.3.4 "$FW" "$T/out.bin"
expect 1 "--header-size is required" "$FWTRUST" sign --key "$T/k.pem" "$FW" "$T/out.bin"
expect 1 "at least one --key" "$FWTRUST" sign --header-size 0x20 "$FW" "$T/out.bin"
expect 8 "" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x20 --pad-header "$T/none.bin" "$T/out.bin"
expect 7 "" "$FWTRUST" sign --key "$T/none.pem" --header-size 0x20 --pad-header "$FW" "$T/out.bin"
ls "$T" >"$T/.after"
diff "$T/.before" "$T/.after" >/dev/null || fail "failed signs left files: $(diff "$T/.before" "$T/.after")"
[ "$(cat "$T/out.bin")" = "old contents" ] || fail "out.bin changed by a failed sign"
# A key file that does not exist: the hint names the option and how to make the file.
expect 7 "fwtrust sign: hint: --key names $T/nokey.pem, which does not exist; create a signing key with 'fwtrust keygen -o FILE'" \
    "$FWTRUST" sign --key "$T/nokey.pem" --version 1.0.0 --header-size 0x20 --pad-header "$FW" "$T/nk.bin"
expect 7 "fwtrust verify: hint: --key names $T/nokey.pub, which does not exist; export the public key with 'fwtrust pubkey" \
    "$FWTRUST" verify --key "$T/k.pem" --key "$T/nokey.pub" "$T/good.bin"
expect 7 "fwtrust pubkey: hint: KEY names $T/nokey.pem, which does not exist" "$FWTRUST" pubkey "$T/nokey.pem"
# a key that exists but is not a key: no such hint
echo "not a key" >"$T/notkey.pem"
expect 7 "" "$FWTRUST" verify --key "$T/notkey.pem" "$T/good.bin"
grep -q "hint:" "$T/.err" && fail "a hint for a key file that exists: $(cat "$T/.err")"
echo "failures: ok"
