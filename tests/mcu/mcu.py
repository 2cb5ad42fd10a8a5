"""Run the Cortex-M4 bootloader (boot/cortex-m) on QEMU's mps2-an386, one QEMU process per
power cycle.

Persistence: the board's code memory (where the bootloader, the slots and the security
counter area live) is RAM in QEMU, and a QEMU system reset reloads the images given with
-device loader, so flash would not survive a reset inside one run. A Device therefore keeps
the flash contents in a host file: each boot() starts QEMU with that file loaded at address 0,
lets the bootloader (and the application it starts) run until the UART says the device is
idle, halted, faulted or lost its power (the test hook), then saves the memory back through
the QEMU monitor (pmemsave) and ends QEMU. The next boot() is the next power-on.
"""
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time

SLOT0, SLOT1, SLOT_SIZE = 0x00020000, 0x000A0000, 0x80000
SECCNT, SECCNT_SIZE = 0x00120000, 0x2000
FLASH_END = 0x00122000
HOOK_ADDR, HOOK_MAGIC = 0x2003FF00, 0x464C5448
BOOT_MAGIC = bytes.fromhex("77c295f360d2ef7f3552500f2cb67980")
IMAGE_OK_OFF, COPY_DONE_OFF, MAGIC_OFF = SLOT_SIZE - 24, SLOT_SIZE - 32, SLOT_SIZE - 16
ENDINGS = ("APP: idle", "BOOT: halt", "POWERCUT", "FAULT:")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class Skip(Exception):
    """A program the tests need is missing (exit 77)."""


def tools_present():
    for t in ("qemu-system-arm", "arm-none-eabi-gcc"):
        if not shutil.which(t):
            raise Skip("%s not found (scripts/install-deps installs it)" % t)


class Build:
    """The outputs of scripts/build-mcu and the fwtrust used to sign."""

    def __init__(self, fwtrust, out):
        self.fwtrust = os.path.abspath(fwtrust)
        self.out = os.path.abspath(out)

    def path(self, name):
        return os.path.join(self.out, name)

    def key(self, name):
        return self.path(os.path.join("keys", name + ".pem"))

    def sign(self, app, out, version, counter, slot, key="boot-ecdsa-p256", confirm=False,
             payload_size=None, extra=()):
        """fwtrust sign the application linked for slot; a full slot image with trailer."""
        src = self.path(app + ".bin")
        if payload_size is not None:
            data = open(src, "rb").read()
            assert len(data) <= payload_size
            src = out + ".payload"
            with open(src, "wb") as f:
                f.write(data + b"\0" * (payload_size - len(data)))
        cmd = [self.fwtrust, "sign", "--key", self.key(key), "--version", version,
               "--header-size", "0x200", "--pad-header", "--slot-size", hex(SLOT_SIZE),
               "--rom-fixed", hex(slot), "--security-counter", str(counter), "--pad",
               "--no-log"] + (["--confirm"] if confirm else []) + list(extra) + [src, out]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return open(out, "rb").read()


