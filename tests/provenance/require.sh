#!/bin/bash
# A device that requires provenance ([update] require_provenance = yes): update fetches
# the envelope the repository published with the image (custom.provenance.bound) and
# installs the image only when its protected provenance TLV is that envelope's SHA-256;
# an image whose repository published no envelope is refused (8), and so is any image
# without the TLV, at update and at a local install (21).
. "$SRC/tests/agentupdate/lib.sh"
fwt keygen --type ed25519 -o "$T/rel.pem" >/dev/null
fwt pubkey "$T/rel.pem" -o "$T/rel.pub"
fwt keygen --type ed25519 -o "$T/ci.pem" >/dev/null
fwt pubkey "$T/ci.pem" -o "$T/ci.pub"
B4=$FW/pybricks-primehub-v4.0.0b4.bin
B5=$FW/pybricks-primehub-v4.0.0b5.bin
mkprov() { # mkprov OUT ARTIFACT
    fwt provenance make -k "$T/ci.pem" --builder-id https://ci.example/runner \
        --source-uri git+https://github.com/pybricks/pybricks-micropython --source-revision v4.0.0 \
        --name "$(basename "$2")" -o "$1" "$2" >/dev/null || fail "provenance make"
}
mkprov "$T/b4.env" "$B4"
mkprov "$T/b5.env" "$B5"
sign b4.bin 4.0.0+4 --provenance "$T/b4.env"
sign b5.bin 4.0.0+5 --provenance "$T/b5.env"
sign b5-plain.bin 4.0.0+5
setup_repo
# b4 is published without its envelope (no policy yet).
publish "$T/b4.bin"
start_server
mkdev dev --require-provenance
grep -q '^require_provenance = yes' "$T/dev/device.ini" || fail "require_provenance not in device.ini"
expect 8 "has no provenance envelope" agent dev update
no_trial dev

# The repository gets a policy; b5 is published with its envelope.
"$PY" - "$T/ci.pub" "$T/repo/provenance-policy.json" <<'PYEOF'
import json, sys
json.dump({"version": 1, "source_uri": "git+https://github.com/pybricks/pybricks-micropython",
           "builders": [{"id": "https://ci.example/runner", "keys": [open(sys.argv[1]).read()]}]},
          open(sys.argv[2], "w"))
PYEOF
fwt repo add-target "$T/repo" "$T/b5.bin" --prefix primehub/ --key "$T/targets.pem" --provenance "$T/b5.env" \
    >/dev/null || fail "add-target b5 with provenance"
fwt repo publish "$T/repo" --key "$T/snapshot.pem" --key "$T/timestamp.pem" >/dev/null || fail "publish"
update_boot_confirm dev
slot_holds dev a "$T/b5.bin"

# A local install without the TLV is refused on this device.
expect 21 "binds no provenance envelope" agent dev install "$T/b5-plain.bin"
echo "require provenance: ok"
