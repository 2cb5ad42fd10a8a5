#!/usr/bin/env python3
"""Seed corpus of fuzz_delta_roundtrip (run from anywhere: python3 fuzz/corpus/make_delta_seeds.py).

A seed is: method byte (0 zstd, 1 auto, 2 prefix patch, 3 bsdiff patch), u16le split, then
base || new (the split is the base's length). Base and new are 2 KiB slices of the two Pybricks
releases in examples/firmware (real code that moved), plus small edge cases.
"""
import os, struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fuzz_delta_roundtrip")
FW = os.path.join(HERE, "..", "..", "examples", "firmware")


def seed(name, method, base, new):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([method]) + struct.pack("<H", len(base)) + base + new)


def main():
    os.makedirs(OUT, exist_ok=True)
    a = open(os.path.join(FW, "pybricks-primehub-v4.0.0b4.bin"), "rb").read()[0x4000:0x4800]
    b = open(os.path.join(FW, "pybricks-primehub-v4.0.0b5.bin"), "rb").read()[0x4000:0x4800]
    for m, n in ((0, "zstd"), (1, "auto"), (2, "prefix"), (3, "bsdiff")):
        seed("fw-" + n, m, a, b)
    seed("identical-bsdiff", 3, a[:512], a[:512])
    seed("shorter-new-prefix", 2, a[:1024], a[100:300])
    seed("longer-new-auto", 1, a[:64], b)
    seed("empty-new-bsdiff", 3, a[:100], b"")
    seed("empty-base-auto", 1, b"", a[:100])


if __name__ == "__main__":
    main()
