# Network update fuzz targets (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_agentupdate_decode: the device's streaming decoder of encoded targets (plain zstd,
#                          reference-prefix patch, bsdiff records) with an output cap.
# fuzz_agentupdate_meta:   encoded-file headers (file and JSON) and the target custom
#                          metadata the update reads.
# Seeds: fuzz/corpus/fuzz_agentupdate_*/ (made by fuzz/corpus/make_agentupdate_seeds.py).
if(TARGET fwt_agent AND TARGET fwt_tuf_repo)
  foreach(target fuzz_agentupdate_decode fuzz_agentupdate_meta)
    add_executable(${target} ${CMAKE_CURRENT_LIST_DIR}/${target}.c)
    target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/src/util)
    target_link_libraries(${target} PRIVATE fwt_agent fwt_tuf_repo PkgConfig::ZSTD PkgConfig::JANSSON)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
    set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/corpus-out/${target})
    file(MAKE_DIRECTORY ${out_dir})
    add_test(NAME ${target}
             COMMAND ${target} -runs=20000 -max_total_time=15 ${out_dir}
                     ${CMAKE_CURRENT_LIST_DIR}/corpus/${target})
    set_tests_properties(${target} PROPERTIES LABELS "agent;update;fuzz" TIMEOUT 120)
  endforeach()
endif()
