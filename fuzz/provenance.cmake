# Provenance fuzz targets (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_prov_envelope: bytes -> base64 decoder, DSSE envelope parser (round trip through the
#                     writer), signature check against the DSSE test vector key, statement
#                     parser, revocation list payload parser.
# fuzz_prov_policy:   bytes -> provenance policy parser.
# Seeds: fuzz/corpus/fuzz_prov_envelope/ (the DSSE spec's vector and envelopes made by
# `fwtrust provenance make`), fuzz/corpus/fuzz_prov_policy/ (policies of tests/provenance/cli.sh).
if(TARGET fwt_provenance)
  fwt_add_fuzz(fuzz_prov_envelope LIBS fwt_provenance LABELS "provenance;fuzz")
  fwt_add_fuzz(fuzz_prov_policy LIBS fwt_provenance LABELS "provenance;fuzz")
endif()
# fuzz_catalog: bytes -> the catalog annotations file (fwt_catalog_load, src/keys/catalog.c),
# then an annotation written back and read again. Seeds: fuzz/corpus/fuzz_catalog/.
if(TARGET fwt_keys)
  fwt_add_fuzz(fuzz_catalog LIBS fwt_keys LABELS "keys;fuzz")
endif()
