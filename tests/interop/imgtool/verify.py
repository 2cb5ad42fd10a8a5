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

It shares no code with fwtrust (Python `cryptography`, Debian's
python3-cryptography), so it cross-checks that fwtrust's images follow
imgtool's rules.

usage: verify.py KEY.pem IMAGE [--expect-version V] [--expect-digest HEX]
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


def tlvs(b, off, end):
    while off < end:
        if off + 4 > end:
            fail("TLV header at 0x%x runs past its area" % off)
        t, l = struct.unpack_from("<HH", b, off)
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
    magic, _load, hdr_size, prot_size, img_size, _flags = struct.unpack_from("<IIHHII", b, 0)
    major, minor, rev, build = struct.unpack_from("<BBHI", b, 20)
    if magic != IMAGE_MAGIC:
        fail("bad header magic 0x%08x" % magic)
    if hdr_size < 32:
        fail("header size %d < 32" % hdr_size)
    off = hdr_size + img_size
    if off + 4 > len(b):
        fail("header + image size run past the file")
    pure = False
    m, tot = struct.unpack_from("<HH", b, off)
    if m == TLV_PROT_INFO_MAGIC:
        if tot != prot_size:
            fail("protected area size %d != header's %d" % (tot, prot_size))
        for t, v in tlvs(b, off + 4, off + tot):
            if t == T_SIG_PURE:
                fail("SIG_PURE in the protected area (imgtool --pure puts it in the unprotected one)")
        off += tot
        if off + 4 > len(b):
            fail("no unprotected area")
        m, tot = struct.unpack_from("<HH", b, off)
    elif prot_size != 0:
        fail("header announces a protected area that is not there")
    if m != TLV_INFO_MAGIC:
        fail("bad TLV info magic 0x%04x" % m)
    if off + tot > len(b):
        fail("unprotected area runs past the file")
    signed = b[:off]
    for t, v in tlvs(b, off + 4, off + tot):
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
    for t, v in tlvs(b, off + 4, off + tot):
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
    print("OK version %s digest %s%s" % (version, digest_hex, " (pure)" if pure else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
