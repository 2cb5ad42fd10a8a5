#!/bin/bash
# imgtool's signing options in fwtrust sign (docs/imgtool.md): --custom-tlv /
# --custom-tlv-file, --boot-record, -d/--dependencies, --max-align, --max-sectors,
# --overwrite-only, --non-bootable, --sha, --endian, the short flags; each image
# matches the one imgtool made (byte for byte where the signature is
# deterministic, the signed region otherwise) and verifies; and detached
# signing: --vector-to-sign, a signature made by `openssl pkeyutl`, --fix-sig
# with --fix-sig-pubkey (checked before writing), --sig-out, and a pre-padded ECDSA signature
# (imgtool --pad-sig's form) assembled as given.
. "$(dirname "$0")/lib.sh"
D="$VEC/imgtool-options"
V="$SRC/tests/interop/imgtool/verify.py"
S="$VEC/enc" # MCUboot's sample signing keys (root-*.pem)
IMG=(--version 4.0.0+5 --header-size 0x200 --pad-header --slot-size 0x80000 --no-format-tlv
     --allow-test-key --no-log)
ED="$D/root-ed25519.pub.pem"
P256="$D/root-ec-p256.pub.pem"

signed_region_equal() { # A B: header + payload + protected TLVs identical
    "$PY" - "$1" "$2" <<'PYEOF'
import struct, sys
a, b = (open(p, "rb").read() for p in sys.argv[1:3])
hs, ps, isz = struct.unpack_from("<HHI", a, 8)
u = hs + isz + ps
assert a[:u] == b[:u], "signed regions differ"
# and the hash TLV (first in the unprotected area)
assert a[u + 4:u + 8 + 32] == b[u + 4:u + 8 + 32], "hash TLVs differ"
PYEOF
}

# imgtool --custom-tlv 0xa0 0x01020304 --max-align 32 --align 32 with Ed25519: byte for byte.
expect 0 "" "$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" --custom-tlv 0xa0 0x01020304 \
    --max-align 32 --align 32 "$FW" "$T/ct.bin"
cmp "$T/ct.bin" "$D/ed25519-customtlv-maxalign32.bin" || fail "custom TLV image differs from imgtool's"
# the one-word form and a file give the same TLV
printf '\001\002\003\004' >"$T/val.bin"
"$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" --custom-tlv=0xa0:0x01020304 --max-align 32 --align 32 "$FW" "$T/ct2.bin"
"$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" --custom-tlv-file 0xa0 "$T/val.bin" --max-align 32 --align 32 "$FW" "$T/ct3.bin"
cmp "$T/ct2.bin" "$T/ct.bin" && cmp "$T/ct3.bin" "$T/ct.bin" || fail "custom TLV forms disagree"
# text values, several TLVs
expect 0 "" "$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" --custom-tlv 0xa1 hello \
    --custom-tlv 0x1234 0x00ff "$FW" "$T/ct4.bin"
expect 0 "valid" "$FWTRUST" verify --key "$ED" "$T/ct4.bin"
"$FWTRUST" inspect --json "$T/ct4.bin" >"$T/i.json"
[ "$(json_field "$T/i.json" '[(t["type"], t["value"]) for t in d["tlvs"] if t["area"] == "protected"]')" = \
  "[(161, '68656c6c6f'), (4660, '00ff')]" ] || fail "custom TLVs: $(json_field "$T/i.json" 'd["tlvs"]')"
refuse_sign() { # RC MESSAGE ARGS...
    local rc=$1 msg=$2
    shift 2
    rm -f "$T/r.bin"
    expect "$rc" "$msg" "$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" "$@" "$FW" "$T/r.bin"
    [ ! -e "$T/r.bin" ] || fail "sign wrote output although it failed ($msg)"
}
refuse_sign 1 "outside imgtool's vendor range" --custom-tlv 0x50 0x01
refuse_sign 1 "fwtrust's own range" --custom-tlv 0x46a5 0x01
refuse_sign 1 "even number of hex digits" --custom-tlv 0xa0 0x123
refuse_sign 1 "given twice" --custom-tlv 0xa0 0x01 --custom-tlv 0xa0 0x02
refuse_sign 1 "the byte order is little or big" -e middle
refuse_sign 1 "cannot sign a sha384 image" --sha 384
refuse_sign 1 "1 to 12 characters" --boot-record ABCDEFGHIJKLM

