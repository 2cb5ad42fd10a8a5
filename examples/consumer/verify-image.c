/*
 * An integrator's program against the installed libfwtrust: verify a signed
 * image against one or more trusted public keys and print what the verifier
 * learned. Built against an installed tree both ways (CMakeLists.txt with
 * find_package(fwtrust), Makefile with pkg-config); tests/pkg runs both.
 *
 * usage: verify-image IMAGE PUBKEY...
 * exit:  0 verified; otherwise fwtrust's error number (docs/exit-codes.md).
 */
#include <fwtrust/fwtrust_host.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s IMAGE PUBKEY...\n", argv[0]);
        return 1;
    }
    struct fwt_key_opts ko = {0};
    struct fwt_image_info info;
    fwt_err err = fwt_verify_file_any_key(argv[1], (const char *const *)&argv[2], (size_t)(argc - 2), &ko,
                                          &info);
    if (err != FWT_OK) {
        fprintf(stderr, "%s: %s: %s\n", argv[1], fwt_strerror(err), fwt_detail());
        return (int)err;
    }
    printf("%s: verified, version %u.%u.%u+%u, %u signer(s), %u bytes\n", argv[1],
           (unsigned)info.hdr.version.major, (unsigned)info.hdr.version.minor, (unsigned)info.hdr.version.revision,
           (unsigned)info.hdr.version.build, (unsigned)info.n_signers, (unsigned)info.total_size);
    return 0;
}
