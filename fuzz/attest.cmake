# Remote attestation fuzz targets (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_attest_tpm2:     bytes -> TPMS_ATTEST, TPMT_SIGNATURE and TPM2B_PUBLIC parsers, the AK
#                       check and software MakeCredential on what parses.
# fuzz_attest_eventlog: bytes -> the TCG crypto-agile event log parser and replay, with a
#                       re-encoding round trip.
# fuzz_attest_docs:     bytes -> the attestation documents, the catalog, and the catalog builder
#                       on TUF targets metadata (round trip through the catalog parser).
# Seeds (made by tests/attest/lib.sh's setup_enrolled_device on swtpm, a boot, a second boot
# and a quote): fuzz/corpus/fuzz_attest_{tpm2,eventlog,docs}/.
if(TARGET fwt_attest)
  foreach(target fuzz_attest_tpm2 fuzz_attest_eventlog fuzz_attest_docs)
    add_executable(${target} ${CMAKE_CURRENT_LIST_DIR}/${target}.c)
    target_link_libraries(${target} PRIVATE fwt_attest)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
    set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/corpus-out/${target})
    file(MAKE_DIRECTORY ${out_dir})
    add_test(NAME ${target}
             COMMAND ${target} -runs=20000 -max_total_time=15 ${out_dir}
                     ${CMAKE_CURRENT_LIST_DIR}/corpus/${target})
    set_tests_properties(${target} PROPERTIES LABELS "attest;fuzz" TIMEOUT 120)
  endforeach()
endif()
