#!/bin/bash
# A device with [update] decode_window: the decoding window each encoded target needs is in its
# signed metadata (custom.fwtrust.decode_window, from `fwtrust repo add-target`), and the agent
# never downloads a target declaring more than its cap: it takes a smaller patch that fits, or
# the full image. A target that declares nothing (an older repository) is downloaded, refused by
# the decoder, and the full image fetched instead of failing the update. The server's access log
# shows what was fetched.
. "$(dirname "$0")/lib.sh"
CAP=262144
fwt keygen --type ed25519 -o "$T/rel.pem" >/dev/null
fwt pubkey "$T/rel.pem" -o "$T/rel.pub"
sign b4.bin 4.0.0+4
sign b5.bin 4.0.0+5
# big: lzma2-dict with its full dictionary (needs about 1.3 MiB); small: made under the cap;
# b5.bin.zst: the zstd window of a 290 KiB image (512 KiB).
fwt delta --from "$T/b4.bin" --to "$T/b5.bin" -o "$T/big.patch" --method lzma2-dict --json >"$T/big.json"
fwt delta --from "$T/b4.bin" --to "$T/b5.bin" -o "$T/small.patch" --method lzma2-dict --max-window $CAP --json >"$T/small.json"
fwt delta --to "$T/b5.bin" -o "$T/b5.bin.zst" --json >"$T/zst.json"
WBIG=$(jget "$T/big.json" 'd["decode_window"]')
WSMALL=$(jget "$T/small.json" 'd["decode_window"]')
WZST=$(jget "$T/zst.json" 'd["decode_window"]')
[ "$WBIG" -gt $CAP ] && [ "$WZST" -gt $CAP ] && [ "$WSMALL" -le $CAP ] ||
    fail "windows: big $WBIG, zst $WZST, small $WSMALL against the cap $CAP"
[ "$(stat -c %s "$T/big.patch")" -lt "$(stat -c %s "$T/small.patch")" ] || fail "big.patch should be the smaller file"

setup_repo
publish "$T/b4.bin"
start_server
mkdev dev
update_boot_confirm dev
printf '\n[update]\ndecode_window = %s\n' $CAP >>"$T/dev/device.ini"
grep -q '^\[update\]' "$T/dev/device.ini" || fail "no [update] section"
agent dev --json status >/dev/null || fail "device.ini with decode_window not accepted"

# The window each file needs is in the signed metadata, as `fwtrust delta` reported it.
fwt repo add-target "$T/repo" "$T/b5.bin" "$T/big.patch" "$T/small.patch" "$T/b5.bin.zst" --prefix primehub/ \
    --key "$T/targets.pem" --json >"$T/add.json" || fail "add-target"
fwt repo publish "$T/repo" --key "$T/snapshot.pem" --key "$T/timestamp.pem" >/dev/null || fail "publish"
"$PY" - "$(ls "$T"/repo/metadata/*.targets.json | sort -V | tail -1)" "$WBIG" "$WSMALL" "$WZST" <<'PYEOF' || fail "decode_window in targets.json"
import json, sys
t = json.load(open(sys.argv[1]))["signed"]["targets"]
w = lambda n: t["primehub/" + n]["custom"]["fwtrust"].get("decode_window")
assert w("big.patch") == int(sys.argv[2]), w("big.patch")
assert w("small.patch") == int(sys.argv[3]), w("small.patch")
assert w("b5.bin.zst") == int(sys.argv[4]), w("b5.bin.zst")
assert w("b5.bin") is None  # a full image needs no decoding window
PYEOF

LOG=$(find "$T/srv" -name access.log | head -1)
[ -n "$LOG" ] || fail "no access log"
fetched() { tail -n +"$((MARK + 1))" "$LOG" | grep -c "GET .*\.$1 200" || true; }

