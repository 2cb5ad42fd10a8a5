#!/bin/bash
# Chapter 5: a device updates itself from a TUF repository served by nginx over HTTPS with a
# pinned server key and a client certificate: it installs 4.0.0b4, boots and confirms; gets
# 4.0.0b5 as a small patch against what it runs; refuses a tampered target, replayed
# metadata and an image signed by an unknown key; and an update that is never confirmed
# rolls back by itself. Environment from scripts/demo: FWT_BIN, DEMO_DIR, FW_DIR, TOP; `say`.
set -euo pipefail
cd "$DEMO_DIR"
D=$DEMO_DIR/device
SRV=$DEMO_DIR/device-repo-server
stop_server() { "$TOP/scripts/serve-repo" stop --state "$SRV" >/dev/null 2>&1 || true; }
trap stop_server EXIT
# Print some fields of a JSON document on stdin: field NAME...
fields() { python3 -c 'import json,sys; d=json.load(sys.stdin); print("  " + ", ".join("%s: %s" % (k, d.get(k)) for k in sys.argv[1:]))' "$@"; }
# Run a command that must fail with exit status WANT; show its error line.
refused() {
    local want=$1 rc=0
    shift
    "$@" >/dev/null 2>device-err.txt || rc=$?
    sed 's/^/  /' device-err.txt
    echo "  exit status $rc"
    [ "$rc" = "$want" ] || { echo "demo: expected exit status $want" >&2; exit 1; }
}
sign_fw() { # sign_fw KEY VERSION PAYLOAD OUT
    fwtrust sign --no-log --key "$1" --version "$2" --header-size 0x200 --pad-header \
        --security-counter auto --hw-id lego-primehub "$3" "$4" 2>/dev/null >/dev/null
}

say "Both Pybricks releases, signed with the release key"
if [ ! -f release-key.pem ]; then # chapter 1 makes it; make it here when run alone
    fwtrust keygen --type ed25519 -o release-key.pem >/dev/null
    fwtrust pubkey release-key.pem -o release-key.pub.pem
fi
sign_fw release-key.pem 4.0.0+4 "$FW_DIR/pybricks-primehub-v4.0.0b4.bin" fw-4.0.0b4.bin
sign_fw release-key.pem 4.0.0+5 "$FW_DIR/pybricks-primehub-v4.0.0b5.bin" fw-4.0.0b5.bin
ls -l fw-4.0.0b4.bin fw-4.0.0b5.bin

say "Encode 4.0.0b5 for the network: a patch against 4.0.0b4 (the smallest of the zstd, bsdiff and Thumb-2-aware bsdiff2 kinds), and compressed"
fwtrust delta --from fw-4.0.0b4.bin --to fw-4.0.0b5.bin -o fw-4.0.0b5.from-4.0.0b4.zpatch \
    --verify-key release-key.pub.pem
fwtrust delta --to fw-4.0.0b5.bin -o fw-4.0.0b5.bin.zst --verify-key release-key.pub.pem

say "A TUF repository with 4.0.0b4 (one key per role; see chapter 4 for offline roots)"
mkdir -p device-repo-keys
for k in root targets snapshot timestamp; do
    fwtrust keygen --type ed25519 -o "device-repo-keys/$k.pem" >/dev/null
done
K=device-repo-keys
fwtrust repo init device-repo --root-key $K/root.pem --targets-key $K/targets.pem \
    --snapshot-key $K/snapshot.pem --timestamp-key $K/timestamp.pem >/dev/null
publish() {
    fwtrust repo add-target device-repo "$@" --prefix lego-primehub/ --key $K/targets.pem >/dev/null
    fwtrust repo publish device-repo --key $K/snapshot.pem --key $K/timestamp.pem >/dev/null
}
publish fw-4.0.0b4.bin --verify-key release-key.pub.pem
find device-repo/targets -type f | sort

say "Serve it with nginx over HTTPS on 127.0.0.1, requiring a client certificate"
"$TOP/scripts/serve-repo" start --root "$DEMO_DIR/device-repo" --state "$SRV" --mtls >/dev/null
. "$SRV/env"
PIN="sha256//$(openssl x509 -in "$SRV/server.pem" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)"
echo "  $HTTPS_URL (server key pinned: $PIN)"

