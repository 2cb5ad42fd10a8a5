# Installation (docs/packaging.md): programs, public headers, the integrators' library
# libfwtrust (shared, with a versioned SONAME and only the public API exported; and static),
# fwtrust.pc for pkg-config, a CMake package (find_package(fwtrust)), manual pages and bash
# completion generated from the option tables, systemd units and example configuration.
include(GNUInstallDirs)

# ---- The library: every static library of src/<module> (not the tools' fwt_cli) ----
set(FWT_LIB_PARTS "")
get_property(_fwt_dirs DIRECTORY ${PROJECT_SOURCE_DIR} PROPERTY SUBDIRECTORIES)
# src/server is the fleet daemon's own code (storage, HTTP): not API for integrators, and it
# would make every user link libpq and libevent.
foreach(_d ${_fwt_dirs})
  if(_d MATCHES "/src/[^/]+$" AND NOT _d MATCHES "/src/(tools|server)$")
    get_property(_ts DIRECTORY ${_d} PROPERTY BUILDSYSTEM_TARGETS)
    foreach(_t ${_ts})
      get_target_property(_type ${_t} TYPE)
      if(_type STREQUAL "STATIC_LIBRARY")
        list(APPEND FWT_LIB_PARTS ${_t})
      endif()
    endforeach()
  endif()
endforeach()
list(SORT FWT_LIB_PARTS)

# What the parts link that is not a part (OpenSSL, jansson, libcurl, tpm2-tss, ...): linked
# by libfwtrust.so, and, flattened to -l flags, named by fwtrust.pc and the CMake package
# for static linking.
set(FWT_EXT_DEPS "")
foreach(_t ${FWT_LIB_PARTS})
  get_target_property(_ll ${_t} LINK_LIBRARIES)
  foreach(_l ${_ll})
    if(_l AND NOT _l MATCHES "^fwt_" AND NOT _l MATCHES "^\\$<")
      list(APPEND FWT_EXT_DEPS ${_l})
    endif()
  endforeach()
endforeach()
list(REMOVE_DUPLICATES FWT_EXT_DEPS)

function(fwt_flatten_deps out)
  set(_flags "")
  set(_todo ${ARGN})
  set(_seen "")
  while(_todo)
    list(POP_FRONT _todo _d)
    if(_d IN_LIST _seen)
      continue()
    endif()
    list(APPEND _seen ${_d})
    if(TARGET ${_d})
      get_target_property(_loc ${_d} IMPORTED_LOCATION)
      if(NOT _loc)
        get_target_property(_loc ${_d} IMPORTED_LOCATION_RELEASE)
      endif()
      if(_loc)
        list(APPEND _todo ${_loc})
      endif()
      get_target_property(_ill ${_d} INTERFACE_LINK_LIBRARIES)
      if(_ill)
        list(APPEND _todo ${_ill})
      endif()
    elseif(_d MATCHES "/lib([^/]+)\\.(so|a)(\\.[0-9.]*)?$")
      list(APPEND _flags "-l${CMAKE_MATCH_1}")
    elseif(_d MATCHES "^-")
      list(APPEND _flags "${_d}")
    elseif(_d MATCHES "^[A-Za-z0-9_+-]+$")
      list(APPEND _flags "-l${_d}")
    else()
      message(FATAL_ERROR "libfwtrust: cannot link '${_d}' from the top directory (an imported target "
                          "must be GLOBAL: pkg_check_modules(... IMPORTED_TARGET GLOBAL ...))")
    endif()
  endwhile()
  list(REMOVE_DUPLICATES _flags)
  set(${out} ${_flags} PARENT_SCOPE)
endfunction()
find_package(Threads REQUIRED)  # Threads::Threads, as the agent links it, visible here too
fwt_flatten_deps(FWT_EXT_FLAGS ${FWT_EXT_DEPS})
string(REPLACE ";" " " FWT_PC_LIBS_PRIVATE "${FWT_EXT_FLAGS}")

# The export list: global symbols the parts define whose names a public header declares.
set(FWT_EXPORT_MAP ${CMAKE_CURRENT_BINARY_DIR}/libfwtrust.map)
set(_fwt_part_files "")
foreach(_t ${FWT_LIB_PARTS})
  list(APPEND _fwt_part_files $<TARGET_FILE:${_t}>)
