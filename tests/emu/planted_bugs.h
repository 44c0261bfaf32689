// The emulator self-test's kernels (planted_bugs.cu), behind plain C++ functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace anvil::emutest {

// Runs the named case; returns the error it raised ("" when it ran clean). Clears the sticky error after.
std::string run_case(const std::string& name);
// 128 floats copied into shared memory (initially -1) by cp.async, read with or without waiting.
std::vector<float> async_copy_result(bool wait);
// D = A (16 x 16) * B (16 x 8) + 1 by one mma.sync, A's fragments from the ISA layout or ldmatrix.
std::vector<float> mma_result(bool use_ldmatrix, const std::vector<float>& A, const std::vector<float>& B);
// The order in which the 256 threads of one block reached an atomicAdd under `seed`.
std::vector<int> arrival_order_for_seed(uint64_t seed);

}  // namespace anvil::emutest
