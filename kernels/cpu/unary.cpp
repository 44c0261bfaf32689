// Unary kernels: one templated loop per op so the compiler vectorizes each body on its own.
// GELU is GPT-2's tanh approximation 0.5 x (1 + tanh(z)), z = k (x + 0.044715 x^3), k = sqrt(2/pi).
// Trick: 0.5 (1 + tanh(z)) = sigmoid(2z), which avoids the cancellation in 1 + tanh(z) for negative
// x; the derivative is then s + x * 2 s (1 - s) * k (1 + 3 * 0.044715 x^2) with s = sigmoid(2z).
#include "kernels/cpu/unary.h"

#include <cmath>

namespace anvil::kernels::cpu {

namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;
constexpr int64_t kParallelMin = 16384;  // below this, thread start-up costs more than the loop

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

template <UnaryOp Op>
inline float forward_one(float x) {
  if constexpr (Op == UnaryOp::Exp) return std::exp(x);
  if constexpr (Op == UnaryOp::Log) return std::log(x);
  if constexpr (Op == UnaryOp::Tanh) return std::tanh(x);
  if constexpr (Op == UnaryOp::Sqrt) return std::sqrt(x);
  if constexpr (Op == UnaryOp::Gelu) return x * sigmoid(2.0f * kSqrt2OverPi * (x + kGeluCubic * x * x * x));
  if constexpr (Op == UnaryOp::Silu) return x * sigmoid(x);
  return x > 0.0f ? x : 0.0f;  // Relu
}

// d op / dx from the saved value s (y for Exp/Tanh/Sqrt, x otherwise).
template <UnaryOp Op>
inline float derivative(float s) {
  if constexpr (Op == UnaryOp::Exp) return s;
  if constexpr (Op == UnaryOp::Log) return 1.0f / s;
  if constexpr (Op == UnaryOp::Tanh) return 1.0f - s * s;
  if constexpr (Op == UnaryOp::Sqrt) return 0.5f / s;
  if constexpr (Op == UnaryOp::Gelu) {
    const float sg = sigmoid(2.0f * kSqrt2OverPi * (s + kGeluCubic * s * s * s));
    return sg + s * 2.0f * sg * (1.0f - sg) * kSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * s * s);
  }
  if constexpr (Op == UnaryOp::Silu) {
    const float sg = sigmoid(s);
    return sg * (1.0f + s * (1.0f - sg));
  }
  return s > 0.0f ? 1.0f : 0.0f;  // Relu (0 at x == 0, as PyTorch)
}

template <UnaryOp Op>
void forward_loop(const float* in, float* out, int64_t n) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = forward_one<Op>(in[i]);
}

template <UnaryOp Op>
void backward_loop(const float* saved, const float* grad_out, float* grad_in, int64_t n) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) grad_in[i] = grad_out[i] * derivative<Op>(saved[i]);
}

}  // namespace

bool unary_saves_output(UnaryOp op) { return op == UnaryOp::Exp || op == UnaryOp::Tanh || op == UnaryOp::Sqrt; }

void unary_forward_f32(UnaryOp op, const float* in, float* out, int64_t n) {
  switch (op) {
    case UnaryOp::Exp: forward_loop<UnaryOp::Exp>(in, out, n); break;
    case UnaryOp::Log: forward_loop<UnaryOp::Log>(in, out, n); break;
    case UnaryOp::Tanh: forward_loop<UnaryOp::Tanh>(in, out, n); break;
    case UnaryOp::Sqrt: forward_loop<UnaryOp::Sqrt>(in, out, n); break;
    case UnaryOp::Gelu: forward_loop<UnaryOp::Gelu>(in, out, n); break;
    case UnaryOp::Silu: forward_loop<UnaryOp::Silu>(in, out, n); break;
    case UnaryOp::Relu: forward_loop<UnaryOp::Relu>(in, out, n); break;
  }
}

void unary_backward_f32(UnaryOp op, const float* saved, const float* grad_out, float* grad_in, int64_t n) {
  switch (op) {
    case UnaryOp::Exp: backward_loop<UnaryOp::Exp>(saved, grad_out, grad_in, n); break;
    case UnaryOp::Log: backward_loop<UnaryOp::Log>(saved, grad_out, grad_in, n); break;
    case UnaryOp::Tanh: backward_loop<UnaryOp::Tanh>(saved, grad_out, grad_in, n); break;
    case UnaryOp::Sqrt: backward_loop<UnaryOp::Sqrt>(saved, grad_out, grad_in, n); break;
    case UnaryOp::Gelu: backward_loop<UnaryOp::Gelu>(saved, grad_out, grad_in, n); break;
    case UnaryOp::Silu: backward_loop<UnaryOp::Silu>(saved, grad_out, grad_in, n); break;
    case UnaryOp::Relu: backward_loop<UnaryOp::Relu>(saved, grad_out, grad_in, n); break;
  }
}

}  // namespace anvil::kernels::cpu
