#!/bin/bash
# fwtrust-tuf-client: the tuf-conformance CLIENT-CLI.md protocol. Options before the
# command; init/refresh/download; exit 0 or 1; the metadata directory holds only
# unversioned role files with the exact bytes served (delegated role names
# percent-encoded, in URLs too); the request sequence (no extra or retried requests);
# a target already downloaded is not fetched again; the clock under faketime, the time floor.
. "$(dirname "$0")/lib.sh"
C=$TUF_CLIENT
R=$T/repo
"$TREPO" "$R"
serve "$R" "$T/log"
M=$T/m

# usage
expect 0 "init TRUSTED_ROOT" "$C" --help
expect 1 "no command" "$C" --metadata-dir "$M"
expect 1 "unknown command" "$C" --metadata-dir "$M" --metadata-url "$URL/metadata" bogus
expect 1 "--metadata-dir is required" "$C" refresh
expect 1 "fwtrust-tuf-client refresh: unexpected operand 'extra'" "$C" --metadata-dir "$M" --metadata-url "$URL/metadata" refresh extra
expect 1 "download needs" "$C" --metadata-dir "$M" --metadata-url "$URL/metadata" download
expect 1 "unknown command 'nope'" "$C" --detailed-exit --metadata-dir "$M" nope
expect 1 "--metadata-url is required" "$C" --detailed-exit --metadata-dir "$M" refresh
expect 1 "" "$C" --metadata-dir "$M" --detailed-exit --timeout x refresh

# init: no request; a root not signed by its own keys is refused
: >"$T/log"
echo '{"signatures":[],"signed":{}}' >"$T/bad-root.json"
expect 1 "FWT_E_META" "$C" --metadata-dir "$M" init "$T/bad-root.json"
[ ! -e "$M/root.json" ] || fail "a refused root was stored"
expect 1 "fwtrust-tuf-client: hint: TRUSTED_ROOT names $T/missing.json, which does not exist" "$C" --metadata-dir "$M" init "$T/missing.json"
# a refresh before init says to run init
expect 1 "hint: $T/noinit holds no trusted root yet: run 'fwtrust-tuf-client --metadata-dir $T/noinit init ROOT.json' first" \
    "$C" --metadata-dir "$T/noinit" --metadata-url "$URL/metadata" refresh
# init reads at most --max-root-bytes (default 512000) of the root file
expect 1 "larger than the limit of 100 bytes" "$C" --max-root-bytes 100 --metadata-dir "$M" init "$R/metadata/1.root.json"
[ ! -e "$M/root.json" ] || fail "a root above the limit was stored"
for o in --max-root-bytes --max-timestamp-bytes --max-snapshot-bytes --max-targets-bytes; do
    # the default in --help (from fwt_tuf.h) is the one in the table of docs/tuf.md
    d=$("$C" --help | sed -n "s/.*$o N.*(default \([0-9]*\)).*/\1/p")
    [ -n "$d" ] || fail "--help lacks $o or its default"
    grep -F -- "\`$o\`" "$SRC/docs/tuf.md" | grep -q -- " $d " || fail "docs/tuf.md does not give $o the default $d"
    expect 1 "positive number" "$C" "$o" 0 --metadata-dir "$M" refresh
done
expect 0 "" "$C" --metadata-dir "$M" init "$R/metadata/1.root.json"
cmp "$M/root.json" "$R/metadata/1.root.json" || fail "init did not store the root as given"
[ ! -s "$T/log" ] || fail "init made requests: $(cat "$T/log")"

# init on a directory that trusts a root already: the same file changes nothing; a newer root
# replaces it; an older root, or another root of the same version, only with --force
R3=$T/repo3
"$TREPO" "$R3" --roots 3
M3=$T/m3
expect 0 "" "$C" --metadata-dir "$M3" init "$R3/metadata/1.root.json"
expect 0 "" "$C" --metadata-dir "$M3" init "$R3/metadata/1.root.json"
expect 0 "" "$C" --metadata-dir "$M3" init "$R3/metadata/3.root.json"
cmp "$M3/root.json" "$R3/metadata/3.root.json" || fail "init did not take the newer root"
expect 43 "root version 2 is older than the trusted root version 3" "$C" --detailed-exit --metadata-dir "$M3" \
    init "$R3/metadata/2.root.json"
expect 1 "FWT_E_META_ROLLBACK" "$C" --metadata-dir "$M3" init "$R/metadata/1.root.json"
cmp "$M3/root.json" "$R3/metadata/3.root.json" || fail "a refused init changed the trusted root"
"$TREPO" "$T/repo3b" --roots 3
expect 44 "differs from the trusted root of the same version" "$C" --detailed-exit --metadata-dir "$M3" \
    init "$T/repo3b/metadata/3.root.json"
