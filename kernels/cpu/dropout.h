// Dropout with a counter-based mask: element i is dropped iff Philox4x32::uniform(seed, offset + i)
// < p, so the mask is a pure function of (seed, offset, i) and CPU and CUDA draw the same one.
#pragma once

#include <cstdint>

namespace anvil::kernels::cpu {

// out (n) = 0 where dropped, in * 1/(1-p) elsewhere   (=; out may equal in). Backward is the same call on the gradient
// with the same (seed, offset): the mask is regenerated instead of stored.
void dropout_apply_f32(const float* in, float* out, int64_t n, float p, uint64_t seed, uint64_t offset);

}  // namespace anvil::kernels::cpu
