#!/bin/bash
# Chapter 4: publish the signed firmware in a TUF repository, serve it with nginx,
# let TUF clients (tuf-js, and fwtrust-tuf-client when built) download it, with a
# 2-of-3 offline root; then rotate a root key and watch the clients follow.
# Environment from scripts/demo: FWT_BIN, DEMO_DIR, FW_DIR, TOP; `say`.
set -euo pipefail
cd "$DEMO_DIR"
IMG=primehub-v4.0.0b5.signed.bin
if [ ! -f "$IMG" ]; then # chapter 1 makes it; make it here when run alone
    fwtrust keygen --type ed25519 -o release-key.pem
    fwtrust pubkey release-key.pem -o release-key.pub.pem
    fwtrust sign --key release-key.pem --version 4.0.0+5 --header-size 0x200 --pad-header \
        --security-counter auto --hw-id lego-primehub "$FW_DIR/pybricks-primehub-v4.0.0b5.bin" "$IMG"
fi
SRV=$DEMO_DIR/repo-server
stop_server() { "$TOP/scripts/serve-repo" stop --state "$SRV" >/dev/null 2>&1 || true; }
trap stop_server EXIT

say "Repository keys: three offline root keys (2 of 3 must sign), one key each for targets, snapshot, timestamp"
mkdir -p repo-keys
for k in root1 root2 root3 root4 targets snapshot timestamp; do
    fwtrust keygen --type ed25519 -o "repo-keys/$k.pem"
    fwtrust pubkey "repo-keys/$k.pem" -o "repo-keys/$k.pub.pem"
done

say "Create the repository; the online machine knows only the public root keys"
fwtrust repo init repo --root-key repo-keys/root1.pub.pem --root-key repo-keys/root2.pub.pem \
    --root-key repo-keys/root3.pub.pem --root-threshold 2 --targets-key repo-keys/targets.pem \
    --snapshot-key repo-keys/snapshot.pem --timestamp-key repo-keys/timestamp.pem

say "Add the firmware: the image is verified with the release key and described in custom data"
fwtrust repo add-target repo "$IMG" --name lego-primehub/firmware.bin --key repo-keys/targets.pem \
    --verify-key release-key.pub.pem --json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["target"], indent=1))'

say "Publishing fails: the root is not signed yet (exit 41 = FWT_E_META_SIG)"
rc=0
fwtrust repo publish repo --key repo-keys/snapshot.pem --key repo-keys/timestamp.pem || rc=$?
echo "exit status $rc"
[ "$rc" = 41 ] || { echo "demo: expected 41" >&2; exit 1; }

say "Two root key holders sign on their own (offline) machines"
fwtrust repo sign repo root --key repo-keys/root1.pem
fwtrust repo sign repo root --key repo-keys/root3.pem
fwtrust repo status repo
fwtrust repo publish repo --key repo-keys/snapshot.pem --key repo-keys/timestamp.pem
find repo/metadata repo/targets -type f | sort

say "Serve it with nginx on 127.0.0.1 (HTTP and HTTPS, generated CA)"
"$TOP/scripts/serve-repo" start --root "$DEMO_DIR/repo" --state "$SRV"
. "$SRV/env"

say "tuf-js (the JavaScript reference client) downloads the firmware over HTTPS"
"$TOP/scripts/install-node-deps"
NODE_EXTRA_CA_CERTS=$CA node "$TOP/tests/interop/tufjs/client.js" --root repo/metadata/1.root.json \
    --metadata-url "$HTTPS_URL/metadata" --targets-url "$HTTPS_URL/targets" --dir tufjs-client \
    --target lego-primehub/firmware.bin --out tufjs-firmware.bin
cmp "$IMG" tufjs-firmware.bin && echo "tuf-js got the same bytes"
if command -v fwtrust-tuf-client >/dev/null 2>&1; then
    say "fwtrust-tuf-client downloads it too"
    mkdir -p our-client/metadata our-client/targets
    fwtrust-tuf-client --metadata-dir our-client/metadata init repo/metadata/1.root.json
    fwtrust-tuf-client --metadata-dir our-client/metadata --metadata-url "$HTTP_URL/metadata" \
        --target-name lego-primehub/firmware.bin --target-base-url "$HTTP_URL/targets" \
        --target-dir our-client/targets download
fi

say "Rotate a root key (root2 out, root4 in): the new root is signed by 2 old and 2 new keys"
fwtrust repo rotate repo --role root --new-key repo-keys/root4.pem --old-key repo-keys/root2.pub.pem
fwtrust repo sign repo root --key repo-keys/root1.pem
fwtrust repo sign repo root --key repo-keys/root3.pem
fwtrust repo publish repo --key repo-keys/snapshot.pem --key repo-keys/timestamp.pem

say "tuf-js, still trusting root version 1, follows the chain to version 2"
NODE_EXTRA_CA_CERTS=$CA node "$TOP/tests/interop/tufjs/client.js" --root repo/metadata/1.root.json \
    --metadata-url "$HTTPS_URL/metadata" --targets-url "$HTTPS_URL/targets" --dir tufjs-client
grep -c . "$SRV/access.log" | sed 's/^/requests served: /'
