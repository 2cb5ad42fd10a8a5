#!/bin/bash
# keygen + sign + verify for every key type; JSON output; wrong key refused.
. "$(dirname "$0")/lib.sh"

types="ed25519 ecdsa-p256 ecdsa-p384 rsa-2048 rsa-3072"
for t in $types; do
    expect 0 "$t key, key hash" "$FWTRUST" keygen --type "$t" -o "$T/$t.pem"
    [ "$(stat -c %a "$T/$t.pem")" = 600 ] || fail "$t.pem is not mode 0600"
    expect 0 "" "$FWTRUST" pubkey "$T/$t.pem" -o "$T/$t.pub.pem"
    grep -q "BEGIN PUBLIC KEY" "$T/$t.pub.pem" || fail "pubkey pem"
    # --format c compiles as strict C11 for the host and for a Cortex-M bootloader.
    expect 0 "" "$FWTRUST" pubkey --format c "$T/$t.pem" -o "$T/$t.key.c"
    gcc -std=c11 -pedantic -Wall -Wextra -Werror -c "$T/$t.key.c" -o "$T/$t.key.o" ||
        fail "pubkey --format c output for $t does not compile"
    if command -v arm-none-eabi-gcc >/dev/null; then
        arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -std=c11 -pedantic -Wall -Wextra -Werror -c \
            "$T/$t.key.c" -o "$T/$t.key-m4.o" || fail "pubkey --format c for $t: arm-none-eabi-gcc"
    fi
    expect 0 "" "$FWTRUST" sign --key "$T/$t.pem" --version 4.0.0+5 --header-size 0x200 \
        --pad-header --slot-size 0x80000 --security-counter auto --hw-id primehub \
        "$FW" "$T/$t.signed.bin"
    expect 0 "valid, version 4.0.0+5" "$FWTRUST" verify --key "$T/$t.pub.pem" "$T/$t.signed.bin"
    # A private key file works as a trusted key too.
    expect 0 "" "$FWTRUST" verify --key "$T/$t.pem" --hw-id primehub \
        --min-security-counter 0x04000000 "$T/$t.signed.bin"
done
# Refusing to overwrite an existing key.
expect 2 "already exists" "$FWTRUST" keygen --type ed25519 -o "$T/ed25519.pem"
expect 1 "unknown key type" "$FWTRUST" keygen --type dsa -o "$T/x.pem"
[ ! -e "$T/x.pem" ] || fail "keygen left a file after a usage error"

# Every signature checked with a key of another type: unknown key.
expect 24 "not one of the 1 trusted key(s)" \
    "$FWTRUST" verify --key "$T/ecdsa-p256.pub.pem" "$T/ed25519.signed.bin"
