#!/bin/bash
# Every image and key-custody command has --help (exit 0, usage on stdout) and refuses unknown options (exit 1).
. "$(dirname "$0")/lib.sh"
for c in keygen pubkey sign verify inspect cosign cert log "cert issue" "log audit"; do
    # shellcheck disable=SC2086 # "cert issue": command and subcommand
    expect 0 "usage: fwtrust ${c%% *}" "$FWTRUST" $c --help
    grep -q "Exit status" "$T/.out" || fail "$c --help does not document exit codes"
    # commands on the option tables (cli_opts.c) name the subcommand in the hint
    case $c in log* | cert*) hint=$c ;; *) hint=${c%% *} ;; esac
    # shellcheck disable=SC2086
    expect 1 "Try 'fwtrust $hint --help'" "$FWTRUST" $c --no-such-option
done
for c in keygen pubkey sign verify; do
    "$FWTRUST" "$c" --help | grep -q -- "--pkcs11-module" || fail "$c lacks --pkcs11-module"
    "$FWTRUST" "$c" --help | grep -q -- "--pin-file" || fail "$c lacks --pin-file"
done
# each log subcommand has its own help, with only its options
expect 0 "usage: fwtrust log audit [OPTIONS]" "$FWTRUST" log audit --help
grep -qF -- "--expect-key" "$T/.out" || fail "log audit --help lacks --expect-key"
grep -qF -- "--sth" "$T/.out" && fail "log audit --help lists check-proof's --sth"
expect 1 "fwtrust log show: option '--window' is not an option of this command (only of: audit)" \
    "$FWTRUST" log show --window 01:00-02:00
echo "help: ok"
