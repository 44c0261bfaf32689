#include "kernels/cpu/reduce.h"

#include <omp.h>

#include <algorithm>
#include <vector>

namespace anvil::kernels::cpu {

void sum_dim_f32(const float* in, int64_t outer, int64_t n, int64_t inner, float* out) {
  if (inner == 1) {
#pragma omp parallel for if (outer * n > 32768)
    for (int64_t o = 0; o < outer; ++o) {
      double acc = 0;
      const float* p = in + o * n;
      for (int64_t k = 0; k < n; ++k) acc += p[k];
      out[o] = float(acc);
    }
    return;
  }
  // Rows of `inner` contiguous values: accumulate row by row into a double buffer per outer index.
  // Parallel over chunks of inner so every thread streams through memory.
  const int64_t chunk = 256;
  const int64_t nchunks = (inner + chunk - 1) / chunk;
#pragma omp parallel for collapse(2) if (outer * n * inner > 32768)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < nchunks; ++c) {
      const int64_t i0 = c * chunk, i1 = std::min(inner, i0 + chunk);
      double acc[chunk];
      for (int64_t i = i0; i < i1; ++i) acc[i - i0] = 0;
      for (int64_t k = 0; k < n; ++k) {
        const float* p = in + (o * n + k) * inner;
        for (int64_t i = i0; i < i1; ++i) acc[i - i0] += p[i];
      }
      for (int64_t i = i0; i < i1; ++i) out[o * inner + i] = float(acc[i - i0]);
    }
  }
}

void max_dim_f32(const float* in, int64_t outer, int64_t n, int64_t inner, float* out, int64_t* argmax) {
#pragma omp parallel for collapse(2) if (outer * n * inner > 32768)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      float best = in[o * n * inner + i];
      int64_t bi = 0;
      for (int64_t k = 1; k < n; ++k) {
        float v = in[(o * n + k) * inner + i];
        if (v > best) {
          best = v;
          bi = k;
        }
      }
      out[o * inner + i] = best;
      argmax[o * inner + i] = bi;
    }
  }
}

void max_dim_backward_f32(const float* grad_out, const int64_t* argmax, int64_t outer, int64_t n, int64_t inner,
                          float* grad_in) {
  std::fill(grad_in, grad_in + outer * n * inner, 0.0f);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i)
      grad_in[(o * n + argmax[o * inner + i]) * inner + i] = grad_out[o * inner + i];
}

}  // namespace anvil::kernels::cpu
