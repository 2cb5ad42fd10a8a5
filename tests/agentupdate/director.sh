#!/bin/bash
# Uptane full verification (src/agent/fleet.c): a device updates only through its director, a
# TUF repository of its own made here with `fwtrust repo` (custom device_id, hardware_id,
# release_counter), checked against the image repository; both served as file:// URLs.
# Attacks, each refused with its error and reason, nothing marked for trial: the director
# points at an image not in the image repository; at a name whose bytes differ from the image
# repository's; an image-repository target the director did not assign is not installed;
# director metadata for another device or other hardware; a release counter below the
# installed one; replayed (older) director metadata. A device without a director keeps
# updating straight from the image repository.
. "$(dirname "$0")/lib.sh"
setup_images
setup_repo
publish "$T/b4.bin" "$T/b5.bin"

# The director: its own keys, published empty (version 1); the device trusts its first root.
for k in droot dtargets dsnap dts; do fwt keygen --type ecdsa-p256 -o "$T/$k.pem" >/dev/null; done
fwt repo init "$T/dir" --root-key "$T/droot.pem" --targets-key "$T/dtargets.pem" \
    --snapshot-key "$T/dsnap.pem" --timestamp-key "$T/dts.pem" >/dev/null
fwt repo publish "$T/dir" --key "$T/dsnap.pem" --key "$T/dts.pem" >/dev/null || fail "director publish"
DURL="file://$T/dir/metadata/"

# unassign: the director's targets list nothing (staged; assign publishes).
ASSIGNED=""
unassign() {
    [ -z "$ASSIGNED" ] || fwt repo remove-target "$T/dir" "$ASSIGNED" --key "$T/dtargets.pem" >/dev/null ||
        fail "remove $ASSIGNED"
    ASSIGNED=""
}
# assign NAME FILE RC [DEVICE] [HW]: the director's targets list exactly NAME (FILE's length
# and hashes) for DEVICE (dev-1) on HW (lego-primehub) with release counter RC; published.
assign() {
    local name=$1 file=$2 rc=$3 dev=${4:-dev-1} hw=${5:-lego-primehub}
    unassign
    fwt repo add-target "$T/dir" "$file" --name "$name" --no-image --key "$T/dtargets.pem" \
        --custom "{\"device_id\":\"$dev\",\"hardware_id\":\"$hw\",\"release_counter\":$rc}" >/dev/null ||
        fail "assign $name"
    ASSIGNED=$name
    fwt repo publish "$T/dir" --key "$T/dsnap.pem" --key "$T/dts.pem" >/dev/null || fail "director publish"
}

mkfdev() {
    local d=$1
    mkdir -p "$T/$d.slots"
    : >"$T/$d.slots/a"
    : >"$T/$d.slots/b"
    "$FWTRUST_AGENT" --device "$T/$d" init --hw-id lego-primehub --slot-a "$T/$d.slots/a" \
        --slot-b "$T/$d.slots/b" --trust-key "$T/rel.pub" --tuf-root "$T/repo/metadata/1.root.json" \
        --repo "file://$T/repo" >/dev/null || fail "init $d"
}
mkfdev dev
cp "$T/dir/metadata/1.root.json" "$T/director-root.json"
dupd() { agent dev --json update --director "$DURL" --director-root "$T/director-root.json" --device-id dev-1 "$@"; }

# Nothing assigned: the image repository's newest (b5) is not installed.
expect 51 "no image is assigned to this device" dupd
no_trial dev
[ -f "$T/dev/director/root.json" ] || fail "the director root was not installed"

# Assigned b4 with release counter 1: Uptane full verification passes, it installs.
assign primehub/b4.bin "$T/b4.bin" 1
expect 0 "" dupd
[ "$(jget "$T/.out" 'd["target"]')" = primehub/b4.bin ] || fail "installed $(cat "$T/.out")"
[ "$(jget "$T/.out" 'd["director"]["release_counter"]')" = 1 ] || fail "release counter not reported"
boot dev >/dev/null && agent dev confirm >/dev/null || fail "boot/confirm b4"
slot_holds dev a "$T/b4.bin"

# The director points at an image the image repository does not have (8).
PAYLOAD=$FW/pybricks-primehub-v4.0.0b5.bin sign evil.bin 4.0.0+9
assign primehub/evil.bin "$T/evil.bin" 2
expect 8 "director: target primehub/evil.bin is not in the image repository" dupd
no_trial dev
[ "$(jget "$T/.out" 'd["error"]')" = FWT_E_NOT_FOUND ] || fail "JSON error"

# The director names b5 but with other bytes: b4's length (44), or b5's length with one byte
# changed (its sha256 differs, 44).
assign primehub/b5.bin "$T/b4.bin" 2
expect 44 "length 294889, the image repository's is 297449" dupd
no_trial dev
"$PY" -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[1000]^=1; open(sys.argv[2],"wb").write(b)' \
    "$T/b5.bin" "$T/b5.flipped"
assign primehub/b5.bin "$T/b5.flipped" 2
expect 44 "sha256 differs from the image repository's" dupd
no_trial dev

# Metadata for another device, and for other hardware (25).
assign primehub/b5.bin "$T/b5.bin" 2 dev-2
expect 25 "is assigned to device 'dev-2', this is 'dev-1'" dupd
no_trial dev
assign primehub/b5.bin "$T/b5.bin" 2 dev-1 other-board
expect 25 "is for hardware 'other-board', this device is 'lego-primehub'" dupd
no_trial dev

# A malformed assignment (a field missing) is refused too (40).
unassign
fwt repo add-target "$T/dir" "$T/b5.bin" --name primehub/b5.bin --no-image --key "$T/dtargets.pem" \
    --custom '{"device_id":"dev-1","hardware_id":"lego-primehub"}' >/dev/null
ASSIGNED=primehub/b5.bin
fwt repo publish "$T/dir" --key "$T/dsnap.pem" --key "$T/dts.pem" >/dev/null
expect 40 "custom must be exactly" dupd
no_trial dev

# The right assignment: b5, release counter 5.
assign primehub/b5.bin "$T/b5.bin" 5
cp -a "$T/dir/metadata" "$T/dir-metadata-v-old"
expect 0 "" dupd
[ "$(jget "$T/.out" 'd["target"]')" = primehub/b5.bin ] || fail "b5 not installed"
[ "$(jget "$T/.out" 'd["director"]["release_counter"]')" = 5 ] || fail "release counter 5"
boot dev >/dev/null && agent dev confirm >/dev/null || fail "boot/confirm b5"

# Rollback of the release counter: b4 again with counter 3 < 5 (26), before anything is fetched.
assign primehub/b4.bin "$T/b4.bin" 3
expect 26 "release counter 3, below the installed release's 5" dupd
no_trial dev

# Replayed director metadata: the files of an older version served again (43).
assign primehub/b5.bin "$T/b5.bin" 6
expect 51 "already runs" dupd
rm -rf "$T/dir/metadata"
cp -a "$T/dir-metadata-v-old" "$T/dir/metadata"
expect 43 "director:" dupd
no_trial dev

# Refusals are data for the report: --json gives the error number and the reason.
[ "$(jget "$T/.out" 'd["exit_code"]')" = 43 ] || fail "exit code in JSON"

# A device without a director still updates straight from the image repository (b5).
mkfdev plain
expect 0 "" agent plain --json update
[ "$(jget "$T/.out" 'd["target"]')" = primehub/b5.bin ] || fail "plain device did not get b5"
echo "agentupdate_director: ok"
