#!/bin/bash
# `fwtrust-agent log show` (readable times; --json as stored) and `log verify` against the audit log's anchor in the device state: entries cut
# off the end and junk appended are tampering (11); a last line cut short by a power cut is
# recoverable (2); one entry past the anchor (a cut between an entry and its anchor) is
# accepted (0) and said; the next entry repairs both.
. "$(dirname "$0")/lib.sh"
keys
mkimg "$T/v1.bin" 1.0.0 1
mkdev
expect 0 "" "$AGENT" --device "$T/dev" install "$T/v1.bin"
expect 0 "" "$BOOT" --device "$T/dev"
expect 0 "" "$AGENT" --device "$T/dev" confirm
expect 0 "audit log intact: 4 entries, hash chain verified, head anchored" "$AGENT" --device "$T/dev" log verify
L=$T/dev/audit.log
# log show: the entries with readable UTC times; --json gives them exactly as stored.
expect 0 "" "$AGENT" --device "$T/dev" log show
[ "$(grep -cE '^ +[0-9]+  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z  [a-z_-]+ ' "$T/.out")" = 4 ] ||
    fail "log show: $(cat "$T/.out")"
t1=$("$PY" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["time"])' "$L")
grep -qE "^ +1  $(date -u -d "@$t1" +%Y-%m-%dT%H:%M:%SZ)  " "$T/.out" || fail "log show: entry 1 not at $t1"
"$AGENT" --device "$T/dev" log show --json >"$T/show.json" || fail "log show --json"
"$PY" - "$T/show.json" "$L" <<'PYEOF' || fail "log show --json differs from the log"
import json, sys
d = json.load(open(sys.argv[1]))
lines = [json.loads(l) for l in open(sys.argv[2])]
assert d["ok"] is True and d["entries"] == lines, (d, lines)
PYEOF
[ "$(jget '[e["seq"] for e in d["entries"]]' "$AGENT" --device "$T/dev" log show --json --last 2)" = "[3, 4]" ] ||
    fail "log show --last 2: $(cat "$T/.j")"
expect 1 "option '--last' needs a positive number" "$AGENT" --device "$T/dev" log show --last 0
cp "$L" "$T/log.4"
cp "$T/dev/audithead.0" "$T/h0.4"
cp "$T/dev/audithead.1" "$T/h1.4"

# The last line removed: the chain is intact, the anchor says 4.
head -n 3 "$T/log.4" >"$L"
expect 11 "the last 1 were removed" "$AGENT" --device "$T/dev" log verify
# log show prints the intact entries, then fails naming the damage
expect 11 "the last 1 were removed" "$AGENT" --device "$T/dev" log show
[ "$(grep -cE '^ +[0-9]+  [0-9]{4}-' "$T/.out")" = 3 ] || fail "log show of a cut log: $(cat "$T/.out")"
[ "$(jget 'd["ok"], len(d["entries"]), d["exit_code"]' "$AGENT" --device "$T/dev" log show --json)" = "(False, 3, 11)" ] ||
    fail "log show --json of a cut log: $(cat "$T/.j")"
[ "$(jget 'd["ok"], d["exit_code"]' "$AGENT" --device "$T/dev" --json log verify)" = "(False, 11)" ] || fail "--json"
# The last two.
head -n 2 "$T/log.4" >"$L"
expect 11 "the last 2 were removed" "$AGENT" --device "$T/dev" log verify
# The device refuses to append to it (anchoring the shorter log would hide the removal).
expect 11 "its anchor is at entry 4" "$BOOT" --device "$T/dev"
# Junk without a newline.
{ cat "$T/log.4"; printf 'junk'; } >"$L"
expect 11 "not the start of an entry" "$AGENT" --device "$T/dev" log verify
# A last line cut short by a power cut: a prefix of an entry, recoverable (2), not tampering.
{ cat "$T/log.4"; printf '{"detail":"boot 2: slot a'; } >"$L"
expect 2 "cut short by a power cut: 4 entries intact" "$AGENT" --device "$T/dev" log verify
[ "$(jget 'd["torn_tail"], d["exit_code"]' "$AGENT" --device "$T/dev" --json log verify)" = "(True, 2)" ] || fail "--json torn"
# The next entry drops it.
expect 0 "" "$BOOT" --device "$T/dev"
expect 0 "5 entries, hash chain verified, head anchored" "$AGENT" --device "$T/dev" log verify
# A power cut between entry 6 and its anchor: the old anchor beside six entries.
cp "$T/dev/audithead.0" "$T/h0.5"
cp "$T/dev/audithead.1" "$T/h1.5"
expect 0 "" "$BOOT" --device "$T/dev"
cp "$T/h0.5" "$T/dev/audithead.0"
cp "$T/h1.5" "$T/dev/audithead.1"
expect 0 "the last entry is not anchored yet" "$AGENT" --device "$T/dev" log verify
[ "$(jget 'd["ok"], d["entries"], d["unanchored_entry"]' "$AGENT" --device "$T/dev" --json log verify)" = "(True, 6, True)" ] ||
    fail "--json unanchored"
# ... but not two: back to the anchor of 4.
cp "$T/h0.4" "$T/dev/audithead.0"
cp "$T/h1.4" "$T/dev/audithead.1"
expect 11 "added without the agent" "$AGENT" --device "$T/dev" log verify
# The anchor removed beside the log.
rm "$T/dev/audithead.0" "$T/dev/audithead.1"
expect 11 "no anchor" "$AGENT" --device "$T/dev" log verify
expect 0 "exit: 0 intact" bash -c "'$AGENT' --device '$T/dev' log verify --help | tr A-Z a-z"
echo "auditlog: ok"
