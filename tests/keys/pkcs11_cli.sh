#!/bin/bash
# PKCS#11 keys through the fwtrust CLI against a real SoftHSM2 token made here:
# for every key type, keygen inside the token, pubkey export, sign an image with
# the token key, verify it with the exported public key; pkcs11-tool (OpenSC, an
# independent PKCS#11 client) confirms each private key is sensitive and was
# never extractable, and cannot read it out. Then each failure (wrong PIN,
# missing object, token or module, no module, no PIN, PIN in the URI, bad URI,
# existing label) exits with its documented code and message and leaves no
# output file behind and the token unchanged. Also: a token key cosigns an image
# signed with a file key (2-of-2 threshold).
. "$SRC/tests/cli/lib.sh"
command -v pkcs11-tool >/dev/null || fail "pkcs11-tool missing (opensc, scripts/install-deps)"
softhsm_tokens 123456 654321 fwt-cli other
printf '999999\n' >"$T/badpin"
P11=(--pkcs11-module "$MODULE")
IMG=(--version 1.2.3 --header-size 0x200 --pad-header --no-log)

# Objects in the token, as pkcs11-tool lists them (to show failures change nothing).
objects() {
    pkcs11-tool --module "$MODULE" --token-label fwt-cli --login --pin 123456 --list-objects \
        2>/dev/null | grep -c 'label:' || true
}

for t in ed25519 ecdsa-p256 ecdsa-p384 rsa-2048 rsa-3072; do
    URI="pkcs11:token=fwt-cli;object=fw-$t"
    expect 0 "$t key, key hash" "$FWTRUST" keygen --type $t -o "$URI" "${P11[@]}" --pin-file "$T/pin"
    expect 0 "" "$FWTRUST" keygen --type $t -o "pkcs11:token=fwt-cli;object=json-$t" "${P11[@]}" \
        --pin-file "$T/pin" --json
    [ "$(json_field "$T/.out" 'd["type"]')" = $t ] || fail "keygen --json type"
    # The public key needs no PIN.
    expect 0 "" "$FWTRUST" pubkey "$URI" "${P11[@]}" -o "$T/$t.pub"
    grep -q "BEGIN PUBLIC KEY" "$T/$t.pub" || fail "$t: pubkey from the token"
    expect 0 "" "$FWTRUST" sign --key "$URI" "${P11[@]}" --pin-file "$T/pin" "${IMG[@]}" "$FW" "$T/$t.bin"
    expect 0 "valid" "$FWTRUST" verify --key "$T/$t.pub" "$T/$t.bin"
    # Another key of the same type does not verify it.
    expect 0 "" "$FWTRUST" pubkey "pkcs11:token=fwt-cli;object=json-$t" "${P11[@]}" -o "$T/$t.other.pub"
    rc=0; "$FWTRUST" verify --key "$T/$t.other.pub" "$T/$t.bin" >/dev/null 2>&1 || rc=$?
    [ "$rc" != 0 ] || fail "$t: image verified with another key"
    # OpenSC's view of the private key: sensitive, never extractable; reading it out fails.
    pkcs11-tool --module "$MODULE" --token-label fwt-cli --login --pin 123456 --list-objects \
        --type privkey --label "fw-$t" >"$T/p11tool.txt" 2>&1 || fail "$t: pkcs11-tool list"
    grep -q "label: *fw-$t\$" "$T/p11tool.txt" || { cat "$T/p11tool.txt" >&2; fail "$t: not listed"; }
    access=$(grep 'Access:' "$T/p11tool.txt")
    case "$access" in
    *"never extractable"*) ;;
    *) cat "$T/p11tool.txt" >&2; fail "$t: private key not marked never extractable" ;;
    esac
    case "$access" in
    *"sensitive"*) ;;
    *) fail "$t: private key not sensitive" ;;
    esac
    # "extractable" on its own (not "never extractable") would mean CKA_EXTRACTABLE is true.
    if printf '%s\n' "$access" | sed 's/never extractable//' | grep -q extractable; then
        fail "$t: private key is extractable: $access"
    fi
    if pkcs11-tool --module "$MODULE" --token-label fwt-cli --login --pin 123456 --read-object \
        --type privkey --label "fw-$t" -o "$T/stolen.der" >/dev/null 2>&1 && [ -s "$T/stolen.der" ]; then
        fail "$t: private key read out of the token"
    fi
done

# The module from the environment; the PIN from pin-source= in the URI.
FWTRUST_PKCS11_MODULE=$MODULE expect 0 "" "$FWTRUST" sign \
    --key "pkcs11:token=fwt-cli;object=fw-ed25519?pin-source=file://$T/pin" "${IMG[@]}" "$FW" "$T/env.bin"
expect 0 "valid" "$FWTRUST" verify --key "$T/ed25519.pub" "$T/env.bin"

# k-of-n: a file key signs, the token key cosigns; both count.
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/file.pem"
expect 0 "" "$FWTRUST" pubkey "$T/file.pem" -o "$T/file.pub"
expect 0 "" "$FWTRUST" sign --key "$T/file.pem" "${IMG[@]}" "$FW" "$T/two.bin"
expect 0 "" "$FWTRUST" cosign --key "pkcs11:token=fwt-cli;object=fw-rsa-2048" "${P11[@]}" \
    --pin-file "$T/pin" --no-log "$T/two.bin"
expect 0 "valid" "$FWTRUST" verify --threshold 2 --key "$T/file.pub" --key "$T/rsa-2048.pub" "$T/two.bin"