cmp "$M3/root.json" "$R3/metadata/3.root.json" || fail "a refused init changed the trusted root"
expect 1 "option '--force' is not an option of this command (only of: init)" "$C" --force --metadata-dir "$M3" --metadata-url "$URL/metadata" refresh
expect 0 "" "$C" --force --metadata-dir "$M3" init "$R/metadata/1.root.json"
cmp "$M3/root.json" "$R/metadata/1.root.json" || fail "init --force did not replace the root"

# refresh: the request sequence, the stored files (exact bytes, unversioned)
expect 0 "" "$C" --metadata-url "$URL/metadata" --metadata-dir "$M" refresh
printf '404 /metadata/2.root.json\n200 /metadata/timestamp.json\n200 /metadata/2.snapshot.json\n200 /metadata/2.targets.json\n' >"$T/want"
diff "$T/want" "$T/log" || fail "refresh request sequence"
[ "$(ls "$M" | tr '\n' ' ')" = "root.json snapshot.json targets.json time-floor timestamp.json " ] ||
    fail "metadata dir holds: $(ls "$M")"
cmp "$M/timestamp.json" "$R/metadata/timestamp.json" || fail "timestamp bytes"
cmp "$M/snapshot.json" "$R/metadata/2.snapshot.json" || fail "snapshot bytes"
cmp "$M/targets.json" "$R/metadata/2.targets.json" || fail "targets bytes"

# a second refresh: nothing new, local snapshot and targets are used (no request for them);
# options go before or after the command
: >"$T/log"
expect 0 '"ok": true' "$C" refresh --metadata-url "$URL/metadata" --json --metadata-dir "$M"
printf '404 /metadata/2.root.json\n200 /metadata/timestamp.json\n' | diff - "$T/log" || fail "second refresh requests"

# download a target of a delegated role named "hw/a": percent-encoded in the URL and file name
: >"$T/log"
expect 0 "" "$C" --metadata-url "$URL/metadata" --metadata-dir "$M" --target-name hw/fw.bin \
    --target-base-url "$URL/targets" --target-dir "$T/t" download
h=$(printf 'firmware for hw\n' | sha256sum | cut -d' ' -f1)
printf '404 /metadata/2.root.json\n200 /metadata/timestamp.json\n200 /metadata/1.hw%%2Fa.json\n200 /targets/hw/%s.fw.bin\n' "$h" |
    diff - "$T/log" || fail "download request sequence"
[ -f "$M/hw%2Fa.json" ] || fail "delegated role not stored as hw%2Fa.json"
cmp "$M/hw%2Fa.json" "$R/metadata/1.hw%2Fa.json" || fail "delegated role bytes"
printf 'firmware for hw\n' | cmp - "$T/t/hw%2Ffw.bin" || fail "downloaded bytes"
# again: already there with the right hashes, not fetched
: >"$T/log"
expect 0 "already there" "$C" --metadata-url "$URL/metadata" --metadata-dir "$M" --target-name hw/fw.bin \
    --target-base-url "$URL/targets" --target-dir "$T/t" download
! grep -q /targets/ "$T/log" || fail "a cached target was downloaded again"
# several --target-name; --json
expect 0 '"cached": true' "$C" --json --metadata-url "$URL/metadata" --metadata-dir "$M" --target-name hw/fw.bin \
    --target-name a.bin --target-base-url "$URL/targets" --target-dir "$T/t" download
printf 'hello, device\n' | cmp - "$T/t/a.bin" || fail "a.bin bytes"
# --plain-names: hw/fw.bin as DIR/hw/fw.bin; the target directory and its parents are created
expect 0 "hw/fw.bin: $T/plain/out/hw/fw.bin" "$C" --metadata-url "$URL/metadata" --metadata-dir "$M" --plain-names \
    --target-name hw/fw.bin --target-name a.bin --target-base-url "$URL/targets" --target-dir "$T/plain/out" download
printf 'firmware for hw\n' | cmp - "$T/plain/out/hw/fw.bin" || fail "--plain-names bytes"
printf 'hello, device\n' | cmp - "$T/plain/out/a.bin" || fail "--plain-names a.bin"
[ "$(cd "$T/plain/out" && find . -type f | sort | tr '\n' ' ')" = "./a.bin ./hw/fw.bin " ] || fail "--plain-names files"
# init creates the metadata directory with its parents
expect 0 "" "$C" --metadata-dir "$T/deep/er/m" init "$R/metadata/1.root.json"
cmp "$T/deep/er/m/root.json" "$R/metadata/1.root.json" || fail "init into a new nested directory"
expect 0 '"role": "hw/a"' "$C" --json --metadata-url "$URL/metadata" --metadata-dir "$M" list
# a target nobody lists: exit 1, error named
expect 1 "FWT_E_NOT_FOUND" "$C" --metadata-url "$URL/metadata" --metadata-dir "$M" --target-name nope \
    --target-base-url "$URL/targets" --target-dir "$T/t" download
