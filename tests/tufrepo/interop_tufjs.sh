#!/bin/bash
# Interoperability: a repository made by `fwtrust repo`, served by nginx over HTTP
# and HTTPS on 127.0.0.1, is accepted by the tuf-js client (pinned in
# tests/interop/tufjs), which downloads targets (top-level and delegated), also
# after a root rotation; tampered targets and metadata are refused by tuf-js.
# Needs node + npm (scripts/install-node-deps installs tuf-js; fails loudly without).
. "$(dirname "$0")/lib.sh"
JS=$SRC/tests/interop/tufjs
"$SRC/scripts/install-node-deps" || fail "cannot install the tuf-js packages (npm registry reachable?)"
R=$T/repo
key root; key targets p256; key snapshot rsa; key timestamp; key hw p256; key root2 p256
# (P-384: tuf-js 4.1.0 verifies every ECDSA signature with SHA-256, so ecdsa-sha2-nistp384
# metadata, signed with SHA-384 as the scheme says, does not verify there; see docs/repository.md.)
expect 0 "" "$FWTRUST" repo init "$R" --root-key "$T/root.pem" --targets-key "$T/targets.pem" \
    --snapshot-key "$T/snapshot.pem" --timestamp-key "$T/timestamp.pem"
head -c 70000 /dev/urandom >"$T/app.bin"
printf 'config\n' >"$T/cfg.txt"
expect 0 "" "$FWTRUST" repo add-target "$R" "$T/app.bin" --name app.bin --key "$T/targets.pem" --custom '{"channel":"stable"}'
expect 0 "" "$FWTRUST" repo delegate "$R" --name board-a --key "$T/hw.pem" --paths 'board-a/*' --terminating --sign-key "$T/targets.pem"
expect 0 "" "$FWTRUST" repo add-target "$R" "$T/cfg.txt" --role board-a --name board-a/cfg.txt --key "$T/hw.pem"
expect 0 "" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"

expect 0 "" "$SRC/scripts/serve-repo" start --root "$R" --state "$T/nginx"
. "$T/nginx/env"
tufjs() { node "$JS/client.js" --root "$R/metadata/1.root.json" "$@"; }

# HTTP: top-level target with custom data.
expect 0 '"root_version":1' tufjs --metadata-url "$HTTP_URL/metadata" --targets-url "$HTTP_URL/targets" \
    --dir "$T/c1" --target app.bin --out "$T/got-app.bin"
cmp "$T/app.bin" "$T/got-app.bin" || fail "tuf-js downloaded other bytes"
grep -qF '"custom":{"channel":"stable"}' "$T/.out" || fail "custom not seen by tuf-js"
# HTTPS with the test CA: delegated target.
NODE_EXTRA_CA_CERTS=$CA expect 0 '"name":"board-a/cfg.txt"' tufjs --metadata-url "$HTTPS_URL/metadata" \
    --targets-url "$HTTPS_URL/targets" --dir "$T/c2" --target board-a/cfg.txt --out "$T/got-cfg.txt"
cmp "$T/cfg.txt" "$T/got-cfg.txt" || fail "delegated target bytes"
# The client asked for consistent-snapshot names (version- and hash-prefixed).
grep -q "^GET /metadata/1.snapshot.json 200" "$T/nginx/access.log" || fail "versioned snapshot not fetched"
grep -q "^GET /metadata/1.board-a.json 200" "$T/nginx/access.log" || fail "versioned delegated role not fetched"
sha=$(sha256sum <"$T/app.bin" | cut -d' ' -f1)
grep -q "^GET /targets/$sha.app.bin 200" "$T/nginx/access.log" || fail "hash-prefixed target not fetched"

# Root rotation: version 2 signed by the old and the new key; a client trusting
# version 1 (cached in c1) follows the chain and downloads a new target.
expect 0 "" "$FWTRUST" repo rotate "$R" --role root --new-key "$T/root2.pem" --old-key "$T/root.pem"
printf 'v2\n' >"$T/app2.bin"
expect 0 "" "$FWTRUST" repo add-target "$R" "$T/app2.bin" --name app2.bin --key "$T/targets.pem"
expect 0 "published root version 2" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
expect 0 '"root_version":2' tufjs --metadata-url "$HTTP_URL/metadata" --targets-url "$HTTP_URL/targets" \
    --dir "$T/c1" --target app2.bin --out "$T/got-app2.bin"
cmp "$T/app2.bin" "$T/got-app2.bin" || fail "target after rotation"
grep -q '"targets_version":2' "$T/.out" || fail "targets version 2 seen"
# A fresh client that trusts only 1.root.json gets there too (over HTTPS).
NODE_EXTRA_CA_CERTS=$CA expect 0 '"root_version":2' tufjs --metadata-url "$HTTPS_URL/metadata" \
    --targets-url "$HTTPS_URL/targets" --dir "$T/c3" --target app.bin --out "$T/got3.bin"

# tuf-js really verifies what we publish: a tampered target file is refused...
cp "$R/targets/$sha.app.bin" "$T/saved.bin"
printf '\x00' | dd of="$R/targets/$sha.app.bin" bs=1 seek=100 conv=notrunc status=none
cmp -s "$T/saved.bin" "$R/targets/$sha.app.bin" && printf '\x01' | dd of="$R/targets/$sha.app.bin" bs=1 seek=100 conv=notrunc status=none
expect 1 "update failed" tufjs --metadata-url "$HTTP_URL/metadata" --targets-url "$HTTP_URL/targets" \
    --dir "$T/c4" --target app.bin --out "$T/bad.bin"
[ ! -e "$T/bad.bin" ] || fail "tuf-js kept a tampered target"
cp "$T/saved.bin" "$R/targets/$sha.app.bin"
# ... and so is a timestamp whose signature no longer matches its content.
cp "$R/metadata/timestamp.json" "$T/ts.json"
sed -i 's/"version": 2,/"version": 7,/' "$R/metadata/timestamp.json"
grep -q '"version": 7' "$R/metadata/timestamp.json" || fail "test setup: timestamp edit"
expect 1 "update failed" tufjs --metadata-url "$HTTP_URL/metadata" --targets-url "$HTTP_URL/targets" --dir "$T/c5"
cp "$T/ts.json" "$R/metadata/timestamp.json"
expect 0 "" tufjs --metadata-url "$HTTP_URL/metadata" --targets-url "$HTTP_URL/targets" --dir "$T/c5"
echo "interop_tufjs: ok"
