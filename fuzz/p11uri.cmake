# PKCS#11 URI parser fuzz target (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_p11_uri: bytes -> fwt_p11_uri_parse (RFC 7512), invariants of accepted URIs and an
#               encode/parse round trip. Seeds: fuzz/corpus/fuzz_p11_uri/.
foreach(target fuzz_p11_uri)
  add_executable(${target} ${CMAKE_CURRENT_LIST_DIR}/${target}.c)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${target} PRIVATE fwt_crypto)
  target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/corpus-out/${target})
  file(MAKE_DIRECTORY ${out_dir})
  add_test(NAME ${target}
           COMMAND ${target} -runs=20000 -max_total_time=15 ${out_dir}
                   ${CMAKE_CURRENT_LIST_DIR}/corpus/${target})
  set_tests_properties(${target} PROPERTIES LABELS "crypto;pkcs11;fuzz" TIMEOUT 120)
endforeach()
