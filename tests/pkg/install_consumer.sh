#!/bin/sh
# `cmake --install` into a temporary prefix, then: the installed tree has the programs, headers,
# libfwtrust (shared with a versioned SONAME, static), fwtrust.pc, the CMake package, manual
# pages, completion and units; the shared library exports exactly symbols that the public
# headers declare (an internal function is not exported); and examples/consumer builds against
# the installed tree both ways (find_package and pkg-config), shared and static, and verifies a
# signed image (and refuses a tampered one).
# usage: install_consumer.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "FAIL: $*"; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "cmake --install"; }
libdir=$prefix/lib
[ -d "$prefix/lib64" ] && libdir=$prefix/lib64
for f in bin/fwtrust bin/fwtrust-agent bin/fwtrust-boot bin/fwtrust-tuf-client \
         include/fwtrust/fwtrust_host.h include/fwtrust/fwt_tuf.h \
         share/man/man1/fwtrust-sign.1 share/man/man1/fwtrust-agent-install.1 \
         share/bash-completion/completions/fwtrust share/bash-completion/completions/fwtrust-agent \
         lib/systemd/system/fwtrust-agent-update.timer etc/fwtrust/agent.conf; do
    [ -e "$prefix/$f" ] || fail "$f not installed"
done
for f in libfwtrust.a libfwtrust.so pkgconfig/fwtrust.pc cmake/fwtrust/fwtrustConfig.cmake \
         cmake/fwtrust/fwtrustConfigVersion.cmake; do
    [ -e "$libdir/$f" ] || fail "$libdir/$f not installed"
done
"$prefix/bin/fwtrust" --version | grep -q "^fwtrust [0-9]" || fail "installed fwtrust --version"

so=$(readlink -f "$libdir/libfwtrust.so")
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libfwtrust.so.0 ] || fail "SONAME is '$soname', expected libfwtrust.so.0"

# exports: every one named in a public header; known internal names are not exported
nm -D --defined-only "$so" | awk '$2 ~ /^[TDRBVW]$/ {print $3}' | sed 's/@.*//' | sort -u >"$tmp/exports"
[ "$(wc -l <"$tmp/exports")" -gt 50 ] || fail "only $(wc -l <"$tmp/exports") symbols exported"
cat "$prefix"/include/fwtrust/*.h | grep -o '[A-Za-z_][A-Za-z0-9_]*' | sort -u >"$tmp/words"
extra=$(comm -23 "$tmp/exports" "$tmp/words" | grep -v '^FWTRUST_' || true)
[ -z "$extra" ] || fail "exported but in no public header: $extra"
for internal in tuf_count_role_sigs fwt_cli_parse main; do
    ! grep -qx "$internal" "$tmp/exports" || fail "internal symbol $internal is exported"
done
for public in fwt_verify_file fwt_tuf_refresh fwt_image_verify; do
    grep -qx "$public" "$tmp/exports" || fail "public symbol $public is not exported"
done

image=$src/tests/data/vectors/primehub-v4.0.0b5.ecdsa-p256.signed.bin
key=$src/tests/data/vectors/ecdsa-p256.pub.pem
cp "$image" "$tmp/tampered.bin"
printf 'X' | dd of="$tmp/tampered.bin" bs=1 seek=4096 conv=notrunc 2>/dev/null
check() { # check LABEL PROGRAM [ENV]
    out=$(env LD_LIBRARY_PATH="$libdir" "$2" "$image" "$key") || fail "$1: verify failed: $out"
    echo "$out" | grep -q "verified" || fail "$1: unexpected output: $out"
    if env LD_LIBRARY_PATH="$libdir" "$2" "$tmp/tampered.bin" "$key" 2>/dev/null; then
        fail "$1: a tampered image verified"
    fi
    echo "$1: ok"
}
# CMake, shared and static
for kind in OFF ON; do
    cmake -S "$src/examples/consumer" -B "$tmp/cm-$kind" -DCMAKE_PREFIX_PATH="$prefix" \
          -DFWTRUST_STATIC=$kind >"$tmp/cm.log" 2>&1 || { cat "$tmp/cm.log"; fail "cmake consumer ($kind)"; }
    cmake --build "$tmp/cm-$kind" >"$tmp/cmb.log" 2>&1 || { cat "$tmp/cmb.log"; fail "build consumer ($kind)"; }
    check "find_package static=$kind" "$tmp/cm-$kind/verify-image"
done
readelf -d "$tmp/cm-OFF/verify-image" | grep -q 'NEEDED.*libfwtrust.so.0' || fail "shared consumer does not need libfwtrust.so.0"
! readelf -d "$tmp/cm-ON/verify-image" | grep -q 'libfwtrust' || fail "static consumer needs libfwtrust.so"
# pkg-config, shared and static
for kind in "" 1; do
    d=$tmp/pc$kind; mkdir -p "$d"; cp "$src/examples/consumer/verify-image.c" "$src/examples/consumer/Makefile" "$d/"
    PKG_CONFIG_PATH="$libdir/pkgconfig" make -s -C "$d" STATIC=$kind >"$tmp/mk.log" 2>&1 || { cat "$tmp/mk.log"; fail "make consumer (static=$kind)"; }
    check "pkg-config static=${kind:-0}" "$d/verify-image"
done
echo "install and consumers: all pass"
