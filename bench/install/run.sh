#!/bin/bash
# Install benchmark (called by bench/run):
#  1. A signed 256 MiB image installed into a file-backed slot by `fwtrust-agent install`
#     (streamed, hashed as written, fsync'ed, header and TLV areas read back, verified by
#     the core, marked for trial) beside `cp` + `sync` of the same bytes to the same disk, and
#     `openssl dgst -sha256` of the source (one hash pass, nothing written): wall times and peak
#     RSS (GNU time). A verified install must both hash and write every byte, so its floor is
#     the larger of the two, max(hash, cp + sync): where hashing alone takes longer than the
#     copy, no install can come near cp + sync. Two ratios: install / (cp + sync), and install /
#     max(hash, cp + sync) with the goal <= 1.2 (full overlap of reading, hashing and writing
#     approaches 1.0). For scale: the install with `--readback full` (the whole slot read back
#     from the medium and hashed again).
#  2. The same image through `fwtrust-agent update` from nginx over HTTPS with mutual TLS
#     (TUF refresh, download streamed into the slot): wall time and peak RSS.
#  3. Update sizes for the two Pybricks releases (4.0.0b4 -> 4.0.0b5): our zstd patch beside
#     the full image, the zstd-compressed image and bsdiff's patch.
# Environment: FWT_BIN (built tools, default build/src/tools), BENCH_DIR (scratch space on
# the disk to measure), BENCH_MIB (image size, default 256), RUNS (default 5, best kept).
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
FWT_BIN=${FWT_BIN:-$TOP/build/src/tools}
FWTRUST=$FWT_BIN/fwtrust
AGENT=$FWT_BIN/fwtrust-agent
MIB=${BENCH_MIB:-256}
RUNS=${RUNS:-5}
export FWTRUST_NO_PROGRESS=1
[ -x "$AGENT" ] || { echo "bench/install: $AGENT not built" >&2; exit 1; }
W=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/fwt-install-bench.XXXXXX")
chmod 755 "$W"
cleanup() { "$TOP/scripts/serve-repo" stop --state "$W/srv" >/dev/null 2>&1 || true; rm -rf "$W"; }
trap cleanup EXIT

"$FWTRUST" keygen --type ed25519 -o "$W/k.pem" >/dev/null
"$FWTRUST" pubkey "$W/k.pem" -o "$W/k.pub"
head -c $((MIB * 1024 * 1024)) /dev/urandom >"$W/fw.raw" # incompressible, nothing sparse
"$FWTRUST" sign --no-log --key "$W/k.pem" --version 1.0.0 --header-size 0x200 --pad-header \
    --hw-id bench-board "$W/fw.raw" "$W/fw.bin" >/dev/null 2>&1
rm -f "$W/fw.raw"

# A repository with the image, served over HTTPS with a client certificate (for part 2).
for k in root targets snapshot timestamp; do "$FWTRUST" keygen --type ed25519 -o "$W/$k.pem" >/dev/null; done
"$FWTRUST" repo init "$W/repo" --root-key "$W/root.pem" --targets-key "$W/targets.pem" \
    --snapshot-key "$W/snapshot.pem" --timestamp-key "$W/timestamp.pem" >/dev/null
"$FWTRUST" repo add-target "$W/repo" "$W/fw.bin" --name board/fw.bin --key "$W/targets.pem" >/dev/null
"$FWTRUST" repo publish "$W/repo" --key "$W/snapshot.pem" --key "$W/timestamp.pem" >/dev/null
"$TOP/scripts/serve-repo" start --root "$W/repo" --state "$W/srv" --mtls >/dev/null
. "$W/srv/env"

/usr/bin/python3 - "$W" "$AGENT" "$FWTRUST" "$MIB" "$RUNS" "$TOP" "$HTTPS_URL" "$CA" "$CLIENT_CERT" "$CLIENT_KEY" <<'PYEOF'
import os, shutil, subprocess, sys, time
w, agent, fwtrust, mib, runs, top, url, ca, cert, key = sys.argv[1:]
runs = int(runs)

