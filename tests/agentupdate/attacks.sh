#!/bin/bash
# Attacks on the update and what the device does: a tampered target, endless data, a forged
# decoded image behind honest metadata, a decompression bomb, an image signed by an unknown
# key, replayed (rolled back) metadata, a wrong TLS pin / CA / missing client certificate.
# After each refusal no slot is marked for trial and the running image is untouched; a trial
# that is never confirmed rolls back by itself.
. "$(dirname "$0")/lib.sh"
setup_images
setup_repo
publish "$T/b4.bin"
start_server
mkdev dev
update_boot_confirm dev
publish "$T/b5.bin"

# Tampered target on the server (one byte): TUF hash mismatch, 44.
f=$(served b5.bin)
cp "$f" "$T/b5.saved"
"$PY" -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[4096]^=0xff; open(p,"wb").write(b)' "$f"
expect 44 "" agent dev update
no_trial dev
slot_holds dev a "$T/b4.bin"
agent dev --json status >"$T/st.json"
[ "$(jget "$T/st.json" 'd["slots"]["b"]["state"]')" != trial ] || fail "tampered: slot b on trial"

# Endless data: the server sends more than the target's length; the download is cut at it (33).
cp "$T/b5.saved" "$f"
head -c 3000000 /dev/zero >>"$f"
expect 33 "" agent dev update
no_trial dev
cp "$T/b5.saved" "$f"

# Wrong pin, wrong CA, no client certificate: refused by TLS (9) before any metadata is read.
mkdev badpin --pinned-pubkey "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
expect 9 "fwtrust-agent update: hint: the server's public key is not the one pinned by [update] pinned_pubkey" agent badpin update
[ ! -e "$T/badpin/tuf/timestamp.json" ] || fail "wrong pin: metadata was accepted"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=other CA" \
    -keyout "$T/other-ca.key" -out "$T/other-ca.pem" 2>/dev/null
mkdev badca --ca "$T/other-ca.pem"
expect 9 "name the CA certificate (PEM) that signed it with [update] ca in DIR/device.ini (fwtrust-agent init --ca FILE)" \
    agent badca update
mkdir -p "$T/nocert.slots" && : >"$T/nocert.slots/a" && : >"$T/nocert.slots/b"
"$FWTRUST_AGENT" --device "$T/nocert" init --hw-id lego-primehub --slot-a "$T/nocert.slots/a" \
    --slot-b "$T/nocert.slots/b" --trust-key "$T/rel.pub" --tuf-root "$T/repo/metadata/1.root.json" \
    --repo "$HTTPS_URL" --ca "$CA" --pinned-pubkey "$PIN" >/dev/null
expect 9 "" agent nocert update
# The right settings work (the same server, so the refusals above were TLS's).
expect 0 "" agent dev update --check

# Honest metadata, forged content: a compressed target whose header (and so its signed custom
# metadata) describes b5 but whose frame decodes to another valid, newer-signed image. The
# device compares the decoded bytes with the metadata's SHA-256 and refuses (44).
sign b6.bin 4.0.0+6
fwt delta --to "$T/b6.bin" -o "$T/b6.zst" >/dev/null
"$PY" - "$T/b5.bin.zst" "$T/b6.zst" "$T/forged.zst" <<'PYEOF'
import struct, sys
def split(p):
    b = open(p, "rb").read()
    n = struct.unpack_from("<I", b, 4)[0]
    return b[:8 + n], b[8 + n:]
hdr, _ = split(sys.argv[1])
_, frame = split(sys.argv[2])
open(sys.argv[3], "wb").write(hdr + frame)
PYEOF
publish "$T/forged.zst"
expect 44 "SHA-256 differs" agent dev update --target primehub/forged.zst
no_trial dev

# Decompression bomb: metadata says 294889 bytes (b4's header), the frame decodes to more (33).
fwt delta --to "$T/b4.bin" -o "$T/b4.zst" >/dev/null
"$PY" - "$T/b4.zst" "$T/b5.bin.zst" "$T/bomb.zst" <<'PYEOF'
import struct, sys
def split(p):
    b = open(p, "rb").read()
    n = struct.unpack_from("<I", b, 4)[0]
    return b[:8 + n], b[8 + n:]
hdr, _ = split(sys.argv[1])
_, frame = split(sys.argv[2])
open(sys.argv[3], "wb").write(hdr + frame)
PYEOF
publish "$T/bomb.zst"
mkdev fresh
expect 33 "more than the 294889 bytes" agent fresh update --target primehub/bomb.zst
no_trial fresh

# An image signed by a key the device does not trust, published by the repository: the
# verifier core refuses it after the download (24); nothing becomes bootable.
fwt keygen --type ed25519 -o "$T/evil.pem" >/dev/null
KEY="$T/evil.pem" sign b9-evil.bin 4.0.0+9
publish "$T/b9-evil.bin"
cp "$T/repo/metadata/timestamp.json" "$T/timestamp.old"
expect 24 "" agent dev update
no_trial dev
slot_holds dev a "$T/b4.bin"

# Replayed metadata: the server goes back to an older timestamp after the device saw a newer
# one (publish once more). TUF refuses the rollback (43).
fwt repo remove-target "$T/repo" primehub/b9-evil.bin --key "$T/targets.pem" >/dev/null
fwt repo publish "$T/repo" --key "$T/snapshot.pem" --key "$T/timestamp.pem" >/dev/null
expect 0 "" agent dev update --check
cp "$T/repo/metadata/timestamp.json" "$T/timestamp.cur"
cp "$T/timestamp.old" "$T/repo/metadata/timestamp.json"
expect 43 "" agent dev update
no_trial dev
cp "$T/timestamp.cur" "$T/repo/metadata/timestamp.json"

# Updates while the running image is itself on trial are refused (11): confirm or roll back first.
publish "$T/b6.zst"
expect 0 "" agent dev --json update --target primehub/b5.bin
boot dev >/dev/null
expect 11 "" agent dev update --target primehub/b6.zst

# Never confirmed: after its tries the bootloader goes back to the confirmed image by itself.
for i in 1 2; do boot dev >"$T/boot.json"; [ "$(jget "$T/boot.json" 'd["version"]')" = 4.0.0+5 ] || fail "trial boot $i"; done
boot dev >"$T/boot.json"
[ "$(jget "$T/boot.json" 'd["version"]')" = 4.0.0+4 ] || fail "no rollback after the tries"
[ "$(jget "$T/boot.json" 'd["rolled_back"]')" = True ] || fail "rollback not reported"

# Expired metadata (the clock three days on, past the one-day timestamp, within the TLS
# certificates' 30 days): refused (42), and the hint says who must act.
command -v faketime >/dev/null || fail "faketime is not installed (scripts/install-deps)"
expect 42 "fwtrust-agent update: hint: the repository's metadata has expired: whoever runs it must re-sign it" \
    env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" faketime -f +3d \
    "$FWTRUST_AGENT" --device "$T/dev" update --check
echo "attacks: ok"
