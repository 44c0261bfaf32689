// CUDA LayerNorm / RMSNorm (see norm.h for the API).
//
// Math: LayerNorm xhat = (x - mean) * rstd, y = xhat * w + b, rstd = 1 / sqrt(var + eps);
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * w;
//   dw += sum_rows dy * xhat, db += sum_rows dy.
// RMSNorm xhat = x * rstd, rstd = 1 / sqrt(mean(x^2) + eps), y = xhat * w;
//   dx = rstd * (g - xhat * mean(g * xhat)), dw += sum_rows dy * xhat.
// Trick: one warp per row (4 rows per 128-thread block), statistics by warp shuffles; the
//   variance is a second pass over the row (L1/L2-resident) around the mean, which avoids the
//   cancellation of E[x^2] - E[x]^2. Parameter gradients are a separate column kernel: 32
//   columns per block, 8 row-lanes summing strided rows, combined in a fixed order, so dw/db are
//   deterministic without atomics.
// Gradients: dx `=` (or `+=` with accumulate_dx), dweight/dbias `+=`.
// Speed: not yet measured (no GPU lent).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/norm.h"

namespace anvil::kernels::cuda {

namespace {
constexpr int kRowsPerBlock = 4;
constexpr int kNormThreads = kRowsPerBlock * kWarpSize;
constexpr int kColTile = 32, kRowLanes = 8;  // parameter-gradient kernel block (32, 8)

// Forward for one row per warp.
template <typename T, bool Rms>
__global__ void __launch_bounds__(kNormThreads) norm_forward_kernel(const T* x, const T* weight, const T* bias, T* y,
                                                                    float* mean_out, float* rstd_out, int64_t rows,
                                                                    int64_t cols, float eps) {
  const int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  if (row >= rows) return;
  const T* in = x + row * cols;
  float mean = 0.0f;
  if constexpr (!Rms) {
    float sum = 0.0f;
    for (int64_t c = lane; c < cols; c += kWarpSize) sum += load(in, c);
    mean = warp_sum(sum) / float(cols);
  }
  float sq = 0.0f;
  for (int64_t c = lane; c < cols; c += kWarpSize) {
    const float d = load(in, c) - mean;
    sq += d * d;
  }
  const float rstd = rsqrtf(warp_sum(sq) / float(cols) + eps);
  T* out = y + row * cols;
  for (int64_t c = lane; c < cols; c += kWarpSize) {
    float v = (load(in, c) - mean) * rstd * load(weight, c);
    if (!Rms && bias != nullptr) v += load(bias, c);
    out[c] = from_f32<T>(v);
  }
  if (lane == 0) {
    if (!Rms) mean_out[row] = mean;
    rstd_out[row] = rstd;
  }
}

template <typename T, bool Rms>
__global__ void __launch_bounds__(kNormThreads) norm_backward_dx_kernel(const T* dy, const T* x, const T* weight,
                                                                        const float* mean, const float* rstd, T* dx,
                                                                        int64_t rows, int64_t cols,
                                                                        bool accumulate) {
  const int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  if (row >= rows) return;
  const T* g_row = dy + row * cols;
  const T* x_row = x + row * cols;
  const float mu = Rms ? 0.0f : mean[row], rs = rstd[row];
  float sum_g = 0.0f, sum_gx = 0.0f;
  for (int64_t c = lane; c < cols; c += kWarpSize) {
    const float g = load(g_row, c) * load(weight, c);
    sum_g += g;
    sum_gx += g * (load(x_row, c) - mu) * rs;
  }
  const float mean_g = Rms ? 0.0f : warp_sum(sum_g) / float(cols);
  const float mean_gx = warp_sum(sum_gx) / float(cols);
  T* out = dx + row * cols;
  for (int64_t c = lane; c < cols; c += kWarpSize) {
    const float g = load(g_row, c) * load(weight, c);
    const float xhat = (load(x_row, c) - mu) * rs;
    float v = rs * (g - mean_g - xhat * mean_gx);
    if (accumulate) v += load(out, c);
    out[c] = from_f32<T>(v);
  }
}

// dweight[c] += sum_r dy[r, c] * xhat[r, c]; dbias[c] += sum_r dy[r, c]. Block (32, 8).
template <typename T, bool Rms>
__global__ void norm_backward_params_kernel(const T* dy, const T* x, const float* mean, const float* rstd,
                                            float* dweight, float* dbias, int64_t rows, int64_t cols) {
  __shared__ float sw[kRowLanes][kColTile + 1];
  __shared__ float sb[kRowLanes][kColTile + 1];
  const int64_t c = int64_t(blockIdx.x) * kColTile + threadIdx.x;
  float acc_w = 0.0f, acc_b = 0.0f;
  if (c < cols) {
    for (int64_t r = threadIdx.y; r < rows; r += kRowLanes) {
      const float g = load(dy, r * cols + c);
      const float xhat = (load(x, r * cols + c) - (Rms ? 0.0f : mean[r])) * rstd[r];
      acc_w += g * xhat;
      acc_b += g;
    }
  }
  sw[threadIdx.y][threadIdx.x] = acc_w;
  sb[threadIdx.y][threadIdx.x] = acc_b;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    float w = 0.0f, b = 0.0f;
#pragma unroll
    for (int i = 0; i < kRowLanes; ++i) {
      w += sw[i][threadIdx.x];
      b += sb[i][threadIdx.x];
    }
    if (dweight) dweight[c] += w;
    if (dbias) dbias[c] += b;
  }
}

void check_sizes(int64_t rows, int64_t cols, const char* op) {
  ANVIL_CHECK_OP(rows >= 0 && cols > 0, "[", op, "] bad sizes rows=", rows, " cols=", cols);
}

template <bool Rms>
void forward(DType dtype, const void* x, const void* weight, const void* bias, void* y, float* mean, float* rstd,
             int64_t rows, int64_t cols, float eps, void* stream, const char* op) {
  check_sizes(rows, cols, op);
  ANVIL_CHECK_OP(Rms || mean != nullptr, "[", op, "] missing mean output");
  ANVIL_CHECK_OP(rstd != nullptr && weight != nullptr, "[", op, "] missing weight or rstd");
  if (rows == 0) return;
  cudaStream_t s = resolve_stream(stream);
  dispatch_float(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    ANVIL_LAUNCH((norm_forward_kernel<T, Rms>), grid_for(rows, kRowsPerBlock, INT32_MAX), kNormThreads, 0, s,
                 static_cast<const T*>(x), static_cast<const T*>(weight), static_cast<const T*>(bias),
                 static_cast<T*>(y), mean, rstd, rows, cols, eps);
  });
}

