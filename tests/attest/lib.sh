# Shared helpers of the attestation tests (sourced): a real TPM 2.0 (swtpm) with an
# EK certificate issued by a local CA (swtpm_setup + swtpm_localca), on a free
# loopback port, started and stopped by the test.
#   tpm_manufacture DIR   TPM state and EK certificate; DIR/ca.pem: the "manufacturer" CAs
#   tpm_start DIR         start swtpm on DIR's state; sets TPM_SPEC, TPM_CTRL_PORT
#   tpm_reset             power-cycle: the PCRs reset, the reset count increments
#   tpm_stop              stop it (common.sh's cleanup kills it on exit otherwise)
. "$(dirname "${BASH_SOURCE[0]}")/../agent/lib.sh"

skip() {
    echo "SKIP: $*"
    exit 77
}
for p in swtpm swtpm_setup swtpm_localca swtpm_ioctl; do
    command -v "$p" >/dev/null 2>&1 || skip "$p is not installed (Debian swtpm, swtpm-tools)"
done

TPM_PID=
tpm_manufacture() {
    local d=$1
    mkdir -p "$d/state" "$d/ca" "$d/ekc"
    cat >"$d/localca.conf" <<CONF
statedir = $d/ca
signingkey = $d/ca/signkey.pem
issuercert = $d/ca/issuercert.pem
certserial = $d/ca/certserial
CONF
    cat >"$d/setup.conf" <<CONF
create_certs_tool= $(command -v swtpm_localca)
create_certs_tool_config = $d/localca.conf
create_certs_tool_options = /dev/null
active_pcr_banks = sha256
CONF
    swtpm_setup --tpm2 --tpm-state "$d/state" --config "$d/setup.conf" --create-ek-cert \
        --write-ek-cert-files "$d/ekc" --overwrite >"$d/setup.log" 2>&1 ||
        { cat "$d/setup.log" >&2; fail "swtpm_setup failed"; }
    cat "$d/ca/issuercert.pem" "$d/ca/swtpm-localca-rootca-cert.pem" >"$d/ca.pem"
}

free_port_pair() {
    "$PY" - <<'PY'
import socket
for _ in range(200):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1))
    except OSError:
        a.close(); b.close(); continue
    a.close(); b.close(); print(p); break
PY
}

tpm_start() {
    local d=$1 port
    port=$(free_port_pair)
    [ -n "$port" ] || fail "no free port pair"
    swtpm socket --tpm2 --tpmstate dir="$d/state" \
        --server type=tcp,port="$port",bindaddr=127.0.0.1 \
        --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
        --flags not-need-init --log file="$d/swtpm.log" >/dev/null 2>&1 &
    TPM_PID=$!
    SERVER_PIDS="$SERVER_PIDS $TPM_PID"
    TPM_SPEC="swtpm:host=127.0.0.1,port=$port"
    TPM_CTRL_PORT=$((port + 1))
    for _ in $(seq 100); do
        swtpm_ioctl --tcp 127.0.0.1:"$TPM_CTRL_PORT" -g >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    fail "swtpm did not start"
}

tpm_reset() {
    # CMD_INIT: a TPM reset as at power-on (PCRs back to zero, resetCount + 1); fwt_tpm_open
    # sends TPM2_Startup(CLEAR) as firmware would.
    swtpm_ioctl --tcp 127.0.0.1:"$TPM_CTRL_PORT" -i >/dev/null || fail "swtpm reset failed"
}

tpm_stop() {
    if [ -n "$TPM_PID" ]; then
        swtpm_ioctl --tcp 127.0.0.1:"$TPM_CTRL_PORT" -s >/dev/null 2>&1 || kill "$TPM_PID" 2>/dev/null
        wait "$TPM_PID" 2>/dev/null
        TPM_PID=
    fi
}

# A device with a TPM: keys, images v1 and v2 (signed into a signing log, published in a TUF
# repository), device with [device] tpm, enrolled AK in $T/ak.json, the catalog of both
# images in $T/catalog.json (in order v1, v2), the server key $T/server.pem.
A() { "$AGENT" --device "$T/dev" "$@"; }
F() { "$FWTRUST" "$@"; }
setup_enrolled_device() {
    tpm_manufacture "$T/tpm"
    tpm_start "$T/tpm"
    expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/k1.pem"
    expect 0 "" "$FWTRUST" pubkey "$T/k1.pem" -o "$T/k1.pub"
    # Both images signed into a signing log and published in a TUF repository: the catalog is
    # what both hold (fwtrust attest catalog), as the server builds it.
    expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/logkey.pem"
    expect 0 "" "$FWTRUST" log init --log "$T/log.db" --log-key "$T/logkey.pem"
    mkimg "$T/v1.bin" 1.0.0 1 --log "$T/log.db"
    mkimg "$T/v2.bin" 2.0.0 2 --log "$T/log.db"
    mkdev
    sed -i "s|^\[device\]|[device]\ntpm = $TPM_SPEC|" "$T/dev/device.ini"
    expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/server.pem"
    expect 0 "" "$FWTRUST" pubkey "$T/server.pem" -o "$T/server.pub"
    local k
    for k in root targets snapshot timestamp; do
        expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/$k.pem"
    done
    expect 0 "" "$FWTRUST" repo init "$T/repo" --root-key "$T/root.pem" --targets-key "$T/targets.pem" \
        --snapshot-key "$T/snapshot.pem" --timestamp-key "$T/timestamp.pem"
    expect 0 "" "$FWTRUST" repo add-target "$T/repo" "$T/v1.bin" "$T/v2.bin" --key "$T/targets.pem"
    expect 0 "" "$FWTRUST" repo publish "$T/repo" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
    expect 0 "" "$FWTRUST" attest catalog --targets "$T/repo/metadata/1.targets.json" --log "$T/log.db" \
        -o "$T/catalog.json"
    [ "$(jget 'sorted(e["name"] for e in d)' cat "$T/catalog.json")" = "['v1.bin', 'v2.bin']" ] ||
        fail "catalog: $(cat "$T/catalog.json")"
    # Enrollment: request, challenge (EK certificate against the local CA), activation.
    expect 0 "" A attest request -o "$T/req.json"
    expect 0 "" F attest challenge "$T/req.json" --ek-ca "$T/tpm/ca.pem" --state "$T/pending.json" \
        -o "$T/challenge.json"
    expect 0 "" A attest activate "$T/challenge.json" -o "$T/act.json"
    expect 0 "" F attest activate "$T/pending.json" "$T/act.json" -o "$T/ak.json"
}

# verify EVIDENCE [options]: fwtrust attest verify with the device's AK, catalog and store.
verify() {
    local ev=$1
    shift
    "$FWTRUST" attest verify "$ev" --ak "$T/ak.json" --catalog "$T/catalog.json" --store "$T/ns" \
        --key "$T/server.pem" --hw-id hw1 "$@"
}
nonce() { "$FWTRUST" attest nonce --store "$T/ns"; }
