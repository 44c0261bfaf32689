# Dependencies come from Debian's packages, found with find_package; nothing is vendored.
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 QUIET CONFIG)
if(NOT CLI11_FOUND)
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  target_include_directories(CLI11::CLI11 INTERFACE ${CLI11_INCLUDE_DIR})
endif()
if(ANVIL_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
# MPI is optional: the MPI communicator is built when it is found.
find_package(MPI QUIET COMPONENTS CXX)
# NCCL is optional: the NCCL communicator is built when it is found and the CUDA kernels are on
# (distributed/CMakeLists.txt). CUDA installs ship their own copy under the toolkit's include and
# lib folders, which FindNCCL searches once the toolkit is known.
if(NOT ANVIL_CUDA STREQUAL "OFF" AND NOT ANVIL_CUDA STREQUAL "EMULATE")
  find_package(CUDAToolkit QUIET)
  if(CUDAToolkit_FOUND)
    find_package(NCCL QUIET)
  endif()
endif()
# yaml-cpp's exported target name differs between versions.
if(TARGET yaml-cpp::yaml-cpp)
  set(ANVIL_YAML_TARGET yaml-cpp::yaml-cpp)
else()
  set(ANVIL_YAML_TARGET yaml-cpp)
endif()
