#!/bin/bash
# The reference bootloader: trial boots and the automatic rollback of a boot
# that is never confirmed, fallback from a failing slot (marked bad), recovery
# when no slot is valid, tampering caught by verify-slots and the bootloader,
# the operator rollback to the other slot, and the measured boot (register and
# event log recomputed independently).
. "$(dirname "$0")/lib.sh"
keys
mkimg "$T/v1.bin" 1.0.0 1
mkimg "$T/v11.bin" 1.1.0 1
mkimg "$T/v2.bin" 2.0.0 2
mkdev --tries 3
A() { "$AGENT" --device "$T/dev" "$@"; }
boot() { jget "$1" "$BOOT" --device "$T/dev"; }
expect 0 "" A install "$T/v1.bin"
[ "$(boot 'd["slot"], d["trial"], d["tries_left"]')" = "('a', True, 2)" ] || fail "trial boot 1: $(cat "$T/.j")"
expect 0 "" A confirm

# An update that is never confirmed: 3 trial boots, then back to the confirmed slot.
expect 0 "" A install "$T/v2.bin"
[ "$(boot 'd["slot"], d["trial"], d["tries_left"]')" = "('b', True, 2)" ] || fail "trial 1: $(cat "$T/.j")"
[ "$(boot 'd["slot"], d["trial"], d["tries_left"]')" = "('b', True, 1)" ] || fail "trial 2: $(cat "$T/.j")"
[ "$(boot 'd["slot"], d["trial"], d["tries_left"]')" = "('b', True, 0)" ] || fail "trial 3: $(cat "$T/.j")"
[ "$(boot 'd["slot"], d["trial"], d["rolled_back"], d["version"]')" = "('a', False, True, '1.0.0+0')" ] ||
    fail "no rollback after the tries: $(cat "$T/.j")"
[ "$(jget 'd["trial"], d["confirmed"], d["min_security_counter"]' A status --json)" = "(None, 'a', 1)" ] ||
    fail "state after the rollback: $(cat "$T/.j")"
expect 51 "nothing to confirm" A confirm
grep -q 'unconfirmed trial rolled back' "$T/dev/audit.log" || fail "rollback not in the audit log"

# A trial image damaged after install: the bootloader refuses it, marks it bad, boots a.
expect 0 "" A install "$T/v2.bin"
flip "$T/slot-b.bin" 700
[ "$(boot 'd["slot"], d["fell_back"], d["failed"]')" = "('a', True, {'b': 'FWT_E_DIGEST'})" ] ||
    fail "fallback from a damaged trial: $(cat "$T/.j")"
[ "$(jget 'd["slots"]["b"]["state"], d["trial"]' A status --json)" = "('bad', None)" ] || fail "slot b not marked bad"

# Operator rollback to the image in the other slot (same security counter).
expect 0 "" A install "$T/v11.bin"
expect 0 "" "$BOOT" --device "$T/dev"
expect 0 "" A confirm
[ "$(boot 'd["slot"], d["version"]')" = "('b', '1.1.0+0')" ] || fail "v1.1 confirmed"
expect 0 "the next boot takes slot a" A rollback
[ "$(boot 'd["slot"], d["version"], d["trial"]')" = "('a', '1.0.0+0', False)" ] || fail "after operator rollback: $(cat "$T/.j")"

# The confirmed slot fails: fall back to the other installed image, which takes over.
flip "$T/slot-a.bin" 900
[ "$(boot 'd["slot"], d["fell_back"], d["failed"]')" = "('b', True, {'a': 'FWT_E_DIGEST'})" ] || fail "fallback from confirmed: $(cat "$T/.j")"
[ "$(jget 'd["confirmed"], d["slots"]["a"]["state"]' A status --json)" = "('b', 'bad')" ] || fail "fallback did not take over"

# Tampering by replacement with another validly signed image: verify-slots and the bootloader catch it.
cp "$T/slot-b.bin" "$T/b.good"
cp "$T/v1.bin" "$T/slot-b.bin"
expect 21 "slot b was tampered with" A verify-slots
[ "$(jget 'd["ok"], d["slots"]["b"]["verdict"]' A verify-slots --json)" = "(False, 'tampered')" ] || fail "verify-slots json: $(cat "$T/.j")"
expect 50 "RECOVERY" "$BOOT" --device "$T/dev"
[ "$(boot 'd["recovery"], d["exit_code"]')" = "(True, 50)" ] || fail "recovery json: $(cat "$T/.j")"
grep -q '"event":"recovery"' "$T/dev/audit.log" || fail "recovery not logged"

