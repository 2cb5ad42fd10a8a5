# Helpers every shell test shares (sourced by each suite's lib.sh). Environment: SRC, the
# repository root. Gives: $T (a scratch directory removed on exit, with any nginx started
# under it by scripts/serve-repo stopped and any PID in $SERVER_PIDS killed), $PY, fail,
# expect.
set -eu
: "${SRC:?SRC must name the repository root}"
export FWTRUST_NO_PROGRESS=1
PY=/usr/bin/python3 # Debian's python3 (with python3-cryptography), not a user install
T=$(mktemp -d)
chmod 755 "$T" # nginx (as nobody, when the tests run as root) serves files from here
SERVER_PIDS=""
fwt_test_cleanup() {
    local p
    for p in $SERVER_PIDS; do kill "$p" 2>/dev/null || true; done
    for p in "$T"/*/nginx.pid; do
        [ -f "$p" ] && "$SRC/scripts/serve-repo" stop --state "$(dirname "$p")" >/dev/null 2>&1 || true
    done
    rm -rf "$T"
}
trap fwt_test_cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# expect RC SUBSTRING CMD...: run CMD, require exit status RC and SUBSTRING in its stderr or
# stdout (when SUBSTRING is not empty). The output stays in $T/.out and $T/.err.
expect() {
    local want=$1 msg=$2 rc=0
    shift 2
    "$@" >"$T/.out" 2>"$T/.err" || rc=$?
    if [ "$rc" != "$want" ]; then
        echo "--- stdout" >&2; cat "$T/.out" >&2
        echo "--- stderr" >&2; cat "$T/.err" >&2
        fail "'$*' exited $rc, expected $want"
    fi
    if [ -n "$msg" ] && ! grep -qF -- "$msg" "$T/.err" "$T/.out"; then
        echo "--- stdout" >&2; cat "$T/.out" >&2
        echo "--- stderr" >&2; cat "$T/.err" >&2
        fail "'$*': output lacks '$msg'"
    fi
}

# softhsm_tokens PIN SO_PIN LABEL...: a SoftHSM2 token store under $T (SOFTHSM2_CONF
# exported, MODULE names the module) with one token per LABEL, all with user PIN PIN (also
# in $T/pin) and security officer PIN SO_PIN. Fails when SoftHSM2 is not installed.
softhsm_tokens() {
    local pin=$1 so=$2 label
    shift 2
    MODULE=/usr/lib/softhsm/libsofthsm2.so
    [ -e "$MODULE" ] || fail "$MODULE missing (softhsm2, scripts/install-deps)"
    export SOFTHSM2_CONF="$T/softhsm2.conf"
    mkdir "$T/tokens"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$T/tokens" >"$SOFTHSM2_CONF"
    for label in "$@"; do
        softhsm2-util --init-token --free --label "$label" --pin "$pin" --so-pin "$so" >/dev/null
    done
    printf '%s\n' "$pin" >"$T/pin"
}
