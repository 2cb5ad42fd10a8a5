#!/bin/bash
# A signer killed (SIGKILL, at FWT_SIGNLOG_FAULT_AT points in src/keys/signlog.c) while
# appending to the signing log: the next read-only 'log verify' rolls the hot journal
# back and reads the last committed log, and the signed images it never logged
# (.OUT.pending-PID.EXT, and its temporary files) are removed by the next sign or
# cosign to OUT; a live signer's pending file is left alone.
. "$SRC/tests/cli/lib.sh"
DB="$T/log.db"
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/logkey.pem"
for k in a b; do expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/$k.pem"; done
expect 0 "" "$FWTRUST" log init --log "$DB" --log-key "$T/logkey.pem"
sign() { # VERSION OUT [env...]
    local v=$1 out=$2
    shift 2
    expect "$RC" "" env "$@" "$FWTRUST" sign --log "$DB" --key "$T/a.pem" --version "$v" \
        --header-size 0x200 --pad-header "$FW" "$out"
}
pending() { ls -a "$T" | grep -c "^\.$1\.pending-" || true; }
RC=0 sign 1.0.0 "$T/v1.bin"

# 1. Killed inside COMMIT (journal synced, database written, journal not yet deleted).
RC=137 sign 2.0.0 "$T/v2.bin" FWT_SIGNLOG_FAULT_AT=commit
[ -s "$DB-journal" ] || fail "no journal left by the killed commit (the fault point moved?)"
[ "$(pending v2.bin)" = 1 ] || fail "the killed signer left no pending image (the fault point moved?)"
[ ! -e "$T/v2.bin" ] || fail "an unlogged image appeared as OUT"
# A read-only check rolls the interrupted append back and reads the committed log.
expect 0 "signing log intact: 1 entries, 2 signed tree heads" "$FWTRUST" log verify --log "$DB"
[ ! -e "$DB-journal" ] || fail "the hot journal is still there"
expect 0 "" "$FWTRUST" log show --log "$DB"
# The next signing to OUT removes the signed, unlogged image.
RC=0 sign 2.0.0 "$T/v2.bin"
grep -q "removed 1 file an interrupted signer left next to $T/v2.bin" "$T/.err" || fail "no note about the removal"
[ "$(pending v2.bin)" = 0 ] || fail "the unlogged signed image is still there"
expect 0 "2 entries" "$FWTRUST" log verify --log "$DB"

# 2. Killed before COMMIT, and killed after it (logged, not yet renamed into place).
RC=137 sign 3.0.0 "$T/v3.bin" FWT_SIGNLOG_FAULT_AT=append
expect 0 "2 entries" "$FWTRUST" log verify --log "$DB"
RC=137 sign 4.0.0 "$T/v4.bin" FWT_SIGNLOG_FAULT_AT=logged
expect 0 "3 entries" "$FWTRUST" log verify --log "$DB"
[ "$(pending v3.bin)" = 1 ] && [ "$(pending v4.bin)" = 1 ] || fail "expected one pending image each"
expect 0 "" "$FWTRUST" cosign --log "$DB" --key "$T/b.pem" "$T/v1.bin" -o "$T/v3.bin"
[ "$(pending v3.bin)" = 0 ] || fail "cosign left the unlogged image"
# --no-log signing cleans up too; so do temporary files of a dead signer's pending image.
dead=$(bash -c 'echo $$')
: >"$T/.v4.bin.pending-$dead.bin.tmp.AbC123"
expect 0 "removed 2 files" "$FWTRUST" sign --no-log --key "$T/a.pem" --header-size 0x200 --pad-header "$FW" "$T/v4.bin"
[ "$(pending v4.bin)" = 0 ] || fail "pending files of dead signers left"

# 3. A running signer's pending file (its PID alive) and look-alike names stay.
sleep 300 &
live=$!
SERVER_PIDS="$SERVER_PIDS $live"
: >"$T/.v5.bin.pending-$live.bin"
: >"$T/.v5.bin.pending-$dead.hex"
: >"$T/.v5.bin.pending-x$dead.bin"
RC=0 sign 5.0.0 "$T/v5.bin"
[ -e "$T/.v5.bin.pending-$live.bin" ] || fail "a live signer's pending file was removed"
[ -e "$T/.v5.bin.pending-$dead.hex" ] && [ -e "$T/.v5.bin.pending-x$dead.bin" ] || fail "a file of another name was removed"
kill "$live"
expect 0 "5 entries" "$FWTRUST" log verify --log "$DB"
echo "keys log_crash: ok"