# Recovery ends with an install; then a fresh measured boot.
cp "$T/b.good" "$T/slot-b.bin"
expect 0 "" A install "$T/v2.bin"
"$BOOT" --device "$T/dev" >"$T/boot.json" || fail "boot after recovery: $(cat "$T/boot.json")"
"$PY" - "$T/boot.json" "$T/dev/pcr" "$T/dev/eventlog.jsonl" "$T/k1.pub" <<'PYEOF' || fail "measured boot does not replay"
import hashlib, json, sys
from cryptography.hazmat.primitives import serialization
boot = json.load(open(sys.argv[1]))
pcr_file = json.load(open(sys.argv[2]))
events = [json.loads(l) for l in open(sys.argv[3])]
pub = serialization.load_pem_public_key(open(sys.argv[4], "rb").read())
keyhash = hashlib.sha256(pub.public_bytes(serialization.Encoding.DER,
                         serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()
assert boot["signer_keyhash"] == keyhash, (boot["signer_keyhash"], keyhash)
mine = [e for e in events if e["boot"] == boot["boot"]]
assert [e["event_type"] for e in mine] == ["EV_FWT_IMAGE", "EV_FWT_SIGNER"], mine
assert mine[0]["digests"][0]["digest"] == boot["digest"]
assert mine[1]["digests"][0]["digest"] == keyhash
pcr = bytes(32)
for e in mine:
    assert e["pcr_index"] == 0 and e["digests"][0]["hash_alg"] == "sha256"
    pcr = hashlib.sha256(pcr + bytes.fromhex(e["digests"][0]["digest"])).digest()
assert pcr.hex() == boot["pcr0"] == pcr_file["pcr0"], (pcr.hex(), boot["pcr0"], pcr_file)
assert pcr_file["boot"] == boot["boot"]
assert len(events) == 2 * len({e["boot"] for e in events})
PYEOF
# fwtrust-agent log verify replays it too, and notices a changed event.
expect 0 "the event log replays to the register of boot" A log verify
"$PY" - "$T/dev/eventlog.jsonl" <<'PYEOF'
import sys
p = sys.argv[1]
lines = open(p).read().splitlines(True)
last = lines[-1]
i = last.index('"digest":"') + len('"digest":"')
lines[-1] = last[:i] + ("0" if last[i] != "0" else "1") + last[i + 1:]
open(p, "w").write("".join(lines))
PYEOF
expect 11 "does not replay to the measurement register of boot" A log verify
# A confirm cut after it recorded the confirmed slot (raise pending), then that slot damaged:
# the raise completes from the recorded values (no slot needs to verify for it), the old v1
# stays refused, and the bootloader reports recovery instead of failing to start.
mkdir "$T/d2"
expect 0 "" "$AGENT" --device "$T/d2/dev" init --hw-id hw1 --slot-a "$T/d2/a" --slot-b "$T/d2/b" --trust-key "$T/k1.pub"
A2() { "$AGENT" --device "$T/d2/dev" "$@"; }
expect 0 "" A2 install "$T/v1.bin"
expect 0 "" "$BOOT" --device "$T/d2/dev"
expect 0 "" A2 confirm
expect 0 "" A2 install "$T/v2.bin"
expect 0 "" "$BOOT" --device "$T/d2/dev"
# Operations of confirm: boot control write + fsync, then the anti-rollback write: cut there.
expect 99 "" env FWT_FAULT_AT=3 "$AGENT" --device "$T/d2/dev" confirm
# (The minimum in force is already the confirmed image's: boot control's floor, docs/agent.md.)
[ "$(jget 'd["confirmed"], d["raise_pending"], d["min_security_counter"]' A2 status --json)" = "('b', True, 2)" ] ||
    fail "not cut between the confirm record and the raise: $(cat "$T/.j")"
flip "$T/d2/b" 800
expect 50 "RECOVERY" "$BOOT" --device "$T/d2/dev"
[ "$(jget 'd["raise_pending"], d["min_security_counter"]' A2 status --json)" = "(False, 2)" ] ||
    fail "interrupted raise not completed: $(cat "$T/.j")"
expect 26 "below the minimum 2" A2 install "$T/v1.bin"

# Output for people: text on a terminal (or --text), JSON in a pipe (or --json).
mkdir -p "$T/d3"
A3() { "$AGENT" --device "$T/d3/dev" "$@"; }
expect 0 "" "$AGENT" --device "$T/d3/dev" init --hw-id hw1 --slot-a "$T/d3/a" --slot-b "$T/d3/b" --trust-key "$T/k1.pub"
expect 0 "" A3 install "$T/v1.bin"
expect 0 "booted slot a: version 1.0.0+0, security counter 1, on TRIAL (2 tries left)" "$BOOT" --device "$T/d3/dev" --text
grep -qE "^  signer key [0-9a-f]{16}\.\.\.; boot 1, measured: pcr0 [0-9a-f]{64}$" "$T/.out" || fail "--text: $(cat "$T/.out")"
grep -q "{" "$T/.out" && fail "--text printed JSON"
[ "$(jget 'd["slot"], d["tries_left"], d["boot"]' "$BOOT" --device "$T/d3/dev")" = "('a', 1, 2)" ] ||
    fail "JSON in a pipe: $(cat "$T/.j")"
expect 1 "--json and --text exclude each other" "$BOOT" --device "$T/d3/dev" --json --text
if command -v script >/dev/null; then
    script -qec "'$BOOT' --device '$T/d3/dev'" /dev/null >"$T/tty.out" || fail "boot on a terminal"
    grep -q "booted slot a: version 1.0.0+0" "$T/tty.out" || fail "no text on a terminal: $(cat "$T/tty.out")"
    grep -q '"slot"' "$T/tty.out" && fail "JSON on a terminal"
fi
# recovery as text: why each slot was refused
flip "$T/d3/a" 800
expect 50 "RECOVERY" "$BOOT" --device "$T/d3/dev" --text
grep -qx "nothing booted (a trial used up its tries and was rolled back)" "$T/.out" ||
    grep -qx "nothing booted" "$T/.out" || fail "recovery text: $(cat "$T/.out")"
grep -qF "  slot a refused: " "$T/.out" || fail "recovery text lacks slot a's verdict: $(cat "$T/.out")"
echo "boot: ok"
