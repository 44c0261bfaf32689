// Unary math and activations: exp, log, tanh, sqrt, gelu (tanh approximation), silu, relu.
// One shared path: check, compute in f32 (kernels/cpu/unary), cast back to the input's dtype,
// and keep for backward only the one f32 buffer the derivative needs (output or input, as
// kernels::cpu::unary_saves_output says).
#include "core/ops/op_utils.h"
#include "kernels/cpu/unary.h"
#include "kernels/cuda/unary.h"

namespace anvil::ops {

using namespace detail;
using kernels::cpu::UnaryOp;

namespace {

Tensor unary(UnaryOp op, const char* name, const char* backward_name, const Tensor& a) {
  check_floating(a, name, "a");
  const bool cuda = a.device().is_cuda();
  Tensor x = f32_contiguous(a);  // (n) f32
  Tensor y = Tensor::empty(a.shape(), DType::F32, a.device());
  if (cuda) {
    kernels::cuda::unary_forward_f32(op, x.data<float>(), y.data<float>(), a.numel(), cuda_stream(a));
  } else {
    kernels::cpu::unary_forward_f32(op, x.data<float>(), y.data<float>(), a.numel());
  }
  const DType dtype = a.dtype();
  Tensor out = cast_result(y, dtype);
  if (!any_requires_grad({&a})) return out;
  Tensor saved = kernels::cpu::unary_saves_output(op) ? y : x;
  return record_op(backward_name, {a}, out, [op, saved, dtype, cuda](const Tensor& g, const std::vector<bool>&) {
    Tensor gy = f32_contiguous(g);
    Tensor gx = Tensor::empty(saved.shape(), DType::F32, saved.device());
    if (cuda) {
      kernels::cuda::unary_backward_f32(op, saved.data<float>(), gy.data<float>(), gx.data<float>(), saved.numel(),
                                        cuda_stream(saved));
    } else {
      kernels::cpu::unary_backward_f32(op, saved.data<float>(), gy.data<float>(), gx.data<float>(), saved.numel());
    }
    return std::vector<Tensor>{cast_result(gx, dtype)};
  });
}

}  // namespace

Tensor exp(const Tensor& a) { return unary(UnaryOp::Exp, "exp", "ExpBackward", a); }
Tensor log(const Tensor& a) { return unary(UnaryOp::Log, "log", "LogBackward", a); }
Tensor tanh(const Tensor& a) { return unary(UnaryOp::Tanh, "tanh", "TanhBackward", a); }
Tensor sqrt(const Tensor& a) { return unary(UnaryOp::Sqrt, "sqrt", "SqrtBackward", a); }
Tensor gelu(const Tensor& a) { return unary(UnaryOp::Gelu, "gelu", "GeluBackward", a); }
Tensor silu(const Tensor& a) { return unary(UnaryOp::Silu, "silu", "SiluBackward", a); }
Tensor relu(const Tensor& a) { return unary(UnaryOp::Relu, "relu", "ReluBackward", a); }

}  // namespace anvil::ops
