#!/usr/bin/python3
"""Make MCUboot images the way imgtool does, for the options real imgtool
could not be run for here (PyPI, hence imgtool, is out of reach):

  --pure                      Ed25519 over header + payload + protected TLVs;
                              SHA-512 hash TLV, SIG_PURE (0x25, value 1) right
                              after it in the unprotected area, 64-byte key hash
  --sha 512                   Ed25519 over the 64-byte SHA-512 digest
  --public-key-format full    PUBKEY TLV (the key's SPKI DER) instead of KEYHASH
  -d "(1,1.2.3+0)"            DEPENDENCY TLV (protected)
  --custom-tlv 0xa0 0x01020304  a vendor TLV (protected, after the others)
  --pad --confirm             slot padding, image_ok = 0x01 and the boot magic
  --endian big                every field imgtool packs with its endian prefix big
                              endian: header, TLV info headers, TLV headers (named
                              types 'BBH': type byte, zero byte, length; custom
                              types 'HH'), SEC_CNT, DEPENDENCY, and the max-align
                              field of the boot magic (--max-align 16/32)

Written from MCUboot's scripts/imgtool/image.py (Image.create, add_header,
pad_to, _trailer_size and key_and_user_sha_to_alg_and_tlv) and
scripts/imgtool/keys/ed25519.py; it shares no code with fwtrust or imgtool
(Python `cryptography`, Debian's python3-cryptography). Ed25519 signatures are
deterministic, so the same key and input always give the same bytes.

usage: make_vectors.py KEY.pem FIRMWARE OUTDIR
       make_vectors.py sign KEY.pem FIRMWARE OUT VERSION SECURITY_COUNTER ROM_FIXED [confirm]
       make_vectors.py big KEY.pem FIRMWARE OUTDIR

The third form writes the --endian big images tests/cli/endian.sh compares
fwtrust's with (made at test time: nothing stored), each with the imgtool
command it stands for.

The second form signs one image with an Ed25519 or ECDSA P-256 key, as
  imgtool sign -k KEY.pem --version VERSION --header-size 0x200 --pad-header
      --slot-size 0x80000 --security-counter N --rom-fixed ROM_FIXED --pad [--confirm]
does (ECDSA as scripts/imgtool/keys/ecdsa.py: the SHA-256 digest signed as a
prehash, DER signature in an ECDSASIG TLV 0x22; ROM_FIXED as add_header: flag
0x100, the address in the load address field). tests/mcu signs the Cortex-M
application with it, so that an image whose signature fwtrust did not make boots.
"""
import hashlib
import os
import struct
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

IMAGE_MAGIC = 0x96F3B83D
BOOT_MAGIC = bytes.fromhex("77c295f360d2ef7f3552500f2cb67980")  # max_align 8
T_KEYHASH, T_PUBKEY, T_SHA256, T_SHA512 = 0x01, 0x02, 0x10, 0x12
T_ED25519, T_SIG_PURE, T_DEPENDENCY, T_SEC_CNT = 0x24, 0x25, 0x40, 0x50
T_ECDSASIG = 0x22
IMAGE_F_ROM_FIXED = 0x100


def tlv_header(e, t, n):
    # imgtool's TLV.add: its named types (all below 0xa0) 'BBH', custom types 'HH'
    return struct.pack(e + "BBH", t, 0, n) if t < 0xA0 else struct.pack(e + "HH", t, n)


def area(magic, tlvs, e="<"):
    body = b"".join(tlv_header(e, t, len(v)) + v for t, v in tlvs)
    return struct.pack(e + "HH", magic, 4 + len(body)) + body if tlvs else b""


def boot_magic(e, max_align):
    if max_align == 8:
        return BOOT_MAGIC
    return struct.pack(e + "H", max_align) + bytes.fromhex("2de15d29410b8d77679c110f1f8a")


