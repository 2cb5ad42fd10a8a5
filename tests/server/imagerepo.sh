#!/bin/bash
# A rollout's target must come from the image repository (fwtrust-server image-repo set):
# the server's TUF client refreshes the repository (signed metadata) and the target must
# be listed with the rollout's length, SHA-256 and hardware id; otherwise create is
# refused with the cause and nothing is created.
. "$(dirname "$0")/lib.sh"
R=$T/repo
"$FWTRUST" keygen --type ed25519 -o "$T/rel.pem" >/dev/null
"$FWTRUST" pubkey "$T/rel.pem" -o "$T/rel.pub.pem"
head -c 3000 /dev/urandom >"$T/payload.bin"
"$FWTRUST" sign --no-log --key "$T/rel.pem" --version 1.2.3 --header-size 0x200 --pad-header --hw-id board-1 \
    "$T/payload.bin" "$T/fw.bin" >/dev/null 2>&1 || fail "sign"
for k in root targets snapshot timestamp; do "$FWTRUST" keygen --type ed25519 -o "$T/$k.pem" >/dev/null; done
"$FWTRUST" repo init "$R" --root-key "$T/root.pem" --targets-key "$T/targets.pem" --snapshot-key "$T/snapshot.pem" \
    --timestamp-key "$T/timestamp.pem" >/dev/null
"$FWTRUST" repo add-target "$R" "$T/fw.bin" --prefix p/ --key "$T/targets.pem" --verify-key "$T/rel.pub.pem" >/dev/null
"$FWTRUST" repo publish "$R" --key "$T/snapshot.pem" --key "$T/timestamp.pem" >/dev/null
srv_init
srv_start
sim 200 "$T/e" enroll "$U" "$CA" "$(token)" board-1 "SN 1" "$T/d1"
"$SERVER" --dir "$D" image-repo set --metadata-url "file://$R/metadata/" --root "$R/metadata/1.root.json" >/dev/null ||
    fail "image-repo set"
LEN=$(stat -c %s "$T/fw.bin")
SHA=$(sha256sum "$T/fw.bin" | cut -d' ' -f1)
spec() { # spec TARGET LENGTH SHA HW [EXTRA-JSON-MEMBERS]
    echo "{\"name\":\"r\",\"target\":\"$1\",\"length\":$2,\"sha256\":\"$3\",\"hardware_id\":\"$4\",${5:+$5,}
          \"select\":{\"hardware_id\":\"$4\"},\"groups\":[{\"percent\":100,\"error_threshold_count\":1}]}" >"$T/spec.json"
}
spec p/missing.bin "$LEN" "$SHA" board-1
expect 8 "not in the image repository" "$SERVER" --dir "$D" rollout create --spec "$T/spec.json"
spec p/fw.bin "$((LEN + 1))" "$SHA" board-1
expect 1 "another length or SHA-256" "$SERVER" --dir "$D" rollout create --spec "$T/spec.json"
spec p/fw.bin "$LEN" "$(printf x | sha256sum | cut -d' ' -f1)" board-1
expect 1 "another length or SHA-256" "$SERVER" --dir "$D" rollout create --spec "$T/spec.json"
spec p/fw.bin "$LEN" "$SHA" board-2
expect 1 "other hardware" "$SERVER" --dir "$D" rollout create --spec "$T/spec.json"
# the critical tier's signature policy: fw.bin's target description records one verified signer
"$SERVER" --dir "$D" device tag "$(cat "$T/d1/id")" --add critical >/dev/null || fail "device tag"
spec p/fw.bin "$LEN" "$SHA" board-1 '"critical_min_signers":2'
expect 1 "records 1 verified signer" "$SERVER" --dir "$D" rollout create --spec "$T/spec.json"
"$SERVER" --dir "$D" rollout status --json | grep -q '"rollouts": *\[\]' || fail "a refused rollout was created"
spec p/fw.bin "$LEN" "$SHA" board-1 '"critical_min_signers":1'
"$SERVER" --dir "$D" rollout create --spec "$T/spec.json" --json >/dev/null || fail "a listed target was refused"
echo "image repository: ok"
