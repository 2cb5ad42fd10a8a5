# Device agent fuzz targets (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_agent_config: device.ini (INI reader + configuration, format/parse round trip)
# fuzz_agent_state:  boot control and anti-rollback records (decode/encode round trip)
# fuzz_agent_audit:  audit log lines and whole logs (hash chain check)
# fuzz_agent_outcome: the trial outcome record (decode/encode round trip)
# fuzz_agent_install: the streaming install, edit scripts over a valid image (accepted
#                    bytes must be the streamed ones and verify; refusals leave the slot bad)
if(TARGET fwt_agent)
  foreach(target fuzz_agent_config fuzz_agent_state fuzz_agent_audit fuzz_agent_install
                 fuzz_agent_outcome)
    add_executable(${target} ${CMAKE_CURRENT_LIST_DIR}/${target}.c)
    target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/src/util)
    target_link_libraries(${target} PRIVATE fwt_agent)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
    set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/corpus-out/${target})
    file(MAKE_DIRECTORY ${out_dir})
    add_test(NAME ${target}
             COMMAND ${target} -runs=20000 -max_total_time=15 ${out_dir}
                     ${CMAKE_CURRENT_LIST_DIR}/corpus/${target})
    set_tests_properties(${target} PROPERTIES LABELS "agent;fuzz" TIMEOUT 120)
  endforeach()
endif()
