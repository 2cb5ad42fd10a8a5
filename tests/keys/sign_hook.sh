#!/bin/bash
# The signing-log hook of fwtrust sign and cosign: without a log they warn (and
# --no-log silences it); FWTRUST_SIGNLOG or --log records every signature; a log
# that cannot be written means no output at all.
. "$SRC/tests/cli/lib.sh"
unset FWTRUST_SIGNLOG
DB="$T/sign.db"
for k in logkey a b; do expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/$k.pem"; done
sign() { "$FWTRUST" sign --key "$T/a.pem" --version 1.0.0 --header-size 0x200 --pad-header "$@"; }

expect 0 "warning: no signing log (--log DB or FWTRUST_SIGNLOG): this signature is not recorded" \
    sign "$FW" "$T/plain.bin"
expect 0 "warning: no signing log" "$FWTRUST" cosign --key "$T/b.pem" "$T/plain.bin"
expect 0 "" sign --no-log "$FW" "$T/quiet.bin"
grep -q warning "$T/.err" && fail "--no-log still warns"
FWTRUST_SIGNLOG= expect 0 "warning" sign "$FW" "$T/empty-env.bin"

# A log named but missing: nothing is signed.
expect 8 "no signing log here" sign --log "$T/missing.db" "$FW" "$T/x.bin"
FWTRUST_SIGNLOG="$T/missing.db" expect 8 "" "$FWTRUST" cosign --key "$T/b.pem" "$T/plain.bin" -o "$T/x.bin"
[ ! -e "$T/x.bin" ] || fail "x.bin written without its log"

expect 0 "" "$FWTRUST" log init --log "$DB" --log-key "$T/logkey.pem"
FWTRUST_SIGNLOG="$DB" expect 0 "" sign "$FW" "$T/env.bin"
grep -q warning "$T/.err" && fail "warned with FWTRUST_SIGNLOG set"
expect 0 "" sign --log "$DB" --signer "release bot" "$FW" "$T/opt.bin"
# --log wins over the environment.
FWTRUST_SIGNLOG="$T/missing.db" expect 0 "" "$FWTRUST" cosign --log "$DB" --key "$T/b.pem" "$T/opt.bin"
"$FWTRUST" sign --json --log "$DB" --key "$T/a.pem" --header-size 0x200 --pad-header "$FW" "$T/j.bin" >"$T/j.json"
[ "$(json_field "$T/j.json" 'd["logged"]')" = True ] || fail "sign json: $(cat "$T/j.json")"
expect 0 "4 entries" "$FWTRUST" log verify --log "$DB"
"$FWTRUST" log show --json --log "$DB" >"$T/s.json"
[ "$(json_field "$T/s.json" '[e["signer"] for e in d["entries"]][1]')" = "release bot" ] || fail "--signer"
# An identity that cannot be logged is refused before anything is written.
expect 1 "printable ASCII" sign --log "$DB" --signer 'a"b' "$FW" "$T/bad.bin"
[ ! -e "$T/bad.bin" ] || fail "bad.bin written"
expect 0 "4 entries" "$FWTRUST" log verify --log "$DB"

# Signing that fails for its own reasons logs nothing.
expect 8 "" sign --log "$DB" "$T/no-such-input.bin" "$T/y.bin"
expect 1 "already signed by this key" "$FWTRUST" cosign --log "$DB" --key "$T/a.pem" "$T/opt.bin"
expect 0 "4 entries" "$FWTRUST" log verify --log "$DB"
! ls -a "$T" | grep -q pending || fail "pending files left: $(ls -a "$T")"
# The image written is the one logged: its digest is in the newest entry.
"$FWTRUST" inspect --json "$T/j.bin" >"$T/ji.json"
[ "$(json_field "$T/ji.json" '[t["value"] for t in d["tlvs"] if t["name"] == "SHA256"][0]')" = \
  "$(json_field "$T/s.json" 'd["entries"][-1]["digest"]')" ] || fail "logged digest"
# Signers working at the same time: appends serialise, nothing is lost.
pids=()
for i in 1 2 3 4 5 6; do
    "$FWTRUST" sign --log "$DB" --key "$T/a.pem" --version 2.0.$i --header-size 0x200 --pad-header \
        "$FW" "$T/par$i.bin" 2>"$T/par$i.err" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent signing failed: $(cat "$T"/par*.err)"; done
expect 0 "10 entries, 11 signed tree heads" "$FWTRUST" log verify --log "$DB"
echo "keys sign_hook: ok"
