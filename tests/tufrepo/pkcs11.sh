#!/bin/bash
# fwtrust repo with keys in a PKCS#11 token (SoftHSM): the root and targets keys never
# leave the token; init lists them, sign/add-target sign through the token; a wrong PIN
# fails with exit 7 and changes nothing. tuf-js is not needed: the tests of thresholds
# check the signatures (publish counts them with the public keys).
. "$(dirname "$0")/lib.sh"
softhsm_tokens 123456 654321 fwt-repo
printf '000000\n' >"$T/badpin"
P11=(--pkcs11-module "$MODULE")
ROOT="pkcs11:token=fwt-repo;object=tuf-root"
TGT="pkcs11:token=fwt-repo;object=tuf-targets"
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$ROOT" "${P11[@]}" --pin-file "$T/pin"
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$TGT" "${P11[@]}" --pin-file "$T/pin"
key snapshot; key timestamp
R=$T/repo
# Without the PIN the token keys are listed but sign nothing.
expect 0 "" "$FWTRUST" repo init "$R" --root-key "$ROOT" --targets-key "$TGT" "${P11[@]}" \
    --snapshot-key "$T/snapshot.pem" --timestamp-key "$T/timestamp.pem" --json
[ "$(jget "$T/.out" 'd["staged_root_signatures"]')" = 0 ] || fail "signed without a PIN"
unchanged 7 "" "$R" "$FWTRUST" repo sign "$R" root --key "$ROOT" "${P11[@]}" --pin-file "$T/badpin"
expect 0 "staged root version 1: 1 signature(s) of 1 needed" "$FWTRUST" repo sign "$R" root --key "$ROOT" "${P11[@]}" --pin-file "$T/pin"
printf 'fw\n' >"$T/fw.bin"
expect 0 "staged targets version 1: 1 signature(s) of 1 needed" "$FWTRUST" repo add-target "$R" "$T/fw.bin" \
    --key "$TGT" "${P11[@]}" --pin-file "$T/pin"
expect 0 "published root version 1" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
[ "$(jget "$R/metadata/1.targets.json" 'len(d["signatures"])')" = 1 ] || fail "token signature published"
# The module may come from the environment too.
FWTRUST_PKCS11_MODULE=$MODULE expect 0 "staged targets version 2" "$FWTRUST" repo sign "$R" targets --key "$TGT" --pin-file "$T/pin"
echo "pkcs11: ok"
