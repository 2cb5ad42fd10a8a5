#!/usr/bin/python3
"""Instruction-skip and branch-inversion fault injection on the Cortex-M4 bootloader (QEMU
mps2-an386 through its gdb stub, driven by gdb-multiarch: fi_gdb.py).

usage: fault_campaign.py FWTRUST BUILD_MCU_DIR [--boot fih,plain] [--mode skip,branch]
                         [--image tampered,wrongkey,downgrade,encrypted] [--limit N]
                         [--func F,...]
                         [--json OUT] [--expect-zero-skip]

The device holds one image that must be refused and nothing else (--image: tampered, a
payload bit flipped after signing, in slot 0; wrongkey, signed by an untrusted key; downgrade,
validly signed with a security counter below the device's; encrypted, an image encrypted for
the device in slot 1 with a ciphertext bit flipped, to be refused by the install's verification
over the plaintext before slot 0 is written), so the only correct outcome is a refusal. A first
run traces every instruction executed (QEMU -d exec in one-instruction blocks). The targets are
the distinct instruction addresses executed in the verification and boot-decision path: the
bootloader's boot.c, the verifier core (src/core), the crypto ops glue, flash reads and the security counter
-- not the start-up code, the UART output, libc's mem* or mbedTLS's SHA-256 (whose faults can
only change the digest, and the digest of a tampered image is compared, not trusted). Each
target gets one run per mode with the fault at its first execution. Outcomes: boot (the
tampered image's entry was reached: a successful glitch), refused (the bootloader halted),
fault (an exception), hang (no outcome in time). --limit N takes N targets evenly spread (the
smoke run in make check); --func F,G only the instructions of those functions. --expect-zero-skip: exit 1 if a skip in the hardened build booted.
Exit: 0; 1 expectation failed; 2 usage; 77 qemu-system-arm, gdb-multiarch or the toolchain
missing.
"""
import argparse
import collections
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mcu  # noqa: E402

EXCLUDE_FUNCS = {"uart_init", "uart_putc", "uart_puts", "uart_putdec", "uart_puthex", "halt",
                 "put_version", "refuse", "fwt_err_name", "fwt_strerror", "Reset_Handler",
                 "Fault_Handler", "main_banner"}
PATH_FILES = ("boot/cortex-m/boot.c", "boot/cortex-m/flash.c", "boot/cortex-m/seccnt.c",
              "boot/cortex-m/crypto_mbedtls.c", "boot/cortex-m/enc_mbedtls.c", "src/core/")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def symbols(elf):
    """[(start, end, name, file)] of the functions in elf."""
    out = subprocess.run(["arm-none-eabi-nm", "-l", "-S", "--defined-only", elf],
                         capture_output=True, text=True, check=True).stdout
    syms = []
    for ln in out.splitlines():
        parts = ln.split()
        if len(parts) < 4 or parts[2] not in "tT":
            continue
        start, size, name = int(parts[0], 16) & ~1, int(parts[1], 16), parts[3]
        src = parts[4] if len(parts) > 4 else ""
        syms.append((start, start + size, name, src))
    return sorted(syms)


def func_of(syms, addr):
    for s in syms:
        if s[0] <= addr < s[1]:
            return s
    return None


# The images the campaign runs over: each must be refused, for the reason given.
SCENARIOS = {
    # one payload bit flipped after signing: the digest check refuses it
    "tampered": "FWT_E_DIGEST",
    # signed by a key the bootloader does not trust: the key match refuses it
    "wrongkey": "FWT_E_UNKNOWN_KEY",
    # validly signed (RSA-3072), security counter 3 below the device's 5: the signature is
    # verified, then the counter check refuses it
    "downgrade": "FWT_E_COUNTER",
    # encrypted for the device (ECIES-P256) into slot 1, slot 0 empty, one ciphertext bit
    # flipped: the key unwraps, the install's verification over the decrypted plaintext refuses
    # it before slot 0 is written (a glitched install is verified again before any jump)
    "encrypted": "FWT_E_DIGEST",
}


def scenario_device(build, boot, scenario, tmp):
    d = mcu.Device(build, boot=boot, workdir=tempfile.mkdtemp(dir=tmp))
    key, counter = {"tampered": ("boot-ecdsa-p256", 1), "wrongkey": ("other-ecdsa-p256", 1),
                    "downgrade": ("boot-rsa-3072", 3),
                    "encrypted": ("boot-ecdsa-p256", 1)}[scenario]
    extra = ["--encrypt", build.key("boot-enc-p256")] if scenario == "encrypted" else []
    img = bytearray(build.sign("app-1.0.0-s0", os.path.join(tmp, "v1.bin"), "1.0.0", counter,
                               mcu.SLOT0, key=key, confirm=True, extra=extra))
    if scenario in ("tampered", "encrypted"):
        img[0x200 + 0x100] ^= 0x01
    if scenario == "downgrade":
        d.set_counter(5)
    d.put_slot(mcu.SLOT1 if scenario == "encrypted" else mcu.SLOT0, bytes(img))
    return d


