#!/bin/bash
# `fwtrust delta` (zstd patch / compressed image in the fwtrust container) and the custom
# metadata `fwtrust repo add-target` makes from it. No server.
. "$(dirname "$0")/lib.sh"
setup_images
B4=$T/b4.bin B5=$T/b5.bin P=$T/b5.from-b4.zpatch Z=$T/b5.bin.zst
sha() { sha256sum "$1" | cut -d' ' -f1; }

# The default patch is the smallest kind: for these Thumb-2 releases the bsdiff2 one (issue 17:
# at most 0.85 of bsdiff's own patch). Every kind decodes to exactly b5 with b4 (--apply: the
# device's decoder); the prefix kind with the zstd CLI too (--patch-from: the header is a
# skippable frame).
expect 0 "bsdiff2 patch (bsdiff2) of" fwt delta --from "$B4" --to "$B5" -o "$T/p2" --verify-key "$T/rel.pub"
cmp "$T/p2" "$P" || fail "delta output is not deterministic"
bsdiff "$B4" "$B5" "$T/ref.bsdiff"
[ "$(stat -c %s "$P")" -le $(( $(stat -c %s "$T/ref.bsdiff") * 85 / 100 )) ] || fail "our patch is above 0.85 of bsdiff's"
expect 0 "bsdiff2 patch (bsdiff2) of" fwt delta --from "$B4" --to "$B5" -o "$T/pb2" --method bsdiff2
cmp "$T/pb2" "$P" || fail "--method bsdiff2 differs from auto"
expect 0 "bsdiff patch (zstd-bsdiff) of" fwt delta --from "$B4" --to "$B5" -o "$T/pb" --method bsdiff
[ "$(stat -c %s "$P")" -lt "$(stat -c %s "$T/pb")" ] || fail "bsdiff2 is not smaller than zstd-bsdiff"
expect 0 "zstd patch (zstd-patch) of" fwt delta --from "$B4" --to "$B5" -o "$T/pp" --method prefix
cmp "$T/pp" "$T/b5.prefix.zpatch" || fail "--method prefix is not deterministic"
for p in "$P" "$T/pp" "$T/pb"; do
    expect 0 "297449 bytes decoded" fwt delta --apply "$p" --from "$B4" -o "$T/out.bin"
    cmp "$T/out.bin" "$B5" || fail "--apply $p did not rebuild b5"
done
zstd -q -d --patch-from="$B4" "$T/pp" -o "$T/zcli.bin" || fail "zstd CLI cannot apply the prefix patch"
cmp "$T/zcli.bin" "$B5" || fail "zstd CLI rebuilt something else"
zstd -q -d "$Z" -o "$T/zcli2.bin" && cmp "$T/zcli2.bin" "$B5" || fail "zstd CLI cannot decode the compressed image"
[ "$(stat -c %s "$P")" -lt $(( $(stat -c %s "$Z") / 4 )) ] || fail "the patch is not much smaller than the compressed image"
expect 1 "--method" fwt delta --from "$B4" --to "$B5" -o "$T/x" --method xdelta

# The header: what it says about both images.
expect 0 "" fwt delta --info "$P" --json
cp "$T/.out" "$T/info.json"
[ "$(jget "$T/info.json" 'd["header"]["encoding"]')" = bsdiff2 ] || fail "encoding"
[ "$(jget "$T/info.json" 'd["header"]["transform"]')" = thumb2-map ] || fail "transform"
[ "$(jget "$T/info.json" 'd["header"]["image"]["sha256"]')" = "$(sha "$B5")" ] || fail "image sha256"
[ "$(jget "$T/info.json" 'd["header"]["image"]["length"]')" = "$(stat -c %s "$B5")" ] || fail "image length"
[ "$(jget "$T/info.json" 'd["header"]["base"]["sha256"]')" = "$(sha "$B4")" ] || fail "base sha256"
[ "$(jget "$T/info.json" 'd["header"]["base"]["version"]')" = 4.0.0+4 ] || fail "base version"
[ "$(jget "$T/info.json" 'd["header"]["image"]["hw_id"]')" = lego-primehub ] || fail "hw id"
expect 0 "bsdiff2" fwt delta --info "$P"
expect 0 "zstd-patch" fwt delta --info "$T/pp"
expect 0 "" fwt delta --info "$Z" --json
[ "$(jget "$T/.out" '"base" in d["header"]')" = False ] || fail "a compressed image has no base"

# A base image padded after its TLVs (a slot dump) is the same base: only the image bytes count.
cp "$B4" "$T/b4-padded.bin" && head -c 4096 /dev/zero | tr '\0' '\377' >>"$T/b4-padded.bin"
expect 0 "" fwt delta --from "$T/b4-padded.bin" --to "$B5" -o "$T/p3"
cmp "$T/p3" "$P" || fail "padding after the base image changed the patch"
expect 0 "" fwt delta --apply "$P" --from "$T/b4-padded.bin" -o "$T/out3.bin"
cmp "$T/out3.bin" "$B5" || fail "padded base"
expect 0 "" fwt delta --apply "$T/pp" --from "$T/b4-padded.bin" -o "$T/out3.bin"
cmp "$T/out3.bin" "$B5" || fail "padded base"

