#!/bin/bash
# Published sample keys (MCUboot's root-*.pem, tests/data/sample-keys) are refused
# for signing unless --allow-test-key.
. "$(dirname "$0")/lib.sh"
dir="$SRC/tests/data/sample-keys"
[ -d "$dir" ] || fail "$dir missing (sample keys come with the crypto module)"
n=0
for k in "$dir"/*.pem; do
    # Only private keys can sign.
    grep -q "PRIVATE KEY" "$k" || continue
    n=$((n + 1))
    expect 32 "published sample key" "$FWTRUST" sign --key "$k" --header-size 0x200 --pad-header \
        "$FW" "$T/out.bin"
    [ ! -e "$T/out.bin" ] || fail "out.bin written with sample key $k"
    expect 0 "" "$FWTRUST" sign --allow-test-key --key "$k" --header-size 0x200 --pad-header \
        "$FW" "$T/out.bin"
    expect 0 "" "$FWTRUST" verify --key "$k" "$T/out.bin"
    rm -f "$T/out.bin"
done
[ $n -gt 0 ] || fail "no private sample keys in $dir"
# cosign refuses them too, and leaves the image as it was.
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/own.pem"
expect 0 "" "$FWTRUST" sign --no-log --key "$T/own.pem" --header-size 0x200 --pad-header "$FW" "$T/img.bin"
cp "$T/img.bin" "$T/img.orig"
expect 32 "published sample key" "$FWTRUST" cosign --no-log --key "$dir/root-ec-p256.pem" "$T/img.bin"
cmp -s "$T/img.bin" "$T/img.orig" || fail "a refused cosign changed the image"
expect 0 "" "$FWTRUST" cosign --no-log --allow-test-key --key "$dir/root-ec-p256.pem" "$T/img.bin"
expect 0 "2 signature(s)" "$FWTRUST" verify --key "$T/own.pem" --key "$dir/root-ec-p256.pem" \
    --threshold 2 "$T/img.bin"
# A freshly generated key is not a sample key.
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/k.pem"
expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header "$FW" "$T/out.bin"
echo "testkey: ok ($n sample keys)"
