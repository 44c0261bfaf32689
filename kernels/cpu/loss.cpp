// Cross-entropy kernels. Forward keeps one float per row (the log-sum-exp) so backward can
// rebuild softmax = exp(logit - lse) without storing (N, V) probabilities. Row sums run in double
// after a max shift, so large logits neither overflow nor lose the small terms.
#include "kernels/cpu/loss.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace anvil::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 16384;  // elements; smaller problems run on one thread
}

void cross_entropy_forward_f32(const float* logits, const int64_t* targets, int64_t N, int64_t V,
                               int64_t ignore_index, float* lse, float* loss_rows) {
#pragma omp parallel for if (N * V > kParallelMin)
  for (int64_t r = 0; r < N; ++r) {
    const float* row = logits + r * V;  // (V)
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < V; ++j) mx = std::max(mx, row[j]);
    double total = 0;
    for (int64_t j = 0; j < V; ++j) total += std::exp(row[j] - mx);  // f32 exp (vectorizes), double sum
    const double row_lse = double(mx) + std::log(total);
    lse[r] = float(row_lse);
    const int64_t t = targets[r];
    loss_rows[r] = t == ignore_index ? 0.0f : float(row_lse - row[t]);
  }
}

void cross_entropy_backward_f32(const float* logits, const int64_t* targets, const float* lse, int64_t N,
                                int64_t V, int64_t ignore_index, float scale, float* grad_logits) {
#pragma omp parallel for if (N * V > kParallelMin)
  for (int64_t r = 0; r < N; ++r) {
    const float* row = logits + r * V;  // (V)
    float* grow = grad_logits + r * V;  // (V)
    const int64_t t = targets[r];
    if (t == ignore_index) {
      std::fill(grow, grow + V, 0.0f);
      continue;
    }
    const float shift = lse[r];
    for (int64_t j = 0; j < V; ++j) grow[j] = std::exp(row[j] - shift) * scale;
    grow[t] -= scale;
  }
}

}  // namespace anvil::kernels::cpu
