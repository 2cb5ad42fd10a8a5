# Governed rollouts fuzz target (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_server_rollout: the first byte picks a parser: the rollout specification, the
# alerts configuration (alerts.json), a cron expression.
# Seeds: fuzz/corpus/fuzz_server_rollout/ (the specifications and configurations of
# tests/server/test_rollout.c and the shell tests).
if(TARGET fwt_server)
  foreach(target fuzz_server_rollout)
    add_executable(${target} ${CMAKE_CURRENT_LIST_DIR}/${target}.c)
    target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${target} PRIVATE fwt_server)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
    set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/corpus-out/${target})
    file(MAKE_DIRECTORY ${out_dir})
    add_test(NAME ${target}
             COMMAND ${target} -runs=20000 -max_total_time=15 ${out_dir}
                     ${CMAKE_CURRENT_LIST_DIR}/corpus/${target})
    set_tests_properties(${target} PROPERTIES LABELS "server;fuzz" TIMEOUT 120)
  endforeach()
endif()
