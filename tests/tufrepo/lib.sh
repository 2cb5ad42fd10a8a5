# Shared helpers for the `fwtrust repo` tests (sourced). Environment from CTest:
#   FWTRUST   path of the fwtrust binary
#   SRC       repository root
: "${FWTRUST:?FWTRUST must name the fwtrust binary}"
. "$SRC/tests/lib/common.sh"

# Key pairs with the openssl CLI (independent of fwtrust): key NAME [ed25519|p256|p384|rsa]
key() {
    case "${2:-ed25519}" in
    ed25519) openssl genpkey -algorithm ed25519 -out "$T/$1.pem" 2>/dev/null ;;
    p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/$1.pem" 2>/dev/null ;;
    p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$T/$1.pem" 2>/dev/null ;;
    rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/$1.pem" 2>/dev/null ;;
    esac
    openssl pkey -in "$T/$1.pem" -pubout -out "$T/$1.pub" 2>/dev/null
}

# Content hash of a directory tree (names, modes and bytes): unchanged DIR <=> same hash.
tree_hash() {
    (cd "$1" && find . -print0 | LC_ALL=C sort -z | while IFS= read -r -d '' f; do
        if [ -f "$f" ]; then printf '%s %s\n' "$f" "$(sha256sum <"$f" | cut -d' ' -f1)"; else printf '%s dir\n' "$f"; fi
    done | sha256sum | cut -d' ' -f1)
}

# unchanged RC SUBSTRING DIR CMD...: CMD fails with RC and SUBSTRING, and DIR is byte-for-byte unchanged.
unchanged() {
    local rc=$1 msg=$2 dir=$3 before after
    shift 3
    before=$(tree_hash "$dir")
    expect "$rc" "$msg" "$@"
    after=$(tree_hash "$dir")
    [ "$before" = "$after" ] || fail "'$*' changed $dir although it failed"
}

# jq-like field access with python: jget FILE EXPR (d is the parsed JSON)
jget() {
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$1" "$2"
}

# A standard repository in $T/repo: one key per role, published once.
make_repo() {
    key root; key targets; key snapshot; key timestamp
    expect 0 "staged root and targets version 1" "$FWTRUST" repo init "$T/repo" --root-key "$T/root.pem" \
        --targets-key "$T/targets.pem" --snapshot-key "$T/snapshot.pem" --timestamp-key "$T/timestamp.pem"
}
