#!/bin/bash
# Crash safety of `fwtrust repo` (issue 19 item 3), proven by fault injection.
#
# fwtrust-repo-crashtest is `fwtrust repo` built with the crash-test hook: FWT_FAULT_AT=N
# ends it (exit 99) at its N-th state-changing file call (create, write, fsync, rename,
# link, unlink, mkdir, rmdir), as a power cut would. For each command below
#     add-target, publish, timestamp, delegate, revoke-key, rotate (timestamp key),
#     publish (of the root that rotates the timestamp key)
# and for N = 1, 2, ... until the command completes without reaching point N, the
# repository is restored to its state before the command, the command runs with the cut
# at N, and then:
#   - no temporary or other unexpected file is in the served metadata/ and targets/;
#   - a TUF client that trusted the state before the command (fwtrust-tuf-client; with
#     --tufjs also tuf-js over nginx), and a fresh client trusting 1.root.json, refresh
#     successfully and see the old or the new timestamp (clients see only the served
#     bytes: each distinct served tree is checked once);
#   - `fwtrust repo status` exits 11 while an interrupted operation is pending, else 0;
#   - `fwtrust repo recover` (any command does the same first) exits 0 and leaves either
#     the state before the command or the state after it; from the old state the command
#     (run again, without the hook) succeeds and gives the new state;
#   - the clients refresh successfully again.
# The number of cut points covered is reported; every one must pass. The production
# fwtrust has no hook: FWT_FAULT_AT does nothing there (checked too).
# With --tufjs only the key-rotating publish runs, checked by tuf-js as well at the cut (once
# per distinct served tree: tuf-js sees nothing else).
# FWT_CRASH_ONLY=NAME runs one scenario (when working on it).
# Environment: FWTRUST, CRASHTEST, TUF_CLIENT, SRC.
# The cut is an _exit, not a power loss: fsync changes nothing the test can see, so the
# repositories live on tmpfs when there is one (the test runs 3x faster there).
if [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
. "$(dirname "$0")/lib.sh"
: "${CRASHTEST:?CRASHTEST must name fwtrust-repo-crashtest}"
: "${TUF_CLIENT:?TUF_CLIENT must name fwtrust-tuf-client}"
MODE=${1:-ours}
key root; key targets; key snapshot; key timestamp; key hw; key hw2; key hw3; key ts2
W=$T/work
F() { "$FWTRUST" repo "$@" >/dev/null 2>"$T/f.err" || { cat "$T/f.err" >&2; fail "setup: repo $*"; }; }
F init "$W" --root-key "$T/root.pem" --targets-key "$T/targets.pem" --snapshot-key "$T/snapshot.pem" \
    --timestamp-key "$T/timestamp.pem"
printf 'app\n' >"$T/a.bin"; printf 'hw\n' >"$T/x.bin"; printf 'c\n' >"$T/c.bin"
F add-target "$W" "$T/a.bin" --key "$T/targets.pem"
F delegate "$W" --name hw --key "$T/hw.pem" --paths 'hw/*' --sign-key "$T/targets.pem"
F add-target "$W" "$T/x.bin" --role hw --name hw/x.bin --key "$T/hw.pem"
F publish "$W" --key "$T/snapshot.pem" --key "$T/timestamp.pem"

# The scenarios: the state before each command is kept in $T/pre.NAME (a file lists them).
SCEN=$T/scenarios
: >"$SCEN"
step() { # step NAME ARGS...: record the state before `repo ARGS`, then run it for real
    local name=$1
    shift
    rm -rf "$T/pre.$name"
    cp -a "$W" "$T/pre.$name"
    "$PY" -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$name" "$@" >>"$SCEN"
    F "$@"
}
step add-target add-target "$W" "$T/c.bin" --name c.bin --key "$T/targets.pem"
step publish publish "$W" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
step timestamp timestamp "$W" --key "$T/timestamp.pem"
step delegate delegate "$W" --name hw2 --key "$T/hw2.pem" --paths 'hw2/*' --sign-key "$T/targets.pem"
F publish "$W" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
F rotate "$W" --role hw --new-key "$T/hw3.pem" --sign-key "$T/targets.pem"
F publish "$W" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
step revoke-key revoke-key "$W" --role hw --key "$T/hw.pub" --sign-key "$T/targets.pem" --sign-key "$T/hw3.pem"
F publish "$W" --key "$T/snapshot.pem" --key "$T/timestamp.pem"
step rotate rotate "$W" --role timestamp --new-key "$T/ts2.pem" --old-key "$T/timestamp.pub" --sign-key "$T/root.pem"
step publish-rotation publish "$W" --key "$T/snapshot.pem" --key "$T/timestamp.pem" --key "$T/ts2.pem"

# The production binary has no hook.
rm -rf "$T/prod" && cp -a "$W" "$T/prod"
FWT_FAULT_AT=1 expect 0 "published timestamp" "$FWTRUST" repo timestamp "$T/prod" --key "$T/ts2.pem"
# A staged root equal to the published one (left by a publish an earlier fwtrust did not
# finish) does not block publishing: it is removed.
cp "$T/prod/metadata/root.json" "$T/prod/staged/root.json"
expect 0 "published snapshot" "$FWTRUST" repo publish "$T/prod" --key "$T/snapshot.pem" --key "$T/ts2.pem"
[ ! -e "$T/prod/staged/root.json" ] || fail "the stale staged root was kept"

mkdir -p "$T/www"
JSURL=""
if [ "$MODE" = --tufjs ]; then
    "$SRC/scripts/install-node-deps" || fail "cannot install the tuf-js packages (npm registry reachable?)"
    expect 0 "" "$SRC/scripts/serve-repo" start --root "$T/www" --state "$T/nginx"
    . "$T/nginx/env"
    JSURL=$HTTP_URL
fi

"$PY" - "$FWTRUST" "$CRASHTEST" "$TUF_CLIENT" "$T" "$SCEN" "$MODE" "$SRC/tests/interop/tufjs/client.js" "$JSURL" <<'PYEOF' || fail "crash cuts"
import hashlib, json, os, re, shutil, subprocess, sys

fwtrust, crash, client, T, scen, mode, tufjs, jsurl = sys.argv[1:]
LIVE = os.path.join(T, "www", "repo")
env0 = {k: v for k, v in os.environ.items() if not k.startswith("FWT_FAULT")}

def run(cmd, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env or env0)
    return p.returncode, p.stdout.decode(), p.stderr.decode()

def die(what, msg, *outs):
    for o in outs:
        sys.stderr.write(o)
    sys.exit("FAIL: %s: %s" % (what, msg))

def copy(src, dst):
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True)

