# Network update fuzz targets (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_agentupdate_decode: the device's streaming decoder of encoded targets (plain zstd,
#                          reference-prefix patch, bsdiff records, bsdiff2 with maps and code
#                          ranges) with an output cap; the window fwt_delta_frame_window reads
#                          (custom.fwtrust.decode_window) must agree with the decoder's cap.
# fuzz_agentupdate_meta:   encoded-file headers (file and JSON) and the target custom
#                          metadata the update reads.
# Seeds: fuzz/corpus/fuzz_agentupdate_*/ (made by fuzz/corpus/make_agentupdate_seeds.py).
if(TARGET fwt_agent AND TARGET fwt_tuf_repo)
  foreach(target fuzz_agentupdate_decode fuzz_agentupdate_meta)
    fwt_add_fuzz(${target} LIBS fwt_agent fwt_tuf_repo PkgConfig::ZSTD PkgConfig::JANSSON
                 LABELS "agent;update;fuzz")
  endforeach()
endif()
