#!/usr/bin/python3
"""Independent RFC 9162 (section 2.1) Merkle tree reference for the signing log tests:
the recursive definitions of MTH, PATH and PROOF, written straight from the RFC.

usage: merkle_ref.py root HEXLEAF...            -> root hash of the entries (hex)
       merkle_ref.py path M HEXLEAF...          -> inclusion path of entry M (hex, one a line)
       merkle_ref.py proof M HEXLEAF...         -> consistency proof from the first M entries
       merkle_ref.py entries-root FILE...       -> root over the bytes of each FILE
"""
import hashlib
import sys


def h(b):
    return hashlib.sha256(b).digest()


def mth(d):
    n = len(d)
    if n == 0:
        return h(b"")
    if n == 1:
        return h(b"\x00" + d[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return h(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m, d):
    n = len(d)
    if n <= 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m, d, b):
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def main(argv):
    cmd = argv[1]
    if cmd == "root":
        print(mth([bytes.fromhex(x) for x in argv[2:]]).hex())
    elif cmd == "entries-root":
        print(mth([open(p, "rb").read() for p in argv[2:]]).hex())
    elif cmd == "path":
        for x in path(int(argv[2]), [bytes.fromhex(x) for x in argv[3:]]):
            print(x.hex())
    elif cmd == "proof":
        for x in subproof(int(argv[2]), [bytes.fromhex(x) for x in argv[3:]], True):
            print(x.hex())
    else:
        sys.exit("merkle_ref.py: unknown command")


if __name__ == "__main__":
    main(sys.argv)
