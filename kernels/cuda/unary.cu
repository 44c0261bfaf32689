// CUDA unary math and activations (see unary.h): one thread per element, grid-stride.
// The math mirrors kernels/cpu/unary.cpp formula for formula (GELU via sigmoid(2z)).
// Gradients: grad_in is written with `=`.
// Speed: not measured (no GPU lent); correctness first.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/unary.h"

namespace anvil::kernels::cuda {

namespace {
constexpr int kThreads = 256;

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
}  // namespace

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
