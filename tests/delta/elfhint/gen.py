#!/usr/bin/env python3
"""Write the C source of a Thumb-2 test program for tests/delta/elf_hint.sh to stdout.

gen.py VARIANT: VARIANT 1 or 2. 400 small functions calling each other (BL between them),
and in .rodata a table of halfword pairs shaped like Thumb-2 BL instructions (11110 S imm10,
11 J1 1 J2 imm11), read by the code: scanning the image takes them for calls and rewrites them;
with the ELF files as a hint only .text is rewritten. Variant 2 adds a function near the start
(moving every function after it) and changes a few constants.
"""
import sys

v = int(sys.argv[1])
n_fn, n_tab = 400, 4096
out = ["#include <stdint.h>", "volatile uint32_t sink;"]
pairs = []
for i in range(n_tab // 2):
    pairs.append("0x%04x, 0x%04x" % (0xF000 | (i * 37 & 0x7FF), 0xF800 | (i * 91 & 0x7FF)))
out.append("const uint16_t table[%d] = {%s};" % (n_tab, ", ".join(pairs)))
for i in range(n_fn):
    out.append("uint32_t f%d(uint32_t x);" % i)
for i in range(n_fn):
    if v == 2 and i == 3:
        out.append("__attribute__((noinline)) uint32_t extra(uint32_t x) "
                   "{ sink = x; return f1(x + 5U) ^ table[x %% %d]; }" % n_tab)
    a, b = (i * 7 + 3) % n_fn, (i * 13 + 5) % n_fn
    k = i * 2654435761 & 0xFFFF
    if v == 2 and i % 50 == 7:
        k ^= 0x11
    body = "sink = table[(x + %dU) %% %dU]; " % (i, n_tab)
    if i > 0:
        body += "if (x & 1U) { return f%d(x >> 1) + f%d(x >> 2); } " % (min(a, i - 1), min(b, i - 1))
    if v == 2 and i == 5:
        body += "if (x == 77U) { return extra(x); } "
    body += "return x * %dU + table[(x * 3U) %% %dU];" % (k, n_tab)
    out.append("__attribute__((noinline)) uint32_t f%d(uint32_t x) { %s }" % (i, body))
out.append("void reset(void);")
out.append("void reset(void) { for (uint32_t i = 0;; i++) { sink = f%d(i); } }" % (n_fn - 1))
print("\n".join(out))
