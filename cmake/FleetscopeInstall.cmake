# `cmake --install`: the SDK (headers, static C++ libraries, the C ABI, a CMake package and a
# pkg-config file), the programs and the Python package. Included after every target exists.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Programs installed when they are built (the viewer with FLEETSCOPE_BUILD_VIEWER, fleetscope-mujoco
# when MuJoCo is found); a new program is one more name here.
set(FLEETSCOPE_INSTALL_PROGRAMS
  fleetscope
  fleetscope-sim
  fleetscope-shm
  fleetscope-mujoco
)
foreach(program IN LISTS FLEETSCOPE_INSTALL_PROGRAMS)
  if(TARGET ${program})
    install(TARGETS ${program} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

# Libraries, as fleetscope::ipc, fleetscope::bridge (C++ API) and fleetscope::c (C ABI).
set_target_properties(fleetscope_ipc PROPERTIES EXPORT_NAME ipc)
set_target_properties(fleetscope_bridge PROPERTIES EXPORT_NAME bridge)
set_target_properties(fleetscope_c PROPERTIES EXPORT_NAME c)
install(TARGETS fleetscope_ipc fleetscope_bridge fleetscope_c EXPORT fleetscopeTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# Whole directories, so headers added later are installed without a list to keep up.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/ipc/include/ ${PROJECT_SOURCE_DIR}/sim_bridge/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# A consumer links the static libraries' dependencies too, so the package config must define the
# imported ones: how to find each, for those the libraries link now. A new one needs a line here
# (the warning says which; the sdk test fails without it).
set(find_Threads::Threads "find_dependency(Threads)")
set(find_ZLIB::ZLIB "find_dependency(ZLIB)")
set(find_PkgConfig::ZSTD "find_dependency(PkgConfig)\npkg_check_modules(ZSTD REQUIRED QUIET IMPORTED_TARGET libzstd)")
set(dependencies "")
foreach(library fleetscope_ipc fleetscope_bridge)
  get_target_property(links ${library} LINK_LIBRARIES)
  foreach(link IN LISTS links)
    if(NOT link MATCHES "::" OR link MATCHES "^\\$<BUILD_INTERFACE:")
      continue()  # a library linked by name, or one used in the build tree only
    elseif(DEFINED find_${link})
      list(APPEND dependencies "${find_${link}}")
    else()
      message(WARNING "cmake/FleetscopeInstall.cmake: how does an SDK consumer find ${link} (linked by ${library})?")
    endif()
  endforeach()
endforeach()
list(REMOVE_DUPLICATES dependencies)
list(JOIN dependencies "\n" FLEETSCOPE_CONFIG_DEPENDENCIES)

set(FLEETSCOPE_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/fleetscope)
install(EXPORT fleetscopeTargets NAMESPACE fleetscope:: DESTINATION ${FLEETSCOPE_INSTALL_CMAKEDIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/fleetscopeConfig.cmake.in
  ${PROJECT_BINARY_DIR}/fleetscopeConfig.cmake INSTALL_DESTINATION ${FLEETSCOPE_INSTALL_CMAKEDIR})
# 0.x: a minor version may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/fleetscopeConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/fleetscopeConfig.cmake ${PROJECT_BINARY_DIR}/fleetscopeConfigVersion.cmake
  DESTINATION ${FLEETSCOPE_INSTALL_CMAKEDIR})

# Where `import fleetscope` looks without PYTHONPATH: lib/python3.X/ plus the interpreter's own
# name for it (Debian's python3 reads dist-packages under /usr/local and /usr, not site-packages).
find_program(FLEETSCOPE_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(FLEETSCOPE_PYTHON3 AND NOT DEFINED CACHE{FLEETSCOPE_INSTALL_PYTHONDIR})
  execute_process(
    COMMAND ${FLEETSCOPE_PYTHON3} -c "import os, sysconfig; print(f\"lib/python{sysconfig.get_python_version()}/{os.path.basename(sysconfig.get_paths()['purelib'])}\")"
    OUTPUT_VARIABLE python_dir OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
  set(FLEETSCOPE_INSTALL_PYTHONDIR ${python_dir} CACHE STRING
      "Where the fleetscope Python package is installed: relative to the prefix, or absolute")
endif()

# The pkg-config file and the Python package's link to the library are written at install time:
# `cmake --install --prefix` may name another prefix than the configured one.
string(CONFIGURE [[
  set(prefix "${CMAKE_INSTALL_PREFIX}")
  set(libdir "@CMAKE_INSTALL_LIBDIR@")
  set(includedir "@CMAKE_INSTALL_INCLUDEDIR@")
  set(python_dir "@FLEETSCOPE_INSTALL_PYTHONDIR@")
  cmake_path(ABSOLUTE_PATH prefix NORMALIZE)
  foreach(dir libdir includedir python_dir)
    if(${dir})
      cmake_path(ABSOLUTE_PATH ${dir} BASE_DIRECTORY "${prefix}" NORMALIZE)
    endif()
  endforeach()
  set(PROJECT_VERSION "@PROJECT_VERSION@")
  set(pc_file "$ENV{DESTDIR}${libdir}/pkgconfig/fleetscope.pc")
  message(STATUS "Installing: ${pc_file}")
  configure_file("@CMAKE_CURRENT_LIST_DIR@/fleetscope.pc.in" "${pc_file}" @ONLY)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${pc_file}")
  if(python_dir)
    # The package loads the library next to itself: a relative link to the one in libdir.
    set(link "$ENV{DESTDIR}${python_dir}/fleetscope/$<TARGET_SONAME_FILE_NAME:fleetscope_c>")
    file(RELATIVE_PATH target "${python_dir}/fleetscope" "${libdir}/$<TARGET_SONAME_FILE_NAME:fleetscope_c>")
    message(STATUS "Installing: ${link} -> ${target}")
    file(MAKE_DIRECTORY "$ENV{DESTDIR}${python_dir}/fleetscope")
    file(CREATE_LINK "${target}" "${link}" SYMBOLIC)
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${link}")
  endif()
]] install_time_code @ONLY)
install(CODE "${install_time_code}")
if(FLEETSCOPE_INSTALL_PYTHONDIR)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/sim_bridge/python/fleetscope DESTINATION ${FLEETSCOPE_INSTALL_PYTHONDIR}
    FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
endif()
