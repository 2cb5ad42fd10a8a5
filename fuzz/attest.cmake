# Remote attestation fuzz targets (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_attest_tpm2:     bytes -> TPMS_ATTEST, TPMT_SIGNATURE and TPM2B_PUBLIC parsers, the AK
#                       check and software MakeCredential on what parses.
# fuzz_attest_eventlog: bytes -> the TCG crypto-agile event log parser and replay, with a
#                       re-encoding round trip.
# fuzz_attest_docs:     bytes -> the attestation documents, the catalog, and the catalog builder
#                       on TUF targets metadata (round trip through the catalog parser).
# Seeds (made by tests/attest/lib.sh's setup_enrolled_device on swtpm, a boot, a second boot
# and a quote): fuzz/corpus/fuzz_attest_{tpm2,eventlog,docs}/.
if(TARGET fwt_attest)
  foreach(target fuzz_attest_tpm2 fuzz_attest_eventlog fuzz_attest_docs)
    fwt_add_fuzz(${target} LIBS fwt_attest LABELS "attest;fuzz")
  endforeach()
endif()
