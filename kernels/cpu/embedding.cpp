// Embedding kernels. Forward is a row gather with memcpy (no dtype conversion: a bf16 table gives
// bf16 rows). Backward scatter-adds in f32; repeated ids make a parallel-over-ids loop racy, so
// the parallel split is over column blocks and every block sums the ids in index order, which
// also makes the result bitwise reproducible whatever the thread count.
#include "kernels/cpu/embedding.h"

#include <algorithm>
#include <cstring>

namespace anvil::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 16384;   // elements; smaller problems run on one thread
constexpr int64_t kColumnBlock = 64;      // floats per block: a few cache lines per row touched
}  // namespace

void embedding_forward(const void* weight, int64_t elem_size, const int64_t* ids, int64_t n, int64_t C, void* out) {
  const auto* src = static_cast<const char*>(weight);
  auto* dst = static_cast<char*>(out);
  const int64_t row_bytes = C * elem_size;
#pragma omp parallel for if (n * C > kParallelMin)
  for (int64_t k = 0; k < n; ++k) std::memcpy(dst + k * row_bytes, src + ids[k] * row_bytes, size_t(row_bytes));
}

void embedding_backward_f32(const float* grad_out, const int64_t* ids, int64_t n, int64_t C, int64_t V,
                            float* grad_weight) {
  const int64_t blocks = (C + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for if (n * C > kParallelMin)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t c0 = b * kColumnBlock, c1 = std::min(C, c0 + kColumnBlock);
    for (int64_t k = 0; k < n; ++k) {
      const float* g = grad_out + k * C;    // (C)
      float* w = grad_weight + ids[k] * C;  // (C)
      for (int64_t c = c0; c < c1; ++c) w[c] += g[c];
    }
  }
}

}  // namespace anvil::kernels::cpu
