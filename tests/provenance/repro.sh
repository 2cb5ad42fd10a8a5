#!/bin/bash
# The reproducible-build gate and the k-builders policy on a real build: scripts/repro-check
# rebuilds the Cortex-M example under reprotest's varied environments and finds it
# byte-identical; a build that embeds its path and time is reported as differing, with
# diffoscope's explanation (exit 1). Then three builders build the example in their own
# checkouts: two with scripts/build-reproducible agree on the digest of every artifact, the
# third (another optimisation level: a differing build) does not, and the 2-builder policy
# accepts the first two and refuses the third with either of them alone.
# Skips (77) when reprotest, diffoscope, faketime or arm-none-eabi-gcc is missing.
. "$SRC/tests/cli/lib.sh"
for p in reprotest diffoscope faketime arm-none-eabi-gcc; do
    command -v "$p" >/dev/null 2>&1 || { echo "SKIP: $p not installed"; exit 77; }
done
expect 0 "repro-check: reproducible" "$SRC/scripts/repro-check"
grep -q "boot_stub" "$T/.out" || fail "the Cortex-M artifacts were not compared"

# A build that is not reproducible: caught, and diffoscope says where.
mkdir "$T/bad"
printf 'pwd >out.txt\ndate +%%s%%N >>out.txt\n' >"$T/bad/build.sh"
expect 1 "NOT reproducible" "$SRC/scripts/repro-check" --source "$T/bad" --build "sh build.sh" --artifacts out.txt \
    --store "$T/store"
grep -q "out.txt" "$T/.out" || fail "no diffoscope report naming out.txt"
ls "$T/store"/*.diffoscope.out >/dev/null || fail "the diffoscope report is not kept"

# Three builders, each in its own checkout (another path).
checkout() { mkdir -p "$1"; (cd "$SRC" && git ls-files -z | xargs -0 tar -cf - --no-recursion) | tar -xf - -C "$1"; }
export SOURCE_DATE_EPOCH=1700000000
for b in a b c; do
    checkout "$T/ws-$b"
    expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/$b.pem"
    expect 0 "" "$FWTRUST" pubkey "$T/$b.pem" -o "$T/$b.pub"
done
sed -i 's/ -Os / -O2 /' "$T/ws-c/scripts/build-cortex-m" # builder c's toolchain setting differs
for b in a b c; do
    (cd "$T/ws-$b" && sh scripts/build-reproducible >/dev/null) || fail "builder $b: build failed"
    arts=$(cd "$T/ws-$b" && ls build-cortex-m/*.elf build-cortex-m/*.a)
    (cd "$T/ws-$b" && "$FWTRUST" provenance make -k "$T/$b.pem" --builder-id "https://builder-$b.example" \
        --source-uri git+https://example.com/fwtrust.git --source-revision "$(git -C "$SRC" rev-parse HEAD)" \
        -o "$T/$b.env" $arts) >/dev/null || fail "builder $b: provenance"
done
cmp -s "$T/ws-a/build-cortex-m/boot_stub.elf" "$T/ws-b/build-cortex-m/boot_stub.elf" ||
    fail "two reproducible builds in different checkouts differ"
! cmp -s "$T/ws-a/build-cortex-m/boot_stub.elf" "$T/ws-c/build-cortex-m/boot_stub.elf" ||
    fail "builder c's differing build is not different"
"$PY" - "$T" <<'PYEOF'
import json, sys
t = sys.argv[1]
json.dump({"version": 1, "source_uri": "git+https://example.com/fwtrust.git", "required_builders": 2,
           "builders": [{"id": "https://builder-%s.example" % b, "keys": [open("%s/%s.pub" % (t, b)).read()]}
                        for b in "abc"]}, open(t + "/policy.json", "w"))
PYEOF
ELF="$T/ws-a/build-cortex-m/boot_stub.elf"
expect 0 "2 independent builder(s) agree" "$FWTRUST" provenance verify --policy "$T/policy.json" \
    -e "$T/a.env" -e "$T/b.env" -e "$T/c.env" "$ELF"
grep -q "c.env: refused (FWT_E_DIGEST)" "$T/.out" || fail "builder c is not refused"
expect 28 "1 independent builder(s) agree" "$FWTRUST" provenance verify --policy "$T/policy.json" \
    -e "$T/a.env" -e "$T/c.env" "$ELF"
echo "reproducible builds: ok"
