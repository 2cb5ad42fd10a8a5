# Provenance fuzz targets (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_prov_envelope: bytes -> base64 decoder, DSSE envelope parser (round trip through the
#                     writer), signature check against the DSSE test vector key, statement parser.
# fuzz_prov_policy:   bytes -> provenance policy parser.
# Seeds: fuzz/corpus/fuzz_prov_envelope/ (the DSSE spec's vector and envelopes made by
# `fwtrust provenance make`), fuzz/corpus/fuzz_prov_policy/ (policies of tests/provenance/cli.sh).
if(TARGET fwt_provenance)
  foreach(target fuzz_prov_envelope fuzz_prov_policy)
    add_executable(${target} ${CMAKE_CURRENT_LIST_DIR}/${target}.c)
    target_link_libraries(${target} PRIVATE fwt_provenance)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
    set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/corpus-out/${target})
    file(MAKE_DIRECTORY ${out_dir})
    add_test(NAME ${target}
             COMMAND ${target} -runs=20000 -max_total_time=15 ${out_dir}
                     ${CMAKE_CURRENT_LIST_DIR}/corpus/${target})
    set_tests_properties(${target} PROPERTIES LABELS "provenance;fuzz" TIMEOUT 120)
  endforeach()
endif()
