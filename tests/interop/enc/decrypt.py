#!/usr/bin/python3
"""An independent decrypter of MCUboot encrypted images, written from MCUboot's
description of the scheme (docs/encrypted_images.md; boot/bootutil/src/encrypted.c):

- header flag ENCRYPTED_AES128 (0x4) or ENCRYPTED_AES256 (0x8) gives the key size;
- the image key is in one unprotected TLV: ENC_RSA2048 (0x30, RSA-OAEP with SHA-256
  and MGF1-SHA-256), ENC_KW (0x31, RFC 3394 key wrap), ENC_EC256 (0x32) or ENC_X25519
  (0x33) / ENC_X25519_SHA512 (0x34): ephemeral public key | HMAC tag | encrypted key,
  with ECDH, HKDF (no salt, info "MCUBoot_ECIES_v1") to key_len + tag_len bytes, the
  key encrypted with AES-CTR (nonce 0) under the first key_len bytes and the HMAC
  (SHA-256, or SHA-512 for 0x34) under the rest;
- the payload [hdr_size, hdr_size + img_size) is AES-CTR with a zero nonce, block
  counter from the payload start.

It writes IMAGE with its payload decrypted (header and TLVs as they are), checks
that the hash TLV matches the plaintext, and with --expect-payload FILE that the
payload is FILE followed by zero padding to 16 bytes. Signatures are for
tests/interop/imgtool/verify.py. Shares no code with fwtrust (Python
`cryptography`, Debian's python3-cryptography).

usage: decrypt.py KEY IMAGE OUT [--expect-payload FILE]
KEY: PEM private key, or a file with the base64 of an AES key-wrap key
exit: 0 decrypted and hash matches, 1 refused (reason on stderr), 2 usage
"""
import base64
import hashlib
import hmac
import struct
import sys

from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HASHES = {0x10: hashlib.sha256, 0x11: hashlib.sha384, 0x12: hashlib.sha512}


def fail(msg):
    print("decrypt.py: REFUSED: " + msg, file=sys.stderr)
    sys.exit(1)


def tlvs(b, off):
    magic, tot = struct.unpack_from("<HH", b, off)
    out, p = [], off + 4
    while p < off + tot:
        t, ln = struct.unpack_from("<HH", b, p)
        if p + 4 + ln > off + tot:
            fail("TLV runs past its area")
        out.append((t, bytes(b[p + 4:p + 4 + ln])))
        p += 4 + ln
    return magic, tot, out


def ctr(key, data):
    return Cipher(algorithms.AES(key), modes.CTR(bytes(16))).decryptor().update(data)


def unwrap(keyfile, t, v, klen):
    raw = open(keyfile, "rb").read()
    if t == 0x31:
        kek = base64.b64decode(b"".join(raw.split()))
        return keywrap.aes_key_unwrap(kek, v)
    priv = serialization.load_pem_private_key(raw, None)
    if t == 0x30:
        if not isinstance(priv, rsa.RSAPrivateKey):
            fail("ENC_RSA2048 needs an RSA key")
        return priv.decrypt(v, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                            algorithm=hashes.SHA256(), label=None))
    md = hashes.SHA512() if t == 0x34 else hashes.SHA256()
    tlen = md.digest_size
    if t == 0x32:
        if not isinstance(priv, ec.EllipticCurvePrivateKey):
            fail("ENC_EC256 needs a P-256 key")
        plen = 65
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), v[:plen])
        shared = priv.exchange(ec.ECDH(), peer)
    else:
        if not isinstance(priv, x25519.X25519PrivateKey):
            fail("ENC_X25519 needs an X25519 key")
        plen = 32
        shared = priv.exchange(x25519.X25519PublicKey.from_public_bytes(v[:plen]))
    okm = HKDF(algorithm=md, length=klen + tlen, salt=None, info=b"MCUBoot_ECIES_v1").derive(shared)
    tag, ck = v[plen:plen + tlen], v[plen + tlen:]
    mac = hmac.new(okm[klen:], ck, md.name).digest()
    if not hmac.compare_digest(mac, tag):
        fail("HMAC tag mismatch")
    return ctr(okm[:klen], ck)


def main(argv):
    if len(argv) not in (3, 5) or (len(argv) == 5 and argv[3] != "--expect-payload"):
        print(__doc__, file=sys.stderr)
        return 2
    keyfile, path, out = argv[:3]
    b = bytearray(open(path, "rb").read())
    magic, _load, hs, ps, isz, flags = struct.unpack_from("<IIHHII", b, 0)
    if magic != 0x96F3B83D:
        fail("bad magic")
    klen = 32 if flags & 0x8 else 16 if flags & 0x4 else 0
    if klen == 0:
        fail("not encrypted")
    u = hs + isz + ps
    umagic, utot, unprot = tlvs(b, u)
    if umagic != 0x6907:
        fail("no unprotected TLV area")
    enc = [(t, v) for t, v in unprot if 0x30 <= t <= 0x34]
    if len(enc) != 1:
        fail("%d ENC TLVs" % len(enc))
    t, v = enc[0][0], bytes(enc[0][1])
    expected = {0x30: 256, 0x31: klen + 8, 0x32: 65 + 32 + klen, 0x33: 64 + klen, 0x34: 96 + klen}[t]
    if len(v) != expected:
        fail("ENC TLV 0x%02x has %d bytes, %d expected" % (t, len(v), expected))
    try:
        key = unwrap(keyfile, t, v, klen)
    except Exception as e:  # a wrong key: OAEP / key-wrap failure
        fail("cannot unwrap the key: %r" % e)
    if len(key) != klen:
        fail("unwrapped key of %d bytes" % len(key))
    b[hs:hs + isz] = ctr(key, bytes(b[hs:hs + isz]))
    hashes_ = [(t, v) for t, v in unprot if t in HASHES]
    if len(hashes_) != 1 or HASHES[hashes_[0][0]](bytes(b[:u])).digest() != hashes_[0][1]:
        fail("the plaintext does not match the hash TLV")
    if len(argv) == 5:
        fw = open(argv[4], "rb").read()
        want = fw + bytes((-(hs + len(fw))) % 16)
        if bytes(b[hs:hs + isz]) != want:
            fail("the plaintext payload is not the expected firmware")
    open(out, "wb").write(b)
    print("decrypt.py: OK 0x%02x AES-%d" % (t, 8 * klen))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
