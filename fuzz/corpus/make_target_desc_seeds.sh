#!/bin/bash
# Seeds for fuzz_tuf_target_desc: the custom.fwtrust objects `fwtrust repo add-target` writes
# for a plain image (with --verify-key: verified_signers), a compressed image and both
# kinds of patch. Usage: FWTRUST=build/src/tools/fwtrust fuzz/corpus/make_target_desc_seeds.sh
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
FWT=${FWTRUST:-$SRC/build/src/tools/fwtrust}
OUT=$SRC/fuzz/corpus/fuzz_tuf_target_desc
FW=$SRC/examples/firmware
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$OUT"
"$FWT" keygen --type ed25519 -o "$T/rel.pem" >/dev/null
"$FWT" pubkey "$T/rel.pem" -o "$T/rel.pub"
for b in 4 5; do
    "$FWT" sign --no-log --key "$T/rel.pem" --version "4.0.0+$b" --header-size 0x200 --pad-header \
        --hw-id lego-primehub --security-counter auto "$FW/pybricks-primehub-v4.0.0b$b.bin" "$T/b$b.bin" >/dev/null
done
"$FWT" delta --from "$T/b4.bin" --to "$T/b5.bin" -o "$T/bsdiff.zpatch" --method bsdiff >/dev/null
"$FWT" delta --from "$T/b4.bin" --to "$T/b5.bin" -o "$T/prefix.zpatch" --method prefix >/dev/null
"$FWT" delta --to "$T/b5.bin" -o "$T/b5.zst" >/dev/null
for k in root targets snapshot timestamp; do "$FWT" keygen --type ed25519 -o "$T/$k.pem" >/dev/null; done
"$FWT" repo init "$T/repo" --root-key "$T/root.pem" --targets-key "$T/targets.pem" \
    --snapshot-key "$T/snapshot.pem" --timestamp-key "$T/timestamp.pem" >/dev/null
"$FWT" repo add-target "$T/repo" "$T/b5.bin" --name signed.bin --verify-key "$T/rel.pub" \
    --key "$T/targets.pem" >/dev/null
"$FWT" repo add-target "$T/repo" "$T/b4.bin" "$T/bsdiff.zpatch" "$T/prefix.zpatch" "$T/b5.zst" \
    --key "$T/targets.pem" >/dev/null
python3 - "$T/repo" "$OUT" <<'PY'
import glob, json, os, sys
repo, out = sys.argv[1:]
path = max(glob.glob(os.path.join(repo, "**", "*targets.json"), recursive=True), key=os.path.getmtime)
targets = json.load(open(path))["signed"]["targets"]
for name, t in sorted(targets.items()):
    f = t["custom"]["fwtrust"]
    with open(os.path.join(out, name.replace("/", "_") + ".json"), "w") as fh:
        json.dump(f, fh, sort_keys=True, separators=(",", ":"))
PY
ls "$OUT"
