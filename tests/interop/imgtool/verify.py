#!/usr/bin/python3
"""An independent verifier of MCUboot images, written from the rules of
MCUboot's imgtool `verify` (scripts/imgtool/image.py): header magic, optional
protected TLV area (0x6908) then unprotected area (0x6907), SHA-256/384/512
over header + payload + protected TLVs (the hash a key type allows: SHA-384
for P-384, SHA-256 for P-256 and RSA, SHA-256 or SHA-512 for Ed25519), and a
signature TLV of the key's type that verifies the digest -- or, when the
unprotected area holds SIG_PURE (0x25, value 1: imgtool --pure), the image
itself. Stricter than imgtool in three places: the KEYHASH (hashed with the
image's hash algorithm, as imgtool writes it and MCUboot's bootloader checks
it) or PUBKEY TLV before the signature must name this key, every TLV must lie
inside its area, and a SIG_PURE in the protected area (which imgtool's verify
does not look for) is refused rather than ignored.

Both byte orders of imgtool --endian: the header magic 0x96f3b83d packed '<I'
or '>I' says which, and everything imgtool packs with its endian prefix is read
with the same one -- the header ('IIHHIIBBHII'), both TLV info headers ('HH'),
TLV headers, SEC_CNT ('I') and DEPENDENCY ('B3xBBHI') values. A TLV header is
'BBH' (type byte, zero byte, length) for imgtool's named types and 'HH' for
custom ones: in a big-endian image the two differ, so a header whose second
byte is zero and whose first is below 0xa0 is a named type, any other is a
'>H' type (the canonical forms only; others are refused).

It shares no code with fwtrust (Python `cryptography`, Debian's
python3-cryptography), so it cross-checks that fwtrust's images follow
imgtool's rules.

usage: verify.py KEY.pem IMAGE [--expect-version V] [--expect-digest HEX]
                 [--expect-order little|big] [--expect-counter N]
                 [--expect-deps ID:M.m.r+b,...] [--expect-max-align N]
The OK line names the byte order, the security counter and the dependencies
it decoded.
exit: 0 valid, 1 invalid (reason on stderr), 2 usage
"""
import hashlib
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

IMAGE_MAGIC = 0x96F3B83D
TLV_INFO_MAGIC = 0x6907
TLV_PROT_INFO_MAGIC = 0x6908
T_KEYHASH, T_PUBKEY = 0x01, 0x02
T_SHA256, T_SHA384, T_SHA512 = 0x10, 0x11, 0x12
HASHES = {T_SHA256: hashlib.sha256, T_SHA384: hashlib.sha384, T_SHA512: hashlib.sha512}
T_RSA2048, T_ECDSA, T_RSA3072, T_ED25519, T_SIG_PURE = 0x20, 0x22, 0x23, 0x24, 0x25
T_DEPENDENCY, T_SEC_CNT = 0x40, 0x50


def ecdsa_unpad(key, sig):
    """imgtool --pad-sig: the DER signature followed by zeros up to the curve's
    largest DER size (72 bytes P-256, 104 P-384). MCUboot reads the DER
    SEQUENCE's own length and skips what follows; here only zeros may follow."""
    largest = 104 if key.curve.name == "secp384r1" else 72
    if len(sig) < 2 or sig[0] != 0x30 or sig[1] >= 0x80 or 2 + sig[1] >= len(sig):
        return sig
    if len(sig) > largest or any(sig[2 + sig[1]:]):
        fail("ECDSA signature: %d bytes after its DER are not imgtool's zero padding"
             % (len(sig) - 2 - sig[1]))
    return sig[:2 + sig[1]]


def fail(msg):
    print("verify.py: INVALID: " + msg, file=sys.stderr)
    sys.exit(1)


