# MuJoCo: the publisher for simulations that embed MuJoCo (C++ library fleetscope_mujoco, C ABI
# libfleetscope_mujoco.so) and the program fleetscope-mujoco. Included by sim_bridge/CMakeLists.txt.
set(FLEETSCOPE_MUJOCO AUTO CACHE STRING "Build the MuJoCo publisher: ON, OFF or AUTO (when MuJoCo is found)")
set_property(CACHE FLEETSCOPE_MUJOCO PROPERTY STRINGS ON OFF AUTO)
if(FLEETSCOPE_MUJOCO STREQUAL "OFF")
  return()
elseif(FLEETSCOPE_MUJOCO STREQUAL "ON")
  find_package(mujoco 2.2 REQUIRED)
else()
  find_package(mujoco 2.2 QUIET)
  if(NOT mujoco_FOUND)
    message(STATUS "fleetscope: MuJoCo not found (libmujoco-dev); the MuJoCo publisher is not built")
    return()
  endif()
endif()

# The installed CMake package asks for this very version (cmake/FleetscopeInstall.cmake).
set(FLEETSCOPE_MUJOCO_VERSION ${mujoco_VERSION} CACHE INTERNAL "The MuJoCo version fleetscope_mujoco is built with")

# C++ (static, like fleetscope_bridge): MujocoPublisher.
add_library(fleetscope_mujoco STATIC src/mujoco_publisher.cpp)
set_target_properties(fleetscope_mujoco PROPERTIES OUTPUT_NAME fleetscope_mujoco_bridge)
target_include_directories(fleetscope_mujoco PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>)
target_link_libraries(fleetscope_mujoco PUBLIC fleetscope_bridge mujoco::mujoco)

# C ABI (shared, libfleetscope_mujoco.so; exports only fs_mujoco_*), as libfleetscope.so does.
add_library(fleetscope_mujoco_c SHARED src/c_api_mujoco.cpp)
target_include_directories(fleetscope_mujoco_c PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>)
target_link_libraries(fleetscope_mujoco_c PRIVATE fleetscope_mujoco)
set_target_properties(fleetscope_mujoco_c PROPERTIES OUTPUT_NAME fleetscope_mujoco VERSION ${PROJECT_VERSION} SOVERSION 1)
set(FLEETSCOPE_MUJOCO_VERSION_SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/src/fleetscope_mujoco.map)
target_link_options(fleetscope_mujoco_c PRIVATE "LINKER:--version-script=${FLEETSCOPE_MUJOCO_VERSION_SCRIPT}")
set_property(TARGET fleetscope_mujoco_c APPEND PROPERTY LINK_DEPENDS ${FLEETSCOPE_MUJOCO_VERSION_SCRIPT})

add_executable(fleetscope-mujoco programs/fleetscope_mujoco.cpp)
target_link_libraries(fleetscope-mujoco PRIVATE fleetscope_mujoco Boost::program_options)

# The benchmark scene, 100 humanoids (600 kB of XML): generated, not committed.
find_program(FLEETSCOPE_MUJOCO_PYTHON3 NAMES python3)
if(FLEETSCOPE_MUJOCO_PYTHON3)
  set(FLEETSCOPE_HUMANOID100 ${PROJECT_BINARY_DIR}/resources/mujoco/humanoid100.xml CACHE INTERNAL "")
  add_custom_command(OUTPUT ${FLEETSCOPE_HUMANOID100}
    COMMAND ${FLEETSCOPE_MUJOCO_PYTHON3} ${PROJECT_SOURCE_DIR}/resources/mujoco/make_resources.py humanoids ${FLEETSCOPE_HUMANOID100}
    DEPENDS ${PROJECT_SOURCE_DIR}/resources/mujoco/make_resources.py
    COMMENT "Writing the 100-humanoid MuJoCo scene")
  add_custom_target(fleetscope_mujoco_scenes ALL DEPENDS ${FLEETSCOPE_HUMANOID100})
endif()
