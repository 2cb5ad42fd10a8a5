#!/usr/bin/python3
"""Test helper: write a boot-key certificate (format of include/fwtrust/fwt_cert.h)
with Python's cryptography, independently of fwtrust's own issuer.

usage: make_cert.py ROOT_KEY.pem SIGNING_KEY.pem OUT [--key-version N] [--not-after T]
                    [--hw-id ID] [--corrupt-sig]
Root keys: Ed25519 (signs the 32-byte SHA-256 of the to-be-signed bytes, as MCUboot's
Ed25519 signs digests) or ECDSA P-256 (prehashed SHA-256, DER).
"""
import hashlib
import struct
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, utils

KEY_TYPES = {"ed25519": 1, "ecdsa-p256": 2, "ecdsa-p384": 3, "rsa-2048": 4, "rsa-3072": 5}
SIG_ED25519, SIG_ECDSA_P256 = 1, 3


def load_private(path):
    return serialization.load_pem_private_key(open(path, "rb").read(), password=None)


def mcuboot(pub):
    if isinstance(pub, rsa.RSAPublicKey):
        return pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def key_type(pub):
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return KEY_TYPES["ed25519"]
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return KEY_TYPES["ecdsa-p256" if pub.curve.key_size == 256 else "ecdsa-p384"]
    return KEY_TYPES["rsa-2048" if pub.key_size == 2048 else "rsa-3072"]


def main(argv):
    root, signer, out = load_private(argv[1]), load_private(argv[2]), argv[3]
    opts = argv[4:]
    get = lambda name, default: opts[opts.index(name) + 1] if name in opts else default
    key_version = int(get("--key-version", "1"), 0)
    not_after = int(get("--not-after", "0"), 0)
    hw_id = get("--hw-id", "").encode()
    key = mcuboot(signer.public_key())
    if isinstance(root, ed25519.Ed25519PrivateKey):
        alg = SIG_ED25519
    elif isinstance(root, ec.EllipticCurvePrivateKey) and root.curve.key_size == 256:
        alg = SIG_ECDSA_P256
    else:
        sys.exit("make_cert.py: root must be Ed25519 or ECDSA P-256")
    tbs = b"FWC1" + struct.pack("<BBBBIQ", 1, key_type(signer.public_key()), alg, 0, key_version,
                                not_after)
    tbs += hashlib.sha256(mcuboot(root.public_key())).digest()
    tbs += struct.pack("<HH", len(hw_id), len(key)) + hw_id + key
    digest = hashlib.sha256(tbs).digest()
    if alg == SIG_ED25519:
        sig = root.sign(digest)
    else:
        sig = root.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    if "--corrupt-sig" in opts:
        sig = bytes([sig[0] ^ 1]) + sig[1:]
    open(out, "wb").write(tbs + struct.pack("<H", len(sig)) + sig)


if __name__ == "__main__":
    main(sys.argv)
