#!/usr/bin/python3
"""Boot tests of the Cortex-M4 bootloader on QEMU mps2-an386 (see mcu.py for how a power cycle
is emulated).

usage: test_boot.py FWTRUST BUILD_MCU_DIR CASE
CASE: build (runs scripts/build-mcu into BUILD_MCU_DIR), good, rsa, imgtool, tampered, wrongkey,
      downgrade, truncated, wrongslot, upgrade-confirm,
      upgrade-revert, powercut-confirm, powercut-revert, verify-256k, encrypted,
      encrypted-refused, encrypted-noenc, powercut-encrypted
Exit: 0 pass, 1 fail, 77 qemu-system-arm or the toolchain missing.
"""
import os
import struct
import subprocess
import sys
import tempfile

import mcu
from mcu import SLOT0, SLOT1, SLOT_SIZE

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(mcu.ROOT, "tests", "data", "vectors")
MAKE_VECTORS = os.path.join(mcu.ROOT, "tests", "interop", "imgtool", "make_vectors.py")


class Fail(Exception):
    pass


def expect(text, *needles, absent=()):
    for n in needles:
        if n not in text:
            raise Fail("expected %r on the UART:\n%s" % (n, text))
    for n in absent:
        if n in text:
            raise Fail("did not expect %r on the UART:\n%s" % (n, text))


def device(b, tmp, boot="boot-fih"):
    return mcu.Device(b, boot=boot, workdir=tempfile.mkdtemp(dir=tmp))


def v1_confirmed(b, tmp, key="boot-ecdsa-p256"):
    return b.sign("app-1.0.0-s0", os.path.join(tmp, "v1.bin"), "1.0.0", 1, SLOT0, key=key,
                  confirm=True)


def case_good(b, tmp):
    d = device(b, tmp)
    d.put_slot(SLOT0, v1_confirmed(b, tmp))
    text, _ = d.boot()
    expect(text, "slot 0: verified", "BOOT: jump to", "APP: fwtrust demo application 1.0.0",
           "APP: idle")
    if d.counter() != 1:
        raise Fail("security counter %d after booting a confirmed image with counter 1" %
                   d.counter())


def case_rsa(b, tmp):
    d = device(b, tmp)
    d.put_slot(SLOT0, v1_confirmed(b, tmp, key="boot-rsa-3072"))
    text, _ = d.boot()
    expect(text, "slot 0: verified", "APP: fwtrust demo application 1.0.0", "APP: idle")


def case_imgtool(b, tmp):
    # 1. The application, signed not by fwtrust but by the imgtool-format generator
    #    (tests/interop/imgtool/make_vectors.py, written from imgtool's source) with a key
    #    of its own that the bootloader trusts (the imgtool vectors' keys are not here).
    d = device(b, tmp)
    fw = b.path("app-1.0.0-s0.bin")
    out = os.path.join(tmp, "imgtool-style.bin")
    subprocess.run([sys.executable, MAKE_VECTORS, "sign", b.key("boot-ecdsa-p256"), fw, out,
                    "1.0.0+7", "1", hex(SLOT0), "confirm"], check=True)
    d.put_slot(SLOT0, open(out, "rb").read())
    text, _ = d.boot()
    expect(text, "slot 0: version 1.0.0+7, confirmed", "slot 0: verified",
           "APP: fwtrust demo application 1.0.0", "APP: idle")
    # 2. Images signed by MCUboot's imgtool itself (tests/data/vectors: Pybricks firmware for
    #    an STM32 hub, not runnable here): ECDSA P-256 and RSA-3072 verify with mbedTLS on the
    #    target and are started; Ed25519 is refused (not in this mbedTLS build).
    for typ, ok in (("ecdsa-p256", True), ("rsa-3072", True), ("ed25519", False)):
        d = device(b, tmp)
        img = open(os.path.join(VECTORS, "primehub-v4.0.0b5.%s.signed.bin" % typ), "rb").read()
        d.put_slot(SLOT0, img)
        d.set_trailer(SLOT0, magic=True, image_ok=True)
        text, _ = d.boot(endings=mcu.ENDINGS + ("BOOT: jump to",))
        if ok:
            # The firmware's reset vector points into the STM32's flash (0x08......).
            expect(text, "slot 0: version 4.0.0+5, confirmed", "slot 0: verified",
                   "security counter 5", "BOOT: jump to 0x08")
        else:
            expect(text, "slot 0 refused: FWT_E_UNKNOWN_KEY", "halt: no bootable image",
                   absent=("BOOT: jump",))


