// CUDA softmax and fused softmax + cross-entropy (see softmax_ce.h for the API).
//
// Math: softmax y_j = exp(x_j - m) / S with m = max x, S = sum exp(x - m); backward
//   dx = y (dy - sum dy y). Cross-entropy per row: loss = (m + log S) - x_target, and
//   dlogits_j = scale * (y_j - [j == target]).
// Trick: one block per row; each thread keeps an online (max, sum) pair over its strided columns,
//   pairs combine by rescaling (warp shuffles, then one shared slot per warp), so max and sum take
//   a single read of the row; a second read writes the output. The fused kernel reads the target
//   logit before the first barrier, so overwriting the logits with dlogits in place is safe.
// Gradients: softmax dx `=`; dlogits replace the logits (`=`).
// Speed: not yet measured (no GPU lent).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/softmax_ce.h"

namespace anvil::kernels::cuda {

namespace {
constexpr int kRowThreads = 256;
constexpr int kRowWarps = kRowThreads / kWarpSize;

struct MaxSum {
  float m, s;
};
__device__ __forceinline__ MaxSum combine(MaxSum a, MaxSum b) {
  const float m = fmaxf(a.m, b.m);
  if (m == -INFINITY) return {m, 0.0f};
  return {m, a.s * __expf(a.m - m) + b.s * __expf(b.m - m)};
}
__device__ __forceinline__ MaxSum add_value(MaxSum a, float x) { return combine(a, MaxSum{x, 1.0f}); }

// Row (max, sum exp) over the block; every thread gets the result.
__device__ MaxSum block_max_sum(MaxSum v) {
  __shared__ MaxSum slots[kRowWarps];
#pragma unroll
  for (int o = kWarpSize / 2; o > 0; o >>= 1) {
    MaxSum other{__shfl_xor_sync(0xffffffffu, v.m, o), __shfl_xor_sync(0xffffffffu, v.s, o)};
    v = combine(v, other);
  }
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  if (lane == 0) slots[warp] = v;
  __syncthreads();
  MaxSum r{-INFINITY, 0.0f};
#pragma unroll
  for (int w = 0; w < kRowWarps; ++w) r = combine(r, slots[w]);  // same order in every thread
  return r;
}

template <typename T>
__device__ MaxSum row_max_sum(const T* row, int64_t cols) {
  MaxSum v{-INFINITY, 0.0f};
  for (int64_t c = threadIdx.x; c < cols; c += kRowThreads) v = add_value(v, load(row, c));
  return block_max_sum(v);
}

template <typename T>
__global__ void __launch_bounds__(kRowThreads) softmax_forward_kernel(const T* x, T* y, int64_t cols) {
  const T* in = x + int64_t(blockIdx.x) * cols;
  T* out = y + int64_t(blockIdx.x) * cols;
  const MaxSum ms = row_max_sum(in, cols);
  const float inv = 1.0f / ms.s;
  for (int64_t c = threadIdx.x; c < cols; c += kRowThreads) out[c] = from_f32<T>(__expf(load(in, c) - ms.m) * inv);
}

template <typename T>
__global__ void __launch_bounds__(kRowThreads) softmax_backward_kernel(const T* y, const T* dy, T* dx, int64_t cols) {
  __shared__ float scratch[kWarpSize];
  const int64_t base = int64_t(blockIdx.x) * cols;
  float dot = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += kRowThreads) dot += load(y, base + c) * load(dy, base + c);
  dot = block_sum(dot, scratch);
  for (int64_t c = threadIdx.x; c < cols; c += kRowThreads) {
    const float yc = load(y, base + c);
    dx[base + c] = from_f32<T>(yc * (load(dy, base + c) - dot));
  }
}

template <typename T>
__global__ void __launch_bounds__(kRowThreads) cross_entropy_kernel(T* logits, int64_t vocab, int64_t ld,
                                                                    const int64_t* targets, int64_t ignore_index,
                                                                    float* losses, bool write_dlogits, float scale,
                                                                    const float* dloss_per_row) {
  __shared__ float target_logit;
  const int64_t r = blockIdx.x;
  T* row = logits + r * ld;
  const int64_t target = targets[r];
  const bool ignored = target == ignore_index;
  const bool in_range = target >= 0 && target < vocab;
  if (threadIdx.x == 0) target_logit = (!ignored && in_range) ? load(row, target) : 0.0f;
  const MaxSum ms = row_max_sum(row, vocab);  // its barrier also publishes target_logit
  if (threadIdx.x == 0 && losses != nullptr) {
    losses[r] = ignored ? 0.0f : (in_range ? ms.m + __logf(ms.s) - target_logit : NAN);
  }
  if (!write_dlogits) return;
  const float row_scale = ignored ? 0.0f : scale * (dloss_per_row ? dloss_per_row[r] : 1.0f);
  const float inv = 1.0f / ms.s;
  for (int64_t c = threadIdx.x; c < ld; c += kRowThreads) {
    float g = 0.0f;
    if (c < vocab && !ignored) g = row_scale * (__expf(load(row, c) - ms.m) * inv - (c == target ? 1.0f : 0.0f));
    row[c] = from_f32<T>(g);
  }
}

void check_rows(int64_t rows, int64_t cols, const char* op) {
  ANVIL_CHECK_OP(rows >= 0 && cols > 0 && rows <= INT32_MAX, "[", op, "] bad sizes rows=", rows, " cols=", cols);
}
}  // namespace

void softmax_forward(DType dtype, const void* x, void* y, int64_t rows, int64_t cols, void* stream) {
  check_rows(rows, cols, "softmax");
  if (rows == 0) return;
  cudaStream_t s = resolve_stream(stream);
  dispatch_float(dtype, "softmax", [&](auto tag) {
    using T = decltype(tag);
    ANVIL_LAUNCH((softmax_forward_kernel<T>), unsigned(rows), kRowThreads, 0, s, static_cast<const T*>(x),
                 static_cast<T*>(y), cols);
  });
}

void softmax_backward(DType dtype, const void* y, const void* dy, void* dx, int64_t rows, int64_t cols, void* stream) {
  check_rows(rows, cols, "softmax_backward");
  if (rows == 0) return;
  cudaStream_t s = resolve_stream(stream);
  dispatch_float(dtype, "softmax_backward", [&](auto tag) {
    using T = decltype(tag);
    ANVIL_LAUNCH((softmax_backward_kernel<T>), unsigned(rows), kRowThreads, 0, s, static_cast<const T*>(y),
                 static_cast<const T*>(dy), static_cast<T*>(dx), cols);
  });
}

void cross_entropy_fused(const CrossEntropyArgs& a) {
  check_rows(a.rows, a.vocab, "cross_entropy");
  ANVIL_CHECK_OP(a.ld >= a.vocab, "[cross_entropy] row stride ", a.ld, " is smaller than the vocab ", a.vocab);
  ANVIL_CHECK_OP(a.logits != nullptr && a.targets != nullptr, "[cross_entropy] missing logits or targets");
  if (a.rows == 0) return;
  cudaStream_t s = resolve_stream(a.stream);
  dispatch_float(a.dtype, "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    ANVIL_LAUNCH((cross_entropy_kernel<T>), unsigned(a.rows), kRowThreads, 0, s, static_cast<T*>(a.logits), a.vocab,
                 a.ld, a.targets, a.ignore_index, a.losses, a.write_dlogits, a.dloss_scale, a.dloss_per_row);
  });
}

}  // namespace anvil::kernels::cuda