expect 8 "FWT_E_NOT_FOUND" "$C" --detailed-exit --metadata-url "$URL/metadata" --metadata-dir "$M" \
    --target-name nope --target-base-url "$URL/targets" --target-dir "$T/t" download

# faketime preloads itself: under AddressSanitizer the runtime must be told not to insist on coming first
ft() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" faketime "$@"; }
# the clock is read through libc (faketime moves it, as the conformance suite's expiry tests need):
# the timestamp expires after one day; three days ahead it is refused and nothing is written
before=$(tree_hash "$M")
expect 1 "FWT_E_META_EXPIRED" ft -f +3d "$C" --metadata-url "$URL/metadata" --metadata-dir "$M" refresh
grep -qF "fwtrust-tuf-client: hint: the repository's metadata has expired: whoever runs it must re-sign it ('fwtrust repo timestamp'" "$T/.err" ||
    fail "no expiry hint: $(cat "$T/.err")"
[ "$before" = "$(tree_hash "$M")" ] || fail "an expired refresh changed the metadata dir"
# twelve hours ahead it is fine, and the time floor records that (faked) time
expect 0 "" ft -f +12h "$C" --metadata-url "$URL/metadata" --metadata-dir "$M" refresh
d=$(($(cat "$M/time-floor") - $(date +%s)))
[ "$d" -gt 42000 ] && [ "$d" -le 43300 ] || fail "time floor is $d s from now, expected about 12 h"
# a clock set back 30 days changes nothing: expiry is judged at the floor, and the floor stays
expect 0 "" ft -f -30d "$C" --metadata-url "$URL/metadata" --metadata-dir "$M" refresh
d2=$(($(cat "$M/time-floor") - $(date +%s)))
[ "$d2" -gt 42000 ] || fail "the time floor moved back"

# a tampered target: exit 1, nothing stored
printf 'firmware for HW\n' >"$R/targets/hw/$h.fw.bin"
rm -f "$T/t/hw%2Ffw.bin"
expect 1 "FWT_E_META_MISMATCH" "$C" --metadata-url "$URL/metadata" --metadata-dir "$M" --target-name hw/fw.bin \
    --target-base-url "$URL/targets" --target-dir "$T/t" download
[ ! -e "$T/t/hw%2Ffw.bin" ] && [ -z "$(ls "$T/t" | grep tmp || true)" ] || fail "a tampered target was stored"

# tampered metadata: exit 1 (--detailed-exit: the error number), the metadata dir unchanged, JSON error
before=$(tree_hash "$M")
sed -i 's/"version": 2/"version": 3/' "$R/metadata/timestamp.json"
expect 1 "FWT_E_META_SIG" "$C" --metadata-url "$URL/metadata" --metadata-dir "$M" refresh
expect 41 "" "$C" --detailed-exit --metadata-url "$URL/metadata" --metadata-dir "$M" refresh
expect 1 '"error": "FWT_E_META_SIG"' "$C" --json --metadata-url "$URL/metadata" --metadata-dir "$M" refresh
[ "$before" = "$(tree_hash "$M")" ] || fail "failed refresh changed the metadata dir"

# file:// URLs work the same
M2=$T/m2
expect 0 "" "$C" --metadata-dir "$M2" init "$R/metadata/1.root.json"
cp "$R/metadata/2.snapshot.json" "$T/snap"
sed -i 's/"version": 3/"version": 2/' "$R/metadata/timestamp.json"
expect 0 "" "$C" --time-floor-file "$T/floor" --metadata-url "file://$R/metadata" --metadata-dir "$M2" \
    --target-name a.bin --target-base-url "file://$R/targets" --target-dir "$T/t2" download
printf 'hello, device\n' | cmp - "$T/t2/a.bin" || fail "file:// download"
# with --time-floor-file the metadata dir holds the role files alone
[ "$(ls "$M2" | tr '\n' ' ')" = "root.json snapshot.json targets.json timestamp.json " ] || fail "metadata dir: $(ls "$M2")"
[ "$(cat "$T/floor")" -gt 1700000000 ] || fail "time floor file"
echo "cli: ok"
