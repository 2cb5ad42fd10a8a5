#!/bin/bash
# The device's decryption key in a PKCS#11 token (SoftHSM): an EC P-256 key
# usable for ECDH only inside the token decrypts ECIES-P256 images for
# `fwtrust decrypt`, `fwtrust verify --decrypt-key` and the agent's install
# ([decrypt] key = pkcs11:..., module and PIN file from the operator's
# environment). A URI naming a module or a PIN file in device.ini is refused.
. "$(dirname "$0")/lib.sh"
MODULE=/usr/lib/softhsm/libsofthsm2.so
if [ ! -e "$MODULE" ] || ! command -v pkcs11-tool >/dev/null || ! command -v softhsm2-util >/dev/null; then
    echo "SKIP: SoftHSM2 ($MODULE) or pkcs11-tool (opensc) missing"
    exit 77
fi
E="$SRC/tests/data/vectors/enc"
export SOFTHSM2_CONF="$T/softhsm2.conf"
mkdir "$T/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$T/tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label dev-enc --pin 123456 --so-pin 654321 >/dev/null
printf '123456\n' >"$T/pin"
# MCUboot's sample P-256 encryption key, allowed to derive (ECDH) in the token only.
openssl pkey -in "$E/enc-ec256-priv.pem" -outform DER -out "$T/ec.der"
openssl pkey -in "$E/enc-ec256-priv.pem" -pubout -outform DER -out "$T/ecpub.der"
for kind in privkey:ec.der pubkey:ecpub.der; do
    pkcs11-tool --module "$MODULE" --login --pin 123456 --token-label dev-enc --write-object \
        "$T/${kind#*:}" --type "${kind%%:*}" --label enc --id 01 --usage-derive >/dev/null 2>&1 ||
        fail "pkcs11-tool could not store the ${kind%%:*}"
done
URI="pkcs11:token=dev-enc;object=enc"
KO=(--pkcs11-module "$MODULE" --pin-file "$T/pin")

# fwtrust: imgtool's ECIES-P256 vector and an image fwtrust encrypts, opened in the token.
expect 0 "opened with the EC P-256 key" "$FWTRUST" decrypt --key "$URI" "${KO[@]}" --payload \
    "$E/p256-ec256-aes128.bin" "$T/p.payload"
cmp -n "$(stat -c %s "$FW")" "$T/p.payload" "$FW" || fail "token decryption is not the firmware"
"$FWTRUST" pubkey "$E/root-ec-p256.pem" -o "$T/root.pub"
expect 0 "plaintext decrypted and verified" "$FWTRUST" verify --key "$T/root.pub" --decrypt-key "$URI" \
    "${KO[@]}" "$E/p256-ec256-aes128.bin"
expect 7 "" "$FWTRUST" decrypt --key "$URI" --pkcs11-module "$MODULE" --pin-file "$T/pin" \
    "$E/ed25519-x25519-aes128.bin" "$T/x.bin"
[ ! -e "$T/x.bin" ] || fail "an X25519 image was written with a P-256 token key"

# The agent: [decrypt] key = the URI; module and PIN from the environment.
keys
mkimg "$T/enc.bin" 1.0.0 1 --encrypt "$E/enc-ec256-pub.pem" --encrypt-keylen 256
mkdev
printf '\n[decrypt]\nkey = %s;pin-source=%s\n' "$URI" "$T/pin" >>"$T/dev/device.ini"
expect 1 "pin-source=" "$AGENT" --device "$T/dev" status
sed -i "s|^key = pkcs11:.*|key = $URI|" "$T/dev/device.ini"
expect 0 "into slot a" env FWTRUST_PKCS11_MODULE="$MODULE" FWTRUST_PKCS11_PIN_FILE="$T/pin" \
    "$AGENT" --device "$T/dev" install "$T/enc.bin"
[ "$(jget 'd["ok"], d["slot"], d["version"]' "$BOOT" --device "$T/dev")" = "(True, 'a', '1.0.0+0')" ] ||
    fail "boot of the image decrypted in the token: $(cat "$T/.j")"
echo "agent encrypted_token: ok"
