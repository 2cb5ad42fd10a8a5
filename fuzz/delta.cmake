# Delta engine fuzz target (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_delta_roundtrip: the encoder against the decoder, every method (zstd, prefix patch,
#                       bsdiff patch, bsdiff2, lzma2-dict, auto, auto with the decoding window
#                       capped at 4 KiB and decoded capped): decode(encode(base, new)) == new,
#                       bare frame and in its container. Input: method byte, two split bytes,
#                       base || new.
# fuzz_delta_thumb:     the Thumb-2 transform of bsdiff2 (src/delta/thumb.h): undone exactly for
#                       any bytes, flags and block offset, whole blocks and within code ranges
#                       (nothing outside them rewritten); the base transform through a map.
# fuzz_delta_elf:       the ELF reader of the transform's hint (fwt_delta_elf_code): strict and
#                       bounded on any bytes. Input: u32le ELF length, u32le payload offset,
#                       ELF file, image. Seeds: a Thumb-2 executable and its signed image.
# (The decoder alone on hostile bytes is fuzz_agentupdate_decode, fuzz/agentupdate.cmake.)
# Seeds: fuzz/corpus/fuzz_delta_roundtrip/ (made by fuzz/corpus/make_delta_seeds.py).
if(TARGET fwt_delta_encode)
  fwt_add_fuzz(fuzz_delta_roundtrip LIBS fwt_delta_encode LABELS "delta;fuzz")
  fwt_add_fuzz(fuzz_delta_thumb LIBS fwt_delta_encode LABELS "delta;fuzz")
  fwt_add_fuzz(fuzz_delta_elf LIBS fwt_delta_encode LABELS "delta;fuzz")
endif()