# -d "(1,1.2.3+0)" and --boot-record BL2 with P-256: the signed region is imgtool's.
expect 0 "" "$FWTRUST" sign -k "$S/root-ec-p256.pem" "${IMG[@]}" -d "(1,1.2.3+0)" "$FW" "$T/dep.bin"
signed_region_equal "$T/dep.bin" "$D/p256-dependency.bin"
expect 0 "image 1 >= 1.2.3+0" "$FWTRUST" inspect "$T/dep.bin"
expect 0 "OK" "$PY" "$V" "$P256" "$T/dep.bin"
expect 0 "" "$FWTRUST" sign -k "$S/root-ec-p256.pem" "${IMG[@]}" --boot-record BL2 "$FW" "$T/br.bin"
signed_region_equal "$T/br.bin" "$D/p256-bootrecord.bin"
expect 0 "sw_type BL2, version 4.0.0, SHA256 measurement" "$FWTRUST" inspect "$D/p256-bootrecord.bin"
expect 0 "valid" "$FWTRUST" verify --key "$P256" "$T/br.bin"
# several dependencies, in both of imgtool's forms
expect 0 "" "$FWTRUST" sign -k "$S/root-ec-p256.pem" "${IMG[@]}" -d "(1, 1.2.3), (2,0.9.0+7)" \
    --dependencies "(3,4.0.0)" "$FW" "$T/deps.bin"
"$FWTRUST" inspect --json "$T/deps.bin" >"$T/d.json"
[ "$(json_field "$T/d.json" '[(t["image_id"], t["min_version"]) for t in d["tlvs"] if t["name"] == "DEPENDENCY"]')" = \
  "[(1, '1.2.3+0'), (2, '0.9.0+7'), (3, '4.0.0+0')]" ] || fail "dependencies: $(cat "$T/d.json")"
expect 1 "expected (IMAGE_ID, VERSION)" "$FWTRUST" sign -k "$S/root-ec-p256.pem" "${IMG[@]}" -d "1,1.2.3" "$FW" "$T/x.bin"

# --sha 512 with Ed25519 (imgtool allows 256 and 512), checked by the independent verifier.
expect 0 "" "$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" -s 5 --sha 512 "$FW" "$T/s512.bin"
expect 0 "digest (sha512)" "$FWTRUST" verify --key "$ED" "$T/s512.bin"
cmp "$T/s512.bin" "$D/ed25519-sha512.bin" || fail "--sha 512 differs from the imgtool layout"
expect 1 "cannot sign a sha512 image" "$FWTRUST" sign -k "$S/root-ec-p256.pem" "${IMG[@]}" --sha 512 "$FW" "$T/x.bin"

# Header flags and trailers: --non-bootable, -L, --max-align 16, -M, --overwrite-only.
expect 0 "" "$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" --non-bootable -L 0x20000000 "$FW" "$T/nb.bin"
"$FWTRUST" inspect --json "$T/nb.bin" >"$T/nb.json"
[ "$(json_field "$T/nb.json" 'd["header"]["flags"]')" = "$((0x30))" ] || fail "flags: $(json_field "$T/nb.json" 'd["header"]')"
expect 0 "" "$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" --pad --max-align 16 --align 8 "$FW" "$T/ma.bin"
[ "$(tail -c 16 "$T/ma.bin" | od -An -tx1 | tr -d ' \n')" = "10002de15d29410b8d77679c110f1f8a" ] ||
    fail "--max-align 16 trailer magic"
