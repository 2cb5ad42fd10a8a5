#!/bin/bash
# A release that rolled back is not installed again (pitfall 23): install b5, let its trial
# run out without a confirm (fwtrust-boot goes back to b4), then update again: b5 is not
# downloaded or installed, status says it rolled back; --force installs it anyway; a newer
# release installs. --check does not offer an image the device would refuse for its
# signers (custom.fwtrust.verified_signers) and says why.
. "$(dirname "$0")/lib.sh"
serve_b4_with_device
update_boot_confirm dev
publish "$T/b5.bin" "$T/b5.bin.zst"

st() { agent dev --json status >"$T/st.json" || fail "status"; jget "$T/st.json" "$1"; }
[ "$(st 'd["last_outcome"]["result"], d["failed_releases"]')" = "('confirmed', [])" ] || fail "b4 confirmed: $(cat "$T/st.json")"
expect 0 "" agent dev --json update
[ "$(st 'd["last_outcome"]["result"], d["last_outcome"]["version"]')" = "('trial', '4.0.0+5')" ] || fail "trial: $(cat "$T/st.json")"
# The trial boots, never confirmed: after its tries the bootloader goes back to b4.
for i in 1 2 3 4 5; do
    boot dev >"$T/boot.json" || fail "boot $i"
    [ "$(jget "$T/boot.json" 'd["rolled_back"]')" = True ] && break
done
[ "$(jget "$T/boot.json" 'd["version"], d["rolled_back"]')" = "('4.0.0+4', True)" ] || fail "no rollback"
[ "$(st 'd["last_outcome"]["result"], d["last_outcome"]["version"], d["last_outcome"]["reason"] is not None')" = \
    "('rolled_back', '4.0.0+5', True)" ] || fail "status after the rollback: $(cat "$T/st.json")"
[ "$(st '[r["version"] for r in d["failed_releases"]]')" = "['4.0.0+5']" ] || fail "failed releases"
expect 0 "rolled_back: 4.0.0+5" agent dev status

# Update again: not offered (neither the full nor the compressed target of that image).
n=$(wc -l <"$T/srv/access.log")
expect 51 "2 that rolled back on this device" agent dev update --check
expect 51 "2 that rolled back on this device" agent dev update
no_trial dev
! tail -n +$((n + 1)) "$T/srv/access.log" | grep -q "GET /targets/" || fail "a target was downloaded again"
expect 51 "rolled back on this device" agent dev update --target primehub/b5.bin
no_trial dev

# --force: offered and installed again; this time it is confirmed, and leaves the list.
expect 0 "update available: primehub/b5.bin" agent dev update --check --force
update_boot_confirm dev --force
[ "$(jget "$T/.upd" 'd["version"]')" = 4.0.0+5 ] || fail "forced install"
[ "$(st 'd["last_outcome"]["result"], d["failed_releases"]')" = "('confirmed', [])" ] || fail "after the forced retry: $(cat "$T/st.json")"

# A newer release is installed as usual, also after a failed one.
sign b6.bin 4.0.0+6
publish "$T/b6.bin"
expect 0 "" agent dev --json update
boot dev >/dev/null && boot dev >/dev/null && boot dev >/dev/null && boot dev >"$T/boot.json"
[ "$(jget "$T/boot.json" 'd["rolled_back"]')" = True ] || fail "b6 did not roll back"
sign b7.bin 4.0.0+7
publish "$T/b7.bin"
expect 0 "update available: primehub/b7.bin" agent dev update --check
update_boot_confirm dev
[ "$(jget "$T/.upd" 'd["version"]')" = 4.0.0+7 ] || fail "newer release after a failed one"
[ "$(st '[r["version"] for r in d["failed_releases"]]')" = "['4.0.0+6']" ] || fail "b6 remembered"

# A trial cancelled before its first boot ('rollback') did not fail: it is offered again.
sign b8.bin 4.0.0+8
publish "$T/b8.bin"
expect 0 "" agent dev --json update
agent dev rollback >/dev/null || fail "cancel the trial"
[ "$(st 'd["last_outcome"]["result"], d["last_outcome"]["reason"]')" = "('none', 'the trial was cancelled before it booted')" ] ||
    fail "cancelled trial: $(cat "$T/st.json")"
[ "$(st '[r["version"] for r in d["failed_releases"]]')" = "['4.0.0+6']" ] || fail "a cancelled trial is not a failed one"
expect 0 "update available: primehub/b8.bin" agent dev update --check
fwt repo remove-target "$T/repo" primehub/b8.bin --key "$T/targets.pem" >/dev/null

# An image the publisher verified with a key this device does not trust: not offered by
# --check nor installed, and nothing is downloaded for it.
fwt keygen --type ed25519 -o "$T/evil.pem" >/dev/null
fwt pubkey "$T/evil.pem" -o "$T/evil.pub"
KEY="$T/evil.pem" sign b9-evil.bin 4.0.0+9
fwt repo add-target "$T/repo" "$T/b9-evil.bin" --prefix primehub/ --key "$T/targets.pem" --verify-key "$T/evil.pub" >/dev/null
fwt repo publish "$T/repo" --key "$T/snapshot.pem" --key "$T/timestamp.pem" >/dev/null
expect 51 "1 signed by keys this device does not trust" agent dev update --check
# Published without verified_signers, the device can only find out by downloading it: the
# verifier refuses it (24), and status says so.
fwt repo remove-target "$T/repo" primehub/b9-evil.bin --key "$T/targets.pem" >/dev/null
KEY="$T/evil.pem" sign b10-evil.bin 4.0.0+10
publish "$T/b10-evil.bin"
expect 24 "" agent dev update
[ "$(st 'd["last_outcome"]["result"], "UNKNOWN_KEY" in d["last_outcome"]["reason"]')" = "('refused', True)" ] ||
    fail "refused outcome: $(cat "$T/st.json")"
[ "$(st '[r["version"] for r in d["failed_releases"]]')" = "['4.0.0+6']" ] || fail "a refusal is not a failed trial"
echo "retry: ok"