def trace(d, tmp, scenario, ranges):
    """The instruction addresses executed inside ranges, in order (QEMU -d exec, one
    instruction per block, logging limited to those ranges with -dfilter)."""
    log = os.path.join(tmp, "trace.log")
    dfilter = ",".join("0x%x..0x%x" % (a, b - 1) for a, b in ranges)
    text, _ = d.boot(extra=["-d", "exec,nochain", "-singlestep", "-dfilter", dfilter, "-D", log])
    if "refused: " + SCENARIOS[scenario] not in text or "BOOT: jump" in text:
        raise SystemExit("fault-campaign: the %s image was not refused (%s) without a fault:\n"
                         % (scenario, SCENARIOS[scenario]) + text)
    pcs = []
    for ln in open(log):
        if ln.startswith("Trace "):
            pcs.append(int(ln.split("[")[1].split("/")[1], 16))
    os.unlink(log)
    return pcs


def run_gdb(elf, flash_file, plan, base):
    """One QEMU (stopped at reset, gdb stub on a free port) and one gdb-multiarch running
    fi_gdb.py over plan["targets"]; returns the results it wrote (fewer than the targets when
    QEMU stopped: its last one says target-lost)."""
    plan["port"] = free_port()
    json.dump(plan, open(base + ".plan.json", "w"))
    out_file = base + ".jsonl"
    with open(base + ".qemu.log", "w") as qlog:
        q = subprocess.Popen(["qemu-system-arm", "-M", "mps2-an386", "-display", "none",
                              "-nodefaults", "-serial", "null", "-S", "-gdb",
                              "tcp:127.0.0.1:%d" % plan["port"], "-device",
                              "loader,file=%s,addr=0x0,force-raw=on" % flash_file],
                             stdin=subprocess.DEVNULL, stdout=qlog, stderr=qlog)
    try:
        time.sleep(0.3)
        env = dict(os.environ, FWT_FI_PLAN=base + ".plan.json", FWT_FI_OUT=out_file)
        g = subprocess.run(["gdb-multiarch", "-nx", "-batch", "-ex", "file " + elf, "-x",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                         "fi_gdb.py")],
                           env=env, capture_output=True, text=True)
        open(base + ".gdb.log", "w").write(g.stdout + g.stderr)
    finally:
        q.kill()
        q.wait()
    results = [json.loads(ln) for ln in open(out_file)] if os.path.exists(out_file) else []
    if not results:
        raise SystemExit("fault-campaign: gdb made no progress, see %s.gdb.log:\n%s" %
                         (base, (g.stdout + g.stderr)[-2000:]))
    return results


