#!/bin/bash
# The demo chapter scripts/demo.d/40-repository.sh runs to completion after chapter 10
# (which signs the firmware it publishes): repository with a 2-of-3 offline root,
# nginx, tuf-js download, root rotation followed by tuf-js.
. "$(dirname "$0")/lib.sh"
mkdir "$T/bin" "$T/demo"
chmod 755 "$T/demo"
ln -s "$FWTRUST" "$T/bin/fwtrust"
say() { printf '\n== %s\n' "$*"; }
export -f say
export PATH="$T/bin:$PATH" DEMO_DIR="$T/demo" FW_DIR="$SRC/examples/firmware" FWT_BIN="$T/bin" TOP="$SRC"
expect 0 "" bash "$SRC/scripts/demo.d/10-images.sh"
expect 0 "tuf-js got the same bytes" bash "$SRC/scripts/demo.d/40-repository.sh"
grep -qF '"root_version":2' "$T/.out" || fail "demo: tuf-js did not follow the root rotation"
grep -qF "exit status 41" "$T/.out" || fail "demo: unsigned root not refused"
[ ! -f "$T/demo/repo-server/nginx.pid" ] || fail "demo left nginx running"
echo "demo chapter 40: ok"
