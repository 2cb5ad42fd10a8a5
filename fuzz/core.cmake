# Verifier core fuzz targets (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_core_verify: image bytes -> fwt_image_parse and fwt_image_verify (mock crypto
#                   backend, so signatures made by the seed generator verify and the
#                   fuzzer reaches the policy code).
# fuzz_core_cert:   certificate bytes -> fwt_cert_parse and fwt_cert_verify.
# Seeds: fuzz/corpus/core_verify/, fuzz/corpus/core_cert/ (tests/core/mock.c builds them:
# see docs/verifier-core.md).
foreach(target fuzz_core_verify fuzz_core_cert)
  string(REPLACE "fuzz_core_" "core_" corpus ${target})
  add_executable(${target} ${CMAKE_CURRENT_LIST_DIR}/${target}.c
                 ${PROJECT_SOURCE_DIR}/tests/core/mock.c)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src
                             ${PROJECT_SOURCE_DIR}/tests/core)
  target_link_libraries(${target} PRIVATE fwt_core)
  target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/corpus-out/${target})
  file(MAKE_DIRECTORY ${out_dir})
  add_test(NAME ${target}
           COMMAND ${target} -runs=20000 -max_total_time=15 ${out_dir}
                   ${CMAKE_CURRENT_LIST_DIR}/corpus/${corpus})
  set_tests_properties(${target} PROPERTIES LABELS "core;fuzz" TIMEOUT 120)
endforeach()
