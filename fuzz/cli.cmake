# Option-table parser of the tools (src/tools/cli_opts.c; included by fuzz/CMakeLists.txt in FWT_FUZZ builds).
# fuzz_cli_opts: NUL-separated words -> fwt_cli_parse, invariants of the result. Seeds: fuzz/corpus/fuzz_cli_opts/.
fwt_add_fuzz(fuzz_cli_opts LIBS fwt_cli LABELS "cli;fuzz" ARGS -close_fd_mask=3)
