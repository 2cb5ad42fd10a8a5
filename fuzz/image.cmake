# Image module fuzz targets (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_image_ihex: the Intel HEX reader (and writer round trip).
fwt_add_fuzz(fuzz_image_ihex LIBS fwt_image LABELS "image;fuzz")
# fuzz_image_enc: boot records, dependencies, ENC TLV layouts, the decrypting reader.
fwt_add_fuzz(fuzz_image_enc LIBS fwt_image LABELS "image;fuzz")
