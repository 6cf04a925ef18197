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

# Libraries, as fleetscope::ipc, fleetscope::bridge (C++ API) and fleetscope::c (C ABI): the core
# of the package, what a plain find_package(fleetscope) gives.
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

# Components, each only when asked for (find_package(fleetscope COMPONENTS urdf mujoco)), so that
# the core needs none of their packages: urdf (fleetscope::urdf, C++: URDF robots; its C ABI is
# in libfleetscope.so already) and, when MuJoCo was found, mujoco (fleetscope::mujoco, C++, and
# fleetscope::mujoco_c, the C ABI libfleetscope_mujoco.so). A component is its own export set
# and a file fleetscope-NAME.cmake that finds its packages, then loads its targets.
set_target_properties(fleetscope_urdf PROPERTIES EXPORT_NAME urdf)
set(FLEETSCOPE_COMPONENT_urdf fleetscope_urdf)
set(FLEETSCOPE_COMPONENTS urdf)
if(TARGET fleetscope_mujoco)
  set_target_properties(fleetscope_mujoco PROPERTIES EXPORT_NAME mujoco)
  set_target_properties(fleetscope_mujoco_c PROPERTIES EXPORT_NAME mujoco_c)
  set(FLEETSCOPE_COMPONENT_mujoco fleetscope_mujoco fleetscope_mujoco_c)
  list(APPEND FLEETSCOPE_COMPONENTS mujoco)
endif()

# A consumer links the static libraries' dependencies too, so the package must define the
# imported ones: the find_package arguments of each (fleetscope_find_<target>), and code to run
# after it (fleetscope_then_<target>), for those the libraries link now. A new one needs a line
# here (the warning says which; the sdk test fails without it). MuJoCo: the very version built
# with, as mjModel and mjData are read field by field.
set(fleetscope_find_Threads::Threads Threads)
set(fleetscope_find_ZLIB::ZLIB ZLIB)
set(fleetscope_find_PkgConfig::ZSTD PkgConfig)
set(fleetscope_then_PkgConfig::ZSTD "pkg_check_modules(ZSTD REQUIRED QUIET IMPORTED_TARGET libzstd)")
set(fleetscope_find_urdfdom::urdfdom_model urdfdom)
set(fleetscope_find_assimp::assimp assimp)
set(fleetscope_find_Eigen3::Eigen Eigen3 3.3 NO_MODULE)
set(fleetscope_find_mujoco::mujoco mujoco ${FLEETSCOPE_MUJOCO_VERSION} EXACT)
# Sets `out` to the lines that find what `libraries` link, each line `command(ARGS)`.
function(fleetscope_package_dependencies out command)
  set(lines "")
  foreach(library IN LISTS ARGN)
    get_target_property(links ${library} LINK_LIBRARIES)
    foreach(link IN LISTS links)
      if(NOT link MATCHES "::" OR link MATCHES "^\\$<BUILD_INTERFACE:")
        continue()  # one of ours (in this package), a library linked by name, or the build tree's
      elseif(DEFINED fleetscope_find_${link})
        list(JOIN fleetscope_find_${link} " " arguments)
        list(APPEND lines "${command}(${arguments})")
        if(DEFINED fleetscope_then_${link})
          list(APPEND lines "${fleetscope_then_${link}}")
        endif()
      else()
        message(WARNING "cmake/FleetscopeInstall.cmake: how does an SDK consumer find ${link} (linked by ${library})?")
      endif()
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES lines)
  list(JOIN lines "\n" lines)
  set(${out} "${lines}" PARENT_SCOPE)
endfunction()

set(FLEETSCOPE_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/fleetscope)
fleetscope_package_dependencies(FLEETSCOPE_CONFIG_DEPENDENCIES find_dependency fleetscope_ipc fleetscope_bridge)
install(EXPORT fleetscopeTargets NAMESPACE fleetscope:: DESTINATION ${FLEETSCOPE_INSTALL_CMAKEDIR})
foreach(component IN LISTS FLEETSCOPE_COMPONENTS)
  install(TARGETS ${FLEETSCOPE_COMPONENT_${component}} EXPORT fleetscope-${component}-targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT fleetscope-${component}-targets NAMESPACE fleetscope:: DESTINATION ${FLEETSCOPE_INSTALL_CMAKEDIR})
  set(FLEETSCOPE_COMPONENT ${component})
  fleetscope_package_dependencies(FLEETSCOPE_COMPONENT_DEPENDENCIES fleetscope_component_dependency
    ${FLEETSCOPE_COMPONENT_${component}})
  configure_file(${CMAKE_CURRENT_LIST_DIR}/fleetscope-component.cmake.in
    ${PROJECT_BINARY_DIR}/fleetscope-${component}.cmake @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/fleetscope-${component}.cmake DESTINATION ${FLEETSCOPE_INSTALL_CMAKEDIR})
endforeach()
list(JOIN FLEETSCOPE_COMPONENTS ", " FLEETSCOPE_COMPONENT_NAMES)
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

# The pkg-config files (fleetscope.pc: the C ABI; fleetscope-mujoco.pc: the MuJoCo C ABI, when
# built) and the Python package's link to the library are written at install time:
# `cmake --install --prefix` may name another prefix than the configured one.
set(FLEETSCOPE_PKGCONFIG_FILES fleetscope)
if(TARGET fleetscope_mujoco_c)
  list(APPEND FLEETSCOPE_PKGCONFIG_FILES fleetscope-mujoco)
endif()
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
  set(mujoco_VERSION "@FLEETSCOPE_MUJOCO_VERSION@")
  foreach(pc IN ITEMS @FLEETSCOPE_PKGCONFIG_FILES@)
    set(pc_file "$ENV{DESTDIR}${libdir}/pkgconfig/${pc}.pc")
    message(STATUS "Installing: ${pc_file}")
    configure_file("@CMAKE_CURRENT_LIST_DIR@/${pc}.pc.in" "${pc_file}" @ONLY)
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${pc_file}")
  endforeach()
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
