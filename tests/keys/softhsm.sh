# A SoftHSM2 token for the key custody tests (sourced after tests/cli/lib.sh): token
# "custody", user PIN 1111 in $T/pin, tokens under $T, FWTRUST_PKCS11_MODULE set.
softhsm_tokens 1111 2222 custody
export FWTRUST_PKCS11_MODULE="$MODULE"
