#!/bin/bash
# Streaming: signing and verifying a 64 MiB (sparse) image keeps peak memory
# far below the image size.
. "$(dirname "$0")/lib.sh"
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/k.pem"
truncate -s 64M "$T/big.bin"
printf 'firmware start' | dd of="$T/big.bin" bs=1 seek=4096 conv=notrunc status=none
"$PY" - "$FWTRUST" "$T" <<'PYEOF' || fail "large image"
import resource, subprocess, sys
fwt, t = sys.argv[1], sys.argv[2]
def run(*args):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([fwt, *args], check=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, max over children
rss_sign = run("sign", "--key", t + "/k.pem", "--header-size", "0x200", "--pad-header",
               t + "/big.bin", t + "/big.signed.bin")
rss_verify = run("verify", "--key", t + "/k.pem", t + "/big.signed.bin")
print("peak RSS (max of sign and verify): %d KiB" % max(rss_sign, rss_verify))
# 64 MiB image; a whole-file read would need > 65536 KiB. Allow ASan's overhead.
assert rss_verify < 48 * 1024, rss_verify
PYEOF
[ "$(stat -c %s "$T/big.signed.bin")" -gt $((64 * 1024 * 1024)) ] || fail "signed size"
echo "large: ok"