def load_key(path):
    data = open(path, "rb").read()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        key = serialization.load_pem_private_key(data, password=None).public_key()
    if isinstance(key, rsa.RSAPublicKey):
        enc = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        tlv = T_RSA2048 if key.key_size == 2048 else T_RSA3072
    else:
        enc = key.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
        tlv = T_ED25519 if isinstance(key, ed25519.Ed25519PublicKey) else T_ECDSA
    return key, enc, tlv


def tlv_type(e, b, off):
    """The type of the TLV header at off in an image of struct prefix e."""
    if e == "<":
        return struct.unpack_from("<H", b, off)[0]
    first, second, _ = struct.unpack_from(">BBH", b, off)
    if second == 0:
        if first >= 0xA0:
            fail("TLV header at 0x%x: bytes %02x 00 are no type imgtool writes" % (off, first))
        return first  # imgtool's 'BBH': a named type
    t = struct.unpack_from(">H", b, off)[0]  # imgtool's 'HH': a custom type
    if t < 0xA0:
        fail("TLV header at 0x%x: type 0x%x packed 'HH' (imgtool packs it 'BBH')" % (off, t))
    return t


def tlvs(b, off, end, e="<"):
    while off < end:
        if off + 4 > end:
            fail("TLV header at 0x%x runs past its area" % off)
        t = tlv_type(e, b, off)
        l = struct.unpack_from(e + "H", b, off + 2)[0]
        if off + 4 + l > end:
            fail("TLV 0x%x at 0x%x runs past its area" % (t, off))
        yield t, b[off + 4:off + 4 + l]
        off += 4 + l


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    key, enc, sig_tlv = load_key(argv[1])
    b = open(argv[2], "rb").read()
    opts = dict(zip(argv[3::2], argv[4::2]))
    if len(b) < 32:
        fail("shorter than a header")
    if struct.unpack_from("<I", b, 0)[0] == IMAGE_MAGIC:
        e, order = "<", "little"
    elif struct.unpack_from(">I", b, 0)[0] == IMAGE_MAGIC:
        e, order = ">", "big"
    else:
        fail("bad header magic %s" % b[:4].hex())
    _magic, _load, hdr_size, prot_size, img_size, _flags = struct.unpack_from(e + "IIHHII", b, 0)
    major, minor, rev, build = struct.unpack_from(e + "BBHI", b, 20)
    if hdr_size < 32:
        fail("header size %d < 32" % hdr_size)
    off = hdr_size + img_size
    if off + 4 > len(b):
        fail("header + image size run past the file")
    pure = False
    counter, deps = None, []
    m, tot = struct.unpack_from(e + "HH", b, off)
    if m == TLV_PROT_INFO_MAGIC:
        if tot != prot_size:
            fail("protected area size %d != header's %d" % (tot, prot_size))
        if off + tot > len(b):
            fail("protected area runs past the file")
        for t, v in tlvs(b, off + 4, off + tot, e):
            if t == T_SIG_PURE:
                fail("SIG_PURE in the protected area (imgtool --pure puts it in the unprotected one)")
            if t == T_SEC_CNT:
                if len(v) != 4 or counter is not None:
                    fail("SEC_CNT must be 4 bytes, once")
                counter = struct.unpack(e + "I", v)[0]
            if t == T_DEPENDENCY:
                if len(v) != 12 or any(v[1:4]):
                    fail("DEPENDENCY must be 12 bytes: id, 3 zero bytes, version")
                deps.append("%d:%d.%d.%d+%d" % struct.unpack(e + "B3xBBHI", v))
        off += tot
        if off + 4 > len(b):
            fail("no unprotected area")
        m, tot = struct.unpack_from(e + "HH", b, off)
    elif prot_size != 0:
        fail("header announces a protected area that is not there")
    if m != TLV_INFO_MAGIC:
        fail("bad TLV info magic 0x%04x" % m)
    if off + tot > len(b):
        fail("unprotected area runs past the file")
    signed = b[:off]
    for t, v in tlvs(b, off + 4, off + tot, e):
        if t == T_SIG_PURE:
            if v != b"\x01" or pure:
                fail("SIG_PURE must be one byte, value 1, once")
            pure = True
    if pure and not isinstance(key, ed25519.Ed25519PublicKey):
        fail("SIG_PURE with a non-Ed25519 key")
    if isinstance(key, ed25519.Ed25519PublicKey):
        allowed = (T_SHA512,) if pure else (T_SHA256, T_SHA512)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        allowed = (T_SHA384,) if key.curve.name == "secp384r1" else (T_SHA256,)
    else:
        allowed = (T_SHA256,)
    want_hash = None
    last_key = None
    good = False
    for t, v in tlvs(b, off + 4, off + tot, e):
        if t in HASHES:
            if want_hash is not None:
                fail("a second hash TLV")
            if t not in allowed:
                fail("hash TLV 0x%x does not go with this key (%s)" % (t, "pure" if pure else "digest"))
            digest = HASHES[t](signed).digest()
            if v != digest:
                fail("digest mismatch: image says %s, computed %s" % (v.hex(), digest.hex()))
            want_hash = t
        elif t == T_KEYHASH:
            if want_hash is None:
                fail("key hash before the hash TLV")
            last_key = v == HASHES[want_hash](enc).digest()
        elif t == T_PUBKEY:
            last_key = v == enc
        elif t == sig_tlv and last_key:
            if want_hash is None:
                fail("signature before the hash TLV")
            digest = HASHES[want_hash](signed).digest()
            try:
                if isinstance(key, ed25519.Ed25519PublicKey):
                    key.verify(v, signed if pure else digest)
                elif isinstance(key, ec.EllipticCurvePublicKey):
                    alg = hashes.SHA256() if want_hash == T_SHA256 else hashes.SHA384()
                    key.verify(ecdsa_unpad(key, v), digest, ec.ECDSA(utils.Prehashed(alg)))
                else:
                    key.verify(v, digest,
                               padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                               utils.Prehashed(hashes.SHA256()))
                good = True
            except InvalidSignature:
                fail("signature by this key does not verify")
    if want_hash is None:
        fail("no hash TLV")
    if not good:
        fail("no signature by this key")
    version = "%d.%d.%d+%d" % (major, minor, rev, build)
    digest_hex = HASHES[want_hash](signed).hexdigest()
    if "--expect-version" in opts and opts["--expect-version"] != version:
        fail("version %s, expected %s" % (version, opts["--expect-version"]))
    if "--expect-digest" in opts and opts["--expect-digest"] != digest_hex:
        fail("digest %s, expected %s" % (digest_hex, opts["--expect-digest"]))
    if "--expect-order" in opts and opts["--expect-order"] != order:
        fail("byte order %s, expected %s" % (order, opts["--expect-order"]))
    if "--expect-counter" in opts and str(counter) != opts["--expect-counter"]:
        fail("security counter %s, expected %s" % (counter, opts["--expect-counter"]))
    if "--expect-deps" in opts and ",".join(deps) != opts["--expect-deps"]:
        fail("dependencies %s, expected %s" % (",".join(deps), opts["--expect-deps"]))
    if "--expect-max-align" in opts:
        # imgtool's boot magic: 16 fixed bytes for max-align 8, else max-align packed e + 'H'
        # then 14 fixed bytes
        a = int(opts["--expect-max-align"])
        tail = b[-16:]
        if a == 8:
            ok = tail.hex() == "77c295f360d2ef7f3552500f2cb67980"
        else:
            ok = tail[:2] == struct.pack(e + "H", a) and \
                tail[2:].hex() == "2de15d29410b8d77679c110f1f8a"
        if not ok:
            fail("the file does not end in the boot magic for max-align %d (%s)" % (a, tail.hex()))
    print("OK version %s digest %s%s order %s counter %s deps %s" %
          (version, digest_hex, " (pure)" if pure else "", order, counter, ",".join(deps) or "-"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
