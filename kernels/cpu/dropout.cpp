// Dropout kernel: each element regenerates its own Philox word, so the loop parallelizes with no
// shared state and the forward mask need never be stored.
#include "kernels/cpu/dropout.h"

#include "core/base/rng.h"

namespace anvil::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 16384;  // elements; smaller problems run on one thread
}

void dropout_apply_f32(const float* in, float* out, int64_t n, float p, uint64_t seed, uint64_t offset) {
  const float keep_scale = 1.0f / (1.0f - p);
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const bool dropped = Philox4x32::uniform(seed, offset + uint64_t(i)) < p;
    out[i] = dropped ? 0.0f : in[i] * keep_scale;
  }
}

}  // namespace anvil::kernels::cpu
