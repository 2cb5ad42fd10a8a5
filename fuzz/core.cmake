# Verifier core fuzz targets (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_core_verify: image bytes -> fwt_image_parse and fwt_image_verify (mock crypto
#                   backend, so signatures made by the seed generator verify and the
#                   fuzzer reaches the policy code).
# fuzz_core_cert:   certificate bytes -> fwt_cert_parse and fwt_cert_verify.
# Seeds: fuzz/corpus/core_verify/, fuzz/corpus/core_cert/ (tests/core/mock.c builds them:
# see docs/verifier-core.md).
foreach(target fuzz_core_verify fuzz_core_cert)
  string(REPLACE "fuzz_core_" "core_" corpus ${target})
  fwt_add_fuzz(${target} SOURCES ${PROJECT_SOURCE_DIR}/tests/core/mock.c INCLUDES ${PROJECT_SOURCE_DIR}/tests/core
               LIBS fwt_core LABELS "core;fuzz" CORPUS ${corpus})
endforeach()
