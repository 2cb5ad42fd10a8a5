#!/usr/bin/python3
"""Test helper: an enrollment with a factory certificate made independently of fwtrust-agent
(Python's cryptography and urllib), following docs/fleet-protocol.md: POST /v1/enroll/nonce,
then POST /v1/enroll with the factory certificate, the nonce, and the factory key's signature
over the documented message.

usage: factory_request.py URL CA_FILE FACTORY_CERT FACTORY_KEY CSR_KEY HARDWARE_ID [NONCE]
CSR_KEY is the key the certificate request is for (a new one, or a reused one to be refused).
Prints the HTTP status and the answer's body on one line; NONCE reuses a nonce.
"""
import hashlib
import json
import ssl
import sys
import urllib.error
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

url, cafile, cert_file, key_file, csr_key_file, hw = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=cafile)


def post(path, body):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


load = lambda p: serialization.load_pem_private_key(open(p, "rb").read(), password=None)
cert_pem = open(cert_file).read()
cert = x509.load_pem_x509_certificate(cert_pem.encode())
serial = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value
nonce = sys.argv[7] if len(sys.argv) > 7 else json.loads(post("/v1/enroll/nonce", {})[1])["nonce"]
csr = (x509.CertificateSigningRequestBuilder()
       .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, serial)]))
       .sign(load(csr_key_file), hashes.SHA256())
       .public_bytes(serialization.Encoding.PEM).decode())
msg = ("fwtrust-factory-enroll-v1\nnonce=%s\ncsr-sha256=%s\nhardware_id=%s\nserial=%s\n" %
       (nonce, hashlib.sha256(csr.encode()).hexdigest(), hw, serial)).encode()
sig = load(key_file).sign(msg, ec.ECDSA(hashes.SHA256())).hex()
status, body = post("/v1/enroll", {"factory_cert": cert_pem, "nonce": nonce, "signature": sig, "csr": csr,
                                   "hardware_id": hw, "serial": serial})
print(status, nonce, body.replace("\n", " "))
