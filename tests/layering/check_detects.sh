#!/bin/sh
# scripts/check-layering must pass on the tree and fail, naming the file, on a copy
# of it with one violation of each kind: a tool including a library's internal header
# (quoted, by path, and with angle brackets), a tool including a public header
# that does not exist, a library printing (printf, fprintf on stderr, puts, write to
# STDERR_FILENO) or parsing argv (getopt_long).
set -u
src=${1:?usage: check_detects.sh SOURCE_ROOT}
check=$src/scripts/check-layering
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

sh "$check" "$src" >/dev/null 2>&1 || { echo "FAIL: the tree itself does not pass"; fails=1; }

# violation FILE LINE EXPECT: copy the tree, append LINE to FILE, expect a failure naming EXPECT.
violation() {
    rm -rf "$tmp/t"
    mkdir -p "$tmp/t"
    cp -R "$src/src" "$src/include" "$tmp/t/"
    printf '%s\n' "$2" >>"$tmp/t/$1"
    out=$(sh "$check" "$tmp/t" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        printf "FAIL: not detected: %s: %s\n" "$1" "$2"
        fails=1
    elif ! printf '%s\n' "$out" | grep -qF "$3"; then
        printf "FAIL: detected but not named (%s): %s: %s\n" "$3" "$1" "$2"
        printf '%s\n' "$out"
        fails=1
    else
        printf "ok: detected: %s: %s\n" "$1" "$2"
    fi
}

violation src/tools/fwtrust-agent/main.c '#include "agent_internal.h"' 'src/tools/fwtrust-agent/main.c: "agent_internal.h"'
violation src/tools/fwtrust/cmd_repo.c '#include "tuf/repo.h"' 'src/tools/fwtrust/cmd_repo.c: "tuf/repo.h"'
violation src/tools/fwtrust/cmd_log.c '#include "../../keys/keys_priv.h"' 'src/tools/fwtrust/cmd_log.c: "../../keys/keys_priv.h"'
violation src/tools/cli.c '#include <image_internal.h>' 'src/tools/cli.c: <image_internal.h>'
violation src/tools/fwtrust-boot/main.c '#include <fwtrust/fwt_nonexistent.h>' 'src/tools/fwtrust-boot/main.c: <fwtrust/fwt_nonexistent.h>'
violation src/keys/signlog.c 'static void p(void) { printf("x\n"); }' 'src/keys/signlog.c:'
violation src/tuf/client.c 'static void p(void) { fprintf(stderr, "x\n"); }' 'src/tuf/client.c:'
violation src/agent/state.c 'static void p(void) { puts("x"); }' 'src/agent/state.c:'
violation src/crypto/keys.c 'static void p(void) { (void)write(STDERR_FILENO, "x", 1); }' 'src/crypto/keys.c:'
violation src/agent/device.c '#include <getopt.h>' 'src/agent/device.c:'
violation src/image/sign.c 'static int p(int c, char **v) { return getopt_long(c, v, "h", 0, 0); }' 'src/image/sign.c:'

# Writing to a FILE* that is not stdout/stderr, and snprintf, are no violations.
rm -rf "$tmp/t"
mkdir -p "$tmp/t"
cp -R "$src/src" "$src/include" "$tmp/t/"
printf '%s\n' 'static void q(FILE *f, char *b) { fprintf(f, "x"); snprintf(b, 2, "y"); }' >>"$tmp/t/src/image/ihex.c"
sh "$check" "$tmp/t" >/dev/null 2>&1 || { echo "FAIL: fprintf(f, ...) / snprintf flagged"; fails=1; }

exit $fails
