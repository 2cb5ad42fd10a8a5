# Every verify, parse and check function's result must be used: the verifier core's
# functions (static ones included) returning fwt_err or int, and every function with
# external linkage returning fwt_err in the image, key and crypto modules, carry
# FWT_MUST_CHECK (warn_unused_result; -Werror turns an ignored result into a build error).
# Calls through the crypto ops table and the read callback must not drop results either.
# Usage: must_check.py SRC_ROOT
import re, sys, glob, os
src = sys.argv[1]
def strip(t):
    t = re.sub(r"/\*.*?\*/", " ", t, flags=re.S)
    t = re.sub(r"//[^\n]*", " ", t)
    # a directive with its continuation lines (a multi-line macro is one directive)
    t = re.sub(r"^\s*#(?:\\\n|[^\n])*", " ", t, flags=re.M)
    return t
files = []
for pat in ["include/fwtrust/fwt_verify.h", "include/fwtrust/fwt_image.h", "include/fwtrust/fwt_cert.h",
            "include/fwtrust/fwt_imagefile.h", "include/fwtrust/fwt_crypto.h", "include/fwtrust/fwt_keys.h",
            "include/fwtrust/fwtrust.h", "include/fwtrust/fwtrust_host.h",
            "src/core/*.[ch]", "src/image/*.[ch]", "src/keys/*.[ch]", "src/crypto/*.[ch]"]:
    files += sorted(glob.glob(os.path.join(src, pat)))
marked, seen = set(), {}
decl = re.compile(r"(?:^|[;}])\s*((?:(?:static|inline|extern|FWT_MUST_CHECK|__attribute__\(\([^)]*\)\))\s+)*)"
                  r"(fwt_err|int)\s+\**\s*(\w+)\s*\(", re.S)
for f in files:
    t = strip(open(f).read())
    for m in decl.finditer(t):
        quals, rtype, name = m.group(1), m.group(2), m.group(3)
        if name in ("main", "LLVMFuzzerTestOneInput"):
            continue
        core = "/src/core/" in f or f.endswith(("fwt_verify.h", "fwt_image.h", "fwt_cert.h"))
        if not core and (rtype == "int" or "static" in quals):
            continue  # outside the core: every function with external linkage
        seen.setdefault(name, f)
        if "FWT_MUST_CHECK" in quals or "warn_unused_result" in quals:
            marked.add(name)
bad = sorted(n for n in seen if n not in marked)
for n in bad:
    print("%s (%s): result not marked FWT_MUST_CHECK" % (n, os.path.relpath(seen[n], src)))
# The ops table and read callback are function pointers (no attribute possible):
# in the core, none of their calls may stand alone as a statement.
bare = re.compile(r"(?:^|[;{}])\s*(?:\(void\)\s*)?[\w.]+(?:->|\.)(verify|hash_init|hash_update|hash_final|read)\s*\(")
for f in sorted(glob.glob(os.path.join(src, "src/core/*.[ch]"))):
    for m in bare.finditer(strip(open(f).read())):
        bad.append(m.group(1))
        print("%s: result of a ->%s() call not used" % (os.path.relpath(f, src), m.group(1)))
print("%d functions checked, %d problems" % (len(seen), len(bad)), file=sys.stderr)
sys.exit(1 if bad else 0)
