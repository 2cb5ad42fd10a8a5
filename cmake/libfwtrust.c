/*
 * libfwtrust: the shared library for integrators is the project's module
 * libraries linked whole (cmake/FwtrustInstall.cmake); its exports are the
 * functions and objects the public headers in include/fwtrust/ declare
 * (libfwtrust.map, made by scripts/gen-export-map). This file only gives the
 * target a source of its own.
 */
#include <fwtrust/fwtrust.h>

typedef int fwt_libfwtrust_unit;
