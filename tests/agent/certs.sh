#!/bin/bash
# Boot-key certificates as the device's trust anchor: images signed by keys a
# trusted root certified are accepted; confirm raises the minimum key version
# to the image's, revoking older signing keys; expired and forged
# certificates are refused. Certificates are made by tests/cli/make_cert.py.
. "$(dirname "$0")/lib.sh"
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/root.pem"
expect 0 "" "$FWTRUST" pubkey "$T/root.pem" -o "$T/root.pub"
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/s1.pem"
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/s2.pem"
"$PY" "$MC" "$T/root.pem" "$T/s1.pem" "$T/c1.cert" --key-version 1 --hw-id hw1
"$PY" "$MC" "$T/root.pem" "$T/s2.pem" "$T/c2.cert" --key-version 2 --hw-id hw1
"$PY" "$MC" "$T/root.pem" "$T/s1.pem" "$T/old.cert" --key-version 1 --not-after 1
"$PY" "$MC" "$T/root.pem" "$T/s1.pem" "$T/forged.cert" --key-version 9 --corrupt-sig
"$PY" "$MC" "$T/root.pem" "$T/s1.pem" "$T/hw2.cert" --key-version 3 --hw-id hw2
payload 20 "$T/payload.bin"
cimg() { # OUT VERSION COUNTER KEY CERT
    expect 0 "" "$FWTRUST" sign --key "$4" --cert "$5" --version "$2" --header-size 0x200 \
        --pad-header --security-counter "$3" --hw-id hw1 "$T/payload.bin" "$1"
}
cimg "$T/k1.bin" 1.0.0 1 "$T/s1.pem" "$T/c1.cert"
cimg "$T/k2.bin" 2.0.0 2 "$T/s2.pem" "$T/c2.cert"
cimg "$T/k1new.bin" 3.0.0 3 "$T/s1.pem" "$T/c1.cert"
cimg "$T/expired.bin" 2.0.0 2 "$T/s1.pem" "$T/old.cert"
cimg "$T/forged.bin" 2.0.0 2 "$T/s1.pem" "$T/forged.cert"
cimg "$T/hw2.bin" 2.0.0 2 "$T/s1.pem" "$T/hw2.cert"
expect 0 "" "$AGENT" --device "$T/dev" init --hw-id hw1 --slot-a "$T/a" --slot-b "$T/b" --trust-root "$T/root.pub"
A() { "$AGENT" --device "$T/dev" "$@"; }
expect 0 "" A install "$T/k1.bin"
[ "$(jget 'd["key_version"], d["trial"]' "$BOOT" --device "$T/dev")" = "(1, True)" ] || fail "boot k1: $(cat "$T/.j")"
[ "$(jget 'd["min_key_version"], d["min_security_counter"]' A confirm --json)" = "(1, 1)" ] || fail "confirm k1: $(cat "$T/.j")"
expect 29 "certificate expired" A install "$T/expired.bin"
expect 29 "certificate signature does not verify" A install "$T/forged.bin"
expect 29 "certificate is for hardware 'hw2'" A install "$T/hw2.bin"
expect 0 "" A install "$T/k2.bin"
expect 0 "" "$BOOT" --device "$T/dev"
[ "$(jget 'd["min_key_version"], d["min_security_counter"]' A confirm --json)" = "(2, 2)" ] || fail "confirm k2: $(cat "$T/.j")"
# Key version 1 is now revoked, even on a newer image with a higher counter.
expect 30 "certificate key version 1 is below the minimum 2 (revoked)" A install "$T/k1new.bin"
[ "$(jget 'd["slot"], d["key_version"]' "$BOOT" --device "$T/dev")" = "('b', 2)" ] || fail "boot after revocation"
echo "certs: ok"
