# PKCS#11 URI parser fuzz target (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_p11_uri: bytes -> fwt_p11_uri_parse (RFC 7512), invariants of accepted URIs and an
#               encode/parse round trip. Seeds: fuzz/corpus/fuzz_p11_uri/.
fwt_add_fuzz(fuzz_p11_uri LIBS fwt_crypto LABELS "crypto;pkcs11;fuzz")
