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
  fwt_add_fuzz(fuzz_fleet_manifest LIBS fwt_fleet PkgConfig::JANSSON LABELS "fleet;fuzz")
endif()
if(TARGET fwt_agent)
  fwt_add_fuzz(fuzz_agent_fleet LIBS fwt_agent INCLUDES ${PROJECT_SOURCE_DIR}/src/agent LABELS "fleet;agent;fuzz")
endif()
