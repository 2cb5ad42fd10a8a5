#!/bin/bash
# Every image command has --help (exit 0, usage on stdout) and refuses unknown options (exit 1).
. "$(dirname "$0")/lib.sh"
for c in keygen pubkey sign verify inspect; do
    expect 0 "usage: fwtrust $c" "$FWTRUST" "$c" --help
    grep -q "Exit status" "$T/.out" || fail "$c --help does not document exit codes"
    expect 1 "Try 'fwtrust $c --help'" "$FWTRUST" "$c" --no-such-option
done
for c in keygen pubkey sign verify; do
    "$FWTRUST" "$c" --help | grep -q -- "--pkcs11-module" || fail "$c lacks --pkcs11-module"
    "$FWTRUST" "$c" --help | grep -q -- "--pin-file" || fail "$c lacks --pin-file"
done
echo "help: ok"
