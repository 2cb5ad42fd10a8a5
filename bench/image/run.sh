#!/bin/bash
# Image benchmark: sign and verify a 256 MiB image with fwtrust and, in the same
# script, hash the same file with `openssl dgst -sha256`. Prints the wall times,
# the ratio verify/hash (goal: <= 1.1) and the peak RSS of sign and verify.
# Environment: FWT_BIN (directory holding fwtrust), BENCH_DIR (scratch space),
# BENCH_MIB (image size, default 256).
set -euo pipefail
FWTRUST="${FWT_BIN:?FWT_BIN must name the directory of the fwtrust binary}/fwtrust"
MIB="${BENCH_MIB:-256}"
D=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/fwt-bench.XXXXXX")
trap 'rm -rf "$D"' EXIT
export FWTRUST_NO_PROGRESS=1

"$FWTRUST" keygen --type ecdsa-p256 -o "$D/k.pem" >/dev/null
# Random content, so that nothing is sparse or compressible.
head -c $((MIB * 1024 * 1024)) /dev/urandom >"$D/fw.bin"

/usr/bin/python3 - "$FWTRUST" "$D" "$MIB" <<'PYEOF'
import subprocess, sys, time
fwt, d, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])

def run(cmd):
    """Wall time and peak RSS (KiB) of one command, measured by GNU time (whose
    child is a small process before exec, unlike a fork of this interpreter)."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", d + "/rss", *cmd],
                       stdout=subprocess.DEVNULL)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("bench: %s failed (exit %d)" % (" ".join(cmd[:2]), p.returncode))
    return dt, int(open(d + "/rss").read().split()[-1])

def best(cmd, n=3):
    r = [run(cmd) for _ in range(n)]
    return min(x[0] for x in r), max(x[1] for x in r)

# Warm the page cache so every run reads the file from memory alike.
run(["cat", d + "/fw.bin"])
sign_t, sign_rss = best([fwt, "sign", "--no-log", "--key", d + "/k.pem", "--version", "1.0.0",
                         "--header-size", "0x200", "--pad-header", d + "/fw.bin", d + "/fw.signed"], 2)
verify_t, verify_rss = best([fwt, "verify", "--key", d + "/k.pem", d + "/fw.signed"])
hash_t, hash_rss = best(["openssl", "dgst", "-sha256", d + "/fw.signed"])
print("image: %d MiB" % mib)
print("sign:             %7.3f s   peak RSS %6d KiB" % (sign_t, sign_rss))
print("verify:           %7.3f s   peak RSS %6d KiB" % (verify_t, verify_rss))
print("openssl sha256:   %7.3f s   peak RSS %6d KiB" % (hash_t, hash_rss))
ratio = verify_t / hash_t
print("ratio verify/hash: %.3f (goal <= 1.1) %s" % (ratio, "OK" if ratio <= 1.1 else "ABOVE GOAL"))
PYEOF
