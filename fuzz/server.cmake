# Fleet server fuzz target (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_server_body: the first byte picks a parser: the enroll body (token or factory
#                   certificate), the admin API bodies, the factory certificate serial,
#                   the CSR check, the audit log's event entries (with their round trip).
# Seeds: fuzz/corpus/fuzz_server_body/ (enroll bodies, with a token and with a factory
# certificate, a factory certificate (first byte 4), admin
# bodies as tests/server/e2e.sh sends them, a CSR, an event entry of an audit log).
if(TARGET fwt_server)
  fwt_add_fuzz(fuzz_server_body LIBS fwt_server fwt_fleet LABELS "server;fuzz")
endif()
