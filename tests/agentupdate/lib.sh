# Shared helpers for the network update tests (sourced). Environment from CTest:
#   FWTRUST, FWTRUST_AGENT, FWTRUST_BOOT   the binaries
#   SRC                                    repository root
# Everything runs against a real nginx on 127.0.0.1 (scripts/serve-repo) over HTTPS with a
# pinned server key and a client certificate (mutual TLS), unless a test says otherwise.
set -eu
: "${FWTRUST:?}" "${FWTRUST_AGENT:?}" "${FWTRUST_BOOT:?}" "${SRC:?}"
. "$SRC/tests/lib/common.sh"
FW="$SRC/examples/firmware"

# jget FILE EXPR: a field of a JSON file (d is the parsed document).
jget() {
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$1" "$2"
}

fwt() { "$FWTRUST" "$@"; }
agent() { local d=$1; shift; "$FWTRUST_AGENT" --device "$T/$d" "$@"; }
boot() { "$FWTRUST_BOOT" --device "$T/$1"; }

# sign OUT VERSION [extra sign options]: a Pybricks release (b4 or b5 payload by VERSION's build
# unless PAYLOAD is set) signed with the release key for lego-primehub.
sign() {
    local out=$1 ver=$2 payload=${PAYLOAD:-}
    shift 2
    if [ -z "$payload" ]; then
        case "$ver" in *+4) payload=$FW/pybricks-primehub-v4.0.0b4.bin ;; *) payload=$FW/pybricks-primehub-v4.0.0b5.bin ;; esac
    fi
    fwt sign --no-log --key "${KEY:-$T/rel.pem}" --version "$ver" --header-size 0x200 --pad-header \
        --hw-id "${HW:-lego-primehub}" --security-counter "${CTR:-auto}" "$@" "$payload" "$T/$out" >/dev/null 2>&1 ||
        fail "could not sign $out"
}

# Release key, both Pybricks releases signed, patches b4 -> b5 (the default, the smaller of
# both kinds, and a zstd reference-prefix one) and b5 compressed.
setup_images() {
    fwt keygen --type ed25519 -o "$T/rel.pem" >/dev/null
    fwt pubkey "$T/rel.pem" -o "$T/rel.pub"
    sign b4.bin 4.0.0+4
    sign b5.bin 4.0.0+5
    fwt delta --from "$T/b4.bin" --to "$T/b5.bin" -o "$T/b5.from-b4.zpatch" >/dev/null
    fwt delta --from "$T/b4.bin" --to "$T/b5.bin" -o "$T/b5.prefix.zpatch" --method prefix >/dev/null
    fwt delta --to "$T/b5.bin" -o "$T/b5.bin.zst" >/dev/null
}

# An empty repository with one key per role (nothing published yet).
setup_repo() {
    local k
    for k in root targets snapshot timestamp; do fwt keygen --type ed25519 -o "$T/$k.pem" >/dev/null; done
    fwt repo init "$T/repo" --root-key "$T/root.pem" --targets-key "$T/targets.pem" \
        --snapshot-key "$T/snapshot.pem" --timestamp-key "$T/timestamp.pem" >/dev/null
}

# publish FILE... : add the files as targets primehub/BASENAME and publish.
publish() {
    fwt repo add-target "$T/repo" "$@" --prefix primehub/ --key "$T/targets.pem" >/dev/null ||
        fail "add-target $*"
    fwt repo publish "$T/repo" --key "$T/snapshot.pem" --key "$T/timestamp.pem" >/dev/null ||
        fail "publish"
}

# The served file of target primehub/NAME (hash-prefixed).
served() { ls "$T/repo/targets/primehub/"*".$1"; }

# nginx over HTTPS with mutual TLS; PIN is the server key's curl pin.
start_server() {
    "$SRC/scripts/serve-repo" start --root "$T/repo" --state "$T/srv" --mtls >/dev/null
    . "$T/srv/env"
    PIN="sha256//$(openssl x509 -in "$T/srv/server.pem" -pubkey -noout | openssl pkey -pubin -outform der |
        openssl dgst -sha256 -binary | base64)"
}

# mkdev NAME [init options]: a device with empty file-backed slots that trusts the release key
# and the repository's first root, talking HTTPS with the CA, the pin and the client certificate.
mkdev() {
    local d=$1
    shift
    mkdir -p "$T/$d.slots"
    : >"$T/$d.slots/a"
    : >"$T/$d.slots/b"
    "$FWTRUST_AGENT" --device "$T/$d" init --hw-id lego-primehub --slot-a "$T/$d.slots/a" \
        --slot-b "$T/$d.slots/b" --trust-key "$T/rel.pub" --tuf-root "$T/repo/metadata/1.root.json" \
        --repo "$HTTPS_URL" --ca "$CA" --client-cert "$CLIENT_CERT" --client-key "$CLIENT_KEY" \
        --pinned-pubkey "$PIN" "$@" >/dev/null || fail "init $d"
}

# The start most tests share: the images, a repository publishing b4 served over HTTPS, and a
# device "dev" (nothing installed yet).
serve_b4_with_device() {
    setup_images
    setup_repo
    publish "$T/b4.bin"
    start_server
    mkdev dev
}

# The first LEN bytes of slot S of device D equal FILE.
slot_holds() {
    local d=$1 s=$2 f=$3
    cmp -n "$(stat -c %s "$f")" "$T/$d.slots/$s" "$f" >/dev/null || fail "slot $s of $d does not hold $(basename "$f")"
}

# No trial pending on device D (nothing became bootable).
no_trial() {
    agent "$1" --json status >"$T/.st" || fail "status $1"
    [ "$(jget "$T/.st" 'd["trial"]')" = None ] || fail "device $1 has a trial slot after a refused update"
}

# update_ok D [args]: update succeeds (JSON in $T/.out); boot; confirm.
update_boot_confirm() {
    local d=$1
    shift
    expect 0 "" agent "$d" --json update "$@"
    cp "$T/.out" "$T/.upd"
    boot "$d" >/dev/null || fail "boot $d"
    agent "$d" confirm >/dev/null || fail "confirm $d"
}
