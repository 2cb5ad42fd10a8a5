#!/bin/bash
# docs/exit-codes.md lists every fwt_err value with the number and name the
# code has (include/fwtrust/fwt_error.h, src/core/error.c): it cannot drift.
. "$(dirname "$0")/lib.sh"
"$PY" - "$SRC" <<'PYEOF'
import re, sys
src = sys.argv[1]
hdr = open(src + "/include/fwtrust/fwt_error.h").read()
enum = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s*(FWT_(?:OK|E_[A-Z_]+))\s*=\s*(\d+),", hdr, re.M)}
enum.pop("FWT_E__LAST", None)
names = dict(re.findall(r'\{(FWT_(?:OK|E_[A-Z_]+)), "(FWT_[A-Z_]+)", "[^"]*"\}', open(src + "/src/core/error.c").read()))
doc = open(src + "/docs/exit-codes.md").read()
rows = {m.group(2): int(m.group(1)) for m in re.finditer(r"^\|\s*(\d+)\s*\|\s*`?(FWT_[A-Z_]+)`?\s*\|", doc, re.M)}
errors = []
if not enum:
    errors.append("no enum values found in fwt_error.h")
for k, v in enum.items():
    if rows.get(k) != v:
        errors.append("%s = %d in fwt_error.h, docs say %s" % (k, v, rows.get(k)))
    if names.get(k) != k:
        errors.append("%s: error.c names it %s" % (k, names.get(k)))
for k in rows:
    if k not in enum:
        errors.append("docs list %s, which fwt_error.h does not define" % k)
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print("exit codes: %d values agree" % len(enum))
PYEOF
