# Shared helpers of the fleet end-to-end tests (sourced after tests/agentupdate/lib.sh):
# a fwtrust-server in $D on a free loopback port ($U), and file-backed devices that trust
# the image repository in $T/repo (setup_repo, publish) and the release key.
: "${SERVER:?}"

D=$T/srv
srv() { "$SERVER" --dir "$D" "$@"; }
srv_init() { "$SERVER" init "$D" >/dev/null || fail "server init"; }
srv_start() {
    rm -f "$T/ready"
    "$SERVER" --dir "$D" serve --listen 127.0.0.1:0 --ready-file "$T/ready" 2>>"$T/server.log" &
    SRV_PID=$!
    SERVER_PIDS="$SERVER_PIDS $SRV_PID"
    for _ in $(seq 100); do [ -s "$T/ready" ] && break; sleep 0.1; done
    [ -s "$T/ready" ] || { cat "$T/server.log" >&2; fail "the server did not start"; }
    U=https://127.0.0.1:$(awk '/^https/{print $2}' "$T/ready")
}
srv_stop() { kill "$SRV_PID" 2>/dev/null || true; wait "$SRV_PID" 2>/dev/null || true; }

# Devices: file-backed slots, the image repository as file://.
mkfdev() {
    local d=$1
    mkdir -p "$T/$d.slots"
    : >"$T/$d.slots/a"
    : >"$T/$d.slots/b"
    "$FWTRUST_AGENT" --device "$T/$d" init --hw-id lego-primehub --slot-a "$T/$d.slots/a" \
        --slot-b "$T/$d.slots/b" --trust-key "$T/rel.pub" --tuf-root "$T/repo/metadata/1.root.json" \
        --repo "file://$T/repo" --targets 'primehub/*' >/dev/null || fail "init $d"
}
devid() { "$PY" -c 'import configparser,sys; c=configparser.ConfigParser(); c.read(sys.argv[1]); print(c["fleet"]["device_id"])' "$T/$1/device.ini"; }
