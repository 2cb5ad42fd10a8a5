# A SoftHSM2 token for the key custody tests (sourced after tests/cli/lib.sh): token
# "custody", user PIN 1111 in $T/pin, tokens under $T, FWTRUST_PKCS11_MODULE set.
MODULE=/usr/lib/softhsm/libsofthsm2.so
[ -e "$MODULE" ] || fail "$MODULE missing (softhsm2, scripts/install-deps)"
export SOFTHSM2_CONF="$T/softhsm2.conf" FWTRUST_PKCS11_MODULE="$MODULE"
mkdir "$T/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$T/tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label custody --pin 1111 --so-pin 2222 >/dev/null
printf '1111\n' >"$T/pin"
