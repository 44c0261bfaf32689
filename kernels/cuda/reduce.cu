// CUDA reductions and unary math (see reduce.h).
//
// sum over a dim: inner == 1 (a reduction over contiguous rows) takes one block per row, each
// thread summing a fixed strided subset in double and a fixed shared-memory tree combining them;
// otherwise one thread per (outer, inner) output walks k = 0..n-1 in order (coalesced over inner).
// Both orders are fixed by the launch shape, so results are bitwise reproducible run to run.
// Unary math mirrors kernels/cpu/unary.cpp formula for formula (GELU via sigmoid(2z)).
// Speed: not measured (no GPU lent); correctness first.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/reduce.h"

namespace anvil::kernels::cuda {

namespace {
constexpr int kThreads = 256;

__global__ void sum_rows_kernel(const float* in, int64_t rows, int64_t n, float* out) {
  __shared__ double partial[kThreads];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* p = in + r * n;
    double acc = 0;
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) acc += double(p[k]);
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w >>= 1) {
      if (int(threadIdx.x) < w) partial[threadIdx.x] += partial[threadIdx.x + w];
      __syncthreads();
    }
    if (threadIdx.x == 0) out[r] = float(partial[0]);
    __syncthreads();
  }
}

__global__ void sum_inner_kernel(const float* in, int64_t outer, int64_t n, int64_t inner, float* out) {
  const int64_t total = outer * inner;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < total; j += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = j / inner, i = j % inner;
    const float* p = in + o * n * inner + i;
    double acc = 0;
    for (int64_t k = 0; k < n; ++k) acc += double(p[k * inner]);
    out[j] = float(acc);
  }
}

__global__ void max_kernel(const float* in, int64_t outer, int64_t n, int64_t inner, float* out, int64_t* argmax) {
  const int64_t total = outer * inner;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < total; j += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = j / inner, i = j % inner;
    const float* p = in + o * n * inner + i;
    float best = p[0];
    int64_t bi = 0;
    for (int64_t k = 1; k < n; ++k) {
      const float v = p[k * inner];
      if (v > best) {
        best = v;
        bi = k;
      }
    }
    out[j] = best;
    argmax[j] = bi;
  }
}

__global__ void max_backward_kernel(const float* grad_out, const int64_t* argmax, int64_t outer, int64_t n,
                                    int64_t inner, float* grad_in) {
  const int64_t total = outer * n * inner;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < total; j += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = j % inner, k = (j / inner) % n, o = j / (inner * n);
    const int64_t oi = o * inner + i;
    grad_in[j] = argmax[oi] == k ? grad_out[oi] : 0.0f;
  }
}

__device__ __forceinline__ float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

template <UnaryOp Op>
__device__ __forceinline__ float unary_value(float x) {
  if constexpr (Op == UnaryOp::Exp) return expf(x);
  if constexpr (Op == UnaryOp::Log) return logf(x);
  if constexpr (Op == UnaryOp::Tanh) return tanhf(x);
  if constexpr (Op == UnaryOp::Sqrt) return sqrtf(x);
  if constexpr (Op == UnaryOp::Gelu) return x * sigmoidf(2.0f * kSqrt2OverPi * (x + kGeluCubic * x * x * x));
  if constexpr (Op == UnaryOp::Silu) return x * sigmoidf(x);
  return x > 0.0f ? x : 0.0f;
}

template <UnaryOp Op>
__device__ __forceinline__ float unary_derivative(float s) {
  if constexpr (Op == UnaryOp::Exp) return s;
  if constexpr (Op == UnaryOp::Log) return 1.0f / s;
  if constexpr (Op == UnaryOp::Tanh) return 1.0f - s * s;
  if constexpr (Op == UnaryOp::Sqrt) return 0.5f / s;
  if constexpr (Op == UnaryOp::Gelu) {
    const float sg = sigmoidf(2.0f * kSqrt2OverPi * (s + kGeluCubic * s * s * s));
    return sg + s * 2.0f * sg * (1.0f - sg) * kSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * s * s);
  }
  if constexpr (Op == UnaryOp::Silu) {
    const float sg = sigmoidf(s);
    return sg * (1.0f + s * (1.0f - sg));
  }
  return s > 0.0f ? 1.0f : 0.0f;
}

