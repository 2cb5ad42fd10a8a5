#!/bin/bash
# The README's `export PATH=$PWD/build/src/tools:$PATH` finds every program: each tool in
# src/tools/ (fwtrust and every src/tools/<tool>/ with a CMakeLists.txt) is built into the
# directory that holds fwtrust, and answers --help when found through PATH alone.
. "$(dirname "$0")/lib.sh"
dir=$(dirname "$FWTRUST")
tools="fwtrust"
for d in "$SRC"/src/tools/*/; do
    [ -f "$d/CMakeLists.txt" ] && tools="$tools $(basename "$d")"
done
[ "$tools" != fwtrust ] || fail "no tool directories found under $SRC/src/tools"
for t in $tools; do
    [ -f "$dir/$t" ] && [ -x "$dir/$t" ] || fail "$t is not a program in $dir (the PATH line of the README misses it)"
    found=$(PATH="$dir:/usr/bin:/bin" command -v "$t") || fail "$t not found through PATH=$dir"
    [ "$found" = "$dir/$t" ] || fail "PATH finds $t at $found, not in $dir"
    PATH="$dir:/usr/bin:/bin" expect 0 "usage: $t" "$t" --help
done
echo "tools_path: ok ($tools)"