def campaign(build, boot, scenario, mode, limit, tmp, funcs=None):
    elf = build.path(boot + ".elf")
    syms = symbols(elf)
    path = [f for f in syms if f[2] not in EXCLUDE_FUNCS and f[1] > f[0] and
            any(p in f[3] for p in PATH_FILES) and (not funcs or f[2] in funcs)]
    d = scenario_device(build, boot, scenario, tmp)
    pcs = trace(d, tmp, scenario, [(f[0], f[1]) for f in path])
    seen, targets = set(), []
    for pc in pcs:
        if pc in seen:
            continue
        seen.add(pc)
        if any(f[0] <= pc < f[1] for f in path):
            targets.append(pc)
    covered = len(targets)
    if mode == "branch":
        dis = subprocess.run(["arm-none-eabi-objdump", "-d", elf], capture_output=True,
                             text=True, check=True).stdout
        cond = set()
        for ln in dis.splitlines():
            p = ln.split("\t")
            if len(p) >= 3 and p[0].strip().endswith(":"):
                m = p[2].strip()
                if m.startswith(("cbz", "cbnz")) or (
                        len(m) >= 3 and m[0] == "b" and m[1:3] in
                        ("eq ne cs hs cc lo mi pl vs vc hi ls ge lt gt le".split()) and
                        (len(m) == 3 or m[3] == ".")):
                    cond.add(int(p[0].strip()[:-1], 16))
        targets = [t for t in targets if t in cond]
    tried = targets
    if limit and len(targets) > limit:
        step = len(targets) / limit
        tried = [targets[int(i * step)] for i in range(limit)]
    # The outcomes.
    flash = bytes(d.flash)
    # The refused image's entry: the reset vector of the application it carries (its plaintext
    # vector table, which starts the payload), in slot 0 where it would run.
    app = open(build.path("app-1.0.0-s0.bin"), "rb").read()
    entry = int.from_bytes(app[4:8], "little") & ~1
    addr = {s[2]: s[0] for s in syms}
    flash_file = os.path.join(tmp, "fi-flash-%s.bin" % boot)
    open(flash_file, "wb").write(flash)
    results = []
    while len(results) < len(tried):
        results += run_gdb(elf, flash_file, {"entry": entry, "halt": addr["halt"],
                                             "fault": addr["Fault_Handler"], "mode": mode,
                                             "targets": tried[len(results):], "timeout": 3.0},
                           os.path.join(tmp, "%s-%s-%d" % (boot, mode, len(results))))
    if len(results) != len(tried):
        raise SystemExit("fault-campaign: %d results for %d faults" % (len(results), len(tried)))
    for r in results:
        f = func_of(syms, r["addr"])
        r["where"] = "%s+0x%x" % (f[2], r["addr"] - f[0]) if f else hex(r["addr"])
    return {"boot": boot, "scenario": scenario, "mode": mode, "executed_in_path": covered,
            "covered": covered,
            "targets": len(targets), "tried": len(tried),
            "outcomes": dict(collections.Counter(r["outcome"] for r in results)),
            "glitches": [r for r in results if r["outcome"] == "boot"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("fwtrust")
    ap.add_argument("build_mcu")
    ap.add_argument("--boot", default="fih,plain")  # boot-fih: hardened; boot-plain: not
    ap.add_argument("--mode", default="skip,branch")
    ap.add_argument("--image", default=",".join(SCENARIOS))
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--func", help="only these functions (comma-separated)")
    ap.add_argument("--json")
    ap.add_argument("--expect-zero-skip", action="store_true")
    a = ap.parse_args()
    for t in ("qemu-system-arm", "gdb-multiarch", "arm-none-eabi-gcc"):
        if not shutil.which(t):
            print("SKIP: %s not found (scripts/install-deps installs it)" % t)
            return 77
    build = mcu.Build(a.fwtrust, a.build_mcu)
    reports = []
    keep = os.environ.get("FWT_FI_KEEP")
    with tempfile.TemporaryDirectory(prefix="fwt-fi-") as tmp0:
        tmp = keep or tmp0
        os.makedirs(tmp, exist_ok=True)
        for boot in a.boot.split(","):
            for scenario in a.image.split(","):
                if scenario not in SCENARIOS:
                    ap.error("--image: one of %s" % ", ".join(SCENARIOS))
                for mode in a.mode.split(","):
                    t0 = time.time()
                    r = campaign(build, "boot-" + boot, scenario, mode, a.limit, tmp,
                                 a.func.split(",") if a.func else None)
                    r["seconds"] = round(time.time() - t0, 1)
                    reports.append(r)
                    print("%-10s %-9s %-6s: %4d decision-path instructions executed, %4d "
                          "targets, %4d faults tried, successful glitches %d, outcomes %s "
                          "(%.0fs)" % (r["boot"], scenario, mode, r["covered"], r["targets"],
                                       r["tried"], len(r["glitches"]),
                                       json.dumps(r["outcomes"], sort_keys=True),
                                       r["seconds"]))
                    for gl in r["glitches"]:
                        print("    glitch: %s at %s (0x%x)" % (gl.get("fault"), gl["where"],
                                                               gl["addr"]))
        tot = collections.Counter()
        for r in reports:
            tot[(r["boot"], r["mode"], "tried")] += r["tried"]
            tot[(r["boot"], r["mode"], "glitches")] += len(r["glitches"])
        for boot in a.boot.split(","):
            for mode in a.mode.split(","):
                k = ("boot-" + boot, mode)
                print("total %-10s %-6s: %d faults, %d successful glitches" %
                      (k[0], mode, tot[k + ("tried",)], tot[k + ("glitches",)]))
    if a.json:
        json.dump(reports, open(a.json, "w"), indent=1)
    if a.expect_zero_skip:
        bad = [r for r in reports if r["boot"] == "boot-fih" and r["mode"] == "skip" and
               r["glitches"]]
        if bad:
            print("FAIL: single-instruction skips booted a refused image on the hardened "
                  "build")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
