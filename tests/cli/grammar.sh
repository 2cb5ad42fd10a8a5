#!/bin/bash
# One command-line grammar across the tools built on the option tables (src/tools/cli_opts.c):
# --version from the one project version, --help on stdout with exit 0, a mistyped option or
# command gets "did you mean", and every usage error is one line naming the program (and
# subcommand) with a hint, exit 1.
. "$(dirname "$0")/lib.sh"
: "${VERSION:?VERSION must be the project version}"
for p in "$FWTRUST" "$BOOT" "$TUF_CLIENT" "$AGENT"; do
    n=$(basename "$p")
    expect 0 "$n $VERSION" "$p" --version
    expect 0 "usage: $n" "$p" --help
done

# fwtrust-boot
expect 1 "fwtrust-boot: unknown option '--devcie'; did you mean '--device'?" "$BOOT" --devcie x
grep -qF "Try 'fwtrust-boot --help'." "$T/.err" || fail "no hint"
[ "$(wc -l <"$T/.err")" = 2 ] || fail "more than the error line and the hint"
expect 1 "fwtrust-boot: unexpected operand 'extra'" "$BOOT" extra --device "$T"
expect 1 "option '--device' needs an argument (DIR)" "$BOOT" --device

# fwtrust-tuf-client: options before or after the command, each command its own --help
C=$TUF_CLIENT
expect 0 "usage: fwtrust-tuf-client init [OPTIONS] TRUSTED_ROOT" "$C" init --help
grep -qF -- "--force" "$T/.out" || fail "init --help lacks --force"
expect 0 "usage: fwtrust-tuf-client download [OPTIONS]" "$C" download --help
grep -qF -- "--target-name" "$T/.out" || fail "download --help lacks --target-name"
grep -qF -- "--force" "$T/.out" && fail "download --help lists init's --force"
expect 1 "fwtrust-tuf-client: unknown command 'refesh'; did you mean 'refresh'?" "$C" --metadata-dir "$T" refesh
expect 1 "fwtrust-tuf-client init: unknown option '--forse'; did you mean '--force'?" "$C" init --forse x
expect 1 "fwtrust-tuf-client refresh: option '--force' is not an option of this command (only of: init)" \
    "$C" --metadata-dir "$T" refresh --force
expect 1 "fwtrust-tuf-client init: missing operand: usage: fwtrust-tuf-client init TRUSTED_ROOT" \
    "$C" --metadata-dir "$T" init --detailed-exit
# --ca-file is the old spelling of --ca: a hidden alias
"$C" --help | grep -qF -- "--ca FILE" || fail "--help lacks --ca"
"$C" --help | grep -qF -- "--ca-file" && fail "--help lists the hidden alias --ca-file"
# fwtrust: a mistyped command or option
expect 1 "fwtrust: unknown command 'kegen'; did you mean 'keygen'?" "$FWTRUST" kegen
expect 1 "fwtrust keygen: unknown option '--jsn'; did you mean '--json'?" "$FWTRUST" keygen --jsn
# fwtrust --json COMMAND: the command's own --json (before a "--" that ends its options)
IMG=$(ls "$VEC"/*.signed.bin | head -n 1)
"$FWTRUST" inspect --json "$IMG" >"$T/after.json" 2>"$T/.err" || fail "inspect --json: $(cat "$T/.err")"
"$FWTRUST" --json inspect "$IMG" >"$T/before.json" 2>"$T/.err" || fail "--json inspect: $(cat "$T/.err")"
cmp -s "$T/before.json" "$T/after.json" || fail "fwtrust --json inspect differs from inspect --json"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/before.json" || fail "not JSON"
expect 1 "fwtrust pubkey: unknown option '--json'" "$FWTRUST" --json pubkey "$T/nothing.pem"
expect 1 "fwtrust: --json: a command must follow" "$FWTRUST" --json
expect 1 "fwtrust: --json: a command must follow" "$FWTRUST" --json --json inspect
expect 1 "fwtrust: unknown command 'inspct'; did you mean 'inspect'?" "$FWTRUST" --json inspct
echo "grammar: ok"
