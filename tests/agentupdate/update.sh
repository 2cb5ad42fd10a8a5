#!/bin/bash
# The network update over HTTPS (nginx, pinned server key, client certificate): a fresh device
# installs 4.0.0b4 (full image), boots and confirms; then 4.0.0b5 arrives as a zstd patch
# against the running image and is rebuilt exactly; nothing newer -> 51; an older or
# lower-counter release named explicitly is refused.
. "$(dirname "$0")/lib.sh"
serve_b4_with_device

# Before the first update nothing runs; the update picks the only target, the full image.
expect 0 "" agent dev --json update --check
[ "$(jget "$T/.out" 'd["installed"]')" = False ] || fail "--check installed something"
[ ! -s "$T/dev.slots/a" ] || fail "--check wrote a slot"
update_boot_confirm dev
[ "$(jget "$T/.upd" 'd["encoding"]')" = none ] || fail "first install should be the full image"
[ "$(jget "$T/.upd" 'd["version"]')" = 4.0.0+4 ] || fail "wrong version installed"
[ "$(jget "$T/.upd" 'd["slot"]')" = a ] || fail "first install should go to slot a"
slot_holds dev a "$T/b4.bin"
grep -q "GET /targets/primehub/.*\.b4.bin 200" "$T/srv/access.log" || fail "target not fetched over the server"

# b5: full, compressed and both patches published; the smallest patch is chosen (its base is
# the running b4).
publish "$T/b5.bin" "$T/b5.bin.zst" "$T/b5.from-b4.zpatch" "$T/b5.prefix.zpatch"
expect 0 "" agent dev --json update
cp "$T/.out" "$T/.upd"
[ "$(jget "$T/.upd" 'd["encoding"]')" = bsdiff2 ] || fail "the patch was not used"
[ "$(jget "$T/.upd" 'd["target"]')" = primehub/b5.from-b4.zpatch ] || fail "wrong target"
[ "$(jget "$T/.upd" 'd["downloaded"]')" = "$(stat -c %s "$T/b5.from-b4.zpatch")" ] || fail "downloaded size"
[ "$(jget "$T/.upd" 'd["previous_version"]')" = 4.0.0+4 ] || fail "previous version"
slot_holds dev b "$T/b5.bin"
slot_holds dev a "$T/b4.bin" # the running slot is untouched
agent dev --json status >"$T/st.json"
[ "$(jget "$T/st.json" 'd["trial"]')" = b ] || fail "slot b not on trial"
[ "$(jget "$T/st.json" 'd["confirmed"]')" = a ] || fail "confirmed slot changed before the boot"
! grep -q "GET /targets/primehub/.*\.b5.bin " "$T/srv/access.log" || fail "the full image was fetched too"
boot dev >"$T/boot.json"
[ "$(jget "$T/boot.json" 'd["version"]')" = 4.0.0+5 ] || fail "did not boot b5"
agent dev confirm >/dev/null
expect 0 "" agent dev log verify
grep -q '"event":"update"' "$T/dev/audit.log" || fail "no update event in the audit log"

# Nothing newer: exit 51, with the reason.
expect 51 "already runs 4.0.0+5" agent dev update
# An older release named explicitly: refused before anything is written (51).
expect 51 "older than the running" agent dev update --target primehub/b4.bin
no_trial dev
# A newer version with a lower security counter: 26 when named, skipped otherwise.
CTR=1 sign b6-lowctr.bin 4.0.0+6
publish "$T/b6-lowctr.bin"
expect 26 "below the" agent dev update --target primehub/b6-lowctr.bin
expect 51 "" agent dev update
no_trial dev
# A target for other hardware: 25.
HW=lego-technic-hub sign b7-other.bin 4.0.0+7
publish "$T/b7-other.bin"
expect 25 "other hardware" agent dev update --target primehub/b7-other.bin
# Unknown target: 8.
expect 8 "not an fwtrust image" agent dev update --target primehub/nope.bin
# Fail closed: a device without a TUF root, or without any trust anchor, refuses to update (31)
# before any request; the JSON error names the cause.
mkdir -p "$T/bare.slots" && : >"$T/bare.slots/a" && : >"$T/bare.slots/b"
"$FWTRUST_AGENT" --device "$T/notuf" init --hw-id lego-primehub --slot-a "$T/bare.slots/a" \
    --slot-b "$T/bare.slots/b" --trust-key "$T/rel.pub" >/dev/null
"$FWTRUST_AGENT" --device "$T/nokey" init --hw-id lego-primehub --slot-a "$T/bare.slots/a" \
    --slot-b "$T/bare.slots/b" --tuf-root "$T/repo/metadata/1.root.json" --repo "$HTTPS_URL" \
    --ca "$CA" --client-cert "$CLIENT_CERT" --client-key "$CLIENT_KEY" >/dev/null 2>&1
n=$(wc -l <"$T/srv/access.log")
expect 31 "no TUF root" agent notuf --json update
[ "$(jget "$T/.out" 'd["exit_code"]')" = 31 ] && [ "$(jget "$T/.out" 'd["error"]')" = FWT_E_NO_TRUST ] ||
    fail "--json error output"
expect 31 "no trust anchor" agent nokey update
[ "$(wc -l <"$T/srv/access.log")" = "$n" ] || fail "a refused device still made requests"
# One agent at a time: while another process holds the device lock, update refuses (10).
[ -e "$T/dev/lock" ] || fail "no lock file"
exec 9<>"$T/dev/lock"
flock -x 9
expect 10 "in use" agent dev update
flock -u 9
exec 9>&-
# Images larger than the update's 1 MiB blocks (direct writes on the helper thread, a partial last
# block): a full image, then a zstd-compressed one (the decoder's output gathered into blocks).
# The slot must hold exactly the image, and the bootloader must boot it.
head -c 3146001 /dev/urandom >"$T/big.raw"
PAYLOAD="$T/big.raw" sign big8.bin 4.0.0+8
PAYLOAD="$T/big.raw" sign big9.bin 4.0.0+9
fwt delta --to "$T/big9.bin" -o "$T/big9.bin.zst" >/dev/null
publish "$T/big8.bin"
update_boot_confirm dev --target primehub/big8.bin
[ "$(jget "$T/.upd" 'd["encoding"]')" = none ] || fail "big8: $(cat "$T/.upd")"
slot_holds dev a "$T/big8.bin"
[ "$(stat -c %s "$T/dev.slots/a")" = "$(stat -c %s "$T/big8.bin")" ] || fail "slot a is not exactly big8"
publish "$T/big9.bin.zst"
update_boot_confirm dev --target primehub/big9.bin.zst
[ "$(jget "$T/.upd" 'd["encoding"]')" = zstd ] || fail "big9: $(cat "$T/.upd")"
slot_holds dev b "$T/big9.bin"
[ "$(stat -c %s "$T/dev.slots/b")" = "$(stat -c %s "$T/big9.bin")" ] || fail "slot b is not exactly big9"
# Usage errors.
expect 1 "fwtrust-agent update: unexpected operand 'extra'" agent dev update extra
expect 0 "--target NAME" agent dev update --help
echo "update: ok"
