#!/bin/bash
# fwtrust attest catalog: the images a device may run are those published in the TUF
# repository AND recorded in the signing log (checked against its pinned key): an image
# logged but never published, or published but never logged, is not in the catalog. Digests
# and signers are checked independently (fwtrust inspect, fwtrust keygen); a damaged log, a
# wrong log key and a file that is not targets metadata are refused.
. "$(dirname "$0")/../agent/lib.sh"
F() { "$FWTRUST" "$@"; }
expect 0 "" F keygen --type ed25519 -o "$T/k1.pem"
KH=$(sed -n 's/.*key hash \([0-9a-f]*\).*/\1/p' "$T/.out")
expect 0 "" F pubkey "$T/k1.pem" -o "$T/k1.pub"
expect 0 "" F keygen --type ecdsa-p256 -o "$T/logkey.pem"
expect 0 "" F pubkey "$T/logkey.pem" -o "$T/logkey.pub"
expect 0 "" F keygen --type ecdsa-p256 -o "$T/other.pem"
expect 0 "" F pubkey "$T/other.pem" -o "$T/other.pub"
expect 0 "" F log init --log "$T/log.db" --log-key "$T/logkey.pem"
mkimg "$T/v1.bin" 1.0.0 1 --log "$T/log.db"
mkimg "$T/v2.bin" 2.0.0 2 --log "$T/log.db"
mkimg "$T/v3.bin" 3.0.0 3 --log "$T/log.db"   # logged, never published
mkimg "$T/v4.bin" 4.0.0 4 --no-log             # published, never logged
for k in root targets snapshot timestamp; do expect 0 "" F keygen --type ed25519 -o "$T/$k.pem"; done
expect 0 "" F repo init "$T/repo" --root-key "$T/root.pem" --targets-key "$T/targets.pem" \
    --snapshot-key "$T/snapshot.pem" --timestamp-key "$T/timestamp.pem"
expect 0 "" F repo add-target "$T/repo" "$T/v1.bin" "$T/v4.bin" --prefix hw1/ --key "$T/targets.pem"
expect 0 "" F repo add-target "$T/repo" "$T/v2.bin" --prefix hw1/ --key "$T/targets.pem" --verify-key "$T/k1.pub"
expect 0 "" F repo publish "$T/repo" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
TG=$T/repo/metadata/1.targets.json

expect 0 "" F attest catalog --targets "$TG" --log "$T/log.db" -o "$T/cat.json"
for v in v1 v2; do F inspect --json "$T/$v.bin" >"$T/$v.i.json" || fail inspect; done
"$PY" - "$T" "$KH" <<'PY' || fail "catalog: $(cat "$T/cat.json")"
import json, sys
t, kh = sys.argv[1], sys.argv[2]
cat = json.load(open(t + "/cat.json"))
want = []
for v in ("v1", "v2"):
    d = json.load(open("%s/%s.i.json" % (t, v)))
    dig = [x["value"] for x in d["tlvs"] if x["name"] == "SHA256"][0]
    want.append({"name": "hw1/%s.bin" % v, "version": d["header"]["version"], "image_digest": dig,
                 "signer_keyhash": kh})
assert cat == want, (cat, want)
PY
# Without the log only targets whose publisher verified the signer (--verify-key) count.
[ "$(jget '[e["name"] for e in d]' F attest catalog --targets "$TG")" = "['hw1/v2.bin']" ] ||
    fail "catalog without the log: $(cat "$T/.j")"
# The log is checked against its pinned key, or --log-key; another key is refused.
expect 0 "" F attest catalog --targets "$TG" --log "$T/log.db" --log-key "$T/logkey.pub"
rc=0
F attest catalog --targets "$TG" --log "$T/log.db" --log-key "$T/other.pub" >/dev/null 2>&1 || rc=$?
[ "$rc" = 22 ] || [ "$rc" = 7 ] || fail "a log checked against another key: exit $rc"
# A damaged log (an entry's bytes changed in the database) is refused.
cp "$T/log.db" "$T/log.bak"
"$PY" - "$T/log.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
tables = [r[0] for r in c.execute("select name from sqlite_master where type='table'")]
done = False
for tb in tables:
    cols = [r[1] for r in c.execute("pragma table_info(%s)" % tb)]
    if "entry" in cols:
        row = c.execute("select rowid, entry from %s limit 1" % tb).fetchone()
        e = row[1] if isinstance(row[1], str) else row[1].decode()
        c.execute("update %s set entry=? where rowid=?" % tb, (e.replace("1.0.0", "9.0.0"), row[0]))
        done = True
        break
c.commit()
assert done, tables
PY
expect 11 "" F attest catalog --targets "$TG" --log "$T/log.db"
cp "$T/log.bak" "$T/log.db"
# Not targets metadata.
expect 40 "not TUF targets metadata" F attest catalog --targets "$T/repo/metadata/1.root.json"
echo "attest_catalog: ok"
