#!/usr/bin/env bash
# The test command (README, .ci/run): configure, build everything (CUDA kernels too when nvcc is
# found, even without a GPU), run every CTest test. GPU-labelled tests skip when no GPU is present.
# Then the same CUDA sources once more as the CPU emulation build (-DANVIL_CUDA=EMULATE, folder
# <build>-emu; docs/EMULATOR.md), where every gpu test runs for real, with the emulator's self-test
# and NCCL data parallelism under mpiexec (CTest label emu). ANVIL_SKIP_EMULATOR=1 leaves it out.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
tools/install-deps.sh
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release ${ANVIL_CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j "$(nproc)"
cd "$BUILD_DIR"
ctest --output-on-failure -j "$(nproc)" --timeout 900 "$@"

if [ "${ANVIL_SKIP_EMULATOR:-0}" != 1 ]; then
  cd - > /dev/null
  EMU_DIR="${BUILD_DIR}-emu"
  cmake -S . -B "$EMU_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DANVIL_CUDA=EMULATE -DANVIL_BUILD_BENCH=OFF \
    ${ANVIL_CMAKE_ARGS:-}
  cmake --build "$EMU_DIR" -j "$(nproc)"
  cd "$EMU_DIR"
  ctest --output-on-failure -j "$(nproc)" --timeout 900 -L emu
fi
