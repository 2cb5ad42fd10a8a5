#!/bin/bash
# Every image and key-custody command has --help (exit 0, usage on stdout) and refuses unknown options (exit 1).
. "$(dirname "$0")/lib.sh"
for c in keygen pubkey sign verify inspect cosign cert log "cert issue" "log audit"; do
    # shellcheck disable=SC2086 # "cert issue": command and subcommand
    expect 0 "usage: fwtrust ${c%% *}" "$FWTRUST" $c --help
    grep -q "Exit status" "$T/.out" || fail "$c --help does not document exit codes"
    # shellcheck disable=SC2086
    expect 1 "Try 'fwtrust ${c%% *} --help'" "$FWTRUST" $c --no-such-option
done
for c in keygen pubkey sign verify; do
    "$FWTRUST" "$c" --help | grep -q -- "--pkcs11-module" || fail "$c lacks --pkcs11-module"
    "$FWTRUST" "$c" --help | grep -q -- "--pin-file" || fail "$c lacks --pin-file"
done
echo "help: ok"
