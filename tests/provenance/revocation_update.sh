#!/bin/bash
# The revocation list through the TUF repository: published as a target (fwtrust repo
# add-target --no-image), fetched by fwtrust-agent update at each update (over HTTPS from
# nginx, mutual TLS), stored, and enforced at once: the newer release signed by the revoked
# key is refused (34) and nothing is put on trial. A repository that later serves an older
# or a forged list fails the update (43, 28) and the stored list stays in force.
. "$SRC/tests/agentupdate/lib.sh"
setup_images
for k in rel2 rk rk2; do
    fwt keygen --type ed25519 -o "$T/$k.pem" >/dev/null
    fwt pubkey "$T/$k.pem" -o "$T/$k.pub"
done
KEY="$T/rel2.pem" sign b5-rel2.bin 4.0.0+5
setup_repo
publish "$T/b4.bin"
start_server
mkdev dev --trust-key "$T/rel2.pub" --revocation-key "$T/rk.pub"
# No list published yet: the update goes on, version 0 in force.
update_boot_confirm dev
[ "$(jget "$T/.upd" 'd["revocation_version"]')" = 0 ] || fail "a list version without a list"

# rel2 leaks: the list revoking it is published with rel2's newest release.
fwt revocation make --key "$T/rk.pem" --version 1 --revoke-key "$T/rel2.pub" -o "$T/l1.json" >/dev/null
pubrev() { # pubrev FILE: publish FILE as the target revocation.json
    fwt repo add-target "$T/repo" "$1" --no-image --name revocation.json --key "$T/targets.pem" >/dev/null ||
        fail "add-target $1"
    fwt repo publish "$T/repo" --key "$T/snapshot.pem" --key "$T/timestamp.pem" >/dev/null || fail "publish"
}
pubrev "$T/l1.json"
fwt repo add-target "$T/repo" "$T/b5-rel2.bin" --name primehub/b5.bin --key "$T/targets.pem" >/dev/null
fwt repo publish "$T/repo" --key "$T/snapshot.pem" --key "$T/timestamp.pem" >/dev/null
expect 34 "revoked by revocation list version 1" agent dev update
no_trial dev
agent dev --json status >"$T/st.json"
[ "$(jget "$T/st.json" 'd["revocation_version"]')" = 1 ] || fail "the fetched list is not in force"
grep -q '"revocation"' "$T/dev/audit.log" || fail "no audit entry for the list"
# The running image (signed by rel) still boots; the next boot refuses nothing else.
boot dev >/dev/null || fail "boot after the list"

# The repository serves an older list (a forged "version 1" without revocations): refused.
fwt revocation make --key "$T/rk.pem" --version 1 -o "$T/l1b.json" >/dev/null
pubrev "$T/l1b.json"
expect 43 "never rolled back" agent dev update
# A list signed by a key the device does not trust: refused.
fwt revocation make --key "$T/rk2.pem" --version 9 -o "$T/forged.json" >/dev/null
pubrev "$T/forged.json"
expect 28 "revocation list refused" agent dev update
agent dev --json status >"$T/st.json"
[ "$(jget "$T/st.json" 'd["revocation_version"]')" = 1 ] || fail "a refused list changed the stored one"
# A newer list, published properly, is taken (and still revokes rel2).
fwt revocation make --key "$T/rk.pem" --version 2 --base "$T/l1.json" -o "$T/l2.json" >/dev/null
pubrev "$T/l2.json"
expect 34 "revocation list version 2" agent dev update
echo "revocation via update: ok"
