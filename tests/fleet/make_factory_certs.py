#!/usr/bin/python3
"""Test helper: a manufacturer's PKI made with Python's cryptography, independently of
fwtrust: a factory root CA, an intermediate, another (unknown) CA, and device certificates
whose subject serialNumber is the device serial.

usage: make_factory_certs.py OUTDIR
       make_factory_certs.py OUTDIR --certify PUBKEY.pem NAME SERIAL
Writes OUTDIR/NAME.pem (certificate, a chain for 'chained': leaf then intermediate) and
OUTDIR/NAME.key (PKCS#8 PEM) for: ca, other-ca, good (FAC-0001), second (FAC-0002),
chained (FAC-0004, through the intermediate), unknown (FAC-0009, by other-ca), expired
(FAC-0010), noserial (no serialNumber), and wrong.key (a key of no certificate).
With --certify: OUTDIR/NAME.pem, a certificate of the CA made before (OUTDIR/ca.*) for a
public key whose private half is elsewhere (a token), subject serialNumber SERIAL.
"""
import datetime
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
now = datetime.datetime.now(datetime.timezone.utc)
certify = sys.argv[2:3] == ["--certify"]


def key(name):
    k = ec.generate_private_key(ec.SECP256R1())
    open(os.path.join(out, name + ".key"), "wb").write(
        k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption()))
    return k


def name(cn, serial=None):
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme Widgets"),
             x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if serial:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    return x509.Name(attrs)


def cert(subject, k, issuer, ik, ca, start=None, end=None):
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(k.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(start or now - datetime.timedelta(days=1))
         .not_valid_after(end or now + datetime.timedelta(days=3650))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return b.sign(ik, hashes.SHA256())


def write(n, *certs):
    open(os.path.join(out, n + ".pem"), "wb").write(
        b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))


if certify:
    pub_file, n, serial = sys.argv[3:6]
    ca_k = serialization.load_pem_private_key(open(os.path.join(out, "ca.key"), "rb").read(), password=None)
    ca_c = x509.load_pem_x509_certificate(open(os.path.join(out, "ca.pem"), "rb").read())
    pub = serialization.load_pem_public_key(open(pub_file, "rb").read())

    class Pub:  # cert() takes a key object with public_key()
        def public_key(self):
            return pub

    write(n, cert(name("widget", serial), Pub(), ca_c.subject, ca_k, False))
    sys.exit(0)

ca_k = key("ca")
ca_n = name("Acme Factory Root CA")
ca = cert(ca_n, ca_k, ca_n, ca_k, True)
write("ca", ca)
int_k = key("intermediate")
int_n = name("Acme Factory Line 2")
inter = cert(int_n, int_k, ca_n, ca_k, True)
write("intermediate", inter)
other_k = key("other-ca")
other_n = name("Somebody Else CA")
write("other-ca", cert(other_n, other_k, other_n, other_k, True))

for n, serial in (("good", "FAC-0001"), ("second", "FAC-0002"), ("third", "FAC-0003")):
    write(n, cert(name("widget", serial), key(n), ca_n, ca_k, False))
write("chained", cert(name("widget", "FAC-0004"), key("chained"), int_n, int_k, False), inter)
write("unknown", cert(name("widget", "FAC-0009"), key("unknown"), other_n, other_k, False))
write("expired", cert(name("widget", "FAC-0010"), key("expired"), ca_n, ca_k, False,
                      start=now - datetime.timedelta(days=400), end=now - datetime.timedelta(days=1)))
write("noserial", cert(name("widget"), key("noserial"), ca_n, ca_k, False))
key("wrong")