def refused(b, tmp, img, reason, setup=None):
    d = device(b, tmp)
    d.put_slot(SLOT0, img)
    if setup:
        setup(d)
    text, _ = d.boot()
    expect(text, "slot 0 refused: " + reason, "BOOT: halt: no bootable image",
           absent=("BOOT: jump", "APP:"))
    return d


def case_tampered(b, tmp):
    img = bytearray(v1_confirmed(b, tmp))
    img[0x200 + 0x100] ^= 0x01  # one bit of the payload
    refused(b, tmp, bytes(img), "FWT_E_DIGEST")


def case_wrongkey(b, tmp):
    refused(b, tmp, v1_confirmed(b, tmp, key="other-ecdsa-p256"), "FWT_E_UNKNOWN_KEY")


def case_downgrade(b, tmp):
    img = b.sign("app-1.0.0-s0", os.path.join(tmp, "c3.bin"), "1.0.0", 3, SLOT0, confirm=True)
    d = refused(b, tmp, img, "FWT_E_COUNTER", setup=lambda d: d.set_counter(5))
    expect(d.log[0], "BOOT: security counter 5")
    if d.counter() != 5:
        raise Fail("the counter moved: %d" % d.counter())


def case_truncated(b, tmp):
    img = v1_confirmed(b, tmp)
    # Only the first half of the image arrived (the rest of the slot erased), trailer kept:
    # what an interrupted download leaves. The header still claims the whole payload.
    size = img.index(b"\xff" * 64, 0x200 + 1024)  # end of header + payload + TLVs
    cut = bytearray(img)
    cut[size // 2:size] = b"\xff" * (size - size // 2)
    refused(b, tmp, bytes(cut), "FWT_E_MALFORMED")


def case_wrongslot(b, tmp):
    """An image signed for slot 1 (--rom-fixed, in the signed header) copied into slot 0 is not
    started there: it is linked to run from slot 1."""
    d = device(b, tmp)
    d.put_slot(SLOT0, b.sign("app-1.0.0-s1", os.path.join(tmp, "s1.bin"), "1.0.0", 1, SLOT1,
                             confirm=True))
    text, _ = d.boot()
    expect(text, "slot 0: verified", "BOOT: slot image is linked for 0x000a0000, not this slot",
           "BOOT: halt: no bootable image", absent=("BOOT: jump",))


def upgrade_setup(b, tmp, confirm):
    d = device(b, tmp)
    d.put_slot(SLOT0, v1_confirmed(b, tmp))
    app = "app-2.0.0-s1" + ("" if confirm else "-noconfirm")
    d.put_slot(SLOT1, b.sign(app, os.path.join(tmp, "v2.bin"), "2.0.0", 2, SLOT1))
    return d


def case_upgrade_confirm(b, tmp):
    d = upgrade_setup(b, tmp, True)
    text, _ = d.boot()
    expect(text, "slot 1: version 2.0.0+0, new (trial)", "BOOT: trial boot",
           "APP: fwtrust demo application 2.0.0 running from slot 1", "APP: confirmed",
           absent=("security counter raised",))
    if d.counter() != 0:
        raise Fail("the counter was raised on a trial boot: %d" % d.counter())
    text, _ = d.boot()
    expect(text, "slot 1: version 2.0.0+0, confirmed", "security counter raised to 2",
           "APP: fwtrust demo application 2.0.0", "APP: already confirmed")
    text, _ = d.boot()
    expect(text, "APP: fwtrust demo application 2.0.0", absent=("security counter raised",))


def case_upgrade_revert(b, tmp):
    d = upgrade_setup(b, tmp, False)
    text, _ = d.boot()
    expect(text, "BOOT: trial boot", "APP: fwtrust demo application 2.0.0",
           "APP: not confirming")
    text, _ = d.boot()
    expect(text, "slot 1: trial was not confirmed: reverting",
           "APP: fwtrust demo application 1.0.0 running from slot 0", "APP: idle")
    text, _ = d.boot()
    expect(text, "slot 1: empty", "APP: fwtrust demo application 1.0.0")
    if d.counter() != 1:
        raise Fail("counter %d after a reverted trial of counter 2" % d.counter())


def enc_setup(b, tmp, enc_key="boot-enc-p256", key="boot-ecdsa-p256", payload_size=None,
              mutate=None, keylen=128):
    """1.0.0 confirmed in slot 0; in slot 1, 2.0.0 (counter 2) linked for slot 0 and encrypted
    for the device key enc_key (ECIES-P256, fwtrust sign --encrypt), with the boot magic."""
    d = device(b, tmp)
    d.put_slot(SLOT0, v1_confirmed(b, tmp))
    d.set_counter(1)  # 1.0.0 has booted confirmed before
    enc = enc_key if os.path.isabs(enc_key) else b.key(enc_key)
    img = b.sign("app-2.0.0-s0", os.path.join(tmp, "v2enc.bin"), "2.0.0", 2, SLOT0, key=key,
                 payload_size=payload_size,
                 extra=["--encrypt", enc, "--encrypt-keylen", str(keylen)])
    if mutate:
        img = mutate(bytearray(img))
    d.put_slot(SLOT1, bytes(img))
    return d


def tlv_find(img, tag):
    """(offset of the TLV header, value length) of the first TLV of type tag."""
    hdr_size, prot, img_size = struct.unpack_from("<HHI", img, 8)
    off = hdr_size + img_size
    for _ in range(2):
        magic, total = struct.unpack_from("<HH", img, off)
        assert magic in (0x6907, 0x6908)
        pos, end = off + 4, off + total
        while pos < end:
            t, ln = struct.unpack_from("<HH", img, pos)
            if t == tag:
                return pos, ln
            pos += 4 + ln
        off = end
    raise Fail("no TLV 0x%x" % tag)


ENC_EC256 = 0x32


def case_encrypted(b, tmp):
    """An encrypted image in slot 1 is verified over its plaintext, decrypted into slot 0,
    confirmed, and slot 1 erased; slot 0 then holds the plaintext (header and TLVs as signed).
    AES-128, then AES-256 (--encrypt-keylen 256)."""
    for keylen in (128, 256):
        enc_install(b, tmp, keylen)


def enc_install(b, tmp, keylen):
    d = enc_setup(b, tmp, keylen=keylen)
    ct = bytes(d.flash[SLOT1:SLOT1 + 0x2000])
    flags = struct.unpack_from("<I", ct, 16)[0]
    if flags & 0xC != (0x8 if keylen == 256 else 0x4):
        raise Fail("header flags 0x%x for AES-%d" % (flags, keylen))
    text, _ = d.boot()
    expect(text, "slot 1: version 2.0.0+0, encrypted, to install into slot 0",
           "slot 1: encrypted image: decrypt into slot 0", "slot 1: image key unwrapped in",
           "slot 1: verified over the plaintext (", "; installing", "decrypted into slot 0",
           "slot 1: empty", "slot 0: version 2.0.0+0, confirmed", "slot 0: verified",
           "security counter raised to 2",
           "APP: fwtrust demo application 2.0.0 running from slot 0", "APP: already confirmed")
    plain = open(b.path("app-2.0.0-s0.bin"), "rb").read()
    got = bytes(d.flash[SLOT0 + 0x200:SLOT0 + 0x200 + len(plain)])
    if got != plain or ct[0x200:0x200 + len(plain)] == plain:
        raise Fail("slot 0 does not hold the plaintext of the encrypted image")
    if bytes(d.flash[SLOT0:SLOT0 + 0x200]) != ct[:0x200]:
        raise Fail("the header was not copied as signed (ENCRYPTED flag kept, as MCUboot)")
    if d.counter() != 2:
        raise Fail("counter %d after installing an image with counter 2" % d.counter())
    text, ops = d.boot()
    expect(text, "slot 1: empty", "APP: fwtrust demo application 2.0.0",
           absent=("decrypt", "security counter raised"))
    if ops != 0:
        raise Fail("%d flash operations on the boot after the install" % ops)


def case_encrypted_refused(b, tmp):
    """Wrong device key, altered HMAC tag, truncated key TLV, tampered ciphertext, untrusted
    signer, a key TLV of a scheme not built in, an older version: each refused before slot 0
    is touched; 1.0.0 keeps booting."""
    def flip_tag(img):
        pos, _ = tlv_find(img, ENC_EC256)
        img[pos + 4 + 65] ^= 0x01  # first byte of the HMAC tag
        return img

    def truncate_tlv(img):
        pos, ln = tlv_find(img, ENC_EC256)
        struct.pack_into("<H", img, pos + 2, ln - 1)  # one byte shorter ...
        hdr_size, _, img_size = struct.unpack_from("<HHI", img, 8)
        off = hdr_size + img_size
        while struct.unpack_from("<H", img, off)[0] != 0x6907:
            off += struct.unpack_from("<H", img, off + 2)[0]
        total = struct.unpack_from("<H", img, off + 2)[0]
        struct.pack_into("<H", img, off + 2, total - 1)  # ... and so the TLV area
        return img

    def flip_payload(img):
        img[0x200 + 0x100] ^= 0x01
        return img

    x25519 = os.path.join(tmp, "x25519.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "X25519", "-out", x25519], check=True)
    cases = [
        ("another device's key", dict(enc_key="other-enc-p256"), "FWT_E_KEY",
         "does not unwrap with this device's key"),
        ("HMAC tag altered", dict(mutate=flip_tag), "FWT_E_KEY",
         "does not unwrap with this device's key"),
        ("key TLV truncated", dict(mutate=truncate_tlv), "FWT_E_MALFORMED", None),
        ("ciphertext bit flipped", dict(mutate=flip_payload), "FWT_E_DIGEST", None),
        ("untrusted signer", dict(key="other-ecdsa-p256"), "FWT_E_UNKNOWN_KEY", None),
        ("ECIES-X25519 key TLV", dict(enc_key=x25519), "FWT_E_UNSUPPORTED",
         "key TLV is not ENC_EC256"),
    ]
    for what, kw, reason, line in cases:
        d = enc_setup(b, tmp, **kw)
        before = bytes(d.flash[SLOT0:SLOT0 + SLOT_SIZE])
        text, ops = d.boot()
        expect(text, "slot 1 refused: " + reason, "APP: fwtrust demo application 1.0.0",
               *((line,) if line else ()), absent=("installing", "decrypted into"))
        if bytes(d.flash[SLOT0:SLOT0 + SLOT_SIZE]) != before or ops != 0:
            raise Fail("%s: slot 0 changed (%d flash operations)" % (what, ops))
    # Not newer than slot 0: not installed, not even unwrapped.
    d = device(b, tmp)
    d.put_slot(SLOT0, b.sign("app-2.0.0-s0", os.path.join(tmp, "v2.bin"), "2.0.0", 2, SLOT0,
                             confirm=True))
    d.put_slot(SLOT1, b.sign("app-1.0.0-s0", os.path.join(tmp, "v1enc.bin"), "1.0.0", 2,
                             SLOT0, extra=["--encrypt", b.key("boot-enc-p256")]))
    text, _ = d.boot()
    expect(text, "encrypted image not newer than slot 0: not installed",
           "APP: fwtrust demo application 2.0.0", absent=("installing",))


def case_encrypted_noenc(b, tmp):
    """The bootloader built without BOOT_ENC leaves an encrypted image in slot 1 alone."""
    d = enc_setup(b, tmp)
    d.flash[0:0x20000] = b"\xff" * 0x20000
    bl = open(b.path("boot-release-noenc.bin"), "rb").read()
    d.flash[0:len(bl)] = bl
    text, _ = d.boot()
    expect(text, "has no decryption (built without BOOT_ENC): not installed",
           "APP: fwtrust demo application 1.0.0", absent=("installing",))


def app_version(text):
    for ln in text.splitlines():
        if ln.startswith("APP: fwtrust demo application "):
            return ln.split()[4]
    return None


def powercut(b, tmp, confirm, setup=None, label=None):
    """Cut the power before, and in the middle of, every flash operation of the upgrade (and
    of the boots after it, until nothing changes): every following power-on must boot an
    application. A cut after the application's own confirm (or, for the revert, any cut) must
    end where the uninterrupted sequence ends, security counter included; a cut before the
    confirm may end on 1.0.0 (the trial was not confirmed: reverted), never on nothing."""
    setup = setup or (lambda: upgrade_setup(b, tmp, confirm))
    ref = setup()
    per_boot = [ref.boot()[1] for _ in range(3)]
    total = sum(per_boot)
    if per_boot[-1] != 0:
        raise Fail("the reference sequence still writes flash on its third boot")
    ref_version, ref_counter = app_version(ref.log[-1]), ref.counter()
    n_cases = 0
    for k in range(1, total + 1):
        for torn in (False, True):
            d = setup()
            done = 0
            while True:
                text, ops = d.boot(cut_at=k - done, torn=torn)
                if "POWERCUT" in text:
                    break
                expect(text, "APP: idle")
                done += ops
            for _ in range(3):  # power back on, and again
                text, _ = d.boot()
                expect(text, "APP: fwtrust demo application", "APP: idle")
            v = app_version(text)
            after_confirm = k > per_boot[0]
            if (not confirm or after_confirm) and (v, d.counter()) != (ref_version, ref_counter):
                raise Fail("cut at operation %d%s: ends on %s with counter %d, not %s with %d" %
                           (k, " (torn)" if torn else "", v, d.counter(), ref_version,
                            ref_counter))
            if v not in ("1.0.0", "2.0.0") or d.counter() < 1:
                raise Fail("cut at operation %d: ends on %s, counter %d" % (k, v, d.counter()))
            n_cases += 1
    print("powercut-%s: %d flash operations over 3 boots (%s); %d cuts (before each, and "
          "torn), each followed by 3 power-ons that boot; uninterrupted result %s, counter %d" %
          (label or ("confirm" if confirm else "revert"), total, "+".join(map(str, per_boot)),
           n_cases,
           ref_version, ref_counter))


def case_powercut_confirm(b, tmp):
    powercut(b, tmp, True)


def case_powercut_revert(b, tmp):
    powercut(b, tmp, False)


def case_powercut_encrypted(b, tmp):
    """The encrypted install (12 KiB payload: 4 sectors to decrypt and copy) cut before and in
    the middle of each flash operation: every power-on after it boots, and every cut ends on
    the installed 2.0.0 with counter 2 (the install resumes: slot 1 stays until the copy is
    complete)."""
    powercut(b, tmp, False, setup=lambda: enc_setup(b, tmp, payload_size=12 * 1024),
             label="encrypted")


def case_verify_256k(b, tmp):
    """Instructions to verify a 256 KiB image (QEMU -icount shift=0: one instruction per
    virtual nanosecond; SysTick counts the 25 MHz clock, 40 instructions a tick)."""
    for key in ("boot-ecdsa-p256", "boot-rsa-3072"):
        d = device(b, tmp, boot="boot-release")
        d.put_slot(SLOT0, b.sign("app-1.0.0-s0", os.path.join(tmp, "big.bin"), "1.0.0", 1,
                                 SLOT0, key=key, confirm=True, payload_size=256 * 1024))
        text, _ = d.boot(icount=True)
        expect(text, "verified (262144 bytes", "APP: idle")
        line = [ln for ln in text.splitlines() if "verified" in ln][0]
        ticks = int(line.split(" in ")[1].split()[0])
        print("verify-256k %s: %d SysTick ticks = %d instructions (icount)" %
              (key, ticks, ticks * 40))
    # The same image encrypted (ENC_EC256, AES-128) in slot 1: the key unwrap (ECDH P-256,
    # HKDF, HMAC), then the verification over the plaintext decrypted as it is read, on the
    # release build; then the copy into slot 0.
    d = device(b, tmp, boot="boot-release")
    d.put_slot(SLOT1, b.sign("app-1.0.0-s0", os.path.join(tmp, "bigenc.bin"), "1.0.0", 1, SLOT0,
                             payload_size=256 * 1024,
                             extra=["--encrypt", b.key("boot-enc-p256")]))
    text, _ = d.boot(icount=True)
    expect(text, "bytes decrypted", "decrypted into slot 0", "APP: idle")
    unwrap = [ln for ln in text.splitlines() if "key unwrapped in" in ln][0]
    plain = [ln for ln in text.splitlines() if "verified over the plaintext" in ln][0]
    t_unwrap = int(unwrap.split(" in ")[1].split()[0])
    t_all = int(plain.split(") in ")[1].split()[0])
    print("verify-256k encrypted ecdsa-p256: key unwrap %d ticks = %d instructions; unwrap + "
          "decrypt-and-verify %d ticks = %d instructions (icount)" %
          (t_unwrap, t_unwrap * 40, t_all, t_all * 40))


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        mcu.tools_present()
    except mcu.Skip as e:
        print("SKIP: %s" % e)
        return 77
    b = mcu.Build(argv[1], argv[2])
    if argv[3] == "build":
        return subprocess.run([os.path.join(mcu.ROOT, "scripts", "build-mcu"), "--fwtrust",
                               b.fwtrust, b.out]).returncode
    fn = globals().get("case_" + argv[3].replace("-", "_"))
    if not fn:
        print("unknown case %s" % argv[3], file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="fwt-mcu-") as tmp:
        try:
            fn(b, tmp)
        except Fail as e:
            print("FAIL %s: %s" % (argv[3], e))
            return 1
    print("PASS %s" % argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
