#!/bin/bash
# The signed revocation list on a device (no network): fwtrust revocation make signs a
# list; fwtrust-agent revocation puts it in force; installs and fwtrust-boot then refuse
# what it revokes (exit 34): a directly trusted key, a certified signing key, a key
# version, a certificate root, an image by digest. Lists signed by another key, of an
# older version or replayed are refused; a damaged stored list fails closed.
. "$SRC/tests/agent/lib.sh"
B=$(dirname "$FWTRUST")
: "${BOOT:=$B/fwtrust-boot}"
for k in k1 k3 root k2 rk rk2; do
    expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/$k.pem"
    expect 0 "" "$FWTRUST" pubkey "$T/$k.pem" -o "$T/$k.pub"
done
expect 0 "" "$FWTRUST" cert issue --root "$T/root.pem" --key "$T/k2.pub" --key-version 2 --hw-id hw1 -o "$T/k2.cert"
mkimg "$T/v1.bin" 1.0.0 1 --key "$T/k1.pem"
mkimg "$T/v2.bin" 1.1.0 1 --key "$T/k1.pem"
mkimg "$T/v3.bin" 1.2.0 1 --key "$T/k2.pem" --cert "$T/k2.cert"
mkimg "$T/v4.bin" 1.3.0 1 --key "$T/k3.pem"
mkimg "$T/v5.bin" 1.4.0 1 --key "$T/k3.pem"
dev() { "$AGENT" --device "$T/dev" "$@"; }
expect 0 "" "$AGENT" --device "$T/dev" init --hw-id hw1 --slot-a "$T/slot-a.bin" --slot-b "$T/slot-b.bin" \
    --trust-key "$T/k1.pub" --trust-key "$T/k3.pub" --trust-root "$T/root.pub" --revocation-key "$T/rk.pub"
grep -q '^\[revocation\]' "$T/dev/device.ini" || fail "no [revocation] section in device.ini"
expect 0 "into slot a" dev install "$T/v1.bin"
expect 0 "" "$BOOT" --device "$T/dev"
expect 0 "" dev confirm
expect 0 "list version 0" dev status

# A list revoking k1 (by its public key) and key version 7, signed by rk.
expect 0 "version 1" "$FWTRUST" revocation make --key "$T/rk.pem" --version 1 --revoke-key "$T/k1.pub" \
    --revoke-key-version 7 -o "$T/l1.json"
expect 0 "verified\": true" "$FWTRUST" revocation inspect --json --key "$T/rk.pub" "$T/l1.json"
# Signed by a key the device does not trust for revocation: refused, nothing stored.
expect 0 "" "$FWTRUST" revocation make --key "$T/rk2.pem" --version 1 --revoke-key "$T/k3.pub" -o "$T/bad.json"
expect 28 "revocation list refused" dev revocation "$T/bad.json"
expect 0 "list version 0" dev status
# A list on the device: k1's next image is refused at install, and at the next boot the
# running k1 image no longer boots.
expect 0 "version 1 in force" dev revocation "$T/l1.json"
expect 51 "already in force" dev revocation "$T/l1.json"
expect 34 "revoked by revocation list version 1" dev install "$T/v2.bin"
expect 0 "list version 1 in force" dev status
expect 34 "" dev verify-slots
rc=0
"$BOOT" --device "$T/dev" >"$T/boot.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || { cat "$T/boot.out"; fail "fwtrust-boot booted an image signed by a revoked key"; }
grep -q "FWT_E_REVOKED\|revoked" "$T/boot.out" || { cat "$T/boot.out"; fail "boot does not say the image is revoked"; }
# Images by other keys still install: a certified key (k2, version 2) and k3.
expect 0 "into slot" dev install "$T/v3.bin"

# An older list is refused (no rollback of revocations); a newer one (based on the
# older) revokes key version 2 and v4's digest too.
expect 0 "" "$FWTRUST" revocation make --key "$T/rk.pem" --version 2 --base "$T/l1.json" \
    --revoke-key-version 2 --revoke-image "$T/v4.bin" -o "$T/l2.json"
expect 0 "revoked keyver 7" "$FWTRUST" revocation inspect "$T/l2.json"
grep -q "revoked keyver 2" "$T/.out" || fail "--base lost nothing, added key version 2: not listed"
expect 0 "version 2 in force" dev revocation "$T/l2.json"
expect 43 "never rolled back" dev revocation "$T/l1.json"
expect 43 "" "$FWTRUST" revocation make --key "$T/rk.pem" --version 2 --base "$T/l2.json" -o "$T/x.json"
expect 34 "key version 2 is revoked" dev install "$T/v3.bin"
expect 34 "image" dev install "$T/v4.bin"
expect 0 "into slot" dev install "$T/v5.bin"
# Same version, other contents: refused as a rollback too.
expect 0 "" "$FWTRUST" revocation make --key "$T/rk.pem" --version 2 -o "$T/l2b.json"
expect 43 "" dev revocation "$T/l2b.json"

# Revoking a certificate root refuses every image it vouches for, whatever the key version.
expect 0 "" "$FWTRUST" cert issue --root "$T/root.pem" --key "$T/k2.pub" --key-version 9 --hw-id hw1 -o "$T/k2v9.cert"
mkimg "$T/v6.bin" 1.5.0 1 --key "$T/k2.pem" --cert "$T/k2v9.cert"
expect 0 "" "$FWTRUST" revocation make --key "$T/rk.pem" --version 3 --base "$T/l2.json" \
    --revoke-key "$(sha256sum <<<'' | cut -c1-64)" --revoke-key "$T/root.pub" -o "$T/l3.json"
expect 0 "" dev revocation "$T/l3.json"
expect 34 "or its certificate root" dev install "$T/v6.bin"

# The stored list damaged: fail closed (11), not "no list".
f=$(ls "$T/dev"/revocation-*.json)
[ "$(ls "$T/dev"/revocation-*.json | wc -l)" = 1 ] || fail "older lists were not removed"
cp "$f" "$T/saved.json"
printf ' ' >>"$f"
expect 11 "does not match its record" dev install "$T/v5.bin"
cp "$T/saved.json" "$f"
expect 0 "" dev install "$T/v5.bin"

# A device without a revocation key refuses lists (31).
expect 0 "" "$AGENT" --device "$T/dev2" init --hw-id hw1 --slot-a "$T/2a.bin" --slot-b "$T/2b.bin" \
    --trust-key "$T/k1.pub"
expect 31 "trusts no revocation key" "$AGENT" --device "$T/dev2" revocation "$T/l1.json"
# Malformed lists and usage errors.
printf '{"payload":"x"}' >"$T/mal.json"
expect 20 "" dev revocation "$T/mal.json"
expect 1 "needs --key" "$FWTRUST" revocation make --version 1 -o "$T/y.json"
expect 1 "" "$FWTRUST" revocation make --key "$T/rk.pem" --version 0 -o "$T/y.json"
expect 8 "nor an image file" "$FWTRUST" revocation make --key "$T/rk.pem" --version 4 --revoke-image "$T/nope.bin" -o "$T/y.json"
[ ! -e "$T/y.json" ] || fail "a failed make wrote its output"
echo "revocation list: ok"