# Refusals (exit codes from docs/exit-codes.md); a failed command leaves OUT as it was.
echo keep >"$T/keep"
expect 21 "is not the base" fwt delta --apply "$P" --from "$B5" -o "$T/keep"
expect 1 "give its base with --from" fwt delta --apply "$P" -o "$T/keep"
# The decoding-window cap (--max-window): the default patch needs more than 256 KiB (its LZMA2
# dictionary covers the base), so a decoder capped there refuses it (exit 33, OUT untouched);
# one made under the cap needs at most that and decodes under it.
expect 33 "window" fwt delta --apply "$P" --from "$B4" -o "$T/keep" --max-window 262144
[ "$(cat "$T/keep")" = keep ] || fail "a refused --apply changed OUT"
expect 0 "bsdiff2 patch (bsdiff2) of" fwt delta --from "$B4" --to "$B5" -o "$T/pcap" --max-window 262144
expect 0 "297449 bytes decoded" fwt delta --apply "$T/pcap" --from "$B4" -o "$T/out.bin" --max-window 262144
cmp "$T/out.bin" "$B5" || fail "the capped patch did not rebuild b5"
expect 33 "window" fwt delta --from "$B4" --to "$B5" -o "$T/keep" --method prefix --max-window 262144
expect 1 "is not a patch" fwt delta --apply "$Z" --from "$B4" -o "$T/keep"
expect 20 "not a valid fwtrust image" fwt delta --from "$FW/pybricks-primehub-v4.0.0b4.bin" --to "$B5" -o "$T/keep"
expect 20 "not a valid fwtrust image" fwt delta --to "$FW/pybricks-primehub-v4.0.0b5.bin" -o "$T/keep"
expect 8 "" fwt delta --to "$T/missing.bin" -o "$T/keep"
expect 20 "not an encoded image" fwt delta --info "$B5"
fwt keygen --type ed25519 -o "$T/other.pem" >/dev/null
expect 24 "" fwt delta --from "$B4" --to "$B5" -o "$T/keep" --verify-key "$T/other.pem"
[ "$(cat "$T/keep")" = keep ] || fail "a failed delta changed its output file"
expect 1 "--level" fwt delta --to "$B5" -o "$T/keep" --level 23
expect 1 "--to NEW and -o OUT" fwt delta --from "$B4" -o "$T/keep"
expect 1 "" fwt delta --to "$B5" -o "$T/keep" stray
expect 0 "usage: fwtrust delta" fwt delta --help
[ "$(cat "$T/keep")" = keep ] || fail "a failed delta changed its output file"

# add-target: custom.fwtrust from the header (encoding, base, decoded image length and sha256),
# the same facts as for the full image.
setup_repo
fwt repo add-target "$T/repo" "$B5" "$P" "$Z" "$T/b5.prefix.zpatch" --prefix fw/ --key "$T/targets.pem" --json >"$T/add.json"
"$PY" - "$T/add.json" "$(sha "$B4")" "$(sha "$B5")" <<'PYEOF' || fail "add-target custom metadata"
import json, sys
t = {x["name"]: x for x in json.load(open(sys.argv[1]))["targets"]}
full, patch, z, pp = (t["fw/" + n]["custom"]["fwtrust"] for n in ("b5.bin", "b5.from-b4.zpatch", "b5.bin.zst", "b5.prefix.zpatch"))
assert "encoding" not in full, full
for k in ("version", "security_counter", "hw_id", "hw_id_hex", "image_digest"):
    assert patch[k] == full[k] == z[k] == pp[k], k
assert patch["encoding"] == "bsdiff2" and z["encoding"] == "zstd" and pp["encoding"] == "zstd-patch"
assert pp["base"] == patch["base"]
assert patch["image_sha256"] == z["image_sha256"] == sys.argv[3]
assert patch["image_length"] == t["fw/b5.bin"]["length"]
assert patch["base"]["sha256"] == sys.argv[2] and patch["base"]["version"] == "4.0.0+4"
assert "base" not in z
PYEOF
expect 1 "is an encoded image" fwt repo add-target "$T/repo" "$P" --name fw/x --key "$T/targets.pem" --verify-key "$T/rel.pub"
# A broken header is refused (20), an unknown container format version too (27).
"$PY" - "$P" "$T/broken.zpatch" "$T/future.zpatch" <<'PYEOF'
import struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack_from("<I", b, 4)[0]
hdr = b[16:8 + n]
open(sys.argv[2], "wb").write(b[:16] + hdr.replace(b'"length"', b'"lenXth"', 1) + b[8 + n:])
open(sys.argv[3], "wb").write(b[:16] + hdr.replace(b'"fwtrust_encoded":1', b'"fwtrust_encoded":2', 1) + b[8 + n:])
PYEOF
expect 20 "length" fwt repo add-target "$T/repo" "$T/broken.zpatch" --name fw/y --key "$T/targets.pem"
expect 27 "format 2" fwt repo add-target "$T/repo" "$T/future.zpatch" --name fw/y --key "$T/targets.pem"
echo "delta: ok"