template <UnaryOp Op>
__global__ void unary_forward_kernel(const float* in, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = unary_value<Op>(in[i]);
}

template <UnaryOp Op>
__global__ void unary_backward_kernel(const float* saved, const float* grad_out, float* grad_in, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    grad_in[i] = grad_out[i] * unary_derivative<Op>(saved[i]);
}

// Calls f(std::integral_constant<UnaryOp, op>{}).
template <typename F>
void dispatch_unary(UnaryOp op, F&& f) {
  switch (op) {
    case UnaryOp::Exp: f(std::integral_constant<UnaryOp, UnaryOp::Exp>{}); return;
    case UnaryOp::Log: f(std::integral_constant<UnaryOp, UnaryOp::Log>{}); return;
    case UnaryOp::Tanh: f(std::integral_constant<UnaryOp, UnaryOp::Tanh>{}); return;
    case UnaryOp::Sqrt: f(std::integral_constant<UnaryOp, UnaryOp::Sqrt>{}); return;
    case UnaryOp::Gelu: f(std::integral_constant<UnaryOp, UnaryOp::Gelu>{}); return;
    case UnaryOp::Silu: f(std::integral_constant<UnaryOp, UnaryOp::Silu>{}); return;
    case UnaryOp::Relu: f(std::integral_constant<UnaryOp, UnaryOp::Relu>{}); return;
  }
}

void check_sizes(int64_t outer, int64_t n, int64_t inner, const char* op) {
  ANVIL_CHECK_OP(outer >= 0 && n >= 0 && inner >= 0, "[", op, "] negative size (", outer, ", ", n, ", ", inner, ")");
}
}  // namespace

void sum_dim_f32(const float* in, int64_t outer, int64_t n, int64_t inner, float* out, void* stream) {
  check_sizes(outer, n, inner, "sum_dim");
  if (outer * inner == 0) return;
  cudaStream_t s = resolve_stream(stream);
  if (inner == 1) {
    ANVIL_LAUNCH(sum_rows_kernel, grid_for(outer, 1), kThreads, 0, s, in, outer, n, out);
  } else {
    ANVIL_LAUNCH(sum_inner_kernel, grid_for(outer * inner, kThreads), kThreads, 0, s, in, outer, n, inner, out);
  }
}

void max_dim_f32(const float* in, int64_t outer, int64_t n, int64_t inner, float* out, int64_t* argmax,
                 void* stream) {
  check_sizes(outer, n, inner, "max_dim");
  ANVIL_CHECK_OP(n >= 1, "[max_dim] over an empty dim");
  if (outer * inner == 0) return;
  ANVIL_LAUNCH(max_kernel, grid_for(outer * inner, kThreads), kThreads, 0, resolve_stream(stream), in, outer, n,
               inner, out, argmax);
}

void max_dim_backward_f32(const float* grad_out, const int64_t* argmax, int64_t outer, int64_t n, int64_t inner,
                          float* grad_in, void* stream) {
  check_sizes(outer, n, inner, "max_dim_backward");
  const int64_t total = outer * n * inner;
  if (total == 0) return;
  ANVIL_LAUNCH(max_backward_kernel, grid_for(total, kThreads), kThreads, 0, resolve_stream(stream), grad_out, argmax,
               outer, n, inner, grad_in);
}

void unary_forward_f32(UnaryOp op, const float* in, float* out, int64_t n, void* stream) {
  ANVIL_CHECK_OP(n >= 0, "[unary] negative element count ", n);
  if (n == 0) return;
  cudaStream_t s = resolve_stream(stream);
  dispatch_unary(op, [&](auto tag) {
    ANVIL_LAUNCH((unary_forward_kernel<decltype(tag)::value>), grid_for(n, kThreads), kThreads, 0, s, in, out, n);
  });
}

void unary_backward_f32(UnaryOp op, const float* saved, const float* grad_out, float* grad_in, int64_t n,
                        void* stream) {
  ANVIL_CHECK_OP(n >= 0, "[unary] negative element count ", n);
  if (n == 0) return;
  cudaStream_t s = resolve_stream(stream);
  dispatch_unary(op, [&](auto tag) {
    ANVIL_LAUNCH((unary_backward_kernel<decltype(tag)::value>), grid_for(n, kThreads), kThreads, 0, s, saved,
                 grad_out, grad_in, n);
  });
}

}  // namespace anvil::kernels::cuda
