# Fleet formats fuzz target (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_fleet_manifest: bytes -> the device manifest and device report readers, as a whole
#                      body and as the "signed" part of an envelope the target signs itself;
#                      accepted documents round trip through the writer.
# fuzz_agent_fleet:    what the device reads from its server and director: a director target's
#                      custom, the enrollment answer, the check-in answer (first byte picks).
# Seeds: fuzz/corpus/fuzz_fleet_manifest/ (signed parts of a full manifest, a minimal one and
# a report, as `fwtrust-agent checkin` writes them); fuzz/corpus/fuzz_agent_fleet/ (answers as
# fwtrust-server sends them).
if(TARGET fwt_fleet)
  foreach(target fuzz_fleet_manifest)
    add_executable(${target} ${CMAKE_CURRENT_LIST_DIR}/${target}.c)
    target_link_libraries(${target} PRIVATE fwt_fleet PkgConfig::JANSSON)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
    set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/corpus-out/${target})
    file(MAKE_DIRECTORY ${out_dir})
    add_test(NAME ${target}
             COMMAND ${target} -runs=20000 -max_total_time=15 ${out_dir}
                     ${CMAKE_CURRENT_LIST_DIR}/corpus/${target})
    set_tests_properties(${target} PROPERTIES LABELS "fleet;fuzz" TIMEOUT 120)
  endforeach()
endif()
if(TARGET fwt_agent)
  add_executable(fuzz_agent_fleet ${CMAKE_CURRENT_LIST_DIR}/fuzz_agent_fleet.c)
  target_include_directories(fuzz_agent_fleet PRIVATE ${PROJECT_SOURCE_DIR}/src/agent ${PROJECT_SOURCE_DIR}/src/util)
  target_link_libraries(fuzz_agent_fleet PRIVATE fwt_agent)
  target_link_options(fuzz_agent_fleet PRIVATE -fsanitize=fuzzer)
  file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/corpus-out/fuzz_agent_fleet)
  add_test(NAME fuzz_agent_fleet
           COMMAND fuzz_agent_fleet -runs=20000 -max_total_time=15 ${CMAKE_CURRENT_BINARY_DIR}/corpus-out/fuzz_agent_fleet
                   ${CMAKE_CURRENT_LIST_DIR}/corpus/fuzz_agent_fleet)
  set_tests_properties(fuzz_agent_fleet PROPERTIES LABELS "fleet;agent;fuzz" TIMEOUT 120)
endif()
