#!/bin/bash
# Streaming: signing and verifying a 64 MiB (sparse) image keeps peak memory
# far below the image size, and it does not grow with the image (raw and Intel HEX).
. "$(dirname "$0")/lib.sh"
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/k.pem"
truncate -s 64M "$T/big.bin"
printf 'firmware start' | dd of="$T/big.bin" bs=1 seek=4096 conv=notrunc status=none
rss() { # peak RSS in KiB of a command, by GNU time
    /usr/bin/time -f %M -o "$T/rss" "$@" >/dev/null || fail "failed: $*"
    tail -n 1 "$T/rss"
}
rs=$(rss "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header "$T/big.bin" "$T/big.signed.bin")
rv=$(rss "$FWTRUST" verify --key "$T/k.pem" "$T/big.signed.bin")
echo "peak RSS: sign $rs KiB, verify $rv KiB"
# A 64 MiB image; reading it whole would need > 65536 KiB. Loose bound (ASan adds overhead).
[ "$rs" -lt 49152 ] || fail "sign peak RSS $rs KiB"
[ "$rv" -lt 49152 ] || fail "verify peak RSS $rv KiB"
[ "$(stat -c %s "$T/big.signed.bin")" -gt $((64 * 1024 * 1024)) ] || fail "signed size"
# Peak memory does not grow with the image: a 4 MiB image against the 64 MiB one,
# raw binary and Intel HEX (in and out), within 4 MiB of each other.
truncate -s 4M "$T/small.bin"
printf 'firmware start' | dd of="$T/small.bin" bs=1 seek=4096 conv=notrunc status=none
rs4=$(rss "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header "$T/small.bin" "$T/small.signed.bin")
rv4=$(rss "$FWTRUST" verify --key "$T/k.pem" "$T/small.signed.bin")
grows() { # NAME SMALL_KIB BIG_KIB
    [ $(($3 - $2)) -lt 4096 ] || fail "$1: peak RSS grows with the image ($2 KiB at 4 MiB, $3 KiB at 64 MiB)"
}
grows sign "$rs4" "$rs"
grows verify "$rv4" "$rv"
hx4=$(rss "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header --hex-addr 0x08000000 \
    "$T/small.bin" "$T/small.hex")
hx=$(rss "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header --hex-addr 0x08000000 \
    "$T/big.bin" "$T/big.hex")
grows "sign to HEX" "$hx4" "$hx"
hi4=$(rss "$FWTRUST" verify --key "$T/k.pem" "$T/small.hex")
hi=$(rss "$FWTRUST" verify --key "$T/k.pem" "$T/big.hex")
grows "verify HEX" "$hi4" "$hi"
# HEX in: the unsigned firmware as Intel HEX (binutils), header room below it.
rm -f "$T/big.signed.bin" "$T/big.hex" "$T/small.hex"
objcopy -I binary -O ihex --change-addresses 0x08000200 "$T/small.bin" "$T/small-in.hex"
objcopy -I binary -O ihex --change-addresses 0x08000200 "$T/big.bin" "$T/big-in.hex"
hs4=$(rss "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header "$T/small-in.hex" "$T/small2.bin")
hs=$(rss "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header "$T/big-in.hex" "$T/big2.bin")
[ "$(stat -c %s "$T/big2.bin")" -gt $((64 * 1024 * 1024)) ] || fail "signed from HEX: size"
grows "sign from HEX" "$hs4" "$hs"
echo "peak RSS 4 MiB / 64 MiB: sign $rs4/$rs, verify $rv4/$rv, sign to HEX $hx4/$hx, verify HEX $hi4/$hi, sign from HEX $hs4/$hs KiB"
echo "large: ok"