def version(path):
    with open(path) as f:
        return json.load(f)["signed"]["version"]

def state(d):
    md = os.path.join(d, "metadata")
    sd = os.path.join(d, "staged")
    staged = tuple(sorted((f, version(os.path.join(sd, f))) for f in os.listdir(sd))) if os.path.isdir(sd) else ()
    return (version(os.path.join(md, "timestamp.json")), version(os.path.join(md, "root.json")), staged)

META = re.compile(r"^([0-9]+\.)?[A-Za-z0-9][A-Za-z0-9._-]*\.json$")
TARGET = re.compile(r"^[0-9a-f]{64}\.[A-Za-z0-9][A-Za-z0-9._-]*$")

def served_clean(what, d):
    for sub, pat in (("metadata", META), ("targets", TARGET)):
        for dp, dirs, files in os.walk(os.path.join(d, sub)):
            for f in files:
                if not pat.match(f):
                    die(what, "unexpected file %s in the served %s/" % (os.path.join(dp, f), sub))
            for x in dirs:
                if x.startswith("."):
                    die(what, "unexpected directory %s in the served %s/" % (os.path.join(dp, x), sub))

js_seen = set()

def served_digest(d):
    h = hashlib.sha256()
    for sub in ("metadata", "targets"):
        for dp, dirs, files in sorted(os.walk(os.path.join(d, sub))):
            for f in sorted(files):
                p = os.path.join(dp, f)
                h.update(os.path.relpath(p, d).encode() + b"\0")
                with open(p, "rb") as fh:
                    h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()

def ours(cdir, *args):
    return run([client, "--metadata-dir", os.path.join(cdir, "metadata"), *args])

checked = set()

def clients(what, name, tsv, js=True):
    # A client's result depends only on the served bytes (it starts from the same state
    # each time): each distinct served tree is checked once per scenario.
    key = (name, served_digest(LIVE), tsv)
    if key in checked:
        return
    checked.add(key)
    # our client, trusting the state before the command
    c = os.path.join(T, "cl")
    copy(os.path.join(T, "c0." + name), c)
    rc, out, err = ours(c, "--metadata-url", "file://" + LIVE + "/metadata", "refresh")
    if rc != 0:
        die(what, "our client (cached) cannot refresh (exit %d)" % rc, out, err)
    v = version(os.path.join(c, "metadata", "timestamp.json"))
    if v not in tsv:
        die(what, "our client sees timestamp version %d, neither old nor new %s" % (v, tsv))
    # a fresh client trusting 1.root.json
    f = os.path.join(T, "cf")
    if os.path.exists(f):
        shutil.rmtree(f)
    os.makedirs(os.path.join(f, "metadata"))
    rc, out, err = ours(f, "init", os.path.join(LIVE, "metadata", "1.root.json"))
    if rc == 0:
        rc, out, err = ours(f, "--metadata-url", "file://" + LIVE + "/metadata", "refresh")
    if rc != 0:
        die(what, "a fresh client cannot refresh (exit %d)" % rc, out, err)
    if jsurl and js and served_digest(LIVE) not in js_seen:
        js_seen.add(served_digest(LIVE))
        j = os.path.join(T, "jl")
        copy(os.path.join(T, "j0." + name), j)
        rc, out, err = run(["node", tufjs, "--root", os.path.join(LIVE, "metadata", "1.root.json"),
                            "--metadata-url", jsurl + "/repo/metadata", "--targets-url", jsurl + "/repo/targets",
                            "--dir", j])
        if rc != 0:
            die(what, "tuf-js (cached) cannot refresh (exit %d)" % rc, out, err)
        v = version(os.path.join(j, "metadata", "timestamp.json"))
        if v not in tsv:
            die(what, "tuf-js sees timestamp version %d, neither old nor new %s" % (v, tsv))

