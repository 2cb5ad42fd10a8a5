# Image module fuzz targets (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_image_ihex: the Intel HEX reader (and writer round trip).
# fuzz_image_enc: boot records, dependencies, ENC TLV layouts, the decrypting reader.
foreach(target fuzz_image_ihex fuzz_image_enc)
  add_executable(${target} ${CMAKE_CURRENT_LIST_DIR}/${target}.c)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${target} PRIVATE fwt_image)
  target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  # New inputs go to the build tree, never into the seed corpus in the source tree.
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/corpus-out/${target})
  file(MAKE_DIRECTORY ${out_dir})
  add_test(NAME ${target}
           COMMAND ${target} -runs=20000 -max_total_time=15 ${out_dir}
                   ${CMAKE_CURRENT_LIST_DIR}/corpus/${target})
  set_tests_properties(${target} PROPERTIES LABELS "image;fuzz" TIMEOUT 120)
endforeach()