# Two keys of one token in one command (one login, shared by both sessions).
expect 0 "" "$FWTRUST" sign --key "pkcs11:token=fwt-cli;object=fw-ed25519" \
    --key "pkcs11:token=fwt-cli;object=fw-rsa-3072" "${P11[@]}" --pin-file "$T/pin" "${IMG[@]}" "$FW" "$T/both.bin"
expect 0 "valid" "$FWTRUST" verify --threshold 2 --key "$T/ed25519.pub" --key "$T/rsa-3072.pub" "$T/both.bin"

# Failures: exit code, message, no output file, token unchanged.
before=$(objects)
[ "$before" -ge 20 ] || fail "expected at least 20 objects in the token, found $before"
sign_fails() { # CODE MESSAGE KEY [options]
    local code=$1 msg=$2 key=$3
    shift 3
    expect "$code" "$msg" "$FWTRUST" sign --key "$key" "$@" "${IMG[@]}" "$FW" "$T/out.bin"
    [ ! -e "$T/out.bin" ] || fail "out.bin written although signing failed ($msg)"
    ls "$T" | grep -q '^out\.bin\.' && fail "temporary output left behind ($msg)"
    return 0
}
GOOD="pkcs11:token=fwt-cli;object=fw-ecdsa-p256"
sign_fails 7 "token refused the PIN (CKR_PIN_INCORRECT)" "$GOOD" "${P11[@]}" --pin-file "$T/badpin"
sign_fails 8 "PKCS#11 object not found: token 'fwt-cli' holds no private key with object=nope" \
    "pkcs11:token=fwt-cli;object=nope" "${P11[@]}" --pin-file "$T/pin"
sign_fails 8 "PKCS#11 token not found: no token matches token=missing" \
    "pkcs11:token=missing;object=fw-ecdsa-p256" "${P11[@]}" --pin-file "$T/pin"
sign_fails 8 "PKCS#11 module not found: $T/no-such-module.so" "$GOOD" \
    --pkcs11-module "$T/no-such-module.so" --pin-file "$T/pin"
sign_fails 1 "no PKCS#11 module named" "$GOOD" --pin-file "$T/pin"
sign_fails 1 "needs its PIN" "$GOOD" "${P11[@]}"
sign_fails 1 "pin-value= is refused" "$GOOD?pin-value=123456" "${P11[@]}"
sign_fails 1 "unknown attribute 'label'" "pkcs11:token=fwt-cli;label=fw-ecdsa-p256" "${P11[@]}" --pin-file "$T/pin"
sign_fails 1 "character ' ' in object= must be percent-encoded (%20)" "pkcs11:token=fwt-cli;object=fw ecdsa" \
    "${P11[@]}" --pin-file "$T/pin"
sign_fails 1 "2 PKCS#11 tokens match any token" "pkcs11:object=fw-ecdsa-p256" "${P11[@]}" --pin-file "$T/pin"
# pubkey: missing object and module, nothing written.
expect 8 "holds no public key with object=nope" "$FWTRUST" pubkey "pkcs11:token=fwt-cli;object=nope" \
    "${P11[@]}" -o "$T/nope.pub"
expect 8 "PKCS#11 module not found" "$FWTRUST" pubkey "$GOOD" --pkcs11-module /nonexistent/p11.so -o "$T/nope.pub"
[ ! -e "$T/nope.pub" ] || fail "nope.pub written"
# keygen: an existing label is never overwritten; wrong PIN, missing token, missing module.
expect 1 "already holds an object labelled 'fw-ecdsa-p256'" "$FWTRUST" keygen --type ed25519 -o "$GOOD" \
    "${P11[@]}" --pin-file "$T/pin"
expect 7 "token refused the PIN (CKR_PIN_INCORRECT)" "$FWTRUST" keygen --type ed25519 \
    -o "pkcs11:token=fwt-cli;object=new" "${P11[@]}" --pin-file "$T/badpin"
expect 8 "PKCS#11 token not found" "$FWTRUST" keygen --type ed25519 -o "pkcs11:token=missing;object=new" \
    "${P11[@]}" --pin-file "$T/pin"
expect 8 "PKCS#11 module not found" "$FWTRUST" keygen --type ed25519 -o "pkcs11:token=fwt-cli;object=new" \
    --pkcs11-module /nonexistent/p11.so --pin-file "$T/pin"
expect 1 "needs its PIN" "$FWTRUST" keygen --type ed25519 -o "pkcs11:token=fwt-cli;object=new" "${P11[@]}"
# Another vendor's module (OpenSC, no card reader), also by module-name= from p11-kit's module directory.
if [ -e /usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so ]; then
    expect 8 "PKCS#11 token not found: no token matches token=fwt-cli" "$FWTRUST" pubkey "$GOOD" \
        --pkcs11-module /usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so
    expect 8 "opensc-pkcs11.so (tokens: none)" "$FWTRUST" pubkey "$GOOD?module-name=opensc-pkcs11"
fi
[ "$(objects)" = "$before" ] || fail "the token changed on failures: $before objects before, $(objects) after"
# The keys still work after all that.
expect 0 "" "$FWTRUST" sign --key "$GOOD" "${P11[@]}" --pin-file "$T/pin" "${IMG[@]}" "$FW" "$T/last.bin"
expect 0 "valid" "$FWTRUST" verify --key "$T/ecdsa-p256.pub" "$T/last.bin"
echo "pkcs11_cli: ok"
