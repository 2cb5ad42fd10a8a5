#!/bin/bash
# Chapter 6: a fleet. fwtrust-server (SQLite, mutual TLS on 127.0.0.1) gives four file-backed
# devices an identity: they enroll with one-time tokens, check in with signed manifests, are
# assigned a release (one by its id, the others by a tag), update through the server's
# director checked against the image repository (Uptane full verification), boot, confirm
# and report; `fwtrust-server device list` shows who runs what. A director assignment the
# image repository does not vouch for is refused on the device, and the server hears why.
# Environment from scripts/demo: FWT_BIN, DEMO_DIR, FW_DIR, TOP; `say`.
set -euo pipefail
cd "$DEMO_DIR"
F=$DEMO_DIR/fleet
rm -rf "$F" && mkdir -p "$F"
export FWTRUST_SIGNLOG_PINS=$F/signlog-pins # the server's audit log key is pinned here
SRV_PID=
stop_server() { [ -z "$SRV_PID" ] || kill "$SRV_PID" 2>/dev/null || true; }
trap stop_server EXIT
refused() { # refused WANT CMD...: the command must fail with exit status WANT; show its error
    local want=$1 rc=0
    shift
    "$@" >/dev/null 2>"$F/err.txt" || rc=$?
    sed 's/^/  /' "$F/err.txt"
    echo "  exit status $rc"
    [ "$rc" = "$want" ] || { echo "demo: expected exit status $want" >&2; exit 1; }
}
sign_fw() { # sign_fw VERSION PAYLOAD OUT
    fwtrust sign --no-log --key "$F/release-key.pem" --version "$1" --header-size 0x200 --pad-header \
        --security-counter auto --hw-id lego-primehub "$2" "$3" >/dev/null 2>&1
}

say "Fleet: the image repository (what is authentic) with both Pybricks releases"
fwtrust keygen --type ed25519 -o "$F/release-key.pem" >/dev/null
fwtrust pubkey "$F/release-key.pem" -o "$F/release-key.pub.pem"
sign_fw 4.0.0+4 "$FW_DIR/pybricks-primehub-v4.0.0b4.bin" "$F/fw-4.0.0b4.bin"
sign_fw 4.0.0+5 "$FW_DIR/pybricks-primehub-v4.0.0b5.bin" "$F/fw-4.0.0b5.bin"
for k in root targets snapshot timestamp; do fwtrust keygen --type ed25519 -o "$F/repo-$k.pem" >/dev/null; done
fwtrust repo init "$F/repo" --root-key "$F/repo-root.pem" --targets-key "$F/repo-targets.pem" \
    --snapshot-key "$F/repo-snapshot.pem" --timestamp-key "$F/repo-timestamp.pem" >/dev/null
fwtrust repo add-target "$F/repo" "$F/fw-4.0.0b4.bin" "$F/fw-4.0.0b5.bin" --prefix lego-primehub/ \
    --key "$F/repo-targets.pem" --verify-key "$F/release-key.pub.pem" >/dev/null
fwtrust repo publish "$F/repo" --key "$F/repo-snapshot.pem" --key "$F/repo-timestamp.pem" >/dev/null
echo "  lego-primehub/fw-4.0.0b4.bin and lego-primehub/fw-4.0.0b5.bin, served as file://$F/repo"

say "The fleet server (the director: what each device should install now): init and serve on SQLite"
fwtrust-server init "$F/server" | sed 's/^/  /'
fwtrust-server --dir "$F/server" serve --listen 127.0.0.1:0 --ready-file "$F/ready" 2>"$F/server.log" &
SRV_PID=$!
for _ in $(seq 100); do [ -s "$F/ready" ] && break; sleep 0.1; done
[ -s "$F/ready" ] || { cat "$F/server.log" >&2; exit 1; }
U=https://127.0.0.1:$(awk '/^https/{print $2}' "$F/ready")
echo "  serving $U (device API over mutual TLS; the fleet CA is $F/server/ca/ca.pem)"

say "Four devices with file-backed slots enroll: a device key, a 30-day certificate, the director root"
ids=()
for n in 1 2 3 4; do
    d=$F/dev$n
    mkdir -p "$d.slots" && : >"$d.slots/a" && : >"$d.slots/b"
    fwtrust-agent --device "$d" init --hw-id lego-primehub --slot-a "$d.slots/a" --slot-b "$d.slots/b" \
        --trust-key "$F/release-key.pub.pem" --tuf-root "$F/repo/metadata/1.root.json" \
        --repo "file://$F/repo" --targets 'lego-primehub/*' >/dev/null 2>&1
    fwtrust-server --dir "$F/server" enroll-token create >"$F/token$n"
    fwtrust-agent --device "$d" enroll --server "$U" --token "$F/token$n" --ca "$F/server/ca/ca.pem" \
        --serial "PRIMEHUB-000$n" | sed "s/^/  dev$n: /"
    ids+=("$(sed -n 's/^device_id = //p' "$d/device.ini")")
done
echo "  a used token is refused:"
refused 9 fwtrust-agent --device "$F/dev4" enroll --server "$U" --token "$F/token1" --ca "$F/server/ca/ca.pem" \
    --serial PRIMEHUB-0099

say "Each device checks in with a signed manifest (slots, versions, counters, audit-log head)"
for n in 1 2 3 4; do fwtrust-agent --device "$F/dev$n" checkin | sed "s/^/  dev$n: /"; done

say "Nothing is assigned yet, so an enrolled device installs nothing, newer release or not"
refused 51 fwtrust-agent --device "$F/dev1" update

say "Assign 4.0.0b4 to the whole fleet (tag 'fleet'), then 4.0.0b5 to dev1 alone (release counter 2)"
for id in "${ids[@]}"; do fwtrust-server --dir "$F/server" device tag "$id" --add fleet >/dev/null; done
fwtrust-server --dir "$F/server" assign lego-primehub/fw-4.0.0b4.bin --tag fleet --file "$F/fw-4.0.0b4.bin" \
    --release-counter 1 | sed 's/^/  /'
fwtrust-server --dir "$F/server" assign lego-primehub/fw-4.0.0b5.bin --device "${ids[0]}" \
    --file "$F/fw-4.0.0b5.bin" --release-counter 2 | sed 's/^/  /'

say "Each device checks in, updates through director + image repository, boots, confirms (each step reported)"
for n in 1 2 3 4; do
    d=$F/dev$n
    fwtrust-agent --device "$d" checkin >/dev/null
    fwtrust-agent --device "$d" update | sed "s/^/  dev$n: /"
    fwtrust-boot --device "$d" >/dev/null
    fwtrust-agent --device "$d" confirm | sed "s/^/  dev$n: /"
    fwtrust-agent --device "$d" checkin >/dev/null
done

say "An attack on the director: dev4 is assigned an image the image repository never published"
sign_fw 4.0.0+9 "$FW_DIR/pybricks-primehub-v4.0.0b5.bin" "$F/evil.bin"
fwtrust-server --dir "$F/server" assign lego-primehub/evil.bin --device "${ids[3]}" --file "$F/evil.bin" \
    --release-counter 3 >/dev/null
fwtrust-agent --device "$F/dev4" checkin >/dev/null
refused 8 fwtrust-agent --device "$F/dev4" update
echo "  what the server heard from dev4:"
fwtrust-server --dir "$F/server" events --device "${ids[3]}" --limit 1 --json |
    python3 -c 'import json,sys; e=json.load(sys.stdin)["events"][0]; print("  %s: %s" % (e["kind"], e["detail"]))'

say "fwtrust-server device list: who runs what"
fwtrust-server --dir "$F/server" device list | sed 's/^/  /'
