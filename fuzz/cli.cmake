# Option-table parser of the tools (src/tools/cli_opts.c; included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_cli_opts: NUL-separated words -> fwt_cli_parse, invariants of the result. Seeds: fuzz/corpus/fuzz_cli_opts/.
foreach(target fuzz_cli_opts)
  add_executable(${target} ${CMAKE_CURRENT_LIST_DIR}/${target}.c)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${target} PRIVATE fwt_cli)
  target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/corpus-out/${target})
  file(MAKE_DIRECTORY ${out_dir})
  add_test(NAME ${target}
           COMMAND ${target} -close_fd_mask=3 -runs=20000 -max_total_time=15 ${out_dir}
                   ${CMAKE_CURRENT_LIST_DIR}/corpus/${target})
  set_tests_properties(${target} PROPERTIES LABELS "cli;fuzz" TIMEOUT 120)
endforeach()