endforeach()
file(GLOB FWT_PUBLIC_HEADERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/fwtrust/*.h)
add_custom_command(OUTPUT ${FWT_EXPORT_MAP}
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/gen-export-map ${FWT_EXPORT_MAP}
          ${PROJECT_SOURCE_DIR}/include/fwtrust -- ${_fwt_part_files}
  DEPENDS ${FWT_LIB_PARTS} ${FWT_PUBLIC_HEADERS} ${PROJECT_SOURCE_DIR}/scripts/gen-export-map
  COMMENT "libfwtrust: export map from the public headers" VERBATIM)
add_custom_target(fwtrust_export_map DEPENDS ${FWT_EXPORT_MAP})

add_library(fwtrust_shared SHARED ${PROJECT_SOURCE_DIR}/cmake/libfwtrust.c)
add_dependencies(fwtrust_shared fwtrust_export_map ${FWT_LIB_PARTS})
# The archives themselves (not the targets, whose own link interfaces would repeat them),
# whole, then what they use.
target_link_libraries(fwtrust_shared PRIVATE -Wl,--whole-archive ${_fwt_part_files} -Wl,--no-whole-archive
                      ${FWT_EXT_DEPS})
target_link_options(fwtrust_shared PRIVATE "-Wl,--version-script=${FWT_EXPORT_MAP}" "-Wl,--no-undefined")
set_target_properties(fwtrust_shared PROPERTIES OUTPUT_NAME fwtrust VERSION ${PROJECT_VERSION}
                      SOVERSION ${PROJECT_VERSION_MAJOR} LINK_DEPENDS ${FWT_EXPORT_MAP}
                      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib)

# libfwtrust.a: the parts' objects in one archive (ar's MRI script).
set(FWT_STATIC_LIB ${CMAKE_BINARY_DIR}/lib/libfwtrust.a)
set(_mri "create ${FWT_STATIC_LIB}\n")
foreach(_t ${FWT_LIB_PARTS})
  string(APPEND _mri "addlib $<TARGET_FILE:${_t}>\n")
endforeach()
string(APPEND _mri "save\nend\n")
file(GENERATE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/libfwtrust.mri CONTENT "${_mri}")
add_custom_command(OUTPUT ${FWT_STATIC_LIB}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/lib
  COMMAND ${CMAKE_COMMAND} -E rm -f ${FWT_STATIC_LIB}
  COMMAND ${CMAKE_AR} -M < ${CMAKE_CURRENT_BINARY_DIR}/libfwtrust.mri
  DEPENDS ${FWT_LIB_PARTS} COMMENT "libfwtrust.a" VERBATIM)
add_custom_target(fwtrust_static ALL DEPENDS ${FWT_STATIC_LIB})

# ---- Manual pages and bash completion, from the option tables ----
set(FWT_PROGRAMS "")
foreach(_p fwtrust fwtrust-agent fwtrust-boot fwtrust-tuf-client fwtrust-server)
  if(TARGET ${_p})
    list(APPEND FWT_PROGRAMS ${_p})
  endif()
endforeach()
set(FWT_TOOL_DIR ${CMAKE_BINARY_DIR}/src/tools)
find_program(SCDOC scdoc)
find_package(Python3 COMPONENTS Interpreter)
if(SCDOC AND Python3_FOUND)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/.stamp
    COMMAND ${CMAKE_COMMAND} -E rm -rf ${CMAKE_BINARY_DIR}/man
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/gen-man ${CMAKE_BINARY_DIR}/man
            ${FWT_TOOL_DIR} ${FWT_PROGRAMS}
    COMMAND ${CMAKE_COMMAND} -E touch ${CMAKE_BINARY_DIR}/man/.stamp
    DEPENDS ${FWT_PROGRAMS} ${PROJECT_SOURCE_DIR}/scripts/gen-man ${PROJECT_SOURCE_DIR}/scripts/clitables.py
    COMMENT "manual pages (scdoc)" VERBATIM)
  add_custom_target(man ALL DEPENDS ${CMAKE_BINARY_DIR}/man/.stamp)
  install(DIRECTORY ${CMAKE_BINARY_DIR}/man/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
          FILES_MATCHING PATTERN "*.1" PATTERN "scd" EXCLUDE)
else()
  message(STATUS "scdoc or python3 missing: no manual pages")
endif()
if(Python3_FOUND)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/completion/.stamp
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/gen-completion
            ${CMAKE_BINARY_DIR}/completion ${FWT_TOOL_DIR} ${FWT_PROGRAMS}
    COMMAND ${CMAKE_COMMAND} -E touch ${CMAKE_BINARY_DIR}/completion/.stamp
    DEPENDS ${FWT_PROGRAMS} ${PROJECT_SOURCE_DIR}/scripts/gen-completion ${PROJECT_SOURCE_DIR}/scripts/clitables.py
    COMMENT "bash completion" VERBATIM)
  add_custom_target(completion ALL DEPENDS ${CMAKE_BINARY_DIR}/completion/.stamp)
  foreach(_p ${FWT_PROGRAMS})
    install(FILES ${CMAKE_BINARY_DIR}/completion/${_p} DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
  endforeach()
endif()

# ---- Install rules ----
install(TARGETS ${FWT_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS fwtrust_shared LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_SKIP)
install(TARGETS fwtrust_shared LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_ONLY COMPONENT dev)
install(FILES ${FWT_STATIC_LIB} DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/fwtrust DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)

file(RELATIVE_PATH FWT_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" FWT_PC_TO_PREFIX "${FWT_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/fwtrust.pc.in ${CMAKE_BINARY_DIR}/fwtrust.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/fwtrust.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

include(CMakePackageConfigHelpers)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/fwtrustConfig.cmake.in
  ${CMAKE_BINARY_DIR}/fwtrustConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/fwtrust
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/fwtrustConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/fwtrustConfig.cmake ${CMAKE_BINARY_DIR}/fwtrustConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/fwtrust COMPONENT dev)

# systemd units and default configuration (docs/packaging.md)
# Units go where systemd looks (systemd.pc: /lib/systemd/system on Debian 12) for a /usr
# install, else under the prefix; -DFWT_SYSTEMD_UNITDIR=... overrides.
if(NOT FWT_SYSTEMD_UNITDIR)
  set(_unitdir "lib/systemd/system")  # relative: under the prefix given at install time
  if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    pkg_get_variable(_sd_unitdir systemd systemdsystemunitdir)
    if(_sd_unitdir)
      set(_unitdir "${_sd_unitdir}")
    endif()
  endif()
  set(FWT_SYSTEMD_UNITDIR "${_unitdir}" CACHE PATH "where the systemd units are installed")
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/dist/systemd/ DESTINATION ${FWT_SYSTEMD_UNITDIR}
        FILES_MATCHING PATTERN "*.service" PATTERN "*.timer")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/dist/etc/ DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/fwtrust)
