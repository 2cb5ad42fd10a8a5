#!/bin/bash
# Images the device must refuse, each with its documented exit code and a
# sentence naming the cause; a refused install never makes its slot bootable
# and never touches the running slot. Also: no trust anchor, the lock, bad
# configuration, state corruption.
. "$(dirname "$0")/lib.sh"
keys
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/other.pem"
mkimg "$T/v1.bin" 1.0.0 1
mkimg "$T/v2.bin" 2.0.0 2
mkimg "$T/unknown.bin" 2.0.0 2 --key "$T/other.pem"
mkimg "$T/hw2.bin" 2.0.0 2 --hw-id hw2
expect 0 "" "$FWTRUST" sign --key "$T/k1.pem" --version 2.0.0 --header-size 0x200 --pad-header \
    --security-counter 2 "$T/payload.bin" "$T/nohw.bin"
cp "$T/v2.bin" "$T/flipped.bin"
flip "$T/flipped.bin" 1000
head -c 5000 "$T/v2.bin" >"$T/short.bin"
mkdev --slot-size 65536
expect 0 "" "$AGENT" --device "$T/dev" install "$T/v1.bin"
expect 0 "" "$BOOT" --device "$T/dev"
expect 0 "" "$AGENT" --device "$T/dev" confirm
cp "$T/slot-a.bin" "$T/a.ref"

refuse() { # CODE TEXT IMAGE
    expect "$1" "$2" "$AGENT" --device "$T/dev" install "$3"
    cmp "$T/a.ref" "$T/slot-a.bin" || fail "refused $3 changed the running slot"
    [ "$(jget 'd["trial"], d["slots"]["b"]["state"]' "$AGENT" --device "$T/dev" status --json)" = "(None, 'bad')" ] ||
        fail "refused $3: slot b not marked bad: $(cat "$T/.j")"
    [ "$(jget 'd["slot"], d["trial"]' "$BOOT" --device "$T/dev")" = "('a', False)" ] || fail "boot after refusing $3"
}
refuse 24 "not one of the 1 trusted key(s)" "$T/unknown.bin"
# The refusal names the file given, not the slot it was written to, and lists the trusted key
# hashes (the device's k1.pub: the KEYHASH TLV of an image k1 signed) next to the image's.
grep -qF "error: signed by an unknown key (FWT_E_UNKNOWN_KEY): $T/unknown.bin: signed by key hash" "$T/.err" ||
    fail "unknown key: the message does not name the file given: $(cat "$T/.err")"
