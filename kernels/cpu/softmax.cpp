// Softmax kernels. Numerically stable: every row is shifted by its max before exp, and the sums
// run in double. The last-dim path walks contiguous rows; the strided path (softmax over a middle
// dim) walks n with stride `inner` for each (outer, inner) column, parallel over columns.
#include "kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace anvil::kernels::cpu {

namespace {

constexpr int64_t kParallelMin = 16384;  // elements; smaller problems run on one thread

// One row of n values at stride s: softmax or log_softmax into out (same stride). kUnit fixes the
// stride at 1 at compile time: the last-dim fast path, which the compiler vectorizes.
template <bool kUnit>
inline void softmax_row(const float* in, float* out, int64_t n, int64_t stride, bool log) {
  const int64_t s = kUnit ? 1 : stride;
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t k = 0; k < n; ++k) mx = std::max(mx, in[k * s]);
  // A row holding an infinity has no finite max; shifting by 0 instead avoids inf - inf. (An
  // all -inf row still gives NaN softmax, as in PyTorch: callers mask at least one entry in.)
  if (!std::isfinite(mx)) mx = 0.0f;
  double total = 0;  // f32 exp (vectorizes), double sum
  if (log) {
    for (int64_t k = 0; k < n; ++k) total += std::exp(in[k * s] - mx);
    // (x - max) - log(sum) rather than x - (max + log(sum)): the shifted value is exact, so large
    // logits keep their small differences.
    const float log_total = float(std::log(total));
    for (int64_t k = 0; k < n; ++k) out[k * s] = (in[k * s] - mx) - log_total;
  } else {
    for (int64_t k = 0; k < n; ++k) {
      out[k * s] = std::exp(in[k * s] - mx);
      total += out[k * s];
    }
    const float inv = float(1.0 / total);
    for (int64_t k = 0; k < n; ++k) out[k * s] *= inv;
  }
}

template <bool kUnit>
inline void softmax_backward_row(const float* y, const float* g, float* gi, int64_t n, int64_t stride, bool log) {
  const int64_t s = kUnit ? 1 : stride;
  double dot = 0;
  if (log) {
    for (int64_t k = 0; k < n; ++k) dot += g[k * s];
    for (int64_t k = 0; k < n; ++k) gi[k * s] = g[k * s] - std::exp(y[k * s]) * float(dot);
  } else {
    for (int64_t k = 0; k < n; ++k) dot += double(g[k * s]) * y[k * s];
    for (int64_t k = 0; k < n; ++k) gi[k * s] = y[k * s] * (g[k * s] - float(dot));
  }
}

}  // namespace

void softmax_forward_f32(const float* in, float* out, int64_t outer, int64_t n, int64_t inner, bool log) {
  if (inner == 1) {
#pragma omp parallel for if (outer * n > kParallelMin)
    for (int64_t o = 0; o < outer; ++o) softmax_row<true>(in + o * n, out + o * n, n, 1, log);
    return;
  }
  const int64_t columns = outer * inner;
#pragma omp parallel for if (columns * n > kParallelMin)
  for (int64_t c = 0; c < columns; ++c) {
    const int64_t o = c / inner, i = c % inner;
    const int64_t base = o * n * inner + i;
    softmax_row<false>(in + base, out + base, n, inner, log);
  }
}

void softmax_backward_f32(const float* y, const float* grad_out, float* grad_in, int64_t outer, int64_t n,
                          int64_t inner, bool log) {
  if (inner == 1) {
#pragma omp parallel for if (outer * n > kParallelMin)
    for (int64_t o = 0; o < outer; ++o)
      softmax_backward_row<true>(y + o * n, grad_out + o * n, grad_in + o * n, n, 1, log);
    return;
  }
  const int64_t columns = outer * inner;
#pragma omp parallel for if (columns * n > kParallelMin)
  for (int64_t c = 0; c < columns; ++c) {
    const int64_t o = c / inner, i = c % inner;
    const int64_t base = o * n * inner + i;
    softmax_backward_row<false>(y + base, grad_out + base, grad_in + base, n, inner, log);
  }
}

}  // namespace anvil::kernels::cpu
