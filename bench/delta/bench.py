"""bench/delta (run by run.sh): fetch the corpus, pair versions per hardware, run fwtrust
delta, bsdiff and zstd --patch-from on the same signed images, print the table."""
import base64, glob, hashlib, io, json, math, os, re, shutil, subprocess, sys, time, zipfile

top, fwtrust, cache, w = sys.argv[1:5]
only = re.compile(os.environ.get("DELTA_PAIRS", ""))


def fetch(spec, integrity, sha256):
    """The npm tarball of spec, from the cache or `npm pack`, checked against both pins."""
    name = spec.lstrip("@").replace("/", "-").replace("@", "-") + ".tgz"
    path = os.path.join(cache, name)
    if not os.path.exists(path):
        tmp = os.path.join(w, "npm")
        os.makedirs(tmp, exist_ok=True)
        out = subprocess.run(["npm", "pack", spec, "--json", "--pack-destination", tmp],
                             check=True, capture_output=True, text=True).stdout
        got = os.path.join(tmp, json.loads(out)[0]["filename"])
        shutil.move(got, path)
    data = open(path, "rb").read()
    s512 = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if s512 != integrity or hashlib.sha256(data).hexdigest() != sha256:
        os.unlink(path)
        sys.exit(f"bench/delta: {spec}: checksum mismatch (removed from the cache)")
    return path


def untar(tgz, dest):
    os.makedirs(dest, exist_ok=True)
    subprocess.run(["tar", "xzf", tgz, "-C", dest], check=True)
    return os.path.join(dest, "package")


def ihex_to_bin(path):
    """An Intel HEX file's flash image (addresses below 0x10000000: UICR and other
    configuration records above it are not flash), gaps filled with 0xFF, from address 0."""
    mem, ext = {}, 0
    for line in open(path):
        line = line.strip()
        if not line.startswith(":"):
            continue
        b = bytes.fromhex(line[1:])
        n, addr, typ, d = b[0], b[1] << 8 | b[2], b[3], b[4:4 + b[0]]
        if (sum(b) & 0xFF) != 0 or len(d) != n:
            sys.exit(f"bench/delta: {path}: bad record")
        if typ == 0 and ext + addr < 0x10000000:
            mem[ext + addr] = d
        elif typ == 4:
            ext = int.from_bytes(d, "big") << 16
        elif typ == 2:
            ext = int.from_bytes(d, "big") << 4
        elif typ == 1:
            break
    hi = max(a + len(d) for a, d in mem.items())
    img = bytearray(b"\xff" * hi)
    for a, d in mem.items():
        img[a:a + len(d)] = d
    return bytes(img)


corpus = [l.split() for l in open(os.path.join(top, "bench/delta/corpus.txt"))
          if l.strip() and not l.startswith("#")]
images = {}  # (family, hardware) -> [(version, bytes)]
for spec, integ, sha in corpus:
    pkg = untar(fetch(spec, integ, sha), os.path.join(w, "x", spec.replace("/", "_")))
    ver = spec.rsplit("@", 1)[1]
    if spec.startswith("@pybricks/"):
        for z in sorted(glob.glob(os.path.join(pkg, "build", "*.zip"))):
            hub = os.path.basename(z)[:-4]
            images.setdefault(("pybricks", hub), []).append(
                (ver, zipfile.ZipFile(z).read("firmware-base.bin")))
    else:
        # Four builds per release: by chip (flash end: nRF51 256 KiB, nRF52833 512 KiB) and
        # by size within a chip (two builds of each).
        bins = [ihex_to_bin(h) for h in glob.glob(os.path.join(pkg, "built/hexcache/*.hex"))]
        for chip, lo, hi in (("nrf51", 0, 0x40000), ("nrf52833", 0x40000, 0x80000)):
            sel = sorted((b for b in bins if lo < len(b) <= hi),
                         key=lambda b: len(b.rstrip(b"\xff")))
            for i, b in enumerate(sel):
                images.setdefault(("microbit", f"{chip}-build{i + 1}"), []).append((ver, b))


def vkey(v):
    return tuple(int(x) for x in v.split("."))


pairs = []
for (fam, hw), vs in sorted(images.items()):
    vs.sort(key=lambda x: vkey(x[0]))
    for (v0, b0), (v1, b1) in zip(vs, vs[1:]):
        pairs.append((f"{fam}/{hw} {v0}->{v1}", b0, b1))