template <bool Rms>
void backward(DType dtype, const void* dy, const void* x, const void* weight, const float* mean, const float* rstd,
              void* dx, float* dweight, float* dbias, int64_t rows, int64_t cols, bool accumulate_dx, void* stream,
              const char* op) {
  check_sizes(rows, cols, op);
  if (rows == 0) return;
  cudaStream_t s = resolve_stream(stream);
  dispatch_float(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    if (dx != nullptr) {
      ANVIL_LAUNCH((norm_backward_dx_kernel<T, Rms>), grid_for(rows, kRowsPerBlock, INT32_MAX), kNormThreads, 0, s,
                   static_cast<const T*>(dy), static_cast<const T*>(x), static_cast<const T*>(weight), mean, rstd,
                   static_cast<T*>(dx), rows, cols, accumulate_dx);
    }
    if (dweight != nullptr || dbias != nullptr) {
      ANVIL_LAUNCH((norm_backward_params_kernel<T, Rms>), unsigned((cols + kColTile - 1) / kColTile),
                   dim3(kColTile, kRowLanes), 0, s, static_cast<const T*>(dy), static_cast<const T*>(x), mean, rstd,
                   dweight, dbias, rows, cols);
    }
  });
}
}  // namespace

void layernorm_forward(DType dtype, const void* x, const void* weight, const void* bias, void* y, float* mean,
                       float* rstd, int64_t rows, int64_t cols, float eps, void* stream) {
  forward<false>(dtype, x, weight, bias, y, mean, rstd, rows, cols, eps, stream, "layernorm");
}
void layernorm_backward(DType dtype, const void* dy, const void* x, const void* weight, const float* mean,
                        const float* rstd, void* dx, float* dweight, float* dbias, int64_t rows, int64_t cols,
                        bool accumulate_dx, void* stream) {
  backward<false>(dtype, dy, x, weight, mean, rstd, dx, dweight, dbias, rows, cols, accumulate_dx, stream,
                  "layernorm_backward");
}
void rmsnorm_forward(DType dtype, const void* x, const void* weight, void* y, float* rstd, int64_t rows, int64_t cols,
                     float eps, void* stream) {
  forward<true>(dtype, x, weight, nullptr, y, nullptr, rstd, rows, cols, eps, stream, "rmsnorm");
}
void rmsnorm_backward(DType dtype, const void* dy, const void* x, const void* weight, const float* rstd, void* dx,
                      float* dweight, int64_t rows, int64_t cols, bool accumulate_dx, void* stream) {
  backward<true>(dtype, dy, x, weight, nullptr, rstd, dx, dweight, nullptr, rows, cols, accumulate_dx, stream,
                 "rmsnorm_backward");
}

}  // namespace anvil::kernels::cuda
