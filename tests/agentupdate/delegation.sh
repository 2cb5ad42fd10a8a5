#!/bin/bash
# Delegated roles and the update (pitfall 21): a device configured with its target names
# ([update] targets = primehub/*) loads only the roles that can hold them, in the TUF search's
# order. A broken role for other targets ('a/*'), or one shadowed by a terminating delegation
# that covers the device's names, never stops its update; a broken role that can hold its
# targets still fails it (closed). A device without the pattern must load every role.
. "$(dirname "$0")/lib.sh"
setup_images
setup_repo
for k in other prime shadow; do fwt keygen --type ed25519 -o "$T/$k.pem" >/dev/null; done
# targets delegates, in this order: other (a/*), prime (primehub/*, terminating), shadow (*/*).
fwt repo delegate "$T/repo" --name other --key "$T/other.pem" --paths 'a/*' --sign-key "$T/targets.pem" >/dev/null
fwt repo delegate "$T/repo" --name prime --key "$T/prime.pem" --paths 'primehub/*' --terminating \
    --sign-key "$T/targets.pem" >/dev/null
fwt repo delegate "$T/repo" --name shadow --key "$T/shadow.pem" --paths '*/*' --sign-key "$T/targets.pem" >/dev/null
printf 'not firmware\n' >"$T/x.bin"
fwt repo add-target "$T/repo" "$T/x.bin" --role other --name a/x.bin --key "$T/other.pem" >/dev/null
fwt repo add-target "$T/repo" "$T/x.bin" --role shadow --name s/x.bin --key "$T/shadow.pem" >/dev/null
add_prime() {
    fwt repo add-target "$T/repo" "$@" --prefix primehub/ --role prime --key "$T/prime.pem" >/dev/null ||
        fail "add-target $*"
    fwt repo publish "$T/repo" --key "$T/snapshot.pem" --key "$T/timestamp.pem" >/dev/null || fail "publish"
}
add_prime "$T/b4.bin"

# break ROLE: the served metadata of ROLE no longer verifies (its expiry changed under the
# signature, as a forged extension would).
break_role() {
    local f
    for f in "$T/repo/metadata/"[0-9]*".$1.json"; do
        "$PY" - "$f" <<'PYEOF'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["signed"]["expires"] = "2000-01-01T00:00:00Z"
open(p, "w").write(json.dumps(d))
PYEOF
    done
}
restore_role() { cp "$T/saved.$1/"* "$T/repo/metadata/"; }
save_role() { mkdir -p "$T/saved.$1"; cp "$T/repo/metadata/"[0-9]*".$1.json" "$T/saved.$1/"; }
save_role other
save_role shadow
break_role other
break_role shadow
start_server
mkdev dev --targets 'primehub/*' 2>"$T/dev.init.err"
mkdev all 2>"$T/all.init.err"
# init says what a device with a repository but no targets pattern risks, and only then.
grep -q "no --targets PATTERN: 'update' must load every delegated role" "$T/all.init.err" ||
    fail "init without --targets gave no note: $(cat "$T/all.init.err")"
! grep -q "no --targets" "$T/dev.init.err" || fail "init --targets still gave the note"
grep -qx 'targets = primehub/\*' "$T/dev/device.ini" || fail "init --targets not in device.ini"

# The device's roles load; 'other' (a/*) cannot hold primehub/ names, 'shadow' (*/*) could,
# but the terminating 'prime' covers every primehub/* name before it: neither is fetched.
update_boot_confirm dev
[ "$(jget "$T/.upd" 'd["version"]')" = 4.0.0+4 ] || fail "b4 not installed from the delegated role"
[ ! -e "$T/dev/tuf/other.json" ] && [ ! -e "$T/dev/tuf/shadow.json" ] || fail "an unrelated role was loaded"
! grep -q "GET /metadata/[0-9]*\.\(other\|shadow\)\.json" "$T/srv/access.log" || fail "an unrelated role was fetched"
restore_role other
restore_role shadow
add_prime "$T/b5.bin"
break_role other
break_role shadow
expect 0 "update available: primehub/b5.bin" agent dev update --check
# --target NAME: the TUF search for that name, and the fallbacks in the scope; same roles.
expect 0 "" agent dev --json update --target primehub/b5.bin
[ "$(jget "$T/.out" 'd["version"]')" = 4.0.0+5 ] || fail "named target"

# Without [update] targets every role could hold this device's images: the broken one stops
# the update, and the error says how to scope it.
expect 41 "no [update] targets pattern" agent all update --check

# A broken role that CAN hold the device's targets fails the update closed.
mkdev dev2 --targets 'primehub/*'
save_role prime
break_role prime
expect 41 "role 'prime'" agent dev2 update --check
no_trial dev2
restore_role prime
restore_role other
# A scope that the terminating 'prime' covers (primehub/b*.bin) never needs 'shadow'; one it
# does not cover (*/b5.bin: names outside primehub/ too) does, and fails closed with it.
mkdev dev3 --targets 'primehub/b*.bin'
expect 0 "update available" agent dev3 update --check
mkdev dev4 --targets '*/b5.bin'
expect 41 "role 'shadow'" agent dev4 update --check
# A device of other names ('a/*'): 'other' is its role now, and its failure stops it.
mkdev dev5 --targets 'a/*'
break_role other
expect 41 "role 'other'" agent dev5 update --check
restore_role other
expect 41 "role 'shadow'" agent dev5 update --check # '*/*' may hold a/ names: needed too
restore_role shadow
expect 51 "no target for hardware" agent dev5 update --check
echo "delegation: ok"