say "A device with two file-backed slots; it trusts the release key and the repository's root and looks under lego-primehub/ only"
rm -rf "$D" device-slots && mkdir device-slots && : >device-slots/a.bin && : >device-slots/b.bin
fwtrust-agent --device "$D" init --hw-id lego-primehub --slot-a device-slots/a.bin \
    --slot-b device-slots/b.bin --trust-key release-key.pub.pem \
    --tuf-root device-repo/metadata/1.root.json --repo "$HTTPS_URL" --ca "$CA" \
    --client-cert "$CLIENT_CERT" --client-key "$CLIENT_KEY" --pinned-pubkey "$PIN" \
    --targets 'lego-primehub/*'

say "update: the device installs 4.0.0b4 into slot a, boots it and confirms"
fwtrust-agent --device "$D" update
fwtrust-boot --device "$D" | fields slot version trial
fwtrust-agent --device "$D" confirm

say "Publish 4.0.0b5: the full image, the compressed image and the patch"
publish fw-4.0.0b5.bin --verify-key release-key.pub.pem
publish fw-4.0.0b5.from-4.0.0b4.zpatch fw-4.0.0b5.bin.zst
ls -l device-repo/targets/lego-primehub/ | awk 'NR > 1 { print "  " $5, $9 }'

say "update: the device fetches only the patch (its base is exactly what it runs) and rebuilds 4.0.0b5"
fwtrust-agent --device "$D" --json update | tee device-update.json | fields target encoding downloaded image_length version slot
cmp -n "$(stat -c %s fw-4.0.0b5.bin)" device-slots/b.bin fw-4.0.0b5.bin && echo "  slot b holds exactly the signed 4.0.0b5"
fwtrust-boot --device "$D" | fields slot version trial
fwtrust-agent --device "$D" confirm
grep -c 'GET /targets/' "$SRV/access.log" | sed 's/^/  target downloads so far: /'

say "Attack: a mirror serves a tampered 4.0.0+6 (one byte changed): TUF's hash check refuses it (44)"
sign_fw release-key.pem 4.0.0+6 "$FW_DIR/pybricks-primehub-v4.0.0b5.bin" fw-4.0.0b6.bin
publish fw-4.0.0b6.bin
served=$(ls device-repo/targets/lego-primehub/*.fw-4.0.0b6.bin)
cp "$served" fw-4.0.0b6.saved
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[8192]^=1; open(p,"wb").write(b)' "$served"
refused 44 fwtrust-agent --device "$D" update
cp fw-4.0.0b6.saved "$served"
fwtrust-agent --device "$D" --json status | fields running confirmed trial

say "Attack: the repository lists 4.0.0+7 signed by a key the device does not trust (24)"
fwtrust keygen --type ed25519 -o attacker-key.pem >/dev/null
sign_fw attacker-key.pem 4.0.0+7 "$FW_DIR/pybricks-primehub-v4.0.0b5.bin" fw-4.0.0b7-attacker.bin
publish fw-4.0.0b7-attacker.bin
cp device-repo/metadata/timestamp.json timestamp-with-attacker.json
refused 24 fwtrust-agent --device "$D" update
fwtrust-agent --device "$D" --json status | fields running confirmed trial

say "Attack: the publisher removes it; a mirror replays the old metadata that still lists it (43)"
fwtrust repo remove-target device-repo lego-primehub/fw-4.0.0b7-attacker.bin --key $K/targets.pem >/dev/null
fwtrust repo publish device-repo --key $K/snapshot.pem --key $K/timestamp.pem >/dev/null
fwtrust-agent --device "$D" update --check
cp device-repo/metadata/timestamp.json timestamp-current.json
cp timestamp-with-attacker.json device-repo/metadata/timestamp.json
refused 43 fwtrust-agent --device "$D" update
cp timestamp-current.json device-repo/metadata/timestamp.json

say "An update that never confirms: 4.0.0+6 boots on trial 3 times, then the bootloader goes back"
fwtrust-agent --device "$D" update
for i in 1 2 3 4; do
    fwtrust-boot --device "$D" >device-boot.json
    fields version trial tries_left rolled_back <device-boot.json | sed "s/^ /  boot $i:/"
done
v=$(python3 -c 'import json; d=json.load(open("device-boot.json")); print(d["version"] if d["rolled_back"] else "")')
[ "$v" = 4.0.0+5 ] || { echo "demo: expected a rollback to 4.0.0+5" >&2; exit 1; }
echo "  rolled back to $v by itself"

say "The device's audit log is intact"
fwtrust-agent --device "$D" log verify
fwtrust-agent --device "$D" status