"$PY" - "$FW" "$T" "$FWTRUST" <<'PYEOF'
import os, subprocess, sys
fw, t, fwt = sys.argv[1:4]
key = os.path.join(os.environ["SRC"], "tests/data/vectors/enc/root-ed25519.pem")
base = ["--version", "1.0.0", "--header-size", "0x200", "--pad-header", "--no-format-tlv",
        "--allow-test-key", "--no-log", "-k", key]
# the unsigned-slot size: image + trailer must fit; find the image size
subprocess.run([fwt, "sign", *base, fw, t + "/sz.bin"], check=True, capture_output=True)
img = os.path.getsize(t + "/sz.bin")
def fits(slot, *extra):
    r = subprocess.run([fwt, "sign", *base, "-S", hex(slot), *extra, fw, t + "/fit.bin"],
                       capture_output=True)
    return r.returncode
# imgtool's trailer sizes (align 8): swap 128*3*8 + 4*8 + 16 = 3120; -M 64: 64*3*8 + 48 = 1584;
# --overwrite-only: 2*8 + 16 = 32
for extra, size in [((), 3120), (("-M", "64"), 1584), (("--overwrite-only",), 32)]:
    args = ("--align", "8", *extra)
    assert fits(img + size, *args) == 0, (extra, "should fit")
    assert fits(img + size - 1, *args) == 33, (extra, "should not fit")
print("trailer sizes: ok")
PYEOF
expect 1 "exclude each other" "$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" --overwrite-only --confirm "$FW" "$T/x.bin"