# All four published: the smallest file is big.patch, but its window is above the cap (so is
# the zstd image's): small.patch is taken, and neither of the others is downloaded.
MARK=$(wc -l <"$LOG")
expect 0 "" agent dev --json update
cp "$T/.out" "$T/u1.json"
[ "$(jget "$T/u1.json" 'd["target"]')" = primehub/small.patch ] || fail "expected small.patch: $(cat "$T/u1.json")"
[ "$(fetched big.patch)" = 0 ] && [ "$(fetched b5.bin.zst)" = 0 ] || fail "a target above the cap was downloaded"
[ "$(fetched small.patch)" = 1 ] || fail "small.patch not fetched once"
slot_holds dev b "$T/b5.bin"
agent dev rollback >/dev/null

# Without small.patch: the full image, still nothing above the cap downloaded.
fwt repo remove-target "$T/repo" primehub/small.patch --key "$T/targets.pem" >/dev/null
fwt repo publish "$T/repo" --key "$T/snapshot.pem" --key "$T/timestamp.pem" >/dev/null
MARK=$(wc -l <"$LOG")
expect 0 "" agent dev --json update
cp "$T/.out" "$T/u2.json"
[ "$(jget "$T/u2.json" 'd["encoding"]')" = none ] || fail "expected the full image: $(cat "$T/u2.json")"
[ "$(jget "$T/u2.json" 'd["window_fallback"]')" = False ] || fail "no decoder refusal expected"
grep -q "decode_window" "$T/u2.json" || fail "the note does not name decode_window"
[ "$(fetched big.patch)" = 0 ] && [ "$(fetched b5.bin.zst)" = 0 ] || fail "a target above the cap was downloaded"
[ "$(fetched b5.bin)" = 1 ] || fail "the full image was not fetched"
slot_holds dev b "$T/b5.bin"
agent dev rollback >/dev/null
# A named patch above the cap: the same image in a form that fits.
expect 0 "" agent dev --json update --target primehub/big.patch --check
[ "$(jget "$T/.out" 'd["target"]')" = primehub/b5.bin ] || fail "--target big.patch: no fallback"

# An older repository: the patch's metadata declares no window. It is downloaded, the decoder
# refuses it, and the full image is fetched instead; the audit log says so.
fwt repo remove-target "$T/repo" primehub/big.patch --key "$T/targets.pem" >/dev/null
fwt repo remove-target "$T/repo" primehub/b5.bin.zst --key "$T/targets.pem" >/dev/null
"$PY" - "$T/add.json" >"$T/old.custom" <<'PYEOF'
import json, sys
t = {x["name"]: x for x in json.load(open(sys.argv[1]))["targets"]}
c = t["primehub/big.patch"]["custom"]
del c["fwtrust"]["decode_window"]
print(json.dumps(c))
PYEOF
fwt repo add-target "$T/repo" "$T/big.patch" --name primehub/old.patch --no-image --custom "$(cat "$T/old.custom")" \
    --key "$T/targets.pem" >/dev/null || fail "add old.patch"
fwt repo publish "$T/repo" --key "$T/snapshot.pem" --key "$T/timestamp.pem" >/dev/null
MARK=$(wc -l <"$LOG")
expect 0 "" agent dev --json update
cp "$T/.out" "$T/u3.json"
[ "$(jget "$T/u3.json" 'd["encoding"]')" = none ] || fail "old.patch: expected the full image: $(cat "$T/u3.json")"
[ "$(jget "$T/u3.json" 'd["window_fallback"]')" = True ] || fail "old.patch: fallback not reported"
grep -q "old.patch refused by the decoder" "$T/u3.json" || fail "old.patch: no reason given"
[ "$(fetched old.patch)" = 1 ] && [ "$(fetched b5.bin)" = 1 ] || fail "old.patch: expected the patch, then the full image"
slot_holds dev b "$T/b5.bin"
agent dev log show >"$T/log.txt" || fail "log show"
grep -q "old.patch refused by the decoder.*fetching primehub/b5.bin (none) instead" "$T/log.txt" || fail "no audit entry"
boot dev >"$T/boot.json" || fail "boot"
[ "$(jget "$T/boot.json" 'd["version"]')" = 4.0.0+5 ] || fail "did not boot b5"
agent dev confirm >/dev/null || fail "confirm"
echo "window: ok"
