/*
 * A shared object that must never be loaded: when it is (dlopen runs its
 * constructor), it creates the file named by $FWT_MARKER_FILE. The signing-log
 * tests name it as a PKCS#11 module-path= inside a log database, which must
 * never choose the code fwtrust loads (tests/keys/log_key_source.sh).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void fwt_marker_loaded(void)
{
    const char *path = getenv("FWT_MARKER_FILE");
    if (path && path[0]) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            if (write(fd, "loaded\n", 7) != 7) {
                _exit(97);
            }
            close(fd);
        }
    }
}
