#!/bin/bash
# Attestation benchmark (called by bench/run): a real TPM 2.0 (swtpm on loopback) enrolled
# and booted as in tests/attest, then
#   server side: quote verifications per second on one core (fwt_attest_verify) beside the
#                bare ECDSA P-256 verification rate of the same OpenSSL, in the same run
#                (goal: at least half);
#   device side: the time of one quote against swtpm (library call, and the whole
#                `fwtrust-agent attest quote` command).
# Environment: FWT_BIN (built tools, default build/src/tools), SECONDS_PER_RATE (default 3),
# QUOTES (default 50).
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
FWT_BIN=${FWT_BIN:-$TOP/build/src/tools}
BENCH=${BENCH_ATTEST:-$(dirname "$FWT_BIN")/../tests/attest/bench_attest}
[ -x "$BENCH" ] || { echo "bench/attest: $BENCH not built" >&2; exit 1; }
command -v swtpm >/dev/null || { echo "bench/attest: swtpm not installed: skipped"; exit 0; }
export SRC=$TOP FWTRUST=$FWT_BIN/fwtrust AGENT=$FWT_BIN/fwtrust-agent BOOT=$FWT_BIN/fwtrust-boot
set +u
. "$TOP/tests/attest/lib.sh"
set -u
setup_enrolled_device
expect 0 "" A install "$T/v1.bin"
expect 0 "" "$BOOT" --device "$T/dev"
N=$(nonce)
expect 0 "" A attest quote --nonce "$N" -o "$T/ev.json"
expect 0 "attestation passed" verify "$T/ev.json" --nonce "$N"
echo "bench/attest: server side, one core ($(nproc) online)"
taskset -c 0 "$BENCH" verify "$T/ak.json" "$T/ev.json" "$T/catalog.json" "${SECONDS_PER_RATE:-3}"
"$BENCH" quote "$TPM_SPEC" "${QUOTES:-50}"
t0=$(date +%s%N)
for i in $(seq 10); do A attest quote --nonce "$N" >/dev/null; done
echo "  device: fwtrust-agent attest quote (whole command, incl. event log)  $(( ($(date +%s%N) - t0) / 10000000 )) ms (mean of 10)"
