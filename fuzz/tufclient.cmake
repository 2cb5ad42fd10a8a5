# TUF client fuzz targets (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_tuf_meta:    bytes -> metadata parser of every type, canonical JSON round trip,
#                   threshold verification, delegation matching.
# fuzz_tuf_refresh: one attacker-controlled file in a repository served as file:// ->
#                   fwt_tuf_refresh + a target lookup (tests/tufclient/trepo.c makes the repository).
# fuzz_tuf_tls_session: the agent's TLS session file (client_tls.c) -> the session or nothing.
# Seeds: fuzz/corpus/fuzz_tuf_meta/, fuzz/corpus/fuzz_tuf_refresh/ (first byte selects the file),
# fuzz/corpus/fuzz_tuf_tls_session/ (a session file of an agent check-in, digest set to zeros).
if(TARGET fwt_tuf_client)
  set(libs fwt_tuf_client fwt_crypto fwt_util PkgConfig::JANSSON OpenSSL::Crypto)
  fwt_add_fuzz(fuzz_tuf_meta INCLUDES ${PROJECT_SOURCE_DIR}/src/tuf LIBS ${libs} LABELS "tuf;tufclient;fuzz")
  fwt_add_fuzz(fuzz_tuf_refresh SOURCES ${PROJECT_SOURCE_DIR}/tests/tufclient/trepo.c
               INCLUDES ${PROJECT_SOURCE_DIR}/src/tuf ${PROJECT_SOURCE_DIR}/tests/tufclient
               LIBS ${libs} LABELS "tuf;tufclient;fuzz")
  fwt_add_fuzz(fuzz_tuf_tls_session INCLUDES ${PROJECT_SOURCE_DIR}/src/tuf LIBS ${libs} OpenSSL::SSL
               LABELS "tuf;tufclient;fuzz")
endif()