! grep -qF "slot-b.bin" "$T/.err" || fail "unknown key: the message blames the slot file: $(cat "$T/.err")"
kh() { "$FWTRUST" inspect --json "$1" | "$PY" -c 'import json,sys
print([t["value"] for t in json.load(sys.stdin)["tlvs"] if t["name"] == "KEYHASH"][0][:16])'; }
k1h=$(kh "$T/v1.bin") otherh=$(kh "$T/unknown.bin")
grep -qF "signed by key hash $otherh.., not one of the 1 trusted key(s): trusted key hashes $k1h..;" "$T/.err" ||
    fail "unknown key: trusted key hash $k1h not listed: $(cat "$T/.err")"
refuse 25 "image is for hardware id 'hw2', this device is 'hw1'" "$T/hw2.bin"
refuse 25 "image carries no hardware id" "$T/nohw.bin"
refuse 21 "digest mismatch" "$T/flipped.bin"
refuse 20 "" "$T/short.bin"
grep -qF "$T/short.bin: " "$T/.err" || fail "malformed: the message does not name the file given: $(cat "$T/.err")"
expect 20 "" "$FWTRUST" verify --key "$T/k1.pub" "$T/short.bin"
# Bytes after the image's TLVs are not covered by the signature: the copy must be exactly
# header + payload + TLVs (pitfall 6), so a trailer is refused, not kept in the slot.
cp "$T/v2.bin" "$T/trailer.bin"
printf 'unsigned trailer' >>"$T/trailer.bin"
refuse 20 "16 bytes after the image" "$T/trailer.bin"
expect 20 "empty" "$AGENT" --device "$T/dev" install /dev/null
expect 8 "No such file" "$AGENT" --device "$T/dev" install "$T/missing.bin"
# Larger than the slot: refused before anything is written, and while streaming (stdin).
head -c 70000 /dev/urandom >"$T/big.raw"
expect 0 "" "$FWTRUST" sign --key "$T/k1.pem" --version 3.0.0 --header-size 0x200 --pad-header \
    --security-counter 3 --hw-id hw1 "$T/big.raw" "$T/big.bin"
refuse 33 "does not fit slot b (65536 bytes)" "$T/big.bin"
expect 33 "larger than slot b" sh -c "cat \"$T/big.bin\" | \"$AGENT\" --device \"$T/dev\" install -"
# The source changes while it is read (first half of one signed image, the rest of another
# of the same length): what landed in the slot is verified, so the mix is refused.
mkimg "$T/v2b.bin" 2.0.1 2
half=$(($(stat -c %s "$T/v2.bin") / 2))
[ "$(stat -c %s "$T/v2.bin")" = "$(stat -c %s "$T/v2b.bin")" ] || fail "test images differ in length"
expect 21 "digest mismatch" sh -c "{ head -c $half \"$T/v2.bin\"; tail -c +$((half + 1)) \"$T/v2b.bin\"; } | \"$AGENT\" --device \"$T/dev\" install -"
cmp "$T/a.ref" "$T/slot-a.bin" || fail "mixed source changed the running slot"
# The audit log records the refusals.
grep -q '"event":"install-refused"' "$T/dev/audit.log" || fail "refusals not in the audit log"
expect 0 "" "$AGENT" --device "$T/dev" log verify
# After all that, a good image still installs.
expect 0 "into slot b" "$AGENT" --device "$T/dev" install "$T/v2.bin"

# The lock: a second agent (or bootloader) gets FWT_E_LOCKED with a clear message.
# (A holder process takes the lock, says so, and is killed when the checks are done.)
"$PY" -c 'import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(120)' "$T/dev/lock" "$T/locked" &
holder=$!
trap 'kill "$holder" 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 100); do [ -e "$T/locked" ] && break; sleep 0.1; done
[ -e "$T/locked" ] || fail "the lock holder did not start"
# the error says who holds the lock: its pid and command line (from /proc/locks)
expect 10 "is in use: pid $holder (" "$AGENT" --device "$T/dev" install "$T/v2.bin"
grep -qF "import fcntl, sys, time" "$T/.err" || fail "the holder's command line is not named: $(cat "$T/.err")"
expect 10 "is in use" "$AGENT" --device "$T/dev" status
expect 10 "is in use" "$BOOT" --device "$T/dev"
kill "$holder"
wait "$holder" 2>/dev/null || true
trap 'rm -rf "$T"' EXIT
expect 0 "" "$AGENT" --device "$T/dev" status

# A device without any trust anchor refuses every image, loudly.
expect 0 "NO trust anchor" "$AGENT" --device "$T/none" init --hw-id hw1 --slot-a "$T/na" --slot-b "$T/nb"
expect 31 "has no trust anchor" "$AGENT" --device "$T/none" install "$T/v1.bin"
[ "$(stat -c %s "$T/na")" = 0 ] || fail "a device without trust wrote a slot"
expect 0 "NO TRUST ANCHOR" "$AGENT" --device "$T/none" status
expect 31 "nothing can be verified" "$AGENT" --device "$T/none" verify-slots
expect 50 "RECOVERY" "$BOOT" --device "$T/none"
# A trust anchor file that is absent is 8 (not found), as `init --help` says; one that is there
# but is no key is 7; neither leaves a device behind.
expect 8 "$T/nosuch.pub" "$AGENT" --device "$T/nokey" init --hw-id hw1 --slot-a "$T/ka" \
    --slot-b "$T/kb" --trust-key "$T/nosuch.pub"
expect 8 "$T/nosuch.pub" "$AGENT" --device "$T/nokey" init --hw-id hw1 --slot-a "$T/ka" \
    --slot-b "$T/kb" --trust-root "$T/nosuch.pub"
echo "not a key" >"$T/notakey.pub"
expect 7 "$T/notakey.pub" "$AGENT" --device "$T/nokey" init --hw-id hw1 --slot-a "$T/ka" \
    --slot-b "$T/kb" --trust-key "$T/notakey.pub"
[ ! -e "$T/nokey/device.ini" ] || fail "a failed init left a device"
"$AGENT" init --help | grep -qF "7 key unusable; 8 key not found" || fail "init --help lost its exit codes"
# A published sample key is never a trust anchor.
expect 32 "published sample key" "$AGENT" --device "$T/sample" init --hw-id hw1 --slot-a "$T/sa" \
    --slot-b "$T/sb" --trust-key "$SRC/tests/data/sample-keys/root-ec-p256.pem"

# Configuration errors name the line; a misspelt key is an error, not ignored.
cp -a "$T/dev" "$T/dev2"
sed -i 's/^key = /kee = /' "$T/dev2/device.ini"
expect 1 "unknown key 'kee' in [trust]" "$AGENT" --device "$T/dev2" status
# State corruption: one bad copy is ignored, two are an error (exit 11), never a default.
cp -a "$T/dev" "$T/dev3"
printf 'garbage' >"$T/dev3/bootctl.0"
expect 0 "" "$AGENT" --device "$T/dev3" status
printf 'garbage' >"$T/dev3/bootctl.1"
expect 11 "no valid copy of bootctl" "$AGENT" --device "$T/dev3" status
expect 11 "no valid copy of bootctl" "$BOOT" --device "$T/dev3"
printf 'garbage' >"$T/dev/rollback.0"
printf 'garbage' >"$T/dev/rollback.1"
expect 11 "no valid copy of rollback" "$AGENT" --device "$T/dev" status
echo "refusals: ok"
