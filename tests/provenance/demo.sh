#!/bin/bash
# The demo chapter scripts/demo.d/55-supply-chain.sh runs to completion with the built tools.
. "$SRC/tests/cli/lib.sh"
export TOP="$SRC" FWT_BIN
FWT_BIN=$(dirname "$FWTRUST")
export DEMO_DIR="$T/demo" FW_DIR="$SRC/examples/firmware" PATH="$FWT_BIN:$PATH"
mkdir -p "$DEMO_DIR"
say() { printf '\n== %s\n' "$*"; }
export -f say
bash "$SRC/scripts/demo.d/55-supply-chain.sh" >"$T/demo.log" 2>&1 || { cat "$T/demo.log"; fail "the supply-chain demo chapter failed"; }
grep -q "2 independent builder(s) agree" "$T/demo.log" || fail "demo: the builders' agreement is not shown"
echo "supply-chain demo: ok"
