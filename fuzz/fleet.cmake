# Fleet formats fuzz target (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_fleet_manifest: bytes -> the device manifest and device report readers, as a whole
#                      body and as the "signed" part of an envelope the target signs itself;
#                      accepted documents round trip through the writer.
# Seeds: fuzz/corpus/fuzz_fleet_manifest/ (signed parts of a full manifest, a minimal one and
# a report, as `fwtrust-agent checkin` writes them).
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
