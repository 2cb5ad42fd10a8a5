#!/bin/bash
# The repository's provenance policy (DIR/provenance-policy.json) at add-target, and the
# reproducible-build gate it makes: two independent builders whose provenance names the
# same payload digest are accepted; a third builder with a differing build does not count,
# so one honest builder plus the differing one is refused (28). The image must bind one of
# the envelopes (fwtrust sign --provenance, TLV 0x46a2). Accepted envelopes are published
# beside the image as NAME.intoto-N.json. Every refusal changes nothing.
. "$SRC/tests/cli/lib.sh"
cd "$T"
for k in a b c root targets snapshot timestamp; do
    expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$k.pem"
    expect 0 "" "$FWTRUST" pubkey "$k.pem" -o "$k.pub"
done
cp "$FW" fw.bin
cp "$FW" fw-c.bin
printf 'differs' | dd of=fw-c.bin bs=1 seek=100 conv=notrunc status=none # builder c's output differs
SRCURI=git+https://example.com/fw.git
REV=0123456789abcdef0123456789abcdef01234567
for b in a b c; do
    art=fw.bin
    [ $b = c ] && art=fw-c.bin
    expect 0 "" "$FWTRUST" provenance make -k "$b.pem" --builder-id "https://ci-$b.example/runner" \
        --source-uri "$SRCURI" --source-revision "$REV" --name fw.bin -o "$b.env" "$art"
done
"$PY" - <<'PYEOF'
import json
pem = lambda k: open(k + ".pub").read()
json.dump({"version": 1, "source_uri": "git+https://example.com/fw.git", "required_builders": 2,
           "builders": [{"id": "https://ci-%s.example/runner" % b, "keys": [pem(b)]} for b in "abc"]},
          open("policy.json", "w"))
PYEOF
expect 0 "" "$FWTRUST" repo init repo --root-key root.pem --targets-key targets.pem --snapshot-key snapshot.pem \
    --timestamp-key timestamp.pem
sign() { expect 0 "" "$FWTRUST" sign --no-log -k a.pem --version 1.0.0 --header-size 0x200 --pad-header "$@"; }
sign --provenance a.env fw.bin img.bin
sign fw.bin unbound.bin
expect 21 "no subject of the provenance" "$FWTRUST" sign --no-log -k a.pem --header-size 0x200 --pad-header \
    --provenance c.env fw.bin x.bin
[ ! -e x.bin ] || fail "sign wrote an image binding provenance of another build"

# Without a policy, envelopes have nothing to be checked against.
expect 1 "no provenance policy" "$FWTRUST" repo add-target repo img.bin -k targets.pem --provenance a.env
cp policy.json repo/provenance-policy.json
snap() { find repo -type f -newer repo/repo.json -o -type f -name '*.json' | sort | xargs sha256sum >"$1"; }
snap before
# Refusals: no envelope; one honest builder and the differing one; the same builder twice;
# an image that binds no envelope; a policy that does not parse.
expect 28 "requires provenance envelopes" "$FWTRUST" repo add-target repo img.bin -k targets.pem
expect 28 "1 independent builder(s) agree" "$FWTRUST" repo add-target repo img.bin -k targets.pem \
    --provenance a.env --provenance c.env
grep -q "envelope 2: subject" "$T/.err" || fail "the differing build is not named"
expect 28 "" "$FWTRUST" repo add-target repo img.bin -k targets.pem --provenance a.env --provenance a.env
expect 21 "binds no provenance" "$FWTRUST" repo add-target repo unbound.bin -k targets.pem \
    --provenance a.env --provenance b.env
cp repo/provenance-policy.json policy.saved
printf '{"version": 1' >repo/provenance-policy.json
expect 20 "provenance-policy.json: policy: not JSON" "$FWTRUST" repo add-target repo img.bin -k targets.pem \
    --provenance a.env --provenance b.env
cp policy.saved repo/provenance-policy.json
snap after
cmp -s before after || fail "a refused add-target changed the repository"
[ -z "$(ls repo/targets 2>/dev/null)" ] || fail "a refused add-target left target files"

# Two builders agree: accepted, envelopes published with the image.
expect 0 "" "$FWTRUST" repo add-target --json repo img.bin --name fw.bin -k targets.pem \
    --provenance a.env --provenance c.env --provenance b.env
"$PY" - "$T/.out" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
names = {t["name"]: t for t in d["targets"]}
# c's envelope (a differing build) is not published
assert set(names) == {"fw.bin", "fw.bin.intoto-1.json", "fw.bin.intoto-2.json"}, names
p = names["fw.bin"]["custom"]["provenance"]
assert p["builders"] == ["https://ci-a.example/runner", "https://ci-b.example/runner"], p
assert p["bound"] == "fw.bin.intoto-1.json" and p["required_builders"] == 2, p
assert p["envelopes"] == ["fw.bin.intoto-1.json", "fw.bin.intoto-2.json"], p
PYEOF
expect 0 "" "$FWTRUST" repo publish repo --key snapshot.pem --key timestamp.pem
ls repo/targets/*.fw.bin.intoto-1.json >/dev/null || fail "the bound envelope is not served"
echo "provenance repo: ok"