def image(key, fw, version=(4, 0, 0, 5), header_size=0x200, slot_size=0x80000,
          security_counter=5, pure=False, sha=256, full_key=False, deps=(), custom=(),
          pad=False, confirm=False, rom_fixed=None, e="<", align=1):
    pub = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    # imgtool: pure forces SHA-512; the key hash uses the image's hash algorithm.
    hash_fn, hash_tlv = (hashlib.sha512, T_SHA512) if pure or sha == 512 else \
        (hashlib.sha256, T_SHA256)
    prot = []
    if security_counter is not None:
        prot.append((T_SEC_CNT, struct.pack(e + "I", security_counter)))
    for image_id, (ma, mi, rev, build) in deps:
        prot.append((T_DEPENDENCY, struct.pack(e + "B3xBBHI", image_id, ma, mi, rev, build)))
    prot += list(custom)
    prot_area = area(0x6908, prot, e)
    body = bytes([0xFF]) * header_size + fw  # --pad-header: erased bytes
    flags = IMAGE_F_ROM_FIXED if rom_fixed is not None else 0
    hdr = struct.pack(e + "IIHHIIBBHII", IMAGE_MAGIC, rom_fixed or 0, header_size, len(prot_area),
                      len(fw), flags, version[0], version[1], version[2], version[3], 0)
    signed = hdr + body[len(hdr):] + prot_area
    digest = hash_fn(signed).digest()
    unprot = [(hash_tlv, digest)]
    if pure:
        unprot.append((T_SIG_PURE, b"\x01"))
    unprot.append((T_PUBKEY, pub) if full_key else (T_KEYHASH, hash_fn(pub).digest()))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if pure or hash_fn is not hashlib.sha256 or key.curve.name != "secp256r1":
            raise SystemExit("ECDSA: P-256 with SHA-256 only here")
        unprot.append((T_ECDSASIG, key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))))
    else:
        unprot.append((T_ED25519, key.sign(signed if pure else digest)))
    out = signed + area(0x6907, unprot, e)
    if pad:
        max_align = max(8, align)
        magic_align = (16 + max_align - 1) // max_align * max_align
        trailer = 128 * 3 * align + max_align * 4 + magic_align  # 128 sectors
        if len(out) + trailer > slot_size:
            raise SystemExit("image + trailer exceed the slot")
        tail = bytearray([0xFF] * (slot_size - len(out) - 16)) + boot_magic(e, max_align)
        if confirm:
            tail[-(magic_align + max_align)] = 0x01  # image_ok
        out += bytes(tail)
    return out


def sign_one(argv):
    key = serialization.load_pem_private_key(open(argv[2], "rb").read(), password=None)
    fw = open(argv[3], "rb").read()
    v, _, build = argv[5].partition("+")
    parts = [int(x) for x in v.split(".")] + [0, 0]
    out = image(key, fw, version=(parts[0], parts[1], parts[2], int(build or 0)),
                security_counter=int(argv[6], 0), rom_fixed=int(argv[7], 0), pad=True,
                confirm=argv[8:] == ["confirm"])
    with open(argv[4], "wb") as f:
        f.write(out)
    return 0


def big(argv):
    key = serialization.load_pem_private_key(open(argv[2], "rb").read(), password=None)
    fw = open(argv[3], "rb").read()
    outs = {
        # imgtool sign -k root-ed25519.pem --endian big --version 4.0.0+5 --header-size 0x200
        #   --pad-header --slot-size 0x80000 --security-counter 7 -d "(1,1.2.3+4)"
        #   --custom-tlv 0xa1 0x68656c6c6f --custom-tlv 0x1234 0x00ff --max-align 32 --align 32
        #   --pad --confirm
        "be-ed25519-full.bin": image(
            key, fw, security_counter=7, deps=[(1, (1, 2, 3, 4))],
            custom=[(0xA1, b"hello"), (0x1234, bytes.fromhex("00ff"))], pad=True, confirm=True,
            e=">", align=32),
        # ... --endian big --pure --public-key-format full --security-counter 5
        "be-ed25519-pure.bin": image(key, fw, pure=True, full_key=True, e=">"),
    }
    for name, data in outs.items():
        with open(os.path.join(argv[4], name), "wb") as f:
            f.write(data)
        print("%s  %s" % (hashlib.sha256(data).hexdigest(), name))
    return 0


def main(argv):
    if len(argv) in (8, 9) and argv[1] == "sign":
        return sign_one(argv)
    if len(argv) == 5 and argv[1] == "big":
        return big(argv)
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    key = serialization.load_pem_private_key(open(argv[1], "rb").read(), password=None)
    fw = open(argv[2], "rb").read()
    outs = {
        # imgtool sign -k root-ed25519.pem --pure --version 4.0.0+5 --header-size 0x200
        #   --pad-header --slot-size 0x80000 --security-counter 5
        "ed25519-pure.bin": image(key, fw, pure=True),
        # ... --sha 512 instead of --pure
        "ed25519-sha512.bin": image(key, fw, sha=512),
        # ... --pure --public-key-format full -d "(1,1.2.3+0)" --custom-tlv 0xa0 0x01020304
        #   --slot-size 0x50000 --pad --confirm
        "ed25519-pure-full-dep-custom-confirm.bin": image(
            key, fw, pure=True, full_key=True, deps=[(1, (1, 2, 3, 0))],
            custom=[(0xA0, bytes.fromhex("01020304"))], slot_size=0x50000, pad=True,
            confirm=True),
    }
    for name, data in outs.items():
        with open(os.path.join(argv[3], name), "wb") as f:
            f.write(data)
        print("%s  %s" % (hashlib.sha256(data).hexdigest(), name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
