# Key custody fuzz target (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_keys_log: bytes -> the signing log's entry, tree head, inclusion proof and
#                consistency proof parsers, round trips, and the RFC 9162 proof checks;
#                also the pinned log key file parser (fwt_signlog_pin_parse).
# fuzz_keys_db:  bytes -> the signing log database file -> open, verify, prove, audit.
# Seeds: fuzz/corpus/fuzz_keys_log/ (an entry, a tree head and proofs made by
# `fwtrust sign --log` and `fwtrust log head/prove/consistency`, and a pin file made by `fwtrust log init`); fuzz/corpus/fuzz_keys_db/
# (a log of three entries made by `fwtrust log init` and `fwtrust sign --log`).
# (The certificate parser is fuzzed by fuzz_core_cert, fuzz/core.cmake.)
if(TARGET fwt_keys)
  foreach(target fuzz_keys_log fuzz_keys_db)
    add_executable(${target} ${CMAKE_CURRENT_LIST_DIR}/${target}.c)
    target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/src/util)
    target_link_libraries(${target} PRIVATE fwt_keys)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
    set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/corpus-out/${target})
    file(MAKE_DIRECTORY ${out_dir})
    add_test(NAME ${target}
             COMMAND ${target} -runs=20000 -max_total_time=15 ${out_dir}
                     ${CMAKE_CURRENT_LIST_DIR}/corpus/${target})
    set_tests_properties(${target} PROPERTIES LABELS "keys;fuzz" TIMEOUT 120)
  endforeach()
endif()
