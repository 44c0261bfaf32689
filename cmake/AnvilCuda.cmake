# CUDA is optional. With ANVIL_CUDA=AUTO it is enabled when nvcc is found; the kernels then compile
# even on a machine without a GPU (CI), and GPU tests skip at run time.
set(ANVIL_HAS_CUDA OFF)
set(ANVIL_CUDA_EMULATE OFF)
if(ANVIL_CUDA STREQUAL "EMULATE")
  # The CUDA code paths are compiled in (ANVIL_HAS_CUDA) but run on the CPU emulator: no nvcc, no
  # CUDA runtime, no GPU. The emulator's instrumentation is GCC's -fsanitize=thread.
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    message(FATAL_ERROR "ANVIL_CUDA=EMULATE needs GCC (its -fsanitize=thread instrumentation feeds the emulator's checks)")
  endif()
  if(ANVIL_SANITIZE)
    message(FATAL_ERROR "ANVIL_CUDA=EMULATE and ANVIL_SANITIZE cannot be combined (both instrument memory accesses)")
  endif()
  set(ANVIL_HAS_CUDA ON)
  set(ANVIL_CUDA_EMULATE ON)
  # How a .cu file compiles as emulated kernel code: every load and store instrumented (the hooks are
  # in kernels/emu/access_check.cpp); -fno-tree-sra keeps a float4 or uint4 access one 16-byte
  # access (split into floats, a misaligned vector load would pass the alignment check); nvcc's
  # silence on #pragma unroll and on signed/unsigned comparisons with threadIdx.
  set(ANVIL_EMULATED_KERNEL_FLAGS -fsanitize=thread --param=tsan-instrument-func-entry-exit=0 -fno-tree-sra
      -Wno-unknown-pragmas -Wno-sign-compare)
elseif(NOT ANVIL_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER)
    find_program(_anvil_nvcc nvcc PATHS /usr/local/cuda/bin)
    if(_anvil_nvcc)
      set(CMAKE_CUDA_COMPILER ${_anvil_nvcc})
    endif()
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    enable_language(CUDA)
    # CMake < 3.26 has no C++20 flag for nvcc and refuses CUDA_STANDARD 20; nvcc >= 12 takes -std=c++20.
    if(NOT DEFINED CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
      set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
      set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    endif()
    set(CMAKE_CUDA_STANDARD 20)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    set(ANVIL_HAS_CUDA ON)
  elseif(ANVIL_CUDA STREQUAL "ON")
    message(FATAL_ERROR "ANVIL_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()
message(STATUS "Anvil: CUDA kernels ${ANVIL_HAS_CUDA} (emulated on the CPU: ${ANVIL_CUDA_EMULATE})")
