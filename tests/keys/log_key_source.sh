#!/bin/bash
# Nothing read from a signing log chooses code or secrets (pitfall 18): a log whose
# stored key URI names module-path= (a library that marks its own loading) or
# pin-source= (a FIFO that marks being opened) is refused by sign, cosign and log
# append, and neither is ever loaded or read; the log key comes from --log-key or
# the local pin, its PIN from --log-pin-file only.
. "$SRC/tests/cli/lib.sh"
: "${MARKER_MODULE:?MARKER_MODULE must name the marker module}"
export FWT_MARKER_FILE="$T/module-loaded"
DB="$T/log.db"
sqlset() { "$PY" -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("UPDATE meta SET value = CAST(? AS BLOB) WHERE name = ?", (sys.argv[3], sys.argv[2])); c.commit()' "$DB" "$1" "$2"; }
not_loaded() { [ ! -e "$FWT_MARKER_FILE" ] || fail "the module named in the log was loaded ($*)"; }

expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/logkey.pem"
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/a.pem"
expect 0 "" "$FWTRUST" log init --log "$DB" --log-key "$T/logkey.pem"
expect 0 "" "$FWTRUST" sign --log "$DB" --key "$T/a.pem" --header-size 0x200 --pad-header "$FW" "$T/one.bin"
# Sanity: the marker module does mark its loading when it is named by the operator.
FWT_MARKER_FILE="$T/self-check" "$FWTRUST" sign --no-log --key "pkcs11:token=t;object=k" \
    --pkcs11-module "$MARKER_MODULE" --header-size 0x200 --pad-header "$FW" "$T/x.bin" 2>/dev/null || true
[ -e "$T/self-check" ] || fail "the marker module does not mark its loading"

# On another machine (no pin): no log key is exit 7; --log-key signs and pins it, after
# which another key is refused, and checks there trust the pinned key.
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/other.pem"
B=(env FWTRUST_SIGNLOG_PINS="$T/pins-b")
expect 7 "no log key: give --log-key KEY" "${B[@]}" "$FWTRUST" sign --log "$DB" --key "$T/a.pem" \
    --header-size 0x200 --pad-header "$FW" "$T/b0.bin"
expect 31 "fwtrust log pin" "${B[@]}" "$FWTRUST" log verify --log "$DB"
expect 0 "" "${B[@]}" "$FWTRUST" sign --log "$DB" --log-key "$T/logkey.pem" --key "$T/a.pem" \
    --header-size 0x200 --pad-header "$FW" "$T/b1.bin"
expect 0 "2 entries" "${B[@]}" "$FWTRUST" log verify --log "$DB"
expect 0 "" "${B[@]}" "$FWTRUST" cosign --log "$DB" --key "$T/other.pem" "$T/b1.bin"
expect 7 "not the one pinned for this log" "${B[@]}" "$FWTRUST" sign --log "$DB" --log-key "$T/other.pem" \
    --key "$T/a.pem" --header-size 0x200 --pad-header "$FW" "$T/b2.bin"
[ ! -e "$T/b2.bin" ] || fail "signed with another log key than the pinned one"
# No place for pins at all: --log-key still signs (with a warning); checks fail closed.
NOPIN=(env -u FWTRUST_SIGNLOG_PINS -u HOME -u XDG_CONFIG_HOME)
expect 0 "could not be pinned" "${NOPIN[@]}" "$FWTRUST" sign --log "$DB" --log-key "$T/logkey.pem" \
    --key "$T/a.pem" --header-size 0x200 --pad-header "$FW" "$T/b3.bin"
expect 31 "" "${NOPIN[@]}" "$FWTRUST" log verify --log "$DB"
expect 0 "4 entries" "$FWTRUST" log verify --log "$DB"

# The stored key spec edited to name the module: every append refuses the log.
for q in "module-path=$MARKER_MODULE" "module-path=$(dirname "$MARKER_MODULE")&module-name=$(basename "$MARKER_MODULE")"; do
    sqlset key_spec "pkcs11:token=custody;object=log?$q"
    expect 11 "names code or a secret" "$FWTRUST" sign --log "$DB" --key "$T/a.pem" --header-size 0x200 \
        --pad-header "$FW" "$T/two.bin"
    not_loaded sign
    [ ! -e "$T/two.bin" ] || fail "signed into a refused log"
    expect 11 "names code or a secret" "$FWTRUST" sign --log "$DB" --log-key "$T/logkey.pem" --key "$T/a.pem" \
        --header-size 0x200 --pad-header "$FW" "$T/two.bin"
    expect 11 "names code or a secret" "$FWTRUST" cosign --log "$DB" --key "$T/logkey.pem" "$T/one.bin" -o "$T/co.bin"
    expect 11 "names code or a secret" "$FWTRUST" log append --log "$DB" --key "$T/a.pem" "$T/one.bin"
    not_loaded cosign/append
    # Reading the log loads nothing either.
    expect 0 "4 entries" "$FWTRUST" log verify --log "$DB"
    not_loaded verify
done

# log init never records such a URI (it would be stored in the log).
expect 1 "module-path=" "$FWTRUST" log init --log "$T/new.db" --log-key "pkcs11:token=t;object=k?module-path=$MARKER_MODULE"
not_loaded init
[ ! -e "$T/new.db" ] || fail "log created with a module in its key URI"

# pin-source= in the stored URI is never read: with a SoftHSM2 token log key.
. "$SRC/tests/keys/softhsm.sh"
URI="pkcs11:token=custody;object=log"
DB="$T/token.db"
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$URI" --pin-file "$T/pin"
expect 0 "" "$FWTRUST" log init --log "$DB" --log-key "$URI" --pin-file "$T/pin"
expect 0 "" "$FWTRUST" sign --log "$DB" --key "$T/a.pem" --log-pin-file "$T/pin" --header-size 0x200 \
    --pad-header "$FW" "$T/t1.bin"
mkfifo "$T/pin-fifo"
( printf '1111\n' >"$T/pin-fifo" && touch "$T/pin-read" ) &
SERVER_PIDS="$SERVER_PIDS $!"
sqlset key_spec "$URI?pin-source=$T/pin-fifo"
expect 11 "names code or a secret" "$FWTRUST" sign --log "$DB" --key "$T/a.pem" --header-size 0x200 \
    --pad-header "$FW" "$T/t2.bin"
expect 11 "names code or a secret" "$FWTRUST" log append --log "$DB" --key "$T/a.pem" "$T/t1.bin"
sleep 0.2
[ ! -e "$T/pin-read" ] || fail "the PIN file named in the log was read"
# With the stored spec clean again, the pinned key signs (its PIN from --log-pin-file only).
sqlset key_spec "$URI"
expect 0 "" "$FWTRUST" sign --log "$DB" --key "$T/a.pem" --log-pin-file "$T/pin" --header-size 0x200 \
    --pad-header "$FW" "$T/t2.bin"
[ ! -e "$T/pin-read" ] || fail "the PIN file named in the log was read"
expect 0 "2 entries" "$FWTRUST" log verify --log "$DB"
echo "keys log_key_source: ok"
