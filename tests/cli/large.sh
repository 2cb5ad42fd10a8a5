#!/bin/bash
# Streaming: signing and verifying a 64 MiB (sparse) image keeps peak memory
# far below the image size.
. "$(dirname "$0")/lib.sh"
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/k.pem"
truncate -s 64M "$T/big.bin"
printf 'firmware start' | dd of="$T/big.bin" bs=1 seek=4096 conv=notrunc status=none
rss() { # peak RSS in KiB of a command, by GNU time
    /usr/bin/time -f %M -o "$T/rss" "$@" >/dev/null
    tail -n 1 "$T/rss"
}
rs=$(rss "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header "$T/big.bin" "$T/big.signed.bin")
rv=$(rss "$FWTRUST" verify --key "$T/k.pem" "$T/big.signed.bin")
echo "peak RSS: sign $rs KiB, verify $rv KiB"
# A 64 MiB image; reading it whole would need > 65536 KiB. Loose bound (ASan adds overhead).
[ "$rs" -lt 49152 ] || fail "sign peak RSS $rs KiB"
[ "$rv" -lt 49152 ] || fail "verify peak RSS $rv KiB"
[ "$(stat -c %s "$T/big.signed.bin")" -gt $((64 * 1024 * 1024)) ] || fail "signed size"
echo "large: ok"
