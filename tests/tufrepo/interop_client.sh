#!/bin/bash
# Interoperability: our client (fwtrust-tuf-client, tuf-conformance CLI protocol) accepts
# a repository made by @tufjs/models (tests/interop/tufjs/make-repo.js: ed25519 and
# ECDSA keys, a delegated role, a root rotation) and one made by `fwtrust repo`, both
# served by nginx on 127.0.0.1; and refuses an expired timestamp from @tufjs/models.
# Environment: FWTRUST, TUF_CLIENT, SRC.
. "$(dirname "$0")/lib.sh"
: "${TUF_CLIENT:?TUF_CLIENT must name fwtrust-tuf-client}"
JS=$SRC/tests/interop/tufjs
"$SRC/scripts/install-node-deps" || fail "cannot install the tuf-js packages (npm registry reachable?)"
mkdir -p "$T/www"
expect 0 "" "$SRC/scripts/serve-repo" start --root "$T/www" --state "$T/nginx"
. "$T/nginx/env"

# client DIR ARGS...: our client with DIR/metadata and DIR/targets.
client() {
    local d=$1
    shift
    mkdir -p "$d/metadata" "$d/targets"
    "$TUF_CLIENT" --metadata-dir "$d/metadata" "$@"
}
# The one file the client stored in DIR/targets (any name is allowed by the protocol).
downloaded() {
    local n
    n=$(find "$1/targets" -type f | wc -l)
    [ "$n" = 1 ] || fail "expected one downloaded file in $1/targets, found $n"
    find "$1/targets" -type f
}
get() { # get DIR REPO NAME
    client "$1" --metadata-url "$HTTP_URL/$2/metadata" --target-name "$3" \
        --target-base-url "$HTTP_URL/$2/targets" --target-dir "$1/targets" download
}

# 1. @tufjs/models repository with a root rotation.
printf 'app from tufjs\n' >"$T/app.bin"
printf 'board a\n' >"$T/fw.bin"
expect 0 '"ok":true' node "$JS/make-repo.js" --out "$T/www/js" --target app.bin="$T/app.bin" \
    --delegated-target hw-a/fw.bin="$T/fw.bin" --rotate
expect 0 "" client "$T/c1" init "$T/www/js/metadata/1.root.json"
expect 0 "" client "$T/c1" --metadata-url "$HTTP_URL/js/metadata" refresh
[ "$(jget "$T/c1/metadata/root.json" 'd["signed"]["version"]')" = 2 ] || fail "our client did not follow the root rotation"
for f in timestamp.json snapshot.json targets.json; do [ -f "$T/c1/metadata/$f" ] || fail "client stored no $f"; done
cmp "$T/www/js/metadata/timestamp.json" "$T/c1/metadata/timestamp.json" || fail "stored timestamp differs from the bytes served"
expect 0 "" get "$T/c1" js app.bin
cmp "$T/app.bin" "$(downloaded "$T/c1")" || fail "app.bin bytes"
expect 0 "" client "$T/c2" init "$T/www/js/metadata/1.root.json"
expect 0 "" get "$T/c2" js hw-a/fw.bin
cmp "$T/fw.bin" "$(downloaded "$T/c2")" || fail "delegated target bytes"
grep -q "^GET /js/metadata/1.hw-a.json 200" "$T/nginx/access.log" || fail "delegated role not fetched by version"

# 2. Expired timestamp made by @tufjs/models: refused (exit 1), nothing stored.
expect 0 "" node "$JS/make-repo.js" --out "$T/www/old" --target app.bin="$T/app.bin" --expired timestamp
expect 0 "" client "$T/c3" init "$T/www/old/metadata/1.root.json"
expect 1 "" client "$T/c3" --metadata-url "$HTTP_URL/old/metadata" refresh
[ ! -e "$T/c3/metadata/timestamp.json" ] || fail "expired timestamp was stored"

# 3. A repository made by fwtrust repo, before and after a root rotation.
R=$T/www/ours
key root; key targets p256; key snapshot; key timestamp; key root2
expect 0 "" "$FWTRUST" repo init "$R" --root-key "$T/root.pem" --targets-key "$T/targets.pem" \
    --snapshot-key "$T/snapshot.pem" --timestamp-key "$T/timestamp.pem"
expect 0 "" "$FWTRUST" repo add-target "$R" "$T/app.bin" --key "$T/targets.pem"
expect 0 "" "$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
expect 0 "" client "$T/c4" init "$R/metadata/1.root.json"
expect 0 "" get "$T/c4" ours app.bin
cmp "$T/app.bin" "$(downloaded "$T/c4")" || fail "fwtrust repo target bytes"
expect 0 "" "$FWTRUST" repo rotate "$R" --role root --new-key "$T/root2.pem" --old-key "$T/root.pem"
expect 0 "published root version 2" "$FWTRUST" repo publish "$R" --force --key "$T/snapshot.pem" --key "$T/timestamp.pem"
expect 0 "" client "$T/c4" --metadata-url "$HTTP_URL/ours/metadata" refresh
[ "$(jget "$T/c4/metadata/root.json" 'd["signed"]["version"]')" = 2 ] || fail "root rotation (fwtrust repo)"
echo "interop_client: ok"
