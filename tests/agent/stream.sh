#!/bin/bash
# Streaming install: memory does not grow with the image size (peak RSS of
# fwtrust-agent for a 1 MiB and a 48 MiB image, file and pipe), and the slot
# holds exactly the bytes installed.
. "$(dirname "$0")/lib.sh"
keys
payload 1024 "$T/small.raw"
payload $((48 * 1024)) "$T/big.raw"
for n in small big; do
    expect 0 "" "$FWTRUST" sign --key "$T/k1.pem" --version 1.0.0 --header-size 0x200 --pad-header \
        --security-counter 1 --hw-id hw1 "$T/$n.raw" "$T/$n.bin"
done
# Peak RSS (KiB) of one agent run installing IMAGE into a new device: rss MODE IMAGE DEV
rss() {
    expect 0 "" "$AGENT" --device "$3" init --hw-id hw1 --slot-a "$3.a" --slot-b "$3.b" \
        --trust-key "$T/k1.pub"
    "$PY" - "$AGENT" "$3" "$1" "$2" <<'PYEOF'
import os, subprocess, sys
agent, dev, mode, img = sys.argv[1:]
if mode == "file":
    p = subprocess.Popen([agent, "--device", dev, "install", img], stdout=subprocess.DEVNULL)
else:
    f = open(img, "rb")
    p = subprocess.Popen([agent, "--device", dev, "install", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL)
    while True:
        b = f.read(1 << 16)
        if not b:
            break
        p.stdin.write(b)
    p.stdin.close()
_, status, ru = os.wait4(p.pid, 0)
if os.waitstatus_to_exitcode(status) != 0:
    sys.exit("install failed: %d" % os.waitstatus_to_exitcode(status))
print(ru.ru_maxrss)
PYEOF
}
for mode in file pipe; do
    s=$(rss "$mode" "$T/small.bin" "$T/s-$mode") || fail "small install ($mode)"
    b=$(rss "$mode" "$T/big.bin" "$T/b-$mode") || fail "big install ($mode)"
    echo "peak RSS ($mode): 1 MiB image ${s} KiB, 48 MiB image ${b} KiB"
    [ $((b - s)) -lt 4096 ] || fail "memory grows with the image size ($mode): $s KiB -> $b KiB"
    cmp "$T/big.bin" "$T/b-$mode.a" || fail "slot a does not hold exactly the image ($mode)"
    [ "$(jget 'd["slot"], d["trial"]' "$BOOT" --device "$T/b-$mode")" = "('a', True)" ] || fail "boot ($mode)"
done
echo "stream: ok"
