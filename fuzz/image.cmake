# Image module fuzz targets (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_image_ihex: the Intel HEX reader (and writer round trip).
fwt_add_fuzz(fuzz_image_ihex LIBS fwt_image LABELS "image;fuzz")
