#!/bin/bash
# Patches are used only on exactly their base: a device running another build of 4.0.0b4 gets
# the compressed (or full) image instead, and so does --no-delta; a compressed target is
# decoded on the fly to exactly the published image.
. "$(dirname "$0")/lib.sh"
# The image digest of a signed image (the verifier's).
digest_of() { fwt verify --key "$2" --json "$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["digest"])'; }
setup_images
# Another build of 4.0.0b4 (same version, other bytes: a longer header).
fwt sign --no-log --key "$T/rel.pem" --version 4.0.0+4 --header-size 0x400 --pad-header \
    --hw-id lego-primehub --security-counter auto "$FW/pybricks-primehub-v4.0.0b4.bin" "$T/b4-other.bin" >/dev/null 2>&1
setup_repo
publish "$T/b4.bin" "$T/b4-other.bin"
start_server

# Device "other" runs the other build; device "plain" runs b4 itself.
mkdev other
mkdev plain
update_boot_confirm other --target primehub/b4-other.bin
update_boot_confirm plain --target primehub/b4.bin
slot_holds other a "$T/b4-other.bin"

publish "$T/b5.bin" "$T/b5.bin.zst" "$T/b5.from-b4.zpatch" "$T/b5.prefix.zpatch"
# Wrong base: the patch is skipped and the compressed image (next smallest) is used.
expect 0 "" agent other --json update
cp "$T/.out" "$T/u1.json"
[ "$(jget "$T/u1.json" 'd["encoding"]')" = zstd ] || fail "wrong base: expected the zstd image"
[ "$(jget "$T/u1.json" 'd["delta_skipped"]')" = True ] || fail "wrong base: delta not reported as skipped"
grep -q "another base" "$T/u1.json" || fail "wrong base: no reason given"
slot_holds other b "$T/b5.bin"
agent other rollback >/dev/null # cancel the trial again

# Naming the patch explicitly on the wrong base falls back to the image it would have built.
expect 0 "" agent other --json update --target primehub/b5.from-b4.zpatch
[ "$(jget "$T/.out" 'd["encoding"]')" = zstd ] || fail "--target patch on wrong base: no fallback"
[ "$(jget "$T/.out" 'd["delta_skipped"]')" = True ] || fail "--target patch: skip not reported"
slot_holds other b "$T/b5.bin"
agent other rollback >/dev/null

# The zstd reference-prefix patch, named: decoded with the running image as the prefix.
expect 0 "" agent plain --json update --target primehub/b5.prefix.zpatch
[ "$(jget "$T/.out" 'd["encoding"]')" = zstd-patch ] || fail "prefix patch not used"
slot_holds plain b "$T/b5.bin"
agent plain rollback >/dev/null
# ... and on the wrong base, the fallback again.
expect 0 "" agent other --json update --target primehub/b5.prefix.zpatch
[ "$(jget "$T/.out" 'd["encoding"]')" = zstd ] || fail "prefix patch on the wrong base: no fallback"
agent other rollback >/dev/null

# --no-delta on the matching base: compressed image, decoded on the fly, byte-exact.
expect 0 "" agent plain --json update --no-delta
[ "$(jget "$T/.out" 'd["encoding"]')" = zstd ] || fail "--no-delta: expected the zstd image"
slot_holds plain b "$T/b5.bin"
boot plain >"$T/boot.json"
[ "$(jget "$T/boot.json" 'd["version"]')" = 4.0.0+5 ] || fail "did not boot the decoded image"
agent plain confirm >/dev/null

# Only the full image left for a base: with the compressed one removed it is the full image.
fwt repo remove-target "$T/repo" primehub/b5.bin.zst --key "$T/targets.pem" >/dev/null
fwt repo publish "$T/repo" --key "$T/snapshot.pem" --key "$T/timestamp.pem" >/dev/null
expect 0 "" agent other --json update
[ "$(jget "$T/.out" 'd["encoding"]')" = none ] || fail "expected the full image"
slot_holds other b "$T/b5.bin"
# Same image digest and length, other bytes: ECDSA signatures are randomised, so b4 signed twice
# with one ECDSA key gives two images whose signed part (and digest) is the same but whose
# signature bytes differ. A patch is made against exact bytes: on the device running the other
# signing it is not used (the digest and length match, the SHA-256 of the slot's bytes does not);
# the compressed image is.
fwt keygen --type ecdsa-p256 -o "$T/ec.pem" >/dev/null
fwt pubkey "$T/ec.pem" -o "$T/ec.pub"
KEY="$T/ec.pem" sign b4e1.bin 4.0.0+4
for i in $(seq 1 20); do
    KEY="$T/ec.pem" sign b4e2.bin 4.0.0+4
    [ "$(stat -c %s "$T/b4e1.bin")" = "$(stat -c %s "$T/b4e2.bin")" ] && ! cmp -s "$T/b4e1.bin" "$T/b4e2.bin" && break
done
[ "$(stat -c %s "$T/b4e1.bin")" = "$(stat -c %s "$T/b4e2.bin")" ] || fail "no two ECDSA signings of equal length"
[ "$(digest_of "$T/b4e1.bin" "$T/ec.pub")" = "$(digest_of "$T/b4e2.bin" "$T/ec.pub")" ] || fail "ECDSA: digests differ"
KEY="$T/ec.pem" sign b5e.bin 4.0.0+5
fwt delta --from "$T/b4e1.bin" --to "$T/b5e.bin" -o "$T/b5e.from-b4e1.zpatch" --method prefix >/dev/null
fwt delta --to "$T/b5e.bin" -o "$T/b5e.bin.zst" >/dev/null
publish "$T/b4e2.bin" "$T/b5e.bin" "$T/b5e.from-b4e1.zpatch" "$T/b5e.bin.zst"
mkdev ecdev --trust-key "$T/ec.pub"
update_boot_confirm ecdev --target primehub/b4e2.bin
expect 0 "" agent ecdev --json update --target primehub/b5e.from-b4e1.zpatch
[ "$(jget "$T/.out" 'd["encoding"]')" = zstd ] || fail "same digest, other bytes: the patch was used"
grep -q "bytes differ from its base" "$T/.out" || { cat "$T/.out" >&2; fail "same digest, other bytes: no reason given"; }
slot_holds ecdev b "$T/b5e.bin"

echo "fallback: ok"