total = 0
with open(scen) as fh:
    scenarios = [json.loads(l) for l in fh]
for sc in scenarios:
    name, args = sc[0], sc[1:]
    if (mode == "--tufjs" and name != "publish-rotation") or os.environ.get("FWT_CRASH_ONLY", name) != name:
        continue
    pre = os.path.join(T, "pre." + name)
    args = [LIVE if a == os.path.join(T, "work") else a for a in args]
    # The old and the new state; clients that trust the old one.
    copy(pre, LIVE)
    old = state(LIVE)
    c0 = os.path.join(T, "c0." + name)
    if os.path.exists(c0):
        shutil.rmtree(c0)
    os.makedirs(os.path.join(c0, "metadata"))
    for a in (["init", os.path.join(LIVE, "metadata", "1.root.json")],
              ["--metadata-url", "file://" + LIVE + "/metadata", "refresh"]):
        rc, out, err = ours(c0, *a)
        if rc != 0:
            die(name, "setup: our client %s exit %d" % (a[0], rc), out, err)
    if jsurl:
        j0 = os.path.join(T, "j0." + name)
        if os.path.exists(j0):
            shutil.rmtree(j0)
        rc, out, err = run(["node", tufjs, "--root", os.path.join(LIVE, "metadata", "1.root.json"),
                            "--metadata-url", jsurl + "/repo/metadata", "--targets-url", jsurl + "/repo/targets",
                            "--dir", j0])
        if rc != 0:
            die(name, "setup: tuf-js exit %d" % rc, out, err)
    rc, out, err = run([fwtrust, "repo", *args])
    if rc != 0:
        die(name, "reference run exit %d" % rc, out, err)
    new = state(LIVE)
    if new == old:
        die(name, "the command changes nothing the test can see")
    tsv = (old[0], new[0])
    n = 1
    cuts = 0
    while True:
        what = "%s cut %d" % (name, n)
        copy(pre, LIVE)
        rc, out, err = run([crash, "repo", *args], env=dict(env0, FWT_FAULT_AT=str(n)))
        if rc == 0:
            if state(LIVE) != new:
                die(what, "completed without the cut but not in the new state")
            break  # fewer than n state-changing calls: all covered
        if rc != 99:
            die(what, "exit %d instead of the cut" % rc, out, err)
        served_clean(what, LIVE)
        clients(what, name, tsv)
        pending = os.path.exists(os.path.join(LIVE, ".txn"))
        rc, out, err = run([fwtrust, "repo", "status", LIVE])
        if rc != (11 if pending else 0):
            die(what, "status exit %d with%s an interrupted operation" % (rc, "" if pending else "out"), out, err)
        rc, out, err = run([fwtrust, "repo", "recover", LIVE])
        if rc != 0 or os.path.exists(os.path.join(LIVE, ".txn")):
            die(what, "recover exit %d" % rc, out, err)
        s = state(LIVE)
        if s == old:
            rc, out, err = run([fwtrust, "repo", *args])
            if rc != 0:
                die(what, "the command run again after the roll back: exit %d" % rc, out, err)
            s = state(LIVE)
        if s != new:
            die(what, "after recovery the state is %s: neither old %s nor new %s" % (s, old, new))
        served_clean(what, LIVE)
        clients(what, name, (new[0],), js=False)  # tuf-js: at the cut (the risky moment) only
        n += 1
        cuts += 1
    if n <= 4:
        die(name, "fewer than 4 cut points (hook not active?)")
    print("%s: %d cut points" % (name, cuts))
    total += cuts
print("crash: all %d cut points passed%s" % (total, " (tuf-js: %d distinct served states)" % len(js_seen) if jsurl else ""))
PYEOF
echo "crash: ok"