# ... and the message lists the trusted key hashes (what the image would need to be signed by),
# computed here independently: SHA-256 of the key's MCUboot encoding, the image's KEYHASH TLV.
tkh() { "$FWTRUST" inspect --json "$1" | "$PY" -c 'import json,sys
print([t["value"] for t in json.load(sys.stdin)["tlvs"] if t["name"] == "KEYHASH"][0][:16])'; }
p256h=$(tkh "$T/ecdsa-p256.signed.bin") edh=$(tkh "$T/ed25519.signed.bin")
expect 24 "signed by key hash $edh.., not one of the 2 trusted key(s): trusted key hashes $p256h.., $(tkh "$T/rsa-2048.signed.bin").." \
    "$FWTRUST" verify --key "$T/ecdsa-p256.pub.pem" --key "$T/rsa-2048.pub.pem" "$T/ed25519.signed.bin"

# --json: version, counter (auto: 4<<24 | 0<<16 | revision 0; the build is not used), hw id, digest, signers, result.
"$FWTRUST" verify --json --key "$T/ed25519.pub.pem" "$T/ed25519.signed.bin" >"$T/v.json"
[ "$(json_field "$T/v.json" 'd["ok"], d["result"], d["version"], d["security_counter"], d["hw_id"]')" = \
  "(True, 'FWT_OK', '4.0.0+5', 67108864, 'primehub')" ] || fail "verify --json fields: $(cat "$T/v.json")"
kh=$("$FWTRUST" keygen --json --type ed25519 -o "$T/other.pem" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["keyhash"])')
[ ${#kh} = 64 ] || fail "keygen --json keyhash"
[ "$(json_field "$T/v.json" 'len(d["signers"]), d["signers"][0]["key"], len(d["digest"])')" = \
  "(1, '$T/ed25519.pub.pem', 64)" ] || fail "verify --json signers"
rc=0
"$FWTRUST" verify --json --key "$T/other.pem" "$T/ed25519.signed.bin" >"$T/v2.json" 2>/dev/null || rc=$?
[ $rc = 24 ] || fail "verify --json wrong key exit $rc"
[ "$(json_field "$T/v2.json" 'd["ok"], d["result"], d["exit_code"]')" = "(False, 'FWT_E_UNKNOWN_KEY', 24)" ] ||
    fail "verify --json failure: $(cat "$T/v2.json")"

# P-384 images carry a SHA-384 digest.
"$FWTRUST" inspect --json "$T/ecdsa-p384.signed.bin" >"$T/i.json"
json_field "$T/i.json" '[t["name"] for t in d["tlvs"]]' | grep -q "'SHA384', 'KEYHASH', 'ECDSA_SIG'" ||
    fail "P-384 TLVs: $(json_field "$T/i.json" '[t["name"] for t in d["tlvs"]]')"

# pubkey --format c and raw-hash agree with the key hash.
expect 0 "" "$FWTRUST" pubkey --format c "$T/ecdsa-p256.pem" -o "$T/key.c"
grep -q 'const unsigned char ecdsa_pub_key\[\] = {' "$T/key.c" || fail "C array name"
grep -q 'FWT_PUB_KEY_TYPE "ecdsa-p256"' "$T/key.c" || fail "C key type"
grep -q 'ecdsa_pub_key_len = 91;' "$T/key.c" || fail "P-256 SPKI is 91 bytes"
printf '#include <stdio.h>\n#include "%s"\nint main(void){fwrite(ecdsa_pub_key,1,ecdsa_pub_key_len,stdout);return 0;}\n' \
    "$T/key.c" >"$T/k.c"
cc -o "$T/k" "$T/k.c"
"$T/k" >"$T/key.der"
expect 0 "" "$FWTRUST" pubkey --format raw-hash "$T/ecdsa-p256.pem" -o "$T/key.hash"
[ "$(sha256sum <"$T/key.der" | cut -c1-64)" = "$(od -An -tx1 -v "$T/key.hash" | tr -d ' \n')" ] ||
    fail "raw-hash is not the SHA-256 of the C array's bytes"
expect 1 "unknown format" "$FWTRUST" pubkey --format xml "$T/ecdsa-p256.pem"
expect 7 "missing.pem" "$FWTRUST" pubkey "$T/missing.pem"
# sign --json summary.
"$FWTRUST" sign --json --key "$T/ed25519.pem" --key "$T/ecdsa-p256.pem" --version 1.2.3+4 \
    --header-size 0x200 --pad-header -s 77 "$FW" "$T/two.bin" >"$T/s.json"
[ "$(json_field "$T/s.json" 'd["ok"], d["output"], d["version"], d["signatures"], d["security_counter"]')" = \
  "(True, '$T/two.bin', '1.2.3+4', 2, 77)" ] || fail "sign --json: $(cat "$T/s.json")"
expect 0 "2 signature(s)" "$FWTRUST" verify --key "$T/ed25519.pem" --key "$T/ecdsa-p256.pem" \
    --threshold 2 "$T/two.bin"
expect 28 "valid signatures from 1 distinct trust anchor(s)" "$FWTRUST" verify \
    --key "$T/ed25519.pem" --key "$T/rsa-2048.pem" --threshold 2 "$T/two.bin"

# An encrypted key needs its passphrase file.
printf 'correct horse battery staple\n' >"$T/pass"
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/enc.pem" --passphrase-file "$T/pass"
grep -q "ENCRYPTED" "$T/enc.pem" || fail "enc.pem is not encrypted"
expect 7 "" "$FWTRUST" sign --key "$T/enc.pem" --header-size 0x200 --pad-header "$FW" "$T/e.bin"
[ ! -e "$T/e.bin" ] || fail "e.bin written without the passphrase"
expect 0 "" "$FWTRUST" sign --key "$T/enc.pem" --passphrase-file "$T/pass" --header-size 0x200 \
    --pad-header "$FW" "$T/e.bin"
expect 0 "" "$FWTRUST" verify --key "$T/enc.pem" --passphrase-file "$T/pass" "$T/e.bin"
echo "roundtrip: ok"
