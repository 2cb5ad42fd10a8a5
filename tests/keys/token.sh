#!/bin/bash
# Key custody with every key in a SoftHSM2 token: roots in the token issue
# certificates, the signing log's key signs tree heads from the token, and a token key
# signs releases. The results verify like file-key ones, for every root type (a P-384
# root signs the certificate's 32-byte SHA-256 prehash in the token).
. "$SRC/tests/cli/lib.sh"
. "$SRC/tests/keys/softhsm.sh"
tok() { echo "pkcs11:token=custody;object=$1"; }
P=(--pin-file "$T/pin")
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/signer.pem"
expect 0 "" "$FWTRUST" pubkey "$T/signer.pem" -o "$T/signer.pub"

for rt in ecdsa-p256 ecdsa-p384 ed25519 rsa-2048; do
    expect 0 "" "$FWTRUST" keygen --type $rt -o "$(tok root-$rt)" "${P[@]}"
    expect 0 "" "$FWTRUST" pubkey "$(tok root-$rt)" "${P[@]}" -o "$T/root-$rt.pub"
    expect 0 "key version:   3" "$FWTRUST" cert issue --root "$(tok root-$rt)" "${P[@]}" \
        --key "$T/signer.pub" --key-version 3 -o "$T/$rt.cert"
    expect 0 "valid under root" "$FWTRUST" cert inspect --root "$T/root-$rt.pub" "$T/$rt.cert"
    expect 0 "" "$FWTRUST" sign --no-log --key "$T/signer.pem" --cert "$T/$rt.cert" --header-size 0x200 \
        --pad-header "$FW" "$T/$rt.bin"
    expect 0 "valid" "$FWTRUST" verify --root "$T/root-$rt.pub" --min-key-version 3 "$T/$rt.bin"
done

# The log key in the token: appends sign tree heads there (its PIN: --log-pin-file).
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$(tok log)" "${P[@]}"
expect 0 "" "$FWTRUST" pubkey "$(tok log)" "${P[@]}" -o "$T/log.pub"
expect 0 "created signing log" "$FWTRUST" log init --log "$T/log.db" --log-key "$(tok log)" "${P[@]}"
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$(tok release)" "${P[@]}"
# The signer's --pin-file is the signer's only: the log key's PIN is --log-pin-file.
expect 1 "log key (pinned): token 'custody' needs its PIN" "$FWTRUST" sign --log "$T/log.db" \
    --key "$(tok release)" "${P[@]}" --header-size 0x200 --pad-header "$FW" "$T/rel.bin"
[ ! -e "$T/rel.bin" ] || fail "image written although its signature could not be logged"
expect 0 "" "$FWTRUST" sign --log "$T/log.db" --key "$(tok release)" "${P[@]}" --log-pin-file "$T/pin" \
    --header-size 0x200 --pad-header "$FW" "$T/rel.bin"
expect 0 "" "$FWTRUST" cosign --log "$T/log.db" --key "$T/signer.pem" --log-pin-file "$T/pin" "$T/rel.bin"
expect 0 "2 entries, 3 signed tree heads" "$FWTRUST" log verify --log "$T/log.db" --log-key "$T/log.pub"
# Without the PIN the log key cannot sign: nothing is written, nothing logged.
expect 1 "log key (pinned): token 'custody' needs its PIN" "$FWTRUST" sign --log "$T/log.db" --key "$T/signer.pem" \
    --header-size 0x200 --pad-header "$FW" "$T/nopin.bin"
[ ! -e "$T/nopin.bin" ] || fail "image written although its signature could not be logged"
expect 0 "2 entries" "$FWTRUST" log verify --log "$T/log.db"
echo "keys token: ok"
