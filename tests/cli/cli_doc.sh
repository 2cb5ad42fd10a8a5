#!/bin/bash
# docs/cli.md's option references are generated from the tools' option tables
# (PROG --help-markdown, scripts/gen-cli-doc): this fails when they differ.
. "$(dirname "$0")/lib.sh"
"$PY" "$SRC/scripts/gen-cli-doc" --check "$SRC/docs/cli.md" "$BOOT" "$TUF_CLIENT" "$AGENT" "$FWTRUST log" "$FWTRUST repo" "$FWTRUST keygen" "$FWTRUST pubkey" "$FWTRUST verify" "$FWTRUST inspect" "$FWTRUST cosign" "$FWTRUST sign" "$FWTRUST cert" "$FWTRUST delta" "$FWTRUST attest" ${SERVER:+"$SERVER"} || fail "docs/cli.md is stale"
# the check does see a difference
cp "$SRC/docs/cli.md" "$T/cli.md"
sed -i 's/the device directory (required)/the device directory/' "$T/cli.md"
"$PY" "$SRC/scripts/gen-cli-doc" --check "$T/cli.md" "$BOOT" 2>/dev/null && fail "a changed section went unnoticed"
echo "cli_doc: ok"
