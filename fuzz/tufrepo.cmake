# Repository tool fuzz target (included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_tufrepo_meta: bytes -> repo_meta_parse for each metadata type, then the root /
#                    delegation checks, signature counting and a dump/parse round trip.
# fuzz_tufrepo_journal: bytes -> repo_txn_journal_parse (the journal a crashed publish leaves).
# fuzz_tuf_target_desc: bytes -> fwt_target_desc_parse (custom.fwtrust, the contract between
#                       repository and device), then a write/read round trip.
# Seeds: fuzz/corpus/fuzz_tufrepo_meta/ (metadata published by `fwtrust repo`, with
# ed25519, ECDSA and RSA keys and a delegation); fuzz/corpus/fuzz_tufrepo_journal/ (journals);
# fuzz/corpus/fuzz_tuf_target_desc/ (what `fwtrust repo add-target` writes for a plain, a
# verified, a compressed and both kinds of patch target: fuzz/corpus/make_target_desc_seeds.sh).
if(TARGET fwt_tuf_repo)
  foreach(target fuzz_tufrepo_meta fuzz_tufrepo_journal fuzz_tuf_target_desc)
    fwt_add_fuzz(${target} LIBS fwt_tuf_repo fwt_image fwt_crypto fwt_util PkgConfig::JANSSON
                 LABELS "tuf;tufrepo;fuzz")
  endforeach()
endif()
