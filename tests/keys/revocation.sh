#!/bin/bash
# The incident playbook (docs/incident-playbook.md) end to end: signing key K1 leaks;
# the root certifies a new key K2 with key version 2; release 1.1 is signed by K2.
# fwtrust verify --root --min-key-version shows the policy; when fwtrust-agent and
# fwtrust-boot are built (AGENT, BOOT), a device follows it: the minimum key version
# is raised only by confirming a booted 1.1, a failed trial rolls back to the K1-signed
# 1.0 (never bricked), and afterwards anything K1 signs is refused (exit 30).
. "$SRC/tests/cli/lib.sh"
DB="$T/sign.db"
for k in root k1 k2 logkey; do
    expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/$k.pem"
    expect 0 "" "$FWTRUST" pubkey "$T/$k.pem" -o "$T/$k.pub"
done
expect 0 "" "$FWTRUST" log init --log "$DB" --log-key "$T/logkey.pem"
head -c 24576 /dev/urandom >"$T/payload.bin"
mkimg() { # OUT VERSION COUNTER KEY CERT
    expect 0 "" "$FWTRUST" sign --log "$DB" --signer "$4" --key "$T/$4.pem" --cert "$5" \
        --version "$2" --security-counter "$3" --header-size 0x200 --pad-header --hw-id hw1 \
        "$T/payload.bin" "$1"
}

# Before the incident: K1 certified with key version 1, release 1.0.
expect 0 "" "$FWTRUST" cert issue --root "$T/root.pem" --key "$T/k1.pub" --key-version 1 --hw-id hw1 \
    -o "$T/k1.cert"
mkimg "$T/v10.bin" 1.0.0 1 k1 "$T/k1.cert"

# The leak. Step 1: a new key, certified with the next key version.
expect 0 "" "$FWTRUST" cert issue --root "$T/root.pem" --key "$T/k2.pub" --key-version 2 --hw-id hw1 \
    -o "$T/k2.cert"
# Step 2: the next release, signed by the new key.
mkimg "$T/v11.bin" 1.1.0 1 k2 "$T/k2.cert"
# What the attacker can make with the leaked key (any version, any counter).
mkimg "$T/evil.bin" 9.0.0 1 k1 "$T/k1.cert"

# The verifier's policy: with minimum key version 1 both keys pass; with 2 only K2.
for img in v10 v11 evil; do
    expect 0 "valid" "$FWTRUST" verify --root "$T/root.pub" --hw-id hw1 --min-key-version 1 "$T/$img.bin"
done
expect 0 "valid" "$FWTRUST" verify --root "$T/root.pub" --hw-id hw1 --min-key-version 2 "$T/v11.bin"
for img in v10 evil; do
    expect 30 "certificate key version 1 is below the minimum 2 (revoked)" "$FWTRUST" verify \
        --root "$T/root.pub" --hw-id hw1 --min-key-version 2 "$T/$img.bin"
done
# The signing log shows what K1 signed: the audit, expecting only K2 now, flags it.
expect 11 "unexpected-key" "$FWTRUST" log audit --log "$DB" --expect-key "$T/k2.pub"
grep -q "entry 2: unexpected-key" "$T/.out" || fail "the attacker's signature is not flagged"

if [ -z "${AGENT:-}" ] || [ -z "${BOOT:-}" ]; then
    echo "keys revocation: ok (fwtrust verify level; no fwtrust-agent built)"
    exit 0
fi

# The device: trusts only the root; starts at minimum key version 0.
jget() { "$@" >"$T/.j" 2>"$T/.jerr" || true; json_field "$T/.j" "$expr"; }
dev() { "$AGENT" --device "$T/dev" "$@"; }
expect 0 "" "$AGENT" --device "$T/dev" init --hw-id hw1 --slot-a "$T/slot-a.bin" --slot-b "$T/slot-b.bin" \
    --trust-root "$T/root.pub"
expect 0 "into slot a" dev install "$T/v10.bin"
expect 0 "" "$BOOT" --device "$T/dev"
expect 0 "minimum key version 1" dev confirm
# Release 1.1 (K2, key version 2) installs; until it is confirmed nothing is revoked ...
expect 0 "into slot b" dev install "$T/v11.bin"
"$BOOT" --device "$T/dev" --json >"$T/b1.json" || fail "trial boot of 1.1"
[ "$(json_field "$T/b1.json" 'd["slot"], d["trial"], d["version"]')" = "('b', True, '1.1.0+0')" ] ||
    fail "trial boot: $(cat "$T/b1.json")"
dev status --json >"$T/s.json"
[ "$(json_field "$T/s.json" 'd["min_key_version"]')" = 1 ] || fail "key version raised before confirm"
# ... so a failed trial falls back to the K1-signed 1.0: the device is never bricked.
expect 0 "rolled back" dev rollback
"$BOOT" --device "$T/dev" --json >"$T/b2.json" || fail "boot after rollback"
[ "$(json_field "$T/b2.json" 'd["slot"], d["version"]')" = "('a', '1.0.0+0')" ] || fail "rollback boot: $(cat "$T/b2.json")"
# Second attempt: 1.1 boots and is confirmed; that raises the minimum key version to 2.
expect 0 "into slot b" dev install "$T/v11.bin"
expect 0 "" "$BOOT" --device "$T/dev"
expect 0 "minimum key version 2" dev confirm
# From now on the device refuses everything K1 signs, whatever its version; the running
# slot is untouched and keeps booting.
cp "$T/slot-b.bin" "$T/b.before"
expect 30 "" dev install "$T/evil.bin"
expect 30 "" dev install --allow-older "$T/v10.bin"
cmp -s "$T/b.before" "$T/slot-b.bin" || fail "a refused install changed the running slot"
"$BOOT" --device "$T/dev" --json >"$T/b3.json" || fail "boot after the bump"
[ "$(json_field "$T/b3.json" 'd["slot"], d["version"], d["trial"]')" = "('b', '1.1.0+0', False)" ] ||
    fail "boot after the bump: $(cat "$T/b3.json")"
# The K1-signed image left in slot a no longer verifies on the device either.
dev verify-slots --json >"$T/vs.json" 2>/dev/null || true
[ "$(json_field "$T/vs.json" 'd["slots"]["b"]["verdict"]')" = valid ] || fail "verify-slots: $(cat "$T/vs.json")"
[ "$(json_field "$T/vs.json" 'd["slots"]["a"]["verdict"]')" != valid ] || fail "slot a still valid: $(cat "$T/vs.json")"
# The next K2 release still installs.
mkimg "$T/v12.bin" 1.2.0 1 k2 "$T/k2.cert"
expect 0 "into slot a" dev install "$T/v12.bin"
echo "keys revocation: ok (fwtrust verify and fwtrust-agent device)"
