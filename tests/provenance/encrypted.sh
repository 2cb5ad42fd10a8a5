#!/bin/bash
# The provenance policy over an encrypted image (docs/provenance.md "Encrypted images"): the
# builders' envelopes name what they built, the plaintext; the repository judges an encrypted
# image by its payload decrypted with the device's key (add-target --decrypt-key), checked
# against the image's hash TLV, without the zeros that fill its last AES block. Refused, with
# nothing changed: no key (27), another device's key (7), envelopes naming the ciphertext (made
# after the encryption: they vouch for nothing built, 28), an altered ciphertext (21), a key
# without a policy (1). Accepted: the encrypted image, and the same image stored in clear.
. "$SRC/tests/cli/lib.sh"
cd "$T" || exit 1
for k in a b root targets snapshot timestamp; do
    expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$k.pem"
    expect 0 "" "$FWTRUST" pubkey "$k.pem" -o "$k.pub"
done
for k in dev other; do # devices' ECIES-P256 decryption keys
    expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$k.pem"
done
cp "$FW" fw.bin
[ $(($(wc -c <fw.bin) % 16)) -ne 0 ] || printf 'x' >>fw.bin # so that encryption pads the payload
SRCURI=git+https://example.com/fw.git
REV=0123456789abcdef0123456789abcdef01234567
prov() { # BUILDER OUT ARTIFACT
    expect 0 "" "$FWTRUST" provenance make -k "$1.pem" --builder-id "https://ci-$1.example/runner" \
        --source-uri "$SRCURI" --source-revision "$REV" --name fw.bin -o "$2" "$3"
}
prov a a.env fw.bin
prov b b.env fw.bin
"$PY" - <<'PYEOF'
import json
pem = lambda k: open(k + ".pub").read()
json.dump({"version": 1, "source_uri": "git+https://example.com/fw.git", "required_builders": 2,
           "builders": [{"id": "https://ci-%s.example/runner" % b, "keys": [pem(b)]} for b in "ab"]},
          open("policy.json", "w"))
PYEOF
expect 0 "" "$FWTRUST" repo init repo --root-key root.pem --targets-key targets.pem --snapshot-key snapshot.pem \
    --timestamp-key timestamp.pem
sign() { expect 0 "" "$FWTRUST" sign --no-log -k a.pem --version 1.0.0 --header-size 0x200 --pad-header "$@"; }
sign --provenance a.env --encrypt dev.pem fw.bin enc.bin
sign --provenance a.env --encrypt dev.pem --clear fw.bin clear.bin
payload() { # IMAGE OUT: the payload bytes as stored
    "$PY" - "$1" "$2" <<'PYEOF'
import struct, sys
b = open(sys.argv[1], "rb").read()
hs, _, n = struct.unpack_from("<HHI", b, 8)
open(sys.argv[2], "wb").write(b[hs:hs + n])
PYEOF
}
payload enc.bin cipher.bin
payload clear.bin plain-padded.bin
cmp -s cipher.bin plain-padded.bin && fail "the payload is not encrypted"
[ "$(wc -c <plain-padded.bin)" -gt "$(wc -c <fw.bin)" ] || fail "the payload was not padded to AES blocks"
# Envelopes made after the encryption, naming the ciphertext, by the same builders.
prov a ca.env cipher.bin
prov b cb.env cipher.bin
cp enc.bin tampered.bin
flip tampered.bin 4096

add() { "$FWTRUST" repo add-target --json repo "$@" -k targets.pem; }
expect 1 "has no provenance policy" add enc.bin --provenance a.env --provenance b.env --decrypt-key dev.pem
cp policy.json repo/provenance-policy.json
snap() { find repo -type f | sort | xargs sha256sum >"$1"; }
snap before
expect 27 "needs the device's decryption key (--decrypt-key PRIV)" add enc.bin --provenance a.env --provenance b.env
expect 7 "HMAC tag mismatch" add enc.bin --provenance a.env --provenance b.env --decrypt-key other.pem
expect 28 "provenance policy not met by its decrypted payload" add enc.bin --provenance ca.env \
    --provenance cb.env --decrypt-key dev.pem
expect 21 "does not match its hash TLV" add tampered.bin --provenance a.env --provenance b.env \
    --decrypt-key dev.pem
snap after
cmp -s before after || fail "a refused add-target changed the repository"

# The builders' envelopes, over the plaintext: accepted; the summary names the plaintext digest.
expect 0 "" add enc.bin --name fw.bin --provenance a.env --provenance b.env --decrypt-key dev.pem
"$PY" - "$T/.out" "$(sha256sum fw.bin | cut -d' ' -f1)" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
p = {t["name"]: t for t in d["targets"]}["fw.bin"]["custom"]["provenance"]
assert p["encrypted"] is True and p["payload_sha256"] == sys.argv[2], p
assert p["builders"] == ["https://ci-a.example/runner", "https://ci-b.example/runner"], p
PYEOF
# imgtool --clear's form (ENCRYPTED flag, payload in clear) is judged by the same plaintext.
expect 0 "" add clear.bin --name fw-clear.bin --provenance a.env --provenance b.env --decrypt-key dev.pem
grep -q '"encrypted": true' "$T/.out" || fail "the clear-stored image is not reported as encrypted"
echo "provenance encrypted: ok"