class Device:
    """Flash contents in a file; boot() is one power-on."""

    def __init__(self, build, boot="boot-fih", workdir=None):
        self.build = build
        self.dir = workdir or tempfile.mkdtemp(prefix="fwt-mcu-")
        self.flash = bytearray(b"\xff" * FLASH_END)
        bl = open(build.path(boot + ".bin"), "rb").read()
        self.flash[0:len(bl)] = bl
        self.log = []

    def put_slot(self, slot, data):
        """Write a slot image (shorter ones are followed by erased flash)."""
        assert len(data) <= SLOT_SIZE
        self.flash[slot:slot + SLOT_SIZE] = data + b"\xff" * (SLOT_SIZE - len(data))

    def set_trailer(self, slot, magic=True, image_ok=False):
        if magic:
            self.flash[slot + MAGIC_OFF:slot + SLOT_SIZE] = BOOT_MAGIC
        if image_ok:
            self.flash[slot + IMAGE_OK_OFF] = 0x01

    def set_counter(self, value):
        """A security counter record, as the bootloader writes one."""
        self.flash[SECCNT:SECCNT + 8] = struct.pack("<II", value, value ^ 0xFFFFFFFF)

    def counter(self):
        best = 0
        for i in range(0, SECCNT_SIZE, 8):
            v, inv = struct.unpack_from("<II", self.flash, SECCNT + i)
            if v == inv ^ 0xFFFFFFFF and v > best:
                best = v
        return best

    def slot_flags(self, slot):
        return (bytes(self.flash[slot + MAGIC_OFF:slot + SLOT_SIZE]) == BOOT_MAGIC,
                self.flash[slot + IMAGE_OK_OFF], self.flash[slot + COPY_DONE_OFF])

    def boot(self, cut_at=0, torn=False, timeout=60, icount=False, extra=(), endings=ENDINGS,
             ram_dump=None):
        """One power-on; returns (UART text, flash operations counted by the test hook).
        ram_dump: a file to save the RAM (0x20000000, 192 KiB) to at the end."""
        flash_file = os.path.join(self.dir, "flash.bin")
        with open(flash_file, "wb") as f:
            f.write(self.flash)
        uart = os.path.join(self.dir, "uart.log")
        mon = os.path.join(self.dir, "mon.sock")
        for p in (uart, mon):
            if os.path.exists(p):
                os.unlink(p)
        cmd = ["qemu-system-arm", "-M", "mps2-an386", "-display", "none", "-nodefaults",
               "-serial", "file:" + uart, "-monitor", "unix:%s,server=on,wait=off" % mon,
               "-device", "loader,file=%s,addr=0x0,force-raw=on" % flash_file]
        hook = [HOOK_MAGIC, cut_at, 1 if torn else 0, 0] if cut_at else [HOOK_MAGIC, 0, 0, 0]
        for i, v in enumerate(hook):
            cmd += ["-device", "loader,addr=0x%x,data=0x%x,data-len=4" % (HOOK_ADDR + 4 * i, v)]
        if icount:
            cmd += ["-icount", "shift=0"]
        cmd += list(extra)
        q = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        try:
            text = self._wait(q, uart, timeout, endings)
            ops = self._save(mon, flash_file, ram_dump)
        finally:
            if q.poll() is None:
                q.kill()
            q.wait()
        self.flash = bytearray(open(flash_file, "rb").read())
        assert len(self.flash) == FLASH_END
        self.log.append(text)
        return text, ops

    def _wait(self, q, uart, timeout, endings):
        end = time.time() + timeout
        text = ""
        while time.time() < end:
            if q.poll() is not None:
                raise RuntimeError("qemu-system-arm exited: %s" % q.stderr.read().decode())
            if os.path.exists(uart):
                text = open(uart, "rb").read().decode("latin-1").replace("\r", "")
                if any(e in text for e in endings):
                    time.sleep(0.05)  # let the last line out
                    return open(uart, "rb").read().decode("latin-1").replace("\r", "")
            time.sleep(0.02)
        raise RuntimeError("no end of boot on the UART within %ds:\n%s" % (timeout, text))

    def _monitor(self, mon, cmds):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        for _ in range(100):
            try:
                s.connect(mon)
                break
            except OSError:
                time.sleep(0.05)
        buf = b""

        def prompt():
            nonlocal buf
            while b"(qemu)" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    raise RuntimeError("QEMU monitor closed")
                buf += chunk
            out, buf = buf, b""
            return out

        prompt()
        for c in cmds:
            s.sendall(c.encode() + b"\n")
            if c != "quit":
                prompt()
        s.close()

    def _save(self, mon, flash_file, ram_dump=None):
        hook_file = flash_file + ".hook"
        cmds = ["stop", 'pmemsave 0 %d "%s"' % (FLASH_END, flash_file),
                'pmemsave 0x%x 16 "%s"' % (HOOK_ADDR, hook_file)]
        if ram_dump:
            cmds.append('pmemsave 0x20000000 0x30000 "%s"' % ram_dump)
        self._monitor(mon, cmds + ["quit"])
        for _ in range(100):
            if os.path.exists(hook_file) and os.path.getsize(hook_file) == 16:
                break
            time.sleep(0.05)
        return struct.unpack("<4I", open(hook_file, "rb").read())[3]
