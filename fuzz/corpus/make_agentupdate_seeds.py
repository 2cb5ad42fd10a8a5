#!/usr/bin/env python3
"""Seed corpora of fuzz_agentupdate_decode and fuzz_agentupdate_meta.

Run from anywhere: python3 fuzz/corpus/make_agentupdate_seeds.py (needs the zstd CLI).
Decoder seeds are: method byte (0 zstd, 1 reference-prefix patch, 2 bsdiff records, 3 bsdiff2;
plus 0x10: the decoding window capped at 1 KiB << (chunk byte % 14)), chunk byte,
then an encoded file. The fuzzer's base image is base[i] = (i * 7 + i // 13) & 0xff, 4096 bytes.
"""
import json, lzma, os, struct, subprocess, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEC = os.path.join(HERE, "fuzz_agentupdate_decode")
META = os.path.join(HERE, "fuzz_agentupdate_meta")
BASE = bytes((i * 7 + i // 13) & 0xFF for i in range(4096))
SHA = "69e192f721b92636a61b3d20183e383f67bafd7cd07aec762dfd3228a910194c"
DIG = {"sha256": "20cfe9995569eb2533384dde5eb4efbd0f9780771d8eb89aa6ba17157d417086"}


def zstd(data, prefix=None):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "in")
        open(src, "wb").write(data)
        cmd = ["zstd", "-q", "-c", "-19", "--check", src]
        if prefix is not None:
            open(os.path.join(d, "base"), "wb").write(prefix)
            cmd[1:1] = ["--patch-from=" + os.path.join(d, "base")]
        return subprocess.run(cmd, check=True, capture_output=True).stdout


def desc(length):
    return {"length": length, "sha256": SHA, "version": "1.2.3+4", "security_counter": 5,
            "hw_id": "hi", "hw_id_hex": "6869", "image_digest": DIG}


def container(frame, encoding, length, base=False):
    h = {"fwtrust_encoded": 1, "encoding": encoding, "image": desc(length)}
    if base:
        h["base"] = desc(len(BASE))
    j = json.dumps(h, separators=(",", ":"), sort_keys=True).encode()
    return struct.pack("<II", 0x184D2A5E, 8 + len(j)) + b"FWTRUSTE" + j + frame


def rec(add, copy, seek):
    return struct.pack("<IIq", add, copy, seek)


def write(d, name, data):
    open(os.path.join(d, name), "wb").write(data)


new = BASE[:1000] + b"inserted bytes" * 20 + BASE[1000:3000] + bytes(range(200)) + BASE[3000:]
records = (rec(1000, 280, 0) + bytes(1000) + (b"inserted bytes" * 20)
           + rec(2000, 200, 0) + bytes(2000) + bytes(range(200))
           + rec(1096, 0, 0) + bytes(1096))
assert len(new) == 1000 + 280 + 2000 + 200 + 1096
write(DEC, "plain", b"\x00\x07" + container(zstd(new), "zstd", len(new)))
write(DEC, "plain-bare", b"\x00\xff" + zstd(b"hello, firmware\n" * 50))
write(DEC, "prefix", b"\x01\x03" + container(zstd(new, BASE), "zstd-patch", len(new), True))
write(DEC, "bsdiff", b"\x02\x10" + container(zstd(records), "zstd-bsdiff", len(new), True))
write(DEC, "bsdiff-truncated", b"\x02\x01" + zstd(records[:-7]))
# bsdiff2: preamble (no transform / Thumb-2 / Thumb-2 with a map), records in zstd or raw LZMA2.
def lzma2(data):
    return lzma.compress(data, format=lzma.FORMAT_RAW,
                         filters=[{"id": lzma.FILTER_LZMA2, "dict_size": 1 << 16}])


pmap = struct.pack("<II", 0x08000000, 2) + struct.pack("<Ii", 0x100, 8) + struct.pack("<Ii", 0x800, -4)
write(DEC, "bsdiff2-none-lzma2", b"\x03\x09" + container(b"FWD2\x00\x00\x02\x10" + lzma2(records),
                                                         "bsdiff2", len(new), True))
write(DEC, "bsdiff2-thumb-zstd", b"\x03\x05" + container(b"FWD2\x01\x0f\x01\x00" + zstd(records),
                                                         "bsdiff2", len(new), True))
write(DEC, "bsdiff2-map-lzma2", b"\x03\x11" + container(b"FWD2\x02\x1f\x02\x10" + lzma2(pmap + records),
                                                        "bsdiff2", len(new), True))
write(DEC, "bsdiff2-map-truncated", b"\x03\x01" + b"FWD2\x02\x1f\x02\x10" + lzma2(pmap[:13]))
# bsdiff2 coder 4 (lzma2-dict): the image itself as LZMA2 over the (transformed) base, after
# the map's own LZMA2 stream for a map transform; method byte 0x13: capped decoding window.
write(DEC, "bsdiff2-dict-none", b"\x03\x07" + container(b"FWD2\x00\x00\x04\x0e" + lzma2(new),
                                                        "bsdiff2", len(new), True))
write(DEC, "bsdiff2-dict-map", b"\x03\x13" + container(b"FWD2\x02\x1f\x04\x0e" + lzma2(pmap)
                                                       + lzma2(new), "bsdiff2", len(new), True))
write(DEC, "bsdiff2-dict-capped", b"\x13\x02" + b"FWD2\x01\x0f\x04\x0e" + lzma2(new))
# Code ranges (transform flag 64, the ELF hint) after the map: nb = 2 base, nn = 1 image range.
pranges = (struct.pack("<II", 0x08000000, 1) + struct.pack("<Ii", 0x100, 8) + struct.pack("<II", 2, 1)
           + struct.pack("<IIII", 0, 0x400, 0x800, 0x1000) + struct.pack("<II", 0, 0x600))
write(DEC, "bsdiff2-ranges-zstd", b"\x03\x0b" + container(b"FWD2\x02\x5f\x01\x00" + zstd(pranges + records),
                                                          "bsdiff2", len(new), True))
write(DEC, "bsdiff2-ranges-dict", b"\x03\x06" + container(b"FWD2\x02\x4f\x04\x0e" + lzma2(pranges)
                                                          + lzma2(new), "bsdiff2", len(new), True))
write(DEC, "trailing", b"\x00\x02" + zstd(b"abc") + b"garbage")

write(META, "container", container(zstd(new), "zstd", len(new)))
write(META, "patch-container", container(zstd(records), "zstd-bsdiff", len(new), True))
write(META, "header.json", json.dumps({"fwtrust_encoded": 1, "encoding": "zstd-patch",
                                       "image": desc(9), "base": desc(5)}).encode())
write(META, "custom-full.json", json.dumps({"fwtrust": {"version": "4.0.0+5", "security_counter": 3,
                                                        "hw_id_hex": "6869", "image_digest": DIG}}).encode())
write(META, "custom-patch.json", json.dumps({"fwtrust": {
    "encoding": "zstd-bsdiff", "version": "4.0.0+5", "hw_id_hex": "6869", "image_digest": DIG,
    "image_length": 9, "image_sha256": SHA,
    "base": {"length": 5, "sha256": SHA, "version": "4.0.0+4", "image_digest": DIG}}}).encode())
