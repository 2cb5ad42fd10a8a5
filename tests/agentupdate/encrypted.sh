#!/bin/bash
# An encrypted target (fwtrust sign --encrypt, MCUboot's scheme) delivered by the network update:
# the repository's hashes cover the encrypted file; the agent spools it to an unlinked scratch
# file (the TUF client checks its length and hashes), decrypts it with the device's [decrypt] key
# as `install` does, and the slot gets the verified plaintext, which boots. Without the key, or
# with a wrong one, nothing becomes bootable; a plain target still installs on such a device; no
# scratch file is left behind.
. "$(dirname "$0")/lib.sh"
E="$SRC/tests/data/vectors/enc"
setup_images
setup_repo
sign b4enc.bin 4.0.0+4 --encrypt "$E/enc-x25519-pub.pem"
fwt decrypt --key "$E/enc-x25519-priv.pem" "$T/b4enc.bin" "$T/b4enc.plain" >/dev/null
publish "$T/b4enc.bin"
start_server
mkdev dev
scratch_left() { ls -A "$T/dev" | grep -E '^\.(target|decrypted)' || true; }

# No decryption key on the device: refused, nothing bootable.
expect 27 "no decryption key" agent dev update
no_trial dev
[ -z "$(scratch_left)" ] || fail "scratch files left: $(scratch_left)"
# A wrong key: the key TLV does not open (7), nothing bootable.
openssl genpkey -algorithm X25519 -out "$T/dev/other.pem" 2>/dev/null
printf '\n[decrypt]\nkey = other.pem\n' >>"$T/dev/device.ini"
expect 7 "HMAC tag mismatch" agent dev update
no_trial dev
[ -z "$(scratch_left)" ] || fail "scratch files left: $(scratch_left)"
# The device's key: installed, the slot holds the plaintext, it boots.
cp "$E/enc-x25519-priv.pem" "$T/dev/enc.pem"
sed -i 's/^key = other.pem$/key = enc.pem/' "$T/dev/device.ini"
update_boot_confirm dev
[ "$(jget "$T/.upd" 'd["target"]')" = primehub/b4enc.bin ] || fail "wrong target"
[ "$(jget "$T/.upd" 'd["version"]')" = 4.0.0+4 ] || fail "wrong version"
[ "$(jget "$T/.upd" 'd["downloaded"]')" = "$(stat -c %s "$T/b4enc.bin")" ] || fail "downloaded size"
slot_holds dev a "$T/b4enc.plain"
grep -q "GET /targets/primehub/.*\.b4enc.bin 200" "$T/srv/access.log" || fail "target not fetched"
[ -z "$(scratch_left)" ] || fail "scratch files left: $(scratch_left)"
expect 0 "" agent dev log verify
# A plain target on the same device goes the same way and installs.
publish "$T/b5.bin"
expect 0 "" agent dev --json update --no-delta
[ "$(jget "$T/.out" 'd["target"]')" = primehub/b5.bin ] || fail "b5 not chosen"
slot_holds dev b "$T/b5.bin"
boot dev >"$T/boot.json"
[ "$(jget "$T/boot.json" 'd["version"]')" = 4.0.0+5 ] || fail "did not boot b5"
agent dev confirm >/dev/null
# A served file changed after publishing: the TUF client refuses it, nothing bootable.
sign b6enc.bin 4.0.0+6 --encrypt "$E/enc-x25519-pub.pem"
publish "$T/b6enc.bin"
f=$(served b6enc.bin)
printf '\377' | dd of="$f" bs=1 seek=700 conv=notrunc 2>/dev/null
rc=0
agent dev update >"$T/o" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "a changed target was installed"
grep -qi "hash\|length\|mismatch" "$T/o" || fail "the refusal does not name the cause: $(cat "$T/o")"
no_trial dev
[ -z "$(scratch_left)" ] || fail "scratch files left: $(scratch_left)"
echo "agentupdate encrypted: ok"
