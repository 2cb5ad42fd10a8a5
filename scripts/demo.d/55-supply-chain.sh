#!/bin/bash
# Chapter 6: the supply chain. The example firmware for Cortex-M is rebuilt under
# reprotest and is byte-identical; three builders sign SLSA provenance in DSSE envelopes,
# two agree and the third, a differing build, is refused by the repository's 2-builder
# policy; the release key gets a 4-hour certificate for this one build after two of three
# approvers agreed; the image binds its provenance and is published only because its
# signatures are in the signing log; the catalog shows it; a signed revocation list
# reaches a device, which refuses the revoked key's images at install and at boot.
# Environment from scripts/demo: FWT_BIN, DEMO_DIR, FW_DIR, TOP; `say`.
set -euo pipefail
mkdir -p "$DEMO_DIR/supply"
cd "$DEMO_DIR/supply"
export FWTRUST_SIGNLOG_PINS="$PWD/pins"
expect_rc() { # WANT MEANING CMD...
    local want=$1 meaning=$2 rc=0
    shift 2
    "$@" || rc=$?
    echo "exit status $rc ($want = $meaning)"
    [ "$rc" = "$want" ] || { echo "demo: expected exit status $want" >&2; exit 1; }
}
for k in builder-a builder-b builder-c root release approver-1 approver-2 approver-3 revoker logkey \
    targets snapshot timestamp rel-old; do
    fwtrust keygen --type ed25519 -o "$k.pem" >/dev/null
    fwtrust pubkey "$k.pem" -o "$k.pub"
done

say "The Cortex-M example build is reproducible (reprotest: two builds, varied environment)"
if command -v reprotest >/dev/null && command -v arm-none-eabi-gcc >/dev/null; then
    "$TOP/scripts/repro-check" | tail -3
else
    echo "(reprotest or arm-none-eabi-gcc not installed: skipped)"
fi

say "Three builders build the firmware and sign provenance; builder c's build differs"
FW="$FW_DIR/pybricks-primehub-v4.0.0b5.bin"
cp "$FW" fw.bin
cp "$FW" fw-c.bin
printf 'X' | dd of=fw-c.bin bs=1 seek=4096 conv=notrunc status=none
for b in a b c; do
    art=fw.bin
    [ $b = c ] && art=fw-c.bin
    fwtrust provenance make -k "builder-$b.pem" --builder-id "https://builder-$b.example" \
        --source-uri git+https://github.com/pybricks/pybricks-micropython --source-revision v4.0.0b5 \
        --name fw.bin -o "$b.env" "$art"
done
python3 - <<'PYEOF'
import json
json.dump({"version": 1, "source_uri": "git+https://github.com/pybricks/pybricks-micropython",
           "required_builders": 2,
           "builders": [{"id": "https://builder-%s.example" % b, "keys": [open("builder-%s.pub" % b).read()]}
                        for b in "abc"]}, open("policy.json", "w"))
PYEOF
fwtrust provenance verify --policy policy.json -e a.env -e b.env -e c.env fw.bin
expect_rc 28 "too few builders agree" fwtrust provenance verify --policy policy.json -e a.env -e c.env fw.bin

say "Two of three approvers approve a 4-hour certificate for the release key, for this build"
fwtrust log init --log sign.db --log-key logkey.pem >/dev/null
fwtrust cert approve --approver-key approver-1.pem --provenance a.env -k release.pub --valid-for 1h -o ap1.json
fwtrust cert approve --approver-key approver-2.pem --provenance a.env -k release.pub --valid-for 1h -o ap2.json
fwtrust cert issue --root root.pem -k release.pub --key-version 2 --hw-id lego-primehub --valid-for 4h \
    --provenance a.env --approver approver-1.pub --approver approver-2.pub --approver approver-3.pub \
    --approvals 2 --approval ap1.json --approval ap2.json --log sign.db --signer root-holder -o release.cert
fwtrust log audit --log sign.db # the two approvals, as signing-log entries

say "The release is signed (logged, provenance bound) and published through the gates"
fwtrust sign -k release.pem --cert release.cert --version 4.0.0+5 --header-size 0x200 --pad-header \
    --hw-id lego-primehub --security-counter 5 --provenance a.env --log sign.db --signer release-manager \
    fw.bin fw.signed.bin
fwtrust sign -k rel-old.pem --version 4.0.0+4 --header-size 0x200 --pad-header --hw-id lego-primehub \
    --security-counter 4 --no-log fw.bin old.signed.bin
fwtrust repo init repo --root-key root.pem --targets-key targets.pem --snapshot-key snapshot.pem \
    --timestamp-key timestamp.pem >/dev/null
cp policy.json repo/provenance-policy.json
expect_rc 28 "the differing build does not count" fwtrust repo add-target repo fw.signed.bin -k targets.pem \
    --provenance a.env --provenance c.env
fwtrust repo add-target repo fw.signed.bin -k targets.pem --provenance a.env --provenance b.env --provenance c.env
fwtrust repo publish repo --key snapshot.pem --key timestamp.pem --log sign.db
fwtrust catalog list --repo repo --log sign.db

say "A key is revoked by a signed list; the device refuses its image at install and at boot"
fwtrust-agent --device dev init --hw-id lego-primehub --slot-a slot-a.bin --slot-b slot-b.bin \
    --trust-key rel-old.pub --trust-root root.pub --revocation-key revoker.pub 2>/dev/null
fwtrust-agent --device dev install old.signed.bin
fwtrust-boot --device dev >/dev/null
fwtrust-agent --device dev confirm
fwtrust revocation make --key revoker.pem --version 1 --revoke-key rel-old.pub -o revocation.json
fwtrust-agent --device dev revocation revocation.json
expect_rc 34 "revoked" fwtrust-agent --device dev install old.signed.bin
expect_rc 34 "the running image's key is revoked: it does not boot" fwtrust-boot --device dev
fwtrust-agent --device dev install fw.signed.bin
fwtrust-boot --device dev
