# Key custody fuzz target (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_keys_log: bytes -> the signing log's entry, tree head, inclusion proof and
#                consistency proof parsers, round trips, and the RFC 9162 proof checks;
#                also the pinned log key file parser (fwt_signlog_pin_parse).
# fuzz_keys_db:  bytes -> the signing log database file -> open, verify, prove, audit.
# Seeds: fuzz/corpus/fuzz_keys_log/ (an entry, a tree head and proofs made by
# `fwtrust sign --log` and `fwtrust log head/prove/consistency`, and a pin file made by `fwtrust log init`); fuzz/corpus/fuzz_keys_db/
# (a log of three entries made by `fwtrust log init` and `fwtrust sign --log`).
# (The certificate parser is fuzzed by fuzz_core_cert, fuzz/core.cmake.)
if(TARGET fwt_keys)
  fwt_add_fuzz(fuzz_keys_log LIBS fwt_keys LABELS "keys;fuzz")
  fwt_add_fuzz(fuzz_keys_db LIBS fwt_keys LABELS "keys;fuzz")
endif()
