# TUF client fuzz targets (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_tuf_meta:    bytes -> metadata parser of every type, canonical JSON round trip,
#                   threshold verification, delegation matching.
# fuzz_tuf_refresh: one attacker-controlled file in a repository served as file:// ->
#                   fwt_tuf_refresh + a target lookup (tests/tufclient/trepo.c makes the repository).
# Seeds: fuzz/corpus/fuzz_tuf_meta/, fuzz/corpus/fuzz_tuf_refresh/ (first byte selects the file).
if(TARGET fwt_tuf_client)
  foreach(target fuzz_tuf_meta fuzz_tuf_refresh)
    if(target STREQUAL "fuzz_tuf_refresh")
      add_executable(${target} ${CMAKE_CURRENT_LIST_DIR}/${target}.c ${PROJECT_SOURCE_DIR}/tests/tufclient/trepo.c)
      target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/tests/tufclient)
    else()
      add_executable(${target} ${CMAKE_CURRENT_LIST_DIR}/${target}.c)
    endif()
    target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/src/util
                               ${PROJECT_SOURCE_DIR}/src/tuf)
    target_link_libraries(${target} PRIVATE fwt_tuf_client fwt_crypto fwt_util PkgConfig::JANSSON OpenSSL::Crypto)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
    set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/corpus-out/${target})
    file(MAKE_DIRECTORY ${out_dir})
    add_test(NAME ${target}
             COMMAND ${target} -runs=20000 -max_total_time=15 ${out_dir}
                     ${CMAKE_CURRENT_LIST_DIR}/corpus/${target})
    set_tests_properties(${target} PROPERTIES LABELS "tuf;tufclient;fuzz" TIMEOUT 120)
  endforeach()
endif()