def run(cmd, env=None):
    """Wall time and peak RSS (KiB) of one command, measured by GNU time."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", w + "/rss", *cmd],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("bench/install: %s failed (exit %d): %s" % (" ".join(cmd[:4]), p.returncode,
                                                             p.stderr.decode()[-400:]))
    return dt, int(open(w + "/rss").read().split()[-1])

def fresh_device(name, net=False):
    d = os.path.join(w, name)
    shutil.rmtree(d, ignore_errors=True)
    for s in ("a", "b"):
        p = os.path.join(w, name + "." + s)
        if os.path.exists(p):
            os.unlink(p)
        open(p, "wb").close()
    cmd = [agent, "--device", d, "init", "--hw-id", "bench-board", "--slot-a", d + ".a",
           "--slot-b", d + ".b", "--trust-key", w + "/k.pub"]
    if net:
        cmd += ["--tuf-root", w + "/repo/metadata/1.root.json", "--repo", url, "--ca", ca,
                "--client-cert", cert, "--client-key", key]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["sync"], check=True)
    return d

img = w + "/fw.bin"
run(["cat", img])  # warm the page cache: every run reads the source from memory alike
inst, cp, full, dgst, upd = [], [], [], [], []
for i in range(runs):
    d = fresh_device("dev")
    inst.append(run([agent, "--device", d, "install", img]))
    dst = w + "/copy.bin"
    if os.path.exists(dst):
        os.unlink(dst)
    subprocess.run(["sync"], check=True)
    cp.append(run(["sh", "-c", 'cp "$0" "$1" && sync', img, dst]))
    os.unlink(dst)
    subprocess.run(["sync"], check=True)
    d = fresh_device("devfull")
    full.append(run([agent, "--device", d, "install", "--readback", "full", img]))
    dgst.append(run(["openssl", "dgst", "-sha256", img]))
    d = fresh_device("netdev", net=True)
    upd.append(run([agent, "--device", d, "update"]))
    for p in (w + "/dev.a", w + "/devfull.a", w + "/netdev.a", dst):
        if os.path.exists(p):
            os.unlink(p)

best = lambda r: (min(x[0] for x in r), max(x[1] for x in r))
it, irss = best(inst); ct, crss = best(cp); ft, frss = best(full); ht, hrss = best(dgst)
ut, urss = best(upd)
print("image: %s MiB, best of %d runs, same disk (%s)" % (mib, runs, w))
print("fwtrust-agent install:    %7.3f s   peak RSS %7d KiB" % (it, irss))
print("cp + sync:                %7.3f s   peak RSS %7d KiB" % (ct, crss))
print("openssl dgst -sha256:      %7.3f s   (one hash pass over the source, nothing written)" % ht)
floor = max(ht, ct)
ratio = it / floor
print("ratio install/(cp+sync):  %.3f" % (it / ct))
print("ratio install/max(hash, cp+sync): %.3f (floor %.3f s, the %s; goal <= 1.2) %s"
      % (ratio, floor, "hash" if ht > ct else "copy", "OK" if ratio <= 1.2 else "ABOVE GOAL"))
print("for scale: install --readback full: %.3f s (%.3f of cp + sync, %.3f of the floor), peak RSS %d KiB"
      % (ft, ft / ct, ft / floor, frss))
print("fwtrust-agent update (HTTPS, mTLS, nginx on 127.0.0.1): %7.3f s   peak RSS %7d KiB" % (ut, urss))
PYEOF

# Update sizes for the Pybricks releases.
FW=$TOP/examples/firmware
for v in 4 5; do
    "$FWTRUST" sign --no-log --key "$W/k.pem" --version 4.0.0+$v --header-size 0x200 --pad-header \
        --hw-id lego-primehub "$FW/pybricks-primehub-v4.0.0b$v.bin" "$W/b$v.bin" >/dev/null 2>&1
done
"$FWTRUST" delta --from "$W/b4.bin" --to "$W/b5.bin" -o "$W/p.zpatch" >/dev/null
"$FWTRUST" delta --from "$W/b4.bin" --to "$W/b5.bin" -o "$W/pp.zpatch" --method prefix >/dev/null
enc=$("$FWTRUST" delta --info "$W/p.zpatch" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["encoding"])')
"$FWTRUST" delta --to "$W/b5.bin" -o "$W/b5.zst" >/dev/null
full=$(stat -c %s "$W/b5.bin") patch=$(stat -c %s "$W/p.zpatch") z=$(stat -c %s "$W/b5.zst")
echo "Pybricks 4.0.0b4 -> 4.0.0b5 (signed images):"
printf '  %-40s %8d bytes\n' "full image" "$full" "zstd-compressed image (ours)" "$z" \
    "zstd-patch, reference prefix (ours)" "$(stat -c %s "$W/pp.zpatch")" "patch delivered ($enc, ours)" "$patch"
if command -v bsdiff >/dev/null 2>&1; then
    bsdiff "$W/b4.bin" "$W/b5.bin" "$W/p.bsdiff"
    bs=$(stat -c %s "$W/p.bsdiff")
    printf '  %-40s %8d bytes\n' "bsdiff patch (bsdiff 4.3)" "$bs"
    /usr/bin/python3 -c 'import sys; p,b,f,z=map(int,sys.argv[1:]); print("  patch/full %.3f, patch/compressed %.3f, patch/bsdiff %.3f (goal <= 1.0) %s" % (p/f, p/z, p/b, "OK" if p <= b else "ABOVE GOAL"))' "$patch" "$bs" "$full" "$z"
else
    echo "  bsdiff not installed: no comparison"
fi
