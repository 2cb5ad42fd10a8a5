# Delta engine fuzz target (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_delta_roundtrip: the encoder against the decoder, every method (zstd, prefix patch,
#                       bsdiff patch, auto): decode(encode(base, new)) == new, bare frame and
#                       in its container. Input: method byte, two split bytes, base || new.
# fuzz_delta_thumb:     the Thumb-2 transform of bsdiff2 (src/delta/thumb.h): undone exactly for
#                       any bytes, flags and block offset; the base transform through a map.
# (The decoder alone on hostile bytes is fuzz_agentupdate_decode, fuzz/agentupdate.cmake.)
# Seeds: fuzz/corpus/fuzz_delta_roundtrip/ (made by fuzz/corpus/make_delta_seeds.py).
if(TARGET fwt_delta_encode)
  foreach(target fuzz_delta_roundtrip fuzz_delta_thumb)
    add_executable(${target} ${CMAKE_CURRENT_LIST_DIR}/${target}.c)
    target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src/util ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${target} PRIVATE fwt_delta_encode)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
    set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/corpus-out/${target})
    file(MAKE_DIRECTORY ${out_dir})
    add_test(NAME ${target}
             COMMAND ${target} -runs=20000 -max_total_time=15 ${out_dir}
                     ${CMAKE_CURRENT_LIST_DIR}/corpus/${target})
    set_tests_properties(${target} PROPERTIES LABELS "delta;fuzz" TIMEOUT 120)
  endforeach()
endif()
