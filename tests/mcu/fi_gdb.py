"""gdb-multiarch side of the fault-injection campaign (loaded with -x by fault_campaign.py).

Reads its plan from the JSON file named by $FWT_FI_PLAN: the QEMU gdb port, the addresses of
the outcomes (the tampered image's entry, the bootloader's halt, the fault handler), the mode
(skip or branch) and the target instruction addresses. For each target: reset the board
(monitor system_reset: QEMU reloads the flash image), run to the target's first execution,
inject the fault, run on until an outcome or a timeout, and write one JSON line per fault to
$FWT_FI_OUT.
  skip:   the instruction is replaced by a NOP of its size for that one execution (so an IT
          block still advances), then restored: the instruction is not executed.
  branch: the conditional branch is executed, then the PC is moved to the path it did not take.
"""
import json
import os
import re
import signal
import threading

import gdb

PLAN = json.load(open(os.environ["FWT_FI_PLAN"]))
OUT = open(os.environ["FWT_FI_OUT"], "w")
TIMEOUT = PLAN.get("timeout", 5.0)
BR = re.compile(r"\s(b(?:eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le)(?:\.n|\.w)?|cbn?z)\s+"
                r"(?:r\d+,\s*)?(0x[0-9a-f]+)")

gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("target remote 127.0.0.1:%d" % PLAN["port"])
inferior = gdb.selected_inferior()

OUTCOMES = {PLAN["entry"]: "boot", PLAN["halt"]: "refused", PLAN["fault"]: "fault"}
for addr in OUTCOMES:
    gdb.Breakpoint("*0x%x" % addr, internal=True)


def pc():
    return int(gdb.parse_and_eval("$pc")) & 0xFFFFFFFF


def run(timeout):
    """continue; True if stopped by a breakpoint, False after the timeout (interrupted)."""
    fired = []

    def interrupt():
        fired.append(1)
        os.kill(os.getpid(), signal.SIGINT)

    t = threading.Timer(timeout, interrupt)
    t.start()
    try:
        gdb.execute("continue", to_string=True)
    except gdb.error:
        pass
    finally:
        t.cancel()
    return not fired


def insn_size(addr):
    hw = int.from_bytes(bytes(inferior.read_memory(addr, 2)), "little")
    return 4 if (hw & 0xF800) in (0xE800, 0xF000, 0xF800) else 2


def inject(addr, mode):
    """The fault at addr (the CPU stopped there); returns a description or None."""
    if mode == "skip":
        size = insn_size(addr)
        orig = bytes(inferior.read_memory(addr, size))
        nop = b"\x00\xbf" if size == 2 else b"\xaf\xf3\x00\x80"
        inferior.write_memory(addr, nop)
        gdb.execute("stepi", to_string=True)
        inferior.write_memory(addr, orig)
        return "skip"
    text = gdb.execute("x/i 0x%x" % addr, to_string=True)
    m = BR.search(text)
    if not m:
        return None
    target = int(m.group(2), 16)
    fall = addr + insn_size(addr)
    gdb.execute("stepi", to_string=True)
    now = pc()
    gdb.execute("set $pc = 0x%x" % (fall if now == target else target))
    return "taken->not" if now == target else "not->taken"


def one(addr):
    gdb.execute("monitor system_reset", to_string=True)
    gdb.execute("maintenance flush register-cache", to_string=True)
    bp = gdb.Breakpoint("*0x%x" % addr, internal=True)
    reached = run(TIMEOUT)
    bp.delete()
    # gdb moves a breakpoint inside an IT block to its IT instruction: step up to it.
    for _ in range(4):
        if not reached or pc() == addr or not 0 < addr - pc() <= 8:
            break
        gdb.execute("stepi", to_string=True)
    reached = reached and pc() == addr
    rec = {"addr": addr, "mode": PLAN["mode"]}
    if not reached:
        rec["outcome"] = "not-reached"
        return rec
    how = inject(addr, PLAN["mode"])
    if how is None:
        rec["outcome"] = "not-a-branch"
        return rec
    rec["fault"] = how
    stopped = pc() in OUTCOMES or run(TIMEOUT)
    rec["outcome"] = OUTCOMES.get(pc(), "other-stop") if stopped else "hang"
    return rec


for addr in PLAN["targets"]:
    try:
        rec = one(addr)
    except gdb.error as e:
        # QEMU stopped (the emulated CPU locked up: a fault while in the fault handler, which
        # QEMU ends the run for): recorded, the driver starts a new QEMU for the rest.
        OUT.write(json.dumps({"addr": addr, "mode": PLAN["mode"], "outcome": "lockup",
                              "error": str(e)}) + "\n")
        OUT.close()
        raise SystemExit(0)
    OUT.write(json.dumps(rec) + "\n")
    OUT.flush()

OUT.close()
gdb.execute("kill", to_string=True)