# --pad-sig: ECDSA signature TLVs of a fixed size (72 bytes P-256, 104 P-384), the DER
# followed by zeros (DER length varies with the top bits of r and s: 70-72 bytes, so
# about 3 in 4 signatures need padding); fwtrust and the independent verifier accept
# them as MCUboot does, and refuse padding that is not zeros.
for kt in p256 p384; do
    if [ $kt = p256 ]; then K="$S/root-ec-p256.pem" PUB="$P256" W=72
    else "$FWTRUST" keygen --type ecdsa-p384 -o "$T/ps-p384.pem" >/dev/null
        "$FWTRUST" pubkey "$T/ps-p384.pem" -o "$T/ps-p384.pub"; K="$T/ps-p384.pem" PUB="$T/ps-p384.pub" W=104
    fi
    padded=""
    for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
        expect 0 "" "$FWTRUST" sign -k "$K" "${IMG[@]}" --pad-sig "$FW" "$T/ps-$kt-$i.bin"
        "$FWTRUST" inspect --json "$T/ps-$kt-$i.bin" >"$T/ps.json"
        sig=$(json_field "$T/ps.json" '[t["value"] for t in d["tlvs"] if t["type"] == 0x22][0]')
        [ $((${#sig} / 2)) = $W ] || fail "--pad-sig $kt: a signature TLV of $((${#sig} / 2)) bytes, not $W"
        der=$((2 + 0x${sig:2:2}))
        expect 0 "valid" "$FWTRUST" verify --key "$PUB" "$T/ps-$kt-$i.bin"
        expect 0 "OK" "$PY" "$V" "$PUB" "$T/ps-$kt-$i.bin"
        if [ $der -lt $W ]; then
            padded="$T/ps-$kt-$i.bin"
            [ "${sig:$((der * 2))}" = "$(printf '%0*d' $(((W - der) * 2)) 0)" ] || fail "--pad-sig: padding is not zeros"
        fi
    done
    [ -n "$padded" ] || fail "--pad-sig $kt: no signature of 12 needed padding"
    # a non-zero byte in the padding (the signature is the last TLV): refused by both
    cp "$padded" "$T/ps-bad.bin"
    printf '\001' | dd of="$T/ps-bad.bin" bs=1 seek=$(($(stat -c %s "$padded") - 1)) conv=notrunc 2>/dev/null
    expect 22 "does not verify" "$FWTRUST" verify --key "$PUB" "$T/ps-bad.bin"
    expect 1 "not imgtool's zero padding" "$PY" "$V" "$PUB" "$T/ps-bad.bin"
    # zeros beyond the curve's largest DER size: not imgtool's padding either
    "$PY" - "$padded" "$T/ps-long.bin" <<'PYEOF'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
hs, ps, isz = struct.unpack_from("<HHI", b, 8)
u = hs + isz + ps
m, tot = struct.unpack_from("<HH", b, u)
p = u + 4
while p < u + tot:
    t, ln = struct.unpack_from("<HH", b, p)
    if t == 0x22:
        assert p + 4 + ln == len(b), "the signature is not the last TLV"
        struct.pack_into("<H", b, p + 2, ln + 1)
    p += 4 + ln
struct.pack_into("<H", b, u + 2, tot + 1)
open(sys.argv[2], "wb").write(b + b"\0")
PYEOF
    expect 22 "does not verify" "$FWTRUST" verify --key "$PUB" "$T/ps-long.bin"
    expect 1 "not imgtool's zero padding" "$PY" "$V" "$PUB" "$T/ps-long.bin"
done
# without --pad-sig the TLV is the DER alone
expect 0 "" "$FWTRUST" sign -k "$S/root-ec-p256.pem" "${IMG[@]}" "$FW" "$T/np.bin"
"$FWTRUST" inspect --json "$T/np.bin" >"$T/np.json"
[ "$(json_field "$T/np.json" '[len(t["value"]) // 2 - 2 - int(t["value"][2:4], 16) for t in d["tlvs"] if t["type"] == 0x22][0]')" = 0 ] ||
    fail "a signature without --pad-sig has padding"
# Ed25519 signatures have a fixed size: --pad-sig leaves them as they are
expect 0 "" "$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" --pad-sig "$FW" "$T/ps-ed.bin"
expect 0 "" "$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" "$FW" "$T/ps-ed0.bin"
cmp "$T/ps-ed.bin" "$T/ps-ed0.bin" || fail "--pad-sig changed an Ed25519 image"

# ---- detached signing: the key never touches this machine ----
for kt in ed25519 ecdsa-p256 ecdsa-p384 rsa-2048; do
    "$FWTRUST" keygen --type "$kt" -o "$T/off-$kt.pem" >/dev/null
    "$FWTRUST" pubkey "$T/off-$kt.pem" -o "$T/off-$kt.pub"
    opts=(--version 2.0.0 --header-size 0x200 --pad-header -s 7 --hw-id board-a)
    expect 0 "" "$FWTRUST" sign "${opts[@]}" --fix-sig-pubkey "$T/off-$kt.pub" --vector-to-sign digest \
        -o "$T/vec-$kt.bin" "$FW"
    case $kt in
    ed25519) openssl pkeyutl -sign -inkey "$T/off-$kt.pem" -rawin -in "$T/vec-$kt.bin" -out "$T/sig-$kt.bin" ;;
    ecdsa-*) openssl pkeyutl -sign -inkey "$T/off-$kt.pem" -in "$T/vec-$kt.bin" -out "$T/sig-$kt.bin" ;;
    rsa-2048) openssl pkeyutl -sign -inkey "$T/off-$kt.pem" -in "$T/vec-$kt.bin" -pkeyopt digest:sha256 \
        -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32 -out "$T/sig-$kt.bin" ;;
    esac
    expect 0 "" "$FWTRUST" sign "${opts[@]}" --no-log --fix-sig-pubkey "$T/off-$kt.pub" \
        --fix-sig "$T/sig-$kt.bin" --sig-out "$T/out-$kt.b64" "$FW" "$T/det-$kt.bin"
    expect 0 "valid, version 2.0.0+0" "$FWTRUST" verify --key "$T/off-$kt.pub" --hw-id board-a \
        "$T/det-$kt.bin"
    expect 0 "OK" "$PY" "$V" "$T/off-$kt.pub" "$T/det-$kt.bin"
    # the digest exported is the image's digest
    [ "$(od -An -tx1 "$T/vec-$kt.bin" | tr -d ' \n')" = "$("$FWTRUST" verify --json --key "$T/off-$kt.pub" \
        "$T/det-$kt.bin" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["digest"])')" ] ||
        fail "$kt: the exported digest is not the image digest"
    # --sig-out saved that signature, base64; it assembles the same image again
    [ "$(base64 -d "$T/out-$kt.b64" | od -An -tx1)" = "$(od -An -tx1 "$T/sig-$kt.bin")" ] ||
        fail "$kt: --sig-out is not the signature"
    expect 0 "" "$FWTRUST" sign "${opts[@]}" --no-log --fix-sig-pubkey "$T/off-$kt.pub" \
        --fix-sig "$T/out-$kt.b64" "$FW" "$T/det2-$kt.bin"
    cmp "$T/det-$kt.bin" "$T/det2-$kt.bin" || fail "$kt: base64 --fix-sig gives another image"
done
# A pre-padded ECDSA signature (imgtool --pad-sig's form: the DER, then zeros up to 72 bytes
# for P-256, 104 for P-384), as an offline signer that pads delivers it: assembled as given
# (imgtool's --fix-sig puts the value in the TLV unchanged), its DER verified before anything is
# written; the same image as --pad-sig with the unpadded signature.
pad_to() { # IN N OUT [BYTE]: IN followed by BYTE (default 0) up to N bytes
    "$PY" -c 'import sys; d = open(sys.argv[1], "rb").read(); n = int(sys.argv[2])
b = bytes([int(sys.argv[4])]) if len(sys.argv) > 4 else b"\0"
open(sys.argv[3], "wb").write(d + b * (n - len(d)))' "$@"
}
for kp in ecdsa-p256:72 ecdsa-p384:104; do
    kt=${kp%%:*} n=${kp#*:}
    opts=(--version 2.0.0 --header-size 0x200 --pad-header -s 7 --hw-id board-a --no-log
          --fix-sig-pubkey "$T/off-$kt.pub")
    # a signature with something to pad (a DER of the largest size has no padding): sign again
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
        [ "$(wc -c <"$T/sig-$kt.bin")" -lt "$n" ] && break
        openssl pkeyutl -sign -inkey "$T/off-$kt.pem" -in "$T/vec-$kt.bin" -out "$T/sig-$kt.bin"
    done
    [ "$(wc -c <"$T/sig-$kt.bin")" -lt "$n" ] || fail "$kt: openssl's signatures are all $n bytes"
    pad_to "$T/sig-$kt.bin" "$n" "$T/padded-$kt.sig"
    expect 0 "" "$FWTRUST" sign "${opts[@]}" --fix-sig "$T/padded-$kt.sig" "$FW" "$T/pp-$kt.bin"
    expect 0 "valid, version 2.0.0+0" "$FWTRUST" verify --key "$T/off-$kt.pub" --hw-id board-a \
        "$T/pp-$kt.bin"
    expect 0 "OK" "$PY" "$V" "$T/off-$kt.pub" "$T/pp-$kt.bin"
    "$FWTRUST" inspect --json "$T/pp-$kt.bin" >"$T/pp.json"
    [ "$(json_field "$T/pp.json" '[len(t["value"]) // 2 for t in d["tlvs"] if t["type"] in (0x22, 0x23)][0]')" = "$n" ] ||
        fail "$kt: the signature TLV is not the $n bytes given"
    expect 0 "" "$FWTRUST" sign "${opts[@]}" --pad-sig --fix-sig "$T/sig-$kt.bin" "$FW" "$T/ps-$kt.bin"
    cmp "$T/pp-$kt.bin" "$T/ps-$kt.bin" || fail "$kt: pre-padded --fix-sig differs from --pad-sig"
    expect 0 "" "$FWTRUST" sign "${opts[@]}" --pad-sig --fix-sig "$T/padded-$kt.sig" "$FW" "$T/pps-$kt.bin"
    cmp "$T/pp-$kt.bin" "$T/pps-$kt.bin" || fail "$kt: --pad-sig padded a padded signature again"
    # padding that is not zeros, or longer than imgtool pads: refused, nothing written
    pad_to "$T/sig-$kt.bin" "$n" "$T/badpad-$kt.sig" 1
    pad_to "$T/sig-$kt.bin" $((n + 1)) "$T/longpad-$kt.sig"
    for bad in "badpad:not zero padding" "longpad:more than the $n"; do
        rm -f "$T/r.bin"
        expect 22 "${bad#*:}" "$FWTRUST" sign "${opts[@]}" --fix-sig "$T/${bad%%:*}-$kt.sig" "$FW" "$T/r.bin"
        [ ! -e "$T/r.bin" ] || fail "$kt: an image was written with a ${bad%%:*} signature"
    done
    # padded, but the DER in it is another image's signature: refused
    expect 22 "does not verify with the given public key" "$FWTRUST" sign "${opts[@]}" --version 2.0.1 \
        --fix-sig "$T/padded-$kt.sig" "$FW" "$T/r.bin"
done
# Pure Ed25519: the payload vector (the signed region) is what the key signs.
expect 0 "" "$FWTRUST" sign --version 2.0.0 --header-size 0x200 --pad-header --pure \
    --fix-sig-pubkey "$T/off-ed25519.pub" --vector-to-sign payload -o "$T/pay.bin" "$FW"
openssl pkeyutl -sign -inkey "$T/off-ed25519.pem" -rawin -in "$T/pay.bin" -out "$T/pay.sig"
expect 0 "" "$FWTRUST" sign --version 2.0.0 --header-size 0x200 --pad-header --pure --no-log \
    --fix-sig-pubkey "$T/off-ed25519.pub" --fix-sig "$T/pay.sig" "$FW" "$T/pure.bin"
expect 0 "pure Ed25519" "$FWTRUST" verify --key "$T/off-ed25519.pub" "$T/pure.bin"
# A wrong signature, or one by another key: refused, nothing written.
opts=(--version 2.0.0 --header-size 0x200 --pad-header -s 7 --hw-id board-a --no-log)
cp "$T/sig-ed25519.bin" "$T/bad.sig"
flip "$T/bad.sig" 10
for args in "--fix-sig-pubkey $T/off-ed25519.pub --fix-sig $T/bad.sig" \
            "--fix-sig-pubkey $T/off-ed25519.pub --fix-sig $T/sig-ecdsa-p256.bin" \
            "--fix-sig-pubkey $T/off-ecdsa-p256.pub --fix-sig $T/sig-ecdsa-p384.bin"; do
    rm -f "$T/r.bin"
    # shellcheck disable=SC2086
    expect 22 "does not verify with the given public key" "$FWTRUST" sign "${opts[@]}" $args "$FW" "$T/r.bin"
    [ ! -e "$T/r.bin" ] || fail "an image was written with a bad signature"
done
# the signature of another image (version changed) does not verify either
expect 22 "" "$FWTRUST" sign --version 2.0.1 --header-size 0x200 --pad-header -s 7 --hw-id board-a --no-log \
    --fix-sig-pubkey "$T/off-ed25519.pub" --fix-sig "$T/sig-ed25519.bin" "$FW" "$T/r.bin"
expect 1 "cannot be combined" "$FWTRUST" sign -k "$T/off-ed25519.pem" --fix-sig-pubkey "$T/off-ed25519.pub" \
    --vector-to-sign digest --header-size 0x200 --pad-header "$FW" "$T/r.bin"
expect 1 "or --fix-sig-pubkey with --fix-sig or --vector-to-sign" "$FWTRUST" sign --vector-to-sign digest --header-size 0x200 "$FW" "$T/r.bin"
expect 1 "OUT given twice" "$FWTRUST" sign -k "$T/off-ed25519.pem" --header-size 0x200 --pad-header -o "$T/a" "$FW" "$T/b"
echo "imgtool_sign: ok"
