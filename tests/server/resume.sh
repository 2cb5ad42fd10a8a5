#!/bin/bash
# TLS session resumption for device check-ins (SQLite, or PostgreSQL through with_pg.sh):
# a device resumes its session; a device revoked or decommissioned after it got its ticket
# is refused on resumption; a renewed certificate works; a ticket of another server key,
# or past tls_ticket_hours, is just a full handshake; an expired certificate is refused
# even with a valid ticket; the shared ticket-key file must be 0600.
. "$(dirname "$0")/lib.sh"
FT=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
[ -n "$FT" ] || { echo "libfaketime is not installed: skipped"; exit 77; }
# under ASan the preloaded libfaketime comes before its runtime: allowed here
FTENV="LD_PRELOAD=$FT ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
srv_init cert_days=1 tls_ticket_hours=168
KF=$T/ticket.keys
(umask 077 && openssl rand -hex 80 >"$KF")
set_conf() { # set_conf KEY JSON-VALUE (null: removed)
    "$PY" - "$D/server.json" "$1" "$2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c[sys.argv[2]] = json.loads(sys.argv[3])
if c[sys.argv[2]] is None:
    del c[sys.argv[2]]
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
}
set_conf tls_ticket_key_file "\"$KF\""

# the key file must not be readable by others: the server does not start
chmod 0644 "$KF"
expect 7 "mode 0600" "$SERVER" --dir "$D" serve --listen 127.0.0.1:0
chmod 0600 "$KF"
srv_start

# checkin DEV WANT-HTTP WANT-TLS: a check-in with the device's session file
checkin() {
    "$SIM" checkin "$U" "$CA" "$T/$1" --session "$T/$1.sess" >"$T/out" 2>"$T/err" || true
    head -n 1 "$T/out" | grep -qx "HTTP $2" || { cat "$T/out" "$T/err" >&2; fail "$1: expected HTTP $2"; }
    [ -z "$3" ] || grep -qx "tls: $3" "$T/err" || { cat "$T/err" >&2; fail "$1: expected a $3 handshake"; }
}
for i in 1 2 3 4 5; do
    sim 200 "$T/e" enroll "$U" "$CA" "$(token)" board "SN-$i" "$T/d$i"
    checkin "d$i" 200 full
    checkin "d$i" 200 resumed
    [ "$(stat -c %a "$T/d$i.sess")" = 600 ] || fail "the session file is not 0600"
done
checkin d1 200 resumed

# a resumption with a ticket of the current key gets no new one: the device keeps its session
cp "$T/d3.sess" "$T/d3.before"
checkin d3 200 resumed
cmp -s "$T/d3.sess" "$T/d3.before" || fail "a new ticket at a resumption with the current key"
# a new key first in the shared file: a ticket of the old one (still accepted) is replaced by
# one under the new key, which is then kept
(umask 077 && { openssl rand -hex 80; cat "$KF"; } >"$KF.new" && mv "$KF.new" "$KF")
sleep 11 # the servers re-read the file within 10 s of a change
checkin d3 200 resumed
cmp -s "$T/d3.sess" "$T/d3.before" && fail "no new ticket for a ticket of the older key"
cp "$T/d3.sess" "$T/d3.before"
checkin d3 200 resumed
cmp -s "$T/d3.sess" "$T/d3.before" || fail "a new ticket at a resumption with the new current key"

# not modified: unchanged director metadata is not signed again at a check-in (the
# timestamp keeps its version); a changed assignment is in the answer of the next check-in
tsv() { "$SIM" get "$U" "$CA" "$T/$1" /v1/director/timestamp.json | tail -n +2 |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["signed"]["version"])'; }
ts0=$(tsv d1)
checkin d1 200 resumed
grep -q '"director_targets_version":1' "$T/out" || fail "check-in answer: $(cat "$T/out")"
checkin d1 200 resumed
[ "$(tsv d1)" = "$ts0" ] || fail "the director timestamp was signed again without a change"
printf 'firmware 2' >"$T/fw-2.bin"
expect 0 "" "$SERVER" --dir "$D" assign fw-2.bin --device "$(cat "$T/d1/id")" --file "$T/fw-2.bin" --release-counter 2
checkin d1 200 resumed
grep -q '"director_targets_version":2' "$T/out" || fail "the assignment is not in the next check-in: $(cat "$T/out")"
[ "$(tsv d1)" -gt "$ts0" ] || fail "the director timestamp did not move with the assignment"

# revoked, decommissioned after the ticket: refused on resumption (the handshake fails)
expect 0 "" "$SERVER" --dir "$D" device revoke "$(cat "$T/d2/id")"
expect 0 "" "$SERVER" --dir "$D" device revoke --decommission "$(cat "$T/d5/id")"
checkin d2 0 ""
checkin d5 0 ""
checkin d1 200 resumed

# a renewed certificate: the old session is dropped (the agent does so), a full handshake
# with the new certificate, then resumption under it
sim 200 "$T/r" renew "$U" "$CA" "$T/d3"
rm -f "$T/d3.sess"
checkin d3 200 full
checkin d3 200 resumed
srv_stop

# another server key: a full handshake, no error
cp "$T/d4.sess" "$T/d4.keep"
set_conf tls_ticket_key_file null
srv_start
checkin d1 200 full
checkin d1 200 resumed
srv_stop

# the shared key again; tickets bounded by tls_ticket_hours since the full handshake
set_conf tls_ticket_key_file "\"$KF\""
cp "$T/d4.keep" "$T/d4.sess"
SRV_WRAP="env $FTENV FAKETIME=+3h"
srv_start
checkin d4 200 resumed          # 3 h < 168 h
srv_stop
set_conf tls_ticket_hours 1
cp "$T/d4.keep" "$T/d4.sess"
srv_start
checkin d4 200 full             # 3 h > 1 h: a full handshake
srv_stop
# a certificate past its end (1 day) with a ticket still in its lifetime: refused
set_conf tls_ticket_hours 168
cp "$T/d4.keep" "$T/d4.sess"
SRV_WRAP="env $FTENV FAKETIME=+2d"
srv_start
checkin d4 0 ""
srv_stop
SRV_WRAP=
echo "ok"
