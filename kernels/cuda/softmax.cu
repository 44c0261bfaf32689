// CUDA softmax over the last dim (see softmax.h for the API).
//
// Math: y_j = exp(x_j - m) / S with m = max x, S = sum exp(x - m); backward dx = y (dy - sum dy y).
// Trick: one block per row; the online (max, sum) of kernels/cuda/row_max_sum.cuh takes a single
//   read of the row; a second read writes the output.
// Gradients: dx `=`.
// Speed: not yet measured (no GPU lent).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/row_max_sum.cuh"
#include "kernels/cuda/softmax.h"

namespace anvil::kernels::cuda {

namespace {
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

}  // namespace anvil::kernels::cuda
