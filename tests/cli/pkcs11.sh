#!/bin/bash
# Keys in a PKCS#11 token (SoftHSM): keygen inside the token, pubkey, sign with
# the non-extractable key, verify with its exported public key; a wrong PIN fails.
. "$(dirname "$0")/lib.sh"
softhsm_tokens 123456 654321 fwt-test
printf '000000\n' >"$T/badpin"
for t in ecdsa-p256 ed25519; do
    URI="pkcs11:token=fwt-test;object=release-$t"
    expect 0 "" "$FWTRUST" keygen --type $t -o "$URI" --pkcs11-module "$MODULE" --pin-file "$T/pin"
    expect 0 "" "$FWTRUST" pubkey "$URI" --pkcs11-module "$MODULE" --pin-file "$T/pin" -o "$T/$t.pub"
    grep -q "BEGIN PUBLIC KEY" "$T/$t.pub" || fail "pubkey from the token"
    expect 0 "" "$FWTRUST" sign --key "$URI" --pkcs11-module "$MODULE" --pin-file "$T/pin" \
        --version 1.0.0 --header-size 0x200 --pad-header "$FW" "$T/$t.bin"
    expect 0 "valid" "$FWTRUST" verify --key "$T/$t.pub" "$T/$t.bin"
    # The module can also come from the environment.
    FWTRUST_PKCS11_MODULE="$MODULE" expect 0 "" "$FWTRUST" sign --key "$URI" --pin-file "$T/pin" \
        --header-size 0x200 --pad-header "$FW" "$T/$t.env.bin"
    expect 0 "valid" "$FWTRUST" verify --key "$T/$t.pub" "$T/$t.env.bin"
    expect 7 "" "$FWTRUST" sign --key "$URI" --pkcs11-module "$MODULE" --pin-file "$T/badpin" \
        --header-size 0x200 --pad-header "$FW" "$T/bad.bin"
    [ ! -e "$T/bad.bin" ] || fail "bad.bin written with a wrong PIN"
done
# Pure Ed25519 with the token's key (CKM_EDDSA over the whole signed region): the
# independent verifier accepts it as imgtool's --pure layout.
URI="pkcs11:token=fwt-test;object=release-ed25519"
expect 0 "" "$FWTRUST" sign --key "$URI" --pkcs11-module "$MODULE" --pin-file "$T/pin" --pure \
    --version 1.0.0 --header-size 0x200 --pad-header "$FW" "$T/pure.bin"
expect 0 "signatures: pure Ed25519" "$FWTRUST" verify --key "$T/ed25519.pub" "$T/pure.bin"
expect 0 "(pure)" "$PY" "$SRC/tests/interop/imgtool/verify.py" "$T/ed25519.pub" "$T/pure.bin"
# The issue's spelling: keygen --pkcs11 URI (same as -o URI); misuse is a usage error.
FLAG_URI="pkcs11:token=fwt-test;object=via-flag"
expect 0 "ed25519 key" "$FWTRUST" keygen --type ed25519 --pkcs11 "$FLAG_URI" --pkcs11-module "$MODULE" \
    --pin-file "$T/pin"
expect 0 "BEGIN PUBLIC KEY" "$FWTRUST" pubkey "$FLAG_URI" --pkcs11-module "$MODULE" --pin-file "$T/pin"
expect 1 "not both" "$FWTRUST" keygen --type ed25519 --pkcs11 "$FLAG_URI" -o "$T/x.pem"
expect 1 "pkcs11: URI" "$FWTRUST" keygen --type ed25519 --pkcs11 "$T/x.pem"
[ ! -e "$T/x.pem" ] || fail "x.pem written by a refused keygen"
echo "pkcs11: ok"
