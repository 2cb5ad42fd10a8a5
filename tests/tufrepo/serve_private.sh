#!/bin/bash
# scripts/serve-repo serves a repository that lies under a private (mode 700) directory, as
# the demo's does in a clone in root's home: the files come back over HTTP and HTTPS, a file
# replaced after the start (as `fwtrust repo publish` does, by rename) is served new, and
# stop leaves no nginx and no mount point behind. As root, nginx runs as nobody, who cannot
# pass the private parent: serve-repo must say it serves through bind mounts.
. "$(dirname "$0")/lib.sh"
H=$T/home          # like /root on Debian
mkdir -m 700 "$H"
CLONE=$H/fwtrust/demo-out
R=$CLONE/repo
SRV=$CLONE/repo-server
mkdir -p "$R/metadata" "$R/targets/lego-primehub"
echo '{"signed":{"version":1}}' >"$R/metadata/1.root.json"
head -c 70000 /dev/urandom >"$R/targets/lego-primehub/firmware.bin"
stop_srv() { "$SRC/scripts/serve-repo" stop --state "$SRV" >/dev/null 2>&1 || true; fwt_test_cleanup; }
trap stop_srv EXIT

expect 0 "HTTPS_URL=" "$SRC/scripts/serve-repo" start --root "$R" --state "$SRV"
if [ "$(id -u)" = 0 ]; then
    grep -q "bind mounts" "$T/.err" || fail "as root, serve-repo did not say how nobody reaches $R"
fi
. "$SRV/env"
pid=$(cat "$PIDFILE")
curl -sf -o "$T/fw.http" "$HTTP_URL/targets/lego-primehub/firmware.bin" || fail "HTTP fetch failed"
cmp "$R/targets/lego-primehub/firmware.bin" "$T/fw.http" || fail "HTTP served other bytes"
curl -sf --cacert "$CA" -o "$T/root.https" "$HTTPS_URL/metadata/1.root.json" || fail "HTTPS fetch failed"
cmp "$R/metadata/1.root.json" "$T/root.https" || fail "HTTPS served other bytes"

# Nothing but the served tree: hidden files (the repository tool's journal in .txn/) and repo.json
# are not served.
mkdir -p "$R/.txn" && echo journal >"$R/.txn/journal" && echo '{}' >"$R/repo.json" && echo x >"$R/metadata/.tmp"
for p in .txn/journal repo.json metadata/.tmp; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/$p")
    [ "$code" = 404 ] || fail "$p is served (HTTP $code)"
done
rm -rf "$R/.txn" "$R/repo.json" "$R/metadata/.tmp"

# Published while serving: a new file and a replaced one are what is served next.
echo '{"signed":{"version":2}}' >"$R/metadata/.new" && mv "$R/metadata/.new" "$R/metadata/timestamp.json"
echo '{"signed":{"version":9}}' >"$R/metadata/.new" && mv "$R/metadata/.new" "$R/metadata/1.root.json"
curl -sf -o "$T/ts" "$HTTP_URL/metadata/timestamp.json" || fail "a file added after the start is not served"
cmp "$R/metadata/timestamp.json" "$T/ts" || fail "the added file was served with other bytes"
curl -sf -o "$T/root2" "$HTTP_URL/metadata/1.root.json" || fail "a replaced file is not served"
cmp "$R/metadata/1.root.json" "$T/root2" || fail "a replaced file was served old"
grep -q "GET /targets/lego-primehub/firmware.bin 200 70000" "$SRV/access.log" ||
    fail "access log lacks the download: $(cat "$SRV/access.log")"

view=""
[ -f "$SRV/view" ] && view=$(cat "$SRV/view")
expect 0 "" "$SRC/scripts/serve-repo" stop --state "$SRV"
! kill -0 "$pid" 2>/dev/null || fail "nginx (pid $pid) still runs after stop"
if [ -n "$view" ]; then
    [ ! -e "$view" ] || fail "stop left $view behind"
fi
! grep -q " $H/" /proc/mounts || fail "a bind mount of $H leaked into this namespace"
echo "serve_private: ok${view:+ (through $view)}"