ex = os.path.join(top, "examples/firmware")
pairs.append(("pybricks/primehub 4.0.0b4->4.0.0b5 (examples/firmware)",
              open(os.path.join(ex, "pybricks-primehub-v4.0.0b4.bin"), "rb").read(),
              open(os.path.join(ex, "pybricks-primehub-v4.0.0b5.bin"), "rb").read()))
pairs = [p for p in pairs if only.search(p[0])]


def run(cmd):
    """Wall time and peak RSS (KiB, GNU time) of a command that must succeed."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", os.path.join(w, "rss"), *cmd],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"bench/delta: {' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    return dt, int(open(os.path.join(w, "rss")).read().split()[-1]), p.stdout


key = os.path.join(w, "k.pem")
subprocess.run([fwtrust, "keygen", "--type", "ed25519", "-o", key], check=True,
               stdout=subprocess.DEVNULL)


def sign(raw, ver, hw, out):
    open(out + ".raw", "wb").write(raw)
    v = re.sub(r"[^0-9.]", "", ver.split("b")[0]) or "1.0.0"
    subprocess.run([fwtrust, "sign", "--no-log", "--key", key, "--version", v, "--header-size",
                    "0x200", "--pad-header", "--hw-id", hw, out + ".raw", out], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


rows = []
print(f"{'pair':<52} {'base':>7} {'new':>7} {'bsdiff':>7} {'zstd':>7} {'fwtrust':>7} "
      f"{'ratio':>6} {'method':<26} {'enc s':>6} {'dec s':>6} {'dec KiB':>7}")
for i, (name, b0, b1) in enumerate(pairs):
    hw = re.sub(r"[^a-z0-9-]", "-", name.split()[0])
    o, n = os.path.join(w, f"o{i}.bin"), os.path.join(w, f"n{i}.bin")
    sign(b0, name.split()[1].split("->")[0], hw, o)
    sign(b1, name.split()[1].split("->")[1], hw, n)
    p = os.path.join(w, f"p{i}.fwd")
    enc_t, _, _ = run([fwtrust, "delta", "--from", o, "--to", n, "-o", p])
    dec_t, dec_rss, _ = run([fwtrust, "delta", "--apply", p, "--from", o, "-o", p + ".out"])
    if open(p + ".out", "rb").read() != open(n, "rb").read():
        sys.exit(f"bench/delta: {name}: the patch does not rebuild the image")
    info = json.loads(run([fwtrust, "delta", "--info", p, "--json"])[2])["header"]
    meth = info["encoding"] + ("/" + info["transform"] + "/" + info["entropy"]
                               if "transform" in info else "")
    run(["bsdiff", o, n, p + ".bsdiff"])
    run(["zstd", "-q", "-f", "-19", "--long=27", "--patch-from=" + o, n, "-o", p + ".zst"])
    fs, bs, zs = (os.path.getsize(x) for x in (p, p + ".bsdiff", p + ".zst"))
    ratio = fs / min(bs, zs)
    rows.append(dict(pair=name, base=os.path.getsize(o), new=os.path.getsize(n), bsdiff=bs,
                     zstd=zs, fwtrust=fs, ratio=ratio, method=meth, encode_s=enc_t,
                     decode_s=dec_t, decode_rss_kib=dec_rss))
    print(f"{name[:52]:<52} {rows[-1]['base']:>7} {rows[-1]['new']:>7} {bs:>7} {zs:>7} {fs:>7} "
          f"{ratio:>6.3f} {meth[:26]:<26} {enc_t:>6.1f} {dec_t:>6.2f} {dec_rss:>7}", flush=True)

if rows:
    gm = math.exp(sum(math.log(r["ratio"]) for r in rows) / len(rows))
    met = sum(r["ratio"] <= 0.85 for r in rows)
    print(f"geometric mean of fwtrust / min(bsdiff, zstd): {gm:.3f}; "
          f"{met} of {len(rows)} pairs at or below the 0.85 goal")
    if os.environ.get("DELTA_JSON"):
        json.dump({"pairs": rows, "geomean": gm}, open(os.environ["DELTA_JSON"], "w"), indent=1)
