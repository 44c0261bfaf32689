// LayerNorm and RMSNorm CPU kernels. Rows are independent, so forward and dx run one row per
// iteration of a parallel loop; the inner loops over C are contiguous and vectorize. The parameter
// gradients are column sums over rows: computed in column chunks (each thread owns a chunk and
// walks all rows), so no thread-private buffers or atomics are needed.
//
// Backward math, with xhat the normalized row and gh = grad_out * weight:
//   LayerNorm: dx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat))
//   RMSNorm:   dx = rstd * (gh - xhat * mean(gh * xhat))
#include "kernels/cpu/norm.h"

#include <algorithm>
#include <cmath>

namespace anvil::kernels::cpu {

namespace {

// Rows below this many elements in total run single-threaded (thread start-up would dominate).
constexpr int64_t kParallelMinElements = 16384;
// Columns per chunk in the column-sum pass: the accumulators stay in L1.
constexpr int64_t kColumnChunk = 256;

// dweight[c] = sum_n grad_out[n, c] * xhat[n, c] and dbias[c] = sum_n grad_out[n, c], where
// xhat = (x - center[n]) * rstd[n] (center null means 0). Either output may be null.
void column_grads(const float* grad_out, const float* x, const float* center, const float* rstd, int64_t N,
                  int64_t C, float* dweight, float* dbias) {
  if (!dweight && !dbias) return;
  const int64_t nchunks = (C + kColumnChunk - 1) / kColumnChunk;
#pragma omp parallel for schedule(static) if (N * C > kParallelMinElements)
  for (int64_t chunk = 0; chunk < nchunks; ++chunk) {
    const int64_t c0 = chunk * kColumnChunk, c1 = std::min(C, c0 + kColumnChunk);
    double acc_w[kColumnChunk] = {}, acc_b[kColumnChunk] = {};
    for (int64_t n = 0; n < N; ++n) {
      const float* g = grad_out + n * C;
      const float* xr = x + n * C;
      const float mu = center ? center[n] : 0.0f, r = rstd[n];
      for (int64_t c = c0; c < c1; ++c) {
        acc_w[c - c0] += double(g[c] * ((xr[c] - mu) * r));
        acc_b[c - c0] += double(g[c]);
      }
    }
    for (int64_t c = c0; c < c1; ++c) {
      if (dweight) dweight[c] += float(acc_w[c - c0]);  // accumulate, as the CUDA kernel does
      if (dbias) dbias[c] += float(acc_b[c - c0]);
    }
  }
}

}  // namespace

void layer_norm_forward_f32(const float* x, const float* weight, const float* bias, int64_t N, int64_t C, float eps,
                            float* out, float* mean, float* rstd) {
#pragma omp parallel for schedule(static) if (N * C > kParallelMinElements)
  for (int64_t n = 0; n < N; ++n) {
    const float* xr = x + n * C;
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += xr[c];
    const double mu = s / double(C);
    // Two-pass variance: no cancellation when |mean| >> std.
    double ss = 0;
    for (int64_t c = 0; c < C; ++c) {
      const double d = double(xr[c]) - mu;
      ss += d * d;
    }
    const float m = float(mu);
    const float r = float(1.0 / std::sqrt(ss / double(C) + double(eps)));
    mean[n] = m;
    rstd[n] = r;
    float* o = out + n * C;
    for (int64_t c = 0; c < C; ++c) {
      float v = (xr[c] - m) * r;
      if (weight) v *= weight[c];
      if (bias) v += bias[c];
      o[c] = v;
    }
  }
}

void layer_norm_backward_f32(const float* grad_out, const float* x, const float* weight, const float* mean,
                             const float* rstd, int64_t N, int64_t C, float* dx, float* dweight, float* dbias) {
  if (dx) {
#pragma omp parallel for schedule(static) if (N * C > kParallelMinElements)
    for (int64_t n = 0; n < N; ++n) {
      const float* g = grad_out + n * C;
      const float* xr = x + n * C;
      const float m = mean[n], r = rstd[n];
      double sum_gh = 0, sum_gh_xhat = 0;
      for (int64_t c = 0; c < C; ++c) {
        const float gh = weight ? g[c] * weight[c] : g[c];
        sum_gh += gh;
        sum_gh_xhat += double(gh) * ((xr[c] - m) * r);
      }
      const float mean_gh = float(sum_gh / double(C)), mean_gh_xhat = float(sum_gh_xhat / double(C));
      float* d = dx + n * C;
      for (int64_t c = 0; c < C; ++c) {
        const float gh = weight ? g[c] * weight[c] : g[c];
        const float xhat = (xr[c] - m) * r;
        d[c] = r * (gh - mean_gh - xhat * mean_gh_xhat);
      }
    }
  }
  column_grads(grad_out, x, mean, rstd, N, C, dweight, dbias);
}

void rms_norm_forward_f32(const float* x, const float* weight, int64_t N, int64_t C, float eps, float* out,
                          float* rstd) {
#pragma omp parallel for schedule(static) if (N * C > kParallelMinElements)
  for (int64_t n = 0; n < N; ++n) {
    const float* xr = x + n * C;
    double ss = 0;
    for (int64_t c = 0; c < C; ++c) ss += double(xr[c]) * xr[c];
    const float r = float(1.0 / std::sqrt(ss / double(C) + double(eps)));
    rstd[n] = r;
    float* o = out + n * C;
    for (int64_t c = 0; c < C; ++c) o[c] = weight ? (xr[c] * r) * weight[c] : xr[c] * r;
  }
}

void rms_norm_backward_f32(const float* grad_out, const float* x, const float* weight, const float* rstd, int64_t N,
                           int64_t C, float* dx, float* dweight) {
  if (dx) {
#pragma omp parallel for schedule(static) if (N * C > kParallelMinElements)
    for (int64_t n = 0; n < N; ++n) {
      const float* g = grad_out + n * C;
      const float* xr = x + n * C;
      const float r = rstd[n];
      double sum_gh_xhat = 0;
      for (int64_t c = 0; c < C; ++c) {
        const float gh = weight ? g[c] * weight[c] : g[c];
        sum_gh_xhat += double(gh) * (xr[c] * r);
      }
      const float mean_gh_xhat = float(sum_gh_xhat / double(C));
      float* d = dx + n * C;
      for (int64_t c = 0; c < C; ++c) {
        const float gh = weight ? g[c] * weight[c] : g[c];
        d[c] = r * (gh - (xr[c] * r) * mean_gh_xhat);
      }
    }
  }
  column_grads(grad_out, x, /*center=*/nullptr, rstd, N, C, dweight, /*dbias=*/nullptr);
}

}  // namespace anvil::kernels::cpu
