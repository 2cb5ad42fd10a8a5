#!/bin/bash
# fwtrust log audit over signatures made with fwtrust sign/cosign: a key not in the
# expected set, a version or security counter going down, one version signed with two
# different digests, signing outside the allowed window. Exit 11 with findings.
. "$SRC/tests/cli/lib.sh"
DB="$T/sign.db"
for k in logkey a b x; do expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/$k.pem"; done
expect 0 "" "$FWTRUST" log init --log "$DB" --log-key "$T/logkey.pem"
head -c 20000 "$FW" >"$T/fw1.bin"
head -c 20001 "$FW" >"$T/fw2.bin"
sign() { # KEY VERSION COUNTER INPUT
    expect 0 "" "$FWTRUST" sign --log "$DB" --key "$T/$1.pem" --version "$2" -s "$3" --header-size 0x200 \
        --pad-header --hw-id board "$4" "$T/out.bin"
}
sign a 1.0.0 1 "$T/fw1.bin"
expect 0 "" "$FWTRUST" cosign --log "$DB" --key "$T/b.pem" "$T/out.bin" # same image, second signer
sign a 2.0.0 2 "$T/fw1.bin"
expect 0 "no findings" "$FWTRUST" log audit --log "$DB" --expect-key "$T/a.pem" --expect-key "$T/b.pem"

sign a 1.5.0 3 "$T/fw1.bin"  # entry 3: version down
sign a 2.1.0 1 "$T/fw1.bin"  # entry 4: counter down
sign a 2.0.0 3 "$T/fw2.bin"  # entry 5: version 2.0.0 again, other digest (and version down)
sign x 3.0.0 4 "$T/fw1.bin"  # entry 6: an unexpected key
expect 11 "audit: 5 findings in 7 entries" "$FWTRUST" log audit --log "$DB" --expect-key "$T/a.pem" \
    --expect-key "$T/b.pem"
grep -q "entry 3: version-down: version 1.5.0+0 for hardware 'board' is lower than version 2.0.0+0" "$T/.out" ||
    fail "version-down finding: $(cat "$T/.out")"
grep -q "entry 4: security-counter-down: security counter 1 for hardware 'board'" "$T/.out" || fail "counter"
grep -q "entry 5: digest-conflict: version 2.0.0+0 for hardware 'board' was signed before (entry 2)" "$T/.out" ||
    fail "digest conflict"
grep -q "entry 6: unexpected-key" "$T/.out" || fail "unexpected key"
rc=0
"$FWTRUST" log audit --json --log "$DB" --expect-key "$T/a.pem" --expect-key "$T/b.pem" >"$T/a.json" 2>/dev/null || rc=$?
[ $rc = 11 ] || fail "audit --json exit $rc"
[ "$(json_field "$T/a.json" 'd["ok"], d["entries"], [(f["index"], f["kind"]) for f in d["findings"]]')" = \
  "(False, 7, [(3, 'version-down'), (4, 'security-counter-down'), (5, 'version-down'), (5, 'digest-conflict'), (6, 'unexpected-key')])" ] ||
    fail "audit json: $(cat "$T/a.json")"
# Without an expected key set, keys are not judged.
expect 11 "audit: 4 findings" "$FWTRUST" log audit --log "$DB"

# The signing window (UTC): every signature happened just now, so a window that
# ends before now flags all seven, one around now flags none.
h=$((10#$(date -u +%H)))
out=$(printf '%02d:00-%02d:00' $(((h + 2) % 24)) $(((h + 3) % 24)))
around=$(printf '%02d:00-%02d:00' $(((h + 23) % 24)) $(((h + 2) % 24)))
rc=0
"$FWTRUST" log audit --json --log "$DB" --window "$out" >"$T/w.json" 2>/dev/null || rc=$?
[ "$(json_field "$T/w.json" 'len([f for f in d["findings"] if f["kind"] == "outside-window"])')" = 7 ] ||
    fail "window $out: $(cat "$T/w.json")"
"$FWTRUST" log audit --json --log "$DB" --window "$around" >"$T/w2.json" 2>/dev/null || true
[ "$(json_field "$T/w2.json" 'len([f for f in d["findings"] if f["kind"] == "outside-window"])')" = 0 ] ||
    fail "window $around: $(cat "$T/w2.json")"
grep -q "outside the window $out" "$T/w.json" || fail "window message"
expect 1 "expected HH:MM-HH:MM" "$FWTRUST" log audit --log "$DB" --window 9-17
expect 1 "empty or the whole day" "$FWTRUST" log audit --log "$DB" --window 09:00-09:00
expect 7 "" "$FWTRUST" log audit --log "$DB" --expect-key "$T/missing.pem"

# The audit refuses a log that is not intact (it would audit what an attacker left).
"$PY" -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("DELETE FROM entries WHERE idx = 6"); c.commit()' "$DB"
expect 11 "truncated" "$FWTRUST" log audit --log "$DB"
echo "keys audit: ok"
