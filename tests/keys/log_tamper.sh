#!/bin/bash
# A signing log that was tampered with: an edited entry, a truncated log (with
# and without its newest tree head), an entry added behind the log's back, a
# forged tree head. fwtrust log verify names the cause (exit 11, or 22 for a
# bad signature), and signing refuses to extend such a log (the image is not
# written, the log not changed).
. "$SRC/tests/cli/lib.sh"
DB="$T/sign.db"
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/logkey.pem"
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/a.pem"
expect 0 "" "$FWTRUST" log init --log "$DB" --log-key "$T/logkey.pem"
for v in 1 2 3 4; do
    expect 0 "" "$FWTRUST" sign --log "$DB" --key "$T/a.pem" --version $v.0.0 --header-size 0x200 \
        --pad-header "$FW" "$T/v$v.bin"
done
expect 0 "" "$FWTRUST" log head --log "$DB" -o "$T/kept.json"
expect 0 "4 entries" "$FWTRUST" log verify --log "$DB"
cp "$DB" "$T/pristine.db"
sql() { "$PY" -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()' "$DB" "$1"; }
restore() { cp "$T/pristine.db" "$DB"; }
sign_refused() { # RC TEXT: signing into the tampered log fails, writes nothing, changes nothing
    local before
    before=$(sha256sum "$DB")
    expect "$1" "$2" "$FWTRUST" sign --log "$DB" --key "$T/a.pem" --version 9.0.0 --header-size 0x200 \
        --pad-header "$FW" "$T/new.bin"
    [ ! -e "$T/new.bin" ] || fail "image written although the log refused it"
    ! ls "$T"/.new.bin.pending* >/dev/null 2>&1 || fail "pending file left behind"
    [ "$(sha256sum "$DB")" = "$before" ] || fail "a refused append changed the log"
}

# 1. An edited entry: the signer's name changed (version 2 "signed by someone else").
sql "UPDATE entries SET entry = CAST(replace(CAST(entry AS TEXT), '\"version\":\"2.0.0+0\"', '\"version\":\"2.0.1+0\"') AS BLOB) WHERE idx = 1"
expect 11 "entry 1 was edited" "$FWTRUST" log verify --log "$DB"
expect 11 "entry 1 was edited" "$FWTRUST" log find --log "$DB" "$T/v1.bin" # a broken log vouches for nothing
sign_refused 11 "refusing to append"
restore
# 1b. Edited and its leaf hash recomputed: the signed tree heads do not match any more.
"$PY" - "$DB" <<'PYEOF'
import hashlib, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
e = bytes(c.execute("SELECT entry FROM entries WHERE idx = 2").fetchone()[0]).replace(b"3.0.0+0", b"3.0.7+0")
c.execute("UPDATE entries SET entry = ?, leaf_hash = ? WHERE idx = 2", (e, hashlib.sha256(b"\0" + e).digest()))
c.commit()
PYEOF
expect 11 "does not match the entries: the log was rewritten" "$FWTRUST" log verify --log "$DB"
sign_refused 11 "do not match the newest tree head"
restore

# 2. Truncated: the last entry deleted.
sql "DELETE FROM entries WHERE idx = 3"
expect 11 "truncated: a signed tree head covers 4 entries but only 3 are stored" "$FWTRUST" log verify --log "$DB"
sign_refused 11 "refusing to append"
# ... and its tree head too: only a head kept elsewhere shows it.
sql "DELETE FROM sths WHERE tree_size = 4"
expect 0 "" "$FWTRUST" log verify --log "$DB"
expect 11 "truncated: the tree head kept from earlier covers 4 entries" "$FWTRUST" log verify --log "$DB" \
    --since "$T/kept.json"
expect 11 "the log shrank" "$FWTRUST" log consistency --log "$DB" --since "$T/kept.json"
restore
# A hole in the middle.
sql "DELETE FROM entries WHERE idx = 1"
expect 11 "entry 1 is missing" "$FWTRUST" log verify --log "$DB"
restore

# 3. An entry appended without a tree head (by someone without the log key).
sql "INSERT INTO entries SELECT 4, entry, leaf_hash FROM entries WHERE idx = 0"
expect 11 "entries 4 to 4 are not covered by any signed tree head" "$FWTRUST" log verify --log "$DB"
sign_refused 11 "refusing to append"
restore

# 4. A forged tree head signature; a rewritten log signed with another key.
sql "UPDATE sths SET sig = X'00' || substr(sig, 2) WHERE tree_size = 2"
expect 22 "signature on the tree head of size 2 does not verify" "$FWTRUST" log verify --log "$DB"
restore
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/mallory.pem"
expect 0 "" "$FWTRUST" log init --log "$T/fake.db" --log-key "$T/mallory.pem"
expect 22 "another key" "$FWTRUST" log verify --log "$T/fake.db" --log-key "$T/logkey.pem"
expect 22 "" "$FWTRUST" log verify --log "$T/fake.db" --since "$T/kept.json"
# 4b. The log replaced by one rebuilt under Mallory's key (entries left out): every check
# uses the key pinned by 'log init', never the one stored in the log, and refuses it.
FWTRUST_SIGNLOG_PINS="$T/mallory-pins" expect 0 "" "$FWTRUST" log init --log "$T/rebuilt.db" \
    --log-key "$T/mallory.pem"
FWTRUST_SIGNLOG_PINS="$T/mallory-pins" expect 0 "" "$FWTRUST" log append --log "$T/rebuilt.db" \
    --key "$T/a.pem" "$T/v1.bin"
FWTRUST_SIGNLOG_PINS="$T/mallory-pins" expect 0 "signing log intact: 1 entries" "$FWTRUST" log verify \
    --log "$T/rebuilt.db"
cp "$T/rebuilt.db" "$DB"
expect 22 "another key" "$FWTRUST" log verify --log "$DB"
expect 22 "another key" "$FWTRUST" log find --log "$DB" "$T/v1.bin"
expect 22 "another key" "$FWTRUST" log audit --log "$DB" --expect-key "$T/a.pem"
expect 22 "" "$FWTRUST" log head --log "$DB"
sign_refused 7 "not the key this log was created with"
# The log deleted: init does not start a new one over the old pin.
mv "$DB" "$T/moved.db"
expect 1 "a log key is already pinned for this path" "$FWTRUST" log init --log "$DB" --log-key "$T/mallory.pem"
[ ! -e "$DB" ] || fail "init created a log over a pinned path"
mv "$T/moved.db" "$DB"
# No pin and no --log-key: the checks fail closed and say how to pin.
for c in verify audit; do
    FWTRUST_SIGNLOG_PINS="$T/no-pins" expect 31 "fwtrust log pin --log-key PUB" "$FWTRUST" log $c --log "$DB"
done
FWTRUST_SIGNLOG_PINS="$T/no-pins" expect 31 "no log key to check against" "$FWTRUST" log find --log "$DB" "$T/v1.bin"
restore
FWTRUST_SIGNLOG_PINS="$T/no-pins" expect 31 "" "$FWTRUST" log verify --log "$DB"
# Pinning checks the log against the key first: Mallory's key is not this log's.
FWTRUST_SIGNLOG_PINS="$T/no-pins" expect 22 "another key" "$FWTRUST" log pin --log "$DB" --log-key "$T/mallory.pem"
FWTRUST_SIGNLOG_PINS="$T/no-pins" expect 0 "pinned the log key" "$FWTRUST" log pin --log "$DB" --log-key "$T/logkey.pem"
FWTRUST_SIGNLOG_PINS="$T/no-pins" expect 0 "4 entries" "$FWTRUST" log verify --log "$DB"

# 5. Not a log at all; the log key gone: signing fails and writes nothing.
head -c 3000 /dev/urandom >"$T/junk.db"
rc=0
"$FWTRUST" log verify --log "$T/junk.db" 2>"$T/junk.err" || rc=$?
[ $rc = 2 ] || [ $rc = 11 ] || fail "junk log: exit $rc"
mv "$T/logkey.pem" "$T/logkey.away"
sign_refused 7 "log key (pinned): cannot read the key file"
mv "$T/logkey.away" "$T/logkey.pem"
expect 0 "4 entries" "$FWTRUST" log verify --log "$DB"
echo "keys log_tamper: ok"
