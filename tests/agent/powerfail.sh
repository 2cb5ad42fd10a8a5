#!/bin/bash
# Power-fail safety, proven by fault injection.
#
# The agent and the bootloader route every write, fsync, truncate and rename
# through a fault hook (src/agent/fault.c): FWT_FAULT_AT=N makes the N-th such
# operation of the process _exit(99) instead, as a power cut would;
# FWT_FAULT_MODE=tear first lets half of an interrupted write land (a torn
# flash write). For each step of
#     install v2 -> boot (trial) -> confirm -> boot      and
#     (trial booted) rollback -> boot                      and
#     (v1.1 confirmed in b, v1 in a) rollback to slot a -> boot
# and for N = 1, 2, ... until the step completes without reaching point N, the
# device is restored to its state before the step, the step runs with the cut
# at N, and then:
#   - the bootloader must boot a valid signed image (v1, v1.1 or v2: old or new);
#   - status, verify-slots and log verify must succeed (no state file unreadable);
#   - the minimum security counter must not exceed the counter of the image in
#     the confirmed slot;
#   - the agent then completes the cycle from wherever it is, and the device
#     must end in the expected state (v2 confirmed; or v1 after the rollback),
#     with both anti-rollback copies holding the same minimums.
# The number of cut points covered is reported; every one must pass.
. "$(dirname "$0")/lib.sh"
export FWT_FAULT_MODE=
keys
# Larger than two of install_file's 1 MiB blocks: the cuts also fall on direct writes.
payload 2100 "$T/payload.bin"
mkimg "$T/v1.bin" 1.0.0 1
mkimg "$T/v2.bin" 2.0.0 2
mkimg "$T/v11.bin" 1.1.0 1
digest() { "$FWTRUST" inspect --json "$1" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print([t["value"] for t in d["tlvs"] if t["name"]=="SHA256"][0])'; }
D1=$(digest "$T/v1.bin")
D2=$(digest "$T/v2.bin")
D11=$(digest "$T/v11.bin")
[ -n "$D1" ] && [ -n "$D2" ] && [ "$D1" != "$D2" ] || fail "cannot read the image digests"

A() { "$AGENT" --device "$T/dev" "$@"; }
B() { "$BOOT" --device "$T/dev"; }

# Base: v1 installed, booted, confirmed in slot a.
mkdev --tries 3
A install "$T/v1.bin" >/dev/null || fail "setup install"
B >/dev/null || fail "setup boot"
A confirm >/dev/null || fail "setup confirm"

snap() { rm -rf "$T/snap.$1"; mkdir "$T/snap.$1"; cp -a "$T/dev" "$T/slot-a.bin" "$T/slot-b.bin" "$T/snap.$1/"; }
restore() { rm -rf "$T/dev" "$T/slot-a.bin" "$T/slot-b.bin"; cp -a "$T/snap.$1/." "$T/"; }

# Snapshots of the device before each step (the cut loop below restores them).
snap install
A install "$T/v2.bin" >/dev/null || fail "install v2"
snap boot1
B >/dev/null || fail "boot v2 on trial"
snap confirm
snap rollback
A confirm >/dev/null || fail "confirm v2"
snap boot2
restore rollback
A rollback >/dev/null || fail "rollback"
snap boot3
# Operator rollback to the other slot: v1.1 (same security counter) confirmed in b, back to v1 in a.
restore install
A install "$T/v11.bin" >/dev/null || fail "install v1.1"
B >/dev/null || fail "boot v1.1"
A confirm >/dev/null || fail "confirm v1.1"
snap rollback2
A rollback >/dev/null || fail "rollback to slot a"
snap boot4

# The cut loop runs in one Python process (no interpreter start per cut).
"$PY" - "$AGENT" "$BOOT" "$T" "$D1" "$D2" "$D11" <<'PYEOF' || fail "power-fail cuts"
import json, os, shutil, subprocess, sys

agent, boot, T, D1, D2, D11 = sys.argv[1:]
DEV = os.path.join(T, "dev")
env0 = {k: v for k, v in os.environ.items() if not k.startswith("FWT_FAULT")}

def run(cmd, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env or env0)
    return p.returncode, p.stdout.decode(), p.stderr.decode()

def A(*args, env=None):
    return run([agent, "--device", DEV, *args], env)

def B(env=None):
    return run([boot, "--device", DEV], env)

def die(what, msg, *outs):
    for o in outs:
        sys.stderr.write(o)
    sys.exit("FAIL: %s: %s" % (what, msg))

def restore(name):
    for f in ("dev", "slot-a.bin", "slot-b.bin"):
        p = os.path.join(T, f)
        if os.path.isdir(p):
            shutil.rmtree(p)
        elif os.path.exists(p):
            os.unlink(p)
    snap = os.path.join(T, "snap." + name)
    for f in os.listdir(snap):
        src, dst = os.path.join(snap, f), os.path.join(T, f)
        if os.path.isdir(src):
            shutil.copytree(src, dst, symlinks=True)
        else:
            shutil.copy2(src, dst)

def status(what):
    rc, out, err = A("status", "--json")
    if rc != 0:
        die(what, "state unreadable (status exit %d)" % rc, out, err)
    return json.loads(out)

def check(what, final):
    rc, out, err = B()
    if rc != 0:
        die(what, "no valid image boots (exit %d)" % rc, out, err)
    d = json.loads(out)["digest"]
    if d not in (D1, D2, D11):
        die(what, "booted an unexpected image " + d)
    st = status(what)
    rc, out, err = A("verify-slots", "--json")
    if rc != 0:
        die(what, "verify-slots exit %d" % rc, out, err)
    rc, out, err = A("log", "verify")
    if rc != 0:
        die(what, "log verify exit %d" % rc, out, err)
    # The minimum security counter never exceeds the confirmed image's counter.
    conf = st["confirmed"]
    img = (st["slots"][conf]["image"] or {}) if conf else {}
    if st["min_security_counter"] > img.get("security_counter", -1):
        die(what, "security counter above the confirmed image's: " + json.dumps(st))
    # The agent completes the sequence from wherever the cut left it.
    for _ in range(8):
        st = status(what)
        conf, trial, bt, mn = st["confirmed"], st["trial"], st["booted_trial"], st["min_security_counter"]
        cimg = (st["slots"][conf]["image"] or {}) if conf else {}
        if final == 2:
            if trial is None and not bt and mn == 2 and cimg.get("digest") == D2:
                break
            if trial is not None and bt:
                act = A("confirm")
            elif trial is None:
                act = A("install", os.path.join(T, "v2.bin"))
            else:
                act = B()
        else:
            if (conf, trial, bt, mn) == ("a", None, False, 1):
                break
            if trial is None and conf == "b":
                act = A("rollback")
            elif trial is None:
                act = B()
            else:
                act = A("rollback")
        if act[0] != 0:
            die(what, "completing: exit %d in state %s" % (act[0], (conf, trial, bt, mn)), act[1], act[2])
    rc, out, err = B()
    if rc != 0:
        die(what, "final boot exit %d" % rc, out, err)
    b = json.loads(out)
    st = status(what)
    if final == 2:
        if (b["digest"], b["trial"], st["min_security_counter"]) != (D2, False, 2):
            die(what, "did not end on confirmed v2 with minimum 2: " + out)
    elif (b["digest"], b["slot"], st["min_security_counter"]) != (D1, "a", 1):
        die(what, "did not end on v1 in slot a with minimum 1: " + out)
    # Both anti-rollback copies end with the same minimums (a raise writes both, and the
    # pending raise a cut leaves repeats it): the copy a reader falls back to is never lower.
    pay = [open(os.path.join(DEV, "rollback.%d" % i), "rb").read()[32:-32] for i in (0, 1)]
    if pay[0] != pay[1]:
        die(what, "the anti-rollback copies differ: %s %s" % (pay[0].hex(), pay[1].hex()))

steps = [("install", ("install", os.path.join(T, "v2.bin"))), ("boot1", None), ("confirm", ("confirm",)),
         ("boot2", None), ("rollback", ("rollback",)), ("boot3", None), ("rollback2", ("rollback",)),
         ("boot4", None)]
total = 0
for mode in ("cut", "tear"):
    for name, args in steps:
        final = 1 if name in ("rollback", "boot3", "rollback2", "boot4") else 2
        n = 1
        while True:
            restore(name)
            env = dict(env0, FWT_FAULT_AT=str(n), FWT_FAULT_MODE=mode)
            rc, out, err = A(*args, env=env) if args else B(env=env)
            if rc == 0:
                break  # fewer than n fault points in this step: all covered
            if rc != 99:
                die("%s %s" % (mode, name), "point %d: exit %d instead of the cut" % (n, rc), out, err)
            check("%s %s cut %d" % (mode, name, n), final)
            n += 1
        if n == 1:
            die(name, "no fault point reached (hook not active?)")
        print("%s %s: %d cut points" % (mode, name, n - 1))
        total += n - 1
if total < 100:
    die("total", "only %d cut points" % total)
print("powerfail: all %d cut points passed" % total)
PYEOF
