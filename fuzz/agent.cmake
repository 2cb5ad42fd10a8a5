# Device agent fuzz targets (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_agent_config: device.ini (INI reader + configuration, format/parse round trip)
# fuzz_agent_state:  boot control and anti-rollback records (decode/encode round trip)
# fuzz_agent_audit:  audit log lines and whole logs (hash chain check)
# fuzz_agent_outcome: the trial outcome record (decode/encode round trip)
# fuzz_agent_install: the streaming install, edit scripts over a valid image (accepted
#                    bytes must be the streamed ones and verify; refusals leave the slot bad)
if(TARGET fwt_agent)
  foreach(target fuzz_agent_config fuzz_agent_state fuzz_agent_audit fuzz_agent_install
                 fuzz_agent_outcome)
    fwt_add_fuzz(${target} LIBS fwt_agent LABELS "agent;fuzz")
  endforeach()
endif()
