# Included by tests/keys/CMakeLists.txt.
# PKCS#11 (KEYS-P11): URI parser units; SoftHSM2 token tests in C and through the CLI.
# SoftHSM2 leaks inside C_Sign; under ASan those leaks (and only those: frames in
# libsofthsm2.so) are suppressed, which needs full stack unwinding on malloc.
fwt_add_cmocka_test(test_p11_uri
  SOURCES test_p11_uri.c
  LIBS fwt_crypto
  LABELS "keys;pkcs11")
pkg_check_modules(P11KIT_T REQUIRED p11-kit-1)
fwt_add_cmocka_test(test_pkcs11
  SOURCES test_pkcs11.c
  LIBS fwt_crypto ${CMAKE_DL_LIBS}
  LABELS "keys;pkcs11")
target_include_directories(test_pkcs11 PRIVATE ${P11KIT_T_INCLUDE_DIRS})
add_test(NAME keys_pkcs11_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/pkcs11_cli.sh)
set_tests_properties(keys_pkcs11_cli PROPERTIES LABELS "keys;cli;pkcs11" TIMEOUT 300)
set(FWT_P11_SAN_ENV
  "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0"
  "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/pkcs11_lsan.supp")
set_tests_properties(test_pkcs11 PROPERTIES ENVIRONMENT "${FWT_P11_SAN_ENV}")
set_tests_properties(keys_pkcs11_cli PROPERTIES ENVIRONMENT
  "FWTRUST=$<TARGET_FILE:fwtrust>;SRC=${PROJECT_SOURCE_DIR};${FWT_P11_SAN_ENV}")
