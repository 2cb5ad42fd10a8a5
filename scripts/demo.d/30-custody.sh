#!/bin/bash
# Chapter 3: key custody. The release key lives in an HSM (SoftHSM2 token) and never
# leaves it; a release needs two of three signers; every signature lands in a
# tamper-evident signing log; devices trust only a root key, which certifies signing
# keys with a key version; a leaked key is revoked by raising the minimum key version,
# and the device then refuses what it signs.
# Environment from scripts/demo: FWT_BIN, DEMO_DIR, FW_DIR; `say`. Needs softhsm2.
set -euo pipefail
mkdir -p "$DEMO_DIR/custody"
cd "$DEMO_DIR/custody"
FW="$FW_DIR/pybricks-primehub-v4.0.0b5.bin"
MODULE=${FWTRUST_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
export SOFTHSM2_CONF="$PWD/softhsm2.conf"
export FWTRUST_PKCS11_MODULE="$MODULE"
HSM_KEY="pkcs11:token=release;object=fw-release-2026"
expect_rc() { # WANT MEANING CMD...: run CMD (it must fail with WANT) and show the status
    local want=$1 meaning=$2 rc=0
    shift 2
    "$@" || rc=$?
    echo "exit status $rc ($want = $meaning)"
    [ "$rc" = "$want" ] || { echo "demo: expected exit status $want" >&2; exit 1; }
}

say "An HSM (SoftHSM2 token 'release') generates the release key; it cannot be exported"
rm -rf tokens && mkdir tokens
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\n' "$PWD" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label release --pin 2468 --so-pin 13579 >/dev/null
printf '2468\n' >release.pin
chmod 600 release.pin
fwtrust keygen --type ecdsa-p256 -o "$HSM_KEY" --pin-file release.pin
fwtrust pubkey "$HSM_KEY" --pin-file release.pin -o alice.pub.pem

say "Two more signers keep their keys on their own machines"
fwtrust keygen --type ed25519 -o bob.pem
fwtrust keygen --type ed25519 -o carol.pem
fwtrust pubkey bob.pem -o bob.pub.pem
fwtrust pubkey carol.pem -o carol.pub.pem

say "The signing log: every signature made from now on is recorded (FWTRUST_SIGNLOG)"
fwtrust keygen --type ed25519 -o log-key.pem
fwtrust pubkey log-key.pem -o log-key.pub.pem
# log init pins the log key on this machine: appends sign with it and checks trust only it,
# never a key stored in the log (the demo keeps its pins with its other files).
export FWTRUST_SIGNLOG_PINS="$PWD/signlog-pins"
rm -rf signing-log.db signlog-pins
fwtrust log init --log signing-log.db --log-key log-key.pem
export FWTRUST_SIGNLOG="$PWD/signing-log.db"

say "The root key (kept offline) certifies the signing keys: key version 1"
fwtrust keygen --type ecdsa-p384 -o root.pem
fwtrust pubkey root.pem -o root.pub.pem
fwtrust cert issue --root root.pem --key alice.pub.pem --key-version 1 --hw-id lego-primehub -o alice-v1.cert
fwtrust cert issue --root root.pem --key carol.pub.pem --key-version 1 --hw-id lego-primehub -o carol-v1.cert

say "Release 4.0.0: alice signs with the HSM key, on the build server"
FWTRUST_SIGNER=alice fwtrust sign --key "$HSM_KEY" --pin-file release.pin --cert alice-v1.cert \
    --version 4.0.0+5 --header-size 0x200 --pad-header --security-counter 1 --hw-id lego-primehub \
    "$FW" release-4.0.0.bin
say "One signature is not enough: the release policy wants two of alice, bob, carol"
expect_rc 28 FWT_E_THRESHOLD fwtrust verify --key alice.pub.pem --key bob.pub.pem --key carol.pub.pem \
    --threshold 2 release-4.0.0.bin
say "bob reviews the release and adds his signature (the signed bytes do not change)"
FWTRUST_SIGNER=bob fwtrust cosign --key bob.pem release-4.0.0.bin
fwtrust verify --key alice.pub.pem --key bob.pub.pem --key carol.pub.pem --threshold 2 release-4.0.0.bin

say "The signing log: both signatures, an inclusion proof anyone can check, an audit"
fwtrust log show
fwtrust log verify
fwtrust log head -o head-1.json
fwtrust log prove 1 -o release-4.0.0.proof.json
fwtrust log check-proof --log-key log-key.pub.pem --sth head-1.json release-4.0.0.proof.json
fwtrust log audit --expect-key alice.pub.pem --expect-key bob.pub.pem --expect-key carol.pub.pem

# The device: trusts only the root (whose hash a real device has fused).
DEVICE=0
if command -v fwtrust-agent >/dev/null && command -v fwtrust-boot >/dev/null; then
    DEVICE=1
    say "A device that trusts only the root installs 4.0.0, boots it and confirms it"
    rm -rf device slot-a.bin slot-b.bin
    fwtrust-agent --device device init --hw-id lego-primehub --slot-a slot-a.bin --slot-b slot-b.bin \
        --trust-root root.pub.pem
    fwtrust-agent --device device install release-4.0.0.bin
    fwtrust-boot --device device
    fwtrust-agent --device device confirm
fi

say "Incident: carol's laptop is stolen, with her signing key (certified, key version 1)"
cp carol.pem stolen-key.pem
fwtrust sign --no-log --key stolen-key.pem --cert carol-v1.cert --version 9.9.9 --header-size 0x200 \
    --pad-header --security-counter 1 --hw-id lego-primehub "$FW" evil.bin
echo "the attacker's image passes a device still at minimum key version 1:"
fwtrust verify --root root.pub.pem --hw-id lego-primehub --min-key-version 1 evil.bin

say "Playbook: the root re-certifies the keys that are still safe with key version 2"
fwtrust cert issue --root root.pem --key alice.pub.pem --key-version 2 --hw-id lego-primehub -o alice-v2.cert
fwtrust keygen --type ed25519 -o carol-2.pem
fwtrust pubkey carol-2.pem -o carol-2.pub.pem
fwtrust cert issue --root root.pem --key carol-2.pub.pem --key-version 2 --hw-id lego-primehub -o carol-v2.cert
say "Release 4.0.1 carries the version-2 certificate (alice in the HSM, bob cosigns)"
FWTRUST_SIGNER=alice fwtrust sign --key "$HSM_KEY" --pin-file release.pin --cert alice-v2.cert \
    --version 4.0.1+6 --header-size 0x200 --pad-header --security-counter 1 --hw-id lego-primehub \
    "$FW" release-4.0.1.bin
FWTRUST_SIGNER=bob fwtrust cosign --key bob.pem release-4.0.1.bin
fwtrust verify --key alice.pub.pem --key bob.pub.pem --key carol-2.pub.pem --threshold 2 release-4.0.1.bin

if [ "$DEVICE" = 1 ]; then
    say "The device installs 4.0.1; confirming its boot raises the minimum key version to 2"
    fwtrust-agent --device device install release-4.0.1.bin
    fwtrust-boot --device device
    fwtrust-agent --device device confirm
    say "From now on the device refuses whatever the stolen key signs"
    expect_rc 30 FWT_E_KEY_VERSION fwtrust-agent --device device install evil.bin
    fwtrust-boot --device device
else
    echo "(fwtrust-agent is not built: the device side is shown with fwtrust verify)"
fi
say "Any verifier at minimum key version 2: the stolen key's image is refused, 4.0.1 is valid"
expect_rc 30 FWT_E_KEY_VERSION fwtrust verify --root root.pub.pem --hw-id lego-primehub --min-key-version 2 evil.bin
fwtrust verify --root root.pub.pem --hw-id lego-primehub --min-key-version 2 release-4.0.1.bin

say "The log only grew since the tree head published with 4.0.0 (consistency proof)"
fwtrust log consistency --since head-1.json -o since-4.0.0.json
fwtrust log head -o head-2.json
fwtrust log check-consistency --log-key log-key.pub.pem --old head-1.json --new head-2.json since-4.0.0.json
