/*
 * fwtrust-repo-crashtest: `fwtrust repo` built with the crash-test hook
 * (FWT_REPO_FAULT_HOOK, src/tuf/repo_store.c). With FWT_FAULT_AT=N the N-th
 * state-changing file call (create, write, fsync, rename, link, unlink, mkdir,
 * rmdir) ends the process with exit status 99, as a power cut would.
 * A test program only: it is never installed, and fwtrust has no such hook.
 * Usage: fwtrust-repo-crashtest repo COMMAND DIR [options]
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

extern const struct fwt_command fwt_cmd_repo;

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "repo") != 0) {
        fprintf(stderr, "usage: fwtrust-repo-crashtest repo COMMAND DIR [options]\n");
        return 1;
    }
    return fwt_cmd_repo.run(argc - 1, argv + 1);
}
